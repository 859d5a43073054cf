import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { checks } from "#monitors/index.ts";
import { LAZY_CHECK_NAMES, LazyChecks } from "#monitors/lazy-registry.ts";
import type { CheckDefinition } from "#monitors/types.ts";
import { MemoryMonitorStore, RecordingNotifier } from "../../support/memory-adapters.ts";
import { loadOrchestratorModule } from "../../support/orchestrator-module.ts";
import { fifoRecord, lambdaContext, tickBody } from "../../support/sqs-event.ts";

/**
 * The orchestrator's registry loads each check's module on first use (issue 13, cold start): the
 * tick awaits the check its config item names.
 */

const probe = (name: string): CheckDefinition => ({
  name,
  description: "a probe",
  run: async () => ({ isOk: true, message: "ok" }),
});

/** Modules whose loading the test controls: each resolves when `release(name)` is called. */
function controlledModules(names: string[]) {
  const releases = new Map<string, () => void>();
  const loads = new Map<string, number>();
  const modules = Object.fromEntries(
    names.map((name) => [
      name,
      () => {
        loads.set(name, (loads.get(name) ?? 0) + 1);
        return new Promise<CheckDefinition>((resolve) => releases.set(name, () => resolve(probe(name))));
      },
    ]),
  );
  return { modules, loads, release: (name: string) => releases.get(name)?.() };
}

describe("LazyChecks", () => {
  it("knows every check of monitors/index.ts, and loads the very same definitions", async () => {
    expect([...LAZY_CHECK_NAMES].sort()).toEqual([...checks.keys()].sort());
    const lazy = new LazyChecks();
    for (const name of LAZY_CHECK_NAMES) {
      expect(await lazy.find(name), name).toBe(checks.get(name));
    }
  });

  it("answers undefined for a name that is not a registered check, as monitors/index.ts does", async () => {
    const lazy = new LazyChecks();
    expect(await lazy.find("no-such-check")).toBeUndefined();
    expect(await lazy.find("toString")).toBeUndefined();
  });

  it("loads a registered check's module once, however many ticks ask for it at the same time", async () => {
    const { modules, loads, release } = controlledModules(["http"]);
    const lazy = new LazyChecks(modules);
    let found = 0;
    const asks = [lazy.find("http"), lazy.find("http"), lazy.find("http")].map((ask) =>
      ask.then((definition) => {
        found += 1;
        return definition;
      }),
    );
    await Promise.resolve();
    expect(found).toBe(0);
    release("http");
    for (const definition of await Promise.all(asks)) expect(definition?.name).toBe("http");
    expect(loads.get("http")).toBe(1);
    expect((await lazy.find("http"))?.name).toBe("http");
    expect(loads.get("http")).toBe(1);
  });

  it("forgets a failed load, so that the next tick tries again", async () => {
    let attempts = 0;
    const lazy = new LazyChecks({
      http: async () => {
        attempts += 1;
        if (attempts === 1) throw new Error("chunk missing");
        return probe("http");
      },
    });
    await expect(lazy.find("http")).rejects.toThrow("chunk missing");
    expect((await lazy.find("http"))?.name).toBe("http");
    expect(attempts).toBe(2);
  });
});

describe("the orchestrator with the lazy registry", () => {
  type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
  let createOrchestratorHandler: (deps: object) => Handler;
  beforeAll(async () => {
    ({ createOrchestratorHandler } = (await loadOrchestratorModule()) as never);
  });

  it("runs a monitor's first tick with a check that no tick had loaded yet", async () => {
    const lazy = new LazyChecks();
    const memory = new MemoryMonitorStore();
    memory.configs.set("m1", {
      name: "m1",
      check: "manual",
      params: { isOk: true },
      peopleToNotify: ["ops@example.com"],
      skipSupersededTicks: false,
    });
    const handler = createOrchestratorHandler({
      store: memory,
      notifier: new RecordingNotifier(),
      findCheck: (name: string) => lazy.find(name),
      // Every tick writes (write on change aside), so the outcome is in the state item.
      options: { stateHeartbeatMs: 0 },
    });
    const scheduledTime = new Date(Date.UTC(2026, 2, 1, 6, 0)).toISOString();
    const response = await handler(
      { Records: [fifoRecord(tickBody("m1", scheduledTime), "m1")] },
      lambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(memory.states.get("m1")?.lastResultMessage).toBe("Manual check is OK");
  });
});
