import { createSocket } from "node:dgram";
import { isIPv4 } from "node:net";

/**
 * A tiny authoritative DNS server over UDP on 127.0.0.1 for tests (no DNS package is installed):
 * it answers A, AAAA, CNAME, MX and TXT questions from a fixed zone, NXDOMAIN for unknown names,
 * SERVFAIL or silence where the zone says so. One question per query, no compression in what it
 * reads (resolvers send none), a name pointer to the question in what it writes (RFC 1035).
 */

export type DnsAnswer =
  | { type: "A" | "AAAA" | "CNAME"; value: string }
  | { type: "MX"; priority: number; value: string }
  /** One TXT record made of one or more character strings. */
  | { type: "TXT"; value: string[] };

/** What the server does for a name: answer from these records, fail, or say nothing. */
export type DnsZone = Record<string, DnsAnswer[] | "servfail" | "silent">;

export interface TestDnsServer {
  /** `127.0.0.1:<port>`, as `resolver` params and `Resolver.setServers` take it. */
  address: string;
  port: number;
  /** The questions received, e.g. `{ name: "api.test", type: "A" }`. */
  questions: { name: string; type: string }[];
  stop(): Promise<void>;
}

const TYPE_CODES = { A: 1, CNAME: 5, MX: 15, TXT: 16, AAAA: 28 } as const;
const TYPE_NAMES = new Map<number, string>(Object.entries(TYPE_CODES).map(([name, code]) => [code, name]));

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, "").split(".").filter(Boolean);
  return Buffer.concat([
    ...labels.map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, "ascii")])),
    Buffer.from([0]),
  ]);
}

function ipv6Bytes(address: string): Buffer {
  const [head = "", tail] = address.split("::");
  const groups = (part: string) =>
    part === "" ? [] : part.split(":").map((group) => Number.parseInt(group, 16));
  const first = groups(head);
  const last = tail === undefined ? [] : groups(tail);
  const all = [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last];
  const bytes = Buffer.alloc(16);
  all.forEach((group, index) => {
    bytes.writeUInt16BE(group, index * 2);
  });
  return bytes;
}

function rdata(answer: DnsAnswer): Buffer {
  switch (answer.type) {
    case "A":
      if (!isIPv4(answer.value)) throw new Error(`not an IPv4 address: ${answer.value}`);
      return Buffer.from(answer.value.split(".").map(Number));
    case "AAAA":
      return ipv6Bytes(answer.value);
    case "CNAME":
      return encodeName(answer.value);
    case "MX": {
      const priority = Buffer.alloc(2);
      priority.writeUInt16BE(answer.priority);
      return Buffer.concat([priority, encodeName(answer.value)]);
    }
    case "TXT":
      return Buffer.concat(
        answer.value.map((text) => {
          const bytes = Buffer.from(text, "utf8");
          return Buffer.concat([Buffer.from([bytes.length]), bytes]);
        }),
      );
  }
}

/** The question of a query: its name, type, and where the question section ends. */
function readQuestion(query: Buffer): { name: string; type: number; end: number } {
  const labels: string[] = [];
  let offset = 12;
  for (let length = query.readUInt8(offset); length !== 0; length = query.readUInt8(offset)) {
    labels.push(query.toString("ascii", offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  offset += 1;
  return { name: labels.join(".").toLowerCase(), type: query.readUInt16BE(offset), end: offset + 4 };
}

function respond(query: Buffer, zone: DnsZone, questions: TestDnsServer["questions"]): Buffer | undefined {
  const question = readQuestion(query);
  const typeName = TYPE_NAMES.get(question.type) ?? String(question.type);
  questions.push({ name: question.name, type: typeName });
  const entry = zone[question.name];
  if (entry === "silent") return undefined;
  const rcode = entry === undefined ? 3 : entry === "servfail" ? 2 : 0; // NXDOMAIN, SERVFAIL, NOERROR
  const answers = Array.isArray(entry) ? entry.filter((answer) => answer.type === typeName) : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  // QR, authoritative, recursion desired copied from the query, recursion available, rcode.
  header.writeUInt16BE(0x8000 | 0x0400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4); // one question
  header.writeUInt16BE(answers.length, 6);
  const records = answers.map((answer) => {
    const data = rdata(answer);
    const fixed = Buffer.alloc(12);
    fixed.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    fixed.writeUInt16BE(TYPE_CODES[answer.type], 2);
    fixed.writeUInt16BE(1, 4); // class IN
    fixed.writeUInt32BE(60, 6); // TTL
    fixed.writeUInt16BE(data.length, 10);
    return Buffer.concat([fixed, data]);
  });
  return Buffer.concat([header, query.subarray(12, question.end), ...records]);
}

export async function startDnsServer(zone: DnsZone): Promise<TestDnsServer> {
  const socket = createSocket("udp4");
  const questions: TestDnsServer["questions"] = [];
  socket.on("message", (query, peer) => {
    const answer = respond(query, zone, questions);
    if (answer) socket.send(answer, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address();
  return {
    address: `127.0.0.1:${port}`,
    port,
    questions,
    stop: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
