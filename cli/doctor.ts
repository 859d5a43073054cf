import { DescribeTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetScheduleCommand, GetScheduleGroupCommand, type SchedulerClient } from "@aws-sdk/client-scheduler";
import {
  GetAccountCommand,
  GetConfigurationSetCommand,
  GetEmailIdentityCommand,
  type GetEmailIdentityCommandOutput,
  type SESv2Client,
} from "@aws-sdk/client-sesv2";
import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { SesNotifier } from "#adapters/ses-notifier.ts";
import { CLOCK_SCHEDULE_NAME } from "#core/buckets.ts";
import { HEARTBEAT_ID } from "#core/heartbeat.ts";
import { renderEmailBody } from "#core/render.ts";
import { headerSafe } from "#core/text.ts";
import { CliError, causeCode, describeError } from "./errors.ts";
import { plural } from "./format.ts";

/**
 * `watchkeeper doctor`: a post-deploy smoke test. Each check reads one thing the stack (or the
 * account) must have for a notification to go out, and reports PASS, WARN, FAIL or SKIP with a
 * fix. The checks never change anything; only `--send-test-mail` sends (one mail).
 */

export type DoctorStatus = "PASS" | "WARN" | "FAIL" | "SKIP";

export interface DoctorResult {
  check: string;
  status: DoctorStatus;
  message: string;
  /** What to do about a WARN or FAIL, or why a check was skipped. */
  fix?: string;
  /** The SES MessageId of the test mail. */
  messageId?: string;
}

/** Where the checks look; the command builds it from its Target (cli/commands/doctor.ts). */
export interface DoctorEnvironment {
  /** The local runtime of `npm start`: emulators may lack an API, reported as SKIP. */
  local: boolean;
  region: string | undefined;
  ses: () => SESv2Client;
  /** Undefined locally: the local runtime's scheduler runs inside `npm start`, with no server. */
  scheduler: (() => SchedulerClient) | undefined;
  sqs: () => SQSClient;
  dynamodb: DynamoDBClient;
  /** The stack's senderEmail; undefined when the operator gave none. */
  sender: string | undefined;
  /** The stack's sesConfigurationSet, when the operator names it. */
  configurationSet: string | undefined;
  scheduleGroup: string;
  tableName: () => Promise<string>;
  ticksQueueUrl: () => Promise<string>;
  deliveryRetryQueueUrl: () => Promise<string>;
  /** Sends one test mail there when set. */
  testMailTo: string | undefined;
  /** Where the local runtime shows mail it "sent". */
  inboxUrl?: string | undefined;
  stack: string;
  now: Date;
}

const LOCAL_SES = "the local SES emulator (aws-ses-v2-local)";
const NETWORK_ERRORS = new Set(["ECONNREFUSED", "ENOTFOUND", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH"]);

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "";
}

function isAccessDenied(error: unknown): boolean {
  return ["AccessDeniedException", "AccessDenied"].includes(errorName(error));
}

/**
 * A failed call as a result line: access denied names the permission the doctor needs, a local
 * emulator without the API is a SKIP, anything else a FAIL with describeError's one line.
 */
function failed(
  check: string,
  error: unknown,
  env: DoctorEnvironment,
  call: { action: string; emulator?: string },
): DoctorResult {
  if (error instanceof CliError) return { check, status: "FAIL", message: error.message };
  if (isAccessDenied(error)) {
    return {
      check,
      status: "FAIL",
      message: `access denied to ${call.action}`,
      fix: `give the doctor's credentials ${call.action} (a read-only call), or run it with the deployer's`,
    };
  }
  const code = causeCode(error);
  if (env.local && call.emulator && !(code && NETWORK_ERRORS.has(code))) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const detail = (error as { detail?: unknown }).detail;
    const why = typeof detail === "string" ? detail : status ? `HTTP ${status}` : errorName(error);
    return {
      check,
      status: "SKIP",
      message: `${call.emulator} does not implement ${call.action.replace(/^[a-z0-9]+:/, "")} (${why})`,
      fix: "checked against AWS only: run `watchkeeper doctor` against the deployed stack",
    };
  }
  return {
    check,
    status: "FAIL",
    message: describeError(error, { region: env.region, local: env.local }),
  };
}

async function identity(ses: SESv2Client, name: string): Promise<GetEmailIdentityCommandOutput | undefined> {
  try {
    return await ses.send(new GetEmailIdentityCommand({ EmailIdentity: name }));
  } catch (error) {
    if (errorName(error) === "NotFoundException") return undefined;
    throw error;
  }
}

