import { once } from "node:events";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { ListSchedulesCommand, SchedulerClient } from "@aws-sdk/client-scheduler";
import { ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  AWS_REQUEST_TIMEOUTS,
  boundedRequestHandler,
  type RequestTimeouts,
} from "#adapters/aws-request-handler.ts";
import { createSesClient } from "#adapters/ses-client.ts";
import { lazySesClient, SesNotifier } from "#adapters/ses-notifier.ts";
import { silentLogger } from "#core/ports.ts";
import { createSqsQueueEmptyCheck } from "#monitors/sqs-queue-empty.ts";
import { checkClientConfig } from "#monitors/support/clients.ts";

/**
 * A peer that accepts connections and never answers (a stuck load balancer, a half-dead endpoint):
 * only a timeout that throws ends a call to it.
 */
const SHORT: RequestTimeouts = { connectMs: 1_000, requestMs: 300 };
const credentials = { accessKeyId: "test", secretAccessKey: "test" };
const email = { to: ["ops@example.com"], subject: "s", text: "t", html: "<p>t</p>" };

const servers: (Server | HttpServer)[] = [];
const sockets = new Set<Socket>();
const clients: { destroy(): void }[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await Promise.all(
    servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  );
  vi.unstubAllEnvs();
});

async function listen(server: Server | HttpServer): Promise<string> {
  servers.push(server);
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Accepts, reads, never writes a byte. */
async function silentServer() {
  let connections = 0;
  const server = createServer((socket) => {
    connections += 1;
    socket.resume();
  });
  return { endpoint: await listen(server), connections: () => connections };
}

/** Answers every request with `200 {}` after `delayMs`, or sends the headers and half a body and stalls. */
async function slowServer(delayMs: number, stallBody = false): Promise<string> {
  const server = createHttpServer((request, response) => {
    request.resume();
    setTimeout(() => {
      response.writeHead(200, { "content-type": "application/x-amz-json-1.0", "content-length": "2" });
      if (stallBody) response.write("{");
      else response.end("{}");
    }, delayMs);
  });
  return listen(server);
}

function track<Client extends { destroy(): void }>(client: Client): Client {
  clients.push(client);
  return client;
}

/** Each production client class with the shared handler, and one cheap call. */
const services = {
  DynamoDB: (endpoint: string, timeouts: RequestTimeouts) => {
    const client = track(
      new DynamoDBClient({
        endpoint,
        region: "us-east-1",
        credentials,
        maxAttempts: 1,
        requestHandler: boundedRequestHandler(timeouts),
      }),
    );
    return () => client.send(new ListTablesCommand({}));
  },
  SQS: (endpoint: string, timeouts: RequestTimeouts) => {
    const client = track(
      new SQSClient({
        endpoint,
        region: "us-east-1",
        credentials,
        maxAttempts: 1,
        requestHandler: boundedRequestHandler(timeouts),
      }),
    );
    return () => client.send(new ListQueuesCommand({}));
  },
  Scheduler: (endpoint: string, timeouts: RequestTimeouts) => {
    const client = track(
      new SchedulerClient({
        endpoint,
        region: "us-east-1",
        credentials,
        maxAttempts: 1,
        requestHandler: boundedRequestHandler(timeouts),
      }),
    );
    return () => client.send(new ListSchedulesCommand({}));
  },
  "check (SQS)": (endpoint: string, timeouts: RequestTimeouts) => {
    const client = track(
      new SQSClient({ ...checkClientConfig("us-east-1", timeouts), endpoint, credentials, maxAttempts: 1 }),
    );
    return () => client.send(new ListQueuesCommand({}));
  },
  "check (DynamoDB)": (endpoint: string, timeouts: RequestTimeouts) => {
    const client = track(
      new DynamoDBClient({
        ...checkClientConfig("us-east-1", timeouts),
        endpoint,
        credentials,
        maxAttempts: 1,
      }),
    );
    return () => client.send(new ListTablesCommand({}));
  },
};

describe("the pinned Smithy handler without throwOnRequestTimeout (the settings before this fix)", () => {
  it("only logs a warning at requestTimeout: a call to a silent peer stays pending", async () => {
    const { endpoint } = await silentServer();
    const warn = vi.fn();
    const client = track(
      new DynamoDBClient({
        endpoint,
        region: "us-east-1",
        credentials,
        maxAttempts: 1,
        requestHandler: {
          connectionTimeout: 3_000,
          requestTimeout: 300,
          logger: { debug() {}, info() {}, warn, error() {} },
        },
      }),
    );
    const call = client.send(new ListTablesCommand({})).then(
      () => "resolved",
      (error: Error) => error.name,
    );
    const outcome = await Promise.race([
      call,
      new Promise((resolve) => setTimeout(resolve, 1_500, "pending")),
    ]);
    expect(outcome).toBe("pending");
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/exceeded the configured 300 ms requestTimeout/));
  });
});

