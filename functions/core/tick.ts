import type { CheckDefinition } from "../../monitors/types.ts";
import type {
  DeliveryReceipt,
  Logger,
  MonitorStore,
  Notifier,
  RejectedTickSink,
  RunRecord,
  StoredMonitor,
} from "./ports.ts";
import { PermanentDeliveryError, StaleStateError, silentLogger } from "./ports.ts";
import { renderNotification } from "./render.ts";
import { type CheckOutcome, runCheck } from "./run-check.ts";
import { nextRun, parseSchedule } from "./schedule.ts";
import {
  CONFIG_DEFAULTS,
  formatProblems,
  type MonitorConfig,
  type MonitorState,
  type NotificationType,
  type Outbox,
  parseConfigLeniently,
  type TickMessage,
  TickMessageSchema,
} from "./schemas.ts";
import { type Decision, decide, type QuietReason } from "./state-machine.ts";
import { describeThrown, redactSecrets, truncateMessage } from "./text.ts";

/**
 * The tick use case (DESIGN.md §1 steps 1-5, §5): load, guard, check, decide, persist state and
 * outbox in one conditional write, send, clear. Pure orchestration over ports: no AWS import.
 */

export interface TickOptions {
  /** Ticks further ahead of the wall clock are rejected (DESIGN.md §3). @default 300_000 */
  maxFutureSkewMs: number;
  /** How long a handler owns an outbox it is delivering. @default 60_000 */
  outboxLeaseMs: number;
  /** Slack after the next scheduled run before a tick counts as superseded. @default 60_000 */
  supersededGraceMs: number;
  /** Conditional-write races tolerated before the tick is retried through the queue. @default 5 */
  maxRaceRetries: number;
  /** Tick bodies above this size are rejected unread. @default 4096 */
  maxBodyBytes: number;
  /** Failed sends of one notification before it is abandoned (SES refusals abandon it at once). @default 10 */
  maxDeliveryAttempts: number;
  /** Timezone of monitors whose config item has none (the stack's `defaultTimezone`). @default "America/Chicago" */
  defaultTimezone: string;
}

export const DEFAULT_TICK_OPTIONS: TickOptions = {
  maxFutureSkewMs: 5 * 60_000,
  outboxLeaseMs: 60_000,
  supersededGraceMs: 60_000,
  maxRaceRetries: 5,
  maxBodyBytes: 4_096,
  maxDeliveryAttempts: 10,
  defaultTimezone: CONFIG_DEFAULTS.timezone,
};

export interface TickDependencies {
  store: MonitorStore;
  notifier: Notifier;
  findCheck: (name: string) => CheckDefinition | undefined;
  rejected?: RejectedTickSink;
  logger?: Logger;
  /** Wall clock: only for the future-skew guard, supersession and outbox leases, never for decisions. */
  wallClock?: () => Date;
  options?: Partial<TickOptions>;
}

export interface InvocationLimits {
  deadline?: number;
  budgetMs?: number;
}

export type DeliveryResult =
  | { type: NotificationType; delivered: true; messageId: string; recipients: number }
  | { type: NotificationType; delivered: false; error: string; abandoned?: true };

export type TickOutcome =
  | { status: "rejected"; reason: string }
  | { status: "not-found"; monitorId: string }
  | { status: "inactive"; monitorId: string }
  | {
      status: "duplicate";
      monitorId: string;
      lastTickTime: string;
      /** A notification left pending by a crash, delivered by this redelivery. */
      healed: DeliveryResult | null;
    }
  | { status: "superseded"; monitorId: string; nextRun: string }
  | {
      status: "applied";
      monitorId: string;
      check: CheckOutcome;
      decision: Decision;
      /** The notification decided by this tick, if any, and what became of it. */
      delivery: DeliveryResult | null;
      /** Why no mail went out although one was decided: nobody to notify. */
      unsentReason?: "no-recipients";
      /** A notification left over from an earlier tick and delivered (or retried) first. */
      healed: DeliveryResult | null;
      configProblems: string | null;
    };

/** The tick cannot be applied now but will succeed later: the SQS message must be retried. */
export class RetryableTickError extends Error {
  override name = "RetryableTickError";
}

type ParsedTick = { tick: TickMessage } | { reason: string };

