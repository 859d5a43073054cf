import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { pipeline, type Readable } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import * as z from "zod/mini";
import { preprocess } from "#core/validation.ts";
import { abortedError } from "./support/abort.ts";
import {
  type AddressKind,
  AddressRefusedError,
  allowedAddressKinds,
  guardedLookup,
  type Resolver,
  refusal,
  systemResolver,
} from "./support/addresses.ts";
import { formatBytes, plural, quote } from "./support/format.ts";
import { type JsonAssertion, JsonAssertionsSchema, judgeJson } from "./support/json-assertions.ts";
import { AllowAddressesSchema, describeNetworkError } from "./support/network.ts";
import { listOrSet, must, mustBe, parseParams } from "./support/params.ts";
import type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * `http`: one request to a URL; OK when the status, the latency and (optionally) the body are as
 * expected. The target being down (refused, DNS, TLS, wrong status) is a failed check, returned as
 * `isOk: false`; only bad params and the orchestrator's timeout make it throw.
 *
 * Header values are never echoed in a message or a log line: they usually carry API keys.
 *
 * What a table writer could do with it is bounded: redirects stay within the origin of `url`
 * unless `followRedirects` says "any", never go from https to http, and `headers` (with URL
 * credentials) are only ever sent to that origin; loopback, link-local and cloud metadata
 * addresses are refused unless `allowAddresses` names them (see support/addresses.ts). The socket
 * connects to the very addresses that were checked (a `lookup` of its own), so a DNS answer that
 * changes in between cannot slip past.
 */

export type { Resolver } from "./support/addresses.ts";
export { describeNetworkError } from "./support/network.ts";

export const HTTP_CHECK = "http";

/** Most of a body we ever read: enough for any health page, bounded so a huge download cannot hurt. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Most redirects followed before the check fails. */
export const MAX_REDIRECTS = 5;

export const REDIRECT_POLICIES = ["same-origin", "any", "none"] as const;

// RFC 9110 token characters: anything else is rejected by node:http with a message quoting the value.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Control characters in a value would split or corrupt the request (and node:http rejects them).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const HEADER_VALUE_FORBIDDEN = /[\u0000-\u0008\u000a-\u001f\u007f]/;

function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === "http:" || protocol === "https:";
}

const StatusSchema = z
  .number({ error: must("must be an HTTP status code (100-599)") })
  .check(z.int(), z.gte(100), z.lte(599));

export const HttpParamsSchema = z
  .strictObject({
    url: z
      .string({ error: must("must be an http(s) URL") })
      .check(z.refine(isHttpUrl, "must be an http(s) URL (e.g. https://example.com/health)"))
      .register(z.globalRegistry, {
        description:
          "The http:// or https:// URL to request. Credentials in it (https://user:pass@host) are sent as Basic auth; messages show it without credentials or query string.",
      }),
    method: preprocess(
      (value) => (typeof value === "string" ? value.toUpperCase() : value),
      z._default(z.enum(["GET", "HEAD"], { error: must("must be GET or HEAD") }), "GET"),
    ).register(z.globalRegistry, { description: "GET or HEAD (any case)." }),
    expectedStatus: z
      .optional(
        z.union([StatusSchema, listOrSet(StatusSchema, "must be a list of HTTP status codes", 1)], {
          error: must("must be an HTTP status code (100-599) or a non-empty list of them"),
        }),
      )
      .register(z.globalRegistry, {
        description: "The status code, or list of codes, that counts as OK.",
        defaultText: "any 2xx",
      }),
    bodyIncludes: z
      .optional(
        z
          .string({ error: must("must be a non-empty string") })
          .check(z.minLength(1, "must be a non-empty string")),
      )
      .register(z.globalRegistry, {
        description: "Text the response body must contain (searched in its first 1 MiB; GET only).",
        defaultText: "the body is not read",
      }),
    maxLatencyMs: z
      .optional(z.number({ error: must("must be a positive number of milliseconds") }).check(z.positive()))
      .register(z.globalRegistry, {
        description: "Slowest acceptable time to the final response's headers, in milliseconds.",
        defaultText: "no limit",
      }),
    headers: z
      .optional(
        z.record(
          z.string().check(z.regex(HEADER_NAME, "is not a valid HTTP header name")),
          z
            .string({ error: must("must be a string") })
            .check(
              z.refine((value) => !HEADER_VALUE_FORBIDDEN.test(value), "must not contain control characters"),
            ),
          { error: mustBe("must be a map of header names to string values") },
        ),
      )
      .register(z.globalRegistry, {
        description:
          'Request headers, e.g. {"x-api-key": {"secretRef": "<ARN>"}}, sent to the origin of url only; values never appear in messages.',
        defaultText: "none",
      }),
    followRedirects: preprocess(
      (value) => (value === true ? "same-origin" : value === false ? "none" : value),
      z._default(
        z.enum(REDIRECT_POLICIES, { error: must('must be "same-origin", "any" or "none"') }),
        "same-origin",
      ),
    ).register(z.globalRegistry, {
      description:
        'Which redirects to follow: "same-origin" (the origin of url only), "any" origin, or "none" (judge the 3xx itself). https to http is never followed; true and false mean "same-origin" and "none".',
    }),
    allowAddresses: AllowAddressesSchema,
    json: z.optional(JsonAssertionsSchema).register(z.globalRegistry, {
      description:
        'Assertions on the body parsed as JSON (GET only, first 1 MiB), e.g. [{"pointer": "/status", "equals": "ok"}]: each names a value by JSON Pointer (RFC 6901) and tests it with equals, matches, exists, greaterThan or lessThan.',
      defaultText: "none",
    }),
  })
  .check(
    z.superRefine((params, ctx) => {
      for (const key of ["bodyIncludes", "json"] as const) {
        if (params.method === "HEAD" && params[key] !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: "cannot be used with method HEAD (a HEAD response has no body)",
          });
        }
      }
    }),
  );
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

