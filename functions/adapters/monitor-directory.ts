import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  paginateQuery,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import {
  DIRECTORY_ATTRIBUTE,
  DIRECTORY_INDEX,
  DIRECTORY_MARKER_ID,
  DIRECTORY_MARKER_RECORD,
  DIRECTORY_RECORD,
  type DirectoryEntry,
  directoryShards,
  type MonitorDirectoryAdmin,
} from "#core/directory.ts";
import { CONFIG_RECORD, STATE_RECORD } from "#core/schemas.ts";

/**
 * The monitor directory on the Monitors table (functions/core/directory.ts): schedule-sync's and
 * reconcile's writes of the directory items, and the reads of the index and of the monitors it
 * names (the dashboard's overview).
 */

type Item = Record<string, unknown>;

/** Keys per BatchGetItem: DynamoDB's limit. */
export const BATCH_GET_KEYS = 100;
/** BatchGetItem requests in flight at once (a 100k fleet is 2,000 of them). */
const BATCH_GET_CONCURRENCY = 16;
/** Attempts at a batch's unprocessed keys before the read fails. */
const BATCH_GET_ATTEMPTS = 8;

function toDocumentClient(
  client: DynamoDBClient | DynamoDBDocumentClient | undefined,
): DynamoDBDocumentClient {
  const base = client ?? new DynamoDBClient({ requestHandler: boundedRequestHandler() });
  return base instanceof DynamoDBDocumentClient ? base : DynamoDBDocumentClient.from(base);
}

async function backoff(attempt: number): Promise<void> {
  // Exponential with full jitter, capped: unprocessed keys mean the table is throttling.
  const ceiling = Math.min(2_000, 50 * 2 ** attempt);
  await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

export class DynamoDbMonitorDirectory implements MonitorDirectoryAdmin {
  readonly #doc: DynamoDBDocumentClient;

  constructor(
    private readonly tableName: string,
    client?: DynamoDBClient | DynamoDBDocumentClient,
  ) {
    this.#doc = toDocumentClient(client);
  }

  async ensure(monitorId: string, shard: string): Promise<boolean> {
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { monitorId, record: DIRECTORY_RECORD, [DIRECTORY_ATTRIBUTE]: shard },
          // An entry already in its shard is left alone: no rewrite (and no stream record) per edit.
          ConditionExpression: "attribute_not_exists(#shard) OR #shard <> :shard",
          ExpressionAttributeNames: { "#shard": DIRECTORY_ATTRIBUTE },
          ExpressionAttributeValues: { ":shard": shard },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async remove(monitorId: string): Promise<void> {
    await this.#doc.send(
      new DeleteCommand({ TableName: this.tableName, Key: { monitorId, record: DIRECTORY_RECORD } }),
    );
  }

  async removeOrphan(monitorId: string): Promise<boolean> {
    try {
      await this.#doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.tableName,
                Key: { monitorId, record: CONFIG_RECORD },
                ConditionExpression: "attribute_not_exists(monitorId)",
              },
            },
            { Delete: { TableName: this.tableName, Key: { monitorId, record: DIRECTORY_RECORD } } },
          ],
        }),
      );
      return true;
    } catch (error) {
      const reasons = error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : [];
      // The monitor exists again: its entry is the new monitor's.
      if (reasons[0]?.Code === "ConditionalCheckFailed") return false;
      throw error;
    }
  }

  async markReconciled(at: Date): Promise<void> {
    await this.#doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          monitorId: DIRECTORY_MARKER_ID,
          record: DIRECTORY_MARKER_RECORD,
          [DIRECTORY_ATTRIBUTE]: directoryShards()[0],
          reconciledAt: at.toISOString(),
        },
      }),
    );
  }

  /** Every shard of the index, Queried in parallel and paginated: requests grow with the fleet only. */
  async entries(): Promise<{ entries: DirectoryEntry[]; reconciled: boolean }> {
    let reconciled = false;
    const shards = await Promise.all(
      directoryShards().map(async (shard) => {
        const found: DirectoryEntry[] = [];
        const pages = paginateQuery(
          { client: this.#doc },
          {
            TableName: this.tableName,
            IndexName: DIRECTORY_INDEX,
            KeyConditionExpression: "#shard = :shard",
            ExpressionAttributeNames: { "#shard": DIRECTORY_ATTRIBUTE },
            ExpressionAttributeValues: { ":shard": shard },
          },
        );
        for await (const page of pages) {
          for (const item of page.Items ?? []) {
            if (typeof item.monitorId !== "string") continue;
            if (item.record === DIRECTORY_MARKER_RECORD && item.monitorId === DIRECTORY_MARKER_ID) {
              reconciled = true;
            } else if (item.record === DIRECTORY_RECORD) {
              found.push({ monitorId: item.monitorId, shard });
            }
          }
        }
        return found;
      }),
    );
    return { entries: shards.flat(), reconciled };
  }

  /**
   * The config and state items of these monitors, projected to `attributes` (plus the keys): one
   * BatchGetItem per 50 monitors (100 keys), a few in flight at once, unprocessed keys retried with
   * backoff. Eventually consistent, like the Scan it replaces.
   */
  async configAndState(
    monitorIds: readonly string[],
    attributes: readonly string[],
  ): Promise<{ configs: Map<string, Item>; states: Map<string, Item> }> {
    const keys = [...new Set(monitorIds)].flatMap((monitorId) => [
      { monitorId, record: CONFIG_RECORD },
      { monitorId, record: STATE_RECORD },
    ]);
    const batches: Item[][] = [];
    for (let start = 0; start < keys.length; start += BATCH_GET_KEYS) {
      batches.push(keys.slice(start, start + BATCH_GET_KEYS));
    }
    const names: Record<string, string> = {};
    const projection = [...new Set(["monitorId", "record", ...attributes])]
      .map((attribute, index) => {
        names[`#a${index}`] = attribute;
        return `#a${index}`;
      })
      .join(", ");
    const configs = new Map<string, Item>();
    const states = new Map<string, Item>();
    const read = async (batch: Item[]) => {
      let pending = batch;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= BATCH_GET_ATTEMPTS) {
          throw new Error(`BatchGetItem left ${pending.length} keys unprocessed after ${attempt} attempts`);
        }
        if (attempt > 0) await backoff(attempt);
        const response = await this.#doc.send(
          new BatchGetCommand({
            RequestItems: {
              [this.tableName]: {
                Keys: pending,
                ProjectionExpression: projection,
                ExpressionAttributeNames: names,
              },
            },
          }),
        );
        for (const item of response.Responses?.[this.tableName] ?? []) {
          const target =
            item.record === CONFIG_RECORD ? configs : item.record === STATE_RECORD ? states : undefined;
          target?.set(String(item.monitorId), item);
        }
        pending = (response.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Item[];
      }
    };
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++];
        if (batch) await read(batch);
      }
    };
    await Promise.all(Array.from({ length: Math.min(BATCH_GET_CONCURRENCY, batches.length) }, worker));
    return { configs, states };
  }
}
