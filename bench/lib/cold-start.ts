import { spawn } from "node:child_process";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as esbuild from "esbuild";
import type { LambdaConfig } from "./lambda-config.ts";
import { median, percentile, round } from "./stats.ts";

/**
 * Cold start: the orchestrator bundled exactly as the CDK function bundles it, its size, and its
 * module-initialisation time in fresh Node processes, next to a baseline bundle that only creates
 * the same AWS SDK clients bundled the same way (so with the same credential provider: the
 * environment-variable one that lib/lambda-bundling.ts substitutes for the SDK's default chain), so
 * that the ratio measures our own code. Variants that each add or change one thing say what it costs.
 */

export interface BundleResult {
  file: string;
  bytes: number;
  mapBytes: number;
  metafile: esbuild.Metafile;
}

export interface Variant {
  name: string;
  description: string;
  entry: { file: string } | { contents: string };
  plugins?: esbuild.Plugin[];
  /** Overrides the function's NODE_OPTIONS for this variant. */
  nodeOptions?: string;
  external?: string[];
  /** Overrides the function's esbuild aliases (lib/lambda-bundling.ts); `{}`: none. */
  alias?: Record<string, string>;
}

const BASELINE_SOURCE = `
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { SESv2Client } from "@aws-sdk/client-sesv2";
import { SQSClient } from "@aws-sdk/client-sqs";
const dynamo = new DynamoDBClient({});
export const clients = [dynamo, DynamoDBDocumentClient.from(dynamo), new SESv2Client({}), new SQSClient({})];
export const handler = async () => clients.length;
`;

const withBaseline = (extra: string) => ({ contents: `${BASELINE_SOURCE}\n${extra}` });

export function variants(root: string, config: LambdaConfig): Variant[] {
  const handler = { file: join(root, "functions/orchestrator/handler.ts") };
  const baseline = { contents: BASELINE_SOURCE };
  const list: Variant[] = [
    { name: "orchestrator", description: "functions/orchestrator/handler.ts as deployed", entry: handler },
    {
      name: "baseline",
      description:
        "only the AWS SDK clients (DynamoDB, lib-dynamodb, SESv2, SQS), created; same bundling, so the same credentials (environment variables)",
      entry: baseline,
    },
    {
      name: "baseline+zod-schemas",
      description: "baseline + functions/core/schemas.ts (zod classic)",
      entry: withBaseline('import * as schemas from "#core/schemas.ts";\nglobalThis.__keep = schemas;'),
    },
    {
      name: "baseline+zod-classic",
      description: "baseline + zod classic with one object schema: the library's own cost",
      entry: withBaseline('import * as z from "zod";\nglobalThis.__keep = z.object({ a: z.string() });'),
    },
    {
      name: "baseline+zod-mini",
      description: "baseline + zod/mini with one object schema: the library's own cost",
      entry: withBaseline('import * as z from "zod/mini";\nglobalThis.__keep = z.object({ a: z.string() });'),
    },
    {
      name: "baseline+powertools",
      description: "baseline + Powertools Logger, Metrics, batch processor (no Tracer)",
      entry: withBaseline(`import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { SqsFifoPartialProcessorAsync } from "@aws-lambda-powertools/batch";
globalThis.__keep = [new Logger(), new Metrics({ namespace: "x" }), new SqsFifoPartialProcessorAsync()];`),
    },
    {
      name: "baseline+tracer",
      description: "baseline + Powertools Tracer wrapping the clients (pulls aws-xray-sdk-core)",
      entry: withBaseline(`import { Tracer } from "@aws-lambda-powertools/tracer";
const tracer = new Tracer({ serviceName: "x" });
globalThis.__keep = clients.map((c) => tracer.captureAWSv3Client(c));`),
    },
    {
      name: "orchestrator+default-credentials",
      description: "orchestrator with the SDK's whole default credential chain (no alias): before issue 13",
      entry: handler,
      alias: {},
    },
    {
      name: "baseline+default-credentials",
      description: "baseline with the SDK's whole default credential chain (no alias)",
      entry: baseline,
      alias: {},
    },
    {
      name: "orchestrator+sdk-external",
      description: "@aws-sdk/* external (CDK's default: the runtime's SDK)",
      entry: handler,
      external: ["@aws-sdk/*"],
    },
  ];
  if (config.nodeOptions.includes("--enable-source-maps")) {
    list.push(
      {
        name: "orchestrator-no-source-maps",
        description: "orchestrator bundle, NODE_OPTIONS without --enable-source-maps",
        entry: handler,
        nodeOptions: config.nodeOptions.replace("--enable-source-maps", "").trim(),
      },
      {
        name: "baseline-no-source-maps",
        description: "baseline bundle, NODE_OPTIONS without --enable-source-maps",
        entry: baseline,
        nodeOptions: config.nodeOptions.replace("--enable-source-maps", "").trim(),
      },
    );
  }
  return list;
}

