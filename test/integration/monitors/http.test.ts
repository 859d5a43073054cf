import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { createHttpCheck, httpCheck, MAX_REDIRECTS, type Resolver } from "#monitors/http.ts";
import { CHECK_ALLOW_ADDRESSES } from "#monitors/support/addresses.ts";
import type { CheckContext, CheckDefinition } from "#monitors/types.ts";
import { startDemoSite } from "../../../local/demo-site.ts";
import { DEFAULT_SEED_FILE, loadSeedMonitors } from "../../../local/seed.ts";
import { selfSignedCertificate } from "../../support/tls.ts";

/**
 * The `http` check against real servers on 127.0.0.1: two plain HTTP servers on different ports
 * (two origins) and an HTTPS one with a certificate made at test time. Each server records what
 * reached it, so "never sent" is asserted where it matters: on the receiving side.
 */

interface Recorded {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
}

interface TestServer {
  origin: string;
  port: number;
  requests: Recorded[];
  /** TCP connections accepted: 0 means the check refused before connecting. */
  connections: number;
  server: Server;
}

const SECRET = "Bearer sk-live-0123456789";
const API_KEY = "key-abcdef-98765";

let a: TestServer;
let b: TestServer;
let secure: TestServer;
let certificate: string;

function routes(redirects: Record<string, (origin: string) => string>): RequestListener {
  return (request, response) => {
    const url = new URL(request.url ?? "/", "http://placeholder");
    const redirect = redirects[url.pathname];
    if (redirect) {
      const status = Number(url.searchParams.get("status") ?? 302);
      response.writeHead(status, { location: redirect(url.search) }).end();
      return;
    }
    if (url.pathname === "/chain") {
      const left = Number(url.searchParams.get("left"));
      if (left > 0) return void response.writeHead(302, { location: `/chain?left=${left - 1}` }).end();
    }
    if (url.pathname === "/health.json") {
      const document = { status: "ok", components: [{ name: "db", state: "up", lagSeconds: 3 }] };
      return void response
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify(document));
    }
    response.writeHead(200, { "content-type": "text/plain" }).end(`landed on ${url.pathname}`);
  };
}

