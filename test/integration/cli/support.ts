import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { runCli } from "../../../cli/main.ts";
import { localDynamo } from "../../support/aws.ts";

/** Drives the CLI through runCli, the binary's own entry point, with captured output. */

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  // biome-ignore lint/suspicious/noExplicitAny: the tests assert on the shape of the parsed output
  json<T = any>(): T;
}

export interface CliHarness {
  run(
    args: string[],
    options?: { now?: Date; confirm?: boolean; env?: Record<string, string | undefined> },
  ): Promise<CliResult>;
  put(item: Record<string, unknown>): Promise<void>;
  writeFile(name: string, content: string): Promise<string>;
  dir: string;
  close(): Promise<void>;
}

export async function cliHarness(
  tableName: string,
  extra: { sqs?: SQSClient; dynamodb?: DynamoDBClient } = {},
) {
  const { client, doc } = localDynamo();
  const dir = await mkdtemp(join(tmpdir(), "watchkeeper-cli-"));
  const harness: CliHarness = {
    dir,
    async run(args, options = {}) {
      let stdout = "";
      let stderr = "";
      const questions: string[] = [];
      const code = await runCli(
        ["--table", tableName, ...args],
        {
          stdout: { write: (text: string) => (stdout += text) },
          stderr: { write: (text: string) => (stderr += text) },
          env: options.env ?? {},
          cwd: dir,
          now: () => options.now ?? new Date(),
          confirm: async (question) => {
            questions.push(question);
            return options.confirm ?? false;
          },
        },
        { dynamodb: extra.dynamodb ?? client, ...(extra.sqs ? { sqs: extra.sqs } : {}) },
      );
      return {
        code,
        stdout,
        stderr: stderr + questions.map((q) => `? ${q}\n`).join(""),
        json: () => JSON.parse(stdout),
      };
    },
    async put(item) {
      await doc.send(new PutCommand({ TableName: tableName, Item: item }));
    },
    async writeFile(name, content) {
      const path = join(dir, name);
      await writeFile(path, content);
      return path;
    },
    async close() {
      client.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Run and notification items as the orchestrator writes them (functions/core/tick.ts). */
export function runItem(monitorId: string, scheduledTime: string, fields: Record<string, unknown>) {
  return {
    monitorId,
    record: `run#${scheduledTime}`,
    scheduledTime,
    isOk: true,
    message: "fine",
    durationMs: 10,
    state: "ok",
    consecutiveOkCount: 0,
    quietReason: "healthy",
    expiresAt: Math.floor(Date.parse(scheduledTime) / 1000) + 14 * 86_400,
    ...fields,
  };
}

export function notificationItem(monitorId: string, tickTime: string, type: string, deliveredAt: string) {
  return {
    monitorId,
    record: `notification#${tickTime}#${type}`,
    messageId: `msg-${tickTime}`,
    recipients: ["oncall@example.org"],
    type,
    tickTime,
    subject: `[Monitor ${type.toUpperCase()}] ${monitorId}`,
    deliveredAt,
    attempts: 1,
    expiresAt: Math.floor(Date.parse(deliveredAt) / 1000) + 14 * 86_400,
  };
}
