import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSettings, WatchkeeperConfigError } from "../../lib/settings.ts";
import {
  allStatements,
  orchestratorStatements,
  otherRolesStatements,
  type Statement,
  type SynthesizedWatchkeeper,
  synthWatchkeeper,
  validationReport,
  withoutCdkValidation,
} from "../support/cdk.ts";

/**
 * The grants of the `cloudwatch-alarm`, `cloudwatch-metric` and `lambda` checks: alarm and function
 * ARNs in checkReadArns, and the opt-in settings checkAlarmReads / checkMetricReads.
 */

withoutCdkValidation(afterAll);

const ALARM = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-5xx";
const FUNCTION = "arn:aws:lambda:eu-west-1:123456789012:function:orders-check";
const ALIAS = "arn:aws:lambda:eu-west-1:123456789012:function:vpc-check:live";
const BASE = { senderEmail: "alerts@example.org", operatorEmail: "ops@example.org" };

describe("checkReadArns for CloudWatch alarms and Lambda functions", () => {
  it("accepts alarm ARNs and function ARNs, unqualified or with a version or alias", () => {
    expect(
      parseSettings({ checkReadArns: `${ALARM},${FUNCTION},${ALIAS},${FUNCTION}:3` }).checkReadArns,
    ).toEqual([ALARM, FUNCTION, ALIAS, `${FUNCTION}:3`]);
  });

  it.each([
    [
      "an alarm wildcard",
      "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:prod-*",
      /checkAlarmReads grants every alarm/,
    ],
    ["a dashboard", "arn:aws:cloudwatch::123456789012:dashboard/ops", /must list/],
    [
      "a function wildcard",
      "arn:aws:lambda:eu-west-1:123456789012:function:*",
      /must list Lambda functions as/,
    ],
    ["a layer", "arn:aws:lambda:eu-west-1:123456789012:layer:tools:1", /must list Lambda functions as/],
    [
      "an IAM role",
      "arn:aws:iam::123456789012:role/admin",
      /-c checkReadArns\.0: must list SQS queue, DynamoDB table, CloudWatch alarm, Lambda function, S3 bucket/,
    ],
  ])("refuses %s", (_label, value, message) => {
    const attempt = () => parseSettings({ checkReadArns: value });
    expect(attempt).toThrow(WatchkeeperConfigError);
    expect(attempt).toThrow(message);
  });

  it("reads checkAlarmReads and checkMetricReads as booleans, false by default", () => {
    expect(parseSettings({})).toMatchObject({ checkAlarmReads: false, checkMetricReads: false });
    expect(parseSettings({ checkAlarmReads: "true", checkMetricReads: true })).toMatchObject({
      checkAlarmReads: true,
      checkMetricReads: true,
    });
    expect(parseSettings({ checkAlarmReads: "false" }).checkAlarmReads).toBe(false);
    expect(() => parseSettings({ checkMetricReads: "yes" })).toThrow(
      "-c checkMetricReads: must be true or false",
    );
    expect(() => parseSettings({ checkMetricRead: "true" })).toThrow(
      "-c checkMetricRead: not a Watchkeeper setting; did you mean checkMetricReads?",
    );
  });
});

const withAction = (statements: Statement[], ...actions: string[]) =>
  statements.filter((statement) => [statement.Action].flat().some((action) => actions.includes(action)));

/** A statement on resources the stack creates (schedule-sync invoking the fan-out) is not a check's. */
const notOwnResource = (statement: Statement) => !JSON.stringify(statement.Resource).includes("Fn::GetAtt");

/** Resources as a sorted list: CDK orders and merges them as it likes. */
const resources = (statement: Statement | undefined) => [statement?.Resource ?? []].flat().map(String).sort();

const CHECK_ACTIONS = ["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData", "lambda:InvokeFunction"];

