import type { Command } from "commander";
import { nextRuns, nominalPeriodMs, parseSchedule } from "#core/schedule.ts";
import type { Outbox } from "#core/schemas.ts";
import type { CommandContext, Runner } from "../context.ts";
import { CliError } from "../errors.ts";
import { displayState, type FleetMonitor, scanFleet } from "../fleet.ts";
import {
  formatAge,
  formatMs,
  formatPercent,
  formatSpan,
  formatUtc,
  parseSince,
  plural,
  truncate,
} from "../format.ts";
import { type IncidentStats, incidentStats, incidentView } from "../incidents.ts";
import { scheduleProblem, writtenSchedule } from "../schedule-status.ts";
import { groupBy, type RunStats, runSample, runStats } from "../stats.ts";

/** `health` and `performance`: the fleet at a glance. Both scan the table once, projected. */

export function registerReportCommands(program: Command, run: Runner): void {
  program
    .command("health")
    .description(
      "Fleet health over a window: monitors in alert, success rate, runs, notifications sent, MTTA and MTTR, stale monitors (scans the table)",
    )
    .option("--hours <n>", "window in hours", "24")
    .option(
      "--strict",
      "exit with code 1 when a monitor is in alert, stale or misconfigured (for cron jobs and CI)",
    )
    .action((_options, command: Command) => run(command, health));

  program
    .command("performance")
    .description(
      "Check durations per check and per monitor: runs, success rate, min/avg/p95/max (scans the run items)",
    )
    .option("--since <when>", "a duration (24h, 7d) or an ISO time; default: all recorded history")
    .action((_options, command: Command) => run(command, performance));
}

export interface StaleMonitor {
  monitorId: string;
  lastRunDt: string;
  expectedEveryMs: number | null;
}

/**
 * Stall detection: an active monitor is stale when two scheduled runs have come and gone since its
 * last run (twice its interval, with cron gaps such as weekends counted as the schedule has them).
 * Write on change: a quiet healthy monitor's state is rewritten only once its run is
 * `stateHeartbeatMinutes` old (the orchestrator records that interval on the state item), so the
 * two runs are counted from the run that writes the heartbeat. One that never ran is not judged:
 * the table does not say when it was created.
 */
export function staleness(monitor: FleetMonitor, now: Date): StaleMonitor | undefined {
  const lastRunDt = typeof monitor.state?.lastRunDt === "string" ? monitor.state.lastRunDt : undefined;
  // An unschedulable monitor is reported as such, not judged against a schedule it does not have.
  if (!monitor.config.isActive || !lastRunDt || scheduleProblem(monitor, now)) return undefined;
  const schedule = parseSchedule(monitor.config.schedule, { now });
  const last = new Date(lastRunDt);
  const heartbeat = monitor.state?.stateHeartbeatMinutes;
  const heartbeatMs = typeof heartbeat === "number" && heartbeat > 0 ? heartbeat * 60_000 : 0;
  // The heartbeat is written by the first run at least heartbeatMs after the last write.
  const after = new Date(Math.max(last.getTime(), last.getTime() + heartbeatMs - 1));
  const [, second] = nextRuns(schedule, monitor.config.timezone, after, 2, last);
  if (!second || second.getTime() > now.getTime()) return undefined;
  return {
    monitorId: monitor.monitorId,
    lastRunDt,
    expectedEveryMs: nominalPeriodMs(schedule, monitor.config.timezone, now),
  };
}

