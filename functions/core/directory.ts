import { fnv1a } from "./buckets.ts";
import type { ConfigChange } from "./schedule-sync.ts";
import { CONFIG_RECORD, RESERVED_ID_PREFIX } from "./schemas.ts";

/**
 * The monitor directory (issue 14): one small item per config item, `{monitorId, record:
 * "directory", wkMonitor: "<shard>"}`, in a sparse keys-only index, so that the dashboard's overview
 * finds every monitor id by Querying a few index partitions instead of Scanning the whole table
 * (whose size grows with run history). Schedule-sync keeps it in step with the config items (every
 * one, valid or not, paused or not); reconcile creates the missing entries, deletes the orphans and
 * then writes the *reconciled marker*, an index entry of its own: without it the directory may miss
 * monitors created before it existed, and the overview falls back to a Scan. This module is pure.
 */

/** `record` of a monitor's directory item, beside `config`, `state` and `schedule`. */
export const DIRECTORY_RECORD = "directory";

/**
 * The sparse index attribute (the shard); prefixed like `wkBucket`, so that no attribute a person
 * writes on a config item can collide with it.
 */
export const DIRECTORY_ATTRIBUTE = "wkMonitor";

/** Name of the global secondary index over DIRECTORY_ATTRIBUTE (sort key monitorId, keys only). */
export const DIRECTORY_INDEX = "ByMonitor";

/** Index partitions of the directory, read in parallel: spreads a 100k fleet over 8 partitions. */
export const DIRECTORY_SHARDS = 8;

/**
 * The reconciled marker's key: a reserved partition (no monitor can take it) and a record no
 * directory item has, so it can collide with nothing, even a hand-written config item `__directory`.
 */
export const DIRECTORY_MARKER_ID = `${RESERVED_ID_PREFIX}directory`;
export const DIRECTORY_MARKER_RECORD = "directory#reconciled";

/** The shard of a monitor's directory item: stable, a hash of its id. */
export function directoryShardOf(monitorId: string): string {
  return String(fnv1a(`directory:${monitorId}`) % DIRECTORY_SHARDS);
}

/** Every shard value the overview queries. */
export function directoryShards(): string[] {
  return Array.from({ length: DIRECTORY_SHARDS }, (_, shard) => String(shard));
}

export type DirectoryAction =
  /** Write the entry unless it exists in this shard already (a conditional put: no rewrite per edit). */
  | { kind: "ensure"; monitorId: string; shard: string }
  | { kind: "remove"; monitorId: string }
  | { kind: "none"; reason: string };

/** What one config-item stream record means for the monitor's directory item. */
export function decideDirectoryAction(change: ConfigChange): DirectoryAction {
  const { monitorId, record } = change.keys;
  if (record !== CONFIG_RECORD) return { kind: "none", reason: "not a config item" };
  // Any string key: the overview lists invalid monitors too (it shows their problems).
  if (typeof monitorId !== "string" || monitorId.length === 0) {
    return { kind: "none", reason: "monitorId is not a string" };
  }
  if (change.kind === "REMOVE") return { kind: "remove", monitorId };
  return { kind: "ensure", monitorId, shard: directoryShardOf(monitorId) };
}

/** A directory entry as the index holds it. */
export interface DirectoryEntry {
  monitorId: string;
  shard: string;
}

export interface DirectoryPlan {
  /** Config items without an entry, or with one in the wrong shard. */
  writes: DirectoryEntry[];
  /** Entries whose config item is gone. */
  removals: string[];
}

/** Brings the directory in line with the config items (reconcile). */
export function planDirectory(configIds: Iterable<string>, entries: Iterable<DirectoryEntry>): DirectoryPlan {
  const stored = new Map<string, string>();
  for (const entry of entries) stored.set(entry.monitorId, entry.shard);
  const wanted = new Set<string>();
  const writes: DirectoryEntry[] = [];
  for (const monitorId of configIds) {
    if (typeof monitorId !== "string" || monitorId.length === 0 || wanted.has(monitorId)) continue;
    wanted.add(monitorId);
    const shard = directoryShardOf(monitorId);
    if (stored.get(monitorId) !== shard) writes.push({ monitorId, shard });
  }
  const removals = [...stored.keys()].filter((monitorId) => !wanted.has(monitorId)).sort();
  writes.sort((a, b) => a.monitorId.localeCompare(b.monitorId));
  return { writes, removals };
}

/** The directory's writes, as schedule-sync and reconcile make them (functions/adapters/monitor-directory.ts). */
export interface MonitorDirectoryPort {
  /** Writes the entry when it is missing or in another shard; resolves true when it wrote. */
  ensure(monitorId: string, shard: string): Promise<boolean>;
  /** Deletes the entry (idempotent). */
  remove(monitorId: string): Promise<void>;
}

/** What reconcile needs besides the writes. */
export interface MonitorDirectoryAdmin extends MonitorDirectoryPort {
  /** Every entry of the index (the marker excluded), and whether the marker is there. */
  entries(): Promise<{ entries: DirectoryEntry[]; reconciled: boolean }>;
  /** Deletes the entry only while its config item is still gone; resolves true when it deleted. */
  removeOrphan(monitorId: string): Promise<boolean>;
  /** Writes the reconciled marker: from now on the overview trusts the directory. */
  markReconciled(at: Date): Promise<void>;
}
