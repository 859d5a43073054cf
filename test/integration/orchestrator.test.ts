import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import {
  BatchGetCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createDocumentClient, DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { SesNotifier } from "#adapters/ses-notifier.ts";
import { createTickQueues, type TickQueues } from "#local/resources.ts";
import { type SesServer, type SqsServer, startSes, startSqs } from "#local/servers.ts";
import { findCheck } from "#monitors/index.ts";
import {
  type CapturedEmail,
  capturedEmails,
  clearEmails,
  freshTable,
  localDynamo,
  localSes,
  localSqs,
  putMonitorConfig,
  setAwsEnvironment,
} from "../support/aws.ts";
import { lambdaContext, tickEvent } from "../support/sqs-event.ts";

/**
 * The orchestrator handler, as Lambda runs it, against DynamoDB Local, aws-ses-v2-local and fauxqs.
 * Covers the seed's eight-step checklist plus duplicates, poison messages and a crash.
 */

let ses: SesServer;
let sqs: SqsServer;
let queues: TickQueues;
let tableName: string;
let handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
const { client: dynamoClient, doc } = localDynamo();

const SENDER = "watchkeeper@example.com";
const minute = (m: number) => new Date(Date.UTC(2026, 2, 1, 6, 0) + m * 60_000).toISOString();

const putConfig = (monitorId: string, config: Record<string, unknown>) =>
  putMonitorConfig(tableName, monitorId, {
    name: `Monitor ${monitorId}`,
    check: "manual",
    params: { isOk: true },
    peopleToNotify: ["ops@example.com", "lead@example.com"],
    ...config,
  });

async function setOutcome(
  monitorId: string,
  isOk: boolean,
  message = isOk ? "feed arrived" : "feed missing",
) {
  await doc.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { monitorId, record: "config" },
      UpdateExpression: "SET params = :params",
      ExpressionAttributeValues: { ":params": { isOk, message } },
    }),
  );
}

async function state(monitorId: string) {
  const { Item } = await doc.send(
    new GetCommand({ TableName: tableName, Key: { monitorId, record: "state" }, ConsistentRead: true }),
  );
  return Item;
}

/** The mail one person got about a monitor (each recipient gets a mail of their own). */
async function mailFor(monitorId: string, to = "ops@example.com"): Promise<CapturedEmail[]> {
  return (await capturedEmails(ses.endpoint)).filter(
    (mail) => mail.body.text?.includes(`(${monitorId})`) && mail.destination.to.includes(to),
  );
}

async function tickAt(monitorId: string, m: number) {
  return handler(tickEvent({ monitorId, scheduledTime: minute(m) }), lambdaContext());
}

beforeAll(async () => {
  [ses, sqs, { tableName }] = await Promise.all([startSes(), startSqs(), freshTable("orchestrator")]);
  queues = await createTickQueues(localSqs(sqs.endpoint), `ticks-${tableName}`);
  setAwsEnvironment({
    dynamodb: dynamoClient.config.endpoint ? await endpointOf() : undefined,
    sesv2: ses.endpoint,
    sqs: sqs.endpoint,
  });
  process.env.MONITORS_TABLE = tableName;
  process.env.SENDER_EMAIL = SENDER;
  process.env.TICKS_DLQ_URL = queues.dlqUrl;
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  process.env.POWERTOOLS_LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? "SILENT";
  ({ handler } = await import("../../functions/orchestrator/handler.ts"));
});

async function endpointOf(): Promise<string> {
  const endpoint = await dynamoClient.config.endpoint?.();
  return `${endpoint?.protocol}//${endpoint?.hostname}:${endpoint?.port}`;
}

afterAll(async () => {
  await Promise.all([ses?.stop(), sqs?.stop()]);
  dynamoClient.destroy();
});

beforeEach(() => clearEmails(ses.endpoint));

