import { type Item, type MonitorsTable, NOTIFICATION_PREFIX, RUN_PREFIX } from "#adapters/monitors-table.ts";
import { INCIDENT_PREFIX } from "#core/incident.ts";
import { CONFIG_RECORD, type MonitorConfig, parseConfigLeniently, STATE_RECORD } from "#core/schemas.ts";

/**
 * Fleet-wide reads: one Scan of the table, filtered and projected, for the commands that look at
 * every monitor (list, health, performance, failures, export). Per-monitor commands Query instead.
 */

export interface FleetMonitor {
  monitorId: string;
  /** The config item as stored (projected to what the caller asked for). */
  raw: Item;
  /** With defaults applied; invalid attributes replaced by their defaults, as the orchestrator does. */
  config: MonitorConfig;
  problems: ReturnType<typeof parseConfigLeniently>["problems"];
  state: Item | undefined;
}

export interface FleetScan {
  monitors: FleetMonitor[];
  runs: Item[];
  notifications: Item[];
  incidents: Item[];
}

export const MONITOR_ATTRIBUTES = [
  "name",
  "check",
  "schedule",
  "timezone",
  "isActive",
  "peopleToNotify",
  "requiredConsecutiveOks",
  "reminderFrequencyMinutes",
  // Which monitors name a channel (`channel remove` refuses to orphan them).
  "channels",
  "state",
  "consecutiveOkCount",
  "lastRunDt",
  "lastResultOk",
  "lastResultMessage",
  "lastNotificationDt",
  "lastNotificationType",
  "lastTickTime",
  "scheduleError",
  "configProblems",
  // Write on change: how far lastRunDt may lag for a quiet monitor (health's staleness).
  "stateHeartbeatMinutes",
  // Present only while mail is undelivered: health reports it.
  "outbox",
  "outboxQueue",
  // The open incident and its acknowledgement (incidents, health, list).
  "incident",
  "ack",
] as const;

const RUN_ATTRIBUTES = [
  "scheduledTime",
  "isOk",
  "message",
  "durationMs",
  "state",
  "notification",
  "quietReason",
  // Summaries of quiet runs (write on change).
  "kind",
  "count",
  "durationsMs",
];
const NOTIFICATION_ATTRIBUTES = [
  "type",
  "tickTime",
  "deliveredAt",
  "recipients",
  "messageId",
  "subject",
  "outcome",
  "error",
];

/** What `incidents` and `health` read of an incident item (besides its key). */
export const INCIDENT_ATTRIBUTES: readonly string[] = [
  "openedAt",
  "adopted",
  "firstFailureMessage",
  "lastFailureMessage",
  "lastFailureAt",
  "acknowledgedBy",
  "acknowledgedAt",
  "ackNote",
  "ackUntil",
  "firstAcknowledgedBy",
  "firstAcknowledgedAt",
  "unacknowledgedBy",
  "unacknowledgedAt",
  "resolvedAt",
  "durationMs",
  "alertsSent",
  "remindersSent",
  "recoveriesSent",
  "notificationsAbandoned",
];

export interface FleetQuery {
  /** Include config and state items. @default true */
  monitors?: boolean;
  /** Include run items scheduled at or after this time. */
  runsSince?: Date | "all";
  /** Only failed runs. */
  failedRunsOnly?: boolean;
  /** Include notification log items delivered at or after this time. */
  notificationsSince?: Date;
  /** Include incident items still open or resolved at or after this time. */
  incidentsSince?: Date;
  /** Project to the attributes the reports read; false reads whole items (export). @default true */
  project?: boolean;
  /** Scan in this many parallel segments (the dashboard). @default 1 */
  segments?: number;
}

export async function scanFleet(table: MonitorsTable, query: FleetQuery): Promise<FleetScan> {
  const clauses: string[] = [];
  const values: Item = {};
  const names: Record<string, string> = {};
  if (query.monitors !== false) {
    clauses.push("#record IN (:config, :state)");
    values[":config"] = CONFIG_RECORD;
    values[":state"] = STATE_RECORD;
  }
  if (query.runsSince) {
    values[":run"] = RUN_PREFIX;
    let clause = "begins_with(#record, :run)";
    if (query.runsSince !== "all") {
      clause += " AND #scheduledTime >= :runsSince";
      names["#scheduledTime"] = "scheduledTime";
      values[":runsSince"] = query.runsSince.toISOString();
    }
    if (query.failedRunsOnly) {
      clause += " AND #isOk = :false";
      names["#isOk"] = "isOk";
      values[":false"] = false;
    }
    clauses.push(`(${clause})`);
  }
  if (query.notificationsSince) {
    values[":notification"] = NOTIFICATION_PREFIX;
    values[":notificationsSince"] = query.notificationsSince.toISOString();
    names["#deliveredAt"] = "deliveredAt";
    clauses.push("(begins_with(#record, :notification) AND #deliveredAt >= :notificationsSince)");
  }
  if (query.incidentsSince) {
    values[":incident"] = INCIDENT_PREFIX;
    values[":incidentsSince"] = query.incidentsSince.toISOString();
    names["#resolvedAt"] = "resolvedAt";
    // An incident overlaps the window unless it was resolved before it began.
    clauses.push(
      "(begins_with(#record, :incident) AND (attribute_not_exists(#resolvedAt) OR #resolvedAt >= :incidentsSince))",
    );
  }
  const attributes = [
    ...new Set([
      ...(query.incidentsSince ? INCIDENT_ATTRIBUTES : []),
      ...(query.monitors !== false ? MONITOR_ATTRIBUTES : []),
      ...(query.runsSince ? RUN_ATTRIBUTES : []),
      ...(query.notificationsSince ? NOTIFICATION_ATTRIBUTES : []),
    ]),
  ];
  const configs = new Map<string, Item>();
  const states = new Map<string, Item>();
  const runs: Item[] = [];
  const notifications: Item[] = [];
  const incidents: Item[] = [];
  for await (const item of table.scan({
    expression: clauses.join(" OR "),
    values,
    names,
    ...(query.project === false ? {} : { attributes }),
    ...(query.segments ? { segments: query.segments } : {}),
  })) {
    const record = String(item.record);
    const monitorId = String(item.monitorId);
    if (record === CONFIG_RECORD) configs.set(monitorId, item);
    else if (record === STATE_RECORD) states.set(monitorId, item);
    else if (record.startsWith(RUN_PREFIX)) runs.push(item);
    else if (record.startsWith(NOTIFICATION_PREFIX)) notifications.push(item);
    else if (record.startsWith(INCIDENT_PREFIX)) incidents.push(item);
  }
  return { monitors: fleetMonitors(configs, states), runs, notifications, incidents };
}

/** The monitors of these config items (by id, sorted), each with its state item if any. */
export function fleetMonitors(configs: Map<string, Item>, states: Map<string, Item>): FleetMonitor[] {
  return [...configs.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([monitorId, raw]) => ({
      monitorId,
      raw,
      ...parseConfigLeniently(monitorId, raw),
      state: states.get(monitorId),
    }));
}

/** The monitor's confirmed state as shown to people: paused wins, then the state item. */
export function displayState(monitor: { config: MonitorConfig; state: Item | undefined }): string {
  if (!monitor.config.isActive) return "paused";
  const state = monitor.state?.state;
  if (state === "alert" || state === "ok") return state;
  return "new";
}
