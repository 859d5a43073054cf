import { type DynamoDBDocumentClient, paginateScan } from "@aws-sdk/lib-dynamodb";
import { nextTickOf, SCHEDULE_RECORD } from "#core/buckets.ts";
import type { ScheduleView } from "./scheduler.ts";

/**
 * What the dashboard and the tests see of the monitors' schedules in the local runtime: the member
 * items schedule-sync wrote (functions/adapters/dynamodb-buckets.ts), with the next tick the
 * fan-out will send. Read from the table, as the fan-out reads it.
 */
export class LocalBucketSchedules {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async schedules(now: Date = new Date()): Promise<ScheduleView[]> {
    const views: ScheduleView[] = [];
    const pages = paginateScan(
      { client: this.doc },
      {
        TableName: this.tableName,
        ConsistentRead: true,
        FilterExpression: "#record = :schedule",
        ExpressionAttributeNames: { "#record": "record" },
        ExpressionAttributeValues: { ":schedule": SCHEDULE_RECORD },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        if (typeof item.monitorId !== "string" || typeof item.expression !== "string") continue;
        const definition = {
          monitorId: item.monitorId,
          expression: item.expression,
          timezone: typeof item.timezone === "string" ? item.timezone : "UTC",
          enabled: item.enabled !== false,
          ...(typeof item.phaseMinute === "number" ? { phaseMinute: item.phaseMinute } : {}),
        };
        let nextRun: Date | null = null;
        try {
          nextRun = nextTickOf(definition, now);
        } catch {
          // Only schedule-sync writes these items, from valid expressions; a hand-edited one shows "never".
        }
        views.push({ ...definition, nextRun, lastTick: null });
      }
    }
    return views.sort((a, b) => a.monitorId.localeCompare(b.monitorId));
  }

  async get(monitorId: string, now: Date = new Date()): Promise<ScheduleView | undefined> {
    return (await this.schedules(now)).find((view) => view.monitorId === monitorId);
  }
}
