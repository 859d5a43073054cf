/**
 * Facts the stack (lib/) and the local runtime (local/) must agree on. No CDK import here, so the
 * local runtime can import it without pulling in aws-cdk-lib.
 */

/** The table's TTL attribute: history and notification log items expire through it. */
export const TTL_ATTRIBUTE = "expiresAt";
/** Receives before a tick (or a delivery retry) moves to its DLQ. */
export const MAX_RECEIVE_COUNT = 5;
/** Invocations the delivery-retry queue's event source may run at once (2 is SQS's minimum). */
export const DELIVERY_RETRY_MAX_CONCURRENCY = 2;
