import { X509Certificate } from "node:crypto";
import { type AddressInfo, createServer as createTcpServer, type Socket } from "node:net";
import { createSecureContext, createServer, type Server } from "node:tls";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import type { Resolver } from "#monitors/support/addresses.ts";
import { createTlsCertificateCheck, tlsCertificateCheck } from "#monitors/tls-certificate.ts";
import type { CheckContext, CheckDefinition } from "#monitors/types.ts";
import {
  issueCertificate,
  privateCertificateAuthority,
  selfSignedCertificate,
  type TestCertificate,
} from "../../support/tls.ts";

/**
 * The `tls-certificate` check against a real TLS server on 127.0.0.1. Certificates are made at
 * test time by a private CA; the server picks one by SNI name (`<name>.test`, which the test's
 * resolver points at 127.0.0.1) and presents a self-signed one for 127.0.0.1 to a client that
 * sends no name.
 */

let ca: TestCertificate;
let leaves: Record<string, TestCertificate>;
let server: Server;
let port: number;
/** TCP connections accepted: 0 means the check refused before connecting. */
let connections = 0;

beforeAll(async () => {
  ca = privateCertificateAuthority();
  leaves = {
    "ok.test": issueCertificate(ca, { altNames: ["DNS:ok.test"], days: 400 }),
    "soon.test": issueCertificate(ca, { altNames: ["DNS:soon.test"], days: 5 }),
    "expired.test": issueCertificate(ca, { altNames: ["DNS:expired.test"], days: -1 }),
    "wrong.test": issueCertificate(ca, { altNames: ["DNS:other.test", "DNS:*.other.test"], days: 400 }),
  };
  const selfSigned = selfSignedCertificate();
  server = createServer(
    {
      key: selfSigned.key,
      cert: selfSigned.cert,
      SNICallback: (name, callback) => {
        const leaf = leaves[name];
        callback(null, leaf ? createSecureContext({ key: leaf.key, cert: leaf.cert }) : undefined);
      },
    },
    (socket) => {
      socket.on("error", () => {});
      socket.end();
    },
  );
  server.on("tlsClientError", () => {});
  server.on("connection", () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  connections = 0;
});

/** Every `*.test` name is 127.0.0.1. */
const resolve: Resolver = async (hostname) => {
  if (!hostname.endsWith(".test"))
    throw Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
  return [{ address: "127.0.0.1", family: 4 }];
};
/** The check as shipped, except that it trusts the private CA and knows the `.test` names. */
const trusting = () => createTlsCertificateCheck({ ca: ca.cert, resolve });
const untrusting = () => createTlsCertificateCheck({ resolve });
const loopback = { allowAddresses: ["loopback"] };

function context(
  params: Record<string, unknown>,
  now = new Date(),
  signal = AbortSignal.timeout(10_000),
): CheckContext {
  return { monitorId: "cert", params, signal, logger: silentLogger, now };
}

const run = (params: Record<string, unknown>, check: CheckDefinition = trusting(), now?: Date) =>
  check.run(context({ port, ...loopback, ...params }, now));

function daysLeft(certificate: TestCertificate, now: Date): number {
  return Math.floor(
    (new Date(new X509Certificate(certificate.cert).validTo).getTime() - now.getTime()) / 86_400_000,
  );
}

describe("tls-certificate check", () => {
  it("is OK for a valid certificate from a trusted CA, and says how many days are left", async () => {
    const now = new Date();
    const result = await run({ host: "ok.test" }, trusting(), now);
    const days = daysLeft(leaves["ok.test"] as TestCertificate, now);
    expect(days).toBeGreaterThan(390);
    expect(result).toEqual({
      isOk: true,
      message: expect.stringMatching(
        new RegExp(
          `^TLS certificate of ok\\.test:${port} expires in ${days} days \\(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\), issued by "Watchkeeper test CA"; chain valid, host name matches$`,
        ),
      ),
    });
  });

  it("fails when fewer than minDaysLeft days are left (default 14), and passes with a lower limit", async () => {
    const now = new Date();
    const days = daysLeft(leaves["soon.test"] as TestCertificate, now);
    const result = await run({ host: "soon.test" }, trusting(), now);
    expect(result).toEqual({
      isOk: false,
      message: expect.stringMatching(
        new RegExp(
          `^TLS certificate of soon\\.test:${port} expires in ${days} days \\(.*\\), issued by "Watchkeeper test CA": fewer than 14 days left \\(params\\.minDaysLeft\\)$`,
        ),
      ),
    });
    await expect(run({ host: "soon.test", minDaysLeft: 3 })).resolves.toMatchObject({ isOk: true });
  });

  it("fails on an expired certificate, saying so once (not again as a chain error)", async () => {
    const result = await run({ host: "expired.test" });
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(
      new RegExp(
        `^TLS certificate of expired\\.test:${port} expired \\S+ ago \\(.*\\), issued by "Watchkeeper test CA": the certificate has expired$`,
      ),
    );
  });

  it("judges the dates at ctx.now (the tick's time): a certificate seen before it is valid fails", async () => {
    const result = await run({ host: "ok.test" }, trusting(), new Date(Date.now() - 10 * 86_400_000));
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(/: the certificate is not valid before \d{4}-\d\d-\d\dT\S+Z$/);
  });

  it("fails when the certificate does not cover the host name, naming what it covers", async () => {
    const result = await run({ host: "wrong.test" });
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(
      /: the certificate does not match the host name wrong\.test \(it covers "DNS:other\.test, DNS:\*\.other\.test"\)$/,
    );
  });

  it("fails when the chain does not validate, unless allowUntrustedChain accepts it", async () => {
    const result = await run({ host: "ok.test" }, untrusting());
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(
      /: the certificate chain does not validate: the TLS certificate cannot be verified \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\) \(params\.allowUntrustedChain accepts it\)$/,
    );
    const accepted = await run({ host: "ok.test", allowUntrustedChain: true }, untrusting());
    expect(accepted).toEqual({
      isOk: true,
      message: expect.stringMatching(
        /; chain not validated \(the TLS certificate cannot be verified\), accepted by params\.allowUntrustedChain, host name matches$/,
      ),
    });
    // Accepting the chain does not accept the rest.
    await expect(run({ host: "wrong.test", allowUntrustedChain: true }, untrusting())).resolves.toMatchObject(
      {
        isOk: false,
        message: expect.stringContaining("does not match the host name wrong.test"),
      },
    );
  });

  it("checks an IP-literal host against the certificate's IP names (no SNI)", async () => {
    const selfSigned = await run({ host: "127.0.0.1" });
    expect(selfSigned.isOk).toBe(false);
    expect(selfSigned.message).toContain("the TLS certificate is self-signed (DEPTH_ZERO_SELF_SIGNED_CERT)");
    expect(selfSigned.message).not.toContain("host name");
    // (The self-signed certificate is valid for 2 days only.)
    const accepted = await run({ host: "127.0.0.1", allowUntrustedChain: true, minDaysLeft: 0 });
    expect(accepted).toMatchObject({ isOk: true, message: expect.stringContaining("host name matches") });
  });

  it("reports every problem at once", async () => {
    const result = await run({ host: "wrong.test", minDaysLeft: 1000 }, untrusting());
    expect(result.message.split("; ")).toHaveLength(3);
  });

  it("fails when the server does not speak TLS", async () => {
    const sockets = new Set<Socket>();
    const plain = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.end("SSH-2.0-OpenSSH_9.6\r\n");
    });
    await new Promise<void>((done) => plain.listen(0, "127.0.0.1", done));
    try {
      const plainPort = (plain.address() as AddressInfo).port;
      const result = await run({ host: "ok.test", port: plainPort });
      expect(result).toEqual({
        isOk: false,
        message: expect.stringMatching(
          new RegExp(
            `^TLS handshake with ok\\.test:${plainPort} failed after \\d+ ms: the server does not speak TLS \\(ERR_SSL_\\w+\\)$`,
          ),
        ),
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((done) => plain.close(() => done()));
    }
  });

  it("fails on a refused connection and an unknown name, with the reason in words", async () => {
    const probe = createTcpServer();
    await new Promise<void>((done) => probe.listen(0, "127.0.0.1", done));
    const closed = (probe.address() as AddressInfo).port;
    await new Promise<void>((done) => probe.close(() => done()));
    await expect(run({ host: "ok.test", port: closed })).resolves.toMatchObject({
      isOk: false,
      message: expect.stringContaining("connection refused (ECONNREFUSED)"),
    });
    await expect(run({ host: "nowhere.example" })).resolves.toMatchObject({
      isOk: false,
      message: expect.stringContaining("host not found (DNS) (ENOTFOUND)"),
    });
  });

  it("fails after timeoutMs, and throws when ctx.signal aborts first", async () => {
    const never = createTlsCertificateCheck({ resolve: () => new Promise(() => {}) });
    await expect(run({ host: "slow.test", timeoutMs: 50 }, never)).resolves.toEqual({
      isOk: false,
      message: expect.stringMatching(
        /failed after \d+ ms: no connection within 50 ms \(params\.timeoutMs\)$/,
      ),
    });
    const controller = new AbortController();
    const running = never.run(
      context({ host: "slow.test", port, ...loopback }, new Date(), controller.signal),
    );
    controller.abort(new Error("timeout of 1 s reached"));
    await expect(running).rejects.toThrow(
      new RegExp(`^TLS handshake with slow\\.test:${port} after \\d+ ms aborted: timeout of 1 s reached$`),
    );
  });

  it("refuses loopback unless allowAddresses says so, and never connects", async () => {
    for (const host of ["127.0.0.1", "ok.test"]) {
      const result = await trusting().run(context({ host, port }));
      expect(result.message, host).toMatch(
        /failed after \d+ ms: refused to connect to (127\.0\.0\.1|ok\.test \(127\.0\.0\.1\)), a loopback address \(params\.allowAddresses \["loopback"\] allows it\)$/,
      );
    }
    expect(connections).toBe(0);
    const metadata = await tlsCertificateCheck.run(
      context({ host: "169.254.169.254", allowAddresses: "link-local" }),
    );
    expect(metadata.message).toContain("the cloud instance metadata service");
  });
});
