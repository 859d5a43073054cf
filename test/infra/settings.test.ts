import { readFileSync } from "node:fs";
import { App, Stack } from "aws-cdk-lib";
import { Annotations, Match } from "aws-cdk-lib/assertions";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addWatchkeeper } from "../../lib/app.ts";
import {
  CONTEXT_KEYS,
  PLACEHOLDER_SENDER_EMAIL,
  parseSettings,
  WatchkeeperConfigError,
} from "../../lib/settings.ts";
import { ALLOW_PLACEHOLDER_SENDER } from "../../lib/watchkeeper-stack.ts";
import { type SynthesizedWatchkeeper, synthWatchkeeper, withoutCdkValidation } from "../support/cdk.ts";

// CloudFormation schema validation of the full template is slow and runs in stack.test.ts; these
// synths check context handling and cdk-nag wiring only.
withoutCdkValidation(afterAll);

describe("context validation", () => {
  it("applies documented defaults", () => {
    expect(parseSettings({ senderEmail: "alerts@example.org", operatorEmail: "ops@example.org" })).toEqual({
      senderEmail: "alerts@example.org",
      senderIdentity: { kind: "email", email: "alerts@example.org" },
      operatorEmail: "ops@example.org",
      defaultTimezone: "America/Chicago",
      logRetentionDays: 30,
      namePrefix: "watchkeeper",
      checkReadArns: [],
      checkSecretArns: [],
      checkSecretKmsKeyArns: [],
      checkAllowAddresses: [],
      channelTopicArns: [],
      channelTopicKmsKeyArns: [],
      channelSecretArns: [],
      channelSecretKmsKeyArns: [],
      deliveryBudgetHours: 24,
      stateHeartbeatMinutes: 15,
      defaultChannels: [],
      orchestratorMaxConcurrency: 50,
      orchestratorReservedConcurrency: 0,
      sesConfigurationSet: undefined,
      createSenderIdentity: false,
      checkAlarmReads: false,
      checkMetricReads: false,
      dashboard: true,
      ackLinkDays: 7,
      placeholders: [],
    });
  });

  it("creates the sender identity only when told to, from CLI strings or cdk.json booleans", () => {
    expect(parseSettings({}).createSenderIdentity).toBe(false);
    expect(parseSettings({ createSenderIdentity: "true" }).createSenderIdentity).toBe(true);
    expect(parseSettings({ createSenderIdentity: true }).createSenderIdentity).toBe(true);
    expect(parseSettings({ createSenderIdentity: "false" }).createSenderIdentity).toBe(false);
    expect(parseSettings({ createSenderIdentity: false }).createSenderIdentity).toBe(false);
    expect(() => parseSettings({ createSenderIdentity: "yes" })).toThrow(
      "-c createSenderIdentity: must be true or false",
    );
  });

  it.each([
    ["0", /at least 1 hour/],
    ["200", /at most 168 hours/],
    ["1.5", /whole number/],
    ["a day", /number of hours/],
  ])("refuses deliveryBudgetHours %j", (value, message) => {
    expect(() => parseSettings({ deliveryBudgetHours: value })).toThrow(message);
  });

  it("keeps ack links shorter than the link key's rotation period", () => {
    expect(parseSettings({ ackLinkDays: "29" })).toMatchObject({ ackLinkDays: 29 });
    expect(() => parseSettings({ ackLinkDays: "30" })).toThrow(/at most 29 days/);
    expect(() => parseSettings({ ackLinkDays: "0" })).toThrow(/at least 1 day/);
  });

  it("bounds the orchestrator's concurrency, and refuses a reservation its event sources do not fit in", () => {
    expect(
      parseSettings({ orchestratorMaxConcurrency: "100", orchestratorReservedConcurrency: "102" }),
    ).toMatchObject({ orchestratorMaxConcurrency: 100, orchestratorReservedConcurrency: 102 });
    expect(() => parseSettings({ orchestratorMaxConcurrency: "1" })).toThrow(/at least 2/);
    expect(() => parseSettings({ orchestratorMaxConcurrency: "5000" })).toThrow(/at most 1000/);
    expect(() => parseSettings({ orchestratorReservedConcurrency: "20" })).toThrow(
      /at least 52: orchestratorMaxConcurrency \(50\) plus 2 for delivery retries/,
    );
  });

  it("takes stateHeartbeatMinutes from context strings, 0 (every tick writes) to a day", () => {
    expect(parseSettings({ stateHeartbeatMinutes: "60" }).stateHeartbeatMinutes).toBe(60);
    expect(parseSettings({ stateHeartbeatMinutes: 0 }).stateHeartbeatMinutes).toBe(0);
    expect(() => parseSettings({ stateHeartbeatMinutes: "-1" })).toThrow(/0 \(write every tick\) or more/);
    expect(() => parseSettings({ stateHeartbeatMinutes: "2000" })).toThrow(/at most 1440 minutes/);
    expect(() => parseSettings({ stateHeartbeatMinutes: "7.5" })).toThrow(/whole number of minutes/);
  });

  it("takes defaultChannels as channel names, comma-separated or a list, and refuses anything else", () => {
    const base = { senderEmail: "alerts@example.org", operatorEmail: "ops@example.org" };
    expect(parseSettings({ ...base, defaultChannels: "ops-slack, pager,ops-slack" }).defaultChannels).toEqual(
      ["ops-slack", "pager"],
    );
    expect(parseSettings({ ...base, defaultChannels: ["pager"] }).defaultChannels).toEqual(["pager"]);
    expect(() => parseSettings({ ...base, defaultChannels: "Ops Slack" })).toThrow(
      /-c defaultChannels: .*"Ops Slack"/,
    );
  });

  it("takes deliveryBudgetHours from context strings", () => {
    expect(parseSettings({ deliveryBudgetHours: "48" }).deliveryBudgetHours).toBe(48);
  });

  it("derives the sender from senderDomain and verifies the domain", () => {
    expect(parseSettings({ senderDomain: "example.org" })).toMatchObject({
      senderEmail: "watchkeeper@example.org",
      senderIdentity: { kind: "domain", domain: "example.org" },
    });
    expect(
      parseSettings({ senderDomain: "example.org", senderEmail: "alerts@mail.example.org" }).senderEmail,
    ).toBe("alerts@mail.example.org");
  });

  it("uses a placeholder sender when none is given, and says so", () => {
    const settings = parseSettings({});
    expect(settings.senderEmail).toBe(PLACEHOLDER_SENDER_EMAIL);
    expect(settings.placeholders).toEqual(["senderEmail", "operatorEmail"]);
  });

  it.each([
    [{ senderEmail: "not-an-address" }, "-c senderEmail: must be an email address"],
    [{ operatorEmail: "ops@" }, "-c operatorEmail: must be an email address"],
    [{ senderDomain: "https://example.org" }, "-c senderDomain: must be a domain name"],
    [
      { senderDomain: "example.org", senderEmail: "a@example.com" },
      "must be an address in senderDomain example.org",
    ],
    [{ defaultTimezone: "Central" }, "-c defaultTimezone: must be an IANA timezone"],
    [
      { logRetentionDays: "45" },
      "-c logRetentionDays: must be one of CloudWatch Logs' retention periods: 1, 3, 5",
    ],
    [{ logRetentionDays: "a month" }, "-c logRetentionDays: must be a number of days"],
    [{ namePrefix: "Watch Keeper" }, "-c namePrefix: must start with a lowercase letter"],
    [
      { checkReadArns: "arn:aws:iam::123456789012:role/admin" },
      "-c checkReadArns.0: must list SQS queue, DynamoDB table, CloudWatch alarm, Lambda function, S3 bucket",
    ],
    [{ sesConfigurationSet: "my events" }, "-c sesConfigurationSet: must be an SES configuration set name"],
    [{ sesConfigurationSet: "x".repeat(65) }, "at most 64 letters, digits, hyphens and underscores"],
  ])("rejects %j with a clear message", (context, message) => {
    expect(() => parseSettings(context)).toThrow(WatchkeeperConfigError);
    expect(() => parseSettings(context)).toThrow(message);
  });

  it("accepts SES configuration set names by SES's rules", () => {
    expect(parseSettings({ sesConfigurationSet: "Watchkeeper_events-1" }).sesConfigurationSet).toBe(
      "Watchkeeper_events-1",
    );
    expect(parseSettings({ sesConfigurationSet: "x".repeat(64) }).sesConfigurationSet).toHaveLength(64);
  });

  it.each([
    ["senderEmial", "senderEmail"],
    ["SenderEmail", "senderEmail"],
    ["sender-email", "senderEmail"],
    ["operatorMail", "operatorEmail"],
    ["namePrefx", "namePrefix"],
    ["sesConfigSet", undefined],
    ["allowPlaceholderSender", undefined],
  ])("refuses the unknown context key %j, naming the likely setting", (key, meant) => {
    const attempt = () => parseSettings({ [key]: "alerts@example.org" });
    expect(attempt).toThrow(WatchkeeperConfigError);
    expect(attempt).toThrow(
      meant
        ? `-c ${key}: not a Watchkeeper setting; did you mean ${meant}?`
        : `-c ${key}: not a Watchkeeper setting (settings: ${CONTEXT_KEYS.join(", ")})`,
    );
  });

  it("accepts the CDK's own context keys: cdk.json's feature flags, CLI toggles, lookups", () => {
    const cdkJson = JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8"));
    expect(() =>
      parseSettings({
        ...cdkJson.context,
        "aws:cdk:enable-path-metadata": true,
        "aws:cdk:bundling-stacks": [],
        "aws-cdk:enableDiffNoFail": true,
        "cdk-migrate": true,
        "availability-zones:account=123456789012:region=eu-west-1": ["eu-west-1a"],
        "acknowledged-issue-numbers": [32775],
        senderEmail: "alerts@example.org",
      }),
    ).not.toThrow();
  });

  it("fails the app on a misspelled key given with -c", () => {
    const app = new App({ context: { senderEmial: "alerts@example.org" } });
    expect(() => addWatchkeeper(app)).toThrow(
      /senderEmial: not a Watchkeeper setting; did you mean senderEmail/,
    );
    expect(app.node.children).toHaveLength(0);
  });

  it("lists every problem at once", () => {
    expect(() => parseSettings({ senderEmail: "x", namePrefix: "X", defaultTimezone: "Nowhere" })).toThrow(
      /senderEmail.*\n.*defaultTimezone.*\n.*namePrefix/s,
    );
  });

  it("accepts CLI strings and cdk.json values alike", () => {
    expect(
      parseSettings({ logRetentionDays: 90, checkReadArns: ["arn:aws:sqs:us-east-1:123456789012:q"] }),
    ).toMatchObject({ logRetentionDays: 90, checkReadArns: ["arn:aws:sqs:us-east-1:123456789012:q"] });
    expect(parseSettings({ senderEmail: "  ", operatorEmail: "" }).placeholders).toEqual([
      "senderEmail",
      "operatorEmail",
    ]);
  });

  it("fails the app before building anything when the context is invalid", () => {
    const app = new App({ context: { senderEmail: "nope" } });
    expect(() => addWatchkeeper(app)).toThrow(WatchkeeperConfigError);
    expect(app.node.children).toHaveLength(0);
  });
});

