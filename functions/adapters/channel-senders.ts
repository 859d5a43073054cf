import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import type { PublishCommandInput, SNSClient } from "@aws-sdk/client-sns";
import {
  deliveryKey,
  pagerDutyEvent,
  SigningSecretError,
  slackPayload,
  snsPayload,
  standardWebhookHeaders,
  teamsPayload,
  webhookBody,
  webhookId,
} from "#core/channel-payloads.ts";
import {
  type ChannelDefinition,
  type ChannelMessage,
  type ChannelSender,
  PAGERDUTY_DEFAULT_EVENTS_URL,
} from "#core/channels.ts";
import { PermanentDeliveryError, type SecretSource } from "#core/ports.ts";
import { maskSecretValues, SecretResolutionError, SecretResolver } from "#core/secrets.ts";
import { describeThrown, headerSafe } from "#core/text.ts";
import {
  type AddressKind,
  AddressRefusedError,
  guardedLookup,
  parseAddressKinds,
  type Resolver,
  refusal,
  systemResolver,
} from "#monitors/support/addresses.ts";
import { checkClientConfig, lazyImport, regionalClients } from "#monitors/support/clients.ts";
import { describeNetworkError } from "#monitors/support/network.ts";

/**
 * ChannelSender over HTTP (Slack, Teams, PagerDuty, signed webhooks) and Amazon SNS (issue 15).
 *
 * - Secrets: the channel's `{"secretRef"}` values are resolved through the orchestrator's secret
 *   machinery (functions/core/secrets.ts, cached 5 minutes) just before sending; every resolved
 *   value is masked (`[secret]`) in every error this sender throws.
 * - Egress: one request per delivery, a connection of its own, a real timeout over the whole
 *   exchange (AbortSignal), no redirect followed, at most `maxResponseBytes` of the answer read,
 *   and the checks' address policy (monitors/support/addresses.ts): loopback, link-local and cloud
 *   metadata addresses are refused unless `allowAddresses` names them (the local runtime allows
 *   loopback for its receiver).
 * - Answers: 2xx delivered; 408, 425, 429, 5xx, network errors and timeouts are transient (a plain
 *   Error: the engine retries within its budget); any other 4xx, a permanent redirect (301, 308), a
 *   refused address and a secret that holds no usable value throw PermanentDeliveryError with the
 *   receiver's reason in words.
 */

/** How long one delivery may take, connection to last byte. */
export const CHANNEL_TIMEOUT_MS = 10_000;
/** The most of an answer read: receivers answer "ok" or a short JSON. */
export const CHANNEL_MAX_RESPONSE_BYTES = 16 * 1024;

/** What the sender needs of SNS (the SDK's SNSClient satisfies it). */
export interface SnsPublisher {
  send(command: { input: PublishCommandInput }): Promise<{ MessageId?: string | undefined }>;
}

export interface ChannelSenderOptions {
  /**
   * Reads the channels' secret references: AwsSecretSource in AWS. Pass the orchestrator's
   * SecretResolver to share its cache with the checks.
   */
  secrets: SecretSource | SecretResolver;
  /** Address kinds HTTP channels may reach despite the egress policy. @default [] (none) */
  allowAddresses?: readonly AddressKind[];
  /** @default CHANNEL_TIMEOUT_MS */
  timeoutMs?: number;
  /** @default CHANNEL_MAX_RESPONSE_BYTES */
  maxResponseBytes?: number;
  /** How host names are resolved. @default the system resolver */
  resolve?: Resolver;
  /** Extra certificate authorities to trust (tests). */
  ca?: string;
  /** The SNS client for a region. @default a bounded SNSClient, the SDK loaded on first use */
  sns?: (region: string) => SnsPublisher;
  /** Wall clock in ms (the webhook timestamp). @default Date.now */
  now?: () => number;
}

/**
 * The address kinds of `CHANNEL_ALLOW_ADDRESSES` (comma-separated; the local runtime sets
 * "loopback" for its receiver). Unset or empty: none. An unknown kind throws: the policy must not
 * lapse silently.
 */
export function allowAddressesFromEnv(value: string | undefined): AddressKind[] {
  return parseAddressKinds(value, "CHANNEL_ALLOW_ADDRESSES");
}

const loadSns = lazyImport(() => import("@aws-sdk/client-sns"));

interface HttpAnswer {
  status: number;
  statusText: string;
  body: string;
  location: string | undefined;
}

class Refused extends PermanentDeliveryError {}

/** A string a secret must hold to be used as a URL. */
function httpUrl(value: unknown, what: string): URL {
  if (typeof value === "string" && URL.canParse(value.trim())) {
    const url = new URL(value.trim());
    if (url.protocol === "https:" || url.protocol === "http:") return url;
  }
  throw new Refused(`${what} is not an http(s) URL`);
}

