import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import {
  BOOKKEEPING_ATTRIBUTES,
  changedAttributes,
  heartbeatDue,
  isQuiet,
  QuietRunSamples,
  quietRunsBetween,
} from "#core/quiet.ts";
import type { MonitorState } from "#core/schemas.ts";
import { type TickOutcome, TickProcessor } from "#core/tick.ts";
import type { CheckDefinition } from "../../../monitors/types.ts";
import { MemoryMonitorStore, RecordingNotifier, scriptedCheck } from "../../support/memory-adapters.ts";

/** Write on change (issue 13): quiet ticks, heartbeat writes, summaries, the batch's one read. */

const ID = "compass-po";
const MINUTE = 60_000;
const HEARTBEAT = 15 * MINUTE;
const T0 = Date.UTC(2026, 2, 1, 6, 0);
const at = (minute: number) => new Date(T0 + minute * MINUTE).toISOString();
const tick = (minute: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ monitorId: ID, scheduledTime: at(minute), ...extra });

let store: MemoryMonitorStore;
let notifier: RecordingNotifier;
let checks: Map<string, CheckDefinition>;

function processor(stateHeartbeatMs = HEARTBEAT, target = store, mail = notifier) {
  return new TickProcessor({
    store: target,
    notifier: mail,
    findCheck: (name) => checks.get(name),
    // Ticks are replayed in the past: the wall clock stands after all of them.
    wallClock: () => new Date(T0 + 24 * 60 * MINUTE),
    options: { stateHeartbeatMs },
  });
}

function configure(outcomes: boolean[], config: Record<string, unknown> = {}, target = store) {
  const check = scriptedCheck(outcomes);
  checks.set("scripted", check);
  target.configs.set(ID, {
    monitorId: ID,
    record: "config",
    name: "Compass PO feed",
    check: "scripted",
    schedule: "rate(1 minute)",
    peopleToNotify: ["ops@example.com"],
    skipSupersededTicks: false,
    ...config,
  });
  return check;
}

const written = (outcome: TickOutcome) => (outcome.status === "applied" ? outcome.written : outcome.status);

beforeEach(() => {
  store = new MemoryMonitorStore();
  notifier = new RecordingNotifier();
  checks = new Map();
});

describe("the quiet-tick decision", () => {
  const previous: MonitorState = {
    state: "ok",
    consecutiveOkCount: 0,
    lastRunDt: at(0),
    lastTickTime: at(0),
    lastResultOk: true,
    lastResultMessage: "200 in 40 ms",
    version: 3,
    stateHeartbeatMinutes: 15,
  };
  const next = (changes: Partial<MonitorState> = {}): MonitorState => ({
    ...previous,
    lastRunDt: at(1),
    lastTickTime: at(1),
    lastResultMessage: "200 in 52 ms",
    version: 4,
    ...changes,
  });
  const quiet = (n: MonitorState, extra: Partial<Parameters<typeof isQuiet>[0]> = {}) =>
    isQuiet({ previous, next: n, isOk: true, manual: false, notified: false, ...extra });

  it("ignores bookkeeping only", () => {
    expect(BOOKKEEPING_ATTRIBUTES).toEqual(["lastRunDt", "lastTickTime", "lastResultMessage", "version"]);
    expect(changedAttributes(previous, next())).toEqual([]);
    expect(quiet(next())).toBe(true);
  });

  it.each<[string, Partial<MonitorState>]>([
    ["a transition", { state: "alert" }],
    ["a counter", { consecutiveOkCount: 1 }],
    ["a config problem", { configProblems: "timezone is not an IANA timezone" }],
    ["a schedule error cleared", { scheduleError: undefined }],
    ["another heartbeat setting", { stateHeartbeatMinutes: 30 }],
    ["an unnotified alert", { unnotifiedAlert: { tickTime: at(0), message: "down" } }],
  ])("is not quiet on %s", (_what, changes) => {
    const before = { ...previous, scheduleError: "old" };
    const after = { ...next(), scheduleError: "old", ...changes };
    expect(isQuiet({ previous: before, next: after, isOk: true, manual: false, notified: false })).toBe(
      false,
    );
  });

  it("is never quiet for a failure, a manual run, a notification, pending mail or a first run", () => {
    expect(quiet(next({ lastResultOk: false }), { isOk: false })).toBe(false);
    expect(quiet(next(), { manual: true })).toBe(false);
    expect(quiet(next(), { notified: true })).toBe(false);
    const outbox = {
      id: "x",
      type: "alert" as const,
      tickTime: at(0),
      recipients: [],
      subject: "",
      text: "",
      html: "",
      createdAt: at(0),
      attempts: 1,
    };
    expect(quiet(next({ outbox }))).toBe(false);
    expect(isQuiet({ previous: undefined, next: next(), isOk: true, manual: false, notified: false })).toBe(
      false,
    );
    // An OK after a failed run changes lastResultOk: written.
    expect(
      isQuiet({
        previous: { ...previous, lastResultOk: false },
        next: next(),
        isOk: true,
        manual: false,
        notified: false,
      }),
    ).toBe(false);
  });

  it("asks for a heartbeat once the persisted run is the interval old", () => {
    expect(heartbeatDue(previous, at(14), HEARTBEAT)).toBe(false);
    expect(heartbeatDue(previous, at(15), HEARTBEAT)).toBe(true);
    expect(heartbeatDue(previous, at(1), 0)).toBe(true);
    // A manual run moved lastRunDt but not lastTickTime: the scheduled clock still counts.
    expect(heartbeatDue({ ...previous, lastRunDt: at(10) }, at(15), HEARTBEAT)).toBe(true);
  });
});

