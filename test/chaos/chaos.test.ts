import { PutCommand } from "@aws-sdk/lib-dynamodb";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDocumentClient, DynamoMonitorStore } from "#adapters/dynamodb-store.ts";
import { SesNotifier } from "#adapters/ses-notifier.ts";
import type { NotificationType } from "#core/schemas.ts";
import { decide, type MachineState } from "#core/state-machine.ts";
import { type SesServer, startSes } from "#local/servers.ts";
import type { CheckDefinition } from "../../monitors/types.ts";
import { capturedEmails, freshTable, localDynamo, localSes, setAwsEnvironment } from "../support/aws.ts";
import { fifoRecord, lambdaContext, tickBody } from "../support/sqs-event.ts";
import { FaultInjector, type FaultPlan, random } from "./fault-injection.ts";

/**
 * Model-based chaos test (issue 5): the real orchestrator handler and adapters against DynamoDB
 * Local and aws-ses-v2-local, with ticks delivered 1-3 times, late duplicates, batches mixing many
 * monitors, concurrent double deliveries, and faults at every step boundary. The mail captured by
 * SES is compared with the pure state machine applied to each monitor's deduplicated ticks.
 *
 * Size: CHAOS_MONITORS (default 200) x CHAOS_TICKS (default 15); CHAOS_SEED replays a run.
 */
const MONITORS = Number(process.env.CHAOS_MONITORS ?? 200);
const TICKS = Number(process.env.CHAOS_TICKS ?? 15);
const SEED = Number(process.env.CHAOS_SEED ?? 20261121);
const CONCURRENCY = 4;
const START = Date.UTC(2026, 2, 1, 6, 0);
const STEP_MS = 5 * 60_000;

const PLAN: FaultPlan = {
  probability: {
    crashAfterRead: 0.02,
    crashAfterStateWrite: 0.03,
    crashAfterSesAccepted: 0.05,
    crashBeforeOutboxClear: 0.05,
    sesThrottled: 0.05,
    dynamoThrottled: 0.02,
  },
  outageStart: 0.01,
  outageLength: 8,
};