const SLACK_REASONS: Record<string, string> = {
  no_service: "the webhook is gone",
  no_team: "the webhook's workspace is gone",
  team_disabled: "the webhook's workspace is disabled",
  invalid_token: "the webhook's token is invalid",
  channel_not_found: "the webhook's channel is gone",
  channel_is_archived: "the webhook's channel is archived",
  action_prohibited: "an admin restricted posting to the channel",
  posting_to_general_channel_denied: "only admins may post to that channel",
  invalid_payload: "the message was refused as malformed",
  user_not_found: "the webhook's user is gone",
  too_many_attachments: "the message was refused as too large",
};

/** The receiver's own words from a short body: a JSON error's code/message, or the text itself. */
function bodyWords(body: string): string {
  const trimmed = body.trim();
  if (trimmed === "") return "";
  try {
    const parsed = JSON.parse(trimmed) as Record<string, unknown>;
    const error = parsed.error as Record<string, unknown> | string | undefined;
    const parts = [
      typeof error === "object" && error ? error.code : error,
      typeof error === "object" && error ? error.message : undefined,
      parsed.status,
      parsed.message,
      Array.isArray(parsed.errors) ? parsed.errors.join("; ") : undefined,
    ].filter((part) => typeof part === "string" && part !== "");
    if (parts.length > 0) return [...new Set(parts)].join(": ");
  } catch {
    // not JSON: the text itself
  }
  return trimmed;
}

function transientStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** Receivers whose host names no secret (the secret is in the path): kept readable in errors. */
const PROVIDER_HOSTS = [
  /^hooks\.slack\.com$/,
  /\.logic\.azure\.com$/,
  /\.powerplatform\.com$/,
  /\.webhook\.office\.com$/,
  /^events(\.eu)?\.pagerduty\.com$/,
];

/**
 * The secret values, plus the host and origin of any secret URL on a receiver's own host: some
 * webhook services put the token in the host name (`https://<token>.m.pipedream.net/`), and a
 * redirect or a refused address names the host.
 */
function withSecretHosts(values: readonly string[]): string[] {
  const masked = [...values];
  for (const value of values) {
    if (!URL.canParse(value)) continue;
    const url = new URL(value);
    if (!/^https?:$/.test(url.protocol) || PROVIDER_HOSTS.some((host) => host.test(url.hostname))) continue;
    masked.push(url.origin, url.host, url.hostname);
  }
  return masked;
}

