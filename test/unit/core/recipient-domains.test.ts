import { beforeEach, describe, expect, it } from "vitest";
import { decideScheduleAction } from "#core/schedule-sync.ts";
import {
  allowedRecipient,
  CONFIG_DEFAULTS,
  parseConfigLeniently,
  parseRecipientDomains,
} from "#core/schemas.ts";
import { DEFAULT_TICK_OPTIONS, type TickOutcome, TickProcessor } from "#core/tick.ts";
import type { CheckDefinition } from "../../../monitors/types.ts";
import { MemoryMonitorStore, RecordingNotifier, scriptedCheck } from "../../support/memory-adapters.ts";

/** allowedRecipientDomains: the lenient parse, the tick and schedule-sync's owners. */

const config = (peopleToNotify: unknown) => ({ name: "Feed", check: "manual", peopleToNotify });

describe("parseRecipientDomains", () => {
  it("reads a comma-separated list, lowercased, blanks and repeats dropped", () => {
    expect(parseRecipientDomains(" Example.ORG, ,eu.example.org,example.org ")).toEqual([
      "example.org",
      "eu.example.org",
    ]);
    expect(parseRecipientDomains(undefined)).toEqual([]);
    expect(parseRecipientDomains("")).toEqual([]);
  });

  it.each(["@example.org", "https://example.org", "example.org.", "localhost", "a@b.org"])(
    "refuses %j rather than lift the restriction",
    (text) => {
      expect(() => parseRecipientDomains(text)).toThrow(/must be domain names/);
    },
  );
});

describe("allowedRecipient", () => {
  it("matches the domain exactly, case aside, and lowercases it for IAM's case-sensitive patterns", () => {
    expect(allowedRecipient("Ops@Example.ORG", ["example.org"])).toBe("Ops@example.org");
    expect(allowedRecipient("ops@eu.example.org", ["example.org"])).toBeUndefined();
    expect(allowedRecipient("ops@example.org.evil.com", ["example.org"])).toBeUndefined();
    expect(allowedRecipient("ops@notexample.org", ["example.org"])).toBeUndefined();
  });
});

describe("parseConfigLeniently with allowedRecipientDomains", () => {
  it("keeps recipients in the allowed domains and reports each other one by index, naming it", () => {
    const { config: parsed, problems } = parseConfigLeniently(
      "feed",
      config(["ops@example.org", "relay@attacker.example", "Lead@EXAMPLE.org", "x@sub.example.org", "nope"]),
      { allowedRecipientDomains: ["example.org"] },
    );
    expect(parsed.peopleToNotify).toEqual(["ops@example.org", "Lead@example.org"]);
    expect(problems).toEqual([
      {
        attribute: "peopleToNotify[1]",
        message: '"relay@attacker.example" is outside the allowed recipient domains (example.org)',
      },
      {
        attribute: "peopleToNotify[3]",
        message: '"x@sub.example.org" is outside the allowed recipient domains (example.org)',
      },
      { attribute: "peopleToNotify[4]", message: '"nope" is not a valid email address' },
    ]);
  });

  it("allows a listed subdomain, and anything when no domain is given", () => {
    const people = ["a@example.org", "b@eu.example.org"];
    expect(
      parseConfigLeniently("feed", config(people), {
        allowedRecipientDomains: ["example.org", "eu.example.org"],
      }).problems,
    ).toEqual([]);
    for (const defaults of [{}, { allowedRecipientDomains: [] }]) {
      const lenient = parseConfigLeniently("feed", config([...people, "c@elsewhere.net"]), defaults);
      expect(lenient.problems).toEqual([]);
      expect(lenient.config.peopleToNotify).toHaveLength(3);
    }
    expect(DEFAULT_TICK_OPTIONS.allowedRecipientDomains).toEqual([]);
  });
});

describe("TickProcessor with allowedRecipientDomains", () => {
  const ID = "feed";
  const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 6, minute)).toISOString();
  let store: MemoryMonitorStore;
  let notifier: RecordingNotifier;
  let checks: Map<string, CheckDefinition>;
  beforeEach(() => {
    store = new MemoryMonitorStore();
    notifier = new RecordingNotifier();
    checks = new Map();
  });

  const run = async (outcomes: boolean[], allowedRecipientDomains: string[]) => {
    checks.set("scripted", scriptedCheck(outcomes));
    store.configs.set(ID, {
      monitorId: ID,
      record: "config",
      name: "Feed",
      check: "scripted",
      peopleToNotify: ["ops@example.org", "relay@attacker.example"],
      skipSupersededTicks: false,
    });
    const processor = new TickProcessor({
      store,
      notifier,
      findCheck: (name) => checks.get(name),
      wallClock: () => new Date(Date.parse("2026-03-01T12:00:00Z")),
      options: { allowedRecipientDomains },
    });
    const outcome: TickOutcome = await processor.process(
      JSON.stringify({ monitorId: ID, scheduledTime: at(0) }),
    );
    if (outcome.status !== "applied") throw new Error(`expected applied, got ${outcome.status}`);
    return outcome;
  };

  it("mails only the allowed recipient and reports the other as a config problem", async () => {
    const outcome = await run([false], ["example.org"]);
    expect(notifier.sent.map((mail) => mail.to)).toEqual([["ops@example.org"]]);
    expect(outcome.configProblems).toContain(
      'peopleToNotify[1] "relay@attacker.example" is outside the allowed recipient domains (example.org)',
    );
    expect(outcome.configProblemsChanged).toBe(true);
    expect(store.states.get(ID)?.configProblems).toContain("relay@attacker.example");
  });

  it("mails everyone listed without the setting, as before (one mail each)", async () => {
    const outcome = await run([false], []);
    expect(notifier.sent.map((mail) => mail.to)).toEqual([["ops@example.org"], ["relay@attacker.example"]]);
    expect(outcome.configProblems).toBeFalsy();
  });
});

describe("schedule-sync's owners", () => {
  it("are the allowed recipients only", () => {
    const item = {
      monitorId: "feed",
      record: "config",
      ...config(["ops@example.org", "relay@attacker.example"]),
      schedule: "rate(5 minute)",
    };
    const action = decideScheduleAction(
      { kind: "INSERT", keys: { monitorId: "feed", record: "config" }, newImage: item },
      { allowedRecipientDomains: ["example.org"] },
    );
    expect(action).toMatchObject({ owners: { peopleToNotify: ["ops@example.org"] } });
    expect(CONFIG_DEFAULTS.peopleToNotify).toEqual([]);
  });
});

describe("schedule-sync's environment", () => {
  it("refuses a malformed ALLOWED_RECIPIENT_DOMAINS instead of mailing anyone", async () => {
    const { readEnvironment } = await import("../../../functions/schedule-sync/handler.ts");
    const env = {
      MONITORS_TABLE: "t",
      SCHEDULE_GROUP_NAME: "g",
      TICKS_QUEUE_ARN: "arn:aws:sqs:us-east-1:123456789012:q.fifo",
      SCHEDULER_ROLE_ARN: "arn:aws:iam::123456789012:role/r",
      SCHEDULER_DLQ_ARN: "arn:aws:sqs:us-east-1:123456789012:dlq",
    };
    expect(
      readEnvironment({ ...env, ALLOWED_RECIPIENT_DOMAINS: "example.org" }).ALLOWED_RECIPIENT_DOMAINS,
    ).toBe("example.org");
    expect(() => readEnvironment({ ...env, ALLOWED_RECIPIENT_DOMAINS: "*.example.org" })).toThrow(
      /ALLOWED_RECIPIENT_DOMAINS allowed recipient domains must be domain names/,
    );
  });
});
