import type { ChannelMessage } from "./channels.ts";
import type { NotificationLinks } from "./ports.ts";
import { type RenderedEmail, renderNotification, withDeliveryDelay } from "./render.ts";
import {
  ChannelNameSchema,
  type MonitorConfig,
  type MonitorState,
  type Outbox,
  type TargetDelivery,
} from "./schemas.ts";
import { ackHolds } from "./state-machine.ts";

/**
 * The targets of a notification (issue 15): each email recipient on its own, so that each mail
 * carries its own signed ack link, and each channel the monitor names. A target is named by its
 * key, `email:<address>` or `channel:<name>`; its delivery is recorded under that key in the
 * outbox entry (`targets`). Pure: no I/O.
 */

export const EMAIL_TARGET = "email:";
export const CHANNEL_TARGET = "channel:";

/** Keyed case-insensitively: `Ops@` fixed to `ops@` is the same person, not a second copy. */
export const emailTarget = (address: string) => `${EMAIL_TARGET}${address.toLowerCase()}`;
export const channelTarget = (name: string) => `${CHANNEL_TARGET}${name}`;

export type Target =
  | { key: string; kind: "email"; address: string }
  | { key: string; kind: "channel"; name: string };

export function parseTarget(key: string): Target | undefined {
  if (key.startsWith(EMAIL_TARGET)) return { key, kind: "email", address: key.slice(EMAIL_TARGET.length) };
  if (key.startsWith(CHANNEL_TARGET)) return { key, kind: "channel", name: key.slice(CHANNEL_TARGET.length) };
  return undefined;
}

/**
 * The channel names of a comma-separated list (the stack's `defaultChannels`, DEFAULT_CHANNELS),
 * deduplicated; blank or absent: none. Throws on a name ChannelNameSchema refuses.
 */
