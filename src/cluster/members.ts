import { eq, sql } from "drizzle-orm";
import type { Role, SubmitMode } from "../domain/types.ts";
import type { Executor } from "../db/db.ts";
import { members } from "../db/schema/index.ts";

export interface MemberInfo {
  name: string;
  roles: Role[];
  smtpEndpoint: string | null;
  httpUrl: string | null;
  submitMode: SubmitMode;
  hostname: string | null;
  pid: number | null;
  version: string | null;
}

export interface MemberRow extends MemberInfo {
  startedAt: Date;
  heartbeatAt: Date;
  alive: boolean;
}

/**
 * NOTIFY channel announcing that a member joined or left: the others re-read the members table
 * at once instead of at their next heartbeat (a backend that joins gets its share of accounts
 * from the first batch on, and one that left is no longer sent work).
 */
export const MEMBERS_CHANNEL = "mailcluster_members";

/** Tell the other members that `name` joined or left (a lost notification costs a heartbeat's delay). */
export async function announceMembers(db: Executor, name: string): Promise<void> {
  await db.execute(sql`SELECT pg_notify(${MEMBERS_CHANNEL}, ${name})`);
}

/** Register (or re-register after a restart under the same name) and stamp the first heartbeat. */
export async function registerMember(db: Executor, info: MemberInfo, now: Date): Promise<void> {
  const values = { ...info, startedAt: now, heartbeatAt: now };
  await db.insert(members).values(values).onConflictDoUpdate({ target: members.name, set: values });
}

/** Returns false when the row is gone (an operator removed it): the caller re-registers. */
export async function heartbeatMember(db: Executor, name: string, now: Date): Promise<boolean> {
  const rows = await db.update(members).set({ heartbeatAt: now }).where(eq(members.name, name)).returning({ name: members.name });
  return rows.length > 0;
}

export async function deregisterMember(db: Executor, name: string): Promise<void> {
  await db.delete(members).where(eq(members.name, name));
}

export async function setMemberSubmitMode(db: Executor, name: string, mode: SubmitMode): Promise<boolean> {
  const rows = await db.update(members).set({ submitMode: mode }).where(eq(members.name, name)).returning({ name: members.name });
  return rows.length > 0;
}

export async function listMembers(db: Executor, now: Date, timeoutSeconds: number): Promise<MemberRow[]> {
  const rows = await db.select().from(members).orderBy(members.name);
  const cutoff = now.getTime() - timeoutSeconds * 1000;
  return rows.map((r) => ({
    name: r.name,
    roles: r.roles.filter((x): x is Role => x === "frontend" || x === "backend"),
    smtpEndpoint: r.smtpEndpoint,
    httpUrl: r.httpUrl,
    submitMode: asSubmitMode(r.submitMode),
    hostname: r.hostname,
    pid: r.pid,
    version: r.version,
    startedAt: r.startedAt,
    heartbeatAt: r.heartbeatAt,
    alive: r.heartbeatAt.getTime() > cutoff,
  }));
}

export async function liveMembers(db: Executor, now: Date, timeoutSeconds: number): Promise<MemberRow[]> {
  return (await listMembers(db, now, timeoutSeconds)).filter((m) => m.alive);
}

export function asSubmitMode(value: string): SubmitMode {
  return value === "locally" || value === "remotely" ? value : "locally-for-others";
}
