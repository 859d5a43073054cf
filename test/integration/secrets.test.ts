import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDocumentClient, DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { SesNotifier } from "#adapters/ses-notifier.ts";
import { type SesServer, startSes } from "#local/servers.ts";
import { findCheck } from "#monitors/index.ts";
import type { CheckDefinition } from "../../monitors/types.ts";
import {
  capturedEmails,
  freshTable,
  localDynamo,
  localSes,
  putMonitorConfig,
  setAwsEnvironment,
} from "../support/aws.ts";
import { MemorySecretSource } from "../support/memory-adapters.ts";
import { lambdaContext, tickEvent } from "../support/sqs-event.ts";

/**
 * Secret references end to end: the orchestrator handler with DynamoDB Local, aws-ses-v2-local, a
 * local HTTP server and an in-memory SecretSource (no local server speaks Secrets Manager). The
 * secret reaches the target, and nothing else: not the stored items, not the mail, not the logs
 * (Powertools at DEBUG, as CloudWatch Logs would receive them).
 */

const SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:partner/api-AbCdEf";
const TOKEN_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/watchkeeper/url-token";
const SECRET = "Bearer sk-live-7Hq2-integration-secret";
const URL_TOKEN = "qtok-91c0-in-the-url";
const SENDER = "watchkeeper@example.com";

let ses: SesServer;
let target: Server;
let targetUrl: string;
const received: Array<{ url: string | undefined; headers: IncomingHttpHeaders }> = [];
let tableName: string;
let handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
const { client: dynamoClient, doc } = localDynamo();
const secrets = new MemorySecretSource({
  [SECRET_ARN]: JSON.stringify({ authorization: SECRET, unused: "other" }),
  [TOKEN_ARN]: URL_TOKEN,
});

/** A careless check: it logs and returns what it was given. */
const echo: CheckDefinition = {
  name: "echo",
  description: "echoes its params",
  async run(ctx) {
    ctx.logger.debug("echo check params", { params: ctx.params, raw: JSON.stringify(ctx.params) });
    return { isOk: false, message: `given ${JSON.stringify(ctx.params)}` };
  },
};

beforeAll(async () => {
  target = createServer((request, response) => {
    received.push({ url: request.url, headers: request.headers });
    response.writeHead(503, { "content-type": "text/plain" }).end("down for maintenance");
  });
  await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
  targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
  [ses, { tableName }] = await Promise.all([startSes(), freshTable("secrets")]);
  setAwsEnvironment({ sesv2: ses.endpoint });
  process.env.MONITORS_TABLE = tableName;
  process.env.SENDER_EMAIL = SENDER;
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  process.env.POWERTOOLS_LOG_LEVEL = "DEBUG";
  const { createOrchestratorHandler } = await import("../../functions/orchestrator/handler.ts");
  handler = createOrchestratorHandler({
    store: new DynamoMonitorStore(tableName, createDocumentClient(localDynamo().client)),
    notifier: new SesNotifier(SENDER, localSes(ses.endpoint)),
    findCheck: (name) => (name === "echo" ? echo : findCheck(name)),
    secrets,
  });
});

afterAll(async () => {
  await Promise.all([ses?.stop(), new Promise((resolve) => target?.close(resolve))]);
  dynamoClient.destroy();
});

/**
 * Captures what the Powertools logger writes (what CloudWatch Logs would receive): stdout and
 * stderr, since WARN and ERROR lines go to the latter.
 */
async function capturingStdout<T>(run: () => Promise<T>): Promise<{ result: T; output: string }> {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((stream) => stream.write);
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array) => {
      chunks.push(String(chunk));
      return true;
    }) as typeof stream.write;
  }
  try {
    return { result: await run(), output: chunks.join("") };
  } finally {
    streams.forEach((stream, index) => {
      stream.write = writes[index] as typeof stream.write;
    });
  }
}

async function storedItems(monitorId: string) {
  const { Items } = await doc.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: "monitorId = :id",
      ExpressionAttributeValues: { ":id": monitorId },
      ConsistentRead: true,
    }),
  );
  return Items ?? [];
}

const tick = (monitorId: string) =>
  capturingStdout(() =>
    handler(tickEvent({ monitorId, scheduledTime: "2026-03-01T06:00:00Z" }), lambdaContext()),
  );

