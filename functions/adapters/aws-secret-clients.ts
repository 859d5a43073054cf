import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import type { SecretApis } from "#adapters/aws-secret-source.ts";

/** How the clients are made: the orchestrator's defaults, or the CLI's (its credentials, --local). */
export interface SecretClientOptions {
  /** Client configuration (credentials, endpoint overrides); the region is set per client. */
  clientConfig?: Record<string, unknown>;
  /** Secrets Manager only (the local runtime's stand-in). */
  secretsManagerEndpoint?: string | undefined;
  /** Called with each client made, so that its owner can destroy it. */
  onClient?: (client: { destroy(): void }) => void;
}

/**
 * The SDK clients behind AwsSecretSource, loaded on the first secret read only: most monitors
 * reference no secret, and the two clients would otherwise be evaluated at every cold start of the
 * orchestrator (bundled, esbuild evaluates a dynamically imported module lazily). AwsSecretSource
 * asks for one API object per region and keeps it.
 */
export function createAwsSecretApis(options: SecretClientOptions = {}): SecretApis {
  const config = options.clientConfig ?? { requestHandler: boundedRequestHandler() };
  const made = <T extends { destroy(): void }>(client: T): T => {
    options.onClient?.(client);
    return client;
  };
  return {
    secretsManager(region) {
      let client: SecretsManagerClient | undefined;
      const endpoint = options.secretsManagerEndpoint;
      return {
        async getSecretValue(input) {
          const sdk = await import("@aws-sdk/client-secrets-manager");
          client ??= made(
            new sdk.SecretsManagerClient({ ...config, region, ...(endpoint ? { endpoint } : {}) }),
          );
          return client.send(new sdk.GetSecretValueCommand(input));
        },
      };
    },
    ssm(region) {
      let client: SSMClient | undefined;
      return {
        async getParameter(input) {
          const sdk = await import("@aws-sdk/client-ssm");
          client ??= made(new sdk.SSMClient({ ...config, region }));
          return client.send(new sdk.GetParameterCommand(input));
        },
      };
    },
  };
}

/** The orchestrator's: bounded requests, the function's own credentials. */
export const awsSecretApis: SecretApis = createAwsSecretApis();
