import { readFileSync, existsSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { CronSchedule } from '../maintenance/cron.ts';

/**
 * dpg's one configuration file. Its sections mirror the seed design document
 * (distribution, replication, pools, HNSW profiles); `cluster` and `ports`
 * describe the local processes. Every key is validated at start.
 */
export interface DpgConfig {
  /** Folder holding every node, log and pid file of the local cluster. */
  data_dir: string;
  ports: { base: number };
  cluster: {
    host: string;
    database: string;
    etcd: { endpoints: string[] };
    control_group: { nodes: number };
    worker_groups: { count: number };
    /**
     * Route each node's links to etcd and from the coordinators through dpg's own
     * fault-injecting TCP proxy, so dpg chaos can cut a node off (the partition
     * scenario). Fixed when the cluster is made.
     */
    fault_proxies: boolean;
  };
  distribution: {
    method: 'hash';
    key: string;
    shard_count: number;
    /** Copies of each shard = nodes in each worker group (DESIGN.md). */
    replication_factor: number;
    /**
     * The rebalancer (src/rebalance): a worker group whose load differs from the mean by
     * more than `threshold` (a fraction) is out of balance; load is shard bytes on disk,
     * live rows, or shard groups (`strategy`); one rebalance makes at most `max_moves`
     * moves. `schedule` (cron, UTC) runs it when `enabled` (and maintenance.enabled).
     */
    shard_rebalancing: { enabled: boolean; threshold: number; schedule: string; strategy: 'by_disk_size' | 'by_rows' | 'by_shard_count'; max_moves: number };
  };
  replication: {
    synchronous_mode: boolean;
    tables: { critical: string[]; audit: string[]; ephemeral: string[] };
  };
  pools: {
    coordinator_pool: { min_size: number; max_size: number; max_queries: number; max_inactive_connection_lifetime: number };
    worker_pool_per_shard: { min_size: number; max_size: number; max_queries: number };
  };
  hnsw: { profiles: HnswProfile[] };
  postgres: { parameters: Record<string, string | number | boolean> };
  patroni: { ttl: number; loop_wait: number; retry_timeout: number };
  coordinator: {
    /** Beyond this many client connections a new client gets SQLSTATE 53300 (the seed: 500). */
    max_client_connections: number;
    /**
     * A connection that has not finished startup and authentication this many seconds
     * after it opened is closed (PostgreSQL's authentication_timeout: 60 s, 1 to 600).
     */
    authentication_timeout_seconds: number;
    /**
     * How long a statement waits for a free connection to a group whose pool is at its
     * max_size (every connection held, e.g. by sessions idle in a transaction) before it
     * fails with SQLSTATE 53300.
     */
    pool_wait_timeout_seconds: number;
    /** A prepared part of a two-phase commit without a commit record is rolled back once this old. */
    prepared_transaction_grace_seconds: number;
    /** How often the recovery loop looks for prepared transactions left by a crash. */
    recovery_interval_seconds: number;
    /**
     * How long a statement waits for a worker group without a primary (a failover under
     * way) before it fails; reads, and writes that never reached the old primary, then
     * run on the new one.
     */
    failover_wait_seconds: number;
    /** INSERT ... SELECT into a distributed table holds the SELECT's rows on the coordinator: at most this many MB of them (more: SQLSTATE 54000). */
    insert_select_max_mb: number;
    /**
     * Rows the coordinator must hold for one statement before it can answer: RETURNING rows
     * of a write over several groups (until it commits), aggregate partials (until the
     * combine query): at most this many MB of them (more: SQLSTATE 54000, nothing written).
     */
    held_rows_max_mb: number;
    /** Coordinators dpg up runs (1-9); with several, HAProxy listens on the client port in front of them. */
    instances: number;
    /**
     * Processes of each coordinator (1-16), sharing its port (node:cluster): one per core
     * lets a coordinator use every core of its host. max_client_connections is the
     * coordinator's, across its processes.
     */
    processes: number;
  };
  vector: {
    /** A namespace of up to this many rows is searched exactly; past it, it gets an HNSW index of its own. */
    exact_search_max_rows: number;
    /** How often namespaces are counted and promoted to (or, below half the bound, demoted from) their own index. */
    tier_check_interval_seconds: number;
    /** A search over several namespaces asks each for LIMIT x this many candidates (the seed: limit x 2). */
    candidate_factor: number;
    /**
     * Past this many rows a namespace is split: its new rows go to shards by the seed's
     * composite key (namespace || to_char(created_at, 'YYYY-MM')), and it is read on every
     * shard. 0: never.
     */
    split_rows: number;
    /**
     * maintenance_work_mem of the HNSW index builds dpg starts itself (a namespace's own
     * index, a shared index rebuilt for a larger profile): a graph that does not fit is
     * built far more slowly (the seed: 2GB).
     */
    index_build_memory: string;
  };
  maintenance: {
    /** false: no scheduled job runs. */
    enabled: boolean;
    /** REINDEX CONCURRENTLY of the HNSW indexes of the shard that needs it most (the seed: "0 3 * * 0"). */
    reindex_schedule: string;
    /**
     * ANALYZE of every shard, in the slot of the seed's weekly CLUSTER ("0 4 * * 6"):
     * PostgreSQL cannot CLUSTER on an HNSW index.
     */
    analyze_schedule: string;
  };
  query_router: {
    /**
     * Where reads outside transaction blocks go: primary; replica (a standby caught up
     * within max_replica_lag_seconds, else the primary); any (primary and such standbys
     * in turn). A session always reads its own writes.
     */
    read_from: 'primary' | 'replica' | 'any';
    /** A standby that has not replayed everything acknowledged this many seconds ago is not read from. */
    max_replica_lag_seconds: number;
  };
  cache: {
    /** The seed's query-result cache (query_router.cache): off unless enabled. */
    enabled: boolean;
    backend: 'redis';
    /** Seconds a cached result lives (the seed: 300). */
    ttl_seconds: number;
    /** A Redis to use; null: dpg up starts its own on 127.0.0.1 at ports.base + 12. */
    url: string | null;
  };
  tls: {
    /** TLS on the client endpoint: SSLRequest is answered 'S' (off: 'N', every client in cleartext). */
    enabled: boolean;
    /** Refuse clients that do not negotiate TLS (SQLSTATE 28000). */
    required: boolean;
    /** The server certificate and key (PEM); null: dpg up makes a CA and a certificate for the local cluster in <data_dir>/tls. */
    cert_file: string | null;
    key_file: string | null;
    /** The CA that signed cert_file, for the URL dpg url prints (sslrootcert); null with generated certificates. */
    ca_file: string | null;
  };
  /**
   * The roles clients log in to the coordinator as. Each is a role on every node with
   * only the privileges its tables need; the coordinator runs a client's statements as
   * its role, so PostgreSQL enforces GRANTs and row-level security. `password` null: one
   * is generated and kept in the secrets file (`dpg url --user NAME` prints it).
   * `namespaces`: the only distribution-column values the user may read or write (row
   * level security on every shard); null: all. `admin`: may run the rebalancer's and
   * moves' functions.
   */
  users: { name: string; password: string | null; namespaces: string[] | null; admin: boolean }[];
  metrics: {
    /** The namespace label of vector search metrics names at most this many namespaces (0: no namespace label). */
    namespace_label_limit: number;
    /** How often shard sizes, row counts and replication lag are collected (the seed: 15 s). */
    collect_interval_seconds: number;
  };
}

/** One row of the seed's "Parameter Tuning by Shard Size" table. */
export interface HnswProfile {
  /** Upper bound of vectors per shard for this profile; null = no bound (the last row). */
  max_vectors: number | null;
  m: number;
  ef_construction: number;
  ef_search: number;
}

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly allowed: string,
    readonly source?: string,
  ) {
    super(`${source ? `${source}: ` : ''}${key} = ${JSON.stringify(value)} is not valid: ${allowed}`);
  }
}

