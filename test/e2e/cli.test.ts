import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import type { LocalEndpoints } from "../../local/runtime.ts";
import { assertPortFree, LOOPBACK } from "../../local/servers.ts";
import { capturedEmails } from "../support/aws.ts";
import { eventually } from "./support/runtime.ts";

/** `npm start` as a newcomer runs it: a child process, its output, its files, Ctrl-C. */

const root = fileURLToPath(new URL("../..", import.meta.url));
const tsx = join(root, "node_modules", ".bin", "tsx");

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function start(args: string[]): Run {
  let output = "";
  const child = spawn(tsx, ["local/start.ts", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  return { child, output: () => output, exited };
}

async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "watchkeeper-cli-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("npm start", () => {
  it("fails fast, naming the flag, when a port is taken", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, LOOPBACK, resolve));
    cleanups.push(() => new Promise((resolve) => blocker.close(() => resolve())));
    const address = blocker.address();
    const port = typeof address === "object" && address ? address.port : 0;

    const run = start([
      "--dynamodb-port",
      "0",
      "--sqs-port",
      String(port),
      "--ses-port",
      "0",
      "--demo-port",
      "0",
    ]);
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain(`port ${port} for SQS (fauxqs) is already in use`);
    expect(run.output()).toContain("--sqs-port");
  });

  it("runs the seeded demo end to end and stops cleanly on SIGTERM", async () => {
    const dir = await stateDir();
    const run = start([
      ...["--dynamodb-port", "0", "--sqs-port", "0", "--ses-port", "0", "--demo-port", "0"],
      ...["--state-dir", dir],
    ]);
    const infoFile = join(dir, "local.json");
    await eventually("local.json", () => (existsSync(infoFile) ? true : undefined), 60_000);
    const info = JSON.parse(await readFile(infoFile, "utf8")) as LocalEndpoints & { pid: number };
    expect(info).toMatchObject({
      region: "us-east-1",
      tableName: "Monitors",
      senderEmail: expect.any(String),
    });

    // The seeded failing monitor alerts on its first tick: the scheduler, the queue, the
    // orchestrator and SES all did their part.
    const alert = await eventually(
      "the seeded monitor's alert email",
      async () =>
        (await capturedEmails(info.ses)).find(
          (mail) =>
            mail.subject.startsWith("[Monitor ALERT] Demo: failing") &&
            mail.destination.to.includes("demo@example.com"),
        ),
      60_000,
    );
    // One mail per recipient, each with its own signed ack link to the local dashboard.
    expect(alert.destination.to).toEqual(["demo@example.com"]);
    expect(info.dashboardUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(alert.body.text).toContain(`${info.dashboardUrl}ack?t=`);
    expect((await fetch(info.inboxUrl)).status).toBe(200);
    await eventually("the inbox URL on stdout", () =>
      run.output().includes(info.inboxUrl) ? true : undefined,
    );

    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain("stopped.");
    expect(existsSync(infoFile)).toBe(false);
    // Nothing is left listening: DynamoDB Local (Java), fauxqs, the SES server, the demo site, the
    // channel receiver, the dashboard.
    const optional = [info.channelReceiverUrl, info.dashboardUrl].filter((url) => url !== undefined);
    for (const endpoint of [info.dynamodb, info.sqs, info.ses, info.demoSiteUrl, ...optional]) {
      await assertPortFree(Number(new URL(endpoint).port), endpoint);
    }
  });
});
