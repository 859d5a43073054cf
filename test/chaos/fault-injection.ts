import { AsyncLocalStorage } from "node:async_hooks";
import type { DeliveryReceipt, Email, MonitorStore, Notifier, RunRecord } from "#core/ports.ts";
import type { MonitorState } from "#core/schemas.ts";

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
  | "dynamoThrottled";

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

export interface FaultPlan {
  /** Probability of each fault at its boundary. */
  probability: Partial<Record<Exclude<FaultKind, "sesOutage">, number>>;
  /** Probability that a send starts an SES outage of `outageLength` consecutive failed sends. */
  outageStart: number;
  outageLength: number;
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
    dynamoThrottled: 0,
  };
  /** What each mail-duplicating crash left behind: "<monitorId>|<tickTime>|<type>" or the mail text. */
  readonly duplicatingCrashes: Array<{ key?: string; text?: string }> = [];
  enabled = true;
  #outageLeft = 0;
  // A crash must end the whole invocation, even inside the orchestrator's own try/catch: once an
  // invocation "died", every later adapter call of that invocation fails too.
  readonly #invocation = new AsyncLocalStorage<{ dead: boolean }>();

  /** Runs one handler invocation in its own crash scope. */
  invocation<T>(run: () => Promise<T>): Promise<T> {
    return this.#invocation.run({ dead: false }, run);
  }

  #crash(where: string): never {
    const scope = this.#invocation.getStore();
    if (scope) scope.dead = true;
    throw new InjectedCrash(where);
  }

  #assertAlive(): void {
    if (this.#invocation.getStore()?.dead) throw new InjectedCrash("the process already died");
  }

  constructor(
    private readonly plan: FaultPlan,
    private readonly rng: () => number,
  ) {}

  #roll(kind: Exclude<FaultKind, "sesOutage">): boolean {
    if (!this.enabled || this.rng() >= (this.plan.probability[kind] ?? 0)) return false;
    this.injected[kind]++;
    return true;
  }

  #throttle(): void {
    this.#assertAlive();
    if (this.#roll("dynamoThrottled")) {
      throw Object.assign(new Error("Rate of requests exceeds the allowed throughput."), {
        name: "ProvisionedThroughputExceededException",
      });
    }
  }

  store(inner: MonitorStore): MonitorStore {
    return {
      load: async (monitorId) => {
        this.#throttle();
        const loaded = await inner.load(monitorId);
        if (this.#roll("crashAfterRead")) this.#crash("crash after the read");
        return loaded;
      },
      saveState: async (
        monitorId: string,
        state: MonitorState,
        expected: number | undefined,
        run?: RunRecord,
      ) => {
        this.#throttle();
        await inner.saveState(monitorId, state, expected, run);
        if (this.#roll("crashAfterStateWrite")) this.#crash("crash after the state write");
      },
      claimOutbox: async (monitorId, outboxId, expected, until) => {
        this.#throttle();
        await inner.claimOutbox(monitorId, outboxId, expected, until);
      },
      completeOutbox: async (monitorId: string, outboxId: string, receipt: DeliveryReceipt) => {
        if (this.#invocation.getStore()?.dead) {
          // Another group of the same invocation crashed while this mail was between SES
          // accepting it and its outbox clear: the same window, reached by a different road.
          this.duplicatingCrashes.push({ key: `${monitorId}|${receipt.tickTime}|${receipt.type}` });
        }
        this.#assertAlive();
        if (this.#roll("crashBeforeOutboxClear")) {
          this.duplicatingCrashes.push({ key: `${monitorId}|${receipt.tickTime}|${receipt.type}` });
          this.#crash("crash before the outbox clear");
        }
        await inner.completeOutbox(monitorId, outboxId, receipt);
      },
      releaseOutbox: async (monitorId, outboxId, error) => {
        this.#assertAlive();
        await inner.releaseOutbox(monitorId, outboxId, error);
      },
    };
  }

  notifier(inner: Notifier): Notifier {
    return {
      send: async (email: Email) => {
        this.#assertAlive();
        if (this.enabled && this.#outageLeft === 0 && this.rng() < this.plan.outageStart) {
          this.#outageLeft = this.plan.outageLength;
        }
        if (this.#outageLeft > 0) {
          this.#outageLeft--;
          this.injected.sesOutage++;
          throw Object.assign(new Error("Service Unavailable"), { name: "ServiceUnavailableException" });
        }
        if (this.#roll("sesThrottled")) {
          throw Object.assign(new Error("Maximum sending rate exceeded."), {
            name: "TooManyRequestsException",
          });
        }
        const accepted = await inner.send(email);
        if (this.#roll("crashAfterSesAccepted")) {
          this.duplicatingCrashes.push({ text: email.text });
          this.#crash("crash after SES accepted the mail");
        }
        return accepted;
      },
    };
  }
}
