import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RETRY_POLICY, EventBridgeScheduler } from "../../functions/adapters/scheduler.ts";
import { BUCKET_INDEX, BUCKETS_PARTITION, CLOCK_SCHEDULE_NAME } from "../../functions/core/buckets.ts";
import { CHANNELS_PARTITION } from "../../functions/core/channels.ts";
import { DIRECTORY_INDEX } from "../../functions/core/directory.ts";
import { HEARTBEAT_ID, HEARTBEAT_PERIOD_MINUTES, heartbeatTickBody } from "../../functions/core/heartbeat.ts";
import { MonitorIdSchema } from "../../functions/core/schemas.ts";
import { FanOutEnvironmentSchema } from "../../functions/fan-out/handler.ts";
import { HEARTBEAT } from "../../functions/orchestrator/metric-names.ts";
import { ScheduleSyncEnvironmentSchema } from "../../functions/schedule-sync/handler.ts";
import { MAX_RECEIVE_COUNT } from "../../lib/constants.ts";
import { FAN_OUT_MAX_EVENT_AGE, FAN_OUT_TIMEOUT } from "../../lib/fan-out.ts";
import { LAZY_SDK_PACKAGES, MAIN_CHUNKS_DIR } from "../../lib/lambda-bundling.ts";
import { type SynthesizedWatchkeeper, synthWatchkeeper, validationReport } from "../support/cdk.ts";

type Resource = {
  Type: string;
  // biome-ignore lint/suspicious/noExplicitAny: CloudFormation properties are free-form JSON; the assertions check their shape.
  Properties: Record<string, any>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  DependsOn?: string[];
};
type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };

const CONTEXT = {
  senderEmail: "alerts@example.org",
  operatorEmail: "ops@example.org",
  defaultTimezone: "Europe/Paris",
  logRetentionDays: "90",
  namePrefix: "wk-test",
  checkReadArns:
    "arn:aws:sqs:eu-west-1:123456789012:feed-dlq, arn:aws:dynamodb:eu-west-1:123456789012:table/feeds",
};

// One synthesis with real esbuild bundling for the whole file: it is the slow part.
let synthesized: SynthesizedWatchkeeper;
let template: Template;
beforeAll(() => {
  synthesized = synthWatchkeeper(CONTEXT, { bundle: true });
  template = synthesized.template;
});
afterAll(() => synthesized?.cleanup());

/** The logical id of the one resource of `type` whose construct path contains `path`. */
function idOf(type: string, path: string): string {
  const matches = Object.entries(template.findResources(type)).filter(([, resource]) =>
    String(resource.Metadata?.["aws:cdk:path"] ?? "").includes(path),
  );
  expect(
    matches.map(([id]) => id),
    `${type} at ${path}`,
  ).toHaveLength(1);
  return matches[0]?.[0] ?? "";
}

function resource(type: string, path: string): Resource {
  return template.findResources(type)[idOf(type, path)] as Resource;
}

const arnOf = (id: string) => ({ "Fn::GetAtt": [id, "Arn"] });
const actions = (statement: Statement) => [statement.Action].flat();

function statementsOfRole(rolePath: string): Statement[] {
  const roleId = idOf("AWS::IAM::Role", rolePath);
  return Object.values(template.findResources("AWS::IAM::Policy"))
    .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

function statementWith(statements: Statement[], action: string): Statement {
  const found = statements.filter((statement) => actions(statement).includes(action));
  expect(found, action).toHaveLength(1);
  return found[0] as Statement;
}

describe("Monitors table", () => {
  it("has the DESIGN.md §2 keys, on-demand billing, a new-and-old-images stream and TTL on expiresAt", () => {
    template.hasResourceProperties("AWS::DynamoDB::GlobalTable", {
      KeySchema: [
        { AttributeName: "monitorId", KeyType: "HASH" },
        { AttributeName: "record", KeyType: "RANGE" },
      ],
      BillingMode: "PAY_PER_REQUEST",
      StreamSpecification: { StreamViewType: "NEW_AND_OLD_IMAGES" },
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: "KMS" },
    });
  });

  it("survives cdk destroy: retained, deletion-protected, point-in-time recoverable", () => {
    const table = resource("AWS::DynamoDB::GlobalTable", "Monitors/Table");
    expect(table.DeletionPolicy).toBe("Retain");
    expect(table.UpdateReplacePolicy).toBe("Retain");
    expect(table.Properties.Replicas).toEqual([
      expect.objectContaining({
        DeletionProtectionEnabled: true,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      }),
    ]);
  });
});

