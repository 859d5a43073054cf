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
  /** The check's message of this tick (for RECOVERED: the OK message). */
  message: string;
  /**
   * Who acknowledged the incident (REMINDER, RECOVERED): `null` says nobody did; undefined leaves
   * the line out (ALERT: a new incident is never acknowledged).
   */
  acknowledgement?: Acknowledgement | null | undefined;
  /** When the incident began (its ALERT's logical time, ISO UTC); absent: `at`. */
  failingSince?: string | undefined;
  /**
   * The incident was adopted (recorded only from an upgrade on): `failingSince` is when it was
   * first seen, so durations are lower bounds and the mail says "at least".
   */
  failingSinceIsLowerBound?: boolean | undefined;
  /** REMINDER: which reminder of the incident this is (1 = the first). */
  reminderNumber?: number | undefined;
  /** The monitor's reminder cadence (0: none), said in ALERT and REMINDER. */
  reminderFrequencyMinutes?: number | undefined;
  /** RECOVERED: the incident's last failure message, to say what it was. */
  lastFailureMessage?: string | undefined;
  /** The monitor's `runbookUrl` (validated config): a link when present. */
  runbookUrl?: string | undefined;
  /**
   * Slots for links that need per-recipient delivery (issue 14: signed ack links, the dashboard),
   * filled later; nothing is rendered for them while absent. Only http(s) URLs are rendered.
   */
  ackUrl?: string | undefined;
  dashboardUrl?: string | undefined;
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

/** The headline's colour by type (HTML only): red while failing, green once recovered. */
const ACCENT: Record<NotificationType, string> = {
  alert: "#b42318",
  reminder: "#b42318",
  recovery: "#067647",
};

/** `Nov 21, 2026, 8:05:00 AM CST`: a date and time in `timezone`, or undefined for a bad zone. */
function inTimezone(at: string, timezone: string, style: "long" | "short" = "long"): string | undefined {
  try {
    return new Intl.DateTimeFormat(
      "en-US",
      style === "long"
        ? { timeZone: timezone, dateStyle: "medium", timeStyle: "long" }
        : { timeZone: timezone, hour: "numeric", minute: "2-digit", timeZoneName: "short" },
    ).format(new Date(at));
  } catch {
    return undefined;
  }
}

/**
 * An instant for people, local time first, UTC after:
 * `Nov 21, 2026, 8:05:00 AM CST (America/Chicago) · 2026-11-21T14:05:00.000Z`.
 */
export function describeInstant(at: string, timezone: string): string {
  const utc = new Date(at).toISOString();
  const local = inTimezone(at, timezone);
  return local === undefined ? `(invalid timezone ${timezone}) · ${utc}` : `${local} (${timezone}) · ${utc}`;
}

