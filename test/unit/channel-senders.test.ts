import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  AuthorizationErrorException,
  KMSAccessDeniedException,
  NotFoundException,
  PublishCommand,
  SNSClient,
  ThrottledException,
} from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import { Webhook } from "standardwebhooks";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  allowAddressesFromEnv,
  type ChannelSenderOptions,
  createChannelSender,
} from "#adapters/channel-senders.ts";
import { type ChannelDefinition, ChannelDefinitionSchema, type ChannelMessage } from "#core/channels.ts";
import { PermanentDeliveryError } from "#core/ports.ts";
import {
  assertMatches,
  PagerDutyEventSchema,
  SlackMessageSchema,
  TeamsMessageSchema,
} from "../support/channel-schemas.ts";
import { MemorySecretSource } from "../support/memory-adapters.ts";

/**
 * createChannelSender against real HTTP servers on 127.0.0.1 (one per test file, its answer set
 * per test), and SNS through aws-sdk-client-mock: there is no local SNS server to run, so the
 * mock stands in for SNS's answers and faults only.
 */

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

type Answer = (request: Received, response: ServerResponse) => void;

const received: Received[] = [];
let answer: Answer = (_, response) => response.end("ok");
let base = "";
const server = createServer((request: IncomingMessage, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const entry = {
      method: request.method ?? "",
      path: request.url ?? "",
      headers: request.headers,
      body: Buffer.concat(chunks).toString("utf8"),
    };
    received.push(entry);
    answer(entry, response);
  });
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => {
  received.length = 0;
  answer = (_, response) => response.end("ok");
});

