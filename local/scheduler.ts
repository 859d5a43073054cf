import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { schedulerTime } from "#core/fan-out.ts";
import { HEARTBEAT_ID, HEARTBEAT_PERIOD_MINUTES, heartbeatTickBody } from "#core/heartbeat.ts";
import type { Logger, ScheduleDefinition, SchedulerPort } from "#core/ports.ts";
import { silentLogger } from "#core/ports.ts";
import {
  InvalidScheduleError,
  isValidTimezone,
  nextRun,
  parseSchedule,
  type ScheduleExpression,
} from "#core/schedule.ts";
import type { TickMessage } from "#core/schemas.ts";

/**
 * EventBridge Scheduler for the local runtime (DESIGN.md §7): the stack's own schedules (the clock
 * that drives the fan-out every minute, the heartbeat), and, for tests of the pre-v2 path, one timer
 * per schedule that sends the tick message a per-monitor schedule's SQS target sent. It implements
 * the same SchedulerPort as the AWS adapter.
 */

/** What the dashboard and the tests see of one schedule. */
export interface ScheduleView {
  monitorId: string;
  expression: string;
  timezone: string;
  enabled: boolean;
  /** Planned time of the next tick; null when disabled or when a cron expression never fires again. */
  nextRun: Date | null;
  /** Planned time of the last tick sent, if any. */
  lastTick: Date | null;
}

export interface LocalSchedulerOptions {
  sqs: SQSClient;
  /** The FIFO ticks queue. */
  queueUrl: string;
  logger?: Logger;
  /** Called after each tick is accepted by the queue (dashboard, tests). */
  onTick?: (tick: TickMessage) => void;
  /**
   * False keeps the schedules (and their next runs) without ever sending a tick: tests drive
   * ticks themselves with chosen scheduled times. @default true
   */
  dispatch?: boolean;
}

interface Entry {
  definition: ScheduleDefinition;
  schedule: ScheduleExpression;
  /** Rate schedules count their periods from here, as EventBridge counts from the schedule's creation. */
  anchor: Date;
  next: Date | null;
  lastTick: Date | null;
  timer: NodeJS.Timeout | undefined;
}

/** setTimeout silently fires at once for delays above 2^31-1 ms (~24.8 days): longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Attempts per tick before it is given up: Scheduler itself retries for up to 24 hours. */
const SEND_ATTEMPTS = 4;

export { schedulerTime } from "#core/fan-out.ts";

function wholeSecond(instant: Date): Date {
  return new Date(Math.floor(instant.getTime() / 1000) * 1000);
}

