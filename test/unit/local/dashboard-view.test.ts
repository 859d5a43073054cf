import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { type DashboardHeader, type FrameInput, renderFrame, Screen } from "../../../local/dashboard-view.ts";
import type { MonitorRow } from "../../../local/monitor-rows.ts";
import { clipToWidth, displayWidth, stripAnsi, wrapToWidth } from "../../../local/terminal-text.ts";

/**
 * The `npm start` view rendered into strings at chosen widths (issue 14: it wrapped at 80 columns
 * and garbled at 100, pushing the inbox URL off screen; its table was 124 columns wide whatever
 * the window). Widths are counted as a terminal draws them: colour codes take no column, East Asian
 * wide characters and emoji two.
 */

const NOW = Date.parse("2026-11-29T12:00:00.000Z");
const ago = (seconds: number) => new Date(NOW - seconds * 1000).toISOString();
const inSeconds = (seconds: number) => new Date(NOW + seconds * 1000);

function row(overrides: Partial<MonitorRow>): MonitorRow {
  return {
    monitorId: "demo-failing",
    name: "Demo: failing",
    check: "manual",
    isActive: true,
    state: "alert",
    lastResultOk: false,
    lastResultMessage: "Simulated outage: nightly export is 3 hours late",
    lastRunDt: ago(30),
    stateHeartbeatMinutes: undefined,
    lastNotificationType: "REMINDER",
    lastNotificationDt: ago(90),
    scheduleError: undefined,
    configSchedule: "rate(1 minute)",
    configTimezone: "UTC",
    schedule: {
      monitorId: overrides.monitorId ?? "demo-failing",
      expression: "rate(1 minute)",
      timezone: "UTC",
      enabled: true,
      nextRun: inSeconds(20),
      lastTick: null,
    },
    ...overrides,
  };
}

const ROWS: MonitorRow[] = [
  row({}),
  row({
    monitorId: "demo-every-2-minutes-chicago",
    state: "ok",
    lastResultOk: true,
    lastResultMessage: "監視対象のサーバーが応答しません（タイムアウト）。再試行してください 🚨🚨",
    stateHeartbeatMinutes: 30,
    schedule: {
      monitorId: "demo-every-2-minutes-chicago",
      expression: "cron(0/2 * * * ? *)",
      timezone: "America/Chicago",
      enabled: true,
      nextRun: inSeconds(65),
      lastTick: null,
    },
  }),
  row({
    monitorId: "demo-unschedulable",
    state: undefined,
    lastResultOk: undefined,
    lastResultMessage: undefined,
    lastRunDt: undefined,
    lastNotificationType: undefined,
    lastNotificationDt: undefined,
    schedule: undefined,
    configSchedule: "cron(0 0 31 2 ? *)",
    scheduleError:
      "cron(0 0 31 2 ? *) never fires: February has no 31st. Pick a day that exists in every month it names.",
  }),
  row({
    monitorId: `a-very-long-monitor-id-${"x".repeat(40)}`,
    check: "http",
    // Escape sequences from the table must neither move the cursor nor count as width.
    lastResultMessage: `HTTP 503 from https://api.example.org/a/very/long/path/${"segment/".repeat(12)} \x1b[2J\x1b]0;pwned\x07 body: \r\n\t${"y".repeat(200)}`,
  }),
];

const HEADER: DashboardHeader = {
  title:
    "\x1b[1mWatchkeeper local\x1b[22m \x1b[2m(data in /home/someone/projects/watchkeeper/.watchkeeper/data, scheduler on)\x1b[22m",
  links: [
    { label: "inbox", url: "http://127.0.0.1:8005/", hint: "<- every email sent lands here" },
    { label: "dashboard", url: "http://127.0.0.1:8020/?signin=local-7f3a9c2e" },
    { label: "channels", url: "http://127.0.0.1:8030/channels/receiver" },
    { label: "sqs", url: "http://127.0.0.1:4566/000000000000/watchkeeper-ticks.fifo" },
    { label: "logs", url: "/home/someone/projects/watchkeeper/.watchkeeper/runtime.log" },
  ],
};

