import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ESM_REQUIRE_BANNER, LAMBDA_BUNDLE_ALIASES, LAZY_SDK_PACKAGES } from "#lib/lambda-bundling.ts";

/**
 * The orchestrator function as the CDK stack declares it (lib/orchestrator.ts and
 * lib/watchkeeper-function.ts), read from the source so that the bench follows the stack without
 * importing aws-cdk-lib. Every value says where it came from; anything not found falls back to the
 * documented defaults (arm64, 256 MB, Node 22, minify + sourcemap, @aws-sdk/* external).
 */
export interface LambdaConfig {
  memoryMb: number;
  architecture: "arm64" | "x86_64";
  runtime: string;
  /** Records per invocation of the SQS event source mapping. */
  batchSize: number;
  nodeOptions: string;
  tracing: boolean;
  bundling: {
    format: "esm" | "cjs";
    target: string;
    minify: boolean;
    sourcemap: boolean;
    sourcesContent: boolean;
    mainFields: string[];
    external: string[];
    banner: string | undefined;
    /** esbuild `alias`: module -> path relative to the project root (lib/lambda-bundling.ts). */
    alias: Record<string, string>;
  };
  /** Which values were read from lib/ and which are defaults. */
  provenance: Record<string, string>;
}

export function readLambdaConfig(root: string): LambdaConfig {
  const orchestratorPath = join(root, "lib/orchestrator.ts");
  const functionPath = join(root, "lib/watchkeeper-function.ts");
  const orchestrator = existsSync(orchestratorPath) ? readFileSync(orchestratorPath, "utf8") : "";
  const fn = existsSync(functionPath) ? readFileSync(functionPath, "utf8") : "";
  const provenance: Record<string, string> = {};
  const pick = <T>(
    key: string,
    from: string,
    file: string,
    re: RegExp,
    parse: (m: RegExpMatchArray) => T,
    fallback: T,
  ): T => {
    const match = from.match(re);
    if (match) {
      provenance[key] = file;
      return parse(match);
    }
    provenance[key] = "default (not found in lib/)";
    return fallback;
  };
  const strings = (list: string) => [...list.matchAll(/"([^"]+)"|'([^']+)'/g)].map((m) => m[1] ?? m[2] ?? "");
  const fnDefaultMemory = pick(
    "memoryMb(default)",
    fn,
    "lib/watchkeeper-function.ts",
    /memorySize \?\? (\d+)/,
    (m) => Number(m[1]),
    256,
  );
  const memoryMb = pick(
    "memoryMb",
    orchestrator,
    "lib/orchestrator.ts",
    /memorySize:\s*(\d+)/,
    (m) => Number(m[1]),
    fnDefaultMemory,
  );
  return {
    memoryMb,
    architecture: pick(
      "architecture",
      fn,
      "lib/watchkeeper-function.ts",
      /Architecture\.(ARM_64|X86_64)/,
      (m) => (m[1] === "X86_64" ? "x86_64" : "arm64"),
      "arm64",
    ),
    runtime: pick(
      "runtime",
      fn,
      "lib/watchkeeper-function.ts",
      /Runtime\.NODEJS_(\d+)_X/,
      (m) => `nodejs${m[1]}.x`,
      "nodejs22.x",
    ),
    batchSize: pick(
      "batchSize",
      orchestrator,
      "lib/orchestrator.ts",
      /batchSize \?\? (\d+)/,
      (m) => Number(m[1]),
      10,
    ),
    nodeOptions: pick(
      "nodeOptions",
      fn,
      "lib/watchkeeper-function.ts",
      /NODE_OPTIONS:\s*"([^"]*)"/,
      (m) => m[1] ?? "",
      "",
    ),
    tracing: pick(
      "tracing",
      fn,
      "lib/watchkeeper-function.ts",
      /Tracing\.(ACTIVE|PASS_THROUGH|DISABLED)/,
      (m) => m[1] === "ACTIVE",
      false,
    ),
    bundling: {
      format: pick(
        "format",
        fn,
        "lib/watchkeeper-function.ts",
        /OutputFormat\.(ESM|CJS)/,
        (m) => (m[1] === "ESM" ? "esm" : "cjs"),
        "cjs",
      ),
      target: pick(
        "target",
        fn,
        "lib/watchkeeper-function.ts",
        /target:\s*"([^"]+)"/,
        (m) => m[1] ?? "node22",
        "node22",
      ),
      minify: pick(
        "minify",
        fn,
        "lib/watchkeeper-function.ts",
        /minify:\s*(true|false)/,
        (m) => m[1] === "true",
        true,
      ),
      sourcemap: pick(
        "sourcemap",
        fn,
        "lib/watchkeeper-function.ts",
        /sourceMap:\s*(true|false)/,
        (m) => m[1] === "true",
        true,
      ),
      sourcesContent: pick(
        "sourcesContent",
        fn,
        "lib/watchkeeper-function.ts",
        /sourcesContent:\s*(true|false)/,
        (m) => m[1] === "true",
        true,
      ),
      mainFields: pick(
        "mainFields",
        fn,
        "lib/watchkeeper-function.ts",
        /mainFields:\s*\[([^\]]*)\]/,
        (m) => strings(m[1] ?? ""),
        ["module", "main"],
      ),
      // The orchestrator's: the clients few monitors need are side bundles, out of the main one.
      external: [...LAZY_SDK_PACKAGES],
      banner: ESM_REQUIRE_BANNER,
      alias: { ...LAMBDA_BUNDLE_ALIASES },
    },
    provenance: { ...provenance, alias: "lib/lambda-bundling.ts" },
  };
}
