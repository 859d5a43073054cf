import { isIP } from "node:net";
import { checkServerIdentity, connect, type PeerCertificate, type TLSSocket } from "node:tls";
import * as z from "zod/mini";
import { abortedError } from "./support/abort.ts";
import {
  AddressRefusedError,
  allowedAddressKinds,
  guardedLookup,
  type Resolver,
  systemResolver,
} from "./support/addresses.ts";
import { formatDuration, plural, quote } from "./support/format.ts";
import {
  AllowAddressesSchema,
  bareHost,
  connectFailure,
  connectWithin,
  describeCode,
  HostSchema,
  hostPort,
  literalRefusal,
  PortSchema,
  timeoutMsSchema,
} from "./support/network.ts";
import { must, parseParams } from "./support/params.ts";
import type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * `tls-certificate`: the certificate a TLS server presents expires in at least `minDaysLeft` days,
 * its chain validates against the trusted roots, and it covers the host name. Only the handshake
 * happens: nothing is sent over the connection, which is closed at once.
 *
 * The handshake itself accepts any certificate, so that an expired, untrusted or mismatched one
 * can be described (days left, issuer) instead of being reduced to a TLS error; the check then
 * judges the chain (as Node verified it), the name (`tls.checkServerIdentity`) and the dates
 * (against `ctx.now`) itself. `allowUntrustedChain` accepts a chain that does not validate (a
 * private CA, a self-signed certificate): expiry and the host name are still checked.
 */

export const TLS_CERTIFICATE_CHECK = "tls-certificate";

const DAY_MS = 24 * 60 * 60 * 1000;

export const TlsCertificateParamsSchema = z.strictObject({
  // A clone: HostSchema is shared (classic zod's `.meta()` cloned too).
  host: HostSchema.clone().register(z.globalRegistry, {
    description:
      "Host name (also sent as SNI and matched against the certificate) or IP address, e.g. api.example.com.",
  }),
  port: z._default(PortSchema, 443).register(z.globalRegistry, { description: "Port of the TLS server." }),
  minDaysLeft: z
    ._default(
      z
        .number({ error: must("must be a whole number of days from 0 to 3650") })
        .check(
          z.int("must be a whole number of days from 0 to 3650"),
          z.gte(0, "must be a whole number of days from 0 to 3650"),
          z.lte(3650, "must be a whole number of days from 0 to 3650"),
        ),
      14,
    )
    .register(z.globalRegistry, { description: "Fewest days the certificate must still be valid for." }),
  allowUntrustedChain: z
    ._default(z.boolean({ error: must("must be true or false") }), false)
    .register(z.globalRegistry, {
      description:
        "Accept a chain that does not validate against the trusted roots (self-signed, private CA); the expiry and the host name are still checked.",
    }),
  timeoutMs: timeoutMsSchema(
    10_000,
    "Longest wait for the handshake (DNS and TCP included), in milliseconds.",
  ),
  allowAddresses: AllowAddressesSchema,
});
export type TlsCertificateParams = z.infer<typeof TlsCertificateParamsSchema>;

/** Options a test may set; the shipped check uses the defaults. */
export interface TlsCertificateCheckOptions {
  /** How host names are resolved (the system resolver by default). */
  resolve?: Resolver;
  /** Certificate authorities to trust instead of Node's bundled roots (tests use a private CA). */
  ca?: string;
}

/** `2026-12-03T10:00:00Z`: the instant, without milliseconds. */
function isoTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The issuer as people know it: its common name, else its organization. */
function issuerName(certificate: PeerCertificate): string | undefined {
  const { CN, O } = certificate.issuer ?? {};
  const name = [CN, O].flat().find((value): value is string => typeof value === "string" && value !== "");
  return name === undefined ? undefined : quote(name, 60);
}

/** The names a certificate covers, for the host-name mismatch message. */
function coveredNames(certificate: PeerCertificate): string {
  const names = certificate.subjectaltname
    ? certificate.subjectaltname.split(", ")
    : certificate.subject?.CN
      ? [`CN=${certificate.subject.CN}`]
      : [];
  if (names.length === 0) return "it names no host";
  const shown = names.slice(0, 5).join(", ");
  return `it covers ${quote(shown, 200)}${names.length > 5 ? ` and ${names.length - 5} more` : ""}`;
}

function chainProblem(code: string): string {
  const words = describeCode(code);
  return `the certificate chain does not validate: ${words ? `${words} (${code})` : code} (params.allowUntrustedChain accepts it)`;
}

