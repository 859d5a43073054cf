import { nextRuns, parseSchedule } from "#core/schedule.ts";
import { median, percentile, round } from "./stats.ts";

/**
 * Schedule evaluation cost: the next 10 runs of each expression (what `show` and the local
 * scheduler compute), timed one call at a time from a cold cache of nothing but the parsed
 * expression. Sparse expressions (a year away, leap days, 5th weekdays) walk the calendar longest;
 * DST zones pay for extra offset look-ups around transitions.
 */
export const SCHEDULE_CASES: ReadonlyArray<[expression: string, timezone: string]> = [
  ["rate(5 minutes)", "UTC"],
  ["cron(0/5 * * * ? *)", "America/Chicago"],
  ["cron(* * * * ? *)", "Europe/London"],
  ["cron(0 8 * * ? *)", "America/Chicago"],
  ["cron(0/15 9-17 ? * MON-FRI *)", "Europe/London"],
  ["cron(30 2 * * ? *)", "America/Chicago"],
  ["cron(0 0 * * ? *)", "America/Santiago"],
  ["cron(15 2 * * ? *)", "Australia/Lord_Howe"],
  ["cron(0 9 * * ? *)", "Asia/Kolkata"],
  ["cron(0 8 31W * ? *)", "UTC"],
  ["cron(0 12 ? * 1L *)", "Europe/London"],
  ["cron(0 9 ? * 2#1 *)", "Pacific/Auckland"],
  ["cron(0 0 L * ? *)", "Australia/Sydney"],
  ["cron(0 0 29 2 ? *)", "UTC"],
  ["cron(0 9 ? 2 2#5 *)", "UTC"],
  ["cron(0 0 1 1 ? 2030/5)", "America/Chicago"],
];

export interface ScheduleBenchResult {
  /** Median over every timed call of every case, ms. */
  medianMs: number;
  p95Ms: number;
  /** The slowest case's median, ms: the "any expression" figure. */
  worstCaseMedianMs: number;
  worstCase: string;
  cases: Array<{ expression: string; timezone: string; medianMs: number }>;
  samplesPerCase: number;
  method: string;
}

export function measureSchedules(
  samplesPerCase = 200,
  from = new Date("2026-02-15T12:34:56Z"),
): ScheduleBenchResult {
  const all: number[] = [];
  const cases: ScheduleBenchResult["cases"] = [];
  for (const [expression, timezone] of SCHEDULE_CASES) {
    const schedule = parseSchedule(expression, { now: from });
    // Warm-up: JIT and the zone's Intl formatter, as in any long-lived process.
    for (let i = 0; i < 20; i++) nextRuns(schedule, timezone, from, 10);
    const times: number[] = [];
    for (let i = 0; i < samplesPerCase; i++) {
      // A different start each time (one day apart) so that no answer is reused.
      const after = new Date(from.getTime() + i * 86_400_000);
      const started = performance.now();
      nextRuns(schedule, timezone, after, 10);
      times.push(performance.now() - started);
    }
    all.push(...times);
    cases.push({ expression, timezone, medianMs: round(median(times), 4) });
  }
  const worst = cases.reduce((a, b) => (b.medianMs > a.medianMs ? b : a));
  return {
    medianMs: round(median(all), 4),
    p95Ms: round(percentile(all, 95), 4),
    worstCaseMedianMs: worst.medianMs,
    worstCase: `${worst.expression} in ${worst.timezone}`,
    cases,
    samplesPerCase,
    method:
      "nextRuns(schedule, zone, after, 10) timed with performance.now(), one call at a time after 20 warm-up calls per case; starts one day apart",
  };
}
