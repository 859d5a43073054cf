import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import Table from "cli-table3";
import { Command, InvalidArgumentError } from "commander";
import pc from "picocolors";
import { createMonitorsTable, createTickQueues } from "#local/resources.ts";
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type RunningServer,
  startDynamoDbLocal,
  startSes,
  startSqs,
} from "#local/servers.ts";
import { measureDashboard } from "./dashboard.ts";
import { measureColdStart } from "./lib/cold-start.ts";
import {
  type CostInputs,
  costPerMonitorMonth,
  type FleetPrices,
  fleetCostPerMonitorMonth,
  type Prices,
} from "./lib/cost.ts";
import { countRequests, RequestCounter } from "./lib/counting.ts";
import { measureFanOut } from "./lib/fan-out.ts";
import { readLambdaConfig } from "./lib/lambda-config.ts";
import { OutputCapture } from "./lib/output-capture.ts";
import {
  EnvironmentPool,
  floorInvoke,
  localClients,
  planMonitors,
  runRound,
  writeItems,
} from "./lib/pipeline.ts";
import { benchNode } from "./lib/runtime-node.ts";
import { measureScenarios } from "./lib/scenarios.ts";
import { measureSchedules } from "./lib/schedules.ts";
import { percentile, round } from "./lib/stats.ts";
import { measureSteadyCycle, steadyEntry } from "./lib/steady-cycle.ts";

/**
 * `npm run bench`: throughput and latency of the real orchestrator against its floor, requests and
 * capacity per tick, cost per monitor-month and cold start. Numbers are measurements of this run on
 * this machine; see docs/performance.md for what each one means.
 */

const ROOT = resolve(import.meta.dirname, "..");
const MINUTE = 60_000;
type Mode = "pipeline" | "floor" | "floorWithHistory";
/** vCPU share of a Lambda function is memory / 1769 MB (1 full vCPU at 1,769 MB). */
const MB_PER_VCPU = 1769;
/** Lambda's platform.start + platform.report records per invocation in JSON log format (estimate). */
const PLATFORM_LOG_BYTES = 650;
const XRAY_SAMPLED_SHARE = 0.05;
const TARGETS = {
  // Write on change (issue 13): per steady tick, averaged over a heartbeat cycle.
  steadyDynamoDbReads: 1,
  steadyDynamoDbWrites: 0.1,
  ratioToFloor: 0.8,
  bundleBytes: 400 * 1024,
  initRatio: 1.2,
  oneMinuteUsd: 0.11,
  /** Engine v2: at 10,000 monitors on `rate(1 minute)`, everything counted (issue 13). */
  fleetOneMinuteUsdAt10k: 0.05,
};

/** The cheapest hosted peer's 1-minute check, per month (issue 13's survey). */
const PEER_ONE_MINUTE_USD = 0.08;
/** Alarms in the synthesized template and custom metrics the functions emit (fixed costs). */
const STACK_ALARMS = 18;
const CUSTOM_METRICS = 20;

const positiveInt = (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError("must be a positive whole number");
  return parsed;
};
const share = (value: string) => {
  const parsed = Number(value);
  if (!(parsed >= 0 && parsed <= 1)) throw new InvalidArgumentError("must be between 0 and 1");
  return parsed;
};

const lambdaConfig = readLambdaConfig(ROOT);
const program = new Command("bench")
  .description(
    "Measures the Watchkeeper orchestrator: throughput vs floor, requests per tick, cost, cold start",
  )
  .option("--monitors <n>", "monitors seeded, one tick each per round", positiveInt, 1000)
  .option("--rounds <n>", "measured rounds per mode (pipeline and floor, interleaved)", positiveInt, 3)
  .option("--concurrency <n>", "concurrent pollers, like the event source mapping's", positiveInt, 5)
  .option("--batch-size <n>", "messages per ReceiveMessage (max 10)", positiveInt, 10)
  .option(
    "--lambda-batch-size <n>",
    `records per handler invocation (lib/: ${lambdaConfig.batchSize})`,
    positiveInt,
    lambdaConfig.batchSize,
  )
  .option("--failing <share>", "share of monitors that always fail", share, 0.1)
  .option("--flapping <share>", "share of monitors that flap (fail 1 minute in 4)", share, 0.1)
  .option("--init-runs <n>", "fresh processes per bundle for init time (median)", positiveInt, 20)
  .option("--attribution-runs <n>", "fresh processes per attribution variant", positiveInt, 10)
  .option(
    "--node <runtime|this|path>",
    `the Node that imports the bundles for init: runtime = the Lambda runtime's major (${lambdaConfig.runtime}; fetched from the npm registry when this Node is another), this = ${process.version}, or a binary`,
    "runtime",
  )
  .option("--scenario-samples <n>", "monitors walked through first/steady/alert/recovery", positiveInt, 5)
  .option("--emails-per-month <n>", "emails of a typical monitor (cost model)", Number, 4)
  .option("--fan-out-members <n>", "bucket members enqueued in one fan-out minute", positiveInt, 10_000)
  .option("--out <file>", "results file", "bench/results.json")
  .option("--skip-throughput", "skip the throughput and floor rounds (quick run)")
  .option("--skip-cold-start", "skip bundling and init measurements")
  .option(
    "--cold-start-only",
    "only bundling and init: updates the coldStart section (and its targets) of the results file",
  )
  .parse();
