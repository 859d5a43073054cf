import { periodMinutesOf, phaseOf, rateAnchor } from "./buckets.ts";
import { nextRun, parseSchedule } from "./schedule.ts";
import type { MonitorConfig } from "./schemas.ts";
import { Html, html, join } from "./web-html.ts";

/**
 * The dashboard's pages (issue 14), server-rendered: pure functions from view models to HTML, no
 * I/O and no AWS import. Every page links one stylesheet and one script from /static (the strict
 * CSP allows nothing inline); every value goes through `html`, which escapes it.
 */

type Item = Record<string, unknown>;

export const ASSET_VERSION = "1";

export interface PageContext {
  now: Date;
  /** The signed-in user (absent on the sign-in and ack pages). */
  user?: string | undefined;
  /** The session's CSRF token, put into every POST form. */
  csrf?: string | undefined;
  /** A one-line notice at the top (after an action). */
  notice?: string | undefined;
}

export type DisplayState = "ok" | "alert" | "paused" | "new";

export interface MonitorSummary {
  monitorId: string;
  config: MonitorConfig;
  state: Item | undefined;
}

export interface OverviewRow {
  monitorId: string;
  name: string;
  state: DisplayState;
  since: string | undefined;
  lastRun: string | undefined;
  lastOk: boolean | undefined;
  lastMessage: string | undefined;
  nextRun: string | undefined;
  ackBy: string | undefined;
  schedule: string;
}

const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

export function displayStateOf(monitor: MonitorSummary): DisplayState {
  if (!monitor.config.isActive) return "paused";
  const state = monitor.state?.state;
  return state === "alert" || state === "ok" ? state : "new";
}

/** When the monitor's next run is due after `now` (undefined when unknown or paused). */
export function nextRunOf(monitor: MonitorSummary, now: Date): string | undefined {
  if (!monitor.config.isActive) return undefined;
  try {
    const schedule = parseSchedule(monitor.config.schedule, { now });
    if (schedule.kind === "rate") {
      // The fan-out's cadence: the monitor's phase in its period, counted from the epoch (a
      // monitor migrated with another phase differs by less than one period).
      const phase = phaseOf(monitor.monitorId, periodMinutesOf(schedule));
      return nextRun(schedule, monitor.config.timezone, now, rateAnchor(phase))?.toISOString();
    }
    return nextRun(schedule, monitor.config.timezone, now)?.toISOString();
  } catch {
    return undefined;
  }
}

export function overviewRow(monitor: MonitorSummary, now: Date): OverviewRow {
  const state = displayStateOf(monitor);
  const item = monitor.state;
  const incident = item?.incident as { start?: unknown } | undefined;
  const ack = item?.ack as { by?: unknown; until?: unknown } | undefined;
  const ackHolds = ack && (typeof ack.until !== "string" || ack.until > now.toISOString());
  return {
    monitorId: monitor.monitorId,
    name: monitor.config.name || monitor.monitorId,
    state,
    since:
      state === "alert"
        ? (str(incident?.start) ?? str(item?.lastNotificationDt))
        : item?.lastNotificationType === "recovery"
          ? str(item?.lastNotificationDt)
          : undefined,
    lastRun: str(item?.lastRunDt),
    lastOk: typeof item?.lastResultOk === "boolean" ? item.lastResultOk : undefined,
    lastMessage: str(item?.lastResultMessage),
    nextRun: nextRunOf(monitor, now),
    ackBy: state === "alert" && ackHolds ? str(ack?.by) : undefined,
    schedule: monitor.config.schedule,
  };
}

