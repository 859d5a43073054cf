import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Acknowledgement, MonitorStatus, NotificationType } from "#core/schemas.ts";
import {
  ackHolds,
  type Decision,
  decide,
  inIncident,
  type MachineConfig,
  type MachineState,
} from "#core/state-machine.ts";

/**
 * The reminder gate with acknowledgement (issue 14): "elapsed AND not acknowledged", judged on the
 * logical clock. Random runs interleave ticks with acks (some expiring) and unacks, applied the way
 * the ack use case applies them (only during an incident).
 */

const START = Date.parse("2026-03-01T00:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The engine as it was before acknowledgement (functions/core/state-machine.ts at 5e5bdef), kept
 * verbatim as the reference: monitors nobody acknowledges must behave exactly as it did.
 */
function decideBeforeAck(
  previous: MachineState | undefined,
  isOk: boolean,
  now: string,
  config: { requiredConsecutiveOks: number; reminderFrequencyMinutes: number },
): Decision {
  const current = previous ?? { state: "ok", consecutiveOkCount: 0 };
  const notified = (type: NotificationType, state: MonitorStatus): Decision => ({
    next: { state, consecutiveOkCount: 0, lastNotificationDt: now, lastNotificationType: type },
    notification: type,
  });
  const quiet = (next: MachineState, quietReason: Decision["quietReason"] & string): Decision => ({
    next: {
      ...next,
      lastNotificationDt: current.lastNotificationDt,
      lastNotificationType: current.lastNotificationType,
    },
    notification: null,
    quietReason,
  });
  if (current.state === "ok") {
    return isOk ? quiet({ state: "ok", consecutiveOkCount: 0 }, "healthy") : notified("alert", "alert");
  }
  if (isOk) {
    const count = current.consecutiveOkCount + 1;
    return count >= config.requiredConsecutiveOks
      ? notified("recovery", "ok")
      : quiet({ state: "alert", consecutiveOkCount: count }, "recovering");
  }
  if (config.reminderFrequencyMinutes <= 0) {
    return quiet({ state: "alert", consecutiveOkCount: 0 }, "reminders-disabled");
  }
  if (current.notificationPending) {
    return quiet({ state: "alert", consecutiveOkCount: 0 }, "awaiting-delivery");
  }
  const due =
    !current.lastNotificationDt ||
    Date.parse(now) - Date.parse(current.lastNotificationDt) >= config.reminderFrequencyMinutes * 60_000;
  return due
    ? notified("reminder", "alert")
    : quiet({ state: "alert", consecutiveOkCount: 0 }, "reminder-window");
}

type Event =
  | { kind: "tick"; gapMinutes: number; isOk: boolean; pending: boolean }
  | { kind: "ack"; gapMinutes: number; by: string; forMinutes: number | null }
  | { kind: "unack"; gapMinutes: number };

const tickEvent = fc.record({
  kind: fc.constant("tick" as const),
  gapMinutes: fc.integer({ min: 1, max: 120 }),
  isOk: fc.boolean(),
  // An earlier notification still undelivered (mail outage): rare, as in life.
  pending: fc.integer({ min: 0, max: 4 }).map((value) => value === 0),
});
const ackEvent = fc.record({
  kind: fc.constant("ack" as const),
  gapMinutes: fc.integer({ min: 0, max: 30 }),
  by: fc.constantFrom("alice", "bob"),
  forMinutes: fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 300 })),
});
const unackEvent = fc.record({
  kind: fc.constant("unack" as const),
  gapMinutes: fc.integer({ min: 0, max: 30 }),
});

const config = fc.record({
  requiredConsecutiveOks: fc.integer({ min: 1, max: 4 }),
  reminderFrequencyMinutes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 180 })),
});
const runWithAcks = fc.record({
  config,
  events: fc.array(fc.oneof({ arbitrary: tickEvent, weight: 6 }, ackEvent, unackEvent), {
    minLength: 1,
    maxLength: 100,
  }),
});
const runWithoutAcks = fc.record({ config, events: fc.array(tickEvent, { minLength: 1, maxLength: 100 }) });

interface Step {
  at: string;
  isOk: boolean;
  before: MachineState;
  decision: Decision;
}

