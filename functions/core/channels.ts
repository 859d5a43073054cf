import * as z from "zod/mini";
import { type Acknowledgement, ChannelNameSchema, type NotificationType } from "./schemas.ts";
import { parseSecretRef, SECRET_REF_FORMAT, SECRET_REF_KEY } from "./secrets.ts";

/**
 * Notification channels (issue 15): where a monitor's ALERT / REMINDER / RECOVERED go besides the
 * people in `peopleToNotify`.
 *
 * A channel is an item in the Monitors table under the reserved partition `monitorId = "__channels"`,
 * `record = "channel#<name>"` (like the bucket headers under `__buckets`): one Query reads them all,
 * and every reader of monitors already skips reserved ids (schedule-sync, reconcile, the CLI, the
 * fan-out), so a channel can never be taken for a monitor. A monitor names its channels in
 * `channels: [...]`; a stack-level default list applies to monitors that name none.
 *
 * Validated with zod/mini (not classic zod): the orchestrator's bundle must stay lean (issue 13).
 */

export const CHANNELS_PARTITION = "__channels";
export const CHANNEL_RECORD_PREFIX = "channel#";

export const CHANNEL_KINDS = ["slack", "teams", "pagerduty", "webhook", "sns"] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** A channel's name (defined with the config item's schemas, which check `channels` every tick). */
export { ChannelNameSchema } from "./schemas.ts";

/**
 * A secret (webhook URL, routing key, signing secret) is never stored in the table in clear: only a
 * `{"secretRef": "<Secrets Manager or SSM ARN>[#jsonKey]"}`, resolved by the orchestrator at send
 * time through functions/core/secrets.ts (cached, redacted everywhere).
 */
export const ChannelSecretSchema = z.object({
  [SECRET_REF_KEY]: z.string().check(z.refine((ref) => parseSecretRef(ref) !== undefined, SECRET_REF_FORMAT)),
});
export type ChannelSecret = z.infer<typeof ChannelSecretSchema>;

const common = {
  name: ChannelNameSchema,
  description: z.optional(z.string().check(z.maxLength(500))),
  /** Off: deliveries to it are skipped (and recorded as such) without removing it from monitors. */
  isActive: z._default(z.boolean(), true),
};

/** PagerDuty's Events API v2 endpoints (US, EU), or a loopback receiver for the local runtime. */
export const PAGERDUTY_EVENTS_URL =
  /^(?:https:\/\/events(?:\.eu)?\.pagerduty\.com|http:\/\/(?:127\.0\.0\.1|localhost):\d{1,5})\/v2\/enqueue$/;
export const PAGERDUTY_DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue";

/** An SNS topic ARN (standard or FIFO). */
export const SNS_TOPIC_ARN = /^arn:aws(?:-[a-z]+)*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?$/;

export const ChannelDefinitionSchema = z.discriminatedUnion("kind", [
  /** Slack incoming webhook; the URL is the secret. Block Kit payload. */
  z.object({ ...common, kind: z.literal("slack"), webhookUrl: ChannelSecretSchema }),
  /** Microsoft Teams Workflows webhook; the URL is the secret. Adaptive Card payload. */
  z.object({ ...common, kind: z.literal("teams"), webhookUrl: ChannelSecretSchema }),
  /** PagerDuty Events API v2: trigger on ALERT, resolve on RECOVERED, dedup_key per incident. */
  z.object({
    ...common,
    kind: z.literal("pagerduty"),
    routingKey: ChannelSecretSchema,
    severity: z._default(z.enum(["critical", "error", "warning", "info"]), "critical"),
    /**
     * Where events go: PagerDuty's US or EU endpoint, or a loopback receiver (the local runtime;
     * refused by the address policy in AWS). Nothing else: the routing key is sent along.
     * @default "https://events.pagerduty.com/v2/enqueue"
     */
    eventsUrl: z.optional(
      z
        .string()
        .check(
          z.regex(
            PAGERDUTY_EVENTS_URL,
            "must be https://events.pagerduty.com/v2/enqueue, https://events.eu.pagerduty.com/v2/enqueue or a loopback http://127.0.0.1:<port>/v2/enqueue",
          ),
        ),
    ),
  }),
  /** Generic webhook, signed per Standard Webhooks (webhook-id / -timestamp / -signature). */
  z.object({
    ...common,
    kind: z.literal("webhook"),
    url: z.union([z.url({ protocol: /^https?$/ }), ChannelSecretSchema]),
    signingSecret: ChannelSecretSchema,
  }),
  /** Amazon SNS topic (SMS, email-json, chat integrations), granted per topic ARN. */
  z.object({
    ...common,
    kind: z.literal("sns"),
    topicArn: z.string().check(z.regex(SNS_TOPIC_ARN, "must be an SNS topic ARN")),
  }),
]);
export type ChannelDefinition = z.infer<typeof ChannelDefinitionSchema>;

/**
 * What every channel renders from: the notification's facts, not a rendered mail, so that each
 * kind builds the payload its receiver documents. Built by the delivery engine from the outbox
 * entry at send time.
 */
export interface ChannelMessage {
  type: NotificationType;
  monitorId: string;
  /** The monitor's display name. */
  name: string;
  /** The check's own words (already redacted and capped). */
  message: string;
  /** Logical time of the tick that decided it (ISO UTC). */
  tickTime: string;
  /** The monitor's IANA timezone, for local times. */
  timezone: string;
  /** The incident's start (its ALERT's logical time): with the monitor id, the incident's identity. */
  incident: string;
  /** ALERT/REMINDER: how long it has been failing (ms); RECOVERED: the outage's duration. */
  durationMs?: number | undefined;
  /** REMINDER: which reminder of the incident this is (1 = the first). */
  reminderNumber?: number | undefined;
  /** REMINDER/RECOVERED: who acknowledged, or null for nobody. */
  acknowledgement?: Acknowledgement | null | undefined;
  /** RECOVERED: the last failure message, to say what it was. */
  lastFailureMessage?: string | undefined;
  /** Links for people: all optional, all http(s). */
  links: { ack?: string | undefined; dashboard?: string | undefined; runbook?: string | undefined };
  /** The email subject line, `[Monitor ALERT] <name>`: a ready headline for kinds that want one. */
  subject: string;
}

/**
 * Sends one notification to one channel. Adapters (functions/adapters/channel-*.ts) implement it
 * over HTTP and SNS; tests swap it. Resolves once the receiver accepted it; throws
 * PermanentDeliveryError (functions/core/ports.ts) when retrying cannot help (404 / 410 webhook
 * gone, 400 payload refused, topic missing), any other error for a transient failure.
 * Secrets in `channel` are still references: the sender resolves them through `secrets`.
 */
export interface ChannelSender {
  send(channel: ChannelDefinition, message: ChannelMessage): Promise<{ messageId: string }>;
}

/** Reads the channel items (one Query of the `__channels` partition). */
export interface ChannelDirectory {
  /** Every stored channel, by name; an item that does not parse is reported in `problems`. */
  list(): Promise<{
    channels: Map<string, ChannelDefinition>;
    problems: { name: string; message: string }[];
  }>;
}
