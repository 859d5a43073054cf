import { beforeEach, describe, expect, it } from "vitest";
import { emailTarget } from "#core/delivery-targets.ts";
import type { MonitorState, Outbox } from "#core/schemas.ts";
import { type TickOutcome, TickProcessor } from "#core/tick.ts";
import type { CheckDefinition } from "../../../monitors/types.ts";
import {
  channelDefinition,
  FakeLinks,
  MemoryChannelDirectory,
  MemoryMonitorStore,
  RecordingChannelSender,
  RecordingNotifier,
  RecordingRetries,
  scriptedCheck,
} from "../../support/memory-adapters.ts";
import { loadOrchestratorModule } from "../../support/orchestrator-module.ts";

/**
 * Delivery per target (issues 14 and 15): one mail per recipient with its own ack link, each
 * channel on its own; a failing target never blocks, delays or duplicates another, keeps its own
 * order, has its own budget; refusals and broken channels abandon that target only, on the record.
 */
const ID = "orders-feed";
const MINUTE = 60_000;
const T0 = Date.parse("2026-03-01T12:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * MINUTE).toISOString();
const tick = (scheduledTime: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ monitorId: ID, scheduledTime, ...extra });

let store: MemoryMonitorStore;
let notifier: RecordingNotifier;
let retries: RecordingRetries;
/** The delivery-retry queue: when each retry is due by the wall clock of its sender. */
let queue: Array<{ tickTime: string; attempt: number; dueAt: number; taken?: boolean }>;
let directory: MemoryChannelDirectory;
let sender: RecordingChannelSender;
let links: FakeLinks;
let wallNow: number;
let checks: Map<string, CheckDefinition>;
let claims: number;

function processor(
  options: Record<string, unknown> = {},
  ports: { channels?: boolean; links?: boolean } = {},
) {
  return new TickProcessor({
    store,
    notifier,
    retries,
    findCheck: (name) => checks.get(name),
    wallClock: () => new Date(wallNow),
    newClaimId: () => `claim-${++claims}`,
    random: () => 0.5,
    ...(ports.channels === false ? {} : { channels: { directory, sender } }),
    ...(ports.links === false ? {} : { links }),
    options,
  });
}

function configure(outcomes: boolean[], config: Record<string, unknown> = {}) {
  checks.set("scripted", scriptedCheck(outcomes));
  store.configs.set(ID, {
    name: "Orders feed",
    check: "scripted",
    peopleToNotify: ["ops@example.com", "dev@example.com"],
    channels: ["ops-slack", "pager"],
    requiredConsecutiveOks: 1,
    reminderFrequencyMinutes: 10,
    skipSupersededTicks: false,
    ...config,
  });
}

async function scheduledTick(minute: number, options = {}) {
  wallNow = Math.max(wallNow, T0 + minute * MINUTE);
  return processor(options).process(tick(at(minute)));
}

/** Brings every queued retry that is due by `until` (wall clock), in order. */
async function retriesUntil(until: number) {
  while (true) {
    const due = queue
      .filter((retry) => retry.dueAt <= until && !retry.taken)
      .sort((a, b) => a.dueAt - b.dueAt)[0];
    if (!due) break;
    due.taken = true;
    wallNow = Math.max(wallNow, due.dueAt);
    await processor().process(
      JSON.stringify({ monitorId: ID, scheduledTime: due.tickTime, reason: "deliver", attempt: due.attempt }),
    );
  }
  wallNow = Math.max(wallNow, until);
}

const mails = (to: string) =>
  notifier.sent
    .filter((mail) => mail.to.includes(to))
    .map((mail) => mail.subject.replace(" Orders feed", ""));