/** The config file itself is missing, unreadable or not YAML. */
export class ConfigFileError extends Error {}

export const DEFAULT_CONFIG: DpgConfig = {
  data_dir: './.dpg',
  ports: { base: 15432 },
  cluster: {
    host: '127.0.0.1',
    database: 'distributed_postgres_cluster',
    etcd: { endpoints: [] },
    control_group: { nodes: 1 },
    worker_groups: { count: 3 },
    fault_proxies: false,
  },
  distribution: {
    method: 'hash',
    key: 'namespace',
    shard_count: 12,
    replication_factor: 2,
    shard_rebalancing: { enabled: true, threshold: 0.2, schedule: '0 2 * * 0', strategy: 'by_disk_size', max_moves: 100 },
  },
  replication: {
    synchronous_mode: true,
    tables: {
      critical: ['memory_entries', 'patterns', 'graph_nodes', 'graph_edges', 'trajectories'],
      audit: ['pattern_history'],
      ephemeral: ['sessions'],
    },
  },
  pools: {
    coordinator_pool: { min_size: 5, max_size: 50, max_queries: 50000, max_inactive_connection_lifetime: 300 },
    worker_pool_per_shard: { min_size: 2, max_size: 20, max_queries: 10000 },
  },
  hnsw: {
    profiles: [
      { max_vectors: 1_000_000, m: 16, ef_construction: 100, ef_search: 50 },
      { max_vectors: 5_000_000, m: 24, ef_construction: 150, ef_search: 75 },
      { max_vectors: 10_000_000, m: 32, ef_construction: 200, ef_search: 100 },
      { max_vectors: null, m: 48, ef_construction: 300, ef_search: 150 },
    ],
  },
  // Tuned for a small machine running a dozen nodes at once.
  postgres: {
    parameters: {
      shared_buffers: '64MB',
      work_mem: '16MB',
      maintenance_work_mem: '128MB',
      effective_cache_size: '512MB',
      max_connections: 200,
      max_prepared_transactions: 100,
      max_wal_senders: 10,
      max_replication_slots: 10,
      wal_keep_size: '256MB',
      max_worker_processes: 8,
      max_parallel_workers_per_gather: 1,
      'hnsw.ef_search': 50,
    },
  },
  patroni: { ttl: 20, loop_wait: 2, retry_timeout: 8 },
  coordinator: { max_client_connections: 500, authentication_timeout_seconds: 60, pool_wait_timeout_seconds: 30, prepared_transaction_grace_seconds: 30, recovery_interval_seconds: 10, failover_wait_seconds: 30, insert_select_max_mb: 256, held_rows_max_mb: 256, instances: 1, processes: 1 },
  vector: { exact_search_max_rows: 1_000, tier_check_interval_seconds: 30, candidate_factor: 2, split_rows: 1_000_000, index_build_memory: '2GB' },
  maintenance: { enabled: true, reindex_schedule: '0 3 * * 0', analyze_schedule: '0 4 * * 6' },
  query_router: { read_from: 'primary', max_replica_lag_seconds: 5 },
  cache: { enabled: false, backend: 'redis', ttl_seconds: 300, url: null },
  tls: { enabled: true, required: false, cert_file: null, key_file: null, ca_file: null },
  users: [{ name: 'dpg_cluster', password: null, namespaces: null, admin: true }],
  metrics: { namespace_label_limit: 0, collect_interval_seconds: 15 },
};

