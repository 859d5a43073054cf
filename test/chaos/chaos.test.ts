import { PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoDbChannels } from "#adapters/dynamodb-channels.ts";
import { createDocumentClient, DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { SesNotifier } from "#adapters/ses-notifier.ts";
import type { NotificationType } from "#core/schemas.ts";
import { decide, type MachineState } from "#core/state-machine.ts";
import { DEFAULT_TICK_OPTIONS } from "#core/tick.ts";
import { type SesServer, startSes } from "#local/servers.ts";
import type { CheckDefinition } from "../../monitors/types.ts";
import { capturedEmails, freshTable, localDynamo, localSes, setAwsEnvironment } from "../support/aws.ts";
import { fifoRecord, lambdaContext, tickBody } from "../support/sqs-event.ts";
import { FaultInjector, type FaultPlan, mailKey, random } from "./fault-injection.ts";

/**
 * Model-based chaos test (issues 5 and 10): the real orchestrator handler and adapters against
 * DynamoDB Local and aws-ses-v2-local, with ticks delivered 1-3 times, late duplicates, batches
 * mixing many monitors, concurrent double deliveries, faults at every step boundary, a
 * delivery-retry queue whose sends fail at times, short SES outages and one of 30 minutes. The mail
 * captured by SES is compared with the pure state machine applied to each monitor's ticks.
 *
 * ALERTs and RECOVEREDs never depend on delivery timing, so they must match the model exactly for
 * every monitor. REMINDERs do (their clock starts at delivery, and none is due while a mail is
 * pending): they must match the model exactly for every monitor whose mail all went out on time,
 * and obey the reminder rule itself for the others.
 *
 * Channels (issue 15): half the monitors with recipients also name three channels (Slack, a signed
 * webhook, PagerDuty), each behind an in-process receiver with its own faults (transient failures,
 * its own outage window, refusals for the webhook, a process death right after it accepted). Per
 * channel, every notification must arrive exactly once (a resend only after such a death) or be
 * abandoned with a reason, in each monitor's decision order, whatever SES and the other channels do.
 *
 * Size: CHAOS_MONITORS (default 200) x CHAOS_TICKS (default 15); CHAOS_SEED replays a run: the
 * plan, the batches and every fault decision derive from it (faults from the seed, the invocation's
 * number and the monitor, so the interleaving of concurrent invocations does not change them).
 */
const MONITORS = Number(process.env.CHAOS_MONITORS ?? 200);
const TICKS = Number(process.env.CHAOS_TICKS ?? 15);
const SEED = Number(process.env.CHAOS_SEED ?? 20261129);
const CONCURRENCY = 4;
// In the future of the real clock: DynamoDB Local reaps items whose TTL (`expiresAt`) has passed,
// and the run reads its history and notification log back.
const START = Date.UTC(2036, 2, 1, 6, 0);
const STEP_MS = 5 * 60_000;
/** The harness's wall clock starts after the last tick and moves on by this much per round. */
const WALL_START = START + TICKS * STEP_MS;
const ROUND_MS = 2 * 60_000;

const PLAN: FaultPlan = {
  probability: {
    crashAfterRead: 0.02,
    crashAfterStateWrite: 0.03,
    crashAfterSesAccepted: 0.05,
    crashBeforeOutboxClear: 0.05,
    sesThrottled: 0.05,
    dynamoThrottled: 0.02,
    retryQueueFailed: 0.05,
    crashAfterChannelAccepted: 0.03,
  },
  outageStart: 0.01,
  outageLength: 8,
  // SES down for two short spells and for 30 minutes (15 rounds): at rate(1 minute), the ten
  // attempts the orchestrator used to allow would have abandoned every mail decided in it.
  outageWindows: [
    [WALL_START + 2 * ROUND_MS, WALL_START + 4 * ROUND_MS],
    [WALL_START + 6 * ROUND_MS, WALL_START + 6 * ROUND_MS + 30 * 60_000],
    [WALL_START + 25 * ROUND_MS, WALL_START + 27 * ROUND_MS],
  ],
  // Each channel fails on its own: Slack is down for 20 minutes while SES works, the webhook
  // refuses some messages outright, PagerDuty fails now and then.
  channels: {
    "chaos-slack": {
      failure: 0.08,
      refusal: 0,
      outageWindows: [[WALL_START + 12 * ROUND_MS, WALL_START + 22 * ROUND_MS]],
    },
    "chaos-hook": { failure: 0.05, refusal: 0.04 },
    "chaos-pager": { failure: 0.03, refusal: 0 },
  },
};
const CHANNELS = ["chaos-slack", "chaos-hook", "chaos-pager"] as const;

type Profile = "healthy" | "failing" | "flapping";
interface MonitorPlan {
  id: string;
  profile: Profile;
  requiredConsecutiveOks: number;
  reminderFrequencyMinutes: number;
  recipients: string[];
  /** The channels it names (all three, or none). */
  channels: string[];
  outcomes: boolean[];
}
interface Delivery {
  monitorId: string;
  tickIndex: number;
  body: string;
}

const rng = random(SEED);
const pick = <T>(values: readonly T[]): T => values[Math.floor(rng() * values.length)] as T;
const tickTime = (index: number) => new Date(START + index * STEP_MS).toISOString();

function planMonitors(): MonitorPlan[] {
  return Array.from({ length: MONITORS }, (_, index) => {
    const profile = pick<Profile>(["healthy", "failing", "flapping", "flapping"]);
    const outcomes = Array.from({ length: TICKS }, () =>
      profile === "healthy" ? rng() < 0.97 : profile === "failing" ? rng() < 0.1 : rng() < 0.5,
    );
    const recipients = rng() < 0.1 ? [] : [`owner-${index}@example.com`];
    return {
      id: `chaos-${String(index).padStart(4, "0")}`,
      profile,
      requiredConsecutiveOks: pick([1, 2, 3]),
      reminderFrequencyMinutes: pick([0, 10, 30]),
      recipients,
      channels: recipients.length > 0 && rng() < 0.5 ? [...CHANNELS] : [],
      outcomes,
    };
  });
}

/** The reference: the pure state machine over each monitor's ticks in time order. */
function model(monitor: MonitorPlan) {
  let state: MachineState | undefined;
  const notifications: Array<{ tickTime: string; type: NotificationType }> = [];
  monitor.outcomes.forEach((isOk, index) => {
    const decision = decide(state, isOk, tickTime(index), monitor);
    if (decision.notification && monitor.recipients.length > 0) {
      notifications.push({ tickTime: tickTime(index), type: decision.notification });
    }
    state = decision.next;
  });
  return { final: state, notifications };
}

/** Each tick 1-3 times; some copies arrive late, after newer ticks (out of order). */
function deliveries(monitor: MonitorPlan): Delivery[] {
  const queue: Delivery[] = [];
  const late: Array<{ at: number; delivery: Delivery }> = [];
  monitor.outcomes.forEach((_, index) => {
    for (const due of late.filter((entry) => entry.at === index)) queue.push(due.delivery);
    const delivery = { monitorId: monitor.id, tickIndex: index, body: tickBody(monitor.id, tickTime(index)) };
    queue.push(delivery);
    const copies = pick([0, 0, 1, 2]);
    for (let copy = 0; copy < copies; copy++) {
      if (rng() < 0.5) queue.push(delivery);
      else late.push({ at: index + 1 + Math.floor(rng() * 3), delivery });
    }
  });
  for (const entry of late.filter((e) => e.at >= monitor.outcomes.length)) queue.push(entry.delivery);
  return queue;
}

let ses: SesServer;
let tableName: string;
const { client: dynamoClient, doc } = localDynamo();

beforeAll(async () => {
  [ses, { tableName }] = await Promise.all([startSes(), freshTable("chaos")]);
  // The module-level Lambda wiring reads these at import; the test builds its own handlers below.
  setAwsEnvironment({ sesv2: ses.endpoint });
  process.env.MONITORS_TABLE = tableName;
  process.env.SENDER_EMAIL = "watchkeeper@example.com";
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
});

afterAll(async () => {
  await ses?.stop();
  dynamoClient.destroy();
});

describe("chaos: exactly-once mail under duplicates, crashes, outages and races", () => {
  it(`${MONITORS} monitors x ${TICKS} ticks (seed ${SEED})`, async () => {
    console.info(`chaos seed ${SEED} (replay with CHAOS_SEED=${SEED})`);
    const monitors = planMonitors();
    const byId = new Map(monitors.map((monitor) => [monitor.id, monitor]));
    for (let start = 0; start < monitors.length; start += 25) {
      await Promise.all(monitors.slice(start, start + 25).map(putConfig));
    }
    const directory = new DynamoDbChannels({ tableName, client: doc });
    const ref = { secretRef: "arn:aws:secretsmanager:us-east-1:123456789012:secret:chaos-AbCdEf" };
    await directory.put({ name: "chaos-slack", kind: "slack", webhookUrl: ref });
    await directory.put({
      name: "chaos-hook",
      kind: "webhook",
      url: "https://hooks.example.org/chaos",
      signingSecret: ref,
    });
    await directory.put({ name: "chaos-pager", kind: "pagerduty", routingKey: ref });

    let wallNow = WALL_START;
    const checkWall = new Map<string, number>();
    const check: CheckDefinition = {
      name: "chaos",
      description: "outcome scripted per monitor and logical time",
      async run(ctx) {
        const index = Math.round((ctx.now.getTime() - START) / STEP_MS);
        // When (by the harness's clock) this tick's check last ran: the decision persisted for it.
        checkWall.set(`${ctx.monitorId}|${index}`, wallNow);
        const isOk = byId.get(ctx.monitorId)?.outcomes[index];
        if (isOk === undefined)
          throw new Error(`no scripted outcome for ${ctx.monitorId} at ${ctx.now.toISOString()}`);
        return { isOk, message: isOk ? "healthy" : `failing at tick ${index}` };
      },
    };

    // Lease expiry, SQS visibility and retry delays are wall-clock matters: a fake clock that moves
    // on between rounds, as the queues' timers would, keeps the run fast and deterministic.
    const faults = new FaultInjector(PLAN, SEED, () => wallNow);
    // The delivery-retry queue (standard SQS with a per-message delay), held by the harness.
    const retryQueue: Array<{ monitorId: string; body: string; dueAt: number }> = [];
    const retries = faults.retries({
      scheduleRetry: async (monitorId, tickTime, delayMs, attempt) => {
        retryQueue.push({
          monitorId,
          body: tickBody(monitorId, tickTime, { reason: "deliver", attempt }),
          dueAt: wallNow + Math.min(900_000, delayMs),
        });
      },
    });
    const { createOrchestratorHandler } = await import("../../functions/orchestrator/handler.ts");
    const store = faults.store(new DynamoMonitorStore(tableName, createDocumentClient(localDynamo().client)));
    const notifier = faults.notifier(new SesNotifier("watchkeeper@example.com", localSes(ses.endpoint)));
    const handler = createOrchestratorHandler({
      store,
      notifier,
      retries,
      channels: { directory, sender: faults.channelSender() },
      findCheck: (name) => (name === "chaos" ? check : undefined),
      wallClock: () => new Date(wallNow),
    });

    const pending = new Map(monitors.map((monitor) => [monitor.id, deliveries(monitor)]));
    const stats = {
      deliveries: 0,
      invocations: 0,
      batches: 0,
      retried: 0,
      concurrentDoubles: 0,
      rounds: 0,
      deliverTicks: 0,
    };
    // Numbered in call order, which is synchronous and so replayable (see FaultInjector.invocation).
    const invoke = (event: SQSEvent) => {
      const number = ++stats.invocations;
      return faults.invocation(number, () => handler(event, lambdaContext()));
    };

    /** One round: batches of records, 4 invocations at a time; returns the records that failed. */
    async function runRound(taken: Array<{ record: SQSRecord; monitorId: string }>): Promise<Set<string>> {
      const groups = new Map<string, typeof taken>();
      for (const entry of taken) {
        const group = entry.record.attributes.MessageGroupId ?? entry.record.messageId;
        groups.set(group, [...(groups.get(group) ?? []), entry]);
      }
      // As in SQS FIFO, a message group is in flight in one batch at a time.
      const batches: (typeof taken)[] = [[]];
      for (const group of [...groups.values()].sort(() => rng() - 0.5)) {
        if ((batches.at(-1)?.length ?? 0) + group.length > 10) batches.push([]);
        batches.at(-1)?.push(...group);
      }
      const failed = new Set<string>();
      for (let start = 0; start < batches.length; start += CONCURRENCY) {
        await Promise.all(
          batches.slice(start, start + CONCURRENCY).map(async (batch) => {
            if (batch.length === 0) return;
            stats.batches++;
            stats.deliveries += batch.length;
            const event: SQSEvent = { Records: batch.map((entry) => entry.record) };
            // Sometimes the same batch reaches two handlers at once (a visibility timeout that
            // expired mid-flight): a message is done when either invocation succeeded with it.
            const double = rng() < 0.05;
            if (double) stats.concurrentDoubles++;
            const responses = await Promise.all(double ? [invoke(event), invoke(event)] : [invoke(event)]);
            for (const entry of batch) {
              const failedEverywhere = responses.every((response) =>
                response.batchItemFailures.some(
                  (failure) => failure.itemIdentifier === entry.record.messageId,
                ),
              );
              if (failedEverywhere) failed.add(entry.record.messageId);
            }
          }),
        );
      }
      return failed;
    }

    /** The deliver ticks due now, as the retry queue would hand them to the event source. */
    function dueRetries(): Array<{ record: SQSRecord; monitorId: string }> {
      const due = retryQueue.filter((entry) => entry.dueAt <= wallNow);
      for (const entry of due) retryQueue.splice(retryQueue.indexOf(entry), 1);
      stats.deliverTicks += due.length;
      return due.map((entry) => ({ monitorId: entry.monitorId, record: standardRecord(entry.body) }));
    }

    while ([...pending.values()].some((queue) => queue.length > 0) || retryQueue.length > 0) {
      stats.rounds++;
      // One round: the head of each monitor's queue (sometimes two, in order), and the retries due,
      // shuffled across monitors into Lambda-sized batches.
      const taken: Array<{ record: SQSRecord; monitorId: string; delivery?: Delivery }> = [];
      for (const [monitorId, queue] of pending) {
        const count = Math.min(queue.length, rng() < 0.2 ? 2 : 1);
        for (const delivery of queue.splice(0, count)) {
          taken.push({ delivery, monitorId, record: fifoRecord(delivery.body, monitorId) });
        }
      }
      const retryRecords = dueRetries();
      const failed = await runRound([...taken, ...retryRecords]);
      // Failed messages come back after the visibility timeout: ticks first and in order.
      for (const entry of [...taken].reverse()) {
        if (!failed.has(entry.record.messageId) || !entry.delivery) continue;
        stats.retried++;
        pending.get(entry.monitorId)?.unshift(entry.delivery);
      }
      for (const entry of retryRecords) {
        if (!failed.has(entry.record.messageId)) continue;
        stats.retried++;
        retryQueue.push({ monitorId: entry.monitorId, body: entry.record.body, dueAt: wallNow + ROUND_MS });
      }
      wallNow += ROUND_MS;
      if (stats.rounds > TICKS * 60) throw new Error(`chaos run does not converge (seed ${SEED})`);
    }

    // Drain: faults off (an outage in progress ends too). The queued retries come due and one more
    // delivery of each monitor's last tick (a duplicate) flushes what a crash left in an outbox.
    faults.enabled = false;
    for (let pass = 0; pass < 3; pass++) {
      wallNow += 20 * 60_000;
      const taken = monitors.map((monitor) => ({
        monitorId: monitor.id,
        record: fifoRecord(tickBody(monitor.id, tickTime(TICKS - 1)), monitor.id),
      }));
      const failed = await runRound([...taken, ...dueRetries()]);
      expect([...failed], `drain pass ${pass} failed messages (seed ${SEED})`).toEqual([]);
    }

    // Compare the captured mail with the model.
    const mails = await capturedEmails(ses.endpoint);
    const delivered = new Map<string, number>();
    const arrivals = new Map<string, string[]>(); // monitorId -> keys in arrival order
    for (const mail of mails) {
      const key = mailKey(mail.body.text ?? "", mail.subject);
      delivered.set(key, (delivered.get(key) ?? 0) + 1);
      const monitorId = key.split("|")[0] ?? "";
      arrivals.set(monitorId, [...(arrivals.get(monitorId) ?? []), key]);
    }
    const { receipts, runs } = await historyItems();
    const expected = new Set<string>();
    const stateMismatches: string[] = [];
    const reminderViolations: string[] = [];
    const firstMailNotAlert: string[] = [];
    const undrained: string[] = [];
    const incidentMismatches: string[] = [];
    let delayedMonitors = 0;
    const channelExpectations = new Map<string, { delayed: boolean; reference: ReturnType<typeof model> }>();
    for (const monitor of monitors) {
      const reference = model(monitor);
      const mine = receipts.get(monitor.id) ?? [];
      // Mail that went out late shifts the reminder clock: such a monitor's reminders are checked
      // against the reminder rule instead of the on-time model.
      const delayed = mine.some((receipt) => (receipt.delayMs ?? 0) > 0 || receipt.outcome !== "delivered");
      channelExpectations.set(monitor.id, { delayed, reference });
      if (delayed) delayedMonitors++;
      for (const notification of reference.notifications) {
        if (delayed && notification.type === "reminder") continue;
        expected.add(`${monitor.id}|${notification.tickTime}|${notification.type}`);
      }
      if (delayed) {
        // Every reminder the orchestrator decided must reach people, and each decision (reminder
        // or not) must be the state machine's, given when earlier mail really reached people.
        for (const run of runs.get(monitor.id) ?? []) {
          if (run.notification === "reminder") expected.add(`${monitor.id}|${run.scheduledTime}|reminder`);
        }
        reminderViolations.push(
          ...replayReminders(monitor, firstDeliveries(mine), runs.get(monitor.id) ?? [], checkWall),
        );
      }
      firstMailNotAlert.push(
        ...checkIncidentsStartWithAlert(monitor, reference, arrivals.get(monitor.id) ?? []),
      );
      // A notification counts once it reached anyone: by mail, or by a channel (whose REMINDER may
      // have gone out while the mail's copy was later dropped as stale).
      const reached = new Set([
        ...[...delivered.keys()].filter((key) => key.startsWith(`${monitor.id}|`)),
        ...(receipts.get(monitor.id) ?? [])
          .filter((receipt) => receipt.target?.startsWith("channel:") && receipt.outcome === "delivered")
          .map((receipt) => `${monitor.id}|${receipt.tickTime}|${receipt.type}`),
      ]);
      // ...except a mail sent just before a crash and, on its re-drive, dropped as a stale
      // REMINDER: it arrived, and its record (rightly, for what is known then) says dropped.
      const crashed = new Set(faults.duplicatingCrashes.map((crash) => crash.key));
      const uncounted = [...reached].filter(
        (key) =>
          crashed.has(key) &&
          !mine.some(
            (receipt) =>
              `${monitor.id}|${receipt.tickTime}|${receipt.type}` === key && receipt.outcome === "delivered",
          ),
      );
      incidentMismatches.push(...(await checkIncidentRecords(monitor, reached, uncounted.length)));
      const stored = (await store.load(monitor.id)).state;
      if (stored?.outbox || stored?.outboxQueue) undrained.push(monitor.id);
      // Write on change: a monitor that ends healthy and quiet need not have written its last
      // ticks, but its last write is less than a heartbeat before the last tick.
      const lastTick = Date.parse(tickTime(TICKS - 1));
      const written = Date.parse(stored?.lastTickTime ?? "");
      const quietEnd =
        reference.final?.state === "ok" &&
        monitor.outcomes[TICKS - 1] === true &&
        written > lastTick - DEFAULT_TICK_OPTIONS.stateHeartbeatMs &&
        written <= lastTick;
      const actual = {
        state: stored?.state,
        consecutiveOkCount: stored?.consecutiveOkCount,
        lastTickTime: quietEnd ? tickTime(TICKS - 1) : stored?.lastTickTime,
        ...(delayed ? {} : { lastNotificationType: stored?.lastNotificationType }),
      };
      const wanted = {
        state: reference.final?.state,
        consecutiveOkCount: reference.final?.consecutiveOkCount,
        lastTickTime: tickTime(TICKS - 1),
        ...(delayed ? {} : { lastNotificationType: reference.final?.lastNotificationType }),
      };
      if (JSON.stringify(actual) !== JSON.stringify(wanted)) {
        stateMismatches.push(`${monitor.id}: ${JSON.stringify(actual)} != ${JSON.stringify(wanted)}`);
      }
    }
    // Email is never refused here: nothing may be abandoned for it (channels are checked below),
    // and the only mail dropped is a REMINDER whose incident ended first (checked below too).
    const abandoned = [...receipts.values()]
      .flat()
      .filter(
        (receipt) =>
          !receipt.target?.startsWith("channel:") &&
          receipt.outcome !== "delivered" &&
          !(
            receipt.outcome === "dropped" &&
            receipt.type === "reminder" &&
            receipt.error?.includes("incident ended")
          ),
      );
    const channelFigures = checkChannels(monitors, channelExpectations, receipts, runs, faults);
    // A REMINDER still pending when its incident ended is dropped on the record (the RECOVERED
    // behind it says where things stand): not lost, provided that RECOVERED reached people.
    const staleReminders = new Set(
      [...receipts.entries()].flatMap(([monitorId, mine]) =>
        mine
          .filter(
            (receipt) =>
              !receipt.target?.startsWith("channel:") &&
              receipt.type === "reminder" &&
              receipt.outcome === "dropped" &&
              receipt.error?.includes("incident ended"),
          )
          .map((receipt) => `${monitorId}|${receipt.tickTime}|reminder`),
      ),
    );
    const lost = [...expected].filter((key) => !delivered.has(key) && !staleReminders.has(key));
    const staleWithoutRecovery = [...staleReminders].filter((key) => {
      const [monitorId, tick] = key.split("|");
      return ![...delivered.keys()].some((other) => {
        const [otherId, otherTick, type] = other.split("|");
        return otherId === monitorId && type === "recovery" && (otherTick ?? "") > (tick ?? "");
      });
    });
    const unexpected = [...delivered.keys()].filter((key) => !expected.has(key));
    const duplicates = [...delivered.values()].reduce((sum, count) => sum + (count - 1), 0);
    // Each duplicate must be explained by a crash between SES accepting that very mail and its
    // outbox clear, at most one duplicate per such crash.
    const crashesPerKey = new Map<string, number>();
    for (const crash of faults.duplicatingCrashes) {
      const key = crash.key;
      crashesPerKey.set(key, (crashesPerKey.get(key) ?? 0) + 1);
    }
    const unexplainedDuplicates = [...delivered.entries()]
      .filter(([key, count]) => count - 1 > (crashesPerKey.get(key) ?? 0))
      .map(([key, count]) => `${key} x${count}`);
    const delays = [...receipts.values()]
      .flat()
      .map((receipt) => receipt.delayMs ?? 0)
      .filter((delay) => delay > 0);

    const ticks = MONITORS * TICKS;
    const figures = {
      seed: SEED,
      monitors: MONITORS,
      ticks,
      deliveries: stats.deliveries,
      deliverTicks: stats.deliverTicks,
      invocations: stats.invocations,
      rounds: stats.rounds,
      concurrentDoubleDeliveries: stats.concurrentDoubles,
      redeliveredAfterFailure: stats.retried,
      faultsInjected: faults.injected,
      notificationsExpected: expected.size,
      notificationsDelivered: mails.length,
      deliveredLate: delays.length,
      longestDelayMinutes: Math.round(Math.max(0, ...delays) / 60_000),
      monitorsWithLateMail: delayedMonitors,
      lost: lost.length,
      abandoned: abandoned.length,
      duplicated: duplicates,
      duplicateBudget: faults.duplicatingCrashes.length,
      unexplainedDuplicates: unexplainedDuplicates.length,
      unexpected: unexpected.length,
      reminderRuleViolations: reminderViolations.length,
      incidentsNotStartingWithAlert: firstMailNotAlert.length,
      drainDidNotFlush: undrained.length,
      finalStateMismatches: stateMismatches.length,
      incidentRecordMismatches: incidentMismatches.length,
      channels: Object.fromEntries(
        Object.entries(channelFigures).map(([name, figures]) => [
          name,
          {
            expected: figures.expected,
            delivered: figures.delivered,
            abandonedWithReason: figures.abandoned,
            receivedThenAbandoned: figures.receivedThenAbandoned,
            lost: figures.lost.length,
            duplicated: figures.duplicated,
            unexplainedDuplicates: figures.unexplainedDuplicates.length,
            unexpected: figures.unexpected.length,
            outOfOrder: figures.outOfOrder.length,
          },
        ]),
      ),
    };
    console.info(`chaos figures\n${JSON.stringify(figures, null, 2)}`);
    const findings = {
      unexplainedDuplicates,
      reminderViolations,
      firstMailNotAlert,
      lost,
      unexpected,
      undrained,
      incidentMismatches,
    };
    for (const [name, list] of Object.entries(findings)) {
      if (list.length > 0) console.info(`${name}: ${list.slice(0, 20).join("\n  ")}`);
    }
    if (process.env.CHAOS_DEBUG) {
      const suspects = new Set(
        [...lost, ...unexpected, ...unexplainedDuplicates].slice(0, 3).map((key) => key.split("|")[0]),
      );
      for (const monitorId of suspects) {
        const monitor = byId.get(monitorId ?? "");
        const { QueryCommand } = await import("@aws-sdk/lib-dynamodb");
        const { Items = [] } = await doc.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: "monitorId = :id",
            ExpressionAttributeValues: { ":id": monitorId },
          }),
        );
        const ownerKey = `owner-${Number(monitorId?.slice(6))}@example.com`;
        console.info(
          `trace ${monitorId}\n${faults.trace.filter((line) => line.includes(monitorId ?? "?") || line.includes(ownerKey)).join("\n")}`,
        );
        console.info(
          JSON.stringify(
            {
              monitor,
              model: model(monitor as MonitorPlan),
              mails: arrivals.get(monitorId ?? ""),
              items: Items,
            },
            null,
            1,
          ),
        );
      }
    }

    const context = `seed ${SEED}`;
    expect(stats.deliveries).toBeGreaterThan(ticks);
    expect(
      Object.entries(faults.injected).filter(([, count]) => count === 0),
      context,
    ).toEqual([]);
    // The long outage really delayed mail past what ten attempts used to allow, and none was dropped.
    expect(figures.longestDelayMinutes, context).toBeGreaterThanOrEqual(30);
    expect(undrained, `drain did not flush (${context})`).toEqual([]);
    expect(abandoned, context).toEqual([]);
    expect(lost, `lost (${context})`).toEqual([]);
    expect(staleWithoutRecovery, `stale REMINDERs dropped with no RECOVERED after (${context})`).toEqual([]);
    expect(unexpected, context).toEqual([]);
    expect(duplicates, context).toBeLessThanOrEqual(faults.duplicatingCrashes.length);
    expect(unexplainedDuplicates, context).toEqual([]);
    expect(reminderViolations, context).toEqual([]);
    expect(firstMailNotAlert, context).toEqual([]);
    expect(stateMismatches, context).toEqual([]);
    expect(incidentMismatches, context).toEqual([]);
    for (const [name, figures] of Object.entries(channelFigures)) {
      const where = `${name} (${context})`;
      expect(figures.delivered, where).toBeGreaterThan(0);
      expect(figures.lost, `lost on ${where}`).toEqual([]);
      expect(figures.unexplainedDuplicates, `duplicated on ${where}`).toEqual([]);
      expect(figures.unexpected, `unexpected on ${where}`).toEqual([]);
      expect(figures.outOfOrder, `out of order on ${where}`).toEqual([]);
      expect(figures.unexplainedAbandoned, `received and abandoned on ${where}`).toEqual([]);
    }
    // The webhook's refusals were abandoned for it alone, on the record.
    expect(channelFigures["chaos-hook"]?.abandoned, context).toBeGreaterThan(0);
  });
});

