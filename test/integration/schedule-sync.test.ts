import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DynamoDbScheduleStatus } from "../../functions/adapters/schedule-status.ts";
import { HEARTBEAT_ID } from "../../functions/core/heartbeat.ts";
import { reconcile, scanConfigItems } from "../../functions/schedule-sync/reconcile.ts";
import { createScheduleSyncHandler } from "../../functions/schedule-sync/sync.ts";
import { freshTable, localClientConfig, localDynamo } from "../support/aws.ts";
import { RecordingScheduler } from "../support/recording-ports.ts";
import { StreamReader } from "../support/stream-reader.ts";

/**
 * Schedule-sync against real DynamoDB Local stream records: config items are written with the
 * document client, the table's stream is read with the DynamoDB Streams API, and the records are
 * handed to the handler as Lambda would (unfiltered here, so the handler's own guard is exercised,
 * including against the state writes its status reports cause). Scheduler has no emulator: the
 * recording port stands in for it.
 */

const { client, doc } = localDynamo();
const streams = new DynamoDBStreamsClient(localClientConfig(inject("dynamoEndpoint")));
let tableName: string;
let stream: StreamReader;

const config = (monitorId: string, attributes: Record<string, unknown> = {}) => ({
  monitorId,
  record: "config",
  name: `Monitor ${monitorId}`,
  check: "manual",
  params: { isOk: true },
  ...attributes,
});

async function stateOf(monitorId: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await doc.send(
    new GetCommand({ TableName: tableName, Key: { monitorId, record: "state" } }),
  );
  return Item;
}

function harness() {
  const scheduler = new RecordingScheduler();
  const sync = createScheduleSyncHandler({
    scheduler,
    status: new DynamoDbScheduleStatus(tableName, client),
    defaultTimezone: "America/Chicago",
  });
  return { scheduler, sync };
}

beforeAll(async () => {
  const table = await freshTable("schedule-sync");
  tableName = table.tableName;
  stream = new StreamReader(streams, table.streamArn);
});

afterAll(() => {
  client.destroy();
  streams.destroy();
});

