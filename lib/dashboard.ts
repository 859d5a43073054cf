import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { type CfnStage, HttpApi, HttpMethod } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { AccountRecovery, Mfa, UserPool, type UserPoolClient } from "aws-cdk-lib/aws-cognito";
import type { TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { CfnRotationSchedule, Secret } from "aws-cdk-lib/aws-secretsmanager";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { DIRECTORY_INDEX } from "../functions/core/directory.ts";
import { WatchkeeperFunction } from "./watchkeeper-function.ts";

/**
 * The web dashboard (issue 14): a Cognito user pool (admin-created users, optional TOTP MFA, a
 * strong password policy), an API Gateway HTTP API in front of one web Lambda, a Lambda REQUEST
 * authorizer on every dashboard route, and the Secrets Manager secret (KMS, rotated every 30 days)
 * that signs the ack links in mail.
 *
 * Why an HTTP API rather than a Function URL behind CloudFront: routes with a per-route authorizer
 * (the sign-in and ack routes stay public, every other route needs a verified session before the
 * function runs), stage throttling against password guessing, access logs, and no CloudFront
 * distribution to deploy (minutes, a global resource) for a page a handful of people use.
 */

/** Routes without the authorizer, by design: their credential is the form (sign-in), nothing (the
 * stylesheet and script, the redirect of `/`), or the signed token (ack links). */
export const PUBLIC_ROUTES: ReadonlyArray<[HttpMethod, string]> = [
  [HttpMethod.GET, "/"],
  [HttpMethod.GET, "/signin"],
  [HttpMethod.POST, "/signin"],
  [HttpMethod.GET, "/ack"],
  [HttpMethod.POST, "/ack"],
  [HttpMethod.GET, "/static/{file}"],
];

/** Routes behind the authorizer: every page and action of the dashboard. */
export const DASHBOARD_ROUTES: ReadonlyArray<[HttpMethod, string]> = [
  [HttpMethod.GET, "/monitors"],
  [HttpMethod.GET, "/monitors/{monitorId}"],
  [HttpMethod.POST, "/monitors/{monitorId}/{action}"],
  [HttpMethod.GET, "/incidents"],
  [HttpMethod.GET, "/api/sparklines"],
  [HttpMethod.POST, "/signout"],
];

export const ACK_LINK_ROTATION_DAYS = 30;
/** Cognito token lifetimes: the session cookie's and the refresh cookie's. */
export const ACCESS_TOKEN_VALIDITY = Duration.hours(1);
export const REFRESH_TOKEN_VALIDITY = Duration.hours(12);

export interface DashboardProps {
  table: TableV2;
  ticks: Queue;
  logRetention: RetentionDays;
  namePrefix: string;
}

export class Dashboard extends Construct {
  readonly userPool: UserPool;
  readonly client: UserPoolClient;
  readonly api: HttpApi;
  readonly linkSecret: Secret;
  readonly web: WatchkeeperFunction;
  readonly authorizerFunction: WatchkeeperFunction;
  /** The dashboard's base URL (`https://<api>.execute-api.<region>.amazonaws.com/`). */
  readonly url: string;

  constructor(scope: Construct, id: string, props: DashboardProps) {
    super(scope, id);
    this.userPool = new UserPool(this, "Users", {
      userPoolName: `${props.namePrefix}-dashboard`,
      selfSignUpEnabled: false,
      signInAliases: { username: true },
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.userPool).acknowledge({
      id: "AwsSolutions-COG2",
      reason:
        "MFA is optional with TOTP (users enrol an authenticator app); requiring it would lock out the first administrator-created users until they enrol, which needs a sign-in.",
    });
    Validations.of(this.userPool).acknowledge({
      id: "AwsSolutions-COG8",
      reason:
        "The Essentials feature plan covers what the dashboard uses (admin-created users, TOTP MFA, the password policy); Plus adds threat protection at a per-user cost (see COG3).",
    });
    Validations.of(this.userPool).acknowledge({
      id: "AwsSolutions-COG3",
      reason:
        "Threat protection (advanced security) needs the Plus feature plan, a per-user cost; users are created by administrators only, the password policy is strict and the API throttles sign-in.",
    });
    this.client = this.userPool.addClient("Dashboard", {
      authFlows: { userPassword: true },
      generateSecret: false,
      disableOAuth: true,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      accessTokenValidity: ACCESS_TOKEN_VALIDITY,
      idTokenValidity: ACCESS_TOKEN_VALIDITY,
      refreshTokenValidity: REFRESH_TOKEN_VALIDITY,
    });

    const key = new Key(this, "LinkKeyEncryption", {
      description: "Encrypts the Watchkeeper ack link signing key",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.linkSecret = new Secret(this, "AckLinkKey", {
      description:
        "Watchkeeper: HMAC key of the ack links in mail (rotated; the previous key still verifies)",
      encryptionKey: key,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const rotation = new WatchkeeperFunction(this, "RotateLinkKey", {
      entry: "functions/web/rotate-link-key.ts",
      description: "Watchkeeper: rotates the ack link key (new AWSCURRENT, the old one AWSPREVIOUS)",
      serviceName: "rotate-link-key",
      timeout: Duration.seconds(30),
      logRetention: props.logRetention,
      environment: {},
    });
    // The rotation schedule by hand: RotationSchedule would also grant GetRandomPassword on "*",
    // which this function does not call (it draws the key from node:crypto).
    rotation.function.addToRolePolicy(
      new PolicyStatement({
        actions: [
          "secretsmanager:DescribeSecret",
          "secretsmanager:GetSecretValue",
          "secretsmanager:PutSecretValue",
          "secretsmanager:UpdateSecretVersionStage",
        ],
        resources: [this.linkSecret.secretArn],
      }),
    );
    // Secrets Manager encrypts the new version (GenerateDataKey) and decrypts the current one.
    rotation.function.addToRolePolicy(
      new PolicyStatement({
        actions: ["kms:Decrypt", "kms:GenerateDataKey"],
        resources: [key.keyArn],
        conditions: {
          StringEquals: { "kms:ViaService": `secretsmanager.${Stack.of(this).region}.amazonaws.com` },
        },
      }),
    );
    rotation.function.addPermission("SecretsManagerRotates", {
      principal: new ServicePrincipal("secretsmanager.amazonaws.com"),
      sourceArn: this.linkSecret.secretArn,
    });
    const schedule = new CfnRotationSchedule(this, "AckLinkKeyRotation", {
      secretId: this.linkSecret.secretArn,
      rotationLambdaArn: rotation.function.functionArn,
      rotationRules: { scheduleExpression: `rate(${ACK_LINK_ROTATION_DAYS} days)` },
      rotateImmediatelyOnUpdate: false,
    });
    const permission = rotation.function.permissionsNode.tryFindChild("SecretsManagerRotates");
    if (permission) schedule.node.addDependency(permission);

    const accessLogs = new LogGroup(this, "AccessLogs", {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api = new HttpApi(this, "Api", {
      apiName: `${props.namePrefix}-dashboard`,
      description: "Watchkeeper dashboard",
      createDefaultStage: true,
    });
    const stage = this.api.defaultStage?.node.defaultChild as CfnStage;
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: "$context.requestId",
        ip: "$context.identity.sourceIp",
        time: "$context.requestTime",
        method: "$context.httpMethod",
        // The route, not the path: ack tokens travel in the query string, never in the log.
        route: "$context.routeKey",
        status: "$context.status",
        authorizerError: "$context.authorizer.error",
        latency: "$context.responseLatency",
      }),
    };
    // Slows password guessing and scraping; a handful of people use the dashboard.
    stage.defaultRouteSettings = { throttlingBurstLimit: 40, throttlingRateLimit: 20 };
    this.url = `${this.api.apiEndpoint}/`;

    this.web = new WatchkeeperFunction(this, "Web", {
      entry: "functions/web/handler.ts",
      description: "Watchkeeper dashboard: pages, sign-in, ack links",
      serviceName: "dashboard",
      timeout: Duration.seconds(20),
      memorySize: 512,
      logRetention: props.logRetention,
      environment: {
        MONITORS_TABLE: props.table.tableName,
        TICKS_QUEUE_URL: props.ticks.queueUrl,
        USER_POOL_ID: this.userPool.userPoolId,
        USER_POOL_CLIENT_ID: this.client.userPoolClientId,
        ACK_LINK_SECRET_ARN: this.linkSecret.secretArn,
        DASHBOARD_URL: this.url,
      },
    });
    const webFn = this.web.function;
    webFn.addToRolePolicy(
      new PolicyStatement({
        // Reads: the overview's BatchGetItem (its fallback scan), a monitor's queries, the ack use case's load. Writes: the
        // state item (ack, unack: a conditional PutItem with its incident UpdateItem, as the
        // orchestrator writes it) and the config item's isActive (pause, resume: UpdateItem).
        actions: [
          "dynamodb:GetItem",
          "dynamodb:BatchGetItem",
          "dynamodb:Query",
          "dynamodb:Scan",
          "dynamodb:PutItem",
          "dynamodb:UpdateItem",
        ],
        resources: [props.table.tableArn],
      }),
    );
    // The overview: the monitor directory's keys-only index (functions/core/directory.ts), Query only.
    webFn.addToRolePolicy(
      new PolicyStatement({
        actions: ["dynamodb:Query"],
        resources: [`${props.table.tableArn}/index/${DIRECTORY_INDEX}`],
      }),
    );
    webFn.addToRolePolicy(
      new PolicyStatement({ actions: ["sqs:SendMessage"], resources: [props.ticks.queueArn] }),
    );
    this.linkSecret.grantRead(webFn);

    this.authorizerFunction = new WatchkeeperFunction(this, "Authorizer", {
      entry: "functions/web/authorizer.ts",
      description: "Watchkeeper dashboard: verifies the session cookie (Cognito access token)",
      serviceName: "dashboard-authorizer",
      timeout: Duration.seconds(10),
      logRetention: props.logRetention,
      environment: {
        USER_POOL_ID: this.userPool.userPoolId,
        USER_POOL_CLIENT_ID: this.client.userPoolClientId,
      },
    });
    const authorizer = new HttpLambdaAuthorizer("Session", this.authorizerFunction.function, {
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: ["$request.header.Cookie"],
      // No cache: a signed-out or expired session must be refused at once.
      resultsCacheTtl: Duration.seconds(0),
    });
    const integration = new HttpLambdaIntegration("WebIntegration", webFn);
    for (const [method, path] of DASHBOARD_ROUTES) {
      this.api.addRoutes({ path, methods: [method], integration, authorizer });
    }
    for (const [method, path] of PUBLIC_ROUTES) {
      const [route] = this.api.addRoutes({ path, methods: [method], integration });
      if (route) {
        Validations.of(route).acknowledge({
          id: "AwsSolutions-APIG4",
          reason:
            path === "/ack"
              ? "Public by design: the signed, expiring, single-purpose ack token is the credential (a GET only shows a confirmation)."
              : path === "/signin"
                ? "Public by design: the sign-in form itself (Cognito checks the password; the stage throttles)."
                : "Public by design: a static asset or the redirect of / to the dashboard; no data.",
        });
      }
    }
  }

  /** Points the engine's mail at the dashboard: its URL and the link key (read access). */
  linkFrom(fn: WatchkeeperFunction, ackLinkDays: number): void {
    fn.function.addEnvironment("DASHBOARD_URL", this.url);
    fn.function.addEnvironment("ACK_LINK_SECRET_ARN", this.linkSecret.secretArn);
    fn.function.addEnvironment("ACK_LINK_TTL_HOURS", String(ackLinkDays * 24));
    this.linkSecret.grantRead(fn.function);
  }

  /** Stack-level outputs (plain output keys, as the stack's others). */
  output(): void {
    const stack = Stack.of(this);
    new CfnOutput(stack, "DashboardUrl", {
      value: this.url,
      description: "The web dashboard (sign in here)",
    });
    new CfnOutput(stack, "DashboardUserPoolId", {
      value: this.userPool.userPoolId,
      description: "Cognito user pool of the dashboard's users",
    });
    new CfnOutput(stack, "DashboardClientId", {
      value: this.client.userPoolClientId,
      description: "The dashboard's app client (USER_PASSWORD_AUTH), for the TOTP enrolment commands",
    });
    new CfnOutput(stack, "CreateDashboardUserCommand", {
      value: [
        "aws cognito-idp admin-create-user",
        `--user-pool-id ${this.userPool.userPoolId}`,
        "--username <name>",
        "--user-attributes Name=email,Value=<address> Name=email_verified,Value=true",
      ].join(" "),
      description: "Creates a dashboard user; Cognito mails a temporary password, changed at first sign-in",
    });
  }
}
