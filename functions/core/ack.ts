import * as z from "zod";
import { incidentOnAck, incidentOnUnack, openIncident } from "./incident.ts";
import type { MonitorStore } from "./ports.ts";
import { StaleStateError } from "./ports.ts";
import type { Acknowledgement, MonitorState, StateIncident } from "./schemas.ts";
import { ackHolds, inIncident } from "./state-machine.ts";
import { headerSafe } from "./text.ts";

/**
 * Acknowledge / unacknowledge (issue 14): the one use case behind every way in (the CLI today; the
 * dashboard and the signed mail links later). Pure orchestration over MonitorStore: load, refuse
 * unless the monitor is in an incident, write the state with the version read (re-reading after a
 * lost race), and record it on the incident item in the same write. No AWS import.
 */

/** Longest `forMs` accepted: an ack meant to last longer is an ack until recovery. */
export const MAX_ACK_FOR_MS = 30 * 86_400_000;
export const MAX_ACK_BY_CHARS = 128;
export const MAX_ACK_NOTE_CHARS = 500;

// One line each, without control or bidi characters (they reach mail, terminals and the dashboard).
const oneLine = (max: number) => z.string().transform((value) => headerSafe(value, max));

export const AckRequestSchema = z.object({
  /** Who acknowledges: the caller vouches for it (CLI: --by or the OS user; dashboard: the signed-in user). */
  by: oneLine(MAX_ACK_BY_CHARS).pipe(z.string().min(1, "who acknowledges must not be empty")),
  note: oneLine(MAX_ACK_NOTE_CHARS)
    .optional()
    .transform((note) => (note === "" ? undefined : note)),
  /** Reminders resume after this long (ms); absent: sticky until recovery. */
  forMs: z.number().int().positive().max(MAX_ACK_FOR_MS, "at most 30 days").optional(),
  /**
   * The start of the incident the caller saw (`incident#<start>`): the ack is refused when another
   * incident is open by the time it is written (a link from an old mail must never ack a new one).
   * Absent: whatever incident is open.
   */
  incident: z.iso.datetime({ message: "must be an incident's start time (ISO 8601)" }).optional(),
});
export type AckRequest = z.input<typeof AckRequestSchema>;

export const UnackRequestSchema = z.object({ by: AckRequestSchema.shape.by });
export type UnackRequest = z.input<typeof UnackRequestSchema>;

/** No config item under this id. */
export class MonitorNotFoundError extends Error {
  override name = "MonitorNotFoundError";
  constructor(readonly monitorId: string) {
    super(`no monitor ${monitorId}`);
  }
}

/** Only an incident (a monitor in alert) can be acknowledged. */
export class NotInIncidentError extends Error {
  override name = "NotInIncidentError";
  constructor(
    readonly monitorId: string,
    readonly state: string,
  ) {
    super(
      `${monitorId} is not in an incident (its state is ${state}): only a monitor in alert can be acknowledged`,
    );
  }
}

/** The incident the caller meant is over: another one (or none) is open now. */
export class IncidentChangedError extends Error {
  override name = "IncidentChangedError";
  constructor(
    readonly monitorId: string,
    readonly meant: string,
    readonly open: string,
  ) {
    super(
      `the incident of ${monitorId} that started at ${meant} is over; the one open now started at ${open}: nothing was acknowledged`,
    );
  }
}

/** The request does not validate (empty `by`, a too long expiry…). */
export class InvalidAckRequestError extends Error {
  override name = "InvalidAckRequestError";
}

/** The state kept changing under the use case (a busy monitor): nothing was written; try again. */
export class AckConflictError extends Error {
  override name = "AckConflictError";
}

export interface AckOutcome {
  monitorId: string;
  /** False when the request changed nothing (a repeated ack, an unack of an unacknowledged incident). */
  changed: boolean;
  /** The acknowledgement in force after the call (undefined after an unack). */
  ack: Acknowledgement | undefined;
  /** The acknowledgement replaced or removed, if any. */
  previous: Acknowledgement | undefined;
  /** The incident's start (its `incident#<start>` item). */
  incidentStart: string;
  /** The incident's latest failure known to the state, for the caller to show. */
  lastFailureMessage: string | undefined;
}

export interface AcknowledgementDependencies {
  store: MonitorStore;
  /** Lost write races tolerated before giving up. @default 5 */
  maxRaceRetries?: number;
}

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new InvalidAckRequestError(
    parsed.error.issues.map((issue) => `${issue.path.join(".") || "request"} ${issue.message}`).join("; "),
  );
}

