import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { generate } from "selfsigned";
import type { Logger } from "../util/logger.ts";

export interface TlsCredentials {
  key: string;
  cert: string;
  /** Where they came from, for the log. */
  source: "configured" | "self-signed (existing)" | "self-signed (generated)";
}

export interface TlsSource {
  certPath?: string | null;
  keyPath?: string | null;
  dataDir: string;
  hostname: string;
}

export class TlsConfigError extends Error {
  override name = "TlsConfigError";
}

/**
 * The configured certificate, or a self-signed one kept in the data dir (generated at first
 * start) so STARTTLS and AUTH work out of the box. Peers that verify certificates will refuse it:
 * production configures a real one (TLS_CERT_FILE / TLS_KEY_FILE).
 */
export async function loadTlsCredentials(source: TlsSource, logger: Logger): Promise<TlsCredentials> {
  if (source.certPath || source.keyPath) {
    if (!source.certPath || !source.keyPath) throw new TlsConfigError("TLS_CERT_FILE and TLS_KEY_FILE must be given together");
    const [cert, key] = await Promise.all([readFile(source.certPath, "utf8"), readFile(source.keyPath, "utf8")]);
    if (!cert.includes("-----BEGIN CERTIFICATE-----")) throw new TlsConfigError(`${source.certPath} holds no PEM certificate`);
    if (!key.includes("PRIVATE KEY-----")) throw new TlsConfigError(`${source.keyPath} holds no PEM private key`);
    return { cert, key, source: "configured" };
  }
  const dir = join(source.dataDir, "tls");
  const certFile = join(dir, "selfsigned-cert.pem");
  const keyFile = join(dir, "selfsigned-key.pem");
  if (existsSync(certFile) && existsSync(keyFile)) {
    const [cert, key] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
    return { cert, key, source: "self-signed (existing)" };
  }
  const pems = await generateSelfSigned(source.hostname);
  await mkdir(dir, { recursive: true });
  // Write-then-rename: two members sharing a data dir never read a half-written file.
  const suffix = `.${process.pid}.tmp`;
  await writeFile(keyFile + suffix, pems.key, { mode: 0o600 });
  await writeFile(certFile + suffix, pems.cert, { mode: 0o644 });
  await rename(keyFile + suffix, keyFile);
  await rename(certFile + suffix, certFile);
  logger.warn({ cert: certFile, hostname: source.hostname }, "no TLS certificate configured: generated a self-signed one (set TLS_CERT_FILE and TLS_KEY_FILE for production)");
  return { ...pems, source: "self-signed (generated)" };
}

export async function generateSelfSigned(hostname: string): Promise<{ key: string; cert: string }> {
  const altNames: Array<{ type: 2; value: string } | { type: 7; ip: string }> = [{ type: 2, value: "localhost" }, { type: 7, ip: "127.0.0.1" }];
  if (isIP(hostname)) altNames.push({ type: 7, ip: hostname });
  else if (hostname !== "localhost") altNames.push({ type: 2, value: hostname });
  const now = new Date();
  const pems = await generate([{ name: "commonName", value: hostname }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notBeforeDate: new Date(now.getTime() - 24 * 3600 * 1000),
    notAfterDate: new Date(now.getTime() + 10 * 365 * 24 * 3600 * 1000),
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
