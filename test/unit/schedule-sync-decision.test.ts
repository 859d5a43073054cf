import { describe, expect, it } from "vitest";
import { decideScheduleAction, planReconcile, scheduleDefinitionFor } from "#core/schedule-sync.ts";

const config = (monitorId: string, attributes: Record<string, unknown> = {}) => ({
  monitorId,
  record: "config",
  name: monitorId,
  check: "manual",
  ...attributes,
});

describe("scheduleDefinitionFor", () => {
  it.each([
    ["defaults", {}, { expression: "rate(5 minutes)", timezone: "America/Chicago", enabled: true }],
    [
      "explicit cron and zone",
      { schedule: "cron(0 8 * * ? *)", timezone: "Europe/Paris" },
      { expression: "cron(0 8 * * ? *)", timezone: "Europe/Paris", enabled: true },
    ],
    [
      "paused",
      { isActive: false },
      { expression: "rate(5 minutes)", timezone: "America/Chicago", enabled: false },
    ],
    // The orchestrator's lenient parse also treats a malformed isActive as the default.
    [
      "malformed isActive",
      { isActive: "no" },
      { expression: "rate(5 minutes)", timezone: "America/Chicago", enabled: true },
    ],
  ])("%s", (_, attributes, expected) => {
    expect(scheduleDefinitionFor("m-1", attributes)).toEqual({
      ok: true,
      definition: { monitorId: "m-1", ...expected },
    });
  });

  it("uses the deployment's default timezone only when the item names none", () => {
    const defaults = { defaultTimezone: "Europe/Berlin" };
    expect(scheduleDefinitionFor("m", {}, defaults)).toMatchObject({
      definition: { timezone: "Europe/Berlin" },
    });
    expect(scheduleDefinitionFor("m", { timezone: "UTC" }, defaults)).toMatchObject({
      definition: { timezone: "UTC" },
    });
  });

  it.each([
    [{ schedule: "every 5 minutes" }, /schedule "every 5 minutes" is invalid: .*neither rate/],
    [{ schedule: "cron(0 8 * * *)" }, /cron needs 6 fields/],
    [{ schedule: "rate(1 minutes)" }, /singular unit/],
    [{ schedule: 5 }, /schedule number 5 is invalid/],
    [{ timezone: "Mars/Olympus" }, /timezone "Mars\/Olympus" is not an IANA timezone/],
    [{ schedule: "rate(0 minutes)", timezone: "Nowhere" }, /schedule .*; timezone "Nowhere"/],
  ])("explains why %j cannot be scheduled", (attributes, reason) => {
    const result = scheduleDefinitionFor("m", attributes);
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.reason).toMatch(reason);
  });

  it("rejects a monitor id Scheduler would not accept as a schedule name", () => {
    const result = scheduleDefinitionFor("has space", {});
    expect(result).toEqual({
      ok: false,
      reason: expect.stringMatching(/^monitorId "has space" must be 1-64/),
    });
  });
});

