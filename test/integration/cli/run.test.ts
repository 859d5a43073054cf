import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Context, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDocumentClient, DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { findCheck } from "#monitors/index.ts";
import { runCli } from "../../../cli/main.ts";
import { createTickQueues, type TickQueues } from "../../../local/resources.ts";
import { type SqsServer, startSqs } from "../../../local/servers.ts";
import { freshTable, localDynamo, localSqs } from "../../support/aws.ts";
import { loadOrchestratorModule } from "../../support/orchestrator-module.ts";
import { lambdaContext } from "../../support/sqs-event.ts";
import { type CliHarness, cliHarness } from "./support.ts";

/** `run` sends a real tick to a FIFO queue on fauxqs; `--local` finds table and queue in local.json. */

let sqsServer: SqsServer;
let sqs: SQSClient;
let queues: TickQueues;
let cli: CliHarness;
let tableName: string;

beforeAll(async () => {
  sqsServer = await startSqs();
  sqs = localSqs(sqsServer.endpoint);
  queues = await createTickQueues(sqs, "cli-ticks");
  ({ tableName } = await freshTable("cli-run"));
  cli = await cliHarness(tableName, { sqs });
  for (const [monitorId, isActive] of [
    ["api", true],
    ["sleeping", false],
  ] as const) {
    await cli.put({
      monitorId,
      record: "config",
      name: monitorId,
      check: "manual",
      params: { isOk: true },
      isActive,
    });
  }
});
afterAll(async () => {
  await cli.close();
  sqs.destroy();
  await sqsServer.stop();
});

/** Every message now in the queue, deleted as received (an in-flight one holds back its FIFO group). */
async function receiveAll() {
  const received: Message[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queues.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: received.length === 0 ? 1 : 0,
        MessageSystemAttributeNames: ["MessageGroupId"],
      }),
    );
    if (Messages.length === 0) return received;
    for (const message of Messages) {
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: queues.queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    }
    received.push(...Messages);
  }
}

