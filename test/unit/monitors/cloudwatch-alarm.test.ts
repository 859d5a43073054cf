import { CloudWatchClient, DescribeAlarmsCommand, type MetricAlarm } from "@aws-sdk/client-cloudwatch";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { CLOUDWATCH_ALARM_CHECK, cloudWatchAlarmCheck, MAX_ALARM_PAGES } from "#monitors/cloudwatch-alarm.ts";
import { findCheck } from "#monitors/index.ts";
import { awsError, paramsProblems } from "../../support/check-params.ts";

// There is no CloudWatch emulator: request shapes and answers are played by a mocked client. The
// class is mocked, so the check's own lazily loaded client (monitors/support/cloudwatch.ts) is used.
const mock = mockClient(CloudWatchClient);
beforeEach(() => mock.reset());
afterAll(() => mock.restore());

const NOW = new Date("2026-11-21T10:05:00.000Z");
const run = (params: Record<string, unknown>, signal = AbortSignal.timeout(10_000)) =>
  cloudWatchAlarmCheck.run({ monitorId: "m", params, signal, logger: silentLogger, now: NOW });

const alarm = (name: string, state: string, reason = `${name} reason`): MetricAlarm => ({
  AlarmName: name,
  StateValue: state as MetricAlarm["StateValue"],
  StateReason: reason,
});
const problems = (params: Record<string, unknown>) => paramsProblems(run(params), params);

describe("cloudwatch-alarm params", () => {
  it("is registered", () => {
    expect(findCheck(CLOUDWATCH_ALARM_CHECK)).toBe(cloudWatchAlarmCheck);
  });

  it("wants exactly one of alarmName and alarmNamePrefix", async () => {
    expect(await problems({})).toEqual([
      "params.alarmName is required (or params.alarmNamePrefix: exactly one of them)",
    ]);
    expect(await problems({ alarmName: "a", alarmNamePrefix: "b" })).toEqual([
      "params.alarmNamePrefix cannot be combined with params.alarmName: give exactly one of them",
    ]);
    expect(mock.calls()).toHaveLength(0);
  });

  it("names every bad param", async () => {
    expect(await problems({ alarmName: 42 })).toEqual(["params.alarmName must be an alarm name"]);
    expect(await problems({ alarmName: "" })).toEqual(["params.alarmName must be an alarm name"]);
    expect(await problems({ alarmNamePrefix: "x".repeat(256) })).toEqual([
      "params.alarmNamePrefix must be at most 255 characters",
    ]);
    expect(await problems({ alarmName: "a\nb" })).toEqual([
      "params.alarmName must not hold control characters",
    ]);
    expect(await problems({ alarmName: "a", insufficientDataIsFailure: "yes" })).toEqual([
      "params.insufficientDataIsFailure must be true or false",
    ]);
    expect(await problems({ alarmName: "a", includeComposite: 1 })).toEqual([
      "params.includeComposite must be true or false",
    ]);
    expect(await problems({ alarmName: "a", region: "Europe" })).toEqual([
      "params.region must be an AWS region such as us-east-1",
    ]);
    expect(await problems({ alarmName: "a", alarmNames: ["b"] })).toEqual([
      "params.alarmNames is not a known parameter",
    ]);
  });
});

