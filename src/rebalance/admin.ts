import pg from 'pg';
import type { ClusterLayout, GroupLayout, NodeLayout } from '../cluster/layout.ts';
import type { ClusterSecrets } from '../cluster/secrets.ts';
import { connectNode, groupLeader } from '../cluster/connect.ts';
import { ClientError } from '../shared/errors.ts';

/**
 * What shard moves and the rebalancer run with: superuser connections to each group's
 * current primary (found through Patroni), in the cluster's database. The `dpg` CLI and
 * the coordinator (for citus_move_shard_placement and its siblings) both build one.
 */
export interface AdminContext {
  layout: ClusterLayout;
  secrets: ClusterSecrets;
  database: string;
  /** maintenance_work_mem for the index builds on the target (vector.index_build_memory). */
  indexBuildMemory: string;
  /** Imbalance past which the rebalancer moves shards (distribution.shard_rebalancing.threshold). */
  threshold: number;
  log: (line: string) => void;
}


export function groupLayout(admin: AdminContext, groupId: number): GroupLayout {
  const group = admin.layout.groups.find((g) => g.id === groupId);
  if (!group) throw new ClientError('22023', `there is no group ${groupId} in this cluster (groups: ${admin.layout.groups.map((g) => g.id).join(', ')})`);
  return group;
}

/** The group's primary as Patroni names it; a group in failover is waited for, up to `waitMs`. */
export async function primaryNode(admin: AdminContext, groupId: number, waitMs = 30_000): Promise<NodeLayout> {
  const group = groupLayout(admin, groupId);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const leader = await groupLeader(group);
    if (leader) return leader;
    if (Date.now() > deadline) throw new ClientError('08006', `group ${group.name} has no primary; see 'npx dpg status'`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** A superuser connection to the group's primary, in the cluster's database. */
export async function connectPrimary(admin: AdminContext, groupId: number): Promise<pg.Client> {
  const node = await primaryNode(admin, groupId);
  const client = await connectNode(node, admin.secrets, admin.database);
  // A connection that breaks must not crash the process: the next query on it fails instead.
  client.on('error', () => {});
  return client;
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
