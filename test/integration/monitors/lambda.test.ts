import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { runCheck } from "#core/run-check.ts";
import { findCheck } from "#monitors/index.ts";
import { LAMBDA_CHECK, lambdaCheck } from "#monitors/lambda.ts";
import { LambdaFunction } from "../../../local/lambda-function.ts";
import { type Invocable, startLambdaInvokeServer } from "../../../local/lambda-invoke-server.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION, LOOPBACK, type RunningServer } from "../../../local/servers.ts";

/**
 * The `lambda` check end to end: the real @aws-sdk/client-lambda (AWS_ENDPOINT_URL_LAMBDA) against
 * Lambda's Invoke wire protocol (local/lambda-invoke-server.ts), in front of handler modules run by
 * the local runtime's function host (local/lambda-function.ts, worker threads). Outcomes are those
 * of the orchestrator's runner (runCheck), as a monitor would record them.
 */

const ENV_KEYS = [
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_ENDPOINT_URL_LAMBDA",
] as const;
const savedEnv = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]]));

const ACCOUNT = "123456789012";
const arn = (name: string) => `arn:aws:lambda:${LOCAL_REGION}:${ACCOUNT}:function:${name}`;
const FIXTURES = new URL("./fixtures/lambda-check-handlers.mjs", import.meta.url);
const EXAMPLE = new URL("../../../examples/lambda-check/handler.mjs", import.meta.url);
const NOW = new Date("2026-11-21T10:05:00.000Z");

const functions: LambdaFunction[] = [];
function deploy(functionName: string, moduleUrl: URL, timeoutSeconds = 30): LambdaFunction {
  const fn = new LambdaFunction({
    functionName,
    moduleUrl,
    environment: {},
    region: LOCAL_REGION,
    timeoutSeconds,
    maxEnvironments: 2,
    onOutput: () => {},
  });
  functions.push(fn);
  return fn;
}

let server: RunningServer;
let site: Server;
let siteUrl: string;

