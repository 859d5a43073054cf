import { sig } from "./stats.ts";

/**
 * Cost of one monitor for a month, from the measured requests, capacity, handler time and log
 * bytes of a tick, times list prices (bench/prices.json). Per-monitor marginal cost: free tiers
 * and fixed costs (idle long polls, alarms, custom metrics, schedule-sync) are left out.
 */

export interface Prices {
  schedulerInvocation: number;
  sqsFifoRequest: number;
  lambdaRequest: number;
  lambdaArmGbSecond: number;
  dynamodbWriteRequestUnit: number;
  dynamodbReadRequestUnit: number;
  dynamodbStorageGbMonth: number;
  sesEmail: number;
  cloudwatchLogsIngestionGb: number;
  xrayTraceRecorded: number;
}

export interface TickProfile {
  readUnits: number;
  writeUnits: number;
  /** Billed Lambda milliseconds for the tick. */
  lambdaMs: number;
  logBytes: number;
}

export interface CostInputs {
  cadenceMinutes: number;
  memoryMb: number;
  /** Ticks per Lambda invocation (the event source mapping's batch size when ticks queue up). */
  ticksPerInvocation: number;
  steady: TickProfile;
  /** Extra over a steady tick, per email sent (mean of the alerting and the recovering tick). */
  perEmail: TickProfile;
  emailsPerMonth: number;
  /** SQS requests per tick besides the scheduler's SendMessage: receive + delete per invocation. */
  sqsRequestsPerInvocation: number;
  /** Lambda's START/REPORT platform records per invocation (JSON log format). */
  platformLogBytesPerInvocation: number;
  tracing: boolean;
  /** Share of invocations X-Ray records at the default sampling rule (1/s reservoir + 5%). */
  xraySampledShare: number;
  historyItemBytes: number;
  historyRetentionDays: number;
}

export const HOURS_PER_MONTH = 730;

export function costPerMonitorMonth(inputs: CostInputs, prices: Prices) {
  const ticks = (HOURS_PER_MONTH * 60) / inputs.cadenceMinutes;
  const invocations = ticks / inputs.ticksPerInvocation;
  const emails = inputs.emailsPerMonth;
  const gb = inputs.memoryMb / 1024;
  const lambdaSeconds = (ticks * inputs.steady.lambdaMs + emails * inputs.perEmail.lambdaMs) / 1000;
  const storedItems = ticks * Math.min(1, inputs.historyRetentionDays / (HOURS_PER_MONTH / 24));
  // DynamoDB adds 100 bytes of overhead per item to its storage size.
  const storageGb = (storedItems * (inputs.historyItemBytes + 100)) / 1024 ** 3;
  const logGb =
    (ticks * inputs.steady.logBytes +
      emails * inputs.perEmail.logBytes +
      invocations * inputs.platformLogBytesPerInvocation) /
    1024 ** 3;
  const breakdown = {
    scheduler: ticks * prices.schedulerInvocation,
    sqs: (ticks + invocations * inputs.sqsRequestsPerInvocation) * prices.sqsFifoRequest,
    lambda: invocations * prices.lambdaRequest + lambdaSeconds * gb * prices.lambdaArmGbSecond,
    dynamodb:
      (ticks * inputs.steady.readUnits + emails * inputs.perEmail.readUnits) *
        prices.dynamodbReadRequestUnit +
      (ticks * inputs.steady.writeUnits + emails * inputs.perEmail.writeUnits) *
        prices.dynamodbWriteRequestUnit,
    dynamodbStorage: storageGb * prices.dynamodbStorageGbMonth,
    ses: emails * prices.sesEmail,
    logs: logGb * prices.cloudwatchLogsIngestionGb,
    xray: inputs.tracing ? invocations * inputs.xraySampledShare * prices.xrayTraceRecorded : 0,
  };
  const total = Object.values(breakdown).reduce((sum, value) => sum + value, 0);
  return {
    totalUsd: sig(total, 4),
    breakdown: Object.fromEntries(
      Object.entries(breakdown).map(([key, value]) => [key, sig(value, 3)]),
    ) as Record<keyof typeof breakdown, number>,
    volumes: {
      ticks,
      invocations,
      sqsRequests: ticks + invocations * inputs.sqsRequestsPerInvocation,
      lambdaGbSeconds: sig(lambdaSeconds * gb, 4),
      readUnits: ticks * inputs.steady.readUnits + emails * inputs.perEmail.readUnits,
      writeUnits: ticks * inputs.steady.writeUnits + emails * inputs.perEmail.writeUnits,
      logMb: sig(logGb * 1024, 4),
      emails,
    },
  };
}
