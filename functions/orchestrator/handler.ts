import { processPartialResponse, SqsFifoPartialProcessorAsync } from "@aws-lambda-powertools/batch";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { notificationLinksFromEnv } from "#adapters/ack-link-keys.ts";
import { AWS_REQUEST_TIMEOUTS, boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import { awsSecretApis } from "#adapters/aws-secret-clients.ts";
import { AwsSecretSource } from "#adapters/aws-secret-source.ts";
import { createDocumentClient, DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { lazyImport } from "#adapters/lazy-import.ts";
import { lazySesClient, SesNotifier } from "#adapters/ses-notifier.ts";
import { SqsDeliveryRetries } from "#adapters/sqs-delivery-retries.ts";
import { SqsEarlyAck } from "#adapters/sqs-early-ack.ts";
import { SqsRejectedTickSink } from "#adapters/sqs-rejected-ticks.ts";
import { SqsRetryDelay } from "#adapters/sqs-retry-delay.ts";
import type { ChannelDirectory, ChannelSender } from "#core/channels.ts";
import { parseChannelNames } from "#core/delivery-targets.ts";
import { parseHeartbeat } from "#core/heartbeat.ts";
import type { ChannelPorts } from "#core/outbox-delivery.ts";
import type { Logger as LoggerPort, NotificationLinks, SecretSource } from "#core/ports.ts";
import { redactingLogger } from "#core/redacting-logger.ts";
import { parseRecipientDomains } from "#core/schemas.ts";
import { type InvocationLimits, type TickDependencies, type TickOutcome, TickProcessor } from "#core/tick.ts";
import { LazyChecks } from "#monitors/lazy-registry.ts";
import {
  CHANNEL_DELIVERY_ABANDONED,
  CONFIG_PROBLEMS_FOUND,
  HEARTBEAT,
  NOTIFICATION_ABANDONED,
  NOTIFICATION_DELIVERY_FAILED,
  NOTIFICATION_DROPPED,
  ORCHESTRATOR_METRICS_SERVICE,
} from "./metric-names.ts";

/**
 * Orchestrator Lambda: SQS FIFO ticks (and `deliver` ticks from the delivery-retry queue) in,
 * partial batch failures out. Only wiring lives here; the
 * tick use case is functions/core/tick.ts. Endpoints, region and credentials come solely from the
 * AWS SDK's standard environment variables, so this file runs unchanged in Lambda and locally.
 */

const powertoolsLogger = new Logger({ serviceName: "watchkeeper-orchestrator" });
const metrics = new Metrics({ namespace: "Watchkeeper", serviceName: ORCHESTRATOR_METRICS_SERVICE });

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

/** Emits one metric per outcome so dashboards and alarms can see every path a tick takes. */
export function recordOutcomeMetrics(outcome: TickOutcome, sink: Pick<Metrics, "addMetric"> = metrics): void {
  const count = (name: string) => sink.addMetric(name, MetricUnit.Count, 1);
  count(`Tick_${outcome.status}`);
  const deliveries = "healed" in outcome ? [...outcome.healed] : [];
  if (outcome.status === "applied" && outcome.delivery) deliveries.push(outcome.delivery);
  for (const delivery of deliveries) {
    if (!delivery.targets) {
      if (delivery.delivered) {
        count(`NotificationSent_${delivery.type}`);
        if (delivery.delayMs > 0)
          sink.addMetric("NotificationDelay", MetricUnit.Milliseconds, delivery.delayMs);
      } else count(NOTIFICATION_DELIVERY_FAILED);
      if (!delivery.delivered && delivery.abandoned) count(NOTIFICATION_ABANDONED);
      continue;
    }
    // Per target (issue 15): one count per email recipient or channel.
    for (const target of delivery.targets) {
      if (target.status === "delivered") {
        count(`NotificationSent_${delivery.type}`);
        if (target.delayMs > 0) sink.addMetric("NotificationDelay", MetricUnit.Milliseconds, target.delayMs);
      } else if (target.status === "dropped") {
        count(NOTIFICATION_DROPPED);
      } else {
        count(NOTIFICATION_DELIVERY_FAILED);
        if (target.status === "abandoned") {
          if (target.kind === "email") count(NOTIFICATION_ABANDONED);
          else {
            count(CHANNEL_DELIVERY_ABANDONED);
            count(`${CHANNEL_DELIVERY_ABANDONED}_${target.kind}`);
          }
        }
      }
    }
  }
  if (outcome.status !== "applied") return;
  if (!outcome.check.isOk) count("CheckFailed");
  if (outcome.configProblems) count("InvalidConfig");
  // Once per new or changed problem, not per tick: the operators' alarm fires once for it.
  if (outcome.configProblemsChanged) count(CONFIG_PROBLEMS_FOUND);
  sink.addMetric("CheckDuration", MetricUnit.Milliseconds, outcome.check.durationMs);
}

export interface OrchestratorDependencies extends Omit<TickDependencies, "logger"> {
  /**
   * Where the orchestrator logs (Powertools' Logger in Lambda); every line goes through a
   * redacting logger first (URL credentials, token-like query parameters, secret-looking keys).
   */
  logger?: LoggerPort;
  /** Brings failed ticks back sooner than the queue's visibility timeout (best effort). */
  retryDelay?: Pick<SqsRetryDelay, "delay">;
  /**
   * Deletes a message group's processed records as soon as the group is done, so that the
   * monitor's next tick is not held back by slower groups of the same batch (best effort).
   */
  earlyAck?: Pick<SqsEarlyAck, "ack">;
}

/** Time kept back at the end of an invocation for persisting, mailing and the batch response. */
const INVOCATION_SAFETY_MS = 15_000;
const INVOCATION_SAFETY_SHARE = 0.1;

/** Records per FIFO message group, in batch order (SQS delivers a group's messages in order). */
function byMessageGroup(records: SQSRecord[]): SQSRecord[][] {
  const groups = new Map<string, SQSRecord[]>();
  for (const record of records) {
    const group = record.attributes.MessageGroupId ?? record.messageId;
    groups.set(group, [...(groups.get(group) ?? []), record]);
  }
  return [...groups.values()];
}

/**
 * Deletes a finished group's processed records now rather than when the invocation returns:
 * SQS FIFO hands out nothing more of a group while one of its messages is in flight, so until then
 * the monitor's next tick would wait for the slowest check of the batch. Failed records stay for
 * the batch response. Best effort: if this fails, the event source deletes them at the end as
 * usual; it never fails a tick.
 */
async function acknowledgeEarly(
  earlyAck: OrchestratorDependencies["earlyAck"],
  succeeded: readonly SQSRecord[],
  logger: LoggerPort,
): Promise<void> {
  if (!earlyAck || succeeded.length === 0) return;
  try {
    await earlyAck.ack(succeeded);
  } catch (error) {
    logger.warn("could not delete processed ticks early; the event source deletes them at the end", {
      messageIds: succeeded.map((record) => record.messageId),
      error: error as Error,
    });
  }
}

/**
 * How long finished groups are collected before their records are deleted together. Groups with
 * fast checks finish within milliseconds of each other: one DeleteMessageBatch for all of them
 * instead of one per group keeps isolation's cost near one SQS request per invocation, and a
 * quarter of a second is nothing against a one-minute cadence.
 */
export const EARLY_ACK_WINDOW_MS = 250;

/** Finished groups' processed records, deleted in batches (see EARLY_ACK_WINDOW_MS). */
class EarlyAcks {
  #pending: SQSRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #sent: Promise<void>[] = [];

  constructor(
    private readonly earlyAck: OrchestratorDependencies["earlyAck"],
    private readonly logger: LoggerPort,
  ) {}

  add(records: readonly SQSRecord[], failures: readonly { itemIdentifier: string }[]): void {
    if (!this.earlyAck) return;
    const failed = new Set(failures.map((failure) => failure.itemIdentifier));
    this.#pending.push(...records.filter((record) => !failed.has(record.messageId)));
    if (this.#pending.length > 0) this.#timer ??= setTimeout(() => this.#flush(), EARLY_ACK_WINDOW_MS);
  }

  #flush(): void {
    this.#timer = undefined;
    const batch = this.#pending.splice(0);
    if (batch.length > 0) this.#sent.push(acknowledgeEarly(this.earlyAck, batch, this.logger));
  }

  /** At the end of the invocation: what is still collected is left to the event source. */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = [];
    await Promise.all(this.#sent);
  }
}

/** Builds a handler around any adapters: the Lambda entry point below, the local runtime, tests. */
export function createOrchestratorHandler(deps: OrchestratorDependencies) {
  const logger = redactingLogger(deps.logger ?? powertoolsLogger);
  const ticks = new TickProcessor({ ...deps, logger });
  const processRecordBefore = (invocation: InvocationLimits) => async (record: SQSRecord) => {
    // The dead-man's switch: counted and acknowledged before any table access, never rejected.
    if (parseHeartbeat(record.body)) {
      metrics.addMetric(HEARTBEAT, MetricUnit.Count, 1);
      return "heartbeat";
    }
    try {
      const outcome = await ticks.process(record.body, invocation);
      recordOutcomeMetrics(outcome);
      return outcome.status;
    } catch (error) {
      // Fails this message only (and, FIFO, the rest of its group): SQS redelivers it later.
      metrics.addMetric("TickRetried", MetricUnit.Count, 1);
      logger.warn("tick will be retried", { messageId: record.messageId, error: error as Error });
      throw error;
    }
  };
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    powertoolsLogger.addContext(context);
    const now = deps.wallClock?.().getTime() ?? Date.now();
    const remaining = context.getRemainingTimeInMillis();
    const budgetMs = remaining - Math.min(INVOCATION_SAFETY_MS, remaining * INVOCATION_SAFETY_SHARE);
    const deadline = now + budgetMs;
    // One read for the whole batch: each monitor's first tick uses it, later ones read again.
    const prefetched = await ticks.prefetch(event.Records.map((record) => record.body));
    const processRecord = processRecordBefore({ deadline, budgetMs, prefetched });
    // Never outlives the invocation: closed (pending timer cancelled) however it ends.
    const acks = new EarlyAcks(deps.earlyAck, logger);
    try {
      // Monitors are independent: each message group (one monitor) runs in parallel with the
      // others, so a slow check never delays another monitor's tick; a group's own ticks run in
      // order through Powertools' FIFO processor (one per group, since a processor holds a batch).
      // A finished group's processed records are deleted at once, so a slow check does not delay
      // another monitor's next tick either (see acknowledgeEarly).
      // skipGroupOnError: a failing tick holds back only its own monitor's later ticks.
      // throwOnFullBatchFailure off: the response names every failed message; a thrown error
      // would hide which monitors failed from the logs and metrics.
      const groups = byMessageGroup(event.Records);
      let running = groups.length;
      const responses = await Promise.all(
        groups.map(async (Records) => {
          const response = await processPartialResponse(
            { Records },
            processRecord,
            new SqsFifoPartialProcessorAsync(),
            {
              context,
              skipGroupOnError: true,
              throwOnFullBatchFailure: false,
            },
          );
          running -= 1;
          // The last group to finish is not worth a request: the invocation returns right after.
          if (running > 0) acks.add(Records, response.batchItemFailures);
          return response;
        }),
      );
      const batchItemFailures = responses.flatMap((response) => response.batchItemFailures);
      if (batchItemFailures.length > 0 && deps.retryDelay) {
        const failed = new Set(batchItemFailures.map((failure) => failure.itemIdentifier));
        // Best effort: if it fails, the messages still come back after the visibility timeout.
        await deps.retryDelay
          .delay(event.Records.filter((record) => failed.has(record.messageId)))
          .catch((error: unknown) =>
            logger.warn("could not shorten the retry delay", { error: error as Error }),
          );
      }
      return { batchItemFailures };
    } finally {
      await acks.close();
      metrics.publishStoredMetrics();
    }
  };
}

/** STATE_HEARTBEAT_MINUTES as milliseconds; throws on a value the stack would have refused. */
export function stateHeartbeatMs(minutes: string): number {
  const value = Number(minutes);
  if (!Number.isInteger(value) || value < 0 || value > 1440)
    throw new Error(`STATE_HEARTBEAT_MINUTES must be whole minutes from 0 to 1440, not ${minutes}`);
  return value * 60_000;
}

/**
 * The channel ports (issue 15) around a sender: the channel directory is the Monitors table's
 * `__channels` partition, read only when a notification has something for a channel.
 */
export function channelPorts(
  sender: ChannelPorts["sender"],
  tableName: string,
  dynamo: DynamoDBClient,
): ChannelPorts {
  return { directory: lazyChannelDirectory(tableName, dynamo), sender };
}

/**
 * The channel items, read through functions/adapters/dynamodb-channels.ts loaded on the first read:
 * only a notification to send reads them, so a cold start does not build the channels' schemas.
 */
function lazyChannelDirectory(tableName: string, dynamo: DynamoDBClient): ChannelDirectory {
  const directory = lazyImport(async () => {
    const { DynamoDbChannels } = await import("#adapters/dynamodb-channels.ts");
    return new DynamoDbChannels({ tableName, client: dynamo });
  });
  return { list: async () => (await directory()).list() };
}

/**
 * A ChannelSender that loads functions/adapters/channel-senders.ts on its first send: most ticks
 * notify no channel, so a cold start neither ships nor parses the payloads and HTTP senders (the
 * orchestrator's bundle is split, lib/lambda-bundling.ts).
 */
export function lazyChannelSender(secrets: SecretSource): ChannelSender {
  const sender = lazyImport(async () => {
    const { allowAddressesFromEnv, createChannelSender } = await import("#adapters/channel-senders.ts");
    return createChannelSender({
      secrets,
      allowAddresses: allowAddressesFromEnv(process.env.CHANNEL_ALLOW_ADDRESSES),
    });
  });
  return { send: async (channel, message) => (await sender()).send(channel, message) };
}

/**
 * The optional delivery ports: channels (read only when a notification is due), and the links
 * (signed ack links, the dashboard's page) when the stack has a dashboard.
 * Without them, notifications go by email only and carry no ack or dashboard link.
 */
function deliveryPorts(
  tableName: string,
  dynamo: DynamoDBClient,
  secrets: SecretSource,
): { channels?: ChannelPorts; links?: NotificationLinks } {
  const links = notificationLinksFromEnv();
  return {
    channels: channelPorts(lazyChannelSender(secrets), tableName, dynamo),
    ...(links ? { links } : {}),
  };
}

/**
 * No Powertools Tracer here: Lambda's active tracing already records each invocation, and the X-Ray
 * SDK it would pull in adds 125 KB to the bundle and ~23 ms CPU to every cold start of a function
 * that runs once per monitor per minute (docs/performance.md).
 */
function dependenciesFromEnvironment(): OrchestratorDependencies {
  // Bounded requests: a hung socket must fail the tick, not hold the batch until the timeout.
  const requestHandler = boundedRequestHandler(AWS_REQUEST_TIMEOUTS);
  const dynamo = new DynamoDBClient({ requestHandler });
  const deadLetterQueueUrl = process.env.TICKS_DLQ_URL;
  const retryBaseSeconds = Number(process.env.TICK_RETRY_BASE_SECONDS);
  const deliveryRetryQueueUrl = process.env.DELIVERY_RETRY_QUEUE_URL;
  const deliveryBudgetHours = Number(process.env.DELIVERY_BUDGET_HOURS);
  // Write on change: 0 writes every tick; unset keeps the core's default (15 minutes).
  const heartbeatMinutes = process.env.STATE_HEARTBEAT_MINUTES;
  const sqs = new SQSClient({ requestHandler });
  // Each check's module loads when a config item first names it, before the tick asks for it
  // (monitors/lazy-registry.ts): a cold start builds no check, a fleet loads only the ones it uses.
  const checks = new LazyChecks();
  const tableName = requiredEnv("MONITORS_TABLE");
  const secrets = new AwsSecretSource(awsSecretApis);
  return {
    store: new DynamoMonitorStore(tableName, createDocumentClient(dynamo)),
    ...deliveryPorts(tableName, dynamo, secrets),
    // Made on the first send: most ticks send no mail, so a cold start does not load SES.
    notifier: new SesNotifier(
      requiredEnv("SENDER_EMAIL"),
      lazySesClient(),
      process.env.SES_CONFIGURATION_SET,
    ),
    ...(deadLetterQueueUrl
      ? {
          rejected: new SqsRejectedTickSink(deadLetterQueueUrl, sqs),
        }
      : {}),
    ...(deliveryRetryQueueUrl ? { retries: new SqsDeliveryRetries(deliveryRetryQueueUrl, sqs) } : {}),
    findCheck: (name) => checks.find(name),
    secrets,
    ...(retryBaseSeconds > 0 ? { retryDelay: new SqsRetryDelay(retryBaseSeconds, sqs) } : {}),
    earlyAck: new SqsEarlyAck(sqs),
    options: {
      ...(process.env.DEFAULT_TIMEZONE ? { defaultTimezone: process.env.DEFAULT_TIMEZONE } : {}),
      // Throws on a malformed value: the restriction must not lapse (the stack validates it).
      allowedRecipientDomains: parseRecipientDomains(process.env.ALLOWED_RECIPIENT_DOMAINS),
      ...(deliveryBudgetHours > 0 ? { deliveryBudgetMs: deliveryBudgetHours * 3_600_000 } : {}),
      ...(heartbeatMinutes ? { stateHeartbeatMs: stateHeartbeatMs(heartbeatMinutes) } : {}),
      // Throws on a malformed list: the stack validates it (setting `defaultChannels`).
      defaultChannels: parseChannelNames(process.env.DEFAULT_CHANNELS),
    },
  };
}

export const handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> =
  createOrchestratorHandler(dependenciesFromEnvironment());
