import { describe, expect, it } from "vitest";
import { detectRuntime } from "../../adapters/runtime/index.ts";

// The runtime adapter the member would pick here (node under vitest on Node, bun under bun test,
// deno under vitest on Deno), held to what Member relies on.
function runningOn(): string {
  if (typeof (globalThis as { Bun?: unknown }).Bun !== "undefined") return "bun";
  if (typeof (globalThis as { Deno?: unknown }).Deno !== "undefined") return "deno";
  return "node";
}

describe("runtime adapter", () => {
  it("is the one for the runtime the process runs on", async () => {
    expect((await detectRuntime()).name).toBe(runningOn());
  });

  it("serves fetch handlers on an ephemeral port, request body included", async () => {
    const runtime = await detectRuntime();
    const server = await runtime.serveHttp(async (req) => new Response(`${req.method} ${new URL(req.url).pathname} ${(await req.text()).length}`), { port: 0, hostname: "127.0.0.1" });
    try {
      expect(server.port).toBeGreaterThan(0);
      const res = await fetch(`http://127.0.0.1:${server.port}/cluster/v1/deliver`, { method: "POST", body: "x".repeat(100_000) });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("POST /cluster/v1/deliver 100000");
    } finally {
      await server.close();
    }
  });

  it("rejects a port that is taken, and the first server keeps serving", async () => {
    const runtime = await detectRuntime();
    const first = await runtime.serveHttp(() => new Response("first"), { port: 0, hostname: "127.0.0.1" });
    try {
      await expect(runtime.serveHttp(() => new Response("second"), { port: first.port, hostname: "127.0.0.1" })).rejects.toThrow();
      expect(await (await fetch(`http://127.0.0.1:${first.port}/`)).text()).toBe("first");
    } finally {
      await first.close();
    }
  });

  it("close() returns with an idle keep-alive connection open, and the port stops answering", async () => {
    const runtime = await detectRuntime();
    const server = await runtime.serveHttp(() => new Response("ok"), { port: 0, hostname: "127.0.0.1" });
    // fetch keeps the connection alive after this response: close() must not wait for the client.
    expect(await (await fetch(`http://127.0.0.1:${server.port}/`)).text()).toBe("ok");
    await server.close();
    await expect(fetch(`http://127.0.0.1:${server.port}/`)).rejects.toThrow();
  });
});
