import { createHash, createHmac } from "node:crypto";
import type { ChannelMessage } from "./channels.ts";
import { PermanentDeliveryError } from "./ports.ts";
import { describeAcknowledgement, describeDuration, describeInstant } from "./render.ts";
import { bodySafe, headerSafe } from "./text.ts";

/**
 * What each channel kind sends (issue 15): pure functions from a ChannelMessage (already redacted
 * by the engine) to the body its receiver documents. No I/O: functions/adapters/channel-senders.ts
 * resolves the secrets, sends, and maps the answers.
 *
 * - Slack incoming webhook: Block Kit (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks).
 * - Microsoft Teams Workflows webhook: a `message` with one Adaptive Card 1.4 attachment.
 * - PagerDuty Events API v2: `trigger` / `resolve`, one dedup_key per incident.
 * - Generic webhook: the versioned JSON body of docs/channels/webhook.md, signed per Standard Webhooks.
 * - Amazon SNS: Subject + Message + MessageAttributes.
 */

// ---------------------------------------------------------------------------------------------
// Shared words

/** Only http(s) URLs become links or buttons (a slot filled later must not smuggle in `javascript:`). */
function linkable(url: string | undefined, maxLength = 3000): string | undefined {
  if (url === undefined || url.length > maxLength) return undefined;
  return /^https?:\/\/[^\s]+$/i.test(url) ? url : undefined;
}

/** The links of a message that can be shown, with their labels, in a fixed order. */
export function channelLinks(message: ChannelMessage, maxLength = 3000): [label: string, url: string][] {
  const links: [string, string | undefined][] = [
    ["Acknowledge", linkable(message.links.ack, maxLength)],
    ["Dashboard", linkable(message.links.dashboard, maxLength)],
    ["Runbook", linkable(message.links.runbook, maxLength)],
  ];
  // Nothing to acknowledge once it recovered.
  return links.filter(
    (link): link is [string, string] =>
      link[1] !== undefined && !(message.type === "recovery" && link[0] === "Acknowledge"),
  );
}

/** One line saying what happened: `ALERT: API health is failing`. */
export function channelHeadline(message: ChannelMessage): string {
  const name = headerSafe(message.name, 120);
  const duration = message.durationMs === undefined ? undefined : describeDuration(message.durationMs);
  switch (message.type) {
    case "alert":
      return `ALERT: ${name} is failing`;
    case "reminder":
      return `REMINDER${message.reminderNumber ? ` ${message.reminderNumber}` : ""}: ${name} is still failing${duration ? ` (for ${duration})` : ""}`;
    case "recovery":
      return `RECOVERED: ${name} is back${duration ? ` (down ${duration})` : ""}`;
  }
}

/** The facts every kind shows, label and value, one line each. */
export function channelFacts(message: ChannelMessage): [label: string, value: string][] {
  const facts: [string, string][] = [["Monitor", `${headerSafe(message.name, 200)} (${message.monitorId})`]];
  if (message.type === "recovery") {
    if (message.durationMs !== undefined) facts.push(["Outage lasted", describeDuration(message.durationMs)]);
    facts.push(["Recovered at", describeInstant(message.tickTime, message.timezone)]);
  } else {
    facts.push(["Failing since", describeInstant(message.incident, message.timezone)]);
    if (message.durationMs !== undefined) facts.push(["Failing for", describeDuration(message.durationMs)]);
  }
  if (message.type === "reminder" && message.reminderNumber !== undefined) {
    facts.push(["Reminder", String(message.reminderNumber)]);
  }
  if (message.type !== "alert" && message.acknowledgement !== undefined) {
    facts.push(["Acknowledged by", describeAcknowledgement(message.acknowledgement, message.tickTime)]);
  }
  return facts;
}

/** The check's words (for a recovery, what it had been failing with), multi-line, capped. */
export function channelDetails(message: ChannelMessage): string {
  const text =
    message.type === "recovery"
      ? message.lastFailureMessage
        ? `Now: ${message.message}\nIt was failing with: ${message.lastFailureMessage}`
        : message.message
      : message.message;
  return bodySafe(text).trim() || "(no message)";
}

/** Cuts to `max` characters with an ellipsis, never inside a surrogate pair or an `&xx;` escape. */
function cap(text: string, max: number, escaped = false): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max - 1);
  const code = cut.charCodeAt(cut.length - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut = cut.slice(0, -1);
  if (escaped) cut = cut.replace(/&[a-z]{0,4}$/, "");
  return `${cut}…`;
}

