import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SESv2Client } from "@aws-sdk/client-sesv2";
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import {
  BatchGetCommand,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { failedMessageIds, toSqsRecord } from "#local/sqs-poller.ts";
import { lambdaContext } from "../../test/support/sqs-event.ts";
import type { RequestCounter } from "./counting.ts";

/**
 * The pipeline under test: ticks enqueued through fauxqs (SendMessageBatch, MessageGroupId =
 * monitorId), received by several pollers in batches as Lambda's event source mapping does, handed
 * to a function as Lambda-shaped SQS events, successes deleted. The same pollers either invoke the
 * real orchestrator ("pipeline") or do only what a tick cannot avoid ("floor").
 */

export type Invoke = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

/**
 * Lambda runs one invocation per execution environment at a time, and the handler keeps per-batch
 * state (the batch processor): each concurrent invocation gets its own handler instance.
 */
export class EnvironmentPool {
  readonly #idle: Invoke[] = [];
  #created = 0;
  constructor(private readonly create: () => Invoke) {}
  get size(): number {
    return this.#created;
  }
  async run(event: SQSEvent, context: Context): Promise<SQSBatchResponse | undefined> {
    const invoke =
      this.#idle.pop() ??
      (() => {
        this.#created++;
        return this.create();
      })();
    try {
      return await invoke(event, context);
    } finally {
      this.#idle.push(invoke);
    }
  }
}

export interface MonitorPlan {
  monitorId: string;
  kind: "healthy" | "failing" | "flapping";
  item: Record<string, unknown>;
}

/** Flapping: fail, then OK three times, rotated per monitor so that alerts spread over rounds. */
const FLAP_SEQUENCE = [false, true, true, true];

export function planMonitors(
  count: number,
  failingShare: number,
  flappingShare: number,
  prefix: string,
): MonitorPlan[] {
  const failing = Math.round(count * failingShare);
  const flapping = Math.round(count * flappingShare);
  return Array.from({ length: count }, (_, index) => {
    const monitorId = `${prefix}-${String(index).padStart(5, "0")}`;
    const kind: MonitorPlan["kind"] =
      index < failing ? "failing" : index < failing + flapping ? "flapping" : "healthy";
    const rotation = index % FLAP_SEQUENCE.length;
    const params =
      kind === "flapping"
        ? {
            sequence: [...FLAP_SEQUENCE.slice(rotation), ...FLAP_SEQUENCE.slice(0, rotation)],
            sequenceStepMinutes: 1,
          }
        : { isOk: kind === "healthy" };
    return {
      monitorId,
      kind,
      item: {
        monitorId,
        record: "config",
        name: `Bench ${kind} monitor ${index}`,
        check: "manual",
        params,
        schedule: "rate(1 minute)",
        timezone: "America/Chicago",
        peopleToNotify: [`oncall-${index}@example.com`],
        requiredConsecutiveOks: 2,
        reminderFrequencyMinutes: 60,
        // The bench sends synthetic, past scheduled times.
        skipSupersededTicks: false,
      },
    };
  });
}

export async function writeItems(
  doc: DynamoDBDocumentClient,
  tableName: string,
  items: Record<string, unknown>[],
) {
  const chunks: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) chunks.push(items.slice(i, i + 25));
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++] as Record<string, unknown>[];
      let pending: unknown[] = chunk.map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 10) throw new Error("seeding: items stayed unprocessed");
        const result = await doc.send(
          new BatchWriteCommand({ RequestItems: { [tableName]: pending as never } }),
        );
        pending = result.UnprocessedItems?.[tableName] ?? [];
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

export interface PipelineContext {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  memoryMb: number;
  /** Counts the pollers' and producer's SQS requests. */
  pollerCounter: RequestCounter;
}

export interface RoundOptions {
  concurrency: number;
  receiveBatchSize: number;
  lambdaBatchSize: number;
}

export interface RoundResult {
  mode: string;
  ticks: number;
  seconds: number;
  ticksPerSecond: number;
  latenciesMs: number[];
  failedRecords: number;
  invocations: number;
  sqs: { sends: number; receives: number; deletes: number };
}

function chunk<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * One round: `ticks` enqueued at once (a schedule firing for every monitor at the same instant)
 * while the pollers drain the queue. Ends when every tick has been processed and deleted.
 */
