import { type Command, Option } from "commander";
import { nextRuns, parseSchedule } from "#core/schedule.ts";
import { type MonitorConfig, parseConfigLeniently } from "#core/schemas.ts";
import type { CommandContext, Runner } from "../context.ts";
import { UnknownMonitorError } from "../errors.ts";
import { displayState, scanFleet } from "../fleet.ts";
import {
  formatAge,
  formatInZone,
  formatMs,
  formatUtc,
  parsePositiveInteger,
  plural,
  truncate,
} from "../format.ts";
import type { Colors } from "../io.ts";
import type { Item } from "../monitors-table.ts";
import { scheduleProblem, writtenSchedule, writtenTimezone } from "../schedule-status.ts";

/** `list` and `show`: what the monitors are and how they are doing. */

const STATES = ["ok", "alert", "paused", "new", "unschedulable"] as const;

export function paintState(color: Colors, state: string): string {
  if (state === "alert") return color.red(color.bold(state));
  if (state === "unschedulable") return color.yellow(color.bold(state));
  if (state === "ok") return color.green(state);
  if (state === "paused") return color.yellow(state);
  return color.dim(state);
}

export function registerMonitorCommands(program: Command, run: Runner): void {
  program
    .command("list")
    .description("List every monitor with its state and last run (scans the table's config and state items)")
    .addOption(new Option("--state <state>", "only monitors in this state").choices(STATES))
    .action((_options, command: Command) => run(command, list));

  program
    .command("show")
    .description(
      "Show one monitor: config with defaults and problems, state, next runs in its timezone, recent runs and notifications",
    )
    .argument("<id>", "monitor id")
    .option("--runs <n>", "recent runs to show", "5")
    .action((id: string, _options, command: Command) => run(command, (context) => show(context, id)));
}

async function list(context: CommandContext): Promise<void> {
  const { out, now, options } = context;
  const { monitors } = await scanFleet(await context.table(), {});
  const wanted = options.state as string | undefined;
  const rows = monitors
    .map((monitor) => {
      const unschedulable = scheduleProblem(monitor, now);
      // A monitor that cannot be scheduled never runs: that, not "ok" or "new", is its state.
      return { ...monitor, unschedulable, display: unschedulable ? "unschedulable" : displayState(monitor) };
    })
    .filter((monitor) => wanted === undefined || monitor.display === wanted);
  if (out.json) {
    out.data(
      rows.map((row) => ({
        monitorId: row.monitorId,
        name: row.config.name,
        check: row.config.check,
        schedule: writtenSchedule(row),
        timezone: writtenTimezone(row),
        isActive: row.config.isActive,
        state: row.display,
        scheduleProblem: row.unschedulable ?? null,
        lastRunDt: row.state?.lastRunDt ?? null,
        lastResultOk: row.state?.lastResultOk ?? null,
        lastResultMessage: row.state?.lastResultMessage ?? null,
        problems: row.problems.length + (row.state?.scheduleError ? 1 : 0),
      })),
    );
    return;
  }
  if (rows.length === 0) {
    out.line(wanted ? `No monitor is ${wanted}.` : "No monitors yet: add one with `watchkeeper add`.");
    return;
  }
  const { color } = out;
  out.table(
    ["ID", "NAME", "CHECK", "SCHEDULE", "ACTIVE", "STATE", "LAST RUN", "LAST MESSAGE"],
    rows.map(({ monitorId, raw, config, state, problems, display, unschedulable }) => [
      problems.length > 0 || state?.scheduleError || unschedulable
        ? `${monitorId} ${color.yellow("!")}`
        : monitorId,
      truncate(config.name, 32),
      config.check,
      unschedulable ? color.yellow(writtenSchedule({ raw, config })) : writtenSchedule({ raw, config }),
      config.isActive ? "yes" : color.yellow("no"),
      paintState(color, display),
      formatAge(state?.lastRunDt as string | undefined, now),
      state?.lastResultOk === false
        ? color.red(truncate(state.lastResultMessage as string, 60))
        : truncate(state?.lastResultMessage as string | undefined, 60),
    ]),
  );
  const count = (state: string) => rows.filter((row) => row.display === state).length;
  const flagged = rows.filter(
    (row) => row.problems.length > 0 || row.state?.scheduleError || row.unschedulable,
  ).length;
  out.line();
  out.line(
    [
      plural(rows.length, "monitor"),
      `${count("alert")} in alert`,
      `${count("paused")} paused`,
      ...(count("unschedulable") > 0
        ? [color.yellow(`${count("unschedulable")} unschedulable (never run)`)]
        : []),
      ...(flagged > 0 ? [color.yellow(`${flagged} with problems (!): see \`watchkeeper show <id>\``)] : []),
    ].join(", "),
  );
}

