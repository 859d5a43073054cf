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

/** The stack settings checkSecretArns / checkSecretKmsKeyArns: validation and the exact grants. */

withoutCdkValidation(afterAll);

const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:partner/api-AbCdEf";
const OTHER_REGION_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:billing-Zz9Yy8";
const PARAMETER = "arn:aws:ssm:eu-west-1:123456789012:parameter/watchkeeper/token";
const KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

describe("checkSecretArns / checkSecretKmsKeyArns settings", () => {
  it("are empty by default and take comma-separated strings or lists", () => {
    expect(parseSettings({})).toMatchObject({ checkSecretArns: [], checkSecretKmsKeyArns: [] });
    expect(parseSettings({ checkSecretArns: ` ${SECRET}, ${PARAMETER},${SECRET}` }).checkSecretArns).toEqual([
      SECRET,
      PARAMETER,
    ]);
    expect(
      parseSettings({ checkSecretArns: [SECRET], checkSecretKmsKeyArns: [KEY] }).checkSecretKmsKeyArns,
    ).toEqual([KEY]);
  });

  it.each([
    ["a secret name", "partner/api", /-c checkSecretArns\.0: must list Secrets Manager secret ARNs/],
    ["a wildcard", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:*", /without wildcards/],
    ["a #jsonKey", `${SECRET}#token`, /-c checkSecretArns\.0: must list secret ARNs without #jsonKey/],
    ["an S3 ARN", "arn:aws:s3:::bucket", /must list Secrets Manager secret ARNs/],
  ])("refuses %s in checkSecretArns", (_label, value, message) => {
    const attempt = () => parseSettings({ checkSecretArns: value });
    expect(attempt).toThrow(WatchkeeperConfigError);
    expect(attempt).toThrow(message);
  });

  it("refuses a KMS alias, and keys without any secret", () => {
    expect(() =>
      parseSettings({
        checkSecretArns: SECRET,
        checkSecretKmsKeyArns: "arn:aws:kms:eu-west-1:123456789012:alias/x",
      }),
    ).toThrow(/-c checkSecretKmsKeyArns\.0: must list KMS key ARNs/);
    expect(() => parseSettings({ checkSecretKmsKeyArns: KEY })).toThrow(
      "-c checkSecretKmsKeyArns: grants decryption for the secrets in checkSecretArns, which lists none",
    );
  });

  it.each([
    ["checkSecretArn", "checkSecretArns"],
    ["checkSecretsArns", "checkSecretArns"],
    ["checkSecretKmsKeyArn", "checkSecretKmsKeyArns"],
  ])("names the setting a mistyped key %j meant", (key, meant) => {
    expect(() => parseSettings({ [key]: SECRET })).toThrow(
      `-c ${key}: not a Watchkeeper setting; did you mean ${meant}?`,
    );
  });
});

const withAction = (statements: Statement[], prefix: string) =>
  statements.filter((statement) => [statement.Action].flat().some((action) => action.startsWith(prefix)));

describe("synth without secrets", () => {
  let synthesized: SynthesizedWatchkeeper;
  beforeAll(() => {
    // The dashboard's own ack link key (read by the orchestrator and the web function) is
    // asserted in dashboard.test.ts; these tests are about the checks' secrets.
    synthesized = synthWatchkeeper({
      senderEmail: "alerts@example.org",
      operatorEmail: "ops@example.org",
      dashboard: "false",
    });
  });
  afterAll(() => synthesized?.cleanup());

  it("grants no role any secret, parameter or key read", () => {
    const statements = allStatements(synthesized);
    expect(withAction(statements, "secretsmanager:")).toEqual([]);
    expect(withAction(statements, "ssm:")).toEqual([]);
    expect(withAction(statements, "kms:")).toEqual([]);
  });
});

describe("synth with secrets", () => {
  let synthesized: SynthesizedWatchkeeper;
  beforeAll(() => {
    synthesized = synthWatchkeeper({
      senderEmail: "alerts@example.org",
      operatorEmail: "ops@example.org",
      checkSecretArns: `${SECRET},${OTHER_REGION_SECRET},${PARAMETER}`,
      checkSecretKmsKeyArns: KEY,
      dashboard: "false",
    });
  });
  afterAll(() => synthesized?.cleanup());

  it("grants the orchestrator exactly GetSecretValue, GetParameter and Decrypt (via those services) on exactly those ARNs", () => {
    const statements = orchestratorStatements(synthesized);
    expect(withAction(statements, "secretsmanager:")).toEqual([
      { Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: [SECRET, OTHER_REGION_SECRET] },
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
    ]);
  });

  it("grants no other role any of them", () => {
    const others = otherRolesStatements(synthesized);
    for (const prefix of ["secretsmanager:", "ssm:", "kms:"]) expect(withAction(others, prefix)).toEqual([]);
  });

  it("passes cdk-nag", () => {
    const violations = validationReport(synthesized.outdir).pluginReports.flatMap((plugin) =>
      plugin.violations.map((violation) => `${plugin.pluginName}: ${violation.ruleName}`),
    );
    expect(violations).toEqual([]);
  });
});