export async function bundle(
  root: string,
  outDir: string,
  config: LambdaConfig,
  variant: Variant,
): Promise<BundleResult> {
  const dir = join(outDir, variant.name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, config.bundling.format === "esm" ? "index.mjs" : "index.js");
  const entry =
    "file" in variant.entry
      ? { entryPoints: [variant.entry.file] }
      : {
          stdin: {
            contents: variant.entry.contents,
            resolveDir: root,
            sourcefile: `${variant.name}.ts`,
            loader: "ts" as const,
          },
        };
  const result = await esbuild.build({
    ...entry,
    absWorkingDir: root,
    bundle: true,
    platform: "node",
    format: config.bundling.format,
    target: config.bundling.target,
    minify: config.bundling.minify,
    sourcemap: config.bundling.sourcemap,
    sourcesContent: config.bundling.sourcesContent,
    mainFields: config.bundling.mainFields,
    external: variant.external ?? config.bundling.external,
    // Relative to the project root, as CDK runs esbuild there.
    alias: Object.fromEntries(
      Object.entries(variant.alias ?? config.bundling.alias).map(([from, to]) => [from, join(root, to)]),
    ),
    ...(config.bundling.banner ? { banner: { js: config.bundling.banner } } : {}),
    outfile: file,
    metafile: true,
    logLevel: "error",
    plugins: variant.plugins ?? [],
  });
  const mapFile = `${file}.map`;
  let mapBytes = 0;
  try {
    mapBytes = statSync(mapFile).size;
  } catch {}
  return { file, bytes: statSync(file).size, mapBytes, metafile: result.metafile };
}