/** Plays the events; acks and unacks change the state only during an incident (as ack.ts does). */
function simulate(run: { config: MachineConfig; events: Event[] }): Step[] {
  let state: MachineState | undefined;
  let at = START;
  const steps: Step[] = [];
  for (const event of run.events) {
    at += event.gapMinutes * 60_000;
    if (event.kind === "ack") {
      if (inIncident(state) && state) {
        const ack: Acknowledgement = {
          by: event.by,
          at: iso(at),
          ...(event.forMinutes === null ? {} : { until: iso(at + event.forMinutes * 60_000) }),
        };
        state = { ...state, ack };
      }
      continue;
    }
    if (event.kind === "unack") {
      if (state?.ack) {
        const { ack: _ack, ...rest } = state;
        state = rest;
      }
      continue;
    }
    const before: MachineState = {
      ...(state ?? { state: "ok", consecutiveOkCount: 0 }),
      notificationPending: event.pending,
    };
    const decision = decide(before, event.isOk, iso(at), run.config);
    steps.push({ at: iso(at), isOk: event.isOk, before, decision });
    state = decision.next;
  }
  return steps;
}

describe("acknowledgement in the state machine (fast-check)", () => {
  it("sends no REMINDER while a valid ack holds at the tick's scheduled time", () => {
    fc.assert(
      fc.property(runWithAcks, (run) => {
        for (const step of simulate(run)) {
          if (ackHolds(step.before.ack, step.at)) expect(step.decision.notification).not.toBe("reminder");
        }
      }),
    );
  });

  it("gates reminders on 'elapsed AND not acknowledged': they resume as soon as the ack has expired", () => {
    fc.assert(
      fc.property(runWithAcks, (run) => {
        for (const step of simulate(run)) {
          const { before } = step;
          const elapsed =
            !before.lastNotificationDt ||
            Date.parse(step.at) - Date.parse(before.lastNotificationDt) >=
              run.config.reminderFrequencyMinutes * 60_000;
          const due =
            before.state === "alert" &&
            !step.isOk &&
            run.config.reminderFrequencyMinutes > 0 &&
            !before.notificationPending &&
            elapsed &&
            !ackHolds(before.ack, step.at);
          expect(step.decision.notification === "reminder", `at ${step.at}`).toBe(due);
          if (before.ack && !ackHolds(before.ack, step.at) && due) {
            // An expired ack: the reminder goes out, and the ack is still there for the mail to name.
            expect(step.decision.next.ack).toEqual(before.ack);
          }
        }
      }),
    );
  });

  it("clears the ack at every recovery, and starts every new incident unacknowledged", () => {
    fc.assert(
      fc.property(runWithAcks, (run) => {
        for (const step of simulate(run)) {
          if (step.decision.next.state === "ok") expect(step.decision.next.ack).toBeUndefined();
          if (step.decision.notification === "recovery") expect(step.decision.next.ack).toBeUndefined();
          if (step.decision.notification === "alert") expect(step.decision.next.ack).toBeUndefined();
          // Within an incident the ack is carried, untouched, from tick to tick.
          if (step.before.state === "alert" && step.decision.next.state === "alert") {
            expect(step.decision.next.ack).toEqual(step.before.ack);
          }
        }
      }),
    );
  });

  it("says why it kept quiet: acknowledged, while the ack holds and reminders are enabled", () => {
    fc.assert(
      fc.property(runWithAcks, (run) => {
        for (const step of simulate(run)) {
          const acked =
            step.before.state === "alert" &&
            !step.isOk &&
            run.config.reminderFrequencyMinutes > 0 &&
            ackHolds(step.before.ack, step.at);
          expect(step.decision.quietReason === "acknowledged").toBe(acked);
        }
      }),
    );
  });

  it("decides exactly as the engine before acknowledgement when nobody acknowledges", () => {
    fc.assert(
      fc.property(runWithoutAcks, (run) => {
        let state: MachineState | undefined;
        let reference: MachineState | undefined;
        let at = START;
        for (const tick of run.events) {
          at += tick.gapMinutes * 60_000;
          const pending = { notificationPending: tick.pending };
          const decision = decide(state && { ...state, ...pending }, tick.isOk, iso(at), run.config);
          const expected = decideBeforeAck(
            reference && { ...reference, ...pending },
            tick.isOk,
            iso(at),
            run.config,
          );
          expect(decision).toStrictEqual(expected);
          state = decision.next;
          reference = expected.next;
        }
      }),
    );
  });
});

describe("ackHolds", () => {
  const ack = { by: "alice", at: "2026-03-01T10:00:00.000Z" };
  it("holds without expiry, and until (not at) its expiry", () => {
    expect(ackHolds(undefined, "2026-03-01T10:00:00.000Z")).toBe(false);
    expect(ackHolds(ack, "2030-01-01T00:00:00.000Z")).toBe(true);
    const until = { ...ack, until: "2026-03-01T12:00:00.000Z" };
    expect(ackHolds(until, "2026-03-01T11:59:59.999Z")).toBe(true);
    expect(ackHolds(until, "2026-03-01T12:00:00.000Z")).toBe(false);
    expect(ackHolds({ ...ack, until: "not a time" }, "2026-03-01T11:00:00.000Z")).toBe(false);
  });
});
