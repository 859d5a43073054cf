import { nextRun, parseSchedule } from "#core/schedule.ts";
import type { ConfigProblem, MonitorConfig } from "#core/schemas.ts";
import type { Item } from "./monitors-table.ts";

/** What the CLI knows of one monitor, for judging its schedule. */
export interface ScheduledMonitor {
  /** The config item as stored. */
  raw: Item;
  config: MonitorConfig;
  problems: ConfigProblem[];
  state: Item | undefined;
}

/**
 * Why the monitor's config item cannot be scheduled, or undefined when it can: schedule-sync's
 * recorded `scheduleError` first (Scheduler may refuse what we accept), else an invalid `schedule`
 * or `timezone` attribute, else a cron expression with no run left. Such a monitor has no next
 * run, whatever the defaults the orchestrator's lenient parse would put in its place.
 */
export function scheduleProblem(monitor: ScheduledMonitor, now: Date): string | undefined {
  if (typeof monitor.state?.scheduleError === "string") return monitor.state.scheduleError;
  const bad = monitor.problems.find(
    (problem) => problem.attribute === "schedule" || problem.attribute === "timezone",
  );
  if (bad) return `${bad.attribute} ${bad.message}`;
  try {
    const schedule = parseSchedule(monitor.config.schedule, { now });
    if (nextRun(schedule, monitor.config.timezone, now) === null) {
      return `schedule "${monitor.config.schedule}" never fires after ${now.toISOString().slice(0, 10)} in ${monitor.config.timezone}`;
    }
  } catch (error) {
    return `schedule ${(error as Error).message}`;
  }
  return undefined;
}

/** The schedule as the person wrote it (the default only when they wrote none). */
export function writtenSchedule(monitor: Pick<ScheduledMonitor, "raw" | "config">): string {
  return typeof monitor.raw.schedule === "string" ? monitor.raw.schedule : monitor.config.schedule;
}

/** The timezone as the person wrote it (the default only when they wrote none). */
export function writtenTimezone(monitor: Pick<ScheduledMonitor, "raw" | "config">): string {
  return typeof monitor.raw.timezone === "string" ? monitor.raw.timezone : monitor.config.timezone;
}
