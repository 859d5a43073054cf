import { beforeEach, describe, expect, it } from "vitest";
import { RetryableTickError, type TickOutcome, TickProcessor } from "#core/tick.ts";
import type { CheckDefinition } from "../../../monitors/types.ts";
import {
  MemoryMonitorStore,
  RecordingNotifier,
  RecordingRetries,
  scriptedCheck,
} from "../../support/memory-adapters.ts";

/**
 * Issue 10: every incident reaches a person. Delivery retries on their own clock (not the
 * monitor's schedule), within a time budget; the reminder clock starts at delivery; the first mail
 * of an incident is its ALERT; a claim is released only by its holder; recipients added during an
 * incident get the ALERT that reached nobody; a manual recheck never swallows scheduled ticks.
 */
const ID = "compass-po";
const MINUTE = 60_000;
const T0 = Date.parse("2026-03-01T12:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * MINUTE).toISOString();
const tick = (scheduledTime: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ monitorId: ID, scheduledTime, ...extra });

let store: MemoryMonitorStore;
let notifier: RecordingNotifier;
let retries: RecordingRetries;
let wallNow: number;
let checks: Map<string, CheckDefinition>;
let claims: number;

function processor(options = {}) {
  return new TickProcessor({
    store,
    notifier,
    retries,
    findCheck: (name) => checks.get(name),
    wallClock: () => new Date(wallNow),
    newClaimId: () => `claim-${++claims}`,
    random: () => 0.5, // no jitter: delays are exact
    options,
  });
}

function configure(outcomes: boolean[], config: Record<string, unknown> = {}) {
  const check = scriptedCheck(outcomes);
  checks.set("scripted", check);
  store.configs.set(ID, {
    name: "Compass PO feed",
    check: "scripted",
    peopleToNotify: ["ops@example.com"],
    skipSupersededTicks: false,
    ...config,
  });
  return check;
}

/** Runs one scheduled tick at logical minute `minute`, with the wall clock at the same instant. */
async function scheduledTick(minute: number, options = {}) {
  wallNow = Math.max(wallNow, T0 + minute * MINUTE);
  return processor(options).process(tick(at(minute)));
}

/** Brings the last retry the orchestrator queued, at the time it was due. */
async function dueRetry(options = {}) {
  const last = retries.scheduled.at(-1);
  if (!last) throw new Error("no retry queued");
  wallNow += last.delayMs;
  return processor(options).process(retries.lastBody());
}

const subjects = () => notifier.sent.map((mail) => mail.subject.replace(" Compass PO feed", ""));

beforeEach(() => {
  store = new MemoryMonitorStore();
  notifier = new RecordingNotifier();
  retries = new RecordingRetries();
  checks = new Map();
  wallNow = T0;
  claims = 0;
});

