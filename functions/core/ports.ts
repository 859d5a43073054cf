import type { IncidentUpdate } from "./incident.ts";
import type { MonitorState, Outbox } from "./schemas.ts";

/**
 * Ports of the domain: small interfaces the adapters implement, so the core stays free of AWS
 * imports and tests can swap any of them.
 */

/** Structured logger; Powertools' Logger satisfies it. */
export type LogAttributes = { [key: string]: unknown };
export interface Logger {
  debug(message: string, ...extra: LogAttributes[]): void;
  info(message: string, ...extra: LogAttributes[]): void;
  warn(message: string, ...extra: LogAttributes[]): void;
  error(message: string, ...extra: LogAttributes[]): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Where a secret referenced by a check's params lives (functions/core/secrets.ts parses the reference). */
export interface SecretLocation {
  /** `secretsmanager`: a Secrets Manager secret; `ssm`: a Systems Manager parameter (SecureString). */
  service: "secretsmanager" | "ssm";
  /** The secret's or parameter's ARN, without any `#jsonKey`. */
  arn: string;
  /** The region named in the ARN: where the lookup goes. */
  region: string;
}

/**
 * Reads secrets for checks' params (`{"secretRef": ...}`): Secrets Manager and SSM in AWS, memory
 * in tests. The core caches and redacts; an adapter only reads.
 */
export interface SecretSource {
  /**
   * The secret's whole string value. Throws SecretUnreadableError with a reason in words (not
   * found, access denied...) that never holds the value.
   */
  read(location: SecretLocation): Promise<string>;
}

/** A secret could not be read; `message` says why for a person and holds no secret value. */
export class SecretUnreadableError extends Error {
  override name = "SecretUnreadableError";
}

/** Config and state of one monitor as stored; `config` is raw so that validation stays in the core. */
export interface StoredMonitor {
  config: Record<string, unknown> | undefined;
  state: MonitorState | undefined;
}

/** A history item written with the state (issue 7): `record = run#<scheduledTime>`. */
export interface RunRecord {
  scheduledTime: string;
  [attribute: string]: unknown;
}

/**
 * The history item of quiet runs (write on change): `record = run#<to>#summary`, `kind = "summary"`.
 * `count` runs from `from` to `to` (both scheduled times) were OK and changed nothing; `count`
 * comes from the schedule, the duration statistics from the `samples` runs this process measured.
 */
export interface RunSummary extends RunRecord {
  kind: "summary";
  from: string;
  to: string;
  count: number;
  /** Always 0 (a failure is recorded per tick), kept so that every history item has it. */
  failures: number;
  samples: number;
  minMs?: number | undefined;
  avgMs?: number | undefined;
  p95Ms?: number | undefined;
  maxMs?: number | undefined;
  /** The measured durations, sorted, when they fit the item (MAX_SUMMARY_DURATIONS). */
  durationsMs?: number[] | undefined;
}

/** Log items written in the same transaction as a state item. */
export interface StateRecords {
  /** The tick's history item (`run#<scheduledTime>`). */
  run?: RunRecord | undefined;
  /** The quiet runs since the last write (`run#<to>#summary`). */
  summary?: RunSummary | undefined;
  /** The notification log item (`notification#<tickTime>#<type>`), written when an outbox entry is cleared. */
  receipt?: DeliveryReceipt | undefined;
  /**
   * Notification log items of targets settled by this write (`notification#<tickTime>#<type>#<target>`):
   * one per email recipient or channel delivered, abandoned or dropped.
   */
  receipts?: readonly DeliveryReceipt[] | undefined;
  /**
   * The change to the incident item (`incident#<start>`, functions/core/incident.ts) that this
   * state change makes: opening, acknowledging, resolving the incident, counting its mail.
   */
  incident?: IncidentUpdate | undefined;
  /** More incident changes in the same write (deliveries of notifications of several incidents). */
  incidents?: readonly IncidentUpdate[] | undefined;
}

export interface MonitorStore {
  /** Config + state in one round trip, strongly consistent. */
  load(monitorId: string): Promise<StoredMonitor>;
  /**
   * Config + state of several monitors in one round trip (an SQS batch's), strongly consistent.
   * A monitor whose items cannot be read or parsed is left out: its tick loads it alone.
   */
  loadMany?(monitorIds: readonly string[]): Promise<Map<string, StoredMonitor>>;
  /**
   * Writes the whole state item if its stored version is still `expectedVersion` (undefined: no
   * state item yet), with the log items in the same transaction. Throws StaleStateError when it is
   * not. Every change of state, outbox claims and clears included, goes through here, so the
   * version alone orders all writers.
   */
  saveState(
    monitorId: string,
    state: MonitorState,
    expectedVersion: number | undefined,
    records?: StateRecords,
  ): Promise<void>;
}

/** The conditional write lost a race: re-read and re-decide. */
export class StaleStateError extends Error {
  override name = "StaleStateError";
}

export interface Email {
  to: readonly string[];
  subject: string;
  text: string;
  html: string;
}

/**
 * Written as the notification log item when a target's delivery is settled:
 * `notification#<tickTime>#<type>#<target>` (`notification#<tickTime>#<type>` without a target:
 * items of the previous version, one per notification).
 */
export interface DeliveryReceipt {
  messageId: string;
  /** The target (`email:<address>`, `channel:<name>`); absent on items of the previous version. */
  target?: string;
  /** The target's kind: `email`, or the channel's kind (`slack`, `pagerduty`...; `channel` when unknown). */
  kind?: string;
  recipients: readonly string[];
  type: Outbox["type"];
  tickTime: string;
  subject: string;
  deliveredAt: string;
  attempts: number;
  /** Milliseconds between the decision and delivery (0 when the deciding tick delivered it). */
  delayMs?: number;
  /** TTL of the log item, epoch seconds. */
  expiresAt: number;
  /**
   * `abandoned`: it could not be delivered (refused, its retry budget ran out, an unknown or broken
   * channel); `dropped`: deliberately not sent (a REMINDER acknowledged since, an inactive channel).
   * `error` says why.
   */
  outcome: "delivered" | "abandoned" | "dropped";
  error?: string;
}

/** The mail service refused the message itself (bad recipient, unverified sender…): retrying cannot help. */
export class PermanentDeliveryError extends Error {
  override name = "PermanentDeliveryError";
}

export interface Notifier {
  /** Resolves once the mail service accepted the message; rejects after its own retries are spent. */
  send(email: Email): Promise<{ messageId: string }>;
}

/**
 * Brings a pending notification back for another attempt on its own backoff, independent of the
 * monitor's schedule (a `deliver` tick through the delivery-retry queue in AWS).
 */
export interface DeliveryRetryPort {
  /**
   * Brings back the pending notification decided by the tick at `tickTime` after `delayMs`.
   * `attempt` (its failed attempts when queued) lets a superseded retry recognise itself.
   */
  scheduleRetry(monitorId: string, tickTime: string, delayMs: number, attempt: number): Promise<void>;
}

/** Where rejected ticks go so that nothing is lost (the ticks DLQ in AWS). */
export interface RejectedTickSink {
  reject(body: string, reason: string): Promise<void>;
}

/** A monitor's schedule (DESIGN.md §1), kept as a member of its bucket (functions/core/buckets.ts). */
export interface ScheduleDefinition {
  monitorId: string;
  expression: string;
  timezone: string;
  enabled: boolean;
  /**
   * Rate schedules: the minute of the period the monitor ticks at. Absent: a stable hash of the id
   * (a migrated monitor keeps the phase its old per-monitor schedule had).
   */
  phaseMinute?: number;
}

export interface SchedulerPort {
  /** Creates or replaces the schedule of `monitorId`. Idempotent. */
  upsert(definition: ScheduleDefinition): Promise<void>;
  /** Deletes the schedule; a missing schedule is not an error. */
  remove(monitorId: string): Promise<void>;
  /** Names of the schedules that exist, for reconcile. */
  list(): Promise<string[]>;
}

/**
 * Makes schedule problems visible on the monitor's *state* item (never the config item, whose
 * writes would loop through the stream back into schedule-sync).
 */
export interface ScheduleStatusPort {
  /** Records why the schedule could not be created or updated (`scheduleError` on the state item). */
  reportError(monitorId: string, message: string): Promise<void>;
  /** Clears a previously reported error; a no-op when there is none. */
  clearError(monitorId: string): Promise<void>;
  /**
   * The monitor's config item was deleted: delete its state item too, so that a new config item
   * under the same id starts a new monitor instead of inheriting the old one's incident.
   */
  forgetState?(monitorId: string): Promise<void>;
}

/**
 * Links a notification carries for people (issue 14): a signed, expiring, single-purpose ack link
 * bound to the monitor, the incident and the recipient, and the dashboard's page of the monitor.
 * Undefined when the stack has no dashboard (the mail then renders no link).
 */
export interface NotificationLinks {
  /**
   * The ack link for `recipient`: an email address, or `channel:<name>` for a channel's message.
   * Async: the signing key is read from Secrets Manager (cached).
   */
  ackUrl(input: { monitorId: string; incident: string; recipient: string }): Promise<string | undefined>;
  /** The dashboard's page of the monitor. */
  dashboardUrl(monitorId: string): string | undefined;
}