describe("decideScheduleAction", () => {
  it.each(["INSERT", "MODIFY"] as const)("%s of a valid config item upserts", (kind) => {
    const item = config("web", { schedule: "rate(1 minute)" });
    expect(
      decideScheduleAction({ kind, keys: { monitorId: "web", record: "config" }, newImage: item }),
    ).toEqual({
      kind: "upsert",
      definition: {
        monitorId: "web",
        expression: "rate(1 minute)",
        timezone: "America/Chicago",
        enabled: true,
      },
      owners: { name: "web", peopleToNotify: [], schedule: "rate(1 minute)" },
    });
  });

  const modify = (before: Record<string, unknown>, after: Record<string, unknown>) =>
    decideScheduleAction({
      kind: "MODIFY",
      keys: { monitorId: "web", record: "config" },
      oldImage: config("web", before),
      newImage: config("web", after),
    });

  it.each([
    ["a rename", { name: "Web" }, { name: "Web site" }],
    ["a new recipient", {}, { peopleToNotify: ["ops@example.com"] }],
    ["a check parameter", { params: { url: "a" } }, { params: { url: "b" } }],
    ["spelling out the default schedule", {}, { schedule: "rate(5 minutes)", timezone: "America/Chicago" }],
  ])("%s keeps the schedule as it is (a rate keeps its phase)", (_, before, after) => {
    expect(modify(before, after).kind).toBe("keep");
  });

  it.each([
    ["the expression", { schedule: "rate(5 minutes)" }, { schedule: "rate(10 minutes)" }],
    [
      "the timezone",
      { schedule: "cron(0 8 * * ? *)" },
      { schedule: "cron(0 8 * * ? *)", timezone: "Europe/Paris" },
    ],
    ["isActive", {}, { isActive: false }],
    ["an invalid schedule fixed", { schedule: "daily" }, { schedule: "rate(1 day)" }],
  ])("a change of %s updates the schedule", (_, before, after) => {
    expect(modify(before, after).kind).toBe("upsert");
  });

  it("says whether a schedule from the previous item keeps running when the new one is invalid", () => {
    const invalid = (change: Parameters<typeof decideScheduleAction>[0]) => {
      const action = decideScheduleAction(change);
      return action.kind === "invalid" ? action.previousSchedule : "not invalid";
    };
    const keys = { monitorId: "web", record: "config" };
    expect(invalid({ kind: "INSERT", keys, newImage: config("web", { schedule: "daily" }) })).toBe(false);
    expect(modify({ schedule: "rate(1 hour)" }, { schedule: "daily" })).toMatchObject({
      previousSchedule: true,
    });
    expect(modify({ schedule: "hourly" }, { schedule: "daily" })).toMatchObject({ previousSchedule: false });
    expect(invalid({ kind: "MODIFY", keys, newImage: config("web", { schedule: "daily" }) })).toBeUndefined();
  });

  it("keeps a valid IANA name as written: no rewrite to an old alias", () => {
    for (const zone of ["Asia/Kolkata", "Europe/Kyiv"]) {
      expect(scheduleDefinitionFor("m", { timezone: zone })).toMatchObject({
        definition: { timezone: zone },
      });
    }
    expect(scheduleDefinitionFor("m", { timezone: "america/chicago" })).toMatchObject({
      definition: { timezone: "America/Chicago" },
    });
  });

  it("refuses a cron that never fires again, saying so", () => {
    const result = scheduleDefinitionFor("m", { schedule: "cron(0 8 * * ? 2020)" });
    expect(result.ok ? "" : result.reason).toMatch(/never fires after/);
  });

  it("REMOVE of a config item removes the schedule", () => {
    expect(decideScheduleAction({ kind: "REMOVE", keys: { monitorId: "web", record: "config" } })).toEqual({
      kind: "remove",
      monitorId: "web",
    });
  });

  it("an invalid item is reported, not scheduled", () => {
    const action = decideScheduleAction({
      kind: "MODIFY",
      keys: { monitorId: "web", record: "config" },
      newImage: config("web", { timezone: "Central" }),
    });
    expect(action).toEqual({
      kind: "invalid",
      monitorId: "web",
      reason: expect.stringContaining('timezone "Central"'),
      owners: { name: "web", peopleToNotify: [], timezone: "Central" },
    });
  });

  it.each([
    [{ monitorId: "web", record: "state" }, /record "state" is not a config item/],
    [{ monitorId: "web", record: "run#2026-01-01T00:00:00Z" }, /not a config item/],
    [{ monitorId: 7, record: "config" }, /monitorId number 7 is not a string/],
  ])("ignores %j", (keys, reason) => {
    const action = decideScheduleAction({ kind: "INSERT", keys, newImage: { ...keys } });
    expect(action).toEqual({ kind: "ignore", reason: expect.stringMatching(reason) });
  });

  it("ignores REMOVE of an id that can never have had a schedule", () => {
    expect(decideScheduleAction({ kind: "REMOVE", keys: { monitorId: "a/b", record: "config" } }).kind).toBe(
      "ignore",
    );
  });

  it("ignores a change without a new image instead of deleting the schedule", () => {
    expect(decideScheduleAction({ kind: "MODIFY", keys: { monitorId: "web", record: "config" } })).toEqual({
      kind: "ignore",
      reason: expect.stringContaining("no new image"),
    });
  });
});

describe("planReconcile", () => {
  it("upserts every valid item, reports invalid ones and removes orphaned schedules only", () => {
    const plan = planReconcile(
      [config("a"), config("b", { isActive: false }), config("broken", { schedule: "daily" })],
      ["zombie", "a", "broken", "another-zombie"],
      { defaultTimezone: "UTC" },
    );
    expect(plan.upserts).toEqual([
      { monitorId: "a", expression: "rate(5 minutes)", timezone: "UTC", enabled: true },
      { monitorId: "b", expression: "rate(5 minutes)", timezone: "UTC", enabled: false },
    ]);
    expect(plan.invalid).toEqual([
      {
        monitorId: "broken",
        reason: expect.stringContaining('"daily"'),
        owners: { name: "broken", peopleToNotify: [], schedule: "daily" },
      },
    ]);
    // "broken" keeps its running schedule, as on the stream path.
    expect(plan.removals).toEqual(["another-zombie", "zombie"]);
  });

  it("ignores items that are not config items", () => {
    const plan = planReconcile([{ monitorId: "a", record: "state" }], ["a"]);
    expect(plan).toEqual({ upserts: [], invalid: [], removals: ["a"] });
  });
});
