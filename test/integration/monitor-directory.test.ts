import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import {
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { countRequests, RequestCounter } from "../../bench/lib/counting.ts";
import { DynamoDashboardStore } from "../../functions/adapters/dashboard-store.ts";
import { createDocumentClient } from "../../functions/adapters/dynamodb-store.ts";
import { DynamoDbMonitorDirectory } from "../../functions/adapters/monitor-directory.ts";
import { DynamoDbScheduleStatus } from "../../functions/adapters/schedule-status.ts";
import {
  DIRECTORY_ATTRIBUTE,
  DIRECTORY_INDEX,
  DIRECTORY_MARKER_ID,
  DIRECTORY_MARKER_RECORD,
  DIRECTORY_SHARDS,
  directoryShardOf,
} from "../../functions/core/directory.ts";
import type { Logger } from "../../functions/core/ports.ts";
import { reconcile, scanConfigItems } from "../../functions/schedule-sync/reconcile.ts";
import { createScheduleSyncHandler } from "../../functions/schedule-sync/sync.ts";
import { createMonitorsTable } from "../../local/resources.ts";
import { startDynamoDbLocal } from "../../local/servers.ts";
import { freshTable, localClientConfig, localDynamo } from "../support/aws.ts";
import { RecordingScheduler } from "../support/recording-ports.ts";
import { StreamReader } from "../support/stream-reader.ts";

/**
 * The monitor directory (issue 14) on DynamoDB Local: schedule-sync's writes from real stream
 * records, reconcile's repair, and the dashboard overview's requests, counted on the wire, which
 * must not grow with the history in the table.
 */

const { client, doc } = localDynamo();
const streams = new DynamoDBStreamsClient(localClientConfig(inject("dynamoEndpoint")));

const config = (monitorId: string, attributes: Record<string, unknown> = {}) => ({
  monitorId,
  record: "config",
  name: `Monitor ${monitorId}`,
  check: "manual",
  params: { isOk: true },
  ...attributes,
});

async function item(tableName: string, monitorId: string, record: string) {
  const { Item } = await doc.send(
    new GetCommand({ TableName: tableName, Key: { monitorId, record }, ConsistentRead: true }),
  );
  return Item;
}

async function putAll(tableName: string, items: Record<string, unknown>[]) {
  for (let start = 0; start < items.length; start += 25) {
    let requests = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
    while (requests.length > 0) {
      const response = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
      requests = (response.UnprocessedItems?.[tableName] ?? []) as typeof requests;
    }
  }
}

afterAll(() => {
  client.destroy();
  streams.destroy();
});

describe("schedule-sync keeps the directory from the table's stream", () => {
  let tableName: string;
  let stream: StreamReader;
  let directory: DynamoDbMonitorDirectory;
  let sync: ReturnType<typeof createScheduleSyncHandler>;

  beforeAll(async () => {
    const table = await freshTable("directory-sync");
    tableName = table.tableName;
    stream = new StreamReader(streams, table.streamArn);
    directory = new DynamoDbMonitorDirectory(tableName, client);
    sync = createScheduleSyncHandler({
      scheduler: new RecordingScheduler(),
      status: new DynamoDbScheduleStatus(tableName, client),
      directory,
    });
  });

  it("creates an entry for every config item (valid, invalid, paused), rewrites none on an edit, deletes it with the item", async () => {
    await doc.send(new PutCommand({ TableName: tableName, Item: config("web") }));
    await doc.send(new PutCommand({ TableName: tableName, Item: config("typo", { schedule: "every day" }) }));
    await doc.send(new PutCommand({ TableName: tableName, Item: config("paused", { isActive: false }) }));
    const inserts = await stream.next(3);
    expect(await sync({ Records: inserts })).toEqual({ batchItemFailures: [] });
    for (const monitorId of ["web", "typo", "paused"]) {
      expect(await item(tableName, monitorId, "directory")).toEqual({
        monitorId,
        record: "directory",
        [DIRECTORY_ATTRIBUTE]: directoryShardOf(monitorId),
      });
    }
    // The stream now carries the directory items (and typo's scheduleError): Lambda's filter keeps
    // them from schedule-sync; here they are read past.
    const echoes = await stream.next(4);
    expect(echoes.map((record) => `${record.eventName} ${record.dynamodb?.Keys?.record?.S}`).sort()).toEqual([
      "INSERT directory",
      "INSERT directory",
      "INSERT directory",
      "INSERT state",
    ]);

    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { monitorId: "web", record: "config" },
        UpdateExpression: "SET #name = :name",
        ExpressionAttributeNames: { "#name": "name" },
        ExpressionAttributeValues: { ":name": "Web, renamed" },
      }),
    );
    await doc.send(new DeleteCommand({ TableName: tableName, Key: { monitorId: "typo", record: "config" } }));
    const changes = await stream.next(2);
    expect(await sync({ Records: changes })).toEqual({ batchItemFailures: [] });
    expect(await item(tableName, "typo", "directory")).toBeUndefined();
    expect(await item(tableName, "web", "directory")).toBeDefined();
    // The edit wrote nothing: the only records after the sync are typo's directory and state deletions.
    const after = await stream.next(2);
    expect(
      after
        .map(
          (record) =>
            `${record.eventName} ${record.dynamodb?.Keys?.monitorId?.S} ${record.dynamodb?.Keys?.record?.S}`,
        )
        .sort(),
    ).toEqual(["REMOVE typo directory", "REMOVE typo state"]);
    const { entries, reconciled } = await directory.entries();
    expect(entries.map((entry) => entry.monitorId).sort()).toEqual(["paused", "web"]);
    expect(reconciled).toBe(false);
  });
});

