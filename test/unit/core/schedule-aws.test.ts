import { describe, expect, it } from "vitest";
import { InvalidScheduleError, nextRuns, parseSchedule, timezoneAsWritten } from "#core/schedule.ts";

// Every expected run below was worked out by hand from AWS's documented cron rules
// (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html) and the published
// DST dates of each zone, with a paper calendar: none is computed by the code under test.
// 2026-01-01 is a Thursday. DST in 2026: America/Chicago 03-08 02:00->03:00 and 11-01 02:00->01:00;
// Europe/London 03-29 01:00->02:00 and 10-25 02:00->01:00; America/Santiago 04-05 00:00->04-04 23:00
// and 09-06 00:00->01:00; Australia/Sydney 04-05 03:00->02:00 and 10-04 02:00->03:00;
// Australia/Lord_Howe 04-05 02:00->01:30 and 10-04 02:00->02:30; Asia/Kolkata has none (+05:30).

/** The machine zone this run was started under (see vitest.config.ts): guards against a silent pass. */
const expectedMachineZone = process.env.WATCHKEEPER_EXPECT_TZ;

const JAN1 = "2026-01-01T00:00:00Z";

type Row = [expression: string, timezone: string, after: string, expected: string[]];

const table: Row[] = [
  // AWS documentation examples (EventBridge cron expression reference).
  ["cron(0 10 * * ? *)", "UTC", JAN1, ["2026-01-01T10:00Z", "2026-01-02T10:00Z", "2026-01-03T10:00Z"]],
  ["cron(15 12 * * ? *)", "UTC", JAN1, ["2026-01-01T12:15Z", "2026-01-02T12:15Z"]],
  ["cron(0 18 ? * MON-FRI *)", "UTC", JAN1, ["2026-01-01T18:00Z", "2026-01-02T18:00Z", "2026-01-05T18:00Z"]],
  ["cron(0 8 1 * ? *)", "UTC", JAN1, ["2026-01-01T08:00Z", "2026-02-01T08:00Z", "2026-03-01T08:00Z"]],
  [
    "cron(0/15 * * * ? *)",
    "UTC",
    JAN1,
    ["2026-01-01T00:15Z", "2026-01-01T00:30Z", "2026-01-01T00:45Z", "2026-01-01T01:00Z"],
  ],
  [
    "cron(0/10 * ? * MON-FRI *)",
    "UTC",
    "2026-01-02T23:45:00Z",
    ["2026-01-02T23:50Z", "2026-01-05T00:00Z", "2026-01-05T00:10Z"],
  ],
  [
    "cron(0/5 8-17 ? * MON-FRI *)",
    "UTC",
    "2026-01-02T17:50:00Z",
    ["2026-01-02T17:55Z", "2026-01-05T08:00Z", "2026-01-05T08:05Z"],
  ],
  ["cron(0 9 ? * 2#1 *)", "UTC", JAN1, ["2026-01-05T09:00Z", "2026-02-02T09:00Z", "2026-03-02T09:00Z"]],
  [
    "cron(1/10 * * * ? *)",
    "UTC",
    JAN1,
    [
      "2026-01-01T00:01Z",
      "2026-01-01T00:11Z",
      "2026-01-01T00:21Z",
      "2026-01-01T00:31Z",
      "2026-01-01T00:41Z",
      "2026-01-01T00:51Z",
      "2026-01-01T01:01Z",
    ],
  ],
  ["cron(0 0 ? * 3#2 *)", "UTC", JAN1, ["2026-01-13T00:00Z", "2026-02-10T00:00Z", "2026-03-10T00:00Z"]],
  ["cron(0 0 3W * ? *)", "UTC", JAN1, ["2026-01-02T00:00Z", "2026-02-03T00:00Z", "2026-03-03T00:00Z"]],
  [
    "cron(0 0 1-15 * ? *)",
    "UTC",
    "2026-01-14T12:00:00Z",
    ["2026-01-15T00:00Z", "2026-02-01T00:00Z", "2026-02-02T00:00Z"],
  ],
  [
    "cron(0 0 1 JAN,FEB,MAR ? *)",
    "UTC",
    JAN1,
    ["2026-02-01T00:00Z", "2026-03-01T00:00Z", "2027-01-01T00:00Z"],
  ],
  ["cron(15 10 ? * 6L 2019-2022)", "UTC", "2022-11-01T00:00:00Z", ["2022-11-25T10:15Z", "2022-12-30T10:15Z"]],
  // Values, lists, ranges, steps, names.
  ["cron(5,35 14 * * ? *)", "UTC", JAN1, ["2026-01-01T14:05Z", "2026-01-01T14:35Z", "2026-01-02T14:05Z"]],
  [
    "cron(*/20 9 * * ? *)",
    "UTC",
    JAN1,
    ["2026-01-01T09:00Z", "2026-01-01T09:20Z", "2026-01-01T09:40Z", "2026-01-02T09:00Z"],
  ],
  [
    "cron(10-20/5 * * * ? *)",
    "UTC",
    JAN1,
    ["2026-01-01T00:10Z", "2026-01-01T00:15Z", "2026-01-01T00:20Z", "2026-01-01T01:10Z"],
  ],
  ["cron(0/45 * * * ? *)", "UTC", JAN1, ["2026-01-01T00:45Z", "2026-01-01T01:00Z", "2026-01-01T01:45Z"]],
  [
    "cron(* * * * ? *)",
    "UTC",
    "2026-01-01T00:00:30Z",
    ["2026-01-01T00:01Z", "2026-01-01T00:02Z", "2026-01-01T00:03Z"],
  ],
  [
    "cron(0 22-2 * * ? *)",
    "UTC",
    JAN1,
    ["2026-01-01T01:00Z", "2026-01-01T02:00Z", "2026-01-01T22:00Z", "2026-01-01T23:00Z", "2026-01-02T00:00Z"],
  ],
  [
    "cron(0 8 ? * FRI-MON *)",
    "UTC",
    JAN1,
    ["2026-01-02T08:00Z", "2026-01-03T08:00Z", "2026-01-04T08:00Z", "2026-01-05T08:00Z", "2026-01-09T08:00Z"],
  ],
  ["cron(0 8 ? * SUN,SAT *)", "UTC", JAN1, ["2026-01-03T08:00Z", "2026-01-04T08:00Z", "2026-01-10T08:00Z"]],
  ["cron(0 8 ? * 1,7 *)", "UTC", JAN1, ["2026-01-03T08:00Z", "2026-01-04T08:00Z", "2026-01-10T08:00Z"]],
  ["cron(0 0 1 JAN,JUL ? *)", "UTC", JAN1, ["2026-07-01T00:00Z", "2027-01-01T00:00Z", "2027-07-01T00:00Z"]],
  ["cron(0 0 1 */4 ? *)", "UTC", JAN1, ["2026-05-01T00:00Z", "2026-09-01T00:00Z", "2027-01-01T00:00Z"]],
  ["cron(0 0 1 2-3 ? *)", "UTC", JAN1, ["2026-02-01T00:00Z", "2026-03-01T00:00Z", "2027-02-01T00:00Z"]],
  ["cron(0 0 10 * ? *)", "UTC", "2026-01-10T00:00:00Z", ["2026-02-10T00:00Z"]],
  ["cron(59 23 L 12 ? *)", "UTC", JAN1, ["2026-12-31T23:59Z", "2027-12-31T23:59Z"]],
  // Days a month lacks never roll into the next month.
  [
    "cron(0 0 31 * ? *)",
    "UTC",
    JAN1,
    ["2026-01-31T00:00Z", "2026-03-31T00:00Z", "2026-05-31T00:00Z", "2026-07-31T00:00Z"],
  ],
  ["cron(0 0 30 * ? *)", "UTC", "2026-01-31T00:00:00Z", ["2026-03-30T00:00Z", "2026-04-30T00:00Z"]],
  ["cron(0 0 29 * ? *)", "UTC", "2026-01-30T00:00:00Z", ["2026-03-29T00:00Z"]],
  [
    "cron(0 0 28-31 2 ? *)",
    "UTC",
    JAN1,
    ["2026-02-28T00:00Z", "2027-02-28T00:00Z", "2028-02-28T00:00Z", "2028-02-29T00:00Z"],
  ],
  // Leap years.
  ["cron(0 0 29 2 ? *)", "UTC", JAN1, ["2028-02-29T00:00Z", "2032-02-29T00:00Z"]],
  ["cron(0 0 29 2 ? 2100-2104)", "UTC", JAN1, ["2104-02-29T00:00Z"]],
  ["cron(0 9 ? 2 2#5 *)", "UTC", JAN1, ["2044-02-29T09:00Z"]],
  ["cron(0 0 L 2 ? *)", "UTC", "2027-03-01T00:00:00Z", ["2028-02-29T00:00Z", "2029-02-28T00:00Z"]],
  // L in day-of-month.
  [
    "cron(0 0 L * ? *)",
    "UTC",
    JAN1,
    ["2026-01-31T00:00Z", "2026-02-28T00:00Z", "2026-03-31T00:00Z", "2026-04-30T00:00Z"],
  ],
  // W: the nearest weekday, never across the month; a day the month lacks is its last day.
  [
    "cron(0 8 31W * ? *)",
    "UTC",
    JAN1,
    [
      "2026-01-30T08:00Z",
      "2026-02-27T08:00Z",
      "2026-03-31T08:00Z",
      "2026-04-30T08:00Z",
      "2026-05-29T08:00Z",
      "2026-06-30T08:00Z",
    ],
  ],
  [
    "cron(0 8 1W * ? *)",
    "UTC",
    "2026-07-15T00:00:00Z",
    ["2026-08-03T08:00Z", "2026-09-01T08:00Z", "2026-10-01T08:00Z", "2026-11-02T08:00Z"],
  ],
  [
    "cron(0 8 15W * ? *)",
    "UTC",
    "2026-02-01T00:00:00Z",
    ["2026-02-16T08:00Z", "2026-03-16T08:00Z", "2026-04-15T08:00Z"],
  ],
  ["cron(0 8 15W * ? *)", "UTC", "2026-08-01T00:00:00Z", ["2026-08-14T08:00Z"]],
  [
    "cron(0 8 30W * ? *)",
    "UTC",
    "2026-02-01T00:00:00Z",
    ["2026-02-27T08:00Z", "2026-03-30T08:00Z", "2026-04-30T08:00Z", "2026-05-29T08:00Z"],
  ],
  ["cron(0 8 29W 2 ? *)", "UTC", JAN1, ["2026-02-27T08:00Z", "2027-02-26T08:00Z", "2028-02-29T08:00Z"]],
  // L and # in day-of-week.
  [
    "cron(0 8 ? * 6L *)",
    "UTC",
    JAN1,
    ["2026-01-30T08:00Z", "2026-02-27T08:00Z", "2026-03-27T08:00Z", "2026-04-24T08:00Z"],
  ],
  ["cron(0 8 ? * L *)", "UTC", JAN1, ["2026-01-03T08:00Z", "2026-01-10T08:00Z", "2026-01-17T08:00Z"]],
  ["cron(0 8 ? * 1L *)", "UTC", JAN1, ["2026-01-25T08:00Z", "2026-02-22T08:00Z", "2026-03-29T08:00Z"]],
  ["cron(0 0 ? * 7L *)", "UTC", JAN1, ["2026-01-31T00:00Z", "2026-02-28T00:00Z", "2026-03-28T00:00Z"]],
  ["cron(0 8 ? * 6#5 *)", "UTC", JAN1, ["2026-01-30T08:00Z", "2026-05-29T08:00Z", "2026-07-31T08:00Z"]],
  ["cron(0 0 ? * 7#5 *)", "UTC", JAN1, ["2026-01-31T00:00Z", "2026-05-30T00:00Z", "2026-08-29T00:00Z"]],
  ["cron(0 0 ? * 1#1 *)", "UTC", JAN1, ["2026-01-04T00:00Z", "2026-02-01T00:00Z", "2026-03-01T00:00Z"]],
  ["cron(0 8 ? * FRI#3 *)", "UTC", JAN1, ["2026-01-16T08:00Z", "2026-02-20T08:00Z", "2026-03-20T08:00Z"]],
  [
    "cron(0 12 ? * 1L *)",
    "UTC",
    "2026-09-01T00:00:00Z",
    ["2026-09-27T12:00Z", "2026-10-25T12:00Z", "2026-11-29T12:00Z"],
  ],
  // The year field.
  ["cron(0 0 1 1 ? 2027-2028)", "UTC", JAN1, ["2027-01-01T00:00Z", "2028-01-01T00:00Z"]],
  ["cron(0 0 1 1 ? 2030/5)", "UTC", JAN1, ["2030-01-01T00:00Z", "2035-01-01T00:00Z", "2040-01-01T00:00Z"]],
  ["cron(0 12 * * ? 2026)", "UTC", "2026-12-30T13:00:00Z", ["2026-12-31T12:00Z"]],
  ["cron(30 9 ? * MON-FRI 2027)", "UTC", "2026-06-01T00:00:00Z", ["2027-01-01T09:30Z", "2027-01-04T09:30Z"]],
  ["cron(0 0 1 1 ? 2199)", "UTC", JAN1, ["2199-01-01T00:00Z"]],
  // America/Chicago: 02:30 does not exist on 03-08 (skipped); 01:30 on 11-01 runs once, at CDT.
  [
    "cron(30 2 * * ? *)",
    "America/Chicago",
    "2026-03-06T00:00:00Z",
    ["2026-03-06T08:30Z", "2026-03-07T08:30Z", "2026-03-09T07:30Z"],
  ],
  [
    "cron(0 8 * * ? *)",
    "America/Chicago",
    "2026-03-07T00:00:00Z",
    ["2026-03-07T14:00Z", "2026-03-08T13:00Z", "2026-03-09T13:00Z"],
  ],
  [
    "cron(30 1 * * ? *)",
    "America/Chicago",
    "2026-10-31T00:00:00Z",
    ["2026-10-31T06:30Z", "2026-11-01T06:30Z", "2026-11-02T07:30Z"],
  ],
  [
    "cron(0/30 * * * ? *)",
    "America/Chicago",
    "2026-11-01T05:45:00Z",
    ["2026-11-01T06:00Z", "2026-11-01T06:30Z", "2026-11-01T08:00Z", "2026-11-01T08:30Z"],
  ],
  ["cron(0/30 * * * ? *)", "America/Chicago", "2026-11-01T07:10:00Z", ["2026-11-01T08:00Z"]],
  [
    "cron(0/30 * * * ? *)",
    "America/Chicago",
    "2026-03-08T07:15:00Z",
    ["2026-03-08T07:30Z", "2026-03-08T08:00Z", "2026-03-08T08:30Z"],
  ],
  [
    "cron(0 2 ? * SUN *)",
    "America/Chicago",
    "2026-03-01T00:00:00Z",
    ["2026-03-01T08:00Z", "2026-03-15T07:00Z"],
  ],
  // Europe/London: 01:30 does not exist on 03-29; 01:30 on 10-25 runs once, at BST.
  ["cron(30 1 * * ? *)", "Europe/London", "2026-03-27T12:00:00Z", ["2026-03-28T01:30Z", "2026-03-30T00:30Z"]],
  ["cron(30 1 * * ? *)", "Europe/London", "2026-10-24T12:00:00Z", ["2026-10-25T00:30Z", "2026-10-26T01:30Z"]],
  ["cron(0 1 * * ? *)", "Europe/London", "2026-03-28T00:00:00Z", ["2026-03-28T01:00Z", "2026-03-30T00:00Z"]],
  [
    "cron(0 12 ? * 1L *)",
    "Europe/London",
    "2026-09-01T00:00:00Z",
    ["2026-09-27T11:00Z", "2026-10-25T12:00Z", "2026-11-29T12:00Z"],
  ],
  // America/Santiago: the change happens at midnight.
  [
    "cron(0 0 * * ? *)",
    "America/Santiago",
    "2026-09-04T00:00:00Z",
    ["2026-09-04T04:00Z", "2026-09-05T04:00Z", "2026-09-07T03:00Z"],
  ],
  [
    "cron(30 23 * * ? *)",
    "America/Santiago",
    "2026-04-03T12:00:00Z",
    ["2026-04-04T02:30Z", "2026-04-05T02:30Z", "2026-04-06T03:30Z"],
  ],
  // Australia/Sydney.
  [
    "cron(30 2 * * ? *)",
    "Australia/Sydney",
    "2026-10-02T00:00:00Z",
    ["2026-10-02T16:30Z", "2026-10-04T15:30Z"],
  ],
  [
    "cron(30 2 * * ? *)",
    "Australia/Sydney",
    "2026-04-03T00:00:00Z",
    ["2026-04-03T15:30Z", "2026-04-04T15:30Z", "2026-04-05T16:30Z"],
  ],
  // Australia/Lord_Howe: a 30-minute shift; 02:00-02:29 missing on 10-04, 01:30-01:59 repeated on 04-05.
  [
    "cron(15 2 * * ? *)",
    "Australia/Lord_Howe",
    "2026-10-02T00:00:00Z",
    ["2026-10-02T15:45Z", "2026-10-04T15:15Z"],
  ],
  [
    "cron(45 2 * * ? *)",
    "Australia/Lord_Howe",
    "2026-10-02T00:00:00Z",
    ["2026-10-02T16:15Z", "2026-10-03T15:45Z", "2026-10-04T15:45Z"],
  ],
  [
    "cron(45 1 * * ? *)",
    "Australia/Lord_Howe",
    "2026-04-03T00:00:00Z",
    ["2026-04-03T14:45Z", "2026-04-04T14:45Z", "2026-04-05T15:15Z"],
  ],
  // Asia/Kolkata: +05:30, no DST.
  ["cron(0 9 * * ? *)", "Asia/Kolkata", JAN1, ["2026-01-01T03:30Z", "2026-01-02T03:30Z"]],
  [
    "cron(0 0 L * ? *)",
    "Asia/Kolkata",
    JAN1,
    ["2026-01-30T18:30Z", "2026-02-27T18:30Z", "2026-03-30T18:30Z"],
  ],
];

