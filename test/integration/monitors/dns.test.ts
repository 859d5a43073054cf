import { createSocket } from "node:dgram";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { dnsCheck } from "#monitors/dns.ts";
import type { CheckContext } from "#monitors/types.ts";
import { startDnsServer, type TestDnsServer } from "../../support/dns.ts";

/** The `dns` check against a real DNS server (UDP, on 127.0.0.1) given as params.resolver. */

let dns: TestDnsServer;

beforeAll(async () => {
  dns = await startDnsServer({
    "api.test": [
      { type: "A", value: "192.0.2.10" },
      { type: "A", value: "192.0.2.11" },
      { type: "AAAA", value: "2001:db8::10" },
    ],
    "v4only.test": [{ type: "A", value: "192.0.2.20" }],
    "www.test": [{ type: "CNAME", value: "Edge.CDN.test" }],
    "mail.test": [
      { type: "MX", priority: 10, value: "mx1.mail.test" },
      { type: "MX", priority: 20, value: "mx2.mail.test" },
      { type: "TXT", value: ["v=spf1 include:_spf.mail.test ", "-all"] },
      { type: "TXT", value: ["verification-token-5f2a9c"] },
    ],
    "broken.test": "servfail",
    "silent.test": "silent",
  });
});

afterAll(async () => {
  await dns?.stop();
});

beforeEach(() => {
  dns.questions.length = 0;
});

function context(params: Record<string, unknown>, signal = AbortSignal.timeout(10_000)): CheckContext {
  return { monitorId: "dns", params, signal, logger: silentLogger, now: new Date() };
}

const run = (params: Record<string, unknown>, signal?: AbortSignal) =>
  dnsCheck.run(context({ resolver: dns.address, allowAddresses: ["loopback"], ...params }, signal));

