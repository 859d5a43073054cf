import type { SecretLocation, SecretSource } from "#core/ports.ts";
import { SecretUnreadableError } from "#core/ports.ts";

/**
 * SecretSource over Secrets Manager (GetSecretValue) and Systems Manager Parameter Store
 * (GetParameter, WithDecryption). Each lookup goes to the region named in the ARN. The two APIs
 * are taken as the small shapes below, which the SDK's clients satisfy:
 *
 *   secretsManager: (region) => {
 *     const client = new SecretsManagerClient({ region, requestHandler });
 *     return { getSecretValue: (input) => client.send(new GetSecretValueCommand(input)) };
 *   }
 *
 * and the same with SSMClient / GetParameterCommand.
 */

export interface SecretsManagerApi {
  getSecretValue(input: {
    SecretId: string;
  }): Promise<{ SecretString?: string | undefined; SecretBinary?: Uint8Array | undefined }>;
}

export interface SsmApi {
  getParameter(input: {
    Name: string;
    WithDecryption: boolean;
  }): Promise<{ Parameter?: { Value?: string | undefined; Type?: string | undefined } | undefined }>;
}

export interface SecretApis {
  secretsManager(region: string): SecretsManagerApi;
  ssm(region: string): SsmApi;
}

const GRANT_HINT = "list its ARN in the stack setting checkSecretArns (docs/deploy.md)";
const KMS_HINT =
  "the orchestrator cannot decrypt it: a customer managed KMS key must be listed in the stack setting checkSecretKmsKeyArns (and its key policy must allow the account's IAM policies)";

/** Why a lookup failed, in words, from the SDK error's name; never the value, never a stack. */
export function describeSecretError(error: unknown, location: SecretLocation): string {
  const name = typeof error === "object" && error !== null ? String((error as { name?: unknown }).name) : "";
  const message =
    typeof error === "object" && error !== null ? String((error as { message?: unknown }).message ?? "") : "";
  const what = location.service === "ssm" ? "parameter" : "secret";
  if (/kms/i.test(name) || /kms:/i.test(message) || name === "DecryptionFailure" || name === "InvalidKeyId") {
    return KMS_HINT;
  }
  switch (name) {
    case "ResourceNotFoundException":
    case "ParameterNotFound":
    case "ParameterVersionNotFound":
      return `no such ${what} in ${location.region} (check the ARN, including the secret's six-character suffix)`;
    case "AccessDeniedException":
    case "AccessDenied":
    case "UnauthorizedOperation":
      return `access denied: the orchestrator may read only the secrets granted to it; ${GRANT_HINT}`;
    case "InvalidRequestException":
      return `Secrets Manager refused the request (is the secret scheduled for deletion?): ${message.slice(0, 300)}`;
    case "ThrottlingException":
    case "ThrottledException":
    case "TooManyRequestsException":
      return `${location.service === "ssm" ? "Parameter Store" : "Secrets Manager"} throttled the request; the next tick tries again`;
    default:
      return `${name || "error"}${message ? `: ${message.slice(0, 300)}` : ""}`;
  }
}

export class AwsSecretSource implements SecretSource {
  readonly #secretsManager = new Map<string, SecretsManagerApi>();
  readonly #ssm = new Map<string, SsmApi>();

  constructor(private readonly apis: SecretApis) {}

  #client<T>(cache: Map<string, T>, region: string, create: (region: string) => T): T {
    let client = cache.get(region);
    if (!client) {
      client = create(region);
      cache.set(region, client);
    }
    return client;
  }

  async read(location: SecretLocation): Promise<string> {
    let value: string | undefined;
    try {
      if (location.service === "secretsmanager") {
        const api = this.#client(this.#secretsManager, location.region, (region) =>
          this.apis.secretsManager(region),
        );
        const output = await api.getSecretValue({ SecretId: location.arn });
        if (output.SecretString === undefined && output.SecretBinary !== undefined) {
          throw new SecretUnreadableError("the secret is binary; only string secrets can be used in params");
        }
        value = output.SecretString;
      } else {
        const api = this.#client(this.#ssm, location.region, (region) => this.apis.ssm(region));
        const output = await api.getParameter({ Name: location.arn, WithDecryption: true });
        value = output.Parameter?.Value;
      }
    } catch (error) {
      if (error instanceof SecretUnreadableError) throw error;
      throw new SecretUnreadableError(describeSecretError(error, location));
    }
    if (value === undefined) throw new SecretUnreadableError("it has no string value");
    return value;
  }
}
