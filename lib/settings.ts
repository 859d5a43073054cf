import { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Node } from "constructs";
import * as z from "zod";
import { SNS_TOPIC_ARN } from "../functions/core/channels.ts";
import { parseChannelNames } from "../functions/core/delivery-targets.ts";
import { isValidTimezone } from "../functions/core/schedule.ts";
import { CONFIG_DEFAULTS, DOMAIN_NAME } from "../functions/core/schemas.ts";
import { SECRETS_MANAGER_ARN, SSM_PARAMETER_ARN } from "../functions/core/secrets.ts";
import { DELIVERY_RETRY_MAX_CONCURRENCY } from "./constants.ts";
import { DATA_FLOW_READ_ARN_FORMS, isDataFlowReadArn, isRdsClusterArn } from "./data-flow-read-arns.ts";

/**
 * Deployment settings, read from CDK context (`-c key=value` or cdk.json) and validated at synth
 * time, so that a typo fails `cdk synth` with a message instead of a half-working stack.
 */

/** Used when no sender is configured, so that CI can synth; deploy needs a real one (docs/deploy.md). */
export const PLACEHOLDER_SENDER_EMAIL = "watchkeeper@example.com";

export const CONTEXT_KEYS = [
  "senderEmail",
  "senderDomain",
  "operatorEmail",
  "defaultTimezone",
  "logRetentionDays",
  "namePrefix",
  "checkReadArns",
  "checkSecretArns",
  "checkSecretKmsKeyArns",
  "checkAllowAddresses",
  "channelTopicArns",
  "channelTopicKmsKeyArns",
  "channelSecretArns",
  "channelSecretKmsKeyArns",
  "deliveryBudgetHours",
  "orchestratorMaxConcurrency",
  "orchestratorReservedConcurrency",
  "sesConfigurationSet",
  "allowedRecipientDomains",
  "createSenderIdentity",
  "stateHeartbeatMinutes",
  "checkAlarmReads",
  "checkMetricReads",
  "defaultChannels",
  "dashboard",
  "ackLinkDays",
] as const;
export type ContextKey = (typeof CONTEXT_KEYS)[number];

// CloudWatch Logs accepts only these retention periods; "never expire" is deliberately not offered.
const RETENTION_DAYS = Object.values(RetentionDays).filter(
  (days): days is number => typeof days === "number" && days > 0 && days !== RetentionDays.INFINITE,
);

/** A list setting: a comma-separated string from `-c`, or a list from cdk.json. */
/**
 * The address policy's kinds (monitors/support/addresses.ts ADDRESS_KINDS, which an infra test
 * holds this list to; lib/ does not import the checks).
 */
export const CHECK_ADDRESS_KINDS = ["loopback", "link-local", "metadata"] as const;

const arnList = (item: z.ZodString | z.ZodType<string, string>) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((value) =>
      (Array.isArray(value) ? value : value.split(",")).map((arn) => arn.trim()).filter(Boolean),
    )
    .pipe(z.array(item));

/** `-c name=true` arrives as a string, cdk.json may hold a boolean; "false" is false. */
const booleanSetting = z
  .union([z.boolean(), z.enum(["true", "false"])], "must be true or false")
  .transform((value) => value === true || value === "true");

/** A CloudWatch alarm ARN, exactly one alarm (the `cloudwatch-alarm` check's `alarmName`). */
export const CLOUDWATCH_ALARM_ARN = /^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:[^*?\s]+$/;
/** A Lambda function ARN, unqualified or with a version or alias (the `lambda` check's function). */
export const LAMBDA_FUNCTION_ARN =
  /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?$/;

/** The forms checkReadArns accepts for the `cloudwatch-alarm` and `lambda` checks. */
function checkReadArnOfCloudWatchOrLambda(arn: string, ctx: z.core.$RefinementCtx<string>): void {
  const service = arn.split(":")[2];
  if (service === "cloudwatch" && !CLOUDWATCH_ALARM_ARN.test(arn)) {
    ctx.addIssue({
      code: "custom",
      message:
        "must list CloudWatch alarms as arn:aws:cloudwatch:<region>:<account>:alarm:<name>, without wildcards (checkAlarmReads grants every alarm)",
    });
  }
  if (service === "lambda" && !LAMBDA_FUNCTION_ARN.test(arn)) {
    ctx.addIssue({
      code: "custom",
      message:
        "must list Lambda functions as arn:aws:lambda:<region>:<account>:function:<name>[:<version or alias>], without wildcards",
    });
  }
}

