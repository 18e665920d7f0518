import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { storageConformance } from "./queue.suite.ts";

let tdb: TestDatabase;
storageConformance(
  "postgres-js",
  async () => {
    tdb = await createTestDatabase();
    return tdb.storage;
  },
  () => tdb.drop(),
);
