import type { AttributeValue, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { directoryShardOf } from "../../functions/core/directory.ts";
import type { Email, Logger } from "../../functions/core/ports.ts";
import {
  createScheduleSyncHandler,
  type ScheduleSyncDependencies,
  type ScheduleSyncMetric,
} from "../../functions/schedule-sync/handler.ts";
import { MemoryMonitorDirectory } from "../support/memory-adapters.ts";
import { RecordingScheduler, RecordingStatus, throttling } from "../support/recording-ports.ts";

let sequence = 0;

function typed(value: unknown): AttributeValue {
  if (typeof value === "string") return { S: value };
  if (typeof value === "number") return { N: String(value) };
  if (typeof value === "boolean") return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(typed) };
  throw new Error(`no test encoding for ${typeof value}`);
}

function streamRecord(
  kind: "INSERT" | "MODIFY" | "REMOVE",
  monitorId: string,
  attributes: Record<string, unknown> = {},
  record = "config",
): DynamoDBRecord {
  sequence += 1;
  const keys = { monitorId: typed(monitorId), record: typed(record) };
  const image = Object.fromEntries(
    Object.entries({ monitorId, record, name: monitorId, check: "manual", ...attributes }).map(([k, v]) => [
      k,
      typed(v),
    ]),
  );
  return {
    eventID: `event-${sequence}`,
    eventName: kind,
    eventSource: "aws:dynamodb",
    awsRegion: "us-east-1",
    dynamodb: {
      Keys: keys,
      SequenceNumber: String(sequence).padStart(21, "0"),
      StreamViewType: "NEW_AND_OLD_IMAGES",
      ...(kind === "REMOVE" ? { OldImage: image } : { NewImage: image }),
    },
  };
}

const event = (...records: DynamoDBRecord[]): DynamoDBStreamEvent => ({ Records: records });

