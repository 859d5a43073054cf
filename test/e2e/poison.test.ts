import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestRuntime, type TestRuntime } from "./support/runtime.ts";

/** Ticks the orchestrator can never apply leave the queue for the DLQ instead of looping. */

let env: TestRuntime;
beforeAll(async () => {
  env = await startTestRuntime();
});
afterAll(async () => {
  await env?.stop();
});

describe("a poison tick", () => {
  it("is forwarded to the DLQ with the reason, and the queue is left empty", async () => {
    const { queueUrl, dlqUrl } = env.runtime.endpoints;
    await env.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageGroupId: "garbage",
        MessageBody: '{"monitorId": "e2e-poison", "scheduledTime": "yesterday-ish"}',
      }),
    );
    const dead = await eventually("the tick in the DLQ", async () => {
      const { Messages } = await env.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageAttributeNames: ["All"],
        }),
      );
      return Messages?.[0];
    });
    expect(dead.Body).toBe('{"monitorId": "e2e-poison", "scheduledTime": "yesterday-ish"}');
    expect(dead.MessageAttributes?.rejectionReason?.StringValue).toMatch(/scheduledTime/);

    // Acknowledged (deleted), not left to come back after the visibility timeout.
    await eventually("the ticks queue to be empty", async () => {
      const { Attributes } = await env.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        }),
      );
      const left =
        Number(Attributes?.ApproximateNumberOfMessages) +
        Number(Attributes?.ApproximateNumberOfMessagesNotVisible);
      return left === 0 ? true : undefined;
    });
  });
});
