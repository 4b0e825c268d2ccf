import { mkdirSync, writeFileSync, chownSync, existsSync, copyFileSync, chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { DpgConfig } from '../config/config.ts';
import type { ClusterLayout, GroupLayout, NodeLayout } from './layout.ts';
import { ETCD_PATRONI_USER } from './etcd-auth.ts';
import { CLIENTS_ROLE, INTERNAL_ROLE, PATRONI_REST_USER, patroniAuthorization, type ClusterSecrets } from './secrets.ts';
import type { SystemUser } from './system-user.ts';
import { postgresBinDir } from './postgres-binaries.ts';
import { startDetached, type ProcessRecord } from './processes.ts';

export const PATRONI_BINARY = '/usr/bin/patroni';

export function patroniProcessName(node: NodeLayout): string {
  return `patroni-${node.name}`;
}

/** Patroni's etcd key prefix: one per cluster, so clusters can share an etcd. */
export function patroniNamespace(clusterId: string): string {
  return `/dpg/${clusterId}/`;
}

/** The YAML Patroni reads for one node (see Patroni's "YAML Configuration Settings" page). */
export function patroniConfig(config: DpgConfig, layout: ClusterLayout, group: GroupLayout, node: NodeLayout, clusterId: string, secrets: ClusterSecrets): object {
  // With fault proxies each node reaches etcd through its own proxy port (dpg chaos cuts it there).
  const hosts = layout.faultProxy ? [`${node.host}:${node.proxyEtcdPort}`] : layout.etcd.endpoints.map((e) => e.replace(/^https?:\/\//, ''));
  return {
    scope: group.name,
    namespace: patroniNamespace(clusterId),
    name: node.name,
    // Unsafe endpoints (restart, reload, reinitialize, switchover, config changes) ask for a password.
    restapi: { listen: `${node.host}:${node.restPort}`, connect_address: `${node.host}:${node.restPort}`, authentication: { username: PATRONI_REST_USER, password: secrets.patroniPassword } },
    ctl: { authentication: { username: PATRONI_REST_USER, password: secrets.patroniPassword } },
    // use_proxies: Patroni talks to the hosts given, not to the members etcd advertises (the fault proxy's port must not be bypassed).
    // etcd with authentication on (cluster/etcd-auth.ts): Patroni's user reads and writes dpg's keys only.
    etcd3: { ...(layout.faultProxy ? { hosts, use_proxies: true } : { hosts }), username: ETCD_PATRONI_USER, password: secrets.etcdPatroniPassword },
    bootstrap: {
      dcs: {
        ttl: config.patroni.ttl,
        loop_wait: config.patroni.loop_wait,
        retry_timeout: config.patroni.retry_timeout,
        maximum_lag_on_failover: 1024 * 1024,
        // With synchronous_mode a commit on the primary waits for a standby (when one is
        // streaming), and Patroni only promotes a standby that was synchronous.
        synchronous_mode: config.replication.synchronous_mode && group.nodes.length > 1,
        // Shard moves (src/rebalance) replicate a shard through a logical slot of their own;
        // Patroni would drop a slot it does not manage the next time it reads the slot list.
        ignore_slots: LOGICAL_SLOTS_IGNORED,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: {
            ...config.postgres.parameters,
            // logical: shard moves copy a shard to another group by logical replication.
            wal_level: 'logical',
            hot_standby: 'on',
            wal_log_hints: 'on',
            // pgvector's settings (hnsw.ef_search, ...) exist from the start, so SET validates them.
            shared_preload_libraries: 'vector',
          },
        },
      },
      initdb: [{ encoding: 'UTF8' }, { locale: 'C.UTF-8' }, 'data-checksums'],
    },
    postgresql: {
      listen: `${node.host}:${node.pgPort}`,
      connect_address: `${node.host}:${node.pgPort}`,
      data_dir: node.pgDataDir,
      bin_dir: postgresBinDir(),
      pgpass: `${node.dir}/pgpass`,
      authentication: {
        superuser: { username: 'postgres', password: secrets.superuserPassword },
        replication: { username: 'replicator', password: secrets.replicationPassword },
        rewind: { username: 'postgres', password: secrets.superuserPassword },
      },
      parameters: {
        unix_socket_directories: node.dir,
        logging_collector: 'on',
        log_directory: 'log',
        log_filename: 'postgresql.log',
        log_min_messages: 'warning',
        password_encryption: 'scram-sha-256',
        // Coordinators reach nodes over TLS, verified against the cluster's node CA (certificates.ts).
        ssl: 'on',
        ssl_cert_file: `${node.dir}/server.crt`,
        ssl_key_file: `${node.dir}/server.key`,
        ssl_min_protocol_version: 'TLSv1.2',
      },
      // Per role: the superuser (Patroni, dpg's tools), the coordinator's own role, and the
      // client roles (group dpg_clients), whose node passwords only coordinators know.
      // Anything else is refused (no line matches).
      pg_hba: [
        'local all all peer',
        `host replication replicator 127.0.0.1/32 scram-sha-256`,
        `host all postgres,${INTERNAL_ROLE} 127.0.0.1/32 scram-sha-256`,
        `host all +${CLIENTS_ROLE} 127.0.0.1/32 scram-sha-256`,
      ],
    },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  };
}

/** Writes the node's folder and config, owned by the postgres user (Patroni runs as it). */
export function writePatroniConfig(file: object, node: NodeLayout, user: SystemUser, certificates: { cert: string; key: string }): void {
  mkdirSync(node.dir, { recursive: true, mode: 0o700 });
  chownSync(node.dir, user.uid, user.gid);
  // PostgreSQL reads its key only if the postgres user owns it and no one else may read it.
  for (const [from, name, mode] of [[certificates.cert, 'server.crt', 0o644], [certificates.key, 'server.key', 0o600]] as const) {
    const to = join(node.dir, name);
    copyFileSync(from, to);
    chmodSync(to, mode);
    chownSync(to, user.uid, user.gid);
  }
  writeFileSync(node.patroniConfig, toYaml(file), { mode: 0o600 });
  chownSync(node.patroniConfig, user.uid, user.gid);
  if (existsSync(node.logFile)) chownSync(node.logFile, user.uid, user.gid);
}

export function startPatroni(runDir: string, node: NodeLayout, user: SystemUser): ProcessRecord {
  return startDetached(runDir, {
    name: patroniProcessName(node),
    // Debian's patroni is a Python script for Debian's interpreter (/usr/bin/python3).
    command: PATRONI_BINARY,
    args: [node.patroniConfig],
    logFile: node.logFile,
    marker: node.patroniConfig,
    uid: user.uid,
    gid: user.gid,
    cwd: node.dir,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: node.dir, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
  });
}

/** One member as Patroni's REST API reports it (GET /cluster). */
export interface PatroniMember {
  name: string;
  role: 'leader' | 'replica' | 'sync_standby' | 'standby_leader' | string;
  state: string;
  host?: string;
  port?: number;
  timeline?: number;
  /** Bytes behind the leader, or 'unknown'. */
  lag?: number | string;
}

export async function patroniClusterView(node: NodeLayout, timeoutMs = 1000): Promise<PatroniMember[] | null> {
  try {
    const response = await fetch(`http://${node.host}:${node.restPort}/cluster`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return null;
    const body = (await response.json()) as { members?: PatroniMember[] };
    return body.members ?? null;
  } catch {
    return null;
  }
}

/** The node's own view of itself (GET /patroni): its PostgreSQL state, e.g. 'running'. */
export async function patroniNodeState(node: NodeLayout, timeoutMs = 1000): Promise<string | null> {
  try {
    const response = await fetch(`http://${node.host}:${node.restPort}/patroni`, { signal: AbortSignal.timeout(timeoutMs) });
    // Patroni answers 503 on a replica that is not yet healthy; the body still says why.
    const body = (await response.json()) as { state?: string };
    return body.state ?? null;
  } catch {
    return null;
  }
}

/** The group as seen by the first member whose REST API answers. */
export async function groupMembers(group: GroupLayout): Promise<PatroniMember[] | null> {
  for (const node of group.nodes) {
    const members = await patroniClusterView(node);
    if (members) return members;
  }
  return null;
}

/** Patroni leaves logical slots alone (shard moves own theirs): `ignore_slots` in its dynamic config. */
const LOGICAL_SLOTS_IGNORED = [{ type: 'logical' }];

/**
 * Clusters created before shard moves existed run with wal_level replica, which has no
 * logical decoding. This sets wal_level logical (and ignore_slots) in each group's
 * dynamic config and restarts the nodes Patroni then marks pending restart, standbys
 * first. PostgreSQL reads wal_level only at start. Returns the groups changed.
 */
export async function enableLogicalDecoding(groups: GroupLayout[], secrets: ClusterSecrets, log: (line: string) => void, timeoutMs = 120_000): Promise<string[]> {
  const changed: string[] = [];
  for (const group of groups) {
    const node = group.nodes[0]!;
    const base = `http://${node.host}:${node.restPort}`;
    const current = (await (await fetch(`${base}/config`, { signal: AbortSignal.timeout(5000) })).json()) as {
      postgresql?: { parameters?: Record<string, unknown> };
      ignore_slots?: unknown;
    };
    if (current.postgresql?.parameters?.wal_level === 'logical' && current.ignore_slots) continue;
    const patch = await fetch(`${base}/config`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', ...patroniAuthorization(secrets) },
      body: JSON.stringify({ postgresql: { parameters: { wal_level: 'logical' } }, ignore_slots: LOGICAL_SLOTS_IGNORED }),
      signal: AbortSignal.timeout(5000),
    });
    if (!patch.ok) throw new Error(`group ${group.name}: Patroni refused the config change (${patch.status} ${await patch.text()})`);
    log(`group ${group.name}: wal_level logical (for shard moves); restarting its PostgreSQL`);
    const members = (await groupMembers(group)) ?? [];
    const ordered = [...group.nodes].sort((a, b) => Number(members.find((m) => m.name === a.name)?.role === 'leader') - Number(members.find((m) => m.name === b.name)?.role === 'leader'));
    for (const member of ordered) {
      const url = `http://${member.host}:${member.restPort}`;
      const deadline = Date.now() + timeoutMs;
      // Patroni applies a dynamic config change on its next cycle (loop_wait).
      for (;;) {
        const state = (await (await fetch(`${url}/patroni`, { signal: AbortSignal.timeout(5000) })).json()) as { pending_restart?: boolean };
        if (state.pending_restart) break;
        if (Date.now() > deadline) throw new Error(`${member.name}: Patroni did not take the new wal_level within ${timeoutMs / 1000} s`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const restart = await fetch(`${url}/restart`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...patroniAuthorization(secrets) },
        body: JSON.stringify({ restart_pending: true }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!restart.ok) throw new Error(`${member.name}: restart failed (${restart.status} ${await restart.text()})`);
    }
    changed.push(group.name);
  }
  return changed;
}

/** Whether the node's config file already says what `file` does. */
export function patroniConfigCurrent(node: NodeLayout, file: object): boolean {
  try {
    return readFileSync(node.patroniConfig, 'utf8') === toYaml(file);
  } catch {
    return false;
  }
}

/** Patroni re-reads its config file (and PostgreSQL its reloadable settings); false when it did not answer. */
export async function reloadPatroni(node: NodeLayout, secrets: ClusterSecrets): Promise<boolean> {
  try {
    const response = await fetch(`http://${node.host}:${node.restPort}/reload`, { method: 'POST', headers: patroniAuthorization(secrets), signal: AbortSignal.timeout(5000) });
    return response.ok;
  } catch {
    return false;
  }
}
