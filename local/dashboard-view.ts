import type { EventEmitter } from "node:events";
import Table from "cli-table3";
import pc from "picocolors";
import type { MonitorRow } from "./monitor-rows.ts";
import { cellText, clipToWidth, displayWidth, stripAnsi, wrapToWidth } from "./terminal-text.ts";

/**
 * The `npm start` terminal view, as lines that fit the terminal: pure (rows in, lines out) so that
 * it can be rendered at any width in tests. Every line fits `width` columns, counted as the
 * terminal draws them (colour codes take none, wide characters two); the last column is left free
 * so that no terminal wraps a full line. The URLs of the header are the exception that proves it:
 * never cut, each on its own line (alone on it when the label does not fit beside it), so that
 * they stay whole to click and copy even in a window narrower than one of them.
 */

/** One labelled URL (or path) of the header: the inbox, the dashboard, a channel receiver, the logs. */
export interface HeaderLink {
  label: string;
  url: string;
  /** A short note after the URL, shown only when it fits beside it. */
  hint?: string;
}

export interface DashboardHeader {
  /** The first line (cut to the width when too long). */
  title: string;
  /** Each on its own line, in this order; the URL is never cut. */
  links: readonly HeaderLink[];
}

export interface FrameInput {
  header: DashboardHeader;
  rows: readonly MonitorRow[];
  /** Recent notifications and problems, oldest first (each may be cut to two lines). */
  events: readonly string[];
  readError?: string | undefined;
  now: number;
}

/** Narrowest terminal the layout is made for: narrower ones still get every line cut to fit. */
export const MIN_WIDTH = 60;

/** Fewest columns left for "last result" before another column is dropped. */
const RESULT_MIN = 24;
const LABEL_MAX = 12;

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

/** Lines of a cell, each given its colour (cli-table3 and clipping both work line by line). */
type Cell = string[];

function stateCell(row: MonitorRow): Cell {
  if (!row.isActive) return [pc.dim("inactive")];
  if (row.scheduleError) return [pc.yellow(row.schedule ? "bad schedule" : "unschedulable")];
  if (row.state === "alert") return [pc.red(pc.bold("ALERT"))];
  if (row.state === "ok") return [pc.green("OK")];
  return [pc.dim("waiting")];
}

function monitorCell(row: MonitorRow): Cell {
  return [cellText(row.monitorId), pc.dim(cellText(row.check))];
}

function scheduleCell(row: MonitorRow): Cell {
  if (row.schedule) return [cellText(row.schedule.expression), pc.dim(cellText(row.schedule.timezone))];
  // Without a schedule, what the config item asks for (it cannot be scheduled, or not yet).
  if (row.scheduleError)
    return [
      pc.yellow(cellText(row.configSchedule ?? "rate(5 minutes)")),
      pc.dim(cellText(row.configTimezone ?? "")),
    ];
  return [pc.dim("-")];
}

function nextRunCell(row: MonitorRow, now: number): Cell {
  const schedule = row.schedule;
  if (!schedule) return [row.scheduleError ? pc.yellow("never") : pc.dim("no schedule")];
  if (!schedule.enabled) return [pc.dim("disabled")];
  return [schedule.nextRun ? relative(schedule.nextRun, now) : pc.dim("never")];
}

function mailCell(row: MonitorRow, now: number): Cell {
  if (!row.lastNotificationType || !row.lastNotificationDt) return [pc.dim("-")];
  return [cellText(row.lastNotificationType), pc.dim(ago(new Date(row.lastNotificationDt), now))];
}

/** "last result": the mark, how old, and the check's message, word-wrapped into two lines with "…". */
function resultCell(row: MonitorRow, width: number, now: number): Cell {
  if (row.scheduleError)
    return wrapToWidth(cellText(row.scheduleError), width, 2).map((line) => pc.yellow(line));
  if (row.lastResultOk === undefined) return [pc.dim("no run yet")];
  const mark = row.lastResultOk ? pc.green("✓") : pc.red("✗");
  // When it was written: a quiet healthy monitor's state is only rewritten every heartbeat.
  const age = row.lastRunDt ? ago(new Date(row.lastRunDt), now) : "";
  const text = [age, cellText(row.lastResultMessage ?? "")].filter(Boolean).join(" ");
  const [first = "", ...rest] = wrapToWidth(text, Math.max(1, width - 2), 2);
  const lead = age && first.startsWith(age) ? `${pc.dim(age)}${first.slice(age.length)}` : first;
  return [`${mark} ${lead}`, ...rest.map((line) => `  ${line}`)];
}

interface Column {
  title: string;
  min: number;
  max: number;
  cell(row: MonitorRow, now: number): Cell;
}

const COLUMNS = {
  monitor: { title: "monitor", min: 12, max: 32, cell: monitorCell },
  schedule: { title: "schedule", min: 12, max: 26, cell: scheduleCell },
  state: { title: "state", min: 8, max: 13, cell: stateCell },
  next: { title: "next run", min: 8, max: 11, cell: nextRunCell },
  mail: { title: "last mail", min: 7, max: 9, cell: mailCell },
} satisfies Record<string, Column>;
type ColumnName = keyof typeof COLUMNS;

