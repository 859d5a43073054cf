import type { Acknowledgement, MonitorStatus, NotificationType } from "./schemas.ts";

/** The part of the state item the state machine reads and writes. */
export interface MachineState {
  state: MonitorStatus;
  consecutiveOkCount: number;
  lastNotificationDt?: string | undefined;
  lastNotificationType?: NotificationType | undefined;
  /**
   * An earlier notification is decided but not delivered yet (mail service outage). The reminder
   * clock starts at delivery, so no reminder is due meanwhile; alerts and recoveries still are.
   */
  notificationPending?: boolean | undefined;
  /**
   * The current incident's acknowledgement (issue 14): while it holds, no reminder is due. It is
   * carried through the incident (expired or not: people still see who acknowledged) and cleared
   * when the incident ends; a new incident starts unacknowledged.
   */
  ack?: Acknowledgement | undefined;
}

export interface MachineConfig {
  requiredConsecutiveOks: number;
  /** 0 disables reminders. */
  reminderFrequencyMinutes: number;
}

/** Why a tick sent nothing: recorded in history so that "why no mail?" has an answer. */
export type QuietReason =
  | "healthy"
  | "recovering" // alert, OK counted, threshold not reached
  | "reminder-window" // alert, failing, reminder not due yet
  | "reminders-disabled"
  | "awaiting-delivery" // alert, failing, the last notification is not delivered yet
  | "acknowledged"; // alert, failing, someone acknowledged the incident and the ack holds

export interface Decision {
  next: MachineState;
  notification: NotificationType | null;
  /** Set when `notification` is null. */
  quietReason?: QuietReason;
}

export const INITIAL_STATE: MachineState = { state: "ok", consecutiveOkCount: 0 };

/**
 * The anti-flap state machine of DESIGN.md §4. Pure: `now` is the tick's scheduledTime (the logical
 * clock), never the wall clock. Pass `undefined` for a monitor without a state item.
 */
export function decide(
  previous: MachineState | undefined,
  isOk: boolean,
  now: string,
  config: MachineConfig,
): Decision {
  const current = previous ?? INITIAL_STATE;
  // The acknowledgement belongs to the incident: it lives while the state is alert.
  const withAck = (next: MachineState): MachineState =>
    next.state === "alert" && current.state === "alert" && current.ack ? { ...next, ack: current.ack } : next;
  const notified = (type: NotificationType, state: MonitorStatus): Decision => ({
    next: withAck({ state, consecutiveOkCount: 0, lastNotificationDt: now, lastNotificationType: type }),
    notification: type,
  });
  const quiet = (next: MachineState, quietReason: QuietReason): Decision => ({
    next: withAck({
      ...next,
      lastNotificationDt: current.lastNotificationDt,
      lastNotificationType: current.lastNotificationType,
    }),
    notification: null,
    quietReason,
  });

  if (current.state === "ok") {
    return isOk ? quiet({ state: "ok", consecutiveOkCount: 0 }, "healthy") : notified("alert", "alert");
  }
  if (isOk) {
    const count = current.consecutiveOkCount + 1;
    return count >= config.requiredConsecutiveOks
      ? notified("recovery", "ok")
      : quiet({ state: "alert", consecutiveOkCount: count }, "recovering");
  }
  if (config.reminderFrequencyMinutes <= 0) {
    return quiet({ state: "alert", consecutiveOkCount: 0 }, "reminders-disabled");
  }
  // The reminder gate: elapsed AND not acknowledged (an expired ack no longer counts).
  if (ackHolds(current.ack, now)) {
    return quiet({ state: "alert", consecutiveOkCount: 0 }, "acknowledged");
  }
  if (current.notificationPending) {
    return quiet({ state: "alert", consecutiveOkCount: 0 }, "awaiting-delivery");
  }
  return reminderDue(current.lastNotificationDt, now, config.reminderFrequencyMinutes)
    ? notified("reminder", "alert")
    : quiet({ state: "alert", consecutiveOkCount: 0 }, "reminder-window");
}

/** A monitor is in an incident while its confirmed state is alert (from ALERT to RECOVERED). */
export function inIncident(state: Pick<MachineState, "state"> | undefined): boolean {
  return state?.state === "alert";
}

/**
 * Whether an acknowledgement silences reminders at `now` (the tick's logical clock): it exists
 * and has no expiry, or its expiry is still ahead. The expiry instant itself counts as expired.
 */
export function ackHolds(ack: Acknowledgement | undefined, now: string): boolean {
  if (!ack) return false;
  if (ack.until === undefined) return true;
  const until = Date.parse(ack.until);
  // An unreadable expiry (a hand edit) silences nothing: reminders are the safe side.
  return Number.isFinite(until) && Date.parse(now) < until;
}

/** The window boundary counts as elapsed; a missing clock means the reminder is overdue. */
function reminderDue(lastNotificationDt: string | undefined, now: string, minutes: number): boolean {
  if (!lastNotificationDt) return true;
  return Date.parse(now) - Date.parse(lastNotificationDt) >= minutes * 60_000;
}
