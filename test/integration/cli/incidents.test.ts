import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDocumentClient, DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { INCIDENT_RETENTION_DAYS } from "#core/incident.ts";
import { TickProcessor } from "#core/tick.ts";
import { freshTable, localDynamo } from "../../support/aws.ts";
import { RecordingNotifier } from "../../support/memory-adapters.ts";
import { type CliHarness, cliHarness } from "./support.ts";

/**
 * `ack`, `unack`, `incidents` and health's MTTA / MTTR on DynamoDB Local, with the orchestrator's
 * own tick use case and store writing the state and incident items between the commands.
 */

const at = (minute: number) => new Date(Date.UTC(2026, 10, 21, 10, minute)).toISOString();
const wall = (minute: number) => new Date(Date.UTC(2026, 10, 21, 10, minute));

let cli: CliHarness;
let tableName: string;
const { client, doc } = localDynamo();
const notifier = new RecordingNotifier();
let outcomes: Record<string, boolean[]>;
let wallNow = wall(0).getTime();

function processor() {
  return new TickProcessor({
    store: new DynamoMonitorStore(tableName, createDocumentClient(client)),
    notifier,
    findCheck: (name) =>
      name === "scripted"
        ? {
            name,
            description: "scripted",
            async run({ monitorId }) {
              const isOk = outcomes[monitorId]?.shift() ?? true;
              return { isOk, message: isOk ? "fine" : `${monitorId} feed missing` };
            },
          }
        : undefined,
    wallClock: () => new Date(wallNow),
  });
}

async function tickAt(monitorId: string, minute: number) {
  wallNow = wall(minute).getTime();
  return processor().process(JSON.stringify({ monitorId, scheduledTime: at(minute) }));
}

const subjects = () => notifier.sent.map((mail) => mail.subject);

beforeAll(async () => {
  ({ tableName } = await freshTable("cli-incidents"));
  cli = await cliHarness(tableName);
  for (const monitorId of ["web", "queue", "calm"]) {
    await cli.put({
      monitorId,
      record: "config",
      name: `Monitor ${monitorId}`,
      check: "scripted",
      schedule: "rate(5 minutes)",
      timezone: "UTC",
      peopleToNotify: ["oncall@example.org"],
      skipSupersededTicks: false,
      reminderFrequencyMinutes: 10,
      requiredConsecutiveOks: 1,
    });
  }
  outcomes = { web: [false, false, false, false, true], queue: [false, false], calm: [true] };
});

afterAll(async () => {
  await cli.close();
  client.destroy();
});

