import { lazyImport } from "#adapters/lazy-import.ts";
import type { CheckDefinition } from "./types.ts";

/**
 * The orchestrator's check registry (issue 13, cold start): the checks of monitors/index.ts, each
 * module imported the first time a monitor names it, so that a cold start parses and builds no
 * check at all, and a fleet of `http` monitors never loads the `sql` check. The Lambda bundle
 * splits each check into its own file of the asset (lib/lambda-bundling.ts).
 *
 * The tick use case awaits `find` (TickDependencies.findCheck): the first tick that names a check
 * loads its module, every later one finds it loaded. A module that fails to load fails that tick
 * only (SQS brings it back), and the next tick asks again: a file that could not be read is read
 * again, but a module that threw while it was evaluated keeps failing in that execution
 * environment (Node's loader keeps the error) until Lambda recycles it. An unknown name is undefined, as with
 * monitors/index.ts ("not a registered check").
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

export class LazyChecks {
  /** One loader per registered check: loaded once, shared by concurrent ticks (lazyImport). */
  readonly #loaders: ReadonlyMap<string, () => Promise<CheckDefinition>>;

  constructor(modules: Readonly<Record<string, () => Promise<CheckDefinition>>> = MODULES) {
    this.#loaders = new Map(Object.entries(modules).map(([name, load]) => [name, lazyImport(load)]));
  }

  /**
   * The check a config item names (TickDependencies.findCheck), loaded on its first use: undefined
   * for a name that is not a registered check (the tick reports it); rejects when its module cannot
   * be loaded, and the next tick asks the loader again (see above).
   */
  async find(name: string): Promise<CheckDefinition | undefined> {
    return this.#loaders.get(name)?.();
  }
}
