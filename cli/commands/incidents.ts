import { userInfo } from "node:os";
import type { Command } from "commander";
import {
  AckConflictError,
  AcknowledgementService,
  type AckOutcome,
  IncidentChangedError,
  InvalidAckRequestError,
  MonitorNotFoundError,
  NotInIncidentError,
} from "#core/ack.ts";
import { MonitorIdSchema } from "#core/schemas.ts";
import type { CommandContext, Runner } from "../context.ts";
import { CliError, UnknownMonitorError } from "../errors.ts";
import { INCIDENT_ATTRIBUTES, scanFleet } from "../fleet.ts";
import { formatAge, formatSpan, formatUtc, parseDuration, parseSince, plural, truncate } from "../format.ts";
import { type IncidentView, incidentView } from "../incidents.ts";
import type { MonitorsTable } from "../monitors-table.ts";

/** `ack`, `unack` (the ack use case of functions/core/ack.ts) and `incidents` (incident items). */

export function registerIncidentCommands(program: Command, run: Runner): void {
  program
    .command("ack")
    .description(
      "Acknowledge a monitor's incident: its reminders stop until it recovers (or for --for); RECOVERED still goes to everyone",
    )
    .argument("<id>", "monitor id")
    .option("--note <text>", "what is being done, shown in the RECOVERED mail and `incidents`")
    .option("--for <duration>", "reminders resume after this long (e.g. 30m, 4h; at most 30d)")
    .option("--by <who>", "who acknowledges (env WATCHKEEPER_USER; default: the OS user name)")
    .option(
      "--incident <start>",
      "only if this incident is still the open one (its start, as `incidents` shows it); else nothing is acknowledged",
    )
    .addHelpText(
      "after",
      [
        "",
        "Acknowledging again as the same person keeps the first time and updates the note or expiry;",
        "someone else's ack replaces it. `watchkeeper unack <id>` lets the reminders resume.",
        "",
        CLOCK_HELP,
        "Examples:",
        '  watchkeeper ack api-health --note "DB failover in progress" --for 4h',
      ].join("\n"),
    )
    .action((id: string, _options, command: Command) => run(command, (context) => ack(context, id)));

  program
    .command("unack")
    .description("Remove the acknowledgement of a monitor's incident: reminders resume")
    .argument("<id>", "monitor id")
    .option("--by <who>", "who unacknowledges (env WATCHKEEPER_USER; default: the OS user name)")
    .addHelpText("after", `\n${CLOCK_HELP}`)
    .action((id: string, _options, command: Command) => run(command, (context) => unack(context, id)));

  program
    .command("incidents")
    .description(
      "Incidents (ALERT to RECOVERED) open or resolved in the window: duration, who acknowledged, mail sent (one monitor: a Query of its incident# items only; else a scan)",
    )
    .argument("[id]", "only this monitor's incidents")
    .option("--since <when>", "a duration (24h, 7d) or an ISO time", "7d")
    .option("--open", "only incidents still open")
    .action((id: string | undefined, _options, command: Command) =>
      run(command, (context) => incidents(context, id)),
    );
}

/** Below this, this machine's clock and DynamoDB's agree (DynamoDB's Date header has whole seconds). */
export const CLOCK_SKEW_TOLERANCE_MS = 5_000;

const CLOCK_HELP = [
  "Times: DynamoDB has no clock of its own to write with, so the ack's time (and the expiry --for",
  "counts from) is this machine's clock, unless it is 5 s or more off DynamoDB's (the Date of its",
  "responses, as the AWS SDK samples it): then DynamoDB's clock is used, and a warning says so.",
].join("\n");

/**
 * When an ack or unack happens: this machine's clock, or DynamoDB's when they differ by
 * CLOCK_SKEW_TOLERANCE_MS or more. The orchestrator compares an ack's expiry with tick times from
 * AWS's clock, and MTTA subtracts the incident's start from the ack's time: an operator's clock
 * minutes off would shift both. The AWS SDK's clock-skew correction sets the client's
 * `systemClockOffset` (server time minus local time) from the Date header of every response;
 * one small read (does the monitor exist) samples it before the time is taken.
 */
/** "7 s", "10 min", "3 h": a clock difference sampled to the second, rounded. */
function roughSpan(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1000);
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