/**
 * Per channel: what it should have received (the model's ALERTs and RECOVEREDs, and its REMINDERs,
 * or for a monitor with late mail the REMINDERs the orchestrator decided; none for PagerDuty),
 * against what its receiver accepted and the notification# items abandoned for it.
 */
function checkChannels(
  monitors: MonitorPlan[],
  expectations: Map<string, { delayed: boolean; reference: ReturnType<typeof model> }>,
  receipts: Map<string, Receipt[]>,
  runs: Map<string, RunItem[]>,
  faults: FaultInjector,
) {
  const crashes = new Map<string, number>();
  for (const { key } of faults.duplicatingCrashes) crashes.set(key, (crashes.get(key) ?? 0) + 1);
  return Object.fromEntries(
    CHANNELS.map((name) => {
      const arrivals = faults.channelDeliveries.get(name) ?? [];
      const counts = new Map<string, number>();
      for (const key of arrivals) counts.set(key, (counts.get(key) ?? 0) + 1);
      const expected = new Set<string>();
      const abandoned = new Set<string>();
      for (const monitor of monitors.filter((candidate) => candidate.channels.includes(name))) {
        const { delayed, reference } = expectations.get(monitor.id) as {
          delayed: boolean;
          reference: ReturnType<typeof model>;
        };
        for (const notification of reference.notifications) {
          if (notification.type === "reminder" && (delayed || name === "chaos-pager")) continue;
          expected.add(`${monitor.id}|${notification.tickTime}|${notification.type}`);
        }
        if (delayed && name !== "chaos-pager") {
          for (const run of runs.get(monitor.id) ?? []) {
            if (run.notification === "reminder") expected.add(`${monitor.id}|${run.scheduledTime}|reminder`);
          }
        }
        for (const receipt of receipts.get(monitor.id) ?? []) {
          if (receipt.target === `channel:${name}` && receipt.outcome === "abandoned" && receipt.error) {
            abandoned.add(`${monitor.id}|${receipt.tickTime}|${receipt.type}`);
          }
          // A REMINDER still waiting when its incident ended is dropped on the record: not lost.
          if (
            receipt.target === `channel:${name}` &&
            receipt.type === "reminder" &&
            receipt.outcome === "dropped" &&
            receipt.error?.includes("incident ended")
          ) {
            abandoned.add(`${monitor.id}|${receipt.tickTime}|${receipt.type}`);
          }
        }
      }
      const lost = [...expected].filter((key) => !counts.has(key) && !abandoned.has(key));
      // Received and yet abandoned: only a resend after a death (the receiver took the first
      // copy, the process died before recording it) that the receiver then refused.
      const receivedThenAbandoned = [...abandoned].filter((key) => counts.has(key));
      const unexplainedAbandoned = receivedThenAbandoned.filter(
        (key) => !crashes.has(`channel:${name}|${key}`),
      );
      const unexpected = [...counts.keys()].filter((key) => !expected.has(key));
      const duplicated = [...counts.values()].reduce((sum, count) => sum + count - 1, 0);
      const unexplainedDuplicates = [...counts.entries()]
        .filter(([key, count]) => count - 1 > (crashes.get(`channel:${name}|${key}`) ?? 0))
        .map(([key, count]) => `${key} x${count}`);
      // Each monitor's messages arrive in decision order (a resend after a death comes right after).
      const outOfOrder: string[] = [];
      const lastTime = new Map<string, string>();
      for (const key of arrivals) {
        const [monitorId = "", time = ""] = key.split("|");
        const last = lastTime.get(monitorId) ?? "";
        if (time < last) outOfOrder.push(`${key} after ${last}`);
        else lastTime.set(monitorId, time);
      }
      return [
        name,
        {
          expected: expected.size,
          delivered: counts.size,
          abandoned: abandoned.size,
          receivedThenAbandoned: receivedThenAbandoned.length,
          unexplainedAbandoned,
          lost,
          duplicated,
          unexplainedDuplicates,
          unexpected,
          outOfOrder,
        },
      ];
    }),
  );
}

