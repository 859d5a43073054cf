import { beforeEach, describe, expect, it } from "vitest";
import type { RejectedTickSink } from "#core/ports.ts";
import { RetryableTickError, type TickOutcome, TickProcessor } from "#core/tick.ts";
import type { CheckDefinition } from "../../../monitors/types.ts";
import { MemoryMonitorStore, RecordingNotifier, scriptedCheck } from "../../support/memory-adapters.ts";

const ID = "compass-po";
const tick = (scheduledTime: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ monitorId: ID, scheduledTime, ...extra });
const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 6, minute)).toISOString();

let store: MemoryMonitorStore;
let notifier: RecordingNotifier;
let rejected: Array<{ body: string; reason: string }>;
let wallNow: number;
let checks: Map<string, CheckDefinition>;

function processor(options = {}) {
  const sink: RejectedTickSink = { reject: async (body, reason) => void rejected.push({ body, reason }) };
  return new TickProcessor({
    store,
    notifier,
    rejected: sink,
    findCheck: (name) => checks.get(name),
    wallClock: () => new Date(wallNow),
    options,
  });
}

function configure(outcomes: boolean[], config: Record<string, unknown> = {}) {
  const check = scriptedCheck(outcomes);
  checks.set("scripted", check);
  store.configs.set(ID, {
    monitorId: ID,
    record: "config",
    name: "Compass PO feed",
    check: "scripted",
    peopleToNotify: ["ops@example.com"],
    skipSupersededTicks: false,
    ...config,
  });
  return check;
}

beforeEach(() => {
  store = new MemoryMonitorStore();
  notifier = new RecordingNotifier();
  rejected = [];
  checks = new Map();
  wallNow = Date.parse("2026-03-01T12:00:00Z");
});

const applied = (outcome: TickOutcome) => {
  if (outcome.status !== "applied") throw new Error(`expected applied, got ${JSON.stringify(outcome)}`);
  return outcome;
};

