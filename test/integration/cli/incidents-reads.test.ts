import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDocumentClient, DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { TickProcessor } from "#core/tick.ts";
import { freshTable, localClientConfig, localDynamo } from "../../support/aws.ts";
import { RecordingNotifier } from "../../support/memory-adapters.ts";
import { type CliHarness, cliHarness, notificationItem, runItem } from "./support.ts";

/**
 * What `incidents <id>` reads (only the monitor's `incident#` items in the window, filtered and
 * projected by DynamoDB, and what it needs of config and state, even when the state item does not
 * validate), and which clock `ack` and `unack` write with (this machine's, or DynamoDB's when the
 * two are 5 s or more apart), on DynamoDB Local. A small proxy in front of DynamoDB Local moves
 * the Date header of its responses: a DynamoDB whose clock is ten minutes ahead of the operator's.
 */

const iso = (day: number, hour = 10, minute = 0) =>
  new Date(Date.UTC(2026, 10, day, hour, minute)).toISOString();
const NOW = new Date(iso(21, 12));

interface Call {
  command: string;
  input: Record<string, unknown>;
  output: Record<string, unknown>;
}

/** A client that records every command it sends and what came back. */
function recordingClient(endpoint: string): { client: DynamoDBClient; calls: Call[] } {
  const client = new DynamoDBClient(localClientConfig(endpoint));
  const calls: Call[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      calls.push({
        command: String(context.commandName),
        input: args.input as Record<string, unknown>,
        output: result.output as unknown as Record<string, unknown>,
      });
      return result;
    },
    { step: "initialize", name: "recordCalls" },
  );
  return { client, calls };
}

/** DynamoDB Local behind a proxy whose responses say the time is `skewMs` later than it is. */
async function skewedDynamo(target: string, skewMs: number): Promise<{ endpoint: string; server: Server }> {
  const upstream = new URL(target);
  const server = createServer((incoming, outgoing) => {
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: incoming.url,
        method: incoming.method,
        headers: incoming.headers,
      },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 500, {
          ...response.headers,
          date: new Date(Date.now() + skewMs).toUTCString(),
        });
        response.pipe(outgoing);
      },
    );
    forward.on("error", (error) => outgoing.destroy(error));
    incoming.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

let tableName: string;
let cli: CliHarness;
const { client, doc } = localDynamo();

beforeAll(async () => {
  ({ tableName } = await freshTable("cli-incident-reads"));
  cli = await cliHarness(tableName);
});

afterAll(async () => {
  await cli.close();
  client.destroy();
});

describe("incidents <id> reads only the monitor's incident items in the window", () => {
  const monitorId = "busy";
  const openStart = iso(21, 9);
  let recording: ReturnType<typeof recordingClient>;
  let reader: CliHarness;

  beforeAll(async () => {
    await cli.put({ monitorId, record: "config", name: "Busy", check: "manual", schedule: "rate(1 minute)" });
    // A state item that no longer validates (hand-edited), still pointing at its open incident.
    await cli.put({
      monitorId,
      record: "state",
      state: "alert",
      version: "seven",
      incident: { start: openStart },
    });
    // Old resolved incidents (outside the window), one resolved inside it, the open one.
    for (const day of [1, 3, 5, 7]) {
      await cli.put({
        monitorId,
        record: `incident#${iso(day)}`,
        openedAt: iso(day),
        resolvedAt: iso(day, 11),
        durationMs: 3_600_000,
        lastFailureMessage: `old outage ${day}`,
        alertsSent: 1,
      });
    }
    await cli.put({
      monitorId,
      record: `incident#${iso(20)}`,
      openedAt: iso(20),
      resolvedAt: iso(20, 10, 30),
      durationMs: 1_800_000,
      lastFailureMessage: "yesterday's outage",
      alertsSent: 1,
      recoveriesSent: 1,
    });
    await cli.put({
      monitorId,
      record: `incident#${openStart}`,
      openedAt: openStart,
      lastFailureMessage: "feed missing",
      alertsSent: 1,
    });
    // Much more history than incidents: none of it may be read.
    for (let minute = 0; minute < 120; minute++) {
      const scheduledTime = new Date(Date.parse(iso(21, 9)) + minute * 60_000).toISOString();
      await cli.put(runItem(monitorId, scheduledTime, { isOk: false, message: "x".repeat(500) }));
    }
    for (let index = 0; index < 20; index++) {
      await cli.put(notificationItem(monitorId, iso(21, 9, index), "reminder", iso(21, 9, index)));
    }
    recording = recordingClient(inject("dynamoEndpoint"));
    reader = await cliHarness(tableName, { dynamodb: recording.client });
  });

  afterAll(async () => {
    await reader.close();
    recording.client.destroy();
  });

  it("queries begins_with(record, incident#), filtered to the window by DynamoDB, and never scans", async () => {
    recording.calls.length = 0;
    const result = await reader.run(["incidents", monitorId, "--since", "2d", "--json"], { now: NOW });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const listed = result.json().incidents as Array<{ start: string; status: string }>;
    expect(listed.map((incident) => [incident.start, incident.status])).toEqual([
      [openStart, "open"],
      [iso(20), "resolved"],
    ]);

    expect(recording.calls.map((call) => call.command).sort()).toEqual([
      "BatchGetItemCommand",
      "QueryCommand",
    ]);
    const queries = recording.calls.filter((call) => call.command === "QueryCommand");
    for (const query of queries) {
      expect(query.input.KeyConditionExpression).toBe("monitorId = :id AND begins_with(#record, :incident)");
      expect(query.input.ExpressionAttributeValues).toMatchObject({ ":incident": "incident#" });
      expect(query.input.ProjectionExpression).toBeDefined();
    }
    // DynamoDB read the six incident items (not the 140 run and notification items) and returned two.
    const scanned = queries.reduce((sum, query) => sum + Number(query.output.ScannedCount), 0);
    const returned = queries.reduce((sum, query) => sum + Number(query.output.Count), 0);
    expect(scanned).toBe(6);
    expect(returned).toBe(2);
    // Config and state: only what the listing needs.
    const batch = recording.calls.find((call) => call.command === "BatchGetItemCommand");
    const request = Object.values(batch?.input.RequestItems as Record<string, Record<string, unknown>>)[0];
    expect(request?.ProjectionExpression).toBeDefined();
    const stateItem = Object.values(
      batch?.output.Responses as Record<string, Array<Record<string, unknown>>>,
    )[0]?.find((item) => item.record === "state");
    expect(Object.keys(stateItem ?? {}).sort()).toEqual(["incident", "monitorId", "record"]);
  });

  it("lists every incident of the monitor with a long enough window, and refuses an unknown monitor", async () => {
    const all = (await reader.run(["incidents", monitorId, "--since", "30d", "--json"], { now: NOW })).json();
    expect(all.incidents).toHaveLength(6);
    const unknown = await reader.run(["incidents", "nobody", "--json"], { now: NOW });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/nobody/);
  });
});

