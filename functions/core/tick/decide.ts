import {
  awaitingFirstDelivery,
  isSettled,
  listedChannels,
  type Target,
  targetsOf,
} from "../delivery-targets.ts";
import { type IncidentUpdate, incidentOnTick } from "../incident.ts";
import { recordOf } from "../outbox-delivery.ts";
import type { DeliveryReceipt, RunRecord, RunSummary } from "../ports.ts";
import { buildSummary, heartbeatDue, isQuiet, quietRunsBetween } from "../quiet.ts";
import { renderNotification, withDeliveryDelay } from "../render.ts";
import type { CheckOutcome } from "../run-check.ts";
import type {
  Acknowledgement,
  MonitorConfig,
  MonitorState,
  NotificationFacts,
  NotificationType,
  Outbox,
  TargetDelivery,
} from "../schemas.ts";
import { type Decision, decide, type QuietReason } from "../state-machine.ts";
import { iso, type TickContext, type TickRuntime } from "./runtime.ts";

/**
 * Step 3 of a tick: the state machine's decision and the notification it puts in the outbox
 * (`decideNotification`, pure), then the state, outbox and history persisted in one conditional
 * write (`decideAndPersist`), or nothing for a quiet run (write on change).
 */

/** What a notification knows of its incident (functions/core/incident.ts), for its mail. */
interface NotificationTag {
  /** The incident's start (also the outbox entry's `incident`). */
  incident: string | undefined;
  ack: Acknowledgement | undefined;
  /** The incident was adopted by this tick: its start is a lower bound. */
  adopted?: boolean;
  /** REMINDER: which reminder of the incident this one is. */
  reminders?: number;
  /** The incident's last failure (said by RECOVERED). */
  lastFailureMessage?: string | undefined;
}

export interface DecidedNotification {
  decision: Decision;
  /** The notification to put in the outbox, if any (none without recipients). */
  entry: Outbox | undefined;
  unnotifiedAlert: MonitorState["unnotifiedAlert"];
  incident: ReturnType<typeof incidentOnTick>;
}

/** Who a notification may go to besides email: the stack's default channels, if channels are wired. */
export interface Audience {
  defaultChannels: readonly string[];
  channelsEnabled: boolean;
}

const EMAIL_ONLY: Audience = { defaultChannels: [], channelsEnabled: false };

/** The channel names a decision lists (none when the engine has no channel ports). */
const channelsFor = (config: MonitorConfig, audience: Audience) =>
  audience.channelsEnabled ? listedChannels(config, audience.defaultChannels) : [];

/**
 * The state machine's decision, and the notification it puts in the outbox. No reminder is due
 * while a notification has reached nobody yet (its clock starts at its first delivery). An
 * incident's ALERT that reached nobody goes to people listed since, once, instead of a first mail
 * that says "still failing". Pure: `wallNow` (epoch ms) only dates the entry's creation.
 */
