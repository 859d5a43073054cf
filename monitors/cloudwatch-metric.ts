import type { GetMetricDataCommandInput } from "@aws-sdk/client-cloudwatch";
import * as z from "zod/mini";
import { abortedError } from "./support/abort.ts";
import { REGION_PATTERN } from "./support/clients.ts";
import {
  type CloudWatchClientFor,
  defaultCloudWatchClientFor,
  isAccessDenied,
  loadCloudWatchSdk,
} from "./support/cloudwatch.ts";
import { errorText, formatDuration, plural, quote } from "./support/format.ts";
import { must, mustBe, parseParams } from "./support/params.ts";
import type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * `cloudwatch-metric`: a statistic of one metric over a window, against a threshold. One
 * GetMetricData over the window (paginated, bounded); the window is the last `windowMinutes`
 * ending at the last whole period before the tick's time (a period still filling is never
 * judged). Every datapoint in the window is judged: the check fails when any of them satisfies
 * `comparison` (as a CloudWatch alarm with "1 out of N" datapoints). A window without datapoints
 * follows `missingData`.
 */

export const CLOUDWATCH_METRIC_CHECK = "cloudwatch-metric";

/** Most datapoints a window may hold (windowMinutes * 60 / periodSeconds): one page of GetMetricData. */
export const MAX_DATAPOINTS = 1440;
/** Pages read at most (CloudWatch may split even a small answer). */
export const MAX_METRIC_PAGES = 5;

export const STATISTICS = ["Average", "Sum", "Minimum", "Maximum", "SampleCount"] as const;
// p0 to p100 with up to two decimals (p99, p99.9, p50).
const PERCENTILE = /^p(100|\d{1,2}(\.\d{1,2})?)$/;
export const COMPARISON_OPERATORS = [">", ">=", "<", "<="] as const;
export type ComparisonOperator = (typeof COMPARISON_OPERATORS)[number];

const NameSchema = (what: string, max: number) =>
  z
    .string({ error: must(`must be ${what}`) })
    .check(z.minLength(1, `must be ${what}`), z.maxLength(max, `must be at most ${max} characters`));

/** Length of one datapoint: 1, 5, 10, 30 (high-resolution metrics) or a multiple of 60. */
const PeriodSchema = z
  .number({ error: must("must be a number of seconds: 1, 5, 10, 30 or a multiple of 60") })
  .check(
    z.int("must be a whole number of seconds"),
    z.lte(86_400, "must be at most 86400 (a day)"),
    z.refine(
      (value) => [1, 5, 10, 30].includes(value) || (value > 0 && value % 60 === 0),
      "must be 1, 5, 10, 30 or a multiple of 60",
    ),
  );

/** How far back the datapoints are judged, a whole number of periods. */
const WindowSchema = z
  .number({ error: must("must be a whole number of minutes") })
  .check(
    z.int("must be a whole number of minutes"),
    z.gte(1, "must be at least 1"),
    z.lte(20_160, "must be at most 20160 (14 days)"),
  );