describe("schedule-sync on DynamoDB Local stream records", () => {
  let scheduler: RecordingScheduler;
  let invalidChange: DynamoDBRecord[] = [];
  let sync: ReturnType<typeof harness>["sync"];
  beforeAll(() => {
    ({ scheduler, sync } = harness());
  });

  it("creates, pauses and deletes schedules as config items are written, edited and deleted", async () => {
    await doc.send(
      new PutCommand({ TableName: tableName, Item: config("feed", { schedule: "cron(0 7 ? * MON-FRI *)" }) }),
    );
    await doc.send(
      new PutCommand({ TableName: tableName, Item: config("site", { timezone: "Europe/Paris" }) }),
    );
    await doc.send(new PutCommand({ TableName: tableName, Item: config("old") }));
    // The old monitor was in an incident; its state must not outlive its config item.
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: { monitorId: "old", record: "state", state: "alert", consecutiveOkCount: 1, version: 7 },
      }),
    );
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { monitorId: "site", record: "config" },
        UpdateExpression: "SET isActive = :false",
        ExpressionAttributeValues: { ":false": false },
      }),
    );
    await doc.send(new DeleteCommand({ TableName: tableName, Key: { monitorId: "old", record: "config" } }));

    const records = await stream.next(6);
    expect(records.map((record) => `${record.eventName} ${record.dynamodb?.Keys?.record?.S}`)).toEqual([
      "INSERT config",
      "INSERT config",
      "INSERT config",
      "INSERT state",
      "MODIFY config",
      "REMOVE config",
    ]);
    expect(await sync({ Records: records })).toEqual({ batchItemFailures: [] });
    // schedule-sync's own deletion of the old state item (the Lambda filter keeps such records out).
    expect(
      (await stream.next(1)).map((record) => `${record.eventName} ${record.dynamodb?.Keys?.record?.S}`),
    ).toEqual(["REMOVE state"]);

    expect(Object.fromEntries(scheduler.schedules)).toEqual({
      feed: {
        monitorId: "feed",
        expression: "cron(0 7 ? * MON-FRI *)",
        timezone: "America/Chicago",
        enabled: true,
      },
      site: { monitorId: "site", expression: "rate(5 minutes)", timezone: "Europe/Paris", enabled: false },
    });
    expect(scheduler.calls).toContainEqual({ op: "remove", monitorId: "old" });
    // Nothing to report, so no state item was created for any of them.
    expect(await stateOf("feed")).toBeUndefined();
    // A config item created again under "old" starts a new monitor: no inherited incident.
    expect(await stateOf("old")).toBeUndefined();
  });

  it("leaves the schedule alone when an edit does not touch schedule, timezone or isActive", async () => {
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { monitorId: "feed", record: "config" },
        UpdateExpression: "SET #name = :name",
        ExpressionAttributeNames: { "#name": "name" },
        ExpressionAttributeValues: { ":name": "Feed, renamed" },
      }),
    );
    const records = await stream.next(1);
    expect(records[0]?.dynamodb?.OldImage).toBeDefined();
    const callsBefore = scheduler.calls.length;
    expect(await sync({ Records: records })).toEqual({ batchItemFailures: [] });
    expect(scheduler.calls.length).toBe(callsBefore);
  });

  it("reports an invalid schedule on the state item, bumping its version, and ignores its own state write", async () => {
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: { monitorId: "feed", record: "state", state: "ok", consecutiveOkCount: 0, version: 7 },
      }),
    );
    await doc.send(
      new PutCommand({ TableName: tableName, Item: config("feed", { schedule: "cron(0 7 * * * *)" }) }),
    );
    const records = await stream.next(2);
    invalidChange = records;
    const callsBefore = scheduler.calls.length;
    expect(await sync({ Records: records })).toEqual({ batchItemFailures: [] });

    const state = await stateOf("feed");
    expect(state).toMatchObject({ state: "ok", version: 8 });
    expect(state?.scheduleError).toMatch(/^schedule "cron\(0 7 \* \* \* \*\)" is invalid: .*"\?"/);
    // The previous, valid schedule keeps running; the config item was not touched.
    expect(scheduler.schedules.get("feed")?.expression).toBe("cron(0 7 ? * MON-FRI *)");
    expect(scheduler.calls.length).toBe(callsBefore);
    const { Item: configItem } = await doc.send(
      new GetCommand({ TableName: tableName, Key: { monitorId: "feed", record: "config" } }),
    );
    expect(configItem).toEqual(config("feed", { schedule: "cron(0 7 * * * *)" }));

    // The state write is itself a stream record: handing it back must change nothing.
    const echo = await stream.next(1);
    expect(echo[0]?.dynamodb?.Keys?.record).toEqual({ S: "state" });
    expect(await sync({ Records: echo })).toEqual({ batchItemFailures: [] });
    expect(scheduler.calls.length).toBe(callsBefore);
  });

  it("keeps the state of a monitor created again before its old REMOVE record was processed", async () => {
    const status = new DynamoDbScheduleStatus(tableName, client);
    await doc.send(new PutCommand({ TableName: tableName, Item: config("reborn") }));
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: { monitorId: "reborn", record: "state", state: "alert", consecutiveOkCount: 0, version: 3 },
      }),
    );
    // The REMOVE of an earlier config item arrives late: the monitor exists again, keep its state.
    await status.forgetState("reborn");
    expect(await stateOf("reborn")).toMatchObject({ state: "alert", version: 3 });
    // Once its config item is really gone, the state goes too.
    await doc.send(
      new DeleteCommand({ TableName: tableName, Key: { monitorId: "reborn", record: "config" } }),
    );
    await status.forgetState("reborn");
    expect(await stateOf("reborn")).toBeUndefined();
    await status.forgetState("reborn"); // idempotent
    await stream.next(4); // this test's own writes, kept out of the next test's way
  });

  it("is idempotent when Lambda delivers the same records again", async () => {
    await sync({ Records: invalidChange });
    await sync({ Records: invalidChange });
    // Re-reporting the same error writes nothing: the orchestrator's version is left alone.
    expect(await stateOf("feed")).toMatchObject({ version: 8 });
  });

  it("clears the error once the item is fixed, keeping the orchestrator's state", async () => {
    await doc.send(
      new PutCommand({ TableName: tableName, Item: config("feed", { schedule: "cron(0 8 ? * * *)" }) }),
    );
    const records = await stream.next(1);
    expect(await sync({ Records: records })).toEqual({ batchItemFailures: [] });
    expect(scheduler.schedules.get("feed")?.expression).toBe("cron(0 8 ? * * *)");
    const state = await stateOf("feed");
    expect(state).toEqual({
      monitorId: "feed",
      record: "state",
      state: "ok",
      consecutiveOkCount: 0,
      version: 9,
    });
    await stream.next(1); // the clear's own state write
  });

  it("reconcile brings the schedules in line with the table", async () => {
    const fresh = new RecordingScheduler();
    await fresh.upsert({
      monitorId: "deleted-long-ago",
      expression: "rate(1 hour)",
      timezone: "UTC",
      enabled: true,
    });
    await fresh.upsert({ monitorId: "site", expression: "rate(1 hour)", timezone: "UTC", enabled: true });
    // The stack's own schedule in the group: no config item, and never removed.
    const heartbeat = {
      monitorId: HEARTBEAT_ID,
      expression: "rate(5 minutes)",
      timezone: "UTC",
      enabled: true,
    };
    await fresh.upsert(heartbeat);
    await doc.send(
      new PutCommand({ TableName: tableName, Item: config("broken", { timezone: "Mars/Base" }) }),
    );
    const lines: string[] = [];
    const report = await reconcile(
      {
        scheduler: fresh,
        status: new DynamoDbScheduleStatus(tableName, client),
        configItems: () => scanConfigItems(doc, tableName),
        log: (line) => lines.push(line),
      },
      { defaultTimezone: "America/Chicago" },
    );
    expect(report.failures).toEqual([]);
    expect(Object.fromEntries(fresh.schedules)).toEqual({
      [HEARTBEAT_ID]: heartbeat,
      feed: {
        monitorId: "feed",
        expression: "cron(0 8 ? * * *)",
        timezone: "America/Chicago",
        enabled: true,
      },
      site: { monitorId: "site", expression: "rate(5 minutes)", timezone: "Europe/Paris", enabled: false },
    });
    expect((await stateOf("broken"))?.scheduleError).toMatch(/timezone "Mars\/Base"/);
    expect(lines.at(-1)).toBe("2 upserted, 0 unchanged, 1 invalid, 1 removed, 0 failed");
  });

  it("a dry run changes nothing", async () => {
    const fresh = new RecordingScheduler();
    await fresh.upsert({ monitorId: "orphan", expression: "rate(1 hour)", timezone: "UTC", enabled: true });
    const report = await reconcile(
      {
        scheduler: fresh,
        status: new DynamoDbScheduleStatus(tableName, client),
        configItems: () => scanConfigItems(doc, tableName),
      },
      { dryRun: true },
    );
    expect(report.plan.removals).toEqual(["orphan"]);
    expect(fresh.calls.map((call) => call.op)).toEqual(["upsert", "list"]);
  });
});
