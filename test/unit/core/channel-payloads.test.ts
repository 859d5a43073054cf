import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import {
  escapeSlack,
  pagerDutyDedupKey,
  pagerDutyEvent,
  SigningSecretError,
  slackPayload,
  snsPayload,
  standardWebhookHeaders,
  teamsPayload,
  webhookBody,
  webhookId,
} from "#core/channel-payloads.ts";
import type { ChannelMessage } from "#core/channels.ts";
import { PermanentDeliveryError } from "#core/ports.ts";
import {
  assertMatches,
  PagerDutyEventSchema,
  SlackMessageSchema,
  TeamsMessageSchema,
} from "../../support/channel-schemas.ts";

const ROUTING_KEY = "R0123456789abcdef0123456789abcde";
const SECRET = `whsec_${Buffer.from("a signing secret of 32 bytes....").toString("base64")}`;

function message(overrides: Partial<ChannelMessage> = {}): ChannelMessage {
  return {
    type: "alert",
    monitorId: "api-health",
    name: "API health",
    message: "GET https://api.example.org/health returned 503 Service Unavailable in 120 ms",
    tickTime: "2026-11-21T14:05:00.000Z",
    timezone: "Europe/Paris",
    incident: "2026-11-21T14:00:00.000Z",
    durationMs: 300_000,
    links: {
      ack: "https://watch.example.org/ack?t=abc",
      dashboard: "https://watch.example.org/monitors/api-health",
      runbook: "https://wiki.example.org/runbooks/api",
    },
    subject: "[Monitor ALERT] API health",
    ...overrides,
  };
}

type Block = {
  type: string;
  text?: { text: string };
  fields?: { text: string }[];
  elements?: Record<string, unknown>[];
};

describe("Slack Block Kit payload", () => {
  it("says what broke, for how long, with ack, dashboard and runbook buttons, in the documented shape", () => {
    const payload = slackPayload(message());
    assertMatches(SlackMessageSchema, payload);
    const blocks = payload.blocks as Block[];
    expect(blocks[0]).toEqual({
      type: "header",
      text: { type: "plain_text", text: "ALERT: API health is failing", emoji: false },
    });
    const fields = blocks[1]?.fields?.map((field) => field.text) ?? [];
    expect(fields).toContain("*Failing for*\n5 min");
    expect(fields.some((field) => field.startsWith("*Failing since*\nNov 21, 2026"))).toBe(true);
    expect(blocks[2]?.text?.text).toBe(message().message);
    expect(blocks[3]).toEqual({
      type: "actions",
      elements: [
        expect.objectContaining({
          text: { type: "plain_text", text: "Acknowledge" },
          url: message().links.ack,
          style: "primary",
        }),
        expect.objectContaining({
          text: { type: "plain_text", text: "Dashboard" },
          url: message().links.dashboard,
        }),
        expect.objectContaining({
          text: { type: "plain_text", text: "Runbook" },
          url: message().links.runbook,
        }),
      ],
    });
    expect(payload.text).toBe(`ALERT: API health is failing: ${message().message}`);
  });

  it("escapes mrkdwn's control characters: a message cannot mention @channel or make a link", () => {
    const payload = slackPayload(
      message({ name: "A & B <!here>", message: "<!channel> see <https://evil.example|the fix> & more" }),
    );
    const texts = JSON.stringify(payload.blocks.slice(1)) + payload.text;
    expect(texts).not.toMatch(/<!channel>|<!here>|<https:/);
    expect((payload.blocks[2] as Block).text?.text).toBe(
      "&lt;!channel&gt; see &lt;https://evil.example|the fix&gt; &amp; more",
    );
    expect(escapeSlack("a<b>&c")).toBe("a&lt;b&gt;&amp;c");
  });

  it("keeps Block Kit's limits whatever the lengths: header 150, section 3000, field 2000", () => {
    const payload = slackPayload(
      message({ name: "N".repeat(400), message: "&".repeat(10_000), monitorId: "m".repeat(300) }),
    );
    assertMatches(SlackMessageSchema, payload);
    const section = (payload.blocks[2] as Block).text?.text ?? "";
    expect(section.length).toBeLessThanOrEqual(3000);
    // Never cut inside an escape.
    expect(section).toMatch(/(&amp;)+…$/);
  });

  it("shows only http(s) links, and no Acknowledge button once recovered", () => {
    const alert = slackPayload(
      message({ links: { ack: "javascript:alert(1)", dashboard: "https://d.example/x" } }),
    );
    expect(JSON.stringify(alert)).not.toContain("javascript:");
    const recovered = slackPayload(
      message({ type: "recovery", subject: "[Monitor RECOVERED] API health", lastFailureMessage: "503" }),
    );
    assertMatches(SlackMessageSchema, recovered);
    expect(JSON.stringify(recovered)).not.toContain("Acknowledge");
    expect((recovered.blocks[0] as Block).text?.text).toBe("RECOVERED: API health is back (down 5 min)");
  });

  it("has no actions block when there is no link", () => {
    const payload = slackPayload(message({ links: {} }));
    assertMatches(SlackMessageSchema, payload);
    expect(payload.blocks.map((block) => block.type)).toEqual(["header", "section", "section", "context"]);
  });
});

