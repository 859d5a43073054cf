import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { InitReply, InvokeReply, InvokeRequest, WorkerInit } from "./lambda-worker.ts";

/**
 * A Lambda function for the local runtime: a small pool of execution environments (worker
 * threads) running the handler module exactly as deployed. Each environment has the function's
 * own environment variables (the process's stay untouched, so two runtimes can share a process),
 * serves one invocation at a time, and is discarded on a timeout, as Lambda discards a sandbox.
 */

export interface LambdaFunctionOptions {
  functionName: string;
  /** file: URL of the module that exports the handler. */
  moduleUrl: URL;
  /** @default "handler" */
  exportName?: string;
  /** The function's environment variables (added to this process's). */
  environment: Record<string, string>;
  /** @default 900 */
  timeoutSeconds?: number;
  /** @default 512 */
  memoryMb?: number;
  region: string;
  /** Most environments alive at once: the function's reserved concurrency. @default 2 */
  maxEnvironments?: number;
  /** Receives the handler's stdout and stderr (its logs and EMF metrics), line-oriented. */
  onOutput: (chunk: string) => void;
}

export class LambdaTimeoutError extends Error {
  override name = "LambdaTimeoutError";
}

export class LambdaInvokeError extends Error {
  override name = "LambdaInvokeError";
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * tsx's ESM registration API, resolved through its package exports: a worker thread does not
 * inherit the loader hooks of the thread that started it (Node 20), whether that is tsx or vitest.
 */
function tsxRegisterUrl(): string {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve("tsx/package.json");
  const manifest = JSON.parse(readFileSync(packageJson, "utf8")) as {
    exports: Record<string, { import?: { default?: string } }>;
  };
  const entry = manifest.exports["./esm/api"]?.import?.default;
  if (!entry) throw new Error("tsx no longer exports ./esm/api: update local/lambda-function.ts");
  return pathToFileURL(join(dirname(packageJson), entry)).href;
}

/**
 * A function sees its own configuration, not the developer's: no AWS profile, keys or endpoints
 * (a profile would even take precedence over the local credentials), no Powertools settings.
 */
function inheritedEnvironment(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] =>
        entry[1] !== undefined && !/^(AWS_|POWERTOOLS_|_X_AMZN_)/.test(entry[0]),
    ),
  );
}

const WORKER_URL = new URL("./lambda-worker.ts", import.meta.url).href;

interface Environment {
  worker: Worker;
  busy: boolean;
  /** Settles when the init phase (importing the handler module) is over. */
  initialized: Promise<void>;
  pending: Map<number, (reply: InvokeReply) => void>;
}

/** Lambda gives the init phase 10 s; a cold tsx compile of the handler graph needs more headroom. */
const INIT_TIMEOUT_MS = 60_000;

export class LambdaFunction {
  readonly #options: LambdaFunctionOptions;
  readonly #environments = new Set<Environment>();
  readonly #waiting: Array<{ resolve: (environment: Environment) => void; reject: (error: Error) => void }> =
    [];
  #nextId = 1;
  #stopped = false;

  constructor(options: LambdaFunctionOptions) {
    this.#options = options;
  }