beforeEach(() => {
  store = new MemoryMonitorStore();
  notifier = new RecordingNotifier();
  retries = new RecordingRetries();
  queue = [];
  const schedule = retries.scheduleRetry.bind(retries);
  retries.scheduleRetry = async (monitorId, tickTime, delayMs, attempt) => {
    await schedule(monitorId, tickTime, delayMs, attempt);
    queue.push({ tickTime, attempt, dueAt: wallNow + delayMs });
  };
  directory = new MemoryChannelDirectory([
    channelDefinition("ops-slack", "slack"),
    channelDefinition("pager", "pagerduty"),
  ]);
  sender = new RecordingChannelSender();
  links = new FakeLinks();
  checks = new Map();
  wallNow = T0;
  claims = 0;
});

describe("one message per target", () => {
  it("mails each recipient on its own, with its own ack link and the dashboard link; each channel gets the facts", async () => {
    configure([false]);
    const outcome = (await scheduledTick(0)) as Extract<TickOutcome, { status: "applied" }>;
    expect(notifier.sent.map((mail) => mail.to)).toEqual([["ops@example.com"], ["dev@example.com"]]);
    for (const mail of notifier.sent) {
      const recipient = encodeURIComponent(mail.to[0] as string);
      expect(mail.text).toContain(
        `Acknowledge: https://watchkeeper.example.org/ack?m=${ID}&i=${encodeURIComponent(at(0))}&r=${recipient}`,
      );
      expect(mail.text).toContain(`Dashboard: https://watchkeeper.example.org/monitors/${ID}`);
      expect(mail.html).toContain(`r=${recipient}`);
    }
    expect(sender.sent.map((one) => one.channel)).toEqual(["ops-slack", "pager"]);
    expect(sender.sent[0]?.message).toMatchObject({
      type: "alert",
      monitorId: ID,
      name: "Orders feed",
      message: "feed missing",
      tickTime: at(0),
      incident: at(0),
      subject: "[Monitor ALERT] Orders feed",
      links: {
        ack: `https://watchkeeper.example.org/ack?m=${ID}&i=${encodeURIComponent(at(0))}&r=channel%3Aops-slack`,
        dashboard: `https://watchkeeper.example.org/monitors/${ID}`,
      },
    });
    expect(outcome.delivery).toMatchObject({ delivered: true, recipients: 4 });
    // One log item per target, and the notification counted once on its incident.
    expect(store.receipts.map((receipt) => receipt.target)).toEqual([
      "email:ops@example.com",
      "email:dev@example.com",
      "channel:ops-slack",
      "channel:pager",
    ]);
    expect(store.incidents.get(`${ID}|${at(0)}`)).toMatchObject({ alertsSent: 1 });
    expect(store.states.get(ID)?.outbox).toBeUndefined();
    // Decision write + one settle: per-target delivery costs no extra write when all goes well.
    expect(store.states.get(ID)?.version).toBe(2);
  });

  it("without channel or link ports: email only, no links, as before channels existed", async () => {
    configure([false]);
    wallNow = T0;
    await processor({}, { channels: false, links: false }).process(tick(at(0)));
    expect(notifier.sent.map((mail) => mail.to)).toEqual([["ops@example.com"], ["dev@example.com"]]);
    expect(notifier.sent[0]?.text).not.toContain("Acknowledge:");
    expect(sender.sent).toEqual([]);
    expect(directory.reads).toBe(0);
  });

  it("reads the channel directory only when something is to be sent, never on a quiet tick", async () => {
    configure([true, true, true, false]);
    for (const minute of [0, 1, 2]) await scheduledTick(minute);
    expect(directory.reads).toBe(0);
    await scheduledTick(3);
    expect(directory.reads).toBe(1);
  });

  it("applies the stack's default channels to monitors naming none; `channels: []` opts out", async () => {
    configure([false], { channels: undefined });
    await scheduledTick(0, { defaultChannels: ["ops-slack"] });
    expect(sender.sent.map((one) => one.channel)).toEqual(["ops-slack"]);
    store = new MemoryMonitorStore();
    sender = new RecordingChannelSender();
    configure([false], { channels: [] });
    await scheduledTick(5, { defaultChannels: ["ops-slack"] });
    expect(sender.sent).toEqual([]);
  });

  it("sends the message without its ack link when links cannot be made", async () => {
    configure([false], { channels: [] });
    links.failing = true;
    await scheduledTick(0);
    expect(notifier.sent).toHaveLength(2);
    expect(notifier.sent[0]?.text).not.toContain("Acknowledge:");
  });
});