export const MAX_WORKER_GROUPS = 8;
/** Ports a cluster uses above its base port (cluster/layout.ts). */
export const PORT_SPAN = 400;
export const MAX_NODES_PER_GROUP = 5;

type Check = (value: unknown, key: string) => unknown;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function integer(min: number, max: number): Check {
  return (value, key) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(key, value, `an integer from ${min} to ${max}`);
    }
    return value;
  };
}

function number(min: number, max: number): Check {
  return (value, key) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      throw new ConfigError(key, value, `a number from ${min} to ${max}`);
    }
    return value;
  };
}

const boolean: Check = (value, key) => {
  if (typeof value !== 'boolean') throw new ConfigError(key, value, 'true or false');
  return value;
};

function oneOf(...allowed: string[]): Check {
  return (value, key) => {
    if (typeof value !== 'string' || !allowed.includes(value)) {
      throw new ConfigError(key, value, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
    }
    return value;
  };
}

function string(pattern: RegExp, what: string): Check {
  return (value, key) => {
    if (typeof value !== 'string' || !pattern.test(value)) throw new ConfigError(key, value, what);
    return value;
  };
}

const identifier = string(/^[a-z_][a-z0-9_$]{0,62}$/, 'a lower-case SQL identifier (letters, digits, _; at most 63 bytes)');
const cronSchedule: Check = (value, key) => {
  if (typeof value !== 'string') throw new ConfigError(key, value, 'a cron schedule of five fields, e.g. "0 2 * * 0"');
  try {
    new CronSchedule(value);
  } catch (error) {
    throw new ConfigError(key, value, `a cron schedule of five fields, e.g. "0 2 * * 0" (${(error as Error).message})`);
  }
  return value;
};
/** A PostgreSQL memory setting (kB, MB or GB) from 1MB to 1024GB. */
const memorySize: Check = (value, key) => {
  const match = typeof value === 'string' ? /^(\d{1,7})(kB|MB|GB)$/.exec(value) : null;
  const kb = match ? Number(match[1]) * { kB: 1, MB: 1024, GB: 1024 * 1024 }[match[2] as 'kB' | 'MB' | 'GB'] : NaN;
  if (!(kb >= 1024 && kb <= 1024 * 1024 * 1024)) throw new ConfigError(key, value, 'a memory size from "1MB" to "1024GB", such as "512MB" (units kB, MB, GB)');
  return value;
};
const nonEmpty = string(/^\S.*$/, 'a non-empty string');

function listOf(item: Check): Check {
  return (value, key) => {
    if (!Array.isArray(value)) throw new ConfigError(key, value, 'a list');
    return value.map((element, i) => item(element, `${key}[${i}]`));
  };
}

/** `required` keys have no default (list items such as an HNSW profile are not merged with defaults). */
function object(shape: Record<string, Check>, required: string[] = []): Check {
  return (value, key) => {
    if (!isPlainObject(value)) throw new ConfigError(key || '(top level)', value, `a mapping with keys ${Object.keys(shape).join(', ')}`);
    for (const k of required) {
      if (!Object.hasOwn(value, k)) throw new ConfigError(key ? `${key}.${k}` : k, undefined, `missing; every entry needs ${required.join(', ')}`);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const path = key ? `${key}.${k}` : k;
      // hasOwn: keys such as `constructor` or `toString` must not find Object.prototype's members.
      const check = Object.hasOwn(shape, k) ? shape[k] : undefined;
      if (!check) throw new ConfigError(path, v, `not a known key; known keys here: ${Object.keys(shape).join(', ')}`);
      out[k] = check(v, path);
    }
    return out;
  };
}

const etcdEndpoint = string(/^https?:\/\/[^\s/]+:\d{1,5}$/, 'an etcd client URL such as "http://127.0.0.1:2379"');

const hnswProfile = object(
  {
    max_vectors: (value, key) => (value === null ? null : integer(1, Number.MAX_SAFE_INTEGER)(value, key)),
    m: integer(2, 100),
    ef_construction: integer(4, 1000),
    ef_search: integer(1, 1000),
  },
  ['max_vectors', 'm', 'ef_construction', 'ef_search'],
);

const parameterValue: Check = (value, key) => {
  if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) return value;
  throw new ConfigError(key, value, 'a string, number or boolean PostgreSQL setting');
};

