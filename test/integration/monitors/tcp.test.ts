import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import type { Resolver } from "#monitors/support/addresses.ts";
import { createTcpCheck, tcpCheck } from "#monitors/tcp.ts";
import type { CheckContext } from "#monitors/types.ts";

/** The `tcp` check against a real TCP server on 127.0.0.1 that counts the connections it accepts. */

let server: Server;
let port: number;
let connections = 0;

beforeAll(async () => {
  server = createServer((socket) => {
    connections += 1;
    socket.on("error", () => {});
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

function context(params: Record<string, unknown>, signal = AbortSignal.timeout(10_000)): CheckContext {
  return { monitorId: "db-port", params, signal, logger: silentLogger, now: new Date() };
}

const loopback = { allowAddresses: ["loopback"] };

/** A loopback port nobody listens on: bind one, then release it. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port: free } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return free;
}

/** Waits until the server has seen `count` connections (the accept event follows the client's connect). */
async function connectionsReach(count: number): Promise<void> {
  while (connections < count) await new Promise((resolve) => setImmediate(resolve));
}

describe("tcp check", () => {
  it("is OK when the port accepts a connection, and says how long it took", async () => {
    const result = await tcpCheck.run(context({ host: "127.0.0.1", port, ...loopback }));
    expect(result).toEqual({
      isOk: true,
      message: expect.stringMatching(
        new RegExp(`^TCP connect to 127\\.0\\.0\\.1:${port} succeeded in \\d+ ms$`),
      ),
    });
    await connectionsReach(1);
  });

  it("names the address a host name resolved to", async () => {
    const resolve: Resolver = async () => [{ address: "127.0.0.1", family: 4 }];
    const result = await createTcpCheck({ resolve }).run(context({ host: "db.test", port, ...loopback }));
    expect(result.message).toMatch(
      new RegExp(`^TCP connect to db\\.test:${port} \\(127\\.0\\.0\\.1\\) succeeded in \\d+ ms$`),
    );
  });

  it("fails on a refused connection with the reason in words", async () => {
    const closed = await closedPort();
    const result = await tcpCheck.run(context({ host: "127.0.0.1", port: closed, ...loopback }));
    expect(result).toEqual({
      isOk: false,
      message: expect.stringMatching(
        new RegExp(
          `^TCP connect to 127\\.0\\.0\\.1:${closed} failed after \\d+ ms: connection refused \\(ECONNREFUSED\\)$`,
        ),
      ),
    });
  });

  it("fails when the name does not resolve", async () => {
    const resolve: Resolver = async (hostname) => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    };
    const result = await createTcpCheck({ resolve }).run(context({ host: "nowhere.test", port: 5432 }));
    expect(result).toEqual({
      isOk: false,
      message: expect.stringMatching(
        /^TCP connect to nowhere\.test:5432 failed after \d+ ms: host not found \(DNS\) \(ENOTFOUND\)$/,
      ),
    });
  });

  it("fails when nothing happens within timeoutMs (a lookup that never answers)", async () => {
    const resolve: Resolver = () => new Promise(() => {});
    const result = await createTcpCheck({ resolve }).run(
      context({ host: "black-hole.test", port: 5432, timeoutMs: 50 }),
    );
    expect(result).toEqual({
      isOk: false,
      message: expect.stringMatching(
        /^TCP connect to black-hole\.test:5432 failed after \d+ ms: no connection within 50 ms \(params\.timeoutMs\)$/,
      ),
    });
  });

  it("throws when ctx.signal aborts first, naming the target", async () => {
    const resolve: Resolver = () => new Promise(() => {});
    const controller = new AbortController();
    const running = createTcpCheck({ resolve }).run(
      context({ host: "black-hole.test", port: 5432 }, controller.signal),
    );
    controller.abort(new Error("timeout of 1 s reached"));
    await expect(running).rejects.toThrow(
      /^TCP connect to black-hole\.test:5432 after \d+ ms aborted: timeout of 1 s reached$/,
    );
  });

  describe("address policy", () => {
    it("refuses loopback by default and never connects", async () => {
      for (const host of ["127.0.0.1", "::1", "[::ffff:127.0.0.1]", "0.0.0.0"]) {
        const result = await tcpCheck.run(context({ host, port }));
        expect(result.isOk, host).toBe(false);
        expect(result.message, host).toMatch(
          /failed after \d+ ms: refused to connect to \S+, (a loopback address|the unspecified address).* \(params\.allowAddresses \["loopback"\] allows it\)$/,
        );
      }
      expect(connections).toBe(0);
    });

    it("refuses a host name that resolves to loopback, naming both", async () => {
      const result = await tcpCheck.run(context({ host: "localhost", port }));
      expect(result.message).toMatch(
        /refused to connect to localhost \((127\.0\.0\.1|::1)\), a loopback address/,
      );
      expect(connections).toBe(0);
    });

    it("refuses the metadata service even with link-local allowed", async () => {
      const result = await tcpCheck.run(
        context({ host: "169.254.169.254", port: 80, allowAddresses: "link-local" }),
      );
      expect(result.message).toContain(
        'refused to connect to 169.254.169.254, the cloud instance metadata service (params.allowAddresses ["metadata"] allows it)',
      );
      const resolve: Resolver = async () => [{ address: "169.254.170.2", family: 4 }];
      const viaName = await createTcpCheck({ resolve }).run(
        context({ host: "creds.test", port: 80, ...loopback }),
      );
      expect(viaName.message).toContain(
        "refused to connect to creds.test (169.254.170.2), the ECS task metadata",
      );
    });
  });
});