/**
 * One line per notification of a monitor, as the reminder gate sees it: pending until its first
 * delivery to any target (when the reminder clock starts, by that delivery's delay), or until its
 * last target settled when none got it.
 */
function firstDeliveries(receipts: Receipt[]): Receipt[] {
  const byNotification = new Map<string, Receipt[]>();
  for (const receipt of receipts) {
    const key = `${receipt.tickTime}|${receipt.type}`;
    byNotification.set(key, [...(byNotification.get(key) ?? []), receipt]);
  }
  return [...byNotification.values()].map((group) => {
    const delivered = group
      .filter((receipt) => receipt.outcome === "delivered")
      .sort((a, b) => a.deliveredAt.localeCompare(b.deliveredAt));
    return (
      delivered[0] ?? ([...group].sort((a, b) => b.deliveredAt.localeCompare(a.deliveredAt))[0] as Receipt)
    );
  });
}

interface Receipt {
  tickTime: string;
  type: NotificationType;
  outcome: string;
  /** `email:<address>` or `channel:<name>` (per-target delivery). */
  target?: string;
  error?: string;
  delayMs?: number;
  deliveredAt: string;
}

interface RunItem {
  scheduledTime: string;
  isOk: boolean;
  notification?: NotificationType;
  quietReason?: string;
}

