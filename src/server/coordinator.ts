import { metrics } from '../metrics/metrics.ts';
import { startCoordinatorMetrics, type CoordinatorMetricsEndpoint } from '../metrics/endpoint.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import { UserDirectory } from '../protocol/users.ts';
import { PoolRegistry } from '../backend/pool-registry.ts';
import { ReplicaRouter } from '../backend/replicas.ts';
import { LeaderTracker } from '../topology/leader-tracker.ts';
import { CatalogFollower } from '../topology/catalog-follower.ts';
import { GroupBackends } from '../topology/group-backends.ts';
import { PlanCache } from '../planner/plan-cache.ts';
import { initParser } from '../planner/sql-ast.ts';
import { ExecutionRuntime } from '../executor/host.ts';
import { CommitLog } from '../executor/commit-log.ts';
import { startRecoveryLoop } from '../executor/recovery.ts';
import { ResultCache } from '../executor/result-cache.ts';
import { startBackgroundWork } from '../maintenance/background.ts';
import { RebalanceJobs, catalogNodeDirectory } from '../rebalance/jobs.ts';
import { ClientFrontend } from './frontend.ts';
import { executionSettings, type CoordinatorOptions } from './coordinator-options.ts';

export type { CoordinatorOptions } from './coordinator-options.ts';

/**
 * The composition root (app): makes each stage's parts from the options, wires them, and
 * starts and stops them in order. It holds no state of its own beyond them.
 */
export class Coordinator {
  readonly logger: Logger;
  private readonly users: UserDirectory;
  private readonly pools: PoolRegistry;
  private readonly leaders: LeaderTracker;
  private readonly catalog: CatalogFollower;
  private readonly groups: GroupBackends;
  private readonly runtime: ExecutionRuntime;
  private readonly frontend: ClientFrontend;
  private readonly stops: (() => unknown)[] = [];
  private endpoint: CoordinatorMetricsEndpoint | null = null;
  private stopping = false;

  constructor(private readonly options: CoordinatorOptions) {
    const logger = (this.logger = options.logger ?? createLogger());
    this.users = new UserDirectory(options.users, options.scramSecret);
    const users = this.users;
    this.pools = new PoolRegistry({ internalUser: options.backendUser, internalPassword: options.backendPassword, pool: options.workerPool, nodePasswordOf: (role) => users.nodePasswordOf(role) });
    const snapshot = () => this.catalog.snapshot;
    const settings = executionSettings(options);
    this.leaders = new LeaderTracker({
      watch: options.leaderWatch,
      failoverWaitMs: settings.failoverWaitMs,
      groupIdOf: (scope) => (this.catalog.loaded ? [...snapshot().groups.values()].find((g) => g.name === scope)?.id : undefined),
      scopeOf: (groupId) => (this.catalog.loaded ? snapshot().groups.get(groupId)?.name : undefined),
      controlPool: () => this.pools.internal.get(0),
      changed: (groupId, scope, leader) => {
        for (const pool of this.pools.groupPools(groupId)) pool.retarget();
        if (leader) metrics()?.failovers.inc({ group: scope });
        // The catalog listener follows the control group's primary (NOTIFY is sent there).
        if (groupId === 0 && leader) this.catalog.reconnect();
      },
      logger,
    });
    this.groups = new GroupBackends(this.pools, this.leaders, { controlNodes: options.control.nodes, database: options.database, tls: options.nodeTls, logger });
    this.catalog = new CatalogFollower({
      target: () => this.groups.primaryTarget(0, 'control'),
      beforePublish: (next) => this.groups.adopt(next),
      cacheSuspect: () => this.runtime.resultCache?.markSuspect('another coordinator could not invalidate a write'),
      // New or dropped shards: their sizes in citus_shards and the gauges follow at once.
      afterChange: () => void this.endpoint?.collect(),
      logger,
    });
    const nodes = catalogNodeDirectory(snapshot, (groupId) => this.groups.nodesOf(groupId), (groupId, scope, groupNodes) => this.leaders.leaderOf(groupId, scope, groupNodes));
    const parts = { catalog: this.catalog, groups: this.groups, pools: this.pools, leaders: this.leaders, users, nodes, settings, logger };
    this.runtime = new ExecutionRuntime({ ...parts, commits: new CommitLog(() => this.pools.pool(0)), jobs: new RebalanceJobs(logger), plans: new PlanCache() });
    this.frontend = new ClientFrontend(this.runtime, {
      ...options,
      authenticationTimeoutMs: options.authenticationTimeoutMs ?? 60_000,
      users,
      serverParameters: () => this.catalog.serverParameters,
      sessionReleased: (processId) => {
        for (const pool of [...this.pools.all(), ...(this.runtime.replicas?.allPools() ?? [])]) pool.sessionEnded(processId);
      },
      logger,
    });
  }

