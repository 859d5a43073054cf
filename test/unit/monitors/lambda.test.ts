import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { runCheck } from "#core/run-check.ts";
import { maskSecretValues } from "#core/secrets.ts";
import { LAMBDA_CHECK, lambdaCheck } from "#monitors/lambda.ts";
import { awsError, paramsProblems } from "../../support/check-params.ts";

// Params and the answers the local function host cannot give (a non-JSON payload, a Handled
// error, a denied or throttled Invoke), played by a mocked client. The whole path against a real
// Invoke endpoint is test/integration/monitors/lambda.test.ts.
const mock = mockClient(LambdaClient);
beforeEach(() => mock.reset());
afterAll(() => mock.restore());

const ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orders-check";
const NOW = new Date("2026-11-21T10:05:00.000Z");
const encode = (text: string) => new TextEncoder().encode(text) as never;

const run = (params: Record<string, unknown>, signal = AbortSignal.timeout(10_000)) =>
  lambdaCheck.run({ monitorId: "orders", params, signal, logger: silentLogger, now: NOW });
const outcome = (params: Record<string, unknown>) =>
  runCheck({
    monitorId: "orders",
    checkName: LAMBDA_CHECK,
    check: lambdaCheck,
    params,
    timeoutMs: 10_000,
    now: NOW,
    logger: silentLogger,
  });

const problems = (params: Record<string, unknown>) => paramsProblems(run(params), params);

describe("lambda params", () => {
  it.each([
    [{}, "params.functionArn is required"],
    [{ functionArn: 42 }, "params.functionArn must be a Lambda function ARN"],
    [
      { functionArn: "orders-check" },
      "params.functionArn must be a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)",
    ],
    [
      { functionArn: "arn:aws:lambda:eu-west-1:123456789012:layer:x" },
      "params.functionArn must be a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)",
    ],
    [
      { functionArn: `${ARN}:live` },
      "params.functionArn must be an unqualified function ARN: put the version or alias in params.qualifier",
    ],
    [{ functionArn: ARN, qualifier: 3 }, "params.qualifier must be a version number or an alias name"],
    [
      { functionArn: ARN, qualifier: "live alias" },
      "params.qualifier must be a version number, $LATEST or an alias name (letters, digits, - and _)",
    ],
    [{ functionArn: ARN, payload: {} }, "params.payload is not a known parameter"],
  ])("names the bad param: %j", async (params, message) => {
    expect(await problems(params)).toEqual([message]);
    expect(mock.calls()).toHaveLength(0);
  });
});

describe("lambda check (mocked Invoke)", () => {
  it("invokes synchronously, in the ARN's region, with { params, scheduledTime, monitorId }", async () => {
    mock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode('{"isOk":true,"message":"fine"}') });
    await expect(run({ functionArn: ARN, qualifier: "7", input: { table: "orders" } })).resolves.toEqual({
      isOk: true,
      message: "fine",
    });
    const [call] = mock.commandCalls(InvokeCommand);
    const input = call?.args[0].input;
    expect(input).toMatchObject({ FunctionName: ARN, Qualifier: "7", InvocationType: "RequestResponse" });
    expect(JSON.parse(new TextDecoder().decode(input?.Payload as Uint8Array))).toEqual({
      params: { table: "orders" },
      scheduledTime: "2026-11-21T10:05:00.000Z",
      monitorId: "orders",
    });
    expect(await (call?.thisValue as LambdaClient | undefined)?.config.region()).toBe("eu-west-1");
  });

  it("sends an empty input as {} and no Qualifier when none is given", async () => {
    mock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode('{"isOk":true}') });
    await run({ functionArn: ARN });
    const input = mock.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(input && "Qualifier" in input).toBe(false);
    expect(JSON.parse(new TextDecoder().decode(input?.Payload as Uint8Array)).params).toEqual({});
  });

  it("describes an answer that is not JSON", async () => {
    mock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode("OK!") });
    await expect(outcome({ functionArn: ARN })).resolves.toMatchObject({
      isOk: false,
      message:
        'Function orders-check returned an answer that is not JSON (expected { isOk: boolean, message?: string }): "OK!"',
    });
  });

  it("reports a Handled function error as a thrown check, and a body it cannot read by its preview", async () => {
    mock.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: "Handled",
      Payload: encode('{"errorType":"ExportMissing","errorMessage":"no file for 2026-11-21"}'),
    });
    await expect(outcome({ functionArn: ARN })).resolves.toMatchObject({
      isOk: false,
      message:
        'Check "lambda" threw: ExportMissing: no file for 2026-11-21 (function orders-check, handled error)',
    });
    mock.reset();
    mock
      .on(InvokeCommand)
      .resolves({ StatusCode: 200, FunctionError: "Unhandled", Payload: encode("Runtime exited") });
    await expect(outcome({ functionArn: ARN })).resolves.toMatchObject({
      isOk: false,
      message:
        'Check "lambda" threw: FunctionError: "Runtime exited" (function orders-check, unhandled error)',
    });
  });

  it("masks a secret the function echoes back, wherever the answer would have been cut", async () => {
    // A first draft that returns its event: the event carries the resolved params.
    const secret = "ghp_R3alT0kenValue0123456789abcdefABCDEF";
    const mask = (text: string) => maskSecretValues(text, [secret]);
    for (const padding of [150, 170, 190, 3_950, 3_990]) {
      const event = { params: { note: "x".repeat(padding), token: secret } };
      mock.reset();
      mock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode(JSON.stringify(event)) });
      const result = await runCheck({
        monitorId: "orders",
        checkName: LAMBDA_CHECK,
        check: lambdaCheck,
        params: { functionArn: ARN },
        timeoutMs: 10_000,
        now: NOW,
        logger: silentLogger,
        mask,
      });
      expect(result.message).toContain("returned an invalid result");
      // No piece of the secret longer than a few characters survives, at any cut.
      for (let length = 6; length <= secret.length; length++)
        expect(result.message.includes(secret.slice(0, length)), `${padding}: ${length} characters`).toBe(
          false,
        );
    }
  });

  it("names the function and the setting when Invoke is denied", async () => {
    mock
      .on(InvokeCommand)
      .rejects(awsError("AccessDeniedException", "not authorized to perform: lambda:InvokeFunction"));
    await expect(run({ functionArn: ARN })).resolves.toEqual({
      isOk: false,
      message: `not allowed to invoke function orders-check (lambda:InvokeFunction): list ${ARN} in the stack setting checkReadArns (AccessDeniedException: not authorized to perform: lambda:InvokeFunction)`,
    });
  });

  it("reports a throttled or failed Invoke as a failure", async () => {
    mock.on(InvokeCommand).rejects(awsError("TooManyRequestsException", "Rate Exceeded."));
    await expect(run({ functionArn: ARN, qualifier: "live" })).resolves.toEqual({
      isOk: false,
      message: "invoke of function orders-check:live failed: TooManyRequestsException: Rate Exceeded.",
    });
  });

  it("throws when the orchestrator aborts it", async () => {
    const controller = new AbortController();
    controller.abort(new Error("check timed out after 30000 ms"));
    mock.on(InvokeCommand).rejects(awsError("AbortError", "Request aborted"));
    await expect(run({ functionArn: ARN }, controller.signal)).rejects.toThrow(
      "invoke of function orders-check aborted: check timed out after 30000 ms",
    );
  });
});
