/**
 * EventBridge Scheduler expressions (`rate(...)`, `cron(...)`) evaluated in an IANA timezone.
 * Pure: used by config validation, schedule-sync, the local scheduler, superseded-tick detection
 * and the CLI, so that all of them agree on what "the next run" means.
 *
 * The cron rules are AWS's documented ones (Scheduler "Schedule types", cron-based schedules:
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based):
 * six fields `minutes hours day-of-month month day-of-week year`;
 * minutes 0-59 and hours 0-23 with `, - * /`; day-of-month 1-31 with `, - * ? / L W`;
 * month 1-12 or JAN-DEC with `, - * /`; day-of-week 1-7 or SUN-SAT (1 = Sunday) with `, - * ? L #`;
 * year 1970-2199 with `, - * /`. Exactly one of day-of-month and day-of-week is `?`. `#` allows a
 * single expression in the field ("3#1,6#3" is invalid). As in Quartz, which AWS follows, `L` alone
 * in day-of-week is the last day of the week (7, Saturday), `nL` the last day n of the month, and
 * `nW` the weekday nearest day n that stays inside the month (1W on a Saturday is Monday the 3rd).
 *
 * Evaluation never reads the machine's timezone: wall clocks are computed with Intl for the
 * schedule's zone, and calendar arithmetic is done on UTC fields only.
 */

/** A parsed schedule. `fields` is the six cron fields joined by single spaces. */
export type ScheduleExpression =
  | { kind: "rate"; everyMs: number; expression: string }
  | { kind: "cron"; expression: string; fields: string };

export class InvalidScheduleError extends Error {
  override name = "InvalidScheduleError";
}

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const UNIT_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const FIRST_YEAR = 1970;
const LAST_YEAR = 2199;

const MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/** day-of-month: `?`, a set of days, the last day (`L`), or the weekday nearest a day (`nW`). */
type DayOfMonthRule =
  | { kind: "any" }
  | { kind: "set"; days: boolean[] }
  | { kind: "last" }
  | { kind: "nearestWeekday"; day: number };
/** day-of-week (1 = Sunday): `?`, a set of days, the last given day of the month (`nL`), or the nth (`n#k`). */
type DayOfWeekRule =
  | { kind: "any" }
  | { kind: "set"; days: boolean[] }
  | { kind: "lastOfMonth"; day: number }
  | { kind: "nth"; day: number; nth: number };

interface CronSpec {
  minutes: number[];
  hours: number[];
  months: boolean[];
  years: boolean[];
  dayOfMonth: DayOfMonthRule;
  dayOfWeek: DayOfWeekRule;
}

interface FieldInfo {
  label: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** Value of names[0]: 1 for JAN and SUN. */
  nameBase?: number;
  steps: boolean;
}

const MINUTES: FieldInfo = { label: "minutes", min: 0, max: 59, steps: true };
const HOURS: FieldInfo = { label: "hours", min: 0, max: 23, steps: true };
const DAY_OF_MONTH: FieldInfo = { label: "day-of-month", min: 1, max: 31, steps: true };
const MONTH: FieldInfo = { label: "month", min: 1, max: 12, names: MONTH_NAMES, nameBase: 1, steps: true };
// No "/" in day-of-week: AWS lists only , - * ? L # for it.
const DAY_OF_WEEK: FieldInfo = {
  label: "day-of-week",
  min: 1,
  max: 7,
  names: DAY_NAMES,
  nameBase: 1,
  steps: false,
};
const YEAR: FieldInfo = { label: "year", min: FIRST_YEAR, max: LAST_YEAR, steps: true };

function fail(field: FieldInfo, text: string, why: string): never {
  throw new InvalidScheduleError(`cron ${field.label} field "${text}" is not valid: ${why}`);
}

function parseValue(field: FieldInfo, text: string, whole: string): number {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value < field.min || value > field.max) {
      fail(field, whole, `${value} is outside ${field.min}-${field.max}`);
    }
    return value;
  }
  if (field.names) {
    const index = field.names.indexOf(text.toUpperCase());
    if (index >= 0) return index + (field.nameBase ?? 0);
    fail(field, whole, `"${text}" is neither a number nor one of ${field.names[0]}-${field.names.at(-1)}`);
  }
  fail(field, whole, `"${text}" is not a number`);
}