describe("cloudwatch-alarm by name", () => {
  it("asks DescribeAlarms for exactly that metric alarm", async () => {
    mock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [alarm("orders-5xx", "OK")] });
    await expect(run({ alarmName: "orders-5xx", region: "eu-west-1" })).resolves.toEqual({
      isOk: true,
      message: 'alarm "orders-5xx" in eu-west-1 is OK',
    });
    expect(mock.commandCalls(DescribeAlarmsCommand).map((call) => call.args[0].input)).toEqual([
      { AlarmNames: ["orders-5xx"], AlarmTypes: ["MetricAlarm"], MaxRecords: 100 },
    ]);
  });

  it("fails in ALARM, with the state reason cut to size", async () => {
    const reason = `Threshold Crossed: 1 datapoint [5.0 (21/11/26 10:00:00)] was greater than the threshold (0.0).${"!".repeat(200)}`;
    mock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [alarm("orders-5xx", "ALARM", reason)] });
    const result = await run({ alarmName: "orders-5xx", region: "eu-west-1" });
    expect(result.isOk).toBe(false);
    expect(result.message).toBe(
      `alarm "orders-5xx" in eu-west-1 is in ALARM: ${JSON.stringify(`${reason.slice(0, 160)}…`)}`,
    );
  });

  it("tolerates INSUFFICIENT_DATA unless insufficientDataIsFailure", async () => {
    mock
      .on(DescribeAlarmsCommand)
      .resolves({ MetricAlarms: [alarm("feed", "INSUFFICIENT_DATA", "no data")] });
    await expect(run({ alarmName: "feed", region: "eu-west-1" })).resolves.toEqual({
      isOk: true,
      message:
        'alarm "feed" in eu-west-1 is in INSUFFICIENT_DATA (INSUFFICIENT_DATA is not a failure: params.insufficientDataIsFailure is false)',
    });
    await expect(
      run({ alarmName: "feed", region: "eu-west-1", insufficientDataIsFailure: true }),
    ).resolves.toEqual({
      isOk: false,
      message: 'alarm "feed" in eu-west-1 is in INSUFFICIENT_DATA: "no data"',
    });
  });

  it("fails naming what was searched when no alarm matches", async () => {
    mock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [], CompositeAlarms: [] });
    await expect(run({ alarmName: "gone", region: "eu-west-1" })).resolves.toEqual({
      isOk: false,
      message:
        'no metric alarm named "gone" in eu-west-1 (composite alarms are looked at with params.includeComposite)',
    });
    await expect(
      run({ alarmNamePrefix: "prod-", region: "eu-west-1", includeComposite: true }),
    ).resolves.toEqual({
      isOk: false,
      message: 'no metric or composite alarm whose name starts with "prod-" in eu-west-1',
    });
  });

  it("asks for composite alarms too when includeComposite, and judges them alike", async () => {
    mock.on(DescribeAlarmsCommand).resolves({
      CompositeAlarms: [{ AlarmName: "service-health", StateValue: "ALARM", StateReason: "child in ALARM" }],
    });
    await expect(
      run({ alarmName: "service-health", region: "eu-west-1", includeComposite: true }),
    ).resolves.toEqual({
      isOk: false,
      message: 'alarm "service-health" in eu-west-1 is in ALARM: "child in ALARM"',
    });
    expect(mock.commandCalls(DescribeAlarmsCommand)[0]?.args[0].input.AlarmTypes).toEqual([
      "MetricAlarm",
      "CompositeAlarm",
    ]);
  });
});

