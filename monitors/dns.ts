import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import * as z from "zod/mini";
import { preprocess } from "#core/validation.ts";
import { abortedError } from "./support/abort.ts";
import { allowedAddressKinds, refusal } from "./support/addresses.ts";
import { plural, quote } from "./support/format.ts";
import { AllowAddressesSchema, bareHost, errorCode, isHost, timeoutMsSchema } from "./support/network.ts";
import { listOrSet, must, parseParams } from "./support/params.ts";
import type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * `dns`: a name resolves (A and AAAA by default, or the record types asked for), optionally to
 * expected values: exactly those, or at least those (`match: "contains"`). The answers of every
 * type asked are pooled: `["A", "AAAA"]` is OK when the name has an IPv4 or an IPv6 address.
 *
 * Queries go to the system's DNS servers, or to `resolver` (an IP address, port optional), which
 * the address policy of support/addresses.ts judges like any address a check connects to.
 * Messages show addresses and names; TXT records are counted, never shown (they may be long, and
 * hold verification tokens or keys).
 */

export const DNS_CHECK = "dns";

export const RECORD_TYPES = ["A", "AAAA", "CNAME", "TXT", "MX"] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

const TYPE_MESSAGE = 'must be "A", "AAAA", "CNAME", "TXT" or "MX"';

const RecordTypeSchema = preprocess(
  (value) => (typeof value === "string" ? value.toUpperCase() : value),
  z.enum(RECORD_TYPES, { error: must(TYPE_MESSAGE) }),
);

/** `1.1.1.1`, `1.1.1.1:53`, `2606:4700::1111`, `[2606:4700::1111]:53`. */
function parseResolver(value: string): { address: string; port: number } | undefined {
  if (isIP(value)) return { address: value, port: 53 };
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const address = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!address || !isIP(address) || (match?.[2] && isIP(address) !== 4)) return undefined;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { address, port };
}

const RESOLVER_MESSAGE = "must be the IP address of a DNS server, port optional (e.g. 1.1.1.1 or 1.1.1.1:53)";
const NAME_MESSAGE = "must be a DNS name (e.g. api.example.com)";

export const DnsParamsSchema = z
  .strictObject({
    name: z
      .string({ error: must(NAME_MESSAGE) })
      .check(z.refine((value) => isHost(value) && isIP(bareHost(value)) === 0, NAME_MESSAGE))
      .register(z.globalRegistry, {
        description: "The DNS name to resolve, e.g. api.example.com (not an IP address).",
      }),
    recordTypes: z
      ._default(
        preprocess(
          (value) => (typeof value === "string" ? [value] : value),
          listOrSet(RecordTypeSchema, `${TYPE_MESSAGE} or a list of them`, 1),
        ),
        ["A", "AAAA"],
      )
      // JSON Schema drops a default set on a preprocess (it is an output value): say it in words.
      .register(z.globalRegistry, {
        description:
          'Record types to ask for ("A", "AAAA", "CNAME", "TXT", "MX"; one, or a list), pooled: one of them having records is enough.',
        defaultText: '["A", "AAAA"]',
      }),
    expected: z
      .optional(
        preprocess(
          (value) => (typeof value === "string" ? [value] : value),
          listOrSet(
            z.string({ error: must("must be a string") }).check(z.minLength(1, "must not be empty")),
            "must be a string or a list of strings",
            1,
          ),
        ),
      )
      .register(z.globalRegistry, {
        description:
          "Values the answers must hold (one, or a list): addresses, names (CNAME target, MX exchange) or TXT texts.",
        defaultText: "any answer will do",
      }),
    match: z
      ._default(z.enum(["exact", "contains"], { error: must('must be "exact" or "contains"') }), "exact")
      .register(z.globalRegistry, {
        description:
          '"exact": the answers are exactly params.expected; "contains": they include it (needs params.expected).',
      }),
    resolver: z
      .optional(
        z
          .string({ error: must(RESOLVER_MESSAGE) })
          .check(z.refine((value) => parseResolver(value) !== undefined, RESOLVER_MESSAGE)),
      )
      .register(z.globalRegistry, {
        description:
          "DNS server to ask instead of the system's: an IP address, port optional (e.g. 1.1.1.1:53).",
        defaultText: "the system's DNS servers",
      }),
    timeoutMs: timeoutMsSchema(5_000, "Longest wait for the answers, in milliseconds."),
    // A clone: the shared schema keeps its own description (classic zod's `.meta()` cloned too).
    allowAddresses: AllowAddressesSchema.clone().register(z.globalRegistry, {
      description:
        'Address kinds params.resolver may be despite the address policy: "loopback", "link-local", "metadata" (one, or a list).',
    }),
  })
  .check(
    z.superRefine((params, ctx) => {
      if (params.match === "contains" && params.expected === undefined) {
        ctx.addIssue({ code: "custom", path: ["match"], message: "needs params.expected" });
      }
    }),
  );