  /** Invokes the handler; rejects with LambdaInvokeError or LambdaTimeoutError like a failed invoke. */
  async invoke(event: unknown): Promise<unknown> {
    if (this.#stopped) throw new Error(`${this.#options.functionName} is stopped`);
    const environment = await this.#acquire();
    try {
      await environment.initialized;
    } catch (error) {
      await this.#discard(environment);
      this.#release(environment);
      throw error;
    }
    const timeoutMs = (this.#options.timeoutSeconds ?? 900) * 1000;
    const request: InvokeRequest = {
      id: this.#nextId++,
      event,
      requestId: randomUUID(),
      deadline: Date.now() + timeoutMs,
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = await new Promise<InvokeReply>((resolve, reject) => {
        environment.pending.set(request.id, resolve);
        timer = setTimeout(() => {
          environment.pending.delete(request.id);
          reject(
            new LambdaTimeoutError(
              `${this.#options.functionName} timed out after ${this.#options.timeoutSeconds ?? 900} seconds (request ${request.requestId})`,
            ),
          );
        }, timeoutMs);
        environment.worker.postMessage(request);
      });
      if (!reply.ok) throw new LambdaInvokeError(reply.error.name, reply.error.message);
      return reply.result;
    } catch (error) {
      // A timed-out sandbox may still be running the handler: it is never reused.
      if (error instanceof LambdaTimeoutError) await this.#discard(environment);
      throw error;
    } finally {
      clearTimeout(timer);
      this.#release(environment);
    }
  }

  /** Terminates every environment; invocations still running are abandoned. */
  async stop(): Promise<void> {
    this.#stopped = true;
    // Invocations still waiting for an environment would otherwise never settle.
    for (const waiter of this.#waiting.splice(0))
      waiter.reject(new Error(`${this.#options.functionName} was stopped`));
    await Promise.all([...this.#environments].map((environment) => this.#discard(environment)));
  }

  async #acquire(): Promise<Environment> {
    for (const environment of this.#environments) {
      if (!environment.busy) {
        environment.busy = true;
        return environment;
      }
    }
    if (this.#environments.size < (this.#options.maxEnvironments ?? 2)) {
      const environment = this.#spawn();
      environment.busy = true;
      return environment;
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  #release(environment: Environment): void {
    if (!this.#environments.has(environment)) {
      // Discarded: hand a fresh environment to whoever waits.
      const next = this.#waiting.shift();
      if (next && this.#stopped) next.reject(new Error(`${this.#options.functionName} was stopped`));
      else if (next) {
        const fresh = this.#spawn();
        fresh.busy = true;
        next.resolve(fresh);
      }
      return;
    }
    const next = this.#waiting.shift();
    if (next) next.resolve(environment);
    else environment.busy = false;
  }

  #spawn(): Environment {
    const { functionName, memoryMb = 512, region } = this.#options;
    const logStreamName = `${new Date().toISOString().slice(0, 10).replaceAll("-", "/")}/[$LATEST]${randomUUID().replaceAll("-", "")}`;
    const init: WorkerInit = {
      moduleUrl: this.#options.moduleUrl.href,
      exportName: this.#options.exportName ?? "handler",
      functionName,
      memoryMb,
      region,
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName,
    };
    // The bootstrap registers tsx in the new thread, then loads the worker (TypeScript) through it.
    const bootstrap = `
      import(${JSON.stringify(tsxRegisterUrl())})
        .then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL)}); })
        .catch((error) => { console.error(error); process.exit(1); });`;
    const worker = new Worker(bootstrap, {
      eval: true,
      workerData: init,
      stdout: true,
      stderr: true,
      env: {
        ...inheritedEnvironment(),
        // What Lambda sets for every function (the ones Powertools and the SDK read).
        AWS_REGION: region,
        AWS_DEFAULT_REGION: region,
        AWS_LAMBDA_FUNCTION_NAME: functionName,
        AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
        AWS_LAMBDA_LOG_GROUP_NAME: init.logGroupName,
        AWS_LAMBDA_LOG_STREAM_NAME: logStreamName,
        // Powertools reports cold starts only for on-demand environments, as Lambda labels them.
        AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
        // Lambda runs Node 24; the SDK's notice about this machine's older Node is noise here.
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        ...this.#options.environment,
      },
      resourceLimits: { maxOldGenerationSizeMb: memoryMb },
    });
    let initDone: (reply: InitReply) => void = () => {};
    const initReply = new Promise<InitReply>((resolve) => {
      initDone = resolve;
    });
    const initTimer = setTimeout(
      () => initDone({ init: "failed", error: { name: "Runtime.InitTimeout", message: "init timed out" } }),
      INIT_TIMEOUT_MS,
    );
    const initialized = initReply.then((reply) => {
      clearTimeout(initTimer);
      if (reply.init === "failed") throw new LambdaInvokeError(reply.error.name, reply.error.message);
    });
    // Observed by every invoke; this only keeps an unused environment's failure from going unhandled.
    initialized.catch(() => {});
    const environment: Environment = { worker, busy: false, initialized, pending: new Map() };
    worker.stdout.setEncoding("utf8").on("data", this.#options.onOutput);
    worker.stderr.setEncoding("utf8").on("data", this.#options.onOutput);
    worker.on("message", (reply: InvokeReply | InitReply) => {
      if ("init" in reply) return initDone(reply);
      const resolve = environment.pending.get(reply.id);
      environment.pending.delete(reply.id);
      resolve?.(reply);
    });
    const fail = (message: string) => {
      initDone({ init: "failed", error: { name: "Runtime.ExitError", message } });
      for (const [id, resolve] of environment.pending) {
        resolve({ id, ok: false, error: { name: "Runtime.ExitError", message } });
      }
      environment.pending.clear();
      this.#environments.delete(environment);
    };
    worker.on("error", (error) => fail(`${functionName} environment crashed: ${error.message}`));
    worker.on("exit", (code) => fail(`${functionName} environment exited with code ${code}`));
    this.#environments.add(environment);
    return environment;
  }

  async #discard(environment: Environment): Promise<void> {
    this.#environments.delete(environment);
    await environment.worker.terminate();
  }
}
