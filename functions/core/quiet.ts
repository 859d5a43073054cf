import type { RunSummary } from "./ports.ts";
import { nextRun, parseSchedule } from "./schedule.ts";
import type { MonitorConfig, MonitorState } from "./schemas.ts";

/**
 * Write on change (DESIGN.md §8, issue 13): a tick whose decision changes nothing the state
 * machine, the outbox or the config report track is *quiet* and writes nothing, except a heartbeat
 * write once the persisted run is `stateHeartbeatMs` old. Quiet runs are recorded as periodic
 * summaries written with the next write. Pure functions plus one bounded in-memory accumulator.
 */

/**
 * Attributes every tick moves: a difference in these alone is not a change. `lastResultMessage`
 * is among them because a healthy check's message often carries a timing ("200 in 41 ms"): for an
 * OK run it may lag by up to the heartbeat interval (`lastResultOk` is compared).
 */
export const BOOKKEEPING_ATTRIBUTES = ["lastRunDt", "lastTickTime", "lastResultMessage", "version"] as const;

/** JSON of a value with object keys sorted and undefined members dropped (stored items lose them). */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(
          Object.entries(inner as Record<string, unknown>)
            .filter(([, member]) => member !== undefined)
            .sort(([a], [b]) => a.localeCompare(b)),
        )
      : inner,
  );
}

/** Attributes of `next` (what the tick would write) that differ from `previous`, bookkeeping aside. */
export function changedAttributes(previous: MonitorState, next: MonitorState): string[] {
  const skip = new Set<string>(BOOKKEEPING_ATTRIBUTES);
  const names = new Set([...Object.keys(next), ...Object.keys(previous)]);
  const before = previous as Record<string, unknown>;
  const after = next as Record<string, unknown>;
  return [...names]
    .filter((name) => !skip.has(name) && name in after)
    .filter((name) => canonical(before[name]) !== canonical(after[name]));
}

/**
 * A quiet tick: a scheduled tick whose OK check follows an OK run, and whose write would change
 * nothing but bookkeeping (no transition, counter, notification, outbox work, config problem or
 * schedule error change). Manual rechecks are never quiet: people expect to see them.
 */
export function isQuiet(input: {
  previous: MonitorState | undefined;
  next: MonitorState;
  isOk: boolean;
  manual: boolean;
  notified: boolean;
}): boolean {
  const { previous, next } = input;
  if (!previous || input.manual || input.notified || !input.isOk) return false;
  if (previous.lastResultOk !== true || previous.lastTickTime === undefined) return false;
  if (next.outbox || (next.outboxQueue?.length ?? 0) > 0) return false;
  return changedAttributes(previous, next).length === 0;
}

/**
 * Whether a quiet tick must write anyway: the persisted run (scheduled or any) is `heartbeatMs`
 * old or more. 0 disables write on change (every tick writes).
 */
export function heartbeatDue(previous: MonitorState, tickTime: string, heartbeatMs: number): boolean {
  if (heartbeatMs <= 0 || !previous.lastTickTime || !previous.lastRunDt) return true;
  const now = Date.parse(tickTime);
  return (
    now - Date.parse(previous.lastTickTime) >= heartbeatMs ||
    now - Date.parse(previous.lastRunDt) >= heartbeatMs
  );
}

/** Most runs one summary counts: a bound on the schedule walk whatever the settings. */
const MAX_SUMMARY_RUNS = 100_000;

/**
 * The quiet runs since the last write at `lastTickTime`, by the schedule: its occurrences after
 * `lastTickTime`, before `until` (and `until` itself when it is a quiet run being summarised),
 * and earlier than `lastTickTime + heartbeatMs` (a later quiet tick would have written). Exact
 * when every due tick reached the orchestrator and the schedule did not change meanwhile;
 * otherwise an upper bound (a tick lost upstream, a pause shorter than the heartbeat). Undefined
 * when the schedule cannot be evaluated.
 */
export function quietRunsBetween(input: {
  schedule: string;
  timezone: string;
  lastTickTime: string;
  until: string;
  includeUntil: boolean;
  heartbeatMs: number;
}): { from: string; to: string; count: number } | undefined {
  let parsed: ReturnType<typeof parseSchedule>;
  try {
    parsed = parseSchedule(input.schedule);
  } catch {
    return undefined;
  }
  const anchor = new Date(input.lastTickTime);
  const untilMs = Date.parse(input.until);
  // A rate tick a little off its grid (clock skew) must not count as two runs: the slack keeps
  // the grid occurrence of `until` out. The heartbeat bound is exact: a run before it was quiet
  // (heartbeatDue), so it is counted, however close to the bound.
  const slack = parsed.kind === "rate" ? parsed.everyMs / 2 : 0;
  const limit = Math.min(untilMs - slack, anchor.getTime() + input.heartbeatMs);
  let first: Date | undefined;
  let last: Date | undefined;
  let count = 0;
  let cursor = anchor;
  try {
    while (count < MAX_SUMMARY_RUNS) {
      const next = nextRun(parsed, input.timezone, cursor, anchor);
      if (!next || next.getTime() >= limit) break;
      first ??= next;
      last = next;
      count++;
      cursor = next;
    }
  } catch {
    return undefined;
  }
  if (input.includeUntil) {
    first ??= new Date(untilMs);
    last = new Date(untilMs);
    count++;
  }
  if (count === 0 || !first || !last) return undefined;
  return { from: first.toISOString(), to: last.toISOString(), count };
}

