import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshTable } from "../../support/aws.ts";
import { type CliHarness, cliHarness, notificationItem, runItem } from "./support.ts";

/** History and the fleet reports over items written as the orchestrator writes them. */

let cli: CliHarness;
const now = new Date("2026-11-21T12:00:00.000Z");
const at = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000).toISOString();

beforeAll(async () => {
  const { tableName } = await freshTable("cli-reports");
  cli = await cliHarness(tableName);
  const monitor = (monitorId: string, check: string, extra: Record<string, unknown> = {}) =>
    cli.put({
      monitorId,
      record: "config",
      name: `Monitor ${monitorId}`,
      check,
      params: {},
      schedule: "rate(5 minutes)",
      timezone: "UTC",
      peopleToNotify: new Set(["oncall@example.org"]),
      ...extra,
    });
  await monitor("web", "http");
  await monitor("queue", "sqs-queue-empty");
  await monitor("stuck", "manual");
  await monitor("paused", "manual", { isActive: false });
  await monitor("broken", "manual", { timezone: "Nowhere/Land" });
  // web: OK, then an incident at 11:40 (alert sent, reminder window), recovered at 11:55.
  const web: Array<[number, Record<string, unknown>]> = [
    [25, { durationMs: 120 }],
    [
      20,
      {
        isOk: false,
        message: "GET / returned 503",
        durationMs: 900,
        state: "alert",
        notification: "alert",
        quietReason: undefined,
      },
    ],
    [
      15,
      {
        isOk: false,
        message: "GET / returned 503",
        durationMs: 800,
        state: "alert",
        quietReason: "reminder-window",
      },
    ],
    [10, { durationMs: 100, state: "alert", consecutiveOkCount: 1, quietReason: "recovering" }],
    [5, { durationMs: 140, state: "ok", notification: "recovery", quietReason: undefined }],
    [60 * 30, { durationMs: 100 }],
  ];
  for (const [minutesAgo, fields] of web) await cli.put(runItem("web", at(minutesAgo), fields));
  await cli.put(notificationItem("web", at(20), "alert", at(19.9)));
  await cli.put(notificationItem("web", at(5), "recovery", at(4.9)));
  await cli.put({
    monitorId: "web",
    record: "state",
    state: "ok",
    consecutiveOkCount: 0,
    lastRunDt: at(5),
    lastTickTime: at(5),
    lastResultOk: true,
    lastResultMessage: "fine",
    version: 9,
  });
  // queue: in alert, failing, no recipients to tell.
  await cli.put(
    runItem("queue", at(3), {
      isOk: false,
      message: "42 messages waiting",
      durationMs: 30,
      state: "alert",
      notification: "alert",
      quietReason: "no-recipients",
    }),
  );
  await cli.put({
    monitorId: "queue",
    record: "state",
    state: "alert",
    consecutiveOkCount: 0,
    lastRunDt: at(3),
    lastResultOk: false,
    lastResultMessage: "42 messages waiting",
    version: 2,
  });
  // stuck: last ran an hour ago on a 5-minute schedule.
  await cli.put(runItem("stuck", at(60), { durationMs: 5 }));
  await cli.put({
    monitorId: "stuck",
    record: "state",
    state: "ok",
    consecutiveOkCount: 0,
    lastRunDt: at(60),
    lastTickTime: at(60),
    version: 4,
  });
});
afterAll(() => cli.close());

