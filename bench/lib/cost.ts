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

/** Prices the fleet model adds to the per-tick ones. */
export interface FleetPrices extends Prices {
  sqsStandardRequest: number;
  cloudwatchAlarmMonth: number;
  cloudwatchMetricMonth: number;
  dynamodbPitrGbMonth: number;
}

/**
 * Engine v2's cost of one monitor-month in a fleet of `monitors`: the per-tick work (measured),
 * the fan-out's share (measured per member), batches as full as a fleet that size fills them, the
 * fixed costs of the stack spread over the fleet (the clock and heartbeat schedules, the fan-out's
 * minute invocations, idle long polls, alarms, custom metrics), X-Ray's sampling (reservoir + 5%)
 * and point-in-time recovery of the table.
 */
export interface FleetCostInputs {
  monitors: number;
  cadenceMinutes: number;
  memoryMb: number;
  /** The orchestrator's per-tick profile, averaged over a heartbeat cycle (write on change). */
  steady: TickProfile;
  perEmail: TickProfile;
  emailsPerMonth: number;
  /** Ticks per invocation at this fleet size (the event source mapping's batches). */
  ticksPerInvocation: number;
  /** SQS requests per orchestrator invocation: receive + delete + early delete. */
  sqsRequestsPerInvocation: number;
  platformLogBytesPerInvocation: number;
  /** Fan-out: Lambda ms per member enqueued (measured), and its index read units per member. */
  fanOutMsPerMember: number;
  fanOutReadUnitsPerMember: number;
  fanOutMemoryMb: number;
  /** Stored bytes per monitor: config, state, schedule member and history items (PITR + storage). */
  storedBytesPerMonitor: number;
  alarms: number;
  customMetrics: number;
  /** Idle long polls: pollers per SQS event source, each 3 ReceiveMessage a minute (20 s waits). */
  idlePollersPerQueue: number;
  tracing: boolean;
}

const MINUTES_PER_MONTH = HOURS_PER_MONTH * 60;

/** Traces recorded a second under the default sampling rule: 1 a second, then 5% of the rest. */
export function tracesPerSecond(requestsPerSecond: number): number {
  return Math.min(requestsPerSecond, 1) + 0.05 * Math.max(0, requestsPerSecond - 1);
}

export function fleetCostPerMonitorMonth(inputs: FleetCostInputs, prices: FleetPrices) {
  const n = inputs.monitors;
  const ticks = (MINUTES_PER_MONTH / inputs.cadenceMinutes) * n;
  const invocations = ticks / inputs.ticksPerInvocation;
  const emails = inputs.emailsPerMonth * n;
  const gb = inputs.memoryMb / 1024;
  const lambdaSeconds = (ticks * inputs.steady.lambdaMs + emails * inputs.perEmail.lambdaMs) / 1000;
  const fanOutSeconds = (ticks * inputs.fanOutMsPerMember) / 1000 + MINUTES_PER_MONTH * 0.05;
  const logGb =
    (ticks * inputs.steady.logBytes +
      emails * inputs.perEmail.logBytes +
      (invocations + MINUTES_PER_MONTH) * inputs.platformLogBytesPerInvocation) /
    1024 ** 3;
  const storedGb = (n * inputs.storedBytesPerMonitor) / 1024 ** 3;
  const secondsPerMonth = MINUTES_PER_MONTH * 60;
  const traced = inputs.tracing
    ? tracesPerSecond(invocations / secondsPerMonth) * secondsPerMonth + MINUTES_PER_MONTH
    : 0;
  const idlePolls = 2 * inputs.idlePollersPerQueue * 3 * MINUTES_PER_MONTH;
  const breakdown = {
    // One clock invocation a minute and one heartbeat every 5, whatever the fleet.
    scheduler: (MINUTES_PER_MONTH + MINUTES_PER_MONTH / 5) * prices.schedulerInvocation,
    sqs:
      (ticks / 10 + invocations * inputs.sqsRequestsPerInvocation) * prices.sqsFifoRequest +
      idlePolls * prices.sqsStandardRequest,
    lambda:
      (invocations + MINUTES_PER_MONTH) * prices.lambdaRequest +
      (lambdaSeconds * gb + fanOutSeconds * (inputs.fanOutMemoryMb / 1024)) * prices.lambdaArmGbSecond,
    dynamodb:
      (ticks * (inputs.steady.readUnits + inputs.fanOutReadUnitsPerMember) +
        emails * inputs.perEmail.readUnits +
        // The fan-out's header query and the empty partitions of the minute (8 shards, 0.5 RRU each).
        MINUTES_PER_MONTH * 9 * 0.5) *
        prices.dynamodbReadRequestUnit +
      (ticks * inputs.steady.writeUnits + emails * inputs.perEmail.writeUnits) *
        prices.dynamodbWriteRequestUnit,
    dynamodbStorage: storedGb * (prices.dynamodbStorageGbMonth + prices.dynamodbPitrGbMonth),
    ses: emails * prices.sesEmail,
    logs: logGb * prices.cloudwatchLogsIngestionGb,
    xray: traced * prices.xrayTraceRecorded,
    alarmsAndMetrics:
      inputs.alarms * prices.cloudwatchAlarmMonth + inputs.customMetrics * prices.cloudwatchMetricMonth,
  };
  const total = Object.values(breakdown).reduce((sum, value) => sum + value, 0);
  return {
    perMonitorUsd: sig(total / n, 3),
    fleetUsd: sig(total, 4),
    breakdownPerMonitor: Object.fromEntries(
      Object.entries(breakdown).map(([key, value]) => [key, sig(value / n, 3)]),
    ) as Record<keyof typeof breakdown, number>,
  };
}