export function decideNotification(
  tickTime: string,
  state: MonitorState | undefined,
  config: MonitorConfig,
  check: Pick<CheckOutcome, "isOk" | "message">,
  wallNow: number,
  audience: Audience = EMAIL_ONLY,
): DecidedNotification {
  const pending = awaitingFirstDelivery(state);
  const decision = decide(
    state ? { ...state, notificationPending: pending } : undefined,
    check.isOk,
    tickTime,
    config,
  );
  // The incident this tick belongs to (opened, continued or resolved by it): its notifications
  // are tagged with it, and its item changes in the same write.
  const incident = incidentOnTick(state, decision, check, tickTime);
  const tag: NotificationTag = {
    incident: incident.update?.start ?? incident.incident?.start,
    ack: state?.ack,
    adopted: incident.update?.set?.adopted === true,
    lastFailureMessage: incident.update?.set?.lastFailureMessage ?? state?.incident?.lastFailureMessage,
  };
  const channels = channelsFor(config, audience);
  const listed = config.peopleToNotify.length > 0 || channels.length > 0;
  const unnotified = decision.next.state === "ok" ? undefined : state?.unnotifiedAlert;
  if (unnotified && listed && decision.notification !== "recovery") {
    const entry: Outbox = {
      ...buildOutbox("alert", config, channels, unnotified.message, unnotified.tickTime, tag, wallNow, {
        decidedAt: unnotified.tickTime,
        reason: "nobody was listed to receive it then",
      }),
      // Its reminders count from now (when it is delivered), not from the old decision.
      reminderClockFrom: tickTime,
    };
    const next = { ...decision.next, lastNotificationDt: tickTime, lastNotificationType: "alert" as const };
    return { decision: { next, notification: "alert" }, entry, unnotifiedAlert: undefined, incident };
  }
  if (decision.notification && listed) {
    if (decision.notification === "reminder" && incident.incident) {
      // The state counts the incident's reminders, so that each one can say which it is.
      const reminders = (incident.incident.reminders ?? 0) + 1;
      const counted = { ...incident, incident: { ...incident.incident, reminders } };
      const entry = buildOutbox(
        "reminder",
        config,
        channels,
        check.message,
        tickTime,
        { ...tag, reminders },
        wallNow,
      );
      return { decision, entry, unnotifiedAlert: unnotified, incident: counted };
    }
    const entry = buildOutbox(decision.notification, config, channels, check.message, tickTime, tag, wallNow);
    return { decision, entry, unnotifiedAlert: unnotified, incident };
  }
  const unnotifiedAlert =
    decision.notification === "alert" ? { tickTime, message: check.message } : unnotified;
  return { decision, entry: undefined, unnotifiedAlert, incident };
}

function buildOutbox(
  type: NotificationType,
  config: MonitorConfig,
  channels: readonly string[],
  message: string,
  tickTime: string,
  tag: NotificationTag,
  wallNow: number,
  late?: { decidedAt: string; reason: string },
): Outbox {
  // The facts each target renders its own message from (its own ack link) at send time.
  const facts: NotificationFacts = {
    name: config.name,
    check: config.check,
    message,
    timezone: config.timezone,
    ...(tag.incident !== undefined ? { failingSince: tag.incident } : {}),
    ...(tag.adopted ? { failingSinceIsLowerBound: true } : {}),
    reminderFrequencyMinutes: config.reminderFrequencyMinutes,
    ...(config.runbookUrl !== undefined ? { runbookUrl: config.runbookUrl } : {}),
    ...(type === "reminder" && tag.reminders !== undefined ? { reminderNumber: tag.reminders } : {}),
    ...(type === "recovery" && tag.lastFailureMessage !== undefined
      ? { lastFailureMessage: tag.lastFailureMessage }
      : {}),
    // A new incident's ALERT has nobody to name; REMINDER and RECOVERED say who acknowledged.
    ...(type === "alert" ? {} : { acknowledgement: tag.ack ?? null }),
    ...(late ? { late } : {}),
  };
  // The generic rendering (no per-recipient link): what a rollback to the previous version sends.
  let email = renderNotification({
    failingSince: facts.failingSince,
    failingSinceIsLowerBound: facts.failingSinceIsLowerBound,
    reminderFrequencyMinutes: facts.reminderFrequencyMinutes,
    runbookUrl: facts.runbookUrl,
    reminderNumber: facts.reminderNumber,
    lastFailureMessage: facts.lastFailureMessage,
    type,
    monitorId: config.monitorId,
    name: config.name,
    state: type === "recovery" ? "ok" : "alert",
    at: tickTime,
    timezone: config.timezone,
    check: config.check,
    message,
    ...(facts.acknowledgement !== undefined ? { acknowledgement: facts.acknowledgement } : {}),
  });
  if (late) {
    email = withDeliveryDelay(email, {
      type,
      decidedAt: late.decidedAt,
      delayMs: wallNow - Date.parse(late.decidedAt),
      reason: late.reason,
    });
  }
  return {
    // Deterministic: the same tick deciding the same notification yields the same id.
    id: `${tickTime}#${type}`,
    type,
    tickTime,
    recipients: [...config.peopleToNotify],
    ...email,
    createdAt: iso(wallNow),
    attempts: 0,
    ...(tag.incident !== undefined ? { incident: tag.incident } : {}),
    facts,
    ...(channels.length > 0 ? { channels: [...channels] } : {}),
  };
}

