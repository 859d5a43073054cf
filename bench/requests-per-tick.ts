import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { createMonitorsTable } from "#local/resources.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from "#local/servers.ts";
import { countRequests, RequestCounter } from "./lib/counting.ts";
import { readLambdaConfig } from "./lib/lambda-config.ts";
import { localClients } from "./lib/pipeline.ts";
import { measureSteadyCycle, steadyEntry } from "./lib/steady-cycle.ts";

/**
 * Only the steady-tick part of `npm run bench` (write on change): DynamoDB requests and capacity
 * per steady tick over a heartbeat cycle, on DynamoDB Local, through the real handler. Updates
 * `requestsPerTick.steady` in bench/results.json and leaves everything else as the last full run
 * wrote it. `node bench/requests-per-tick.ts [--out file]`
 */

const ROOT = resolve(import.meta.dirname, "..");
const outIndex = process.argv.indexOf("--out");
const out = resolve(ROOT, outIndex > 0 ? (process.argv[outIndex + 1] ?? "") : "bench/results.json");
const lambdaConfig = readLambdaConfig(ROOT);

const dynamodb = await startDynamoDbLocal();
try {
  const make = localClients(
    { dynamodb: dynamodb.endpoint, sqs: "", ses: "" },
    LOCAL_REGION,
    LOCAL_CREDENTIALS,
  );
  const tableName = "watchkeeper-bench-steady";
  const admin = make.dynamo();
  await createMonitorsTable(admin, tableName);
  Object.assign(process.env, {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
    MONITORS_TABLE: tableName,
    SENDER_EMAIL: "watchkeeper@example.com",
    POWERTOOLS_LOG_LEVEL: "WARN",
    POWERTOOLS_METRICS_DISABLED: "true",
  });
  const { createOrchestratorHandler } = await import("../functions/orchestrator/handler.ts");
  const { createDocumentClient, DynamoMonitorStore } = await import("#adapters/dynamodb-store.ts");
  const { DEFAULT_TICK_OPTIONS } = await import("#core/tick.ts");
  const { findCheck } = await import("#monitors/index.ts");
  const counter = new RequestCounter();
  const deps = {
    store: new DynamoMonitorStore(
      tableName,
      createDocumentClient(countRequests(make.dynamo(), "dynamodb", counter)),
    ),
    notifier: {
      send: async (): Promise<{ messageId: string }> => {
        throw new Error("steady ticks send no mail");
      },
    },
    findCheck,
  };
  const common = {
    doc: createDocumentClient(admin),
    tableName,
    counter,
    auditClient: make.dynamo(),
    // The stack's default (lib/settings.ts), which is also the handler's.
    heartbeatMinutes: DEFAULT_TICK_OPTIONS.stateHeartbeatMs / 60_000,
  };
  const atBatchSize = await measureSteadyCycle({
    ...common,
    invoke: createOrchestratorHandler(deps),
    monitorsPerInvocation: lambdaConfig.batchSize,
    prefix: "steady-batch",
  });
  const oneTick = await measureSteadyCycle({
    ...common,
    invoke: createOrchestratorHandler(deps),
    monitorsPerInvocation: 1,
    prefix: "steady-one",
  });
  const results = JSON.parse(readFileSync(out, "utf8")) as {
    requestsPerTick: Record<string, Record<string, unknown>>;
    targets?: Record<string, unknown>;
  };
  results.requestsPerTick.steady = steadyEntry(results.requestsPerTick.steady ?? {}, atBatchSize, oneTick);
  // The same targets as bench/run.ts.
  const { steadyDynamoDbRequests: _old, ...targets } = results.targets ?? {};
  const verdict = (met: boolean) => (met ? "met" : "missed");
  results.targets = {
    steadyDynamoDbReads: {
      target: "<= 1 per tick, heartbeat cycle",
      value: atBatchSize.dynamodbReads,
      result: verdict(atBatchSize.dynamodbReads <= 1),
    },
    steadyDynamoDbWrites: {
      target: "<= 0.1 per tick, heartbeat cycle",
      value: atBatchSize.dynamodbWrites,
      result: verdict(atBatchSize.dynamodbWrites <= 0.1),
    },
    ...targets,
  };
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(
    `steady tick, ${atBatchSize.monitorsPerInvocation} monitors per invocation, heartbeat ${atBatchSize.heartbeatMinutes} min: ` +
      `${atBatchSize.dynamodbReads} reads, ${atBatchSize.dynamodbWrites} writes, ${atBatchSize.readUnits} RRU, ${atBatchSize.writeUnits} WRU per tick`,
  );
  console.log(
    `steady tick, 1 tick per invocation: ${oneTick.dynamodbReads} reads, ${oneTick.dynamodbWrites} writes, ${oneTick.readUnits} RRU, ${oneTick.writeUnits} WRU per tick`,
  );
} finally {
  await dynamodb.stop();
}