describe("boundedRequestHandler", () => {
  it("turns the request timeout into an error and bounds the socket's silence too", () => {
    expect(boundedRequestHandler()).toEqual({
      connectionTimeout: 3_000,
      requestTimeout: 5_000,
      socketTimeout: 5_000,
      throwOnRequestTimeout: true,
    });
    expect(AWS_REQUEST_TIMEOUTS).toEqual({ connectMs: 3_000, requestMs: 5_000 });
    expect(checkClientConfig(undefined)).toEqual({ requestHandler: boundedRequestHandler() });
    expect(checkClientConfig("eu-west-1")).toEqual({
      region: "eu-west-1",
      requestHandler: boundedRequestHandler(),
    });
  });

  describe.each(Object.entries(services))("%s client", (_name, build) => {
    it("rejects with a TimeoutError when the peer never answers", async () => {
      const { endpoint, connections } = await silentServer();
      const error = await build(endpoint, SHORT)().catch((thrown: unknown) => thrown);
      expect(error).toMatchObject({ name: "TimeoutError", $metadata: { attempts: 1 } });
      expect(connections()).toBe(1);
    });

    it("succeeds when the peer answers slowly within the bound", async () => {
      const endpoint = await slowServer(100);
      await expect(build(endpoint, { connectMs: 1_000, requestMs: 2_000 })()).resolves.toBeDefined();
    });
  });

  it("also ends a call whose response body stalls after the headers (socketTimeout)", async () => {
    const endpoint = await slowServer(0, true);
    const error = await services
      .DynamoDB(endpoint, SHORT)()
      .catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ name: "TimeoutError" });
    expect((error as Error).message).toMatch(/socket timed out/);
  });
});

describe("createSesClient", () => {
  function sesAt(endpoint: string) {
    vi.stubEnv("AWS_ENDPOINT_URL_SESV2", endpoint);
    vi.stubEnv("AWS_REGION", "us-east-1");
    vi.stubEnv("AWS_ACCESS_KEY_ID", credentials.accessKeyId);
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", credentials.secretAccessKey);
    return track(createSesClient(SHORT));
  }

  it("gives up on a silent peer after its 4 bounded attempts", async () => {
    const { endpoint, connections } = await silentServer();
    const notifier = new SesNotifier("watchkeeper@example.com", sesAt(endpoint));
    const error = await notifier.send(email).catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ name: "TimeoutError", $metadata: { attempts: 4 } });
    expect(connections()).toBe(4);
  });

  it("sends through a slow peer within the bound", async () => {
    const endpoint = await slowServer(100);
    const notifier = new SesNotifier("watchkeeper@example.com", sesAt(endpoint));
    await expect(notifier.send(email)).resolves.toEqual({ messageId: "unknown" });
  });
});

describe("lazySesClient (the orchestrator's, made on the first send)", () => {
  function lazyAt(endpoint: string) {
    vi.stubEnv("AWS_ENDPOINT_URL_SESV2", endpoint);
    vi.stubEnv("AWS_REGION", "us-east-1");
    vi.stubEnv("AWS_ACCESS_KEY_ID", credentials.accessKeyId);
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", credentials.secretAccessKey);
    const client = lazySesClient(SHORT);
    return async () => track(await client());
  }

  it("is made once and kept across sends", async () => {
    const client = lazyAt(await slowServer(0));
    expect(await client()).toBe(await client());
  });

  it("bounds its requests as createSesClient does: 4 bounded attempts on a silent peer", async () => {
    const { endpoint, connections } = await silentServer();
    const notifier = new SesNotifier("watchkeeper@example.com", lazyAt(endpoint));
    const error = await notifier.send(email).catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ name: "TimeoutError", $metadata: { attempts: 4 } });
    expect(connections()).toBe(4);
  });

  it("sends through a slow peer within the bound", async () => {
    const notifier = new SesNotifier("watchkeeper@example.com", lazyAt(await slowServer(100)));
    await expect(notifier.send(email)).resolves.toEqual({ messageId: "unknown" });
  });
});

describe("a check's default client", () => {
  it("fails the check with the timeout, long before ctx.signal aborts", async () => {
    const { endpoint } = await silentServer();
    const client = track(
      new SQSClient({
        ...checkClientConfig("us-east-1", SHORT),
        endpoint,
        credentials,
        maxAttempts: 1,
        useQueueUrlAsEndpoint: false,
      }),
    );
    const check = createSqsQueueEmptyCheck({ clientFor: () => client });
    const signal = AbortSignal.timeout(30_000);
    const error = await check
      .run({
        monitorId: "m",
        params: { queueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/q" },
        signal,
        logger: silentLogger,
        now: new Date(),
      })
      .catch((thrown: unknown) => thrown);
    expect(signal.aborted).toBe(false);
    expect(error).toMatchObject({ message: expect.stringMatching(/GetQueueAttributes on queue q failed/) });
    expect((error as Error).cause).toMatchObject({ name: "TimeoutError" });
  });
});