describe("quietRunsBetween", () => {
  const window = (schedule: string, until: number, includeUntil: boolean, timezone = "UTC") =>
    quietRunsBetween({
      schedule,
      timezone,
      lastTickTime: at(0),
      until: at(until),
      includeUntil,
      heartbeatMs: HEARTBEAT,
    });

  it("counts a rate schedule's runs after the last write, up to the heartbeat tick", () => {
    expect(window("rate(1 minute)", 15, true)).toEqual({ from: at(1), to: at(15), count: 15 });
    expect(window("rate(5 minutes)", 15, true)).toEqual({ from: at(5), to: at(15), count: 3 });
  });

  it("counts the quiet runs before a tick that writes for another reason, not the tick itself", () => {
    expect(window("rate(1 minute)", 6, false)).toEqual({ from: at(1), to: at(5), count: 5 });
    expect(window("rate(1 minute)", 1, false)).toBeUndefined();
  });

  it("never counts past the heartbeat: later runs would have written (a pause, a lost tick)", () => {
    expect(window("rate(1 minute)", 120, true)).toEqual({ from: at(1), to: at(120), count: 15 });
  });

  it("walks cron schedules in their timezone", () => {
    // Every 5 minutes on weekdays; 2026-03-01 is a Sunday: none until Monday.
    expect(window("cron(0/5 * ? * MON-FRI *)", 15, false)).toBeUndefined();
    expect(window("cron(0/5 * * * ? *)", 15, true)).toEqual({ from: at(5), to: at(15), count: 3 });
  });

  it("gives up on a schedule it cannot read", () => {
    expect(window("every minute", 15, true)).toBeUndefined();
  });
});

describe("QuietRunSamples", () => {
  it("keeps one sample per tick, drops them when the write they follow is not the stored one", () => {
    const samples = new QuietRunSamples();
    samples.add(ID, at(0), at(1), 10);
    samples.add(ID, at(0), at(1), 12); // a redelivery replaces its sample
    samples.add(ID, at(0), at(2), 20);
    expect(samples.durations(ID, at(0), at(2))).toEqual([
      [at(1), 12],
      [at(2), 20],
    ]);
    expect(samples.durations(ID, at(0), at(1))).toEqual([[at(1), 12]]);
    expect(samples.durations(ID, at(5), at(9))).toEqual([]);
    samples.add(ID, at(5), at(6), 30);
    expect(samples.durations(ID, at(0), at(9))).toEqual([]);
    samples.forget(ID);
    expect(samples.size).toBe(0);
  });

  it("is bounded in monitors and samples", () => {
    const samples = new QuietRunSamples(2, 3);
    for (let i = 0; i < 10; i++) samples.add("a", at(0), at(i + 1), i);
    samples.add("b", at(0), at(1), 1);
    samples.add("c", at(0), at(1), 1);
    expect(samples.size).toBe(2);
    expect(samples.durations("a", at(0), at(99))).toEqual([]);
    samples.add("a", at(0), at(1), 1);
    for (let i = 2; i < 10; i++) samples.add("a", at(0), at(i), i);
    expect(samples.durations("a", at(0), at(99))).toHaveLength(3);
  });
});

