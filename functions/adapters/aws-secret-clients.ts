import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import type { SecretApis } from "#adapters/aws-secret-source.ts";

/**
 * The SDK clients behind AwsSecretSource, loaded on the first secret read only: most monitors
 * reference no secret, and the two clients would otherwise be evaluated at every cold start of the
 * orchestrator (bundled, esbuild evaluates a dynamically imported module lazily). AwsSecretSource
 * asks for one API object per region and keeps it.
 */
export const awsSecretApis: SecretApis = {
  secretsManager(region) {
    let client: SecretsManagerClient | undefined;
    return {
      async getSecretValue(input) {
        const sdk = await import("@aws-sdk/client-secrets-manager");
        client ??= new sdk.SecretsManagerClient({ region, requestHandler: boundedRequestHandler() });
        return client.send(new sdk.GetSecretValueCommand(input));
      },
    };
  },
  ssm(region) {
    let client: SSMClient | undefined;
    return {
      async getParameter(input) {
        const sdk = await import("@aws-sdk/client-ssm");
        client ??= new sdk.SSMClient({ region, requestHandler: boundedRequestHandler() });
        return client.send(new sdk.GetParameterCommand(input));
      },
    };
  },
};
