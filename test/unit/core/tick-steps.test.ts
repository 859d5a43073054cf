import { describe, expect, it } from "vitest";
import { parseChannelNames } from "#core/delivery-targets.ts";
import { type MonitorState, type Outbox, parseConfigLeniently } from "#core/schemas.ts";
import { decideNotification, enqueue } from "#core/tick/decide.ts";
import { admitTick, guard, supersededAt } from "#core/tick/guard.ts";
import { createTickRuntime, type TickContext } from "#core/tick/runtime.ts";
import { MemoryMonitorStore, RecordingNotifier, scriptedCheck } from "../../support/memory-adapters.ts";

/** The tick's steps (functions/core/tick/*), each on its own: no TickProcessor in this file. */

const ID = "steps";
const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 6, minute)).toISOString();
const WALL = Date.parse("2026-03-01T06:30:00Z");

const config = (raw: Record<string, unknown> = {}) =>
  parseConfigLeniently(ID, {
    name: "Steps",
    check: "scripted",
    peopleToNotify: ["ops@example.com"],
    reminderFrequencyMinutes: 10,
    ...raw,
  }).config;

const state = (extra: Partial<MonitorState> = {}): MonitorState => ({
  state: "ok",
  consecutiveOkCount: 0,
  version: 3,
  lastTickTime: at(0),
  ...extra,
});

function runtime(store = new MemoryMonitorStore(), wallNow = WALL) {
  const notifier = new RecordingNotifier();
  return {
    store,
    notifier,
    runtime: createTickRuntime({
      store,
      notifier,
      findCheck: () => scriptedCheck([true]),
      wallClock: () => new Date(wallNow),
      newClaimId: () => "claim-1",
    }),
  };
}

const contextFor = (tickTime: string, extra: Partial<TickContext["tick"]> = {}): TickContext => ({
  tick: { monitorId: ID, scheduledTime: tickTime, ...extra },
  tickTime,
  claimId: "claim-1",
  limits: {},
});

describe("channels in the config item", () => {
  it("keeps the valid names, drops and reports the others; absent means the stack's default", () => {
    const { config: parsed, problems } = parseConfigLeniently(ID, {
      name: "Steps",
      check: "scripted",
      channels: ["ops-slack", "Ops Slack", "ops-slack", 7],
    });
    expect(parsed.channels).toEqual(["ops-slack"]);
    expect(problems.map((problem) => problem.attribute)).toEqual(["channels[1]", "channels[3]"]);
    expect(config().channels).toBeUndefined();
    expect(parseChannelNames(" ops-slack,pager ,, ops-slack")).toEqual(["ops-slack", "pager"]);
    expect(() => parseChannelNames("ops-slack,Bad Name")).toThrow(/"Bad Name"/);
  });
});

describe("guard step: admitTick", () => {
  const options = { maxBodyBytes: 4096, maxFutureSkewMs: 300_000 };

  it("admits a scheduled tick at its scheduledTime", () => {
    expect(admitTick(JSON.stringify({ monitorId: ID, scheduledTime: at(1) }), options, WALL)).toEqual({
      tick: { monitorId: ID, scheduledTime: at(1) },
      tickTime: at(1),
    });
  });

  it("rejects a tick further ahead of the wall clock than allowed, saying by how much", () => {
    const ahead = new Date(WALL + 301_000).toISOString();
    const admitted = admitTick(JSON.stringify({ monitorId: ID, scheduledTime: ahead }), options, WALL);
    expect(admitted).toEqual({ reason: expect.stringContaining("301 s ahead of the clock (limit 300 s)") });
  });

  it("dates a manual recheck no later than the wall clock", () => {
    const ahead = new Date(WALL + 60_000).toISOString();
    const admitted = admitTick(
      JSON.stringify({ monitorId: ID, scheduledTime: ahead, reason: "manual" }),
      options,
      WALL,
    );
    expect(admitted).toMatchObject({ tickTime: new Date(WALL).toISOString() });
  });

  it("rejects unreadable bodies without throwing", () => {
    expect(admitTick("not json", options, WALL)).toEqual({ reason: expect.stringContaining("not JSON") });
    expect(admitTick("x".repeat(5000), options, WALL)).toEqual({
      reason: expect.stringContaining("5000 bytes"),
    });
  });
});

