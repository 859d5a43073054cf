import { createHash } from "node:crypto";
import type { ScheduleDefinition } from "./ports.ts";
import { nextRun, parseSchedule, type ScheduleExpression } from "./schedule.ts";
import { RESERVED_ID_PREFIX } from "./schemas.ts";

/**
 * Schedules by bucket (engine v2, DESIGN.md §8). Every monitor used to own an EventBridge Scheduler
 * schedule; now one clock schedule fires every minute and a fan-out function enqueues the ticks of
 * the monitors due in that minute. A monitor's schedule is a *member* item that places it in a
 * bucket:
 * - `cron(...)` monitors sharing an expression and a timezone share a bucket, due when the
 *   expression matches the minute in that timezone (the same engine as the local scheduler, which
 *   implements Scheduler's own rules, DST included);
 * - `rate(...)` monitors share one bucket per period, each at a stable phase (a hash of its id, or
 *   the phase its old per-monitor schedule had), so that monitors of one period spread over it.
 *
 * Members are found through a sparse index keyed by `<bucket>#<phase>#<shard>`: the shard spreads a
 * huge bucket over several index partitions, read in parallel. This module is pure: keys, phases
 * and which partitions are due in a minute.
 */

/** Index partitions per bucket (and per rate phase): read in parallel by the fan-out. */
export const BUCKET_SHARDS = 8;

/** `monitorId` of the bucket header items (reserved prefix: no monitor can take it). */
export const BUCKETS_PARTITION = `${RESERVED_ID_PREFIX}buckets`;

/** `record` of a monitor's member item (its schedule), beside `config` and `state`. */
export const SCHEDULE_RECORD = "schedule";

/** `record` prefix of a bucket header item. */
export const BUCKET_RECORD_PREFIX = "bucket#";

/**
 * The sparse index attribute of member items; absent on a paused monitor's member. Prefixed: a
 * key attribute of an index must be a string on every item, and a config item's own attributes
 * (DESIGN.md §2: unknown ones are ignored) must never collide with it.
 */
export const BUCKET_ATTRIBUTE = "wkBucket";

/** Name of the global secondary index over BUCKET_ATTRIBUTE. */
export const BUCKET_INDEX = "ByBucket";

/** Name of the one schedule that drives the fan-out (reserved prefix, as the heartbeat's). */
export const CLOCK_SCHEDULE_NAME = `${RESERVED_ID_PREFIX}watchkeeper-clock`;
/** Every minute, in UTC: the finest grain Scheduler offers, and every bucket's time base. */
export const CLOCK_SCHEDULE_EXPRESSION = "cron(* * * * ? *)";

const MINUTE_MS = 60_000;

/** What the fan-out needs to know of a bucket to decide whether it is due. */
export type BucketHeader =
  | { kind: "cron"; key: string; expression: string; timezone: string }
  | { kind: "rate"; key: string; periodMinutes: number };

/** Where one monitor's schedule sits. */
export interface Placement {
  header: BucketHeader;
  /** The index partition of the member item. */
  partition: string;
  /** Rate buckets only: the minute of the period at which the monitor is due. */
  phaseMinute?: number;
}

/** A small stable string hash (FNV-1a, 32 bits): shards and phases. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** The shard of a monitor: stable, and independent of its bucket, so moving bucket keeps it. */
export function shardOf(monitorId: string): number {
  return fnv1a(monitorId) % BUCKET_SHARDS;
}

/** The default phase of a rate monitor: a stable spread over the period. */
export function phaseOf(monitorId: string, periodMinutes: number): number {
  return fnv1a(`phase:${monitorId}`) % periodMinutes;
}

/** Period of a rate schedule in whole minutes (Scheduler's rates are minutes, hours or days). */
export function periodMinutesOf(schedule: ScheduleExpression & { kind: "rate" }): number {
  return Math.max(1, Math.round(schedule.everyMs / MINUTE_MS));
}

function cronKey(expression: string, timezone: string): string {
  const digest = createHash("sha256").update(`${expression}\n${timezone}`).digest("hex");
  return `c#${digest.slice(0, 20)}`;
}

function rateKey(periodMinutes: number): string {
  return `r#${periodMinutes}`;
}