export const CloudWatchMetricParamsSchema = z
  .strictObject({
    namespace: NameSchema("a metric namespace such as AWS/Lambda", 255).register(z.globalRegistry, {
      description: "The metric's namespace, e.g. AWS/Lambda.",
    }),
    metricName: NameSchema("a metric name such as Errors", 255).register(z.globalRegistry, {
      description: "The metric's name, e.g. Errors.",
    }),
    dimensions: z
      ._default(
        z
          .record(NameSchema("a dimension name", 255), NameSchema("a dimension value", 1024), {
            error: mustBe("must be a map of dimension names to values, e.g. { FunctionName: 'orders' }"),
          })
          .check(z.refine((value) => Object.keys(value).length <= 30, "must hold at most 30 dimensions")),
        {},
      )
      .register(z.globalRegistry, {
        description:
          "The metric's dimensions, all of them (CloudWatch matches the exact set), e.g. { FunctionName: 'orders' }.",
      }),
    statistic: z
      .string({
        error: must("must be Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p99"),
      })
      .check(
        z.refine(
          (value) => (STATISTICS as readonly string[]).includes(value) || PERCENTILE.test(value),
          "must be Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p99",
        ),
      )
      .register(z.globalRegistry, {
        description: "Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p99.",
      }),
    periodSeconds: z._default(PeriodSchema, 60).register(z.globalRegistry, {
      description: "Length of one datapoint in seconds: 1, 5, 10, 30 or a multiple of 60.",
    }),
    windowMinutes: z._default(WindowSchema, 5).register(z.globalRegistry, {
      description: "Minutes of datapoints judged, a whole number of periods (at most 1440 of them).",
    }),
    comparison: z
      .strictObject(
        {
          op: z.enum(COMPARISON_OPERATORS, { error: must('must be ">", ">=", "<" or "<="') }),
          threshold: z
            .number({ error: must("must be a number") })
            .check(z.refine(Number.isFinite, "must be a finite number")),
        },
        { error: mustBe('must be a map like { op: ">", threshold: 0 }') },
      )
      .register(z.globalRegistry, {
        description:
          'The failing condition { op, threshold }: the check fails when a datapoint op threshold holds, e.g. { op: ">", threshold: 0 }.',
      }),
    missingData: z
      ._default(z.enum(["ok", "failure"], { error: must('must be "ok" or "failure"') }), "failure")
      .register(z.globalRegistry, {
        description: 'What a window without any datapoint is: "failure" or "ok".',
      }),
    region: z
      .optional(
        z
          .string({ error: must("must be an AWS region such as us-east-1") })
          .check(z.regex(REGION_PATTERN, "must be an AWS region such as us-east-1")),
      )
      .register(z.globalRegistry, {
        description: "Region of the metric.",
        defaultText: "the SDK's region (AWS_REGION)",
      }),
  })
  .check(
    z.superRefine((params, ctx) => {
      // Zod runs this even when the period or the window failed their own rules: judge only valid ones.
      const period = PeriodSchema.safeParse(params.periodSeconds);
      const windowMinutes = WindowSchema.safeParse(params.windowMinutes);
      if (!period.success || !windowMinutes.success) return;
      const windowSeconds = params.windowMinutes * 60;
      if (windowSeconds % params.periodSeconds !== 0) {
        ctx.addIssue({
          code: "custom",
          path: ["windowMinutes"],
          message: `must be a whole number of periods (params.periodSeconds ${params.periodSeconds})`,
        });
      } else if (windowSeconds / params.periodSeconds > MAX_DATAPOINTS) {
        ctx.addIssue({
          code: "custom",
          path: ["windowMinutes"],
          message: `must hold at most ${MAX_DATAPOINTS} periods of params.periodSeconds (${params.periodSeconds} s): widen the period or shorten the window`,
        });
      }
    }),
  );
export type CloudWatchMetricParams = z.infer<typeof CloudWatchMetricParamsSchema>;

export function breaches(value: number, op: ComparisonOperator, threshold: number): boolean {
  switch (op) {
    case ">":
      return value > threshold;
    case ">=":
      return value >= threshold;
    case "<":
      return value < threshold;
    case "<=":
      return value <= threshold;
  }
}

/** `3`, `0.25`, `1234.57`: six significant digits at most, no exponent for everyday values. */
export function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

/** Shortened so that one odd name cannot flood an email. */
function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** `2026-11-21T10:05Z`, or with seconds when they are not zero. */
function formatTime(date: Date): string {
  const iso = date.toISOString();
  return iso.endsWith(":00.000Z") ? `${iso.slice(0, 16)}Z` : `${iso.slice(0, 19)}Z`;
}

/**
 * The window judged at `now`: the `windowMinutes` that end at the last period boundary at or
 * before `now` (boundaries are multiples of the period since the epoch, as CloudWatch aligns them).
 */
export function metricWindow(
  now: Date,
  periodSeconds: number,
  windowMinutes: number,
): { start: Date; end: Date } {
  const periodMs = periodSeconds * 1000;
  const end = Math.floor(now.getTime() / periodMs) * periodMs;
  return { start: new Date(end - windowMinutes * 60_000), end: new Date(end) };
}

interface Datapoint {
  time: Date;
  value: number;
}

export interface CloudWatchMetricOptions {
  /** @default one cached CloudWatchClient per region, from checkClientConfig */
  clientFor?: CloudWatchClientFor;
}

