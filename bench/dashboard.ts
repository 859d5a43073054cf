import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand } from "@aws-sdk/lib-dynamodb";
import { DynamoDashboardStore } from "#adapters/dashboard-store.ts";
import { createDocumentClient } from "#adapters/dynamodb-store.ts";
import { overviewPage, overviewRow, sortRows } from "#core/web-pages.ts";
import { createMonitorsTable } from "#local/resources.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from "#local/servers.ts";
import { countRequests, RequestCounter } from "./lib/counting.ts";
import { localClients } from "./lib/pipeline.ts";

/**
 * The dashboard's overview at fleet size (issue 14): 1,000 monitors (5% in alert, some of them
 * acknowledged, 2% paused) with run history in the table, read through the dashboard's own store
 * on DynamoDB Local, rendered by the page code. Measures the DynamoDB requests of the overview
 * (one projected Scan: its pages grow with the table's size, not with a request per monitor), the
 * page's bytes (raw and gzip), and the requests of the sparklines of one screenful of rows.
 * `npm run bench` includes it (results.json key `dashboard`); alone: `tsx bench/dashboard.ts`.
 */

export interface DashboardBench {
  monitors: number;
  historyItemsPerMonitor: number;
  tableItems: number;
  overviewRequests: number;
  overviewRequestsByOperation: Record<string, number>;
  overviewPageBytes: number;
  overviewPageGzipBytes: number;
  overviewMs: number;
  sparklineRowsPerCall: number;
  sparklineRequestsPerCall: number;
  target: string;
  result: "met" | "missed";
}

const MONITORS = 1_000;
/** Run items per monitor in the table (`--history N` measures a longer history). */
const historyArg = process.argv.indexOf("--history");
const HISTORY_PER_MONITOR = historyArg > 0 ? Number(process.argv[historyArg + 1]) : 20;
const VISIBLE_ROWS = 25;
const PAGE_LIMIT_BYTES = 200 * 1024;

function fleetItems(now: Date): Record<string, unknown>[] {
  const items: Record<string, unknown>[] = [];
  for (let index = 0; index < MONITORS; index++) {
    const monitorId = `monitor-${String(index).padStart(4, "0")}`;
    const alert = index % 20 === 0;
    const paused = index % 50 === 7;
    const at = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000).toISOString();
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
      ...(alert ? { incident: { start: at(40), lastFailureMessage: "HTTP 503", lastFailureAt: at(2) } } : {}),
      ...(alert && index % 40 === 0 ? { ack: { by: "alice@example.org", at: at(30), note: "on it" } } : {}),
    });
    for (let run = 0; run < HISTORY_PER_MONITOR; run++) {
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

export async function measureDashboard(make: { dynamo(): DynamoDBClient }): Promise<DashboardBench> {
  const tableName = `watchkeeper-bench-dashboard-${Date.now()}`;
  const admin = make.dynamo();
  await createMonitorsTable(admin, tableName);
  const now = new Date();
  const items = fleetItems(now);
  await load(admin, tableName, items);

  const counter = new RequestCounter();
  const store = new DynamoDashboardStore(
    createDocumentClient(countRequests(make.dynamo(), "dynamodb", counter)),
    tableName,
  );
  const started = performance.now();
  const monitors = await store.overview();
  const rows = sortRows(monitors.map((monitor) => overviewRow(monitor, now)));
  const page = overviewPage({ now, user: "oncall", csrf: "x".repeat(32) }, rows);
  const overviewMs = performance.now() - started;
  const overview = counter.snapshot();

  const sparkCounter = new RequestCounter();
  const sparkStore = new DynamoDashboardStore(
    createDocumentClient(countRequests(make.dynamo(), "dynamodb", sparkCounter)),
    tableName,
  );
  await sparkStore.sparklines(rows.slice(0, VISIBLE_ROWS).map((row) => row.monitorId));
  const bytes = Buffer.byteLength(page);
  if (monitors.length !== MONITORS) throw new Error(`the overview read ${monitors.length} monitors`);
  return {
    monitors: MONITORS,
    historyItemsPerMonitor: HISTORY_PER_MONITOR,
    tableItems: items.length,
    overviewRequests: overview.dynamodb,
    overviewRequestsByOperation: overview.byOperation,
    overviewPageBytes: bytes,
    overviewPageGzipBytes: gzipSync(page).length,
    overviewMs: Math.round(overviewMs),
    sparklineRowsPerCall: VISIBLE_ROWS,
    sparklineRequestsPerCall: sparkCounter.snapshot().dynamodb,
    target: "page < 200 KB; no request per monitor on the initial render",
    result: bytes < PAGE_LIMIT_BYTES && overview.dynamodb < MONITORS / 10 ? "met" : "missed",
  };
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
    const result = await measureDashboard(make);
    // `--history N` is a what-if run: printed, not written over the standard measurement.
    if (historyArg < 0) {
      const results = existsSync(out)
        ? (JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown>)
        : {};
      results.dashboard = result;
      writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    }
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await dynamodb.stop();
  }
}
