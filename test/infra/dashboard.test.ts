import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIRECTORY_INDEX } from "../../functions/core/directory.ts";
import { ACK_LINK_ROTATION_DAYS, DASHBOARD_ROUTES, PUBLIC_ROUTES } from "../../lib/dashboard.ts";
import {
  allStatements,
  orchestratorStatements,
  type Statement,
  type SynthesizedWatchkeeper,
  synthWatchkeeper,
  validationReport,
} from "../support/cdk.ts";

/** The dashboard's resources (lib/dashboard.ts): routes and their authorizer, Cognito, the link key. */

const CONTEXT = { senderEmail: "alerts@example.org", operatorEmail: "ops@example.org" };

let synthesized: SynthesizedWatchkeeper;
let withoutDashboard: SynthesizedWatchkeeper;
beforeAll(() => {
  synthesized = synthWatchkeeper(CONTEXT);
  withoutDashboard = synthWatchkeeper({ ...CONTEXT, dashboard: "false" });
});
afterAll(() => {
  synthesized?.cleanup();
  withoutDashboard?.cleanup();
});

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation properties are free-form JSON.
type Resource = { Properties: Record<string, any>; Metadata?: Record<string, unknown> };
const resources = (type: string, from = synthesized) =>
  Object.entries(from.template.findResources(type)) as Array<[string, Resource]>;
const only = (type: string) => {
  const found = resources(type);
  expect(found, type).toHaveLength(1);
  return found[0] as [string, Resource];
};
const actionsOf = (statement: Statement) => [statement.Action].flat();

describe("routes", () => {
  it("puts the session authorizer on every route except the public ones, which are exactly the sign-in, ack, static and / routes", () => {
    const [authorizerId, authorizer] = only("AWS::ApiGatewayV2::Authorizer");
    const routes = resources("AWS::ApiGatewayV2::Route").map(([, route]) => route.Properties);
    const publicKeys = PUBLIC_ROUTES.map(([method, path]) => `${method} ${path}`).sort();
    expect(routes.map((route) => route.RouteKey).sort()).toEqual(
      [...publicKeys, ...DASHBOARD_ROUTES.map(([method, path]) => `${method} ${path}`)].sort(),
    );
    for (const route of routes) {
      if (publicKeys.includes(route.RouteKey)) {
        expect(route.AuthorizationType ?? "NONE", route.RouteKey).toBe("NONE");
      } else {
        expect(route.AuthorizationType, route.RouteKey).toBe("CUSTOM");
        expect(route.AuthorizerId, route.RouteKey).toEqual({ Ref: authorizerId });
      }
    }
    expect(authorizer.Properties).toMatchObject({
      AuthorizerType: "REQUEST",
      EnableSimpleResponses: true,
      IdentitySource: ["$request.header.Cookie"],
      AuthorizerResultTtlInSeconds: 0,
      AuthorizerPayloadFormatVersion: "2.0",
    });
  });

  it("logs access by route (never the query string with its ack token) and throttles the stage", () => {
    const [, stage] = only("AWS::ApiGatewayV2::Stage");
    expect(stage.Properties.AccessLogSettings.Format).toContain("$context.routeKey");
    expect(stage.Properties.AccessLogSettings.Format).not.toMatch(/querystring|\$context\.path/i);
    expect(stage.Properties.DefaultRouteSettings).toMatchObject({ ThrottlingRateLimit: 20 });
  });
});

