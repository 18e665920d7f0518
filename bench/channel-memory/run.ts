/**
 * Memory of a backend under unauthenticated delivery-channel traffic (issue 13, item 4).
 *
 *   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:channel-memory
 *
 * Starts one real `mailcluster start --role backend` process on a database of its own, then,
 * per scenario, opens BENCH_CONNECTIONS (default 10) connections at once, each POSTing a body
 * of BENCH_MB (default 60) MB that the sender streams from one reused buffer (so only the
 * backend's memory moves), and samples the backend's RSS (/proc/<pid>/status) every 25 ms.
 * Prints the peak growth over the idle baseline and the statuses answered.
 *
 * Scenarios: no authentication headers, a malformed signature, a stale timestamp (refused
 * before the body is read, both paths); a well-formed forged signature on the batch path
 * (refused after the header line); the same on the single-message (v1) path, which can only
 * authenticate after the whole body: refused on length above one message's size, and below
 * that bounded by its cap of one unauthenticated reader at a time.
 */
import { connect } from "node:net";
import { readFileSync } from "node:fs";
import { BATCH_PATH } from "../../src/backend/channel-batch-protocol.ts";
import { NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER } from "../../src/backend/channel-auth.ts";
import { DELIVER_PATH } from "../../src/backend/channel-protocol.ts";
import { freePorts } from "../../test/cluster/processes.ts";
import { createTestDatabase } from "../../test/helpers/postgres.ts";
import { exited, startMember } from "../../test/helpers/spawn.ts";
import { until } from "../../test/helpers/until.ts";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const BYTES = Number(process.env.BENCH_MB ?? 60) * 1000 * 1000;

const tdb = await createTestDatabase();
const [smtpPort, httpPort] = await freePorts(2);
const member = startMember(["--name", "mem-b1", "--role", "backend", "--smtp-port", String(smtpPort), "--http-port", String(httpPort)], { DATABASE_URL: tdb.url, LOG_LEVEL: "error" });
const pid = member.child.pid ?? 0;
await until(async () => (await fetch(`http://127.0.0.1:${httpPort}/health`).catch(() => null))?.status === 200, "backend healthy", 60_000, 100);

function rssMb(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

const filler = Buffer.alloc(64 * 1024, 0x61);

/** One POST: head, optional first bytes, then filler up to BYTES; resolves with the status (0 = none). */
function attack(path: string, headers: Record<string, string>, first: Buffer, BYTES: number): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port: httpPort });
    let status = 0;
    let sent = 0;
    let text = "";
    const done = () => {
      socket.destroy();
      resolve(status);
    };
    socket.on("data", (d) => {
      text += d.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m && status === 0) {
        status = Number(m[1]);
        done();
      }
    });
    socket.on("error", done);
    socket.on("close", done);
    const pump = () => {
      while (sent < BYTES) {
        const chunk = sent === 0 && first.byteLength > 0 ? first : filler.subarray(0, Math.min(filler.byteLength, BYTES - sent));
        sent += chunk.byteLength;
        if (!socket.write(chunk)) {
          socket.once("drain", pump);
          return;
        }
      }
    };
    socket.on("connect", () => {
      const head = [`POST ${path} HTTP/1.1`, "host: 127.0.0.1", `content-length: ${BYTES}`, "content-type: application/octet-stream", ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), "", ""].join("\r\n");
      socket.write(head);
      pump();
    });
  });
}

const now = () => String(Date.now());
const forged = () => ({ [TIMESTAMP_HEADER]: now(), [NONCE_HEADER]: "ab".repeat(16), [SIGNATURE_HEADER]: "cd".repeat(32) });
const scenarios: Array<{ name: string; path: string; headers: () => Record<string, string>; first: Buffer; bytes?: number }> = [
  { name: "no auth headers, batch path", path: BATCH_PATH, headers: () => ({}), first: Buffer.alloc(0) },
  { name: "no auth headers, v1 path", path: DELIVER_PATH, headers: () => ({}), first: Buffer.alloc(0) },
  { name: "malformed signature, v1 path", path: DELIVER_PATH, headers: () => ({ ...forged(), [SIGNATURE_HEADER]: "zz" }), first: Buffer.alloc(0) },
  { name: "stale timestamp, v1 path", path: DELIVER_PATH, headers: () => ({ ...forged(), [TIMESTAMP_HEADER]: String(Date.now() - 3_600_000) }), first: Buffer.alloc(0) },
  { name: "forged signature, batch path", path: BATCH_PATH, headers: forged, first: Buffer.from('{"items":[]}\n') },
  { name: "forged signature, v1 path (legacy)", path: DELIVER_PATH, headers: forged, first: Buffer.alloc(0) },
  // Just under what v1 accepts (one message): read, one at a time, before it can be judged.
  { name: "forged signature, v1 path, 25 MB bodies", path: DELIVER_PATH, headers: forged, first: Buffer.alloc(0), bytes: 25 * 1024 * 1024 },
];

const settle = () => new Promise((r) => setTimeout(r, 1500));
console.log(`backend pid ${pid}; ${CONNECTIONS} concurrent POSTs of ${BYTES / 1e6} MB each per scenario`);
console.log("scenario                                 baseline MB  peak MB  growth MB  statuses");
for (const s of scenarios) {
  await settle();
  const baseline = rssMb();
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 25);
  const statuses = await Promise.all(Array.from({ length: CONNECTIONS }, () => attack(s.path, s.headers(), s.first, s.bytes ?? BYTES)));
  await new Promise((r) => setTimeout(r, 300));
  clearInterval(sampler);
  peak = Math.max(peak, rssMb());
  const tally = new Map<number, number>();
  for (const st of statuses) tally.set(st, (tally.get(st) ?? 0) + 1);
  const shown = [...tally].map(([st, n]) => `${n}×${st === 0 ? "none" : st}`).join(" ");
  console.log(`${s.name.padEnd(40)} ${baseline.toFixed(1).padStart(11)} ${peak.toFixed(1).padStart(8)} ${(peak - baseline).toFixed(1).padStart(10)}  ${shown}`);
}

member.child.kill("SIGTERM");
await exited(member.child);
await tdb.drop();
