import type { PoolOptions } from '../backend/pool.ts';
import type { ReadFrom } from '../backend/replicas.ts';
import type { HnswProfile } from '../config/config.ts';
import type { ClientUser } from '../protocol/users.ts';
import type { AdminContext } from '../rebalance/admin.ts';
import type { RebalanceStrategy } from '../rebalance/rebalance-plan.ts';
import type { Logger } from '../shared/log.ts';
import type { EtcdLogin } from '../topology/etcd-gateway.ts';
import type { Durability } from '../topology/snapshot.ts';
import type { ExecutionSettings } from '../executor/host.ts';
import type { ProcessGroupMember } from './process-group.ts';

/** What a coordinator is started with (server/main.ts makes it from the cluster's config). */
export interface CoordinatorOptions {
  host: string;
  port: number;
  database: string;
  /**
   * Client users: the password they give the coordinator (kept only as a SCRAM verifier)
   * and the one their role logs in to the nodes with (nodePassword: the coordinator runs
   * each client's statements as its own role).
   */
  users: ClientUser[];
  /** Where the catalog lives: the control group's current primary (a function: it moves on failover). */
  control: { nodes: { host: string; port: number; patroniPort: number; name: string }[] };
  /** The coordinator's own role on every node (catalog, recovery, maintenance), never a client's. */
  backendUser: string;
  /** The CA of the nodes' certificates: every link to a node is TLS, verified (absent: cleartext). */
  nodeTls?: { ca: Buffer };
  backendPassword: string;
  maxClients: number;
  /** A connection not authenticated this long after it opened is closed (PostgreSQL's authentication_timeout; default 60 s). */
  authenticationTimeoutMs?: number;
  /**
   * A secret every coordinator of the cluster shares, never given to clients: SCRAM salts
   * are derived from it and the user name (scramSaltFor), so they agree across coordinators
   * for known and unknown users alike. Absent: a random one (a single coordinator).
   */
  scramSecret?: string;
  /** TLS on the client endpoint (PEM certificate and key); absent: SSLRequest is answered 'N'. `required`: cleartext clients get 28000. */
  tls?: { cert: Buffer; key: Buffer; required: boolean };
  workerPool: PoolOptions;
  /** Shards of a new distributed table unless create_distributed_table says otherwise. */
  defaultShardCount: number;
  /**
   * The metrics registry and the cluster collector, and the HTTP endpoint (/metrics,
   * /health, /ready) on `port`; port null: no endpoint of its own (a process of a group,
   * whose primary serves the host's).
   */
  metrics?: { port: number | null; namespaceLabelLimit: number; collectIntervalSeconds: number };
  /**
   * This coordinator is one process of the host's group (config coordinator.processes):
   * client slots and cancels go through the group, and only process 0 runs the cluster's
   * background work (2PC recovery, tiers, maintenance), which one coordinator per host is
   * enough for.
   */
  group?: ProcessGroupMember;
  /** Two-phase commit recovery: grace period of an undecided prepared part, and the loop's interval. */
  recovery: { graceSeconds: number; intervalSeconds: number };
  /** Namespace tiers and vector search (config: vector, hnsw.profiles). */
  vector: { exactSearchMaxRows: number; splitRows: number; tierCheckIntervalSeconds: number; candidateFactor: number; indexBuildMemory: string; profiles: HnswProfile[] };
  /** The query-result cache (config: cache); absent: no cache. */
  cache?: { url: string; ttlSeconds: number };
  /**
   * Where Patroni keeps each group's leader key (etcd endpoints, the cluster's key
   * prefix): a change of leader is followed at once. Absent: Patroni's REST API is asked.
   */
  leaderWatch?: { endpoints: string[]; prefix: string; login?: EtcdLogin };
  /** How long a statement waits for a group without a primary (a failover under way) to get one. */
  failoverWaitMs?: number;
  /** Bytes of SELECT rows an INSERT ... SELECT may hold on the coordinator (default 256 MB). */
  insertSelectMaxBytes?: number;
  /** Bytes of rows held for one statement before answering: RETURNING of multi-group writes, aggregate partials (default 256 MB). */
  heldRowsMaxBytes?: number;
  /** Scheduled maintenance (config maintenance); absent: none. */
  maintenance?: { reindex: string; analyze: string; rebalance?: string };
  /**
   * Superuser access to the groups for shard moves and the rebalancer
   * (citus_move_shard_placement, rebalance_table_shards, the scheduled rebalance); absent:
   * those functions are refused.
   */
  admin?: Omit<AdminContext, 'nodes'>;
  rebalance?: { strategy: RebalanceStrategy; maxMoves: number };
  /** Reads from standbys (config query_router); absent: every read goes to the primary. */
  replicaReads?: { readFrom: ReadFrom; maxLagMs: number };
  /** Durability class of each table named in config (replication.tables). */
  durability: Record<string, Durability>;
  /** Where the coordinator logs (structured, with levels); absent: a new one on stderr. */
  logger?: Logger;
}

/** The limits and defaults statements run with, from the options (defaults where absent). */
export function executionSettings(options: CoordinatorOptions): ExecutionSettings {
  return {
    vectorSearch: { candidateFactor: options.vector.candidateFactor, profiles: options.vector.profiles },
    heldRowsMaxBytes: options.heldRowsMaxBytes ?? 256 * 1024 * 1024,
    insertSelectMaxBytes: options.insertSelectMaxBytes ?? 256 * 1024 * 1024,
    failoverWaitMs: options.failoverWaitMs ?? 30_000,
    defaultShardCount: options.defaultShardCount,
    durability: options.durability,
    rebalanceDefaults: options.rebalance ?? { strategy: 'by_disk_size', maxMoves: 100 },
    admin: options.admin,
  };
}