describe("synth with no context (what CI runs)", () => {
  let synthesized: SynthesizedWatchkeeper;
  beforeAll(() => {
    synthesized = synthWatchkeeper({});
  });
  afterAll(() => synthesized?.cleanup());

  it("warns that the placeholder sender and missing operator email must be replaced before deploying", () => {
    const annotations = Annotations.fromStack(synthesized.stack);
    annotations.hasWarning("/Watchkeeper", Match.stringLikeRegexp(`placeholder ${PLACEHOLDER_SENDER_EMAIL}`));
    annotations.hasWarning("/Watchkeeper", Match.stringLikeRegexp("No operatorEmail"));
  });

  it("makes CloudFormation refuse the template unless the deployer passes AllowPlaceholderSender=true", () => {
    const { template } = synthesized;
    template.hasParameter(ALLOW_PLACEHOLDER_SENDER, {
      Type: "String",
      Default: "false",
      AllowedValues: ["false", "true"],
    });
    expect(template.toJSON().Rules.RefusePlaceholderSender).toEqual({
      Assertions: [
        {
          Assert: { "Fn::Equals": [{ Ref: ALLOW_PLACEHOLDER_SENDER }, "true"] },
          AssertDescription: expect.stringContaining(`placeholder ${PLACEHOLDER_SENDER_EMAIL}`),
        },
      ],
    });
  });

  it("subscribes nobody and creates no identity for a made-up address", () => {
    const { template } = synthesized;
    template.resourceCountIs("AWS::SNS::Subscription", 0);
    template.resourceCountIs("AWS::SES::EmailIdentity", 0);
  });
});

