import net from "node:net";

/** A lean pipelining SMTP client: the benchmark must measure the server, not the client. */
export class BenchSession {
  private buf = "";
  private waiting: { count: number; codes: number[]; resolve: (codes: number[]) => void; reject: (e: Error) => void } | null = null;
  private pendingCodes: number[] = [];
  private error: Error | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => this.onData(d));
    socket.on("error", (e) => this.fail(e));
    socket.on("close", () => this.fail(new Error("connection closed")));
  }

  static connect(port: number): Promise<BenchSession> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => resolve(new BenchSession(s)));
      s.once("error", reject);
    });
  }

  private fail(e: Error): void {
    this.error ??= e;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(e);
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf("\r\n")) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 2);
      if (line[3] === "-") continue;
      this.pendingCodes.push(Number(line.slice(0, 3)));
    }
    this.flush();
  }

  private flush(): void {
    const w = this.waiting;
    if (!w || this.pendingCodes.length < w.count) return;
    this.waiting = null;
    w.resolve(this.pendingCodes.splice(0, w.count));
  }

  /** Writes, then waits for `count` replies. */
  exchange(data: string | Buffer | null, count: number): Promise<number[]> {
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.waiting = { count, codes: [], resolve, reject };
      if (data !== null) this.socket.write(data);
      this.flush();
    });
  }

  async hello(): Promise<void> {
    const [greeting] = await this.exchange(null, 1);
    if (greeting !== 220) throw new Error(`greeting ${greeting}`);
    const [ehlo] = await this.exchange("EHLO bench.client\r\n", 1);
    if (ehlo !== 250) throw new Error(`EHLO ${ehlo}`);
  }

  /** One message with PIPELINING: MAIL+RCPT+DATA in one write, then the body. True when 250. */
  async send(from: string, to: string, body: Buffer): Promise<boolean> {
    const codes = await this.exchange(`MAIL FROM:<${from}> SIZE=${body.byteLength}\r\nRCPT TO:<${to}>\r\nDATA\r\n`, 3);
    if (codes[0] !== 250 || codes[1] !== 250 || codes[2] !== 354) {
      if (codes[2] === 354) await this.exchange(".\r\n", 1);
      return false;
    }
    const [done] = await this.exchange(body, 1);
    return done === 250;
  }

  quit(): void {
    this.socket.end("QUIT\r\n");
    this.socket.destroy();
  }
}

/** A message body of about `size` bytes (CRLF lines, no leading dots) ending with the final dot. */
export function makeMessage(size: number): Buffer {
  const head = `From: bench@elsewhere.test\r\nTo: alice@bench.test\r\nSubject: benchmark ${size}\r\nMessage-ID: <bench-${size}@elsewhere.test>\r\n\r\n`;
  const line = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl\r\n";
  let body = head;
  while (body.length + line.length <= size) body += line;
  return Buffer.from(body + ".\r\n", "latin1");
}