describe("TickProcessor, write on change", () => {
  it("writes a steady healthy monitor once per heartbeat, with a summary of its quiet runs", async () => {
    configure([true]);
    const ticks = processor();
    expect(written(await ticks.process(tick(0)))).toBe("state");
    const outcomes: string[] = [];
    for (let minute = 1; minute <= 30; minute++) outcomes.push(written(await ticks.process(tick(minute))));
    expect(outcomes.filter((w) => w === "none")).toHaveLength(28);
    expect(outcomes[14]).toBe("heartbeat");
    expect(outcomes[29]).toBe("heartbeat");
    expect(store.writes).toBe(3);
    expect(store.runs).toHaveLength(1);
    expect(store.summaries).toEqual([
      expect.objectContaining({
        kind: "summary",
        from: at(1),
        to: at(15),
        count: 15,
        failures: 0,
        samples: 15,
      }),
      expect.objectContaining({ from: at(16), to: at(30), count: 15, samples: 15, scheduledTime: at(30) }),
    ]);
    expect(store.summaries[0]?.durationsMs).toHaveLength(15);
    expect(store.states.get(ID)).toMatchObject({
      lastRunDt: at(30),
      lastTickTime: at(30),
      stateHeartbeatMinutes: 15,
    });
  });

  it("records a failure per tick, with the quiet runs before it summarised", async () => {
    configure([true, true, true, true, false]);
    const ticks = processor();
    for (let minute = 0; minute < 4; minute++) await ticks.process(tick(minute));
    const failed = await ticks.process(tick(4));
    expect(written(failed)).toBe("state");
    expect(notifier.sent).toHaveLength(1);
    expect(store.runs.map((run) => run.scheduledTime)).toEqual([at(0), at(4)]);
    expect(store.summaries).toEqual([
      expect.objectContaining({ from: at(1), to: at(3), count: 3, samples: 3 }),
    ]);
  });

  it("summarises the counted runs even when another container measured them (samples: 0)", async () => {
    configure([true]);
    await processor().process(tick(0));
    // Minutes 1-14 ran elsewhere (another container, whose samples this one never sees).
    const elsewhere = processor();
    for (let minute = 1; minute < 15; minute++) await elsewhere.process(tick(minute));
    const here = processor();
    expect(written(await here.process(tick(15)))).toBe("heartbeat");
    expect(store.summaries).toEqual([expect.objectContaining({ count: 15, samples: 1 })]);
  });

  it("takes a redelivered or late quiet tick for the duplicate it is, though lastTickTime lags", async () => {
    const check = configure([true, true, true, false]);
    const ticks = processor();
    await ticks.process(tick(0));
    expect(written(await ticks.process(tick(1)))).toBe("none");
    expect(written(await ticks.process(tick(2)))).toBe("none");
    // The same tick again, and an older one arriving late: no check, no write, no mail.
    expect(await ticks.process(tick(2))).toMatchObject({ status: "duplicate", lastTickTime: at(2) });
    expect(await ticks.process(tick(1))).toMatchObject({ status: "duplicate" });
    expect(check.calls).toBe(3);
    expect(store.writes).toBe(1);
    expect(notifier.sent).toHaveLength(0);
  });

  it("runs a quiet tick applied by another container again, without writing or mailing", async () => {
    const check = configure([true]);
    await processor().process(tick(0));
    expect(written(await processor().process(tick(1)))).toBe("none");
    expect(written(await processor().process(tick(1)))).toBe("none");
    expect(check.calls).toBe(3);
    expect(store.writes).toBe(1);
    expect(notifier.sent).toHaveLength(0);
  });

  it("summarises the quiet runs under the heartbeat they were quiet under when the setting drops", async () => {
    configure([true]);
    const before = processor(15 * MINUTE);
    for (let minute = 0; minute < 10; minute++) await before.process(tick(minute));
    expect(store.writes).toBe(1);
    // Deployed with a 5-minute heartbeat: minutes 1-9 were quiet under 15, and all are counted.
    expect(written(await processor(5 * MINUTE).process(tick(10)))).toBe("state");
    expect(store.summaries).toEqual([expect.objectContaining({ from: at(1), to: at(9), count: 9 })]);
  });

  it("still catches the duplicate of a failing tick: it was written", async () => {
    configure([true, false, true]);
    const ticks = processor();
    await ticks.process(tick(0));
    await ticks.process(tick(1));
    expect(notifier.sent).toHaveLength(1);
    const again = await ticks.process(tick(1));
    expect(again.status).toBe("duplicate");
    expect(notifier.sent).toHaveLength(1);
  });

  it("writes every manual recheck, and leaves the quiet runs to the next scheduled write", async () => {
    configure([true]);
    const ticks = processor();
    await ticks.process(tick(0));
    await ticks.process(tick(1));
    expect(written(await ticks.process(tick(2, { reason: "manual" })))).toBe("state");
    expect(store.summaries).toHaveLength(0);
    for (let minute = 2; minute <= 15; minute++) await ticks.process(tick(minute));
    expect(store.summaries).toEqual([expect.objectContaining({ from: at(1), to: at(15), count: 15 })]);
  });

  it("writes every tick with stateHeartbeatMs 0, as before", async () => {
    configure([true]);
    const ticks = processor(0);
    for (let minute = 0; minute < 5; minute++)
      expect(written(await ticks.process(tick(minute)))).toBe("state");
    expect(store.runs).toHaveLength(5);
    expect(store.summaries).toHaveLength(0);
    expect(store.states.get(ID)?.stateHeartbeatMinutes).toBeUndefined();
  });

  it("writes no summary with recordOnlyChanges, but keeps the heartbeat", async () => {
    configure([true], { recordOnlyChanges: true });
    const ticks = processor();
    for (let minute = 0; minute <= 15; minute++) await ticks.process(tick(minute));
    expect(store.writes).toBe(2);
    expect(store.summaries).toHaveLength(0);
  });

  it("reads a batch's monitors once, hands each to its first tick only, re-reads after a race", async () => {
    configure([true]);
    const ticks = processor();
    await ticks.process(tick(0));
    store.loads = 0;
    const prefetched = await ticks.prefetch([tick(1), tick(2), "not json"]);
    expect(store.batchLoads).toBe(1);
    await ticks.process(tick(1), { prefetched });
    expect(store.loads).toBe(0);
    await ticks.process(tick(2), { prefetched });
    expect(store.loads).toBe(1);
  });

  it("re-reads when the prefetched state lost a race", async () => {
    configure([false]);
    const ticks = processor();
    await ticks.process(tick(0));
    const prefetched = await ticks.prefetch([tick(1)]);
    // Someone writes between the batch read and the tick (schedule-sync, a deliver tick).
    const state = store.states.get(ID) as MonitorState;
    store.states.set(ID, { ...state, version: state.version + 1, scheduleError: "x" });
    store.loads = 0;
    const outcome = await ticks.process(tick(1), { prefetched });
    expect(outcome.status).toBe("applied");
    expect(store.loads).toBe(1);
    expect(store.states.get(ID)?.scheduleError).toBe("x");
  });
});

