import { randomUUID } from "node:crypto";
import type { CheckDefinition } from "./check.ts";
import { type IncidentUpdate, incidentOnTick } from "./incident.ts";
import { type DeliveryResult, OutboxDelivery, RetryableTickError } from "./outbox-delivery.ts";
import type {
  DeliveryReceipt,
  DeliveryRetryPort,
  Logger,
  MonitorStore,
  Notifier,
  RejectedTickSink,
  RunRecord,
  RunSummary,
  SecretSource,
  StoredMonitor,
} from "./ports.ts";
import { StaleStateError, silentLogger } from "./ports.ts";
import { buildSummary, heartbeatDue, isQuiet, QuietRunSamples, quietRunsBetween } from "./quiet.ts";
import { redactingLogger } from "./redacting-logger.ts";
import { renderNotification, withDeliveryDelay } from "./render.ts";
import { type CheckOutcome, runCheck } from "./run-check.ts";
import { nextRun, parseSchedule } from "./schedule.ts";
import {
  type Acknowledgement,
  CONFIG_DEFAULTS,
  type ConfigProblem,
  formatProblems,
  type MonitorConfig,
  type MonitorState,
  type NotificationType,
  type Outbox,
  parseConfigLeniently,
  type TickMessage,
  TickMessageSchema,
} from "./schemas.ts";
import {
  findSecretRefs,
  issueStandsBeforeResolution,
  maskSecretValues,
  SecretResolver,
  secretRefProblems,
  withSecretPlaceholders,
} from "./secrets.ts";
import { type Decision, decide, type QuietReason } from "./state-machine.ts";
import { describeThrown, redactSecrets, truncateMessage } from "./text.ts";

export { type DeliveryResult, RetryableTickError };

/**
 * The tick use case (DESIGN.md §1 steps 1-5, §5): load, guard, check, decide, persist state and
 * outbox in one conditional write, send, clear. Pure orchestration over ports: no AWS import.
 */

export interface TickOptions {
  /** Ticks further ahead of the wall clock are rejected (DESIGN.md §3). @default 300_000 */
  maxFutureSkewMs: number;
  /**
   * How long a handler owns an outbox entry it is delivering. Longer than the mail client's whole
   * bounded retries (SES: 4 attempts of up to 11 s; the clear: a few store attempts of up to
   * 8 s each), so a live sender is never overtaken. @default 300_000
   */
  outboxLeaseMs: number;
  /** Slack after the next scheduled run before a tick counts as superseded. @default 60_000 */
  supersededGraceMs: number;
  /** Conditional-write races tolerated before the tick is retried through the queue. @default 5 */
  maxRaceRetries: number;
  /** Tick bodies above this size are rejected unread. @default 4096 */
  maxBodyBytes: number;
  /**
   * How long a notification that keeps failing transiently (throttling, 5xx, timeouts) is retried
   * before it is abandoned; counted from its decision. Refusals abandon at once. @default 86_400_000 (24 h)
   */
  deliveryBudgetMs: number;
  /** First delivery retry delay; each failure doubles it. @default 30_000 */
  retryBaseMs: number;
  /**
   * Longest delivery retry delay (SQS DelaySeconds allows up to 15 minutes). Five minutes bounds
   * how long a mail waits after the mail service is back, for about 288 SQS messages a day per
   * pending mail during a whole-day outage. @default 300_000
   */
  retryMaxMs: number;
  /**
   * A retry the queue should have brought by now (plus this) is presumed lost: the next tick
   * delivers instead. @default 300_000
   */
  retryOverdueMs: number;
  /**
   * Notifications that may wait behind an undelivered one. Only a flapping monitor during a long
   * outage gets near it; beyond it, a new notification is abandoned with that reason (and the
   * operators' alarm) rather than block the monitor. @default 20
   */
  maxQueuedNotifications: number;
  /** Timezone of monitors whose config item has none (the stack's `defaultTimezone`). @default "America/Chicago" */
  defaultTimezone: string;
  /**
   * Lowercase domains recipients must be in (the stack's `allowedRecipientDomains`): anyone else in
   * peopleToNotify is not mailed and is reported as a config problem. Empty: any domain. @default []
   */
  allowedRecipientDomains: readonly string[];
  /**
   * Write on change: a quiet tick (OK after OK, nothing but bookkeeping would change) writes
   * nothing unless the persisted run is this old; then it writes the state with a summary of the
   * quiet runs (the stack's `stateHeartbeatMinutes`). 0: every tick writes. @default 900_000 (15 min)
   */
  stateHeartbeatMs: number;
}

