import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import type { DeliveryRetryPort } from "#core/ports.ts";
import type { TickMessage } from "#core/schemas.ts";

/** SQS holds a message back at most 15 minutes (DelaySeconds). */
export const MAX_RETRY_DELAY_SECONDS = 900;

/**
 * Delivery retries through a standard SQS queue with a per-message delay: a `deliver` tick for the
 * notification decided at `tickTime` comes back to the orchestrator after the backoff, whatever the
 * monitor's schedule (a daily cron must not mean a day's wait for a failed ALERT). Standard, not
 * FIFO: FIFO queues have no per-message delay, and the orchestrator's outbox claim already keeps
 * two senders apart.
 */
export class SqsDeliveryRetries implements DeliveryRetryPort {
  constructor(
    private readonly queueUrl: string,
    private readonly client: SQSClient = new SQSClient({ requestHandler: boundedRequestHandler() }),
  ) {}

  async scheduleRetry(monitorId: string, tickTime: string, delayMs: number, attempt: number): Promise<void> {
    const tick: TickMessage = { monitorId, scheduledTime: tickTime, reason: "deliver", attempt };
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(tick),
        DelaySeconds: Math.min(MAX_RETRY_DELAY_SECONDS, Math.max(0, Math.ceil(delayMs / 1000))),
      }),
    );
  }
}