async function health(context: CommandContext): Promise<void> {
  const { out, options, now } = context;
  const hours = Number(options.hours);
  if (!Number.isFinite(hours) || hours <= 0) throw new CliError("--hours must be a positive number", 2);
  const since = new Date(now.getTime() - hours * 3_600_000);
  const table = await context.table();
  const { monitors, runs, notifications, incidents } = await scanFleet(table, {
    runsSince: since,
    notificationsSince: since,
    incidentsSince: since,
  });
  const states = new Map(monitors.map((monitor) => [monitor.monitorId, monitor.state]));
  const incidentReport = incidentStats(
    incidents.map((item) => incidentView(item, states.get(String(item.monitorId)), now)),
    since,
  );
  const active = monitors.filter((monitor) => monitor.config.isActive);
  const inAlert = monitors.filter((monitor) => displayState(monitor) === "alert");
  const stale = monitors.map((monitor) => staleness(monitor, now)).filter((entry) => entry !== undefined);
  const neverRun = active.filter((monitor) => typeof monitor.state?.lastRunDt !== "string");
  const unschedulable = monitors.flatMap((monitor) => {
    const problem = scheduleProblem(monitor, now);
    return problem ? [{ monitorId: monitor.monitorId, schedule: writtenSchedule(monitor), problem }] : [];
  });
  const misconfigured = monitors.filter(
    (monitor) =>
      monitor.problems.length > 0 ||
      monitor.state?.scheduleError ||
      unschedulable.some((entry) => entry.monitorId === monitor.monitorId),
  );
  const stats = runStats(runs.map(runSample));
  // Abandoned mails (SES refused them) were never sent: count them apart.
  const abandoned = notifications.filter((item) => item.outcome === "abandoned");
  // Dropped ones (a REMINDER acknowledged since, an inactive channel) were deliberately not sent.
  const sent = notifications.filter((item) => item.outcome === undefined || item.outcome === "delivered");
  // Mail decided but not delivered yet (an SES outage, a retry waiting): people have not heard.
  const undelivered = monitors.flatMap((monitor) => {
    const outbox = monitor.state?.outbox as Outbox | undefined;
    if (!outbox) return [];
    return [
      {
        monitorId: monitor.monitorId,
        type: outbox.type,
        tickTime: outbox.tickTime,
        attempts: outbox.attempts,
        lastError: outbox.lastError ?? null,
        nextAttemptAt:
          outbox.nextAttemptAt === undefined ? null : new Date(outbox.nextAttemptAt).toISOString(),
        queuedBehind: (monitor.state?.outboxQueue as Outbox[] | undefined)?.length ?? 0,
      },
    ];
  });
  const byType = Object.fromEntries(
    [...groupBy(sent, (item) => String(item.type))].map(([type, items]) => [type, items.length]),
  );
  const report = {
    table: table.tableName,
    since: since.toISOString(),
    until: now.toISOString(),
    monitors: monitors.length,
    active: active.length,
    paused: monitors.length - active.length,
    inAlert: inAlert.map((monitor) => ({
      monitorId: monitor.monitorId,
      name: monitor.config.name,
      lastRunDt: monitor.state?.lastRunDt ?? null,
      lastResultMessage: monitor.state?.lastResultMessage ?? null,
      acknowledgedBy: (monitor.state?.ack as { by?: string } | undefined)?.by ?? null,
    })),
    incidents: incidentReport,
    runs: stats.runs,
    failures: stats.failures,
    successRate: stats.successRate ?? null,
    notificationsSent: sent.length,
    notificationsByType: byType,
    notificationsAbandoned: abandoned.length,
    abandoned: abandoned.map((item) => ({
      monitorId: String(item.monitorId),
      type: String(item.type),
      tickTime: String(item.tickTime),
      error: String(item.error ?? ""),
    })),
    undelivered,
    stale,
    neverRun: neverRun.map((monitor) => monitor.monitorId),
    unschedulable,
    problems: misconfigured.map((monitor) => {
      const listed = [
        ...monitor.problems.map((problem) => `${problem.attribute} ${problem.message}`),
        ...(monitor.state?.scheduleError ? [`schedule ${monitor.state.scheduleError}`] : []),
      ];
      const problem = unschedulable.find((entry) => entry.monitorId === monitor.monitorId)?.problem;
      if (problem && !listed.some((line) => line.endsWith(problem))) listed.push(problem);
      return { monitorId: monitor.monitorId, problems: listed };
    }),
  };
  const unhealthy =
    inAlert.length +
      stale.length +
      misconfigured.length +
      unschedulable.length +
      undelivered.length +
      abandoned.length >
    0;
  if (out.json) out.data(report);
  else printHealth(context, report, hours);
  if (options.strict && unhealthy) throw new CliError("unhealthy: see the report above", 1);
}

