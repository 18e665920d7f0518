import { request } from "node:https";
import { rootCertificates } from "node:tls";
import type { DnsResolver } from "../domain/dns.ts";

/** What fetching a policy file gave: its text, or a TLS-RPT failure type with the reason. */
export type PolicyFetchResult = { ok: true; text: string } | { ok: false; type: "sts-policy-fetch-error" | "sts-webpki-invalid"; error: string };

/** Fetches https://mta-sts.<domain>/.well-known/mta-sts.txt; injectable (tests count and serve it). */
export type PolicyFetcher = (domain: string) => Promise<PolicyFetchResult>;

export interface HttpsFetcherOptions {
  /** Resolves mta-sts.<domain> (the relay's DNS, so dns_servers applies here too). */
  resolver: DnsResolver;
  /** Extra trusted CA certificates (PEM) besides the system store (tests). */
  ca?: string[];
  /** 443; tests point it at a local server. */
  port?: number;
  timeoutMs?: number;
}

/** RFC 8461 §3.3: policy files are small; anything bigger is not one. */
const MAX_POLICY_BYTES = 64 * 1024;

const WEBPKI_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_CERT_ALTNAME|HOSTNAME|certificate/i;

/**
 * The policy fetch of RFC 8461 §3.3: HTTPS with a certificate valid for mta-sts.<domain>
 * (system trust store plus `ca`), no redirects, 200 only, at most 64 KiB.
 */
export function httpsPolicyFetcher(o: HttpsFetcherOptions): PolicyFetcher {
  const timeoutMs = o.timeoutMs ?? 15_000;
  return async (domain) => {
    const host = `mta-sts.${domain}`;
    let addresses: string[] = [];
    try {
      addresses = await o.resolver.resolve4(host);
    } catch {
      addresses = await o.resolver.resolve6(host).catch(() => []);
    }
    if (addresses.length === 0) return { ok: false, type: "sts-policy-fetch-error", error: `no address for ${host}` };
    // Added to the system store, not instead of it.
    const ca = o.ca && o.ca.length > 0 ? [...rootCertificates, ...o.ca] : undefined;
    return new Promise<PolicyFetchResult>((resolve) => {
      let settled = false;
      const done = (r: PolicyFetchResult) => {
        if (settled) return;
        settled = true;
        resolve(r);
      };
      const req = request(
        { host: addresses[0], port: o.port ?? 443, servername: host, path: "/.well-known/mta-sts.txt", method: "GET", headers: { host }, ca, rejectUnauthorized: true, timeout: timeoutMs },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            return done({ ok: false, type: "sts-policy-fetch-error", error: `HTTP ${res.statusCode ?? "?"} from https://${host}/.well-known/mta-sts.txt` });
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.byteLength;
            if (size > MAX_POLICY_BYTES) {
              req.destroy();
              done({ ok: false, type: "sts-policy-fetch-error", error: `policy file of ${host} is larger than ${MAX_POLICY_BYTES} bytes` });
            } else chunks.push(c);
          });
          res.on("end", () => done({ ok: true, text: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", (err) => done({ ok: false, type: "sts-policy-fetch-error", error: err.message }));
        },
      );
      req.on("timeout", () => {
        req.destroy();
        done({ ok: false, type: "sts-policy-fetch-error", error: `timeout fetching the policy of ${domain}` });
      });
      req.on("error", (err: Error & { code?: string }) => {
        const text = `${err.code ?? ""} ${err.message}`.trim();
        done({ ok: false, type: WEBPKI_ERRORS.test(text) ? "sts-webpki-invalid" : "sts-policy-fetch-error", error: text });
      });
      req.end();
    });
  };
}
