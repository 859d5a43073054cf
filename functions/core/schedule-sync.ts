import type { ScheduleDefinition, ScheduleStatusPort } from "./ports.ts";
import { timezoneAsWritten } from "./schedule.ts";
import {
  CONFIG_DEFAULTS,
  CONFIG_RECORD,
  ConfigFieldSchemas,
  isReservedId,
  MonitorIdSchema,
  parseConfigLeniently,
} from "./schemas.ts";

/**
 * What schedule-sync and reconcile do for one monitor's config item: pure, so that the stream
 * handler, the one-shot reconcile and the local runtime all derive the same schedule from the same
 * item (DESIGN.md §1).
 */

/** DynamoDB stream event names, as Lambda and DynamoDB Streams deliver them. */
export type ConfigChangeKind = "INSERT" | "MODIFY" | "REMOVE";

/** One stream record, already unmarshalled into plain values. */
export interface ConfigChange {
  kind: ConfigChangeKind;
  /** The item's key attributes (`monitorId`, `record`). */
  keys: Record<string, unknown>;
  /** The item after the change; absent on REMOVE. */
  newImage?: Record<string, unknown>;
  /** The item before the change (NEW_AND_OLD_IMAGES); absent on INSERT. */
  oldImage?: Record<string, unknown>;
}

/** Who to tell, and about what, when a monitor cannot be scheduled. */
export interface ScheduleProblemOwners {
  /** The monitor's name, or its id when the name is unusable. */
  name: string;
  /** The valid part of `peopleToNotify`. */
  peopleToNotify: string[];
  /** The `schedule` and `timezone` attributes as written (strings only), for the email. */
  schedule?: string;
  timezone?: string;
}

export type ScheduleAction =
  /** `owners`: who to tell should Scheduler itself refuse the definition. */
  | { kind: "upsert"; definition: ScheduleDefinition; owners?: ScheduleProblemOwners }
  /**
   * The edit left expression, timezone and enabled as they were: the schedule is left alone, since
   * UpdateSchedule would restart a rate schedule's cadence from now.
   */
  | { kind: "keep"; definition: ScheduleDefinition }
  | { kind: "remove"; monitorId: string }
  /** The item cannot be scheduled: report why on the state item and leave any existing schedule alone. */
  | {
      kind: "invalid";
      monitorId: string;
      reason: string;
      owners?: ScheduleProblemOwners;
      /**
       * Whether a schedule from an earlier, valid item should still be running (true), cannot exist
       * (false: a new item, or the item was not schedulable before either), or is unknown (absent).
       */
      previousSchedule?: boolean;
    }
  /** Nothing to do (not a config item, or no usable key). */
  | { kind: "ignore"; reason: string };

export interface ScheduleDefaults {
  /**
   * IANA timezone for config items without `timezone`.
   * @default CONFIG_DEFAULTS.timezone ("America/Chicago")
   */
  defaultTimezone?: string;
  /**
   * Lowercase domains the owners' mail may go to (stack setting `allowedRecipientDomains`); owners
   * elsewhere are not mailed. Empty or absent: any domain.
   */
  allowedRecipientDomains?: readonly string[];
}

export type ScheduleDefinitionResult =
  | { ok: true; definition: ScheduleDefinition }
  | { ok: false; reason: string };

function quote(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  return `${value === null ? "null" : typeof value} ${JSON.stringify(value)}`;
}

/**
 * The schedule a config item asks for. Only `schedule` and `timezone` can make an item
 * unschedulable: every other attribute problem is the orchestrator's to report, as a failing run
 * that alerts the monitor's owners, which needs the schedule to exist.
 */
export function scheduleDefinitionFor(
  monitorId: string,
  config: Record<string, unknown>,
  defaults: ScheduleDefaults = {},
): ScheduleDefinitionResult {
  const problems: string[] = [];
  const id = MonitorIdSchema.safeParse(monitorId);
  if (!id.success) {
    problems.push(
      `monitorId ${quote(monitorId)} ${id.error.issues.map((issue) => issue.message).join("; ")}`,
    );
  }
  const expression = config.schedule ?? CONFIG_DEFAULTS.schedule;
  const schedule = ConfigFieldSchemas.schedule.safeParse(expression);
  if (!schedule.success) {
    problems.push(
      `schedule ${quote(expression)} is invalid: ${schedule.error.issues.map((issue) => issue.message).join("; ")}`,
    );
  }
  const zone = config.timezone ?? defaults.defaultTimezone ?? CONFIG_DEFAULTS.timezone;
  const timezone = ConfigFieldSchemas.timezone.safeParse(zone);
  if (!timezone.success) {
    problems.push(
      `timezone ${quote(zone)} ${timezone.error.issues.map((issue) => issue.message).join("; ")}`,
    );
  }
  if (!schedule.success || !timezone.success || !id.success) {
    return { ok: false, reason: problems.join("; ") };
  }
  // A malformed isActive falls back to the default like the orchestrator's lenient parse does, so
  // that the schedule and the orchestrator agree; the orchestrator reports the bad attribute.
  const isActive = ConfigFieldSchemas.isActive.safeParse(config.isActive);
  return {
    ok: true,
    definition: {
      monitorId: id.data,
      expression: schedule.data,
      timezone: timezoneAsWritten(timezone.data),
      enabled: isActive.success ? isActive.data : CONFIG_DEFAULTS.isActive,
    },
  };
}

