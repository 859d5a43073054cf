import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  paginateScan,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { MonitorNotFoundError } from "#core/ack.ts";
import { INCIDENT_PREFIX } from "#core/incident.ts";
import type { MonitorStore, StoredMonitor } from "#core/ports.ts";
import { CONFIG_RECORD, STATE_RECORD } from "#core/schemas.ts";

/**
 * Reads and writes of the Monitors table by people's tools, the CLI and the dashboard (DESIGN.md §2). Per-monitor reads are Queries
 * on the partition; only the fleet-wide reports Scan, with projections. Every read paginates.
 */

export const RUN_PREFIX = "run#";
export const NOTIFICATION_PREFIX = "notification#";
// "$" sorts right after "#": `BETWEEN "run#<from>" AND "run$"` is every run item from <from> on.
const RUN_END = "run$";
const NOTIFICATION_END = "notification$";
const INCIDENT_END = "incident$";

export type Item = Record<string, unknown>;

/** An update's `unchanged` attributes no longer hold the values read: nothing was written. */
export class ConcurrentChangeError extends Error {
  override name = "ConcurrentChangeError";
  constructor(
    readonly monitorId: string,
    readonly attributes: readonly string[],
  ) {
    super(`${attributes.join(", ")} of ${monitorId} changed meanwhile: nothing was written`);
  }
}

/** The item without its key attributes (monitorId, record): what export prints and import compares. */
export function withoutKeys(item: Item): Item {
  const { monitorId: _monitorId, record: _record, ...rest } = item;
  return rest;
}

/** Sets (`SS`) arrive as Set: show and export them as the lists people wrote. */
export function plainItem(item: Item): Item {
  return Object.fromEntries(
    Object.entries(item).map(([key, value]) => [key, value instanceof Set ? [...value] : value]),
  );
}

const BATCH_WRITE_SIZE = 25;
const BATCH_GET_SIZE = 100;

async function backoff(attempt: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 50 * 2 ** attempt)));
}