const opts = program.opts<{
  monitors: number;
  rounds: number;
  concurrency: number;
  batchSize: number;
  lambdaBatchSize: number;
  failing: number;
  flapping: number;
  initRuns: number;
  attributionRuns: number;
  node: string;
  scenarioSamples: number;
  emailsPerMonth: number;
  fanOutMembers: number;
  out: string;
  skipThroughput?: boolean;
  skipColdStart?: boolean;
  coldStartOnly?: boolean;
}>();
if (opts.batchSize > 10) throw new InvalidArgumentError("--batch-size is at most 10 (SQS ReceiveMessage)");

const capture = new OutputCapture();
capture.install();
const say = (line: string) => capture.say(pc.dim(`[bench] ${line}`));
const benchStarted = performance.now();
const loadBefore = loadavg();

// ---------------------------------------------------------------- cold start
const BENCH_CACHE = join(ROOT, "node_modules/.cache/watchkeeper-bench");
const coldStart = () =>
  measureColdStart(
    ROOT,
    BENCH_CACHE,
    lambdaConfig,
    { ...opts, node: benchNode(opts.node, lambdaConfig.runtime, BENCH_CACHE, say) },
    say,
  );

// ---------------------------------------------------------------- servers, handler, scenarios, throughput
async function withServers() {
  const servers: RunningServer[] = [];
  try {
    say("starting DynamoDB Local, fauxqs, aws-ses-v2-local on loopback");
    const [dynamodb, sqsServer, ses] = await Promise.all([startDynamoDbLocal(), startSqs(), startSes()]);
    servers.push(dynamodb, sqsServer, ses);
    const endpoints = { dynamodb: dynamodb.endpoint, sqs: sqsServer.endpoint, ses: ses.endpoint };
    const make = localClients(endpoints, LOCAL_REGION, LOCAL_CREDENTIALS);
    const tableName = "watchkeeper-bench-monitors";
    const admin = make.dynamo();
    await createMonitorsTable(admin, tableName);
    const adminSqs = make.sqs();
    const queues = await createTickQueues(adminSqs, "watchkeeper-bench-ticks", {
      visibilityTimeoutSeconds: 60,
    });

    // The handler module wires its own adapters from the environment at import (unused here, but
    // its module-level code must run as in Lambda): production log level, metrics on (EMF lines
    // are log bytes), tracing off (no X-Ray daemon here).
    Object.assign(process.env, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
      AWS_ENDPOINT_URL_SQS: endpoints.sqs,
      AWS_ENDPOINT_URL_SESV2: endpoints.ses,
      MONITORS_TABLE: tableName,
      SENDER_EMAIL: "watchkeeper@example.com",
      TICKS_DLQ_URL: queues.dlqUrl,
      POWERTOOLS_SERVICE_NAME: "orchestrator",
      POWERTOOLS_METRICS_NAMESPACE: "Watchkeeper",
      POWERTOOLS_LOG_LEVEL: "INFO",
      POWERTOOLS_METRICS_DISABLED: "false",
      POWERTOOLS_TRACE_ENABLED: "false",
    });
    const { createOrchestratorHandler } = await import("../functions/orchestrator/handler.ts");
    const { createDocumentClient, DynamoMonitorStore } = await import("#adapters/dynamodb-store.ts");
    const { SesNotifier } = await import("#adapters/ses-notifier.ts");
    const { SqsRejectedTickSink } = await import("#adapters/sqs-rejected-ticks.ts");
    const { findCheck } = await import("#monitors/index.ts");

    // The same adapters as production, on clients that count their requests.
    const counter = new RequestCounter();
    const dynamo = countRequests(make.dynamo(), "dynamodb", counter);
    const deps = {
      store: new DynamoMonitorStore(tableName, createDocumentClient(dynamo)),
      notifier: new SesNotifier("watchkeeper@example.com", countRequests(make.ses(4), "ses", counter)),
      rejected: new SqsRejectedTickSink(queues.dlqUrl, countRequests(make.sqs(), "sqs", counter)),
      findCheck,
    };
    const adminDoc = createDocumentClient(admin);

    say("requests per tick: first / steady / alerting / alert-still-ok / recovering");
    const scenario = await measureScenarios({
      doc: adminDoc,
      tableName,
      invoke: createOrchestratorHandler(deps),
      counter,
      capture,
      memoryMb: lambdaConfig.memoryMb,
      samples: opts.scenarioSamples,
      timingTicks: 40,
      auditClient: make.dynamo(),
      floor: {
        plain: floorInvoke(createDocumentClient(make.dynamo()), tableName),
        withHistory: floorInvoke(createDocumentClient(make.dynamo()), tableName, true),
      },
    });

    say("steady ticks over a heartbeat cycle (write on change)");
    const cycle = {
      doc: adminDoc,
      tableName,
      counter,
      auditClient: make.dynamo(),
      heartbeatMinutes: (await import("#core/tick.ts")).DEFAULT_TICK_OPTIONS.stateHeartbeatMs / 60_000,
    };
    // The handler's log and EMF lines are swallowed, as in the throughput run: the tables stay readable.
    capture.start();
    const steadyCycle = {
      atBatchSize: await measureSteadyCycle({
        ...cycle,
        invoke: createOrchestratorHandler(deps),
        monitorsPerInvocation: lambdaConfig.batchSize,
        prefix: "cycle-batch",
      }),
      oneTick: await measureSteadyCycle({
        ...cycle,
        invoke: createOrchestratorHandler(deps),
        monitorsPerInvocation: 1,
        prefix: "cycle-one",
      }),
    };
    capture.stop();

    const fanOutQueues = await createTickQueues(adminSqs, "watchkeeper-bench-fan-out", {
      visibilityTimeoutSeconds: 60,
    });
    const fanOut = await measureFanOut({
      dynamo: make.dynamo(),
      sqs: make.sqs(),
      tableName,
      queueUrl: fanOutQueues.queueUrl,
      members: opts.fanOutMembers,
      say,
    });

    say("measuring the dashboard's overview of 1,000 monitors");
    const dashboard = await measureDashboard(make, say);

    let throughput: Awaited<ReturnType<typeof measureThroughput>> | undefined;
    if (!opts.skipThroughput) {
      await fetch(`${ses.endpoint}/clear-store`, { method: "POST" });
      throughput = await measureThroughput({
        adminDoc,
        tableName,
        queues,
        make,
        counter,
        pool: new EnvironmentPool(() => createOrchestratorHandler(deps)),
        floorDoc: createDocumentClient(countRequests(make.dynamo(), "dynamodb", new RequestCounter())),
      });
      const store = (await (await fetch(`${ses.endpoint}/store`)).json()) as { emails?: unknown[] };
      throughput.emailsSent = store.emails?.length ?? 0;
    }
    return { scenario, steadyCycle, throughput, fanOut, dashboard };
  } finally {
    capture.stop();
    say("stopping servers");
    await Promise.allSettled(servers.map((server) => server.stop()));
  }
}

