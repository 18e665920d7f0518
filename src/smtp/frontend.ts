import type { AddressInfo } from "node:net";
import type { SMTPServerOptions, SMTPServerSession } from "smtp-server";
import type { AppContext } from "../app-context.ts";
import { chooseProcessor } from "../cluster/processor.ts";
import { SubmitBatcher } from "../queue/group-commit.ts";
import { coerceError } from "../util/errors.ts";
import { createMessageAuth } from "../dkim/submission.ts";
import type { AuthDnsResolver } from "../dkim/resolver.ts";
import { onAuth } from "./auth.ts";
import { AuthThrottle } from "./auth-throttle.ts";
import { MailclusterSmtpServer } from "./connection.ts";
import { onData } from "./data-handler.ts";
import type { FrontendDeps } from "./deps.ts";
import { onMailFrom, onRcptTo } from "./envelope-hooks.ts";
import { timeTransactions } from "../metrics/smtp-metrics.ts";
import { primaryPostmaster } from "./address-check.ts";
import { RelayPolicy } from "./relay-policy.ts";
import { smtpError } from "./reply.ts";
import { acceptAllRules, type SubmissionRules } from "../domain/submission-rules.ts";
import { loadTlsCredentials, type TlsCredentials } from "./tls.ts";

/** smtp: port 25-style, AUTH optional. submission: 587-style, AUTH required. smtps: 465-style implicit TLS, AUTH required. */
export type ListenerKind = "smtp" | "submission" | "smtps";

export interface SmtpFrontendOptions {
  /** Defaults from ctx.config; 0 = ephemeral; null = not opened (submission, smtps). */
  port?: number;
  submissionPort?: number | null;
  smtpsPort?: number | null;
  host?: string;
  /** Certificate and key; by default the configured ones or a self-signed pair in the data dir. */
  tls?: { key: string; cert: string };
  rules?: SubmissionRules;
  /** DNS for inbound DKIM/SPF/DMARC checks; by default the dns_servers setting's. */
  authDns?: AuthDnsResolver;
  submit?: FrontendDeps["submit"];
  processor?: FrontendDeps["processor"];
  delay?: FrontendDeps["delay"];
}

export interface SmtpFrontend {
  /** Bound ports by listener. */
  ports: Partial<Record<ListenerKind, number>>;
  port: number;
  throttle: AuthThrottle;
  /** Stop accepting; open sessions get smtp_shutdown_grace_seconds, then 421. */
  close(): Promise<void>;
}

