import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nodemailer from "nodemailer";
import { detectRuntime } from "../../adapters/runtime/index.ts";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { loadConfig } from "../../src/config.ts";
import { Member } from "../../src/member.ts";
import { componentsFor } from "../../src/roles.ts";
import { smtpFrontendComponent } from "../../src/smtp/component.ts";
import { loadTlsCredentials, TlsConfigError } from "../../src/smtp/tls.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { queueCounts, testTls } from "./harness.ts";

let tdb: TestDatabase;
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "mc-smtp-"));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  tdb = await createTestDatabase();
  await addDomain(tdb.storage.db, "local.test");
  await addAccount(tdb.storage.db, { address: "alice@local.test" });
});

afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await tdb?.drop();
});

describe("TLS credentials", () => {
  it("generates a self-signed pair into the data dir at first start and reuses it afterwards", async () => {
    const dataDir = tempDir();
    const first = await loadTlsCredentials({ dataDir, hostname: "mx.test" }, silentLogger);
    expect(first.source).toBe("self-signed (generated)");
    expect(first.cert).toContain("-----BEGIN CERTIFICATE-----");
    expect(existsSync(join(dataDir, "tls", "selfsigned-key.pem"))).toBe(true);
    const second = await loadTlsCredentials({ dataDir, hostname: "mx.test" }, silentLogger);
    expect(second.source).toBe("self-signed (existing)");
    expect(second.cert).toBe(first.cert);
  });

  it("uses a configured pair, and refuses half a pair or a file that is not PEM", async () => {
    const dir = tempDir();
    const pair = await testTls();
    writeFileSync(join(dir, "cert.pem"), pair.cert);
    writeFileSync(join(dir, "key.pem"), pair.key);
    writeFileSync(join(dir, "junk.pem"), "hello");
    const ok = await loadTlsCredentials({ dataDir: dir, hostname: "x", certPath: join(dir, "cert.pem"), keyPath: join(dir, "key.pem") }, silentLogger);
    expect(ok.source).toBe("configured");
    expect(ok.key).toBe(readFileSync(join(dir, "key.pem"), "utf8"));
    await expect(loadTlsCredentials({ dataDir: dir, hostname: "x", certPath: join(dir, "cert.pem") }, silentLogger)).rejects.toThrow(TlsConfigError);
    await expect(loadTlsCredentials({ dataDir: dir, hostname: "x", certPath: join(dir, "junk.pem"), keyPath: join(dir, "key.pem") }, silentLogger)).rejects.toThrow(/no PEM certificate/);
  });
});

describe("the frontend role in a member", () => {
  it("componentsFor registers the SMTP frontend for the frontend role only", async () => {
    const names = async (role: string) => (await componentsFor(loadConfig({ MAILCLUSTER_ROLE: role }))).map((c) => c.name);
    expect(await names("frontend")).toContain("smtp-frontend");
    expect(await names("all")).toContain("smtp-frontend");
    expect(await names("backend")).not.toContain("smtp-frontend");
  });

  it("a started member accepts mail over STARTTLS with its generated certificate and stops cleanly", async () => {
    const dataDir = tempDir();
    const config = { ...loadConfig({ MEMBER_NAME: "fe-member", MAILCLUSTER_DATA: dataDir, MAILCLUSTER_ROLE: "frontend", MAILCLUSTER_HOSTNAME: "mx.test" }), smtpPort: 0, httpPort: 0 };
    const frontend = smtpFrontendComponent();
    const member = await Member.start({ config, storage: tdb.storage, runtime: await detectRuntime(), logger: silentLogger, components: [frontend], runWorker: false });
    try {
      expect(existsSync(join(dataDir, "tls", "selfsigned-cert.pem"))).toBe(true);
      const port = frontend.frontend()?.port ?? 0;
      expect(port).toBeGreaterThan(0);
      const t = nodemailer.createTransport({ host: "127.0.0.1", port, requireTLS: true, tls: { rejectUnauthorized: false } });
      const info = await t.sendMail({ from: "s@elsewhere.test", to: "alice@local.test", subject: "member", text: "hi" });
      t.close();
      expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as \d+/);
      expect(await queueCounts(tdb.storage)).toEqual({ messages: 1, recipients: 1, bodies: 1 });
    } finally {
      await member.stop();
    }
    expect(frontend.frontend()).toBeNull();
  });
});
