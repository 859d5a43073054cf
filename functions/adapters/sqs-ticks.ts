import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import { TICK_BATCH_SIZE, type TickQueue } from "#core/fan-out.ts";

/**
 * The fan-out's ticks, SendMessageBatch to the FIFO ticks queue: one message group per monitor, as
 * the per-monitor schedules did. No explicit deduplication id: the queue deduplicates by content,
 * and a tick's body depends on (monitorId, scheduledTime) alone, so a resent tick, or the same tick
 * from an old per-monitor schedule still running during a migration, is dropped by SQS.
 */
export class SqsTickQueue implements TickQueue {
  constructor(
    private readonly queueUrl: string,
    private readonly client: SQSClient = new SQSClient({ requestHandler: boundedRequestHandler() }),
  ) {}

  async sendBatch(ticks: ReadonlyArray<{ monitorId: string; body: string }>): Promise<string[]> {
    if (ticks.length === 0) return [];
    if (ticks.length > TICK_BATCH_SIZE) throw new RangeError(`at most ${TICK_BATCH_SIZE} ticks per batch`);
    const response = await this.client.send(
      new SendMessageBatchCommand({
        QueueUrl: this.queueUrl,
        // Entry ids only need to be unique in the request: monitor ids may hold characters SQS refuses there.
        Entries: ticks.map((tick, index) => ({
          Id: String(index),
          MessageBody: tick.body,
          MessageGroupId: tick.monitorId,
        })),
      }),
    );
    return (response.Failed ?? [])
      .map((failure) => ticks[Number(failure.Id)]?.monitorId)
      .filter((id) => id !== undefined);
  }
}
