import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSettings, WatchkeeperConfigError } from "../../lib/settings.ts";
import {
  orchestratorStatements,
  otherRolesStatements,
  type Statement,
  type SynthesizedWatchkeeper,
  synthWatchkeeper,
  validationReport,
} from "../support/cdk.ts";

/**
 * The stack settings channelTopicArns / channelTopicKmsKeyArns / channelSecretArns /
 * channelSecretKmsKeyArns (issue 15).
 */

// Validation stays on (cdk-nag runs at synth, and a finding fails it): the grants must be clean.

const TOPIC = "arn:aws:sns:eu-west-1:123456789012:oncall-sms";
const FIFO_TOPIC = "arn:aws:sns:eu-west-1:123456789012:oncall.fifo";
const SLACK_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:watchkeeper/slack-AbCdEf";
const CHECK_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:partner/api-Zz9Yy8";
const PARAMETER = "arn:aws:ssm:eu-west-1:123456789012:parameter/watchkeeper/pagerduty";
const KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const TOPIC_KEY = "arn:aws:kms:eu-west-1:123456789012:key/9876fedc-12ab-34cd-56ef-1234567890ab";

const withAction = (statements: Statement[], prefix: string) =>
  statements.filter((statement) => [statement.Action].flat().some((action) => action.startsWith(prefix)));

describe("channel settings", () => {
  it("are empty by default and take comma-separated strings or lists", () => {
    expect(parseSettings({})).toMatchObject({
      channelTopicArns: [],
      channelTopicKmsKeyArns: [],
      channelSecretArns: [],
      channelSecretKmsKeyArns: [],
    });
    expect(parseSettings({ channelTopicArns: ` ${TOPIC},${FIFO_TOPIC},${TOPIC}` }).channelTopicArns).toEqual([
      TOPIC,
      FIFO_TOPIC,
    ]);
    expect(parseSettings({ channelSecretArns: [SLACK_SECRET, PARAMETER] }).channelSecretArns).toEqual([
      SLACK_SECRET,
      PARAMETER,
    ]);
  });

  it.each([
    [
      "channelTopicArns",
      "arn:aws:sns:eu-west-1:123456789012:*",
      /-c channelTopicArns\.0: must list SNS topic ARNs/,
    ],
    ["channelTopicArns", "oncall-sms", /must list SNS topic ARNs/],
    [
      "channelSecretArns",
      `${SLACK_SECRET}#url`,
      /-c channelSecretArns\.0: must list secret ARNs without #jsonKey/,
    ],
    ["channelSecretArns", "watchkeeper/slack", /must list Secrets Manager secret ARNs/],
    ["channelSecretKmsKeyArns", "arn:aws:kms:eu-west-1:123456789012:alias/x", /must list KMS key ARNs/],
    ["channelTopicKmsKeyArns", "arn:aws:kms:eu-west-1:123456789012:alias/aws/sns", /must list KMS key ARNs/],
  ])("refuses in %s: %s", (key, value, message) => {
    const attempt = () =>
      parseSettings({ channelSecretArns: SLACK_SECRET, channelTopicArns: TOPIC, [key]: value });
    expect(attempt).toThrow(WatchkeeperConfigError);
    expect(attempt).toThrow(message);
  });

  it("refuses keys without any channel secret or topic", () => {
    expect(() => parseSettings({ channelSecretKmsKeyArns: KEY })).toThrow(
      "-c channelSecretKmsKeyArns: grants decryption for the secrets in channelSecretArns, which lists none",
    );
    expect(() => parseSettings({ channelTopicKmsKeyArns: TOPIC_KEY })).toThrow(
      "-c channelTopicKmsKeyArns: grants encryption for the topics in channelTopicArns, which lists none",
    );
  });
});

describe("synth without channels", () => {
  let synthesized: SynthesizedWatchkeeper;
  beforeAll(() => {
    synthesized = synthWatchkeeper({ senderEmail: "alerts@example.org", operatorEmail: "ops@example.org" });
  });
  afterAll(() => synthesized?.cleanup());

  it("grants no role sns:Publish on any channel topic", () => {
    const orchestrator = orchestratorStatements(synthesized);
    expect(withAction(orchestrator, "sns:")).toEqual([]);
  });
});

describe("synth with channels", () => {
  let synthesized: SynthesizedWatchkeeper;
  beforeAll(() => {
    synthesized = synthWatchkeeper({
      senderEmail: "alerts@example.org",
      operatorEmail: "ops@example.org",
      checkSecretArns: CHECK_SECRET,
      channelTopicArns: `${TOPIC},${FIFO_TOPIC}`,
      channelTopicKmsKeyArns: TOPIC_KEY,
      channelSecretArns: `${SLACK_SECRET},${PARAMETER},${CHECK_SECRET}`,
      channelSecretKmsKeyArns: KEY,
      // The dashboard's ack link key (orchestrator and web function) is asserted in
      // dashboard.test.ts; these tests are about the channels' grants.
      dashboard: "false",
    });
  });
  afterAll(() => synthesized?.cleanup());

  it("grants the orchestrator sns:Publish on exactly the topics, their key through SNS only, and the channel secrets with the checks' ones", () => {
    const statements = orchestratorStatements(synthesized);
    expect(withAction(statements, "sns:")).toEqual([
      { Effect: "Allow", Action: "sns:Publish", Resource: [TOPIC, FIFO_TOPIC] },
    ]);
    expect(withAction(statements, "secretsmanager:")).toEqual([
      { Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: [CHECK_SECRET, SLACK_SECRET] },
    ]);
    expect(withAction(statements, "ssm:")).toEqual([
      { Effect: "Allow", Action: "ssm:GetParameter", Resource: PARAMETER },
    ]);
    expect(withAction(statements, "kms:")).toEqual([
      {
        Effect: "Allow",
        Action: "kms:Decrypt",
        Resource: KEY,
        Condition: { StringLike: { "kms:ViaService": ["secretsmanager.*", "ssm.*"] } },
      },
      {
        Effect: "Allow",
        Action: ["kms:Decrypt", "kms:GenerateDataKey"],
        Resource: TOPIC_KEY,
        Condition: { StringLike: { "kms:ViaService": "sns.*" } },
      },
    ]);
  });

  it("grants no other role the topics or the secrets", () => {
    const others = otherRolesStatements(synthesized);
    const publishes = withAction(others, "sns:Publish").flatMap((statement) => [statement.Resource].flat());
    expect(publishes).not.toContain(TOPIC);
    expect(publishes).not.toContain(FIFO_TOPIC);
    for (const prefix of ["secretsmanager:", "ssm:", "kms:"]) expect(withAction(others, prefix)).toEqual([]);
  });

  it("passes cdk-nag", () => {
    const violations = validationReport(synthesized.outdir).pluginReports.flatMap((plugin) =>
      plugin.violations.map((violation) => `${plugin.pluginName}: ${violation.ruleName}`),
    );
    expect(violations).toEqual([]);
  });
});
