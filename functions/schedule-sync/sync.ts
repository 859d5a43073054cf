import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { type DirectoryAction, decideDirectoryAction, type MonitorDirectoryPort } from "#core/directory.ts";
import type { Logger, Notifier, SchedulerPort, ScheduleStatusPort } from "#core/ports.ts";
import { silentLogger } from "#core/ports.ts";
import { renderScheduleProblem } from "#core/render-schedule-problem.ts";
import {
  decideScheduleAction,
  type ScheduleAction,
  type ScheduleProblemOwners,
  type ScheduleProblemStatus,
} from "#core/schedule-sync.ts";
import { toConfigChange } from "./stream-record.ts";

/** Counters schedule-sync emits; the stack alarms on `InvalidSchedules`. */
export type ScheduleSyncMetric =
  | "SchedulesUpserted"
  | "SchedulesRemoved"
  | "InvalidSchedules"
  | "ScheduleProblemsNotified"
  | "ScheduleProblemNotificationFailures"
  | "ScheduleSyncFailures"
  | "MalformedStreamRecords"
  | "DirectoryEntriesWritten"
  | "DirectoryEntriesRemoved";

export interface ScheduleSyncMetrics {
  count(metric: ScheduleSyncMetric, value?: number): void;
}

export interface ScheduleSyncDependencies {
  scheduler: SchedulerPort;
  /**
   * The monitor directory the dashboard's overview reads (functions/core/directory.ts): an entry
   * per config item, valid or not. The Lambda and the local runtime always pass one.
   * @default no directory is kept
   */
  directory?: MonitorDirectoryPort;
  /** A ScheduleProblemStatus lets schedule-sync tell a new problem from a repeated one. */
  status: ScheduleStatusPort | ScheduleProblemStatus;
  /**
   * Mails a monitor's owners once per distinct schedule problem (needs a ScheduleProblemStatus).
   * @default nobody is mailed
   */
  notifier?: Notifier;
  /** @default silentLogger */
  logger?: Logger;
  /** @default no metrics */
  metrics?: ScheduleSyncMetrics;
  /**
   * Timezone of config items that name none.
   * @default CONFIG_DEFAULTS.timezone ("America/Chicago")
   */
  defaultTimezone?: string;
  /**
   * Lowercase domains owners may be mailed in (ALLOWED_RECIPIENT_DOMAINS); others are skipped.
   * @default any domain
   */
  allowedRecipientDomains?: readonly string[];
}

export type ScheduleSyncHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;

const noMetrics: ScheduleSyncMetrics = { count() {} };

function monitorIdOf(action: ScheduleAction): string | undefined {
  if (action.kind === "upsert" || action.kind === "keep") return action.definition.monitorId;
  return action.kind === "ignore" ? undefined : action.monitorId;
}

/**
 * Applies config-item changes from the Monitors table stream to the schedules (issue 3).
 *
 * Records are applied in stream order. A record that fails (Scheduler throttling, a DynamoDB
 * error) is reported in `batchItemFailures` and every later record of the *same* monitor is
 * reported with it unapplied, so that a newer change can never land before an older one that is
 * still pending; other monitors carry on. Lambda resumes the shard from the lowest reported
 * sequence number, and every action is idempotent, so replaying the records after it is harmless.
 */