function describeIdentity(name: string, found: GetEmailIdentityCommandOutput | undefined): string {
  if (!found) return `${name} does not exist`;
  return `${name} is ${found.VerificationStatus ?? (found.VerifiedForSendingStatus ? "verified" : "not verified")}`;
}

/** The sender address or its domain is a verified SES identity; its domain signs with DKIM. */
async function senderChecks(env: DoctorEnvironment): Promise<DoctorResult[]> {
  const check = "sender identity";
  const sender = env.sender;
  if (!sender) {
    return [
      {
        check,
        status: "WARN",
        message: "not checked: no sender address given",
        fix: "pass --sender <the stack's senderEmail> (or set WATCHKEEPER_SENDER_EMAIL)",
      },
    ];
  }
  const domain = sender.slice(sender.lastIndexOf("@") + 1).toLowerCase();
  let address: GetEmailIdentityCommandOutput | undefined;
  let domainIdentity: GetEmailIdentityCommandOutput | undefined;
  try {
    [address, domainIdentity] = await Promise.all([identity(env.ses(), sender), identity(env.ses(), domain)]);
  } catch (error) {
    return [failed(check, error, env, { action: "ses:GetEmailIdentity", emulator: LOCAL_SES })];
  }
  const results: DoctorResult[] = [];
  // SES sends from an address when the address or its domain is verified.
  const verified = [
    [sender, address],
    [domain, domainIdentity],
  ].find(([, found]) => (found as GetEmailIdentityCommandOutput | undefined)?.VerifiedForSendingStatus) as
    | [string, GetEmailIdentityCommandOutput]
    | undefined;
  if (verified) {
    results.push({
      check,
      status: "PASS",
      message: `${sender} can send: ${verified[1].IdentityType === "DOMAIN" ? "domain" : "address"} identity ${verified[0]} is verified`,
    });
  } else {
    const pending = [address, domainIdentity].some((found) => found?.VerificationStatus === "PENDING");
    results.push({
      check,
      status: "FAIL",
      message: `${sender} cannot send: ${describeIdentity(sender, address)}, ${describeIdentity(domain, domainIdentity)}`,
      fix: pending
        ? `finish verification: click the link SES mailed to ${sender}, or publish ${domain}'s DKIM CNAME records (docs/deploy.md section 4)`
        : `create and verify it: aws sesv2 create-email-identity --email-identity ${sender} (or ${domain}), then deploy (docs/deploy.md section 3)`,
    });
  }
  const dkim = domainIdentity?.DkimAttributes;
  if (dkim?.Status === "SUCCESS" && dkim.SigningEnabled !== false) {
    results.push({ check: "sender DKIM", status: "PASS", message: `${domain} signs with DKIM (SUCCESS)` });
  } else if (domainIdentity) {
    results.push({
      check: "sender DKIM",
      status: "WARN",
      message: `DKIM of ${domain} is ${dkim?.SigningEnabled === false ? "disabled" : (dkim?.Status ?? "not set up")}: mail may land in spam`,
      fix: `publish the CNAME records of: aws sesv2 get-email-identity --email-identity ${domain} --query DkimAttributes.Tokens`,
    });
  } else {
    results.push({
      check: "sender DKIM",
      status: "WARN",
      message: `only the address is verified: mail is not DKIM-signed for ${domain}, and may land in spam`,
      fix: `verify the domain ${domain} with Easy DKIM (aws sesv2 create-email-identity --email-identity ${domain})`,
    });
  }
  return results;
}

