import type { ChannelDefinition, ChannelDirectory, ChannelSender } from "./channels.ts";
import {
  channelMessageFor,
  emailFor,
  isComplete,
  isSettled,
  type Lateness,
  linksFor,
  listedSinceDecision,
  reachedSomeone,
  staleReminder,
  type Target,
  targetsOf,
} from "./delivery-targets.ts";
import { type IncidentCounter, type IncidentUpdate, incidentExpiry, SENT_COUNTER } from "./incident.ts";
import type {
  DeliveryReceipt,
  DeliveryRetryPort,
  Logger,
  MonitorStore,
  NotificationLinks,
  Notifier,
} from "./ports.ts";
import { PermanentDeliveryError, StaleStateError } from "./ports.ts";
import { describeDelay } from "./render.ts";
import type { MonitorConfig, MonitorState, NotificationType, Outbox, TargetDelivery } from "./schemas.ts";
import { describeThrown, truncateMessage } from "./text.ts";

/**
 * Delivery of a monitor's pending notifications, per target (the outbox in its state item,
 * DESIGN.md §5 and §8 "Delivery budget" and "Channels", issue 15): every email recipient and every
 * channel of a notification is a target with its own delivery record in the entry (attempts, last
 * error, next attempt, outcome). Each target gets the entries in decision order, and only its own
 * failures hold it back: a failing Slack never blocks, delays or duplicates the mail or PagerDuty.
 *
 * One pass: claim the outbox (a lease with this tick's claim id, written with the state's version,
 * so no two senders ever send while a claim is live), send each target its next due entry (in
 * parallel), then settle every result in one conditional write: settled targets recorded with
 * their log items, finished entries removed, failed targets given their next attempt time, the
 * claim released. Passes repeat while targets have more to send. Pure orchestration over ports:
 * no AWS import.
 */

export interface DeliveryOptions {
  /** How long a sender owns the outbox it is delivering. */
  outboxLeaseMs: number;
  /** How long transient failures are retried, from the decision (each target on its own). */
  deliveryBudgetMs: number;
  /** First retry delay; each failure of a target doubles it. */
  retryBaseMs: number;
  /** Longest retry delay. */
  retryMaxMs: number;
  /** A retry this much overdue is presumed lost: a scheduled tick delivers instead. */
  retryOverdueMs: number;
  /** Conditional-write races tolerated per step. */
  maxRaceRetries: number;
  /** Channels of monitors that name none (the stack's `defaultChannels`). */
  defaultChannels: readonly string[];
}

/** The channel ports: both or neither (then notifications go by email only). */
export interface ChannelPorts {
  /** Read only when a channel has something to send, never on a quiet tick. */
  directory: ChannelDirectory;
  sender: ChannelSender;
}

export interface DeliveryDependencies {
  store: MonitorStore;
  notifier: Notifier;
  retries?: DeliveryRetryPort | undefined;
  /** Without them, channels are not targets: email only. */
  channels?: ChannelPorts | undefined;
  /** Signed ack links and dashboard links per target; without it, messages carry no such link. */
  links?: NotificationLinks | undefined;
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
  /** The `attempt` a deliver tick carries: the outbox's retry chain token when it was queued. */
  retryAttempt?: number | undefined;
  /**
   * A failed send whose retry cannot be queued fails the message (so SQS brings it back). Only
   * where that message is this delivery's last hope: its own decision, or a deliver tick. A
   * scheduled tick delivering a leftover must still get to run its check.
   */
  failIfRetryLost: boolean;
  /** Wall-clock epoch ms after which no new claim is taken (the invocation's deadline). */
  deadline?: number | undefined;
  /**
   * Targets that failed earlier in this processing (shared by its drains): not tried again before
   * their retry, so one tick never sends a failing target twice.
   */
  failedTargets?: Set<string> | undefined;
}

