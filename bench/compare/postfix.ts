import { execFile, execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { atInterrupt } from "./interrupt.ts";
import { treeSeconds } from "./proc-cpu.ts";

const run = promisify(execFile);

export type PostfixMode = "maildir" | "discard";

/** Mailbox owner for the virtual transport: `nobody`, above virtual_minimum_uid, owns nothing else. */
const MAILBOX_UID = 65534;
const MAILBOX_GID = 65534;

/**
 * A private Postfix instance (the Debian package's binaries, a config and queue directory of
 * its own under a temp dir, smtpd on a loopback port of its own): the system's /etc/postfix and
 * port 25 are never touched. `maildir` delivers every recipient of `domain` through the virtual
 * transport to one Maildir; `discard` accepts them the same way and throws them away.
 */
export interface PostfixInstance {
  port: number;
  queueDir: string;
  /** Files in Maildir/new: messages stored. */
  stored(): number;
  /** CPU seconds of the master, its live children and every child it has reaped. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

export async function startPostfix(mode: PostfixMode, domain: string, port: number): Promise<PostfixInstance> {
  const root = mkdtempSync(join(tmpdir(), `mc-compare-postfix-${mode}-`));
  // Delivery runs as MAILBOX_UID with absolute paths: every directory above the Maildir must be traversable.
  chmodSync(root, 0o755);
  const etc = join(root, "etc");
  const mail = join(root, "mail");
  mkdirSync(etc);
  mkdirSync(join(root, "queue"));
  mkdirSync(mail);
  chownSync(mail, MAILBOX_UID, MAILBOX_GID);
  writeFileSync(join(etc, "main.cf"), mainCf(root, mode, domain));
  writeFileSync(join(etc, "master.cf"), masterCf(port));
  try {
    // `postfix check` creates the queue's subdirectories with the right owners.
    await postfix(etc, "check");
    await postfix(etc, "start");
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  const forget = atInterrupt(() => {
    execFileSync("postfix", ["-c", etc, "stop"], { stdio: "ignore" });
    rmSync(root, { recursive: true, force: true });
  });
  const master = Number(readFileSync(join(root, "queue", "pid", "master.pid"), "utf8").trim());
  const maildirNew = join(mail, "Maildir", "new");
  return {
    port,
    queueDir: join(root, "queue"),
    stored() {
      try {
        return readdirSync(maildirNew).length;
      } catch {
        return 0; // created with the first delivery
      }
    },
    cpuSeconds: () => treeSeconds(master),
    async stop() {
      await postfix(etc, "stop");
      forget();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Postfix writes its complaints to stderr only on a terminal; they are in the maillog file otherwise. */
async function postfix(etc: string, command: string): Promise<void> {
  try {
    await run("postfix", ["-c", etc, command], { timeout: 60_000 });
  } catch (err) {
    const log = (() => {
      try {
        return readFileSync(join(etc, "..", "maillog"), "utf8").split("\n").slice(-10).join("\n");
      } catch {
        return "(no maillog)";
      }
    })();
    throw new Error(`postfix -c ${etc} ${command} failed: ${(err as Error).message}\n${log}`);
  }
}

function mainCf(root: string, mode: PostfixMode, domain: string): string {
  const lines = [
    "compatibility_level = 3.6",
    `queue_directory = ${root}/queue`,
    `data_directory = ${root}/data`,
    "command_directory = /usr/sbin",
    "daemon_directory = /usr/lib/postfix/sbin",
    "meta_directory = /etc/postfix",
    "shlib_directory = /usr/lib/postfix",
    "mail_owner = postfix",
    "setgid_group = postdrop",
    "myhostname = postfix-bench.test",
    "mydestination =",
    "inet_interfaces = 127.0.0.1",
    "inet_protocols = ipv4",
    "mynetworks = 127.0.0.0/8",
    "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination",
    "alias_maps =",
    "alias_database =",
    "local_recipient_maps =",
    // No syslog daemon here: postlogd writes the log (a cost Postfix pays like mailcluster pays for its log).
    `maillog_file = ${root}/maillog`,
    `maillog_file_prefixes = ${root}`,
    `virtual_mailbox_domains = ${domain}`,
    `virtual_mailbox_base = ${root}/mail`,
    "virtual_mailbox_maps = static:Maildir/",
    `virtual_uid_maps = static:${MAILBOX_UID}`,
    `virtual_gid_maps = static:${MAILBOX_GID}`,
  ];
  if (mode === "discard") lines.push("virtual_transport = discard:benchmark");
  return `${lines.join("\n")}\n`;
}

/** Debian's master.cf without chroot (a chroot would need copies of /etc files) and smtpd on `port`. */
function masterCf(port: number): string {
  return `${[
    `127.0.0.1:${port} inet n - n - - smtpd`,
    "pickup unix n - n 60 1 pickup",
    "cleanup unix n - n - 0 cleanup",
    "qmgr unix n - n 300 1 qmgr",
    "rewrite unix - - n - - trivial-rewrite",
    "bounce unix - - n - 0 bounce",
    "defer unix - - n - 0 bounce",
    "trace unix - - n - 0 bounce",
    "verify unix - - n - 1 verify",
    "flush unix n - n 1000? 0 flush",
    "proxymap unix - - n - - proxymap",
    "proxywrite unix - - n - 1 proxymap",
    "smtp unix - - n - - smtp",
    "relay unix - - n - - smtp",
    "showq unix n - n - - showq",
    "error unix - - n - - error",
    "retry unix - - n - - error",
    "discard unix - - n - - discard",
    "local unix - n n - - local",
    "virtual unix - n n - - virtual",
    "anvil unix - - n - 1 anvil",
    "scache unix - - n - 1 scache",
    "postlog unix-dgram n - n - 1 postlogd",
  ].join("\n")}\n`;
}
