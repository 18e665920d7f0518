import type net from "node:net";
import type tls from "node:tls";
import { SMTPConnection, type SMTPConnectionOptions } from "smtp-server/lib/smtp-connection.js";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import { ENHANCED_PREFIX } from "./reply.ts";

/**
 * smtp-server with two things it hard-codes made ours:
 * - the early-talker pause before the greeting (a fixed 100 ms upstream) is `greetingDelayMs`,
 *   0 allowed: a client opening one connection per message is otherwise capped at 10 msg/s;
 * - replies whose text already starts with an enhanced status code are sent as they are.
 */
export class MailclusterSmtpServer extends SMTPServer {
  greetingDelayMs: number;
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
    connection.on("connect", (data) => this._onClientConnect(data));
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