function printHealth(
  context: CommandContext,
  report: {
    table: string;
    monitors: number;
    active: number;
    paused: number;
    inAlert: Array<{
      monitorId: string;
      name: string;
      lastRunDt: unknown;
      lastResultMessage: unknown;
      acknowledgedBy: string | null;
    }>;
    incidents: IncidentStats;
    runs: number;
    failures: number;
    successRate: number | null;
    notificationsSent: number;
    notificationsAbandoned: number;
    abandoned: Array<{ monitorId: string; type: string; tickTime: string; error: string }>;
    undelivered: Array<{
      monitorId: string;
      type: string;
      tickTime: string;
      attempts: number;
      lastError: string | null;
      nextAttemptAt: string | null;
      queuedBehind: number;
    }>;
    notificationsByType: Record<string, number>;
    stale: StaleMonitor[];
    neverRun: string[];
    unschedulable: Array<{ monitorId: string; schedule: string; problem: string }>;
    problems: Array<{ monitorId: string; problems: string[] }>;
  },
  hours: number,
): void {
  const { out, now } = context;
  const { color } = out;
  const types = Object.entries(report.notificationsByType)
    .map(([type, count]) => `${count} ${type}`)
    .join(", ");
  out.heading(`Health of ${report.table}, last ${plural(hours, "hour")}`);
  out.fields([
    ["monitors", `${report.monitors} (${report.active} active, ${report.paused} paused)`],
    [
      "in alert",
      report.inAlert.length === 0
        ? color.green("none")
        : color.red(`${report.inAlert.length}: ${report.inAlert.map((entry) => entry.monitorId).join(", ")}`),
    ],
    ["incidents", describeIncidents(report.incidents)],
    [
      "runs",
      report.runs === 0
        ? "none recorded"
        : `${report.runs}, ${formatPercent(report.successRate ?? undefined)} successful (${plural(report.failures, "failure")})`,
    ],
    [
      "notifications",
      `${report.notificationsSent} sent${types ? ` (${types})` : ""}${
        report.notificationsAbandoned > 0
          ? color.red(`, ${report.notificationsAbandoned} abandoned (never delivered: see below)`)
          : ""
      }`,
    ],
    [
      "undelivered",
      report.undelivered.length === 0
        ? color.green("none")
        : color.red(
            `${report.undelivered.length}: ${report.undelivered.map((entry) => entry.monitorId).join(", ")} (being retried)`,
          ),
    ],
    [
      "stale",
      report.stale.length === 0
        ? color.green("none")
        : color.yellow(`${report.stale.length}: ${report.stale.map((entry) => entry.monitorId).join(", ")}`),
    ],
    [
      "unschedulable",
      report.unschedulable.length === 0
        ? color.green("none")
        : color.yellow(
            `${report.unschedulable.length} (never run): ${report.unschedulable.map((entry) => entry.monitorId).join(", ")}`,
          ),
    ],
    ...(report.neverRun.length > 0
      ? ([["not run yet", `${report.neverRun.length}: ${report.neverRun.join(", ")}`]] as Array<
          [string, string]
        >)
      : []),
    [
      "problems",
      report.problems.length === 0
        ? color.green("none")
        : color.yellow(
            `${report.problems.length}: ${report.problems.map((entry) => entry.monitorId).join(", ")}`,
          ),
    ],
  ]);
  if (report.inAlert.length > 0) {
    out.line();
    out.heading(color.red("In alert"));
    out.table(
      ["ID", "NAME", "LAST RUN", "ACKNOWLEDGED", "LAST MESSAGE"],
      report.inAlert.map((entry) => [
        entry.monitorId,
        truncate(entry.name, 32),
        formatAge(entry.lastRunDt as string | undefined, now),
        entry.acknowledgedBy ? truncate(entry.acknowledgedBy, 24) : color.yellow("no"),
        truncate(entry.lastResultMessage as string | undefined, 60),
      ]),
    );
  }
  if (report.undelivered.length > 0) {
    out.line();
    out.heading(color.red("Undelivered notifications (retried on their own backoff)"));
    out.table(
      ["ID", "PENDING", "DECIDED", "ATTEMPTS", "NEXT TRY", "LAST ERROR"],
      report.undelivered.map((entry) => [
        entry.monitorId,
        `${entry.type}${entry.queuedBehind > 0 ? ` +${entry.queuedBehind} queued` : ""}`,
        formatAge(entry.tickTime, now),
        String(entry.attempts),
        entry.nextAttemptAt ? formatAge(entry.nextAttemptAt, now) : "next tick",
        truncate(entry.lastError ?? "-", 50),
      ]),
    );
  }
  if (report.abandoned.length > 0) {
    out.line();
    out.heading(color.red("Abandoned notifications (nobody received them)"));
    for (const entry of report.abandoned) {
      out.line(
        `  ${entry.monitorId}: ${entry.type.toUpperCase()} of ${formatUtc(entry.tickTime)}: ${entry.error}`,
      );
    }
  }
  if (report.stale.length > 0) {
    out.line();
    out.heading(color.yellow("Stale (no run for twice the interval, after the state heartbeat)"));
    out.table(
      ["ID", "LAST RUN", "EXPECTED EVERY"],
      report.stale.map((entry) => [
        entry.monitorId,
        `${formatUtc(entry.lastRunDt)} (${formatAge(entry.lastRunDt, now)})`,
        entry.expectedEveryMs === null ? "-" : formatSpan(entry.expectedEveryMs),
      ]),
    );
  }
  if (report.problems.length > 0) {
    out.line();
    out.heading(color.yellow("Problems"));
    for (const entry of report.problems)
      for (const problem of entry.problems) out.line(`  ${entry.monitorId}: ${problem}`);
  }
}

