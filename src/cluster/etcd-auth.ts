import type { ClusterSecrets } from './secrets.ts';
import { b64, etcdCall, etcdToken, EtcdAuthError, prefixEnd, type EtcdLogin } from '../topology/etcd-gateway.ts';

/**
 * etcd's authentication (role-based access over its v3 JSON gateway; etcd 3.4's
 * "Role-based access control" page): a root user, Patroni's user with read and write on
 * dpg's key prefix, and the coordinators' user with read only (they follow the leader
 * keys). Once enabled, a request without a token is refused.
 */

export { etcdToken, EtcdAuthError, type EtcdLogin };

export const ETCD_PATRONI_USER = 'dpg-patroni';
export const ETCD_COORDINATOR_USER = 'dpg-coordinator';
/** Every key dpg keeps in etcd starts with it (patroniNamespace). */
export const ETCD_PREFIX = '/dpg/';

export function etcdLogins(secrets: ClusterSecrets): { root: EtcdLogin; patroni: EtcdLogin; coordinator: EtcdLogin } {
  return {
    root: { user: 'root', password: secrets.etcdRootPassword },
    patroni: { user: ETCD_PATRONI_USER, password: secrets.etcdPatroniPassword },
    coordinator: { user: ETCD_COORDINATOR_USER, password: secrets.etcdCoordinatorPassword },
  };
}

/**
 * The users, roles and permissions (idempotent), then authentication on when `enable`.
 * Returns whether authentication is on afterwards.
 */
export async function ensureEtcdAuth(endpoint: string, secrets: ClusterSecrets, enable: boolean): Promise<boolean> {
  const logins = etcdLogins(secrets);
  // With authentication on, only root may change users and roles.
  let token: string | null = null;
  try {
    token = await etcdToken(endpoint, logins.root);
  } catch (error) {
    throw new EtcdAuthError(`etcd at ${endpoint} has authentication on, and the cluster's root password does not open it: ${(error as Error).message}`);
  }
  const on = token !== null;
  const tolerate = async (path: string, body: object, already: RegExp) => {
    try {
      await etcdCall(endpoint, path, body, token);
    } catch (error) {
      if (!already.test((error as Error).message)) throw error;
    }
  };
  for (const login of Object.values(logins)) {
    await tolerate('auth/user/add', { name: login.user, password: login.password }, /already exists/);
    // A password that differs from the secrets file's is brought in line. Only then: a
    // change revokes the user's tokens (the root token of this very call among them).
    const current = on ? await etcdToken(endpoint, login).then(() => true, () => false) : false;
    if (!current && login !== logins.root) await etcdCall(endpoint, 'auth/user/changepw', { name: login.user, password: login.password }, token);
  }
  await tolerate('auth/user/grant', { user: 'root', role: 'root' }, /already/);
  const grants: [string, 'READWRITE' | 'READ'][] = [
    [ETCD_PATRONI_USER, 'READWRITE'],
    [ETCD_COORDINATOR_USER, 'READ'],
  ];
  for (const [user, permType] of grants) {
    await tolerate('auth/role/add', { name: user }, /already exists/);
    await etcdCall(endpoint, 'auth/role/grant', { name: user, perm: { permType, key: b64(ETCD_PREFIX), range_end: prefixEnd(ETCD_PREFIX) } }, token);
    await tolerate('auth/user/grant', { user, role: user }, /already/);
  }
  if (!on && enable) await etcdCall(endpoint, 'auth/enable', {});
  return on || enable;
}