/** A stable identity of one delivery to one channel: the same on every retry of it. */
export function deliveryKey(channelName: string, message: ChannelMessage): string {
  return createHash("sha256")
    .update([channelName, message.monitorId, message.incident, message.type, message.tickTime].join("\n"))
    .digest("base64url")
    .slice(0, 32);
}

// ---------------------------------------------------------------------------------------------
// Slack

/** Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks). */
export const SLACK_LIMITS = {
  headerText: 150,
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  blocks: 50,
  buttonUrl: 3000,
  fallbackText: 3000,
} as const;

/** Slack mrkdwn's three control characters (https://docs.slack.dev/messaging/formatting-message-text#escaping). */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export interface SlackMessage {
  text: string;
  blocks: Record<string, unknown>[];
}

/** An incoming-webhook message: header, facts, the check's words, link buttons, a context line. */
export function slackPayload(message: ChannelMessage): SlackMessage {
  const headline = channelHeadline(message);
  const details = channelDetails(message);
  const blocks: Record<string, unknown>[] = [
    // plain_text is shown as written: no escaping, only the length limit.
    {
      type: "header",
      text: { type: "plain_text", text: cap(headline, SLACK_LIMITS.headerText), emoji: false },
    },
    {
      type: "section",
      fields: channelFacts(message)
        .slice(0, SLACK_LIMITS.fields)
        .map(([label, value]) => ({
          type: "mrkdwn",
          text: cap(`*${label}*\n${escapeSlack(value)}`, SLACK_LIMITS.fieldText, true),
        })),
    },
    {
      type: "section",
      text: { type: "mrkdwn", text: cap(escapeSlack(details), SLACK_LIMITS.sectionText, true) },
    },
  ];
  const links = channelLinks(message, SLACK_LIMITS.buttonUrl);
  if (links.length > 0) {
    blocks.push({
      type: "actions",
      elements: links.map(([label, url]) => ({
        type: "button",
        text: { type: "plain_text", text: label },
        url,
        action_id: `watchkeeper-${label.toLowerCase()}`,
        ...(label === "Acknowledge" ? { style: "primary" } : {}),
      })),
    });
  }
  blocks.push({
    type: "context",
    elements: [
      {
        type: "mrkdwn",
        text: cap(escapeSlack(`Watchkeeper · ${message.monitorId} · ${message.tickTime}`), 3000, true),
      },
    ],
  });
  const firstLine = details.split("\n")[0] ?? "";
  return {
    // Shown in notifications and where blocks cannot be: mrkdwn too, so escaped as well.
    text: cap(escapeSlack(`${headline}: ${headerSafe(firstLine, 500)}`), SLACK_LIMITS.fallbackText, true),
    blocks: blocks.slice(0, SLACK_LIMITS.blocks),
  };
}

// ---------------------------------------------------------------------------------------------
// Microsoft Teams

/**
 * Adaptive Card TextBlocks render a subset of Markdown: its syntax characters are backslash-escaped
 * so that a message cannot make a link, emphasis or a list of its own.
 */
