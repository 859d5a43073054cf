import { describe, expect, it } from "vitest";
import { HEARTBEAT_ID } from "#core/heartbeat.ts";
import {
  InvalidScheduleError,
  isValidTimezone,
  nextRuns,
  nominalPeriodMs,
  parseSchedule,
} from "#core/schedule.ts";
import {
  CONFIG_DEFAULTS,
  formatProblems,
  MonitorIdSchema,
  parseConfigLeniently,
  TickMessageSchema,
} from "#core/schemas.ts";

describe("config validation", () => {
  it("refuses monitor ids with the reserved prefix: they name Watchkeeper's own schedules (the heartbeat)", () => {
    expect(MonitorIdSchema.safeParse(HEARTBEAT_ID).success).toBe(false);
    expect(MonitorIdSchema.safeParse("__anything").success).toBe(false);
    expect(
      TickMessageSchema.safeParse({ monitorId: "__x", scheduledTime: "2026-03-01T06:00:00Z" }).success,
    ).toBe(false);
    for (const id of ["_leading-underscore", "a__b", "site.health_check"])
      expect(MonitorIdSchema.safeParse(id).success, id).toBe(true);
  });

  it("applies the DESIGN.md §2 defaults", () => {
    const { config, problems } = parseConfigLeniently("m", { name: "M", check: "manual" });
    expect(problems).toEqual([]);
    expect(config).toMatchObject({
      params: {},
      isActive: true,
      schedule: "rate(5 minutes)",
      timezone: "America/Chicago",
      requiredConsecutiveOks: 2,
      reminderFrequencyMinutes: 60,
      peopleToNotify: [],
      checkTimeoutSeconds: 30,
      skipSupersededTicks: true,
      historyRetentionDays: 14,
    });
  });

  it.each([
    ["name", 5],
    ["name", ""],
    ["check", "Not A Check"],
    ["params", "url=x"],
    ["isActive", "paused"],
    ["schedule", "every 5 minutes"],
    ["schedule", "cron(0 8 * * * *)"],
    ["timezone", "Central"],
    ["requiredConsecutiveOks", 0],
    ["requiredConsecutiveOks", 1.5],
    ["reminderFrequencyMinutes", -1],
    ["peopleToNotify", "ops@example.com"],
    ["checkTimeoutSeconds", 0],
    ["checkTimeoutSeconds", 5000],
    ["skipSupersededTicks", "yes"],
    ["historyRetentionDays", 0],
    ["recordOnlyChanges", 1],
    ["runbookUrl", "http://wiki.example.org/r"],
    ["runbookUrl", "javascript:alert(1)"],
    ["runbookUrl", "https:wiki.example.org"],
    ["runbookUrl", "https://user:secret@wiki.example.org/r"],
    ["runbookUrl", 'https://wiki.example.org/r"><script>'],
    ["runbookUrl", `https://wiki.example.org/${"x".repeat(2000)}`],
    ["runbookUrl", 42],
  ])("names %s when it is %j, and keeps the other attributes", (attribute, value) => {
    const { config, problems } = parseConfigLeniently("m", {
      name: "M",
      check: "manual",
      reminderFrequencyMinutes: 15,
      [attribute]: value,
    });
    expect(problems.map((problem) => problem.attribute)).toEqual([attribute]);
    expect(formatProblems(problems)).toContain(attribute);
    if (attribute !== "reminderFrequencyMinutes") expect(config.reminderFrequencyMinutes).toBe(15);
    if (attribute in CONFIG_DEFAULTS) {
      expect(config[attribute as keyof typeof CONFIG_DEFAULTS]).toEqual(
        CONFIG_DEFAULTS[attribute as keyof typeof CONFIG_DEFAULTS],
      );
    }
  });

  it("reads an https runbookUrl, has none by default, and a bad one falls back to none", () => {
    const base = { name: "M", check: "manual" };
    const url = "https://wiki.example.org/runbooks/m?section=1#steps";
    expect(parseConfigLeniently("m", { ...base, runbookUrl: url })).toMatchObject({
      config: { runbookUrl: url },
      problems: [],
    });
    expect(parseConfigLeniently("m", base).config).not.toHaveProperty("runbookUrl");
    const bad = parseConfigLeniently("m", { ...base, runbookUrl: "ftp://wiki.example.org/r" });
    expect(bad.config).not.toHaveProperty("runbookUrl");
    expect(formatProblems(bad.problems)).toBe(
      'runbookUrl "ftp://wiki.example.org/r": must be an https:// URL',
    );
  });

  it("requires name and check", () => {
    const { problems } = parseConfigLeniently("m", {});
    expect(formatProblems(problems)).toBe("name is required; check is required");
  });

  it("keeps valid recipients and names each malformed one", () => {
    const { config, problems } = parseConfigLeniently("m", {
      name: "M",
      check: "manual",
      peopleToNotify: ["ops@example.com", "", "not-an-address", "x\r\nBcc: y@evil.test", 7],
    });
    expect(config.peopleToNotify).toEqual(["ops@example.com"]);
    expect(problems.map((problem) => problem.attribute)).toEqual([
      "peopleToNotify[1]",
      "peopleToNotify[2]",
      "peopleToNotify[3]",
      "peopleToNotify[4]",
    ]);
  });
});