describe("guard step: guard", () => {
  it("stops at a missing config item, and at a paused monitor even with a pending notification", async () => {
    const { runtime: rt, notifier } = runtime();
    expect(await guard(rt, contextFor(at(1)), { config: undefined, state: undefined })).toEqual({
      outcome: { status: "not-found", monitorId: ID },
    });
    const pending = { id: "x", type: "alert", tickTime: at(0), recipients: ["a@example.com"] } as Outbox;
    const paused = await guard(rt, contextFor(at(1)), {
      config: { name: "Steps", check: "scripted", isActive: false },
      state: state({ outbox: pending }),
    });
    expect(paused).toEqual({ outcome: { status: "inactive", monitorId: ID } });
    expect(notifier.sent).toHaveLength(0);
  });

  it("stops duplicate and out-of-order ticks, and passes a newer one with its config and problems", async () => {
    const { runtime: rt } = runtime();
    const stored = {
      config: { name: "Steps", check: "scripted", isActive: "maybe", skipSupersededTicks: false },
      state: state(),
    };
    expect(await guard(rt, contextFor(at(0)), stored)).toMatchObject({
      outcome: { status: "duplicate", lastTickTime: at(0), healed: [] },
    });
    const passed = await guard(rt, contextFor(at(1)), stored);
    expect(passed).toMatchObject({ state: stored.state, healed: [], config: { isActive: true } });
    expect("problems" in passed && passed.problems.map((problem) => problem.attribute)).toEqual(["isActive"]);
  });

  it("a manual recheck is judged against the last manual tick, never the scheduled clock", async () => {
    const { runtime: rt } = runtime();
    const stored = { config: { name: "Steps", check: "scripted" }, state: state({ lastTickTime: at(20) }) };
    const manual = await guard(rt, contextFor(at(5), { reason: "manual" }), stored);
    expect("outcome" in manual).toBe(false);
  });

  it("delivers a pending notification before stopping a deliver tick", async () => {
    const store = new MemoryMonitorStore();
    const pending: Outbox = {
      id: `${at(0)}#alert`,
      type: "alert",
      tickTime: at(0),
      recipients: ["ops@example.com"],
      subject: "[Monitor ALERT] Steps",
      text: "t",
      html: "<p>h</p>",
      createdAt: new Date(WALL).toISOString(),
      attempts: 0,
    };
    store.states.set(ID, state({ outbox: pending }));
    const { runtime: rt, notifier } = runtime(store);
    const outcome = await guard(rt, contextFor(at(0), { reason: "deliver" }), {
      config: { name: "Steps", check: "scripted", peopleToNotify: ["ops@example.com"] },
      state: store.states.get(ID),
    });
    expect(outcome).toMatchObject({ outcome: { status: "delivery-retry", healed: [{ delivered: true }] } });
    expect(notifier.sent.map((mail) => mail.subject)).toEqual(["[Monitor ALERT] Steps"]);
    expect(store.states.get(ID)?.outbox).toBeUndefined();
  });

  it("supersededAt: a backlog tick whose next run has passed (plus grace) is superseded; a fresh one never", () => {
    const { runtime: rt } = runtime(new MemoryMonitorStore(), Date.parse(at(12)));
    const everyFive = config({ schedule: "rate(5 minutes)", skipSupersededTicks: true });
    expect(supersededAt(rt, { monitorId: ID, scheduledTime: at(0) }, at(0), everyFive)).toBe(at(5));
    expect(supersededAt(rt, { monitorId: ID, scheduledTime: at(11) }, at(11), everyFive)).toBeNull();
    const replay = config({ schedule: "rate(5 minutes)", skipSupersededTicks: false });
    expect(supersededAt(rt, { monitorId: ID, scheduledTime: at(0) }, at(0), replay)).toBeNull();
  });
});

