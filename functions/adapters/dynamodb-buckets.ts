import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  paginateScan,
} from "@aws-sdk/lib-dynamodb";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import {
  BUCKET_ATTRIBUTE,
  BUCKET_INDEX,
  BUCKET_RECORD_PREFIX,
  BUCKETS_PARTITION,
  type BucketHeader,
  placementOf,
  SCHEDULE_RECORD,
} from "#core/buckets.ts";
import type { BucketReader } from "#core/fan-out.ts";
import type { ScheduleDefinition, SchedulerPort } from "#core/ports.ts";
import type { ScheduleReader } from "#core/schedule-sync.ts";

/**
 * Bucket schedules on the Monitors table (engine v2):
 * - a monitor's schedule is its member item `{monitorId, record: "schedule"}`, whose `bucket`
 *   attribute (absent while paused) places it in the sparse `ByBucket` index;
 * - each bucket has a header item under `monitorId = "__buckets"`, read by the fan-out every minute.
 * A header is written (or found fresh) before its member, so no member is ever without its header.
 */

/** How long an empty bucket's header is kept: beyond any index propagation delay. */
export const EMPTY_HEADER_GRACE_MS = 10 * 60_000;

/** A header older than this is rewritten when a member joins (well inside the grace above). */
export const HEADER_REFRESH_MS = 5 * 60_000;

export interface DynamoDbBucketsOptions {
  tableName: string;
  /** @default a DynamoDBClient with bounded requests */
  client?: DynamoDBClient | DynamoDBDocumentClient;
  /** @default () => new Date() */
  now?: () => Date;
}

function headerItem(header: BucketHeader, touchedAt: string): Record<string, unknown> {
  const common = { monitorId: BUCKETS_PARTITION, record: `${BUCKET_RECORD_PREFIX}${header.key}`, touchedAt };
  return header.kind === "cron"
    ? { ...common, kind: "cron", expression: header.expression, timezone: header.timezone }
    : { ...common, kind: "rate", periodMinutes: header.periodMinutes };
}

/** A header as stored, or undefined when it is not one the fan-out can use. */
export function parseHeaderItem(
  item: Record<string, unknown>,
): (BucketHeader & { touchedAt?: string }) | undefined {
  const record = item.record;
  if (typeof record !== "string" || !record.startsWith(BUCKET_RECORD_PREFIX)) return undefined;
  const key = record.slice(BUCKET_RECORD_PREFIX.length);
  const touchedAt = typeof item.touchedAt === "string" ? { touchedAt: item.touchedAt } : {};
  if (item.kind === "cron" && typeof item.expression === "string" && typeof item.timezone === "string") {
    return { kind: "cron", key, expression: item.expression, timezone: item.timezone, ...touchedAt };
  }
  if (item.kind === "rate" && typeof item.periodMinutes === "number" && item.periodMinutes >= 1) {
    return { kind: "rate", key, periodMinutes: item.periodMinutes, ...touchedAt };
  }
  return undefined;
}

export class DynamoDbBuckets implements SchedulerPort, ScheduleReader, BucketReader {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => Date;

  constructor(options: DynamoDbBucketsOptions) {
    const client = options.client ?? new DynamoDBClient({ requestHandler: boundedRequestHandler() });
    this.#doc = client instanceof DynamoDBDocumentClient ? client : DynamoDBDocumentClient.from(client);
    this.#table = options.tableName;
    this.#now = options.now ?? (() => new Date());
  }

