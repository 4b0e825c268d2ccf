import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

/** Passwords generated once per cluster and kept in the data folder (mode 0600). */
export interface ClusterSecrets {
  superuserPassword: string;
  replicationPassword: string;
  /** The seed's application role, `dpg_cluster`. */
  appUser: string;
  appPassword: string;
  /** Redis of the result cache (requirepass); added to older clusters' secrets on their next load. */
  redisPassword: string;
}

const generate = () => randomBytes(18).toString('base64url');

export function loadOrCreateSecrets(file: string): ClusterSecrets {
  const existing = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<ClusterSecrets>) : null;
  const secrets: ClusterSecrets = {
    superuserPassword: existing?.superuserPassword ?? generate(),
    replicationPassword: existing?.replicationPassword ?? generate(),
    appUser: existing?.appUser ?? 'dpg_cluster',
    appPassword: existing?.appPassword ?? generate(),
    redisPassword: existing?.redisPassword ?? generate(),
  };
  if (!existing || Object.keys(secrets).some((key) => !(key in existing))) {
    writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return secrets;
}

export function readSecrets(file: string): ClusterSecrets | null {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ClusterSecrets) : null;
}

/** The URL clients use: the application role at the coordinator's endpoint. */
export function clientUrl(secrets: ClusterSecrets, host: string, port: number, database: string): string {
  return `postgresql://${secrets.appUser}:${encodeURIComponent(secrets.appPassword)}@${host}:${port}/${database}`;
}
