import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { DynamoDbChannels } from "#adapters/dynamodb-channels.ts";
import type { ChannelDefinition } from "#core/channels.ts";
import { escapeHtml } from "#core/text.ts";
import { LOCAL_REGION } from "./servers.ts";

/**
 * The local channel receiver (issue 15): one HTTP server on 127.0.0.1 that captures what the
 * channels send, shaped as each receiver answers, and shows it beside the mail inbox:
 *
 * - `POST /slack/...`   a Slack incoming webhook: `ok`, or 400 `invalid_payload` without `text`;
 * - `POST /teams/...`   a Teams Workflows webhook: 202;
 * - `POST /v2/enqueue`  PagerDuty's Events API v2: 202 `{"status":"success","message":"Event processed","dedup_key":...}`,
 *                       400 `invalid event` without a 32-character routing_key or a known event_action;
 * - `POST /webhook/...` a Standard Webhooks receiver: the signature is verified (node:crypto) and the
 *                       result recorded; 401 when it does not verify;
 * - `GET /` an HTML page of the deliveries, newest first; `GET /deliveries.json` the same as JSON;
 * - `POST /` with `x-amz-target: secretsmanager.GetSecretValue`: a Secrets Manager stand-in serving
 *   the secrets of the seeded channels (their webhook URLs, routing key, signing secret), which the
 *   local orchestrator (AWS_ENDPOINT_URL_SECRETS_MANAGER) and `watchkeeper channel test --local`
 *   resolve exactly as they resolve `{"secretRef"}`s in AWS.
 */

export type DeliveryKind = "slack" | "teams" | "pagerduty" | "webhook";

export interface CapturedDelivery {
  id: number;
  kind: DeliveryKind;
  path: string;
  receivedAt: string;
  status: number;
  /** The parsed JSON body (or the text when it is not JSON). */
  body: unknown;
  /** Standard Webhooks headers, for `webhook` deliveries. */
  webhook?: { id: string; timestamp: string; verified: boolean; problem?: string };
}

export interface ChannelReceiver {
  /** http://127.0.0.1:<port> */
  url: string;
  deliveries(): CapturedDelivery[];
  /** Serves `value` for `arn` from the Secrets Manager stand-in. */
  addSecret(arn: string, value: string): void;
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_DELIVERIES = 200;
/** Standard Webhooks' default tolerance for the webhook-timestamp. */
const TIMESTAMP_TOLERANCE_S = 5 * 60;

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) {
        reject(new Error("body too large"));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Verifies a Standard Webhooks signature with any of `secrets` (whsec_ + base64 keys). */
export function verifyStandardWebhook(
  secrets: readonly string[],
  headers: IncomingMessage["headers"],
  body: string,
  nowSeconds: number,
): { verified: boolean; problem?: string } {
  const id = String(headers["webhook-id"] ?? "");
  const timestamp = String(headers["webhook-timestamp"] ?? "");
  const signatures = String(headers["webhook-signature"] ?? "");
  if (!id || !timestamp || !signatures) return { verified: false, problem: "missing webhook-* headers" };
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > TIMESTAMP_TOLERANCE_S) {
    return { verified: false, problem: "webhook-timestamp too old or too new" };
  }
  for (const secret of secrets) {
    const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
    const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
    for (const entry of signatures.split(" ")) {
      const [version, signature] = entry.split(",");
      if (version !== "v1" || !signature) continue;
      const given = Buffer.from(signature, "base64");
      if (given.length === expected.length && timingSafeEqual(given, expected)) return { verified: true };
    }
  }
  return { verified: false, problem: "no signature matches the signing secret" };
}

