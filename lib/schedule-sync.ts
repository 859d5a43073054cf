import { Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import type { TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { Effect, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { FilterCriteria, FilterRule, StartingPosition } from "aws-cdk-lib/aws-lambda";
import { DynamoEventSource, SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import { CfnSchedule, ScheduleGroup } from "aws-cdk-lib/aws-scheduler";
import { type Queue, QueueEncryption, Queue as SqsQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { CLOCK_SCHEDULE_NAME } from "../functions/core/buckets.ts";
import {
  HEARTBEAT_ID,
  HEARTBEAT_PERIOD_MINUTES,
  HEARTBEAT_SCHEDULE_EXPRESSION,
  heartbeatTickBody,
} from "../functions/core/heartbeat.ts";
import { CONFIG_RECORD } from "../functions/core/schemas.ts";
import { nagArn } from "./nag.ts";
import type { SenderIdentity } from "./sender-identity.ts";
import { WatchkeeperFunction } from "./watchkeeper-function.ts";

export interface ScheduleSyncProps {
  table: TableV2;
  ticks: Queue;
  /** Names the schedule group. */
  groupName: string;
  defaultTimezone: string;
  logRetention: RetentionDays;
  /** Mails a monitor's owners, once per distinct problem, when its schedule cannot be created. */
  sender?: SenderIdentity;
}

/**
 * Keeps each monitor's bucket membership (its schedule, engine v2) in line with its config item:
 * the stream-triggered function (functions/schedule-sync/handler.ts), plus the schedule group that
 * holds the stack's own schedules (the clock, the heartbeat), the role Scheduler assumes to send the
 * heartbeat, and Scheduler's DLQ.
 */
export class ScheduleSync extends Construct {
  readonly group: ScheduleGroup;
  readonly schedulerRole: Role;
  /** Ticks Scheduler could not deliver after its retries (Scheduler DLQs must be standard queues). */
  readonly schedulerDeadLetterQueue: SqsQueue;
  /** Stream records the function still failed on after its retries; reconcile repairs what they missed. */
  readonly failedRecordsQueue: SqsQueue;
  readonly lambda: WatchkeeperFunction;
  /**
   * The dead-man's switch: a heartbeat tick every HEARTBEAT_PERIOD_MINUTES through the monitors'
   * own path (this group, this role, the ticks queue), whether or not any monitor exists.
   */
  readonly heartbeat: CfnSchedule;

  constructor(scope: Construct, id: string, props: ScheduleSyncProps) {
    super(scope, id);
    this.group = new ScheduleGroup(this, "Group", {
      scheduleGroupName: props.groupName,
      // The schedules are derived from the table and rebuilt by reconcile; they go with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.schedulerDeadLetterQueue = this.deadLetterQueue("SchedulerDeadLetterQueue");
    this.failedRecordsQueue = this.deadLetterQueue("FailedRecordsQueue");
    this.schedulerRole = this.createSchedulerRole(props.ticks);
    this.heartbeat = this.createHeartbeat(props.ticks);

    this.lambda = new WatchkeeperFunction(this, "Lambda", {
      entry: "functions/schedule-sync/handler.ts",
      description: "Watchkeeper schedule-sync: Monitors config items to bucket schedules",
      serviceName: "schedule-sync",
      timeout: Duration.seconds(60),
      logRetention: props.logRetention,
      environment: {
        SCHEDULE_GROUP_NAME: this.group.scheduleGroupName,
        MONITORS_TABLE: props.table.tableName,
        DEFAULT_TIMEZONE: props.defaultTimezone,
      },
    });
    this.grantLegacyScheduleCleanup(props.groupName);
    this.grantStatusReports(props.table);
    this.grantBucketMembership(props.table);
    if (props.sender) this.sendFrom(props.sender);
    this.lambda.function.addEventSource(
      new DynamoEventSource(props.table, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        // State and history writes are the bulk of the stream: filtered out before they cost an invocation.
        filters: [
          FilterCriteria.filter({ dynamodb: { Keys: { record: { S: FilterRule.isEqual(CONFIG_RECORD) } } } }),
        ],
        batchSize: 25,
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        // Bounded, so a record that can never succeed is parked in the failure queue instead of
        // holding its shard (and every later config change on it) for the stream's 24 hours.
        retryAttempts: 10,
        maxRecordAge: Duration.hours(6),
        // One batch per shard at a time: the order of a monitor's changes is preserved.
        parallelizationFactor: 1,
        onFailure: new SqsDlq(this.failedRecordsQueue),
      }),
    );
  }

  private deadLetterQueue(id: string): SqsQueue {
    const queue = new SqsQueue(this, id, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(queue).acknowledge({
      id: "AwsSolutions-SQS3",
      reason: "This queue is itself a dead-letter destination; an operator alarm watches its depth.",
    });
    return queue;
  }

  /** Scheduler may assume it only on behalf of this account's schedule group, and may only send ticks. */
  private createSchedulerRole(ticks: Queue): Role {
    const stack = Stack.of(this);
    const role = new Role(this, "SchedulerRole", {
      description: "Assumed by EventBridge Scheduler to send Watchkeeper ticks",
      assumedBy: new ServicePrincipal("scheduler.amazonaws.com", {
        conditions: {
          StringEquals: { "aws:SourceAccount": stack.account },
          ArnEquals: { "aws:SourceArn": this.group.scheduleGroupArn },
        },
      }),
    });
    // The DLQ is delivered to with the schedule's own role, hence the second resource.
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ["sqs:SendMessage"],
        resources: [ticks.queueArn, this.schedulerDeadLetterQueue.queueArn],
      }),
    );
    return role;
  }

  /**
   * Built like a monitor's schedule (functions/adapters/scheduler.ts): same group, role, message
   * group rule, retry policy and DLQ, so it fails whenever their ticks would. Its name carries the
   * reserved prefix: no monitor can take it and reconcile never deletes it.
   */
  private createHeartbeat(ticks: Queue): CfnSchedule {
    const heartbeat = new CfnSchedule(this, "Heartbeat", {
      name: HEARTBEAT_ID,
      groupName: this.group.scheduleGroupName,
      description: `Watchkeeper heartbeat: proves Scheduler, the ticks queue and the orchestrator work (every ${HEARTBEAT_PERIOD_MINUTES} min)`,
      scheduleExpression: HEARTBEAT_SCHEDULE_EXPRESSION,
      scheduleExpressionTimezone: "UTC",
      state: "ENABLED",
      flexibleTimeWindow: { mode: "OFF" },
      target: {
        arn: ticks.queueArn,
        roleArn: this.schedulerRole.roleArn,
        input: heartbeatTickBody(),
        sqsParameters: { messageGroupId: HEARTBEAT_ID },
        // As a monitor's schedule (DEFAULT_RETRY_POLICY): an undeliverable heartbeat ends in
        // Scheduler's DLQ, whose alarm then fires alongside the heartbeat's own.
        retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 185 },
        deadLetterConfig: { arn: this.schedulerDeadLetterQueue.queueArn },
      },
    });
    // The group is named by a literal, not a reference; and the first heartbeat must find the
    // role's policy in place (RoleArn already orders the role itself).
    const policy = this.schedulerRole.node.tryFindChild("DefaultPolicy");
    heartbeat.node.addDependency(this.group, ...(policy ? [policy] : []));
    return heartbeat;
  }

  /**
   * Read and delete only: monitors moving from their pre-v2 per-monitor schedule to a bucket
   * (functions/core/schedule-migration.ts). Nothing here can create or change a schedule.
   */
  private grantLegacyScheduleCleanup(groupName: string): void {
    const fn = this.lambda.function;
    const schedules = Stack.of(this).formatArn({
      service: "scheduler",
      resource: "schedule",
      resourceName: `${groupName}/*`,
    });
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ["scheduler:GetSchedule", "scheduler:DeleteSchedule"],
        resources: [schedules],
      }),
    );
    // Never the stack's own schedules, whatever a bug in the code would ask.
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        actions: ["scheduler:DeleteSchedule"],
        resources: [HEARTBEAT_ID, CLOCK_SCHEDULE_NAME].map((name) =>
          Stack.of(this).formatArn({
            service: "scheduler",
            resource: "schedule",
            resourceName: `${groupName}/${name}`,
          }),
        ),
      }),
    );
    Validations.of(this.lambda.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagArn(Stack.of(this), `scheduler:%region%:%account%:schedule/${groupName}/*`)}]`,
      reason:
        "Old schedules are named after monitors created at run time; the grant is confined to the stack's schedule group.",
    });
  }

  /**
   * Member items and bucket headers (functions/adapters/dynamodb-buckets.ts), and the monitor
   * directory items (functions/adapters/monitor-directory.ts: a conditional PutItem, and DeleteItem
   * from grantStatusReports): writes only, never a read of the directory's index. IAM cannot tell
   * items apart by their sort key, so the grant is the table's, as it was before the directory.
   */
  private grantBucketMembership(table: TableV2): void {
    this.lambda.function.addToRolePolicy(
      new PolicyStatement({
        actions: ["dynamodb:PutItem"],
        resources: [table.tableArn],
      }),
    );
  }

  /** SendEmail from the notification sender, for the one "cannot be scheduled" mail per problem. */
  private sendFrom(sender: SenderIdentity): void {
    sender.grantSendEmail(this.lambda.role);
    this.lambda.function.addEnvironment("SENDER_EMAIL", sender.senderEmail);
    sender.configure(this.lambda.function);
  }

  /**
   * `scheduleError` on state items (UpdateItem), and deleting the state item of a monitor whose
   * config item was deleted (DeleteItem), so a new monitor under the same id starts afresh.
   */
  private grantStatusReports(table: TableV2): void {
    this.lambda.function.addToRolePolicy(
      new PolicyStatement({
        // DeleteItem inside a transaction with a ConditionCheck that the config item is still gone.
        actions: ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"],
        resources: [table.tableArn],
      }),
    );
  }
}
