import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { inject } from "vitest";
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from "../../../local/runtime.ts";
import { LOCAL_CREDENTIALS } from "../../../local/servers.ts";

/**
 * An in-process local runtime on free loopback ports (a developer may have `npm start` on the
 * default ones), with its own state dir and its own table on the project's shared DynamoDB Local
 * (starting a JVM per file would dominate the suite's time), plus plain SDK clients: tests talk
 * to it only through the wire, like any other DynamoDB, SQS or SES client would.
 */
export interface TestRuntime {
  runtime: LocalRuntime;
  doc: DynamoDBDocumentClient;
  sqs: SQSClient;
  stop(): Promise<void>;
}

export async function startTestRuntime(options: LocalRuntimeOptions = {}): Promise<TestRuntime> {
  const stateDir = await mkdtemp(join(tmpdir(), "watchkeeper-e2e-"));
  const runtime = await startLocalRuntime({
    ports: { sqs: 0, ses: 0, demoSite: 0 },
    dynamodbEndpoint: inject("dynamoEndpoint"),
    tableName: `monitors-${randomUUID().slice(0, 8)}`,
    queueName: `ticks-${randomUUID().slice(0, 8)}`,
    seed: false,
    scheduler: false,
    stateDir,
    visibilityTimeoutSeconds: 5,
    ...options,
  });
  const config = { region: runtime.endpoints.region, credentials: LOCAL_CREDENTIALS };
  const dynamo = new DynamoDBClient({ ...config, endpoint: runtime.endpoints.dynamodb });
  const doc = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  const sqs = new SQSClient({ ...config, endpoint: runtime.endpoints.sqs });
  return {
    runtime,
    doc,
    sqs,
    async stop() {
      dynamo.destroy();
      sqs.destroy();
      await runtime.stop();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails with `what`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  // Generous: a cold Lambda environment compiles the handler graph, slow on a loaded CI machine.
  timeoutMs = 45_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`,
  );
}

/** Scheduler-style timestamp (seconds, UTC, `Z`). */
export function schedulerTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