function harness(overrides: Partial<ScheduleSyncDependencies> = {}) {
  const scheduler = new RecordingScheduler();
  const status = new RecordingStatus();
  const metrics: ScheduleSyncMetric[] = [];
  const logs: Array<{ level: string; message: string; extra: object[] }> = [];
  const log =
    (level: string) =>
    (message: string, ...extra: object[]) =>
      logs.push({ level, message, extra });
  const logger: Logger = { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
  const sync = createScheduleSyncHandler({
    scheduler,
    status,
    logger,
    metrics: { count: (metric) => metrics.push(metric) },
    ...overrides,
  });
  return { sync, scheduler, status, metrics, logs };
}

/** A MODIFY record carrying both images, as the table's NEW_AND_OLD_IMAGES stream delivers it. */
function modifyRecord(monitorId: string, before: Record<string, unknown>, after: Record<string, unknown>) {
  const record = streamRecord("MODIFY", monitorId, after);
  const old = streamRecord("REMOVE", monitorId, before);
  if (record.dynamodb && old.dynamodb?.OldImage) record.dynamodb.OldImage = old.dynamodb.OldImage;
  return record;
}

class RecordingNotifier {
  readonly sent: Email[] = [];
  failing = false;
  async send(email: Email) {
    if (this.failing) throw new Error("MessageRejected");
    this.sent.push(email);
    return { messageId: `m-${this.sent.length}` };
  }
}

describe("schedule-sync only touches a schedule on a schedule-relevant change", () => {
  it("leaves the schedule alone when a MODIFY changes anything else (a rate keeps its phase)", async () => {
    const { sync, scheduler, status } = harness();
    const response = await sync(
      event(
        modifyRecord(
          "web",
          { name: "Web", schedule: "rate(5 minutes)" },
          { name: "Web site", schedule: "rate(5 minutes)" },
        ),
      ),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(scheduler.calls).toEqual([]);
    expect(status.calls).toEqual([]);
  });

  it("updates it when expression, timezone or isActive changed", async () => {
    const { sync, scheduler } = harness();
    await sync(
      event(
        modifyRecord("a", { schedule: "rate(5 minutes)" }, { schedule: "rate(10 minutes)" }),
        modifyRecord("b", { timezone: "UTC" }, { timezone: "Europe/Paris" }),
        modifyRecord("c", { isActive: true }, { isActive: false }),
      ),
    );
    expect(
      scheduler.calls.map((call) => (call.op === "upsert" ? call.definition.monitorId : call.op)),
    ).toEqual(["a", "b", "c"]);
  });
});

describe("owners of an unschedulable monitor are told once", () => {
  const owners = { peopleToNotify: ["ops@example.com", "not-an-address"], name: "Nightly <export>" };

  it("mails the valid recipients once per distinct problem, header-safe and escaped", async () => {
    const notifier = new RecordingNotifier();
    const { sync, metrics } = harness({ notifier });
    const broken = streamRecord("INSERT", "web", { ...owners, schedule: "cron(0 8 31W * ? 2020)" });
    await sync(event(broken));
    await sync(event(broken)); // a stream replay: the same problem, already recorded
    expect(notifier.sent).toHaveLength(1);
    const [mail] = notifier.sent;
    expect(mail?.to).toEqual(["ops@example.com"]);
    expect(mail?.subject).toBe("[Monitor UNSCHEDULABLE] Nightly <export>");
    expect(mail?.text).toMatch(/never fires after/);
    expect(mail?.text).toContain("Until then it has no schedule: its check never runs.");
    expect(mail?.html).toContain("Nightly &lt;export&gt;");
    expect(mail?.html).not.toContain("<export>");
    expect(metrics.filter((metric) => metric === "ScheduleProblemsNotified")).toHaveLength(1);

    // A different problem is news again.
    await sync(
      event(
        modifyRecord(
          "web",
          { ...owners, schedule: "cron(0 8 31W * ? 2020)" },
          { ...owners, schedule: "daily" },
        ),
      ),
    );
    expect(notifier.sent).toHaveLength(2);
  });

  it("tells nobody when the monitor has no recipients, and never fails the record over the mail", async () => {
    const notifier = new RecordingNotifier();
    const { sync, metrics, status } = harness({ notifier });
    await sync(event(streamRecord("INSERT", "quiet", { schedule: "daily" })));
    expect(notifier.sent).toEqual([]);
    notifier.failing = true;
    const response = await sync(event(streamRecord("INSERT", "loud", { ...owners, schedule: "daily" })));
    expect(response.batchItemFailures).toEqual([]);
    expect(status.errors.get("loud")).toMatch(/"daily"/);
    expect(metrics).toContain("ScheduleProblemNotificationFailures");
  });

  it("tells the owners when Scheduler itself refuses the definition", async () => {
    const notifier = new RecordingNotifier();
    const { sync, scheduler, status } = harness({ notifier });
    scheduler.failNext(
      "web",
      Object.assign(new Error("Invalid Schedule Expression"), { name: "ValidationException" }),
    );
    await sync(event(streamRecord("INSERT", "web", { ...owners })));
    expect(status.errors.get("web")).toMatch(
      /EventBridge Scheduler rejected the schedule: Invalid Schedule Expression/,
    );
    expect(notifier.sent).toHaveLength(1);
  });
});

describe("schedule-sync handler", () => {
  it("creates the schedule of an inserted config item and clears any reported error", async () => {
    const { sync, scheduler, status, metrics } = harness();
    const response = await sync(event(streamRecord("INSERT", "web", { schedule: "cron(0 8 * * ? *)" })));
    expect(response).toEqual({ batchItemFailures: [] });
    expect(scheduler.calls).toEqual([
      {
        op: "upsert",
        definition: {
          monitorId: "web",
          expression: "cron(0 8 * * ? *)",
          timezone: "America/Chicago",
          enabled: true,
        },
      },
    ]);
    expect(status.calls).toEqual([{ op: "clearError", monitorId: "web" }]);
    expect(metrics).toEqual(["SchedulesUpserted"]);
  });

  it("disables the schedule of a paused monitor instead of deleting it", async () => {
    const { sync, scheduler } = harness();
    await sync(event(streamRecord("MODIFY", "web", { isActive: false })));
    expect(scheduler.schedules.get("web")?.enabled).toBe(false);
  });

  it("applies the deployment's default timezone to items without one", async () => {
    const { sync, scheduler } = harness({ defaultTimezone: "Europe/Paris" });
    await sync(event(streamRecord("INSERT", "a"), streamRecord("INSERT", "b", { timezone: "UTC" })));
    expect(scheduler.schedules.get("a")?.timezone).toBe("Europe/Paris");
    expect(scheduler.schedules.get("b")?.timezone).toBe("UTC");
  });

  it("deletes the schedule when the config item is removed", async () => {
    const { sync, scheduler, status, metrics } = harness();
    await sync(event(streamRecord("INSERT", "web"), streamRecord("REMOVE", "web")));
    expect(scheduler.schedules.has("web")).toBe(false);
    expect(scheduler.calls.map((call) => call.op)).toEqual(["upsert", "remove"]);
    expect(status.calls.at(-1)).toEqual({ op: "clearError", monitorId: "web" });
    expect(metrics).toContain("SchedulesRemoved");
  });

  it("reports an invalid schedule on the state item, counts and logs it, and leaves the schedule alone", async () => {
    const { sync, scheduler, status, metrics, logs } = harness();
    await sync(event(streamRecord("INSERT", "web", { schedule: "rate(5 minutes)" })));
    const response = await sync(event(streamRecord("MODIFY", "web", { schedule: "cron(61 * * * ? *)" })));
    expect(response.batchItemFailures).toEqual([]);
    expect(scheduler.calls).toHaveLength(1);
    expect(scheduler.schedules.get("web")?.expression).toBe("rate(5 minutes)");
    expect(status.errors.get("web")).toMatch(/^schedule "cron\(61 \* \* \* \? \*\)" is invalid: /);
    expect(metrics).toContain("InvalidSchedules");
    expect(logs).toContainEqual(
      expect.objectContaining({ level: "warn", extra: [expect.objectContaining({ monitorId: "web" })] }),
    );
  });

  it("reports a schedule Scheduler itself rejects instead of retrying it for ever", async () => {
    const { sync, scheduler, status, metrics } = harness();
    scheduler.failNext(
      "web",
      Object.assign(new Error("Invalid Schedule Expression"), { name: "ValidationException" }),
    );
    const response = await sync(event(streamRecord("INSERT", "web", { schedule: "cron(0 8 L * ? *)" })));
    expect(response.batchItemFailures).toEqual([]);
    expect(status.errors.get("web")).toBe(
      "EventBridge Scheduler rejected the schedule: Invalid Schedule Expression",
    );
    expect(metrics).toContain("InvalidSchedules");
  });

  it("sends Scheduler the canonical spelling of a timezone", async () => {
    const { sync, scheduler } = harness();
    await sync(event(streamRecord("INSERT", "web", { timezone: "america/chicago" })));
    expect(scheduler.schedules.get("web")?.timezone).toBe("America/Chicago");
  });

  it("clears the reported error once the item is fixed", async () => {
    const { sync, status } = harness();
    await sync(event(streamRecord("INSERT", "web", { timezone: "Chicago" })));
    expect(status.errors.has("web")).toBe(true);
    await sync(event(streamRecord("MODIFY", "web", { timezone: "America/Chicago" })));
    expect(status.errors.has("web")).toBe(false);
  });

  it("ignores state and history records even if the event-source filter let them through", async () => {
    const { sync, scheduler, status } = harness();
    const response = await sync(
      event(
        streamRecord("MODIFY", "web", {}, "state"),
        streamRecord("INSERT", "web", {}, "run#2026-11-21T14:05:00Z"),
      ),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(scheduler.calls).toEqual([]);
    expect(status.calls).toEqual([]);
  });

  it("skips a malformed record without blocking the shard", async () => {
    const { sync, scheduler, metrics } = harness();
    const malformed = { ...streamRecord("INSERT", "x"), eventName: undefined };
    const response = await sync(event(malformed, streamRecord("INSERT", "web")));
    expect(response.batchItemFailures).toEqual([]);
    expect(scheduler.schedules.has("web")).toBe(true);
    expect(metrics).toContain("MalformedStreamRecords");
  });

  it("a failing record does not block other monitors, and holds back later changes of its own monitor", async () => {
    const { sync, scheduler, metrics } = harness();
    scheduler.failNext("a");
    const a1 = streamRecord("INSERT", "a", { schedule: "rate(1 hour)" });
    const b = streamRecord("INSERT", "b");
    const a2 = streamRecord("MODIFY", "a", { schedule: "rate(2 hours)" });
    const response = await sync(event(a1, b, a2));
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: a1.dynamodb?.SequenceNumber },
      { itemIdentifier: a2.dynamodb?.SequenceNumber },
    ]);
    expect(scheduler.schedules.has("b")).toBe(true);
    // a2 was never attempted: applying it before a1 would reorder a's changes.
    expect(
      scheduler.calls.filter((call) => call.op === "upsert" && call.definition.monitorId === "a"),
    ).toHaveLength(1);
    expect(metrics).toContain("ScheduleSyncFailures");
  });

  it("fails the record when the status write fails, so that the error is not lost", async () => {
    const status = new RecordingStatus();
    status.recordError = async () => {
      throw new Error("ProvisionedThroughputExceeded");
    };
    const { sync } = harness({ status });
    const record = streamRecord("INSERT", "web", { schedule: "nope" });
    expect((await sync(event(record))).batchItemFailures).toEqual([
      { itemIdentifier: record.dynamodb?.SequenceNumber },
    ]);
  });

  it("fails the whole batch when a failed record has no sequence number to checkpoint at", async () => {
    const { sync, scheduler } = harness();
    scheduler.failNext("web");
    const record = streamRecord("INSERT", "web");
    delete record.dynamodb?.SequenceNumber;
    await expect(sync(event(record))).rejects.toThrow(/no SequenceNumber/);
  });

  it("converges to the same schedules as a failure-free run when Lambda retries from the lowest failure", async () => {
    const change = fc.record({
      kind: fc.constantFrom("INSERT" as const, "MODIFY" as const, "REMOVE" as const),
      monitorId: fc.constantFrom("a", "b", "c"),
      hours: fc.integer({ min: 2, max: 5 }),
      isActive: fc.boolean(),
      fails: fc.nat({ max: 2 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 12 }), async (changes) => {
        const records = changes.map((c) =>
          streamRecord(c.kind, c.monitorId, { schedule: `rate(${c.hours} hours)`, isActive: c.isActive }),
        );
        const clean = harness();
        await clean.sync(event(...records));

        const flaky = harness();
        for (const c of changes) {
          if (c.fails > 0) flaky.scheduler.failNext(c.monitorId, throttling(), c.fails);
        }
        let pending = records;
        for (let attempt = 0; pending.length > 0; attempt++) {
          expect(attempt).toBeLessThan(50);
          const { batchItemFailures } = await flaky.sync(event(...pending));
          if (batchItemFailures.length === 0) break;
          // Lambda's checkpoint semantics: resume from the lowest reported sequence number.
          const lowest = batchItemFailures.map((failure) => failure.itemIdentifier).sort()[0];
          pending = pending.filter((record) => (record.dynamodb?.SequenceNumber ?? "") >= (lowest ?? ""));
        }
        expect(Object.fromEntries(flaky.scheduler.schedules)).toEqual(
          Object.fromEntries(clean.scheduler.schedules),
        );
      }),
      { numRuns: 150 },
    );
  });
});

