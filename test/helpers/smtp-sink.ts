import { SMTPServer, type SMTPServerAddress } from "smtp-server";

/**
 * What the sink answers at a step: accept, 450 defer, 550 reject, 421 close (RFC 5321 §3.8:
 * the server is going away), hang (never answer; the client's timeout must end it), or an
 * explicit reply whose text may start with an enhanced status ("5.7.1 no").
 */
export type SinkAction = "accept" | "defer" | "reject" | "close" | "hang" | { code: number; text: string };

export interface SinkRecipient {
  address: string;
  /** RCPT parameters as sent (NOTIFY, ORCPT), upper-case keys. */
  args: Record<string, string>;
}

export interface SinkMessage {
  from: string;
  /** MAIL parameters as sent (SIZE, BODY, RET, ENVID, SMTPUTF8). */
  mailArgs: Record<string, string>;
  to: SinkRecipient[];
  content: Buffer;
  /** Session number (1-based): equal numbers mean one reused connection. */
  session: number;
  tls: boolean;
}

export interface SmtpSinkOptions {
  /** Per recipient; default accept. */
  rcpt?: (address: string) => SinkAction;
  mail?: (sender: string) => SinkAction;
  /** After the message data; default accept. */
  data?: (message: SinkMessage) => SinkAction;
  /** Before the greeting: reject = 554, close = 421, hang = no greeting at all. */
  connect?: () => SinkAction;
  /** Offer STARTTLS (self-signed). Default false, for speed. */
  starttls?: boolean;
  /** The certificate STARTTLS presents (PEM), instead of smtp-server's self-signed one. */
  certificate?: { key: string; cert: string };
  smtputf8?: boolean;
  dsn?: boolean;
  eightBitMime?: boolean;
  /** SIZE limit to announce; 0 = no limit. */
  size?: number;
  /** Require AUTH with these credentials before MAIL. */
  auth?: { user: string; pass: string };
  /** Listen address, default 127.0.0.1. */
  host?: string;
}

export interface SmtpSink {
  host: string;
  port: number;
  /** Accepted messages, in order. */
  messages: SinkMessage[];
  /** Every RCPT seen (also refused ones), in order. */
  rcpts: string[];
  /** Connections accepted so far. */
  readonly sessions: number;
  /** Successful AUTH logins. */
  readonly logins: number;
  close(): Promise<void>;
}

const REPLIES: Record<Exclude<SinkAction, "accept" | "hang" | { code: number; text: string }>, { code: number; text: string }> = {
  defer: { code: 450, text: "4.2.0 mailbox busy, try later (sink)" },
  reject: { code: 550, text: "5.1.1 no such user here (sink)" },
  close: { code: 421, text: "4.3.2 service shutting down (sink)" },
};

function argsOf(a: SMTPServerAddress): Record<string, string> {
  const out: Record<string, string> = {};
  if (a.args) for (const [k, v] of Object.entries(a.args)) out[k.toUpperCase()] = v === true ? "" : String(v);
  return out;
}

/**
 * A scriptable SMTP server for tests (smtp-server on an ephemeral port): per-recipient
 * 250/450/550/421/hang, greeting trouble, extensions on or off. Hanging callbacks are released
 * on close(), so nothing keeps the test process alive.
 */
export async function startSmtpSink(o: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: SinkMessage[] = [];
  const rcpts: string[] = [];
  const hanging: Array<() => void> = [];
  let sessions = 0;
  let logins = 0;
  const sessionNo = new Map<string, number>();

  const answer = (action: SinkAction, done: (err?: Error | null) => void): void => {
    if (action === "accept") return done();
    if (action === "hang") {
      hanging.push(() => done(Object.assign(new Error("4.3.2 sink closing"), { responseCode: 421 })));
      return;
    }
    const reply = typeof action === "string" ? REPLIES[action] : action;
    done(Object.assign(new Error(reply.text), { responseCode: reply.code }));
  };

  const server = new SMTPServer({
    secure: false,
    ...(o.certificate ? { key: o.certificate.key, cert: o.certificate.cert } : {}),
    hideSTARTTLS: !o.starttls,
    hideSMTPUTF8: o.smtputf8 === false,
    hideDSN: o.dsn === false,
    hide8BITMIME: o.eightBitMime === false,
    hideSize: !o.size,
    size: o.size || undefined,
    hideENHANCEDSTATUSCODES: true,
    authOptional: !o.auth,
    authMethods: ["PLAIN", "LOGIN"],
    allowInsecureAuth: true,
    // Hidden is not enough: smtp-server would still honour the command.
    disabledCommands: [...(o.auth ? [] : ["AUTH"]), ...(o.starttls ? [] : ["STARTTLS"])],
    closeTimeout: 200,
    logger: false,
    onConnect(session, cb) {
      sessions += 1;
      sessionNo.set(session.id, sessions);
      answer(o.connect?.() ?? "accept", cb);
    },
    onAuth(auth, _session, cb) {
      if (o.auth && auth.username === o.auth.user && auth.password === o.auth.pass) {
        logins += 1;
        return cb(null, { user: auth.username });
      }
      cb(Object.assign(new Error("5.7.8 bad credentials (sink)"), { responseCode: 535 }));
    },
    onMailFrom(address, _session, cb) {
      answer(o.mail?.(address.address) ?? "accept", cb);
    },
    onRcptTo(address, _session, cb) {
      rcpts.push(address.address);
      answer(o.rcpt?.(address.address) ?? "accept", cb);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const from = session.envelope.mailFrom;
        const message: SinkMessage = {
          from: from ? from.address : "",
          mailArgs: from ? argsOf(from) : {},
          to: session.envelope.rcptTo.map((r) => ({ address: r.address, args: argsOf(r) })),
          content: Buffer.concat(chunks),
          session: sessionNo.get(session.id) ?? 0,
          tls: Boolean(session.secure),
        };
        const action = o.data?.(message) ?? "accept";
        if (action === "accept") messages.push(message);
        answer(action, (err) => cb(err));
      });
    },
  });

  const host = o.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  server.on("error", () => {});
  const addr = server.server.address();
  const port = addr && typeof addr === "object" ? addr.port : 0;

  return {
    host,
    port,
    messages,
    rcpts,
    get sessions() {
      return sessions;
    },
    get logins() {
      return logins;
    },
    async close() {
      for (const release of hanging.splice(0)) release();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
