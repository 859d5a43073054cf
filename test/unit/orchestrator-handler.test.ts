import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import type { CheckDefinition } from "../../monitors/types.ts";
import { MemoryMonitorStore, RecordingNotifier } from "../support/memory-adapters.ts";
import { loadOrchestratorModule } from "../support/orchestrator-module.ts";
import { fifoRecord, lambdaContext, tickBody } from "../support/sqs-event.ts";

/**
 * The handler's batch semantics with in-memory adapters: monitors of one batch run in parallel,
 * a monitor's own ticks run in order, a failure holds back only its own monitor, and no check is
 * started that could outlive the invocation.
 */

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
let createOrchestratorHandler: (deps: object) => Handler;
let stateHeartbeatMs: (minutes: string) => number;

beforeAll(async () => {
  ({ createOrchestratorHandler, stateHeartbeatMs } = (await loadOrchestratorModule()) as never);
});

describe("STATE_HEARTBEAT_MINUTES", () => {
  it("reads whole minutes from 0 to a day, and refuses anything else rather than guess", () => {
    expect(stateHeartbeatMs("15")).toBe(900_000);
    expect(stateHeartbeatMs("0")).toBe(0);
    for (const bad of ["-1", "1441", "7.5", "soon"])
      expect(() => stateHeartbeatMs(bad)).toThrow(/whole minutes from 0 to 1440/);
  });
});

const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 6, minute)).toISOString();

function setup(
  check: CheckDefinition,
  monitors: string[],
  config: Record<string, unknown> = {},
  // Every tick writes here: these tests fail writes to watch the batch mechanics (write on change
  // has its own tests, and the last one below).
  stateHeartbeatMs = 0,
) {
  const store = new MemoryMonitorStore();
  for (const monitorId of monitors) {
    store.configs.set(monitorId, {
      name: monitorId,
      check: check.name,
      peopleToNotify: ["ops@example.com"],
      skipSupersededTicks: false,
      ...config,
    });
  }
  const handler = createOrchestratorHandler({
    store,
    notifier: new RecordingNotifier(),
    findCheck: (name: string) => (name === check.name ? check : undefined),
    options: { stateHeartbeatMs },
  });
  return { store, handler };
}

describe("orchestrator handler batches", () => {
  it("reads the batch's monitors in one request: each first tick uses it, a later tick reads again", async () => {
    const ok: CheckDefinition = {
      name: "ok",
      description: "always OK",
      run: async () => ({ isOk: true, message: "ok" }),
    };
    const { store, handler } = setup(ok, ["a", "b", "c"], {}, 15 * 60_000);
    const response = await handler(
      {
        Records: [
          fifoRecord(tickBody("a", at(0)), "a"),
          fifoRecord(tickBody("b", at(0)), "b"),
          fifoRecord(tickBody("c", at(0)), "c"),
          fifoRecord(tickBody("a", at(1)), "a"),
        ],
      },
      lambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(store.batchLoads).toBe(1);
    // Only a's second tick: it must see what a's first tick wrote.
    expect(store.loads).toBe(1);
    expect(store.states.get("a")?.lastTickTime).toBe(at(0));
    // a's second tick was quiet (OK after OK): three first writes, nothing else.
    expect(store.writes).toBe(3);
  });

  it("runs different monitors' checks concurrently", async () => {
    // Each check waits until both have started: run one after the other, neither would succeed.
    let started = 0;
    let release: () => void = () => {};
    const bothStarted = new Promise<void>((resolve) => {
      release = resolve;
    });
    const barrier: CheckDefinition = {
      name: "barrier",
      description: "waits for the other monitor's check",
      async run() {
        started++;
        if (started === 2) release();
        const met = await Promise.race([
          bothStarted.then(() => true),
          new Promise((r) => setTimeout(() => r(false), 2_000)),
        ]);
        return { isOk: met === true, message: met ? "ran alongside the other monitor" : "ran alone" };
      },
    };
    const { store, handler } = setup(barrier, ["a", "b"]);
    const response = await handler(
      { Records: [fifoRecord(tickBody("a", at(0)), "a"), fifoRecord(tickBody("b", at(0)), "b")] },
      lambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(store.states.get("a")?.lastResultMessage).toBe("ran alongside the other monitor");
    expect(store.states.get("b")?.lastResultMessage).toBe("ran alongside the other monitor");
  });

  it("keeps a monitor's ticks in order and fails only its later ticks after a failure", async () => {
    const calls: string[] = [];
    const check: CheckDefinition = {
      name: "ordered",
      description: "records the order of runs",
      async run({ monitorId, now }) {
        calls.push(`${monitorId}@${now.toISOString()}`);
        return { isOk: true, message: "ok" };
      },
    };
    const { store, handler } = setup(check, ["a", "b"]);
    const original = store.saveState.bind(store);
    store.saveState = async (monitorId, ...rest) => {
      if (monitorId === "a" && rest[0].lastTickTime === at(0)) throw new Error("throttled");
      return original(monitorId, ...rest);
    };
    const event = {
      Records: [
        fifoRecord(tickBody("a", at(0)), "a"),
        fifoRecord(tickBody("b", at(0)), "b"),
        fifoRecord(tickBody("a", at(1)), "a"),
        fifoRecord(tickBody("b", at(1)), "b"),
      ],
    };
    const response = await handler(event, lambdaContext());
    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual(
      [event.Records[0]?.messageId, event.Records[2]?.messageId].sort(),
    );
    expect(calls.filter((call) => call.startsWith("b@"))).toEqual([`b@${at(0)}`, `b@${at(1)}`]);
    expect(calls).not.toContain(`a@${at(1)}`);
    expect(store.states.get("b")?.lastTickTime).toBe(at(1));
    expect(store.states.get("a")).toBeUndefined();
  });

  it("does not start a check that could outlive the invocation; the tick is retried", async () => {
    // A 900 s invocation whose first tick took 850 s of it (the fake wall clock jumps).
    let wallNow = Date.parse("2026-03-01T07:00:00Z");
    const runs: string[] = [];
    const check: CheckDefinition = {
      name: "long",
      description: "a 60 s budget",
      async run({ now }) {
        runs.push(now.toISOString());
        wallNow += 850_000;
        return { isOk: true, message: "ok" };
      },
    };
    const store = new MemoryMonitorStore();
    store.configs.set("slow", {
      name: "Slow",
      check: "long",
      checkTimeoutSeconds: 60,
      skipSupersededTicks: false,
    });
    const handler = createOrchestratorHandler({
      store,
      notifier: new RecordingNotifier(),
      findCheck: (name: string) => (name === "long" ? check : undefined),
      wallClock: () => new Date(wallNow),
    });
    const context = { ...lambdaContext(), getRemainingTimeInMillis: () => 900_000 };
    const event = {
      Records: [fifoRecord(tickBody("slow", at(0)), "slow"), fifoRecord(tickBody("slow", at(1)), "slow")],
    };
    const response = await handler(event, context);
    expect(runs).toEqual([at(0)]);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1]?.messageId }]);
    expect(store.states.get("slow")?.lastTickTime).toBe(at(0));
    // Redelivered to a fresh invocation, it runs.
    const retried = await handler({ Records: [event.Records[1] as never] }, context);
    expect(retried.batchItemFailures).toEqual([]);
    expect(runs).toEqual([at(0), at(1)]);
  });

  it("still runs a check longer than a whole invocation rather than starving it", async () => {
    let ran = false;
    const check: CheckDefinition = {
      name: "huge",
      description: "longer than the function's timeout",
      async run() {
        ran = true;
        return { isOk: true, message: "ok" };
      },
    };
    const { handler } = setup(check, ["huge"], { checkTimeoutSeconds: 120 });
    const response = await handler(
      { Records: [fifoRecord(tickBody("huge", at(0)), "huge")] },
      { ...lambdaContext(), getRemainingTimeInMillis: () => 60_000 },
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(ran).toBe(true);
  });
});

