import { readFileSync, existsSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { CronSchedule } from '../maintenance/cron.ts';

export const MAX_WORKER_GROUPS = 8;
/** Ports a cluster uses above its base port (cluster/layout.ts). */
export const PORT_SPAN = 400;
export const MAX_NODES_PER_GROUP = 5;

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

// ---------------------------------------------------------------------------------------
// The building blocks of the schema. Each says, in its error, what is allowed: the first
// problem of a document becomes a ConfigError naming the key, the value and that text.
// ---------------------------------------------------------------------------------------

/** Every problem a schema finds is reported with this text (zod's own wording is not used). */
const saying = (allowed: string) => ({ errorMap: () => ({ message: allowed }) });

function integer(min: number, max: number) {
  const allowed = `an integer from ${min} to ${max}`;
  return z.number(saying(allowed)).int(allowed).min(min, allowed).max(max, allowed);
}

function number(min: number, max: number) {
  const allowed = `a number from ${min} to ${max}`;
  return z.number(saying(allowed)).finite(allowed).min(min, allowed).max(max, allowed);
}

const boolean = z.boolean(saying('true or false'));

function oneOf<const T extends [string, ...string[]]>(...allowed: T) {
  return z.enum(allowed, saying(`one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`));
}

function string(pattern: RegExp, allowed: string) {
  return z.string(saying(allowed)).regex(pattern, allowed);
}

const identifier = string(/^[a-z_][a-z0-9_$]{0,62}$/, 'a lower-case SQL identifier (letters, digits, _; at most 63 bytes)');
const nonEmpty = string(/^\S.*$/, 'a non-empty string');

const cronSchedule = z.string(saying('a cron schedule of five fields, e.g. "0 2 * * 0"')).superRefine((value, context) => {
  try {
    new CronSchedule(value);
  } catch (error) {
    context.addIssue({ code: z.ZodIssueCode.custom, message: `a cron schedule of five fields, e.g. "0 2 * * 0" (${(error as Error).message})` });
  }
});

/** A PostgreSQL memory setting (kB, MB or GB) from 1MB to 1024GB. */
const memorySize = z.string(saying('a memory size from "1MB" to "1024GB", such as "512MB" (units kB, MB, GB)')).refine((value) => {
  const match = /^(\d{1,7})(kB|MB|GB)$/.exec(value);
  const kb = match ? Number(match[1]) * { kB: 1, MB: 1024, GB: 1024 * 1024 }[match[2] as 'kB' | 'MB' | 'GB'] : NaN;
  return kb >= 1024 && kb <= 1024 * 1024 * 1024;
}, 'a memory size from "1MB" to "1024GB", such as "512MB" (units kB, MB, GB)');

const listOf = <T extends z.ZodTypeAny>(item: T) => z.array(item, saying('a list'));

/**
 * A mapping with these keys and no others. In a section every key has a default, and so
 * does the section (a document may leave out any of it); list entries name their
 * `required` keys.
 */
function mapping<T extends z.ZodRawShape>(shape: T, required: string[] = []) {
  const keys = Object.keys(shape).join(', ');
  return z
    .object(shape, {
      errorMap: (issue, context) => {
        if (issue.code === z.ZodIssueCode.unrecognized_keys) return { message: `not a known key; known keys here: ${keys}` };
        if (issue.code === z.ZodIssueCode.invalid_type) return { message: `a mapping with keys ${keys}` };
        return { message: context.defaultError };
      },
    })
    .strict()
    .superRefine((value, context) => {
      // Reported before the checks of the keys given (which zod runs first): say what an entry needs.
      for (const key of required) if ((value as Record<string, unknown>)[key] === undefined) context.addIssue({ code: z.ZodIssueCode.custom, path: [key], message: `missing; every entry needs ${required.join(', ')}` });
    });
}

/** A section: a mapping whose keys all have defaults; absent, it is all defaults. */
// (An empty default is valid: every key of a section has its own default.)
const section = <T extends z.ZodRawShape>(shape: T) => mapping(shape).default({} as never);

const nullOr = <T extends z.ZodTypeAny>(schema: T) => schema.nullable().default(null);

const etcdEndpoint = string(/^https?:\/\/[^\s/]+:\d{1,5}$/, 'an etcd client URL such as "http://127.0.0.1:2379"');

const hnswProfile = mapping(
  {
    /** Upper bound of vectors per shard for this profile; null = no bound (the last row). */
    max_vectors: integer(1, Number.MAX_SAFE_INTEGER).nullable().optional(),
    m: integer(2, 100).optional(),
    ef_construction: integer(4, 1000).optional(),
    ef_search: integer(1, 1000).optional(),
  },
  ['max_vectors', 'm', 'ef_construction', 'ef_search'],
).transform((profile) => profile as Required<typeof profile>);

/** One row of the seed's "Parameter Tuning by Shard Size" table. */
export type HnswProfile = { max_vectors: number | null; m: number; ef_construction: number; ef_search: number };

const parameterValue = z.union([z.string(), z.boolean(), z.number().finite()], saying('a string, number or boolean PostgreSQL setting'));

/** Tuned for a small machine running a dozen nodes at once; the file's parameters are merged over them. */
const DEFAULT_POSTGRES_PARAMETERS: Record<string, string | number | boolean> = {
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
};

// ---------------------------------------------------------------------------------------
// The config: every key, its check and its default, declared once. The sections mirror
// the seed design document (distribution, replication, pools, HNSW profiles); `cluster`
// and `ports` describe the local processes.
// ---------------------------------------------------------------------------------------

const configSchema = mapping({
  /** Folder holding every node, log and pid file of the local cluster. */
  data_dir: nonEmpty.default('./.dpg'),
  ports: section({ base: integer(1024, 65535 - PORT_SPAN).default(15432) }),
  cluster: section({
    host: oneOf('127.0.0.1').default('127.0.0.1'),
    database: identifier.default('distributed_postgres_cluster'),
    etcd: section({ endpoints: listOf(etcdEndpoint).default([]) }),
    control_group: section({ nodes: integer(1, MAX_NODES_PER_GROUP).default(1) }),
    worker_groups: section({ count: integer(1, MAX_WORKER_GROUPS).default(3) }),
    /**
     * Route each node's links to etcd and from the coordinators through dpg's own
     * fault-injecting TCP proxy, so dpg chaos can cut a node off (the partition
     * scenario). Fixed when the cluster is made.
     */
    fault_proxies: boolean.default(false),
  }),
  distribution: section({
    method: oneOf('hash').default('hash'),
    key: identifier.default('namespace'),
    shard_count: integer(1, 4096).default(12),
    /** Copies of each shard = nodes in each worker group (DESIGN.md). */
    replication_factor: integer(1, MAX_NODES_PER_GROUP).default(2),
    /**
     * The rebalancer (src/rebalance): a worker group whose load differs from the mean by
     * more than `threshold` (a fraction) is out of balance; load is shard bytes on disk,
     * live rows, or shard groups (`strategy`); one rebalance makes at most `max_moves`
     * moves. `schedule` (cron, UTC) runs it when `enabled` (and maintenance.enabled).
     */
    shard_rebalancing: section({
      enabled: boolean.default(true),
      threshold: number(0, 10).default(0.2),
      schedule: cronSchedule.default('0 2 * * 0'),
      strategy: oneOf('by_disk_size', 'by_rows', 'by_shard_count').default('by_disk_size'),
      max_moves: integer(1, 10000).default(100),
    }),
  }),
  replication: section({
    synchronous_mode: boolean.default(true),
    tables: section({
      critical: listOf(identifier).default(['memory_entries', 'patterns', 'graph_nodes', 'graph_edges', 'trajectories']),
      audit: listOf(identifier).default(['pattern_history']),
      ephemeral: listOf(identifier).default(['sessions']),
    }),
  }),
  pools: section({
    coordinator_pool: section({
      min_size: integer(0, 10000).default(5),
      max_size: integer(1, 10000).default(50),
      max_queries: integer(1, Number.MAX_SAFE_INTEGER).default(50000),
      max_inactive_connection_lifetime: number(0, 86400 * 365).default(300),
    }),
    worker_pool_per_shard: section({
      min_size: integer(0, 10000).default(2),
      max_size: integer(1, 10000).default(20),
      max_queries: integer(1, Number.MAX_SAFE_INTEGER).default(10000),
    }),
  }),
  hnsw: section({
    profiles: listOf(hnswProfile).default([
      { max_vectors: 1_000_000, m: 16, ef_construction: 100, ef_search: 50 },
      { max_vectors: 5_000_000, m: 24, ef_construction: 150, ef_search: 75 },
      { max_vectors: 10_000_000, m: 32, ef_construction: 200, ef_search: 100 },
      { max_vectors: null, m: 48, ef_construction: 300, ef_search: 150 },
    ]),
  }),
  postgres: section({
    parameters: z
      .record(z.string().regex(/^[a-z_][a-z0-9_.]*$/, 'a PostgreSQL setting name'), parameterValue, saying('a mapping of PostgreSQL setting names to values'))
      .default({})
      .transform((given) => ({ ...DEFAULT_POSTGRES_PARAMETERS, ...given })),
  }),
  patroni: section({ ttl: integer(20, 3600).default(20), loop_wait: integer(1, 600).default(2), retry_timeout: integer(3, 600).default(8) }),
  coordinator: section({
    /** Beyond this many client connections a new client gets SQLSTATE 53300 (the seed: 500). */
    max_client_connections: integer(1, 100000).default(500),
    /**
     * A connection that has not finished startup and authentication this many seconds
     * after it opened is closed (PostgreSQL's authentication_timeout: 60 s, 1 to 600).
     */
    authentication_timeout_seconds: integer(1, 600).default(60),
    /**
     * How long a statement waits for a free connection to a group whose pool is at its
     * max_size (every connection held, e.g. by sessions idle in a transaction) before it
     * fails with SQLSTATE 53300.
     */
    pool_wait_timeout_seconds: number(0.1, 3600).default(30),
    /** A prepared part of a two-phase commit without a commit record is rolled back once this old. */
    prepared_transaction_grace_seconds: integer(1, 86400).default(30),
    /** How often the recovery loop looks for prepared transactions left by a crash. */
    recovery_interval_seconds: integer(1, 3600).default(10),
    /**
     * How long a statement waits for a worker group without a primary (a failover under
     * way) before it fails; reads, and writes that never reached the old primary, then
     * run on the new one.
     */
    failover_wait_seconds: integer(0, 3600).default(30),
    /** INSERT ... SELECT into a distributed table holds the SELECT's rows on the coordinator: at most this many MB of them (more: SQLSTATE 54000). */
    insert_select_max_mb: number(0.001, 65536).default(256),
    /**
     * Rows the coordinator must hold for one statement before it can answer: RETURNING rows
     * of a write over several groups (until it commits), aggregate partials (until the
     * combine query): at most this many MB of them (more: SQLSTATE 54000, nothing written).
     */
    held_rows_max_mb: number(0.001, 900).default(256),
    /** Coordinators dpg up runs (1-9); with several, HAProxy listens on the client port in front of them. */
    instances: integer(1, 9).default(1),
    /**
     * Processes of each coordinator (1-16), sharing its port (node:cluster): one per core
     * lets a coordinator use every core of its host. max_client_connections is the
     * coordinator's, across its processes.
     */
    processes: integer(1, 16).default(1),
  }),
  vector: section({
    /** A namespace of up to this many rows is searched exactly; past it, it gets an HNSW index of its own. */
    exact_search_max_rows: integer(0, Number.MAX_SAFE_INTEGER).default(1_000),
    /** How often namespaces are counted and promoted to (or, below half the bound, demoted from) their own index. */
    tier_check_interval_seconds: integer(1, 86400).default(30),
    /** A search over several namespaces asks each for LIMIT x this many candidates (the seed: limit x 2). */
    candidate_factor: number(1, 100).default(2),
    /**
     * Past this many rows a namespace is split: its new rows go to shards by the seed's
     * composite key (namespace || to_char(created_at, 'YYYY-MM')), and it is read on every
     * shard. 0: never.
     */
    split_rows: integer(0, Number.MAX_SAFE_INTEGER).default(1_000_000),
    /**
     * maintenance_work_mem of the HNSW index builds dpg starts itself (a namespace's own
     * index, a shared index rebuilt for a larger profile): a graph that does not fit is
     * built far more slowly (the seed: 2GB).
     */
    index_build_memory: memorySize.default('2GB'),
  }),
  maintenance: section({
    /** false: no scheduled job runs. */
    enabled: boolean.default(true),
    /** REINDEX CONCURRENTLY of the HNSW indexes of the shard that needs it most (the seed: "0 3 * * 0"). */
    reindex_schedule: cronSchedule.default('0 3 * * 0'),
    /**
     * ANALYZE of every shard, in the slot of the seed's weekly CLUSTER ("0 4 * * 6"):
     * PostgreSQL cannot CLUSTER on an HNSW index.
     */
    analyze_schedule: cronSchedule.default('0 4 * * 6'),
  }),
  query_router: section({
    /**
     * Where reads outside transaction blocks go: primary; replica (a standby caught up
     * within max_replica_lag_seconds, else the primary); any (primary and such standbys
     * in turn). A session always reads its own writes.
     */
    read_from: oneOf('primary', 'replica', 'any').default('primary'),
    /** A standby that has not replayed everything acknowledged this many seconds ago is not read from. */
    max_replica_lag_seconds: number(0.1, 3600).default(5),
  }),
  cache: section({
    /** The seed's query-result cache (query_router.cache): off unless enabled. */
    enabled: boolean.default(false),
    backend: oneOf('redis').default('redis'),
    /** Seconds a cached result lives (the seed: 300). */
    ttl_seconds: integer(1, 86400 * 30).default(300),
    /** A Redis to use; null: dpg up starts its own on 127.0.0.1 at ports.base + 12. */
    url: nullOr(string(/^redis:\/\/(?:[^@\s/]*@)?127\.0\.0\.1:\d{1,5}(?:\/\d{1,2})?$/, 'null, or a redis:// URL on 127.0.0.1 such as "redis://127.0.0.1:6379/0"')),
  }),
  tls: section({
    /** TLS on the client endpoint: SSLRequest is answered 'S' (off: 'N', every client in cleartext). */
    enabled: boolean.default(true),
    /** Refuse clients that do not negotiate TLS (SQLSTATE 28000). */
    required: boolean.default(false),
    /** The server certificate and key (PEM); null: dpg up makes a CA and a certificate for the local cluster in <data_dir>/tls. */
    cert_file: nullOr(nonEmpty),
    key_file: nullOr(nonEmpty),
    /** The CA that signed cert_file, for the URL dpg url prints (sslrootcert); null with generated certificates. */
    ca_file: nullOr(nonEmpty),
  }),
  /**
   * The roles clients log in to the coordinator as. Each is a role on every node with
   * only the privileges its tables need; the coordinator runs a client's statements as
   * its role, so PostgreSQL enforces GRANTs and row-level security. `password` null: one
   * is generated and kept in the secrets file (`dpg url --user NAME` prints it).
   * `namespaces`: the only distribution-column values the user may read or write (row
   * level security on every shard); null: all. `admin`: may run the rebalancer's and
   * moves' functions.
   */
  users: listOf(
    mapping(
      {
        name: string(/^(?!pg_)(?!(?:postgres|replicator|dpg_coordinator)$)[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier that is not postgres, replicator, dpg_coordinator or pg_*').optional(),
        password: nullOr(nonEmpty),
        namespaces: nullOr(listOf(string(/^[^\u0000]{1,1000}$/u, 'a namespace (1 to 1000 characters)'))),
        admin: boolean.default(false),
      },
      ['name'],
    ).transform((user) => ({ ...user, name: user.name! })),
  ).default([{ name: 'dpg_cluster', password: null, namespaces: null, admin: true }]),
  metrics: section({
    /** The namespace label of vector search metrics names at most this many namespaces (0: no namespace label). */
    namespace_label_limit: integer(0, 1000).default(0),
    /** How often shard sizes, row counts and replication lag are collected (the seed: 15 s). */
    collect_interval_seconds: integer(1, 3600).default(15),
  }),
});

/** dpg's one configuration file, as validated, with every default filled in. */
export type DpgConfig = z.output<typeof configSchema>;

export const DEFAULT_CONFIG: DpgConfig = configSchema.parse({});

/** A zod path as the config names keys: `pools.coordinator_pool.min_size`, `users[0].name`. */
function keyOf(path: (string | number)[]): string {
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');
}

function valueAt(document: unknown, path: (string | number)[]): unknown {
  let value = document;
  for (const part of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string | number, unknown>)[part];
  }
  return value;
}

/** The first problem zod found, as the ConfigError of the key (an unknown key is named itself). */
function configErrorOf(issue: z.ZodIssue, document: unknown): ConfigError {
  const path = issue.code === z.ZodIssueCode.unrecognized_keys ? [...issue.path, issue.keys[0]!] : issue.path;
  return new ConfigError(path.length === 0 ? '(top level)' : keyOf(path), valueAt(document, path), issue.message);
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
    const parsed = configSchema.safeParse(document);
    if (!parsed.success) throw configErrorOf(parsed.error.issues[0]!, document);
    checkConsistency(parsed.data);
    return parsed.data;
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
  if (typeof document === 'object' && !Array.isArray(document)) {
    const given: Record<string, unknown> = { ...document };
    if (options.dataDir !== undefined) given.data_dir = options.dataDir;
    if (options.basePort !== undefined) given.ports = { ...(typeof given.ports === 'object' && given.ports !== null && !Array.isArray(given.ports) ? given.ports : {}), base: options.basePort };
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
