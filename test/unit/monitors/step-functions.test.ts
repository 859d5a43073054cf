import { readFileSync } from "node:fs";
import { ListExecutionsCommand, SFNClient, SFNServiceException } from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import {
  createStepFunctionsCheck,
  STEP_FUNCTIONS_CHECK,
  stepFunctionsCheck,
} from "#monitors/step-functions.ts";
import { InvalidParamsError } from "#monitors/support/params.ts";
import type { CheckContext } from "#monitors/types.ts";

/**
 * No local server speaks Step Functions' API: the requests and the answers are checked with
 * aws-sdk-client-mock, shaped as the SDK returns them (dates as Date, errors named as the API).
 */

const ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:nightly-export";
const NOW = new Date("2026-11-21T07:00:00.000Z");
const minutesBefore = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);

const sfn = mockClient(SFNClient);
beforeEach(() => sfn.reset());
afterEach(() => sfn.reset());

function context(params: Record<string, unknown>, signal = AbortSignal.timeout(5_000)): CheckContext {
  return { monitorId: "nightly", params, signal, logger: silentLogger, now: NOW };
}
const run = (params: Record<string, unknown>, signal?: AbortSignal) =>
  stepFunctionsCheck.run(context(params, signal));

const sdkError = (name: string, message = name) =>
  new SFNServiceException({ name, message, $fault: "client", $metadata: { httpStatusCode: 400 } });

function latest(status: string, startedMinutesAgo: number, tookMinutes?: number) {
  const startDate = minutesBefore(startedMinutesAgo);
  return {
    executions: [
      {
        executionArn: `${ARN.replace("stateMachine", "execution")}:run-42`,
        stateMachineArn: ARN,
        name: "run-42",
        status,
        startDate,
        ...(tookMinutes === undefined
          ? {}
          : { stopDate: new Date(startDate.getTime() + tookMinutes * 60_000) }),
      },
    ],
  } as never;
}

const SUBJECT = 'latest execution "run-42" of state machine nightly-export';

