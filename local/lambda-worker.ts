import { parentPort, workerData } from "node:worker_threads";
import type { Context } from "aws-lambda";

/**
 * One Lambda execution environment: a worker thread that imports the handler module once (the
 * init phase, with the function's environment already in process.env) and then serves one
 * invocation at a time, as Lambda does. Started by lambda-function.ts; never imported directly.
 */

export interface WorkerInit {
  moduleUrl: string;
  exportName: string;
  functionName: string;
  memoryMb: number;
  region: string;
  logGroupName: string;
  logStreamName: string;
}

export interface InvokeRequest {
  id: number;
  event: unknown;
  requestId: string;
  /** Epoch ms at which the invocation times out. */
  deadline: number;
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

export type InvokeReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: SerializedError };

/** Sent once, when the init phase is over: invocation timeouts only start counting after it. */
export type InitReply = { init: "done" } | { init: "failed"; error: SerializedError };

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const init = workerData as WorkerInit;

function context(request: InvokeRequest): Context {
  const deprecated = (name: string) => () => {
    throw new Error(`context.${name}() is not supported for async handlers`);
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: init.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${init.region}:000000000000:function:${init.functionName}`,
    memoryLimitInMB: String(init.memoryMb),
    awsRequestId: request.requestId,
    logGroupName: init.logGroupName,
    logStreamName: init.logStreamName,
    getRemainingTimeInMillis: () => Math.max(0, request.deadline - Date.now()),
    done: deprecated("done"),
    fail: deprecated("fail"),
    succeed: deprecated("succeed"),
  };
}

function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  }
  return { name: "Error", message: String(error) };
}

// The init phase runs once; an error there fails every invocation, as a broken deployment would.
const loaded: Promise<Handler> = import(init.moduleUrl).then((module: Record<string, unknown>) => {
  const handler = module[init.exportName];
  if (typeof handler !== "function") {
    throw new Error(`${init.moduleUrl} does not export a function named "${init.exportName}"`);
  }
  return handler as Handler;
});
loaded.then(
  () => parentPort?.postMessage({ init: "done" } satisfies InitReply),
  (error: unknown) => {
    console.error(JSON.stringify({ level: "ERROR", message: "Init Error", error: serializeError(error) }));
    parentPort?.postMessage({ init: "failed", error: serializeError(error) } satisfies InitReply);
  },
);

parentPort?.on("message", async (request: InvokeRequest) => {
  let reply: InvokeReply;
  try {
    const handler = await loaded;
    const result = await handler(request.event, context(request));
    reply = { id: request.id, ok: true, result };
  } catch (error) {
    console.error(
      JSON.stringify({
        level: "ERROR",
        message: "Invoke Error",
        errorType: error instanceof Error ? error.name : "Error",
        errorMessage: error instanceof Error ? error.message : String(error),
        requestId: request.requestId,
      }),
    );
    reply = { id: request.id, ok: false, error: serializeError(error) };
  }
  parentPort?.postMessage(reply);
});