async function actionTime(context: CommandContext, table: MonitorsTable, monitorId: string): Promise<Date> {
  if (!(await table.exists(monitorId))) throw new UnknownMonitorError(monitorId);
  const offset = context.target.dynamodb.config.systemClockOffset ?? 0;
  if (Math.abs(offset) < CLOCK_SKEW_TOLERANCE_MS) return context.now;
  context.out.note(
    `this machine's clock is about ${roughSpan(offset)} ${offset > 0 ? "behind" : "ahead of"} DynamoDB's: the times written are DynamoDB's`,
  );
  return new Date(context.now.getTime() + offset);
}

/** Who acts: --by, else WATCHKEEPER_USER, else the OS user (the core sanitises whichever it is). */
export function actor(context: CommandContext): string {
  const given = context.options.by ?? context.io.env.WATCHKEEPER_USER;
  if (typeof given === "string") return given;
  try {
    return userInfo().username;
  } catch {
    throw new CliError("cannot tell who you are: pass --by <name> (or set WATCHKEEPER_USER)", 2);
  }
}

function checkedId(monitorId: string): string {
  if (!MonitorIdSchema.safeParse(monitorId).success)
    throw new CliError(`"${monitorId}" is not a monitor id`, 2);
  return monitorId;
}

/** The use case's refusals as the CLI's errors. */
async function acting(monitorId: string, action: () => Promise<AckOutcome>): Promise<AckOutcome> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof MonitorNotFoundError) throw new UnknownMonitorError(monitorId);
    if (error instanceof NotInIncidentError) throw new CliError(error.message);
    if (error instanceof InvalidAckRequestError) throw new CliError(error.message, 2);
    if (error instanceof AckConflictError) throw new CliError(error.message);
    if (error instanceof IncidentChangedError) throw new CliError(error.message);
    throw error;
  }
}

async function ack(context: CommandContext, id: string): Promise<void> {
  const { out, options } = context;
  const monitorId = checkedId(id);
  const forMs = typeof options.for === "string" ? parseDuration(options.for) : undefined;
  const table = await context.table();
  const now = await actionTime(context, table, monitorId);
  const service = new AcknowledgementService({ store: table.store() });
  const note = typeof options.note === "string" ? options.note : undefined;
  const incident = typeof options.incident === "string" ? options.incident : undefined;
  const outcome = await acting(monitorId, () =>
    service.acknowledge(
      monitorId,
      {
        by: actor(context),
        ...(note !== undefined ? { note } : {}),
        ...(forMs !== undefined ? { forMs } : {}),
        ...(incident !== undefined ? { incident } : {}),
      },
      now,
    ),
  );
  if (out.json) {
    out.data(outcome);
    return;
  }
  const acked = outcome.ack;
  if (!acked) return;
  const lead = outcome.changed
    ? outcome.previous && outcome.previous.by !== acked.by
      ? `Acknowledged ${out.color.bold(monitorId)} (taking over from ${outcome.previous.by})`
      : `Acknowledged ${out.color.bold(monitorId)}`
    : `${out.color.bold(monitorId)} was already acknowledged by ${acked.by}: nothing changed`;
  out.line(`${lead}.`);
  out.fields([
    ["incident", `since ${formatUtc(outcome.incidentStart)} (${formatAge(outcome.incidentStart, now)})`],
    ["by", `${acked.by} at ${formatUtc(acked.at)}`],
    ...(acked.note ? ([["note", acked.note]] as Array<[string, string]>) : []),
    [
      "reminders",
      acked.until
        ? `silenced until ${formatUtc(acked.until)} (in ${formatSpan(Date.parse(acked.until) - now.getTime())}), then they resume`
        : "silenced until the monitor recovers",
    ],
    ...(outcome.lastFailureMessage
      ? ([["last failure", truncate(outcome.lastFailureMessage, 100)]] as Array<[string, string]>)
      : []),
  ]);
  out.line(`RECOVERED still goes to everyone. \`watchkeeper unack ${monitorId}\` resumes the reminders.`);
}

