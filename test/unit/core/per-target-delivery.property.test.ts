import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TickProcessor } from "#core/tick.ts";
import {
  channelDefinition,
  MemoryChannelDirectory,
  MemoryMonitorStore,
  RecordingChannelSender,
  RecordingNotifier,
  RecordingRetries,
} from "../../support/memory-adapters.ts";

/**
 * Property (issue 15): with independent faults per target (transient failures, refusals) and
 * retries arriving late or more than once, every target receives every notification decided
 * exactly once, or has it abandoned or dropped with a reason on the record; and each target
 * receives its notifications in decision order, whatever the others do.
 */
const ID = "prop";
const MINUTE = 60_000;
const T0 = Date.parse("2026-05-01T00:00:00Z");
const at = (ms: number) => new Date(ms).toISOString();
const EMAILS = ["a@example.com", "b@example.com"];
const CHANNELS = ["slack", "hook", "teams"] as const;
const TARGETS = [
  ...EMAILS.map((address) => `email:${address}`),
  ...CHANNELS.map((name) => `channel:${name}`),
];

type Fate = "ok" | "fail" | "refuse";
const fate = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Fate>("ok") },
  { weight: 3, arbitrary: fc.constant<Fate>("fail") },
  { weight: 1, arbitrary: fc.constant<Fate>("refuse") },
);

const scenario = fc.record({
  outcomes: fc.array(fc.boolean(), { minLength: 2, maxLength: 16 }),
  requiredConsecutiveOks: fc.integer({ min: 1, max: 2 }),
  reminderFrequencyMinutes: fc.constantFrom(0, 10),
  /** Each target's fate per send, in order (then "ok" once the script ends). */
  scripts: fc.array(fc.array(fate, { maxLength: 12 }), {
    minLength: TARGETS.length,
    maxLength: TARGETS.length,
  }),
  /** Per tick: bring due retries before it (true) or let them wait (false); deliver the tick twice. */
  pace: fc.array(fc.record({ retries: fc.boolean(), twice: fc.boolean() }), { minLength: 16, maxLength: 16 }),
  maxQueuedNotifications: fc.integer({ min: 1, max: 4 }),
});

/** The tick a mail is about: "Checked at" / "Recovered at", else (an ALERT) "Failing since". */
const mailTime = (text: string) =>
  (/^(?:Checked|Recovered) at: .* · (\S+)$/m.exec(text) ?? /^Failing since: .* · (\S+)$/m.exec(text))?.[1];
const SUBJECT_TYPE: Record<string, string> = { ALERT: "alert", REMINDER: "reminder", RECOVERED: "recovery" };