export class AcknowledgementService {
  readonly #store: MonitorStore;
  readonly #maxRaceRetries: number;

  constructor(deps: AcknowledgementDependencies) {
    this.#store = deps.store;
    this.#maxRaceRetries = deps.maxRaceRetries ?? 5;
  }

  /**
   * Acknowledges the monitor's current incident at `now` (wall clock): reminders stop until it
   * recovers, or for `forMs`. Idempotent: the same person acknowledging again keeps the first
   * `at`, and replaces the note or expiry only with ones given (a repeat without them writes
   * nothing). Someone else's ack replaces the current one; the incident item keeps the first.
   * An expired ack is replaced as if there were none.
   */
  async acknowledge(monitorId: string, request: AckRequest, now: Date): Promise<AckOutcome> {
    const { by, note, forMs, incident } = parse(AckRequestSchema, request);
    const at = now.toISOString();
    return this.#change(monitorId, at, (state, open) => {
      if (incident !== undefined && Date.parse(open.incident.start) !== Date.parse(incident)) {
        throw new IncidentChangedError(monitorId, incident, open.incident.start);
      }
      const current = state.ack && ackHolds(state.ack, at) ? state.ack : undefined;
      // The same person again: an update of their ack, which keeps its time.
      const base = current?.by === by ? current : undefined;
      const keptNote = note ?? base?.note;
      const until = forMs !== undefined ? new Date(now.getTime() + forMs).toISOString() : base?.until;
      const ack: Acknowledgement = {
        by,
        at: base?.at ?? at,
        ...(keptNote !== undefined ? { note: keptNote } : {}),
        ...(until !== undefined ? { until } : {}),
      };
      const unchanged =
        state.ack !== undefined &&
        state.ack.by === ack.by &&
        state.ack.at === ack.at &&
        state.ack.note === ack.note &&
        state.ack.until === ack.until;
      return unchanged ? undefined : { ack, update: (open) => incidentOnAck(open, ack, at) };
    });
  }

  /** Removes the acknowledgement: reminders resume (due at once if their window has passed). */
  async unacknowledge(monitorId: string, request: UnackRequest, now: Date): Promise<AckOutcome> {
    const { by } = parse(UnackRequestSchema, request);
    const at = now.toISOString();
    return this.#change(monitorId, at, (state) =>
      state.ack === undefined
        ? undefined
        : { ack: undefined, update: (open) => incidentOnUnack(open, by, at) },
    );
  }

  /**
   * Load, check, write with the version read; a lost race re-reads and decides again. `decide`
   * returns undefined when there is nothing to write.
   */
  async #change(
    monitorId: string,
    at: string,
    decide: (
      state: MonitorState,
      open: { incident: StateIncident; adopted: boolean },
    ) =>
      | {
          ack: Acknowledgement | undefined;
          update: (open: { incident: StateIncident; adopted: boolean }) => ReturnType<typeof incidentOnAck>;
        }
      | undefined,
  ): Promise<AckOutcome> {
    for (let attempt = 0; attempt <= this.#maxRaceRetries; attempt++) {
      const { config, state } = await this.#store.load(monitorId);
      if (!config) throw new MonitorNotFoundError(monitorId);
      const open = openIncident(state, at);
      if (!state || !open || !inIncident(state))
        throw new NotInIncidentError(monitorId, state?.state ?? "new");
      const outcome = (changed: boolean, ack: Acknowledgement | undefined): AckOutcome => ({
        monitorId,
        changed,
        ack,
        previous: state.ack,
        incidentStart: open.incident.start,
        lastFailureMessage: open.incident.lastFailureMessage ?? undefined,
      });
      const change = decide(state, open);
      if (!change) return outcome(false, state.ack);
      const { ack: _old, ...rest } = state;
      const next: MonitorState = {
        ...rest,
        ...(change.ack ? { ack: change.ack } : {}),
        incident: open.incident,
        version: state.version + 1,
      };
      try {
        await this.#store.saveState(monitorId, next, state.version, { incident: change.update(open) });
        return outcome(true, change.ack);
      } catch (error) {
        if (!(error instanceof StaleStateError)) throw error;
      }
    }
    throw new AckConflictError(
      `the state of ${monitorId} kept changing during ${this.#maxRaceRetries + 1} attempts; nothing was written, try again`,
    );
  }
}
