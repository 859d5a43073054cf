import { GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DynamoDbChannels } from "#adapters/dynamodb-channels.ts";
import { createDocumentClient, DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { SesNotifier } from "#adapters/ses-notifier.ts";
import type { ChannelDirectory } from "#core/channels.ts";
import { CHANNELS_PARTITION } from "#core/channels.ts";
import { type SesServer, startSes } from "#local/servers.ts";
import { findCheck } from "#monitors/index.ts";
import {
  capturedEmails,
  clearEmails,
  freshTable,
  localDynamo,
  localSes,
  putMonitorConfig,
  setAwsEnvironment,
} from "../support/aws.ts";
import { FakeLinks, RecordingChannelSender, RecordingRetries } from "../support/memory-adapters.ts";
import { lambdaContext, tickBody, tickEvent } from "../support/sqs-event.ts";

/**
 * Per-target delivery (issues 14, 15) through the real handler and adapters: DynamoDB Local (the
 * state item's per-target records, one notification item per target, the incident item's counts
 * in the same transaction, channel items under __channels) and aws-ses-v2-local (one mail per
 * recipient). Channels go to an in-process sender: their HTTP/SNS adapters are tested on their own.
 */

let ses: SesServer;
let tableName: string;
let handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
let directoryReads = 0;
const sender = new RecordingChannelSender();
const links = new FakeLinks();
const retries = new RecordingRetries();
const { client: dynamoClient, doc } = localDynamo();
const SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hook-AbCdEf";
const minute = (m: number) => new Date(Date.UTC(2026, 2, 1, 6, 0) + m * 60_000).toISOString();

async function items(monitorId: string, prefix: string) {
  const { Items = [] } = await doc.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: "monitorId = :id AND begins_with(#record, :prefix)",
      ExpressionAttributeNames: { "#record": "record" },
      ExpressionAttributeValues: { ":id": monitorId, ":prefix": prefix },
      ConsistentRead: true,
    }),
  );
  return Items;
}

async function state(monitorId: string) {
  const { Item } = await doc.send(
    new GetCommand({ TableName: tableName, Key: { monitorId, record: "state" }, ConsistentRead: true }),
  );
  return Item;
}

const mailsAbout = async (monitorId: string) =>
  (await capturedEmails(ses.endpoint)).filter((mail) => mail.body.text?.includes(`(${monitorId})`));

beforeAll(async () => {
  [ses, { tableName }] = await Promise.all([startSes(), freshTable("per-target")]);
  setAwsEnvironment({ sesv2: ses.endpoint });
  process.env.MONITORS_TABLE = tableName;
  process.env.SENDER_EMAIL = "watchkeeper@example.com";
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  process.env.POWERTOOLS_LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? "SILENT";
  const channels = new DynamoDbChannels({ tableName, client: doc });
  await channels.put({
    name: "hook",
    kind: "webhook",
    url: "https://hooks.example.org/in",
    signingSecret: { secretRef: SECRET },
  });
  await channels.put({ name: "ops-slack", kind: "slack", webhookUrl: { secretRef: SECRET } });
  // A hand-edited item that does not parse.
  await doc.send(
    new PutCommand({
      TableName: tableName,
      Item: { monitorId: CHANNELS_PARTITION, record: "channel#broken", kind: "carrier-pigeon" },
    }),
  );
  const directory: ChannelDirectory = {
    list: () => {
      directoryReads++;
      return channels.list();
    },
  };
  const { createOrchestratorHandler } = await import("../../functions/orchestrator/handler.ts");
  handler = createOrchestratorHandler({
    store: new DynamoMonitorStore(tableName, createDocumentClient(localDynamo().client)),
    notifier: new SesNotifier("watchkeeper@example.com", localSes(ses.endpoint)),
    retries,
    findCheck,
    channels: { directory, sender },
    links,
  });
});

afterAll(async () => {
  await ses?.stop();
  dynamoClient.destroy();
});

beforeEach(() => clearEmails(ses.endpoint));