describe("reconcile repairs the directory", () => {
  it("creates the missing entries, deletes orphans, and writes the marker", async () => {
    const { tableName } = await freshTable("directory-reconcile");
    // A table from before the directory: config items without entries; and an orphan entry.
    await putAll(tableName, [
      config("a"),
      config("b", { schedule: "not a schedule" }),
      config("c", { isActive: false }),
      { monitorId: "a", record: "state", state: "ok", version: 1 },
      { monitorId: "gone", record: "directory", [DIRECTORY_ATTRIBUTE]: directoryShardOf("gone") },
    ]);
    const directory = new DynamoDbMonitorDirectory(tableName, client);
    const report = await reconcile({
      scheduler: new RecordingScheduler(),
      status: new DynamoDbScheduleStatus(tableName, client),
      configItems: () => scanConfigItems(doc, tableName),
      currentConfig: (monitorId) => item(tableName, monitorId, "config"),
      directory,
    });
    expect(report.failures).toEqual([]);
    expect(report.directory?.writes.map((write) => write.monitorId)).toEqual(["a", "b", "c"]);
    expect(report.directory?.removals).toEqual(["gone"]);
    const { entries, reconciled } = await directory.entries();
    expect(entries.map((entry) => entry.monitorId).sort()).toEqual(["a", "b", "c"]);
    expect(reconciled).toBe(true);
    expect(await item(tableName, DIRECTORY_MARKER_ID, DIRECTORY_MARKER_RECORD)).toMatchObject({
      reconciledAt: expect.any(String),
    });
    expect(await item(tableName, "gone", "directory")).toBeUndefined();
  });
});