  async upsert(definition: ScheduleDefinition): Promise<void> {
    const placement = placementOf(definition, definition.phaseMinute);
    const now = this.#now();
    // The header first, then the member: no member is ever without its header. The header is
    // refreshed only when its touchedAt is older than HEADER_REFRESH_MS, so a bulk import into one
    // bucket costs a write per few minutes, not one per member (and no write contention); every
    // member is still written within HEADER_REFRESH_MS of its header's touchedAt, which keeps the
    // header out of the empty-bucket sweep and reconcile's cleanup (both allow EMPTY_HEADER_GRACE_MS).
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: headerItem(placement.header, now.toISOString()),
          ConditionExpression: "attribute_not_exists(touchedAt) OR touchedAt < :stale",
          ExpressionAttributeValues: { ":stale": new Date(now.getTime() - HEADER_REFRESH_MS).toISOString() },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    await this.#doc.send(
      new PutCommand({
        TableName: this.#table,
        Item: {
          monitorId: definition.monitorId,
          record: SCHEDULE_RECORD,
          expression: definition.expression,
          timezone: definition.timezone,
          enabled: definition.enabled,
          ...(placement.phaseMinute === undefined ? {} : { phaseMinute: placement.phaseMinute }),
          // Paused: out of the sparse index, so the fan-out never sees it.
          ...(definition.enabled ? { [BUCKET_ATTRIBUTE]: placement.partition } : {}),
          updatedAt: now.toISOString(),
        },
      }),
    );
  }

  async describe(monitorId: string): Promise<ScheduleDefinition | undefined> {
    const { Item: item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: { monitorId, record: SCHEDULE_RECORD },
        ConsistentRead: true,
      }),
    );
    if (!item || typeof item.expression !== "string" || typeof item.timezone !== "string") return undefined;
    return {
      monitorId,
      expression: item.expression,
      timezone: item.timezone,
      enabled: item.enabled !== false,
      ...(typeof item.phaseMinute === "number" ? { phaseMinute: item.phaseMinute } : {}),
    };
  }

  async remove(monitorId: string): Promise<void> {
    await this.#doc.send(
      new DeleteCommand({ TableName: this.#table, Key: { monitorId, record: SCHEDULE_RECORD } }),
    );
  }

  /** Every monitor with a member item. A full scan: for reconcile, not for the tick path. */
  async list(): Promise<string[]> {
    return (await this.storedMembers()).map((member) => member.monitorId).sort();
  }

  /** Every member item, as the definition it stores. A full scan: for reconcile only. */
  async storedMembers(): Promise<ScheduleDefinition[]> {
    const members: ScheduleDefinition[] = [];
    const pages = paginateScan(
      { client: this.#doc },
      {
        TableName: this.#table,
        FilterExpression: "#record = :schedule",
        ProjectionExpression: "monitorId, #expression, #timezone, enabled, phaseMinute",
        ExpressionAttributeNames: {
          "#record": "record",
          "#expression": "expression",
          "#timezone": "timezone",
        },
        ExpressionAttributeValues: { ":schedule": SCHEDULE_RECORD },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        if (typeof item.monitorId !== "string" || typeof item.expression !== "string") continue;
        members.push({
          monitorId: item.monitorId,
          expression: item.expression,
          timezone: typeof item.timezone === "string" ? item.timezone : "UTC",
          enabled: item.enabled !== false,
          ...(typeof item.phaseMinute === "number" ? { phaseMinute: item.phaseMinute } : {}),
        });
      }
    }
    return members;
  }

  async headers(): Promise<BucketHeader[]> {
    return (await this.storedHeaders()).map(({ touchedAt: _, ...header }) => header as BucketHeader);
  }

  /** Headers with their `touchedAt`, for the empty-bucket sweep. */
  async storedHeaders(): Promise<Array<BucketHeader & { touchedAt?: string }>> {
    const headers: Array<BucketHeader & { touchedAt?: string }> = [];
    const pages = paginateQuery(
      { client: this.#doc },
      {
        TableName: this.#table,
        KeyConditionExpression: "monitorId = :buckets",
        ExpressionAttributeValues: { ":buckets": BUCKETS_PARTITION },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const header = parseHeaderItem(item);
        if (header) headers.push(header);
      }
    }
    return headers;
  }

  async *members(partition: string): AsyncIterable<string[]> {
    const pages = paginateQuery(
      { client: this.#doc },
      {
        TableName: this.#table,
        IndexName: BUCKET_INDEX,
        KeyConditionExpression: "#bucket = :partition",
        ExpressionAttributeNames: { "#bucket": BUCKET_ATTRIBUTE },
        ExpressionAttributeValues: { ":partition": partition },
      },
    );
    for await (const page of pages) {
      const ids = (page.Items ?? []).map((item) => item.monitorId).filter((id) => typeof id === "string");
      if (ids.length > 0) yield ids;
    }
  }

  /**
   * Reconcile's repair, from the member items as they are stored (not from the config items: a
   * monitor whose config became invalid keeps its last good member, and must keep its header):
   * writes the header of every bucket a member is in, and deletes the other headers unless touched
   * within the grace before `startedAt` (a monitor may have joined while reconcile ran). Returns
   * the number of headers deleted.
   */
  async syncHeaders(startedAt: Date): Promise<number> {
    const wanted = new Map<string, BucketHeader>();
    for (const member of await this.storedMembers()) {
      if (!member.enabled) continue;
      try {
        const { header } = placementOf(member, member.phaseMinute);
        wanted.set(header.key, header);
      } catch {
        // A hand-edited member item with an expression nothing accepts: its monitor's config decides.
      }
    }
    const now = this.#now().toISOString();
    for (const header of wanted.values()) {
      await this.#doc.send(new PutCommand({ TableName: this.#table, Item: headerItem(header, now) }));
    }
    let deleted = 0;
    for (const header of await this.storedHeaders()) {
      if (wanted.has(header.key)) continue;
      // As the sweep: a header touched within the grace before reconcile began may have gained a
      // member the scan did not see.
      const cutoff = new Date(startedAt.getTime() - EMPTY_HEADER_GRACE_MS).toISOString();
      if (await this.#deleteHeader(header.key, cutoff)) deleted++;
    }
    return deleted;
  }

  /**
   * Deletes a header found empty, unless a member joined since `seenAt - grace`: joining refreshes
   * `touchedAt` unless it is fresher than HEADER_REFRESH_MS, and the grace covers that and the index's propagation
   * delay, so a header is never deleted under a member the index did not show yet.
   */
  async forgetEmpty(header: BucketHeader, seenAt: Date): Promise<boolean> {
    return this.#deleteHeader(header.key, new Date(seenAt.getTime() - EMPTY_HEADER_GRACE_MS).toISOString());
  }

  async #deleteHeader(key: string, cutoff: string): Promise<boolean> {
    try {
      await this.#doc.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { monitorId: BUCKETS_PARTITION, record: `${BUCKET_RECORD_PREFIX}${key}` },
          ConditionExpression: "touchedAt < :cutoff",
          ExpressionAttributeValues: { ":cutoff": cutoff },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