export type DnsParams = z.infer<typeof DnsParamsSchema>;

interface Answer {
  type: RecordType;
  value: string;
}

/** `2001:DB8:0::1` -> `2001:db8::1`: the form Node prints. */
function canonicalIpv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

const canonicalName = (name: string) => name.toLowerCase().replace(/\.$/, "");

/** Whether the expected value written in params is this answer. */
function sameValue(expected: string, answer: Answer): boolean {
  switch (answer.type) {
    case "A":
      return expected === answer.value;
    case "AAAA":
      return isIP(expected) === 6 && canonicalIpv6(expected) === answer.value;
    case "CNAME":
    case "MX":
      return canonicalName(expected) === answer.value;
    case "TXT":
      return expected === answer.value;
  }
}

async function query(resolver: Resolver, name: string, type: RecordType): Promise<Answer[]> {
  switch (type) {
    case "A":
      return (await resolver.resolve4(name)).map((value) => ({ type, value }));
    case "AAAA":
      return (await resolver.resolve6(name)).map((value) => ({ type, value: canonicalIpv6(value) }));
    case "CNAME":
      return (await resolver.resolveCname(name)).map((value) => ({ type, value: canonicalName(value) }));
    case "MX":
      return (await resolver.resolveMx(name)).map((record) => ({
        type,
        value: canonicalName(record.exchange),
      }));
    case "TXT":
      // A TXT record is split in strings of at most 255 bytes; its value is their concatenation.
      return (await resolver.resolveTxt(name)).map((chunks) => ({ type, value: chunks.join("") }));
  }
}

const DNS_ERRORS: Record<string, string> = {
  ESERVFAIL: "the DNS server failed (SERVFAIL)",
  EREFUSED: "the DNS server refused the query (REFUSED)",
  ECONNREFUSED: "the DNS server is not reachable (connection refused)",
  EBADRESP: "the DNS server's answer is malformed",
  EFORMERR: "the DNS server found the query malformed (FORMERR)",
  ENOTIMP: "the DNS server does not implement this query (NOTIMP)",
  EBADNAME: "the name is not valid",
};

/** What the answers of one type were: records, none, or a failure. */
type Outcome = { answers: Answer[] } | { none: "NXDOMAIN" | "NODATA" } | { error: string; code: string };

/** Shown answers: up to five addresses or names; TXT records are only counted. */
function describeAnswers(answers: readonly Answer[]): string {
  const txt = answers.filter((answer) => answer.type === "TXT").length;
  const shown = [...new Set(answers.filter((answer) => answer.type !== "TXT").map((answer) => answer.value))];
  const parts: string[] = [];
  if (shown.length > 0) {
    parts.push(shown.slice(0, 5).join(", ") + (shown.length > 5 ? ` and ${shown.length - 5} more` : ""));
  }
  if (txt > 0) parts.push(plural(txt, "TXT record"));
  return parts.join(" and ");
}

export interface DnsCheckOptions {
  /** Creates the resolver (tests spy on it); Node's `dns.promises.Resolver` by default. */
  createResolver?: (options: { timeout: number; tries: number }) => Resolver;
}

