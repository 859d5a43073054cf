import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { eagerOutputs, splitBuildOptions } from "#lib/split-main-bundle.ts";

/**
 * lib/split-main-bundle.ts on a project of its own: an entry that imports two modules lazily, each
 * of which shares a different module with the entry (as each check shares a different part of the
 * core with the orchestrator's handler).
 */

const root = mkdtempSync(join(tmpdir(), "watchkeeper-split-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const FILES: Record<string, string> = {
  "entry.ts": `import { sharedA } from "./shared-a.ts";
import { sharedB } from "./shared-b.ts";
export const handler = async () => {
  const a = await import("./lazy-a.ts");
  const b = await import("./lazy-b.ts");
  return { a: a.value, aDefault: (a as { default?: unknown }).default, b: b.value, bDefault: b.default, shared: sharedA() + sharedB() };
};`,
  "shared-a.ts": `export function sharedA(): string { return ["A"].join(""); }`,
  "shared-b.ts": `export function sharedB(): string { return ["B"].join(""); }`,
  // A comment that reads like a default export: the module has none.
  "lazy-a.ts": `import { sharedA } from "./shared-a.ts";
// the name is exported as default elsewhere; here: export default is not used
export const value = \`lazy \${sharedA()}\`;`,
  // A default export spelled as a string name.
  "lazy-b.ts": `import { sharedB } from "./shared-b.ts";
const fallback = "the default of b";
export { fallback as "default" };
export const value = \`lazy \${sharedB()}\`;`,
};
for (const [name, text] of Object.entries(FILES)) writeFileSync(join(root, name), text);

async function build(name: string, withPlugin: boolean) {
  const outdir = join(root, name);
  mkdirSync(outdir);
  const options = splitBuildOptions(root, "entry.ts", outdir, "node22");
  const result = await esbuild.build({ ...options, plugins: withPlugin ? options.plugins : [] });
  return { outdir, eager: [...eagerOutputs(result.metafile)] };
}

describe("oneEagerChunk (lib/split-main-bundle.ts)", () => {
  it("puts all that the entry reaches in one chunk, where plain splitting makes one per sharing set", async () => {
    const plain = await build("plain", false);
    const split = await build("split", true);
    expect(plain.eager).toHaveLength(3);
    expect(split.eager).toHaveLength(2);
    // The lazy modules' own code stays out of what a cold start loads.
    const eagerCode = split.eager.map((file) => readFileSync(join(root, file), "utf8")).join("\n");
    expect(eagerCode).toContain('["A"]');
    expect(eagerCode).toContain('["B"]');
    expect(eagerCode).not.toContain("the default of b");
  });

  it("keeps what each lazy import returns: its named exports and its default export, if any", async () => {
    const { outdir } = await build("run", true);
    const module = (await import(pathToFileURL(join(outdir, "index.mjs")).href)) as {
      handler: () => Promise<Record<string, unknown>>;
    };
    expect(await module.handler()).toEqual({
      a: "lazy A",
      aDefault: undefined,
      b: "lazy B",
      bDefault: "the default of b",
      shared: "AB",
    });
  });
});