/**
 * Columns shown, widest set first: as the terminal narrows, "schedule" goes first, then "last
 * mail", then "next run"; "monitor", "state" and "last result" always stay. "last result" sits
 * after "state" and takes what is left.
 */
const COLUMN_SETS: ReadonlyArray<readonly ColumnName[]> = [
  ["monitor", "schedule", "state", "next", "mail"],
  ["monitor", "state", "next", "mail"],
  ["monitor", "state", "next"],
  ["monitor", "state"],
];

/** Room taken by borders and cell padding around `columns` content columns. */
const chrome = (columns: number) => columns + 1 + 2 * columns;

interface Layout {
  names: readonly ColumnName[];
  /** Content widths (without padding) of the named columns. */
  widths: number[];
  result: number;
}

/**
 * The widest column set whose columns get their natural width (their longest line, within their
 * bounds) with at least RESULT_MIN left for "last result"; failing that, the narrowest set with
 * its widest columns shrunk (their text then ends with "…") until "last result" has RESULT_MIN.
 */
function layout(cells: Map<ColumnName, Cell[]>, width: number): Layout {
  const natural = (name: ColumnName) => {
    const column: Column = COLUMNS[name];
    const longest = Math.max(
      displayWidth(column.title),
      ...(cells.get(name) ?? []).flatMap((cell) => cell.map(displayWidth)),
    );
    return Math.min(column.max, Math.max(column.min, longest));
  };
  const planFor = (names: readonly ColumnName[], widths: number[]): Layout => ({
    names,
    widths,
    result: width - chrome(names.length + 1) - widths.reduce((sum, w) => sum + w, 0),
  });
  for (const names of COLUMN_SETS) {
    const candidate = planFor(names, names.map(natural));
    if (candidate.result >= RESULT_MIN) return candidate;
  }
  const names = COLUMN_SETS[COLUMN_SETS.length - 1] ?? [];
  const widths = names.map(natural);
  for (;;) {
    const { result } = planFor(names, widths);
    // Shrink the column with the most room above its minimum.
    let widest = -1;
    for (let index = 0; index < names.length; index++) {
      const name = names[index] as ColumnName;
      const spare = (widths[index] ?? 0) - COLUMNS[name].min;
      if (
        spare > 0 &&
        (widest === -1 || spare > (widths[widest] ?? 0) - COLUMNS[names[widest] as ColumnName].min)
      )
        widest = index;
    }
    if (result >= RESULT_MIN || widest === -1) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
  return planFor(names, widths);
}

/** The table as lines of exactly `width` columns (less when there are no monitors). */
export function renderTable(rows: readonly MonitorRow[], width: number, now: number): string[] {
  if (rows.length === 0)
    return wrapToWidth("No monitors yet: add a config item (see docs/local.md).", width, 3).map(pc.dim);
  const names = Object.keys(COLUMNS) as ColumnName[];
  const cells = new Map(names.map((name) => [name, rows.map((row) => COLUMNS[name].cell(row, now))]));
  const plan = layout(cells, width);
  const result = Math.max(1, plan.result);
  const order: Array<ColumnName | "result"> = [...plan.names];
  order.splice(order.indexOf("state") + 1, 0, "result");
  const widthOf = (name: ColumnName | "result") =>
    name === "result" ? result : (plan.widths[plan.names.indexOf(name)] ?? 1);
  const table = new Table({
    head: order.map((name) =>
      pc.bold(clipToWidth(name === "result" ? "last result" : COLUMNS[name].title, widthOf(name))),
    ),
    // cli-table3's widths include the padding of one space on each side.
    colWidths: order.map((name) => widthOf(name) + 2),
    wordWrap: false,
    style: { head: [], border: [] },
  });
  rows.forEach((row, index) => {
    table.push(
      order.map((name) => {
        const cell = name === "result" ? resultCell(row, result, now) : (cells.get(name)?.[index] ?? []);
        return cell.map((line) => clipToWidth(line, widthOf(name))).join("\n");
      }),
    );
  });
  return table.toString().split("\n");
}

/** The header: the title, then each labelled URL on its own line, whole. */
export function renderHeader(header: DashboardHeader, width: number): string[] {
  const lines = [clipToWidth(header.title, width)];
  const labelWidth = Math.min(
    LABEL_MAX,
    Math.max(0, ...header.links.map((link) => displayWidth(link.label))),
  );
  for (const link of header.links) {
    const url = pc.cyan(link.url);
    const label = cellText(link.label);
    const beside = `  ${label.padEnd(labelWidth)}  `;
    if (displayWidth(beside) + displayWidth(link.url) <= width) {
      const room = width - displayWidth(beside) - displayWidth(link.url) - 2;
      // The hint only when most of it fits: it is the part that may go.
      const hint =
        link.hint && room >= Math.min(16, displayWidth(link.hint))
          ? `  ${pc.dim(clipToWidth(link.hint, room))}`
          : "";
      lines.push(`${beside}${url}${hint}`);
    } else {
      // The URL alone on the next line, from the first column: never cut, even wider than the window.
      lines.push(clipToWidth(`  ${label}:`, width), url);
    }
  }
  return lines;
}

/** A note under the table, word-wrapped, dimmed. */
function notes(text: string, width: number, lines: number): string[] {
  return wrapToWidth(text, width, lines).map((line) => pc.dim(line));
}

/**
 * The whole view at `width` columns, at most `height` lines when given (the oldest events go
 * first, then the end of the table, replaced by a line that says so). Every line fits the width
 * but a header URL longer than the window.
 */
export function renderFrame(input: FrameInput, width: number, height?: number): string[] {
  // The last column stays free: a line that fills the width wraps early on some terminals.
  const usable = Math.max(1, width - 1);
  const top = [...renderHeader(input.header, width), ""];
  // Below MIN_WIDTH the columns' minimums may not fit: cut, rather than let the terminal wrap.
  let table = renderTable(input.rows, usable, input.now).map((line) => clipToWidth(line, usable));
  const minutes = input.rows.find((row) => row.stateHeartbeatMinutes)?.stateHeartbeatMinutes;
  const heartbeat = minutes
    ? notes(
        `Quiet healthy runs rewrite a monitor's state every ${minutes} min (stateHeartbeatMinutes): "last result" of an OK monitor may be that old.`,
        usable,
        3,
      )
    : [];
  const problem = input.readError
    ? [pc.yellow(clipToWidth(`(table not readable right now: ${cellText(input.readError)})`, usable))]
    : [];
  let events = input.events.map((event) => eventLines(event, usable));
  if (events.length === 0) events = [[pc.dim("  none yet")]];
  const footer = ["", pc.dim(clipToWidth("Ctrl-C stops everything.", usable))];
  const assemble = () => [
    ...top,
    ...table,
    ...heartbeat,
    ...problem,
    "",
    pc.bold(clipToWidth("Recent notifications and problems", usable)),
    ...events.flat(),
    ...footer,
  ];
  let frame = assemble();
  if (height !== undefined && height > 0) {
    // One line spare: the cursor ends below the frame, and that must not scroll the screen.
    const budget = height - 1;
    while (frame.length > budget && events.length > 1) {
      events = events.slice(1);
      frame = assemble();
    }
    if (frame.length > budget) {
      const over = frame.length - budget;
      const keep = Math.max(0, table.length - over - 1);
      table = [
        ...table.slice(0, keep),
        pc.dim(clipToWidth(`… ${table.length - keep} more lines: make the window taller`, usable)),
      ];
      frame = assemble();
    }
  }
  return frame;
}

/**
 * An event stamped by `note`: as it is when it fits, else word-wrapped into two lines (the second
 * indented) in plain text, cut with "…".
 */
function eventLines(event: string, width: number): string[] {
  if (displayWidth(event) <= width) return [event];
  return wrapToWidth(cellText(stripAnsi(event)), Math.max(1, width - 4), 2).map((line, index) =>
    index === 0 ? line : `    ${line}`,
  );
}

/** What Screen needs of a terminal stream (a tty.WriteStream has it all). */
export interface ScreenStream {
  write(chunk: string): unknown;
  columns?: number | undefined;
  rows?: number | undefined;
  on?: EventEmitter["on"];
  off?: EventEmitter["off"];
}

/**
 * Draws frames in place: home, each line then cleared to its end, and everything below the frame
 * cleared, so that a shorter or narrower frame leaves nothing of the previous one. After a resize
 * the whole screen is cleared first (the terminal may have re-flowed the old frame), and
 * `onResize` lets the owner redraw at once.
 */
export class Screen {
  readonly #out: ScreenStream;
  #clearAll = true;
  readonly #resized = () => {
    this.#clearAll = true;
    this.onResize?.();
  };
  onResize: (() => void) | undefined;

  constructor(out: ScreenStream) {
    this.#out = out;
    out.on?.("resize", this.#resized);
  }

  get width(): number {
    return this.#out.columns && this.#out.columns > 0 ? this.#out.columns : 120;
  }

  get height(): number | undefined {
    return this.#out.rows && this.#out.rows > 0 ? this.#out.rows : undefined;
  }

  draw(lines: readonly string[]): void {
    const width = this.width;
    // A line that fills the width needs no clearing (and EL there would erase its last character).
    const body = lines.map((line) => (displayWidth(line) >= width ? line : `${line}\x1b[K`)).join("\n");
    this.#out.write(`${this.#clearAll ? "\x1b[2J" : ""}\x1b[H${body}\n\x1b[J`);
    this.#clearAll = false;
  }

  dispose(): void {
    this.#out.off?.("resize", this.#resized);
  }
}