describe("outcome metrics", () => {
  it("counts delivery failures under the name the stack's alarm watches, healed mail included", async () => {
    const { recordOutcomeMetrics } = await import("../../functions/orchestrator/handler.ts");
    const { NOTIFICATION_DELIVERY_FAILED } = await import("../../functions/orchestrator/metric-names.ts");
    const counted: string[] = [];
    const sink = { addMetric: (name: string) => void counted.push(name) };
    recordOutcomeMetrics(
      {
        status: "duplicate",
        monitorId: "m",
        lastTickTime: at(0),
        healed: [{ type: "alert", tickTime: at(0), delivered: false, error: "throttled" }],
      },
      sink as never,
    );
    recordOutcomeMetrics(
      {
        status: "duplicate",
        monitorId: "m",
        lastTickTime: at(0),
        healed: [
          { type: "alert", tickTime: at(0), delivered: true, messageId: "x", recipients: 1, delayMs: 0 },
        ],
      },
      sink as never,
    );
    expect(counted).toEqual([
      "Tick_duplicate",
      NOTIFICATION_DELIVERY_FAILED,
      "Tick_duplicate",
      "NotificationSent_alert",
    ]);
  });

  it("counts abandoned mail, late delivery and new config problems once, under the names the alarms watch", async () => {
    const { recordOutcomeMetrics } = await import("../../functions/orchestrator/handler.ts");
    const { NOTIFICATION_ABANDONED, CONFIG_PROBLEMS_FOUND } = await import(
      "../../functions/orchestrator/metric-names.ts"
    );
    const counted: Array<[string, number]> = [];
    const sink = {
      addMetric: (name: string, _unit: string, value: number) => void counted.push([name, value]),
    };
    const applied = (configProblemsChanged: boolean) => ({
      status: "applied" as const,
      monitorId: "m",
      check: { isOk: false, message: "down", durationMs: 12 },
      decision: { next: { state: "alert" as const, consecutiveOkCount: 0 }, notification: null },
      delivery: null,
      healed: [
        {
          type: "alert" as const,
          tickTime: at(0),
          delivered: true as const,
          messageId: "x",
          recipients: 1,
          delayMs: 1_800_000,
        },
        {
          type: "recovery" as const,
          tickTime: at(5),
          delivered: false as const,
          abandoned: true as const,
          error: "refused",
        },
      ],
      configProblems: "timezone is not an IANA timezone",
      configProblemsChanged,
      written: "state" as const,
    });
    recordOutcomeMetrics(applied(true), sink as never);
    expect(counted).toContainEqual(["NotificationDelay", 1_800_000]);
    expect(counted).toContainEqual([NOTIFICATION_ABANDONED, 1]);
    expect(counted).toContainEqual([CONFIG_PROBLEMS_FOUND, 1]);
    counted.length = 0;
    recordOutcomeMetrics(applied(false), sink as never);
    expect(counted.map(([name]) => name)).not.toContain(CONFIG_PROBLEMS_FOUND);
    expect(counted.map(([name]) => name)).toContain("InvalidConfig");
  });
});
