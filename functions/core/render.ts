import type { Acknowledgement, MonitorStatus, NotificationType } from "./schemas.ts";
import { bodySafe, escapeHtml, headerSafe } from "./text.ts";

export interface NotificationContent {
  type: NotificationType;
  monitorId: string;
  name: string;
  state: MonitorStatus;
  /** The tick's scheduledTime (ISO UTC). */
  at: string;
  timezone: string;
  check: string;
  message: string;
  /**
   * Who acknowledged the incident (REMINDER, RECOVERED): `null` says nobody did; undefined leaves
   * the line out (ALERT: a new incident is never acknowledged).
   */
  acknowledgement?: Acknowledgement | null | undefined;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

const SUBJECT_TAG: Record<NotificationType, string> = {
  alert: "[Monitor ALERT]",
  reminder: "[Monitor REMINDER]",
  recovery: "[Monitor RECOVERED]",
};

const HEADLINE: Record<NotificationType, string> = {
  alert: "A monitor has started failing.",
  reminder: "A monitor is still failing.",
  recovery: "A monitor has recovered.",
};

function inTimezone(at: string, timezone: string): string {
  try {
    return new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      dateStyle: "medium",
      timeStyle: "long",
    }).format(new Date(at));
  } catch {
    return "(invalid timezone)";
  }
}

/** A part of a mail after its fields: a labelled block kept as written, or a plain paragraph. */
export interface EmailSection {
  label?: string;
  body: string;
}

/**
 * The text and HTML parts every Watchkeeper mail shares: a headline, a table of fields, sections,
 * and the signature. Values are escaped in the HTML part; callers make them body-safe first.
 */
export function renderEmailBody(
  headline: string,
  fields: ReadonlyArray<readonly [string, string]>,
  sections: readonly EmailSection[],
): { text: string; html: string } {
  const text = [
    headline,
    "",
    ...fields.map(([label, value]) => `${label}: ${value}`),
    "",
    ...sections.flatMap((section) => [...(section.label ? [section.label] : []), section.body, ""]),
    "-- Watchkeeper",
  ].join("\n");
  const rows = fields
    .map(
      ([label, value]) => `<tr><th align="left">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`,
    )
    .join("");
  const html = [
    "<!doctype html><html><body>",
    `<p>${escapeHtml(headline)}</p>`,
    `<table>${rows}</table>`,
    ...sections.map((section) =>
      section.label
        ? `<p>${escapeHtml(section.label)}</p><pre style="white-space:pre-wrap">${escapeHtml(section.body)}</pre>`
        : `<p>${escapeHtml(section.body)}</p>`,
    ),
    "<p>-- Watchkeeper</p></body></html>",
  ].join("");
  return { text, html };
}

/**
 * The three notification emails. Subjects are exactly `[Monitor ALERT] <name>` etc. Every value
 * that comes from people or checks is made header-safe (subject) or HTML-escaped (HTML part).
 */
export function renderNotification(content: NotificationContent): RenderedEmail {
  const name = headerSafe(content.name);
  const subject = `${SUBJECT_TAG[content.type]} ${name}`;
  const message = bodySafe(content.message);
  const utc = new Date(content.at).toISOString();
  const local = `${inTimezone(content.at, content.timezone)} (${content.timezone})`;
  const fields: Array<[string, string]> = [
    ["Monitor", `${name} (${content.monitorId})`],
    ["Notification", content.type.toUpperCase()],
    ["State", content.state.toUpperCase()],
    ["Check", content.check],
    ["Time (UTC)", utc],
    ["Time (local)", local],
  ];
  if (content.acknowledgement !== undefined) {
    fields.push(["Acknowledged", describeAcknowledgement(content.acknowledgement, content.at)]);
  }
  const { text, html } = renderEmailBody(HEADLINE[content.type], fields, [
    { label: "Message from the check:", body: message },
  ]);
  return { subject, text, html };
}

/**
 * One line about an acknowledgement for a mail sent at `at`: `alice@example.org at 2026-…Z, until
 * 2026-…Z: "looking into it"`, or that nobody acknowledged. Values are made header-safe (one line).
 */
export function describeAcknowledgement(ack: Acknowledgement | null, at: string): string {
  if (!ack) return "nobody";
  const expired = ack.until !== undefined && !(Date.parse(at) < Date.parse(ack.until));
  const until = ack.until === undefined ? "" : `, ${expired ? "expired" : "until"} ${ack.until}`;
  const note = ack.note ? `: "${headerSafe(ack.note, 300)}"` : "";
  return `${headerSafe(ack.by, 128)} at ${ack.at}${until}${note}`;
}

/** "2 h 5 min", "32 min", "45 s": how late a notification is, for people. */
export function describeDelay(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return `${Math.max(1, Math.round(ms / 1000))} s`;
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

/**
 * Marks a notification that reaches people late (a mail-service outage held it back, or nobody was
 * listed when it was decided): the first
 * line says so, when it was decided and by how long it is late, so nobody reads a stale ALERT as
 * news. The subject stays as it was, so that threads and filters keep working.
 */
export function withDeliveryDelay(
  email: RenderedEmail,
  delay: { type: NotificationType; decidedAt: string; delayMs: number; reason: string },
): RenderedEmail {
  const note =
    `Delayed: this ${delay.type === "recovery" ? "RECOVERED" : delay.type.toUpperCase()} was decided at ` +
    `${new Date(delay.decidedAt).toISOString()} and is delivered ${describeDelay(delay.delayMs)} late ` +
    `(${delay.reason}).`;
  return {
    subject: email.subject,
    text: `${note}\n\n${email.text}`,
    html: email.html.replace("<body>", `<body><p><strong>${escapeHtml(note)}</strong></p>`),
  };
}