export class MonitorsTable {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    /** The error for a missing monitor (the CLI's names the command that lists them). */
    private readonly notFound: (monitorId: string) => Error = (monitorId) =>
      new MonitorNotFoundError(monitorId),
  ) {}

  /** Config (raw) and state (validated) in one consistent round trip, as the orchestrator loads them. */
  load(monitorId: string): Promise<StoredMonitor> {
    return new DynamoMonitorStore(this.tableName, this.doc).load(monitorId);
  }

  /** The orchestrator's own store over this table: the ack use case writes through it. */
  store(): MonitorStore {
    return new DynamoMonitorStore(this.tableName, this.doc);
  }

  /** One item as stored (no validation: export and reset must work on a broken item too). */
  async getItem(monitorId: string, record: string): Promise<Item | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { monitorId, record }, ConsistentRead: true }),
    );
    return Item ? plainItem(Item) : undefined;
  }

  /** Whether the monitor has a config item: one small strongly consistent read. */
  async exists(monitorId: string): Promise<boolean> {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { monitorId, record: CONFIG_RECORD },
        ConsistentRead: true,
        ProjectionExpression: "monitorId",
      }),
    );
    return Item !== undefined;
  }

  getConfig(monitorId: string): Promise<Item | undefined> {
    return this.getItem(monitorId, CONFIG_RECORD);
  }

  async requireConfig(monitorId: string): Promise<Item> {
    const config = await this.getConfig(monitorId);
    if (!config) throw this.notFound(monitorId);
    return config;
  }

  /** Config items of these monitors (missing ones are absent from the map). */
  async getConfigs(monitorIds: readonly string[]): Promise<Map<string, Item>> {
    const found = new Map<string, Item>();
    for (let start = 0; start < monitorIds.length; start += BATCH_GET_SIZE) {
      let keys: Item[] = monitorIds
        .slice(start, start + BATCH_GET_SIZE)
        .map((monitorId) => ({ monitorId, record: CONFIG_RECORD }));
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt > 0) await backoff(attempt);
        const response = await this.doc.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
        );
        for (const item of response.Responses?.[this.tableName] ?? []) {
          found.set(String(item.monitorId), plainItem(item));
        }
        keys = response.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return found;
  }

  /** Creates the config item; false when the monitor already exists (nothing is written then). */
  async createConfig(monitorId: string, attributes: Item): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...attributes, monitorId, record: CONFIG_RECORD },
          ConditionExpression: "attribute_not_exists(monitorId)",
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === "ConditionalCheckFailedException") return false;
      throw error;
    }
  }

  /** Replaces the whole config item (import: the file is the source of truth). */
  async putConfig(monitorId: string, attributes: Item): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...attributes, monitorId, record: CONFIG_RECORD },
      }),
    );
  }

  /**
   * Sets and removes attributes of an existing config item. An update, not a put, so that an
   * attribute someone else changed meanwhile survives; throws UnknownMonitorError when absent.
   * Returns the attributes as they were before.
   * @param unchanged attributes that must still hold these values (undefined: absent), for a value
   *   the caller derived from them (a params map merged from the one it read); else
   *   ConcurrentChangeError and nothing written
   */
  async updateConfig(
    monitorId: string,
    set: Item,
    remove: readonly string[] = [],
    unchanged: Item = {},
  ): Promise<Item> {
    const names: Record<string, string> = {};
    const values: Item = {};
    const conditions = ["attribute_exists(monitorId)"];
    for (const [index, [attribute, value]] of Object.entries(unchanged).entries()) {
      names[`#u${index}`] = attribute;
      if (value === undefined) conditions.push(`attribute_not_exists(#u${index})`);
      else {
        values[`:u${index}`] = value;
        conditions.push(`#u${index} = :u${index}`);
      }
    }
    const assignments = Object.entries(set).map(([attribute, value], index) => {
      names[`#s${index}`] = attribute;
      values[`:s${index}`] = value;
      return `#s${index} = :s${index}`;
    });
    const removals = remove.map((attribute, index) => {
      names[`#r${index}`] = attribute;
      return `#r${index}`;
    });
    const expression = [
      assignments.length > 0 ? `SET ${assignments.join(", ")}` : "",
      removals.length > 0 ? `REMOVE ${removals.join(", ")}` : "",
    ]
      .filter(Boolean)
      .join(" ");
    try {
      const { Attributes } = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { monitorId, record: CONFIG_RECORD },
          UpdateExpression: expression,
          ConditionExpression: conditions.join(" AND "),
          ExpressionAttributeNames: names,
          ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
          ReturnValues: "ALL_OLD",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return plainItem(Attributes ?? {});
    } catch (error) {
      if ((error as Error).name !== "ConditionalCheckFailedException") throw error;
      // The item that failed the condition comes back when there is one.
      if ((error as { Item?: unknown }).Item === undefined) throw this.notFound(monitorId);
      throw new ConcurrentChangeError(monitorId, Object.keys(unchanged));
    }
  }

  /** Deletes the state item; returns whether there was one. */
  async deleteState(monitorId: string): Promise<boolean> {
    const { Attributes } = await this.doc.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { monitorId, record: STATE_RECORD },
        ReturnValues: "ALL_OLD",
      }),
    );
    return Attributes !== undefined;
  }

  /** Sort keys of every item of the monitor (config, state, history), via Query. */
  async recordsOf(monitorId: string): Promise<string[]> {
    const records: string[] = [];
    const pages = paginateQuery(
      { client: this.doc },
      {
        TableName: this.tableName,
        KeyConditionExpression: "monitorId = :id",
        ExpressionAttributeValues: { ":id": monitorId },
        ExpressionAttributeNames: { "#record": "record" },
        ProjectionExpression: "#record",
        ConsistentRead: true,
      },
    );
    for await (const page of pages) records.push(...(page.Items ?? []).map((item) => String(item.record)));
    return records;
  }

  /**
   * Deletes the given items of a monitor in batches. The config item goes first, so that
   * schedule-sync drops the schedule and any tick already queued finds no monitor.
   */
  async deleteRecords(monitorId: string, records: readonly string[], onProgress?: (count: number) => void) {
    const ordered = [...records].sort((a, b) => Number(b === CONFIG_RECORD) - Number(a === CONFIG_RECORD));
    for (let start = 0; start < ordered.length; start += BATCH_WRITE_SIZE) {
      const chunk = ordered.slice(start, start + BATCH_WRITE_SIZE);
      let requests: NonNullable<ConstructorParameters<typeof BatchWriteCommand>[0]["RequestItems"]>[string] =
        chunk.map((record) => ({ DeleteRequest: { Key: { monitorId, record } } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 0) await backoff(attempt);
        const response = await this.doc.send(
          new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }),
        );
        requests = response.UnprocessedItems?.[this.tableName] ?? [];
      }
      onProgress?.(chunk.length);
    }
  }

  /** Run items of one monitor from `since` on (newest first when `newestFirst`), via Query. */
  async runs(monitorId: string, options: { since?: Date; limit?: number; newestFirst?: boolean } = {}) {
    return this.#queryRange(monitorId, RUN_PREFIX, RUN_END, options);
  }

  /** Notification log items of one monitor (sorted by the tick that decided them), via Query. */
  async notifications(
    monitorId: string,
    options: { since?: Date; limit?: number; newestFirst?: boolean } = {},
  ) {
    return this.#queryRange(monitorId, NOTIFICATION_PREFIX, NOTIFICATION_END, options);
  }

  /** Incident items of one monitor (`incident#<start>`), via Query: the newest `limit` for a page. */
  async incidents(monitorId: string, options: { limit?: number; newestFirst?: boolean } = {}) {
    return this.#queryRange(monitorId, INCIDENT_PREFIX, INCIDENT_END, options);
  }

  /**
   * One monitor's incidents overlapping the window from `since` on (still unresolved, or resolved
   * at or after it), oldest first, and no more: a Query on `begins_with(record, "incident#")`
   * filtered by DynamoDB and projected to `attributes`, with the config and state items in one
   * BatchGetItem projected to what `incidents` needs (does it exist, which incident is open). The
   * state is not validated: a broken state item must not hide its monitor's incidents.
   */
  async incidentsOf(
    monitorId: string,
    options: { since: Date; attributes: readonly string[] },
  ): Promise<{ exists: boolean; state: Item | undefined; items: Item[] }> {
    const names: Record<string, string> = { "#record": "record", "#resolvedAt": "resolvedAt" };
    const projection = ["monitorId", "record", ...options.attributes].map((attribute, index) => {
      names[`#p${index}`] = attribute;
      return `#p${index}`;
    });
    const query = async () => {
      const items: Item[] = [];
      const pages = paginateQuery(
        { client: this.doc },
        {
          TableName: this.tableName,
          KeyConditionExpression: "monitorId = :id AND begins_with(#record, :incident)",
          // An incident overlaps the window unless it was resolved before it began.
          FilterExpression: "attribute_not_exists(#resolvedAt) OR #resolvedAt >= :since",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: {
            ":id": monitorId,
            ":incident": INCIDENT_PREFIX,
            ":since": options.since.toISOString(),
          },
          ProjectionExpression: projection.join(", "),
        },
      );
      for await (const page of pages) items.push(...(page.Items ?? []).map(plainItem));
      return items;
    };
    const [heads, items] = await Promise.all([
      this.#getProjected(
        [CONFIG_RECORD, STATE_RECORD].map((record) => ({ monitorId, record })),
        ["monitorId", "record", "incident"],
      ),
      query(),
    ]);
    return {
      exists: heads.some((item) => item.record === CONFIG_RECORD),
      state: heads.find((item) => item.record === STATE_RECORD),
      items,
    };
  }

  /** BatchGetItem of a few keys, projected, strongly consistent; unprocessed keys retried. */
  async #getProjected(keys: Item[], attributes: readonly string[]): Promise<Item[]> {
    const names = Object.fromEntries(attributes.map((attribute, index) => [`#a${index}`, attribute]));
    const found: Item[] = [];
    let pending = keys;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await backoff(attempt);
      const response = await this.doc.send(
        new BatchGetCommand({
          RequestItems: {
            [this.tableName]: {
              Keys: pending,
              ConsistentRead: true,
              ProjectionExpression: Object.keys(names).join(", "),
              ExpressionAttributeNames: names,
            },
          },
        }),
      );
      found.push(...(response.Responses?.[this.tableName] ?? []).map(plainItem));
      pending = response.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
    }
    return found;
  }

  async #queryRange(
    monitorId: string,
    prefix: string,
    end: string,
    options: { since?: Date; limit?: number; newestFirst?: boolean },
  ): Promise<Item[]> {
    const items: Item[] = [];
    const pages = paginateQuery(
      { client: this.doc, ...(options.limit ? { pageSize: Math.min(options.limit, 1000) } : {}) },
      {
        TableName: this.tableName,
        KeyConditionExpression: "monitorId = :id AND #record BETWEEN :from AND :to",
        ExpressionAttributeNames: { "#record": "record" },
        ExpressionAttributeValues: {
          ":id": monitorId,
          ":from": `${prefix}${options.since?.toISOString() ?? ""}`,
          ":to": end,
        },
        ScanIndexForward: !options.newestFirst,
      },
    );
    for await (const page of pages) {
      items.push(...(page.Items ?? []).map(plainItem));
      if (options.limit !== undefined && items.length >= options.limit) return items.slice(0, options.limit);
    }
    return items;
  }

  /**
   * Scans the table for the items `filter` selects, projected to `attributes` (monitorId and
   * record are always included). Used by the fleet-wide commands only.
   */
  async *scan(filter: {
    expression: string;
    values: Item;
    names?: Record<string, string>;
    attributes?: readonly string[];
    /**
     * Parallel scan in this many segments (the dashboard's overview: its latency stays within the
     * API's timeout on a table with long history). Same requests and capacity, all at once.
     */
    segments?: number;
  }): AsyncGenerator<Item> {
    const names: Record<string, string> = { "#record": "record", ...filter.names };
    let projection: string | undefined;
    if (filter.attributes) {
      // Every attribute through a placeholder: several of them (name, state, schedule…) are reserved words.
      const placeholders = ["monitorId", "record", ...filter.attributes].map((attribute, index) => {
        names[`#p${index}`] = attribute;
        return `#p${index}`;
      });
      projection = placeholders.join(", ");
    }
    const input = {
      TableName: this.tableName,
      FilterExpression: filter.expression,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: filter.values,
      ...(projection ? { ProjectionExpression: projection } : {}),
    };
    const segments = filter.segments ?? 1;
    if (segments <= 1) {
      for await (const page of paginateScan({ client: this.doc }, input)) {
        for (const item of page.Items ?? []) yield plainItem(item);
      }
      return;
    }
    const parts = await Promise.all(
      Array.from({ length: segments }, async (_, segment) => {
        const items: Item[] = [];
        const pages = paginateScan(
          { client: this.doc },
          { ...input, Segment: segment, TotalSegments: segments },
        );
        for await (const page of pages) items.push(...(page.Items ?? []).map(plainItem));
        return items;
      }),
    );
    for (const part of parts) yield* part;
  }
}