/**
 * Upcoming runs as Scheduler computes them. Rate schedules are anchored where Scheduler anchored
 * them (creation), which the table does not record: the last scheduled tick is the best estimate.
 */
export function upcomingRuns(config: MonitorConfig, state: Item | undefined, now: Date, count = 5): Date[] {
  if (!config.isActive) return [];
  let schedule: ReturnType<typeof parseSchedule>;
  try {
    schedule = parseSchedule(config.schedule, { now });
  } catch {
    return []; // e.g. a cron whose last year has passed: no run is coming
  }
  const anchor = typeof state?.lastTickTime === "string" ? new Date(state.lastTickTime) : now;
  return nextRuns(schedule, config.timezone, now, count, anchor);
}

async function show(context: CommandContext, monitorId: string): Promise<void> {
  const { out, now, options } = context;
  const table = await context.table();
  const stored = await table.load(monitorId);
  if (!stored.config) throw new UnknownMonitorError(monitorId);
  const raw = stored.config;
  const { config, problems } = parseConfigLeniently(monitorId, raw);
  const { state } = stored;
  const runCount = parsePositiveInteger(String(options.runs), "--runs");
  const [runs, notifications] = await Promise.all([
    table.runs(monitorId, { newestFirst: true, limit: runCount }),
    table.notifications(monitorId, { newestFirst: true, limit: 5 }),
  ]);
  const unschedulable = scheduleProblem({ raw, config, problems, state: state as Item | undefined }, now);
  // An unschedulable monitor has no next run: not even the default schedule's, which never comes.
  const upcoming = unschedulable ? [] : upcomingRuns(config, state as Item | undefined, now);
  if (out.json) {
    out.data({
      monitorId,
      config,
      defaults: Object.keys(config).filter((key) => key !== "monitorId" && raw[key] === undefined),
      problems,
      state: state ?? null,
      scheduleProblem: unschedulable ?? null,
      nextRuns: upcoming.map((at) => at.toISOString()),
      recentRuns: runs,
      notifications,
    });
    return;
  }
  const { color } = out;
  const display = unschedulable
    ? "unschedulable"
    : displayState({ config, state: state as Item | undefined });
  out.line(`${color.bold(monitorId)}  ${config.name}  ${paintState(color, display)}`);
  out.line();
  out.heading("Config");
  out.fields(
    Object.entries(config)
      .filter(([key]) => key !== "monitorId" && key !== "name")
      .map(([key, value]) => {
        // An invalid attribute is shown as written, not as the default that stands in for it.
        const invalid = problems.some((problem) => problem.attribute === key) && raw[key] !== undefined;
        const shown = invalid ? raw[key] : value;
        return [
          key,
          `${typeof shown === "string" ? shown : JSON.stringify(shown)}${invalid ? color.yellow(" (invalid)") : raw[key] === undefined ? color.dim(" (default)") : ""}`,
        ];
      }),
  );
  if (problems.length > 0 || state?.scheduleError) {
    out.line();
    out.heading(color.yellow("Problems"));
    for (const problem of problems) out.line(`  ${color.yellow(problem.attribute)} ${problem.message}`);
    if (state?.scheduleError) out.line(`  ${color.yellow("schedule")} ${state.scheduleError}`);
  }
  if (
    unschedulable &&
    !state?.scheduleError &&
    !problems.some((p) => p.attribute === "schedule" || p.attribute === "timezone")
  ) {
    out.line();
    out.heading(color.yellow("Problems"));
    out.line(`  ${color.yellow("schedule")} ${unschedulable}`);
  }
  out.line();
  out.heading("State");
  if (!state) {
    out.line(color.dim("  no state item yet: the monitor has not run (or was reset)"));
  } else {
    out.fields([
      [
        "state",
        `${paintState(color, state.state)}${state.state === "alert" ? ` (${state.consecutiveOkCount}/${config.requiredConsecutiveOks} OKs towards recovery)` : ""}`,
      ],
      [
        "last run",
        state.lastRunDt ? `${formatUtc(state.lastRunDt)} (${formatAge(state.lastRunDt, now)})` : "never",
      ],
      [
        "last result",
        state.lastResultOk === undefined
          ? "-"
          : `${state.lastResultOk ? color.green("OK") : color.red("FAIL")} ${state.lastResultMessage ?? ""}`,
      ],
      [
        "last notification",
        state.lastNotificationDt
          ? `${state.lastNotificationType} at ${formatUtc(state.lastNotificationDt)} (${formatAge(state.lastNotificationDt, now)})`
          : "none",
      ],
      ...(state.incident
        ? ([
            [
              "incident",
              `since ${formatUtc(state.incident.start)} (${formatAge(state.incident.start, now)})`,
            ],
          ] as Array<[string, string]>)
        : []),
      ...(state.ack
        ? ([
            [
              "acknowledged",
              `by ${state.ack.by} at ${formatUtc(state.ack.at)}${state.ack.until ? `, until ${formatUtc(state.ack.until)}` : ", until recovery"}${state.ack.note ? `: ${state.ack.note}` : ""}`,
            ],
          ] as Array<[string, string]>)
        : []),
      ["version", String(state.version)],
      ...(state.outbox
        ? ([
            [
              "pending mail",
              color.yellow(
                `${state.outbox.type} to ${state.outbox.recipients.length} recipient(s), ${state.outbox.attempts} failed attempt(s)${state.outbox.lastError ? `: ${state.outbox.lastError}` : ""}${state.outbox.nextAttemptAt === undefined ? "" : `; next try ${formatAge(new Date(state.outbox.nextAttemptAt).toISOString(), now)}`}${state.outboxQueue?.length ? `; ${state.outboxQueue.length} more queued behind it (${state.outboxQueue.map((entry) => entry.type).join(", ")})` : ""}`,
              ),
            ],
          ] as Array<[string, string]>)
        : []),
    ]);
  }
  out.line();
  out.heading(`Next runs (${writtenTimezone({ raw, config })})`);
  if (unschedulable) {
    out.line(
      color.yellow("  none: the monitor cannot be scheduled, so its check does not run (see Problems)"),
    );
  } else if (upcoming.length === 0) {
    out.line(
      color.dim(config.isActive ? "  none: the schedule has no run left" : "  none: the monitor is paused"),
    );
  }
  const approximate = config.schedule.startsWith("rate(") ? "~" : "";
  for (const at of upcoming) {
    out.line(
      `  ${approximate}${formatInZone(at, config.timezone)}  ${color.dim(`${formatUtc(at.toISOString())}, ${formatAge(at.toISOString(), now)}`)}`,
    );
  }
  out.line();
  out.heading("Recent runs");
  if (runs.length === 0) out.line(color.dim("  none recorded"));
  else
    out.table(
      ["SCHEDULED", "RESULT", "DURATION", "STATE", "MESSAGE"],
      runs.map((run) => [
        formatUtc(run.scheduledTime as string),
        run.isOk ? color.green("OK") : color.red("FAIL"),
        formatMs(run.durationMs as number | undefined),
        String(run.state ?? ""),
        truncate(run.message as string, 60),
      ]),
    );
  out.line();
  out.heading("Last notifications");
  if (notifications.length === 0) out.line(color.dim("  none"));
  else
    out.table(
      ["DELIVERED", "TYPE", "RECIPIENTS", "SUBJECT"],
      notifications.map((notification) => [
        formatUtc(notification.deliveredAt as string),
        // An abandoned mail (SES refused it, or too many attempts) was never delivered: say so.
        notification.outcome === "abandoned"
          ? color.red(
              `${String(notification.type ?? "")} (abandoned: ${truncate(notification.error as string, 40)})`,
            )
          : notification.outcome === "dropped"
            ? color.dim(
                `${String(notification.type ?? "")} (not sent: ${truncate(notification.error as string, 40)})`,
              )
            : String(notification.type ?? ""),
        // Per-target items (one per recipient or channel) name a channel as `channel:<name>`.
        String(notification.target ?? "").startsWith("channel:")
          ? String(notification.target)
          : ((notification.recipients as string[] | undefined) ?? []).join(", "),
        truncate(notification.subject as string, 60),
      ]),
    );
}
