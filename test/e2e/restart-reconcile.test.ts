import { randomUUID } from "node:crypto";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterEach, describe, expect, it } from "vitest";
import { BUCKETS_PARTITION, SCHEDULE_RECORD } from "#core/buckets.ts";
import { startTestRuntime, type TestRuntime } from "./support/runtime.ts";

/**
 * `npm start --data` on a table that already holds monitors: the runtime replays the table into
 * bucket members (the stream only carries changes from now on), removes members whose config item
 * is gone, and rebuilds the bucket headers.
 */
let env: TestRuntime | undefined;
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

describe("a runtime started on an existing table", () => {
  it("schedules its monitors, drops members of deleted monitors, and rebuilds headers", async () => {
    const tableName = `monitors-${randomUUID().slice(0, 8)}`;
    env = await startTestRuntime({ tableName });
    const put = (item: Record<string, unknown>) =>
      env?.doc.send(new PutCommand({ TableName: tableName, Item: item }));
    await put({
      monitorId: "kept",
      record: "config",
      name: "Kept",
      check: "manual",
      params: { isOk: true },
      schedule: "rate(5 minutes)",
      timezone: "UTC",
    });
    await env.runtime.streamDrained();
    // What a table can hold after the runtime was down: the member (and a stale header) of a
    // monitor whose config item was deleted meanwhile.
    await put({
      monitorId: "orphan",
      record: SCHEDULE_RECORD,
      expression: "cron(0 3 * * ? *)",
      timezone: "UTC",
      enabled: true,
      wkBucket: "c#orphan#0",
    });
    await put({
      monitorId: BUCKETS_PARTITION,
      record: "bucket#c#orphan",
      kind: "cron",
      expression: "cron(0 3 * * ? *)",
      timezone: "UTC",
      touchedAt: "2000-01-01T00:00:00Z",
    });
    await env.stop();

    env = await startTestRuntime({ tableName });
    expect(env.runtime.tableExisted).toBe(true);
    const get = async (monitorId: string, record: string) =>
      (await env?.doc.send(new GetCommand({ TableName: tableName, Key: { monitorId, record } })))?.Item;
    expect(await get("kept", SCHEDULE_RECORD)).toMatchObject({ expression: "rate(5 minutes)" });
    expect(await get("orphan", SCHEDULE_RECORD)).toBeUndefined();
    expect(await get(BUCKETS_PARTITION, "bucket#c#orphan")).toBeUndefined();
    expect(await get(BUCKETS_PARTITION, "bucket#r#5")).toBeDefined();
  }, 60_000);
});