const INPUT: FrameInput = {
  header: HEADER,
  rows: ROWS,
  events: [
    "\x1b[2m12:00:01\x1b[22m seeded 6 example monitors: alerts, reminders and recoveries within ~5 minutes",
    `\x1b[2m12:00:05\x1b[22m \x1b[31m✉\x1b[39m \x1b[31m[Monitor ALERT] Demo: failing, reminders every 2 minutes\x1b[39m \x1b[2m→ demo@example.com, oncall@example.com\x1b[22m`,
    "\x1b[33mDynamoDB Local listens on all interfaces (port 8000), not only 127.0.0.1: this Java has no compiler (jdk.compiler) for its loopback launcher. Install a JDK (openjdk-17-jdk-headless) or firewall the port (docs/local.md).\x1b[39m",
  ],
  now: NOW,
};

const plain = (lines: readonly string[]) => lines.map(stripAnsi);

describe("display width", () => {
  it("counts colour codes as nothing, wide characters and emoji as two, combining marks as none", () => {
    expect(displayWidth("\x1b[31mALERT\x1b[39m")).toBe(5);
    expect(displayWidth("監視")).toBe(4);
    expect(displayWidth("ｱｲ")).toBe(2); // halfwidth katakana
    expect(displayWidth("ＡＢ")).toBe(4); // fullwidth Latin
    expect(displayWidth("🚨")).toBe(2);
    expect(displayWidth("👍🏽")).toBe(2);
    expect(displayWidth("e\u0301")).toBe(1);
    expect(displayWidth("✓ ✗ ✉")).toBe(5);
  });

  it("clips by columns, never splitting a wide character, and closes a colour it cut", () => {
    expect(clipToWidth("監視対象", 5)).toBe("監視…");
    expect(displayWidth(clipToWidth("監視対象", 5))).toBe(5);
    expect(clipToWidth("\x1b[31mabcdef\x1b[39m", 4)).toBe("\x1b[31mabc…\x1b[0m");
    expect(clipToWidth("abc", 3)).toBe("abc");
  });

  it("word-wraps into a number of lines, the last ending with … when cut", () => {
    expect(wrapToWidth("one two three four", 9, 2)).toEqual(["one two", "three…"]);
    expect(wrapToWidth("監視対象のサーバー", 6, 3)).toEqual(["監視対", "象のサ", "ーバー"]);
    expect(wrapToWidth("監視対象のサーバー", 6, 2)).toEqual(["監視対", "象の…"]);
  });
});

