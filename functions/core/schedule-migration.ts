import { headerFor, phaseFromAnchor } from "./buckets.ts";
import type { ScheduleDefinition, SchedulerPort } from "./ports.ts";
import type { ScheduleReader } from "./schedule-sync.ts";
import { isReservedId } from "./schemas.ts";

/**
 * The move from one EventBridge Scheduler schedule per monitor (before engine v2) to bucket
 * schedules, done monitor by monitor as schedule-sync or reconcile touches each one:
 * 1. the member item is written first (the monitor is now in its bucket),
 * 2. then the old schedule is deleted.
 * Between the two, both may fire for the same minute: a cron monitor's two ticks have the same body
 * and the FIFO queue's content deduplication drops one. A rate monitor keeps its old cadence: its
 * phase is taken from the old schedule's anchor (its creation or last update, as Scheduler counts),
 * rounded up to the minute, so its next tick is never earlier than the old schedule's would be
 * (no doubled period) and at most a minute later (no lost one).
 */

/** What is needed of the old per-monitor schedules (EventBridgeScheduler implements it). */
export interface LegacySchedules {
  /** The old schedule's expression and the instant its rate cadence counts from; undefined: none. */
  anchorOf(monitorId: string): Promise<{ expression: string; anchor: Date } | undefined>;
  /** Deletes the old schedule; a missing one is not an error. */
  remove(monitorId: string): Promise<void>;
  /** Names of the schedules in the group (the stack's own, reserved ones included). */
  list(): Promise<string[]>;
}

/** Rebuilds the bucket headers from the full list of schedules (reconcile). */
export interface HeaderRepair {
  syncHeaders(startedAt: Date): Promise<number>;
}

export class MigratingScheduler implements SchedulerPort, ScheduleReader, HeaderRepair {
  constructor(
    private readonly buckets: SchedulerPort & ScheduleReader,
    private readonly legacy: LegacySchedules,
  ) {}

  async upsert(definition: ScheduleDefinition): Promise<void> {
    let phaseMinute = definition.phaseMinute;
    const header = headerFor(definition.expression, definition.timezone);
    if (phaseMinute === undefined && header.kind === "rate") {
      // A rate keeps its phase across edits that leave its period alone (a pause, a new timezone):
      // first the member's own, then, for a monitor not migrated yet, its old schedule's anchor.
      const member = await this.buckets.describe(definition.monitorId);
      if (member?.phaseMinute !== undefined && sameRate(member.expression, header.periodMinutes)) {
        phaseMinute = member.phaseMinute;
      } else {
        const old = await this.legacy.anchorOf(definition.monitorId);
        // Only the same rate keeps its cadence: a changed rate restarts, as UpdateSchedule would.
        if (old && sameRate(old.expression, header.periodMinutes)) {
          phaseMinute = phaseFromAnchor(old.anchor, header.periodMinutes);
        }
      }
    }
    await this.buckets.upsert({ ...definition, ...(phaseMinute === undefined ? {} : { phaseMinute }) });
    await this.legacy.remove(definition.monitorId);
  }

  async remove(monitorId: string): Promise<void> {
    await this.buckets.remove(monitorId);
    await this.legacy.remove(monitorId);
  }

  /** Monitors with a member item or an old schedule: reconcile removes either when orphaned. */
  async list(): Promise<string[]> {
    const [members, old] = await Promise.all([this.buckets.list(), this.legacy.list()]);
    return [...new Set([...members, ...old.filter((name) => !isReservedId(name))])].sort();
  }

  /** Reconcile's header repair, when the bucket store has one (functions/adapters/dynamodb-buckets.ts). */
  async syncHeaders(startedAt: Date): Promise<number> {
    const buckets = this.buckets as Partial<HeaderRepair>;
    return buckets.syncHeaders ? buckets.syncHeaders(startedAt) : 0;
  }

  /**
   * Deletes every old per-monitor schedule whose monitor already has its member: one left behind
   * when its deletion failed after the member was written (a rate monitor would otherwise tick
   * twice a period, its two ticks having different scheduled times). Returns the names deleted.
   */
  async removeLegacyLeftovers(): Promise<string[]> {
    const [members, old] = await Promise.all([this.buckets.list(), this.legacy.list()]);
    const migrated = new Set(members);
    const leftovers = old.filter((name) => !isReservedId(name) && migrated.has(name));
    for (const name of leftovers) await this.legacy.remove(name);
    return leftovers;
  }

  /**
   * The member item only: a monitor still on its old schedule reads as unscheduled, so reconcile
   * migrates it.
   */
  describe(monitorId: string): Promise<ScheduleDefinition | undefined> {
    return this.buckets.describe(monitorId);
  }
}

function sameRate(expression: string, periodMinutes: number): boolean {
  try {
    const header = headerFor(expression, "UTC");
    return header.kind === "rate" && header.periodMinutes === periodMinutes;
  } catch {
    return false;
  }
}
