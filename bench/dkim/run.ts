// Cost per message of DKIM signing (RSA-2048, Ed25519) and of inbound verification
// (DKIM + SPF + DMARC by mailauth, DNS answered from memory), for a 4 KiB message.
// Run: node --import tsx bench/dkim/run.ts [messages]
import { createPrivateKey } from "node:crypto";
import { performance } from "node:perf_hooks";
import { inboundAuthResults } from "../../src/dkim/auth-results.ts";
import { type DkimAlgorithm, dnsRecord, nodeKeyGenerator } from "../../src/dkim/keys.ts";
import { signParts } from "../../src/dkim/sign.ts";
import type { DkimSigningKey } from "../../src/dkim/store.ts";
import { parseHeaderFields } from "../../src/util/headers.ts";

const n = Number(process.argv[2] ?? 500);
const body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n".repeat(70);
const msg = Buffer.from(`From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: bench\r\nDate: Wed, 2 Dec 2026 12:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\n${body}`);
const txt: Record<string, string[][]> = { "example.com": [["v=spf1 ip4:192.0.2.10 -all"]], "_dmarc.example.com": [["v=DMARC1; p=reject"]] };
const resolver = async (name: string, type: string): Promise<string[][]> => {
  const r = type === "TXT" ? txt[name.toLowerCase()] : undefined;
  if (!r) throw Object.assign(new Error("ENOTFOUND"), { code: "ENOTFOUND" });
  return r;
};

async function key(algorithm: DkimAlgorithm, selector: string): Promise<DkimSigningKey> {
  const pair = await nodeKeyGenerator(algorithm);
  const rec = dnsRecord("example.com", selector, algorithm, pair.publicKey);
  txt[rec.name] = [[rec.value]];
  // Parsed once, as the keyring does.
  return { domain: "example.com", selector, algorithm, privateKey: pair.privateKey, parsed: createPrivateKey(pair.privateKey), createdAt: new Date() };
}

async function time(label: string, fn: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 20; i++) await fn();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn();
  const wall = (performance.now() - t0) / n;
  const c = process.cpuUsage(c0);
  // CPU time says more than wall time on a shared machine: other processes do not inflate it.
  const cpu = (c.user + c.system) / n;
  console.log(`${label.padEnd(44)} ${cpu.toFixed(0).padStart(6)} µs CPU, ${(wall * 1000).toFixed(0).padStart(6)} µs wall per message (${n} messages, ${msg.byteLength} bytes)`);
}

const rsa = await key("rsa-sha256", "r");
const ed = await key("ed25519-sha256", "e");
const headerFields = parseHeaderFields(msg);
const sign = async (keys: DkimSigningKey[]) => {
  const s = await signParts([msg], keys, { now: new Date(), headerFields });
  return Buffer.concat([Buffer.from(s?.header ?? ""), msg]);
};
await time("sign rsa-sha256", () => sign([rsa]));
await time("sign ed25519-sha256", () => sign([ed]));
await time("sign rsa + ed25519", () => sign([rsa, ed]));
const signed = await sign([rsa, ed]);
const verify = (m: Buffer) => inboundAuthResults({ parts: [m], ip: "192.0.2.10", helo: "out.example.com", sender: "alice@example.com", authservId: "mx.test", resolver, timeoutMs: 5000 });
await time("verify unsigned (spf + dmarc)", () => verify(msg));
await time("verify signed rsa + ed25519 (dkim+spf+dmarc)", () => verify(signed));