/** True when two definitions ask Scheduler for the same schedule. */
export function sameSchedule(a: ScheduleDefinition, b: ScheduleDefinition): boolean {
  return (
    a.monitorId === b.monitorId &&
    a.expression === b.expression &&
    a.timezone === b.timezone &&
    a.enabled === b.enabled
  );
}

function ownersOf(monitorId: string, item: Record<string, unknown>, defaults: ScheduleDefaults) {
  const { config } = parseConfigLeniently(monitorId, item, defaults);
  const name = typeof config.name === "string" && config.name !== "" ? config.name : monitorId;
  return {
    name,
    peopleToNotify: [...config.peopleToNotify],
    ...(typeof item.schedule === "string" ? { schedule: item.schedule } : {}),
    ...(typeof item.timezone === "string" ? { timezone: item.timezone } : {}),
  };
}

/** Decides what one stream record means for the monitor's schedule. */
export function decideScheduleAction(change: ConfigChange, defaults: ScheduleDefaults = {}): ScheduleAction {
  const { monitorId, record } = change.keys;
  if (record !== CONFIG_RECORD)
    return { kind: "ignore", reason: `record ${quote(record)} is not a config item` };
  if (typeof monitorId !== "string" || monitorId.length === 0) {
    return { kind: "ignore", reason: `monitorId ${quote(monitorId)} is not a string` };
  }
  if (change.kind === "REMOVE") {
    // No schedule can exist under an id Scheduler would not accept: nothing to delete.
    if (!MonitorIdSchema.safeParse(monitorId).success) {
      return { kind: "ignore", reason: `monitorId ${quote(monitorId)} cannot name a schedule` };
    }
    return { kind: "remove", monitorId };
  }
  if (!change.newImage) {
    return { kind: "ignore", reason: `${change.kind} record carries no new image (stream view type?)` };
  }
  const result = scheduleDefinitionFor(monitorId, change.newImage, defaults);
  if (!result.ok) {
    const previousSchedule =
      change.kind === "INSERT"
        ? false
        : change.oldImage
          ? scheduleDefinitionFor(monitorId, change.oldImage, defaults).ok
          : undefined;
    return {
      kind: "invalid",
      monitorId,
      reason: result.reason,
      owners: ownersOf(monitorId, change.newImage, defaults),
      ...(previousSchedule === undefined ? {} : { previousSchedule }),
    };
  }
  // Only a schedule-relevant change touches the schedule (a rename must not restart a rate).
  if (change.kind === "MODIFY" && change.oldImage) {
    const before = scheduleDefinitionFor(monitorId, change.oldImage, defaults);
    if (before.ok && sameSchedule(before.definition, result.definition)) {
      return { kind: "keep", definition: result.definition };
    }
  }
  return {
    kind: "upsert",
    definition: result.definition,
    owners: ownersOf(monitorId, change.newImage, defaults),
  };
}

export interface ReconcilePlan {
  upserts: ScheduleDefinition[];
  invalid: Array<{ monitorId: string; reason: string; owners?: ScheduleProblemOwners }>;
  /** Schedules in the group whose monitor has no config item any more (never a reserved one: the heartbeat). */
  removals: string[];
}

/**
 * Brings the schedule group in line with the table. An invalid item keeps its existing schedule,
 * as it does on the stream path: a typo must not silently stop a monitor that was running.
 */
export function planReconcile(
  configItems: Iterable<Record<string, unknown>>,
  existingSchedules: Iterable<string>,
  defaults: ScheduleDefaults = {},
): ReconcilePlan {
  const plan: ReconcilePlan = { upserts: [], invalid: [], removals: [] };
  const monitorIds = new Set<string>();
  for (const item of configItems) {
    const action = decideScheduleAction({ kind: "INSERT", keys: item, newImage: item }, defaults);
    if (action.kind === "upsert") {
      monitorIds.add(action.definition.monitorId);
      plan.upserts.push(action.definition);
    } else if (action.kind === "invalid") {
      monitorIds.add(action.monitorId);
      plan.invalid.push({
        monitorId: action.monitorId,
        reason: action.reason,
        ...(action.owners ? { owners: action.owners } : {}),
      });
    }
  }
  for (const name of existingSchedules) {
    // The stack's own schedules (the heartbeat) share the group but have no config item.
    if (!monitorIds.has(name) && !isReservedId(name)) plan.removals.push(name);
  }
  plan.removals.sort();
  return plan;
}

/**
 * Reads back a schedule as it stands, so that reconcile changes only what differs (UpdateSchedule
 * restarts a rate schedule's cadence from now).
 */
export interface ScheduleReader {
  /** The schedule named `monitorId`, or undefined when there is none. */
  describe(monitorId: string): Promise<ScheduleDefinition | undefined>;
}

/** A ScheduleStatusPort that tells a new problem from one already recorded. */
export interface ScheduleProblemStatus extends ScheduleStatusPort {
  /**
   * Records the error like reportError, and resolves true only when it differs from the one stored
   * (a new problem, whose owners should hear of it once), false when it was already recorded.
   */
  recordError(monitorId: string, message: string): Promise<boolean>;
}
