import { INCIDENT_PREFIX } from "#core/incident.ts";
import type { Item } from "./monitors-table.ts";

/** Incident items as the CLI shows them, and the MTTA / MTTR that `health` reports. */

/**
 * `open`: in progress. `resolved`: RECOVERED. `closed`: still open on its item, but the monitor is
 * no longer in it (its state was reset or removed, or a newer incident replaced it): it ended
 * without a recovery, and counts toward neither MTTR nor the open incidents.
 */
export type IncidentStatus = "open" | "resolved" | "closed";

export interface IncidentView {
  monitorId: string;
  start: string;
  status: IncidentStatus;
  openedAt: string;
  adopted: boolean;
  resolvedAt: string | null;
  /** To the resolution; to now while open; null when closed without recovery. */
  durationMs: number | null;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
  ackNote: string | null;
  ackUntil: string | null;
  firstAcknowledgedBy: string | null;
  firstAcknowledgedAt: string | null;
  /** From opening to the first acknowledgement. */
  timeToAckMs: number | null;
  notifications: { alert: number; reminder: number; recovery: number; abandoned: number };
  firstFailureMessage: string | null;
  lastFailureMessage: string | null;
  lastFailureAt: string | null;
}

const text = (value: unknown) => (typeof value === "string" ? value : null);
const count = (value: unknown) => (typeof value === "number" ? value : 0);
const span = (from: string | null, to: string | null) =>
  from && to && Number.isFinite(Date.parse(from)) && Number.isFinite(Date.parse(to))
    ? Math.max(0, Date.parse(to) - Date.parse(from))
    : null;

/**
 * One incident item, judged against its monitor's state item: an unresolved incident is open only
 * if the state still points at it.
 */
export function incidentView(item: Item, state: Item | undefined, now: Date): IncidentView {
  const start = String(item.record).slice(INCIDENT_PREFIX.length);
  const openedAt = text(item.openedAt) ?? start;
  const resolvedAt = text(item.resolvedAt);
  const current = (state?.incident as { start?: unknown } | undefined)?.start === start;
  const status: IncidentStatus = resolvedAt ? "resolved" : current ? "open" : "closed";
  const firstAcknowledgedAt = text(item.firstAcknowledgedAt);
  return {
    monitorId: String(item.monitorId),
    start,
    status,
    openedAt,
    adopted: item.adopted === true,
    resolvedAt,
    durationMs:
      status === "resolved"
        ? typeof item.durationMs === "number"
          ? item.durationMs
          : span(openedAt, resolvedAt)
        : status === "open"
          ? span(openedAt, now.toISOString())
          : null,
    acknowledgedBy: text(item.acknowledgedBy),
    acknowledgedAt: text(item.acknowledgedAt),
    ackNote: text(item.ackNote),
    ackUntil: text(item.ackUntil),
    firstAcknowledgedBy: text(item.firstAcknowledgedBy),
    firstAcknowledgedAt,
    timeToAckMs: span(openedAt, firstAcknowledgedAt),
    notifications: {
      alert: count(item.alertsSent),
      reminder: count(item.remindersSent),
      recovery: count(item.recoveriesSent),
      abandoned: count(item.notificationsAbandoned),
    },
    firstFailureMessage: text(item.firstFailureMessage),
    lastFailureMessage: text(item.lastFailureMessage),
    lastFailureAt: text(item.lastFailureAt),
  };
}

export interface IncidentStats {
  /** Incidents opened in the window. */
  opened: number;
  acknowledged: number;
  resolved: number;
  /** Still open now. */
  open: number;
  /** Mean time to acknowledge, over the window's incidents that were acknowledged. */
  mttaMs: number | null;
  /** Mean time to resolve (open to RECOVERED), over the window's incidents that recovered. */
  mttrMs: number | null;
}

const mean = (values: number[]) =>
  values.length === 0 ? null : Math.round(values.reduce((sum, value) => sum + value, 0) / values.length);

/**
 * MTTA and MTTR over the incidents opened at or after `since`. Adopted incidents (opened before
 * incidents were recorded: their start is unknown) are counted but left out of both means.
 */
export function incidentStats(views: readonly IncidentView[], since: Date): IncidentStats {
  const opened = views.filter((view) => Date.parse(view.openedAt) >= since.getTime());
  const timed = opened.filter((view) => !view.adopted);
  const acked = timed.filter((view) => view.timeToAckMs !== null);
  const resolved = timed.filter((view) => view.status === "resolved" && view.durationMs !== null);
  return {
    opened: opened.length,
    acknowledged: opened.filter((view) => view.timeToAckMs !== null).length,
    resolved: opened.filter((view) => view.status === "resolved").length,
    open: opened.filter((view) => view.status === "open").length,
    mttaMs: mean(acked.map((view) => view.timeToAckMs as number)),
    mttrMs: mean(resolved.map((view) => view.durationMs as number)),
  };
}
