import * as z from "zod/mini";
import { RESERVED_ID_PREFIX } from "./schemas.ts";

/**
 * The dead-man's switch (issue "Engine v2"): one extra schedule in the monitors' schedule group
 * sends a heartbeat tick through the same path as every monitor (Scheduler → ticks FIFO queue →
 * orchestrator), whether or not any monitor exists. The orchestrator only counts it; an alarm
 * fires when the count stops.
 */

/**
 * Name of the heartbeat schedule, its FIFO message group and the `monitorId` of its ticks.
 * Scheduler names allow exactly the monitor id alphabet, so no character could set it apart: it
 * carries the reserved prefix instead, which MonitorIdSchema refuses, so no monitor can take it.
 */
export const HEARTBEAT_ID = `${RESERVED_ID_PREFIX}watchkeeper-heartbeat`;

/** The heartbeat schedule's period; the alarm allows three of them to pass in silence. */
export const HEARTBEAT_PERIOD_MINUTES = 5;

/** `rate(...)` expression of the heartbeat schedule. */
export const HEARTBEAT_SCHEDULE_EXPRESSION = `rate(${HEARTBEAT_PERIOD_MINUTES} minutes)`;

export const HEARTBEAT_REASON = "heartbeat";

/**
 * The heartbeat tick body, shaped like DESIGN.md §3's tick; `scheduledTime` is the placeholder
 * Scheduler substitutes, or a rendered instant (local runtime, tests).
 */
export function heartbeatTickBody(scheduledTime = "<aws.scheduler.scheduled-time>"): string {
  return JSON.stringify({ monitorId: HEARTBEAT_ID, scheduledTime, reason: HEARTBEAT_REASON });
}

/**
 * Recognised by id and reason alone: a heartbeat is acknowledged whatever else it carries, so it
 * can never be rejected to the ticks DLQ (its only job is to be counted).
 */
const HeartbeatTickSchema = z.object({
  monitorId: z.literal(HEARTBEAT_ID),
  reason: z.literal(HEARTBEAT_REASON),
  scheduledTime: z.optional(z.string()),
});
export type HeartbeatTick = z.infer<typeof HeartbeatTickSchema>;

/** The heartbeat in an SQS body, or undefined for anything else (monitor ticks, malformed bodies). */
export function parseHeartbeat(body: string): HeartbeatTick | undefined {
  // Cheap pre-check: every monitor tick is parsed again by the tick use case.
  if (!body.includes(HEARTBEAT_ID)) return undefined;
  try {
    const parsed = HeartbeatTickSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
