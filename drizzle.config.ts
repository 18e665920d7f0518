import { defineConfig } from "drizzle-kit";

// drizzle-kit is the only way the schema changes: edit src/db/schema, then `npm run db:generate`.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema/index.ts",
  out: "./drizzle",
});