/** Secrets Manager secret and SSM parameter ARNs, whole (checkSecretArns, channelSecretArns). */
const secretArnList = arnList(
  z
    .string()
    .refine(
      (arn) => !arn.includes("#"),
      "must list secret ARNs without #jsonKey: a grant covers the whole secret",
    )
    .refine(
      (arn) => arn.includes("#") || SECRETS_MANAGER_ARN.test(arn) || SSM_PARAMETER_ARN.test(arn),
      "must list Secrets Manager secret ARNs (with their six-character suffix) or SSM parameter ARNs, comma-separated, without wildcards",
    ),
).default([]);

/**
 * Customer managed KMS keys, by key ARN (checkSecretKmsKeyArns, channelSecretKmsKeyArns,
 * channelTopicKmsKeyArns).
 */
const kmsKeyArnList = arnList(
  z
    .string()
    .regex(
      /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/,
      "must list KMS key ARNs (arn:aws:kms:<region>:<account>:key/<id>; not aliases), comma-separated",
    ),
).default([]);

const ContextSchema = z
  .object({
    senderEmail: z.email("must be an email address such as alerts@example.org").optional(),
    senderDomain: z
      .string()
      .regex(DOMAIN_NAME, "must be a domain name such as example.org (no scheme, no trailing dot)")
      .optional(),
    operatorEmail: z.email("must be an email address such as ops@example.org").optional(),
    defaultTimezone: z
      .string()
      .refine(isValidTimezone, "must be an IANA timezone such as America/Chicago, Europe/Paris or UTC")
      .default(CONFIG_DEFAULTS.timezone),
    logRetentionDays: z.coerce
      .number({ message: "must be a number of days" })
      .refine((days) => RETENTION_DAYS.includes(days), {
        message: `must be one of CloudWatch Logs' retention periods: ${RETENTION_DAYS.join(", ")}`,
      })
      .default(30),
    namePrefix: z
      .string()
      .regex(
        /^[a-z][a-z0-9-]{0,29}$/,
        "must start with a lowercase letter and hold at most 30 lowercase letters, digits and hyphens",
      )
      .default("watchkeeper"),
    checkReadArns: z
      .union([z.string(), z.array(z.string())])
      .transform((value) =>
        (Array.isArray(value) ? value : value.split(",")).map((arn) => arn.trim()).filter(Boolean),
      )
      .pipe(
        z.array(
          z
            .string()
            .refine(
              (arn) =>
                /^arn:aws[a-z-]*:(sqs|dynamodb|cloudwatch|lambda):[a-z0-9-]+:\d{12}:\S+$/.test(arn) ||
                isDataFlowReadArn(arn),
              `must list SQS queue, DynamoDB table, CloudWatch alarm, Lambda function, ${DATA_FLOW_READ_ARN_FORMS}, comma-separated`,
            )
            .superRefine(checkReadArnOfCloudWatchOrLambda),
        ),
      )
      .default([]),
    checkSecretArns: secretArnList,
    checkSecretKmsKeyArns: kmsKeyArnList,
    checkAllowAddresses: arnList(
      z.enum(CHECK_ADDRESS_KINDS, {
        message: 'must list "loopback", "link-local" or "metadata", comma-separated',
      }),
    ).default([]),
    channelTopicArns: arnList(
      z
        .string()
        .regex(
          SNS_TOPIC_ARN,
          "must list SNS topic ARNs (arn:aws:sns:<region>:<account>:<topic>), comma-separated, without wildcards",
        ),
    ).default([]),
    channelTopicKmsKeyArns: kmsKeyArnList,
    channelSecretArns: secretArnList,
    channelSecretKmsKeyArns: kmsKeyArnList,
    deliveryBudgetHours: z.coerce
      .number({ message: "must be a number of hours" })
      .int("must be a whole number of hours")
      .min(1, "must be at least 1 hour")
      .max(168, "must be at most 168 hours (7 days)")
      .default(24),
    // Channel names (functions/core/channels.ts), as the orchestrator reads DEFAULT_CHANNELS.
    defaultChannels: z
      .union([z.string(), z.array(z.string())])
      .transform((value) => (Array.isArray(value) ? value.join(",") : value))
      .transform((value, ctx) => {
        try {
          return parseChannelNames(value);
        } catch (error) {
          ctx.addIssue({ code: "custom", message: (error as Error).message });
          return z.NEVER;
        }
      })
      .default([]),
    stateHeartbeatMinutes: z.coerce
      .number({ message: "must be a number of minutes" })
      .int("must be a whole number of minutes")
      .min(0, "must be 0 (write every tick) or more")
      .max(1440, "must be at most 1440 minutes (a day)")
      .default(15),
    orchestratorMaxConcurrency: z.coerce
      .number({ message: "must be a number of concurrent invocations" })
      .int("must be a whole number")
      .min(2, "must be at least 2 (the SQS event source's minimum)")
      .max(1000, "must be at most 1000 (the SQS event source's maximum)")
      .default(50),
    orchestratorReservedConcurrency: z.coerce
      .number({ message: "must be a number of concurrent executions" })
      .int("must be a whole number")
      .min(0, "must be 0 (none) or more")
      .default(0),
    // SES's rule for configuration set names (CreateConfigurationSet).
    sesConfigurationSet: z
      .string()
      .regex(
        /^[A-Za-z0-9_-]{1,64}$/,
        "must be an SES configuration set name: at most 64 letters, digits, hyphens and underscores",
      )
      .optional(),
    allowedRecipientDomains: z
      .union([z.string(), z.array(z.string())])
      .transform((value) =>
        (Array.isArray(value) ? value : value.split(","))
          .map((domain) => domain.trim().toLowerCase())
          .filter(Boolean),
      )
      .pipe(
        z.array(
          z
            .string()
            .regex(
              DOMAIN_NAME,
              "must list domain names such as example.org, comma-separated (no @, no scheme)",
            ),
        ),
      )
      .optional(),
    // `-c createSenderIdentity=true` arrives as a string, cdk.json may hold a boolean; "false" is false.
    createSenderIdentity: z
      .union([z.boolean(), z.enum(["true", "false"])], "must be true or false")
      .transform((value) => value === true || value === "true")
      .default(false),
    checkAlarmReads: booleanSetting.default(false),
    checkMetricReads: booleanSetting.default(false),
    dashboard: booleanSetting.default(true),
    ackLinkDays: z.coerce
      .number({ message: "must be a number of days" })
      .int("must be a whole number of days")
      .min(1, "must be at least 1 day")
      // Rotation runs in a window that may open up to a day before the 30 days are up: a link must
      // not outlive two rotations (only the current and the previous key verify).
      .max(29, "must be at most 29 days (the key rotates every 30 days; a link outlives one rotation only)")
      .default(7),
  })
  .superRefine((context, ctx) => {
    for (const prefix of ["check", "channel"] as const) {
      if (context[`${prefix}SecretKmsKeyArns`].length > 0 && context[`${prefix}SecretArns`].length === 0) {
        ctx.addIssue({
          code: "custom",
          path: [`${prefix}SecretKmsKeyArns`],
          message: `grants decryption for the secrets in ${prefix}SecretArns, which lists none`,
        });
      }
    }
    if (context.channelTopicKmsKeyArns.length > 0 && context.channelTopicArns.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["channelTopicKmsKeyArns"],
        message: "grants encryption for the topics in channelTopicArns, which lists none",
      });
    }
  })
  .superRefine((context, ctx) => {
    // The Data API reads the database secret with the orchestrator's permissions (the sql check).
    const secrets = context.checkSecretArns.filter((arn) => arn.split(":")[2] === "secretsmanager");
    if (context.checkReadArns.some(isRdsClusterArn) && secrets.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["checkReadArns"],
        message:
          "lists an Aurora cluster for the sql check, whose Data API calls read the database user's secret as the orchestrator: list that secret in checkSecretArns",
      });
    }
  })
  .superRefine((context, ctx) => {
    const reserved = context.orchestratorReservedConcurrency;
    // Both event sources (ticks, delivery retries) must fit, or the function throttles its own polls.
    const needed = context.orchestratorMaxConcurrency + DELIVERY_RETRY_MAX_CONCURRENCY;
    if (reserved > 0 && reserved < needed) {
      ctx.addIssue({
        code: "custom",
        path: ["orchestratorReservedConcurrency"],
        message: `must be 0 (none) or at least ${needed}: orchestratorMaxConcurrency (${context.orchestratorMaxConcurrency}) plus ${DELIVERY_RETRY_MAX_CONCURRENCY} for delivery retries`,
      });
    }
  })
  .superRefine((context, ctx) => {
    const { senderEmail, senderDomain } = context;
    if (!senderEmail || !senderDomain) return;
    const domain = senderEmail.slice(senderEmail.lastIndexOf("@") + 1).toLowerCase();
    const verified = senderDomain.toLowerCase();
    if (domain !== verified && !domain.endsWith(`.${verified}`)) {
      ctx.addIssue({
        code: "custom",
        path: ["senderEmail"],
        message: `must be an address in senderDomain ${senderDomain}: SES only sends from a verified identity`,
      });
    }
  });

