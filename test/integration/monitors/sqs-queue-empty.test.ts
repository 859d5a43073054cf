import { randomUUID } from "node:crypto";
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { SQS_QUEUE_EMPTY_CHECK, sqsQueueEmptyCheck } from "#monitors/sqs-queue-empty.ts";
import { InvalidParamsError } from "#monitors/support/params.ts";
import type { CheckContext } from "#monitors/types.ts";
import { type SqsServer, startSqs } from "../../../local/servers.ts";
import { localSqs, setAwsEnvironment } from "../../support/aws.ts";

// The check builds its client from the SDK's standard variables, exactly as in Lambda.
const ENV_KEYS = [
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_ENDPOINT_URL_SQS",
] as const;
const savedEnv = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]]));

let sqsServer: SqsServer;
let sqs: SQSClient;

beforeAll(async () => {
  sqsServer = await startSqs();
  setAwsEnvironment({ sqs: sqsServer.endpoint });
  sqs = localSqs(sqsServer.endpoint);
});

afterAll(async () => {
  sqs?.destroy();
  await sqsServer?.stop();
  for (const key of ENV_KEYS) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
});

async function newQueue(prefix = "dlq"): Promise<{ queueUrl: string; name: string }> {
  const name = `${prefix}-${randomUUID().slice(0, 8)}`;
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  if (!QueueUrl) throw new Error("CreateQueue returned no QueueUrl");
  return { queueUrl: QueueUrl, name };
}

async function sendMessages(queueUrl: string, count: number): Promise<void> {
  const entries = Array.from({ length: count }, (_, index) => ({
    Id: `m${index}`,
    MessageBody: `poison ${index}`,
  }));
  const { Failed } = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  expect(Failed ?? []).toEqual([]);
}

function context(params: Record<string, unknown>, signal = AbortSignal.timeout(10_000)): CheckContext {
  return { monitorId: "orders-dlq", params, signal, logger: silentLogger, now: new Date() };
}

const run = (params: Record<string, unknown>, signal?: AbortSignal) =>
  sqsQueueEmptyCheck.run(context(params, signal));

describe("sqs-queue-empty check (fauxqs)", () => {
  it("is registered under the name config items use", () => {
    expect(sqsQueueEmptyCheck.name).toBe(SQS_QUEUE_EMPTY_CHECK);
    expect(SQS_QUEUE_EMPTY_CHECK).toBe("sqs-queue-empty");
  });

  it("is OK when the queue is empty", async () => {
    const { queueUrl, name } = await newQueue();
    await expect(run({ queueUrl })).resolves.toEqual({
      isOk: true,
      message: `queue ${name} has no visible messages (0 in flight, 0 delayed)`,
    });
  });

  it("fails with the count when messages are waiting", async () => {
    const { queueUrl, name } = await newQueue();
    await sendMessages(queueUrl, 3);
    await expect(run({ queueUrl })).resolves.toEqual({
      isOk: false,
      message: `queue ${name} has 3 visible messages; it should be empty (0 in flight, 0 delayed)`,
    });
  });

  it("says '1 visible message' in the singular", async () => {
    const { queueUrl } = await newQueue();
    await sendMessages(queueUrl, 1);
    await expect(run({ queueUrl })).resolves.toMatchObject({
      isOk: false,
      message: expect.stringContaining("has 1 visible message;"),
    });
  });

  it("is OK below maxMessages and fails at it (threshold semantics)", async () => {
    const { queueUrl, name } = await newQueue("backlog");
    await sendMessages(queueUrl, 3);
    await expect(run({ queueUrl, maxMessages: 4 })).resolves.toEqual({
      isOk: true,
      message: `queue ${name} has 3 visible messages, below the limit of 4 (0 in flight, 0 delayed)`,
    });
    await expect(run({ queueUrl, maxMessages: 3 })).resolves.toEqual({
      isOk: false,
      message: `queue ${name} has 3 visible messages, at or above the limit of 3 (0 in flight, 0 delayed)`,
    });
  });

  it("counts in-flight messages apart from visible ones", async () => {
    const { queueUrl, name } = await newQueue();
    await sendMessages(queueUrl, 2);
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, VisibilityTimeout: 300 }),
    );
    expect(received.Messages).toHaveLength(1);
    await expect(run({ queueUrl })).resolves.toEqual({
      isOk: false,
      message: `queue ${name} has 1 visible message; it should be empty (1 in flight, 0 delayed)`,
    });
  });

  it("reports delayed messages without counting them as visible", async () => {
    const { queueUrl, name } = await newQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "later", DelaySeconds: 600 }));
    await expect(run({ queueUrl })).resolves.toEqual({
      isOk: true,
      message: `queue ${name} has no visible messages (0 in flight, 1 delayed)`,
    });
  });

  it("throws a clear error for a queue that does not exist", async () => {
    const { queueUrl } = await newQueue();
    const missing = queueUrl.replace(/[^/]+$/, "no-such-queue");
    await expect(run({ queueUrl: missing })).rejects.toThrow(
      /^queue no-such-queue does not exist \(params\.queueUrl /,
    );
  });

  it("stops at once when ctx.signal is already aborted", async () => {
    const { queueUrl, name } = await newQueue();
    const signal = AbortSignal.abort(new Error("check timed out"));
    await expect(run({ queueUrl }, signal)).rejects.toThrow(
      `GetQueueAttributes on queue ${name} aborted: check timed out`,
    );
  });

  describe("params validation names the bad param", () => {
    it.each([
      [{}, "params.queueUrl is required"],
      [{ queueUrl: "orders-dlq" }, "params.queueUrl must be an SQS queue URL"],
      [{ queueUrl: "https://sqs.us-east-1.amazonaws.com/" }, "params.queueUrl must be an SQS queue URL"],
      [
        { queueUrl: "https://sqs.us-east-1.amazonaws.com/1/q", maxMessages: 0 },
        "params.maxMessages must be a whole number of at least 1",
      ],
      [
        { queueUrl: "https://sqs.us-east-1.amazonaws.com/1/q", maxMessages: 2.5 },
        "params.maxMessages must be a whole number",
      ],
      [
        { queueUrl: "https://sqs.us-east-1.amazonaws.com/1/q", region: "Europe" },
        "params.region must be an AWS region",
      ],
      [
        { queueUrl: "https://sqs.us-east-1.amazonaws.com/1/q", maxMessage: 5 },
        "params.maxMessage is not a known parameter",
      ],
    ])("%j", async (params, expected) => {
      const error = await run(params).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidParamsError);
      expect((error as Error).message).toContain(expected);
    });
  });
});
