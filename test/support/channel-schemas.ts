import * as z from "zod";

/**
 * The shapes the channel receivers document, transcribed into zod from their references (neither
 * Slack incoming webhooks nor the PagerDuty Events API v2 publish a machine-readable schema): the
 * required fields, the enums and the length limits. Strict objects: a misspelled field fails.
 * Payload tests validate against them, so a field renamed or a limit crossed fails.
 *
 * - Slack: https://docs.slack.dev/reference/block-kit/blocks (header, section, actions, context),
 *   the button element and the text composition object.
 * - PagerDuty: https://developer.pagerduty.com/docs/send-alert-event and send-resolve-event.
 * - Teams: Workflows webhooks take a `message` whose attachments are Adaptive Cards
 *   (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using);
 *   TextBlock, FactSet and Action.OpenUrl per adaptivecards.io.
 */

const plainText = (max: number) =>
  z.strictObject({
    type: z.literal("plain_text"),
    text: z.string().min(1).max(max),
    emoji: z.boolean().optional(),
  });
const mrkdwn = (max: number) =>
  z.strictObject({
    type: z.literal("mrkdwn"),
    text: z.string().min(1).max(max),
    verbatim: z.boolean().optional(),
  });
const httpUrl = z.string().regex(/^https?:\/\//);

const SlackBlock = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("header"),
    text: plainText(150),
    block_id: z.string().max(255).optional(),
  }),
  z
    .strictObject({
      type: z.literal("section"),
      text: z.union([plainText(3000), mrkdwn(3000)]).optional(),
      fields: z
        .array(z.union([plainText(2000), mrkdwn(2000)]))
        .min(1)
        .max(10)
        .optional(),
      block_id: z.string().max(255).optional(),
    })
    .refine((section) => section.text !== undefined || section.fields !== undefined, "text or fields"),
  z.strictObject({
    type: z.literal("actions"),
    elements: z
      .array(
        z.strictObject({
          type: z.literal("button"),
          text: plainText(75),
          url: httpUrl.max(3000).optional(),
          action_id: z.string().max(255).optional(),
          style: z.enum(["primary", "danger"]).optional(),
        }),
      )
      .min(1)
      .max(25),
  }),
  z.strictObject({
    type: z.literal("context"),
    elements: z
      .array(z.union([plainText(3000), mrkdwn(3000)]))
      .min(1)
      .max(10),
  }),
]);

export const SlackMessageSchema = z.strictObject({
  text: z.string().min(1),
  blocks: z.array(SlackBlock).max(50),
});

const routingKey = z.string().length(32);
const dedupKey = z.string().min(1).max(255);

export const PagerDutyEventSchema = z.union([
  z.strictObject({
    routing_key: routingKey,
    event_action: z.literal("trigger"),
    dedup_key: dedupKey.optional(),
    payload: z.strictObject({
      summary: z.string().min(1).max(1024),
      source: z.string().min(1),
      severity: z.enum(["critical", "error", "warning", "info"]),
      timestamp: z.iso.datetime().optional(),
      component: z.string().optional(),
      group: z.string().optional(),
      class: z.string().optional(),
      custom_details: z.record(z.string(), z.unknown()).optional(),
    }),
    images: z.array(z.unknown()).optional(),
    links: z.array(z.strictObject({ href: httpUrl, text: z.string().optional() })).optional(),
    client: z.string().optional(),
    client_url: httpUrl.optional(),
  }),
  z.strictObject({
    routing_key: routingKey,
    event_action: z.enum(["acknowledge", "resolve"]),
    dedup_key: dedupKey,
  }),
]);

const TextBlock = z.strictObject({
  type: z.literal("TextBlock"),
  text: z.string(),
  wrap: z.boolean().optional(),
  weight: z.enum(["Default", "Lighter", "Bolder"]).optional(),
  size: z.enum(["Default", "Small", "Medium", "Large", "ExtraLarge"]).optional(),
  color: z.enum(["Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"]).optional(),
  isSubtle: z.boolean().optional(),
});
const FactSet = z.strictObject({
  type: z.literal("FactSet"),
  facts: z.array(z.strictObject({ title: z.string(), value: z.string() })),
});

export const TeamsMessageSchema = z.strictObject({
  type: z.literal("message"),
  attachments: z
    .array(
      z.strictObject({
        contentType: z.literal("application/vnd.microsoft.card.adaptive"),
        contentUrl: z.null().optional(),
        content: z.strictObject({
          $schema: z.literal("http://adaptivecards.io/schemas/adaptive-card.json").optional(),
          type: z.literal("AdaptiveCard"),
          version: z.enum(["1.4", "1.5"]),
          body: z.array(z.discriminatedUnion("type", [TextBlock, FactSet])),
          actions: z
            .array(z.strictObject({ type: z.literal("Action.OpenUrl"), title: z.string(), url: httpUrl }))
            .optional(),
          msteams: z.record(z.string(), z.unknown()).optional(),
        }),
      }),
    )
    .min(1),
});

/** Throws with zod's issues when `value` does not match `schema`. */
export function assertMatches(schema: z.ZodType, value: unknown): void {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new Error(`does not match the documented shape: ${z.prettifyError(parsed.error)}`);
}
