/**
 * A Hono app on one runtime adapter, for comparing HTTP servers on the same runtime (run.ts):
 *   deno run -A bench/runtimes/http-server.ts deno|node
 * "deno" is adapters/runtime/deno (Deno.serve); "node" is adapters/runtime/node (@hono/node-server
 * on the runtime's node:http). Prints "READY <port>", stops when stdin closes.
 */
import { Hono } from "hono";
import { createInterface } from "node:readline";
import type { Runtime } from "../../src/domain/runtime.ts";

const which = process.argv[2];
const runtime: Runtime =
  which === "deno" ? (await import("../../adapters/runtime/deno/index.ts")).denoRuntime
  : which === "bun" ? (await import("../../adapters/runtime/bun.ts")).bunRuntime
  : (await import("../../adapters/runtime/node.ts")).nodeRuntime;

const app = new Hono();
// The shapes the member serves: a small JSON answer (/health) and a body read in full (delivery channel).
app.get("/health", (c) => c.json({ status: "ok", member: "bench", roles: ["frontend", "backend"] }));
app.post("/deliver", async (c) => c.json({ bytes: (await c.req.arrayBuffer()).byteLength }));

const server = await runtime.serveHttp(app.fetch, { port: 0, hostname: "127.0.0.1" });
process.stdout.write(`READY ${server.port}\n`);
createInterface({ input: process.stdin }).on("close", () => {
  void server.close().then(() => process.exit(0));
});
