import { describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { InvalidParamsError } from "#monitors/support/params.ts";
import { TCP_CHECK, tcpCheck } from "#monitors/tcp.ts";

/** Params of the `tcp` check; its connections are tested in test/integration/monitors/tcp.test.ts. */

const run = (params: Record<string, unknown>) =>
  tcpCheck.run({
    monitorId: "m",
    params,
    signal: AbortSignal.timeout(5_000),
    logger: silentLogger,
    now: new Date(),
  });

describe("tcp check params", () => {
  it("is registered as tcp", () => {
    expect(tcpCheck.name).toBe(TCP_CHECK);
    expect(TCP_CHECK).toBe("tcp");
  });

  it.each([
    [{}, "params.host is required"],
    [{ host: "db.example.com" }, "params.port is required"],
    [{ port: 5432 }, "params.host is required"],
    [{ host: 42, port: 5432 }, "params.host must be a host name or an IP address"],
    [{ host: "", port: 5432 }, "params.host must be a host name or an IP address"],
    [{ host: "tcp://db.example.com", port: 5432 }, "params.host must be a host name or an IP address"],
    [{ host: "db.example.com:5432", port: 5432 }, "params.host must be a host name or an IP address"],
    [{ host: "db example.com", port: 5432 }, "params.host must be a host name or an IP address"],
    [{ host: "2130706433", port: 5432 }, "params.host must be a host name or an IP address"],
    [{ host: "db.example.com", port: "5432" }, "params.port must be a port number (1-65535)"],
    [{ host: "db.example.com", port: 0 }, "params.port must be a port number (1-65535)"],
    [{ host: "db.example.com", port: 65536 }, "params.port must be a port number (1-65535)"],
    [{ host: "db.example.com", port: 54.5 }, "params.port must be a port number (1-65535)"],
    [
      { host: "db.example.com", port: 5432, timeoutMs: 0 },
      "params.timeoutMs must be a number of milliseconds",
    ],
    [
      { host: "db.example.com", port: 5432, timeoutMs: "5s" },
      "params.timeoutMs must be a number of milliseconds",
    ],
    [
      { host: "db.example.com", port: 5432, timeoutMs: 900_000 },
      "params.timeoutMs must be a number of milliseconds from 1 to 840000",
    ],
    [
      { host: "db.example.com", port: 5432, allowAddresses: ["private"] },
      'params.allowAddresses[0] must be "loopback", "link-local" or "metadata"',
    ],
    [{ host: "db.example.com", port: 5432, timeout: 5 }, "params.timeout is not a known parameter"],
  ])("%j", async (params, expected) => {
    const error = await run(params).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidParamsError);
    expect((error as Error).message).toContain(expected);
  });

  it("accepts host names, IPv4 and IPv6 (with or without brackets)", () => {
    const schema = tcpCheck.paramsSchema;
    for (const host of [
      "db.example.com",
      "db.example.com.",
      "_sip._tcp.example.com",
      "localhost",
      "10.0.0.3",
      "::1",
      "[2001:db8::1]",
    ]) {
      expect(schema?.safeParse({ host, port: 1 }).success, host).toBe(true);
    }
  });
});