export interface WatchkeeperSettings {
  /** The From address of every notification. */
  senderEmail: string;
  /** The SES identity the sender belongs to: the domain when `senderDomain` is set, else the address. */
  senderIdentity: { kind: "email"; email: string } | { kind: "domain"; domain: string };
  /** Subscribed to the operator alarms topic; none means alarms go to the topic only. */
  operatorEmail: string | undefined;
  /** @default "America/Chicago" */
  defaultTimezone: string;
  /** @default 30 */
  logRetentionDays: RetentionDays;
  /** Names the stack, the schedule group and the alarms. @default "watchkeeper" */
  namePrefix: string;
  /**
   * Resources the built-in checks read (`sqs-queue-empty`: queue ARNs, `dynamodb-freshness`: table
   * or index ARNs, `cloudwatch-alarm`: alarm ARNs, `lambda`: function ARNs, which it may invoke):
   * the orchestrator gets exactly the read it needs on each, nothing account-wide.
   * @default []
   */
  checkReadArns: string[];
  /**
   * Secrets that checks' params may reference (`{"secretRef": ...}`, docs/checks.md): Secrets
   * Manager secret ARNs and SSM parameter ARNs. The orchestrator may read exactly these
   * (secretsmanager:GetSecretValue, ssm:GetParameter) and nothing else. @default []
   */
  checkSecretArns: string[];
  /**
   * Customer managed KMS keys those secrets are encrypted with: kms:Decrypt on exactly these, and
   * only through Secrets Manager or SSM. Secrets under the AWS managed keys (aws/secretsmanager,
   * aws/ssm) need none. @default []
   */
  checkSecretKmsKeyArns: string[];
  /**
   * Address kinds the network checks (http, tcp, tls-certificate, dns) may connect to when a
   * monitor's `allowAddresses` param also names them: "loopback", "link-local", "metadata". Refused
   * by default, whatever a config item says: its writer must not aim the orchestrator at its own
   * host or the metadata service (docs/checks.md). @default []
   */
  checkAllowAddresses: Array<(typeof CHECK_ADDRESS_KINDS)[number]>;
  /**
   * SNS topics that `sns` notification channels publish to (docs/channels/sns.md): sns:Publish on
   * exactly these. @default []
   */
  channelTopicArns: string[];
  /**
   * Customer managed KMS keys that encrypt those topics (SNS server-side encryption): publishing
   * needs kms:GenerateDataKey and kms:Decrypt on the key, granted only through SNS
   * (`kms:ViaService`). The key policy must let the account's IAM policies grant it (the default
   * key policy does). Topics on the AWS managed key `alias/aws/sns` need none. @default []
   */
  channelTopicKmsKeyArns: string[];
  /**
   * Secrets that notification channels reference (webhook URLs, PagerDuty routing keys, signing
   * secrets; docs/channels/): read as checkSecretArns are, granted separately so that a channel's
   * secret need not be readable by checks' params and the other way round (both reach the same
   * role; the split documents intent and keeps each list reviewable). @default []
   */
  channelSecretArns: string[];
  /** Customer managed KMS keys of channelSecretArns (as checkSecretKmsKeyArns). @default [] */
  channelSecretKmsKeyArns: string[];
  /**
   * How long a notification that keeps failing transiently (SES throttling, 5xx, timeouts) is
   * retried before it is abandoned and the operators are alarmed. Refusals abandon at once.
   * @default 24
   */
  deliveryBudgetHours: number;
  /**
   * Write on change: a quiet healthy tick (OK after OK, nothing but bookkeeping would change)
   * writes nothing unless the monitor's persisted run is this old; then it writes the state with a
   * summary of the quiet runs. Bounds how far `lastRunDt` (health's staleness, the dashboard) may
   * lag. 0: every tick writes. @default 15
   */
  stateHeartbeatMinutes: number;
  /**
   * Channels (issue 15, `watchkeeper channel add`) that get the notifications of every monitor
   * whose config item names none; a monitor's `channels: []` opts out. @default []
   */
  defaultChannels: string[];
  /**
   * The most orchestrator invocations the ticks queue's event source runs at once (SQS event
   * source `maxConcurrency`): a fleet of hanging checks then waits in the queue instead of taking
   * the account's whole Lambda concurrency. @default 50
   */
  orchestratorMaxConcurrency: number;
  /**
   * Concurrency reserved for the orchestrator (0: none). Reserving guarantees it capacity and caps
   * it; it needs an account whose unreserved concurrency stays at 100 or more. @default 0
   */
  orchestratorReservedConcurrency: number;
  /**
   * The SES configuration set every notification is sent through (event publishing, suppression,
   * dedicated IPs). It must exist in the account and region; none: SES's defaults.
   */
  sesConfigurationSet: string | undefined;
  /**
   * The only domains notifications may be sent to (lowercase, exact: a subdomain must be listed
   * itself). Enforced by the orchestrator and schedule-sync (ALLOWED_RECIPIENT_DOMAINS: others are
   * dropped and reported as a config problem) and by IAM (`ses:Recipients`), so that whoever can
   * write the table cannot use the sender as a relay. None: any domain.
   */
  allowedRecipientDomains: string[] | undefined;
  /**
   * Whether the stack creates `senderIdentity` (retained on destroy) instead of using the one that
   * already exists in the account and region. SES identities cannot be looked up at synth, so the
   * default is the one that never creates, replaces or deletes anything. @default false
   */
  createSenderIdentity: boolean;
  /**
   * cloudwatch:DescribeAlarms on every alarm ("*"), for `cloudwatch-alarm` monitors that search by
   * prefix or look at composite alarms: CloudWatch authorizes only named metric alarms per alarm
   * ARN (those go in checkReadArns). @default false
   */
  checkAlarmReads: boolean;
  /**
   * cloudwatch:GetMetricData, for `cloudwatch-metric` monitors. The action has no resource-level
   * permissions: granted, the orchestrator may read every metric of the account and region. @default false
   */
  checkMetricReads: boolean;
  /**
   * The web dashboard (lib/dashboard.ts): Cognito user pool, HTTP API, signed ack links in mail.
   * `-c dashboard=false` leaves all of it out (mail then carries no ack or dashboard link). @default true
   */
  dashboard: boolean;
  /** How long an ack link in a mail works, in days (1-30). @default 7 */
  ackLinkDays: number;
  /** Context keys that were missing and replaced by synth-only placeholders. */
  placeholders: ContextKey[];
}