/** Removes every header value from a text: belt and braces for the "never echo secrets" rule. */
function redact(text: string, values: readonly string[]): string {
  let result = text;
  for (const value of values) {
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
async function searchBody(body: Readable, needle: string): Promise<BodySearch> {
  const decoder = new TextDecoder();
  let text = "";
  let bytesRead = 0;
  try {
    for await (const value of body as AsyncIterable<Uint8Array>) {
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
    text += decoder.decode();
    return { found: text.includes(needle), bytesRead, truncated: false };
  } finally {
    // Frees the connection whether or not the body was read to the end.
    body.destroy();
  }
}

interface BodyText {
  text: string;
  bytesRead: number;
  /** The body was longer than MAX_BODY_BYTES: `text` is its beginning. */
  truncated: boolean;
}

/** Reads the body to its end, or its first MAX_BODY_BYTES. */
async function readBody(body: Readable): Promise<BodyText> {
  const decoder = new TextDecoder();
  let text = "";
  let bytesRead = 0;
  try {
    for await (const value of body as AsyncIterable<Uint8Array>) {
      const chunk = value.subarray(0, MAX_BODY_BYTES - bytesRead);
      bytesRead += chunk.byteLength;
      text += decoder.decode(chunk, { stream: true });
      if (chunk.byteLength < value.byteLength)
        return { text: text + decoder.decode(), bytesRead, truncated: true };
    }
    return { text: text + decoder.decode(), bytesRead, truncated: false };
  } finally {
    body.destroy();
  }
}

/** The problems of params.json on a body (empty when every assertion holds). */
function judgeJsonBody(
  body: BodyText,
  assertions: readonly JsonAssertion[],
  contentType: string | undefined,
) {
  if (body.truncated) {
    return [`body is larger than ${formatBytes(MAX_BODY_BYTES)}: too large to judge as JSON`];
  }
  let document: unknown;
  try {
    // Never the parser's message: it quotes the body.
    document = JSON.parse(body.text.replace(/^\uFEFF/, ""));
  } catch {
    const type = contentType?.split(";")[0]?.trim();
    return [
      `body (${formatBytes(body.bytesRead)}${type ? `, content-type ${quote(type, 60)}` : ""}) is not valid JSON`,
    ];
  }
  return judgeJson(document, assertions);
}

/** A redirect the check will not follow: the check fails with this reason. */
class RedirectRefused extends Error {}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

function describeStatus(response: IncomingMessage): string {
  const status = response.statusCode ?? 0;
  return response.statusMessage ? `${status} ${response.statusMessage}` : String(status);
}

/** The body as the server meant it: fetch used to decode gzip and deflate, and so does the check. */
function decodedBody(response: IncomingMessage): Readable {
  const encoding = response.headers["content-encoding"]?.trim().toLowerCase();
  const decoder =
    encoding === "gzip" || encoding === "x-gzip"
      ? createGunzip()
      : encoding === "deflate"
        ? createInflate()
        : encoding === "br"
          ? createBrotliDecompress()
          : undefined;
  if (!decoder) return response;
  pipeline(response, decoder, () => {}); // an error reaches the decoder, which the reader sees
  return decoder;
}

/** Options a test may set; the shipped check uses the defaults. */
export interface HttpCheckOptions {
  /** How host names are resolved (the system resolver by default). */
  resolve?: Resolver;
  /** Extra certificate authorities to trust (tests use a self-signed certificate). */
  ca?: string;
}

export function createHttpCheck(options: HttpCheckOptions = {}): CheckDefinition {
  const resolve = options.resolve ?? systemResolver;

  /** One request, no redirect handling; resolves at the response headers. */
  function send(
    url: URL,
    method: string,
    headers: Record<string, string>,
    ctx: CheckContext,
    allowed: ReadonlySet<AddressKind>,
  ) {
    // An IP-literal host never goes through `lookup`: it is judged here.
    const literal = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (isIP(literal)) {
      const reason = refusal(url.hostname, literal, allowed);
      if (reason) return Promise.reject(new AddressRefusedError(reason));
    }
    const transport = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<IncomingMessage>((resolveResponse, reject) => {
      const request = transport(url, {
        method,
        headers,
        signal: ctx.signal,
        // A connection of its own per request: nothing validated for one monitor is reused by another.
        agent: false,
        lookup: guardedLookup(resolve, allowed),
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      });
      request.once("response", (response: IncomingMessage) => {
        // Errors after the headers surface where the body is read; unread, they must not go unhandled.
        response.on("error", () => {});
        resolveResponse(response);
      });
      request.on("error", reject);
      request.end();
    });
  }

  async function run(ctx: CheckContext): Promise<CheckResult> {
    const params = parseParams(HTTP_CHECK, HttpParamsSchema, ctx.params);
    const request = `${params.method} ${displayUrl(params.url)}`;
    const allowed = allowedAddressKinds(params.allowAddresses);
    const origin = new URL(params.url);
    const baseHeaders: Record<string, string> = {
      "user-agent": `Watchkeeper (monitor ${ctx.monitorId})`,
      accept: "*/*",
      "accept-encoding": "gzip, deflate",
    };
    // Sent to the origin of params.url only, never to another one a redirect leads to.
    const ownHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(params.headers ?? {})) ownHeaders[name.toLowerCase()] = value;
    if (origin.username || origin.password) {
      // `https://user:pass@host` means Basic auth, as in curl; the credentials leave the URL.
      if (ownHeaders.authorization === undefined) {
        const user = decodeURIComponent(origin.username);
        const password = decodeURIComponent(origin.password);
        ownHeaders.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
      }
      origin.username = "";
      origin.password = "";
    }
    const secrets = Object.values(ownHeaders);
    const headersFor = (url: URL) =>
      url.origin === origin.origin ? { ...baseHeaders, ...ownHeaders } : baseHeaders;

    /** The URL being requested: params.url, then wherever redirects lead. */
    let current = origin;
    const redirectedTo = () => (current === origin ? "" : ` (redirected to ${displayUrl(current.href)})`);

    /** Where the redirect from `current` leads, or why it is not followed. */
    function redirectTarget(status: number, location: string, count: number): URL {
      const from = `${status} from ${displayUrl(current.href)}`;
      if (!URL.canParse(location, current.href)) {
        throw new RedirectRefused(`redirect ${count} (${from}) has an invalid Location header`);
      }
      const next = new URL(location, current.href);
      // Credentials a server writes into a Location are not ours to send.
      next.username = "";
      next.password = "";
      if (next.protocol !== "http:" && next.protocol !== "https:") {
        throw new RedirectRefused(
          `redirect ${count} (${from}) refused: its Location is not an http(s) URL (${next.protocol})`,
        );
      }
      const hop = `${from} to ${displayUrl(next.href)}`;
      if (count > MAX_REDIRECTS) {
        throw new RedirectRefused(`more than ${MAX_REDIRECTS} redirects (redirect ${count}: ${hop})`);
      }
      if (current.protocol === "https:" && next.protocol === "http:") {
        throw new RedirectRefused(`redirect ${count} (${hop}) refused: it leaves HTTPS for plain HTTP`);
      }
      if (params.followRedirects === "same-origin" && next.origin !== origin.origin) {
        throw new RedirectRefused(
          `redirect ${count} (${hop}) refused: it leaves the origin ${origin.origin} (params.followRedirects "any" follows it)`,
        );
      }
      return next;
    }

    /** The final response: redirects are followed here, one validated hop at a time. */
    async function follow(): Promise<IncomingMessage> {
      for (let count = 1; ; count += 1) {
        const response = await send(current, params.method, headersFor(current), ctx, allowed);
        const status = response.statusCode ?? 0;
        const { location } = response.headers;
        if (params.followRedirects === "none" || !REDIRECT_STATUSES.has(status) || location === undefined) {
          return response;
        }
        response.destroy(); // a redirect's body is never read
        current = redirectTarget(status, location, count);
      }
    }

    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let response: IncomingMessage;
    try {
      response = await follow();
    } catch (error) {
      if (ctx.signal.aborted) throw abortedError(ctx.signal, `${request} after ${elapsed()} ms`);
      // A refused redirect names its hop; any other failure says where it happened.
      const where = error instanceof RedirectRefused ? "" : redirectedTo();
      const reason =
        error instanceof RedirectRefused || error instanceof AddressRefusedError
          ? error.message
          : describeNetworkError(error);
      ctx.logger.debug("http check: request failed", { request, reason: redact(reason, secrets) });
      return {
        isOk: false,
        message: redact(`${request} failed after ${elapsed()} ms${where}: ${reason}`, secrets),
      };
    }
    const latencyMs = elapsed();

    try {
      const status = response.statusCode ?? 0;
      const problems: string[] = [];
      const statusOk = statusMatches(status, params.expectedStatus);
      if (!statusOk) problems.push(`expected status ${describeExpected(params.expectedStatus)}`);
      if (params.maxLatencyMs !== undefined && latencyMs > params.maxLatencyMs) {
        problems.push(`slower than the ${params.maxLatencyMs} ms limit`);
      }
      let bodyNote = "";
      // A body is only worth reading when the status is right: a 500 page never holds the marker.
      if ((params.bodyIncludes !== undefined || params.json !== undefined) && statusOk) {
        const needle = params.bodyIncludes === undefined ? "" : quote(params.bodyIncludes);
        const includesProblem = (bytesRead: number, truncated: boolean) =>
          truncated
            ? `body does not include ${needle} in its first ${formatBytes(MAX_BODY_BYTES)}`
            : `body (${formatBytes(bytesRead)}) does not include ${needle}`;
        try {
          if (params.json === undefined && params.bodyIncludes !== undefined) {
            // Only the marker is wanted: stop reading as soon as it shows up.
            const search = await searchBody(decodedBody(response), params.bodyIncludes);
            if (search.found) bodyNote = `, body includes ${needle}`;
            else problems.push(includesProblem(search.bytesRead, search.truncated));
          } else if (params.json !== undefined) {
            const body = await readBody(decodedBody(response));
            if (params.bodyIncludes !== undefined) {
              if (body.text.includes(params.bodyIncludes)) bodyNote = `, body includes ${needle}`;
              else problems.push(includesProblem(body.bytesRead, body.truncated));
            }
            const jsonProblems = judgeJsonBody(body, params.json, response.headers["content-type"]);
            if (jsonProblems.length === 0) {
              const count = params.json.length;
              bodyNote += `, ${plural(count, "json assertion")} ${count === 1 ? "holds" : "hold"}`;
            }
            problems.push(...jsonProblems);
          }
        } catch (error) {
          if (ctx.signal.aborted) throw abortedError(ctx.signal, `${request} reading the body`);
          // The server dropping the connection mid-body is the target failing, not the check.
          problems.push(`reading the body failed: ${redact(describeNetworkError(error), secrets)}`);
        }
      }
      const summary = `${request} returned ${describeStatus(response)} in ${latencyMs} ms${redirectedTo()}`;
      ctx.logger.debug("http check: response", { request, status, latencyMs });
      return problems.length === 0
        ? { isOk: true, message: `${summary}${bodyNote}` }
        : { isOk: false, message: `${summary}: ${problems.join("; ")}` };
    } finally {
      response.destroy();
    }
  }

  return {
    name: HTTP_CHECK,
    description:
      "Requests params.url (GET/HEAD); OK when the status is expected (default 2xx), within params.maxLatencyMs, the body includes params.bodyIncludes and the JSON body passes params.json.",
    paramsSchema: HttpParamsSchema,
    example: {
      name: "Public API health",
      schedule: "rate(1 minute)",
      params: {
        url: "https://api.example.org/health",
        expectedStatus: [200, 204],
        bodyIncludes: '"status":"ok"',
        maxLatencyMs: 2000,
      },
    },
    run,
  };
}

export const httpCheck: CheckDefinition = createHttpCheck();
