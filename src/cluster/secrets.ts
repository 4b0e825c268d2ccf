import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createHmac, randomBytes } from 'node:crypto';

export { INTERNAL_ROLE } from '../shared/roles.ts';
import { INTERNAL_ROLE } from '../shared/roles.ts';

/** The group role of every configured client role (pg_hba.conf names it: +dpg_clients). */
export const CLIENTS_ROLE = 'dpg_clients';

/** Passwords generated once per cluster and kept in the data folder (mode 0600). */
export interface ClusterSecrets {
  superuserPassword: string;
  replicationPassword: string;
  /** The seed's application role, `dpg_cluster`: the first client role. */
  appUser: string;
  /** What clients of appUser give the coordinator (not what logs in to a node: nodePassword). */
  appPassword: string;
  /** Redis of the result cache (requirepass); added to older clusters' secrets on their next load. */
  redisPassword: string;
  /** The password of INTERNAL_ROLE on the nodes. */
  coordinatorPassword: string;
  /** Key of the node passwords of client roles (nodePassword): a client knows its coordinator password only. */
  nodeSecret: string;
  /** Patroni's REST API (restapi.authentication): its unsafe endpoints (restart, reconfigure, switchover) ask for it. */
  patroniPassword: string;
  /** etcd's users (cluster/etcd-auth.ts): root, Patroni's (read and write on /dpg/) and the coordinators' (read). */
  etcdRootPassword: string;
  etcdPatroniPassword: string;
  etcdCoordinatorPassword: string;
  /** Coordinator passwords generated for configured users that give none (users[].password: null), by name. */
  userPasswords: Record<string, string>;
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
    coordinatorPassword: existing?.coordinatorPassword ?? generate(),
    nodeSecret: existing?.nodeSecret ?? generate(),
    patroniPassword: existing?.patroniPassword ?? generate(),
    etcdRootPassword: existing?.etcdRootPassword ?? generate(),
    etcdPatroniPassword: existing?.etcdPatroniPassword ?? generate(),
    etcdCoordinatorPassword: existing?.etcdCoordinatorPassword ?? generate(),
    userPasswords: existing?.userPasswords ?? {},
  };
  if (!existing || Object.keys(secrets).some((key) => !(key in existing))) saveSecrets(file, secrets);
  return secrets;
}

function saveSecrets(file: string, secrets: ClusterSecrets): void {
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  chmodSync(file, 0o600);
}

export function readSecrets(file: string): ClusterSecrets | null {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ClusterSecrets) : null;
}

/**
 * The password a client role logs in to the nodes with: derived from the cluster's node
 * secret, so the password a client gives the coordinator does not open a node (pg_hba
 * cannot tell the coordinator from a client on one machine: both come from 127.0.0.1).
 */
export function nodePassword(secrets: ClusterSecrets, role: string): string {
  if (role === INTERNAL_ROLE) return secrets.coordinatorPassword;
  return createHmac('sha256', secrets.nodeSecret).update(`node-password\0${role}`).digest('base64url');
}

/** A configured client user, as the coordinator and bootstrap need it. */
export interface ClientUser {
  name: string;
  /** What the client gives the coordinator. */
  password: string;
  /** null: every namespace; else the only values of distribution columns this user may read or write. */
  namespaces: string[] | null;
  /** May run the rebalancer's and moves' functions (citus_rebalance_start, citus_move_shard_placement, ...). */
  admin: boolean;
}

/**
 * The configured users with their coordinator passwords: the config's, else the seed's
 * appPassword for appUser, else one generated now and kept in the secrets file.
 */
export function clientUsers(users: { name: string; password: string | null; namespaces: string[] | null; admin: boolean }[], secrets: ClusterSecrets, file?: string): ClientUser[] {
  let generated = false;
  const out = users.map((user) => {
    let password = user.password ?? (user.name === secrets.appUser ? secrets.appPassword : secrets.userPasswords[user.name]);
    if (password === undefined) {
      password = generate();
      secrets.userPasswords[user.name] = password;
      generated = true;
    }
    return { name: user.name, password, namespaces: user.namespaces, admin: user.admin };
  });
  if (generated && file) saveSecrets(file, secrets);
  return out;
}

/** The URL clients use: a client user at the coordinator's endpoint. */
export function clientUrl(user: { name: string; password: string }, host: string, port: number, database: string): string {
  return `postgresql://${encodeURIComponent(user.name)}:${encodeURIComponent(user.password)}@${host}:${port}/${database}`;
}

/**
 * The URL of one configured user (`name`), else of the first admin user (dpg's own
 * tools: demo, bench, chaos, the seed schema), else of the first user.
 */
export function userUrl(users: Parameters<typeof clientUsers>[0], secrets: ClusterSecrets, file: string | undefined, host: string, port: number, database: string, name?: string): string {
  const all = clientUsers(users, secrets, file);
  const user = name === undefined ? (all.find((u) => u.admin) ?? all[0]!) : all.find((u) => u.name === name);
  if (!user) throw new UnknownUserError(`no user ${JSON.stringify(name)} in the config (users: ${all.map((u) => u.name).join(', ')})`);
  return clientUrl(user, host, port, database);
}

export class UnknownUserError extends Error {}

/** The user of Patroni's REST API (restapi.authentication). */
export const PATRONI_REST_USER = 'dpg';

/** The Authorization header Patroni's unsafe REST endpoints (POST, PATCH, PUT, DELETE) ask for. */
export function patroniAuthorization(secrets: ClusterSecrets): { authorization: string } {
  return { authorization: `Basic ${Buffer.from(`${PATRONI_REST_USER}:${secrets.patroniPassword}`).toString('base64')}` };
}