export class WatchkeeperConfigError extends Error {
  override name = "WatchkeeperConfigError";
}

/** Context values are strings from the CLI and anything from cdk.json; empty strings mean "unset". */
function normalise(raw: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    CONTEXT_KEYS.map((key) => [
      key,
      typeof raw[key] === "string" ? (raw[key] as string).trim() || undefined : raw[key],
    ]),
  );
}

/**
 * Keys the CDK, its CLI and its context providers put in the context themselves: feature flags
 * (`@aws-cdk/...`, as in cdk.json), `aws:cdk:*` and `cdk-*` toggles, context-provider lookups
 * cached in cdk.context.json (`availability-zones:account=...`), and the CLI's own records.
 */
function isCdkKey(key: string): boolean {
  return (
    /^(@aws-cdk|aws:|aws-cdk:|cdk[-:])/.test(key) ||
    key.includes(":account=") ||
    key === "acknowledged-issue-numbers" ||
    key === "cli-telemetry"
  );
}

/** Optimal string alignment distance: edits, with a swap of neighbours counting as one. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const above = d[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(above[j] as number, row[j - 1] as number, above[j - 1] as number) + 1;
      row[j] = Math.min(row[j] as number, (above[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** The setting a mistyped key most likely meant (case, separators and up to two edits apart). */
