import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { ConcurrentChangeError, MonitorsTable } from "../../functions/adapters/monitors-table.ts";
import { freshTable, localDynamo } from "../support/aws.ts";

/**
 * MonitorsTable.updateConfig on DynamoDB Local: an update of named attributes, optionally only
 * while others still hold the values read (the CLI's `edit --set params.k=v` merges into those).
 */

const { doc } = localDynamo();
let tableName: string;
let table: MonitorsTable;

class NotFound extends Error {}

beforeAll(async () => {
  ({ tableName } = await freshTable("monitors-table"));
  table = new MonitorsTable(doc, tableName, (monitorId) => new NotFound(monitorId));
});

const params = { url: "https://api.example.org/health", expectedStatus: 200, headers: { accept: "json" } };

async function config(monitorId: string) {
  const { Item } = await doc.send(
    new GetCommand({ TableName: tableName, Key: { monitorId, record: "config" } }),
  );
  return Item;
}

describe("updateConfig", () => {
  it("writes while the attributes read still hold (maps compared whole), and returns the old item", async () => {
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: { monitorId: "api", record: "config", name: "API", params },
      }),
    );
    const merged = { ...params, maxLatencyMs: 1500 };
    const before = await table.updateConfig("api", { params: merged }, [], { params });
    expect(before.params).toEqual(params);
    expect((await config("api"))?.params).toEqual(merged);
  });

  it("writes nothing when they changed meanwhile, and says which", async () => {
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: { monitorId: "raced", record: "config", name: "R", params },
      }),
    );
    // Someone else sets another parameter after this caller read `params`.
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { monitorId: "raced", record: "config" },
        UpdateExpression: "SET params.#t = :t",
        ExpressionAttributeNames: { "#t": "timeoutMs" },
        ExpressionAttributeValues: { ":t": 5000 },
      }),
    );
    const attempt = table.updateConfig("raced", { params: { ...params, maxLatencyMs: 1500 } }, [], {
      params,
    });
    await expect(attempt).rejects.toBeInstanceOf(ConcurrentChangeError);
    await expect(attempt).rejects.toThrow("params of raced changed meanwhile: nothing was written");
    expect((await config("raced"))?.params).toEqual({ ...params, timeoutMs: 5000 });
  });

  it("takes an absent attribute as a value to hold, and an unknown monitor as not found", async () => {
    await doc.send(
      new PutCommand({ TableName: tableName, Item: { monitorId: "bare", record: "config", name: "B" } }),
    );
    await table.updateConfig("bare", { params: { host: "db" } }, [], { params: undefined });
    expect((await config("bare"))?.params).toEqual({ host: "db" });
    await expect(
      table.updateConfig("bare", { params: { host: "other" } }, [], { params: undefined }),
    ).rejects.toBeInstanceOf(ConcurrentChangeError);
    await expect(table.updateConfig("ghost", { name: "G" })).rejects.toBeInstanceOf(NotFound);
    await expect(
      table.updateConfig("ghost", { params: {} }, [], { params: undefined }),
    ).rejects.toBeInstanceOf(NotFound);
  });
});
