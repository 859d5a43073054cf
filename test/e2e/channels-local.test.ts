import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoDbChannels } from "#adapters/dynamodb-channels.ts";
import type { CapturedDelivery } from "#local/channel-receiver.ts";
import { runCli } from "../../cli/main.ts";
import { startTestRuntime, type TestRuntime } from "./support/runtime.ts";

/**
 * `npm start`'s channel receiver: started with the runtime, named in local.json, its four channels
 * seeded, and `watchkeeper channel test --local` delivering to it with secrets resolved through
 * the receiver's Secrets Manager stand-in.
 */

let env: TestRuntime;

beforeAll(async () => {
  env = await startTestRuntime({ seed: true });
});
afterAll(() => env?.stop());

async function cli(args: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await runCli([...args, "--local", "--state-dir", dirname(env.runtime.infoFile)], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
  });
  return { code, stdout, stderr };
}

describe("the local channel receiver", () => {
  it("is named in local.json and seeds the four local channels", async () => {
    const info = JSON.parse(await readFile(env.runtime.infoFile, "utf8"));
    expect(info.channelReceiverUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.secretsManager).toBe(info.channelReceiverUrl);
    const { channels } = await new DynamoDbChannels({
      tableName: env.runtime.endpoints.tableName,
      client: env.doc,
    }).list();
    expect([...channels.keys()].sort()).toEqual([
      "local-pagerduty",
      "local-slack",
      "local-teams",
      "local-webhook",
    ]);
    // Seeded after the example monitors, whose seeding needs an empty table.
    expect(env.runtime.seeded.length).toBeGreaterThan(0);
  });

  it("takes a signed test from `watchkeeper channel test --local`", async () => {
    const result = await cli(["channel", "test", "local-webhook"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const url = env.runtime.endpoints.channelReceiverUrl as string;
    const deliveries = (await (await fetch(`${url}/deliveries.json`)).json()) as CapturedDelivery[];
    expect(deliveries[0]).toMatchObject({ kind: "webhook", status: 204, webhook: { verified: true } });
  });
});
