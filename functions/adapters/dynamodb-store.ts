import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  PutCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import { type IncidentUpdate, incidentRecord } from "#core/incident.ts";
import type { DeliveryReceipt, MonitorStore, StateRecords, StoredMonitor } from "#core/ports.ts";
import { StaleStateError } from "#core/ports.ts";
import { CONFIG_RECORD, type MonitorState, MonitorStateSchema, STATE_RECORD } from "#core/schemas.ts";

export class CorruptStateError extends Error {
  override name = "CorruptStateError";
}

/** Document client that drops undefined attributes, so optional state fields are simply absent. */
export function createDocumentClient(
  client: DynamoDBClient = new DynamoDBClient({ requestHandler: boundedRequestHandler() }),
): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** String sets (`SS`) arrive as Set: people may store peopleToNotify either way (DESIGN.md §2). */
function plain(item: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(item).map(([key, value]) => [key, value instanceof Set ? [...value] : value]),
  );
}

const isConditionFailure = (error: unknown) =>
  error instanceof ConditionalCheckFailedException ||
  (error instanceof TransactionCanceledException &&
    (error.CancellationReasons ?? []).some((reason) => reason.Code === "ConditionalCheckFailed"));

// A state item restored, imported or edited by hand may lack `version`: it reads as 0 (the schema
// default), so "version 0" must also match a missing attribute, or every tick would look stale.
const versionIs = (expected: number) =>
  expected === 0 ? "attribute_not_exists(version) OR version = :expected" : "version = :expected";

/** Worth another try: conflicts with another transaction, throttling, 5xx, timeouts. */
function isTransient(error: unknown): boolean {
  if (isConditionFailure(error) || !(error instanceof Error)) return false;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return (
    error instanceof TransactionCanceledException ||
    /Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded|InternalServerError|ServiceUnavailable|Timeout|ECONNRESET/i.test(
      error.name,
    ) ||
    (status !== undefined && status >= 500)
  );
}

async function withRetries<T>(write: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * 4 ** (attempt - 1)));
    }
  }
}

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

/** The UpdateItem of an incident item (functions/core/incident.ts), for the state's transaction. */
export function incidentUpdateItem(
  tableName: string,
  monitorId: string,
  update: IncidentUpdate,
): TransactItem {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const name = (attribute: string) => {
    const placeholder = `#a${Object.keys(names).length}`;
    names[placeholder] = attribute;
    return placeholder;
  };
  const value = (given: unknown) => {
    const placeholder = `:v${Object.keys(values).length}`;
    values[placeholder] = given;
    return placeholder;
  };
  const defined = (fields: object | undefined) =>
    Object.entries(fields ?? {}).filter(([, given]) => given !== undefined);
  const set = [
    ...defined(update.set).map(([attribute, given]) => `${name(attribute)} = ${value(given)}`),
    ...defined(update.setIfAbsent).map(([attribute, given]) => {
      const placeholder = name(attribute);
      return `${placeholder} = if_not_exists(${placeholder}, ${value(given)})`;
    }),
  ];
  // A counter listed twice (two targets abandoned in one write) is added once, by two: DynamoDB
  // refuses an expression that names one attribute twice.
  const counts = new Map<string, number>();
  for (const counter of update.increment ?? []) counts.set(counter, (counts.get(counter) ?? 0) + 1);
  const add = [...counts].map(([counter, count]) => `${name(counter)} ${value(count)}`);
  const remove = (update.remove ?? []).map((attribute) => name(attribute));
  const expression = [
    set.length > 0 ? `SET ${set.join(", ")}` : "",
    add.length > 0 ? `ADD ${add.join(", ")}` : "",
    remove.length > 0 ? `REMOVE ${remove.join(", ")}` : "",
  ]
    .filter(Boolean)
    .join(" ");
  return {
    Update: {
      TableName: tableName,
      Key: { monitorId, record: incidentRecord(update.start) },
      UpdateExpression: expression,
      ExpressionAttributeNames: names,
      ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
    },
  };
}

/** The sort key of a notification log item: one per target, or one per notification (previous version). */
export function notificationRecord(receipt: Pick<DeliveryReceipt, "tickTime" | "type" | "target">): string {
  return `notification#${receipt.tickTime}#${receipt.type}${receipt.target === undefined ? "" : `#${receipt.target}`}`;
}

/**
 * The Monitors table (DESIGN.md §2): config and state items of a monitor share a partition.
 * Every state write (decisions, outbox claims and clears) is a whole-item put conditional on the
 * version read; the caller bumps the version by exactly one.
 */
export class DynamoMonitorStore implements MonitorStore {
  constructor(
    private readonly tableName: string,
    private readonly doc: DynamoDBDocumentClient = createDocumentClient(),
  ) {}

