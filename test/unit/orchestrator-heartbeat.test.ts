import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { HEARTBEAT_ID, heartbeatTickBody } from "../../functions/core/heartbeat.ts";
import { HEARTBEAT, ORCHESTRATOR_METRICS_SERVICE } from "../../functions/orchestrator/metric-names.ts";
import { RecordingNotifier } from "../support/memory-adapters.ts";
import { loadOrchestratorModule } from "../support/orchestrator-module.ts";
import { fifoRecord, lambdaContext, tickBody } from "../support/sqs-event.ts";

/**
 * The dead-man's switch on the orchestrator's side: a heartbeat tick is counted under the metric
 * the stack's alarm watches and acknowledged, without touching the table or the ticks DLQ. Metrics
 * stay enabled in this file, so the EMF line the handler prints is what is asserted.
 */

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
let createOrchestratorHandler: (deps: object) => Handler;

beforeAll(async () => {
  ({ createOrchestratorHandler } = (await loadOrchestratorModule({ metrics: true })) as never);
});
afterEach(() => vi.restoreAllMocks());

/** A store and a DLQ sink that fail the test on any call. */
function untouchable() {
  const calls: string[] = [];
  const trap = (name: string) =>
    new Proxy(
      {},
      {
        get: (_target, property) =>
          typeof property === "string" && property !== "then"
            ? (..._args: unknown[]) => {
                calls.push(`${name}.${property}`);
                throw new Error(`${name}.${property} must not be called for a heartbeat`);
              }
            : undefined,
      },
    );
  return { calls, store: trap("store"), rejected: trap("rejected") };
}

/** The EMF documents the handler printed while `run` ran. */
async function emitted(run: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout) as (...args: unknown[]) => boolean;
  const capture = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    const text = String(chunk);
    if (!text.includes('"_aws"')) return write(chunk, ...rest);
    lines.push(text);
    return true;
  };
  vi.spyOn(process.stdout, "write").mockImplementation(capture as typeof process.stdout.write);
  await run();
  return lines.flatMap((text) =>
    text
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line)),
  );
}

describe("heartbeat ticks", () => {
  it("are counted under the alarm's metric, acknowledged, and never reach the table or the DLQ", async () => {
    const { calls, store, rejected } = untouchable();
    const handler = createOrchestratorHandler({
      store,
      rejected,
      notifier: new RecordingNotifier(),
      findCheck: () => undefined,
    });
    const body = heartbeatTickBody("2026-03-01T06:05:00Z");
    let response: SQSBatchResponse | undefined;
    const documents = await emitted(async () => {
      response = await handler(
        { Records: [fifoRecord(body, HEARTBEAT_ID), fifoRecord(body, HEARTBEAT_ID, 3)] },
        lambdaContext(),
      );
    });
    expect(response?.batchItemFailures).toEqual([]);
    expect(calls).toEqual([]);
    const heartbeat = documents.find((document) => HEARTBEAT in document);
    expect(heartbeat).toMatchObject({ [HEARTBEAT]: [1, 1], service: ORCHESTRATOR_METRICS_SERVICE });
    expect(JSON.stringify(heartbeat?._aws)).toContain('"Namespace":"Watchkeeper"');
  });

  it("are recognised by id and reason: a heartbeat whose time Scheduler left unfilled is still acknowledged", async () => {
    const { calls, store, rejected } = untouchable();
    const handler = createOrchestratorHandler({
      store,
      rejected,
      notifier: new RecordingNotifier(),
      findCheck: () => undefined,
    });
    let response: SQSBatchResponse | undefined;
    await emitted(async () => {
      response = await handler(
        { Records: [fifoRecord(heartbeatTickBody("<aws.scheduler.scheduled-time>"), HEARTBEAT_ID)] },
        lambdaContext(),
      );
    });
    expect(response?.batchItemFailures).toEqual([]);
    expect(calls).toEqual([]);
  });

  it("anything else under the reserved id is an ordinary malformed tick (rejected, not counted)", async () => {
    const rejections: string[] = [];
    const { store } = untouchable();
    const handler = createOrchestratorHandler({
      store,
      rejected: { reject: async (body: string) => void rejections.push(body) },
      notifier: new RecordingNotifier(),
      findCheck: () => undefined,
    });
    const forged = tickBody(HEARTBEAT_ID, "2026-03-01T06:05:00Z");
    const documents = await emitted(() =>
      handler({ Records: [fifoRecord(forged, HEARTBEAT_ID)] }, lambdaContext()),
    );
    expect(documents.some((document) => HEARTBEAT in document)).toBe(false);
    expect(rejections).toHaveLength(1);
  });
});