const ARN = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`;
const SLACK_TOKEN = "XyZsecretTOKEN0123456789";
const ROUTING_KEY = "R0123456789abcdef0123456789abcde";
const SIGNING_SECRET = `whsec_${Buffer.from("a signing secret of 32 bytes....").toString("base64")}`;

function secrets(): MemorySecretSource {
  return new MemorySecretSource({
    [ARN("slack")]: `${base}/services/T000/B000/${SLACK_TOKEN}`,
    [ARN("teams")]: `${base}/workflows/abc/triggers/manual/paths/invoke?sig=${SLACK_TOKEN}`,
    [ARN("pd")]: ROUTING_KEY,
    [ARN("hook-url")]: `${base}/hooks/${SLACK_TOKEN}`,
    [ARN("signing")]: SIGNING_SECRET,
  });
}

function sender(options: Partial<ChannelSenderOptions> = {}) {
  return createChannelSender({ secrets: secrets(), allowAddresses: ["loopback"], ...options });
}

const channel = (definition: Record<string, unknown>): ChannelDefinition =>
  ChannelDefinitionSchema.parse(definition);
const slack = () => channel({ name: "ops-slack", kind: "slack", webhookUrl: { secretRef: ARN("slack") } });
const teams = () => channel({ name: "ops-teams", kind: "teams", webhookUrl: { secretRef: ARN("teams") } });
const pagerduty = () =>
  channel({
    name: "pager",
    kind: "pagerduty",
    routingKey: { secretRef: ARN("pd") },
    severity: "error",
    eventsUrl: `${base}/v2/enqueue`,
  });
const webhook = (url: unknown = `${base}/hook`) =>
  channel({ name: "ops-hook", kind: "webhook", url, signingSecret: { secretRef: ARN("signing") } });

function message(overrides: Partial<ChannelMessage> = {}): ChannelMessage {
  return {
    type: "alert",
    monitorId: "api-health",
    name: "API health",
    message: "GET https://api.example.org/health returned 503",
    tickTime: "2026-11-21T14:05:00.000Z",
    timezone: "UTC",
    incident: "2026-11-21T14:00:00.000Z",
    durationMs: 300_000,
    links: { dashboard: "https://watch.example.org/monitors/api-health" },
    subject: "[Monitor ALERT] API health",
    ...overrides,
  };
}

/** The error a send rejects with (fails the test when it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the send to fail, it was delivered");
}

describe("Slack", () => {
  it("posts the Block Kit message to the webhook URL from the secret", async () => {
    const result = await sender().send(slack(), message());
    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe(`/services/T000/B000/${SLACK_TOKEN}`);
    expect(request?.headers["content-type"]).toBe("application/json");
    assertMatches(SlackMessageSchema, JSON.parse(request?.body ?? ""));
    expect(result.messageId).toMatch(/^slack-/);
  });

  it("says in words that the webhook is gone (404 no_service), permanently, without the URL", async () => {
    answer = (_, response) => {
      response.writeHead(404).end("no_service");
    };
    const error = await failure(sender().send(slack(), message()));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toBe("channel ops-slack (slack): Slack says the webhook is gone (404 no_service)");
  });
});

describe("Teams", () => {
  it("posts the Adaptive Card envelope and takes a 202 as delivered", async () => {
    answer = (_, response) => {
      response.writeHead(202).end();
    };
    await sender().send(teams(), message());
    assertMatches(TeamsMessageSchema, JSON.parse(received[0]?.body ?? ""));
  });
});

describe("PagerDuty", () => {
  it("enqueues a trigger, then a resolve with the same dedup_key, and returns PagerDuty's dedup_key", async () => {
    answer = (request, response) => {
      const { dedup_key } = JSON.parse(request.body) as { dedup_key: string };
      response
        .writeHead(202, { "content-type": "application/json" })
        .end(JSON.stringify({ status: "success", message: "Event processed", dedup_key }));
    };
    const trigger = await sender().send(pagerduty(), message());
    const resolve = await sender().send(
      pagerduty(),
      message({ type: "recovery", tickTime: "2026-11-21T15:00:00.000Z" }),
    );
    const [first, second] = received.map((request) => JSON.parse(request.body));
    expect(received.map((request) => request.path)).toEqual(["/v2/enqueue", "/v2/enqueue"]);
    assertMatches(PagerDutyEventSchema, first);
    assertMatches(PagerDutyEventSchema, second);
    expect(first).toMatchObject({ event_action: "trigger", routing_key: ROUTING_KEY });
    expect(second).toEqual({ event_action: "resolve", routing_key: ROUTING_KEY, dedup_key: first.dedup_key });
    expect(trigger.messageId).toBe(first.dedup_key);
    expect(resolve.messageId).toBe(first.dedup_key);
  });

  it("never sends a reminder (refused before any request)", async () => {
    const error = await failure(sender().send(pagerduty(), message({ type: "reminder", reminderNumber: 2 })));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(received).toHaveLength(0);
  });

  it("reports a refused event permanently and a 429 as transient, never with the routing key", async () => {
    answer = (request, response) => {
      response.writeHead(400, { "content-type": "application/json" }).end(
        JSON.stringify({
          status: "invalid event",
          message: "Event object is invalid",
          errors: [`'routing_key' ${JSON.parse(request.body).routing_key} is unknown`],
        }),
      );
    };
    const refused = await failure(sender().send(pagerduty(), message()));
    expect(refused).toBeInstanceOf(PermanentDeliveryError);
    expect(refused.message).toBe(
      "channel pager (pagerduty): PagerDuty refused the event (400 invalid event: Event object is invalid: 'routing_key' [secret] is unknown)",
    );
    answer = (_, response) => {
      response.writeHead(429).end(JSON.stringify({ status: "throttle event", message: "Too many events" }));
    };
    const throttled = await failure(sender().send(pagerduty(), message()));
    expect(throttled).not.toBeInstanceOf(PermanentDeliveryError);
    expect(throttled.message).toContain("429");
  });
});

describe("signed webhook", () => {
  it("signs per Standard Webhooks (verified by standardwebhooks) with a webhook-id stable across retries", async () => {
    let now = Date.parse("2026-11-21T14:05:01Z");
    const send = sender({ now: () => now });
    const first = await send.send(webhook(), message());
    now += 30_000;
    await send.send(webhook(), message());
    const [a, b] = received;
    expect(a?.headers["webhook-id"]).toBe(b?.headers["webhook-id"]);
    expect(a?.headers["webhook-timestamp"]).toBe(String(Date.parse("2026-11-21T14:05:01Z") / 1000));
    expect(b?.headers["webhook-timestamp"]).toBe(String(Date.parse("2026-11-21T14:05:31Z") / 1000));
    expect(first.messageId).toBe(a?.headers["webhook-id"]);
    // Webhook.verify checks the timestamp against the real clock: sign a fresh one to verify.
    await sender().send(webhook(), message());
    const fresh = received[2] as Received;
    const verified = new Webhook(SIGNING_SECRET).verify(fresh.body, fresh.headers as Record<string, string>);
    expect(verified).toMatchObject({ version: 1, type: "alert", monitor: { id: "api-health" } });
  });

  it("maps statuses: 400/401/403/404/410 permanent; 408/429/500/502/503 transient", async () => {
    const outcomes: Record<number, boolean> = {};
    for (const status of [400, 401, 403, 404, 410, 408, 429, 500, 502, 503]) {
      answer = (_, response) => {
        response.writeHead(status).end(`status ${status}`);
      };
      const error = await failure(sender().send(webhook(), message()));
      expect(error.message).toContain(String(status));
      outcomes[status] = error instanceof PermanentDeliveryError;
    }
    expect(outcomes).toEqual({
      400: true,
      401: true,
      403: true,
      404: true,
      410: true,
      408: false,
      429: false,
      500: false,
      502: false,
      503: false,
    });
  });

  it("follows no redirect: a 302 is a transient failure naming it, a 301 a permanent one", async () => {
    answer = (request, response) => {
      if (request.path === "/hook") response.writeHead(302, { location: `${base}/elsewhere` }).end();
      else response.writeHead(301, { location: "https://other.example/hook" }).end();
    };
    const moved = await failure(sender().send(webhook(), message()));
    expect(moved).not.toBeInstanceOf(PermanentDeliveryError);
    expect(moved.message).toContain(`answered 302 (a redirect to ${base})`);
    const gone = await failure(sender().send(webhook(`${base}/old`), message()));
    expect(gone).toBeInstanceOf(PermanentDeliveryError);
    expect(gone.message).toContain("answered 301 (a redirect to https://other.example)");
    expect(received.map((request) => request.path)).toEqual(["/hook", "/old"]);
  });

  it("gives up after the timeout when the receiver never answers (transient)", async () => {
    answer = () => {}; // never answers
    const error = await failure(sender({ timeoutMs: 300 }).send(webhook(), message()));
    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toBe("channel ops-hook (webhook): the webhook receiver: no answer within 300 ms");
  });

  it("reads at most 16 KB of an answer: an endless 200 is delivered, an endless 500 reported briefly", async () => {
    const endless = (status: number) => (_: Received, response: ServerResponse) => {
      response.writeHead(status);
      const chunk = "x".repeat(64 * 1024);
      const pump = () => {
        while (!response.destroyed && response.write(chunk)) {
          // fill the socket
        }
        if (!response.destroyed) response.once("drain", pump);
      };
      pump();
    };
    answer = endless(200);
    await expect(sender({ timeoutMs: 20_000 }).send(webhook(), message())).resolves.toMatchObject({
      messageId: expect.stringMatching(/^msg_/),
    });
    answer = endless(500);
    const error = await failure(sender({ timeoutMs: 20_000 }).send(webhook(), message()));
    expect(error.message.length).toBeLessThan(300);
    expect(error.message).toMatch(/answered 500 x+…$/);
  });

  it("decides by the status line: a 200 whose body then stalls is delivered, not retried", async () => {
    answer = (_, response) => {
      response.writeHead(200);
      response.write("o");
      // ...and nothing more: the body never ends.
    };
    await expect(sender({ timeoutMs: 400 }).send(slack(), message())).resolves.toMatchObject({
      messageId: expect.stringMatching(/^slack-/),
    });
    expect(received).toHaveLength(1);
  });

  it("reads a refused channel's secret again past the cache: a rotated webhook URL is used at once", async () => {
    const source = secrets();
    source.values.set(ARN("slack"), `${base}/services/OLD/${SLACK_TOKEN}`);
    answer = (request, response) =>
      request.path.startsWith("/services/OLD/")
        ? response.writeHead(404).end("no_service")
        : response.end("ok");
    const rotating = sender({ secrets: source });
    // Refused and unchanged: permanent, after one read past the cache.
    const refused = await failure(rotating.send(slack(), message()));
    expect(refused).toBeInstanceOf(PermanentDeliveryError);
    expect(source.reads).toHaveLength(2);
    // Rotated while the old URL is still cached: the refusal re-reads it and sends to the new one.
    source.values.set(ARN("slack"), `${base}/services/NEW/${SLACK_TOKEN}`);
    await expect(rotating.send(slack(), message())).resolves.toMatchObject({ messageId: expect.any(String) });
    expect(received.map((request) => request.path.split("/")[2])).toEqual(["OLD", "OLD", "NEW"]);
    expect(source.reads).toHaveLength(3);
  });

  it("masks a secret URL's host when the token is in the host name (a redirect names it)", async () => {
    const port = new URL(base).port;
    const source = secrets();
    source.values.set(ARN("hook-url"), `http://eo5ecr3ttoken9x.m.pipedream.example:${port}/`);
    answer = (_, response) =>
      response.writeHead(301, { location: "https://eo5ecr3ttoken9x.m.pipedream.example/" }).end();
    const error = await failure(
      sender({
        secrets: source,
        resolve: async () => [{ address: "127.0.0.1", family: 4 }],
      }).send(webhook({ secretRef: ARN("hook-url") }), message()),
    );
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).not.toContain("eo5ecr3ttoken9x");
    expect(error.message).toContain("answered 301 (a redirect to https://[secret])");
  });

  it("masks every secret in errors: a URL secret echoed by the receiver, the signing secret too", async () => {
    answer = (request, response) => {
      response.writeHead(404).end(`no hook at ${base}${request.path} (signed with ${SIGNING_SECRET})`);
    };
    const error = await failure(sender().send(webhook({ secretRef: ARN("hook-url") }), message()));
    expect(error.message).not.toContain(SLACK_TOKEN);
    expect(error.message).not.toContain(SIGNING_SECRET);
    expect(error.message).toBe(
      "channel ops-hook (webhook): the webhook receiver answered 404 no hook at [secret] (signed with [secret])",
    );
  });

  it("refuses loopback, link-local and metadata addresses unless allowed (permanent, nothing sent)", async () => {
    const strict = sender({ allowAddresses: [] });
    const literal = await failure(strict.send(webhook(), message()));
    expect(literal).toBeInstanceOf(PermanentDeliveryError);
    expect(literal.message).toContain("refused to connect to 127.0.0.1, a loopback address");
    const named = await failure(
      sender({
        allowAddresses: [],
        resolve: async () => [{ address: "169.254.169.254", family: 4 }],
      }).send(webhook("http://hooks.example.test/x"), message()),
    );
    expect(named).toBeInstanceOf(PermanentDeliveryError);
    expect(named.message).toContain("the cloud instance metadata service");
    expect(received).toHaveLength(0);
  });

  it("is transient when a secret cannot be read, naming the reference and never a value", async () => {
    const error = await failure(
      createChannelSender({ secrets: new MemorySecretSource(), allowAddresses: ["loopback"] }).send(
        webhook(),
        message(),
      ),
    );
    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toBe(
      `channel ops-hook: secret ${ARN("signing")} could not be read: no such secret in eu-west-1`,
    );
  });

  it("refuses a signing secret that is not whsec_ base64 (permanent), without quoting it", async () => {
    const source = secrets();
    source.values.set(ARN("signing"), "plain password 123");
    const error = await failure(
      createChannelSender({ secrets: source, allowAddresses: ["loopback"] }).send(webhook(), message()),
    );
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).not.toContain("plain password 123");
    expect(received).toHaveLength(0);
  });
});

