import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import type { CheckDefinition } from "../../monitors/types.ts";
import { MemoryMonitorStore, RecordingNotifier } from "../support/memory-adapters.ts";
import { loadOrchestratorModule } from "../support/orchestrator-module.ts";
import { fifoRecord, lambdaContext, tickBody } from "../support/sqs-event.ts";

/**
 * Isolation across a batch: a message group's processed records are handed to the early-ack port
 * as soon as the group is done (SQS FIFO holds back a group's next message while one is in flight),
 * its failed records never are, and a failing port changes nothing about the batch's outcome.
 */

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
let createOrchestratorHandler: (deps: object) => Handler;

beforeAll(async () => {
  ({ createOrchestratorHandler } = (await loadOrchestratorModule()) as never);
});

const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 6, minute)).toISOString();

/** `release()` ends every run of the `gate` check; until then (or 5 s) they wait. */
function gateCheck() {
  let release: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    release = resolve;
  });
  const check: CheckDefinition = {
    name: "gate",
    description: "waits for the test to open the gate, for the monitor `slow` only",
    async run({ monitorId }) {
      if (monitorId === "slow") {
        await Promise.race([opened, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      }
      return { isOk: true, message: "ok" };
    },
  };
  return { check, release: () => release() };
}

function setup(check: CheckDefinition, monitors: string[], earlyAck: object | undefined) {
  const store = new MemoryMonitorStore();
  for (const monitorId of monitors) {
    store.configs.set(monitorId, {
      name: monitorId,
      check: check.name,
      peopleToNotify: ["ops@example.com"],
      skipSupersededTicks: false,
    });
  }
  const handler = createOrchestratorHandler({
    store,
    notifier: new RecordingNotifier(),
    findCheck: (name: string) => (name === check.name ? check : undefined),
    ...(earlyAck ? { earlyAck } : {}),
    // Every tick writes here: the tests fail chosen writes to watch which records are acked.
    options: { stateHeartbeatMs: 0 },
  });
  return { store, handler };
}

const ids = (records: readonly SQSRecord[]) => records.map((record) => record.messageId);

describe("early acknowledgement of finished message groups", () => {
  it("acks each finished group's succeeded records, never a failed one, while a slow group still runs", async () => {
    const gate = gateCheck();
    const events: string[] = [];
    const acked: string[][] = [];
    const earlyAck = {
      async ack(records: readonly SQSRecord[]) {
        acked.push(ids(records));
        events.push(`ack ${records.length}`);
        // The finished groups with a success (a and c) acked: the slow monitor may end now.
        gate.release();
      },
    };
    const { store, handler } = setup(gate.check, ["a", "b", "c", "slow"], earlyAck);
    const original = store.saveState.bind(store);
    store.saveState = async (monitorId, ...rest) => {
      const tick = `${monitorId}@${rest[0].lastTickTime}`;
      if (tick === `b@${at(0)}` || tick === `c@${at(1)}`) throw new Error("throttled");
      if (monitorId === "slow") events.push("slow saved");
      return original(monitorId, ...rest);
    };
    const event = {
      Records: [
        fifoRecord(tickBody("slow", at(0)), "slow"),
        fifoRecord(tickBody("a", at(0)), "a"),
        fifoRecord(tickBody("b", at(0)), "b"),
        fifoRecord(tickBody("c", at(0)), "c"),
        fifoRecord(tickBody("a", at(1)), "a"),
        fifoRecord(tickBody("b", at(1)), "b"),
        fifoRecord(tickBody("c", at(1)), "c"),
      ],
    };
    const [slow, a0, b0, c0, a1, b1, c1] = ids(event.Records);

    const response = await handler(event, lambdaContext());

    // b failed first (its later tick skipped), c failed second: both are for the batch response.
    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual(
      [b0, b1, c1].sort(),
    );
    // The groups that finished together are acked in one call: exactly their succeeded records.
    expect(acked).toHaveLength(1);
    expect(acked.flat().sort()).toEqual([a0, a1, c0].sort());
    const failed = new Set([b0, b1, c1]);
    expect(acked.flat().filter((id) => failed.has(id))).toEqual([]);
    // Acked while the slow monitor's check was still running; the slow group, finishing last,
    // is left to the event source (the invocation returns right after).
    expect(events).toEqual(["ack 3", "slow saved"]);
    expect(acked.flat()).not.toContain(slow);
    expect(store.states.get("slow")?.lastTickTime).toBe(at(0));
  });

  it("acks groups that finish apart in separate calls, so a later slow check delays no one", async () => {
    let releaseMedium: () => void = () => {};
    let releaseSlow: () => void = () => {};
    const medium = new Promise<void>((resolve) => {
      releaseMedium = resolve;
    });
    const slowGate = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
    const check: CheckDefinition = {
      name: "staggered",
      description: "fast, then medium after the first ack, then slow after the second",
      async run({ monitorId }) {
        if (monitorId === "medium") await medium;
        if (monitorId === "slow") await slowGate;
        return { isOk: true, message: "ok" };
      },
    };
    const acked: string[][] = [];
    const { handler } = setup(check, ["fast", "medium", "slow"], {
      async ack(records: readonly SQSRecord[]) {
        acked.push(ids(records));
        if (acked.length === 1) releaseMedium();
        else releaseSlow();
      },
    });
    const event = {
      Records: ["slow", "medium", "fast"].map((monitorId) =>
        fifoRecord(tickBody(monitorId, at(0)), monitorId),
      ),
    };
    const [, mediumId, fastId] = ids(event.Records);
    const response = await handler(event, lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    expect(acked).toEqual([[fastId], [mediumId]]);
  });

  it("leaves a batch of one monitor to the event source", async () => {
    const gate = gateCheck();
    const acked: string[][] = [];
    const { handler } = setup(gate.check, ["a"], {
      ack: async (records: SQSRecord[]) => acked.push(ids(records)),
    });
    const response = await handler(
      { Records: [fifoRecord(tickBody("a", at(0)), "a"), fifoRecord(tickBody("a", at(1)), "a")] },
      lambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(acked).toEqual([]);
  });

  it("acks delivery-retry records (no message group) one by one, like groups", async () => {
    const gate = gateCheck();
    const acked: string[][] = [];
    const earlyAck = {
      async ack(records: readonly SQSRecord[]) {
        acked.push(ids(records));
        gate.release();
      },
    };
    const { handler } = setup(gate.check, ["a", "slow"], earlyAck);
    const standard = (record: SQSRecord): SQSRecord => {
      const { MessageGroupId: _group, ...attributes } = record.attributes;
      return { ...record, attributes, eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:retries" };
    };
    const event = {
      Records: [
        standard(fifoRecord(tickBody("slow", at(0)), "slow")),
        standard(fifoRecord(tickBody("a", at(0)), "a")),
      ],
    };
    const response = await handler(event, lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    expect(acked).toEqual([[event.Records[1]?.messageId]]);
  });

  const rejects = async (_records: readonly SQSRecord[]): Promise<void> => {
    throw new Error("AccessDenied");
  };
  const throws = (_records: readonly SQSRecord[]): Promise<void> => {
    throw new Error("boom");
  };
  it.each([
    ["rejects", rejects],
    ["throws", throws],
  ])(
    "changes nothing when the port %s: the ticks are applied and the response is as without it",
    async (_how, ack) => {
      const gate = gateCheck();
      let calls = 0;
      const earlyAck = {
        ack(records: readonly SQSRecord[]) {
          calls += 1;
          gate.release();
          return ack(records);
        },
      };
      const { store, handler } = setup(gate.check, ["a", "slow"], earlyAck);
      const response = await handler(
        { Records: [fifoRecord(tickBody("slow", at(0)), "slow"), fifoRecord(tickBody("a", at(0)), "a")] },
        lambdaContext(),
      );
      expect(calls).toBe(1);
      expect(response.batchItemFailures).toEqual([]);
      expect(store.states.get("a")?.lastTickTime).toBe(at(0));
      expect(store.states.get("slow")?.lastTickTime).toBe(at(0));
    },
  );
});