export const DEFAULT_TICK_OPTIONS: TickOptions = {
  maxFutureSkewMs: 5 * 60_000,
  outboxLeaseMs: 300_000,
  supersededGraceMs: 60_000,
  maxRaceRetries: 5,
  maxBodyBytes: 4_096,
  deliveryBudgetMs: 24 * 3_600_000,
  retryBaseMs: 30_000,
  retryMaxMs: 300_000,
  retryOverdueMs: 5 * 60_000,
  maxQueuedNotifications: 20,
  defaultTimezone: CONFIG_DEFAULTS.timezone,
  allowedRecipientDomains: [],
  stateHeartbeatMs: 15 * 60_000,
};

export interface TickDependencies {
  store: MonitorStore;
  notifier: Notifier;
  findCheck: (name: string) => CheckDefinition | undefined;
  rejected?: RejectedTickSink;
  /** Retries a failed delivery on its own backoff; without it, the monitor's next tick retries. */
  retries?: DeliveryRetryPort;
  /**
   * Reads the secrets that params reference (`{"secretRef": ...}`), cached for a short TTL by the
   * processor. Without it, a monitor whose params reference a secret fails saying so.
   */
  secrets?: SecretSource;
  logger?: Logger;
  /** Wall clock: only for the future-skew guard, supersession, leases and delivery retries, never for decisions. */
  wallClock?: () => Date;
  /** A unique id per processed tick, naming its outbox claims. @default crypto.randomUUID */
  newClaimId?: () => string;
  /** Uniform in [0, 1), for retry jitter. @default Math.random */
  random?: () => number;
  options?: Partial<TickOptions>;
}

export interface InvocationLimits {
  deadline?: number;
  budgetMs?: number;
  /** The batch's config and state, read at once (`prefetch`): each monitor's first tick uses them. */
  prefetched?: PrefetchedMonitors;
}

export type TickOutcome =
  | { status: "rejected"; reason: string }
  | { status: "not-found"; monitorId: string }
  | { status: "inactive"; monitorId: string }
  | {
      status: "duplicate";
      monitorId: string;
      lastTickTime: string;
      /** Notifications left pending by a crash or an outage, delivered (or tried) by this redelivery. */
      healed: DeliveryResult[];
    }
  | { status: "superseded"; monitorId: string; nextRun: string; healed: DeliveryResult[] }
  /** A `deliver` tick: another attempt at the pending notifications, nothing else. */
  | { status: "delivery-retry"; monitorId: string; healed: DeliveryResult[] }
  | {
      status: "applied";
      monitorId: string;
      check: CheckOutcome;
      decision: Decision;
      /** The notification decided by this tick, if it was sent (or tried) in this invocation. */
      delivery: DeliveryResult | null;
      /** Why no mail went out now although one was decided. */
      unsentReason?: "no-recipients" | "queued";
      /** Notifications left over from earlier ticks and delivered (or tried) first. */
      healed: DeliveryResult[];
      configProblems: string | null;
      /** The config problems differ from those already on the state item: report them (once). */
      configProblemsChanged: boolean;
      /**
       * What was written: `state` (a change, a failure, a manual run, the first run), `heartbeat`
       * (a quiet run whose persisted run was old: state + summary), or `none` (a quiet run).
       */
      written: "state" | "heartbeat" | "none";
    };

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

/**
 * Config and state of a batch's monitors, read in one request (TickProcessor.prefetch). Each
 * monitor's items are handed out once, to its first tick: a later tick of the same monitor in the
 * batch, and every re-read after a lost write race, loads afresh.
 */
/** What a notification knows of its incident (functions/core/incident.ts), for its mail. */
interface NotificationTag {
  /** The incident's start (also the outbox entry's `incident`). */
  incident: string | undefined;
  ack: Acknowledgement | undefined;
  /** The incident was adopted by this tick: its start is a lower bound. */
  adopted?: boolean;
  /** REMINDER: which reminder of the incident this one is. */
  reminders?: number;
  /** The incident's last failure (said by RECOVERED). */
  lastFailureMessage?: string | undefined;
}

export class PrefetchedMonitors {
  readonly #items: Map<string, StoredMonitor>;
  constructor(items: Map<string, StoredMonitor> = new Map()) {
    this.#items = items;
  }
  take(monitorId: string): StoredMonitor | undefined {
    const stored = this.#items.get(monitorId);
    this.#items.delete(monitorId);
    return stored;
  }
}

