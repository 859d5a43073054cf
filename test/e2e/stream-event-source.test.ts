import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBRecord } from "aws-lambda";
import { afterAll, describe, expect, inject, it } from "vitest";
import { LOCAL_REGION } from "../../local/servers.ts";
import { configRecordsOnly, StreamPoller } from "../../local/stream-poller.ts";
import { freshTable, localClientConfig, localDynamo } from "../support/aws.ts";
import { eventually } from "./support/runtime.ts";

/** The emulated Lambda stream trigger against DynamoDB Local's real stream. */

const { client, doc } = localDynamo();
const streams = new DynamoDBStreamsClient(localClientConfig(inject("dynamoEndpoint")));
afterAll(() => {
  client.destroy();
  streams.destroy();
});

describe("the local DynamoDB stream event source", () => {
  it("filters to config items, delivers Lambda-shaped records and retries from the first failure", async () => {
    const { tableName, streamArn } = await freshTable("stream-source");
    for (const [monitorId, record] of [
      ["a", "config"],
      ["a", "state"],
      ["b", "config"],
      ["c", "config"],
    ] as const) {
      await doc.send(new PutCommand({ TableName: tableName, Item: { monitorId, record, name: monitorId } }));
    }

    const batches: DynamoDBRecord[][] = [];
    const poller = new StreamPoller({
      client: streams,
      streamArn,
      region: LOCAL_REGION,
      filter: configRecordsOnly,
      pollIntervalMs: 50,
      invoke: async (event): Promise<DynamoDBBatchResponse> => {
        batches.push(event.Records);
        // The first delivery fails at "b": Lambda re-delivers from "b", not from the start.
        const b = event.Records.find((record) => record.dynamodb?.Keys?.monitorId?.S === "b");
        const sequenceNumber = b?.dynamodb?.SequenceNumber;
        return {
          batchItemFailures:
            batches.length === 1 && sequenceNumber ? [{ itemIdentifier: sequenceNumber }] : [],
        };
      },
    });
    await poller.start();
    try {
      await eventually("the retried batch", () => (batches.length >= 2 ? true : undefined));
      await poller.drained();
    } finally {
      await poller.stop();
    }

    const ids = batches.map((batch) => batch.map((record) => record.dynamodb?.Keys?.monitorId?.S));
    expect(ids).toEqual([
      ["a", "b", "c"],
      ["b", "c"],
    ]);
    const [first] = batches[0] ?? [];
    expect(first).toMatchObject({
      eventName: "INSERT",
      eventSource: "aws:dynamodb",
      eventSourceARN: streamArn,
      awsRegion: expect.any(String),
      dynamodb: {
        Keys: { monitorId: { S: "a" }, record: { S: "config" } },
        NewImage: { monitorId: { S: "a" }, record: { S: "config" }, name: { S: "a" } },
        StreamViewType: "NEW_AND_OLD_IMAGES",
        SequenceNumber: expect.any(String),
      },
    });
    expect(typeof first?.dynamodb?.ApproximateCreationDateTime).toBe("number");
  });
});
