import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DIRECTORY_SHARDS,
  decideDirectoryAction,
  directoryShardOf,
  directoryShards,
  planDirectory,
} from "#core/directory.ts";
import type { ConfigChange } from "#core/schedule-sync.ts";

const config = (kind: ConfigChange["kind"], monitorId: unknown, image: Record<string, unknown> = {}) => {
  const keys = { monitorId, record: "config" };
  const item = { ...keys, name: "x", check: "http", ...image };
  return {
    kind,
    keys,
    ...(kind === "REMOVE" ? { oldImage: item } : { newImage: item }),
    ...(kind === "MODIFY" ? { oldImage: item } : {}),
  } as ConfigChange;
};

describe("the directory decision for one config stream record", () => {
  it("keeps an entry for every config item: valid, invalid, paused, or under an id no schedule accepts", () => {
    for (const [monitorId, image] of [
      ["web", { schedule: "rate(5 minutes)" }],
      ["typo", { schedule: "every five minutes", timezone: "Mars/Olympus" }],
      ["paused", { isActive: false }],
      ["bad id with spaces", {}],
    ] as const) {
      for (const kind of ["INSERT", "MODIFY"] as const) {
        expect(decideDirectoryAction(config(kind, monitorId, image))).toEqual({
          kind: "ensure",
          monitorId,
          shard: directoryShardOf(monitorId),
        });
      }
    }
  });

  it("removes the entry with its config item, whatever the id (no schedule decides it)", () => {
    expect(decideDirectoryAction(config("REMOVE", "web"))).toEqual({ kind: "remove", monitorId: "web" });
    expect(decideDirectoryAction(config("REMOVE", "bad id with spaces"))).toEqual({
      kind: "remove",
      monitorId: "bad id with spaces",
    });
  });

  it("ignores other records and unusable keys", () => {
    const state: ConfigChange = { kind: "INSERT", keys: { monitorId: "web", record: "state" }, newImage: {} };
    expect(decideDirectoryAction(state).kind).toBe("none");
    expect(decideDirectoryAction(config("INSERT", 42)).kind).toBe("none");
    expect(decideDirectoryAction(config("INSERT", "")).kind).toBe("none");
  });

  it("a shard is stable, one of the shards the overview queries, and shards spread a fleet", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (monitorId) => {
        expect(directoryShardOf(monitorId)).toBe(directoryShardOf(monitorId));
        expect(directoryShards()).toContain(directoryShardOf(monitorId));
      }),
    );
    const counts = new Map<string, number>();
    for (let index = 0; index < 8_000; index++) {
      const shard = directoryShardOf(`monitor-${index}`);
      counts.set(shard, (counts.get(shard) ?? 0) + 1);
    }
    expect(counts.size).toBe(DIRECTORY_SHARDS);
    for (const count of counts.values()) expect(count).toBeGreaterThan(700);
  });
});

describe("reconcile's directory plan", () => {
  it("writes missing and misplaced entries, removes orphans, leaves correct ones alone", () => {
    const plan = planDirectory(
      ["kept", "missing", "moved", "missing"],
      [
        { monitorId: "kept", shard: directoryShardOf("kept") },
        { monitorId: "moved", shard: String((Number(directoryShardOf("moved")) + 1) % DIRECTORY_SHARDS) },
        { monitorId: "deleted", shard: directoryShardOf("deleted") },
      ],
    );
    expect(plan).toEqual({
      writes: [
        { monitorId: "missing", shard: directoryShardOf("missing") },
        { monitorId: "moved", shard: directoryShardOf("moved") },
      ],
      removals: ["deleted"],
    });
  });

  it("is empty when the directory matches", () => {
    const ids = ["a", "b", "c"];
    expect(
      planDirectory(
        ids,
        ids.map((monitorId) => ({ monitorId, shard: directoryShardOf(monitorId) })),
      ),
    ).toEqual({ writes: [], removals: [] });
  });
});