describe("acknowledgement and incidents on DynamoDB Local", () => {
  it("refuses to acknowledge a monitor that is not in an incident, or unknown", async () => {
    await tickAt("calm", 0);
    const calm = await cli.run(["ack", "calm", "--by", "alice"], { now: wall(1) });
    expect(calm.code).toBe(1);
    expect(calm.stderr).toContain("calm is not in an incident (its state is ok)");
    const unknown = await cli.run(["ack", "nope", "--by", "alice"], { now: wall(1) });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown monitor "nope"');
    const badFor = await cli.run(["ack", "calm", "--for", "soon"], { now: wall(1) });
    expect(badFor.code).toBe(2);
  });

  it("acks (who from WATCHKEEPER_USER, sanitised), silences reminders, and records it on the incident", async () => {
    await tickAt("web", 0); // ALERT
    await tickAt("web", 10); // REMINDER
    const acked = await cli.run(
      ["ack", "web", "--note", "failing over\u001b]0;pwned\u0007 the DB", "--for", "1h"],
      {
        now: wall(12),
        env: { WATCHKEEPER_USER: "alice\u202e@example.org" },
      },
    );
    expect(acked.stderr).toBe("");
    expect(acked.code).toBe(0);
    expect(acked.stdout).toContain("Acknowledged web.");
    expect(acked.stdout).toContain("alice@example.org at 2026-11-21 10:12:00Z");
    expect(acked.stdout).toContain("silenced until 2026-11-21 11:12:00Z");
    const again = await cli.run(["ack", "web", "--json"], {
      now: wall(13),
      env: { WATCHKEEPER_USER: "alice@example.org" },
    });
    expect(again.json()).toMatchObject({
      changed: false,
      ack: { by: "alice@example.org", at: wall(12).toISOString() },
    });
    await tickAt("web", 20);
    await tickAt("web", 30);
    expect(subjects()).toEqual(["[Monitor ALERT] Monitor web", "[Monitor REMINDER] Monitor web"]);
    const { Item } = await doc.send(
      new GetCommand({ TableName: tableName, Key: { monitorId: "web", record: `incident#${at(0)}` } }),
    );
    expect(Item).toMatchObject({
      openedAt: at(0),
      firstFailureMessage: "web feed missing",
      acknowledgedBy: "alice@example.org",
      acknowledgedAt: wall(12).toISOString(),
      firstAcknowledgedAt: wall(12).toISOString(),
      ackUntil: new Date(wall(12).getTime() + 3_600_000).toISOString(),
      alertsSent: 1,
      remindersSent: 1,
    });
    // The escape sequence's control characters are gone before anything is stored.
    expect(Item?.ackNote).toBe("failing over ]0;pwned the DB");
    const shown = await cli.run(["show", "web"], { now: wall(31) });
    expect(shown.stdout).toMatch(/incident\s+since 2026-11-21 10:00:00Z/);
    expect(shown.stdout).toMatch(
      /acknowledged\s+by alice@example.org at 2026-11-21 10:12:00Z, until 2026-11-21 11:12:00Z: failing over \]0;pwned the DB/,
    );
  });

  it("unacks, then the incident resolves and RECOVERED names who acknowledged", async () => {
    const unacked = await cli.run(["unack", "web", "--by", "bob"], { now: wall(31) });
    expect(unacked.code).toBe(0);
    expect(unacked.stdout).toContain("Removed the acknowledgement of web (by alice@example.org)");
    const repeat = await cli.run(["unack", "web", "--by", "bob"], { now: wall(32) });
    expect(repeat.stdout).toContain("web is not acknowledged: nothing changed.");
    await cli.run(["ack", "web", "--by", "carol"], { now: wall(33) });
    await tickAt("web", 40); // recovery (the scripted failures ran out)
    expect(subjects().at(-1)).toBe("[Monitor RECOVERED] Monitor web");
    expect(notifier.sent.at(-1)?.text).toContain(`Acknowledged: carol at ${wall(33).toISOString()}`);
    const { Item } = await doc.send(
      new GetCommand({ TableName: tableName, Key: { monitorId: "web", record: `incident#${at(0)}` } }),
    );
    expect(Item).toMatchObject({
      resolvedAt: at(40),
      durationMs: 40 * 60_000,
      acknowledgedBy: "carol",
      firstAcknowledgedBy: "alice@example.org",
      unacknowledgedBy: "bob",
      recoveriesSent: 1,
      lastFailureAt: at(30),
      expiresAt: Math.floor(Date.parse(at(40)) / 1000) + INCIDENT_RETENTION_DAYS * 86_400,
    });
    expect(Item?.ackUntil).toBeUndefined();
    expect(Item?.ackNote).toBeUndefined();
  });

  it("lists incidents, open and resolved, newest first, as a table and as JSON", async () => {
    await tickAt("queue", 50); // a second incident, left open
    const now = wall(55);
    const listed = await cli.run(["incidents", "--since", "1d"], { now });
    expect(listed.code).toBe(0);
    const lines = listed.stdout.split("\n");
    expect(lines[0]).toBe("Incidents since 2026-11-20 10:55:00Z (newest first)");
    expect(lines[1]).toMatch(
      /^MONITOR\s+OPENED\s+STATUS\s+DURATION\s+ACKNOWLEDGED\s+MAIL SENT\s+LAST FAILURE$/,
    );
    expect(lines[2]).toMatch(
      /^queue\s+2026-11-21 10:50:00Z\s+open\s+5m\+\s+-\s+1 alert\s+queue feed missing$/,
    );
    expect(lines[3]).toMatch(
      /^web\s+2026-11-21 10:00:00Z\s+resolved\s+40m\s+alice@example.org after 12m, now carol\s+1 alert, 1 reminder, 1 recovery\s+web feed missing$/,
    );
    const json = (await cli.run(["incidents", "--json", "--open"], { now })).json();
    expect(json.incidents).toHaveLength(1);
    expect(json.incidents[0]).toMatchObject({ monitorId: "queue", status: "open", durationMs: 5 * 60_000 });
    const one = (await cli.run(["incidents", "web", "--json"], { now })).json();
    expect(one.incidents.map((view: { start: string }) => view.start)).toEqual([at(0)]);
    const none = await cli.run(["incidents", "--since", "1m"], { now: wall(45) });
    expect(none.stdout).toContain("queue"); // open incidents always show
  });

  it("reports MTTA and MTTR in health over its window", async () => {
    const health = await cli.run(["health", "--json"], { now: wall(55) });
    expect(health.json().incidents).toEqual({
      opened: 2,
      acknowledged: 1,
      resolved: 1,
      open: 1,
      mttaMs: 12 * 60_000,
      mttrMs: 40 * 60_000,
    });
    const text = await cli.run(["health"], { now: wall(55) });
    expect(text.stdout).toMatch(
      /incidents\s+2 opened \(1 still open\); MTTA 12m over 1 acknowledged; MTTR 40m over 1 resolved/,
    );
    expect(text.stdout).toMatch(/queue\s+Monitor queue\s+5m ago\s+no\s+queue feed missing/);
  });

  it("acks only the incident named by --incident while it is the open one", async () => {
    await cli.put({
      monitorId: "stale-link",
      record: "config",
      name: "Monitor stale-link",
      check: "scripted",
      peopleToNotify: ["oncall@example.org"],
      skipSupersededTicks: false,
    });
    outcomes["stale-link"] = [false];
    await tickAt("stale-link", 0); // ALERT: incident from minute 0
    const stale = await cli.run(
      ["ack", "stale-link", "--by", "alice", "--incident", "2020-01-01T00:00:00Z"],
      {
        now: wall(1),
      },
    );
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain("is over; the one open now started at");
    const bad = await cli.run(["ack", "stale-link", "--by", "alice", "--incident", "yesterday"], {
      now: wall(1),
    });
    expect(bad.code).toBe(2);
  });
});
