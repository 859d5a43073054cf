import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { defaultProvider as sdkDefaultChain } from "@aws-sdk/credential-provider-node";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { defaultProvider } from "#adapters/lambda-credentials.ts";

/**
 * functions/adapters/lambda-credentials.ts stands in for the SDK's default credential chain in the
 * Lambda bundles (lib/lambda-bundling.ts). A client built the way the bundled client is
 * (`credentialDefaultProvider` = this module) signs with the environment's credentials, and with
 * nothing else: no profile, no container or instance metadata.
 */

const LAMBDA_ENV = {
  AWS_ACCESS_KEY_ID: "ASIALAMBDAROLE",
  AWS_SECRET_ACCESS_KEY: "secret",
  AWS_SESSION_TOKEN: "session-token",
};

let server: Server | undefined;
const requests: IncomingHttpHeaders[] = [];

beforeEach(() => {
  vi.stubEnv("AWS_PROFILE", undefined);
  for (const [name, value] of Object.entries(LAMBDA_ENV)) vi.stubEnv(name, value);
});

afterEach(async () => {
  vi.unstubAllEnvs();
  requests.length = 0;
  if (server) {
    server.close();
    await once(server, "close");
    server = undefined;
  }
});

/** A local SQS stand-in that records each request's headers and answers ListQueues. */
async function sqsEndpoint(): Promise<string> {
  server = createServer((request, response) => {
    requests.push(request.headers);
    request.resume();
    response.writeHead(200, { "content-type": "application/x-amz-json-1.0" });
    response.end("{}");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function bundledClient(endpoint: string): SQSClient {
  return new SQSClient({ region: "us-east-1", endpoint, credentialDefaultProvider: defaultProvider });
}

describe("Lambda bundles' credentials (environment variables only)", () => {
  it("signs with the execution role's credentials from the environment", async () => {
    const client = bundledClient(await sqsEndpoint());
    await client.send(new ListQueuesCommand({}));
    client.destroy();
    expect(requests).toHaveLength(1);
    expect(requests[0]?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIALAMBDAROLE\//);
    expect(requests[0]?.["x-amz-security-token"]).toBe("session-token");
  });

  it("resolves what the SDK's default chain resolves in Lambda's environment", async () => {
    const ours = await defaultProvider()();
    const sdk = await sdkDefaultChain()();
    expect({ ...ours, $source: undefined }).toEqual({ ...sdk, $source: undefined });
    expect(ours).toMatchObject({
      accessKeyId: "ASIALAMBDAROLE",
      secretAccessKey: "secret",
      sessionToken: "session-token",
    });
  });

  it("fails the call, sending nothing, when the environment holds no credentials", async () => {
    vi.stubEnv("AWS_ACCESS_KEY_ID", undefined);
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", undefined);
    const client = bundledClient(await sqsEndpoint());
    await expect(client.send(new ListQueuesCommand({}))).rejects.toThrow(
      "Unable to find environment variable credentials",
    );
    client.destroy();
    expect(requests).toHaveLength(0);
  });
});