beforeAll(async () => {
  const fixture = deploy("fixture", FIXTURES);
  const registry = new Map<string, Invocable>([
    ["fixture", fixture],
    ["fixture:live", fixture],
    // A function whose own timeout (1 s) ends a handler that never answers.
    ["short-timeout", deploy("short-timeout", FIXTURES, 1)],
    ["example", deploy("example", EXAMPLE)],
  ]);
  server = await startLambdaInvokeServer({ functions: registry, accountId: ACCOUNT });
  process.env.AWS_REGION = LOCAL_REGION;
  process.env.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
  process.env.AWS_ENDPOINT_URL_LAMBDA = server.endpoint;

  // What the example function checks: a server only it is meant to reach.
  site = createServer((request, response) => {
    response.writeHead(request.url === "/health" ? 200 : 503).end();
  });
  await new Promise<void>((resolve) => site.listen(0, LOOPBACK, resolve));
  siteUrl = `http://${LOOPBACK}:${(site.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all(functions.map((fn) => fn.stop()));
  await server?.stop();
  site?.closeAllConnections();
  await new Promise<void>((resolve) => (site ? site.close(() => resolve()) : resolve()));
  for (const key of ENV_KEYS) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
});

function run(params: Record<string, unknown>, timeoutMs = 20_000) {
  return runCheck({
    monitorId: "nightly-export",
    checkName: LAMBDA_CHECK,
    check: findCheck(LAMBDA_CHECK),
    params,
    timeoutMs,
    now: NOW,
    logger: silentLogger,
  });
}

const fixture = (input: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  run({ functionArn: arn("fixture"), input, ...extra });

describe("lambda check against the local function host", () => {
  it("is registered under the name config items use", () => {
    expect(findCheck("lambda")).toBe(lambdaCheck);
  });

  it("sends { params: input, scheduledTime, monitorId } and reports the function's result verbatim", async () => {
    const outcome = await fixture({ behaviour: "echo", region: "eu", tags: new Set(["a", "b"]) });
    expect(outcome.isOk).toBe(true);
    expect(JSON.parse(outcome.message)).toEqual({
      params: { behaviour: "echo", region: "eu", tags: ["a", "b"] },
      scheduledTime: "2026-11-21T10:05:00.000Z",
      monitorId: "nightly-export",
    });
  });

  it("reports a failure the function returns", async () => {
    await expect(fixture({ behaviour: "fail" })).resolves.toMatchObject({
      isOk: false,
      message: "the nightly export is missing",
    });
  });

  it("invokes the qualifier (version or alias) it is given", async () => {
    await expect(fixture({ behaviour: "fail" }, { qualifier: "live" })).resolves.toMatchObject({
      isOk: false,
      message: "the nightly export is missing",
    });
    await expect(fixture({ behaviour: "fail" }, { qualifier: "canary" })).resolves.toMatchObject({
      isOk: false,
      message: `function fixture:canary does not exist in ${LOCAL_REGION} (params.functionArn ${arn("fixture")}, params.qualifier canary)`,
    });
  });

  it("says what the function reported when its answer has no message", async () => {
    await expect(fixture({ behaviour: "no-message", isOk: true })).resolves.toMatchObject({
      isOk: true,
      message: "function fixture reported OK",
    });
    await expect(fixture({ behaviour: "no-message", isOk: false })).resolves.toMatchObject({
      isOk: false,
      message: "function fixture reported a failure (without a message)",
    });
  });

  it("describes an answer that is not a result as the runner describes an in-process check's", async () => {
    await expect(fixture({ behaviour: "string" })).resolves.toMatchObject({
      isOk: false,
      message:
        'Function fixture returned an invalid result (expected { isOk: boolean, message?: string }): "yes"',
    });
    await expect(fixture({ behaviour: "wrong-types" })).resolves.toMatchObject({
      isOk: false,
      message:
        'Function fixture returned an invalid result (expected { isOk: boolean, message?: string }): {"isOk":"true","message":42}',
    });
    await expect(fixture({ behaviour: "undefined" })).resolves.toMatchObject({
      isOk: false,
      message:
        "Function fixture returned an invalid result (expected { isOk: boolean, message?: string }): null",
    });
  });

  it("turns a thrown error into a thrown check, with the error's type and message", async () => {
    await expect(fixture({ behaviour: "throw" })).resolves.toMatchObject({
      isOk: false,
      message:
        "Check \"lambda\" threw: TypeError: Cannot read properties of undefined (reading 'rows') (function fixture, unhandled error)",
    });
    await expect(fixture({ behaviour: "throw-string" })).resolves.toMatchObject({
      isOk: false,
      message: 'Check "lambda" threw: Error: plain string (function fixture, unhandled error)',
    });
  });

  it("refuses an oversized answer and cuts a long message like any check's", async () => {
    await expect(fixture({ behaviour: "big" })).resolves.toMatchObject({
      isOk: false,
      message: "function fixture answered with 300 KiB, more than the 256 KiB a check's answer may hold",
    });
    const long = await fixture({ behaviour: "long-message" });
    expect(long.isOk).toBe(false);
    expect(long.message).toMatch(/^y+ … \[truncated: 10000 characters in total\]$/);
  });

  it("reports the function's own timeout as the error Lambda gives", async () => {
    const outcome = await run({ functionArn: arn("short-timeout"), input: { behaviour: "hang" } });
    expect(outcome.isOk).toBe(false);
    expect(outcome.message).toMatch(
      /^Check "lambda" threw: Sandbox\.Timedout: short-timeout timed out after 1 seconds .*\(function short-timeout, unhandled error\)$/,
    );
  });

  it("stops waiting when the check's timeout elapses, as for an in-process check", async () => {
    const outcome = await run({ functionArn: arn("short-timeout"), input: { behaviour: "hang" } }, 200);
    expect(outcome).toMatchObject({ isOk: false, message: 'Check "lambda" timed out after 0.2 s' });
  });

  it("names a function that does not exist", async () => {
    await expect(run({ functionArn: arn("nope") })).resolves.toMatchObject({
      isOk: false,
      message: `function nope does not exist in ${LOCAL_REGION} (params.functionArn ${arn("nope")})`,
    });
  });

  it("runs the documented example function", async () => {
    await expect(
      run({ functionArn: arn("example"), input: { url: `${siteUrl}/health` } }),
    ).resolves.toMatchObject({ isOk: true, message: `${siteUrl}/health answered 200 (expected 200)` });
    await expect(
      run({ functionArn: arn("example"), input: { url: `${siteUrl}/down` } }),
    ).resolves.toMatchObject({
      isOk: false,
      message: `${siteUrl}/down answered 503 (expected 200)`,
    });
    await expect(run({ functionArn: arn("example"), input: {} })).resolves.toMatchObject({
      isOk: false,
      message:
        'Check "lambda" threw: Error: params.input.url must be an http(s) URL (function example, unhandled error)',
    });
  });
});

describe("the local Invoke server", () => {
  const client = () =>
    new LambdaClient({ region: LOCAL_REGION, endpoint: server.endpoint, credentials: LOCAL_CREDENTIALS });

  it("answers Event invocations with 202 and DryRun with 204, as Lambda does", async () => {
    const lambda = client();
    const event = await lambda.send(
      new InvokeCommand({
        FunctionName: "fixture",
        InvocationType: "Event",
        Payload: '{"params":{"behaviour":"fail"}}',
      }),
    );
    expect(event.StatusCode).toBe(202);
    const dryRun = await lambda.send(
      new InvokeCommand({ FunctionName: arn("fixture"), InvocationType: "DryRun" }),
    );
    expect(dryRun.StatusCode).toBe(204);
    lambda.destroy();
  });

  it("refuses a payload that is not JSON", async () => {
    const lambda = client();
    await expect(
      lambda.send(new InvokeCommand({ FunctionName: "fixture", Payload: "{not json" })),
    ).rejects.toMatchObject({ name: "InvalidRequestContentException" });
    lambda.destroy();
  });
});

describe("the local Lambda Invoke server", () => {
  it("refuses requests from a browser page (an Origin) or under another host name", async () => {
    const url = `${server.endpoint}/2015-03-31/functions/fixture/invocations`;
    const fromPage = await fetch(url, {
      method: "POST",
      body: "{}",
      headers: { origin: "https://evil.example" },
    });
    expect(fromPage.status).toBe(403);
    // fetch will not send another Host: a plain request does, as a DNS-rebound page's would.
    const rebound = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(
        url,
        { method: "POST", headers: { host: "attacker.example" } },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on("error", reject);
      request.end("{}");
    });
    expect(rebound).toBe(403);
  });
});
