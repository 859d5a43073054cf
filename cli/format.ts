import { CliError } from "./errors.ts";

/** Text helpers shared by the commands: times, durations, percentages, truncation. */

const UNITS_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** `90s`, `15m`, `24h`, `7d`, `2w` (or a sum such as `1h30m`) to milliseconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim().toLowerCase();
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)\s*([smhdw])/g)];
  const consumed = parts.map((part) => part[0]).join("");
  if (parts.length === 0 || consumed.replaceAll(/\s/g, "") !== trimmed.replaceAll(/\s/g, "")) {
    throw new CliError(`"${text}" is not a duration: use e.g. 30m, 24h, 7d or 1h30m`, 2);
  }
  return parts.reduce((sum, part) => sum + Number(part[1]) * (UNITS_MS[part[2] as string] ?? 0), 0);
}

/** A `--since` value: a duration back from now, or an ISO instant / date. */
export function parseSince(text: string, now: Date): Date {
  if (/^\d{4}-\d{2}-\d{2}/.test(text.trim())) {
    const at = new Date(text.trim());
    if (Number.isNaN(at.getTime())) throw new CliError(`"${text}" is not a valid date or time`, 2);
    return at;
  }
  return new Date(now.getTime() - parseDuration(text));
}

export function parsePositiveInteger(text: string, what: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new CliError(`${what} must be a positive whole number`, 2);
  return value;
}

/** `2026-11-21 14:05:00Z`: UTC, compact, sortable. */
export function formatUtc(iso: string | undefined): string {
  if (!iso) return "-";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return `${at.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

/** `2026-11-21 08:05:00 CST` in the monitor's zone. */
export function formatInZone(at: Date, timezone: string): string {
  // The Swedish locale writes dates and times in ISO order, which sorts and reads unambiguously.
  const local = at.toLocaleString("sv-SE", { timeZone: timezone, hourCycle: "h23" });
  const zone = new Intl.DateTimeFormat("en-US", { timeZone: timezone, timeZoneName: "short" })
    .formatToParts(at)
    .find((part) => part.type === "timeZoneName")?.value;
  return `${local} ${zone ?? timezone}`;
}

/** `42s`, `5m`, `3h`, `2d`: the largest whole unit. */
export function formatSpan(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 60_000) return `${Math.round(abs / 1000)}s`;
  if (abs < 3_600_000) return `${Math.floor(abs / 60_000)}m`;
  if (abs < 86_400_000) return `${Math.floor(abs / 3_600_000)}h`;
  return `${Math.floor(abs / 86_400_000)}d`;
}

/** `5m ago` (or `in 5m` for a time ahead of now). */
export function formatAge(iso: string | undefined, now: Date): string {
  if (!iso) return "never";
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const delta = now.getTime() - at;
  return delta >= 0 ? `${formatSpan(delta)} ago` : `in ${formatSpan(delta)}`;
}

export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "-";
  return ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function formatPercent(ratio: number | undefined): string {
  return ratio === undefined ? "-" : `${(ratio * 100).toFixed(1)}%`;
}

/** One line, at most `max` characters: table cells must not wrap. */
export function truncate(text: string | undefined, max: number): string {
  if (!text) return "";
  const line = text.replaceAll(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}
