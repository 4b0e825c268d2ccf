import type { Server } from 'node:http';
import type { PoolRegistry } from '../backend/pool-registry.ts';
import type { GroupPool } from '../backend/pool.ts';
import type { Logger } from '../shared/log.ts';
import { collectClusterMetrics, type CollectorHost } from './collector.ts';
import { startMetricsServer } from './http.ts';
import { initMetrics } from './metrics.ts';

/** What the gauges read at scrape time come from. */
export interface ScrapeSources {
  maxClients: number;
  /** Authenticated client sessions of this process. */
  sessions(): number;
  pools: PoolRegistry;
  groupName(groupId: number): string;
  plans: { readonly hits: number; readonly misses: number };
}

export interface CoordinatorMetricsEndpoint {
  /** Refreshes the gauges read at scrape time (sessions, pools, plan cache). */
  beforeScrape(): void;
  /** Runs the cluster collector now (shard sizes and rows, replication lag). */
  collect(): Promise<void>;
  stop(): void;
}

/**
 * The coordinator's metrics: the registry, the cluster collector every interval, and the
 * HTTP endpoint (/metrics, /health, /ready) on `port` (null: none of its own, a process of
 * a group whose primary serves the host's).
 */
export async function startCoordinatorMetrics(
  options: { host: string; port: number | null; namespaceLabelLimit: number; collectIntervalSeconds: number },
  sources: ScrapeSources,
  collector: CollectorHost,
  readyState: () => Promise<{ ready: boolean; reason?: string }>,
  logger: Logger,
): Promise<CoordinatorMetricsEndpoint> {
  const m = initMetrics(options.namespaceLabelLimit);
  m.clientConnectionsMax.set(sources.maxClients);
  let planHits = 0;
  let planMisses = 0;
  const beforeScrape = () => {
    m.clientConnections.set(sources.sessions());
    for (const groupId of sources.pools.internal.keys()) {
      const group = sources.groupName(groupId);
      const pools = sources.pools.groupPools(groupId);
      const sum = (count: (pool: GroupPool) => number) => pools.reduce((total, pool) => total + count(pool), 0);
      m.poolConnections.set({ group, state: 'in_use' }, sum((p) => p.inUse));
      m.poolConnections.set({ group, state: 'idle' }, sum((p) => p.idleCount));
      m.poolConnections.set({ group, state: 'waiting' }, sum((p) => p.waiting));
    }
    m.planCacheHits.inc(sources.plans.hits - planHits);
    m.planCacheMisses.inc(sources.plans.misses - planMisses);
    planHits = sources.plans.hits;
    planMisses = sources.plans.misses;
  };
  let server: Server | null = null;
  if (options.port !== null) {
    server = await startMetricsServer(
      options.host,
      options.port,
      async () => {
        beforeScrape();
        return { text: await m.registry.metrics(), contentType: m.registry.contentType };
      },
      readyState,
    );
  }
  const collect = () => collectClusterMetrics(collector, m).catch((error) => logger.warn(`metrics collector: ${(error as Error).message}`));
  void collect();
  const timer = setInterval(collect, options.collectIntervalSeconds * 1000);
  timer.unref();
  return {
    beforeScrape,
    collect,
    stop() {
      clearInterval(timer);
      server?.close();
    },
  };
}