export function createScheduleSyncHandler(dependencies: ScheduleSyncDependencies): ScheduleSyncHandler {
  const { scheduler, status } = dependencies;
  const logger = dependencies.logger ?? silentLogger;
  const metrics = dependencies.metrics ?? noMetrics;
  const defaults = {
    ...(dependencies.defaultTimezone === undefined ? {} : { defaultTimezone: dependencies.defaultTimezone }),
    ...(dependencies.allowedRecipientDomains
      ? { allowedRecipientDomains: dependencies.allowedRecipientDomains }
      : {}),
  };

  /**
   * Records the problem on the state item and, when it is a new one, tells the owners. At most
   * once: the conditional write that recognises a new error comes first, so a failed send is
   * logged and counted, not retried (a replay finds the error already recorded).
   */
  async function reportProblem(
    monitorId: string,
    reason: string,
    owners?: ScheduleProblemOwners,
    previousSchedule?: boolean,
  ) {
    if (!("recordError" in status)) return status.reportError(monitorId, reason);
    const isNew = await status.recordError(monitorId, reason);
    const notifier = dependencies.notifier;
    if (!isNew || !notifier || !owners || owners.peopleToNotify.length === 0) return;
    try {
      const email = renderScheduleProblem({
        monitorId,
        reason,
        ...owners,
        ...(previousSchedule === undefined ? {} : { previousSchedule }),
      });
      await notifier.send({ to: owners.peopleToNotify, ...email });
      metrics.count("ScheduleProblemsNotified");
      logger.info("owners told the monitor cannot be scheduled", {
        monitorId,
        recipients: owners.peopleToNotify.length,
      });
    } catch (error) {
      metrics.count("ScheduleProblemNotificationFailures");
      logger.error("could not tell the owners the monitor cannot be scheduled", {
        monitorId,
        error: (error as Error).message,
      });
    }
  }

  async function apply(action: ScheduleAction): Promise<void> {
    switch (action.kind) {
      case "upsert":
        try {
          await scheduler.upsert(action.definition);
        } catch (error) {
          // Scheduler's own validation is stricter than ours in corners (zone aliases, cron
          // details): a retry cannot fix the item, so report it like any invalid schedule.
          if ((error as Error).name !== "ValidationException") throw error;
          return apply({
            kind: "invalid",
            monitorId: action.definition.monitorId,
            reason: `EventBridge Scheduler rejected the schedule: ${(error as Error).message}`,
            ...(action.owners ? { owners: action.owners } : {}),
          });
        }
        await status.clearError(action.definition.monitorId);
        metrics.count("SchedulesUpserted");
        logger.info("schedule upserted", { ...action.definition });
        return;
      case "keep":
        logger.debug("schedule-relevant attributes unchanged; schedule left alone", { ...action.definition });
        return;
      case "remove":
        await scheduler.remove(action.monitorId);
        // The state belongs to the deleted config item: a config item created later under the same
        // id must not inherit its incident, counters or pending mail (issue 10). Without that
        // capability, at least drop an error that would describe a config item no longer there.
        if (status.forgetState) await status.forgetState(action.monitorId);
        else await status.clearError(action.monitorId);
        metrics.count("SchedulesRemoved");
        logger.info("schedule removed", { monitorId: action.monitorId });
        return;
      case "invalid":
        // Reported on the state item, never on the config item: writing there would loop the stream.
        await reportProblem(action.monitorId, action.reason, action.owners, action.previousSchedule);
        metrics.count("InvalidSchedules");
        logger.warn(
          action.previousSchedule === true
            ? "monitor cannot be scheduled as edited; its previous schedule is left running"
            : action.previousSchedule === false
              ? "monitor cannot be scheduled: it has no schedule, so its check never runs"
              : "monitor cannot be scheduled; a schedule from an earlier valid config, if any, is left running",
          { monitorId: action.monitorId, reason: action.reason },
        );
        return;
      case "ignore":
        logger.debug("stream record ignored", { reason: action.reason });
        return;
    }
  }

  /** Before the schedule: a monitor Scheduler keeps refusing still shows on the overview. */
  async function applyDirectory(action: DirectoryAction): Promise<void> {
    const directory = dependencies.directory;
    if (!directory || action.kind === "none") return;
    if (action.kind === "ensure") {
      if (await directory.ensure(action.monitorId, action.shard)) {
        metrics.count("DirectoryEntriesWritten");
        logger.debug("directory entry written", { monitorId: action.monitorId, shard: action.shard });
      }
      return;
    }
    await directory.remove(action.monitorId);
    metrics.count("DirectoryEntriesRemoved");
  }

  function decide(
    record: DynamoDBRecord,
  ): { schedule: ScheduleAction; directory: DirectoryAction } | undefined {
    try {
      const change = toConfigChange(record);
      return { schedule: decideScheduleAction(change, defaults), directory: decideDirectoryAction(change) };
    } catch (error) {
      // Retrying cannot repair a record's shape: skip it loudly instead of wedging the shard.
      metrics.count("MalformedStreamRecords");
      logger.error("malformed stream record skipped", {
        eventID: record.eventID,
        error: (error as Error).message,
      });
      return undefined;
    }
  }

  return async (event) => {
    const batchItemFailures: DynamoDBBatchResponse["batchItemFailures"] = [];
    const blockedMonitors = new Set<string>();
    const fail = (record: DynamoDBRecord) => {
      const sequenceNumber = record.dynamodb?.SequenceNumber;
      if (!sequenceNumber) {
        // Without a sequence number Lambda cannot checkpoint: failing the whole batch is the safe retry.
        throw new Error(`stream record ${record.eventID ?? "?"} failed and has no SequenceNumber`);
      }
      batchItemFailures.push({ itemIdentifier: sequenceNumber });
    };

    for (const record of event.Records) {
      const actions = decide(record);
      if (!actions) continue;
      const action = actions.schedule;
      const monitorId =
        monitorIdOf(action) ?? (actions.directory.kind === "none" ? undefined : actions.directory.monitorId);
      if (monitorId !== undefined && blockedMonitors.has(monitorId)) {
        fail(record);
        continue;
      }
      try {
        await applyDirectory(actions.directory);
        await apply(action);
      } catch (error) {
        metrics.count("ScheduleSyncFailures");
        logger.error("schedule sync failed; the record will be retried", {
          monitorId,
          action: action.kind,
          sequenceNumber: record.dynamodb?.SequenceNumber,
          error: (error as Error).message,
          errorName: (error as Error).name,
        });
        if (monitorId !== undefined) blockedMonitors.add(monitorId);
        fail(record);
      }
    }
    return { batchItemFailures };
  };
}