describe("seed checklist", () => {
  it("1. first failure alerts at once, through SES, to every recipient", async () => {
    await putConfig("first-failure", {
      name: "Compass PO feed",
      params: { isOk: false, message: "no PO file for 2026-03-01" },
    });
    const response = await tickAt("first-failure", 0);
    expect(response.batchItemFailures).toEqual([]);
    // One mail per recipient (each can carry its own ack link).
    for (const to of ["ops@example.com", "lead@example.com"]) {
      const mails = await mailFor("first-failure", to);
      expect(mails).toHaveLength(1);
      expect(mails[0]).toMatchObject({
        from: SENDER,
        subject: "[Monitor ALERT] Compass PO feed",
        destination: { to: [to] },
      });
      expect(mails[0]?.body.text).toContain("no PO file for 2026-03-01");
    }
    expect(await state("first-failure")).toMatchObject({
      state: "alert",
      lastNotificationType: "alert",
      lastResultOk: false,
    });
    expect((await state("first-failure"))?.outbox).toBeUndefined();
  });

  it("2. reminders follow reminderFrequencyMinutes on the logical clock", async () => {
    await putConfig("reminders", { params: { isOk: false }, reminderFrequencyMinutes: 30 });
    for (const m of [0, 10, 20, 30, 40, 59, 60]) await tickAt("reminders", m);
    expect((await mailFor("reminders")).map((mail) => mail.subject)).toEqual([
      "[Monitor ALERT] Monitor reminders",
      "[Monitor REMINDER] Monitor reminders",
      "[Monitor REMINDER] Monitor reminders",
    ]);
  });

  it("3. recovery needs requiredConsecutiveOks OKs in a row (anti-flap)", async () => {
    await putConfig("flapping", { params: { isOk: false }, requiredConsecutiveOks: 2 });
    await tickAt("flapping", 0);
    for (const [m, isOk] of [
      [5, true],
      [10, false],
      [15, true],
    ] as const) {
      await setOutcome("flapping", isOk);
      await tickAt("flapping", m);
    }
    expect(await state("flapping")).toMatchObject({ state: "alert", consecutiveOkCount: 1 });
    await tickAt("flapping", 20);
    expect(await state("flapping")).toMatchObject({
      state: "ok",
      consecutiveOkCount: 0,
      lastNotificationType: "recovery",
    });
    expect((await mailFor("flapping")).map((mail) => mail.subject)).toEqual([
      "[Monitor ALERT] Monitor flapping",
      "[Monitor RECOVERED] Monitor flapping",
    ]);
  });

  it("4. a check that throws is a failure whose message says so", async () => {
    await putConfig("throws", { params: { throwMessage: "connection reset by peer" } });
    await tickAt("throws", 0);
    const [mail] = await mailFor("throws");
    expect(mail?.subject).toBe("[Monitor ALERT] Monitor throws");
    expect(mail?.body.text).toContain('Check "manual" threw: Error: connection reset by peer');
  });

  it("5. a check that outlives checkTimeoutSeconds is a failure", async () => {
    await putConfig("slow", { params: { isOk: true, delayMs: 10_000 }, checkTimeoutSeconds: 0.3 });
    await tickAt("slow", 0);
    expect(await state("slow")).toMatchObject({
      state: "alert",
      lastResultMessage: 'Check "manual" timed out after 0.3 s',
    });
    expect(await mailFor("slow")).toHaveLength(1);
  });

  it("6. an inactive monitor runs nothing, writes nothing, sends nothing", async () => {
    await putConfig("paused", { params: { isOk: false }, isActive: false });
    expect((await tickAt("paused", 0)).batchItemFailures).toEqual([]);
    expect(await state("paused")).toBeUndefined();
    expect(await mailFor("paused")).toHaveLength(0);
  });

  it("7. a tick for a monitor that does not exist writes nothing and does not fail the batch", async () => {
    expect((await tickAt("no-such-monitor", 0)).batchItemFailures).toEqual([]);
    expect(await state("no-such-monitor")).toBeUndefined();
  });

  it("8. an unknown check alerts with a clear message", async () => {
    await putConfig("unknown-check", { check: "ftp-feed" });
    await tickAt("unknown-check", 0);
    const [mail] = await mailFor("unknown-check");
    expect(mail?.body.text).toContain(
      'Invalid monitor configuration: check "ftp-feed" is not a registered check',
    );
  });
});