function pagerDutyAnswer(body: unknown): { status: number; json: Record<string, unknown> } {
  const event = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const errors: string[] = [];
  if (typeof event.routing_key !== "string" || event.routing_key.length !== 32) {
    errors.push("'routing_key' must be 32 characters");
  }
  if (!["trigger", "acknowledge", "resolve"].includes(String(event.event_action))) {
    errors.push("'event_action' must be trigger, acknowledge or resolve");
  }
  const payload = event.payload as Record<string, unknown> | undefined;
  if (event.event_action === "trigger") {
    for (const field of ["summary", "source", "severity"]) {
      if (typeof payload?.[field] !== "string" || payload[field] === "")
        errors.push(`'payload.${field}' is missing`);
    }
  } else if (typeof event.dedup_key !== "string") {
    errors.push("'dedup_key' is required for acknowledge and resolve");
  }
  if (errors.length > 0) {
    return { status: 400, json: { status: "invalid event", message: "Event object is invalid", errors } };
  }
  const dedupKey = typeof event.dedup_key === "string" ? event.dedup_key : randomBytes(16).toString("hex");
  return { status: 202, json: { status: "success", message: "Event processed", dedup_key: dedupKey } };
}

function page(deliveries: readonly CapturedDelivery[]): string {
  const rows = deliveries
    .map((delivery) => {
      const signature = delivery.webhook
        ? delivery.webhook.verified
          ? " · signature verified"
          : ` · signature NOT verified (${escapeHtml(delivery.webhook.problem ?? "")})`
        : "";
      const body = typeof delivery.body === "string" ? delivery.body : JSON.stringify(delivery.body, null, 2);
      return `<section><h2>#${delivery.id} ${escapeHtml(delivery.kind)} · ${escapeHtml(delivery.receivedAt)} · answered ${delivery.status}${signature}</h2><p><code>POST ${escapeHtml(delivery.path)}</code></p><pre>${escapeHtml(body)}</pre></section>`;
    })
    .join("\n");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Watchkeeper channel receiver</title>
<meta http-equiv="refresh" content="5">
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}pre{background:#f4f4f4;padding:1rem;overflow:auto;white-space:pre-wrap}h2{font-size:1rem}</style></head>
<body><h1>Channel deliveries</h1><p>${deliveries.length} captured (newest first; <a href="/deliveries.json">JSON</a>). Slack, Teams, PagerDuty and signed webhooks sent by the local runtime land here.</p>
${rows || "<p>Nothing yet.</p>"}</body></html>`;
}

export async function startChannelReceiver(
  options: { port?: number; signingSecrets?: readonly string[]; now?: () => number } = {},
): Promise<ChannelReceiver> {
  const deliveries: CapturedDelivery[] = [];
  const secrets = new Map<string, string>();
  const signingSecrets = options.signingSecrets ?? [];
  const now = options.now ?? Date.now;
  let next = 1;

  const send = (
    response: ServerResponse,
    status: number,
    body: string,
    type = "text/plain; charset=utf-8",
  ) => {
    response.writeHead(status, { "content-type": type, "cache-control": "no-store" }).end(body);
  };
  const sendJson = (response: ServerResponse, status: number, value: unknown, type = "application/json") =>
    send(response, status, JSON.stringify(value), type);

  const record = (delivery: Omit<CapturedDelivery, "id" | "receivedAt">) => {
    deliveries.unshift({ id: next++, receivedAt: new Date(now()).toISOString(), ...delivery });
    deliveries.length = Math.min(deliveries.length, MAX_DELIVERIES);
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = request.url ?? "/";
    const pathname = path.split("?")[0] ?? "/";
    if (request.method === "GET") {
      if (pathname === "/") return send(response, 200, page(deliveries), "text/html; charset=utf-8");
      if (pathname === "/deliveries.json") return sendJson(response, 200, deliveries);
      return send(response, 404, "not found");
    }
    if (request.method !== "POST") return send(response, 405, "method not allowed");
    const text = await readBody(request);
    const target = request.headers["x-amz-target"];
    if (pathname === "/" && target === "secretsmanager.GetSecretValue") {
      const { SecretId } = (parse(text) ?? {}) as { SecretId?: string };
      const value = SecretId === undefined ? undefined : secrets.get(SecretId);
      if (value === undefined) {
        return sendJson(
          response,
          400,
          {
            __type: "ResourceNotFoundException",
            message: "Secrets Manager can't find the specified secret.",
          },
          "application/x-amz-json-1.1",
        );
      }
      return sendJson(
        response,
        200,
        { ARN: SecretId, Name: SecretId?.split(":").pop(), SecretString: value, VersionId: "local" },
        "application/x-amz-json-1.1",
      );
    }
    const body = parse(text);
    if (pathname.startsWith("/slack/")) {
      const ok =
        typeof body === "object" && body !== null && typeof (body as { text?: unknown }).text === "string";
      record({ kind: "slack", path, status: ok ? 200 : 400, body });
      return send(response, ok ? 200 : 400, ok ? "ok" : "invalid_payload");
    }
    if (pathname.startsWith("/teams/")) {
      record({ kind: "teams", path, status: 202, body });
      return send(response, 202, "");
    }
    if (pathname === "/v2/enqueue") {
      const answer = pagerDutyAnswer(body);
      record({ kind: "pagerduty", path, status: answer.status, body });
      return sendJson(response, answer.status, answer.json);
    }
    if (pathname.startsWith("/webhook/")) {
      const check = verifyStandardWebhook(signingSecrets, request.headers, text, Math.floor(now() / 1000));
      const status = check.verified ? 204 : 401;
      record({
        kind: "webhook",
        path,
        status,
        body,
        webhook: {
          id: String(request.headers["webhook-id"] ?? ""),
          timestamp: String(request.headers["webhook-timestamp"] ?? ""),
          ...check,
        },
      });
      return send(response, status, check.verified ? "" : (check.problem ?? "invalid signature"));
    }
    return send(response, 404, "not found");
  }

  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) send(response, 400, "bad request");
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    deliveries: () => [...deliveries],
    addSecret: (arn, value) => {
      secrets.set(arn, value);
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The ARN the stand-in serves a local channel's secret under. */
export function localSecretArn(name: string): string {
  return `arn:aws:secretsmanager:${LOCAL_REGION}:000000000000:secret:watchkeeper-local/${name}-AbCdEf`;
}

/**
 * A receiver with a fresh signing secret and routing key, and the four local channels pointing at
 * it (their secrets served by its Secrets Manager stand-in): local-slack, local-teams,
 * local-pagerduty, local-webhook.
 */
export async function startLocalChannels(
  port = 0,
): Promise<{ receiver: ChannelReceiver; channels: ChannelDefinition[] }> {
  const signingSecret = `whsec_${randomBytes(32).toString("base64")}`;
  const receiver = await startChannelReceiver({ port, signingSecrets: [signingSecret] });
  const secrets: Record<string, string> = {
    slack: `${receiver.url}/slack/services/T0LOCAL/B0LOCAL/${randomBytes(12).toString("hex")}`,
    teams: `${receiver.url}/teams/workflows/local/triggers/manual/paths/invoke`,
    "pagerduty-routing-key": randomBytes(16).toString("hex"),
    "webhook-signing": signingSecret,
  };
  for (const [name, value] of Object.entries(secrets)) receiver.addSecret(localSecretArn(name), value);
  const ref = (name: string) => ({ secretRef: localSecretArn(name) });
  const channels: ChannelDefinition[] = [
    { name: "local-slack", kind: "slack", isActive: true, webhookUrl: ref("slack") },
    { name: "local-teams", kind: "teams", isActive: true, webhookUrl: ref("teams") },
    {
      name: "local-pagerduty",
      kind: "pagerduty",
      isActive: true,
      routingKey: ref("pagerduty-routing-key"),
      severity: "critical",
      eventsUrl: `${receiver.url}/v2/enqueue`,
    },
    {
      name: "local-webhook",
      kind: "webhook",
      isActive: true,
      url: `${receiver.url}/webhook/local`,
      signingSecret: ref("webhook-signing"),
    },
  ];
  return { receiver, channels };
}

/** Writes the local channels (replacing ones of the same name: their URLs change every start). */
export async function seedLocalChannels(
  directory: DynamoDbChannels,
  channels: readonly ChannelDefinition[],
): Promise<void> {
  for (const channel of channels) await directory.put(channel);
}
