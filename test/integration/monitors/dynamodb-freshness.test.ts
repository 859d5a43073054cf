import { randomUUID } from "node:crypto";
import {
  type AttributeDefinition,
  CreateTableCommand,
  DeleteTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, type DynamoDBDocumentClient, NumberValue } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { DYNAMODB_FRESHNESS_CHECK, dynamodbFreshnessCheck } from "#monitors/dynamodb-freshness.ts";
import { InvalidParamsError } from "#monitors/support/params.ts";
import type { CheckContext } from "#monitors/types.ts";
import { localDynamo, setAwsEnvironment } from "../../support/aws.ts";

// The check builds its client from the SDK's standard variables, exactly as in Lambda.
const ENV_KEYS = [
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_ENDPOINT_URL_DYNAMODB",
] as const;
const savedEnv = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]]));

/** Secret-looking attribute values: no message, thrown or returned, may contain them. */
const PLANTED_SECRET = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
const PLANTED_DIGITS = "41111111111111111111111.4242";

/** The tick's logical time: every age below is measured against it, never the wall clock. */
const NOW = new Date("2026-11-21T14:05:00.000Z");
const minutesBefore = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);

let client: DynamoDBClient;
let doc: DynamoDBDocumentClient;
const tables: string[] = [];
/** pk feedId (S) + sk arrivedAt (S, ISO-8601), and an index bySource: source (S) + receivedAt (N, epoch ms). */
let isoTable: string;
/** pk feedId (S) + sk day (N, epoch seconds). */
let epochTable: string;
/** pk shard (N) + sk seq (N): the time lives in a separate attribute. */
let seqTable: string;

async function createTable(
  prefix: string,
  keys: [string, "S" | "N"][],
  extra: { attributes?: AttributeDefinition[]; indexes?: GlobalSecondaryIndex[] } = {},
): Promise<string> {
  const tableName = `${prefix}-${randomUUID().slice(0, 8)}`;
  const keySchema: KeySchemaElement[] = keys.map(([name], index) => ({
    AttributeName: name,
    KeyType: index === 0 ? "HASH" : "RANGE",
  }));
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        ...keys.map(([name, type]) => ({ AttributeName: name, AttributeType: type })),
        ...(extra.attributes ?? []),
      ],
      KeySchema: keySchema,
      GlobalSecondaryIndexes: extra.indexes,
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: tableName });
  tables.push(tableName);
  return tableName;
}

async function put(tableName: string, items: Record<string, unknown>[]): Promise<void> {
  await doc.send(
    new BatchWriteCommand({ RequestItems: { [tableName]: items.map((Item) => ({ PutRequest: { Item } })) } }),
  );
}

