/**
 * Metric names the orchestrator emits that something else depends on: the stack's alarms read
 * them, so both sides import them from here.
 */
export const ORCHESTRATOR_METRICS_SERVICE = "orchestrator";
export const NOTIFICATION_DELIVERY_FAILED = "NotificationDeliveryFailed";
/** A notification that will never be sent: refused by SES, or its retry budget ran out. */
export const NOTIFICATION_ABANDONED = "NotificationAbandoned";
/** A monitor's config problems appeared or changed (emitted once per change, not per tick). */
export const CONFIG_PROBLEMS_FOUND = "ConfigProblemsFound";
/** One per heartbeat tick processed (functions/core/heartbeat.ts): the dead-man's switch alarm counts them. */
export const HEARTBEAT = "Heartbeat";