/**
 * Pending notifications may fill this much of the state item (UTF-8 bytes of their JSON, close to
 * DynamoDB's own count): the item must stay under 400 KB with the rest of the state and the
 * records a delivery adds, or every write of the monitor would fail.
 */
export const OUTBOX_BYTE_BUDGET = 200_000;
/** A RECOVERED may take more: it is the one a lagging target most needs (it closes the incident). */
export const RECOVERY_BYTE_BUDGET = 280_000;
const utf8Bytes = (text: string) => new TextEncoder().encode(text).byteLength;

/**
 * Where a new notification goes. With nothing pending it becomes the outbox head, claimed by this
 * tick for a lease so that no concurrent handler sends it too; otherwise it queues in decision
 * order behind the pending ones: exactly once each, each target getting the ALERT first. A target
 * that already has more than `maxQueuedNotifications` waiting (it keeps failing through a long
 * outage) is given this one up on the record (`overflowed`, `overflow` says why) rather than grow
 * the state item without bound; the others still get it. So is every target with anything waiting
 * once the pending entries would pass `OUTBOX_BYTE_BUDGET` (long messages, many targets: the state
 * item must stay under DynamoDB's 400 KB), except for a RECOVERED, which has the larger
 * `RECOVERY_BYTE_BUDGET`. When every target is over the limit, the notification is not queued.
 */
export function enqueue(
  state: MonitorState | undefined,
  entry: Outbox | undefined,
  claim: { claimId: string; claimedUntil: number },
  maxQueuedNotifications: number,
  targetsFor: (entry: Outbox) => Target[] = (candidate) =>
    targetsOf(
      candidate,
      { peopleToNotify: [], channels: [] },
      { defaultChannels: [], channelsEnabled: false },
    ),
  at = "",
): Pick<MonitorState, "outbox" | "outboxQueue"> & {
  overflow?: string;
  overflowed?: Target[];
  queued?: Outbox;
} {
  const outbox = state?.outbox;
  const outboxQueue = state?.outboxQueue;
  if (!entry) return { outbox, outboxQueue };
  if (!outbox) {
    return { outbox: { ...entry, claimedUntil: claim.claimedUntil, claimId: claim.claimId }, outboxQueue };
  }
  const pending = [outbox, ...(outboxQueue ?? [])];
  const targets = targetsFor(entry);
  let overflow: string | undefined;
  const overflowed: Target[] = [];
  const bytes = utf8Bytes(JSON.stringify([...pending, entry]));
  const budget = entry.type === "recovery" ? RECOVERY_BYTE_BUDGET : OUTBOX_BYTE_BUDGET;
  for (const target of targets) {
    const waiting = pending.filter(
      (earlier) =>
        targetsFor(earlier).some((candidate) => candidate.key === target.key) &&
        !isSettled(recordOf(earlier, target.key)),
    ).length;
    if (waiting > maxQueuedNotifications) {
      overflowed.push(target);
      overflow = `${waiting} earlier notifications were still waiting for delivery (limit ${maxQueuedNotifications})`;
    } else if (waiting > 0 && bytes > budget) {
      overflowed.push(target);
      overflow = `${waiting} earlier notifications were still waiting for delivery and the pending ones fill ${Math.round(bytes / 1024)} KB of the monitor's state (limit ${Math.round(budget / 1024)} KB)`;
    }
  }
  if (overflow !== undefined && overflowed.length === targets.length) {
    // Never throw after the check: the decision would be lost with the tick.
    return { outbox, outboxQueue, overflow, overflowed };
  }
  const records: Record<string, TargetDelivery> = {};
  for (const target of overflowed) {
    records[target.key] = { attempts: 0, outcome: "abandoned", lastError: overflow, at };
  }
  const queued = overflowed.length > 0 ? { ...entry, targets: records } : entry;
  return {
    outbox,
    outboxQueue: [...(outboxQueue ?? []), queued],
    ...(overflow !== undefined ? { overflow, overflowed } : {}),
  };
}

