import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nextRuns, parseSchedule } from "#core/schedule.ts";

// Property tests of cron evaluation against an oracle written separately from the engine: the oracle
// reads wall clocks with Intl.formatToParts and matches fields with plain loops.

// Each zone with its 2026 transitions (UTC), so that runs cross them often.
const ZONES: Record<string, string[]> = {
  UTC: [],
  "America/Chicago": ["2026-03-08T08:00:00Z", "2026-11-01T07:00:00Z"],
  "Europe/London": ["2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z"],
  "America/Santiago": ["2026-04-05T03:00:00Z", "2026-09-06T04:00:00Z"],
  "Australia/Sydney": ["2026-04-04T16:00:00Z", "2026-10-03T16:00:00Z"],
  "Australia/Lord_Howe": ["2026-04-04T15:00:00Z", "2026-10-03T15:30:00Z"],
  "Asia/Kolkata": [],
  "Pacific/Auckland": ["2026-04-04T14:00:00Z", "2026-09-26T14:00:00Z"],
};

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const walls = new Map<string, Intl.DateTimeFormat>();
function wallOf(instant: number, zone: string): Wall {
  let format = walls.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-GB", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    });
    walls.set(zone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(instant)) parts[part.type] = Number(part.value);
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 0,
    day: parts.day ?? 0,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
  };
}
const sameWall = (a: Wall, b: Wall) =>
  a.year === b.year && a.month === b.month && a.day === b.day && a.hour === b.hour && a.minute === b.minute;

type DayRule =
  | { field: "dom"; kind: "days"; days: readonly number[] }
  | { field: "dom"; kind: "L" }
  | { field: "dom"; kind: "W"; day: number }
  | { field: "dow"; kind: "days"; days: readonly number[] }
  | { field: "dow"; kind: "nL"; day: number }
  | { field: "dow"; kind: "nth"; day: number; nth: number };

interface Spec {
  minutes: readonly number[];
  hours: readonly number[];
  months: readonly number[] | "*";
  rule: DayRule;
}

function expressionOf(spec: Spec): string {
  const list = (values: readonly number[]) => values.join(",");
  const months = spec.months === "*" ? "*" : list(spec.months);
  const rule = spec.rule;
  let dom = "?";
  let dow = "?";
  if (rule.field === "dom")
    dom = rule.kind === "days" ? list(rule.days) : rule.kind === "L" ? "L" : `${rule.day}W`;
  else
    dow =
      rule.kind === "days"
        ? list(rule.days)
        : rule.kind === "nL"
          ? `${rule.day}L`
          : `${rule.day}#${rule.nth}`;
  return `cron(${list(spec.minutes)} ${list(spec.hours)} ${dom} ${months} ${dow} *)`;
}

function oracle(spec: Spec, wall: Wall): boolean {
  if (!spec.minutes.includes(wall.minute) || !spec.hours.includes(wall.hour)) return false;
  if (spec.months !== "*" && !spec.months.includes(wall.month)) return false;
  const monthLength = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][wall.month - 1] ?? 31;
  const leap = wall.year % 4 === 0 && (wall.year % 100 !== 0 || wall.year % 400 === 0);
  const length = wall.month === 2 && leap ? 29 : monthLength;
  const weekday = (day: number) => new Date(Date.UTC(wall.year, wall.month - 1, day)).getUTCDay() + 1;
  const rule = spec.rule;
  switch (rule.kind) {
    case "days":
      return rule.field === "dom" ? rule.days.includes(wall.day) : rule.days.includes(weekday(wall.day));
    case "L":
      return wall.day === length;
    case "W": {
      // The weekday closest to the target inside the month (ties cannot happen).
      const target = Math.min(rule.day, length);
      let best = -1;
      for (let day = 1; day <= length; day++) {
        const isWeekday = weekday(day) >= 2 && weekday(day) <= 6;
        if (isWeekday && (best < 0 || Math.abs(day - target) < Math.abs(best - target))) best = day;
      }
      return wall.day === best;
    }
    case "nL":
      return weekday(wall.day) === rule.day && wall.day + 7 > length;
    case "nth":
      return weekday(wall.day) === rule.day && Math.ceil(wall.day / 7) === rule.nth;
  }
}

const sortedSet = (min: number, max: number, maxLength: number) =>
  fc
    .uniqueArray(fc.integer({ min, max }), { minLength: 1, maxLength })
    .map((values) => values.sort((a, b) => a - b));