describe("per-target delivery on DynamoDB Local and SES local", () => {
  it("sends one mail per recipient with its own ack link, each channel on its own, and records every target", async () => {
    await putMonitorConfig(tableName, "targets", {
      name: "Targets",
      check: "manual",
      params: { isOk: false, message: "feed missing" },
      peopleToNotify: ["ops@example.com", "lead@example.com"],
      channels: ["hook", "ops-slack", "nosuch", "broken"],
    });
    directoryReads = 0;
    const response = await handler(
      tickEvent({ monitorId: "targets", scheduledTime: minute(0) }),
      lambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([]);
    const mails = await mailsAbout("targets");
    expect(mails.map((mail) => mail.destination.to)).toEqual([["ops@example.com"], ["lead@example.com"]]);
    for (const mail of mails) {
      expect(mail.body.text).toContain(`&r=${encodeURIComponent(mail.destination.to[0] as string)}`);
    }
    expect(sender.received("hook")).toEqual([`alert@${minute(0)}`]);
    expect(sender.received("ops-slack")).toEqual([`alert@${minute(0)}`]);
    expect(directoryReads).toBe(1);
    const log = await items("targets", "notification#");
    expect(
      Object.fromEntries(
        log.map((item) => [String(item.record).split("#").slice(3).join("#"), item.outcome]),
      ),
    ).toEqual({
      "email:ops@example.com": "delivered",
      "email:lead@example.com": "delivered",
      "channel:hook": "delivered",
      "channel:ops-slack": "delivered",
      "channel:nosuch": "abandoned",
      "channel:broken": "abandoned",
    });
    // The incident counts the notification once, and both abandoned channels, in one write.
    const [incident] = await items("targets", "incident#");
    expect(incident).toMatchObject({ alertsSent: 1, notificationsAbandoned: 2 });
    expect((await state("targets"))?.outbox).toBeUndefined();
  });

  it("does not read the channel directory on a quiet tick", async () => {
    await putMonitorConfig(tableName, "quiet", {
      name: "Quiet",
      check: "manual",
      params: { isOk: true },
      peopleToNotify: ["ops@example.com"],
      channels: ["hook"],
    });
    directoryReads = 0;
    for (const m of [0, 1, 2]) {
      await handler(tickEvent({ monitorId: "quiet", scheduledTime: minute(m) }), lambdaContext());
    }
    expect(directoryReads).toBe(0);
  });

  it("still delivers an outbox entry written by the previous version (rendered mail only), to each recipient", async () => {
    await putMonitorConfig(tableName, "legacy", {
      name: "Legacy",
      check: "manual",
      params: { isOk: false },
      peopleToNotify: ["ops@example.com", "lead@example.com"],
      channels: ["hook"],
    });
    // What the previous version left in flight: one rendered mail, two failed attempts, a retry queued.
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          monitorId: "legacy",
          record: "state",
          state: "alert",
          consecutiveOkCount: 0,
          version: 4,
          lastTickTime: minute(0),
          lastNotificationDt: minute(0),
          lastNotificationType: "alert",
          incident: { start: minute(0) },
          outbox: {
            id: `${minute(0)}#alert`,
            type: "alert",
            tickTime: minute(0),
            recipients: ["ops@example.com"],
            subject: "[Monitor ALERT] Legacy",
            text: "Failing since: (legacy) · 2026-03-01T06:00:00.000Z\nLegacy (legacy) is down.",
            html: "<!doctype html><html><body><p>Legacy (legacy) is down.</p></body></html>",
            createdAt: new Date().toISOString(),
            attempts: 2,
            lastError: "Service Unavailable",
            incident: minute(0),
          },
        },
      }),
    );
    const response = await handler(
      tickEvent({ raw: tickBody("legacy", minute(0), { reason: "deliver", attempt: 2 }), group: "legacy" }),
      lambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([]);
    const mails = await mailsAbout("legacy");
    expect(mails.map((mail) => [mail.destination.to, mail.subject])).toEqual([
      [["ops@example.com"], "[Monitor ALERT] Legacy"],
      [["lead@example.com"], "[Monitor ALERT] Legacy"],
    ]);
    expect(mails[0]?.body.text).toContain("Legacy (legacy) is down.");
    // Email only: the previous version recorded no facts for a channel to render.
    expect(sender.received("hook").filter((key) => key.includes("legacy"))).toEqual([]);
    expect((await state("legacy"))?.outbox).toBeUndefined();
    const log = await items("legacy", "notification#");
    expect(log.map((item) => item.target)).toEqual(["email:lead@example.com", "email:ops@example.com"]);
    const [incident] = await items("legacy", "incident#");
    expect(incident).toMatchObject({ alertsSent: 1 });
  });
});