/** Every notification# and run# item, per monitor, in logical order. */
async function historyItems(): Promise<{ receipts: Map<string, Receipt[]>; runs: Map<string, RunItem[]> }> {
  const { paginateScan } = await import("@aws-sdk/lib-dynamodb");
  const receipts = new Map<string, Receipt[]>();
  const runs = new Map<string, RunItem[]>();
  const pages = paginateScan(
    { client: doc },
    {
      TableName: tableName,
      FilterExpression: "begins_with(#record, :notification) OR begins_with(#record, :run)",
      ExpressionAttributeNames: { "#record": "record" },
      ExpressionAttributeValues: { ":notification": "notification#", ":run": "run#" },
    },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      const monitorId = String(item.monitorId);
      if (String(item.record).startsWith("run#")) {
        runs.set(monitorId, [...(runs.get(monitorId) ?? []), item as unknown as RunItem]);
      } else {
        receipts.set(monitorId, [...(receipts.get(monitorId) ?? []), item as unknown as Receipt]);
      }
    }
  }
  for (const list of receipts.values()) list.sort((a, b) => a.tickTime.localeCompare(b.tickTime));
  for (const list of runs.values()) list.sort((a, b) => a.scheduledTime.localeCompare(b.scheduledTime));
  return { receipts, runs };
}