export function createTlsCertificateCheck(options: TlsCertificateCheckOptions = {}): CheckDefinition {
  const resolve = options.resolve ?? systemResolver;

  async function run(ctx: CheckContext): Promise<CheckResult> {
    const params = parseParams(TLS_CERTIFICATE_CHECK, TlsCertificateParamsSchema, ctx.params);
    const target = hostPort(params.host, params.port);
    const host = bareHost(params.host);
    // SNI carries names only; the certificate of an IP-literal host must cover that IP.
    const servername = isIP(host) ? undefined : host.replace(/\.$/, "");
    const allowed = allowedAddressKinds(params.allowAddresses);
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);

    let socket: TLSSocket;
    try {
      const refused = literalRefusal(params.host, allowed);
      if (refused) throw new AddressRefusedError(refused);
      socket = await connectWithin(
        () =>
          connect({
            host,
            port: params.port,
            ...(servername === undefined ? {} : { servername }),
            // Judged below, so that an expired or untrusted certificate can still be described.
            rejectUnauthorized: false,
            lookup: guardedLookup(resolve, allowed),
            ...(options.ca === undefined ? {} : { ca: options.ca }),
          }),
        "secureConnect",
        params.timeoutMs,
        ctx.signal,
        `TLS handshake with ${target}`,
      );
    } catch (error) {
      if (ctx.signal.aborted)
        throw abortedError(ctx.signal, `TLS handshake with ${target} after ${elapsed()} ms`);
      const reason = connectFailure(error);
      ctx.logger.debug("tls-certificate check: handshake failed", { target, reason });
      return { isOk: false, message: `TLS handshake with ${target} failed after ${elapsed()} ms: ${reason}` };
    }

    let certificate: PeerCertificate;
    let authorizationError: string | undefined;
    try {
      certificate = socket.getPeerCertificate();
      authorizationError = socket.authorized ? undefined : String(socket.authorizationError ?? "UNKNOWN");
    } finally {
      socket.destroy();
    }
    if (!certificate || Object.keys(certificate).length === 0) {
      return { isOk: false, message: `TLS server ${target} presented no certificate` };
    }

    const validTo = new Date(certificate.valid_to);
    const validFrom = new Date(certificate.valid_from);
    if (Number.isNaN(validTo.getTime()) || Number.isNaN(validFrom.getTime())) {
      return { isOk: false, message: `TLS certificate of ${target} has unreadable validity dates` };
    }
    const msLeft = validTo.getTime() - ctx.now.getTime();
    const daysLeft = Math.floor(msLeft / DAY_MS);
    const expired = msLeft <= 0;
    const notYetValid = validFrom.getTime() > ctx.now.getTime();

    const problems: string[] = [];
    let facts: string;
    if (expired) {
      facts = `expired ${formatDuration(-msLeft)} ago (${isoTime(validTo)})`;
      problems.push("the certificate has expired");
    } else {
      facts = `expires in ${daysLeft >= 1 ? plural(daysLeft, "day") : formatDuration(msLeft)} (${isoTime(validTo)})`;
      if (daysLeft < params.minDaysLeft) {
        problems.push(`fewer than ${plural(params.minDaysLeft, "day")} left (params.minDaysLeft)`);
      }
    }
    if (notYetValid) problems.push(`the certificate is not valid before ${isoTime(validFrom)}`);
    const issuer = issuerName(certificate);
    if (issuer) facts += `, issued by ${issuer}`;

    const identityError = checkServerIdentity(servername ?? host, certificate);
    if (identityError) {
      problems.push(
        `the certificate does not match the host name ${servername ?? host} (${coveredNames(certificate)})`,
      );
    }

    // A problem already reported needs no second word from Node's verification (which checks
    // the host name too, once the chain is valid).
    const reported =
      (authorizationError === "CERT_HAS_EXPIRED" && expired) ||
      (authorizationError === "CERT_NOT_YET_VALID" && notYetValid) ||
      (authorizationError === "ERR_TLS_CERT_ALTNAME_INVALID" && identityError !== undefined);
    let chainNote = "chain valid";
    if (authorizationError && !reported) {
      if (params.allowUntrustedChain) {
        chainNote = `chain not validated (${describeCode(authorizationError) ?? authorizationError}), accepted by params.allowUntrustedChain`;
      } else {
        problems.push(chainProblem(authorizationError));
      }
    }

    ctx.logger.debug("tls-certificate check", {
      target,
      daysLeft,
      authorizationError,
      problems: problems.length,
    });
    const summary = `TLS certificate of ${target} ${facts}`;
    return problems.length === 0
      ? { isOk: true, message: `${summary}; ${chainNote}, host name matches` }
      : { isOk: false, message: `${summary}: ${problems.join("; ")}` };
  }

  return {
    name: TLS_CERTIFICATE_CHECK,
    description:
      "Checks the TLS certificate of params.host:params.port (default 443): at least params.minDaysLeft (default 14) days left, chain valid, host name matches.",
    paramsSchema: TlsCertificateParamsSchema,
    example: {
      name: "api.example.com certificate is not about to expire",
      schedule: "cron(0 8 * * ? *)",
      params: { host: "api.example.com", minDaysLeft: 21 },
    },
    run,
  };
}

export const tlsCertificateCheck: CheckDefinition = createTlsCertificateCheck();