describe("SNS (aws-sdk-client-mock: no local SNS server exists)", () => {
  const topicArn = "arn:aws:sns:eu-west-1:123456789012:oncall";
  const sns = () => channel({ name: "sms", kind: "sns", topicArn });
  const mock = mockClient(SNSClient);
  afterEach(() => mock.reset());
  afterAll(() => mock.restore());

  it("publishes subject, message and the type attribute to the topic", async () => {
    mock.on(PublishCommand).resolves({ MessageId: "sns-message-1" });
    const result = await sender().send(sns(), message());
    expect(result).toEqual({ messageId: "sns-message-1" });
    const input = mock.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      TopicArn: topicArn,
      Subject: "[Monitor ALERT] API health",
      MessageAttributes: { "watchkeeper.type": { DataType: "String", StringValue: "alert" } },
    });
    expect(input?.Message?.split("\n")[0]).toBe(
      "ALERT: API health is failing: GET https://api.example.org/health returned 503",
    );
  });

  it("is permanent when the topic is gone or not granted, transient when throttled", async () => {
    mock
      .on(PublishCommand)
      .rejects(new NotFoundException({ message: "Topic does not exist", $metadata: {} }));
    const gone = await failure(sender().send(sns(), message()));
    expect(gone).toBeInstanceOf(PermanentDeliveryError);
    expect(gone.message).toContain(`SNS says the topic ${topicArn} does not exist`);
    mock
      .on(PublishCommand)
      .rejects(new AuthorizationErrorException({ message: "not authorized", $metadata: {} }));
    const denied = await failure(sender().send(sns(), message()));
    expect(denied).toBeInstanceOf(PermanentDeliveryError);
    expect(denied.message).toContain("channelTopicArns");
    mock
      .on(PublishCommand)
      .rejects(new KMSAccessDeniedException({ message: "not allowed to use the key", $metadata: {} }));
    const keyDenied = await failure(sender().send(sns(), message()));
    expect(keyDenied).toBeInstanceOf(PermanentDeliveryError);
    expect(keyDenied.message).toContain("channelTopicKmsKeyArns");
    mock.on(PublishCommand).rejects(new ThrottledException({ message: "Rate exceeded", $metadata: {} }));
    const throttled = await failure(sender().send(sns(), message()));
    expect(throttled).not.toBeInstanceOf(PermanentDeliveryError);
  });
});

describe("CHANNEL_ALLOW_ADDRESSES", () => {
  it("reads the local runtime's setting, none when unset, and refuses an unknown kind", () => {
    expect(allowAddressesFromEnv("loopback")).toEqual(["loopback"]);
    expect(allowAddressesFromEnv(" loopback , link-local ")).toEqual(["loopback", "link-local"]);
    expect(allowAddressesFromEnv(undefined)).toEqual([]);
    expect(() => allowAddressesFromEnv("everything")).toThrow('"everything" is not one of');
  });
});
