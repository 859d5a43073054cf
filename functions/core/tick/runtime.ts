import { randomUUID } from "node:crypto";
import type { CheckDefinition } from "../check.ts";
import { type ChannelPorts, type DeliveryResult, OutboxDelivery } from "../outbox-delivery.ts";
import type {
  DeliveryRetryPort,
  Logger,
  MonitorStore,
  NotificationLinks,
  Notifier,
  RejectedTickSink,
  SecretSource,
  StoredMonitor,
} from "../ports.ts";
import { silentLogger } from "../ports.ts";
import { QuietRunSamples } from "../quiet.ts";
import type { CheckOutcome } from "../run-check.ts";
import { CONFIG_DEFAULTS, type TickMessage } from "../schemas.ts";
import { SecretResolver } from "../secrets.ts";
import type { Decision } from "../state-machine.ts";

/**
 * What the steps of a tick share (functions/core/tick.ts runs them in order): its options, its
 * dependencies, the outcome it returns, and the context one processing carries across re-reads.
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
  /**
   * Channels of monitors whose config names none (the stack's `defaultChannels`); a monitor's
   * `channels: []` opts out. Used only with channel ports. @default []
   */
  defaultChannels: readonly string[];
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
  defaultChannels: [],
};

export interface TickDependencies {
  store: MonitorStore;
  notifier: Notifier;
  /**
   * The check a config item names; undefined for a name nobody registered. May be async: the
   * orchestrator loads each check's module on first use (monitors/lazy-registry.ts).
   */
  findCheck: (name: string) => CheckDefinition | undefined | Promise<CheckDefinition | undefined>;
  rejected?: RejectedTickSink;
  /** Retries a failed delivery on its own backoff; without it, the monitor's next tick retries. */
  retries?: DeliveryRetryPort;
  /**
   * Reads the secrets that params reference (`{"secretRef": ...}`), cached for a short TTL by the
   * processor. Without it, a monitor whose params reference a secret fails saying so.
   */
  secrets?: SecretSource;
  logger?: Logger;
  /**
   * The channel directory and sender (issue 15). Without them, notifications go by email only, as
   * before channels existed.
   */
  channels?: ChannelPorts;
  /**
   * Signed ack links and dashboard links per target (issue 14). Without it, messages carry no
   * such link.
   */
  links?: NotificationLinks;
  /** Wall clock: only for the future-skew guard, supersession, leases and delivery retries, never for decisions. */
  wallClock?: () => Date;
  /** A unique id per processed tick, naming its outbox claims. @default crypto.randomUUID */
  newClaimId?: () => string;
  /** Uniform in [0, 1), for retry jitter. @default Math.random */
  random?: () => number;
  options?: Partial<TickOptions>;
}

/** The dependencies with their defaults applied. */
export type ResolvedTickDependencies = Required<
  Omit<TickDependencies, "rejected" | "retries" | "options" | "secrets" | "channels" | "links">
> &
  Pick<TickDependencies, "rejected" | "retries" | "channels" | "links">;

/** What every step of a tick may use: one per TickProcessor. */
export interface TickRuntime {
  deps: ResolvedTickDependencies;
  options: TickOptions;
  delivery: OutboxDelivery;
  secrets: SecretResolver | undefined;
  /** Durations of quiet runs applied here, for their summary (write on change). */
  quietRuns: QuietRunSamples;
  /** The wall clock, epoch ms. */
  now(): number;
  /** Who a notification may go to besides email (what decideNotification calls "listed"). */
  audience: { defaultChannels: readonly string[]; channelsEnabled: boolean };
}

/** The runtime of a TickProcessor: dependencies and options with their defaults applied. */
export function createTickRuntime(deps: TickDependencies): TickRuntime {
  const resolved: ResolvedTickDependencies = {
    logger: silentLogger,
    wallClock: () => new Date(),
    newClaimId: randomUUID,
    random: Math.random,
    ...deps,
  };
  const options = { ...DEFAULT_TICK_OPTIONS, ...deps.options };
  return {
    deps: resolved,
    options,
    delivery: new OutboxDelivery(resolved, options),
    secrets: deps.secrets ? new SecretResolver(deps.secrets) : undefined,
    quietRuns: new QuietRunSamples(),
    now: () => resolved.wallClock().getTime(),
    audience: { defaultChannels: options.defaultChannels, channelsEnabled: deps.channels !== undefined },
  };
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

/**
 * Config and state of a batch's monitors, read in one request (TickProcessor.prefetch). Each
 * monitor's items are handed out once, to its first tick: a later tick of the same monitor in the
 * batch, and every re-read after a lost write race, loads afresh.
 */
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

/** What one tick's processing knows across its re-reads. */
export interface TickContext {
  tick: TickMessage;
  /** The logical "now": scheduledTime, or for a manual recheck no later than the wall clock. */
  tickTime: string;
  /** Names this processing's outbox claims: only their holder may release them. */
  claimId: string;
  limits: InvocationLimits;
  check?: CheckOutcome;
  /** Delivery targets that failed during this processing: not tried again before their retry. */
  failedTargets?: Set<string>;
}

export const iso = (time: string | number | Date) => new Date(time).toISOString();
