import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqsEarlyAck } from "../../functions/adapters/sqs-early-ack.ts";
import { createTickQueues, type TickQueues } from "../../local/resources.ts";
import { LOCAL_REGION, type SqsServer, startSqs } from "../../local/servers.ts";
import { type BatchOutcome, SqsPoller } from "../../local/sqs-poller.ts";
import { localSqs } from "../support/aws.ts";
import { eventually } from "./support/runtime.ts";

/**
 * The emulated Lambda SQS trigger against a real fauxqs: event shape, partial batch failures,
 * whole-batch failures and the redrive of poison messages to the DLQ after maxReceiveCount.
 */

let server: SqsServer;
let sqs: SQSClient;
beforeAll(async () => {
  server = await startSqs();
  sqs = localSqs(server.endpoint);
});
afterAll(async () => {
  sqs?.destroy();
  await server?.stop();
});

let queueNumber = 0;
async function queues(): Promise<TickQueues> {
  queueNumber += 1;
  return createTickQueues(sqs, `event-source-${queueNumber}`, {
    visibilityTimeoutSeconds: 1,
    maxReceiveCount: 2,
  });
}

function send(queueUrl: string, body: string, group = "group-a") {
  return sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageGroupId: group }));
}

async function remaining(queueUrl: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible)
  );
}

async function dlqBodies(dlqUrl: string): Promise<string[]> {
  const { Messages } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
  );
  return (Messages ?? []).map((message) => message.Body ?? "");
}

function poller(q: TickQueues, invoke: (event: SQSEvent) => Promise<unknown>): SqsPoller {
  return new SqsPoller({
    sqs,
    queueUrl: q.queueUrl,
    queueArn: q.queueArn,
    region: LOCAL_REGION,
    invoke,
    waitTimeSeconds: 1,
  });
}

describe("the local SQS event source", () => {
  it("delivers records shaped like Lambda's and deletes them on success", async () => {
    const q = await queues();
    const seen: SQSRecord[] = [];
    const source = poller(q, async (event) => {
      seen.push(...event.Records);
      return { batchItemFailures: [] } satisfies SQSBatchResponse;
    });
    await send(q.queueUrl, '{"monitorId":"a","scheduledTime":"2026-01-01T00:00:00Z"}', "a");
    source.start();
    try {
      await eventually("the record", () => (seen.length > 0 ? true : undefined));
      await eventually("the message to be deleted", async () =>
        (await remaining(q.queueUrl)) === 0 ? true : undefined,
      );
    } finally {
      await source.stop();
    }
    const [record] = seen;
    expect(record).toMatchObject({
      body: '{"monitorId":"a","scheduledTime":"2026-01-01T00:00:00Z"}',
      eventSource: "aws:sqs",
      eventSourceARN: q.queueArn,
      awsRegion: LOCAL_REGION,
      messageAttributes: {},
      attributes: { ApproximateReceiveCount: "1", MessageGroupId: "a" },
    });
    expect(record?.messageId).toMatch(/\S/);
    expect(record?.receiptHandle).toMatch(/\S/);
    expect(record?.md5OfBody).toMatch(/^[0-9a-f]{32}$/);
    for (const name of [
      "SentTimestamp",
      "ApproximateFirstReceiveTimestamp",
      "SequenceNumber",
      "MessageDeduplicationId",
      "SenderId",
    ]) {
      expect(record?.attributes).toHaveProperty(name);
    }
  });

  it("redelivers only the reported failures, and moves them to the DLQ after maxReceiveCount", async () => {
    const q = await queues();
    const receives: Record<string, number> = {};
    const source = poller(q, async (event) => {
      for (const record of event.Records) receives[record.body] = (receives[record.body] ?? 0) + 1;
      return {
        batchItemFailures: event.Records.filter((record) => record.body === "poison").map((record) => ({
          itemIdentifier: record.messageId,
        })),
      } satisfies SQSBatchResponse;
    });
    await send(q.queueUrl, "good", "good-group");
    await send(q.queueUrl, "poison", "poison-group");
    source.start();
    try {
      const dead = await eventually("the poison message in the DLQ", async () => {
        const bodies = await dlqBodies(q.dlqUrl);
        return bodies.length > 0 ? bodies : undefined;
      });
      expect(dead).toEqual(["poison"]);
    } finally {
      await source.stop();
    }
    expect(receives).toEqual({ good: 1, poison: 2 });
    expect(await remaining(q.queueUrl)).toBe(0);
  });

  it("fails the whole batch when the function throws", async () => {
    const q = await queues();
    let calls = 0;
    const source = poller(q, async (event) => {
      calls += 1;
      if (calls === 1) throw new Error(`boom on ${event.Records.length} records`);
      return undefined;
    });
    await send(q.queueUrl, "one");
    await send(q.queueUrl, "two");
    source.start();
    try {
      await eventually("the retried batch to succeed", async () =>
        calls >= 2 && (await remaining(q.queueUrl)) === 0 ? true : undefined,
      );
    } finally {
      await source.stop();
    }
    expect(await dlqBodies(q.dlqUrl)).toEqual([]);
  });

  it("tolerates a function that deleted its processed messages itself", async () => {
    // The orchestrator deletes a finished monitor's ticks early; the event source deletes them
    // again at the end of the invocation, with receipt handles that are used by then.
    const q = await queues();
    const earlyAck = new SqsEarlyAck(sqs);
    const outcomes: BatchOutcome[] = [];
    let receives = 0;
    const source = new SqsPoller({
      sqs,
      queueUrl: q.queueUrl,
      queueArn: q.queueArn,
      region: LOCAL_REGION,
      waitTimeSeconds: 1,
      onBatch: (outcome) => outcomes.push(outcome),
      invoke: async (event) => {
        receives += event.Records.length;
        await earlyAck.ack(event.Records);
        return { batchItemFailures: [] } satisfies SQSBatchResponse;
      },
    });
    await send(q.queueUrl, "a", "group-a");
    await send(q.queueUrl, "b", "group-b");
    source.start();
    try {
      await eventually("both batches' ends", () =>
        outcomes.reduce((sum, outcome) => sum + outcome.received, 0) === 2 ? true : undefined,
      );
      // Past the 1 s visibility timeout: had anything been left, it would be back.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    } finally {
      await source.stop();
    }
    expect(outcomes.every((outcome) => outcome.failed.length === 0 && outcome.error === undefined)).toBe(
      true,
    );
    expect(outcomes.reduce((sum, outcome) => sum + outcome.deleted, 0)).toBe(2);
    expect(receives).toBe(2);
    expect(await remaining(q.queueUrl)).toBe(0);
    expect(await dlqBodies(q.dlqUrl)).toEqual([]);
  });

  it("fails the whole batch when the response names an unknown message", async () => {
    const q = await queues();
    const receives: number[] = [];
    const source = poller(q, async (event) => {
      receives.push(event.Records.length);
      return receives.length === 1
        ? { batchItemFailures: [{ itemIdentifier: "not-in-this-batch" }] }
        : undefined;
    });
    await send(q.queueUrl, "only");
    source.start();
    try {
      await eventually("the redelivery", async () =>
        receives.length >= 2 && (await remaining(q.queueUrl)) === 0 ? true : undefined,
      );
    } finally {
      await source.stop();
    }
  });
});
