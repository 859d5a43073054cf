import type { Command } from "commander";
import type { CommandContext, Runner } from "../context.ts";
import { scanFleet } from "../fleet.ts";
import { formatMs, formatUtc, parsePositiveInteger, parseSince, plural, truncate } from "../format.ts";
import type { Colors } from "../io.ts";
import { type Item, withoutKeys } from "../monitors-table.ts";
import { runSample, runStats } from "../stats.ts";
import { paintState } from "./monitors.ts";

/** `history` (one monitor, Query) and `failures` (every monitor, Scan): what happened. */

export function registerHistoryCommands(program: Command, run: Runner): void {
  program
    .command("history")
    .description(
      "Runs of one monitor, oldest first, with the notification each one sent or why it sent none (Query)",
    )
    .argument("<id>", "monitor id")
    .option("--since <when>", "how far back: a duration (30m, 24h, 7d) or an ISO time", "24h")
    .option("--limit <n>", "at most this many runs (the most recent ones)")
    .action((id: string, _options, command: Command) => run(command, (context) => history(context, id)));

  program
    .command("failures")
    .description("The most recent failed runs across all monitors (scans the table's run items)")
    .option("--limit <n>", "how many", "20")
    .option("--since <when>", "only failures after this: a duration (24h, 7d) or an ISO time")
    .action((_options, command: Command) => run(command, failures));
}

/** What a run did about mail: the notification (and whether its delivery is logged) or why none. */
function mailOutcome(run: Item, delivered: ReadonlySet<string>, color: Colors): string {
  if (typeof run.notification === "string") {
    if (run.quietReason === "no-recipients") return color.dim(`${run.notification} (no recipients)`);
    const sent = delivered.has(`${run.scheduledTime}#${run.notification}`);
    return sent ? color.bold(`${run.notification} sent`) : color.yellow(`${run.notification} pending`);
  }
  return color.dim(typeof run.quietReason === "string" ? `- (${run.quietReason})` : "-");
}

/**
 * A summary of quiet runs (write on change): when they ran, how many (from the schedule), and the
 * durations of those measured.
 */
function summaryRow(run: Item, color: Colors): string[] {
  const count = Number(run.count ?? 0);
  const samples = Number(run.samples ?? 0);
  const from = String(run.from ?? run.scheduledTime);
  const to = String(run.to ?? run.scheduledTime);
  const last = formatUtc(to);
  const sameDay = formatUtc(from).slice(0, 10) === last.slice(0, 10);
  const span = from === to ? last : `${formatUtc(from)} .. ${sameDay ? last.slice(11) : last}`;
  const durations =
    samples > 0
      ? `min ${formatMs(run.minMs as number)}, p95 ${formatMs(run.p95Ms as number)}, max ${formatMs(run.maxMs as number)} (of ${samples})`
      : "durations not measured here";
  return [
    span,
    color.green(`OK ×${count}`),
    samples > 0 ? formatMs(run.avgMs as number) : "-",
    paintState(color, "ok"),
    color.dim("- (quiet)"),
    color.dim(truncate(`${plural(count, "quiet run")}; ${durations}`, 70)),
  ];
}

async function history(context: CommandContext, monitorId: string): Promise<void> {
  const { out, options, now } = context;
  const since = parseSince(String(options.since), now);
  const limit =
    options.limit === undefined ? undefined : parsePositiveInteger(String(options.limit), "--limit");
  const table = await context.table();
  const [config, newestFirst, notifications] = await Promise.all([
    table.requireConfig(monitorId),
    table.runs(monitorId, { since, newestFirst: true, ...(limit ? { limit } : {}) }),
    table.notifications(monitorId, { since }),
  ]);
  const runs = newestFirst.reverse();
  // An abandoned mail has a log item too, but it never reached anyone.
  const deliveredItems = notifications.filter((item) => item.outcome !== "abandoned");
  const delivered = new Set(deliveredItems.map((item) => `${item.tickTime}#${item.type}`));
  if (out.json) {
    out.data({
      monitorId,
      since: since.toISOString(),
      runs: runs.map((run) => ({
        ...withoutKeys(run),
        delivered:
          typeof run.notification === "string"
            ? delivered.has(`${run.scheduledTime}#${run.notification}`)
            : null,
      })),
      notifications: notifications.map(withoutKeys),
    });
    return;
  }
  const { color } = out;
  if (runs.length === 0) {
    out.line(`No runs of ${monitorId} recorded since ${formatUtc(since.toISOString())}.`);
    if (config.recordOnlyChanges === true)
      out.line(color.dim("recordOnlyChanges is on: only failures and state changes are recorded."));
    return;
  }
  out.table(
    ["SCHEDULED", "RESULT", "DURATION", "STATE", "MAIL", "MESSAGE"],
    runs.map((run) =>
      run.kind === "summary"
        ? summaryRow(run, color)
        : [
            formatUtc(run.scheduledTime as string),
            run.isOk ? color.green("OK") : color.red("FAIL"),
            formatMs(run.durationMs as number | undefined),
            `${paintState(color, String(run.state ?? "-"))}${run.state === "alert" && run.isOk ? color.dim(` ${run.consecutiveOkCount} ok`) : ""}`,
            mailOutcome(run, delivered, color),
            truncate(run.message as string, 70),
          ],
    ),
  );
  const stats = runStats(runs.map(runSample));
  const summarised = runs.some((run) => run.kind === "summary");
  out.line();
  out.line(
    `${plural(stats.runs, "run")} since ${formatUtc(since.toISOString())}, ${stats.failures} failed, ${plural(deliveredItems.length, "notification")} delivered${config.recordOnlyChanges === true ? color.dim(" (recordOnlyChanges: quiet OK runs are not recorded)") : ""}`,
  );
  if (summarised)
    out.line(
      color.dim(
        "Quiet OK runs are recorded as summaries (×count), written with the state every stateHeartbeatMinutes; their durations cover the runs measured (of n).",
      ),
    );
}

async function failures(context: CommandContext): Promise<void> {
  const { out, options, now } = context;
  const limit = parsePositiveInteger(String(options.limit), "--limit");
  const since = options.since === undefined ? "all" : parseSince(String(options.since), now);
  const { runs, monitors } = await scanFleet(await context.table(), {
    monitors: true,
    runsSince: since,
    failedRunsOnly: true,
  });
  const names = new Map(monitors.map((monitor) => [monitor.monitorId, monitor.config.name]));
  const latest = runs
    .sort((a, b) => String(b.scheduledTime).localeCompare(String(a.scheduledTime)))
    .slice(0, limit);
  if (out.json) {
    out.data(latest.map((run) => ({ monitorId: run.monitorId, ...withoutKeys(run) })));
    return;
  }
  if (latest.length === 0) {
    out.line("No failed runs recorded.");
    return;
  }
  const { color } = out;
  out.table(
    ["SCHEDULED", "MONITOR", "NAME", "DURATION", "MAIL", "MESSAGE"],
    latest.map((run) => [
      formatUtc(run.scheduledTime as string),
      String(run.monitorId),
      // Truncated before colouring: a painted value's length counts its colour codes.
      names.has(String(run.monitorId))
        ? truncate(names.get(String(run.monitorId)), 28)
        : color.dim("(removed)"),
      formatMs(run.durationMs as number | undefined),
      typeof run.notification === "string"
        ? String(run.notification)
        : color.dim(String(run.quietReason ?? "-")),
      color.red(truncate(run.message as string, 70)),
    ]),
  );
  out.line();
  out.line(
    `${plural(latest.length, "failure")} shown${runs.length > latest.length ? ` of ${runs.length}` : ""}, newest first.`,
  );
}