export function createCloudWatchMetricCheck(options: CloudWatchMetricOptions = {}): CheckDefinition {
  const clientFor = options.clientFor ?? defaultCloudWatchClientFor;

  async function run(ctx: CheckContext): Promise<CheckResult> {
    const params = parseParams(CLOUDWATCH_METRIC_CHECK, CloudWatchMetricParamsSchema, ctx.params);
    const { namespace, metricName, dimensions, statistic, periodSeconds, windowMinutes, comparison } = params;
    const dimensionText = Object.entries(dimensions)
      .map(([name, value]) => `${name}=${value}`)
      .join(", ");
    const metric = clip(`${namespace} ${metricName}${dimensionText ? ` {${dimensionText}}` : ""}`, 300);
    const per = `${statistic} per ${formatDuration(periodSeconds * 1000)}`;
    const { start, end } = metricWindow(ctx.now, periodSeconds, windowMinutes);
    const window = `the ${formatDuration(windowMinutes * 60_000)} to ${formatTime(end)}`;
    const condition = `${comparison.op} ${formatValue(comparison.threshold)}`;

    const { GetMetricDataCommand } = await loadCloudWatchSdk();
    const client = await clientFor(params.region);
    const datapoints: Datapoint[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    try {
      do {
        const input: GetMetricDataCommandInput = {
          MetricDataQueries: [
            {
              Id: "m0",
              MetricStat: {
                Metric: {
                  Namespace: namespace,
                  MetricName: metricName,
                  Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
                },
                Period: periodSeconds,
                Stat: statistic,
              },
              ReturnData: true,
            },
          ],
          StartTime: start,
          EndTime: end,
          ScanBy: "TimestampDescending",
          ...(nextToken ? { NextToken: nextToken } : {}),
        };
        const page = await client.send(new GetMetricDataCommand(input), { abortSignal: ctx.signal });
        for (const result of page.MetricDataResults ?? []) {
          if (result.StatusCode === "Forbidden" || result.StatusCode === "InternalError") {
            const detail = (result.Messages ?? []).map((message) => message.Value ?? message.Code).join("; ");
            return {
              isOk: false,
              message: `GetMetricData for ${metric} answered ${result.StatusCode}${detail ? `: ${quote(detail, 200)}` : ""}`,
            };
          }
          const values = result.Values ?? [];
          (result.Timestamps ?? []).forEach((time, index) => {
            const value = values[index];
            if (typeof value === "number" && Number.isFinite(value)) datapoints.push({ time, value });
          });
        }
        nextToken = page.NextToken || undefined;
        pages++;
      } while (nextToken && pages < MAX_METRIC_PAGES);
    } catch (error) {
      if (ctx.signal.aborted) throw abortedError(ctx.signal, `GetMetricData for ${metric}`);
      if (isAccessDenied(error)) {
        return {
          isOk: false,
          message: `not allowed to read ${metric} (cloudwatch:GetMetricData): set the stack setting checkMetricReads to true (${errorText(error)})`,
        };
      }
      return { isOk: false, message: `GetMetricData for ${metric} failed: ${errorText(error)}` };
    }

    // Only the window's datapoints, newest first, whatever order and extent the pages had.
    const judged = datapoints
      .filter(({ time }) => time.getTime() >= start.getTime() && time.getTime() < end.getTime())
      .sort((a, b) => b.time.getTime() - a.time.getTime());
    ctx.logger.debug("cloudwatch-metric check", { metric, datapoints: judged.length, pages });

    if (judged.length === 0) {
      return params.missingData === "ok"
        ? {
            isOk: true,
            message: `${metric} ${per}: no datapoints in ${window} (params.missingData is "ok")`,
          }
        : {
            isOk: false,
            message: `${metric} ${per}: no datapoints in ${window}; check the namespace, name and every dimension, or accept silence with params.missingData "ok"`,
          };
    }

    const breaching = judged.filter(({ value }) => breaches(value, comparison.op, comparison.threshold));
    const high = comparison.op === ">" || comparison.op === ">=";
    const worstOf = (points: readonly Datapoint[]) =>
      points.reduce((worst, point) =>
        (high ? point.value > worst.value : point.value < worst.value) ? point : worst,
      );
    const [latest] = judged as [Datapoint, ...Datapoint[]];
    const at = (point: Datapoint) => `${formatValue(point.value)} at ${formatTime(point.time)}`;
    if (breaching.length > 0) {
      const worst = worstOf(breaching);
      return {
        isOk: false,
        message: `${metric} ${per} was ${condition} in ${breaching.length} of ${plural(judged.length, "datapoint")} in ${window}: ${high ? "highest" : "lowest"} ${at(worst)}`,
      };
    }
    const worst = worstOf(judged);
    return {
      isOk: true,
      message: `${metric} ${per}: none of ${plural(judged.length, "datapoint")} in ${window} was ${condition} (latest ${at(latest)}, ${high ? "highest" : "lowest"} ${formatValue(worst.value)})`,
    };
  }

  return {
    name: CLOUDWATCH_METRIC_CHECK,
    description:
      "Fails when a datapoint of a CloudWatch metric statistic over the last params.windowMinutes satisfies params.comparison (e.g. Errors Sum > 0).",
    paramsSchema: CloudWatchMetricParamsSchema,
    example: {
      name: "orders function has no errors",
      params: {
        namespace: "AWS/Lambda",
        metricName: "Errors",
        dimensions: { FunctionName: "orders" },
        statistic: "Sum",
        periodSeconds: 300,
        windowMinutes: 5,
        comparison: { op: ">", threshold: 0 },
        missingData: "ok",
      },
    },
    run,
  };
}

export const cloudWatchMetricCheck = createCloudWatchMetricCheck();