describe("delivery semantics", () => {
  it("ignores duplicate and out-of-order ticks", async () => {
    await putConfig("dupes", { params: { isOk: false } });
    await handler(
      tickEvent(
        { monitorId: "dupes", scheduledTime: minute(10) },
        { monitorId: "dupes", scheduledTime: minute(10) },
      ),
      lambdaContext(),
    );
    const after = await state("dupes");
    await tickAt("dupes", 5);
    await tickAt("dupes", 10);
    expect(await state("dupes")).toEqual(after);
    expect(await mailFor("dupes")).toHaveLength(1);
  });

  it("stores a string-set recipient list like a list", async () => {
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          monitorId: "string-set",
          record: "config",
          name: "SS recipients",
          check: "manual",
          params: { isOk: false },
          peopleToNotify: new Set(["a@example.com", "b@example.com"]),
          skipSupersededTicks: false,
        },
      }),
    );
    await tickAt("string-set", 0);
    expect(await mailFor("string-set", "a@example.com")).toHaveLength(1);
    expect(await mailFor("string-set", "b@example.com")).toHaveLength(1);
  });

  it("fails only the poison message of a batch; malformed ticks go to the DLQ with their reason", async () => {
    await putConfig("batch-a", { params: { isOk: false } });
    await putConfig("batch-b", { params: { isOk: true } });
    await putConfig("batch-corrupt", {});
    // A person hand-edited the state item into something the orchestrator cannot read.
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: { monitorId: "batch-corrupt", record: "state", state: "panic", version: 1 },
      }),
    );
    const event = tickEvent(
      { monitorId: "batch-a", scheduledTime: minute(0) },
      { raw: "this is not json", group: "batch-x" },
      { monitorId: "batch-corrupt", scheduledTime: minute(0) },
      { monitorId: "batch-b", scheduledTime: minute(0) },
    );
    const response = await handler(event, lambdaContext());
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[2]?.messageId }]);
    expect(await state("batch-a")).toMatchObject({ state: "alert" });
    expect(await state("batch-b")).toMatchObject({ state: "ok", lastTickTime: minute(0) });
    const dlq = await localSqs(sqs.endpoint).send(
      new ReceiveMessageCommand({
        QueueUrl: queues.dlqUrl,
        MessageAttributeNames: ["All"],
        MaxNumberOfMessages: 10,
      }),
    );
    expect(dlq.Messages).toHaveLength(1);
    expect(dlq.Messages?.[0]?.Body).toBe("this is not json");
    expect(dlq.Messages?.[0]?.MessageAttributes?.rejectionReason?.StringValue).toMatch(/not JSON/);
  });

  it("applies ticks to a state item that lost its version (restored or hand-edited)", async () => {
    await putConfig("no-version", { params: { isOk: true }, requiredConsecutiveOks: 1 });
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: { monitorId: "no-version", record: "state", state: "alert", consecutiveOkCount: 0 },
      }),
    );
    expect((await tickAt("no-version", 0)).batchItemFailures).toEqual([]);
    expect(await state("no-version")).toMatchObject({
      state: "ok",
      lastNotificationType: "recovery",
      version: 2,
    });
    expect((await mailFor("no-version")).map((mail) => mail.subject)).toEqual([
      "[Monitor RECOVERED] Monitor no-version",
    ]);
  });

  it("records run history and the notification log with TTLs", async () => {
    await putConfig("history", { params: { isOk: false }, historyRetentionDays: 3 });
    await tickAt("history", 0);
    const { Items = [] } = await doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "monitorId = :id",
        ExpressionAttributeValues: { ":id": "history" },
      }),
    );
    const run = Items.find((item) => item.record === `run#${minute(0)}`);
    const log = Items.find((item) => item.record === `notification#${minute(0)}#alert#email:ops@example.com`);
    expect(run).toMatchObject({
      isOk: false,
      notification: "alert",
      expiresAt: Date.parse(minute(0)) / 1000 + 3 * 86_400,
    });
    expect(log).toMatchObject({
      type: "alert",
      target: "email:ops@example.com",
      kind: "email",
      recipients: ["ops@example.com"],
      subject: "[Monitor ALERT] Monitor history",
      outcome: "delivered",
    });
    // One log item per recipient.
    expect(Items.filter((item) => String(item.record).startsWith("notification#"))).toHaveLength(2);
    expect(typeof log?.messageId).toBe("string");
  });
});

