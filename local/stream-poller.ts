import type { AttributeValue as SdkAttributeValue } from "@aws-sdk/client-dynamodb";
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type _Record as SdkRecord,
  type Shard,
  type ShardIteratorType,
  TrimmedDataAccessException,
} from "@aws-sdk/client-dynamodb-streams";
import type { AttributeValue, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import type { Logger } from "#core/ports.ts";
import { silentLogger } from "#core/ports.ts";
import { sleep } from "./sleep.ts";

/**
 * The Lambda DynamoDB Streams event source mapping, for the local runtime: reads every shard of
 * the table's stream in order (parents before children), turns records into the DynamoDBRecords
 * Lambda delivers, drops the ones the mapping's filter rejects, invokes the function and, on
 * `batchItemFailures` or an error, retries from the first failed record before moving on.
 */

export type StreamFilter = (record: DynamoDBRecord) => boolean;

/** The filter of the CDK event source mapping: `{ dynamodb: { Keys: { record: { S: ["config"] } } } }`. */
export const configRecordsOnly: StreamFilter = (record) => record.dynamodb?.Keys?.record?.S === "config";

export interface StreamPollerOptions {
  client: DynamoDBStreamsClient;
  streamArn: string;
  region: string;
  invoke: (event: DynamoDBStreamEvent) => Promise<unknown>;
  /** @default accepts everything */
  filter?: StreamFilter;
  /** Where reading starts in the shards open at start; shards created later are read from their start. @default "TRIM_HORIZON" */
  startingPosition?: "TRIM_HORIZON" | "LATEST";
  /** @default 100 */
  batchSize?: number;
  /** Delay between polls of an idle stream; Lambda polls each shard four times a second. @default 250 */
  pollIntervalMs?: number;
  /** Retries of a failing batch before its records are skipped (AWS: the mapping's retryAttempts). @default 10 */
  maxRetries?: number;
  logger?: Logger;
}

interface ShardState {
  shardId: string;
  parentShardId: string | undefined;
  iterator: string | undefined;
  /** Last sequence number handed to the function (or filtered out): where a new iterator resumes. */
  checkpoint: string | undefined;
  closed: boolean;
}

const DESCRIBE_EVERY_MS = 5_000;

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

/** The SDK's attribute value (binary as bytes) as it appears in a Lambda event (binary as base64). */
export function toLambdaAttribute(value: SdkAttributeValue): AttributeValue {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  if (value.NULL !== undefined) return { NULL: value.NULL };
  if (value.B !== undefined) return { B: toBase64(value.B) };
  if (value.SS !== undefined) return { SS: value.SS };
  if (value.NS !== undefined) return { NS: value.NS };
  if (value.BS !== undefined) return { BS: value.BS.map(toBase64) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaAttribute) };
  if (value.M !== undefined) return { M: toLambdaImage(value.M) };
  throw new Error(`unsupported attribute value: ${JSON.stringify(value)}`);
}

export function toLambdaImage(image: Record<string, SdkAttributeValue>): Record<string, AttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, toLambdaAttribute(value)]));
}

/** The DynamoDBRecord Lambda builds from a stream record. */
export function toDynamoDbRecord(record: SdkRecord, streamArn: string, region: string): DynamoDBRecord {
  const stream = record.dynamodb ?? {};
  const converted: DynamoDBRecord = {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion ?? "1.1",
    eventSource: "aws:dynamodb",
    awsRegion: record.awsRegion ?? region,
    dynamodb: {
      // Lambda delivers epoch seconds, the SDK parses them into a Date.
      ...(stream.ApproximateCreationDateTime
        ? { ApproximateCreationDateTime: Math.floor(stream.ApproximateCreationDateTime.getTime() / 1000) }
        : {}),
      ...(stream.Keys ? { Keys: toLambdaImage(stream.Keys) } : {}),
      ...(stream.NewImage ? { NewImage: toLambdaImage(stream.NewImage) } : {}),
      ...(stream.OldImage ? { OldImage: toLambdaImage(stream.OldImage) } : {}),
      SequenceNumber: stream.SequenceNumber,
      SizeBytes: stream.SizeBytes,
      StreamViewType: stream.StreamViewType,
    },
    eventSourceARN: streamArn,
  };
  // TTL deletions carry the service as their identity; filters and handlers may look at it.
  if (record.userIdentity) converted.userIdentity = { ...record.userIdentity };
  return converted;
}

/**
 * The index of the first record to retry, or undefined when the whole batch succeeded. Like
 * Lambda, a response naming an unknown or empty identifier fails the whole batch.
 */
export function firstFailure(response: unknown, records: readonly DynamoDBRecord[]): number | undefined {
  const failures = (response as { batchItemFailures?: unknown } | null | undefined)?.batchItemFailures;
  if (failures === undefined || failures === null) return undefined;
  if (!Array.isArray(failures)) return 0;
  let first: number | undefined;
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    const index = records.findIndex((record) => record.dynamodb?.SequenceNumber === id);
    if (typeof id !== "string" || index < 0) return 0;
    first = first === undefined ? index : Math.min(first, index);
  }
  return first;
}

export class StreamPoller {
  readonly #options: StreamPollerOptions;
  readonly #logger: Logger;
  readonly #shards = new Map<string, ShardState>();
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #lastDescribe = 0;
  /** Resolvers waiting for the stream to be drained (tests, start-up). */
  #idleWaiters: Array<() => void> = [];