describe("Teams Adaptive Card payload", () => {
  it("is a Workflows message holding one Adaptive Card 1.4 with Action.OpenUrl links", () => {
    const payload = teamsPayload(message());
    assertMatches(TeamsMessageSchema, payload);
    const card = (payload.attachments as { content: Record<string, unknown> }[])[0]?.content;
    expect(card?.version).toBe("1.4");
    expect(card?.actions).toEqual([
      { type: "Action.OpenUrl", title: "Acknowledge", url: message().links.ack },
      { type: "Action.OpenUrl", title: "Dashboard", url: message().links.dashboard },
      { type: "Action.OpenUrl", title: "Runbook", url: message().links.runbook },
    ]);
  });

  it("escapes Markdown so that a message cannot make links, emphasis or lists", () => {
    const payload = teamsPayload(
      message({ message: "[click](https://evil.example) **now**\n- item\n1. first" }),
    );
    const body = JSON.stringify(payload);
    const card = (payload.attachments as { content: { body: { text?: string }[] } }[])[0]?.content;
    expect(card?.body[2]?.text).toBe(
      "\\[click\\](https://evil.example) \\*\\*now\\*\\*\n\\- item\n1\\. first",
    );
    expect(body).not.toContain('"[click]');
  });
});

describe("PagerDuty Events API v2", () => {
  it("triggers on an alert with the documented required fields and a dedup_key per incident", () => {
    const event = pagerDutyEvent(message(), { routingKey: ROUTING_KEY, severity: "critical" });
    assertMatches(PagerDutyEventSchema, event);
    expect(event).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: "trigger",
      dedup_key: "watchkeeper/api-health/2026-11-21T14:00:00.000Z",
      payload: {
        source: "watchkeeper/api-health",
        severity: "critical",
        timestamp: "2026-11-21T14:05:00.000Z",
      },
      client: "Watchkeeper",
      client_url: message().links.dashboard,
    });
  });

  it("resolves on recovery with the same dedup_key; another incident has another key", () => {
    const trigger = pagerDutyEvent(message(), { routingKey: ROUTING_KEY, severity: "error" });
    const resolve = pagerDutyEvent(message({ type: "recovery", tickTime: "2026-11-21T15:00:00.000Z" }), {
      routingKey: ROUTING_KEY,
      severity: "error",
    });
    assertMatches(PagerDutyEventSchema, resolve);
    expect(resolve).toEqual({
      routing_key: ROUTING_KEY,
      event_action: "resolve",
      dedup_key: trigger.dedup_key,
    });
    const next = pagerDutyEvent(message({ incident: "2026-11-22T09:00:00.000Z" }), {
      routingKey: ROUTING_KEY,
      severity: "error",
    });
    expect(next.dedup_key).not.toBe(trigger.dedup_key);
  });

  it("refuses a reminder: PagerDuty escalates by itself", () => {
    expect(() =>
      pagerDutyEvent(message({ type: "reminder", reminderNumber: 1 }), {
        routingKey: ROUTING_KEY,
        severity: "info",
      }),
    ).toThrow(PermanentDeliveryError);
  });

  it("keeps summary within 1024 characters and dedup_key within 255", () => {
    const event = pagerDutyEvent(message({ message: "x".repeat(5000), monitorId: "m".repeat(300) }), {
      routingKey: ROUTING_KEY,
      severity: "warning",
    });
    assertMatches(PagerDutyEventSchema, event);
    expect(pagerDutyDedupKey("m".repeat(300), "2026-11-21T14:00:00.000Z")).toMatch(
      /^watchkeeper\/[0-9a-f]{64}$/,
    );
  });
});

