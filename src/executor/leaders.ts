import type { NodeInfo } from '../catalog/snapshot.ts';

/**
 * Which node of a group is its primary now, as Patroni reports it (GET /cluster on
 * any member's REST API). The catalog lists every node; Patroni decides the leader.
 */
export async function findGroupLeader(nodes: readonly NodeInfo[], timeoutMs = 1000): Promise<NodeInfo | null> {
  for (const node of nodes) {
    try {
      const response = await fetch(`http://${node.host}:${node.patroniPort}/cluster`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) continue;
      const body = (await response.json()) as { members?: { name: string; role: string; state: string }[] };
      const leader = body.members?.find((m) => m.role === 'leader' && m.state === 'running');
      if (leader) return nodes.find((n) => n.name === leader.name) ?? null;
    } catch {
      // try the next member
    }
  }
  return null;
}
