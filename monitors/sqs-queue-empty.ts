import { GetQueueAttributesCommand, type QueueAttributeName, SQSClient } from "@aws-sdk/client-sqs";
import * as z from "zod/mini";
import { abortedError } from "./support/abort.ts";
import { checkClientConfig, REGION_PATTERN, regionalClients } from "./support/clients.ts";
import { errorText, plural } from "./support/format.ts";
import { must, parseParams } from "./support/params.ts";
import type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * `sqs-queue-empty`: a queue (typically a dead-letter queue) must hold no visible messages, or
 * fewer than `maxMessages`. Counts are SQS's approximate attributes, which is what its console and
 * CloudWatch show too. A missing queue or a denied call throws: the check could not look.
 */

export const SQS_QUEUE_EMPTY_CHECK = "sqs-queue-empty";

/**
 * `http(s)://host/path`, checked by pattern rather than WHATWG URL parsing: emulators hand out
 * URLs such as `http://sqs.us-east-1.127.0.0.1:4566/000000000000/q` that the SDK accepts but the
 * URL parser rejects (a dotted host ending in an IPv4 address).
 */
const QUEUE_URL = /^https?:\/\/([^\s/?#:]+)(?::\d+)?\/[^\s?#]*[^\s/?#][^\s?#]*$/i;

export const SqsQueueEmptyParamsSchema = z.strictObject({
  queueUrl: z
    .string({ error: must("must be an SQS queue URL") })
    .check(
      z.regex(QUEUE_URL, "must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)"),
    )
    .register(z.globalRegistry, {
      description: "The queue URL, e.g. https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq.",
    }),
  maxMessages: z
    ._default(z.number({ error: must("must be a whole number of at least 1") }).check(z.int(), z.gte(1)), 1)
    .register(z.globalRegistry, {
      description: "OK while the visible message count is below this: 1 means the queue must be empty.",
    }),
  region: z
    .optional(
      z
        .string({ error: must("must be an AWS region such as us-east-1") })
        .check(z.regex(REGION_PATTERN, "must be an AWS region such as us-east-1")),
    )
    .register(z.globalRegistry, {
      description: "Region of the queue.",
      defaultText: "the region in the queue URL, else the SDK's (AWS_REGION)",
    }),
});
export type SqsQueueEmptyParams = z.infer<typeof SqsQueueEmptyParamsSchema>;

// `sqs.<region>.amazonaws.com[.cn]` and the legacy `<region>.queue.amazonaws.com[.cn]`.
const QUEUE_HOST = /^(?:sqs\.([a-z0-9-]+)|([a-z0-9-]+)\.queue)\.amazonaws\.com(?:\.cn)?$/;

/**
 * The region a queue URL names. The SDK sends to the URL's host anyway, so a client of another
 * region would sign for the wrong region and be rejected.
 */
export function regionOfQueueUrl(queueUrl: string): string | undefined {
  const host = QUEUE_URL.exec(queueUrl)?.[1]?.toLowerCase() ?? "";
  const match = QUEUE_HOST.exec(host);
  const region = match?.[1] ?? match?.[2];
  return region && REGION_PATTERN.test(region) ? region : undefined;
}

function queueName(queueUrl: string): string {
  return queueUrl.split("/").filter(Boolean).at(-1) ?? queueUrl;
}

const ATTRIBUTES = [
  "ApproximateNumberOfMessages",
  "ApproximateNumberOfMessagesNotVisible",
  "ApproximateNumberOfMessagesDelayed",
] as const satisfies readonly QueueAttributeName[];

function count(attributes: Partial<Record<string, string>> | undefined, name: string): number {
  const value = Number(attributes?.[name] ?? Number.NaN);
  return Number.isFinite(value) ? value : 0;
}

export interface SqsQueueEmptyOptions {
  /** Client for a region (undefined: the SDK's default region). @default cached `new SQSClient(checkClientConfig(region))` */
  clientFor?: (region: string | undefined) => SQSClient;
}

export function createSqsQueueEmptyCheck(options: SqsQueueEmptyOptions = {}): CheckDefinition {
  const clientFor =
    options.clientFor ??
    regionalClients(
      (region) =>
        // The endpoint comes from the region (or AWS_ENDPOINT_URL_SQS), never from the queue URL's
        // host: the region is already read from that host, and emulators may hand out hosts that
        // do not resolve (fauxqs' default `sqs.<region>.localhost`), which the SDK would dial.
        new SQSClient({ ...checkClientConfig(region), useQueueUrlAsEndpoint: false }),
    );

  async function run(ctx: CheckContext): Promise<CheckResult> {
    const params = parseParams(SQS_QUEUE_EMPTY_CHECK, SqsQueueEmptyParamsSchema, ctx.params);
    const name = queueName(params.queueUrl);
    const client = clientFor(params.region ?? regionOfQueueUrl(params.queueUrl));
    let attributes: Partial<Record<string, string>> | undefined;
    try {
      const output = await client.send(
        new GetQueueAttributesCommand({ QueueUrl: params.queueUrl, AttributeNames: [...ATTRIBUTES] }),
        { abortSignal: ctx.signal },
      );
      attributes = output.Attributes;
    } catch (error) {
      if (ctx.signal.aborted) throw abortedError(ctx.signal, `GetQueueAttributes on queue ${name}`);
      const errorName = (error as Error).name;
      if (errorName === "QueueDoesNotExist" || errorName === "AWS.SimpleQueueService.NonExistentQueue") {
        throw new Error(`queue ${name} does not exist (params.queueUrl ${params.queueUrl})`, {
          cause: error,
        });
      }
      throw new Error(`GetQueueAttributes on queue ${name} failed: ${errorText(error)}`, { cause: error });
    }

    const visible = count(attributes, "ApproximateNumberOfMessages");
    const inFlight = count(attributes, "ApproximateNumberOfMessagesNotVisible");
    const delayed = count(attributes, "ApproximateNumberOfMessagesDelayed");
    const others = `${inFlight} in flight, ${delayed} delayed`;
    const isOk = visible < params.maxMessages;
    ctx.logger.debug("sqs-queue-empty check", { queue: name, visible, inFlight, delayed });

    if (params.maxMessages === 1) {
      return isOk
        ? { isOk, message: `queue ${name} has no visible messages (${others})` }
        : {
            isOk,
            message: `queue ${name} has ${plural(visible, "visible message")}; it should be empty (${others})`,
          };
    }
    const limit = `the limit of ${params.maxMessages}`;
    return {
      isOk,
      message: `queue ${name} has ${plural(visible, "visible message")}, ${isOk ? "below" : "at or above"} ${limit} (${others})`,
    };
  }

  return {
    name: SQS_QUEUE_EMPTY_CHECK,
    description:
      "OK while the SQS queue at params.queueUrl (e.g. a DLQ) has fewer than params.maxMessages (default 1: empty) visible messages.",
    paramsSchema: SqsQueueEmptyParamsSchema,
    example: {
      name: "Orders DLQ is empty",
      params: { queueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq" },
    },
    run,
  };
}

export const sqsQueueEmptyCheck = createSqsQueueEmptyCheck();
