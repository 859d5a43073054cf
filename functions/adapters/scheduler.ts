import {
  ConflictException,
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  GetScheduleCommand,
  paginateListSchedules,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
} from "@aws-sdk/client-scheduler";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import type { ScheduleDefinition, SchedulerPort } from "#core/ports.ts";
import type { ScheduleReader } from "#core/schedule-sync.ts";

export interface RetryPolicy {
  /** @default 3600 — a tick older than an hour is superseded by newer ones anyway */
  maximumEventAgeSeconds: number;
  /** @default 185 (Scheduler's maximum; the event age bounds the retries first) */
  maximumRetryAttempts: number;
}

export interface EventBridgeSchedulerOptions {
  /** Schedule group that holds one schedule per monitor. */
  groupName: string;
  /** ARN of the SQS FIFO ticks queue. Needed by `upsert` only (reading and deleting need none). */
  ticksQueueArn?: string;
  /** Role Scheduler assumes to send to the ticks queue (and to the dead-letter queue). Needed by `upsert` only. */
  roleArn?: string;
  /** Standard SQS queue for ticks Scheduler could not deliver after its retries. Needed by `upsert` only. */
  deadLetterQueueArn?: string;
  /** @default { maximumEventAgeSeconds: 3600, maximumRetryAttempts: 185 } */
  retryPolicy?: RetryPolicy;
  /** @default a SchedulerClient with bounded requests — region and endpoint from the SDK's standard variables */
  client?: SchedulerClient;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maximumEventAgeSeconds: 3600, maximumRetryAttempts: 185 };

/**
 * The tick body of DESIGN.md §3. Scheduler substitutes the context attribute at each invocation;
 * JSON.stringify escapes whatever the monitor id contains.
 */
export function tickInput(monitorId: string): string {
  return JSON.stringify({ monitorId, scheduledTime: "<aws.scheduler.scheduled-time>" });
}

/**
 * SchedulerPort on EventBridge Scheduler: one schedule per monitor, named after the monitor. Since
 * engine v2 monitors live in bucket schedules (functions/adapters/dynamodb-buckets.ts); this adapter
 * remains for the migration (reading and deleting the old schedules) and the stack's own schedules.
 */
export class EventBridgeScheduler implements SchedulerPort, ScheduleReader {
  private readonly client: SchedulerClient;
  private readonly retryPolicy: RetryPolicy;

  constructor(private readonly options: EventBridgeSchedulerOptions) {
    this.client = options.client ?? new SchedulerClient({ requestHandler: boundedRequestHandler() });
    this.retryPolicy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
  }

  /** The full schedule for a monitor: Update replaces every field, so it is always sent whole. */
  scheduleRequest(definition: ScheduleDefinition): CreateScheduleCommandInput {
    const { ticksQueueArn, roleArn, deadLetterQueueArn } = this.options;
    if (!ticksQueueArn || !roleArn || !deadLetterQueueArn) {
      throw new Error("creating a schedule needs ticksQueueArn, roleArn and deadLetterQueueArn");
    }
    return {
      Name: definition.monitorId,
      GroupName: this.options.groupName,
      Description: `Watchkeeper ticks for monitor ${definition.monitorId}`,
      ScheduleExpression: definition.expression,
      ScheduleExpressionTimezone: definition.timezone,
      State: definition.enabled ? "ENABLED" : "DISABLED",
      // Ticks carry their own scheduledTime; a flexible window would only blur the logical clock.
      FlexibleTimeWindow: { Mode: "OFF" },
      ActionAfterCompletion: "NONE",
      Target: {
        Arn: ticksQueueArn,
        RoleArn: roleArn,
        Input: tickInput(definition.monitorId),
        SqsParameters: { MessageGroupId: definition.monitorId },
        RetryPolicy: {
          MaximumEventAgeInSeconds: this.retryPolicy.maximumEventAgeSeconds,
          MaximumRetryAttempts: this.retryPolicy.maximumRetryAttempts,
        },
        DeadLetterConfig: { Arn: deadLetterQueueArn },
      },
    };
  }

  async upsert(definition: ScheduleDefinition): Promise<void> {
    const request = this.scheduleRequest(definition);
    // Most changes edit an existing monitor, so Update first; the Create/Update fallbacks cover a
    // first write and a concurrent creator (reconcile running alongside the stream).
    try {
      await this.client.send(new UpdateScheduleCommand(request));
      return;
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
    try {
      await this.client.send(new CreateScheduleCommand(request));
    } catch (error) {
      if (!(error instanceof ConflictException)) throw error;
      await this.client.send(new UpdateScheduleCommand(request));
    }
  }

  /** GetSchedule, as far as Watchkeeper's definition goes; undefined when there is no such schedule. */
  async describe(monitorId: string): Promise<ScheduleDefinition | undefined> {
    try {
      const schedule = await this.client.send(
        new GetScheduleCommand({ Name: monitorId, GroupName: this.options.groupName }),
      );
      return {
        monitorId,
        expression: schedule.ScheduleExpression ?? "",
        timezone: schedule.ScheduleExpressionTimezone ?? "UTC",
        enabled: schedule.State !== "DISABLED",
      };
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  /**
   * For the migration to bucket schedules (functions/core/schedule-migration.ts): the expression and
   * the instant a rate schedule counts from (its last update, else its creation).
   */
  async anchorOf(monitorId: string): Promise<{ expression: string; anchor: Date } | undefined> {
    try {
      const schedule = await this.client.send(
        new GetScheduleCommand({ Name: monitorId, GroupName: this.options.groupName }),
      );
      const anchor = schedule.LastModificationDate ?? schedule.CreationDate;
      if (!schedule.ScheduleExpression || !anchor) return undefined;
      return { expression: schedule.ScheduleExpression, anchor };
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  async remove(monitorId: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteScheduleCommand({ Name: monitorId, GroupName: this.options.groupName }),
      );
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
  }

  async list(): Promise<string[]> {
    const names: string[] = [];
    const pages = paginateListSchedules({ client: this.client }, { GroupName: this.options.groupName });
    for await (const page of pages) {
      for (const schedule of page.Schedules ?? []) if (schedule.Name) names.push(schedule.Name);
    }
    return names.sort();
  }
}
