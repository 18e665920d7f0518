import { createServer, connect, type Socket } from "node:net";

/** A TCP proxy in front of a sink that counts the sessions open through it at once. */
export interface CountingProxy {
  port: number;
  readonly open: number;
  readonly maxOpen: number;
  readonly connections: number;
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(targetPort: number): Promise<CountingProxy> {
  let open = 0;
  let maxOpen = 0;
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    open += 1;
    connections += 1;
    maxOpen = Math.max(maxOpen, open);
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    let closed = false;
    const done = () => {
      if (closed) return;
      closed = true;
      open -= 1;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", done);
    upstream.on("error", done);
    // A session ends for the count as soon as either side ends it.
    client.on("end", done);
    client.on("close", done);
    upstream.on("close", done);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const addr = server.address();
  return {
    port: addr && typeof addr === "object" ? addr.port : 0,
    get open() {
      return open;
    },
    get maxOpen() {
      return maxOpen;
    },
    get connections() {
      return connections;
    },
    reset() {
      maxOpen = open;
      connections = 0;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
