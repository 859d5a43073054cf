import { createServer, type Server } from "node:http";
import { LOOPBACK } from "./servers.ts";

/**
 * A tiny web site on loopback for the seeded `http` monitor, so the demo works offline and a
 * newcomer can make it fail on purpose:
 *   GET /health          200 {"status":"ok"}
 *   GET /status/<code>   that status (e.g. /status/503)
 *   GET /slow?ms=<n>     200 after n milliseconds (at most 60 s), to try maxLatencyMs
 */

export interface DemoSite {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const MAX_DELAY_MS = 60_000;

function route(server: Server): void {
  server.on("request", (request, response) => {
    const url = new URL(request.url ?? "/", "http://demo.local");
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
      response.end(request.method === "HEAD" ? undefined : `${JSON.stringify(body)}\n`);
    };
    if (url.pathname === "/health") return reply(200, { status: "ok", at: new Date().toISOString() });
    const status = /^\/status\/([1-5]\d\d)$/.exec(url.pathname)?.[1];
    if (status) return reply(Number(status), { status: Number(status) });
    if (url.pathname === "/slow") {
      const ms = Math.min(Math.max(Number(url.searchParams.get("ms")) || 0, 0), MAX_DELAY_MS);
      const timer = setTimeout(() => reply(200, { status: "ok", delayedMs: ms }), ms);
      response.on("close", () => clearTimeout(timer));
      return;
    }
    reply(404, { error: "not found", try: ["/health", "/status/503", "/slow?ms=1500"] });
  });
}

/** Starts the site on 127.0.0.1:`port` (0 = any free port). */
export async function startDemoSite(port = 0): Promise<DemoSite> {
  const server = createServer();
  route(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, LOOPBACK, () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  return {
    url: `http://${LOOPBACK}:${actualPort}`,
    port: actualPort,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