/** `3 opened (1 open); MTTA 4m over 2 acknowledged; MTTR 25m over 2 resolved`. */
function describeIncidents(stats: IncidentStats): string {
  if (stats.opened === 0) return "none opened";
  return [
    `${stats.opened} opened${stats.open > 0 ? ` (${stats.open} still open)` : ""}`,
    stats.mttaMs === null
      ? `none acknowledged`
      : `MTTA ${formatSpan(stats.mttaMs)} over ${stats.acknowledged} acknowledged`,
    stats.mttrMs === null
      ? "none resolved"
      : `MTTR ${formatSpan(stats.mttrMs)} over ${stats.resolved} resolved`,
  ].join("; ");
}

type StatsRow = RunStats & { name: string; check?: string; monitors?: number };

async function performance(context: CommandContext): Promise<void> {
  const { out, options, now } = context;
  const since = options.since === undefined ? "all" : parseSince(String(options.since), now);
  const { monitors, runs } = await scanFleet(await context.table(), { runsSince: since });
  const checkOf = new Map(monitors.map((monitor) => [monitor.monitorId, monitor.config.check]));
  const byMonitor: StatsRow[] = [...groupBy(runs, (run) => String(run.monitorId))]
    .map(([monitorId, items]) => ({
      name: monitorId,
      check: checkOf.get(monitorId) ?? "?",
      ...runStats(items.map(runSample)),
    }))
    .sort((a, b) => (b.p95Ms ?? 0) - (a.p95Ms ?? 0) || a.name.localeCompare(b.name));
  const byCheck: StatsRow[] = [...groupBy(runs, (run) => checkOf.get(String(run.monitorId)) ?? "?")]
    .map(([check, items]) => ({
      name: check,
      monitors: new Set(items.map((item) => item.monitorId)).size,
      ...runStats(items.map(runSample)),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  if (out.json) {
    out.data({
      since: since === "all" ? null : since.toISOString(),
      checks: byCheck.map(({ name, ...stats }) => ({ check: name, ...stats })),
      monitors: byMonitor.map(({ name, ...stats }) => ({ monitorId: name, ...stats })),
    });
    return;
  }
  if (runs.length === 0) {
    out.line("No runs recorded yet.");
    return;
  }
  const cells = (row: StatsRow) => [
    String(row.runs),
    formatPercent(row.successRate),
    formatMs(row.minMs),
    formatMs(row.avgMs),
    formatMs(row.p95Ms),
    formatMs(row.maxMs),
  ];
  out.heading(
    `Per check${since === "all" ? " (all recorded history)" : ` since ${formatUtc(since.toISOString())}`}`,
  );
  out.table(
    ["CHECK", "MONITORS", "RUNS", "SUCCESS", "MIN", "AVG", "P95", "MAX"],
    byCheck.map((row) => [row.name, String(row.monitors), ...cells(row)]),
  );
  out.line();
  out.heading("Per monitor (slowest p95 first)");
  out.table(
    ["MONITOR", "CHECK", "RUNS", "SUCCESS", "MIN", "AVG", "P95", "MAX"],
    byMonitor.map((row) => [row.name, row.check ?? "?", ...cells(row)]),
  );
}
