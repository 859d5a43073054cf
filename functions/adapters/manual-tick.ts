import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { type TickMessage, TickMessageSchema } from "#core/schemas.ts";

/**
 * A forced recheck (`watchkeeper run`, the dashboard's "Run now"): a tick with reason `manual` on
 * the ticks queue, in the monitor's message group. Its time is the current time: the tick's logical
 * clock and, under content-based deduplication, what makes it distinct from any earlier one.
 */
export async function sendManualTick(
  sqs: SQSClient,
  queueUrl: string,
  monitorId: string,
  at: Date,
): Promise<{ tick: TickMessage; messageId: string | undefined }> {
  const tick = TickMessageSchema.parse({ monitorId, scheduledTime: at.toISOString(), reason: "manual" });
  const sent = await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(tick),
      MessageGroupId: monitorId,
    }),
  );
  return { tick, messageId: sent.MessageId };
}
