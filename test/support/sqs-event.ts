import { createHash, randomUUID } from "node:crypto";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";

/** An SQS FIFO record shaped as Lambda's event source mapping delivers it. */
export function fifoRecord(body: string, groupId: string, receiveCount = 1): SQSRecord {
  const now = String(Date.now());
  return {
    messageId: randomUUID(),
    receiptHandle: randomUUID(),
    body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: now,
      SenderId: "AROAEXAMPLE:scheduler",
      ApproximateFirstReceiveTimestamp: now,
      MessageGroupId: groupId,
      MessageDeduplicationId: createHash("sha256").update(body).digest("hex"),
      SequenceNumber: String(Date.now() * 1000),
    },
    messageAttributes: {},
    md5OfBody: createHash("md5").update(body).digest("hex"),
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:watchkeeper-ticks.fifo",
    awsRegion: "us-east-1",
  };
}

export function tickBody(
  monitorId: string,
  scheduledTime: string,
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({ monitorId, scheduledTime, ...extra });
}

export function tickEvent(
  ...ticks: Array<{ monitorId: string; scheduledTime: string } | { raw: string; group: string }>
): SQSEvent {
  return {
    Records: ticks.map((tick) =>
      "raw" in tick
        ? fifoRecord(tick.raw, tick.group)
        : fifoRecord(tickBody(tick.monitorId, tick.scheduledTime), tick.monitorId),
    ),
  };
}

export function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "watchkeeper-orchestrator",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:watchkeeper-orchestrator",
    memoryLimitInMB: "256",
    awsRequestId: randomUUID(),
    logGroupName: "/aws/lambda/watchkeeper-orchestrator",
    logStreamName: "local",
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
