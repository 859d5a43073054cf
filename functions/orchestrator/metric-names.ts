/**
 * Metric names the orchestrator emits that something else depends on: the stack's alarms read
 * them, so both sides import them from here.
 */
export const ORCHESTRATOR_METRICS_SERVICE = "orchestrator";
export const NOTIFICATION_DELIVERY_FAILED = "NotificationDeliveryFailed";
