import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { checks } from "#monitors/index.ts";
import { freshTable, localClientConfig } from "../../support/aws.ts";
import { type CliHarness, cliHarness, runItem } from "./support.ts";

/** Every registered check, as the "not a registered check" message lists them. */
const knownChecks = [...checks.keys()].sort().join(", ");

let cli: CliHarness;
let tableName: string;

beforeAll(async () => {
  ({ tableName } = await freshTable("cli-manage"));
  cli = await cliHarness(tableName);
});
afterAll(() => cli.close());

const addApi = (id: string, ...extra: string[]) =>
  cli.run([
    "add",
    id,
    "--name",
    "API health",
    "--check",
    "http",
    "--schedule",
    "rate(1 minute)",
    "--notify",
    "a@example.org,b@example.org",
    "--param",
    "url=https://api.example.org/health",
    "--param",
    "expectedStatus=200",
    ...extra,
  ]);

describe("add", () => {
  it("creates the config item with typed params and shows it with defaults applied", async () => {
    const added = await addApi("api", "--timezone", "Europe/Paris", "--set", "requiredConsecutiveOks=3");
    expect(added).toMatchObject({ code: 0, stderr: "" });
    expect(added.stdout).toContain("Created api: http, rate(1 minute) (Europe/Paris), 2 recipients.");

    const shown = await cli.run(["show", "api", "--json"]);
    expect(shown.code).toBe(0);
    const body = shown.json();
    expect(body.config).toMatchObject({
      name: "API health",
      check: "http",
      params: { url: "https://api.example.org/health", expectedStatus: 200 },
      peopleToNotify: ["a@example.org", "b@example.org"],
      requiredConsecutiveOks: 3,
      reminderFrequencyMinutes: 60,
      timezone: "Europe/Paris",
    });
    expect(body.defaults).toContain("reminderFrequencyMinutes");
    expect(body.defaults).not.toContain("timezone");
    expect(body.nextRuns).toHaveLength(5);
    expect(body.state).toBeNull();
  });

  it("never overwrites an existing monitor", async () => {
    const again = await addApi("api", "--set", "requiredConsecutiveOks=5");
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      "error: monitor api already exists: change it with `watchkeeper edit api --set attr=value` (or remove it first)\n",
    );
    expect((await cli.run(["show", "api", "--json"])).json().config.requiredConsecutiveOks).toBe(3);
  });

  it("refuses invalid input with one line per bad attribute and writes nothing", async () => {
    const refused = await cli.run([
      "add",
      "broken",
      "--name",
      "Broken",
      "--check",
      "htp",
      "--schedule",
      "rate(5 minute)",
      "--notify",
      "ok@example.org,nope",
      "--set",
      "requiredConsecutiveOks=zero",
    ]);
    expect(refused.code).toBe(1);
    const lines = refused.stderr.trim().split("\n");
    expect(lines).toEqual([
      'error: broken: requiredConsecutiveOks expects a number, got "zero"',
      'error: broken: schedule "rate(5 minute)": use the plural unit for values above 1: "rate(5 minutes)"',
      'error: broken: peopleToNotify[1] "nope" is not a valid email address',
      `error: broken: check "htp" is not a registered check (known: ${knownChecks})`,
    ]);
    const shown = await cli.run(["show", "broken"]);
    expect(shown.code).toBe(1);
    expect(shown.stderr).toBe(
      'error: unknown monitor "broken": `watchkeeper list` shows the monitors of this table\n',
    );
  });

  it("reads a YAML file, with flags taking precedence", async () => {
    const file = await cli.writeFile(
      "nightly.yaml",
      [
        "monitorId: nightly",
        "name: Nightly export",
        "check: manual",
        "params: { isOk: true }",
        "schedule: cron(0 6 * * ? *)",
        "timezone: America/Chicago",
        "peopleToNotify: [ops@example.org]",
      ].join("\n"),
    );
    const added = await cli.run(["add", "--file", file, "--name", "Nightly export (v2)"]);
    expect(added.code).toBe(0);
    const shown = await cli.run(["show", "nightly"], { now: new Date("2026-11-21T15:00:00Z") });
    expect(shown.stdout).toContain("Nightly export (v2)");
    // 06:00 in Chicago is 12:00 UTC in winter: the next run after 15:00 UTC is tomorrow's.
    expect(shown.stdout).toContain("2026-11-22 06:00:00 CST  2026-11-22 12:00:00Z, in 21h");
    const mismatch = await cli.run(["add", "other", "--file", file]);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toContain("differs from monitorId nightly");
  });
});