  log(line: string): void {
    this.logger.info(line);
  }

  async start(): Promise<void> {
    const { options, runtime, logger } = this;
    await initParser();
    await this.leaders.start();
    await this.catalog.start();
    this.leaders.recordWatchedLeaders();
    await this.groups.refreshTypeMaps();
    await this.frontend.listen();
    this.stops.push(() => this.catalog.stop(), () => this.pools.close(), () => this.frontend.close());
    // Only process 0 of a host's group runs the cluster's background work: one per host is enough.
    const background = (options.group?.index ?? 0) === 0;
    if (background) this.stops.push(startRecoveryLoop(runtime, options.recovery, logger));
    if (options.replicaReads && options.replicaReads.readFrom !== 'primary') {
      const replicas = new ReplicaRouter(
        {
          workerGroups: () => runtime.snapshot.workerGroupIds().map((groupId) => ({ groupId, nodes: runtime.snapshot.nodes.filter((n) => n.groupId === groupId) })),
          leaderName: (groupId) => this.leaders.leaderName(groupId),
          primaryPool: (groupId) => runtime.pool(groupId),
          target: (node, role) => ({ host: node.host, port: node.port, ...this.pools.credentials(role), database: options.database, tls: options.nodeTls }),
          log: (line) => this.log(line),
        },
        options.replicaReads.readFrom,
        options.replicaReads.maxLagMs,
        options.workerPool,
      );
      runtime.replicas = replicas;
      replicas.start();
      this.stops.push(() => replicas.stop());
    }
    if (options.cache) {
      const cache = (runtime.resultCache = new ResultCache(options.cache.url, options.cache.ttlSeconds, (line) => this.log(line)));
      this.stops.push(() => cache.close());
    }
    if (background) this.stops.push(startBackgroundWork(runtime, () => this.groups.primaryTarget(0, 'control'), options));
    if (options.metrics) {
      const sources = { maxClients: options.maxClients, sessions: () => this.frontend.sessionCount(), pools: this.pools, plans: runtime.plans, groupName: (id: number) => runtime.snapshot.groups.get(id)?.name ?? String(id) };
      const endpoint = (this.endpoint = await startCoordinatorMetrics({ host: options.host, ...options.metrics }, sources, runtime, () => this.readyState(), logger));
      this.stops.push(() => endpoint.stop());
    }
    this.log(`coordinator listening on ${options.host}:${options.port}`);
    options.group?.started();
  }

  /** Refreshes the gauges read at scrape time (sessions, pools, plan cache). */
  beforeScrape(): void {
    this.endpoint?.beforeScrape();
  }

  /** /ready: the catalog is loaded and the control group reachable (a short loss, its failover, leaves the last catalog in use). */
  async readyState(): Promise<{ ready: boolean; reason?: string }> {
    if (!this.catalog.loaded) return { ready: false, reason: 'the catalog is not loaded' };
    if (this.stopping) return { ready: false, reason: 'shutting down' };
    if (!this.catalog.connectedWithin(60_000)) return { ready: false, reason: 'no connection to the control group for over a minute' };
    return { ready: true };
  }

  cancel(processId: number, secretKey: number): void {
    this.frontend.cancel(processId, secretKey);
  }

  /** Stops what start started, the last first: background work, caches, then the listener, the sessions, the pools, the catalog. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.leaders.stop();
    for (const stop of this.stops.splice(0).reverse()) await stop();
  }
}