  constructor(options: StreamPollerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Positions the iterators, then polls in the background. Resolves once positioned. */
  async start(): Promise<void> {
    if (this.#loop) return;
    await this.#describe(this.#options.startingPosition ?? "TRIM_HORIZON");
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  /** Resolves the next time every shard has been read to its current end. */
  drained(): Promise<void> {
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      let busy = false;
      try {
        if (Date.now() - this.#lastDescribe > DESCRIBE_EVERY_MS) await this.#describe("TRIM_HORIZON");
        for (const shard of this.#readableShards()) {
          if (signal.aborted) return;
          busy = (await this.#poll(shard)) || busy;
        }
      } catch (error) {
        if (signal.aborted) return;
        this.#logger.warn("stream poll failed; retrying", { error: String(error) });
      }
      if (!busy) {
        for (const resolve of this.#idleWaiters.splice(0)) resolve();
        await sleep(this.#options.pollIntervalMs ?? 250, signal);
      }
    }
  }

  /** Open shards whose parent is fully read (or unknown: trimmed away). */
  #readableShards(): ShardState[] {
    return [...this.#shards.values()].filter((shard) => {
      if (shard.closed) return false;
      const parent = shard.parentShardId ? this.#shards.get(shard.parentShardId) : undefined;
      return parent === undefined || parent.closed;
    });
  }

  /** Learns about new shards; those seen at start get `position`, later ones are read from their start. */
  async #describe(position: ShardIteratorType): Promise<void> {
    this.#lastDescribe = Date.now();
    const shards: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const page = await this.#options.client.send(
        new DescribeStreamCommand({
          StreamArn: this.#options.streamArn,
          ...(exclusiveStartShardId ? { ExclusiveStartShardId: exclusiveStartShardId } : {}),
        }),
      );
      shards.push(...(page.StreamDescription?.Shards ?? []));
      exclusiveStartShardId = page.StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    for (const shard of shards) {
      if (!shard.ShardId || this.#shards.has(shard.ShardId)) continue;
      this.#shards.set(shard.ShardId, {
        shardId: shard.ShardId,
        parentShardId: shard.ParentShardId,
        iterator: await this.#iterator(shard.ShardId, position),
        checkpoint: undefined,
        closed: false,
      });
    }
  }

  async #iterator(shardId: string, type: ShardIteratorType, after?: string): Promise<string | undefined> {
    const response = await this.#options.client.send(
      new GetShardIteratorCommand({
        StreamArn: this.#options.streamArn,
        ShardId: shardId,
        ShardIteratorType: after ? "AFTER_SEQUENCE_NUMBER" : type,
        ...(after ? { SequenceNumber: after } : {}),
      }),
    );
    return response.ShardIterator;
  }

  /** Reads one batch of a shard and delivers it. True when records were read. */
  async #poll(shard: ShardState): Promise<boolean> {
    if (!shard.iterator) {
      shard.iterator = await this.#iterator(shard.shardId, "TRIM_HORIZON", shard.checkpoint);
      if (!shard.iterator) {
        shard.closed = true;
        return false;
      }
    }
    let response: GetRecordsCommandOutput;
    try {
      response = await this.#getRecords(shard.iterator);
    } catch (error) {
      if (error instanceof ExpiredIteratorException || error instanceof TrimmedDataAccessException) {
        // Resume after the checkpoint (or from the oldest record still retained).
        shard.iterator = undefined;
        return true;
      }
      throw error;
    }
    const records = response.Records ?? [];
    if (records.length > 0) await this.#deliver(shard, records);
    shard.iterator = response.NextShardIterator;
    // No next iterator: the shard is closed and fully read; its children may start.
    if (!shard.iterator) shard.closed = true;
    return records.length > 0 || shard.closed;
  }

  #getRecords(iterator: string) {
    return this.#options.client.send(
      new GetRecordsCommand({ ShardIterator: iterator, Limit: this.#options.batchSize ?? 100 }),
      { abortSignal: this.#abort.signal },
    );
  }

  async #deliver(shard: ShardState, sdkRecords: SdkRecord[]): Promise<void> {
    const { streamArn, region, filter } = this.#options;
    let pending = sdkRecords
      .map((record) => toDynamoDbRecord(record, streamArn, region))
      .filter((record) => filter?.(record) ?? true);
    const maxRetries = this.#options.maxRetries ?? 10;
    for (let attempt = 0; pending.length > 0; attempt++) {
      let failedAt: number | undefined;
      try {
        failedAt = firstFailure(await this.#options.invoke({ Records: pending }), pending);
      } catch (error) {
        failedAt = 0;
        this.#logger.error("stream function error", { error: String(error) });
      }
      if (failedAt === undefined) break;
      if (attempt >= maxRetries || this.#abort.signal.aborted) {
        this.#logger.error("stream records skipped after the last retry", {
          sequenceNumbers: pending.slice(failedAt).map((record) => record.dynamodb?.SequenceNumber),
        });
        break;
      }
      pending = pending.slice(failedAt);
      this.#logger.warn("retrying stream records from the first failure", {
        sequenceNumber: pending[0]?.dynamodb?.SequenceNumber,
        attempt: attempt + 1,
      });
      await sleep(Math.min(200 * 2 ** attempt, 5_000), this.#abort.signal);
    }
    shard.checkpoint = sdkRecords.at(-1)?.dynamodb?.SequenceNumber ?? shard.checkpoint;
  }
}
