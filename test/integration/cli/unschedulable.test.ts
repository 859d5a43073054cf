import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshTable } from "../../support/aws.ts";
import { type CliHarness, cliHarness } from "./support.ts";

/** A monitor that cannot be scheduled never runs: list, show and health must say so. */

let cli: CliHarness;
const now = new Date("2026-11-21T12:00:00.000Z");

beforeAll(async () => {
  const { tableName } = await freshTable("cli-unschedulable");
  cli = await cliHarness(tableName);
  const config = (monitorId: string, extra: Record<string, unknown>) =>
    cli.put({
      monitorId,
      record: "config",
      name: `Monitor ${monitorId}`,
      check: "manual",
      timezone: "UTC",
      ...extra,
    });
  // Valid syntax, but its only year has passed: validation refuses it.
  await config("expired", { schedule: "cron(0 8 31W * ? 2020)" });
  // Accepted by us, refused by Scheduler: only schedule-sync's state item knows.
  await config("refused", { schedule: "cron(0 8 * * ? *)", timezone: "Asia/Kolkata" });
  await cli.put({
    monitorId: "refused",
    record: "state",
    state: "ok",
    consecutiveOkCount: 0,
    version: 1,
    scheduleError: "EventBridge Scheduler rejected the schedule: Invalid Schedule Expression",
  });
  await config("fine", { schedule: "cron(0 8 * * ? *)" });
});
afterAll(() => cli.close());

describe("an unschedulable monitor", () => {
  it("is listed with the schedule as written and the state 'unschedulable'", async () => {
    const listed = await cli.run(["list"], { now });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      /expired !\s+Monitor expired\s+manual\s+cron\(0 8 31W \* \? 2020\)\s+yes\s+unschedulable/,
    );
    expect(listed.stdout).toMatch(
      /refused !\s+Monitor refused\s+manual\s+cron\(0 8 \* \* \? \*\)\s+yes\s+unschedulable/,
    );
    expect(listed.stdout).toMatch(/fine\s+Monitor fine\s+manual\s+cron\(0 8 \* \* \? \*\)\s+yes\s+new/);
    expect(listed.stdout).toContain("2 unschedulable (never run)");
    const json = (await cli.run(["list", "--json", "--state", "unschedulable"], { now })).json();
    expect(json.map((row: { monitorId: string }) => row.monitorId)).toEqual(["expired", "refused"]);
    expect(json[0]).toMatchObject({
      schedule: "cron(0 8 31W * ? 2020)",
      scheduleProblem: expect.stringMatching(/never fires after/),
    });
  });

  it("shows no next run, and says why", async () => {
    const shown = await cli.run(["show", "expired"], { now });
    expect(shown.stdout).toMatch(/expired\s+Monitor expired\s+unschedulable/);
    expect(shown.stdout).toMatch(/schedule\s+cron\(0 8 31W \* \? 2020\) \(invalid\)/);
    expect(shown.stdout).toContain("none: the monitor cannot be scheduled");
    const json = (await cli.run(["show", "refused", "--json"], { now })).json();
    expect(json.nextRuns).toEqual([]);
    expect(json.scheduleProblem).toMatch(/Scheduler rejected/);
    const fine = (await cli.run(["show", "fine", "--json"], { now })).json();
    expect(fine.nextRuns[0]).toBe("2026-11-22T08:00:00.000Z");
  });

  it("counts as a problem in health", async () => {
    const json = (await cli.run(["health", "--json"], { now })).json();
    expect(json.unschedulable.map((entry: { monitorId: string }) => entry.monitorId)).toEqual([
      "expired",
      "refused",
    ]);
    const text = await cli.run(["health", "--strict"], { now });
    expect(text.stdout).toMatch(/unschedulable\s+2 \(never run\): expired, refused/);
    expect(text.code).toBe(1);
  });
});