describe("dns check", () => {
  it("resolves A and AAAA by default, and lists the addresses", async () => {
    const result = await run({ name: "api.test" });
    expect(result).toEqual({
      isOk: true,
      message: `DNS lookup of api.test A/AAAA (resolver ${dns.address}) found 192.0.2.10, 192.0.2.11, 2001:db8::10`,
    });
    expect(dns.questions.map((question) => question.type).sort()).toEqual(["A", "AAAA"]);
  });

  it("is OK with an IPv4 address only: the types asked are pooled", async () => {
    await expect(run({ name: "v4only.test" })).resolves.toMatchObject({
      isOk: true,
      message: expect.stringContaining("found 192.0.2.20"),
    });
  });

  it("fails for a name that does not exist", async () => {
    await expect(run({ name: "nowhere.test" })).resolves.toEqual({
      isOk: false,
      message: `DNS lookup of nowhere.test A/AAAA (resolver ${dns.address}): nowhere.test does not exist (NXDOMAIN)`,
    });
  });

  it("fails for a name without records of the types asked", async () => {
    await expect(run({ name: "www.test", recordTypes: ["A", "AAAA"] })).resolves.toEqual({
      isOk: false,
      message: `DNS lookup of www.test A/AAAA (resolver ${dns.address}): www.test has no A or AAAA records`,
    });
  });

  it("fails with the server's error in words", async () => {
    const result = await run({ name: "broken.test", recordTypes: "A" });
    expect(result).toEqual({
      isOk: false,
      message: expect.stringMatching(/failed after \d+ ms: A: the DNS server failed \(SERVFAIL\)$/),
    });
  });

  it("fails when the server never answers within timeoutMs", async () => {
    const result = await run({ name: "silent.test", recordTypes: "A", timeoutMs: 200 });
    expect(result).toEqual({
      isOk: false,
      message: expect.stringMatching(
        /^DNS lookup of silent\.test A \(resolver 127\.0\.0\.1:\d+\) failed after \d+ ms: no answer within 200 ms \(params\.timeoutMs\)$/,
      ),
    });
  });

  it("throws when ctx.signal aborts first", async () => {
    const controller = new AbortController();
    const running = run({ name: "silent.test", recordTypes: "A" }, controller.signal);
    // Abort once the question has reached the server: the lookup is then really in flight.
    while (dns.questions.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort(new Error("timeout of 1 s reached"));
    await expect(running).rejects.toThrow(/^DNS lookup of silent\.test A .*aborted: timeout of 1 s reached$/);
  });

  it("fails when nothing listens at the resolver's address", async () => {
    const probe = createSocket("udp4");
    await new Promise<void>((resolve) => probe.bind(0, "127.0.0.1", resolve));
    const { port } = probe.address();
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const result = await run({
      name: "api.test",
      recordTypes: "A",
      resolver: `127.0.0.1:${port}`,
      timeoutMs: 2_000,
    });
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(
      /failed after \d+ ms: (A: the DNS server is not reachable \(connection refused\)|no answer within 2000 ms \(params\.timeoutMs\))$/,
    );
  });

  describe("record types", () => {
    it("CNAME: the target, compared without case or trailing dot", async () => {
      await expect(
        run({ name: "www.test", recordTypes: "cname", expected: "edge.cdn.test." }),
      ).resolves.toEqual({
        isOk: true,
        message: `DNS lookup of www.test CNAME (resolver ${dns.address}) found edge.cdn.test: exactly the expected values`,
      });
    });

    it("MX: the exchanges", async () => {
      await expect(
        run({ name: "mail.test", recordTypes: "MX", expected: ["mx2.mail.test", "MX1.mail.test"] }),
      ).resolves.toMatchObject({
        isOk: true,
        message: expect.stringContaining("found mx1.mail.test, mx2.mail.test"),
      });
    });

    it("TXT: counted, never shown; a record split in strings is compared as one text", async () => {
      const result = await run({
        name: "mail.test",
        recordTypes: "TXT",
        expected: "v=spf1 include:_spf.mail.test -all",
        match: "contains",
      });
      expect(result).toEqual({
        isOk: true,
        message: `DNS lookup of mail.test TXT (resolver ${dns.address}) found 2 TXT records: all 1 expected value`,
      });
      const exact = await run({
        name: "mail.test",
        recordTypes: "TXT",
        expected: "v=spf1 include:_spf.mail.test -all",
      });
      expect(exact.isOk).toBe(false);
      expect(exact.message).toMatch(
        /: also found 1 TXT record, not expected \(params\.match "contains" allows more\)$/,
      );
      expect(exact.message).not.toContain("verification-token");
    });
  });

  describe("expected values", () => {
    it("exact: passes on the same set in any order, IPv6 in any spelling", async () => {
      await expect(
        run({ name: "api.test", expected: ["2001:DB8:0:0::10", "192.0.2.11", "192.0.2.10"] }),
      ).resolves.toMatchObject({
        isOk: true,
        message: expect.stringMatching(/: exactly the expected values$/),
      });
    });

    it("exact: fails on a missing and on an extra value, naming both", async () => {
      const result = await run({
        name: "api.test",
        recordTypes: "A",
        expected: ["192.0.2.10", "192.0.2.99"],
      });
      expect(result).toEqual({
        isOk: false,
        message: `DNS lookup of api.test A (resolver ${dns.address}) found 192.0.2.10, 192.0.2.11: missing the expected "192.0.2.99"; also found 192.0.2.11, not expected (params.match "contains" allows more)`,
      });
    });

    it("contains: extra answers are fine, a missing one is not", async () => {
      await expect(
        run({ name: "api.test", expected: "192.0.2.10", match: "contains" }),
      ).resolves.toMatchObject({ isOk: true });
      await expect(
        run({ name: "api.test", expected: ["192.0.2.10", "192.0.2.12"], match: "contains" }),
      ).resolves.toMatchObject({
        isOk: false,
        message: expect.stringMatching(/: missing the expected "192\.0\.2\.12"$/),
      });
    });
  });

  describe("address policy", () => {
    it("refuses a loopback or metadata resolver unless allowAddresses says so, and sends nothing", async () => {
      const loopback = await dnsCheck.run(context({ name: "api.test", resolver: dns.address }));
      expect(loopback).toEqual({
        isOk: false,
        message: `DNS lookup of api.test A/AAAA (resolver ${dns.address}) failed: refused to connect to 127.0.0.1, a loopback address (params.allowAddresses ["loopback"] allows it)`,
      });
      const metadata = await dnsCheck.run(
        context({
          name: "api.test",
          resolver: "[fd00:ec2::254]:53",
          allowAddresses: ["link-local", "loopback"],
        }),
      );
      expect(metadata.message).toContain(
        "refused to connect to fd00:ec2::254, the cloud instance metadata service",
      );
      expect(dns.questions).toEqual([]);
    });
  });
});
