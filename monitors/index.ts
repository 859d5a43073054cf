import { cloudWatchAlarmCheck } from "./cloudwatch-alarm.ts";
import { cloudWatchMetricCheck } from "./cloudwatch-metric.ts";
import { dynamodbFreshnessCheck } from "./dynamodb-freshness.ts";
import { httpCheck } from "./http.ts";
import { lambdaCheck } from "./lambda.ts";
import { manualCheck } from "./manual.ts";
import { sqsQueueEmptyCheck } from "./sqs-queue-empty.ts";
import type { CheckDefinition } from "./types.ts";

export type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * The explicit registry: config items name a check in `check`, and this map is the only place
 * that name is resolved. Adding a check means importing it here; nothing registers itself.
 */
export const checks: ReadonlyMap<string, CheckDefinition> = new Map(
  [
    manualCheck,
    httpCheck,
    sqsQueueEmptyCheck,
    dynamodbFreshnessCheck,
    cloudWatchAlarmCheck,
    cloudWatchMetricCheck,
    lambdaCheck,
  ].map((check) => [check.name, check]),
);

/** The check a config item names, or undefined (the orchestrator reports an unknown check). */
export function findCheck(name: string): CheckDefinition | undefined {
  return checks.get(name);
}
