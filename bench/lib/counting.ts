import { type AttributeValue, type DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import type { SESv2Client } from "@aws-sdk/client-sesv2";
import type { SQSClient } from "@aws-sdk/client-sqs";

/**
 * Counts every HTTP attempt an AWS SDK client makes (retries are billed requests too), by service
 * and operation, and DynamoDB capacity two ways:
 * - `reported*Units`: what DynamoDB Local returns for ReturnConsumedCapacity=TOTAL. It is right
 *   for single-item operations but under-counts transactions (2 small puts in one
 *   TransactWriteItems report 2 WRU; DynamoDB bills 4), so it is informational only.
 * - `readUnits` / `writeUnits`: computed by the audit (when enabled) from the item sizes,
 *   with DynamoDB's documented rules: a write costs 1 WRU per started KB of the larger of the old
 *   and the new item, twice that inside TransactWriteItems; a strongly consistent read costs
 *   1 RRU per started 4 KB per item (at least 1 per key, found or not), half for eventual
 *   consistency. The audit reads the items with its own client, outside the counts.
 */

export type Service = "dynamodb" | "sqs" | "ses";

export interface Counts {
  dynamodb: number;
  sqs: number;
  ses: number;
  total: number;
  byOperation: Record<string, number>;
  readUnits: number;
  writeUnits: number;
  reportedReadUnits: number;
  reportedWriteUnits: number;
}

export function emptyCounts(): Counts {
  return {
    dynamodb: 0,
    sqs: 0,
    ses: 0,
    total: 0,
    byOperation: {},
    readUnits: 0,
    writeUnits: 0,
    reportedReadUnits: 0,
    reportedWriteUnits: 0,
  };
}

const READ_OPERATIONS = new Set(["GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"]);

/** lib-dynamodb names its commands BatchGet, Put...; the wire operations are BatchGetItem, PutItem... */
const DOCUMENT_OPERATIONS: Record<string, string> = {
  BatchGet: "BatchGetItem",
  BatchWrite: "BatchWriteItem",
  Get: "GetItem",
  Put: "PutItem",
  Update: "UpdateItem",
  Delete: "DeleteItem",
  TransactWrite: "TransactWriteItems",
  TransactGet: "TransactGetItems",
};

export function operationName(commandName: string | undefined): string {
  const bare = (commandName ?? "Unknown").replace(/Command$/, "");
  return DOCUMENT_OPERATIONS[bare] ?? bare;
}

type Capacity = { CapacityUnits?: number } | Array<{ CapacityUnits?: number }> | undefined;

function capacityUnits(capacity: Capacity): number {
  if (!capacity) return 0;
  const list = Array.isArray(capacity) ? capacity : [capacity];
  return list.reduce((sum, entry) => sum + (entry.CapacityUnits ?? 0), 0);
}

/** A counter that several clients report into; `snapshot()` and `reset()` frame a measurement. */
export class RequestCounter {
  #counts = emptyCounts();
  /** Computes capacity from item sizes (extra reads on the side: slows requests down). */
  audit: DynamoDBClient | undefined;
  readonly auditErrors: string[] = [];

  record(service: Service, operation: string, reportedUnits = 0): void {
    const counts = this.#counts;
    counts[service] += 1;
    counts.total += 1;
    const key = `${service}:${operation}`;
    counts.byOperation[key] = (counts.byOperation[key] ?? 0) + 1;
    if (service === "dynamodb") {
      if (READ_OPERATIONS.has(operation)) counts.reportedReadUnits += reportedUnits;
      else counts.reportedWriteUnits += reportedUnits;
    }
  }

  addUnits(read: number, write: number): void {
    this.#counts.readUnits += read;
    this.#counts.writeUnits += write;
  }

  reset(): void {
    this.#counts = emptyCounts();
  }

  snapshot(): Counts {
    return structuredClone(this.#counts);
  }
}

type AnyClient = DynamoDBClient | SESv2Client | SQSClient;

/** Adds the counting middleware (and, for DynamoDB, ReturnConsumedCapacity) to a client. */
export function countRequests<C extends AnyClient>(client: C, service: Service, counter: RequestCounter): C {
  const stack = client.middlewareStack as unknown as {
    add(middleware: unknown, options: { step: string; name: string; priority?: string }): void;
  };
  if (service === "dynamodb") {
    stack.add(
      (next: (args: { input: Record<string, unknown> }) => Promise<unknown>) =>
        async (args: { input: Record<string, unknown> }) => {
          args.input.ReturnConsumedCapacity ??= "TOTAL";
          return next(args);
        },
      { step: "serialize", name: "benchReturnConsumedCapacity", priority: "high" },
    );
    // Build step: after lib-dynamodb's marshalling, so the input holds AttributeValues.
    stack.add(
      (
        next: (args: { input: Record<string, unknown> }) => Promise<unknown>,
        context: { commandName?: string },
      ) =>
        async (args: { input: Record<string, unknown> }) => {
          const audit = counter.audit;
          if (!audit) return next(args);
          const operation = operationName(context.commandName);
          let pending: Awaited<ReturnType<typeof auditBefore>> | undefined;
          try {
            pending = await auditBefore(audit, operation, args.input);
          } catch (error) {
            counter.auditErrors.push(`${operation} (before): ${String(error)}`);
          }
          const result = await next(args);
          try {
            const units = await pending?.after();
            if (units) counter.addUnits(units.read, units.write);
          } catch (error) {
            counter.auditErrors.push(`${operation} (after): ${String(error)}`);
          }
          return result;
        },
      { step: "build", name: "benchCapacityAudit", priority: "high" },
    );
  }
  // The deserialize step runs once per attempt, inside the retry loop; high priority wraps the
  // deserializer, so the parsed output (ConsumedCapacity) is visible.
  stack.add(
    (
      next: (args: unknown) => Promise<{ output?: { ConsumedCapacity?: Capacity } }>,
      context: { commandName?: string },
    ) =>
      async (args: unknown) => {
        const operation = operationName(context.commandName);
        try {
          const result = await next(args);
          counter.record(service, operation, capacityUnits(result.output?.ConsumedCapacity));
          return result;
        } catch (error) {
          counter.record(service, operation);
          throw error;
        }
      },
    { step: "deserialize", name: "benchCountRequests", priority: "high" },
  );
  return client;
}

// ---------------------------------------------------------------- capacity from item sizes

/** DynamoDB's item size: attribute names plus values (UTF-8 strings, numbers ~ digits / 2 + 1). */
export function attributeValueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined)
    return Math.ceil(value.N.replace(/^-|\.|e.*$/gi, "").replace(/^0+/, "").length / 2) + 1;
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS) return value.SS.reduce((sum, item) => sum + Buffer.byteLength(item), 0);
  if (value.NS) return value.NS.reduce((sum, item) => sum + attributeValueBytes({ N: item }), 0);
  if (value.BS) return value.BS.reduce((sum, item) => sum + item.byteLength, 0);
  if (value.L) return 3 + value.L.reduce((sum, item) => sum + 1 + attributeValueBytes(item), 0);
  if (value.M) return 3 + itemBytes(value.M);
  return 0;
}

