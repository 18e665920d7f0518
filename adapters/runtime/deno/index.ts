import type { FetchHandler, Runtime } from "../../../src/domain/runtime.ts";

// Only the slice of Deno's API we use, so the project type-checks without Deno's types.
interface DenoHttpServer {
  addr: { port: number };
  finished: Promise<void>;
  shutdown(): Promise<void>;
}
interface DenoServeOptions {
  port: number;
  hostname: string;
  onListen?: (addr: { port: number }) => void;
}
interface DenoGlobal {
  serve(options: DenoServeOptions, handler: FetchHandler): DenoHttpServer;
}

/**
 * HTTP through `Deno.serve` (Deno's native server, Hono's own Deno path) rather than
 * @hono/node-server on Deno's node:http emulation: one layer fewer between the socket and
 * `fetch(Request)`. SMTP stays on smtp-server over node:net, which Deno's Node compatibility
 * runs unchanged. README.md in this folder has the measurements behind the choice.
 */
export const denoRuntime: Runtime = {
  name: "deno",
  async serveHttp(fetch, { port, hostname }) {
    const deno = (globalThis as unknown as { Deno: DenoGlobal }).Deno;
    // A port in use throws here (Deno.errors.AddrInUse): the async function turns it into the rejection
    // node's listen "error" gives. onListen by default prints "Listening on …"; pino stays the only output.
    const server = deno.serve({ port, hostname, onListen: () => {} }, (request) => fetch(request));
    return {
      port: server.addr.port,
      // shutdown() stops accepting, lets requests in flight finish and closes idle keep-alive connections.
      close: () => server.shutdown(),
    };
  },
};