describe("decide step: decideNotification (pure)", () => {
  const failing = { isOk: false, message: "feed missing" };

  it("ok -> fail: an ALERT entry for the listed people, tagged with the incident it opens", () => {
    const decided = decideNotification(at(1), state(), config(), failing, WALL);
    expect(decided.decision.notification).toBe("alert");
    expect(decided.entry).toMatchObject({
      id: `${at(1)}#alert`,
      type: "alert",
      tickTime: at(1),
      recipients: ["ops@example.com"],
      subject: "[Monitor ALERT] Steps",
      incident: at(1),
      attempts: 0,
      createdAt: new Date(WALL).toISOString(),
    });
    expect(decided.incident.update).toMatchObject({ start: at(1), set: { openedAt: at(1) } });
    expect(decided.unnotifiedAlert).toBeUndefined();
  });

  it("nobody listed: no entry, and the ALERT is remembered as unnotified", () => {
    const decided = decideNotification(at(1), state(), config({ peopleToNotify: [] }), failing, WALL);
    expect(decided.decision.notification).toBe("alert");
    expect(decided.entry).toBeUndefined();
    expect(decided.unnotifiedAlert).toEqual({ tickTime: at(1), message: "feed missing" });
  });

  it("an unnotified ALERT goes, late and once, to people listed since; its reminders count from now", () => {
    const alerting = state({
      state: "alert",
      lastNotificationDt: at(1),
      lastNotificationType: "alert",
      unnotifiedAlert: { tickTime: at(1), message: "feed missing" },
      incident: { start: at(1) },
    });
    const decided = decideNotification(at(4), alerting, config(), failing, WALL);
    expect(decided.decision).toMatchObject({ notification: "alert", next: { lastNotificationDt: at(4) } });
    expect(decided.entry).toMatchObject({ type: "alert", tickTime: at(1), reminderClockFrom: at(4) });
    expect(decided.entry?.text).toMatch(/^Delayed: this ALERT was decided at/);
    expect(decided.unnotifiedAlert).toBeUndefined();
  });

  it("no REMINDER while a notification is pending; one that is due counts the incident's reminders", () => {
    const alerting = state({
      state: "alert",
      lastNotificationDt: at(0),
      lastNotificationType: "alert",
      incident: { start: at(0), reminders: 2 },
    });
    const pending = { ...alerting, outbox: { id: "x" } as Outbox };
    const waiting = decideNotification(at(15), pending, config(), failing, WALL);
    expect(waiting).toMatchObject({ decision: { notification: null, quietReason: "awaiting-delivery" } });
    expect(waiting.entry).toBeUndefined();
    const due = decideNotification(at(15), alerting, config(), failing, WALL);
    expect(due.entry).toMatchObject({ type: "reminder", incident: at(0) });
    expect(due.entry?.text).toContain("This is reminder 3");
    expect(due.incident.incident?.reminders).toBe(3);
  });

  it("channels make a notification listed too, but only when the engine has channel ports", () => {
    const channelOnly = config({ peopleToNotify: [], channels: ["ops-slack"] });
    const emailOnly = decideNotification(at(1), state(), channelOnly, failing, WALL);
    expect(emailOnly.entry).toBeUndefined();
    expect(emailOnly.unnotifiedAlert).toEqual({ tickTime: at(1), message: "feed missing" });
    const withChannels = decideNotification(at(1), state(), channelOnly, failing, WALL, {
      defaultChannels: ["pager"],
      channelsEnabled: true,
    });
    expect(withChannels.entry).toMatchObject({ recipients: [], channels: ["ops-slack"] });
    // Facts, not only a rendering: each target renders its own message at send time.
    expect(withChannels.entry?.facts).toMatchObject({
      name: "Steps",
      check: "scripted",
      message: "feed missing",
      failingSince: at(1),
      reminderFrequencyMinutes: 10,
    });
    const defaulted = decideNotification(at(1), state(), config({ peopleToNotify: [] }), failing, WALL, {
      defaultChannels: ["pager"],
      channelsEnabled: true,
    });
    expect(defaulted.entry?.channels).toEqual(["pager"]);
  });

  it("enqueue: the head is claimed by this tick; later ones queue in order; beyond the limit, overflow", () => {
    const entry = (id: string, recipients = ["ops@example.com"]) => ({ id, recipients }) as Outbox;
    const claim = { claimId: "claim-1", claimedUntil: 99 };
    expect(enqueue(state(), entry("b"), claim, 2)).toEqual({
      outbox: { ...entry("b"), claimId: "claim-1", claimedUntil: 99 },
      outboxQueue: undefined,
    });
    const head = state({ outbox: entry("a") });
    expect(enqueue(head, entry("b"), claim, 2).outboxQueue).toEqual([entry("b")]);
    const full = state({ outbox: entry("a"), outboxQueue: [entry("q")] });
    expect(enqueue(full, entry("b"), claim, 1)).toEqual({
      outbox: entry("a"),
      outboxQueue: [entry("q")],
      overflow: "2 earlier notifications were still waiting for delivery (limit 1)",
      overflowed: [{ key: "email:ops@example.com", kind: "email", address: "ops@example.com" }],
    });
  });

  it("enqueue: past the byte budget a lagging target overflows, except for a RECOVERED under its larger budget", () => {
    const claim = { claimId: "claim-1", claimedUntil: 99 };
    // Pending entries of about 240 KB that ops@ still waits for: over 200 KB, under 280 KB.
    const bulky = (id: string) =>
      ({
        id,
        type: "reminder",
        recipients: ["ops@example.com"],
        text: "x".repeat(80_000),
      }) as unknown as Outbox;
    const full = state({ outbox: bulky("a"), outboxQueue: [bulky("q1"), bulky("q2")] });
    const next = (type: "reminder" | "recovery") =>
      ({ id: `b-${type}`, type, recipients: ["ops@example.com", "new@example.com"] }) as unknown as Outbox;
    const reminder = enqueue(full, next("reminder"), claim, 20, undefined, at(9));
    expect(reminder.overflowed?.map((target) => target.key)).toEqual(["email:ops@example.com"]);
    expect(reminder.overflow).toMatch(/fill 23\d KB of the monitor's state \(limit 195 KB\)/);
    // A target with nothing waiting still gets it.
    expect(reminder.outboxQueue?.at(-1)?.id).toBe("b-reminder");
    const recovery = enqueue(full, next("recovery"), claim, 20, undefined, at(9));
    expect(recovery.overflowed).toBeUndefined();
    expect(recovery.outboxQueue?.at(-1)).toEqual(next("recovery"));
  });

  it("enqueue: only the targets that have too many waiting are given it up; the others still get it", () => {
    const claim = { claimId: "claim-1", claimedUntil: 99 };
    // ops@ is still waiting for both earlier entries; dev@ got them already.
    const delivered = { attempts: 1, outcome: "delivered" as const };
    const earlier = (id: string) =>
      ({
        id,
        recipients: ["ops@example.com", "dev@example.com"],
        targets: { "email:dev@example.com": delivered },
      }) as unknown as Outbox;
    const full = state({ outbox: earlier("a"), outboxQueue: [earlier("q")] });
    const next = { id: "b", recipients: ["ops@example.com", "dev@example.com"] } as Outbox;
    const queued = enqueue(full, next, claim, 1, undefined, at(9));
    expect(queued.overflowed?.map((target) => target.key)).toEqual(["email:ops@example.com"]);
    expect(queued.outboxQueue?.at(-1)).toEqual({
      ...next,
      targets: {
        "email:ops@example.com": {
          attempts: 0,
          outcome: "abandoned",
          lastError: "2 earlier notifications were still waiting for delivery (limit 1)",
          at: at(9),
        },
      },
    });
  });
});
