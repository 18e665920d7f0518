/**
 * Clean-up that must happen even when the benchmark is interrupted (Ctrl-C, SIGTERM): members
 * killed, the private Postfix stopped, bench databases dropped, the server's log prefix put back.
 * Each resource registers its undo while it exists; on a signal they run newest first, then the
 * process exits. A second signal exits at once.
 */
const tasks: Array<() => unknown> = [];
let interrupted = false;

export function atInterrupt(task: () => unknown): () => void {
  tasks.push(task);
  return () => {
    const i = tasks.lastIndexOf(task);
    if (i >= 0) tasks.splice(i, 1);
  };
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`${signal}: cleaning up (again to exit now)`);
    void (async () => {
      for (const task of tasks.reverse()) {
        try {
          await task();
        } catch (err) {
          console.error(`clean-up failed: ${(err as Error).message}`);
        }
      }
      process.exit(130);
    })();
  });
}