const specArbitrary: fc.Arbitrary<Spec> = fc.record({
  minutes: fc.oneof(sortedSet(0, 59, 4), fc.constantFrom([0, 30], [0, 15, 30, 45], [15, 45], [0])),
  hours: fc.oneof(
    sortedSet(0, 23, 5),
    // The hours around transitions: 0 (Santiago), 1 and 2 (most zones), 23.
    fc.constantFrom([0, 1, 2, 3], [1, 2], [1], [2], [0, 23], [0, 1, 2, 3, 4, 5, 22, 23]),
  ),
  months: fc.oneof(fc.constant("*" as const), sortedSet(1, 12, 6)),
  rule: fc.oneof(
    fc.record({
      field: fc.constant("dom" as const),
      kind: fc.constant("days" as const),
      days: sortedSet(1, 31, 8),
    }),
    fc.record({ field: fc.constant("dom" as const), kind: fc.constant("L" as const) }),
    fc.record({
      field: fc.constant("dom" as const),
      kind: fc.constant("W" as const),
      day: fc.integer({ min: 1, max: 31 }),
    }),
    fc.record({
      field: fc.constant("dow" as const),
      kind: fc.constant("days" as const),
      days: sortedSet(1, 7, 7),
    }),
    fc.record({
      field: fc.constant("dow" as const),
      kind: fc.constant("nL" as const),
      day: fc.integer({ min: 1, max: 7 }),
    }),
    fc.record({
      field: fc.constant("dow" as const),
      kind: fc.constant("nth" as const),
      day: fc.integer({ min: 1, max: 7 }),
      nth: fc.integer({ min: 1, max: 5 }),
    }),
  ),
});

/** A zone and a start: anywhere in 2026-2028, or within two days before one of the zone's transitions. */
const zoneAndAfter = fc.constantFrom(...Object.keys(ZONES)).chain((zone) => {
  const transitions = (ZONES[zone] ?? []).map((text) => Date.parse(text));
  const anywhere = fc.integer({
    min: Date.parse("2026-01-01T00:00:00Z"),
    max: Date.parse("2028-12-31T00:00:00Z"),
  });
  const nearTransition =
    transitions.length === 0
      ? anywhere
      : fc
          .tuple(fc.constantFrom(...transitions), fc.integer({ min: -48 * 60, max: 3 * 60 }))
          .map(([at, minutes]) => at + minutes * 60_000 + 17_000);
  return fc.tuple(
    fc.constant(zone),
    fc.oneof({ arbitrary: anywhere, weight: 1 }, { arbitrary: nearTransition, weight: 3 }),
  );
});

const MINUTE = 60_000;

/** True when `instant` is the first time its wall clock appears (not the repeat of a fall-back). */
function firstOccurrence(instant: number, zone: string): boolean {
  const wall = wallOf(instant, zone);
  return ![30, 60, 120].some((minutes) => sameWall(wallOf(instant - minutes * MINUTE, zone), wall));
}

describe("cron evaluation properties", () => {
  it("returns only matching, first-occurrence times, strictly increasing, skipping none", () => {
    fc.assert(
      fc.property(specArbitrary, zoneAndAfter, (spec, [zone, after]) => {
        const expression = expressionOf(spec);
        let schedule: ReturnType<typeof parseSchedule>;
        try {
          schedule = parseSchedule(expression, { now: new Date(after) });
        } catch {
          return; // e.g. 30 in February only: never fires, refused
        }
        const runs = nextRuns(schedule, zone, new Date(after), 4).map((run) => run.getTime());
        let previous = after;
        for (const run of runs) {
          expect(run).toBeGreaterThan(previous);
          expect(run % MINUTE).toBe(0);
          expect(
            oracle(spec, wallOf(run, zone)),
            `${expression} ${zone} ${new Date(run).toISOString()}`,
          ).toBe(true);
          expect(firstOccurrence(run, zone)).toBe(true);
          previous = run;
        }
        // No matching minute between `after` and the last run is left out (scan at most 3 days).
        const last = runs.at(-1);
        if (last === undefined) return;
        const end = Math.min(last, after + 3 * 24 * 60 * MINUTE);
        const found = new Set(runs);
        for (let minute = Math.floor(after / MINUTE) * MINUTE + MINUTE; minute <= end; minute += MINUTE) {
          if (oracle(spec, wallOf(minute, zone)) && firstOccurrence(minute, zone)) {
            expect(found.has(minute), `${expression} ${zone} missed ${new Date(minute).toISOString()}`).toBe(
              true,
            );
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it("gives the same answer whatever zone the machine runs in", () => {
    // Evaluated under TZ=UTC, Europe/London and Pacific/Auckland by the projects in vitest.config.ts;
    // this pins one DST-sensitive answer that the machine zone used to change.
    const runs = nextRuns(
      parseSchedule("cron(0 12 ? * 1L *)"),
      "Europe/London",
      new Date("2026-10-01T00:00:00Z"),
      1,
    );
    expect(runs.map((run) => run.toISOString())).toEqual(["2026-10-25T12:00:00.000Z"]);
  });
});
