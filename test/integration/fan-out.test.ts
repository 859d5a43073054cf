import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { DeleteCommand, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoDbBuckets } from "#adapters/dynamodb-buckets.ts";
import { SqsTickQueue } from "#adapters/sqs-ticks.ts";
import { BUCKETS_PARTITION, placementOf } from "#core/buckets.ts";
import type { ScheduleDefinition } from "#core/ports.ts";
import { createTickQueues, type TickQueues } from "#local/resources.ts";
import { type SqsServer, startSqs } from "#local/servers.ts";
import { createFanOutHandler, FanOutIncompleteError } from "../../functions/fan-out/handler.ts";
import { freshTable, localDynamo, localSqs } from "../support/aws.ts";

/**
 * Bucket schedules over the wire: member items and headers in DynamoDB Local (the sparse ByBucket
 * index included), the fan-out's ticks in a fauxqs FIFO queue with content deduplication.
 */
let sqs: SqsServer;
let tableName: string;
let queues: TickQueues;
const { client: dynamoClient, doc } = localDynamo();
let sqsClient: ReturnType<typeof localSqs>;

beforeAll(async () => {
  [sqs, { tableName }] = await Promise.all([startSqs(), freshTable("buckets")]);
  sqsClient = localSqs(sqs.endpoint);
});
afterAll(async () => {
  sqsClient?.destroy();
  dynamoClient.destroy();
  await sqs?.stop();
});

async function drain(queueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const { Messages } = await sqsClient.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (!Messages || Messages.length === 0) return bodies;
    bodies.push(...Messages.map((message) => message.Body ?? ""));
  }
}

const cron = (monitorId: string, enabled = true): ScheduleDefinition => ({
  monitorId,
  expression: "cron(0/15 * * * ? *)",
  timezone: "Europe/Paris",
  enabled,
});

