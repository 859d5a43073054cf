import { type DeliveryResult, RetryableTickError } from "./outbox-delivery.ts";
import type { StoredMonitor } from "./ports.ts";
import { StaleStateError } from "./ports.ts";
import { describeThrown } from "./text.ts";
import { checkStep } from "./tick/check-step.ts";
import { decideAndPersist } from "./tick/decide.ts";
import { deliver } from "./tick/deliver.ts";
import { admitTick, guard, parseTick } from "./tick/guard.ts";
import {
  createTickRuntime,
  DEFAULT_TICK_OPTIONS,
  type InvocationLimits,
  PrefetchedMonitors,
  type TickContext,
  type TickDependencies,
  type TickOptions,
  type TickOutcome,
  type TickRuntime,
} from "./tick/runtime.ts";

export {
  DEFAULT_TICK_OPTIONS,
  type DeliveryResult,
  type InvocationLimits,
  PrefetchedMonitors,
  parseTick,
  RetryableTickError,
  type TickDependencies,
  type TickOptions,
  type TickOutcome,
};

/**
 * The tick use case (DESIGN.md §1 steps 1-5, §5), one small step per module under ./tick/, run in
 * this order by `TickProcessor`:
 * 1. guard.ts: admit the message; load; stop a missing, paused, duplicate or superseded tick,
 *    delivering anything pending first;
 * 2. check-step.ts: run the check (or say why its configuration keeps it from running);
 * 3. decide.ts: the state machine's decision and its notification, persisted with the state and
 *    history in one conditional write (or nothing, for a quiet run);
 * 4. deliver.ts: send this tick's notification, then clear it.
 * Pure orchestration over ports: no AWS import.
 */
export class TickProcessor {
  readonly #runtime: TickRuntime;

  constructor(deps: TickDependencies) {
    this.#runtime = createTickRuntime(deps);
  }

  /**
   * Processes one SQS body. Throws only for conditions a retry can fix (RetryableTickError, I/O
   * errors). `limits.deadline` (epoch ms, wall clock) is when the invocation must be done and
   * `limits.budgetMs` how long a whole invocation has: a check that could not finish before the
   * deadline but would fit a fresh invocation is not started (its tick is retried).
   */
  async process(body: string, limits: InvocationLimits = {}): Promise<TickOutcome> {
    const { deps, options } = this.#runtime;
    const admitted = admitTick(body, options, this.#runtime.now());
    if ("reason" in admitted) return this.#reject(body, admitted.reason);
    const { tick, tickTime } = admitted;
    const context: TickContext = { tick, tickTime, claimId: deps.newClaimId(), limits };
    for (let attempt = 0; attempt <= options.maxRaceRetries; attempt++) {
      // Step 1: load (the batch's prefetched read for the first attempt, if there is one).
      const stored =
        (attempt === 0 ? limits.prefetched?.take(tick.monitorId) : undefined) ??
        (await deps.store.load(tick.monitorId));
      try {
        return await this.#apply(context, stored);
      } catch (error) {
        if (!(error instanceof StaleStateError)) throw error;
        deps.logger.info("state changed under us; re-reading and re-deciding", {
          monitorId: tick.monitorId,
          attempt,
        });
      }
    }
    throw new RetryableTickError(
      `state of ${tick.monitorId} kept changing during ${options.maxRaceRetries + 1} attempts`,
    );
  }

  /**
   * Reads config and state of every monitor the bodies tick in one request (an SQS batch's), for
   * `process`. Strongly consistent: a stale state read followed by a quiet (no-write) decision
   * could skip a transition, so eventual consistency is not safe here. Best effort: if it fails,
   * each tick reads its own.
   */
  async prefetch(bodies: readonly string[]): Promise<PrefetchedMonitors> {
    const { deps, options } = this.#runtime;
    const { loadMany } = deps.store;
    const ids = new Set<string>();
    for (const body of bodies) {
      const parsed = parseTick(body, options.maxBodyBytes);
      if ("tick" in parsed) ids.add(parsed.tick.monitorId);
    }
    if (!loadMany || ids.size === 0) return new PrefetchedMonitors();
    try {
      return new PrefetchedMonitors(await loadMany.call(deps.store, [...ids]));
    } catch (error) {
      deps.logger.warn("could not read the batch's monitors at once; each tick reads its own", {
        monitors: ids.size,
        error: describeThrown(error),
      });
      return new PrefetchedMonitors();
    }
  }

  async #reject(body: string, reason: string): Promise<TickOutcome> {
    this.#runtime.deps.logger.error("tick rejected", { reason, body: body.slice(0, 500) });
    await this.#runtime.deps.rejected?.reject(body, reason);
    return { status: "rejected", reason };
  }

  /**
   * One attempt at the tick on what was just read, in the order of DESIGN.md §1: (1) guard,
   * delivering anything pending first; (2) check; (3) decide and persist state, outbox and history
   * in one conditional write (or nothing, for a quiet run); (4) deliver. A lost write race throws
   * StaleStateError, and `process` reads again.
   */
  async #apply(context: TickContext, stored: StoredMonitor): Promise<TickOutcome> {
    const runtime = this.#runtime;
    const guarded = await guard(runtime, context, stored);
    if ("outcome" in guarded) return guarded.outcome;
    const { config, problems, state, healed } = guarded;
    const { check, configProblems } = await checkStep(runtime, context, config, problems);
    const persisted = await decideAndPersist(runtime, context, state, config, check, configProblems);
    return deliver(runtime, context, config, state, check, configProblems, persisted, healed);
  }
}
