import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, paginateScan } from "@aws-sdk/lib-dynamodb";
import { Command } from "commander";
import { DynamoDbBuckets } from "#adapters/dynamodb-buckets.ts";
import { DynamoDbMonitorDirectory } from "#adapters/monitor-directory.ts";
import { DynamoDbScheduleStatus } from "#adapters/schedule-status.ts";
import { EventBridgeScheduler } from "#adapters/scheduler.ts";
import { type DirectoryPlan, type MonitorDirectoryAdmin, planDirectory } from "#core/directory.ts";
import type { SchedulerPort, ScheduleStatusPort } from "#core/ports.ts";
import { type HeaderRepair, MigratingScheduler } from "#core/schedule-migration.ts";
import {
  planReconcile,
  type ReconcilePlan,
  type ScheduleDefaults,
  type ScheduleReader,
  sameSchedule,
  scheduleDefinitionFor,
} from "#core/schedule-sync.ts";
import { CONFIG_RECORD } from "#core/schemas.ts";

/**
 * One-shot reconcile: makes the schedule group (and the monitor directory, which the dashboard's
 * overview reads) match the Monitors table. For monitors created
 * before the stack existed (the stream only carries later changes), after a stream record was
 * dropped to the sync failure queue, or whenever drift is suspected. Idempotent; safe to rerun.
 *
 *   npx tsx functions/schedule-sync/reconcile.ts --table <name> --group <name> [--dry-run]
 *
 * The stack's `ReconcileCommand` output prints this line with every value filled in.
 */

export interface ReconcileDependencies {
  /**
   * With a ScheduleReader, a schedule that already matches its item is left alone: UpdateSchedule
   * would restart a rate schedule's cadence from now.
   */
  scheduler: SchedulerPort | (SchedulerPort & ScheduleReader);
  status: ScheduleStatusPort;
  /** Every config item of the table (any other record may be yielded too; it is skipped). */
  configItems: () => AsyncIterable<Record<string, unknown>>;
  /**
   * The config item as it is now (consistent read), checked just before each change: the table
   * moves while reconcile runs, and schedule-sync may already have acted on a newer item.
   */
  currentConfig?: (monitorId: string) => Promise<Record<string, unknown> | undefined>;
  log?: (line: string) => void;
  /**
   * The monitor directory (functions/core/directory.ts): entries written for config items without
   * one, orphans deleted, then the reconciled marker written when nothing failed.
   * @default the directory is left alone
   */
  directory?: MonitorDirectoryAdmin;
}

export interface ReconcileReport {
  plan: ReconcilePlan;
  /** Absent when no directory was given. */
  directory?: DirectoryPlan;
  failures: Array<{ monitorId: string; error: string }>;
}