describe("delivery retries on their own backoff", () => {
  it("queues a deliver tick after a transient failure, doubling the delay, and delivers on it", async () => {
    configure([false], { schedule: "cron(0 8 * * ? *)" }); // daily: the next tick is a day away
    notifier.failNext = 3;
    const first = (await scheduledTick(0)) as Extract<TickOutcome, { status: "applied" }>;
    expect(first.delivery).toMatchObject({ delivered: false, retryInMs: 30_000 });
    expect(store.states.get(ID)?.outbox).toMatchObject({
      attempts: 1,
      nextAttemptAt: wallNow + 30_000,
    });
    expect(store.states.get(ID)?.outbox?.claimId).toBeUndefined();
    expect(await dueRetry()).toMatchObject({
      status: "delivery-retry",
      healed: [{ delivered: false, retryInMs: 60_000 }],
    });
    await dueRetry();
    expect(retries.scheduled.map((retry) => retry.delayMs)).toEqual([30_000, 60_000, 120_000]);
    expect(await dueRetry()).toMatchObject({ healed: [{ type: "alert", delivered: true }] });
    expect(subjects()).toEqual(["[Monitor ALERT]"]);
    expect(store.states.get(ID)?.outbox).toBeUndefined();
    expect(store.receipts[0]).toMatchObject({ outcome: "delivered", attempts: 4, delayMs: 210_000 });
    // It said it was late, and by how much.
    expect(notifier.sent[0]?.text).toMatch(/^Delayed: this ALERT was decided at .* delivered 4 min late/);
    // First in the readable column, before the headline.
    expect(notifier.sent[0]?.html).toMatch(
      /max-width:600px[^>]*><p[^>]*><strong>Delayed: this ALERT[^<]*<\/strong><\/p><!--watchkeeper:notices--><p[^>]*>Failing since/,
    );
  });

  it("caps the delay at 5 minutes and spreads retries by ±20% jitter", async () => {
    configure([false]);
    notifier.failNext = 100;
    await scheduledTick(0);
    for (let retry = 0; retry < 7; retry++) await dueRetry();
    expect(retries.scheduled.map((entry) => entry.delayMs / 1000)).toEqual([
      30, 60, 120, 240, 300, 300, 300, 300,
    ]);
    // With the jitter at its top, the first delay is 20% longer.
    const store2 = new MemoryMonitorStore();
    store2.configs.set(ID, store.configs.get(ID) ?? {});
    await new TickProcessor({
      store: store2,
      notifier,
      retries,
      findCheck: (name) => checks.get(name),
      wallClock: () => new Date(wallNow),
      random: () => 0.999,
    }).process(tick(new Date(wallNow).toISOString()));
    expect(retries.scheduled.at(-1)?.delayMs).toBeGreaterThan(30_000 * 1.19);
    expect(retries.scheduled.at(-1)?.delayMs).toBeLessThanOrEqual(30_000 * 1.2);
  });

  it("leaves a pending entry to its retry: scheduled ticks and redeliveries do not resend it", async () => {
    configure([false, false, false], { schedule: "rate(1 minute)", reminderFrequencyMinutes: 1 });
    notifier.failNext = 1;
    await scheduledTick(0);
    expect(store.states.get(ID)?.outbox?.attempts).toBe(1);
    // A redelivery of the same tick and the next scheduled tick, both before the retry is due.
    wallNow += 10_000;
    expect(await processor().process(tick(at(0)))).toMatchObject({ status: "duplicate", healed: [] });
    wallNow = T0 + 20_000;
    const next = (await processor().process(tick(at(0.25)))) as Extract<TickOutcome, { status: "applied" }>;
    expect(next.healed).toEqual([]);
    expect(store.states.get(ID)?.outbox?.attempts).toBe(1); // not counted as attempts
    expect(notifier.sent).toHaveLength(0);
    expect(await dueRetry()).toMatchObject({ healed: [{ delivered: true }] });
  });

  it("drops a deliver tick of a superseded retry chain", async () => {
    configure([false]);
    notifier.failNext = 2;
    await scheduledTick(0);
    const stale = retries.lastBody();
    await dueRetry(); // second failure: the entry's retry is now due 60 s later
    const before = structuredClone(store.states.get(ID));
    wallNow += 1_000;
    expect(await processor().process(stale)).toMatchObject({ status: "delivery-retry", healed: [] });
    expect(store.states.get(ID)).toEqual(before);
    expect(notifier.sent).toHaveLength(0);
  });

  it("lets a scheduled tick deliver when the queued retry is overdue (lost)", async () => {
    configure([false, false]);
    notifier.failNext = 1;
    await scheduledTick(0);
    wallNow += 30_000 + 5 * MINUTE + 1;
    const next = (await processor().process(tick(at(5)))) as Extract<TickOutcome, { status: "applied" }>;
    expect(next.healed).toMatchObject([{ type: "alert", delivered: true }]);
  });

  it("fails the message when the retry cannot be queued, so SQS brings the entry back", async () => {
    configure([false]);
    notifier.failNext = 1;
    retries.fail = true;
    await expect(scheduledTick(0)).rejects.toBeInstanceOf(RetryableTickError);
    // The state and the entry are saved; the entry waits for no retry, so the redelivery sends it.
    expect(store.states.get(ID)?.outbox).toMatchObject({ attempts: 1 });
    expect(store.states.get(ID)?.outbox?.nextAttemptAt).toBeUndefined();
    retries.fail = false;
    wallNow += 30_000;
    expect(await processor().process(tick(at(0)))).toMatchObject({
      status: "duplicate",
      healed: [{ delivered: true }],
    });
  });

  it("abandons a mail that keeps failing transiently only at the end of its 24 h budget", async () => {
    configure([false]);
    notifier.failNext = 1_000;
    await scheduledTick(0, { deliveryBudgetMs: 24 * 60 * MINUTE });
    let last: TickOutcome | undefined;
    let rounds = 0;
    while (store.states.get(ID)?.outbox && rounds++ < 500) last = await dueRetry();
    expect(last).toMatchObject({ healed: [{ abandoned: true, error: expect.stringMatching(/over 24 h/) }] });
    // Every retry stayed inside the budget, and the last one landed on its end.
    expect(wallNow - T0).toBe(24 * 60 * MINUTE);
    expect(retries.scheduled.length).toBeGreaterThan(90);
    expect(store.receipts).toMatchObject([{ outcome: "abandoned", type: "alert" }]);
  });
});

