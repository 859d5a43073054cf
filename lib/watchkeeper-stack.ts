import {
  Annotations,
  CfnOutput,
  CfnParameter,
  CfnRule,
  Duration,
  Fn,
  Stack,
  type StackProps,
  Tags,
} from "aws-cdk-lib";
import type { Construct } from "constructs";
import { CLOCK_SCHEDULE_NAME } from "../functions/core/buckets.ts";
import { HEARTBEAT_ID, HEARTBEAT_PERIOD_MINUTES } from "../functions/core/heartbeat.ts";
import {
  CHANNEL_DELIVERY_ABANDONED,
  CONFIG_PROBLEMS_FOUND,
  HEARTBEAT,
  NOTIFICATION_ABANDONED,
  NOTIFICATION_DELIVERY_FAILED,
  ORCHESTRATOR_METRICS_SERVICE,
} from "../functions/orchestrator/metric-names.ts";
import { Dashboard } from "./dashboard.ts";
import { DeliveryRetryQueue } from "./delivery-retry-queue.ts";
import { FanOut } from "./fan-out.ts";
import { MonitorsTable } from "./monitors-table.ts";
import { OperatorAlarms } from "./operator-alarms.ts";
import { ORCHESTRATOR_TIMEOUT, Orchestrator } from "./orchestrator.ts";
import { ScheduleSync } from "./schedule-sync.ts";
import { SenderIdentity } from "./sender-identity.ts";
import { PLACEHOLDER_SENDER_EMAIL, type WatchkeeperSettings } from "./settings.ts";
import { TicksQueue } from "./ticks-queue.ts";

/**
 * The parameter a deployer must set to `true` to deploy a stack synthesized with the placeholder
 * sender (`npx cdk deploy --parameters AllowPlaceholderSender=true`).
 */
export const ALLOW_PLACEHOLDER_SENDER = "AllowPlaceholderSender";

export interface WatchkeeperStackProps extends StackProps {
  settings: WatchkeeperSettings;
}

/**
 * With FIFO, a tick in flight holds back its monitor's later ticks, so a long visibility timeout
 * turns one crashed invocation into a long silence. The orchestrator is idempotent (DESIGN.md §5),
 * so an early redelivery costs only a duplicate no-op: the timeout plus a margin is enough.
 */
/** The fan-out's metrics `service` dimension (functions/fan-out/handler.ts). */
const FAN_OUT_SERVICE = "fan-out";
/** A fan-out finishing this late into its minute leaves the orchestrator little of it. */
export const FAN_OUT_LAG_THRESHOLD_SECONDS = 30;

export const TICKS_VISIBILITY_TIMEOUT = ORCHESTRATOR_TIMEOUT.plus(Duration.minutes(5));

/** Everything `cdk deploy` creates (DESIGN.md §1, issue 3). */
export class WatchkeeperStack extends Stack {
  readonly table: MonitorsTable;
  readonly ticks: TicksQueue;
  readonly deliveryRetries: DeliveryRetryQueue;
  readonly sender: SenderIdentity;
  readonly orchestrator: Orchestrator;
  readonly scheduleSync: ScheduleSync;
  readonly fanOut: FanOut;
  readonly alarms: OperatorAlarms;
  /** Absent with `-c dashboard=false`. */
  readonly dashboard: Dashboard | undefined;

