import { describe, expect, it } from "vitest";
import {
  calendarTime,
  datePatternProblem,
  fillDatePattern,
  hasDateTokens,
} from "#monitors/support/date-pattern.ts";

describe("date patterns", () => {
  it.each([
    // instant, zone, offset, expected yyyy-MM-dd HH
    ["2026-03-01T02:30:00Z", "UTC", 0, "2026-03-01 02"],
    ["2026-03-01T02:30:00Z", "America/Chicago", 0, "2026-02-28 20"],
    ["2026-03-01T02:30:00Z", "Asia/Tokyo", 0, "2026-03-01 11"],
    ["2026-12-31T23:30:00Z", "Pacific/Auckland", 0, "2027-01-01 12"],
    // Midnight is hour 00, never 24.
    ["2026-06-15T22:00:00Z", "Europe/Paris", 0, "2026-06-16 00"],
    // Offsets cross months, years and leap days in the local calendar.
    ["2028-03-01T12:00:00Z", "UTC", -1, "2028-02-29 12"],
    ["2027-01-01T05:00:00Z", "America/Chicago", -1, "2026-12-30 23"],
    ["2026-01-01T00:00:00Z", "UTC", -366, "2024-12-31 00"],
    // DST: the spring-forward day in Chicago (8 March 2026), one minute after the jump.
    ["2026-03-08T08:01:00Z", "America/Chicago", 0, "2026-03-08 03"],
    ["2026-03-09T04:30:00Z", "America/Chicago", -1, "2026-03-07 23"],
  ] as const)("%s in %s, %d days: %s", (instant, zone, offset, expected) => {
    const time = calendarTime(new Date(instant), zone, offset);
    expect(`${time.yyyy}-${time.MM}-${time.dd} ${time.HH}`).toBe(expected);
  });

  it("fills every token, repeated or not, and leaves other text alone", () => {
    const time = { yyyy: "2026", MM: "02", dd: "28", HH: "07" };
    expect(fillDatePattern("x/{yyyy}/{MM}/{dd}/{HH}/{yyyy}{MM}{dd}.csv", time)).toBe(
      "x/2026/02/28/07/20260228.csv",
    );
    expect(fillDatePattern("plain/key.csv", time)).toBe("plain/key.csv");
    expect(hasDateTokens("plain/key.csv")).toBe(false);
    expect(hasDateTokens("a/{dd}")).toBe(true);
  });

  it.each([
    ["exports/{yyyy}/{MM}/{dd}/orders.csv", undefined],
    ["plain", undefined],
    ["{YYYY}/x", "has an unknown token {YYYY}: the tokens are {yyyy}, {MM}, {dd} and {HH}"],
    ["{mm}", "has an unknown token {mm}: the tokens are {yyyy}, {MM}, {dd} and {HH}"],
    ["{}", "has an unknown token {}: the tokens are {yyyy}, {MM}, {dd} and {HH}"],
    ["a{yyyy", "has a { or } outside a token: the tokens are {yyyy}, {MM}, {dd} and {HH}"],
    ["a}b", "has a { or } outside a token: the tokens are {yyyy}, {MM}, {dd} and {HH}"],
  ])("%j: %s", (pattern, problem) => {
    expect(datePatternProblem(pattern)).toBe(problem);
  });

  it("names a zone that is not one", () => {
    expect(() => calendarTime(new Date(), "Mars/Olympus")).toThrow(
      'timezone "Mars/Olympus" is not an IANA timezone',
    );
  });
});
