import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import * as esbuild from "esbuild";
import { LAZY_SDK_PACKAGES, sideBundleCommands, splitMainBundleCommand } from "#lib/lambda-bundling.ts";
import { eagerOutputs, oneEagerChunk } from "#lib/split-main-bundle.ts";
import type { LambdaConfig } from "./lambda-config.ts";
import type { BenchNode } from "./runtime-node.ts";
import { median, percentile, round } from "./stats.ts";

/**
 * Cold start: the orchestrator bundled exactly as the CDK function bundles it, its size, and its
 * module-initialisation time in fresh Node processes, next to a baseline bundle that only creates
 * the same AWS SDK clients bundled the same way (so with the same credential provider: the
 * environment-variable one that lib/lambda-bundling.ts substitutes for the SDK's default chain), so
 * that the ratio measures our own code. Variants that each add or change one thing say what it costs.
 * The orchestrator's asset also carries side bundles (LAZY_SDK_PACKAGES: the clients few ticks
 * need, SES included), built by the same commands as the stack's (sideBundleCommands): their bytes
 * are reported beside the main bundle's, though a cold start loads none of them.
 */

export interface BundleResult {
  file: string;
  /** What a cold start loads: the entry file and, when split, the chunks it imports statically. */
  bytes: number;
  mapBytes: number;
  metafile: esbuild.Metafile;
  /** Split bundles: the output files a cold start loads (keys of metafile.outputs). */
  eagerOutputs?: Set<string>;
  /** Split bundles: the chunks loaded on first use only (dynamic imports), source maps aside. */
  lazyChunkBytes?: number;
  /** The side bundles built beside it (Variant.sideBundles). */
  side?: SideBundles;
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
  /**
   * Built as the stack builds the orchestrator's asset: the main bundle split by
   * splitMainBundleCommand and the side bundles by sideBundleCommands (lib/lambda-bundling.ts),
   * the very shell commands of its `afterBundling` hook. Needs `entry.file`.
   */
  asDeployed?: boolean;
  /** Code splitting as the deployed orchestrator (for variants of it built with other options). */
  split?: boolean;
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

/** The clients the orchestrator creates at init since issue 13: SES is made on the first send. */
const EAGER_CLIENTS_SOURCE = `
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
const dynamo = new DynamoDBClient({});
export const clients = [dynamo, DynamoDBDocumentClient.from(dynamo), new SQSClient({})];
export const handler = async () => clients.length;
`;

const withBaseline = (extra: string) => ({ contents: `${BASELINE_SOURCE}\n${extra}` });

export function variants(root: string, config: LambdaConfig): Variant[] {
  const handler = { file: join(root, "functions/orchestrator/handler.ts") };
  const baseline = { contents: BASELINE_SOURCE };
  // The baselines bundle every client they create (none is a side bundle for them).
  const inline: string[] = [];
  const list: Variant[] = [
    {
      name: "orchestrator",
      description:
        "functions/orchestrator/handler.ts as deployed (main bundle; side bundles built beside it)",
      entry: handler,
      asDeployed: true,
    },
    {
      name: "orchestrator-single-file",
      description:
        "orchestrator as one file (no code splitting): the checks and the SDK's lazy imports in the main bundle, evaluated on first use",
      entry: handler,
    },
    {
      name: "orchestrator+first-http-check",
      description:
        "orchestrator, then the http check's module loaded (what the first tick of an http monitor adds, once per cold start)",
      entry: {
        // Loaded by `warm` (RUNNER), after the entry: a top-level await of it would wait on itself,
        // since each lazily loaded module imports the entry (lib/split-main-bundle.ts).
        contents: `export * from ${JSON.stringify(handler.file)};\nexport const warm = () => import(${JSON.stringify(join(root, "monitors/http.ts"))});\n`,
      },
      split: true,
    },
    {
      name: "baseline",
      description:
        "only the AWS SDK clients (DynamoDB, lib-dynamodb, SESv2, SQS), created; same bundling, so the same credentials (environment variables)",
      entry: baseline,
      external: inline,
    },
    {
      name: "baseline-eager-clients",
      description:
        "only the clients the orchestrator creates at init (DynamoDB, lib-dynamodb, SQS; SES is made on the first send), created; same bundling",
      entry: { contents: EAGER_CLIENTS_SOURCE },
      external: inline,
    },
    {
      name: "orchestrator+ses-in-bundle",
      description:
        "orchestrator with SES v2 in the main bundle (still imported on the first send): what the side bundle saves",
      entry: handler,
      external: LAZY_SDK_PACKAGES.filter((name) => name !== "@aws-sdk/client-sesv2"),
      split: true,
    },
    {
      name: "baseline+zod-schemas",
      description: "baseline + functions/core/schemas.ts (zod/mini since issue 13)",
      entry: withBaseline('import * as schemas from "#core/schemas.ts";\nglobalThis.__keep = schemas;'),
      external: inline,
    },
    {
      name: "baseline+checks",
      description:
        "baseline + the check registry (monitors/index.ts: every check module and its params schema)",
      entry: withBaseline('import { checks } from "#monitors/index.ts";\nglobalThis.__keep = checks;'),
      // The checks' own clients stay side bundles, as in the orchestrator; the baseline's SES does not.
      external: LAZY_SDK_PACKAGES.filter((name) => name !== "@aws-sdk/client-sesv2"),
    },
    {
      name: "baseline+zod-classic",
      description: "baseline + zod classic with one object schema: the library's own cost",
      entry: withBaseline('import * as z from "zod";\nglobalThis.__keep = z.object({ a: z.string() });'),
      external: inline,
    },
    {
      name: "baseline+zod-mini",
      description: "baseline + zod/mini with one object schema: the library's own cost",
      entry: withBaseline('import * as z from "zod/mini";\nglobalThis.__keep = z.object({ a: z.string() });'),
      external: inline,
    },
    {
      name: "baseline+powertools",
      description: "baseline + Powertools Logger, Metrics, batch processor (no Tracer)",
      entry: withBaseline(`import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { SqsFifoPartialProcessorAsync } from "@aws-lambda-powertools/batch";
globalThis.__keep = [new Logger(), new Metrics({ namespace: "x" }), new SqsFifoPartialProcessorAsync()];`),
      external: inline,
    },
    {
      name: "baseline+tracer",
      description: "baseline + Powertools Tracer wrapping the clients (pulls aws-xray-sdk-core)",
      entry: withBaseline(`import { Tracer } from "@aws-lambda-powertools/tracer";
const tracer = new Tracer({ serviceName: "x" });
globalThis.__keep = clients.map((c) => tracer.captureAWSv3Client(c));`),
      external: inline,
    },
    {
      name: "orchestrator+default-credentials",
      description: "orchestrator with the SDK's whole default credential chain (no alias): before issue 13",
      entry: handler,
      alias: {},
      split: true,
    },
    {
      name: "baseline+default-credentials",
      description: "baseline with the SDK's whole default credential chain (no alias)",
      entry: baseline,
      alias: {},
      external: inline,
    },
    {
      name: "orchestrator+sdk-external",
      description: "@aws-sdk/* external (CDK's default: the runtime's SDK)",
      entry: handler,
      external: ["@aws-sdk/*"],
      split: true,
    },
  ];
  if (config.nodeOptions.includes("--enable-source-maps")) {
    list.push(
      {
        name: "orchestrator-no-source-maps",
        description: "orchestrator bundle, NODE_OPTIONS without --enable-source-maps",
        entry: handler,
        split: true,
        nodeOptions: config.nodeOptions.replace("--enable-source-maps", "").trim(),
      },
      {
        name: "baseline-no-source-maps",
        description: "baseline bundle, NODE_OPTIONS without --enable-source-maps",
        entry: baseline,
        external: inline,
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
  if (variant.asDeployed) return bundleAsDeployed(root, dir, config, variant);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, config.bundling.format === "esm" ? "index.mjs" : "index.js");
  // A split bundle needs an entry file: source text is written next to the bundle (absolute imports).
  const entryFile =
    "file" in variant.entry
      ? variant.entry.file
      : variant.split
        ? join(outDir, `${variant.name}.entry.ts`)
        : undefined;
  if (entryFile && "contents" in variant.entry) writeFileSync(entryFile, variant.entry.contents);
  const entry = entryFile
    ? { entryPoints: variant.split ? { index: entryFile } : [entryFile] }
    : {
        stdin: {
          contents: "contents" in variant.entry ? variant.entry.contents : "",
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
    // Split as the orchestrator's asset is (splitMainBundleCommand), or one file.
    ...(variant.split
      ? {
          splitting: true,
          outdir: dir,
          outExtension: { ".js": ".mjs" },
          entryNames: "[name]",
          chunkNames: "_chunks/[name]-[hash]",
        }
      : { outfile: file }),
    metafile: true,
    logLevel: "error",
    // Split as the deployed asset is: one chunk for what the entry reaches (lib/split-main-bundle.ts).
    plugins: [...(variant.plugins ?? []), ...(variant.split && entryFile ? [oneEagerChunk(entryFile)] : [])],
  });
  if (variant.split) return { file, ...splitBytes(result.metafile) };
  const mapFile = `${file}.map`;
  let mapBytes = 0;
  try {
    mapBytes = statSync(mapFile).size;
  } catch {}
  return { file, bytes: statSync(file).size, mapBytes, metafile: result.metafile };
}

/** A split bundle's bytes: what its entry loads at once, what it loads on first use, its maps. */
function splitBytes(metafile: esbuild.Metafile) {
  const outputs = metafile.outputs;
  const eager = eagerOutputs(metafile);
  const sum = (keys: string[]) => keys.reduce((total, key) => total + (outputs[key]?.bytes ?? 0), 0);
  const code = Object.keys(outputs).filter((key) => !key.endsWith(".map"));
  return {
    bytes: sum([...eager]),
    mapBytes: sum(Object.keys(outputs).filter((key) => key.endsWith(".map"))),
    metafile,
    eagerOutputs: eager,
    lazyChunkBytes: sum(code.filter((key) => !eager.has(key))),
  };
}

/** The orchestrator's asset as the stack builds it (Variant.asDeployed). */
function bundleAsDeployed(root: string, dir: string, config: LambdaConfig, variant: Variant): BundleResult {
  if (!("file" in variant.entry)) throw new Error(`${variant.name}: asDeployed needs an entry file`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const metafilePath = join(dir, "..", `${variant.name}.meta.json`);
  const entry = relative(root, variant.entry.file);
  execFileSync(
    "bash",
    ["-c", splitMainBundleCommand(root, dir, entry, config.bundling.target, metafilePath)],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const metafile = JSON.parse(readFileSync(metafilePath, "utf8")) as esbuild.Metafile;
  return {
    file: join(dir, "index.mjs"),
    ...splitBytes(metafile),
    side: buildSideBundles(root, dir, config),
  };
}

export interface SideBundles {
  /** Every file the side bundles add to the asset (entries, shared chunks, package.json files). */
  bytes: number;
  /** Per package: its entry file (the shared chunks are counted in `chunkBytes`). */
  entries: Array<{ module: string; bytes: number }>;
  chunkBytes: number;
}

/**
 * The asset's side bundles, built under `<dir>/node_modules` by the very shell commands the stack
 * runs after bundling (lib/lambda-bundling.ts, sideBundleCommands), so their bytes are the
 * deployed ones.
 */
export function buildSideBundles(root: string, dir: string, config: LambdaConfig): SideBundles {
  const out = join(dir, "node_modules");
  rmSync(out, { recursive: true, force: true });
  for (const command of sideBundleCommands(root, dir, config.bundling.target))
    execFileSync("bash", ["-c", command], { stdio: ["ignore", "ignore", "inherit"] });
  const files = listFiles(out);
  const size = (file: string) => statSync(file).size;
  const entries = LAZY_SDK_PACKAGES.map((module) => ({
    module,
    bytes: size(join(out, module, "index.mjs")),
  }));
  const chunkBytes = files
    .filter((file) => relative(out, file).startsWith("_chunks/"))
    .reduce((sum, file) => sum + size(file), 0);
  return { bytes: files.reduce((sum, file) => sum + size(file), 0), entries, chunkBytes };
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/** Output bytes per npm package (or first-party folder), largest first; `only`: these outputs. */
export function bytesByPackage(
  metafile: esbuild.Metafile,
  top = 12,
  only?: Set<string>,
): Array<{ module: string; bytes: number }> {
  const totals = new Map<string, number>();
  for (const [key, output] of Object.entries(metafile.outputs)) {
    if (only && !only.has(key)) continue;
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
export function zodLocaleBytes(metafile: esbuild.Metafile, only?: Set<string>): number {
  let bytes = 0;
  for (const [key, output] of Object.entries(metafile.outputs))
    if (!only || only.has(key))
      for (const [input, info] of Object.entries(output.inputs))
        if (/node_modules\/zod\/.*\/locales\//.test(input)) bytes += info.bytesInOutput;
  return bytes;
}

const RUNNER = `
const cpu = process.cpuUsage();
const started = performance.now();
const module = await import(process.argv[2]);
if (typeof module.warm === "function") await module.warm();
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

function runOnce(node: string, runner: string, file: string, env: NodeJS.ProcessEnv): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(node, [runner, file], { env, stdio: ["ignore", "pipe", "pipe"] });
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

/**
 * Runs every bundle `runs` times, interleaved (A B C A B C ...) so that drift hits all alike.
 * @param node the Node binary that imports them (bench/lib/runtime-node.ts)
 */
export async function measureInit(
  outDir: string,
  config: LambdaConfig,
  targets: Array<{ name: string; file: string; nodeOptions: string; runs: number }>,
  node: string = process.execPath,
): Promise<InitMeasurement[]> {
  const runner = join(outDir, "init-runner.mjs");
  writeFileSync(runner, RUNNER);
  const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
  // One unmeasured run each warms the OS file cache.
  for (const target of targets)
    await runOnce(node, runner, target.file, lambdaEnvironment(config, target.nodeOptions));
  const maxRuns = Math.max(...targets.map((t) => t.runs));
  for (let run = 0; run < maxRuns; run++) {
    for (const target of targets) {
      if (run >= target.runs) continue;
      samples
        .get(target.name)
        ?.push(await runOnce(node, runner, target.file, lambdaEnvironment(config, target.nodeOptions)));
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
  runs: { initRuns: number; attributionRuns: number; node: BenchNode },
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
      runs: ["orchestrator", "baseline", "baseline-eager-clients"].includes(variant.name)
        ? runs.initRuns
        : runs.attributionRuns,
    })),
    runs.node.binary,
  );
  const byName = new Map<string, InitMeasurement>(measured.map((m) => [m.name, m]));
  const main = bundles.get("orchestrator");
  const orchestrator = byName.get("orchestrator");
  const baseline = byName.get("baseline");
  const eager = byName.get("baseline-eager-clients");
  if (!main || !orchestrator || !baseline || !eager || !main.side)
    throw new Error("cold start: main bundles missing");
  return {
    /** The main bundle (index.mjs): what every cold start loads and parses. */
    bundleBytes: main.bytes,
    sourceMapBytes: main.mapBytes,
    /** The main bundle's chunks loaded on first use only (the checks; the SDK's lazy imports). */
    lazyChunkBytes: main.lazyChunkBytes ?? 0,
    /** The side bundles under node_modules/ (LAZY_SDK_PACKAGES): loaded on first use only. */
    sideBundleBytes: main.side.bytes,
    sideBundles: { entries: main.side.entries, chunkBytes: main.side.chunkBytes },
    /** Everything the asset holds: main bundle, its lazy chunks, source maps, side bundles. */
    assetBytes: main.bytes + (main.lazyChunkBytes ?? 0) + main.mapBytes + main.side.bytes,
    baselineBundleBytes: bundles.get("baseline")?.bytes ?? 0,
    initMs: round(orchestrator.initMs, 1),
    baselineInitMs: round(baseline.initMs, 1),
    ratio: round(orchestrator.initMs / baseline.initMs, 2),
    initCpuMs: round(orchestrator.initCpuMs, 1),
    baselineInitCpuMs: round(baseline.initCpuMs, 1),
    cpuRatio: round(orchestrator.initCpuMs / baseline.initCpuMs, 2),
    /**
     * Against the clients the orchestrator still creates at init (no SES): the stricter reading,
     * since `baseline` keeps the SES client the orchestrator now makes on the first send.
     */
    eagerClientsBaselineInitMs: round(eager.initMs, 1),
    ratioToEagerClients: round(orchestrator.initMs / eager.initMs, 2),
    cpuRatioToEagerClients: round(orchestrator.initCpuMs / eager.initCpuMs, 2),
    runs: orchestrator.runs,
    /** The Node that imported the bundles, and whether its major is the Lambda runtime's. */
    node: { version: runs.node.version, runtime: config.runtime, matchesRuntime: runs.node.matchesRuntime },
    method:
      "esbuild with lib/'s bundling options, including lib/lambda-bundling.ts's aliases (environment-variable credentials) and, for the orchestrator, its side bundles (LAZY_SDK_PACKAGES: external to the main bundle, built by sideBundleCommands beside it), for the orchestrator and for the SDK-only baseline alike (the baselines bundle all their clients); each bundle imported by a fresh `node` (`node`: the Lambda runtime's major unless it could not be fetched; NODE_OPTIONS as the function's) with Lambda-like env vars; initMs = wall time of the dynamic import (median), initCpuMs = process CPU time during it (median); runs interleaved",
    bundling: config.bundling,
    nodeOptions: config.nodeOptions,
    largestModules: bytesByPackage(main.metafile, 12, main.eagerOutputs),
    /** In the chunks loaded on first use (checks, the SDK's own lazy imports), largest first. */
    largestLazyModules: bytesByPackage(
      main.metafile,
      12,
      new Set(
        Object.keys(main.metafile.outputs).filter(
          (key) => !key.endsWith(".map") && !main.eagerOutputs?.has(key),
        ),
      ),
    ),
    zodLocaleBytes: zodLocaleBytes(main.metafile, main.eagerOutputs),
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
