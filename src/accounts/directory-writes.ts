/**
 * Writes to domains, accounts and aliases made by THIS process (admin API, CLI, store
 * functions) are counted here, so this process's directories reload before their next answer
 * instead of waiting for the NOTIFY or the poll: an account created through the admin API is
 * reachable by SMTP on the same member at once. Process-wide on purpose: every directory in
 * the process reads the same database (or its reload is merely redundant).
 */
let writes = 0;

/** Call after a committed (or about to be committed) change to domains, accounts or aliases. */
export function noteDirectoryWrite(): void {
  writes++;
}

export function directoryWriteCount(): number {
  return writes;
}