describe("crash between the state write and the send (fault injected with aws-sdk-client-mock)", () => {
  it("is healed by the next delivery of the same tick: one mail, outbox cleared", async () => {
    await putConfig("crash", { name: "Crashy", params: { isOk: false } });
    const realDoc = createDocumentClient(localDynamo().client);
    const realSend = realDoc.send.bind(realDoc) as (command: unknown) => Promise<unknown>;
    const faulty = createDocumentClient(localDynamo().client);
    const mock = mockClient(faulty);
    mock.on(BatchGetCommand).callsFake((input) => realSend(new BatchGetCommand(input)));
    mock.on(UpdateCommand).callsFake((input) => realSend(new UpdateCommand(input)));
    mock.on(PutCommand).callsFake((input) => realSend(new PutCommand(input)));
    mock
      .on(TransactWriteCommand)
      .callsFakeOnce(async (input) => {
        await realSend(new TransactWriteCommand(input));
        throw new Error("Runtime exited with error: signal: killed");
      })
      .callsFake((input) => realSend(new TransactWriteCommand(input)));

    let wallNow = Date.now();
    const { createOrchestratorHandler } = await import("../../functions/orchestrator/handler.ts");
    const crashing = createOrchestratorHandler({
      store: new DynamoMonitorStore(tableName, faulty),
      notifier: new SesNotifier(SENDER, localSes(ses.endpoint)),
      findCheck,
      wallClock: () => new Date(wallNow),
    });
    const event = tickEvent({ monitorId: "crash", scheduledTime: minute(0) });
    const first = await crashing(event, lambdaContext());
    expect(first.batchItemFailures).toHaveLength(1);
    expect((await state("crash"))?.outbox).toMatchObject({ type: "alert" });
    expect(await mailFor("crash")).toHaveLength(0);

    // SQS redelivers after the visibility timeout, by which time the writer's lease has expired.
    wallNow += 5 * 60_000;
    const second = await crashing(event, lambdaContext());
    expect(second.batchItemFailures).toEqual([]);
    expect((await mailFor("crash")).map((mail) => mail.subject)).toEqual(["[Monitor ALERT] Crashy"]);
    expect((await state("crash"))?.outbox).toBeUndefined();

    // And a third delivery of the same tick changes nothing.
    await crashing(event, lambdaContext());
    expect(await mailFor("crash")).toHaveLength(1);
    mock.restore();
    await doc.send(
      new DeleteCommand({ TableName: tableName, Key: { monitorId: "crash", record: "config" } }),
    );
  });
});

describe("retry delay of a failed tick (fauxqs)", () => {
  it("brings the tick back after the backoff, not after the queue's visibility timeout", async () => {
    const { SendMessageCommand } = await import("@aws-sdk/client-sqs");
    const { SqsRetryDelay } = await import("#adapters/sqs-retry-delay.ts");
    const { toSqsRecord } = await import("#local/sqs-poller.ts");
    const { createOrchestratorHandler } = await import("../../functions/orchestrator/handler.ts");
    const sqsClient = localSqs(sqs.endpoint);
    // Two minutes of visibility: without the retry delay the message stays hidden for the whole test.
    const slow = await createTickQueues(sqsClient, `retry-${tableName}`, { visibilityTimeoutSeconds: 120 });
    await putConfig("retry-me", { params: { isOk: true } });
    const store = new DynamoMonitorStore(tableName, createDocumentClient(localDynamo().client));
    const throttled = Object.assign(Object.create(store), {
      load: async () => {
        throw Object.assign(new Error("Rate exceeded"), { name: "ProvisionedThroughputExceededException" });
      },
    });
    const handler = createOrchestratorHandler({
      store: throttled,
      notifier: new SesNotifier(SENDER, localSes(ses.endpoint)),
      findCheck,
      retryDelay: new SqsRetryDelay(1, sqsClient),
    });
    await sqsClient.send(
      new SendMessageCommand({
        QueueUrl: slow.queueUrl,
        MessageGroupId: "retry-me",
        MessageBody: JSON.stringify({ monitorId: "retry-me", scheduledTime: minute(0) }),
      }),
    );
    const receive = () =>
      sqsClient.send(
        new ReceiveMessageCommand({
          QueueUrl: slow.queueUrl,
          MessageSystemAttributeNames: ["All"],
          WaitTimeSeconds: 5,
        }),
      );
    const [first] = (await receive()).Messages ?? [];
    if (!first) throw new Error("the tick was not delivered");
    const response = await handler(
      { Records: [toSqsRecord(first, slow.queueArn, "us-east-1")] },
      lambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: first.MessageId }]);

    const [again] = (await receive()).Messages ?? [];
    expect(again?.MessageId).toBe(first.MessageId);
    expect(again?.Attributes?.ApproximateReceiveCount).toBe("2");
  });
});
