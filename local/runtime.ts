import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from "@aws-sdk/client-dynamodb";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { SESv2Client } from "@aws-sdk/client-sesv2";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, paginateScan } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBStreamEvent, SQSEvent } from "aws-lambda";
import { DynamoDbBuckets } from "#adapters/dynamodb-buckets.ts";
import { DynamoDbChannels } from "#adapters/dynamodb-channels.ts";
import { DynamoDbMonitorDirectory } from "#adapters/monitor-directory.ts";
import { DynamoDbScheduleStatus } from "#adapters/schedule-status.ts";
import { SesNotifier } from "#adapters/ses-notifier.ts";
import { planDirectory } from "#core/directory.ts";
import type { Logger } from "#core/ports.ts";
import { planReconcile } from "#core/schedule-sync.ts";
import { CONFIG_RECORD } from "#core/schemas.ts";
import { createScheduleSyncHandler } from "../functions/schedule-sync/handler.ts";
import { LocalBucketSchedules } from "./bucket-schedules.ts";
import { seedLocalChannels, startLocalChannels } from "./channel-receiver.ts";
import { type DemoSite, startDemoSite } from "./demo-site.ts";
import { LambdaFunction } from "./lambda-function.ts";
import { jsonLinesLogger, type LogEntry, type LogLevel } from "./log.ts";
import {
  createDeliveryRetryQueue,
  createMonitorsTable,
  createTickQueues,
  MAX_RECEIVE_COUNT,
} from "./resources.ts";
import { LocalScheduler } from "./scheduler.ts";
import { DEFAULT_SEED_FILE, loadSeedMonitors, seedMonitors, tableIsEmpty } from "./seed.ts";
import {
  freePort,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  LOOPBACK,
  type RunningServer,
  type SesServer,
  startDynamoDbLocal,
  startSes,
  startSqs,
} from "./servers.ts";
import { type BatchOutcome, SqsPoller } from "./sqs-poller.ts";
import { configRecordsOnly, StreamPoller } from "./stream-poller.ts";
import { type LocalWeb, newLocalLinkKey, startLocalWeb } from "./web.ts";

/**
 * The whole pipeline on this machine (DESIGN.md §7, issue 4): DynamoDB Local, fauxqs and
 * aws-ses-v2-local on 127.0.0.1; the table stream feeding the real schedule-sync handler, which
 * drives a local EventBridge Scheduler; the ticks queue feeding the real orchestrator handler in a
 * Lambda-like execution environment. `npm start` is a thin CLI over startLocalRuntime().
 */

export interface LocalRuntimeOptions {
  /** Loopback ports; 0 or absent = any free port. */
  ports?: { dynamodb?: number; sqs?: number; ses?: number; demoSite?: number };
  /** Persist DynamoDB Local's tables in this (existing) directory; in memory when absent. */
  dataDir?: string;
  /**
   * Use this DynamoDB endpoint (a DynamoDB Local already running, e.g. the test suite's shared
   * one) instead of starting one; it is left running by stop(). Give each runtime its own table.
   */
  dynamodbEndpoint?: string;
  /** Seed the example monitors when the table is empty. @default true */
  seed?: boolean;
  /** @default local/seed-monitors.json */
  seedFile?: URL | string;
  /** Send scheduled ticks; false keeps the schedules visible but leaves ticks to the caller. @default true */
  scheduler?: boolean;
  /** Where local.json and runtime.log go. @default ".watchkeeper" */
  stateDir?: string;
  /** @default "Monitors" */
  tableName?: string;
  /** Base name of the FIFO ticks queue and its DLQ. @default "watchkeeper-ticks" */
  queueName?: string;
  /** @default "watchkeeper@example.com" */
  senderEmail?: string;
  /** Ticks queue visibility timeout, also the orchestrator's timeout (SQS event sources need timeout <= visibility). @default 60 */
  visibilityTimeoutSeconds?: number;
  /** @default MAX_RECEIVE_COUNT (as the stack) */
  maxReceiveCount?: number;
  /** Orchestrator invocations (execution environments) at once. @default 3 */
  concurrency?: number;
  /** Log level of the functions and of the runtime itself. @default "INFO" */
  logLevel?: LogLevel;
  /** Sees every runtime log entry (the CLI shows warnings and errors). */
  onLog?: (entry: LogEntry) => void;
  /** Sees every orchestrator batch. */
  onBatch?: (outcome: BatchOutcome) => void;
  /**
   * The stack's `stateHeartbeatMinutes` (write on change): a quiet healthy monitor's state is
   * rewritten once its persisted run is this old; 0: every tick writes. @default 15
   */
  stateHeartbeatMinutes?: number;
  /**
   * The web dashboard on 127.0.0.1 (cognito-local, the web handler, ack links in mail): `port`
   * 0 or absent = a free port. @default false
   */
  web?: { port?: number } | false;
}

