import { createHash } from "node:crypto";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import type { RejectedTickSink } from "#core/ports.ts";
import { truncateMessage } from "#core/text.ts";

/**
 * Forwards a tick the orchestrator can never apply (malformed, from the future) straight to the
 * ticks DLQ with its reason, then the caller acks it: nothing is lost, nothing is retried in vain,
 * and the monitor's FIFO group is not blocked for maxReceiveCount visibility timeouts.
 */
export class SqsRejectedTickSink implements RejectedTickSink {
  constructor(
    private readonly queueUrl: string,
    private readonly client: SQSClient = new SQSClient({ requestHandler: boundedRequestHandler() }),
  ) {}

  async reject(body: string, reason: string): Promise<void> {
    const fifo = this.queueUrl.endsWith(".fifo");
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: body.length > 0 ? body : "(empty body)",
        MessageAttributes: {
          rejectionReason: { DataType: "String", StringValue: truncateMessage(reason, 1000) },
          rejectedAt: { DataType: "String", StringValue: new Date().toISOString() },
        },
        ...(fifo
          ? {
              MessageGroupId: "rejected-ticks",
              MessageDeduplicationId: createHash("sha256").update(body).digest("hex"),
            }
          : {}),
      }),
    );
  }
}