describe("ticks queue", () => {
  it("is a high-throughput FIFO queue: quota and deduplication per message group (monitor)", () => {
    const queue = resource("AWS::SQS::Queue", "Ticks/Queue/").Properties;
    expect(queue).toMatchObject({
      FifoQueue: true,
      DeduplicationScope: "messageGroup",
      FifoThroughputLimit: "perMessageGroupId",
    });
  });

  it("is FIFO with content-based dedup, SSE, and a FIFO DLQ after MAX_RECEIVE_COUNT receives", () => {
    const dlq = idOf("AWS::SQS::Queue", "Ticks/DeadLetterQueue");
    const queue = resource("AWS::SQS::Queue", "Ticks/Queue/");
    expect(queue.Properties).toMatchObject({
      FifoQueue: true,
      ContentBasedDeduplication: true,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: arnOf(dlq), maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    expect(resource("AWS::SQS::Queue", "Ticks/DeadLetterQueue").Properties).toMatchObject({
      FifoQueue: true,
      MessageRetentionPeriod: 14 * 86_400,
    });
  });

  it("keeps a tick invisible longer than the orchestrator may run on it", () => {
    const queue = resource("AWS::SQS::Queue", "Ticks/Queue/");
    const orchestrator = resource("AWS::Lambda::Function", "Orchestrator/Lambda/Function");
    expect(queue.Properties.VisibilityTimeout).toBeGreaterThan(orchestrator.Properties.Timeout);
    // The longest check (840 s, ConfigFieldSchemas) must fit in the orchestrator's timeout.
    expect(orchestrator.Properties.Timeout).toBeGreaterThan(840);
  });

  it("Scheduler's and the stream's failure destinations are standard queues, as those services require", () => {
    for (const path of ["ScheduleSync/SchedulerDeadLetterQueue", "ScheduleSync/FailedRecordsQueue"]) {
      const queue = resource("AWS::SQS::Queue", path);
      expect(queue.Properties.FifoQueue).toBeUndefined();
      expect(queue.Properties.MessageRetentionPeriod).toBe(14 * 86_400);
    }
  });

  it("every queue is encrypted and refuses requests without TLS", () => {
    const queues = template.findResources("AWS::SQS::Queue");
    expect(Object.keys(queues)).toHaveLength(7);
    for (const queue of Object.values(queues)) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    for (const id of Object.keys(queues)) {
      template.hasResourceProperties("AWS::SQS::QueuePolicy", {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
          ]),
        },
      });
    }
  });
});

