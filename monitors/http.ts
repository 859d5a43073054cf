import * as z from "zod";
import { abortedError } from "./support/abort.ts";
import { formatBytes, quote } from "./support/format.ts";
import { listOrSet, must, mustBe, parseParams } from "./support/params.ts";
import type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * `http`: one request to a URL; OK when the status, the latency and (optionally) the body are as
 * expected. The target being down (refused, DNS, TLS, wrong status) is a failed check, returned as
 * `isOk: false`; only bad params and the orchestrator's timeout make it throw.
 *
 * Header values are never echoed in a message or a log line: they usually carry API keys.
 */

export const HTTP_CHECK = "http";

/** Most of a body we ever read: enough for any health page, bounded so a huge download cannot hurt. */
export const MAX_BODY_BYTES = 1024 * 1024;

// RFC 9110 token characters: anything else is rejected by fetch with a message quoting the value.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Control characters in a value would split or corrupt the request (and fetch rejects them).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const HEADER_VALUE_FORBIDDEN = /[\u0000-\u0008\u000a-\u001f\u007f]/;

function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === "http:" || protocol === "https:";
}

const StatusSchema = z
  .number({ error: must("must be an HTTP status code (100-599)") })
  .int()
  .min(100)
  .max(599);

export const HttpParamsSchema = z
  .strictObject({
    /** `http://` or `https://` URL to request. */
    url: z
      .string({ error: must("must be an http(s) URL") })
      .refine(isHttpUrl, "must be an http(s) URL (e.g. https://example.com/health)"),
    /** @default "GET" */
    method: z.preprocess(
      (value) => (typeof value === "string" ? value.toUpperCase() : value),
      z.enum(["GET", "HEAD"], { error: must("must be GET or HEAD") }).default("GET"),
    ),
    /** A status code or a list of them. @default any 2xx */
    expectedStatus: z
      .union([StatusSchema, listOrSet(StatusSchema, "must be a list of HTTP status codes", 1)], {
        error: must("must be an HTTP status code (100-599) or a non-empty list of them"),
      })
      .optional(),
    /** Text the response body must contain (searched in the first 1 MiB, GET only). */
    bodyIncludes: z
      .string({ error: must("must be a non-empty string") })
      .min(1, "must be a non-empty string")
      .optional(),
    /** Slowest acceptable time to the response headers, in milliseconds. */
    maxLatencyMs: z
      .number({ error: must("must be a positive number of milliseconds") })
      .positive()
      .optional(),
    /** Request headers, e.g. `{ "Authorization": "Bearer ..." }`. Values never appear in messages. */
    headers: z
      .record(
        z.string().regex(HEADER_NAME, "is not a valid HTTP header name"),
        z
          .string({ error: must("must be a string") })
          .refine((value) => !HEADER_VALUE_FORBIDDEN.test(value), "must not contain control characters"),
        { error: mustBe("must be a map of header names to string values") },
      )
      .optional(),
    /** Follow redirects (and judge the final response); `false` judges the 3xx itself. @default true */
    followRedirects: z.boolean({ error: must("must be true or false") }).default(true),
  })
  .superRefine((params, ctx) => {
    if (params.method === "HEAD" && params.bodyIncludes !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["bodyIncludes"],
        message: "cannot be used with method HEAD (a HEAD response has no body)",
      });
    }
  });
export type HttpParams = z.infer<typeof HttpParamsSchema>;

/** The URL as a message may show it: no credentials, no query string (tokens live there). */
export function displayUrl(value: string): string {
  const url = new URL(value);
  url.username = "";
  url.password = "";
  url.hash = "";
  const query = url.search ? "?…" : "";
  url.search = "";
  return `${url.toString()}${query}`;
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
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  UND_ERR_HEADERS_TIMEOUT: "timed out waiting for the response headers",
  UND_ERR_BODY_TIMEOUT: "timed out reading the response body",
  UND_ERR_SOCKET: "connection closed unexpectedly",
  CERT_HAS_EXPIRED: "the TLS certificate has expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the TLS certificate is self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "the TLS certificate chain is self-signed",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the TLS certificate cannot be verified",
  ERR_TLS_CERT_ALTNAME_INVALID: "the TLS certificate does not match the host name",
};

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { code, errors } = error as { code?: unknown; errors?: unknown };
  if (typeof code === "string") return code;
  // Happy-eyeballs connects to every address and reports an AggregateError of all attempts.
  if (Array.isArray(errors)) return errors.map(errorCode).find((found) => found !== undefined);
  return undefined;
}

/** Why fetch rejected, in words; fetch itself only says "fetch failed" and hides the cause. */
export function describeNetworkError(error: unknown): string {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  const code = errorCode(cause);
  if (code !== undefined) return `${NETWORK_ERRORS[code] ?? (cause as Error).message ?? code} (${code})`;
  if (cause instanceof Error) return cause.message;
  return String(cause);
}

/** Removes every header value from a text: belt and braces for the "never echo secrets" rule. */
function redact(text: string, headers: Record<string, string> | undefined): string {
  let result = text;
  for (const value of Object.values(headers ?? {})) {
    if (value.length >= 4) result = result.split(value).join("[redacted]");
  }
  return result;
}