describe("generic webhook", () => {
  it("sends the documented version 1 body, every key present", () => {
    const body = webhookBody("ops-hook", message({ acknowledgement: null }));
    expect(body).toEqual({
      version: 1,
      type: "alert",
      id: webhookId("ops-hook", message()),
      timestamp: "2026-11-21T14:05:00.000Z",
      monitor: { id: "api-health", name: "API health", timezone: "Europe/Paris" },
      incident: { start: "2026-11-21T14:00:00.000Z", durationMs: 300_000 },
      subject: "[Monitor ALERT] API health",
      message: message().message,
      lastFailureMessage: null,
      reminderNumber: null,
      acknowledgement: null,
      links: message().links,
    });
  });

  it("signs per Standard Webhooks: standardwebhooks' own verifier accepts it, and a tampered body fails", () => {
    const body = JSON.stringify(webhookBody("ops-hook", message()));
    const id = webhookId("ops-hook", message());
    const headers = standardWebhookHeaders(SECRET, id, Math.floor(Date.now() / 1000), body);
    expect(new Webhook(SECRET).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(SECRET).verify(body.replace("API health", "API wealth"), headers)).toThrow();
  });

  it("gives a delivery the same webhook-id on every retry, and each channel its own", () => {
    expect(webhookId("ops-hook", message())).toBe(webhookId("ops-hook", message()));
    expect(webhookId("ops-hook", message())).not.toBe(webhookId("other-hook", message()));
    expect(webhookId("ops-hook", message())).not.toBe(webhookId("ops-hook", message({ type: "recovery" })));
    expect(webhookId("ops-hook", message())).toMatch(/^msg_[A-Za-z0-9_-]{32}$/);
  });

  it("refuses a signing secret that is not base64 of at least 16 bytes", () => {
    expect(() => standardWebhookHeaders("whsec_not base64!", "msg_1", 1, "{}")).toThrow(SigningSecretError);
    expect(() => standardWebhookHeaders("whsec_c2hvcnQ=", "msg_1", 1, "{}")).toThrow(SigningSecretError);
  });
});

describe("Amazon SNS", () => {
  const topic = "arn:aws:sns:eu-west-1:123456789012:oncall";

  it("has a header-safe ASCII subject within 100 characters, an SMS-sized first line and the type attribute", () => {
    const payload = snsPayload(
      "sms",
      topic,
      message({ subject: `[Monitor ALERT] Café\r\nBcc: x ${"é".repeat(200)}`, name: "Café" }),
    );
    expect(payload.Subject.length).toBeLessThanOrEqual(100);
    expect(payload.Subject).toMatch(/^\[Monitor ALERT\] Cafe Bcc: x e+\.\.\.$/);
    const [firstLine, blank] = payload.Message.split("\n");
    expect(firstLine?.length).toBeLessThanOrEqual(140);
    expect(firstLine).toMatch(/^ALERT: Café is failing: GET https:\/\/api\.example\.org/);
    expect(blank).toBe("");
    expect(payload.Message).toContain("Dashboard: https://watch.example.org/monitors/api-health");
    expect(payload.MessageAttributes["watchkeeper.type"]).toEqual({
      DataType: "String",
      StringValue: "alert",
    });
    expect(payload.MessageGroupId).toBeUndefined();
  });

  it("adds a message group and a deduplication id for a FIFO topic", () => {
    const payload = snsPayload("sms", `${topic}.fifo`, message());
    expect(payload.MessageGroupId).toMatch(/^[0-9a-f]{64}$/);
    expect(payload.MessageDeduplicationId).toBe(
      snsPayload("sms", `${topic}.fifo`, message()).MessageDeduplicationId,
    );
  });
});