describe("step-functions check", () => {
  it("is registered under the name config items use", () => {
    expect(stepFunctionsCheck.name).toBe(STEP_FUNCTIONS_CHECK);
    expect(STEP_FUNCTIONS_CHECK).toBe("step-functions");
  });

  it("asks for the one newest execution, in the state machine's region", async () => {
    sfn.on(ListExecutionsCommand).resolves(latest("SUCCEEDED", 60, 12));
    await run({ stateMachineArn: ARN, maxAgeMinutes: 1440 });
    const calls = sfn.commandCalls(ListExecutionsCommand);
    expect(calls.map((call) => call.args[0].input)).toEqual([{ stateMachineArn: ARN, maxResults: 1 }]);
    const client = calls[0]?.thisValue as SFNClient | undefined;
    expect(await client?.config.region()).toBe("eu-west-1");
  });

  it("passes ctx.signal to the SDK and says what was aborted", async () => {
    sfn.on(ListExecutionsCommand).callsFake(() => {
      throw Object.assign(new Error("aborted"), { name: "AbortError" });
    });
    const signal = AbortSignal.abort(new Error("check timed out"));
    await expect(run({ stateMachineArn: ARN, maxAgeMinutes: 5 }, signal)).rejects.toThrow(
      "ListExecutions on state machine nightly-export aborted: check timed out",
    );
  });

  it("is OK for a recent success, naming start and duration", async () => {
    sfn.on(ListExecutionsCommand).resolves(latest("SUCCEEDED", 185, 12));
    await expect(run({ stateMachineArn: ARN, maxAgeMinutes: 1440 })).resolves.toEqual({
      isOk: true,
      message: `${SUBJECT} SUCCEEDED, started 3h5m ago (2026-11-21T03:55:00.000Z), took 12m (limit 1440m)`,
    });
  });

  it("fails a success older than maxAgeMinutes: the job did not run since", async () => {
    sfn.on(ListExecutionsCommand).resolves(latest("SUCCEEDED", 1500, 12));
    await expect(run({ stateMachineArn: ARN, maxAgeMinutes: 1440 })).resolves.toEqual({
      isOk: false,
      message: `${SUBJECT} SUCCEEDED but started 1d1h ago (2026-11-20T06:00:00.000Z), longer ago than params.maxAgeMinutes (1440): no newer execution`,
    });
  });

  it.each(["FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"])(
    "fails a latest execution %s",
    async (status) => {
      sfn.on(ListExecutionsCommand).resolves(latest(status, 30, 4));
      await expect(run({ stateMachineArn: ARN, maxAgeMinutes: 1440 })).resolves.toEqual({
        isOk: false,
        message: `${SUBJECT} ${status}: started 30m ago (2026-11-21T06:30:00.000Z), took 4m`,
      });
    },
  );

  it("accepts a RUNNING execution until maxRunningMinutes, then fails it", async () => {
    sfn.on(ListExecutionsCommand).resolves(latest("RUNNING", 45));
    await expect(run({ stateMachineArn: ARN, maxAgeMinutes: 1440, maxRunningMinutes: 60 })).resolves.toEqual({
      isOk: true,
      message: `${SUBJECT} is RUNNING, started 45m ago (2026-11-21T06:15:00.000Z)`,
    });
    sfn.on(ListExecutionsCommand).resolves(latest("RUNNING", 61));
    await expect(run({ stateMachineArn: ARN, maxAgeMinutes: 1440, maxRunningMinutes: 60 })).resolves.toEqual({
      isOk: false,
      message: `${SUBJECT} has been RUNNING for 1h1m (params.maxRunningMinutes 60), started 1h1m ago (2026-11-21T05:59:00.000Z)`,
    });
  });

  it("without maxRunningMinutes, a RUNNING execution fails once it started before maxAgeMinutes", async () => {
    sfn.on(ListExecutionsCommand).resolves(latest("RUNNING", 1441));
    await expect(run({ stateMachineArn: ARN, maxAgeMinutes: 1440 })).resolves.toEqual({
      isOk: false,
      message: `${SUBJECT} is still RUNNING and started 1d ago (2026-11-20T06:59:00.000Z), longer ago than params.maxAgeMinutes (1440): no newer execution`,
    });
  });

  it("fails, with a clear message, a state machine that never ran", async () => {
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    await expect(run({ stateMachineArn: ARN, maxAgeMinutes: 60 })).resolves.toEqual({
      isOk: false,
      message: "state machine nightly-export has no executions",
    });
  });

  it.each([
    ["StateMachineDoesNotExist", `state machine ${ARN} does not exist`],
    [
      "AccessDeniedException",
      `access denied to the executions of state machine nightly-export: list ${ARN} in the stack setting checkReadArns`,
    ],
    [
      "StateMachineTypeNotSupported",
      "state machine nightly-export is an Express state machine, whose executions ListExecutions does not list: watch its CloudWatch metrics (ExecutionsFailed) instead",
    ],
    ["ThrottlingException", "ListExecutions on state machine nightly-export failed: ThrottlingException"],
  ])("%s: a failed check naming the state machine", async (name, message) => {
    sfn.on(ListExecutionsCommand).rejects(sdkError(name));
    await expect(run({ stateMachineArn: ARN, maxAgeMinutes: 60 })).resolves.toEqual({ isOk: false, message });
  });

  it("lists a version's or an alias's executions when the ARN names one", async () => {
    const alias = `${ARN}:prod`;
    sfn.on(ListExecutionsCommand).resolves(latest("SUCCEEDED", 5, 1));
    await expect(run({ stateMachineArn: alias, maxAgeMinutes: 60 })).resolves.toMatchObject({ isOk: true });
    expect(sfn.commandCalls(ListExecutionsCommand)[0]?.args[0].input).toEqual({
      stateMachineArn: alias,
      maxResults: 1,
    });
  });

  it("uses an injected client per region", async () => {
    const regions: string[] = [];
    const check = createStepFunctionsCheck({
      clientFor: (region) => {
        regions.push(region);
        return new SFNClient({ region });
      },
    });
    sfn.on(ListExecutionsCommand).resolves(latest("SUCCEEDED", 5, 1));
    await check.run(context({ stateMachineArn: ARN.replace("eu-west-1", "us-east-2"), maxAgeMinutes: 60 }));
    expect(regions).toEqual(["us-east-2"]);
  });

  it("loads the Step Functions client lazily: the module imports only its types", () => {
    const source = readFileSync(new URL("../../../monitors/step-functions.ts", import.meta.url), "utf8");
    const sdkImports = source.split("\n").filter((line) => /^import .*@aws-sdk\//.test(line));
    expect(sdkImports.length).toBeGreaterThan(0);
    for (const line of sdkImports) expect(line).toMatch(/^import type /);
    expect(source).toContain('import("@aws-sdk/client-sfn")');
  });

  describe("params validation names the bad param", () => {
    it.each([
      [{}, "params.stateMachineArn is required"],
      [{ maxAgeMinutes: 60 }, "params.stateMachineArn is required"],
      [{ stateMachineArn: 5, maxAgeMinutes: 60 }, "params.stateMachineArn must be a state machine ARN"],
      [
        { stateMachineArn: "nightly-export", maxAgeMinutes: 60 },
        "params.stateMachineArn must be a state machine ARN",
      ],
      [
        { stateMachineArn: ARN.replace("stateMachine", "execution"), maxAgeMinutes: 60 },
        "params.stateMachineArn must be a state machine ARN",
      ],
      [{ stateMachineArn: ARN }, "params.maxAgeMinutes is required"],
      [{ stateMachineArn: ARN, maxAgeMinutes: 0 }, "params.maxAgeMinutes must be a positive number"],
      [{ stateMachineArn: ARN, maxAgeMinutes: "60" }, "params.maxAgeMinutes must be a positive number"],
      [
        { stateMachineArn: ARN, maxAgeMinutes: 60, maxRunningMinutes: -1 },
        "params.maxRunningMinutes must be a positive number",
      ],
      [
        { stateMachineArn: ARN, maxAgeMinutes: 60, maxRunningMinutes: true },
        "params.maxRunningMinutes must be a positive number",
      ],
      [
        { stateMachineArn: ARN, maxAgeMinutes: 60, region: "eu-west-1" },
        "params.region is not a known parameter",
      ],
    ])("%j", async (params, expected) => {
      const error = await run(params).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidParamsError);
      expect((error as Error).message).toContain(expected);
      expect(sfn.calls()).toHaveLength(0);
    });
  });
});