/** What became of one target in one send. */
export type TargetResult = {
  /** `email:<address>` or `channel:<name>`. */
  target: string;
  /** `email`, or the channel's kind (`channel` when the channel could not be read). */
  kind: string;
} & (
  | { status: "delivered"; messageId: string; delayMs: number }
  /** Transient: retried on its own backoff (`retryInMs`, when a retry could be computed). */
  | { status: "failed"; error: string; retryInMs?: number }
  /** Never to be sent: refused, budget spent, unknown or broken channel. Operators are alarmed. */
  | { status: "abandoned"; error: string }
  /** Deliberately not sent (acknowledged since, inactive channel); `silent`: by design, no log item. */
  | { status: "dropped"; error: string; silent?: true }
);

export type DeliveryResult = (
  | {
      type: NotificationType;
      tickTime: string;
      delivered: true;
      messageId: string;
      /** Targets it reached in this invocation. */
      recipients: number;
      /** How late it went out (0 when it went out within a minute of its decision). */
      delayMs: number;
    }
  | {
      type: NotificationType;
      tickTime: string;
      delivered: false;
      error: string;
      /** Every target tried is given up: refused, or its retry budget ran out. */
      abandoned?: true;
      /** Every target tried was deliberately not sent (e.g. a REMINDER acknowledged since). */
      dropped?: true;
      /** When it is tried again (ms from now), if a retry was scheduled. */
      retryInMs?: number;
    }
) & {
  /** Each target's result in this invocation (metrics count these; absent: count the whole). */
  targets?: TargetResult[];
};

/** The tick cannot be applied now but will succeed later: the SQS message must be retried. */
export class RetryableTickError extends Error {
  override name = "RetryableTickError";
}

const iso = (time: string | number | Date) => new Date(time).toISOString();
/** A notification this late (ms) carries a first line saying so, and moves the reminder clock. */
const LATE_NOTE_MS = 60_000;
/** First pause before another try at settling after a store error. */
const CLEAR_BACKOFF_MS = 50;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** SQS may bring a delayed message a little early by our clock: accept it this much ahead of its time. */
const RETRY_CLOCK_SLACK_MS = 2_000;

/** The outbox's retry chain token (entries of the previous version used their `attempts`). */
export const chainOf = (head: Outbox) => head.chain ?? head.attempts;

/** A target's delivery record; an entry of the previous version has one for every target, its own. */
export function recordOf(entry: Outbox, key: string): TargetDelivery | undefined {
  if (entry.targets !== undefined) return entry.targets[key];
  if (entry.attempts === 0 && entry.nextAttemptAt === undefined) return undefined;
  return { attempts: entry.attempts, lastError: entry.lastError, nextAttemptAt: entry.nextAttemptAt };
}

const entriesOf = (state: MonitorState): Outbox[] =>
  state.outbox ? [state.outbox, ...(state.outboxQueue ?? [])] : [];

interface Due {
  entry: Outbox;
  target: Target;
}

interface Plan {
  /** Each target's next entry, where it is due now. */
  due: Due[];
  /** The earliest next attempt of a target that waits for its retry (epoch ms). */
  nextDueAt: number | undefined;
  /** Entries with nothing left to send (to be removed). */
  finished: number;
}

/** What a channel directory read gave, once per drain. */
type Directory = Awaited<ReturnType<ChannelDirectory["list"]>>;

