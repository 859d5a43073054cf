import awsCronParser from "aws-cron-parser";

/**
 * EventBridge Scheduler expressions (`rate(...)`, `cron(...)`) evaluated in an IANA timezone.
 * Pure: used by config validation, schedule-sync, the local scheduler, superseded-tick detection
 * and the CLI, so that all of them agree on what "the next run" means.
 */
export type ScheduleExpression =
  | { kind: "rate"; everyMs: number; expression: string }
  | { kind: "cron"; expression: string; fields: string };

export class InvalidScheduleError extends Error {
  override name = "InvalidScheduleError";
}

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const UNIT_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

// One AWS cron field: values, ranges, steps, lists, names, and the L/W/# wildcards.
const CRON_FIELD = /^[0-9A-Za-z*?,/#LW-]+$/;

/** Parses and validates an EventBridge Scheduler expression; throws InvalidScheduleError with the reason. */
export function parseSchedule(expression: string): ScheduleExpression {
  const rate = RATE.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const unit = (rate[2] ?? "").replace(/s$/, "") as keyof typeof UNIT_MS;
    if (value < 1) throw new InvalidScheduleError(`rate value must be at least 1 in "${expression}"`);
    if (value === 1 && rate[2]?.endsWith("s")) {
      throw new InvalidScheduleError(`use the singular unit for a value of 1: "rate(1 ${unit})"`);
    }
    if (value > 1 && !rate[2]?.endsWith("s")) {
      throw new InvalidScheduleError(`use the plural unit for values above 1: "rate(${value} ${unit}s)"`);
    }
    return { kind: "rate", everyMs: value * UNIT_MS[unit], expression };
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (!cron) {
    throw new InvalidScheduleError(`"${expression}" is neither rate(<n> <unit>) nor cron(<6 fields>)`);
  }
  const fields = (cron[1] ?? "").trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new InvalidScheduleError(
      `cron needs 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length} in "${expression}"`,
    );
  }
  const bad = fields.find((field) => !CRON_FIELD.test(field));
  if (bad !== undefined)
    throw new InvalidScheduleError(`cron field "${bad}" is not valid in "${expression}"`);
  const [, , dayOfMonth, , dayOfWeek] = fields;
  if ((dayOfMonth === "?") === (dayOfWeek === "?")) {
    throw new InvalidScheduleError(
      `cron needs "?" in exactly one of day-of-month and day-of-week, got "${dayOfMonth}" and "${dayOfWeek}"`,
    );
  }
  const joined = fields.join(" ");
  let probe: Date | null;
  try {
    probe = awsCronParser.next(awsCronParser.parse(joined), new Date(Date.UTC(2000, 0, 1)));
  } catch (error) {
    throw new InvalidScheduleError(`cron "${expression}" cannot be parsed: ${String(error)}`);
  }
  if (probe === null || Number.isNaN(probe.getTime())) {
    throw new InvalidScheduleError(`cron "${expression}" never fires`);
  }
  return { kind: "cron", expression, fields: joined };
}

/** True when `timezone` is an IANA zone this runtime knows. */
export function isValidTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    return timezone.length > 0;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function partsFormatter(timezone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timezone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timezone, formatter);
  }
  return formatter;
}

/** Offset of `timezone` from UTC at `instant`, in ms (Chicago in winter: -6h). */
function offsetMs(instant: Date, timezone: string): number {
  const parts = Object.fromEntries(
    partsFormatter(timezone)
      .formatToParts(instant)
      .map((part) => [part.type, part.value]),
  );
  const asUtc = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}

/** The instant whose wall clock in `timezone` reads like `wall` does in UTC. */
function wallToInstant(wall: Date, timezone: string): Date {
  // Two passes settle the offset across DST transitions.
  let guess = wall.getTime() - offsetMs(wall, timezone);
  guess = wall.getTime() - offsetMs(new Date(guess), timezone);
  return new Date(guess);
}

function instantToWall(instant: Date, timezone: string): Date {
  return new Date(instant.getTime() + offsetMs(instant, timezone));
}

/**
 * The first run strictly after `after`. Rate schedules are anchored at `anchor` (the time the
 * schedule was created), as EventBridge Scheduler anchors them at creation.
 */
export function nextRun(
  schedule: ScheduleExpression,
  timezone: string,
  after: Date,
  anchor?: Date,
): Date | null {
  if (schedule.kind === "rate") {
    const start = (anchor ?? new Date(0)).getTime();
    const elapsed = after.getTime() - start;
    const periods = elapsed < 0 ? 0 : Math.floor(elapsed / schedule.everyMs) + 1;
    return new Date(start + periods * schedule.everyMs);
  }
  const parsed = awsCronParser.parse(schedule.fields);
  // aws-cron-parser works on UTC fields: feed it the wall clock of the zone and map back.
  let wall = instantToWall(after, timezone);
  for (let guard = 0; guard < 8; guard++) {
    const nextWall = awsCronParser.next(parsed, new Date(wall.getTime() + 1000 - (wall.getTime() % 1000)));
    if (!nextWall) return null;
    const instant = wallToInstant(nextWall, timezone);
    if (instant.getTime() > after.getTime()) return instant;
    wall = nextWall;
  }
  return null;
}

/** The next `count` runs after `after`. */
export function nextRuns(
  schedule: ScheduleExpression,
  timezone: string,
  after: Date,
  count: number,
  anchor?: Date,
): Date[] {
  const runs: Date[] = [];
  let cursor = after;
  while (runs.length < count) {
    const next = nextRun(schedule, timezone, cursor, anchor);
    if (!next) break;
    runs.push(next);
    cursor = next;
  }
  return runs;
}

/** A nominal period, used for stall detection and superseded-tick grace: rate period, or gap between the next two cron runs. */
export function nominalPeriodMs(schedule: ScheduleExpression, timezone: string, from: Date): number | null {
  if (schedule.kind === "rate") return schedule.everyMs;
  const [first, second] = nextRuns(schedule, timezone, from, 2);
  return first && second ? second.getTime() - first.getTime() : null;
}
