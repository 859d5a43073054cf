import { createServer, type IncomingMessage, type Server } from "node:http";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { WebResult } from "../functions/web/app.ts";
import { LOOPBACK } from "./servers.ts";

/**
 * Serves the dashboard's HTTP API handler on 127.0.0.1: a small node:http adapter that turns each
 * request into the API Gateway HTTP API event (payload 2.0) the Lambda receives, and the handler's
 * result back into a response (cookies as Set-Cookie headers, as API Gateway does).
 */

const MAX_BODY_BYTES = 64 * 1024;

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function toHttpApiEvent(request: IncomingMessage, body: string): APIGatewayProxyEventV2 {
  const url = new URL(request.url ?? "/", `http://${LOOPBACK}`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && name !== "cookie")
      headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const cookies = (request.headers.cookie ?? "")
    .split(";")
    .map((pair) => pair.trim())
    .filter(Boolean);
  const method = request.method ?? "GET";
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    cookies,
    headers,
    ...(body ? { body, isBase64Encoded: false } : { isBase64Encoded: false }),
    requestContext: {
      accountId: "local",
      apiId: "local",
      domainName: headers.host ?? LOOPBACK,
      domainPrefix: "local",
      http: {
        method,
        path: url.pathname,
        protocol: "HTTP/1.1",
        sourceIp: request.socket.remoteAddress ?? LOOPBACK,
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: `${Date.now()}`,
      routeKey: "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
  } as APIGatewayProxyEventV2;
}

export interface LocalWebServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startWebServer(
  handle: (event: APIGatewayProxyEventV2) => Promise<WebResult>,
  options: { port?: number } = {},
): Promise<LocalWebServer> {
  const server: Server = createServer((request, response) => {
    void (async () => {
      try {
        const result = await handle(toHttpApiEvent(request, await readBody(request)));
        const headers: Record<string, string | string[]> = { ...result.headers };
        if (result.cookies.length > 0) headers["set-cookie"] = result.cookies;
        response.writeHead(result.statusCode ?? 200, headers);
        response.end(result.isBase64Encoded ? Buffer.from(result.body ?? "", "base64") : (result.body ?? ""));
      } catch {
        response.writeHead(500, { "content-type": "text/plain" });
        response.end("local web server error");
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, LOOPBACK, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://${LOOPBACK}:${port}/`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