export async function reconcile(
  dependencies: ReconcileDependencies,
  options: ScheduleDefaults & { dryRun?: boolean } = {},
): Promise<ReconcileReport> {
  const log = dependencies.log ?? (() => {});
  const startedAt = new Date();
  // Schedules first, then the table: a schedule listed here existed before the scan began, so a
  // monitor created during the run can only be missed by the list (and then upserted), never
  // taken for an orphan.
  const schedules = await dependencies.scheduler.list();
  const items: Record<string, unknown>[] = [];
  for await (const item of dependencies.configItems()) {
    if (item.record === CONFIG_RECORD) items.push(item);
  }
  const plan = planReconcile(items, schedules, options);
  const existing = new Set(schedules);
  const scheduler = dependencies.scheduler;
  let unchanged = 0;
  const current = dependencies.currentConfig;
  const failures: ReconcileReport["failures"] = [];
  const step = async (monitorId: string, line: string, work: () => Promise<void>) => {
    log(`${options.dryRun ? "[dry run] " : ""}${line}`);
    if (options.dryRun) return;
    try {
      await work();
    } catch (error) {
      failures.push({ monitorId, error: (error as Error).message });
      log(`  failed: ${(error as Error).message}`);
    }
  };
  for (const definition of plan.upserts) {
    const state = definition.enabled ? "enabled" : "disabled";
    await step(
      definition.monitorId,
      `upsert ${definition.monitorId}: ${definition.expression} ${definition.timezone} (${state})`,
      async () => {
        // Build from the item as it is now, so a newer edit is never overwritten by the scanned copy.
        const latest = current ? await current(definition.monitorId) : undefined;
        if (current && !latest) return log(`  skipped: ${definition.monitorId} was deleted meanwhile`);
        const fresh = latest ? scheduleDefinitionFor(definition.monitorId, latest, options) : undefined;
        if (fresh && !fresh.ok)
          return log(`  skipped: ${definition.monitorId} changed meanwhile (${fresh.reason})`);
        const wanted = fresh?.definition ?? definition;
        const now =
          existing.has(wanted.monitorId) && "describe" in scheduler
            ? await scheduler.describe(wanted.monitorId)
            : undefined;
        if (now && sameSchedule(now, wanted)) {
          unchanged++;
          log(`  unchanged: ${wanted.monitorId} already runs ${wanted.expression} ${wanted.timezone}`);
        } else {
          await scheduler.upsert(wanted);
        }
        await dependencies.status.clearError(definition.monitorId);
      },
    );
  }
  for (const { monitorId, reason } of plan.invalid) {
    await step(monitorId, `invalid ${monitorId}: ${reason}`, () =>
      dependencies.status.reportError(monitorId, reason),
    );
  }
  for (const monitorId of plan.removals) {
    await step(monitorId, `remove ${monitorId}: no config item`, async () => {
      if (current && (await current(monitorId))) return log(`  kept: ${monitorId} was created meanwhile`);
      await dependencies.scheduler.remove(monitorId);
    });
  }
  // A header lost or left behind would silence or waste a whole bucket: rebuild them from the
  // members as stored, after the upserts above.
  if (!options.dryRun && "syncHeaders" in scheduler) {
    await step("(bucket headers)", "bucket headers: one per bucket in use", async () => {
      const removed = await (scheduler as HeaderRepair).syncHeaders(startedAt);
      if (removed > 0) log(`  ${removed} unused bucket header(s) removed`);
    });
  }
  if (!options.dryRun && scheduler instanceof MigratingScheduler) {
    await step("(old schedules)", "old per-monitor schedules of migrated monitors", async () => {
      const removed = await scheduler.removeLegacyLeftovers();
      if (removed.length > 0) log(`  removed: ${removed.join(", ")}`);
    });
  }
  const directoryPlan = dependencies.directory
    ? await reconcileDirectory(dependencies.directory, items, { current, step, log, failures, startedAt })
    : undefined;
  log(
    `${plan.upserts.length - unchanged} upserted, ${unchanged} unchanged, ${plan.invalid.length} invalid, ${plan.removals.length} removed, ${failures.length} failed`,
  );
  return { plan, ...(directoryPlan ? { directory: directoryPlan } : {}), failures };
}

/**
 * Every config item (valid or not) gets its directory entry, entries without a config item go, and
 * the marker that lets the dashboard trust the directory is written last, only if all of it worked.
 */
async function reconcileDirectory(
  directory: MonitorDirectoryAdmin,
  items: readonly Record<string, unknown>[],
  context: {
    current: ReconcileDependencies["currentConfig"];
    step: (monitorId: string, line: string, work: () => Promise<void>) => Promise<void>;
    log: (line: string) => void;
    failures: ReconcileReport["failures"];
    startedAt: Date;
  },
): Promise<DirectoryPlan> {
  const { current, step, log, failures } = context;
  const before = failures.length;
  const { entries, reconciled } = await directory.entries();
  const ids = items.map((item) => item.monitorId).filter((id): id is string => typeof id === "string");
  const plan = planDirectory(ids, entries);
  for (const { monitorId, shard } of plan.writes) {
    await step(monitorId, `directory ${monitorId}: entry in shard ${shard}`, async () => {
      if (current && !(await current(monitorId))) return log(`  skipped: ${monitorId} was deleted meanwhile`);
      await directory.ensure(monitorId, shard);
    });
  }
  for (const monitorId of plan.removals) {
    await step(monitorId, `directory ${monitorId}: orphan entry (no config item)`, async () => {
      if (!(await directory.removeOrphan(monitorId))) log(`  kept: ${monitorId} was created meanwhile`);
    });
  }
  if (failures.length === before) {
    await step(
      "(directory)",
      reconciled ? "directory: complete" : "directory: complete, marked reconciled",
      () => directory.markReconciled(context.startedAt),
    );
  } else {
    log("directory: not marked reconciled (a step failed); the dashboard keeps its previous path");
  }
  log(`directory: ${plan.writes.length} written, ${plan.removals.length} orphans removed`);
  return plan;
}

