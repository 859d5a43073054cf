import { connect, type Socket } from "node:net";
import * as z from "zod/mini";
import { abortedError } from "./support/abort.ts";
import {
  AddressRefusedError,
  allowedAddressKinds,
  guardedLookup,
  type Resolver,
  systemResolver,
} from "./support/addresses.ts";
import {
  AllowAddressesSchema,
  bareHost,
  connectFailure,
  connectWithin,
  HostSchema,
  hostPort,
  literalRefusal,
  PortSchema,
  timeoutMsSchema,
} from "./support/network.ts";
import { parseParams } from "./support/params.ts";
import type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * `tcp`: a TCP connection to host:port opens within `timeoutMs`. Nothing is sent: the connection
 * is closed as soon as it is open. Refused, unreachable, DNS failures and the timeout are a failed
 * check; the address policy of support/addresses.ts applies as for `http`.
 */

export const TCP_CHECK = "tcp";

export const TcpParamsSchema = z.strictObject({
  host: HostSchema,
  port: PortSchema,
  timeoutMs: timeoutMsSchema(
    5_000,
    "Longest wait for the connection to open (DNS included), in milliseconds.",
  ),
  allowAddresses: AllowAddressesSchema,
});
export type TcpParams = z.infer<typeof TcpParamsSchema>;

/** Options a test may set; the shipped check uses the defaults. */
export interface TcpCheckOptions {
  /** How host names are resolved (the system resolver by default). */
  resolve?: Resolver;
}

export function createTcpCheck(options: TcpCheckOptions = {}): CheckDefinition {
  const resolve = options.resolve ?? systemResolver;

  async function run(ctx: CheckContext): Promise<CheckResult> {
    const params = parseParams(TCP_CHECK, TcpParamsSchema, ctx.params);
    const target = hostPort(params.host, params.port);
    const allowed = allowedAddressKinds(params.allowAddresses);
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let socket: Socket;
    try {
      const refused = literalRefusal(params.host, allowed);
      if (refused) throw new AddressRefusedError(refused);
      socket = await connectWithin(
        () =>
          connect({
            host: bareHost(params.host),
            port: params.port,
            lookup: guardedLookup(resolve, allowed),
          }),
        "connect",
        params.timeoutMs,
        ctx.signal,
        `TCP connect to ${target}`,
      );
    } catch (error) {
      if (ctx.signal.aborted)
        throw abortedError(ctx.signal, `TCP connect to ${target} after ${elapsed()} ms`);
      const reason = connectFailure(error);
      ctx.logger.debug("tcp check: connect failed", { target, reason });
      return { isOk: false, message: `TCP connect to ${target} failed after ${elapsed()} ms: ${reason}` };
    }
    const connectMs = elapsed();
    const address = socket.remoteAddress;
    socket.destroy();
    const via = address && address !== bareHost(params.host) ? ` (${address})` : "";
    ctx.logger.debug("tcp check: connected", { target, connectMs });
    return { isOk: true, message: `TCP connect to ${target}${via} succeeded in ${connectMs} ms` };
  }

  return {
    name: TCP_CHECK,
    description:
      "Opens a TCP connection to params.host:params.port; OK when it connects within params.timeoutMs (default 5000).",
    paramsSchema: TcpParamsSchema,
    example: {
      name: "Orders database accepts connections",
      params: { host: "orders-db.example.com", port: 5432, timeoutMs: 3000 },
    },
    run,
  };
}

export const tcpCheck: CheckDefinition = createTcpCheck();