/** What step 3 decided and wrote, for step 4. */
export interface Persisted {
  decision: Decision;
  entry: Outbox | undefined;
  next: MonitorState;
  written: "state" | "heartbeat" | "none";
  /** Why this tick's own notification was given up, for some targets, before any attempt (too many waiting). */
  abandoned?: string;
  /** The targets it was given up for (all of them when it was not queued). */
  overflowed?: string[];
  /** It is in the outbox (for some target still to deliver). */
  queued?: true;
}

/**
 * Step 3: decide, then persist state, outbox and history in one conditional write. A quiet run
 * (write on change) writes nothing unless its heartbeat is due; then it writes the state with
 * the summary of the quiet runs since the last write. Any other write carries that summary too.
 */
export async function decideAndPersist(
  runtime: TickRuntime,
  context: TickContext,
  state: MonitorState | undefined,
  config: MonitorConfig,
  check: CheckOutcome,
  configProblems: string | null,
): Promise<Persisted> {
  const { tick, tickTime } = context;
  const { monitorId } = tick;
  const manual = tick.reason === "manual";
  const stamp = manual ? iso(tick.scheduledTime) : tickTime;
  const wallNow = runtime.now();
  const { decision, entry, unnotifiedAlert, incident } = decideNotification(
    tickTime,
    state,
    config,
    check,
    wallNow,
    runtime.audience,
  );
  const { outbox, outboxQueue, overflow, overflowed } = enqueue(
    state,
    entry,
    { claimId: context.claimId, claimedUntil: wallNow + runtime.options.outboxLeaseMs },
    runtime.options.maxQueuedNotifications,
    (candidate) => targetsOf(candidate, config, runtime.audience),
    iso(wallNow),
  );
  const heartbeatMs = runtime.options.stateHeartbeatMs;
  const next: MonitorState = {
    ...decision.next,
    lastRunDt: tickTime,
    lastResultOk: check.isOk,
    lastResultMessage: check.message,
    lastTickTime: manual ? state?.lastTickTime : tickTime,
    lastManualTickTime: manual ? stamp : state?.lastManualTickTime,
    version: (state?.version ?? 0) + 1,
    outbox,
    outboxQueue,
    unnotifiedAlert,
    scheduleError: state?.scheduleError,
    configProblems: configProblems ?? undefined,
    stateHeartbeatMinutes: heartbeatMs > 0 ? heartbeatMs / 60_000 : undefined,
    incident: incident.incident,
  };
  const quiet =
    heartbeatMs > 0 &&
    isQuiet({
      previous: state,
      next,
      isOk: check.isOk,
      manual,
      notified: decision.notification !== null || entry !== undefined,
    });
  const base = state?.lastTickTime;
  if (quiet && state && base) {
    runtime.quietRuns.add(monitorId, base, tickTime, check.durationMs);
    if (!heartbeatDue(state, tickTime, heartbeatMs)) {
      runtime.quietRuns.applied(monitorId, base, tickTime);
      return { decision, entry, next, written: "none" };
    }
  }
  // Targets given this notification up before any attempt (too many waiting for them).
  const receipts = entry
    ? (overflowed ?? []).map((target) => abandonedReceipt(entry, config, target, overflow ?? "", wallNow))
    : [];
  const summary =
    !manual && base && state
      ? quietSummary(runtime, monitorId, base, config, tickTime, quiet, state.stateHeartbeatMinutes)
      : undefined;
  await runtime.deps.store.saveState(monitorId, next, state?.version, {
    run: quiet ? undefined : runRecord(config, tickTime, check, decision, entry !== undefined, state),
    summary,
    receipts,
    incident: withAbandoned(incident.update, entry, receipts.length),
  });
  // The quiet runs before this write are summarised (or, for a manual run, still pending).
  if (!manual) runtime.quietRuns.forget(monitorId);
  return {
    decision,
    entry,
    next,
    written: quiet ? "heartbeat" : "state",
    ...(overflow !== undefined && overflowed
      ? { abandoned: overflow, overflowed: overflowed.map((target) => target.key) }
      : {}),
    ...(entry &&
    outbox !== undefined &&
    [outbox, ...(outboxQueue ?? [])].some((queued) => queued.id === entry.id)
      ? { queued: true }
      : {}),
  };
}