describe("independent targets", () => {
  it("a failing Slack neither blocks nor delays nor duplicates the mail or PagerDuty, and gets ALERT then RECOVERED once each", async () => {
    configure([false, true]);
    sender.failNext.set("ops-slack", 3);
    await scheduledTick(0);
    expect(mails("ops@example.com")).toEqual(["[Monitor ALERT]"]);
    expect(sender.received("pager")).toEqual([`alert@${at(0)}`]);
    expect(sender.received("ops-slack")).toEqual([]);
    // The RECOVERED reaches the healthy targets at once, while Slack still waits for its retry.
    await scheduledTick(5);
    expect(mails("ops@example.com")).toEqual(["[Monitor ALERT]", "[Monitor RECOVERED]"]);
    expect(mails("dev@example.com")).toEqual(["[Monitor ALERT]", "[Monitor RECOVERED]"]);
    expect(sender.received("pager")).toEqual([`alert@${at(0)}`, `recovery@${at(5)}`]);
    expect(sender.received("ops-slack")).toEqual([]);
    await retriesUntil(T0 + 30 * MINUTE);
    expect(sender.received("ops-slack")).toEqual([`alert@${at(0)}`, `recovery@${at(5)}`]);
    expect(notifier.sent).toHaveLength(4);
    expect(store.states.get(ID)?.outbox).toBeUndefined();
    // Counted once per notification on the incident, however many targets got it.
    expect(store.incidents.get(`${ID}|${at(0)}`)).toMatchObject({ alertsSent: 1, recoveriesSent: 1 });
  });

  it("a failing Slack does not hold back the REMINDERs of the others (the clock runs from the first delivery)", async () => {
    configure([false, false, false, false]);
    sender.failNext.set("ops-slack", 100);
    await scheduledTick(0);
    await scheduledTick(10);
    expect(mails("ops@example.com")).toEqual(["[Monitor ALERT]", "[Monitor REMINDER]"]);
    // Slack keeps its own order: nothing of the REMINDER before its ALERT.
    expect(sender.received("ops-slack")).toEqual([]);
    sender.failNext.set("ops-slack", 0);
    await retriesUntil(T0 + 20 * MINUTE);
    expect(sender.received("ops-slack")).toEqual([`alert@${at(0)}`, `reminder@${at(10)}`]);
  });

  it("a refused webhook is abandoned for that channel only: reason recorded, counted, alarmed", async () => {
    directory.channels.set("hook", channelDefinition("hook", "webhook"));
    configure([false], { channels: ["hook", "ops-slack"] });
    sender.refuse.add("hook");
    const outcome = (await scheduledTick(0)) as Extract<TickOutcome, { status: "applied" }>;
    expect(notifier.sent).toHaveLength(2);
    expect(sender.received("ops-slack")).toEqual([`alert@${at(0)}`]);
    expect(store.receipts.find((receipt) => receipt.target === "channel:hook")).toMatchObject({
      outcome: "abandoned",
      kind: "webhook",
      error: expect.stringContaining("410 Gone"),
    });
    expect(store.incidents.get(`${ID}|${at(0)}`)).toMatchObject({ alertsSent: 1, notificationsAbandoned: 1 });
    expect(store.states.get(ID)?.outbox).toBeUndefined();
    expect(retries.scheduled).toEqual([]);
    const counted: string[] = [];
    const { recordOutcomeMetrics } = await loadOrchestratorModule();
    recordOutcomeMetrics(outcome, { addMetric: (name: string) => void counted.push(name) } as never);
    expect(counted).toEqual(
      expect.arrayContaining([
        "ChannelDeliveryAbandoned",
        "ChannelDeliveryAbandoned_webhook",
        "NotificationSent_alert",
      ]),
    );
    expect(counted).not.toContain("NotificationAbandoned");
  });

  it("an unknown channel, an inactive one and one whose item does not parse: each on the record, the others go", async () => {
    directory.channels.set("paused", channelDefinition("paused", "slack", { isActive: false }));
    directory.problems.push({ name: "broken", message: "webhookUrl: must be a secret reference" });
    configure([false], { channels: ["ops-slack", "nosuch", "paused", "broken"] });
    await scheduledTick(0);
    expect(notifier.sent).toHaveLength(2);
    expect(sender.received("ops-slack")).toEqual([`alert@${at(0)}`]);
    const byTarget = Object.fromEntries(store.receipts.map((receipt) => [receipt.target, receipt]));
    expect(byTarget["channel:nosuch"]).toMatchObject({
      outcome: "abandoned",
      error: 'no channel is named "nosuch" (watchkeeper channel list)',
    });
    expect(byTarget["channel:paused"]).toMatchObject({
      outcome: "dropped",
      error: 'channel "paused" is inactive',
    });
    expect(byTarget["channel:broken"]).toMatchObject({
      outcome: "abandoned",
      error: 'channel "broken" cannot be read: webhookUrl: must be a secret reference',
    });
    expect(store.states.get(ID)?.outbox).toBeUndefined();
  });

  it("PagerDuty takes ALERT and RECOVERED only: its own escalation repeats the page", async () => {
    configure([false, false, true], { channels: ["pager"] });
    for (const minute of [0, 10, 15]) await scheduledTick(minute);
    expect(mails("ops@example.com")).toEqual([
      "[Monitor ALERT]",
      "[Monitor REMINDER]",
      "[Monitor RECOVERED]",
    ]);
    expect(sender.received("pager")).toEqual([`alert@${at(0)}`, `recovery@${at(15)}`]);
    expect(store.receipts.filter((receipt) => receipt.target === "channel:pager").map((r) => r.type)).toEqual(
      ["alert", "recovery"],
    );
  });

  it("each target has its own time budget: Slack is abandoned after 24 h, the mail went at once", async () => {
    configure([false], { channels: ["ops-slack"] });
    sender.failNext.set("ops-slack", 10_000);
    await scheduledTick(0);
    expect(notifier.sent).toHaveLength(2);
    await retriesUntil(T0 + 25 * 60 * MINUTE);
    const slack = store.receipts.filter((receipt) => receipt.target === "channel:ops-slack");
    expect(slack).toMatchObject([
      { outcome: "abandoned", error: expect.stringMatching(/retry budget 24 h/) },
    ]);
    expect(store.states.get(ID)?.outbox).toBeUndefined();
    expect(notifier.sent).toHaveLength(2);
  });

  it("a directory that cannot be read fails the channels for a retry, not the mail", async () => {
    configure([false], { channels: ["ops-slack"] });
    directory.failNext = 1;
    await scheduledTick(0);
    expect(notifier.sent).toHaveLength(2);
    expect(sender.sent).toEqual([]);
    await retriesUntil(T0 + 5 * MINUTE);
    expect(sender.received("ops-slack")).toEqual([`alert@${at(0)}`]);
  });
});

