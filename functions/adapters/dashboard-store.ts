import type { SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Logger } from "#core/ports.ts";
import { silentLogger } from "#core/ports.ts";
import { parseConfigLeniently } from "#core/schemas.ts";
import type { MonitorDetail, MonitorSummary } from "#core/web-pages.ts";
import { type DashboardReads, type MonitorControl, RefusedActionError, type Sparkline } from "../web/app.ts";
import { fleetMonitors, MONITOR_ATTRIBUTES, scanFleet } from "./fleet.ts";
import { sendManualTick } from "./manual-tick.ts";
import { DynamoDbMonitorDirectory } from "./monitor-directory.ts";
import { MonitorsTable } from "./monitors-table.ts";

/**
 * The dashboard's reads and writes of the Monitors table, through the same MonitorsTable the CLI
 * uses. The overview is one query path whose requests grow with the number of monitors only: a
 * Query of each shard of the monitor directory's keys-only index (functions/core/directory.ts),
 * then BatchGetItem of those monitors' config and state items projected to the attributes shown
 * (one request per 50 monitors). A table whose directory was never reconciled (no marker in the
 * index) is read as before, by a Scan filtered to config and state items, and the log says so.
 * Sparklines are read later, only for the rows a browser shows (a Query of each monitor's newest
 * runs, at most 50 monitors per call). Nothing here writes on a tick's path.
 */

/** Where an overview came from: the directory index, or the fallback Scan of the whole table. */
export type OverviewSource = "directory" | "scan";

export const SPARKLINE_RUNS = 24;
/**
 * The fallback Scan (a directory not reconciled yet) runs in parallel segments: its requests grow
 * with the table's size (history included), and in parallel their latency stays within the API's
 * 30 s at a few hundred MB.
 */
export const OVERVIEW_SEGMENTS = 4;
const MONITOR_PAGE_RUNS = 50;
const MONITOR_PAGE_NOTIFICATIONS = 50;
/** The monitor page shows this many incidents, the newest first. */
const MONITOR_PAGE_INCIDENTS = 50;

const summary = ({ monitorId, config, state }: MonitorSummary): MonitorSummary => ({
  monitorId,
  config,
  state,
});

export class DynamoDashboardStore implements DashboardReads, MonitorControl {
  readonly table: MonitorsTable;
  readonly directory: DynamoDbMonitorDirectory;

  constructor(
    doc: DynamoDBDocumentClient,
    tableName: string,
    private readonly ticks?: { sqs: SQSClient; queueUrl: string },
    private readonly logger: Logger = silentLogger,
  ) {
    this.table = new MonitorsTable(doc, tableName);
    this.directory = new DynamoDbMonitorDirectory(tableName, doc);
  }

  async overview(): Promise<MonitorSummary[]> {
    return (await this.overviewWithSource()).monitors;
  }

  /** The overview and the path it took (the bench and the tests check it). */
  async overviewWithSource(): Promise<{ monitors: MonitorSummary[]; source: OverviewSource }> {
    const { entries, reconciled } = await this.directory.entries();
    if (!reconciled) {
      this.logger.warn(
        "overview read by a Scan of the whole table: the monitor directory has not been reconciled (run reconcile, docs/deploy.md)",
        { directoryEntries: entries.length },
      );
      const { monitors } = await scanFleet(this.table, { monitors: true, segments: OVERVIEW_SEGMENTS });
      return { monitors: monitors.map(summary), source: "scan" };
    }
    // An entry whose config item is gone (deleted a moment ago) reads nothing and shows nothing.
    const { configs, states } = await this.directory.configAndState(
      entries.map((entry) => entry.monitorId),
      MONITOR_ATTRIBUTES,
    );
    return { monitors: fleetMonitors(configs, states).map(summary), source: "directory" };
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
