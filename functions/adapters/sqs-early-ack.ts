import { DeleteMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import { byQueueArn, inBatchesOfTen, SqsQueueUrls } from "#adapters/sqs-queue-urls.ts";

/** Some processed messages could not be deleted early; the event source deletes them at the end. */
export class EarlyAckError extends Error {
  override readonly name = "EarlyAckError";
  constructor(
    /** `messageId: code` of each message SQS did not delete. */
    readonly failures: string[],
  ) {
    super(`${failures.length} processed message(s) not deleted early: ${failures.join(", ")}`);
  }
}

/**
 * Deletes processed messages before the invocation ends. Lambda's SQS event source deletes a
 * batch's messages only once the function returns, and a FIFO queue hands out nothing more of a
 * message group while one of its messages is in flight: without this, a monitor whose tick shared a
 * batch with a 20 s check would wait those 20 s for its next tick.
 *
 * The event source still deletes the same messages when the invocation returns. AWS documents that
 * deleting with a receipt handle that is no longer current "will still succeed" (SQS API reference,
 * DeleteMessage); the Lambda guide says nothing about a function deleting its own messages, so that
 * the event source's second delete is harmless is inferred, not verified. Were it to fail, the only
 * effect is a failed delete of a message that is already gone.
 */
export class SqsEarlyAck {
  readonly #queueUrls: SqsQueueUrls;

  constructor(
    private readonly client: SQSClient = new SQSClient({ requestHandler: boundedRequestHandler() }),
  ) {
    this.#queueUrls = new SqsQueueUrls(client);
  }

  /** @throws EarlyAckError when SQS refused some deletes; SDK errors as they come. */
  async ack(records: readonly SQSRecord[]): Promise<void> {
    const failures: string[] = [];
    for (const [arn, queued] of byQueueArn(records)) {
      const queueUrl = await this.#queueUrls.urlOf(arn);
      for (const batch of inBatchesOfTen(queued)) {
        const result = await this.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: batch.map((record, index) => ({
              Id: String(index),
              ReceiptHandle: record.receiptHandle,
            })),
          }),
        );
        for (const failed of result.Failed ?? []) {
          failures.push(`${batch[Number(failed.Id)]?.messageId ?? failed.Id}: ${failed.Code}`);
        }
      }
    }
    if (failures.length > 0) throw new EarlyAckError(failures);
  }
}