async function measureThroughput(input: {
  adminDoc: ReturnType<typeof import("#adapters/dynamodb-store.ts").createDocumentClient>;
  tableName: string;
  queues: { queueUrl: string; queueArn: string };
  make: ReturnType<typeof localClients>;
  counter: RequestCounter;
  pool: EnvironmentPool;
  floorDoc: ReturnType<typeof import("#adapters/dynamodb-store.ts").createDocumentClient>;
}) {
  const { adminDoc, tableName, queues, make, counter, pool } = input;
  const plans = planMonitors(opts.monitors, opts.failing, opts.flapping, "bench");
  const floorPlans = planMonitors(opts.monitors, 0, 0, "floor");
  const historyPlans = planMonitors(opts.monitors, 0, 0, "floorh");
  say(`seeding ${plans.length} pipeline + 2 x ${floorPlans.length} floor monitors`);
  await writeItems(
    adminDoc,
    tableName,
    [...plans, ...floorPlans, ...historyPlans].map((plan) => plan.item),
  );
  const pollerCounter = new RequestCounter();
  const ctx = {
    sqs: countRequests(make.sqs(), "sqs", pollerCounter),
    queueUrl: queues.queueUrl,
    queueArn: queues.queueArn,
    region: LOCAL_REGION,
    memoryMb: lambdaConfig.memoryMb,
    pollerCounter,
  };
  const roundOptions = {
    concurrency: opts.concurrency,
    receiveBatchSize: opts.batchSize,
    lambdaBatchSize: opts.lambdaBatchSize,
  };
  const baseMinute = Math.floor(Date.now() / MINUTE) - (opts.rounds + 2);
  const roundsDone: Record<Mode, number> = { pipeline: 0, floor: 0, floorWithHistory: 0 };
  const pipelineInvoke = (
    event: Parameters<EnvironmentPool["run"]>[0],
    context: Parameters<EnvironmentPool["run"]>[1],
  ) => pool.run(event, context);
  const invokers: Record<Mode, Parameters<typeof runRound>[3]> = {
    pipeline: pipelineInvoke,
    floor: floorInvoke(input.floorDoc, tableName),
    floorWithHistory: floorInvoke(input.floorDoc, tableName, true),
  };
  const planOf: Record<Mode, typeof plans> = {
    pipeline: plans,
    floor: floorPlans,
    floorWithHistory: historyPlans,
  };
  const run = async (mode: Mode) => {
    const minute = baseMinute + roundsDone[mode]++;
    const scheduledTime = new Date(minute * MINUTE).toISOString();
    const ticks = planOf[mode].map((plan) => ({ monitorId: plan.monitorId, scheduledTime }));
    const before = capture.start();
    counter.reset();
    const result = await runRound(ctx, mode, ticks, invokers[mode], roundOptions);
    const logBytes = capture.stop() - before;
    const requests = counter.snapshot();
    say(
      `${mode.padEnd(16)} ${result.ticks} ticks in ${result.seconds.toFixed(2)} s = ${result.ticksPerSecond.toFixed(0)}/s` +
        (result.failedRecords ? pc.red(` (${result.failedRecords} failed records)`) : ""),
    );
    return { result, logBytes, requests };
  };
  // Warm-up, not measured: JIT, connections, first state items.
  say("warm-up rounds");
  const modes: Mode[] = ["pipeline", "floor", "floorWithHistory"];
  for (const mode of modes) await run(mode);
  const measured: Array<Awaited<ReturnType<typeof run>>> = [];
  // ABC CBA order, so that slow drift (the table grows, the machine's load moves) hits all alike.
  for (let i = 0; i < opts.rounds; i++) {
    for (const mode of i % 2 === 0 ? modes : [...modes].reverse()) measured.push(await run(mode));
  }
  const summarize = (mode: string) => {
    const rounds = measured.filter((m) => m.result.mode === mode).map((m) => m.result);
    const ticks = rounds.reduce((sum, r) => sum + r.ticks, 0);
    const seconds = rounds.reduce((sum, r) => sum + r.seconds, 0);
    const latencies = rounds.flatMap((r) => r.latenciesMs);
    const sqs = rounds.reduce(
      (sum, r) => ({
        sends: sum.sends + r.sqs.sends,
        receives: sum.receives + r.sqs.receives,
        deletes: sum.deletes + r.sqs.deletes,
      }),
      { sends: 0, receives: 0, deletes: 0 },
    );
    return {
      ticks,
      ticksPerSecond: ticks / seconds,
      perRound: rounds.map((r) => round(r.ticksPerSecond, 1)),
      p50Ms: percentile(latencies, 50),
      p95Ms: percentile(latencies, 95),
      p99Ms: percentile(latencies, 99),
      failedRecords: rounds.reduce((sum, r) => sum + r.failedRecords, 0),
      invocations: rounds.reduce((sum, r) => sum + r.invocations, 0),
      sqsPerTick: {
        sendMessageBatch: round(sqs.sends / ticks, 3),
        receiveMessage: round(sqs.receives / ticks, 3),
        deleteMessageBatch: round(sqs.deletes / ticks, 3),
      },
    };
  };
  const pipeline = summarize("pipeline");
  const floorSummary = summarize("floor");
  const historySummary = summarize("floorWithHistory");
  const pipelineMeasured = measured.filter((m) => m.result.mode === "pipeline");
  const mixRequests = pipelineMeasured.reduce(
    (sum, m) => {
      for (const [op, n] of Object.entries(m.requests.byOperation)) sum[op] = (sum[op] ?? 0) + n;
      return sum;
    },
    {} as Record<string, number>,
  );
  return {
    ticksPerSecond: round(pipeline.ticksPerSecond, 1),
    floorTicksPerSecond: round(floorSummary.ticksPerSecond, 1),
    ratioToFloor: round(pipeline.ticksPerSecond / floorSummary.ticksPerSecond, 3),
    p50Ms: round(pipeline.p50Ms, 1),
    p95Ms: round(pipeline.p95Ms, 1),
    p99Ms: round(pipeline.p99Ms, 1),
    floorP50Ms: round(floorSummary.p50Ms, 1),
    floorP95Ms: round(floorSummary.p95Ms, 1),
    floorP99Ms: round(floorSummary.p99Ms, 1),
    floorWithHistoryTicksPerSecond: round(historySummary.ticksPerSecond, 1),
    ratioToFloorWithHistory: round(pipeline.ticksPerSecond / historySummary.ticksPerSecond, 3),
    emailsSent: 0,
    ticks: pipeline.ticks,
    rounds: opts.rounds,
    perRoundTicksPerSecond: {
      pipeline: pipeline.perRound,
      floor: floorSummary.perRound,
      floorWithHistory: historySummary.perRound,
    },
    failedRecords: {
      pipeline: pipeline.failedRecords,
      floor: floorSummary.failedRecords,
      floorWithHistory: historySummary.failedRecords,
    },
    invocations: pipeline.invocations,
    executionEnvironments: pool.size,
    sqsRequestsPerTick: pipeline.sqsPerTick,
    mixRequestsPerTick: Object.fromEntries(
      Object.entries(mixRequests).map(([op, n]) => [op, round(n / pipeline.ticks, 3)]),
    ),
    mixLogBytesPerTick: round(pipelineMeasured.reduce((sum, m) => sum + m.logBytes, 0) / pipeline.ticks, 0),
    settings: { ...roundOptions, monitors: opts.monitors, failing: opts.failing, flapping: opts.flapping },
  };
}

