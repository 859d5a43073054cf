import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Context } from "aws-lambda";
import * as z from "zod";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import { DynamoDbBuckets } from "#adapters/dynamodb-buckets.ts";
import { SqsTickQueue } from "#adapters/sqs-ticks.ts";
import type { FanOutReport } from "#core/fan-out.ts";
import { type ClockEvent, createFanOutHandler, type FanOutHandler } from "./fan-out.ts";

export {
  type ClockEvent,
  createFanOutHandler,
  type FanOutDependencies,
  FanOutIncompleteError,
} from "./fan-out.ts";

/**
 * Fan-out Lambda: invoked every minute by the clock schedule, enqueues the ticks of the monitors due
 * in that minute. Only wiring lives here; behaviour is in fan-out.ts and functions/core/fan-out.ts.
 */

const logger = new Logger({ serviceName: "watchkeeper-fan-out" });
const metrics = new Metrics({ namespace: "Watchkeeper", serviceName: "fan-out" });
const tracer = new Tracer({ serviceName: "watchkeeper-fan-out" });

/** Everything the stack sets on the function (lib/fan-out.ts). */
export const FanOutEnvironmentSchema = z.object({
  MONITORS_TABLE: z.string().min(1),
  TICKS_QUEUE_URL: z.string().url(),
});

export function readEnvironment(
  env: NodeJS.ProcessEnv = process.env,
): z.infer<typeof FanOutEnvironmentSchema> {
  const parsed = FanOutEnvironmentSchema.safeParse(env);
  if (!parsed.success) {
    const names = parsed.error.issues.map((issue) => `${issue.path.join(".")} ${issue.message}`).join("; ");
    throw new Error(`fan-out environment is incomplete: ${names}`);
  }
  return parsed.data;
}

const UNITS = { FanOutLagSeconds: MetricUnit.Seconds } as const;

function fromEnvironment(): FanOutHandler {
  const env = readEnvironment();
  return createFanOutHandler({
    buckets: new DynamoDbBuckets({
      tableName: env.MONITORS_TABLE,
      client: tracer.captureAWSv3Client(new DynamoDBClient({ requestHandler: boundedRequestHandler() })),
    }),
    queue: new SqsTickQueue(
      env.TICKS_QUEUE_URL,
      tracer.captureAWSv3Client(new SQSClient({ requestHandler: boundedRequestHandler() })),
    ),
    logger,
    metrics: {
      record: (metric, value) =>
        metrics.addMetric(
          metric,
          metric in UNITS ? UNITS[metric as keyof typeof UNITS] : MetricUnit.Count,
          value,
        ),
    },
  });
}

let fanOut: FanOutHandler | undefined;

export async function handler(event: ClockEvent, context: Context): Promise<FanOutReport> {
  logger.addContext(context);
  fanOut ??= fromEnvironment();
  try {
    return await fanOut(event);
  } finally {
    metrics.publishStoredMetrics();
  }
}
