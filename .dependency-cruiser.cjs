/**
 * The import rules of the design (docs/architecture.md, "Imports point one way"), checked by
 * `npm run lint` (dependency-cruiser). Violations that exist today and are removed by the
 * file moves of issue 12 are listed in .dependency-cruiser-known-violations.json and only
 * reported as warnings; any new one fails. Regenerate that list only when removing entries:
 *   npx depcruise src adapters --output-type baseline > .dependency-cruiser-known-violations.json
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "src-not-to-adapters",
      severity: "error",
      comment:
        "src/ stays runtime- and driver-neutral: it sees the Storage and Runtime interfaces (src/db/storage.ts, src/domain/runtime.ts). " +
        "The choosers live in adapters/ (adapters/storage/index.ts, adapters/runtime/index.ts) and one file of the composition " +
        "root, src/cli/adapters.ts, imports them; the CLI's commands and `start` take their Storage and Runtime from it and hand them on.",
      from: { path: "^src/", pathNot: "^src/cli/adapters\\.ts$" },
      to: { path: "^adapters/" },
    },
    {
      name: "domain-imports-nothing",
      severity: "error",
      comment: "src/domain/ is the leaf every folder shares: it imports nothing but itself (no other folder, no package).",
      from: { path: "^src/domain/" },
      to: { pathNot: "^src/domain/" },
    },
    {
      name: "no-folder-cycles",
      severity: "error",
      comment: "Folders depend on each other one way; a shared type moves to src/domain/ rather than pointing back.",
      scope: "folder",
      from: { path: "^(src|adapters)/" },
      to: { circular: true },
    },
    {
      name: "no-module-cycles",
      severity: "error",
      comment: "No file imports itself through others.",
      from: { path: "^(src|adapters)/" },
      to: { circular: true },
    },
    {
      name: "shipped-code-not-to-dev-deps",
      severity: "error",
      comment: "What src/ and adapters/ import at run time must be a dependency, not a devDependency.",
      from: { path: "^(src|adapters)/" },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"] },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "An import that resolves to nothing.",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|data|drizzle)/" },
    // Type-only imports count: a seam imported for its types is still an arrow in the design.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default", "types"], mainFields: ["module", "main", "types", "typings"] },
    builtInModules: { add: ["bun", "bun:test"] },
  },
};
