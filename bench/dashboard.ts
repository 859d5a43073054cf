import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DeleteCommand } from "@aws-sdk/lib-dynamodb";
import { DynamoDashboardStore, type OverviewSource } from "#adapters/dashboard-store.ts";
import { createDocumentClient } from "#adapters/dynamodb-store.ts";
import { BATCH_GET_KEYS, DynamoDbMonitorDirectory } from "#adapters/monitor-directory.ts";
import {
  DIRECTORY_MARKER_ID,
  DIRECTORY_MARKER_RECORD,
  DIRECTORY_SHARDS,
  planDirectory,
} from "#core/directory.ts";
import { type MonitorSummary, overviewPage, overviewRow, sortRows } from "#core/web-pages.ts";
import { createMonitorsTable } from "#local/resources.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from "#local/servers.ts";
import { countRequests, RequestCounter } from "./lib/counting.ts";
import { localClients } from "./lib/pipeline.ts";

/**
 * The dashboard's overview at fleet size (issue 14): 1,000 monitors (5% in alert, some of them
 * acknowledged, 2% paused) with run history in the table, read through the dashboard's own store
 * on DynamoDB Local, rendered by the page code. Measured twice, with 20 and with 100 run items per
 * monitor: the fallback Scan (a directory not reconciled yet), whose requests grow with the table,
 * and the monitor directory path (the index's shards, then BatchGetItem of config and state),
 * whose requests must not change with history. Also the page's bytes (raw and gzip), the bytes
 * DynamoDB sent back, and the requests of the sparklines of one screenful of rows.
 * `npm run bench` includes it (results.json key `dashboard`); alone: `npx tsx bench/dashboard.ts`.
 */

export interface OverviewMeasure {
  requests: number;
  requestsByOperation: Record<string, number>;
  /** Bytes of DynamoDB's response bodies (Content-Length). */
  responseBytes: number;
  /** Read capacity DynamoDB reported (ReturnConsumedCapacity=TOTAL). */
  readUnits: number;
  ms: number;
}

export interface DashboardHistoryRun {
  historyItemsPerMonitor: number;
  tableItems: number;
  directory: OverviewMeasure;
  scanFallback: OverviewMeasure;
}

export interface DashboardBench {
  monitors: number;
  directoryShards: number;
  runs: DashboardHistoryRun[];
  /** The directory path's requests (the same in every run, or the result is "missed"). */
  overviewRequests: number;
  overviewRequestsByOperation: Record<string, number>;
  overviewPageBytes: number;
  overviewPageGzipBytes: number;
  sparklineRowsPerCall: number;
  sparklineRequestsPerCall: number;
  target: string;
  result: "met" | "missed";
}

const MONITORS = 1_000;
/** Run items per monitor in the table: the second run adds history to the first's table. */
const HISTORIES = [20, 100] as const;
const VISIBLE_ROWS = 25;
const PAGE_LIMIT_BYTES = 200 * 1024;

const monitorIdOf = (index: number) => `monitor-${String(index).padStart(4, "0")}`;

