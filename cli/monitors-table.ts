import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { MonitorsTable as SharedMonitorsTable } from "#adapters/monitors-table.ts";
import { UnknownMonitorError } from "./errors.ts";

/** The Monitors table as the CLI uses it (shared with the dashboard: functions/adapters/monitors-table.ts). */
export {
  ConcurrentChangeError,
  type Item,
  NOTIFICATION_PREFIX,
  plainItem,
  RUN_PREFIX,
  withoutKeys,
} from "#adapters/monitors-table.ts";

/** A missing monitor is the CLI's UnknownMonitorError (it says how to list them). */
export class MonitorsTable extends SharedMonitorsTable {
  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    super(doc, tableName, (monitorId) => new UnknownMonitorError(monitorId));
  }
}