describe("acknowledged since", () => {
  it("drops a pending REMINDER of an acknowledged incident at send time, with the reason; RECOVERED still goes", async () => {
    configure([false, false, true], { channels: [] });
    await scheduledTick(0);
    notifier.failNext = 2; // the REMINDER cannot go out at first, to either recipient
    await scheduledTick(10);
    expect(store.states.get(ID)?.outbox?.type).toBe("reminder");
    // Someone acknowledges the incident while the REMINDER waits for its retry.
    const state = store.states.get(ID) as MonitorState;
    store.states.set(ID, {
      ...state,
      version: state.version + 1,
      ack: { by: "alice@example.com", at: new Date(wallNow).toISOString() },
    });
    await retriesUntil(T0 + 14 * MINUTE);
    expect(mails("ops@example.com")).toEqual(["[Monitor ALERT]"]);
    const dropped = store.receipts.filter((receipt) => receipt.type === "reminder");
    expect(dropped).toMatchObject([
      { outcome: "dropped", error: expect.stringContaining("acknowledged by alice@example.com") },
      { outcome: "dropped", error: expect.stringContaining("acknowledged by alice@example.com") },
    ]);
    await scheduledTick(15);
    expect(mails("ops@example.com")).toEqual(["[Monitor ALERT]", "[Monitor RECOVERED]"]);
  });
});