describe("TickProcessor", () => {
  it("alerts on the first failure: state, outbox cleared, mail, receipt, history", async () => {
    configure([false]);
    const outcome = applied(await processor().process(tick(at(0))));
    expect(outcome.delivery).toMatchObject({ type: "alert", delivered: true });
    expect(notifier.sent).toHaveLength(1);
    expect(notifier.sent[0]?.subject).toBe("[Monitor ALERT] Compass PO feed");
    expect(notifier.sent[0]?.to).toEqual(["ops@example.com"]);
    const state = store.states.get(ID);
    expect(state).toMatchObject({
      state: "alert",
      lastNotificationType: "alert",
      lastTickTime: at(0),
      lastResultOk: false,
    });
    expect(state?.outbox).toBeUndefined();
    expect(state?.version).toBe(2); // state write + outbox clear
    expect(store.receipts).toHaveLength(1);
    expect(store.runs[0]).toMatchObject({ scheduledTime: at(0), isOk: false, notification: "alert" });
  });

  it("walks alert -> reminder -> recovery over logical time, sending each mail once", async () => {
    configure([false, false, false, true, true], { reminderFrequencyMinutes: 10 });
    const p = processor();
    for (const minute of [0, 5, 10, 15, 20]) await p.process(tick(at(minute)));
    expect(notifier.sent.map((mail) => mail.subject)).toEqual([
      "[Monitor ALERT] Compass PO feed",
      "[Monitor REMINDER] Compass PO feed",
      "[Monitor RECOVERED] Compass PO feed",
    ]);
    expect(store.states.get(ID)?.state).toBe("ok");
  });

  it("ignores duplicate and out-of-order ticks: no check, no write, no mail", async () => {
    const check = configure([false, true]);
    const p = processor();
    await p.process(tick(at(10)));
    const writes = store.writes;
    expect(await p.process(tick(at(10)))).toMatchObject({ status: "duplicate", lastTickTime: at(10) });
    expect(await p.process(tick(at(5)))).toMatchObject({ status: "duplicate" });
    expect(check.calls).toBe(1);
    expect(store.writes).toBe(writes);
    expect(notifier.sent).toHaveLength(1);
  });

  it("treats an equal instant in another notation as a duplicate", async () => {
    configure([false]);
    const p = processor();
    await p.process(tick("2026-03-01T06:00:00Z"));
    expect((await p.process(tick("2026-03-01T06:00:00.000+00:00"))).status).toBe("duplicate");
  });

  it("hands the check the tick's time and the monitor's timezone (or the stack default)", async () => {
    const seen: Array<{ now: string; timezone: string | undefined }> = [];
    checks.set("recording", {
      name: "recording",
      description: "records its context",
      run: async (ctx) => {
        seen.push({ now: ctx.now.toISOString(), timezone: ctx.timezone });
        return { isOk: true, message: "fine" };
      },
    });
    const base = {
      monitorId: ID,
      record: "config",
      name: "n",
      check: "recording",
      skipSupersededTicks: false,
    };
    store.configs.set(ID, { ...base, timezone: "Asia/Tokyo" });
    await processor().process(tick(at(0)));
    store.configs.set(ID, base);
    await processor({ defaultTimezone: "Europe/Paris" }).process(tick(at(5)));
    expect(seen).toEqual([
      { now: at(0), timezone: "Asia/Tokyo" },
      { now: at(5), timezone: "Europe/Paris" },
    ]);
  });

  it("does nothing for an inactive monitor", async () => {
    const check = configure([false], { isActive: false });
    expect((await processor().process(tick(at(0)))).status).toBe("inactive");
    expect(check.calls).toBe(0);
    expect(store.writes).toBe(0);
    expect(notifier.sent).toHaveLength(0);
  });

  it("does nothing for a monitor without a config item", async () => {
    expect(await processor().process(tick(at(0)))).toEqual({ status: "not-found", monitorId: ID });
    expect(store.writes).toBe(0);
  });

  it("runs the real check when only optional attributes are bad: a typo never hides an outage", async () => {
    const check = configure([false], {
      requiredConsecutiveOks: "two",
      timezone: "Mars/Olympus",
      peopleToNotify: ["ops@example.com", "typo@@example.com"],
    });
    const outcome = applied(await processor().process(tick(at(0))));
    expect(check.calls).toBe(1);
    expect(outcome.check.message).toBe("feed missing");
    expect(outcome.configProblems).toContain("requiredConsecutiveOks");
    expect(outcome.configProblems).toContain("Mars/Olympus");
    expect(outcome.configProblemsChanged).toBe(true);
    // The valid recipient still hears about the real failure.
    expect(notifier.sent.map((mail) => [mail.subject, mail.to])).toEqual([
      ["[Monitor ALERT] Compass PO feed", ["ops@example.com"]],
    ]);
    expect(notifier.sent[0]?.text).toContain("feed missing");
    expect(store.states.get(ID)?.configProblems).toContain("peopleToNotify[1]");
  });

  it("reports config problems once: unchanged problems on later ticks are not news", async () => {
    configure([true, true, true], { reminderFrequencyMinutes: "hourly" });
    const p = processor();
    const changed = [];
    for (const minute of [0, 5])
      changed.push(applied(await p.process(tick(at(minute)))).configProblemsChanged);
    const config = store.configs.get(ID) ?? {};
    store.configs.set(ID, { ...config, reminderFrequencyMinutes: "daily" });
    changed.push(applied(await p.process(tick(at(10)))).configProblemsChanged);
    expect(changed).toEqual([true, false, true]);
  });

  it("names an unknown check together with every other bad attribute, and alerts", async () => {
    const check = configure([true], { check: "does-not-exist", requiredConsecutiveOks: 0, isActive: "yes" });
    const outcome = applied(await processor().process(tick(at(0))));
    expect(check.calls).toBe(0);
    expect(outcome.check.isOk).toBe(false);
    expect(outcome.check.message).toMatch(/^Invalid monitor configuration: /);
    expect(outcome.check.message).toContain('check "does-not-exist" is not a registered check');
    expect(outcome.check.message).toContain("requiredConsecutiveOks");
    expect(outcome.check.message).toContain('isActive "yes"');
    expect(outcome.delivery?.type).toBe("alert");
    expect(notifier.sent[0]?.text).toContain("Invalid monitor configuration");
  });

  it("does not run a check whose params its own schema refuses, and never echoes their values", async () => {
    const { z } = await import("zod");
    const check = configure([true], { params: { url: "not a url", token: "s3cr3t-token" } });
    checks.set("scripted", { ...check, paramsSchema: z.object({ url: z.url() }) });
    const outcome = applied(await processor().process(tick(at(0))));
    expect(check.calls).toBe(0);
    expect(outcome.check.message).toMatch(/params do not fit check "scripted": url /);
    expect(JSON.stringify(outcome)).not.toContain("s3cr3t-token");
    expect(JSON.stringify(outcome)).not.toContain("not a url");
  });

  it.each([
    ["not JSON", "{nope", /not JSON/],
    ["missing scheduledTime", JSON.stringify({ monitorId: ID }), /scheduledTime/],
    ["mistyped monitorId", JSON.stringify({ monitorId: 42, scheduledTime: at(0) }), /monitorId/],
    ["bad monitorId alphabet", JSON.stringify({ monitorId: "a b", scheduledTime: at(0) }), /monitorId/],
    ["not a time", JSON.stringify({ monitorId: ID, scheduledTime: "yesterday" }), /scheduledTime/],
    ["oversized", JSON.stringify({ monitorId: ID, scheduledTime: at(0), pad: "x".repeat(10_000) }), /bytes/],
  ])("rejects a tick body that is %s, forwarding it with the reason", async (_label, body, reason) => {
    configure([false]);
    const outcome = await processor().process(body);
    expect(outcome.status).toBe("rejected");
    expect(rejected).toEqual([{ body, reason: expect.stringMatching(reason) }]);
    expect(store.writes).toBe(0);
  });

  it("rejects a tick from the future without letting it poison later ticks", async () => {
    configure([false, true]);
    const p = processor();
    const future = new Date(wallNow + 6 * 60_000).toISOString();
    expect(await p.process(tick(future))).toMatchObject({
      status: "rejected",
      reason: expect.stringMatching(/ahead/),
    });
    expect(store.states.get(ID)).toBeUndefined();
    expect((await p.process(tick(new Date(wallNow).toISOString()))).status).toBe("applied");
  });

  it("accepts a tick slightly ahead of the wall clock (clock skew)", async () => {
    configure([true]);
    const outcome = await processor().process(tick(new Date(wallNow + 60_000).toISOString()));
    expect(outcome.status).toBe("applied");
  });

  describe("superseded ticks", () => {
    it("skips a backlog tick whose next run has already passed, without running the check", async () => {
      const check = configure([false], { skipSupersededTicks: true, schedule: "rate(5 minutes)" });
      const outcome = await processor().process(tick(new Date(wallNow - 7 * 60_000).toISOString()));
      expect(outcome).toMatchObject({ status: "superseded" });
      expect(check.calls).toBe(0);
      expect(store.writes).toBe(0);
    });

    it("runs a late tick within the grace", async () => {
      configure([false], { skipSupersededTicks: true, schedule: "rate(5 minutes)" });
      const outcome = await processor().process(tick(new Date(wallNow - 5.5 * 60_000).toISOString()));
      expect(outcome.status).toBe("applied");
    });

    it("uses the cron schedule in the monitor's timezone", async () => {
      // Daily 08:00 Chicago: a tick from this morning is current until tomorrow's run.
      configure([true], {
        skipSupersededTicks: true,
        schedule: "cron(0 8 * * ? *)",
        timezone: "America/Chicago",
      });
      wallNow = Date.parse("2026-03-01T20:00:00Z");
      expect((await processor().process(tick("2026-03-01T14:00:00Z"))).status).toBe("applied");
      wallNow = Date.parse("2026-03-02T14:02:00Z");
      expect((await processor().process(tick("2026-03-01T14:00:00Z"))).status).toBe("duplicate");
      store.states.clear();
      expect((await processor().process(tick("2026-03-01T14:00:00Z"))).status).toBe("superseded");
    });

    it("never skips a manual recheck, and can be turned off per monitor", async () => {
      configure([true], { skipSupersededTicks: true });
      const old = new Date(wallNow - 60 * 60_000).toISOString();
      expect((await processor().process(tick(old, { reason: "manual" }))).status).toBe("applied");
      configure([true], { skipSupersededTicks: false });
      store.states.clear();
      expect((await processor().process(tick(old))).status).toBe("applied");
    });
  });

  it("changes state but sends nothing when nobody is to be notified", async () => {
    configure([false], { peopleToNotify: [] });
    const outcome = applied(await processor().process(tick(at(0))));
    expect(outcome.decision.notification).toBe("alert");
    expect(outcome.unsentReason).toBe("no-recipients");
    expect(notifier.sent).toHaveLength(0);
    expect(store.states.get(ID)?.outbox).toBeUndefined();
    expect(store.runs[0]?.quietReason).toBe("no-recipients");
  });

  it("heals a crash between the state write and the send on the next delivery of the same tick", async () => {
    configure([false]);
    const crashing = processor();
    store.crashAfterNextSave();
    await expect(crashing.process(tick(at(0)))).rejects.toThrow(/crashed/);
    expect(store.states.get(ID)?.outbox?.type).toBe("alert");
    expect(notifier.sent).toHaveLength(0);

    // Redelivered before the writer's lease expired: someone may still be sending it, so not us.
    expect(await processor().process(tick(at(0)))).toMatchObject({ status: "duplicate", healed: [] });
    expect(notifier.sent).toHaveLength(0);
    wallNow += 301_000;
    expect(await processor().process(tick(at(0)))).toMatchObject({
      status: "duplicate",
      healed: [{ type: "alert", delivered: true }],
    });
    expect(notifier.sent.map((mail) => mail.subject)).toEqual(["[Monitor ALERT] Compass PO feed"]);
    expect(store.states.get(ID)?.outbox).toBeUndefined();
    expect(store.receipts).toHaveLength(1);
  });

  it("keeps an undelivered notification through an SES outage and sends it first on the next tick", async () => {
    configure([false, false, false]);
    notifier.failNext = 1;
    const p = processor();
    const first = applied(await p.process(tick(at(0))));
    expect(first.delivery).toMatchObject({
      delivered: false,
      error: expect.stringContaining("rate exceeded"),
    });
    expect(store.states.get(ID)?.outbox).toMatchObject({ type: "alert", attempts: 1 });
    expect(store.states.get(ID)?.outbox?.claimedUntil).toBeUndefined();

    const second = applied(await p.process(tick(at(5))));
    expect(second.healed).toMatchObject([{ type: "alert", delivered: true }]);
    expect(second.delivery).toBeNull();
    expect(notifier.sent).toHaveLength(1);
    expect(store.states.get(ID)?.outbox).toBeUndefined();
    expect(store.states.get(ID)?.lastTickTime).toBe(at(5));
  });

  it("queues a notification decided while the previous one is undelivered, and sends both in order", async () => {
    configure([false, true, true], { requiredConsecutiveOks: 1 });
    notifier.failNext = 2;
    const p = processor();
    await p.process(tick(at(0)));
    const second = applied(await p.process(tick(at(5))));
    expect(second.decision.notification).toBe("recovery");
    expect(second.unsentReason).toBe("queued");
    expect(store.states.get(ID)).toMatchObject({
      state: "ok",
      lastTickTime: at(5),
      outbox: { type: "alert", attempts: 2 },
      outboxQueue: [{ type: "recovery" }],
    });
    // SES is back: the next tick delivers the alert, then the recovery, exactly once each.
    const third = applied(await p.process(tick(at(10))));
    expect(third.healed.map((result) => [result.type, result.delivered])).toEqual([
      ["alert", true],
      ["recovery", true],
    ]);
    expect(notifier.sent.map((mail) => mail.subject)).toEqual([
      "[Monitor ALERT] Compass PO feed",
      "[Monitor RECOVERED] Compass PO feed",
    ]);
    expect(store.states.get(ID)?.outbox).toBeUndefined();
    expect(store.states.get(ID)?.outboxQueue).toBeUndefined();
    expect(store.receipts.map((receipt) => receipt.type)).toEqual(["alert", "recovery"]);
  });

  it("re-reads and re-decides after losing a conditional-write race, running the check once", async () => {
    const check = configure([false]);
    const original = store.saveState.bind(store);
    let raced = false;
    store.saveState = async (monitorId, state, expected, records) => {
      if (!raced) {
        raced = true;
        // Another invocation applied an earlier tick in between.
        await original(
          monitorId,
          { state: "ok", consecutiveOkCount: 0, version: 1, lastTickTime: at(1) },
          undefined,
        );
      }
      return original(monitorId, state, expected, records);
    };
    const outcome = applied(await processor().process(tick(at(2))));
    expect(check.calls).toBe(1);
    expect(outcome.delivery?.type).toBe("alert");
    expect(store.states.get(ID)?.lastTickTime).toBe(at(2));
  });

  it("gives up with a retryable error when the state keeps changing", async () => {
    configure([false]);
    store.saveState = async () => {
      throw new (await import("#core/ports.ts")).StaleStateError("always stale");
    };
    await expect(processor({ maxRaceRetries: 2 }).process(tick(at(0)))).rejects.toBeInstanceOf(
      RetryableTickError,
    );
  });

  it("records only changes when asked to", async () => {
    configure([true, true, false, false], { recordOnlyChanges: true });
    const p = processor();
    for (const minute of [0, 5, 10, 15]) await p.process(tick(at(minute)));
    expect(store.runs.map((run) => run.scheduledTime)).toEqual([at(10), at(15)]);
  });

  it("keeps the schedule error reported by schedule-sync on the state item", async () => {
    configure([true]);
    store.states.set(ID, { state: "ok", consecutiveOkCount: 0, version: 3, scheduleError: "bad cron" });
    await processor().process(tick(at(0)));
    expect(store.states.get(ID)).toMatchObject({ scheduleError: "bad cron", version: 4 });
  });
});

