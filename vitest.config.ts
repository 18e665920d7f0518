import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file gets its own database; a couple in parallel keeps a 2-core machine busy without thrashing.
    maxWorkers: 2,
  },
});