/** Production access (no sandbox) and sending not paused. */
async function accountCheck(env: DoctorEnvironment): Promise<DoctorResult> {
  const check = "SES account";
  try {
    const account = await env.ses().send(new GetAccountCommand({}));
    const where = env.region ? ` in ${env.region}` : "";
    if (account.SendingEnabled === false) {
      return {
        check,
        status: "FAIL",
        message: `sending is paused for this account${where} (enforcement status ${account.EnforcementStatus ?? "unknown"}): no mail goes out`,
        fix: "see the SES account dashboard for why; once fixed: aws sesv2 put-account-sending-attributes --sending-enabled",
      };
    }
    const quota = account.SendQuota;
    const usage = quota
      ? `, ${quota.SentLast24Hours ?? 0} of ${quota.Max24HourSend ?? "?"} mails sent in the last 24 h`
      : "";
    if (account.ProductionAccessEnabled === false) {
      return {
        check,
        status: "WARN",
        message: `the account is in the SES sandbox${where}: mail goes only to verified recipients${usage}`,
        fix: "verify every recipient (aws sesv2 create-email-identity --email-identity person@example.org) or request production access (docs/deploy.md section 4)",
      };
    }
    if (account.EnforcementStatus && account.EnforcementStatus !== "HEALTHY") {
      return {
        check,
        status: "WARN",
        message: `enforcement status is ${account.EnforcementStatus}${where}: SES may pause sending${usage}`,
        fix: "see the SES account dashboard (bounce and complaint rates) and fix the cause",
      };
    }
    return { check, status: "PASS", message: `production access, sending enabled${usage}` };
  } catch (error) {
    return failed(check, error, env, { action: "ses:GetAccount", emulator: LOCAL_SES });
  }
}

async function configurationSetCheck(env: DoctorEnvironment): Promise<DoctorResult[]> {
  const name = env.configurationSet;
  if (!name) return [];
  const check = "SES configuration set";
  try {
    await env.ses().send(new GetConfigurationSetCommand({ ConfigurationSetName: name }));
    return [{ check, status: "PASS", message: `${name} exists` }];
  } catch (error) {
    if (errorName(error) === "NotFoundException") {
      return [
        {
          check,
          status: "FAIL",
          message: `${name} does not exist: SES refuses every notification sent through it`,
          fix: `create it (aws sesv2 create-configuration-set --configuration-set-name ${name}) or redeploy without sesConfigurationSet`,
        },
      ];
    }
    return [failed(check, error, env, { action: "ses:GetConfigurationSet", emulator: LOCAL_SES })];
  }
}

const NO_LOCAL_SCHEDULER =
  "the local runtime has no EventBridge Scheduler server: its scheduler and heartbeat run inside `npm start`";

/** The schedule group exists and the stack's clock and heartbeat schedules in it are ENABLED. */
async function scheduleChecks(env: DoctorEnvironment): Promise<DoctorResult[]> {
  const group = env.scheduleGroup;
  if (!env.scheduler) {
    return [
      { check: "schedule group", status: "SKIP", message: NO_LOCAL_SCHEDULER, fix: "see its dashboard" },
      { check: "clock schedule", status: "SKIP", message: NO_LOCAL_SCHEDULER, fix: "see its dashboard" },
      { check: "heartbeat schedule", status: "SKIP", message: NO_LOCAL_SCHEDULER, fix: "see its dashboard" },
    ];
  }
  const scheduler = env.scheduler();
  const redeploy = "redeploy the stack (npx cdk deploy -c ... with the same settings)";
  const groupResult: Promise<DoctorResult> = scheduler
    .send(new GetScheduleGroupCommand({ Name: group }))
    .then(
      (found): DoctorResult =>
        found.State === "ACTIVE"
          ? { check: "schedule group", status: "PASS", message: `${group} is ACTIVE` }
          : {
              check: "schedule group",
              status: "FAIL",
              message: `${group} is ${found.State ?? "in an unknown state"}`,
              fix: redeploy,
            },
      (error): DoctorResult =>
        errorName(error) === "ResourceNotFoundException"
          ? {
              check: "schedule group",
              status: "FAIL",
              message: `no schedule group ${group}${env.region ? ` in ${env.region}` : ""}`,
              fix: "deploy the stack, or pass --stack <namePrefix> if it has another name",
            }
          : failed("schedule group", error, env, { action: "scheduler:GetScheduleGroup" }),
    );
  // The clock drives every monitor (the fan-out); the heartbeat proves the ticks path.
  const stackSchedule = (check: string, name: string, alarm: string): Promise<DoctorResult> =>
    scheduler.send(new GetScheduleCommand({ GroupName: group, Name: name })).then(
      (found): DoctorResult =>
        found.State === "ENABLED"
          ? {
              check,
              status: "PASS",
              message: `${name} is ENABLED (${found.ScheduleExpression ?? "no expression"})`,
            }
          : {
              check,
              status: "FAIL",
              message: `${name} is ${found.State ?? "in an unknown state"}: the ${alarm} alarm will fire`,
              fix: redeploy,
            },
      (error): DoctorResult =>
        errorName(error) === "ResourceNotFoundException"
          ? { check, status: "FAIL", message: `no schedule ${name} in group ${group}`, fix: redeploy }
          : failed(check, error, env, { action: "scheduler:GetSchedule" }),
    );
  const clockResult = stackSchedule("clock schedule", CLOCK_SCHEDULE_NAME, "clock-missing");
  const heartbeatResult = stackSchedule("heartbeat schedule", HEARTBEAT_ID, "heartbeat-missing");
  return Promise.all([groupResult, clockResult, heartbeatResult]);
}