/** The tick's incident change, counting its own notification if it was abandoned unsent. */
function withAbandoned(
  update: IncidentUpdate | undefined,
  abandoned: Outbox | false | undefined,
): IncidentUpdate | undefined {
  if (!abandoned || abandoned.incident === undefined) return update;
  if (update && update.start !== abandoned.incident) return update;
  const base = update ?? { start: abandoned.incident };
  return { ...base, increment: [...(base.increment ?? []), "notificationsAbandoned"] };
}

/** What one tick's processing knows across its re-reads. */
interface TickContext {
  tick: TickMessage;
  /** The logical "now": scheduledTime, or for a manual recheck no later than the wall clock. */
  tickTime: string;
  /** Names this processing's outbox claims: only their holder may release them. */
  claimId: string;
  limits: InvocationLimits;
  check?: CheckOutcome;
}

/** What step 3 decided and wrote, for step 4. */
interface Persisted {
  decision: Decision;
  entry: Outbox | undefined;
  next: MonitorState;
  written: "state" | "heartbeat" | "none";
  /** Why this tick's own notification was given up before any attempt (too many waiting). */
  abandoned?: string;
}

export class TickProcessor {
  readonly #deps: Required<Omit<TickDependencies, "rejected" | "retries" | "options" | "secrets">> &
    Pick<TickDependencies, "rejected" | "retries">;
  readonly #options: TickOptions;
  readonly #delivery: OutboxDelivery;
  readonly #secrets: SecretResolver | undefined;
  /** Durations of quiet runs applied here, for their summary (write on change). */
  readonly #quietRuns = new QuietRunSamples();

