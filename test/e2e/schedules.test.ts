import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScheduleView } from "../../local/scheduler.ts";
import { capturedEmails } from "../support/aws.ts";
import { eventually, startTestRuntime, type TestRuntime } from "./support/runtime.ts";

/**
 * Config edits made with a plain DynamoDB client reach the local scheduler through the table's
 * stream and the real schedule-sync handler, as they reach EventBridge Scheduler in AWS.
 */

let env: TestRuntime;
beforeAll(async () => {
  env = await startTestRuntime();
});
afterAll(async () => {
  await env?.stop();
});

const table = () => env.runtime.endpoints.tableName;

function scheduleMatching(monitorId: string, matches: (view: ScheduleView) => boolean) {
  return eventually(`schedule of ${monitorId} to change`, async () => {
    const view = await env.runtime.schedules.get(monitorId);
    return view && matches(view) ? view : undefined;
  });
}

function wallClock(instant: Date, timeZone: string) {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(instant);
  const part = (type: string) => parts.find((p) => p.type === type)?.value;
  return { weekday: part("weekday"), time: `${part("hour")}:${part("minute")}` };
}

describe("local schedules follow the config items", () => {
  const monitorId = "e2e-schedule";

  it("creates a schedule for a new config item", async () => {
    await env.doc.send(
      new PutCommand({
        TableName: table(),
        Item: {
          monitorId,
          record: "config",
          name: "E2E schedule",
          check: "manual",
          params: { isOk: true },
          schedule: "rate(5 minutes)",
          timezone: "UTC",
        },
      }),
    );
    const view = await scheduleMatching(monitorId, () => true);
    expect(view).toMatchObject({ expression: "rate(5 minutes)", timezone: "UTC", enabled: true });
    expect(view.nextRun).toBeInstanceOf(Date);
  });

  it("follows an edit of schedule and timezone", async () => {
    await env.doc.send(
      new UpdateCommand({
        TableName: table(),
        Key: { monitorId, record: "config" },
        UpdateExpression: "SET #schedule = :schedule, #timezone = :timezone",
        ExpressionAttributeNames: { "#schedule": "schedule", "#timezone": "timezone" },
        ExpressionAttributeValues: { ":schedule": "cron(0 9 ? * MON-FRI *)", ":timezone": "Europe/Paris" },
      }),
    );
    const view = await scheduleMatching(monitorId, (v) => v.expression.startsWith("cron"));
    expect(view.timezone).toBe("Europe/Paris");
    // The next run is a weekday at 09:00 on Paris wall clocks, whatever the machine's zone.
    const next = wallClock(view.nextRun as Date, "Europe/Paris");
    expect(next.time).toBe("09:00");
    expect(["Mon", "Tue", "Wed", "Thu", "Fri"]).toContain(next.weekday);
  });

  it("disables the schedule when isActive is false, and enables it again", async () => {
    const setActive = (isActive: boolean) =>
      env.doc.send(
        new UpdateCommand({
          TableName: table(),
          Key: { monitorId, record: "config" },
          UpdateExpression: "SET isActive = :active",
          ExpressionAttributeValues: { ":active": isActive },
        }),
      );
    await setActive(false);
    const disabled = await scheduleMatching(monitorId, (v) => !v.enabled);
    expect(disabled.nextRun).toBeNull();
    await setActive(true);
    const enabled = await scheduleMatching(monitorId, (v) => v.enabled);
    expect(enabled.nextRun).toBeInstanceOf(Date);
  });

  it("keeps the last good schedule and reports an invalid one on the state item", async () => {
    await env.doc.send(
      new UpdateCommand({
        TableName: table(),
        Key: { monitorId, record: "config" },
        UpdateExpression: "SET #schedule = :schedule",
        ExpressionAttributeNames: { "#schedule": "schedule" },
        ExpressionAttributeValues: { ":schedule": "every five minutes" },
      }),
    );
    const scheduleError = await eventually("scheduleError on the state item", async () => {
      const { Item } = await env.doc.send(
        new GetCommand({ TableName: table(), Key: { monitorId, record: "state" } }),
      );
      return Item?.scheduleError as string | undefined;
    });
    expect(scheduleError).toMatch(/every five minutes/);
    expect((await env.runtime.schedules.get(monitorId))?.expression).toBe("cron(0 9 ? * MON-FRI *)");
  });

  it("removes the schedule when the config item is deleted", async () => {
    await env.doc.send(new DeleteCommand({ TableName: table(), Key: { monitorId, record: "config" } }));
    await eventually("the schedule to be removed", async () =>
      (await env.runtime.schedules.get(monitorId)) ? undefined : true,
    );
    expect(await env.runtime.schedules.get(monitorId)).toBeUndefined();
  });

  it("ignores state items: only config items reach schedule-sync", async () => {
    await env.doc.send(
      new PutCommand({
        TableName: table(),
        Item: { monitorId: "e2e-state-only", record: "state", state: "ok", version: 1 },
      }),
    );
    await env.runtime.streamDrained();
    expect(await env.runtime.schedules.get("e2e-state-only")).toBeUndefined();
  });
});

describe("a new monitor that cannot be scheduled", () => {
  const monitorId = "e2e-unschedulable";

  it("is recorded on the state item and its owners are mailed once; a rename keeps a rate's phase", async () => {
    const put = (schedule: string, name: string) =>
      env.doc.send(
        new PutCommand({
          TableName: table(),
          Item: {
            monitorId,
            record: "config",
            name,
            check: "manual",
            params: { isOk: true },
            schedule,
            timezone: "UTC",
            peopleToNotify: ["owner@example.org"],
          },
        }),
      );
    await put("cron(0 8 31W * ? 2020)", "Expired");
    const scheduleError = await eventually("scheduleError on the state item", async () => {
      const { Item } = await env.doc.send(
        new GetCommand({ TableName: table(), Key: { monitorId, record: "state" } }),
      );
      return Item?.scheduleError as string | undefined;
    });
    expect(scheduleError).toMatch(/never fires after/);
    expect(await env.runtime.schedules.get(monitorId)).toBeUndefined();
    // An edit that does not fix it is not news: still one mail.
    await put("cron(0 8 31W * ? 2020)", "Expired, renamed");
    await env.runtime.streamDrained();
    const mails = (await capturedEmails(env.runtime.endpoints.ses)).filter((mail) =>
      mail.subject.startsWith("[Monitor UNSCHEDULABLE]"),
    );
    expect(mails.map((mail) => [mail.subject, mail.destination.to])).toEqual([
      ["[Monitor UNSCHEDULABLE] Expired", ["owner@example.org"]],
    ]);

    // Fixed: scheduled, the error cleared; a later rename does not restart the rate.
    await put("rate(1 hour)", "Hourly");
    const view = await scheduleMatching(monitorId, () => true);
    await put("rate(1 hour)", "Hourly, renamed");
    await env.runtime.streamDrained();
    expect((await env.runtime.schedules.get(monitorId))?.nextRun).toEqual(view.nextRun);
  });
});
