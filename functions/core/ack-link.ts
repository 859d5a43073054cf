import { createHmac, timingSafeEqual } from "node:crypto";
import type { NotificationLinks } from "./ports.ts";

/**
 * Signed ack links (issue 14). A token is `<payload>.<signature>`, both base64url: the payload is a
 * small JSON object naming the purpose (`ack`, and nothing else), the monitor, the incident (its
 * start) and the recipient, with an expiry; the signature is HMAC-SHA256 over the payload's
 * base64url text. Verification tries every key of a ring (the current key and the previous one),
 * so a rotation does not break links already in people's inboxes, and compares in constant time.
 * Pure: node:crypto only; the key comes from a port (Secrets Manager in AWS).
 */

export const ACK_LINK_PURPOSE = "ack";
/** How long a link works by default: a week covers a long weekend's inbox. */
export const DEFAULT_ACK_LINK_TTL_MS = 7 * 86_400_000;
/** A token longer than this is not one of ours (monitor ids are 64, recipients 320 at most). */
export const MAX_ACK_TOKEN_CHARS = 2_048;

export interface AckLinkClaims {
  monitorId: string;
  /** The incident's start (`incident#<start>`). */
  incident: string;
  /** An email address, or `channel:<name>`. */
  recipient: string;
  /** Expiry, epoch milliseconds. */
  expiresAt: number;
}

export type AckLinkFailure = "malformed" | "bad-signature" | "expired";

export type AckLinkVerification =
  | { ok: true; claims: AckLinkClaims }
  | { ok: false; reason: AckLinkFailure; message: string };

/** The keys a token may be signed with: `current` signs, both verify. */
export interface AckLinkKeyRing {
  current: string;
  previous?: string | undefined;
}

/** Where the signing keys come from (Secrets Manager AWSCURRENT/AWSPREVIOUS in AWS, cached). */
export interface AckLinkKeySource {
  /**
   * The key ring, cached. `fresh`: read past the cache (rate-limited by the source), for a link that
   * failed to verify right after a rotation another function already saw.
   */
  keys(options?: { fresh?: boolean }): Promise<AckLinkKeyRing>;
}

const FAILURE_MESSAGES: Record<AckLinkFailure, string> = {
  malformed: "This link is incomplete or damaged: copy the whole link from the email, or use the dashboard.",
  "bad-signature":
    "This link was not issued by this Watchkeeper (or its key has since been rotated twice): use the dashboard.",
  expired: "This link has expired: acknowledge from the dashboard or with `watchkeeper ack`.",
};

const failure = (reason: AckLinkFailure): AckLinkVerification => ({
  ok: false,
  reason,
  message: FAILURE_MESSAGES[reason],
});

const sign = (key: string, payload: string) => createHmac("sha256", key).update(payload).digest();

/** Creates an ack token for the claims with the current key. */
export function signAckToken(claims: AckLinkClaims, key: string): string {
  if (key.length === 0) throw new Error("the ack link key is empty");
  const payload = Buffer.from(
    JSON.stringify({
      p: ACK_LINK_PURPOSE,
      m: claims.monitorId,
      i: claims.incident,
      r: claims.recipient,
      e: claims.expiresAt,
    }),
  ).toString("base64url");
  return `${payload}.${sign(key, payload).toString("base64url")}`;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Verifies a token against the key ring at `now`. The signature is checked before anything in the
 * payload is believed; the expiry after it (an expired token is still reported as expired only
 * when it is genuine).
 */
/**
 * Verifies an ack link against the key source; a bad signature is checked once more against the
 * ring read past its cache: right after a rotation, the orchestrator may sign with a key this
 * function has not read yet (each caches the ring on its own).
 */
export async function verifyAckLink(
  token: unknown,
  keys: AckLinkKeySource,
  now: Date,
): Promise<AckLinkVerification> {
  const verified = verifyAckToken(token, await keys.keys(), now);
  if (verified.ok || verified.reason !== "bad-signature") return verified;
  return verifyAckToken(token, await keys.keys({ fresh: true }), now);
}

export function verifyAckToken(token: unknown, ring: AckLinkKeyRing, now: Date): AckLinkVerification {
  if (typeof token !== "string" || token.length === 0 || token.length > MAX_ACK_TOKEN_CHARS) {
    return failure("malformed");
  }
  const parts = token.split(".");
  if (parts.length !== 2) return failure("malformed");
  const [payload = "", signature = ""] = parts;
  if (!BASE64URL.test(payload) || !BASE64URL.test(signature)) return failure("malformed");
  const given = Buffer.from(signature, "base64url");
  const keys = [ring.current, ring.previous].filter((key): key is string => !!key);
  // Every key is tried (no early exit), so timing says nothing about which key matched.
  let matched = false;
  for (const key of keys) {
    const expected = sign(key, payload);
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  if (!matched) return failure("bad-signature");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    return failure("malformed");
  }
  const body = parsed as Record<string, unknown> | null;
  if (
    !body ||
    typeof body !== "object" ||
    body.p !== ACK_LINK_PURPOSE ||
    typeof body.m !== "string" ||
    typeof body.i !== "string" ||
    typeof body.r !== "string" ||
    typeof body.e !== "number" ||
    !Number.isFinite(body.e)
  ) {
    return failure("malformed");
  }
  if (now.getTime() >= body.e) return failure("expired");
  return { ok: true, claims: { monitorId: body.m, incident: body.i, recipient: body.r, expiresAt: body.e } };
}

export interface AckLinksOptions {
  keys: AckLinkKeySource;
  /** The dashboard's base URL (`https://…/` in AWS, `http://127.0.0.1:<port>/` locally). */
  dashboardUrl: string;
  /** @default DEFAULT_ACK_LINK_TTL_MS */
  ttlMs?: number;
  /** @default () => new Date() */
  clock?: () => Date;
}

/** The dashboard's page of a monitor under `base`. */
export function monitorPageUrl(base: string, monitorId: string): string {
  return new URL(`monitors/${encodeURIComponent(monitorId)}`, withSlash(base)).toString();
}

const withSlash = (base: string) => (base.endsWith("/") ? base : `${base}/`);

/** NotificationLinks over the signer: what the engine's delivery puts in each recipient's mail. */
export class AckLinks implements NotificationLinks {
  readonly #keys: AckLinkKeySource;
  readonly #base: string;
  readonly #ttlMs: number;
  readonly #clock: () => Date;

  constructor(options: AckLinksOptions) {
    const base = new URL(withSlash(options.dashboardUrl));
    if (base.protocol !== "https:" && base.protocol !== "http:") {
      throw new Error(`the dashboard URL must be http(s): ${options.dashboardUrl}`);
    }
    this.#keys = options.keys;
    this.#base = base.toString();
    this.#ttlMs = options.ttlMs ?? DEFAULT_ACK_LINK_TTL_MS;
    this.#clock = options.clock ?? (() => new Date());
  }

  async ackUrl(input: { monitorId: string; incident: string; recipient: string }): Promise<string> {
    const { current } = await this.#keys.keys();
    const token = signAckToken({ ...input, expiresAt: this.#clock().getTime() + this.#ttlMs }, current);
    const url = new URL("ack", this.#base);
    url.searchParams.set("t", token);
    return url.toString();
  }

  dashboardUrl(monitorId: string): string {
    return monitorPageUrl(this.#base, monitorId);
  }
}