describe("stale and late-listed targets", () => {
  it("drops a REMINDER still waiting for a lagging channel once its incident has recovered", async () => {
    configure([false, false, true], { channels: ["ops-slack"] });
    await scheduledTick(0);
    sender.failNext.set("ops-slack", 100); // Slack goes down after the ALERT
    await scheduledTick(10);
    expect(mails("ops@example.com")).toEqual(["[Monitor ALERT]", "[Monitor REMINDER]"]);
    await scheduledTick(15); // recovers while Slack still holds the REMINDER
    sender.failNext.set("ops-slack", 0);
    await retriesUntil(T0 + 60 * MINUTE);
    // Slack gets the RECOVERED, not a "still failing" REMINDER after the fact.
    expect(sender.received("ops-slack")).toEqual([`alert@${at(0)}`, `recovery@${at(15)}`]);
    expect(
      store.receipts.find((receipt) => receipt.target === "channel:ops-slack" && receipt.type === "reminder"),
    ).toMatchObject({ outcome: "dropped", error: expect.stringContaining("incident ended") });
  });

  it("gives a person listed while a channel lags only the newest notification, not the backlog", async () => {
    configure([false, false, false, false, false, false, false, true], { channels: ["ops-slack"] });
    sender.failNext.set("ops-slack", 1000);
    for (const minute of [0, 10, 20, 30]) await scheduledTick(minute);
    expect(mails("ops@example.com")).toHaveLength(4);
    const config = store.configs.get(ID) as Record<string, unknown>;
    // Added while the ALERT and three REMINDERs still wait for Slack; `OPS@` is the same person.
    store.configs.set(ID, {
      ...config,
      peopleToNotify: ["OPS@example.com", "dev@example.com", "newcomer@example.com"],
    });
    await scheduledTick(40);
    // The newest of the backlog (minute 30's REMINDER) and the new one; not the ALERT or older ones.
    expect(mails("newcomer@example.com")).toEqual(["[Monitor REMINDER]", "[Monitor REMINDER]"]);
    expect(
      store.receipts
        .filter((receipt) => receipt.target === "email:newcomer@example.com" && receipt.outcome === "dropped")
        .map((receipt) => receipt.tickTime),
    ).toEqual([at(0), at(10), at(20)]);
    // Keyed case-insensitively: no second copy of the backlog, only the new REMINDER, as now written.
    expect(mails("OPS@example.com")).toEqual(["[Monitor REMINDER]"]);
    expect(mails("ops@example.com")).toHaveLength(4);
  });

  it("keeps the state item under DynamoDB's 400 KB through a long outage of one of 20 channels, with long messages and 50 recipients", async () => {
    const people = Array.from({ length: 50 }, (_, index) => `person${index}@example.com`);
    const channels = Array.from({ length: 20 }, (_, index) => `chan-${index}`);
    directory = new MemoryChannelDirectory(channels.map((name) => channelDefinition(name, "webhook")));
    const long = `Feed missing: ${"the partner's SFTP drop holds no file for today; ".repeat(80)}`.slice(
      0,
      4000,
    );
    checks.set("long", {
      name: "long",
      description: "fails with a 4,000-character message",
      run: async () => ({ isOk: false, message: long }),
    });
    store.configs.set(ID, {
      name: "Orders feed",
      check: "long",
      peopleToNotify: people,
      channels,
      reminderFrequencyMinutes: 10,
      skipSupersededTicks: false,
    });
    sender.fault = (channel) => (channel === "chan-0" ? "fail" : "ok");
    for (let minute = 0; minute <= 600; minute += 5) {
      const outcome = await scheduledTick(minute);
      expect(outcome.status, `minute ${minute}`).not.toBe("failed");
    }
    expect(store.largestStateBytes).toBeLessThan(400 * 1024);
    expect(store.states.get(ID)?.lastTickTime).toBe(at(600));
    // Every other target got every notification exactly once, in order.
    const expected = sender.received("chan-1");
    expect(expected).toHaveLength(61); // the ALERT and a REMINDER every 10 minutes for 10 hours
    expect(new Set(expected).size).toBe(expected.length);
    expect(sender.received("chan-19")).toEqual(expected);
    expect(mails("person49@example.com")).toHaveLength(61);
    // The lagging channel's overflow is on the record, with why.
    expect(
      store.receipts.filter(
        (receipt) => receipt.target === "channel:chan-0" && receipt.outcome === "abandoned",
      ),
    ).not.toHaveLength(0);
    expect(
      store.receipts.find((receipt) => receipt.target === "channel:chan-0" && receipt.outcome === "abandoned")
        ?.error,
    ).toMatch(/waiting for delivery/);
  });
});