/** One send's result, with what settling it needs. */
interface Sent {
  entryId: string;
  result: TargetResult;
  attempts: number;
  receipt: Omit<DeliveryReceipt, "outcome" | "error" | "messageId">;
}

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

  #targets(entry: Outbox, config: MonitorConfig): Target[] {
    return targetsOf(entry, config, {
      defaultChannels: this.#options.defaultChannels,
      channelsEnabled: this.#deps.channels !== undefined,
    });
  }

  /**
   * Delivers the pending notifications, each target in decision order, until no target has
   * anything due (all sent, or waiting for their retries, or failed in this invocation).
   */
  async drain(
    monitorId: string,
    initial: MonitorState,
    config: MonitorConfig,
    claim: DeliveryClaim,
  ): Promise<{ state: MonitorState; results: DeliveryResult[] }> {
    const results = new Map<string, { entry: Outbox; targets: TargetResult[] }>();
    const failedHere = claim.failedTargets ?? new Set<string>();
    let directory: Promise<Directory> | undefined;
    const readDirectory = () => {
      directory ??= (this.#deps.channels as ChannelPorts).directory.list();
      return directory;
    };
    let state: MonitorState | undefined = initial;
    for (let races = 0; state?.outbox; ) {
      const head: Outbox = state.outbox;
      const token = chainOf(head);
      const wallNow = this.#now();
      const mine = head.claimId === claim.claimId && (head.claimedUntil ?? 0) > wallNow;
      const plan = this.#plan(state, config, claim, wallNow, failedHere);
      const work = plan.due.length > 0 || plan.finished > 0;
      if (!mine) {
        const claimedUntil = head.claimedUntil ?? 0;
        if (claimedUntil > wallNow) {
          // That sender settles it; a retry for when its lease ends covers the case where it died.
          this.#deps.logger.info("a pending notification is being delivered by another invocation", {
            monitorId,
            type: head.type,
            tickTime: head.tickTime,
          });
          await this.#scheduleRetry(monitorId, head, claimedUntil - wallNow + RETRY_CLOCK_SLACK_MS, token);
          break;
        }
        // A deliver tick of a superseded retry chain: the live chain brings its own.
        if (claim.retry && claim.retryAttempt !== undefined && claim.retryAttempt < token) break;
        if (!work) {
          // Early by this machine's clock: queued again for the rest of its wait, same chain.
          if (claim.retry && plan.nextDueAt !== undefined) {
            await this.#scheduleRetry(monitorId, head, plan.nextDueAt - wallNow, token);
          }
          break;
        }
      } else if (!work) {
        state = await this.#releaseUnsent(monitorId, state, claim);
        break;
      }
      if (claim.deadline !== undefined && wallNow > claim.deadline) {
        // Only the safety margin of this invocation is left (a send can take most of a minute):
        // let a fresh invocation deliver it, soon.
        if (mine) state = await this.#releaseUnsent(monitorId, state, claim);
        await this.#scheduleRetry(monitorId, head, this.#options.retryBaseMs, token);
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
            await this.#scheduleRetry(monitorId, head, this.#options.retryBaseMs, token);
            break;
          }
          state = (await this.#deps.store.load(monitorId)).state;
          continue;
        }
        state = claimed;
        const earlier = plan.due.filter(
          ({ entry, target }) => (recordOf(entry, target.key)?.attempts ?? 0) > 0,
        );
        if (earlier.length > 0) {
          this.#deps.logger.warn("delivering notifications left pending by an earlier attempt", {
            monitorId,
            targets: earlier.map(({ entry, target }) => `${entry.type}@${entry.tickTime} -> ${target.key}`),
          });
        }
      }
      const current = state;
      const sent = await Promise.all(
        plan.due.map((due) => this.#send(monitorId, current, due, config, readDirectory)),
      );
      for (const { entryId, result } of sent) {
        const entry = plan.due.find((due) => due.entry.id === entryId)?.entry as Outbox;
        const collected = results.get(entryId) ?? { entry, targets: [] };
        collected.targets.push(result);
        results.set(entryId, collected);
        if (result.status === "failed") failedHere.add(result.target);
      }
      state = await this.#settle(monitorId, state, sent, claim, config, plan.nextDueAt);
    }
    return { state: state ?? initial, results: [...results.values()].map(summarise) };
  }

  /**
   * Each target's next entry in decision order, if it is due: never tried, or its retry is due (a
   * deliver tick, with a little slack for clocks), or presumed lost (a scheduled tick, once the
   * retry is `retryOverdueMs` late). A target waiting for its retry waits with all its later
   * entries: its own order is kept; other targets are not held back by it.
   */
  #plan(
    state: MonitorState,
    config: MonitorConfig,
    claim: DeliveryClaim,
    wallNow: number,
    failedHere: ReadonlySet<string>,
  ): Plan {
    const entries = entriesOf(state);
    const targets = entries.map((entry) => this.#targets(entry, config));
    const keys = [...new Set(targets.flat().map((target) => target.key))];
    const due: Due[] = [];
    let nextDueAt: number | undefined;
    for (const key of keys) {
      if (failedHere.has(key)) continue;
      for (const [index, entry] of entries.entries()) {
        const target = targets[index]?.find((candidate) => candidate.key === key);
        if (!target) continue;
        const record = recordOf(entry, key);
        if (isSettled(record)) continue;
        const retryAt = record?.nextAttemptAt;
        if (retryAt !== undefined) {
          const dueAt = claim.retry ? retryAt - RETRY_CLOCK_SLACK_MS : retryAt + this.#options.retryOverdueMs;
          if (wallNow < dueAt) {
            nextDueAt = Math.min(nextDueAt ?? retryAt, retryAt);
            break;
          }
        }
        due.push({ entry, target });
        break;
      }
    }
    const finished = entries.filter((entry, index) => isComplete(entry, targets[index] ?? [])).length;
    return { due, nextDueAt, finished };
  }

  /** Gives up a claim this processing will not use after all (best effort). */
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

  /** Sends one entry to one target. Never throws for a receiver's errors: they become its result. */
  async #send(
    monitorId: string,
    state: MonitorState,
    { entry, target }: Due,
    config: MonitorConfig,
    readDirectory: () => Promise<Directory>,
  ): Promise<Sent> {
    const wallNow = this.#now();
    // A hand-edited, unreadable createdAt counts as "just decided" rather than poisoning the maths.
    const decidedAt = Date.parse(entry.createdAt);
    const sinceDecision = Number.isFinite(decidedAt) ? Math.max(0, wallNow - decidedAt) : 0;
    // Late means it did not go out with its decision (an outage, a crash, a retry): the mail says
    // so, and the reminder clock starts at its delivery. Within a minute counts as on time.
    const delayMs = sinceDecision >= LATE_NOTE_MS ? sinceDecision : 0;
    const late: Lateness | undefined =
      delayMs > 0
        ? { delayMs, decidedAt: entry.createdAt, reason: "the mail service could not take it earlier" }
        : undefined;
    const attempts = (recordOf(entry, target.key)?.attempts ?? 0) + 1;
    let kind = target.kind === "email" ? "email" : "channel";
    const base = {
      entryId: entry.id,
      attempts,
      receipt: {
        recipients: target.kind === "email" ? [target.address] : [],
        target: target.key,
        kind,
        type: entry.type,
        tickTime: entry.tickTime,
        subject: entry.subject,
        deliveredAt: "",
        attempts,
        delayMs,
        expiresAt: 0,
      },
    };
    const done = (result: TargetResult): Sent => {
      const at = iso(this.#now());
      return {
        ...base,
        result,
        receipt: {
          ...base.receipt,
          kind: result.kind,
          deliveredAt: at,
          expiresAt: Math.floor(Date.parse(at) / 1000) + config.historyRetentionDays * 86_400,
        },
      };
    };
    const stale = staleReminder(entry, state, iso(wallNow)) ?? listedSinceDecision(entry, target, state);
    if (stale) {
      this.#deps.logger.info("pending notification dropped for a target", {
        monitorId,
        type: entry.type,
        tickTime: entry.tickTime,
        target: target.key,
        reason: stale,
      });
      return done({ target: target.key, kind, status: "dropped", error: stale });
    }
    const onLinkError = (error: unknown) =>
      this.#deps.logger.warn("links could not be made: the message goes without them", {
        monitorId,
        target: target.key,
        error: describeThrown(error),
      });
    try {
      if (target.kind === "email") {
        // An entry of the previous version is mailed as it was rendered: no link to make.
        const links = entry.facts
          ? await linksFor(this.#deps.links, entry, monitorId, target.address, onLinkError)
          : {};
        const email = emailFor(entry, monitorId, links, late);
        const { messageId } = await this.#deps.notifier.send({ to: [target.address], ...email });
        return done({ target: target.key, kind, status: "delivered", messageId, delayMs });
      }
      const { channels, problems } = await readDirectory();
      const channel: ChannelDefinition | undefined = channels.get(target.name);
      if (!channel) {
        const problem = problems.find((candidate) => candidate.name === target.name);
        const error = problem
          ? `channel "${target.name}" cannot be read: ${problem.message}`
          : `no channel is named "${target.name}" (watchkeeper channel list)`;
        return this.#abandon(monitorId, entry, done, { target: target.key, kind, error });
      }
      kind = channel.kind;
      if (!channel.isActive) {
        return done({
          target: target.key,
          kind,
          status: "dropped",
          error: `channel "${target.name}" is inactive`,
        });
      }
      if (channel.kind === "pagerduty" && entry.type === "reminder") {
        // PagerDuty's own escalation repeats the page: a REMINDER is not another trigger.
        return done({
          target: target.key,
          kind,
          status: "dropped",
          error: "PagerDuty takes ALERT and RECOVERED only",
          silent: true,
        });
      }
      const links = await linksFor(this.#deps.links, entry, monitorId, target.key, onLinkError);
      const message = channelMessageFor(entry, monitorId, {
        ack: links.ackUrl,
        dashboard: links.dashboardUrl,
      });
      if (!message) {
        return this.#abandon(monitorId, entry, done, {
          target: target.key,
          kind,
          error: "decided by a version that did not record its facts: email only",
        });
      }
      const { messageId } = await (this.#deps.channels as ChannelPorts).sender.send(channel, message);
      return done({ target: target.key, kind, status: "delivered", messageId, delayMs });
    } catch (error) {
      const reason = truncateMessage(describeThrown(error), 1000);
      const budgetLeft = this.#options.deliveryBudgetMs - sinceDecision;
      if (error instanceof PermanentDeliveryError || budgetLeft <= 0) {
        const why =
          error instanceof PermanentDeliveryError
            ? reason
            : `still failing after ${attempts} attempts over ${describeDelay(sinceDecision)} (retry budget ${describeDelay(this.#options.deliveryBudgetMs)}): ${reason}`;
        return this.#abandon(monitorId, entry, done, { target: target.key, kind, error: why }, attempts);
      }
      const backoff = Math.min(this.#options.retryMaxMs, this.#options.retryBaseMs * 2 ** (attempts - 1));
      // ±20% jitter: monitors that failed together during an outage do not all retry together.
      const jittered = Math.round(backoff * (0.8 + 0.4 * this.#deps.random()));
      const retryInMs = Math.max(1_000, Math.min(jittered, budgetLeft));
      this.#deps.logger.error("notification delivery failed; it will be retried", {
        monitorId,
        type: entry.type,
        tickTime: entry.tickTime,
        target: target.key,
        kind,
        attempts,
        retryInSeconds: Math.round(retryInMs / 1000),
        reason,
      });
      return done({ target: target.key, kind, status: "failed", error: reason, retryInMs });
    }
  }

  #abandon(
    monitorId: string,
    entry: Outbox,
    done: (result: TargetResult) => Sent,
    result: { target: string; kind: string; error: string },
    attempts?: number,
  ): Sent {
    this.#deps.logger.error("notification abandoned: it cannot be delivered to this target", {
      monitorId,
      type: entry.type,
      tickTime: entry.tickTime,
      target: result.target,
      kind: result.kind,
      attempts,
      reason: result.error,
    });
    return done({ ...result, status: "abandoned" });
  }

  /**
   * Records what became of a pass, in one write conditional on the version: settled targets with
   * their log items and incident counts (a notification counts as sent once, at its first
   * delivery, which also starts the reminder clock), failed ones with their next attempt (only by
   * the claim's holder), finished entries removed, the claim released. A race re-reads and, for
   * what is still there, writes again.
   */
  async #settle(
    monitorId: string,
    initial: MonitorState,
    sent: readonly Sent[],
    claim: DeliveryClaim,
    config: MonitorConfig,
    waitingDueAt: number | undefined,
  ): Promise<MonitorState | undefined> {
    const failures = sent.filter(
      (one): one is Sent & { result: Extract<TargetResult, { status: "failed" }> } =>
        one.result.status === "failed",
    );
    const head = initial.outbox as Outbox;
    // One retry message for the whole outbox, for its earliest due target: the chain's new token
    // supersedes the message queued before (which covered the targets still waiting: so does this).
    // Queued before the write: the records' next attempts and the message's delay must agree.
    const wallNow = this.#now();
    const delays = [
      ...failures.map((one) => one.result.retryInMs).filter((ms): ms is number => ms !== undefined),
      ...(failures.length > 0 && waitingDueAt !== undefined ? [Math.max(0, waitingDueAt - wallNow)] : []),
    ];
    const token = chainOf(head) + 1;
    const retryScheduled =
      delays.length > 0 && (await this.#scheduleRetry(monitorId, head, Math.min(...delays), token));
    let state: MonitorState | undefined = initial;
    let storeErrors = 0;
    for (let race = 0; ; race++) {
      if (!state?.outbox) return state;
      const at = iso(this.#now());
      const entries = entriesOf(state).map((entry) => ({ ...entry }));
      const ours = state.outbox.claimId === claim.claimId;
      const receipts: DeliveryReceipt[] = [];
      const incidents = new Map<string, IncidentUpdate>();
      let lastNotificationDt = state.lastNotificationDt;
      const count = (entry: Outbox, counter: IncidentCounter) => {
        if (entry.incident === undefined) return;
        const update = incidents.get(entry.incident) ?? {
          start: entry.incident,
          set: {
            ...(state?.incident?.start === entry.incident
              ? {
                  ...(state.incident.lastFailureMessage !== undefined
                    ? { lastFailureMessage: state.incident.lastFailureMessage }
                    : {}),
                  ...(state.incident.lastFailureAt !== undefined
                    ? { lastFailureAt: state.incident.lastFailureAt }
                    : {}),
                }
              : {}),
            expiresAt: incidentExpiry(at),
          },
          increment: [],
        };
        incidents.set(entry.incident, { ...update, increment: [...(update.increment ?? []), counter] });
      };
      const failedEntries = new Set<string>();
      for (const one of sent) {
        const entry = entries.find((candidate) => candidate.id === one.entryId);
        // Cleared or replaced by someone else meanwhile, or settled by them: nothing to record.
        if (!entry || isSettled(entry.targets?.[one.result.target])) continue;
        const { result } = one;
        const targets = { ...(entry.targets ?? legacyRecords(entry, this.#targets(entry, config))) };
        if (result.status === "failed") {
          // Our claim was taken over (our lease ran out): the new holder's record is not ours to write.
          if (!ours) continue;
          const retryAt =
            retryScheduled && result.retryInMs !== undefined ? wallNow + result.retryInMs : undefined;
          targets[result.target] = {
            attempts: one.attempts,
            lastError: result.error,
            ...(retryAt !== undefined ? { nextAttemptAt: retryAt } : {}),
          };
          entry.targets = targets;
          if (!failedEntries.has(entry.id)) {
            failedEntries.add(entry.id);
            entry.attempts += 1;
          }
          entry.lastError = `${result.target}: ${result.error}`;
          continue;
        }
        const first = result.status === "delivered" && !reachedSomeone(entry);
        targets[result.target] = {
          attempts: one.attempts,
          outcome: result.status,
          at,
          ...(result.status === "delivered" ? { messageId: result.messageId } : { lastError: result.error }),
        };
        entry.targets = targets;
        if (!(result.status === "dropped" && result.silent)) {
          receipts.push({
            ...one.receipt,
            outcome: result.status,
            messageId: result.status === "delivered" ? result.messageId : "",
            ...(result.status === "delivered" ? {} : { error: result.error }),
          });
        }
        if (first) {
          count(entry, SENT_COUNTER[entry.type]);
          const clock = entry.reminderClockFrom ?? entry.tickTime;
          if (state.lastNotificationType === entry.type && state.lastNotificationDt === clock) {
            // The reminder clock starts when people got the mail, not when it was decided.
            lastNotificationDt = iso(Date.parse(clock) + result.delayMs);
          }
        }
        if (result.status === "abandoned") count(entry, "notificationsAbandoned");
      }
      // The entry-level summary people read (`watchkeeper show`, `health`): its earliest retry.
      for (const entry of entries) {
        const waits = Object.values(entry.targets ?? {})
          .filter((record) => !isSettled(record) && record.nextAttemptAt !== undefined)
          .map((record) => record.nextAttemptAt as number);
        if (entry.targets !== undefined)
          entry.nextAttemptAt = waits.length > 0 ? Math.min(...waits) : undefined;
      }
      const remaining = entries.filter((entry) => !isComplete(entry, this.#targets(entry, config)));
      const [first, ...rest] = remaining;
      let outbox: Outbox | undefined;
      if (first) {
        const { claimedUntil, claimId, ...unclaimed } = first;
        // Released if it is ours; a claim another sender took over stays theirs.
        const keep = claimId !== undefined && claimId !== claim.claimId;
        outbox = {
          ...unclaimed,
          ...(keep ? { claimedUntil, claimId } : {}),
          // The chain token travels with the head, so a deliver tick can tell live from superseded.
          // (The head's token only: a queued entry's own failed passes are no token.)
          chain: Math.max(chainOf(state.outbox), retryScheduled ? token : 0),
        };
      }
      const next: MonitorState = {
        ...state,
        version: state.version + 1,
        outbox,
        outboxQueue: rest.length > 0 ? rest : undefined,
        lastNotificationDt,
      };
      try {
        await this.#deps.store.saveState(monitorId, next, state.version, {
          receipts,
          incidents: [...incidents.values()],
        });
      } catch (error) {
        // A delivered message must be recorded, or it goes out again, and a release that never
        // lands leaves the outbox claimed by nobody alive: keep at it, and ride out passing store
        // errors (throttling) rather than give up.
        const settledSome = sent.some((one) => one.result.status !== "failed");
        const patience = settledSome ? 4 * this.#options.maxRaceRetries : this.#options.maxRaceRetries;
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
      if (failures.length > 0 && this.#deps.retries && !retryScheduled && claim.failIfRetryLost) {
        // No retry could be queued: fail this message so SQS brings it back, and the entries with it.
        throw new RetryableTickError(`the retry of a pending ${head.type} notification could not be queued`);
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
   * Queues a `deliver` tick for the outbox, tagged with `attempt` (its chain's token); false if
   * there is no retry queue or it failed.
   */
  async #scheduleRetry(monitorId: string, head: Outbox, delayMs: number, attempt: number): Promise<boolean> {
    if (!this.#deps.retries) return false;
    try {
      await this.#deps.retries.scheduleRetry(monitorId, head.tickTime, Math.max(0, delayMs), attempt);
      return true;
    } catch (error) {
      this.#deps.logger.error("could not queue the delivery retry", {
        monitorId,
        tickTime: head.tickTime,
        error: describeThrown(error),
      });
      return false;
    }
  }
}

/**
 * The records an entry of the previous version implies once it gets per-target ones: its failed
 * attempts and next attempt were every target's.
 */
function legacyRecords(entry: Outbox, targets: readonly Target[]): Record<string, TargetDelivery> {
  const records: Record<string, TargetDelivery> = {};
  for (const target of targets) {
    const record = recordOf(entry, target.key);
    if (record) records[target.key] = record;
  }
  return records;
}

/** One entry's results in this invocation, as one DeliveryResult (its targets kept for metrics). */
function summarise({ entry, targets }: { entry: Outbox; targets: TargetResult[] }): DeliveryResult {
  const base = { type: entry.type, tickTime: entry.tickTime, targets };
  const delivered = targets.filter((result) => result.status === "delivered");
  const failed = targets.filter((result) => result.status === "failed");
  const abandoned = targets.filter((result) => result.status === "abandoned");
  if (failed.length === 0 && abandoned.length === 0) {
    if (delivered.length > 0) {
      return {
        ...base,
        delivered: true,
        messageId: delivered[0]?.messageId ?? "",
        recipients: delivered.length,
        delayMs: Math.max(...delivered.map((result) => result.delayMs)),
      };
    }
    return {
      ...base,
      delivered: false,
      dropped: true,
      error: targets[0]?.status === "dropped" ? targets[0].error : "",
    };
  }
  const worst = failed[0] ?? abandoned[0];
  const error = targets.length > 1 ? `${worst?.target}: ${worst?.error}` : (worst?.error ?? "");
  const retries = failed.map((result) => result.retryInMs).filter((ms): ms is number => ms !== undefined);
  return {
    ...base,
    delivered: false,
    error,
    ...(failed.length === 0 ? { abandoned: true as const } : {}),
    ...(retries.length > 0 ? { retryInMs: Math.min(...retries) } : {}),
  };
}