type ColdStart = Awaited<ReturnType<typeof coldStart>>;
const mark = (result: string) =>
  result === "met" ? pc.green("met") : result === "missed" ? pc.red("missed") : pc.dim(result);
const verdict = (met: boolean | undefined) => (met === undefined ? "not measured" : met ? "met" : "missed");
const coldStartTargets = (result: ColdStart | undefined) => ({
  bundleBytes: {
    target: `< ${TARGETS.bundleBytes} (400 KiB)`,
    value: result?.bundleBytes,
    sideBundleBytes: result?.sideBundleBytes,
    assetBytes: result?.assetBytes,
    result: verdict(result ? result.bundleBytes < TARGETS.bundleBytes : undefined),
  },
  initRatio: {
    target: `<= ${TARGETS.initRatio}`,
    value: result?.ratio,
    cpuRatio: result?.cpuRatio,
    ratioToEagerClients: result?.ratioToEagerClients,
    result: verdict(result ? result.ratio <= TARGETS.initRatio : undefined),
  },
});
function printColdStart(result: ColdStart, targets: ReturnType<typeof coldStartTargets>): void {
  const table = new Table({ head: ["cold start", "value", "target"] });
  table.push(
    [
      "main bundle bytes",
      `${result.bundleBytes} (baseline ${result.baselineBundleBytes})`,
      `< 409600 ${mark(targets.bundleBytes.result)}`,
    ],
    [
      "side bundles bytes (first use only)",
      `${result.sideBundleBytes}: ${result.sideBundles.entries.map((e) => `${e.module.replace("@aws-sdk/client-", "")} ${e.bytes}`).join(", ")}, shared chunks ${result.sideBundles.chunkBytes}`,
      "",
    ],
    ["asset bytes (main + source map + side)", `${result.assetBytes}`, ""],
    [
      "init measured on",
      `Node ${result.node.version}${result.node.matchesRuntime ? ` (the runtime's major, ${result.node.runtime})` : pc.yellow(` (not the runtime's major: the function runs ${result.node.runtime})`)}`,
      "",
    ],
    [
      "init ms (median)",
      `${result.initMs} vs baseline ${result.baselineInitMs} = ${result.ratio}x (CPU ${result.initCpuMs} vs ${result.baselineInitCpuMs} = ${result.cpuRatio}x)`,
      `<= 1.2x ${mark(targets.initRatio.result)}`,
    ],
    [
      "  vs the clients made at init (no SES)",
      `${result.initMs} vs ${result.eagerClientsBaselineInitMs} = ${result.ratioToEagerClients}x (CPU ${result.cpuRatioToEagerClients}x)`,
      "",
    ],
  );
  process.stdout.write(`${table.toString()}\n`);
  const variantsTable = new Table({ head: ["cold-start variant", "bytes", "init ms (IQR)", "init CPU ms"] });
  for (const v of result.variants)
    variantsTable.push([v.name, v.bundleBytes, `${v.initMs} (${v.initMsIqr.join("-")})`, v.initCpuMs]);
  process.stdout.write(`${variantsTable.toString()}\n`);
}

