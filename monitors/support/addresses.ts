import type { LookupAddress, LookupOptions } from "node:dns";
import { lookup as dnsLookup } from "node:dns/promises";
import { isIPv4, isIPv6 } from "node:net";

/**
 * Which addresses a check may connect to. A monitor's config is written by whoever can write the
 * table; without this, an `http` monitor could make the orchestrator read the instance metadata
 * service, the Lambda runtime API on loopback (the next invocation's payload) or a SnapStart
 * credentials endpoint, and report what it saw in its message. Refused by default:
 *
 * - `loopback`: 127.0.0.0/8, ::1, and the unspecified 0.0.0.0/8 and :: (connecting to them reaches
 *   this host);
 * - `link-local`: 169.254.0.0/16, fe80::/10;
 * - `metadata`: the cloud metadata and credentials endpoints listed in METADATA (most are
 *   link-local too; allowing `link-local` does not allow them).
 *
 * IPv4 written as IPv6 (mapped ::ffff:a.b.c.d, SIIT ::ffff:0:a.b.c.d, compatible ::a.b.c.d, NAT64
 * 64:ff9b::/96 and 64:ff9b:1::/48) is judged as the IPv4 address it carries.
 *
 * Private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) are not refused: they are what
 * a monitor inside a network watches, and a Lambda outside a VPC cannot reach them at all.
 */

export const ADDRESS_KINDS = ["loopback", "link-local", "metadata"] as const;
export type AddressKind = (typeof ADDRESS_KINDS)[number];

/**
 * The orchestrator's environment variable (stack setting `checkAllowAddresses`) naming the kinds a
 * monitor's `allowAddresses` may open. Whoever writes a config item chooses its params, the very
 * party the policy guards against: a param can narrow what the operator allows, never widen it.
 */
export const CHECK_ALLOW_ADDRESSES = "CHECK_ALLOW_ADDRESSES";

/**
 * Address kinds in a comma-separated list (an environment variable). Unset or empty: none. An
 * unknown kind throws, naming the variable: the policy must not lapse silently.
 */
export function parseAddressKinds(value: string | undefined, variable: string): AddressKind[] {
  const kinds = (value ?? "")
    .split(",")
    .map((kind) => kind.trim())
    .filter(Boolean);
  for (const kind of kinds) {
    if (!(ADDRESS_KINDS as readonly string[]).includes(kind)) {
      throw new Error(`${variable}: "${kind}" is not one of ${ADDRESS_KINDS.join(", ")}`);
    }
  }
  return kinds as AddressKind[];
}

/** The kinds the operator lets monitors open (CHECK_ALLOW_ADDRESSES), read when a check runs. */
export function operatorAddressKinds(env: NodeJS.ProcessEnv = process.env): ReadonlySet<AddressKind> {
  return new Set(parseAddressKinds(env[CHECK_ALLOW_ADDRESSES], CHECK_ALLOW_ADDRESSES));
}

/** What a check may connect to: the kinds its params ask for that the operator allows too. */
export function allowedAddressKinds(
  requested: readonly AddressKind[] | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Set<AddressKind> {
  const ceiling = operatorAddressKinds(env);
  return new Set((requested ?? []).filter((kind) => ceiling.has(kind)));
}

export interface AddressClass {
  kind: AddressKind;
  /** What the address is, in words: "a loopback address". */
  description: string;
}

const METADATA_V4: ReadonlyMap<string, string> = new Map([
  ["169.254.169.254", "the cloud instance metadata service"], // AWS, Azure, Google Cloud, Oracle, …
  ["169.254.170.2", "the ECS task metadata and credentials endpoint"],
  ["169.254.170.23", "the EKS Pod Identity credentials endpoint"],
  ["100.100.100.200", "the Alibaba Cloud metadata service"],
]);

const METADATA_V6: ReadonlyMap<string, string> = new Map([
  ["fd00:ec2:0:0:0:0:0:254", "the cloud instance metadata service"], // AWS IMDS over IPv6
  ["fd00:ec2:0:0:0:0:0:23", "the EKS Pod Identity credentials endpoint"],
]);

function ipv4ToNumber(address: string): number {
  return address.split(".").reduce((value, octet) => value * 256 + Number(octet), 0);
}

function numberToIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join(".");
}