function partitionOf(key: string, phaseMinute: number | undefined, shard: number): string {
  return phaseMinute === undefined ? `${key}#${shard}` : `${key}#${phaseMinute}#${shard}`;
}

/** The bucket header a schedule expression and timezone belong to. */
export function headerFor(expression: string, timezone: string): BucketHeader {
  const schedule = parseSchedule(expression);
  if (schedule.kind === "rate") {
    const periodMinutes = periodMinutesOf(schedule);
    return { kind: "rate", key: rateKey(periodMinutes), periodMinutes };
  }
  return { kind: "cron", key: cronKey(schedule.expression, timezone), expression, timezone };
}

/**
 * Where a schedule definition places its monitor. `phaseMinute` (rate only) overrides the hashed
 * phase, reduced into the period: a migrated monitor keeps its old schedule's cadence.
 */
export function placementOf(definition: ScheduleDefinition, phaseMinute?: number): Placement {
  const header = headerFor(definition.expression, definition.timezone);
  const shard = shardOf(definition.monitorId);
  if (header.kind === "cron") return { header, partition: partitionOf(header.key, undefined, shard) };
  const period = header.periodMinutes;
  const phase =
    phaseMinute === undefined
      ? phaseOf(definition.monitorId, period)
      : ((Math.floor(phaseMinute) % period) + period) % period;
  return { header, partition: partitionOf(header.key, phase, shard), phaseMinute: phase };
}

/** Every index partition of a bucket that is due in `minute`; empty when it is not due. */
export function duePartitions(header: BucketHeader, minute: Date): string[] {
  const start = Math.floor(minute.getTime() / MINUTE_MS) * MINUTE_MS;
  let phase: number | undefined;
  if (header.kind === "rate") {
    phase = (start / MINUTE_MS) % header.periodMinutes;
  } else {
    let schedule: ScheduleExpression;
    try {
      schedule = parseSchedule(header.expression);
    } catch {
      // A header only exists for an expression schedule-sync accepted; a corrupted one is skipped
      // (and logged by the fan-out) rather than stopping every other bucket.
      return [];
    }
    if (schedule.kind !== "cron") return [];
    if (nextRun(schedule, header.timezone, new Date(start - 1))?.getTime() !== start) return [];
  }
  return Array.from({ length: BUCKET_SHARDS }, (_, shard) => partitionOf(header.key, phase, shard));
}

/**
 * The anchor of a rate monitor's cadence for `nextRun`: ticks fall at `phaseMinute` past each
 * period, counted from the epoch.
 */
export function rateAnchor(phaseMinute: number): Date {
  return new Date(phaseMinute * MINUTE_MS);
}

/**
 * The phase an old per-monitor rate schedule had: Scheduler counts a rate from the schedule's
 * creation (or its last update). Rounded *up* to the minute, so that after migration the next tick
 * comes no earlier than the old schedule's would have: no period loses its tick.
 */
export function phaseFromAnchor(anchor: Date, periodMinutes: number): number {
  const minute = Math.ceil(anchor.getTime() / MINUTE_MS);
  return ((minute % periodMinutes) + periodMinutes) % periodMinutes;
}

/** The planned minute of a clock invocation: the scheduled time, floored to the minute. */
export function clockMinute(scheduledTime: string | undefined, now: Date): Date {
  const parsed = scheduledTime === undefined ? Number.NaN : Date.parse(scheduledTime);
  const instant = Number.isNaN(parsed) ? now.getTime() : parsed;
  return new Date(Math.floor(instant / MINUTE_MS) * MINUTE_MS);
}

/**
 * The next tick of a monitor placed in its bucket, strictly after `after`: the fan-out's own rule
 * (cron in its timezone; rate at its phase), for "next run" displays. Null when paused or never.
 */
export function nextTickOf(definition: ScheduleDefinition, after: Date): Date | null {
  if (!definition.enabled) return null;
  const schedule = parseSchedule(definition.expression);
  if (schedule.kind === "cron") return nextRun(schedule, definition.timezone, after);
  const { phaseMinute } = placementOf(definition, definition.phaseMinute);
  return nextRun(schedule, "UTC", after, rateAnchor(phaseMinute ?? 0));
}
