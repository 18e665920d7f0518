/** What a runtime adapter provides; src/ declares it, adapters/runtime implements it. */
export interface HttpServerHandle {
  port: number;
  close(): Promise<void>;
}

export type FetchHandler = (request: Request) => Response | Promise<Response>;

export interface Runtime {
  readonly name: string;
  serveHttp(fetch: FetchHandler, options: { port: number; hostname: string }): Promise<HttpServerHandle>;
}
