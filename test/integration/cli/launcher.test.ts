import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freshTable, localDynamo } from "../../support/aws.ts";

/** The installed binary as people run it: a child process, from another working directory. */

const launcher = fileURLToPath(new URL("../../../cli/watchkeeper.mjs", import.meta.url));
const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "watchkeeper-launcher-"));
  const { tableName } = await freshTable("cli-launcher");
  const { client, doc } = localDynamo();
  await doc.send(
    new PutCommand({
      TableName: tableName,
      Item: {
        monitorId: "nightly-export",
        record: "config",
        name: "Nightly export",
        check: "manual",
        params: { isOk: true },
      },
    }),
  );
  client.destroy();
  await writeFile(
    join(dir, "local.json"),
    JSON.stringify({
      region: "us-east-1",
      dynamodb: inject("dynamoEndpoint"),
      sqs: "http://127.0.0.1:9",
      tableName,
      queueUrl: "http://127.0.0.1:9/000000000000/unused.fifo",
      pid: process.pid,
    }),
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

// An AWS table exported in the shell must not win over --local's own table.
const env = { ...process.env, NO_COLOR: "1", WATCHKEEPER_TABLE: "some-aws-table" };

describe("cli/watchkeeper.mjs", () => {
  it("prints help and lists against --local", async () => {
    const help = await run(launcher, ["--help"], { cwd: dir, env });
    expect(help.stdout).toContain("Usage: watchkeeper [options] [command]");
    expect(help.stdout).toContain("history [options] <id>");

    const listed = await run(launcher, ["list", "--local", "--state-dir", dir], { cwd: tmpdir(), env });
    expect(listed.stderr).toBe("");
    expect(listed.stdout).toMatch(
      /^ID\s+NAME\s+CHECK\s+SCHEDULE\s+ACTIVE\s+STATE\s+LAST RUN\s+LAST MESSAGE\n/,
    );
    expect(listed.stdout).toMatch(
      /nightly-export\s+Nightly export\s+manual\s+rate\(5 minutes\)\s+yes\s+new\s+never/,
    );
  });
});