type Profile = "healthy" | "failing" | "flapping";
interface MonitorPlan {
  id: string;
  profile: Profile;
  requiredConsecutiveOks: number;
  reminderFrequencyMinutes: number;
  recipients: string[];
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
    return {
      id: `chaos-${String(index).padStart(4, "0")}`,
      profile,
      requiredConsecutiveOks: pick([1, 2, 3]),
      reminderFrequencyMinutes: pick([0, 10, 30]),
      recipients: rng() < 0.1 ? [] : [`owner-${index}@example.com`],
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

const SUBJECT_TYPE: Record<string, NotificationType> = {
  ALERT: "alert",
  REMINDER: "reminder",
  RECOVERED: "recovery",
};

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
    const monitors = planMonitors();
    const byId = new Map(monitors.map((monitor) => [monitor.id, monitor]));
    for (let start = 0; start < monitors.length; start += 25) {
      await Promise.all(monitors.slice(start, start + 25).map(putConfig));
    }

    const check: CheckDefinition = {
      name: "chaos",
      description: "outcome scripted per monitor and logical time",
      async run(ctx) {
        const index = Math.round((ctx.now.getTime() - START) / STEP_MS);
        const isOk = byId.get(ctx.monitorId)?.outcomes[index];
        if (isOk === undefined)
          throw new Error(`no scripted outcome for ${ctx.monitorId} at ${ctx.now.toISOString()}`);
        return { isOk, message: isOk ? "healthy" : `failing at tick ${index}` };
      },
    };

    const faults = new FaultInjector(PLAN, rng);
    // Lease expiry and SQS visibility are wall-clock matters: a fake clock that moves on between
    // redeliveries, as the visibility timeout would, keeps the run fast and deterministic.
    let wallNow = START + TICKS * STEP_MS;
    const { createOrchestratorHandler } = await import("../../functions/orchestrator/handler.ts");
    const store = faults.store(new DynamoMonitorStore(tableName, createDocumentClient(localDynamo().client)));
    const notifier = faults.notifier(new SesNotifier("watchkeeper@example.com", localSes(ses.endpoint)));
    const handler = createOrchestratorHandler({
      store,
      notifier,
      findCheck: (name) => (name === "chaos" ? check : undefined),
      wallClock: () => new Date(wallNow),
    });

    const pending = new Map(monitors.map((monitor) => [monitor.id, deliveries(monitor)]));
    const stats = { deliveries: 0, invocations: 0, batches: 0, retried: 0, concurrentDoubles: 0, rounds: 0 };
    const invoke = (event: SQSEvent) => {
      stats.invocations++;
      return faults.invocation(() => handler(event, lambdaContext()));
    };

    while ([...pending.values()].some((queue) => queue.length > 0)) {
      stats.rounds++;
      // One round: the head of each monitor's queue (sometimes two, in order), shuffled across
      // monitors into Lambda-sized batches.
      const taken: Array<{ record: SQSRecord; delivery: Delivery }> = [];
      for (const [monitorId, queue] of pending) {
        const count = Math.min(queue.length, rng() < 0.2 ? 2 : 1);
        for (const delivery of queue.splice(0, count)) {
          taken.push({ delivery, record: fifoRecord(delivery.body, monitorId) });
        }
      }
      const groups = new Map<string, typeof taken>();
      for (const entry of taken)
        groups.set(entry.delivery.monitorId, [...(groups.get(entry.delivery.monitorId) ?? []), entry]);
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
      // Failed messages come back first, in order, after the visibility timeout.
      for (const entry of [...taken].reverse()) {
        if (!failed.has(entry.record.messageId)) continue;
        stats.retried++;
        pending.get(entry.delivery.monitorId)?.unshift(entry.delivery);
      }
      wallNow += 2 * 60_000;
      if (stats.rounds > TICKS * 40) throw new Error("chaos run does not converge");
    }

    // Drain: with faults off, one more delivery of each monitor's last tick (a duplicate) flushes
    // any notification an SES outage left in an outbox.
    faults.enabled = false;
    wallNow += 10 * 60_000;
    for (let start = 0; start < monitors.length; start += 10) {
      const batch = monitors.slice(start, start + 10);
      const response = await invoke({
        Records: batch.map((monitor) => fifoRecord(tickBody(monitor.id, tickTime(TICKS - 1)), monitor.id)),
      });
      expect(response.batchItemFailures).toEqual([]);
    }

    // Compare the captured mail with the model.
    const mails = await capturedEmails(ses.endpoint);
    const delivered = new Map<string, number>();
    for (const mail of mails) {
      const key = notificationKey(mail.body.text ?? "", mail.subject);
      delivered.set(key, (delivered.get(key) ?? 0) + 1);
    }
    const expected = new Set<string>();
    const stateMismatches: string[] = [];
    for (const monitor of monitors) {
      const reference = model(monitor);
      for (const notification of reference.notifications) {
        expected.add(`${monitor.id}|${notification.tickTime}|${notification.type}`);
      }
      const stored = (await store.load(monitor.id)).state;
      const actual = {
        state: stored?.state,
        consecutiveOkCount: stored?.consecutiveOkCount,
        lastNotificationType: stored?.lastNotificationType,
        lastTickTime: stored?.lastTickTime,
        outbox: stored?.outbox?.id,
      };
      const wanted = {
        state: reference.final?.state,
        consecutiveOkCount: reference.final?.consecutiveOkCount,
        lastNotificationType: reference.final?.lastNotificationType,
        lastTickTime: tickTime(TICKS - 1),
        outbox: undefined,
      };
      if (JSON.stringify(actual) !== JSON.stringify(wanted)) {
        stateMismatches.push(`${monitor.id}: ${JSON.stringify(actual)} != ${JSON.stringify(wanted)}`);
      }
    }
    const lost = [...expected].filter((key) => !delivered.has(key));
    const unexpected = [...delivered.keys()].filter((key) => !expected.has(key));
    const duplicates = [...delivered.values()].reduce((sum, count) => sum + (count - 1), 0);
    // Mails caught by a crash between SES accepting them and their outbox clear: the injected
    // crashes at those two boundaries, plus mails of other monitors in flight in the same
    // invocation when it died (a batch runs its monitors in parallel).
    const duplicateBudget = faults.duplicatingCrashes.length;
    // Each duplicate must be explained by a crash between SES accepting that very mail and its
    // outbox clear, at most one duplicate per such crash.
    const crashesPerKey = new Map<string, number>();
    for (const crash of faults.duplicatingCrashes) {
      const key = crash.key ?? notificationKey(crash.text ?? "", "");
      crashesPerKey.set(key, (crashesPerKey.get(key) ?? 0) + 1);
    }
    const unexplainedDuplicates = [...delivered.entries()]
      .filter(([key, count]) => count - 1 > (crashesPerKey.get(key) ?? 0))
      .map(([key, count]) => `${key} x${count}`);

    const ticks = MONITORS * TICKS;
    const figures = {
      seed: SEED,
      monitors: MONITORS,
      ticks,
      deliveries: stats.deliveries,
      invocations: stats.invocations,
      concurrentDoubleDeliveries: stats.concurrentDoubles,
      redeliveredAfterFailure: stats.retried,
      faultsInjected: faults.injected,
      notificationsExpected: expected.size,
      notificationsDelivered: mails.length,
      lost: lost.length,
      duplicated: duplicates,
      duplicateBudget,
      unexplainedDuplicates: unexplainedDuplicates.length,
      unexpected: unexpected.length,
      finalStateMismatches: stateMismatches.length,
    };
    console.info(`chaos figures\n${JSON.stringify(figures, null, 2)}`);
    if (process.env.CHAOS_DEBUG) {
      const suspects = new Set([...lost, ...unexpected].map((key) => key.split("|")[0]));
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
        console.info(
          JSON.stringify(
            {
              monitor,
              model: model(monitor as MonitorPlan),
              mails: [...delivered.keys()].filter((key) => key.startsWith(monitorId ?? "")),
              items: Items,
            },
            null,
            1,
          ),
        );
      }
    }

    expect(stats.deliveries).toBeGreaterThan(ticks);
    expect(Object.values(faults.injected).every((count) => count > 0)).toBe(true);
    expect(lost).toEqual([]);
    expect(unexpected).toEqual([]);
    expect(duplicates).toBeLessThanOrEqual(duplicateBudget);
    expect(unexplainedDuplicates).toEqual([]);
    expect(stateMismatches).toEqual([]);
  });
});

/** "<monitorId>|<tickTime>|<type>" of a rendered mail (the type from the subject, else the body). */
function notificationKey(text: string, subject: string): string {
  const id = /\((chaos-\d{4})\)/.exec(text)?.[1];
  const time = /Time \(UTC\): (\S+)/.exec(text)?.[1];
  const word = /^\[Monitor (\w+)\]/.exec(subject)?.[1] ?? /Notification: (\w+)/.exec(text)?.[1] ?? "";
  const type = SUBJECT_TYPE[word] ?? (word.toLowerCase() as NotificationType);
  return `${id}|${time}|${type}`;
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
        skipSupersededTicks: false,
        recordOnlyChanges: !process.env.CHAOS_DEBUG,
      },
    }),
  );
}
