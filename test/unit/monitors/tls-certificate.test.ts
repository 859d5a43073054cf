import { describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { InvalidParamsError } from "#monitors/support/params.ts";
import {
  TLS_CERTIFICATE_CHECK,
  TlsCertificateParamsSchema,
  tlsCertificateCheck,
} from "#monitors/tls-certificate.ts";

/** Params of the `tls-certificate` check; handshakes are tested in test/integration/monitors/. */

const run = (params: Record<string, unknown>) =>
  tlsCertificateCheck.run({
    monitorId: "m",
    params,
    signal: AbortSignal.timeout(5_000),
    logger: silentLogger,
    now: new Date(),
  });

describe("tls-certificate check params", () => {
  it("is registered as tls-certificate", () => {
    expect(tlsCertificateCheck.name).toBe(TLS_CERTIFICATE_CHECK);
    expect(TLS_CERTIFICATE_CHECK).toBe("tls-certificate");
  });

  it("defaults to port 443, 14 days, a valid chain and a 10 s timeout", () => {
    expect(TlsCertificateParamsSchema.parse({ host: "example.com" })).toEqual({
      host: "example.com",
      port: 443,
      minDaysLeft: 14,
      allowUntrustedChain: false,
      timeoutMs: 10_000,
    });
  });

  it.each([
    [{}, "params.host is required"],
    [{ host: 443 }, "params.host must be a host name or an IP address"],
    [{ host: "https://example.com" }, "params.host must be a host name or an IP address"],
    [{ host: "example.com", port: "443" }, "params.port must be a port number (1-65535)"],
    [{ host: "example.com", port: 70000 }, "params.port must be a port number (1-65535)"],
    [
      { host: "example.com", minDaysLeft: -1 },
      "params.minDaysLeft must be a whole number of days from 0 to 3650",
    ],
    [
      { host: "example.com", minDaysLeft: 1.5 },
      "params.minDaysLeft must be a whole number of days from 0 to 3650",
    ],
    [
      { host: "example.com", minDaysLeft: "14" },
      "params.minDaysLeft must be a whole number of days from 0 to 3650",
    ],
    [
      { host: "example.com", minDaysLeft: 5000 },
      "params.minDaysLeft must be a whole number of days from 0 to 3650",
    ],
    [{ host: "example.com", allowUntrustedChain: "yes" }, "params.allowUntrustedChain must be true or false"],
    [{ host: "example.com", timeoutMs: -5 }, "params.timeoutMs must be a number of milliseconds"],
    [{ host: "example.com", allowAddresses: 1 }, "params.allowAddresses must be"],
    [{ host: "example.com", servername: "x" }, "params.servername is not a known parameter"],
  ])("%j", async (params, expected) => {
    const error = await run(params).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidParamsError);
    expect((error as Error).message).toContain(expected);
  });
});
