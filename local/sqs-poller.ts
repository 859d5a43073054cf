import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from "aws-lambda";
import type { Logger } from "#core/ports.ts";
import { silentLogger } from "#core/ports.ts";
import { sleep } from "./sleep.ts";

/**
 * The Lambda SQS event source mapping, for the local runtime: long-polls the queue, hands batches
 * to the function as real SQSEvents, deletes what succeeded and leaves the rest to reappear after
 * the visibility timeout, so that the queue's redrive policy moves poison messages to the DLQ.
 * FIFO ordering needs nothing here: the queue never hands out a message group that is in flight.
 */

export interface SqsPollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  /** Invokes the function; a rejection fails the whole batch, as a function error does. */
  invoke: (event: SQSEvent) => Promise<unknown>;
  /** Batches processed at once (one per message group at most). @default 2 */
  concurrency?: number;
  /** @default 10 */
  batchSize?: number;
  /** Long-poll wait; also bounds how long stop() waits for an idle poll. @default 5 */
  waitTimeSeconds?: number;
  logger?: Logger;
  /** Called after each batch, for the dashboard and tests. */
  onBatch?: (outcome: BatchOutcome) => void;
}

export interface BatchOutcome {
  received: number;
  deleted: number;
  /** Message ids left for redelivery. */
  failed: string[];
  error?: string;
}

/** Lambda hands binary values to the function base64-encoded. */
function base64(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : Buffer.from(bytes).toString("base64");
}

function messageAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): SQSMessageAttributes {
  const converted: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    converted[name] = {
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { binaryValue: base64(value.BinaryValue) } : {}),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((bytes) => base64(bytes) ?? ""),
      dataType: value.DataType ?? "String",
    };
  }
  return converted;
}

/** The SQSRecord Lambda builds from a received message (field names and casing as Lambda's). */
export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const system = message.Attributes ?? {};
  const attributes: SQSRecord["attributes"] = {
    ApproximateReceiveCount: system.ApproximateReceiveCount ?? "1",
    SentTimestamp: system.SentTimestamp ?? String(Date.now()),
    SenderId: system.SenderId ?? "000000000000",
    ApproximateFirstReceiveTimestamp: system.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
  };
  for (const name of [
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
  ] as const) {
    const value = system[name];
    if (value !== undefined) attributes[name] = value;
  }
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes,
    messageAttributes: messageAttributes(message.MessageAttributes),
    md5OfBody: message.MD5OfBody ?? "",
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * The message ids to keep for redelivery. Like Lambda, an answer that is not a valid batch
 * response (unknown or empty identifiers) fails the whole batch.
 */
export function failedMessageIds(response: unknown, records: readonly SQSRecord[]): string[] {
  const all = records.map((record) => record.messageId);
  if (response === undefined || response === null) return [];
  const failures = (response as Partial<SQSBatchResponse>).batchItemFailures;
  if (failures === undefined || failures === null) return [];
  if (!Array.isArray(failures)) return all;
  const ids = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== "string" || !all.includes(id)) return all;
    ids.add(id);
  }
  return all.filter((id) => ids.has(id));
}

export class SqsPoller {
  readonly #options: SqsPollerOptions;
  readonly #logger: Logger;
  readonly #abort = new AbortController();
  #loops: Promise<void>[] = [];

  constructor(options: SqsPollerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  start(): void {
    if (this.#loops.length > 0) return;
    const concurrency = this.#options.concurrency ?? 2;
    this.#loops = Array.from({ length: concurrency }, () => this.#loop());
  }

  /** Stops polling and waits for the batches being processed to finish (and be deleted). */
  async stop(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  async #loop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      let messages: Message[];
      try {
        const received = await this.#options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.#options.queueUrl,
            MaxNumberOfMessages: this.#options.batchSize ?? 10,
            WaitTimeSeconds: this.#options.waitTimeSeconds ?? 5,
            AttributeNames: ["All"],
            MessageSystemAttributeNames: ["All"],
            MessageAttributeNames: ["All"],
          }),
          { abortSignal: signal },
        );
        messages = received.Messages ?? [];
      } catch (error) {
        if (signal.aborted) return;
        this.#logger.warn("ReceiveMessage failed; retrying", { error: String(error) });
        await sleep(1000, signal);
        continue;
      }
      if (messages.length > 0) await this.#process(messages);
    }
  }

  async #process(messages: Message[]): Promise<void> {
    const { queueArn, region } = this.#options;
    const records = messages.map((message) => toSqsRecord(message, queueArn, region));
    let failed: string[];
    let error: string | undefined;
    try {
      const response = await this.#options.invoke({ Records: records });
      failed = failedMessageIds(response, records);
    } catch (invokeError) {
      failed = records.map((record) => record.messageId);
      error = invokeError instanceof Error ? invokeError.message : String(invokeError);
      this.#logger.error("function error: the whole batch returns after the visibility timeout", {
        messageIds: failed,
        error,
      });
    }
    const succeeded = records.filter((record) => !failed.includes(record.messageId));
    const deleted = await this.#delete(succeeded);
    if (failed.length > 0 && error === undefined) {
      this.#logger.warn("partial batch failure: failed messages return after the visibility timeout", {
        messageIds: failed,
      });
    }
    try {
      this.#options.onBatch?.({
        received: records.length,
        deleted,
        failed,
        ...(error !== undefined ? { error } : {}),
      });
    } catch (observerError) {
      // An observer's bug must not end the poll loop (and with it, ticks processing).
      this.#logger.warn("onBatch observer failed", { error: String(observerError) });
    }
  }

  /**
   * Messages the function already deleted itself (the orchestrator deletes a finished monitor's
   * ticks early) are deleted again here with a used receipt handle: SQS and fauxqs both report
   * that as a success, so it counts as deleted.
   */
  async #delete(records: readonly SQSRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    try {
      const result = await this.#options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.#options.queueUrl,
          Entries: records.map((record, index) => ({
            Id: String(index),
            ReceiptHandle: record.receiptHandle,
          })),
        }),
      );
      for (const failure of result.Failed ?? []) {
        this.#logger.warn("a processed message could not be deleted and will be delivered again", {
          failure,
        });
      }
      return result.Successful?.length ?? 0;
    } catch (error) {
      // Redelivery is harmless: the orchestrator ignores ticks it has already applied.
      this.#logger.warn("DeleteMessageBatch failed: the batch will be delivered again", {
        error: String(error),
      });
      return 0;
    }
  }
}
