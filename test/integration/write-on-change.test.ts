import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDocumentClient, DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import type { CheckDefinition } from "#core/check.ts";
import { findCheck } from "#monitors/index.ts";
import { freshTable, localDynamo, putMonitorConfig } from "../support/aws.ts";
import { loadOrchestratorModule } from "../support/orchestrator-module.ts";
import { lambdaContext, tickEvent } from "../support/sqs-event.ts";

/**
 * Write on change against DynamoDB Local, through the handler: DynamoDB requests per steady tick
 * (one batched read per invocation, a heartbeat write per monitor every 15 minutes), summary items
 * in the table, and the heartbeat write's version condition.
 */

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
const MINUTE = 60_000;
const minute = (m: number) => new Date(Date.UTC(2026, 2, 1, 6, 0) + m * MINUTE).toISOString();
const { client: adminClient, doc } = localDynamo();
let tableName: string;
let createOrchestratorHandler: (deps: object) => Handler;

/** DynamoDB requests the handler's client sends, by operation (every attempt). */
function counted(client: DynamoDBClient) {
  const counts: Record<string, number> = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String(context.commandName).replace(/Command$/, "");
      counts[operation] = (counts[operation] ?? 0) + 1;
      return next(args);
    },
    { step: "finalizeRequest", name: "countRequests" },
  );
  const reads = () => (counts.BatchGetItem ?? 0) + (counts.GetItem ?? 0) + (counts.Query ?? 0);
  const writes = () => (counts.PutItem ?? 0) + (counts.TransactWriteItems ?? 0) + (counts.UpdateItem ?? 0);
  const reset = () => {
    for (const key of Object.keys(counts)) delete counts[key];
  };
  return { counts, reads, writes, reset };
}

function handlerWith(check?: CheckDefinition) {
  const { client } = localDynamo();
  const requests = counted(client);
  const handler = createOrchestratorHandler({
    store: new DynamoMonitorStore(tableName, createDocumentClient(client)),
    notifier: {
      send: async () => {
        throw new Error("no mail expected: these monitors list nobody");
      },
    },
    findCheck: (name: string) => (check && name === check.name ? check : findCheck(name)),
    options: { stateHeartbeatMs: 15 * MINUTE },
  });
  return { handler, requests, client };
}

const runItems = async (monitorId: string) =>
  (
    await doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "monitorId = :id AND begins_with(#record, :run)",
        ExpressionAttributeNames: { "#record": "record" },
        ExpressionAttributeValues: { ":id": monitorId, ":run": "run#" },
        ConsistentRead: true,
      }),
    )
  ).Items ?? [];

const stateOf = async (monitorId: string) =>
  (
    await doc.send(
      new GetCommand({ TableName: tableName, Key: { monitorId, record: "state" }, ConsistentRead: true }),
    )
  ).Item;

beforeAll(async () => {
  ({ tableName } = await freshTable("quiet"));
  ({ createOrchestratorHandler } = (await loadOrchestratorModule()) as never);
});

afterAll(() => {
  adminClient.destroy();
});

describe("write on change on DynamoDB Local", () => {
  it("steady healthy ticks in batches of 10: 0.1 read and 0.067 write requests per tick", async () => {
    const ids = Array.from({ length: 10 }, (_, i) => `steady-${i}`);
    for (const id of ids)
      await putMonitorConfig(tableName, id, {
        name: id,
        check: "manual",
        params: { isOk: true },
        schedule: "rate(1 minute)",
      });
    const { handler, requests, client } = handlerWith();
    const batch = (m: number) =>
      handler(
        tickEvent(...ids.map((monitorId) => ({ monitorId, scheduledTime: minute(m) }))),
        lambdaContext(),
      );
    expect((await batch(0)).batchItemFailures).toEqual([]);
    requests.reset();
    for (let m = 1; m <= 30; m++) expect((await batch(m)).batchItemFailures).toEqual([]);
    const ticks = 30 * ids.length;
    expect(requests.counts.BatchGetItem).toBe(30);
    expect(requests.reads() / ticks).toBe(0.1);
    // Each monitor's heartbeat at minutes 15 and 30: state + summary in one transaction.
    expect(requests.counts.TransactWriteItems).toBe(20);
    expect(requests.writes() / ticks).toBeCloseTo(0.0667, 3);

    const history = await runItems("steady-3");
    expect(history.map((item) => item.record)).toEqual([
      `run#${minute(0)}`,
      `run#${minute(15)}#summary`,
      `run#${minute(30)}#summary`,
    ]);
    expect(history[1]).toMatchObject({
      kind: "summary",
      from: minute(1),
      to: minute(15),
      scheduledTime: minute(15),
      count: 15,
      failures: 0,
      samples: 15,
      isOk: true,
    });
    expect(history[1]?.durationsMs).toHaveLength(15);
    expect(await stateOf("steady-3")).toMatchObject({
      lastRunDt: minute(30),
      lastTickTime: minute(30),
      stateHeartbeatMinutes: 15,
      version: 3,
    });
    client.destroy();
  });

  it("records a failure per tick, after a summary of the quiet runs before it", async () => {
    await putMonitorConfig(tableName, "fails", {
      name: "fails",
      check: "manual",
      params: { sequence: [true, true, true, true, false], sequenceStepMinutes: 1 },
      schedule: "rate(1 minute)",
    });
    const { handler, client } = handlerWith();
    for (let m = 0; m < 5; m++)
      await handler(tickEvent({ monitorId: "fails", scheduledTime: minute(m) }), lambdaContext());
    const history = await runItems("fails");
    expect(history.map((item) => item.record)).toEqual([
      `run#${minute(0)}`,
      `run#${minute(3)}#summary`,
      `run#${minute(4)}`,
    ]);
    expect(history[1]).toMatchObject({ from: minute(1), to: minute(3), count: 3 });
    expect(history[2]).toMatchObject({ isOk: false, state: "alert", notification: "alert" });
    client.destroy();
  });

  it("keeps the heartbeat write conditional: a write in between is re-read, never overwritten", async () => {
    let interfere = false;
    const racing: CheckDefinition = {
      name: "racing",
      description: "schedule-sync reports a schedule error while the check runs",
      async run() {
        if (interfere) {
          interfere = false;
          await doc.send(
            new UpdateCommand({
              TableName: tableName,
              Key: { monitorId: "raced", record: "state" },
              UpdateExpression: "SET scheduleError = :message, version = version + :one",
              ExpressionAttributeValues: { ":message": "schedule group missing", ":one": 1 },
            }),
          );
        }
        return { isOk: true, message: "ok" };
      },
    };
    await putMonitorConfig(tableName, "raced", {
      name: "raced",
      check: "racing",
      schedule: "rate(1 minute)",
    });
    const { handler, requests, client } = handlerWith(racing);
    for (let m = 0; m < 15; m++)
      await handler(tickEvent({ monitorId: "raced", scheduledTime: minute(m) }), lambdaContext());
    interfere = true;
    requests.reset();
    await handler(tickEvent({ monitorId: "raced", scheduledTime: minute(15) }), lambdaContext());
    // Batch read, lost heartbeat write, re-read, heartbeat write (the check is not run again).
    expect(requests.counts).toMatchObject({ BatchGetItem: 2, TransactWriteItems: 2 });
    expect(await stateOf("raced")).toMatchObject({
      scheduleError: "schedule group missing",
      lastTickTime: minute(15),
      version: 3,
    });
    client.destroy();
  });
});