describe("synth with a sender domain", () => {
  let synthesized: SynthesizedWatchkeeper;
  beforeAll(() => {
    synthesized = synthWatchkeeper({ senderDomain: "example.org", operatorEmail: "ops@example.org" });
  });
  afterAll(() => synthesized?.cleanup());

  it("uses the existing domain identity (no resource, no DKIM outputs) and sends from watchkeeper@<domain>", () => {
    const { template } = synthesized;
    template.resourceCountIs("AWS::SES::EmailIdentity", 0);
    expect(Object.keys(template.findOutputs("*")).filter((id) => id.includes("DkimRecord"))).toEqual([]);
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ SENDER_EMAIL: "watchkeeper@example.org" }) },
    });
    Annotations.fromStack(synthesized.stack).hasNoWarning("*", Match.stringLikeRegexp("placeholder"));
  });

  it("deploys without the placeholder parameter or its rule", () => {
    const json = synthesized.template.toJSON();
    expect(Object.keys(json.Parameters ?? {})).not.toContain(ALLOW_PLACEHOLDER_SENDER);
    expect(Object.keys(json.Rules ?? {})).not.toContain("RefusePlaceholderSender");
  });
});

describe("synth creating the sender identity (createSenderIdentity=true)", () => {
  let synthesized: SynthesizedWatchkeeper;
  beforeAll(() => {
    synthesized = synthWatchkeeper({ senderDomain: "example.org", createSenderIdentity: "true" });
  });
  afterAll(() => synthesized?.cleanup());

  it("creates the domain identity, retained unless its own creation rolls back, and prints its DKIM records", () => {
    const { template } = synthesized;
    const identities = Object.values(template.findResources("AWS::SES::EmailIdentity"));
    expect(identities).toHaveLength(1);
    expect(identities[0]).toMatchObject({
      Properties: { EmailIdentity: "example.org" },
      DeletionPolicy: "RetainExceptOnCreate",
      UpdateReplacePolicy: "Retain",
    });
    const dkim = Object.entries(template.findOutputs("*")).filter(([id]) => id.includes("DkimRecord"));
    expect(dkim).toHaveLength(3);
    for (const [, output] of dkim) expect(JSON.stringify(output.Value)).toContain("CNAME");
  });

  it("keeps the logical id identity-creating stacks had before the setting existed", () => {
    // A stack deployed before createSenderIdentity created Sender/Identity under this id; the same
    // id is what lets `-c createSenderIdentity=true` adopt it (adding the Retain) instead of replacing it.
    expect(Object.keys(synthesized.template.findResources("AWS::SES::EmailIdentity"))).toEqual([
      "SenderIdentity814F01AC",
    ]);
  });

  it("creates an email identity for senderEmail, also retained", () => {
    const email = synthWatchkeeper({ senderEmail: "alerts@example.org", createSenderIdentity: true });
    try {
      email.template.hasResource("AWS::SES::EmailIdentity", {
        Properties: Match.objectLike({ EmailIdentity: "alerts@example.org" }),
        DeletionPolicy: "RetainExceptOnCreate",
      });
      expect(Object.keys(email.template.findOutputs("*")).filter((id) => id.includes("DkimRecord"))).toEqual(
        [],
      );
    } finally {
      email.cleanup();
    }
  });
});

