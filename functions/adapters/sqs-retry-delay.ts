import { ChangeMessageVisibilityBatchCommand, GetQueueUrlCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";

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
  readonly #queueUrls = new Map<string, Promise<string>>();

  constructor(
    private readonly baseSeconds: number,
    private readonly client: SQSClient = new SQSClient({ requestHandler: boundedRequestHandler() }),
  ) {}

  async delay(records: readonly SQSRecord[]): Promise<void> {
    const byQueue = new Map<string, SQSRecord[]>();
    for (const record of records) {
      byQueue.set(record.eventSourceARN, [...(byQueue.get(record.eventSourceARN) ?? []), record]);
    }
    for (const [arn, queued] of byQueue) {
      const queueUrl = await this.#queueUrl(arn);
      for (let start = 0; start < queued.length; start += 10) {
        await this.client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: queued.slice(start, start + 10).map((record, index) => ({
              Id: String(start + index),
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

  /** The queue URL from the event's ARN, looked up once per queue (it works the same on emulators). */
  #queueUrl(arn: string): Promise<string> {
    let url = this.#queueUrls.get(arn);
    if (!url) {
      const [, , , , account, name] = arn.split(":");
      url = this.client
        .send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }))
        .then((response) => {
          if (!response.QueueUrl) throw new Error(`no URL for queue ${arn}`);
          return response.QueueUrl;
        });
      url.catch(() => this.#queueUrls.delete(arn));
      this.#queueUrls.set(arn, url);
    }
    return url;
  }
}