describe("schedule expressions", () => {
  it.each([
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(2 hours)",
    "rate(1 day)",
    "cron(0 8 * * ? *)",
    "cron(0/15 9-17 ? * MON-FRI *)",
    "cron(0 0 L * ? *)",
  ])("accepts %s", (expression) => {
    expect(() => parseSchedule(expression)).not.toThrow();
  });

  it.each([
    ["rate(1 minutes)", /singular/],
    ["rate(5 minute)", /plural/],
    ["rate(0 minutes)", /at least 1/],
    ["rate(5 weeks)", /neither/],
    ["cron(0 8 * * *)", /6 fields/],
    ["cron(0 8 * * * *)", /exactly one/],
    ["cron(0 8 ? * ? *)", /exactly one/],
    ["cron(0 8 * * ? $)", /not valid/],
    ["at(2026-01-01T00:00:00)", /neither/],
  ])("rejects %s with a reason", (expression, reason) => {
    expect(() => parseSchedule(expression)).toThrow(InvalidScheduleError);
    expect(() => parseSchedule(expression)).toThrow(reason);
  });

  it("evaluates cron in the monitor's timezone across a DST change", () => {
    const runs = nextRuns(
      parseSchedule("cron(0 8 * * ? *)"),
      "America/Chicago",
      new Date("2026-03-07T00:00:00Z"),
      3,
    );
    expect(runs.map((run) => run.toISOString())).toEqual([
      "2026-03-07T14:00:00.000Z", // CST, UTC-6
      "2026-03-08T13:00:00.000Z", // CDT, UTC-5
      "2026-03-09T13:00:00.000Z",
    ]);
  });

  it("anchors rate schedules", () => {
    const runs = nextRuns(
      parseSchedule("rate(5 minutes)"),
      "UTC",
      new Date("2026-03-07T00:07:00Z"),
      2,
      new Date("2026-03-07T00:01:00Z"),
    );
    expect(runs.map((run) => run.toISOString())).toEqual([
      "2026-03-07T00:11:00.000Z",
      "2026-03-07T00:16:00.000Z",
    ]);
  });

  it("knows periods and timezones", () => {
    expect(nominalPeriodMs(parseSchedule("rate(2 hours)"), "UTC", new Date())).toBe(7_200_000);
    expect(
      nominalPeriodMs(parseSchedule("cron(0/10 * * * ? *)"), "UTC", new Date("2026-01-01T00:00:00Z")),
    ).toBe(600_000);
    expect(isValidTimezone("Europe/Paris")).toBe(true);
    expect(isValidTimezone("Central")).toBe(false);
    expect(isValidTimezone("")).toBe(false);
  });
});

describe("lenient parsing never throws", () => {
  it("accepts an invalid monitor id (validated where ids enter) and anything else", () => {
    expect(parseConfigLeniently("not a valid id!", { name: "M", check: "manual" }).problems).toEqual([]);
    expect(() => parseConfigLeniently("m", { name: null, check: 7, params: [], schedule: {} })).not.toThrow();
  });
});

describe("deployment default timezone", () => {
  it("replaces a missing or invalid timezone, and leaves a valid one alone", () => {
    const defaults = { defaultTimezone: "Europe/Paris" };
    expect(parseConfigLeniently("m", { name: "M", check: "manual" }, defaults).config.timezone).toBe(
      "Europe/Paris",
    );
    expect(
      parseConfigLeniently("m", { name: "M", check: "manual", timezone: "Nowhere" }, defaults).config
        .timezone,
    ).toBe("Europe/Paris");
    expect(
      parseConfigLeniently("m", { name: "M", check: "manual", timezone: "UTC" }, defaults).config.timezone,
    ).toBe("UTC");
  });
});
