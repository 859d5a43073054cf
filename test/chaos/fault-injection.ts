import { AsyncLocalStorage } from "node:async_hooks";
import type { ChannelDefinition, ChannelMessage, ChannelSender } from "#core/channels.ts";
import type {
  DeliveryReceipt,
  DeliveryRetryPort,
  Email,
  MonitorStore,
  Notifier,
  StateRecords,
} from "#core/ports.ts";
import { PermanentDeliveryError, StaleStateError } from "#core/ports.ts";
import type { MonitorState, NotificationType } from "#core/schemas.ts";

/** A process death at a step boundary: the invocation ends with this error, nothing after it runs. */
export class InjectedCrash extends Error {
  override name = "InjectedCrash";
}

export type FaultKind =
  | "crashAfterRead"
  | "crashAfterStateWrite"
  | "crashAfterSesAccepted"
  | "crashBeforeOutboxClear"
  | "sesThrottled"
  | "sesOutage"
  | "sesOutageWindow"
  | "dynamoThrottled"
  | "retryQueueFailed"
  | "channelFailed"
  | "channelOutageWindow"
  | "channelRefused"
  | "crashAfterChannelAccepted";

/** FNV-1a: a stable 32-bit number for a string, to derive independent random streams. */
function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Deterministic PRNG (mulberry32) so a failing seed can be replayed. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type RolledFault = Exclude<
  FaultKind,
  "sesOutage" | "sesOutageWindow" | "channelFailed" | "channelOutageWindow" | "channelRefused"
>;

interface InvocationScope {
  dead: boolean;
  /** A store call of this invocation failed (injected throttling or crash), not a lost race. */
  storeFailed: boolean;
  number: number;
  streams: Map<string, () => number>;
  /** Keys of mails accepted by SES whose outbox entry this invocation has not cleared yet. */
  unsettled: string[];
}

const SUBJECT_TYPE: Record<string, NotificationType> = {
  ALERT: "alert",
  REMINDER: "reminder",
  RECOVERED: "recovery",
};

/** "<monitorId>|<tickTime>|<type>" of a rendered mail (the type from the subject, else the body). */
export function mailKey(text: string, subject: string): string {
  const id = /\((chaos-\d{4})\)/.exec(text)?.[1];
  // The tick's time, UTC after the local time: an ALERT's "Failing since" is its own tick.
  const time = (/^(?:Checked|Recovered) at: .* · (\S+)$/m.exec(text) ??
    /^Failing since: .* · (\S+)$/m.exec(text))?.[1];
  const word = /^\[Monitor (\w+)\]/.exec(subject)?.[1] ?? /Notification: (\w+)/.exec(text)?.[1] ?? "";
  const type = SUBJECT_TYPE[word] ?? (word.toLowerCase() as NotificationType);
  return `${id}|${time}|${type}`;
}

export interface FaultPlan {
  /** Probability of each fault at its boundary. */
  probability: Partial<Record<RolledFault, number>>;
  /** Probability that a send starts a run of `outageLength` consecutive failed sends to its recipients. */
  outageStart: number;
  outageLength: number;
  /** Wall-clock intervals [from, to) (epoch ms) during which SES fails every send. */
  outageWindows?: Array<[number, number]>;
  /**
   * Faults of each channel, independent of SES's and of each other's: transient failures, a
   * channel's own outage windows, permanent refusals (the message is abandoned for that channel).
   */
  channels?: Record<string, { failure: number; refusal: number; outageWindows?: Array<[number, number]> }>;
}

/** "<monitorId>|<tickTime>|<type>" of a channel message. */
export const channelKey = (message: Pick<ChannelMessage, "monitorId" | "tickTime" | "type">) =>
  `${message.monitorId}|${message.tickTime}|${message.type}`;

/** Which unsettled send a log item settles: the mail (one recipient per monitor here) or a channel's. */
function settledKey(monitorId: string, receipt: DeliveryReceipt): string {
  const key = `${monitorId}|${receipt.tickTime}|${receipt.type}`;
  return receipt.target?.startsWith("channel:") ? `${receipt.target}|${key}` : key;
}

/**
 * Wraps the real adapters and injects faults at every step boundary of the tick use case,
 * counting each injection so the test can bound the duplicates it may cause.
 */
