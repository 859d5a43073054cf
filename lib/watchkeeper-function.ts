import { join, resolve } from "node:path";
import { AssetStaging, type Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, LoggingFormat, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import {
  ESM_REQUIRE_BANNER,
  LAMBDA_BUNDLE_ALIASES,
  LAZY_SDK_PACKAGES,
  sideBundleCommands,
  splitMainBundleCommand,
} from "./lambda-bundling.ts";

export const PROJECT_ROOT = resolve(import.meta.dirname, "..");

/** Node.js 22 or newer on arm64 (DESIGN.md §7); 24 is the newest Lambda offers. */
export const LAMBDA_RUNTIME = Runtime.NODEJS_24_X;
export const METRICS_NAMESPACE = "Watchkeeper";

export interface WatchkeeperFunctionProps {
  /** Handler module, relative to the project root. */
  entry: string;
  description: string;
  /** Powertools service name: the `service` dimension of the function's metrics. */
  serviceName: string;
  timeout: Duration;
  /** @default 256 */
  memorySize?: number;
  logRetention: RetentionDays;
  environment: Record<string, string>;
  /** Reserved concurrent executions; undefined: none. */
  reservedConcurrentExecutions?: number | undefined;
  /**
   * Ship LAZY_SDK_PACKAGES as side bundles loaded on first use (the orchestrator, whose checks,
   * secret references and mail need them) instead of leaving them out, and split the main bundle so
   * that what the handler imports dynamically (its checks) is chunks loaded on first use too
   * (lib/lambda-bundling.ts). @default false
   */
  lazySdkClients?: boolean;
}

/**
 * A Lambda function the way every Watchkeeper function is built: esbuild ESM bundle with source
 * maps, arm64, X-Ray tracing, JSON logs in a log group with retention, and its own role that may
 * write only to that log group (no AWSLambdaBasicExecutionRole, which allows every log group).
 */
export class WatchkeeperFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: WatchkeeperFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, "Logs", {
      retention: props.logRetention,
      // Logs of a deleted stack have nobody left to read them; the Monitors table is what is kept.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new Role(this, "Role", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: `${props.description} (execution role)`,
    });
    this.logGroup.grantWrite(this.role);
    this.function = new NodejsFunction(this, "Function", {
      entry: join(PROJECT_ROOT, props.entry),
      handler: "handler",
      description: props.description,
      runtime: LAMBDA_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout,
      ...(props.reservedConcurrentExecutions
        ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions }
        : {}),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      tracing: Tracing.ACTIVE,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, "package-lock.json"),
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: "--enable-source-maps",
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: "node24",
        platform: "node",
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        mainFields: ["module", "main"],
        // The SDK and Powertools versions the tests ran against, not whatever the runtime ships;
        // the clients few monitors need are side bundles of the same versions (lib/lambda-bundling.ts).
        ...(props.lazySdkClients
          ? {
              externalModules: [...LAZY_SDK_PACKAGES],
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (inputDir: string, outputDir: string) => [
                  splitMainBundleCommand(inputDir, outputDir, props.entry, "node24"),
                  ...sideBundleCommands(inputDir, outputDir, "node24"),
                ],
              },
            }
          : { externalModules: [] }),
        // CommonJS dependencies (the X-Ray SDK) call require(), which an ESM bundle lacks.
        banner: ESM_REQUIRE_BANNER,
        // Environment-variable credentials instead of the SDK's whole default chain (lib/lambda-bundling.ts).
        esbuildArgs: {
          "--alias": Object.entries(LAMBDA_BUNDLE_ALIASES).map(([from, to]) => `${from}=${to}`),
        },
        // Aliases resolve in esbuild's working directory: the project root, locally and in Docker.
        workingDirectory: AssetStaging.BUNDLING_INPUT_DIR,
      },
    });
    Validations.of(this.role).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.",
    });
  }
}
