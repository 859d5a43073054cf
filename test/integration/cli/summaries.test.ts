import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSummary } from "#core/quiet.ts";
import { freshTable } from "../../support/aws.ts";
import { type CliHarness, cliHarness, runItem } from "./support.ts";

/**
 * The CLI over write-on-change history: summaries of quiet runs in history, health and
 * performance, and staleness that allows for the state heartbeat.
 */

let cli: CliHarness;
const now = new Date("2026-11-21T12:00:00.000Z");
const at = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000).toISOString();

/** A summary item as the orchestrator writes it (DynamoMonitorStore: `run#<to>#summary`). */
const summaryItem = (monitorId: string, from: number, to: number, count: number, durations: number[]) => {
  const summary = buildSummary({ from: at(from), to: at(to), count }, durations, {
    historyRetentionDays: 14,
  });
  return { ...summary, monitorId, record: `run#${summary.to}#summary` };
};

beforeAll(async () => {
  const { tableName } = await freshTable("cli-summaries");
  cli = await cliHarness(tableName);
  const monitor = (monitorId: string) =>
    cli.put({
      monitorId,
      record: "config",
      name: `Monitor ${monitorId}`,
      check: "manual",
      params: {},
      schedule: "rate(1 minute)",
      timezone: "UTC",
    });
  // quiet: healthy, last written 14 minutes ago under a 15-minute heartbeat: not stale.
  await monitor("quiet");
  await cli.put(runItem("quiet", at(30), { durationMs: 50 }));
  await cli.put(summaryItem("quiet", 29, 15, 15, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]));
  await cli.put({
    monitorId: "quiet",
    record: "state",
    state: "ok",
    consecutiveOkCount: 0,
    lastRunDt: at(14),
    lastTickTime: at(14),
    lastResultOk: true,
    version: 3,
    stateHeartbeatMinutes: 15,
  });
  // silent: the same heartbeat, but nothing for 20 minutes: its heartbeat and the run after it are missing.
  await monitor("silent");
  await cli.put({
    monitorId: "silent",
    record: "state",
    state: "ok",
    consecutiveOkCount: 0,
    lastRunDt: at(20),
    lastTickTime: at(20),
    lastResultOk: true,
    version: 3,
    stateHeartbeatMinutes: 15,
  });
});
afterAll(() => cli.close());

describe("summaries of quiet runs", () => {
  it("history shows a summary as one row standing for its runs", async () => {
    const result = await cli.run(["history", "quiet", "--since", "1h"], { now });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("OK ×15");
    expect(result.stdout).toMatch(/15 quiet runs; min 10 ms, p95 120 ms, max 120 ms \(of 12\)/);
    expect(result.stdout).toContain("16 runs since");
    expect(result.stdout).toContain("0 failed");
    const json = (await cli.run(["history", "quiet", "--since", "1h", "--json"], { now })).json();
    expect(json.runs[1]).toMatchObject({ kind: "summary", count: 15, samples: 12, failures: 0 });
  });

  it("health counts a summary's runs, and judges staleness after the heartbeat", async () => {
    const json = (await cli.run(["health", "--hours", "1", "--json"], { now })).json();
    expect(json.runs).toBe(16);
    expect(json.failures).toBe(0);
    expect(json.stale.map((entry: { monitorId: string }) => entry.monitorId)).toEqual(["silent"]);
  });

  it("performance takes the measured durations of summaries into its percentiles", async () => {
    const json = (await cli.run(["performance", "--json"], { now })).json();
    const quiet = json.monitors.find((row: { monitorId: string }) => row.monitorId === "quiet");
    expect(quiet).toMatchObject({ runs: 16, failures: 0, minMs: 10, maxMs: 120, p95Ms: 120 });
  });
});
