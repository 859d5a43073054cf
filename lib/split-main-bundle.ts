/**
 * Builds a function's main bundle with code splitting: run by the shell command of
 * lib/lambda-bundling.ts (splitMainBundleCommand) in CDK's `afterBundling` hook and by the bench,
 * as `tsx lib/split-main-bundle.ts <entry> <outdir> <target> [metafile]`. No aws-cdk-lib import.
 *
 * esbuild puts each module in a chunk by the set of entry points that reach it, and every module
 * reached through a dynamic `import()` is an entry point. The orchestrator's lazily loaded modules
 * (each check, the channel senders) each share a different part of the core with the handler, so
 * plain splitting cut the code a cold start needs into 12 files. Node pays for every file it
 * loads (resolution, read, compile, and with `--enable-source-maps` a map to read and parse):
 * about 0.3 ms each, measured (docs/performance.md). `oneEagerChunk` makes each first-party lazy
 * module import the entry too, so all code the entry reaches shares one set of entry points and
 * lands in one chunk. The lazy modules' own code stays in their chunks, as before, and at run time
 * that extra import is a module already evaluated.
 */
import { realpathSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import {
  ESM_REQUIRE_BANNER,
  LAMBDA_BUNDLE_ALIASES,
  LAZY_SDK_PACKAGES,
  MAIN_CHUNKS_DIR,
} from "./lambda-bundling.ts";

const LAZY_ENTRY = "lazy-entry";
const RESOLVING = Symbol("resolving a dynamic import");

/**
 * Every dynamic `import()` of a first-party module (not under node_modules: the SDK's own lazy
 * imports keep their shape) resolves to a small module that imports `entry` and re-exports the
 * target, default export included when it has one.
 */
export function oneEagerChunk(entry: string): esbuild.Plugin {
  return {
    name: "one-eager-chunk",
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind !== "dynamic-import" || args.pluginData === RESOLVING) return undefined;
        const target = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: RESOLVING,
        });
        if (target.errors.length > 0 || target.external || target.path.includes("/node_modules/"))
          return undefined;
        return { path: target.path, namespace: LAZY_ENTRY };
      });
      build.onLoad({ filter: /.*/, namespace: LAZY_ENTRY }, async (args) => {
        const target = JSON.stringify(args.path);
        const lines = [`import ${JSON.stringify(entry)};`, `export * from ${target};`];
        // `export *` leaves the default export out: re-export it when the module has one, as
        // esbuild itself reads the module's exports (a text search would trip on comments).
        if ((await exportsOf(args.path)).includes("default"))
          lines.push(`export { default } from ${target};`);
        return { contents: lines.join("\n"), resolveDir: dirname(args.path), loader: "js" };
      });
    },
  };
}

/**
 * The output files a cold start loads: the entry (`index.mjs`; every dynamically imported module
 * is an entry point too) and every chunk it imports statically, transitively. Keys of
 * `metafile.outputs`.
 */
export function eagerOutputs(metafile: esbuild.Metafile): Set<string> {
  const outputs = metafile.outputs;
  const entry = Object.keys(outputs).find((key) => /(^|\/)index\.mjs$/.test(key));
  if (!entry) throw new Error("no index.mjs in the metafile");
  const eager = new Set<string>();
  const pending = [entry];
  for (let key = pending.pop(); key !== undefined; key = pending.pop()) {
    if (eager.has(key)) continue;
    eager.add(key);
    for (const imported of outputs[key]?.imports ?? [])
      if (imported.kind === "import-statement" && outputs[imported.path]) pending.push(imported.path);
  }
  return eager;
}

/** The names a module exports, as esbuild reads them (the module alone, not bundled). */
async function exportsOf(file: string): Promise<string[]> {
  const result = await esbuild.build({
    entryPoints: [file],
    bundle: false,
    write: false,
    format: "esm",
    metafile: true,
    outdir: "out",
    logLevel: "silent",
  });
  return Object.values(result.metafile.outputs).flatMap((output) => output.exports);
}

/** The options lib/watchkeeper-function.ts gives CDK, plus splitting; `root`: the project root. */
export function splitBuildOptions(
  root: string,
  entry: string,
  outdir: string,
  target: string,
): esbuild.BuildOptions & { metafile: true } {
  const entryFile = resolve(root, entry);
  return {
    entryPoints: { index: entryFile },
    absWorkingDir: root,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    minify: true,
    target,
    mainFields: ["module", "main"],
    sourcemap: true,
    sourcesContent: false,
    outdir,
    outExtension: { ".js": ".mjs" },
    entryNames: "[name]",
    chunkNames: `${MAIN_CHUNKS_DIR}/[name]-[hash]`,
    banner: { js: ESM_REQUIRE_BANNER },
    external: [...LAZY_SDK_PACKAGES],
    alias: Object.fromEntries(
      Object.entries(LAMBDA_BUNDLE_ALIASES).map(([from, to]) => [from, resolve(root, to)]),
    ),
    metafile: true,
    logLevel: "warning",
    plugins: [oneEagerChunk(entryFile)],
  };
}

async function main(args: string[]): Promise<void> {
  const [entry, outdir, target, metafile] = args;
  if (!entry || !outdir || !target)
    throw new Error("usage: tsx lib/split-main-bundle.ts <entry> <outdir> <target> [metafile]");
  const root = process.cwd();
  const result = await esbuild.build(
    splitBuildOptions(root, entry, isAbsolute(outdir) ? outdir : resolve(root, outdir), target),
  );
  if (metafile) writeFileSync(metafile, JSON.stringify(result.metafile));
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url))
  await main(process.argv.slice(2));