describe("edit, pause, resume", () => {
  it("sets typed values, merges params, unsets to defaults and shows the diff", async () => {
    const edited = await cli.run([
      "edit",
      "api",
      "--set",
      "schedule=rate(2 minutes)",
      "--set",
      "isActive=false",
      "--set",
      "params.maxLatencyMs=1500",
      "--unset",
      "timezone",
    ]);
    expect(edited.code).toBe(0);
    expect(edited.stdout).toContain("  schedule: rate(1 minute) -> rate(2 minutes)");
    expect(edited.stdout).toContain("  timezone: Europe/Paris -> (default)");
    const config = (await cli.run(["show", "api", "--json"])).json().config;
    expect(config).toMatchObject({
      schedule: "rate(2 minutes)",
      isActive: false,
      timezone: "America/Chicago",
      params: { url: "https://api.example.org/health", expectedStatus: 200, maxLatencyMs: 1500 },
    });
  });

  it("refuses invalid values and unknown attributes, one line each, and changes nothing", async () => {
    const refused = await cli.run([
      "edit",
      "api",
      "--set",
      "timezone=Mars/Base",
      "--set",
      "reminderFrequency=5",
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split("\n")).toHaveLength(2);
    expect(refused.stderr).toContain(
      "error: api: reminderFrequency is not a config attribute (did you mean reminderFrequencyMinutes?)",
    );
    const invalid = await cli.run(["edit", "api", "--set", "timezone=Mars/Base"]);
    expect(invalid.stderr).toBe(
      'error: api: timezone "Mars/Base": is not an IANA timezone (e.g. America/Chicago, Europe/Paris, UTC)\n',
    );
    expect((await cli.run(["show", "api", "--json"])).json().config.timezone).toBe("America/Chicago");
  });

  it("refuses unknown monitors and empty edits", async () => {
    const unknown = await cli.run(["edit", "ghost", "--set", "name=Ghost"]);
    expect(unknown).toMatchObject({ code: 1 });
    expect(unknown.stderr).toContain('unknown monitor "ghost"');
    expect((await cli.run(["edit", "api"])).code).toBe(2);
    expect((await cli.run(["pause", "ghost"])).stderr).toContain('unknown monitor "ghost"');
  });

  it("pauses and resumes, saying when nothing changed", async () => {
    expect((await cli.run(["pause", "api"])).stdout).toBe("api was already paused.\n");
    expect((await cli.run(["resume", "api"])).stdout).toContain("Resumed api");
    expect((await cli.run(["resume", "api", "--json"])).json()).toEqual({
      monitorId: "api",
      isActive: true,
      changed: false,
    });
    expect((await cli.run(["pause", "nightly"])).stdout).toContain("Paused nightly");
  });
});

describe("list", () => {
  it("shows an aligned table and filters by state", async () => {
    await cli.put({
      monitorId: "api",
      record: "state",
      state: "alert",
      consecutiveOkCount: 0,
      lastRunDt: "2026-11-21T11:58:00.000Z",
      lastResultOk: false,
      lastResultMessage: "GET https://api.example.org/health returned 503",
      version: 3,
    });
    const listed = await cli.run(["list"], { now: new Date("2026-11-21T12:00:00Z") });
    expect(listed.code).toBe(0);
    const lines = listed.stdout.split("\n");
    expect(lines[0]).toMatch(/^ID\s+NAME\s+CHECK\s+SCHEDULE\s+ACTIVE\s+STATE\s+LAST RUN\s+LAST MESSAGE$/);
    expect(listed.stdout).toMatch(
      /api\s+API health\s+http\s+rate\(2 minutes\)\s+yes\s+alert\s+2m ago\s+GET https/,
    );
    expect(listed.stdout).toMatch(
      /nightly\s+Nightly export \(v2\)\s+manual\s+cron\(0 6 \* \* \? \*\)\s+no\s+paused\s+never/,
    );
    expect(listed.stdout).toContain("2 monitors, 1 in alert, 1 paused");
    // Columns line up: every row's STATE cell starts where the header's does.
    const column = lines[0]?.indexOf("STATE") ?? -1;
    expect(lines[1]?.slice(column, column + 5)).toBe("alert");

    const alerts = (await cli.run(["list", "--state", "alert", "--json"])).json();
    expect(alerts.map((row: { monitorId: string }) => row.monitorId)).toEqual(["api"]);
    expect(alerts[0]).toMatchObject({ state: "alert", lastResultOk: false, schedule: "rate(2 minutes)" });
    expect((await cli.run(["list", "--state", "sleepy"])).code).toBe(2);
  });
});

describe("reset and remove", () => {
  it("reset asks first, and deletes only the state item", async () => {
    const declined = await cli.run(["reset", "api"], { confirm: false });
    expect(declined.code).toBe(1);
    expect(declined.stderr).toContain("cancelled: nothing was changed");
    expect(declined.stderr).toContain(
      "? Reset api: delete its state (alert status, counters, pending mail)?",
    );
    expect((await cli.run(["show", "api", "--json"])).json().state).toMatchObject({ state: "alert" });

    expect((await cli.run(["reset", "api"], { confirm: true })).stdout).toContain("Reset api: state deleted");
    expect((await cli.run(["show", "api", "--json"])).json().state).toBeNull();
    expect((await cli.run(["reset", "api", "--yes"])).stdout).toBe(
      "api has no state item: nothing to reset.\n",
    );
  });

  it("remove deletes config, state and history after confirmation", async () => {
    await cli.put({ monitorId: "nightly", record: "state", state: "ok", consecutiveOkCount: 0, version: 1 });
    for (let minute = 0; minute < 30; minute++) {
      const at = new Date(Date.UTC(2026, 10, 21, 6, minute)).toISOString();
      await cli.put(runItem("nightly", at, {}));
    }
    const removed = await cli.run(["remove", "nightly", "--yes"]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain("Removed nightly: 32 items deleted (config, state, 30 history items)");
    expect((await cli.run(["export", "nightly"])).code).toBe(1);
    expect((await cli.run(["history", "nightly"])).stderr).toContain('unknown monitor "nightly"');
    expect((await cli.run(["remove", "nightly", "--yes"])).code).toBe(1);
  });

  it("refuses to remove Watchkeeper's own partitions (bucket headers, channels, the directory)", async () => {
    await cli.put({
      monitorId: "__buckets",
      record: "bucket#rate(5 minutes)#UTC",
      kind: "rate",
      periodMinutes: 5,
    });
    await cli.put({
      monitorId: "__channels",
      record: "channel#ops",
      kind: "sns",
      topicArn: "arn:aws:sns:us-east-1:123456789012:ops",
    });
    for (const reserved of ["__buckets", "__channels", "__directory"]) {
      const refused = await cli.run(["remove", reserved, "--yes"]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`"${reserved}" is not a monitor`);
    }
    expect((await cli.run(["channel", "list", "--json"])).json().channels).toEqual([
      expect.objectContaining({ name: "ops" }),
    ]);
  });
});

describe("errors", () => {
  it("names an unknown table in one line", async () => {
    const result = await cli.run(["list", "--table", "no-such-table"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'error: table "no-such-table" does not exist: check --table / WATCHKEEPER_TABLE and the region\n',
    );
  });

  it("explains missing credentials in one line, with the stack only under --debug", async () => {
    const noCredentials = new DynamoDBClient({
      ...localClientConfig(inject("dynamoEndpoint")),
      credentials: async () => {
        throw Object.assign(new Error("Could not load credentials from any providers"), {
          name: "CredentialsProviderError",
        });
      },
    });
    const harness = await cliHarness(tableName, { dynamodb: noCredentials });
    try {
      const result = await harness.run(["list"]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(/^error: no AWS credentials found: /);
      const debug = await harness.run(["list", "--debug"]);
      expect(debug.stderr).toContain("    at ");
    } finally {
      noCredentials.destroy();
      await harness.close();
    }
  });

  it("reports usage errors with exit code 2", async () => {
    const result = await cli.run(["lst"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'lst'");
    expect(result.stderr).toContain("Did you mean list?");
  });
});

describe("edit and resume: what blocks and what is said", () => {
  // A table of their own: the list tests above count the monitors of theirs.
  let own: CliHarness;
  beforeAll(async () => {
    own = await cliHarness((await freshTable("cli-manage-blocks")).tableName);
  });
  afterAll(() => own.close());

  it("refuses another check that the stored params do not fit, and writes nothing", async () => {
    await own.run([
      "add",
      "switch",
      "--name",
      "Switch",
      "--check",
      "http",
      "--param",
      "url=https://api.example.org/health",
    ]);
    const refused = await own.run(["edit", "switch", "--set", "check=tcp"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("switch: params.host");
    expect(refused.stderr).not.toContain("unchanged by this edit");
    expect((await own.run(["show", "switch", "--json"])).json().config.check).toBe("http");
    // With params that fit, the same change goes through.
    const fits = await own.run([
      "edit",
      "switch",
      "--set",
      "check=tcp",
      "--set",
      'params={"host":"db.example.org","port":5432}',
    ]);
    expect(fits).toMatchObject({ code: 0 });
  });

  it("lets an edit through past an old problem of an attribute it leaves alone, saying so", async () => {
    await own.put({
      monitorId: "legacy",
      record: "config",
      name: "Legacy",
      check: "manual",
      timezone: "Mars/Base",
    });
    const renamed = await own.run(["edit", "legacy", "--set", "name=Legacy feed"]);
    expect(renamed.code).toBe(0);
    expect(renamed.stderr).toContain('legacy: timezone "Mars/Base": is not an IANA timezone');
    expect(renamed.stderr).toContain("(unchanged by this edit)");
    expect((await own.run(["show", "legacy", "--json"])).json().config.name).toBe("Legacy feed");
  });

  it("says so when a resumed monitor cannot be scheduled (exit 1)", async () => {
    await own.put({
      monitorId: "expired",
      record: "config",
      name: "Expired",
      check: "manual",
      schedule: "cron(0 9 * * ? 2020)",
      isActive: false,
    });
    const resumed = await own.run(["resume", "expired"]);
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toContain("expired is resumed, but it cannot be scheduled");
    expect(resumed.stderr).toContain("never fires after");
    expect((await own.run(["show", "expired", "--json"])).json().config.isActive).toBe(true);
  });
});