/**
 * Replays a monitor whose mail went out late, tick by tick, and checks every decision the
 * orchestrator recorded on a failing tick against the state machine given what people had really
 * received by then: a notification counts as pending while its delivery (the receipt's wall time)
 * came after the tick's check ran, and a late one moves the reminder clock to its tick time plus
 * its delay. Where a delivery and the check fall in the same harness round (same wall time), both
 * readings are allowed. A missing run item, a reminder decided early, one withheld although due,
 * or "awaiting delivery" with nothing pending is a violation.
 */
function replayReminders(
  monitor: MonitorPlan,
  receipts: Receipt[],
  runs: RunItem[],
  checkWall: Map<string, number>,
): string[] {
  const violations: string[] = [];
  const runAt = new Map(runs.map((run) => [run.scheduledTime, run]));
  let state: MachineState | undefined;
  monitor.outcomes.forEach((isOk, index) => {
    const at = tickTime(index);
    if (isOk || state?.state !== "alert" || monitor.reminderFrequencyMinutes === 0) {
      state = decide(state, isOk, at, monitor).next;
      return;
    }
    const run = runAt.get(at);
    const wall = checkWall.get(`${monitor.id}|${index}`);
    if (!run || wall === undefined) {
      violations.push(`${monitor.id}: failing tick ${at} has no run record or check time`);
      return;
    }
    const decided = receipts.filter((receipt) => receipt.tickTime < at);
    const deliveredAt = (receipt: Receipt) => Date.parse(receipt.deliveredAt);
    const pendingReadings = new Set<boolean>();
    if (decided.some((receipt) => deliveredAt(receipt) > wall)) pendingReadings.add(true);
    else {
      pendingReadings.add(false);
      if (decided.some((receipt) => deliveredAt(receipt) === wall)) pendingReadings.add(true);
    }
    const latest = receipts.find(
      (receipt) =>
        receipt.tickTime === state?.lastNotificationDt && receipt.type === state?.lastNotificationType,
    );
    const clocks = new Set<string | undefined>([state.lastNotificationDt]);
    if (latest && (latest.delayMs ?? 0) > 0 && deliveredAt(latest) <= wall) {
      const moved = new Date(Date.parse(latest.tickTime) + (latest.delayMs ?? 0)).toISOString();
      if (deliveredAt(latest) < wall) clocks.clear();
      clocks.add(moved);
    }
    const readings = [...pendingReadings].flatMap((notificationPending) =>
      [...clocks].map((lastNotificationDt) =>
        decide({ ...state, lastNotificationDt, notificationPending } as MachineState, false, at, monitor),
      ),
    );
    const match = readings.find(
      (reading) =>
        (reading.notification ?? undefined) === run.notification &&
        (reading.notification !== null || reading.quietReason === run.quietReason),
    );
    if (!match) {
      violations.push(
        `${monitor.id}: at ${at} decided ${run.notification ?? run.quietReason}, the state machine allows ${readings.map((reading) => reading.notification ?? reading.quietReason).join(" or ")}`,
      );
      state = decide(state, false, at, monitor).next;
      return;
    }
    state = { ...match.next, lastNotificationDt: match.notification ? at : state.lastNotificationDt };
  });
  return violations;
}