/** Alerts first (unacknowledged before acknowledged), then new, OK and paused monitors, by name. */
export function sortRows(rows: OverviewRow[]): OverviewRow[] {
  const RANK: Record<DisplayState, number> = { alert: 0, new: 2, ok: 3, paused: 4 };
  const rank = (row: OverviewRow) => RANK[row.state] + (row.ackBy ? 1 : 0);
  return [...rows].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

// ---- formatting -------------------------------------------------------------------------------

export function formatSpan(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  if (minutes < 1) return "<1 min";
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.round(hours / 24)} d`;
}

/** A time as a <time> element: relative text, the exact UTC instant in its title. */
function time(iso: string | undefined, now: Date, future = false): Html {
  if (!iso || Number.isNaN(Date.parse(iso))) return html`<span class="muted">–</span>`;
  const span = formatSpan(Date.parse(iso) - now.getTime());
  const text = future ? `in ${span}` : `${span} ago`;
  return html`<time datetime="${iso}" title="${iso}">${text}</time>`;
}

/** A past time as compact text ("12 min ago"), empty when unknown. */
function ago(iso: string | undefined, now: Date): string {
  if (!iso || Number.isNaN(Date.parse(iso))) return "";
  return `${formatSpan(now.getTime() - Date.parse(iso))} ago`;
}

const STATE_LABEL: Record<DisplayState, string> = { ok: "OK", alert: "ALERT", paused: "paused", new: "new" };

function badge(state: DisplayState, acked?: boolean): Html {
  return html`<span class="badge ${state}${acked ? " acked" : ""}">${STATE_LABEL[state]}${acked ? " · acked" : ""}</span>`;
}

export const monitorPath = (monitorId: string) => `/monitors/${encodeURIComponent(monitorId)}`;

function truncate(text: string | undefined, max: number): string {
  if (!text) return "";
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

// ---- layout -----------------------------------------------------------------------------------

export function layout(ctx: PageContext, title: string, body: Html, options: { nav?: boolean } = {}): string {
  const nav = options.nav !== false && ctx.user;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · Watchkeeper</title>
<link rel="stylesheet" href="/static/app.css?v=${ASSET_VERSION}">
<script src="/static/app.js?v=${ASSET_VERSION}" defer></script>
</head>
<body>
<header class="top">
<a class="brand" href="/monitors">Watchkeeper</a>
${
  nav
    ? html`<nav><a href="/monitors">Monitors</a><a href="/incidents">Incidents</a></nav>
<form method="post" action="/signout" class="signout"><input type="hidden" name="csrf" value="${ctx.csrf}"><span class="user">${ctx.user}</span><button type="submit">Sign out</button></form>`
    : ""
}
</header>
<main>
${ctx.notice ? html`<p class="notice" role="status">${ctx.notice}</p>` : ""}
${body}
</main>
</body>
</html>
`.value;
}

/** A POST form with the session's CSRF token and one button. */
function actionForm(ctx: PageContext, action: string, label: string, extra: Html = html``): Html {
  return html`<form method="post" action="${action}" class="action"><input type="hidden" name="csrf" value="${ctx.csrf}">${extra}<button type="submit">${label}</button></form>`;
}

// ---- pages ------------------------------------------------------------------------------------

export function overviewPage(ctx: PageContext, rows: OverviewRow[]): string {
  const counts = { alert: 0, ok: 0, paused: 0, new: 0 };
  for (const row of rows) counts[row.state]++;
  const body = html`<h1>Monitors</h1>
<p class="summary"><span class="badge alert">${counts.alert} in alert</span> <span class="badge ok">${counts.ok} OK</span> <span class="badge paused">${counts.paused} paused</span> <span class="badge new">${counts.new} new</span>
<input type="search" id="filter" placeholder="Filter by name or id" aria-label="Filter monitors"></p>
<table class="monitors" id="monitors">
<thead><tr><th>Monitor</th><th>State</th><th>Since</th><th>Last run</th><th>Next run</th><th>Acked by</th><th>Runs</th></tr></thead>
<tbody>
${rows.map(
  // Compact on purpose (1,000 rows stay under 200 KB): optional end tags left out, relative
  // times as text; the sparkline cell finds its monitor through the row's link.
  (
    row,
  ) => html`<tr class="${row.state}${row.ackBy !== undefined ? " acked" : ""}"><td><a href="${monitorPath(row.monitorId)}">${row.name}</a>${row.name !== row.monitorId ? html` <small>${row.monitorId}</small>` : ""}${row.state === "alert" && row.lastMessage ? html`<br><small class="msg">${truncate(row.lastMessage, 80)}</small>` : ""}<td>${STATE_LABEL[row.state]}${row.ackBy !== undefined ? " · acked" : ""}<td>${ago(row.since, ctx.now)}<td>${ago(row.lastRun, ctx.now)}${row.lastOk === false ? html` <b class="fail">fail</b>` : ""}<td>${row.nextRun ? `in ${formatSpan(Date.parse(row.nextRun) - ctx.now.getTime())}` : ""}<td>${row.ackBy ?? ""}<td class="s">
`,
)}
</tbody>
</table>
${rows.length === 0 ? html`<p>No monitors yet: add one with <code>watchkeeper add</code>.</p>` : ""}`;
  return layout(ctx, "Monitors", body);
}

