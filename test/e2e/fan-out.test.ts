import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestRuntime, type TestRuntime } from "./support/runtime.ts";

/**
 * Engine v2 on the local runtime with its scheduler on: a config item written with a plain
 * DynamoDB client reaches schedule-sync through the stream, becomes a bucket member, and the local
 * clock's next minute makes the real fan-out handler enqueue its tick, which the real orchestrator
 * runs. Waits for a real minute boundary (at most about a minute).
 */
let env: TestRuntime;
beforeAll(async () => {
  env = await startTestRuntime({ scheduler: true });
});
afterAll(async () => {
  await env?.stop();
});

const table = () => env.runtime.endpoints.tableName;
const config = (monitorId: string, isActive: boolean) => ({
  monitorId,
  record: "config",
  name: monitorId,
  check: "manual",
  params: { isOk: true },
  schedule: "rate(1 minute)",
  timezone: "UTC",
  isActive,
});

describe("clock → fan-out → orchestrator", () => {
  it("runs an active monitor at the next whole minute, and never a paused one", async () => {
    await env.doc.send(new PutCommand({ TableName: table(), Item: config("e2e-every-minute", true) }));
    await env.doc.send(new PutCommand({ TableName: table(), Item: config("e2e-paused", false) }));
    await env.runtime.streamDrained();
    const view = await env.runtime.schedules.get("e2e-every-minute");
    expect(view?.nextRun?.getUTCSeconds()).toBe(0);
    expect((await env.runtime.schedules.get("e2e-paused"))?.nextRun).toBeNull();

    const state = await eventually(
      "the monitor's first scheduled run",
      async () => {
        const { Item } = await env.doc.send(
          new GetCommand({ TableName: table(), Key: { monitorId: "e2e-every-minute", record: "state" } }),
        );
        return typeof Item?.lastTickTime === "string" ? Item : undefined;
      },
      100_000,
    );
    // The tick's logical clock is the clock's planned minute.
    expect(state.lastTickTime).toMatch(/T\d\d:\d\d:00(\.000)?Z$/);
    const paused = await env.doc.send(
      new GetCommand({ TableName: table(), Key: { monitorId: "e2e-paused", record: "state" } }),
    );
    expect(paused.Item?.lastTickTime).toBeUndefined();
  }, 120_000);
});