/** Output bytes per npm package (or first-party folder), largest first. */
export function bytesByPackage(
  metafile: esbuild.Metafile,
  top = 12,
): Array<{ module: string; bytes: number }> {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, info] of Object.entries(output.inputs)) {
      const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
      const key = match?.[1] ?? input.split("/").slice(0, 2).join("/");
      totals.set(key, (totals.get(key) ?? 0) + info.bytesInOutput);
    }
  }
  return [...totals.entries()]
    .map(([module, bytes]) => ({ module, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, top);
}

/** Bytes of zod's locale files in the bundle: the part a namespace import drops. */
export function zodLocaleBytes(metafile: esbuild.Metafile): number {
  let bytes = 0;
  for (const output of Object.values(metafile.outputs))
    for (const [input, info] of Object.entries(output.inputs))
      if (/node_modules\/zod\/.*\/locales\//.test(input)) bytes += info.bytesInOutput;
  return bytes;
}

const RUNNER = `
const cpu = process.cpuUsage();
const started = performance.now();
const module = await import(process.argv[2]);
const initMs = performance.now() - started;
const used = process.cpuUsage(cpu);
if (typeof module.handler !== "function") throw new Error("no handler export");
process.stdout.write(JSON.stringify({ initMs, initCpuMs: (used.user + used.system) / 1000 }));
`;

/** Environment of a Lambda execution environment, so module-level code runs as it does there. */
export function lambdaEnvironment(config: LambdaConfig, nodeOptions: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    NODE_OPTIONS: `${nodeOptions} --no-warnings`.trim(),
    AWS_REGION: "us-east-1",
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_SESSION_TOKEN: "local",
    AWS_EXECUTION_ENV: `AWS_Lambda_${config.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: "watchkeeper-orchestrator",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_LOG_FORMAT: "JSON",
    LAMBDA_TASK_ROOT: "/var/task",
    MONITORS_TABLE: "Monitors",
    SENDER_EMAIL: "watchkeeper@example.com",
    TICKS_DLQ_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/watchkeeper-ticks-dlq.fifo",
    DEFAULT_TIMEZONE: "America/Chicago",
    POWERTOOLS_SERVICE_NAME: "orchestrator",
    POWERTOOLS_METRICS_NAMESPACE: "Watchkeeper",
    ...(config.tracing ? {} : { POWERTOOLS_TRACE_ENABLED: "false" }),
  };
}

interface Sample {
  initMs: number;
  initCpuMs: number;
  wallMs: number;
}

function runOnce(runner: string, file: string, env: NodeJS.ProcessEnv): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [runner, file], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.on("exit", (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0) return reject(new Error(`init run of ${file} exited ${code}: ${err.slice(-2000)}`));
      try {
        const { initMs, initCpuMs } = JSON.parse(out) as { initMs: number; initCpuMs: number };
        resolve({ initMs, initCpuMs, wallMs });
      } catch {
        reject(new Error(`init run of ${file} printed no result: ${out.slice(0, 500)} ${err.slice(-1000)}`));
      }
    });
  });
}

export interface InitMeasurement {
  name: string;
  runs: number;
  initMs: number;
  initMsP25: number;
  initMsP75: number;
  /** CPU time (user + system, all threads) spent importing: less sensitive to a busy machine. */
  initCpuMs: number;
  processWallMs: number;
}

/** Runs every bundle `runs` times, interleaved (A B C A B C ...) so that drift hits all alike. */
export async function measureInit(
  outDir: string,
  config: LambdaConfig,
  targets: Array<{ name: string; file: string; nodeOptions: string; runs: number }>,
): Promise<InitMeasurement[]> {
  const runner = join(outDir, "init-runner.mjs");
  writeFileSync(runner, RUNNER);
  const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
  // One unmeasured run each warms the OS file cache.
  for (const target of targets)
    await runOnce(runner, target.file, lambdaEnvironment(config, target.nodeOptions));
  const maxRuns = Math.max(...targets.map((t) => t.runs));
  for (let run = 0; run < maxRuns; run++) {
    for (const target of targets) {
      if (run >= target.runs) continue;
      samples
        .get(target.name)
        ?.push(await runOnce(runner, target.file, lambdaEnvironment(config, target.nodeOptions)));
    }
  }
  return targets.map((target) => {
    const list = samples.get(target.name) ?? [];
    const init = list.map((s) => s.initMs);
    return {
      name: target.name,
      runs: list.length,
      initMs: median(init),
      initMsP25: percentile(init, 25),
      initMsP75: percentile(init, 75),
      initCpuMs: median(list.map((s) => s.initCpuMs)),
      processWallMs: median(list.map((s) => s.wallMs)),
    };
  });
}

/**
 * The `coldStart` section of bench/results.json: every variant bundled, the orchestrator and the
 * baseline imported `initRuns` times each, the other variants `attributionRuns` times, interleaved.
 */
export async function measureColdStart(
  root: string,
  outDir: string,
  config: LambdaConfig,
  runs: { initRuns: number; attributionRuns: number },
  say: (line: string) => void = () => {},
) {
  const list = variants(root, config);
  const bundles = new Map<string, BundleResult>();
  for (const variant of list) bundles.set(variant.name, await bundle(root, outDir, config, variant));
  say(
    `bundled ${list.length} variants; measuring init (${runs.initRuns} runs main, ${runs.attributionRuns} per variant)`,
  );
  const measured = await measureInit(
    outDir,
    config,
    list.map((variant) => ({
      name: variant.name,
      file: bundles.get(variant.name)?.file ?? "",
      nodeOptions: variant.nodeOptions ?? config.nodeOptions,
      runs:
        variant.name === "orchestrator" || variant.name === "baseline" ? runs.initRuns : runs.attributionRuns,
    })),
  );
  const byName = new Map<string, InitMeasurement>(measured.map((m) => [m.name, m]));
  const main = bundles.get("orchestrator");
  const orchestrator = byName.get("orchestrator");
  const baseline = byName.get("baseline");
  if (!main || !orchestrator || !baseline) throw new Error("cold start: main bundles missing");
  return {
    bundleBytes: main.bytes,
    sourceMapBytes: main.mapBytes,
    baselineBundleBytes: bundles.get("baseline")?.bytes ?? 0,
    initMs: round(orchestrator.initMs, 1),
    baselineInitMs: round(baseline.initMs, 1),
    ratio: round(orchestrator.initMs / baseline.initMs, 2),
    initCpuMs: round(orchestrator.initCpuMs, 1),
    baselineInitCpuMs: round(baseline.initCpuMs, 1),
    cpuRatio: round(orchestrator.initCpuMs / baseline.initCpuMs, 2),
    runs: orchestrator.runs,
    method:
      "esbuild with lib/'s bundling options, including lib/lambda-bundling.ts's aliases (environment-variable credentials), for the orchestrator and for the SDK-only baseline alike; each bundle imported by a fresh `node` (NODE_OPTIONS as the function's) with Lambda-like env vars; initMs = wall time of the dynamic import (median), initCpuMs = process CPU time during it (median); runs interleaved",
    bundling: config.bundling,
    nodeOptions: config.nodeOptions,
    largestModules: bytesByPackage(main.metafile, 12),
    zodLocaleBytes: zodLocaleBytes(main.metafile),
    variants: list.map((variant) => {
      const m = byName.get(variant.name);
      const b = bundles.get(variant.name);
      return {
        name: variant.name,
        description: variant.description,
        bundleBytes: b?.bytes ?? 0,
        initMs: round(m?.initMs ?? Number.NaN, 1),
        initMsIqr: [round(m?.initMsP25 ?? Number.NaN, 1), round(m?.initMsP75 ?? Number.NaN, 1)],
        initCpuMs: round(m?.initCpuMs ?? Number.NaN, 1),
        runs: m?.runs ?? 0,
      };
    }),
  };
}
