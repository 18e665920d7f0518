import { generateKeyPair, type KeyObject } from "node:crypto";

/** RFC 6376 a= values we sign with; RSA keys are 2048-bit (RFC 8301: at least 1024, 2048 advised). */
export type DkimAlgorithm = "rsa-sha256" | "ed25519-sha256";

export const DKIM_ALGORITHMS: readonly DkimAlgorithm[] = ["rsa-sha256", "ed25519-sha256"];

export const RSA_BITS = 2048;

export interface DkimKeyPair {
  /** PKCS#8 PEM: stays in the database and the signing keyring. */
  privateKey: string;
  /** The DNS record's p= value. */
  publicKey: string;
}

/** Makes key pairs; injectable so tests need not wait for RSA generation and can count calls. */
export type DkimKeyGenerator = (algorithm: DkimAlgorithm) => Promise<DkimKeyPair>;

/** "rsa" | "ed25519" (the CLI's short names) or the full a= value → the algorithm; null when neither. */
export function parseAlgorithm(value: string): DkimAlgorithm | null {
  const v = value.trim().toLowerCase();
  if (v === "rsa" || v === "rsa-sha256") return "rsa-sha256";
  if (v === "ed25519" || v === "ed25519-sha256") return "ed25519-sha256";
  return null;
}

/** The k= tag of the DNS record. */
export function keyType(algorithm: DkimAlgorithm): "rsa" | "ed25519" {
  return algorithm === "rsa-sha256" ? "rsa" : "ed25519";
}

/**
 * node:crypto's generateKeyPair (Node, Bun and Deno all implement it). p= is the base64 DER
 * SubjectPublicKeyInfo for RSA (RFC 6376 §3.6.1) and the bare 32-byte public key for Ed25519
 * (RFC 8463 §4.2), which is the SPKI's last 32 bytes.
 */
export const nodeKeyGenerator: DkimKeyGenerator = (algorithm) =>
  new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKey: KeyObject, privateKey: KeyObject) => {
      if (err) {
        reject(err);
        return;
      }
      const spki = publicKey.export({ type: "spki", format: "der" });
      resolve({
        privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        publicKey: (algorithm === "ed25519-sha256" ? spki.subarray(spki.length - 32) : spki).toString("base64"),
      });
    };
    if (algorithm === "rsa-sha256") generateKeyPair("rsa", { modulusLength: RSA_BITS }, done);
    else generateKeyPair("ed25519", undefined, done);
  });

/** What to publish: name and TXT value (without the quoting DNS zone files need for long strings). */
export interface DkimDnsRecord {
  name: string;
  value: string;
  /** One zone-file line: `<name> TXT "v=DKIM1; k=rsa; p=..."`, split into 255-octet strings when longer. */
  zoneLine: string;
}

export function dnsRecord(domain: string, selector: string, algorithm: DkimAlgorithm, publicKey: string): DkimDnsRecord {
  const name = `${selector}._domainkey.${domain}`;
  const value = `v=DKIM1; k=${keyType(algorithm)}; p=${publicKey}`;
  // A TXT character-string is at most 255 octets (RFC 1035 §3.3); resolvers join them (RFC 6376 §3.6.2.2).
  const strings: string[] = [];
  for (let i = 0; i < value.length; i += 255) strings.push(`"${value.slice(i, i + 255)}"`);
  return { name, value, zoneLine: `${name} TXT ${strings.join(" ")}` };
}