  constructor(deps: TickDependencies) {
    this.#deps = {
      logger: silentLogger,
      wallClock: () => new Date(),
      newClaimId: randomUUID,
      random: Math.random,
      ...deps,
    };
    this.#options = { ...DEFAULT_TICK_OPTIONS, ...deps.options };
    this.#secrets = deps.secrets ? new SecretResolver(deps.secrets) : undefined;
    this.#delivery = new OutboxDelivery(this.#deps, this.#options);
  }

  /**
   * Delivers what is pending in the outbox, in order, as this tick's claim. `own`: the entry this
   * tick just decided (its message is then the delivery's last hope if no retry can be queued).
   */
  #drain(monitorId: string, state: MonitorState, config: MonitorConfig, context: TickContext, own = false) {
    const retry = context.tick.reason === "deliver";
    return this.#delivery.drain(monitorId, state, config, {
      claimId: context.claimId,
      retry,
      retryAttempt: context.tick.attempt,
      failIfRetryLost: own || retry,
      deadline: context.limits.deadline,
    });
  }

  #now(): number {
    return this.#deps.wallClock().getTime();
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
    const wallNow = this.#now();
    const ahead = Date.parse(tick.scheduledTime) - wallNow;
    if (ahead > this.#options.maxFutureSkewMs) {
      // Never applied: one such tick would make every later real tick look stale.
      return this.#reject(
        body,
        `scheduledTime ${tick.scheduledTime} is ${Math.round(ahead / 1000)} s ahead of the clock (limit ${this.#options.maxFutureSkewMs / 1000} s)`,
      );
    }
    // A manual recheck runs "now": a sender whose clock runs ahead must not date it in the future.
    const tickTime =
      tick.reason === "manual"
        ? iso(Math.min(Date.parse(tick.scheduledTime), wallNow))
        : iso(tick.scheduledTime);
    const context: TickContext = { tick, tickTime, claimId: this.#deps.newClaimId(), limits };
    for (let attempt = 0; attempt <= this.#options.maxRaceRetries; attempt++) {
      // Step 1: load (the batch's prefetched read for the first attempt, if there is one).
      const stored =
        (attempt === 0 ? limits.prefetched?.take(tick.monitorId) : undefined) ??
        (await this.#deps.store.load(tick.monitorId));
      try {
        return await this.#apply(context, stored);
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

  /**
   * Reads config and state of every monitor the bodies tick in one request (an SQS batch's), for
   * `process`. Strongly consistent: a stale state read followed by a quiet (no-write) decision
   * could skip a transition, so eventual consistency is not safe here. Best effort: if it fails,
   * each tick reads its own.
   */
  async prefetch(bodies: readonly string[]): Promise<PrefetchedMonitors> {
    const { loadMany } = this.#deps.store;
    const ids = new Set<string>();
    for (const body of bodies) {
      const parsed = parseTick(body, this.#options.maxBodyBytes);
      if ("tick" in parsed) ids.add(parsed.tick.monitorId);
    }
    if (!loadMany || ids.size === 0) return new PrefetchedMonitors();
    try {
      return new PrefetchedMonitors(await loadMany.call(this.#deps.store, [...ids]));
    } catch (error) {
      this.#deps.logger.warn("could not read the batch's monitors at once; each tick reads its own", {
        monitors: ids.size,
        error: describeThrown(error),
      });
      return new PrefetchedMonitors();
    }
  }

  async #reject(body: string, reason: string): Promise<TickOutcome> {
    this.#deps.logger.error("tick rejected", { reason, body: body.slice(0, 500) });
    await this.#deps.rejected?.reject(body, reason);
    return { status: "rejected", reason };
  }

  /**
   * One attempt at the tick on what was just read, in the order of DESIGN.md §1: (1) guard,
   * delivering anything pending first; (2) check; (3) decide and persist state, outbox and history
   * in one conditional write (or nothing, for a quiet run); (4) deliver. A lost write race throws
   * StaleStateError, and `process` reads again.
   */
  async #apply(context: TickContext, stored: StoredMonitor): Promise<TickOutcome> {
    const guarded = await this.#guard(context, stored);
    if ("outcome" in guarded) return guarded.outcome;
    const { config, problems, state, healed } = guarded;
    const { check, configProblems } = await this.#check(context, config, problems);
    const persisted = await this.#decideAndPersist(context, state, config, check, configProblems);
    return this.#deliver(context, config, state, check, configProblems, persisted, healed);
  }

  /**
   * Step 1 (after the load): a missing or paused monitor stops here; pending notifications go out
   * first; duplicate, out-of-order and superseded ticks stop here.
   */
  async #guard(
    context: TickContext,
    stored: StoredMonitor,
  ): Promise<
    | { outcome: TickOutcome }
    | {
        config: MonitorConfig;
        problems: ConfigProblem[];
        state: MonitorState | undefined;
        healed: DeliveryResult[];
      }
  > {
    const { tick, tickTime } = context;
    const { monitorId } = tick;
    const { logger } = this.#deps;
    if (!stored.config) {
      logger.warn("monitor not found: no config item", { monitorId });
      return { outcome: { status: "not-found", monitorId } };
    }
    const { config, problems } = parseConfigLeniently(monitorId, stored.config, {
      defaultTimezone: this.#options.defaultTimezone,
      allowedRecipientDomains: this.#options.allowedRecipientDomains,
    });

    if (!config.isActive) {
      // Paused means silent: even a notification left pending waits until the monitor is resumed.
      logger.info("monitor is inactive: no check, no writes, no mail", { monitorId });
      return { outcome: { status: "inactive", monitorId } };
    }
    let state = stored.state;
    let healed: DeliveryResult[] = [];
    if (state?.outbox) {
      ({ state, results: healed } = await this.#drain(monitorId, state, config, context));
    }
    if (tick.reason === "deliver") return { outcome: { status: "delivery-retry", monitorId, healed } };

    const manual = tick.reason === "manual";
    // Manual rechecks keep their own clock: wherever their sender's clock stands, they never make a
    // scheduled tick look like a duplicate. Between writes (write on change) lastTickTime is the
    // last *written* tick: a redelivered quiet tick runs its check again, which is harmless (it
    // can only write a failure or a change, conditionally, and moves lastTickTime when it does).
    const lastSeen = manual ? state?.lastManualTickTime : state?.lastTickTime;
    const stamp = manual ? iso(tick.scheduledTime) : tickTime;
    if (lastSeen && Date.parse(stamp) <= Date.parse(lastSeen)) {
      logger.info("duplicate or out-of-order tick ignored", { monitorId, tickTime, lastTickTime: lastSeen });
      return { outcome: { status: "duplicate", monitorId, lastTickTime: lastSeen, healed } };
    }
    const supersededBy = this.#supersededBy(tick, tickTime, config);
    if (supersededBy) {
      logger.warn("superseded tick skipped: a newer run is already due", {
        monitorId,
        tickTime,
        nextRun: supersededBy,
      });
      return { outcome: { status: "superseded", monitorId, nextRun: supersededBy, healed } };
    }
    return { config, problems, state, healed };
  }

  /**
   * Step 3: decide, then persist state, outbox and history in one conditional write. A quiet run
   * (write on change) writes nothing unless its heartbeat is due; then it writes the state with
   * the summary of the quiet runs since the last write. Any other write carries that summary too.
   */
  async #decideAndPersist(
    context: TickContext,
    state: MonitorState | undefined,
    config: MonitorConfig,
    check: CheckOutcome,
    configProblems: string | null,
  ): Promise<Persisted> {
    const { tick, tickTime } = context;
    const { monitorId } = tick;
    const manual = tick.reason === "manual";
    const stamp = manual ? iso(tick.scheduledTime) : tickTime;
    const { decision, entry, unnotifiedAlert, incident } = this.#decide(context, state, config, check);
    const { outbox, outboxQueue, overflow } = this.#enqueue(context, state, entry);
    const heartbeatMs = this.#options.stateHeartbeatMs;
    const next: MonitorState = {
      ...decision.next,
      lastRunDt: tickTime,
      lastResultOk: check.isOk,
      lastResultMessage: check.message,
      lastTickTime: manual ? state?.lastTickTime : tickTime,
      lastManualTickTime: manual ? stamp : state?.lastManualTickTime,
      version: (state?.version ?? 0) + 1,
      outbox,
      outboxQueue,
      unnotifiedAlert,
      scheduleError: state?.scheduleError,
      configProblems: configProblems ?? undefined,
      stateHeartbeatMinutes: heartbeatMs > 0 ? heartbeatMs / 60_000 : undefined,
      incident: incident.incident,
    };
    const quiet =
      heartbeatMs > 0 &&
      isQuiet({
        previous: state,
        next,
        isOk: check.isOk,
        manual,
        notified: decision.notification !== null || entry !== undefined,
      });
    const base = state?.lastTickTime;
    if (quiet && state && base) {
      this.#quietRuns.add(monitorId, base, tickTime, check.durationMs);
      if (!heartbeatDue(state, tickTime, heartbeatMs)) {
        return { decision, entry, next, written: "none" };
      }
    }
    const abandoned = entry && overflow ? this.#abandonedReceipt(entry, config, overflow) : undefined;
    const summary =
      !manual && base && state ? this.#summary(monitorId, base, config, tickTime, quiet) : undefined;
    await this.#deps.store.saveState(monitorId, next, state?.version, {
      run: quiet ? undefined : this.#runRecord(config, tickTime, check, decision, entry !== undefined, state),
      summary,
      receipt: abandoned,
      incident: withAbandoned(incident.update, abandoned && entry),
    });
    // The quiet runs before this write are summarised (or, for a manual run, still pending).
    if (!manual) this.#quietRuns.forget(monitorId);
    return {
      decision,
      entry,
      next,
      written: quiet ? "heartbeat" : "state",
      ...(abandoned ? { abandoned: overflow } : {}),
    };
  }

  /**
   * The summary item of the quiet runs after the last write (`base`) and before this tick (or up to
   * it, when this tick is the quiet run whose heartbeat is due). Its count comes from the
   * schedule; its durations from the runs this process applied. None with recordOnlyChanges.
   */
  #summary(
    monitorId: string,
    base: string,
    config: MonitorConfig,
    tickTime: string,
    includeTick: boolean,
  ): RunSummary | undefined {
    if (config.recordOnlyChanges) return undefined;
    const measured = this.#quietRuns.durations(monitorId, base, tickTime);
    const window =
      quietRunsBetween({
        schedule: config.schedule,
        timezone: config.timezone,
        lastTickTime: base,
        until: tickTime,
        includeUntil: includeTick,
        heartbeatMs: this.#options.stateHeartbeatMs,
      }) ??
      // A schedule that cannot be evaluated: the runs measured here are all we know of.
      (measured.length > 0
        ? {
            from: measured[0]?.[0] as string,
            to: measured.at(-1)?.[0] as string,
            count: measured.length,
          }
        : undefined);
    if (!window) return undefined;
    const to = Date.parse(window.to);
    const durations = measured.filter(([time]) => Date.parse(time) <= to).map(([, ms]) => ms);
    return buildSummary(window, durations, config);
  }

  /** Step 4: this tick's own notification, if it heads the outbox (else it waits in the queue). */
  async #deliver(
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
    const { logger } = this.#deps;
    const { decision, entry, next, written } = persisted;
    let healed = earlier;
    let delivery: DeliveryResult | null = null;
    if (entry && persisted.abandoned !== undefined) {
      logger.error("notification abandoned: too many are waiting for delivery", {
        monitorId,
        type: entry.type,
        tickTime: entry.tickTime,
        reason: persisted.abandoned,
      });
      delivery = {
        type: entry.type,
        tickTime: entry.tickTime,
        delivered: false,
        abandoned: true,
        error: persisted.abandoned,
      };
    }
    if (entry && next.outbox?.id === entry.id) {
      const drained = await this.#drain(monitorId, next, config, context, true);
      delivery = drained.results.find((result) => result.tickTime === entry.tickTime) ?? null;
      healed = [...healed, ...drained.results.filter((result) => result !== delivery)];
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
    const configProblemsChanged =
      configProblems !== null && configProblems !== (state?.configProblems ?? null);
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

  /**
   * Step 2: the check's outcome. Only a check that cannot run (no usable check, an unknown one,
   * params its schema refuses) is replaced by a failure naming every problem; any other bad
   * attribute falls back to its default, so a typo never hides a real outage behind config noise.
   * A check already run by an earlier attempt of this tick (a lost write race) is not run again.
   */
  async #check(
    context: TickContext,
    config: MonitorConfig,
    problems: ConfigProblem[],
  ): Promise<{ check: CheckOutcome; configProblems: string | null }> {
    const { monitorId } = context.tick;
    const allProblems = [...problems];
    const blocking = this.#blockingProblems(config, allProblems);
    const configProblems = allProblems.length > 0 ? formatProblems(allProblems) : null;
    if (context.check) return { check: context.check, configProblems };
    const timeoutMs = config.checkTimeoutSeconds * 1000;
    const { deadline, budgetMs = Number.POSITIVE_INFINITY } = context.limits;
    const tooLate = deadline !== undefined && this.#now() + timeoutMs > deadline;
    if (blocking.length === 0 && tooLate && timeoutMs <= budgetMs) {
      // Starting now could let the invocation time out mid-tick; a fresh invocation will have time.
      throw new RetryableTickError(
        `not enough time left in this invocation for a ${config.checkTimeoutSeconds} s check`,
      );
    }
    if (blocking.length > 0) {
      this.#deps.logger.debug("check not run: its configuration is invalid", {
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
        : await this.#runCheck(monitorId, config, context.tickTime);
    return { check: context.check, configProblems };
  }

  /**
   * Step 3: the state machine's decision, and the notification it puts in the outbox. No reminder
   * is due while a mail is pending (its clock starts at delivery). An incident's ALERT that reached
   * nobody goes to people listed since, once, instead of a first mail that says "still failing".
   */
  #decide(
    context: TickContext,
    state: MonitorState | undefined,
    config: MonitorConfig,
    check: CheckOutcome,
  ): {
    decision: Decision;
    entry: Outbox | undefined;
    unnotifiedAlert: MonitorState["unnotifiedAlert"];
    incident: ReturnType<typeof incidentOnTick>;
  } {
    const { tickTime } = context;
    const pending = state?.outbox !== undefined || (state?.outboxQueue?.length ?? 0) > 0;
    const decision = decide(
      state ? { ...state, notificationPending: pending } : undefined,
      check.isOk,
      tickTime,
      config,
    );
    // The incident this tick belongs to (opened, continued or resolved by it): its notifications
    // are tagged with it, and its item changes in the same write.
    const incident = incidentOnTick(state, decision, check, tickTime);
    const tag: NotificationTag = {
      incident: incident.update?.start ?? incident.incident?.start,
      ack: state?.ack,
      adopted: incident.update?.set?.adopted === true,
      lastFailureMessage: incident.update?.set?.lastFailureMessage ?? state?.incident?.lastFailureMessage,
    };
    const listed = config.peopleToNotify.length > 0;
    const unnotified = decision.next.state === "ok" ? undefined : state?.unnotifiedAlert;
    if (unnotified && listed && decision.notification !== "recovery") {
      const entry: Outbox = {
        ...this.#buildOutbox("alert", config, unnotified.message, unnotified.tickTime, tag, {
          decidedAt: unnotified.tickTime,
          reason: "nobody was listed to receive it then",
        }),
        // Its reminders count from now (when it is delivered), not from the old decision.
        reminderClockFrom: tickTime,
      };
      const next = { ...decision.next, lastNotificationDt: tickTime, lastNotificationType: "alert" as const };
      return { decision: { next, notification: "alert" }, entry, unnotifiedAlert: undefined, incident };
    }
    if (decision.notification && listed) {
      if (decision.notification === "reminder" && incident.incident) {
        // The state counts the incident's reminders, so that each one can say which it is.
        const reminders = (incident.incident.reminders ?? 0) + 1;
        const counted = { ...incident, incident: { ...incident.incident, reminders } };
        const entry = this.#buildOutbox("reminder", config, check.message, tickTime, { ...tag, reminders });
        return { decision, entry, unnotifiedAlert: unnotified, incident: counted };
      }
      const entry = this.#buildOutbox(decision.notification, config, check.message, tickTime, tag);
      return { decision, entry, unnotifiedAlert: unnotified, incident };
    }
    const unnotifiedAlert =
      decision.notification === "alert" ? { tickTime, message: check.message } : unnotified;
    return { decision, entry: undefined, unnotifiedAlert, incident };
  }

  /**
   * Step 4 (before the write): where a new notification goes. With nothing pending it becomes the
   * outbox head, claimed by this tick for a lease so that no concurrent handler sends it too;
   * otherwise it queues in decision order behind the undelivered one: exactly once each, the ALERT
   * first.
   */
  #enqueue(
    context: TickContext,
    state: MonitorState | undefined,
    entry: Outbox | undefined,
  ): Pick<MonitorState, "outbox" | "outboxQueue"> & { overflow?: string } {
    const outbox = state?.outbox;
    const outboxQueue = state?.outboxQueue;
    if (!entry) return { outbox, outboxQueue };
    if (!outbox) {
      const claimedUntil = this.#now() + this.#options.outboxLeaseMs;
      return { outbox: { ...entry, claimedUntil, claimId: context.claimId }, outboxQueue };
    }
    const waiting = 1 + (outboxQueue?.length ?? 0);
    if (waiting > this.#options.maxQueuedNotifications) {
      // Never throw after the check: the decision would be lost with the tick. Give up this one
      // mail, on the record, rather than grow the state item without bound.
      return {
        outbox,
        outboxQueue,
        overflow: `${waiting} earlier notifications were still waiting for delivery (limit ${this.#options.maxQueuedNotifications})`,
      };
    }
    return { outbox, outboxQueue: [...(outboxQueue ?? []), entry] };
  }

  /** The notification log item of an entry given up before any attempt. */
  #abandonedReceipt(entry: Outbox, config: MonitorConfig, reason: string): DeliveryReceipt {
    const at = iso(this.#now());
    return {
      messageId: "",
      recipients: entry.recipients,
      type: entry.type,
      tickTime: entry.tickTime,
      subject: entry.subject,
      deliveredAt: at,
      attempts: 0,
      delayMs: 0,
      expiresAt: Math.floor(Date.parse(at) / 1000) + config.historyRetentionDays * 86_400,
      outcome: "abandoned",
      error: reason,
    };
  }

  /**
   * The problems that keep the real check from running: no usable check name, a check nobody
   * registered, or params its own schema refuses. Added to `problems` so that the failure names
   * every bad attribute at once.
   */
  #blockingProblems(config: MonitorConfig, problems: ConfigProblem[]): ConfigProblem[] {
    if (!problems.some((problem) => problem.attribute === "check")) {
      const definition = this.#deps.findCheck(config.check);
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

  #supersededBy(tick: TickMessage, tickTime: string, config: MonitorConfig): string | null {
    if (!config.skipSupersededTicks || tick.reason === "manual") return null;
    const wallNow = this.#now();
    // The next run comes after the tick, so a tick younger than the grace cannot be superseded:
    // steady ticks never pay for the schedule computation.
    if (wallNow - Date.parse(tickTime) <= this.#options.supersededGraceMs) return null;
    let schedule: ReturnType<typeof parseSchedule>;
    try {
      schedule = parseSchedule(config.schedule);
    } catch {
      return null;
    }
    const after = new Date(tickTime);
    let next: Date | null;
    try {
      // Rate schedules are anchored where Scheduler created them, which we do not know: the tick
      // itself is an occurrence, so the next one is one period later.
      next =
        schedule.kind === "rate"
          ? new Date(after.getTime() + schedule.everyMs)
          : nextRun(schedule, config.timezone, after);
    } catch (error) {
      // A schedule we cannot evaluate must never stop the check from running.
      this.#deps.logger.warn("next run could not be computed; the tick is applied", {
        monitorId: tick.monitorId,
        error: describeThrown(error),
      });
      return null;
    }
    if (!next) return null;
    return next.getTime() + this.#options.supersededGraceMs < wallNow ? iso(next) : null;
  }

  async #runCheck(monitorId: string, config: MonitorConfig, tickTime: string): Promise<CheckOutcome> {
    this.#deps.logger.debug("running check", {
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
        check: this.#deps.findCheck(config.check),
        params: config.params,
        timeoutMs,
        logger: this.#deps.logger,
      });
    }
    // Resolved just before the run, within the check's own timeout; the values never reach the
    // state, the history, the mail or the logs: whatever the check echoes of them is masked.
    const started = performance.now();
    let resolved: Awaited<ReturnType<SecretResolver["resolve"]>>;
    try {
      if (!this.#secrets)
        throw new Error("its params reference secrets, but this orchestrator has no secret source");
      resolved = await this.#secrets.resolve(config.params, AbortSignal.timeout(timeoutMs));
    } catch (error) {
      const reason = error instanceof Error ? error.message : describeThrown(error);
      this.#deps.logger.warn("check not run: a secret reference could not be resolved", {
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
        check: this.#deps.findCheck(config.check),
        params: current.params,
        timeoutMs: Math.max(1, Math.round(timeoutMs - (performance.now() - started))),
        logger: redactingLogger(this.#deps.logger, { mask }),
        mask,
      });
    };
    const outcome = await run(resolved, resolved.values);
    if (outcome.isOk) return outcome;
    // A failure right after a rotation may only mean the cached value is stale (the old token now
    // refused): read the secrets past the cache, and run once more only if one of them changed, so
    // a rotation never alerts and a real failure costs one extra read.
    const fresh = await this.#secrets
      .resolve(
        config.params,
        AbortSignal.timeout(Math.max(1, Math.round(timeoutMs - (performance.now() - started)))),
        {
          fresh: true,
        },
      )
      .catch(() => undefined);
    if (!fresh || sameValues(fresh.values, resolved.values)) return outcome;
    this.#deps.logger.info("a secret changed since it was cached: check run again", { monitorId });
    return run(fresh, [...new Set([...resolved.values, ...fresh.values])]);
  }

  #buildOutbox(
    type: NotificationType,
    config: MonitorConfig,
    message: string,
    tickTime: string,
    tag: NotificationTag,
    late?: { decidedAt: string; reason: string },
  ): Outbox {
    let email = renderNotification({
      failingSince: tag.incident,
      failingSinceIsLowerBound: tag.adopted,
      reminderFrequencyMinutes: config.reminderFrequencyMinutes,
      runbookUrl: config.runbookUrl,
      ...(type === "reminder" ? { reminderNumber: tag.reminders } : {}),
      ...(type === "recovery" ? { lastFailureMessage: tag.lastFailureMessage } : {}),
      type,
      monitorId: config.monitorId,
      name: config.name,
      state: type === "recovery" ? "ok" : "alert",
      at: tickTime,
      timezone: config.timezone,
      check: config.check,
      message,
      // A new incident's ALERT has nobody to name; REMINDER and RECOVERED say who acknowledged.
      ...(type === "alert" ? {} : { acknowledgement: tag.ack ?? null }),
    });
    const wallNow = this.#now();
    if (late) {
      email = withDeliveryDelay(email, {
        type,
        decidedAt: late.decidedAt,
        delayMs: wallNow - Date.parse(late.decidedAt),
        reason: late.reason,
      });
    }
    return {
      // Deterministic: the same tick deciding the same notification yields the same id.
      id: `${tickTime}#${type}`,
      type,
      tickTime,
      recipients: [...config.peopleToNotify],
      ...email,
      createdAt: iso(wallNow),
      attempts: 0,
      ...(tag.incident !== undefined ? { incident: tag.incident } : {}),
    };
  }

  #runRecord(
    config: MonitorConfig,
    tickTime: string,
    check: CheckOutcome,
    decision: Decision,
    hasOutbox: boolean,
    previous: MonitorState | undefined,
  ): RunRecord | undefined {
    const changed =
      decision.notification !== null || decision.next.state !== (previous?.state ?? "ok") || !check.isOk;
    if (config.recordOnlyChanges && !changed) return undefined;
    const quietReason: QuietReason | "no-recipients" | undefined =
      decision.notification && !hasOutbox ? "no-recipients" : decision.quietReason;
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
}

/** True when two resolutions read the same secret values. */
function sameValues(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value) => b.includes(value));
}