export class FaultInjector {
  readonly injected: Record<FaultKind, number> = {
    crashAfterRead: 0,
    crashAfterStateWrite: 0,
    crashAfterSesAccepted: 0,
    crashBeforeOutboxClear: 0,
    sesThrottled: 0,
    sesOutage: 0,
    sesOutageWindow: 0,
    dynamoThrottled: 0,
    retryQueueFailed: 0,
    channelFailed: 0,
    channelOutageWindow: 0,
    channelRefused: 0,
    crashAfterChannelAccepted: 0,
  };
  /** What each channel accepted, in arrival order: channel name -> "<monitorId>|<tickTime>|<type>". */
  readonly channelDeliveries = new Map<string, string[]>();
  /** Mails SES accepted whose invocation ended before clearing them: "<monitorId>|<tickTime>|<type>". */
  readonly duplicatingCrashes: Array<{ key: string }> = [];
  /** What happened, in order, for CHAOS_DEBUG: "<invocation> <event> <detail>". */
  readonly trace: string[] = [];
  #note(event: string, detail: string): void {
    if (process.env.CHAOS_DEBUG) this.trace.push(`${this.#invocation.getStore()?.number} ${event} ${detail}`);
  }
  #enabled = true;
  // A crash must end the whole invocation, even inside the orchestrator's own try/catch: once an
  // invocation "died", every later adapter call of that invocation fails too.
  readonly #invocation = new AsyncLocalStorage<InvocationScope>();
  readonly #outageLeft = new Map<string, number>();

  /**
   * Runs one handler invocation in its own crash scope. `number` must be assigned in a replayable
   * order: every fault decision inside derives from the seed, this number and the monitor, so
   * concurrent invocations interleaving differently do not change which faults happen.
   */
  async invocation<T>(number: number, run: () => Promise<T>): Promise<T> {
    const scope: InvocationScope = {
      dead: false,
      storeFailed: false,
      number,
      streams: new Map(),
      unsettled: [],
    };
    try {
      return await this.#invocation.run(scope, run);
    } finally {
      // Mail SES accepted that this invocation never cleared, because it died or a store call
      // failed on the way: the next delivery sends it again, the one duplicate the design allows.
      // A live invocation whose store calls all worked has no excuse: its duplicates are bugs.
      if (scope.dead || scope.storeFailed) {
        for (const key of scope.unsettled) this.duplicatingCrashes.push({ key });
      }
    }
  }

  /** The random stream of one monitor (or recipient) within the current invocation. */
  #stream(key: string): () => number {
    const scope = this.#invocation.getStore();
    if (!scope) return this.rng;
    let stream = scope.streams.get(key);
    if (!stream) {
      stream = random(hash32(`${this.seed}|${scope.number}|${key}`));
      scope.streams.set(key, stream);
    }
    return stream;
  }

  #crash(where: string): never {
    const scope = this.#invocation.getStore();
    if (scope) scope.dead = true;
    throw new InjectedCrash(where);
  }

  #assertAlive(): void {
    if (this.#invocation.getStore()?.dead) throw new InjectedCrash("the process already died");
  }

  private readonly rng: () => number;

  constructor(
    private readonly plan: FaultPlan,
    private readonly seed: number,
    /** The harness's wall clock, for the outage windows. */
    private readonly clock: () => number = Date.now,
  ) {
    this.rng = random(seed);
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** Turning faults off also ends an outage in progress: nothing fails after this. */
  set enabled(value: boolean) {
    this.#enabled = value;
    if (!value) this.#outageLeft.clear();
  }

  #roll(kind: RolledFault, key: string): boolean {
    if (!this.#enabled || this.#stream(key)() >= (this.plan.probability[kind] ?? 0)) return false;
    this.injected[kind]++;
    return true;
  }

  #throttle(key: string): void {
    this.#assertAlive();
    if (this.#roll("dynamoThrottled", key)) {
      throw Object.assign(new Error("Rate of requests exceeds the allowed throughput."), {
        name: "ProvisionedThroughputExceededException",
      });
    }
  }

  /** Runs a store call, noting a failure in the invocation's scope. */
  async #storeCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      // A lost conditional-write race is normal operation, not a failure that excuses a resend.
      const scope = this.#invocation.getStore();
      if (scope && !(error instanceof StaleStateError)) scope.storeFailed = true;
      throw error;
    }
  }

  store(inner: MonitorStore): MonitorStore {
    const wrapped = this.#rawStore(inner);
    return {
      load: (monitorId) => this.#storeCall(() => wrapped.load(monitorId)),
      saveState: (monitorId, state, expected, records) =>
        this.#storeCall(() => wrapped.saveState(monitorId, state, expected, records)),
    };
  }

  #rawStore(inner: MonitorStore): MonitorStore {
    return {
      load: async (monitorId) => {
        this.#throttle(monitorId);
        const loaded = await inner.load(monitorId);
        if (this.#roll("crashAfterRead", monitorId)) this.#crash("crash after the read");
        return loaded;
      },
      saveState: async (
        monitorId: string,
        state: MonitorState,
        expected: number | undefined,
        records?: StateRecords,
      ) => {
        const receipts = [...(records?.receipt ? [records.receipt] : []), ...(records?.receipts ?? [])];
        const receipt = receipts[0];
        if (receipt) {
          // The outbox clear: the mail is out, and a death now sends it again later.
          this.#assertAlive();
          if (this.#roll("crashBeforeOutboxClear", monitorId)) this.#crash("crash before the outbox clear");
        }
        // Throttling of the clear is retried inside the store (and by the SDK) before it could
        // fail the clear; the harness injects it only where such a failure reaches the tick.
        if (receipt) this.#assertAlive();
        else this.#throttle(monitorId);
        await inner.saveState(monitorId, state, expected, records);
        const unsettled = this.#invocation.getStore()?.unsettled ?? [];
        for (const settled of receipts) {
          const index = unsettled.indexOf(settledKey(monitorId, settled));
          if (index >= 0) unsettled.splice(index, 1);
        }
        this.#note(
          "saved",
          `${monitorId} v${expected}->${state.version} head=${state.outbox?.id ?? "-"}/${state.outbox?.claimId?.slice(0, 8) ?? "-"} q=${state.outboxQueue?.length ?? 0} receipt=${receipt?.tickTime ?? "-"} last=${state.lastTickTime}`,
        );
        if (!receipt && this.#roll("crashAfterStateWrite", monitorId)) {
          this.#crash("crash after the state write");
        }
      },
    };
  }

  /** A delivery-retry queue whose SendMessage sometimes fails. */
  retries(inner: DeliveryRetryPort): DeliveryRetryPort {
    return {
      scheduleRetry: async (monitorId, tickTime, delayMs, attempt) => {
        this.#assertAlive();
        if (this.#roll("retryQueueFailed", monitorId)) {
          throw Object.assign(new Error("SQS is unavailable"), { name: "ServiceUnavailable" });
        }
        await inner.scheduleRetry(monitorId, tickTime, delayMs, attempt);
      },
    };
  }

  /**
   * An in-process channel receiver with each channel's own faults: it records what it accepted,
   * fails transiently, refuses permanently, is down in its own windows, and may see the process
   * die right after it accepted a message (the one duplicate the design allows, as for SES).
   */
  channelSender(): ChannelSender {
    return {
      send: async (channel: ChannelDefinition, message: ChannelMessage) => {
        this.#assertAlive();
        const plan = this.plan.channels?.[channel.name] ?? { failure: 0, refusal: 0 };
        const key = channelKey(message);
        const now = this.clock();
        if (this.#enabled && (plan.outageWindows ?? []).some(([from, to]) => now >= from && now < to)) {
          this.injected.channelOutageWindow++;
          throw Object.assign(new Error(`${channel.name}: 503 Service Unavailable`), {
            name: "ChannelUnavailable",
          });
        }
        const stream = this.#stream(`${channel.name}|${message.monitorId}`);
        const roll = stream();
        if (this.#enabled && roll < plan.refusal) {
          this.injected.channelRefused++;
          throw new PermanentDeliveryError(`${channel.name}: 410 Gone (the webhook was deleted)`);
        }
        if (this.#enabled && roll < plan.refusal + plan.failure) {
          this.injected.channelFailed++;
          throw Object.assign(new Error(`${channel.name}: 502 Bad Gateway`), { name: "ChannelUnavailable" });
        }
        const received = this.channelDeliveries.get(channel.name) ?? [];
        received.push(key);
        this.channelDeliveries.set(channel.name, received);
        this.#invocation.getStore()?.unsettled.push(`channel:${channel.name}|${key}`);
        this.#note("channel-accepted", `${channel.name} ${key}`);
        if (this.#roll("crashAfterChannelAccepted", `${channel.name}|${message.monitorId}`)) {
          this.#crash("crash after a channel accepted the message");
        }
        return { messageId: `${channel.name}-${received.length}` };
      },
    };
  }

  notifier(inner: Notifier): Notifier {
    return {
      send: async (email: Email) => {
        this.#assertAlive();
        const now = this.clock();
        if (this.#enabled && (this.plan.outageWindows ?? []).some(([from, to]) => now >= from && now < to)) {
          this.injected.sesOutageWindow++;
          throw Object.assign(new Error("Service Unavailable"), { name: "ServiceUnavailableException" });
        }
        // A run of failed sends for one recipient (the mail service failing them in a row).
        const key = email.to.join(",");
        const left = this.#outageLeft.get(key) ?? 0;
        if (this.#enabled && left === 0 && this.#stream(key)() < this.plan.outageStart) {
          this.#outageLeft.set(key, this.plan.outageLength);
        }
        if ((this.#outageLeft.get(key) ?? 0) > 0) {
          this.#outageLeft.set(key, (this.#outageLeft.get(key) ?? 1) - 1);
          this.injected.sesOutage++;
          throw Object.assign(new Error("Service Unavailable"), { name: "ServiceUnavailableException" });
        }
        if (this.#roll("sesThrottled", key)) {
          throw Object.assign(new Error("Maximum sending rate exceeded."), {
            name: "TooManyRequestsException",
          });
        }
        const accepted = await inner.send(email);
        // Accepted, not yet cleared: if this invocation ends before the clear, a resend is expected.
        this.#invocation.getStore()?.unsettled.push(mailKey(email.text, email.subject));
        this.#note("ses-accepted", `${key} ${email.text.match(/Time \(UTC\): (\S+)/)?.[1]} ${email.subject}`);
        if (this.#roll("crashAfterSesAccepted", key)) this.#crash("crash after SES accepted the mail");
        return accepted;
      },
    };
  }
}