  async load(monitorId: string): Promise<StoredMonitor> {
    const items = await this.#batchGet([monitorId]);
    return this.#stored(monitorId, items);
  }

  /**
   * One BatchGetItem for an SQS batch's monitors (up to 50 per request), strongly consistent like
   * `load`: a quiet tick decides not to write on what it read. A monitor whose state item does not
   * parse is left out, so that its own tick reports it and the others go on.
   */
  async loadMany(monitorIds: readonly string[]): Promise<Map<string, StoredMonitor>> {
    const ids = [...new Set(monitorIds)];
    const items: Record<string, unknown>[] = [];
    for (let start = 0; start < ids.length; start += 50) {
      items.push(...(await this.#batchGet(ids.slice(start, start + 50))));
    }
    const loaded = new Map<string, StoredMonitor>();
    for (const id of ids) {
      try {
        loaded.set(
          id,
          this.#stored(
            id,
            items.filter((item) => item.monitorId === id),
          ),
        );
      } catch (error) {
        if (!(error instanceof CorruptStateError)) throw error;
      }
    }
    return loaded;
  }

  async #batchGet(monitorIds: readonly string[]): Promise<Record<string, unknown>[]> {
    let keys: Record<string, unknown>[] = monitorIds.flatMap((monitorId) => [
      { monitorId, record: CONFIG_RECORD },
      { monitorId, record: STATE_RECORD },
    ]);
    const items: Record<string, unknown>[] = [];
    // BatchGet may return keys unprocessed under throttling: retry just those, with backoff.
    for (let attempt = 0; keys.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
      if (attempt > 8) throw new Error(`could not read ${monitorIds.join(", ")}: keys stayed unprocessed`);
      const response = await this.doc.send(
        new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
      );
      items.push(...(response.Responses?.[this.tableName] ?? []));
      keys = response.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
    }
    return items;
  }

  #stored(monitorId: string, items: Record<string, unknown>[]): StoredMonitor {
    const config = items.find((item) => item.record === CONFIG_RECORD);
    const rawState = items.find((item) => item.record === STATE_RECORD);
    let state: MonitorState | undefined;
    if (rawState) {
      const parsed = MonitorStateSchema.safeParse(rawState);
      if (!parsed.success) {
        const issues = parsed.error.issues
          .map((issue) => `${issue.path.join(".")} ${issue.message}`)
          .join("; ");
        throw new CorruptStateError(
          `state item of ${monitorId} is invalid (${issues}); delete it to reset the monitor`,
        );
      }
      state = parsed.data;
    }
    return { config: config ? plain(config) : undefined, state };
  }

  async saveState(
    monitorId: string,
    state: MonitorState,
    expectedVersion: number | undefined,
    records: StateRecords = {},
  ): Promise<void> {
    const put = {
      TableName: this.tableName,
      Item: { ...state, monitorId, record: STATE_RECORD },
      ...(expectedVersion === undefined
        ? { ConditionExpression: "attribute_not_exists(monitorId)" }
        : {
            ConditionExpression: versionIs(expectedVersion),
            ExpressionAttributeValues: { ":expected": expectedVersion },
          }),
    };
    const logItems: Array<Record<string, unknown>> = [];
    if (records.run) {
      logItems.push({ ...records.run, monitorId, record: `run#${records.run.scheduledTime}` });
    }
    if (records.summary) {
      // After the run items of its last run: `run#<to>#summary` never replaces a run's own item.
      logItems.push({ ...records.summary, monitorId, record: `run#${records.summary.to}#summary` });
    }
    for (const receipt of [...(records.receipt ? [records.receipt] : []), ...(records.receipts ?? [])]) {
      logItems.push({
        ...receipt,
        recipients: [...receipt.recipients],
        monitorId,
        record: notificationRecord(receipt),
      });
    }
    const transactItems: TransactItem[] = [
      ...logItems.map((Item) => ({ Put: { TableName: this.tableName, Item } })),
      // Incident items are updated, never put: see IncidentUpdate. The transaction's version
      // condition makes even its counters exactly-once.
      ...[...(records.incident ? [records.incident] : []), ...(records.incidents ?? [])].map((update) =>
        incidentUpdateItem(this.tableName, monitorId, update),
      ),
    ];
    try {
      // Conditional on the version, so a write that did land before a lost response fails its
      // retry as stale and the caller re-reads: retrying throttling and conflicts here is safe.
      await withRetries<unknown>(() =>
        transactItems.length > 0
          ? // One request for state and log items: a write is one DynamoDB request, history included.
            this.doc.send(new TransactWriteCommand({ TransactItems: [{ Put: put }, ...transactItems] }))
          : this.doc.send(new PutCommand(put)),
      );
    } catch (error) {
      if (isConditionFailure(error))
        throw new StaleStateError(`state of ${monitorId} is no longer version ${expectedVersion}`);
      throw error;
    }
  }
}