beforeAll(async () => {
  setAwsEnvironment({ dynamodb: inject("dynamoEndpoint") });
  ({ client, doc } = localDynamo());
  isoTable = await createTable(
    "feeds",
    [
      ["feedId", "S"],
      ["arrivedAt", "S"],
    ],
    {
      attributes: [
        { AttributeName: "source", AttributeType: "S" },
        { AttributeName: "receivedAt", AttributeType: "N" },
      ],
      indexes: [
        {
          IndexName: "bySource",
          KeySchema: [
            { AttributeName: "source", KeyType: "HASH" },
            { AttributeName: "receivedAt", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "KEYS_ONLY" },
        },
      ],
    },
  );
  epochTable = await createTable("daily", [
    ["feedId", "S"],
    ["day", "N"],
  ]);
  seqTable = await createTable("events", [
    ["shard", "N"],
    ["seq", "N"],
  ]);

  await put(isoTable, [
    // compass: newest arrived 12 minutes ago; an older one must not matter.
    {
      feedId: "compass",
      arrivedAt: minutesBefore(12).toISOString(),
      source: "sftp",
      receivedAt: minutesBefore(12).getTime(),
    },
    { feedId: "compass", arrivedAt: minutesBefore(600).toISOString() },
    // ledger: newest arrived 3h12m ago.
    {
      feedId: "ledger",
      arrivedAt: minutesBefore(192).toISOString(),
      source: "api",
      receivedAt: minutesBefore(192).getTime(),
    },
    { feedId: "ledger", arrivedAt: minutesBefore(1_000).toISOString() },
    // offset: an ISO time with a zone offset (14:00+02:00 is 12:00Z, 2h05m before NOW).
    { feedId: "offset", arrivedAt: "2026-11-21T14:00:00+02:00" },
    // future: written "after" the logical now, as a replayed tick sees it.
    { feedId: "future", arrivedAt: new Date(NOW.getTime() + 5 * 60_000).toISOString() },
    // junk: a sort key that is not a time.
    { feedId: "junk", arrivedAt: "batch-0042" },
    // leaky: a misconfigured attribute holding a secret; its value must never reach a message.
    { feedId: "leaky", arrivedAt: PLANTED_SECRET },
  ]);
  await put(epochTable, [
    { feedId: "prices", day: Math.floor(minutesBefore(30).getTime() / 1000) },
    { feedId: "prices", day: Math.floor(minutesBefore(2_000).getTime() / 1000) },
    { feedId: "stale-prices", day: Math.floor(minutesBefore(2 * 24 * 60 + 4 * 60).getTime() / 1000) },
  ]);
  await put(seqTable, [
    { shard: 7, seq: 1, loadedAt: minutesBefore(500).getTime(), note: "old" },
    { shard: 7, seq: 2, loadedAt: minutesBefore(20).getTime(), timestamp: "2026-11-21T13:45:00Z" },
    { shard: 8, seq: 1 }, // no time attribute at all
    { shard: 9, seq: 1, loadedAt: true },
    // A number the SDK's default unmarshalling refuses, with the digits in its error message.
    { shard: 10, seq: 1, loadedAt: NumberValue.from(PLANTED_DIGITS) },
  ]);
});

afterAll(async () => {
  for (const TableName of tables) await client?.send(new DeleteTableCommand({ TableName })).catch(() => {});
  client?.destroy();
  for (const key of ENV_KEYS) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
});

function context(params: Record<string, unknown>, overrides: Partial<CheckContext> = {}): CheckContext {
  return {
    monitorId: "compass-feed",
    params,
    signal: AbortSignal.timeout(10_000),
    logger: silentLogger,
    now: NOW,
    ...overrides,
  };
}

const run = (params: Record<string, unknown>, overrides?: Partial<CheckContext>) =>
  dynamodbFreshnessCheck.run(context(params, overrides));

const isoFeed = (value: string, maxAgeMinutes = 90) => ({
  tableName: isoTable,
  partitionKey: { name: "feedId", value },
  sortKey: "arrivedAt",
  maxAgeMinutes,
});

describe("dynamodb-freshness check (DynamoDB Local)", () => {
  it("is registered under the name config items use", () => {
    expect(dynamodbFreshnessCheck.name).toBe(DYNAMODB_FRESHNESS_CHECK);
    expect(DYNAMODB_FRESHNESS_CHECK).toBe("dynamodb-freshness");
  });

  it("is OK when the newest item is younger than maxAgeMinutes", async () => {
    await expect(run(isoFeed("compass"))).resolves.toEqual({
      isOk: true,
      message: `newest item is 12m old (limit 90m): arrivedAt ${minutesBefore(12).toISOString()} in table ${isoTable} where feedId = "compass"`,
    });
  });

  it("fails when the newest item is too old, naming its age and the limit", async () => {
    const result = await run(isoFeed("ledger"));
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(/^newest item is 3h12m old \(limit 90m\): arrivedAt /);
  });

  it("measures age against ctx.now, the tick's logical time", async () => {
    const later = { now: new Date(NOW.getTime() + 100 * 60_000) };
    await expect(run(isoFeed("compass"), later)).resolves.toMatchObject({
      isOk: false,
      message: expect.stringMatching(/^newest item is 1h52m old \(limit 90m\)/),
    });
  });

  it("treats an age exactly at the limit as fresh", async () => {
    await expect(run(isoFeed("compass", 12))).resolves.toMatchObject({ isOk: true });
    await expect(run(isoFeed("compass", 11.9))).resolves.toMatchObject({ isOk: false });
  });

  it("fails when the partition has no items", async () => {
    await expect(run(isoFeed("never-arrived"))).resolves.toEqual({
      isOk: false,
      message: `no items for partition feedId = "never-arrived" in table ${isoTable}`,
    });
  });

  it("reads ISO-8601 times with a zone offset", async () => {
    await expect(run(isoFeed("offset", 180))).resolves.toMatchObject({
      isOk: true,
      message: expect.stringMatching(
        /^newest item is 2h5m old \(limit 180m\): arrivedAt 2026-11-21T12:00:00\.000Z/,
      ),
    });
  });

  it("treats an item from after the logical now as fresh and says so", async () => {
    await expect(run(isoFeed("future"))).resolves.toMatchObject({
      isOk: true,
      message: expect.stringMatching(/^newest item is 5m in the future \(limit 90m\)/),
    });
  });

  it("reads epoch seconds in a numeric sort key", async () => {
    const params = {
      tableName: epochTable,
      partitionKey: { name: "feedId", value: "prices" },
      sortKey: "day",
    };
    await expect(run({ ...params, maxAgeMinutes: 60 })).resolves.toMatchObject({
      isOk: true,
      message: expect.stringMatching(/^newest item is 30m old \(limit 60m\): day 2026-11-21T13:35:00\.000Z/),
    });
    await expect(
      run({ ...params, partitionKey: { name: "feedId", value: "stale-prices" }, maxAgeMinutes: 1440 }),
    ).resolves.toMatchObject({
      isOk: false,
      message: expect.stringMatching(/^newest item is 2d4h old \(limit 1440m\)/),
    });
  });

  it("reads epoch milliseconds from a separate timestampAttribute, ordering by the sort key", async () => {
    const params = {
      tableName: seqTable,
      partitionKey: { name: "shard", value: 7 },
      sortKey: "seq",
      timestampAttribute: "loadedAt",
      maxAgeMinutes: 30,
    };
    await expect(run(params)).resolves.toMatchObject({
      isOk: true,
      message: expect.stringMatching(/^newest item is 20m old \(limit 30m\): loadedAt .* where shard = 7$/),
    });
  });

  it("copes with attribute names that are DynamoDB reserved words", async () => {
    const params = {
      tableName: seqTable,
      partitionKey: { name: "shard", value: 7 },
      sortKey: "seq",
      timestampAttribute: "timestamp",
      maxAgeMinutes: 30,
    };
    await expect(run(params)).resolves.toMatchObject({
      isOk: true,
      message: expect.stringMatching(/^newest item is 20m old/),
    });
  });

  it("queries a secondary index when indexName is given", async () => {
    const params = {
      tableName: isoTable,
      indexName: "bySource",
      partitionKey: { name: "source", value: "api" },
      sortKey: "receivedAt",
      maxAgeMinutes: 90,
    };
    await expect(run(params)).resolves.toEqual({
      isOk: false,
      message: `newest item is 3h12m old (limit 90m): receivedAt ${minutesBefore(192).toISOString()} in table ${isoTable} (index bySource) where source = "api"`,
    });
  });

  it("passes on DynamoDB's reason when the index does not project the timestamp attribute", async () => {
    const params = {
      tableName: isoTable,
      indexName: "bySource",
      partitionKey: { name: "source", value: "sftp" },
      sortKey: "receivedAt",
      timestampAttribute: "loadedAt",
      maxAgeMinutes: 90,
    };
    await expect(run(params)).rejects.toThrow(
      new RegExp(
        `^query on table ${isoTable} \\(index bySource\\) where source = "sftp" failed: ValidationException: .*does not project \\[loadedAt\\]`,
      ),
    );
  });

  it("throws a clear error when the newest item has no timestamp attribute", async () => {
    const params = {
      tableName: seqTable,
      partitionKey: { name: "shard", value: 8 },
      sortKey: "seq",
      timestampAttribute: "loadedAt",
      maxAgeMinutes: 30,
    };
    await expect(run(params)).rejects.toThrow(
      `newest item in table ${seqTable} where shard = 8 has no attribute "loadedAt": check params.timestampAttribute`,
    );
  });

  it("throws a clear error when the timestamp cannot be read, without echoing the value", async () => {
    await expect(run(isoFeed("junk"))).rejects.toThrow(
      `newest item in table ${isoTable} where feedId = "junk": attribute "arrivedAt" is a string of 10 characters, not an ISO-8601 time or epoch seconds/milliseconds`,
    );
    const boolean = {
      tableName: seqTable,
      partitionKey: { name: "shard", value: 9 },
      sortKey: "seq",
      timestampAttribute: "loadedAt",
      maxAgeMinutes: 30,
    };
    await expect(run(boolean)).rejects.toThrow(
      /attribute "loadedAt" is boolean, not an ISO-8601 string or epoch number/,
    );
  });

  it("never puts an attribute's value into its message", async () => {
    const error = (await run(isoFeed("leaky")).catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe(
      `newest item in table ${isoTable} where feedId = "leaky": attribute "arrivedAt" is a string of ${PLANTED_SECRET.length} characters, not an ISO-8601 time or epoch seconds/milliseconds`,
    );
    expect(error.message).not.toContain("sk_live");
    expect(error.message).not.toContain(PLANTED_SECRET.slice(-12));
  });

  it("never puts the digits of a number beyond 2^53 into its message", async () => {
    const params = {
      tableName: seqTable,
      partitionKey: { name: "shard", value: 10 },
      sortKey: "seq",
      timestampAttribute: "loadedAt",
      maxAgeMinutes: 30,
    };
    const error = (await run(params).catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(
      /attribute "loadedAt" is not a plausible epoch time in seconds or milliseconds$/,
    );
    expect(error.message).not.toContain("4111111111");
    expect(error.message).not.toContain("4242");
  });

  it("throws a clear error for a missing table", async () => {
    await expect(run({ ...isoFeed("compass"), tableName: "no-such-table" })).rejects.toThrow(
      "table no-such-table does not exist (or is not active) in this account and region",
    );
  });

  it("names the query and DynamoDB's reason when the key does not fit the table", async () => {
    await expect(run({ ...isoFeed("compass"), partitionKey: { name: "feedId", value: 42 } })).rejects.toThrow(
      new RegExp(`^query on table ${isoTable} where feedId = 42 failed: ValidationException: `),
    );
  });

  it("stops at once when ctx.signal is already aborted", async () => {
    const signal = AbortSignal.abort(new Error("check timed out"));
    await expect(run(isoFeed("compass"), { signal })).rejects.toThrow(
      `query on table ${isoTable} aborted: check timed out`,
    );
  });

  describe("params validation names the bad param", () => {
    const valid = {
      tableName: "feeds",
      partitionKey: { name: "feedId", value: "x" },
      sortKey: "arrivedAt",
      maxAgeMinutes: 90,
    };
    it.each([
      [{}, "params.tableName is required"],
      [{ ...valid, tableName: "a" }, "params.tableName must be a DynamoDB table name"],
      [{ ...valid, tableName: "arn:aws:s3:::bucket" }, "params.tableName must be a DynamoDB table name"],
      [{ ...valid, partitionKey: undefined }, "params.partitionKey is required"],
      [{ ...valid, partitionKey: "feedId=x" }, "params.partitionKey must be a map like"],
      [{ ...valid, partitionKey: { name: "feedId" } }, "params.partitionKey.value is required"],
      [
        { ...valid, partitionKey: { name: "", value: "x" } },
        "params.partitionKey.name must be an attribute name",
      ],
      [
        { ...valid, partitionKey: { name: "feedId", value: true } },
        "params.partitionKey.value must be a non-empty string or a number",
      ],
      [{ ...valid, sortKey: undefined }, "params.sortKey is required"],
      [{ ...valid, maxAgeMinutes: 0 }, "params.maxAgeMinutes must be a positive number of minutes"],
      [{ ...valid, maxAgeMinutes: "90" }, "params.maxAgeMinutes must be a positive number of minutes"],
      [{ ...valid, indexName: "x" }, "params.indexName must be an index name"],
      [{ ...valid, region: "mars" }, "params.region must be an AWS region"],
      [{ ...valid, maxAge: 5 }, "params.maxAge is not a known parameter"],
    ])("%j", async (params, expected) => {
      const error = await run(params).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidParamsError);
      expect((error as Error).message).toContain(expected);
    });

    it("accepts a table ARN", async () => {
      const arn = `arn:aws:dynamodb:us-east-1:000000000000:table/${isoTable}`;
      const result = await run({ ...isoFeed("compass"), tableName: arn }).catch((caught: unknown) => caught);
      // DynamoDB Local may not resolve ARNs; what matters is that validation let it through.
      expect(result).not.toBeInstanceOf(InvalidParamsError);
    });
  });
});
