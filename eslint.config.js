// Lint for the code that ships (src/, adapters/): typescript-eslint's strictTypeChecked,
// type-aware; for tests and benchmarks (test/, bench/): typescript-eslint's recommendedTypeChecked,
// type-aware too (floating promises, `any` leaking out of JSON answers, needless assertions), without
// strict's stylistic demands on a suite full of deliberate bad input. `npm run lint` runs both with
// dependency-cruiser's import rules (.dependency-cruiser.cjs). Every exception below says why;
// remove one when its reason goes.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "data/", "drizzle/", "patches/", "bin/", "**/*.d.ts", "*.config.ts", "*.config.js", "**/*.mjs"] },
  {
    files: ["src/**/*.ts", "adapters/**/*.ts"],
    extends: [...tseslint.configs.strictTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Numbers and booleans in log and error texts are ordinary; objects and nullish values
      // (which print as "[object Object]" / "undefined") are still refused.
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      // `() => void promise` and `(x) => list.push(x)` callbacks read well.
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true, ignoreVoidOperator: true, ignoreVoidReturningFunctions: true }],
      // tsconfig has noUncheckedIndexedAccess off, so `rows[0]` is typed as present and this
      // rule calls the guards that keep missing rows from crashing "unnecessary". Enable both
      // together.
      "@typescript-eslint/no-unnecessary-condition": "off",
      // `async` on a method that implements a Promise-returning interface turns a throw into a
      // rejection, which callers rely on; the rule would have those become synchronous throws.
      "@typescript-eslint/require-await": "off",
      // Flags Hono's chained route builders (`new Hono().get(...)`), which return the instance
      // under a refined type; no finding of it in this code base was a real problem.
      "@typescript-eslint/no-unsafe-class-instance-assignment": "off",
      // `_name` marks a binding kept on purpose (a rest sibling dropped, a callback's slot).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_", ignoreRestSiblings: true }],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // As in src/: fakes and stubs implement Promise-returning interfaces (resolvers, handlers,
      // stores, `async function*` inputs) with `async`, so that a throw in them rejects as the
      // real one's would; the rule would have each return Promise.resolve(...) by hand.
      "@typescript-eslint/require-await": "off",
      // As in src/: `_name` marks a binding kept on purpose.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_", ignoreRestSiblings: true }],
    },
  },
);