async function run(input: typeof scenario extends fc.Arbitrary<infer T> ? T : never) {
  const store = new MemoryMonitorStore();
  const notifier = new RecordingNotifier();
  const sender = new RecordingChannelSender();
  const directory = new MemoryChannelDirectory([
    channelDefinition("slack", "slack"),
    channelDefinition("hook", "webhook"),
    channelDefinition("teams", "teams"),
  ]);
  const retries = new RecordingRetries();
  let wallNow = T0;
  const queue: Array<{ body: string; dueAt: number }> = [];
  retries.scheduleRetry = async (monitorId, tickTime, delayMs, attempt) => {
    queue.push({
      body: JSON.stringify({ monitorId, scheduledTime: tickTime, reason: "deliver", attempt }),
      dueAt: wallNow + delayMs,
    });
  };
  const sends = new Map<string, number>();
  let faults = true;
  const fateOf = (target: string): Fate => {
    const index = TARGETS.indexOf(target);
    const count = sends.get(target) ?? 0;
    sends.set(target, count + 1);
    return faults ? (input.scripts[index]?.[count] ?? "ok") : "ok";
  };
  sender.fault = (channel) => fateOf(`channel:${channel}`);
  const mails: Array<{ to: string; key: string }> = [];
  notifier.send = async (email) => {
    const to = email.to[0] as string;
    const verdict = fateOf(`email:${to}`);
    if (verdict === "refuse") {
      const { PermanentDeliveryError } = await import("#core/ports.ts");
      throw new PermanentDeliveryError("MessageRejected: Email address is not verified.");
    }
    if (verdict === "fail")
      throw Object.assign(new Error("Throttling"), { name: "TooManyRequestsException" });
    const type = SUBJECT_TYPE[/^\[Monitor (\w+)\]/.exec(email.subject)?.[1] ?? ""];
    mails.push({ to, key: `${type}@${mailTime(email.text)}` });
    return { messageId: `m-${mails.length}` };
  };
  let outcomeIndex = 0;
  const check = {
    name: "scripted",
    description: "scripted",
    async run(ctx: { now: Date }) {
      const index = Math.round((ctx.now.getTime() - T0) / (5 * MINUTE));
      const isOk = input.outcomes[index] ?? true;
      outcomeIndex++;
      return { isOk, message: isOk ? "fine" : `broken at ${index}` };
    },
  };
  store.configs.set(ID, {
    name: "Property",
    check: "scripted",
    peopleToNotify: EMAILS,
    channels: [...CHANNELS],
    requiredConsecutiveOks: input.requiredConsecutiveOks,
    reminderFrequencyMinutes: input.reminderFrequencyMinutes,
    skipSupersededTicks: false,
  });
  const processor = () =>
    new TickProcessor({
      store,
      notifier,
      retries,
      channels: { directory, sender },
      findCheck: () => check,
      wallClock: () => new Date(wallNow),
      random: () => 0.5,
      options: { deliveryBudgetMs: 40 * MINUTE, maxQueuedNotifications: input.maxQueuedNotifications },
    });
  const bringRetries = async () => {
    for (let round = 0; round < 50; round++) {
      const due = queue.filter((entry) => entry.dueAt <= wallNow);
      if (due.length === 0) return;
      for (const entry of due) queue.splice(queue.indexOf(entry), 1);
      for (const entry of due) await processor().process(entry.body);
    }
  };
  for (const [index] of input.outcomes.entries()) {
    wallNow = T0 + index * 5 * MINUTE;
    const pace = input.pace[index] ?? { retries: true, twice: false };
    if (pace.retries) await bringRetries();
    const body = JSON.stringify({ monitorId: ID, scheduledTime: at(wallNow) });
    await processor().process(body);
    if (pace.twice) await processor().process(body);
  }
  // Faults end; time passes; retries and a redelivery of the last tick flush what is left.
  faults = false;
  for (let pass = 0; pass < 30 && (store.states.get(ID)?.outbox || queue.length > 0); pass++) {
    wallNow += 10 * MINUTE;
    await bringRetries();
    await processor().process(
      JSON.stringify({ monitorId: ID, scheduledTime: at(T0 + (input.outcomes.length - 1) * 5 * MINUTE) }),
    );
  }
  return { store, sender, mails, outcomeIndex };
}

describe("per-target delivery, property", () => {
  it("each target gets each notification exactly once or abandons it with a reason, in decision order", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (input) => {
        const { store, sender, mails } = await run(input);
        expect(store.states.get(ID)?.outbox).toBeUndefined();
        const decided = store.runs
          .filter((entry) => entry.notification !== undefined)
          .map((entry) => `${entry.notification}@${entry.scheduledTime}`);
        for (const target of TARGETS) {
          const received = target.startsWith("email:")
            ? mails.filter((mail) => `email:${mail.to}` === target).map((mail) => mail.key)
            : sender.received(target.slice("channel:".length));
          const settled = store.receipts.filter((receipt) => receipt.target === target);
          for (const receipt of settled.filter((one) => one.outcome !== "delivered")) {
            expect(receipt.error, `${target} ${receipt.type}@${receipt.tickTime}`).toMatch(/\S/);
          }
          for (const key of decided) {
            const copies = received.filter((one) => one === key).length;
            const givenUp = settled.filter(
              (receipt) => receipt.outcome !== "delivered" && `${receipt.type}@${receipt.tickTime}` === key,
            ).length;
            expect(copies + givenUp, `${target} ${key}: received ${copies}, given up ${givenUp}`).toBe(1);
          }
          // Nothing that was not decided, and each target's own order is the decision order.
          expect(
            received.every((key) => decided.includes(key)),
            `${target} got ${received}`,
          ).toBe(true);
          expect(received, `${target} order`).toEqual(
            [...received].sort((a, b) => String(a.split("@")[1]).localeCompare(String(b.split("@")[1]))),
          );
        }
      }),
      { numRuns: 60, seed: 20261130 },
    );
  });
});