async function start(server: Server, scheme: "http" | "https"): Promise<TestServer> {
  const record: TestServer = { origin: "", port: 0, requests: [], connections: 0, server };
  server.on("connection", () => {
    record.connections += 1;
  });
  server.on("secureConnection", () => {}); // counted by "connection" already
  server.prependListener("request", (request) => {
    record.requests.push({
      path: request.url ?? "",
      method: request.method ?? "",
      headers: request.headers,
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  record.port = (server.address() as AddressInfo).port;
  record.origin = `${scheme}://127.0.0.1:${record.port}`;
  return record;
}

async function stop(record: TestServer | undefined): Promise<void> {
  if (!record) return;
  record.server.closeAllConnections();
  await new Promise<void>((resolve) => record.server.close(() => resolve()));
}

beforeAll(async () => {
  const tls = selfSignedCertificate();
  certificate = tls.cert;
  // Targets of a's redirects are filled in once b and secure have ports.
  const targets = { b: "", secure: "" };
  a = await start(
    createServer(
      routes({
        "/same-origin": () => "/landing",
        "/to-b": () => `${targets.b}/landing`,
        "/to-b-and-back": () => `${targets.b}/back-to-a`,
        "/to-localhost": () => `http://localhost:${b.port}/landing`,
        "/to-metadata": () => "http://169.254.169.254/latest/meta-data/",
        "/to-evil": () => "http://evil.test/latest/meta-data/",
        "/to-mapped-metadata": () => "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "/to-ftp": () => "ftp://127.0.0.1/file",
        "/to-b-with-credentials": () => `http://someone:pw@127.0.0.1:${b.port}/landing`,
      }),
    ),
    "http",
  );
  b = await start(createServer(routes({ "/back-to-a": () => `${a.origin}/landing` })), "http");
  targets.b = b.origin;
  secure = await start(
    createHttpsServer(
      { key: tls.key, cert: tls.cert },
      routes({
        "/same-origin": () => "/landing",
        "/to-http": () => `${a.origin}/landing`,
        "/to-http-same-host": () => `http://127.0.0.1:${secure.port}/landing`,
        "/to-health": () => "/health.json",
      }),
    ) as unknown as Server,
    "https",
  );
  targets.secure = secure.origin;
});

afterAll(async () => {
  await Promise.all([stop(a), stop(b), stop(secure)]);
});

beforeEach(() => {
  for (const server of [a, b, secure]) {
    server.requests.length = 0;
    server.connections = 0;
  }
});

function context(params: Record<string, unknown>): CheckContext {
  return {
    monitorId: "web-health",
    params,
    signal: AbortSignal.timeout(10_000),
    logger: silentLogger,
    now: new Date(),
  };
}

/** The check as shipped, except that it trusts the test certificate. */
const trusting = () => createHttpCheck({ ca: certificate });
const loopback = { allowAddresses: ["loopback"] };
const secretHeaders = { Authorization: SECRET, "X-Api-Key": API_KEY };

async function run(params: Record<string, unknown>, check: CheckDefinition = trusting()) {
  const result = await check.run(context(params));
  // Whatever happened, no header value ever shows in the message.
  expect(result.message).not.toContain("sk-live");
  expect(result.message).not.toContain(API_KEY);
  return result;
}

describe("redirects", () => {
  it("follows a same-origin redirect by default, sending the headers to both hops", async () => {
    const result = await run({ url: `${a.origin}/same-origin`, headers: secretHeaders, ...loopback });
    expect(result).toMatchObject({ isOk: true });
    expect(result.message).toMatch(
      new RegExp(
        `^GET ${a.origin}/same-origin returned 200 OK in \\d+ ms \\(redirected to ${a.origin}/landing\\)$`,
      ),
    );
    expect(a.requests.map((request) => request.path)).toEqual(["/same-origin", "/landing"]);
    for (const request of a.requests) {
      expect(request.headers.authorization).toBe(SECRET);
      expect(request.headers["x-api-key"]).toBe(API_KEY);
    }
  });

  it("refuses a redirect to another origin by default, naming the hop, and never contacts it", async () => {
    const result = await run({ url: `${a.origin}/to-b`, headers: secretHeaders, ...loopback });
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(
      new RegExp(
        `^GET ${a.origin}/to-b failed after \\d+ ms: redirect 1 \\(302 from ${a.origin}/to-b to ${b.origin}/landing\\) refused: it leaves the origin ${a.origin} \\(params\\.followRedirects "any" follows it\\)$`,
      ),
    );
    expect(b.connections).toBe(0);
  });

  it('treats the former followRedirects: true as "same-origin"', async () => {
    const result = await run({ url: `${a.origin}/to-b`, followRedirects: true, ...loopback });
    expect(result.isOk).toBe(false);
    expect(b.connections).toBe(0);
  });

  it('follows another origin with followRedirects "any", without the custom headers', async () => {
    const result = await run({
      url: `${a.origin}/to-b`,
      headers: { ...secretHeaders, "User-Agent": "probe/2" },
      followRedirects: "any",
      ...loopback,
    });
    expect(result).toMatchObject({ isOk: true });
    expect(result.message).toContain(`(redirected to ${b.origin}/landing)`);
    expect(a.requests[0]?.headers.authorization).toBe(SECRET);
    expect(a.requests[0]?.headers["user-agent"]).toBe("probe/2");
    expect(b.requests).toHaveLength(1);
    const landed = b.requests[0]?.headers ?? {};
    expect(landed.authorization).toBeUndefined();
    expect(landed["x-api-key"]).toBeUndefined();
    // The other origin gets the default user agent, not the one params.headers set.
    expect(landed["user-agent"]).toBe("Watchkeeper (monitor web-health)");
  });

  it("never sends URL credentials (Basic auth) to another origin", async () => {
    const withCredentials = `http://user:hunter2@127.0.0.1:${a.port}/to-b`;
    const result = await run({ url: withCredentials, followRedirects: "any", ...loopback });
    expect(result.isOk).toBe(true);
    expect(result.message).not.toContain("hunter2");
    expect(a.requests[0]?.headers.authorization).toMatch(/^Basic /);
    expect(b.requests[0]?.headers.authorization).toBeUndefined();
    // Nor credentials a server writes into its Location.
    await expect(
      run({ url: `${a.origin}/to-b-with-credentials`, followRedirects: "any", ...loopback }),
    ).resolves.toMatchObject({
      isOk: true,
      message: expect.stringContaining(`(redirected to ${b.origin}/landing)`),
    });
    expect(b.requests[1]?.headers.authorization).toBeUndefined();
  });

  it("sends the headers again when a redirect comes back to the original origin, never to the other", async () => {
    const result = await run({
      url: `${a.origin}/to-b-and-back`,
      headers: secretHeaders,
      followRedirects: "any",
      ...loopback,
    });
    expect(result).toMatchObject({ isOk: true });
    expect(result.message).toContain(`(redirected to ${a.origin}/landing)`);
    expect(b.requests.map((request) => request.headers.authorization)).toEqual([undefined]);
    expect(a.requests.map((request) => request.headers.authorization)).toEqual([SECRET, SECRET]);
  });

  it('judges the 3xx itself with followRedirects "none" (or the former false)', async () => {
    for (const followRedirects of ["none", false]) {
      const result = await run({
        url: `${a.origin}/to-b`,
        followRedirects,
        expectedStatus: 302,
        ...loopback,
      });
      expect(result).toMatchObject({ isOk: true });
      expect(result.message).not.toContain("redirected");
    }
    expect(b.connections).toBe(0);
  });

  it(`follows at most ${MAX_REDIRECTS} redirects`, async () => {
    await expect(run({ url: `${a.origin}/chain?left=${MAX_REDIRECTS}`, ...loopback })).resolves.toMatchObject(
      {
        isOk: true,
      },
    );
    a.requests.length = 0;
    const result = await run({ url: `${a.origin}/chain?left=${MAX_REDIRECTS + 1}`, ...loopback });
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(
      new RegExp(
        `failed after \\d+ ms: more than ${MAX_REDIRECTS} redirects \\(redirect ${MAX_REDIRECTS + 1}: 302 from ${a.origin}/chain\\?… to ${a.origin}/chain\\?…\\)$`,
      ),
    );
    expect(a.requests).toHaveLength(MAX_REDIRECTS + 1);
  });

  it("keeps the method across redirects", async () => {
    await expect(
      run({ url: `${a.origin}/same-origin?status=301`, method: "HEAD", ...loopback }),
    ).resolves.toMatchObject({ isOk: true });
    expect(a.requests.map((request) => request.method)).toEqual(["HEAD", "HEAD"]);
  });

  it("refuses a redirect to a scheme other than http(s)", async () => {
    const result = await run({ url: `${a.origin}/to-ftp`, followRedirects: "any", ...loopback });
    expect(result.isOk).toBe(false);
    expect(result.message).toContain(
      `redirect 1 (302 from ${a.origin}/to-ftp) refused: its Location is not an http(s) URL (ftp:)`,
    );
  });
});

describe("https", () => {
  it("reaches the HTTPS server and follows its same-origin redirect", async () => {
    const result = await run({ url: `${secure.origin}/same-origin`, ...loopback });
    expect(result).toMatchObject({ isOk: true });
    expect(result.message).toContain(`(redirected to ${secure.origin}/landing)`);
  });

  it("fails on a certificate it does not trust", async () => {
    const result = await run({ url: `${secure.origin}/landing`, ...loopback }, httpCheck);
    expect(result.isOk).toBe(false);
    expect(result.message).toContain("the TLS certificate is self-signed (DEPTH_ZERO_SELF_SIGNED_CERT)");
  });

  it('refuses an https -> http redirect, even with followRedirects "any", and sends nothing over http', async () => {
    for (const [path, target] of [
      ["/to-http", `${a.origin}/landing`],
      ["/to-http-same-host", `http://127.0.0.1:${secure.port}/landing`],
    ]) {
      const result = await run({
        url: `${secure.origin}${path}`,
        headers: secretHeaders,
        followRedirects: "any",
        ...loopback,
      });
      expect(result.isOk).toBe(false);
      expect(result.message).toContain(
        `redirect 1 (302 from ${secure.origin}${path} to ${target}) refused: it leaves HTTPS for plain HTTP`,
      );
    }
    expect(a.connections).toBe(0);
    // Plain HTTP to the TLS server's own port would have been a third connection.
    expect(secure.connections).toBe(2);
    expect(secure.requests.map((request) => request.path)).toEqual(["/to-http", "/to-http-same-host"]);
  });
});

describe("json assertions", () => {
  it("judge the JSON of the final response, over HTTPS and after a redirect", async () => {
    const json = [
      { pointer: "/status", equals: "ok" },
      { pointer: "/components/0/state", matches: "^up$" },
      { pointer: "/components/0/lagSeconds", lessThan: 60 },
    ];
    const result = await run({
      url: `${secure.origin}/to-health`,
      json,
      headers: secretHeaders,
      ...loopback,
    });
    expect(result).toEqual({
      isOk: true,
      message: expect.stringMatching(
        new RegExp(
          `^GET ${secure.origin}/to-health returned 200 OK in \\d+ ms \\(redirected to ${secure.origin}/health\\.json\\), 3 json assertions hold$`,
        ),
      ),
    });
    expect(secure.requests.map((request) => request.path)).toEqual(["/to-health", "/health.json"]);
  });

  it("fail naming the pointer when a value is off, and judge nothing when the redirect is refused", async () => {
    const lagging = await run({
      url: `${secure.origin}/health.json`,
      json: [{ pointer: "/components/0/lagSeconds", lessThan: 1 }],
      ...loopback,
    });
    expect(lagging).toEqual({
      isOk: false,
      message: expect.stringMatching(
        /: json "\/components\/0\/lagSeconds" is not less than 1 \(found a number\)$/,
      ),
    });
    const refused = await run({
      url: `${a.origin}/to-b`,
      json: [{ pointer: "/status", equals: "ok" }],
      ...loopback,
    });
    expect(refused.message).toContain("refused: it leaves the origin");
    expect(b.connections).toBe(0);
  });
});

describe("address policy", () => {
  it("refuses what a monitor's params allow when the stack does not (checkAllowAddresses), and never connects", async () => {
    vi.stubEnv(CHECK_ALLOW_ADDRESSES, "");
    try {
      const result = await run({ url: `${a.origin}/landing`, allowAddresses: ["loopback"] });
      expect(result.isOk).toBe(false);
      expect(result.message).toContain(
        'a loopback address (only when the stack setting checkAllowAddresses names "loopback" and params.allowAddresses too)',
      );
      expect(a.connections).toBe(0);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("refuses loopback by default and never connects", async () => {
    const result = await run({ url: `${a.origin}/landing` });
    expect(result).toEqual({
      isOk: false,
      message: expect.stringMatching(
        new RegExp(
          `^GET ${a.origin}/landing failed after \\d+ ms: refused to connect to 127\\.0\\.0\\.1, a loopback address \\(params\\.allowAddresses \\["loopback"\\] allows it\\)$`,
        ),
      ),
    });
    expect(a.connections).toBe(0);
  });

  it("refuses a host name that resolves to loopback, naming both", async () => {
    const result = await run({ url: `http://localhost:${a.port}/landing` });
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(
      /refused to connect to localhost \((127\.0\.0\.1|::1)\), a loopback address/,
    );
    expect(a.connections).toBe(0);
  });

  it("refuses other spellings of loopback: IPv4-mapped IPv6, 0.0.0.0, a decimal IPv4", async () => {
    for (const host of ["[::ffff:127.0.0.1]", "0.0.0.0", "2130706433", "127.1"]) {
      const result = await run({ url: `http://${host}:${a.port}/landing` });
      expect(result.isOk, host).toBe(false);
      expect(result.message, host).toMatch(
        /refused to connect to \S+, (a loopback address|the unspecified address)/,
      );
    }
    expect(a.connections).toBe(0);
  });

  it("refuses the metadata service, also when a redirect leads there, even with link-local allowed", async () => {
    const direct = await run({
      url: "http://169.254.169.254/latest/meta-data/",
      allowAddresses: "link-local",
    });
    expect(direct.message).toMatch(
      /failed after \d+ ms: refused to connect to 169\.254\.169\.254, the cloud instance metadata service \(params\.allowAddresses \["metadata"\] allows it\)$/,
    );
    for (const path of ["/to-metadata", "/to-mapped-metadata"]) {
      const viaRedirect = await run({
        url: `${a.origin}${path}`,
        followRedirects: "any",
        allowAddresses: ["loopback", "link-local"],
      });
      expect(viaRedirect.isOk).toBe(false);
      expect(viaRedirect.message).toMatch(
        /\(redirected to http:\/\/(169\.254\.169\.254|\[::ffff:a9fe:a9fe\])\/latest\/meta-data\/\): refused to connect to \S+, the cloud instance metadata service/,
      );
    }
  });

  it("refuses a redirect to a host name that resolves to the metadata service", async () => {
    const resolve: Resolver = async (hostname) => {
      expect(hostname).toBe("evil.test");
      return [{ address: "169.254.169.254", family: 4 }];
    };
    const result = await run(
      { url: `${a.origin}/to-evil`, followRedirects: "any", ...loopback },
      createHttpCheck({ resolve }),
    );
    expect(result.message).toMatch(
      /\(redirected to http:\/\/evil\.test\/latest\/meta-data\/\): refused to connect to evil\.test \(169\.254\.169\.254\), the cloud instance metadata service/,
    );
  });

  it("follows a redirect to a name resolving to loopback when loopback is allowed", async () => {
    const allowed = await run({ url: `${a.origin}/to-localhost`, followRedirects: "any", ...loopback });
    expect(allowed).toMatchObject({ isOk: true });
    expect(allowed.message).toContain(`(redirected to http://localhost:${b.port}/landing)`);
  });

  it("connects to the address it validated: the name is resolved once, by the check's own resolver", async () => {
    const calls: string[] = [];
    const resolve: Resolver = async (hostname) => {
      calls.push(hostname);
      return [{ address: "127.0.0.1", family: 4 }];
    };
    const check = createHttpCheck({ resolve });
    // rebind.test exists nowhere but in this resolver: reaching the server proves the connection
    // used the answer that was checked, not a second lookup.
    const refused = await run({ url: `http://rebind.test:${a.port}/landing` }, check);
    expect(refused.message).toContain("refused to connect to rebind.test (127.0.0.1), a loopback address");
    expect(a.connections).toBe(0);
    const allowed = await run({ url: `http://rebind.test:${a.port}/landing`, ...loopback }, check);
    expect(allowed).toMatchObject({ isOk: true });
    expect(a.requests.map((request) => request.headers.host)).toEqual([`rebind.test:${a.port}`]);
    expect(calls).toEqual(["rebind.test", "rebind.test"]);
  });

  it("refuses a name when any of its addresses is refused", async () => {
    const resolve: Resolver = async () => [
      { address: "192.0.2.10", family: 4 },
      { address: "::1", family: 6 },
    ];
    const result = await run({ url: `http://mixed.test:${a.port}/` }, createHttpCheck({ resolve }));
    expect(result.message).toContain("refused to connect to mixed.test (::1), a loopback address");
  });
});

describe("the seeded monitors of `npm start`", () => {
  it("reach the demo site on 127.0.0.1: every seeded http monitor allows loopback and is OK", async () => {
    const site = await startDemoSite(0);
    try {
      const seeded = await loadSeedMonitors(DEFAULT_SEED_FILE, { demoSiteUrl: site.url });
      const monitors = seeded.filter((item) => item.check === "http");
      expect(monitors.length).toBeGreaterThan(0);
      for (const monitor of monitors) {
        const result = await httpCheck.run(context(monitor.params as Record<string, unknown>));
        expect(result, String(monitor.monitorId)).toMatchObject({ isOk: true });
      }
    } finally {
      await site.stop();
    }
  });
});
