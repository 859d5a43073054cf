/**
 * Date patterns in S3 keys and prefixes (`exports/{yyyy}/{MM}/{dd}/orders.csv`): the tokens are
 * filled with the calendar date and hour of the tick's scheduled time in the monitor's timezone,
 * so "today's file" is today where the people who wait for it live, not in UTC.
 */

export const DATE_TOKENS = ["yyyy", "MM", "dd", "HH"] as const;
export type DateToken = (typeof DATE_TOKENS)[number];
export type CalendarTime = Record<DateToken, string>;

const TOKEN = /\{([^{}]*)\}/g;

function isDateToken(token: string): token is DateToken {
  return (DATE_TOKENS as readonly string[]).includes(token);
}

/** What is wrong with a pattern (an unknown token, a stray brace), or undefined when it is fine. */
export function datePatternProblem(pattern: string): string | undefined {
  for (const match of pattern.matchAll(TOKEN)) {
    const token = match[1] ?? "";
    if (!isDateToken(token)) {
      return `has an unknown token {${token.slice(0, 20)}}: the tokens are {yyyy}, {MM}, {dd} and {HH}`;
    }
  }
  if (/[{}]/.test(pattern.replace(TOKEN, ""))) {
    return "has a { or } outside a token: the tokens are {yyyy}, {MM}, {dd} and {HH}";
  }
  return undefined;
}

export function hasDateTokens(pattern: string): boolean {
  return [...pattern.matchAll(TOKEN)].length > 0;
}

const pad = (value: number, width = 2) => String(value).padStart(width, "0");

/**
 * The wall-clock date and hour of `instant` in `timeZone` (IANA), with the date moved by
 * `dayOffset` calendar days (-1: yesterday's date; the hour stays). Throws a RangeError naming the
 * zone when it is not one.
 */
export function calendarTime(instant: Date, timeZone: string, dayOffset = 0): CalendarTime {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      hourCycle: "h23",
    }).formatToParts(instant);
  } catch (error) {
    throw new RangeError(`timezone ${JSON.stringify(timeZone)} is not an IANA timezone`, { cause: error });
  }
  const part = (type: Intl.DateTimeFormatPartTypes) =>
    Number(parts.find((candidate) => candidate.type === type)?.value);
  // Calendar arithmetic on the local date alone (at UTC midnight there is no DST to trip over).
  const date = new Date(Date.UTC(part("year"), part("month") - 1, part("day") + dayOffset));
  return {
    yyyy: pad(date.getUTCFullYear(), 4),
    MM: pad(date.getUTCMonth() + 1),
    dd: pad(date.getUTCDate()),
    HH: pad(part("hour") % 24),
  };
}

/** The pattern with every token replaced (validate it with datePatternProblem first). */
export function fillDatePattern(pattern: string, time: CalendarTime): string {
  return pattern.replace(TOKEN, (whole, token: string) => (isDateToken(token) ? time[token] : whole));
}
