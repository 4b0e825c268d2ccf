import type pg from 'pg';
import { ValidationError, type MemoryError } from './errors.ts';
import { Executor } from './executor.ts';
import { Graph } from './graph.ts';
import { Memories } from './memories.ts';
import { Patterns } from './patterns.ts';
import { openPool, poolHealth, poolOptions, SEED_COORDINATOR_POOL, type PoolHealth, type SeedPoolConfig } from './pools.ts';
import { Sessions } from './sessions.ts';
import { Trajectories } from './trajectories.ts';
import { NamespacePolicy, type NamespacePattern } from './validate.ts';

export interface MemoryClientOptions {
  /** postgres:// URL of a dpg coordinator (or of HAProxy in front of several). */
  url: string;
  /** The seed's pool numbers (dpg.yaml pools.coordinator_pool); default the seed's. */
  pool?: SeedPoolConfig;
  /** Dimensions of the embeddings (default 384, the seed's). */
  dimensions?: number;
  /** Namespaces this client may use (names, "prefix-*" patterns, RegExps); default all. */
  namespaces?: NamespacePattern[];
  /** Times a call rolled back by a failover or shard move is made again (default 3). */
  retries?: number;
  retryDelayMs?: number;
  /** Told of every retry of a call (the error that caused it, 1 for the first retry). */
  onRetry?: (error: MemoryError, attempt: number) => void;
  /** application_name on the coordinator (default dpg-memory). */
  applicationName?: string;
}

/**
 * A typed client of a dpg database for agent memory, over plain Postgres connections
 * to the coordinator: `memories` (store, get, upsert, delete, list, search, retrieve),
 * `patterns`, `trajectories`, `graph`, `sessions`.
 *
 *   const memory = await MemoryClient.connect({ url: process.env.DPG_URL! });
 *   await memory.memories.store({ namespace: 'agent-1', key: 'k', value: 'v', embedding });
 *   const hits = await memory.memories.search('agent-1', { embedding, limit: 5 });
 *   await memory.close();
 */
export class MemoryClient {
  readonly memories: Memories;
  readonly patterns: Patterns;
  readonly trajectories: Trajectories;
  readonly graph: Graph;
  readonly sessions: Sessions;
  readonly dimensions: number;
  private readonly db: Executor;

  private constructor(
    readonly pool: pg.Pool,
    options: Omit<MemoryClientOptions, 'url' | 'pool'>,
  ) {
    const dimensions = options.dimensions ?? 384;
    if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > 16000) throw new ValidationError(`dimensions must be a whole number from 1 to 16000, got ${String(dimensions)}`);
    const retries = options.retries ?? 3;
    if (!Number.isInteger(retries) || retries < 0 || retries > 20) throw new ValidationError(`retries must be a whole number from 0 to 20, got ${String(retries)}`);
    this.dimensions = dimensions;
    const db = (this.db = new Executor(pool, { retries, retryDelayMs: options.retryDelayMs ?? 100, onRetry: options.onRetry }));
    const policy = new NamespacePolicy(options.namespaces);
    this.memories = new Memories(db, policy, dimensions);
    this.patterns = new Patterns(db, policy, dimensions);
    this.trajectories = new Trajectories(db, policy, dimensions);
    this.graph = new Graph(db, policy, dimensions);
    this.sessions = new Sessions(db, policy);
  }

  /** Opens the pool (its min_size connections first) and returns the client. */
  static async connect(options: MemoryClientOptions): Promise<MemoryClient> {
    if (options === null || typeof options !== 'object' || typeof options.url !== 'string' || !/^postgres(ql)?:\/\//.test(options.url)) {
      throw new ValidationError('url must be a postgres:// URL of a dpg coordinator');
    }
    // Checked before any connection is opened.
    new NamespacePolicy(options.namespaces);
    const pool = await openPool(poolOptions(options.url, options.pool ?? SEED_COORDINATOR_POOL, options.applicationName));
    try {
      return new MemoryClient(pool, options);
    } catch (error) {
      await pool.end().catch(() => {});
      throw error;
    }
  }

  /**
   * `work` in one transaction (BEGIN ... COMMIT) on one connection, for statements of
   * your own; keep it to one namespace and it runs on one shard. Made again from the start
   * when the server rolls it back (a deadlock, a serialization failure, a shard move), so
   * `work` must be safe to run twice.
   */
  transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  /** SELECT 1 through the pool, with its connection counts. */
  health(timeoutMs?: number): Promise<PoolHealth> {
    return poolHealth(this.pool, timeoutMs);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * The seed's DualDatabasePools: the project's own database and a shared knowledge
 * database (two dpg databases, or two clusters), each with its pool and client, opened,
 * checked and closed together.
 */
export class DualDatabasePools {
  private constructor(
    readonly project: MemoryClient,
    readonly shared: MemoryClient,
  ) {}

  static async open(options: { project: MemoryClientOptions; shared: MemoryClientOptions }): Promise<DualDatabasePools> {
    const project = await MemoryClient.connect(options.project);
    try {
      return new DualDatabasePools(project, await MemoryClient.connect(options.shared));
    } catch (error) {
      await project.close().catch(() => {});
      throw error;
    }
  }

  /** Both databases' health; ok when both answer. */
  async health(timeoutMs?: number): Promise<{ ok: boolean; project: PoolHealth; shared: PoolHealth }> {
    const [project, shared] = await Promise.all([this.project.health(timeoutMs), this.shared.health(timeoutMs)]);
    return { ok: project.ok && shared.ok, project, shared };
  }

  async close(): Promise<void> {
    await Promise.all([this.project.close(), this.shared.close()]);
  }
}