export function closestContextKey(key: string): ContextKey | undefined {
  const fold = (value: string) => value.toLowerCase().replace(/[^a-z0-9]/g, "");
  const ranked = CONTEXT_KEYS.map((known) => ({ known, distance: editDistance(fold(key), fold(known)) }))
    .filter(({ distance }) => distance <= 2)
    .sort((a, b) => a.distance - b.distance);
  return ranked[0]?.known;
}

/**
 * Every context key that is neither a Watchkeeper setting nor the CDK's own: a misspelled setting
 * (`-c senderEmial=...`) would otherwise be ignored and its default deployed.
 */
function unknownKeyIssues(raw: Record<string, unknown>): string[] {
  const known = new Set<string>(CONTEXT_KEYS);
  return Object.keys(raw)
    .filter((key) => !known.has(key) && !isCdkKey(key))
    .map((key) => {
      const meant = closestContextKey(key);
      return meant
        ? `  -c ${key}: not a Watchkeeper setting; did you mean ${meant}?`
        : `  -c ${key}: not a Watchkeeper setting (settings: ${CONTEXT_KEYS.join(", ")})`;
    });
}

export function parseSettings(raw: Record<string, unknown>): WatchkeeperSettings {
  const parsed = ContextSchema.safeParse(normalise(raw));
  const unknown = unknownKeyIssues(raw);
  if (!parsed.success || unknown.length > 0) {
    const lines = [
      ...unknown,
      ...(parsed.success ? [] : parsed.error.issues).map(
        (issue) => `  -c ${issue.path.join(".") || "(context)"}: ${issue.message}`,
      ),
    ];
    throw new WatchkeeperConfigError(`Invalid Watchkeeper context:\n${lines.join("\n")}`);
  }
  const context = parsed.data;
  const placeholders: ContextKey[] = [];
  if (!context.senderEmail && !context.senderDomain) placeholders.push("senderEmail");
  if (!context.operatorEmail) placeholders.push("operatorEmail");
  const senderEmail =
    context.senderEmail ??
    (context.senderDomain ? `watchkeeper@${context.senderDomain}` : PLACEHOLDER_SENDER_EMAIL);
  return {
    senderEmail,
    senderIdentity: context.senderDomain
      ? { kind: "domain", domain: context.senderDomain }
      : { kind: "email", email: senderEmail },
    operatorEmail: context.operatorEmail,
    defaultTimezone: context.defaultTimezone,
    logRetentionDays: context.logRetentionDays as RetentionDays,
    namePrefix: context.namePrefix,
    checkReadArns: context.checkReadArns,
    checkSecretArns: [...new Set(context.checkSecretArns)],
    checkSecretKmsKeyArns: [...new Set(context.checkSecretKmsKeyArns)],
    // Each item passed the enum above (arnList's output type is string).
    checkAllowAddresses: [
      ...new Set(context.checkAllowAddresses),
    ] as WatchkeeperSettings["checkAllowAddresses"],
    channelTopicArns: [...new Set(context.channelTopicArns)],
    channelTopicKmsKeyArns: [...new Set(context.channelTopicKmsKeyArns)],
    channelSecretArns: [...new Set(context.channelSecretArns)],
    channelSecretKmsKeyArns: [...new Set(context.channelSecretKmsKeyArns)],
    deliveryBudgetHours: context.deliveryBudgetHours,
    stateHeartbeatMinutes: context.stateHeartbeatMinutes,
    defaultChannels: context.defaultChannels,
    orchestratorMaxConcurrency: context.orchestratorMaxConcurrency,
    orchestratorReservedConcurrency: context.orchestratorReservedConcurrency,
    sesConfigurationSet: context.sesConfigurationSet,
    allowedRecipientDomains: context.allowedRecipientDomains?.length
      ? [...new Set(context.allowedRecipientDomains)]
      : undefined,
    createSenderIdentity: context.createSenderIdentity,
    checkAlarmReads: context.checkAlarmReads,
    checkMetricReads: context.checkMetricReads,
    dashboard: context.dashboard,
    ackLinkDays: context.ackLinkDays,
    placeholders,
  };
}

/** Every context key the app sees (cdk.json, cdk.context.json, `-c`), unknown ones included. */
export function settingsFromContext(node: Node): WatchkeeperSettings {
  return parseSettings(node.getAllContext() as Record<string, unknown>);
}