export async function runRound(
  ctx: PipelineContext,
  mode: string,
  ticks: Array<{ monitorId: string; scheduledTime: string }>,
  invoke: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>,
  options: RoundOptions,
  timeoutMs = 240_000,
): Promise<RoundResult> {
  const before = ctx.pollerCounter.snapshot().byOperation;
  const enqueuedAt = new Map<string, number>();
  const latencies: number[] = [];
  let processed = 0;
  let failedRecords = 0;
  let invocations = 0;
  // Pollers are never aborted mid-poll: fauxqs would still hand messages to an abandoned long
  // poll, and they would stay invisible for the visibility timeout.
  let stopping = false;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const started = performance.now();
  let lastProcessed = started;

  const handle = async (messages: Message[]) => {
    const records = messages.map((message) => toSqsRecord(message, ctx.queueArn, ctx.region));
    const succeeded: SQSRecord[] = [];
    // Lambda invokes one batch per message group at a time; our ticks all have distinct groups,
    // so the batches of one receive run in parallel, records within a batch in order.
    await Promise.all(
      chunk(records, options.lambdaBatchSize).map(async (batch) => {
        invocations++;
        let failed: string[];
        try {
          const response = await invoke(
            { Records: batch },
            { ...lambdaContext(), memoryLimitInMB: String(ctx.memoryMb) },
          );
          failed = failedMessageIds(response, batch);
        } catch {
          failed = batch.map((record) => record.messageId);
        }
        const now = performance.now();
        for (const record of batch) {
          if (failed.includes(record.messageId)) {
            failedRecords++;
            continue;
          }
          succeeded.push(record);
          const sent = enqueuedAt.get(record.body);
          if (sent !== undefined) latencies.push(now - sent);
        }
      }),
    );
    if (succeeded.length > 0) {
      await ctx.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: ctx.queueUrl,
          Entries: succeeded.map((record, index) => ({
            Id: String(index),
            ReceiptHandle: record.receiptHandle,
          })),
        }),
      );
      processed += succeeded.length;
      lastProcessed = performance.now();
      if (processed >= ticks.length) finish();
    }
  };

  const poller = async () => {
    while (!stopping) {
      const received = await ctx.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: ctx.queueUrl,
          MaxNumberOfMessages: options.receiveBatchSize,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ["All"],
        }),
      );
      const messages = received.Messages ?? [];
      if (messages.length > 0) await handle(messages);
    }
  };

  const producer = async () => {
    const batches = chunk(ticks, 10);
    let next = 0;
    const sender = async () => {
      while (next < batches.length) {
        const batch = batches[next++] as typeof ticks;
        const bodies = batch.map((tick) => JSON.stringify(tick));
        const now = performance.now();
        for (const body of bodies) enqueuedAt.set(body, now);
        await ctx.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: ctx.queueUrl,
            Entries: batch.map((tick, index) => ({
              Id: String(index),
              MessageBody: bodies[index] as string,
              MessageGroupId: tick.monitorId,
            })),
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: 4 }, sender));
  };

  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      timedOut = true;
      resolve();
    }, timeoutMs);
  });
  const pollersDone = Promise.all(Array.from({ length: options.concurrency }, poller));
  await producer();
  await Promise.race([done, timeout]);
  stopping = true;
  clearTimeout(timer);
  await pollersDone;
  if (timedOut)
    throw new Error(`${mode} round timed out after ${timeoutMs} ms: ${processed}/${ticks.length} processed`);
  const seconds = (lastProcessed - started) / 1000;
  const after = ctx.pollerCounter.snapshot().byOperation;
  const delta = (op: string) => (after[`sqs:${op}`] ?? 0) - (before[`sqs:${op}`] ?? 0);
  return {
    mode,
    ticks: ticks.length,
    seconds,
    ticksPerSecond: ticks.length / seconds,
    latenciesMs: latencies,
    failedRecords,
    invocations,
    sqs: {
      sends: delta("SendMessageBatch"),
      receives: delta("ReceiveMessage"),
      deletes: delta("DeleteMessageBatch"),
    },
  };
}

/**
 * The floor: what any implementation must do per tick, on the same table and through the same
 * pollers: one strongly consistent BatchGetItem of config + state, one PutItem of the state
 * conditional on the version read. No check, no validation, no history, no logging, no metrics.
 * `withHistory` writes state + run# item in one TransactWriteItems instead, as the orchestrator
 * does: the difference between the two floors is the price of the transaction, not of our code.
 */
export function floorInvoke(doc: DynamoDBDocumentClient, tableName: string, withHistory = false) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
    for (const record of event.Records) {
      try {
        const { monitorId, scheduledTime } = JSON.parse(record.body) as {
          monitorId: string;
          scheduledTime: string;
        };
        const read = await doc.send(
          new BatchGetCommand({
            RequestItems: {
              [tableName]: {
                Keys: [
                  { monitorId, record: "config" },
                  { monitorId, record: "state" },
                ],
                ConsistentRead: true,
              },
            },
          }),
        );
        const items = read.Responses?.[tableName] ?? [];
        const state = items.find((item) => item.record === "state");
        const version = typeof state?.version === "number" ? state.version : undefined;
        const put = {
          TableName: tableName,
          Item: {
            monitorId,
            record: "state",
            state: "ok",
            consecutiveOkCount: 0,
            lastRunDt: scheduledTime,
            lastResultOk: true,
            lastResultMessage: "Manual check is OK",
            lastTickTime: scheduledTime,
            version: (version ?? 0) + 1,
          },
          ...(version === undefined
            ? { ConditionExpression: "attribute_not_exists(monitorId)" }
            : { ConditionExpression: "version = :v", ExpressionAttributeValues: { ":v": version } }),
        };
        if (withHistory) {
          // The same two requests as the orchestrator's steady tick: state + run# in a transaction.
          const run = {
            monitorId,
            record: `run#${scheduledTime}`,
            scheduledTime,
            isOk: true,
            message: "Manual check is OK",
          };
          await doc.send(
            new TransactWriteCommand({
              TransactItems: [{ Put: put }, { Put: { TableName: tableName, Item: run } }],
            }),
          );
        } else {
          await doc.send(new PutCommand(put));
        }
      } catch {
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  };
}

export function localClients(
  endpoints: { dynamodb: string; sqs: string; ses: string },
  region: string,
  credentials: {
    accessKeyId: string;
    secretAccessKey: string;
  },
) {
  return {
    dynamo: () => new DynamoDBClient({ endpoint: endpoints.dynamodb, region, credentials }),
    sqs: () => new SQSClient({ endpoint: endpoints.sqs, region, credentials }),
    ses: (maxAttempts = 4) => new SESv2Client({ endpoint: endpoints.ses, region, credentials, maxAttempts }),
  };
}