describe("history", () => {
  it("shows runs oldest first, with what each did about mail", async () => {
    const result = await cli.run(["history", "web", "--since", "1h"], { now });
    expect(result.code).toBe(0);
    const rows = result.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^SCHEDULED\s+RESULT\s+DURATION\s+STATE\s+MAIL\s+MESSAGE$/);
    expect(rows[1]).toMatch(/^2026-11-21 11:35:00Z\s+OK\s+120 ms\s+ok\s+- \(healthy\)\s+fine$/);
    expect(rows[2]).toMatch(/11:40:00Z\s+FAIL\s+900 ms\s+alert\s+alert sent\s+GET \/ returned 503/);
    expect(rows[3]).toMatch(/11:45:00Z\s+FAIL\s+800 ms\s+alert\s+- \(reminder-window\)/);
    expect(rows[4]).toMatch(/11:50:00Z\s+OK\s+100 ms\s+alert 1 ok\s+- \(recovering\)/);
    expect(rows[5]).toMatch(/11:55:00Z\s+OK\s+140 ms\s+ok\s+recovery sent/);
    expect(result.stdout).toContain("5 runs since 2026-11-21 11:00:00Z, 2 failed, 2 notifications delivered");
  });

  it("limits, goes back further, and prints JSON", async () => {
    const json = (
      await cli.run(["history", "web", "--since", "2d", "--limit", "2", "--json"], { now })
    ).json();
    expect(json.runs.map((run: { scheduledTime: string }) => run.scheduledTime)).toEqual([at(10), at(5)]);
    expect(json.runs[1]).toMatchObject({ notification: "recovery", delivered: true, durationMs: 140 });
    const all = (await cli.run(["history", "web", "--since", "2d", "--json"], { now })).json();
    expect(all.runs).toHaveLength(6);
    expect((await cli.run(["history", "web", "--since", "yesterday"], { now })).code).toBe(2);
  });
});

describe("failures", () => {
  it("lists the most recent failed runs across monitors", async () => {
    const result = await cli.run(["failures", "--limit", "2"], { now });
    expect(result.code).toBe(0);
    const rows = result.stdout.trim().split("\n");
    expect(rows[1]).toMatch(/11:57:00Z\s+queue\s+Monitor queue\s+30 ms\s+alert\s+42 messages waiting/);
    expect(rows[2]).toMatch(/11:45:00Z\s+web\s+Monitor web\s+800 ms\s+reminder-window\s+GET \/ returned 503/);
    expect(result.stdout).toContain("2 failures shown of 3, newest first.");
    const json = (await cli.run(["failures", "--since", "10m", "--json"], { now })).json();
    expect(json).toEqual([expect.objectContaining({ monitorId: "queue", isOk: false })]);
  });
});

describe("health", () => {
  it("summarises alerts, success rate, notifications, stale monitors and problems", async () => {
    const result = await cli.run(["health", "--hours", "2"], { now });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/monitors\s+5 \(4 active, 1 paused\)/);
    expect(result.stdout).toMatch(/in alert\s+1: queue/);
    expect(result.stdout).toMatch(/runs\s+7, 57\.1% successful \(3 failures\)/);
    expect(result.stdout).toMatch(/notifications\s+2 sent \(1 alert, 1 recovery\)/);
    expect(result.stdout).toMatch(/stale\s+1: stuck/);
    expect(result.stdout).toMatch(/not run yet\s+1: broken/);
    expect(result.stdout).toMatch(/stuck\s+2026-11-21 11:00:00Z \(1h ago\)\s+5m/);
    expect(result.stdout).toContain('broken: timezone "Nowhere/Land": is not an IANA timezone');

    const json = (await cli.run(["health", "--json"], { now })).json();
    expect(json).toMatchObject({
      monitors: 5,
      active: 4,
      paused: 1,
      runs: 7,
      failures: 3,
      notificationsSent: 2,
    });
    expect(json.stale).toEqual([{ monitorId: "stuck", lastRunDt: at(60), expectedEveryMs: 300_000 }]);
    const strict = await cli.run(["health", "--strict"], { now });
    expect(strict.code).toBe(1);
    expect(strict.stderr).toBe("error: unhealthy: see the report above\n");
  });
});

