import { isIP, type Socket } from "node:net";
import * as z from "zod/mini";
import { preprocess } from "#core/validation.ts";
import { abortedError } from "./abort.ts";
import { ADDRESS_KINDS, type AddressKind, AddressRefusedError, refusal } from "./addresses.ts";
import { listOrSet, must } from "./params.ts";

/**
 * What the network checks (`http`, `tcp`, `tls-certificate`, `dns`) share: the `allowAddresses`
 * param of the address policy (support/addresses.ts), host and port params, error codes in words,
 * and a socket connect bounded by a timeout and the orchestrator's signal.
 */

/**
 * Address kinds a check may connect to despite the policy (support/addresses.ts): they are refused
 * by default because a config item's writer could otherwise aim a check at the orchestrator's own
 * host or the cloud metadata service.
 */
export const AllowAddressesSchema = z
  .optional(
    preprocess(
      (value) => (typeof value === "string" ? [value] : value),
      listOrSet(
        z.enum(ADDRESS_KINDS, { error: must('must be "loopback", "link-local" or "metadata"') }),
        'must be "loopback", "link-local", "metadata" or a list of them',
      ),
    ),
  )
  .register(z.globalRegistry, {
    description:
      'Address kinds the check may connect to despite the address policy: "loopback", "link-local", "metadata" (one, or a list).',
    defaultText: "none: such addresses are refused",
  });

// RFC 1123 labels (underscores too: service names such as _dmarc are real DNS names).
const HOST_NAME =
  /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** The host without the brackets an IPv6 literal may be written in. */
export function bareHost(host: string): string {
  return host.replace(/^\[(.*)\]$/, "$1");
}

/** A DNS name or an IP address (IPv6 with or without brackets). */
export function isHost(value: string): boolean {
  return isIP(bareHost(value)) !== 0 || (HOST_NAME.test(value) && !/^[\d.]+$/.test(value));
}

const HOST_MESSAGE = "must be a host name or an IP address (e.g. db.example.com; no scheme, no port)";

/** A host name or IP address to connect to. */
export const HostSchema = z
  .string({ error: must(HOST_MESSAGE) })
  .check(z.refine(isHost, HOST_MESSAGE))
  .register(z.globalRegistry, {
    description: "Host name or IP address to connect to, e.g. db.example.com (no scheme, no port).",
  });

export const PortSchema = z
  .number({ error: must("must be a port number (1-65535)") })
  .check(
    z.int("must be a port number (1-65535)"),
    z.gte(1, "must be a port number (1-65535)"),
    z.lte(65535, "must be a port number (1-65535)"),
  )
  .register(z.globalRegistry, { description: "TCP port to connect to." });

/** Longest `timeoutMs` a check accepts: the orchestrator's longest check timeout (840 s). */
export const MAX_TIMEOUT_MS = 840_000;

/** `description` says what the wait covers (it differs per check). */
export function timeoutMsSchema(defaultMs: number, description: string) {
  const message = `must be a number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`;
  return z
    ._default(
      z
        .number({ error: must(message) })
        .check(z.int(message), z.gte(1, message), z.lte(MAX_TIMEOUT_MS, message)),
      defaultMs,
    )
    .register(z.globalRegistry, { description });
}

/** `host:port`, with brackets around an IPv6 address. */
export function hostPort(host: string, port: number): string {
  const bare = bareHost(host);
  return `${isIP(bare) === 6 ? `[${bare}]` : bare}:${port}`;
}

/** Why connecting to an IP-literal host is refused (a host name is judged by `guardedLookup`). */
export function literalRefusal(host: string, allowed: ReadonlySet<AddressKind>): string | undefined {
  const bare = bareHost(host);
  return isIP(bare) ? refusal(host, bare, allowed) : undefined;
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by the server",
  EPIPE: "connection closed by the server",
  ENOTFOUND: "host not found (DNS)",
  EAI_AGAIN: "DNS lookup failed temporarily",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  HPE_INVALID_CONSTANT: "the server's response is not valid HTTP",
  CERT_HAS_EXPIRED: "the TLS certificate has expired",
  CERT_NOT_YET_VALID: "the TLS certificate is not valid yet",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the TLS certificate is self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "the TLS certificate chain is self-signed",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the TLS certificate cannot be verified",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the TLS certificate's issuer is not trusted",
  UNABLE_TO_GET_ISSUER_CERT: "the TLS certificate's issuer is not trusted",
  ERR_TLS_CERT_ALTNAME_INVALID: "the TLS certificate does not match the host name",
  ERR_SSL_WRONG_VERSION_NUMBER: "the server does not speak TLS",
  ERR_SSL_PACKET_LENGTH_TOO_LONG: "the server does not speak TLS",
};

/** The code of an error (an AggregateError's first coded one: happy eyeballs tries every address). */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { code, errors } = error as { code?: unknown; errors?: unknown };
  if (typeof code === "string") return code;
  if (Array.isArray(errors)) return errors.map(errorCode).find((found) => found !== undefined);
  return undefined;
}

/** What a code means in words (`connection refused`), or undefined for a code not listed. */
export function describeCode(code: string): string | undefined {
  return NETWORK_ERRORS[code];
}

/** Why a request failed, in words (digging under fetch's bare "fetch failed" too). */
export function describeNetworkError(error: unknown): string {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  if (cause instanceof AddressRefusedError) return cause.message;
  const code = errorCode(cause);
  if (code !== undefined) return `${NETWORK_ERRORS[code] ?? (cause as Error).message ?? code} (${code})`;
  if (cause instanceof Error) return cause.message;
  return String(cause);
}

/** `timeoutMs` elapsed before the socket was ready: the target's failure, not the check's. */
export class ConnectTimeoutError extends Error {
  override name = "ConnectTimeoutError";
}

/**
 * Opens a socket and resolves once it is ready (`connect`, or `secureConnect` for TLS). Rejects
 * with the socket's error, a ConnectTimeoutError after `timeoutMs`, or abortedError when `signal`
 * aborts; in every failure the socket is destroyed. The caller owns (and ends) the ready socket.
 */
export function connectWithin<S extends Socket>(
  open: () => S,
  ready: "connect" | "secureConnect",
  timeoutMs: number,
  signal: AbortSignal,
  what: string,
): Promise<S> {
  if (signal.aborted) return Promise.reject(abortedError(signal, what));
  return new Promise<S>((resolve, reject) => {
    const socket = open();
    const cleanup = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.off(ready, onReady);
      socket.off("error", onError);
    };
    const fail = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onReady = () => {
      cleanup();
      // Errors after this point (a reset while the caller reads the certificate) must not crash.
      socket.on("error", () => {});
      resolve(socket);
    };
    const onError = (error: Error) => fail(error);
    const onAbort = () => fail(abortedError(signal, what));
    const timer = setTimeout(
      () => fail(new ConnectTimeoutError(`no connection within ${timeoutMs} ms (params.timeoutMs)`)),
      timeoutMs,
    );
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once(ready, onReady);
    socket.once("error", onError);
  });
}

/** The reason of a failed connect, in words: the address policy, the timeout, or a network error. */
export function connectFailure(error: unknown): string {
  if (error instanceof AddressRefusedError || error instanceof ConnectTimeoutError) return error.message;
  return describeNetworkError(error);
}