// ---------------------------------------------------------------- main
const coldStartResult = opts.skipColdStart ? undefined : await coldStart();
if (opts.coldStartOnly) {
  // The rest of the results file is left as the last full run wrote it.
  capture.stop();
  if (!coldStartResult) throw new InvalidArgumentError("--cold-start-only contradicts --skip-cold-start");
  const file = resolve(ROOT, opts.out);
  const previous = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  const targets = coldStartTargets(coldStartResult);
  const environment = (previous.environment ?? {}) as Record<string, unknown>;
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        ...previous,
        coldStart: { ...coldStartResult, measuredAt: new Date().toISOString() },
        targets: { ...(previous.targets as object), ...targets },
        lambda: { ...lambdaConfig },
        environment: {
          ...environment,
          coldStartCommand: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
        },
      },
      null,
      2,
    )}\n`,
  );
  printColdStart(coldStartResult, targets);
  process.stdout.write(`${pc.dim(`updated coldStart in ${opts.out}`)}\n`);
  process.exit(0);
}
const { scenario, steadyCycle, throughput, fanOut: fanOutResult, dashboard } = await withServers();

const lambdaMs = (wallMs: number, cpuMs: number) =>
  Math.ceil(wallMs + cpuMs * Math.max(0, MB_PER_VCPU / lambdaConfig.memoryMb - 1));
const s = scenario.scenarios;
const steadyProfile = {
  // Write on change: a steady tick's capacity averaged over a heartbeat cycle.
  readUnits: steadyCycle.atBatchSize.readUnits,
  writeUnits: steadyCycle.atBatchSize.writeUnits,
  lambdaMs: lambdaMs(scenario.steadyTiming.wallMs, scenario.steadyTiming.cpuMs),
  logBytes: s.steady.logBytes,
};
const mean = (a: number, b: number) => (a + b) / 2;
const perEmail = {
  readUnits: mean(s.alerting.counts.readUnits, s.recovering.counts.readUnits) - steadyProfile.readUnits,
  writeUnits: mean(s.alerting.counts.writeUnits, s.recovering.counts.writeUnits) - steadyProfile.writeUnits,
  lambdaMs: Math.max(
    0,
    mean(lambdaMs(s.alerting.wallMs, s.alerting.cpuMs), lambdaMs(s.recovering.wallMs, s.recovering.cpuMs)) -
      steadyProfile.lambdaMs,
  ),
  logBytes: mean(s.alerting.logBytes, s.recovering.logBytes) - steadyProfile.logBytes,
};
const pricesFile = JSON.parse(readFileSync(join(ROOT, "bench/prices.json"), "utf8")) as {
  date: string;
  prices: Record<keyof Prices, { usd: number }>;
};
const prices = Object.fromEntries(
  Object.entries(pricesFile.prices).map(([k, v]) => [k, v.usd]),
) as unknown as Prices;
const baseInputs = (cadenceMinutes: number): CostInputs => ({
  cadenceMinutes,
  memoryMb: lambdaConfig.memoryMb,
  // At 1 tick per monitor per cadence, a monitor's ticks never share an invocation with each
  // other; with the stack's batch size 1 every tick is its own invocation.
  ticksPerInvocation: lambdaConfig.batchSize,
  steady: steadyProfile,
  perEmail,
  emailsPerMonth: opts.emailsPerMonth,
  sqsRequestsPerInvocation: 2,
  platformLogBytesPerInvocation: PLATFORM_LOG_BYTES,
  tracing: lambdaConfig.tracing,
  xraySampledShare: XRAY_SAMPLED_SHARE,
  historyItemBytes: scenario.itemBytes.run,
  historyRetentionDays: 14,
});
const fleetPrices = prices as FleetPrices;
// Engine v2, per fleet size: ticks arrive in bursts at the minute, so batches fill up with the
// fleet (up to 10) across the event source's 50 concurrent pollers.
const fleetInputs = (monitors: number, cadenceMinutes: number) => ({
  monitors,
  cadenceMinutes,
  memoryMb: lambdaConfig.memoryMb,
  steady: steadyProfile,
  perEmail,
  emailsPerMonth: opts.emailsPerMonth,
  ticksPerInvocation: Math.min(10, Math.max(1, monitors / cadenceMinutes / 50)),
  // ReceiveMessage, DeleteMessageBatch, and an early delete when the batch holds a slow group.
  sqsRequestsPerInvocation: 2.2,
  platformLogBytesPerInvocation: PLATFORM_LOG_BYTES,
  fanOutMsPerMember: (fanOutResult.seconds * 1000) / fanOutResult.members,
  // A keys-only index entry is about 60 bytes: 0.5 RRU per 4 KB read eventually consistently.
  fanOutReadUnitsPerMember: (60 / 4096) * 0.5,
  fanOutMemoryMb: 512,
  // Config, state and schedule items, plus 14 days of quarter-hourly summaries.
  storedBytesPerMonitor: 2048 + 96 * 14 * (scenario.itemBytes.run + 100),
  alarms: STACK_ALARMS,
  customMetrics: CUSTOM_METRICS,
  idlePollersPerQueue: 5,
  tracing: lambdaConfig.tracing,
});
const fleetSizes = [100, 10_000, 100_000] as const;
const fleetCost = (cadenceMinutes: number) =>
  Object.fromEntries(
    fleetSizes.map((monitors) => [
      String(monitors),
      fleetCostPerMonitorMonth(fleetInputs(monitors, cadenceMinutes), fleetPrices).perMonitorUsd,
    ]),
  ) as Record<"100" | "10000" | "100000", number>;
const cost = {
  oneMinute: fleetCost(1),
  fiveMinute: fleetCost(5),
  breakdownOneMinute10k: fleetCostPerMonitorMonth(fleetInputs(10_000, 1), fleetPrices).breakdownPerMonitor,
  peerOneMinuteUsd: PEER_ONE_MINUTE_USD,
  assumptions: {
    batchFill: "min(10, max(1, monitors / cadence / 50)) ticks per orchestrator invocation",
    steadyTick: steadyProfile,
    fanOutMsPerMember: round((fanOutResult.seconds * 1000) / fanOutResult.members, 4),
    fixed: `clock (1/min) + heartbeat (1/5 min) schedules, fan-out invocation each minute, 2 queues x 5 idle pollers x 3 polls/min, ${STACK_ALARMS} alarms, ${CUSTOM_METRICS} custom metrics, PITR`,
    excluded: "free tiers; SES mail beyond emailsPerMonth; data transfer",
  },
};
const oneMinute = costPerMonitorMonth(baseInputs(1), prices);
const fiveMinute = costPerMonitorMonth(baseInputs(5), prices);
const roc = s.steadyRecordOnlyChanges;
const whatIf = (changes: Partial<CostInputs>, steady: Partial<CostInputs["steady"]> = {}) =>
  costPerMonitorMonth({ ...baseInputs(1), ...changes, steady: { ...steadyProfile, ...steady } }, prices)
    .totalUsd;
const whatIfOneMinute = {
  recordOnlyChangesDefault: whatIf({}, { writeUnits: roc.counts.writeUnits, logBytes: roc.logBytes }),
  lambdaBatchSize10: whatIf({ ticksPerInvocation: 10 }),
  noTracing: whatIf({ tracing: false }),
  allThree: whatIf(
    { ticksPerInvocation: 10, tracing: false },
    { writeUnits: roc.counts.writeUnits, logBytes: roc.logBytes },
  ),
};

// SQS requests a tick causes outside the handler, as deployed: Scheduler's SendMessage, and the
// event source mapping's ReceiveMessage + DeleteMessage per invocation of `batchSize` ticks.
const pipelineSqs = {
  "sqs:SendMessage (Scheduler)": 1,
  "sqs:ReceiveMessage (event source mapping)": round(1 / lambdaConfig.batchSize, 3),
  "sqs:DeleteMessage (event source mapping)": round(1 / lambdaConfig.batchSize, 3),
};
const pipelineSqsTotal = Object.values(pipelineSqs).reduce((sum, n) => sum + n, 0);
const requestsPerTick = Object.fromEntries(
  Object.entries(s).map(([name, r]) => [
    name,
    {
      dynamodb: r.counts.dynamodb,
      sqs: round(r.counts.sqs + pipelineSqsTotal, 3),
      ses: r.counts.ses,
      total: round(r.counts.total + pipelineSqsTotal, 3),
      byOperation: { ...r.counts.byOperation, ...pipelineSqs },
      handlerRequests: r.counts.total,
      readUnits: r.counts.readUnits,
      writeUnits: r.counts.writeUnits,
      reportedByDynamoDbLocal: {
        readUnits: r.counts.reportedReadUnits,
        writeUnits: r.counts.reportedWriteUnits,
      },
      logBytes: r.logBytes,
      handlerWallMs: round(r.wallMs, 2),
      handlerCpuMs: round(r.cpuMs, 2),
      samples: r.samples,
      consistentAcrossSamples: r.consistent,
    },
  ]),
);

(requestsPerTick as Record<string, unknown>).steady = steadyEntry(
  requestsPerTick.steady as Record<string, unknown>,
  steadyCycle.atBatchSize,
  steadyCycle.oneTick,
);

// Schedule evaluation (functions/core/schedule.ts): next 10 runs of a set of expressions, in-process.
const schedules = measureSchedules();
const targets = {
  steadyDynamoDbReads: {
    target: `<= ${TARGETS.steadyDynamoDbReads} per tick, heartbeat cycle`,
    value: steadyCycle.atBatchSize.dynamodbReads,
    result: verdict(steadyCycle.atBatchSize.dynamodbReads <= TARGETS.steadyDynamoDbReads),
  },
  steadyDynamoDbWrites: {
    target: `<= ${TARGETS.steadyDynamoDbWrites} per tick, heartbeat cycle`,
    value: steadyCycle.atBatchSize.dynamodbWrites,
    result: verdict(steadyCycle.atBatchSize.dynamodbWrites <= TARGETS.steadyDynamoDbWrites),
  },
  throughputRatioToFloor: {
    target: `>= ${TARGETS.ratioToFloor}`,
    value: throughput?.ratioToFloor,
    result: verdict(throughput ? throughput.ratioToFloor >= TARGETS.ratioToFloor : undefined),
  },
  ...coldStartTargets(coldStartResult),
  costOneMinuteUsdAt10k: {
    target: `<= ${TARGETS.fleetOneMinuteUsdAt10k} (engine v2, everything counted)`,
    value: cost.oneMinute["10000"],
    result: verdict(cost.oneMinute["10000"] <= TARGETS.fleetOneMinuteUsdAt10k),
  },
  fanOut100kSeconds: {
    target: "< 20 s (modelled for AWS from measured per-call figures)",
    value: fanOutResult.modelledSecondsFor100k,
    result: verdict(fanOutResult.modelledSecondsFor100k < 20),
  },
  costOneMinuteUsd: {
    target: `<= ${TARGETS.oneMinuteUsd}`,
    value: oneMinute.totalUsd,
    result: verdict(oneMinute.totalUsd <= TARGETS.oneMinuteUsd),
  },
  nextTenRunsMs: {
    target: "< 1 ms median, slowest expression",
    value: schedules.worstCaseMedianMs,
    result: verdict(schedules.worstCaseMedianMs < 1),
  },
};

const results = {
  cost,
  dashboard,
  fanOut: fanOutResult,
  throughput: throughput ?? null,
  schedules,
  requestsPerTick,
  costPerMonitorMonthUsd: {
    oneMinute: oneMinute.totalUsd,
    fiveMinute: fiveMinute.totalUsd,
    breakdown: oneMinute.breakdown,
    breakdownFiveMinute: fiveMinute.breakdown,
    volumesOneMinute: oneMinute.volumes,
    volumesFiveMinute: fiveMinute.volumes,
    whatIfOneMinute,
    assumptions: {
      pricesDate: pricesFile.date,
      hoursPerMonth: 730,
      ticksPerInvocation: lambdaConfig.batchSize,
      sqsRequestsPerTick: `1 SendMessage (Scheduler) + ${2 / lambdaConfig.batchSize} (ReceiveMessage + DeleteMessage per invocation of ${lambdaConfig.batchSize} tick(s))`,
      emailsPerMonth: opts.emailsPerMonth,
      lambdaMemoryMb: lambdaConfig.memoryMb,
      lambdaMsSteady: steadyProfile.lambdaMs,
      lambdaMsExtraPerEmail: round(perEmail.lambdaMs, 1),
      lambdaMsRule: `local wall + local CPU x (${MB_PER_VCPU} / ${lambdaConfig.memoryMb} - 1): a ${lambdaConfig.memoryMb} MB function has ${round(lambdaConfig.memoryMb / MB_PER_VCPU, 2)} vCPU; DynamoDB Local latency stands in for DynamoDB's`,
      logBytesSteadyTick: steadyProfile.logBytes,
      platformLogBytesPerInvocation: PLATFORM_LOG_BYTES,
      xraySampledShare: lambdaConfig.tracing ? XRAY_SAMPLED_SHARE : 0,
      historyItemBytes: scenario.itemBytes.run,
      capacity:
        "computed from item sizes with DynamoDB's documented rules (1 WRU per started KB of the larger of old and new item, x2 in TransactWriteItems; 1 RRU per started 4 KB per key, strongly consistent); DynamoDB Local's ReturnConsumedCapacity is reported alongside but under-counts transactions",
      excluded:
        "free tiers; fixed costs (idle long polls, alarms, custom metrics, schedule-sync, Lambda INIT billing)",
    },
  },
  coldStart: coldStartResult ?? null,
  targets,
  handlerTiming: {
    method:
      "one invocation at a time, one tick each, nothing else running; median; CPU = this process (handler, SDK, in-process fauxqs/SES)",
    steadyWallMs: round(scenario.steadyTiming.wallMs, 2),
    steadyCpuMs: round(scenario.steadyTiming.cpuMs, 2),
    floorWallMs: round(scenario.floorTiming.wallMs, 2),
    floorCpuMs: round(scenario.floorTiming.cpuMs, 2),
    floorWithHistoryWallMs: round(scenario.floorWithHistoryTiming.wallMs, 2),
    floorWithHistoryCpuMs: round(scenario.floorWithHistoryTiming.cpuMs, 2),
    samples: scenario.steadyTiming.samples,
    estimatedLambdaMs: steadyProfile.lambdaMs,
    steadyTickCpuProfile: scenario.cpuProfile,
  },
  itemBytes: scenario.itemBytes,
  lambda: { ...lambdaConfig },
  environment: {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGb: round(totalmem() / 1024 ** 3, 1),
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
    monitors: opts.monitors,
    loadAverageBefore: loadBefore.map((v) => round(v, 2)),
    loadAverageAfter: loadavg().map((v) => round(v, 2)),
    durationSeconds: round((performance.now() - benchStarted) / 1000, 1),
    command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
  },
};
writeFileSync(resolve(ROOT, opts.out), `${JSON.stringify(results, null, 2)}\n`);