/** Config, state and the run items `fromRun` to `toRun` (exclusive) of every monitor. */
function fleetItems(now: Date, fromRun: number, toRun: number): Record<string, unknown>[] {
  const items: Record<string, unknown>[] = [];
  for (let index = 0; index < MONITORS; index++) {
    const monitorId = monitorIdOf(index);
    const alert = index % 20 === 0;
    const paused = index % 50 === 7;
    const at = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000).toISOString();
    if (fromRun === 0)
      items.push({
        monitorId,
        record: "config",
        name: `Orders feed ${index} (${index % 3 === 0 ? "EU" : "US"})`,
        check: "http",
        schedule: index % 4 === 0 ? "cron(0/15 * * * ? *)" : "rate(5 minutes)",
        timezone: "Europe/Paris",
        peopleToNotify: ["oncall@example.org", "team@example.org"],
        params: { url: `https://example.org/health/${index}`, expectedStatus: 200 },
        ...(paused ? { isActive: false } : {}),
      });
    if (fromRun === 0)
      items.push({
        monitorId,
        record: "state",
        state: alert ? "alert" : "ok",
        consecutiveOkCount: 0,
        lastRunDt: at(2),
        lastTickTime: at(2),
        lastResultOk: !alert,
        lastResultMessage: alert
          ? "HTTP 503 from https://example.org/health: upstream timed out"
          : "HTTP 200 in 84 ms",
        lastNotificationDt: at(40),
        lastNotificationType: alert ? "alert" : "recovery",
        version: 42,
        ...(alert
          ? { incident: { start: at(40), lastFailureMessage: "HTTP 503", lastFailureAt: at(2) } }
          : {}),
        ...(alert && index % 40 === 0 ? { ack: { by: "alice@example.org", at: at(30), note: "on it" } } : {}),
      });
    for (let run = fromRun; run < toRun; run++) {
      items.push({
        monitorId,
        record: `run#${at(5 * run + 2)}`,
        scheduledTime: at(5 * run + 2),
        isOk: !alert,
        message: alert ? "HTTP 503 from https://example.org/health: upstream timed out" : "HTTP 200 in 84 ms",
        durationMs: 84,
        state: alert ? "alert" : "ok",
        consecutiveOkCount: 0,
        quietReason: alert ? "reminder-window" : "healthy",
        expiresAt: 1_900_000_000,
      });
    }
  }
  return items;
}

async function load(dynamo: DynamoDBClient, tableName: string, items: Record<string, unknown>[]) {
  const doc = createDocumentClient(dynamo);
  const batches: Record<string, unknown>[][] = [];
  for (let start = 0; start < items.length; start += 25) batches.push(items.slice(start, start + 25));
  // A few writers at once: DynamoDB Local is the bottleneck, not this loop.
  for (let start = 0; start < batches.length; start += 8) {
    await Promise.all(
      batches.slice(start, start + 8).map(async (batch) => {
        let requests = batch.map((Item) => ({ PutRequest: { Item } }));
        while (requests.length > 0) {
          const response = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
          requests = (response.UnprocessedItems?.[tableName] ?? []) as typeof requests;
        }
      }),
    );
  }
}

/** Sums the Content-Length of DynamoDB's responses (the bytes the overview pulled over the wire). */
function countResponseBytes(client: DynamoDBClient, total: { bytes: number }): DynamoDBClient {
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const response = result.response as { headers?: Record<string, string> };
      total.bytes += Number(response.headers?.["content-length"] ?? 0);
      return result;
    },
    { step: "deserialize", name: "benchResponseBytes", priority: "low" },
  );
  return client;
}

async function measureOverview(
  make: { dynamo(): DynamoDBClient },
  tableName: string,
  expected: OverviewSource,
): Promise<OverviewMeasure & { monitors: MonitorSummary[] }> {
  const counter = new RequestCounter();
  const wire = { bytes: 0 };
  const client = countResponseBytes(countRequests(make.dynamo(), "dynamodb", counter), wire);
  const store = new DynamoDashboardStore(createDocumentClient(client), tableName);
  const started = performance.now();
  const { monitors, source } = await store.overviewWithSource();
  const ms = performance.now() - started;
  client.destroy();
  if (source !== expected) throw new Error(`the overview took the ${source} path, not the ${expected} path`);
  if (monitors.length !== MONITORS) throw new Error(`the overview read ${monitors.length} monitors`);
  const counts = counter.snapshot();
  return {
    monitors,
    requests: counts.dynamodb,
    requestsByOperation: counts.byOperation,
    responseBytes: wire.bytes,
    readUnits: Math.round(counts.reportedReadUnits * 10) / 10,
    ms: Math.round(ms),
  };
}

/** What reconcile does for the directory of a table loaded behind schedule-sync's back. */
async function reconcileDirectory(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  const directory = new DynamoDbMonitorDirectory(tableName, createDocumentClient(dynamo));
  const ids = Array.from({ length: MONITORS }, (_, index) => monitorIdOf(index));
  const { writes } = planDirectory(ids, (await directory.entries()).entries);
  for (let start = 0; start < writes.length; start += 16) {
    await Promise.all(
      writes.slice(start, start + 16).map((entry) => directory.ensure(entry.monitorId, entry.shard)),
    );
  }
  await directory.markReconciled(new Date());
}