describe("ack and unack: whose clock", () => {
  const monitorId = "clocked";
  const tickAt = iso(21, 11);
  const wallAt = new Date(iso(21, 11, 30));
  let proxy: Awaited<ReturnType<typeof skewedDynamo>>;
  let skewedClient: DynamoDBClient;
  let skewed: CliHarness;

  async function openIncident(id: string) {
    await cli.put({
      monitorId: id,
      record: "config",
      name: `Monitor ${id}`,
      check: "failing",
      schedule: "rate(5 minutes)",
      timezone: "UTC",
      peopleToNotify: ["oncall@example.org"],
      skipSupersededTicks: false,
      reminderFrequencyMinutes: 10,
    });
    const processor = new TickProcessor({
      store: new DynamoMonitorStore(tableName, createDocumentClient(client)),
      notifier: new RecordingNotifier(),
      findCheck: (name) =>
        name === "failing"
          ? { name, description: "always failing", run: async () => ({ isOk: false, message: "down" }) }
          : undefined,
      wallClock: () => wallAt,
    });
    await processor.process(JSON.stringify({ monitorId: id, scheduledTime: tickAt }));
  }

  const ackOf = async (id: string) =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: { monitorId: id, record: "state" } }))).Item
      ?.ack as { at: string; until?: string } | undefined;

  beforeAll(async () => {
    proxy = await skewedDynamo(inject("dynamoEndpoint"), 10 * 60_000);
    skewedClient = new DynamoDBClient(localClientConfig(proxy.endpoint));
    skewed = await cliHarness(tableName, { dynamodb: skewedClient });
  });

  afterAll(async () => {
    await skewed.close();
    skewedClient.destroy();
    await new Promise((resolve) => proxy.server.close(resolve));
  });

  it("says in the help of ack and unack whose clock the times are", async () => {
    for (const command of ["ack", "unack"]) {
      const help = await cli.run([command, "--help"]);
      expect(help.stdout.replaceAll(/\s+/g, " ")).toContain(
        "is this machine's clock, unless it is 5 s or more off DynamoDB's",
      );
    }
  });

  it("writes this machine's time when its clock agrees with DynamoDB's", async () => {
    await openIncident(monitorId);
    const now = new Date(iso(21, 11, 40));
    const result = await cli.run(["ack", monitorId, "--by", "alice", "--for", "1h"], { now });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(await ackOf(monitorId)).toMatchObject({ at: now.toISOString(), until: iso(21, 12, 40) });
  });

  it("writes DynamoDB's time, and warns, when this machine's clock is 10 minutes behind it", async () => {
    const id = `${monitorId}-skewed`;
    await openIncident(id);
    const now = new Date(iso(21, 11, 40));
    const result = await skewed.run(["ack", id, "--by", "bob", "--for", "1h"], { now });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /this machine's clock is about 10 min behind DynamoDB's: the times written are DynamoDB's/,
    );
    const ack = await ackOf(id);
    // The proxy's Date has whole seconds: DynamoDB's time is 10 minutes later, give or take one.
    const shift = Date.parse(ack?.at ?? "") - now.getTime();
    expect(shift).toBeGreaterThan(10 * 60_000 - 2_000);
    expect(shift).toBeLessThanOrEqual(10 * 60_000 + 1_000);
    expect(Date.parse(ack?.until ?? "") - Date.parse(ack?.at ?? "")).toBe(3_600_000);

    const unack = await skewed.run(["unack", id, "--by", "bob"], { now });
    expect(unack.code).toBe(0);
    expect(unack.stderr).toMatch(/about 10 min behind DynamoDB's/);
    const incident = (
      await doc.send(
        new GetCommand({ TableName: tableName, Key: { monitorId: id, record: `incident#${tickAt}` } }),
      )
    ).Item;
    expect(Date.parse(String(incident?.unacknowledgedAt)) - now.getTime()).toBeGreaterThan(
      10 * 60_000 - 2_000,
    );
  });
});
