import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsSecretSource } from "#adapters/aws-secret-source.ts";
import { createChannelSender } from "#adapters/channel-senders.ts";
import type { ChannelMessage } from "#core/channels.ts";
import { SecretUnreadableError } from "#core/ports.ts";
import {
  type ChannelReceiver,
  localSecretArn,
  startLocalChannels,
  verifyStandardWebhook,
} from "#local/channel-receiver.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "#local/servers.ts";

/**
 * The local channel receiver of `npm start`: the real sender delivers every HTTP kind to it, its
 * answers are shaped as each receiver's, its webhook verification agrees with standardwebhooks',
 * and its Secrets Manager stand-in answers the SDK's own client.
 */

let receiver: ChannelReceiver;
let channels: Awaited<ReturnType<typeof startLocalChannels>>["channels"];
let sm: SecretsManagerClient;

beforeAll(async () => {
  ({ receiver, channels } = await startLocalChannels());
  sm = new SecretsManagerClient({
    region: LOCAL_REGION,
    endpoint: receiver.url,
    credentials: LOCAL_CREDENTIALS,
  });
});
afterAll(async () => {
  sm?.destroy();
  await receiver?.stop();
});

const source = () =>
  new AwsSecretSource({
    secretsManager: () => ({ getSecretValue: (input) => sm.send(new GetSecretValueCommand(input)) }),
    ssm: () => {
      throw new Error("no SSM locally");
    },
  });

function message(overrides: Partial<ChannelMessage> = {}): ChannelMessage {
  return {
    type: "alert",
    monitorId: "api-health",
    name: "API <health> & co",
    message: "returned 503",
    tickTime: new Date().toISOString(),
    timezone: "UTC",
    incident: "2026-11-21T14:00:00.000Z",
    links: {},
    subject: "[Monitor ALERT] API health",
    ...overrides,
  };
}

describe("local channel receiver", () => {
  it("serves the seeded secrets to the SDK's Secrets Manager client, and ResourceNotFound otherwise", async () => {
    const secrets = source();
    const location = { service: "secretsmanager" as const, region: LOCAL_REGION };
    await expect(secrets.read({ ...location, arn: localSecretArn("slack") })).resolves.toMatch(
      new RegExp(`^${receiver.url}/slack/services/`),
    );
    const missing = secrets.read({ ...location, arn: localSecretArn("nope") });
    await expect(missing).rejects.toThrow(SecretUnreadableError);
    await expect(missing).rejects.toThrow(/no such secret in us-east-1/);
  });

  it("takes a delivery of every seeded channel from the real sender, shaped as each receiver answers", async () => {
    const sender = createChannelSender({ secrets: source(), allowAddresses: ["loopback"] });
    for (const channel of channels) await sender.send(channel, message());
    const captured = receiver.deliveries();
    expect(captured.map((delivery) => [delivery.kind, delivery.status])).toEqual([
      ["webhook", 204],
      ["pagerduty", 202],
      ["teams", 202],
      ["slack", 200],
    ]);
    expect(captured[0]?.webhook).toMatchObject({ verified: true });
    const json = (await (await fetch(`${receiver.url}/deliveries.json`)).json()) as unknown[];
    expect(json).toHaveLength(4);
    const html = await (await fetch(`${receiver.url}/`)).text();
    expect(html).toContain("signature verified");
    expect(html).toContain("API &lt;health&gt; &amp; co");
    expect(html).not.toContain("API <health>");
  });

  it("answers PagerDuty-shaped: 202 with the dedup_key, 400 invalid event without a routing key", async () => {
    const ok = await fetch(`${receiver.url}/v2/enqueue`, {
      method: "POST",
      body: JSON.stringify({ routing_key: "x".repeat(32), event_action: "resolve", dedup_key: "k-1" }),
    });
    expect(ok.status).toBe(202);
    expect(await ok.json()).toEqual({ status: "success", message: "Event processed", dedup_key: "k-1" });
    const bad = await fetch(`${receiver.url}/v2/enqueue`, {
      method: "POST",
      body: JSON.stringify({
        event_action: "trigger",
        payload: { summary: "s", source: "x", severity: "info" },
      }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ status: "invalid event", message: "Event object is invalid" });
  });

  it("verifies webhook signatures as standardwebhooks signs them, and refuses a tampered body", () => {
    const secret = `whsec_${Buffer.from("another secret of 32 bytes......").toString("base64")}`;
    const body = JSON.stringify({ version: 1, type: "alert" });
    const at = new Date();
    const headers = {
      "webhook-id": "msg_1",
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": new Webhook(secret).sign("msg_1", at, body),
    };
    const now = Math.floor(at.getTime() / 1000);
    expect(verifyStandardWebhook([secret], headers, body, now)).toEqual({ verified: true });
    expect(verifyStandardWebhook([secret], headers, `${body} `, now).verified).toBe(false);
    expect(verifyStandardWebhook([secret], headers, body, now + 3600)).toMatchObject({ verified: false });
  });
});
