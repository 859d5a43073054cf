import { GetQueueUrlCommand, type SQSClient } from "@aws-sdk/client-sqs";

/**
 * Queue URLs from the `eventSourceARN` of Lambda's SQS records, for the adapters that act on a
 * received message (its visibility, its deletion). Looked up with GetQueueUrl once per queue rather
 * than built from the ARN, so the same code works against emulators' endpoints; a failed lookup is
 * forgotten, so the next call tries again.
 */
export class SqsQueueUrls {
  readonly #urls = new Map<string, Promise<string>>();

  constructor(private readonly client: SQSClient) {}

  /** @param arn `arn:aws:sqs:<region>:<account>:<name>` */
  urlOf(arn: string): Promise<string> {
    let url = this.#urls.get(arn);
    if (!url) {
      const [, , , , account, name] = arn.split(":");
      url = this.client
        .send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }))
        .then((response) => {
          if (!response.QueueUrl) throw new Error(`no URL for queue ${arn}`);
          return response.QueueUrl;
        });
      url.catch(() => this.#urls.delete(arn));
      this.#urls.set(arn, url);
    }
    return url;
  }
}

/** Records by the queue they came from (a function can have several SQS event sources). */
export function byQueueArn<T extends { eventSourceARN: string }>(records: readonly T[]): Map<string, T[]> {
  const byQueue = new Map<string, T[]>();
  for (const record of records) {
    byQueue.set(record.eventSourceARN, [...(byQueue.get(record.eventSourceARN) ?? []), record]);
  }
  return byQueue;
}

/** SQS batch APIs take at most 10 entries. */
export function inBatchesOfTen<T>(items: readonly T[]): T[][] {
  const batches: T[][] = [];
  for (let start = 0; start < items.length; start += 10) batches.push(items.slice(start, start + 10));
  return batches;
}
