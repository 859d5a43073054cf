import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as esbuild from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { LAZY_SDK_PACKAGES } from "#lib/lambda-bundling.ts";

/**
 * The orchestrator's lean validation path (issue 13, cold start): its module graph validates with
 * zod/mini, and classic zod (four times the bytes, ten times the import time) stays out of it;
 * zod/mini still speaks English, although nothing in the bundle loads classic zod's locale.
 */

const ROOT = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "watchkeeper-bundle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bundle(entry: { file: string } | { contents: string }, outfile?: string) {
  const result = await esbuild.build({
    ...("file" in entry
      ? { entryPoints: [join(ROOT, entry.file)] }
      : { stdin: { contents: entry.contents, resolveDir: ROOT, loader: "ts" as const } }),
    absWorkingDir: ROOT,
    bundle: true,
    platform: "node",
    format: "esm",
    external: [...LAZY_SDK_PACKAGES],
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    metafile: true,
    logLevel: "error",
    ...(outfile ? { outfile } : { write: false, outdir: dir }),
  });
  return Object.keys(result.metafile.inputs);
}

describe("the orchestrator's bundle", () => {
  it("holds zod/mini and not classic zod", async () => {
    const inputs = await bundle({ file: "functions/orchestrator/handler.ts" });
    expect(
      inputs.some((input) => input.includes("zod/v4/mini/")),
      "zod/mini",
    ).toBe(true);
    expect(inputs.filter((input) => input.includes("zod/v4/classic/"))).toEqual([]);
  });

  it("reports config problems in English with zod/mini alone", async () => {
    const outfile = join(dir, "schemas.mjs");
    const inputs = await bundle(
      {
        contents: `import { parseConfigLeniently } from "#core/schemas.ts";
import { parseParams } from "#monitors/support/params.ts";
import { HttpParamsSchema } from "#monitors/http.ts";
const problems = parseConfigLeniently("m1", { name: "m1", check: "http", requiredConsecutiveOks: "two" }).problems;
let params = "";
try { parseParams("http", HttpParamsSchema, { url: "https://example.com", maxLatencyMs: "fast" }); }
catch (error) { params = error.message; }
console.log(JSON.stringify({ problems, params }));`,
      },
      outfile,
    );
    expect(inputs.filter((input) => input.includes("zod/v4/classic/"))).toEqual([]);
    const run = spawnSync(process.execPath, [outfile], { encoding: "utf8", env: { PATH: process.env.PATH } });
    expect(run.stderr).toBe("");
    const { problems, params } = JSON.parse(run.stdout) as {
      problems: Array<{ attribute: string; message: string }>;
      params: string;
    };
    expect(problems).toEqual([
      {
        attribute: "requiredConsecutiveOks",
        message: '"two": Invalid input: expected number, received string',
      },
    ]);
    expect(params).toBe("params.maxLatencyMs must be a positive number of milliseconds");
  });
});
