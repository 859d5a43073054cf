import { describe, expect, it } from "vitest";
import { directoryShardOf } from "../../functions/core/directory.ts";
import { reconcile } from "../../functions/schedule-sync/reconcile.ts";
import { MemoryMonitorDirectory } from "../support/memory-adapters.ts";
import { RecordingScheduler, RecordingStatus } from "../support/recording-ports.ts";

const items = (...records: Array<Record<string, unknown>>) =>
  async function* () {
    yield* records;
  };

describe("reconcile", () => {
  it("updates only schedules that differ from their item, so rate schedules keep their phase", async () => {
    const scheduler = new RecordingScheduler();
    await scheduler.upsert({
      monitorId: "same",
      expression: "rate(5 minutes)",
      timezone: "UTC",
      enabled: true,
    });
    await scheduler.upsert({
      monitorId: "moved",
      expression: "rate(5 minutes)",
      timezone: "UTC",
      enabled: true,
    });
    scheduler.calls.length = 0;
    const lines: string[] = [];
    await reconcile(
      {
        scheduler,
        status: new RecordingStatus(),
        configItems: items(
          { monitorId: "same", record: "config", schedule: "rate(5 minutes)" },
          { monitorId: "moved", record: "config", schedule: "rate(10 minutes)" },
          { monitorId: "missing", record: "config" },
        ),
        log: (line) => lines.push(line),
      },
      { defaultTimezone: "UTC" },
    );
    const upserted = scheduler.calls.flatMap((call) =>
      call.op === "upsert" ? [call.definition.monitorId] : [],
    );
    expect(upserted).toEqual(["moved", "missing"]);
    expect(lines.at(-1)).toBe("2 upserted, 1 unchanged, 0 invalid, 0 removed, 0 failed");
  });

  it("upserts, reports and removes, and clears errors of items that are valid again", async () => {
    const scheduler = new RecordingScheduler();
    await scheduler.upsert({
      monitorId: "orphan",
      expression: "rate(1 hour)",
      timezone: "UTC",
      enabled: true,
    });
    const status = new RecordingStatus();
    status.errors.set("fixed", "old error");
    const report = await reconcile(
      {
        scheduler,
        status,
        configItems: items(
          { monitorId: "fixed", record: "config", schedule: "rate(2 hours)" },
          { monitorId: "fixed", record: "state", scheduleError: "old error" },
          { monitorId: "bad", record: "config", schedule: "rate(2 hour)" },
        ),
      },
      { defaultTimezone: "UTC" },
    );
    expect(report.failures).toEqual([]);
    expect([...scheduler.schedules.keys()]).toEqual(["fixed"]);
    expect(status.errors.get("fixed")).toBeUndefined();
    expect(status.errors.get("bad")).toMatch(/plural unit/);
  });

  it("carries on past a failing monitor and reports it", async () => {
    const scheduler = new RecordingScheduler();
    scheduler.failNext("a");
    const lines: string[] = [];
    const report = await reconcile({
      scheduler,
      status: new RecordingStatus(),
      configItems: items({ monitorId: "a", record: "config" }, { monitorId: "b", record: "config" }),
      log: (line) => lines.push(line),
    });
    expect(report.failures).toEqual([{ monitorId: "a", error: "Rate exceeded" }]);
    expect(scheduler.schedules.has("b")).toBe(true);
    expect(lines).toContain("  failed: Rate exceeded");
    expect(lines.at(-1)).toBe("2 upserted, 0 unchanged, 0 invalid, 0 removed, 1 failed");
  });

  it("changes nothing on a dry run", async () => {
    const scheduler = new RecordingScheduler();
    const status = new RecordingStatus();
    const lines: string[] = [];
    await reconcile(
      {
        scheduler,
        status,
        configItems: items({ monitorId: "a", record: "config" }),
        log: (line) => lines.push(line),
      },
      { dryRun: true },
    );
    expect(scheduler.calls).toEqual([{ op: "list" }]);
    expect(status.calls).toEqual([]);
    expect(lines[0]).toBe("[dry run] upsert a: rate(5 minutes) America/Chicago (enabled)");
  });

  it("checks the table again before each change: newer edits win, and monitors created meanwhile keep their schedule", async () => {
    const scheduler = new RecordingScheduler();
    // Created while reconcile ran: its schedule is listed, but the scan did not see its config.
    await scheduler.upsert({ monitorId: "new", expression: "rate(1 hour)", timezone: "UTC", enabled: true });
    const table = new Map<string, Record<string, unknown>>([
      ["new", { monitorId: "new", record: "config", schedule: "rate(1 hour)" }],
      // Edited after the scan: the scanned copy says rate(5 minutes), the table now says rate(10 minutes).
      ["edited", { monitorId: "edited", record: "config", schedule: "rate(10 minutes)" }],
    ]);
    await reconcile(
      {
        scheduler,
        status: new RecordingStatus(),
        configItems: items(
          { monitorId: "edited", record: "config", schedule: "rate(5 minutes)" },
          { monitorId: "gone", record: "config", schedule: "rate(5 minutes)" },
        ),
        currentConfig: async (monitorId) => table.get(monitorId),
      },
      { defaultTimezone: "UTC" },
    );
    expect(scheduler.schedules.get("new")?.expression).toBe("rate(1 hour)");
    expect(scheduler.schedules.get("edited")?.expression).toBe("rate(10 minutes)");
    expect(scheduler.schedules.has("gone")).toBe(false);
  });
});