describe("property: write on change persists what writing every tick persists", () => {
  // Bookkeeping aside, and with the quiet runs' history as summaries instead of run items.
  const comparable = (state: MonitorState | undefined) => {
    if (!state) return state;
    const { lastRunDt, lastTickTime, lastResultMessage, version, stateHeartbeatMinutes, ...rest } = state;
    return rest;
  };

  it("for any sequence of check results: same state after each write, same mail, every run accounted for", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom(2, 5, 15),
        // Rate periods that divide the heartbeat and periods that do not (a run just before it).
        fc.constantFrom(1, 2, 6, 10),
        async (outcomes, requiredConsecutiveOks, heartbeatMinutes, period) => {
          checks = new Map();
          const quietStore = new MemoryMonitorStore();
          const everyStore = new MemoryMonitorStore();
          const quietMail = new RecordingNotifier();
          const everyMail = new RecordingNotifier();
          const schedule = period === 1 ? "rate(1 minute)" : `rate(${period} minutes)`;
          const config = { requiredConsecutiveOks, reminderFrequencyMinutes: 7, schedule };
          configure(outcomes, config, quietStore);
          const quietTicks = processor(heartbeatMinutes * MINUTE, quietStore, quietMail);
          for (let run = 0; run < outcomes.length; run++) await quietTicks.process(tick(run * period));
          configure(outcomes, config, everyStore);
          const everyTicks = processor(0, everyStore, everyMail);
          for (let run = 0; run < outcomes.length; run++) await everyTicks.process(tick(run * period));

          expect(quietMail.sent.map((mail) => mail.subject)).toEqual(
            everyMail.sent.map((mail) => mail.subject),
          );
          expect(comparable(quietStore.states.get(ID))).toEqual(comparable(everyStore.states.get(ID)));
          // Every run is either its own run item or counted in exactly one summary.
          const counted =
            quietStore.runs.length + quietStore.summaries.reduce((sum, summary) => sum + summary.count, 0);
          const last = quietStore.states.get(ID) as MonitorState;
          const behindMinutes =
            (Date.parse(at((outcomes.length - 1) * period)) - Date.parse(last.lastTickTime ?? "")) / MINUTE;
          expect(counted + behindMinutes / period).toBe(outcomes.length);
          // lastRunDt is never a heartbeat or more behind the last applied tick.
          expect(behindMinutes).toBeLessThan(heartbeatMinutes);
          // Failures are recorded per tick.
          expect(quietStore.runs.filter((run) => run.isOk === false)).toHaveLength(
            outcomes.filter((ok) => !ok).length,
          );
        },
      ),
      { numRuns: 150 },
    );
  });
});
