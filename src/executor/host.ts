import type pg from 'pg';
import type { Logger } from '../shared/log.ts';
import type { GroupPool } from '../backend/pool.ts';
import type { ReplicaRouter } from '../backend/replicas.ts';
import type { CatalogSnapshot, Durability, TableInfo } from '../topology/snapshot.ts';
import type { TypeMap } from '../topology/type-map.ts';
import type { PlanCache } from '../planner/plan-cache.ts';
import type { VectorSearchOptions } from '../physical/search-route.ts';
import type { AdminContext } from '../rebalance/admin.ts';
import type { RebalanceStrategy } from '../rebalance/rebalance-plan.ts';
import type { ResultCache } from './result-cache.ts';
import type { ClientOutput } from '../protocol/client-output.ts';
import type { PoolRegistry } from '../backend/pool-registry.ts';
import type { UserDirectory } from '../protocol/users.ts';
import type { CatalogFollower } from '../topology/catalog-follower.ts';
import type { GroupBackends } from '../topology/group-backends.ts';
import type { LeaderTracker } from '../topology/leader-tracker.ts';
import type { RebalanceJobs } from '../rebalance/jobs.ts';
import type { NodeDirectory } from '../rebalance/admin.ts';
import type { CommitLog } from './commit-log.ts';

/**
 * What the execution stage needs of the coordinator that runs it: the catalog and its
 * reloads, pools and type maps per group, the plan and result caches, 2PC commit records,
 * the limits from config and the background rebalance job. The execution stage owns this
 * interface; ExecutionRuntime (below) implements it from the parts the composition root
 * makes (and nothing here imports the Coordinator).
 */
export interface ExecutorHost {
  readonly snapshot: CatalogSnapshot;
  readonly plans: PlanCache;
  readonly pools: ReadonlyMap<number, GroupPool>;
  readonly typeMaps: ReadonlyMap<number, TypeMap>;
  /** Rows per shard id, as the collector last counted them. */
  readonly shardRows: ReadonlyMap<string, number>;
  readonly replicas: ReplicaRouter | null;
  readonly resultCache: ResultCache | null;
  readonly admin: AdminContext | null;
  readonly rebalanceDefaults: { strategy: RebalanceStrategy; maxMoves: number };
  readonly namespaceIsolation: boolean;
  readonly vectorSearch: VectorSearchOptions;
  readonly heldRowsMaxBytes: number;
  readonly insertSelectMaxBytes: number;
  readonly failoverWaitMs: number;
  readonly defaultShardCount: number;
  readonly logger: Logger;
  log(line: string): void;

  pool(groupId: number, role?: string): GroupPool;
  nodesPerGroup(groupId: number): number;
  nodePasswordOf(role: string): string | null;
  isAdmin(user: string): boolean;
  typeName(oid: number): Promise<string>;
  tableColumns(table: string): Promise<string[]>;
  tableDurability(table: TableInfo): Durability;
  durabilityOf(table: string, unlogged: boolean): Durability;

  reloadCatalog(client?: pg.Client | null): Promise<void>;
  /** Tells every coordinator the catalog changed, and reloads it here. */
  catalogChanged(): Promise<void>;
  checkReferenceEpoch(referenceEpoch: number): Promise<void>;
  cacheInvalidationFailed(failForTest?: boolean): Promise<void>;
  /** Resolves at the next change of any group's leader, or after `ms`. */
  leaderChange(ms: number): Promise<void>;

  recordCommitDecision(gid: string, referenceEpoch?: number | null): Promise<void>;
  forgetCommitDecision(gid: string): Promise<void>;

  startRebalanceJob(work: () => Promise<unknown>): number;
  waitRebalanceJob(): Promise<void>;
}

/** What a session's executor needs of the client connection it serves. */
export interface ExecutorSession {
  readonly processId: number;
  /** The role the client logged in as (its statements run as it on the nodes). */
  readonly user: string;
  readonly output: ClientOutput;
}

/** The limits and defaults from config that statements run with. */
export interface ExecutionSettings {
  vectorSearch: VectorSearchOptions;
  /** Bytes of rows held for one statement before answering (RETURNING of multi-group writes, aggregate partials). */
  heldRowsMaxBytes: number;
  /** Bytes of SELECT rows an INSERT ... SELECT may hold on the coordinator. */
  insertSelectMaxBytes: number;
  /** How long a statement waits for a group without a primary to get one again. */
  failoverWaitMs: number;
  /** Shards of a new distributed table unless create_distributed_table says otherwise. */
  defaultShardCount: number;
  /** Durability class of each table named in config (replication.tables). */
  durability: Record<string, Durability>;
  rebalanceDefaults: { strategy: RebalanceStrategy; maxMoves: number };
  /** Superuser access for shard moves and the rebalancer; absent: those functions are refused. */
  admin?: Omit<AdminContext, 'nodes'>;
}