describe("incidents reach people in order", () => {
  it("sends the ALERT first after a 30-minute outage at rate(1 minute), never a REMINDER first", async () => {
    configure(Array(40).fill(false), { schedule: "rate(1 minute)", reminderFrequencyMinutes: 5 });
    notifier.failNext = 1_000;
    for (let minute = 0; minute < 30; minute++) {
      await scheduledTick(minute);
      const retry = retries.scheduled.at(-1);
      // The retry queue brings its deliver ticks when due, interleaved with scheduled ticks.
      if (retry && (store.states.get(ID)?.outbox?.nextAttemptAt ?? Infinity) <= wallNow + MINUTE) {
        wallNow = store.states.get(ID)?.outbox?.nextAttemptAt ?? wallNow;
        await processor().process(retries.lastBody());
      }
    }
    expect(notifier.sent).toHaveLength(0);
    expect(store.states.get(ID)?.outboxQueue).toBeUndefined(); // no reminder decided while pending
    expect(store.states.get(ID)?.outbox).toMatchObject({ type: "alert" });
    notifier.failNext = 0;
    for (let minute = 30; minute < 60; minute++) {
      await scheduledTick(minute);
      const due = store.states.get(ID)?.outbox?.nextAttemptAt;
      if (due !== undefined && due <= wallNow + MINUTE) {
        wallNow = Math.max(wallNow, due);
        await processor().process(retries.lastBody());
      }
    }
    expect(subjects()[0]).toBe("[Monitor ALERT]");
    expect(notifier.sent[0]?.text).toMatch(/^Delayed: this ALERT was decided at 2026-03-01T12:00:00.000Z/);
    const [alert, reminder] = store.receipts;
    expect(alert).toMatchObject({ type: "alert", outcome: "delivered" });
    expect(alert?.delayMs).toBeGreaterThanOrEqual(30 * MINUTE);
    // The reminder clock started at the ALERT's delivery: its first reminder is the first tick
    // at least 5 minutes after that, not 5 minutes after the decision.
    const deliveredAt = Date.parse(alert?.deliveredAt ?? "");
    expect(reminder).toMatchObject({ type: "reminder" });
    expect(Date.parse(reminder?.tickTime ?? "") - deliveredAt).toBeGreaterThanOrEqual(5 * MINUTE);
    expect(Date.parse(reminder?.tickTime ?? "") - deliveredAt).toBeLessThan(6 * MINUTE);
  });

  it("starts the reminder clock at delivery: an ALERT 20 minutes late reminds 80 minutes after its decision", async () => {
    configure(Array(20).fill(false), { reminderFrequencyMinutes: 60 });
    notifier.failNext = 1;
    await scheduledTick(0);
    wallNow = T0 + 20 * MINUTE; // the retry was lost; the next tick heals it 20 minutes late
    await processor({ retryOverdueMs: 0 }).process(tick(at(20)));
    expect(store.states.get(ID)?.lastNotificationDt).toBe(at(20));
    for (const minute of [60, 75]) await scheduledTick(minute);
    expect(subjects()).toEqual(["[Monitor ALERT]"]);
    await scheduledTick(80);
    expect(subjects()).toEqual(["[Monitor ALERT]", "[Monitor REMINDER]"]);
  });

  it("delivers a queued RECOVERED after its ALERT, and an ALERT of a new incident after that", async () => {
    configure([false, true, false], { requiredConsecutiveOks: 1 });
    notifier.failNext = 3;
    for (const minute of [0, 5, 10]) await scheduledTick(minute);
    expect(store.states.get(ID)?.outboxQueue?.map((entry) => entry.type)).toEqual(["recovery", "alert"]);
    notifier.failNext = 0;
    await dueRetry();
    expect(subjects()).toEqual(["[Monitor ALERT]", "[Monitor RECOVERED]", "[Monitor ALERT]"]);
    expect(store.receipts.map((receipt) => receipt.tickTime)).toEqual([at(0), at(5), at(10)]);
  });

  it("abandons, on the record, a notification beyond the queue's limit instead of losing the tick", async () => {
    configure([false, true, false, true], { requiredConsecutiveOks: 1 });
    notifier.failNext = 100;
    for (const minute of [0, 5, 10]) await scheduledTick(minute, { maxQueuedNotifications: 2 });
    const fourth = (await scheduledTick(15, { maxQueuedNotifications: 2 })) as Extract<
      TickOutcome,
      { status: "applied" }
    >;
    expect(fourth.decision.notification).toBe("recovery");
    expect(fourth.delivery).toMatchObject({
      type: "recovery",
      abandoned: true,
      error: expect.stringMatching(/3 earlier notifications were still waiting/),
    });
    // The tick itself was applied: state and check result are not lost with it.
    expect(store.states.get(ID)).toMatchObject({ state: "ok", lastTickTime: at(15) });
    expect(store.receipts).toMatchObject([{ type: "recovery", tickTime: at(15), outcome: "abandoned" }]);
  });

  it("queues an early deliver tick again for the rest of its wait instead of dropping its chain", async () => {
    configure([false], { schedule: "cron(0 8 * * ? *)" });
    notifier.failNext = 1;
    await scheduledTick(0);
    const body = retries.lastBody();
    // This instance's clock is 5 s behind the one that queued the retry.
    wallNow += 30_000 - 5_000;
    expect(await processor().process(body)).toMatchObject({ status: "delivery-retry", healed: [] });
    expect(retries.scheduled.at(-1)).toMatchObject({ delayMs: 5_000, attempt: 1 });
    expect(notifier.sent).toHaveLength(0);
    wallNow += 5_000;
    expect(await processor().process(retries.lastBody())).toMatchObject({ healed: [{ delivered: true }] });
  });

  it("comes back for an entry whose sender died holding its claim", async () => {
    configure([false], { schedule: "cron(0 8 * * ? *)" });
    const crashing = processor();
    store.crashAfterNextSave();
    await expect(crashing.process(tick(at(0)))).rejects.toThrow(/crashed/);
    // SQS redelivers the tick while the dead sender's lease is live: nothing to send yet, but a
    // retry is queued for the lease's end, so a daily monitor does not wait a day.
    wallNow += 30_000;
    expect(await processor().process(tick(at(0)))).toMatchObject({ status: "duplicate", healed: [] });
    const followUp = retries.scheduled.at(-1);
    expect(followUp?.delayMs).toBe(270_000 + 2_000);
    expect(await dueRetry()).toMatchObject({ status: "delivery-retry", healed: [{ delivered: true }] });
  });

  it("rides out a throttled release, so a failed entry is never left claimed by nobody", async () => {
    configure([false]);
    notifier.failNext = 1;
    const original = store.saveState.bind(store);
    let throttles = 2;
    store.saveState = async (monitorId, state, expected, records) => {
      if (state.outbox?.attempts === 1 && throttles-- > 0) {
        throw Object.assign(new Error("Rate of requests exceeds"), { name: "ThrottlingException" });
      }
      return original(monitorId, state, expected, records);
    };
    await scheduledTick(0);
    expect(store.states.get(ID)?.outbox).toMatchObject({ attempts: 1, nextAttemptAt: expect.any(Number) });
    expect(store.states.get(ID)?.outbox?.claimId).toBeUndefined();
  });

  it("never sends again from a live process when the clear keeps losing races", async () => {
    configure([false]);
    const original = store.saveState.bind(store);
    store.saveState = async (monitorId, state, expected, records) => {
      if (records?.receipt || records?.receipts?.length)
        throw new (await import("#core/ports.ts")).StaleStateError("always stale");
      return original(monitorId, state, expected, records);
    };
    await expect(scheduledTick(0)).rejects.toBeInstanceOf(RetryableTickError);
    expect(notifier.sent).toHaveLength(1);
  });

  it("still runs the check when a leftover cannot be retried because the retry queue is down", async () => {
    const check = configure([false, false]);
    notifier.failNext = 2;
    await scheduledTick(0);
    retries.fail = true;
    wallNow += 30_000 + 5 * 60_000;
    const next = (await scheduledTick(5)) as Extract<TickOutcome, { status: "applied" }>;
    expect(next.status).toBe("applied");
    expect(check.calls).toBe(2);
    expect(store.states.get(ID)?.outbox?.nextAttemptAt).toBeUndefined();
  });

  it("treats an unreadable createdAt as just decided instead of never abandoning", async () => {
    configure([false]);
    notifier.failNext = 1;
    await scheduledTick(0);
    const state = store.states.get(ID);
    if (state?.outbox) state.outbox.createdAt = "yesterday-ish";
    notifier.failNext = 1;
    expect(await dueRetry()).toMatchObject({ healed: [{ delivered: false, retryInMs: 60_000 }] });
  });

  it("sends the ALERT that reached nobody to people added during the incident", async () => {
    configure([false, false, false, true, true], { peopleToNotify: [], reminderFrequencyMinutes: 60 });
    await scheduledTick(0);
    expect(store.states.get(ID)?.unnotifiedAlert).toEqual({ tickTime: at(0), message: "feed missing" });
    const config = store.configs.get(ID) ?? {};
    store.configs.set(ID, { ...config, peopleToNotify: ["Oncall@example.com", "oncall@example.com"] });
    await scheduledTick(5);
    await scheduledTick(10);
    expect(subjects()).toEqual(["[Monitor ALERT]"]);
    expect(notifier.sent[0]?.to).toEqual(["Oncall@example.com"]);
    // Its incident started with the ALERT that reached nobody, not when it was finally sent.
    expect(notifier.sent[0]?.text).toMatch(/^Failing since: .* · 2026-03-01T12:00:00.000Z$/m);
    expect(notifier.sent[0]?.text).toMatch(/^Delayed: .*nobody was listed to receive it then/);
    expect(store.states.get(ID)?.unnotifiedAlert).toBeUndefined();
    await scheduledTick(15);
    await scheduledTick(20);
    expect(subjects()).toEqual(["[Monitor ALERT]", "[Monitor RECOVERED]"]);
  });

  it("counts reminders of a late ALERT for newly listed people from its delivery", async () => {
    configure(Array(20).fill(false), { peopleToNotify: [], reminderFrequencyMinutes: 30 });
    await scheduledTick(0);
    const config = store.configs.get(ID) ?? {};
    store.configs.set(ID, { ...config, peopleToNotify: ["oncall@example.com"] });
    notifier.failNext = 1;
    await scheduledTick(10); // the late ALERT is decided at minute 10, and its first send fails
    wallNow = T0 + 15 * MINUTE; // delivered 5 minutes later by its retry
    await processor().process(retries.lastBody());
    expect(store.states.get(ID)?.lastNotificationDt).toBe(at(15));
    for (const minute of [20, 40]) await scheduledTick(minute);
    expect(subjects()).toEqual(["[Monitor ALERT]"]);
    await scheduledTick(45);
    expect(subjects()).toEqual(["[Monitor ALERT]", "[Monitor REMINDER]"]);
  });

  it("does not send a stale ALERT when the incident ends before anyone is listed", async () => {
    configure([false, true, true], { peopleToNotify: [], requiredConsecutiveOks: 1 });
    await scheduledTick(0);
    const config = store.configs.get(ID) ?? {};
    store.configs.set(ID, { ...config, peopleToNotify: ["ops@example.com"] });
    await scheduledTick(5);
    expect(subjects()).toEqual(["[Monitor RECOVERED]"]);
    expect(store.states.get(ID)?.unnotifiedAlert).toBeUndefined();
  });
});

