import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { MAX_RECEIVE_COUNT } from "./constants.ts";

export interface DeliveryRetryQueueProps {
  /** Must exceed the orchestrator's timeout, or a retry still being processed is delivered again. */
  visibilityTimeout: Duration;
}

/**
 * The delivery-retry queue (issue 10): a standard queue, because only standard queues take a
 * per-message delay. The orchestrator sends a `deliver` tick here with the backoff as DelaySeconds
 * when a notification could not be sent, so a pending ALERT is retried within seconds to minutes,
 * not at the monitor's next scheduled run. Order and exclusivity come from the outbox claim in the
 * state item, not from the queue.
 */
export class DeliveryRetryQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: DeliveryRetryQueueProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, "DeadLetterQueue", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.queue = new Queue(this, "Queue", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout,
      // Every attempt queues its successor (at most 15 minutes ahead): a day is ample.
      retentionPeriod: Duration.days(1),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
