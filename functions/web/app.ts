import { randomBytes, timingSafeEqual } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { Authenticator, AuthTokens } from "#adapters/cognito-auth.ts";
import {
  AckConflictError,
  type AcknowledgementService,
  IncidentChangedError,
  InvalidAckRequestError,
  MonitorNotFoundError,
  NotInIncidentError,
} from "#core/ack.ts";
import { type AckLinkKeySource, verifyAckLink } from "#core/ack-link.ts";
import { type Logger, type MonitorStore, silentLogger } from "#core/ports.ts";
import { parseConfigLeniently } from "#core/schemas.ts";
import {
  ackConfirmPage,
  incidentsPage,
  type MonitorDetail,
  type MonitorSummary,
  messagePage,
  monitorPage,
  monitorPath,
  overviewPage,
  overviewRow,
  type PageContext,
  type SignInStep,
  signInPage,
  sortRows,
} from "#core/web-pages.ts";
import { STATIC_ASSETS } from "./assets.ts";
import type { AccessTokenVerifier, SessionUser } from "./session.ts";

/**
 * The dashboard's HTTP application (issue 14): one function from an API Gateway HTTP API (payload
 * 2.0) event to its response, served by Lambda in AWS and by a node:http adapter locally
 * (local/web-server.ts). Every dashboard route needs a verified Cognito session (in AWS the API's
 * authorizer checks it first; this checks again, and is the only check locally); /signin, /static
 * and /ack are public by design: their credential is the form, nothing, or the signed link.
 */

type Item = Record<string, unknown>;
export type Sparkline = Array<"ok" | "fail" | "quiet">;

/** What the pages read (functions/adapters/dashboard-store.ts over the Monitors table). */
export interface DashboardReads {
  /** Config and state of every monitor, through one query path (a projected scan). */
  overview(): Promise<MonitorSummary[]>;
  monitor(monitorId: string): Promise<MonitorDetail | undefined>;
  /** Incident items open or resolved since `since`, newest first. */
  incidents(since: Date): Promise<Item[]>;
  /** The latest runs of these monitors, oldest first (at most 50 monitors per call). */
  sparklines(monitorIds: readonly string[]): Promise<Record<string, Sparkline>>;
}

/** The config and tick writes the dashboard makes (functions/adapters/dashboard-store.ts). */
export interface MonitorControl {
  /** Sets the config item's isActive; returns whether it changed. Throws MonitorNotFoundError. */
  setActive(monitorId: string, isActive: boolean): Promise<boolean>;
  /** Sends a manual tick, as `watchkeeper run` does. */
  runNow(monitorId: string, at: Date): Promise<void>;
}

export interface WebAppDependencies {
  reads: DashboardReads;
  control: MonitorControl;
  /** The state store the ack use case and the ack confirmation page read. */
  store: MonitorStore;
  acks: AcknowledgementService;
  auth: Authenticator;
  sessions: AccessTokenVerifier;
  linkKeys: AckLinkKeySource;
  /** Secure cookies with the __Host- prefix and HSTS (false only on http://127.0.0.1). */
  secureCookies: boolean;
  /** The origin POSTs must come from; absent: the request's own scheme and Host. */
  origin?: string | undefined;
  /** Lifetime of the refresh token cookie. @default 86400 (the pool client's refresh validity) */
  refreshCookieSeconds?: number;
  logger?: Logger;
  clock?: () => Date;
}

/** What an action's redirect says on the monitor page (`?done=<code>`). */
const NOTICES = {
  acked: "Acknowledged: reminders stop until it recovers.",
  "already-acked": "Already acknowledged.",
  unacked: "Unacknowledged: reminders resume.",
  "not-acked": "It was not acknowledged.",
  paused: "Paused: no checks, no mail.",
  "already-paused": "Already paused.",
  resumed: "Resumed.",
  "already-resumed": "Already resumed.",
  queued: "Queued a run now; reload in a few seconds for its result.",
} as const;
type NoticeCode = keyof typeof NOTICES;

export type WebResult = APIGatewayProxyStructuredResultV2 & {
  headers: Record<string, string>;
  cookies: string[];
};

/** Content-Security-Policy of every response: nothing inline, nothing from elsewhere. */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Refresh the access token when less than this is left of it. */
const REFRESH_MARGIN_SECONDS = 15 * 60;
const INCIDENT_DAYS = 30;
const MAX_SPARKLINE_IDS = 50;
const MAX_BODY_BYTES = 16_384;

interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  cookies: Map<string, string>;
  form: URLSearchParams;
}

/** An action the monitor's current config refuses (run now while paused): shown as 409. */
export class RefusedActionError extends Error {
  override name = "RefusedActionError";
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function createWebApp(deps: WebAppDependencies) {
  const logger = deps.logger ?? silentLogger;
  const clock = deps.clock ?? (() => new Date());
  const prefix = deps.secureCookies ? "__Host-" : "";
  const COOKIE = { access: `${prefix}wk_at`, refresh: `${prefix}wk_rt`, csrf: `${prefix}wk_csrf` };

  function cookie(name: string, value: string, maxAgeSeconds: number): string {
    return [
      `${name}=${value}`,
      "Path=/",
      `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
      "HttpOnly",
      "SameSite=Strict",
      ...(deps.secureCookies ? ["Secure"] : []),
    ].join("; ");
  }

  function respond(
    status: number,
    body: string,
    contentType = "text/html; charset=utf-8",
    extra: { headers?: Record<string, string>; cookies?: string[] } = {},
  ): WebResult {
    return {
      statusCode: status,
      headers: {
        "content-type": contentType,
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on form POSTs,
        // which the Origin check must refuse. Other origins still get no referrer (no ack token).
        "referrer-policy": "same-origin",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-resource-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
        "cache-control": "no-store",
        ...(deps.secureCookies ? { "strict-transport-security": "max-age=31536000; includeSubDomains" } : {}),
        ...extra.headers,
      },
      body,
      cookies: extra.cookies ?? [],
    };
  }

  const redirect = (location: string, cookies: string[] = []) =>
    respond(303, "", "text/plain; charset=utf-8", { headers: { location }, cookies });

  function sessionCookies(tokens: AuthTokens, csrf: string | undefined): string[] {
    const refreshSeconds = deps.refreshCookieSeconds ?? 86_400;
    return [
      cookie(COOKIE.access, tokens.accessToken, tokens.expiresIn),
      ...(tokens.refreshToken ? [cookie(COOKIE.refresh, tokens.refreshToken, refreshSeconds)] : []),
      ...(csrf ? [] : [cookie(COOKIE.csrf, randomBytes(24).toString("base64url"), refreshSeconds)]),
    ];
  }

  const clearCookies = () => Object.values(COOKIE).map((name) => cookie(name, "", 0));

  /** The verified user, refreshing the access token when it is missing or about to expire. */
  async function session(
    request: Request,
  ): Promise<{ user: SessionUser; csrf: string | undefined; cookies: string[] } | undefined> {
    const access = request.cookies.get(COOKIE.access);
    const result = await verifiedSession(request, access);
    if (!result || result.csrf) return result;
    // A session without its CSRF cookie (cleared by hand) gets a new one.
    const csrf = randomBytes(24).toString("base64url");
    return {
      ...result,
      csrf,
      cookies: [...result.cookies, cookie(COOKIE.csrf, csrf, deps.refreshCookieSeconds ?? 86_400)],
    };
  }

  async function verifiedSession(
    request: Request,
    access: string | undefined,
  ): Promise<{ user: SessionUser; csrf: string | undefined; cookies: string[] } | undefined> {
    const csrf = request.cookies.get(COOKIE.csrf);
    let user: SessionUser | undefined;
    if (access) user = await deps.sessions.verify(access).catch(() => undefined);
    const nowSeconds = clock().getTime() / 1000;
    if (user && user.exp - nowSeconds > REFRESH_MARGIN_SECONDS) return { user, csrf, cookies: [] };
    const refreshToken = request.cookies.get(COOKIE.refresh);
    if (!refreshToken) return user ? { user, csrf, cookies: [] } : undefined;
    const tokens = await deps.auth.refresh(refreshToken).catch(() => undefined);
    const refreshed = tokens && (await deps.sessions.verify(tokens.accessToken).catch(() => undefined));
    if (!tokens || !refreshed) return user ? { user, csrf, cookies: [] } : undefined;
    return { user: refreshed, csrf, cookies: [cookie(COOKIE.access, tokens.accessToken, tokens.expiresIn)] };
  }

  function expectedOrigin(request: Request): string {
    if (deps.origin) return deps.origin.replace(/\/$/, "");
    return `${deps.secureCookies ? "https" : "http"}://${request.headers.host ?? ""}`;
  }

  /** POSTs must come from the dashboard's own pages (SameSite=Strict cookies are the other half). */
  function checkOrigin(request: Request): void {
    const origin = request.headers.origin;
    if (!origin || origin !== expectedOrigin(request)) {
      throw new HttpError(403, "This request did not come from the dashboard's own page (Origin check).");
    }
  }

  function checkCsrf(request: Request, csrf: string | undefined): void {
    checkOrigin(request);
    const given = Buffer.from(request.form.get("csrf") ?? "");
    const expected = Buffer.from(csrf ?? "");
    if (expected.length === 0 || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new HttpError(403, "The form has expired or did not come from this session: reload the page.");
    }
  }

  async function signInPost(request: Request, ctx: PageContext): Promise<WebResult> {
    checkOrigin(request);
    const { form } = request;
    const step = form.get("step");
    const username = (form.get("username") ?? "").trim().slice(0, 128);
    const session = (form.get("session") ?? "").slice(0, 4096);
    let result: Awaited<ReturnType<Authenticator["signIn"]>>;
    if (step === "new-password") {
      result = await deps.auth.newPassword(username, form.get("newPassword") ?? "", session);
    } else if (step === "mfa") {
      result = await deps.auth.mfaCode(username, (form.get("code") ?? "").trim(), session);
    } else {
      if (!username || !form.get("password")) {
        return respond(
          400,
          signInPage(ctx, { kind: "password", username }, "Enter your user name and password."),
        );
      }
      result = await deps.auth.signIn(username, form.get("password") ?? "");
    }
    if (result.kind === "signed-in") {
      logger.info("signed in", { username });
      return redirect("/monitors", sessionCookies(result.tokens, undefined));
    }
    if (result.kind === "challenge") {
      const next: SignInStep =
        result.challenge === "NEW_PASSWORD_REQUIRED"
          ? { kind: "new-password", username, session: result.session }
          : { kind: "mfa", username, session: result.session };
      return respond(200, signInPage(ctx, next));
    }
    logger.warn("sign-in refused", { username, reason: result.reason });
    const again: SignInStep =
      step === "new-password" || step === "mfa"
        ? { kind: step, username, session }
        : { kind: "password", username };
    return respond(401, signInPage(ctx, again, result.reason));
  }

  async function ackLinkGet(request: Request, ctx: PageContext): Promise<WebResult> {
    const token = request.query.get("t");
    const verified = await verifyAckLink(token, deps.linkKeys, ctx.now);
    if (!verified.ok) {
      return respond(
        verified.reason === "expired" ? 410 : 400,
        messagePage(ctx, "This link does not work", verified.message),
      );
    }
    const { claims } = verified;
    const { config, state } = await deps.store.load(claims.monitorId);
    if (!config)
      return respond(
        404,
        messagePage(ctx, "No such monitor", `There is no monitor ${claims.monitorId} any more.`),
      );
    const { config: parsed } = parseConfigLeniently(claims.monitorId, config);
    const open =
      state?.state === "alert" &&
      state.incident !== undefined &&
      Date.parse(state.incident.start) === Date.parse(claims.incident);
    return respond(
      200,
      ackConfirmPage(ctx, {
        token: token ?? "",
        monitorId: claims.monitorId,
        name: parsed.name || claims.monitorId,
        recipient: claims.recipient,
        incidentStart: claims.incident,
        open,
        lastFailureMessage: open
          ? (state?.incident?.lastFailureMessage ?? state?.lastResultMessage)
          : undefined,
        ackBy: open ? state?.ack?.by : undefined,
      }),
    );
  }

  async function ackLinkPost(request: Request, ctx: PageContext): Promise<WebResult> {
    checkOrigin(request);
    const verified = await verifyAckLink(request.form.get("t"), deps.linkKeys, ctx.now);
    if (!verified.ok) {
      return respond(
        verified.reason === "expired" ? 410 : 400,
        messagePage(ctx, "This link does not work", verified.message),
      );
    }
    const { claims } = verified;
    const note = request.form.get("note") ?? undefined;
    try {
      const outcome = await deps.acks.acknowledge(
        claims.monitorId,
        { by: claims.recipient, incident: claims.incident, ...(note ? { note } : {}) },
        ctx.now,
      );
      logger.info("acknowledged by link", { monitorId: claims.monitorId, by: claims.recipient });
      return respond(
        200,
        messagePage(
          ctx,
          "Acknowledged",
          outcome.changed
            ? `Acknowledged as ${claims.recipient}: the reminders of this incident stop. Everyone still gets the recovery mail.`
            : `${claims.monitorId} was already acknowledged as ${claims.recipient}: nothing changed.`,
          { href: monitorPath(claims.monitorId), label: "Open the monitor on the dashboard" },
        ),
      );
    } catch (error) {
      if (error instanceof IncidentChangedError || error instanceof NotInIncidentError) {
        return respond(
          409,
          messagePage(
            ctx,
            "This incident is over",
            `The incident this link was sent for has ended; nothing was acknowledged.`,
          ),
        );
      }
      if (error instanceof MonitorNotFoundError) {
        return respond(
          404,
          messagePage(ctx, "No such monitor", `There is no monitor ${claims.monitorId} any more.`),
        );
      }
      if (error instanceof AckConflictError || error instanceof InvalidAckRequestError) {
        // The monitor's state kept changing under the write (its ticks), or the request was refused.
        return respond(
          409,
          messagePage(ctx, "Not acknowledged yet", `${error.message} Nothing was changed: try again.`),
        );
      }
      throw error;
    }
  }

  async function monitorAction(
    request: Request,
    ctx: PageContext,
    user: SessionUser,
    monitorId: string,
    action: string,
  ): Promise<WebResult> {
    const now = ctx.now;
    let notice: NoticeCode;
    try {
      switch (action) {
        case "ack": {
          const note = request.form.get("note") ?? undefined;
          const outcome = await deps.acks.acknowledge(
            monitorId,
            { by: user.username, ...(note ? { note } : {}) },
            now,
          );
          notice = outcome.changed ? "acked" : "already-acked";
          break;
        }
        case "unack": {
          const outcome = await deps.acks.unacknowledge(monitorId, { by: user.username }, now);
          notice = outcome.changed ? "unacked" : "not-acked";
          break;
        }
        case "pause":
        case "resume": {
          const changed = await deps.control.setActive(monitorId, action === "resume");
          notice =
            action === "pause"
              ? changed
                ? "paused"
                : "already-paused"
              : changed
                ? "resumed"
                : "already-resumed";
          break;
        }
        case "run":
          await deps.control.runNow(monitorId, now);
          notice = "queued";
          break;
        default:
          throw new HttpError(404, "No such action.");
      }
    } catch (error) {
      if (error instanceof MonitorNotFoundError)
        throw new HttpError(404, `There is no monitor ${monitorId}.`);
      if (
        error instanceof NotInIncidentError ||
        error instanceof IncidentChangedError ||
        error instanceof InvalidAckRequestError ||
        error instanceof RefusedActionError ||
        error instanceof AckConflictError
      ) {
        throw new HttpError(409, error.message);
      }
      throw error;
    }
    logger.info("dashboard action", { monitorId, action, by: user.username });
    return redirect(`${monitorPath(monitorId)}?done=${notice}`);
  }

  async function route(request: Request): Promise<WebResult> {
    const now = clock();
    const ctx: PageContext = { now };
    const { method, path } = request;

    const asset = STATIC_ASSETS[path];
    if (asset && method === "GET") {
      return respond(200, asset.body, asset.contentType, {
        headers: { "cache-control": "public, max-age=300", etag: asset.etag },
      });
    }
    if (path === "/signin") {
      if (method === "GET") return respond(200, signInPage(ctx, { kind: "password" }));
      if (method === "POST") return signInPost(request, ctx);
    }
    if (path === "/ack") {
      if (method === "GET") return ackLinkGet(request, ctx);
      if (method === "POST") return ackLinkPost(request, ctx);
    }
    if (path === "/" && method === "GET") return redirect("/monitors");

    // Everything else is the dashboard: a verified session first.
    const current = await session(request);
    if (!current) {
      if (path.startsWith("/api/"))
        return respond(401, JSON.stringify({ message: "sign in" }), "application/json");
      return redirect("/signin", method === "GET" ? [] : clearCookies());
    }
    const { user, cookies } = current;
    const page: PageContext = { ...ctx, user: user.username, csrf: current.csrf };
    const withCookies = (result: WebResult) => ({ ...result, cookies: [...result.cookies, ...cookies] });

    if (path === "/signout" && method === "POST") {
      checkCsrf(request, current.csrf);
      // The refresh token stops working at once; the access token expires within the hour.
      const refreshToken = request.cookies.get(COOKIE.refresh);
      if (refreshToken) {
        await deps.auth.revoke(refreshToken).catch((error: Error) => {
          logger.warn("refresh token not revoked", { error: error.message });
        });
      }
      logger.info("signed out", { username: user.username });
      return redirect("/signin", clearCookies());
    }
    if (path === "/monitors" && method === "GET") {
      const rows = sortRows((await deps.reads.overview()).map((monitor) => overviewRow(monitor, now)));
      return withCookies(respond(200, overviewPage(page, rows)));
    }
    if (path === "/incidents" && method === "GET") {
      const incidents = await deps.reads.incidents(new Date(now.getTime() - INCIDENT_DAYS * 86_400_000));
      return withCookies(respond(200, incidentsPage(page, incidents, INCIDENT_DAYS)));
    }
    if (path === "/api/sparklines" && method === "GET") {
      const ids = (request.query.get("ids") ?? "").split(",").filter(Boolean).slice(0, MAX_SPARKLINE_IDS);
      return withCookies(respond(200, JSON.stringify(await deps.reads.sparklines(ids)), "application/json"));
    }
    const match = /^\/monitors\/([^/]+)(?:\/(ack|unack|pause|resume|run))?$/.exec(path);
    if (match) {
      let monitorId: string;
      try {
        monitorId = decodeURIComponent(match[1] ?? "");
      } catch {
        throw new HttpError(404, "There is no such page.");
      }
      const action = match[2];
      if (action && method === "POST") {
        checkCsrf(request, current.csrf);
        return withCookies(await monitorAction(request, page, user, monitorId, action));
      }
      if (!action && method === "GET") {
        const detail = await deps.reads.monitor(monitorId);
        if (!detail) throw new HttpError(404, `There is no monitor ${monitorId}.`);
        // A code from the table, never the query's own words: a link must not put text in the banner.
        const done = request.query.get("done");
        const notice = done && Object.hasOwn(NOTICES, done) ? NOTICES[done as NoticeCode] : undefined;
        return withCookies(respond(200, monitorPage({ ...page, notice }, detail)));
      }
    }
    throw new HttpError(404, "There is no such page.");
  }

  return async function handle(event: APIGatewayProxyEventV2): Promise<WebResult> {
    let request: Request | undefined;
    try {
      request = parseEvent(event);
      return compress(await route(request), request.headers["accept-encoding"]);
    } catch (error) {
      const ctx: PageContext = { now: clock() };
      if (error instanceof HttpError) {
        return respond(
          error.status,
          messagePage(ctx, error.status === 404 ? "Not found" : "Refused", error.message),
        );
      }
      logger.error("dashboard request failed", { path: request?.path, error: (error as Error).message });
      return respond(
        500,
        messagePage(ctx, "Something went wrong", "The dashboard could not do that; try again."),
      );
    }
  };
}

/**
 * Gzips a large text response for a client that accepts it (API Gateway passes it through as
 * base64): the overview of 1,000 monitors is ~180 KB of HTML and ~10 KB on the wire.
 */
function compress(result: WebResult, acceptEncoding: string | undefined): WebResult {
  const body = result.body ?? "";
  if (!/\bgzip\b/.test(acceptEncoding ?? "") || body.length < 2048 || result.isBase64Encoded) return result;
  return {
    ...result,
    body: gzipSync(body).toString("base64"),
    isBase64Encoded: true,
    headers: { ...result.headers, "content-encoding": "gzip", vary: "accept-encoding" },
  };
}

function parseEvent(event: APIGatewayProxyEventV2): Request {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  const cookies = new Map<string, string>();
  const cookieList = event.cookies ?? (headers.cookie ? headers.cookie.split(";") : []);
  for (const pair of cookieList) {
    const index = pair.indexOf("=");
    if (index > 0) cookies.set(pair.slice(0, index).trim(), pair.slice(index + 1).trim());
  }
  const method = event.requestContext.http.method.toUpperCase();
  let form = new URLSearchParams();
  if (method === "POST" && event.body) {
    const raw = event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;
    if (raw.length > MAX_BODY_BYTES) throw new HttpError(413, "The form is too large.");
    const type = headers["content-type"] ?? "";
    if (!type.startsWith("application/x-www-form-urlencoded")) throw new HttpError(415, "Forms only.");
    form = new URLSearchParams(raw);
  }
  return {
    method,
    path: event.rawPath || "/",
    query: new URLSearchParams(event.rawQueryString ?? ""),
    headers,
    cookies,
    form,
  };
}
