import { describe, expect, it } from "vitest";
import { describeError } from "../../../cli/errors.ts";
import { formatAge, formatInZone, parseDuration, parseSince, truncate } from "../../../cli/format.ts";
import { percentile, runSample, runStats } from "../../../cli/stats.ts";

const named = (name: string, message = name) => Object.assign(new Error(message), { name });

describe("durations and times", () => {
  it("parses durations, compound ones included", () => {
    expect(parseDuration("24h")).toBe(86_400_000);
    expect(parseDuration("30m")).toBe(1_800_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration("90s")).toBe(90_000);
    for (const bad of ["", "24", "h", "1x", "1h banana"])
      expect(() => parseDuration(bad), bad).toThrow(/not a duration/);
  });

  it("reads --since as a duration back from now or as an ISO time", () => {
    const now = new Date("2026-11-21T12:00:00Z");
    expect(parseSince("2h", now).toISOString()).toBe("2026-11-21T10:00:00.000Z");
    expect(parseSince("2026-11-20T08:00:00Z", now).toISOString()).toBe("2026-11-20T08:00:00.000Z");
    expect(() => parseSince("2026-13-45", now)).toThrow(/not a valid date/);
  });

  it("formats instants in the monitor's zone and ages relative to now", () => {
    const at = new Date("2026-11-21T14:05:00Z");
    expect(formatInZone(at, "America/Chicago")).toBe("2026-11-21 08:05:00 CST");
    expect(formatInZone(new Date("2026-07-01T14:05:00Z"), "America/Chicago")).toBe("2026-07-01 09:05:00 CDT");
    expect(formatAge("2026-11-21T14:00:00Z", at)).toBe("5m ago");
    expect(formatAge("2026-11-21T14:06:00Z", at)).toBe("in 1m");
    expect(formatAge(undefined, at)).toBe("never");
    expect(truncate("a  b\nc", 10)).toBe("a b c");
    expect(truncate("abcdefghij", 5)).toBe("abcd…");
  });
});

describe("run statistics", () => {
  it("uses the nearest-rank p95", () => {
    const values = Array.from({ length: 100 }, (_, index) => index + 1);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 95)).toBeUndefined();
  });

  it("summarises runs, ignoring missing durations", () => {
    const stats = runStats([
      { isOk: true, durationMs: 10 },
      { isOk: false, durationMs: 30 },
      { isOk: true, durationMs: 20 },
      { isOk: true, durationMs: undefined },
    ]);
    expect(stats).toEqual({
      runs: 4,
      failures: 1,
      successRate: 0.75,
      minMs: 10,
      avgMs: 20,
      p95Ms: 30,
      maxMs: 30,
    });
    expect(runStats([]).successRate).toBeUndefined();
  });

  it("counts a summary of quiet runs as its runs, with the durations measured of them", () => {
    const summary = runSample({ kind: "summary", count: 15, durationsMs: [5, 50], isOk: true });
    expect(runStats([{ isOk: false, durationMs: 500 }, summary])).toEqual({
      runs: 16,
      failures: 1,
      successRate: 15 / 16,
      minMs: 5,
      avgMs: 185,
      p95Ms: 500,
      maxMs: 500,
    });
    expect(runSample({ isOk: false, durationMs: 7 })).toEqual({ isOk: false, durationMs: 7 });
  });
});

describe("error lines", () => {
  it("says what to do for the common AWS failures", () => {
    expect(describeError(named("CredentialsProviderError", "Could not load credentials"))).toMatch(
      /^no AWS credentials found/,
    );
    expect(describeError(named("ResourceNotFoundException"), { tableName: "T", region: "eu-west-1" })).toBe(
      'table "T" does not exist in eu-west-1: check --table / WATCHKEEPER_TABLE and the region',
    );
    expect(describeError(named("ExpiredTokenException"))).toMatch(/rejected the credentials/);
    expect(describeError(new Error("Region is missing"))).toMatch(/no AWS region/);
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(describeError(refused, { local: true })).toMatch(/npm start/);
  });
});
