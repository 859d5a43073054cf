import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import {
  breaches,
  CLOUDWATCH_METRIC_CHECK,
  cloudWatchMetricCheck,
  formatValue,
  MAX_METRIC_PAGES,
  metricWindow,
} from "#monitors/cloudwatch-metric.ts";
import { findCheck } from "#monitors/index.ts";
import { awsError, paramsProblems } from "../../support/check-params.ts";

// There is no CloudWatch emulator: request shapes and answers are played by a mocked client.
const mock = mockClient(CloudWatchClient);
beforeEach(() => mock.reset());
afterAll(() => mock.restore());

const NOW = new Date("2026-11-21T10:07:30.000Z");
const at = (time: string) => new Date(`2026-11-21T${time}:00.000Z`);
const run = (params: Record<string, unknown>, signal = AbortSignal.timeout(10_000)) =>
  cloudWatchMetricCheck.run({ monitorId: "m", params, signal, logger: silentLogger, now: NOW });

/** The "Lambda errors" example of docs/checks.md. */
const LAMBDA_ERRORS = {
  namespace: "AWS/Lambda",
  metricName: "Errors",
  dimensions: { FunctionName: "orders" },
  statistic: "Sum",
  periodSeconds: 300,
  windowMinutes: 5,
  comparison: { op: ">", threshold: 0 },
  missingData: "ok",
  region: "eu-west-1",
};
const PER_MINUTE = { ...LAMBDA_ERRORS, periodSeconds: 60, windowMinutes: 5, missingData: "failure" };

const answer = (points: Array<[string, number]>, extra: Record<string, unknown> = {}) => ({
  MetricDataResults: [
    {
      Id: "m0",
      StatusCode: "Complete" as const,
      Timestamps: points.map(([time]) => at(time)),
      Values: points.map(([, value]) => value),
    },
  ],
  ...extra,
});
const problems = (params: Record<string, unknown>) => paramsProblems(run(params), params);

describe("cloudwatch-metric params", () => {
  it("is registered", () => {
    expect(findCheck(CLOUDWATCH_METRIC_CHECK)).toBe(cloudWatchMetricCheck);
  });

  it("requires the metric, the statistic and the comparison", async () => {
    expect(await problems({})).toEqual([
      "params.namespace is required",
      "params.metricName is required",
      "params.statistic is required",
      "params.comparison is required",
    ]);
  });

  it.each([
    [{ namespace: 1 }, "params.namespace must be a metric namespace such as AWS/Lambda"],
    [{ namespace: "" }, "params.namespace must be a metric namespace such as AWS/Lambda"],
    [{ metricName: "x".repeat(256) }, "params.metricName must be at most 255 characters"],
    [
      { dimensions: "FunctionName=orders" },
      "params.dimensions must be a map of dimension names to values, e.g. { FunctionName: 'orders' }",
    ],
    [{ dimensions: { FunctionName: 7 } }, "params.dimensions.FunctionName must be a dimension value"],
    [{ dimensions: { FunctionName: "" } }, "params.dimensions.FunctionName must be a dimension value"],
    [
      { dimensions: Object.fromEntries(Array.from({ length: 31 }, (_, index) => [`d${index}`, "v"])) },
      "params.dimensions must hold at most 30 dimensions",
    ],
    [
      { statistic: "avg" },
      "params.statistic must be Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p99",
    ],
    [
      { statistic: "p101" },
      "params.statistic must be Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p99",
    ],
    [
      { statistic: 99 },
      "params.statistic must be Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p99",
    ],
    [
      { periodSeconds: "60" },
      "params.periodSeconds must be a number of seconds: 1, 5, 10, 30 or a multiple of 60",
    ],
    [{ periodSeconds: 90 }, "params.periodSeconds must be 1, 5, 10, 30 or a multiple of 60"],
    [{ periodSeconds: 0 }, "params.periodSeconds must be 1, 5, 10, 30 or a multiple of 60"],
    [{ periodSeconds: 1.5 }, "params.periodSeconds must be a whole number of seconds"],
    [{ periodSeconds: 86_460 }, "params.periodSeconds must be at most 86400 (a day)"],
    [{ windowMinutes: 0 }, "params.windowMinutes must be at least 1"],
    [{ windowMinutes: 2.5 }, "params.windowMinutes must be a whole number of minutes"],
    [{ windowMinutes: 20_161 }, "params.windowMinutes must be at most 20160 (14 days)"],
    [
      { windowMinutes: 7 },
      "params.windowMinutes must be a whole number of periods (params.periodSeconds 300)",
    ],
    [
      { periodSeconds: 1, windowMinutes: 25 },
      "params.windowMinutes must hold at most 1440 periods of params.periodSeconds (1 s): widen the period or shorten the window",
    ],
    [{ comparison: "> 0" }, 'params.comparison must be a map like { op: ">", threshold: 0 }'],
    [{ comparison: { op: "gt", threshold: 0 } }, 'params.comparison.op must be ">", ">=", "<" or "<="'],
    [{ comparison: { op: ">" } }, "params.comparison.threshold is required"],
    [{ comparison: { op: ">", threshold: "0" } }, "params.comparison.threshold must be a number"],
    [
      { comparison: { op: ">", threshold: Number.POSITIVE_INFINITY } },
      "params.comparison.threshold must be a number",
    ],
    [
      { comparison: { op: ">", threshold: 0, unit: "Count" } },
      "params.comparison.unit is not a known parameter",
    ],
    [{ missingData: "ignore" }, 'params.missingData must be "ok" or "failure"'],
    [{ region: "eu" }, "params.region must be an AWS region such as us-east-1"],
    [{ stat: "Sum" }, "params.stat is not a known parameter"],
  ])("names the bad param: %j", async (override, message) => {
    expect(await problems({ ...LAMBDA_ERRORS, ...override })).toEqual([message]);
    expect(mock.calls()).toHaveLength(0);
  });

  it("accepts every statistic CloudWatch names and percentiles", async () => {
    mock.on(GetMetricDataCommand).resolves(answer([]));
    for (const statistic of [
      "Average",
      "Sum",
      "Minimum",
      "Maximum",
      "SampleCount",
      "p50",
      "p99",
      "p99.9",
      "p100",
    ]) {
      await expect(run({ ...LAMBDA_ERRORS, statistic })).resolves.toMatchObject({ isOk: true });
    }
  });
});

