import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoDbChannels } from "#adapters/dynamodb-channels.ts";
import type { ChannelDefinition } from "#core/channels.ts";
import { type ChannelReceiver, localSecretArn, startLocalChannels } from "#local/channel-receiver.ts";
import { LOCAL_REGION } from "#local/servers.ts";
import { freshTable, localDynamo } from "../../support/aws.ts";
import { type CliHarness, cliHarness } from "./support.ts";

/**
 * `watchkeeper channel add|list|test|remove` on DynamoDB Local, `test` delivering for real to the
 * local channel receiver (local/channel-receiver.ts) with its secrets read from the receiver's
 * Secrets Manager stand-in, through `--local` as an operator of `npm start` would.
 */

let cli: CliHarness;
let receiver: ChannelReceiver;
let seeded: ChannelDefinition[];
let tableName: string;
/** The secret values of the seeded channels: never printed. */
let secretValues: string[];

beforeAll(async () => {
  ({ tableName } = await freshTable("cli-channels"));
  cli = await cliHarness(tableName);
  ({ receiver, channels: seeded } = await startLocalChannels());
  // A local.json as `npm start` writes it (the harness hands in its own DynamoDB client).
  await mkdir(join(cli.dir, ".watchkeeper"), { recursive: true });
  await writeFile(
    join(cli.dir, ".watchkeeper", "local.json"),
    JSON.stringify({
      region: LOCAL_REGION,
      dynamodb: "http://127.0.0.1:9",
      sqs: "http://127.0.0.1:9",
      tableName,
      queueUrl: "http://127.0.0.1:9/queue/unused",
      channelReceiverUrl: receiver.url,
      secretsManager: receiver.url,
    }),
  );
  const response = await Promise.all(
    ["slack", "pagerduty-routing-key", "webhook-signing"].map(async (name) => {
      const answer = await fetch(receiver.url, {
        method: "POST",
        headers: {
          "x-amz-target": "secretsmanager.GetSecretValue",
          "content-type": "application/x-amz-json-1.1",
        },
        body: JSON.stringify({ SecretId: localSecretArn(name) }),
      });
      return ((await answer.json()) as { SecretString: string }).SecretString;
    }),
  );
  secretValues = response;
});
afterAll(async () => {
  await receiver?.stop();
  await cli?.close();
});

const slackRef = () => localSecretArn("slack");

