import type {
  DeliveryReceipt,
  Email,
  MonitorStore,
  Notifier,
  RunRecord,
  StoredMonitor,
} from "#core/ports.ts";
import { PermanentDeliveryError, StaleStateError } from "#core/ports.ts";
import type { MonitorState } from "#core/schemas.ts";
import type { CheckDefinition } from "../../monitors/types.ts";

/**
 * In-memory MonitorStore with the same conditional-write semantics as DynamoMonitorStore (version
 * check, +1 per write, outbox conditions), for fast unit tests of the tick use case. The real
 * adapter is covered against DynamoDB Local in test/integration.
 */
export class MemoryMonitorStore implements MonitorStore {
  readonly configs = new Map<string, Record<string, unknown>>();
  readonly states = new Map<string, MonitorState>();
  readonly runs: Array<RunRecord & { monitorId: string }> = [];
  readonly receipts: Array<DeliveryReceipt & { monitorId: string }> = [];
  writes = 0;

  async load(monitorId: string): Promise<StoredMonitor> {
    const state = this.states.get(monitorId);
    return { config: this.configs.get(monitorId), state: state ? structuredClone(state) : undefined };
  }

  async saveState(
    monitorId: string,
    state: MonitorState,
    expectedVersion: number | undefined,
    run?: RunRecord,
  ) {
    const current = this.states.get(monitorId);
    if (expectedVersion === undefined ? current !== undefined : current?.version !== expectedVersion) {
      throw new StaleStateError(`stale ${monitorId}`);
    }
    this.writes++;
    this.states.set(monitorId, structuredClone(state));
    if (run) this.runs.push({ ...run, monitorId });
  }

  async claimOutbox(monitorId: string, outboxId: string, expectedVersion: number, claimedUntil: number) {
    const current = this.states.get(monitorId);
    if (!current || current.version !== expectedVersion || current.outbox?.id !== outboxId) {
      throw new StaleStateError(`stale ${monitorId}`);
    }
    this.writes++;
    current.outbox.claimedUntil = claimedUntil;
    current.version++;
  }

  async completeOutbox(monitorId: string, outboxId: string, receipt: DeliveryReceipt) {
    const current = this.states.get(monitorId);
    if (current?.outbox?.id !== outboxId) return;
    this.writes++;
    delete current.outbox;
    current.version++;
    this.receipts.push({ ...receipt, monitorId });
  }

  async releaseOutbox(monitorId: string, outboxId: string, error: string) {
    const current = this.states.get(monitorId);
    if (current?.outbox?.id !== outboxId) return;
    this.writes++;
    delete current.outbox.claimedUntil;
    current.outbox.attempts++;
    current.outbox.lastError = error;
    current.version++;
  }
}

/** Records every email; can be told to fail the next N sends. */
export class RecordingNotifier implements Notifier {
  readonly sent: Email[] = [];
  failNext = 0;
  /** Refuse every message as SES does for an unverified sandbox recipient. */
  refuse = false;

  async send(email: Email) {
    if (this.refuse) {
      throw new PermanentDeliveryError(
        "SES refused the message: MessageRejected: Email address is not verified.",
      );
    }
    if (this.failNext > 0) {
      this.failNext--;
      throw Object.assign(new Error("Maximum sending rate exceeded."), { name: "TooManyRequestsException" });
    }
    this.sent.push(email);
    return { messageId: `msg-${this.sent.length}` };
  }
}

/** A check whose outcomes a test scripts tick by tick. */
export function scriptedCheck(outcomes: boolean[]): CheckDefinition & { calls: number } {
  const check = {
    name: "scripted",
    description: "test check",
    calls: 0,
    async run() {
      const isOk = outcomes[check.calls % outcomes.length] ?? true;
      check.calls++;
      return { isOk, message: isOk ? "all good" : "feed missing" };
    },
  };
  return check;
}
