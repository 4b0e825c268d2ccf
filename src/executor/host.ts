import type pg from 'pg';
import type { Logger } from '../shared/log.ts';
import type { GroupPool } from '../backend/pool.ts';
import type { ReplicaRouter } from '../backend/replicas.ts';
import type { CatalogSnapshot, Durability, TableInfo } from '../topology/snapshot.ts';
import type { TypeMap } from '../topology/type-map.ts';
import type { PlanCache } from '../planner/plan-cache.ts';
import type { VectorSearchOptions } from '../vector/search-route.ts';
import type { AdminContext } from '../rebalance/admin.ts';
import type { RebalanceStrategy } from '../rebalance/rebalance-plan.ts';
import type { ResultCache } from './result-cache.ts';
import type { ClientOutput } from '../server/output.ts';

/**
 * What the execution stage needs of the coordinator that runs it: the catalog and its
 * reloads, pools and type maps per group, the plan and result caches, 2PC commit records,
 * the limits from config and the background rebalance job. The execution stage owns this
 * interface; the Coordinator implements it (and nothing here imports the Coordinator).
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
  /** The next frame the client sent is a Sync (an implicit transaction may end with this statement). */
  syncIsNext(): boolean;
}