describe("cron next runs, as AWS documents them", () => {
  it("has a table of at least 60 expressions", () => {
    expect(table.length).toBeGreaterThanOrEqual(60);
  });

  it("runs under the machine timezone this project asked for", () => {
    if (expectedMachineZone) {
      expect(Intl.DateTimeFormat().resolvedOptions().timeZone).toBe(expectedMachineZone);
      expect(process.env.TZ).toBe(expectedMachineZone);
    }
  });

  it.each(table)("%s in %s after %s", (expression, timezone, after, expected) => {
    // The AWS docs' 2019-2022 example is judged as of its own time; the rest as of today.
    const schedule = parseSchedule(expression, { now: new Date(after) });
    const runs = nextRuns(schedule, timezone, new Date(after), expected.length + 1);
    const want = expected.map((text) => new Date(text.replace("Z", ":00Z")).toISOString());
    expect(runs.slice(0, expected.length).map((run) => run.toISOString())).toEqual(want);
  });

  it("stops at the end of the year field", () => {
    expect(nextRuns(parseSchedule("cron(0 0 1 1 ? 2027-2028)"), "UTC", new Date(JAN1), 5)).toHaveLength(2);
    expect(
      nextRuns(
        parseSchedule("cron(0 12 * * ? 2026)", { now: new Date("2026-01-01T00:00:00Z") }),
        "UTC",
        new Date("2026-12-31T12:00:00Z"),
        3,
      ),
    ).toEqual([]);
  });
});

