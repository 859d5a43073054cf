import { beforeEach, describe, expect, it } from "vitest";
import {
  AckConflictError,
  AcknowledgementService,
  IncidentChangedError,
  InvalidAckRequestError,
  MonitorNotFoundError,
  NotInIncidentError,
} from "#core/ack.ts";
import { applyIncidentUpdate, INCIDENT_RETENTION_DAYS } from "#core/incident.ts";
import { StaleStateError } from "#core/ports.ts";
import { renderNotification } from "#core/render.ts";
import { escapeHtml } from "#core/text.ts";
import { TickProcessor } from "#core/tick.ts";
import type { CheckDefinition } from "../../../monitors/types.ts";
import { MemoryMonitorStore, RecordingNotifier, scriptedCheck } from "../../support/memory-adapters.ts";

/** Acknowledgement end to end over the memory store: the ack use case, the tick, incident items. */

const ID = "compass-po";
const tick = (scheduledTime: string) => JSON.stringify({ monitorId: ID, scheduledTime });
const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 6, minute)).toISOString();
const wall = (minute: number) => new Date(Date.UTC(2026, 2, 1, 6, minute));

let store: MemoryMonitorStore;
let notifier: RecordingNotifier;
let checks: Map<string, CheckDefinition>;
let wallNow: number;
let acks: AcknowledgementService;

function processor() {
  return new TickProcessor({
    store,
    notifier,
    findCheck: (name) => checks.get(name),
    wallClock: () => new Date(wallNow),
  });
}

function configure(outcomes: boolean[], config: Record<string, unknown> = {}) {
  checks.set("scripted", scriptedCheck(outcomes));
  store.configs.set(ID, {
    monitorId: ID,
    record: "config",
    name: "Compass PO feed",
    check: "scripted",
    peopleToNotify: ["ops@example.com"],
    skipSupersededTicks: false,
    reminderFrequencyMinutes: 10,
    requiredConsecutiveOks: 1,
    ...config,
  });
}

/** Runs ticks at these minutes, the wall clock following the logical one. */
async function ticks(...minutes: number[]) {
  for (const minute of minutes) {
    wallNow = wall(minute).getTime();
    await processor().process(tick(at(minute)));
  }
}

const subjects = () => notifier.sent.map((mail) => mail.subject.replace(" Compass PO feed", ""));
const incident = (start: string) => store.incidents.get(`${ID}|${start}`);

beforeEach(() => {
  store = new MemoryMonitorStore();
  notifier = new RecordingNotifier();
  checks = new Map();
  wallNow = wall(0).getTime();
  acks = new AcknowledgementService({ store });
});