describe("DynamoDbBuckets + fan-out", () => {
  let buckets: DynamoDbBuckets;
  let now = new Date("2036-01-07T09:00:00Z");

  beforeAll(async () => {
    buckets = new DynamoDbBuckets({ tableName, client: doc, now: () => now });
    queues = await createTickQueues(sqsClient, `fan-out-${Date.now()}`);
  });

  it("stores a member with its bucket and a header, and reads both back", async () => {
    await buckets.upsert(cron("feed-a"));
    await buckets.upsert({
      monitorId: "hourly",
      expression: "rate(1 hour)",
      timezone: "UTC",
      enabled: true,
      phaseMinute: 17,
    });
    expect(await buckets.describe("feed-a")).toEqual(cron("feed-a"));
    expect(await buckets.describe("hourly")).toMatchObject({ phaseMinute: 17 });
    const headers = await buckets.headers();
    expect(headers.map((header) => header.kind).sort()).toEqual(["cron", "rate"]);
    const partition = placementOf(cron("feed-a")).partition;
    const members: string[] = [];
    for await (const page of buckets.members(partition)) members.push(...page);
    expect(members).toEqual(["feed-a"]);
    expect(await buckets.list()).toEqual(["feed-a", "hourly"]);
  });

  it("keeps a paused monitor's member out of the index, and takes a removed one out of the list", async () => {
    await buckets.upsert(cron("paused", false));
    const members: string[] = [];
    for await (const page of buckets.members(placementOf(cron("paused")).partition)) members.push(...page);
    expect(members).not.toContain("paused");
    expect(await buckets.list()).toContain("paused");
    await buckets.remove("paused");
    expect(await buckets.list()).not.toContain("paused");
    expect(await buckets.describe("paused")).toBeUndefined();
  });

  it("enqueues each due member once per minute; a retried minute is dropped by the queue", async () => {
    for (let index = 0; index < 23; index++) await buckets.upsert(cron(`feed-${index}`));
    const handler = createFanOutHandler({
      buckets,
      queue: new SqsTickQueue(queues.queueUrl, sqsClient),
      now: () => now,
    });
    const report = await handler({ scheduledTime: "2036-01-07T09:15:00Z" });
    // The quarter-hour cron bucket, and the rate bucket (read every minute: one phase of it is due).
    expect(report).toMatchObject({ dueBuckets: 2, enqueued: 24, failed: [] });
    // The same minute again (Lambda's async retry): same bodies, so content dedup drops them all.
    await handler({ scheduledTime: "2036-01-07T09:15:00Z" });
    const bodies = await drain(queues.queueUrl);
    expect(bodies).toHaveLength(24);
    expect(new Set(bodies).size).toBe(24);
    expect(bodies).toContain('{"monitorId":"feed-a","scheduledTime":"2036-01-07T09:15:00Z"}');
    // 09:16 is not a quarter hour; the hourly rate monitor (phase 17) is due at 09:17 only.
    expect((await handler({ scheduledTime: "2036-01-07T09:16:00Z" })).enqueued).toBe(0);
    expect((await handler({ scheduledTime: "2036-01-07T09:17:00Z" })).enqueued).toBe(1);
    expect(await drain(queues.queueUrl)).toEqual([
      '{"monitorId":"hourly","scheduledTime":"2036-01-07T09:17:00Z"}',
    ]);
  });

  it("fails the invocation, naming the monitors, when the queue refuses ticks", async () => {
    const handler = createFanOutHandler({
      buckets,
      queue: new SqsTickQueue(`${queues.queueUrl}-missing`, sqsClient),
      now: () => now,
    });
    await expect(handler({ scheduledTime: "2036-01-07T10:00:00Z" })).rejects.toThrow(FanOutIncompleteError);
  }, 20_000);

  it("sweeps an empty cron bucket's header only after the grace period", async () => {
    const lonely: ScheduleDefinition = {
      monitorId: "lonely",
      expression: "cron(5 3 * * ? *)",
      timezone: "UTC",
      enabled: true,
    };
    const key = { monitorId: BUCKETS_PARTITION, record: `bucket#${placementOf(lonely).header.key}` };
    await buckets.upsert(lonely);
    await buckets.remove("lonely");
    const handler = createFanOutHandler({
      buckets,
      queue: new SqsTickQueue(queues.queueUrl, sqsClient),
      now: () => now,
    });
    await handler({ scheduledTime: "2036-01-08T03:05:00Z" });
    // Touched at `now` (2036-01-07T09:00), the sweep at 03:05 the next day is past the grace: gone.
    expect((await doc.send(new GetCommand({ TableName: tableName, Key: key }))).Item).toBeUndefined();

    // A member joining just before the sweep keeps its header.
    now = new Date("2036-01-09T03:04:30Z");
    await buckets.upsert(lonely);
    await handler({ scheduledTime: "2036-01-09T03:05:00Z" });
    expect((await doc.send(new GetCommand({ TableName: tableName, Key: key }))).Item).toBeDefined();
  });

  it("rewrites a bucket's header only when it is a few minutes old (a bulk import does not hammer it)", async () => {
    const member = (id: string): ScheduleDefinition => ({
      monitorId: id,
      expression: "cron(7 7 * * ? *)",
      timezone: "UTC",
      enabled: true,
    });
    const key = { monitorId: BUCKETS_PARTITION, record: `bucket#${placementOf(member("x")).header.key}` };
    const touchedAt = async () =>
      (await doc.send(new GetCommand({ TableName: tableName, Key: key }))).Item?.touchedAt;
    now = new Date("2036-02-01T00:00:00Z");
    await buckets.upsert(member("bulk-1"));
    now = new Date("2036-02-01T00:04:00Z");
    await buckets.upsert(member("bulk-2"));
    expect(await touchedAt()).toBe("2036-02-01T00:00:00.000Z");
    now = new Date("2036-02-01T00:06:00Z");
    await buckets.upsert(member("bulk-3"));
    expect(await touchedAt()).toBe("2036-02-01T00:06:00.000Z");
    for (const id of ["bulk-1", "bulk-2", "bulk-3"]) await buckets.remove(id);
    // Empty now, but touched a minute before reconcile began: a member may be on its way; kept.
    await buckets.syncHeaders(new Date("2036-02-01T00:07:00Z"));
    expect(await touchedAt()).toBe("2036-02-01T00:06:00.000Z");
  });

  it("rebuilds headers from the stored members and drops unused ones (reconcile)", async () => {
    const feedKey = {
      monitorId: BUCKETS_PARTITION,
      record: `bucket#${placementOf(cron("feed-a")).header.key}`,
    };
    await doc.send(new DeleteCommand({ TableName: tableName, Key: feedKey }));
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          monitorId: BUCKETS_PARTITION,
          record: "bucket#r#999",
          kind: "rate",
          periodMinutes: 999,
          touchedAt: "2000-01-01T00:00:00Z",
        },
      }),
    );
    // Every header here was touched at a 2036 `now`: reconcile "starts" well after them all.
    const removed = await buckets.syncHeaders(new Date("2037-01-01T00:00:00Z"));
    expect(removed).toBeGreaterThanOrEqual(1);
    // The members left: the quarter-hour cron ones (feed-a, feed-0..22), the hourly rate one and
    // `lonely` (rejoined in the sweep test). A member stays whatever its config says (an invalid
    // edit keeps the last good schedule), so its header stays too.
    const lonely = placementOf({
      monitorId: "lonely",
      expression: "cron(5 3 * * ? *)",
      timezone: "UTC",
      enabled: true,
    });
    const keys = (await buckets.headers()).map((header) => header.key).sort();
    expect(keys).toEqual([placementOf(cron("feed-a")).header.key, lonely.header.key, "r#60"].sort());
  });
});