/** What clients need to attach to a running runtime; also the content of `.watchkeeper/local.json`. */
export interface LocalEndpoints {
  region: string;
  dynamodb: string;
  sqs: string;
  ses: string;
  tableName: string;
  streamArn: string;
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
  /** The delivery-retry queue: failed notifications come back through it on their own backoff. */
  deliveryRetryQueueUrl: string;
  inboxUrl: string;
  senderEmail: string;
  demoSiteUrl: string;
  /** The channel receiver (local/channel-receiver.ts) and its Secrets Manager stand-in. */
  channelReceiverUrl?: string;
  secretsManager?: string;
  /** The dashboard's URL, when it runs (`web`). */
  dashboardUrl?: string;
}

export interface LocalRuntime {
  endpoints: LocalEndpoints;
  /** The local EventBridge Scheduler: the clock that drives the fan-out, and the heartbeat. */
  scheduler: LocalScheduler;
  /** The monitors' schedules (bucket member items) and their next ticks. */
  schedules: LocalBucketSchedules;
  /** Path of the JSON-lines log of the functions and the runtime. */
  logFile: string;
  /** Path of local.json. */
  infoFile: string;
  /** Whether the table existed before (persisted with --data). */
  tableExisted: boolean;
  /** Ids of the monitors seeded by this start. */
  seeded: string[];
  /**
   * False when DynamoDB Local listens on every interface, not only 127.0.0.1: the Java runtime
   * has no compiler for its loopback launcher (local/servers.ts). True for a given endpoint.
   */
  dynamodbLoopbackOnly: boolean;
  /** The dashboard and its local user pool, when `web` was asked for. */
  web?: LocalWeb;
  /** Resolves once every stream record written so far has reached schedule-sync. */
  streamDrained(): Promise<void>;
  /** Stops everything it started, in reverse order; safe to call twice. */
  stop(): Promise<void>;
}

const ORCHESTRATOR_MODULE = new URL("../functions/orchestrator/handler.ts", import.meta.url);
const FAN_OUT_MODULE = new URL("../functions/fan-out/handler.ts", import.meta.url);
/** The event source mappings' settings in lib/orchestrator.ts and lib/schedule-sync.ts. */
const TICKS_BATCH_SIZE = 10;
const STREAM_BATCH_SIZE = 25;
const STREAM_RETRY_ATTEMPTS = 10;
const DEFAULT_CONCURRENCY = 3;

/**
 * Picks the warnings and errors out of a function's JSON-lines output (Powertools' format), so
 * the terminal can show them; chunks may split lines anywhere.
 */
class ProblemLines {
  #partial = "";
  constructor(readonly service: string) {}
  push(chunk: string): LogEntry[] {
    const lines = (this.#partial + chunk).split("\n");
    this.#partial = lines.pop() ?? "";
    const problems: LogEntry[] = [];
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      try {
        const entry = JSON.parse(line) as Partial<LogEntry>;
        if (entry.level === "WARN" || entry.level === "ERROR") {
          problems.push({
            ...entry,
            level: entry.level,
            message: String(entry.message),
            service: String(entry.service ?? this.service),
            timestamp: String(entry.timestamp ?? new Date().toISOString()),
          });
        }
      } catch {
        // Not JSON (a stack trace line, a Node warning): it is in the log file, that is enough.
      }
    }
    return problems;
  }
}

