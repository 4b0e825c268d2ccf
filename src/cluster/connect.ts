import pg from 'pg';
import type { ClusterLayout, GroupLayout, NodeLayout } from './layout.ts';
import { connectSuperuser, type AdminContext, type AdminNode, type NodeDirectory } from '../rebalance/admin.ts';
import type { ClusterSecrets } from './secrets.ts';
import { groupMembers } from './patroni.ts';

/** An administrative connection to one node, as the PostgreSQL superuser over TCP. */
export function connectNode(node: NodeLayout, secrets: ClusterSecrets, database = 'postgres'): Promise<pg.Client> {
  return connectSuperuser(node.host, node.pgPort, secrets.superuserPassword, database);
}

/** The node Patroni currently names leader of the group, or null when the group has none. */
export async function groupLeader(group: GroupLayout): Promise<NodeLayout | null> {
  const members = await groupMembers(group);
  const leader = members?.find((m) => m.role === 'leader' && m.state === 'running');
  return leader ? (group.nodes.find((n) => n.name === leader.name) ?? null) : null;
}

export async function withClient<T>(client: pg.Client, work: (client: pg.Client) => Promise<T>): Promise<T> {
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The nodes of the cluster dpg up laid out on this machine, each group's primary as Patroni names it. */
export function layoutDirectory(layout: ClusterLayout): NodeDirectory {
  const asAdmin = (node: NodeLayout): AdminNode => ({ name: node.name, host: node.host, port: node.pgPort });
  return {
    groups: () => layout.groups.map((g) => ({ id: g.id, name: g.name, kind: g.kind, nodes: g.nodes.map(asAdmin) })),
    primary: async (groupId) => {
      const group = layout.groups.find((g) => g.id === groupId);
      const leader = group ? await groupLeader(group) : null;
      return leader ? asAdmin(leader) : null;
    },
  };
}

/** Moves and the rebalancer run from the dpg CLI (and tests, benchmarks): the local cluster's nodes, the superuser of its secrets. */
export function layoutAdminContext(layout: ClusterLayout, secrets: ClusterSecrets, settings: Omit<AdminContext, 'nodes' | 'superuserPassword'>): AdminContext {
  return { ...settings, nodes: layoutDirectory(layout), superuserPassword: secrets.superuserPassword };
}
