import { type BucketHeader, duePartitions } from "./buckets.ts";
import type { Logger } from "./ports.ts";
import { silentLogger } from "./ports.ts";

/**
 * The fan-out use case (engine v2): one clock invocation per minute finds the buckets due in that
 * minute and enqueues one tick per member. The tick is exactly DESIGN.md §3's: a tick is still per
 * monitor, ordered per monitor (FIFO group = monitorId), and `scheduledTime` is the logical clock.
 *
 * Idempotent by construction: a tick's body is a function of (monitorId, scheduledTime) alone and
 * the ticks queue deduplicates by content, so a retried invocation (Lambda's async retries, the
 * clock's own retries) re-sends the same bodies and SQS drops them.
 */

/** Reads bucket headers and members (DynamoDB in AWS: header items plus a sparse index). */
export interface BucketReader {
  /** Every bucket header. */
  headers(): Promise<BucketHeader[]>;
  /** The monitor ids in one index partition, page by page. */
  members(partition: string): AsyncIterable<string[]>;
}

/** Sends ticks to the ticks queue; at most TICK_BATCH_SIZE per call (SendMessageBatch). */
export interface TickQueue {
  /** Resolves with the monitor ids whose tick was not accepted (to be retried). */
  sendBatch(ticks: ReadonlyArray<{ monitorId: string; body: string }>): Promise<string[]>;
}

/** SQS's SendMessageBatch limit. */
export const TICK_BATCH_SIZE = 10;

/** The tick body; byte for byte what the per-monitor schedules sent, so content dedup matches. */
export function scheduledTickBody(monitorId: string, scheduledTime: string): string {
  return JSON.stringify({ monitorId, scheduledTime });
}

/** `<aws.scheduler.scheduled-time>` renders instants to the second, in UTC, with a `Z`. */
export function schedulerTime(instant: Date): string {
  return instant.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export interface FanOutOptions {
  reader: BucketReader;
  queue: TickQueue;
  /** The clock's planned minute. */
  minute: Date;
  logger?: Logger;
  /** Index partitions read at once. @default 16 */
  readConcurrency?: number;
  /** SendMessageBatch requests in flight at once. @default 32 */
  sendConcurrency?: number;
  /** Attempts per batch before its failed entries are reported. @default 4 */
  sendAttempts?: number;
  /** Waits between attempts (tests pass a no-op). @default exponential from 100 ms */
  backoff?: (attempt: number) => Promise<void>;
}

export interface FanOutReport {
  scheduledTime: string;
  buckets: number;
  dueBuckets: number;
  partitionsRead: number;
  enqueued: number;
  /** Monitors whose tick could not be enqueued after every attempt. */
  failed: string[];
  /**
   * Cron buckets whose every partition was empty (their members all left). Never a rate bucket:
   * a minute reads one phase of it, so an empty phase says nothing of the others.
   */
  emptyDueBuckets: BucketHeader[];
}

/** Runs `work` over `items` with at most `limit` running at once. */
export async function forEachLimited<T>(
  items: Iterable<T>,
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const iterator = items[Symbol.iterator]();
  const runners = Array.from({ length: Math.max(1, limit) }, async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) await work(next.value);
  });
  await Promise.all(runners);
}

/** A counting semaphore: bounds the SendMessageBatch requests in flight across partitions. */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];
  constructor(size: number) {
    this.#free = size;
  }
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

const defaultBackoff = (attempt: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, 100 * 2 ** (attempt - 1)));

export async function fanOut(options: FanOutOptions): Promise<FanOutReport> {
  const logger = options.logger ?? silentLogger;
  const scheduledTime = schedulerTime(options.minute);
  const attempts = options.sendAttempts ?? 4;
  const backoff = options.backoff ?? defaultBackoff;
  const slots = new Slots(options.sendConcurrency ?? 32);
  const headers = await options.reader.headers();
  const due = headers
    .map((header) => ({ header, partitions: duePartitions(header, options.minute) }))
    .filter((bucket) => bucket.partitions.length > 0);

  const report: FanOutReport = {
    scheduledTime,
    buckets: headers.length,
    dueBuckets: due.length,
    partitionsRead: 0,
    enqueued: 0,
    failed: [],
    emptyDueBuckets: [],
  };
  const membersOf = new Map<BucketHeader, number>();

  const send = async (monitorIds: string[]) => {
    let pending = monitorIds.map((monitorId) => ({
      monitorId,
      body: scheduledTickBody(monitorId, scheduledTime),
    }));
    for (let attempt = 1; pending.length > 0; attempt++) {
      const batch = pending;
      const failed = new Set(
        await slots
          .run(() => options.queue.sendBatch(batch))
          .catch((error: Error) => {
            logger.warn("tick batch failed", { scheduledTime, attempt, error: error.message });
            return batch.map((tick) => tick.monitorId);
          }),
      );
      report.enqueued += batch.length - failed.size;
      pending = batch.filter((tick) => failed.has(tick.monitorId));
      if (pending.length > 0 && attempt >= attempts) {
        report.failed.push(...pending.map((tick) => tick.monitorId));
        return;
      }
      if (pending.length > 0) await backoff(attempt);
    }
  };

  // Members of every partition share one buffer, so batches leave full (10 ticks) whatever the
  // shards hold: SendMessageBatch is billed per request.
  let buffer: string[] = [];
  const sends: Promise<void>[] = [];
  const flush = () => {
    if (buffer.length > 0) sends.push(send(buffer));
    buffer = [];
  };
  const work = due.flatMap(({ header, partitions }) =>
    partitions.map((partition) => ({ header, partition })),
  );
  await forEachLimited(work, options.readConcurrency ?? 16, async ({ header, partition }) => {
    for await (const page of options.reader.members(partition)) {
      membersOf.set(header, (membersOf.get(header) ?? 0) + page.length);
      for (const monitorId of page) {
        buffer.push(monitorId);
        if (buffer.length === TICK_BATCH_SIZE) flush();
      }
    }
    report.partitionsRead++;
  });
  flush();
  await Promise.all(sends);
  for (const { header } of due) {
    if (header.kind === "cron" && !membersOf.get(header)) report.emptyDueBuckets.push(header);
  }
  return report;
}
