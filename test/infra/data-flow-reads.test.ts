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
 * checkReadArns for the data-flow checks (s3-object-freshness, step-functions, sql): the ARN
 * forms the setting accepts, and the exact grants the orchestrator gets for them.
 */

withoutCdkValidation(afterAll);

const BUCKET = "arn:aws:s3:::partner-exports";
const PREFIXED = "arn:aws:s3:::shared-drop/compass/*";
const PREFIXED_TOO = "arn:aws:s3:::shared-drop/acme/daily-*";
const KEY = "arn:aws:s3:::status-files/latest.json";
const MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:nightly-export";
const ALIAS = "arn:aws:states:eu-west-1:123456789012:stateMachine:nightly-export:prod";
const CLUSTER = "arn:aws:rds:eu-west-1:123456789012:cluster:orders";
const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-readonly-AbCdEf";

describe("checkReadArns: data-flow ARN forms", () => {
  it("accepts buckets, prefixes, keys, state machines (and their aliases) and clusters", () => {
    const arns = [BUCKET, PREFIXED, KEY, MACHINE, ALIAS, CLUSTER];
    expect(parseSettings({ checkReadArns: arns.join(","), checkSecretArns: SECRET }).checkReadArns).toEqual(
      arns,
    );
    expect(parseSettings({ checkReadArns: "arn:aws:s3:::bucket/*" }).checkReadArns).toEqual([
      "arn:aws:s3:::bucket/*",
    ]);
  });

  it.each([
    ["a bucket name", "partner-exports"],
    ["an S3 URL", "s3://partner-exports/x"],
    ["a wildcard bucket", "arn:aws:s3:::*"],
    ["a wildcard inside a prefix", "arn:aws:s3:::bucket/*/daily/*"],
    ["an empty path", "arn:aws:s3:::bucket/"],
    ["an access point", "arn:aws:s3:eu-west-1:123456789012:accesspoint/ap"],
    ["an execution", "arn:aws:states:eu-west-1:123456789012:execution:nightly-export:run-1"],
    ["an activity", "arn:aws:states:eu-west-1:123456789012:activity:a"],
    ["an RDS instance", "arn:aws:rds:eu-west-1:123456789012:db:orders-1"],
    ["a wildcard cluster", "arn:aws:rds:eu-west-1:123456789012:cluster:*"],
  ])("refuses %s", (_label, arn) => {
    const attempt = () => parseSettings({ checkReadArns: arn });
    expect(attempt).toThrow(WatchkeeperConfigError);
    expect(attempt).toThrow(
      "-c checkReadArns.0: must list SQS queue, DynamoDB table, CloudWatch alarm, Lambda function, S3 bucket (arn:aws:s3:::<bucket>, or arn:aws:s3:::<bucket>/<prefix>* for part of it), Step Functions state machine or Aurora cluster ARNs, comma-separated",
    );
  });

  it("requires the database secret in checkSecretArns when a cluster is listed", () => {
    expect(() => parseSettings({ checkReadArns: CLUSTER })).toThrow(
      "-c checkReadArns: lists an Aurora cluster for the sql check, whose Data API calls read the database user's secret as the orchestrator: list that secret in checkSecretArns",
    );
    expect(() =>
      parseSettings({
        checkReadArns: CLUSTER,
        checkSecretArns: "arn:aws:ssm:eu-west-1:123456789012:parameter/p",
      }),
    ).toThrow("list that secret in checkSecretArns");
    expect(parseSettings({ checkReadArns: CLUSTER, checkSecretArns: SECRET }).checkReadArns).toEqual([
      CLUSTER,
    ]);
  });
});

const DATA_FLOW_ACTIONS = ["s3:", "states:", "rds-data:"];
const withDataFlowAction = (statements: Statement[]) =>
  statements.filter((statement) =>
    [statement.Action].flat().some((action) => DATA_FLOW_ACTIONS.some((prefix) => action.startsWith(prefix))),
  );

describe("synth without data-flow ARNs", () => {
  let synthesized: SynthesizedWatchkeeper;
  beforeAll(() => {
    synthesized = synthWatchkeeper({
      senderEmail: "alerts@example.org",
      operatorEmail: "ops@example.org",
      checkReadArns: "arn:aws:sqs:eu-west-1:123456789012:feed-dlq",
    });
  });
  afterAll(() => synthesized?.cleanup());

  it("grants no role any S3, Step Functions or Data API read", () => {
    expect(withDataFlowAction(allStatements(synthesized))).toEqual([]);
  });
});

describe("synth with data-flow ARNs", () => {
  let synthesized: SynthesizedWatchkeeper;
  beforeAll(() => {
    synthesized = synthWatchkeeper({
      senderEmail: "alerts@example.org",
      operatorEmail: "ops@example.org",
      checkReadArns: [BUCKET, PREFIXED, PREFIXED_TOO, KEY, MACHINE, ALIAS, CLUSTER].join(","),
      checkSecretArns: SECRET,
    });
  });
  afterAll(() => synthesized?.cleanup());

  it("grants the orchestrator exactly the reads the checks call, on exactly the listed resources", () => {
    expect(withDataFlowAction(orchestratorStatements(synthesized))).toEqual([
      {
        Effect: "Allow",
        Action: "s3:GetObject",
        // CDK sorts a statement's resources.
        Resource: [`${BUCKET}/*`, PREFIXED_TOO, PREFIXED, KEY],
      },
      { Effect: "Allow", Action: "s3:ListBucket", Resource: BUCKET },
      {
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: "arn:aws:s3:::shared-drop",
        Condition: { StringLike: { "s3:prefix": ["compass/*", "acme/daily-*"] } },
      },
      {
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: "arn:aws:s3:::status-files",
        Condition: { StringLike: { "s3:prefix": ["latest.json"] } },
      },
      { Effect: "Allow", Action: "states:ListExecutions", Resource: [MACHINE, ALIAS] },
      { Effect: "Allow", Action: "rds-data:ExecuteStatement", Resource: CLUSTER },
    ]);
  });

  it("a bucket listed whole and in part is listed whole: no condition narrows it", () => {
    const whole = synthWatchkeeper({
      senderEmail: "alerts@example.org",
      operatorEmail: "ops@example.org",
      checkReadArns: `${BUCKET}/in/*,${BUCKET}`,
    });
    try {
      expect(withDataFlowAction(orchestratorStatements(whole))).toEqual([
        { Effect: "Allow", Action: "s3:GetObject", Resource: `${BUCKET}/*` },
        { Effect: "Allow", Action: "s3:ListBucket", Resource: BUCKET },
      ]);
    } finally {
      whole.cleanup();
    }
  });

  it("grants no other role any of them", () => {
    const others = otherRolesStatements(synthesized);
    expect(withDataFlowAction(others)).toEqual([]);
  });

  it("passes cdk-nag (the object wildcards the deployer wrote are acknowledged with a reason)", () => {
    const violations = validationReport(synthesized.outdir).pluginReports.flatMap((plugin) =>
      plugin.violations.map((violation) => `${plugin.pluginName}: ${violation.ruleName}`),
    );
    expect(violations).toEqual([]);
  });
});
