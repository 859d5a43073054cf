import * as z from "zod/mini";
import { isValidTimezone, parseSchedule } from "./schedule.ts";
import { preprocess } from "./validation.ts";

/**
 * Ids with this prefix name Watchkeeper's own schedules in the monitors' schedule group (the
 * heartbeat, functions/core/heartbeat.ts): no monitor may take one, and reconcile never deletes one.
 */
export const RESERVED_ID_PREFIX = "__";

/** Whether a schedule name belongs to Watchkeeper itself rather than to a monitor. */
export function isReservedId(id: string): boolean {
  return id.startsWith(RESERVED_ID_PREFIX);
}

/** Partition key: also the EventBridge schedule name, hence the schedule-name alphabet. */
export const MonitorIdSchema = z.string().check(
  z.regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 characters of A-Z a-z 0-9 . _ -"),
  z.refine(
    (id) => !isReservedId(id),
    `must not start with "${RESERVED_ID_PREFIX}" (reserved for Watchkeeper)`,
  ),
);
export type MonitorId = z.infer<typeof MonitorIdSchema>;

export const CONFIG_RECORD = "config";
export const STATE_RECORD = "state";

/** ISO-8601 instant with an explicit zone (what Scheduler's `<aws.scheduler.scheduled-time>` yields). */
export const IsoInstantSchema = z.iso.datetime({ offset: true });

/** Email address as SES accepts it in a destination (no display names, no control characters). */
export const EmailAddressSchema = z
  .email({ message: "is not a valid email address" })
  .check(z.maxLength(254));

const ScheduleSchema = z.string().check(
  z.superRefine((value, ctx) => {
    try {
      parseSchedule(value);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
    }
  }),
);

const TimezoneSchema = z.string().check(
  z.refine(isValidTimezone, {
    message: "is not an IANA timezone (e.g. America/Chicago, Europe/Paris, UTC)",
  }),
);

/**
 * Defaults of the config item (DESIGN.md §2). Exported so that docs, CLI and tests name one source.
 */
export const CONFIG_DEFAULTS = {
  params: {} as Record<string, unknown>,
  isActive: true,
  schedule: "rate(5 minutes)",
  timezone: "America/Chicago",
  requiredConsecutiveOks: 2,
  reminderFrequencyMinutes: 60,
  peopleToNotify: [] as string[],
  checkTimeoutSeconds: 30,
  skipSupersededTicks: true,
  historyRetentionDays: 14,
  recordOnlyChanges: false,
} as const;

/**
 * People edit config items in the DynamoDB console, where a boolean typed as the string "true" or a
 * number typed as a string are the most common slips: read them as meant (issue 10), and only them.
 */
const consoleBoolean = preprocess((value) => {
  if (typeof value !== "string") return value;
  const word = value.trim().toLowerCase();
  return word === "true" ? true : word === "false" ? false : value;
}, z.boolean());
const consoleNumber = <T extends z.core.SomeType>(schema: T) =>
  preprocess(
    (value) => (typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value),
    schema,
  );

/**
 * A notification channel's name (functions/core/channels.ts): what monitors list in `channels` and
 * what the CLI takes. Here rather than with the channel kinds, so that reading a config item does
 * not build the channels' schemas (the orchestrator loads those only to send).
 */
export const ChannelNameSchema = z
  .string()
  .check(
    z.regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "must be 1-63 characters of a-z 0-9 . _ - (lowercase first)"),
  );

/** At most this many channels per monitor (each is a target of every notification). */
export const MAX_CHANNELS = 20;

/**
 * Field schemas of the config item, one per attribute, so that a bad attribute can be named and
 * replaced by its default without discarding the good ones.
 */
