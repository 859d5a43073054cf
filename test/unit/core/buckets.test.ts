import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BUCKET_SHARDS,
  clockMinute,
  duePartitions,
  headerFor,
  nextTickOf,
  phaseFromAnchor,
  phaseOf,
  placementOf,
  shardOf,
} from "#core/buckets.ts";
import { nextRun, parseSchedule } from "#core/schedule.ts";

const MINUTE = 60_000;
const at = (iso: string) => new Date(iso);
const definition = (monitorId: string, expression: string, timezone = "UTC", enabled = true) => ({
  monitorId,
  expression,
  timezone,
  enabled,
});

/** The minutes in [from, from + minutes) in which the monitor's partition is due. */
function dueMinutes(monitorId: string, expression: string, timezone: string, from: Date, minutes: number) {
  const placement = placementOf(definition(monitorId, expression, timezone));
  const due: string[] = [];
  for (let index = 0; index < minutes; index++) {
    const minute = new Date(from.getTime() + index * MINUTE);
    if (duePartitions(placement.header, minute).includes(placement.partition)) due.push(minute.toISOString());
  }
  return due;
}

describe("bucket placement", () => {
  it("puts monitors sharing a cron expression and timezone in one bucket, and no others", () => {
    const a = placementOf(definition("a", "cron(0 7 ? * MON-FRI *)", "Europe/Paris"));
    const b = placementOf(definition("b", "cron(0 7 ? * MON-FRI *)", "Europe/Paris"));
    const otherZone = placementOf(definition("c", "cron(0 7 ? * MON-FRI *)", "America/Chicago"));
    const otherCron = placementOf(definition("d", "cron(0 8 ? * MON-FRI *)", "Europe/Paris"));
    expect(a.header).toEqual(b.header);
    expect(new Set([a.header.key, otherZone.header.key, otherCron.header.key]).size).toBe(3);
  });

  it("puts rate monitors in one bucket per period, whatever their timezone", () => {
    const a = placementOf(definition("a", "rate(1 hour)", "Europe/Paris"));
    const b = placementOf(definition("b", "rate(60 minutes)", "UTC"));
    expect(a.header).toEqual({ kind: "rate", key: "r#60", periodMinutes: 60 });
    expect(b.header).toEqual(a.header);
  });

  it("spreads shards and phases: 10,000 ids fill every shard and most minutes of an hour", () => {
    const ids = Array.from({ length: 10_000 }, (_, index) => `monitor-${index}`);
    const shards = new Map<number, number>();
    for (const id of ids) shards.set(shardOf(id), (shards.get(shardOf(id)) ?? 0) + 1);
    expect(shards.size).toBe(BUCKET_SHARDS);
    for (const count of shards.values()) expect(count).toBeGreaterThan(10_000 / BUCKET_SHARDS / 2);
    const phases = new Set(ids.map((id) => phaseOf(id, 60)));
    expect(phases.size).toBe(60);
  });

  it("keeps an explicit phase, reduced into the period (a migrated monitor's cadence)", () => {
    expect(placementOf(definition("a", "rate(5 minutes)"), 7).phaseMinute).toBe(2);
    expect(placementOf(definition("a", "rate(5 minutes)"), -1).phaseMinute).toBe(4);
    expect(placementOf(definition("a", "cron(0 * * * ? *)"), 3).phaseMinute).toBeUndefined();
  });
});