function statusMatches(status: number, expected: HttpParams["expectedStatus"]): boolean {
  if (expected === undefined) return status >= 200 && status <= 299;
  return Array.isArray(expected) ? expected.includes(status) : status === expected;
}

function describeExpected(expected: HttpParams["expectedStatus"]): string {
  if (expected === undefined) return "2xx";
  if (!Array.isArray(expected)) return String(expected);
  return expected.length === 1 ? String(expected[0]) : `one of ${expected.join(", ")}`;
}

interface BodySearch {
  found: boolean;
  bytesRead: number;
  /** The body was longer than MAX_BODY_BYTES and only its beginning was searched. */
  truncated: boolean;
}

/** Reads the body until the needle shows up, the body ends or MAX_BODY_BYTES are read. */
async function searchBody(body: ReadableStream<Uint8Array> | null, needle: string): Promise<BodySearch> {
  if (!body) return { found: false, bytesRead: 0, truncated: false };
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytesRead = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        text += decoder.decode();
        return { found: text.includes(needle), bytesRead, truncated: false };
      }
      const chunk = value.subarray(0, MAX_BODY_BYTES - bytesRead);
      bytesRead += chunk.byteLength;
      // Only the tail that could complete a match needs searching again: keeps this linear.
      const from = Math.max(0, text.length - needle.length + 1);
      text += decoder.decode(chunk, { stream: true });
      if (text.includes(needle, from)) return { found: true, bytesRead, truncated: false };
      if (bytesRead >= MAX_BODY_BYTES) {
        text += decoder.decode();
        const found = text.includes(needle, from);
        return { found, bytesRead, truncated: !found };
      }
    }
  } finally {
    // Frees the connection whether or not the body was read to the end.
    await reader.cancel().catch(() => {});
  }
}

function describeStatus(response: Response): string {
  return response.statusText ? `${response.status} ${response.statusText}` : String(response.status);
}

async function run(ctx: CheckContext): Promise<CheckResult> {
  const params = parseParams(HTTP_CHECK, HttpParamsSchema, ctx.params);
  const request = `${params.method} ${displayUrl(params.url)}`;
  const headers = new Headers(params.headers);
  if (!headers.has("user-agent")) headers.set("user-agent", `Watchkeeper (monitor ${ctx.monitorId})`);
  const target = new URL(params.url);
  if (target.username || target.password) {
    // fetch refuses URLs with credentials; `https://user:pass@host` means Basic auth, as in curl.
    if (!headers.has("authorization")) {
      const user = decodeURIComponent(target.username);
      const password = decodeURIComponent(target.password);
      headers.set("authorization", `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`);
    }
    target.username = "";
    target.password = "";
  }

  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let response: Response;
  try {
    response = await fetch(target, {
      method: params.method,
      headers,
      redirect: params.followRedirects ? "follow" : "manual",
      signal: ctx.signal,
    });
  } catch (error) {
    if (ctx.signal.aborted) throw abortedError(ctx.signal, `${request} after ${elapsed()} ms`);
    const reason = redact(describeNetworkError(error), Object.fromEntries(headers));
    ctx.logger.debug("http check: request failed", { request, reason });
    return { isOk: false, message: `${request} failed after ${elapsed()} ms: ${reason}` };
  }
  const latencyMs = elapsed();

  try {
    const problems: string[] = [];
    const statusOk = statusMatches(response.status, params.expectedStatus);
    if (!statusOk) problems.push(`expected status ${describeExpected(params.expectedStatus)}`);
    if (params.maxLatencyMs !== undefined && latencyMs > params.maxLatencyMs) {
      problems.push(`slower than the ${params.maxLatencyMs} ms limit`);
    }
    let bodyNote = "";
    // A body is only worth reading when the status is right: a 500 page never holds the marker.
    if (params.bodyIncludes !== undefined && statusOk) {
      const needle = quote(params.bodyIncludes);
      try {
        const search = await searchBody(response.body, params.bodyIncludes);
        if (search.found) bodyNote = `, body includes ${needle}`;
        else
          problems.push(
            search.truncated
              ? `body does not include ${needle} in its first ${formatBytes(MAX_BODY_BYTES)}`
              : `body (${formatBytes(search.bytesRead)}) does not include ${needle}`,
          );
      } catch (error) {
        if (ctx.signal.aborted) throw abortedError(ctx.signal, `${request} reading the body`);
        // The server dropping the connection mid-body is the target failing, not the check.
        problems.push(
          `reading the body failed: ${redact(describeNetworkError(error), Object.fromEntries(headers))}`,
        );
      }
    }
    const redirected = response.redirected ? ` (redirected to ${displayUrl(response.url)})` : "";
    const summary = `${request} returned ${describeStatus(response)} in ${latencyMs} ms${redirected}`;
    ctx.logger.debug("http check: response", { request, status: response.status, latencyMs });
    return problems.length === 0
      ? { isOk: true, message: `${summary}${bodyNote}` }
      : { isOk: false, message: `${summary}: ${problems.join("; ")}` };
  } finally {
    await response.body?.cancel().catch(() => {});
  }
}

export const httpCheck: CheckDefinition = {
  name: HTTP_CHECK,
  description:
    "Requests params.url (GET/HEAD); OK when the status is expected (default 2xx), within params.maxLatencyMs and the body includes params.bodyIncludes.",
  paramsSchema: HttpParamsSchema,
  run,
};