describe("channel add and list", () => {
  it("adds a Slack channel by secret reference and lists it with the reference, never the value", async () => {
    const added = await cli.run([
      "channel",
      "add",
      "ops-slack",
      "--kind",
      "slack",
      "--webhook-url-secret",
      slackRef(),
    ]);
    expect(added).toMatchObject({ code: 0, stderr: "" });
    expect(added.stdout).toContain(`Added channel ops-slack (slack): webhookUrl ${slackRef()}`);
    const listed = await cli.run(["channel", "list"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/ops-slack\s+slack\s+yes\s+webhookUrl arn:aws:secretsmanager:/);
    for (const value of secretValues) expect(listed.stdout).not.toContain(value);
    const json = await cli.run(["channel", "list", "--json"]);
    expect(json.json().channels).toEqual([
      { name: "ops-slack", kind: "slack", isActive: true, webhookUrl: { secretRef: slackRef() } },
    ]);
  });

  it("refuses to overwrite without --replace, and a secret in clear (nothing written)", async () => {
    const again = await cli.run([
      "channel",
      "add",
      "ops-slack",
      "--kind",
      "slack",
      "--webhook-url-secret",
      slackRef(),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("channel ops-slack exists: add --replace to replace it");
    const file = await cli.writeFile(
      "leaky.json",
      JSON.stringify({ kind: "slack", webhookUrl: "https://hooks.slack.com/services/T/B/secret" }),
    );
    const leaky = await cli.run(["channel", "add", "leaky", "--file", file]);
    expect(leaky.code).toBe(2);
    expect(leaky.stderr).toContain("invalid channel: webhookUrl");
    const { channels } = await new DynamoDbChannels({ tableName, client: localDynamo().doc }).list();
    expect(channels.has("leaky")).toBe(false);
  });

  it("refuses a flag of another kind instead of dropping it, and a webhook URL given twice (nothing written)", async () => {
    const slack = await cli.run([
      "channel",
      "add",
      "mixed",
      "--kind",
      "slack",
      "--webhook-url-secret",
      slackRef(),
      "--routing-key-secret",
      slackRef(),
      "--severity",
      "error",
    ]);
    expect(slack.code).toBe(2);
    expect(slack.stderr).toContain(
      "--routing-key-secret, --severity are not for a slack channel, which takes --webhook-url-secret",
    );
    const twice = await cli.run([
      "channel",
      "add",
      "mixed",
      "--kind",
      "webhook",
      "--url",
      "https://example.org/hook",
      "--url-secret",
      slackRef(),
      "--signing-secret",
      slackRef(),
    ]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain("--url or --url-secret, not both");
    const { channels } = await new DynamoDbChannels({ tableName, client: localDynamo().doc }).list();
    expect(channels.has("mixed")).toBe(false);
  });

  it("takes the kind flags of pagerduty, webhook and sns, and a file", async () => {
    const pager = seeded.find((channel) => channel.kind === "pagerduty") as Extract<
      ChannelDefinition,
      { kind: "pagerduty" }
    >;
    const hook = seeded.find((channel) => channel.kind === "webhook") as Extract<
      ChannelDefinition,
      { kind: "webhook" }
    >;
    expect(
      await cli.run([
        "channel",
        "add",
        "pager",
        "--kind",
        "pagerduty",
        "--severity",
        "error",
        "--routing-key-secret",
        pager.routingKey.secretRef,
        "--events-url",
        pager.eventsUrl as string,
      ]),
    ).toMatchObject({ code: 0 });
    expect(
      await cli.run([
        "channel",
        "add",
        "hook",
        "--kind",
        "webhook",
        "--url",
        hook.url as string,
        "--signing-secret",
        hook.signingSecret.secretRef,
      ]),
    ).toMatchObject({ code: 0 });
    const file = await cli.writeFile(
      "sms.yaml",
      "kind: sns\ntopicArn: arn:aws:sns:us-east-1:123456789012:oncall\n",
    );
    expect(
      await cli.run(["channel", "add", "sms", "--file", file, "--description", "on-call phones"]),
    ).toMatchObject({
      code: 0,
    });
    const listed = (await cli.run(["channel", "list", "--json"])).json().channels as ChannelDefinition[];
    expect(listed.map((channel) => channel.name)).toEqual(["hook", "ops-slack", "pager", "sms"]);
    expect(listed.find((channel) => channel.name === "pager")).toMatchObject({ severity: "error" });
    expect(listed.find((channel) => channel.name === "sms")).toMatchObject({ description: "on-call phones" });
  });
});

describe("channel test", () => {
  it("delivers a test to Slack through the real sender, its secret read from the stand-in", async () => {
    const before = receiver.deliveries().length;
    const result = await cli.run(["channel", "test", "ops-slack", "--local"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^Delivered a test notification to ops-slack \(slack\): slack-/);
    const [delivery] = receiver.deliveries();
    expect(receiver.deliveries().length).toBe(before + 1);
    expect(delivery?.kind).toBe("slack");
    expect(JSON.stringify(delivery?.body)).toContain("ALERT: Watchkeeper channel test is failing");
    for (const value of secretValues) expect(result.stdout).not.toContain(value);
  });

  it("triggers then resolves on PagerDuty, so that a test leaves no incident open", async () => {
    const result = await cli.run(["channel", "test", "pager", "--local", "--json"]);
    expect(result.code).toBe(0);
    const [resolve, trigger] = receiver.deliveries();
    expect(trigger?.body).toMatchObject({ event_action: "trigger", payload: { severity: "error" } });
    expect(resolve?.body).toMatchObject({ event_action: "resolve" });
    const dedupKey = (trigger?.body as { dedup_key?: string } | undefined)?.dedup_key;
    expect(result.json()).toEqual({ channel: "pager", delivered: true, messageIds: [dedupKey, dedupKey] });
  });

  it("says a test incident was triggered and is still open when its resolve fails", async () => {
    // An Events API stand-in that takes the trigger and refuses the resolve.
    const actions: string[] = [];
    const pagerDuty = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => {
        body += chunk.toString("utf8");
      });
      request.on("end", () => {
        const event = JSON.parse(body) as { event_action: string; dedup_key: string };
        actions.push(event.event_action);
        if (event.event_action === "trigger") {
          response.writeHead(202, { "content-type": "application/json" });
          response.end(JSON.stringify({ status: "success", dedup_key: event.dedup_key }));
        } else response.writeHead(503).end("maintenance");
      });
    });
    await new Promise<void>((resolve) => pagerDuty.listen(0, "127.0.0.1", resolve));
    try {
      const { doc } = localDynamo();
      await new DynamoDbChannels({ tableName, client: doc }).put({
        name: "pager-flaky",
        kind: "pagerduty",
        routingKey: { secretRef: localSecretArn("pagerduty-routing-key") },
        eventsUrl: `http://127.0.0.1:${(pagerDuty.address() as AddressInfo).port}/v2/enqueue`,
      });
      const result = await cli.run(["channel", "test", "pager-flaky", "--local"]);
      expect(actions).toEqual(["trigger", "resolve"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /triggered a PagerDuty test incident \(dedup_key [^)]+\), but could not resolve it: .*503.*Resolve it in PagerDuty\./,
      );
      for (const value of secretValues) expect(result.stderr).not.toContain(value);
    } finally {
      await new Promise((resolve) => pagerDuty.close(resolve));
    }
  });

  it("signs the webhook so that the receiver (and standardwebhooks) verify it", async () => {
    expect(await cli.run(["channel", "test", "hook", "--local"])).toMatchObject({ code: 0 });
    const [delivery] = receiver.deliveries();
    expect(delivery?.webhook).toMatchObject({ verified: true });
    expect(delivery?.body).toMatchObject({
      version: 1,
      type: "alert",
      monitor: { id: "watchkeeper-channel-test" },
    });
  });

  it("says why not when it is not delivered: a refused webhook, a missing secret", async () => {
    receiver.addSecret(localSecretArn("slack-gone"), `${receiver.url}/nothing-here/T0/B0/x`);
    expect(
      await cli.run([
        "channel",
        "add",
        "gone",
        "--kind",
        "slack",
        "--webhook-url-secret",
        localSecretArn("slack-gone"),
      ]),
    ).toMatchObject({ code: 0 });
    const gone = await cli.run(["channel", "test", "gone", "--local"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("not delivered: channel gone (slack): Slack answered 404 not found");
    expect(gone.stderr).toContain("(refused: retrying will not help; fix the channel or its secret)");
    expect(
      await cli.run([
        "channel",
        "add",
        "nosecret",
        "--kind",
        "slack",
        "--webhook-url-secret",
        localSecretArn("nope"),
      ]),
    ).toMatchObject({ code: 0 });
    const missing = await cli.run(["channel", "test", "nosecret", "--local"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`secret ${localSecretArn("nope")} could not be read`);
  });

  it("refuses an unknown channel", async () => {
    const unknown = await cli.run(["channel", "test", "nope", "--local"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown channel "nope"');
  });
});

describe("channel remove", () => {
  it("asks first, then deletes", async () => {
    const declined = await cli.run(["channel", "remove", "sms"]);
    expect(declined.code).toBe(1);
    expect(declined.stderr).toContain("? Remove channel sms?");
    expect(await cli.run(["channel", "remove", "sms", "--yes"])).toMatchObject({ code: 0 });
    const again = await cli.run(["channel", "remove", "sms", "--yes"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('unknown channel "sms"');
  });

  it("refuses to orphan the monitors that still name it, naming them, unless --force", async () => {
    const { doc } = localDynamo();
    await new DynamoDbChannels({ tableName, client: doc }).put({
      name: "pager-old",
      kind: "sns",
      topicArn: "arn:aws:sns:us-east-1:123456789012:oncall",
    });
    for (const [monitorId, channels] of [
      ["feed-b", ["pager-old", "other"]],
      ["feed-a", ["pager-old"]],
      ["feed-c", ["other"]],
    ] as const) {
      await doc.send(
        new PutCommand({
          TableName: tableName,
          Item: { monitorId, record: "config", name: monitorId, check: "manual", channels: [...channels] },
        }),
      );
    }
    const refused = await cli.run(["channel", "remove", "pager-old", "--yes"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('channel "pager-old" is still named by 2 monitor(s): feed-a, feed-b');
    expect((await new DynamoDbChannels({ tableName, client: doc }).list()).channels.has("pager-old")).toBe(
      true,
    );
    expect(await cli.run(["channel", "remove", "pager-old", "--yes", "--force"])).toMatchObject({ code: 0 });
    expect((await new DynamoDbChannels({ tableName, client: doc }).list()).channels.has("pager-old")).toBe(
      false,
    );
  });

  it("counts the monitors that name no channels as users of a default channel, when told the defaults", async () => {
    const { doc } = localDynamo();
    const channels = new DynamoDbChannels({ tableName, client: doc });
    await channels.put({
      name: "ops-default",
      kind: "sns",
      topicArn: "arn:aws:sns:us-east-1:123456789012:ops",
    });
    // feed-c names "other" only; feed-d names none: it uses the stack's defaultChannels.
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: { monitorId: "feed-d", record: "config", name: "feed-d", check: "manual" },
      }),
    );
    const blind = await cli.run(["channel", "remove", "ops-default", "--yes"], {
      env: { WATCHKEEPER_DEFAULT_CHANNELS: "ops-default,pager" },
    });
    expect(blind.code).toBe(1);
    expect(blind.stderr).toContain(
      'channel "ops-default" is one of the stack\'s defaultChannels and still used by 1 monitor(s): feed-d',
    );
    const flagged = await cli.run([
      "channel",
      "remove",
      "ops-default",
      "--yes",
      "--default-channels",
      "ops-default",
    ]);
    expect(flagged.code).toBe(1);
    expect((await channels.list()).channels.has("ops-default")).toBe(true);
    // Without the defaults it cannot know, and says so; the removal goes ahead.
    const unknown = await cli.run(["channel", "remove", "ops-default", "--yes"]);
    expect(unknown.code).toBe(0);
    expect(unknown.stderr).toContain("pass --default-channels (or set WATCHKEEPER_DEFAULT_CHANNELS)");
    expect((await channels.list()).channels.has("ops-default")).toBe(false);
  });
});
