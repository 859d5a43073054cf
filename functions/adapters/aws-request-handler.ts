/** Bounds of one attempt of an AWS SDK call; the SDK's retry strategy decides how many attempts. */
export interface RequestTimeouts {
  /** TCP (and TLS) connection establishment. */
  connectMs: number;
  /** From sending the request to the response headers, and the longest silence of the socket. */
  requestMs: number;
}

/** DynamoDB, SQS, EventBridge Scheduler and the checks' clients. */
export const AWS_REQUEST_TIMEOUTS: RequestTimeouts = { connectMs: 3_000, requestMs: 5_000 };

/** The options of @smithy/node-http-handler's NodeHttpHandler that bound a request. */
export interface BoundedRequestHandlerOptions {
  connectionTimeout: number;
  requestTimeout: number;
  socketTimeout: number;
  throwOnRequestTimeout: true;
}

/**
 * The `requestHandler` of an SDK client whose calls cannot hang. In @smithy/node-http-handler 4.x a
 * `requestTimeout` on its own only logs a warning ("Init client requestHandler with
 * throwOnRequestTimeout=true to turn this into an error"): a peer that accepts the connection and
 * never answers would hold the call, and the whole batch, until the Lambda timeout. With
 * `throwOnRequestTimeout` the attempt fails with a `TimeoutError` (which the SDK retries like any
 * transient error). `requestTimeout` stops counting at the response headers; `socketTimeout` (an
 * inactivity timeout) also covers a response body that stalls after them.
 */
export function boundedRequestHandler(
  timeouts: RequestTimeouts = AWS_REQUEST_TIMEOUTS,
): BoundedRequestHandlerOptions {
  return {
    connectionTimeout: timeouts.connectMs,
    requestTimeout: timeouts.requestMs,
    socketTimeout: timeouts.requestMs,
    throwOnRequestTimeout: true,
  };
}
