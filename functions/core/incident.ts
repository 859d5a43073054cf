import type { CheckOutcome } from "./run-check.ts";
import type { Acknowledgement, MonitorState, NotificationType, Outbox, StateIncident } from "./schemas.ts";
import type { Decision } from "./state-machine.ts";

/**
 * Incident records (issue 14): one `incident#<start>` item per incident, in the monitor's partition,
 * from its ALERT to its RECOVERED. The state item tracks the open incident (`incident`, `ack`); the
 * incident item is changed only inside the conditional state write that opens, acknowledges,
 * unacknowledges or resolves it, or that clears one of its notifications from the outbox: it can
 * never disagree with the state that wrote it, and a lost race writes neither. Pure: no I/O.
 */

export const INCIDENT_PREFIX = "incident#";

/**
 * TTL of incident items, in days from their latest write. Longer than run history (14 days by
 * default): MTTA and MTTR are read over months, and a year-on-year review needs the same weeks a
 * year ago. 400 days keeps a full year plus a month's slack; an incident is one small item, and
 * even a flapping monitor opens only a few a day.
 */
export const INCIDENT_RETENTION_DAYS = 400;

/** Attributes of an incident item (besides monitorId, record). Every one optional on the wire. */
export interface IncidentFields {
  /** Logical time of the ALERT decision (equal to the key's `<start>`). */
  openedAt?: string;
  /**
   * The monitor was already in alert when incidents began to be recorded (an upgrade): `openedAt`
   * is when this incident was first seen, not when it began, and its durations are lower bounds.
   */
  adopted?: boolean;
  firstFailureMessage?: string;
  /** The latest failure as of the item's latest write (see StateIncident: not every failing tick). */
  lastFailureMessage?: string;
  lastFailureAt?: string;
  /** The current acknowledgement (absent after an unack). */
  acknowledgedBy?: string;
  acknowledgedAt?: string;
  ackNote?: string;
  ackUntil?: string;
  /** The first acknowledgement, kept through unacks and re-acks: MTTA counts to it. */
  firstAcknowledgedBy?: string;
  firstAcknowledgedAt?: string;
  unacknowledgedBy?: string;
  unacknowledgedAt?: string;
  /** Logical time of the RECOVERED decision. */
  resolvedAt?: string;
  durationMs?: number;
  /** Notifications of this incident delivered, by type, and those abandoned (never delivered). */
  alertsSent?: number;
  remindersSent?: number;
  recoveriesSent?: number;
  notificationsAbandoned?: number;
  /** TTL, epoch seconds: INCIDENT_RETENTION_DAYS after the latest write. */
  expiresAt?: number;
}

export type IncidentCounter = "alertsSent" | "remindersSent" | "recoveriesSent" | "notificationsAbandoned";

export const SENT_COUNTER: Record<NotificationType, IncidentCounter> = {
  alert: "alertsSent",
  reminder: "remindersSent",
  recovery: "recoveriesSent",
};

/**
 * A change to one incident item, applied in the state write's transaction (an UpdateItem in
 * DynamoDB). An update, not a whole-item put, because deliveries are counted after the incident's
 * state is gone (RECOVERED is delivered after the write that resolved it); it is still exactly
 * once, because the transaction is conditional on the state item's version.
 */
export interface IncidentUpdate {
  /** The incident's `start`: the item is `incident#<start>`. */
  start: string;
  set?: IncidentFields;
  /** Set only where the item does not have the attribute yet. */
  setIfAbsent?: IncidentFields;
  remove?: ReadonlyArray<keyof IncidentFields>;
  /** Counters incremented by one (created at 1). */
  increment?: readonly IncidentCounter[];
}

/** The stored item: what `incidents` and `health` read. */
export type IncidentItem = IncidentFields & { monitorId: string; record: string };

export const incidentRecord = (start: string) => `${INCIDENT_PREFIX}${start}`;

export const incidentExpiry = (at: string | number, retentionDays = INCIDENT_RETENTION_DAYS) =>
  Math.floor(new Date(at).getTime() / 1000) + retentionDays * 86_400;

/** Applies an update to an item as DynamoDB would (the memory store and tests use it). */
export function applyIncidentUpdate(
  item: IncidentFields | undefined,
  update: IncidentUpdate,
): IncidentFields {
  const next: Record<string, unknown> = { ...item };
  for (const [key, value] of Object.entries(update.setIfAbsent ?? {})) {
    if (next[key] === undefined && value !== undefined) next[key] = value;
  }
  for (const [key, value] of Object.entries(update.set ?? {})) if (value !== undefined) next[key] = value;
  for (const key of update.remove ?? []) delete next[key];
  for (const counter of update.increment ?? [])
    next[counter] = ((next[counter] as number | undefined) ?? 0) + 1;
  return next as IncidentFields;
}

/**
 * The open incident of a state item, adopting one when the monitor is in alert without it (a state
 * written before incidents were recorded): its start is then `now` and its item says `adopted`.
 */
export function openIncident(
  state: MonitorState | undefined,
  now: string,
): { incident: StateIncident; adopted: boolean } | undefined {
  if (state?.state !== "alert") return undefined;
  if (state.incident) return { incident: state.incident, adopted: false };
  return {
    incident: {
      start: now,
      ...(state.lastResultOk === false && state.lastResultMessage !== undefined
        ? { lastFailureMessage: state.lastResultMessage, lastFailureAt: state.lastRunDt ?? now }
        : {}),
    },
    adopted: true,
  };
}

