import pg from 'pg';
import { ClientError } from '../shared/errors.ts';

/** A node as moves and the rebalancer reach it: its PostgreSQL address. */
export interface AdminNode {
  name: string;
  host: string;
  port: number;
}

export interface AdminGroup {
  id: number;
  name: string;
  kind: 'control' | 'worker';
  nodes: AdminNode[];
}

/**
 * Where the cluster's nodes are and which is each group's primary. The coordinator
 * answers from the catalog (dpg_catalog.nodes) and its leader tracker; the dpg CLI from
 * the cluster it started. Nothing here knows how the processes were laid out.
 */
export interface NodeDirectory {
  groups(): AdminGroup[];
  /** The group's primary now; null while it has none (a failover under way). */
  primary(groupId: number): Promise<AdminNode | null>;
}

/**
 * What shard moves and the rebalancer run with: superuser connections to each group's
 * current primary, in the cluster's database. The `dpg` CLI and the coordinator (for
 * citus_move_shard_placement and its siblings) both build one.
 */
export interface AdminContext {
  nodes: NodeDirectory;
  /** The PostgreSQL superuser's password on every node (the secrets file). */
  superuserPassword: string;
  database: string;
  /** maintenance_work_mem for the index builds on the target (vector.index_build_memory). */
  indexBuildMemory: string;
  /** Imbalance past which the rebalancer moves shards (distribution.shard_rebalancing.threshold). */
  threshold: number;
  log: (line: string) => void;
}

export function adminGroup(admin: AdminContext, groupId: number): AdminGroup {
  const groups = admin.nodes.groups();
  const group = groups.find((g) => g.id === groupId);
  if (!group) throw new ClientError('22023', `there is no group ${groupId} in this cluster (groups: ${groups.map((g) => g.id).join(', ')})`);
  return group;
}

/** The group's primary; a group in failover is waited for, up to `waitMs`. */
export async function primaryNode(admin: AdminContext, groupId: number, waitMs = 30_000): Promise<AdminNode> {
  const group = adminGroup(admin, groupId);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const leader = await admin.nodes.primary(groupId);
    if (leader) return leader;
    if (Date.now() > deadline) throw new ClientError('08006', `group ${group.name} has no primary; see 'npx dpg status'`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** An administrative connection to one node, as the PostgreSQL superuser over TCP. */
export async function connectSuperuser(host: string, port: number, password: string, database: string): Promise<pg.Client> {
  const client = new pg.Client({ host, port, user: 'postgres', password, database, connectionTimeoutMillis: 5000, application_name: 'dpg-admin' });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  return client;
}

/** A superuser connection to one node, in the cluster's database. */
export async function connectAdmin(admin: AdminContext, node: AdminNode): Promise<pg.Client> {
  const client = await connectSuperuser(node.host, node.port, admin.superuserPassword, admin.database);
  // A connection that breaks must not crash the process: the next query on it fails instead.
  client.on('error', () => {});
  return client;
}

/** A superuser connection to the group's primary, in the cluster's database. */
export async function connectPrimary(admin: AdminContext, groupId: number): Promise<pg.Client> {
  return connectAdmin(admin, await primaryNode(admin, groupId));
}

/** Runs `work` with a connection to the group's primary, closing it after. */
export async function onPrimary<T>(admin: AdminContext, groupId: number, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectPrimary(admin, groupId);
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}