export function itemBytes(item: Record<string, AttributeValue> | undefined): number {
  if (!item) return 0;
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + attributeValueBytes(value),
    0,
  );
}

type Key = Record<string, AttributeValue>;
type Input = Record<string, unknown>;

const KEY_ATTRIBUTES = ["monitorId", "record"];
const keyOf = (item: Record<string, AttributeValue>): Key =>
  Object.fromEntries(KEY_ATTRIBUTES.map((name) => [name, item[name] as AttributeValue]));

async function sizeNow(client: DynamoDBClient, table: string, key: Key): Promise<number> {
  const found = await client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
  return itemBytes(found.Item);
}

interface WriteTarget {
  table: string;
  key: Key;
  /** Size of the item written by a Put; Updates are measured after the request. */
  putBytes?: number;
  /** Delete or ConditionCheck: no new item. */
  noNewItem?: boolean;
}

function writeTargets(operation: string, input: Input): WriteTarget[] {
  const put = (p: { TableName: string; Item: Record<string, AttributeValue> }): WriteTarget => ({
    table: p.TableName,
    key: keyOf(p.Item),
    putBytes: itemBytes(p.Item),
  });
  const keyed = (p: { TableName: string; Key: Key }, noNewItem = false): WriteTarget => ({
    table: p.TableName,
    key: p.Key,
    noNewItem,
  });
  switch (operation) {
    case "PutItem":
      return [put(input as never)];
    case "UpdateItem":
      return [keyed(input as never)];
    case "DeleteItem":
      return [keyed(input as never, true)];
    case "TransactWriteItems":
      return (input.TransactItems as Array<Record<string, unknown>>).map((item) =>
        item.Put
          ? put(item.Put as never)
          : item.Update
            ? keyed(item.Update as never)
            : keyed((item.Delete ?? item.ConditionCheck) as never, true),
      );
    case "BatchWriteItem":
      return Object.entries(input.RequestItems as Record<string, Array<Record<string, unknown>>>).flatMap(
        ([TableName, requests]) =>
          requests.map((request) =>
            request.PutRequest
              ? put({
                  TableName,
                  Item: (request.PutRequest as { Item: Record<string, AttributeValue> }).Item,
                })
              : keyed({ TableName, Key: (request.DeleteRequest as { Key: Key }).Key }, true),
          ),
      );
    default:
      return [];
  }
}

async function auditBefore(client: DynamoDBClient, operation: string, input: Input) {
  if (READ_OPERATIONS.has(operation)) {
    return {
      after: async () => {
        let read = 0;
        const units = (bytes: number, consistent: boolean) =>
          Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);
        if (operation === "BatchGetItem") {
          for (const [table, request] of Object.entries(
            input.RequestItems as Record<string, { Keys: Key[]; ConsistentRead?: boolean }>,
          ))
            for (const key of request.Keys)
              read += units(await sizeNow(client, table, key), request.ConsistentRead === true);
        } else if (operation === "GetItem") {
          const get = input as { TableName: string; Key: Key; ConsistentRead?: boolean };
          read += units(await sizeNow(client, get.TableName, get.Key), get.ConsistentRead === true);
        }
        return { read, write: 0 };
      },
    };
  }
  const targets = writeTargets(operation, input);
  const oldBytes = await Promise.all(targets.map((target) => sizeNow(client, target.table, target.key)));
  const factor = operation === "TransactWriteItems" ? 2 : 1;
  return {
    after: async () => {
      let write = 0;
      for (const [index, target] of targets.entries()) {
        const newBytes = target.noNewItem
          ? 0
          : (target.putBytes ?? (await sizeNow(client, target.table, target.key)));
        write += factor * Math.max(1, Math.ceil(Math.max(oldBytes[index] ?? 0, newBytes) / 1024));
      }
      return { read: 0, write };
    },
  };
}
