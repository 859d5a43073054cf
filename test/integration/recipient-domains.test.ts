import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type SesServer, startSes } from "#local/servers.ts";
import {
  capturedEmails,
  freshTable,
  localDynamo,
  putMonitorConfig,
  setAwsEnvironment,
} from "../support/aws.ts";
import { lambdaContext, tickEvent } from "../support/sqs-event.ts";
import { type CliHarness, cliHarness } from "./cli/support.ts";

/**
 * allowedRecipientDomains end to end: the orchestrator handler, configured from its environment
 * as the stack sets it (ALLOWED_RECIPIENT_DOMAINS), against DynamoDB Local and aws-ses-v2-local;
 * and the CLI refusing what the orchestrator would drop.
 */

let ses: SesServer;
let tableName: string;
let handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
let cli: CliHarness;
const { client: dynamoClient, doc } = localDynamo();

beforeAll(async () => {
  [ses, { tableName }] = await Promise.all([startSes(), freshTable("recipient-domains")]);
  setAwsEnvironment({ dynamodb: inject("dynamoEndpoint"), sesv2: ses.endpoint });
  process.env.MONITORS_TABLE = tableName;
  process.env.SENDER_EMAIL = "watchkeeper@example.org";
  process.env.ALLOWED_RECIPIENT_DOMAINS = "example.org";
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  process.env.POWERTOOLS_LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? "SILENT";
  ({ handler } = await import("../../functions/orchestrator/handler.ts"));
  cli = await cliHarness(tableName);
});

afterAll(async () => {
  delete process.env.ALLOWED_RECIPIENT_DOMAINS;
  await Promise.all([ses?.stop(), cli?.close()]);
  dynamoClient.destroy();
});

describe("orchestrator with ALLOWED_RECIPIENT_DOMAINS", () => {
  it("mails only the recipient in an allowed domain and reports the other as a config problem", async () => {
    await putMonitorConfig(tableName, "relay", {
      name: "Relay attempt",
      check: "manual",
      params: { isOk: false, message: "feed missing" },
      peopleToNotify: ["ops@EXAMPLE.org", "victim@elsewhere.example"],
    });
    const response = await handler(
      tickEvent({ monitorId: "relay", scheduledTime: "2026-03-01T06:00:00.000Z" }),
      lambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([]);
    const mails = (await capturedEmails(ses.endpoint)).filter((mail) => mail.body.text?.includes("(relay)"));
    expect(mails).toHaveLength(1);
    // The domain lowercased, as the IAM ses:Recipients patterns require.
    expect(mails[0]?.destination).toEqual({ to: ["ops@example.org"], cc: [], bcc: [] });
    const { Item } = await doc.send(
      new GetCommand({
        TableName: tableName,
        Key: { monitorId: "relay", record: "state" },
        ConsistentRead: true,
      }),
    );
    expect(Item?.configProblems).toContain(
      'peopleToNotify[1] "victim@elsewhere.example" is outside the allowed recipient domains (example.org)',
    );
  });
});

describe("CLI with WATCHKEEPER_ALLOWED_RECIPIENT_DOMAINS", () => {
  const add = (id: string, notify: string, env: Record<string, string> = {}, extra: string[] = []) =>
    cli.run(
      [
        "add",
        id,
        "--name",
        "Feed",
        "--check",
        "manual",
        "--param",
        "isOk=true",
        "--notify",
        notify,
        ...extra,
      ],
      { env },
    );

  it("add refuses a recipient outside the allowed domains and writes nothing", async () => {
    const refused = await add("outside", "ops@example.org,someone@elsewhere.example", {
      WATCHKEEPER_ALLOWED_RECIPIENT_DOMAINS: "example.org",
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      'error: outside: peopleToNotify[1] "someone@elsewhere.example" is outside the allowed recipient domains (example.org)\n',
    );
    expect((await cli.run(["show", "outside"])).code).toBe(1);
  });

  it("--allowed-recipient-domains does the same, and allows what it lists", async () => {
    const refused = await add("flag", "a@sub.example.org", {}, [
      "--allowed-recipient-domains",
      "example.org",
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('"a@sub.example.org" is outside the allowed recipient domains');
    const added = await add("flag", "a@sub.example.org", {}, [
      "--allowed-recipient-domains",
      "example.org,sub.example.org",
    ]);
    expect(added).toMatchObject({ code: 0, stderr: "" });
  });

  it("edit and import refuse it too; without the setting nothing is checked", async () => {
    const env = { WATCHKEEPER_ALLOWED_RECIPIENT_DOMAINS: "example.org" };
    const edited = await cli.run(["edit", "flag", "--set", "peopleToNotify=x@elsewhere.example"], { env });
    expect(edited.code).toBe(1);
    expect(edited.stderr).toContain('"x@elsewhere.example" is outside the allowed recipient domains');
    const file = await cli.writeFile(
      "monitors.json",
      JSON.stringify([
        {
          monitorId: "imported",
          name: "Feed",
          check: "manual",
          params: { isOk: true },
          peopleToNotify: ["y@elsewhere.example"],
        },
      ]),
    );
    const imported = await cli.run(["import", file], { env });
    expect(imported.code).toBe(1);
    expect(imported.stderr).toContain('imported: peopleToNotify[0] "y@elsewhere.example" is outside');
    expect(imported.stderr).toContain("nothing imported");
    expect((await add("anywhere", "z@elsewhere.example")).code).toBe(0);
  });

  it("refuses a malformed domain list as a usage error", async () => {
    const refused = await add("bad", "ops@example.org", {
      WATCHKEEPER_ALLOWED_RECIPIENT_DOMAINS: "@example.org",
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      "--allowed-recipient-domains: allowed recipient domains must be domain names",
    );
  });
});