function nagViolations(synthesized: SynthesizedWatchkeeper): string[] {
  return validationReport(synthesized.outdir).pluginReports.flatMap((plugin) =>
    plugin.violations.map((violation) => `${plugin.pluginName}: ${violation.ruleName}`),
  );
}

describe("synth without CloudWatch or Lambda reads", () => {
  let synthesized: SynthesizedWatchkeeper;
  beforeAll(() => {
    synthesized = synthWatchkeeper({ ...BASE, checkReadArns: "arn:aws:sqs:eu-west-1:123456789012:feed-dlq" });
  });
  afterAll(() => synthesized?.cleanup());

  it("grants no role DescribeAlarms, GetMetricData or InvokeFunction (but the stack's own invokes)", () => {
    expect(withAction(orchestratorStatements(synthesized), ...CHECK_ACTIONS)).toEqual([]);
    expect(withAction(allStatements(synthesized), ...CHECK_ACTIONS).filter(notOwnResource)).toEqual([]);
  });
});

describe("synth with alarm and function ARNs", () => {
  let synthesized: SynthesizedWatchkeeper;
  beforeAll(() => {
    synthesized = synthWatchkeeper({ ...BASE, checkReadArns: [ALARM, FUNCTION, ALIAS] });
  });
  afterAll(() => synthesized?.cleanup());

  it("grants the orchestrator DescribeAlarms on exactly the alarm, InvokeFunction on exactly the functions", () => {
    const statements = orchestratorStatements(synthesized);
    expect(withAction(statements, "cloudwatch:DescribeAlarms")).toEqual([
      { Effect: "Allow", Action: "cloudwatch:DescribeAlarms", Resource: ALARM },
    ]);
    expect(withAction(statements, "cloudwatch:GetMetricData")).toEqual([]);
    const invoke = withAction(statements, "lambda:InvokeFunction");
    expect(invoke.map((statement) => statement.Action)).toEqual(["lambda:InvokeFunction"]);
    // The unqualified function with its versions and aliases; the alias alone.
    expect(resources(invoke[0])).toEqual([FUNCTION, `${FUNCTION}:*`, ALIAS].sort());
  });

  it("grants no other role any of them", () => {
    const others = otherRolesStatements(synthesized);
    expect(withAction(others, ...CHECK_ACTIONS).filter(notOwnResource)).toEqual([]);
  });

  it("passes cdk-nag (the versions-and-aliases grant is acknowledged per function)", () => {
    expect(nagViolations(synthesized)).toEqual([]);
  });
});

describe("synth with checkAlarmReads and checkMetricReads", () => {
  let synthesized: SynthesizedWatchkeeper;
  beforeAll(() => {
    synthesized = synthWatchkeeper({
      ...BASE,
      checkReadArns: ALARM,
      checkAlarmReads: "true",
      checkMetricReads: "true",
    });
  });
  afterAll(() => synthesized?.cleanup());

  it("grants DescribeAlarms on every alarm (instead of the one listed) and GetMetricData", () => {
    const statements = withAction(orchestratorStatements(synthesized), ...CHECK_ACTIONS);
    // CDK merges them into the role's other statement on "*" (X-Ray's).
    expect(statements.map((statement) => statement.Resource)).toEqual(["*"]);
    expect([statements[0]?.Action].flat()).toEqual(
      expect.arrayContaining(["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"]),
    );
    expect(JSON.stringify(orchestratorStatements(synthesized))).not.toContain(ALARM);
  });

  it("passes cdk-nag, with the reason recorded on the orchestrator's role", () => {
    expect(nagViolations(synthesized)).toEqual([]);
    const acknowledged = synthesized.stack.orchestrator.lambda.role.node.metadata
      .filter((entry) => entry.type === "aws:cdk:acknowledged-rules")
      .map((entry) => JSON.stringify(entry.data))
      .join();
    expect(acknowledged).toContain("cloudwatch:GetMetricData supports no resource-level permissions");
    expect(acknowledged).toContain("cloudwatch:DescribeAlarms authorizes prefix searches");
  });
});
