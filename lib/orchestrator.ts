import { Duration, Validations } from "aws-cdk-lib";
import type { TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { CHANNELS_PARTITION } from "../functions/core/channels.ts";
import { DELIVERY_RETRY_MAX_CONCURRENCY } from "./constants.ts";
import { dataFlowReadGrants } from "./data-flow-read-arns.ts";
import type { SenderIdentity } from "./sender-identity.ts";
import { WatchkeeperFunction } from "./watchkeeper-function.ts";

/**
 * The longest check the orchestrator accepts is 840 s (ConfigFieldSchemas.checkTimeoutSeconds);
 * a minute more leaves time to load, persist and send.
 */
export const ORCHESTRATOR_TIMEOUT = Duration.seconds(900);
/** First retry delay of a failed tick (doubling per receive; the event source grants ChangeMessageVisibility). */
export const TICK_RETRY_BASE_SECONDS = 30;

export interface OrchestratorProps {
  table: TableV2;
  ticks: Queue;
  ticksDeadLetterQueue: Queue;
  /** Where failed deliveries are retried on their own backoff (DeliveryRetryQueue). */
  deliveryRetries: Queue;
  /** WatchkeeperSettings.deliveryBudgetHours. */
  deliveryBudgetHours: number;
  /** WatchkeeperSettings.stateHeartbeatMinutes (0: every tick writes). @default 15 */
  stateHeartbeatMinutes?: number;
  /** WatchkeeperSettings.defaultChannels: channels of monitors that name none. @default [] */
  defaultChannels?: readonly string[];
  sender: SenderIdentity;
  defaultTimezone: string;
  logRetention: RetentionDays;
  /** Queues, tables, buckets, state machines and clusters the checks read (WatchkeeperSettings.checkReadArns). */
  checkReadArns: readonly string[];
  /** WatchkeeperSettings.checkAlarmReads: cloudwatch:DescribeAlarms on every alarm. @default false */
  checkAlarmReads?: boolean;
  /** WatchkeeperSettings.checkMetricReads: cloudwatch:GetMetricData (no resource-level permission). @default false */
  checkMetricReads?: boolean;
  /** Secrets the checks' params may reference (WatchkeeperSettings.checkSecretArns). */
  checkSecretArns?: readonly string[];
  /** KMS keys of those secrets (WatchkeeperSettings.checkSecretKmsKeyArns). */
  checkSecretKmsKeyArns?: readonly string[];
  /** Address kinds monitors' allowAddresses may open (WatchkeeperSettings.checkAllowAddresses). */
  checkAllowAddresses?: readonly string[];
  /** SNS topics `sns` channels publish to (WatchkeeperSettings.channelTopicArns). */
  channelTopicArns?: readonly string[];
  /** KMS keys of those topics (WatchkeeperSettings.channelTopicKmsKeyArns). */
  channelTopicKmsKeyArns?: readonly string[];
  /** Secrets notification channels reference (WatchkeeperSettings.channelSecretArns). */
  channelSecretArns?: readonly string[];
  /** KMS keys of those secrets (WatchkeeperSettings.channelSecretKmsKeyArns). */
  channelSecretKmsKeyArns?: readonly string[];
  /**
   * Ticks per invocation. The handler runs each monitor's ticks in parallel with the others', so a
   * batch costs one invocation and the slowest check, not the sum of the checks; it starts no
   * check that could outlive the invocation (those ticks are retried).
   * @default 10
   */
  batchSize?: number;
  /** WatchkeeperSettings.orchestratorMaxConcurrency: invocations the ticks queue may run at once. */
  maxConcurrency: number;
  /** WatchkeeperSettings.orchestratorReservedConcurrency (0: none). */
  reservedConcurrency: number;
}

/** The orchestrator Lambda (functions/orchestrator/handler.ts) and its ticks-queue trigger. */
export class Orchestrator extends Construct {
  readonly lambda: WatchkeeperFunction;

  constructor(scope: Construct, id: string, props: OrchestratorProps) {
    super(scope, id);
    this.lambda = new WatchkeeperFunction(this, "Lambda", {
      entry: "functions/orchestrator/handler.ts",
      description:
        "Watchkeeper orchestrator: runs a monitor's check per tick, applies the state machine, sends mail",
      serviceName: "orchestrator",
      lazySdkClients: true,
      timeout: ORCHESTRATOR_TIMEOUT,
      memorySize: 512,
      logRetention: props.logRetention,
      reservedConcurrentExecutions: props.reservedConcurrency > 0 ? props.reservedConcurrency : undefined,
      environment: {
        DEFAULT_TIMEZONE: props.defaultTimezone,
        // A failed tick comes back after 30 s, 60 s, 120 s… instead of the queue's visibility timeout.
        TICK_RETRY_BASE_SECONDS: String(TICK_RETRY_BASE_SECONDS),
        // Write on change: how old a quiet monitor's persisted run may get before it is rewritten.
        STATE_HEARTBEAT_MINUTES: String(props.stateHeartbeatMinutes ?? 15),
        ...(props.defaultChannels?.length ? { DEFAULT_CHANNELS: props.defaultChannels.join(",") } : {}),
        // The ceiling of the checks' address policy (monitors/support/addresses.ts): none by default.
        ...(props.checkAllowAddresses?.length
          ? { CHECK_ALLOW_ADDRESSES: props.checkAllowAddresses.join(",") }
          : {}),
      },
    });
    const fn = this.lambda.function;
    this.useTable(props.table);
    this.sendFrom(props.sender);
    this.rejectTicksTo(props.ticksDeadLetterQueue);
    this.retryDeliveriesThrough(props.deliveryRetries, props.deliveryBudgetHours);
    this.allowChecksToRead(props.checkReadArns);
    this.allowDataFlowChecksToRead(props.checkReadArns);
    this.allowCloudWatchChecks(
      props.checkReadArns,
      props.checkAlarmReads ?? false,
      props.checkMetricReads ?? false,
    );
    this.allowLambdaChecks(props.checkReadArns);
    // Checks' and channels' secrets are read by the same role through the same code (one grant).
    this.allowSecretsToBeRead(
      [...new Set([...(props.checkSecretArns ?? []), ...(props.channelSecretArns ?? [])])],
      [...new Set([...(props.checkSecretKmsKeyArns ?? []), ...(props.channelSecretKmsKeyArns ?? [])])],
    );
    this.allowChannelTopics(props.channelTopicArns ?? [], props.channelTopicKmsKeyArns ?? []);
    fn.addEventSource(
      new SqsEventSource(props.ticks, {
        batchSize: props.batchSize ?? 10,
        reportBatchItemFailures: true,
        // Hanging checks across a large fleet wait in the queue instead of taking every Lambda
        // execution in the account (the ticks-backlog alarm says when the queue falls behind).
        maxConcurrency: props.maxConcurrency,
      }),
    );
  }

  /**
   * A failed delivery queues a `deliver` tick with a delay, and the orchestrator takes those ticks
   * back like any other: send on the queue, consume from it, and the budget it retries within.
   */
  private retryDeliveriesThrough(queue: Queue, budgetHours: number): void {
    const fn = this.lambda.function;
    fn.addToRolePolicy(new PolicyStatement({ actions: ["sqs:SendMessage"], resources: [queue.queueArn] }));
    fn.addEnvironment("DELIVERY_RETRY_QUEUE_URL", queue.queueUrl);
    fn.addEnvironment("DELIVERY_BUDGET_HOURS", String(budgetHours));
    fn.addEventSource(
      new SqsEventSource(queue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: DELIVERY_RETRY_MAX_CONCURRENCY,
      }),
    );
  }

  /** Config + state reads and conditional state writes, on the Monitors table only; never deletes. */
  private useTable(table: TableV2): void {
    const fn = this.lambda.function;
    fn.addToRolePolicy(
      new PolicyStatement({
        // Exactly what functions/adapters/dynamodb-store.ts calls (transactions need the item actions).
        // Every state change is a conditional PutItem (alone or in a transaction with log items);
        // incident items (`incident#<start>`) are UpdateItems in that transaction, which IAM
        // authorises as UpdateItem. No more than PutItem on the same table already allows.
        actions: ["dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
        resources: [table.tableArn],
      }),
    );
    // The channel directory (functions/adapters/dynamodb-channels.ts): one Query of the reserved
    // `__channels` partition when a notification has something for a channel, and nothing else.
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ["dynamodb:Query"],
        resources: [table.tableArn],
        conditions: { "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": [CHANNELS_PARTITION] } },
      }),
    );
    fn.addEnvironment("MONITORS_TABLE", table.tableName);
  }

  private sendFrom(sender: SenderIdentity): void {
    sender.grantSendEmail(this.lambda.role);
    this.lambda.function.addEnvironment("SENDER_EMAIL", sender.senderEmail);
    sender.configure(this.lambda.function);
  }

  /** The read each built-in check performs, on exactly the resources the deployer listed. */
  private allowChecksToRead(arns: readonly string[]): void {
    const queues = arns.filter((arn) => arn.split(":")[2] === "sqs");
    const tables = arns.filter((arn) => arn.split(":")[2] === "dynamodb");
    if (queues.length > 0) {
      this.lambda.function.addToRolePolicy(
        new PolicyStatement({ actions: ["sqs:GetQueueAttributes"], resources: queues }),
      );
    }
    if (tables.length > 0) {
      this.lambda.function.addToRolePolicy(
        new PolicyStatement({ actions: ["dynamodb:Query"], resources: tables }),
      );
    }
  }

  /**
   * s3-object-freshness, step-functions and sql: their reads on exactly the listed buckets (or
   * prefixes), state machines and clusters (lib/data-flow-read-arns.ts).
   */
  private allowDataFlowChecksToRead(arns: readonly string[]): void {
    const { statements, wildcardResources } = dataFlowReadGrants(arns);
    for (const statement of statements) this.lambda.function.addToRolePolicy(statement);
    for (const resource of wildcardResources) {
      Validations.of(this.lambda.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason:
          "s3-object-freshness reads objects whose keys carry a date: s3:GetObject on the objects under the bucket or prefix the deployer listed in checkReadArns.",
      });
    }
  }

  /**
   * `cloudwatch-alarm`: DescribeAlarms on the alarm ARNs listed, or on every alarm with
   * checkAlarmReads (CloudWatch authorizes a prefix search and composite alarms only against "*").
   * `cloudwatch-metric`: GetMetricData, which has no resource-level permission, with checkMetricReads.
   */
  private allowCloudWatchChecks(arns: readonly string[], alarmReads: boolean, metricReads: boolean): void {
    const fn = this.lambda.function;
    const alarms = arns.filter((arn) => arn.split(":")[2] === "cloudwatch");
    if (alarmReads || alarms.length > 0) {
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ["cloudwatch:DescribeAlarms"],
          resources: alarmReads ? ["*"] : alarms,
        }),
      );
    }
    if (metricReads) {
      fn.addToRolePolicy(new PolicyStatement({ actions: ["cloudwatch:GetMetricData"], resources: ["*"] }));
    }
    if (alarmReads || metricReads) {
      Validations.of(this.lambda.role).acknowledge({
        id: "AwsSolutions-IAM5[Resource::*]",
        reason: [
          alarmReads &&
            'checkAlarmReads: cloudwatch:DescribeAlarms authorizes prefix searches and composite alarms only on Resource "*" (the deployer opted in).',
          metricReads &&
            "checkMetricReads: cloudwatch:GetMetricData supports no resource-level permissions (the deployer opted in).",
        ]
          .filter(Boolean)
          .join(" "),
      });
    }
  }

  /**
   * `lambda`: InvokeFunction on exactly the functions listed. An unqualified ARN also covers its
   * versions and aliases (`<arn>:*`), which the check's `qualifier` invokes; a qualified ARN
   * covers that version or alias only.
   */
  private allowLambdaChecks(arns: readonly string[]): void {
    const functions = arns.filter((arn) => arn.split(":")[2] === "lambda");
    if (functions.length === 0) return;
    const unqualified = functions.filter((arn) => arn.split(":").length === 7);
    this.lambda.function.addToRolePolicy(
      new PolicyStatement({
        actions: ["lambda:InvokeFunction"],
        resources: [...functions, ...unqualified.map((arn) => `${arn}:*`)],
      }),
    );
    for (const arn of unqualified) {
      Validations.of(this.lambda.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${arn}:*]`,
        reason: `The lambda check may invoke a version or alias (params.qualifier) of ${arn}, listed in checkReadArns; list a qualified ARN to allow only that one.`,
      });
    }
  }

  /**
   * The secret references of checks' params resolve through exactly these reads
   * (functions/adapters/aws-secret-source.ts), on exactly the secrets the deployer listed.
   */
  private allowSecretsToBeRead(arns: readonly string[], kmsKeyArns: readonly string[]): void {
    const fn = this.lambda.function;
    const secrets = arns.filter((arn) => arn.split(":")[2] === "secretsmanager");
    const parameters = arns.filter((arn) => arn.split(":")[2] === "ssm");
    if (secrets.length > 0) {
      fn.addToRolePolicy(
        new PolicyStatement({ actions: ["secretsmanager:GetSecretValue"], resources: secrets }),
      );
    }
    if (parameters.length > 0) {
      fn.addToRolePolicy(new PolicyStatement({ actions: ["ssm:GetParameter"], resources: parameters }));
    }
    if (kmsKeyArns.length > 0) {
      // Decrypt only on behalf of those two services: the role cannot decrypt arbitrary data
      // encrypted under these keys.
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ["kms:Decrypt"],
          resources: [...kmsKeyArns],
          conditions: { StringLike: { "kms:ViaService": ["secretsmanager.*", "ssm.*"] } },
        }),
      );
    }
  }

  /**
   * `sns` channels: sns:Publish on exactly the topics the deployer listed, and the keys of those
   * encrypted with a customer managed key, for SNS to use on the role's behalf only.
   */
  private allowChannelTopics(topicArns: readonly string[], kmsKeyArns: readonly string[]): void {
    if (topicArns.length === 0) return;
    this.lambda.function.addToRolePolicy(
      new PolicyStatement({ actions: ["sns:Publish"], resources: [...topicArns] }),
    );
    if (kmsKeyArns.length > 0) {
      this.lambda.function.addToRolePolicy(
        new PolicyStatement({
          actions: ["kms:GenerateDataKey", "kms:Decrypt"],
          resources: [...kmsKeyArns],
          conditions: { StringLike: { "kms:ViaService": "sns.*" } },
        }),
      );
    }
  }

  /** Malformed or future ticks are forwarded to the DLQ with their reason, then acknowledged. */
  private rejectTicksTo(deadLetterQueue: Queue): void {
    this.lambda.function.addToRolePolicy(
      new PolicyStatement({ actions: ["sqs:SendMessage"], resources: [deadLetterQueue.queueArn] }),
    );
    this.lambda.function.addEnvironment("TICKS_DLQ_URL", deadLetterQueue.queueUrl);
  }
}
