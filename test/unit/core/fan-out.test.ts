import { describe, expect, it } from "vitest";
import { type BucketHeader, duePartitions, placementOf } from "#core/buckets.ts";
import { type BucketReader, fanOut, scheduledTickBody, type TickQueue } from "#core/fan-out.ts";
import type { ScheduleDefinition } from "#core/ports.ts";
import { MigratingScheduler } from "#core/schedule-migration.ts";

/** Buckets in memory, placed by the same pure rules as the DynamoDB store. */
class MemoryBuckets {
  readonly headerByKey = new Map<string, BucketHeader>();
  readonly members = new Map<string, string[]>();
  pageSize = 3;

  add(definition: ScheduleDefinition) {
    const placement = placementOf(definition, definition.phaseMinute);
    this.headerByKey.set(placement.header.key, placement.header);
    this.members.set(placement.partition, [
      ...(this.members.get(placement.partition) ?? []),
      definition.monitorId,
    ]);
  }
  async headers() {
    return [...this.headerByKey.values()];
  }
  async *membersOf(partition: string) {
    const ids = this.members.get(partition) ?? [];
    for (let start = 0; start < ids.length; start += this.pageSize)
      yield ids.slice(start, start + this.pageSize);
  }
}

function reader(buckets: MemoryBuckets): BucketReader {
  return { headers: () => buckets.headers(), members: (partition) => buckets.membersOf(partition) };
}

/** Records every batch; fails the ids listed in `refuse` (per attempt) or throws when `down`. */
class RecordingQueue implements TickQueue {
  readonly batches: Array<Array<{ monitorId: string; body: string }>> = [];
  refuse = new Map<string, number>();
  down = 0;
  async sendBatch(ticks: ReadonlyArray<{ monitorId: string; body: string }>) {
    if (this.down > 0) {
      this.down--;
      throw new Error("SQS unavailable");
    }
    this.batches.push([...ticks]);
    const failed: string[] = [];
    for (const tick of ticks) {
      const left = this.refuse.get(tick.monitorId) ?? 0;
      if (left > 0) {
        this.refuse.set(tick.monitorId, left - 1);
        failed.push(tick.monitorId);
      }
    }
    return failed;
  }
  accepted() {
    const refused = new Set<string>();
    return this.batches.flat().filter((tick) => !refused.has(tick.monitorId));
  }
}

const noWait = async () => {};
const minute = new Date("2036-01-07T09:00:00Z"); // a Monday, 09:00 UTC

describe("fanOut", () => {
  it("enqueues one tick per due member, in batches of at most 10, with the scheduler's body", async () => {
    const buckets = new MemoryBuckets();
    for (let index = 0; index < 25; index++) {
      buckets.add({
        monitorId: `daily-${index}`,
        expression: "cron(0 9 ? * MON-FRI *)",
        timezone: "UTC",
        enabled: true,
      });
    }
    buckets.add({ monitorId: "later", expression: "cron(0 10 * * ? *)", timezone: "UTC", enabled: true });
    const queue = new RecordingQueue();
    const report = await fanOut({ reader: reader(buckets), queue, minute, backoff: noWait });
    expect(report).toMatchObject({
      scheduledTime: "2036-01-07T09:00:00Z",
      buckets: 2,
      dueBuckets: 1,
      enqueued: 25,
      failed: [],
    });
    expect(queue.batches.every((batch) => batch.length <= 10)).toBe(true);
    const bodies = queue.batches.flat().map((tick) => tick.body);
    expect(new Set(bodies).size).toBe(25);
    expect(bodies).toContain('{"monitorId":"daily-7","scheduledTime":"2036-01-07T09:00:00Z"}');
    expect(scheduledTickBody("x", "2036-01-07T09:00:00Z")).toBe(
      '{"monitorId":"x","scheduledTime":"2036-01-07T09:00:00Z"}',
    );
  });

  it("ticks each rate monitor once per period over many minutes, spread over the period", async () => {
    const buckets = new MemoryBuckets();
    const ids = Array.from({ length: 50 }, (_, index) => `five-${index}`);
    for (const monitorId of ids)
      buckets.add({ monitorId, expression: "rate(5 minutes)", timezone: "UTC", enabled: true });
    const queue = new RecordingQueue();
    const perMinute: number[] = [];
    for (let offset = 0; offset < 15; offset++) {
      const report = await fanOut({
        reader: reader(buckets),
        queue,
        minute: new Date(minute.getTime() + offset * 60_000),
        backoff: noWait,
      });
      perMinute.push(report.enqueued);
    }
    const byMonitor = new Map<string, number>();
    for (const tick of queue.batches.flat())
      byMonitor.set(tick.monitorId, (byMonitor.get(tick.monitorId) ?? 0) + 1);
    expect([...byMonitor.values()]).toEqual(ids.map(() => 3));
    expect(Math.max(...perMinute)).toBeLessThan(50);
  });

  it("retries refused entries and thrown batches, and reports what never got through", async () => {
    const buckets = new MemoryBuckets();
    for (const monitorId of ["a", "b", "c"])
      buckets.add({ monitorId, expression: "cron(0 9 * * ? *)", timezone: "UTC", enabled: true });
    const queue = new RecordingQueue();
    queue.down = 1;
    queue.refuse.set("b", 1);
    queue.refuse.set("c", 99);
    const report = await fanOut({ reader: reader(buckets), queue, minute, backoff: noWait, sendAttempts: 4 });
    expect(report.enqueued).toBe(2);
    expect(report.failed).toEqual(["c"]);
    // attempt 1 threw, attempt 2 refused b and c, attempts 3 and 4 carried only what was refused.
    expect(queue.batches.map((batch) => batch.map((tick) => tick.monitorId).sort())).toEqual([
      ["a", "b", "c"],
      ["b", "c"],
      ["c"],
    ]);
  });

  it("reports an empty cron bucket for the sweep, never a rate bucket", async () => {
    const buckets = new MemoryBuckets();
    buckets.headerByKey.set("c#gone", {
      kind: "cron",
      key: "c#gone",
      expression: "cron(0 9 * * ? *)",
      timezone: "UTC",
    });
    buckets.add({ monitorId: "r", expression: "rate(1 minute)", timezone: "UTC", enabled: true });
    const empty = placementOf({
      monitorId: "x",
      expression: "rate(2 minutes)",
      timezone: "UTC",
      enabled: true,
    }).header;
    buckets.headerByKey.set(empty.key, empty);
    const report = await fanOut({
      reader: reader(buckets),
      queue: new RecordingQueue(),
      minute,
      backoff: noWait,
    });
    expect(report.emptyDueBuckets.map((header) => header.key)).toEqual(["c#gone"]);
    expect(
      duePartitions(empty, minute).length + duePartitions(empty, new Date(minute.getTime() + 60_000)).length,
    ).toBeGreaterThan(0);
  });
});

