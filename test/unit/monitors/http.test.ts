import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { describeNetworkError, displayUrl, HTTP_CHECK, httpCheck, MAX_BODY_BYTES } from "#monitors/http.ts";
import { InvalidParamsError } from "#monitors/support/params.ts";
import type { CheckContext } from "#monitors/types.ts";

/** What /json answers: a health document as services publish them. */
const HEALTH_DOCUMENT = {
  status: "ok",
  version: "2.14.1",
  checks: { db: { up: true, latencyMs: 12 }, "cache/redis": { up: false } },
  queues: [{ name: "orders", depth: 40 }],
  token: "sk-live-0123456789",
};

let server: Server;
let base: string;
/** What the server saw of the last request, to assert on what the check sent. */
let lastRequest: { method?: string; url?: string; headers: IncomingHttpHeaders } | undefined;

beforeAll(async () => {
  server = createServer((request, response) => {
    lastRequest = { method: request.method, url: request.url, headers: request.headers };
    const url = new URL(request.url ?? "/", "http://localhost");
    switch (url.pathname) {
      case "/ok":
        response.writeHead(200, { "content-type": "text/plain" }).end("service healthy");
        return;
      case "/status":
        response
          .writeHead(Number(url.searchParams.get("code")))
          .end(`status ${url.searchParams.get("code")}`);
        return;
      case "/slow":
        // Delays the headers: that is what maxLatencyMs measures.
        setTimeout(() => response.writeHead(200).end("finally"), Number(url.searchParams.get("ms")));
        return;
      case "/hang":
        return; // never answers: only an abort ends this request
      case "/big":
        response.writeHead(200);
        response.write("x".repeat(MAX_BODY_BYTES + 1024));
        response.end("needle");
        return;
      case "/split": {
        // The marker straddles two chunks and a multi-byte character.
        response.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
        const bytes = Buffer.from("status: héalthy");
        response.write(bytes.subarray(0, 10));
        setTimeout(() => response.end(bytes.subarray(10)), 20);
        return;
      }
      case "/reset":
        // Headers, part of the body, then the connection dies.
        response.writeHead(200, { "content-length": "1000" });
        response.write("partial");
        setTimeout(() => request.socket.destroy(), 20);
        return;
      case "/gzip":
        response
          .writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip" })
          .end(gzipSync("service healthy"));
        return;
      case "/json":
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(HEALTH_DOCUMENT));
        return;
      case "/json-gzip":
        response
          .writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" })
          .end(gzipSync(JSON.stringify(HEALTH_DOCUMENT)));
        return;
      case "/json-bom":
        response
          .writeHead(200, { "content-type": "application/json" })
          .end(`\uFEFF${JSON.stringify(HEALTH_DOCUMENT)}`);
        return;
      case "/not-json":
        response
          .writeHead(200, { "content-type": "text/html; charset=utf-8" })
          .end("<html>sk-live-0123456789</html>");
        return;
      case "/big-json":
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ padding: "x".repeat(MAX_BODY_BYTES), status: "ok" }));
        return;
      case "/redirect":
        response.writeHead(302, { location: "/ok?session=abc" }).end();
        return;
      default:
        response.writeHead(404).end("not found");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  lastRequest = undefined;
});

function context(params: Record<string, unknown>, signal = AbortSignal.timeout(10_000)): CheckContext {
  return { monitorId: "web-health", params, signal, logger: silentLogger, now: new Date() };
}

// Every server here is on 127.0.0.1, which the check refuses unless told otherwise (that policy is
// tested in test/integration/monitors/http.test.ts).
const run = (params: Record<string, unknown>, signal?: AbortSignal) =>
  httpCheck.run(context({ allowAddresses: ["loopback"], ...params }, signal));