/** "3 d 4 h", "2 h 5 min", "32 min", "less than a minute": how long an incident lasted. */
export function describeDuration(ms: number): string {
  const minutes = Math.floor(Math.max(0, ms) / 60_000);
  if (minutes < 1) return "less than a minute";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`;
}

/** Only http(s) URLs become links (a slot filled later must not smuggle in `javascript:`). */
function linkable(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const flat = headerSafe(url, 2000);
  return /^https?:\/\/[^\s]+$/i.test(flat) ? flat : undefined;
}

/** The first line of a message, flattened and capped for a headline. */
const HEADLINE_MESSAGE_CHARS = 200;

/** A part of a mail after its fields: a labelled block kept as written, or a plain paragraph. */
export interface EmailSection {
  label?: string;
  body: string;
}

/** What a mail may carry besides headline, fields and sections. */
export interface EmailExtras {
  /** A paragraph right under the headline. */
  lead?: string;
  /** Links under the lead, in order: `Label: url`, an anchor in HTML. */
  links?: ReadonlyArray<readonly [string, string]>;
  /** The hidden HTML preheader (the inbox preview); absent: the headline. */
  preheader?: string;
  /** The headline's colour in HTML. */
  accent?: string;
}

const FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
/** Where withDeliveryDelay puts its note: first in the readable column, after the preheader. */
const NOTICE_SLOT = "<!--watchkeeper:notices-->";

/**
 * The text and HTML parts every Watchkeeper mail shares: a headline, an optional lead and links,
 * key/value fields, sections, and the signature. The HTML is one inline-styled column (at most
 * 600 px, its padding included; readable on a 390 px phone), a table only for the key/value rows, every value escaped;
 * callers make values body-safe first. Text and HTML carry the same words in the same order.
 */
export function renderEmailBody(
  headline: string,
  fields: ReadonlyArray<readonly [string, string]>,
  sections: readonly EmailSection[],
  extras: EmailExtras = {},
): { text: string; html: string } {
  const links = extras.links ?? [];
  const text = [
    headline,
    "",
    ...(extras.lead ? [extras.lead, ""] : []),
    ...(links.length > 0 ? [...links.map(([label, url]) => `${label}: ${url}`), ""] : []),
    ...fields.map(([label, value]) => `${label}: ${value}`),
    "",
    ...sections.flatMap((section) => [...(section.label ? [section.label] : []), section.body, ""]),
    "-- Watchkeeper",
  ].join("\n");
  // Styles shared by the rows sit on the table; each cell says only its own (mails stay small:
  // an undelivered one is stored in the state item).
  const line = "border-top:1px solid #e4e7ec";
  const rows = fields
    .map(
      ([label, value]) =>
        `<tr><th align="left" valign="top" style="padding:6px 12px 6px 0;${line};width:34%;color:#475467">${escapeHtml(label)}</th>` +
        `<td valign="top" style="padding:6px 0;${line}">${escapeHtml(value)}</td></tr>`,
    )
    .join("");
  const paragraph = "margin:0 0 16px";
  const html = [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    "</head>",
    `<body style="margin:0;padding:0;background:#f2f4f7">`,
    // The inbox preview: clients show the first text of a mail, and this is it, hidden.
    `<div style="display:none;max-height:0;max-width:0;overflow:hidden;opacity:0">${escapeHtml(extras.preheader ?? headline)}</div>`,
    `<div style="max-width:600px;margin:0 auto;padding:16px;background:#ffffff;${FONT};font-size:16px;line-height:1.5;color:#101828;overflow-wrap:anywhere;word-wrap:break-word;box-sizing:border-box">`,
    NOTICE_SLOT,
    `<p style="margin:0 0 12px;font-size:20px;line-height:1.3;font-weight:700;color:${extras.accent ?? "#101828"}">${escapeHtml(headline)}</p>`,
    ...(extras.lead ? [`<p style="${paragraph}">${escapeHtml(extras.lead)}</p>`] : []),
    ...(links.length > 0
      ? [
          `<p style="${paragraph}">${links
            .map(
              ([label, url]) =>
                `${escapeHtml(label)}: <a href="${escapeHtml(url)}" style="color:#175cd3">${escapeHtml(url)}</a>`,
            )
            .join("<br>")}</p>`,
        ]
      : []),
    `<table role="presentation" style="width:100%;border-collapse:collapse;margin:0 0 16px;font-size:14px">${rows}</table>`,
    ...sections.map((section) =>
      section.label
        ? `<p style="margin:0 0 4px;font-weight:600">${escapeHtml(section.label)}</p>` +
          `<pre style="${paragraph};white-space:pre-wrap;font-size:14px;background:#f2f4f7;padding:8px">${escapeHtml(section.body)}</pre>`
        : `<p style="${paragraph}">${escapeHtml(section.body)}</p>`,
    ),
    `<p style="margin:0;color:#475467;font-size:14px">-- Watchkeeper</p>`,
    "</div></body></html>",
  ].join("");
  return { text, html };
}

/**
 * The three notification emails. Subjects are exactly `[Monitor ALERT] <name>` etc. The first line
 * (the inbox preview, and the HTML preheader) is what is wrong in the check's own words and for how
 * long; then the links (ack, dashboard, runbook: each when present), then the times, local first.
 * Every value that comes from people or checks is made header-safe (subject, one-line fields) or
 * HTML-escaped (HTML part).
 */
