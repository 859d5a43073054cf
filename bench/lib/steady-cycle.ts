import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { lambdaContext, tickEvent } from "../../test/support/sqs-event.ts";
import type { RequestCounter } from "./counting.ts";
import { writeItems } from "./pipeline.ts";
import { round } from "./stats.ts";

/**
 * DynamoDB requests and capacity per steady tick, averaged over a heartbeat cycle (write on
 * change): healthy monitors on `rate(1 minute)`, ticked together in invocations of
 * `monitorsPerInvocation` records (one per monitor, as a full FIFO batch of distinct monitors),
 * for `cycleTicks` minutes after their first tick. Quiet ticks write nothing; each monitor's
 * heartbeat writes its state and a summary every `heartbeatMinutes`; each invocation reads its
 * monitors in one BatchGetItem.
 */

type Invoke = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
const MINUTE = 60_000;

export interface SteadyCycleOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  invoke: Invoke;
  counter: RequestCounter;
  /** Uncounted client the capacity audit reads items with. */
  auditClient: DynamoDBClient;
  monitorsPerInvocation: number;
  /** Steady ticks per monitor (a multiple of the heartbeat covers whole cycles). @default 30 */
  cycleTicks?: number;
  /** The heartbeat the handler was built with, reported alongside. */
  heartbeatMinutes: number;
  prefix: string;
}

export interface SteadyCycle {
  /** Average DynamoDB read requests per steady tick. */
  dynamodbReads: number;
  /** Average DynamoDB write requests per steady tick. */
  dynamodbWrites: number;
  /** Average capacity per steady tick, from item sizes (see counting.ts). */
  readUnits: number;
  writeUnits: number;
  /** Average requests per steady tick, by operation. */
  byOperation: Record<string, number>;
  ticks: number;
  invocations: number;
  monitorsPerInvocation: number;
  heartbeatMinutes: number;
}

const READS = new Set(["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"]);

export async function measureSteadyCycle(options: SteadyCycleOptions): Promise<SteadyCycle> {
  const { doc, tableName, invoke, counter, monitorsPerInvocation } = options;
  const cycleTicks = options.cycleTicks ?? 30;
  const ids = Array.from({ length: monitorsPerInvocation }, (_, i) => `${options.prefix}-${i}`);
  await writeItems(
    doc,
    tableName,
    ids.map((monitorId) => ({
      monitorId,
      record: "config",
      name: `Bench steady ${monitorId}`,
      check: "manual",
      params: { isOk: true },
      schedule: "rate(1 minute)",
      peopleToNotify: [`${monitorId}@example.com`],
      skipSupersededTicks: false,
    })),
  );
  // Minute-aligned, in the past: scheduled times as Scheduler sends them.
  const base = (Math.floor(Date.now() / MINUTE) - 600) * MINUTE;
  const batch = async (minute: number) => {
    const scheduledTime = new Date(base + minute * MINUTE).toISOString();
    const response = await invoke(
      tickEvent(...ids.map((monitorId) => ({ monitorId, scheduledTime }))),
      lambdaContext(),
    );
    if (response.batchItemFailures.length > 0) throw new Error(`steady cycle: minute ${minute} failed`);
  };
  await batch(0);
  counter.reset();
  counter.audit = options.auditClient;
  try {
    for (let minute = 1; minute <= cycleTicks; minute++) await batch(minute);
  } finally {
    counter.audit = undefined;
  }
  if (counter.auditErrors.length > 0)
    throw new Error(`steady cycle audit: ${counter.auditErrors.join("; ")}`);
  const counts = counter.snapshot();
  const ticks = cycleTicks * ids.length;
  const dynamo = Object.entries(counts.byOperation).filter(([op]) => op.startsWith("dynamodb:"));
  const sum = (entries: Array<[string, number]>) => entries.reduce((total, [, n]) => total + n, 0);
  return {
    dynamodbReads: round(sum(dynamo.filter(([op]) => READS.has(op))) / ticks, 4),
    dynamodbWrites: round(sum(dynamo.filter(([op]) => !READS.has(op))) / ticks, 4),
    readUnits: round(counts.readUnits / ticks, 4),
    writeUnits: round(counts.writeUnits / ticks, 4),
    byOperation: Object.fromEntries(dynamo.map(([op, n]) => [op, round(n / ticks, 4)])),
    ticks,
    invocations: cycleTicks,
    monitorsPerInvocation: ids.length,
    heartbeatMinutes: options.heartbeatMinutes,
  };
}

/**
 * `requestsPerTick.steady` of bench/results.json with the cycle's averages: `dynamodbReads` and
 * `dynamodbWrites` (the keys), capacity, and the one-tick-per-invocation variant. The
 * per-tick DynamoDB fields of the entry (requests, operations, units) become the same averages;
 * its SQS, SES, log and timing fields are kept (measured per tick by the scenarios).
 */
export function steadyEntry(
  existing: Record<string, unknown>,
  atBatchSize: SteadyCycle,
  oneTickPerInvocation: SteadyCycle,
) {
  const dynamodb = round(atBatchSize.dynamodbReads + atBatchSize.dynamodbWrites, 4);
  const byOperation = Object.fromEntries(
    Object.entries((existing.byOperation ?? {}) as Record<string, number>).filter(
      ([op]) => !op.startsWith("dynamodb:"),
    ),
  );
  const others =
    typeof existing.total === "number" && typeof existing.dynamodb === "number"
      ? existing.total - existing.dynamodb
      : undefined;
  const handlerOthers =
    typeof existing.handlerRequests === "number" && typeof existing.dynamodb === "number"
      ? existing.handlerRequests - existing.dynamodb
      : undefined;
  return {
    ...existing,
    dynamodb,
    ...(others === undefined ? {} : { total: round(others + dynamodb, 4) }),
    byOperation: { ...atBatchSize.byOperation, ...byOperation },
    ...(handlerOthers === undefined ? {} : { handlerRequests: round(handlerOthers + dynamodb, 4) }),
    readUnits: atBatchSize.readUnits,
    writeUnits: atBatchSize.writeUnits,
    dynamodbReads: atBatchSize.dynamodbReads,
    dynamodbWrites: atBatchSize.dynamodbWrites,
    steadyCycle: {
      method: `DynamoDB figures of this entry: averages over ${atBatchSize.invocations} steady minutes (rate(1 minute), healthy) after each monitor's first tick, heartbeat every ${atBatchSize.heartbeatMinutes} minutes, ${atBatchSize.monitorsPerInvocation} monitors per invocation (the stack's batch size, one tick each); capacity from item sizes (counting.ts)`,
      atBatchSize,
      oneTickPerInvocation,
    },
  };
}
