import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { MAX_RECEIVE_COUNT } from "./constants.ts";

export interface TicksQueueProps {
  /** Must exceed the orchestrator's timeout, or a tick still being processed is delivered again. */
  visibilityTimeout: Duration;
}

/**
 * The SQS FIFO queue of ticks (DESIGN.md §1): MessageGroupId = monitorId serialises each monitor's
 * ticks, content-based deduplication drops Scheduler's duplicate sends, and a tick that keeps
 * failing moves to the DLQ after MAX_RECEIVE_COUNT receives instead of blocking its monitor.
 */
export class TicksQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: TicksQueueProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, "DeadLetterQueue", {
      fifo: true,
      contentBasedDeduplication: true,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.queue = new Queue(this, "Queue", {
      fifo: true,
      contentBasedDeduplication: true,
      // High-throughput FIFO: the 300 sends/s quota applies per monitor (message group) instead of
      // to the whole queue, which one-message sends from Scheduler reach at ~18,000 monitors on
      // rate(1 minute). Order stays per group, and so does deduplication, which is all a tick needs
      // (its body names its monitor).
      deduplicationScope: DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout,
      // A tick older than a day is long superseded; the DLQ keeps the ones that failed.
      retentionPeriod: Duration.days(1),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
