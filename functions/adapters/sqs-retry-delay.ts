import { ChangeMessageVisibilityBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import { byQueueArn, inBatchesOfTen, SqsQueueUrls } from "#adapters/sqs-queue-urls.ts";

/** The longest delay SQS allows between a message's receives is 12 h; a tick has no use for more than 15 min. */
const MAX_DELAY_SECONDS = 900;

/**
 * Exponential backoff for a failed tick: `base`, then twice that per further receive, capped.
 * @param receiveCount the record's ApproximateReceiveCount (1 on the first delivery)
 */
export function retryDelaySeconds(receiveCount: number, baseSeconds: number): number {
  const attempt = Number.isFinite(receiveCount) && receiveCount >= 1 ? Math.floor(receiveCount) : 1;
  return Math.min(MAX_DELAY_SECONDS, baseSeconds * 2 ** Math.min(attempt - 1, 20));
}

/**
 * Shortens the wait before SQS redelivers a failed tick. Without it a failed message waits out the
 * queue's whole visibility timeout (longer than the function's 15-minute limit), and in a FIFO
 * queue the monitor's later ticks wait behind it: a DynamoDB throttle would silence a monitor for
 * 20 minutes. With it the retry comes after 30 s, 60 s, 120 s…
 */
export class SqsRetryDelay {
  readonly #queueUrls: SqsQueueUrls;

  constructor(
    private readonly baseSeconds: number,
    private readonly client: SQSClient = new SQSClient({ requestHandler: boundedRequestHandler() }),
  ) {
    this.#queueUrls = new SqsQueueUrls(client);
  }

  async delay(records: readonly SQSRecord[]): Promise<void> {
    for (const [arn, queued] of byQueueArn(records)) {
      const queueUrl = await this.#queueUrls.urlOf(arn);
      for (const batch of inBatchesOfTen(queued)) {
        await this.client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: batch.map((record, index) => ({
              Id: String(index),
              ReceiptHandle: record.receiptHandle,
              VisibilityTimeout: retryDelaySeconds(
                Number(record.attributes.ApproximateReceiveCount),
                this.baseSeconds,
              ),
            })),
          }),
        );
      }
    }
  }
}
