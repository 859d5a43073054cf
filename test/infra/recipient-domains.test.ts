import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSettings, WatchkeeperConfigError } from "../../lib/settings.ts";
import {
  type SynthesizedWatchkeeper,
  synthWatchkeeper,
  validationReport,
  withoutCdkValidation,
} from "../support/cdk.ts";

/** The stack setting allowedRecipientDomains: validation, the env var, the ses:Recipients condition. */

withoutCdkValidation(afterAll);

describe("allowedRecipientDomains setting", () => {
  it("is none by default, and a comma-separated, lowercased, deduplicated list otherwise", () => {
    expect(parseSettings({}).allowedRecipientDomains).toBeUndefined();
    expect(parseSettings({ allowedRecipientDomains: " " }).allowedRecipientDomains).toBeUndefined();
    expect(
      parseSettings({ allowedRecipientDomains: "Example.org, eu.example.org,example.org" })
        .allowedRecipientDomains,
    ).toEqual(["example.org", "eu.example.org"]);
    expect(
      parseSettings({ allowedRecipientDomains: ["example.org", "example.com"] }).allowedRecipientDomains,
    ).toEqual(["example.org", "example.com"]);
  });

  it.each(["@example.org", "ops@example.org", "https://example.org", "example.org.", "localhost"])(
    "refuses %j like senderDomain",
    (value) => {
      const attempt = () => parseSettings({ allowedRecipientDomains: value });
      expect(attempt).toThrow(WatchkeeperConfigError);
      expect(attempt).toThrow(/-c allowedRecipientDomains\.0: must list domain names such as example\.org/);
    },
  );
});

type Statement = {
  Action: string | string[];
  Resource: unknown;
  Effect: string;
  Condition?: Record<string, unknown>;
};

function sendEmailStatements(synthesized: SynthesizedWatchkeeper, name: string) {
  const { template } = synthesized;
  const [fn] = Object.values(template.findResources("AWS::Lambda::Function")).filter((resource) =>
    String(resource.Metadata?.["aws:cdk:path"]).includes(`${name}/Lambda/Function`),
  );
  const roleId = fn?.Properties.Role["Fn::GetAtt"][0];
  const statements = Object.values(template.findResources("AWS::IAM::Policy"))
    .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
    .filter((statement) => [statement.Action].flat().includes("ses:SendEmail"));
  return { variables: fn?.Properties.Environment.Variables as Record<string, unknown>, statements };
}

describe("synth without allowedRecipientDomains", () => {
  let synthesized: SynthesizedWatchkeeper;
  beforeAll(() => {
    synthesized = synthWatchkeeper({ senderEmail: "alerts@example.org", sesConfigurationSet: "events" });
  });
  afterAll(() => synthesized?.cleanup());

  it.each(["Orchestrator", "ScheduleSync"])("%s: no ses:Recipients condition, no env var", (name) => {
    const { variables, statements } = sendEmailStatements(synthesized, name);
    expect(statements).toHaveLength(2);
    expect(JSON.stringify(statements)).not.toContain("ses:Recipients");
    expect(variables).not.toHaveProperty("ALLOWED_RECIPIENT_DOMAINS");
  });
});

describe("synth with allowedRecipientDomains", () => {
  let synthesized: SynthesizedWatchkeeper;
  beforeAll(() => {
    synthesized = synthWatchkeeper({
      senderEmail: "alerts@example.org",
      operatorEmail: "ops@example.org",
      sesConfigurationSet: "events",
      allowedRecipientDomains: "example.org,EU.example.org",
    });
  });
  afterAll(() => synthesized?.cleanup());

  it.each(["Orchestrator", "ScheduleSync"])(
    "%s: every SendEmail statement requires each recipient in exactly those domains",
    (name) => {
      const { variables, statements } = sendEmailStatements(synthesized, name);
      expect(variables.ALLOWED_RECIPIENT_DOMAINS).toBe("example.org,eu.example.org");
      // The identity statement (From pinned) and the configuration set's.
      expect(statements).toHaveLength(2);
      for (const statement of statements) {
        expect(statement.Effect).toBe("Allow");
        expect(statement.Condition?.["ForAllValues:StringLike"]).toEqual({
          "ses:Recipients": ["*@example.org", "*@eu.example.org"],
        });
      }
      const identity = statements.find((statement) =>
        JSON.stringify(statement.Resource).includes("identity/*"),
      );
      expect(identity?.Condition).toEqual({
        StringEquals: { "ses:FromAddress": "alerts@example.org" },
        "ForAllValues:StringLike": { "ses:Recipients": ["*@example.org", "*@eu.example.org"] },
      });
    },
  );

  it("passes cdk-nag", () => {
    const violations = validationReport(synthesized.outdir).pluginReports.flatMap((plugin) =>
      plugin.violations.map((violation) => `${plugin.pluginName}: ${violation.ruleName}`),
    );
    expect(violations).toEqual([]);
  });
});
