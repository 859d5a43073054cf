import { SESv2Client } from "@aws-sdk/client-sesv2";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDocumentClient, DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { SesNotifier } from "#adapters/ses-notifier.ts";
import { SqsDeliveryRetries } from "#adapters/sqs-delivery-retries.ts";
import type { Email, Notifier } from "#core/ports.ts";
import { createDeliveryRetryQueue, type RetryQueue } from "#local/resources.ts";
import { freePort, type SesServer, type SqsServer, startSes, startSqs } from "#local/servers.ts";
import { toSqsRecord } from "#local/sqs-poller.ts";
import { findCheck } from "#monitors/index.ts";
import {
  capturedEmails,
  freshTable,
  localClientConfig,
  localDynamo,
  localSes,
  localSqs,
  putMonitorConfig,
  setAwsEnvironment,
} from "../support/aws.ts";
import { lambdaContext, tickEvent } from "../support/sqs-event.ts";

/**
 * Issue 10 over the wire: during an SES outage (a mail endpoint that refuses connections), the
 * orchestrator queues a `deliver` tick with a delay on a real (fauxqs) standard queue; once the
 * outage ends, that tick, received from the queue as Lambda's event source would, delivers the ALERT
 * through aws-ses-v2-local, and clears the outbox in DynamoDB Local. The monitor's own schedule is
 * daily: nothing but the retry queue could bring the mail out today.
 */
let ses: SesServer;
let sqs: SqsServer;
let retryQueue: RetryQueue;
let tableName: string;
const { client: dynamoClient, doc } = localDynamo();

/** Sends through a mail endpoint nobody listens on while `down`, through the real SES server otherwise. */
class SwitchableSes implements Notifier {
  down = true;
  constructor(
    private readonly up: Notifier,
    private readonly outage: Notifier,
  ) {}
  send(email: Email) {
    return (this.down ? this.outage : this.up).send(email);
  }
}

beforeAll(async () => {
  [ses, sqs, { tableName }] = await Promise.all([startSes(), startSqs(), freshTable("retries")]);
  retryQueue = await createDeliveryRetryQueue(localSqs(sqs.endpoint), `retries-${tableName}`, {
    visibilityTimeoutSeconds: 30,
  });
  setAwsEnvironment({ sesv2: ses.endpoint, sqs: sqs.endpoint });
  // The module-level Lambda wiring reads these at import; the test builds its own handler.
  process.env.MONITORS_TABLE = tableName;
  process.env.SENDER_EMAIL = "watchkeeper@example.com";
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  process.env.POWERTOOLS_LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? "SILENT";
});

afterAll(async () => {
  await Promise.all([ses?.stop(), sqs?.stop()]);
  dynamoClient.destroy();
});

describe("delivery retries through the delivery-retry queue", () => {
  it("retries an ALERT during an SES outage on its own backoff and delivers it once SES is back", async () => {
    const monitorId = "daily-feed";
    await putMonitorConfig(tableName, monitorId, {
      name: "Daily feed",
      check: "manual",
      params: { isOk: false, message: "no file today" },
      schedule: "cron(0 8 * * ? *)",
      peopleToNotify: ["ops@example.com"],
    });
    const deadPort = await freePort();
    const notifier = new SwitchableSes(
      new SesNotifier("watchkeeper@example.com", localSes(ses.endpoint)),
      new SesNotifier(
        "watchkeeper@example.com",
        new SESv2Client({ ...localClientConfig(`http://127.0.0.1:${deadPort}`), maxAttempts: 1 }),
      ),
    );
    const sqsClient = localSqs(sqs.endpoint);
    const { createOrchestratorHandler } = await import("../../functions/orchestrator/handler.ts");
    const handler = createOrchestratorHandler({
      store: new DynamoMonitorStore(tableName, createDocumentClient(dynamoClient)),
      notifier,
      retries: new SqsDeliveryRetries(retryQueue.queueUrl, sqsClient),
      findCheck,
      // A 2-second first retry keeps the test short; production starts at 30 s.
      options: { retryBaseMs: 2_000 },
    });
    const scheduledTime = new Date(Date.now() - 1_000).toISOString();
    const first = await handler(tickEvent({ monitorId, scheduledTime }), lambdaContext());
    expect(first.batchItemFailures).toEqual([]);
    const pending = await stateOf(monitorId);
    expect(pending?.outbox).toMatchObject({ type: "alert", attempts: 1 });
    expect(pending?.outbox?.lastError).toMatch(/ECONNREFUSED|connect/i);
    expect(pending?.outbox?.nextAttemptAt).toBeGreaterThan(Date.now());

    // The queue holds the retry back for its delay: nothing is visible at once.
    const early = await sqsClient.send(
      new ReceiveMessageCommand({
        QueueUrl: retryQueue.queueUrl,
        WaitTimeSeconds: 0,
        MaxNumberOfMessages: 10,
      }),
    );
    expect(early.Messages ?? []).toEqual([]);

    notifier.down = false;
    const received = await sqsClient.send(
      new ReceiveMessageCommand({
        QueueUrl: retryQueue.queueUrl,
        WaitTimeSeconds: 10,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ["All"],
      }),
    );
    expect(received.Messages).toHaveLength(1);
    const [message] = received.Messages ?? [];
    expect(JSON.parse(message?.Body ?? "{}")).toEqual({
      monitorId,
      scheduledTime: new Date(scheduledTime).toISOString(),
      reason: "deliver",
      // The entry's failed attempts when the retry was queued: the retry chain's token.
      attempt: 1,
    });
    const event: SQSEvent = {
      Records: (received.Messages ?? []).map((entry) => toSqsRecord(entry, retryQueue.queueArn, "us-east-1")),
    };
    const retried = await handler(event, lambdaContext());
    expect(retried.batchItemFailures).toEqual([]);

    const mails = (await capturedEmails(ses.endpoint)).filter((mail) => mail.subject.includes("Daily feed"));
    expect(mails.map((mail) => mail.subject)).toEqual(["[Monitor ALERT] Daily feed"]);
    const after = await stateOf(monitorId);
    expect(after?.outbox).toBeUndefined();
    const { Items = [] } = await doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "monitorId = :id AND begins_with(#record, :prefix)",
        ExpressionAttributeNames: { "#record": "record" },
        ExpressionAttributeValues: { ":id": monitorId, ":prefix": "notification#" },
      }),
    );
    expect(Items).toMatchObject([{ type: "alert", outcome: "delivered", attempts: 2 }]);
  });
});

async function stateOf(monitorId: string) {
  const { Item } = await doc.send(
    new GetCommand({ TableName: tableName, Key: { monitorId, record: "state" }, ConsistentRead: true }),
  );
  return Item;
}
