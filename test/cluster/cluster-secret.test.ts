import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLUSTER_SECRET_KEY, ClusterSecret } from "../../src/cluster/cluster-secret.ts";
import type { Storage } from "../../src/db/storage.ts";
import { createPgliteDatabase } from "../helpers/pglite.ts";

// The member's cluster secret (ctx.clusterSecret): looked up once and kept, a failed lookup retried.
describe("ClusterSecret", () => {
  let storage: Storage;
  const store = (value: string) => storage.db.execute(sql`UPDATE settings SET value = to_jsonb(${value}::text) WHERE key = ${CLUSTER_SECRET_KEY}`);
  beforeAll(async () => {
    storage = await createPgliteDatabase();
  });
  afterAll(async () => {
    await storage.close();
  });

  it("CLUSTER_SECRET wins when set", async () => {
    expect(await new ClusterSecret(storage.db, "configured-secret-wins").get()).toBe("configured-secret-wins");
  });

  it("the stored one is read once and kept for the member's life", async () => {
    const secret = new ClusterSecret(storage.db, null);
    const first = await secret.get();
    expect(first.length).toBeGreaterThanOrEqual(32);
    await store("another-secret-0123456789");
    expect(await secret.get()).toBe(first);
    expect(await new ClusterSecret(storage.db, null).get()).toBe("another-secret-0123456789");
  });

  it("a failed lookup is not kept: the next call looks again", async () => {
    await store("short");
    const secret = new ClusterSecret(storage.db, null);
    await expect(secret.get()).rejects.toThrow(/missing or too short/);
    await store("long-enough-secret-0123456789");
    expect(await secret.get()).toBe("long-enough-secret-0123456789");
  });
});
