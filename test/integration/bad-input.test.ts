import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createDocumentClient, DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { SesNotifier } from "#adapters/ses-notifier.ts";
import { type SesServer, startSes } from "#local/servers.ts";
import { findCheck } from "#monitors/index.ts";
import type { CheckDefinition } from "../../monitors/types.ts";
import {
  capturedEmails,
  clearEmails,
  freshTable,
  localDynamo,
  localSes,
  putMonitorConfig,
  setAwsEnvironment,
} from "../support/aws.ts";
import { lambdaContext, tickEvent } from "../support/sqs-event.ts";

/**
 * Hostile input end to end (issue 5): megabyte check messages, header injection attempts and
 * secrets in params, through the real adapters, DynamoDB Local and aws-ses-v2-local.
 */

let ses: SesServer;
let tableName: string;
let handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
const { client: dynamoClient, doc } = localDynamo();
const SENDER = "watchkeeper@example.com";

const hostileChecks: Record<string, CheckDefinition> = {
  megabyte: {
    name: "megabyte",
    description: "returns a 1 MiB message",
    run: async () => ({ isOk: false, message: `START ${"x".repeat(1_048_576)} END` }),
  },
};

beforeAll(async () => {
  [ses, { tableName }] = await Promise.all([startSes(), freshTable("bad-input")]);
  setAwsEnvironment({ sesv2: ses.endpoint });
  process.env.MONITORS_TABLE = tableName;
  process.env.SENDER_EMAIL = SENDER;
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  // DEBUG: the most verbose level must still not leak secrets.
  process.env.POWERTOOLS_LOG_LEVEL = "DEBUG";
  const { createOrchestratorHandler } = await import("../../functions/orchestrator/handler.ts");
  handler = createOrchestratorHandler({
    store: new DynamoMonitorStore(tableName, createDocumentClient(localDynamo().client)),
    notifier: new SesNotifier(SENDER, localSes(ses.endpoint)),
    findCheck: (name) => hostileChecks[name] ?? findCheck(name),
  });
});

afterAll(async () => {
  await ses?.stop();
  dynamoClient.destroy();
});

beforeEach(() => clearEmails(ses.endpoint));

const putConfig = (monitorId: string, config: Record<string, unknown>) =>
  putMonitorConfig(tableName, monitorId, { peopleToNotify: ["ops@example.com"], ...config });

// DEBUG logs are captured, not printed: the suite output stays readable.
const tick = async (monitorId: string) =>
  (
    await capturingStdout(() =>
      handler(tickEvent({ monitorId, scheduledTime: "2026-03-01T06:00:00Z" }), lambdaContext()),
    )
  ).result;

/** Captures what the Powertools logger writes (it is what CloudWatch Logs would receive). */
async function capturingStdout<T>(run: () => Promise<T>): Promise<{ result: T; output: string }> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    return { result: await run(), output: chunks.join("") };
  } finally {
    process.stdout.write = write;
  }
}

describe("hostile input, end to end", () => {
  it("stores and mails a megabyte check message truncated, with a visible marker", async () => {
    await putConfig("huge", { name: "Huge", check: "megabyte" });
    const response = await tick("huge");
    expect(response.batchItemFailures).toEqual([]);
    const { Item } = await doc.send(
      new GetCommand({ TableName: tableName, Key: { monitorId: "huge", record: "state" } }),
    );
    expect(Item?.lastResultMessage).toHaveLength(4_000);
    const total = "START ".length + 1_048_576 + " END".length;
    expect(Item?.lastResultMessage).toMatch(
      new RegExp(`^START x+ … \\[truncated: ${total} characters in total\\]$`),
    );
    const [mail] = await capturedEmails(ses.endpoint);
    expect(mail?.body.text).toContain(`[truncated: ${total} characters in total]`);
    expect(mail?.body.text?.length).toBeLessThan(6_000);
  });

  it("cannot be made to inject headers or HTML through a monitor name or message", async () => {
    await putConfig("inject", {
      name: "Feed\r\nBcc: attacker@evil.test\r\nSubject: pwned",
      check: "manual",
      params: { isOk: false, message: "<script>alert(1)</script>\r\nX-Injected: yes ✓ 日本語" },
    });
    await tick("inject");
    const [mail] = await capturedEmails(ses.endpoint);
    expect(mail?.subject).toBe("[Monitor ALERT] Feed Bcc: attacker@evil.test Subject: pwned");
    expect(mail?.destination).toEqual({ to: ["ops@example.com"], cc: [], bcc: [] });
    expect(mail?.body.html).not.toContain("<script>");
    expect(mail?.body.html).toContain("&lt;script&gt;");
    expect(mail?.body.text).toContain("✓ 日本語");
  });

  it("never logs secret-looking params, even at DEBUG", async () => {
    await putConfig("secretive", {
      name: "Secretive",
      check: "manual",
      params: {
        isOk: true,
        apiToken: "tok-4f1d9c",
        password: "hunter2-secret",
        headers: { Authorization: "Bearer eyJsecret" },
      },
    });
    const { output } = await capturingStdout(() =>
      handler(tickEvent({ monitorId: "secretive", scheduledTime: "2026-03-01T06:00:00Z" }), lambdaContext()),
    );
    // The check rejects the unknown params keys, so the run fails: the secrets must not appear anyway.
    expect(output).toContain('"monitorId":"secretive"');
    expect(output).toContain("[redacted]");
    for (const secret of ["tok-4f1d9c", "hunter2-secret", "eyJsecret"]) expect(output).not.toContain(secret);
    const mails = await capturedEmails(ses.endpoint);
    for (const secret of ["tok-4f1d9c", "hunter2-secret", "eyJsecret"]) {
      expect(JSON.stringify(mails)).not.toContain(secret);
    }
  });

  it("does not echo a malformed params value in the recorded reason", async () => {
    await putConfig("bad-params", {
      name: "Bad params",
      check: "http",
      params: "url=https://x?token=abc123",
    });
    await tick("bad-params");
    const { Item } = await doc.send(
      new GetCommand({ TableName: tableName, Key: { monitorId: "bad-params", record: "state" } }),
    );
    expect(Item?.configProblems).toMatch(/^params a string: /);
    expect(JSON.stringify(Item)).not.toContain("abc123");
  });
});