export const ConfigFieldSchemas = {
  name: z
    .string()
    .check(z.trim(), z.minLength(1, "must not be empty"), z.maxLength(200, "must be at most 200 characters")),
  check: z
    .string()
    .check(z.regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "must be a check name like 'http' or 'sqs-queue-empty'")),
  params: z.record(z.string(), z.unknown()),
  isActive: consoleBoolean,
  schedule: ScheduleSchema,
  timezone: TimezoneSchema,
  requiredConsecutiveOks: consoleNumber(z.number().check(z.int(), z.gte(1), z.lte(100))),
  reminderFrequencyMinutes: consoleNumber(z.number().check(z.int(), z.gte(0), z.lte(525_600))),
  peopleToNotify: z
    .array(EmailAddressSchema)
    .check(z.maxLength(50, "at most 50 recipients (SES limit per message)")),
  checkTimeoutSeconds: consoleNumber(
    z.number().check(z.positive(), z.lte(840, "must be at most 840 seconds (the orchestrator's budget)")),
  ),
  skipSupersededTicks: consoleBoolean,
  historyRetentionDays: consoleNumber(z.number().check(z.int(), z.gte(1), z.lte(3650))),
  recordOnlyChanges: consoleBoolean,
  /**
   * Where on-call people read what to do (issue 14): linked from every ALERT, REMINDER and RECOVERED.
   * Optional, no default; an https URL without spaces or credentials, else a config problem and no link.
   */
  runbookUrl: z.url({ protocol: /^https$/, message: "must be an https:// URL", abort: true }).check(
    z.maxLength(2000, "must be at most 2000 characters"),
    z.refine((url) => !/[\s<>"'`]/.test(url), "must not contain spaces or quotes"),
    z.refine(
      (url) => /^https:\/\/[^/?#@]+(?:[/?#]|$)/i.test(url),
      "must be https://<host>/... (no user name or password in it)",
    ),
  ),
  /**
   * The channels every notification also goes to (issue 15), by name (`watchkeeper channel list`).
   * Optional, no default: absent means the stack's `defaultChannels`; `[]` means none.
   */
  channels: z.array(ChannelNameSchema).check(z.maxLength(MAX_CHANNELS, `at most ${MAX_CHANNELS} channels`)),
} as const;

type ConfigFields = typeof ConfigFieldSchemas;
/** Attributes with no default: absent unless the item sets them (validly). */
type OptionalConfigAttribute = "runbookUrl" | "channels";
type DefaultedConfigAttribute = Exclude<keyof ConfigFields, OptionalConfigAttribute>;

/** A valid config item, with defaults applied (DESIGN.md §2): what parseConfigLeniently returns. */
export type MonitorConfig = { monitorId: MonitorId } & {
  -readonly [K in DefaultedConfigAttribute]: z.output<ConfigFields[K]>;
} & { -readonly [K in OptionalConfigAttribute]?: z.output<ConfigFields[K]> };

/** What a person writes: every attribute but the key, `name` and `check` may be left out. */
export type MonitorConfigInput = { monitorId: string; name: string; check: string } & {
  -readonly [K in Exclude<keyof ConfigFields, "name" | "check">]?: z.input<ConfigFields[K]>;
};

/**
 * The config from attributes that are each valid or absent: CONFIG_DEFAULTS fill the gaps, in the
 * order DESIGN.md §2 lists the attributes. No second validation pass: each value passed its
 * field's schema already, and an object schema of them all was built at every cold start (about
 * 0.7 ms, docs/performance.md) to re-validate every attribute on every tick.
 */
function withDefaults(monitorId: string, values: Partial<MonitorConfig>): MonitorConfig {
  const config: MonitorConfig = {
    monitorId,
    name: values.name ?? monitorId,
    check: values.check || "invalid",
    params: values.params ?? {},
    isActive: values.isActive ?? CONFIG_DEFAULTS.isActive,
    schedule: values.schedule ?? CONFIG_DEFAULTS.schedule,
    timezone: values.timezone ?? CONFIG_DEFAULTS.timezone,
    requiredConsecutiveOks: values.requiredConsecutiveOks ?? CONFIG_DEFAULTS.requiredConsecutiveOks,
    reminderFrequencyMinutes: values.reminderFrequencyMinutes ?? CONFIG_DEFAULTS.reminderFrequencyMinutes,
    peopleToNotify: values.peopleToNotify ?? [],
    checkTimeoutSeconds: values.checkTimeoutSeconds ?? CONFIG_DEFAULTS.checkTimeoutSeconds,
    skipSupersededTicks: values.skipSupersededTicks ?? CONFIG_DEFAULTS.skipSupersededTicks,
    historyRetentionDays: values.historyRetentionDays ?? CONFIG_DEFAULTS.historyRetentionDays,
    recordOnlyChanges: values.recordOnlyChanges ?? CONFIG_DEFAULTS.recordOnlyChanges,
  };
  if (values.runbookUrl !== undefined) config.runbookUrl = values.runbookUrl;
  if (values.channels !== undefined) config.channels = values.channels;
  return config;
}

/** A domain name as the stack setting `allowedRecipientDomains` takes it (no scheme, no trailing dot). */
export const DOMAIN_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/**
 * The domains of a comma-separated `allowedRecipientDomains` value (settings, ALLOWED_RECIPIENT_DOMAINS,
 * the CLI's WATCHKEEPER_ALLOWED_RECIPIENT_DOMAINS), lowercased; blank or absent: none (no restriction).
 * Throws on anything that is not a domain name: a restriction that cannot be read must not lapse.
 */
export function parseRecipientDomains(text: string | undefined): string[] {
  const domains = (text ?? "")
    .split(",")
    .map((domain) => domain.trim().toLowerCase())
    .filter(Boolean);
  const bad = domains.filter((domain) => !DOMAIN_NAME.test(domain));
  if (bad.length > 0) {
    throw new Error(
      `allowed recipient domains must be domain names such as example.org, comma-separated: ${bad.map((domain) => JSON.stringify(domain)).join(", ")}`,
    );
  }
  return [...new Set(domains)];
}

/**
 * The address with its domain lowercased when that domain is one of `allowed` (exact match, case
 * aside: a subdomain is not allowed unless listed), else undefined. The domain is lowercased so
 * that the address matches the IAM `ses:Recipients` patterns, which compare case-sensitively.
 */
export function allowedRecipient(address: string, allowed: readonly string[]): string | undefined {
  const at = address.lastIndexOf("@");
  const domain = address.slice(at + 1).toLowerCase();
  return at > 0 && allowed.includes(domain) ? `${address.slice(0, at)}@${domain}` : undefined;
}

export interface ConfigProblem {
  attribute: string;
  message: string;
}

export interface LenientConfig {
  /** Usable config: each invalid attribute replaced by its default (or, for peopleToNotify, its valid part). */
  config: MonitorConfig;
  /** Every problem found, one per bad attribute (or bad recipient). Empty when the item is valid. */
  problems: ConfigProblem[];
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  return typeof value === "object" ? "a map" : `${typeof value} ${String(value)}`;
}

/**
 * Validates a raw config item attribute by attribute. Never throws: a broken monitor must still be
 * run through the state machine so that its owners hear about it (DESIGN.md §4, issue 2).
 */
export function parseConfigLeniently(
  monitorId: string,
  raw: Record<string, unknown>,
  defaults: {
    defaultTimezone?: string;
    /**
     * Lowercase domains recipients must be in (stack setting `allowedRecipientDomains`); a
     * recipient elsewhere is dropped and reported. Empty or absent: any domain.
     */
    allowedRecipientDomains?: readonly string[];
  } = {},
): LenientConfig {
  const allowedDomains = defaults.allowedRecipientDomains ?? [];
  const problems: ConfigProblem[] = [];
  const config: Record<string, unknown> = {};
  for (const [attribute, schema] of Object.entries(ConfigFieldSchemas)) {
    const value = raw[attribute];
    if (value === undefined) {
      if (attribute === "name" || attribute === "check") {
        problems.push({ attribute, message: "is required" });
      }
      continue;
    }
    if (attribute === "peopleToNotify" && Array.isArray(value)) {
      // Keep the valid recipients: one typo must not silence everyone else.
      const valid: string[] = [];
      const seen = new Set<string>();
      value.forEach((entry, index) => {
        const parsed = EmailAddressSchema.safeParse(entry);
        const address =
          parsed.success && allowedDomains.length > 0
            ? allowedRecipient(parsed.data, allowedDomains)
            : parsed.data;
        if (parsed.success && address === undefined) {
          // Never mailed: a table writer must not use the sender as a relay to any address.
          problems.push({
            attribute: `peopleToNotify[${index}]`,
            message: `${describe(entry)} is outside the allowed recipient domains (${allowedDomains.join(", ")})`,
          });
        } else if (address !== undefined) {
          // Mail systems treat addresses case-insensitively in practice: one person, one copy.
          const key = address.toLowerCase();
          if (!seen.has(key)) valid.push(address);
          seen.add(key);
        } else
          problems.push({
            attribute: `peopleToNotify[${index}]`,
            message: `${describe(entry)} is not a valid email address`,
          });
      });
      config.peopleToNotify = valid.slice(0, 50);
      if (valid.length > 50)
        problems.push({ attribute, message: "at most 50 recipients (SES limit per message)" });
      continue;
    }
    if (attribute === "channels" && Array.isArray(value)) {
      // Keep the valid names: one typo must not silence the other channels.
      const names: string[] = [];
      value.forEach((entry, index) => {
        const parsed = z.safeParse(ChannelNameSchema, entry);
        if (!parsed.success) {
          problems.push({
            attribute: `channels[${index}]`,
            message: `${describe(entry)} ${parsed.error.issues[0]?.message ?? "is not a channel name"}`,
          });
        } else if (!names.includes(parsed.data)) names.push(parsed.data);
      });
      config.channels = names.slice(0, MAX_CHANNELS);
      if (names.length > MAX_CHANNELS)
        problems.push({ attribute, message: `at most ${MAX_CHANNELS} channels` });
      continue;
    }
    const parsed = z.safeParse(schema as z.core.$ZodType, value);
    if (parsed.success) {
      config[attribute] = parsed.data;
      continue;
    }
    // Never echo a malformed params value: it may hold credentials.
    const shown =
      attribute === "params" ? `a ${Array.isArray(value) ? "list" : typeof value}` : describe(value);
    problems.push({
      attribute,
      message: `${shown}: ${parsed.error.issues.map((issue) => issue.message).join("; ")}`,
    });
  }
  // The deployment's default zone (context `defaultTimezone`), as schedule-sync applies it.
  // A missing or invalid timezone falls back to it too, so mail shows the zone the schedule runs in.
  if (config.timezone === undefined && defaults.defaultTimezone) config.timezone = defaults.defaultTimezone;
  // Every value is valid or absent by now; the id is checked where it enters (tick, stream, CLI),
  // so a bad id here must not throw: this function never does.
  return { config: withDefaults(monitorId, config as Partial<MonitorConfig>), problems };
}

export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((problem) => `${problem.attribute} ${problem.message}`).join("; ");
}

/** The SQS tick body (DESIGN.md §3). */
export const TickMessageSchema = z.object({
  monitorId: MonitorIdSchema,
  scheduledTime: IsoInstantSchema,
  /**
   * `manual`: a forced recheck (`watchkeeper run`), never deduplicated against scheduled ticks.
   * `deliver`: another attempt at the pending notification decided by the tick at `scheduledTime`
   * (the delivery retry queue); it never runs the check.
   */
  reason: z.optional(z.enum(["scheduled", "manual", "deliver"])),
  /** On a `deliver` tick: the entry's failed attempts when it was queued (its retry chain's token). */
  attempt: z.optional(z.number().check(z.int(), z.gte(0))),
});
export type TickMessage = z.infer<typeof TickMessageSchema>;

export const NotificationTypeSchema = z.enum(["alert", "reminder", "recovery"]);
export type NotificationType = z.infer<typeof NotificationTypeSchema>;
export const MonitorStatusSchema = z.enum(["ok", "alert"]);
export type MonitorStatus = z.infer<typeof MonitorStatusSchema>;

/**
 * An acknowledgement of the current incident (issue 14): it silences reminders only, until the
 * incident recovers or `until` (judged on the tick's logical clock), whichever comes first.
 */
export const AcknowledgementSchema = z.looseObject({
  /** Who acknowledged: a person's name or address, as the caller (CLI, dashboard, link) vouches. */
  by: z.string(),
  /** When (ISO UTC, wall clock of the caller). */
  at: z.string(),
  note: z.optional(z.string()),
  /** ISO UTC after which reminders resume; absent: until the incident ends. */
  until: z.optional(z.string()),
});
export type Acknowledgement = z.infer<typeof AcknowledgementSchema>;

/**
 * What became of one target of a notification (issue 15: per-target delivery): an email recipient
 * (`email:<address>`) or a channel (`channel:<name>`). Absent: never tried.
 */
export const TargetDeliverySchema = z.looseObject({
  /** Send attempts that failed so far (a delivered or refused send counts too once settled). */
  attempts: z._default(z.number().check(z.int()), 0),
  lastError: z.optional(z.string()),
  /** Epoch ms before which this target is not tried again (its retry is queued for then). */
  nextAttemptAt: z.optional(z.number()),
  /**
   * `delivered`; `abandoned`: it can never be sent (refused, budget spent, unknown or broken
   * channel, too many waiting), the operators are alarmed; `dropped`: deliberately not sent (a
   * REMINDER of an incident acknowledged since, an inactive channel, a REMINDER to PagerDuty).
   */
  outcome: z.optional(z.enum(["delivered", "abandoned", "dropped"])),
  messageId: z.optional(z.string()),
  /** When it was settled (ISO, wall clock). */
  at: z.optional(z.string()),
});
export type TargetDelivery = z.infer<typeof TargetDeliverySchema>;

/**
 * The facts of a notification, from which each target renders its own message at send time (the
 * email with its recipient's ack link, a channel's payload): functions/core/render.ts's
 * NotificationContent without the per-target links.
 */
export const NotificationFactsSchema = z.looseObject({
  name: z.string(),
  check: z.string(),
  /** The check's message (for RECOVERED: the OK message). */
  message: z.string(),
  timezone: z.string(),
  failingSince: z.optional(z.string()),
  failingSinceIsLowerBound: z.optional(z.boolean()),
  reminderNumber: z.optional(z.number().check(z.int())),
  reminderFrequencyMinutes: z.optional(z.number()),
  lastFailureMessage: z.optional(z.string()),
  runbookUrl: z.optional(z.string()),
  /** REMINDER / RECOVERED: who acknowledged (null: nobody). Absent for an ALERT. */
  acknowledgement: z.optional(z.nullable(AcknowledgementSchema)),
  /** Decided for people who were not listed then: the mail's first line says it is late. */
  late: z.optional(z.object({ decidedAt: z.string(), reason: z.string() })),
});
export type NotificationFacts = z.infer<typeof NotificationFactsSchema>;

/** A notification decided and written with the state, not yet confirmed delivered (DESIGN.md §5). */
// Loose objects (unknown attributes kept): every state write is a whole-item put, so a version
// that does not know an attribute yet (a rollback, an old invocation during a deploy) must carry
// it over rather than erase it.
export const OutboxSchema = z.looseObject({
  id: z.string(),
  type: NotificationTypeSchema,
  tickTime: z.string(),
  /** The email recipients listed at the decision (those listed at send time win when there are any). */
  recipients: z.array(z.string()),
  /**
   * The generic rendering (no per-recipient links). Entries of the previous version carry only
   * this, and are mailed as it; new entries keep it so that a rollback can still deliver them.
   */
  subject: z.string(),
  text: z.string(),
  html: z.string(),
  createdAt: z.string(),
  /** Epoch ms until which the writer owns delivery: a concurrent handler must not send it too. */
  claimedUntil: z.optional(z.number()),
  /** Who holds the claim: only the holder may release it. */
  claimId: z.optional(z.string()),
  /** Send passes of this entry that failed so far (SQS redeliveries that did not try to send are not counted). */
  attempts: z._default(z.number().check(z.int()), 0),
  lastError: z.optional(z.string()),
  /** Epoch ms of the retry the delivery-retry queue will bring; until then, scheduled ticks leave it alone. */
  nextAttemptAt: z.optional(z.number()),
  /**
   * The logical time the reminder clock counts from if this is the latest notification (when not
   * `tickTime`: an ALERT sent late to people listed during its incident).
   */
  reminderClockFrom: z.optional(z.string()),
  /** The `start` of the incident it belongs to: its delivery is counted on that incident's item. */
  incident: z.optional(z.string()),
  /** What each target renders from (absent: an entry of the previous version, email only). */
  facts: z.optional(NotificationFactsSchema),
  /** The channel names listed at the decision (those listed at send time win when there are any). */
  channels: z.optional(z.array(z.string())),
  /** Per-target delivery records, by target key (`email:<address>`, `channel:<name>`). */
  targets: z.optional(z.record(z.string(), TargetDeliverySchema)),
  /**
   * The delivery-retry chain's token (on the head entry): a `deliver` tick carrying less is from a
   * superseded chain. Absent: `attempts` (entries of the previous version).
   */
  chain: z.optional(z.number().check(z.int())),
});
export type Outbox = z.infer<typeof OutboxSchema>;

/**
 * The open incident as the state item tracks it (functions/core/incident.ts): the key of its
 * `incident#<start>` item, and its latest failure (kept here because every failing tick writes the
 * state anyway, and copied to the incident item only on the writes that touch it).
 */
export const StateIncidentSchema = z.looseObject({
  /** Logical time of the tick that opened it (its ALERT decision): `incident#<start>`. */
  start: z.string(),
  lastFailureMessage: z.optional(z.string()),
  lastFailureAt: z.optional(z.string()),
  /** REMINDERs decided in this incident so far (the mail says which one it is). */
  reminders: z.optional(z.number().check(z.int(), z.gte(0))),
});
export type StateIncident = z.infer<typeof StateIncidentSchema>;

/** The state item (DESIGN.md §2), owned by the orchestrator. */
export const MonitorStateSchema = z.looseObject({
  // Defaults cover a state item that schedule-sync created only to report a schedule error.
  state: z._default(MonitorStatusSchema, "ok"),
  consecutiveOkCount: z._default(z.number().check(z.int(), z.gte(0)), 0),
  lastRunDt: z.optional(z.string()),
  lastResultMessage: z.optional(z.string()),
  lastResultOk: z.optional(z.boolean()),
  lastNotificationDt: z.optional(z.string()),
  lastNotificationType: z.optional(NotificationTypeSchema),
  lastTickTime: z.optional(z.string()),
  version: z._default(z.number().check(z.int(), z.gte(0)), 0),
  /** The notification being delivered (the head of the pending queue). */
  outbox: z.optional(OutboxSchema),
  /** Notifications decided while `outbox` was still undelivered, in decision order. */
  outboxQueue: z.optional(z.array(OutboxSchema)),
  /** The incident's ALERT reached nobody (no recipients then): sent once people are listed. */
  unnotifiedAlert: z.optional(z.object({ tickTime: z.string(), message: z.string() })),
  /** `scheduledTime` of the last manual recheck applied: manual ticks never move `lastTickTime`. */
  lastManualTickTime: z.optional(z.string()),
  /** Set by schedule-sync when the schedule could not be created; cleared when it could. */
  scheduleError: z.optional(z.string()),
  configProblems: z.optional(z.string()),
  /**
   * The heartbeat interval the orchestrator wrote this item under (write on change): a quiet
   * healthy monitor's `lastRunDt` may lag by up to this much. Absent: every tick writes.
   */
  stateHeartbeatMinutes: z.optional(z.number().check(z.gte(0))),
  /** The current incident's acknowledgement; cleared at recovery. */
  ack: z.optional(AcknowledgementSchema),
  /** The open incident (state `alert`); absent when ok. */
  incident: z.optional(StateIncidentSchema),
});
export type MonitorState = z.infer<typeof MonitorStateSchema>;

/** What a child check must return. */
export const CheckResultSchema = z.object({ isOk: z.boolean(), message: z.string() });
export type CheckResult = z.infer<typeof CheckResultSchema>;