/** Config items of the table, read consistently so that a just-written item is not missed. */
export async function* scanConfigItems(
  doc: DynamoDBDocumentClient,
  tableName: string,
): AsyncIterable<Record<string, unknown>> {
  const pages = paginateScan(
    { client: doc },
    {
      TableName: tableName,
      ConsistentRead: true,
      FilterExpression: "#record = :config",
      ProjectionExpression: "monitorId, #record, #schedule, #timezone, isActive",
      ExpressionAttributeNames: { "#record": "record", "#schedule": "schedule", "#timezone": "timezone" },
      ExpressionAttributeValues: { ":config": CONFIG_RECORD },
    },
  );
  for await (const page of pages) yield* page.Items ?? [];
}

function required(value: string | undefined, flag: string, variable: string): string {
  if (value) return value;
  throw new Error(`${flag} (or ${variable}) is required`);
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = new Command()
    .name("reconcile")
    .description(
      "Bring every monitor's schedule (its bucket member item) in line with the Monitors table; moves monitors still on a per-monitor EventBridge Scheduler schedule (before engine v2) to their bucket.",
    )
    .option("--table <name>", "Monitors table name (env MONITORS_TABLE)", process.env.MONITORS_TABLE)
    .option(
      "--group <name>",
      "schedule group of the per-monitor schedules to migrate (env SCHEDULE_GROUP_NAME)",
      process.env.SCHEDULE_GROUP_NAME,
    )
    .option(
      "--default-timezone <zone>",
      "timezone for items without one (env DEFAULT_TIMEZONE)",
      process.env.DEFAULT_TIMEZONE,
    )
    .option("--dry-run", "print the plan without changing anything", false)
    .parse(argv);
  const options = program.opts<{
    table?: string;
    group?: string;
    defaultTimezone?: string;
    dryRun: boolean;
  }>();
  const tableName = required(options.table, "--table", "MONITORS_TABLE");
  const dynamo = new DynamoDBClient({});
  const doc = DynamoDBDocumentClient.from(dynamo);
  const scheduler = new MigratingScheduler(
    new DynamoDbBuckets({ tableName, client: doc }),
    new EventBridgeScheduler({ groupName: required(options.group, "--group", "SCHEDULE_GROUP_NAME") }),
  );
  try {
    const report = await reconcile(
      {
        scheduler,
        status: new DynamoDbScheduleStatus(tableName, doc),
        configItems: () => scanConfigItems(doc, tableName),
        directory: new DynamoDbMonitorDirectory(tableName, doc),
        currentConfig: async (monitorId) =>
          (
            await doc.send(
              new GetCommand({
                TableName: tableName,
                Key: { monitorId, record: CONFIG_RECORD },
                ConsistentRead: true,
              }),
            )
          ).Item,
        log: (line) => console.log(line),
      },
      {
        dryRun: options.dryRun,
        ...(options.defaultTimezone ? { defaultTimezone: options.defaultTimezone } : {}),
      },
    );
    return report.failures.length === 0 ? 0 : 1;
  } finally {
    dynamo.destroy();
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (invokedDirectly) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: Error) => {
      console.error(`reconcile: ${error.message}`);
      process.exitCode = 1;
    },
  );
}
