import { createSocket, type RemoteInfo } from "node:dgram";

/**
 * A tiny authoritative DNS server over UDP on an ephemeral port, for tests with real processes
 * (which resolve through the dns_servers setting, "127.0.0.1:PORT"): MX and A records from a
 * table. A name not in the table is NXDOMAIN; a type it lacks is an empty NOERROR answer.
 */
export interface DnsZone {
  [name: string]: { mx?: Array<{ exchange: string; priority: number }>; a?: string[] };
}

export interface DnsServer {
  port: number;
  /** "127.0.0.1:PORT", for the dns_servers setting. */
  address: string;
  questions: string[];
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_MX = 15;

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, "").split(".").filter((p) => p !== "");
  const bufs = parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, "ascii")]));
  return Buffer.concat([...bufs, Buffer.from([0])]);
}

/** The question's name and where the question ends (no compression in queries). */
function readQuestion(msg: Buffer): { name: string; type: number; end: number } | null {
  let off = 12;
  const labels: string[] = [];
  while (off < msg.length) {
    const len = msg[off];
    if (len === 0) break;
    if (len > 63 || off + 1 + len > msg.length) return null;
    labels.push(msg.subarray(off + 1, off + 1 + len).toString("ascii"));
    off += 1 + len;
  }
  if (off + 5 > msg.length) return null;
  return { name: labels.join(".").toLowerCase(), type: msg.readUInt16BE(off + 1), end: off + 5 };
}

function answer(type: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // pointer to the question's name
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4); // IN
  head.writeUInt32BE(60, 6);
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

export function respond(zone: DnsZone, query: Buffer): Buffer | null {
  if (query.length < 12) return null;
  const q = readQuestion(query);
  if (!q) return null;
  const entry = zone[q.name];
  const answers: Buffer[] = [];
  if (entry && q.type === TYPE_MX) {
    for (const mx of entry.mx ?? []) {
      const pref = Buffer.alloc(2);
      pref.writeUInt16BE(mx.priority);
      answers.push(answer(TYPE_MX, Buffer.concat([pref, encodeName(mx.exchange)])));
    }
  }
  if (entry && q.type === TYPE_A) {
    for (const ip of entry.a ?? []) answers.push(answer(TYPE_A, Buffer.from(ip.split(".").map(Number))));
  }
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  const rd = query[2] & 0x01;
  header[2] = 0x84 | rd; // QR, AA, RD echoed
  header[3] = 0x80 | (entry ? 0 : 3); // RA; NXDOMAIN for unknown names
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, query.subarray(12, q.end), ...answers]);
}

export async function startDnsServer(zone: DnsZone): Promise<DnsServer> {
  const socket = createSocket("udp4");
  const questions: string[] = [];
  socket.on("message", (msg: Buffer, rinfo: RemoteInfo) => {
    const q = readQuestion(msg);
    if (q) questions.push(`${q.type === TYPE_MX ? "mx" : q.type === TYPE_A ? "a" : q.type} ${q.name}`);
    const reply = respond(zone, msg);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => resolve());
  });
  const port = socket.address().port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    questions,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
