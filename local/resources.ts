import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { BUCKET_ATTRIBUTE, BUCKET_INDEX } from "#core/buckets.ts";
import { DIRECTORY_ATTRIBUTE, DIRECTORY_INDEX } from "#core/directory.ts";
import { MAX_RECEIVE_COUNT, TTL_ATTRIBUTE } from "../lib/constants.ts";

/**
 * Creates the same resources the CDK stack declares (lib/), on the local servers. Keep the two in
 * step: key schema, stream view, TTL attribute, FIFO + content dedup, redrive.
 */

export { MAX_RECEIVE_COUNT, TTL_ATTRIBUTE };

const KEY_ATTRIBUTES: AttributeDefinition[] = [
  { AttributeName: "monitorId", AttributeType: "S" },
  { AttributeName: "record", AttributeType: "S" },
];
const BUCKET_KEY_ATTRIBUTE: AttributeDefinition = { AttributeName: BUCKET_ATTRIBUTE, AttributeType: "S" };
/** As lib/monitors-table.ts: the sparse index of bucket members. */
const BUCKET_INDEX_SPEC: GlobalSecondaryIndex = {
  IndexName: BUCKET_INDEX,
  KeySchema: [
    { AttributeName: BUCKET_ATTRIBUTE, KeyType: "HASH" },
    { AttributeName: "monitorId", KeyType: "RANGE" },
  ],
  Projection: { ProjectionType: "KEYS_ONLY" },
};

const DIRECTORY_KEY_ATTRIBUTE: AttributeDefinition = {
  AttributeName: DIRECTORY_ATTRIBUTE,
  AttributeType: "S",
};
/** As lib/monitors-table.ts: the sparse index of the monitor directory. */
const DIRECTORY_INDEX_SPEC: GlobalSecondaryIndex = {
  IndexName: DIRECTORY_INDEX,
  KeySchema: [
    { AttributeName: DIRECTORY_ATTRIBUTE, KeyType: "HASH" },
    { AttributeName: "monitorId", KeyType: "RANGE" },
  ],
  Projection: { ProjectionType: "KEYS_ONLY" },
};
const INDEXES = [
  { spec: BUCKET_INDEX_SPEC, key: BUCKET_KEY_ATTRIBUTE },
  { spec: DIRECTORY_INDEX_SPEC, key: DIRECTORY_KEY_ATTRIBUTE },
];

export async function createMonitorsTable(
  client: DynamoDBClient,
  tableName: string,
): Promise<{ streamArn: string }> {
  let streamArn: string | undefined;
  try {
    const created = await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [...KEY_ATTRIBUTES, ...INDEXES.map((index) => index.key)],
        KeySchema: [
          { AttributeName: "monitorId", KeyType: "HASH" },
          { AttributeName: "record", KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: INDEXES.map((index) => index.spec),
        StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" },
      }),
    );
    streamArn = created.TableDescription?.LatestStreamArn;
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  const described = await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: tableName });
  streamArn ??= described.reason?.Table?.LatestStreamArn;
  // A table persisted (--data) by a version before bucket schedules or the monitor directory: add
  // the missing index, as the stack's update does (one index per update, as on DynamoDB).
  const indexes = described.reason?.Table?.GlobalSecondaryIndexes ?? [];
  for (const { spec, key } of INDEXES) {
    if (indexes.some((index: { IndexName?: string }) => index.IndexName === spec.IndexName)) continue;
    await client.send(
      new UpdateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [...KEY_ATTRIBUTES, key],
        GlobalSecondaryIndexUpdates: [{ Create: spec }],
      }),
    );
    await waitUntilIndexesActive(client, tableName);
  }
  await client
    .send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      }),
    )
    .catch((error: Error) => {
      // Enabling TTL twice is an error on DynamoDB; it is already what we want.
      if (!/already enabled/i.test(error.message)) throw error;
    });
  if (!streamArn) throw new Error(`table ${tableName} has no stream`);
  return { streamArn };
}

/**
 * A new index is CREATING for a moment (DynamoDB Local: under a second) while the table is already
 * ACTIVE, and DynamoDB Local fails writes meanwhile: wait for every index, bounded.
 */
async function waitUntilIndexesActive(client: DynamoDBClient, tableName: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const pending = (Table?.GlobalSecondaryIndexes ?? []).filter((index) => index.IndexStatus !== "ACTIVE");
    if (pending.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${tableName}: index ${pending.map((index) => index.IndexName).join(", ")} still not active`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface TickQueues {
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
  dlqArn: string;
}

/** The FIFO ticks queue (content-based dedup) and its FIFO DLQ, redriven after MAX_RECEIVE_COUNT. */
export async function createTickQueues(
  client: SQSClient,
  baseName: string,
  options: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number } = {},
): Promise<TickQueues> {
  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: `${baseName}-dlq.fifo`,
      Attributes: { FifoQueue: "true", ContentBasedDeduplication: "true", MessageRetentionPeriod: "1209600" },
    }),
  );
  const dlqUrl = dlq.QueueUrl ?? "";
  const dlqArn = await queueArn(client, dlqUrl);
  const queue = await client.send(
    new CreateQueueCommand({
      QueueName: `${baseName}.fifo`,
      Attributes: {
        FifoQueue: "true",
        ContentBasedDeduplication: "true",
        // High-throughput FIFO, as lib/ticks-queue.ts.
        DeduplicationScope: "messageGroup",
        FifoThroughputLimit: "perMessageGroupId",
        VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 30),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqArn,
          maxReceiveCount: options.maxReceiveCount ?? MAX_RECEIVE_COUNT,
        }),
      },
    }),
  );
  const queueUrl = queue.QueueUrl ?? "";
  return { queueUrl, queueArn: await queueArn(client, queueUrl), dlqUrl, dlqArn };
}

export interface RetryQueue {
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
}

/** The standard delivery-retry queue (per-message delays) and its DLQ, as lib/delivery-retry-queue.ts. */
export async function createDeliveryRetryQueue(
  client: SQSClient,
  baseName: string,
  options: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number } = {},
): Promise<RetryQueue> {
  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: `${baseName}-dlq`,
      Attributes: { MessageRetentionPeriod: "1209600" },
    }),
  );
  const dlqUrl = dlq.QueueUrl ?? "";
  const dlqArn = await queueArn(client, dlqUrl);
  const queue = await client.send(
    new CreateQueueCommand({
      QueueName: baseName,
      Attributes: {
        VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 30),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqArn,
          maxReceiveCount: options.maxReceiveCount ?? MAX_RECEIVE_COUNT,
        }),
      },
    }),
  );
  const queueUrl = queue.QueueUrl ?? "";
  return { queueUrl, queueArn: await queueArn(client, queueUrl), dlqUrl };
}

async function queueArn(client: SQSClient, queueUrl: string): Promise<string> {
  const attributes = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  const arn = attributes.Attributes?.QueueArn;
  if (!arn) throw new Error(`queue ${queueUrl} has no ARN`);
  return arn;
}
