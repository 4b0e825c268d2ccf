import { ClientError } from '../shared/errors.ts';
import type { Logger } from '../shared/log.ts';
import type { CatalogSnapshot, NodeInfo } from '../topology/snapshot.ts';
import type { NodeDirectory } from './admin.ts';

/** citus_rebalance_start's background jobs on this coordinator: one at a time. */
export class RebalanceJobs {
  private running: { id: number; done: Promise<void> } | null = null;
  private count = 0;

  constructor(private readonly logger: Logger) {}

  /** Runs `work` in the background; returns its job id. */
  start(work: () => Promise<unknown>): number {
    if (this.running) throw new ClientError('55006', `rebalance job ${this.running.id} is still running on this coordinator; SELECT citus_rebalance_wait() waits for it`);
    const id = ++this.count;
    const done = work().then(
      () => this.logger.info(`rebalance job ${id} finished`),
      (error) => this.logger.warn(`rebalance job ${id} failed: ${(error as Error).message}`),
    );
    this.running = { id, done: done.finally(() => (this.running = null)) };
    return id;
  }

  async wait(): Promise<void> {
    await this.running?.done;
  }
}

/**
 * The nodes as moves and the rebalancer find them: the catalog's (dpg_catalog.nodes,
 * wherever they run), each group's primary from the leader tracker; never the local
 * process layout.
 */
export function catalogNodeDirectory(
  snapshot: () => CatalogSnapshot,
  nodesOf: (groupId: number) => NodeInfo[],
  leaderOf: (groupId: number, scope: string, nodes: NodeInfo[]) => Promise<NodeInfo>,
): NodeDirectory {
  return {
    groups: () =>
      [...snapshot().groups.values()].map((group) => ({
        id: group.id,
        name: group.name,
        kind: group.kind,
        nodes: nodesOf(group.id).map((n) => ({ name: n.name, host: n.host, port: n.port })),
      })),
    primary: async (groupId) => {
      const group = snapshot().groups.get(groupId);
      if (!group) return null;
      try {
        const leader = await leaderOf(groupId, group.name, nodesOf(groupId));
        return { name: leader.name, host: leader.host, port: leader.port };
      } catch {
        return null;
      }
    },
  };
}