describe("Cognito", () => {
  it("admits administrator-created users only, with optional TOTP MFA and a strong password policy", () => {
    const [, pool] = only("AWS::Cognito::UserPool");
    expect(pool.Properties.AdminCreateUserConfig).toMatchObject({ AllowAdminCreateUserOnly: true });
    expect(pool.Properties.MfaConfiguration).toBe("OPTIONAL");
    expect(pool.Properties.EnabledMfas).toEqual(["SOFTWARE_TOKEN_MFA"]);
    expect(pool.Properties.Policies.PasswordPolicy).toMatchObject({
      MinimumLength: 12,
      RequireLowercase: true,
      RequireUppercase: true,
      RequireNumbers: true,
      RequireSymbols: true,
    });
    const [, client] = only("AWS::Cognito::UserPoolClient");
    expect(client.Properties.ExplicitAuthFlows).toEqual(
      expect.arrayContaining(["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]),
    );
    expect(client.Properties.GenerateSecret).toBe(false);
    expect(client.Properties.PreventUserExistenceErrors).toBe("ENABLED");
  });
});

describe("ack link key", () => {
  it("is a generated secret under a customer-managed KMS key, rotated by its own function", () => {
    const [secretId, secret] = only("AWS::SecretsManager::Secret");
    expect(secret.Properties.GenerateSecretString).toMatchObject({ PasswordLength: 64 });
    expect(secret.Properties.KmsKeyId).toEqual({ "Fn::GetAtt": [expect.any(String), "Arn"] });
    const [, schedule] = only("AWS::SecretsManager::RotationSchedule");
    expect(schedule.Properties.SecretId).toEqual({ Ref: secretId });
    expect(schedule.Properties.RotationRules.ScheduleExpression).toBe(`rate(${ACK_LINK_ROTATION_DAYS} days)`);
    expect(schedule.Properties.RotationLambdaARN).toBeDefined();
  });

  it("is readable by the orchestrator, which gets the dashboard's URL for its mail", () => {
    const [secretId] = only("AWS::SecretsManager::Secret");
    const reads = orchestratorStatements(synthesized).filter((statement) =>
      actionsOf(statement).includes("secretsmanager:GetSecretValue"),
    );
    expect(reads.map((statement) => statement.Resource)).toContainEqual({ Ref: secretId });
    const [, orchestrator] = resources("AWS::Lambda::Function").find(([, fn]) =>
      String(fn.Metadata?.["aws:cdk:path"]).includes("Orchestrator/Lambda/Function"),
    ) as [string, Resource];
    expect(orchestrator.Properties.Environment.Variables).toMatchObject({
      ACK_LINK_SECRET_ARN: { Ref: secretId },
      ACK_LINK_TTL_HOURS: "168",
      DASHBOARD_URL: expect.anything(),
    });
  });
});

describe("the web function", () => {
  it("may read the table, write state and config, send ticks, read the link key, and never delete", () => {
    const [, web] = resources("AWS::Lambda::Function").find(([, fn]) =>
      String(fn.Metadata?.["aws:cdk:path"]).includes("Dashboard/Web/Function"),
    ) as [string, Resource];
    const roleId = web.Properties.Role["Fn::GetAtt"][0];
    const statements = resources("AWS::IAM::Policy")
      .filter(([, policy]) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
      .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Statement[]);
    const actions = statements.flatMap(actionsOf);
    expect(actions).toEqual(
      expect.arrayContaining(["dynamodb:Scan", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"]),
    );
    // The overview reads the monitor directory's index, and no other index.
    const indexReads = statements.filter((statement) =>
      JSON.stringify(statement.Resource).includes("/index/"),
    );
    expect(indexReads).toHaveLength(1);
    expect(actionsOf(indexReads[0] as Statement)).toEqual(["dynamodb:Query"]);
    expect(JSON.stringify(indexReads[0]?.Resource)).toContain(`/index/${DIRECTORY_INDEX}`);
    expect(actions).toContain("sqs:SendMessage");
    expect(actions).toContain("secretsmanager:GetSecretValue");
    expect(actions.filter((action) => /Delete|BatchWrite|\*/.test(action))).toEqual([]);
    expect(Object.keys(web.Properties.Environment.Variables)).toEqual(
      expect.arrayContaining(["MONITORS_TABLE", "TICKS_QUEUE_URL", "USER_POOL_ID", "USER_POOL_CLIENT_ID"]),
    );
    expect(allStatements(synthesized).length).toBeGreaterThan(statements.length);
  });
});

describe("outputs", () => {
  it("prints the dashboard URL, the user pool and a command that creates a user", () => {
    const outputs = synthesized.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining([
        "DashboardUrl",
        "DashboardUserPoolId",
        "DashboardClientId",
        "CreateDashboardUserCommand",
      ]),
    );
    expect(JSON.stringify(outputs.CreateDashboardUserCommand?.Value)).toContain("admin-create-user");
  });
});

describe("settings and cdk-nag", () => {
  it("leaves the whole dashboard out with -c dashboard=false, and mail without links", () => {
    for (const type of ["AWS::Cognito::UserPool", "AWS::ApiGatewayV2::Api", "AWS::SecretsManager::Secret"]) {
      expect(resources(type, withoutDashboard), type).toHaveLength(0);
    }
    const variables = resources("AWS::Lambda::Function", withoutDashboard).flatMap(([, fn]) =>
      Object.keys(fn.Properties.Environment?.Variables ?? {}),
    );
    expect(variables).not.toContain("DASHBOARD_URL");
  });

  it("passes cdk-nag's AWS Solutions checks", () => {
    const violations = validationReport(synthesized.outdir).pluginReports.flatMap((plugin) =>
      plugin.violations.map((violation) => `${violation.ruleName} (${violation.severity})`),
    );
    expect(violations).toEqual([]);
  });
});
