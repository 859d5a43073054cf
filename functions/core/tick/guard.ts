import type { DeliveryResult } from "../outbox-delivery.ts";
import type { StoredMonitor } from "../ports.ts";
import { nextRun, parseSchedule } from "../schedule.ts";
import {
  type ConfigProblem,
  type MonitorConfig,
  type MonitorState,
  parseConfigLeniently,
  type TickMessage,
  TickMessageSchema,
} from "../schemas.ts";
import { describeThrown } from "../text.ts";
import { drainPending } from "./deliver.ts";
import {
  DEFAULT_TICK_OPTIONS,
  iso,
  type TickContext,
  type TickOutcome,
  type TickRuntime,
} from "./runtime.ts";

/**
 * Step 1 of a tick (DESIGN.md §1, §3, §5): admit the message (a body that parses, a clock not too
 * far ahead), then, on what was loaded, stop a missing or paused monitor, deliver what is pending
 * first, and stop duplicate, out-of-order and superseded ticks.
 */

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

/**
 * A tick body admitted for processing, with its logical time, or why it is rejected: unreadable,
 * or further ahead of the wall clock than `maxFutureSkewMs` (never applied: one such tick would
 * make every later real tick look stale). A manual recheck runs "now": a sender whose clock runs
 * ahead must not date it in the future.
 */
export function admitTick(
  body: string,
  options: { maxBodyBytes: number; maxFutureSkewMs: number },
  wallNow: number,
): { tick: TickMessage; tickTime: string } | { reason: string } {
  const parsed = parseTick(body, options.maxBodyBytes);
  if ("reason" in parsed) return parsed;
  const { tick } = parsed;
  const ahead = Date.parse(tick.scheduledTime) - wallNow;
  if (ahead > options.maxFutureSkewMs) {
    return {
      reason: `scheduledTime ${tick.scheduledTime} is ${Math.round(ahead / 1000)} s ahead of the clock (limit ${options.maxFutureSkewMs / 1000} s)`,
    };
  }
  const tickTime =
    tick.reason === "manual"
      ? iso(Math.min(Date.parse(tick.scheduledTime), wallNow))
      : iso(tick.scheduledTime);
  return { tick, tickTime };
}

export type Guarded =
  | { outcome: TickOutcome }
  | {
      config: MonitorConfig;
      problems: ConfigProblem[];
      state: MonitorState | undefined;
      healed: DeliveryResult[];
    };

/**
 * Step 1 (after the load): a missing or paused monitor stops here; pending notifications go out
 * first; duplicate, out-of-order and superseded ticks stop here.
 */
export async function guard(
  runtime: TickRuntime,
  context: TickContext,
  stored: StoredMonitor,
): Promise<Guarded> {
  const { tick, tickTime } = context;
  const { monitorId } = tick;
  const { logger } = runtime.deps;
  if (!stored.config) {
    logger.warn("monitor not found: no config item", { monitorId });
    return { outcome: { status: "not-found", monitorId } };
  }
  const { config, problems } = parseConfigLeniently(monitorId, stored.config, {
    defaultTimezone: runtime.options.defaultTimezone,
    allowedRecipientDomains: runtime.options.allowedRecipientDomains,
  });

  if (!config.isActive) {
    // Paused means silent: even a notification left pending waits until the monitor is resumed.
    logger.info("monitor is inactive: no check, no writes, no mail", { monitorId });
    return { outcome: { status: "inactive", monitorId } };
  }
  let state = stored.state;
  let healed: DeliveryResult[] = [];
  if (state?.outbox) {
    ({ state, results: healed } = await drainPending(runtime, monitorId, state, config, context));
  }
  if (tick.reason === "deliver") return { outcome: { status: "delivery-retry", monitorId, healed } };

  const manual = tick.reason === "manual";
  // Manual rechecks keep their own clock: wherever their sender's clock stands, they never make a
  // scheduled tick look like a duplicate. Between writes (write on change) lastTickTime is the
  // last *written* tick; the quiet runs this process applied since then count too, so that a
  // redelivered or late quiet tick is a duplicate here. A quiet run another execution environment
  // applied is not known here: its tick runs its check again, and can only write conditionally.
  const lastSeen = manual
    ? state?.lastManualTickTime
    : latestOf(
        state?.lastTickTime,
        state?.lastTickTime && runtime.quietRuns.latest(monitorId, state.lastTickTime),
      );
  const stamp = manual ? iso(tick.scheduledTime) : tickTime;
  if (lastSeen && Date.parse(stamp) <= Date.parse(lastSeen)) {
    logger.info("duplicate or out-of-order tick ignored", { monitorId, tickTime, lastTickTime: lastSeen });
    return { outcome: { status: "duplicate", monitorId, lastTickTime: lastSeen, healed } };
  }
  const supersededBy = supersededAt(runtime, tick, tickTime, config);
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

/** The next run that makes this tick superseded (a backlog), or null when it is to be applied. */
export function supersededAt(
  runtime: Pick<TickRuntime, "options" | "deps" | "now">,
  tick: TickMessage,
  tickTime: string,
  config: MonitorConfig,
): string | null {
  if (!config.skipSupersededTicks || tick.reason === "manual") return null;
  const wallNow = runtime.now();
  // The next run comes after the tick, so a tick younger than the grace cannot be superseded:
  // steady ticks never pay for the schedule computation.
  if (wallNow - Date.parse(tickTime) <= runtime.options.supersededGraceMs) return null;
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
    runtime.deps.logger.warn("next run could not be computed; the tick is applied", {
      monitorId: tick.monitorId,
      error: describeThrown(error),
    });
    return null;
  }
  if (!next) return null;
  return next.getTime() + runtime.options.supersededGraceMs < wallNow ? iso(next) : null;
}

/** The later of two ISO instants (either may be absent). */
function latestOf(a: string | undefined, b: string | undefined): string | undefined {
  if (!a || !b) return a || b || undefined;
  return Date.parse(b) > Date.parse(a) ? b : a;
}