  constructor(scope: Construct, id: string, props: WatchkeeperStackProps) {
    super(scope, id, {
      description: "Watchkeeper: scheduled monitors with anti-flap alerting",
      ...props,
    });
    const { settings } = props;
    Tags.of(this).add("app", "watchkeeper");
    this.warnAboutPlaceholders(settings);
    if (settings.placeholders.includes("senderEmail")) this.refusePlaceholderSender();

    this.table = new MonitorsTable(this, "Monitors");
    this.ticks = new TicksQueue(this, "Ticks", { visibilityTimeout: TICKS_VISIBILITY_TIMEOUT });
    this.deliveryRetries = new DeliveryRetryQueue(this, "DeliveryRetries", {
      visibilityTimeout: TICKS_VISIBILITY_TIMEOUT,
    });
    this.sender = new SenderIdentity(this, "Sender", settings);
    this.orchestrator = new Orchestrator(this, "Orchestrator", {
      table: this.table.table,
      ticks: this.ticks.queue,
      ticksDeadLetterQueue: this.ticks.deadLetterQueue,
      deliveryRetries: this.deliveryRetries.queue,
      deliveryBudgetHours: settings.deliveryBudgetHours,
      stateHeartbeatMinutes: settings.stateHeartbeatMinutes,
      defaultChannels: settings.defaultChannels,
      maxConcurrency: settings.orchestratorMaxConcurrency,
      reservedConcurrency: settings.orchestratorReservedConcurrency,
      sender: this.sender,
      defaultTimezone: settings.defaultTimezone,
      logRetention: settings.logRetentionDays,
      checkReadArns: settings.checkReadArns,
      checkAlarmReads: settings.checkAlarmReads,
      checkMetricReads: settings.checkMetricReads,
      checkSecretArns: settings.checkSecretArns,
      checkSecretKmsKeyArns: settings.checkSecretKmsKeyArns,
      checkAllowAddresses: settings.checkAllowAddresses,
      channelTopicArns: settings.channelTopicArns,
      channelTopicKmsKeyArns: settings.channelTopicKmsKeyArns,
      channelSecretArns: settings.channelSecretArns,
      channelSecretKmsKeyArns: settings.channelSecretKmsKeyArns,
    });
    this.scheduleSync = new ScheduleSync(this, "ScheduleSync", {
      table: this.table.table,
      ticks: this.ticks.queue,
      groupName: settings.namePrefix,
      defaultTimezone: settings.defaultTimezone,
      logRetention: settings.logRetentionDays,
      sender: this.sender,
    });
    this.fanOut = new FanOut(this, "FanOut", {
      table: this.table.table,
      ticks: this.ticks.queue,
      group: this.scheduleSync.group,
      logRetention: settings.logRetentionDays,
    });
    this.alarms = new OperatorAlarms(this, "Alarms", {
      namePrefix: settings.namePrefix,
      operatorEmail: settings.operatorEmail,
    });
    if (settings.dashboard) {
      this.dashboard = new Dashboard(this, "Dashboard", {
        table: this.table.table,
        ticks: this.ticks.queue,
        logRetention: settings.logRetentionDays,
        namePrefix: settings.namePrefix,
      });
      this.dashboard.linkFrom(this.orchestrator.lambda, settings.ackLinkDays);
      this.dashboard.output();
    }
    this.watch();
    this.output(settings);
  }