describe("reconcile and the heartbeat schedule", () => {
  it("never deletes the stack's heartbeat schedule, which has no config item, nor lets an item claim its name", async () => {
    const { HEARTBEAT_ID } = await import("../../functions/core/heartbeat.ts");
    const { planReconcile } = await import("../../functions/core/schedule-sync.ts");
    const scheduler = new RecordingScheduler();
    const heartbeat = {
      monitorId: HEARTBEAT_ID,
      expression: "rate(5 minutes)",
      timezone: "UTC",
      enabled: true,
    };
    await scheduler.upsert(heartbeat);
    await scheduler.upsert({
      monitorId: "orphan",
      expression: "rate(1 hour)",
      timezone: "UTC",
      enabled: true,
    });
    scheduler.calls.length = 0;
    const status = new RecordingStatus();
    const report = await reconcile(
      {
        scheduler,
        status,
        configItems: items(
          { monitorId: "site", record: "config" },
          // A person writing an item under the reserved id: refused, and the schedule stays the stack's.
          { monitorId: HEARTBEAT_ID, record: "config", schedule: "rate(1 day)" },
        ),
      },
      { defaultTimezone: "UTC" },
    );
    expect(report.plan.removals).toEqual(["orphan"]);
    expect(scheduler.calls.filter((call) => call.op === "remove")).toEqual([
      { op: "remove", monitorId: "orphan" },
    ]);
    expect(scheduler.schedules.get(HEARTBEAT_ID)).toEqual(heartbeat);
    expect(status.errors.get(HEARTBEAT_ID)).toMatch(/reserved/);
    // The pure plan too, with no config item at all.
    expect(planReconcile([], [HEARTBEAT_ID, "gone"]).removals).toEqual(["gone"]);
  });
});

describe("reconcile and the monitor directory (issue 14)", () => {
  it("writes the missing entries (valid or not), deletes orphans, then marks the directory reconciled", async () => {
    const configs = new Set(["kept", "missing", "invalid"]);
    const directory = new MemoryMonitorDirectory((monitorId) => configs.has(monitorId));
    await directory.ensure("kept", directoryShardOf("kept"));
    await directory.ensure("orphan", directoryShardOf("orphan"));
    directory.writes.length = 0;
    const lines: string[] = [];
    const report = await reconcile({
      scheduler: new RecordingScheduler(),
      status: new RecordingStatus(),
      configItems: items(
        { monitorId: "kept", record: "config" },
        { monitorId: "missing", record: "config", isActive: false },
        { monitorId: "invalid", record: "config", schedule: "every day" },
        { monitorId: "kept", record: "state" },
      ),
      directory,
      log: (line) => lines.push(line),
    });
    expect(report.failures).toEqual([]);
    expect([...directory.entriesById.keys()].sort()).toEqual(["invalid", "kept", "missing"]);
    expect(directory.writes.map(({ op, monitorId }) => `${op} ${monitorId}`)).toEqual([
      "ensure invalid",
      "ensure missing",
      "removeOrphan orphan",
    ]);
    expect(directory.reconciledAt).toBeInstanceOf(Date);
    expect(report.directory).toEqual({
      writes: [
        { monitorId: "invalid", shard: directoryShardOf("invalid") },
        { monitorId: "missing", shard: directoryShardOf("missing") },
      ],
      removals: ["orphan"],
    });
    expect(lines).toContain("directory: 2 written, 1 orphans removed");
  });

  it("does not mark the directory reconciled when an entry could not be written", async () => {
    const directory = new MemoryMonitorDirectory();
    directory.failNext("a");
    const report = await reconcile({
      scheduler: new RecordingScheduler(),
      status: new RecordingStatus(),
      configItems: items({ monitorId: "a", record: "config" }, { monitorId: "b", record: "config" }),
      directory,
    });
    expect(report.failures).toEqual([{ monitorId: "a", error: "throttled writing a's directory entry" }]);
    expect([...directory.entriesById.keys()]).toEqual(["b"]);
    expect(directory.reconciledAt).toBeUndefined();
  });

  it("keeps an entry whose monitor was created meanwhile, and writes none for one deleted meanwhile", async () => {
    const table = new Set(["new"]);
    const directory = new MemoryMonitorDirectory((monitorId) => table.has(monitorId));
    await directory.ensure("new", directoryShardOf("new"));
    await reconcile({
      scheduler: new RecordingScheduler(),
      status: new RecordingStatus(),
      configItems: items({ monitorId: "gone", record: "config" }),
      currentConfig: async (monitorId) =>
        table.has(monitorId) ? { monitorId, record: "config" } : undefined,
      directory,
    });
    expect([...directory.entriesById.keys()]).toEqual(["new"]);
  });

  it("changes nothing on a dry run", async () => {
    const directory = new MemoryMonitorDirectory();
    await reconcile(
      {
        scheduler: new RecordingScheduler(),
        status: new RecordingStatus(),
        configItems: items({ monitorId: "a", record: "config" }),
        directory,
      },
      { dryRun: true },
    );
    expect(directory.writes).toEqual([]);
    expect(directory.reconciledAt).toBeUndefined();
  });
});