export function createChannelSender(options: ChannelSenderOptions): ChannelSender {
  const resolver =
    options.secrets instanceof SecretResolver ? options.secrets : new SecretResolver(options.secrets);
  const allowed = new Set<AddressKind>(options.allowAddresses ?? []);
  const timeoutMs = options.timeoutMs ?? CHANNEL_TIMEOUT_MS;
  const maxBytes = options.maxResponseBytes ?? CHANNEL_MAX_RESPONSE_BYTES;
  const resolve = options.resolve ?? systemResolver;
  const now = options.now ?? Date.now;
  const snsClients = regionalClients<SnsPublisher>((region) => {
    if (options.sns) return options.sns(region ?? "");
    let client: SNSClient | undefined;
    return {
      async send(command) {
        const sdk = await loadSns();
        client ??= new sdk.SNSClient(checkClientConfig(region));
        return client.send(new sdk.PublishCommand(command.input));
      },
    };
  });

  /** One POST, no redirect followed, the answer read up to maxBytes, all within timeoutMs. */
  async function post(url: URL, headers: Record<string, string>, body: string): Promise<HttpAnswer> {
    const literal = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (isIP(literal)) {
      const reason = refusal(url.hostname, literal, allowed);
      if (reason) throw new AddressRefusedError(reason);
    }
    const signal = AbortSignal.timeout(timeoutMs);
    const transport = url.protocol === "https:" ? httpsRequest : httpRequest;
    const payload = Buffer.from(body, "utf8");
    const response = await new Promise<IncomingMessage>((resolveResponse, reject) => {
      const request = transport(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": String(payload.byteLength),
          "user-agent": "Watchkeeper",
          accept: "application/json, text/plain, */*",
          ...headers,
        },
        signal,
        agent: false,
        lookup: guardedLookup(resolve, allowed),
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      });
      request.once("response", (answer: IncomingMessage) => {
        answer.on("error", () => {});
        resolveResponse(answer);
      });
      request.on("error", reject);
      request.end(payload);
    });
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        const room = maxBytes - size;
        chunks.push(chunk.subarray(0, room));
        size += Math.min(room, chunk.byteLength);
        if (chunk.byteLength >= room) break; // bounded: the rest is never read
      }
    } catch {
      // The status line decides the outcome: a receiver that accepted the message (2xx) and then
      // stalls or drops its body must not get it again on a retry. What was read is kept.
    } finally {
      response.destroy();
    }
    return {
      status: response.statusCode ?? 0,
      statusText: response.statusMessage ?? "",
      body: Buffer.concat(chunks).toString("utf8"),
      location: typeof response.headers.location === "string" ? response.headers.location : undefined,
    };
  }

  /** Why the exchange failed, in words (never a secret: the caller masks). */
  function requestFailure(error: unknown, receiver: string): Error {
    if (error instanceof PermanentDeliveryError) return error;
    if (error instanceof AddressRefusedError || (error as Error)?.cause instanceof AddressRefusedError) {
      const refused = error instanceof AddressRefusedError ? error : ((error as Error).cause as Error);
      return new Refused(
        `${receiver}: ${refused.message.replace(/ \([^()]*allowAddresses[^()]*\)$/, "")}: channels may not reach loopback, link-local or metadata addresses`,
      );
    }
    const name = (error as Error)?.name;
    if (name === "TimeoutError" || name === "AbortError") {
      return new Error(`${receiver}: no answer within ${timeoutMs} ms`);
    }
    return new Error(`${receiver}: ${describeNetworkError(error)}`);
  }

  /**
   * POSTs and judges the answer: resolves for a 2xx, throws a transient Error or a
   * PermanentDeliveryError naming the status and `explain(answer)`.
   */
  async function deliver(
    receiver: string,
    url: URL,
    headers: Record<string, string>,
    body: string,
    explain: (answer: HttpAnswer) => string,
  ): Promise<HttpAnswer> {
    let answer: HttpAnswer;
    try {
      answer = await post(url, headers, body);
    } catch (error) {
      throw requestFailure(error, receiver);
    }
    const { status } = answer;
    if (status >= 200 && status < 300) return answer;
    if (status >= 300 && status < 400) {
      const where =
        answer.location && URL.canParse(answer.location, url.href)
          ? new URL(answer.location, url).origin
          : "";
      const text = `${receiver} answered ${status} (a redirect${where ? ` to ${where}` : ""}): channels follow no redirects; use the final URL`;
      throw status === 301 || status === 308 ? new Refused(text) : new Error(text);
    }
    const words = explain(answer);
    const text = `${receiver} ${words}`;
    if (transientStatus(status)) throw new Error(text);
    throw new Refused(text);
  }

  const statusWords = (answer: HttpAnswer) => {
    const words = headerSafe(bodyWords(answer.body), 200);
    return `${answer.status}${words ? ` ${words}` : answer.statusText ? ` ${answer.statusText}` : ""}`;
  };

  async function sendResolved(
    channel: ChannelDefinition,
    resolved: Record<string, unknown>,
    message: ChannelMessage,
  ): Promise<{ messageId: string }> {
    switch (channel.kind) {
      case "slack": {
        const url = httpUrl(resolved.webhookUrl, `the secret ${channel.webhookUrl.secretRef} (webhookUrl)`);
        await deliver("Slack", url, {}, JSON.stringify(slackPayload(message)), (answer) => {
          const code = answer.body.trim();
          const meaning = SLACK_REASONS[code];
          if (meaning) return `says ${meaning} (${answer.status} ${code})`;
          return `answered ${statusWords(answer)}`;
        });
        return { messageId: `slack-${deliveryKey(channel.name, message)}` };
      }
      case "teams": {
        const url = httpUrl(resolved.webhookUrl, `the secret ${channel.webhookUrl.secretRef} (webhookUrl)`);
        await deliver("Teams", url, {}, JSON.stringify(teamsPayload(message)), (answer) =>
          answer.status === 404 || answer.status === 410
            ? `says the workflow webhook is gone (${statusWords(answer)})`
            : `answered ${statusWords(answer)}`,
        );
        return { messageId: `teams-${deliveryKey(channel.name, message)}` };
      }
      case "pagerduty": {
        const routingKey = resolved.routingKey;
        if (typeof routingKey !== "string" || !/^[A-Za-z0-9]{32}$/.test(routingKey.trim())) {
          throw new Refused(
            `the secret ${channel.routingKey.secretRef} (routingKey) is not a PagerDuty integration key (32 letters and digits)`,
          );
        }
        const event = pagerDutyEvent(message, { routingKey: routingKey.trim(), severity: channel.severity });
        const url = new URL(channel.eventsUrl ?? PAGERDUTY_DEFAULT_EVENTS_URL);
        const answer = await deliver("PagerDuty", url, {}, JSON.stringify(event), (reply) =>
          reply.status === 400
            ? `refused the event (${statusWords(reply)})`
            : `answered ${statusWords(reply)}`,
        );
        let dedupKey: unknown;
        try {
          dedupKey = (JSON.parse(answer.body) as { dedup_key?: unknown }).dedup_key;
        } catch {
          dedupKey = undefined;
        }
        return { messageId: typeof dedupKey === "string" && dedupKey !== "" ? dedupKey : event.dedup_key };
      }
      case "webhook": {
        const url = httpUrl(
          resolved.url,
          typeof channel.url === "string" ? "url" : `the secret ${channel.url.secretRef} (url)`,
        );
        const secret = resolved.signingSecret;
        const id = webhookId(channel.name, message);
        const body = JSON.stringify(webhookBody(channel.name, message));
        let headers: Record<string, string>;
        try {
          headers = standardWebhookHeaders(String(secret), id, Math.floor(now() / 1000), body);
        } catch (error) {
          if (!(error instanceof SigningSecretError)) throw error;
          throw new Refused(
            `the secret ${channel.signingSecret.secretRef} (signingSecret): ${error.message}`,
          );
        }
        await deliver(
          "the webhook receiver",
          url,
          headers,
          body,
          (answer) => `answered ${statusWords(answer)}`,
        );
        return { messageId: id };
      }
      case "sns":
        return publish(channel, message);
    }
  }

  async function publish(
    channel: Extract<ChannelDefinition, { kind: "sns" }>,
    message: ChannelMessage,
  ): Promise<{ messageId: string }> {
    const region = channel.topicArn.split(":")[3] as string;
    const input = { TopicArn: channel.topicArn, ...snsPayload(channel.name, channel.topicArn, message) };
    try {
      const output = await snsClients(region).send({ input });
      return { messageId: output.MessageId ?? `sns-${deliveryKey(channel.name, message)}` };
    } catch (error) {
      const name = (error as { name?: string })?.name ?? "";
      const words = `${name}${(error as Error)?.message ? `: ${headerSafe((error as Error).message, 300)}` : ""}`;
      switch (name) {
        case "NotFoundException":
        case "NotFound":
          throw new Refused(`SNS says the topic ${channel.topicArn} does not exist (${words})`);
        case "AuthorizationErrorException":
        case "AuthorizationError":
        case "AccessDeniedException":
          throw new Refused(
            `SNS refused to publish to ${channel.topicArn}: list it in the stack setting channelTopicArns (${words})`,
          );
        case "KMSAccessDeniedException":
          throw new Refused(
            `SNS could not encrypt the message for ${channel.topicArn} with the topic's KMS key: list a customer managed key in the stack setting channelTopicKmsKeyArns (${words})`,
          );
        case "InvalidParameterException":
        case "InvalidParameterValueException":
        case "KMSDisabledException":
        case "KMSInvalidStateException":
        case "KMSNotFoundException":
        case "InvalidSecurityException":
          throw new Refused(`SNS refused the message for ${channel.topicArn} (${words})`);
        default:
          throw new Error(`SNS could not publish to ${channel.topicArn} (${words || describeThrown(error)})`);
      }
    }
  }

  return {
    async send(channel, message) {
      let resolved: { params: Record<string, unknown>; values: string[] };
      try {
        resolved = await resolver.resolve(channel as unknown as Record<string, unknown>);
      } catch (error) {
        // Transient: a missing grant or secret is fixed by the operator within the retry budget.
        throw new Error(
          `channel ${channel.name}: ${error instanceof SecretResolutionError ? error.message : describeThrown(error)}`,
        );
      }
      try {
        return await sendResolved(channel, resolved.params, message);
      } catch (error) {
        let failure = error;
        let masked = resolved.values;
        if (error instanceof PermanentDeliveryError && resolved.values.length > 0) {
          // Refused with a cached secret: it may have been rotated (a new webhook URL or routing key)
          // since it was read. Read it again past the cache, and send once more only if it changed,
          // so a rotation never abandons a notification and a real refusal costs one extra read.
          const fresh = await resolver
            .resolve(channel as unknown as Record<string, unknown>, undefined, { fresh: true })
            .catch(() => undefined);
          if (fresh && fresh.values.join("\u0000") !== resolved.values.join("\u0000")) {
            masked = [...resolved.values, ...fresh.values];
            try {
              return await sendResolved(channel, fresh.params, message);
            } catch (again) {
              failure = again;
            }
          }
        }
        const text = maskSecretValues(
          `channel ${channel.name} (${channel.kind}): ${failure instanceof Error ? failure.message : describeThrown(failure)}`,
          withSecretHosts(masked),
        );
        throw failure instanceof PermanentDeliveryError ? new PermanentDeliveryError(text) : new Error(text);
      }
    },
  };
}
