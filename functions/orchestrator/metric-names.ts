/**
 * Metric names the orchestrator emits that something else depends on: the stack's alarms read
 * them, so both sides import them from here.
 */
export const ORCHESTRATOR_METRICS_SERVICE = "orchestrator";
export const NOTIFICATION_DELIVERY_FAILED = "NotificationDeliveryFailed";
/**
 * A notification that will never be sent to an email recipient: refused by SES, its retry budget
 * ran out, or too many were waiting. Counted per recipient.
 */
export const NOTIFICATION_ABANDONED = "NotificationAbandoned";
/**
 * A notification that will never be sent to a channel (issue 15): refused (404/410 webhook gone,
 * 400 payload), budget spent, an unknown channel name or a channel item that does not parse.
 * Counted per channel; `ChannelDeliveryAbandoned_<kind>` says which kind.
 */
export const CHANNEL_DELIVERY_ABANDONED = "ChannelDeliveryAbandoned";
/** A monitor's config problems appeared or changed (emitted once per change, not per tick). */
export const CONFIG_PROBLEMS_FOUND = "ConfigProblemsFound";
/** One per heartbeat tick processed (functions/core/heartbeat.ts): the dead-man's switch alarm counts them. */
export const HEARTBEAT = "Heartbeat";
/** A target deliberately not sent (a REMINDER acknowledged since, an inactive channel). */
export const NOTIFICATION_DROPPED = "NotificationDropped";