export function escapeAdaptiveText(text: string): string {
  return (
    text
      // Emphasis, links, code and strike-through anywhere.
      .replace(/[\\`*_[\]~]/g, (character) => `\\${character}`)
      // Lists, headings and quotes at the start of a line ("- x", "1. x", "# x", "> x").
      .replace(/^(\s*)([-+#>]|\d+\.)/gm, (_, space: string, marker: string) =>
        marker.endsWith(".") ? `${space}${marker.slice(0, -1)}\\.` : `${space}\\${marker}`,
      )
  );
}

/** The longest check text put in a card (a Workflows webhook takes at most 28 KB per message). */
export const TEAMS_DETAILS_CHARS = 3000;

/** A Workflows-webhook message holding one Adaptive Card 1.4. */
export function teamsPayload(message: ChannelMessage): Record<string, unknown> {
  const color = message.type === "alert" ? "Attention" : message.type === "recovery" ? "Good" : "Warning";
  const links = channelLinks(message);
  const card: Record<string, unknown> = {
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    type: "AdaptiveCard",
    version: "1.4",
    body: [
      {
        type: "TextBlock",
        text: escapeAdaptiveText(channelHeadline(message)),
        weight: "Bolder",
        size: "Medium",
        color,
        wrap: true,
      },
      {
        type: "FactSet",
        facts: channelFacts(message).map(([title, value]) => ({ title, value: escapeAdaptiveText(value) })),
      },
      {
        type: "TextBlock",
        text: escapeAdaptiveText(cap(channelDetails(message), TEAMS_DETAILS_CHARS)),
        wrap: true,
      },
      {
        type: "TextBlock",
        text: escapeAdaptiveText(`Watchkeeper · ${message.monitorId} · ${message.tickTime}`),
        isSubtle: true,
        size: "Small",
        wrap: true,
      },
    ],
    ...(links.length > 0
      ? { actions: links.map(([title, url]) => ({ type: "Action.OpenUrl", title, url })) }
      : {}),
    msteams: { width: "Full" },
  };
  return {
    type: "message",
    attachments: [
      { contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: card },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// PagerDuty

export const PAGERDUTY_SUMMARY_CHARS = 1024;
const PAGERDUTY_DEDUP_KEY_CHARS = 255;

/**
 * One incident, one PagerDuty alert: the same key on its ALERT and its RECOVERED (and on every
 * retry), readable when it fits, hashed when the monitor id is long.
 */
export function pagerDutyDedupKey(monitorId: string, incident: string): string {
  const readable = `watchkeeper/${monitorId}/${incident}`;
  if (readable.length <= PAGERDUTY_DEDUP_KEY_CHARS) return readable;
  const hash = createHash("sha256").update(`${monitorId}\n${incident}`).digest("hex");
  return `watchkeeper/${hash}`;
}

export type PagerDutySeverity = "critical" | "error" | "warning" | "info";

/** An Events API v2 event (https://developer.pagerduty.com/docs/events-api-v2-overview). */
export type PagerDutyEvent =
  | {
      routing_key: string;
      event_action: "trigger";
      dedup_key: string;
      payload: {
        summary: string;
        source: string;
        severity: PagerDutySeverity;
        timestamp: string;
        component: string;
        class: string;
        custom_details: Record<string, unknown>;
      };
      client: string;
      client_url?: string;
      links?: { href: string; text: string }[];
    }
  | { routing_key: string; event_action: "resolve"; dedup_key: string };

/**
 * `trigger` for an ALERT, `resolve` for a RECOVERED. A REMINDER is refused: PagerDuty escalates
 * by itself, and a second trigger with the same key would only be deduplicated (the engine does
 * not send reminders to PagerDuty; this makes sure it cannot).
 */
export function pagerDutyEvent(
  message: ChannelMessage,
  options: { routingKey: string; severity: PagerDutySeverity },
): PagerDutyEvent {
  const dedupKey = pagerDutyDedupKey(message.monitorId, message.incident);
  if (message.type === "reminder") {
    throw new PermanentDeliveryError(
      "PagerDuty is not sent reminders: its own escalation policy re-notifies (the incident stays triggered)",
    );
  }
  if (message.type === "recovery") {
    return { routing_key: options.routingKey, event_action: "resolve", dedup_key: dedupKey };
  }
  const details = channelDetails(message);
  const links = channelLinks(message).map(([text, href]) => ({ href, text }));
  return {
    routing_key: options.routingKey,
    event_action: "trigger",
    dedup_key: dedupKey,
    payload: {
      summary: cap(headerSafe(`${channelHeadline(message)}: ${details}`, 2000), PAGERDUTY_SUMMARY_CHARS),
      source: `watchkeeper/${message.monitorId}`,
      severity: options.severity,
      timestamp: message.tickTime,
      component: message.monitorId,
      class: "monitor",
      custom_details: {
        monitor: headerSafe(message.name, 200),
        monitorId: message.monitorId,
        message: cap(details, 4000),
        failingSince: message.incident,
        timezone: message.timezone,
        ...(message.durationMs === undefined ? {} : { failingForMs: message.durationMs }),
      },
    },
    client: "Watchkeeper",
    ...(links.find((link) => link.text === "Dashboard")
      ? { client_url: links.find((link) => link.text === "Dashboard")?.href }
      : {}),
    ...(links.length > 0 ? { links } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Generic webhook (Standard Webhooks)

export const WEBHOOK_SCHEMA_VERSION = 1;

/** The body of a generic webhook, version 1 (docs/channels/webhook.md): every key always present. */
export interface WebhookBody {
  version: 1;
  type: "alert" | "reminder" | "recovery";
  /** Equal to the `webhook-id` header: the same on every retry of this delivery. */
  id: string;
  /** When Watchkeeper decided the notification (ISO UTC). */
  timestamp: string;
  monitor: { id: string; name: string; timezone: string };
  incident: { start: string; durationMs: number | null };
  subject: string;
  message: string;
  lastFailureMessage: string | null;
  reminderNumber: number | null;
  acknowledgement: { by: string; at: string; note: string | null; until: string | null } | null;
  links: { ack: string | null; dashboard: string | null; runbook: string | null };
}

/** The `webhook-id` of a delivery: stable across its retries, so receivers can drop duplicates. */
export function webhookId(channelName: string, message: ChannelMessage): string {
  return `msg_${deliveryKey(channelName, message)}`;
}

export function webhookBody(channelName: string, message: ChannelMessage): WebhookBody {
  const ack = message.acknowledgement;
  return {
    version: WEBHOOK_SCHEMA_VERSION,
    type: message.type,
    id: webhookId(channelName, message),
    timestamp: message.tickTime,
    monitor: { id: message.monitorId, name: message.name, timezone: message.timezone },
    incident: { start: message.incident, durationMs: message.durationMs ?? null },
    subject: message.subject,
    message: message.message,
    lastFailureMessage: message.lastFailureMessage ?? null,
    reminderNumber: message.reminderNumber ?? null,
    acknowledgement: ack
      ? { by: ack.by, at: ack.at, note: ack.note ?? null, until: ack.until ?? null }
      : null,
    links: {
      ack: linkable(message.links.ack) ?? null,
      dashboard: linkable(message.links.dashboard) ?? null,
      runbook: linkable(message.links.runbook) ?? null,
    },
  };
}

/** A signing secret that is not `whsec_<base64>` (or bare base64) of at least 16 bytes. */
export class SigningSecretError extends Error {
  override name = "SigningSecretError";
}

/** The key bytes of a Standard Webhooks secret: base64 after an optional `whsec_` prefix. */
export function signingKey(secret: string): Buffer {
  const encoded = secret.trim().replace(/^whsec_/, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    throw new SigningSecretError("the signing secret must be whsec_ followed by base64 (Standard Webhooks)");
  }
  const key = Buffer.from(encoded, "base64");
  if (key.length < 16)
    throw new SigningSecretError("the signing secret must hold at least 16 bytes (24 to 64 recommended)");
  return key;
}

/**
 * The Standard Webhooks headers of one request: `webhook-signature` is `v1,` and the base64
 * HMAC-SHA256 of `<id>.<timestamp>.<body>` under the secret's key.
 */
export function standardWebhookHeaders(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string,
): { "webhook-id": string; "webhook-timestamp": string; "webhook-signature": string } {
  const signature = createHmac("sha256", signingKey(secret))
    .update(`${id}.${timestampSeconds}.${body}`)
    .digest("base64");
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": `v1,${signature}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Amazon SNS

export const SNS_SUBJECT_CHARS = 100;
/** The first line, what an SMS subscriber sees first (one SMS segment is 160 GSM characters). */
export const SNS_FIRST_LINE_CHARS = 140;
const SNS_MESSAGE_CHARS = 8000;

/**
 * SNS subjects are ASCII without control characters, starting with a letter, digit or punctuation,
 * at most 100 characters: accents are dropped, other characters become `?`.
 */
export function snsSubject(text: string): string {
  const ascii = headerSafe(text, 1000)
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^\x20-\x7e]/g, "?")
    .trim();
  const subject = ascii.length > SNS_SUBJECT_CHARS ? `${ascii.slice(0, SNS_SUBJECT_CHARS - 3)}...` : ascii;
  return /^[A-Za-z0-9\p{P}]/u.test(subject) ? subject : `Watchkeeper ${subject}`.slice(0, SNS_SUBJECT_CHARS);
}

export interface SnsPayload {
  Subject: string;
  Message: string;
  MessageAttributes: Record<string, { DataType: "String"; StringValue: string }>;
  MessageGroupId?: string;
  MessageDeduplicationId?: string;
}

/** Subject, a short first line (SMS) then the details, and the type as a message attribute. */
export function snsPayload(channelName: string, topicArn: string, message: ChannelMessage): SnsPayload {
  const details = channelDetails(message);
  const firstLine = headerSafe(`${channelHeadline(message)}: ${details}`, SNS_FIRST_LINE_CHARS);
  const links = channelLinks(message);
  const body = [
    firstLine,
    "",
    ...channelFacts(message).map(([label, value]) => `${label}: ${value}`),
    "",
    details,
    ...links.flatMap(([label, url], index) => [...(index === 0 ? [""] : []), `${label}: ${url}`]),
  ].join("\n");
  const fifo = topicArn.endsWith(".fifo");
  return {
    Subject: snsSubject(message.subject),
    Message: cap(body, SNS_MESSAGE_CHARS),
    MessageAttributes: {
      "watchkeeper.type": { DataType: "String", StringValue: message.type },
      "watchkeeper.monitorId": { DataType: "String", StringValue: message.monitorId },
    },
    ...(fifo
      ? {
          // One group per monitor keeps its notifications in order; the key drops a retried publish.
          MessageGroupId: createHash("sha256").update(message.monitorId).digest("hex").slice(0, 64),
          MessageDeduplicationId: deliveryKey(channelName, message),
        }
      : {}),
  };
}