describe("cloudwatch-alarm by prefix", () => {
  it("reads every page, counts the states and lists the failing alarms, ALARM first", async () => {
    mock
      .on(DescribeAlarmsCommand)
      .resolvesOnce({
        MetricAlarms: [alarm("prod-a", "OK"), alarm("prod-b", "INSUFFICIENT_DATA")],
        NextToken: "page-2",
      })
      .resolvesOnce({
        MetricAlarms: [alarm("prod-d", "ALARM"), alarm("prod-c", "ALARM"), alarm("prod-e", "OK")],
      });
    const result = await run({
      alarmNamePrefix: "prod-",
      region: "eu-west-1",
      insufficientDataIsFailure: true,
    });
    expect(result).toEqual({
      isOk: false,
      message:
        '3 of 5 alarms whose name starts with "prod-" in eu-west-1 are failing (2 ALARM, 1 INSUFFICIENT_DATA, 2 OK): "prod-c" ALARM: "prod-c reason"; "prod-d" ALARM: "prod-d reason"; "prod-b" INSUFFICIENT_DATA: "prod-b reason"',
    });
    expect(mock.commandCalls(DescribeAlarmsCommand).map((call) => call.args[0].input)).toEqual([
      { AlarmNamePrefix: "prod-", AlarmTypes: ["MetricAlarm"], MaxRecords: 100 },
      { AlarmNamePrefix: "prod-", AlarmTypes: ["MetricAlarm"], MaxRecords: 100, NextToken: "page-2" },
    ]);
  });

  it("lists at most five failing alarms and counts the rest", async () => {
    const failing = Array.from({ length: 8 }, (_, index) => alarm(`prod-${index}`, "ALARM"));
    mock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: failing });
    const result = await run({ alarmNamePrefix: "prod-", region: "eu-west-1" });
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(
      /^8 of 8 alarms whose name starts with "prod-" in eu-west-1 are failing \(8 ALARM\): /,
    );
    expect(result.message).toContain('"prod-4" ALARM: "prod-4 reason"; and 3 more');
    expect(result.message).not.toContain('"prod-5"');
  });

  it("is OK when every matching alarm is OK (INSUFFICIENT_DATA tolerated by default)", async () => {
    mock.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [alarm("prod-a", "OK"), alarm("prod-b", "OK"), alarm("prod-c", "INSUFFICIENT_DATA")],
    });
    await expect(run({ alarmNamePrefix: "prod-", region: "eu-west-1" })).resolves.toEqual({
      isOk: true,
      message:
        '3 alarms whose name starts with "prod-" in eu-west-1: 1 INSUFFICIENT_DATA, 2 OK (INSUFFICIENT_DATA is not a failure: params.insufficientDataIsFailure is false)',
    });
  });

  it(`stops after ${MAX_ALARM_PAGES} pages: failing alarms still fail, an unfinished all-OK is a failure`, async () => {
    let page = 0;
    mock.on(DescribeAlarmsCommand).callsFake(() => {
      page++;
      return {
        MetricAlarms: Array.from({ length: 100 }, (_, index) => alarm(`prod-${page}-${index}`, "OK")),
        NextToken: `after-${page}`,
      };
    });
    await expect(run({ alarmNamePrefix: "prod-", region: "eu-west-1" })).resolves.toEqual({
      isOk: false,
      message:
        'more than 1000 alarms whose name starts with "prod-" in eu-west-1: none of the first 1000 is failing, the rest were not looked at; narrow params.alarmNamePrefix',
    });
    expect(mock.commandCalls(DescribeAlarmsCommand)).toHaveLength(MAX_ALARM_PAGES);

    mock.reset();
    mock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [alarm("prod-x", "ALARM")], NextToken: "more" });
    const result = await run({ alarmNamePrefix: "prod-", region: "eu-west-1" });
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(
      /^10 of 10 alarms whose name starts with "prod-" in eu-west-1 are failing \(10 ALARM, more were not looked at \(narrow params\.alarmNamePrefix\)\)/,
    );
  });
});

describe("cloudwatch-alarm when it cannot look", () => {
  it("says which setting grants a denied DescribeAlarms", async () => {
    mock
      .on(DescribeAlarmsCommand)
      .rejects(
        awsError(
          "AccessDenied",
          "User: arn:aws:sts::1:assumed-role/o is not authorized to perform: cloudwatch:DescribeAlarms",
        ),
      );
    const result = await run({ alarmName: "orders-5xx", region: "eu-west-1" });
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(
      /^not allowed to describe alarm "orders-5xx" in eu-west-1 \(cloudwatch:DescribeAlarms\): list the alarm ARNs in the stack setting checkReadArns, or set checkAlarmReads for prefixes and composite alarms \(AccessDenied: User: .*\)$/,
    );
  });

  it("reports any other error as a failure naming the search", async () => {
    mock.on(DescribeAlarmsCommand).rejects(awsError("Throttling", "Rate exceeded"));
    await expect(run({ alarmNamePrefix: "prod-", region: "eu-west-1" })).resolves.toEqual({
      isOk: false,
      message:
        'DescribeAlarms for alarms whose name starts with "prod-" in eu-west-1 failed: Throttling: Rate exceeded',
    });
  });

  it("throws when the orchestrator aborts it", async () => {
    const controller = new AbortController();
    controller.abort(new Error("check timed out after 30000 ms"));
    mock.on(DescribeAlarmsCommand).rejects(awsError("AbortError", "Request aborted"));
    await expect(run({ alarmName: "orders-5xx", region: "eu-west-1" }, controller.signal)).rejects.toThrow(
      'DescribeAlarms for alarm "orders-5xx" aborted: check timed out after 30000 ms',
    );
  });
});
