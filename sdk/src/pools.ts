import { readFileSync } from 'node:fs';
import pg from 'pg';
import { parse } from 'yaml';
import { ValidationError } from './errors.ts';

/**
 * The seed's pool numbers (its POOL_CONFIG, dpg.yaml's `pools.coordinator_pool`):
 * connections to a dpg coordinator. The worker pools (`worker_pool_per_shard`) are the
 * coordinator's own; a client reaches the workers through it.
 */
export interface SeedPoolConfig {
  min_size: number;
  max_size: number;
  /** Queries a connection serves before it is replaced (pg's maxUses). */
  max_queries?: number;
  /** Seconds an idle connection is kept (pg's idleTimeoutMillis). */
  max_inactive_connection_lifetime?: number;
}

/** The seed's coordinator_pool. */
export const SEED_COORDINATOR_POOL: SeedPoolConfig = { min_size: 5, max_size: 50, max_queries: 50000, max_inactive_connection_lifetime: 300 };

/** pg.Pool options for a coordinator URL with the seed's pool numbers. */
export function poolOptions(url: string, config: SeedPoolConfig = SEED_COORDINATOR_POOL, applicationName = 'dpg-memory'): pg.PoolConfig {
  const { min_size, max_size, max_queries, max_inactive_connection_lifetime } = config;
  if (!Number.isInteger(max_size) || max_size < 1) throw new ValidationError(`pool max_size must be a whole number of at least 1, got ${String(max_size)}`);
  if (!Number.isInteger(min_size) || min_size < 0 || min_size > max_size) throw new ValidationError(`pool min_size must be a whole number from 0 to max_size (${max_size}), got ${String(min_size)}`);
  if (max_queries !== undefined && (!Number.isInteger(max_queries) || max_queries < 1)) throw new ValidationError(`pool max_queries must be a whole number of at least 1, got ${String(max_queries)}`);
  if (max_inactive_connection_lifetime !== undefined && !(max_inactive_connection_lifetime > 0)) throw new ValidationError(`pool max_inactive_connection_lifetime must be a number of seconds above 0, got ${String(max_inactive_connection_lifetime)}`);
  return {
    connectionString: url,
    application_name: applicationName,
    min: min_size,
    max: max_size,
    maxUses: max_queries,
    idleTimeoutMillis: max_inactive_connection_lifetime === undefined ? undefined : max_inactive_connection_lifetime * 1000,
    connectionTimeoutMillis: 10_000,
  };
}

/** `pools.coordinator_pool` of a dpg config file (dpg.yaml); the seed's numbers where it has none. */
export function loadPoolConfig(file: string): SeedPoolConfig {
  let document: unknown;
  try {
    document = parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ValidationError(`${file}: ${(error as Error).message}`);
  }
  const pool = (document as { pools?: { coordinator_pool?: Partial<SeedPoolConfig> } } | null)?.pools?.coordinator_pool ?? {};
  return { ...SEED_COORDINATOR_POOL, ...pool };
}

/** Opens a pool and its first min_size connections (pg opens connections only on demand). */
export async function openPool(options: pg.PoolConfig): Promise<pg.Pool> {
  const pool = new pg.Pool(options);
  // An idle connection that breaks (a coordinator restarting) is dropped by the pool; the next query opens another.
  pool.on('error', () => {});
  const warm = await Promise.allSettled(Array.from({ length: options.min ?? 0 }, () => pool.connect()));
  for (const result of warm) if (result.status === 'fulfilled') result.value.release();
  const failed = warm.find((r) => r.status === 'rejected');
  if (failed && warm.every((r) => r.status === 'rejected')) {
    await pool.end().catch(() => {});
    throw (failed as PromiseRejectedResult).reason;
  }
  return pool;
}

export interface PoolHealth {
  ok: boolean;
  /** Round trip of SELECT 1, ms. */
  latencyMs: number | null;
  /** Connections open, idle, and callers waiting for one. */
  total: number;
  idle: number;
  waiting: number;
  error?: string;
}

/** SELECT 1 on the pool, with its counts. */
export async function poolHealth(pool: pg.Pool, timeoutMs = 5000): Promise<PoolHealth> {
  const counts = () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount });
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      pool.query('SELECT 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, latencyMs: performance.now() - started, ...counts() };
  } catch (error) {
    return { ok: false, latencyMs: null, ...counts(), error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
