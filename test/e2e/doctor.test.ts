import { dirname } from "node:path";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DoctorResult } from "../../cli/doctor.ts";
import { runCli } from "../../cli/main.ts";
import { capturedEmails } from "../support/aws.ts";
import { startTestRuntime, type TestRuntime } from "./support/runtime.ts";

/**
 * `watchkeeper doctor --local` against a running local runtime: the real fauxqs, DynamoDB Local
 * and aws-ses-v2-local answer what they implement; what they do not is a SKIP, never a FAIL.
 */

let env: TestRuntime;
beforeAll(async () => {
  env = await startTestRuntime();
});
afterAll(async () => {
  await env?.stop();
});

async function doctor(args: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(["doctor", "--local", "--state-dir", dirname(env.runtime.infoFile), ...args], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
    cwd: process.cwd(),
    now: () => new Date("2026-11-21T12:00:00.000Z"),
  });
  return { code, stdout, stderr };
}

function byCheck(stdout: string): Record<string, DoctorResult> {
  const { checks } = JSON.parse(stdout) as { checks: DoctorResult[] };
  return Object.fromEntries(checks.map((result) => [result.check, result]));
}

describe("watchkeeper doctor --local", () => {
  it("passes the queues and the table, skips what the emulators lack, and sends the test mail", async () => {
    const { code, stdout, stderr } = await doctor(["--send-test-mail", "me@example.org", "--json"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const checks = byCheck(stdout);
    const { endpoints } = env.runtime;
    expect(checks["ticks queue"]).toMatchObject({
      status: "PASS",
      message: expect.stringContaining(endpoints.queueUrl),
    });
    expect(checks["ticks queue DLQ"]).toMatchObject({
      status: "PASS",
      message: `${endpoints.dlqUrl}: empty`,
    });
    expect(checks["delivery-retry queue"]).toMatchObject({ status: "PASS" });
    expect(checks["delivery-retry queue DLQ"]).toMatchObject({ status: "PASS" });
    expect(checks["Monitors table"]).toMatchObject({
      status: "PASS",
      message: expect.stringContaining(endpoints.tableName),
    });
    // aws-ses-v2-local has no GetEmailIdentity (404) and answers GetAccount only when configured.
    expect(checks["sender identity"]).toMatchObject({
      status: "SKIP",
      message: expect.stringContaining("GetEmailIdentity"),
    });
    expect(checks["SES account"]).toMatchObject({
      status: "SKIP",
      message: expect.stringContaining("GetAccount"),
    });
    expect(checks["schedule group"]?.status).toBe("SKIP");
    expect(checks["heartbeat schedule"]?.status).toBe("SKIP");
    expect(checks["clock schedule"]?.status).toBe("SKIP");

    const mail = checks["test mail"];
    expect(mail).toMatchObject({ status: "PASS", messageId: expect.any(String) });
    const sent = (await capturedEmails(endpoints.ses)).find((email) => email.messageId === mail?.messageId);
    expect(sent).toMatchObject({
      from: endpoints.senderEmail,
      destination: { to: ["me@example.org"] },
      subject: expect.stringContaining("doctor test mail"),
    });
    expect(sent?.body.text).toContain("2026-11-21T12:00:00.000Z");
  });

  it("prints one line per check and a summary", async () => {
    const { code, stdout } = await doctor([]);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines.at(-1)).toMatch(/^\d+ passed, 0 warnings, 0 failed, 5 skipped$/);
    expect(lines.slice(0, -1).every((line) => /^(PASS|WARN|FAIL|SKIP) {2}\S/.test(line))).toBe(true);
    expect(stdout).toMatch(/^SKIP {2}schedule group +the local runtime has no EventBridge Scheduler server/m);
  });

  it("warns about messages in a dead-letter queue without failing", async () => {
    const { dlqUrl } = env.runtime.endpoints;
    await env.sqs.send(
      new SendMessageCommand({
        QueueUrl: dlqUrl,
        MessageGroupId: "doctor",
        MessageDeduplicationId: "doctor-1",
        MessageBody: '{"monitorId":"doctor"}',
      }),
    );
    const { code, stdout } = await doctor(["--json"]);
    expect(code).toBe(0);
    expect(byCheck(stdout)["ticks queue DLQ"]).toMatchObject({
      status: "WARN",
      message: expect.stringContaining("holds 1 message"),
      fix: expect.stringContaining(`aws sqs receive-message --queue-url ${dlqUrl}`),
    });
  });

  it("fails, exit 1, when the table does not exist", async () => {
    const { code, stdout, stderr } = await doctor(["--table", "no-such-table", "--json"]);
    expect(code).toBe(1);
    expect(byCheck(stdout)["Monitors table"]).toMatchObject({
      status: "FAIL",
      message: "no table no-such-table in us-east-1",
    });
    expect(stderr).toContain("doctor: 1 check failed: Monitors table");
  });

  it("refuses a test mail address that is not one (usage error)", async () => {
    const { code, stderr } = await doctor(["--send-test-mail", "not-an-address"]);
    expect(code).toBe(2);
    expect(stderr).toContain('--send-test-mail "not-an-address" is not an email address');
  });
});
