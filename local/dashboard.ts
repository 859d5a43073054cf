import type { WriteStream } from "node:tty";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import pc from "picocolors";
import { type DashboardHeader, renderFrame, renderHeader, Screen } from "./dashboard-view.ts";
import { type MonitorRow, readMonitorRows } from "./monitor-rows.ts";
import type { LocalRuntime } from "./runtime.ts";
import { LOCAL_CREDENTIALS } from "./servers.ts";
import { cellText } from "./terminal-text.ts";

/**
 * What `npm start` shows: on a terminal, a table of the monitors redrawn in place with the latest
 * notifications and problems under it, fitted to the window (local/dashboard-view.ts); otherwise
 * (piped, CI) one plain line per run, state change and notification. Everything is read from the
 * wire: the table, the scheduler's view, the inbox.
 */

export interface DashboardOptions {
  runtime: LocalRuntime;
  out: NodeJS.WritableStream & Partial<Pick<WriteStream, "isTTY" | "columns" | "rows">>;
  /**
   * Above the table: a title, then labelled URLs (inbox, dashboard, channel receiver, endpoints,
   * files), each on its own line and never cut.
   */
  header: DashboardHeader;
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

  const screen = interactive ? new Screen(out) : undefined;

  function draw(): void {
    if (!screen || stopped) return;
    const frame = renderFrame(
      { header: options.header, rows, events, readError, now: Date.now() },
      screen.width,
      screen.height,
    );
    screen.draw(frame);
  }
  if (screen) screen.onResize = draw;

  async function checkInbox(): Promise<void> {
    const response = await fetch(`${runtime.endpoints.ses}/store`);
    const { emails } = (await response.json()) as { emails: CapturedMail[] };
    for (const mail of emails) {
      if (seenMail.has(mail.messageId)) continue;
      seenMail.add(mail.messageId);
      const kind = /^\[Monitor (\w+)\]/.exec(mail.subject)?.[1];
      const colour = kind === "ALERT" ? pc.red : kind === "RECOVERED" ? pc.green : pc.yellow;
      // The subject holds the monitor's name: anyone who can write the table chose it.
      const to = mail.destination.to.map(cellText).join(", ");
      note(`${colour("✉")} ${colour(cellText(mail.subject))} ${pc.dim(`→ ${to}`)}`);
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
        note(
          `run   ${row.monitorId} @ ${cellText(row.lastRunDt)}: ${mark} ${cellText(row.lastResultMessage ?? "")}`,
        );
      }
      if (row.scheduleError && lastErrors.get(row.monitorId) !== row.scheduleError) {
        note(`${pc.yellow("unschedulable")} ${row.monitorId}: ${cellText(row.scheduleError)}`);
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

  // Piped: the header once, plain, every URL whole on its line.
  if (!interactive)
    for (const line of renderHeader(options.header, Number.POSITIVE_INFINITY)) out.write(`${line}\n`);
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
      screen?.dispose();
      client.destroy();
    },
  };
}
