import { beforeEach, describe, expect, it } from "vitest";
import type { LogAttributes, Logger } from "#core/ports.ts";
import { type TickOutcome, TickProcessor } from "#core/tick.ts";
import { HttpParamsSchema } from "#monitors/http.ts";
import type { CheckDefinition } from "../../../monitors/types.ts";
import { MemoryMonitorStore, MemorySecretSource, RecordingNotifier } from "../../support/memory-adapters.ts";

/** The tick use case with secret references, over an in-memory SecretSource. */

const ID = "partner-api";
const SM = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:partner-AbCdEf";
const SECRET = "tok-4f9a-very-secret";
const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 6, minute)).toISOString();
const tick = (minute: number) => JSON.stringify({ monitorId: ID, scheduledTime: at(minute) });

let store: MemoryMonitorStore;
let notifier: RecordingNotifier;
let source: MemorySecretSource;
let lines: string[];
let seen: Array<Record<string, unknown>>;

const recordingLogger: Logger = Object.fromEntries(
  ["debug", "info", "warn", "error"].map((level) => [
    level,
    (message: string, ...extra: LogAttributes[]) =>
      lines.push(
        JSON.stringify({ level, message, extra }, (_key, value) =>
          value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value,
        ),
      ),
  ]),
) as unknown as Logger;

/** Echoes its params everywhere a careless check could: message, thrown error, logs. */
const echo: CheckDefinition = {
  name: "echo",
  description: "echoes its params",
  paramsSchema: HttpParamsSchema,
  async run(ctx) {
    seen.push(ctx.params);
    const header = (ctx.params.headers as Record<string, string>).Authorization;
    ctx.logger.info(`sending ${header}`, { params: ctx.params, encoded: encodeURIComponent(header ?? "") });
    if (ctx.params.method === "HEAD") throw new Error(`server refused ${header}`);
    return { isOk: false, message: `got 401 for Authorization ${header} (${JSON.stringify(ctx.params)})` };
  },
};

function processor(withSource = true) {
  return new TickProcessor({
    store,
    notifier,
    findCheck: (name) => (name === "echo" ? echo : undefined),
    logger: recordingLogger,
    wallClock: () => new Date(at(0)),
    ...(withSource ? { secrets: source } : {}),
  });
}

function configure(params: Record<string, unknown>) {
  store.configs.set(ID, {
    monitorId: ID,
    record: "config",
    name: "Partner API",
    check: "echo",
    params,
    peopleToNotify: ["ops@example.com"],
    skipSupersededTicks: false,
  });
}

const applied = (outcome: TickOutcome) => {
  if (outcome.status !== "applied") throw new Error(`expected applied, got ${outcome.status}`);
  return outcome;
};

/** Everything the tick left behind: state, history, mails, logs, its outcome. */
const everything = (outcome: TickOutcome) =>
  JSON.stringify({ outcome, states: [...store.states], runs: store.runs, mails: notifier.sent, lines });

beforeEach(() => {
  store = new MemoryMonitorStore();
  notifier = new RecordingNotifier();
  source = new MemorySecretSource({ [SM]: JSON.stringify({ token: SECRET }) });
  lines = [];
  seen = [];
});

