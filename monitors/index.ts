import { cloudWatchAlarmCheck } from "./cloudwatch-alarm.ts";
import { cloudWatchMetricCheck } from "./cloudwatch-metric.ts";
import { dnsCheck } from "./dns.ts";
import { dynamodbFreshnessCheck } from "./dynamodb-freshness.ts";
import { httpCheck } from "./http.ts";
import { lambdaCheck } from "./lambda.ts";
import { manualCheck } from "./manual.ts";
import { s3ObjectFreshnessCheck } from "./s3-object-freshness.ts";
import { sqlCheck } from "./sql.ts";
import { sqsQueueEmptyCheck } from "./sqs-queue-empty.ts";
import { stepFunctionsCheck } from "./step-functions.ts";
import { tcpCheck } from "./tcp.ts";
import { tlsCertificateCheck } from "./tls-certificate.ts";
import type { CheckDefinition } from "./types.ts";

export type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * The explicit registry: config items name a check in `check`, and this map is where tools, tests
 * and the local runtime resolve that name. Adding a check means importing it here and naming it in
 * monitors/lazy-registry.ts, the deployed orchestrator's registry, which loads each check on first
 * use (a test keeps the two in step); nothing registers itself.
 */
export const checks: ReadonlyMap<string, CheckDefinition> = new Map(
  [
    manualCheck,
    httpCheck,
    sqsQueueEmptyCheck,
    dynamodbFreshnessCheck,
    cloudWatchAlarmCheck,
    cloudWatchMetricCheck,
    dnsCheck,
    lambdaCheck,
    s3ObjectFreshnessCheck,
    sqlCheck,
    stepFunctionsCheck,
    tcpCheck,
    tlsCertificateCheck,
  ].map((check) => [check.name, check]),
);

/** The check a config item names, or undefined (the orchestrator reports an unknown check). */
export function findCheck(name: string): CheckDefinition | undefined {
  return checks.get(name);
}
