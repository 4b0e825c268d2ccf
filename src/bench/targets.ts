/**
 * Where the bench sends its searches: dpg's coordinator, the plain PostgreSQL
 * baseline, or straight to the workers (each namespace's shard table on the
 * leader of the group that holds it, scatter/gather done by the bench itself for
 * queries spanning several shards). Each target answers the same SearchQuery with
 * the same rows, so latency and recall compare like with like.
 */
import pg from 'pg';
import { hashtext } from '../topology/hashtext.ts';

export type TargetName = 'dpg' | 'plain' | 'worker';

export interface SearchQuery {
  /** The vector in pgvector's text form. */
  vector: string;
  namespaces: string[];
  limit: number;
  minSimilarity: number | null;
}

export interface SearchHit {
  namespace: string;
  key: string;
  distance: number;
}

export interface SearchTarget {
  name: TargetName;
  /** Connections this target was given (the worker target is capped: workers have max_connections of their own). */
  concurrency: number;
  search(query: SearchQuery): Promise<SearchHit[]>;
  close(): Promise<void>;
}

export interface ShardLocation {
  shardid: number;
  hashMin: number;
  hashMax: number;
  host: string;
  port: number;
}

/** Workers serve the coordinator too; the bench keeps well below their max_connections. */
export const WORKER_CONNECTION_CAP = 40;

export function searchSql(table: string, cast: string, query: Pick<SearchQuery, 'namespaces' | 'limit' | 'minSimilarity'>): string {
  const filter = query.namespaces.length === 1 ? 'namespace = $2' : 'namespace = ANY($2)';
  const similarity = query.minSimilarity === null ? '' : ` AND 1 - (embedding <=> $1::${cast}) >= ${query.minSimilarity}`;
  return `SELECT namespace, key, embedding <=> $1::${cast} AS distance FROM ${table} WHERE ${filter}${similarity} ORDER BY embedding <=> $1::${cast} LIMIT ${query.limit}`;
}

const statementNames = new Map<string, string>();
/** A named (prepared) statement per distinct text: parsed and planned once per connection, as an application would. */
function prepared(text: string, values: unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (!name) statementNames.set(text, (name = `dpg_bench_${statementNames.size + 1}`));
  return { name, text, values };
}

function toHits(rows: { namespace: string; key: string; distance: number | string }[]): SearchHit[] {
  return rows.map((r) => ({ namespace: r.namespace, key: r.key, distance: Number(r.distance) }));
}

/** A pool whose connections are all open before the first timed request (connecting is not what is measured). */
export async function openPool(config: pg.PoolConfig, size: number, setup: string[] = []): Promise<pg.Pool> {
  const pool = new pg.Pool({ ...config, max: size, idleTimeoutMillis: 0 });
  pool.on('error', () => undefined); // a dropped idle connection is replaced on next use
  if (setup.length) pool.on('connect', (client) => {
    for (const statement of setup) client.query(statement).catch(() => undefined);
  });
  const clients = await Promise.all(Array.from({ length: size }, () => pool.connect()));
  for (const client of clients) client.release();
  return pool;
}

function args(query: SearchQuery, namespaces: string[]): unknown[] {
  return [query.vector, namespaces.length === 1 ? namespaces[0] : namespaces];
}

/** The coordinator (`cast` ruvector) or the plain node (`cast` vector): one SQL statement each. */
export async function sqlTarget(name: 'dpg' | 'plain', url: string, cast: string, concurrency: number, setup: string[] = []): Promise<SearchTarget> {
  const pool = await openPool({ connectionString: url }, concurrency, setup);
  return {
    name,
    concurrency,
    async search(query) {
      const result = await pool.query(prepared(searchSql('memory_entries', cast, query), args(query, query.namespaces)));
      return toHits(result.rows);
    },
    close: () => pool.end(),
  };
}

export function shardForNamespace(shards: readonly ShardLocation[], namespace: string): ShardLocation {
  const hash = hashtext(namespace);
  const shard = shards.find((s) => hash >= s.hashMin && hash <= s.hashMax);
  if (!shard) throw new Error(`no shard of memory_entries covers hash ${hash} of namespace ${namespace}`);
  return shard;
}

/** Straight to the workers: each namespace's shard table, merged by distance when a query spans shards. */
/**
 * A node login for the worker-direct baseline: client roles log in to nodes with a node
 * password only the cluster's secrets hold (not the coordinator's); absent: the URL's.
 */
export interface WorkerLogin {
  user: string;
  password: string;
}

