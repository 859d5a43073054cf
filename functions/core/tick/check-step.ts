import type { CheckDefinition } from "../check.ts";
import { RetryableTickError } from "../outbox-delivery.ts";
import { redactingLogger } from "../redacting-logger.ts";
import { type CheckOutcome, runCheck } from "../run-check.ts";
import { type ConfigProblem, formatProblems, type MonitorConfig } from "../schemas.ts";
import {
  findSecretRefs,
  issueStandsBeforeResolution,
  maskSecretValues,
  type SecretResolver,
  secretRefProblems,
  withSecretPlaceholders,
} from "../secrets.ts";
import { describeThrown, redactSecrets, truncateMessage } from "../text.ts";
import type { TickContext, TickRuntime } from "./runtime.ts";

/**
 * Step 2 of a tick: the check's outcome. Only a check that cannot run (no usable check, an unknown
 * one, params its schema refuses) is replaced by a failure naming every problem; any other bad
 * attribute falls back to its default, so a typo never hides a real outage behind config noise.
 * A check already run by an earlier attempt of this tick (a lost write race) is not run again.
 */
export async function checkStep(
  runtime: TickRuntime,
  context: TickContext,
  config: MonitorConfig,
  problems: ConfigProblem[],
): Promise<{ check: CheckOutcome; configProblems: string | null }> {
  const { monitorId } = context.tick;
  const allProblems = [...problems];
  const definition = problems.some((problem) => problem.attribute === "check")
    ? undefined
    : await runtime.deps.findCheck(config.check);
  const blocking = blockingProblems(definition, config, allProblems);
  const configProblems = allProblems.length > 0 ? formatProblems(allProblems) : null;
  if (context.check) return { check: context.check, configProblems };
  const timeoutMs = config.checkTimeoutSeconds * 1000;
  const { deadline, budgetMs = Number.POSITIVE_INFINITY } = context.limits;
  const tooLate = deadline !== undefined && runtime.now() + timeoutMs > deadline;
  if (blocking.length === 0 && tooLate && timeoutMs <= budgetMs) {
    // Starting now could let the invocation time out mid-tick; a fresh invocation will have time.
    throw new RetryableTickError(
      `not enough time left in this invocation for a ${config.checkTimeoutSeconds} s check`,
    );
  }
  if (blocking.length > 0) {
    runtime.deps.logger.debug("check not run: its configuration is invalid", {
      monitorId,
      check: config.check,
      params: redactSecrets(config.params),
      configProblems,
    });
  }
  context.check =
    blocking.length > 0
      ? {
          isOk: false,
          message: truncateMessage(`Invalid monitor configuration: ${configProblems}`),
          durationMs: 0,
        }
      : await runConfiguredCheck(runtime, monitorId, config, context.tickTime, definition);
  return { check: context.check, configProblems };
}

/**
 * The problems that keep the real check from running: no usable check name, a check nobody
 * registered, or params its own schema refuses. Added to `problems` so that the failure names
 * every bad attribute at once.
 */
export function blockingProblems(
  definition: CheckDefinition | undefined,
  config: MonitorConfig,
  problems: ConfigProblem[],
): ConfigProblem[] {
  if (!problems.some((problem) => problem.attribute === "check")) {
    if (!definition) {
      problems.push({
        attribute: "check",
        message: `${JSON.stringify(config.check)} is not a registered check (monitors/index.ts)`,
      });
    } else if (!problems.some((problem) => problem.attribute === "params")) {
      // Malformed secret references first; then the schema, with references as placeholders
      // (functions/core/secrets.ts): a secret's value is validated once resolved, by the check.
      const issues = secretRefProblems(config.params).map(
        ({ path, message }) => `${path.replace(/^params\.?/, "") || "(params)"} ${message}`,
      );
      if (issues.length === 0 && definition.paramsSchema) {
        const refPaths = findSecretRefs(config.params).map(({ path }) => path);
        const parsed = definition.paramsSchema.safeParse(withSecretPlaceholders(config.params));
        if (!parsed.success) {
          // Paths and zod's messages only: a params value may hold a credential.
          issues.push(
            ...parsed.error.issues
              .filter((issue) => issueStandsBeforeResolution(issue, refPaths))
              .map(
                (issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(params)"} ${issue.message}`,
              ),
          );
        }
      }
      if (issues.length > 0) {
        problems.push({
          attribute: "params",
          message: `do not fit check "${config.check}": ${issues.join("; ")}`,
        });
      }
    }
  }
  return problems.filter((problem) => problem.attribute === "check" || problem.attribute === "params");
}

/** Runs the monitor's check, with the secrets its params reference resolved and masked. */
async function runConfiguredCheck(
  runtime: TickRuntime,
  monitorId: string,
  config: MonitorConfig,
  tickTime: string,
  check: CheckDefinition | undefined,
): Promise<CheckOutcome> {
  const { logger } = runtime.deps;
  logger.debug("running check", {
    monitorId,
    check: config.check,
    params: redactSecrets(config.params),
  });
  const timeoutMs = config.checkTimeoutSeconds * 1000;
  const base = {
    monitorId,
    checkName: config.check,
    now: new Date(tickTime),
    timezone: config.timezone,
  };
  if (findSecretRefs(config.params).length === 0) {
    return runCheck({
      ...base,
      check,
      params: config.params,
      timeoutMs,
      logger,
    });
  }
  // Resolved just before the run, within the check's own timeout; the values never reach the
  // state, the history, the mail or the logs: whatever the check echoes of them is masked.
  const started = performance.now();
  const secrets = runtime.secrets;
  let resolved: Awaited<ReturnType<SecretResolver["resolve"]>>;
  try {
    if (!secrets) throw new Error("its params reference secrets, but this orchestrator has no secret source");
    resolved = await secrets.resolve(config.params, AbortSignal.timeout(timeoutMs));
  } catch (error) {
    const reason = error instanceof Error ? error.message : describeThrown(error);
    logger.warn("check not run: a secret reference could not be resolved", {
      monitorId,
      reason,
    });
    return {
      isOk: false,
      message: truncateMessage(`Check "${config.check}" not run: ${reason}`),
      durationMs: Math.round(performance.now() - started),
    };
  }
  const run = (current: typeof resolved, masked: readonly string[]) => {
    const mask = (text: string) => maskSecretValues(text, masked);
    return runCheck({
      ...base,
      check,
      params: current.params,
      timeoutMs: Math.max(1, Math.round(timeoutMs - (performance.now() - started))),
      logger: redactingLogger(logger, { mask }),
      mask,
    });
  };
  const outcome = await run(resolved, resolved.values);
  if (outcome.isOk) return outcome;
  // A failure right after a rotation may only mean the cached value is stale (the old token now
  // refused): read the secrets past the cache, and run once more only if one of them changed, so
  // a rotation never alerts and a real failure costs one extra read.
  const fresh = await secrets
    .resolve(
      config.params,
      AbortSignal.timeout(Math.max(1, Math.round(timeoutMs - (performance.now() - started)))),
      {
        fresh: true,
      },
    )
    .catch(() => undefined);
  if (!fresh || sameValues(fresh.values, resolved.values)) return outcome;
  logger.info("a secret changed since it was cached: check run again", { monitorId });
  return run(fresh, [...new Set([...resolved.values, ...fresh.values])]);
}

/** True when two resolutions read the same secret values. */
function sameValues(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value) => b.includes(value));
}