describe("secret references through a tick", () => {
  it("hands the check the resolved value, and masks it in the state, history, mail and logs", async () => {
    configure({ url: "https://api.example.org/x", headers: { Authorization: { secretRef: `${SM}#token` } } });
    const outcome = applied(await processor().process(tick(0)));
    expect(seen).toEqual([{ url: "https://api.example.org/x", headers: { Authorization: SECRET } }]);
    expect(outcome.check.message).toMatch(/^got 401 for Authorization \[secret\] \(/);
    expect(notifier.sent).toHaveLength(1);
    expect(notifier.sent[0]?.text).toContain("Authorization [secret]");
    expect(lines.join("\n")).toContain("sending [secret]");
    const all = everything(outcome);
    expect(all).not.toContain(SECRET);
    // The stored config still holds the reference only.
    expect(JSON.stringify(store.configs.get(ID))).toContain(`${SM}#token`);
  });

  it("masks the value in an error the check throws", async () => {
    configure({
      url: "https://api.example.org/x",
      method: "HEAD",
      headers: { Authorization: { secretRef: `${SM}#token` } },
    });
    const outcome = applied(await processor().process(tick(0)));
    expect(outcome.check.message).toBe('Check "echo" threw: Error: server refused [secret]');
    expect(everything(outcome)).not.toContain(SECRET);
  });

  it("accepts a reference where the schema wants a formatted string (a URL)", async () => {
    source.values.set(SM, JSON.stringify({ token: SECRET, url: "https://api.example.org/?key=abc" }));
    configure({ url: { secretRef: `${SM}#url` }, headers: { Authorization: { secretRef: `${SM}#token` } } });
    const outcome = applied(await processor().process(tick(0)));
    expect(seen[0]?.url).toBe("https://api.example.org/?key=abc");
    expect(outcome.check.message).not.toContain("Invalid monitor configuration");
    expect(everything(outcome)).not.toContain("key=abc");
    // One read for both keys of the secret, and (the check failed) one read past the cache to tell
    // a rotation from a real failure.
    expect(source.reads).toHaveLength(2);
  });

  it("fails the run, naming the reference, when the secret cannot be read", async () => {
    const missing = SM.replace("partner", "gone");
    configure({ url: "https://api.example.org/x", headers: { Authorization: { secretRef: missing } } });
    const first = applied(await processor().process(tick(0)));
    expect(seen).toEqual([]);
    expect(first.check).toMatchObject({
      isOk: false,
      message: `Check "echo" not run: secret ${missing} could not be read: no such secret in eu-west-1`,
    });
    expect(notifier.sent[0]?.text).toContain(missing);
    expect(store.runs[0]?.message).toBe(first.check.message);
  });

  it("fails the run with a clear reason when the orchestrator has no secret source", async () => {
    configure({ url: "https://api.example.org/x", headers: { Authorization: { secretRef: SM } } });
    const outcome = applied(await processor(false).process(tick(0)));
    expect(outcome.check.message).toBe(
      'Check "echo" not run: its params reference secrets, but this orchestrator has no secret source',
    );
    expect(seen).toEqual([]);
  });

  it("reports a malformed reference or a reference where no string can go as a params problem", async () => {
    configure({ url: "https://api.example.org/x", headers: { Authorization: { secretRef: "my-token" } } });
    const malformed = applied(await processor().process(tick(0)));
    expect(malformed.check.message).toMatch(
      /^Invalid monitor configuration: params do not fit check "echo": headers\.Authorization\.secretRef must be a Secrets Manager secret ARN/,
    );
    configure({ url: "https://api.example.org/x", maxLatencyMs: { secretRef: SM } });
    const mistyped = applied(await processor().process(tick(1)));
    expect(mistyped.check.message).toContain("maxLatencyMs must be a positive number of milliseconds");
    expect(seen).toEqual([]);
    expect(source.reads).toEqual([]);
  });
});

describe("a secret rotated while cached", () => {
  /** OK only with the current token: the old one is refused, as after a rotation. */
  const strict: CheckDefinition = {
    ...echo,
    name: "echo",
    async run(ctx) {
      seen.push(ctx.params);
      const header = (ctx.params.headers as Record<string, string>).Authorization;
      return header === "tok-new"
        ? { isOk: true, message: "200" }
        : { isOk: false, message: `401 for ${header}` };
    },
  };
  const rotating = () =>
    new TickProcessor({
      store,
      notifier,
      findCheck: (name) => (name === "echo" ? strict : undefined),
      logger: recordingLogger,
      wallClock: () => new Date(at(0)),
      secrets: source,
    });

  it("reads past the cache after a failure and runs again once: a rotation never alerts", async () => {
    source.values.set(SM, JSON.stringify({ token: "tok-old" }));
    configure({ url: "https://api.example.org/x", headers: { Authorization: { secretRef: `${SM}#token` } } });
    const ticks = rotating();
    // The old value is cached by a first run (it fails: the old token is already refused upstream).
    source.values.set(SM, JSON.stringify({ token: "tok-old" }));
    await ticks.process(tick(0));
    source.values.set(SM, JSON.stringify({ token: "tok-new" }));
    seen = [];
    const outcome = applied(await ticks.process(tick(1)));
    expect(outcome.check.isOk).toBe(true);
    expect(seen.map((params) => (params.headers as Record<string, string>).Authorization)).toEqual([
      "tok-old",
      "tok-new",
    ]);
    expect(JSON.stringify({ states: [...store.states], mails: notifier.sent, lines })).not.toMatch(
      /tok-(old|new)/,
    );
  });

  it("does not run again when the secret did not change (a real failure costs one extra read)", async () => {
    source.values.set(SM, JSON.stringify({ token: "tok-old" }));
    configure({ url: "https://api.example.org/x", headers: { Authorization: { secretRef: `${SM}#token` } } });
    const outcome = applied(await rotating().process(tick(0)));
    expect(outcome.check.isOk).toBe(false);
    expect(seen).toHaveLength(1);
    expect(source.reads).toHaveLength(2);
  });
});