describe("synth with an SES configuration set", () => {
  let synthesized: SynthesizedWatchkeeper;
  beforeAll(() => {
    synthesized = synthWatchkeeper({
      senderEmail: "alerts@example.org",
      sesConfigurationSet: "watchkeeper-events",
    });
  });
  afterAll(() => synthesized?.cleanup());

  /** arn:<partition>:ses:<region>:<account>:configuration-set/<name>, as the template spells it. */
  const configurationSetArn = () =>
    synthesized.stack.resolve(
      synthesized.stack.formatArn({
        service: "ses",
        resource: "configuration-set",
        resourceName: "watchkeeper-events",
      }),
    );

  it.each(["Orchestrator", "ScheduleSync"])(
    "%s: sends through it (SES_CONFIGURATION_SET) and may use exactly that configuration set",
    (name) => {
      const { template } = synthesized;
      const [fn] = Object.values(template.findResources("AWS::Lambda::Function")).filter((resource) =>
        String(resource.Metadata?.["aws:cdk:path"]).includes(`${name}/Lambda/Function`),
      );
      expect(fn?.Properties.Environment.Variables.SES_CONFIGURATION_SET).toBe("watchkeeper-events");
      const roleId = fn?.Properties.Role["Fn::GetAtt"][0];
      const statements = Object.values(template.findResources("AWS::IAM::Policy"))
        .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
        .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
        .filter((statement) => [statement.Action].flat().includes("ses:SendEmail"));
      expect(JSON.stringify(configurationSetArn())).toMatch(
        /:ses:".*"AWS::Region".*"AWS::AccountId".*":configuration-set\/watchkeeper-events"/,
      );
      expect(
        statements.filter((statement) => JSON.stringify(statement.Resource).includes("configuration-set")),
      ).toEqual([{ Action: "ses:SendEmail", Effect: "Allow", Resource: configurationSetArn() }]);
    },
  );
});

describe("cdk-nag wiring", () => {
  it("fails synthesis on an unacknowledged AwsSolutions finding", () => {
    const cdkJson = JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8"));
    const app = new App({ context: { ...cdkJson.context, "aws:cdk:bundling-stacks": [] } });
    addWatchkeeper(app);
    // A queue without SSL enforcement or a DLQ: AwsSolutions-SQS3 and SQS4 must stop the synth.
    new Queue(new Stack(app, "Careless"), "Queue");
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
  });
});
