import { describe, expect, it } from "vitest";
import { createRotation } from "../../functions/web/rotate-link-key.ts";

/** The ack link key's rotation steps against a fake Secrets Manager holding versions and stages. */

function fakeSecretsManager() {
  const versions = new Map<string, { value: string; stages: string[] }>([
    ["v1", { value: "old", stages: ["AWSCURRENT"] }],
    ["v2", { value: "", stages: [] }],
  ]);
  const send = async (command: object) => {
    const name = command.constructor.name;
    const input = (command as { input: Record<string, unknown> }).input;
    if (name === "DescribeSecretCommand") {
      return {
        VersionIdsToStages: Object.fromEntries(
          [...versions].map(([id, version]) => [
            id,
            id === "v2" && !version.value ? ["AWSPENDING"] : version.stages,
          ]),
        ),
      };
    }
    if (name === "GetSecretValueCommand") {
      const version = versions.get(String(input.VersionId));
      if (!version?.value) throw Object.assign(new Error("none"), { name: "ResourceNotFoundException" });
      return { SecretString: version.value };
    }
    if (name === "PutSecretValueCommand") {
      versions.set(String(input.ClientRequestToken), {
        value: String(input.SecretString),
        stages: input.VersionStages as string[],
      });
      return {};
    }
    if (name === "UpdateSecretVersionStageCommand") {
      const from = versions.get(String(input.RemoveFromVersionId));
      if (from) from.stages = ["AWSPREVIOUS"];
      const to = versions.get(String(input.MoveToVersionId));
      if (to) to.stages = ["AWSCURRENT"];
      return {};
    }
    throw new Error(`unexpected ${name}`);
  };
  return { versions, send };
}

describe("ack link key rotation", () => {
  it("creates a new random key as AWSPENDING once, then makes it AWSCURRENT and the old one AWSPREVIOUS", async () => {
    const sm = fakeSecretsManager();
    let made = 0;
    const rotate = createRotation(sm.send, () => `new-${++made}`);
    const event = { SecretId: "arn", ClientRequestToken: "v2" } as const;
    await rotate({ ...event, Step: "createSecret" });
    await rotate({ ...event, Step: "createSecret" }); // a retried step creates nothing new
    expect(made).toBe(1);
    await rotate({ ...event, Step: "setSecret" });
    await rotate({ ...event, Step: "testSecret" });
    await rotate({ ...event, Step: "finishSecret" });
    expect(sm.versions.get("v2")).toEqual({ value: "new-1", stages: ["AWSCURRENT"] });
    expect(sm.versions.get("v1")).toEqual({ value: "old", stages: ["AWSPREVIOUS"] });
  });

  it("refuses a token that is not staged for rotation", async () => {
    const rotate = createRotation(fakeSecretsManager().send);
    await expect(rotate({ SecretId: "arn", ClientRequestToken: "v9", Step: "createSecret" })).rejects.toThrow(
      /not staged/,
    );
  });
});
