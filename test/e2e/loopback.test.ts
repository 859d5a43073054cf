import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dynamoDbLocalBindsLoopback } from "../../local/servers.ts";
import { startTestRuntime, type TestRuntime } from "./support/runtime.ts";

/**
 * `npm start` exposes nothing beyond 127.0.0.1: each server the local runtime starts (DynamoDB
 * Local, fauxqs, aws-ses-v2-local, the demo site) refuses a connection made to this machine's own
 * non-loopback addresses, and accepts one on 127.0.0.1. DynamoDB Local here is the project's
 * shared one, started by the same startDynamoDbLocal as `npm start`'s.
 */

const outward = Object.values(networkInterfaces())
  .flat()
  .filter((address) => address !== undefined && !address.internal && !address.address.startsWith("fe80:"))
  .map((address) => address?.address as string);

/** "connected" or "refused"; anything else (a timeout) fails the test rather than guessing. */
function attempt(host: string, port: number): Promise<"connected" | "refused"> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: 5_000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("timeout", () => {
      socket.destroy();
      reject(new Error(`no answer from ${host}:${port} within 5 s`));
    });
    socket.once("error", (error: NodeJS.ErrnoException) =>
      error.code === "ECONNREFUSED" ? resolve("refused") : reject(error),
    );
  });
}

let env: TestRuntime;
beforeAll(async () => {
  env = await startTestRuntime();
});
afterAll(async () => {
  await env?.stop();
});

describe("the local runtime's servers", () => {
  it.skipIf(outward.length === 0)("listen on 127.0.0.1 only", async () => {
    const { endpoints } = env.runtime;
    const servers = {
      dynamodb: endpoints.dynamodb,
      sqs: endpoints.sqs,
      ses: endpoints.ses,
      demoSite: endpoints.demoSiteUrl,
    };
    for (const [name, endpoint] of Object.entries(servers)) {
      const port = Number(new URL(endpoint).port);
      expect(await attempt("127.0.0.1", port), `${name} on 127.0.0.1`).toBe("connected");
      // Without a JDK, DynamoDB Local falls back to its own main, on every interface (docs/local.md).
      const expected = name === "dynamodb" && !dynamoDbLocalBindsLoopback() ? "connected" : "refused";
      for (const address of outward) {
        expect(await attempt(address, port), `${name} on ${address}:${port}`).toBe(expected);
      }
    }
  });
});