describe("outbox claims", () => {
  it("never sends while another sender's claim is live, and releases only its own claim", async () => {
    configure([false]);
    let releaseSend: () => void = () => {};
    let calls = 0;
    // The first sender's SES call hangs past its lease, then fails.
    notifier.send = async (email) => {
      calls++;
      if (calls === 1) {
        await new Promise<void>((resolve) => {
          releaseSend = resolve;
        });
        throw Object.assign(new Error("timed out"), { name: "TimeoutError" });
      }
      notifier.sent.push(email);
      return { messageId: "second" };
    };
    const slow = scheduledTick(0);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(store.states.get(ID)?.outbox?.claimId).toBe("claim-1");
    // Within the lease, a redelivery leaves it alone, and queues a follow-up for the lease's end.
    wallNow += 60_000;
    await processor().process(tick(at(0)));
    expect(calls).toBe(1);
    expect(retries.scheduled.at(-1)).toMatchObject({ delayMs: 240_000 + 2_000, attempt: 0 });
    // After the lease, another sender claims it and delivers.
    wallNow += 241_000;
    expect(await processor().process(tick(at(0)))).toMatchObject({ healed: [{ delivered: true }] });
    expect(calls).toBe(2);
    releaseSend();
    await slow;
    // The first sender's failure neither resurrected the entry nor re-released anything.
    expect(store.states.get(ID)?.outbox).toBeUndefined();
    expect(notifier.sent).toHaveLength(1);
    expect(store.receipts).toHaveLength(1);
  });

  it("does not release a claim another sender took over while it was failing", async () => {
    configure([false]);
    let releaseSend: () => void = () => {};
    notifier.send = async () => {
      await new Promise<void>((resolve) => {
        releaseSend = resolve;
      });
      throw Object.assign(new Error("Service Unavailable"), { name: "ServiceUnavailable" });
    };
    const first = scheduledTick(0);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const firstRelease = releaseSend;
    wallNow += 301_000;
    const second = processor().process(tick(at(0)));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(store.states.get(ID)?.outbox?.claimId).toBe("claim-2");
    firstRelease();
    await first;
    // claim-1's failure left claim-2's live claim in place.
    expect(store.states.get(ID)?.outbox).toMatchObject({ claimId: "claim-2", attempts: 0 });
    releaseSend();
    await second;
    expect(store.states.get(ID)?.outbox).toMatchObject({ attempts: 1 });
    expect(store.states.get(ID)?.outbox?.claimId).toBeUndefined();
  });
});

describe("manual rechecks", () => {
  it("never swallow scheduled ticks, even when the sender's clock runs ahead", async () => {
    const check = configure([true, true, true, true]);
    // The operator's laptop is 4 minutes ahead: its manual tick is stamped in our future.
    wallNow = T0 + 10 * MINUTE;
    const manual = await processor().process(tick(at(14), { reason: "manual" }));
    expect(manual).toMatchObject({ status: "applied" });
    // Applied at our time, not the laptop's.
    expect(store.states.get(ID)?.lastRunDt).toBe(at(10));
    expect(store.states.get(ID)?.lastTickTime).toBeUndefined();
    // Scheduled ticks stamped before the laptop's time still run.
    for (const minute of [11, 12, 13]) {
      expect((await scheduledTick(minute)).status).toBe("applied");
    }
    expect(check.calls).toBe(4);
    // A second delivery of the manual tick is still a duplicate.
    expect((await processor().process(tick(at(14), { reason: "manual" }))).status).toBe("duplicate");
  });
});
