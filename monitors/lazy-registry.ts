import type { CheckDefinition } from "./types.ts";

/**
 * The orchestrator's check registry (issue 13, cold start): the checks of monitors/index.ts, each
 * module imported the first time a monitor names it, so that a cold start parses and builds no
 * check at all, and a fleet of `http` monitors never loads the `sql` check. The Lambda bundle
 * splits each check into its own file of the asset (lib/lambda-bundling.ts).
 *
 * The tick use case asks for a check synchronously (`findCheck`, then its params schema): the
 * modules it will need are loaded before, when the monitors' config items are read
 * (`preloadingChecks` below wraps the store). A check asked for before its module has loaded
 * throws CheckNotLoadedError, which fails that tick only: SQS brings it back, by then loaded. An
 * unknown name is undefined, as with monitors/index.ts ("not a registered check").
 *
 * Tools, tests and the local runtime use monitors/index.ts, which loads every check at once.
 */
const MODULES: Readonly<Record<string, () => Promise<CheckDefinition>>> = {
  manual: async () => (await import("./manual.ts")).manualCheck,
  http: async () => (await import("./http.ts")).httpCheck,
  "sqs-queue-empty": async () => (await import("./sqs-queue-empty.ts")).sqsQueueEmptyCheck,
  "dynamodb-freshness": async () => (await import("./dynamodb-freshness.ts")).dynamodbFreshnessCheck,
  "cloudwatch-alarm": async () => (await import("./cloudwatch-alarm.ts")).cloudWatchAlarmCheck,
  "cloudwatch-metric": async () => (await import("./cloudwatch-metric.ts")).cloudWatchMetricCheck,
  dns: async () => (await import("./dns.ts")).dnsCheck,
  lambda: async () => (await import("./lambda.ts")).lambdaCheck,
  "s3-object-freshness": async () => (await import("./s3-object-freshness.ts")).s3ObjectFreshnessCheck,
  sql: async () => (await import("./sql.ts")).sqlCheck,
  "step-functions": async () => (await import("./step-functions.ts")).stepFunctionsCheck,
  tcp: async () => (await import("./tcp.ts")).tcpCheck,
  "tls-certificate": async () => (await import("./tls-certificate.ts")).tlsCertificateCheck,
};

/** The names monitors may use in `check`, without loading any check. */
export const LAZY_CHECK_NAMES: readonly string[] = Object.keys(MODULES);

/** A registered check was asked for before its module loaded: the tick is retried (see above). */
export class CheckNotLoadedError extends Error {
  override name = "CheckNotLoadedError";
  constructor(readonly check: string) {
    super(`check "${check}" is still loading; the tick will be retried`);
  }
}

export class LazyChecks {
  readonly #loaded = new Map<string, CheckDefinition>();
  readonly #loading = new Map<string, Promise<void>>();

  constructor(private readonly modules: Readonly<Record<string, () => Promise<CheckDefinition>>> = MODULES) {}

  /**
   * Loads the named check's module, once; nothing for a name that is not a registered check (the
   * tick reports it). A failed load is forgotten, so the next tick tries again, and rejects.
   */
  load(name: unknown): Promise<void> {
    if (typeof name !== "string" || !Object.hasOwn(this.modules, name) || this.#loaded.has(name))
      return Promise.resolve();
    let loading = this.#loading.get(name);
    if (!loading) {
      const load = this.modules[name] as () => Promise<CheckDefinition>;
      loading = load().then(
        (definition) => {
          this.#loaded.set(name, definition);
          this.#loading.delete(name);
        },
        (error: unknown) => {
          this.#loading.delete(name);
          throw error;
        },
      );
      this.#loading.set(name, loading);
    }
    return loading;
  }

  /**
   * The check a config item names (TickDependencies.findCheck): undefined for a name that is not
   * a registered check; throws CheckNotLoadedError for one whose module is not loaded yet (and
   * starts loading it).
   */
  find(name: string): CheckDefinition | undefined {
    if (!Object.hasOwn(this.modules, name)) return undefined;
    const definition = this.#loaded.get(name);
    if (definition) return definition;
    this.load(name).catch(() => {});
    throw new CheckNotLoadedError(name);
  }
}

/**
 * The store, with the checks its config items name loaded before they are handed out: every
 * method that returns a promise resolves only once the checks named by the config items in its
 * result (a StoredMonitor, or a map or list of them) have loaded. A check that fails to load is
 * left to `find` (the tick is retried). A Proxy rather than a class, so that a method the store
 * gains is covered too.
 */
export function preloadingChecks<Store extends object>(
  store: Store,
  checks: Pick<LazyChecks, "load">,
): Store {
  const preload = async (result: unknown): Promise<void> => {
    const items = result instanceof Map ? [...result.values()] : Array.isArray(result) ? result : [result];
    const names = new Set<unknown>();
    for (const item of items) {
      const config = (item as { config?: unknown } | undefined)?.config;
      if (typeof config === "object" && config !== null) names.add((config as { check?: unknown }).check);
    }
    await Promise.all([...names].map((name) => checks.load(name).catch(() => {})));
  };
  return new Proxy(store, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const result = value.apply(target, args);
        return result instanceof Promise
          ? result.then(async (resolved: unknown) => {
              await preload(resolved);
              return resolved;
            })
          : result;
      };
    },
  });
}
