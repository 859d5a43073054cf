import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { NotificationType } from "#core/schemas.ts";
import { decide, type MachineState } from "#core/state-machine.ts";

const START = Date.parse("2026-03-01T00:00:00.000Z");

/** Random runs: ascending tick times with random gaps, random outcomes, random thresholds. */
const runArbitrary = fc.record({
  requiredConsecutiveOks: fc.integer({ min: 1, max: 5 }),
  reminderFrequencyMinutes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 180 })),
  ticks: fc.array(fc.record({ gapMinutes: fc.integer({ min: 1, max: 120 }), isOk: fc.boolean() }), {
    minLength: 1,
    maxLength: 80,
  }),
});

interface Step {
  at: number;
  isOk: boolean;
  before: MachineState;
  after: MachineState;
  notification: NotificationType | null;
}

type Run = typeof runArbitrary extends fc.Arbitrary<infer T> ? T : never;

function simulate(run: Run): Step[] {
  let state: MachineState = { state: "ok", consecutiveOkCount: 0 };
  let at = START;
  const steps: Step[] = [];
  for (const tick of run.ticks) {
    at += tick.gapMinutes * 60_000;
    const decision = decide(state, tick.isOk, new Date(at).toISOString(), run);
    steps.push({
      at,
      isOk: tick.isOk,
      before: state,
      after: decision.next,
      notification: decision.notification,
    });
    state = decision.next;
  }
  return steps;
}

/** Incidents: maximal runs of steps from an alert notification up to and including its recovery. */
function incidents(steps: Step[]): Step[][] {
  const result: Step[][] = [];
  let current: Step[] | null = null;
  for (const step of steps) {
    if (step.before.state === "ok" && step.after.state === "alert") {
      current = [];
      result.push(current);
    }
    current?.push(step);
    if (step.after.state === "ok") current = null;
  }
  return result;
}

describe("state machine invariants (fast-check)", () => {
  it("sends exactly one alert per incident, at its first step", () => {
    fc.assert(
      fc.property(runArbitrary, (run) => {
        for (const incident of incidents(simulate(run))) {
          expect(incident[0]?.notification).toBe("alert");
          expect(incident.filter((step) => step.notification === "alert")).toHaveLength(1);
        }
      }),
    );
  });

  it("sends at most one recovery per incident, and only as its last step", () => {
    fc.assert(
      fc.property(runArbitrary, (run) => {
        for (const incident of incidents(simulate(run))) {
          const recoveries = incident.filter((step) => step.notification === "recovery");
          expect(recoveries.length).toBeLessThanOrEqual(1);
          if (recoveries.length === 1) expect(incident.at(-1)?.notification).toBe("recovery");
        }
      }),
    );
  });

  it("never sends a reminder before the window has elapsed since the last notification", () => {
    fc.assert(
      fc.property(runArbitrary, (run) => {
        let lastNotificationAt: number | undefined;
        for (const step of simulate(run)) {
          if (step.notification === "reminder") {
            expect(run.reminderFrequencyMinutes).toBeGreaterThan(0);
            expect(lastNotificationAt).toBeDefined();
            expect(step.at - (lastNotificationAt ?? 0)).toBeGreaterThanOrEqual(
              run.reminderFrequencyMinutes * 60_000,
            );
          }
          if (step.notification) lastNotificationAt = step.at;
        }
      }),
    );
  });

  it("sends a reminder as soon as the window has elapsed while failing", () => {
    fc.assert(
      fc.property(runArbitrary, (run) => {
        for (const step of simulate(run)) {
          const due =
            step.before.state === "alert" &&
            !step.isOk &&
            run.reminderFrequencyMinutes > 0 &&
            step.at - Date.parse(step.before.lastNotificationDt ?? "1970-01-01T00:00:00Z") >=
              run.reminderFrequencyMinutes * 60_000;
          expect(step.notification === "reminder").toBe(due);
        }
      }),
    );
  });

  it("recovers exactly when the OK counter reaches the threshold", () => {
    fc.assert(
      fc.property(runArbitrary, (run) => {
        for (const step of simulate(run)) {
          if (step.before.state !== "alert" || !step.isOk) continue;
          const reached = step.before.consecutiveOkCount + 1 >= run.requiredConsecutiveOks;
          expect(step.notification === "recovery").toBe(reached);
          expect(step.after.state).toBe(reached ? "ok" : "alert");
          expect(step.after.consecutiveOkCount).toBe(reached ? 0 : step.before.consecutiveOkCount + 1);
        }
      }),
    );
  });

  it("keeps the counter at zero outside recovery and resets it on any failure", () => {
    fc.assert(
      fc.property(runArbitrary, (run) => {
        for (const step of simulate(run)) {
          if (step.after.state === "ok" || !step.isOk) expect(step.after.consecutiveOkCount).toBe(0);
          expect(step.after.consecutiveOkCount).toBeLessThan(run.requiredConsecutiveOks);
        }
      }),
    );
  });
});
