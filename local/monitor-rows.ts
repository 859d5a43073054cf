import { type DynamoDBDocumentClient, paginateScan } from "@aws-sdk/lib-dynamodb";
import { CONFIG_RECORD, STATE_RECORD } from "#core/schemas.ts";
import type { ScheduleView } from "./scheduler.ts";

/** One line of the dashboard: a monitor's config, state and schedule, read from the wire. */
export interface MonitorRow {
  monitorId: string;
  name: string;
  check: string;
  isActive: boolean;
  state: "ok" | "alert" | undefined;
  lastResultOk: boolean | undefined;
  lastResultMessage: string | undefined;
  lastRunDt: string | undefined;
  /** Write on change: a quiet healthy monitor's state (and lastRunDt) is rewritten this often. */
  stateHeartbeatMinutes: number | undefined;
  lastNotificationType: string | undefined;
  lastNotificationDt: string | undefined;
  scheduleError: string | undefined;
  /** The `schedule` and `timezone` attributes as written: shown when the monitor cannot be scheduled. */
  configSchedule: string | undefined;
  configTimezone: string | undefined;
  schedule: ScheduleView | undefined;
}

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/** Scans the table (small by nature: one config and one state item per monitor, plus history). */
export async function readMonitorRows(
  doc: DynamoDBDocumentClient,
  tableName: string,
  schedules: readonly ScheduleView[],
): Promise<MonitorRow[]> {
  const configs = new Map<string, Record<string, unknown>>();
  const states = new Map<string, Record<string, unknown>>();
  const pages = paginateScan(
    { client: doc },
    {
      TableName: tableName,
      FilterExpression: "#record IN (:config, :state)",
      ExpressionAttributeNames: { "#record": "record" },
      ExpressionAttributeValues: { ":config": CONFIG_RECORD, ":state": STATE_RECORD },
    },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      const id = String(item.monitorId);
      (item.record === CONFIG_RECORD ? configs : states).set(id, item);
    }
  }
  const byId = new Map(schedules.map((schedule) => [schedule.monitorId, schedule]));
  return [...configs.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([monitorId, config]) => {
      const state = states.get(monitorId) ?? {};
      return {
        monitorId,
        name: text(config.name) ?? monitorId,
        check: text(config.check) ?? "?",
        isActive: config.isActive !== false,
        state: state.state === "alert" ? "alert" : state.state === "ok" ? "ok" : undefined,
        lastResultOk: typeof state.lastResultOk === "boolean" ? state.lastResultOk : undefined,
        lastResultMessage: text(state.lastResultMessage),
        lastRunDt: text(state.lastRunDt),
        stateHeartbeatMinutes:
          typeof state.stateHeartbeatMinutes === "number" && state.stateHeartbeatMinutes > 0
            ? state.stateHeartbeatMinutes
            : undefined,
        lastNotificationType: text(state.lastNotificationType),
        lastNotificationDt: text(state.lastNotificationDt),
        scheduleError: text(state.scheduleError),
        configSchedule: text(config.schedule),
        configTimezone: text(config.timezone),
        schedule: byId.get(monitorId),
      };
    });
}
