import type net from "node:net";
import type tls from "node:tls";
import { SMTPConnection, type SMTPConnectionOptions } from "smtp-server/lib/smtp-connection.js";
import { SMTPServer, type SMTPServerConnectionInfo, type SMTPServerOptions } from "smtp-server";
import { isDomainlessPostmaster } from "./address-check.ts";
import { isValidUtf8, MALFORMED_UTF8_REPLY, parseAddressCommand } from "./address-parse.ts";
import { ENHANCED_PREFIX } from "./reply.ts";

/**
 * smtp-server with two things it hard-codes made ours:
 * - the early-talker pause before the greeting (a fixed 100 ms upstream) is `greetingDelayMs`,
 *   0 allowed: a client opening one connection per message is otherwise capped at 10 msg/s;
 * - replies whose text already starts with an enhanced status code are sent as they are;
 * - MAIL FROM / RCPT TO: malformed UTF-8 refused, 254-octet addresses accepted (address-parse.ts).
 */
export class MailclusterSmtpServer extends SMTPServer {
  greetingDelayMs: number;
  /** postmaster@ the primary domain, for `RCPT TO:<postmaster>` (address-check.ts primaryPostmaster). */
  domainlessPostmaster: (() => string | null) | null = null;
  /** Runs for every accepted socket before its session starts (applies the current settings). */
  beforeConnect: (() => void) | null = null;

  constructor(options: SMTPServerOptions, greetingDelayMs: number) {
    super(options);
    this.greetingDelayMs = greetingDelayMs;
  }

  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    this.beforeConnect?.();
    const connection = new MailclusterConnection(this, socket, socketOptions, this.greetingDelayMs);
    this.connections.add(connection);
    connection.on("error", (err: Error) => this._onError(err));
    connection.on("connect", (data: SMTPServerConnectionInfo) => this._onClientConnect(data));
    connection.init();
  }
}

class MailclusterConnection extends SMTPConnection {
  constructor(server: SMTPServer, socket: net.Socket | tls.TLSSocket, options: SMTPConnectionOptions | null | undefined, private readonly greetingDelayMs: number) {
    super(server, socket, options);
  }

  // Same as upstream init() except for the configurable delay.
  override init(): void {
    this._setListeners(() => {
      const max = this._server.options.maxClients;
      if (max && this._server.connections.size > max) {
        this.send(421, "4.7.0 Too many connected clients, try again in a moment", false);
        return;
      }
      if (this.greetingDelayMs <= 0) {
        this.connectionReady();
        return;
      }
      const timer = setTimeout(() => this.connectionReady(), this.greetingDelayMs);
      timer.unref();
    });
  }

  override handler_MAIL(command: Buffer, callback: () => void): void {
    if (!isValidUtf8(command)) {
      this.send(500, MALFORMED_UTF8_REPLY);
      return callback();
    }
    super.handler_MAIL(command, callback);
  }

  override handler_RCPT(command: Buffer, callback: () => void): void {
    if (!isValidUtf8(command)) {
      this.send(500, MALFORMED_UTF8_REPLY);
      return callback();
    }
    super.handler_RCPT(command, callback);
  }

  override _parseAddressCommand(rawName: string, rawCommand: Buffer | string): ReturnType<SMTPConnection["_parseAddressCommand"]> {
    const parsed = parseAddressCommand((name, command) => super._parseAddressCommand(name, command), rawName, rawCommand);
    // RFC 5321 4.5.1: the domainless postmaster becomes the primary domain's before smtp-server
    // records it, so that repeating it (in any spelling) does not enqueue it twice.
    if (parsed && rawName.toLowerCase() === "rcpt to" && isDomainlessPostmaster(parsed.address)) {
      const postmaster = (this._server as MailclusterSmtpServer).domainlessPostmaster?.();
      if (postmaster) parsed.address = postmaster;
    }
    return parsed;
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    // AUTH hidden before STARTTLS (see frontend.ts onConnect) would read "command not recognized".
    if (code === 500 && context === "AUTH" && !this.session.secure && this.session.disabledCommands?.includes("AUTH")) {
      super.send(530, "5.7.0 Must issue a STARTTLS command first", false);
      return;
    }
    if (typeof data === "string" && ENHANCED_PREFIX.test(data)) {
      super.send(code, data, false);
      return;
    }
    super.send(code, data, context);
  }
}
