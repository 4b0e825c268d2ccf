import { createServer, type Server, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { initMetrics, metrics } from '../metrics/metrics.ts';
import { startMetricsServer } from '../metrics/http.ts';
import { PROCESS_SLOTS, type ProcessGroupMember } from './process-group.ts';
import { createLogger, type Logger } from '../shared/log.ts';
import { collectClusterMetrics } from '../metrics/collector.ts';
import pg from 'pg';
import { ClientSession, type SessionHost } from './client-session.ts';
import { makeScramVerifier, mockScramVerifier, scramSaltFor, type ScramVerifier } from '../protocol/scram.ts';
import { randomBytes } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { readCatalogSnapshot, CATALOG_CHANNEL } from '../topology/catalog-reader.ts';

/** The coordinators' channel for "a write could not invalidate the result cache" (see cacheInvalidationFailed). */
const CACHE_SUSPECT_CHANNEL = 'dpg_cache_suspect';
import type { CatalogSnapshot, Durability, NodeInfo, TableInfo } from '../topology/snapshot.ts';
import { GroupPool, type PoolOptions } from '../backend/pool.ts';
import { findGroupLeader, LeaderWatcher } from '../topology/leaders.ts';
import type { EtcdLogin } from '../topology/etcd-gateway.ts';
import { ConnectFailedError, pgSslOption, type BackendTarget } from '../backend/backend-connection.ts';
import { TypeMap } from '../topology/type-map.ts';
import { PlanCache } from '../planner/plan-cache.ts';
import { initParser } from '../planner/sql-ast.ts';
import { recoverPreparedTransactions } from '../executor/recovery.ts';
import type { HnswProfile } from '../config/config.ts';
import type { VectorSearchOptions } from '../vector/search-route.ts';
import { NamespaceTierManager } from '../vector/tier-manager.ts';
import { ResultCache } from '../executor/result-cache.ts';
import { ReplicaRouter, type ReadFrom } from '../backend/replicas.ts';
import { ClientError, SqlState } from '../shared/errors.ts';
import { AbortedByRecoveryError, PlacementsChangedError } from '../backend/failover.ts';
import { MaintenanceScheduler } from '../maintenance/scheduler.ts';
import type { AdminContext, NodeDirectory } from '../rebalance/admin.ts';
import type { RebalanceStrategy } from '../rebalance/rebalance-plan.ts';
import { scheduledRebalance } from '../rebalance/rebalancer.ts';

export interface CoordinatorOptions {
  host: string;
  port: number;
  database: string;
  /**
   * Client users: the password they give the coordinator (kept only as a SCRAM verifier)
   * and the one their role logs in to the nodes with (nodePassword: the coordinator runs
   * each client's statements as its own role).
   */
  users: { name: string; password: string; nodePassword: string; admin?: boolean; namespaces?: string[] | null }[];
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
  log?: (line: string) => void;
  /** Where the coordinator logs (structured, with levels); absent: a new one on stderr. */
  logger?: Logger;
}

/** The PostgreSQL endpoint: accepts clients, keeps the catalog, the pools and the plan cache. */
export class Coordinator implements SessionHost {
  readonly database: string;
  readonly maxClients: number;
  /**
   * Connections still in startup or authentication, oldest first. They do not take the
   * client slots (maxClients); past this many the oldest is closed, so idle sockets cannot
   * lock real clients out, and what they hold is bounded (at most one startup packet or
   * SASL message each, see ClientSession).
   */
  readonly maxUnauthenticated: number;
  readonly authenticationTimeoutMs: number;
  /** What SSLRequest upgrades a client connection with; null: no TLS ('N'). */
  readonly tlsContext: SecureContext | null;
  readonly tlsRequired: boolean;
  private readonly scramSecret: string;
  private readonly unauthenticated = new Set<ClientSession>();
  private authenticatedCount = 0;
  readonly plans = new PlanCache();
  /** The coordinator's own connections to each group (options.backendUser). */
  readonly pools = new Map<number, GroupPool>();
  /** Connections as client roles: role -> group -> pool (made at a role's first statement on a group). */
  private readonly clientPools = new Map<string, Map<number, GroupPool>>();
  private readonly targets = new Map<number, () => Promise<BackendTarget>>();
  private readonly clientUsers = new Map<string, CoordinatorOptions['users'][number]>();
  readonly typeMaps = new Map<number, TypeMap>();
  snapshot!: CatalogSnapshot;
  /** Rows per shard id, as the collector last counted them (HNSW profiles of shared indexes go by them). */
  readonly shardRows = new Map<string, number>();
  /** Reads from standbys; null when every read goes to the primary. */
  replicas: ReplicaRouter | null = null;
  /** Null unless config enables the result cache. */
  resultCache: ResultCache | null = null;
  /** Parameters reported to clients at startup, taken from the control group's primary. */
  serverParameters = new Map<string, string>();
  private readonly verifiers = new Map<string, string>();
  private readonly sessions = new Map<number, ClientSession>();
  /** The next BackendKeyData process id is slot + PROCESS_SLOTS x this (see process-group.ts). */
  private nextProcessKey = 1;
  private server: Server | null = null;
  private catalogListener: pg.Client | null = null;
  private catalogVersion = 0;
  /** Info lines of the coordinator (catalog, leaders, jobs). */
  readonly log: (line: string) => void;
  readonly logger: Logger;

  constructor(private readonly options: CoordinatorOptions) {
    this.database = options.database;
    this.maxClients = options.maxClients;
    this.maxUnauthenticated = Math.max(100, options.maxClients);
    this.authenticationTimeoutMs = options.authenticationTimeoutMs ?? 60_000;
    this.scramSecret = options.scramSecret ?? randomBytes(32).toString('base64');
    this.tlsContext = options.tls ? createSecureContext({ cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' }) : null;
    this.tlsRequired = options.tls?.required ?? false;
    this.logger = options.logger ?? createLogger();
    this.log = options.log ?? ((line) => this.logger.info(line));
    for (const user of options.users) {
      this.verifiers.set(user.name, makeScramVerifier(user.password, { salt: scramSaltFor(user.name, this.scramSecret) }));
      this.clientUsers.set(user.name, user);
    }
  }

  /** Some configured user has a namespaces: allow-list: new shards get dpg's row-level security policy. */
  get namespaceIsolation(): boolean {
    return [...this.clientUsers.values()].some((u) => u.namespaces != null);
  }

  /** May `user` run the rebalancer's and moves' functions (config users[].admin)? */
  isAdmin(user: string): boolean {
    return this.clientUsers.get(user)?.admin === true;
  }

  /** The node password of a client role; null for a role the config does not name. */
  nodePasswordOf(role: string): string | null {
    return this.clientUsers.get(role)?.nodePassword ?? null;
  }

  get vectorSearch(): VectorSearchOptions {
    return { candidateFactor: this.options.vector.candidateFactor, profiles: this.options.vector.profiles };
  }

  /** Bytes of SELECT rows an INSERT ... SELECT may hold here before it is refused. */
  get heldRowsMaxBytes(): number {
    return this.options.heldRowsMaxBytes ?? 256 * 1024 * 1024;
  }

  get insertSelectMaxBytes(): number {
    return this.options.insertSelectMaxBytes ?? 256 * 1024 * 1024;
  }

  /** How long a statement waits for a group without a primary to get one again. */
  get failoverWaitMs(): number {
    return this.options.failoverWaitMs ?? 30_000;
  }

  get defaultShardCount(): number {
    return this.options.defaultShardCount;
  }

  durabilityOf(table: string, unlogged: boolean): Durability {
    return this.options.durability[table] ?? (unlogged ? 'ephemeral' : 'critical');
  }

  /** A table's durability now: config (replication.tables) first, else what the catalog recorded when it was distributed. */
  tableDurability(table: TableInfo): Durability {
    return this.options.durability[table.name] ?? table.durability;
  }

  nodesPerGroup(groupId: number): number {
    return this.snapshot.nodes.filter((n) => n.groupId === groupId).length;
  }

  verifierFor(user: string): string | null {
    return this.verifiers.get(user) ?? null;
  }

  /** What an unknown user is authenticated against: the salt a real user of that name would get, keys no one can prove. */
  mockVerifierFor(user: string): ScramVerifier {
    return mockScramVerifier(user, this.scramSecret);
  }

  async start(): Promise<void> {
    await initParser();
    if (this.options.leaderWatch) {
      const { endpoints, prefix, login } = this.options.leaderWatch;
      this.leaderWatcher = new LeaderWatcher(endpoints, prefix, (scope, leader) => this.leaderChanged(scope, leader), (line) => this.log(line), login);
      this.leaderWatcher.start();
      // The first targets come from etcd when it answers quickly; Patroni's REST API otherwise.
      for (let i = 0; i < 20 && !this.leaderWatcher.connected; i++) await new Promise((r) => setTimeout(r, 50));
    }
    await this.connectCatalog();
    if (this.leaderWatcher?.connected) for (const [scope, leader] of this.leaderWatcher.leaders) if (leader) void this.recordLeader(scope, leader);
    await this.refreshTypeMaps();
    this.server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.options.port, this.options.host, () => resolve());
    });
    const background = (this.options.group?.index ?? 0) === 0;
    if (background) this.startRecoveryLoop();
    if (this.options.replicaReads && this.options.replicaReads.readFrom !== 'primary') {
      this.replicas = new ReplicaRouter(
        {
          workerGroups: () => this.snapshot.workerGroupIds().map((groupId) => ({ groupId, nodes: this.snapshot.nodes.filter((n) => n.groupId === groupId) })),
          leaderName: (groupId) => this.leaderName(groupId),
          primaryPool: (groupId) => this.pool(groupId),
          target: (node, role) => ({ host: node.host, port: node.port, ...this.credentials(role), database: this.database, tls: this.options.nodeTls }),
          log: (line) => this.log(line),
        },
        this.options.replicaReads.readFrom,
        this.options.replicaReads.maxLagMs,
        this.options.workerPool,
      );
      this.replicas.start();
    }
    if (this.options.cache) this.resultCache = new ResultCache(this.options.cache.url, this.options.cache.ttlSeconds, (line) => this.log(line));
    this.tierManager = new NamespaceTierManager(
      {
        snapshotTables: () => [...this.snapshot.tables.values()],
        pool: (groupId) => this.pool(groupId),
        controlTarget: () => this.controlTarget(),
        catalogChanged: () => this.catalogChanged(),
        log: (line) => this.log(line),
      },
      {
        exactSearchMaxRows: this.options.vector.exactSearchMaxRows,
        splitRows: this.options.vector.splitRows,
        indexBuildMemory: this.options.vector.indexBuildMemory,
        intervalSeconds: this.options.vector.tierCheckIntervalSeconds,
        profiles: this.options.vector.profiles,
      },
    );
    if (background) this.tierManager.start();
    if (this.options.maintenance && background) {
      this.maintenance = new MaintenanceScheduler(
        {
          tables: () => [...this.snapshot.tables.values()],
          pool: (groupId) => this.pool(groupId),
          log: (line) => this.log(line),
          rebalance: this.options.admin && this.options.rebalance ? () => scheduledRebalance(this.admin!, this.options.rebalance!) : undefined,
        },
        this.options.maintenance,
        this.options.vector.indexBuildMemory,
      );
      this.maintenance.start();
    }
    if (this.options.metrics) await this.startMetrics(this.options.metrics);
    this.log(`coordinator listening on ${this.options.host}:${this.options.port}`);
    this.options.group?.started();
  }

  private async controlTarget(): Promise<BackendTarget> {
    const nodes = this.options.control.nodes.map((n) => ({ ...n, groupId: 0 }));
    const leader = await this.leaderOf(0, 'control', nodes);
    return { host: leader.host, port: leader.port, user: this.options.backendUser, password: this.options.backendPassword, database: this.database, primaryOnly: true, tls: this.options.nodeTls };
  }

  private leaderWatcher: LeaderWatcher | null = null;
  /** Statements waiting for a group to get a primary again, woken by any leader change. */
  private leaderWaiters: (() => void)[] = [];
  /** The leader each group had when last known (from etcd or Patroni's REST API). */
  private readonly knownLeaders = new Map<number, NodeInfo>();

  /**
   * The primary of a group: etcd's leader key when the watch is up (waiting, during a
   * failover, until a leader is elected, at most failoverWaitMs); otherwise Patroni's
   * REST API, then the leader it named last (a busy Patroni answering slowly is not a
   * failover; a node that stopped being primary refuses the connection anyway).
   */
  private async leaderOf(groupId: number, scope: string, nodes: NodeInfo[]): Promise<NodeInfo> {
    const deadline = Date.now() + (this.failoverWaitMs);
    const watcher = this.leaderWatcher;
    while (watcher?.connected && watcher.leaders.has(scope)) {
      const name = watcher.leaders.get(scope);
      const node = name ? nodes.find((n) => n.name === name) : undefined;
      if (node) {
        this.knownLeaders.set(groupId, node);
        return node;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new ConnectFailedError(`group ${scope} has had no primary for ${this.failoverWaitMs} ms (failover under way)`);
      await this.leaderChange(left);
    }
    const found = (await findGroupLeader(nodes)) ?? this.knownLeaders.get(groupId) ?? (groupId === 0 ? nodes[0]! : null);
    if (!found) throw new ConnectFailedError(`group ${scope} has no primary right now`);
    this.knownLeaders.set(groupId, found);
    return found;
  }

  /** The name of a group's primary as last known (etcd's leader key when the watch is up); null during a failover. */
  leaderName(groupId: number): string | null {
    const scope = this.snapshot?.groups.get(groupId)?.name;
    if (this.leaderWatcher?.connected && scope && this.leaderWatcher.leaders.has(scope)) return this.leaderWatcher.leaders.get(scope) ?? null;
    return this.knownLeaders.get(groupId)?.name ?? null;
  }

  /** Writes a group's roles into the catalog (pg_dist_node.noderole, dpg status of other tools). */
  private async recordLeader(scope: string, leader: string): Promise<void> {
    const pool = this.pools.get(0);
    if (!pool) return;
    const name = `'${leader.replace(/'/g, "''")}'`;
    const group = `'${scope.replace(/'/g, "''")}'`;
    try {
      await pool.run((query) =>
        query(
          `UPDATE dpg_catalog.nodes n SET role = CASE WHEN n.name = ${name} THEN 'leader' ELSE 'replica' END, updated_at = now()
           FROM dpg_catalog.groups g WHERE g.group_id = n.group_id AND g.name = ${group} AND n.role IS DISTINCT FROM (CASE WHEN n.name = ${name} THEN 'leader' ELSE 'replica' END)`,
        ),
      );
    } catch (error) {
      this.logger.warn(`recording the primary of group ${scope} in the catalog failed: ${(error as Error).message}`);
    }
  }

  /** Resolves at the next change of any group's leader, or after `ms`. */
  leaderChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.leaderWaiters.push(done);
    });
  }

  private leaderChanged(scope: string, leader: string | null): void {
    const group = this.snapshot ? [...this.snapshot.groups.values()].find((g) => g.name === scope) : undefined;
    const groupId = group?.id ?? (scope === 'control' ? 0 : undefined);
    const previous = groupId === undefined ? undefined : this.knownLeaders.get(groupId)?.name;
    if (groupId !== undefined && previous !== undefined && previous !== leader) {
      this.log(`group ${scope}: ${leader ? `primary is now ${leader}` : 'has no primary (failover under way)'}, was ${previous}`);
      for (const pool of this.groupPools(groupId)) pool.retarget();
      if (leader) metrics()?.failovers.inc({ group: scope });
      if (leader) void this.recordLeader(scope, leader);
      // The catalog listener follows the control group's primary (NOTIFY is sent there).
      if (groupId === 0 && leader) this.reconnectCatalog();
    }
    for (const wake of this.leaderWaiters.splice(0)) wake();
  }

  /** The catalog snapshot, kept current through LISTEN on the control group. */
  private async connectCatalog(): Promise<void> {
    const target = await this.controlTarget();
    const client = new pg.Client({ host: target.host, port: target.port, user: target.user, password: target.password, database: target.database, application_name: 'dpg-coordinator-catalog', ...pgSslOption(target) });
    const lost = (why: string) => {
      if (this.catalogListener !== client) return;
      this.logger.warn(`catalog connection lost: ${why}; reconnecting`);
      this.catalogListener = null;
      this.catalogLostAt = Date.now();
      this.scheduleCatalogReconnect(200);
    };
    client.on('error', (error) => lost(error.message));
    client.on('end', () => lost('closed by the server'));
    try {
      await client.connect();
      client.on('notification', (message) => {
        if (message.channel === CACHE_SUSPECT_CHANNEL) this.resultCache?.markSuspect('another coordinator could not invalidate a write');
        else void this.reloadCatalog(client);
      });
      await client.query(`LISTEN ${CATALOG_CHANNEL}; LISTEN ${CACHE_SUSPECT_CHANNEL}`);
      const settings = await client.query<{ name: string; setting: string }>(
        `SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'server_encoding', 'DateStyle', 'IntervalStyle', 'integer_datetimes', 'TimeZone', 'standard_conforming_strings')`,
      );
      this.serverParameters = new Map(settings.rows.map((r) => [r.name, r.setting]));
      this.catalogListener = client;
      // NOTIFYs sent while no listener was connected are covered by reading the catalog now.
      await this.reloadCatalog(client);
    } catch (error) {
      if (this.catalogListener === client) this.catalogListener = null;
      await client.end().catch(() => {});
      throw error;
    }
  }

  private catalogReconnecting = false;
  /** When the catalog listener was last lost (0: never). */
  private catalogLostAt = 0;
  private stopping = false;

  /** Connects the catalog listener again, retrying every second until it works (or the coordinator stops). */
  private scheduleCatalogReconnect(delayMs: number): void {
    if (this.catalogReconnecting || this.stopping) return;
    this.catalogReconnecting = true;
    setTimeout(() => {
      this.connectCatalog().then(
        () => {
          this.catalogReconnecting = false;
        },
        (error) => {
          this.logger.warn(`catalog reconnect failed: ${(error as Error).message}; trying again`);
          this.catalogReconnecting = false;
          this.scheduleCatalogReconnect(1000);
        },
      );
    }, delayMs).unref();
  }

  /** The control group has a new primary: LISTEN there (the old one, if alive, is no longer told of changes). */
  private reconnectCatalog(): void {
    const old = this.catalogListener;
    this.catalogListener = null;
    this.catalogLostAt = Date.now();
    void old?.end().catch(() => {});
    this.scheduleCatalogReconnect(0);
  }

  private reloading: Promise<void> | null = null;

  /**
   * After this coordinator changed the catalog: reload its own snapshot and tell the
   * others (NOTIFY on the control group). The NOTIFY is sent on its own, after the
   * change committed: PostgreSQL cannot PREPARE a transaction that ran NOTIFY.
   */
  /**
   * A write's result-cache invalidation did not reach Redis: every coordinator is told,
   * through the control group (NOTIFY on dpg's own channel), to bypass its cache until
   * the epoch is bumped. Throws when that fails too: the write must not be acknowledged
   * as if every coordinator would see it.
   */
  async cacheInvalidationFailed(failForTest = false): Promise<void> {
    const listener = this.catalogListener;
    try {
      if (failForTest) throw new Error('fault injection');
      if (!listener) throw new Error('no connection to the control group');
      await listener.query(`NOTIFY ${CACHE_SUSPECT_CHANNEL}`);
    } catch (error) {
      throw new ClientError(
        '58000',
        `the write was committed, but the result cache could not be invalidated (Redis: unreachable; control group: ${(error as Error).message}): other coordinators may answer reads of it from before the write for up to cache.ttl_seconds`,
      );
    }
  }

  async catalogChanged(): Promise<void> {
    await this.catalogListener?.query(`NOTIFY ${CATALOG_CHANNEL}`).catch((error) => this.logger.warn(`catalog NOTIFY failed: ${(error as Error).message}`));
    await this.reloadCatalog();
    // New or dropped shards: their sizes in citus_shards and the gauges follow at once.
    void this.collect?.();
  }
  private collect: (() => Promise<void>) | null = null;

  async reloadCatalog(client: pg.Client | null = this.catalogListener): Promise<void> {
    if (!client) return;
    if (this.reloading) {
      // A reload already running may have read the catalog before the change we were told of.
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        const snapshot = await readCatalogSnapshot(client, ++this.catalogVersion);
        // A group added since (dpg add-group) gets its pool and type map before any statement can be routed to it.
        this.latestNodes = snapshot.nodes;
        await this.ensurePools(snapshot);
        this.snapshot = snapshot;
      } while (this.reloadAgain);
    })().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }
  private reloadAgain = false;

  /** The nodes of the catalog as last read (a reload in progress may not have published its snapshot yet). */
  private latestNodes: readonly NodeInfo[] = [];

  private async ensurePools(snapshot: CatalogSnapshot): Promise<void> {
    for (const group of snapshot.groups.values()) {
      if (this.pools.has(group.id)) continue;
      const target = group.id === 0 ? () => this.controlTarget() : () => this.workerTarget(group.id, group.name);
      this.targets.set(group.id, target);
      this.pools.set(group.id, new GroupPool(group.id, target, this.options.workerPool));
      // At start the type maps are read all at once (refreshTypeMaps); a group added later is read here.
      if (this.controlTypes && group.id !== 0) {
        try {
          this.typeMaps.set(group.id, new TypeMap(await TypeMap.readTypes(this.pool(group.id)), this.controlTypes));
        } catch (error) {
          this.logger.warn(`group ${group.name}: reading its types failed (${(error as Error).message})`);
        }
      }
    }
  }

  private async workerTarget(groupId: number, scope: string): Promise<BackendTarget> {
    const nodes = this.latestNodes.filter((n) => n.groupId === groupId);
    const leader = await this.leaderOf(groupId, scope, nodes);
    return { host: leader.host, port: leader.port, user: this.options.backendUser, password: this.options.backendPassword, database: this.database, primaryOnly: true, tls: this.options.nodeTls };
  }

  /** Extension types (pgvector's vector) have different OIDs on each node; map them to the control group's. */
  private controlTypes: Awaited<ReturnType<typeof TypeMap.readTypes>> | null = null;

  async refreshTypeMaps(): Promise<void> {
    const control = await TypeMap.readTypes(this.pool(0));
    this.controlTypes = control;
    for (const groupId of this.pools.keys()) {
      const types = groupId === 0 ? control : await TypeMap.readTypes(this.pool(groupId));
      this.typeMaps.set(groupId, new TypeMap(types, control));
    }
  }

  /** The commit point of a distributed transaction (see SessionTransaction.twoPhaseCommit). */
  /**
   * Writes a two-phase commit's decision. With `referenceEpoch` (the transaction wrote a
   * reference table) only while that is still the catalog's epoch: else nothing is
   * written and PlacementsChangedError says why (the caller rolls the parts back).
   */
  async recordCommitDecision(gid: string, referenceEpoch: number | null = null): Promise<void> {
    const sql =
      referenceEpoch === null
        ? `INSERT INTO dpg_catalog.commit_records (gid) VALUES ('${gid}') ON CONFLICT (gid) DO NOTHING RETURNING gid`
        : `INSERT INTO dpg_catalog.commit_records (gid) SELECT '${gid}' WHERE (SELECT epoch FROM dpg_catalog.reference_epoch) = ${referenceEpoch} ON CONFLICT (gid) DO NOTHING RETURNING gid`;
    await this.pool(0).run(async (query) => {
      if ((await query(sql)).length > 0) return;
      // Not written: a recovery loop decided first (the commit waited longer than the grace
      // period for the control group), or the reference epoch changed.
      const decided = await query(`SELECT committed FROM dpg_catalog.commit_records WHERE gid = '${gid}'`);
      if (decided[0]?.[0] === 't') return;
      if (decided[0]?.[0] === 'f') throw new AbortedByRecoveryError();
      throw new PlacementsChangedError();
    });
  }

  /** A one-group commit that wrote a reference table: the epoch it was routed with must still hold. */
  async checkReferenceEpoch(referenceEpoch: number): Promise<void> {
    const rows = await this.pool(0).run((query) => query('SELECT epoch FROM dpg_catalog.reference_epoch'));
    if (Number(rows[0]?.[0] ?? 1) !== referenceEpoch) throw new PlacementsChangedError();
  }

  async forgetCommitDecision(gid: string): Promise<void> {
    const pool = this.pool(0);
    const connection = await pool.acquire().catch(() => null);
    if (!connection) return;
    try {
      await connection.simpleQuery(`DELETE FROM dpg_catalog.commit_records WHERE gid = '${gid}'`);
    } catch {
      // the recovery loop deletes it later
    } finally {
      pool.release(connection);
    }
  }

  private metricsServer: HttpServer | null = null;
  private collectorTimer: NodeJS.Timeout | null = null;

  /** Refreshes the gauges read at scrape time (sessions, pools, plan cache). */
  beforeScrape: () => void = () => {};

  /** /ready: the catalog is loaded and the control group reachable. */
  async readyState(): Promise<{ ready: boolean; reason?: string }> {
    if (!this.snapshot) return { ready: false, reason: 'the catalog is not loaded' };
    if (this.stopping) return { ready: false, reason: 'shutting down' };
    // A short loss of the control group (its failover) leaves the last catalog in use: still ready.
    if (!this.catalogListener && Date.now() - this.catalogLostAt > 60_000) return { ready: false, reason: 'no connection to the control group for over a minute' };
    return { ready: true };
  }

  private async startMetrics(options: { port: number | null; namespaceLabelLimit: number; collectIntervalSeconds: number }): Promise<void> {
    const m = initMetrics(options.namespaceLabelLimit);
    m.clientConnectionsMax.set(this.maxClients);
    let planHits = 0;
    let planMisses = 0;
    this.beforeScrape = () => {
      m.clientConnections.set(this.authenticatedCount);
      for (const groupId of this.pools.keys()) {
        const group = this.snapshot.groups.get(groupId)?.name ?? String(groupId);
        const pools = this.groupPools(groupId);
        const sum = (count: (pool: GroupPool) => number) => pools.reduce((total, pool) => total + count(pool), 0);
        m.poolConnections.set({ group, state: 'in_use' }, sum((p) => p.inUse));
        m.poolConnections.set({ group, state: 'idle' }, sum((p) => p.idleCount));
        m.poolConnections.set({ group, state: 'waiting' }, sum((p) => p.waiting));
      }
      m.planCacheHits.inc(this.plans.hits - planHits);
      m.planCacheMisses.inc(this.plans.misses - planMisses);
      planHits = this.plans.hits;
      planMisses = this.plans.misses;
    };
    if (options.port !== null) {
      this.metricsServer = await startMetricsServer(
        this.options.host,
        options.port,
        async () => {
          this.beforeScrape();
          return { text: await m.registry.metrics(), contentType: m.registry.contentType };
        },
        () => this.readyState(),
      );
    }
    const collect = () =>
      collectClusterMetrics(this, m).catch((error) => this.logger.warn(`metrics collector: ${(error as Error).message}`));
    this.collect = collect;
    void collect();
    this.collectorTimer = setInterval(collect, options.collectIntervalSeconds * 1000);
    this.collectorTimer.unref();
  }

  private startRecoveryLoop(): void {
    const run = () =>
      recoverPreparedTransactions(this, this.options.recovery.graceSeconds)
        .then(({ committed, rolledBack }) => {
          metrics()?.twoPhaseCommits.inc({ outcome: 'recovered_commit' }, committed);
          metrics()?.twoPhaseCommits.inc({ outcome: 'recovered_rollback' }, rolledBack);
          if (committed + rolledBack > 0) this.log(`2PC recovery: committed ${committed}, rolled back ${rolledBack} prepared transactions`);
        })
        .catch((error) => this.logger.warn(`2PC recovery failed: ${(error as Error).message}`));
    void run();
    this.recoveryTimer = setInterval(run, this.options.recovery.intervalSeconds * 1000);
    this.recoveryTimer.unref();
  }
  private recoveryTimer: NodeJS.Timeout | null = null;

  private readonly typeNames = new Map<number, string>();
  private readonly columnCache = new Map<string, { version: number; columns: string[] }>();

  /** A table's columns in order, from its shell on the control group. */
  async tableColumns(table: string): Promise<string[]> {
    const cached = this.columnCache.get(table);
    if (cached && cached.version === this.snapshot.version) return cached.columns;
    const rows = await this.pool(0).run((query) =>
      query(`SELECT attname FROM pg_attribute WHERE attrelid = to_regclass('public.${table.replace(/'/g, "''")}') AND attnum > 0 AND NOT attisdropped ORDER BY attnum`),
    );
    const columns = rows.map((r) => r[0]!);
    this.columnCache.set(table, { version: this.snapshot.version, columns });
    return columns;
  }

  /** The SQL name of a type (client OIDs), for casts in queries the coordinator writes. */
  async typeName(oid: number): Promise<string> {
    const known = this.typeNames.get(oid);
    if (known) return known;
    const rows = await this.pool(0).run((query) => query(`SELECT format_type(${Number(oid)}, NULL)`));
    const name = rows[0]?.[0] ?? 'text';
    this.typeNames.set(oid, name);
    return name;
  }

  /**
   * Connections to a group: the coordinator's own (no role), or as a client role, whose
   * privileges PostgreSQL then checks (GRANTs, row-level security). A client cannot undo
   * that from SQL: the connection logged in as its role (RESET ROLE goes back to it).
   */
  pool(groupId: number, role?: string): GroupPool {
    const internal = this.pools.get(groupId);
    if (!internal) throw new Error(`no pool for group ${groupId}`);
    if (role === undefined || role === this.options.backendUser) return internal;
    let byGroup = this.clientPools.get(role);
    if (!byGroup) this.clientPools.set(role, (byGroup = new Map()));
    let pool = byGroup.get(groupId);
    if (!pool) {
      const target = this.targets.get(groupId)!;
      const credentials = this.credentials(role);
      pool = new GroupPool(groupId, async () => ({ ...(await target()), ...credentials }), this.options.workerPool);
      byGroup.set(groupId, pool);
    }
    return pool;
  }

  private allPools(): GroupPool[] {
    return [...this.pools.keys()].flatMap((groupId) => this.groupPools(groupId));
  }

  /** Every pool of a group: the coordinator's own and each client role's. */
  groupPools(groupId: number): GroupPool[] {
    const pools = [...this.clientPools.values()].map((byGroup) => byGroup.get(groupId)).filter((p): p is GroupPool => !!p);
    const internal = this.pools.get(groupId);
    return internal ? [internal, ...pools] : pools;
  }

  /** What a connection as `role` logs in with (no role: the coordinator's own). */
  private credentials(role?: string): { user: string; password: string } {
    if (role === undefined || role === this.options.backendUser) return { user: this.options.backendUser, password: this.options.backendPassword };
    const password = this.nodePasswordOf(role);
    if (password === null) throw new ClientError('28000', `role "${role}" is not a user of this cluster (config users)`);
    return { user: role, password };
  }

  parameterStatus(startup: Record<string, string>): [string, string][] {
    const parameters = new Map(this.serverParameters);
    parameters.set('client_encoding', 'UTF8');
    parameters.set('application_name', startup.application_name ?? '');
    parameters.set('is_superuser', 'off');
    parameters.set('session_authorization', startup.user ?? '');
    parameters.set('in_hot_standby', 'off');
    return [...parameters];
  }

  private accept(socket: Socket): void {
    const processId = this.newProcessId();
    const session = new ClientSession(socket, this, processId);
    this.sessions.set(processId, session);
    this.unauthenticated.add(session);
    if (this.unauthenticated.size > this.maxUnauthenticated) {
      // The oldest gives way (a socket left idle must not lock new clients out), with the
      // answer PostgreSQL gives past its connection limit, not a silent close.
      const oldest = this.unauthenticated.values().next().value as ClientSession;
      oldest.fatal(new ClientError(SqlState.tooManyConnections, `sorry, too many clients already (${this.maxUnauthenticated} connections are starting up at once: the oldest gives way)`));
    }
  }

  /**
   * A process id for BackendKeyData: positive Int32, unique among this process's sessions,
   * and in a group ≡ the process's index (mod PROCESS_SLOTS), so any process can tell whose
   * a CancelRequest is.
   */
  private newProcessId(): number {
    const slots = this.options.group ? PROCESS_SLOTS : 1;
    const index = this.options.group?.index ?? 0;
    for (;;) {
      if (this.nextProcessKey * slots + index > 0x7fffffff) this.nextProcessKey = 1;
      const processId = this.nextProcessKey++ * slots + index;
      if (!this.sessions.has(processId)) return processId;
    }
  }

  /** Authenticated client sessions: what takes the maxClients slots. */
  sessionCount(): number {
    return this.authenticatedCount;
  }

  /**
   * A session passed authentication: it takes a client slot, or gets 53300 when none is
   * free (checked here, after authentication, so that sockets that never authenticate
   * cannot take the slots).
   */
  async sessionAuthenticated(session: ClientSession): Promise<boolean> {
    if (!this.unauthenticated.has(session)) return false;
    if (this.authenticatedCount >= this.maxClients) return false;
    // In a group the host's slots are counted by the primary: ask it for one.
    if (this.options.group && !(await this.options.group.acquireSlot())) return false;
    if (!this.unauthenticated.delete(session)) {
      // Closed while the primary was asked.
      this.options.group?.releaseSlot();
      return false;
    }
    this.authenticatedCount++;
    return true;
  }

  sessionClosed(session: ClientSession, authenticated: boolean): void {
    this.sessions.delete(session.processId);
    this.unauthenticated.delete(session);
    if (authenticated) {
      this.authenticatedCount--;
      this.options.group?.releaseSlot();
    }
  }

  /** A closed session gave its node connections back: what it left on them is reset now. */
  sessionReleased(processId: number): void {
    for (const pool of [...this.allPools(), ...(this.replicas?.allPools() ?? [])]) pool.sessionEnded(processId);
  }

  cancel(processId: number, secretKey: number): void {
    const group = this.options.group;
    if (group && processId % PROCESS_SLOTS !== group.index) return group.forwardCancel(processId, secretKey);
    const session = this.sessions.get(processId);
    // Keys travel as Int32; compare them as unsigned, however the client read them.
    if (session && session.secretKey >>> 0 === secretKey >>> 0) session.cancel();
  }

  private tierManager: NamespaceTierManager | null = null;
  private maintenance: MaintenanceScheduler | null = null;

  /** Superuser access for shard moves and the rebalancer; null when the coordinator was started without it. */
  get admin(): AdminContext | null {
    return this.options.admin ? { ...this.options.admin, nodes: this.nodeDirectory } : null;
  }

  /**
   * The nodes as moves and the rebalancer find them: the catalog's (dpg_catalog.nodes,
   * wherever they run), each group's primary from the leader tracker; never the local
   * process layout.
   */
  private readonly nodeDirectory: NodeDirectory = {
    groups: () =>
      [...this.snapshot.groups.values()].map((group) => ({
        id: group.id,
        name: group.name,
        kind: group.kind,
        nodes: this.groupNodes(group.id).map((n) => ({ name: n.name, host: n.host, port: n.port })),
      })),
    primary: async (groupId) => {
      const group = this.snapshot.groups.get(groupId);
      if (!group) return null;
      try {
        const leader = await this.leaderOf(groupId, group.name, this.groupNodes(groupId));
        return { name: leader.name, host: leader.host, port: leader.port };
      } catch {
        return null;
      }
    },
  };

  /** A group's nodes in the catalog (the control group's from the options until the catalog names them). */
  private groupNodes(groupId: number): NodeInfo[] {
    const nodes = this.snapshot.nodes.filter((n) => n.groupId === groupId);
    return nodes.length > 0 || groupId !== 0 ? nodes : this.options.control.nodes.map((n) => ({ ...n, groupId: 0 }));
  }

  get rebalanceDefaults(): { strategy: RebalanceStrategy; maxMoves: number } {
    return this.options.rebalance ?? { strategy: 'by_disk_size', maxMoves: 100 };
  }

  private rebalanceJob: { id: number; done: Promise<void> } | null = null;
  private rebalanceJobs = 0;

  /** citus_rebalance_start: runs `work` in the background (one at a time); returns its job id. */
  startRebalanceJob(work: () => Promise<unknown>): number {
    if (this.rebalanceJob) throw new ClientError('55006', `rebalance job ${this.rebalanceJob.id} is still running on this coordinator; SELECT citus_rebalance_wait() waits for it`);
    const id = ++this.rebalanceJobs;
    const done = work().then(
      () => this.log(`rebalance job ${id} finished`),
      (error) => this.logger.warn(`rebalance job ${id} failed: ${(error as Error).message}`),
    );
    this.rebalanceJob = { id, done: done.finally(() => (this.rebalanceJob = null)) };
    return id;
  }

  async waitRebalanceJob(): Promise<void> {
    await this.rebalanceJob?.done;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.leaderWatcher?.stop();
    await this.replicas?.stop();
    for (const wake of this.leaderWaiters.splice(0)) wake();
    if (this.recoveryTimer) clearInterval(this.recoveryTimer);
    await this.tierManager?.stop();
    this.maintenance?.stop();
    await this.resultCache?.close();
    if (this.collectorTimer) clearInterval(this.collectorTimer);
    this.metricsServer?.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    for (const session of this.sessions.values()) session.close();
    await Promise.all(this.allPools().map((p) => p.close()));
    const listener = this.catalogListener;
    this.catalogListener = null;
    await listener?.end().catch(() => {});
  }
}