describe("cloudwatch-metric window and comparison", () => {
  it("judges the whole periods before the tick", () => {
    expect(metricWindow(NOW, 60, 5)).toEqual({ start: at("10:02"), end: at("10:07") });
    expect(metricWindow(NOW, 300, 5)).toEqual({ start: at("10:00"), end: at("10:05") });
    expect(metricWindow(NOW, 3600, 120)).toEqual({ start: at("08:00"), end: at("10:00") });
  });

  it("compares as the operator says, and formats values briefly", () => {
    expect([breaches(1, ">", 0), breaches(0, ">", 0), breaches(0, ">=", 0), breaches(-1, ">=", 0)]).toEqual([
      true,
      false,
      true,
      false,
    ]);
    expect([breaches(1, "<", 2), breaches(2, "<", 2), breaches(2, "<=", 2), breaches(3, "<=", 2)]).toEqual([
      true,
      false,
      true,
      false,
    ]);
    expect([formatValue(3), formatValue(0.25), formatValue(1234.56789), formatValue(1 / 3)]).toEqual([
      "3",
      "0.25",
      "1234.57",
      "0.333333",
    ]);
  });
});

describe("cloudwatch-metric", () => {
  it("asks GetMetricData for the statistic of exactly that metric over the window", async () => {
    mock.on(GetMetricDataCommand).resolves(answer([["10:00", 0]]));
    await run(LAMBDA_ERRORS);
    expect(mock.commandCalls(GetMetricDataCommand).map((call) => call.args[0].input)).toEqual([
      {
        MetricDataQueries: [
          {
            Id: "m0",
            MetricStat: {
              Metric: {
                Namespace: "AWS/Lambda",
                MetricName: "Errors",
                Dimensions: [{ Name: "FunctionName", Value: "orders" }],
              },
              Period: 300,
              Stat: "Sum",
            },
            ReturnData: true,
          },
        ],
        StartTime: at("10:00"),
        EndTime: at("10:05"),
        ScanBy: "TimestampDescending",
      },
    ]);
  });

  it("is OK when no datapoint satisfies the comparison", async () => {
    mock.on(GetMetricDataCommand).resolves(
      answer([
        ["10:06", 0],
        ["10:05", 0],
        ["10:04", 0],
        ["10:03", 0],
        ["10:02", 0],
      ]),
    );
    await expect(run(PER_MINUTE)).resolves.toEqual({
      isOk: true,
      message:
        "AWS/Lambda Errors {FunctionName=orders} Sum per 1m: none of 5 datapoints in the 5m to 2026-11-21T10:07Z was > 0 (latest 0 at 2026-11-21T10:06Z, highest 0)",
    });
  });

  it("fails when any datapoint of the window satisfies it, naming the worst", async () => {
    mock.on(GetMetricDataCommand).resolves(
      answer([
        ["10:06", 0],
        ["10:05", 2],
        ["10:04", 0],
        ["10:03", 5],
        ["10:02", 0],
        // Outside the window: never judged, whatever the answer holds.
        ["10:01", 99],
        ["10:07", 99],
      ]),
    );
    await expect(run(PER_MINUTE)).resolves.toEqual({
      isOk: false,
      message:
        "AWS/Lambda Errors {FunctionName=orders} Sum per 1m was > 0 in 2 of 5 datapoints in the 5m to 2026-11-21T10:07Z: highest 5 at 2026-11-21T10:03Z",
    });
  });

  it("names the lowest datapoint for a lower bound", async () => {
    mock.on(GetMetricDataCommand).resolves(
      answer([
        ["09:00", 120.5],
        ["08:00", 7.25],
      ]),
    );
    const params = {
      namespace: "Shop",
      metricName: "OrdersPlaced",
      statistic: "Sum",
      periodSeconds: 3600,
      windowMinutes: 120,
      comparison: { op: "<", threshold: 10 },
    };
    await expect(run(params)).resolves.toEqual({
      isOk: false,
      message:
        "Shop OrdersPlaced Sum per 1h was < 10 in 1 of 2 datapoints in the 2h to 2026-11-21T10:00Z: lowest 7.25 at 2026-11-21T08:00Z",
    });
  });

  it("follows missingData when the window holds no datapoint", async () => {
    mock.on(GetMetricDataCommand).resolves(answer([]));
    await expect(run(LAMBDA_ERRORS)).resolves.toEqual({
      isOk: true,
      message:
        'AWS/Lambda Errors {FunctionName=orders} Sum per 5m: no datapoints in the 5m to 2026-11-21T10:05Z (params.missingData is "ok")',
    });
    await expect(run({ ...LAMBDA_ERRORS, missingData: "failure" })).resolves.toEqual({
      isOk: false,
      message:
        'AWS/Lambda Errors {FunctionName=orders} Sum per 5m: no datapoints in the 5m to 2026-11-21T10:05Z; check the namespace, name and every dimension, or accept silence with params.missingData "ok"',
    });
    // The default is "failure": a misspelt dimension must not pass for a quiet metric.
    const { missingData: _, ...withoutPolicy } = LAMBDA_ERRORS;
    await expect(run(withoutPolicy)).resolves.toMatchObject({ isOk: false });
  });

  it(`reads the following pages, at most ${MAX_METRIC_PAGES}`, async () => {
    mock
      .on(GetMetricDataCommand)
      .resolvesOnce(answer([["10:06", 0]], { NextToken: "next" }))
      .resolvesOnce(answer([["10:05", 3]]));
    await expect(run(PER_MINUTE)).resolves.toMatchObject({ isOk: false });
    expect(mock.commandCalls(GetMetricDataCommand)[1]?.args[0].input.NextToken).toBe("next");

    mock.reset();
    mock.on(GetMetricDataCommand).resolves(answer([["10:06", 0]], { NextToken: "again" }));
    await expect(run(PER_MINUTE)).resolves.toMatchObject({ isOk: true });
    expect(mock.commandCalls(GetMetricDataCommand)).toHaveLength(MAX_METRIC_PAGES);
  });

  it("fails when CloudWatch answers Forbidden or InternalError for the query", async () => {
    mock.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: "m0",
          StatusCode: "Forbidden",
          Messages: [{ Code: "Forbidden", Value: "no access to the source account" }],
        },
      ],
    });
    await expect(run(LAMBDA_ERRORS)).resolves.toEqual({
      isOk: false,
      message:
        'GetMetricData for AWS/Lambda Errors {FunctionName=orders} answered Forbidden: "no access to the source account"',
    });
  });

  it("says which setting grants a denied GetMetricData", async () => {
    mock
      .on(GetMetricDataCommand)
      .rejects(awsError("AccessDenied", "not authorized to perform: cloudwatch:GetMetricData"));
    await expect(run(LAMBDA_ERRORS)).resolves.toEqual({
      isOk: false,
      message:
        "not allowed to read AWS/Lambda Errors {FunctionName=orders} (cloudwatch:GetMetricData): set the stack setting checkMetricReads to true (AccessDenied: not authorized to perform: cloudwatch:GetMetricData)",
    });
  });

  it("reports any other error as a failure naming the metric", async () => {
    mock.on(GetMetricDataCommand).rejects(awsError("InvalidParameterValueException", "bad stat"));
    await expect(run(LAMBDA_ERRORS)).resolves.toEqual({
      isOk: false,
      message:
        "GetMetricData for AWS/Lambda Errors {FunctionName=orders} failed: InvalidParameterValueException: bad stat",
    });
  });

  it("throws when the orchestrator aborts it", async () => {
    const controller = new AbortController();
    controller.abort(new Error("check timed out after 30000 ms"));
    mock.on(GetMetricDataCommand).rejects(awsError("AbortError", "Request aborted"));
    await expect(run(LAMBDA_ERRORS, controller.signal)).rejects.toThrow(
      "GetMetricData for AWS/Lambda Errors {FunctionName=orders} aborted: check timed out after 30000 ms",
    );
  });
});