describe("the npm start view", () => {
  const widths = [60, 80, 100, 120, 200];

  it.each(widths)("fits %i columns: no line wider than the window", (width) => {
    const lines = renderFrame(INPUT, width);
    const over = lines
      .map((line) => [displayWidth(line), stripAnsi(line)] as const)
      .filter(([w]) => w > width);
    expect(over).toEqual([]);
  });

  it("fits every width from 60 to 160, with and without a height", () => {
    for (let width = 60; width <= 160; width++) {
      for (const height of [undefined, 24]) {
        const lines = renderFrame(INPUT, width, height);
        for (const line of lines)
          expect(displayWidth(line), `${width} columns: ${stripAnsi(line)}`).toBeLessThanOrEqual(width);
        if (height !== undefined) expect(lines.length).toBeLessThan(height);
      }
    }
  });

  it("still fits narrower windows than it is made for, but for URLs wider than them", () => {
    const urls = HEADER.links.map((link) => link.url);
    for (let width = 20; width < 60; width++) {
      for (const line of renderFrame(INPUT, width, 30)) {
        if (urls.includes(stripAnsi(line))) continue;
        expect(displayWidth(line), `${width} columns: ${stripAnsi(line)}`).toBeLessThanOrEqual(width);
      }
    }
  });

  it.each(widths)("keeps every header URL whole on one line at %i columns", (width) => {
    const lines = plain(renderFrame(INPUT, width));
    for (const { url } of HEADER.links) expect(lines.some((line) => line.includes(url))).toBe(true);
    // Near the top, before the table: the inbox is never pushed off screen.
    expect(lines.findIndex((line) => line.includes("http://127.0.0.1:8005/"))).toBeLessThan(4);
  });

  it("puts a URL too long to sit beside its label alone on the next line, and never cuts it", () => {
    const long = `http://127.0.0.1:8020/ack?token=${"a".repeat(70)}`;
    const lines = plain(
      renderFrame({ ...INPUT, header: { title: "t", links: [{ label: "dashboard", url: long }] } }, 60),
    );
    const at = lines.indexOf(long);
    expect(at).toBeGreaterThan(0);
    expect(lines[at - 1]).toBe("  dashboard:");
  });

  it("shows the hint beside the inbox URL only where it fits", () => {
    expect(plain(renderFrame(INPUT, 120))[1]).toMatch(
      /inbox +http:\/\/127\.0\.0\.1:8005\/ +<- every email sent lands here$/,
    );
    const narrow = plain(renderFrame(INPUT, 60))[1];
    expect(narrow).toContain("http://127.0.0.1:8005/");
    expect(displayWidth(narrow ?? "")).toBeLessThanOrEqual(60);
  });

  it("drops columns as the window narrows: schedule first, then last mail, then next run", () => {
    const headerRow = (width: number) =>
      plain(renderFrame(INPUT, width)).find((line) => line.includes("last result")) ?? "";
    expect(headerRow(200)).toMatch(/monitor .*schedule .*state .*last result .*next run .*last mail/);
    expect(headerRow(100)).not.toContain("schedule");
    for (const width of [60, 80, 100, 120, 200]) {
      expect(headerRow(width)).toMatch(/monitor .*state .*last result/);
    }
    expect(headerRow(60)).not.toMatch(/next run|last mail|schedule/);
  });

  it("gives last result what is left: table lines fill the window but its last column", () => {
    for (const width of widths) {
      const table = plain(renderFrame(INPUT, width)).filter((line) => /^[┌│├└]/.test(line));
      expect(table.length).toBeGreaterThan(0);
      for (const line of table) expect(displayWidth(line)).toBe(width - 1);
    }
  });

  it("cuts a long result with … over two lines, wide characters counted right", () => {
    const lines = plain(renderFrame(INPUT, 80));
    const cjk = lines.findIndex((line) => line.includes("監視"));
    expect(lines[cjk]).toMatch(/✓ 30s ago 監視/);
    // Its second line continues the message (not cut again by the table) and ends the cell with "…".
    expect(lines[cjk + 1]).toMatch(/│ {3}\S.*… *│/);
  });

  it("shows no escape sequence or control character from the table", () => {
    for (const width of widths) {
      const text = renderFrame(INPUT, width).join("\n");
      expect(text).not.toContain("\x1b[2J");
      expect(text).not.toContain("\x1b]0;");
      for (const control of ["\r", "\t", "\x07"]) expect(text).not.toContain(control);
    }
  });

  it("fits a window too short for it: oldest events first, then the end of the table", () => {
    const lines = plain(renderFrame(INPUT, 80, 20));
    expect(lines.length).toBeLessThanOrEqual(19);
    expect(lines.some((line) => line.includes("http://127.0.0.1:8005/"))).toBe(true);
    expect(lines.some((line) => /more lines: make the window taller/.test(line))).toBe(true);
  });
});

class FakeTerminal extends EventEmitter {
  written = "";
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  write(chunk: string) {
    this.written += chunk;
    return true;
  }
}

describe("drawing in place", () => {
  it("clears each line to its end and everything below the frame", () => {
    const terminal = new FakeTerminal(80, 40);
    const screen = new Screen(terminal);
    screen.draw(renderFrame(INPUT, screen.width, screen.height));
    terminal.written = "";
    screen.draw(["short", "x".repeat(80)]);
    // Home, each line cleared after it (but one that fills the width), then the rest of the screen.
    expect(terminal.written).toBe(`\x1b[Hshort\x1b[K\n${"x".repeat(80)}\n\x1b[J`);
  });

  it("clears the whole screen after a resize and redraws at the new width at once", () => {
    const terminal = new FakeTerminal(120, 40);
    const screen = new Screen(terminal);
    const draws: number[] = [];
    screen.onResize = () => {
      draws.push(screen.width);
      screen.draw(renderFrame(INPUT, screen.width, screen.height));
    };
    screen.draw(renderFrame(INPUT, screen.width, screen.height));
    expect(terminal.written.startsWith("\x1b[2J\x1b[H")).toBe(true);
    terminal.written = "";
    terminal.columns = 70;
    terminal.emit("resize");
    expect(draws).toEqual([70]);
    expect(terminal.written.startsWith("\x1b[2J\x1b[H")).toBe(true);
    const lines = terminal.written.slice("\x1b[2J\x1b[H".length).split("\n");
    for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(70);
    screen.dispose();
    expect(terminal.listenerCount("resize")).toBe(0);
  });
});
