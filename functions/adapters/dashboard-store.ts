import type { SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { parseConfigLeniently } from "#core/schemas.ts";
import type { MonitorDetail, MonitorSummary } from "#core/web-pages.ts";
import { type DashboardReads, type MonitorControl, RefusedActionError, type Sparkline } from "../web/app.ts";
import { scanFleet } from "./fleet.ts";
import { sendManualTick } from "./manual-tick.ts";
import { MonitorsTable } from "./monitors-table.ts";

/**
 * The dashboard's reads and writes of the Monitors table, through the same MonitorsTable and fleet
 * scan the CLI uses. The overview is one query path: a Scan filtered to config and state items and
 * projected to the attributes shown (no per-monitor request); sparklines are read later, only for
 * the rows a browser shows (a Query of each monitor's newest runs, at most 50 monitors per call).
 * Nothing here writes on a tick's path.
 */

export const SPARKLINE_RUNS = 24;
/**
 * The overview's Scan runs in parallel segments: its requests grow with the table's size (history
 * included), and in parallel their latency stays within the API's 30 s at a few hundred MB.
 */
export const OVERVIEW_SEGMENTS = 4;
const MONITOR_PAGE_RUNS = 50;
const MONITOR_PAGE_NOTIFICATIONS = 50;
/** The monitor page shows this many incidents, the newest first. */
const MONITOR_PAGE_INCIDENTS = 50;

export class DynamoDashboardStore implements DashboardReads, MonitorControl {
  readonly table: MonitorsTable;

  constructor(
    doc: DynamoDBDocumentClient,
    tableName: string,
    private readonly ticks?: { sqs: SQSClient; queueUrl: string },
  ) {
    this.table = new MonitorsTable(doc, tableName);
  }

  async overview(): Promise<MonitorSummary[]> {
    const { monitors } = await scanFleet(this.table, { monitors: true, segments: OVERVIEW_SEGMENTS });
    return monitors.map(({ monitorId, config, state }) => ({ monitorId, config, state }));
  }

  async monitor(monitorId: string): Promise<MonitorDetail | undefined> {
    const [raw, stored, runs, notifications, incidents] = await Promise.all([
      this.table.getConfig(monitorId),
      this.table.getItem(monitorId, "state"),
      this.table.runs(monitorId, { limit: MONITOR_PAGE_RUNS, newestFirst: true }),
      this.table.notifications(monitorId, { limit: MONITOR_PAGE_NOTIFICATIONS, newestFirst: true }),
      this.table.incidents(monitorId, { limit: MONITOR_PAGE_INCIDENTS, newestFirst: true }),
    ]);
    if (!raw) return undefined;
    const { config } = parseConfigLeniently(monitorId, raw);
    return {
      summary: { monitorId, config, state: stored },
      runs,
      notifications,
      incidents,
    };
  }

  async incidents(since: Date): Promise<Record<string, unknown>[]> {
    const { incidents } = await scanFleet(this.table, { monitors: false, incidentsSince: since });
    return incidents.sort((a, b) => String(b.record).localeCompare(String(a.record)));
  }

  async sparklines(monitorIds: readonly string[]): Promise<Record<string, Sparkline>> {
    const entries = await Promise.all(
      [...new Set(monitorIds)].slice(0, 50).map(async (monitorId) => {
        const runs = await this.table.runs(monitorId, { limit: SPARKLINE_RUNS, newestFirst: true });
        const line: Sparkline = runs
          .reverse()
          .map((run) => (run.kind === "summary" ? "quiet" : run.isOk === false ? "fail" : "ok"));
        return [monitorId, line] as const;
      }),
    );
    return Object.fromEntries(entries);
  }

  async setActive(monitorId: string, isActive: boolean): Promise<boolean> {
    const before = await this.table.updateConfig(monitorId, { isActive });
    return (before.isActive !== false) !== isActive;
  }

  async runNow(monitorId: string, at: Date): Promise<void> {
    if (!this.ticks) throw new Error("no ticks queue configured");
    const { config } = parseConfigLeniently(monitorId, await this.table.requireConfig(monitorId));
    if (!config.isActive)
      throw new RefusedActionError(
        `${monitorId} is paused and the orchestrator ignores its ticks: resume it first`,
      );
    await sendManualTick(this.ticks.sqs, this.ticks.queueUrl, monitorId, at);
  }
}
