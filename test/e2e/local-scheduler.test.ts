import { ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HEARTBEAT_ID, heartbeatTickBody } from "../../functions/core/heartbeat.ts";
import { createTickQueues, type TickQueues } from "../../local/resources.ts";
import { LocalScheduler } from "../../local/scheduler.ts";
import { type SqsServer, startSqs } from "../../local/servers.ts";
import { localSqs } from "../support/aws.ts";

/** The local EventBridge Scheduler sends the same tick messages as the AWS schedule target. */

let server: SqsServer;
let sqs: SQSClient;
let q: TickQueues;
let queueNumber = 0;
beforeAll(async () => {
  server = await startSqs();
  sqs = localSqs(server.endpoint);
});
beforeEach(async () => {
  queueNumber += 1;
  q = await createTickQueues(sqs, `scheduler-ticks-${queueNumber}`);
});
afterAll(async () => {
  sqs?.destroy();
  await server?.stop();
});

async function receiveTicks() {
  const { Messages } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: q.queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 2,
      MessageSystemAttributeNames: ["MessageGroupId"],
    }),
  );
  return Messages ?? [];
}

describe("LocalScheduler", () => {
  it("emulates the stack's heartbeat schedule: the heartbeat tick in its own message group, outside the monitors' schedules", async () => {
    const scheduler = new LocalScheduler({ sqs, queueUrl: q.queueUrl });
    try {
      scheduler.startHeartbeat(200);
      const [tick] = await receiveTicks();
      expect(tick?.Attributes?.MessageGroupId).toBe(HEARTBEAT_ID);
      const body = JSON.parse(tick?.Body ?? "{}") as Record<string, string>;
      expect(body).toEqual({
        monitorId: HEARTBEAT_ID,
        scheduledTime: expect.any(String),
        reason: "heartbeat",
      });
      expect(tick?.Body).toBe(heartbeatTickBody(body.scheduledTime));
      expect(body.scheduledTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      // Not a monitor's schedule: reconcile and the dashboard never see it.
      expect(await scheduler.list()).toEqual([]);
    } finally {
      await scheduler.stop();
    }
  });

  it("sends no heartbeat without dispatch", async () => {
    const scheduler = new LocalScheduler({ sqs, queueUrl: q.queueUrl, dispatch: false });
    try {
      scheduler.startHeartbeat(100);
      expect(await receiveTicks()).toEqual([]);
    } finally {
      await scheduler.stop();
    }
  });

  it("fires a rate schedule at once with the exact tick message, then every period", async () => {
    const scheduler = new LocalScheduler({ sqs, queueUrl: q.queueUrl });
    try {
      const before = Math.floor(Date.now() / 1000) * 1000;
      await scheduler.upsert({
        monitorId: "rate-monitor",
        expression: "rate(5 minutes)",
        timezone: "UTC",
        enabled: true,
      });
      const [tick] = await receiveTicks();
      expect(tick?.Attributes?.MessageGroupId).toBe("rate-monitor");
      const body = JSON.parse(tick?.Body ?? "{}") as { monitorId: string; scheduledTime: string };
      expect(Object.keys(body)).toEqual(["monitorId", "scheduledTime"]);
      expect(body.monitorId).toBe("rate-monitor");
      // Scheduler's <aws.scheduler.scheduled-time>: whole seconds, UTC, Z.
      expect(body.scheduledTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const fired = Date.parse(body.scheduledTime);
      expect(fired).toBeGreaterThanOrEqual(before);
      expect(scheduler.get("rate-monitor")?.nextRun?.getTime()).toBe(fired + 5 * 60_000);
    } finally {
      await scheduler.stop();
    }
  });

  it("keeps a rate schedule's cadence when an unchanged definition is applied again", async () => {
    const scheduler = new LocalScheduler({ sqs, queueUrl: q.queueUrl, dispatch: false });
    try {
      const definition = { monitorId: "steady", expression: "rate(1 hour)", timezone: "UTC", enabled: true };
      await scheduler.upsert(definition);
      const first = scheduler.get("steady")?.nextRun;
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await scheduler.upsert(definition);
      expect(scheduler.get("steady")?.nextRun).toEqual(first);
    } finally {
      await scheduler.stop();
    }
  });

  it("evaluates cron in the schedule's timezone, and sends nothing while disabled", async () => {
    const scheduler = new LocalScheduler({ sqs, queueUrl: q.queueUrl });
    try {
      await scheduler.upsert({
        monitorId: "chicago",
        expression: "cron(30 8 * * ? *)",
        timezone: "America/Chicago",
        enabled: true,
      });
      const next = scheduler.get("chicago")?.nextRun as Date;
      const wall = new Intl.DateTimeFormat("en-US", {
        timeZone: "America/Chicago",
        hour: "2-digit",
        minute: "2-digit",
        hourCycle: "h23",
      }).format(next);
      expect(wall).toBe("08:30");

      await scheduler.upsert({
        monitorId: "off",
        expression: "rate(1 minute)",
        timezone: "UTC",
        enabled: false,
      });
      expect(scheduler.get("off")).toMatchObject({ enabled: false, nextRun: null });
      expect(await receiveTicks()).toEqual([]);
      expect(await scheduler.list()).toEqual(["chicago", "off"]);
      await scheduler.remove("off");
      await scheduler.remove("never-existed");
      expect(await scheduler.list()).toEqual(["chicago"]);
    } finally {
      await scheduler.stop();
    }
  });

  it("refuses an invalid expression or timezone and keeps the previous schedule", async () => {
    const scheduler = new LocalScheduler({ sqs, queueUrl: q.queueUrl, dispatch: false });
    try {
      await scheduler.upsert({ monitorId: "m", expression: "rate(2 hours)", timezone: "UTC", enabled: true });
      await expect(
        scheduler.upsert({ monitorId: "m", expression: "rate(2 hour)", timezone: "UTC", enabled: true }),
      ).rejects.toThrow(/plural/);
      await expect(
        scheduler.upsert({
          monitorId: "m",
          expression: "rate(2 hours)",
          timezone: "Mars/Olympus",
          enabled: true,
        }),
      ).rejects.toThrow(/IANA/);
      expect(scheduler.get("m")?.expression).toBe("rate(2 hours)");
    } finally {
      await scheduler.stop();
    }
  });
});