/**
 * Incident items (issue 14) under the same faults: one per incident of the model, opened and
 * resolved at the model's ticks, and notifications counted exactly once each (at their outbox
 * clear, however often a crash made SES send them): the counts add up to the distinct
 * notifications that reached anyone, by mail or by a channel.
 */
async function checkIncidentRecords(
  monitor: MonitorPlan,
  reached: ReadonlySet<string>,
  uncounted = 0,
): Promise<string[]> {
  const { Items = [] } = await doc.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: "monitorId = :id AND begins_with(#record, :incident)",
      ExpressionAttributeNames: { "#record": "record" },
      ExpressionAttributeValues: { ":id": monitor.id, ":incident": "incident#" },
      ConsistentRead: true,
    }),
  );
  const wanted: Array<{ openedAt: string; resolvedAt?: string }> = [];
  let state: MachineState | undefined;
  monitor.outcomes.forEach((isOk, index) => {
    const decision = decide(state, isOk, tickTime(index), monitor);
    if (decision.notification === "alert") wanted.push({ openedAt: tickTime(index) });
    if (decision.notification === "recovery") {
      const open = wanted.at(-1);
      if (open) open.resolvedAt = tickTime(index);
    }
    state = decision.next;
  });
  const actual = Items.map((item) => ({
    openedAt: item.openedAt,
    ...(item.resolvedAt ? { resolvedAt: item.resolvedAt } : {}),
  }));
  const problems: string[] = [];
  if (JSON.stringify(actual) !== JSON.stringify(wanted)) {
    problems.push(`${monitor.id}: incidents ${JSON.stringify(actual)} != ${JSON.stringify(wanted)}`);
  }
  const counted = Items.reduce(
    (sum, item) =>
      sum + Number(item.alertsSent ?? 0) + Number(item.remindersSent ?? 0) + Number(item.recoveriesSent ?? 0),
    0,
  );
  const distinct = reached.size - uncounted;
  if (counted !== distinct) {
    problems.push(`${monitor.id}: incident items count ${counted} notifications sent, ${distinct} arrived`);
  }
  return problems;
}