const QUEUE_MISSING = new Set(["QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"]);

/** Attributes of a queue, or a FAIL result. */
async function queueAttributes(
  env: DoctorEnvironment,
  check: string,
  url: string,
): Promise<{ attributes: Record<string, string> } | { failure: DoctorResult }> {
  try {
    const { Attributes = {} } = await env.sqs().send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: [
          "ApproximateNumberOfMessages",
          "ApproximateNumberOfMessagesNotVisible",
          "RedrivePolicy",
        ],
      }),
    );
    return { attributes: Attributes };
  } catch (error) {
    if (QUEUE_MISSING.has(errorName(error))) {
      return {
        failure: {
          check,
          status: "FAIL",
          message: `${url} does not exist`,
          fix: "redeploy the stack, or check --stack and the region",
        },
      };
    }
    return { failure: failed(check, error, env, { action: "sqs:GetQueueAttributes" }) };
  }
}

const count = (value: string | undefined) => Number(value ?? 0) || 0;

/** A queue and the dead-letter queue its RedrivePolicy names; the DLQ's depth is a WARN. */
async function queueChecks(
  env: DoctorEnvironment,
  what: string,
  url: () => Promise<string>,
  deadLetterHint: string,
): Promise<DoctorResult[]> {
  let queueUrl: string;
  try {
    queueUrl = await url();
  } catch (error) {
    return [failed(what, error, env, { action: "sqs:ListQueues" })];
  }
  const read = await queueAttributes(env, what, queueUrl);
  if ("failure" in read) return [read.failure];
  const { attributes } = read;
  const waiting = count(attributes.ApproximateNumberOfMessages);
  const inFlight = count(attributes.ApproximateNumberOfMessagesNotVisible);
  const results: DoctorResult[] = [
    { check: what, status: "PASS", message: `${queueUrl}: ${waiting} waiting, ${inFlight} in flight` },
  ];
  const dlqCheck = `${what} DLQ`;
  let targetArn: string | undefined;
  try {
    targetArn = (JSON.parse(attributes.RedrivePolicy ?? "{}") as { deadLetterTargetArn?: string })
      .deadLetterTargetArn;
  } catch {
    targetArn = undefined;
  }
  const arn = targetArn?.split(":");
  if (!arn || arn.length < 6) {
    results.push({
      check: dlqCheck,
      status: "FAIL",
      message: `${queueUrl} has no dead-letter queue (no RedrivePolicy)`,
      fix: "redeploy the stack",
    });
    return results;
  }
  const [name, account] = [arn[5] as string, arn[4] as string];
  try {
    const { QueueUrl: dlqUrl } = await env
      .sqs()
      .send(
        new GetQueueUrlCommand({ QueueName: name, ...(account ? { QueueOwnerAWSAccountId: account } : {}) }),
      );
    if (!dlqUrl) throw new CliError(`no URL for the dead-letter queue ${name}`);
    const dlqRead = await queueAttributes(env, dlqCheck, dlqUrl);
    if ("failure" in dlqRead) {
      results.push(dlqRead.failure);
    } else {
      const dlq = dlqRead.attributes;
      const depth = count(dlq.ApproximateNumberOfMessages) + count(dlq.ApproximateNumberOfMessagesNotVisible);
      results.push(
        depth > 0
          ? {
              check: dlqCheck,
              status: "WARN",
              message: `${dlqUrl} holds ${depth} message${depth === 1 ? "" : "s"}: ${deadLetterHint}`,
              fix: `read them (aws sqs receive-message --queue-url ${dlqUrl} --attribute-names All --message-attribute-names All), fix the cause, then purge or redrive (docs/deploy.md section 8)`,
            }
          : { check: dlqCheck, status: "PASS", message: `${dlqUrl}: empty` },
      );
    }
  } catch (error) {
    results.push(
      QUEUE_MISSING.has(errorName(error))
        ? {
            check: dlqCheck,
            status: "FAIL",
            message: `the dead-letter queue ${name} does not exist`,
            fix: "redeploy the stack",
          }
        : failed(dlqCheck, error, env, { action: "sqs:GetQueueUrl" }),
    );
  }
  return results;
}

