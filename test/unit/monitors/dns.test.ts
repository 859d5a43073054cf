import { describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { DNS_CHECK, DnsParamsSchema, dnsCheck } from "#monitors/dns.ts";
import { InvalidParamsError } from "#monitors/support/params.ts";

/** Params of the `dns` check; lookups are tested against a DNS server in test/integration/monitors/. */

const run = (params: Record<string, unknown>) =>
  dnsCheck.run({
    monitorId: "m",
    params,
    signal: AbortSignal.timeout(5_000),
    logger: silentLogger,
    now: new Date(),
  });

describe("dns check params", () => {
  it("is registered as dns", () => {
    expect(dnsCheck.name).toBe(DNS_CHECK);
    expect(DNS_CHECK).toBe("dns");
  });

  it("defaults to A and AAAA, exact match, the system resolver and 5 s", () => {
    expect(DnsParamsSchema.parse({ name: "api.example.com" })).toEqual({
      name: "api.example.com",
      recordTypes: ["A", "AAAA"],
      match: "exact",
      timeoutMs: 5_000,
    });
  });

  it("takes one type or value as a string, a DynamoDB set as a list, and types in any case", () => {
    expect(
      DnsParamsSchema.parse({ name: "example.com", recordTypes: "mx", expected: "mx1.example.com" }),
    ).toMatchObject({ recordTypes: ["MX"], expected: ["mx1.example.com"] });
    expect(
      DnsParamsSchema.parse({
        name: "example.com",
        recordTypes: new Set(["A", "TXT"]),
        expected: new Set(["x"]),
      }),
    ).toMatchObject({ recordTypes: ["A", "TXT"], expected: ["x"] });
  });

  it("accepts resolvers as IPv4 or IPv6, with or without a port", () => {
    for (const resolver of ["1.1.1.1", "1.1.1.1:53", "2606:4700::1111", "[2606:4700::1111]:5353"]) {
      expect(DnsParamsSchema.safeParse({ name: "example.com", resolver }).success, resolver).toBe(true);
    }
  });

  it.each([
    [{}, "params.name is required"],
    [{ name: 7 }, "params.name must be a DNS name"],
    [{ name: "https://example.com" }, "params.name must be a DNS name"],
    [{ name: "192.0.2.1" }, "params.name must be a DNS name"],
    [
      { name: "example.com", recordTypes: "SRV" },
      'params.recordTypes[0] must be "A", "AAAA", "CNAME", "TXT" or "MX"',
    ],
    [{ name: "example.com", recordTypes: [] }, "params.recordTypes must not be empty"],
    [{ name: "example.com", recordTypes: 1 }, "params.recordTypes must be"],
    [{ name: "example.com", expected: [] }, "params.expected must not be empty"],
    [{ name: "example.com", expected: [1] }, "params.expected[0] must be a string"],
    [{ name: "example.com", expected: [""] }, "params.expected[0] must not be empty"],
    [{ name: "example.com", expected: "x", match: "some" }, 'params.match must be "exact" or "contains"'],
    [{ name: "example.com", match: "contains" }, "params.match needs params.expected"],
    [
      { name: "example.com", resolver: "dns.google" },
      "params.resolver must be the IP address of a DNS server",
    ],
    [
      { name: "example.com", resolver: "1.1.1.1:99999" },
      "params.resolver must be the IP address of a DNS server",
    ],
    [
      { name: "example.com", resolver: "2606:4700::1111:53:" },
      "params.resolver must be the IP address of a DNS server",
    ],
    [
      { name: "example.com", resolver: ["1.1.1.1"] },
      "params.resolver must be the IP address of a DNS server",
    ],
    [{ name: "example.com", timeoutMs: 0 }, "params.timeoutMs must be a number of milliseconds"],
    [{ name: "example.com", allowAddresses: ["everything"] }, "params.allowAddresses[0] must be"],
    [{ name: "example.com", type: "A" }, "params.type is not a known parameter"],
  ])("%j", async (params, expected) => {
    const error = await run(params).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidParamsError);
    expect((error as Error).message).toContain(expected);
  });
});
