import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_SEED_FILE, loadSeedMonitors, SeedFileError } from "#local/seed.ts";

/** `npm start`'s example monitors: a broken example must fail loudly, not seed a broken demo. */

const dir = mkdtempSync(join(tmpdir(), "watchkeeper-seed-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const variables = { demoSiteUrl: "http://127.0.0.1:9" };

function seedFile(items: unknown[]): string {
  const file = join(dir, `seed-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(items));
  return file;
}

describe("loadSeedMonitors", () => {
  it("accepts the shipped seed file, placeholders filled in", async () => {
    const items = await loadSeedMonitors(DEFAULT_SEED_FILE, variables);
    expect(items.length).toBeGreaterThan(0);
    expect(JSON.stringify(items)).not.toContain("{{");
  });

  it.each([
    [{ monitorId: "__heartbeat", name: "n", check: "manual" }, /monitorId must not start with "__"/],
    [{ monitorId: 7, name: "n", check: "manual" }, /monitorId/],
    [{ monitorId: "m", check: "manual" }, /name is required/],
    [
      { monitorId: "m", name: "n", check: "manual", peopleToNotify: ["not-an-address"] },
      /peopleToNotify\[0\]/,
    ],
    [{ monitorId: "m", name: "n", check: "manual", schedule: "every minute" }, /schedule/],
    [{ monitorId: "m", name: "n", check: "manual", channels: ["Bad Name"] }, /channels\[0\]/],
  ])("refuses %j, naming what is wrong", async (item, message) => {
    const load = loadSeedMonitors(seedFile([item]), variables);
    await expect(load).rejects.toBeInstanceOf(SeedFileError);
    await expect(load).rejects.toThrow(message);
  });
});
