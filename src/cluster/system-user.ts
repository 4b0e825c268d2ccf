import { execFileSync } from 'node:child_process';

/** The OS account PostgreSQL (and the Patroni that runs it) must run as: postgres refuses root. */
export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
}

export class MissingSystemUserError extends Error {}

export function lookupSystemUser(name = 'postgres'): SystemUser {
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  } catch {
    throw new MissingSystemUserError(
      `the system user '${name}' does not exist; run 'npx dpg setup' to install PostgreSQL, which creates it`,
    );
  }
  return { name, uid, gid };
}

/** Options for child_process so a child runs as `user` (only possible when we are root). */
export function runAs(user: SystemUser): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  return { uid: user.uid, gid: user.gid };
}
