import type { BucketHeader } from "#core/buckets.ts";
import { clockMinute } from "#core/buckets.ts";
import { type BucketReader, type FanOutReport, fanOut, type TickQueue } from "#core/fan-out.ts";
import type { Logger } from "#core/ports.ts";
import { silentLogger } from "#core/ports.ts";

/** Counters and gauges the fan-out emits; the stack alarms on lag, failures and silence. */
export type FanOutMetric =
  | "ClockInvocations"
  | "TicksEnqueued"
  | "TicksNotEnqueued"
  | "DueBuckets"
  | "FanOutLagSeconds";

export interface FanOutMetrics {
  record(metric: FanOutMetric, value: number): void;
}

/** The clock schedule's input: Scheduler fills in the planned time of the invocation. */
export interface ClockEvent {
  scheduledTime?: string;
}

export interface FanOutDependencies {
  buckets: BucketReader & { forgetEmpty?(header: BucketHeader, seenAt: Date): Promise<boolean> };
  queue: TickQueue;
  logger?: Logger;
  metrics?: FanOutMetrics;
  now?: () => Date;
}

/** Ticks that could not be enqueued: the invocation fails so that Lambda retries it whole. */
export class FanOutIncompleteError extends Error {
  override name = "FanOutIncompleteError";
}

export type FanOutHandler = (event: ClockEvent) => Promise<FanOutReport>;

export function createFanOutHandler(dependencies: FanOutDependencies): FanOutHandler {
  const logger = dependencies.logger ?? silentLogger;
  const now = dependencies.now ?? (() => new Date());
  const metrics = dependencies.metrics ?? { record() {} };
  return async (event) => {
    const minute = clockMinute(
      typeof event?.scheduledTime === "string" ? event.scheduledTime : undefined,
      now(),
    );
    // Counted before any work: the clock-missing alarm watches the clock, not whether anything was due.
    metrics.record("ClockInvocations", 1);
    const report = await fanOut({ reader: dependencies.buckets, queue: dependencies.queue, minute, logger });
    const lagSeconds = Math.max(0, (now().getTime() - minute.getTime()) / 1000);
    metrics.record("TicksEnqueued", report.enqueued);
    metrics.record("TicksNotEnqueued", report.failed.length);
    metrics.record("DueBuckets", report.dueBuckets);
    metrics.record("FanOutLagSeconds", lagSeconds);
    logger.info("fan-out done", {
      scheduledTime: report.scheduledTime,
      buckets: report.buckets,
      dueBuckets: report.dueBuckets,
      partitionsRead: report.partitionsRead,
      enqueued: report.enqueued,
      failed: report.failed.length,
      lagSeconds,
    });
    for (const header of report.emptyDueBuckets) {
      // A sweep, not a duty: a header that stays is only a few empty reads when due.
      try {
        if (await dependencies.buckets.forgetEmpty?.(header, minute)) {
          logger.info("empty bucket removed", { bucket: header.key });
        }
      } catch (error) {
        logger.warn("empty bucket not removed", { bucket: header.key, error: (error as Error).message });
      }
    }
    if (report.failed.length > 0) {
      throw new FanOutIncompleteError(
        `${report.failed.length} of ${report.failed.length + report.enqueued} ticks for ${report.scheduledTime} were not enqueued (first: ${report.failed.slice(0, 5).join(", ")}); the retry re-sends them all and the queue drops the duplicates`,
      );
    }
    return report;
  };
}