describe("the overview's requests grow with the monitors, not with the history", () => {
  const MONITORS = 120;
  let tableName: string;
  const warnings: string[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (message) => warnings.push(message),
    error() {},
  };

  function countingStore() {
    const counter = new RequestCounter();
    const counted = countRequests(
      new DynamoDBClient(localClientConfig(inject("dynamoEndpoint"))),
      "dynamodb",
      counter,
    );
    return {
      counter,
      counted,
      store: new DynamoDashboardStore(createDocumentClient(counted), tableName, undefined, logger),
    };
  }

  async function addHistory(from: number, count: number) {
    const items: Record<string, unknown>[] = [];
    for (let index = 0; index < MONITORS; index++) {
      for (let run = from; run < from + count; run++) {
        items.push({
          monitorId: `m-${index}`,
          record: `run#2026-01-01T00:${String(run).padStart(4, "0")}`,
          isOk: true,
          message: "HTTP 200 in 84 ms, and a few more words so that the item weighs what a run weighs",
        });
      }
    }
    await putAll(tableName, items);
  }

  beforeAll(async () => {
    ({ tableName } = await freshTable("directory-overview"));
    const items: Record<string, unknown>[] = [];
    for (let index = 0; index < MONITORS; index++) {
      items.push(config(`m-${index}`, index % 10 === 0 ? { isActive: false } : {}));
      items.push({
        monitorId: `m-${index}`,
        record: "state",
        state: index % 7 === 0 ? "alert" : "ok",
        version: 3,
      });
    }
    await putAll(tableName, items);
    await addHistory(0, 5);
  });

  it("before reconcile, falls back to the Scan and logs it; after, reads the directory and shows the same monitors", async () => {
    const before = countingStore();
    const scanned = await before.store.overviewWithSource();
    expect(scanned.source).toBe("scan");
    expect(scanned.monitors).toHaveLength(MONITORS);
    expect(before.counter.snapshot().byOperation["dynamodb:Scan"]).toBeGreaterThan(0);
    expect(warnings.join("\n")).toMatch(/Scan of the whole table.*reconcile/);
    before.counted.destroy();

    await reconcile({
      scheduler: new RecordingScheduler(),
      status: new DynamoDbScheduleStatus(tableName, client),
      configItems: () => scanConfigItems(doc, tableName),
      directory: new DynamoDbMonitorDirectory(tableName, client),
    });
    const after = countingStore();
    const listed = await after.store.overviewWithSource();
    expect(listed.source).toBe("directory");
    expect(listed.monitors).toEqual(scanned.monitors);
    expect(after.counter.snapshot().byOperation["dynamodb:Scan"]).toBeUndefined();
    after.counted.destroy();
  });

  it("costs the shards' Queries and one BatchGetItem per 50 monitors, with 5 or 105 runs per monitor", async () => {
    const measure = async () => {
      const { counter, counted, store } = countingStore();
      const { monitors, source } = await store.overviewWithSource();
      counted.destroy();
      expect(source).toBe("directory");
      expect(monitors).toHaveLength(MONITORS);
      return counter.snapshot().byOperation;
    };
    const short = await measure();
    await addHistory(5, 100);
    const long = await measure();
    expect(long).toEqual(short);
    expect(short).toEqual({
      "dynamodb:Query": DIRECTORY_SHARDS,
      "dynamodb:BatchGetItem": Math.ceil((2 * MONITORS) / 100),
    });
  });
});

describe("the local runtime's table", () => {
  // Its own DynamoDB Local: adding an index runs in DynamoDB Local's background, which the shared
  // instance's load (every other test file) once kept from finishing for over 30 s.
  let own: Awaited<ReturnType<typeof startDynamoDbLocal>>;
  let client: DynamoDBClient;
  beforeAll(async () => {
    own = await startDynamoDbLocal();
    client = new DynamoDBClient(localClientConfig(own.endpoint));
  }, 60_000);
  afterAll(async () => {
    client?.destroy();
    await own?.stop();
  });

  it("gains the ByMonitor index when a table persisted by an earlier version lacks it", {
    timeout: 90_000,
  }, async () => {
    const tableName = `directory-upgrade-${Date.now()}`;
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: "monitorId", AttributeType: "S" },
          { AttributeName: "record", AttributeType: "S" },
          { AttributeName: "wkBucket", AttributeType: "S" },
        ],
        KeySchema: [
          { AttributeName: "monitorId", KeyType: "HASH" },
          { AttributeName: "record", KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: "ByBucket",
            KeySchema: [
              { AttributeName: "wkBucket", KeyType: "HASH" },
              { AttributeName: "monitorId", KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "KEYS_ONLY" },
          },
        ],
        StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" },
      }),
    );
    await createMonitorsTable(client, tableName);
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName).sort()).toEqual([
      "ByBucket",
      DIRECTORY_INDEX,
    ]);
    const directory = new DynamoDbMonitorDirectory(tableName, client);
    await directory.ensure("web", directoryShardOf("web"));
    expect((await directory.entries()).entries).toEqual([
      { monitorId: "web", shard: directoryShardOf("web") },
    ]);
  });
});