describe("duePartitions", () => {
  it("makes a rate monitor due exactly once per period, at its phase, for any id and period", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.constantFrom(
          "rate(1 minute)",
          "rate(5 minutes)",
          "rate(7 minutes)",
          "rate(1 hour)",
          "rate(2 hours)",
        ),
        fc.integer({ min: 0, max: 10_000 }),
        (id, expression, offsetMinutes) => {
          const placement = placementOf(definition(id, expression));
          if (placement.header.kind !== "rate") throw new Error("rate expected");
          const period = placement.header.periodMinutes;
          const from = new Date(Date.UTC(2036, 0, 1) + offsetMinutes * MINUTE);
          const due = dueMinutes(id, expression, "UTC", from, period * 3).map((iso) => Date.parse(iso));
          expect(due).toHaveLength(3);
          for (const instant of due) expect((instant / MINUTE) % period).toBe(placement.phaseMinute);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("makes a cron bucket due exactly at the runs of the schedule engine, across a DST change", () => {
    // Europe/Paris springs forward on 2036-03-30 at 02:00: a 02:30 run does not exist that day.
    const expression = "cron(30 1-3 * * ? *)";
    const from = at("2036-03-29T00:00:00Z");
    const due = dueMinutes("feed", expression, "Europe/Paris", from, 3 * 24 * 60);
    const expected: string[] = [];
    const schedule = parseSchedule(expression);
    for (
      let run = nextRun(schedule, "Europe/Paris", new Date(from.getTime() - 1));
      run && run < new Date(from.getTime() + 3 * 24 * 60 * MINUTE);
      run = nextRun(schedule, "Europe/Paris", run)
    ) {
      expected.push(run.toISOString());
    }
    expect(due).toEqual(expected);
    // 01:30, 02:30 and 03:30 Paris time, 29 March 00:00Z to 1 April 00:00Z: ten local runs fall in
    // the window (1 April 01:30 CEST is 31 March 23:30Z), but 02:30 on the 30th does not exist:
    // 01:30 CET is 00:30Z, then 03:30 CEST is 01:30Z.
    expect(due.filter((instant) => instant.startsWith("2036-03-30"))).toEqual([
      "2036-03-30T00:30:00.000Z",
      "2036-03-30T01:30:00.000Z",
      "2036-03-30T23:30:00.000Z",
    ]);
    expect(due).toHaveLength(9);
  });

  it("returns every shard of a due bucket and nothing for a bucket not due", () => {
    const header = headerFor("cron(0 12 * * ? *)", "UTC");
    expect(duePartitions(header, at("2036-01-01T12:00:00Z"))).toHaveLength(BUCKET_SHARDS);
    expect(duePartitions(header, at("2036-01-01T12:00:45Z"))).toHaveLength(BUCKET_SHARDS);
    expect(duePartitions(header, at("2036-01-01T12:01:00Z"))).toEqual([]);
  });

  it("skips a header whose expression is corrupt instead of failing the minute", () => {
    expect(
      duePartitions({ kind: "cron", key: "c#x", expression: "nonsense", timezone: "UTC" }, new Date()),
    ).toEqual([]);
  });
});

describe("phases and anchors", () => {
  it("rounds an old schedule's anchor up to the minute, so the next tick is never earlier", () => {
    // Old rate(5 minutes) created at 10:00:30: it fired 10:05:30, 10:10:30... The bucket fires at 10:06, 10:11.
    const phase = phaseFromAnchor(at("2036-01-01T10:00:30Z"), 5);
    const next = nextTickOf(
      { ...definition("m", "rate(5 minutes)"), phaseMinute: phase },
      at("2036-01-01T10:05:30Z"),
    );
    expect(next?.toISOString()).toBe("2036-01-01T10:06:00.000Z");
    expect(phaseFromAnchor(at("2036-01-01T10:00:00Z"), 5)).toBe(0);
  });

  it("gives no next tick to a paused monitor, and the fan-out's own next tick to others", () => {
    expect(nextTickOf(definition("m", "rate(1 minute)", "UTC", false), new Date())).toBeNull();
    expect(
      nextTickOf(
        definition("m", "cron(0 9 * * ? *)", "Europe/Paris"),
        at("2036-01-01T07:59:00Z"),
      )?.toISOString(),
    ).toBe("2036-01-01T08:00:00.000Z");
  });

  it("reads the clock's planned minute from its input, else from now", () => {
    expect(clockMinute("2036-01-01T10:04:00Z", new Date()).toISOString()).toBe("2036-01-01T10:04:00.000Z");
    expect(clockMinute(undefined, at("2036-01-01T10:04:59.999Z")).toISOString()).toBe(
      "2036-01-01T10:04:00.000Z",
    );
    expect(clockMinute("<aws.scheduler.scheduled-time>", at("2036-01-01T10:04:30Z")).toISOString()).toBe(
      "2036-01-01T10:04:00.000Z",
    );
  });
});
