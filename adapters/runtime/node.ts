import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import type { Runtime } from "../../src/domain/runtime.ts";

export const nodeRuntime: Runtime = {
  name: "node",
  serveHttp(fetch, { port, hostname }) {
    return new Promise((resolve, reject) => {
      const server = serve({ fetch, port, hostname }, (info: AddressInfo) => {
        resolve({
          port: info.port,
          close: () => new Promise<void>((done) => {
            server.close(() => done());
            // Idle keep-alive sockets would otherwise hold close() open.
            if ("closeAllConnections" in server && typeof server.closeAllConnections === "function") server.closeAllConnections();
          }),
        });
      });
      server.once("error", reject);
    });
  },
};
