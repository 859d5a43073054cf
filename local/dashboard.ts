import type { WriteStream } from "node:tty";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import Table from "cli-table3";
import pc from "picocolors";
import { type MonitorRow, readMonitorRows } from "./monitor-rows.ts";
import type { LocalRuntime } from "./runtime.ts";
import { LOCAL_CREDENTIALS } from "./servers.ts";

/**
 * What `npm start` shows: on a terminal, a table of the monitors redrawn in place with the latest
 * notifications and problems under it; otherwise (piped, CI) one plain line per run, state change
 * and notification. Everything is read from the wire: the table, the scheduler's view, the inbox.
 */

export interface DashboardOptions {
  runtime: LocalRuntime;
  out: NodeJS.WritableStream & Partial<Pick<WriteStream, "isTTY" | "columns">>;
  /** Lines shown above the table (endpoints, inbox URL). */
  header: string[];
  /** @default 1000 */
  refreshMs?: number;
}

export interface Dashboard {
  /** Adds a line to the event list (TTY) or prints it (plain). */
  note(line: string): void;
  stop(): Promise<void>;
}

interface CapturedMail {
  messageId: string;
  subject: string;
  destination: { to: string[] };
  at: number;
}

const RECENT_EVENTS = 8;

function clock(date: Date = new Date()): string {
  return date.toTimeString().slice(0, 8);
}

function relative(target: Date, now: number): string {
  const seconds = Math.round((target.getTime() - now) / 1000);
  const magnitude = Math.abs(seconds);
  const text =
    magnitude < 60
      ? `${magnitude}s`
      : magnitude < 3600
        ? `${Math.floor(magnitude / 60)}m ${String(magnitude % 60).padStart(2, "0")}s`
        : magnitude < 86_400
          ? `${Math.floor(magnitude / 3600)}h ${String(Math.floor((magnitude % 3600) / 60)).padStart(2, "0")}m`
          : `${Math.floor(magnitude / 86_400)}d ${Math.floor((magnitude % 86_400) / 3600)}h`;
  return seconds >= 0 ? `in ${text}` : `${text} ago`;
}

