import SMTPConnection, { type SMTPConnectionSendInfo } from "nodemailer/lib/smtp-connection";
import type { NodemailerError } from "nodemailer/lib/errors";
import { TLSSocket } from "node:tls";
import type { DsnRet } from "../domain/types.ts";
import { certificateFailure, type SessionTls } from "../tls-report/results.ts";

/** Per-recipient DSN parameters (RFC 3461), as stored on the queue row. */
export interface RecipientDsn {
  notify: string | null;
  orcpt: string | null;
}

/**
 * The few nodemailer internals we read, typed in one place. nodemailer keeps the EHLO
 * extensions and the per-recipient RCPT replies private; both are needed (SMTPUTF8/SIZE checks,
 * and the RCPT answers of recipients when the transaction then fails).
 */
interface Internals {
  _supportedExtensions?: string[];
  _maxAllowedSize?: number;
  _recipientQueue?: string[];
  _envelope?: false | { rejectedErrors?: NodemailerError[] };
  _socket?: unknown;
}

/** RFC 3461 xtext: "+" and "=" and anything outside printable US-ASCII as +HH. */
export function encodeXtext(value: string): string {
  let out = "";
  for (const byte of Buffer.from(value, "utf8")) {
    out += byte < 33 || byte > 126 || byte === 0x2b || byte === 0x3d ? "+" + byte.toString(16).toUpperCase().padStart(2, "0") : String.fromCharCode(byte);
  }
  return out;
}

/**
 * nodemailer's SMTP connection with one change: NOTIFY and ORCPT per recipient. nodemailer
 * takes one DSN setting for the whole envelope, but every recipient of a message carries its
 * own, and they must travel in one transaction. The RCPT arguments are built by
 * _getDsnRcptToArgs right after the recipient is queued, so the last queued one is the current.
 */
export class RelayConnection extends SMTPConnection {
  recipientDsn = new Map<string, RecipientDsn>();

  private get internals(): Internals {
    return this;
  }

  /** EHLO keywords this server offered (upper case), known once connected. */
  get extensions(): string[] {
    return this.internals._supportedExtensions ?? [];
  }

  /** SIZE limit the server announced, 0 when none. */
  get maxSize(): number {
    return this.internals._maxAllowedSize ?? 0;
  }

  /** RCPT rejections of the last transaction, also after it failed later (DATA, 421, a drop). */
  get rcptRejections(): NodemailerError[] {
    const env = this.internals._envelope;
    return env ? (env.rejectedErrors ?? []) : [];
  }

  /**
   * The session's TLS once connected: encrypted or not, and whether the certificate chains to a
   * trusted CA and names the host (node checks the SNI name even without rejectUnauthorized;
   * the pool decides what to do with a failure, so one policy can report what another refuses).
   */
  get sessionTls(): SessionTls {
    const socket = this.internals._socket;
    if (!this.secure || !(socket instanceof TLSSocket)) return { encrypted: false, verified: false, failure: "starttls-not-supported", detail: "no STARTTLS" };
    if (socket.authorized) return { encrypted: true, verified: true, failure: null, detail: null };
    const code = String(socket.authorizationError ?? "certificate not verified");
    return { encrypted: true, verified: false, failure: certificateFailure(code), detail: code };
  }

  _getDsnRcptToArgs(): string {
    if (!this.extensions.includes("DSN")) return "";
    const queue = this.internals._recipientQueue ?? [];
    const dsn = this.recipientDsn.get(queue[queue.length - 1] ?? "");
    if (!dsn) return "";
    const args: string[] = [];
    if (dsn.notify) args.push(`NOTIFY=${dsn.notify.toUpperCase()}`);
    if (dsn.orcpt && dsn.orcpt.includes(";")) {
      // Stored as received: "rfc822;" + xtext already; only bytes that cannot be xtext get encoded.
      const [type, ...rest] = dsn.orcpt.split(";");
      const value = rest.join(";");
      args.push(`ORCPT=${type};${/^[\x21-\x7e]*$/.test(value) ? value : encodeXtext(value)}`);
    }
    return args.length > 0 ? " " + args.join(" ") : "";
  }

  /** nodemailer reports a failed connect through 'error' (or a bare 'end'), not the callback. */
  connectAsync(): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        this.off("error", onError);
        this.off("end", onEnd);
        if (err) reject(err);
        else resolve();
      };
      const onError = (err: Error) => settle(err);
      const onEnd = () => settle(Object.assign(new Error("connection closed before the session was set up"), { code: "ECONNECTION" }));
      this.on("error", onError);
      this.on("end", onEnd);
      this.connect((err) => settle(err ?? undefined));
    });
  }

  loginAsync(user: string, pass: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.login({ user, pass }, (err) => (err ? reject(err) : resolve()));
    });
  }

  sendAsync(envelope: { from: string; to: string[]; size: number; use8BitMime: boolean; ret: DsnRet | null; envid: string | null }, content: Buffer): Promise<SMTPConnectionSendInfo> {
    const dsn = envelope.ret || envelope.envid ? { ret: envelope.ret ?? undefined, envid: envelope.envid ?? undefined } : undefined;
    return new Promise((resolve, reject) => {
      this.send({ from: envelope.from === "" ? false : envelope.from, to: envelope.to, size: envelope.size, use8BitMime: envelope.use8BitMime, dsn }, content, (err, info) =>
        err ? reject(err) : resolve(info),
      );
    });
  }

  resetAsync(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.reset((err) => (err ? reject(err) : resolve()));
    });
  }
}
