import { describe, expect, it } from "vitest";
import { ConfigError, defaultAdvertiseHost, loadConfig } from "../../src/config.ts";

describe("configuration", () => {
  it("has working defaults: embedded database, ports 2525/8025, all roles", () => {
    const c = loadConfig({ MAILCLUSTER_HOSTNAME: "mx1" });
    expect(c.databaseUrl).toBeNull();
    expect(c.dataDir).toBe("./data");
    expect([c.smtpPort, c.httpPort]).toEqual([2525, 8025]);
    expect(c.roles).toEqual(["frontend", "backend"]);
    expect(c.memberName).toBe("mx1:2525");
    expect(c.advertiseHost).toBe("127.0.0.1");
  });

  it("flags win over the environment", () => {
    const c = loadConfig({ SMTP_PORT: "25", MEMBER_NAME: "env-name", MAILCLUSTER_ROLE: "backend" }, { smtpPort: "2526", name: "flag-name", role: "frontend" });
    expect(c.smtpPort).toBe(2526);
    expect(c.memberName).toBe("flag-name");
    expect(c.roles).toEqual(["frontend"]);
  });

  it("an empty DATABASE_URL means the embedded database", () => {
    expect(loadConfig({ DATABASE_URL: "" }).databaseUrl).toBeNull();
    expect(loadConfig({ DATABASE_URL: "postgres://x/y" }).databaseUrl).toBe("postgres://x/y");
  });

  it("refuses bad values with the name of what is wrong", () => {
    expect(() => loadConfig({ SMTP_PORT: "70000" })).toThrow(ConfigError);
    expect(() => loadConfig({ HTTP_PORT: "http" })).toThrow(/HTTP port must be a port number/);
    expect(() => loadConfig({}, { role: "relay" })).toThrow(/--role must be all, frontend or backend/);
    expect(() => loadConfig({}, { submit: "sometimes" })).toThrow(/--submit must be/);
  });

  it("bound to every interface, it advertises a reachable address, not 0.0.0.0", () => {
    expect(defaultAdvertiseHost("10.1.2.3")).toBe("10.1.2.3");
    expect(defaultAdvertiseHost("0.0.0.0")).not.toBe("0.0.0.0");
    expect(loadConfig({ MAILCLUSTER_HOST: "0.0.0.0", MAILCLUSTER_ADVERTISE: "192.0.2.7" }).advertiseHost).toBe("192.0.2.7");
  });
});