/** Every incident's first mail to arrive is its ALERT, never a REMINDER or the RECOVERED. */
function checkIncidentsStartWithAlert(
  monitor: MonitorPlan,
  reference: ReturnType<typeof model>,
  arrivals: string[],
): string[] {
  const problems: string[] = [];
  const alerts = reference.notifications.filter((notification) => notification.type === "alert");
  for (const [index, alert] of alerts.entries()) {
    const until = alerts[index + 1]?.tickTime ?? "9999";
    const first = arrivals.find((key) => {
      const time = key.split("|")[1] ?? "";
      return time >= alert.tickTime && time < until;
    });
    if (first && !first.endsWith("|alert")) {
      problems.push(`${monitor.id}: incident of ${alert.tickTime} first mailed ${first}`);
    }
  }
  return problems;
}

/** A record from the (standard, not FIFO) delivery-retry queue. */
function standardRecord(body: string): SQSRecord {
  const record = fifoRecord(body, "unused");
  const {
    MessageGroupId: _group,
    MessageDeduplicationId: _dedup,
    SequenceNumber: _sequence,
    ...attributes
  } = record.attributes;
  return {
    ...record,
    attributes: attributes as SQSRecord["attributes"],
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:watchkeeper-delivery-retries",
  };
}

async function putConfig(monitor: MonitorPlan) {
  await doc.send(
    new PutCommand({
      TableName: tableName,
      Item: {
        monitorId: monitor.id,
        record: "config",
        name: `Chaos ${monitor.profile} ${monitor.id}`,
        check: "chaos",
        requiredConsecutiveOks: monitor.requiredConsecutiveOks,
        reminderFrequencyMinutes: monitor.reminderFrequencyMinutes,
        peopleToNotify: monitor.recipients,
        ...(monitor.channels.length > 0 ? { channels: monitor.channels } : {}),
        skipSupersededTicks: false,
        recordOnlyChanges: true,
      },
    }),
  );
}
