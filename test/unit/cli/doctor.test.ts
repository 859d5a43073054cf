import { DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetScheduleCommand, GetScheduleGroupCommand, SchedulerClient } from "@aws-sdk/client-scheduler";
import {
  GetAccountCommand,
  GetConfigurationSetCommand,
  GetEmailIdentityCommand,
  SESv2Client,
  SendEmailCommand,
} from "@aws-sdk/client-sesv2";
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { type AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import type { DoctorResult } from "../../../cli/doctor.ts";
import { runCli } from "../../../cli/main.ts";
import { CLOCK_SCHEDULE_NAME } from "../../../functions/core/buckets.ts";
import { HEARTBEAT_ID } from "../../../functions/core/heartbeat.ts";

/**
 * `watchkeeper doctor` against AWS-only APIs (SES identities and account, EventBridge Scheduler),
 * which no local server implements: the answers of a deployed account are mocked here; the e2e
 * test (test/e2e/doctor.test.ts) runs it against the real local servers.
 */

const ACCOUNT = "123456789012";
const queue = (name: string) => `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/${name}`;
const arn = (name: string) => `arn:aws:sqs:eu-west-1:${ACCOUNT}:${name}`;
const TICKS = "watchkeeper-TicksQueueFA90575B-AAAA.fifo";
const TICKS_DLQ = "watchkeeper-TicksDeadLetterQueue09DBEABF-BBBB.fifo";
const RETRIES = "watchkeeper-DeliveryRetriesQueueF62B1026-CCCC";
const RETRIES_DLQ = "watchkeeper-DeliveryRetriesDeadLetterQueue06DDE27C-DDDD";
const TABLE = "watchkeeper-MonitorsTable1234-EEEE";

const named = (name: string, message = name) => Object.assign(new Error(message), { name, $metadata: {} });

const region = "eu-west-1";
let ses: SESv2Client;
let scheduler: SchedulerClient;
let sqs: SQSClient;
let dynamodb: DynamoDBClient;
let sesMock: AwsClientStub<SESv2Client>;
let schedulerMock: AwsClientStub<SchedulerClient>;
let sqsMock: AwsClientStub<SQSClient>;
let dynamoMock: AwsClientStub<DynamoDBClient>;

/** A healthy deployment: every check passes. Tests then break one thing each. */
beforeEach(() => {
  ses = new SESv2Client({ region });
  scheduler = new SchedulerClient({ region });
  sqs = new SQSClient({ region });
  dynamodb = new DynamoDBClient({ region });
  sesMock = mockClient(ses);
  schedulerMock = mockClient(scheduler);
  sqsMock = mockClient(sqs);
  dynamoMock = mockClient(dynamodb);

  sesMock.on(GetEmailIdentityCommand).rejects(named("NotFoundException"));
  sesMock.on(GetEmailIdentityCommand, { EmailIdentity: "example.org" }).resolves({
    IdentityType: "DOMAIN",
    VerifiedForSendingStatus: true,
    VerificationStatus: "SUCCESS",
    DkimAttributes: { SigningEnabled: true, Status: "SUCCESS" },
  });
  sesMock.on(GetAccountCommand).resolves({
    ProductionAccessEnabled: true,
    SendingEnabled: true,
    EnforcementStatus: "HEALTHY",
    SendQuota: { Max24HourSend: 50_000, MaxSendRate: 14, SentLast24Hours: 12 },
  });
  sesMock.on(SendEmailCommand).resolves({ MessageId: "0102-test-mail" });
  schedulerMock
    .on(GetScheduleGroupCommand, { Name: "watchkeeper" })
    .resolves({ Name: "watchkeeper", State: "ACTIVE" });
  schedulerMock
    .on(GetScheduleCommand, { GroupName: "watchkeeper", Name: HEARTBEAT_ID })
    .resolves({ Name: HEARTBEAT_ID, State: "ENABLED", ScheduleExpression: "rate(5 minutes)" });
  schedulerMock
    .on(GetScheduleCommand, { GroupName: "watchkeeper", Name: CLOCK_SCHEDULE_NAME })
    .resolves({ Name: CLOCK_SCHEDULE_NAME, State: "ENABLED", ScheduleExpression: "cron(* * * * ? *)" });
  const attributes = (depth: string, deadLetter?: string) => ({
    Attributes: {
      ApproximateNumberOfMessages: depth,
      ApproximateNumberOfMessagesNotVisible: "0",
      ...(deadLetter
        ? { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn(deadLetter), maxReceiveCount: 5 }) }
        : {}),
    },
  });
  sqsMock.on(GetQueueAttributesCommand, { QueueUrl: queue(TICKS) }).resolves(attributes("2", TICKS_DLQ));
  sqsMock.on(GetQueueAttributesCommand, { QueueUrl: queue(TICKS_DLQ) }).resolves(attributes("0"));
  sqsMock.on(GetQueueAttributesCommand, { QueueUrl: queue(RETRIES) }).resolves(attributes("0", RETRIES_DLQ));
  sqsMock.on(GetQueueAttributesCommand, { QueueUrl: queue(RETRIES_DLQ) }).resolves(attributes("0"));
  sqsMock.on(GetQueueUrlCommand, { QueueName: TICKS_DLQ }).resolves({ QueueUrl: queue(TICKS_DLQ) });
  sqsMock.on(GetQueueUrlCommand, { QueueName: RETRIES_DLQ }).resolves({ QueueUrl: queue(RETRIES_DLQ) });
  sqsMock.on(ListQueuesCommand, { QueueNamePrefix: "watchkeeper-DeliveryRetriesQueue" }).resolves({
    QueueUrls: [queue(RETRIES)],
  });
  dynamoMock.on(DescribeTableCommand, { TableName: TABLE }).resolves({
    Table: {
      TableName: TABLE,
      TableStatus: "ACTIVE",
      ItemCount: 3,
      StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" },
    },
  });
});