export function renderNotification(content: NotificationContent): RenderedEmail {
  const name = headerSafe(content.name);
  const subject = `${SUBJECT_TAG[content.type]} ${name}`;
  const message = bodySafe(content.message);
  const oneLine = headerSafe(message, HEADLINE_MESSAGE_CHARS) || "(the check gave no message)";
  // A hand-edited, unreadable start counts as this tick's rather than breaking the mail.
  const since =
    content.failingSince !== undefined && Number.isFinite(Date.parse(content.failingSince))
      ? content.failingSince
      : content.at;
  const atLeast = content.failingSinceIsLowerBound ? "at least " : "";
  const duration = `${atLeast}${describeDuration(Date.parse(content.at) - Date.parse(since))}`;
  const sinceShort = inTimezone(since, content.timezone, "short") ?? new Date(since).toISOString();
  const headline =
    content.type === "alert"
      ? `Failing since ${sinceShort}: ${oneLine}`
      : content.type === "reminder"
        ? `Still failing after ${duration}: ${oneLine}`
        : `Recovered after ${duration}: ${oneLine}`;

  const cadence = content.reminderFrequencyMinutes;
  const reminders =
    cadence === undefined
      ? ""
      : cadence > 0
        ? ` Reminders every ${describeDuration(cadence * 60_000)} until it recovers or someone acknowledges it.`
        : " No reminders are configured.";
  const lead =
    content.type === "alert"
      ? `${name} (${content.monitorId}) started failing.${reminders}`
      : content.type === "reminder"
        ? `${name} (${content.monitorId}) has been failing for ${duration}` +
          (content.reminderNumber !== undefined
            ? `. This is reminder ${content.reminderNumber} (${content.reminderNumber - 1} sent before it).`
            : ".") +
          reminders
        : `${name} (${content.monitorId}) is healthy again after an outage of ${duration}.`;

  const links: Array<[string, string]> = [];
  const ackUrl = content.type === "recovery" ? undefined : linkable(content.ackUrl);
  if (ackUrl) links.push(["Acknowledge", ackUrl]);
  const dashboardUrl = linkable(content.dashboardUrl);
  if (dashboardUrl) links.push(["Dashboard", dashboardUrl]);
  const runbookUrl = linkable(content.runbookUrl);
  if (runbookUrl) links.push(["Runbook", runbookUrl]);

  // Local time first, UTC after. An ALERT's check is when it started failing: one line says both.
  const fields: Array<[string, string]> = [
    [
      content.type === "recovery" ? "Failing from" : "Failing since",
      describeInstant(since, content.timezone),
    ],
  ];
  if (content.type !== "alert" || since !== content.at) {
    fields.push([
      content.type === "recovery" ? "Recovered at" : "Checked at",
      describeInstant(content.at, content.timezone),
    ]);
  }
  if (content.type === "recovery") fields.push(["Outage", duration]);
  fields.push(["Monitor", `${name} (${content.monitorId})`], ["Check", headerSafe(content.check, 64)]);
  if (content.acknowledgement !== undefined) {
    fields.push(["Acknowledged", describeAcknowledgement(content.acknowledgement, content.at)]);
  }
  if (content.type === "recovery" && content.lastFailureMessage !== undefined) {
    fields.push(["Last failure", headerSafe(bodySafe(content.lastFailureMessage), 300)]);
  }
  // The whole message when the headline could not hold it (several lines, or cut).
  const sections: EmailSection[] =
    oneLine === message ? [] : [{ label: "Message from the check:", body: message }];
  const { text, html } = renderEmailBody(headline, fields, sections, {
    lead,
    links,
    preheader: headline,
    accent: ACCENT[content.type],
  });
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
    // In the readable column of today's layout; after `<body>` in mails rendered before it.
    html: email.html.includes(NOTICE_SLOT)
      ? email.html.replace(
          NOTICE_SLOT,
          `<p style="margin:0 0 16px"><strong>${escapeHtml(note)}</strong></p>${NOTICE_SLOT}`,
        )
      : email.html.replace("<body>", `<body><p><strong>${escapeHtml(note)}</strong></p>`),
  };
}