describe("functions", () => {
  it.each(["Orchestrator", "ScheduleSync"])(
    "%s: arm64, Node.js 22+, X-Ray, JSON logs with retention",
    (name) => {
      const fn = resource("AWS::Lambda::Function", `${name}/Lambda/Function`);
      expect(fn.Properties.Architectures).toEqual(["arm64"]);
      expect(Number(/^nodejs(\d+)\.x$/.exec(fn.Properties.Runtime)?.[1])).toBeGreaterThanOrEqual(22);
      expect(fn.Properties.TracingConfig).toEqual({ Mode: "Active" });
      expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBe("--enable-source-maps");
      const logGroup = idOf("AWS::Logs::LogGroup", `${name}/Lambda/Logs`);
      expect(fn.Properties.LoggingConfig).toEqual({ LogFormat: "JSON", LogGroup: { Ref: logGroup } });
      template.hasResource("AWS::Logs::LogGroup", { Properties: { RetentionInDays: 90 } });
      expect(resource("AWS::Logs::LogGroup", `${name}/Lambda/Logs`).Properties.RetentionInDays).toBe(90);
    },
  );

  it("orchestrator: configured by the environment its handler reads", () => {
    const fn = resource("AWS::Lambda::Function", "Orchestrator/Lambda/Function");
    expect(fn.Properties.Environment.Variables).toMatchObject({
      MONITORS_TABLE: { Ref: idOf("AWS::DynamoDB::GlobalTable", "Monitors/Table") },
      SENDER_EMAIL: "alerts@example.org",
      TICKS_DLQ_URL: { Ref: idOf("AWS::SQS::Queue", "Ticks/DeadLetterQueue") },
      DEFAULT_TIMEZONE: "Europe/Paris",
      TICK_RETRY_BASE_SECONDS: "30",
    });
    // No sesConfigurationSet: SES's defaults, and no grant on any configuration set.
    expect(fn.Properties.Environment.Variables).not.toHaveProperty("SES_CONFIGURATION_SET");
    expect(JSON.stringify(statementsOfRole("Orchestrator/Lambda/Role"))).not.toContain("configuration-set");
    expect(JSON.stringify(statementsOfRole("ScheduleSync/Lambda/Role"))).not.toContain("configuration-set");
  });

  it("orchestrator: may shorten a failed message's retry delay on the queues it consumes (and only there)", () => {
    const statements = statementsOfRole("Orchestrator/Lambda/Role");
    const consumed = statements.filter((statement) =>
      actions(statement).includes("sqs:ChangeMessageVisibility"),
    );
    for (const consume of consumed) {
      expect(actions(consume)).toEqual(
        expect.arrayContaining(["sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]),
      );
    }
    expect(sortedJson(consumed.flatMap((statement) => statement.Resource))).toEqual(
      sortedJson([
        arnOf(idOf("AWS::SQS::Queue", "Ticks/Queue/")),
        arnOf(idOf("AWS::SQS::Queue", "DeliveryRetries/Queue/")),
      ]),
    );
  });

  it("orchestrator: may delete processed messages early on the queues it consumes (and only there)", () => {
    // DeleteMessageBatch is authorized by sqs:DeleteMessage; the queue URL comes from GetQueueUrl.
    const deletes = statementsOfRole("Orchestrator/Lambda/Role").filter((statement) =>
      actions(statement).includes("sqs:DeleteMessage"),
    );
    for (const statement of deletes) expect(actions(statement)).toContain("sqs:GetQueueUrl");
    expect(sortedJson(deletes.flatMap((statement) => statement.Resource))).toEqual(
      sortedJson([
        arnOf(idOf("AWS::SQS::Queue", "Ticks/Queue/")),
        arnOf(idOf("AWS::SQS::Queue", "DeliveryRetries/Queue/")),
      ]),
    );
  });

  it("orchestrator: bounded concurrency on both event sources, no reservation unless asked", () => {
    const mappings = Object.values(template.findResources("AWS::Lambda::EventSourceMapping"));
    const concurrencyOf = (path: string) =>
      mappings.find(
        (mapping) =>
          JSON.stringify(mapping.Properties.EventSourceArn) ===
          JSON.stringify(arnOf(idOf("AWS::SQS::Queue", path))),
      )?.Properties.ScalingConfig;
    expect(concurrencyOf("Ticks/Queue/")).toEqual({ MaximumConcurrency: 50 });
    expect(concurrencyOf("DeliveryRetries/Queue/")).toEqual({ MaximumConcurrency: 2 });
    const fn = resource("AWS::Lambda::Function", "Orchestrator/Lambda/Function").Properties;
    expect(fn.ReservedConcurrentExecutions).toBeUndefined();
    const reserved = synthWatchkeeper({
      ...CONTEXT,
      orchestratorMaxConcurrency: "200",
      orchestratorReservedConcurrency: "250",
    });
    try {
      const functions = Object.values(reserved.template.findResources("AWS::Lambda::Function"));
      expect(functions.map((entry) => entry.Properties.ReservedConcurrentExecutions).filter(Boolean)).toEqual(
        [250],
      );
      reserved.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
        ScalingConfig: { MaximumConcurrency: 200 },
      });
    } finally {
      reserved.cleanup();
    }
  });

  it("orchestrator: retries failed deliveries through the delivery-retry queue, within the budget", () => {
    const variables = resource("AWS::Lambda::Function", "Orchestrator/Lambda/Function").Properties.Environment
      .Variables as Record<string, unknown>;
    expect(variables).toMatchObject({
      DELIVERY_RETRY_QUEUE_URL: { Ref: idOf("AWS::SQS::Queue", "DeliveryRetries/Queue/") },
      DELIVERY_BUDGET_HOURS: "24",
      // Write on change: the default heartbeat of a quiet monitor's state.
      STATE_HEARTBEAT_MINUTES: "15",
    });
    // No default channels unless the setting names some (issue 15).
    expect(variables.DEFAULT_CHANNELS).toBeUndefined();
    const retryQueue = resource("AWS::SQS::Queue", "DeliveryRetries/Queue/").Properties;
    // Standard (per-message delays), redriven to its own DLQ, not hidden while the function may still run.
    expect(retryQueue.FifoQueue).toBeUndefined();
    expect(retryQueue.RedrivePolicy).toMatchObject({
      deadLetterTargetArn: arnOf(idOf("AWS::SQS::Queue", "DeliveryRetries/DeadLetterQueue")),
      maxReceiveCount: 5,
    });
    expect(retryQueue.VisibilityTimeout).toBeGreaterThan(900);
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: arnOf(idOf("AWS::SQS::Queue", "DeliveryRetries/Queue/")),
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("schedule-sync: sets exactly what its handler's environment schema requires", () => {
    const variables = resource("AWS::Lambda::Function", "ScheduleSync/Lambda/Function").Properties.Environment
      .Variables as Record<string, unknown>;
    // SES_CONFIGURATION_SET only with the sesConfigurationSet setting (settings.test.ts), and
    // ALLOWED_RECIPIENT_DOMAINS only with allowedRecipientDomains (recipient-domains.test.ts).
    const optional = ["SES_CONFIGURATION_SET", "ALLOWED_RECIPIENT_DOMAINS"];
    for (const name of Object.keys(ScheduleSyncEnvironmentSchema.shape).filter(
      (name) => !optional.includes(name),
    ))
      expect(variables).toHaveProperty(name);
    for (const name of optional) expect(variables).not.toHaveProperty(name);
    expect(variables).toMatchObject({
      SCHEDULE_GROUP_NAME: "wk-test",
      MONITORS_TABLE: { Ref: idOf("AWS::DynamoDB::GlobalTable", "Monitors/Table") },
      DEFAULT_TIMEZONE: "Europe/Paris",
      SENDER_EMAIL: "alerts@example.org",
    });
  });

  it("bundles handlers that load as ES modules", () => {
    for (const [name, env] of [
      ["ScheduleSync", {}],
      ["FanOut", {}],
      ["Orchestrator", { MONITORS_TABLE: "t", SENDER_EMAIL: "a@example.org", AWS_REGION: "us-east-1" }],
    ] as const) {
      const key = resource("AWS::Lambda::Function", `${name}/Lambda/Function`).Properties.Code
        .S3Key as string;
      const bundle = join(synthesized.outdir, `asset.${key.replace(/\.zip$/, "")}`, "index.mjs");
      expect(existsSync(bundle), bundle).toBe(true);
      const run = spawnSync(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          `const m = await import(${JSON.stringify(bundle)}); console.log(typeof m.handler)`,
        ],
        { env: { PATH: process.env.PATH, ...env }, encoding: "utf8" },
      );
      expect(run.stderr.replace(/\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*/, "")).toBe("");
      expect(run.stdout.trim(), name).toBe("function");
    }
  });

  it("bundles environment-variable credentials only, not the SDK's default chain (lib/lambda-bundling.ts)", () => {
    for (const name of ["ScheduleSync", "Orchestrator"]) {
      const key = resource("AWS::Lambda::Function", `${name}/Lambda/Function`).Properties.Code
        .S3Key as string;
      const asset = join(synthesized.outdir, `asset.${key.replace(/\.zip$/, "")}`);
      // The main bundle, with its chunks when it is split (the orchestrator's).
      const chunks = existsSync(join(asset, MAIN_CHUNKS_DIR))
        ? readdirSync(join(asset, MAIN_CHUNKS_DIR)).filter((file) => file.endsWith(".mjs"))
        : [];
      const code = [
        readFileSync(join(asset, "index.mjs"), "utf8"),
        ...chunks.map((file) => readFileSync(join(asset, MAIN_CHUNKS_DIR, file), "utf8")),
      ].join("\n");
      // fromEnv's debug message, then the chain's other providers and the STS client they use.
      // (Booleans, so that a failure does not print the whole bundle.)
      expect(code.includes("@aws-sdk/credential-provider-env - fromEnv"), name).toBe(true);
      for (const chainOnly of [
        "@aws-sdk/credential-provider-ini",
        "@aws-sdk/credential-provider-sso",
        "@aws-sdk/credential-provider-web-identity",
        "@aws-sdk/credential-provider-process",
        "AssumeRoleWithWebIdentity",
      ])
        expect(code.includes(chainOnly), `${name} bundles ${chainOnly}`).toBe(false);
    }
  });

  it("ships the clients few monitors need as side bundles the orchestrator loads from its own asset", () => {
    const key = resource("AWS::Lambda::Function", "Orchestrator/Lambda/Function").Properties.Code
      .S3Key as string;
    const asset = join(synthesized.outdir, `asset.${key.replace(/\.zip$/, "")}`);
    const main = readFileSync(join(asset, "index.mjs"), "utf8");
    // Out of the main bundle (and so out of every cold start): SSM's, S3's and SES's operations.
    expect(main.includes('"GetParameter"'), "SSM's client in the main bundle").toBe(false);
    expect(main.includes('"ListObjectsV2"'), "S3's client in the main bundle").toBe(false);
    expect(main.includes('"SendEmail"'), "SES's client in the main bundle").toBe(false);
    // A copy of the asset far from any node_modules: what resolves is what the asset carries.
    const copy = mkdtempSync(join(tmpdir(), "watchkeeper-asset-"));
    try {
      cpSync(asset, copy, { recursive: true });
      const probe = join(copy, "probe.mjs");
      writeFileSync(
        probe,
        LAZY_SDK_PACKAGES.map(
          (name) =>
            `{ const m = await import(${JSON.stringify(name)}); console.log(${JSON.stringify(name)}, Object.keys(m).filter((k) => k.endsWith("Client")).length > 0); }`,
        ).join("\n"),
      );
      const run = spawnSync(process.execPath, [probe], {
        cwd: copy,
        env: { PATH: process.env.PATH },
        encoding: "utf8",
      });
      expect(run.stderr.replace(/\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*/, "")).toBe("");
      expect(run.stdout.trim().split("\n")).toEqual(LAZY_SDK_PACKAGES.map((name) => `${name} true`));
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
    // The main bundle is split (lib/lambda-bundling.ts, splitMainBundleCommand): each check is a
    // chunk of its own, which neither index.mjs nor the chunks it imports statically hold.
    const chunks = readdirSync(join(asset, MAIN_CHUNKS_DIR)).filter((name) => name.endsWith(".mjs"));
    const eager = new Set<string>();
    const pending = ["index.mjs"];
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
      if (eager.has(file)) continue;
      eager.add(file);
      const code = readFileSync(
        join(asset, file === "index.mjs" ? file : `${MAIN_CHUNKS_DIR}/${file}`),
        "utf8",
      );
      for (const match of code.matchAll(
        /(?:^|[;}\s])import\s*(?:[^"'()]*?from\s*)?["']\.{1,2}\/(?:_chunks\/)?([^"']+\.mjs)["']/g,
      ))
        if (match[1]) pending.push(match[1]);
    }
    const httpChunk = chunks.find((name) => name.startsWith("http-"));
    expect(httpChunk, "a chunk of the http check").toBeDefined();
    // What a cold start loads is few files (lib/split-main-bundle.ts): the entry, the chunk of all
    // the code it reaches, and the chunks it shares with the SDK's own lazy imports. Plain
    // splitting made it 12, each one more file for Node to resolve, read and map.
    expect([...eager].sort(), "files a cold start loads").toHaveLength(4);
    // A check's chunk imports the entry's graph (already evaluated) and exports what the registry reads.
    const load = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const m = await import(${JSON.stringify(join(asset, "index.mjs"))});
const http = await import(${JSON.stringify(join(asset, MAIN_CHUNKS_DIR, httpChunk ?? "none"))});
console.log(typeof m.handler, typeof http.httpCheck?.run);`,
      ],
      {
        env: {
          PATH: process.env.PATH,
          MONITORS_TABLE: "t",
          SENDER_EMAIL: "a@example.org",
          AWS_REGION: "us-east-1",
        },
        encoding: "utf8",
      },
    );
    expect(load.stdout.trim(), load.stderr.slice(0, 2000)).toBe("function function");
    for (const file of eager) {
      const code = readFileSync(
        join(asset, file === "index.mjs" ? file : `${MAIN_CHUNKS_DIR}/${file}`),
        "utf8",
      );
      // A message of the http check, and one of the sql check's read-only guard.
      expect(code.includes("must be an HTTP status code"), `${file} holds the http check`).toBe(false);
      expect(code.includes("must be one SELECT statement"), `${file} holds the sql check`).toBe(false);
    }
    // The other functions need none of them and carry none.
    const sync = resource("AWS::Lambda::Function", "ScheduleSync/Lambda/Function").Properties.Code
      .S3Key as string;
    expect(existsSync(join(synthesized.outdir, `asset.${sync.replace(/\.zip$/, "")}`, "node_modules"))).toBe(
      false,
    );
  });
});

describe("event sources", () => {
  it("orchestrator: batches of ten ticks from the ticks queue, with partial batch responses", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: arnOf(idOf("AWS::SQS::Queue", "Ticks/Queue/")),
      FunctionName: { Ref: idOf("AWS::Lambda::Function", "Orchestrator/Lambda/Function") },
      BatchSize: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("schedule-sync: only config items, partial batch responses, bisect, bounded retries to a failure queue", () => {
    const mapping = Object.values(template.findResources("AWS::Lambda::EventSourceMapping")).find(
      (candidate) => candidate.Properties.StartingPosition !== undefined,
    );
    expect(mapping?.Properties).toMatchObject({
      EventSourceArn: { "Fn::GetAtt": [idOf("AWS::DynamoDB::GlobalTable", "Monitors/Table"), "StreamArn"] },
      FunctionName: { Ref: idOf("AWS::Lambda::Function", "ScheduleSync/Lambda/Function") },
      StartingPosition: "TRIM_HORIZON",
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BisectBatchOnFunctionError: true,
      ParallelizationFactor: 1,
      MaximumRetryAttempts: 10,
      DestinationConfig: {
        OnFailure: { Destination: arnOf(idOf("AWS::SQS::Queue", "ScheduleSync/FailedRecordsQueue")) },
      },
    });
    const filters: Array<{ Pattern: string }> = mapping?.Properties.FilterCriteria.Filters ?? [];
    const patterns = filters.map((filter) => JSON.parse(filter.Pattern));
    expect(patterns).toEqual([{ dynamodb: { Keys: { record: { S: ["config"] } } } }]);
  });
});

describe("IAM", () => {
  it("no statement anywhere allows a wildcard action, and only X-Ray gets Resource *", () => {
    for (const policy of Object.values(template.findResources("AWS::IAM::Policy"))) {
      for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
        for (const action of actions(statement)) expect(action).not.toMatch(/\*/);
        if (statement.Resource === "*") {
          expect(actions(statement).sort()).toEqual(["xray:PutTelemetryRecords", "xray:PutTraceSegments"]);
        }
      }
    }
  });

  it("orchestrator: Monitors table only, SES only from the sender identity, SQS only its own queues", () => {
    const statements = statementsOfRole("Orchestrator/Lambda/Role");
    const table = arnOf(idOf("AWS::DynamoDB::GlobalTable", "Monitors/Table"));
    const monitorsTable = statementWith(statements, "dynamodb:BatchGetItem");
    expect(monitorsTable.Resource).toEqual(table);
    // Least privilege: what the store adapter calls, and nothing that deletes or scans.
    // UpdateItem: incident items, updated in the state write's transaction (functions/core/incident.ts).
    expect(actions(monitorsTable).sort()).toEqual([
      "dynamodb:BatchGetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    ]);
    const ses = statementWith(statements, "ses:SendEmail");
    expect(actions(ses)).toEqual(["ses:SendEmail"]);
    // The account's identities (SES also authorises against sandbox recipients), pinned to the sender.
    expect(JSON.stringify(ses.Resource)).toMatch(/:ses:.*:identity\/\*/);
    expect(ses.Condition).toEqual({ StringEquals: { "ses:FromAddress": "alerts@example.org" } });
    const sends = statements.filter((statement) => actions(statement).join() === "sqs:SendMessage");
    expect(sortedJson(sends.flatMap((statement) => statement.Resource))).toEqual(
      sortedJson([
        arnOf(idOf("AWS::SQS::Queue", "Ticks/DeadLetterQueue")),
        arnOf(idOf("AWS::SQS::Queue", "DeliveryRetries/Queue/")),
      ]),
    );
  });

  it("orchestrator: the checks may read exactly the resources listed in checkReadArns", () => {
    const statements = statementsOfRole("Orchestrator/Lambda/Role");
    const only = (action: string) =>
      statements
        .filter((statement) => actions(statement).join() === action)
        .map((statement) => statement.Resource);
    expect(only("sqs:GetQueueAttributes")).toEqual(["arn:aws:sqs:eu-west-1:123456789012:feed-dlq"]);
    // The checks' tables, and the Monitors table's `__channels` partition only (the channel directory).
    expect(only("dynamodb:Query")).toEqual([
      arnOf(idOf("AWS::DynamoDB::GlobalTable", "Monitors/Table")),
      "arn:aws:dynamodb:eu-west-1:123456789012:table/feeds",
    ]);
    const channels = statements.find(
      (statement) => actions(statement).join() === "dynamodb:Query" && statement.Condition !== undefined,
    );
    expect(channels?.Condition).toEqual({
      "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": [CHANNELS_PARTITION] },
    });
  });

  it("scheduler role: assumable by Scheduler for this account's group only, may only send to the ticks queue and its DLQ", () => {
    const role = resource("AWS::IAM::Role", "ScheduleSync/SchedulerRole");
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: "sts:AssumeRole",
        Effect: "Allow",
        Principal: { Service: "scheduler.amazonaws.com" },
        Condition: {
          StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } },
          ArnEquals: { "aws:SourceArn": arnOf(idOf("AWS::Scheduler::ScheduleGroup", "ScheduleSync/Group")) },
        },
      },
    ]);
    expect(statementsOfRole("ScheduleSync/SchedulerRole")).toEqual([
      {
        Action: "sqs:SendMessage",
        Effect: "Allow",
        Resource: expect.arrayContaining([
          arnOf(idOf("AWS::SQS::Queue", "Ticks/Queue/")),
          arnOf(idOf("AWS::SQS::Queue", "ScheduleSync/SchedulerDeadLetterQueue")),
        ]),
      },
    ]);
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it("schedule-sync: member items on the table, only reads and deletes of its group's old schedules, no PassRole", () => {
    const all = statementsOfRole("ScheduleSync/Lambda/Role");
    const statements = all.filter((statement) => statement.Effect !== "Deny");
    const scheduling = statementWith(statements, "scheduler:DeleteSchedule");
    expect(actions(scheduling).sort()).toEqual(["scheduler:DeleteSchedule", "scheduler:GetSchedule"]);
    expect(JSON.stringify(scheduling.Resource)).toMatch(/:scheduler:.*:schedule\/wk-test\/\*"/);
    // The stack's own schedules are out of reach, whatever the code asks.
    const deny = all.find((statement) => statement.Effect === "Deny");
    expect(deny && actions(deny)).toEqual(["scheduler:DeleteSchedule"]);
    expect(JSON.stringify(deny?.Resource)).toContain("wk-test/__watchkeeper-heartbeat");
    expect(JSON.stringify(deny?.Resource)).toContain("wk-test/__watchkeeper-clock");
    const everything = statements.flatMap(actions);
    expect(everything).not.toContain("scheduler:CreateSchedule");
    expect(everything).not.toContain("scheduler:UpdateSchedule");
    expect(everything).not.toContain("iam:PassRole");
    // Writes only: no read of the table or of an index (the directory's entries are conditional
    // puts and deletes), no batch writes.
    for (const action of ["dynamodb:Query", "dynamodb:Scan", "dynamodb:GetItem", "dynamodb:BatchWriteItem"]) {
      expect(everything).not.toContain(action);
    }
    expect(JSON.stringify(statements)).not.toContain("/index/");
    // PutItem: member items, bucket headers and directory entries; the rest: scheduleError,
    // forgetting a deleted monitor, and deleting its directory entry.
    const update = statementWith(statements, "dynamodb:UpdateItem");
    expect(actions(update).sort()).toEqual([
      "dynamodb:ConditionCheckItem",
      "dynamodb:DeleteItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    ]);
    expect(update.Resource).toEqual(arnOf(idOf("AWS::DynamoDB::GlobalTable", "Monitors/Table")));
    // The one "cannot be scheduled" mail per problem: SendEmail from the sender address only.
    const ses = statementWith(statements, "ses:SendEmail");
    expect(actions(ses)).toEqual(["ses:SendEmail"]);
    expect(ses.Condition).toEqual({ StringEquals: { "ses:FromAddress": "alerts@example.org" } });
  });

  it("the functions' roles write only their own log group (no AWSLambdaBasicExecutionRole)", () => {
    for (const name of ["Orchestrator", "ScheduleSync"]) {
      expect(resource("AWS::IAM::Role", `${name}/Lambda/Role`).Properties.ManagedPolicyArns).toBeUndefined();
      expect(statementWith(statementsOfRole(`${name}/Lambda/Role`), "logs:PutLogEvents").Resource).toEqual(
        arnOf(idOf("AWS::Logs::LogGroup", `${name}/Lambda/Logs`)),
      );
    }
  });
});

describe("SES, schedule group, alarms", () => {
  it("uses the existing sender identity (nothing to create or delete) and creates the schedule group", () => {
    // createSenderIdentity defaults to false: the identity is only referred to, by the IAM grants.
    template.resourceCountIs("AWS::SES::EmailIdentity", 0);
    template.hasResourceProperties("AWS::Scheduler::ScheduleGroup", { Name: "wk-test" });
  });

  it("subscribes the operator to the encrypted-in-transit alarm topic", () => {
    template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "ops@example.org",
      TopicArn: { Ref: idOf("AWS::SNS::Topic", "Alarms/Topic") },
    });
  });

  it("alarms on both DLQs, the sync failure queue, function errors, throttles, backlog, lag, SES and invalid schedules", () => {
    const topic = { Ref: idOf("AWS::SNS::Topic", "Alarms/Topic") };
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm"));
    expect(alarms.map((alarm) => alarm.Properties.AlarmName).sort()).toEqual([
      "wk-test-channel-deliveries-abandoned",
      "wk-test-clock-missing",
      "wk-test-delivery-retry-dead-letters",
      "wk-test-fan-out-dead-letters",
      "wk-test-fan-out-errors",
      "wk-test-fan-out-lag",
      "wk-test-fan-out-throttles",
      "wk-test-heartbeat-missing",
      "wk-test-invalid-schedules",
      "wk-test-monitor-config-problems",
      "wk-test-notification-delivery-failures",
      "wk-test-notifications-abandoned",
      "wk-test-orchestrator-errors",
      "wk-test-orchestrator-throttles",
      "wk-test-schedule-sync-dead-letters",
      "wk-test-schedule-sync-errors",
      "wk-test-schedule-sync-lag",
      "wk-test-scheduler-dead-letters",
      "wk-test-ticks-backlog",
      "wk-test-ticks-dead-letters",
    ]);
    const byName = (name: string) =>
      alarms.find((alarm) => alarm.Properties.AlarmName === `wk-test-${name}`)?.Properties;
    expect(byName("channel-deliveries-abandoned")).toMatchObject({
      MetricName: "ChannelDeliveryAbandoned",
      Dimensions: [{ Name: "service", Value: "orchestrator" }],
      Statistic: "Sum",
    });
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([topic]);
      expect(alarm.Properties.OKActions).toEqual([topic]);
      // Silence is health for every alarm but the dead-man's switches, asserted below.
      if (!["wk-test-heartbeat-missing", "wk-test-clock-missing"].includes(alarm.Properties.AlarmName))
        expect(alarm.Properties.TreatMissingData).toBe("notBreaching");
      expect(alarm.Properties.AlarmDescription.length).toBeGreaterThan(40);
    }
    // The dead-man's switch: fewer than one heartbeat in 15 minutes, and no data at all, both fire it.
    expect(byName("heartbeat-missing")).toMatchObject({
      Namespace: "Watchkeeper",
      MetricName: HEARTBEAT,
      Dimensions: [{ Name: "service", Value: "orchestrator" }],
      Statistic: "Sum",
      Period: 900,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
    });
    expect(byName("heartbeat-missing")?.AlarmDescription).toContain(HEARTBEAT_ID);
    const queueName = (path: string) => ({ "Fn::GetAtt": [idOf("AWS::SQS::Queue", path), "QueueName"] });
    expect(byName("ticks-dead-letters")).toMatchObject({
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: queueName("Ticks/DeadLetterQueue") }],
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
    });
    expect(byName("scheduler-dead-letters")).toMatchObject({
      Dimensions: [{ Name: "QueueName", Value: queueName("ScheduleSync/SchedulerDeadLetterQueue") }],
    });
    const orchestrator = { Ref: idOf("AWS::Lambda::Function", "Orchestrator/Lambda/Function") };
    expect(byName("orchestrator-errors")).toMatchObject({
      Namespace: "AWS/Lambda",
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: orchestrator }],
    });
    expect(byName("orchestrator-throttles")).toMatchObject({ MetricName: "Throttles" });
    expect(byName("schedule-sync-errors")).toMatchObject({
      MetricName: "Errors",
      Dimensions: [
        {
          Name: "FunctionName",
          Value: { Ref: idOf("AWS::Lambda::Function", "ScheduleSync/Lambda/Function") },
        },
      ],
    });
    expect(byName("invalid-schedules")).toMatchObject({
      Namespace: "Watchkeeper",
      MetricName: "InvalidSchedules",
      Dimensions: [{ Name: "service", Value: "schedule-sync" }],
    });
  });

  it("the heartbeat schedule sends its tick like a monitor's schedule: same group, role, queue, message group rule and DLQ", () => {
    const schedules = template.findResources("AWS::Scheduler::Schedule");
    expect(Object.keys(schedules)).toHaveLength(2); // the heartbeat and the clock
    const schedule = resource("AWS::Scheduler::Schedule", "ScheduleSync/Heartbeat");
    expect(schedule.Properties).toEqual({
      Name: HEARTBEAT_ID,
      GroupName: "wk-test",
      Description: expect.stringContaining("heartbeat"),
      ScheduleExpression: `rate(${HEARTBEAT_PERIOD_MINUTES} minutes)`,
      ScheduleExpressionTimezone: "UTC",
      State: "ENABLED",
      FlexibleTimeWindow: { Mode: "OFF" },
      Target: {
        Arn: arnOf(idOf("AWS::SQS::Queue", "Ticks/Queue/")),
        RoleArn: arnOf(idOf("AWS::IAM::Role", "ScheduleSync/SchedulerRole")),
        Input: heartbeatTickBody(),
        SqsParameters: { MessageGroupId: HEARTBEAT_ID },
        RetryPolicy: {
          MaximumEventAgeInSeconds: DEFAULT_RETRY_POLICY.maximumEventAgeSeconds,
          MaximumRetryAttempts: DEFAULT_RETRY_POLICY.maximumRetryAttempts,
        },
        DeadLetterConfig: { Arn: arnOf(idOf("AWS::SQS::Queue", "ScheduleSync/SchedulerDeadLetterQueue")) },
      },
    });
    // Created after its group (named by a literal) and after the role's policy.
    expect(schedule.DependsOn).toEqual(
      expect.arrayContaining([
        idOf("AWS::Scheduler::ScheduleGroup", "ScheduleSync/Group"),
        idOf("AWS::IAM::Policy", "ScheduleSync/SchedulerRole/DefaultPolicy"),
      ]),
    );
    expect(JSON.parse(schedule.Properties.Target.Input)).toEqual({
      monitorId: HEARTBEAT_ID,
      scheduledTime: "<aws.scheduler.scheduled-time>",
      reason: "heartbeat",
    });
    // No monitor can take its name; a monitor's schedule is targeted the same way by the adapter.
    expect(MonitorIdSchema.safeParse(HEARTBEAT_ID).success).toBe(false);
    const monitorRequest = new EventBridgeScheduler({
      groupName: "wk-test",
      ticksQueueArn: "ticks",
      roleArn: "role",
      deadLetterQueueArn: "dlq",
    }).scheduleRequest({ monitorId: "m", expression: "rate(1 minute)", timezone: "UTC", enabled: true });
    expect(Object.keys(monitorRequest.Target ?? {}).sort()).toEqual(
      Object.keys(schedule.Properties.Target).sort(),
    );
  });

  it("prints a ready-to-run reconcile command", () => {
    const output = template.findOutputs("ReconcileCommand").ReconcileCommand;
    const text = JSON.stringify(output?.Value);
    for (const flag of ["--table", "--group"]) expect(text).toContain(flag);
    // Only flags reconcile's CLI knows: it refuses the others.
    expect(text).not.toContain("--ticks-queue-arn");
    expect(text).toContain("--default-timezone Europe/Paris");
  });
});

describe("bucket schedules: clock, fan-out, index", () => {
  it("indexes bucket members sparsely (ByBucket on `wkBucket`) and the monitor directory (ByMonitor on `wkMonitor`), sorted by monitor, keys only", () => {
    template.hasResourceProperties("AWS::DynamoDB::GlobalTable", {
      GlobalSecondaryIndexes: [
        {
          IndexName: BUCKET_INDEX,
          KeySchema: [
            { AttributeName: "wkBucket", KeyType: "HASH" },
            { AttributeName: "monitorId", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "KEYS_ONLY" },
        },
        {
          IndexName: DIRECTORY_INDEX,
          KeySchema: [
            { AttributeName: "wkMonitor", KeyType: "HASH" },
            { AttributeName: "monitorId", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "KEYS_ONLY" },
        },
      ],
    });
  });

  it("the clock invokes the fan-out every minute in UTC, with its planned time, retries bounded, a DLQ", () => {
    const clock = resource("AWS::Scheduler::Schedule", "FanOut/Clock");
    const fanOut = idOf("AWS::Lambda::Function", "FanOut/Lambda/Function");
    expect(clock.Properties).toMatchObject({
      Name: CLOCK_SCHEDULE_NAME,
      GroupName: "wk-test",
      ScheduleExpression: "cron(* * * * ? *)",
      ScheduleExpressionTimezone: "UTC",
      State: "ENABLED",
      FlexibleTimeWindow: { Mode: "OFF" },
      Target: {
        Arn: arnOf(fanOut),
        RoleArn: arnOf(idOf("AWS::IAM::Role", "FanOut/ClockRole")),
        Input: '{"scheduledTime":"<aws.scheduler.scheduled-time>"}',
        DeadLetterConfig: { Arn: arnOf(idOf("AWS::SQS::Queue", "FanOut/DeadLetterQueue")) },
      },
    });
    expect(clock.Properties.Target.RetryPolicy.MaximumEventAgeInSeconds).toBeLessThanOrEqual(300);
    // Retries of a minute stay inside the ticks queue's 5-minute deduplication window.
    expect(FAN_OUT_MAX_EVENT_AGE.toSeconds() + FAN_OUT_TIMEOUT.toSeconds()).toBeLessThan(300);
    // The clock's role may invoke the fan-out itself (not its versions) and reach its DLQ.
    const statements = statementsOfRole("FanOut/ClockRole");
    expect(statementWith(statements, "lambda:InvokeFunction").Resource).toEqual(arnOf(fanOut));
  });

  it("retries a failed minute only inside the ticks queue's 5-minute deduplication window", () => {
    template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: { Ref: idOf("AWS::Lambda::Function", "FanOut/Lambda/Function") },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: FAN_OUT_MAX_EVENT_AGE.toSeconds(),
      DestinationConfig: {
        OnFailure: { Destination: arnOf(idOf("AWS::SQS::Queue", "FanOut/DeadLetterQueue")) },
      },
    });
  });

  it("fan-out: reads headers and the index, deletes bucket headers only, sends to the ticks queue only", () => {
    const variables = resource("AWS::Lambda::Function", "FanOut/Lambda/Function").Properties.Environment
      .Variables;
    for (const name of Object.keys(FanOutEnvironmentSchema.shape)) expect(variables).toHaveProperty(name);
    const statements = statementsOfRole("FanOut/Lambda/Role");
    const table = arnOf(idOf("AWS::DynamoDB::GlobalTable", "Monitors/Table"));
    const queries = statements.filter((statement) => actions(statement).includes("dynamodb:Query"));
    expect(queries).toHaveLength(2);
    // On the table: bucket headers only; on the index: members.
    expect(
      queries.find((statement) => !JSON.stringify(statement.Resource).includes("/index/")),
    ).toMatchObject({
      Resource: table,
      Condition: { "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": [BUCKETS_PARTITION] } },
    });
    expect(
      JSON.stringify(
        queries.find((statement) => JSON.stringify(statement.Resource).includes("/index/"))?.Resource,
      ),
    ).toContain(`/index/${BUCKET_INDEX}`);
    expect(statementWith(statements, "dynamodb:DeleteItem")).toMatchObject({
      Resource: table,
      Condition: { "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": [BUCKETS_PARTITION] } },
    });
    // The ticks queue, and its own DLQ (Lambda sends a failed minute there with the function's role).
    const send = statementWith(statements, "sqs:SendMessage");
    expect(send.Resource).toEqual([
      arnOf(idOf("AWS::SQS::Queue", "FanOut/DeadLetterQueue")),
      arnOf(idOf("AWS::SQS::Queue", "Ticks/Queue/")),
    ]);
    const everything = statements.flatMap(actions);
    for (const forbidden of [
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "ses:SendEmail",
      "scheduler:CreateSchedule",
    ]) {
      expect(everything).not.toContain(forbidden);
    }
  });

  it("alarms when the fan-out lags, fails, loses a minute, or goes silent (missing data breaches)", () => {
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm"));
    const byName = (name: string) =>
      alarms.find((alarm) => alarm.Properties.AlarmName === `wk-test-${name}`)?.Properties;
    expect(byName("fan-out-lag")).toMatchObject({
      MetricName: "FanOutLagSeconds",
      Dimensions: [{ Name: "service", Value: "fan-out" }],
      Statistic: "Maximum",
      Threshold: 30,
      ComparisonOperator: "GreaterThanThreshold",
    });
    expect(byName("clock-missing")).toMatchObject({
      MetricName: "ClockInvocations",
      Dimensions: [{ Name: "service", Value: "fan-out" }],
      Statistic: "Sum",
      Period: 300,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
    });
    expect(byName("fan-out-dead-letters")).toMatchObject({
      MetricName: "ApproximateNumberOfMessagesVisible",
    });
  });
});

describe("cdk-nag", () => {
  it("AwsSolutions reports no unacknowledged error (synthesis would have thrown) and no warning", () => {
    const report = validationReport(synthesized.outdir);
    const violations = report.pluginReports.flatMap((plugin) =>
      plugin.violations.map(
        (violation) => `${plugin.pluginName}: ${violation.ruleName} (${violation.severity})`,
      ),
    );
    expect(violations).toEqual([]);
  });
});

/** Resource lists compared as sets: CDK merges and orders statements as it likes. */
function sortedJson(values: unknown[]): string[] {
  return values.map((value) => JSON.stringify(value)).sort();
}
