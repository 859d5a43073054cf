import { type RenderedEmail, renderEmailBody } from "./render.ts";
import { bodySafe, headerSafe, truncateMessage } from "./text.ts";

export interface ScheduleProblemContent {
  monitorId: string;
  name: string;
  /** Why the monitor cannot be scheduled (schedule-sync's reason, or Scheduler's). */
  reason: string;
  /** The schedule and timezone attributes as written, for the reader to compare. */
  schedule?: string;
  timezone?: string;
  /** True: the schedule of the previous, valid config keeps running; false: there is none. */
  previousSchedule?: boolean;
}

/**
 * The one email a monitor's owners get when its schedule cannot be created or updated: the check
 * does not run (or keeps its previous schedule) until the config item is fixed. Subject
 * `[Monitor UNSCHEDULABLE] <name>`; people's values are header-safe in the subject and escaped in HTML.
 */
export function renderScheduleProblem(content: ScheduleProblemContent): RenderedEmail {
  const name = headerSafe(content.name);
  const reason = bodySafe(truncateMessage(content.reason));
  const headline = "A monitor cannot be scheduled: its check does not run on the schedule you wrote.";
  const fields: Array<[string, string]> = [
    ["Monitor", `${name} (${content.monitorId})`],
    ...(content.schedule !== undefined
      ? [["Schedule", headerSafe(content.schedule)] as [string, string]]
      : []),
    ...(content.timezone !== undefined
      ? [["Timezone", headerSafe(content.timezone)] as [string, string]]
      : []),
  ];
  const meanwhile =
    content.previousSchedule === true
      ? "Until then the schedule of its previous, valid config keeps running."
      : content.previousSchedule === false
        ? "Until then it has no schedule: its check never runs."
        : "If the monitor had a valid schedule before this edit, that schedule keeps running meanwhile.";
  const advice = `Fix the schedule or timezone attribute of the monitor's config item; Watchkeeper applies it within seconds. ${meanwhile}`;
  const { text, html } = renderEmailBody(headline, fields, [
    { label: "Why:", body: reason },
    { body: advice },
  ]);
  return { subject: `[Monitor UNSCHEDULABLE] ${name}`, text, html };
}