/** Nearest-rank percentile of sorted values (p in 0..100), as the CLI computes it. */
function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

/** Durations kept per summary item: enough for exact percentiles of a usual heartbeat window. */
export const MAX_SUMMARY_DURATIONS = 120;

/** The summary item of a window of quiet runs and the durations this process measured in it. */
export function buildSummary(
  window: { from: string; to: string; count: number },
  durationsMs: readonly number[],
  config: Pick<MonitorConfig, "historyRetentionDays">,
): RunSummary {
  const sorted = [...durationsMs].sort((a, b) => a - b);
  const samples = sorted.length;
  const stats =
    samples === 0
      ? {}
      : {
          minMs: sorted[0],
          avgMs: Math.round(sorted.reduce((sum, ms) => sum + ms, 0) / samples),
          p95Ms: percentile(sorted, 95),
          maxMs: sorted[samples - 1],
          // Only when complete: the CLI computes percentiles across summaries from them.
          ...(samples <= MAX_SUMMARY_DURATIONS ? { durationsMs: sorted } : {}),
        };
  return {
    kind: "summary",
    scheduledTime: window.to,
    from: window.from,
    to: window.to,
    count: window.count,
    failures: 0,
    samples,
    ...stats,
    isOk: true,
    state: "ok",
    message: `${window.count} quiet OK run${window.count === 1 ? "" : "s"} (durations of ${samples} measured)`,
    expiresAt: Math.floor(Date.parse(window.to) / 1000) + config.historyRetentionDays * 86_400,
  };
}

/**
 * Durations of the quiet runs this process applied, per monitor, since the last write it knows of
 * (`base`: the persisted lastTickTime they followed). Lambda may spread a monitor's ticks over
 * several containers, so a summary's duration statistics cover the runs measured here
 * (`samples`), while its `count` comes from the schedule. Bounded in monitors and samples.
 */
export class QuietRunSamples {
  readonly #byMonitor = new Map<string, { base: string; durations: Map<string, number>; latest: number }>();

  constructor(
    private readonly maxMonitors = 10_000,
    private readonly maxSamples = MAX_SUMMARY_DURATIONS,
  ) {}

  /** Records a quiet run; a redelivered tick replaces its earlier sample rather than adding one. */
  add(monitorId: string, base: string, tickTime: string, durationMs: number): void {
    let entry = this.#byMonitor.get(monitorId);
    if (!entry || entry.base !== base) {
      this.#byMonitor.delete(monitorId);
      entry = { base, durations: new Map(), latest: Number.NEGATIVE_INFINITY };
    }
    // Most recently used last: eviction drops the monitor not seen for longest.
    this.#byMonitor.delete(monitorId);
    this.#byMonitor.set(monitorId, entry);
    if (entry.durations.size < this.maxSamples || entry.durations.has(tickTime))
      entry.durations.set(tickTime, Math.round(durationMs));
    for (const oldest of this.#byMonitor.keys()) {
      if (this.#byMonitor.size <= this.maxMonitors) break;
      this.#byMonitor.delete(oldest);
    }
  }

  /**
   * The runs recorded after `base` up to `until` (inclusive), if they follow that write, as
   * [tickTime, durationMs] in tick order.
   */
  durations(monitorId: string, base: string, until: string): Array<[string, number]> {
    const entry = this.#byMonitor.get(monitorId);
    if (!entry || entry.base !== base) return [];
    const untilMs = Date.parse(until);
    return [...entry.durations]
      .filter(([time]) => Date.parse(time) <= untilMs)
      .sort(([a], [b]) => Date.parse(a) - Date.parse(b));
  }

  /**
   * A quiet run recorded by `add` is applied and needs no write (its heartbeat is not due). Only
   * those count for `latest`: a run whose write was lost to a race is applied again, not a
   * duplicate.
   */
  applied(monitorId: string, base: string, tickTime: string): void {
    const entry = this.#byMonitor.get(monitorId);
    if (entry && entry.base === base) entry.latest = Math.max(entry.latest, Date.parse(tickTime));
  }

  /**
   * The newest quiet run this process applied after the write at `base`: with write on change the
   * state's lastTickTime lags behind it, so a redelivered or late tick up to it is a duplicate.
   * Undefined when none (or when `base` is not the write they followed).
   */
  latest(monitorId: string, base: string): string | undefined {
    const entry = this.#byMonitor.get(monitorId);
    return entry && entry.base === base && Number.isFinite(entry.latest)
      ? new Date(entry.latest).toISOString()
      : undefined;
  }

  /** After a write that moved lastTickTime: what was recorded before it is summarised or moot. */
  forget(monitorId: string): void {
    this.#byMonitor.delete(monitorId);
  }

  get size(): number {
    return this.#byMonitor.size;
  }
}
