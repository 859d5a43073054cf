import {
  AWS_REQUEST_TIMEOUTS,
  boundedRequestHandler,
  type RequestTimeouts,
} from "#adapters/aws-request-handler.ts";

/**
 * Lazily created SDK clients, one per region, reused across ticks of a warm Lambda (a client owns
 * a connection pool and credential cache; building one per tick would waste both). Regions are a
 * small closed set, so the cache needs no eviction. Without an explicit region the SDK's standard
 * resolution applies (AWS_REGION, AWS_ENDPOINT_URL_<SERVICE>, ...), so the same code runs against
 * AWS and against local servers.
 */
export function regionalClients<Client>(create: (region: string | undefined) => Client) {
  const cache = new Map<string, Client>();
  return (region: string | undefined): Client => {
    const key = region ?? "";
    let client = cache.get(key);
    if (!client) {
      client = create(region);
      cache.set(key, client);
    }
    return client;
  };
}

/** AWS region names such as `us-east-1`, `eu-central-2`, `us-gov-west-1`. */
export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/**
 * The configuration of a check's SDK client: the SDK's defaults for a region (undefined: the
 * standard resolution), with bounded requests. `ctx.signal` bounds the whole check; this bounds
 * each attempt, so that a peer that never answers costs a retry, not the check's whole timeout.
 */
export function checkClientConfig(
  region: string | undefined,
  timeouts: RequestTimeouts = AWS_REQUEST_TIMEOUTS,
) {
  return { ...(region ? { region } : {}), requestHandler: boundedRequestHandler(timeouts) };
}

/**
 * A module loaded on first use and kept: checks load their SDK client this way, so that a fleet of
 * http monitors never parses those packages (functions/adapters/lazy-import.ts).
 */
export { lazyImport } from "#adapters/lazy-import.ts";
