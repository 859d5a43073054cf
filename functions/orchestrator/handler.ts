import { processPartialResponse, SqsFifoPartialProcessorAsync } from "@aws-lambda-powertools/batch";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SESv2Client } from "@aws-sdk/client-sesv2";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { createDocumentClient, DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { SesNotifier } from "#adapters/ses-notifier.ts";
import { SqsRejectedTickSink } from "#adapters/sqs-rejected-ticks.ts";
import { type TickDependencies, type TickOutcome, TickProcessor } from "#core/tick.ts";
import { findCheck } from "#monitors/index.ts";

/**
 * Orchestrator Lambda: SQS FIFO ticks in, partial batch failures out. Only wiring lives here; the
 * tick use case is functions/core/tick.ts. Endpoints, region and credentials come solely from the
 * AWS SDK's standard environment variables, so this file runs unchanged in Lambda and locally.
 */

const logger = new Logger({ serviceName: "watchkeeper-orchestrator" });
const metrics = new Metrics({ namespace: "Watchkeeper", serviceName: "orchestrator" });
const tracer = new Tracer({ serviceName: "watchkeeper-orchestrator" });

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

/** Emits one metric per outcome so dashboards and alarms can see every path a tick takes. */
export function recordOutcomeMetrics(outcome: TickOutcome, sink: Pick<Metrics, "addMetric"> = metrics): void {
  const count = (name: string) => sink.addMetric(name, MetricUnit.Count, 1);
  count(`Tick_${outcome.status}`);
  if (outcome.status !== "applied") return;
  if (!outcome.check.isOk) count("CheckFailed");
  if (outcome.configProblems) count("InvalidConfig");
  for (const delivery of [outcome.delivery, outcome.healed]) {
    if (!delivery) continue;
    if (delivery.delivered) count(`NotificationSent_${delivery.type}`);
    else count("NotificationDeliveryFailed");
  }
  sink.addMetric("CheckDuration", MetricUnit.Milliseconds, outcome.check.durationMs);
}

export type OrchestratorDependencies = Omit<TickDependencies, "logger">;

/** Builds a handler around any adapters: the Lambda entry point below, the local runtime, tests. */
export function createOrchestratorHandler(deps: OrchestratorDependencies) {
  const ticks = new TickProcessor({ ...deps, logger });
  const processRecord = async (record: SQSRecord) => {
    logger.appendKeys({ messageId: record.messageId });
    try {
      const outcome = await ticks.process(record.body);
      recordOutcomeMetrics(outcome);
      return outcome.status;
    } catch (error) {
      // Fails this message only (and, FIFO, the rest of its group): SQS redelivers it later.
      metrics.addMetric("TickRetried", MetricUnit.Count, 1);
      logger.warn("tick will be retried", { error: error as Error });
      throw error;
    } finally {
      logger.removeKeys(["messageId"]);
    }
  };
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    // A processor holds the batch being processed: one per invocation, so that concurrent
    // invocations of one handler (local runtime, tests) never share a batch.
    const processor = new SqsFifoPartialProcessorAsync();
    logger.addContext(context);
    try {
      // skipGroupOnError: a failing monitor holds back only its own later ticks, not other monitors'.
      // throwOnFullBatchFailure off: the response already names every failed message, and a
      // thrown error would hide from logs and metrics which monitors failed.
      return await processPartialResponse(event, processRecord, processor, {
        context,
        skipGroupOnError: true,
        throwOnFullBatchFailure: false,
      });
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

function dependenciesFromEnvironment(): OrchestratorDependencies {
  const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({}));
  const ses = tracer.captureAWSv3Client(new SESv2Client({ maxAttempts: 4 }));
  const deadLetterQueueUrl = process.env.TICKS_DLQ_URL;
  return {
    store: new DynamoMonitorStore(requiredEnv("MONITORS_TABLE"), createDocumentClient(dynamo)),
    notifier: new SesNotifier(requiredEnv("SENDER_EMAIL"), ses, process.env.SES_CONFIGURATION_SET),
    ...(deadLetterQueueUrl
      ? {
          rejected: new SqsRejectedTickSink(deadLetterQueueUrl, tracer.captureAWSv3Client(new SQSClient({}))),
        }
      : {}),
    findCheck,
    ...(process.env.DEFAULT_TIMEZONE ? { options: { defaultTimezone: process.env.DEFAULT_TIMEZONE } } : {}),
  };
}

export const handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> =
  createOrchestratorHandler(dependenciesFromEnvironment());