describe("schedule-sync keeps the monitor directory (issue 14)", () => {
  it("writes an entry on INSERT, valid or not, and no rewrite on an edit when it is there", async () => {
    const directory = new MemoryMonitorDirectory();
    const { sync, metrics } = harness({ directory });
    await sync(
      event(
        streamRecord("INSERT", "web", { schedule: "rate(5 minutes)" }),
        streamRecord("INSERT", "typo", { schedule: "every 5 minutes" }),
        streamRecord("INSERT", "paused", { isActive: false }),
        modifyRecord("web", { name: "Web" }, { name: "Web site" }),
      ),
    );
    expect([...directory.entriesById.keys()].sort()).toEqual(["paused", "typo", "web"]);
    expect(directory.entriesById.get("web")).toBe(directoryShardOf("web"));
    expect(directory.writes.filter((write) => write.monitorId === "web")).toEqual([
      { op: "ensure", monitorId: "web", wrote: true },
      { op: "ensure", monitorId: "web", wrote: false },
    ]);
    expect(metrics.filter((metric) => metric === "DirectoryEntriesWritten")).toHaveLength(3);
  });

  it("an edit of a monitor created before the directory existed writes its missing entry", async () => {
    const directory = new MemoryMonitorDirectory();
    const { sync } = harness({ directory });
    await sync(event(modifyRecord("old", { name: "Old" }, { name: "Older" })));
    expect(directory.entriesById.get("old")).toBe(directoryShardOf("old"));
  });

  it("deletes the entry with the config item, even under an id no schedule could take", async () => {
    const directory = new MemoryMonitorDirectory();
    const { sync, scheduler } = harness({ directory });
    await sync(event(streamRecord("INSERT", "web"), streamRecord("INSERT", "bad id")));
    await sync(event(streamRecord("REMOVE", "web"), streamRecord("REMOVE", "bad id")));
    expect(directory.entriesById.size).toBe(0);
    expect(scheduler.calls.filter((call) => call.op === "remove")).toEqual([
      { op: "remove", monitorId: "web" },
    ]);
  });

  it("ignores every record but config items", async () => {
    const directory = new MemoryMonitorDirectory();
    const { sync } = harness({ directory });
    await sync(event(streamRecord("INSERT", "web", {}, "state"), streamRecord("INSERT", "web", {}, "run#1")));
    expect(directory.writes).toEqual([]);
  });

  it("a failed directory write fails the record and holds the monitor's later records; others carry on", async () => {
    const directory = new MemoryMonitorDirectory();
    directory.failNext("web");
    const { sync, scheduler } = harness({ directory });
    const first = streamRecord("INSERT", "web");
    const second = streamRecord("REMOVE", "web");
    const other = streamRecord("INSERT", "api");
    const response = await sync(event(first, second, other));
    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual([
      first.dynamodb?.SequenceNumber,
      second.dynamodb?.SequenceNumber,
    ]);
    expect([...directory.entriesById.keys()]).toEqual(["api"]);
    expect(scheduler.schedules.has("web")).toBe(false);
    // The replay applies both, in order.
    await sync(event(first, second));
    expect([...directory.entriesById.keys()]).toEqual(["api"]);
    expect(directory.writes.filter((write) => write.monitorId === "web").map((write) => write.op)).toEqual([
      "ensure",
      "remove",
    ]);
  });
});
