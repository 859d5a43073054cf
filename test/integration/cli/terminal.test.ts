import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshTable } from "../../support/aws.ts";
import { type CliHarness, cliHarness, runItem } from "./support.ts";

/**
 * Anyone who can write the Monitors table controls the names and messages the CLI prints: none
 * of their escape sequences, control characters or bidi controls may reach the terminal.
 */

const TITLE = "\u001b]0;pwned\u0007";
const CLEAR = "\u001b[2J";
const OVERRIDE = "\u202e";
const HOSTILE = [TITLE, CLEAR, OVERRIDE];
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding escape sequences is the point.
const SGR = /\u001b\[\d+(;\d+)*m/g;
const now = new Date("2026-11-21T12:00:00.000Z");

let cli: CliHarness;

beforeAll(async () => {
  const { tableName } = await freshTable("cli-terminal");
  cli = await cliHarness(tableName);
  await cli.put({
    monitorId: "evil",
    record: "config",
    name: `Payroll${TITLE} feed${CLEAR}${OVERRIDE}cba`,
    check: "manual",
    params: {},
    schedule: "rate(5 minutes)",
    timezone: "UTC",
    peopleToNotify: new Set(["oncall@example.org"]),
  });
  const message = `upstream said${TITLE} 503${CLEAR}\r${OVERRIDE}kcabtoor`;
  await cli.put({
    monitorId: "evil",
    record: "state",
    state: "alert",
    consecutiveOkCount: 0,
    lastRunDt: "2026-11-21T11:58:00.000Z",
    lastResultOk: false,
    lastResultMessage: message,
    version: 3,
  });
  await cli.put(
    runItem("evil", "2026-11-21T11:58:00.000Z", {
      isOk: false,
      message,
      state: "alert",
      quietReason: undefined,
    }),
  );
});

afterAll(async () => {
  await cli?.close();
});

function expectClean(output: string): void {
  for (const sequence of HOSTILE) expect(output).not.toContain(sequence);
  expect(output).not.toContain("\r");
  expect(output).not.toContain("pwned");
}

describe("terminal output of values from the table", () => {
  it.each([["list"], ["show", "evil"], ["failures"]])(
    "%s prints names and messages cleaned",
    async (...args) => {
      const result = await cli.run(args, { now });
      expect(result.code, result.stderr).toBe(0);
      expectClean(result.stdout + result.stderr);
      // No colour without a terminal: not one escape character at all.
      expect(result.stdout + result.stderr).not.toContain("\u001b");
      // Tables flatten whitespace (the \r included) before cleaning; `show` drops the \r.
      expect(result.stdout).toMatch(/upstream said 503 ?kcabtoor/);
    },
  );

  it("show names the monitor by its cleaned name", async () => {
    const result = await cli.run(["show", "evil"], { now });
    expect(result.stdout).toContain("Payroll feedcba");
  });

  it("keeps the CLI's own colours, and only those, when colour is on", async () => {
    for (const args of [["list"], ["show", "evil"]]) {
      const result = await cli.run(args, { now, env: { FORCE_COLOR: "1" } });
      expect(result.code, result.stderr).toBe(0);
      expectClean(result.stdout + result.stderr);
      expect(result.stdout).toContain("\u001b[31m"); // the alert state and message, in red
      // Every escape left is a colour (SGR) code.
      expect(result.stdout.replaceAll(SGR, "")).not.toContain("\u001b");
    }
  });

  it("escapes them in --json output, which parses back to the stored values", async () => {
    const result = await cli.run(["show", "evil", "--json"], { now });
    expect(result.code, result.stderr).toBe(0);
    expectClean(result.stdout.replaceAll("pwned", ""));
    expect(result.stdout).not.toContain(OVERRIDE);
    expect(JSON.stringify(result.json())).toContain("Payroll\\u001b]0;pwned\\u0007 feed");
  });

  it("cleans errors that quote the table too", async () => {
    const result = await cli.run(["show", `nope${CLEAR}`], { now });
    expect(result.code).not.toBe(0);
    expectClean(result.stderr);
  });
});
