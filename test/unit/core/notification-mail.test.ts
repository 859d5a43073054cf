import { beforeEach, describe, expect, it } from "vitest";
import { TickProcessor } from "#core/tick.ts";
import type { CheckDefinition } from "../../../monitors/types.ts";
import { MemoryMonitorStore, RecordingNotifier, scriptedCheck } from "../../support/memory-adapters.ts";

/**
 * What the tick puts in the mails (issue 14, "Email people can act on"): how long the incident has
 * lasted, which reminder this is, the runbook, the outage's duration. Over the memory store.
 */

const ID = "compass-po";
const tick = (scheduledTime: string) => JSON.stringify({ monitorId: ID, scheduledTime });
const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 6, minute)).toISOString();

let store: MemoryMonitorStore;
let notifier: RecordingNotifier;
let checks: Map<string, CheckDefinition>;
let wallNow: number;

function configure(outcomes: boolean[], config: Record<string, unknown> = {}) {
  checks.set("scripted", scriptedCheck(outcomes));
  store.configs.set(ID, {
    monitorId: ID,
    record: "config",
    name: "Compass PO feed",
    check: "scripted",
    timezone: "Europe/Paris",
    peopleToNotify: ["ops@example.com"],
    skipSupersededTicks: false,
    reminderFrequencyMinutes: 30,
    requiredConsecutiveOks: 1,
    ...config,
  });
}

async function ticks(...minutes: number[]) {
  for (const minute of minutes) {
    wallNow = Date.parse(at(minute));
    await new TickProcessor({
      store,
      notifier,
      findCheck: (name) => checks.get(name),
      wallClock: () => new Date(wallNow),
    }).process(tick(at(minute)));
  }
}

const firstLines = () => notifier.sent.map((mail) => mail.text.split("\n")[0]);

beforeEach(() => {
  store = new MemoryMonitorStore();
  notifier = new RecordingNotifier();
  checks = new Map();
  wallNow = Date.parse(at(0));
});

describe("notification mails through the tick", () => {
  it("count the incident's time from its ALERT, number its reminders, and give the outage at RECOVERED", async () => {
    configure([false, false, false, false, true]);
    await ticks(0, 30, 45, 60, 75);
    expect(notifier.sent.map((mail) => mail.subject)).toEqual([
      "[Monitor ALERT] Compass PO feed",
      "[Monitor REMINDER] Compass PO feed",
      "[Monitor REMINDER] Compass PO feed",
      "[Monitor RECOVERED] Compass PO feed",
    ]);
    expect(firstLines()).toEqual([
      "Failing since 7:00 AM GMT+1: feed missing",
      "Still failing after 30 min: feed missing",
      "Still failing after 1 h: feed missing",
      "Recovered after 1 h 15 min: all good",
    ]);
    expect(notifier.sent[1]?.text).toContain("This is reminder 1 (0 sent before it).");
    expect(notifier.sent[2]?.text).toContain("This is reminder 2 (1 sent before it).");
    for (const mail of notifier.sent.slice(1, 3)) {
      expect(mail.text).toContain(
        "Failing since: Mar 1, 2026, 7:00:00 AM GMT+1 (Europe/Paris) · 2026-03-01T06:00:00.000Z",
      );
    }
    const recovered = notifier.sent[3]?.text ?? "";
    expect(recovered).toContain("Outage: 1 h 15 min");
    expect(recovered).toContain("Last failure: feed missing");
    expect(recovered).toContain("Acknowledged: nobody");
    // The count is the incident's: the state carried it, and recovery ended it with the incident.
    expect(store.states.get(ID)?.incident).toBeUndefined();
  });

  it("start counting reminders again in the next incident", async () => {
    configure([false, false, true, false, false]);
    await ticks(0, 30, 40, 50, 80);
    expect(firstLines()).toEqual([
      "Failing since 7:00 AM GMT+1: feed missing",
      "Still failing after 30 min: feed missing",
      "Recovered after 40 min: all good",
      "Failing since 7:50 AM GMT+1: feed missing",
      "Still failing after 30 min: feed missing",
    ]);
    expect(notifier.sent[4]?.text).toContain("This is reminder 1 (0 sent before it).");
    expect(store.states.get(ID)?.incident).toMatchObject({ start: at(50), reminders: 1 });
  });

  it("link the monitor's runbook, and leave a bad runbookUrl out as a config problem", async () => {
    configure([false], { runbookUrl: "https://wiki.example.org/runbooks/compass-po" });
    await ticks(0);
    expect(notifier.sent[0]?.text).toContain("Runbook: https://wiki.example.org/runbooks/compass-po");
    configure([false], { runbookUrl: "javascript:alert(1)" });
    await ticks(30);
    expect(notifier.sent[1]?.subject).toBe("[Monitor REMINDER] Compass PO feed");
    expect(notifier.sent[1]?.text).not.toContain("Runbook");
    expect(notifier.sent[1]?.html).not.toContain("javascript:");
    expect(store.states.get(ID)?.configProblems).toMatch(/^runbookUrl "javascript:alert\(1\)": /);
  });
});