/** A loopback port nobody listens on: bind one, then release it. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe("http check", () => {
  it("is registered under the name config items use", () => {
    expect(httpCheck.name).toBe(HTTP_CHECK);
    expect(HTTP_CHECK).toBe("http");
  });

  it("is OK on a 200 and names method, URL, status and latency", async () => {
    const result = await run({ url: `${base}/ok` });
    expect(result.isOk).toBe(true);
    expect(result.message).toMatch(new RegExp(`^GET ${base}/ok returned 200 OK in \\d+ ms$`));
    expect(lastRequest?.method).toBe("GET");
  });

  it("fails on a 500 and says which status was expected", async () => {
    const result = await run({ url: `${base}/status?code=500` });
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(/returned 500 Internal Server Error in \d+ ms: expected status 2xx$/);
  });

  it("accepts any 2xx by default", async () => {
    await expect(run({ url: `${base}/status?code=204` })).resolves.toMatchObject({ isOk: true });
    await expect(run({ url: `${base}/status?code=299` })).resolves.toMatchObject({ isOk: true });
    await expect(run({ url: `${base}/status?code=404` })).resolves.toMatchObject({ isOk: false });
  });

  it("honours expectedStatus as a number or a list", async () => {
    await expect(run({ url: `${base}/status?code=503`, expectedStatus: 503 })).resolves.toMatchObject({
      isOk: true,
    });
    await expect(run({ url: `${base}/status?code=200`, expectedStatus: 503 })).resolves.toMatchObject({
      isOk: false,
      message: expect.stringMatching(/expected status 503$/),
    });
    await expect(run({ url: `${base}/status?code=404`, expectedStatus: [200, 404] })).resolves.toMatchObject({
      isOk: true,
    });
    const miss = await run({ url: `${base}/status?code=500`, expectedStatus: [200, 204] });
    expect(miss).toMatchObject({
      isOk: false,
      message: expect.stringMatching(/expected status one of 200, 204$/),
    });
    // A DynamoDB number set means the same list.
    await expect(
      run({ url: `${base}/status?code=204`, expectedStatus: new Set([200, 204]) }),
    ).resolves.toMatchObject({ isOk: true });
  });

  it("finds bodyIncludes in the body", async () => {
    const result = await run({ url: `${base}/ok`, bodyIncludes: "healthy" });
    expect(result).toMatchObject({
      isOk: true,
      message: expect.stringMatching(/, body includes "healthy"$/),
    });
  });

  it("fails when the body lacks bodyIncludes and says so", async () => {
    const result = await run({ url: `${base}/ok`, bodyIncludes: "all systems go" });
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(
      /returned 200 OK in \d+ ms: body \(15 B\) does not include "all systems go"$/,
    );
  });

  it("searches a gzip-encoded body once decoded, and asks for it as fetch did", async () => {
    const result = await run({ url: `${base}/gzip`, bodyIncludes: "healthy" });
    expect(result).toMatchObject({
      isOk: true,
      message: expect.stringMatching(/, body includes "healthy"$/),
    });
    expect(lastRequest?.headers["accept-encoding"]).toBe("gzip, deflate");
  });

  it("finds a marker split across chunks and inside a multi-byte character", async () => {
    await expect(run({ url: `${base}/split`, bodyIncludes: "héalthy" })).resolves.toMatchObject({
      isOk: true,
    });
  });

  it("reads at most 1 MiB of the body", async () => {
    const result = await run({ url: `${base}/big`, bodyIncludes: "needle" });
    expect(result.isOk).toBe(false);
    expect(result.message).toContain('body does not include "needle" in its first 1 MiB');
  });

  it("reports a connection dropped mid-body as a failed check", async () => {
    const result = await run({ url: `${base}/reset`, bodyIncludes: "complete" });
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(/returned 200 OK in \d+ ms: reading the body failed: /);
  });

  it("does not judge the body of a response whose status is already wrong", async () => {
    const result = await run({ url: `${base}/status?code=500`, bodyIncludes: "status" });
    expect(result.isOk).toBe(false);
    expect(result.message).not.toContain("body");
  });

  it("fails when the response is slower than maxLatencyMs", async () => {
    const result = await run({ url: `${base}/slow?ms=300`, maxLatencyMs: 100 });
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(/returned 200 OK in \d+ ms: slower than the 100 ms limit$/);
    const latency = Number(/in (\d+) ms/.exec(result.message)?.[1]);
    expect(latency).toBeGreaterThanOrEqual(290);
  });

  it("is OK within maxLatencyMs", async () => {
    await expect(run({ url: `${base}/slow?ms=10`, maxLatencyMs: 5_000 })).resolves.toMatchObject({
      isOk: true,
    });
  });

  it("lists every problem at once", async () => {
    const result = await run({ url: `${base}/slow?ms=150`, expectedStatus: 201, maxLatencyMs: 50 });
    expect(result.message).toMatch(/: expected status 201; slower than the 50 ms limit$/);
  });

  it("aborts the request when ctx.signal aborts, and says so", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("timeout of 0.1 s reached")), 100);
    const started = performance.now();
    await expect(run({ url: `${base}/hang` }, controller.signal)).rejects.toThrow(
      new RegExp(`^GET ${base}/hang after \\d+ ms aborted: timeout of 0\\.1 s reached$`),
    );
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("aborts with AbortSignal.timeout's reason", async () => {
    await expect(run({ url: `${base}/hang` }, AbortSignal.timeout(50))).rejects.toThrow(
      /aborted: .*timeout/i,
    );
  });

  it("reports a refused connection as a failed check, not a crash", async () => {
    const port = await closedPort();
    const result = await run({ url: `http://127.0.0.1:${port}/health` });
    expect(result.isOk).toBe(false);
    expect(result.message).toMatch(
      new RegExp(
        `^GET http://127\\.0\\.0\\.1:${port}/health failed after \\d+ ms: connection refused \\(ECONNREFUSED\\)$`,
      ),
    );
  });

  it("sends HEAD when asked", async () => {
    await expect(run({ url: `${base}/ok`, method: "head" })).resolves.toMatchObject({
      isOk: true,
      message: expect.stringMatching(/^HEAD /),
    });
    expect(lastRequest?.method).toBe("HEAD");
  });

  it("sends params.headers and a Watchkeeper user agent, and never echoes header values", async () => {
    const secret = "Bearer sk-live-0123456789";
    const result = await run({ url: `${base}/status?code=401`, headers: { Authorization: secret } });
    expect(lastRequest?.headers.authorization).toBe(secret);
    expect(lastRequest?.headers["user-agent"]).toBe("Watchkeeper (monitor web-health)");
    expect(result.isOk).toBe(false);
    expect(result.message).not.toContain("sk-live");
  });

  it("lets params.headers override the user agent", async () => {
    await run({ url: `${base}/ok`, headers: { "User-Agent": "probe/2" } });
    expect(lastRequest?.headers["user-agent"]).toBe("probe/2");
  });

  it("keeps credentials and query strings of the URL out of its message", async () => {
    const result = await run({
      url: `http://user:hunter2@127.0.0.1:${new URL(base).port}/ok?token=s3cr3t#x`,
    });
    expect(result.isOk).toBe(true);
    expect(result.message).toContain(`GET ${base}/ok?… returned 200`);
    expect(result.message).not.toMatch(/hunter2|s3cr3t/);
    // fetch refuses credentials in a URL: they travel as Basic auth instead.
    expect(lastRequest?.headers.authorization).toBe(
      `Basic ${Buffer.from("user:hunter2").toString("base64")}`,
    );
    expect(lastRequest?.url).toBe("/ok?token=s3cr3t");
  });

  it("follows redirects by default and judges the final response", async () => {
    const result = await run({ url: `${base}/redirect`, bodyIncludes: "healthy" });
    expect(result.isOk).toBe(true);
    expect(result.message).toContain(`(redirected to ${base}/ok?…)`);
    expect(lastRequest?.url).toBe("/ok?session=abc");
  });

  it("judges the redirect itself with followRedirects: false", async () => {
    await expect(run({ url: `${base}/redirect`, followRedirects: false })).resolves.toMatchObject({
      isOk: false,
      message: expect.stringMatching(/returned 302 Found in \d+ ms: expected status 2xx$/),
    });
    await expect(
      run({ url: `${base}/redirect`, followRedirects: false, expectedStatus: 302 }),
    ).resolves.toMatchObject({ isOk: true });
  });

  describe("json assertions", () => {
    it("pass when every assertion holds, and say how many", async () => {
      const result = await run({
        url: `${base}/json`,
        json: [
          { pointer: "/status", equals: "ok" },
          { pointer: "/version", matches: "^2\\." },
          { pointer: "/checks/db/up", equals: true },
          { pointer: "/checks/cache~1redis/up", exists: true },
          { pointer: "/queues/0/depth", lessThan: 100, greaterThan: 0 },
          { pointer: "/maintenance", exists: false },
        ],
      });
      expect(result).toEqual({
        isOk: true,
        message: expect.stringMatching(
          new RegExp(`^GET ${base}/json returned 200 OK in \\d+ ms, 6 json assertions hold$`),
        ),
      });
    });

    it("fail naming each pointer and what was expected, never the values found", async () => {
      const result = await run({
        url: `${base}/json`,
        json: [
          { pointer: "/status", equals: "ok" },
          { pointer: "/checks/cache~1redis/up", equals: true },
          { pointer: "/queues/0/depth", lessThan: 10 },
          { pointer: "/token", matches: "^pk-" },
          { pointer: "/uptime", greaterThan: 60 },
        ],
      });
      expect(result.isOk).toBe(false);
      expect(result.message).toMatch(
        /returned 200 OK in \d+ ms: json "\/checks\/cache~1redis\/up" does not equal true \(found a boolean\); json "\/queues\/0\/depth" is not less than 10 \(found a number\); json "\/token" does not match \/\^pk-\/ \(found a string of 18 characters\); json "\/uptime" is missing$/,
      );
      expect(result.message).not.toContain("sk-live");
      expect(result.message).not.toContain("orders");
    });

    it("judge a gzip body once decoded, and a body starting with a byte order mark", async () => {
      for (const path of ["/json-gzip", "/json-bom"]) {
        await expect(
          run({ url: `${base}${path}`, json: [{ pointer: "/status", equals: "ok" }] }),
          path,
        ).resolves.toMatchObject({
          isOk: true,
        });
      }
    });

    it("fail clearly on a body that is not JSON, without quoting it", async () => {
      const result = await run({ url: `${base}/not-json`, json: [{ pointer: "/status", equals: "ok" }] });
      expect(result.isOk).toBe(false);
      expect(result.message).toMatch(/: body \(31 B, content-type "text\/html"\) is not valid JSON$/);
      expect(result.message).not.toContain("sk-live");
    });

    it("fail on a JSON body larger than 1 MiB instead of judging half a document", async () => {
      const result = await run({ url: `${base}/big-json`, json: [{ pointer: "/status", equals: "ok" }] });
      expect(result.isOk).toBe(false);
      expect(result.message).toMatch(/: body is larger than 1 MiB: too large to judge as JSON$/);
    });

    it("work with bodyIncludes on the same body", async () => {
      const both = await run({
        url: `${base}/json`,
        bodyIncludes: "orders",
        json: [{ pointer: "/status", equals: "ok" }],
      });
      expect(both.message).toMatch(/, body includes "orders", 1 json assertion holds$/);
      const neither = await run({
        url: `${base}/json`,
        bodyIncludes: "payments",
        json: [{ pointer: "/status", equals: "down" }],
      });
      expect(neither.message).toMatch(
        /: body \(\d+ B\) does not include "payments"; json "\/status" does not equal "down" \(found a string of 2 characters\)$/,
      );
    });

    it("are not judged when the status is already wrong", async () => {
      const result = await run({
        url: `${base}/status?code=500`,
        json: [{ pointer: "/status", equals: "ok" }],
      });
      expect(result.message).toMatch(/expected status 2xx$/);
    });
  });

  describe("params validation names the bad param", () => {
    it.each([
      [{}, "params.url is required"],
      [{ url: "ftp://example.com/file" }, "params.url must be an http(s) URL"],
      [{ url: "not a url" }, "params.url must be an http(s) URL"],
      [{ url: 42 }, "params.url must be an http(s) URL"],
      [{ url: "https://example.com", method: "POST" }, "params.method must be GET or HEAD"],
      [
        { url: "https://example.com", expectedStatus: 99 },
        "params.expectedStatus must be an HTTP status code",
      ],
      [
        { url: "https://example.com", expectedStatus: "200" },
        "params.expectedStatus must be an HTTP status code",
      ],
      [{ url: "https://example.com", expectedStatus: [] }, "params.expectedStatus must not be empty"],
      [
        { url: "https://example.com", expectedStatus: [200, 1000] },
        "params.expectedStatus[1] must be an HTTP status code (100-599)",
      ],
      [{ url: "https://example.com", bodyIncludes: "" }, "params.bodyIncludes must be a non-empty string"],
      [{ url: "https://example.com", maxLatencyMs: 0 }, "params.maxLatencyMs must be a positive number"],
      [
        { url: "https://example.com", headers: "x-api-key: 1" },
        "params.headers must be a map of header names",
      ],
      [
        { url: "https://example.com", headers: { "bad name": "v" } },
        'params.headers["bad name"] is not a valid HTTP header name',
      ],
      [{ url: "https://example.com", headers: { "X-Key": 7 } }, 'params.headers["X-Key"] must be a string'],
      [
        { url: "https://example.com", headers: { "X-Key": "a\r\nInjected: 1" } },
        'params.headers["X-Key"] must not contain control characters',
      ],
      [
        { url: "https://example.com", method: "HEAD", bodyIncludes: "ok" },
        "params.bodyIncludes cannot be used with method HEAD",
      ],
      [
        { url: "https://example.com", followRedirects: "no" },
        'params.followRedirects must be "same-origin", "any" or "none"',
      ],
      [
        { url: "https://example.com", allowAddresses: ["loopback", "private"] },
        'params.allowAddresses[1] must be "loopback", "link-local" or "metadata"',
      ],
      [
        { url: "https://example.com", allowAddresses: true },
        'params.allowAddresses must be "loopback", "link-local", "metadata" or a list of them',
      ],
      [{ url: "https://example.com", timeout: 5 }, "params.timeout is not a known parameter"],
      [
        { url: "https://example.com", json: { pointer: "/a", equals: 1 } },
        "params.json must be a list of assertions",
      ],
      [{ url: "https://example.com", json: [] }, "params.json must not be empty"],
      [{ url: "https://example.com", json: ["/status"] }, "params.json[0] must be an assertion such as"],
      [{ url: "https://example.com", json: [{ equals: 1 }] }, "params.json[0].pointer is required"],
      [
        { url: "https://example.com", json: [{ pointer: "status", equals: 1 }] },
        "params.json[0].pointer must be a JSON Pointer",
      ],
      [
        { url: "https://example.com", json: [{ pointer: "/a~2", equals: 1 }] },
        "params.json[0].pointer must be a JSON Pointer",
      ],
      [
        { url: "https://example.com", json: [{ pointer: 1, equals: 1 }] },
        "params.json[0].pointer must be a JSON Pointer",
      ],
      [
        { url: "https://example.com", json: [{ pointer: "/a" }] },
        "params.json[0] needs one of equals, matches, exists, greaterThan, lessThan",
      ],
      [
        { url: "https://example.com", json: [{ pointer: "/a", matches: "(" }] },
        "params.json[0].matches must be a regular expression in RE2 syntax (no lookaround, no backreferences): missing closing ): `(`",
      ],
      [
        { url: "https://example.com", json: [{ pointer: "/a", matches: 5 }] },
        "params.json[0].matches must be a regular expression",
      ],
      [
        { url: "https://example.com", json: [{ pointer: "/a", exists: "yes" }] },
        "params.json[0].exists must be true or false",
      ],
      [
        { url: "https://example.com", json: [{ pointer: "/a", greaterThan: "5" }] },
        "params.json[0].greaterThan must be a number",
      ],
      [
        { url: "https://example.com", json: [{ pointer: "/a", lessThan: null }] },
        "params.json[0].lessThan must be a number",
      ],
      [
        { url: "https://example.com", json: [{ pointer: "/a", exists: false, equals: 1 }] },
        "params.json[0].exists false cannot be combined",
      ],
      [
        { url: "https://example.com", json: [{ pointer: "/a", equal: 1 }] },
        "params.json[0].equal is not a known parameter",
      ],
      [
        { url: "https://example.com", json: new Array(21).fill({ pointer: "/a", exists: true }) },
        "params.json must hold at most 20 assertions",
      ],
      [
        { url: "https://example.com", method: "HEAD", json: [{ pointer: "/a", exists: true }] },
        "params.json cannot be used with method HEAD",
      ],
    ])("%j", async (params, expected) => {
      const error = await run(params).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidParamsError);
      expect((error as Error).message).toContain(expected);
      expect(lastRequest).toBeUndefined();
    });

    it("never echoes a header value in a validation message", async () => {
      const error = (await run({ url: "https://example.com", headers: { "X-Key": "sk-live-1\n" } }).catch(
        (caught: unknown) => caught,
      )) as Error;
      expect(error.message).not.toContain("sk-live");
    });
  });
});

describe("displayUrl", () => {
  it("drops credentials, query and fragment", () => {
    expect(displayUrl("https://u:p@example.com:8443/a/b?x=1#frag")).toBe("https://example.com:8443/a/b?…");
    expect(displayUrl("https://example.com")).toBe("https://example.com/");
  });
});

describe("describeNetworkError", () => {
  it("names the cause fetch hides behind 'fetch failed'", () => {
    const cause = Object.assign(new Error("getaddrinfo ENOTFOUND nowhere.invalid"), { code: "ENOTFOUND" });
    expect(describeNetworkError(new TypeError("fetch failed", { cause }))).toBe(
      "host not found (DNS) (ENOTFOUND)",
    );
  });

  it("digs the code out of an AggregateError (one error per address tried)", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED ::1:80"), { code: "ECONNREFUSED" });
    const cause = new AggregateError([refused, refused]);
    expect(describeNetworkError(new TypeError("fetch failed", { cause }))).toBe(
      "connection refused (ECONNREFUSED)",
    );
  });

  it("falls back to the cause's own message for unknown codes", () => {
    const cause = Object.assign(new Error("something odd"), { code: "E_ODD" });
    expect(describeNetworkError(new TypeError("fetch failed", { cause }))).toBe("something odd (E_ODD)");
    expect(describeNetworkError(new TypeError("fetch failed", { cause: new Error("plain") }))).toBe("plain");
  });
});