describe("entries of the previous version", () => {
  it("are still delivered: the stored rendering, one mail per recipient, their retry chain kept", async () => {
    configure([false, false], { channels: ["ops-slack"] });
    const legacy: Outbox = {
      id: `${at(0)}#alert`,
      type: "alert",
      tickTime: at(0),
      recipients: ["ops@example.com"],
      subject: "[Monitor ALERT] Orders feed",
      text: "rendered by the previous version",
      html: "<p>rendered by the previous version</p>",
      createdAt: new Date(T0).toISOString(),
      attempts: 2,
      nextAttemptAt: T0 + 2 * MINUTE,
      lastError: "Service Unavailable",
    };
    store.states.set(ID, {
      state: "alert",
      consecutiveOkCount: 0,
      version: 7,
      lastTickTime: at(0),
      lastNotificationDt: at(0),
      lastNotificationType: "alert",
      outbox: legacy,
    });
    // Its deliver tick (queued by the previous version with attempt 2) brings it.
    wallNow = T0 + 2 * MINUTE;
    await processor().process(tick(at(0), { reason: "deliver", attempt: 2 }));
    expect(notifier.sent.map((mail) => [mail.to, mail.text.split("\n").at(-1)])).toEqual([
      [["ops@example.com"], "rendered by the previous version"],
      [["dev@example.com"], "rendered by the previous version"],
    ]);
    expect(notifier.sent[0]?.text).toMatch(/^Delayed: this ALERT was decided at/);
    // Email only: the previous version recorded no facts for a channel to render.
    expect(sender.sent).toEqual([]);
    expect(store.states.get(ID)?.outbox).toBeUndefined();
    expect(store.receipts.map((receipt) => receipt.target)).toEqual([
      emailTarget("ops@example.com"),
      emailTarget("dev@example.com"),
    ]);
  });

  it("a scheduled tick leaves a previous-version entry to its queued retry until that is overdue", async () => {
    configure([false, false], { channels: [] });
    store.states.set(ID, {
      state: "alert",
      consecutiveOkCount: 0,
      version: 7,
      lastTickTime: at(0),
      outbox: {
        id: `${at(0)}#alert`,
        type: "alert",
        tickTime: at(0),
        recipients: ["ops@example.com"],
        subject: "s",
        text: "t",
        html: "h",
        createdAt: new Date(T0).toISOString(),
        attempts: 1,
        nextAttemptAt: T0 + 2 * MINUTE,
      },
    });
    await scheduledTick(1);
    expect(notifier.sent).toEqual([]);
  });
});
