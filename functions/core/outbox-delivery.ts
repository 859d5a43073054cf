import { incidentOnDelivery } from "./incident.ts";
import type { DeliveryReceipt, DeliveryRetryPort, Logger, MonitorStore, Notifier } from "./ports.ts";
import { PermanentDeliveryError, StaleStateError } from "./ports.ts";
import { describeDelay, withDeliveryDelay } from "./render.ts";
import type { MonitorConfig, MonitorState, NotificationType, Outbox } from "./schemas.ts";
import { describeThrown, truncateMessage } from "./text.ts";

/**
 * Delivery of a monitor's pending notifications (the outbox in its state item, DESIGN.md §5 and
 * §8 "Delivery budget"): claim the head entry, send it, then clear it (the next queued entry moves
 * up) or release it with its next attempt time. Pure orchestration over ports: no AWS import.
 */

export interface DeliveryOptions {
  /** How long a sender owns an entry it is delivering. */
  outboxLeaseMs: number;
  /** How long transient failures are retried, from the decision. */
  deliveryBudgetMs: number;
  /** First retry delay; each failure doubles it. */
  retryBaseMs: number;
  /** Longest retry delay. */
  retryMaxMs: number;
  /** A retry this much overdue is presumed lost: a scheduled tick delivers instead. */
  retryOverdueMs: number;
  /** Conditional-write races tolerated per step. */
  maxRaceRetries: number;
}

export interface DeliveryDependencies {
  store: MonitorStore;
  notifier: Notifier;
  retries?: DeliveryRetryPort | undefined;
  logger: Logger;
  wallClock: () => Date;
  /** Uniform in [0, 1), for retry jitter. */
  random: () => number;
}

/** Who is delivering, and why. */
export interface DeliveryClaim {
  /** Names this processing's claims: only their holder may release them. */
  claimId: string;
  /** A `deliver` tick from the retry queue (true), or a scheduled or redelivered tick. */
  retry: boolean;
  /** The `attempt` a deliver tick carries: the failed attempts of the entry when it was queued. */
  retryAttempt?: number | undefined;
  /**
   * A failed send whose retry cannot be queued fails the message (so SQS brings it back). Only
   * where that message is this delivery's last hope: its own decision, or a deliver tick. A
   * scheduled tick delivering a leftover must still get to run its check.
   */
  failIfRetryLost: boolean;
  /** Wall-clock epoch ms after which no new claim is taken (the invocation's deadline). */
  deadline?: number | undefined;
}

export type DeliveryResult =
  | {
      type: NotificationType;
      tickTime: string;
      delivered: true;
      messageId: string;
      recipients: number;
      /** How late it went out (0 when it went out within a minute of its decision). */
      delayMs: number;
    }
  | {
      type: NotificationType;
      tickTime: string;
      delivered: false;
      error: string;
      /** It will never be sent: refused by the mail service, or its retry budget ran out. */
      abandoned?: true;
      /** When it is tried again (ms from now), if a retry was scheduled. */
      retryInMs?: number;
    };

/** The tick cannot be applied now but will succeed later: the SQS message must be retried. */
export class RetryableTickError extends Error {
  override name = "RetryableTickError";
}

type Sent = { delivery: DeliveryResult; receipt?: DeliveryReceipt };

const iso = (time: string | number | Date) => new Date(time).toISOString();
/** A notification this late (ms) carries a first line saying so, and moves the reminder clock. */
const LATE_NOTE_MS = 60_000;
/** First pause before another try at clearing a delivered mail after a store error. */
const CLEAR_BACKOFF_MS = 50;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** SQS may bring a delayed message a little early by our clock: accept it this much ahead of its time. */
const RETRY_CLOCK_SLACK_MS = 2_000;

export class OutboxDelivery {
  readonly #deps: DeliveryDependencies;
  readonly #options: DeliveryOptions;

  constructor(deps: DeliveryDependencies, options: DeliveryOptions) {
    this.#deps = deps;
    this.#options = options;
  }

