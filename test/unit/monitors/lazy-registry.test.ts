import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { checks } from "#monitors/index.ts";
import {
  CheckNotLoadedError,
  LAZY_CHECK_NAMES,
  LazyChecks,
  preloadingChecks,
} from "#monitors/lazy-registry.ts";
import type { CheckDefinition } from "#monitors/types.ts";
import { MemoryMonitorStore, RecordingNotifier } from "../../support/memory-adapters.ts";
import { loadOrchestratorModule } from "../../support/orchestrator-module.ts";
import { fifoRecord, lambdaContext, tickBody } from "../../support/sqs-event.ts";

/**
 * The orchestrator's registry loads each check's module on first use (issue 13, cold start); the
 * store wrapper loads the checks a config item names before the tick asks for them.
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
      await lazy.load(name);
      expect(lazy.find(name), name).toBe(checks.get(name));
    }
  });

  it("answers undefined for a name that is not a registered check, as monitors/index.ts does", async () => {
    const lazy = new LazyChecks();
    await lazy.load("no-such-check");
    expect(lazy.find("no-such-check")).toBeUndefined();
    expect(lazy.find("toString")).toBeUndefined();
  });

  it("refuses a registered check not loaded yet (the tick is retried), and loads it meanwhile", async () => {
    const { modules, loads, release } = controlledModules(["http"]);
    const lazy = new LazyChecks(modules);
    expect(() => lazy.find("http")).toThrow(CheckNotLoadedError);
    expect(loads.get("http")).toBe(1);
    const loaded = lazy.load("http");
    release("http");
    await loaded;
    expect(lazy.find("http")?.name).toBe("http");
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
    await expect(lazy.load("http")).rejects.toThrow("chunk missing");
    await lazy.load("http");
    expect(lazy.find("http")?.name).toBe("http");
    expect(attempts).toBe(2);
  });
});

describe("preloadingChecks", () => {
  it("resolves load and loadMany only once the checks their config items name have loaded", async () => {
    const { modules, release } = controlledModules(["http", "dns"]);
    const lazy = new LazyChecks(modules);
    const memory = new MemoryMonitorStore();
    memory.configs.set("a", { name: "a", check: "http" });
    memory.configs.set("b", { name: "b", check: "dns" });
    memory.configs.set("c", { name: "c", check: "no-such-check" });
    const store = preloadingChecks(memory, lazy);

    let loaded = false;
    const one = store.load("a").then((stored) => {
      loaded = true;
      return stored;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(loaded).toBe(false);
    release("http");
    expect((await one).config?.check).toBe("http");
    expect(lazy.find("http")?.name).toBe("http");

    const many = store.loadMany?.(["b", "c"]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    release("dns");
    expect([...((await many)?.keys() ?? [])].sort()).toEqual(["b", "c"]);
    expect(lazy.find("dns")?.name).toBe("dns");
  });

  it("leaves a check that fails to load to `find`, and the store's answer and errors as they are", async () => {
    const lazy = new LazyChecks({ http: () => Promise.reject(new Error("chunk missing")) });
    const memory = new MemoryMonitorStore();
    memory.configs.set("a", { name: "a", check: "http" });
    const store = preloadingChecks(memory, lazy);
    expect((await store.load("a")).config?.check).toBe("http");
    expect(() => lazy.find("http")).toThrow(CheckNotLoadedError);
    expect(store.configs).toBe(memory.configs);
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
      store: preloadingChecks(memory, lazy),
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
