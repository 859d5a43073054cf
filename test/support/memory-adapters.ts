import type { ChannelDefinition, ChannelDirectory, ChannelMessage, ChannelSender } from "#core/channels.ts";
import type { DirectoryEntry, MonitorDirectoryAdmin } from "#core/directory.ts";
import { applyIncidentUpdate, type IncidentFields } from "#core/incident.ts";
import type {
  DeliveryReceipt,
  DeliveryRetryPort,
  Email,
  MonitorStore,
  NotificationLinks,
  Notifier,
  RunRecord,
  RunSummary,
  SecretLocation,
  SecretSource,
  StateRecords,
  StoredMonitor,
} from "#core/ports.ts";
import { PermanentDeliveryError, SecretUnreadableError, StaleStateError } from "#core/ports.ts";
import type { MonitorState } from "#core/schemas.ts";
import type { CheckDefinition } from "../../monitors/types.ts";

/**
 * In-memory MonitorStore with the same conditional-write semantics as DynamoMonitorStore (every
 * write conditional on the version read), for fast unit tests of the tick use case. The real
 * adapter is covered against DynamoDB Local in test/integration.
 */
/** DynamoDB's item size limit. */
const DYNAMODB_ITEM_LIMIT_BYTES = 400 * 1024;

export class MemoryMonitorStore implements MonitorStore {
  readonly configs = new Map<string, Record<string, unknown>>();
  readonly states = new Map<string, MonitorState>();
  readonly runs: Array<RunRecord & { monitorId: string }> = [];
  readonly summaries: Array<RunSummary & { monitorId: string }> = [];
  readonly receipts: Array<DeliveryReceipt & { monitorId: string }> = [];
  /** Incident items by `<monitorId>|<start>`, updated as DynamoDB would. */
  readonly incidents = new Map<string, IncidentFields>();
  writes = 0;
  loads = 0;
  batchLoads = 0;
  /** The largest state item written so far (bytes, as DynamoDB roughly counts them). */
  largestStateBytes = 0;

  async load(monitorId: string): Promise<StoredMonitor> {
    this.loads++;
    return this.#read(monitorId);
  }

