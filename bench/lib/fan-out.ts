import { performance } from "node:perf_hooks";
import { BatchWriteItemCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDbBuckets } from "#adapters/dynamodb-buckets.ts";
import { createDocumentClient } from "#adapters/dynamodb-store.ts";
import { SqsTickQueue } from "#adapters/sqs-ticks.ts";
import {
  BUCKET_ATTRIBUTE,
  BUCKET_RECORD_PREFIX,
  BUCKETS_PARTITION,
  placementOf,
  SCHEDULE_RECORD,
} from "#core/buckets.ts";
import { type BucketReader, fanOut, TICK_BATCH_SIZE, type TickQueue } from "#core/fan-out.ts";
import { round, sig } from "./stats.ts";

/**
 * Fan-out throughput (engine v2): N `rate(1 minute)` members in DynamoDB Local (the sparse index
 * included), one clock minute enqueued into a fauxqs FIFO queue by the real fan-out use case and
 * adapters. Per-call latencies are recorded, and feed the model of 100,000 members in AWS.
 */

/** Assumed in-region latencies in AWS (p50-ish; the model takes the slower of these and local). */
export const AWS_CALL_MS = { queryPage: 25, sendMessageBatch: 20 } as const;

export interface FanOutMeasurement {
  members: number;
  seconds: number;
  monitorsPerSecondLocal: number;
  queryPages: number;
  membersPerPage: number;
  queryPageMs: number;
  sendBatches: number;
  sendBatchMs: number;
  readConcurrency: number;
  sendConcurrency: number;
  modelledSecondsFor100k: number;
  model: string;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

export async function measureFanOut(input: {
  dynamo: DynamoDBClient;
  sqs: SQSClient;
  tableName: string;
  queueUrl: string;
  members: number;
  say: (line: string) => void;
}): Promise<FanOutMeasurement> {
  const { dynamo, sqs, tableName, queueUrl, members, say } = input;
  say(`fan-out: writing ${members} rate(1 minute) members`);
  const definitions = Array.from({ length: members }, (_, index) => ({
    monitorId: `fan-${String(index).padStart(6, "0")}`,
    expression: "rate(1 minute)",
    timezone: "UTC",
    enabled: true,
  }));
  const header = placementOf(
    definitions[0] ?? { monitorId: "x", expression: "rate(1 minute)", timezone: "UTC", enabled: true },
  ).header;
  const items = [
    {
      monitorId: { S: BUCKETS_PARTITION },
      record: { S: `${BUCKET_RECORD_PREFIX}${header.key}` },
      kind: { S: "rate" },
      periodMinutes: { N: "1" },
      touchedAt: { S: new Date().toISOString() },
    },
    ...definitions.map((definition) => ({
      monitorId: { S: definition.monitorId },
      record: { S: SCHEDULE_RECORD },
      expression: { S: definition.expression },
      timezone: { S: definition.timezone },
      enabled: { BOOL: true },
      [BUCKET_ATTRIBUTE]: { S: placementOf(definition).partition },
    })),
  ];
  for (let start = 0; start < items.length; start += 25) {
    let unprocessed: Record<string, unknown>[] | undefined = items
      .slice(start, start + 25)
      .map((Item) => ({ PutRequest: { Item } }));
    while (unprocessed && unprocessed.length > 0) {
      const result = await dynamo.send(
        new BatchWriteItemCommand({ RequestItems: { [tableName]: unprocessed as never } }),
      );
      unprocessed = result.UnprocessedItems?.[tableName] as Record<string, unknown>[] | undefined;
    }
  }

  const buckets = new DynamoDbBuckets({ tableName, client: createDocumentClient(dynamo) });
  const pageMs: number[] = [];
  const pageSizes: number[] = [];
  const reader: BucketReader = {
    headers: () => buckets.headers(),
    async *members(partition) {
      const iterator = buckets.members(partition)[Symbol.asyncIterator]();
      for (;;) {
        const started = performance.now();
        const next = await iterator.next();
        pageMs.push(performance.now() - started);
        if (next.done) return;
        pageSizes.push(next.value.length);
        yield next.value;
      }
    },
  };
  const sendMs: number[] = [];
  const real = new SqsTickQueue(queueUrl, sqs);
  const queue: TickQueue = {
    async sendBatch(ticks) {
      const started = performance.now();
      try {
        return await real.sendBatch(ticks);
      } finally {
        sendMs.push(performance.now() - started);
      }
    },
  };
  const readConcurrency = 16;
  const sendConcurrency = 32;
  say(`fan-out: one minute of ${members} members`);
  const started = performance.now();
  const report = await fanOut({
    reader,
    queue,
    minute: new Date(Date.UTC(2036, 0, 1, 0, 0)),
    readConcurrency,
    sendConcurrency,
  });
  const seconds = (performance.now() - started) / 1000;
  if (report.enqueued !== members || report.failed.length > 0) {
    throw new Error(`fan-out enqueued ${report.enqueued} of ${members} (${report.failed.length} failed)`);
  }
  const membersPerPage = pageSizes.length > 0 ? Math.max(...pageSizes) : members;
  // The model: 100,000 members in 8 shards read in parallel (pages per shard in sequence), sends
  // overlapping the reads, 32 in flight; each call at the slower of the local median and AWS's.
  const queryPageMs = Math.max(median(pageMs), AWS_CALL_MS.queryPage);
  const sendBatchMs = Math.max(median(sendMs), AWS_CALL_MS.sendMessageBatch);
  const target = 100_000;
  const pagesPerShard = Math.ceil(target / 8 / Math.max(1, membersPerPage));
  const readSeconds = (pagesPerShard * queryPageMs) / 1000;
  const sendSeconds = (Math.ceil(target / TICK_BATCH_SIZE / sendConcurrency) * sendBatchMs) / 1000;
  const modelledSecondsFor100k = round(Math.max(readSeconds, sendSeconds) + queryPageMs / 1000, 2);
  return {
    members,
    seconds: round(seconds, 2),
    monitorsPerSecondLocal: Math.round(members / seconds),
    queryPages: pageSizes.length,
    membersPerPage,
    queryPageMs: sig(median(pageMs), 3),
    sendBatches: sendMs.length,
    sendBatchMs: sig(median(sendMs), 3),
    readConcurrency,
    sendConcurrency,
    modelledSecondsFor100k,
    model: `max(read, send) + one page: read = ceil(100000 / 8 shards / ${membersPerPage} per page) pages x ${round(queryPageMs, 1)} ms; send = ceil(10000 batches / ${sendConcurrency} in flight) x ${round(sendBatchMs, 1)} ms; per-call ms = max(local median, AWS assumption ${JSON.stringify(AWS_CALL_MS)})`,
  };
}