// ---------------------------------------------------------------- table
const table = new Table({ head: ["metric", "value", "target"] });
const t = throughput;
table.push(
  ["ticks/s (pipeline)", t ? `${t.ticksPerSecond}` : "skipped", ""],
  ["ticks/s (floor)", t ? `${t.floorTicksPerSecond}` : "skipped", ""],
  ["ticks/s (floor + history transaction)", t ? `${t.floorWithHistoryTicksPerSecond}` : "skipped", ""],
  [
    "ratio to floor",
    t ? `${t.ratioToFloor}` : "skipped",
    `>= 0.8 ${mark(targets.throughputRatioToFloor.result)}`,
  ],
  ["latency p50 / p95 / p99 ms", t ? `${t.p50Ms} / ${t.p95Ms} / ${t.p99Ms}` : "skipped", ""],
  ["emails sent (throughput rounds)", t ? `${t.emailsSent}` : "skipped", ""],
  [
    "dashboard overview, 1,000 monitors",
    `${dashboard.overviewRequests} DynamoDB requests with ${dashboard.runs.map((run) => `${run.tableItems}`).join(" or ")} items in the table (Scan before reconcile: ${dashboard.runs.map((run) => run.scanFallback.requests).join(" / ")}), ${Math.round(dashboard.overviewPageBytes / 1024)} KB (${Math.round(dashboard.overviewPageGzipBytes / 1024)} KB gzip)`,
    `< 200 KB ${mark(dashboard.result)}`,
  ],
);
for (const name of ["steady", "steadyRecordOnlyChanges", "alerting", "recovering"] as const) {
  const r = s[name];
  const p = requestsPerTick[name] as { sqs: number; total: number };
  const ops = Object.entries(r.counts.byOperation)
    .map(([op, n]) => `${op.split(":")[1]}${n > 1 ? `x${n}` : ""}`)
    .join(" + ");
  table.push([
    `requests/tick ${name}`,
    `total ${p.total}: ddb ${r.counts.dynamodb}, ses ${r.counts.ses} (${ops}), sqs ${p.sqs} (send+receive+delete); ${r.counts.readUnits} RRU, ${r.counts.writeUnits} WRU`,
    "",
  ]);
}
const cycle = steadyCycle.atBatchSize;
table.push([
  `requests/steady tick over a ${cycle.heartbeatMinutes}-minute heartbeat, ${cycle.monitorsPerInvocation} per invocation`,
  `ddb reads ${cycle.dynamodbReads}, writes ${cycle.dynamodbWrites}; ${cycle.readUnits} RRU, ${cycle.writeUnits} WRU (1 per invocation: reads ${steadyCycle.oneTick.dynamodbReads})`,
  `reads <= 1 ${mark(targets.steadyDynamoDbReads.result)}, writes <= 0.1 ${mark(targets.steadyDynamoDbWrites.result)}`,
]);
table.push(
  [
    "$/monitor-month, 1-minute, 100 / 10k / 100k",
    `${cost.oneMinute["100"]} / ${cost.oneMinute["10000"]} / ${cost.oneMinute["100000"]} (cheapest peer ${PEER_ONE_MINUTE_USD})`,
    `10k <= ${TARGETS.fleetOneMinuteUsdAt10k} ${mark(targets.costOneMinuteUsdAt10k.result)}`,
  ],
  [
    "$/monitor-month, 5-minute, 100 / 10k / 100k",
    `${cost.fiveMinute["100"]} / ${cost.fiveMinute["10000"]} / ${cost.fiveMinute["100000"]}`,
    "",
  ],
  [
    "  breakdown (1-minute, 10k)",
    Object.entries(cost.breakdownOneMinute10k)
      .map(([k, v]) => `${k} ${v}`)
      .join(", "),
    "",
  ],
  [
    "fan-out",
    `${fanOutResult.members} members in ${fanOutResult.seconds} s locally (${fanOutResult.monitorsPerSecondLocal}/s); 100k modelled in AWS: ${fanOutResult.modelledSecondsFor100k} s`,
    `< 20 s ${mark(targets.fanOut100kSeconds.result)}`,
  ],
  [
    "$/monitor-month, 1-minute (per-tick model)",
    `${oneMinute.totalUsd}`,
    `<= 0.11 ${mark(targets.costOneMinuteUsd.result)}`,
  ],
  [
    "  breakdown (1-minute)",
    Object.entries(oneMinute.breakdown)
      .map(([k, v]) => `${k} ${v}`)
      .join(", "),
    "",
  ],
  ["$/monitor-month, 5-minute", `${fiveMinute.totalUsd}`, ""],
);
table.push([
  "next 10 runs, median ms",
  `${schedules.medianMs} (slowest expression ${schedules.worstCaseMedianMs}: ${schedules.worstCase})`,
  `< 1 ${mark(targets.nextTenRunsMs.result)}`,
]);
process.stdout.write(`${table.toString()}\n`);
if (coldStartResult) printColdStart(coldStartResult, targets);
process.stdout.write(
  `${pc.dim(
    `wrote ${opts.out} in ${results.environment.durationSeconds} s; load average before ${loadBefore.map((v) => v.toFixed(1)).join(" ")}, after ${loadavg()
      .map((v) => v.toFixed(1))
      .join(" ")}`,
  )}\n`,
);
