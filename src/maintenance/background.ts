import type { BackendTarget } from '../backend/backend-connection.ts';
import type { ExecutorHost } from '../executor/host.ts';
import type { HnswProfile } from '../config/config.ts';
import type { RebalanceStrategy } from '../rebalance/rebalance-plan.ts';
import { scheduledRebalance } from '../rebalance/rebalancer.ts';
import { NamespaceTierManager } from '../vector/tier-manager.ts';
import { MaintenanceScheduler } from './scheduler.ts';

export interface BackgroundOptions {
  vector: { exactSearchMaxRows: number; splitRows: number; tierCheckIntervalSeconds: number; indexBuildMemory: string; profiles: HnswProfile[] };
  maintenance?: { reindex: string; analyze: string; rebalance?: string };
  /** The scheduled rebalance's settings; absent (or no admin access): it does not run. */
  rebalance?: { strategy: RebalanceStrategy; maxMoves: number };
}

/**
 * The cluster's background work, which one coordinator per host runs: namespace tiers
 * (promotion to HNSW, splits) and scheduled maintenance (reindex, analyze, rebalance).
 * Returns what stops it.
 */
export function startBackgroundWork(runtime: ExecutorHost, controlTarget: () => Promise<BackendTarget>, options: BackgroundOptions): () => Promise<void> {
  const { exactSearchMaxRows, splitRows, indexBuildMemory, tierCheckIntervalSeconds: intervalSeconds, profiles } = options.vector;
  const tables = () => [...runtime.snapshot.tables.values()];
  const pool = (groupId: number) => runtime.pool(groupId);
  const log = (line: string) => runtime.log(line);
  const tiers = new NamespaceTierManager(
    { snapshotTables: tables, pool, controlTarget, catalogChanged: () => runtime.catalogChanged(), log },
    { exactSearchMaxRows, splitRows, indexBuildMemory, intervalSeconds, profiles },
  );
  tiers.start();
  let maintenance: MaintenanceScheduler | null = null;
  if (options.maintenance) {
    const { admin } = runtime;
    const rebalance = admin && options.rebalance ? () => scheduledRebalance(admin, options.rebalance!) : undefined;
    maintenance = new MaintenanceScheduler({ tables, pool, log, rebalance }, options.maintenance, indexBuildMemory);
    maintenance.start();
  }
  return async () => {
    maintenance?.stop();
    await tiers.stop();
  };
}