export async function measureDashboard(
  make: { dynamo(): DynamoDBClient },
  say: (line: string) => void = () => {},
): Promise<DashboardBench> {
  const admin = make.dynamo();
  const now = new Date();
  const runs: DashboardHistoryRun[] = [];
  let page = "";
  let rows: ReturnType<typeof sortRows> = [];
  const tableName = `watchkeeper-bench-dashboard-${Date.now()}`;
  await createMonitorsTable(admin, tableName);
  let loadedRuns = 0;
  let tableItems = 0;
  for (const history of HISTORIES) {
    // One table: each round adds the run items up to `history` per monitor.
    say(`dashboard: loading ${MONITORS} monitors with runs ${loadedRuns} to ${history}`);
    const items = fleetItems(now, loadedRuns, history);
    await load(admin, tableName, items);
    tableItems += items.length;
    loadedRuns = history;
    say("dashboard: the fallback Scan (the directory not reconciled yet)");
    const { monitors: _scanned, ...scanFallback } = await measureOverview(make, tableName, "scan");
    // Reconciled after the Scan's measurement, removed again before the next round's.
    await reconcileDirectory(admin, tableName);
    say("dashboard: the directory path");
    const { monitors, ...directory } = await measureOverview(make, tableName, "directory");
    await forgetMarker(admin, tableName);
    rows = sortRows(monitors.map((monitor) => overviewRow(monitor, now)));
    page = overviewPage({ now, user: "oncall", csrf: "x".repeat(32) }, rows);
    runs.push({ historyItemsPerMonitor: history, tableItems, directory, scanFallback });
  }

  const sparkCounter = new RequestCounter();
  const sparkStore = new DynamoDashboardStore(
    createDocumentClient(countRequests(make.dynamo(), "dynamodb", sparkCounter)),
    tableName,
  );
  await sparkStore.sparklines(rows.slice(0, VISIBLE_ROWS).map((row) => row.monitorId));
  const bytes = Buffer.byteLength(page);
  const [first] = runs;
  const sameRequests = runs.every(
    (run) =>
      JSON.stringify(run.directory.requestsByOperation) ===
      JSON.stringify(first?.directory.requestsByOperation),
  );
  const bound = DIRECTORY_SHARDS + Math.ceil((2 * MONITORS) / BATCH_GET_KEYS);
  const overviewRequests = first?.directory.requests ?? 0;
  return {
    monitors: MONITORS,
    directoryShards: DIRECTORY_SHARDS,
    runs,
    overviewRequests,
    overviewRequestsByOperation: first?.directory.requestsByOperation ?? {},
    overviewPageBytes: bytes,
    overviewPageGzipBytes: gzipSync(page).length,
    sparklineRowsPerCall: VISIBLE_ROWS,
    sparklineRequestsPerCall: sparkCounter.snapshot().dynamodb,
    target: `page < 200 KB; overview requests the same with 20 and 100 runs per monitor, at most ${bound} (shards + one BatchGetItem per 50 monitors)`,
    result: bytes < PAGE_LIMIT_BYTES && sameRequests && overviewRequests <= bound ? "met" : "missed",
  };
}

/** Deletes the reconciled marker: the next overview takes the fallback Scan again. */
async function forgetMarker(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  await createDocumentClient(dynamo).send(
    new DeleteCommand({
      TableName: tableName,
      Key: { monitorId: DIRECTORY_MARKER_ID, record: DIRECTORY_MARKER_RECORD },
    }),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = resolve(import.meta.dirname, "..");
  const outIndex = process.argv.indexOf("--out");
  const out = resolve(root, outIndex > 0 ? (process.argv[outIndex + 1] ?? "") : "bench/results.json");
  const dynamodb = await startDynamoDbLocal();
  try {
    const make = localClients(
      { dynamodb: dynamodb.endpoint, sqs: "", ses: "" },
      LOCAL_REGION,
      LOCAL_CREDENTIALS,
    );
    const result = await measureDashboard(make, (line) =>
      process.stderr.write(`${new Date().toISOString()} ${line}\n`),
    );
    const results = existsSync(out) ? (JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown>) : {};
    results.dashboard = result;
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await dynamodb.stop();
  }
}
