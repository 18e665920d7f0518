import { createServer, type Server } from "node:https";
import { generate } from "selfsigned";

/** A certificate authority for tests, and server certificates it signs (EC keys: fast). */
export interface TestCa {
  cert: string;
  key: string;
  /** A certificate for these DNS names, signed by this CA (valid from an hour ago for `days`). */
  issue(names: string[], o?: { expired?: boolean }): Promise<{ key: string; cert: string }>;
}

export async function createTestCa(name = "mailcluster test CA"): Promise<TestCa> {
  const ca = await generate([{ name: "commonName", value: name }], {
    keyType: "ec",
    algorithm: "sha256",
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return {
    cert: ca.cert,
    key: ca.private,
    async issue(names, o = {}) {
      const now = Date.now();
      const notBeforeDate = new Date(o.expired ? now - 10 * 86400_000 : now - 3600_000);
      const notAfterDate = new Date(o.expired ? now - 86400_000 : now + 30 * 86400_000);
      const leaf = await generate([{ name: "commonName", value: names[0] }], {
        keyType: "ec",
        algorithm: "sha256",
        notBeforeDate,
        notAfterDate,
        ca: { key: ca.private, cert: ca.cert },
        extensions: [
          { name: "basicConstraints", cA: false },
          { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
          { name: "extKeyUsage", serverAuth: true },
          { name: "subjectAltName", altNames: names.map((value) => ({ type: 2 as const, value })) },
        ],
      });
      return { key: leaf.private, cert: leaf.cert };
    },
  };
}

export interface PolicyServer {
  port: number;
  /** Requests served, by path. */
  requests: string[];
  /** What the server answers now (status and body); tests change it. */
  respond: { status: number; body: string };
  close(): Promise<void>;
}

/** An HTTPS server with the given certificate serving /.well-known/mta-sts.txt (any Host). */
export async function startPolicyServer(certificate: { key: string; cert: string }, body: string): Promise<PolicyServer> {
  const requests: string[] = [];
  const respond = { status: 200, body };
  const server: Server = createServer({ key: certificate.key, cert: certificate.cert }, (req, res) => {
    requests.push(`${req.headers.host ?? ""}${req.url ?? ""}`);
    if (req.url !== "/.well-known/mta-sts.txt") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(respond.status, { "content-type": "text/plain" }).end(respond.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const addr = server.address();
  return {
    port: addr && typeof addr === "object" ? addr.port : 0,
    requests,
    respond,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
