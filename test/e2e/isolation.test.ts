import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { GetQueueAttributesCommand, SendMessageBatchCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LogEntry } from "../../local/log.ts";
import type { BatchOutcome } from "../../local/sqs-poller.ts";
import { eventually, schedulerTime, startTestRuntime, type TestRuntime } from "./support/runtime.ts";

/**
 * Isolation through the wire: a monitor whose check takes 20 s shares a batch with a fast
 * neighbour, and the neighbour's next tick, sent right after, is applied while the slow check is
 * still running. Without the orchestrator deleting the neighbour's processed tick at once, SQS
 * FIFO would hold that next tick until the whole batch (the slow check) was done.
 */

/** Answers every request after 20 s, or as soon as the test calls release(). */
function startSlowSite(): Promise<{
  url: string;
  /** Requests answered so far. */
  answered: () => number;
  release: () => void;
  stop: () => Promise<void>;
}> {
  const waiting = new Set<ServerResponse>();
  let released = false;
  let answered = 0;
  const answer = (response: ServerResponse) => {
    if (!waiting.delete(response)) return;
    answered += 1;
    response.writeHead(200, { "content-type": "text/plain" }).end("finally");
  };
  const server: Server = createServer((_request, response) => {
    if (released) return void response.writeHead(200).end("ok");
    waiting.add(response);
    setTimeout(() => answer(response), 20_000).unref();
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/slow`,
        answered: () => answered,
        release: () => {
          released = true;
          for (const response of [...waiting]) answer(response);
        },
        stop: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

let env: TestRuntime;
let site: Awaited<ReturnType<typeof startSlowSite>>;
const batches: BatchOutcome[] = [];
const warnings: LogEntry[] = [];
beforeAll(async () => {
  site = await startSlowSite();
  env = await startTestRuntime({
    // The function's timeout (3/4 of it) must hold a 20 s check.
    visibilityTimeoutSeconds: 60,
    // The probe is the state write of each tick: every tick writes (write on change off).
    stateHeartbeatMinutes: 0,
    onBatch: (outcome) => batches.push(outcome),
    onLog: (entry) => {
      if (entry.level === "WARN" || entry.level === "ERROR") warnings.push(entry);
    },
  });
});
afterAll(async () => {
  site?.release();
  await env?.stop();
  await site?.stop();
});

/** The state item's lastTickTime, in epoch ms. */
async function lastTickTime(monitorId: string): Promise<number | undefined> {
  const { Item } = await env.doc.send(
    new GetCommand({
      TableName: env.runtime.endpoints.tableName,
      Key: { monitorId, record: "state" },
      ConsistentRead: true,
    }),
  );
  return Item?.lastTickTime === undefined ? undefined : Date.parse(String(Item.lastTickTime));
}

async function putMonitor(monitorId: string, check: string, params: object): Promise<void> {
  await env.doc.send(
    new PutCommand({
      TableName: env.runtime.endpoints.tableName,
      Item: {
        monitorId,
        record: "config",
        name: monitorId,
        check,
        params,
        checkTimeoutSeconds: 30,
        schedule: "rate(1 minute)",
        timezone: "UTC",
        peopleToNotify: ["owner@example.com"],
        skipSupersededTicks: false,
      },
    }),
  );
}

const tick = (monitorId: string, time: number) => ({
  MessageGroupId: monitorId,
  MessageBody: JSON.stringify({ monitorId, scheduledTime: schedulerTime(new Date(time)) }),
});

describe("isolation between monitors", () => {
  it("applies a fast monitor's next tick while a slow check of the same batch is still running", async () => {
    await putMonitor("slow", "http", { url: site.url, allowAddresses: ["loopback"] });
    await putMonitor("fast", "manual", { isOk: true });
    const { queueUrl } = env.runtime.endpoints;
    const first = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;

    // One SendMessageBatch: the poller waiting on the queue receives both ticks in one batch.
    await env.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: "slow", ...tick("slow", first) },
          { Id: "fast", ...tick("fast", first) },
        ],
      }),
    );
    // The neighbour's next tick, right after: FIFO holds it until the first one is deleted.
    await env.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, ...tick("fast", first + 60_000) }));

    await eventually(
      "the fast monitor's second tick",
      async () => ((await lastTickTime("fast")) === first + 60_000 ? true : undefined),
      // Shorter than the slow check's 20 s: after that, the test would prove nothing.
      18_000,
    );
    // ...while the slow check is still waiting for its answer and has recorded nothing.
    expect(site.answered()).toBe(0);
    expect(await lastTickTime("slow")).toBeUndefined();

    site.release();
    await eventually("the slow monitor's tick", async () =>
      (await lastTickTime("slow")) === first ? true : undefined,
    );
    // The slow and the fast tick did share a batch; at its end the event source deleted both,
    // the fast one for the second time, without an error; nothing is left in the queue.
    await eventually("the shared batch to end", () =>
      batches.find((batch) => batch.received === 2) ? true : undefined,
    );
    expect(batches.find((batch) => batch.received === 2)).toEqual({ received: 2, deleted: 2, failed: [] });
    const { Attributes } = await env.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    expect(Attributes).toEqual({
      ApproximateNumberOfMessages: "0",
      ApproximateNumberOfMessagesNotVisible: "0",
    });
    expect(warnings).toEqual([]);
  });
});
