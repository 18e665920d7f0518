import type { FetchHandler, Runtime } from "../../src/domain/runtime.ts";

// Only the slice of Bun's API we use, so the project type-checks without bun-types.
interface BunServer {
  port: number;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}
interface BunGlobal {
  serve(options: { fetch: FetchHandler; port: number; hostname: string; maxRequestBodySize?: number }): BunServer;
}

export const bunRuntime: Runtime = {
  name: "bun",
  async serveHttp(fetch, { port, hostname }) {
    const bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;
    const server = bun.serve({ fetch, port, hostname, maxRequestBodySize: 64 * 1024 * 1024 });
    return {
      port: server.port,
      close: async () => {
        await server.stop(true);
      },
    };
  },
};