export class LocalScheduler implements SchedulerPort {
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #options: LocalSchedulerOptions;
  readonly #logger: Logger;
  #heartbeat: NodeJS.Timeout | undefined;
  #clock: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: LocalSchedulerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  async upsert(definition: ScheduleDefinition): Promise<void> {
    if (this.#stopped) throw new Error("the local scheduler is stopped");
    // Same validation as CreateSchedule: a bad expression or zone is refused, not half-applied.
    const schedule = parseSchedule(definition.expression);
    if (!isValidTimezone(definition.timezone)) {
      throw new InvalidScheduleError(`"${definition.timezone}" is not an IANA timezone`);
    }
    const previous = this.#entries.get(definition.monitorId);
    // Re-applying an unchanged definition (a config edit that touched only the name, a stream
    // replay) must not restart a rate schedule's cadence.
    const unchanged =
      previous !== undefined &&
      previous.definition.expression === definition.expression &&
      previous.definition.timezone === definition.timezone &&
      previous.definition.enabled === definition.enabled;
    if (unchanged) {
      previous.definition = { ...definition };
      return;
    }
    if (previous) clearTimeout(previous.timer);
    const entry: Entry = {
      definition: { ...definition },
      schedule,
      anchor: wholeSecond(new Date()),
      next: null,
      lastTick: previous?.lastTick ?? null,
      timer: undefined,
    };
    this.#entries.set(definition.monitorId, entry);
    // A rate schedule without a start date starts invoking at once; a cron one at its next match.
    const first =
      schedule.kind === "rate"
        ? entry.anchor
        : nextRun(schedule, definition.timezone, new Date(), entry.anchor);
    this.#arm(entry, definition.enabled ? first : null);
    this.#logger.info("schedule upserted", {
      monitorId: definition.monitorId,
      expression: definition.expression,
      timezone: definition.timezone,
      enabled: definition.enabled,
      nextRun: entry.next?.toISOString() ?? null,
    });
  }

  async remove(monitorId: string): Promise<void> {
    const entry = this.#entries.get(monitorId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.#entries.delete(monitorId);
    this.#logger.info("schedule removed", { monitorId });
  }

  async list(): Promise<string[]> {
    return [...this.#entries.keys()].sort();
  }

  /** A snapshot of every schedule, sorted by monitor id. */
  schedules(): ScheduleView[] {
    return [...this.#entries.values()]
      .map((entry) => this.#view(entry))
      .sort((a, b) => a.monitorId.localeCompare(b.monitorId));
  }

  get(monitorId: string): ScheduleView | undefined {
    const entry = this.#entries.get(monitorId);
    return entry && this.#view(entry);
  }

  /**
   * The stack's heartbeat schedule (functions/core/heartbeat.ts): the same heartbeat tick every
   * period, outside the monitors' schedules (not listed, so reconcile never sees it). The first one
   * leaves after one period rather than at once, so a short run sees only its monitors' ticks.
   * Does nothing without dispatch or when already started.
   */
  startHeartbeat(periodMs: number = HEARTBEAT_PERIOD_MINUTES * 60_000): void {
    if (this.#stopped || this.#heartbeat || this.#options.dispatch === false) return;
    this.#heartbeat = setInterval(() => {
      if (this.#stopped) return;
      const scheduledTime = schedulerTime(new Date());
      this.#track(
        this.#deliver(heartbeatTickBody(scheduledTime), HEARTBEAT_ID, {
          monitorId: HEARTBEAT_ID,
          scheduledTime,
        }),
      );
    }, periodMs);
    this.#heartbeat.unref();
  }

  /**
   * The stack's clock schedule (functions/core/buckets.ts): at the start of every minute, invokes
   * `target` (the fan-out Lambda) with the clock's input, as Scheduler's Lambda target does. A failed
   * invocation is logged; the fan-out's retries are the Lambda host's business, as in AWS.
   * Does nothing without dispatch or when already started.
   */
  startClock(target: (event: { scheduledTime: string }) => Promise<unknown>): void {
    if (this.#stopped || this.#clock || this.#options.dispatch === false) return;
    const arm = () => {
      const now = Date.now();
      const next = Math.floor(now / 60_000) * 60_000 + 60_000;
      this.#clock = setTimeout(() => {
        if (this.#stopped) return;
        const scheduledTime = schedulerTime(new Date(next));
        this.#track(
          target({ scheduledTime }).then(
            () => undefined,
            (error: Error) =>
              this.#logger.error("clock invocation failed", { scheduledTime, error: error.message }),
          ),
        );
        arm();
      }, next - now);
      this.#clock.unref();
    };
    arm();
  }

  /** Cancels every timer and waits for ticks being sent; nothing fires afterwards. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#clock);
    for (const entry of this.#entries.values()) clearTimeout(entry.timer);
    await Promise.allSettled([...this.#inFlight]);
  }

  #view(entry: Entry): ScheduleView {
    const { monitorId, expression, timezone, enabled } = entry.definition;
    let next = entry.next;
    // Without dispatch no timer moves `next` on: derive it from the clock instead.
    if (next !== null && next.getTime() < Date.now() && this.#options.dispatch === false) {
      next = nextRun(entry.schedule, timezone, new Date(), entry.anchor);
    }
    return { monitorId, expression, timezone, enabled, nextRun: next, lastTick: entry.lastTick };
  }

  #arm(entry: Entry, at: Date | null): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.next = at;
    if (at === null || this.#stopped || this.#options.dispatch === false) return;
    const wait = () => {
      const delay = at.getTime() - Date.now();
      if (delay > MAX_TIMER_MS) {
        entry.timer = setTimeout(wait, MAX_TIMER_MS);
      } else {
        entry.timer = setTimeout(() => this.#fire(entry, at), Math.max(0, delay));
      }
      // Timers alone must not keep a process alive: the runtime's servers do that.
      entry.timer.unref();
    };
    wait();
  }

  #fire(entry: Entry, planned: Date): void {
    // The entry may have been replaced or removed while its timer was pending.
    if (this.#stopped || this.#entries.get(entry.definition.monitorId) !== entry) return;
    entry.lastTick = planned;
    this.#track(this.#send({ monitorId: entry.definition.monitorId, scheduledTime: schedulerTime(planned) }));

    const { schedule, definition, anchor } = entry;
    let next = nextRun(schedule, definition.timezone, planned, anchor);
    // After the machine slept, skip the missed runs instead of firing a burst of them.
    if (next !== null && next.getTime() < Date.now() - 1000) {
      next = nextRun(schedule, definition.timezone, new Date(), anchor);
    }
    this.#arm(entry, next);
  }

  #track(send: Promise<void>): void {
    this.#inFlight.add(send);
    void send.finally(() => this.#inFlight.delete(send));
  }

  async #send(tick: TickMessage): Promise<void> {
    const body = JSON.stringify({ monitorId: tick.monitorId, scheduledTime: tick.scheduledTime });
    await this.#deliver(body, tick.monitorId, tick, () => this.#options.onTick?.(tick));
  }

  async #deliver(
    body: string,
    messageGroupId: string,
    tick: { monitorId: string; scheduledTime: string },
    onSent?: () => void,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#options.sqs.send(
          new SendMessageCommand({
            QueueUrl: this.#options.queueUrl,
            MessageBody: body,
            // As the AWS schedule's SqsParameters: one FIFO group per monitor, dedup by content.
            MessageGroupId: messageGroupId,
          }),
        );
        this.#logger.debug("tick sent", { ...tick });
        onSent?.();
        return;
      } catch (error) {
        if (attempt >= SEND_ATTEMPTS || this.#stopped) {
          this.#logger.error("tick could not be sent", { ...tick, error: String(error) });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
      }
    }
  }
}