/** The parts of the topology, backend and control plane that statements run with. */
export interface ExecutionParts {
  catalog: CatalogFollower;
  groups: GroupBackends;
  pools: PoolRegistry;
  leaders: LeaderTracker;
  commits: CommitLog;
  jobs: RebalanceJobs;
  users: UserDirectory;
  plans: PlanCache;
  nodes: NodeDirectory;
  settings: ExecutionSettings;
  logger: Logger;
}

/** ExecutorHost over its parts: each member answered by the part that owns it. */
export class ExecutionRuntime implements ExecutorHost {
  readonly plans: PlanCache;
  readonly shardRows = new Map<string, number>();
  replicas: ReplicaRouter | null = null;
  resultCache: ResultCache | null = null;
  readonly logger: Logger;
  readonly admin: AdminContext | null;

  constructor(private readonly parts: ExecutionParts) {
    this.plans = parts.plans;
    this.logger = parts.logger;
    this.admin = parts.settings.admin ? { ...parts.settings.admin, nodes: parts.nodes } : null;
  }

  get snapshot(): CatalogSnapshot {
    return this.parts.catalog.snapshot;
  }
  get pools(): ReadonlyMap<number, GroupPool> {
    return this.parts.pools.internal;
  }
  get typeMaps(): ReadonlyMap<number, TypeMap> {
    return this.parts.groups.typeMaps;
  }
  get rebalanceDefaults() {
    return this.parts.settings.rebalanceDefaults;
  }
  get namespaceIsolation(): boolean {
    return this.parts.users.namespaceIsolation;
  }
  get vectorSearch(): VectorSearchOptions {
    return this.parts.settings.vectorSearch;
  }
  get heldRowsMaxBytes(): number {
    return this.parts.settings.heldRowsMaxBytes;
  }
  get insertSelectMaxBytes(): number {
    return this.parts.settings.insertSelectMaxBytes;
  }
  get failoverWaitMs(): number {
    return this.parts.settings.failoverWaitMs;
  }
  get defaultShardCount(): number {
    return this.parts.settings.defaultShardCount;
  }

  log(line: string): void {
    this.logger.info(line);
  }
  pool(groupId: number, role?: string): GroupPool {
    return this.parts.pools.pool(groupId, role);
  }
  nodesPerGroup(groupId: number): number {
    return this.snapshot.nodes.filter((n) => n.groupId === groupId).length;
  }
  nodePasswordOf(role: string): string | null {
    return this.parts.users.nodePasswordOf(role);
  }
  isAdmin(user: string): boolean {
    return this.parts.users.isAdmin(user);
  }
  typeName(oid: number): Promise<string> {
    return this.parts.groups.typeName(oid);
  }
  tableColumns(table: string): Promise<string[]> {
    return this.parts.groups.tableColumns(table, this.snapshot.version);
  }
  /** A table's durability now: config (replication.tables) first, else what the catalog recorded when it was distributed. */
  tableDurability(table: TableInfo): Durability {
    return this.parts.settings.durability[table.name] ?? table.durability;
  }
  durabilityOf(table: string, unlogged: boolean): Durability {
    return this.parts.settings.durability[table] ?? (unlogged ? 'ephemeral' : 'critical');
  }
  reloadCatalog(client?: pg.Client | null): Promise<void> {
    return this.parts.catalog.reload(client);
  }
  catalogChanged(): Promise<void> {
    return this.parts.catalog.changed();
  }
  checkReferenceEpoch(referenceEpoch: number): Promise<void> {
    return this.parts.commits.checkReferenceEpoch(referenceEpoch);
  }
  cacheInvalidationFailed(failForTest?: boolean): Promise<void> {
    return this.parts.catalog.cacheInvalidationFailed(failForTest);
  }
  leaderChange(ms: number): Promise<void> {
    return this.parts.leaders.leaderChange(ms);
  }
  recordCommitDecision(gid: string, referenceEpoch?: number | null): Promise<void> {
    return this.parts.commits.recordCommitDecision(gid, referenceEpoch);
  }
  forgetCommitDecision(gid: string): Promise<void> {
    return this.parts.commits.forgetCommitDecision(gid);
  }
  startRebalanceJob(work: () => Promise<unknown>): number {
    return this.parts.jobs.start(work);
  }
  waitRebalanceJob(): Promise<void> {
    return this.parts.jobs.wait();
  }
}