/** `, - * /` lists: returns the membership table indexed by value. */
function parseList(field: FieldInfo, text: string): boolean[] {
  const member: boolean[] = new Array(field.max + 1).fill(false);
  for (const item of text.split(",")) {
    if (item === "") fail(field, text, "empty list element");
    const slash = item.split("/");
    if (slash.length > 2) fail(field, text, `"${item}" has more than one "/"`);
    const [rangeText = "", stepText] = slash;
    if (stepText !== undefined && !field.steps) fail(field, text, `"/" is not allowed in ${field.label}`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) {
        fail(field, text, `step "${stepText}" must be a positive number`);
      }
      step = Number(stepText);
    }
    let start: number;
    let end: number;
    if (rangeText === "*") {
      start = field.min;
      end = field.max;
    } else {
      const dash = rangeText.split("-");
      if (dash.length > 2 || dash[0] === "") fail(field, text, `"${rangeText}" is not a value or a range`);
      start = parseValue(field, dash[0] ?? "", text);
      // "a/n" runs from a to the end of the field (AWS: 1/10 in minutes is 1, 11, 21, ...).
      end =
        dash[1] !== undefined ? parseValue(field, dash[1], text) : stepText !== undefined ? field.max : start;
    }
    // A range whose start is after its end wraps around the end of the field, as in Quartz
    // (FRI-MON, 22-2); a year range cannot wrap.
    const span = field.max - field.min + 1;
    if (end < start && field === YEAR) fail(field, text, `range ${start}-${end} runs backwards`);
    const length = end >= start ? end - start : end + span - start;
    for (let offset = 0; offset <= length; offset += step) {
      const value = ((start - field.min + offset) % span) + field.min;
      member[value] = true;
    }
  }
  return member;
}

function valuesOf(member: boolean[]): number[] {
  const values: number[] = [];
  member.forEach((on, value) => {
    if (on) values.push(value);
  });
  return values;
}