async function unack(context: CommandContext, id: string): Promise<void> {
  const { out } = context;
  const monitorId = checkedId(id);
  const table = await context.table();
  const now = await actionTime(context, table, monitorId);
  const service = new AcknowledgementService({ store: table.store() });
  const outcome = await acting(monitorId, () =>
    service.unacknowledge(monitorId, { by: actor(context) }, now),
  );
  if (out.json) out.data(outcome);
  else if (!outcome.changed) out.line(`${monitorId} is not acknowledged: nothing changed.`);
  else
    out.line(
      `Removed the acknowledgement of ${out.color.bold(monitorId)} (by ${outcome.previous?.by}): reminders resume, the next one as soon as its window has passed.`,
    );
}

/** The first acknowledgement and how long it took (MTTA's measure), then who holds it now. */
function acknowledged(view: IncidentView, color: CommandContext["out"]["color"]): string {
  const first = view.firstAcknowledgedBy ?? view.acknowledgedBy;
  if (!first) return color.dim("-");
  const after = view.timeToAckMs !== null ? ` after ${formatSpan(view.timeToAckMs)}` : "";
  const now =
    view.acknowledgedBy === null
      ? ", unacked"
      : view.acknowledgedBy !== first
        ? `, now ${truncate(view.acknowledgedBy, 20)}`
        : "";
  return `${truncate(first, 24)}${after}${now}`;
}

function notified(view: IncidentView): string {
  const { alert, reminder, recovery, abandoned } = view.notifications;
  const parts = [
    alert > 0 ? `${alert} alert` : "",
    reminder > 0 ? plural(reminder, "reminder") : "",
    recovery > 0 ? `${recovery} recovery` : "",
    abandoned > 0 ? `${abandoned} abandoned` : "",
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(", ") : "none";
}

async function incidents(context: CommandContext, id: string | undefined): Promise<void> {
  const { out, options, now } = context;
  const since = parseSince(String(options.since), now);
  const table = await context.table();
  let views: IncidentView[];
  if (id !== undefined) {
    const monitorId = checkedId(id);
    const { exists, state, items } = await table.incidentsOf(monitorId, {
      since,
      attributes: INCIDENT_ATTRIBUTES,
    });
    if (!exists && items.length === 0) throw new UnknownMonitorError(monitorId);
    views = items.map((item) => incidentView(item, state, now));
  } else {
    const fleet = await scanFleet(table, { incidentsSince: since });
    const states = new Map(fleet.monitors.map((monitor) => [monitor.monitorId, monitor.state]));
    views = fleet.incidents.map((item) => incidentView(item, states.get(String(item.monitorId)), now));
  }
  views = views
    .filter(
      (view) => view.status === "open" || Date.parse(view.resolvedAt ?? view.openedAt) >= since.getTime(),
    )
    .filter((view) => options.open !== true || view.status === "open")
    .sort((a, b) => b.openedAt.localeCompare(a.openedAt) || a.monitorId.localeCompare(b.monitorId));
  if (out.json) {
    out.data({ since: since.toISOString(), until: now.toISOString(), incidents: views });
    return;
  }
  if (views.length === 0) {
    out.line(`No incidents since ${formatUtc(since.toISOString())}.`);
    return;
  }
  const { color } = out;
  out.heading(`Incidents since ${formatUtc(since.toISOString())} (newest first)`);
  out.table(
    ["MONITOR", "OPENED", "STATUS", "DURATION", "ACKNOWLEDGED", "MAIL SENT", "LAST FAILURE"],
    views.map((view) => [
      view.monitorId,
      `${formatUtc(view.openedAt)}${view.adopted ? "*" : ""}`,
      view.status === "open"
        ? color.red("open")
        : view.status === "resolved"
          ? color.green("resolved")
          : color.yellow("closed"),
      view.durationMs === null ? "-" : `${formatSpan(view.durationMs)}${view.status === "open" ? "+" : ""}`,
      acknowledged(view, color),
      notified(view),
      truncate(view.lastFailureMessage ?? view.firstFailureMessage ?? "", 50),
    ]),
  );
  if (views.some((view) => view.adopted))
    out.line(color.dim("* already in alert when incidents began to be recorded: opened earlier than shown"));
  if (views.some((view) => view.status === "closed"))
    out.line(color.dim("closed: ended without a recovery (the monitor's state was reset or removed)"));
}