async function tableCheck(env: DoctorEnvironment): Promise<DoctorResult> {
  const check = "Monitors table";
  let tableName: string;
  try {
    tableName = await env.tableName();
  } catch (error) {
    return failed(check, error, env, { action: "dynamodb:ListTables" });
  }
  try {
    const { Table } = await env.dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    const status = Table?.TableStatus ?? "UNKNOWN";
    if (!Table?.StreamSpecification?.StreamEnabled) {
      return {
        check,
        status: "FAIL",
        message: `${tableName} has no stream: schedule-sync never hears of config changes`,
        fix: "redeploy the stack; point --table at the stack's MonitorsTableName output",
      };
    }
    if (status !== "ACTIVE") {
      return {
        check,
        status: status === "UPDATING" ? "WARN" : "FAIL",
        message: `${tableName} is ${status}`,
        fix: "wait for the table to be ACTIVE, then run doctor again",
      };
    }
    return {
      check,
      status: "PASS",
      message: `${tableName} is ACTIVE, stream on, ${plural(Table.ItemCount ?? 0, "item")} (updated every ~6 h)`,
    };
  } catch (error) {
    if (errorName(error) === "ResourceNotFoundException") {
      return {
        check,
        status: "FAIL",
        message: `no table ${tableName}${env.region ? ` in ${env.region}` : ""}`,
        fix: "pass --table (the stack output MonitorsTableName) or --stack, and check the region",
      };
    }
    return failed(check, error, env, { action: "dynamodb:DescribeTable" });
  }
}

/** The one test mail, rendered like every Watchkeeper mail and sent through the same notifier. */
async function testMail(env: DoctorEnvironment, to: string): Promise<DoctorResult> {
  const check = "test mail";
  if (!env.sender) {
    return {
      check,
      status: "FAIL",
      message: "not sent: no sender address given",
      fix: "pass --sender <the stack's senderEmail>",
    };
  }
  const at = env.now.toISOString();
  const { text, html } = renderEmailBody(
    "This is a test mail from `watchkeeper doctor`: the sender can reach you.",
    [
      ["Stack", headerSafe(env.stack)],
      ["Sender", env.sender],
      ["Sent at", at],
    ],
    [{ body: "Nothing to do: monitors' notifications come from the same address." }],
  );
  try {
    const notifier = new SesNotifier(env.sender, env.ses(), env.configurationSet);
    const { messageId } = await notifier.send({
      to: [to],
      subject: headerSafe(`[Watchkeeper] doctor test mail (${env.stack})`),
      text,
      html,
    });
    return {
      check,
      status: "PASS",
      message: `sent from ${env.sender} to ${to}: MessageId ${messageId}${env.inboxUrl ? ` (see ${env.inboxUrl})` : ""}`,
      messageId,
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      check,
      status: "FAIL",
      message: `not sent from ${env.sender} to ${to}: ${reason}`,
      fix: "see the sender identity and SES account lines: an unverified sender, or a sandbox recipient that is not verified",
    };
  }
}

/** Every check, in a stable order; independent ones run at the same time. */
export async function runDoctor(env: DoctorEnvironment): Promise<DoctorResult[]> {
  const groups = await Promise.all([
    senderChecks(env),
    accountCheck(env).then((result) => [result]),
    configurationSetCheck(env),
    scheduleChecks(env),
    queueChecks(
      env,
      "ticks queue",
      env.ticksQueueUrl,
      "ticks the orchestrator rejected or failed on; those runs were skipped",
    ),
    queueChecks(
      env,
      "delivery-retry queue",
      env.deliveryRetryQueueUrl,
      "delivery retries the orchestrator failed on; the mails wait in their monitors' outboxes",
    ),
    tableCheck(env).then((result) => [result]),
  ]);
  const results = groups.flat();
  // After the checks: the mail's result reads against the sender and account lines above.
  if (env.testMailTo) results.push(await testMail(env, env.testMailTo));
  return results;
}

export function summarize(results: readonly DoctorResult[]): Record<Lowercase<DoctorStatus>, number> {
  const summary = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const result of results) summary[result.status.toLowerCase() as Lowercase<DoctorStatus>]++;
  return summary;
}
