import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { DynamoDbChannels } from "#adapters/dynamodb-channels.ts";
import { CHANNELS_PARTITION } from "#core/channels.ts";
import { freshTable, localDynamo } from "../support/aws.ts";

const SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-hook-AbCdEf";
const { doc } = localDynamo();
let tableName: string;
let channels: DynamoDbChannels;

beforeAll(async () => {
  ({ tableName } = await freshTable("channels"));
  channels = new DynamoDbChannels({ tableName, client: doc });
});

describe("channel items on DynamoDB Local", () => {
  it("stores a validated channel under __channels and lists it back with its defaults", async () => {
    await channels.put({ name: "ops-slack", kind: "slack", webhookUrl: { secretRef: SECRET } });
    await channels.put({
      name: "pager",
      kind: "pagerduty",
      routingKey: { secretRef: `${SECRET}#routingKey` },
      severity: "error",
    });
    const { channels: listed, problems } = await channels.list();
    expect(problems).toEqual([]);
    expect([...listed.keys()].sort()).toEqual(["ops-slack", "pager"]);
    expect(listed.get("ops-slack")).toEqual({
      name: "ops-slack",
      kind: "slack",
      isActive: true,
      webhookUrl: { secretRef: SECRET },
    });
    expect(listed.get("pager")).toMatchObject({ kind: "pagerduty", severity: "error" });
  });

  it("refuses a secret in clear, naming the attribute, and writes nothing", async () => {
    await expect(
      channels.put({ name: "leaky", kind: "slack", webhookUrl: "https://hooks.slack.com/services/T/B/x" }),
    ).rejects.toThrow(/webhookUrl/);
    expect((await channels.list()).channels.has("leaky")).toBe(false);
  });

  it("reports a hand-edited item that does not parse instead of failing the whole list", async () => {
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: { monitorId: CHANNELS_PARTITION, record: "channel#broken", kind: "carrier-pigeon" },
      }),
    );
    const { channels: listed, problems } = await channels.list();
    expect(listed.has("broken")).toBe(false);
    expect(listed.has("ops-slack")).toBe(true);
    expect(problems).toEqual([{ name: "broken", message: expect.stringMatching(/kind/) }]);
  });

  it("removes a channel, and says whether there was one", async () => {
    expect(await channels.remove("pager")).toBe(true);
    expect(await channels.remove("pager")).toBe(false);
    expect((await channels.list()).channels.has("pager")).toBe(false);
  });
});