export function parseTick(body: string, maxBodyBytes = DEFAULT_TICK_OPTIONS.maxBodyBytes): ParsedTick {
  const size = Buffer.byteLength(body, "utf8");
  if (size > maxBodyBytes)
    return { reason: `tick body is ${size} bytes, more than the ${maxBodyBytes} allowed` };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { reason: `tick body is not JSON: ${JSON.stringify(body.slice(0, 80))}` };
  }
  const parsed = TickMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join(".") || "body"} ${issue.message}`);
    return { reason: `tick body is invalid: ${issues.join("; ")}` };
  }
  return { tick: parsed.data };
}

const iso = (time: string | number | Date) => new Date(time).toISOString();

export class TickProcessor {
  readonly #deps: Required<Omit<TickDependencies, "rejected" | "options">> &
    Pick<TickDependencies, "rejected">;
  readonly #options: TickOptions;

  constructor(deps: TickDependencies) {
    this.#deps = { logger: silentLogger, wallClock: () => new Date(), ...deps };
    this.#options = { ...DEFAULT_TICK_OPTIONS, ...deps.options };
  }

  /**
   * Processes one SQS body. Throws only for conditions a retry can fix (RetryableTickError, I/O
   * errors). `limits.deadline` (epoch ms, wall clock) is when the invocation must be done and
   * `limits.budgetMs` how long a whole invocation has: a check that could not finish before the
   * deadline but would fit a fresh invocation is not started (its tick is retried).
   */
  async process(body: string, limits: InvocationLimits = {}): Promise<TickOutcome> {
    const parsed = parseTick(body, this.#options.maxBodyBytes);
    if ("reason" in parsed) return this.#reject(body, parsed.reason);
    const { tick } = parsed;
    const wallNow = this.#deps.wallClock().getTime();
    const ahead = Date.parse(tick.scheduledTime) - wallNow;
    if (ahead > this.#options.maxFutureSkewMs) {
      // Never applied: one such tick would make every later real tick look stale.
      return this.#reject(
        body,
        `scheduledTime ${tick.scheduledTime} is ${Math.round(ahead / 1000)} s ahead of the clock (limit ${this.#options.maxFutureSkewMs / 1000} s)`,
      );
    }
    const tickTime = iso(tick.scheduledTime);
    let check: CheckOutcome | undefined;
    for (let attempt = 0; attempt <= this.#options.maxRaceRetries; attempt++) {
      const stored = await this.#deps.store.load(tick.monitorId);
      try {
        const outcome = await this.#apply(tick, tickTime, stored, check, limits, (outcome) => {
          check = outcome;
        });
        return outcome;
      } catch (error) {
        if (!(error instanceof StaleStateError)) throw error;
        this.#deps.logger.info("state changed under us; re-reading and re-deciding", {
          monitorId: tick.monitorId,
          attempt,
        });
      }
    }
    throw new RetryableTickError(
      `state of ${tick.monitorId} kept changing during ${this.#options.maxRaceRetries + 1} attempts`,
    );
  }

  async #reject(body: string, reason: string): Promise<TickOutcome> {
    this.#deps.logger.error("tick rejected", { reason, body: body.slice(0, 500) });
    await this.#deps.rejected?.reject(body, reason);
    return { status: "rejected", reason };
  }

  async #apply(
    tick: TickMessage,
    tickTime: string,
    stored: StoredMonitor,
    checkSoFar: CheckOutcome | undefined,
    limits: InvocationLimits,
    remember: (outcome: CheckOutcome) => void,
  ): Promise<TickOutcome> {
    const { monitorId } = tick;
    const { logger } = this.#deps;
    if (!stored.config) {
      logger.warn("monitor not found: no config item", { monitorId });
      return { status: "not-found", monitorId };
    }
    const { config, problems } = parseConfigLeniently(monitorId, stored.config, {
      defaultTimezone: this.#options.defaultTimezone,
    });
    const configProblems = problems.length > 0 ? formatProblems(problems) : null;

    if (!config.isActive) {
      // Paused means silent: even a notification left pending waits until the monitor is resumed.
      logger.info("monitor is inactive: no check, no writes, no mail", { monitorId });
      return { status: "inactive", monitorId };
    }
    let state = stored.state;
    let healed: DeliveryResult | null = null;
    if (state?.outbox) {
      ({ state, healed } = await this.#deliverPending(monitorId, state, config));
    }

    if (state?.lastTickTime && Date.parse(tickTime) <= Date.parse(state.lastTickTime)) {
      logger.info("duplicate or out-of-order tick ignored", {
        monitorId,
        tickTime,
        lastTickTime: state.lastTickTime,
      });
      return { status: "duplicate", monitorId, lastTickTime: state.lastTickTime, healed };
    }
    const supersededBy = this.#supersededBy(tick, tickTime, config);
    if (supersededBy) {
      logger.warn("superseded tick skipped: a newer run is already due", {
        monitorId,
        tickTime,
        nextRun: supersededBy,
      });
      return { status: "superseded", monitorId, nextRun: supersededBy };
    }

    let check = checkSoFar;
    const timeoutMs = config.checkTimeoutSeconds * 1000;
    const { deadline, budgetMs = Number.POSITIVE_INFINITY } = limits;
    const tooLate = deadline !== undefined && this.#deps.wallClock().getTime() + timeoutMs > deadline;
    if (!check && tooLate && timeoutMs <= budgetMs) {
      // Starting now could let the invocation time out mid-tick; a fresh invocation will have time.
      throw new RetryableTickError(
        `not enough time left in this invocation for a ${config.checkTimeoutSeconds} s check`,
      );
    }
    if (!check) {
      check = configProblems
        ? {
            isOk: false,
            message: truncateMessage(`Invalid monitor configuration: ${configProblems}`),
            durationMs: 0,
          }
        : await this.#runCheck(monitorId, config, tickTime);
      remember(check);
    }

    const decision = decide(state, check.isOk, tickTime, config);
    const recipients = config.peopleToNotify;
    const notify = decision.notification !== null && recipients.length > 0;
    if (notify && state?.outbox) {
      // An earlier notification is still undelivered and there is one slot: retry the tick later
      // rather than drop either mail. The state did not move, so nothing is decided twice.
      throw new RetryableTickError(`an earlier ${state.outbox.type} notification is still undelivered`);
    }
    const outbox = notify
      ? this.#buildOutbox(decision.notification as NotificationType, config, check, tickTime)
      : undefined;
    const version = (state?.version ?? 0) + 1;
    const next: MonitorState = {
      ...decision.next,
      lastRunDt: tickTime,
      lastResultOk: check.isOk,
      lastResultMessage: check.message,
      lastTickTime: tickTime,
      version,
      outbox: outbox ?? state?.outbox,
      scheduleError: state?.scheduleError,
      configProblems: configProblems ?? undefined,
    };
    await this.#deps.store.saveState(
      monitorId,
      next,
      state?.version,
      this.#runRecord(config, tickTime, check, decision, outbox, state),
    );

    let delivery: DeliveryResult | null = null;
    if (outbox) delivery = await this.#deliver(monitorId, outbox, config);
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
      checkMs: check.durationMs,
    });
    return {
      status: "applied",
      monitorId,
      check,
      decision,
      delivery,
      ...(decision.notification && !notify ? { unsentReason: "no-recipients" as const } : {}),
      healed,
      configProblems,
    };
  }

  #supersededBy(tick: TickMessage, tickTime: string, config: MonitorConfig): string | null {
    if (!config.skipSupersededTicks || tick.reason === "manual") return null;
    let schedule: ReturnType<typeof parseSchedule>;
    try {
      schedule = parseSchedule(config.schedule);
    } catch {
      return null;
    }
    const after = new Date(tickTime);
    // Rate schedules are anchored where Scheduler created them, which we do not know: the tick
    // itself is an occurrence, so the next one is one period later.
    const next =
      schedule.kind === "rate"
        ? new Date(after.getTime() + schedule.everyMs)
        : nextRun(schedule, config.timezone, after);
    if (!next) return null;
    return next.getTime() + this.#options.supersededGraceMs < this.#deps.wallClock().getTime()
      ? iso(next)
      : null;
  }

  async #runCheck(monitorId: string, config: MonitorConfig, tickTime: string): Promise<CheckOutcome> {
    this.#deps.logger.debug("running check", {
      monitorId,
      check: config.check,
      params: redactSecrets(config.params),
    });
    return runCheck({
      monitorId,
      checkName: config.check,
      check: this.#deps.findCheck(config.check),
      params: config.params,
      timeoutMs: config.checkTimeoutSeconds * 1000,
      now: new Date(tickTime),
      logger: this.#deps.logger,
    });
  }

  #buildOutbox(type: NotificationType, config: MonitorConfig, check: CheckOutcome, tickTime: string): Outbox {
    const email = renderNotification({
      type,
      monitorId: config.monitorId,
      name: config.name,
      state: type === "recovery" ? "ok" : "alert",
      at: tickTime,
      timezone: config.timezone,
      check: config.check,
      message: check.message,
    });
    return {
      // Deterministic: the same tick deciding the same notification yields the same id.
      id: `${tickTime}#${type}`,
      type,
      tickTime,
      recipients: [...config.peopleToNotify],
      ...email,
      createdAt: iso(this.#deps.wallClock()),
      // The writer owns delivery for a lease: a concurrent handler must not send it as well.
      claimedUntil: this.#deps.wallClock().getTime() + this.#options.outboxLeaseMs,
      attempts: 0,
    };
  }

  #runRecord(
    config: MonitorConfig,
    tickTime: string,
    check: CheckOutcome,
    decision: Decision,
    outbox: Outbox | undefined,
    previous: MonitorState | undefined,
  ): RunRecord | undefined {
    const changed =
      decision.notification !== null || decision.next.state !== (previous?.state ?? "ok") || !check.isOk;
    if (config.recordOnlyChanges && !changed) return undefined;
    const quietReason: QuietReason | "no-recipients" | undefined =
      decision.notification && !outbox ? "no-recipients" : decision.quietReason;
    return {
      scheduledTime: tickTime,
      isOk: check.isOk,
      message: check.message,
      durationMs: check.durationMs,
      state: decision.next.state,
      consecutiveOkCount: decision.next.consecutiveOkCount,
      notification: decision.notification ?? undefined,
      quietReason,
      expiresAt: Math.floor(Date.parse(tickTime) / 1000) + config.historyRetentionDays * 86_400,
    };
  }

  /** A notification left by an earlier tick (crash, SES outage) goes out before anything else. */
  async #deliverPending(
    monitorId: string,
    state: MonitorState,
    config: MonitorConfig,
  ): Promise<{ state: MonitorState; healed: DeliveryResult }> {
    const outbox = state.outbox as Outbox;
    const wallNow = this.#deps.wallClock().getTime();
    if (outbox.claimedUntil !== undefined && outbox.claimedUntil > wallNow) {
      throw new RetryableTickError(
        `the pending ${outbox.type} notification is being delivered by another invocation`,
      );
    }
    const claimedUntil = wallNow + this.#options.outboxLeaseMs;
    await this.#deps.store.claimOutbox(monitorId, outbox.id, state.version, claimedUntil);
    this.#deps.logger.warn("delivering a notification left pending by an earlier tick", {
      monitorId,
      type: outbox.type,
      tickTime: outbox.tickTime,
      attempts: outbox.attempts,
    });
    // People may have fixed the recipient list since: mail whoever is listed now.
    const recipients = config.peopleToNotify.length > 0 ? config.peopleToNotify : outbox.recipients;
    const healed = await this.#deliver(monitorId, { ...outbox, recipients, claimedUntil }, config);
    // Each store write bumps the version by one: claim, then complete or release.
    const version = state.version + 2;
    const remaining =
      healed.delivered || healed.abandoned
        ? undefined
        : { ...outbox, claimedUntil: undefined, attempts: outbox.attempts + 1, lastError: healed.error };
    return { state: { ...state, version, outbox: remaining }, healed };
  }

  /**
   * Sends the outbox, then clears it with a log item. A failure leaves it for the next tick, unless
   * it can never succeed (SES refused the message itself) or has failed `maxDeliveryAttempts`
   * times: then it is abandoned with its reason in the log item and a metric, so one undeliverable
   * mail cannot hold the monitor's later notifications back for ever.
   */
  async #deliver(monitorId: string, outbox: Outbox, config: MonitorConfig): Promise<DeliveryResult> {
    const attempts = outbox.attempts + 1;
    const receipt = (extra: { messageId: string; outcome: DeliveryReceipt["outcome"]; error?: string }) => {
      const at = iso(this.#deps.wallClock());
      return {
        ...extra,
        recipients: outbox.recipients,
        type: outbox.type,
        tickTime: outbox.tickTime,
        subject: outbox.subject,
        deliveredAt: at,
        attempts,
        expiresAt: Math.floor(Date.parse(at) / 1000) + config.historyRetentionDays * 86_400,
      };
    };
    let messageId: string;
    try {
      ({ messageId } = await this.#deps.notifier.send({
        to: outbox.recipients,
        subject: outbox.subject,
        text: outbox.text,
        html: outbox.html,
      }));
    } catch (error) {
      const reason = truncateMessage(describeThrown(error), 1000);
      const permanent = error instanceof PermanentDeliveryError;
      if (permanent || attempts >= this.#options.maxDeliveryAttempts) {
        this.#deps.logger.error("notification abandoned: it cannot be delivered", {
          monitorId,
          type: outbox.type,
          attempts,
          reason,
        });
        await this.#deps.store.completeOutbox(
          monitorId,
          outbox.id,
          receipt({ messageId: "", outcome: "abandoned", error: reason }),
        );
        return { type: outbox.type, delivered: false, abandoned: true, error: reason };
      }
      this.#deps.logger.error("notification delivery failed; it stays in the outbox for the next tick", {
        monitorId,
        type: outbox.type,
        attempts,
        reason,
      });
      await this.#deps.store.releaseOutbox(monitorId, outbox.id, reason);
      return { type: outbox.type, delivered: false, error: reason };
    }
    await this.#deps.store.completeOutbox(monitorId, outbox.id, receipt({ messageId, outcome: "delivered" }));
    return { type: outbox.type, delivered: true, messageId, recipients: outbox.recipients.length };
  }
}
