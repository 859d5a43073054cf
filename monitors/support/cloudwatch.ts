import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { checkClientConfig, lazyImport, regionalClients } from "./clients.ts";

/**
 * The CloudWatch SDK of the `cloudwatch-alarm` and `cloudwatch-metric` checks, loaded on their
 * first run only: a fleet of http monitors never parses it at cold start (the bundle keeps a
 * dynamically imported package out of the orchestrator's init).
 */
export type CloudWatchSdk = typeof import("@aws-sdk/client-cloudwatch");

export const loadCloudWatchSdk = lazyImport(
  (): Promise<CloudWatchSdk> => import("@aws-sdk/client-cloudwatch"),
);

/** A client for a region (undefined: the SDK's), or a promise of one. */
export type CloudWatchClientFor = (
  region: string | undefined,
) => CloudWatchClient | Promise<CloudWatchClient>;

let clients: ((region: string | undefined) => CloudWatchClient) | undefined;

/** The default: one client per region, created on first use, with bounded requests. */
export const defaultCloudWatchClientFor: CloudWatchClientFor = async (region) => {
  const { CloudWatchClient } = await loadCloudWatchSdk();
  clients ??= regionalClients((each) => new CloudWatchClient(checkClientConfig(each)));
  return clients(region);
};

/** Errors that mean "this role may not do that": the message then says which setting grants it. */
export function isAccessDenied(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return (
    name === "AccessDenied" ||
    name === "AccessDeniedException" ||
    name === "UnauthorizedOperation" ||
    name === "AuthorizationError"
  );
}