const schema = object({
  data_dir: nonEmpty,
  ports: object({ base: integer(1024, 65535 - PORT_SPAN) }),
  cluster: object({
    host: oneOf('127.0.0.1'),
    database: identifier,
    etcd: object({ endpoints: listOf(etcdEndpoint) }),
    control_group: object({ nodes: integer(1, MAX_NODES_PER_GROUP) }),
    worker_groups: object({ count: integer(1, MAX_WORKER_GROUPS) }),
    fault_proxies: boolean,
  }),
  distribution: object({
    method: oneOf('hash'),
    key: identifier,
    shard_count: integer(1, 4096),
    replication_factor: integer(1, MAX_NODES_PER_GROUP),
    shard_rebalancing: object({ enabled: boolean, threshold: number(0, 10), schedule: cronSchedule, strategy: oneOf('by_disk_size', 'by_rows', 'by_shard_count'), max_moves: integer(1, 10000) }),
  }),
  replication: object({
    synchronous_mode: boolean,
    tables: object({ critical: listOf(identifier), audit: listOf(identifier), ephemeral: listOf(identifier) }),
  }),
  pools: object({
    coordinator_pool: object({
      min_size: integer(0, 10000),
      max_size: integer(1, 10000),
      max_queries: integer(1, Number.MAX_SAFE_INTEGER),
      max_inactive_connection_lifetime: number(0, 86400 * 365),
    }),
    worker_pool_per_shard: object({
      min_size: integer(0, 10000),
      max_size: integer(1, 10000),
      max_queries: integer(1, Number.MAX_SAFE_INTEGER),
    }),
  }),
  hnsw: object({ profiles: listOf(hnswProfile) }),
  postgres: object({
    parameters: (value, key) => {
      if (!isPlainObject(value)) throw new ConfigError(key, value, 'a mapping of PostgreSQL setting names to values');
      for (const [name, v] of Object.entries(value)) {
        if (!/^[a-z_][a-z0-9_.]*$/.test(name)) throw new ConfigError(`${key}.${name}`, v, 'a PostgreSQL setting name');
        parameterValue(v, `${key}.${name}`);
      }
      return value;
    },
  }),
  patroni: object({ ttl: integer(20, 3600), loop_wait: integer(1, 600), retry_timeout: integer(3, 600) }),
  coordinator: object({
    max_client_connections: integer(1, 100000),
    authentication_timeout_seconds: integer(1, 600),
    pool_wait_timeout_seconds: number(0.1, 3600),
    prepared_transaction_grace_seconds: integer(1, 86400),
    recovery_interval_seconds: integer(1, 3600),
    failover_wait_seconds: integer(0, 3600),
    insert_select_max_mb: number(0.001, 65536),
    held_rows_max_mb: number(0.001, 900),
    instances: integer(1, 9),
    processes: integer(1, 16),
  }),
  vector: object({
    exact_search_max_rows: integer(0, Number.MAX_SAFE_INTEGER),
    tier_check_interval_seconds: integer(1, 86400),
    candidate_factor: number(1, 100),
    split_rows: integer(0, Number.MAX_SAFE_INTEGER),
    index_build_memory: memorySize,
  }),
  maintenance: object({ enabled: boolean, reindex_schedule: cronSchedule, analyze_schedule: cronSchedule }),
  query_router: object({
    read_from: oneOf('primary', 'replica', 'any'),
    max_replica_lag_seconds: number(0.1, 3600),
  }),
  cache: object({
    enabled: boolean,
    backend: oneOf('redis'),
    ttl_seconds: integer(1, 86400 * 30),
    url: (value, key) => (value === null ? null : string(/^redis:\/\/(?:[^@\s/]*@)?127\.0\.0\.1:\d{1,5}(?:\/\d{1,2})?$/, 'null, or a redis:// URL on 127.0.0.1 such as "redis://127.0.0.1:6379/0"')(value, key)),
  }),
  tls: object({
    enabled: boolean,
    required: boolean,
    cert_file: (value, key) => (value === null ? null : nonEmpty(value, key)),
    key_file: (value, key) => (value === null ? null : nonEmpty(value, key)),
    ca_file: (value, key) => (value === null ? null : nonEmpty(value, key)),
  }),
  users: listOf(
    withDefaults(
      object(
        {
          name: string(/^(?!pg_)(?!(?:postgres|replicator|dpg_coordinator)$)[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier that is not postgres, replicator, dpg_coordinator or pg_*'),
          password: (value, key) => (value === null ? null : nonEmpty(value, key)),
          namespaces: (value, key) => (value === null ? null : listOf(string(/^[^\u0000]{1,1000}$/u, 'a namespace (1 to 1000 characters)'))(value, key)),
          admin: boolean,
        },
        ['name'],
      ),
      { password: null, namespaces: null, admin: false },
    ),
  ),
  metrics: object({ namespace_label_limit: integer(0, 1000), collect_interval_seconds: integer(1, 3600) }),
});

/** List items are not merged with DEFAULT_CONFIG: their optional keys get these. */
function withDefaults(check: Check, defaults: Record<string, unknown>): Check {
  return (value, key) => ({ ...defaults, ...(check(value, key) as Record<string, unknown>) });
}

function mergeDefaults(defaults: unknown, given: unknown): unknown {
  if (isPlainObject(defaults) && isPlainObject(given)) {
    const out: Record<string, unknown> = { ...defaults };
    for (const [k, v] of Object.entries(given)) out[k] = Object.hasOwn(defaults, k) ? mergeDefaults(defaults[k], v) : v;
    return out;
  }
  return given === undefined ? defaults : given;
}

/** Relations between keys that single-key checks cannot see. */
function checkConsistency(config: DpgConfig): void {
  if ((config.tls.cert_file === null) !== (config.tls.key_file === null)) {
    throw new ConfigError(config.tls.cert_file === null ? 'tls.cert_file' : 'tls.key_file', null, 'set together with ' + (config.tls.cert_file === null ? 'tls.key_file' : 'tls.cert_file') + ' (both, or neither for certificates dpg up makes)');
  }
  if (config.tls.required && !config.tls.enabled) throw new ConfigError('tls.required', true, 'false while tls.enabled is false');
  if (config.users.length === 0) throw new ConfigError('users', [], 'at least one user');
  config.users.forEach((user, i) => {
    if (config.users.findIndex((u) => u.name === user.name) !== i) throw new ConfigError(`users[${i}].name`, user.name, 'a name no other user has');
  });
  for (const pool of ['coordinator_pool', 'worker_pool_per_shard'] as const) {
    const p = config.pools[pool];
    if (p.min_size > p.max_size) {
      throw new ConfigError(`pools.${pool}.min_size`, p.min_size, `at most pools.${pool}.max_size (${p.max_size})`);
    }
  }
  const profiles = config.hnsw.profiles;
  if (profiles.length === 0) throw new ConfigError('hnsw.profiles', profiles, 'at least one profile');
  profiles.forEach((p, i) => {
    const last = i === profiles.length - 1;
    if (last && p.max_vectors !== null) {
      throw new ConfigError(`hnsw.profiles[${i}].max_vectors`, p.max_vectors, 'null on the last profile (it takes every larger shard)');
    }
    if (!last && p.max_vectors === null) {
      throw new ConfigError(`hnsw.profiles[${i}].max_vectors`, null, 'a number on every profile but the last');
    }
    const previous = i > 0 ? profiles[i - 1]!.max_vectors : 0;
    if (!last && previous !== null && p.max_vectors !== null && p.max_vectors <= previous) {
      throw new ConfigError(`hnsw.profiles[${i}].max_vectors`, p.max_vectors, `greater than the previous profile's (${previous}): profiles go from small shards to large`);
    }
  });
  const seen = new Map<string, string>();
  for (const cls of ['critical', 'audit', 'ephemeral'] as const) {
    for (const table of config.replication.tables[cls]) {
      const other = seen.get(table);
      if (other) throw new ConfigError(`replication.tables.${cls}`, table, `a table in one class only; it is already ${other}`);
      seen.set(table, cls);
    }
  }
  const { ttl, loop_wait, retry_timeout } = config.patroni;
  // Patroni's own rule: a leader must renew its key within the TTL even with retries.
  if (loop_wait + 2 * retry_timeout > ttl) {
    throw new ConfigError('patroni.ttl', ttl, `at least loop_wait + 2 * retry_timeout (${loop_wait + 2 * retry_timeout})`);
  }
}

/** Validates a parsed document (or {} for defaults) and fills in defaults. */
export function validateConfig(document: unknown, source?: string): DpgConfig {
  try {
    if (document === null || document === undefined) document = {};
    // The checked document: list items carry their own defaults (withDefaults).
    const config = mergeDefaults(DEFAULT_CONFIG, schema(document, '')) as DpgConfig;
    checkConsistency(config);
    return config;
  } catch (error) {
    if (error instanceof ConfigError && source && !error.source) {
      throw new ConfigError(error.key, error.value, error.allowed, source);
    }
    throw error;
  }
}

export interface LoadedConfig {
  config: DpgConfig;
  /** The file read, or null when only defaults apply. */
  path: string | null;
  /** data_dir made absolute (relative paths are relative to the config file, or the working directory). */
  dataDir: string;
}

export const CONFIG_FILE_NAME = 'dpg.yaml';

/**
 * Reads the config: an explicit path must exist; otherwise `./dpg.yaml` is used when
 * present and defaults apply when it is not. `overrides` (from CLI flags) win.
 */
export function loadConfig(options: { path?: string; dataDir?: string; basePort?: number } = {}): LoadedConfig {
  let path: string | null = null;
  let document: unknown = {};
  if (options.path) {
    path = resolve(options.path);
    if (!existsSync(path)) throw new ConfigFileError(`config file ${path} does not exist`);
  } else if (existsSync(CONFIG_FILE_NAME)) {
    path = resolve(CONFIG_FILE_NAME);
  }
  if (path) {
    try {
      document = parseYaml(readFileSync(path, 'utf8'));
    } catch (error) {
      if (error instanceof YAMLParseError) throw new ConfigFileError(`${path}: not valid YAML: ${error.message}`);
      throw new ConfigFileError(`config file ${path} cannot be read: ${(error as Error).message}`);
    }
  }
  // An empty or comment-only file parses to null: defaults apply, and so must the overrides.
  if (document === null || document === undefined) document = {};
  if (isPlainObject(document)) {
    const given: Record<string, unknown> = { ...document };
    if (options.dataDir !== undefined) given.data_dir = options.dataDir;
    if (options.basePort !== undefined) given.ports = { ...(isPlainObject(given.ports) ? given.ports : {}), base: options.basePort };
    document = given;
  } else {
    throw new ConfigError('(top level)', document, 'a mapping of sections (data_dir, ports, cluster, distribution, ...)', path ?? undefined);
  }
  const config = validateConfig(document, path ?? undefined);
  const base = path && options.dataDir === undefined ? dirname(path) : process.cwd();
  return { config, path, dataDir: resolve(base, config.data_dir) };
}

/** The HNSW profile for a shard holding `vectors` rows (the seed's table). */
export function hnswProfileFor(config: DpgConfig, vectors: number): HnswProfile {
  return hnswProfileIn(config.hnsw.profiles, vectors);
}

export function hnswProfileIn(profiles: HnswProfile[], vectors: number): HnswProfile {
  return profiles.find((p) => p.max_vectors === null || vectors < p.max_vectors) ?? profiles.at(-1)!;
}