describe("performance", () => {
  it("reports min/avg/p95/max per check and per monitor", async () => {
    const json = (await cli.run(["performance", "--json"], { now })).json();
    const http = json.checks.find((row: { check: string }) => row.check === "http");
    expect(http).toEqual({
      check: "http",
      monitors: 1,
      runs: 6,
      failures: 2,
      successRate: 4 / 6,
      minMs: 100,
      avgMs: (120 + 900 + 800 + 100 + 140 + 100) / 6,
      p95Ms: 900,
      maxMs: 900,
    });
    expect(json.monitors.map((row: { monitorId: string }) => row.monitorId)).toEqual([
      "web",
      "queue",
      "stuck",
    ]);
    const text = await cli.run(["performance", "--since", "30m"], { now });
    expect(text.stdout).toMatch(/http\s+1\s+5\s+60\.0%\s+100 ms\s+412 ms\s+900 ms\s+900 ms/);
    expect(text.stdout).toMatch(/web\s+http\s+5\s+60\.0%/);
  });
});

describe("export and import", () => {
  it("exports config, state and optionally history as JSON", async () => {
    const one = (await cli.run(["export", "web", "--history", "--since", "1h"], { now })).json();
    expect(one.monitors).toHaveLength(1);
    expect(one.monitors[0].config).toMatchObject({
      name: "Monitor web",
      peopleToNotify: ["oncall@example.org"],
    });
    expect(one.monitors[0].config.record).toBeUndefined();
    expect(one.monitors[0].state).toMatchObject({ state: "ok", version: 9 });
    expect(one.monitors[0].history.runs).toHaveLength(5);
    expect(one.monitors[0].history.notifications).toHaveLength(2);
    const all = (await cli.run(["export"], { now })).json();
    expect(all.monitors.map((monitor: { monitorId: string }) => monitor.monitorId)).toEqual([
      "broken",
      "paused",
      "queue",
      "stuck",
      "web",
    ]);
    expect(all.monitors[0].history).toBeUndefined();
  });

  it("imports idempotently and round-trips an export", async () => {
    const file = await cli.writeFile(
      "monitors.yaml",
      [
        "- monitorId: new-one",
        "  name: New one",
        "  check: manual",
        "  params: { isOk: true }",
        "- monitorId: web",
        "  name: Monitor web (renamed)",
        "  check: http",
        "  params: { url: https://web.example.org/health }",
        "  schedule: rate(5 minutes)",
        "  timezone: UTC",
        "  peopleToNotify: [oncall@example.org]",
      ].join("\n"),
    );
    const first = await cli.run(["import", file]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/new-one\s+created/);
    expect(first.stdout).toMatch(/web\s+updated/);
    expect(first.stdout).toContain("1 created, 1 updated, 0 unchanged.");
    const second = (await cli.run(["import", file, "--json"])).json();
    expect(second).toMatchObject({ created: 0, updated: 0, unchanged: 2 });

    const exported = await cli.writeFile("web.json", (await cli.run(["export", "web"], { now })).stdout);
    expect((await cli.run(["import", exported, "--json"])).json()).toMatchObject({
      unchanged: 1,
      created: 0,
    });
    // A backup holding a broken monitor is refused as a whole, naming it.
    const everything = await cli.writeFile("all.json", (await cli.run(["export"], { now })).stdout);
    const refused = await cli.run(["import", everything]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error: broken: timezone "Nowhere/Land"');
  });

  it("validates everything first and writes nothing when anything is invalid", async () => {
    const file = await cli.writeFile(
      "bad.json",
      JSON.stringify([
        { monitorId: "fine", name: "Fine", check: "manual", params: { isOk: true } },
        {
          monitorId: "bad",
          name: "Bad",
          check: "manual",
          params: { isOk: true },
          schedule: "every 5 minutes",
        },
        { monitorId: "bad", name: "Twice", check: "manual", params: { isOk: true } },
        { name: "No id", check: "manual", params: { isOk: true } },
      ]),
    );
    const result = await cli.run(["import", file]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toEqual([
      'error: bad: schedule "every 5 minutes": "every 5 minutes" is neither rate(<n> <unit>) nor cron(<6 fields>)',
      `error: bad: appears more than once in ${file}`,
      "error: entry 4: monitorId is required",
      `error: nothing imported: 3 problems in ${file}`,
    ]);
    expect((await cli.run(["show", "fine"])).code).toBe(1);
    const dryRun = await cli.run([
      "import",
      await cli.writeFile(
        "one.json",
        JSON.stringify([{ monitorId: "dry", name: "Dry", check: "manual", params: { isOk: true } }]),
      ),
      "--dry-run",
    ]);
    expect(dryRun.stdout).toContain("Dry run: 1 created, 0 updated, 0 unchanged (nothing written).");
    expect((await cli.run(["show", "dry"])).code).toBe(1);
  });
});

describe("abandoned notifications", () => {
  it("are counted apart from sent mail and shown as abandoned", async () => {
    await cli.put({
      ...notificationItem("web", at(10), "reminder", at(9)),
      messageId: "",
      outcome: "abandoned",
      error: "SES refused the message: MessageRejected: Email address is not verified.",
    });
    const health = JSON.parse((await cli.run(["health", "--hours", "2", "--json"], { now })).stdout);
    expect(health).toMatchObject({
      notificationsSent: 2,
      notificationsAbandoned: 1,
      abandoned: [
        {
          monitorId: "web",
          type: "reminder",
          tickTime: at(10),
          error: "SES refused the message: MessageRejected: Email address is not verified.",
        },
      ],
    });
    const text = await cli.run(["health", "--hours", "2"], { now });
    expect(text.stdout).toContain("Abandoned notifications (nobody received them)");
    expect(text.stdout).toContain("web: REMINDER of");
    // An abandoned mail is an incident nobody heard of: --strict fails on it.
    expect((await cli.run(["health", "--hours", "2", "--strict"], { now })).code).toBe(1);
    const history = await cli.run(["history", "web", "--since", "1h"], { now });
    expect(history.stdout).toContain("2 notifications delivered");
    const show = await cli.run(["show", "web"], { now });
    expect(show.stdout).toMatch(/reminder \(abandoned: SES refused/);
  });
});

describe("undelivered notifications", () => {
  it("are listed by health, with the next try, and shown on the monitor", async () => {
    await cli.put({
      monitorId: "web",
      record: "state",
      state: "alert",
      consecutiveOkCount: 0,
      version: 9,
      lastTickTime: at(3),
      lastRunDt: at(3),
      outbox: {
        id: `${at(20)}#alert`,
        type: "alert",
        tickTime: at(20),
        recipients: ["ops@example.org"],
        subject: "[Monitor ALERT] Web",
        text: "…",
        html: "…",
        createdAt: at(20),
        attempts: 6,
        lastError: "ServiceUnavailableException: Service Unavailable",
        nextAttemptAt: now.getTime() + 5 * 60_000,
      },
      outboxQueue: [
        {
          id: `${at(5)}#recovery`,
          type: "recovery",
          tickTime: at(5),
          recipients: ["ops@example.org"],
          subject: "[Monitor RECOVERED] Web",
          text: "…",
          html: "…",
          createdAt: at(5),
          attempts: 0,
        },
      ],
    });
    const health = JSON.parse((await cli.run(["health", "--json"], { now })).stdout);
    expect(health.undelivered).toEqual([
      {
        monitorId: "web",
        type: "alert",
        tickTime: at(20),
        attempts: 6,
        lastError: "ServiceUnavailableException: Service Unavailable",
        nextAttemptAt: new Date(now.getTime() + 5 * 60_000).toISOString(),
        queuedBehind: 1,
      },
    ]);
    const text = (await cli.run(["health"], { now })).stdout;
    expect(text).toMatch(/undelivered\s+1: web \(being retried\)/);
    expect(text).toMatch(/web\s+alert \+1 queued\s+20m ago\s+6\s+in 5m\s+ServiceUnavailableException/);
    const show = (await cli.run(["show", "web"], { now })).stdout;
    expect(show).toMatch(
      /pending mail\s+alert to 1 recipient\(s\), 6 failed attempt\(s\): .*; next try in 5m; 1 more queued behind it \(recovery\)/,
    );
  });
});