/** Largest unit only, for narrow cells. */
function ago(target: Date, now: number): string {
  const seconds = Math.max(0, Math.round((now - target.getTime()) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

function stateCell(row: MonitorRow): string {
  if (!row.isActive) return pc.dim("inactive");
  if (row.scheduleError) return pc.yellow(row.schedule ? "bad schedule" : "unschedulable");
  if (row.state === "alert") return pc.red(pc.bold("ALERT"));
  if (row.state === "ok") return pc.green("OK");
  return pc.dim("waiting");
}

/** Word-wraps text into at most `lines` lines of `width` characters, ending with "…" if cut. */
function clip(text: string, width: number, lines: number): string {
  const words = text.replaceAll(/\s+/g, " ").trim().split(" ");
  const rows: string[] = [];
  let current = "";
  for (let word of words) {
    while (word.length > 0) {
      const room = width - (current ? current.length + 1 : 0);
      if (word.length <= room) {
        current = current ? `${current} ${word}` : word;
        word = "";
      } else if (current && word.length <= width) {
        rows.push(current);
        current = "";
      } else {
        // A word longer than a line (a URL): split it where the line ends.
        const take = Math.max(room, 1);
        rows.push(current ? `${current} ${word.slice(0, take - 1)}` : word.slice(0, take));
        word = word.slice(current ? take - 1 : take);
        current = "";
      }
    }
  }
  if (current) rows.push(current);
  if (rows.length <= lines) return rows.join("\n");
  const kept = rows.slice(0, lines);
  const last = kept[lines - 1] ?? "";
  kept[lines - 1] = `${last.slice(0, width - 1)}…`;
  return kept.join("\n");
}

function resultCell(row: MonitorRow, width: number, now: number): string {
  if (row.scheduleError) return pc.yellow(clip(row.scheduleError, width, 2));
  if (row.lastResultOk === undefined) return pc.dim("no run yet");
  const mark = row.lastResultOk ? pc.green("✓") : pc.red("✗");
  // When it was written: a quiet healthy monitor's state is only rewritten every heartbeat.
  const age = row.lastRunDt ? `${ago(new Date(row.lastRunDt), now)} ` : "";
  const text = clip(`${age}${row.lastResultMessage ?? ""}`, width - 2, 2).replaceAll("\n", "\n  ");
  return `${mark} ${age ? `${pc.dim(age.trim())}${text.slice(age.trim().length)}` : text}`;
}

/** Under the table when write on change is on: why a healthy monitor's last result may look old. */
function heartbeatNote(rows: MonitorRow[]): string {
  const minutes = rows.find((row) => row.stateHeartbeatMinutes)?.stateHeartbeatMinutes;
  return minutes
    ? pc.dim(
        `Quiet healthy runs rewrite a monitor's state every ${minutes} min (stateHeartbeatMinutes): "last result" of an OK monitor may be that old.`,
      )
    : "";
}

function mailCell(row: MonitorRow, now: number): string {
  if (!row.lastNotificationType || !row.lastNotificationDt) return pc.dim("-");
  return `${row.lastNotificationType}\n${pc.dim(ago(new Date(row.lastNotificationDt), now))}`;
}

function nextRunCell(row: MonitorRow, now: number): string {
  const schedule = row.schedule;
  if (!schedule) return row.scheduleError ? pc.yellow("never") : pc.dim("no schedule");
  if (!schedule.enabled) return pc.dim("disabled");
  return schedule.nextRun ? relative(schedule.nextRun, now) : pc.dim("never");
}

// Widths include the cell padding; "last result" takes what the terminal has left.
const WIDTHS = { monitor: 30, schedule: 25, state: 14, next: 12, mail: 12 } as const;

function renderTable(rows: MonitorRow[], width: number): string {
  const fixed = Object.values(WIDTHS).reduce((sum, w) => sum + w, 0);
  const borders = 7;
  const resultWidth = Math.max(24, width - fixed - borders);
  const table = new Table({
    head: ["monitor", "schedule", "state", "last result", "next run", "last mail"].map((title) =>
      pc.bold(title),
    ),
    colWidths: [WIDTHS.monitor, WIDTHS.schedule, WIDTHS.state, resultWidth, WIDTHS.next, WIDTHS.mail],
    wordWrap: false,
    style: { head: [], border: [] },
  });
  const now = Date.now();
  for (const row of rows) {
    // Without a schedule, what the config item asks for (it cannot be scheduled, or not yet).
    const written = row.configSchedule ?? "rate(5 minutes)";
    const schedule = row.schedule
      ? `${row.schedule.expression}\n${pc.dim(row.schedule.timezone)}`
      : row.scheduleError
        ? `${pc.yellow(written)}\n${pc.dim(row.configTimezone ?? "")}`
        : pc.dim("-");
    table.push([
      `${row.monitorId}\n${pc.dim(row.check)}`,
      schedule,
      stateCell(row),
      // Cell padding takes one character on each side.
      resultCell(row, resultWidth - 2, now),
      nextRunCell(row, now),
      mailCell(row, now),
    ]);
  }
  return rows.length > 0
    ? table.toString()
    : pc.dim("No monitors yet: add a config item (see docs/local.md).");
}

export function startDashboard(options: DashboardOptions): Dashboard {
  const { runtime, out } = options;
  const interactive = out.isTTY === true;
  const client = new DynamoDBClient({
    endpoint: runtime.endpoints.dynamodb,
    region: runtime.endpoints.region,
    credentials: LOCAL_CREDENTIALS,
  });
  const doc = DynamoDBDocumentClient.from(client);
  const events: string[] = [];
  const seenMail = new Set<string>();
  const lastRuns = new Map<string, string | undefined>();
  const lastStates = new Map<string, string | undefined>();
  const lastErrors = new Map<string, string | undefined>();
  let rows: MonitorRow[] = [];
  let stopped = false;
  let readError: string | undefined;

  const note = (line: string) => {
    const stamped = `${pc.dim(clock())} ${line}`;
    if (interactive) {
      events.push(stamped);
      events.splice(0, Math.max(0, events.length - RECENT_EVENTS));
      draw();
    } else {
      out.write(`${stamped}\n`);
    }
  };

  function draw(): void {
    if (!interactive || stopped) return;
    const width = out.columns ?? 120;
    const frame = [
      ...options.header,
      "",
      renderTable(rows, width),
      heartbeatNote(rows),
      readError ? pc.yellow(`(table not readable right now: ${readError})`) : "",
      pc.bold("Recent notifications and problems"),
      ...(events.length > 0 ? events : [pc.dim("  none yet")]),
      "",
      pc.dim("Ctrl-C stops everything."),
    ];
    // Redraw in place: home, each line cleared to its end, then everything below cleared.
    out.write(`\x1b[H${frame.join("\x1b[K\n")}\x1b[K\n\x1b[J`);
  }

  async function checkInbox(): Promise<void> {
    const response = await fetch(`${runtime.endpoints.ses}/store`);
    const { emails } = (await response.json()) as { emails: CapturedMail[] };
    for (const mail of emails) {
      if (seenMail.has(mail.messageId)) continue;
      seenMail.add(mail.messageId);
      const kind = /^\[Monitor (\w+)\]/.exec(mail.subject)?.[1];
      const colour = kind === "ALERT" ? pc.red : kind === "RECOVERED" ? pc.green : pc.yellow;
      note(`${colour("✉")} ${colour(mail.subject)} ${pc.dim(`→ ${mail.destination.to.join(", ")}`)}`);
    }
  }

  let primed = false;
  function reportChanges(): void {
    if (interactive) return;
    for (const row of rows) {
      // What the table held before this start (a persisted --data dir) is not news.
      if (!primed) {
        lastRuns.set(row.monitorId, row.lastRunDt);
        lastStates.set(row.monitorId, row.state);
        lastErrors.set(row.monitorId, row.scheduleError);
        continue;
      }
      if (row.lastRunDt && lastRuns.get(row.monitorId) !== row.lastRunDt) {
        const mark = row.lastResultOk ? "ok  " : "FAIL";
        note(`run   ${row.monitorId} @ ${row.lastRunDt}: ${mark} ${row.lastResultMessage ?? ""}`);
      }
      if (row.scheduleError && lastErrors.get(row.monitorId) !== row.scheduleError) {
        note(`${pc.yellow("unschedulable")} ${row.monitorId}: ${row.scheduleError}`);
      }
      lastErrors.set(row.monitorId, row.scheduleError);
      if (lastStates.has(row.monitorId) && lastStates.get(row.monitorId) !== row.state && row.state) {
        note(`state ${row.monitorId}: ${lastStates.get(row.monitorId) ?? "new"} -> ${row.state}`);
      }
      lastRuns.set(row.monitorId, row.lastRunDt);
      lastStates.set(row.monitorId, row.state);
    }
    primed = true;
  }

  async function refresh(): Promise<void> {
    try {
      rows = await readMonitorRows(doc, runtime.endpoints.tableName, await runtime.schedules.schedules());
      readError = undefined;
      reportChanges();
      await checkInbox();
    } catch (error) {
      if (stopped) return;
      readError = error instanceof Error ? error.message : String(error);
    }
    draw();
  }

  if (interactive) out.write("\x1b[2J");
  else for (const line of options.header) out.write(`${line}\n`);
  let running = refresh();
  const timer = setInterval(() => {
    running = running.then(refresh);
  }, options.refreshMs ?? 1000);

  return {
    note,
    async stop() {
      clearInterval(timer);
      await running;
      stopped = true;
      client.destroy();
    },
  };
}