function loginOf(coordinatorUrl: string, login?: WorkerLogin): { user: string; password: string; database: string } {
  const url = new URL(coordinatorUrl);
  return { user: login?.user ?? decodeURIComponent(url.username), password: login?.password ?? decodeURIComponent(url.password), database: url.pathname.slice(1) };
}

export async function workerTarget(coordinatorUrl: string, shards: readonly ShardLocation[], concurrency: number, login?: WorkerLogin): Promise<SearchTarget> {
  const size = Math.min(concurrency, WORKER_CONNECTION_CAP);
  const pools = new Map<string, pg.Pool>();
  for (const shard of shards) {
    const endpoint = `${shard.host}:${shard.port}`;
    if (pools.has(endpoint)) continue;
    pools.set(endpoint, await openPool({
      host: shard.host, port: shard.port, ...loginOf(coordinatorUrl, login),
    }, size));
  }
  return {
    name: 'worker',
    concurrency: size,
    async search(query) {
      const byShard = new Map<ShardLocation, string[]>();
      for (const ns of query.namespaces) {
        const shard = shardForNamespace(shards, ns);
        byShard.set(shard, [...(byShard.get(shard) ?? []), ns]);
      }
      const parts = await Promise.all([...byShard].map(async ([shard, namespaces]) => {
        const pool = pools.get(`${shard.host}:${shard.port}`)!;
        const text = searchSql(`memory_entries_${shard.shardid}`, 'ruvector', { ...query, namespaces });
        return toHits((await pool.query(prepared(text, args(query, namespaces)))).rows);
      }));
      if (parts.length === 1) return parts[0]!;
      return parts.flat().sort((a, b) => a.distance - b.distance).slice(0, query.limit);
    },
    close: async () => {
      await Promise.all([...pools.values()].map((p) => p.end()));
    },
  };
}

/** memory_entries' shards and the host and port of the leader holding each, from dpg's Citus-style catalog views. */
export async function shardLocations(coordinatorUrl: string): Promise<ShardLocation[]> {
  const client = new pg.Client({ connectionString: coordinatorUrl });
  await client.connect();
  try {
    const shards = await client.query<{ shardid: string; shardminvalue: string; shardmaxvalue: string; groupid: number }>(
      "SELECT s.shardid, s.shardminvalue, s.shardmaxvalue, p.groupid FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) WHERE s.logicalrelid = 'memory_entries'::regclass ORDER BY s.shardid",
    );
    const nodes = await client.query<{ groupid: number; nodename: string; nodeport: number }>("SELECT groupid, nodename, nodeport FROM pg_dist_node WHERE noderole = 'primary'");
    return shards.rows.map((s) => {
      const node = nodes.rows.find((n) => Number(n.groupid) === Number(s.groupid));
      if (!node) throw new Error(`no primary for group ${s.groupid} of shard ${s.shardid} in pg_dist_node`);
      return { shardid: Number(s.shardid), hashMin: Number(s.shardminvalue), hashMax: Number(s.shardmaxvalue), host: node.nodename, port: Number(node.nodeport) };
    });
  } finally {
    await client.end();
  }
}

export interface WorkerTuning {
  /** postgresql.conf values to give the plain baseline. */
  settings: Record<string, string>;
  m: number;
  efConstruction: number;
}

const COPIED_SETTINGS = ['shared_buffers', 'work_mem', 'maintenance_work_mem', 'effective_cache_size', 'max_parallel_workers_per_gather', 'hnsw.ef_search'];

/** The worker's memory settings, hnsw.ef_search and the HNSW build parameters of a shard's index, so the baseline is tuned the same. */
export async function workerTuning(coordinatorUrl: string, shard: ShardLocation, login?: WorkerLogin): Promise<WorkerTuning> {
  const client = new pg.Client({ host: shard.host, port: shard.port, ...loginOf(coordinatorUrl, login) });
  await client.connect();
  try {
    const settings: Record<string, string> = {};
    for (const name of COPIED_SETTINGS) {
      const row = await client.query<{ setting: string }>('SELECT current_setting($1, true) AS setting', [name]);
      if (row.rows[0]?.setting) settings[name] = row.rows[0].setting;
    }
    const index = await client.query<{ indexdef: string }>('SELECT indexdef FROM pg_indexes WHERE indexname = $1', [`idx_memory_embedding_hnsw_${shard.shardid}`]);
    const def = index.rows[0]?.indexdef ?? '';
    const m = Number(/\bm\s*=\s*'?(\d+)/.exec(def)?.[1] ?? 16);
    const efConstruction = Number(/ef_construction\s*=\s*'?(\d+)/.exec(def)?.[1] ?? 64);
    return { settings, m, efConstruction };
  } finally {
    await client.end();
  }
}