describe("deployment default timezone", () => {
  it("applies DEFAULT_TIMEZONE to monitors without a timezone, for mail and supersession alike", async () => {
    configure([false]);
    await processor({ defaultTimezone: "Europe/Paris" }).process(tick(at(0)));
    expect(notifier.sent[0]?.text).toContain("(Europe/Paris)");
    configure([false], { timezone: "Asia/Tokyo" });
    store.states.clear();
    await processor({ defaultTimezone: "Europe/Paris" }).process(tick(at(5)));
    expect(notifier.sent[1]?.text).toContain("(Asia/Tokyo)");
  });
});

describe("undeliverable notifications", () => {
  it("abandons a mail SES refuses outright, logs why, and lets later notifications through", async () => {
    configure([false, true], { requiredConsecutiveOks: 1 });
    notifier.refuse = true;
    const p = processor();
    const first = applied(await p.process(tick(at(0))));
    expect(first.delivery).toMatchObject({
      delivered: false,
      abandoned: true,
      error: expect.stringMatching(/MessageRejected/),
    });
    expect(store.states.get(ID)?.outbox).toBeUndefined();
    expect(store.receipts[0]).toMatchObject({
      type: "alert",
      outcome: "abandoned",
      error: expect.stringMatching(/not verified/),
    });
    notifier.refuse = false;
    const second = applied(await p.process(tick(at(5))));
    expect(second.delivery).toMatchObject({ type: "recovery", delivered: true });
  });

  it("abandons a mail that keeps failing transiently only once its time budget is spent", async () => {
    configure([false, false, false, false]);
    notifier.failNext = 100;
    const p = processor({ deliveryBudgetMs: 60 * 60_000 });
    for (const minute of [0, 5, 10]) {
      await p.process(tick(at(minute)));
      wallNow += 20 * 60_000;
    }
    // Three failures in 40 minutes: far more than a count would allow for a fast schedule, still kept.
    expect(store.states.get(ID)?.outbox).toMatchObject({ attempts: 3 });
    const fourth = applied(await p.process(tick(at(15))));
    expect(fourth.healed).toMatchObject([
      {
        delivered: false,
        abandoned: true,
        error: expect.stringMatching(/still failing after 4 attempts over 1 h/),
      },
    ]);
    expect(store.states.get(ID)?.outbox).toBeUndefined();
    expect(store.receipts.map((receipt) => receipt.outcome)).toEqual(["abandoned"]);
  });

  it("delivers a pending mail to the recipients configured now", async () => {
    configure([false, false], { peopleToNotify: ["typo@exampel.com"] });
    notifier.failNext = 1;
    await processor().process(tick(at(0)));
    const config = store.configs.get(ID) ?? {};
    store.configs.set(ID, { ...config, peopleToNotify: ["ops@example.com"] });
    await processor().process(tick(at(5)));
    expect(notifier.sent.map((mail) => mail.to)).toEqual([["ops@example.com"]]);
  });

  it("keeps a pending mail while the monitor is paused, and sends it on resume", async () => {
    configure([false, false]);
    notifier.failNext = 1;
    await processor().process(tick(at(0)));
    const config = store.configs.get(ID) ?? {};
    store.configs.set(ID, { ...config, isActive: false });
    expect((await processor().process(tick(at(5)))).status).toBe("inactive");
    expect(notifier.sent).toHaveLength(0);
    store.configs.set(ID, { ...config, isActive: true });
    await processor().process(tick(at(10)));
    expect(notifier.sent.map((mail) => mail.subject)).toEqual(["[Monitor ALERT] Compass PO feed"]);
  });
});
