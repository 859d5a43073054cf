/** Run statistics for health and performance: success rate and duration percentiles. */

export interface RunSample {
  isOk: boolean;
  durationMs: number | undefined;
  /**
   * A summary of quiet runs (write on change) stands for `count` OK runs, with the durations that
   * were measured of them (`durationsMs`, possibly fewer). @default 1
   */
  count?: number;
  durationsMs?: readonly number[];
}

/** A history item (`run#...`, a run or a summary of quiet runs) as runStats counts it. */
export function runSample(item: Record<string, unknown>): RunSample {
  if (item.kind === "summary") {
    const count = typeof item.count === "number" ? item.count : 0;
    const durations = Array.isArray(item.durationsMs)
      ? item.durationsMs.filter((ms): ms is number => typeof ms === "number")
      : [];
    return { isOk: true, durationMs: undefined, count, durationsMs: durations };
  }
  return { isOk: item.isOk === true, durationMs: item.durationMs as number | undefined };
}

export interface RunStats {
  runs: number;
  failures: number;
  /** Share of successful runs; undefined without runs. */
  successRate: number | undefined;
  minMs: number | undefined;
  avgMs: number | undefined;
  p95Ms: number | undefined;
  maxMs: number | undefined;
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function runStats(samples: readonly RunSample[]): RunStats {
  const durations = samples
    .flatMap((sample) => (sample.durationsMs ? [...sample.durationsMs] : [sample.durationMs]))
    .filter((ms): ms is number => typeof ms === "number" && Number.isFinite(ms))
    .sort((a, b) => a - b);
  const runs = samples.reduce((sum, sample) => sum + (sample.count ?? 1), 0);
  const failures = samples.filter((sample) => !sample.isOk).reduce((sum, s) => sum + (s.count ?? 1), 0);
  return {
    runs,
    failures,
    successRate: runs === 0 ? undefined : (runs - failures) / runs,
    minMs: durations[0],
    avgMs: durations.length === 0 ? undefined : durations.reduce((sum, ms) => sum + ms, 0) / durations.length,
    p95Ms: percentile(durations, 95),
    maxMs: durations.at(-1),
  };
}

/** Groups values by a key, keeping first-seen order. */
export function groupBy<T>(values: Iterable<T>, key: (value: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const value of values) {
    const name = key(value);
    const group = groups.get(name);
    if (group) group.push(value);
    else groups.set(name, [value]);
  }
  return groups;
}