/** `?`, `#`, `L` and `W` in a field that does not allow them, named with the reason. */
function rejectSpecial(field: FieldInfo, text: string): void {
  const special =
    /[?#]/.exec(text) ??
    (text.split(/[,/-]/).some((token) => /^\d*[LW]$/i.test(token)) ? /[LW]/i.exec(text) : null);
  if (special) fail(field, text, `"${special[0]}" is not allowed in ${field.label}`);
}

function parseDayOfMonth(text: string): DayOfMonthRule {
  if (text === "?") return { kind: "any" };
  if (text === "L") return { kind: "last" };
  const weekday = /^(\d+)W$/.exec(text);
  if (weekday) return { kind: "nearestWeekday", day: parseValue(DAY_OF_MONTH, weekday[1] ?? "", text) };
  if (text.includes("#")) fail(DAY_OF_MONTH, text, `"#" is only allowed in day-of-week`);
  if (/[LW]/i.test(text)) {
    fail(DAY_OF_MONTH, text, `"L" and "W" must stand alone, as "L" or "<day>W" (e.g. 15W)`);
  }
  if (text.includes("?")) fail(DAY_OF_MONTH, text, `"?" must stand alone`);
  return { kind: "set", days: parseList(DAY_OF_MONTH, text) };
}

function parseDayOfWeek(text: string): DayOfWeekRule {
  if (text === "?") return { kind: "any" };
  // "L" alone: the last day of the week, Saturday.
  if (text === "L") return { kind: "set", days: parseList(DAY_OF_WEEK, "7") };
  if (text.includes("#")) {
    if (text.includes(",")) {
      fail(DAY_OF_WEEK, text, `with "#" the field may hold only one expression (AWS reads "3#1,6#3" as two)`);
    }
    const nth = /^([^#]+)#([^#]*)$/.exec(text);
    if (!nth) fail(DAY_OF_WEEK, text, `"#" needs one day and one position, as in 3#2`);
    if (!/^(\d+|[A-Za-z]{3})$/.test(nth[1] ?? "")) {
      fail(DAY_OF_WEEK, text, `"#" takes a single day before it, not "${nth[1]}"`);
    }
    const day = parseValue(DAY_OF_WEEK, nth[1] ?? "", text);
    if (!/^[1-5]$/.test(nth[2] ?? "")) fail(DAY_OF_WEEK, text, `position after "#" must be 1-5`);
    return { kind: "nth", day, nth: Number(nth[2]) };
  }
  const last = /^(\d+|[A-Za-z]{3})L$/.exec(text);
  if (last) return { kind: "lastOfMonth", day: parseValue(DAY_OF_WEEK, last[1] ?? "", text) };
  for (const token of text.split(/[,/-]/)) {
    if (/^\d*W$/i.test(token)) fail(DAY_OF_WEEK, text, `"W" is only allowed in day-of-month`);
    if (/^(\d+|[A-Za-z]{3})?L$/i.test(token)) {
      fail(DAY_OF_WEEK, text, `"L" must be the whole field, alone or after one day (L, 6L, FRIL)`);
    }
  }
  if (text.includes("?")) fail(DAY_OF_WEEK, text, `"?" must stand alone`);
  return { kind: "set", days: parseList(DAY_OF_WEEK, text) };
}

function compileCron(fields: readonly string[]): CronSpec {
  const [minutes = "", hours = "", dayOfMonth = "", month = "", dayOfWeek = "", year = ""] = fields;
  if ((dayOfMonth === "?") === (dayOfWeek === "?")) {
    throw new InvalidScheduleError(
      `cron needs "?" in exactly one of day-of-month and day-of-week, got "${dayOfMonth}" and "${dayOfWeek}"`,
    );
  }
  for (const [field, text] of [
    [MINUTES, minutes],
    [HOURS, hours],
    [MONTH, month],
    [YEAR, year],
  ] as const) {
    rejectSpecial(field, text);
  }
  const years = parseList(YEAR, year);
  return {
    minutes: valuesOf(parseList(MINUTES, minutes)),
    hours: valuesOf(parseList(HOURS, hours)),
    months: parseList(MONTH, month),
    years,
    dayOfMonth: parseDayOfMonth(dayOfMonth),
    dayOfWeek: parseDayOfWeek(dayOfWeek),
  };
}

const specCache = new Map<string, CronSpec>();
function specOf(fields: string): CronSpec {
  let spec = specCache.get(fields);
  if (!spec) {
    spec = compileCron(fields.split(" "));
    if (specCache.size >= 1000) specCache.clear();
    specCache.set(fields, spec);
  }
  return spec;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** 1 = Sunday ... 7 = Saturday, AWS's numbering. */
function dayOfWeekOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

/** The days of `month` that match, ascending. */
function matchingDays(spec: CronSpec, year: number, month: number): number[] {
  const length = daysInMonth(year, month);
  const rule = spec.dayOfMonth;
  if (rule.kind === "last") return [length];
  if (rule.kind === "nearestWeekday") {
    // A day the month lacks means its last day; the weekday found never leaves the month.
    const target = Math.min(rule.day, length);
    const weekday = dayOfWeekOf(year, month, target);
    if (weekday === 7) return [target === 1 ? 3 : target - 1];
    if (weekday === 1) return [target === length ? target - 2 : target + 1];
    return [target];
  }
  if (rule.kind === "set") {
    const days: number[] = [];
    for (let day = 1; day <= length; day++) if (rule.days[day]) days.push(day);
    return days;
  }
  const week = spec.dayOfWeek;
  const firstWeekday = dayOfWeekOf(year, month, 1);
  // Day of the month of the first `weekday` in it.
  const firstOf = (weekday: number) => 1 + ((weekday - firstWeekday + 7) % 7);
  if (week.kind === "lastOfMonth") {
    const first = firstOf(week.day);
    return [first + Math.floor((length - first) / 7) * 7];
  }
  if (week.kind === "nth") {
    const day = firstOf(week.day) + (week.nth - 1) * 7;
    return day <= length ? [day] : [];
  }
  if (week.kind === "set") {
    const days: number[] = [];
    for (let day = 1; day <= length; day++) {
      if (week.days[((firstWeekday - 1 + day - 1) % 7) + 1]) days.push(day);
    }
    return days;
  }
  return [];
}

/**
 * The first wall-clock minute at or after `startWall` (wall time written as a UTC epoch) whose
 * fields match, or null when none does up to the end of year 2199.
 */
function nextWallMatch(spec: CronSpec, startWall: number): number | null {
  const start = new Date(startWall);
  let year = start.getUTCFullYear();
  let month = start.getUTCMonth() + 1;
  let day = start.getUTCDate();
  let hour = start.getUTCHours();
  let minute = start.getUTCMinutes();
  if (year < FIRST_YEAR) {
    year = FIRST_YEAR;
    month = 1;
    day = 1;
    hour = 0;
    minute = 0;
  }
  for (; year <= LAST_YEAR; year++, month = 1, day = 1, hour = 0, minute = 0) {
    if (!spec.years[year]) continue;
    for (; month <= 12; month++, day = 1, hour = 0, minute = 0) {
      if (!spec.months[month]) continue;
      for (const candidate of matchingDays(spec, year, month)) {
        if (candidate < day) continue;
        const sameDay = candidate === day;
        for (const h of spec.hours) {
          if (sameDay && h < hour) continue;
          const from = sameDay && h === hour ? minute : 0;
          for (const m of spec.minutes) {
            if (m >= from) return Date.UTC(year, month - 1, candidate, h, m);
          }
        }
      }
    }
  }
  return null;
}

/** Offset from UTC (ms) of one zone at a given instant, read from Intl: never the machine's zone. */
interface Zone {
  offsetAt(instant: number): number;
}

const zones = new Map<string, Zone>();
function zoneOf(timezone: string): Zone {
  let zone = zones.get(timezone);
  if (!zone) {
    const formatter = new Intl.DateTimeFormat("en-US", { timeZone: timezone, timeZoneName: "longOffset" });
    zone = {
      offsetAt(instant) {
        const match = /GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(formatter.format(instant));
        if (!match?.[1]) return 0;
        const sign = match[1] === "-" ? -1 : 1;
        return (
          sign * (Number(match[2]) * 3_600_000 + Number(match[3]) * 60_000 + Number(match[4] ?? 0) * 1000)
        );
      },
    };
    if (zones.size >= 1000) zones.clear();
    zones.set(timezone, zone);
  }
  return zone;
}

/**
 * The earliest instant whose wall clock in `zone` reads `wall`, or null when that wall time does
 * not exist (it falls in a spring-forward gap). Taking the earliest of a repeated (fall-back) wall
 * time, and never its repetition, is what makes such a time run once.
 */
function earliestInstant(zone: Zone, wall: number): number | null {
  const before = zone.offsetAt(wall - DAY_MS);
  const after = zone.offsetAt(wall + DAY_MS);
  let best: number | null = null;
  for (const offset of before === after ? [before] : [before, after]) {
    const instant = wall - offset;
    if (zone.offsetAt(instant) === offset && (best === null || instant < best)) best = instant;
  }
  return best;
}

function wallMinuteAfter(zone: Zone, instant: number): number {
  const wall = instant + zone.offsetAt(instant);
  return Math.floor(wall / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
}

/** The span of Scheduler's year field, 1970 to 2199: no longer period can ever fire twice. */
const MAX_RATE_MS = Date.UTC(2200, 0, 1) - Date.UTC(1970, 0, 1);

/** Parses and validates an EventBridge Scheduler expression; throws InvalidScheduleError with the reason. */
export function parseSchedule(expression: string, options: { now?: Date } = {}): ScheduleExpression {
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
    const everyMs = value * UNIT_MS[unit];
    // A period longer than the years Scheduler runs schedules in (1970-2199) could never come
    // round, and would overflow the date arithmetic of every next-run computation.
    if (everyMs > MAX_RATE_MS) {
      throw new InvalidScheduleError(
        `rate "${expression}" is longer than Scheduler's 1970-2199 range of years`,
      );
    }
    return { kind: "rate", everyMs, expression };
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
  const bad = fields.find((field) => !/^[0-9A-Za-z*?,/#-]+$/.test(field));
  if (bad !== undefined) {
    throw new InvalidScheduleError(`cron field "${bad}" is not valid in "${expression}"`);
  }
  const joined = fields.join(" ");
  const spec = specOf(joined);
  if (nextWallMatch(spec, Date.UTC(FIRST_YEAR, 0, 1)) === null) {
    throw new InvalidScheduleError(`cron "${expression}" never fires: no date matches all its fields`);
  }
  // Zone-independent check: wall clocks run from UTC-12 to UTC+14, so nothing matching after
  // "now - 12 h" read as UTC means no zone will ever run it again.
  const now = (options.now ?? new Date()).getTime();
  if (nextWallMatch(spec, now - 12 * 3_600_000) === null) {
    throw new InvalidScheduleError(
      `cron "${expression}" never fires after ${new Date(now).toISOString().slice(0, 10)}: every date it names has passed`,
    );
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

// Modern names that ICU (and so Intl.supportedValuesOf) still lists under an older alias.
const MODERN_NAMES = [
  "UTC",
  "Etc/UTC",
  "Asia/Kolkata",
  "Europe/Kyiv",
  "Asia/Kathmandu",
  "Asia/Yangon",
  "Asia/Ho_Chi_Minh",
  "America/Nuuk",
  "Atlantic/Faroe",
  "Pacific/Kanton",
  "Pacific/Chuuk",
  "Pacific/Pohnpei",
  "America/Argentina/Buenos_Aires",
  "America/Indiana/Indianapolis",
  "America/Kentucky/Louisville",
];
let properCase: Map<string, string> | undefined;

/**
 * The timezone name to hand to Scheduler: the name exactly as written when it is a valid IANA
 * name (never rewritten to an alias such as Asia/Calcutta), with only its letter case repaired
 * when it differs from a known name only in case ("america/chicago" -> "America/Chicago").
 */
export function timezoneAsWritten(timezone: string): string {
  if (!properCase) {
    properCase = new Map();
    for (const name of [...Intl.supportedValuesOf("timeZone"), ...MODERN_NAMES]) {
      properCase.set(name.toLowerCase(), name);
    }
  }
  return properCase.get(timezone.toLowerCase()) ?? timezone;
}

/**
 * The first run strictly after `after`. Rate schedules are anchored at `anchor` (the time the
 * schedule was created), as EventBridge Scheduler anchors them at creation.
 *
 * Daylight saving follows Scheduler's documented rule (Scheduler User Guide, "Schedule types",
 * daylight saving time: https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html,
 * and AWS's knowledge-center article https://repost.aws/knowledge-center/eventbridge-scheduler-adjust-dst):
 * "When the time shifts forward in Spring, your schedule invocation gets skipped if the cron
 * expression falls on a non-existent date and time. When the time shifts back in the Fall, your
 * schedule runs only once and doesn't repeat its invocation." So a wall time in the gap is skipped
 * (not moved to after it), and a repeated wall time runs at its first occurrence only.
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
  const spec = specOf(schedule.fields);
  const zone = zoneOf(timezone);
  const afterMs = after.getTime();
  let wall = wallMinuteAfter(zone, afterMs);
  // Each pass either returns or moves past one matching wall minute that is in a gap or repeated:
  // a few hundred passes at most around a transition.
  for (let pass = 0; pass < 100_000; pass++) {
    const match = nextWallMatch(spec, wall);
    if (match === null) return null;
    const instant = earliestInstant(zone, match);
    if (instant !== null && instant > afterMs) return new Date(instant);
    wall = match + MINUTE_MS;
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

/** A nominal period, shown by the CLI's stall report: the rate period, or the gap between the next two cron runs. */
export function nominalPeriodMs(schedule: ScheduleExpression, timezone: string, from: Date): number | null {
  if (schedule.kind === "rate") return schedule.everyMs;
  const [first, second] = nextRuns(schedule, timezone, from, 2);
  return first && second ? second.getTime() - first.getTime() : null;
}