  private watch(): void {
    const { alarms, ticks, scheduleSync, orchestrator, deliveryRetries, fanOut } = this;
    const orchestratorFn = orchestrator.lambda.function;
    const syncFn = scheduleSync.lambda.function;
    alarms.whenQueueHoldsMessages(
      "TicksDeadLetters",
      ticks.deadLetterQueue,
      "Ticks the orchestrator rejected (malformed, from the future) or failed on maxReceiveCount times. " +
        "The affected monitors skipped those runs. Inspect the messages, fix the cause, then purge or redrive.",
    );
    alarms.whenQueueHoldsMessages(
      "SchedulerDeadLetters",
      scheduleSync.schedulerDeadLetterQueue,
      "EventBridge Scheduler could not send ticks to the ticks queue after its retries (permissions, " +
        "queue deleted, KMS). Monitors are not running. The messages name the schedule and the error.",
    );
    alarms.whenQueueHoldsMessages(
      "ScheduleSyncDeadLetters",
      scheduleSync.failedRecordsQueue,
      "Config changes schedule-sync could not apply after its retries: some schedules do not match the " +
        "table. Fix the cause (see the function's logs), then run reconcile (docs/deploy.md).",
    );
    alarms.whenFunctionErrors(
      "OrchestratorErrors",
      orchestratorFn,
      "The orchestrator Lambda crashed or timed out (not a monitor failing: that is mailed to its owners).",
    );
    alarms.whenFunctionThrottled(
      "OrchestratorThrottles",
      orchestratorFn,
      "The orchestrator was throttled: the account's Lambda concurrency is exhausted and ticks are delayed.",
    );
    alarms.whenOldestMessageAge(
      "TicksBacklog",
      ticks.queue,
      TICKS_VISIBILITY_TIMEOUT.plus(TICKS_VISIBILITY_TIMEOUT),
      "A tick has waited through at least two delivery attempts: the orchestrator keeps failing on it " +
        "(see its logs), and that monitor's later ticks wait behind it.",
    );
    alarms.whenCounted(
      "NotificationDeliveryFailures",
      ORCHESTRATOR_METRICS_SERVICE,
      NOTIFICATION_DELIVERY_FAILED,
      "SES refused or failed to send a notification (unverified sender, sandbox recipient, quota, outage). " +
        "A transient failure stays in the monitor's outbox and is retried on its own backoff (30 s doubling " +
        "to 5 min) for up to the delivery budget; see NotificationsAbandoned for mail that was given up.",
    );
    alarms.whenCounted(
      "NotificationsAbandoned",
      ORCHESTRATOR_METRICS_SERVICE,
      NOTIFICATION_ABANDONED,
      "A notification will never be sent: SES refused it outright (unverified sender or sandbox recipient, " +
        "no permission), or it kept failing for the whole delivery budget. People did not hear about an " +
        "incident: `watchkeeper health` lists it; its notification# item holds the reason. Counted per recipient: " +
        "the other recipients and the channels got it unless they are alarmed too.",
    );
    alarms.whenCounted(
      "ChannelDeliveriesAbandoned",
      ORCHESTRATOR_METRICS_SERVICE,
      CHANNEL_DELIVERY_ABANDONED,
      "A notification will never reach one of a monitor's channels: the receiver refused it (webhook gone, " +
        "payload refused, topic missing), it kept failing for the whole delivery budget, or the monitor names a " +
        "channel that does not exist or whose item does not parse. The mail and the other channels went on their " +
        "own. ChannelDeliveryAbandoned_<kind> says which kind; the orchestrator's log line `notification abandoned` " +
        "and the notification# item (target channel:<name>) hold the reason.",
    );
    alarms.whenCounted(
      "MonitorConfigProblems",
      ORCHESTRATOR_METRICS_SERVICE,
      CONFIG_PROBLEMS_FOUND,
      "A monitor's config item has a new problem (a bad attribute fell back to its default, or its check or " +
        "params are invalid and it reports a failure instead of running). Counted once per new problem, not " +
        "per tick: `watchkeeper health` lists every monitor with problems.",
    );
    alarms.whenQueueHoldsMessages(
      "DeliveryRetryDeadLetters",
      deliveryRetries.deadLetterQueue,
      "Delivery retries the orchestrator failed on repeatedly. The notifications stay in their monitors' " +
        "outboxes and the next tick of each monitor retries them; inspect the orchestrator's logs.",
    );
    alarms.whenFunctionErrors(
      "ScheduleSyncErrors",
      syncFn,
      "The schedule-sync Lambda crashed or timed out; config changes are retried from the stream.",
    );
    alarms.whenStreamLags(
      "ScheduleSyncLag",
      syncFn,
      Duration.minutes(15),
      "Config changes are more than 15 minutes old when schedule-sync reads them: it keeps failing on a " +
        "record (see its logs). Schedules lag behind the table.",
    );
    alarms.whenNotCounted(
      "HeartbeatMissing",
      ORCHESTRATOR_METRICS_SERVICE,
      HEARTBEAT,
      Duration.minutes(HEARTBEAT_PERIOD_MINUTES * 3),
      `No heartbeat reached the orchestrator for ${HEARTBEAT_PERIOD_MINUTES * 3} minutes (one is sent every ` +
        `${HEARTBEAT_PERIOD_MINUTES}): no monitor is running either. Check, in order: the schedule ` +
        `${HEARTBEAT_ID} in the schedule group is ENABLED; SchedulerDeadLetters (Scheduler cannot send ` +
        "to the ticks queue: role, queue policy, KMS); the orchestrator's SQS event source mapping is " +
        "enabled; OrchestratorErrors and TicksBacklog. Missing data breaches: silence is the failure. " +
        "It may fire once right after the first deploy, before the first heartbeat.",
    );
    alarms.whenQueueHoldsMessages(
      "FanOutDeadLetters",
      fanOut.deadLetterQueue,
      "A minute's fan-out failed after Lambda's retries, or Scheduler could not invoke it: the monitors due " +
        "in that minute skipped a run. The message names the minute and the error (see the fan-out's logs).",
    );
    alarms.whenFunctionErrors(
      "FanOutErrors",
      fanOut.lambda.function,
      "The fan-out Lambda failed (it is retried twice within the queue's deduplication window; " +
        "FanOutDeadLetters fires when a minute is lost).",
    );
    alarms.whenAbove(
      "FanOutLag",
      FAN_OUT_SERVICE,
      "FanOutLagSeconds",
      FAN_OUT_LAG_THRESHOLD_SECONDS,
      `The fan-out finished more than ${FAN_OUT_LAG_THRESHOLD_SECONDS} s after its minute began: it is falling ` +
        "behind (throttled, a slow table or queue, or a fleet larger than it can enqueue in time). Ticks are late.",
    );
    alarms.whenNotCounted(
      "ClockMissing",
      FAN_OUT_SERVICE,
      "ClockInvocations",
      Duration.minutes(5),
      `The fan-out reported nothing for 5 minutes although the clock (${CLOCK_SCHEDULE_NAME}) fires every minute: ` +
        "no monitor is ticking. Check the schedule is ENABLED, FanOutDeadLetters and FanOutErrors. Missing data breaches.",
    );
    alarms.whenFunctionThrottled(
      "FanOutThrottles",
      fanOut.lambda.function,
      "The fan-out was throttled (the account's concurrency is exhausted): minutes are enqueued late, and a " +
        "minute throttled for its whole retry window is lost (FanOutDeadLetters).",
    );
    alarms.whenCounted(
      "InvalidSchedules",
      "schedule-sync",
      "InvalidSchedules",
      "A config item has a schedule or timezone Scheduler cannot use. The reason is on the monitor's state " +
        "item (scheduleError); its previous schedule, if any, keeps running.",
    );
  }