/** The notification log item of a target given up before any attempt. */
function abandonedReceipt(
  entry: Outbox,
  config: MonitorConfig,
  target: Target,
  reason: string,
  wallNow: number,
): DeliveryReceipt {
  const at = iso(wallNow);
  return {
    messageId: "",
    target: target.key,
    kind: target.kind,
    recipients: target.kind === "email" ? [target.address] : [],
    type: entry.type,
    tickTime: entry.tickTime,
    subject: entry.subject,
    deliveredAt: at,
    attempts: 0,
    delayMs: 0,
    expiresAt: Math.floor(Date.parse(at) / 1000) + config.historyRetentionDays * 86_400,
    outcome: "abandoned",
    error: reason,
  };
}

/** The tick's incident change, counting its own notification's targets abandoned unsent. */
function withAbandoned(
  update: IncidentUpdate | undefined,
  entry: Outbox | undefined,
  abandoned: number,
): IncidentUpdate | undefined {
  if (!entry || abandoned === 0 || entry.incident === undefined) return update;
  if (update && update.start !== entry.incident) return update;
  const base = update ?? { start: entry.incident };
  const increment = Array.from({ length: abandoned }, () => "notificationsAbandoned" as const);
  return { ...base, increment: [...(base.increment ?? []), ...increment] };
}

/**
 * The summary item of the quiet runs after the last write (`base`) and before this tick (or up to
 * it, when this tick is the quiet run whose heartbeat is due). Its count comes from the
 * schedule; its durations from the runs this process applied. None with recordOnlyChanges.
 * @param writtenHeartbeatMinutes the heartbeat the state was written under: runs were quiet up to
 *   the longer of it and this process's (a changed setting, or old and new code during a deploy)
 */
function quietSummary(
  runtime: TickRuntime,
  monitorId: string,
  base: string,
  config: MonitorConfig,
  tickTime: string,
  includeTick: boolean,
  writtenHeartbeatMinutes: number | undefined,
): RunSummary | undefined {
  if (config.recordOnlyChanges) return undefined;
  const measured = runtime.quietRuns.durations(monitorId, base, tickTime);
  const window =
    quietRunsBetween({
      schedule: config.schedule,
      timezone: config.timezone,
      lastTickTime: base,
      until: tickTime,
      includeUntil: includeTick,
      heartbeatMs: Math.max(runtime.options.stateHeartbeatMs, (writtenHeartbeatMinutes ?? 0) * 60_000),
    }) ??
    // A schedule that cannot be evaluated: the runs measured here are all we know of.
    (measured.length > 0
      ? {
          from: measured[0]?.[0] as string,
          to: measured.at(-1)?.[0] as string,
          count: measured.length,
        }
      : undefined);
  if (!window) return undefined;
  const to = Date.parse(window.to);
  const durations = measured.filter(([time]) => Date.parse(time) <= to).map(([, ms]) => ms);
  return buildSummary(window, durations, config);
}

function runRecord(
  config: MonitorConfig,
  tickTime: string,
  check: CheckOutcome,
  decision: Decision,
  hasOutbox: boolean,
  previous: MonitorState | undefined,
): RunRecord | undefined {
  const changed =
    decision.notification !== null || decision.next.state !== (previous?.state ?? "ok") || !check.isOk;
  if (config.recordOnlyChanges && !changed) return undefined;
  const quietReason: QuietReason | "no-recipients" | undefined =
    decision.notification && !hasOutbox ? "no-recipients" : decision.quietReason;
  return {
    scheduledTime: tickTime,
    isOk: check.isOk,
    message: check.message,
    durationMs: check.durationMs,
    state: decision.next.state,
    consecutiveOkCount: decision.next.consecutiveOkCount,
    notification: decision.notification ?? undefined,
    quietReason,
    expiresAt: Math.floor(Date.parse(tickTime) / 1000) + config.historyRetentionDays * 86_400,
  };
}
