import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { lambdaContext, tickEvent } from "../../test/support/sqs-event.ts";
import type { Counts, RequestCounter } from "./counting.ts";
import type { OutputCapture } from "./output-capture.ts";
import { writeItems } from "./pipeline.ts";
import { profile } from "./profile.ts";
import { median } from "./stats.ts";

/**
 * Requests, capacity, handler time and log bytes of one tick, by kind of tick, measured on the
 * real handler one invocation at a time (nothing else running), so that the counts are exact.
 */

export type ScenarioName =
  | "first"
  | "steady"
  | "alerting"
  | "alertStillOk"
  | "recovering"
  | "steadyRecordOnlyChanges";

export interface ScenarioResult {
  counts: Counts;
  /** Every sample made the same requests. */
  consistent: boolean;
  samples: number;
  wallMs: number;
  cpuMs: number;
  logBytes: number;
}

type Invoke = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

const MINUTE = 60_000;
/** One sequence step per minute: tick i of a monitor is step i. */
const SEQUENCE: Array<[ScenarioName, boolean]> = [
  ["first", true],
  ["steady", true],
  ["alerting", false],
  ["alertStillOk", true],
  ["recovering", true],
];

function config(monitorId: string, params: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    monitorId,
    record: "config",
    name: `Bench scenario ${monitorId}`,
    check: "manual",
    params,
    schedule: "rate(1 minute)",
    peopleToNotify: [`${monitorId}@example.com`],
    requiredConsecutiveOks: 2,
    skipSupersededTicks: false,
    ...extra,
  };
}

export interface ScenarioOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  invoke: Invoke;
  counter: RequestCounter;
  capture: OutputCapture;
  memoryMb: number;
  samples: number;
  timingTicks: number;
  /** Uncounted client the capacity audit reads items with. */
  auditClient: DynamoDBClient;
  /** The floor's function (pipeline.ts), timed the same way for comparison. */
  floor: { plain: Invoke; withHistory: Invoke };
}

export async function measureScenarios(options: ScenarioOptions) {
  const { doc, tableName, invoke, counter, capture, samples } = options;
  // Minute-aligned, in the past, and a multiple of the sequence length so that tick i is step i.
  const nowMinutes = Math.floor(Date.now() / MINUTE);
  const base = (nowMinutes - 600 - (nowMinutes % SEQUENCE.length)) * MINUTE;
  const flap = SEQUENCE.map(([, ok]) => ok);
  const monitors = Array.from({ length: samples }, (_, i) => `scenario-${i}`);
  const quiet = Array.from({ length: samples }, (_, i) => `scenario-roc-${i}`);
  await writeItems(doc, tableName, [
    ...monitors.map((id) => config(id, { sequence: flap, sequenceStepMinutes: 1 })),
    ...quiet.map((id) => config(id, { isOk: true }, { recordOnlyChanges: true })),
    config("timing-0", { isOk: true }),
    config("timing-1", { isOk: true }),
    config("timing-floor", { isOk: true }),
    config("timing-floorh", { isOk: true }),
  ]);

  type Sample = { counts: Counts; wallMs: number; cpuMs: number; logBytes: number; audited: boolean };
  const raw = new Map<ScenarioName, Sample[]>();
  // The first sample of each scenario is audited (capacity from item sizes, extra reads on the
  // side); the others are timed.
  const tick = async (
    name: ScenarioName | null,
    monitorId: string,
    time: number,
    audited = false,
    fn = invoke,
  ) => {
    counter.reset();
    counter.audit = audited ? options.auditClient : undefined;
    const event = tickEvent({ monitorId, scheduledTime: new Date(time).toISOString() });
    const context = { ...lambdaContext(), memoryLimitInMB: String(options.memoryMb) };
    const bytesBefore = capture.start();
    const cpu = process.cpuUsage();
    const started = performance.now();
    const response = await fn(event, context);
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const logBytes = capture.stop() - bytesBefore;
    if (response.batchItemFailures.length > 0 || counter.auditErrors.length > 0)
      throw new Error(`scenario tick ${monitorId} failed; audit: ${counter.auditErrors.join("; ") || "ok"}`);
    counter.audit = undefined;
    const sample = {
      counts: counter.snapshot(),
      wallMs,
      cpuMs: (used.user + used.system) / 1000,
      logBytes,
      audited,
    };
    if (name) raw.set(name, [...(raw.get(name) ?? []), sample]);
    return sample;
  };

  for (const [index, monitorId] of monitors.entries())
    for (const [step, [name]] of SEQUENCE.entries())
      await tick(name, monitorId, base + step * MINUTE, index === 0);
  for (const [index, monitorId] of quiet.entries()) {
    await tick(null, monitorId, base);
    await tick("steadyRecordOnlyChanges", monitorId, base + MINUTE, index === 0);
  }
  // Handler time of a steady tick: many sequential samples on one warm environment.
  const timed = async (monitorId: string, fn: Invoke) => {
    const samples: Array<{ wallMs: number; cpuMs: number }> = [];
    const start = base - 200 * MINUTE;
    await tick(null, monitorId, start, false, fn);
    for (let i = 1; i <= options.timingTicks; i++)
      samples.push(await tick(null, monitorId, start + i * MINUTE, false, fn));
    return {
      samples: samples.length,
      wallMs: median(samples.map((t) => t.wallMs)),
      cpuMs: median(samples.map((t) => t.cpuMs)),
    };
  };
  const steadyTiming = await timed("timing-0", invoke);
  const floorTiming = await timed("timing-floor", options.floor.plain);
  const floorWithHistoryTiming = await timed("timing-floorh", options.floor.withHistory);
  // Where a steady tick's CPU goes: sampled profile over more steady ticks.
  const cpuProfile = await profile(async () => {
    const start = base - 100 * MINUTE;
    for (let i = 0; i < options.timingTicks * 4; i++) await tick(null, "timing-1", start + i * MINUTE);
  });

  const results = {} as Record<ScenarioName, ScenarioResult>;
  for (const [name, list] of raw) {
    const first = list.find((sample) => sample.audited) ?? (list[0] as Sample);
    const timed = list.some((sample) => !sample.audited) ? list.filter((sample) => !sample.audited) : list;
    const signature = (counts: Counts) =>
      JSON.stringify([counts.byOperation, counts.reportedReadUnits, counts.reportedWriteUnits]);
    results[name] = {
      counts: first.counts,
      consistent: list.every((sample) => signature(sample.counts) === signature(first.counts)),
      samples: list.length,
      wallMs: median(timed.map((s) => s.wallMs)),
      cpuMs: median(timed.map((s) => s.cpuMs)),
      logBytes: median(list.map((s) => s.logBytes)),
    };
  }

  // Sizes of the history items, for storage: JSON bytes (an upper bound of DynamoDB's size rule).
  const history = await doc.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: "monitorId = :id",
      ExpressionAttributeValues: { ":id": monitors[0] },
    }),
  );
  const sizeOf = (prefix: string) => {
    const items = (history.Items ?? []).filter((item) => String(item.record).startsWith(prefix));
    return items.length ? median(items.map((item) => Buffer.byteLength(JSON.stringify(item)))) : 0;
  };
  return {
    scenarios: results,
    steadyTiming,
    floorTiming,
    floorWithHistoryTiming,
    cpuProfile,
    itemBytes: { run: sizeOf("run#"), notification: sizeOf("notification#"), state: sizeOf("state") },
  };
}