/** What an adopted incident's first write sets on its item. */
function adoption(incident: StateIncident): IncidentFields {
  return {
    openedAt: incident.start,
    adopted: true,
    ...(incident.lastFailureMessage !== undefined
      ? { firstFailureMessage: incident.lastFailureMessage }
      : {}),
  };
}

const lastFailure = (incident: StateIncident): IncidentFields => ({
  ...(incident.lastFailureMessage !== undefined ? { lastFailureMessage: incident.lastFailureMessage } : {}),
  ...(incident.lastFailureAt !== undefined ? { lastFailureAt: incident.lastFailureAt } : {}),
});

/**
 * A tick's effect on the incident: the `incident` attribute its state write carries, and the
 * change to the incident item, if that write touches it (opening, resolving, or adopting). A
 * failing tick inside an incident updates only the state's `lastFailure*`: it writes the state
 * anyway, while copying it to the incident item too would add an item to every failing tick's
 * write. The item's last failure is brought up to date by the next write that touches it.
 */
export function incidentOnTick(
  previous: MonitorState | undefined,
  decision: Decision,
  check: Pick<CheckOutcome, "isOk" | "message">,
  tickTime: string,
): { incident: StateIncident | undefined; update: IncidentUpdate | undefined } {
  const expiresAt = incidentExpiry(tickTime);
  const open = openIncident(previous, tickTime);
  const failure = check.isOk ? {} : { lastFailureMessage: check.message, lastFailureAt: tickTime };
  if (!open) {
    if (decision.next.state !== "alert") return { incident: undefined, update: undefined };
    // Opened by this tick's ALERT.
    return {
      incident: { start: tickTime, ...failure },
      update: {
        start: tickTime,
        set: { openedAt: tickTime, firstFailureMessage: check.message, ...failure, expiresAt },
      },
    };
  }
  const incident: StateIncident = { ...open.incident, ...failure };
  if (decision.next.state === "alert") {
    return {
      incident,
      update: open.adopted
        ? { start: incident.start, set: { ...adoption(open.incident), ...lastFailure(incident), expiresAt } }
        : undefined,
    };
  }
  // Resolved by this tick's RECOVERED. (A state edited by hand back to ok has no open incident to
  // resolve here: the CLI lists such an incident as "closed".)
  return {
    incident: undefined,
    update: {
      start: incident.start,
      set: {
        ...(open.adopted ? adoption(open.incident) : {}),
        ...lastFailure(incident),
        resolvedAt: tickTime,
        durationMs: Math.max(0, Date.parse(tickTime) - Date.parse(incident.start)),
        expiresAt,
      },
    },
  };
}

/**
 * The incident item's change when an outbox entry is cleared: a delivered notification counts as
 * sent, an abandoned one as abandoned; while its incident is still open, the item's last failure
 * is brought up to date as well (this write happens anyway). None for an untagged entry (decided
 * before incidents were recorded).
 */
export function incidentOnDelivery(
  state: MonitorState,
  entry: Pick<Outbox, "type" | "incident">,
  delivered: boolean,
  at: string,
): IncidentUpdate | undefined {
  if (entry.incident === undefined) return undefined;
  const current = state.incident?.start === entry.incident ? state.incident : undefined;
  return {
    start: entry.incident,
    set: { ...(current ? lastFailure(current) : {}), expiresAt: incidentExpiry(at) },
    increment: [delivered ? SENT_COUNTER[entry.type] : "notificationsAbandoned"],
  };
}

/** The incident item's change for an ack written at `at` (wall clock) by the ack use case. */
export function incidentOnAck(
  open: { incident: StateIncident; adopted: boolean },
  ack: Acknowledgement,
  at: string,
): IncidentUpdate {
  const { incident } = open;
  return {
    start: incident.start,
    set: {
      ...(open.adopted ? adoption(incident) : {}),
      ...lastFailure(incident),
      acknowledgedBy: ack.by,
      acknowledgedAt: ack.at,
      ...(ack.note !== undefined ? { ackNote: ack.note } : {}),
      ...(ack.until !== undefined ? { ackUntil: ack.until } : {}),
      expiresAt: incidentExpiry(at),
    },
    setIfAbsent: { firstAcknowledgedBy: ack.by, firstAcknowledgedAt: ack.at },
    remove: [
      ...(ack.note === undefined ? (["ackNote"] as const) : []),
      ...(ack.until === undefined ? (["ackUntil"] as const) : []),
    ],
  };
}

/** The incident item's change for an unack by `by` at `at`. */
export function incidentOnUnack(
  open: { incident: StateIncident; adopted: boolean },
  by: string,
  at: string,
): IncidentUpdate {
  return {
    start: open.incident.start,
    set: {
      ...(open.adopted ? adoption(open.incident) : {}),
      ...lastFailure(open.incident),
      unacknowledgedBy: by,
      unacknowledgedAt: at,
      expiresAt: incidentExpiry(at),
    },
    remove: ["acknowledgedBy", "acknowledgedAt", "ackNote", "ackUntil"],
  };
}