  private warnAboutPlaceholders(settings: WatchkeeperSettings): void {
    if (settings.placeholders.includes("senderEmail")) {
      Annotations.of(this).addWarningV2(
        "watchkeeper:placeholder-sender",
        `No senderEmail or senderDomain in context: using the placeholder ${PLACEHOLDER_SENDER_EMAIL}, which ` +
          "can never be verified, so no notification would be delivered. Deploy with -c senderEmail=you@example.org " +
          `(CloudFormation refuses this template unless --parameters ${ALLOW_PLACEHOLDER_SENDER}=true).`,
      );
    }
    if (settings.placeholders.includes("operatorEmail")) {
      Annotations.of(this).addWarningV2(
        "watchkeeper:no-operator-email",
        "No operatorEmail in context: operator alarms go to the SNS topic with no subscriber. " +
          "Deploy with -c operatorEmail=ops@example.org.",
      );
    }
  }

  /**
   * Synth must work without context (CI, tests, `cdk diff`), so the refusal travels with the
   * template: a Rules assertion that CloudFormation checks before it creates or changes anything,
   * whoever deploys the template and however it was synthesized. The CDK's own bootstrap-version
   * check works the same way.
   */
  private refusePlaceholderSender(): void {
    const allow = new CfnParameter(this, ALLOW_PLACEHOLDER_SENDER, {
      type: "String",
      allowedValues: ["false", "true"],
      default: "false",
      description: `true deploys with the placeholder sender ${PLACEHOLDER_SENDER_EMAIL}, which can never send (tests only)`,
    });
    new CfnRule(this, "RefusePlaceholderSender", {
      assertions: [
        {
          assert: Fn.conditionEquals(allow.valueAsString, "true"),
          assertDescription:
            `Synthesized without senderEmail or senderDomain: the sender is the placeholder ${PLACEHOLDER_SENDER_EMAIL}, ` +
            `which can never be verified. Deploy with -c senderEmail=... (or -c senderDomain=...), or pass ` +
            `--parameters ${ALLOW_PLACEHOLDER_SENDER}=true to deploy it anyway.`,
        },
      ],
    });
  }

  private output(settings: WatchkeeperSettings): void {
    const { table, ticks, scheduleSync, alarms, orchestrator } = this;
    const outputs: Record<string, [string, string]> = {
      MonitorsTableName: [table.table.tableName, "Put monitor config items here (docs/deploy.md)"],
      TicksQueueUrl: [ticks.queue.queueUrl, "Send a tick here to force a recheck"],
      TicksDeadLetterQueueUrl: [ticks.deadLetterQueue.queueUrl, "Rejected and failed ticks"],
      DeliveryRetryQueueUrl: [this.deliveryRetries.queue.queueUrl, "Delayed retries of failed notifications"],
      SchedulerDeadLetterQueueUrl: [
        scheduleSync.schedulerDeadLetterQueue.queueUrl,
        "Ticks Scheduler could not send",
      ],
      ScheduleSyncDeadLetterQueueUrl: [
        scheduleSync.failedRecordsQueue.queueUrl,
        "Config changes never applied",
      ],
      ScheduleGroupName: [
        scheduleSync.group.scheduleGroupName,
        "EventBridge Scheduler group of the clock and heartbeat schedules",
      ],
      AlarmTopicArn: [alarms.topic.topicArn, "Operator alarms (subscribe more endpoints here)"],
      OrchestratorRoleName: [
        orchestrator.lambda.role.roleName,
        "Attach extra read policies for custom checks",
      ],
      ReconcileCommand: [
        [
          "npx tsx functions/schedule-sync/reconcile.ts",
          `--table ${table.table.tableName}`,
          `--group ${scheduleSync.group.scheduleGroupName}`,
          `--default-timezone ${settings.defaultTimezone}`,
        ].join(" "),
        "Run from a checkout to bring schedules in line with the table (and after upgrading from per-monitor schedules)",
      ],
    };
    for (const [id, [value, description]] of Object.entries(outputs)) {
      new CfnOutput(this, id, { value, description });
    }
  }
}