describe("rate expressions", () => {
  it.each([
    ["rate(1 minute)", 60_000],
    ["rate(1 hour)", 3_600_000],
    ["rate(1 day)", 86_400_000],
    ["rate(15 minutes)", 900_000],
    ["rate(2 hours)", 7_200_000],
    ["rate(7 days)", 604_800_000],
  ])("%s is every %i ms, anchored where it was created", (expression, everyMs) => {
    const anchor = new Date("2026-03-08T07:59:00Z"); // across Chicago's spring-forward: rates do not care
    const runs = nextRuns(
      parseSchedule(expression),
      "America/Chicago",
      new Date("2026-03-08T07:59:30Z"),
      2,
      anchor,
    );
    expect(runs.map((run) => run.getTime())).toEqual([
      anchor.getTime() + everyMs,
      anchor.getTime() + 2 * everyMs,
    ]);
  });
});

describe("validation matches AWS", () => {
  it.each([
    ["cron(0 8 ? * L *)"],
    ["cron(0 8 L * ? *)"],
    ["cron(0 8 31W * ? *)"],
    ["cron(0 8 ? * SUN-SAT *)"],
    ["cron(0 8 * JAN-DEC ? *)"],
    ["cron(0 8 ? * 6#5 *)"],
    ["cron(0 0 1 1 ? 2199)"],
    ["rate(1 minute)"],
    ["rate(10 days)"],
  ])("accepts %s", (expression) => {
    expect(() => parseSchedule(expression, { now: new Date(JAN1) })).not.toThrow();
  });

  it.each([
    ["cron(0 8 * * ? 2020)", /never fires after 2026-01-01/],
    ["cron(15 10 ? * 6L 2019-2022)", /never fires after/],
    ["cron(0 0 30 2 ? *)", /never fires/],
    ["cron(0 0 31 4,6,9,11 ? *)", /never fires/],
    ["cron(0 8 ? * 3#1,6#3 *)", /only one expression/],
    ["cron(0 8 ? * MONDAY *)", /"MONDAY" is neither a number nor one of SUN-SAT/],
    ["cron(0 8 ? * 5-6#2 *)", /single day/],
    ["cron(0 8 ? * 1#6 *)", /1-5/],
    ["cron(0 8 ? * 2L,3 *)", /"L" must be the whole field/],
    ["cron(0 8 ? * 2W *)", /"W" is only allowed in day-of-month/],
    ["cron(0 8 ? * 1/2 *)", /"\/" is not allowed in day-of-week/],
    ["cron(0 8 1#2 * ? *)", /"#" is only allowed in day-of-week/],
    ["cron(0 8 LW * ? *)", /must stand alone/],
    ["cron(0 8 L-2 * ? *)", /must stand alone/],
    ["cron(L 8 * * ? *)", /"L" is not allowed in minutes/],
    ["cron(0 L * * ? *)", /"L" is not allowed in hours/],
    ["cron(0 8 * L ? *)", /"L" is not allowed in month/],
    ["cron(0 8 * 1W ? *)", /"W" is not allowed in month/],
    ["cron(0 8 * * ? L)", /"L" is not allowed in year/],
    ["cron(0 8 * * ? 2030#1)", /"#" is not allowed in year/],
    ["cron(? 8 * * ? *)", /"\?" is not allowed in minutes/],
    ["cron(60 8 * * ? *)", /60 is outside 0-59/],
    ["cron(0 24 * * ? *)", /24 is outside 0-23/],
    ["cron(0 8 32 * ? *)", /32 is outside 1-31/],
    ["cron(0 8 0 * ? *)", /0 is outside 1-31/],
    ["cron(0 8 * 13 ? *)", /13 is outside 1-12/],
    ["cron(0 8 ? * 8 *)", /8 is outside 1-7/],
    ["cron(0 8 ? * 0 *)", /0 is outside 1-7/],
    ["cron(0 8 * * ? 1969)", /1969 is outside 1970-2199/],
    ["cron(0 8 * * ? 2200)", /2200 is outside 1970-2199/],
    ["cron(0 8 * * ? 2030-2027)", /backwards/],
    ["cron(0/0 8 * * ? *)", /step "0" must be a positive number/],
    ["cron(0,,5 8 * * ? *)", /empty list element/],
    ["cron(0 8 * * * *)", /exactly one/],
    ["cron(0 8 ? * ? *)", /exactly one/],
    ["cron(0 8 * * ?)", /6 fields/],
    ["cron(0 8 * * ? * *)", /6 fields/],
    ["rate(1 minutes)", /singular/],
    ["rate(2 minute)", /plural/],
    ["rate(0 minutes)", /at least 1/],
    ["rate(100000000 days)", /longer than Scheduler's 1970-2199 range of years/],
    ["rate(-1 minutes)", /neither/],
    ["rate(1 week)", /neither/],
  ])("rejects %s, saying why", (expression, reason) => {
    const attempt = () => parseSchedule(expression, { now: new Date(JAN1) });
    expect(attempt).toThrow(InvalidScheduleError);
    expect(attempt).toThrow(reason);
  });
});

describe("timezone names", () => {
  it.each([
    ["Asia/Kolkata", "Asia/Kolkata"],
    ["Europe/Kyiv", "Europe/Kyiv"],
    ["Asia/Calcutta", "Asia/Calcutta"],
    ["America/Chicago", "America/Chicago"],
    ["america/chicago", "America/Chicago"],
    ["asia/kolkata", "Asia/Kolkata"],
    ["UTC", "UTC"],
    ["US/Central", "US/Central"],
  ])("keeps %s as %s", (written, kept) => {
    expect(timezoneAsWritten(written)).toBe(kept);
  });
});
