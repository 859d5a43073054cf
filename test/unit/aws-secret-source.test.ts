import { describe, expect, it } from "vitest";
import { AwsSecretSource, type SecretApis } from "#adapters/aws-secret-source.ts";
import { SecretUnreadableError } from "#core/ports.ts";

/**
 * The Secrets Manager / SSM adapter over fakes shaped as the SDK's commands answer. No local
 * server speaks these APIs, and @aws-sdk/client-secrets-manager / client-ssm are not dependencies
 * yet, so aws-sdk-client-mock has no client to mock: the fakes throw errors named as the SDK does.
 */

const SM = {
  service: "secretsmanager",
  arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:s-AbCdEf",
  region: "eu-west-1",
} as const;
const SSM = {
  service: "ssm",
  arn: "arn:aws:ssm:us-east-2:123456789012:parameter/p",
  region: "us-east-2",
} as const;

const sdkError = (name: string, message = "") => Object.assign(new Error(message), { name, $metadata: {} });

function fakes(answer: { secretsManager?: () => unknown; ssm?: () => unknown }) {
  const calls: Array<{ api: string; region: string; input: unknown }> = [];
  const created: string[] = [];
  const apis: SecretApis = {
    secretsManager: (region) => {
      created.push(`secretsmanager:${region}`);
      return {
        getSecretValue: async (input) => {
          calls.push({ api: "GetSecretValue", region, input });
          return (answer.secretsManager ?? (() => ({})))() as never;
        },
      };
    },
    ssm: (region) => {
      created.push(`ssm:${region}`);
      return {
        getParameter: async (input) => {
          calls.push({ api: "GetParameter", region, input });
          return (answer.ssm ?? (() => ({})))() as never;
        },
      };
    },
  };
  return { apis, calls, created };
}

describe("AwsSecretSource", () => {
  it("reads a Secrets Manager secret by ARN, in the ARN's region, one client per region", async () => {
    const { apis, calls, created } = fakes({ secretsManager: () => ({ SecretString: "value" }) });
    const source = new AwsSecretSource(apis);
    expect(await source.read(SM)).toBe("value");
    expect(await source.read(SM)).toBe("value");
    expect(calls).toEqual([
      { api: "GetSecretValue", region: "eu-west-1", input: { SecretId: SM.arn } },
      { api: "GetSecretValue", region: "eu-west-1", input: { SecretId: SM.arn } },
    ]);
    expect(created).toEqual(["secretsmanager:eu-west-1"]);
  });

  it("reads an SSM parameter with decryption", async () => {
    const { apis, calls } = fakes({
      ssm: () => ({ Parameter: { Value: "decrypted", Type: "SecureString" } }),
    });
    expect(await new AwsSecretSource(apis).read(SSM)).toBe("decrypted");
    expect(calls).toEqual([
      { api: "GetParameter", region: "us-east-2", input: { Name: SSM.arn, WithDecryption: true } },
    ]);
  });

  it.each([
    ["ResourceNotFoundException", SM, /^no such secret in eu-west-1/],
    ["ParameterNotFound", SSM, /^no such parameter in us-east-2/],
    ["AccessDeniedException", SM, /^access denied: .*checkSecretArns/],
    ["DecryptionFailure", SM, /cannot decrypt it: .*checkSecretKmsKeyArns/],
    ["InvalidKeyId", SSM, /cannot decrypt/],
    ["ThrottlingException", SSM, /Parameter Store throttled the request/],
    ["InternalServiceError", SM, /^InternalServiceError: boom/],
  ] as const)("turns %s into a reason in words", async (name, location, reason) => {
    const fail = () => {
      throw sdkError(name, "boom");
    };
    const { apis } = fakes({ secretsManager: fail, ssm: fail });
    const error = await new AwsSecretSource(apis).read(location).catch((thrown) => thrown);
    expect(error).toBeInstanceOf(SecretUnreadableError);
    expect(error.message).toMatch(reason);
  });

  it("names a KMS refusal reported as AccessDenied for what it is", async () => {
    const { apis } = fakes({
      ssm: () => {
        throw sdkError(
          "AccessDeniedException",
          "User: arn:aws:sts::1:assumed-role/x is not authorized to perform: kms:Decrypt",
        );
      },
    });
    await expect(new AwsSecretSource(apis).read(SSM)).rejects.toThrow(/cannot decrypt/);
  });

  it("refuses binary secrets and values that are missing", async () => {
    const binary = fakes({ secretsManager: () => ({ SecretBinary: new Uint8Array([1, 2]) }) });
    await expect(new AwsSecretSource(binary.apis).read(SM)).rejects.toThrow(/binary/);
    const empty = fakes({ ssm: () => ({ Parameter: {} }) });
    await expect(new AwsSecretSource(empty.apis).read(SSM)).rejects.toThrow(/no string value/);
  });
});