/** Runs the steps of a shutdown in order, each once, whatever fails. */
class Shutdown {
  readonly #steps: Array<() => Promise<unknown>> = [];
  #running: Promise<void> | undefined;
  add(step: () => Promise<unknown>): void {
    this.#steps.unshift(step);
  }
  run(): Promise<void> {
    this.#running ??= (async () => {
      for (const step of this.#steps) await step().catch(() => {});
    })();
    return this.#running;
  }
}

function closeStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve) => stream.end(() => resolve()));
}

async function tableExists(client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return true;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return false;
    throw error;
  }
}

async function startServers(options: LocalRuntimeOptions, shutdown: Shutdown) {
  const existing = options.dynamodbEndpoint;
  const started = await Promise.allSettled([
    existing
      ? Promise.resolve({ endpoint: existing, port: Number(new URL(existing).port), stop: async () => {} })
      : startDynamoDbLocal({
          ...(options.ports?.dynamodb ? { port: options.ports.dynamodb } : {}),
          ...(options.dataDir ? { dataDir: options.dataDir } : {}),
        }),
    startSqs(options.ports?.sqs ? { port: options.ports.sqs } : {}),
    startSes(options.ports?.ses ? { port: options.ports.ses } : {}),
  ]);
  for (const result of started) {
    if (result.status === "fulfilled") shutdown.add(() => result.value.stop());
  }
  const failure = started.find((result) => result.status === "rejected");
  if (failure) throw failure.reason;
  const [dynamodb, sqs, ses] = started.map((result) => (result as PromiseFulfilledResult<unknown>).value) as [
    RunningServer & { loopbackOnly?: boolean },
    RunningServer,
    SesServer,
  ];
  return { dynamodb, sqs, ses };
}

/**
 * Replays the table into the scheduler when it already held monitors (a persisted `--data` dir):
 * the same pure plan as the AWS reconcile, since the stream only carries changes from now on.
 */
async function reconcile(
  doc: DynamoDBDocumentClient,
  tableName: string,
  scheduler: DynamoDbBuckets,
  status: DynamoDbScheduleStatus,
  directory: DynamoDbMonitorDirectory,
  logger: Logger,
): Promise<void> {
  const configs: Array<Record<string, unknown>> = [];
  const pages = paginateScan(
    { client: doc },
    {
      TableName: tableName,
      FilterExpression: "#record = :config",
      ExpressionAttributeNames: { "#record": "record" },
      ExpressionAttributeValues: { ":config": CONFIG_RECORD },
      ConsistentRead: true,
    },
  );
  for await (const page of pages) configs.push(...((page.Items ?? []) as Array<Record<string, unknown>>));
  const startedAt = new Date();
  const plan = planReconcile(configs, await scheduler.list());
  for (const definition of plan.upserts) {
    await scheduler.upsert(definition);
    await status.clearError(definition.monitorId);
  }
  for (const { monitorId, reason } of plan.invalid) await status.reportError(monitorId, reason);
  // Members whose config item is gone (deleted while the runtime was down), then the headers.
  for (const monitorId of plan.removals) await scheduler.remove(monitorId);
  await scheduler.syncHeaders(startedAt);
  // The monitor directory, as the AWS reconcile does: entries for every config item, no orphans,
  // then the marker that lets the dashboard's overview read it instead of scanning.
  const directoryPlan = planDirectory(
    configs.map((item) => item.monitorId).filter((id): id is string => typeof id === "string"),
    (await directory.entries()).entries,
  );
  for (const { monitorId, shard } of directoryPlan.writes) await directory.ensure(monitorId, shard);
  for (const monitorId of directoryPlan.removals) await directory.removeOrphan(monitorId);
  await directory.markReconciled(startedAt);
  logger.info("schedules reconciled from the table", {
    upserts: plan.upserts.length,
    invalid: plan.invalid.length,
    removals: plan.removals.length,
    directoryWrites: directoryPlan.writes.length,
    directoryRemovals: directoryPlan.removals.length,
  });
}

export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const shutdown = new Shutdown();
  try {
    return await start(options, shutdown);
  } catch (error) {
    await shutdown.run();
    throw error;
  }
}