describe("acknowledgement through the tick", () => {
  it("silences reminders until recovery; RECOVERED still goes out and names who acknowledged", async () => {
    configure([false, false, false, false, false, true]);
    await ticks(0, 10); // ALERT, REMINDER
    const outcome = await acks.acknowledge(ID, { by: "alice@example.org", note: "on it" }, wall(12));
    expect(outcome).toMatchObject({ changed: true, incidentStart: at(0), previous: undefined });
    await ticks(20, 30, 40); // reminders due, acknowledged: none
    expect(store.runs.filter((run) => run.quietReason === "acknowledged")).toHaveLength(3);
    await ticks(50); // recovery
    expect(subjects()).toEqual(["[Monitor ALERT]", "[Monitor REMINDER]", "[Monitor RECOVERED]"]);
    const recovered = notifier.sent[2];
    expect(recovered?.text).toContain(
      `Acknowledged: alice@example.org at ${wall(12).toISOString()}: "on it"`,
    );
    expect(recovered?.html).toContain(`alice@example.org at ${wall(12).toISOString()}: &quot;on it&quot;`);
    expect(store.states.get(ID)?.ack).toBeUndefined();
    expect(store.states.get(ID)?.incident).toBeUndefined();
    expect(incident(at(0))).toMatchObject({
      openedAt: at(0),
      firstFailureMessage: "feed missing",
      lastFailureMessage: "feed missing",
      lastFailureAt: at(40),
      acknowledgedBy: "alice@example.org",
      acknowledgedAt: wall(12).toISOString(),
      firstAcknowledgedAt: wall(12).toISOString(),
      ackNote: "on it",
      resolvedAt: at(50),
      durationMs: 50 * 60_000,
      alertsSent: 1,
      remindersSent: 1,
      recoveriesSent: 1,
    });
    expect(incident(at(0))?.expiresAt).toBe(
      Math.floor(Date.parse(at(50)) / 1000) + INCIDENT_RETENTION_DAYS * 86_400,
    );
  });

  it("resumes reminders when the ack expires (on the logical clock), and the REMINDER says it expired", async () => {
    configure([false]);
    await ticks(0);
    await acks.acknowledge(ID, { by: "bob", forMs: 25 * 60_000 }, wall(1)); // until 06:26
    await ticks(10, 20); // acknowledged
    expect(subjects()).toEqual(["[Monitor ALERT]"]);
    await ticks(26); // the expiry instant itself: reminders are due again
    expect(subjects()).toEqual(["[Monitor ALERT]", "[Monitor REMINDER]"]);
    expect(notifier.sent[1]?.text).toContain(
      `Acknowledged: bob at ${wall(1).toISOString()}, expired ${at(26)}`,
    );
  });

  it("starts a new incident unacknowledged, with its own item", async () => {
    configure([false, true, false, false]);
    await ticks(0);
    await acks.acknowledge(ID, { by: "alice" }, wall(1));
    await ticks(5, 10, 20); // recovered, then a new incident: ALERT, then a REMINDER (nobody acked it)
    expect(subjects()).toEqual([
      "[Monitor ALERT]",
      "[Monitor RECOVERED]",
      "[Monitor ALERT]",
      "[Monitor REMINDER]",
    ]);
    expect(notifier.sent[3]?.text).toContain("Acknowledged: nobody");
    expect(store.states.get(ID)).toMatchObject({ incident: { start: at(10) } });
    expect(store.states.get(ID)?.ack).toBeUndefined();
    expect(incident(at(0))).toMatchObject({ resolvedAt: at(5), acknowledgedBy: "alice" });
    expect(incident(at(10))).toMatchObject({ openedAt: at(10), alertsSent: 1, remindersSent: 1 });
    expect(incident(at(10))?.acknowledgedBy).toBeUndefined();
  });

  it("refuses to ack a newer incident than the one the caller saw (a link from an old mail)", async () => {
    configure([false, true, false]);
    await ticks(0, 5, 10); // incident A from minute 0, recovered at 5, incident B from minute 10
    await expect(acks.acknowledge(ID, { by: "alice", incident: at(0) }, wall(11))).rejects.toThrow(
      IncidentChangedError,
    );
    expect(store.states.get(ID)?.ack).toBeUndefined();
    const outcome = await acks.acknowledge(ID, { by: "alice", incident: at(10) }, wall(11));
    expect(outcome).toMatchObject({ changed: true, incidentStart: at(10) });
  });

  it("resumes reminders after an unack, and records who unacknowledged", async () => {
    configure([false]);
    await ticks(0);
    await acks.acknowledge(ID, { by: "alice" }, wall(1));
    await ticks(10);
    const outcome = await acks.unacknowledge(ID, { by: "bob" }, wall(15));
    expect(outcome).toMatchObject({ changed: true, ack: undefined, previous: { by: "alice" } });
    await ticks(20);
    expect(subjects()).toEqual(["[Monitor ALERT]", "[Monitor REMINDER]"]);
    expect(incident(at(0))).toMatchObject({
      firstAcknowledgedBy: "alice",
      unacknowledgedBy: "bob",
      unacknowledgedAt: wall(15).toISOString(),
    });
    expect(incident(at(0))?.acknowledgedBy).toBeUndefined();
  });

  it("writes nothing for a quiet healthy monitor, acknowledged or not (write on change intact)", async () => {
    configure([true]);
    await ticks(0, 1);
    const writes = store.writes;
    await ticks(2, 3, 4);
    expect(store.writes).toBe(writes);
    expect(store.incidents.size).toBe(0);
  });

  it("adopts an incident that began before incidents were recorded", async () => {
    configure([false]);
    store.states.set(ID, {
      state: "alert",
      consecutiveOkCount: 0,
      lastNotificationDt: at(0),
      lastNotificationType: "alert",
      lastTickTime: at(0),
      lastRunDt: at(0),
      lastResultOk: false,
      lastResultMessage: "old failure",
      version: 3,
    });
    await acks.acknowledge(ID, { by: "alice" }, wall(3));
    expect(store.states.get(ID)).toMatchObject({
      incident: { start: wall(3).toISOString() },
      ack: { by: "alice" },
    });
    expect(incident(wall(3).toISOString())).toMatchObject({
      adopted: true,
      openedAt: wall(3).toISOString(),
      firstFailureMessage: "old failure",
      acknowledgedBy: "alice",
    });
  });
});