/** The SMTP frontend: one to three smtp-server listeners sharing limits, relay policy and hooks. */
export async function startSmtpFrontend(ctx: AppContext, options: SmtpFrontendOptions = {}): Promise<SmtpFrontend> {
  const { config, logger } = ctx;
  const tls: Pick<TlsCredentials, "key" | "cert"> =
    options.tls ?? (await loadTlsCredentials({ certPath: config.tlsCertPath, keyPath: config.tlsKeyPath, dataDir: config.dataDir, hostname: config.hostname }, logger));
  // One group commit for all listeners: DATA completions from any session share statements.
  const batcher = new SubmitBatcher({
    db: ctx.db,
    wakeUp: ctx.wakeUp,
    localWake: { member: config.memberName, nudge: () => ctx.nudgeLocalWorker?.() ?? false },
    onFlushed: (messages) => {
      ctx.ingestFirst?.committed(messages);
      ctx.metrics.inc("mailcluster_submit_group_commits_total", "Group-commit statements that committed");
      ctx.metrics.inc("mailcluster_submit_group_committed_messages_total", "Messages written by group-commit statements (÷ statements = batch size)", {}, messages);
    },
  });
  const relay = new RelayPolicy({
    trustedNetworks: () => ctx.settings().trusted_networks,
    liveMembers: () => ctx.cluster?.live() ?? [],
    trustMemberAddresses: () => ctx.settings().relay_trust_member_addresses,
    onInvalidNetwork: (entries) => logger.warn({ entries }, "trusted_networks: ignoring entries that are not CIDRs"),
  });
  const deps: FrontendDeps = {
    ctx,
    relay,
    messageAuth: createMessageAuth(ctx, { relay, resolver: options.authDns }),
    throttle: new AuthThrottle(ctx.clock),
    rules: options.rules ?? acceptAllRules,
    submit: options.submit ?? ((input) => batcher.submit(input)),
    processor: options.processor ?? (() => chooseProcessor(ctx)),
    delay: options.delay ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
  };
  const perIp = new Map<string, number>();
  const counted = new Set<string>();
  let closing = false;

  const build = (kind: ListenerKind): MailclusterSmtpServer => {
    const s = ctx.settings();
    const serverOptions: SMTPServerOptions = {
      name: config.hostname,
      banner: "mailcluster",
      key: tls.key,
      cert: tls.cert,
      secure: kind === "smtps",
      authMethods: ["PLAIN", "LOGIN"],
      authOptional: kind === "smtp",
      allowInsecureAuth: s.allow_insecure_auth,
      hideENHANCEDSTATUSCODES: false,
      hideDSN: false,
      hideREQUIRETLS: true,
      disableReverseLookup: true,
      // RFC 5321 4.5.3.1.6: a text line is at most 1,000 octets with CRLF; longer command lines close the session.
      maxCommandLength: 1000,
      logger: false,
      size: s.max_message_bytes,
      maxRecipients: s.max_recipients,
      maxClients: s.smtp_max_connections,
      socketTimeout: s.smtp_idle_timeout_seconds * 1000,
      closeTimeout: Math.max(1, s.smtp_shutdown_grace_seconds * 1000),
      onAuth: onAuth(deps),
      ...timeTransactions(ctx.metrics, { onMailFrom: onMailFrom(deps), onData: onData(deps) }),
      onRcptTo: onRcptTo(deps),
      onConnect: (session, done) => {
        const current = ctx.settings();
        if (closing) return done(smtpError(421, "4.3.2", "shutting down, try another server"));
        const ip = session.remoteAddress;
        const n = perIp.get(ip) ?? 0;
        if (n >= current.smtp_max_connections_per_ip) {
          ctx.metrics.inc("mailcluster_smtp_refused_total", "Connections refused by reason", { reason: "per-ip-limit" });
          return done(smtpError(421, "4.7.0", "too many connections from your address, try again later"));
        }
        perIp.set(ip, n + 1);
        counted.add(session.id);
        ctx.metrics.set("mailcluster_smtp_sessions", "Open SMTP sessions on this frontend", {}, counted.size);
        // Port 25: AUTH is neither offered nor accepted before STARTTLS (unless allowed for dev).
        if (kind === "smtp" && !session.secure && !current.allow_insecure_auth) session.disabledCommands = ["AUTH"];
        ctx.metrics.inc("mailcluster_smtp_connections_total", "SMTP connections accepted", { listener: kind });
        done();
      },
      onSecure: (_socket, session, done) => {
        session.disabledCommands = undefined;
        done();
      },
      onClose: (session: SMTPServerSession) => {
        if (!counted.delete(session.id)) return;
        ctx.metrics.set("mailcluster_smtp_sessions", "Open SMTP sessions on this frontend", {}, counted.size);
        const ip = session.remoteAddress;
        const n = (perIp.get(ip) ?? 1) - 1;
        if (n <= 0) perIp.delete(ip);
        else perIp.set(ip, n);
      },
    };
    const server = new MailclusterSmtpServer(serverOptions, s.smtp_greeting_delay_ms);
    server.domainlessPostmaster = () =>
      primaryPostmaster({ primaryDomain: ctx.settings().primary_domain, hostname: config.hostname, isLocalDomain: (d) => ctx.directory.isLocalDomain(d) });
    // Settings change at run time; smtp-server reads its options per command, so refreshing them
    // as each client arrives is enough.
    server.beforeConnect = () => {
      const current = ctx.settings();
      Object.assign(server.options, {
        size: current.max_message_bytes,
        maxRecipients: current.max_recipients,
        maxClients: current.smtp_max_connections,
        socketTimeout: current.smtp_idle_timeout_seconds * 1000,
        allowInsecureAuth: current.allow_insecure_auth,
      });
      server.greetingDelayMs = current.smtp_greeting_delay_ms;
    };
    // Behind a TCP load balancer the client address arrives in a PROXY header; smtp-server decides
    // whether to expect one when the socket is accepted, so the list is refreshed just before.
    server.server.prependListener("connection", () => {
      const from = ctx.settings().smtp_proxy_protocol_from.split(",").map((x) => x.trim()).filter(Boolean);
      server.options.useProxy = from.length > 0 ? from : false;
    });
    server.on("error", (err) => logger.warn({ err: coerceError(err).message, listener: kind }, "smtp listener error"));
    return server;
  };

  const host = options.host ?? config.host;
  const wanted: Array<[ListenerKind, number | null | undefined]> = [
    ["smtp", options.port ?? config.smtpPort],
    ["submission", options.submissionPort !== undefined ? options.submissionPort : config.submissionPort],
    ["smtps", options.smtpsPort !== undefined ? options.smtpsPort : config.smtpsPort],
  ];
  const servers: MailclusterSmtpServer[] = [];
  const ports: Partial<Record<ListenerKind, number>> = {};
  const closeAll = () =>
    Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())))).then(() => undefined);
  try {
    for (const [kind, port] of wanted) {
      if (port === null || port === undefined) continue;
      const server = build(kind);
      servers.push(server);
      ports[kind] = await listen(server, port, host);
    }
  } catch (err) {
    closing = true;
    await closeAll();
    throw err;
  }
  logger.info({ ports, host }, "smtp frontend listening");
  return {
    ports,
    port: ports.smtp ?? 0,
    throttle: deps.throttle,
    close: async () => {
      closing = true;
      await closeAll();
      logger.info({ ports }, "smtp frontend stopped");
    },
  };
}

function listen(server: MailclusterSmtpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.server.once("error", onError);
    server.listen(port, host, () => {
      server.server.off("error", onError);
      resolve((server.server.address() as AddressInfo).port);
    });
  });
}