export function createDnsCheck(options: DnsCheckOptions = {}): CheckDefinition {
  const createResolver = options.createResolver ?? ((settings) => new Resolver(settings));

  async function run(ctx: CheckContext): Promise<CheckResult> {
    const params = parseParams(DNS_CHECK, DnsParamsSchema, ctx.params);
    const types = [...new Set(params.recordTypes)];
    const asked = `${params.name} ${types.join("/")}`;
    const server = params.resolver === undefined ? undefined : parseResolver(params.resolver);
    const via = params.resolver === undefined ? "" : ` (resolver ${params.resolver})`;
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);

    if (server) {
      const refused = refusal(server.address, server.address, allowedAddressKinds(params.allowAddresses));
      if (refused) return { isOk: false, message: `DNS lookup of ${asked}${via} failed: ${refused}` };
    }
    // Two tries of half the time each; the timer below bounds the whole lookup whatever c-ares does.
    const resolver = createResolver({ timeout: Math.max(1, Math.floor(params.timeoutMs / 2)), tries: 2 });
    if (server) {
      resolver.setServers([
        isIP(server.address) === 6
          ? `[${server.address}]:${server.port}`
          : `${server.address}:${server.port}`,
      ]);
    }

    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      resolver.cancel();
    }, params.timeoutMs);
    const onAbort = () => resolver.cancel();
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    let outcomes: Outcome[];
    try {
      if (ctx.signal.aborted) throw abortedError(ctx.signal, `DNS lookup of ${asked}`);
      outcomes = await Promise.all(
        types.map((type) =>
          query(resolver, params.name, type).then(
            (answers): Outcome => ({ answers }),
            (error: unknown): Outcome => {
              const code = errorCode(error) ?? "UNKNOWN";
              if (code === "ENOTFOUND") return { none: "NXDOMAIN" };
              if (code === "ENODATA") return { none: "NODATA" };
              return {
                code,
                error: DNS_ERRORS[code] ?? (error instanceof Error ? error.message : String(error)),
              };
            },
          ),
        ),
      );
    } finally {
      clearTimeout(timer);
      ctx.signal.removeEventListener("abort", onAbort);
    }
    if (ctx.signal.aborted)
      throw abortedError(ctx.signal, `DNS lookup of ${asked}${via} after ${elapsed()} ms`);
    const lookedUp = `DNS lookup of ${asked}${via}`;

    const failures = outcomes.flatMap((outcome, index) =>
      "error" in outcome ? [{ type: types[index], ...outcome }] : [],
    );
    if (failures.length > 0) {
      const timeout =
        timedOut || failures.some((failure) => failure.code === "ETIMEOUT" || failure.code === "ECANCELLED");
      const reason = timeout
        ? `no answer within ${params.timeoutMs} ms (params.timeoutMs)`
        : failures.map((failure) => `${failure.type}: ${failure.error}`).join("; ");
      ctx.logger.debug("dns check: lookup failed", { asked, reason });
      return { isOk: false, message: `${lookedUp} failed after ${elapsed()} ms: ${reason}` };
    }

    const answers = outcomes.flatMap((outcome) => ("answers" in outcome ? outcome.answers : []));
    ctx.logger.debug("dns check: answers", { asked, count: answers.length });
    if (answers.length === 0) {
      const nxdomain = outcomes.every((outcome) => "none" in outcome && outcome.none === "NXDOMAIN");
      return {
        isOk: false,
        message: nxdomain
          ? `${lookedUp}: ${params.name} does not exist (NXDOMAIN)`
          : `${lookedUp}: ${params.name} has no ${types.join(" or ")} records`,
      };
    }

    const found = `${lookedUp} found ${describeAnswers(answers)}`;
    if (params.expected === undefined) return { isOk: true, message: found };

    const missing = params.expected.filter((value) => !answers.some((answer) => sameValue(value, answer)));
    const unexpected =
      params.match === "exact"
        ? answers.filter((answer) => !params.expected?.some((value) => sameValue(value, answer)))
        : [];
    const problems: string[] = [];
    if (missing.length > 0) {
      problems.push(`missing the expected ${missing.map((value) => quote(value)).join(", ")}`);
    }
    if (unexpected.length > 0) {
      problems.push(
        `also found ${describeAnswers(unexpected)}, not expected (params.match "contains" allows more)`,
      );
    }
    if (problems.length > 0) return { isOk: false, message: `${found}: ${problems.join("; ")}` };
    const matched =
      params.match === "exact"
        ? "exactly the expected values"
        : `all ${plural(params.expected.length, "expected value")}`;
    return { isOk: true, message: `${found}: ${matched}` };
  }

  return {
    name: DNS_CHECK,
    description:
      "Resolves params.name (record types params.recordTypes, default A and AAAA); OK when it has records, and the expected values when params.expected is set.",
    paramsSchema: DnsParamsSchema,
    example: {
      name: "Mail goes to our provider",
      schedule: "rate(1 hour)",
      params: {
        name: "example.com",
        recordTypes: "MX",
        expected: ["mx1.mail.example.net", "mx2.mail.example.net"],
      },
    },
    run,
  };
}

export const dnsCheck: CheckDefinition = createDnsCheck();