export interface MonitorDetail {
  summary: MonitorSummary;
  /** Run items, newest first. */
  runs: Item[];
  /** Notification log items, newest first. */
  notifications: Item[];
  /** Incident items, newest first. */
  incidents: Item[];
}

const QUIET_REASONS: Record<string, string> = {
  healthy: "no mail: healthy",
  recovering: "no mail: recovering, not enough consecutive OKs yet",
  "reminder-window": "no mail: the next reminder is not due yet",
  "reminders-disabled": "no mail: reminders are off for this monitor",
  "awaiting-delivery": "no mail: the previous notification is still being delivered",
  acknowledged: "no mail: the incident is acknowledged",
  "no-recipients": "no mail: the monitor has no recipients",
};

const NOTIFICATION_LABEL: Record<string, string> = {
  alert: "ALERT",
  reminder: "REMINDER",
  recovery: "RECOVERED",
};

/** Why a run did or did not send mail, from its run item and the notification log. */
export function mailOutcome(run: Item, notifications: Item[]): string {
  if (run.kind === "summary") {
    return `${Number(run.count ?? 0)} quiet OK runs (no mail)`;
  }
  const type = str(run.notification);
  if (type) {
    if (run.quietReason === "no-recipients")
      return `${NOTIFICATION_LABEL[type] ?? type} decided; no recipients`;
    const receipt = notifications.find((item) => item.tickTime === run.scheduledTime && item.type === type);
    const label = NOTIFICATION_LABEL[type] ?? type;
    if (!receipt) return `${label} decided, delivery pending`;
    if (receipt.outcome === "abandoned")
      return `${label} abandoned: ${str(receipt.error) ?? "not delivered"}`;
    const recipients = Array.isArray(receipt.recipients) ? receipt.recipients.length : 0;
    return `${label} sent to ${recipients} recipient${recipients === 1 ? "" : "s"}`;
  }
  const reason = str(run.quietReason);
  return reason ? (QUIET_REASONS[reason] ?? `no mail: ${reason}`) : "no mail";
}