  #now(): number {
    return this.#deps.wallClock().getTime();
  }

  /**
   * Delivers the pending notifications in order, the head first, until one fails or none is left.
   * Each send happens under a claim (a lease with this tick's claim id) written with the state's
   * version, so no two senders ever send the same entry while a claim is live. An entry that
   * waits for its retry is left to the delivery-retry queue, unless that retry is overdue.
   */
  async drain(
    monitorId: string,
    initial: MonitorState,
    config: MonitorConfig,
    claim: DeliveryClaim,
  ): Promise<{ state: MonitorState; results: DeliveryResult[] }> {
    const results: DeliveryResult[] = [];
    let state: MonitorState | undefined = initial;
    for (let races = 0; state?.outbox; ) {
      const head: Outbox = state.outbox;
      const wallNow = this.#now();
      const mine = head.claimId === claim.claimId && (head.claimedUntil ?? 0) > wallNow;
      if (!mine && !(await this.#mayClaim(monitorId, head, claim, wallNow))) break;
      if (claim.deadline !== undefined && wallNow > claim.deadline) {
        // Only the safety margin of this invocation is left (a send can take most of a minute):
        // let a fresh invocation deliver it, soon.
        if (mine) state = await this.#releaseUnsent(monitorId, state, claim);
        await this.#scheduleRetry(monitorId, head, this.#options.retryBaseMs, head.attempts);
        break;
      }
      if (!mine) {
        const claimed: MonitorState = {
          ...state,
          version: state.version + 1,
          outbox: { ...head, claimedUntil: wallNow + this.#options.outboxLeaseMs, claimId: claim.claimId },
        };
        try {
          await this.#deps.store.saveState(monitorId, claimed, state.version);
        } catch (error) {
          if (!(error instanceof StaleStateError)) throw error;
          if (++races > this.#options.maxRaceRetries) {
            // Others keep writing: one of them will deliver it, or the follow-up below will.
            await this.#scheduleRetry(monitorId, head, this.#options.retryBaseMs, head.attempts);
            break;
          }
          state = (await this.#deps.store.load(monitorId)).state;
          continue;
        }
        state = claimed;
        if (head.attempts > 0 || head.nextAttemptAt !== undefined) {
          this.#deps.logger.warn("delivering a notification left pending by an earlier attempt", {
            monitorId,
            type: head.type,
            tickTime: head.tickTime,
            attempts: head.attempts,
          });
        }
      }
      const sending = state.outbox as Outbox;
      const sent = await this.#send(monitorId, sending, config);
      results.push(sent.delivery);
      state = await this.#settle(monitorId, state, sending, sent, claim);
      if (!sent.delivery.delivered && !sent.delivery.abandoned) break;
    }
    return { state: state ?? initial, results };
  }

  /**
   * Whether this processing may claim a head entry someone else left. Not while another sender's
   * claim is live: that sender settles it, and a follow-up retry queued for when its lease ends
   * covers the case where it died. Not a deliver tick of a superseded retry chain (its attempt
   * is behind the entry's), and not one that came early by this machine's clock (it is queued
   * again for the rest of its wait). A scheduled tick leaves the entry to its queued retry
   * unless that retry is overdue (presumed lost).
   */
  async #mayClaim(monitorId: string, head: Outbox, claim: DeliveryClaim, wallNow: number): Promise<boolean> {
    const claimedUntil = head.claimedUntil ?? 0;
    if (claimedUntil > wallNow) {
      this.#deps.logger.info("a pending notification is being delivered by another invocation", {
        monitorId,
        type: head.type,
        tickTime: head.tickTime,
      });
      await this.#scheduleRetry(
        monitorId,
        head,
        claimedUntil - wallNow + RETRY_CLOCK_SLACK_MS,
        head.attempts,
      );
      return false;
    }
    if (claim.retry) {
      if (claim.retryAttempt !== undefined && claim.retryAttempt < head.attempts) return false;
      if (head.nextAttemptAt !== undefined && wallNow < head.nextAttemptAt - RETRY_CLOCK_SLACK_MS) {
        await this.#scheduleRetry(monitorId, head, head.nextAttemptAt - wallNow, head.attempts);
        return false;
      }
      return true;
    }
    return head.nextAttemptAt === undefined || wallNow >= head.nextAttemptAt + this.#options.retryOverdueMs;
  }

  /** Gives up a claim on an entry this processing will not send after all (best effort). */
  async #releaseUnsent(monitorId: string, state: MonitorState, claim: DeliveryClaim): Promise<MonitorState> {
    const head = state.outbox;
    if (!head || head.claimId !== claim.claimId) return state;
    const { claimedUntil: _until, claimId: _claim, ...rest } = head;
    const next = { ...state, version: state.version + 1, outbox: rest };
    try {
      await this.#deps.store.saveState(monitorId, next, state.version);
      return next;
    } catch {
      // The lease runs out on its own; the retry queued by the caller comes after it.
      return state;
    }
  }

  /** Sends one outbox entry to the recipients listed now. Never throws for mail-service errors. */
  async #send(monitorId: string, outbox: Outbox, config: MonitorConfig): Promise<Sent> {
    const wallNow = this.#now();
    // A hand-edited, unreadable createdAt counts as "just decided" rather than poisoning the maths.
    const decidedAt = Date.parse(outbox.createdAt);
    const sinceDecision = Number.isFinite(decidedAt) ? Math.max(0, wallNow - decidedAt) : 0;
    // Late means it did not go out with its decision (an outage, a crash, a retry): the mail says
    // so, and the reminder clock starts at its delivery. Within a minute counts as on time.
    const late = sinceDecision >= LATE_NOTE_MS;
    const delayMs = late ? sinceDecision : 0;
    // People may have fixed the recipient list since the decision: mail whoever is listed now.
    const recipients = config.peopleToNotify.length > 0 ? config.peopleToNotify : outbox.recipients;
    let email = { subject: outbox.subject, text: outbox.text, html: outbox.html };
    if (late) {
      email = withDeliveryDelay(email, {
        type: outbox.type,
        decidedAt: outbox.createdAt,
        delayMs,
        reason: "the mail service could not take it earlier",
      });
    }
    const attempts = outbox.attempts + 1;
    const receipt = (extra: { messageId: string; outcome: DeliveryReceipt["outcome"]; error?: string }) => {
      const at = iso(this.#now());
      return {
        ...extra,
        recipients,
        type: outbox.type,
        tickTime: outbox.tickTime,
        subject: outbox.subject,
        deliveredAt: at,
        attempts,
        delayMs,
        expiresAt: Math.floor(Date.parse(at) / 1000) + config.historyRetentionDays * 86_400,
      };
    };
    const base = { type: outbox.type, tickTime: outbox.tickTime };
    try {
      const { messageId } = await this.#deps.notifier.send({ to: recipients, ...email });
      return {
        delivery: {
          ...base,
          delivered: true,
          messageId,
          recipients: recipients.length,
          delayMs,
        },
        receipt: receipt({ messageId, outcome: "delivered" }),
      };
    } catch (error) {
      const reason = truncateMessage(describeThrown(error), 1000);
      const budgetLeft = this.#options.deliveryBudgetMs - sinceDecision;
      if (error instanceof PermanentDeliveryError || budgetLeft <= 0) {
        const why =
          error instanceof PermanentDeliveryError
            ? reason
            : `still failing after ${attempts} attempts over ${describeDelay(sinceDecision)} (retry budget ${describeDelay(this.#options.deliveryBudgetMs)}): ${reason}`;
        this.#deps.logger.error("notification abandoned: it cannot be delivered", {
          monitorId,
          type: outbox.type,
          tickTime: outbox.tickTime,
          attempts,
          reason: why,
        });
        return {
          delivery: { ...base, delivered: false, abandoned: true, error: why },
          receipt: receipt({ messageId: "", outcome: "abandoned", error: why }),
        };
      }
      const backoff = Math.min(this.#options.retryMaxMs, this.#options.retryBaseMs * 2 ** (attempts - 1));
      // ±20% jitter: monitors that failed together during an outage do not all retry together.
      const jittered = Math.round(backoff * (0.8 + 0.4 * this.#deps.random()));
      const retryInMs = Math.max(1_000, Math.min(jittered, budgetLeft));
      this.#deps.logger.error("notification delivery failed; it will be retried", {
        monitorId,
        type: outbox.type,
        tickTime: outbox.tickTime,
        attempts,
        retryInSeconds: Math.round(retryInMs / 1000),
        reason,
      });
      return { delivery: { ...base, delivered: false, error: reason, retryInMs } };
    }
  }

  /**
   * Records what became of a send: a delivered or abandoned entry is cleared with its log item and
   * the next queued one moves up; a failed one is released (only by its claim's holder) with its
   * next attempt time. Conditional on the version like every write; a race re-reads and, if the
   * entry is still there, writes again.
   */
  async #settle(
    monitorId: string,
    initial: MonitorState,
    sending: Outbox,
    sent: Sent,
    claim: DeliveryClaim,
  ): Promise<MonitorState | undefined> {
    const { delivery } = sent;
    const done = delivery.delivered || delivery.abandoned === true;
    let retryScheduled = false;
    // Computed once, before the message is queued: the entry's next attempt and the message's
    // delay must agree, or an early-looking message would be taken for a stale one.
    const retryInMs = delivery.delivered ? undefined : delivery.retryInMs;
    const retryDueAt = retryInMs === undefined ? undefined : this.#now() + retryInMs;
    if (!done && retryInMs !== undefined) {
      // The message carries the attempts the entry will have once released: its chain's token.
      retryScheduled = await this.#scheduleRetry(monitorId, sending, retryInMs, sending.attempts + 1);
    }
    let state: MonitorState | undefined = initial;
    let storeErrors = 0;
    for (let race = 0; ; race++) {
      const head = state?.outbox;
      // Cleared or replaced by someone else meanwhile: nothing of ours to record.
      if (!state || !head || head.id !== sending.id) return state;
      let next: MonitorState;
      if (done) {
        const [promoted, ...rest] = state.outboxQueue ?? [];
        next = {
          ...state,
          version: state.version + 1,
          outbox: promoted,
          outboxQueue: rest.length > 0 ? rest : undefined,
        };
        const clock = sending.reminderClockFrom ?? sending.tickTime;
        if (
          delivery.delivered &&
          state.lastNotificationType === sending.type &&
          state.lastNotificationDt === clock
        ) {
          // The reminder clock starts when people got the mail, not when it was decided.
          next.lastNotificationDt = iso(Date.parse(clock) + delivery.delayMs);
        }
      } else {
        // Our claim was taken over (our lease ran out): the new holder's claim is not ours to drop.
        if (head.claimId !== claim.claimId) return state;
        const { claimedUntil: _until, claimId: _claim, nextAttemptAt: _next, ...rest } = head;
        next = {
          ...state,
          version: state.version + 1,
          outbox: {
            ...rest,
            attempts: head.attempts + 1,
            lastError: delivery.error,
            ...(retryScheduled && retryDueAt !== undefined ? { nextAttemptAt: retryDueAt } : {}),
          },
        };
      }
      try {
        await this.#deps.store.saveState(
          monitorId,
          next,
          state.version,
          done
            ? {
                receipt: sent.receipt,
                // Counted on its incident's item, in this same write: exactly once.
                incident: incidentOnDelivery(state, sending, delivery.delivered, iso(this.#now())),
              }
            : {},
        );
      } catch (error) {
        // A delivered mail must be cleared, or it goes out again, and a release that never lands
        // leaves the entry claimed by nobody alive: keep at it, and ride out passing store errors
        // (throttling) rather than give up.
        const patience = done ? 4 * this.#options.maxRaceRetries : this.#options.maxRaceRetries;
        const stale = error instanceof StaleStateError;
        if (race >= patience) {
          // Never a StaleStateError from here: the caller would re-read, find its own live claim
          // and send again. SQS brings the message back once the lease has run out instead.
          throw new RetryableTickError(`the outbox of ${monitorId} kept changing while it was being settled`);
        }
        if (!stale && ++storeErrors > 3) throw error;
        if (!stale) await sleep(CLEAR_BACKOFF_MS * 2 ** storeErrors);
        state = await this.#reload(monitorId);
        continue;
      }
      if (!done && this.#deps.retries && !retryScheduled && claim.failIfRetryLost) {
        // No retry could be queued: fail this message so SQS brings it back, and the entry with it.
        throw new RetryableTickError(
          `the retry of the pending ${sending.type} notification could not be queued`,
        );
      }
      return next;
    }
  }

  /** The state item again, riding out a few passing read errors: something was sent or failed. */
  async #reload(monitorId: string): Promise<MonitorState | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.#deps.store.load(monitorId)).state;
      } catch (error) {
        if (attempt >= 3) throw error;
        await sleep(CLEAR_BACKOFF_MS * 2 ** attempt);
      }
    }
  }

  /**
   * Queues a `deliver` tick for the entry, tagged with `attempt` (its chain's token); false if
   * there is no retry queue or it failed.
   */
  async #scheduleRetry(
    monitorId: string,
    outbox: Outbox,
    delayMs: number,
    attempt: number,
  ): Promise<boolean> {
    if (!this.#deps.retries) return false;
    try {
      await this.#deps.retries.scheduleRetry(monitorId, outbox.tickTime, Math.max(0, delayMs), attempt);
      return true;
    } catch (error) {
      this.#deps.logger.error("could not queue the delivery retry", {
        monitorId,
        tickTime: outbox.tickTime,
        error: describeThrown(error),
      });
      return false;
    }
  }
}