describe("run", () => {
  it("sends a manual tick with the monitor as message group", async () => {
    const now = new Date("2026-11-21T12:00:00.000Z");
    const result = await cli.run(["run", "api", "--queue-url", queues.queueUrl, "--json"], { now });
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ queued: "api", scheduledTime: now.toISOString() });
    const [message, ...others] = await receiveAll();
    expect(others).toEqual([]);
    expect(JSON.parse(message?.Body ?? "")).toEqual({
      monitorId: "api",
      scheduledTime: "2026-11-21T12:00:00.000Z",
      reason: "manual",
    });
    expect(message?.Attributes?.MessageGroupId).toBe("api");
  });

  it("refuses paused and unknown monitors without sending anything", async () => {
    const paused = await cli.run(["run", "sleeping", "--queue-url", queues.queueUrl]);
    expect(paused.code).toBe(1);
    expect(paused.stderr).toBe(
      "error: sleeping is paused and the orchestrator ignores its ticks: `watchkeeper resume sleeping` first\n",
    );
    expect((await cli.run(["run", "ghost", "--queue-url", queues.queueUrl])).stderr).toContain(
      'unknown monitor "ghost"',
    );
    expect(await receiveAll()).toEqual([]);
  });

  it("--wait prints the result once the orchestrator applied the tick, and times out otherwise", async () => {
    const now = new Date("2026-11-21T12:05:00.000Z");
    await cli.put({
      monitorId: "api",
      record: "state",
      state: "ok",
      consecutiveOkCount: 0,
      // What the orchestrator writes for a manual run: its own clock (lastTickTime stays the last
      // scheduled tick's; waiting on it never ended).
      lastTickTime: "2026-11-21T12:00:00.000Z",
      lastManualTickTime: now.toISOString(),
      lastRunDt: now.toISOString(),
      lastResultOk: true,
      lastResultMessage: "Manual check is OK",
      version: 1,
    });
    const applied = await cli.run(["run", "api", "--queue-url", queues.queueUrl, "--wait"], { now });
    expect(applied.code).toBe(0);
    expect(applied.stdout).toBe("api: OK Manual check is OK\nstate ok\n");
    const later = new Date("2026-11-21T12:06:00.000Z");
    const timedOut = await cli.run(
      ["run", "api", "--queue-url", queues.queueUrl, "--wait", "--timeout", "1s"],
      {
        now: later,
      },
    );
    expect(timedOut.code).toBe(1);
    expect(timedOut.stderr).toContain("the tick was queued but not applied within 1s");
    expect(await receiveAll()).toHaveLength(2);
  });

  it("--wait ends when the real orchestrator has applied the manual run, and prints its result", async () => {
    const { client } = localDynamo();
    const { createOrchestratorHandler } = (await loadOrchestratorModule()) as unknown as {
      createOrchestratorHandler: (
        deps: Record<string, unknown>,
      ) => (event: SQSEvent, context: Context) => Promise<unknown>;
    };
    const handler = createOrchestratorHandler({
      store: new DynamoMonitorStore(tableName, createDocumentClient(client)),
      notifier: { send: async () => ({ messageId: "none" }) },
      findCheck,
      options: {},
    });
    await cli.put({
      monitorId: "manual-wait",
      record: "config",
      name: "manual-wait",
      check: "manual",
      params: { isOk: false, message: "export missing" },
    });
    // A scheduled tick wrote the state first: lastTickTime is its, not the manual run's.
    await cli.put({
      monitorId: "manual-wait",
      record: "state",
      state: "ok",
      consecutiveOkCount: 0,
      lastTickTime: new Date(Date.now() - 60_000).toISOString(),
      lastResultOk: true,
      version: 1,
    });
    const waiting = cli.run([
      "run",
      "manual-wait",
      "--queue-url",
      queues.queueUrl,
      "--wait",
      "--timeout",
      "20s",
    ]);
    // Play the event source: take the manual tick off the queue and hand it to the handler.
    let delivered: Message[] = [];
    while (delivered.length === 0) delivered = await receiveAll();
    await handler(
      {
        Records: delivered.map((message) => ({
          messageId: message.MessageId ?? "",
          receiptHandle: message.ReceiptHandle ?? "",
          body: message.Body ?? "",
          attributes: {
            ApproximateReceiveCount: "1",
            SentTimestamp: String(Date.now()),
            SenderId: "local",
            ApproximateFirstReceiveTimestamp: String(Date.now()),
            MessageGroupId: "manual-wait",
          },
          messageAttributes: {},
          md5OfBody: "",
          eventSource: "aws:sqs",
          eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:cli-ticks.fifo",
          awsRegion: "us-east-1",
        })),
      },
      lambdaContext(),
    );
    const result = await waiting;
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("manual-wait: FAIL export missing");
    client.destroy();
  });

  it("--local reads table, queue and endpoints from local.json", async () => {
    await writeFile(
      join(cli.dir, "local.json"),
      JSON.stringify({
        region: "us-east-1",
        dynamodb: inject("dynamoEndpoint"),
        sqs: sqsServer.endpoint,
        tableName,
        queueUrl: queues.queueUrl,
        pid: process.pid,
      }),
    );
    let stdout = "";
    let stderr = "";
    const io = {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env: {},
      cwd: cli.dir,
    };
    expect(await runCli(["run", "api", "--local", "--state-dir", "."], io)).toBe(0);
    expect(stderr).toBe("");
    expect(stdout).toMatch(/^Queued a manual run of api \(tick .+, message .+\)\.\n$/);
    expect(await receiveAll()).toHaveLength(1);

    stdout = "";
    expect(await runCli(["list", "--local", "--state-dir", "missing"], io)).toBe(1);
    expect(stderr).toMatch(
      /^error: no local runtime: .*missing\/local\.json does not exist\. Start one with `npm start`/,
    );
  });
});
