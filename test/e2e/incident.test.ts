import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capturedEmails } from "../support/aws.ts";
import { eventually, schedulerTime, startTestRuntime, type TestRuntime } from "./support/runtime.ts";

/**
 * The whole pipeline through the wire: a config item written with PutItem, ticks sent to the FIFO
 * queue with chosen scheduled times, the real orchestrator in its Lambda-like environment, mail
 * read back from the SES server.
 */

const MINUTE = 60_000;
// Fails for three minutes, then passes: one step of `sequence` per minute of logical time.
const SEQUENCE = [false, false, false, true, true];

let env: TestRuntime;
beforeAll(async () => {
  env = await startTestRuntime();
});
afterAll(async () => {
  await env?.stop();
});

describe("a monitor's incident", () => {
  it("goes alert -> reminder -> recovered, with one email each, in order", async () => {
    const monitorId = "e2e-incident";
    await env.doc.send(
      new PutCommand({
        TableName: env.runtime.endpoints.tableName,
        Item: {
          monitorId,
          record: "config",
          name: "E2E incident",
          check: "manual",
          params: { sequence: SEQUENCE, sequenceStepMinutes: 1 },
          schedule: "rate(1 minute)",
          timezone: "UTC",
          reminderFrequencyMinutes: 2,
          requiredConsecutiveOks: 2,
          peopleToNotify: ["owner@example.com"],
          // The ticks below are in the past: replay them instead of skipping them as superseded.
          skipSupersededTicks: false,
        },
      }),
    );

    // A logical clock that starts on a cycle boundary, half an hour ago.
    const cycle = SEQUENCE.length * MINUTE;
    const start = Math.floor((Date.now() - 30 * MINUTE) / cycle) * cycle;
    for (let minute = 0; minute < SEQUENCE.length; minute++) {
      await env.sqs.send(
        new SendMessageCommand({
          QueueUrl: env.runtime.endpoints.queueUrl,
          MessageGroupId: monitorId,
          MessageBody: JSON.stringify({
            monitorId,
            scheduledTime: schedulerTime(new Date(start + minute * MINUTE)),
          }),
        }),
      );
    }

    const mails = await eventually("three notifications", async () => {
      const mine = (await capturedEmails(env.runtime.endpoints.ses)).filter((mail) =>
        mail.destination.to.includes("owner@example.com"),
      );
      return mine.length >= 3 ? mine : undefined;
    });
    expect(mails.map((mail) => mail.subject)).toEqual([
      "[Monitor ALERT] E2E incident",
      "[Monitor REMINDER] E2E incident",
      "[Monitor RECOVERED] E2E incident",
    ]);
    expect(mails.every((mail) => mail.from === env.runtime.endpoints.senderEmail)).toBe(true);

    // The mail is captured when SES accepts it; the write that records its delivery and clears
    // the outbox follows: read the state once that write has landed.
    const state = await eventually("the RECOVERED recorded as delivered", async () => {
      const { Item } = await env.doc.send(
        new GetCommand({ TableName: env.runtime.endpoints.tableName, Key: { monitorId, record: "state" } }),
      );
      return Item && Item.outbox === undefined ? Item : undefined;
    });
    expect(state).toMatchObject({
      state: "ok",
      consecutiveOkCount: 0,
      lastResultOk: true,
      lastNotificationType: "recovery",
    });
    expect(new Date(String(state.lastTickTime)).getTime()).toBe(start + 4 * MINUTE);
    expect(state.outbox).toBeUndefined();
    expect(state.outboxQueue ?? []).toEqual([]);
  });
});