/** The eight 16-bit groups of a valid IPv6 address (net.isIPv6 says it is one). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const value = ipv4ToNumber(dotted[1]);
    text = `${text.slice(0, -dotted[1].length)}${(value >>> 16).toString(16)}:${(value & 0xffff).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const parse = (part: string) =>
    part === "" ? [] : part.split(":").map((group) => Number.parseInt(group, 16));
  const first = parse(head);
  if (tail === undefined) return first;
  const last = parse(tail);
  return [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last];
}

function classifyIpv4(value: number): AddressClass | undefined {
  const top = value >>> 24;
  if (top === 0) return { kind: "loopback", description: "the unspecified address (it reaches this host)" };
  if (top === 127) return { kind: "loopback", description: "a loopback address" };
  const metadata = METADATA_V4.get(numberToIpv4(value));
  if (metadata) return { kind: "metadata", description: metadata };
  if (value >>> 16 === 0xa9fe) return { kind: "link-local", description: "a link-local address" };
  return undefined;
}

/** The IPv4 address an IPv6 address carries in its last 32 bits, for the forms that reach it. */
function embeddedIpv4(groups: readonly number[]): number | undefined {
  const [g0, g1, g2, g3, g4, g5, g6 = 0, g7 = 0] = groups;
  const zeroTo = (count: number) => groups.slice(0, count).every((group) => group === 0);
  const carried = g6 * 0x10000 + g7;
  if (zeroTo(5) && (g5 === 0xffff || g5 === 0)) return carried; // mapped, compatible
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return carried; // SIIT translated
  if (g0 === 0x64 && g1 === 0xff9b && (g2 === 0 || g2 === 1) && g3 === 0 && g4 === 0 && g5 === 0) {
    return carried; // NAT64: well-known prefix and the local-use one (64:ff9b:1::/48)
  }
  return undefined;
}

function classifyIpv6(address: string): AddressClass | undefined {
  const groups = ipv6Groups(address);
  const zeroTo = (count: number) => groups.slice(0, count).every((group) => group === 0);
  if (zeroTo(8)) return { kind: "loopback", description: "the unspecified address (it reaches this host)" };
  if (zeroTo(7) && groups[7] === 1) return { kind: "loopback", description: "a loopback address" };
  const embedded = embeddedIpv4(groups);
  if (embedded !== undefined) {
    const inner = classifyIpv4(embedded);
    return (
      inner && { ...inner, description: `${inner.description} (${numberToIpv4(embedded)} written as IPv6)` }
    );
  }
  const metadata = METADATA_V6.get(groups.map((group) => group.toString(16)).join(":"));
  if (metadata) return { kind: "metadata", description: metadata };
  if (((groups[0] ?? 0) & 0xffc0) === 0xfe80)
    return { kind: "link-local", description: "a link-local address" };
  return undefined;
}

/** What kind of refused address this is, or undefined for any other address (or a non-address). */
export function classifyAddress(address: string): AddressClass | undefined {
  // Brackets as in a URL host, a zone as in fe80::1%eth0.
  const bare = address.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  if (isIPv4(bare)) return classifyIpv4(ipv4ToNumber(bare));
  if (isIPv6(bare)) return classifyIpv6(bare);
  return undefined;
}

/** Why connecting to `address` (what `host` resolved to) is refused, or undefined when it is not. */
export function refusal(
  host: string,
  address: string,
  allowed: ReadonlySet<AddressKind>,
): string | undefined {
  const found = classifyAddress(address);
  if (!found || allowed.has(found.kind)) return undefined;
  const bareHost = host.replace(/^\[(.*)\]$/, "$1");
  const target = bareHost === address ? address : `${bareHost} (${address})`;
  const how = operatorAddressKinds().has(found.kind)
    ? `params.allowAddresses ["${found.kind}"] allows it`
    : `only when the stack setting checkAllowAddresses names "${found.kind}" and params.allowAddresses too`;
  return `refused to connect to ${target}, ${found.description} (${how})`;
}

/** A connection refused by the address policy; its message is written for the monitor's owner. */
export class AddressRefusedError extends Error {
  override name = "AddressRefusedError";
  readonly code = "WATCHKEEPER_ADDRESS_REFUSED";
}

/** Resolves a host name to every address it has. */
export type Resolver = (hostname: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true });

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for net/tls connections that resolves once, refuses the host when any of its
 * addresses is refused, and hands the connection exactly the addresses it checked: the socket
 * connects to what was validated, so a DNS answer that changes between a check and the connect
 * (DNS rebinding) changes nothing. An IP-literal host never reaches a lookup: check it with
 * `refusal` before connecting.
 */
export function guardedLookup(resolve: Resolver, allowed: ReadonlySet<AddressKind>) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolve(hostname).then(
      (found) => {
        for (const { address } of found) {
          const reason = refusal(hostname, address, allowed);
          if (reason) return callback(new AddressRefusedError(reason), "");
        }
        const family = options.family === "IPv4" ? 4 : options.family === "IPv6" ? 6 : options.family;
        const usable = found.filter((entry) => !family || entry.family === family);
        const [first] = usable;
        if (!first) {
          const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
          error.code = "ENOTFOUND";
          return callback(error, "");
        }
        if (options.all)
          return callback(
            null,
            usable.map(({ address, family }) => ({ address, family })),
          );
        callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ""),
    );
  };
}
