import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SchedulerClient } from "@aws-sdk/client-scheduler";
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import * as z from "zod";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import { DynamoDbBuckets } from "#adapters/dynamodb-buckets.ts";
import { DynamoDbMonitorDirectory } from "#adapters/monitor-directory.ts";
import { DynamoDbScheduleStatus } from "#adapters/schedule-status.ts";
import { EventBridgeScheduler } from "#adapters/scheduler.ts";
import { createSesClient } from "#adapters/ses-client.ts";
import { SesNotifier } from "#adapters/ses-notifier.ts";
import { MigratingScheduler } from "#core/schedule-migration.ts";
import { parseRecipientDomains } from "#core/schemas.ts";
import { createScheduleSyncHandler, type ScheduleSyncHandler } from "./sync.ts";

export {
  createScheduleSyncHandler,
  type ScheduleSyncDependencies,
  type ScheduleSyncHandler,
  type ScheduleSyncMetric,
  type ScheduleSyncMetrics,
} from "./sync.ts";

/**
 * Schedule-sync Lambda: Monitors table stream (config items only, by the event-source filter) in,
 * bucket member items and monitor directory items out (and the deletion of a monitor's pre-v2 per-monitor schedule). Only wiring lives here; behaviour is in sync.ts and the pure
 * decision in functions/core/schedule-sync.ts.
 */

const logger = new Logger({ serviceName: "watchkeeper-schedule-sync" });
const metrics = new Metrics({ namespace: "Watchkeeper", serviceName: "schedule-sync" });
const tracer = new Tracer({ serviceName: "watchkeeper-schedule-sync" });

/** Everything the stack sets on the function (lib/schedule-sync.ts). */
export const ScheduleSyncEnvironmentSchema = z.object({
  MONITORS_TABLE: z.string().min(1),
  /** The group of the per-monitor schedules of earlier versions, deleted as monitors move to buckets. */
  SCHEDULE_GROUP_NAME: z.string().min(1),
  DEFAULT_TIMEZONE: z.string().min(1).optional(),
  /** Sender of the one mail owners get when their monitor cannot be scheduled; unset: no mail. */
  SENDER_EMAIL: z.string().min(1).optional(),
  /** The SES configuration set that mail is sent through (stack setting sesConfigurationSet); unset: none. */
  SES_CONFIGURATION_SET: z.string().min(1).optional(),
  /** Domains owners may be mailed in (stack setting allowedRecipientDomains); unset: any. */
  ALLOWED_RECIPIENT_DOMAINS: z
    .string()
    .optional()
    .superRefine((value, ctx) => {
      try {
        parseRecipientDomains(value);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
      }
    }),
});
export type ScheduleSyncEnvironment = z.infer<typeof ScheduleSyncEnvironmentSchema>;

export class MissingConfigurationError extends Error {
  override name = "MissingConfigurationError";
}

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): ScheduleSyncEnvironment {
  const parsed = ScheduleSyncEnvironmentSchema.safeParse(env);
  if (!parsed.success) {
    const names = parsed.error.issues.map((issue) => `${issue.path.join(".")} ${issue.message}`).join("; ");
    throw new MissingConfigurationError(`schedule-sync environment is incomplete: ${names}`);
  }
  return parsed.data;
}

function fromEnvironment(): ScheduleSyncHandler {
  const env = readEnvironment();
  const dynamo = tracer.captureAWSv3Client(new DynamoDBClient({ requestHandler: boundedRequestHandler() }));
  return createScheduleSyncHandler({
    scheduler: new MigratingScheduler(
      new DynamoDbBuckets({ tableName: env.MONITORS_TABLE, client: dynamo }),
      new EventBridgeScheduler({
        groupName: env.SCHEDULE_GROUP_NAME,
        client: tracer.captureAWSv3Client(new SchedulerClient({ requestHandler: boundedRequestHandler() })),
      }),
    ),
    status: new DynamoDbScheduleStatus(env.MONITORS_TABLE, dynamo),
    directory: new DynamoDbMonitorDirectory(env.MONITORS_TABLE, dynamo),
    ...(env.SENDER_EMAIL
      ? {
          notifier: new SesNotifier(
            env.SENDER_EMAIL,
            tracer.captureAWSv3Client(createSesClient()),
            env.SES_CONFIGURATION_SET,
          ),
        }
      : {}),
    logger,
    metrics: { count: (metric, value = 1) => metrics.addMetric(metric, MetricUnit.Count, value) },
    ...(env.DEFAULT_TIMEZONE ? { defaultTimezone: env.DEFAULT_TIMEZONE } : {}),
    allowedRecipientDomains: parseRecipientDomains(env.ALLOWED_RECIPIENT_DOMAINS),
  });
}

// Built on first use rather than at import, so the local runtime and tests can import the factory
// from this module without a Lambda environment.
let sync: ScheduleSyncHandler | undefined;

export async function handler(event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> {
  logger.addContext(context);
  sync ??= fromEnvironment();
  try {
    return await sync(event);
  } finally {
    metrics.publishStoredMetrics();
  }
}
