import type { DeliveryResult, TargetResult } from "../outbox-delivery.ts";
import type { CheckOutcome } from "../run-check.ts";
import type { MonitorConfig, MonitorState } from "../schemas.ts";
import type { Persisted } from "./decide.ts";
import type { TickContext, TickOutcome, TickRuntime } from "./runtime.ts";

/**
 * Step 4 of a tick: deliver. Also used by step 1, which delivers whatever an earlier tick left
 * pending before anything else.
 */

/**
 * Delivers what is pending in the outbox, in order, as this tick's claim. `own`: the entry this
 * tick just decided (its message is then the delivery's last hope if no retry can be queued).
 */
export function drainPending(
  runtime: TickRuntime,
  monitorId: string,
  state: MonitorState,
  config: MonitorConfig,
  context: TickContext,
  own = false,
) {
  const retry = context.tick.reason === "deliver";
  context.failedTargets ??= new Set();
  return runtime.delivery.drain(monitorId, state, config, {
    claimId: context.claimId,
    retry,
    retryAttempt: context.tick.attempt,
    failIfRetryLost: own || retry,
    deadline: context.limits.deadline,
    failedTargets: context.failedTargets,
  });
}

/** Step 4: this tick's own notification, if it heads the outbox (else it waits in the queue). */
export async function deliver(
  runtime: TickRuntime,
  context: TickContext,
  config: MonitorConfig,
  state: MonitorState | undefined,
  check: CheckOutcome,
  configProblems: string | null,
  persisted: Persisted,
  earlier: DeliveryResult[],
): Promise<TickOutcome> {
  const { tickTime } = context;
  const { monitorId } = context.tick;
  const { logger } = runtime.deps;
  const { decision, entry, next, written } = persisted;
  let healed = earlier;
  let delivery: DeliveryResult | null = null;
  // Targets that already had too many notifications waiting were given this one up at the write.
  const overflowed: TargetResult[] = (persisted.overflowed ?? []).map((target) => ({
    target,
    kind: target.startsWith("email:") ? "email" : "channel",
    status: "abandoned",
    error: persisted.abandoned ?? "",
  }));
  if (entry && overflowed.length > 0) {
    logger.error("notification abandoned: too many are waiting for delivery", {
      monitorId,
      type: entry.type,
      tickTime: entry.tickTime,
      targets: persisted.overflowed,
      reason: persisted.abandoned,
    });
    delivery = {
      type: entry.type,
      tickTime: entry.tickTime,
      delivered: false,
      abandoned: true,
      error: persisted.abandoned ?? "",
      targets: overflowed,
    };
  }
  if (entry && persisted.queued) {
    // Drained wherever it waits: a target that has nothing pending before it gets it now, even
    // while another target is still failing on an earlier notification.
    const drained = await drainPending(runtime, monitorId, next, config, context, true);
    const own = drained.results.find(
      (result) => result.tickTime === entry.tickTime && result.type === entry.type,
    );
    if (own)
      delivery = overflowed.length > 0 ? { ...own, targets: [...(own.targets ?? []), ...overflowed] } : own;
    healed = [...healed, ...drained.results.filter((result) => result !== own)];
  }
  // A quiet healthy tick is the common case and already on the state item: DEBUG keeps the log
  // bill proportional to what happened (failures, state changes and mail stay at INFO).
  const eventful = !check.isOk || decision.notification !== null || next.state !== (state?.state ?? "ok");
  logger[eventful ? "info" : "debug"]("tick applied", {
    monitorId,
    tickTime,
    isOk: check.isOk,
    state: next.state,
    notification: decision.notification,
    delivered: delivery?.delivered,
    queued: entry !== undefined && delivery === null ? true : undefined,
    checkMs: check.durationMs,
    written,
  });
  const configProblemsChanged = configProblems !== null && configProblems !== (state?.configProblems ?? null);
  if (configProblemsChanged) {
    logger.warn("monitor configuration has problems", { monitorId, configProblems });
  }
  const unsentReason =
    decision.notification && !entry ? "no-recipients" : entry && !delivery ? "queued" : undefined;
  return {
    status: "applied",
    monitorId,
    check,
    decision,
    delivery,
    ...(unsentReason ? { unsentReason } : {}),
    healed,
    configProblems,
    configProblemsChanged,
    written,
  };
}
