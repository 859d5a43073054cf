import { type IncidentUpdate, incidentOnTick } from "../incident.ts";
import type { DeliveryReceipt, RunRecord, RunSummary } from "../ports.ts";
import { buildSummary, heartbeatDue, isQuiet, quietRunsBetween } from "../quiet.ts";
import { renderNotification, withDeliveryDelay } from "../render.ts";
import type { CheckOutcome } from "../run-check.ts";
import type { Acknowledgement, MonitorConfig, MonitorState, NotificationType, Outbox } from "../schemas.ts";
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

/**
 * The state machine's decision, and the notification it puts in the outbox. No reminder is due
 * while a mail is pending (its clock starts at delivery). An incident's ALERT that reached nobody
 * goes to people listed since, once, instead of a first mail that says "still failing". Pure:
 * `wallNow` (epoch ms) only dates the entry's creation.
 */
export function decideNotification(
  tickTime: string,
  state: MonitorState | undefined,
  config: MonitorConfig,
  check: Pick<CheckOutcome, "isOk" | "message">,
  wallNow: number,
): DecidedNotification {
  const pending = state?.outbox !== undefined || (state?.outboxQueue?.length ?? 0) > 0;
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
  const listed = config.peopleToNotify.length > 0;
  const unnotified = decision.next.state === "ok" ? undefined : state?.unnotifiedAlert;
  if (unnotified && listed && decision.notification !== "recovery") {
    const entry: Outbox = {
      ...buildOutbox("alert", config, unnotified.message, unnotified.tickTime, tag, wallNow, {
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
      const entry = buildOutbox("reminder", config, check.message, tickTime, { ...tag, reminders }, wallNow);
      return { decision, entry, unnotifiedAlert: unnotified, incident: counted };
    }
    const entry = buildOutbox(decision.notification, config, check.message, tickTime, tag, wallNow);
    return { decision, entry, unnotifiedAlert: unnotified, incident };
  }
  const unnotifiedAlert =
    decision.notification === "alert" ? { tickTime, message: check.message } : unnotified;
  return { decision, entry: undefined, unnotifiedAlert, incident };
}

function buildOutbox(
  type: NotificationType,
  config: MonitorConfig,
  message: string,
  tickTime: string,
  tag: NotificationTag,
  wallNow: number,
  late?: { decidedAt: string; reason: string },
): Outbox {
  let email = renderNotification({
    failingSince: tag.incident,
    failingSinceIsLowerBound: tag.adopted,
    reminderFrequencyMinutes: config.reminderFrequencyMinutes,
    runbookUrl: config.runbookUrl,
    ...(type === "reminder" ? { reminderNumber: tag.reminders } : {}),
    ...(type === "recovery" ? { lastFailureMessage: tag.lastFailureMessage } : {}),
    type,
    monitorId: config.monitorId,
    name: config.name,
    state: type === "recovery" ? "ok" : "alert",
    at: tickTime,
    timezone: config.timezone,
    check: config.check,
    message,
    // A new incident's ALERT has nobody to name; REMINDER and RECOVERED say who acknowledged.
    ...(type === "alert" ? {} : { acknowledgement: tag.ack ?? null }),
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
  };
}

/**
 * Where a new notification goes. With nothing pending it becomes the outbox head, claimed by this
 * tick for a lease so that no concurrent handler sends it too; otherwise it queues in decision
 * order behind the undelivered one: exactly once each, the ALERT first. Beyond
 * `maxQueuedNotifications` waiting, it is given up (`overflow` says why).
 */
export function enqueue(
  state: MonitorState | undefined,
  entry: Outbox | undefined,
  claim: { claimId: string; claimedUntil: number },
  maxQueuedNotifications: number,
): Pick<MonitorState, "outbox" | "outboxQueue"> & { overflow?: string } {
  const outbox = state?.outbox;
  const outboxQueue = state?.outboxQueue;
  if (!entry) return { outbox, outboxQueue };
  if (!outbox) {
    return { outbox: { ...entry, claimedUntil: claim.claimedUntil, claimId: claim.claimId }, outboxQueue };
  }
  const waiting = 1 + (outboxQueue?.length ?? 0);
  if (waiting > maxQueuedNotifications) {
    // Never throw after the check: the decision would be lost with the tick. Give up this one
    // mail, on the record, rather than grow the state item without bound.
    return {
      outbox,
      outboxQueue,
      overflow: `${waiting} earlier notifications were still waiting for delivery (limit ${maxQueuedNotifications})`,
    };
  }
  return { outbox, outboxQueue: [...(outboxQueue ?? []), entry] };
}

/** What step 3 decided and wrote, for step 4. */
export interface Persisted {
  decision: Decision;
  entry: Outbox | undefined;
  next: MonitorState;
  written: "state" | "heartbeat" | "none";
  /** Why this tick's own notification was given up before any attempt (too many waiting). */
  abandoned?: string;
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
  const { decision, entry, unnotifiedAlert, incident } = decideNotification(
    tickTime,
    state,
    config,
    check,
    runtime.now(),
  );
  const { outbox, outboxQueue, overflow } = enqueue(
    state,
    entry,
    { claimId: context.claimId, claimedUntil: runtime.now() + runtime.options.outboxLeaseMs },
    runtime.options.maxQueuedNotifications,
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
      return { decision, entry, next, written: "none" };
    }
  }
  const abandoned = entry && overflow ? abandonedReceipt(entry, config, overflow, runtime.now()) : undefined;
  const summary =
    !manual && base && state ? quietSummary(runtime, monitorId, base, config, tickTime, quiet) : undefined;
  await runtime.deps.store.saveState(monitorId, next, state?.version, {
    run: quiet ? undefined : runRecord(config, tickTime, check, decision, entry !== undefined, state),
    summary,
    receipt: abandoned,
    incident: withAbandoned(incident.update, abandoned && entry),
  });
  // The quiet runs before this write are summarised (or, for a manual run, still pending).
  if (!manual) runtime.quietRuns.forget(monitorId);
  return {
    decision,
    entry,
    next,
    written: quiet ? "heartbeat" : "state",
    ...(abandoned ? { abandoned: overflow } : {}),
  };
}

/** The notification log item of an entry given up before any attempt. */
function abandonedReceipt(
  entry: Outbox,
  config: MonitorConfig,
  reason: string,
  wallNow: number,
): DeliveryReceipt {
  const at = iso(wallNow);
  return {
    messageId: "",
    recipients: entry.recipients,
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

/** The tick's incident change, counting its own notification if it was abandoned unsent. */
function withAbandoned(
  update: IncidentUpdate | undefined,
  abandoned: Outbox | false | undefined,
): IncidentUpdate | undefined {
  if (!abandoned || abandoned.incident === undefined) return update;
  if (update && update.start !== abandoned.incident) return update;
  const base = update ?? { start: abandoned.incident };
  return { ...base, increment: [...(base.increment ?? []), "notificationsAbandoned"] };
}

/**
 * The summary item of the quiet runs after the last write (`base`) and before this tick (or up to
 * it, when this tick is the quiet run whose heartbeat is due). Its count comes from the
 * schedule; its durations from the runs this process applied. None with recordOnlyChanges.
 */
function quietSummary(
  runtime: TickRuntime,
  monitorId: string,
  base: string,
  config: MonitorConfig,
  tickTime: string,
  includeTick: boolean,
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
      heartbeatMs: runtime.options.stateHeartbeatMs,
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