describe("AcknowledgementService", () => {
  it("refuses a monitor that is not in an incident, or does not exist, writing nothing", async () => {
    configure([true]);
    await expect(acks.acknowledge(ID, { by: "alice" }, wall(0))).rejects.toThrow(NotInIncidentError);
    await ticks(0);
    await expect(acks.acknowledge(ID, { by: "alice" }, wall(1))).rejects.toThrow(
      "compass-po is not in an incident (its state is ok)",
    );
    await expect(acks.unacknowledge(ID, { by: "alice" }, wall(1))).rejects.toThrow(NotInIncidentError);
    await expect(acks.acknowledge("nope", { by: "alice" }, wall(1))).rejects.toThrow(MonitorNotFoundError);
    expect(store.incidents.size).toBe(0);
  });

  it("is idempotent for a repeated ack by the same person: no write, the first time kept", async () => {
    configure([false]);
    await ticks(0);
    await acks.acknowledge(ID, { by: "alice", note: "on it" }, wall(1));
    const writes = store.writes;
    const again = await acks.acknowledge(ID, { by: "alice" }, wall(3));
    expect(again).toMatchObject({
      changed: false,
      ack: { by: "alice", at: wall(1).toISOString(), note: "on it" },
    });
    expect(store.writes).toBe(writes);
    // A new note or expiry from the same person updates the ack but keeps its time.
    const longer = await acks.acknowledge(ID, { by: "alice", forMs: 3_600_000 }, wall(4));
    expect(longer.ack).toEqual({
      by: "alice",
      at: wall(1).toISOString(),
      note: "on it",
      until: new Date(wall(4).getTime() + 3_600_000).toISOString(),
    });
    // Someone else takes over: a new ack; the incident item keeps the first.
    await acks.acknowledge(ID, { by: "bob" }, wall(5));
    expect(incident(at(0))).toMatchObject({
      acknowledgedBy: "bob",
      acknowledgedAt: wall(5).toISOString(),
      firstAcknowledgedBy: "alice",
      firstAcknowledgedAt: wall(1).toISOString(),
    });
    expect(incident(at(0))?.ackNote).toBeUndefined();
    expect(incident(at(0))?.ackUntil).toBeUndefined();
    const unchanged = await acks.unacknowledge(ID, { by: "bob" }, wall(6));
    expect(unchanged.changed).toBe(true);
    expect((await acks.unacknowledge(ID, { by: "bob" }, wall(7))).changed).toBe(false);
  });

  it("sanitises who and the note, and refuses what cannot be made valid", async () => {
    configure([false]);
    await ticks(0);
    const outcome = await acks.acknowledge(
      ID,
      { by: " al\u202eice\n\u001b[31m ", note: "line one\r\nline two\u0007" },
      wall(1),
    );
    expect(outcome.ack).toMatchObject({ by: "alice [31m", note: "line one line two" });
    await expect(acks.acknowledge(ID, { by: " \n " }, wall(1))).rejects.toThrow(InvalidAckRequestError);
    await expect(acks.acknowledge(ID, { by: "a", forMs: 31 * 86_400_000 }, wall(1))).rejects.toThrow(
      "forMs at most 30 days",
    );
    await expect(acks.acknowledge(ID, { by: "a", forMs: -5 }, wall(1))).rejects.toThrow(
      InvalidAckRequestError,
    );
  });

  it("re-reads and decides again after a lost race; gives up after a bounded number", async () => {
    configure([false]);
    await ticks(0);
    const save = store.saveState.bind(store);
    let lose = 2;
    store.saveState = async (...args) => {
      if (lose-- > 0) {
        // Someone else (a tick) wrote in between.
        const state = store.states.get(ID);
        if (state) store.states.set(ID, { ...state, version: state.version + 1 });
        throw new StaleStateError("stale");
      }
      return save(...args);
    };
    expect((await acks.acknowledge(ID, { by: "alice" }, wall(1))).changed).toBe(true);
    lose = 100;
    await expect(acks.unacknowledge(ID, { by: "alice" }, wall(2))).rejects.toThrow(AckConflictError);
    expect(store.states.get(ID)?.ack).toMatchObject({ by: "alice" });
  });
});

describe("applyIncidentUpdate", () => {
  it("sets, sets if absent, removes and counts as DynamoDB's update expression does", () => {
    const first = applyIncidentUpdate(undefined, {
      start: "s",
      set: { openedAt: "a", ackNote: "n" },
      setIfAbsent: { firstAcknowledgedBy: "x" },
      increment: ["alertsSent"],
    });
    const second = applyIncidentUpdate(first, {
      start: "s",
      setIfAbsent: { firstAcknowledgedBy: "y" },
      remove: ["ackNote"],
      increment: ["alertsSent", "remindersSent"],
    });
    expect(second).toEqual({ openedAt: "a", firstAcknowledgedBy: "x", alertsSent: 2, remindersSent: 1 });
  });
});

describe("the acknowledgement line of REMINDER and RECOVERED", () => {
  const content = {
    type: "recovery" as const,
    monitorId: ID,
    name: "Compass PO feed",
    state: "ok" as const,
    at: "2026-03-01T08:00:00.000Z",
    timezone: "UTC",
    check: "scripted",
    message: "all good",
  };
  it("says the same in text and HTML, escaped in HTML, and nothing for an ALERT", () => {
    const acked = renderNotification({
      ...content,
      acknowledgement: { by: "eve <eve@example.org>", at: "2026-03-01T07:00:00.000Z", note: "<b>on it</b>" },
    });
    const line = 'eve <eve@example.org> at 2026-03-01T07:00:00.000Z: "<b>on it</b>"';
    expect(acked.text).toContain(`Acknowledged: ${line}`);
    expect(acked.html).toMatch(/>Acknowledged<\/th><td [^>]*>/);
    expect(acked.html).toContain(`>${escapeHtml(line)}</td>`);
    expect(acked.html).not.toContain("<b>on it");
    expect(renderNotification({ ...content, acknowledgement: null }).text).toContain("Acknowledged: nobody");
    expect(renderNotification({ ...content, type: "alert", state: "alert" }).text).not.toContain(
      "Acknowledged",
    );
  });
});