export function parseChannelNames(text: string | undefined): string[] {
  const names = (text ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  const bad = names.filter((name) => !ChannelNameSchema.safeParse(name).success);
  if (bad.length > 0) {
    throw new Error(
      `default channels must be channel names (1-63 characters of a-z 0-9 . _ -, lowercase first), comma-separated: ${bad.map((name) => JSON.stringify(name)).join(", ")}`,
    );
  }
  return [...new Set(names)];
}

/** The channels a monitor's notifications go to: its own list, or the stack's default when it names none. */
export function listedChannels(config: Pick<MonitorConfig, "channels">, defaultChannels: readonly string[]) {
  return config.channels ?? [...defaultChannels];
}

/**
 * The targets of an entry as of now, in order (emails, then channels). Whoever is listed now wins,
 * so that a fixed typo reaches the right person; when nobody is listed any more, those listed at
 * the decision. Entries of the previous version (no `facts`) go by email only, and channels only
 * when the engine can send to them.
 */
export function targetsOf(
  entry: Outbox,
  config: Pick<MonitorConfig, "peopleToNotify" | "channels">,
  options: { defaultChannels: readonly string[]; channelsEnabled: boolean },
): Target[] {
  const emails = config.peopleToNotify.length > 0 ? config.peopleToNotify : entry.recipients;
  const targets: Target[] = emails.map((address) => ({ key: emailTarget(address), kind: "email", address }));
  if (!options.channelsEnabled || entry.facts === undefined) return targets;
  const listed = listedChannels(config, options.defaultChannels);
  const names = listed.length > 0 ? listed : (entry.channels ?? []);
  for (const name of names) targets.push({ key: channelTarget(name), kind: "channel", name });
  return targets;
}

export const isSettled = (record: TargetDelivery | undefined) => record?.outcome !== undefined;

/** Every target of the entry is settled (delivered, abandoned or dropped). */
export function isComplete(entry: Outbox, targets: readonly Target[]): boolean {
  return targets.every((target) => isSettled(entry.targets?.[target.key]));
}

/** The entry reached someone already: the reminder clock runs from then. */
export const reachedSomeone = (entry: Outbox) =>
  Object.values(entry.targets ?? {}).some((record) => record.outcome === "delivered");

/**
 * The state machine's "a notification is pending" (no REMINDER is due meanwhile, its clock starts
 * at delivery): a pending entry that has reached nobody yet. Once one target has it, the incident's
 * people have heard: a target that keeps failing holds back only its own deliveries, never the
 * REMINDERs of the others.
 */
export function awaitingFirstDelivery(
  state: Pick<MonitorState, "outbox" | "outboxQueue"> | undefined,
): boolean {
  return [state?.outbox, ...(state?.outboxQueue ?? [])].some(
    (entry) => entry !== undefined && !reachedSomeone(entry),
  );
}

/**
 * Why a REMINDER must not go out any more: its incident has ended (the RECOVERED queued behind it
 * says so; a REMINDER now would say "still failing" after the fact), or it is acknowledged and the
 * ack holds now (issue 14). RECOVERED and ALERT always go.
 */
export function staleReminder(entry: Outbox, state: MonitorState, now: string): string | undefined {
  if (entry.type !== "reminder") return undefined;
  const open = state.incident?.start;
  if (
    entry.incident !== undefined &&
    (state.state === "ok" || open === undefined || Date.parse(open) !== Date.parse(entry.incident))
  ) {
    return "its incident ended before it could be sent (the RECOVERED follows)";
  }
  if (!state.ack || !ackHolds(state.ack, now)) return undefined;
  if (
    entry.incident !== undefined &&
    state.incident !== undefined &&
    state.incident.start !== entry.incident
  ) {
    return undefined;
  }
  return `the incident was acknowledged by ${state.ack.by} at ${state.ack.at} after this REMINDER was decided`;
}

/**
 * Why a target listed only since the decision gets no copy of this entry: it is not the newest
 * pending one. Entries stay pending while another target keeps failing, and a person added to
 * `peopleToNotify` then must not receive the whole backlog of an incident (or of one already
 * over): only the newest notification, which says where things stand.
 */
export function listedSinceDecision(entry: Outbox, target: Target, state: MonitorState): string | undefined {
  if (entry.targets?.[target.key] !== undefined) return undefined;
  const listedThen =
    target.kind === "email"
      ? entry.recipients.some((address) => emailTarget(address) === target.key)
      : (entry.channels ?? []).includes(target.name);
  if (listedThen) return undefined;
  const pending = [state.outbox, ...(state.outboxQueue ?? [])].filter((candidate) => candidate !== undefined);
  if (pending.at(-1)?.id === entry.id) return undefined;
  return "listed only after it was decided: a newer notification goes instead";
}

/** How late a send is: a note in the message (and a moved reminder clock) from a minute on. */
export interface Lateness {
  delayMs: number;
  decidedAt: string;
  reason: string;
}

/** The mail to one recipient: rendered from the facts with its own links, or the stored rendering. */
export function emailFor(
  entry: Outbox,
  monitorId: string,
  links: { ackUrl?: string | undefined; dashboardUrl?: string | undefined },
  late: Lateness | undefined,
): RenderedEmail {
  const facts = entry.facts;
  let email: RenderedEmail = facts
    ? renderNotification({
        type: entry.type,
        monitorId,
        name: facts.name,
        state: entry.type === "recovery" ? "ok" : "alert",
        at: entry.tickTime,
        timezone: facts.timezone,
        check: facts.check,
        message: facts.message,
        failingSince: facts.failingSince,
        failingSinceIsLowerBound: facts.failingSinceIsLowerBound,
        reminderNumber: facts.reminderNumber,
        reminderFrequencyMinutes: facts.reminderFrequencyMinutes,
        lastFailureMessage: facts.lastFailureMessage,
        runbookUrl: facts.runbookUrl,
        ...(facts.acknowledgement !== undefined ? { acknowledgement: facts.acknowledgement } : {}),
        ackUrl: links.ackUrl,
        dashboardUrl: links.dashboardUrl,
      })
    : { subject: entry.subject, text: entry.text, html: entry.html };
  if (facts?.late) {
    email = withDeliveryDelay(email, {
      type: entry.type,
      decidedAt: facts.late.decidedAt,
      delayMs: Date.parse(entry.createdAt) - Date.parse(facts.late.decidedAt),
      reason: facts.late.reason,
    });
  }
  if (late) email = withDeliveryDelay(email, { type: entry.type, ...late });
  return email;
}

/** The message a channel renders its payload from (functions/core/channels.ts). */
export function channelMessageFor(
  entry: Outbox,
  monitorId: string,
  links: { ack?: string | undefined; dashboard?: string | undefined },
): ChannelMessage | undefined {
  const facts = entry.facts;
  if (!facts) return undefined;
  const incident = entry.incident ?? facts.failingSince ?? entry.tickTime;
  const since = Date.parse(facts.failingSince ?? incident);
  return {
    type: entry.type,
    monitorId,
    name: facts.name,
    message: facts.message,
    tickTime: entry.tickTime,
    timezone: facts.timezone,
    incident,
    durationMs: Number.isFinite(since) ? Math.max(0, Date.parse(entry.tickTime) - since) : undefined,
    reminderNumber: facts.reminderNumber,
    ...(facts.acknowledgement !== undefined ? { acknowledgement: facts.acknowledgement } : {}),
    lastFailureMessage: facts.lastFailureMessage,
    links: { ...links, runbook: facts.runbookUrl },
    subject: entry.subject,
  };
}

/** The links of one target, each optional: a links port that fails costs the link, never the message. */
export async function linksFor(
  links: NotificationLinks | undefined,
  entry: Outbox,
  monitorId: string,
  recipient: string,
  onError: (error: unknown) => void,
): Promise<{ ackUrl?: string | undefined; dashboardUrl?: string | undefined }> {
  if (!links) return {};
  let dashboardUrl: string | undefined;
  let ackUrl: string | undefined;
  try {
    dashboardUrl = links.dashboardUrl(monitorId);
    // RECOVERED is never acknowledged: no link to sign.
    if (entry.type !== "recovery" && entry.incident !== undefined) {
      ackUrl = await links.ackUrl({ monitorId, incident: entry.incident, recipient });
    }
  } catch (error) {
    onError(error);
  }
  return { ackUrl, dashboardUrl };
}