async function doctor(args: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(
    ["doctor", "--table", TABLE, "--queue-url", queue(TICKS), "--region", region, ...args],
    {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env,
      cwd: process.cwd(),
      now: () => new Date("2026-11-21T12:00:00.000Z"),
    },
    { ses, scheduler, sqs, dynamodb },
  );
  const checks = (): Record<string, DoctorResult> =>
    Object.fromEntries(
      (JSON.parse(stdout) as { checks: DoctorResult[] }).checks.map((result) => [result.check, result]),
    );
  return { code, stdout, stderr, checks };
}

const SENDER = ["--sender", "alerts@example.org"];

describe("watchkeeper doctor (AWS)", () => {
  it("passes a healthy deployment, finding the delivery-retry queue by the stack's name", async () => {
    const result = await doctor([...SENDER, "--json"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout);
    expect(output).toMatchObject({ ok: true, summary: { pass: 11, warn: 0, fail: 0, skip: 0 } });
    expect(result.checks()).toMatchObject({
      "sender identity": {
        status: "PASS",
        message: "alerts@example.org can send: domain identity example.org is verified",
      },
      "sender DKIM": { status: "PASS" },
      "SES account": {
        status: "PASS",
        message: "production access, sending enabled, 12 of 50000 mails sent in the last 24 h",
      },
      "schedule group": { status: "PASS", message: "watchkeeper is ACTIVE" },
      "clock schedule": { status: "PASS", message: `${CLOCK_SCHEDULE_NAME} is ENABLED (cron(* * * * ? *))` },
      "heartbeat schedule": { status: "PASS" },
      "ticks queue": { status: "PASS", message: `${queue(TICKS)}: 2 waiting, 0 in flight` },
      "ticks queue DLQ": { status: "PASS" },
      "delivery-retry queue": { status: "PASS", message: expect.stringContaining(RETRIES) },
      "delivery-retry queue DLQ": { status: "PASS" },
      "Monitors table": { status: "PASS" },
    });
    expect(sesMock.commandCalls(SendEmailCommand)).toHaveLength(0);
  });

  it("prints one line per check, with the fix on the line", async () => {
    sesMock.on(GetAccountCommand).resolves({ ProductionAccessEnabled: false, SendingEnabled: true });
    const { code, stdout } = await doctor(SENDER);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(12);
    expect(lines).toContain(
      "WARN  SES account               the account is in the SES sandbox in eu-west-1: mail goes only to verified recipients -> fix: verify every recipient (aws sesv2 create-email-identity --email-identity person@example.org) or request production access (docs/deploy.md section 4)",
    );
    expect(lines.at(-1)).toBe("10 passed, 1 warning, 0 failed, 0 skipped");
  });

  it("fails an unverified sender, naming what to finish, and exits 1", async () => {
    sesMock.on(GetEmailIdentityCommand, { EmailIdentity: "alerts@example.org" }).resolves({
      IdentityType: "EMAIL_ADDRESS",
      VerifiedForSendingStatus: false,
      VerificationStatus: "PENDING",
    });
    sesMock.on(GetEmailIdentityCommand, { EmailIdentity: "example.org" }).rejects(named("NotFoundException"));
    const result = await doctor([...SENDER, "--json"]);
    expect(result.code).toBe(1);
    expect(result.checks()["sender identity"]).toMatchObject({
      status: "FAIL",
      message: "alerts@example.org cannot send: alerts@example.org is PENDING, example.org does not exist",
      fix: expect.stringContaining("click the link SES mailed to alerts@example.org"),
    });
    expect(result.checks()["sender DKIM"]).toMatchObject({
      status: "WARN",
      message: expect.stringContaining("only the address"),
    });
    expect(result.stderr).toContain("doctor: 1 check failed: sender identity");
  });

  it("fails a sender with no identity at all, pointing at create-email-identity", async () => {
    sesMock.on(GetEmailIdentityCommand).rejects(named("NotFoundException"));
    const result = await doctor(["--json"], { WATCHKEEPER_SENDER_EMAIL: "alerts@example.org" });
    expect(result.code).toBe(1);
    expect(result.checks()["sender identity"]).toMatchObject({
      status: "FAIL",
      fix: expect.stringContaining("aws sesv2 create-email-identity --email-identity alerts@example.org"),
    });
  });

  it("passes a verified address whose domain has pending DKIM, warning about DKIM", async () => {
    sesMock.on(GetEmailIdentityCommand, { EmailIdentity: "alerts@example.org" }).resolves({
      IdentityType: "EMAIL_ADDRESS",
      VerifiedForSendingStatus: true,
      VerificationStatus: "SUCCESS",
    });
    sesMock.on(GetEmailIdentityCommand, { EmailIdentity: "example.org" }).resolves({
      IdentityType: "DOMAIN",
      VerifiedForSendingStatus: false,
      VerificationStatus: "PENDING",
      DkimAttributes: { SigningEnabled: true, Status: "PENDING" },
    });
    const result = await doctor([...SENDER, "--json"]);
    expect(result.code).toBe(0);
    expect(result.checks()["sender identity"]).toMatchObject({
      status: "PASS",
      message: "alerts@example.org can send: address identity alerts@example.org is verified",
    });
    expect(result.checks()["sender DKIM"]).toMatchObject({
      status: "WARN",
      message: expect.stringContaining("PENDING"),
    });
  });

  it("warns, without failing, when no sender is given", async () => {
    const result = await doctor(["--json"]);
    expect(result.code).toBe(0);
    expect(result.checks()["sender identity"]).toMatchObject({
      status: "WARN",
      fix: expect.stringContaining("--sender"),
    });
    expect(sesMock.commandCalls(GetEmailIdentityCommand)).toHaveLength(0);
  });

  it("warns about the SES sandbox", async () => {
    sesMock.on(GetAccountCommand).resolves({ ProductionAccessEnabled: false, SendingEnabled: true });
    const result = await doctor([...SENDER, "--json"]);
    expect(result.code).toBe(0);
    expect(result.checks()["SES account"]).toMatchObject({
      status: "WARN",
      message: expect.stringContaining("sandbox"),
      fix: expect.stringContaining("request production access"),
    });
  });

  it("fails when sending is paused", async () => {
    sesMock
      .on(GetAccountCommand)
      .resolves({ ProductionAccessEnabled: true, SendingEnabled: false, EnforcementStatus: "SHUTDOWN" });
    const result = await doctor([...SENDER, "--json"]);
    expect(result.code).toBe(1);
    expect(result.checks()["SES account"]).toMatchObject({
      status: "FAIL",
      message: expect.stringContaining(
        "sending is paused for this account in eu-west-1 (enforcement status SHUTDOWN)",
      ),
    });
  });

  it("fails a missing schedule group and a disabled heartbeat and clock", async () => {
    schedulerMock.on(GetScheduleGroupCommand).rejects(named("ResourceNotFoundException"));
    schedulerMock.on(GetScheduleCommand).resolves({ State: "DISABLED" });
    const result = await doctor([...SENDER, "--json", "--stack", "watchkeeper"]);
    expect(result.code).toBe(1);
    expect(result.checks()["schedule group"]).toMatchObject({
      status: "FAIL",
      message: "no schedule group watchkeeper in eu-west-1",
      fix: expect.stringContaining("--stack"),
    });
    expect(result.checks()["heartbeat schedule"]).toMatchObject({
      status: "FAIL",
      message: expect.stringContaining("DISABLED"),
    });
    expect(result.checks()["clock schedule"]).toMatchObject({
      status: "FAIL",
      message: expect.stringContaining("clock-missing alarm will fire"),
    });
    expect(result.stderr).toContain("3 checks failed: schedule group, clock schedule, heartbeat schedule");
  });

  it("looks for the schedule group named by --stack", async () => {
    const result = await doctor([...SENDER, "--json", "--stack", "other"]);
    expect(result.code).toBe(1);
    expect(schedulerMock.commandCalls(GetScheduleGroupCommand)[0]?.args[0].input).toEqual({ Name: "other" });
  });

  it("fails a missing queue", async () => {
    sqsMock
      .on(GetQueueAttributesCommand, { QueueUrl: queue(TICKS) })
      .rejects(named("QueueDoesNotExist", "The specified queue does not exist."));
    const result = await doctor([...SENDER, "--json"]);
    expect(result.code).toBe(1);
    expect(result.checks()["ticks queue"]).toMatchObject({
      status: "FAIL",
      message: `${queue(TICKS)} does not exist`,
    });
    expect(result.checks()["ticks queue DLQ"]).toBeUndefined();
  });

  it("fails when the delivery-retry queue cannot be found by name", async () => {
    sqsMock.on(ListQueuesCommand).resolves({ QueueUrls: [] });
    const result = await doctor([...SENDER, "--json"]);
    expect(result.code).toBe(1);
    expect(result.checks()["delivery-retry queue"]).toMatchObject({
      status: "FAIL",
      message: expect.stringContaining(
        "no queue named watchkeeper-DeliveryRetriesQueue* in eu-west-1: pass --retry-queue-url",
      ),
    });
  });

  it("warns when a dead-letter queue holds messages", async () => {
    sqsMock.on(GetQueueAttributesCommand, { QueueUrl: queue(RETRIES_DLQ) }).resolves({
      Attributes: { ApproximateNumberOfMessages: "3", ApproximateNumberOfMessagesNotVisible: "0" },
    });
    const result = await doctor([...SENDER, "--json", "--retry-queue-url", queue(RETRIES)]);
    expect(result.code).toBe(0);
    expect(result.checks()["delivery-retry queue DLQ"]).toMatchObject({
      status: "WARN",
      message: expect.stringContaining("holds 3 messages"),
    });
    expect(sqsMock.commandCalls(ListQueuesCommand)).toHaveLength(0);
  });

  it("fails a queue with no dead-letter queue", async () => {
    sqsMock
      .on(GetQueueAttributesCommand, { QueueUrl: queue(TICKS) })
      .resolves({ Attributes: { ApproximateNumberOfMessages: "0" } });
    const result = await doctor([...SENDER, "--json"]);
    expect(result.code).toBe(1);
    expect(result.checks()["ticks queue DLQ"]).toMatchObject({
      status: "FAIL",
      message: expect.stringContaining("no RedrivePolicy"),
    });
  });

  it("fails a missing table", async () => {
    dynamoMock.on(DescribeTableCommand).rejects(named("ResourceNotFoundException"));
    const result = await doctor([...SENDER, "--json"]);
    expect(result.code).toBe(1);
    expect(result.checks()["Monitors table"]).toMatchObject({
      status: "FAIL",
      message: `no table ${TABLE} in eu-west-1`,
    });
  });

  it("names the permission it lacks on access denied", async () => {
    schedulerMock.on(GetScheduleCommand).rejects(named("AccessDeniedException", "not authorized"));
    const result = await doctor([...SENDER, "--json"]);
    expect(result.code).toBe(1);
    expect(result.checks()["heartbeat schedule"]).toMatchObject({
      status: "FAIL",
      message: "access denied to scheduler:GetSchedule",
    });
  });

  it("sends one test mail through the configuration set and reports its MessageId", async () => {
    sesMock
      .on(GetConfigurationSetCommand, { ConfigurationSetName: "tracked" })
      .resolves({ ConfigurationSetName: "tracked" });
    const result = await doctor([
      ...SENDER,
      "--json",
      "--configuration-set",
      "tracked",
      "--send-test-mail",
      "me@example.org",
    ]);
    expect(result.code).toBe(0);
    expect(result.checks()["SES configuration set"]).toMatchObject({ status: "PASS" });
    expect(result.checks()["test mail"]).toMatchObject({ status: "PASS", messageId: "0102-test-mail" });
    const [call, ...others] = sesMock.commandCalls(SendEmailCommand);
    expect(others).toEqual([]);
    expect(call?.args[0].input).toMatchObject({
      FromEmailAddress: "alerts@example.org",
      Destination: { ToAddresses: ["me@example.org"] },
      ConfigurationSetName: "tracked",
      Content: { Simple: { Subject: { Data: "[Watchkeeper] doctor test mail (watchkeeper)" } } },
    });
  });

  it("fails the test mail SES refuses, and a configuration set that does not exist", async () => {
    sesMock.on(GetConfigurationSetCommand).rejects(named("NotFoundException"));
    sesMock
      .on(SendEmailCommand)
      .rejects(named("MessageRejected", "Email address is not verified: me@example.org"));
    const result = await doctor([
      ...SENDER,
      "--json",
      "--configuration-set",
      "gone",
      "--send-test-mail",
      "me@example.org",
    ]);
    expect(result.code).toBe(1);
    expect(result.checks()["SES configuration set"]).toMatchObject({
      status: "FAIL",
      message: expect.stringContaining("gone does not exist"),
    });
    expect(result.checks()["test mail"]).toMatchObject({
      status: "FAIL",
      message: expect.stringContaining("MessageRejected: Email address is not verified"),
    });
  });
});
