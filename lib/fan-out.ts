import { Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import type { TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import { CfnSchedule, type ScheduleGroup } from "aws-cdk-lib/aws-scheduler";
import { type Queue, QueueEncryption, Queue as SqsQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import {
  BUCKET_INDEX,
  BUCKETS_PARTITION,
  CLOCK_SCHEDULE_EXPRESSION,
  CLOCK_SCHEDULE_NAME,
} from "../functions/core/buckets.ts";
import { WatchkeeperFunction } from "./watchkeeper-function.ts";

/** The fan-out's timeout: 100,000 members take about 10 s (docs/performance.md). */
export const FAN_OUT_TIMEOUT = Duration.seconds(55);
/** How long Lambda keeps retrying a failed minute. */
export const FAN_OUT_MAX_EVENT_AGE = Duration.minutes(3);

export interface FanOutProps {
  table: TableV2;
  ticks: Queue;
  group: ScheduleGroup;
  logRetention: RetentionDays;
}

/**
 * Bucket schedules (engine v2): one clock schedule fires every minute and the fan-out function
 * (functions/fan-out/handler.ts) enqueues the ticks of every monitor due in that minute. A retried
 * invocation is harmless (the ticks queue deduplicates by content), so retries are kept inside the
 * queue's five-minute deduplication window, and what still fails lands in a dead-letter queue the
 * operator alarms watch.
 */
export class FanOut extends Construct {
  readonly lambda: WatchkeeperFunction;
  readonly clock: CfnSchedule;
  /** Clock invocations that failed after Lambda's async retries, or that Scheduler could not make. */
  readonly deadLetterQueue: SqsQueue;

  constructor(scope: Construct, id: string, props: FanOutProps) {
    super(scope, id);
    this.deadLetterQueue = new SqsQueue(this, "DeadLetterQueue", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: "AwsSolutions-SQS3",
      reason: "This queue is itself a dead-letter destination; an operator alarm watches its depth.",
    });
    this.lambda = new WatchkeeperFunction(this, "Lambda", {
      entry: "functions/fan-out/handler.ts",
      description: "Watchkeeper fan-out: enqueues the ticks of the monitors due this minute",
      serviceName: "fan-out",
      // 100,000 members take a few seconds (docs/performance.md); a minute is the next clock tick.
      timeout: FAN_OUT_TIMEOUT,
      memorySize: 512,
      logRetention: props.logRetention,
      environment: {
        MONITORS_TABLE: props.table.tableName,
        TICKS_QUEUE_URL: props.ticks.queueUrl,
      },
    });
    const fn = this.lambda.function;
    fn.configureAsyncInvoke({
      // Event age + the function's timeout stay inside the FIFO queue's 5-minute deduplication
      // window, so a retry can never double a tick (an infra test holds the sum under it).
      maxEventAge: FAN_OUT_MAX_EVENT_AGE,
      retryAttempts: 2,
      onFailure: new SqsDestination(this.deadLetterQueue),
    });
    this.grantReads(props.table);
    props.ticks.grantSendMessages(fn);
    this.clock = this.createClock(props.group);
  }

  /** Headers (Query on `__buckets`), members (Query on the index), and the empty-header sweep. */
  private grantReads(table: TableV2): void {
    const fn = this.lambda.function;
    // The table: bucket headers only (never a monitor's config, state or history)...
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ["dynamodb:Query"],
        resources: [table.tableArn],
        conditions: { "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": [BUCKETS_PARTITION] } },
      }),
    );
    // ...and the keys-only index of members.
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ["dynamodb:Query"],
        resources: [`${table.tableArn}/index/${BUCKET_INDEX}`],
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ["dynamodb:DeleteItem"],
        resources: [table.tableArn],
        // Only bucket headers: never a monitor's config, state or history.
        conditions: { "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": [BUCKETS_PARTITION] } },
      }),
    );
  }

  private createClock(group: ScheduleGroup): CfnSchedule {
    const stack = Stack.of(this);
    const deadLetterQueue = this.deadLetterQueue;
    const role = new Role(this, "ClockRole", {
      description: "Assumed by EventBridge Scheduler to invoke the Watchkeeper fan-out every minute",
      assumedBy: new ServicePrincipal("scheduler.amazonaws.com", {
        conditions: {
          StringEquals: { "aws:SourceAccount": stack.account },
          ArnEquals: { "aws:SourceArn": group.scheduleGroupArn },
        },
      }),
    });
    // The function itself, not `:*` (grantInvoke's versions and aliases): the clock calls $LATEST.
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ["lambda:InvokeFunction"],
        resources: [this.lambda.function.functionArn],
      }),
    );
    deadLetterQueue.grantSendMessages(role);
    const clock = new CfnSchedule(this, "Clock", {
      name: CLOCK_SCHEDULE_NAME,
      groupName: group.scheduleGroupName,
      description: "Watchkeeper clock: every minute, the fan-out enqueues the ticks of the monitors due",
      scheduleExpression: CLOCK_SCHEDULE_EXPRESSION,
      scheduleExpressionTimezone: "UTC",
      state: "ENABLED",
      flexibleTimeWindow: { mode: "OFF" },
      target: {
        arn: this.lambda.function.functionArn,
        roleArn: role.roleArn,
        input: JSON.stringify({ scheduledTime: "<aws.scheduler.scheduled-time>" }),
        // A minute's clock is useless after the next one; the fan-out's own retries are Lambda's.
        retryPolicy: { maximumEventAgeInSeconds: 240, maximumRetryAttempts: 10 },
        deadLetterConfig: { arn: deadLetterQueue.queueArn },
      },
    });
    const policy = role.node.tryFindChild("DefaultPolicy");
    clock.node.addDependency(group, ...(policy ? [policy] : []));
    return clock;
  }
}
