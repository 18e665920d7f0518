import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level = process.env.LOG_LEVEL ?? "info", bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { ...bindings } });
}

/** For tests and library use: logs nothing. */
export const silentLogger: Logger = pino({ level: "silent" });
