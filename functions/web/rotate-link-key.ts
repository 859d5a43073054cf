import { randomBytes } from "node:crypto";
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";

/**
 * Rotation of the ack link key (a Secrets Manager rotation function, every 30 days). The key is
 * used only by Watchkeeper's own functions, so setSecret and testSecret have nothing to do: a new
 * random key becomes AWSCURRENT, and Secrets Manager moves the old one to AWSPREVIOUS, which the
 * verifier still accepts (functions/core/ack-link.ts): links mailed before a rotation keep working.
 */

export interface RotationEvent {
  SecretId: string;
  ClientRequestToken: string;
  Step: "createSecret" | "setSecret" | "testSecret" | "finishSecret";
}

type Send = (command: object) => Promise<Record<string, unknown>>;

export function createRotation(send: Send, newKey = () => randomBytes(48).toString("base64url")) {
  return async (event: RotationEvent): Promise<void> => {
    const { SecretId, ClientRequestToken: token, Step } = event;
    const described = (await send(new DescribeSecretCommand({ SecretId }))) as {
      RotationEnabled?: boolean;
      VersionIdsToStages?: Record<string, string[]>;
    };
    const stages = described.VersionIdsToStages ?? {};
    if (!stages[token]) throw new Error(`version ${token} of the secret is not staged for rotation`);
    if (Step === "createSecret") {
      try {
        await send(new GetSecretValueCommand({ SecretId, VersionId: token, VersionStage: "AWSPENDING" }));
        return; // already created by an earlier attempt
      } catch (error) {
        if ((error as Error).name !== "ResourceNotFoundException") throw error;
      }
      await send(
        new PutSecretValueCommand({
          SecretId,
          ClientRequestToken: token,
          SecretString: newKey(),
          VersionStages: ["AWSPENDING"],
        }),
      );
      return;
    }
    if (Step === "finishSecret") {
      const current = Object.entries(stages).find(([, list]) => list.includes("AWSCURRENT"))?.[0];
      if (current === token) return;
      await send(
        new UpdateSecretVersionStageCommand({
          SecretId,
          VersionStage: "AWSCURRENT",
          MoveToVersionId: token,
          ...(current ? { RemoveFromVersionId: current } : {}),
        }),
      );
    }
    // setSecret, testSecret: nothing outside Secrets Manager holds the key.
  };
}

let rotate: ReturnType<typeof createRotation> | undefined;

export async function handler(event: RotationEvent): Promise<void> {
  if (!rotate) {
    const client = new SecretsManagerClient({ requestHandler: boundedRequestHandler() });
    rotate = createRotation(
      (command) => client.send(command as never) as unknown as Promise<Record<string, unknown>>,
    );
  }
  await rotate(event);
}