async function start(options: LocalRuntimeOptions, shutdown: Shutdown): Promise<LocalRuntime> {
  const stateDir = resolve(options.stateDir ?? ".watchkeeper");
  await mkdir(stateDir, { recursive: true });
  const logFile = join(stateDir, "runtime.log");
  const infoFile = join(stateDir, "local.json");
  const log = createWriteStream(logFile, { flags: "w" });
  shutdown.add(() => closeStream(log));
  const logLevel = options.logLevel ?? "INFO";
  const loggerFor = (service: string) =>
    jsonLinesLogger({
      out: log,
      service,
      level: logLevel,
      ...(options.onLog ? { onEntry: options.onLog } : {}),
    });
  const logger = loggerFor("local-runtime");

  const servers = await startServers(options, shutdown);
  const clientConfig = (endpoint: string) => ({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const dynamo = new DynamoDBClient(clientConfig(servers.dynamodb.endpoint));
  const doc = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  const streams = new DynamoDBStreamsClient(clientConfig(servers.dynamodb.endpoint));
  const sqs = new SQSClient(clientConfig(servers.sqs.endpoint));
  shutdown.add(async () => {
    for (const client of [dynamo, streams, sqs]) client.destroy();
  });

  const tableName = options.tableName ?? "Monitors";
  const tableExisted = await tableExists(dynamo, tableName);
  const { streamArn } = await createMonitorsTable(dynamo, tableName);
  const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 60;
  const queues = await createTickQueues(sqs, options.queueName ?? "watchkeeper-ticks", {
    visibilityTimeoutSeconds,
    maxReceiveCount: options.maxReceiveCount ?? MAX_RECEIVE_COUNT,
  });
  const retryQueue = await createDeliveryRetryQueue(
    sqs,
    `${options.queueName ?? "watchkeeper-ticks"}-delivery-retries`,
    { visibilityTimeoutSeconds, maxReceiveCount: options.maxReceiveCount ?? MAX_RECEIVE_COUNT },
  );
  const demoSite: DemoSite = await startDemoSite(options.ports?.demoSite ?? 0);
  shutdown.add(() => demoSite.stop());
  const localChannels = await startLocalChannels();
  shutdown.add(() => localChannels.receiver.stop());

  const endpoints: LocalEndpoints = {
    region: LOCAL_REGION,
    dynamodb: servers.dynamodb.endpoint,
    sqs: servers.sqs.endpoint,
    ses: servers.ses.endpoint,
    tableName,
    streamArn,
    queueUrl: queues.queueUrl,
    queueArn: queues.queueArn,
    dlqUrl: queues.dlqUrl,
    deliveryRetryQueueUrl: retryQueue.queueUrl,
    inboxUrl: servers.ses.inboxUrl,
    senderEmail: options.senderEmail ?? "watchkeeper@example.com",
    demoSiteUrl: demoSite.url,
    channelReceiverUrl: localChannels.receiver.url,
    secretsManager: localChannels.receiver.url,
  };

  // The dashboard's address is known before the orchestrator starts: its mail links to it.
  const webPort = options.web ? options.web.port || (await freePort()) : undefined;
  const linkKey = newLocalLinkKey();
  if (webPort) endpoints.dashboardUrl = `http://${LOOPBACK}:${webPort}/`;

  const functionOutput = new ProblemLines("watchkeeper-orchestrator");
  const fanOutOutput = new ProblemLines("watchkeeper-fan-out");
  // The orchestrator Lambda: the deployed handler module with the environment the stack gives it,
  // pointed at the local servers through the SDK's standard endpoint variables.
  const orchestrator = new LambdaFunction({
    functionName: "watchkeeper-orchestrator",
    moduleUrl: ORCHESTRATOR_MODULE,
    region: LOCAL_REGION,
    // As in the stack (900 s of a 1,200 s visibility timeout): a tick still running when its message
    // becomes visible again would be received a second time while the first run is in flight.
    timeoutSeconds: Math.max(1, Math.floor(visibilityTimeoutSeconds * 0.75)),
    maxEnvironments: options.concurrency ?? DEFAULT_CONCURRENCY,
    environment: {
      MONITORS_TABLE: tableName,
      SENDER_EMAIL: endpoints.senderEmail,
      TICKS_DLQ_URL: endpoints.dlqUrl,
      DELIVERY_RETRY_QUEUE_URL: retryQueue.queueUrl,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
      AWS_ENDPOINT_URL_SQS: endpoints.sqs,
      AWS_ENDPOINT_URL_SESV2: endpoints.ses,
      // Secret references resolve against the channel receiver's stand-in; channels may reach it.
      AWS_ENDPOINT_URL_SECRETS_MANAGER: localChannels.receiver.url,
      CHANNEL_ALLOW_ADDRESSES: "loopback",
      // The demo monitors watch the demo site on 127.0.0.1 (their params name loopback too).
      CHECK_ALLOW_ADDRESSES: "loopback",
      POWERTOOLS_LOG_LEVEL: logLevel,
      STATE_HEARTBEAT_MINUTES: String(options.stateHeartbeatMinutes ?? 15),
      // No X-Ray daemon here; EMF metrics stay on and land in runtime.log with the logs.
      POWERTOOLS_TRACE_ENABLED: "false",
      // Lambda runs Node 22; this process already warned once if the machine's Node is older.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      // Signed ack links and dashboard links in mail (AWS: the key is in Secrets Manager).
      ...(endpoints.dashboardUrl
        ? { DASHBOARD_URL: endpoints.dashboardUrl, WATCHKEEPER_LOCAL_ACK_LINK_KEY: linkKey }
        : {}),
    },
    onOutput: (chunk) => {
      if (log.writable) log.write(chunk);
      if (options.onLog) for (const entry of functionOutput.push(chunk)) options.onLog(entry);
    },
  });
  shutdown.add(() => orchestrator.stop());

  const scheduler = new LocalScheduler({
    sqs,
    queueUrl: queues.queueUrl,
    logger: loggerFor("local-scheduler"),
    dispatch: options.scheduler !== false,
  });
  shutdown.add(() => scheduler.stop());
  // As the stack's heartbeat schedule; a no-op when ticks are left to the caller.
  scheduler.startHeartbeat();

  // The fan-out Lambda, driven every minute by the clock schedule (no-op without dispatch).
  const fanOut = new LambdaFunction({
    functionName: "watchkeeper-fan-out",
    moduleUrl: FAN_OUT_MODULE,
    region: LOCAL_REGION,
    timeoutSeconds: 55,
    maxEnvironments: 1,
    environment: {
      MONITORS_TABLE: tableName,
      TICKS_QUEUE_URL: queues.queueUrl,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
      AWS_ENDPOINT_URL_SQS: endpoints.sqs,
      POWERTOOLS_LOG_LEVEL: logLevel,
      POWERTOOLS_TRACE_ENABLED: "false",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    },
    onOutput: (chunk) => {
      if (log.writable) log.write(chunk);
      if (options.onLog) for (const entry of fanOutOutput.push(chunk)) options.onLog(entry);
    },
  });
  shutdown.add(() => fanOut.stop());
  // Stopped first (shutdown runs in reverse): no clock fires into a stopped fan-out.
  shutdown.add(() => scheduler.stop());
  scheduler.startClock((event) => fanOut.invoke(event));

  // Schedule-sync runs in this thread: its factory takes the scheduler port, here the same bucket
  // store as in AWS on DynamoDB Local (no per-monitor schedules to migrate). Everything else about it
  // is the deployed code.
  const buckets = new DynamoDbBuckets({ tableName, client: doc });
  const status = new DynamoDbScheduleStatus(tableName, doc);
  const directory = new DynamoDbMonitorDirectory(tableName, doc);
  // As in the stack: owners hear once, from the notification sender, that a monitor cannot be scheduled.
  const mail = new SESv2Client({
    region: LOCAL_REGION,
    endpoint: endpoints.ses,
    credentials: LOCAL_CREDENTIALS,
  });
  shutdown.add(async () => mail.destroy());
  const scheduleSync = createScheduleSyncHandler({
    scheduler: buckets,
    status,
    directory,
    notifier: new SesNotifier(endpoints.senderEmail, mail),
    logger: loggerFor("watchkeeper-schedule-sync"),
  });
  const streamPoller = new StreamPoller({
    client: streams,
    streamArn,
    region: LOCAL_REGION,
    filter: configRecordsOnly,
    // A new table is read from its first record; a persisted one is reconciled below instead.
    startingPosition: tableExisted ? "LATEST" : "TRIM_HORIZON",
    batchSize: STREAM_BATCH_SIZE,
    maxRetries: STREAM_RETRY_ATTEMPTS,
    invoke: (event: DynamoDBStreamEvent) => scheduleSync(event),
    logger: loggerFor("stream-event-source"),
  });
  await streamPoller.start();
  shutdown.add(() => streamPoller.stop());
  if (tableExisted) await reconcile(doc, tableName, buckets, status, directory, logger);

  const sqsPoller = new SqsPoller({
    sqs,
    queueUrl: queues.queueUrl,
    queueArn: queues.queueArn,
    region: LOCAL_REGION,
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    batchSize: TICKS_BATCH_SIZE,
    invoke: (event: SQSEvent) => orchestrator.invoke(event),
    logger: loggerFor("sqs-event-source"),
    ...(options.onBatch ? { onBatch: options.onBatch } : {}),
  });
  sqsPoller.start();
  // Before the orchestrator stops: a batch being processed finishes and is deleted.
  shutdown.add(() => sqsPoller.stop());
  // The stack's second event source on the orchestrator: delayed `deliver` ticks.
  const retryPoller = new SqsPoller({
    sqs,
    queueUrl: retryQueue.queueUrl,
    queueArn: retryQueue.queueArn,
    region: LOCAL_REGION,
    concurrency: 1,
    batchSize: TICKS_BATCH_SIZE,
    invoke: (event: SQSEvent) => orchestrator.invoke(event),
    logger: loggerFor("sqs-event-source"),
    ...(options.onBatch ? { onBatch: options.onBatch } : {}),
  });
  retryPoller.start();
  shutdown.add(() => retryPoller.stop());

  let web: LocalWeb | undefined;
  if (webPort) {
    web = await startLocalWeb({
      doc,
      sqs,
      tableName,
      queueUrl: queues.queueUrl,
      port: webPort,
      linkKey,
      logger: loggerFor("dashboard"),
    });
    shutdown.add(() => web?.stop() ?? Promise.resolve());
  }

  let seeded: string[] = [];
  if (options.seed !== false && (await tableIsEmpty(doc, tableName))) {
    const items = await loadSeedMonitors(options.seedFile ?? DEFAULT_SEED_FILE, {
      demoSiteUrl: demoSite.url,
    });
    seeded = await seedMonitors(doc, tableName, items);
    logger.info("example monitors seeded", { monitorIds: seeded });
  }
  // After the monitors: the table's emptiness decides whether they are seeded. Rewritten on every
  // start (the receiver's port and secrets are new each time).
  if (options.seed !== false) {
    await seedLocalChannels(new DynamoDbChannels({ tableName, client: doc }), localChannels.channels);
  }
  // A table created just now had no monitor before the stream's first record, which schedule-sync
  // reads (TRIM_HORIZON): its directory is complete. After the seeding, whose emptiness test the
  // marker would fail.
  if (!tableExisted) await directory.markReconciled(new Date());

  const info = { ...endpoints, logFile, pid: process.pid, startedAt: new Date().toISOString() };
  // Written whole then renamed: a script polling for the file never reads half of it.
  await writeFile(`${infoFile}.tmp`, `${JSON.stringify(info, null, 2)}\n`);
  await rename(`${infoFile}.tmp`, infoFile);
  shutdown.add(async () => {
    // Only remove the file if it still describes this runtime (another may have started since).
    const current = await readFile(infoFile, "utf8").catch(() => "");
    if (current.includes(`"startedAt": "${info.startedAt}"`)) await rm(infoFile, { force: true });
  });
  logger.info("local runtime started", { ...info });

  return {
    endpoints,
    scheduler,
    schedules: new LocalBucketSchedules(doc, tableName),
    logFile,
    infoFile,
    tableExisted,
    seeded,
    dynamodbLoopbackOnly: servers.dynamodb.loopbackOnly !== false,
    ...(web ? { web } : {}),
    streamDrained: () => streamPoller.drained(),
    stop: () => shutdown.run(),
  };
}