describe("MigratingScheduler", () => {
  class MemoryScheduler {
    readonly schedules = new Map<string, ScheduleDefinition>();
    readonly calls: string[] = [];
    async upsert(definition: ScheduleDefinition) {
      this.calls.push(`upsert ${definition.monitorId}`);
      this.schedules.set(definition.monitorId, definition);
    }
    async remove(monitorId: string) {
      this.calls.push(`remove ${monitorId}`);
      this.schedules.delete(monitorId);
    }
    async list() {
      return [...this.schedules.keys()].sort();
    }
    async describe(monitorId: string) {
      return this.schedules.get(monitorId);
    }
  }
  const legacyOf = (entries: Record<string, { expression: string; anchor: Date }>, calls: string[]) => ({
    anchorOf: async (id: string) => entries[id],
    remove: async (id: string) => {
      calls.push(`legacy remove ${id}`);
      delete entries[id];
    },
    list: async () => [...Object.keys(entries), "__watchkeeper-heartbeat", "__watchkeeper-clock"],
  });

  it("writes the member before deleting the old schedule, keeping a same-rate cadence", async () => {
    const buckets = new MemoryScheduler();
    const old = { hourly: { expression: "rate(1 hour)", anchor: new Date("2035-12-31T23:17:20Z") } };
    const migrating = new MigratingScheduler(buckets, legacyOf(old, buckets.calls));
    await migrating.upsert({
      monitorId: "hourly",
      expression: "rate(1 hour)",
      timezone: "UTC",
      enabled: true,
    });
    expect(buckets.calls).toEqual(["upsert hourly", "legacy remove hourly"]);
    expect(buckets.schedules.get("hourly")?.phaseMinute).toBe(18);
  });

  it("removes an old schedule left behind after its monitor moved, never the stack's own", async () => {
    const buckets = new MemoryScheduler();
    await buckets.upsert({ monitorId: "moved", expression: "rate(1 hour)", timezone: "UTC", enabled: true });
    const old = {
      moved: { expression: "rate(1 hour)", anchor: new Date() },
      "not-yet": { expression: "rate(1 hour)", anchor: new Date() },
    };
    const migrating = new MigratingScheduler(buckets, legacyOf(old, buckets.calls));
    expect(await migrating.removeLegacyLeftovers()).toEqual(["moved"]);
    expect(Object.keys(old)).toEqual(["not-yet"]);
  });

  it("keeps a migrated rate's phase through later edits that leave the period alone", async () => {
    const buckets = new MemoryScheduler();
    const old = { hourly: { expression: "rate(1 hour)", anchor: new Date("2035-12-31T23:17:20Z") } };
    const migrating = new MigratingScheduler(buckets, legacyOf(old, buckets.calls));
    await migrating.upsert({
      monitorId: "hourly",
      expression: "rate(1 hour)",
      timezone: "UTC",
      enabled: true,
    });
    await migrating.upsert({
      monitorId: "hourly",
      expression: "rate(60 minutes)",
      timezone: "Europe/Paris",
      enabled: false,
    });
    expect(buckets.schedules.get("hourly")?.phaseMinute).toBe(18);
    await migrating.upsert({
      monitorId: "hourly",
      expression: "rate(2 hours)",
      timezone: "UTC",
      enabled: true,
    });
    expect(buckets.schedules.get("hourly")?.phaseMinute).toBeUndefined();
  });

  it("restarts a changed rate at its hashed phase, and leaves the stack's own schedules out of list", async () => {
    const buckets = new MemoryScheduler();
    const old = {
      web: { expression: "rate(5 minutes)", anchor: new Date("2035-12-31T23:17:20Z") },
      orphan: { expression: "rate(1 day)", anchor: new Date() },
    };
    const migrating = new MigratingScheduler(buckets, legacyOf(old, buckets.calls));
    await migrating.upsert({
      monitorId: "web",
      expression: "rate(10 minutes)",
      timezone: "UTC",
      enabled: true,
    });
    expect(buckets.schedules.get("web")?.phaseMinute).toBeUndefined();
    expect(await migrating.list()).toEqual(["orphan", "web"]);
    expect(await migrating.describe("orphan")).toBeUndefined();
    await migrating.remove("orphan");
    expect(await migrating.list()).toEqual(["web"]);
  });
});