export function monitorPage(ctx: PageContext, detail: MonitorDetail): string {
  const { summary } = detail;
  const { config } = summary;
  const row = overviewRow(summary, ctx.now);
  const item = summary.state;
  const ack = item?.ack as { by?: string; at?: string; note?: string; until?: string } | undefined;
  const id = summary.monitorId;
  const path = monitorPath(id);
  const actions: Html[] = [];
  if (row.state === "alert") {
    actions.push(
      row.ackBy
        ? actionForm(ctx, `${path}/unack`, "Unacknowledge")
        : actionForm(
            ctx,
            `${path}/ack`,
            "Acknowledge",
            html`<input type="text" name="note" maxlength="500" placeholder="Note (optional)" aria-label="Note">`,
          ),
    );
  }
  actions.push(
    config.isActive ? actionForm(ctx, `${path}/pause`, "Pause") : actionForm(ctx, `${path}/resume`, "Resume"),
  );
  if (config.isActive) actions.push(actionForm(ctx, `${path}/run`, "Run now"));
  const body = html`<p><a href="/monitors">← All monitors</a></p>
<h1>${row.name} ${badge(row.state, row.ackBy !== undefined)}</h1>
${row.state === "alert" && row.lastMessage ? html`<p class="lead">${truncate(row.lastMessage, 400)}</p>` : ""}
${
  row.state === "alert" && ack?.by
    ? html`<p class="ack">Acknowledged by <strong>${ack.by}</strong> ${time(ack.at, ctx.now)}${ack.note ? html`: “${ack.note}”` : ""}${ack.until ? html` (until ${ack.until})` : ""}</p>`
    : ""
}
<div class="actions">${actions}</div>
<section><h2>Configuration</h2>
<dl class="config">
<dt>Id</dt><dd><code>${id}</code></dd>
<dt>Check</dt><dd>${config.check}</dd>
<dt>Schedule</dt><dd>${config.schedule} (${config.timezone})</dd>
<dt>Recipients</dt><dd>${config.peopleToNotify.length === 0 ? "none" : config.peopleToNotify.join(", ")}</dd>
<dt>Recovery after</dt><dd>${config.requiredConsecutiveOks} consecutive OK${config.requiredConsecutiveOks === 1 ? "" : "s"}</dd>
<dt>Reminders</dt><dd>${config.reminderFrequencyMinutes > 0 ? `every ${config.reminderFrequencyMinutes} min` : "off"}</dd>
<dt>Last run</dt><dd>${time(row.lastRun, ctx.now)}</dd>
<dt>Next run</dt><dd>${time(row.nextRun, ctx.now, true)}</dd>
${config.runbookUrl && /^https?:\/\//i.test(config.runbookUrl) ? html`<dt>Runbook</dt><dd><a href="${config.runbookUrl}" rel="noopener noreferrer">${config.runbookUrl}</a></dd>` : ""}
</dl></section>
<section><h2>Runs</h2>
${
  detail.runs.length === 0
    ? html`<p class="muted">No runs recorded yet.</p>`
    : html`<table class="timeline"><thead><tr><th>Run</th><th>Result</th><th>State</th><th>Mail</th><th>Message</th></tr></thead><tbody>
${detail.runs.map(
  (run) => html`<tr>
<td>${time(str(run.scheduledTime) ?? str(run.to), ctx.now)}</td>
<td>${run.kind === "summary" ? html`<span class="ok">${Number(run.count ?? 0)} OK</span>` : run.isOk ? html`<span class="ok">OK</span>` : html`<span class="fail">FAIL</span>`}</td>
<td>${str(run.state) ?? ""}</td>
<td>${mailOutcome(run, detail.notifications)}</td>
<td class="msg">${truncate(str(run.message), 200)}</td>
</tr>`,
)}
</tbody></table>`
}</section>
<section><h2>Incidents</h2>${incidentTable(ctx, detail.incidents, false)}</section>`;
  return layout(ctx, row.name, body);
}

function incidentTable(ctx: PageContext, incidents: Item[], withMonitor: boolean): Html {
  if (incidents.length === 0) return html`<p class="muted">No incidents.</p>`;
  return html`<table class="incidents"><thead><tr>${withMonitor ? html`<th>Monitor</th>` : ""}<th>Opened</th><th>Acknowledged</th><th>Resolved</th><th>Duration</th><th>Mail</th><th>First failure</th></tr></thead><tbody>
${incidents.map((incident) => {
  const start = str(incident.openedAt) ?? String(incident.record ?? "").replace(/^incident#/, "");
  const duration =
    typeof incident.durationMs === "number"
      ? formatSpan(incident.durationMs)
      : Number.isNaN(Date.parse(start))
        ? "–"
        : `${formatSpan(ctx.now.getTime() - Date.parse(start))} (open)`;
  const count = (value: unknown, one: string, many: string) => {
    const n = Number(value ?? 0);
    return `${n} ${n === 1 ? one : many}`;
  };
  const mail = [
    count(incident.alertsSent, "alert", "alerts"),
    count(incident.remindersSent, "reminder", "reminders"),
    count(incident.recoveriesSent, "recovery", "recoveries"),
  ].join(", ");
  const ackBy = str(incident.acknowledgedBy) ?? str(incident.firstAcknowledgedBy);
  return html`<tr>
${withMonitor ? html`<td><a href="${monitorPath(String(incident.monitorId))}">${String(incident.monitorId)}</a></td>` : ""}
<td>${time(start, ctx.now)}</td>
<td>${ackBy ? html`${ackBy} ${time(str(incident.acknowledgedAt) ?? str(incident.firstAcknowledgedAt), ctx.now)}` : html`<span class="muted">no</span>`}</td>
<td>${incident.resolvedAt ? time(str(incident.resolvedAt), ctx.now) : html`<span class="badge alert">open</span>`}</td>
<td>${duration}</td>
<td>${mail}</td>
<td class="msg">${truncate(str(incident.firstFailureMessage), 160)}</td>
</tr>`;
})}
</tbody></table>`;
}