describe("secret references through the orchestrator", () => {
  it("sends the secret to the target as a header, and stores, mails and logs only the reference", async () => {
    await putMonitorConfig(tableName, "partner-api", {
      name: "Partner API",
      check: "http",
      params: {
        url: `${targetUrl}/health`,
        headers: { Authorization: { secretRef: `${SECRET_ARN}#authorization` } },
        // The target listens on loopback, which the http check refuses unless allowed.
        allowAddresses: ["loopback"],
      },
      peopleToNotify: ["ops@example.com"],
    });
    const { result, output } = await tick("partner-api");
    expect(result.batchItemFailures).toEqual([]);
    expect(received.at(-1)?.headers.authorization).toBe(SECRET);

    const items = await storedItems("partner-api");
    // The incident item too (issue 14): the secret must be absent from it as from the rest.
    expect(items.map((item) => String(item.record).split("#")[0]).sort()).toEqual([
      "config",
      "incident",
      "notification",
      "run",
      "state",
    ]);
    expect(items.find((item) => item.record === "state")?.lastResultMessage).toMatch(/returned 503/);
    const mails = await capturedEmails(ses.endpoint);
    const mail = mails.find((captured) => captured.body.text?.includes("(partner-api)"));
    expect(mail?.subject).toBe("[Monitor ALERT] Partner API");
    expect(output).toContain('"monitorId":"partner-api"');

    const everywhere = { items, mails, output };
    expect(JSON.stringify(everywhere)).not.toContain("sk-live-7Hq2");
    // The config item still holds the reference as written.
    expect(items.find((item) => item.record === "config")?.params.headers).toEqual({
      Authorization: { secretRef: `${SECRET_ARN}#authorization` },
    });
  });

  it("masks the resolved values in whatever a check echoes: message, history, mail, logs", async () => {
    await putMonitorConfig(tableName, "careless", {
      name: "Careless check",
      check: "echo",
      params: {
        url: { secretRef: TOKEN_ARN },
        nested: [{ header: { secretRef: `${SECRET_ARN}#authorization` } }],
      },
      peopleToNotify: ["ops@example.com"],
    });
    const { output } = await tick("careless");
    const items = await storedItems("careless");
    const state = items.find((item) => item.record === "state");
    // DynamoDB keeps no map order: compare the echoed params, not their text.
    expect(JSON.parse(String(state?.lastResultMessage).replace(/^given /, ""))).toEqual({
      url: "[secret]",
      nested: [{ header: "[secret]" }],
    });
    const mails = (await capturedEmails(ses.endpoint)).filter((mail) =>
      mail.body.text?.includes("(careless)"),
    );
    expect(mails).toHaveLength(1);
    expect(mails[0]?.body.text).toContain('"header":"[secret]"');
    expect(output).toContain("echo check params");
    const everywhere = JSON.stringify({ items, mails, output });
    for (const value of ["sk-live-7Hq2", URL_TOKEN]) expect(everywhere).not.toContain(value);
  });

  it("fails the run naming the reference when the secret is not there, and mails that reason", async () => {
    const missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:deleted-Qq1Ww2";
    await putMonitorConfig(tableName, "missing-secret", {
      name: "Missing secret",
      check: "http",
      params: {
        url: `${targetUrl}/health`,
        headers: { "x-api-key": { secretRef: missing } },
        allowAddresses: ["loopback"],
      },
      peopleToNotify: ["ops@example.com"],
    });
    const before = received.length;
    const { result, output } = await tick("missing-secret");
    expect(result.batchItemFailures).toEqual([]);
    expect(output).toContain('"message":"check not run: a secret reference could not be resolved"');
    expect(received).toHaveLength(before);
    const state = (await storedItems("missing-secret")).find((item) => item.record === "state");
    expect(state?.lastResultMessage).toBe(
      `Check "http" not run: secret ${missing} could not be read: no such secret in us-east-1`,
    );
    const mails = (await capturedEmails(ses.endpoint)).filter((mail) =>
      mail.body.text?.includes("(missing-secret)"),
    );
    expect(mails[0]?.body.text).toContain(missing);
  });
});