  async loadMany(monitorIds: readonly string[]): Promise<Map<string, StoredMonitor>> {
    this.batchLoads++;
    return new Map(monitorIds.map((id) => [id, this.#read(id)]));
  }

  #read(monitorId: string): StoredMonitor {
    const state = this.states.get(monitorId);
    return { config: this.configs.get(monitorId), state: state ? structuredClone(state) : undefined };
  }

  #crashAfterNextSave = false;

  /** The next write lands, then the "process" dies before it hears so (it throws). */
  crashAfterNextSave(): void {
    this.#crashAfterNextSave = true;
  }

  async saveState(
    monitorId: string,
    state: MonitorState,
    expectedVersion: number | undefined,
    records: StateRecords = {},
  ) {
    await this.#write(monitorId, state, expectedVersion, records);
    if (this.#crashAfterNextSave) {
      this.#crashAfterNextSave = false;
      throw new Error("Lambda crashed after the state write");
    }
  }

  async #write(
    monitorId: string,
    state: MonitorState,
    expectedVersion: number | undefined,
    records: StateRecords,
  ) {
    const current = this.states.get(monitorId);
    const currentVersion = current ? current.version : undefined;
    if (expectedVersion === undefined ? current !== undefined : currentVersion !== expectedVersion) {
      throw new StaleStateError(`stale ${monitorId}`);
    }
    // DynamoDB refuses an item over 400 KB (its size: names and values in UTF-8, close to this JSON).
    const bytes = new TextEncoder().encode(
      JSON.stringify({ monitorId, record: "state", ...state }),
    ).byteLength;
    this.largestStateBytes = Math.max(this.largestStateBytes, bytes);
    if (bytes > DYNAMODB_ITEM_LIMIT_BYTES) {
      throw Object.assign(new Error("Item size has exceeded the maximum allowed size"), {
        name: "ValidationException",
      });
    }
    this.writes++;
    this.states.set(monitorId, structuredClone(state));
    if (records.run) this.runs.push({ ...records.run, monitorId });
    if (records.summary) this.summaries.push({ ...records.summary, monitorId });
    if (records.receipt) this.receipts.push({ ...records.receipt, monitorId });
    for (const receipt of records.receipts ?? []) this.receipts.push({ ...receipt, monitorId });
    for (const update of [...(records.incident ? [records.incident] : []), ...(records.incidents ?? [])]) {
      const key = `${monitorId}|${update.start}`;
      this.incidents.set(key, applyIncidentUpdate(this.incidents.get(key), update));
    }
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

/** Records the delivery retries the tick use case asks for; `fail` makes queuing them fail. */
export class RecordingRetries implements DeliveryRetryPort {
  readonly scheduled: Array<{ monitorId: string; tickTime: string; delayMs: number; attempt: number }> = [];
  fail = false;

  async scheduleRetry(monitorId: string, tickTime: string, delayMs: number, attempt: number) {
    if (this.fail) throw new Error("SQS is unavailable");
    this.scheduled.push({ monitorId, tickTime, delayMs, attempt });
  }

  /** The body of the last retry, as the delivery-retry queue would bring it. */
  lastBody(): string {
    const last = this.scheduled.at(-1);
    if (!last) throw new Error("no retry was scheduled");
    return JSON.stringify({
      monitorId: last.monitorId,
      scheduledTime: last.tickTime,
      reason: "deliver",
      attempt: last.attempt,
    });
  }
}

/**
 * An in-memory SecretSource: secrets by ARN, every read recorded. A secret missing from `values`
 * fails as Secrets Manager's ResourceNotFoundException would; `hold()` keeps reads pending until
 * `release()`, to prove concurrent resolutions share one read.
 */
export class MemorySecretSource implements SecretSource {
  readonly values = new Map<string, string>();
  readonly reads: SecretLocation[] = [];
  #held: Array<() => void> | undefined;

  constructor(values: Record<string, string> = {}) {
    for (const [arn, value] of Object.entries(values)) this.values.set(arn, value);
  }

  hold(): void {
    this.#held = [];
  }

  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const resume of held) resume();
  }

  async read(location: SecretLocation): Promise<string> {
    this.reads.push(location);
    if (this.#held) await new Promise<void>((resume) => this.#held?.push(resume));
    const value = this.values.get(location.arn);
    if (value === undefined) throw new SecretUnreadableError(`no such secret in ${location.region}`);
    return value;
  }
}

/**
 * An in-memory ChannelDirectory (functions/core/channels.ts): definitions by name, items that do
 * not parse as `problems`, and a count of reads (a quiet tick must not read it).
 */
export class MemoryChannelDirectory implements ChannelDirectory {
  readonly channels = new Map<string, ChannelDefinition>();
  readonly problems: { name: string; message: string }[] = [];
  reads = 0;
  /** Fail the next N reads as a throttled Query would. */
  failNext = 0;

  constructor(definitions: ChannelDefinition[] = []) {
    for (const definition of definitions) this.channels.set(definition.name, definition);
  }

  async list() {
    this.reads++;
    if (this.failNext > 0) {
      this.failNext--;
      throw Object.assign(new Error("Rate of requests exceeds the allowed throughput."), {
        name: "ProvisionedThroughputExceededException",
      });
    }
    return { channels: new Map(this.channels), problems: [...this.problems] };
  }
}

/** A channel definition for tests; secrets are references that nothing resolves here. */
export function channelDefinition(
  name: string,
  kind: ChannelDefinition["kind"],
  extra: Partial<ChannelDefinition> = {},
): ChannelDefinition {
  const ref = { secretRef: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbCdEf` };
  const base = { name, isActive: true };
  const byKind: Record<ChannelDefinition["kind"], ChannelDefinition> = {
    slack: { ...base, kind: "slack", webhookUrl: ref },
    teams: { ...base, kind: "teams", webhookUrl: ref },
    pagerduty: { ...base, kind: "pagerduty", routingKey: ref, severity: "critical" },
    webhook: { ...base, kind: "webhook", url: "https://hooks.example.org/watchkeeper", signingSecret: ref },
    sns: { ...base, kind: "sns", topicArn: `arn:aws:sns:us-east-1:123456789012:${name}` },
  };
  return { ...byKind[kind], ...extra } as ChannelDefinition;
}

/**
 * Records every channel message by channel name; each channel can be told to fail transiently
 * (`failNext`), refuse permanently (`refuse`), or follow a script (`fault`).
 */
export class RecordingChannelSender implements ChannelSender {
  readonly sent: Array<{ channel: string; message: ChannelMessage }> = [];
  readonly failNext = new Map<string, number>();
  readonly refuse = new Set<string>();
  /** Decides each send's fate by channel and message: "ok", "fail" (transient), "refuse". */
  fault: ((channel: string, message: ChannelMessage) => "ok" | "fail" | "refuse") | undefined;

  async send(channel: ChannelDefinition, message: ChannelMessage) {
    const fate =
      this.fault?.(channel.name, message) ??
      (this.refuse.has(channel.name) ? "refuse" : (this.failNext.get(channel.name) ?? 0) > 0 ? "fail" : "ok");
    if (fate === "refuse")
      throw new PermanentDeliveryError(`${channel.name}: 410 Gone (the webhook was deleted)`);
    if (fate === "fail") {
      this.failNext.set(channel.name, (this.failNext.get(channel.name) ?? 1) - 1);
      throw Object.assign(new Error(`${channel.name}: 503 Service Unavailable`), {
        name: "ChannelUnavailable",
      });
    }
    this.sent.push({ channel: channel.name, message });
    return { messageId: `${channel.name}-${this.sent.length}` };
  }

  /** `<type>@<tickTime>` of what one channel received, in order. */
  received(name: string): string[] {
    return this.sent
      .filter((one) => one.channel === name)
      .map((one) => `${one.message.type}@${one.message.tickTime}`);
  }
}

/** NotificationLinks that sign nothing: the link names monitor, incident and recipient in clear. */
export class FakeLinks implements NotificationLinks {
  readonly asked: Array<{ monitorId: string; incident: string; recipient: string }> = [];
  failing = false;

  async ackUrl(input: { monitorId: string; incident: string; recipient: string }) {
    this.asked.push(input);
    if (this.failing) throw new Error("the signing key could not be read");
    return `https://watchkeeper.example.org/ack?m=${input.monitorId}&i=${encodeURIComponent(input.incident)}&r=${encodeURIComponent(input.recipient)}`;
  }

  dashboardUrl(monitorId: string) {
    return `https://watchkeeper.example.org/monitors/${monitorId}`;
  }
}

/**
 * The monitor directory in memory, with the DynamoDB adapter's semantics: `ensure` writes only a
 * missing or misplaced entry, `removeOrphan` only while `configExists` says the config item is gone.
 * `failNext(monitorId)` makes the next write of that monitor throw, as throttling would.
 */
export class MemoryMonitorDirectory implements MonitorDirectoryAdmin {
  readonly entriesById = new Map<string, string>();
  readonly writes: Array<{ op: "ensure" | "remove" | "removeOrphan"; monitorId: string; wrote: boolean }> =
    [];
  reconciledAt: Date | undefined;
  private readonly failures = new Set<string>();

  constructor(private readonly configExists: (monitorId: string) => boolean = () => false) {}

  failNext(monitorId: string): void {
    this.failures.add(monitorId);
  }

  private maybeFail(monitorId: string): void {
    if (this.failures.delete(monitorId)) throw new Error(`throttled writing ${monitorId}'s directory entry`);
  }

  async ensure(monitorId: string, shard: string): Promise<boolean> {
    this.maybeFail(monitorId);
    const wrote = this.entriesById.get(monitorId) !== shard;
    if (wrote) this.entriesById.set(monitorId, shard);
    this.writes.push({ op: "ensure", monitorId, wrote });
    return wrote;
  }

  async remove(monitorId: string): Promise<void> {
    this.maybeFail(monitorId);
    const wrote = this.entriesById.delete(monitorId);
    this.writes.push({ op: "remove", monitorId, wrote });
  }

  async removeOrphan(monitorId: string): Promise<boolean> {
    this.maybeFail(monitorId);
    const wrote = !this.configExists(monitorId) && this.entriesById.delete(monitorId);
    this.writes.push({ op: "removeOrphan", monitorId, wrote });
    return wrote;
  }

  async entries(): Promise<{ entries: DirectoryEntry[]; reconciled: boolean }> {
    return {
      entries: [...this.entriesById].map(([monitorId, shard]) => ({ monitorId, shard })),
      reconciled: this.reconciledAt !== undefined,
    };
  }

  async markReconciled(at: Date): Promise<void> {
    this.reconciledAt = at;
  }
}