export function incidentsPage(ctx: PageContext, incidents: Item[], sinceDays: number): string {
  const body = html`<h1>Incidents</h1>
<p class="muted">Open incidents and those resolved in the last ${sinceDays} days, newest first.</p>
${incidentTable(ctx, incidents, true)}`;
  return layout(ctx, "Incidents", body);
}

export type SignInStep =
  | { kind: "password"; username?: string }
  | { kind: "new-password"; username: string; session: string }
  | { kind: "mfa"; username: string; session: string };

export function signInPage(ctx: PageContext, step: SignInStep, error?: string): string {
  const fields =
    step.kind === "password"
      ? html`<label>User name <input name="username" autocomplete="username" required value="${step.username ?? ""}"></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<input type="hidden" name="step" value="password">`
      : step.kind === "new-password"
        ? html`<p>Choose a new password (at least 12 characters, with upper and lower case letters, a digit and a symbol).</p>
<label>New password <input type="password" name="newPassword" autocomplete="new-password" required minlength="12"></label>
<input type="hidden" name="step" value="new-password"><input type="hidden" name="username" value="${step.username}"><input type="hidden" name="session" value="${step.session}">`
        : html`<label>Code from your authenticator app <input name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required></label>
<input type="hidden" name="step" value="mfa"><input type="hidden" name="username" value="${step.username}"><input type="hidden" name="session" value="${step.session}">`;
  const body = html`<section class="signin"><h1>Sign in</h1>
${error ? html`<p class="error" role="alert">${error}</p>` : ""}
<form method="post" action="/signin">${fields}<button type="submit">Sign in</button></form>
</section>`;
  return layout(ctx, "Sign in", body, { nav: false });
}

export interface AckConfirmation {
  token: string;
  monitorId: string;
  name: string;
  recipient: string;
  incidentStart: string;
  /** The incident this link is for is the open one. */
  open: boolean;
  lastFailureMessage?: string | undefined;
  ackBy?: string | undefined;
}

export function ackConfirmPage(ctx: PageContext, confirmation: AckConfirmation): string {
  const { name, recipient, incidentStart } = confirmation;
  const body = confirmation.open
    ? html`<section class="confirm"><h1>Acknowledge ${name}?</h1>
${confirmation.lastFailureMessage ? html`<p class="lead">${truncate(confirmation.lastFailureMessage, 400)}</p>` : ""}
<p>Failing since ${time(incidentStart, ctx.now)} (<code>${incidentStart}</code>).${confirmation.ackBy ? html` Already acknowledged by <strong>${confirmation.ackBy}</strong>.` : ""}</p>
<p>Acknowledging as <strong>${recipient}</strong> stops the reminders of this incident for everyone. The recovery mail still goes out when it recovers. Nothing changes until you press the button.</p>
<form method="post" action="/ack"><input type="hidden" name="t" value="${confirmation.token}">
<label>Note (optional) <input type="text" name="note" maxlength="500"></label>
<button type="submit">Acknowledge</button></form>
</section>`
    : html`<section class="confirm"><h1>This incident is over</h1>
<p>The incident of ${name} that started at <code>${incidentStart}</code> has ended; nothing was acknowledged.</p></section>`;
  return layout(ctx, `Acknowledge ${name}`, body, { nav: false });
}

export function messagePage(
  ctx: PageContext,
  title: string,
  message: string,
  link?: { href: string; label: string },
) {
  const body = html`<section class="confirm"><h1>${title}</h1><p>${message}</p>${link ? html`<p><a href="${link.href}">${link.label}</a></p>` : ""}</section>`;
  return layout(ctx, title, body, { nav: ctx.user !== undefined });
}

export { Html, html, join };
