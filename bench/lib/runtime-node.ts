import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

/**
 * The Node.js that imports the bundles in the init measurements. Lambda runs the stack's runtime
 * (`nodejs24.x`), and the init ratio depends on the Node major: its module loader, source-map
 * handling and V8 (docs/performance.md has both figures). `runtime` uses that major: this Node when
 * it is the same, else the official binary the npm registry publishes as `node-<os>-<arch>`,
 * fetched once into the bench's cache. `this` keeps this process's Node; anything else is a path.
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

/** The newest `major.x` binary from the npm registry, kept under `cacheDir`. */
function fetchNode(major: string, cacheDir: string, say: (line: string) => void): string {
  const os = { linux: "linux", darwin: "darwin" }[process.platform as string];
  if (!os || !["x64", "arm64"].includes(process.arch))
    throw new Error(`no npm package of Node for ${process.platform}-${process.arch}`);
  const name = `node-${os}-${process.arch}`;
  const dir = join(cacheDir, `${name}-${major}`);
  const binary = join(dir, "package", "bin", "node");
  if (existsSync(binary)) return binary;
  const versions = JSON.parse(
    execFileSync("npm", ["view", `${name}@${major}`, "version", "--json"], { encoding: "utf8" }),
  ) as string | string[];
  const version = [versions].flat().at(-1);
  if (!version) throw new Error(`the registry lists no ${name}@${major}`);
  say(`fetching ${name}@${version} (the Lambda runtime's Node major) into ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tarball = execFileSync("npm", ["pack", `${name}@${version}`, "--silent", "--pack-destination", dir], {
    encoding: "utf8",
  }).trim();
  execFileSync("tar", ["xzf", join(dir, tarball), "-C", dir]);
  rmSync(join(dir, tarball));
  return binary;
}
