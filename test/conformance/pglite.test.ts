import { createPgliteDatabase } from "../helpers/pglite.ts";
import { storageConformance } from "./queue.suite.ts";

storageConformance("pglite", createPgliteDatabase, (s) => s.close());
