import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { LambdaInvokeError, LambdaTimeoutError } from "./lambda-function.ts";
import { LOCAL_REGION, LOOPBACK, type RunningServer } from "./servers.ts";

/**
 * Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`) in front of local
 * functions (local/lambda-function.ts), so that a real `@aws-sdk/client-lambda` pointed at it
 * (`AWS_ENDPOINT_URL_LAMBDA`) invokes a handler module as it would a deployed function: the
 * `lambda` check's tests, and any local caller of Lambda. Answers as Lambda does:
 *
 * - RequestResponse: 200 with the handler's result as JSON; a handler that throws (or times out)
 *   is still a 200, with `X-Amz-Function-Error: Unhandled` and `{ errorType, errorMessage, trace }`;
 * - Event: 202 at once, the handler runs in the background; DryRun: 204;
 * - an unknown function or qualifier: 404 `ResourceNotFoundException`; a request over 6 MB: 413
 *   `RequestTooLargeException`; an answer over 6 MB: `Function.ResponseSizeTooLarge`.
 *
 * Functions are registered by name, and by `name:qualifier` for versions and aliases; the
 * unqualified name also answers `$LATEST`. Only loopback, no authentication: a local tool.
 */

/** What the server invokes: a LambdaFunction, or anything with its `invoke`. */
export interface Invocable {
  invoke(event: unknown): Promise<unknown>;
}

export interface LambdaInvokeServerOptions {
  /** Functions by name (`orders-check`) or by name and qualifier (`orders-check:live`). */
  functions: ReadonlyMap<string, Invocable>;
  /** @default 0 (any free port) */
  port?: number;
  /** Used in the ARNs of error messages. @default LOCAL_REGION */
  region?: string;
  /** @default "000000000000" */
  accountId?: string;
}

/** Lambda's limit on a synchronous request and on its response. */
export const MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
// `name`, `name:qualifier`, `123456789012:function:name[:qualifier]` or the full ARN.
const FUNCTION_REFERENCE =
  /^(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:|\d{12}:function:)?([A-Za-z0-9_-]{1,64})(?::([^:]+))?$/;

class RequestTooLarge extends Error {}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_SYNC_PAYLOAD_BYTES) throw new RequestTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function sendError(response: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ Type: status >= 500 ? "Service" : "User", Message: message, message });
  response.writeHead(status, {
    "content-type": "application/json",
    "x-amzn-errortype": type,
    "x-amzn-requestid": randomUUID(),
  });
  response.end(body);
}

function sendFunctionError(response: ServerResponse, errorType: string, errorMessage: string): void {
  response.writeHead(200, {
    "content-type": "application/json",
    "x-amz-function-error": "Unhandled",
    "x-amz-executed-version": "$LATEST",
    "x-amzn-requestid": randomUUID(),
  });
  response.end(JSON.stringify({ errorType, errorMessage, trace: [] }));
}

export async function startLambdaInvokeServer(options: LambdaInvokeServerOptions): Promise<RunningServer> {
  const region = options.region ?? LOCAL_REGION;
  const accountId = options.accountId ?? "000000000000";
  const arn = (name: string, qualifier?: string) =>
    `arn:aws:lambda:${region}:${accountId}:function:${name}${qualifier ? `:${qualifier}` : ""}`;

  function find(reference: string, qualifierParameter: string | null): Invocable | string {
    const match = FUNCTION_REFERENCE.exec(reference);
    if (!match?.[1]) return `Function not found: ${reference}`;
    const name = match[1];
    const qualifier = qualifierParameter || match[2];
    if (qualifierParameter && match[2] && qualifierParameter !== match[2]) {
      return `The derived qualifier from the function name does not match the specified qualifier.`;
    }
    const found =
      (qualifier ? options.functions.get(`${name}:${qualifier}`) : undefined) ??
      (!qualifier || qualifier === "$LATEST" ? options.functions.get(name) : undefined);
    return found ?? `Function not found: ${arn(name, qualifier)}`;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://localhost");
    const path = INVOKE_PATH.exec(url.pathname);
    if (request.method !== "POST" || !path?.[1]) {
      return sendError(
        response,
        404,
        "UnknownOperationException",
        `${request.method} ${url.pathname} is not Invoke`,
      );
    }
    let body: Buffer;
    try {
      body = await readBody(request);
    } catch (error) {
      if (error instanceof RequestTooLarge) {
        return sendError(
          response,
          413,
          "RequestTooLargeException",
          `Request must be smaller than ${MAX_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation`,
        );
      }
      throw error;
    }
    const target = find(decodeURIComponent(path[1]), url.searchParams.get("Qualifier"));
    if (typeof target === "string") return sendError(response, 404, "ResourceNotFoundException", target);

    let event: unknown = {};
    if (body.length > 0) {
      try {
        event = JSON.parse(body.toString("utf8"));
      } catch {
        return sendError(
          response,
          400,
          "InvalidRequestContentException",
          "Could not parse request body into json: the payload is not JSON",
        );
      }
    }

    const invocationType = String(request.headers["x-amz-invocation-type"] ?? "RequestResponse");
    if (invocationType === "DryRun") {
      response.writeHead(204, { "x-amzn-requestid": randomUUID() });
      return void response.end();
    }
    if (invocationType === "Event") {
      target.invoke(event).catch(() => undefined);
      response.writeHead(202, { "x-amzn-requestid": randomUUID() });
      return void response.end();
    }
    if (invocationType !== "RequestResponse") {
      return sendError(
        response,
        400,
        "InvalidParameterValueException",
        `Unknown invocation type ${invocationType}`,
      );
    }

    let result: unknown;
    try {
      result = await target.invoke(event);
    } catch (error) {
      if (error instanceof LambdaTimeoutError)
        return sendFunctionError(response, "Sandbox.Timedout", error.message);
      if (error instanceof LambdaInvokeError)
        return sendFunctionError(response, error.errorType, error.message);
      const message = error instanceof Error ? error.message : String(error);
      return sendFunctionError(response, error instanceof Error ? error.name : "Error", message);
    }
    // The Node.js runtime answers `undefined` as null, and anything else as its JSON.
    const payload = Buffer.from(JSON.stringify(result) ?? "null", "utf8");
    if (payload.length > MAX_SYNC_PAYLOAD_BYTES) {
      return sendFunctionError(
        response,
        "Function.ResponseSizeTooLarge",
        `Response payload size exceeded maximum allowed payload size (${MAX_SYNC_PAYLOAD_BYTES} bytes).`,
      );
    }
    response.writeHead(200, {
      "content-type": "application/json",
      "content-length": payload.length,
      "x-amz-executed-version": "$LATEST",
      "x-amzn-requestid": randomUUID(),
    });
    response.end(payload);
  }

  const server = createServer((request, response) => {
    // Only SDK clients on this machine: a web page open in a local browser could otherwise post
    // to it (a text/plain POST needs no CORS preflight), and a DNS-rebound name would arrive with
    // a Host other than the loopback address.
    const host = request.headers.host ?? "";
    if (request.headers.origin !== undefined || !/^(127\.0\.0\.1|localhost)(:\d+)?$/.test(host)) {
      return sendError(
        response,
        403,
        "AccessDeniedException",
        "only local SDK clients may invoke local functions",
      );
    }
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) return void response.destroy();
      sendError(response, 500, "ServiceException", error instanceof Error ? error.message : String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, LOOPBACK, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${LOOPBACK}:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
