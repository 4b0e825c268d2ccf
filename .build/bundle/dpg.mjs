// src/cli/main.ts
import { parseArgs } from "node:util";
import { join as join20 } from "node:path";

// src/config/config.ts
import { readFileSync, existsSync } from "node:fs";
import { resolve, dirname } from "node:path";
import { parse as parseYaml, YAMLParseError } from "yaml";

// src/maintenance/cron.ts
var CronSchedule = class {
  constructor(text) {
    this.text = text;
    const parts = text.trim().split(/\s+/);
    if (parts.length !== 5) throw new CronError(`"${text}" has ${parts.length} fields; a cron schedule has five: minute hour day-of-month month day-of-week`);
    const ranges = [
      [0, 59, "minute"],
      [0, 23, "hour"],
      [1, 31, "day of month"],
      [1, 12, "month"],
      [0, 7, "day of week"]
    ];
    this.fields = parts.map((part, i) => parseField(part, ...ranges[i]));
    if (this.fields[4].has(7)) this.fields[4].add(0);
    this.dayOfMonthAny = parts[2] === "*";
    this.dayOfWeekAny = parts[4] === "*";
  }
  text;
  fields;
  dayOfMonthAny;
  dayOfWeekAny;
  matches(date) {
    const [minute, hour, dom, month, dow] = this.fields;
    if (!minute.has(date.getUTCMinutes()) || !hour.has(date.getUTCHours()) || !month.has(date.getUTCMonth() + 1)) return false;
    const domOk = dom.has(date.getUTCDate());
    const dowOk = dow.has(date.getUTCDay());
    if (this.dayOfMonthAny || this.dayOfWeekAny) return domOk && dowOk;
    return domOk || dowOk;
  }
  /** The scheduled minutes in (after, upTo], oldest first (at most `limit`). */
  due(after, upTo, limit = 10) {
    const out2 = [];
    const start = Math.floor(after.getTime() / 6e4) + 1;
    const end = Math.floor(upTo.getTime() / 6e4);
    for (let m = start; m <= end && out2.length < limit; m++) {
      const at = new Date(m * 6e4);
      if (this.matches(at)) out2.push(at);
    }
    return out2;
  }
};
var CronError = class extends Error {
};
function parseField(part, min, max, what2) {
  const values = /* @__PURE__ */ new Set();
  for (const item of part.split(",")) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
    if (!match) throw new CronError(`${what2} "${item}" is not a number, a range a-b, * or a step /n`);
    const step = match[4] === void 0 ? 1 : Number(match[4]);
    const low = match[1] === "*" ? min : Number(match[2]);
    const high = match[1] === "*" ? max : match[3] === void 0 ? match[4] === void 0 ? low : max : Number(match[3]);
    if (low < min || high > max || low > high || step < 1) throw new CronError(`${what2} "${item}" is outside ${min}-${max}`);
    for (let v = low; v <= high; v += step) values.add(v);
  }
  return values;
}

// src/config/config.ts
var ConfigError = class extends Error {
  constructor(key, value, allowed, source) {
    super(`${source ? `${source}: ` : ""}${key} = ${JSON.stringify(value)} is not valid: ${allowed}`);
    this.key = key;
    this.value = value;
    this.allowed = allowed;
    this.source = source;
  }
  key;
  value;
  allowed;
  source;
};
var ConfigFileError = class extends Error {
};
var DEFAULT_CONFIG = {
  data_dir: "./.dpg",
  ports: { base: 15432 },
  cluster: {
    host: "127.0.0.1",
    database: "distributed_postgres_cluster",
    etcd: { endpoints: [] },
    control_group: { nodes: 1 },
    worker_groups: { count: 3 },
    fault_proxies: false
  },
  distribution: {
    method: "hash",
    key: "namespace",
    shard_count: 12,
    replication_factor: 2,
    shard_rebalancing: { enabled: true, threshold: 0.2, schedule: "0 2 * * 0", strategy: "by_disk_size", max_moves: 100 }
  },
  replication: {
    synchronous_mode: true,
    tables: {
      critical: ["memory_entries", "patterns", "graph_nodes", "graph_edges", "trajectories"],
      audit: ["pattern_history"],
      ephemeral: ["sessions"]
    }
  },
  pools: {
    coordinator_pool: { min_size: 5, max_size: 50, max_queries: 5e4, max_inactive_connection_lifetime: 300 },
    worker_pool_per_shard: { min_size: 2, max_size: 20, max_queries: 1e4 }
  },
  hnsw: {
    profiles: [
      { max_vectors: 1e6, m: 16, ef_construction: 100, ef_search: 50 },
      { max_vectors: 5e6, m: 24, ef_construction: 150, ef_search: 75 },
      { max_vectors: 1e7, m: 32, ef_construction: 200, ef_search: 100 },
      { max_vectors: null, m: 48, ef_construction: 300, ef_search: 150 }
    ]
  },
  // Tuned for a small machine running a dozen nodes at once.
  postgres: {
    parameters: {
      shared_buffers: "64MB",
      work_mem: "16MB",
      maintenance_work_mem: "128MB",
      effective_cache_size: "512MB",
      max_connections: 200,
      max_prepared_transactions: 100,
      max_wal_senders: 10,
      max_replication_slots: 10,
      wal_keep_size: "256MB",
      max_worker_processes: 8,
      max_parallel_workers_per_gather: 1,
      "hnsw.ef_search": 50
    }
  },
  patroni: { ttl: 20, loop_wait: 2, retry_timeout: 8 },
  coordinator: { max_client_connections: 500, authentication_timeout_seconds: 60, pool_wait_timeout_seconds: 30, prepared_transaction_grace_seconds: 30, recovery_interval_seconds: 10, failover_wait_seconds: 30, insert_select_max_mb: 256, held_rows_max_mb: 256, instances: 1 },
  vector: { exact_search_max_rows: 1e3, tier_check_interval_seconds: 30, candidate_factor: 2, split_rows: 1e6, index_build_memory: "2GB" },
  maintenance: { enabled: true, reindex_schedule: "0 3 * * 0", analyze_schedule: "0 4 * * 6" },
  query_router: { read_from: "primary", max_replica_lag_seconds: 5 },
  cache: { enabled: false, backend: "redis", ttl_seconds: 300, url: null },
  tls: { enabled: true, required: false, cert_file: null, key_file: null, ca_file: null },
  users: [{ name: "dpg_cluster", password: null, namespaces: null, admin: true }],
  metrics: { namespace_label_limit: 0, collect_interval_seconds: 15 }
};
var MAX_WORKER_GROUPS = 8;
var PORT_SPAN = 400;
var MAX_NODES_PER_GROUP = 5;
var isPlainObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);
function integer(min, max) {
  return (value, key) => {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(key, value, `an integer from ${min} to ${max}`);
    }
    return value;
  };
}
function number(min, max) {
  return (value, key) => {
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
      throw new ConfigError(key, value, `a number from ${min} to ${max}`);
    }
    return value;
  };
}
var boolean = (value, key) => {
  if (typeof value !== "boolean") throw new ConfigError(key, value, "true or false");
  return value;
};
function oneOf(...allowed) {
  return (value, key) => {
    if (typeof value !== "string" || !allowed.includes(value)) {
      throw new ConfigError(key, value, `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`);
    }
    return value;
  };
}
function string(pattern, what2) {
  return (value, key) => {
    if (typeof value !== "string" || !pattern.test(value)) throw new ConfigError(key, value, what2);
    return value;
  };
}
var identifier = string(/^[a-z_][a-z0-9_$]{0,62}$/, "a lower-case SQL identifier (letters, digits, _; at most 63 bytes)");
var cronSchedule = (value, key) => {
  if (typeof value !== "string") throw new ConfigError(key, value, 'a cron schedule of five fields, e.g. "0 2 * * 0"');
  try {
    new CronSchedule(value);
  } catch (error) {
    throw new ConfigError(key, value, `a cron schedule of five fields, e.g. "0 2 * * 0" (${error.message})`);
  }
  return value;
};
var memorySize = (value, key) => {
  const match = typeof value === "string" ? /^(\d{1,7})(kB|MB|GB)$/.exec(value) : null;
  const kb = match ? Number(match[1]) * { kB: 1, MB: 1024, GB: 1024 * 1024 }[match[2]] : NaN;
  if (!(kb >= 1024 && kb <= 1024 * 1024 * 1024)) throw new ConfigError(key, value, 'a memory size from "1MB" to "1024GB", such as "512MB" (units kB, MB, GB)');
  return value;
};
var nonEmpty = string(/^\S.*$/, "a non-empty string");
function listOf(item) {
  return (value, key) => {
    if (!Array.isArray(value)) throw new ConfigError(key, value, "a list");
    return value.map((element, i) => item(element, `${key}[${i}]`));
  };
}
function object(shape2, required = []) {
  return (value, key) => {
    if (!isPlainObject(value)) throw new ConfigError(key || "(top level)", value, `a mapping with keys ${Object.keys(shape2).join(", ")}`);
    for (const k of required) {
      if (!Object.hasOwn(value, k)) throw new ConfigError(key ? `${key}.${k}` : k, void 0, `missing; every entry needs ${required.join(", ")}`);
    }
    const out2 = {};
    for (const [k, v] of Object.entries(value)) {
      const path = key ? `${key}.${k}` : k;
      const check = Object.hasOwn(shape2, k) ? shape2[k] : void 0;
      if (!check) throw new ConfigError(path, v, `not a known key; known keys here: ${Object.keys(shape2).join(", ")}`);
      out2[k] = check(v, path);
    }
    return out2;
  };
}
var etcdEndpoint = string(/^https?:\/\/[^\s/]+:\d{1,5}$/, 'an etcd client URL such as "http://127.0.0.1:2379"');
var hnswProfile = object(
  {
    max_vectors: (value, key) => value === null ? null : integer(1, Number.MAX_SAFE_INTEGER)(value, key),
    m: integer(2, 100),
    ef_construction: integer(4, 1e3),
    ef_search: integer(1, 1e3)
  },
  ["max_vectors", "m", "ef_construction", "ef_search"]
);
var parameterValue = (value, key) => {
  if (typeof value === "string" || typeof value === "boolean" || typeof value === "number" && Number.isFinite(value)) return value;
  throw new ConfigError(key, value, "a string, number or boolean PostgreSQL setting");
};
var schema = object({
  data_dir: nonEmpty,
  ports: object({ base: integer(1024, 65535 - PORT_SPAN) }),
  cluster: object({
    host: oneOf("127.0.0.1"),
    database: identifier,
    etcd: object({ endpoints: listOf(etcdEndpoint) }),
    control_group: object({ nodes: integer(1, MAX_NODES_PER_GROUP) }),
    worker_groups: object({ count: integer(1, MAX_WORKER_GROUPS) }),
    fault_proxies: boolean
  }),
  distribution: object({
    method: oneOf("hash"),
    key: identifier,
    shard_count: integer(1, 4096),
    replication_factor: integer(1, MAX_NODES_PER_GROUP),
    shard_rebalancing: object({ enabled: boolean, threshold: number(0, 10), schedule: cronSchedule, strategy: oneOf("by_disk_size", "by_rows", "by_shard_count"), max_moves: integer(1, 1e4) })
  }),
  replication: object({
    synchronous_mode: boolean,
    tables: object({ critical: listOf(identifier), audit: listOf(identifier), ephemeral: listOf(identifier) })
  }),
  pools: object({
    coordinator_pool: object({
      min_size: integer(0, 1e4),
      max_size: integer(1, 1e4),
      max_queries: integer(1, Number.MAX_SAFE_INTEGER),
      max_inactive_connection_lifetime: number(0, 86400 * 365)
    }),
    worker_pool_per_shard: object({
      min_size: integer(0, 1e4),
      max_size: integer(1, 1e4),
      max_queries: integer(1, Number.MAX_SAFE_INTEGER)
    })
  }),
  hnsw: object({ profiles: listOf(hnswProfile) }),
  postgres: object({
    parameters: (value, key) => {
      if (!isPlainObject(value)) throw new ConfigError(key, value, "a mapping of PostgreSQL setting names to values");
      for (const [name, v] of Object.entries(value)) {
        if (!/^[a-z_][a-z0-9_.]*$/.test(name)) throw new ConfigError(`${key}.${name}`, v, "a PostgreSQL setting name");
        parameterValue(v, `${key}.${name}`);
      }
      return value;
    }
  }),
  patroni: object({ ttl: integer(20, 3600), loop_wait: integer(1, 600), retry_timeout: integer(3, 600) }),
  coordinator: object({
    max_client_connections: integer(1, 1e5),
    authentication_timeout_seconds: integer(1, 600),
    pool_wait_timeout_seconds: number(0.1, 3600),
    prepared_transaction_grace_seconds: integer(1, 86400),
    recovery_interval_seconds: integer(1, 3600),
    failover_wait_seconds: integer(0, 3600),
    insert_select_max_mb: number(1e-3, 65536),
    held_rows_max_mb: number(1e-3, 900),
    instances: integer(1, 9)
  }),
  vector: object({
    exact_search_max_rows: integer(0, Number.MAX_SAFE_INTEGER),
    tier_check_interval_seconds: integer(1, 86400),
    candidate_factor: number(1, 100),
    split_rows: integer(0, Number.MAX_SAFE_INTEGER),
    index_build_memory: memorySize
  }),
  maintenance: object({ enabled: boolean, reindex_schedule: cronSchedule, analyze_schedule: cronSchedule }),
  query_router: object({
    read_from: oneOf("primary", "replica", "any"),
    max_replica_lag_seconds: number(0.1, 3600)
  }),
  cache: object({
    enabled: boolean,
    backend: oneOf("redis"),
    ttl_seconds: integer(1, 86400 * 30),
    url: (value, key) => value === null ? null : string(/^redis:\/\/(?:[^@\s/]*@)?127\.0\.0\.1:\d{1,5}(?:\/\d{1,2})?$/, 'null, or a redis:// URL on 127.0.0.1 such as "redis://127.0.0.1:6379/0"')(value, key)
  }),
  tls: object({
    enabled: boolean,
    required: boolean,
    cert_file: (value, key) => value === null ? null : nonEmpty(value, key),
    key_file: (value, key) => value === null ? null : nonEmpty(value, key),
    ca_file: (value, key) => value === null ? null : nonEmpty(value, key)
  }),
  users: listOf(
    withDefaults(
      object(
        {
          name: string(/^(?!pg_)(?!(?:postgres|replicator|dpg_coordinator)$)[a-z_][a-z0-9_]{0,62}$/, "a lower-case SQL identifier that is not postgres, replicator, dpg_coordinator or pg_*"),
          password: (value, key) => value === null ? null : nonEmpty(value, key),
          namespaces: (value, key) => value === null ? null : listOf(string(/^[^\u0000]{1,1000}$/u, "a namespace (1 to 1000 characters)"))(value, key),
          admin: boolean
        },
        ["name"]
      ),
      { password: null, namespaces: null, admin: false }
    )
  ),
  metrics: object({ namespace_label_limit: integer(0, 1e3), collect_interval_seconds: integer(1, 3600) })
});
function withDefaults(check, defaults) {
  return (value, key) => ({ ...defaults, ...check(value, key) });
}
function mergeDefaults(defaults, given) {
  if (isPlainObject(defaults) && isPlainObject(given)) {
    const out2 = { ...defaults };
    for (const [k, v] of Object.entries(given)) out2[k] = Object.hasOwn(defaults, k) ? mergeDefaults(defaults[k], v) : v;
    return out2;
  }
  return given === void 0 ? defaults : given;
}
function checkConsistency(config) {
  if (config.tls.cert_file === null !== (config.tls.key_file === null)) {
    throw new ConfigError(config.tls.cert_file === null ? "tls.cert_file" : "tls.key_file", null, "set together with " + (config.tls.cert_file === null ? "tls.key_file" : "tls.cert_file") + " (both, or neither for certificates dpg up makes)");
  }
  if (config.tls.required && !config.tls.enabled) throw new ConfigError("tls.required", true, "false while tls.enabled is false");
  if (config.users.length === 0) throw new ConfigError("users", [], "at least one user");
  config.users.forEach((user, i) => {
    if (config.users.findIndex((u) => u.name === user.name) !== i) throw new ConfigError(`users[${i}].name`, user.name, "a name no other user has");
  });
  for (const pool of ["coordinator_pool", "worker_pool_per_shard"]) {
    const p = config.pools[pool];
    if (p.min_size > p.max_size) {
      throw new ConfigError(`pools.${pool}.min_size`, p.min_size, `at most pools.${pool}.max_size (${p.max_size})`);
    }
  }
  const profiles = config.hnsw.profiles;
  if (profiles.length === 0) throw new ConfigError("hnsw.profiles", profiles, "at least one profile");
  profiles.forEach((p, i) => {
    const last = i === profiles.length - 1;
    if (last && p.max_vectors !== null) {
      throw new ConfigError(`hnsw.profiles[${i}].max_vectors`, p.max_vectors, "null on the last profile (it takes every larger shard)");
    }
    if (!last && p.max_vectors === null) {
      throw new ConfigError(`hnsw.profiles[${i}].max_vectors`, null, "a number on every profile but the last");
    }
    const previous = i > 0 ? profiles[i - 1].max_vectors : 0;
    if (!last && previous !== null && p.max_vectors !== null && p.max_vectors <= previous) {
      throw new ConfigError(`hnsw.profiles[${i}].max_vectors`, p.max_vectors, `greater than the previous profile's (${previous}): profiles go from small shards to large`);
    }
  });
  const seen = /* @__PURE__ */ new Map();
  for (const cls of ["critical", "audit", "ephemeral"]) {
    for (const table2 of config.replication.tables[cls]) {
      const other = seen.get(table2);
      if (other) throw new ConfigError(`replication.tables.${cls}`, table2, `a table in one class only; it is already ${other}`);
      seen.set(table2, cls);
    }
  }
  const { ttl, loop_wait, retry_timeout } = config.patroni;
  if (loop_wait + 2 * retry_timeout > ttl) {
    throw new ConfigError("patroni.ttl", ttl, `at least loop_wait + 2 * retry_timeout (${loop_wait + 2 * retry_timeout})`);
  }
}
function validateConfig(document, source) {
  try {
    if (document === null || document === void 0) document = {};
    const config = mergeDefaults(DEFAULT_CONFIG, schema(document, ""));
    checkConsistency(config);
    return config;
  } catch (error) {
    if (error instanceof ConfigError && source && !error.source) {
      throw new ConfigError(error.key, error.value, error.allowed, source);
    }
    throw error;
  }
}
var CONFIG_FILE_NAME = "dpg.yaml";
function loadConfig(options = {}) {
  let path = null;
  let document = {};
  if (options.path) {
    path = resolve(options.path);
    if (!existsSync(path)) throw new ConfigFileError(`config file ${path} does not exist`);
  } else if (existsSync(CONFIG_FILE_NAME)) {
    path = resolve(CONFIG_FILE_NAME);
  }
  if (path) {
    try {
      document = parseYaml(readFileSync(path, "utf8"));
    } catch (error) {
      if (error instanceof YAMLParseError) throw new ConfigFileError(`${path}: not valid YAML: ${error.message}`);
      throw new ConfigFileError(`config file ${path} cannot be read: ${error.message}`);
    }
  }
  if (document === null || document === void 0) document = {};
  if (isPlainObject(document)) {
    const given = { ...document };
    if (options.dataDir !== void 0) given.data_dir = options.dataDir;
    if (options.basePort !== void 0) given.ports = { ...isPlainObject(given.ports) ? given.ports : {}, base: options.basePort };
    document = given;
  } else {
    throw new ConfigError("(top level)", document, "a mapping of sections (data_dir, ports, cluster, distribution, ...)", path ?? void 0);
  }
  const config = validateConfig(document, path ?? void 0);
  const base = path && options.dataDir === void 0 ? dirname(path) : process.cwd();
  return { config, path, dataDir: resolve(base, config.data_dir) };
}
function hnswProfileFor(config, vectors) {
  return hnswProfileIn(config.hnsw.profiles, vectors);
}
function hnswProfileIn(profiles, vectors) {
  return profiles.find((p) => p.max_vectors === null || vectors < p.max_vectors) ?? profiles.at(-1);
}

// src/cli/main.ts
import { readFileSync as readFileSync12 } from "node:fs";

// src/server/coordinator.ts
import { createServer as createServer3 } from "node:net";

// src/metrics/metrics.ts
import { Registry, Histogram, Counter, Gauge, collectDefaultMetrics } from "prom-client";

// src/metrics/metric-names.ts
var METRICS = {
  // The seed's metrics.
  vector_search_duration_seconds: { type: "histogram", labels: ["namespace", "shard_id"], help: "Duration of vector search operations" },
  vector_search_results_total: { type: "counter", labels: ["namespace"], help: "Total number of vector search results returned" },
  shard_query_latency_seconds: { type: "histogram", labels: ["shard_id", "query_type"], help: "Query latency per shard" },
  replication_lag_seconds: { type: "gauge", labels: ["shard_id", "replica_id"], help: "Replication lag in seconds (replay_lag as the primary reports it)" },
  shard_size_bytes: { type: "gauge", labels: ["shard_id"], help: "Size of shard in bytes" },
  shard_row_count: { type: "gauge", labels: ["shard_id", "table_name"], help: "Number of rows per shard" },
  // dpg's own.
  replication_lag_bytes: { type: "gauge", labels: ["shard_id", "replica_id"], help: "Bytes of WAL a standby is behind its primary" },
  dpg_group_has_leader: { type: "gauge", labels: ["group"], help: "1 when the group has a running primary, 0 when it has none" },
  dpg_client_connections: { type: "gauge", labels: [], help: "Client connections to this coordinator" },
  dpg_client_connections_max: { type: "gauge", labels: [], help: "Client connections this coordinator accepts" },
  dpg_pool_connections: { type: "gauge", labels: ["group", "state"], help: "Worker connections per group: in_use, idle, waiting (sessions waiting for one)" },
  dpg_plan_cache_hits_total: { type: "counter", labels: [], help: "Statements planned from the plan cache" },
  dpg_plan_cache_misses_total: { type: "counter", labels: [], help: "Statements parsed and planned" },
  dpg_statements_total: { type: "counter", labels: ["route"], help: "Statements by route: router (one shard), multi_shard, control, local" },
  dpg_two_phase_commits_total: { type: "counter", labels: ["outcome"], help: "Distributed commits: committed, failed, recovered_commit, recovered_rollback" },
  dpg_leader_changes_total: { type: "counter", labels: ["group"], help: "Changes of a group's primary this coordinator followed (from etcd)" },
  dpg_failover_retries_total: { type: "counter", labels: ["outcome"], help: "Statements hit by a lost or refused worker connection: retried (a read, or a write that never reached the worker) or unknown (a write whose outcome the client is told is unknown)" },
  dpg_result_cache_requests_total: { type: "counter", labels: ["result"], help: "Result cache lookups: hit or miss" },
  dpg_errors_total: { type: "counter", labels: ["sqlstate_class"], help: "Errors sent to clients, by SQLSTATE class (first two characters)" },
  dpg_shard_moves: { type: "gauge", labels: ["kind", "state", "running"], help: 'Shard moves, splits and merges that have not ended, by kind, step, and whether a process runs them (running="false": stopped, to resume or roll back)' },
  dpg_shard_move_last_pause_seconds: { type: "gauge", labels: ["kind"], help: "Write pause of the cutover of the last finished move, split or merge" },
  dpg_collector_last_success_timestamp_seconds: { type: "gauge", labels: [], help: "When the shard/replication collector last completed" }
};

// src/metrics/metrics.ts
var LATENCY_BUCKETS = [25e-5, 5e-4, 1e-3, 25e-4, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
var CoordinatorMetrics = class {
  constructor(namespaceLabelLimit = 0) {
    this.namespaceLabelLimit = namespaceLabelLimit;
    collectDefaultMetrics({ register: this.registry, prefix: "dpg_process_" });
    for (const outcome of ["committed", "failed", "recovered_commit", "recovered_rollback"]) this.twoPhaseCommits.inc({ outcome }, 0);
    for (const result of ["hit", "miss"]) this.resultCache.inc({ result }, 0);
    for (const outcome of ["retried", "unknown"]) this.failoverRetries.inc({ outcome }, 0);
  }
  namespaceLabelLimit;
  registry = new Registry();
  vectorSearchDuration = new Histogram({ name: "vector_search_duration_seconds", help: METRICS.vector_search_duration_seconds.help, labelNames: ["namespace", "shard_id"], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  vectorSearchResults = new Counter({ name: "vector_search_results_total", help: METRICS.vector_search_results_total.help, labelNames: ["namespace"], registers: [this.registry] });
  shardQueryLatency = new Histogram({ name: "shard_query_latency_seconds", help: METRICS.shard_query_latency_seconds.help, labelNames: ["shard_id", "query_type"], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  replicationLagSeconds = new Gauge({ name: "replication_lag_seconds", help: METRICS.replication_lag_seconds.help, labelNames: ["shard_id", "replica_id"], registers: [this.registry] });
  replicationLagBytes = new Gauge({ name: "replication_lag_bytes", help: METRICS.replication_lag_bytes.help, labelNames: ["shard_id", "replica_id"], registers: [this.registry] });
  shardSize = new Gauge({ name: "shard_size_bytes", help: METRICS.shard_size_bytes.help, labelNames: ["shard_id"], registers: [this.registry] });
  shardRows = new Gauge({ name: "shard_row_count", help: METRICS.shard_row_count.help, labelNames: ["shard_id", "table_name"], registers: [this.registry] });
  groupHasLeader = new Gauge({ name: "dpg_group_has_leader", help: METRICS.dpg_group_has_leader.help, labelNames: ["group"], registers: [this.registry] });
  clientConnections = new Gauge({ name: "dpg_client_connections", help: METRICS.dpg_client_connections.help, registers: [this.registry] });
  clientConnectionsMax = new Gauge({ name: "dpg_client_connections_max", help: METRICS.dpg_client_connections_max.help, registers: [this.registry] });
  poolConnections = new Gauge({ name: "dpg_pool_connections", help: METRICS.dpg_pool_connections.help, labelNames: ["group", "state"], registers: [this.registry] });
  planCacheHits = new Counter({ name: "dpg_plan_cache_hits_total", help: METRICS.dpg_plan_cache_hits_total.help, registers: [this.registry] });
  planCacheMisses = new Counter({ name: "dpg_plan_cache_misses_total", help: METRICS.dpg_plan_cache_misses_total.help, registers: [this.registry] });
  statements = new Counter({ name: "dpg_statements_total", help: METRICS.dpg_statements_total.help, labelNames: ["route"], registers: [this.registry] });
  twoPhaseCommits = new Counter({ name: "dpg_two_phase_commits_total", help: METRICS.dpg_two_phase_commits_total.help, labelNames: ["outcome"], registers: [this.registry] });
  failovers = new Counter({ name: "dpg_leader_changes_total", help: METRICS.dpg_leader_changes_total.help, labelNames: ["group"], registers: [this.registry] });
  failoverRetries = new Counter({ name: "dpg_failover_retries_total", help: METRICS.dpg_failover_retries_total.help, labelNames: ["outcome"], registers: [this.registry] });
  resultCache = new Counter({ name: "dpg_result_cache_requests_total", help: METRICS.dpg_result_cache_requests_total.help, labelNames: ["result"], registers: [this.registry] });
  errors = new Counter({ name: "dpg_errors_total", help: METRICS.dpg_errors_total.help, labelNames: ["sqlstate_class"], registers: [this.registry] });
  shardMoves = new Gauge({ name: "dpg_shard_moves", help: METRICS.dpg_shard_moves.help, labelNames: ["kind", "state", "running"], registers: [this.registry] });
  shardMoveLastPause = new Gauge({ name: "dpg_shard_move_last_pause_seconds", help: METRICS.dpg_shard_move_last_pause_seconds.help, labelNames: ["kind"], registers: [this.registry] });
  collectorSuccess = new Gauge({ name: "dpg_collector_last_success_timestamp_seconds", help: METRICS.dpg_collector_last_success_timestamp_seconds.help, registers: [this.registry] });
  namespaces = /* @__PURE__ */ new Set();
  /** The namespace label value: the namespace itself for the first N seen, else "_other" ("all" when the label is off). */
  namespaceLabel(namespace) {
    if (this.namespaceLabelLimit === 0) return "all";
    if (namespace === null) return "_multiple";
    if (this.namespaces.has(namespace)) return namespace;
    if (this.namespaces.size < this.namespaceLabelLimit) {
      this.namespaces.add(namespace);
      return namespace;
    }
    return "_other";
  }
};
var current = null;
function initMetrics(namespaceLabelLimit) {
  current = new CoordinatorMetrics(namespaceLabelLimit);
  return current;
}
function metrics() {
  return current;
}

// src/metrics/http.ts
import { createServer } from "node:http";
async function startMetricsServer(host, port, registryOf, beforeScrape, ready) {
  const server = createServer((request2, response) => {
    const path = (request2.url ?? "/").split("?")[0];
    const reply = (status, body, type = "text/plain; charset=utf-8") => {
      response.writeHead(status, { "content-type": type });
      response.end(body);
    };
    if (request2.method !== "GET" && request2.method !== "HEAD") return reply(405, "method not allowed\n");
    switch (path) {
      case "/metrics":
        beforeScrape();
        registryOf.registry.metrics().then(
          (text) => reply(200, text, registryOf.registry.contentType),
          (error) => reply(500, `metrics failed: ${error.message}
`)
        );
        return;
      case "/health":
        return reply(200, "ok\n");
      case "/ready":
        ready().then(
          (state) => reply(state.ready ? 200 : 503, state.ready ? "ready\n" : `not ready: ${state.reason}
`),
          (error) => reply(503, `not ready: ${error.message}
`)
        );
        return;
      default:
        return reply(404, "not found: try /metrics, /health or /ready\n");
    }
  });
  await new Promise((resolve3, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve3());
  });
  return server;
}

// src/executor/etcd-gateway.ts
var EtcdAuthError = class extends Error {
};
var b64 = (text) => Buffer.from(text, "utf8").toString("base64");
var unb64 = (text) => Buffer.from(text ?? "", "base64").toString("utf8");
function prefixEnd(prefix) {
  const bytes = Buffer.from(prefix, "utf8");
  bytes[bytes.length - 1]++;
  return bytes.toString("base64");
}
async function etcdCall(endpoint, path, body, token) {
  const response = await fetch(`${endpoint}/v3/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...token ? { authorization: token } : {} },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5e3)
  });
  const text = await response.text();
  let parsed = {};
  try {
    parsed = JSON.parse(text);
  } catch {
  }
  if (!response.ok) throw new EtcdAuthError(String(parsed.message ?? parsed.error ?? text ?? response.status));
  return parsed;
}
async function etcdToken(endpoint, login) {
  try {
    const answer = await etcdCall(endpoint, "auth/authenticate", { name: login.user, password: login.password });
    return typeof answer.token === "string" ? answer.token : null;
  } catch (error) {
    if (/authentication is not enabled/.test(error.message)) return null;
    throw error;
  }
}

// src/executor/leaders.ts
async function findGroupLeader(nodes, timeoutMs = 1e3) {
  for (const node of nodes) {
    try {
      const response = await fetch(`http://${node.host}:${node.patroniPort}/cluster`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) continue;
      const body = await response.json();
      const leader = body.members?.find((m) => m.role === "leader" && m.state === "running");
      if (leader) return nodes.find((n) => n.name === leader.name) ?? null;
    } catch {
    }
  }
  return null;
}
var LeaderWatcher = class {
  constructor(endpoints, prefix, onChange, log, login) {
    this.endpoints = endpoints;
    this.prefix = prefix;
    this.onChange = onChange;
    this.log = log;
    this.login = login;
    const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    this.pattern = new RegExp(`^${escaped}([^/]+)/leader$`);
  }
  endpoints;
  prefix;
  onChange;
  log;
  login;
  /** Leader member name by scope; null while the group has none (failover under way). */
  leaders = /* @__PURE__ */ new Map();
  connected = false;
  stopped = false;
  abort = null;
  endpointIndex = 0;
  pattern;
  /** etcd's token for `login` (null: none yet, or authentication is off). */
  token = null;
  start() {
    void this.run();
  }
  stop() {
    this.stopped = true;
    this.abort?.abort();
  }
  async run() {
    let failures = 0;
    while (!this.stopped) {
      const endpoint = this.endpoints[this.endpointIndex % this.endpoints.length];
      try {
        await this.follow(endpoint);
        failures = 0;
      } catch (error) {
        if (this.stopped) break;
        if (failures++ === 0) this.log(`leader watch on etcd ${endpoint}: ${error.message}; Patroni's REST API answers until it is back`);
      }
      this.connected = false;
      this.endpointIndex++;
      if (!this.stopped) await new Promise((r) => setTimeout(r, Math.min(2e3, 200 * failures)).unref());
    }
  }
  /** One range read and one watch on `endpoint`; returns when the watch stream ends. */
  async follow(endpoint) {
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.token = this.login ? await etcdToken(endpoint, this.login) : null;
    const headers = this.token ? { authorization: this.token } : {};
    const range = await fetch(`${endpoint}/v3/kv/range`, {
      method: "POST",
      headers,
      body: JSON.stringify({ key: b64(this.prefix), range_end: prefixEnd(this.prefix) }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(3e3)])
    });
    if (!range.ok) throw new Error(`range read: HTTP ${range.status} ${(await range.text()).slice(0, 200)}`);
    const body = await range.json();
    const seen = /* @__PURE__ */ new Set();
    for (const kv of body.kvs ?? []) {
      const scope = this.pattern.exec(unb64(kv.key))?.[1];
      if (!scope) continue;
      seen.add(scope);
      this.set(scope, unb64(kv.value));
    }
    for (const scope of this.leaders.keys()) if (!seen.has(scope)) this.set(scope, null);
    const revision = Number(body.header?.revision ?? 0);
    const watch = await fetch(`${endpoint}/v3/watch`, {
      method: "POST",
      headers,
      body: JSON.stringify({ create_request: { key: b64(this.prefix), range_end: prefixEnd(this.prefix), start_revision: String(revision + 1) } }),
      signal
    });
    if (!watch.ok || !watch.body) throw new Error(`watch: HTTP ${watch.status}`);
    this.connected = true;
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of watch.body) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) this.event(line);
      }
    }
    throw new Error("the watch stream ended");
  }
  event(line) {
    const message = JSON.parse(line);
    if (message.error) throw new Error(message.error.message ?? "watch error");
    if (message.result?.canceled) throw new Error(`watch canceled: ${message.result.cancel_reason ?? "no reason given"}`);
    for (const event of message.result?.events ?? []) {
      const scope = this.pattern.exec(unb64(event.kv?.key))?.[1];
      if (!scope) continue;
      this.set(scope, event.type === "DELETE" ? null : unb64(event.kv?.value));
    }
  }
  set(scope, leader) {
    if (this.leaders.has(scope) && this.leaders.get(scope) === leader) return;
    this.leaders.set(scope, leader);
    this.onChange(scope, leader);
  }
};

// src/server/client-error.ts
var ClientError = class extends Error {
  constructor(sqlstate, message, extra = {}) {
    super(message);
    this.sqlstate = sqlstate;
    this.extra = extra;
  }
  sqlstate;
  extra;
  toFields() {
    return { severity: "ERROR", severityNonLocalized: "ERROR", code: this.sqlstate, message: this.message, ...this.extra };
  }
};
var SqlState = {
  featureNotSupported: "0A000",
  insufficientPrivilege: "42501",
  protocolViolation: "08P01",
  invalidPassword: "28P01",
  invalidAuthorization: "28000",
  tooManyConnections: "53300",
  invalidCatalogName: "3D000",
  queryCanceled: "57014",
  adminShutdown: "57P01",
  connectionFailure: "08006",
  invalidParameterValue: "22023",
  syntaxError: "42601",
  undefinedTable: "42P01",
  inFailedTransaction: "25P02",
  invalidTransactionState: "25000",
  internalError: "XX000",
  invalidSqlStatementName: "26000",
  invalidCursorName: "34000",
  transactionResolutionUnknown: "08007",
  stackDepthLimitExceeded: "54001",
  programLimitExceeded: "54000"
};
function isStackOverflow(error) {
  return error instanceof RangeError && /call stack size/i.test(error.message);
}
function stackDepthExceeded() {
  return new ClientError(SqlState.stackDepthLimitExceeded, "stack depth limit exceeded", {
    hint: "The statement is nested or chained too deeply for the coordinator to plan (as PostgreSQL's max_stack_depth limits the server): simplify it, e.g. pass long lists as an array parameter."
  });
}
function errorFields(error) {
  if (error instanceof ClientError) return error.toFields();
  if (isStackOverflow(error)) return stackDepthExceeded().toFields();
  const withFields = error;
  if (withFields && typeof withFields === "object" && withFields.fields && withFields.fields.code) return withFields.fields;
  if (withFields && typeof withFields.sqlstate === "string") {
    const fields = { severity: "ERROR", severityNonLocalized: "ERROR", code: withFields.sqlstate, message: withFields.message ?? "error" };
    if (typeof withFields.position === "number") fields.position = String(withFields.position);
    return fields;
  }
  return { severity: "ERROR", severityNonLocalized: "ERROR", code: SqlState.internalError, message: `internal error: ${error?.message ?? String(error)}` };
}

// src/rebalance/move-catalog.ts
var UNFINISHED = ["setup", "copying", "catching-up", "cutover", "cleanup", "rolling-back"];
var BEFORE_CUTOVER = ["setup", "copying", "catching-up", "cutover", "rolling-back"];
var moveObjectName = (id) => `dpg_move_${id}`;
var MOVE_GID = /^dpg_move_(\d+)$/;
var MOVE_LOCK_CLASS = 6582381;
async function loadMove(control, id) {
  const result = await control.query(
    `SELECT m.move_id, m.colocation_id, m.shard_index, m.shard_ids::text[] AS shard_ids, m.source_group, m.target_group, m.state,
            m.rows_total, m.bytes_total, m.pause_ms, m.detail, m.kind, coalesce(m.new_shard_ids, '{}')::text[] AS new_shard_ids,
            coalesce(m.split_points, '{}') AS split_points,
            ARRAY(SELECT s.table_name || '_' || s.shardid FROM dpg_catalog.shards s WHERE s.shardid = ANY (m.shard_ids) ORDER BY s.table_name) AS tables,
            ARRAY(SELECT coalesce(s.table_name, '') FROM unnest(m.shard_ids) WITH ORDINALITY AS u(id, n) LEFT JOIN dpg_catalog.shards s ON s.shardid = u.id ORDER BY u.n) AS member_tables
     FROM dpg_catalog.shard_moves m WHERE m.move_id = $1`,
    [id]
  );
  const row = result.rows[0];
  if (!row) throw new ClientError("22023", `there is no shard move ${id}; see SELECT * FROM dpg_shard_moves`);
  return {
    id: Number(row.move_id),
    colocationId: row.colocation_id,
    shardIndex: row.shard_index,
    shardIds: row.shard_ids,
    tables: row.tables,
    sourceGroup: row.source_group,
    targetGroup: row.target_group,
    state: row.state,
    rowsTotal: row.rows_total === null ? null : Number(row.rows_total),
    bytesTotal: row.bytes_total === null ? null : Number(row.bytes_total),
    pauseMs: row.pause_ms,
    detail: row.detail,
    kind: row.kind,
    members: row.shard_ids.map((shardId, i) => ({ table: row.member_tables[i], shardId })),
    newShardIds: row.new_shard_ids,
    splitPoints: row.split_points
  };
}
async function unfinishedMoves(control) {
  const result = await control.query(`SELECT move_id FROM dpg_catalog.shard_moves WHERE state = ANY ($1) ORDER BY move_id`, [UNFINISHED]);
  return result.rows.map((r) => Number(r.move_id));
}
async function advance(control, id, from, to, detail) {
  const result = await control.query(
    `UPDATE dpg_catalog.shard_moves SET state = $3, updated_at = now(), detail = coalesce($4, detail),
            finished_at = CASE WHEN $3 IN ('done', 'rolled-back') THEN now() END
     WHERE move_id = $1 AND state = ANY ($2)`,
    [id, Array.isArray(from) ? from : [from], to, detail ?? null]
  );
  return result.rowCount === 1;
}
async function shardGroupOf(control, shardId) {
  if (!/^\d+$/.test(shardId)) throw new ClientError("22023", `shard id must be a number, got ${JSON.stringify(shardId)}`);
  const shard = await control.query(
    `SELECT s.shard_index, t.colocation_id, t.kind, t.table_name FROM dpg_catalog.shards s JOIN dpg_catalog.tables t USING (table_name) WHERE s.shardid = $1`,
    [shardId]
  );
  const row = shard.rows[0];
  if (!row) throw new ClientError("22023", `shard ${shardId} does not exist; see SELECT * FROM citus_shards`);
  if (row.kind !== "distributed") {
    throw new ClientError("0A000", `shard ${shardId} is the shard of reference table ${row.table_name}, which has a copy on every worker group; there is nothing to move`);
  }
  const members2 = await control.query(
    `SELECT s.shardid::text AS shardid, p.group_id FROM dpg_catalog.shards s JOIN dpg_catalog.tables t USING (table_name)
     JOIN dpg_catalog.placements p USING (shardid) WHERE t.colocation_id = $1 AND s.shard_index = $2 ORDER BY s.table_name`,
    [row.colocation_id, row.shard_index]
  );
  const groups = new Set(members2.rows.map((r) => r.group_id));
  if (groups.size !== 1) throw new ClientError("XX000", `the co-located shards of shard ${shardId} are on several groups (${[...groups].join(", ")}); finish or roll back the moves in dpg_shard_moves first`);
  return { colocationId: row.colocation_id, shardIndex: row.shard_index, shardIds: members2.rows.map((r) => r.shardid), groupId: [...groups][0] };
}
async function claimShards(control, insert) {
  try {
    await control.query("BEGIN");
    await control.query("LOCK TABLE dpg_catalog.shard_moves IN SHARE ROW EXCLUSIVE MODE");
    const record = await insert();
    const active = await control.query(
      `SELECT move_id, kind, state FROM dpg_catalog.shard_moves WHERE state = ANY ($1) AND shard_ids && $2::bigint[] AND move_id <> $3 ORDER BY move_id LIMIT 1`,
      [UNFINISHED, record.shardIds, record.id]
    );
    const other = active.rows[0];
    if (other) {
      throw new ClientError(
        "55006",
        `shards ${record.shardIds.join(", ")} are in an unfinished ${other.kind} (${other.move_id}, ${other.state}); resume it with 'npx dpg move-shard --resume ${other.move_id}' or roll it back with --rollback ${other.move_id}`
      );
    }
    await control.query("COMMIT");
    return record.id;
  } catch (error) {
    await control.query("ROLLBACK").catch(() => {
    });
    throw error;
  }
}
async function createMove(control, shardId, targetGroup, sourceGroup) {
  return claimShards(control, async () => {
    const group = await shardGroupOf(control, shardId);
    const target = await control.query("SELECT kind, name FROM dpg_catalog.groups WHERE group_id = $1", [targetGroup]);
    if (target.rows[0]?.kind !== "worker") throw new ClientError("22023", `group ${targetGroup} is not a worker group; see SELECT * FROM pg_dist_node`);
    if (sourceGroup !== void 0 && sourceGroup !== group.groupId) {
      throw new ClientError("22023", `shard ${shardId} is on group ${group.groupId}, not on group ${sourceGroup}`);
    }
    if (group.groupId === targetGroup) throw new ClientError("22023", `shard ${shardId} is already on group ${targetGroup}`);
    const inserted = await control.query(
      `INSERT INTO dpg_catalog.shard_moves (colocation_id, shard_index, shard_ids, source_group, target_group) VALUES ($1, $2, $3::bigint[], $4, $5) RETURNING move_id`,
      [group.colocationId, group.shardIndex, group.shardIds, group.groupId, targetGroup]
    );
    return { id: Number(inserted.rows[0].move_id), shardIds: group.shardIds };
  });
}

// src/metrics/collector.ts
async function collectClusterMetrics(coordinator, m) {
  const snapshot = coordinator.snapshot;
  const shardNames = /* @__PURE__ */ new Map();
  for (const table2 of snapshot.tables.values()) {
    for (const shard of table2.shards) {
      for (const group of shard.groupIds) {
        shardNames.set(group, [...shardNames.get(group) ?? [], { shardId: shard.shardId, table: table2.name, name: `${table2.name}_${shard.shardId}` }]);
      }
    }
  }
  const stats = [];
  m.shardSize.reset();
  m.shardRows.reset();
  m.replicationLagBytes.reset();
  m.replicationLagSeconds.reset();
  await Promise.all(
    [...snapshot.groups.values()].map(async (group) => {
      const nodes = snapshot.nodes.filter((n) => n.groupId === group.id);
      const leader = await findGroupLeader(nodes);
      m.groupHasLeader.set({ group: group.name }, leader ? 1 : 0);
      if (!leader) return;
      const pool2 = coordinator.pool(group.id);
      const connection2 = await pool2.acquire();
      try {
        const lag = await connection2.simpleQuery(
          `SELECT application_name, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint, coalesce(extract(epoch FROM replay_lag), 0)::float8 FROM pg_stat_replication`
        );
        for (const [replica, bytes, seconds] of lag.rows) {
          m.replicationLagBytes.set({ shard_id: group.name, replica_id: replica ?? "" }, Number(bytes));
          m.replicationLagSeconds.set({ shard_id: group.name, replica_id: replica ?? "" }, Number(seconds));
        }
        const shards = shardNames.get(group.id) ?? [];
        if (shards.length === 0) return;
        const sizes = await connection2.simpleQuery(
          `SELECT c.relname, pg_total_relation_size(c.oid), coalesce(s.n_live_tup, 0) FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
           WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace AND c.relname = ANY('{${shards.map((s) => s.name).join(",")}}'::text[])`
        );
        const byName = new Map(sizes.rows.map(([name, size, rows]) => [name, { size, rows }]));
        for (const shard of shards) {
          const found = byName.get(shard.name);
          if (!found) continue;
          m.shardSize.set({ shard_id: shard.shardId }, Number(found.size));
          m.shardRows.set({ shard_id: shard.shardId, table_name: shard.table }, Number(found.rows));
          stats.push({ shardId: shard.shardId, group: group.id, size: found.size, rows: found.rows });
          coordinator.shardRows.set(shard.shardId, Number(found.rows));
        }
      } finally {
        pool2.release(connection2);
      }
    })
  );
  const pool = coordinator.pool(0);
  const connection = await pool.acquire();
  try {
    const moves = await connection.simpleQuery(
      `SELECT m.kind, m.state, EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = ${MOVE_LOCK_CLASS} AND l.objid = m.move_id AND l.granted)::text, count(*)
       FROM dpg_catalog.shard_moves m WHERE m.state NOT IN ('done', 'rolled-back') GROUP BY 1, 2, 3`
    );
    m.shardMoves.reset();
    for (const [kind, state, running, count2] of moves.rows) m.shardMoves.set({ kind, state, running }, Number(count2));
    const pauses = await connection.simpleQuery(
      `SELECT DISTINCT ON (kind) kind, pause_ms / 1000 FROM dpg_catalog.shard_moves WHERE state = 'done' AND pause_ms IS NOT NULL ORDER BY kind, finished_at DESC`
    );
    for (const [kind, seconds] of pauses.rows) m.shardMoveLastPause.set({ kind }, Number(seconds));
  } finally {
    pool.release(connection);
  }
  if (stats.length > 0) {
    const pool2 = coordinator.pool(0);
    const connection2 = await pool2.acquire();
    try {
      await connection2.simpleQuery(
        `INSERT INTO dpg_catalog.shard_stats (shardid, group_id, size_bytes, row_count)
         VALUES ${stats.map((s) => `(${s.shardId}, ${s.group}, ${Number(s.size)}, ${Number(s.rows)})`).join(", ")}
         ON CONFLICT (shardid, group_id) DO UPDATE SET size_bytes = EXCLUDED.size_bytes, row_count = EXCLUDED.row_count, collected_at = now()`
      );
    } finally {
      pool2.release(connection2);
    }
  }
  m.collectorSuccess.set(Date.now() / 1e3);
}

// src/server/coordinator.ts
import pg3 from "pg";

// src/server/client-session.ts
import { TLSSocket } from "node:tls";
import { randomInt as randomInt2 } from "node:crypto";

// src/protocol/errors.ts
var ProtocolError = class extends Error {
  sqlstate = "08P01";
  constructor(message) {
    super(message);
    this.name = "ProtocolError";
  }
};

// src/protocol/message-codes.ts
var FrontendCode = {
  /** 'Q' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Query: 81,
  /** 'P' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Parse: 80,
  /** 'B' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Bind: 66,
  /** 'D' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Describe: 68,
  /** 'E' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Execute: 69,
  /** 'C' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Close: 67,
  /** 'S' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Sync: 83,
  /** 'H' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Flush: 72,
  /** 'X' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Terminate: 88,
  /** 'd' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyData: 100,
  /** 'c' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyDone: 99,
  /** 'f' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyFail: 102,
  /**
   * 'p': PasswordMessage, SASLInitialResponse and SASLResponse share this byte; which
   * one it is follows from the authentication exchange in progress.
   * https://www.postgresql.org/docs/15/protocol-message-formats.html
   */
  Password: 112,
  /** 'F' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  FunctionCall: 70
};
var BackendCode = {
  /** 'R' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Authentication: 82,
  /** 'S' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  ParameterStatus: 83,
  /** 'K' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  BackendKeyData: 75,
  /** 'Z' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  ReadyForQuery: 90,
  /** 'T' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  RowDescription: 84,
  /** 'D' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  DataRow: 68,
  /** 'C' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CommandComplete: 67,
  /** 'I' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  EmptyQueryResponse: 73,
  /** 'E' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  ErrorResponse: 69,
  /** 'N' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  NoticeResponse: 78,
  /** '1' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  ParseComplete: 49,
  /** '2' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  BindComplete: 50,
  /** '3' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CloseComplete: 51,
  /** 'n' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  NoData: 110,
  /** 's' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  PortalSuspended: 115,
  /** 't' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  ParameterDescription: 116,
  /** 'G' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyInResponse: 71,
  /** 'H' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyOutResponse: 72,
  /** 'W' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyBothResponse: 87,
  /** 'd' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyData: 100,
  /** 'c' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyDone: 99,
  /** 'A' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  NotificationResponse: 65,
  /** 'v' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  NegotiateProtocolVersion: 118,
  /** 'V' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  FunctionCallResponse: 86
};
var SSL_REQUEST_CODE = 80877103;
var GSSENC_REQUEST_CODE = 80877104;
var CANCEL_REQUEST_CODE = 80877102;
var AuthenticationCode = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  /** followed by a 4-byte salt */
  MD5Password: 5,
  GSS: 7,
  /** followed by GSSAPI or SSPI data */
  GSSContinue: 8,
  SSPI: 9,
  /** followed by the mechanism names, each NUL-terminated, then a NUL */
  SASL: 10,
  /** followed by SASL data */
  SASLContinue: 11,
  /** followed by SASL outcome data */
  SASLFinal: 12
};

// src/protocol/frames.ts
var DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
var MAX_STARTUP_PACKET_BYTES = 1e4;
var TYPED_HEADER_BYTES = 5;
var STARTUP_HEADER_BYTES = 4;
var MIN_STARTUP_PACKET_BYTES = 8;
var FrameReader = class {
  startup;
  maxMessageBytes;
  /** Header bytes of a frame whose length is not yet known (fewer than a header). */
  head = Buffer.alloc(TYPED_HEADER_BYTES);
  headFilled = 0;
  /** A frame of known length being assembled from several chunks. */
  partial = null;
  partialFilled = 0;
  /** Bytes received after an SSL/GSSENC request, not parsed yet. */
  held = null;
  failure = null;
  constructor(options = {}) {
    this.startup = options.startup ?? false;
    this.maxMessageBytes = checkMaxMessageBytes(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  }
  /**
   * Changes the largest accepted length from the next message header on (a server raises
   * it once the client has authenticated); a message whose header was read keeps its limit.
   */
  setMaxMessageBytes(maxMessageBytes) {
    this.maxMessageBytes = checkMaxMessageBytes(maxMessageBytes);
  }
  /** Read the next packet as an untyped startup packet. */
  expectStartup() {
    if (this.headFilled > 0 || this.partial !== null) {
      throw new ProtocolError("cannot expect a startup packet in the middle of a message");
    }
    this.startup = true;
  }
  /** Bytes received but not yet returned as frames. */
  get buffered() {
    return this.headFilled + this.partialFilled + (this.held?.length ?? 0);
  }
  push(chunk) {
    if (this.failure !== null) throw this.failure;
    if (this.held !== null) {
      chunk = chunk.length === 0 ? this.held : Buffer.concat([this.held, chunk]);
      this.held = null;
    }
    try {
      return this.parse(chunk);
    } catch (error) {
      this.failure = error instanceof ProtocolError ? error : new ProtocolError(`unreadable message stream: ${String(error)}`);
      this.headFilled = 0;
      this.partial = null;
      this.partialFilled = 0;
      throw this.failure;
    }
  }
  parse(chunk) {
    const frames = [];
    let offset = 0;
    if (this.headFilled > 0) {
      const headerBytes = this.headerBytes();
      const take = Math.min(headerBytes - this.headFilled, chunk.length);
      chunk.copy(this.head, this.headFilled, 0, take);
      this.headFilled += take;
      offset = take;
      if (this.headFilled < headerBytes) return frames;
      this.partial = Buffer.allocUnsafe(this.frameLength(this.head, 0));
      this.head.copy(this.partial, 0, 0, headerBytes);
      this.partialFilled = headerBytes;
      this.headFilled = 0;
    }
    if (this.partial !== null) {
      const partial = this.partial;
      const take = Math.min(partial.length - this.partialFilled, chunk.length - offset);
      chunk.copy(partial, this.partialFilled, offset, offset + take);
      this.partialFilled += take;
      offset += take;
      if (this.partialFilled < partial.length) return frames;
      this.partial = null;
      this.partialFilled = 0;
      if (this.emit(frames, partial, 0, partial.length)) return this.hold(frames, chunk, offset);
    }
    for (; ; ) {
      const available = chunk.length - offset;
      const headerBytes = this.headerBytes();
      if (available < headerBytes) {
        if (available > 0) {
          chunk.copy(this.head, 0, offset);
          this.headFilled = available;
        }
        return frames;
      }
      const length = this.frameLength(chunk, offset);
      if (available < length) {
        this.partial = Buffer.allocUnsafe(length);
        chunk.copy(this.partial, 0, offset);
        this.partialFilled = available;
        return frames;
      }
      const start = offset;
      offset += length;
      if (this.emit(frames, chunk, start, length)) return this.hold(frames, chunk, offset);
    }
  }
  headerBytes() {
    return this.startup ? STARTUP_HEADER_BYTES : TYPED_HEADER_BYTES;
  }
  /** Total length of the frame whose header starts at `offset`, validated. */
  frameLength(buffer, offset) {
    if (this.startup) {
      const length2 = buffer.readInt32BE(offset);
      const limit = Math.min(this.maxMessageBytes, MAX_STARTUP_PACKET_BYTES);
      if (length2 < MIN_STARTUP_PACKET_BYTES || length2 > limit) {
        throw new ProtocolError(`invalid length of startup packet: ${length2}`);
      }
      return length2;
    }
    const length = buffer.readInt32BE(offset + 1);
    if (length < 4 || length > this.maxMessageBytes) {
      const code = buffer[offset];
      throw new ProtocolError(`invalid message length ${length} for message type ${describeByte(code)}`);
    }
    return length + 1;
  }
  /**
   * Appends the frame at buffer[start, start+length) and updates the mode.
   * Returns true when parsing must stop after it (an SSL or GSSENC request).
   */
  emit(frames, buffer, start, length) {
    const raw = start === 0 && length === buffer.length ? buffer : buffer.subarray(start, start + length);
    if (!this.startup) {
      frames.push({ code: raw[0], body: raw.subarray(TYPED_HEADER_BYTES), raw });
      return false;
    }
    frames.push({ code: 0, body: raw.subarray(STARTUP_HEADER_BYTES), raw });
    const requestCode = raw.readInt32BE(STARTUP_HEADER_BYTES);
    if (requestCode === SSL_REQUEST_CODE || requestCode === GSSENC_REQUEST_CODE) return true;
    this.startup = false;
    return false;
  }
  hold(frames, chunk, offset) {
    if (offset < chunk.length) this.held = chunk.subarray(offset);
    return frames;
  }
};
function checkMaxMessageBytes(value) {
  if (!Number.isInteger(value) || value < 4 || value > 2147483647) {
    throw new RangeError(`FrameReader maxMessageBytes must be an integer from 4 to 2^31-1, got ${value}`);
  }
  return value;
}
function describeByte(code) {
  const hex = `0x${code.toString(16).padStart(2, "0")}`;
  return code >= 32 && code < 127 ? `'${String.fromCharCode(code)}' (${hex})` : hex;
}

// src/protocol/body-reader.ts
import { isUtf8 } from "node:buffer";
var BodyReader = class {
  constructor(body, messageName) {
    this.body = body;
    this.messageName = messageName;
  }
  body;
  messageName;
  offset = 0;
  fail(problem) {
    throw new ProtocolError(`invalid ${this.messageName} message: ${problem}`);
  }
  /** Fails unless `bytes` more bytes remain; lets a count be checked before allocating for it. */
  need(bytes, what2) {
    if (this.body.length - this.offset < bytes) this.fail(`${what2} runs past the end of the message`);
  }
  byte(what2) {
    this.need(1, what2);
    return this.body[this.offset++];
  }
  int16(what2) {
    this.need(2, what2);
    const value = this.body.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  /** Counts are Int16 on the wire but PostgreSQL reads them unsigned (up to 65535 parameters). */
  count(what2) {
    this.need(2, what2);
    const value = this.body.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  int32(what2) {
    this.need(4, what2);
    const value = this.body.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  /** OIDs, process ids and cancel keys: unsigned 32-bit. */
  uint32(what2) {
    this.need(4, what2);
    const value = this.body.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  /** A NUL-terminated UTF-8 string. */
  cstring(what2) {
    const end = this.body.indexOf(0, this.offset);
    if (end < 0) this.fail(`${what2} is not NUL-terminated`);
    const value = decodeUtf8(this.body, this.offset, end, () => this.fail(`${what2} is not valid UTF-8`));
    this.offset = end + 1;
    return value;
  }
  /** `length` bytes as a view of the body. */
  bytes(length, what2) {
    this.need(length, what2);
    const start = this.offset;
    this.offset += length;
    return this.body.subarray(start, this.offset);
  }
  /** Int32 length (-1 for NULL) followed by that many bytes. */
  nullableBytes(what2) {
    const length = this.int32(`length of ${what2}`);
    if (length === -1) return null;
    if (length < 0) this.fail(`${what2} has negative length ${length}`);
    return this.bytes(length, what2);
  }
  /** Everything not read yet, as a view. */
  rest() {
    const start = this.offset;
    this.offset = this.body.length;
    return this.body.subarray(start);
  }
  get remaining() {
    return this.body.length - this.offset;
  }
  end() {
    if (this.offset !== this.body.length) {
      this.fail(`${this.body.length - this.offset} unexpected bytes after the last field`);
    }
  }
};
function decodeUtf8(buffer, start, end, onInvalid) {
  const value = buffer.toString("utf8", start, end);
  if (value.includes("\uFFFD") && !isUtf8(buffer.subarray(start, end))) onInvalid();
  return value;
}
function readFormatCodes(reader, what2) {
  const count2 = reader.count(`number of ${what2}`);
  reader.need(count2 * 2, what2);
  const formats = new Array(count2);
  for (let i = 0; i < count2; i++) {
    const format = reader.int16(what2);
    if (format !== 0 && format !== 1) reader.fail(`${what2} must be 0 or 1, got ${format}`);
    formats[i] = format;
  }
  return formats;
}

// src/protocol/message-writer.ts
var MessageWriter = class _MessageWriter {
  buffer;
  offset;
  /** A typed message: Byte1 code, Int32 length (which counts itself but not the code). */
  static typed(code, bodyBytes) {
    const writer = new _MessageWriter(bodyBytes + 5);
    writer.buffer[0] = code;
    writer.buffer.writeInt32BE(bodyBytes + 4, 1);
    writer.offset = 5;
    return writer;
  }
  /** An untyped startup-phase packet: Int32 length counting itself. */
  static untyped(bodyBytes) {
    const writer = new _MessageWriter(bodyBytes + 4);
    writer.buffer.writeInt32BE(bodyBytes + 4, 0);
    writer.offset = 4;
    return writer;
  }
  constructor(size) {
    this.buffer = Buffer.allocUnsafe(size);
    this.offset = 0;
  }
  byte(value) {
    this.buffer[this.offset++] = value;
    return this;
  }
  int16(value) {
    this.offset = this.buffer.writeInt16BE(value, this.offset);
    return this;
  }
  /** Counts are read unsigned by PostgreSQL; `checkCount` bounds them first. */
  count(value) {
    this.offset = this.buffer.writeUInt16BE(value, this.offset);
    return this;
  }
  int32(value) {
    this.offset = this.buffer.writeInt32BE(value, this.offset);
    return this;
  }
  /** OIDs, process ids, cancel keys: accepts the signed or the unsigned reading. */
  uint32(value) {
    this.offset = this.buffer.writeUInt32BE(value >>> 0, this.offset);
    return this;
  }
  cstring(value) {
    this.offset += this.buffer.write(value, this.offset, "utf8");
    this.buffer[this.offset++] = 0;
    return this;
  }
  bytes(value) {
    this.offset += value.copy(this.buffer, this.offset);
    return this;
  }
  /** Int32 length (-1 for NULL) and the bytes. */
  nullableBytes(value) {
    if (value === null) return this.int32(-1);
    this.int32(value.length);
    return this.bytes(value);
  }
  finish() {
    if (this.offset !== this.buffer.length) {
      throw new Error(`message writer filled ${this.offset} of ${this.buffer.length} bytes`);
    }
    return this.buffer;
  }
};
function cstringBytes(value, what2) {
  if (value.includes("\0")) throw new ProtocolError(`${what2} must not contain a NUL character`);
  return Buffer.byteLength(value, "utf8") + 1;
}
function checkCount(count2, what2) {
  if (count2 > 65535) throw new ProtocolError(`too many ${what2}: ${count2} (at most 65535)`);
  return count2;
}

// src/protocol/frontend-encode.ts
var SYNC = MessageWriter.typed(FrontendCode.Sync, 0).finish();
var FLUSH = MessageWriter.typed(FrontendCode.Flush, 0).finish();
var TERMINATE = MessageWriter.typed(FrontendCode.Terminate, 0).finish();
var COPY_DONE = MessageWriter.typed(FrontendCode.CopyDone, 0).finish();
var SSL_REQUEST = MessageWriter.untyped(4).int32(SSL_REQUEST_CODE).finish();
var GSSENC_REQUEST = MessageWriter.untyped(4).int32(GSSENC_REQUEST_CODE).finish();
function encodeFrontend(message) {
  switch (message.type) {
    case "Startup":
      return encodeStartup(message.protocolVersion, message.parameters);
    case "SSLRequest":
      return SSL_REQUEST;
    case "GSSENCRequest":
      return GSSENC_REQUEST;
    case "CancelRequest":
      return MessageWriter.untyped(12).int32(CANCEL_REQUEST_CODE).uint32(message.processId).uint32(message.secretKey).finish();
    case "Query":
      return MessageWriter.typed(FrontendCode.Query, cstringBytes(message.sql, "query string")).cstring(message.sql).finish();
    case "Parse":
      return encodeParse(message.name, message.sql, message.parameterTypes);
    case "Bind":
      return encodeBind(message);
    case "Describe":
    case "Close": {
      const code = message.type === "Describe" ? FrontendCode.Describe : FrontendCode.Close;
      return MessageWriter.typed(code, 1 + cstringBytes(message.name, "name")).byte(message.kind.charCodeAt(0)).cstring(message.name).finish();
    }
    case "Execute":
      return MessageWriter.typed(FrontendCode.Execute, cstringBytes(message.portal, "portal name") + 4).cstring(message.portal).int32(message.maxRows).finish();
    case "Sync":
      return SYNC;
    case "Flush":
      return FLUSH;
    case "Terminate":
      return TERMINATE;
    case "CopyData":
      return MessageWriter.typed(FrontendCode.CopyData, message.data.length).bytes(message.data).finish();
    case "CopyDone":
      return COPY_DONE;
    case "CopyFail":
      return MessageWriter.typed(FrontendCode.CopyFail, cstringBytes(message.message, "error message")).cstring(message.message).finish();
    case "Password":
      return MessageWriter.typed(FrontendCode.Password, message.data.length).bytes(message.data).finish();
    case "FunctionCall":
      return MessageWriter.typed(FrontendCode.FunctionCall, 10).uint32(0).count(0).count(0).int16(0).finish();
  }
}
function encodeStartup(protocolVersion, parameters) {
  const entries = Object.entries(parameters);
  let bodyBytes = 4 + 1;
  for (const [name, value] of entries) {
    if (name === "") throw new ProtocolError("a startup parameter name must not be empty");
    bodyBytes += cstringBytes(name, "startup parameter name") + cstringBytes(value, `value of parameter "${name}"`);
  }
  const writer = MessageWriter.untyped(bodyBytes).uint32(protocolVersion);
  for (const [name, value] of entries) writer.cstring(name).cstring(value);
  return writer.byte(0).finish();
}
function encodeParse(name, sql, parameterTypes) {
  const count2 = checkCount(parameterTypes.length, "parameter types");
  const writer = MessageWriter.typed(
    FrontendCode.Parse,
    cstringBytes(name, "statement name") + cstringBytes(sql, "query string") + 2 + 4 * count2
  ).cstring(name).cstring(sql).count(count2);
  for (const oid of parameterTypes) writer.uint32(oid);
  return writer.finish();
}
function encodeBind(message) {
  const { parameterFormats, parameters, resultFormats } = message;
  checkCount(parameterFormats.length, "parameter format codes");
  checkCount(parameters.length, "parameters");
  checkCount(resultFormats.length, "result format codes");
  let bodyBytes = cstringBytes(message.portal, "portal name") + cstringBytes(message.statement, "statement name") + 6 + 2 * parameterFormats.length + 4 * parameters.length + 2 * resultFormats.length;
  for (const value of parameters) if (value !== null) bodyBytes += value.length;
  const writer = MessageWriter.typed(FrontendCode.Bind, bodyBytes).cstring(message.portal).cstring(message.statement).count(parameterFormats.length);
  for (const format of parameterFormats) writer.int16(format);
  writer.count(parameters.length);
  for (const value of parameters) writer.nullableBytes(value);
  writer.count(resultFormats.length);
  for (const format of resultFormats) writer.int16(format);
  return writer.finish();
}
function encodeSASLInitialResponse(mechanism, response) {
  const responseBytes = response === null ? 0 : response.length;
  return MessageWriter.typed(FrontendCode.Password, cstringBytes(mechanism, "SASL mechanism") + 4 + responseBytes).cstring(mechanism).nullableBytes(response).finish();
}
function encodeSASLResponse(data) {
  return MessageWriter.typed(FrontendCode.Password, data.length).bytes(data).finish();
}

// src/protocol/frontend.ts
var SYNC_MESSAGE = { type: "Sync" };
var FLUSH_MESSAGE = { type: "Flush" };
var TERMINATE_MESSAGE = { type: "Terminate" };
var COPY_DONE_MESSAGE = { type: "CopyDone" };
function decodeFrontend(frame) {
  const body = frame.body;
  switch (frame.code) {
    case 0:
      if (frame.raw.length !== body.length + 4) throw new ProtocolError("invalid frontend message type 0x00");
      return decodeStartupPacket(body);
    case FrontendCode.Query: {
      const reader = new BodyReader(body, "Query");
      const sql = reader.cstring("query string");
      reader.end();
      return { type: "Query", sql };
    }
    case FrontendCode.Parse:
      return decodeParse(body);
    case FrontendCode.Bind:
      return decodeBind(body);
    case FrontendCode.Describe: {
      const reader = new BodyReader(body, "Describe");
      const kind = readTargetKind(reader);
      const name = reader.cstring("name");
      reader.end();
      return { type: "Describe", kind, name };
    }
    case FrontendCode.Execute: {
      const reader = new BodyReader(body, "Execute");
      const portal = reader.cstring("portal name");
      const maxRows = reader.int32("maximum row count");
      reader.end();
      return { type: "Execute", portal, maxRows };
    }
    case FrontendCode.Close: {
      const reader = new BodyReader(body, "Close");
      const kind = readTargetKind(reader);
      const name = reader.cstring("name");
      reader.end();
      return { type: "Close", kind, name };
    }
    case FrontendCode.Sync:
      expectEmpty(body, "Sync");
      return SYNC_MESSAGE;
    case FrontendCode.Flush:
      expectEmpty(body, "Flush");
      return FLUSH_MESSAGE;
    case FrontendCode.Terminate:
      expectEmpty(body, "Terminate");
      return TERMINATE_MESSAGE;
    case FrontendCode.CopyData:
      return { type: "CopyData", data: body };
    case FrontendCode.CopyDone:
      expectEmpty(body, "CopyDone");
      return COPY_DONE_MESSAGE;
    case FrontendCode.CopyFail: {
      const reader = new BodyReader(body, "CopyFail");
      const message = reader.cstring("error message");
      reader.end();
      return { type: "CopyFail", message };
    }
    case FrontendCode.Password:
      return { type: "Password", data: body };
    case FrontendCode.FunctionCall:
      validateFunctionCall(body);
      return { type: "FunctionCall" };
    default:
      throw new ProtocolError(`invalid frontend message type ${describeByte(frame.code)}`);
  }
}
function decodeStartupPacket(body) {
  const reader = new BodyReader(body, "startup packet");
  const code = reader.int32("protocol version");
  switch (code) {
    case SSL_REQUEST_CODE:
      reader.end();
      return { type: "SSLRequest" };
    case GSSENC_REQUEST_CODE:
      reader.end();
      return { type: "GSSENCRequest" };
    case CANCEL_REQUEST_CODE: {
      const processId = reader.uint32("process id");
      const secretKey = reader.uint32("secret key");
      reader.end();
      return { type: "CancelRequest", processId, secretKey };
    }
  }
  const major = code >>> 16;
  if (major !== 3) {
    throw new ProtocolError(`unsupported frontend protocol ${major}.${code & 65535}: server supports 3.0`);
  }
  const parameters = {};
  for (; ; ) {
    const name = reader.cstring("parameter name");
    if (name === "") break;
    const value = reader.cstring(`value of parameter "${name}"`);
    Object.defineProperty(parameters, name, { value, enumerable: true, writable: true, configurable: true });
  }
  reader.end();
  return { type: "Startup", protocolVersion: code, parameters };
}
function decodeParse(body) {
  const reader = new BodyReader(body, "Parse");
  const name = reader.cstring("statement name");
  const sql = reader.cstring("query string");
  const count2 = reader.count("number of parameter types");
  reader.need(count2 * 4, "parameter types");
  const parameterTypes = new Array(count2);
  for (let i = 0; i < count2; i++) parameterTypes[i] = reader.uint32("parameter type");
  reader.end();
  return { type: "Parse", name, sql, parameterTypes };
}
function decodeBind(body) {
  const reader = new BodyReader(body, "Bind");
  const portal = reader.cstring("portal name");
  const statement = reader.cstring("statement name");
  const parameterFormats = readFormatCodes(reader, "parameter format codes");
  const parameters = readArguments(reader, parameterFormats.length, "parameter");
  const resultFormats = readFormatCodes(reader, "result format codes");
  reader.end();
  return { type: "Bind", portal, statement, parameterFormats, parameters, resultFormats };
}
function readArguments(reader, formatCount, what2) {
  const count2 = reader.count(`number of ${what2}s`);
  if (formatCount > 1 && formatCount !== count2) {
    reader.fail(`${formatCount} ${what2} format codes for ${count2} ${what2}s`);
  }
  reader.need(count2 * 4, `${what2} values`);
  const values = new Array(count2);
  for (let i = 0; i < count2; i++) values[i] = reader.nullableBytes(`${what2} ${i + 1}`);
  return values;
}
function validateFunctionCall(body) {
  const reader = new BodyReader(body, "FunctionCall");
  reader.uint32("function OID");
  const formats = readFormatCodes(reader, "argument format codes");
  readArguments(reader, formats.length, "argument");
  const resultFormat = reader.int16("result format code");
  if (resultFormat !== 0 && resultFormat !== 1) reader.fail(`result format code must be 0 or 1, got ${resultFormat}`);
  reader.end();
}
function readTargetKind(reader) {
  const kind = reader.byte("kind");
  if (kind === 83) return "S";
  if (kind === 80) return "P";
  return reader.fail(`kind must be 'S' or 'P', got ${describeByte(kind)}`);
}
function expectEmpty(body, name) {
  if (body.length !== 0) throw new ProtocolError(`invalid ${name} message: expected no body, got ${body.length} bytes`);
}
function decodeSASLInitialResponse(data) {
  const reader = new BodyReader(data, "SASLInitialResponse");
  const mechanism = reader.cstring("mechanism name");
  const response = reader.nullableBytes("initial response") ?? data.subarray(data.length);
  reader.end();
  return { mechanism, response };
}

// src/protocol/notice-fields.ts
var NOTICE_FIELD_CODES = [
  ["severity", 83],
  // 'S'
  ["severityNonLocalized", 86],
  // 'V'
  ["code", 67],
  // 'C'
  ["message", 77],
  // 'M'
  ["detail", 68],
  // 'D'
  ["hint", 72],
  // 'H'
  ["position", 80],
  // 'P'
  ["internalPosition", 112],
  // 'p'
  ["internalQuery", 113],
  // 'q'
  ["where", 87],
  // 'W'
  ["schema", 115],
  // 's'
  ["table", 116],
  // 't'
  ["column", 99],
  // 'c'
  ["dataType", 100],
  // 'd'
  ["constraint", 110],
  // 'n'
  ["file", 70],
  // 'F'
  ["line", 76],
  // 'L'
  ["routine", 82]
  // 'R'
];
var NOTICE_FIELD_BY_CODE = (() => {
  const table2 = new Array(256).fill(void 0);
  for (const [name, code] of NOTICE_FIELD_CODES) table2[code] = name;
  return table2;
})();

// src/protocol/backend-encode.ts
var EMPTY = Buffer.alloc(0);
var PARSE_COMPLETE = MessageWriter.typed(BackendCode.ParseComplete, 0).finish();
var BIND_COMPLETE = MessageWriter.typed(BackendCode.BindComplete, 0).finish();
var CLOSE_COMPLETE = MessageWriter.typed(BackendCode.CloseComplete, 0).finish();
var NO_DATA = MessageWriter.typed(BackendCode.NoData, 0).finish();
var PORTAL_SUSPENDED = MessageWriter.typed(BackendCode.PortalSuspended, 0).finish();
var EMPTY_QUERY_RESPONSE = MessageWriter.typed(BackendCode.EmptyQueryResponse, 0).finish();
var COPY_DONE2 = MessageWriter.typed(BackendCode.CopyDone, 0).finish();
var AUTHENTICATION_OK = MessageWriter.typed(BackendCode.Authentication, 4).int32(AuthenticationCode.Ok).finish();
var READY_FOR_QUERY = {
  I: MessageWriter.typed(BackendCode.ReadyForQuery, 1).byte(73).finish(),
  T: MessageWriter.typed(BackendCode.ReadyForQuery, 1).byte(84).finish(),
  E: MessageWriter.typed(BackendCode.ReadyForQuery, 1).byte(69).finish()
};
function readyForQuery(status) {
  return READY_FOR_QUERY[status];
}
function encodeBackend(message) {
  switch (message.type) {
    case "Authentication":
      return encodeAuthentication(message.code, message.data);
    case "ParameterStatus":
      return encodeParameterStatus(message.name, message.value);
    case "BackendKeyData":
      return encodeBackendKeyData(message.processId, message.secretKey);
    case "ReadyForQuery":
      return readyForQuery(message.status);
    case "RowDescription":
      return encodeRowDescription(message.fields);
    case "DataRow":
      return encodeDataRow(message.values);
    case "CommandComplete":
      return encodeCommandComplete(message.tag);
    case "EmptyQueryResponse":
      return EMPTY_QUERY_RESPONSE;
    case "ErrorResponse":
      return encodeErrorResponse(message.fields);
    case "NoticeResponse":
      return encodeNoticeResponse(message.fields);
    case "ParseComplete":
      return PARSE_COMPLETE;
    case "BindComplete":
      return BIND_COMPLETE;
    case "CloseComplete":
      return CLOSE_COMPLETE;
    case "NoData":
      return NO_DATA;
    case "PortalSuspended":
      return PORTAL_SUSPENDED;
    case "ParameterDescription": {
      const count2 = checkCount(message.typeOids.length, "parameters");
      const writer = MessageWriter.typed(BackendCode.ParameterDescription, 2 + 4 * count2).count(count2);
      for (const oid of message.typeOids) writer.uint32(oid);
      return writer.finish();
    }
    case "CopyInResponse":
    case "CopyOutResponse":
    case "CopyBothResponse": {
      const count2 = checkCount(message.columnFormats.length, "column format codes");
      const writer = MessageWriter.typed(BackendCode[message.type], 3 + 2 * count2).byte(message.format).count(count2);
      for (const format of message.columnFormats) writer.int16(format);
      return writer.finish();
    }
    case "CopyData":
      return MessageWriter.typed(BackendCode.CopyData, message.data.length).bytes(message.data).finish();
    case "CopyDone":
      return COPY_DONE2;
    case "NotificationResponse":
      return MessageWriter.typed(
        BackendCode.NotificationResponse,
        4 + cstringBytes(message.channel, "channel name") + cstringBytes(message.payload, "payload")
      ).uint32(message.processId).cstring(message.channel).cstring(message.payload).finish();
    case "NegotiateProtocolVersion": {
      let bodyBytes = 8;
      for (const option of message.unrecognized) bodyBytes += cstringBytes(option, "option name");
      const writer = MessageWriter.typed(BackendCode.NegotiateProtocolVersion, bodyBytes).int32(3 << 16 | message.newestMinor & 65535).int32(message.unrecognized.length);
      for (const option of message.unrecognized) writer.cstring(option);
      return writer.finish();
    }
    case "FunctionCallResponse": {
      const valueBytes = message.value === null ? 0 : message.value.length;
      return MessageWriter.typed(BackendCode.FunctionCallResponse, 4 + valueBytes).nullableBytes(message.value).finish();
    }
  }
}
function encodeAuthentication(code, data = EMPTY) {
  if (code === AuthenticationCode.Ok && data.length === 0) return AUTHENTICATION_OK;
  return MessageWriter.typed(BackendCode.Authentication, 4 + data.length).int32(code).bytes(data).finish();
}
function encodeParameterStatus(name, value) {
  return MessageWriter.typed(
    BackendCode.ParameterStatus,
    cstringBytes(name, "parameter name") + cstringBytes(value, "parameter value")
  ).cstring(name).cstring(value).finish();
}
function encodeBackendKeyData(processId, secretKey) {
  return MessageWriter.typed(BackendCode.BackendKeyData, 8).uint32(processId).uint32(secretKey).finish();
}
var FIELD_ATTRIBUTE_BYTES = 18;
function encodeRowDescription(fields) {
  const count2 = checkCount(fields.length, "fields");
  let bodyBytes = 2;
  for (const field of fields) bodyBytes += cstringBytes(field.name, "field name") + FIELD_ATTRIBUTE_BYTES;
  const writer = MessageWriter.typed(BackendCode.RowDescription, bodyBytes).count(count2);
  for (const field of fields) {
    writer.cstring(field.name).uint32(field.tableOid).int16(field.columnAttribute).uint32(field.typeOid).int16(field.typeSize).int32(field.typeModifier).int16(field.format);
  }
  return writer.finish();
}
function encodeDataRow(values) {
  const count2 = checkCount(values.length, "columns");
  let size = 7 + 4 * count2;
  for (let i = 0; i < count2; i++) {
    const value = values[i];
    if (value === null) continue;
    size += typeof value === "string" ? Buffer.byteLength(value, "utf8") : value.length;
  }
  const buffer = Buffer.allocUnsafe(size);
  buffer[0] = BackendCode.DataRow;
  buffer.writeInt32BE(size - 1, 1);
  buffer.writeUInt16BE(count2, 5);
  let offset = 7;
  for (let i = 0; i < count2; i++) {
    const value = values[i];
    if (value === null) {
      buffer.writeInt32BE(-1, offset);
      offset += 4;
    } else if (typeof value === "string") {
      const written = buffer.write(value, offset + 4, "utf8");
      buffer.writeInt32BE(written, offset);
      offset += 4 + written;
    } else {
      buffer.writeInt32BE(value.length, offset);
      offset += 4 + value.copy(buffer, offset + 4);
    }
  }
  return buffer;
}
function encodeCommandComplete(tag) {
  return MessageWriter.typed(BackendCode.CommandComplete, cstringBytes(tag, "command tag")).cstring(tag).finish();
}
function encodeErrorResponse(fields) {
  return encodeNoticeFields(BackendCode.ErrorResponse, fields);
}
function encodeNoticeResponse(fields) {
  return encodeNoticeFields(BackendCode.NoticeResponse, fields);
}
function encodeNoticeFields(code, fields) {
  let bodyBytes = 1;
  for (const [name] of NOTICE_FIELD_CODES) {
    const value = fields[name];
    if (value !== void 0) bodyBytes += 2 + Buffer.byteLength(withoutNul(value), "utf8");
  }
  const writer = MessageWriter.typed(code, bodyBytes);
  for (const [name, fieldCode] of NOTICE_FIELD_CODES) {
    const value = fields[name];
    if (value !== void 0) writer.byte(fieldCode).cstring(withoutNul(value));
  }
  return writer.byte(0).finish();
}
function withoutNul(value) {
  return value.includes("\0") ? value.replaceAll("\0", "\uFFFD") : value;
}

// src/protocol/backend.ts
var EMPTY_QUERY_RESPONSE_MESSAGE = { type: "EmptyQueryResponse" };
var PARSE_COMPLETE_MESSAGE = { type: "ParseComplete" };
var BIND_COMPLETE_MESSAGE = { type: "BindComplete" };
var CLOSE_COMPLETE_MESSAGE = { type: "CloseComplete" };
var NO_DATA_MESSAGE = { type: "NoData" };
var PORTAL_SUSPENDED_MESSAGE = { type: "PortalSuspended" };
var COPY_DONE_MESSAGE2 = { type: "CopyDone" };
function decodeBackend(frame) {
  const body = frame.body;
  switch (frame.code) {
    case BackendCode.DataRow:
      return { type: "DataRow", values: dataRowValues(frame) };
    case BackendCode.CommandComplete: {
      const reader = new BodyReader(body, "CommandComplete");
      const tag = reader.cstring("command tag");
      reader.end();
      return { type: "CommandComplete", tag };
    }
    case BackendCode.ReadyForQuery:
      return { type: "ReadyForQuery", status: readyForQueryStatus(frame) };
    case BackendCode.RowDescription:
      return decodeRowDescription(body);
    case BackendCode.ParseComplete:
      expectEmpty2(body, "ParseComplete");
      return PARSE_COMPLETE_MESSAGE;
    case BackendCode.BindComplete:
      expectEmpty2(body, "BindComplete");
      return BIND_COMPLETE_MESSAGE;
    case BackendCode.CloseComplete:
      expectEmpty2(body, "CloseComplete");
      return CLOSE_COMPLETE_MESSAGE;
    case BackendCode.NoData:
      expectEmpty2(body, "NoData");
      return NO_DATA_MESSAGE;
    case BackendCode.PortalSuspended:
      expectEmpty2(body, "PortalSuspended");
      return PORTAL_SUSPENDED_MESSAGE;
    case BackendCode.EmptyQueryResponse:
      expectEmpty2(body, "EmptyQueryResponse");
      return EMPTY_QUERY_RESPONSE_MESSAGE;
    case BackendCode.ErrorResponse:
      return { type: "ErrorResponse", fields: decodeNoticeFields(body, "ErrorResponse") };
    case BackendCode.NoticeResponse:
      return { type: "NoticeResponse", fields: decodeNoticeFields(body, "NoticeResponse") };
    case BackendCode.ParameterDescription: {
      const reader = new BodyReader(body, "ParameterDescription");
      const count2 = reader.count("number of parameters");
      reader.need(count2 * 4, "parameter types");
      const typeOids = new Array(count2);
      for (let i = 0; i < count2; i++) typeOids[i] = reader.uint32("parameter type");
      reader.end();
      return { type: "ParameterDescription", typeOids };
    }
    case BackendCode.Authentication:
      return decodeAuthentication(body);
    case BackendCode.ParameterStatus: {
      const reader = new BodyReader(body, "ParameterStatus");
      const name = reader.cstring("parameter name");
      const value = reader.cstring("parameter value");
      reader.end();
      return { type: "ParameterStatus", name, value };
    }
    case BackendCode.BackendKeyData: {
      const reader = new BodyReader(body, "BackendKeyData");
      const processId = reader.uint32("process id");
      const secretKey = reader.uint32("secret key");
      reader.end();
      return { type: "BackendKeyData", processId, secretKey };
    }
    case BackendCode.CopyInResponse:
      return decodeCopyResponse(body, "CopyInResponse");
    case BackendCode.CopyOutResponse:
      return decodeCopyResponse(body, "CopyOutResponse");
    case BackendCode.CopyBothResponse:
      return decodeCopyResponse(body, "CopyBothResponse");
    case BackendCode.CopyData:
      return { type: "CopyData", data: body };
    case BackendCode.CopyDone:
      expectEmpty2(body, "CopyDone");
      return COPY_DONE_MESSAGE2;
    case BackendCode.NotificationResponse: {
      const reader = new BodyReader(body, "NotificationResponse");
      const processId = reader.uint32("process id");
      const channel = reader.cstring("channel name");
      const payload = reader.cstring("payload");
      reader.end();
      return { type: "NotificationResponse", processId, channel, payload };
    }
    case BackendCode.NegotiateProtocolVersion:
      return decodeNegotiateProtocolVersion(body);
    case BackendCode.FunctionCallResponse: {
      const reader = new BodyReader(body, "FunctionCallResponse");
      const value = reader.nullableBytes("result value");
      reader.end();
      return { type: "FunctionCallResponse", value };
    }
    default:
      throw new ProtocolError(`invalid backend message type ${describeByte(frame.code)}`);
  }
}
function dataRowValues(frame) {
  const body = frame.body;
  if (frame.code !== BackendCode.DataRow) {
    throw new ProtocolError(`expected a DataRow message, got type ${describeByte(frame.code)}`);
  }
  const end = body.length;
  if (end < 2) throw invalidDataRow("the column count runs past the end of the message");
  const count2 = body.readUInt16BE(0);
  if (count2 * 4 > end - 2) throw invalidDataRow(`${count2} columns do not fit in ${end} bytes`);
  const values = new Array(count2);
  let offset = 2;
  for (let i = 0; i < count2; i++) {
    if (end - offset < 4) throw invalidDataRow(`the length of column ${i + 1} runs past the end of the message`);
    const length = body.readInt32BE(offset);
    offset += 4;
    if (length === -1) {
      values[i] = null;
    } else if (length < 0 || length > end - offset) {
      throw invalidDataRow(`column ${i + 1} has length ${length} with ${end - offset} bytes left`);
    } else {
      values[i] = body.subarray(offset, offset + length);
      offset += length;
    }
  }
  if (offset !== end) throw invalidDataRow(`${end - offset} unexpected bytes after the last column`);
  return values;
}
function invalidDataRow(problem) {
  return new ProtocolError(`invalid DataRow message: ${problem}`);
}
function readyForQueryStatus(frame) {
  if (frame.code !== BackendCode.ReadyForQuery) {
    throw new ProtocolError(`expected a ReadyForQuery message, got type ${describeByte(frame.code)}`);
  }
  const body = frame.body;
  if (body.length !== 1) throw new ProtocolError(`invalid ReadyForQuery message: body of ${body.length} bytes, expected 1`);
  switch (body[0]) {
    case 73:
      return "I";
    case 84:
      return "T";
    case 69:
      return "E";
    default:
      throw new ProtocolError(`invalid ReadyForQuery message: transaction status ${describeByte(body[0])}`);
  }
}
var MIN_FIELD_DESCRIPTION_BYTES = 19;
function decodeRowDescription(body) {
  const reader = new BodyReader(body, "RowDescription");
  const count2 = reader.count("number of fields");
  reader.need(count2 * MIN_FIELD_DESCRIPTION_BYTES, "field descriptions");
  const fields = new Array(count2);
  for (let i = 0; i < count2; i++) {
    const name = reader.cstring("field name");
    const tableOid = reader.uint32("table OID");
    const columnAttribute = reader.int16("column attribute number");
    const typeOid = reader.uint32("type OID");
    const typeSize = reader.int16("type size");
    const typeModifier = reader.int32("type modifier");
    const format = reader.int16("format code");
    if (format !== 0 && format !== 1) reader.fail(`format code of field "${name}" must be 0 or 1, got ${format}`);
    fields[i] = { name, tableOid, columnAttribute, typeOid, typeSize, typeModifier, format };
  }
  reader.end();
  return { type: "RowDescription", fields };
}
function decodeNoticeFields(body, messageName) {
  const reader = new BodyReader(body, messageName);
  const fields = {};
  for (; ; ) {
    const code = reader.byte("field type");
    if (code === 0) break;
    const value = reader.cstring(`field ${describeByte(code)}`);
    const name = NOTICE_FIELD_BY_CODE[code];
    if (name !== void 0) fields[name] = value;
  }
  reader.end();
  return fields;
}
function decodeAuthentication(body) {
  const reader = new BodyReader(body, "Authentication");
  const code = reader.int32("authentication code");
  switch (code) {
    case AuthenticationCode.Ok:
    case AuthenticationCode.KerberosV5:
    case AuthenticationCode.CleartextPassword:
    case AuthenticationCode.GSS:
    case AuthenticationCode.SSPI:
      reader.end();
      return { type: "Authentication", code, data: body.subarray(4) };
    case AuthenticationCode.MD5Password: {
      const data = reader.bytes(4, "salt");
      reader.end();
      return { type: "Authentication", code, data };
    }
    case AuthenticationCode.SASL: {
      const data = reader.rest();
      decodeSASLMechanisms(data);
      return { type: "Authentication", code, data };
    }
    case AuthenticationCode.GSSContinue:
    case AuthenticationCode.SASLContinue:
    case AuthenticationCode.SASLFinal:
      return { type: "Authentication", code, data: reader.rest() };
    default:
      return reader.fail(`unknown authentication code ${code}`);
  }
}
function decodeSASLMechanisms(data) {
  const reader = new BodyReader(data, "AuthenticationSASL");
  const mechanisms = [];
  for (; ; ) {
    const mechanism = reader.cstring("mechanism name");
    if (mechanism === "") break;
    mechanisms.push(mechanism);
  }
  reader.end();
  if (mechanisms.length === 0) reader.fail("no SASL mechanism offered");
  return mechanisms;
}
function decodeCopyResponse(body, type) {
  const reader = new BodyReader(body, type);
  const format = reader.byte("overall format");
  if (format !== 0 && format !== 1) reader.fail(`overall format must be 0 or 1, got ${format}`);
  const columnFormats = readFormatCodes(reader, "column format codes");
  if (format === 0 && columnFormats.some((columnFormat) => columnFormat !== 0)) {
    reader.fail("a textual copy has a binary column format");
  }
  reader.end();
  return { type, format, columnFormats };
}
function decodeNegotiateProtocolVersion(body) {
  const reader = new BodyReader(body, "NegotiateProtocolVersion");
  const version = reader.int32("newest protocol version");
  const major = version >>> 16;
  if (major !== 0 && major !== 3) reader.fail(`newest protocol version ${major}.${version & 65535} is not 3.x`);
  const count2 = reader.int32("number of unrecognized options");
  if (count2 < 0) reader.fail(`negative number of unrecognized options ${count2}`);
  reader.need(count2, "unrecognized options");
  const unrecognized = new Array(count2);
  for (let i = 0; i < count2; i++) unrecognized[i] = reader.cstring("option name");
  reader.end();
  return { type: "NegotiateProtocolVersion", newestMinor: version & 65535, unrecognized };
}
function expectEmpty2(body, name) {
  if (body.length !== 0) throw new ProtocolError(`invalid ${name} message: expected no body, got ${body.length} bytes`);
}

// src/protocol/scram.ts
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
var SCRAM_MECHANISM = "SCRAM-SHA-256";
var ScramError = class extends Error {
  sqlstate;
  constructor(sqlstate, message) {
    super(message);
    this.name = "ScramError";
    this.sqlstate = sqlstate;
  }
};
var DEFAULT_ITERATIONS = 4096;
var DEFAULT_SALT_LENGTH = 16;
var MAX_ITERATIONS = 2 ** 31 - 1;
var RAW_NONCE_LENGTH = 18;
var KEY_LENGTH = 32;
var RFC_5802_ATTRIBUTES = /* @__PURE__ */ new Set(["a", "n", "m", "r", "c", "s", "i", "p", "v", "e"]);
function malformed(message) {
  return new ScramError("08P01", `malformed SCRAM message: ${message}`);
}
function scramSaltFor(user, clusterSecret) {
  return createHmac("sha256", clusterSecret).update(`scram-salt\0${user}`).digest().subarray(0, DEFAULT_SALT_LENGTH);
}
function mockScramVerifier(user, clusterSecret) {
  return { iterations: DEFAULT_ITERATIONS, salt: scramSaltFor(user, clusterSecret), storedKey: randomBytes(KEY_LENGTH), serverKey: randomBytes(KEY_LENGTH) };
}
function makeScramVerifier(password, options = {}) {
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  const salt = options.salt ?? randomBytes(DEFAULT_SALT_LENGTH);
  checkIterations(iterations);
  if (salt.length === 0) throw new RangeError("SCRAM salt must not be empty");
  if (password === "") throw new RangeError("SCRAM password must not be empty");
  const saltedPassword = saltPassword(password, salt, iterations);
  const storedKey = sha256(hmac(saltedPassword, "Client Key"));
  const serverKey = hmac(saltedPassword, "Server Key");
  const base64 = (data) => data.toString("base64");
  return `${SCRAM_MECHANISM}$${iterations}:${base64(salt)}$${base64(storedKey)}:${base64(serverKey)}`;
}
function parseScramVerifier(verifier) {
  const match = /^SCRAM-SHA-256\$([0-9]+):([^$:]+)\$([^$:]+):([^$:]+)$/.exec(verifier);
  if (!match) throw new Error("invalid SCRAM verifier: expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>");
  const [, iterationsText, saltText, storedKeyText, serverKeyText] = match;
  const iterations = Number(iterationsText);
  if (!/^[1-9][0-9]*$/.test(iterationsText) || iterations > MAX_ITERATIONS) {
    throw new Error(`invalid SCRAM verifier: iteration count must be an integer from 1 to ${MAX_ITERATIONS}`);
  }
  const parts = { salt: saltText, StoredKey: storedKeyText, ServerKey: serverKeyText };
  for (const [name, text] of Object.entries(parts)) {
    if (!isBase64(text)) throw new Error(`invalid SCRAM verifier: ${name} is not base64`);
  }
  const result = {
    iterations,
    salt: Buffer.from(saltText, "base64"),
    storedKey: Buffer.from(storedKeyText, "base64"),
    serverKey: Buffer.from(serverKeyText, "base64")
  };
  checkVerifier(result);
  return result;
}
function checkVerifier(verifier) {
  checkIterations(verifier.iterations);
  if (verifier.salt.length === 0) throw new Error("invalid SCRAM verifier: empty salt");
  if (verifier.storedKey.length !== KEY_LENGTH || verifier.serverKey.length !== KEY_LENGTH) {
    throw new Error(`invalid SCRAM verifier: StoredKey and ServerKey must be ${KEY_LENGTH} bytes`);
  }
}
function checkIterations(iterations) {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new RangeError(`SCRAM iteration count must be an integer from 1 to ${MAX_ITERATIONS}, got ${iterations}`);
  }
}
var ScramServerSession = class {
  verifier;
  serverNonce;
  state = "awaiting-client-first";
  gs2Header = "";
  clientFirstBare = "";
  serverFirst = "";
  combinedNonce = "";
  /** `nonce` fixes the server's half of the nonce, for test vectors; by default it is random. */
  constructor(verifier, options = {}) {
    if (typeof verifier === "string") {
      this.verifier = parseScramVerifier(verifier);
    } else {
      checkVerifier(verifier);
      this.verifier = verifier;
    }
    this.serverNonce = options.nonce ?? randomBytes(RAW_NONCE_LENGTH).toString("base64");
    if (!isPrintable(this.serverNonce)) throw new RangeError('SCRAM nonce must be printable ASCII without ","');
  }
  /** client-first-message (the SASLInitialResponse payload) -> server-first-message for AuthenticationSASLContinue */
  handleClientFirst(message) {
    this.expectState("awaiting-client-first", "client-first-message");
    return this.failOnThrow(() => {
      const text = decodeMessage(message, "client-first-message");
      const { gs2Header, bare } = splitGs2Header(text);
      const attributes = splitAttributes(bare, "client-first-message");
      if (attributes[0].name === "m") throw malformed("client-first-message requires an extension (m=), none is supported");
      expectAttribute(attributes, 0, "n", "client-first-message");
      const clientNonce = expectAttribute(attributes, 1, "r", "client-first-message");
      if (!isPrintable(clientNonce)) throw malformed('client nonce must be printable ASCII without ","');
      checkExtensions(attributes.slice(2), "client-first-message");
      this.gs2Header = gs2Header;
      this.clientFirstBare = bare;
      this.combinedNonce = clientNonce + this.serverNonce;
      const { salt, iterations } = this.verifier;
      this.serverFirst = `r=${this.combinedNonce},s=${salt.toString("base64")},i=${iterations}`;
      this.state = "awaiting-client-final";
      return Buffer.from(this.serverFirst, "utf8");
    });
  }
  /**
   * client-final-message (SASLResponse payload) -> server-final-message for AuthenticationSASLFinal;
   * throws ScramError('28P01') if the proof is wrong. PostgreSQL itself never sends e=: a failed
   * proof ends in an ErrorResponse, which is the caller's to send.
   */
  handleClientFinal(message) {
    this.expectState("awaiting-client-final", "client-final-message");
    return this.failOnThrow(() => {
      const text = decodeMessage(message, "client-final-message");
      const attributes = splitAttributes(text, "client-final-message");
      const channelBinding = expectAttribute(attributes, 0, "c", "client-final-message");
      if (channelBinding !== Buffer.from(this.gs2Header).toString("base64")) {
        throw malformed(`channel binding c= must be the base64 of the gs2 header "${this.gs2Header}" from client-first-message`);
      }
      const nonce = expectAttribute(attributes, 1, "r", "client-final-message");
      if (nonce !== this.combinedNonce) throw malformed("nonce in client-final-message does not match the one the server sent");
      const last = attributes.length - 1;
      if (last < 2 || attributes[last].name !== "p") throw malformed("client-final-message must end with the proof p=");
      checkExtensions(attributes.slice(2, last), "client-final-message");
      const proof = decodeKey(attributes[last].value, "client proof p=");
      const withoutProof = text.slice(0, text.length - attributes[last].value.length - ",p=".length);
      const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
      const clientKey = xor(proof, hmac(this.verifier.storedKey, authMessage));
      if (!timingSafeEqual(sha256(clientKey), this.verifier.storedKey)) {
        throw new ScramError("28P01", "password authentication failed: wrong SCRAM client proof");
      }
      this.state = "done";
      return Buffer.from(`v=${hmac(this.verifier.serverKey, authMessage).toString("base64")}`, "utf8");
    });
  }
  expectState(expected2, received) {
    if (this.state === expected2) return;
    const where = this.state === "done" || this.state === "failed" ? "already over" : "not at that step";
    this.state = "failed";
    throw new ScramError("08P01", `unexpected SCRAM ${received}: the exchange is ${where}`);
  }
  failOnThrow(step) {
    try {
      return step();
    } catch (error) {
      this.state = "failed";
      throw error;
    }
  }
};
function splitGs2Header(text) {
  switch (text[0]) {
    case "n":
    // the client does not support channel binding
    case "y":
      break;
    case "p":
      throw malformed(
        `client-first-message asks for channel binding (gs2 flag p=), but the server offered only ${SCRAM_MECHANISM}, not ${SCRAM_MECHANISM}-PLUS`
      );
    default:
      throw malformed("client-first-message must start with a channel-binding flag n, y or p");
  }
  if (text[1] !== ",") throw malformed('expected "," after the channel-binding flag');
  if (text[2] === "a") throw malformed("authorization identity (a=) is not supported");
  if (text[2] !== ",") throw malformed('expected "," after the gs2 header');
  return { gs2Header: text.slice(0, 3), bare: text.slice(3) };
}
var ScramClientSession = class {
  password;
  clientNonce;
  clientFirstBare;
  state = "initial";
  expectedServerSignature = Buffer.alloc(0);
  /**
   * `username` goes into n= escaped as a saslname; PostgreSQL ignores it (it uses the startup
   * packet's), so the default is "*" as node-postgres sends. `nonce` is for test vectors.
   */
  constructor(password, options = {}) {
    this.password = password;
    this.clientNonce = options.nonce ?? randomBytes(RAW_NONCE_LENGTH).toString("base64");
    if (!isPrintable(this.clientNonce)) throw new RangeError('SCRAM nonce must be printable ASCII without ","');
    const username = (options.username ?? "*").replaceAll("=", "=3D").replaceAll(",", "=2C");
    this.clientFirstBare = `n=${username},r=${this.clientNonce}`;
  }
  /** payload for SASLInitialResponse */
  clientFirst() {
    this.expectState("initial", "client-first-message");
    this.state = "sent-client-first";
    return Buffer.from(`n,,${this.clientFirstBare}`, "utf8");
  }
  /** server-first-message -> client-final-message for SASLResponse */
  handleServerFirst(message) {
    this.expectState("sent-client-first", "server-first-message");
    return this.failOnThrow(() => {
      const text = decodeMessage(message, "server-first-message");
      const attributes = splitAttributes(text, "server-first-message");
      if (attributes[0].name === "m") throw malformed("server-first-message requires an extension (m=), none is supported");
      const nonce = expectAttribute(attributes, 0, "r", "server-first-message");
      const saltText = expectAttribute(attributes, 1, "s", "server-first-message");
      const iterationsText = expectAttribute(attributes, 2, "i", "server-first-message");
      if (attributes.length > 3) throw malformed(`unexpected attribute ${attributes[3].name}= after i= in server-first-message`);
      if (!isPrintable(nonce) || !nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
        throw malformed("server nonce must be the client's nonce followed by printable characters");
      }
      if (!isBase64(saltText) || saltText === "") throw malformed("salt s= must be non-empty base64");
      const iterations = Number(iterationsText);
      if (!/^[1-9][0-9]*$/.test(iterationsText) || iterations > MAX_ITERATIONS) {
        throw malformed(`iteration count i= must be an integer from 1 to ${MAX_ITERATIONS}`);
      }
      const saltedPassword = saltPassword(this.password, Buffer.from(saltText, "base64"), iterations);
      this.password = "";
      const clientKey = hmac(saltedPassword, "Client Key");
      const withoutProof = `c=${Buffer.from("n,,").toString("base64")},r=${nonce}`;
      const authMessage = `${this.clientFirstBare},${text},${withoutProof}`;
      const proof = xor(clientKey, hmac(sha256(clientKey), authMessage));
      this.expectedServerSignature = hmac(hmac(saltedPassword, "Server Key"), authMessage);
      this.state = "sent-client-final";
      return Buffer.from(`${withoutProof},p=${proof.toString("base64")}`, "utf8");
    });
  }
  /** throws ScramError if the server signature is wrong or the server sent e=... */
  verifyServerFinal(message) {
    this.expectState("sent-client-final", "server-final-message");
    this.failOnThrow(() => {
      const text = decodeMessage(message, "server-final-message");
      const attributes = splitAttributes(text, "server-final-message");
      if (attributes[0].name === "e") {
        throw new ScramError("28P01", `server rejected SCRAM authentication: ${attributes[0].value}`);
      }
      const signature = decodeKey(expectAttribute(attributes, 0, "v", "server-final-message"), "server signature v=");
      if (attributes.length > 1) throw malformed(`unexpected attribute ${attributes[1].name}= after v= in server-final-message`);
      if (!timingSafeEqual(signature, this.expectedServerSignature)) {
        throw new ScramError("28P01", "SCRAM server signature is wrong: the server does not know the password");
      }
      this.state = "done";
    });
  }
  expectState(expected2, step) {
    if (this.state === expected2) return;
    const where = this.state === "done" || this.state === "failed" ? "already over" : "not at that step";
    this.state = "failed";
    this.password = "";
    throw new ScramError("08P01", `unexpected SCRAM ${step}: the exchange is ${where}`);
  }
  failOnThrow(step) {
    try {
      return step();
    } catch (error) {
      this.state = "failed";
      this.password = "";
      throw error;
    }
  }
};
var utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
function decodeMessage(message, what2) {
  if (message.length === 0) throw malformed(`${what2} is empty`);
  let text;
  try {
    text = utf8Decoder.decode(message);
  } catch {
    throw malformed(`${what2} is not valid UTF-8`);
  }
  if (text.includes("\0")) throw malformed(`${what2} contains a NUL byte`);
  return text;
}
function splitAttributes(text, what2) {
  return text.split(",").map((part, index) => {
    if (!/^[A-Za-z]=/.test(part)) throw malformed(`attribute ${index + 1} of ${what2} is not of the form x=value`);
    return { name: part[0], value: part.slice(2) };
  });
}
function expectAttribute(attributes, index, name, what2) {
  const attribute = attributes[index];
  if (!attribute) throw malformed(`${what2} is missing attribute ${name}=`);
  if (attribute.name !== name) throw malformed(`expected attribute ${name}= in ${what2}, found ${attribute.name}=`);
  return attribute.value;
}
function checkExtensions(extensions, what2) {
  for (const { name } of extensions) {
    if (name === "m") throw malformed(`${what2} requires an extension (m=), none is supported`);
    if (RFC_5802_ATTRIBUTES.has(name)) throw malformed(`unexpected attribute ${name}= in ${what2}`);
  }
}
function isPrintable(text) {
  return /^[\x21-\x2b\x2d-\x7e]+$/.test(text);
}
function isBase64(text) {
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text);
}
function decodeKey(text, what2) {
  if (!isBase64(text)) throw malformed(`${what2} is not base64`);
  const key = Buffer.from(text, "base64");
  if (key.length !== KEY_LENGTH) throw malformed(`${what2} must be ${KEY_LENGTH} bytes`);
  return key;
}
function saltPassword(password, salt, iterations) {
  return pbkdf2Sync(scramPasswordBytes(password), salt, iterations, KEY_LENGTH, "sha256");
}
function hmac(key, text) {
  return createHmac("sha256", key).update(text, "utf8").digest();
}
function sha256(data) {
  return createHash("sha256").update(data).digest();
}
function xor(a, b) {
  const result = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) result[i] = a[i] ^ b[i];
  return result;
}
function scramPasswordBytes(password) {
  return Buffer.from(saslPrep(password) ?? password, "utf8");
}
function saslPrep(password) {
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  const mapped = [];
  for (const character of password) {
    const codePoint = character.codePointAt(0);
    if (inRanges(NON_ASCII_SPACE, codePoint)) mapped.push(32);
    else if (!inRanges(MAPPED_TO_NOTHING, codePoint)) mapped.push(codePoint);
  }
  if (mapped.length === 0) return null;
  if (mapped.some((codePoint) => inRanges(PROHIBITED_OUTPUT, codePoint) || inRanges(UNASSIGNED_IN_UNICODE_3_2, codePoint))) {
    return null;
  }
  if (mapped.some((codePoint) => inRanges(BIDI_R_OR_AL, codePoint))) {
    if (mapped.some((codePoint) => inRanges(BIDI_L, codePoint))) return null;
    if (!inRanges(BIDI_R_OR_AL, mapped[0]) || !inRanges(BIDI_R_OR_AL, mapped[mapped.length - 1])) return null;
  }
  return mapped.map((codePoint) => String.fromCodePoint(codePoint)).join("").normalize("NFKC");
}
function codePointRanges(table2) {
  const tokens = table2.trim().split(/\s+/);
  const ranges = new Uint32Array(tokens.length * 2);
  tokens.forEach((token, index) => {
    const [first, last = first] = token.split("-");
    ranges[2 * index] = parseInt(first, 16);
    ranges[2 * index + 1] = parseInt(last, 16);
  });
  return ranges;
}
function inRanges(ranges, codePoint) {
  let low = 0;
  let high = ranges.length / 2 - 1;
  while (low <= high) {
    const middle = low + high >> 1;
    if (codePoint < ranges[2 * middle]) high = middle - 1;
    else if (codePoint > ranges[2 * middle + 1]) low = middle + 1;
    else return true;
  }
  return false;
}
var NON_ASCII_SPACE = codePointRanges("A0 1680 2000-200B 202F 205F 3000");
var MAPPED_TO_NOTHING = codePointRanges("AD 34F 1806 180B-180D 200B-200D 2060 FE00-FE0F FEFF");
var PROHIBITED_OUTPUT = codePointRanges(`
0-1F 7F-A0 340-341 6DD 70F 1680 180E 2000-200F 2028-202F 205F-2063 206A-206F 2FF0-2FFB 3000
D800-F8FF FDD0-FDEF FEFF FFF9-FFFF 1D173-1D17A 1FFFE-1FFFF 2FFFE-2FFFF 3FFFE-3FFFF 4FFFE-4FFFF
5FFFE-5FFFF 6FFFE-6FFFF 7FFFE-7FFFF 8FFFE-8FFFF 9FFFE-9FFFF AFFFE-AFFFF BFFFE-BFFFF CFFFE-CFFFF
DFFFE-DFFFF E0001 E0020-E007F EFFFE-10FFFF
`);
var UNASSIGNED_IN_UNICODE_3_2 = codePointRanges(`
221 234-24F 2AE-2AF 2EF-2FF 350-35F 370-373 376-379 37B-37D 37F-383 38B 38D 3A2 3CF 3F7-3FF 487
4CF 4F6-4F7 4FA-4FF 510-530 557-558 560 588 58B-590 5A2 5BA 5C5-5CF 5EB-5EF 5F5-60B 60D-61A
61C-61E 620 63B-63F 656-65F 6EE-6EF 6FF 70E 72D-72F 74B-77F 7B2-900 904 93A-93B 94E-94F 955-957
971-980 984 98D-98E 991-992 9A9 9B1 9B3-9B5 9BA-9BB 9BD 9C5-9C6 9C9-9CA 9CE-9D6 9D8-9DB 9DE
9E4-9E5 9FB-A01 A03-A04 A0B-A0E A11-A12 A29 A31 A34 A37 A3A-A3B A3D A43-A46 A49-A4A A4E-A58 A5D
A5F-A65 A75-A80 A84 A8C A8E A92 AA9 AB1 AB4 ABA-ABB AC6 ACA ACE-ACF AD1-ADF AE1-AE5 AF0-B00 B04
B0D-B0E B11-B12 B29 B31 B34-B35 B3A-B3B B44-B46 B49-B4A B4E-B55 B58-B5B B5E B62-B65 B71-B81 B84
B8B-B8D B91 B96-B98 B9B B9D BA0-BA2 BA5-BA7 BAB-BAD BB6 BBA-BBD BC3-BC5 BC9 BCE-BD6 BD8-BE6
BF3-C00 C04 C0D C11 C29 C34 C3A-C3D C45 C49 C4E-C54 C57-C5F C62-C65 C70-C81 C84 C8D C91 CA9 CB4
CBA-CBD CC5 CC9 CCE-CD4 CD7-CDD CDF CE2-CE5 CF0-D01 D04 D0D D11 D29 D3A-D3D D44-D45 D49 D4E-D56
D58-D5F D62-D65 D70-D81 D84 D97-D99 DB2 DBC DBE-DBF DC7-DC9 DCB-DCE DD5 DD7 DE0-DF1 DF5-E00
E3B-E3E E5C-E80 E83 E85-E86 E89 E8B-E8C E8E-E93 E98 EA0 EA4 EA6 EA8-EA9 EAC EBA EBE-EBF EC5 EC7
ECE-ECF EDA-EDB EDE-EFF F48 F6B-F70 F8C-F8F F98 FBD FCD-FCE FD0-FFF 1022 1028 102B 1033-1035
103A-103F 105A-109F 10C6-10CF 10F9-10FA 10FC-10FF 115A-115E 11A3-11A7 11FA-11FF 1207 1247 1249
124E-124F 1257 1259 125E-125F 1287 1289 128E-128F 12AF 12B1 12B6-12B7 12BF 12C1 12C6-12C7 12CF
12D7 12EF 130F 1311 1316-1317 131F 1347 135B-1360 137D-139F 13F5-1400 1677-167F 169D-169F
16F1-16FF 170D 1715-171F 1737-173F 1754-175F 176D 1771 1774-177F 17DD-17DF 17EA-17FF 180F
181A-181F 1878-187F 18AA-1DFF 1E9C-1E9F 1EFA-1EFF 1F16-1F17 1F1E-1F1F 1F46-1F47 1F4E-1F4F 1F58
1F5A 1F5C 1F5E 1F7E-1F7F 1FB5 1FC5 1FD4-1FD5 1FDC 1FF0-1FF1 1FF5 1FFF 2053-2056 2058-205E
2064-2069 2072-2073 208F-209F 20B2-20CF 20EB-20FF 213B-213C 214C-2152 2184-218F 23CF-23FF
2427-243F 244B-245F 24FF 2614-2615 2618 267E-267F 268A-2700 2705 270A-270B 2728 274C 274E
2753-2755 2757 275F-2760 2795-2797 27B0 27BF-27CF 27EC-27EF 2B00-2E7F 2E9A 2EF4-2EFF 2FD6-2FEF
2FFC-2FFF 3040 3097-3098 3100-3104 312D-3130 318F 31B8-31EF 321D-321F 3244-3250 327C-327E
32CC-32CF 32FF 3377-337A 33DE-33DF 33FF 4DB6-4DFF 9FA6-9FFF A48D-A48F A4C7-ABFF D7A4-D7FF
FA2E-FA2F FA6B-FAFF FB07-FB12 FB18-FB1C FB37 FB3D FB3F FB42 FB45 FBB2-FBD2 FD40-FD4F FD90-FD91
FDC8-FDCF FDFD-FDFF FE10-FE1F FE24-FE2F FE47-FE48 FE53 FE67 FE6C-FE6F FE75 FEFD-FEFE FF00
FFBF-FFC1 FFC8-FFC9 FFD0-FFD1 FFD8-FFD9 FFDD-FFDF FFE7 FFEF-FFF8 10000-102FF 1031F 10324-1032F
1034B-103FF 10426-10427 1044E-1CFFF 1D0F6-1D0FF 1D127-1D129 1D1DE-1D3FF 1D455 1D49D 1D4A0-1D4A1
1D4A3-1D4A4 1D4A7-1D4A8 1D4AD 1D4BA 1D4BC 1D4C1 1D4C4 1D506 1D50B-1D50C 1D515 1D51D 1D53A 1D53F
1D545 1D547-1D549 1D551 1D6A4-1D6A7 1D7CA-1D7CD 1D800-1FFFD 2A6D7-2F7FF 2FA1E-2FFFD 30000-3FFFD
40000-4FFFD 50000-5FFFD 60000-6FFFD 70000-7FFFD 80000-8FFFD 90000-9FFFD A0000-AFFFD B0000-BFFFD
C0000-CFFFD D0000-DFFFD E0000 E0002-E001F E0080-EFFFD
`);
var BIDI_R_OR_AL = codePointRanges(`
5BE 5C0 5C3 5D0-5EA 5F0-5F4 61B 61F 621-63A 640-64A 66D-66F 671-6D5 6DD 6E5-6E6 6FA-6FE 700-70D
710 712-72C 780-7A5 7B1 200F FB1D FB1F-FB28 FB2A-FB36 FB38-FB3C FB3E FB40-FB41 FB43-FB44
FB46-FBB1 FBD3-FD3D FD50-FD8F FD92-FDC7 FDF0-FDFC FE70-FE74 FE76-FEFC
`);
var BIDI_L = codePointRanges(`
41-5A 61-7A AA B5 BA C0-D6 D8-F6 F8-220 222-233 250-2AD 2B0-2B8 2BB-2C1 2D0-2D1 2E0-2E4 2EE 37A
386 388-38A 38C 38E-3A1 3A3-3CE 3D0-3F5 400-482 48A-4CE 4D0-4F5 4F8-4F9 500-50F 531-556 559-55F
561-587 589 903 905-939 93D-940 949-94C 950 958-961 964-970 982-983 985-98C 98F-990 993-9A8
9AA-9B0 9B2 9B6-9B9 9BE-9C0 9C7-9C8 9CB-9CC 9D7 9DC-9DD 9DF-9E1 9E6-9F1 9F4-9FA A05-A0A A0F-A10
A13-A28 A2A-A30 A32-A33 A35-A36 A38-A39 A3E-A40 A59-A5C A5E A66-A6F A72-A74 A83 A85-A8B A8D
A8F-A91 A93-AA8 AAA-AB0 AB2-AB3 AB5-AB9 ABD-AC0 AC9 ACB-ACC AD0 AE0 AE6-AEF B02-B03 B05-B0C
B0F-B10 B13-B28 B2A-B30 B32-B33 B36-B39 B3D-B3E B40 B47-B48 B4B-B4C B57 B5C-B5D B5F-B61 B66-B70
B83 B85-B8A B8E-B90 B92-B95 B99-B9A B9C B9E-B9F BA3-BA4 BA8-BAA BAE-BB5 BB7-BB9 BBE-BBF BC1-BC2
BC6-BC8 BCA-BCC BD7 BE7-BF2 C01-C03 C05-C0C C0E-C10 C12-C28 C2A-C33 C35-C39 C41-C44 C60-C61
C66-C6F C82-C83 C85-C8C C8E-C90 C92-CA8 CAA-CB3 CB5-CB9 CBE CC0-CC4 CC7-CC8 CCA-CCB CD5-CD6 CDE
CE0-CE1 CE6-CEF D02-D03 D05-D0C D0E-D10 D12-D28 D2A-D39 D3E-D40 D46-D48 D4A-D4C D57 D60-D61
D66-D6F D82-D83 D85-D96 D9A-DB1 DB3-DBB DBD DC0-DC6 DCF-DD1 DD8-DDF DF2-DF4 E01-E30 E32-E33
E40-E46 E4F-E5B E81-E82 E84 E87-E88 E8A E8D E94-E97 E99-E9F EA1-EA3 EA5 EA7 EAA-EAB EAD-EB0
EB2-EB3 EBD EC0-EC4 EC6 ED0-ED9 EDC-EDD F00-F17 F1A-F34 F36 F38 F3E-F47 F49-F6A F7F F85 F88-F8B
FBE-FC5 FC7-FCC FCF 1000-1021 1023-1027 1029-102A 102C 1031 1038 1040-1057 10A0-10C5 10D0-10F8
10FB 1100-1159 115F-11A2 11A8-11F9 1200-1206 1208-1246 1248 124A-124D 1250-1256 1258 125A-125D
1260-1286 1288 128A-128D 1290-12AE 12B0 12B2-12B5 12B8-12BE 12C0 12C2-12C5 12C8-12CE 12D0-12D6
12D8-12EE 12F0-130E 1310 1312-1315 1318-131E 1320-1346 1348-135A 1361-137C 13A0-13F4 1401-1676
1681-169A 16A0-16F0 1700-170C 170E-1711 1720-1731 1735-1736 1740-1751 1760-176C 176E-1770
1780-17B6 17BE-17C5 17C7-17C8 17D4-17DA 17DC 17E0-17E9 1810-1819 1820-1877 1880-18A8 1E00-1E9B
1EA0-1EF9 1F00-1F15 1F18-1F1D 1F20-1F45 1F48-1F4D 1F50-1F57 1F59 1F5B 1F5D 1F5F-1F7D 1F80-1FB4
1FB6-1FBC 1FBE 1FC2-1FC4 1FC6-1FCC 1FD0-1FD3 1FD6-1FDB 1FE0-1FEC 1FF2-1FF4 1FF6-1FFC 200E 2071
207F 2102 2107 210A-2113 2115 2119-211D 2124 2126 2128 212A-212D 212F-2131 2133-2139 213D-213F
2145-2149 2160-2183 2336-237A 2395 249C-24E9 3005-3007 3021-3029 3031-3035 3038-303C 3041-3096
309D-309F 30A1-30FA 30FC-30FF 3105-312C 3131-318E 3190-31B7 31F0-321C 3220-3243 3260-327B
327F-32B0 32C0-32CB 32D0-32FE 3300-3376 337B-33DD 33E0-33FE 3400-4DB5 4E00-9FA5 A000-A48C
AC00-D7A3 D800-FA2D FA30-FA6A FB00-FB06 FB13-FB17 FF21-FF3A FF41-FF5A FF66-FFBE FFC2-FFC7
FFCA-FFCF FFD2-FFD7 FFDA-FFDC 10300-1031E 10320-10323 10330-1034A 10400-10425 10428-1044D
1D000-1D0F5 1D100-1D126 1D12A-1D166 1D16A-1D172 1D183-1D184 1D18C-1D1A9 1D1AE-1D1DD 1D400-1D454
1D456-1D49C 1D49E-1D49F 1D4A2 1D4A5-1D4A6 1D4A9-1D4AC 1D4AE-1D4B9 1D4BB 1D4BD-1D4C0 1D4C2-1D4C3
1D4C5-1D505 1D507-1D50A 1D50D-1D514 1D516-1D51C 1D51E-1D539 1D53B-1D53E 1D540-1D544 1D546
1D54A-1D550 1D552-1D6A3 1D6A8-1D7C9 20000-2A6D6 2F800-2FA1D F0000-FFFFD 100000-10FFFD
`);

// src/server/output.ts
var ClientOutput = class _ClientOutput {
  constructor(socket) {
    this.socket = socket;
  }
  socket;
  chunks = [];
  size = 0;
  static HIGH_WATER = 256 * 1024;
  /** Writes go to `socket` from now on (the TLS socket after SSLRequest). */
  useSocket(socket) {
    this.flush();
    this.socket = socket;
  }
  write(frame) {
    this.chunks.push(frame);
    this.size += frame.length;
    if (this.size >= _ClientOutput.HIGH_WATER) this.flush();
  }
  flush() {
    if (this.chunks.length === 0 || this.socket.destroyed) {
      this.chunks = [];
      this.size = 0;
      return;
    }
    const data = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.size = 0;
    this.socket.write(data);
  }
  /**
   * More than BACKLOG_BYTES wait in the socket for a client that reads slowly (or not at
   * all): the writer should wait for drained() before it reads more from the nodes.
   */
  get backlogged() {
    return this.socket.writableLength > _ClientOutput.BACKLOG_BYTES;
  }
  static BACKLOG_BYTES = 1024 * 1024;
  /** Resolves once the socket's buffer has drained (back-pressure for large results). */
  async drained() {
    if (!this.socket.writableNeedDrain || this.socket.destroyed) return;
    await new Promise((resolve3) => {
      const done = () => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        resolve3();
      };
      this.socket.on("drain", done);
      this.socket.on("close", done);
    });
  }
};

// src/planner/plan.ts
function relationPlaceholder(k) {
  return `__dpg_rel_${k}__`;
}
function fillShard(template, relations, shardIndex) {
  let sql = template;
  relations.forEach((table2, k) => {
    const shard = table2.kind === "reference" ? table2.shards[0] : table2.shards[shardIndex];
    sql = sql.split(relationPlaceholder(k)).join(`${table2.name}_${shard.shardId}`);
  });
  return sql;
}
function withCurrentTables(plan, current2) {
  switch (plan.kind) {
    case "distributed":
      return { ...plan, anchor: current2(plan.anchor), relations: plan.relations.map(current2), searched: plan.searched && { ...plan.searched, table: current2(plan.searched.table) } };
    case "insert":
      return { ...plan, table: current2(plan.table), relations: plan.relations.map(current2), source: plan.source && { ...plan.source, plan: withCurrentTables(plan.source.plan, current2) } };
    case "reference-write":
      return { ...plan, relations: plan.relations.map(current2) };
    case "copy":
      return { ...plan, table: current2(plan.table) };
    case "ddl":
      return { ...plan, tables: plan.tables.map(current2) };
    default:
      return plan;
  }
}

// src/executor/transaction.ts
import { randomBytes as randomBytes2 } from "node:crypto";

// src/executor/backend-connection.ts
import { connect } from "node:net";
import { connect as tlsConnect, checkServerIdentity } from "node:tls";
function pgSslOption(target) {
  return target.tls ? { ssl: { ca: target.tls.ca, checkServerIdentity: (_host, cert) => checkServerIdentity(target.host, cert) } } : {};
}
var SSL_REQUEST2 = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]);
async function startTls(socket, target, ca) {
  const answer = await new Promise((resolve3, reject) => {
    const onData = (chunk) => {
      cleanup2();
      resolve3(chunk);
    };
    const onError = (error) => {
      cleanup2();
      reject(new ConnectFailedError(`TLS to ${target.host}:${target.port}: ${error.message}`));
    };
    const onClose = () => onError(new Error("closed before answering SSLRequest"));
    const cleanup2 = () => {
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
    };
    socket.on("data", onData);
    socket.once("error", onError);
    socket.once("close", onClose);
    socket.write(SSL_REQUEST2);
  });
  if (answer.length !== 1 || answer[0] !== 83) {
    socket.destroy();
    throw new ConnectFailedError(`${target.host}:${target.port} does not offer TLS (answered ${JSON.stringify(answer.subarray(0, 1).toString("latin1"))}); the coordinator's links to nodes are encrypted`);
  }
  const secure = tlsConnect({ socket, ca, checkServerIdentity: (_host, cert) => checkServerIdentity(target.host, cert), minVersion: "TLSv1.2" });
  await new Promise((resolve3, reject) => {
    secure.once("secureConnect", () => resolve3());
    secure.once("error", (error) => reject(new ConnectFailedError(`TLS to ${target.host}:${target.port}: ${error.message}`)));
  });
  return secure;
}
var LEXING_SETTINGS = { standard_conforming_strings: "on", client_encoding: "UTF8" };
function lexingChange(name, value) {
  const expected2 = LEXING_SETTINGS[name];
  return expected2 === void 0 || value === expected2 ? null : `${name} = ${value}`;
}
var LexingChangedError = class extends Error {
  sqlstate = "0A000";
  constructor(change) {
    super(`${change} is not supported by dpg: the coordinator parses every statement as PostgreSQL does with ${Object.entries(LEXING_SETTINGS).map(([k, v]) => `${k} = ${v}`).join(" and ")}, and a node set otherwise could read it differently; the change was undone`);
  }
};
function discardSessionStateSql(connection) {
  const unlisten = connection.parameters.get("in_hot_standby") === "on" ? "" : " UNLISTEN *;";
  return `CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; DEALLOCATE ALL;${unlisten} SELECT pg_catalog.pg_advisory_unlock_all(); DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES`;
}
var FRESH_CONNECTION = -1;
var INTERNAL_OWNER = 0;
var ServerError = class extends Error {
  constructor(fields) {
    super(fields.message ?? "server error");
    this.fields = fields;
  }
  fields;
  get sqlstate() {
    return this.fields.code ?? "XX000";
  }
};
var ConnectionLostError = class extends Error {
  sqlstate = "08006";
};
var ConnectFailedError = class extends ConnectionLostError {
  sqlstate = "08001";
};
var BackendConnection = class _BackendConnection {
  constructor(socket, target) {
    this.socket = socket;
    this.target = target;
    socket.setNoDelay(true);
    socket.on("data", (chunk) => {
      let frames;
      try {
        frames = this.reader.push(chunk);
      } catch (error) {
        this.fail(new ConnectionLostError(`protocol error from ${this.describe()}: ${error.message}`));
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        if (frame.code === BackendCode.ParameterStatus) this.noteParameter(frame);
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = null;
          w.resolve(frame);
        } else {
          this.queue.push(frame);
          this.queuedBytes += frame.raw.length;
        }
      }
      if (this.queuedBytes > _BackendConnection.PAUSE_BYTES && !this.paused) {
        this.paused = true;
        socket.pause();
      }
    });
    socket.on("error", (error) => this.fail(new ConnectionLostError(`connection to ${this.describe()} failed: ${error.message}`)));
    socket.on("close", () => this.fail(new ConnectionLostError(`connection to ${this.describe()} closed`)));
  }
  socket;
  target;
  parameters = /* @__PURE__ */ new Map();
  processId = 0;
  secretKey = 0;
  /** Transaction status from the last ReadyForQuery: I idle, T in a block, E failed block. */
  transactionStatus = "I";
  /** Names of statements prepared on this connection (by the coordinator). */
  prepared = /* @__PURE__ */ new Set();
  /** Fingerprint of the session settings last applied here (see executor/session-settings). */
  settingsKey = "";
  /** hnsw.ef_search as the coordinator last SET it at session level (null: as the session settings left it). */
  efSearch = null;
  /** synchronous_commit as the coordinator last SET it for a table's durability (null: the server's, 'on'). */
  synchronousCommit = null;
  /** hnsw.ef_search SET LOCAL in the transaction block now open here. */
  localEfSearch = null;
  broken = false;
  /**
   * Who used this connection last: a client session's id, INTERNAL_OWNER for the
   * coordinator's own work, FRESH_CONNECTION before anyone. When it passes to another
   * owner its session state is discarded first (GroupPool.acquire).
   */
  owner = FRESH_CONNECTION;
  /** discardSessionStateSql() is due before the new owner's first statement (sent with its settings). */
  discardPending = false;
  /** Set when the server reported a lexing setting dpg cannot follow (see LEXING_SETTINGS). */
  lexingChanged = null;
  /** The pool's generation when this connection was opened: a leader change makes older ones stale. */
  poolGeneration = 0;
  lastUsed = Date.now();
  queriesRun = 0;
  /**
   * PostgreSQL builds a message in one StringInfo, which cannot grow past MaxAllocSize
   * (1 GB - 1): no message from a node is longer, so a DataRow of any size a node can
   * send is read (the client-facing reader's default, 256 MB, would cut a large row).
   */
  reader = new FrameReader({ maxMessageBytes: 1073741823 });
  /**
   * Bytes of frames received and not yet read. Past PAUSE_BYTES the socket is paused
   * (the node then waits on TCP), and it is resumed below RESUME_BYTES: a client that
   * reads slowly, or not at all, holds at most about this much per node connection
   * on the coordinator instead of the whole result.
   */
  queuedBytes = 0;
  paused = false;
  static PAUSE_BYTES = 1024 * 1024;
  static RESUME_BYTES = 256 * 1024;
  /** Requests sent that the server answers with ReadyForQuery, and the answers read so far. */
  requestsSent = 0;
  requestsAnswered = 0;
  queue = [];
  waiter = null;
  failure = null;
  describe() {
    return `${this.target.host}:${this.target.port}`;
  }
  noteParameter(frame) {
    const message = decodeBackend(frame);
    if (message.type !== "ParameterStatus") return;
    this.lexingChanged ??= lexingChange(message.name, message.value);
  }
  /**
   * At the end of a request (its ReadyForQuery): if the session now lexes SQL otherwise
   * than dpg, the connection is closed (never pooled again) and the request fails.
   */
  checkLexing() {
    if (this.lexingChanged === null) return;
    this.destroy();
    throw new LexingChangedError(this.lexingChanged);
  }
  fail(error) {
    if (this.failure) return;
    this.failure = error;
    this.broken = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(error);
    }
  }
  static async open(target) {
    const socket = connect({ host: target.host, port: target.port });
    await new Promise((resolve3, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectFailedError(`connecting to ${target.host}:${target.port} timed out`));
      }, target.connectTimeoutMs ?? 5e3);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve3();
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(new ConnectFailedError(`cannot connect to ${target.host}:${target.port}: ${error.message}`));
      });
    });
    let stream = socket;
    if (target.tls) {
      try {
        stream = await startTls(socket, target, target.tls.ca);
      } catch (error) {
        socket.destroy();
        throw error;
      }
    }
    const connection = new _BackendConnection(stream, target);
    socket.setKeepAlive(true, 5e3);
    try {
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new ConnectFailedError(`${target.host}:${target.port} accepted but did not complete the startup within ${target.connectTimeoutMs ?? 5e3} ms`)), target.connectTimeoutMs ?? 5e3);
      });
      try {
        await Promise.race([connection.startup(), timeout]);
      } finally {
        clearTimeout(timer);
      }
    } catch (error) {
      connection.destroy();
      if (error instanceof ConnectionLostError || error instanceof ServerError && error.sqlstate.startsWith("57P")) {
        throw new ConnectFailedError(`cannot connect to ${target.host}:${target.port}: ${error.message}`);
      }
      throw error;
    }
    if (target.primaryOnly && connection.parameters.get("in_hot_standby") === "on") {
      connection.destroy();
      throw new ConnectFailedError(`${target.host}:${target.port} is not a primary (yet): it is in recovery`);
    }
    return connection;
  }
  async startup() {
    this.socket.write(
      encodeFrontend({
        type: "Startup",
        protocolVersion: 196608,
        parameters: { user: this.target.user, database: this.target.database, client_encoding: "UTF8", ...this.target.parameters }
      })
    );
    let scram = null;
    for (; ; ) {
      const frame = await this.readFrame();
      const message = decodeBackend(frame);
      switch (message.type) {
        case "Authentication":
          if (message.code === 0) break;
          if (message.code === 10) {
            const mechanisms = message.data.toString("utf8").split("\0").filter(Boolean);
            if (!mechanisms.includes(SCRAM_MECHANISM)) throw new ConnectionLostError(`${this.describe()} offers no ${SCRAM_MECHANISM}`);
            scram = new ScramClientSession(this.target.password);
            this.socket.write(encodeSASLInitialResponse(SCRAM_MECHANISM, scram.clientFirst()));
          } else if (message.code === 11 && scram) {
            this.socket.write(encodeSASLResponse(scram.handleServerFirst(message.data)));
          } else if (message.code === 12 && scram) {
            scram.verifyServerFinal(message.data);
          } else if (message.code === 3 || message.code === 5) {
            throw new ConnectFailedError(`${this.describe()} asks for the password ${message.code === 3 ? "in cleartext" : "as MD5"}; the coordinator authenticates to nodes only by SCRAM-SHA-256 and does not send it`);
          } else {
            throw new ConnectionLostError(`${this.describe()} asks for an unsupported authentication method (${message.code})`);
          }
          break;
        case "ParameterStatus":
          this.parameters.set(message.name, message.value);
          break;
        case "BackendKeyData":
          this.processId = message.processId;
          this.secretKey = message.secretKey;
          break;
        case "ErrorResponse":
          throw new ServerError(message.fields);
        case "NoticeResponse":
          break;
        case "ReadyForQuery":
          this.transactionStatus = message.status;
          this.checkLexing();
          return;
        default:
          throw new ConnectionLostError(`unexpected ${message.type} from ${this.describe()} during startup`);
      }
    }
  }
  /**
   * Sends messages. `expectsReady`: the data ends a request (a Query, or a batch ending
   * with Sync) that the server answers with ReadyForQuery; COPY data does not.
   */
  write(data, expectsReady = true) {
    if (this.failure) throw this.failure;
    if (expectsReady) this.requestsSent++;
    this.socket.write(data);
  }
  /** The number of the request last written: its answer is complete once `answered(ticket)`. */
  get lastRequest() {
    return this.requestsSent;
  }
  /** True once the ReadyForQuery of request `ticket` has been read (by anyone). */
  answered(ticket) {
    return this.requestsAnswered >= ticket;
  }
  /** True when every request sent has been answered to its ReadyForQuery. */
  get idle() {
    return this.requestsAnswered >= this.requestsSent && !this.broken;
  }
  /**
   * Reads and discards what is left of earlier requests (a stream abandoned after an
   * error elsewhere), so the next request's reader sees only its own answers.
   */
  async settle() {
    while (this.requestsAnswered < this.requestsSent) {
      const reader = this.unfinished.find((r) => r.ticket > this.requestsAnswered);
      if (reader) {
        await reader.spill();
        this.unfinished.splice(this.unfinished.indexOf(reader), 1);
        continue;
      }
      await this.readFrame();
    }
  }
  /** Readers of requests not answered to the end yet, oldest first (see settle). */
  unfinished = [];
  /** A reader of request `ticket` that may stop halfway (WorkerResultStream). */
  register(reader) {
    this.unfinished.push(reader);
  }
  unregister(reader) {
    const index = this.unfinished.indexOf(reader);
    if (index >= 0) this.unfinished.splice(index, 1);
  }
  consumed(frame) {
    if (frame.code === BackendCode.ReadyForQuery && this.requestsAnswered < this.requestsSent) this.requestsAnswered++;
    return frame;
  }
  /** The next frame from the server, in order. */
  dequeue() {
    const frame = this.queue.shift();
    if (!frame) return void 0;
    this.queuedBytes -= frame.raw.length;
    if (this.paused && this.queuedBytes < _BackendConnection.RESUME_BYTES) {
      this.paused = false;
      this.socket.resume();
    }
    return frame;
  }
  readFrame() {
    const frame = this.dequeue();
    if (frame) return Promise.resolve(this.consumed(frame));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve3, reject) => {
      this.waiter = { resolve: resolve3, reject };
    }).then((f) => this.consumed(f));
  }
  /** Frames already received and not yet read (lets callers batch without awaiting each). */
  takeBuffered() {
    const frame = this.dequeue();
    return frame && this.consumed(frame);
  }
  /**
   * Reads the responses to what was sent, up to ReadyForQuery: each frame but the
   * ErrorResponse and ReadyForQuery goes to `onFrame`; the server's error, if any, is
   * thrown once the connection is ready again (so it stays usable).
   */
  async readUntilReady(onFrame = () => {
  }) {
    let error = null;
    for (; ; ) {
      const frame = await this.readFrame();
      if (frame.code === BackendCode.ErrorResponse) {
        const m = decodeBackend(frame);
        if (m.type === "ErrorResponse") error ??= new ServerError(m.fields);
      } else if (frame.code === BackendCode.ReadyForQuery) {
        const m = decodeBackend(frame);
        if (m.type === "ReadyForQuery") this.transactionStatus = m.status;
        if (error) throw error;
        this.checkLexing();
        return;
      } else {
        onFrame(frame);
      }
    }
  }
  /**
   * Runs SQL with the simple query protocol and returns text rows; for the
   * coordinator's own statements (BEGIN, SET, catalog lookups), not client results.
   */
  async simpleQuery(sql) {
    await this.settle();
    this.write(encodeFrontend({ type: "Query", sql }));
    const rows = [];
    const tags = [];
    await this.readUntilReady((frame) => {
      if (frame.code === BackendCode.DataRow) {
        rows.push(dataRowValues(frame).map((v) => v === null ? null : v.toString("utf8")));
      } else if (frame.code === BackendCode.CommandComplete || frame.code === BackendCode.ParameterStatus) {
        const m = decodeBackend(frame);
        if (m.type === "CommandComplete") tags.push(m.tag);
        else if (m.type === "ParameterStatus") this.parameters.set(m.name, m.value);
      }
    });
    return { rows, tags };
  }
  /**
   * The session state a node keeps per connection is gone (DISCARD ALL ran): what the
   * coordinator remembers of it goes too.
   */
  discarded() {
    this.discardPending = false;
    this.prepared.clear();
    this.settingsKey = "";
    this.efSearch = null;
    this.synchronousCommit = null;
    this.localEfSearch = null;
  }
  /** Asks the server to cancel whatever this connection is running (a separate connection, as the protocol requires). */
  async cancel() {
    const socket = connect({ host: this.target.host, port: this.target.port });
    await new Promise((resolve3) => {
      socket.once("connect", () => {
        socket.end(encodeFrontend({ type: "CancelRequest", processId: this.processId, secretKey: this.secretKey }));
      });
      socket.once("close", () => resolve3());
      socket.once("error", () => resolve3());
    });
  }
  destroy() {
    this.broken = true;
    this.socket.destroy();
  }
  async close() {
    if (!this.broken) {
      try {
        this.socket.end(encodeFrontend({ type: "Terminate" }));
      } catch {
      }
    }
    this.destroy();
  }
};

// src/executor/failover.ts
function failureKind(error) {
  if (error instanceof ConnectFailedError) return "not-sent";
  if (error instanceof ConnectionLostError) return "lost";
  if (error instanceof ServerError) {
    const code = error.sqlstate;
    if (code === "25006" || code === "57P03") return "not-sent";
    if (code === "57P01" || code === "57P02" || code.startsWith("08")) return "lost";
  }
  return "other";
}
var OutcomeUnknownError = class extends ClientError {
  constructor(what2, cause) {
    super(
      SqlState.transactionResolutionUnknown,
      `${what2}: the connection to the worker was lost before it answered (${cause?.message ?? String(cause)}); the write may or may not have been committed. Check before retrying it, or retry it if it is idempotent`
    );
  }
};
var BlockLostError = class extends ClientError {
  constructor(cause) {
    super(
      SqlState.connectionFailure,
      `the connection to a worker was lost inside the transaction block (${cause?.message ?? String(cause)}); the transaction cannot commit: ROLLBACK and run it again`
    );
  }
};
var NotAppliedError = class extends ConnectFailedError {
};
function shardMovedAway(error) {
  return error instanceof ServerError && error.sqlstate === "42P01" && /relation "(?:public\.)?[a-z_][a-z0-9_$]*_\d+" does not exist/.test(error.message);
}
var ShardMovedError = class extends ClientError {
  constructor(cause) {
    super(
      "40001",
      `a shard this transaction uses was moved to another worker group while the transaction ran (${cause?.message ?? String(cause)}); ROLLBACK and run the transaction again`
    );
  }
};
var PlacementsChangedError = class extends ClientError {
  constructor() {
    super("40001", "the worker groups holding reference tables changed while this transaction wrote one (a group was added or removed); nothing was committed: run the transaction again");
  }
};
var AbortedByRecoveryError = class extends ClientError {
  constructor() {
    super("40001", "the transaction was rolled back: its commit waited for the control group longer than the grace period and a recovery loop gave it up; nothing was committed: run it again");
  }
};

// src/executor/transaction.ts
function synchronousCommitFor(durability) {
  return durability === "critical" ? "on" : "local";
}
var CATALOG_PARTICIPANT = -1;
function participantGroup(participant) {
  return participant === CATALOG_PARTICIPANT ? 0 : participant;
}
function partGid(base, participant) {
  return `${base}_g${participant === CATALOG_PARTICIPANT ? "c" : participant}`;
}
var SessionTransaction = class _SessionTransaction {
  /**
   * `sessionId`: the client session's id (its process id), the owner of the pool
   * connections it takes; `role`: the client's role, which its statements run as on the
   * nodes (undefined: the coordinator's own role, for tools and tests).
   */
  constructor(coordinator, sessionId = 1, role) {
    this.coordinator = coordinator;
    this.sessionId = sessionId;
    this.role = role;
  }
  coordinator;
  sessionId;
  role;
  /** 'I' idle, 'T' in a block, 'E' in a failed block (what ReadyForQuery reports). */
  status = "I";
  beginSql = "BEGIN";
  held = /* @__PURE__ */ new Map();
  begun = /* @__PURE__ */ new Set();
  written = /* @__PURE__ */ new Set();
  /** Session-level SET statements, in order; applied to every connection the session takes. */
  settings = /* @__PURE__ */ new Map();
  settingsKey = "";
  /** SET LOCAL statements of the current block, applied to connections it takes later. */
  localSettings = [];
  statementConnections = [];
  /** The statement now running is a read a standby may answer (set by the executor; reset when it ends). */
  statementReplicaOk = false;
  /** Set while a read runs again after a standby refused it (25006: it calls a function that writes). */
  forcePrimary = false;
  /** Groups the statement now running writes outside a block. */
  statementWrites = /* @__PURE__ */ new Set();
  /** Date.now() after this session's last write to each group (read-your-writes on standbys). */
  lastWriteAt = /* @__PURE__ */ new Map();
  /** Connections running a statement right now (for CancelRequest). */
  busy = /* @__PURE__ */ new Set();
  /**
   * Durability class of the table the statement now running writes (set by the
   * executor before it takes connections; back to critical when the statement ends).
   */
  statementDurability = "critical";
  /**
   * The reference epoch (catalog dpg_catalog.reference_epoch) of the transaction's first
   * write to a reference table, routed to the groups of that epoch; null: none written.
   * The commit goes through only if the epoch is still that one.
   */
  referenceEpoch = null;
  /** In a block: the strongest durability class written on each group (its COMMIT waits accordingly). */
  groupDurability = /* @__PURE__ */ new Map();
  poolOf(participant) {
    return participant === CATALOG_PARTICIPANT ? this.coordinator.pool(0) : this.coordinator.pool(participant, this.role);
  }
  /** The session's settings, as part of a cached result's key (DateStyle, TimeZone, ... shape results). */
  get settingsFingerprint() {
    return this.settingsKey;
  }
  get inBlock() {
    return this.status !== "I";
  }
  /** The connection for a group, for the statement now running (held for the block when in one). */
  async connection(groupId, options = {}) {
    const catalog = groupId === CATALOG_PARTICIPANT;
    const replica = !catalog && !options.write && !this.inBlock && this.statementReplicaOk && !this.forcePrimary ? this.coordinator.replicas?.pick(groupId, this.lastWriteAt.get(groupId) ?? 0, this.role) ?? null : null;
    const pool = replica?.pool ?? this.poolOf(groupId);
    let connection = this.held.get(groupId) ?? (this.inBlock ? void 0 : this.statementConnections.find((s) => s.groupId === groupId && s.pool === pool && !this.busy.has(s.connection))?.connection);
    if (connection) await connection.settle();
    if (!connection) {
      try {
        connection = await pool.acquire(catalog ? void 0 : this.sessionId);
      } catch (error) {
        if (!replica) throw error;
        this.coordinator.replicas?.failed(replica.node);
        return this.connection(groupId, options);
      }
      try {
        if (catalog) {
          if (this.inBlock) await connection.simpleQuery("BEGIN");
          if (this.inBlock) this.begun.add(groupId);
        } else await this.applySettings(connection);
        if (this.inBlock && !catalog) {
          const reset = connection.synchronousCommit === "local" ? ["SET synchronous_commit = on"] : [];
          await connection.simpleQuery([...reset, this.beginSql, ...this.localSettings].join("; "));
          if (reset.length > 0) connection.synchronousCommit = "on";
          this.begun.add(groupId);
        }
      } catch (error) {
        pool.release(connection);
        throw error;
      }
      if (this.inBlock) this.held.set(groupId, connection);
      else this.statementConnections.push({ groupId, connection, pool });
    }
    if (options.write) {
      this.written.add(groupId);
      const durability = options.durability ?? this.statementDurability;
      if (this.inBlock) {
        const before = this.groupDurability.get(groupId);
        this.groupDurability.set(groupId, before === "critical" || durability === "critical" ? "critical" : durability);
      } else if (!catalog) {
        this.statementWrites.add(groupId);
        await this.useSynchronousCommit(connection, synchronousCommitFor(durability));
      }
    }
    return connection;
  }
  /** True when the session chose its own synchronous_commit (SET, SET LOCAL, startup options): dpg leaves it alone. */
  get ownSynchronousCommit() {
    return this.settings.has("synchronous_commit") || this.localSettings.some((sql) => /synchronous_commit/i.test(sql));
  }
  /**
   * Outside a block each write commits on its own: the connection's synchronous_commit
   * is set to what the table needs ('on': wait for the synchronous standby; 'local':
   * do not), only when it changes.
   */
  async useSynchronousCommit(connection, value) {
    if (this.ownSynchronousCommit || (connection.synchronousCommit ?? "on") === value) return;
    await connection.simpleQuery(`SET synchronous_commit = ${value}`);
    connection.synchronousCommit = value;
  }
  /** Ends a statement: outside a block its connections go back to their pools. */
  endStatement() {
    this.statementDurability = "critical";
    this.statementReplicaOk = false;
    for (const groupId of this.statementWrites) this.lastWriteAt.set(groupId, Date.now());
    this.statementWrites.clear();
    for (const { connection, pool } of this.statementConnections) {
      this.busy.delete(connection);
      if (connection.transactionStatus !== "I" && !connection.broken) {
        connection.destroy();
      }
      pool.release(connection);
    }
    this.statementConnections = [];
  }
  async applySettings(connection) {
    const discard = connection.discardPending;
    if (!discard && connection.settingsKey === this.settingsKey) return;
    const statements = [discard ? discardSessionStateSql(connection) : "RESET ALL", ...this.settings.values()];
    connection.efSearch = null;
    connection.synchronousCommit = null;
    await connection.simpleQuery(statements.join("; "));
    if (discard) connection.discarded();
    connection.settingsKey = this.settingsKey;
  }
  /**
   * hnsw.ef_search for a vector search the coordinator routes to an HNSW index, unless
   * the session chose its own (SET or SET LOCAL hnsw.ef_search). Outside a block it is
   * set on the connection and remembered there (most searches then need no SET);
   * inside one it is SET LOCAL, gone with the block.
   */
  async useEfSearch(connection, value) {
    if (this.settings.has("hnsw.ef_search") || this.localSettings.some((sql) => /hnsw\.ef_search/i.test(sql))) return;
    if (this.inBlock) {
      if (connection.localEfSearch === value) return;
      await connection.simpleQuery(`SET LOCAL hnsw.ef_search = ${value}`);
      connection.localEfSearch = value;
      return;
    }
    if (connection.efSearch === value) return;
    await connection.simpleQuery(`SET hnsw.ef_search = ${value}`);
    connection.efSearch = value;
  }
  /** A session's own SET ran on this connection: whoever takes it next applies their settings anew. */
  static settingsChanged(connection) {
    connection.settingsKey = "\0changed";
    connection.efSearch = null;
    connection.synchronousCommit = null;
  }
  /** Records a session-level SET/RESET; the caller has validated it on a connection already. */
  recordSetting(name, sql, reset) {
    if (name === null) this.settings.clear();
    else if (reset) this.settings.delete(name);
    else {
      this.settings.delete(name);
      this.settings.set(name, sql);
    }
    this.settingsKey = [...this.settings.values()].join(";");
  }
  /** The value a SET (session-level, or SET LOCAL in this block: the latest) gave `name`; null when none did. */
  settingValue(name) {
    const statements = [this.settings.get(name), ...this.localSettings.filter((sql) => sql.toLowerCase().includes(name))].filter((sql) => !!sql);
    const last = statements.at(-1);
    if (!last) return null;
    if (/^\s*RESET\b|\bTO\s+DEFAULT\b|=\s*DEFAULT\b/i.test(last)) return null;
    const viaFunction = /set_config\('[^']*',\s*'((?:[^']|'')*)'/i.exec(last);
    if (viaFunction) return viaFunction[1].replace(/''/g, "'");
    return /(?:=|\bTO\b)\s*'?([^';]*)'?\s*;?\s*$/i.exec(last)?.[1]?.trim() ?? null;
  }
  recordLocalSetting(sql) {
    this.localSettings.push(sql);
  }
  /** Connections this session holds now (block connections and the current statement's). */
  connections() {
    return [...this.held.values(), ...this.statementConnections.map((s) => s.connection)];
  }
  begin(sql) {
    this.status = "T";
    this.beginSql = sql;
  }
  fail() {
    if (this.inBlock) this.status = "E";
  }
  async commit() {
    if (this.status === "E") {
      await this.rollback();
      return "ROLLBACK";
    }
    const groups = [...this.begun];
    const writers = groups.filter((g) => this.written.has(g));
    if (this.referenceEpoch !== null && writers.length === 1) {
      try {
        await this.coordinator.checkReferenceEpoch(this.referenceEpoch);
      } catch (error) {
        await this.rollback();
        throw error;
      }
    }
    try {
      if (writers.length <= 1) {
        await Promise.all(
          groups.map(
            (g) => this.held.get(g).simpleQuery(this.commitSql(g)).catch((error) => {
              if (failureKind(error) === "other") throw error;
              if (writers.includes(g)) throw new OutcomeUnknownError("COMMIT", error);
            })
          )
        );
      } else {
        await this.twoPhaseCommit(groups, writers);
      }
    } finally {
      this.finishBlock();
    }
    return "COMMIT";
  }
  /** COMMIT of a block on one group: without waiting for a standby when it wrote only audit or ephemeral tables. */
  commitSql(groupId) {
    const durability = this.groupDurability.get(groupId);
    if (!durability || durability === "critical" || this.ownSynchronousCommit) return "COMMIT";
    return `SET LOCAL synchronous_commit = ${synchronousCommitFor(durability)}; COMMIT`;
  }
  async twoPhaseCommit(groups, writers) {
    const readers = groups.filter((g) => !writers.includes(g));
    await Promise.all(readers.map((g) => this.held.get(g).simpleQuery("COMMIT").catch(() => {
    })));
    const base = `dpg_${Date.now().toString(36)}_${randomBytes2(6).toString("hex")}`;
    const gids = new Map(writers.map((g) => [g, partGid(base, g)]));
    const prepared2 = [];
    this.injectFault("crash-before-prepare");
    try {
      await Promise.all(
        writers.map(async (g) => {
          await this.held.get(g).simpleQuery(`PREPARE TRANSACTION '${gids.get(g)}'`);
          prepared2.push(g);
          if (prepared2.length === 1) this.injectFault("crash-after-first-prepare");
        })
      );
    } catch (error) {
      metrics()?.twoPhaseCommits.inc({ outcome: "failed" });
      await Promise.all(prepared2.map((g) => this.held.get(g).simpleQuery(`ROLLBACK PREPARED '${gids.get(g)}'`).catch(() => {
      })));
      await Promise.all(writers.filter((g) => !prepared2.includes(g)).map((g) => this.held.get(g).simpleQuery("ROLLBACK").catch(() => {
      })));
      throw error;
    }
    this.injectFault("crash-after-prepare");
    try {
      await this.injectDelay("delay-before-commit-record", 5e3);
      const deadline = Date.now() + this.coordinator.failoverWaitMs;
      for (; ; ) {
        try {
          await this.coordinator.recordCommitDecision(base, this.referenceEpoch);
          break;
        } catch (error) {
          if (failureKind(error) !== "not-sent" || Date.now() >= deadline) throw error;
          await this.coordinator.leaderChange(Math.min(250, Math.max(0, deadline - Date.now())));
        }
      }
    } catch (error) {
      metrics()?.twoPhaseCommits.inc({ outcome: "failed" });
      if (failureKind(error) === "lost") throw new OutcomeUnknownError("COMMIT of a transaction over several worker groups", error);
      await Promise.all(writers.map((g) => this.held.get(g).simpleQuery(`ROLLBACK PREPARED '${gids.get(g)}'`).catch(() => {
      })));
      throw error;
    }
    this.injectFault("crash-after-commit-record");
    const failures = [];
    let committed = 0;
    await Promise.all(
      writers.map(
        (g) => this.held.get(g).simpleQuery(`COMMIT PREPARED '${gids.get(g)}'`).then(() => {
          if (++committed === 1) this.injectFault("crash-after-first-commit-prepared");
        }).catch((e) => failures.push(e))
      )
    );
    metrics()?.twoPhaseCommits.inc({ outcome: "committed" });
    if (failures.length === 0) void this.coordinator.forgetCommitDecision(base);
  }
  /**
   * Fault injection for the two-phase commit tests: with DPG_FAULT_INJECTION=1 in the
   * coordinator's environment, `SET dpg.fault_injection = '<point>'` makes the
   * coordinator die (SIGKILL, no cleanup) at that point of a distributed commit.
   */
  /** Fault injection, as injectFault: `SET dpg.fault_injection = '<point>'` makes the commit wait here. */
  async injectDelay(point, ms2) {
    if (process.env.DPG_FAULT_INJECTION !== "1") return;
    if ((this.settings.get("dpg.fault_injection") ?? "").includes(`'${point}'`)) await new Promise((resolve3) => setTimeout(resolve3, ms2));
  }
  /**
   * Fault injection for the result-cache tests: with DPG_FAULT_INJECTION=1, true when the
   * session set `dpg.fault_injection` to a list naming `point` ('a b' or 'a,b').
   */
  faultPoint(point) {
    if (process.env.DPG_FAULT_INJECTION !== "1") return false;
    const value = /'([^']*)'/.exec(this.settings.get("dpg.fault_injection") ?? "")?.[1] ?? "";
    return value.split(/[\s,]+/).includes(point);
  }
  injectFault(point) {
    if (process.env.DPG_FAULT_INJECTION !== "1") return;
    const setting = this.settings.get("dpg.fault_injection") ?? "";
    if (setting.includes(`'${point}'`)) process.kill(process.pid, "SIGKILL");
  }
  async rollback() {
    try {
      await Promise.all([...this.begun].map((g) => this.held.get(g).simpleQuery("ROLLBACK").catch(() => this.held.get(g).destroy())));
    } finally {
      this.finishBlock();
    }
  }
  /** A session-level SET ran on the block's connections (SET inside BEGIN ... COMMIT). */
  heldSettingsChanged() {
    for (const connection of this.held.values()) _SessionTransaction.settingsChanged(connection);
  }
  finishBlock() {
    this.referenceEpoch = null;
    for (const groupId of this.written) this.lastWriteAt.set(groupId, Date.now());
    for (const [groupId, connection] of this.held) {
      connection.localEfSearch = null;
      this.poolOf(groupId).release(connection);
    }
    this.held.clear();
    this.begun.clear();
    this.written.clear();
    this.groupDurability.clear();
    this.localSettings = [];
    this.status = "I";
    this.beginSql = "BEGIN";
  }
  /** Runs `sql` (SAVEPOINT, RELEASE, ROLLBACK TO) on every group the block has touched. */
  async onEveryBegunGroup(sql) {
    await Promise.all([...this.begun].map((g) => this.held.get(g).simpleQuery(sql)));
  }
  async close() {
    if (this.inBlock) await this.rollback().catch(() => {
    });
    this.endStatement();
  }
};

// src/executor/worker-request.ts
import { createHash as createHash2 } from "node:crypto";
var preparedNames = /* @__PURE__ */ new Map();
function preparedName(sql, types) {
  const key = types.length > 0 ? `${types.join(",")}|${sql}` : sql;
  let name = preparedNames.get(key);
  if (!name) {
    name = `dpg_${createHash2("sha1").update(key).digest("base64url").slice(0, 20)}`;
    if (preparedNames.size >= 1e4) preparedNames.clear();
    preparedNames.set(key, name);
  }
  return name;
}
var MAX_PREPARED_PER_CONNECTION = 1e3;
function writeRequests(connection, requests, extended, typeMap) {
  if (!extended) {
    connection.write(encodeFrontend({ type: "Query", sql: requests.map((r) => r.sql).join(";\n") }));
    return () => {
    };
  }
  const frames = [];
  const added = [];
  let leading = 0;
  if (connection.prepared.size > MAX_PREPARED_PER_CONNECTION) {
    leading = 1;
    frames.push(encodeFrontend({ type: "Parse", name: "", sql: "DEALLOCATE ALL", parameterTypes: [] }));
    frames.push(encodeFrontend({ type: "Bind", portal: "", statement: "", parameterFormats: [], parameters: [], resultFormats: [] }));
    frames.push(encodeFrontend({ type: "Execute", portal: "", maxRows: 0 }));
    connection.prepared.clear();
  }
  for (const request2 of requests) {
    const types = (request2.paramTypes ?? []).map((oid) => typeMap.toWorker(oid));
    const name = preparedName(request2.sql, types);
    if (!connection.prepared.has(name)) {
      frames.push(encodeFrontend({ type: "Parse", name, sql: request2.sql, parameterTypes: types }));
      connection.prepared.add(name);
      added.push(name);
    }
    frames.push(
      encodeFrontend({
        type: "Bind",
        portal: "",
        statement: name,
        parameterFormats: request2.paramFormats ?? [],
        parameters: request2.params ?? [],
        resultFormats: request2.resultFormats ?? []
      })
    );
    frames.push(encodeFrontend({ type: "Describe", kind: "P", name: "" }));
    frames.push(encodeFrontend({ type: "Execute", portal: "", maxRows: 0 }));
  }
  frames.push(SYNC);
  connection.write(Buffer.concat(frames));
  return (parsed) => {
    for (const name of added.slice(Math.max(0, parsed - leading))) connection.prepared.delete(name);
  };
}
function combineTags(tags) {
  if (tags.length === 0) return "";
  if (tags.length === 1) return tags[0];
  const first = tags[0];
  const match = /^(.*?)(\d+)$/.exec(first);
  if (!match) return first;
  const total = tags.reduce((sum, tag) => sum + Number(/(\d+)$/.exec(tag)?.[1] ?? 0), 0);
  return `${match[1]}${total}`;
}

// src/executor/result-stream.ts
var SPILL_LIMIT_BYTES = 16 * 1024 * 1024;
var WorkerResultStream = class {
  /** Rows whose last `hiddenColumns` columns are for the coordinator's merge, not the client. */
  constructor(connection, typeMap, onNotice, hiddenColumns = 0, onEnd = () => {
  }, onError = () => {
  }) {
    this.connection = connection;
    this.typeMap = typeMap;
    this.onNotice = onNotice;
    this.hiddenColumns = hiddenColumns;
    this.onEnd = onEnd;
    this.onError = onError;
    this.ticket = connection.lastRequest;
    connection.register(this);
  }
  connection;
  typeMap;
  onNotice;
  hiddenColumns;
  onEnd;
  onError;
  desc = void 0;
  tags = [];
  done = false;
  error = null;
  pendingRow = null;
  empty = false;
  /** ParseComplete messages seen: statements prepared before an error exist on the worker. */
  parsed = 0;
  /** The request this stream reads the answer to (see BackendConnection.lastRequest). */
  ticket;
  /** The rest of the answer, read off the connection so that another request could use it. */
  spilled = null;
  /**
   * Another statement needs the connection while this answer is unfinished (two portals
   * of one transaction on one group, the first suspended by Execute's row limit): the
   * rest of it is read into memory, at most SPILL_LIMIT_BYTES; past that the rest is
   * dropped and this stream ends with an error (54000) instead of fewer rows.
   */
  async spill() {
    if (this.done || this.spilled) return;
    let frames = [];
    let bytes = 0;
    for (; ; ) {
      const frame = this.connection.takeBuffered() ?? await this.connection.readFrame();
      if (frame.code !== BackendCode.ReadyForQuery) bytes += frame.raw.length;
      if (bytes <= SPILL_LIMIT_BYTES) frames.push(frame);
      if (frame.code !== BackendCode.ReadyForQuery) continue;
      if (bytes > SPILL_LIMIT_BYTES) {
        this.error ??= new ServerError({ severity: "ERROR", severityNonLocalized: "ERROR", code: "54000", message: `the rest of this portal's result (over ${SPILL_LIMIT_BYTES / 1024 / 1024} MB) could not be kept while another statement ran on the same node connection: fetch it before running another statement in the transaction` });
        frames = [frame];
      }
      break;
    }
    this.spilled = frames;
  }
  /** Advances to the next frame that matters; returns a DataRow frame, or null at the end. */
  async advance() {
    while (!this.done) {
      if (!this.spilled && this.connection.answered(this.ticket)) {
        this.done = true;
        this.connection.unregister(this);
        this.onEnd();
        break;
      }
      const frame = this.spilled ? this.spilled.shift() : this.connection.takeBuffered() ?? await this.connection.readFrame();
      switch (frame.code) {
        case BackendCode.DataRow:
          if (this.desc === void 0) this.desc = null;
          return frame;
        case BackendCode.RowDescription:
          this.desc = this.typeMap.rowDescription(frame, this.hiddenColumns);
          this.rawDescription = frame;
          break;
        case BackendCode.NoData:
          this.desc = null;
          break;
        case BackendCode.ParseComplete:
          this.parsed++;
          break;
        case BackendCode.CopyOutResponse:
        case BackendCode.CopyData:
        case BackendCode.CopyDone:
          if (this.desc === void 0) this.desc = null;
          return frame;
        case BackendCode.CommandComplete: {
          const message = decodeBackend(frame);
          if (message.type === "CommandComplete") this.tags.push(message.tag);
          if (this.desc === void 0) this.desc = null;
          break;
        }
        case BackendCode.EmptyQueryResponse:
          this.empty = true;
          if (this.desc === void 0) this.desc = null;
          break;
        case BackendCode.ErrorResponse: {
          const message = decodeBackend(frame);
          if (message.type === "ErrorResponse") this.error = new ServerError(message.fields);
          this.onError(this.parsed);
          if (this.desc === void 0) this.desc = null;
          break;
        }
        case BackendCode.NoticeResponse:
          this.onNotice(frame.raw);
          break;
        case BackendCode.ReadyForQuery: {
          const message = decodeBackend(frame);
          if (message.type === "ReadyForQuery" && !this.spilled) this.connection.transactionStatus = message.status;
          this.done = true;
          this.connection.unregister(this);
          this.onEnd();
          if (this.error) throw this.error;
          this.connection.checkLexing();
          return null;
        }
        default:
          break;
      }
    }
    if (this.error) throw this.error;
    return null;
  }
  /** The worker's own RowDescription (for the merge: column types of hidden sort columns). */
  rawDescription = null;
  async description() {
    if (this.desc === void 0) {
      const row = await this.advance();
      this.pendingRow = row;
    }
    return this.desc ?? null;
  }
  async nextRow() {
    const frame = await this.nextFrame();
    if (!frame) return null;
    return this.hiddenColumns > 0 ? stripHiddenColumns(frame, this.hiddenColumns) : frame.raw;
  }
  /** The next DataRow as the worker sent it (hidden columns included). */
  async nextFrame() {
    if (this.pendingRow) {
      const row = this.pendingRow;
      this.pendingRow = null;
      return row;
    }
    return this.advance();
  }
  tag() {
    return combineTags(this.tags);
  }
  async close() {
    this.pendingRow = null;
    try {
      while (!this.done) await this.advance();
    } catch {
    }
  }
};
function stripHiddenColumns(frame, hidden) {
  const body = frame.body;
  const count2 = body.readInt16BE(0);
  const keep = count2 - hidden;
  let offset = 2;
  for (let i = 0; i < keep; i++) {
    const length = body.readInt32BE(offset);
    offset += 4 + (length > 0 ? length : 0);
  }
  const out2 = Buffer.allocUnsafe(1 + 4 + offset);
  out2[0] = BackendCode.DataRow;
  out2.writeInt32BE(4 + offset, 1);
  body.copy(out2, 5, 0, offset);
  out2.writeInt16BE(keep, 5);
  return out2;
}
var LocalResultStream = class {
  constructor(commandTag, desc = null, rows = []) {
    this.commandTag = commandTag;
    this.desc = desc;
    this.rows = rows;
  }
  commandTag;
  desc;
  rows;
  index = 0;
  async description() {
    return this.desc;
  }
  async nextRow() {
    return this.rows[this.index++] ?? null;
  }
  tag() {
    return this.commandTag;
  }
  async close() {
  }
};
var PrefetchedStream = class _PrefetchedStream {
  constructor(inner, desc, first) {
    this.inner = inner;
    this.desc = desc;
    this.first = first;
  }
  inner;
  desc;
  first;
  firstTaken = false;
  static async of(inner) {
    const desc = await inner.description();
    const first = await inner.nextRow();
    return new _PrefetchedStream(inner, desc, first);
  }
  get empty() {
    return this.inner.empty;
  }
  async description() {
    return this.desc;
  }
  async nextRow() {
    if (!this.firstTaken) {
      this.firstTaken = true;
      return this.first;
    }
    return this.first === null ? null : this.inner.nextRow();
  }
  tag() {
    return this.inner.tag();
  }
  close() {
    return this.inner.close();
  }
};

// src/executor/run-plan.ts
import { deparseSync as deparseSync4 } from "pgsql-deparser";

// src/catalog/hashtext.ts
var encoder = new TextEncoder();
var MAX_SHARED_BUFFER_BYTES = 64 * 1024;
var sharedBuffer = new Uint8Array(256);
function hashtext(value) {
  const worstCaseBytes = value.length * 3;
  if (worstCaseBytes > sharedBuffer.length) {
    if (worstCaseBytes > MAX_SHARED_BUFFER_BYTES) {
      const bytes = encoder.encode(value);
      return hashByteRange(bytes, bytes.length);
    }
    let size = sharedBuffer.length * 2;
    while (size < worstCaseBytes) size *= 2;
    sharedBuffer = new Uint8Array(Math.min(size, MAX_SHARED_BUFFER_BYTES));
  }
  const { written } = encoder.encodeInto(value, sharedBuffer);
  return hashByteRange(sharedBuffer, written);
}
function hashByteRange(k, length) {
  let a = 2654435769 + length + 3923095 | 0;
  let b = a;
  let c = a;
  let offset = 0;
  let remaining = length;
  while (remaining >= 12) {
    a = a + (k[offset] | k[offset + 1] << 8 | k[offset + 2] << 16 | k[offset + 3] << 24) | 0;
    b = b + (k[offset + 4] | k[offset + 5] << 8 | k[offset + 6] << 16 | k[offset + 7] << 24) | 0;
    c = c + (k[offset + 8] | k[offset + 9] << 8 | k[offset + 10] << 16 | k[offset + 11] << 24) | 0;
    a = a - c | 0;
    a ^= c << 4 | c >>> 28;
    c = c + b | 0;
    b = b - a | 0;
    b ^= a << 6 | a >>> 26;
    a = a + c | 0;
    c = c - b | 0;
    c ^= b << 8 | b >>> 24;
    b = b + a | 0;
    a = a - c | 0;
    a ^= c << 16 | c >>> 16;
    c = c + b | 0;
    b = b - a | 0;
    b ^= a << 19 | a >>> 13;
    a = a + c | 0;
    c = c - b | 0;
    c ^= b << 4 | b >>> 28;
    b = b + a | 0;
    offset += 12;
    remaining -= 12;
  }
  let tailA = 0;
  let tailB = 0;
  let tailC = 0;
  for (let i = 0; i < remaining; i++) {
    const byte = k[offset + i];
    if (i < 4) tailA |= byte << i * 8;
    else if (i < 8) tailB |= byte << (i - 4) * 8;
    else tailC |= byte << (i - 7) * 8;
  }
  a = a + tailA | 0;
  b = b + tailB | 0;
  c = c + tailC | 0;
  c ^= b;
  c = c - (b << 14 | b >>> 18) | 0;
  a ^= c;
  a = a - (c << 11 | c >>> 21) | 0;
  b ^= a;
  b = b - (a << 25 | a >>> 7) | 0;
  c ^= b;
  c = c - (b << 16 | b >>> 16) | 0;
  a ^= c;
  a = a - (c << 4 | c >>> 28) | 0;
  b ^= a;
  b = b - (a << 14 | a >>> 18) | 0;
  c ^= b;
  c = c - (b << 24 | b >>> 8) | 0;
  return c;
}

// src/catalog/shard-ranges.ts
var MIN_SHARD_COUNT = 1;
var MAX_SHARD_COUNT = 65536;
var HASH_TOKEN_COUNT = 2 ** 32;
var INT32_MIN = -(2 ** 31);
var INT32_MAX = 2 ** 31 - 1;
function shardRanges(shardCount) {
  assertShardCount(shardCount);
  const increment = hashTokenIncrement(shardCount);
  const ranges = [];
  for (let index = 0; index < shardCount; index++) {
    const min = INT32_MIN + index * increment;
    const max = index === shardCount - 1 ? INT32_MAX : min + increment - 1;
    ranges.push({ index, min, max });
  }
  return ranges;
}
function shardIndexForHash(hash, shardCount) {
  assertShardCount(shardCount);
  if (!Number.isInteger(hash) || hash < INT32_MIN || hash > INT32_MAX) {
    throw new RangeError(`hash must be an int32 (from ${INT32_MIN} to ${INT32_MAX}), got ${hash}`);
  }
  const index = Math.floor((hash - INT32_MIN) / hashTokenIncrement(shardCount));
  return index < shardCount ? index : shardCount - 1;
}
function namespaceShardIdSql() {
  return `CREATE OR REPLACE FUNCTION namespace_shard_id(p_namespace text, p_shard_count int)
RETURNS int
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $function$
BEGIN
  IF p_shard_count < ${MIN_SHARD_COUNT} OR p_shard_count > ${MAX_SHARD_COUNT} THEN
    RAISE EXCEPTION 'namespace_shard_id: shard count must be from ${MIN_SHARD_COUNT} to ${MAX_SHARD_COUNT}, got %', p_shard_count
      USING ERRCODE = '22023';
  END IF;
  -- In int8: the hash's offset from -2^31, divided by increment = floor(2^32 / count);
  -- the hashes past the last full increment belong to the last shard.
  RETURN least(
    (hashtext(p_namespace COLLATE "C")::int8 + 2147483648) / (4294967296 / p_shard_count),
    p_shard_count - 1
  )::int;
END
$function$;

COMMENT ON FUNCTION namespace_shard_id(text, int) IS
'The seed''s namespace_shard_id realised on dpg''s range sharding: the 0-based index of the shard '
'whose range holds hashtext(p_namespace). As in Citus, shard i of p_shard_count owns the i-th of '
'p_shard_count equal contiguous ranges of the int32 hash space (the last shard also owns the '
'remainder up to 2147483647), instead of the seed''s (hashtext(p_namespace) & 2147483647) % p_shard_count. '
'Must agree with shardIndexForValue in dpg''s src/catalog/shard-ranges.ts.';
`;
}
function assertShardCount(shardCount) {
  if (!Number.isInteger(shardCount) || shardCount < MIN_SHARD_COUNT || shardCount > MAX_SHARD_COUNT) {
    throw new RangeError(
      `shard count must be an integer from ${MIN_SHARD_COUNT} to ${MAX_SHARD_COUNT}, got ${shardCount}`
    );
  }
}
function hashTokenIncrement(shardCount) {
  return (HASH_TOKEN_COUNT - HASH_TOKEN_COUNT % shardCount) / shardCount;
}

// src/catalog/hyperbolic.ts
var HYPERBOLIC_LEVELS_PER_UNIT = 10;
var HyperbolicValueError = class extends Error {
};
function hyperbolicShardIndex(radius, shardCount) {
  if (!Number.isFinite(radius)) throw new HyperbolicValueError(`radius ${radius} is not a finite number`);
  return Math.max(0, Math.min(Math.floor(radius * HYPERBOLIC_LEVELS_PER_UNIT), shardCount - 1));
}
function radiusOf(value) {
  const text = value.trim();
  if (text.startsWith("[")) {
    if (!text.endsWith("]")) throw new HyperbolicValueError(`${JSON.stringify(value.slice(0, 40))} is not a vector literal`);
    let sum = 0;
    for (const part of text.slice(1, -1).split(",")) {
      const x = Number(part);
      if (part.trim() === "" || !Number.isFinite(x)) throw new HyperbolicValueError(`${JSON.stringify(value.slice(0, 40))} is not a vector literal`);
      sum += x * x;
    }
    return Math.sqrt(sum);
  }
  const radius = Number(text);
  if (text === "" || !Number.isFinite(radius)) throw new HyperbolicValueError(`${JSON.stringify(value.slice(0, 40))} is not a number`);
  return radius;
}
function hyperbolicShardIdSql() {
  return `CREATE OR REPLACE FUNCTION public.hyperbolic_shard_id(p_radius double precision, p_shard_count int)
RETURNS int LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT GREATEST(0, LEAST(FLOOR(p_radius * ${HYPERBOLIC_LEVELS_PER_UNIT})::int, p_shard_count - 1)) $$`;
}

// src/catalog/snapshot.ts
var CatalogSnapshot = class _CatalogSnapshot {
  constructor(tables2, groups, nodes, version, namespaces = [], referenceEpoch = 1) {
    this.referenceEpoch = referenceEpoch;
    for (const entry of namespaces) {
      let byNamespace = this.namespaceTiers.get(entry.table);
      if (!byNamespace) this.namespaceTiers.set(entry.table, byNamespace = /* @__PURE__ */ new Map());
      byNamespace.set(entry.namespace, entry);
    }
    this.tables = new Map(tables2.map((t) => [t.name, t]));
    this.groups = new Map(groups.map((g) => [g.id, g]));
    this.nodes = nodes;
    this.version = version;
  }
  referenceEpoch;
  tables;
  groups;
  nodes;
  /** Increases with every change; plans cached under an older version are re-planned. */
  version;
  /** Namespaces whose tier is not 'exact' (the default for any namespace not listed), by table. */
  namespaceTiers = /* @__PURE__ */ new Map();
  /** The table a relation name (unqualified, or qualified with schema public) refers to, if dpg manages it. */
  table(name, schema2) {
    if (schema2 && schema2 !== "public") return void 0;
    return this.tables.get(name);
  }
  /** The tier a namespace of a table is searched with: its own HNSW index ('hnsw') or exact search. */
  namespaceTier(table2, namespace) {
    return this.namespaceTiers.get(table2)?.get(namespace);
  }
  /**
   * The shards that may hold rows of a distribution value: its own, or every shard of
   * the table once the namespace is split (its rows are placed by composite key).
   */
  shardIndexesForValue(table2, value) {
    if (this.namespaceTiers.get(table2.name)?.get(value)?.tier === "split") return table2.shards.map((s) => s.index);
    return [_CatalogSnapshot.shardIndexForValue(table2, value)];
  }
  /**
   * The shard a new row goes to: by its distribution value, or for a split namespace
   * by the seed's composite key, namespace || to_char(created_at, 'YYYY-MM'), with the
   * month the row is written in (UTC), which is its created_at month by default.
   */
  shardIndexForNewRow(table2, value, now = /* @__PURE__ */ new Date()) {
    if (this.namespaceTiers.get(table2.name)?.get(value)?.tier === "split") {
      return _CatalogSnapshot.shardIndexForValue(table2, compositeKey(value, now));
    }
    return _CatalogSnapshot.shardIndexForValue(table2, value);
  }
  /**
   * The groups holding a shard now. A plan keeps the TableInfo of the snapshot it was
   * made with (a prepared statement keeps it for good); a shard move changes only the
   * placement, so the executor asks the current snapshot where the shard is.
   */
  placementGroups(table2, shardIndex) {
    const current2 = this.tables.get(table2.name);
    const shard = current2?.shards[shardIndex];
    return shard && shard.shardId === table2.shards[shardIndex]?.shardId ? shard.groupIds : table2.shards[shardIndex].groupIds;
  }
  workerGroupIds() {
    return [...this.groups.values()].filter((g) => g.kind === "worker").map((g) => g.id).sort((a, b) => a - b);
  }
  /**
   * Shard index holding a distribution value: the hashtext() range of a text value, or
   * the level of a hyperbolic table's radius.
   * @throws ClientError 22P02 for a hyperbolic table's value that is not a number or vector
   */
  static shardIndexForValue(table2, value) {
    if (table2.distributionMethod === "hyperbolic") {
      try {
        return hyperbolicShardIndex(radiusOf(value), table2.shardCount);
      } catch (error) {
        if (error instanceof HyperbolicValueError) {
          throw new ClientError("22P02", `the distribution value of ${table2.name} (distributed by radius) ${error.message}; send it as a number (or a vector) in text format`);
        }
        throw error;
      }
    }
    const hash = hashtext(value);
    if (table2.uniformRanges !== false) return shardIndexForHash(hash, table2.shardCount);
    let low = 0;
    let high = table2.shards.length - 1;
    while (low < high) {
      const middle = low + high + 1 >> 1;
      if (table2.shards[middle].hashMin <= hash) low = middle;
      else high = middle - 1;
    }
    return low;
  }
};
function compositeKey(namespace, createdAt) {
  return `${namespace}${createdAt.getUTCFullYear()}-${String(createdAt.getUTCMonth() + 1).padStart(2, "0")}`;
}

// src/planner/sql-ast.ts
import { loadModule, parseSync } from "libpg-query";
import { Worker } from "node:worker_threads";
var SqlSyntaxError = class extends Error {
  sqlstate;
  /**
   * 1-based position in characters (code points) of the whole query string, as
   * PostgreSQL reports it in the ErrorResponse 'P' field
   * (https://www.postgresql.org/docs/current/protocol-error-fields.html);
   * undefined for the few grammar errors PostgreSQL reports without a position.
   */
  position;
  constructor(message, position, sqlstate = sqlstateOfParserError(message)) {
    super(message);
    this.name = "SqlSyntaxError";
    this.position = position;
    this.sqlstate = sqlstate;
  }
};
var PARSER_ERROR_SQLSTATES = [
  [/not yet implemented|not supported/, "0A000"],
  // feature_not_supported, e.g. "UNIQUE predicate is not yet implemented"
  [/^frame (start|end|starting|ending)/, "42P20"],
  // windowing_error, e.g. "frame start cannot be UNBOUNDED FOLLOWING"
  [/^invalid Unicode escape$/, "22025"]
  // invalid_escape_sequence
];
function sqlstateOfParserError(message) {
  return PARSER_ERROR_SQLSTATES.find(([pattern]) => pattern.test(message))?.[1] ?? "42601";
}
var parserReady = null;
var parserLoaded = false;
async function initParser() {
  parserReady ??= loadModule().then(() => {
    parserLoaded = true;
  });
  await parserReady;
}
function parseSql(sql) {
  if (!parserLoaded) throw new Error("parseSql called before initParser() completed");
  if (sql.trim() === "") return [];
  let result;
  try {
    result = parseSync(sql);
  } catch (error) {
    throw parserError(error);
  }
  return statementsOf(sql, result);
}
function parserError(error) {
  const details = error.sqlDetails;
  return details ? new SqlSyntaxError(details.message, errorPosition(details.message, details.cursorPosition)) : error;
}
function statementsOf(sql, result) {
  const offsets = new ByteOffsets(sql);
  const statements = [];
  for (const raw of result.stmts ?? []) {
    const startByte = raw.stmt_location ?? 0;
    const endByte = raw.stmt_len ? startByte + raw.stmt_len : offsets.byteLength;
    let start = offsets.toIndex(startByte);
    let end = offsets.toIndex(endByte);
    while (start < end && isSqlWhitespace(sql.charCodeAt(start))) start++;
    while (end > start && (isSqlWhitespace(sql.charCodeAt(end - 1)) || sql.charCodeAt(end - 1) === 59)) end--;
    const node = raw.stmt;
    relocate(node, (byteLocation) => offsets.toIndex(byteLocation) - start);
    statements.push({ node, kind: nodeType(node), text: sql.slice(start, end), location: start });
  }
  return statements;
}
var OFF_THREAD_PARSE_CHARS = 64 * 1024;
var parseWorker = null;
function startParseWorker() {
  const worker = new Worker(new URL("./parse-worker.mjs", import.meta.url));
  const state = { worker, waiting: /* @__PURE__ */ new Map(), nextId: 1 };
  worker.unref();
  worker.on("message", (message) => {
    if (message.id === void 0) return;
    const waiter = state.waiting.get(message.id);
    state.waiting.delete(message.id);
    if (!waiter) return;
    if (message.error) {
      const error = message.error.name === "RangeError" ? new RangeError(message.error.message) : new Error(message.error.message);
      waiter.reject(parserError(Object.assign(error, { sqlDetails: message.error.sqlDetails ?? void 0 })));
    } else waiter.resolve(message.result);
  });
  const failAll = (error) => {
    if (parseWorker === state) parseWorker = null;
    for (const waiter of state.waiting.values()) waiter.reject(error);
    state.waiting.clear();
  };
  worker.on("error", failAll);
  worker.on("exit", (code) => failAll(new Error(`the parser thread exited (${code})`)));
  return state;
}
async function parseSqlOffThread(sql) {
  if (sql.trim() === "") return [];
  parseWorker ??= startParseWorker();
  const state = parseWorker;
  const id = state.nextId++;
  const result = await new Promise((resolve3, reject) => {
    state.waiting.set(id, { resolve: resolve3, reject });
    if (state.waiting.size === 1) state.worker.ref();
    state.worker.postMessage({ id, sql });
  }).finally(() => {
    if (state.waiting.size === 0) state.worker.unref();
  });
  return statementsOf(sql, result);
}
function errorPosition(message, reported) {
  if (reported > 0) return reported + 1;
  return /at or near|at end of input/.test(message) ? 1 : void 0;
}
function nodeType(node) {
  const keys = node && typeof node === "object" ? Object.keys(node) : [];
  if (keys.length !== 1) throw new Error(`not a wrapped parse node: ${JSON.stringify(node)?.slice(0, 80)}`);
  return keys[0];
}
function unwrapNode(node) {
  if (node && typeof node === "object" && !Array.isArray(node)) {
    const keys = Object.keys(node);
    if (keys.length === 1 && /^[A-Z]/.test(keys[0])) return [keys[0], node[keys[0]]];
  }
  return [null, node];
}
function constantValue(node) {
  const [kind, value] = unwrapNode(node);
  if (kind === "TypeCast") return constantValue(value.arg);
  if (kind !== "A_Const") return void 0;
  if (value.isnull) return null;
  if (value.sval) return String(value.sval.sval ?? "");
  if (value.ival) return String(value.ival.ival ?? 0);
  if (value.fval) return String(value.fval.fval);
  if (value.boolval) return String(!!value.boolval.boolval);
  return void 0;
}
function walkBuiltinCalls(node, visit) {
  let stopped = false;
  walk(node, (key, value) => {
    if (stopped) return false;
    if (key !== "FuncCall") return void 0;
    const names = value.funcname.map((n) => unwrapNode(n)[1]?.sval);
    if (names.length > 1 && names[0] !== "pg_catalog") return void 0;
    if (visit(names.at(-1), value) === false) stopped = true;
    return stopped ? false : void 0;
  });
}
function walk(node, visit) {
  const descend = (value, path) => {
    if (Array.isArray(value)) {
      value.forEach((element, index) => {
        if (element && typeof element === "object") visitValue(path[path.length - 1] ?? "", element, value, [...path, String(index)]);
      });
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      if (child && typeof child === "object") {
        if (Array.isArray(child)) descend(child, [...path, key]);
        else visitValue(key, child, value, [...path, key]);
      }
    }
  };
  const visitValue = (key, value, parent, path) => {
    if (visit(key, value, parent, path) === false) return;
    descend(value, path);
  };
  if (node && typeof node === "object") {
    if (Array.isArray(node)) descend(node, []);
    else visitValue("", node, null, []);
  }
}
function isSqlWhitespace(code) {
  return code === 32 || code >= 9 && code <= 13;
}
var LOCATION_FIELDS = ["location", "name_location"];
function relocate(tree, convert) {
  walk(tree, (_key, value) => {
    for (const field of LOCATION_FIELDS) {
      if (typeof value[field] === "number" && value[field] >= 0) value[field] = convert(value[field]);
    }
  });
}
var ByteOffsets = class {
  byteLength;
  indexAtByte;
  constructor(text) {
    this.byteLength = Buffer.byteLength(text, "utf8");
    if (this.byteLength === text.length) {
      this.indexAtByte = null;
      return;
    }
    const map = new Int32Array(this.byteLength + 1);
    let byte = 0;
    for (let index = 0; index < text.length; ) {
      const codePoint = text.codePointAt(index);
      const bytes = codePoint < 128 ? 1 : codePoint < 2048 ? 2 : codePoint < 65536 ? 3 : 4;
      for (let k = 0; k < bytes; k++) map[byte + k] = index;
      byte += bytes;
      index += codePoint >= 65536 ? 2 : 1;
    }
    map[this.byteLength] = text.length;
    this.indexAtByte = map;
  }
  toIndex(byteOffset) {
    if (byteOffset <= 0) return 0;
    if (byteOffset >= this.byteLength) return this.indexAtByte ? this.indexAtByte[this.byteLength] : this.byteLength;
    return this.indexAtByte ? this.indexAtByte[byteOffset] : byteOffset;
  }
};

// src/planner/shard-key.ts
function analyzeShardKey(where, joinQuals, relations, options = {}) {
  const resolver = new ColumnResolver(relations);
  const conjuncts = [where, ...joinQuals].filter((node) => node);
  const { restrictions, equalities } = analyzeAnd(conjuncts, resolver);
  const innerGroups = groupsOf(relations, equalities);
  for (const group of innerGroups) {
    let combined;
    for (const ref of group) {
      const own = restrictions.get(ref);
      if (own) combined = combined ? intersect(combined, own) : own;
    }
    if (combined) for (const ref of group) restrictions.set(ref, combined);
  }
  const outerEqualities = analyzeAnd(options.outerJoinQuals ?? [], resolver).equalities;
  const joinedOnKey = groupsOf(relations, [...equalities, ...outerEqualities]).filter((group) => group.length > 1);
  const byRelation = /* @__PURE__ */ new Map();
  for (const relation of relations) byRelation.set(relation.ref, restrictions.get(relation.ref) ?? null);
  return { byRelation, joinedOnKey };
}
function joinConditions(fromClause, relations) {
  const result = { innerQuals: [], outerQuals: [], nullableRefs: /* @__PURE__ */ new Set() };
  const distributionColumn = new Map(relations.map((r) => [r.ref, r.distributionColumn]));
  const visitItem = (item, nullable) => {
    const [type, body] = unwrapNode(item);
    if (type === "JoinExpr") {
      const leftNullable = nullable || body.jointype === "JOIN_RIGHT" || body.jointype === "JOIN_FULL";
      const rightNullable = nullable || body.jointype === "JOIN_LEFT" || body.jointype === "JOIN_FULL";
      const left = visitItem(body.larg, leftNullable);
      const right = visitItem(body.rarg, rightNullable);
      const quals = body.jointype === "JOIN_INNER" ? result.innerQuals : result.outerQuals;
      if (body.quals) quals.push(body.quals);
      for (const using of body.usingClause ?? []) {
        const column2 = unwrapNode(using)[1]?.sval;
        const leftRef = left.find((ref2) => distributionColumn.get(ref2) === column2);
        const rightRef = right.find((ref2) => distributionColumn.get(ref2) === column2);
        if (column2 && leftRef && rightRef) quals.push(columnEquality(leftRef, rightRef, column2));
      }
      return [...left, ...right];
    }
    if (type === "RangeTableSample") return visitItem(body.relation, nullable);
    const ref = type === "RangeVar" ? body.alias?.aliasname ?? body.relname : body?.alias?.aliasname;
    if (!ref) return [];
    if (nullable) result.nullableRefs.add(ref);
    return [ref];
  };
  for (const item of fromClause ?? []) visitItem(item, false);
  return result;
}
function resolveKeyValues(values, params) {
  const seen = /* @__PURE__ */ new Set();
  const add = (value) => {
    seen.add(value);
  };
  for (const value of values) {
    switch (value.kind) {
      case "const":
        add(value.value);
        break;
      case "const-array":
        value.values.forEach(add);
        break;
      case "param": {
        const param = params[value.index - 1];
        if (param === void 0) return "unknown";
        add(param);
        break;
      }
      case "param-array": {
        const param = params[value.index - 1];
        if (param === void 0) return "unknown";
        if (param === null) break;
        const elements = parseArrayLiteral(param);
        if (!elements) return "unknown";
        elements.forEach(add);
        break;
      }
    }
  }
  return [...seen];
}
function parseArrayLiteral(text) {
  let index = 0;
  const skipSpace = () => {
    while (index < text.length && isArraySpace(text[index])) index++;
  };
  skipSpace();
  if (text[index] === "[") {
    const equals = text.indexOf("=", index);
    if (equals === -1) return null;
    index = equals + 1;
    skipSpace();
  }
  const out2 = [];
  const parseElement = () => {
    if (text[index] === '"') {
      let value2 = "";
      index++;
      for (; ; ) {
        if (index >= text.length) return false;
        const char = text[index++];
        if (char === '"') break;
        if (char === "\\") {
          if (index >= text.length) return false;
          value2 += text[index++];
        } else value2 += char;
      }
      out2.push(value2);
      return true;
    }
    let value = "";
    let escaped = false;
    let keptLength = 0;
    while (index < text.length && text[index] !== "," && text[index] !== "}") {
      const char = text[index++];
      if (char === '"' || char === "{") return false;
      if (char === "\\") {
        if (index >= text.length) return false;
        value += text[index++];
        escaped = true;
        keptLength = value.length;
      } else {
        value += char;
        if (!isArraySpace(char)) keptLength = value.length;
      }
    }
    value = value.slice(0, keptLength);
    if (value === "" && !escaped) return false;
    out2.push(!escaped && value.toUpperCase() === "NULL" ? null : value);
    return true;
  };
  const parseArray = (top) => {
    if (text[index] !== "{") return null;
    index++;
    skipSpace();
    if (text[index] === "}") {
      index++;
      return top ? "0" : null;
    }
    let count2 = 0;
    let childShape = null;
    for (; ; ) {
      skipSpace();
      if (text[index] === "{") {
        const shape2 = parseArray(false);
        if (shape2 === null || count2 > 0 && shape2 !== childShape) return null;
        childShape = shape2;
      } else if (childShape !== null || !parseElement()) return null;
      count2++;
      skipSpace();
      const separator = text[index++];
      if (separator === "}") return childShape === null ? String(count2) : `${count2}x${childShape}`;
      if (separator !== ",") return null;
    }
  };
  if (parseArray(true) === null) return null;
  skipSpace();
  return index === text.length ? out2 : null;
}
function isArraySpace(char) {
  return char === " " || char === "	" || char === "\n" || char === "\r" || char === "\v" || char === "\f";
}
var ColumnResolver = class {
  constructor(relations) {
    this.relations = relations;
    for (const relation of relations) {
      const list = this.byRef.get(relation.ref) ?? [];
      list.push(relation);
      this.byRef.set(relation.ref, list);
    }
  }
  relations;
  byRef = /* @__PURE__ */ new Map();
  /** The ref whose distribution column `node` is (through text casts), or null. */
  resolve(node) {
    const [type, body] = unwrapNode(stripTextCasts(node, false));
    if (type !== "ColumnRef") return null;
    const fields = [];
    for (const field of body.fields ?? []) {
      const [fieldType, fieldBody] = unwrapNode(field);
      if (fieldType !== "String") return null;
      fields.push(fieldBody.sval);
    }
    const column2 = fields[fields.length - 1];
    if (fields.length === 1) {
      const candidates = this.relations.filter((r) => r.distributionColumn === column2);
      if (candidates.length !== 1 || this.byRef.get(candidates[0].ref).length !== 1) return null;
      return candidates[0];
    }
    const qualified = this.byRef.get(fields[fields.length - 2]);
    if (!qualified || qualified.length !== 1 || qualified[0].distributionColumn !== column2) return null;
    return qualified[0];
  }
};
function analyzeAnd(conjuncts, resolver) {
  const result = { restrictions: /* @__PURE__ */ new Map(), equalities: [] };
  for (const conjunct of conjuncts) {
    const part = analyzeCondition(conjunct, resolver);
    result.equalities.push(...part.equalities);
    for (const [ref, values] of part.restrictions) {
      const existing = result.restrictions.get(ref);
      result.restrictions.set(ref, existing ? intersect(existing, values) : values);
    }
  }
  return result;
}
function analyzeOr(branches, resolver) {
  const analyses = branches.map((branch) => analyzeCondition(branch, resolver));
  const restrictions = /* @__PURE__ */ new Map();
  if (analyses.length === 0) return { restrictions, equalities: [] };
  for (const ref of analyses[0].restrictions.keys()) {
    if (analyses.every((analysis) => analysis.restrictions.has(ref))) {
      restrictions.set(ref, union(analyses.map((analysis) => analysis.restrictions.get(ref))));
    }
  }
  return { restrictions, equalities: [] };
}
var NOTHING = { restrictions: /* @__PURE__ */ new Map(), equalities: [] };
function analyzeCondition(node, resolver) {
  const [type, body] = unwrapNode(node);
  if (type === "BoolExpr") {
    if (body.boolop === "AND_EXPR") return analyzeAnd(body.args ?? [], resolver);
    if (body.boolop === "OR_EXPR") return analyzeOr(body.args ?? [], resolver);
    return NOTHING;
  }
  if (type === "NullTest") {
    const relation = resolver.resolve(body.arg);
    if (body.nulltesttype !== "IS_NULL" || body.argisrow || !relation || relation.nullable) return NOTHING;
    return restrict(relation.ref, [{ kind: "const", value: null }]);
  }
  if (type !== "A_Expr" || !isEqualsOperator(body.name)) return NOTHING;
  switch (body.kind) {
    case "AEXPR_OP":
      return analyzeEquality(body.lexpr, body.rexpr, false, resolver);
    case "AEXPR_NOT_DISTINCT":
      return analyzeEquality(body.lexpr, body.rexpr, true, resolver);
    case "AEXPR_IN": {
      const items = unwrapNode(body.rexpr)[1]?.items ?? [];
      return analyzeOr(items.map((item) => equalsNode(body.lexpr, item)), resolver);
    }
    case "AEXPR_OP_ANY": {
      const relation = resolver.resolve(body.lexpr);
      const values = relation ? arrayValues(body.rexpr) : null;
      return relation && values ? restrict(relation.ref, values) : NOTHING;
    }
    default:
      return NOTHING;
  }
}
function analyzeEquality(left, right, nullSafe, resolver) {
  const [leftType, leftBody] = unwrapNode(left);
  const [rightType, rightBody] = unwrapNode(right);
  if (leftType === "RowExpr" && rightType === "RowExpr") {
    const leftArgs = leftBody.args ?? [];
    const rightArgs = rightBody.args ?? [];
    if (nullSafe || leftArgs.length !== rightArgs.length) return NOTHING;
    return analyzeAnd(leftArgs.map((arg, i) => equalsNode(arg, rightArgs[i])), resolver);
  }
  const leftColumn = resolver.resolve(left);
  const rightColumn = resolver.resolve(right);
  if (leftColumn && rightColumn) {
    if (nullSafe && (leftColumn.nullable || rightColumn.nullable)) return NOTHING;
    return leftColumn.ref === rightColumn.ref ? NOTHING : { restrictions: /* @__PURE__ */ new Map(), equalities: [[leftColumn.ref, rightColumn.ref]] };
  }
  const column2 = leftColumn ?? rightColumn;
  if (!column2 || nullSafe && column2.nullable) return NOTHING;
  const value = scalarValue(leftColumn ? right : left);
  return value ? restrict(column2.ref, [value]) : NOTHING;
}
function restrict(ref, values) {
  return { restrictions: /* @__PURE__ */ new Map([[ref, values]]), equalities: [] };
}
function isEqualsOperator(name) {
  const parts = (name ?? []).map((part) => unwrapNode(part)[1]?.sval);
  return parts.length === 1 && parts[0] === "=" || parts.length === 2 && parts[0] === "pg_catalog" && parts[1] === "=";
}
function equalsNode(lexpr, rexpr) {
  return { A_Expr: { kind: "AEXPR_OP", name: [{ String: { sval: "=" } }], lexpr, rexpr } };
}
function columnEquality(leftRef, rightRef, column2) {
  const ref = (qualifier) => ({ ColumnRef: { fields: [{ String: { sval: qualifier } }, { String: { sval: column2 } }] } });
  return equalsNode(ref(leftRef), ref(rightRef));
}
function scalarValue(node) {
  const [type, body] = unwrapNode(stripTextCasts(node, false));
  if (type === "ParamRef") return { kind: "param", index: body.number };
  if (type !== "A_Const") return null;
  if (body.isnull) return { kind: "const", value: null };
  if (body.sval) return { kind: "const", value: body.sval.sval ?? "" };
  if (body.ival) return { kind: "const", value: String(body.ival.ival ?? 0) };
  if (body.fval) return { kind: "const", value: body.fval.fval };
  if (body.boolval) return { kind: "const", value: body.boolval.boolval ? "true" : "false" };
  return null;
}
function arrayValues(node) {
  const [type, body] = unwrapNode(stripTextCasts(node, true));
  if (type === "ParamRef") return [{ kind: "param-array", index: body.number }];
  if (type === "A_Const") {
    if (body.isnull) return [];
    if (!body.sval) return null;
    const values = parseArrayLiteral(body.sval.sval ?? "");
    return values ? [{ kind: "const-array", values }] : null;
  }
  if (type === "A_ArrayExpr") {
    const values = [];
    for (const element of body.elements ?? []) {
      if (unwrapNode(element)[0] === "A_ArrayExpr") {
        const nested = arrayValues(element);
        if (!nested) return null;
        values.push(...nested);
      } else {
        const value = scalarValue(element);
        if (!value) return null;
        values.push(value);
      }
    }
    return values;
  }
  return null;
}
function stripTextCasts(node, array) {
  for (; ; ) {
    const [type, body] = unwrapNode(node);
    if (type === "TypeCast" && isTextType(body.typeName, array)) node = body.arg;
    else if (type === "CollateClause" && isByteCollation(body.collname)) node = body.arg;
    else return node;
  }
}
function isTextType(typeName, array) {
  const names = (typeName?.names ?? []).map((name) => unwrapNode(name)[1]?.sval);
  const base = names.length === 1 || names.length === 2 && names[0] === "pg_catalog" ? names[names.length - 1] : null;
  const isArray = (typeName?.arrayBounds?.length ?? 0) > 0;
  return (base === "text" || base === "varchar") && !typeName.typmods?.length && !typeName.setof && isArray === array;
}
function isByteCollation(collname) {
  const parts = (collname ?? []).map((part) => unwrapNode(part)[1]?.sval);
  const name = parts.length === 1 || parts.length === 2 && parts[0] === "pg_catalog" ? parts[parts.length - 1] : null;
  return name === "C" || name === "POSIX" || name === "default";
}
function isConstant(values) {
  return values.every((value) => value.kind === "const" || value.kind === "const-array");
}
function constants(values) {
  const out2 = /* @__PURE__ */ new Set();
  for (const value of values) {
    const items = value.kind === "const" ? [value.value] : value.kind === "const-array" ? value.values : [];
    for (const item of items) out2.add(item);
  }
  return [...out2];
}
function width(values) {
  let total = 0;
  for (const value of values) {
    if (value.kind === "param-array") return Infinity;
    total += value.kind === "const-array" ? value.values.length : 1;
  }
  return total;
}
function intersect(a, b) {
  if (isConstant(a) && isConstant(b)) {
    const inB = new Set(constants(b));
    return constants(a).filter((value) => inB.has(value)).map((value) => ({ kind: "const", value }));
  }
  return width(b) < width(a) ? b : a;
}
function union(lists) {
  const out2 = [];
  const seen = /* @__PURE__ */ new Set();
  for (const value of lists.flat()) {
    const key = JSON.stringify(value);
    if (!seen.has(key)) {
      seen.add(key);
      out2.push(value);
    }
  }
  return out2;
}
function groupsOf(relations, equalities) {
  const parent = /* @__PURE__ */ new Map();
  const find = (ref) => {
    let root = ref;
    while (parent.has(root) && parent.get(root) !== root) root = parent.get(root);
    parent.set(ref, root);
    return root;
  };
  for (const [a, b] of equalities) {
    const rootA = find(a);
    const rootB = find(b);
    if (rootA !== rootB) parent.set(rootA, rootB);
  }
  const groups = /* @__PURE__ */ new Map();
  for (const { ref } of relations) {
    if (!parent.has(ref)) continue;
    const root = find(ref);
    const group = groups.get(root) ?? [];
    if (!group.includes(ref)) group.push(ref);
    groups.set(root, group);
  }
  return [...groups.values()];
}

// src/planner/merge-select.ts
import { deparseSync } from "pgsql-deparser";
var AGGREGATES = /* @__PURE__ */ new Set([
  "count",
  "sum",
  "avg",
  "min",
  "max",
  "array_agg",
  "string_agg",
  "bool_and",
  "bool_or",
  "every",
  "bit_and",
  "bit_or",
  "bit_xor",
  "stddev",
  "stddev_pop",
  "stddev_samp",
  "variance",
  "var_pop",
  "var_samp",
  "json_agg",
  "jsonb_agg",
  "json_object_agg",
  "jsonb_object_agg",
  "xmlagg",
  "corr",
  "covar_pop",
  "covar_samp",
  "regr_avgx",
  "regr_avgy",
  "regr_count",
  "regr_intercept",
  "regr_r2",
  "regr_slope",
  "regr_sxx",
  "regr_sxy",
  "regr_syy",
  "percentile_cont",
  "percentile_disc",
  "mode",
  "rank",
  "dense_rank",
  "percent_rank",
  "cume_dist",
  "range_agg",
  "range_intersect_agg",
  "any_value"
]);
var LIMIT_PLACEHOLDER = "__dpg_limit__";
var hiddenColumnName = (i) => `__dpg_sort_${i}`;
function replaceRelationNames(tree, placeholders) {
  walk(tree, (_key, value) => {
    if (typeof value.relname === "string" && placeholders.has(value.location)) {
      if (!value.alias) value.alias = { aliasname: value.relname };
      value.relname = placeholders.get(value.location);
    }
    return void 0;
  });
}
function usesAggregates(node) {
  let found = false;
  walk(node, (key, value) => {
    if (found) return false;
    if (key === "FuncCall") {
      const name = value.funcname.map((n) => unwrapNode(n)[1]?.sval).at(-1);
      if (value.agg_star || value.agg_distinct || value.over || value.agg_filter || value.agg_order || AGGREGATES.has(name)) found = true;
    }
    if (key === "SubLink" || key === "RangeSubselect") return false;
    return void 0;
  });
  return found;
}
function limitValue(node) {
  const [kind, body] = unwrapNode(node);
  if (kind === "A_Const") {
    if (body.isnull) return { constant: null };
    if (body.ival) return { constant: body.ival.ival ?? 0 };
    return "unsupported";
  }
  if (kind === "ParamRef") return { param: body.number };
  if (kind === "TypeCast") return limitValue(body.arg);
  return "unsupported";
}
var collationTemplate = null;
function collationOf(expression) {
  collationTemplate ??= unwrapNode(parseSql("SELECT pg_catalog.pg_collation_for(CASE WHEN false THEN (NULL)::text END)")[0].node)[1].targetList[0].ResTarget.val;
  const template = structuredClone(collationTemplate);
  const found = walkFind(template, (key, value) => key === "TypeCast" && value);
  found.arg = structuredClone(expression);
  return template;
}
function walkFind(tree, match) {
  if (!tree || typeof tree !== "object") return void 0;
  for (const [key, value] of Object.entries(tree)) {
    if (value && typeof value === "object") {
      const hit = match(key, value) || walkFind(value, match);
      if (hit) return hit;
    }
  }
  return void 0;
}
function planMergeSelect(body, info, placeholders) {
  if (info.setOperation || body.op && body.op !== "SETOP_NONE") return "UNION, INTERSECT and EXCEPT over several shards are not supported yet";
  if (info.hasCtes) return "WITH queries over several shards are not supported yet";
  if (info.hasSubqueries) return "subqueries over several shards are not supported yet";
  if (info.lockingClause) return "FOR UPDATE/SHARE over several shards is not supported";
  if (info.selectInto) return "SELECT INTO over several shards is not supported";
  if (body.distinctClause) return "DISTINCT over several shards is not supported yet";
  if (body.groupClause || body.havingClause) return "GROUP BY and HAVING over several shards are not supported yet";
  if (body.windowClause) return "window functions over several shards are not supported";
  if (usesAggregates(body.targetList) || usesAggregates(body.sortClause)) return "aggregates over several shards are not supported yet";
  if (body.limitOption === "LIMIT_OPTION_WITH_TIES") return "FETCH ... WITH TIES over several shards is not supported";
  const shardBody = structuredClone(body);
  replaceRelationNames(shardBody, placeholders);
  const targets = shardBody.targetList ?? [];
  const sortKeys = [];
  const unionOrder = [];
  const collations = [];
  for (const [i, item] of (shardBody.sortClause ?? []).entries()) {
    const sortBy = unwrapNode(item)[1];
    if (sortBy.sortby_dir === "SORTBY_USING") return "ORDER BY ... USING over several shards is not supported";
    const descending = sortBy.sortby_dir === "SORTBY_DESC";
    const nullsFirst = sortBy.sortby_nulls === "SORTBY_NULLS_FIRST" || sortBy.sortby_nulls !== "SORTBY_NULLS_LAST" && descending;
    let expression = sortBy.node;
    const [kind, value] = unwrapNode(expression);
    if (kind === "A_Const" && value.ival !== void 0) {
      const target = targets[(value.ival.ival ?? 0) - 1];
      const targetValue = target && unwrapNode(target)[1]?.val;
      if (!targetValue || JSON.stringify(targetValue).includes("A_Star")) return "ORDER BY a column position over several shards needs an explicit select list";
      expression = targetValue;
    } else if (kind === "ColumnRef" && value.fields?.length === 1) {
      const name = unwrapNode(value.fields[0])[1]?.sval;
      const aliased = targets.find((t) => unwrapNode(t)[1]?.name === name);
      if (aliased) expression = unwrapNode(aliased)[1].val;
    }
    targets.push({ ResTarget: { name: hiddenColumnName(i), val: structuredClone(expression) } });
    sortKeys.push({ column: i, descending, nullsFirst, collationColumn: 0 });
    collations.push({ ResTarget: { name: `__dpg_collation_${i}`, val: collationOf(expression) } });
    unionOrder.push(`${hiddenColumnName(i)}${descending ? " DESC" : ""}${nullsFirst ? " NULLS FIRST" : " NULLS LAST"}`);
  }
  for (const [i, key] of sortKeys.entries()) key.collationColumn = sortKeys.length + i;
  shardBody.targetList = [...targets, ...collations];
  const limit = { limit: null, offset: null };
  if (shardBody.limitCount) {
    const value = limitValue(shardBody.limitCount);
    if (value === "unsupported") return "LIMIT must be a constant or a parameter for a statement over several shards";
    limit.limit = value;
  }
  if (shardBody.limitOffset) {
    const value = limitValue(shardBody.limitOffset);
    if (value === "unsupported" || "constant" in value && value.constant === null) return "OFFSET must be a constant or a parameter for a statement over several shards";
    limit.offset = value;
  }
  if (shardBody.limitCount || shardBody.limitOffset) {
    const asBigint = (v) => "param" in v ? { TypeCast: { arg: { ParamRef: { number: v.param } }, typeName: { names: [{ String: { sval: "int8" } }], typemod: -1 } } } : { A_Const: { ival: { ival: v.constant ?? 0 } } };
    const usesParams = limit.limit !== null && "param" in limit.limit || limit.offset !== null && "param" in limit.offset;
    delete shardBody.limitOffset;
    shardBody.limitOption = "LIMIT_OPTION_COUNT";
    if (!usesParams) {
      shardBody.limitCount = { ColumnRef: { fields: [{ String: { sval: LIMIT_PLACEHOLDER } }] } };
    } else if (limit.limit !== null && !("constant" in limit.limit && limit.limit.constant === null)) {
      shardBody.limitCount = limit.offset ? { A_Expr: { kind: "AEXPR_OP", name: [{ String: { sval: "+" } }], lexpr: asBigint(limit.limit), rexpr: asBigint(limit.offset) } } : asBigint(limit.limit);
    } else {
      delete shardBody.limitCount;
      shardBody.limitOffset = { A_Expr: { kind: "AEXPR_OP", name: [{ String: { sval: "*" } }], lexpr: { A_Const: { ival: {} } }, rexpr: asBigint(limit.offset) } };
    }
  }
  return {
    shardTemplate: deparseSync({ SelectStmt: shardBody }),
    hiddenColumns: sortKeys.length * 2,
    sortKeys,
    unionOrderBy: unionOrder.length > 0 ? `ORDER BY ${unionOrder.join(", ")}` : "",
    limit
  };
}

// src/executor/merge.ts
var INTEGER_TYPES = /* @__PURE__ */ new Set([20, 21, 23, 26]);
var FLOAT_TYPES = /* @__PURE__ */ new Set([700, 701]);
var NUMERIC = 1700;
var BOOL = 16;
function compareBigInts(a, b) {
  const x = BigInt(a.toString("latin1"));
  const y = BigInt(b.toString("latin1"));
  return x < y ? -1 : x > y ? 1 : 0;
}
function compareFloats(a, b) {
  const x = Number(a.toString("latin1"));
  const y = Number(b.toString("latin1"));
  const xn = Number.isNaN(x);
  const yn = Number.isNaN(y);
  if (xn || yn) return xn === yn ? 0 : xn ? 1 : -1;
  return x < y ? -1 : x > y ? 1 : 0;
}
function compareNumericText(a, b) {
  const rank = (s) => s === "NaN" ? 3 : s === "Infinity" ? 2 : s === "-Infinity" ? -2 : 0;
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== 0 || rb !== 0) return ra === rb ? 0 : ra < rb ? -1 : 1;
  const negA = a.startsWith("-");
  const negB = b.startsWith("-");
  if (negA !== negB) {
    const zero = (s) => /^-?0*(\.0*)?$/.test(s);
    if (zero(a) && zero(b)) return 0;
    return negA ? -1 : 1;
  }
  const magnitude = compareMagnitude(negA ? a.slice(1) : a, negB ? b.slice(1) : b);
  return negA ? -magnitude : magnitude;
}
function compareMagnitude(a, b) {
  const [ai = "", af = ""] = a.split(".");
  const [bi = "", bf = ""] = b.split(".");
  const aInt = ai.replace(/^0+/, "");
  const bInt = bi.replace(/^0+/, "");
  if (aInt.length !== bInt.length) return aInt.length < bInt.length ? -1 : 1;
  if (aInt !== bInt) return aInt < bInt ? -1 : 1;
  const length = Math.max(af.length, bf.length);
  const aFrac = af.padEnd(length, "0");
  const bFrac = bf.padEnd(length, "0");
  return aFrac === bFrac ? 0 : aFrac < bFrac ? -1 : 1;
}
function daysFromCivil(year, month, day) {
  const y = BigInt(month <= 2 ? year - 1 : year);
  const era = (y >= 0n ? y : y - 399n) / 400n;
  const yoe = y - era * 400n;
  const m = BigInt(month);
  const doy = (153n * (m > 2n ? m - 3n : m + 9n) + 2n) / 5n + BigInt(day) - 1n;
  const doe = yoe * 365n + yoe / 4n - yoe / 100n + doy;
  return era * 146097n + doe - 719468n;
}
var INFINITY = 2n ** 62n;
function isoDateTimeMicros(text, kind) {
  if (text === "infinity") return INFINITY;
  if (text === "-infinity") return -INFINITY;
  const m = /^(\d{4,})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?)?(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?( BC)?$/.exec(text);
  const hasTime = m?.[4] !== void 0;
  const hasOffset = m?.[8] !== void 0;
  if (!m || hasTime !== (kind !== "date") || hasOffset !== (kind === "timestamptz")) {
    throw new ClientError(SqlState.featureNotSupported, `cannot order ${kind} value "${text}" over several shards: dpg compares dates and times in the ISO DateStyle (SET DateStyle = ISO, the default)`);
  }
  const year = m[12] ? 1 - Number(m[1]) : Number(m[1]);
  const days = daysFromCivil(year, Number(m[2]), Number(m[3]));
  const seconds = days * 86400n + BigInt(Number(m[4] ?? 0) * 3600 + Number(m[5] ?? 0) * 60 + Number(m[6] ?? 0));
  const offset = hasOffset ? (Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0)) * (m[8] === "-" ? -1 : 1) : 0;
  return (seconds - BigInt(offset)) * 1000000n + BigInt((m[7] ?? "").padEnd(6, "0"));
}
function compareDateTimes(kind) {
  return (a, b) => {
    const x = isoDateTimeMicros(a.toString("latin1"), kind);
    const y = isoDateTimeMicros(b.toString("latin1"), kind);
    return x < y ? -1 : x > y ? 1 : 0;
  };
}
function withoutTrailingSpaces(value) {
  let end = value.length;
  while (end > 0 && value[end - 1] === 32) end--;
  return value.subarray(0, end);
}
var BYTE_ORDER_TYPES = /* @__PURE__ */ new Set([25, 1043, 19, 2950]);
var BPCHAR = 1042;
var BYTE_ORDER_COLLATIONS = /* @__PURE__ */ new Set(["default", "C", "POSIX", "ucs_basic", "C.UTF-8", "C.utf8"]);
function collatesByBytes(collation) {
  if (collation === null) return true;
  const name = collation.replace(/^pg_catalog\./, "").replace(/^"(.*)"$/, "$1");
  return BYTE_ORDER_COLLATIONS.has(name);
}
function comparatorFor(typeOid, options = {}) {
  if (INTEGER_TYPES.has(typeOid)) return compareBigInts;
  if (FLOAT_TYPES.has(typeOid)) {
    if (options.exactFloats === false) {
      throw new ClientError(SqlState.featureNotSupported, "ORDER BY a float over several shards needs extra_float_digits of at least 1 (the default): rounded values would tie where PostgreSQL orders them");
    }
    return compareFloats;
  }
  if (typeOid === NUMERIC) return (a, b) => compareNumericText(a.toString("latin1"), b.toString("latin1"));
  if (typeOid === BOOL) return (a, b) => a[0] - b[0];
  if (typeOid === 1082) return compareDateTimes("date");
  if (typeOid === 1114) return compareDateTimes("timestamp");
  if (typeOid === 1184) return compareDateTimes("timestamptz");
  if (typeOid === BPCHAR) return (a, b) => Buffer.compare(withoutTrailingSpaces(a), withoutTrailingSpaces(b));
  if (BYTE_ORDER_TYPES.has(typeOid)) return (a, b) => Buffer.compare(a, b);
  throw new ClientError(SqlState.featureNotSupported, `ORDER BY a value of type OID ${typeOid} over several shards is not supported yet (its text form does not sort like its values)`);
}
function rowValues(frame) {
  const body = frame.body;
  const count2 = body.readInt16BE(0);
  const values = new Array(count2);
  let offset = 2;
  for (let i = 0; i < count2; i++) {
    const length = body.readInt32BE(offset);
    offset += 4;
    if (length < 0) values[i] = null;
    else {
      values[i] = body.subarray(offset, offset + length);
      offset += length;
    }
  }
  return values;
}
var MergedResultStream = class {
  constructor(streams, sortKeys, hiddenColumns, offset, limit, onClose, exactFloats = true) {
    this.streams = streams;
    this.sortKeys = sortKeys;
    this.hiddenColumns = hiddenColumns;
    this.offset = offset;
    this.limit = limit;
    this.onClose = onClose;
    this.exactFloats = exactFloats;
  }
  streams;
  sortKeys;
  hiddenColumns;
  offset;
  limit;
  onClose;
  exactFloats;
  heads = [];
  started = false;
  comparators = [];
  columns = [];
  emitted = 0;
  skipped = 0;
  finished = false;
  pending = [];
  collationColumns = [];
  collationsChecked = false;
  /** Text compares by its bytes only in a C-like collation: another one (COLLATE "en-x-icu", a column's own) is refused, not guessed. */
  checkCollations(values) {
    this.collationsChecked = true;
    for (const column2 of this.collationColumns) {
      const collation = column2 === null ? null : values[column2]?.toString("utf8") ?? null;
      if (!collatesByBytes(collation)) {
        throw new ClientError(SqlState.featureNotSupported, `ORDER BY text in collation ${collation} over several shards is not supported yet: dpg merges shards' rows in code point order (collations C, POSIX and the database's default, C.UTF-8)`);
      }
    }
  }
  async description() {
    let description = null;
    for (const stream of this.streams) {
      const d = await stream.description();
      description ??= d;
    }
    return description;
  }
  async start() {
    this.started = true;
    await this.description();
    const raw = this.streams.find((s) => s.rawDescription)?.rawDescription;
    if (raw && this.sortKeys.length > 0) {
      const message = decodeBackend(raw);
      if (message.type === "RowDescription") {
        const firstHidden = message.fields.length - this.hiddenColumns;
        this.columns = this.sortKeys.map((key) => firstHidden + key.column);
        this.comparators = this.columns.map((column2) => comparatorFor(message.fields[column2].typeOid, { exactFloats: this.exactFloats }));
        this.collationColumns = this.sortKeys.map((key) => key.collationColumn === void 0 ? null : firstHidden + key.collationColumn);
      }
    }
    if (this.sortKeys.length === 0) {
      this.pending = [...this.streams];
      return;
    }
    for (const stream of this.streams) await this.pushHead(stream);
  }
  async pushHead(stream) {
    const frame = await stream.nextFrame();
    if (!frame) return;
    const values = rowValues(frame);
    if (!this.collationsChecked) this.checkCollations(values);
    const head = { stream, frame, keys: this.columns.map((column2) => values[column2] ?? null) };
    let i = this.heads.length;
    while (i > 0 && this.compare(head, this.heads[i - 1]) < 0) i--;
    this.heads.splice(i, 0, head);
  }
  compare(a, b) {
    for (let i = 0; i < this.sortKeys.length; i++) {
      const key = this.sortKeys[i];
      const x = a.keys[i] ?? null;
      const y = b.keys[i] ?? null;
      let c;
      if (x === null || y === null) {
        if (x === y) c = 0;
        else c = x === null === key.nullsFirst ? -1 : 1;
        if (c !== 0) return c;
        continue;
      }
      c = this.comparators[i](x, y);
      if (c !== 0) return key.descending ? -c : c;
    }
    return 0;
  }
  async nextMerged() {
    if (this.sortKeys.length === 0) {
      while (this.pending.length > 0) {
        const frame = await this.pending[0].nextFrame();
        if (frame) return frame;
        this.pending.shift();
      }
      return null;
    }
    const head = this.heads.shift();
    if (!head) return null;
    await this.pushHead(head.stream);
    return head.frame;
  }
  async nextRow() {
    if (this.finished) return null;
    if (!this.started) await this.start();
    for (; ; ) {
      if (this.limit !== null && this.emitted >= this.limit) {
        await this.close();
        return null;
      }
      const frame = await this.nextMerged();
      if (!frame) {
        await this.close();
        return null;
      }
      if (this.skipped < this.offset) {
        this.skipped++;
        continue;
      }
      this.emitted++;
      return this.hiddenColumns > 0 ? stripHiddenColumns(frame, this.hiddenColumns) : frame.raw;
    }
  }
  tag() {
    return `SELECT ${this.emitted}`;
  }
  async close() {
    if (this.finished) return;
    this.finished = true;
    const errors = [];
    await Promise.all(this.streams.map((s) => s.close().catch((e) => errors.push(e))));
    this.onClose();
  }
};

// src/planner/aggregate-select.ts
import { deparseSync as deparseSync2 } from "pgsql-deparser";
var PARTIALS_PLACEHOLDER = "__dpg_partials__";
var column = (i) => `c${i}`;
var columnRef = (name) => ({ ColumnRef: { fields: [{ String: { sval: name } }] } });
var func = (name, args2) => ({ FuncCall: { funcname: [{ String: { sval: name } }], args: args2, funcformat: "COERCE_EXPLICIT_CALL" } });
var cast = (arg, type) => ({ TypeCast: { arg, typeName: { names: [{ String: { sval: type } }], typemod: -1 } } });
function shape(node) {
  return JSON.stringify(node, (key, value) => key === "location" ? void 0 : value);
}
var COMBINABLE = /* @__PURE__ */ new Set(["count", "sum", "min", "max", "avg"]);
function aggregateName(call) {
  const name = call.funcname.map((n) => unwrapNode(n)[1]?.sval).at(-1);
  return AGGREGATES.has(name) || call.agg_star || call.over || call.agg_distinct || call.agg_filter ? name : null;
}
function figureColumnName(node) {
  const [kind, body] = unwrapNode(node);
  switch (kind) {
    case "ColumnRef": {
      const last = unwrapNode(body.fields.at(-1))[1];
      return last?.sval ?? "?column?";
    }
    case "FuncCall":
      return body.funcname.map((n) => unwrapNode(n)[1]?.sval).at(-1) ?? "?column?";
    case "TypeCast": {
      const inner = figureColumnName(body.arg);
      if (inner !== "?column?") return inner;
      const names = body.typeName?.names ?? [];
      const type = unwrapNode(names.at(-1))[1]?.sval;
      return type === "int4" ? "int4" : type ?? "?column?";
    }
    case "CaseExpr":
      return "case";
    case "CoalesceExpr":
      return "coalesce";
    case "MinMaxExpr":
      return body.op === "IS_GREATEST" ? "greatest" : "least";
    case "A_ArrayExpr":
      return "array";
    case "RowExpr":
      return "row";
    default:
      return "?column?";
  }
}
var Unsupported = class extends Error {
  /** Set when PostgreSQL itself would refuse the statement (its SQLSTATE, e.g. 42803). */
  sqlstate;
};
function planAggregateSelect(body, info, placeholders) {
  if (info.setOperation || info.hasCtes || info.hasSubqueries) return "aggregates with subqueries, WITH or UNION over several shards are not supported yet";
  if (body.windowClause || JSON.stringify([body.targetList, body.sortClause]).includes('"over":')) {
    return "window functions over several shards are not supported";
  }
  if (info.lockingClause) return "FOR UPDATE/SHARE cannot be used with aggregates";
  try {
    return build(body, placeholders);
  } catch (error) {
    if (error instanceof Unsupported) return error.sqlstate ? new ClientError(error.sqlstate, error.message) : error.message;
    throw error;
  }
}
function build(original, placeholders) {
  const body = structuredClone(original);
  replaceRelationNames(body, placeholders);
  const targets = (body.targetList ?? []).map((t) => unwrapNode(t)[1]);
  if (targets.some((t) => JSON.stringify(t.val).includes("A_Star") && !JSON.stringify(t.val).includes("agg_star"))) {
    throw new Unsupported("SELECT * with GROUP BY or DISTINCT over several shards is not supported; name the columns");
  }
  const workerTargets = [];
  const addWorkerColumn = (expression) => {
    const key = shape(expression);
    const existing = workerTargets.findIndex((t) => shape(t.ResTarget.val) === key);
    if (existing >= 0) return column(existing);
    workerTargets.push({ ResTarget: { name: column(workerTargets.length), val: structuredClone(expression) } });
    return column(workerTargets.length - 1);
  };
  const resolveTarget = (node) => {
    const [kind, value] = unwrapNode(node);
    if (kind === "A_Const" && value.ival !== void 0) {
      const target = targets[(value.ival.ival ?? 0) - 1];
      if (!target) throw new Unsupported(`GROUP BY position ${value.ival.ival ?? 0} is not in the select list`);
      return target.val;
    }
    if (kind === "ColumnRef" && value.fields.length === 1) {
      const name = unwrapNode(value.fields[0])[1]?.sval;
      const aliased = targets.find((t) => t.name === name);
      if (aliased) return aliased.val;
    }
    return node;
  };
  const groupExpressions = [];
  if (body.groupClause) {
    for (const item of body.groupClause) {
      const [kind] = unwrapNode(item);
      if (kind === "GroupingSet") throw new Unsupported("GROUPING SETS, ROLLUP and CUBE over several shards are not supported");
      groupExpressions.push(resolveTarget(item));
    }
  }
  const distinctOnly = !body.groupClause && body.distinctClause && !usesAggregate(targets.map((t) => t.val));
  if (body.distinctClause && body.distinctClause.some((d) => Object.keys(d).length > 0)) {
    throw new Unsupported("DISTINCT ON over several shards is not supported");
  }
  if (distinctOnly) for (const t of targets) groupExpressions.push(t.val);
  const groupColumns = groupExpressions.map((g) => addWorkerColumn(g));
  const mapExpression = (node) => {
    const key = shape(node);
    const group = groupExpressions.findIndex((g) => shape(g) === key);
    if (group >= 0) return columnRef(groupColumns[group]);
    const [kind, value] = unwrapNode(node);
    if (kind === "FuncCall" && aggregateName(value)) return combineAggregate(value);
    if (kind === "ColumnRef") {
      const name = value.fields.map((f) => unwrapNode(f)[1]?.sval ?? "*").join(".");
      throw Object.assign(new Unsupported(`column "${name}" must appear in the GROUP BY clause or be used in an aggregate function`), { sqlstate: "42803" });
    }
    if (kind === "SubLink") throw new Unsupported("subqueries in the select list of an aggregate over several shards are not supported");
    if (Array.isArray(node)) return node.map(mapExpression);
    if (node && typeof node === "object") {
      const copy2 = {};
      for (const [k, v] of Object.entries(node)) copy2[k] = v && typeof v === "object" ? mapExpression(v) : v;
      return copy2;
    }
    return node;
  };
  const combineAggregate = (call) => {
    const name = aggregateName(call);
    if (call.over) throw new Unsupported("window functions over several shards are not supported");
    if (call.agg_distinct) throw new Unsupported(`${name}(DISTINCT ...) over several shards is not supported yet`);
    if (call.agg_order || call.agg_filter) throw new Unsupported(`${name} with ORDER BY or FILTER over several shards is not supported yet`);
    if (!COMBINABLE.has(name)) throw new Unsupported(`the aggregate ${name} over several shards is not supported yet (count, sum, min, max and avg are)`);
    const partial = (fn) => addWorkerColumn({ FuncCall: { ...structuredClone(call), funcname: [{ String: { sval: fn } }] } });
    switch (name) {
      case "count":
        return cast({ CoalesceExpr: { args: [func("sum", [columnRef(partial("count"))]), { A_Const: { ival: {} } }] } }, "int8");
      case "sum":
        return { __sumOf: partial("sum") };
      case "min":
      case "max":
        return func(name, [columnRef(partial(name))]);
      case "avg": {
        const sum = partial("sum");
        const count2 = partial("count");
        return { __avgOf: [sum, count2] };
      }
      default:
        throw new Unsupported(`the aggregate ${name} is not supported over several shards`);
    }
  };
  const finalTargets = targets.map((t) => ({ ResTarget: { name: t.name ?? figureColumnName(t.val), val: mapExpression(t.val) } }));
  const having = body.havingClause ? mapExpression(body.havingClause) : void 0;
  const sortClause = (body.sortClause ?? []).map((item) => {
    const sortBy = structuredClone(unwrapNode(item)[1]);
    const [kind, value] = unwrapNode(sortBy.node);
    const isAlias = kind === "ColumnRef" && value.fields.length === 1 && targets.some((t) => t.name === unwrapNode(value.fields[0])[1]?.sval);
    const isPosition = kind === "A_Const" && value.ival !== void 0;
    if (!isAlias && !isPosition) {
      try {
        sortBy.node = mapExpression(sortBy.node);
      } catch (error) {
        if (distinctOnly && error instanceof Unsupported && error.sqlstate === "42803") {
          throw Object.assign(new Unsupported("for SELECT DISTINCT, ORDER BY expressions must appear in select list"), { sqlstate: "42P10" });
        }
        throw error;
      }
    }
    return { SortBy: sortBy };
  });
  const worker = { targetList: workerTargets, fromClause: body.fromClause, whereClause: body.whereClause, limitOption: "LIMIT_OPTION_DEFAULT", op: "SETOP_NONE" };
  if (groupExpressions.length > 0) worker.groupClause = groupExpressions.map((g) => structuredClone(g));
  const combine = {
    targetList: finalTargets,
    fromClause: [{ RangeVar: { relname: PARTIALS_PLACEHOLDER, inh: true, relpersistence: "p", alias: { aliasname: "w", colnames: workerTargets.map((_, i) => ({ String: { sval: column(i) } })) } } }],
    limitOption: body.limitOption ?? "LIMIT_OPTION_DEFAULT",
    op: "SETOP_NONE"
  };
  if (groupColumns.length > 0) combine.groupClause = groupColumns.map((c) => columnRef(c));
  if (having) combine.havingClause = having;
  if (sortClause.length > 0) combine.sortClause = sortClause;
  if (body.limitCount) combine.limitCount = body.limitCount;
  if (body.limitOffset) combine.limitOffset = body.limitOffset;
  if (distinctOnly) combine.distinctClause = body.distinctClause;
  return {
    workerTemplate: deparseSync2({ SelectStmt: worker }),
    workerColumns: workerTargets.length,
    combineTemplate: deparseSync2({ SelectStmt: resolveSpecial(combine) })
  };
}
function resolveSpecial(node) {
  if (Array.isArray(node)) return node.map(resolveSpecial);
  if (!node || typeof node !== "object") return node;
  if (node.__sumOf) return columnRef(`__dpg_sum_${node.__sumOf}`);
  if (node.__avgOf) return columnRef(`__dpg_avg_${node.__avgOf[0]}_${node.__avgOf[1]}`);
  const copy2 = {};
  for (const [k, v] of Object.entries(node)) copy2[k] = resolveSpecial(v);
  return copy2;
}
function finishCombineSql(sql, typeOf) {
  return sql.replace(/__dpg_sum_(c\d+)/g, (_, c) => `sum(${c})::${typeOf(c)}`).replace(/__dpg_avg_(c\d+)_(c\d+)/g, (_, s, n) => {
    const floating = /^(real|double precision|float4|float8)$/.test(typeOf(s));
    return floating ? `(sum(${s})::float8 / nullif(sum(${n}), 0))` : `(sum(${s})::numeric / nullif(sum(${n}), 0)::numeric)`;
  });
}
function usesAggregate(nodes) {
  let found = false;
  walk(nodes, (key, value) => {
    if (key === "FuncCall" && aggregateName(value)) found = true;
    return !found;
  });
  return found;
}

// src/executor/combine.ts
function arrayLiteral(values) {
  return `{${values.map((v) => v === null ? "NULL" : `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`).join(",")}}`;
}
async function runAggregate(ctx, plan, spec, byGroup) {
  const { bindings, coordinator } = ctx;
  let held = 0;
  const partials = await Promise.all(
    [...byGroup].map(async ([group, shards]) => {
      const queries = shards.map((s) => fillShard(spec.workerTemplate, plan.relations, s));
      const sql2 = queries.length === 1 ? queries[0] : queries.map((q) => `(${q})`).join("\nUNION ALL\n");
      const connection2 = await ctx.transaction.connection(group);
      const typeMap2 = coordinator.typeMaps.get(group);
      const request2 = bindings.extended ? { sql: sql2, params: bindings.params, paramFormats: bindings.paramFormats, paramTypes: bindings.paramTypes, resultFormats: [] } : { sql: sql2 };
      const forgetUnparsed2 = writeRequests(connection2, [request2], bindings.extended, typeMap2);
      const stream = new WorkerResultStream(connection2, typeMap2, ctx.onNotice, 0, () => {
      }, forgetUnparsed2);
      await stream.description();
      const rows = [];
      for (let frame = await stream.nextFrame(); frame; frame = await stream.nextFrame()) {
        held += frame.raw.length;
        if (held > coordinator.heldRowsMaxBytes) {
          await stream.close().catch(() => {
          });
          throw new ClientError(
            SqlState.programLimitExceeded,
            `the aggregate's partial results from the shards exceed coordinator.held_rows_max_mb (${coordinator.heldRowsMaxBytes / 1024 / 1024} MB), which the coordinator holds until it combines them: group by fewer distinct values, or filter first`
          );
        }
        const body = frame.body;
        const count2 = body.readInt16BE(0);
        const row = [];
        let offset = 2;
        for (let i = 0; i < count2; i++) {
          const length = body.readInt32BE(offset);
          offset += 4;
          row.push(length < 0 ? null : body.toString("utf8", offset, offset + length));
          if (length > 0) offset += length;
        }
        rows.push(row);
      }
      const description = stream.rawDescription ? decodeBackend(stream.rawDescription) : null;
      const types2 = description?.type === "RowDescription" ? description.fields.map((f) => typeMap2.toClient(f.typeOid)) : [];
      return { rows, types: types2 };
    })
  );
  const types = partials.find((p) => p.types.length > 0)?.types ?? [];
  const typeNames = await Promise.all(types.map((oid) => coordinator.typeName(oid)));
  const columns = Array.from({ length: spec.workerColumns }, (_, i) => partials.flatMap((p) => p.rows.map((r) => r[i] ?? null)));
  const clientParamCount = bindings.params.length;
  const columnList = typeNames.map((_, i) => `c${i}`).join(", ");
  const unnest = `(SELECT ${typeNames.map((t, i) => `u.c${i}::${t}`).join(", ")} FROM unnest(${typeNames.map((_, i) => `$${clientParamCount + i + 1}::text[]`).join(", ")}) AS u(${columnList}))`;
  const sql = finishCombineSql(spec.combineTemplate.split(PARTIALS_PLACEHOLDER).join(unnest), (c) => typeNames[Number(c.slice(1))]);
  const clientTypes = bindings.extended && bindings.describedParameterTypes ? await bindings.describedParameterTypes() : [];
  const paramFormats = bindings.paramFormats.length === 1 ? Array(clientParamCount).fill(bindings.paramFormats[0]) : bindings.paramFormats;
  const connection = await ctx.transaction.connection(0);
  const typeMap = coordinator.typeMaps.get(0);
  const forgetUnparsed = writeRequests(
    connection,
    [
      {
        sql,
        params: [...bindings.params, ...columns.map((values) => Buffer.from(arrayLiteral(values)))],
        paramFormats: [...paramFormats, ...columns.map(() => 0)],
        paramTypes: [...Array.from({ length: clientParamCount }, (_, i) => clientTypes[i] ?? bindings.paramTypes[i] ?? 0), ...columns.map(() => 0)],
        resultFormats: bindings.resultFormats
      }
    ],
    true,
    typeMap
  );
  return new WorkerResultStream(connection, typeMap, ctx.onNotice, 0, () => {
  }, forgetUnparsed);
}

// src/vector/search-variants.ts
import { deparseSync as deparseSync3 } from "pgsql-deparser";
var DISTANCE_OPERATORS = /* @__PURE__ */ new Set(["<=>", "<->", "<#>", "<+>"]);
var MAX_PINNED_VARIANTS = 1e3;
function operatorOf(node) {
  const [kind, body] = unwrapNode(node);
  if (kind !== "A_Expr" || body.kind !== "AEXPR_OP" || body.name?.length !== 1) return null;
  const operator = unwrapNode(body.name[0])[1]?.sval;
  return operator && DISTANCE_OPERATORS.has(operator) ? { operator, body } : null;
}
function columnRef2(node) {
  const [kind, body] = unwrapNode(node);
  if (kind !== "ColumnRef") return null;
  const names = body.fields.map((f) => unwrapNode(f)[1]?.sval);
  if (names.some((n) => n === void 0) || names.length > 2) return null;
  return names.length === 1 ? { qualifier: null, column: names[0] } : { qualifier: names[0], column: names[1] };
}
function firstSortExpression(select) {
  const first = select.sortClause?.[0];
  if (!first) return null;
  const sortBy = unwrapNode(first)[1];
  const [kind, value] = unwrapNode(sortBy.node);
  const targets = select.targetList ?? [];
  if (kind === "A_Const" && value.ival !== void 0) {
    const target = targets[(value.ival.ival ?? 0) - 1];
    return target ? { holder: unwrapNode(target)[1], field: "val" } : null;
  }
  if (kind === "ColumnRef" && value.fields?.length === 1) {
    const name = unwrapNode(value.fields[0])[1]?.sval;
    const aliased = targets.find((t) => unwrapNode(t)[1]?.name === name);
    if (aliased) return { holder: unwrapNode(aliased)[1], field: "val" };
  }
  return { holder: sortBy, field: "node" };
}
function searchColumn(select) {
  const place = firstSortExpression(select);
  const distance = place && operatorOf(place.holder[place.field]);
  if (!distance) return null;
  const column2 = columnRef2(distance.body.lexpr) ?? columnRef2(distance.body.rexpr);
  return column2 ? { ...column2, operator: distance.operator } : null;
}
function parseSelect(sql) {
  const [statement] = parseSql(sql);
  const [kind, body] = unwrapNode(statement?.node);
  if (kind !== "SelectStmt") throw new Error(`not a SELECT: ${sql.slice(0, 80)}`);
  return body;
}
var deparseSelect = (select) => deparseSync3({ SelectStmt: select });
var SearchVariants = class {
  constructor(sql, pinRef, pinColumn, options = {}) {
    this.sql = sql;
    this.pinRef = pinRef;
    this.pinColumn = pinColumn;
    this.select = parseSelect(sql);
    if (options.limitFactor && options.limitFactor !== 1) scaleLimit(this.select, options.limitFactor);
  }
  sql;
  pinRef;
  pinColumn;
  select;
  cache = /* @__PURE__ */ new Map();
  get exact() {
    return this.form(null, true);
  }
  /** The statement, exact or not, and restricted to one distribution value given as a literal (null: as it is). */
  form(value, exact) {
    const key = `${exact ? "exact" : "index"}${value === null ? "" : `=${value}`}`;
    let sql = this.cache.get(key);
    if (sql !== void 0) return sql;
    const select = structuredClone(this.select);
    if (exact) makeExact(select);
    if (value !== null) {
      const condition = {
        A_Expr: {
          kind: "AEXPR_OP",
          name: [{ String: { sval: "=" } }],
          lexpr: { ColumnRef: { fields: [{ String: { sval: this.pinRef } }, { String: { sval: this.pinColumn } }] } },
          rexpr: { A_Const: { sval: { sval: value } } }
        }
      };
      const [kind, body] = unwrapNode(select.whereClause);
      if (!select.whereClause) select.whereClause = condition;
      else if (kind === "BoolExpr" && body.boolop === "AND_EXPR") body.args.push(condition);
      else select.whereClause = { BoolExpr: { boolop: "AND_EXPR", args: [select.whereClause, condition] } };
    }
    sql = deparseSelect(select);
    if (this.cache.size >= MAX_PINNED_VARIANTS) this.cache.clear();
    this.cache.set(key, sql);
    return sql;
  }
};
function makeExact(select) {
  const place = firstSortExpression(select);
  if (!place || !operatorOf(place.holder[place.field])) return;
  place.holder[place.field] = {
    A_Expr: { kind: "AEXPR_OP", name: [{ String: { sval: "*" } }], lexpr: place.holder[place.field], rexpr: { A_Const: { ival: { ival: 1 } } } }
  };
}
function scaleLimit(select, factor) {
  const [kind, body] = unwrapNode(select.limitCount);
  if (!select.limitCount || kind === "ColumnRef" && body.fields?.length === 1) return;
  select.limitCount = {
    FuncCall: {
      funcname: [{ String: { sval: "ceil" } }],
      args: [{ A_Expr: { kind: "AEXPR_OP", name: [{ String: { sval: "*" } }], lexpr: select.limitCount, rexpr: { A_Const: { fval: { fval: String(factor) } } } } }],
      funcformat: "COERCE_EXPLICIT_CALL"
    }
  };
}
function hasOtherFilters(select, distributionColumn) {
  const conjuncts = [];
  const collect = (node) => {
    const [kind, body] = unwrapNode(node);
    if (kind === "BoolExpr" && body.boolop === "AND_EXPR") body.args.forEach(collect);
    else if (node) conjuncts.push(node);
  };
  collect(select.whereClause);
  const isKeyColumn = (node) => columnRef2(node)?.column === distributionColumn;
  const hasDistance = (node) => {
    if (operatorOf(node)) return true;
    const [kind, body] = unwrapNode(node);
    if (kind === "A_Expr") return hasDistance(body.lexpr) || hasDistance(body.rexpr);
    if (kind === "TypeCast") return hasDistance(body.arg);
    return false;
  };
  const isValue = (node) => {
    const [kind, body] = unwrapNode(node);
    if (kind === "A_Const" || kind === "ParamRef") return true;
    if (kind === "TypeCast") return isValue(body.arg);
    return false;
  };
  return conjuncts.some((node) => {
    const [kind, body] = unwrapNode(node);
    if (kind !== "A_Expr") return true;
    const operator = unwrapNode(body.name?.[0])[1]?.sval;
    if ((body.kind === "AEXPR_OP" || body.kind === "AEXPR_OP_ANY" || body.kind === "AEXPR_IN") && operator === "=" && (isKeyColumn(body.lexpr) || isKeyColumn(body.rexpr))) return false;
    if (body.kind === "AEXPR_OP" && ["<", "<=", ">", ">="].includes(operator)) {
      if (hasDistance(body.lexpr) && isValue(body.rexpr) || hasDistance(body.rexpr) && isValue(body.lexpr)) return false;
    }
    return true;
  });
}

// src/vector/search-route.ts
var MAX_EF_SEARCH = 1e3;
var singleForms = /* @__PURE__ */ new WeakMap();
var mergedForms = /* @__PURE__ */ new WeakMap();
function formsOf(plan, merged, factor) {
  const cache = merged ? mergedForms : singleForms;
  if (cache.has(plan)) return cache.get(plan);
  let forms = null;
  const sql = merged ? plan.merge?.shardTemplate : plan.template;
  if (sql && plan.searched) {
    try {
      forms = new SearchVariants(sql, plan.searched.ref, plan.searched.table.distributionColumn, { limitFactor: merged ? factor : 1 });
    } catch {
      forms = null;
    }
  }
  cache.set(plan, forms);
  return forms;
}
function recallFloor(rows) {
  return rows >= 2e5 ? 200 : rows >= 25e3 ? 100 : 0;
}
function efSearchFor(options, rows, wanted) {
  return Math.min(MAX_EF_SEARCH, Math.max(hnswProfileIn(options.profiles, rows).ef_search, wanted, recallFloor(rows)));
}
function routeSearch(plan, snapshot, values, wanted, shardOf, options) {
  const searched = plan.searched;
  if (!searched || plan.pinnedEach || searched.table.distributionMethod !== "hash") return null;
  const namespaces = values.filter((v) => v !== null);
  if (namespaces.length === 0) return null;
  const table2 = searched.table;
  const pieces = [];
  for (const namespace of namespaces) {
    const tier = snapshot.namespaceTier(table2.name, namespace);
    if (tier?.tier === "split") {
      for (const shard of table2.shards) pieces.push({ namespace, shard: shard.index, indexed: tier.indexedShards.includes(shard.index), rows: tier.rows });
    } else {
      const home = shardOf(namespace);
      pieces.push({ namespace, shard: home, indexed: tier?.tier === "hnsw" && tier.indexedShards.includes(home), rows: tier?.rows ?? 0 });
    }
  }
  const candidates = wanted === null ? null : Math.ceil(wanted * (pieces.length > 1 ? options.candidateFactor : 1));
  const usable = candidates !== null && candidates <= MAX_EF_SEARCH && !searched.otherFilters;
  for (const piece of pieces) piece.indexed &&= usable;
  const shards = [...new Set(pieces.map((p) => p.shard))].sort((a, b) => a - b);
  if (pieces.length === 1) {
    const forms = formsOf(plan, false, 1);
    if (!forms) return null;
    const [piece] = pieces;
    if (piece.indexed) return { queries: [{ shard: piece.shard, sql: forms.form(piece.namespace, false) }], efSearch: efSearchFor(options, piece.rows, wanted), perNamespace: false };
    return { queries: [{ shard: piece.shard, sql: forms.exact }], efSearch: null, perNamespace: false };
  }
  const merged = plan.merge ? formsOf(plan, true, options.candidateFactor) : null;
  if (!pieces.some((p) => p.indexed) || !merged) {
    const forms = shards.length === 1 ? formsOf(plan, false, 1) : merged;
    if (!forms) return null;
    return { queries: shards.map((shard) => ({ shard, sql: forms.exact })), efSearch: null, perNamespace: false };
  }
  const largest = Math.max(...pieces.map((p) => p.indexed ? p.rows : 0));
  return {
    queries: pieces.map((p) => ({ shard: p.shard, sql: merged.form(p.namespace, !p.indexed) })),
    efSearch: efSearchFor(options, largest, candidates),
    perNamespace: true
  };
}

// src/executor/run-plan.ts
function routingParams(bindings, values) {
  const params = new Array(bindings.params.length);
  for (const list of values) {
    for (const value of list ?? []) {
      if (value.kind !== "param" && value.kind !== "param-array") continue;
      const raw = bindings.params[value.index - 1];
      if (raw !== void 0) params[value.index - 1] = raw === null ? null : raw.toString("utf8");
    }
  }
  return params;
}
function shardsFor(snapshot, table2, values, params, newRow = false) {
  if (values === null) return table2.shards.map((s) => s.index);
  const resolved = resolveKeyValues(values, params);
  if (resolved === "unknown") return table2.shards.map((s) => s.index);
  const shards = /* @__PURE__ */ new Set();
  for (const value of resolved) {
    if (value === null) continue;
    if (newRow) shards.add(snapshot.shardIndexForNewRow(table2, value));
    else for (const shard of snapshot.shardIndexesForValue(table2, value)) shards.add(shard);
  }
  return [...shards].sort((a, b) => a - b);
}
function checkSplitJoin(snapshot, plan, params) {
  const distributed = plan.relations.filter((t) => t.kind === "distributed");
  if (distributed.length < 2 || !plan.keyValues) return;
  const resolved = resolveKeyValues(plan.keyValues, params);
  if (resolved === "unknown") return;
  for (const value of resolved) {
    if (value === null) continue;
    const split = distributed.find((t) => snapshot.namespaceTier(t.name, value)?.tier === "split");
    if (split) {
      throw new ClientError(
        SqlState.featureNotSupported,
        `namespace ${JSON.stringify(value)} of ${split.name} is split across shards (too large for one); a statement joining it with other distributed tables is not supported`
      );
    }
  }
}
function groupOf(ctx, table2, shardIndex) {
  return ctx.coordinator.snapshot.placementGroups(table2, shardIndex)[0];
}
function request(sql, bindings, resultFormats = bindings.resultFormats) {
  return bindings.extended ? { sql, params: bindings.params, paramFormats: bindings.paramFormats, paramTypes: bindings.paramTypes, resultFormats } : { sql };
}
async function drain(stream) {
  await stream.description();
  while (await stream.nextRow()) ;
  const tag = stream.tag();
  await stream.close();
  return tag;
}
async function runOnGroup(ctx, groupId, requests, write, hidden = 0, label = { shardId: `group${groupId}`, queryType: write ? "write" : "read" }, efSearch = null) {
  const connection = await ctx.transaction.connection(groupId, { write });
  if (efSearch !== null) await ctx.transaction.useEfSearch(connection, efSearch);
  const typeMap = ctx.coordinator.typeMaps.get(participantGroup(groupId));
  const started = performance.now();
  const forgetUnparsed = writeRequests(connection, requests, ctx.bindings.extended, typeMap);
  ctx.transaction.busy.add(connection);
  const onEnd = () => {
    ctx.transaction.busy.delete(connection);
    metrics()?.shardQueryLatency.observe({ shard_id: label.shardId, query_type: label.queryType }, (performance.now() - started) / 1e3);
  };
  return new WorkerResultStream(connection, typeMap, ctx.onNotice, hidden, onEnd, forgetUnparsed);
}
var ConcatResultStream = class {
  constructor(streams, rowsFromFirstOnly = false) {
    this.streams = streams;
    this.rowsFromFirstOnly = rowsFromFirstOnly;
  }
  streams;
  rowsFromFirstOnly;
  index = 0;
  async description() {
    let description = null;
    for (const stream of this.streams) description ??= await stream.description();
    return description;
  }
  async nextRow() {
    while (this.index < this.streams.length) {
      const stream = this.streams[this.index];
      const row = await stream.nextRow();
      if (row && (!this.rowsFromFirstOnly || this.index === 0)) return row;
      if (!row) this.index++;
    }
    return null;
  }
  tag() {
    if (this.rowsFromFirstOnly) return this.streams[0]?.tag() ?? "";
    return combineTags(this.streams.map((s) => s.tag()).filter(Boolean));
  }
  async close() {
    await Promise.all(this.streams.map((s) => s.close()));
  }
};
function strongestDurability(ctx, tables2) {
  const classes = tables2.map((t) => ctx.coordinator.tableDurability(t));
  return classes.includes("critical") || classes.length === 0 ? "critical" : classes.includes("audit") ? "audit" : "ephemeral";
}
async function atomically(ctx, groups, run3, always = false) {
  if (ctx.transaction.inBlock || groups <= 1 && !always) return run3();
  ctx.transaction.begin("BEGIN");
  try {
    const stream = await run3();
    const description = await stream.description();
    const rows = [];
    let held = 0;
    for (let row = await stream.nextRow(); row; row = await stream.nextRow()) {
      held += row.length;
      if (held > ctx.coordinator.heldRowsMaxBytes) {
        await stream.close().catch(() => {
        });
        throw new ClientError(SqlState.programLimitExceeded, `the statement's rows over several worker groups exceed coordinator.held_rows_max_mb (${ctx.coordinator.heldRowsMaxBytes / 1024 / 1024} MB), which the coordinator holds until the commit; nothing was written: return fewer rows (RETURNING fewer columns) or write fewer rows per statement`);
      }
      rows.push(row);
    }
    const tag = stream.tag();
    await stream.close();
    await ctx.transaction.commit();
    return new LocalResultStream(tag, description, rows);
  } catch (error) {
    await ctx.transaction.rollback();
    if (failureKind(error) === "lost") throw new NotAppliedError(`the write over several worker groups was rolled back: ${error.message}`);
    throw error;
  }
}
async function runControl(ctx, plan) {
  metrics()?.statements.inc({ route: "control" });
  for (const message of plan.notices ?? []) ctx.onNotice(encodeNoticeResponse({ severity: "NOTICE", severityNonLocalized: "NOTICE", code: "00000", message }));
  return runOnGroup(ctx, 0, [request(plan.sql, ctx.bindings)], true);
}
async function runDistributed(ctx, plan) {
  const { bindings } = ctx;
  const params = routingParams(bindings, [plan.keyValues, ...plan.pinnedEach ?? []]);
  const write = !plan.readOnly;
  if (write) ctx.transaction.statementDurability = strongestDurability(ctx, plan.relations.length > 0 ? plan.relations : [plan.anchor]);
  else ctx.transaction.statementReplicaOk = true;
  if (plan.anchor.kind === "reference") {
    const groupId = ctx.coordinator.snapshot.placementGroups(plan.anchor, 0)[0];
    return runOnGroup(ctx, groupId, [request(fillShard(plan.template, plan.relations, 0), bindings)], write);
  }
  let shards;
  if (plan.pinnedEach) {
    const distributed = plan.relations.filter((t) => t.kind === "distributed");
    const sets = plan.pinnedEach.map((values, i) => shardsFor(ctx.coordinator.snapshot, distributed[i] ?? plan.anchor, values, params));
    const first = sets[0];
    if (!sets.every((s) => s.length === 1 && s[0] === first[0])) {
      throw new ClientError(SqlState.featureNotSupported, "the distributed tables of this statement are pinned to different shards and are not joined on their distribution column");
    }
    shards = first;
  } else {
    checkSplitJoin(ctx.coordinator.snapshot, plan, params);
    shards = shardsFor(ctx.coordinator.snapshot, plan.anchor, plan.keyValues, params, plan.command === "INSERT");
    if (plan.command === "INSERT" && plan.keyValues && resolveKeyValues(plan.keyValues, params) !== "unknown" && shards.length === 0) {
      throw new ClientError("23502", `the distribution column ${plan.anchor.distributionColumn} of ${plan.anchor.name} cannot be NULL`);
    }
  }
  if (shards.length === 0) shards = [0];
  const route = plan.searched ? vectorRoute(ctx, plan, params) : null;
  const sharedEfSearch = !route && plan.vectorSearch && plan.command === "SELECT" ? sharedIndexEfSearch(ctx, plan, shards) : null;
  if (route && (route.perNamespace || route.queries.length > 1)) {
    metrics()?.statements.inc({ route: "multi_shard" });
    const queries2 = /* @__PURE__ */ new Map();
    for (const query of route.queries) {
      const group = groupOf(ctx, plan.anchor, query.shard);
      queries2.set(group, [...queries2.get(group) ?? [], query]);
    }
    return runMergedSelect(ctx, plan, queries2, { efSearch: route.efSearch, limitFactor: route.perNamespace ? ctx.coordinator.vectorSearch.candidateFactor : 1 });
  }
  if (shards.length === 1) {
    const shard = route?.queries[0]?.shard ?? shards[0];
    metrics()?.statements.inc({ route: "router" });
    const label = { shardId: plan.anchor.shards[shard].shardId, queryType: plan.command.toLowerCase() };
    const sql = fillShard(route?.queries[0]?.sql ?? plan.template, plan.relations, shard);
    const stream = await runOnGroup(ctx, groupOf(ctx, plan.anchor, shard), [request(sql, bindings)], write, 0, label, route?.efSearch ?? sharedEfSearch);
    return plan.vectorSearch ? timedVectorSearch(stream, searchNamespace(plan, params), label.shardId) : stream;
  }
  metrics()?.statements.inc({ route: "multi_shard" });
  const byGroup = /* @__PURE__ */ new Map();
  for (const shard of shards) {
    const group = groupOf(ctx, plan.anchor, shard);
    byGroup.set(group, [...byGroup.get(group) ?? [], shard]);
  }
  if (plan.command !== "SELECT") {
    return atomically(ctx, byGroup.size, async () => {
      const streams = await Promise.all(
        [...byGroup].map(
          ([group, groupShards]) => runOnGroup(ctx, group, groupShards.map((s) => request(fillShard(plan.template, plan.relations, s), bindings)), true)
        )
      );
      return new ConcatResultStream(streams);
    });
  }
  if (plan.aggregate) return runAggregate(ctx, plan, plan.aggregate, byGroup);
  if (plan.mergeError) throw plan.mergeError;
  if (!plan.merge) throw new ClientError(SqlState.featureNotSupported, `${plan.mergeUnsupported} (the statement needs ${shards.length} shards; pin it to one with a condition on ${plan.anchor.distributionColumn})`);
  const merge = plan.merge;
  const queries = new Map([...byGroup].map(([group, groupShards]) => [group, groupShards.map((shard) => ({ shard, sql: merge.shardTemplate }))]));
  return runMergedSelect(ctx, plan, queries, { efSearch: sharedEfSearch, limitFactor: 1 });
}
function wantedRows(ctx, plan) {
  if (!plan.merge) return null;
  const { limit, offset } = resolveLimit(plan.merge.limit, ctx.bindings);
  return limit === null ? null : limit + offset;
}
function sharedIndexEfSearch(ctx, plan, shards) {
  const wanted = wantedRows(ctx, plan);
  if (wanted === null) return null;
  const rows = Math.max(0, ...shards.map((s) => ctx.coordinator.shardRows.get(plan.anchor.shards[s].shardId) ?? 0));
  return efSearchFor(ctx.coordinator.vectorSearch, rows, wanted);
}
function vectorRoute(ctx, plan, params) {
  if (plan.command !== "SELECT" || !plan.keyValues) return null;
  const values = resolveKeyValues(plan.keyValues, params);
  if (values === "unknown") return null;
  const wanted = wantedRows(ctx, plan);
  const table2 = plan.searched.table;
  return routeSearch(plan, ctx.coordinator.snapshot, values, wanted, (value) => CatalogSnapshot.shardIndexForValue(table2, value), ctx.coordinator.vectorSearch);
}
async function runMergedSelect(ctx, plan, queriesByGroup, options) {
  const { bindings } = ctx;
  const merge = plan.merge;
  const { limit, offset } = resolveLimit(merge.limit, bindings);
  const shardLimit = limit === null ? "ALL" : String(limit + offset);
  const queryLimit = limit === null ? "ALL" : String(Math.ceil((limit + offset) * options.limitFactor));
  let resultFormats = bindings.resultFormats;
  if (bindings.extended && merge.hiddenColumns > 0 && resultFormats.some((f) => f !== 0)) {
    const visible = await bindings.visibleColumns();
    const formatOf = (i) => resultFormats.length === 1 ? resultFormats[0] : resultFormats[i] ?? 0;
    resultFormats = [...Array.from({ length: visible }, (_, i) => formatOf(i)), ...Array(merge.hiddenColumns).fill(0)];
  }
  const fill = (q) => fillShard(q.sql, plan.relations, q.shard).split(LIMIT_PLACEHOLDER).join(queryLimit);
  const streams = await Promise.all(
    [...queriesByGroup].map(([group, groupQueries]) => {
      const queries = groupQueries.map(fill);
      const sql = queries.length === 1 ? queries[0] : `${queries.map((q) => `(${q})`).join("\nUNION ALL\n")}
${merge.unionOrderBy}${limit === null ? "" : ` LIMIT ${shardLimit}`}`;
      return runOnGroup(ctx, group, [request(sql, bindings, resultFormats)], false, merge.hiddenColumns, void 0, options.efSearch);
    })
  );
  const merged = new MergedResultStream(streams, merge.sortKeys, merge.hiddenColumns, offset, limit, () => {
  }, Number(ctx.transaction.settingValue("extra_float_digits") ?? 1) >= 1);
  return plan.vectorSearch ? timedVectorSearch(merged, null, "multi") : merged;
}
function searchNamespace(plan, params) {
  if (!plan.keyValues) return null;
  const values = resolveKeyValues(plan.keyValues, params);
  return values !== "unknown" && values.length === 1 ? values[0] : null;
}
function timedVectorSearch(stream, namespace, shardId) {
  const m = metrics();
  if (!m) return stream;
  const started = performance.now();
  let rows = 0;
  let recorded = false;
  const record = () => {
    if (recorded) return;
    recorded = true;
    const label = m.namespaceLabel(namespace);
    m.vectorSearchDuration.observe({ namespace: label, shard_id: shardId }, (performance.now() - started) / 1e3);
    m.vectorSearchResults.inc({ namespace: label }, rows);
  };
  return {
    description: () => stream.description(),
    nextRow: async () => {
      const row = await stream.nextRow();
      if (row) rows++;
      else record();
      return row;
    },
    tag: () => stream.tag(),
    close: async () => {
      record();
      await stream.close();
    },
    get empty() {
      return stream.empty;
    }
  };
}
function resolveLimit(spec, bindings) {
  const value = (v) => {
    if (v === null) return null;
    if ("constant" in v) return v.constant;
    const raw = bindings.params[v.param - 1];
    if (raw === void 0 || raw === null) return null;
    const format = bindings.paramFormats.length === 1 ? bindings.paramFormats[0] : bindings.paramFormats[v.param - 1];
    if (format === 1) return raw.length === 8 ? Number(raw.readBigInt64BE(0)) : raw.length === 4 ? raw.readInt32BE(0) : raw.readInt16BE(0);
    const n = Number(raw.toString("utf8"));
    if (!Number.isInteger(n) || n < 0) throw new ClientError("2201W", `LIMIT must not be negative or fractional: ${raw.toString("utf8")}`);
    return n;
  };
  return { limit: value(spec.limit), offset: value(spec.offset) ?? 0 };
}
async function runInsert(ctx, plan) {
  if (plan.source) return runInsertSelect(ctx, plan, plan.source);
  ctx.transaction.statementDurability = ctx.coordinator.tableDurability(plan.table);
  const params = routingParams(ctx.bindings, [plan.rowKeys]);
  const rowsByShard = /* @__PURE__ */ new Map();
  plan.rowKeys.forEach((key, row) => {
    const resolved = resolveKeyValues([key], params);
    if (resolved === "unknown") throw new ClientError(SqlState.protocolViolation, "a parameter giving the distribution value is missing");
    const value = resolved[0];
    if (value === null || value === void 0) {
      throw new ClientError("23502", `the distribution column ${plan.table.distributionColumn} of ${plan.table.name} cannot be NULL`);
    }
    const shard = ctx.coordinator.snapshot.shardIndexForNewRow(plan.table, value);
    rowsByShard.set(shard, [...rowsByShard.get(shard) ?? [], row]);
  });
  metrics()?.statements.inc({ route: rowsByShard.size > 1 ? "multi_shard" : "router" });
  const byGroup = /* @__PURE__ */ new Map();
  for (const [shard, rows] of rowsByShard) {
    const group = groupOf(ctx, plan.table, shard);
    byGroup.set(group, [...byGroup.get(group) ?? [], insertRequest(plan, shard, rows, ctx.bindings)]);
  }
  return atomically(ctx, byGroup.size, async () => {
    const streams = await Promise.all([...byGroup].map(([group, requests]) => runOnGroup(ctx, group, requests, true)));
    return new ConcatResultStream(streams);
  });
}
var INSERT_SELECT_CHUNK = 500;
async function runInsertSelect(ctx, plan, source) {
  const textCtx = { ...ctx, bindings: { ...ctx.bindings, resultFormats: [0] } };
  const selected = source.plan.kind === "control" ? await runControl(textCtx, source.plan) : await runDistributed(textCtx, source.plan);
  const rowsByShard = /* @__PURE__ */ new Map();
  const maxBytes = ctx.coordinator.insertSelectMaxBytes;
  let bytes = 0;
  try {
    await selected.description();
    for (let frame = await selected.nextRow(); frame; frame = await selected.nextRow()) {
      bytes += frame.length;
      if (bytes > maxBytes) {
        throw new ClientError(
          "54000",
          `INSERT ... SELECT into ${plan.table.name} selected more than ${(maxBytes / 1024 / 1024).toFixed(maxBytes < 1024 * 1024 ? 3 : 0)} MB (coordinator.insert_select_max_mb): dpg holds its rows on the coordinator before sending them; insert in smaller ranges (a WHERE on the SELECT)`
        );
      }
      const values = dataRowValues({ code: frame[0], body: frame.subarray(5), raw: frame }).map((v) => v === null ? null : v.toString("utf8"));
      if (values.length !== source.columns) {
        throw new ClientError("42601", `INSERT has ${source.columns} target columns but its SELECT gives ${values.length} values per row`);
      }
      const key = values[source.keyIndex];
      if (key === null || key === void 0) throw new ClientError("23502", `the distribution column ${plan.table.distributionColumn} of ${plan.table.name} cannot be NULL`);
      const shard = ctx.coordinator.snapshot.shardIndexForNewRow(plan.table, key);
      const rows = rowsByShard.get(shard);
      if (rows) rows.push(values);
      else rowsByShard.set(shard, [values]);
    }
  } finally {
    await selected.close();
  }
  if (rowsByShard.size === 0) return new LocalResultStream("INSERT 0 0");
  ctx.transaction.statementDurability = ctx.coordinator.tableDurability(plan.table);
  metrics()?.statements.inc({ route: rowsByShard.size > 1 ? "multi_shard" : "router" });
  const extended = plan.returning && ctx.bindings.extended && ctx.bindings.resultFormats.some((f) => f !== 0);
  const writeCtx = { ...ctx, bindings: extended ? { ...ctx.bindings, params: [], paramFormats: [], paramTypes: [] } : { ...ctx.bindings, extended: false, params: [], paramFormats: [], paramTypes: [] } };
  const byGroup = /* @__PURE__ */ new Map();
  for (const [shard, rows] of rowsByShard) {
    const group = groupOf(ctx, plan.table, shard);
    for (let start = 0; start < rows.length; start += INSERT_SELECT_CHUNK) {
      const node = structuredClone(plan.node);
      unwrapNode(node.selectStmt)[1].valuesLists = rows.slice(start, start + INSERT_SELECT_CHUNK).map((row) => ({
        List: { items: row.map((value) => value === null ? { A_Const: { isnull: true } } : { A_Const: { sval: { sval: value } } }) }
      }));
      const sql = fillShard(deparseSync4({ InsertStmt: node }), plan.relations, shard);
      const requests = byGroup.get(group) ?? byGroup.set(group, []).get(group);
      requests.push(extended ? { sql, params: [], paramFormats: [], paramTypes: [], resultFormats: ctx.bindings.resultFormats } : { sql });
    }
  }
  return atomically(writeCtx, byGroup.size, async () => {
    const streams = await Promise.all([...byGroup].map(([group, requests]) => runOnGroup(writeCtx, group, requests, true)));
    return new ConcatResultStream(streams);
  });
}
function insertRequest(plan, shard, rows, bindings) {
  const node = structuredClone(plan.node);
  const select = unwrapNode(node.selectStmt)[1];
  select.valuesLists = rows.map((r) => select.valuesLists[r]);
  const renumber = /* @__PURE__ */ new Map();
  walk(node, (key, value) => {
    if (key === "ParamRef") {
      if (!renumber.has(value.number)) renumber.set(value.number, renumber.size + 1);
      value.number = renumber.get(value.number);
    }
    return void 0;
  });
  const sql = fillShard(deparseSync4({ InsertStmt: node }), plan.relations, shard);
  if (!bindings.extended) return { sql };
  const order = [...renumber.entries()].sort((a, b) => a[1] - b[1]).map(([original]) => original - 1);
  const pick = (list, fallback) => order.map((i) => list[i] ?? fallback);
  return {
    sql,
    params: pick(bindings.params, null),
    paramFormats: bindings.paramFormats.length <= 1 ? bindings.paramFormats : pick(bindings.paramFormats, 0),
    paramTypes: pick(bindings.paramTypes, 0),
    resultFormats: bindings.resultFormats
  };
}
async function runReferenceWrite(ctx, plan) {
  ctx.transaction.statementDurability = strongestDurability(ctx, plan.relations);
  metrics()?.statements.inc({ route: "multi_shard" });
  const snapshot = ctx.coordinator.snapshot;
  const reference = plan.relations.find((t) => t.kind === "reference");
  const groups = snapshot.placementGroups(reference, 0);
  const sql = fillShard(plan.template, plan.relations, 0);
  ctx.transaction.referenceEpoch ??= snapshot.referenceEpoch;
  return atomically(
    ctx,
    groups.length,
    async () => {
      const streams = await Promise.all(groups.map((g) => runOnGroup(ctx, g, [request(sql, ctx.bindings)], true)));
      return new ConcatResultStream(streams, true);
    },
    true
  );
}

// src/executor/run-ddl.ts
function textContext(ctx) {
  return { ...ctx, bindings: { ...ctx.bindings, extended: false, params: [], paramFormats: [], paramTypes: [], resultFormats: [] } };
}
async function runStatementsOnGroups(ctx, byGroup, transactional) {
  const text = textContext(ctx);
  if (transactional) {
    await Promise.all([...byGroup].map(async ([group, statements]) => drain(await runOnGroup(text, group, statements.map((sql) => ({ sql })), true))));
    return;
  }
  for (const [group, statements] of byGroup) {
    for (const sql of statements) {
      await drain(await runOnGroup(text, group, [{ sql }], true));
    }
  }
}
async function runDdl(ctx, plan) {
  for (const notice of plan.notices) ctx.onNotice(encodeNoticeResponse({ severity: "NOTICE", severityNonLocalized: "NOTICE", code: "00000", message: notice }));
  if (!plan.transactional && ctx.transaction.inBlock) {
    throw new ClientError("25001", `${plan.tag}${plan.tag === "CREATE INDEX" ? " CONCURRENTLY" : ""} cannot run inside a transaction block`);
  }
  if (plan.rowSecurity && ctx.coordinator.namespaceIsolation && plan.tables.some((t) => t.kind === "distributed")) {
    throw new ClientError(
      SqlState.featureNotSupported,
      `${plan.tag} on a distributed table is refused while tenant isolation is on (a user of the config has namespaces:): dpg's own row-level security policy on every shard enforces the allow-lists, and a policy of yours would widen or undo it`
    );
  }
  await refuseDuringMoves(ctx, plan.tables);
  const byGroup = /* @__PURE__ */ new Map([[0, [plan.shellSql]]]);
  for (const table2 of plan.tables) {
    for (const shard of table2.shards) {
      for (const group of ctx.coordinator.snapshot.placementGroups(table2, shard.index)) byGroup.set(group, [...byGroup.get(group) ?? [], plan.render(table2, shard.index)]);
    }
  }
  if (plan.dropsTables.length > 0) {
    const names = plan.dropsTables.map((n) => `'${n.replace(/'/g, "''")}'`).join(", ");
    byGroup.set(CATALOG_PARTICIPANT, [`DELETE FROM dpg_catalog.tables WHERE table_name IN (${names})`]);
  }
  if (plan.transactional) {
    await atomically(ctx, byGroup.size, async () => {
      await runStatementsOnGroups(ctx, byGroup, true);
      return new LocalResultStream(plan.tag);
    });
  } else {
    await runStatementsOnGroups(ctx, byGroup, false);
  }
  if (plan.dropsTables.length > 0) await ctx.coordinator.catalogChanged();
  return new LocalResultStream(plan.tag);
}
async function runDropIndex(ctx, plan) {
  const control = await ctx.transaction.connection(0);
  const owners = await control.simpleQuery(
    `SELECT i.relname, t.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
     WHERE x.indexrelid IN (${plan.indexes.map((n) => `to_regclass('${n.replace(/'/g, "''")}')`).join(", ")})`
  );
  await refuseDuringMoves(ctx, owners.rows.map(([, tableName]) => ctx.coordinator.snapshot.table(tableName)).filter((t) => !!t));
  const byGroup = /* @__PURE__ */ new Map([[0, [plan.sql]]]);
  const options = `${plan.concurrent ? " CONCURRENTLY" : ""}${" IF EXISTS"}`;
  for (const [indexName, tableName] of owners.rows) {
    const table2 = ctx.coordinator.snapshot.table(tableName);
    if (!table2) continue;
    for (const shard of table2.shards) {
      for (const group of shard.groupIds) {
        byGroup.set(group, [...byGroup.get(group) ?? [], `DROP INDEX${options} ${indexName}_${shard.shardId}${plan.cascade ? " CASCADE" : ""}`]);
      }
    }
  }
  if (!plan.concurrent) {
    await atomically(ctx, byGroup.size, async () => {
      await runStatementsOnGroups(ctx, byGroup, true);
      return new LocalResultStream("DROP INDEX");
    });
  } else {
    if (ctx.transaction.inBlock) throw new ClientError("25001", "DROP INDEX CONCURRENTLY cannot run inside a transaction block");
    await runStatementsOnGroups(ctx, byGroup, false);
  }
  return new LocalResultStream("DROP INDEX");
}
async function refuseDuringMoves(ctx, tables2) {
  const colocations = [...new Set(tables2.map((t) => t.colocationId).filter((id) => id !== null))];
  if (colocations.length === 0) return;
  const control = await ctx.transaction.connection(0);
  const moving = await control.simpleQuery(
    `SELECT move_id, state FROM dpg_catalog.shard_moves WHERE state NOT IN ('done', 'rolled-back') AND colocation_id IN (${colocations.join(", ")}) ORDER BY move_id LIMIT 1`
  );
  const move = moving.rows[0];
  if (move) {
    throw new ClientError(
      "55006",
      `shards of ${tables2.map((t) => t.name).join(", ")} are being moved (shard move ${move[0]}, ${move[1]}); run the statement when the move has finished (SELECT * FROM dpg_shard_moves)`
    );
  }
}

// src/executor/distribute.ts
import { deparseSync as deparseSync5 } from "pgsql-deparser";

// src/planner/rewrite.ts
function rewriteRelations(text, replacements) {
  const sorted = [...replacements].sort((a, b) => b.location - a.location);
  let result = text;
  let previousStart = Infinity;
  for (const { location, newName, alias } of sorted) {
    const span = lastIdentifierOfName(text, location);
    if (span.end > previousStart) throw new Error(`overlapping relation replacements at ${location}`);
    previousStart = location;
    const replacement = alias === void 0 ? quoteIdentifier(newName) : `${quoteIdentifier(newName)} AS ${quoteIdentifier(alias)}`;
    result = result.slice(0, span.start) + replacement + result.slice(span.end);
  }
  return result;
}
function quoteIdentifier(name) {
  if (/^[a-z_][a-z0-9_$]*$/.test(name) && !NON_UNRESERVED_KEYWORDS.has(name)) return name;
  return `"${name.replace(/"/g, '""')}"`;
}
function quoteLiteral(value) {
  return `'${value.replace(/'/g, "''")}'`;
}
function scanIdentifier(text, start) {
  if (start < 0 || start >= text.length) return null;
  if (text[start] === '"') {
    let value2 = "";
    let index = start + 1;
    while (index < text.length) {
      const char = text[index];
      if (char === '"') {
        if (text[index + 1] === '"') {
          value2 += '"';
          index += 2;
          continue;
        }
        return value2 === "" ? null : { start, end: index + 1, value: value2 };
      }
      value2 += char;
      index++;
    }
    return null;
  }
  if (/^[uU]&"/.test(text.slice(start, start + 3))) return null;
  if (!isIdentifierStart(text.charCodeAt(start))) return null;
  let end = start + 1;
  while (end < text.length && isIdentifierPart(text.charCodeAt(end))) end++;
  const value = text.slice(start, end).replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
  return { start, end, value };
}
function lastIdentifierOfName(text, location) {
  let identifier2 = scanIdentifier(text, location);
  if (!identifier2) {
    throw new Error(`no identifier at position ${location} of ${JSON.stringify(excerpt(text, location))}`);
  }
  for (; ; ) {
    const dot = skipSpaceAndComments(text, identifier2.end);
    if (text[dot] !== ".") return identifier2;
    const next = scanIdentifier(text, skipSpaceAndComments(text, dot + 1));
    if (!next) return identifier2;
    identifier2 = next;
  }
}
function skipSpaceAndComments(text, index) {
  for (; ; ) {
    while (index < text.length && isSqlWhitespace2(text.charCodeAt(index))) index++;
    if (text.startsWith("--", index)) {
      const newline = text.indexOf("\n", index);
      index = newline === -1 ? text.length : newline + 1;
    } else if (text.startsWith("/*", index)) {
      let depth = 1;
      index += 2;
      while (index < text.length && depth > 0) {
        if (text.startsWith("/*", index)) {
          depth++;
          index += 2;
        } else if (text.startsWith("*/", index)) {
          depth--;
          index += 2;
        } else index++;
      }
    } else return index;
  }
}
function isSqlWhitespace2(code) {
  return code === 32 || code >= 9 && code <= 13;
}
function isIdentifierStart(code) {
  return code >= 97 && code <= 122 || code >= 65 && code <= 90 || code === 95 || code >= 128;
}
function isIdentifierPart(code) {
  return isIdentifierStart(code) || code >= 48 && code <= 57 || code === 36;
}
function excerpt(text, location) {
  return text.slice(Math.max(0, location - 10), location + 20);
}
var NON_UNRESERVED_KEYWORDS = new Set(
  // RESERVED_KEYWORD
  "all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create current_catalog current_date current_role current_time current_timestamp current_user default deferrable desc distinct do else end except false fetch for foreign from grant group having in initially intersect into lateral leading limit localtime localtimestamp not null offset on only or order placing primary references returning select session_user some symmetric system_user table then to trailing true union unique user using variadic when where window with authorization binary collation concurrently cross current_schema freeze full ilike inner is isnull join left like natural notnull outer overlaps right similar tablesample verbose between bigint bit boolean char character coalesce dec decimal exists extract float greatest grouping inout int integer interval json json_array json_arrayagg json_exists json_object json_objectagg json_query json_scalar json_serialize json_table json_value least merge_action national nchar none normalize nullif numeric out overlay position precision real row setof smallint substring time timestamp treat trim values varchar xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable".split(" ")
);

// src/catalog/namespace-isolation.ts
var NAMESPACE_POLICY = "dpg_namespaces";
var ROLE_NAMESPACES_SQL = `
CREATE SCHEMA IF NOT EXISTS dpg_catalog;
CREATE TABLE IF NOT EXISTS dpg_catalog.role_namespaces (role_name name PRIMARY KEY, namespaces text[] NOT NULL);
`;
function namespacePolicySql(shardTable, column2) {
  const table2 = `public.${quoteIdentifier(shardTable)}`;
  const own = `(SELECT r.namespaces FROM dpg_catalog.role_namespaces r WHERE r.role_name = current_user)`;
  const rule = `(NOT EXISTS (SELECT 1 FROM dpg_catalog.role_namespaces r WHERE r.role_name = current_user) OR ${quoteIdentifier(column2)} = ANY (coalesce(${own}, '{}'::text[])))`;
  return [
    `ALTER TABLE ${table2} ENABLE ROW LEVEL SECURITY`,
    `DROP POLICY IF EXISTS ${NAMESPACE_POLICY} ON ${table2}`,
    `CREATE POLICY ${NAMESPACE_POLICY} ON ${table2} AS PERMISSIVE FOR ALL TO PUBLIC USING ${rule} WITH CHECK ${rule}`
  ];
}
function removeNamespacePolicySql(shardTable) {
  const table2 = `public.${quoteIdentifier(shardTable)}`;
  return [`DROP POLICY IF EXISTS ${NAMESPACE_POLICY} ON ${table2}`, `ALTER TABLE ${table2} DISABLE ROW LEVEL SECURITY`];
}
async function syncNamespaceIsolation(db, users, shards, clientsRole) {
  await db.query(ROLE_NAMESPACES_SQL);
  await db.query(`GRANT USAGE ON SCHEMA dpg_catalog TO ${quoteIdentifier(clientsRole)}`);
  await db.query(`GRANT SELECT ON dpg_catalog.role_namespaces TO ${quoteIdentifier(clientsRole)}`);
  const restricted = users.filter((u) => u.namespaces !== null);
  await db.query("BEGIN");
  try {
    await db.query("DELETE FROM dpg_catalog.role_namespaces");
    for (const user of restricted) {
      await db.query(`INSERT INTO dpg_catalog.role_namespaces (role_name, namespaces) VALUES (${quoteLiteral(user.name)}, $1)`, [user.namespaces]);
    }
    const present = await db.query(
      `SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relname = ANY ($1)`,
      [[...shards.keys()]]
    );
    for (const { relname } of present.rows) {
      for (const sql of restricted.length > 0 ? namespacePolicySql(relname, shards.get(relname)) : await ownPolicyOnly(db, relname)) await db.query(sql);
    }
    await db.query("COMMIT");
  } catch (error) {
    await db.query("ROLLBACK").catch(() => {
    });
    throw error;
  }
}
async function ownPolicyOnly(db, shardTable) {
  const found = await db.query("SELECT 1 FROM pg_policies WHERE schemaname = $1 AND tablename = $2 AND policyname = $3", ["public", shardTable, NAMESPACE_POLICY]);
  return found.rowCount ? removeNamespacePolicySql(shardTable) : [];
}

// src/catalog/catalog-schema.ts
var FIRST_SHARD_ID = 102008;
var CATALOG_VIEWS = ["citus_shards", "pg_dist_shard", "pg_dist_placement", "pg_dist_node", "pg_dist_partition", "dpg_namespaces", "dpg_maintenance", "dpg_shard_moves"];
var CATALOG_SCHEMA_SQL = `
CREATE SCHEMA IF NOT EXISTS dpg_catalog;

CREATE TABLE dpg_catalog.groups (
  group_id   int PRIMARY KEY,
  name       text NOT NULL UNIQUE,
  kind       text NOT NULL CHECK (kind IN ('control', 'worker'))
);

CREATE TABLE dpg_catalog.nodes (
  node_id      int PRIMARY KEY,
  group_id     int NOT NULL REFERENCES dpg_catalog.groups,
  name         text NOT NULL UNIQUE,
  host         text NOT NULL,
  port         int NOT NULL,
  patroni_port int NOT NULL,
  role         text NOT NULL DEFAULT 'unknown' CHECK (role IN ('leader', 'replica', 'unknown')),
  state        text NOT NULL DEFAULT 'unknown',
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dpg_catalog.colocation_groups (
  colocation_id       int PRIMARY KEY,
  shard_count         int NOT NULL CHECK (shard_count > 0),
  distribution_column_type regtype NOT NULL
);

CREATE TABLE dpg_catalog.tables (
  table_name          text PRIMARY KEY,
  kind                text NOT NULL CHECK (kind IN ('distributed', 'reference')),
  distribution_column text,
  colocation_id       int REFERENCES dpg_catalog.colocation_groups,
  shard_count         int NOT NULL CHECK (shard_count > 0),
  durability          text NOT NULL CHECK (durability IN ('critical', 'audit', 'ephemeral')),
  created_at          timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'distributed') = (distribution_column IS NOT NULL AND colocation_id IS NOT NULL))
);

CREATE SEQUENCE dpg_catalog.shard_id_seq START ${FIRST_SHARD_ID};

CREATE TABLE dpg_catalog.shards (
  shardid     bigint PRIMARY KEY DEFAULT nextval('dpg_catalog.shard_id_seq'),
  table_name  text NOT NULL REFERENCES dpg_catalog.tables ON DELETE CASCADE,
  shard_index int NOT NULL,
  -- Inclusive int32 range of hashtext(distribution value); NULL for reference tables.
  hash_min    int,
  hash_max    int,
  UNIQUE (table_name, shard_index),
  CHECK (hash_min <= hash_max)
);

CREATE TABLE dpg_catalog.placements (
  placementid bigserial PRIMARY KEY,
  shardid     bigint NOT NULL REFERENCES dpg_catalog.shards ON DELETE CASCADE,
  group_id    int NOT NULL REFERENCES dpg_catalog.groups,
  UNIQUE (shardid, group_id)
);

-- Sizes and row counts as last collected from the workers (dpg refreshes them).
CREATE TABLE dpg_catalog.shard_stats (
  shardid      bigint NOT NULL REFERENCES dpg_catalog.shards ON DELETE CASCADE,
  group_id     int NOT NULL REFERENCES dpg_catalog.groups,
  size_bytes   bigint NOT NULL,
  row_count    bigint NOT NULL,
  collected_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shardid, group_id)
);

-- Two-phase commit decisions: a distributed transaction whose row exists here is
-- committed; its prepared parts are committed by the coordinator or, after a crash,
-- by the recovery loop. A prepared part without a row is rolled back.
CREATE TABLE dpg_catalog.commit_records (
  gid         text PRIMARY KEY,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE VIEW dpg_catalog.group_leaders AS
  SELECT DISTINCT ON (group_id) group_id, node_id, host, port
  FROM dpg_catalog.nodes
  ORDER BY group_id, (role = 'leader') DESC, node_id;

CREATE VIEW public.citus_shards AS
  SELECT t.table_name::regclass AS table_name,
         s.shardid,
         t.table_name || '_' || s.shardid AS shard_name,
         CASE t.kind WHEN 'distributed' THEN 'distributed' ELSE 'reference' END AS citus_table_type,
         coalesce(t.colocation_id, 0) AS colocation_id,
         l.host AS nodename,
         l.port AS nodeport,
         coalesce(st.size_bytes, 0) AS shard_size
  FROM dpg_catalog.shards s
  JOIN dpg_catalog.tables t USING (table_name)
  JOIN dpg_catalog.placements p USING (shardid)
  JOIN dpg_catalog.group_leaders l USING (group_id)
  LEFT JOIN dpg_catalog.shard_stats st ON st.shardid = s.shardid AND st.group_id = p.group_id;

CREATE VIEW public.pg_dist_shard AS
  SELECT t.table_name::regclass AS logicalrelid,
         s.shardid,
         't'::"char" AS shardstorage,
         s.hash_min::text AS shardminvalue,
         s.hash_max::text AS shardmaxvalue
  FROM dpg_catalog.shards s JOIN dpg_catalog.tables t USING (table_name);

CREATE VIEW public.pg_dist_placement AS
  SELECT p.placementid, p.shardid, 1 AS shardstate, coalesce(st.size_bytes, 0) AS shardlength, p.group_id AS groupid
  FROM dpg_catalog.placements p
  LEFT JOIN dpg_catalog.shard_stats st USING (shardid, group_id);

CREATE VIEW public.pg_dist_node AS
  SELECT n.node_id AS nodeid, n.group_id AS groupid, n.host AS nodename, n.port AS nodeport,
         CASE n.role WHEN 'leader' THEN 'primary' ELSE 'secondary' END AS noderole,
         n.state = 'running' AS isactive, g.name AS nodecluster
  FROM dpg_catalog.nodes n JOIN dpg_catalog.groups g USING (group_id);

CREATE VIEW public.pg_dist_partition AS
  SELECT t.table_name::regclass AS logicalrelid,
         CASE t.kind WHEN 'distributed' THEN 'h' ELSE 'n' END::"char" AS partmethod,
         t.distribution_column AS partkey,
         coalesce(t.colocation_id, 0) AS colocationid,
         CASE t.kind WHEN 'distributed' THEN 's' ELSE 't' END::"char" AS repmodel
  FROM dpg_catalog.tables t;
`;
var CATALOG_UPGRADE_SQL = `
-- A two-phase commit's decision row is also written by a recovery loop that gives up on
-- a transaction (committed = false) before it rolls the parts back: whichever insert of
-- the gid comes first decides, so a commit record that comes late cannot commit parts
-- a recovery loop has rolled back.
ALTER TABLE dpg_catalog.commit_records ADD COLUMN IF NOT EXISTS committed boolean NOT NULL DEFAULT true;

CREATE TABLE IF NOT EXISTS dpg_catalog.vector_namespaces (
  table_name      text NOT NULL REFERENCES dpg_catalog.tables ON DELETE CASCADE,
  namespace       text NOT NULL,
  shardid         bigint NOT NULL REFERENCES dpg_catalog.shards ON DELETE CASCADE,
  row_count       bigint NOT NULL,
  tier            text NOT NULL DEFAULT 'exact' CHECK (tier IN ('exact', 'promoting', 'hnsw', 'split')),
  index_names     text[] NOT NULL DEFAULT '{}',
  m               int,
  ef_construction int,
  counted_at      timestamptz NOT NULL DEFAULT now(),
  tier_changed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (table_name, namespace)
);

-- The seed's hyperbolic mapping (catalog/hyperbolic.ts) beside Citus' hash ranges.
ALTER TABLE dpg_catalog.tables ADD COLUMN IF NOT EXISTS distribution_method text NOT NULL DEFAULT 'hash'
  CHECK (distribution_method IN ('hash', 'hyperbolic'));
ALTER TABLE dpg_catalog.colocation_groups ADD COLUMN IF NOT EXISTS distribution_method text NOT NULL DEFAULT 'hash'
  CHECK (distribution_method IN ('hash', 'hyperbolic'));

-- Scheduled maintenance (src/maintenance): one row per job and scheduled minute, so that
-- of several coordinators exactly one runs it (the one whose INSERT wins).
CREATE TABLE IF NOT EXISTS dpg_catalog.maintenance_runs (
  job           text NOT NULL,
  scheduled_for timestamptz NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  result        text NOT NULL DEFAULT 'running' CHECK (result IN ('running', 'ok', 'failed')),
  detail        text,
  PRIMARY KEY (job, scheduled_for)
);

-- Shard moves (src/rebalance): one row per move of a shard group (the shards of one index
-- of a co-location group) from one worker group to another, with the step it reached, so
-- that an interrupted move can be resumed or rolled back. Its state is also the decision
-- of the cutover's two-phase commit: a source transaction prepared as dpg_move_<id>
-- commits once the state is 'cleanup' or 'done', and is rolled back otherwise.
CREATE TABLE IF NOT EXISTS dpg_catalog.shard_moves (
  move_id        bigserial PRIMARY KEY,
  colocation_id  int NOT NULL,
  shard_index    int NOT NULL,
  shard_ids      bigint[] NOT NULL,
  -- No foreign keys: the history outlives a group dpg remove-group took away.
  source_group   int NOT NULL,
  target_group   int NOT NULL,
  state          text NOT NULL DEFAULT 'setup'
                 CHECK (state IN ('setup', 'copying', 'catching-up', 'cutover', 'cleanup', 'done', 'rolling-back', 'rolled-back')),
  rows_total     bigint,
  bytes_total    bigint,
  pause_ms       double precision,
  detail         text,
  started_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz
);
-- Indexes the source got during the move (a namespace's own HNSW index), found at the
-- cutover and built on the target by the cleanup.
ALTER TABLE dpg_catalog.shard_moves ADD COLUMN IF NOT EXISTS late_indexes text[] NOT NULL DEFAULT '{}';
-- A split (dpg split-shard) is recorded the same way: its source and target group are the
-- shard's group, new_shard_ids[k] (per table, in the order of shard_ids) the pieces, and
-- split_points the last hash of every piece but the last.
ALTER TABLE dpg_catalog.shard_moves ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'move' CHECK (kind IN ('move', 'split'));
ALTER TABLE dpg_catalog.shard_moves ADD COLUMN IF NOT EXISTS new_shard_ids bigint[];
ALTER TABLE dpg_catalog.shard_moves ADD COLUMN IF NOT EXISTS split_points int[];
-- A merge (dpg merge-shards, alter_distributed_table(shard_count := N)) of adjacent shard
-- groups on one worker group into one: shard_ids holds every merged shard, new_shard_ids
-- one shard per table, split_points none.
ALTER TABLE dpg_catalog.shard_moves DROP CONSTRAINT IF EXISTS shard_moves_kind_check;
ALTER TABLE dpg_catalog.shard_moves ADD CONSTRAINT shard_moves_kind_check CHECK (kind IN ('move', 'split', 'merge'));

CREATE OR REPLACE VIEW public.dpg_shard_moves AS
  SELECT m.move_id, m.shard_ids, m.source_group, m.target_group, m.state, m.rows_total, m.bytes_total, m.pause_ms,
         m.detail, m.started_at, m.updated_at, m.finished_at, m.finished_at - m.started_at AS duration,
         m.kind, m.new_shard_ids, m.split_points
  FROM dpg_catalog.shard_moves m;
-- One unfinished move, split or merge per shard at a time: checked by claimShards
-- (src/rebalance/move-catalog.ts) under a lock of the table, by shard ids, since a split
-- or merge changes the shard indexes of the shard groups after it.
DROP INDEX IF EXISTS dpg_catalog.shard_moves_one_active;

-- Bumped whenever reference tables gain or lose a placement (dpg add-group, remove-group).
-- A transaction that wrote a reference table commits only if the epoch is still the one
-- its coordinator routed the write with (executor/transaction.ts): a write routed to the
-- old set of groups is rolled back and runs again on the new one.
CREATE TABLE IF NOT EXISTS dpg_catalog.reference_epoch (
  one   boolean PRIMARY KEY DEFAULT true CHECK (one),
  epoch bigint NOT NULL
);
INSERT INTO dpg_catalog.reference_epoch (epoch) VALUES (1) ON CONFLICT DO NOTHING;

-- The shell of a distributed or reference table on the control group holds no rows (they
-- live on the worker groups). A statement the coordinator does not route (SQL inside a
-- function or DO block runs where it is called, the control group for a SELECT f()) would
-- insert into the shell, where no read looks, or update and delete nothing while
-- reporting success: refused instead (SHELL_TRIGGER).
CREATE OR REPLACE FUNCTION dpg_catalog.refuse_shell_write() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
    MESSAGE = format('%I is a distributed or reference table: its rows live on the worker groups, but this %s ran on the control group, unrouted (inside a function or DO block); run it through the coordinator as a statement of its own', TG_TABLE_NAME, TG_OP);
END
$fn$;



CREATE OR REPLACE VIEW public.dpg_maintenance AS
  SELECT job, scheduled_for, started_at, finished_at, finished_at - started_at AS duration, result, detail
  FROM dpg_catalog.maintenance_runs;

CREATE OR REPLACE VIEW public.dpg_namespaces AS
  SELECT v.table_name, v.namespace, v.shardid, v.row_count, v.tier, v.index_names, v.m, v.ef_construction,
         v.counted_at, v.tier_changed_at
  FROM dpg_catalog.vector_namespaces v;
`;
var SHELL_TRIGGER = "dpg_shell_rows";
function shellTriggerSql(table2) {
  return `CREATE OR REPLACE TRIGGER ${SHELL_TRIGGER} BEFORE INSERT OR UPDATE OR DELETE ON public.${quoteIdentifier(table2)} FOR EACH STATEMENT EXECUTE FUNCTION dpg_catalog.refuse_shell_write()`;
}

// src/cluster/connect.ts
import pg from "pg";

// src/cluster/patroni.ts
import { mkdirSync as mkdirSync2, writeFileSync as writeFileSync3, chownSync, existsSync as existsSync5, copyFileSync, chmodSync as chmodSync2, readFileSync as readFileSync4 } from "node:fs";
import { join as join3 } from "node:path";
import { stringify as toYaml } from "yaml";

// src/cluster/etcd-auth.ts
var ETCD_PATRONI_USER = "dpg-patroni";
var ETCD_COORDINATOR_USER = "dpg-coordinator";
var ETCD_PREFIX = "/dpg/";
function etcdLogins(secrets) {
  return {
    root: { user: "root", password: secrets.etcdRootPassword },
    patroni: { user: ETCD_PATRONI_USER, password: secrets.etcdPatroniPassword },
    coordinator: { user: ETCD_COORDINATOR_USER, password: secrets.etcdCoordinatorPassword }
  };
}
async function ensureEtcdAuth(endpoint, secrets, enable) {
  const logins = etcdLogins(secrets);
  let token = null;
  try {
    token = await etcdToken(endpoint, logins.root);
  } catch (error) {
    throw new EtcdAuthError(`etcd at ${endpoint} has authentication on, and the cluster's root password does not open it: ${error.message}`);
  }
  const on = token !== null;
  const tolerate = async (path, body, already) => {
    try {
      await etcdCall(endpoint, path, body, token);
    } catch (error) {
      if (!already.test(error.message)) throw error;
    }
  };
  for (const login of Object.values(logins)) {
    await tolerate("auth/user/add", { name: login.user, password: login.password }, /already exists/);
    const current2 = on ? await etcdToken(endpoint, login).then(() => true, () => false) : false;
    if (!current2 && login !== logins.root) await etcdCall(endpoint, "auth/user/changepw", { name: login.user, password: login.password }, token);
  }
  await tolerate("auth/user/grant", { user: "root", role: "root" }, /already/);
  const grants = [
    [ETCD_PATRONI_USER, "READWRITE"],
    [ETCD_COORDINATOR_USER, "READ"]
  ];
  for (const [user, permType] of grants) {
    await tolerate("auth/role/add", { name: user }, /already exists/);
    await etcdCall(endpoint, "auth/role/grant", { name: user, perm: { permType, key: b64(ETCD_PREFIX), range_end: prefixEnd(ETCD_PREFIX) } }, token);
    await tolerate("auth/user/grant", { user, role: user }, /already/);
  }
  if (!on && enable) await etcdCall(endpoint, "auth/enable", {});
  return on || enable;
}

// src/cluster/secrets.ts
import { chmodSync, existsSync as existsSync2, readFileSync as readFileSync2, writeFileSync } from "node:fs";
import { createHmac as createHmac2, randomBytes as randomBytes3 } from "node:crypto";
var INTERNAL_ROLE = "dpg_coordinator";
var CLIENTS_ROLE = "dpg_clients";
var generate = () => randomBytes3(18).toString("base64url");
function loadOrCreateSecrets(file) {
  const existing = existsSync2(file) ? JSON.parse(readFileSync2(file, "utf8")) : null;
  const secrets = {
    superuserPassword: existing?.superuserPassword ?? generate(),
    replicationPassword: existing?.replicationPassword ?? generate(),
    appUser: existing?.appUser ?? "dpg_cluster",
    appPassword: existing?.appPassword ?? generate(),
    redisPassword: existing?.redisPassword ?? generate(),
    coordinatorPassword: existing?.coordinatorPassword ?? generate(),
    nodeSecret: existing?.nodeSecret ?? generate(),
    patroniPassword: existing?.patroniPassword ?? generate(),
    etcdRootPassword: existing?.etcdRootPassword ?? generate(),
    etcdPatroniPassword: existing?.etcdPatroniPassword ?? generate(),
    etcdCoordinatorPassword: existing?.etcdCoordinatorPassword ?? generate(),
    userPasswords: existing?.userPasswords ?? {}
  };
  if (!existing || Object.keys(secrets).some((key) => !(key in existing))) saveSecrets(file, secrets);
  return secrets;
}
function saveSecrets(file, secrets) {
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 384 });
  chmodSync(file, 384);
}
function readSecrets(file) {
  return existsSync2(file) ? JSON.parse(readFileSync2(file, "utf8")) : null;
}
function nodePassword(secrets, role) {
  if (role === INTERNAL_ROLE) return secrets.coordinatorPassword;
  return createHmac2("sha256", secrets.nodeSecret).update(`node-password\0${role}`).digest("base64url");
}
function clientUsers(users, secrets, file) {
  let generated = false;
  const out2 = users.map((user) => {
    let password = user.password ?? (user.name === secrets.appUser ? secrets.appPassword : secrets.userPasswords[user.name]);
    if (password === void 0) {
      password = generate();
      secrets.userPasswords[user.name] = password;
      generated = true;
    }
    return { name: user.name, password, namespaces: user.namespaces, admin: user.admin };
  });
  if (generated && file) saveSecrets(file, secrets);
  return out2;
}
function clientUrl(user, host, port, database) {
  return `postgresql://${encodeURIComponent(user.name)}:${encodeURIComponent(user.password)}@${host}:${port}/${database}`;
}
function userUrl(users, secrets, file, host, port, database, name) {
  const all = clientUsers(users, secrets, file);
  const user = name === void 0 ? all.find((u) => u.admin) ?? all[0] : all.find((u) => u.name === name);
  if (!user) throw new UnknownUserError(`no user ${JSON.stringify(name)} in the config (users: ${all.map((u) => u.name).join(", ")})`);
  return clientUrl(user, host, port, database);
}
var UnknownUserError = class extends Error {
};
var PATRONI_REST_USER = "dpg";
function patroniAuthorization(secrets) {
  return { authorization: `Basic ${Buffer.from(`${PATRONI_REST_USER}:${secrets.patroniPassword}`).toString("base64")}` };
}

// src/cluster/postgres-binaries.ts
import { existsSync as existsSync3 } from "node:fs";
import { join } from "node:path";
var POSTGRES_MAJOR = 15;
function postgresBinDir(major = POSTGRES_MAJOR) {
  return `/usr/lib/postgresql/${major}/bin`;
}
function postgresBinary(name, major = POSTGRES_MAJOR) {
  return join(postgresBinDir(major), name);
}
function postgresInstalled(major = POSTGRES_MAJOR) {
  return existsSync3(postgresBinary("postgres", major)) && existsSync3(postgresBinary("initdb", major));
}

// src/cluster/processes.ts
import { spawn } from "node:child_process";
import { openSync, closeSync, readFileSync as readFileSync3, writeFileSync as writeFileSync2, existsSync as existsSync4, rmSync, mkdirSync, readdirSync } from "node:fs";
import { dirname as dirname2, join as join2 } from "node:path";
import { createServer as createServer2 } from "node:net";
function startDetached(runDir, options) {
  mkdirSync(dirname2(options.logFile), { recursive: true });
  mkdirSync(runDir, { recursive: true });
  const log = openSync(options.logFile, "a");
  try {
    const child = spawn(options.command, options.args, {
      detached: true,
      stdio: ["ignore", log, log],
      uid: options.uid,
      gid: options.gid,
      env: options.env ?? process.env,
      cwd: options.cwd
    });
    if (child.pid === void 0) throw new Error(`could not start ${options.command}`);
    child.unref();
    const record = {
      name: options.name,
      pid: child.pid,
      command: options.command,
      args: options.args,
      marker: options.marker,
      startedAt: (/* @__PURE__ */ new Date()).toISOString()
    };
    writeFileSync2(pidFile(runDir, options.name), JSON.stringify(record, null, 2));
    return record;
  } finally {
    closeSync(log);
  }
}
function pidFile(runDir, name) {
  return join2(runDir, `${name}.json`);
}
function readProcessRecord(runDir, name) {
  const file = pidFile(runDir, name);
  if (!existsSync4(file)) return null;
  try {
    return JSON.parse(readFileSync3(file, "utf8"));
  } catch {
    return null;
  }
}
function listProcessRecords(runDir) {
  if (!existsSync4(runDir)) return [];
  return readdirSync(runDir).filter((f) => f.endsWith(".json")).map((f) => readProcessRecord(runDir, f.slice(0, -5))).filter((r) => r !== null && typeof r.name === "string" && Number.isInteger(r.pid));
}
function forgetProcess(runDir, name) {
  rmSync(pidFile(runDir, name), { force: true });
}
function isAlive(pid, marker) {
  try {
    const stat = readFileSync3(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false;
    if (marker === void 0) return true;
    const cmdline = readFileSync3(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
    return cmdline.includes(marker);
  } catch {
    return false;
  }
}
var sleep = (ms2) => new Promise((r) => setTimeout(r, ms2));
async function stopPid(pid, marker, signal, timeoutMs) {
  if (!isAlive(pid, marker)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid, marker)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        return;
      }
      const killDeadline = Date.now() + 5e3;
      while (isAlive(pid, marker) && Date.now() < killDeadline) await sleep(50);
      return;
    }
    await sleep(50);
  }
}
function pidsWithMarker(marker) {
  const pids = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    if (isAlive(pid, marker)) pids.push(pid);
  }
  return pids;
}
function postmasterPid(pgDataDir) {
  try {
    const pid = Number(readFileSync3(join2(pgDataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
async function portIsFree(port, host = "127.0.0.1") {
  return new Promise((resolve3) => {
    const server = createServer2();
    server.once("error", () => resolve3(false));
    server.listen(port, host, () => server.close(() => resolve3(true)));
  });
}
async function waitFor(what2, timeoutMs, probe, intervalMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (; ; ) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${Math.round(timeoutMs / 1e3)} s waiting for ${what2}${lastError ? ` (last error: ${String(lastError)})` : ""}`);
    }
    await sleep(intervalMs);
  }
}

// src/cluster/patroni.ts
var PATRONI_BINARY = "/usr/bin/patroni";
function patroniProcessName(node) {
  return `patroni-${node.name}`;
}
function patroniNamespace(clusterId) {
  return `/dpg/${clusterId}/`;
}
function patroniConfig(config, layout, group, node, clusterId, secrets) {
  const hosts = layout.faultProxy ? [`${node.host}:${node.proxyEtcdPort}`] : layout.etcd.endpoints.map((e) => e.replace(/^https?:\/\//, ""));
  return {
    scope: group.name,
    namespace: patroniNamespace(clusterId),
    name: node.name,
    // Unsafe endpoints (restart, reload, reinitialize, switchover, config changes) ask for a password.
    restapi: { listen: `${node.host}:${node.restPort}`, connect_address: `${node.host}:${node.restPort}`, authentication: { username: PATRONI_REST_USER, password: secrets.patroniPassword } },
    ctl: { authentication: { username: PATRONI_REST_USER, password: secrets.patroniPassword } },
    // use_proxies: Patroni talks to the hosts given, not to the members etcd advertises (the fault proxy's port must not be bypassed).
    // etcd with authentication on (cluster/etcd-auth.ts): Patroni's user reads and writes dpg's keys only.
    etcd3: { ...layout.faultProxy ? { hosts, use_proxies: true } : { hosts }, username: ETCD_PATRONI_USER, password: secrets.etcdPatroniPassword },
    bootstrap: {
      dcs: {
        ttl: config.patroni.ttl,
        loop_wait: config.patroni.loop_wait,
        retry_timeout: config.patroni.retry_timeout,
        maximum_lag_on_failover: 1024 * 1024,
        // With synchronous_mode a commit on the primary waits for a standby (when one is
        // streaming), and Patroni only promotes a standby that was synchronous.
        synchronous_mode: config.replication.synchronous_mode && group.nodes.length > 1,
        // Shard moves (src/rebalance) replicate a shard through a logical slot of their own;
        // Patroni would drop a slot it does not manage the next time it reads the slot list.
        ignore_slots: LOGICAL_SLOTS_IGNORED,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: {
            ...config.postgres.parameters,
            // logical: shard moves copy a shard to another group by logical replication.
            wal_level: "logical",
            hot_standby: "on",
            wal_log_hints: "on",
            // pgvector's settings (hnsw.ef_search, ...) exist from the start, so SET validates them.
            shared_preload_libraries: "vector"
          }
        }
      },
      initdb: [{ encoding: "UTF8" }, { locale: "C.UTF-8" }, "data-checksums"]
    },
    postgresql: {
      listen: `${node.host}:${node.pgPort}`,
      connect_address: `${node.host}:${node.pgPort}`,
      data_dir: node.pgDataDir,
      bin_dir: postgresBinDir(),
      pgpass: `${node.dir}/pgpass`,
      authentication: {
        superuser: { username: "postgres", password: secrets.superuserPassword },
        replication: { username: "replicator", password: secrets.replicationPassword },
        rewind: { username: "postgres", password: secrets.superuserPassword }
      },
      parameters: {
        unix_socket_directories: node.dir,
        logging_collector: "on",
        log_directory: "log",
        log_filename: "postgresql.log",
        log_min_messages: "warning",
        password_encryption: "scram-sha-256",
        // Coordinators reach nodes over TLS, verified against the cluster's node CA (certificates.ts).
        ssl: "on",
        ssl_cert_file: `${node.dir}/server.crt`,
        ssl_key_file: `${node.dir}/server.key`,
        ssl_min_protocol_version: "TLSv1.2"
      },
      // Per role: the superuser (Patroni, dpg's tools), the coordinator's own role, and the
      // client roles (group dpg_clients), whose node passwords only coordinators know.
      // Anything else is refused (no line matches).
      pg_hba: [
        "local all all peer",
        `host replication replicator 127.0.0.1/32 scram-sha-256`,
        `host all postgres,${INTERNAL_ROLE} 127.0.0.1/32 scram-sha-256`,
        `host all +${CLIENTS_ROLE} 127.0.0.1/32 scram-sha-256`
      ]
    },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false }
  };
}
function writePatroniConfig(file, node, user, certificates) {
  mkdirSync2(node.dir, { recursive: true, mode: 448 });
  chownSync(node.dir, user.uid, user.gid);
  for (const [from, name, mode] of [[certificates.cert, "server.crt", 420], [certificates.key, "server.key", 384]]) {
    const to = join3(node.dir, name);
    copyFileSync(from, to);
    chmodSync2(to, mode);
    chownSync(to, user.uid, user.gid);
  }
  writeFileSync3(node.patroniConfig, toYaml(file), { mode: 384 });
  chownSync(node.patroniConfig, user.uid, user.gid);
  if (existsSync5(node.logFile)) chownSync(node.logFile, user.uid, user.gid);
}
function startPatroni(runDir, node, user) {
  return startDetached(runDir, {
    name: patroniProcessName(node),
    // Debian's patroni is a Python script for Debian's interpreter (/usr/bin/python3).
    command: PATRONI_BINARY,
    args: [node.patroniConfig],
    logFile: node.logFile,
    marker: node.patroniConfig,
    uid: user.uid,
    gid: user.gid,
    cwd: node.dir,
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: node.dir, LANG: "C.UTF-8", LC_ALL: "C.UTF-8" }
  });
}
async function patroniClusterView(node, timeoutMs = 1e3) {
  try {
    const response = await fetch(`http://${node.host}:${node.restPort}/cluster`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return null;
    const body = await response.json();
    return body.members ?? null;
  } catch {
    return null;
  }
}
async function patroniNodeState(node, timeoutMs = 1e3) {
  try {
    const response = await fetch(`http://${node.host}:${node.restPort}/patroni`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await response.json();
    return body.state ?? null;
  } catch {
    return null;
  }
}
async function groupMembers(group) {
  for (const node of group.nodes) {
    const members2 = await patroniClusterView(node);
    if (members2) return members2;
  }
  return null;
}
var LOGICAL_SLOTS_IGNORED = [{ type: "logical" }];
async function enableLogicalDecoding(groups, secrets, log, timeoutMs = 12e4) {
  const changed = [];
  for (const group of groups) {
    const node = group.nodes[0];
    const base = `http://${node.host}:${node.restPort}`;
    const current2 = await (await fetch(`${base}/config`, { signal: AbortSignal.timeout(5e3) })).json();
    if (current2.postgresql?.parameters?.wal_level === "logical" && current2.ignore_slots) continue;
    const patch = await fetch(`${base}/config`, {
      method: "PATCH",
      headers: { "content-type": "application/json", ...patroniAuthorization(secrets) },
      body: JSON.stringify({ postgresql: { parameters: { wal_level: "logical" } }, ignore_slots: LOGICAL_SLOTS_IGNORED }),
      signal: AbortSignal.timeout(5e3)
    });
    if (!patch.ok) throw new Error(`group ${group.name}: Patroni refused the config change (${patch.status} ${await patch.text()})`);
    log(`group ${group.name}: wal_level logical (for shard moves); restarting its PostgreSQL`);
    const members2 = await groupMembers(group) ?? [];
    const ordered = [...group.nodes].sort((a, b) => Number(members2.find((m) => m.name === a.name)?.role === "leader") - Number(members2.find((m) => m.name === b.name)?.role === "leader"));
    for (const member of ordered) {
      const url = `http://${member.host}:${member.restPort}`;
      const deadline = Date.now() + timeoutMs;
      for (; ; ) {
        const state = await (await fetch(`${url}/patroni`, { signal: AbortSignal.timeout(5e3) })).json();
        if (state.pending_restart) break;
        if (Date.now() > deadline) throw new Error(`${member.name}: Patroni did not take the new wal_level within ${timeoutMs / 1e3} s`);
        await new Promise((resolve3) => setTimeout(resolve3, 500));
      }
      const restart = await fetch(`${url}/restart`, {
        method: "POST",
        headers: { "content-type": "application/json", ...patroniAuthorization(secrets) },
        body: JSON.stringify({ restart_pending: true }),
        signal: AbortSignal.timeout(timeoutMs)
      });
      if (!restart.ok) throw new Error(`${member.name}: restart failed (${restart.status} ${await restart.text()})`);
    }
    changed.push(group.name);
  }
  return changed;
}
function patroniConfigCurrent(node, file) {
  try {
    return readFileSync4(node.patroniConfig, "utf8") === toYaml(file);
  } catch {
    return false;
  }
}
async function reloadPatroni(node, secrets) {
  try {
    const response = await fetch(`http://${node.host}:${node.restPort}/reload`, { method: "POST", headers: patroniAuthorization(secrets), signal: AbortSignal.timeout(5e3) });
    return response.ok;
  } catch {
    return false;
  }
}

// src/cluster/connect.ts
async function connectNode(node, secrets, database = "postgres") {
  const client = new pg.Client({
    host: node.host,
    port: node.pgPort,
    user: "postgres",
    password: secrets.superuserPassword,
    database,
    connectionTimeoutMillis: 5e3,
    application_name: "dpg-admin"
  });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {
    });
    throw error;
  }
  return client;
}
async function groupLeader(group) {
  const members2 = await groupMembers(group);
  const leader = members2?.find((m) => m.role === "leader" && m.state === "running");
  return leader ? group.nodes.find((n) => n.name === leader.name) ?? null : null;
}
async function withClient(client, work) {
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {
    });
  }
}

// src/rebalance/admin.ts
var quoteIdent = (value) => `"${value.replace(/"/g, '""')}"`;
var quoteLiteral2 = (value) => `'${value.replace(/'/g, "''")}'`;
function groupLayout(admin, groupId) {
  const group = admin.layout.groups.find((g) => g.id === groupId);
  if (!group) throw new ClientError("22023", `there is no group ${groupId} in this cluster (groups: ${admin.layout.groups.map((g) => g.id).join(", ")})`);
  return group;
}
async function primaryNode(admin, groupId, waitMs = 3e4) {
  const group = groupLayout(admin, groupId);
  const deadline = Date.now() + waitMs;
  for (; ; ) {
    const leader = await groupLeader(group);
    if (leader) return leader;
    if (Date.now() > deadline) throw new ClientError("08006", `group ${group.name} has no primary; see 'npx dpg status'`);
    await new Promise((resolve3) => setTimeout(resolve3, 500));
  }
}
async function connectPrimary(admin, groupId) {
  const node = await primaryNode(admin, groupId);
  const client = await connectNode(node, admin.secrets, admin.database);
  client.on("error", () => {
  });
  return client;
}
async function onPrimary(admin, groupId, work) {
  const client = await connectPrimary(admin, groupId);
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {
    });
  }
}

// src/rebalance/shard-split.ts
function equalSplitPoints(min, max, pieces) {
  const width2 = (max - min + 1) / pieces;
  return Array.from({ length: pieces - 1 }, (_, i) => Math.floor(min + width2 * (i + 1)) - 1);
}
async function requirePrimaryKeys(control, colocationId, what2) {
  const keyless = await control.query(
    `SELECT t.table_name FROM dpg_catalog.tables t WHERE t.colocation_id = $1
     AND NOT EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = to_regclass('public.' || quote_ident(t.table_name)) AND x.indisprimary) ORDER BY 1`,
    [colocationId]
  );
  if (keyless.rows.length > 0) {
    throw new ClientError("0A000", `${keyless.rows.map((r) => r.table_name).join(", ")} has no primary key; a ${what2} finds a piece's rows by it. Add one, or move the shard instead`);
  }
}
async function hashRange(control, shardId) {
  const shard = (await control.query(`SELECT s.hash_min, s.hash_max, t.distribution_method, t.table_name FROM dpg_catalog.shards s JOIN dpg_catalog.tables t USING (table_name) WHERE s.shardid = $1`, [shardId])).rows[0];
  if (shard.distribution_method !== "hash") throw new ClientError("0A000", `${shard.table_name} is distributed by radius (hyperbolic): its shards are levels, not hash ranges, and cannot be split or merged`);
  return { min: Number(shard.hash_min), max: Number(shard.hash_max), table: shard.table_name };
}
async function newShardIds(control, count2) {
  const result = await control.query(`SELECT nextval('dpg_catalog.shard_id_seq')::text AS id FROM generate_series(1, $1)`, [count2]);
  return result.rows.map((r) => r.id);
}
async function createSplit(control, shardId, points) {
  return claimShards(control, async () => {
    const group = await shardGroupOf(control, shardId);
    const { min, max } = await hashRange(control, shardId);
    if (min === max) throw new ClientError("22023", `shard ${shardId} owns one hash value (${min}); it cannot be split`);
    const splitPoints = points ?? equalSplitPoints(min, max, 2);
    if (splitPoints.length === 0) throw new ClientError("22023", `a split of shard ${shardId} needs at least one split point`);
    splitPoints.forEach((point, i) => {
      if (!Number.isInteger(point) || point < min || point >= max || i > 0 && point <= splitPoints[i - 1]) {
        throw new ClientError("22023", `split point ${point} is not valid for shard ${shardId}: split points are increasing integers from ${min} to ${max - 1} (its hash range is [${min}, ${max}])`);
      }
    });
    await requirePrimaryKeys(control, group.colocationId, "split");
    const ids = await newShardIds(control, group.shardIds.length * (splitPoints.length + 1));
    const inserted = await control.query(
      `INSERT INTO dpg_catalog.shard_moves (kind, colocation_id, shard_index, shard_ids, source_group, target_group, new_shard_ids, split_points)
       VALUES ('split', $1, $2, $3::bigint[], $4, $4, $5::bigint[], $6::int[]) RETURNING move_id`,
      [group.colocationId, group.shardIndex, group.shardIds, group.groupId, ids, splitPoints]
    );
    return { id: Number(inserted.rows[0].move_id), shardIds: group.shardIds };
  });
}
async function createMerge(control, shardIds) {
  return claimShards(control, async () => {
    if (shardIds.length < 2) throw new ClientError("22023", `a merge needs at least two shards, got ${shardIds.length}`);
    const groups = [];
    for (const id of shardIds) groups.push(await shardGroupOf(control, id));
    await hashRange(control, shardIds[0]);
    groups.sort((a, b) => a.shardIndex - b.shardIndex);
    const first = groups[0];
    for (const [i, group] of groups.entries()) {
      if (group.colocationId !== first.colocationId) throw new ClientError("22023", `shards ${shardIds.join(", ")} are not co-located: only shards of one co-location group merge`);
      if (i > 0 && group.shardIndex === groups[i - 1].shardIndex) throw new ClientError("22023", `shards ${shardIds.join(", ")} name shard index ${group.shardIndex} twice (co-located shards merge together)`);
      if (i > 0 && group.shardIndex !== groups[i - 1].shardIndex + 1) {
        throw new ClientError("22023", `shards ${shardIds.join(", ")} do not have adjacent hash ranges (shard indexes ${groups.map((g) => g.shardIndex).join(", ")}); a merged shard owns one contiguous range`);
      }
      if (group.groupId !== first.groupId) {
        throw new ClientError("22023", `shards ${shardIds.join(", ")} are on different worker groups (${groups.map((g) => g.groupId).join(", ")}); move them to one group first (npx dpg move-shard)`);
      }
    }
    await requirePrimaryKeys(control, first.colocationId, "merge");
    const members2 = first.shardIds.flatMap((_, t) => groups.map((g) => g.shardIds[t]));
    const ids = await newShardIds(control, first.shardIds.length);
    const inserted = await control.query(
      `INSERT INTO dpg_catalog.shard_moves (kind, colocation_id, shard_index, shard_ids, source_group, target_group, new_shard_ids, split_points)
       VALUES ('merge', $1, $2, $3::bigint[], $4, $4, $5::bigint[], '{}') RETURNING move_id`,
      [first.colocationId, first.shardIndex, members2, first.groupId, ids]
    );
    return { id: Number(inserted.rows[0].move_id), shardIds: members2 };
  });
}

// src/catalog/catalog-reader.ts
var CATALOG_CHANNEL = "dpg_catalog_changed";
async function readCatalogSnapshot(control, version) {
  const groups = await control.query(
    "SELECT group_id, name, kind FROM dpg_catalog.groups ORDER BY group_id"
  );
  const tables2 = await control.query("SELECT table_name, kind, distribution_column, distribution_method, colocation_id, shard_count, durability FROM dpg_catalog.tables");
  const shards = await control.query(
    `SELECT s.table_name, s.shardid::text, s.shard_index, s.hash_min, s.hash_max, array_agg(p.group_id ORDER BY p.group_id) AS groups
     FROM dpg_catalog.shards s JOIN dpg_catalog.placements p USING (shardid)
     GROUP BY 1, 2, 3, 4, 5 ORDER BY s.table_name, s.shard_index`
  );
  const byTable = /* @__PURE__ */ new Map();
  for (const t of tables2.rows) {
    byTable.set(t.table_name, {
      name: t.table_name,
      kind: t.kind,
      distributionColumn: t.distribution_column,
      distributionMethod: t.distribution_method,
      colocationId: t.colocation_id,
      shardCount: t.shard_count,
      durability: t.durability,
      shards: []
    });
  }
  for (const s of shards.rows) {
    byTable.get(s.table_name)?.shards.push({
      shardId: s.shardid,
      index: s.shard_index,
      hashMin: s.hash_min,
      hashMax: s.hash_max,
      groupIds: s.groups
    });
  }
  for (const table2 of byTable.values()) {
    if (table2.kind !== "distributed" || table2.distributionMethod !== "hash") continue;
    const equal = shardRanges(table2.shardCount);
    table2.uniformRanges = table2.shards.length === equal.length && table2.shards.every((s, i) => s.hashMin === equal[i].min && s.hashMax === equal[i].max);
  }
  const nodes = await control.query(
    "SELECT name, group_id, host, port, patroni_port FROM dpg_catalog.nodes ORDER BY node_id"
  );
  const nodeInfos = nodes.rows.map((n) => ({ name: n.name, groupId: n.group_id, host: n.host, port: n.port, patroniPort: n.patroni_port }));
  const groupInfos = groups.rows.map((g) => ({ id: g.group_id, name: g.name, kind: g.kind }));
  const tiers = await control.query(
    "SELECT table_name, namespace, tier, row_count, index_names FROM dpg_catalog.vector_namespaces WHERE tier <> 'exact' OR index_names <> '{}'"
  );
  const namespaces = tiers.rows.map((t) => {
    const shards2 = byTable.get(t.table_name)?.shards ?? [];
    const indexedShards = t.index_names.map((name) => shards2.find((s) => name.startsWith(`dpg_ns_${s.shardId}_`))?.index).filter((i) => i !== void 0);
    return { table: t.table_name, namespace: t.namespace, tier: t.tier, rows: Number(t.row_count), indexedShards };
  });
  const epoch = await control.query("SELECT epoch::text FROM dpg_catalog.reference_epoch");
  return new CatalogSnapshot([...byTable.values()], groupInfos, nodeInfos, version, namespaces, Number(epoch.rows[0]?.epoch ?? 1));
}

// src/rebalance/shard-ddl.ts
async function readShardTable(client, name) {
  const relation = await client.query(
    `SELECT c.oid, c.relpersistence, c.relreplident, pg_get_userbyid(c.relowner) AS owner, c.relrowsecurity AS rls, c.relforcerowsecurity AS force_rls,
            EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND (x.indisprimary OR x.indisreplident)) AS identity_index
     FROM pg_class c WHERE c.oid = to_regclass($1)`,
    [`public.${quoteIdent(name)}`]
  );
  const row = relation.rows[0];
  if (!row) return null;
  const columns = await client.query(
    `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, pg_get_expr(d.adbin, d.adrelid) AS def, a.attgenerated
     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [row.oid]
  );
  const constraints = await client.query(
    `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1 AND contype IN ('p', 'u', 'x', 'c') ORDER BY oid`,
    [row.oid]
  );
  const indexes = await client.query(
    `SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS def FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
     WHERE x.indrelid = $1 AND x.indisvalid AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
     ORDER BY x.indexrelid`,
    [row.oid]
  );
  const primaryKey = await client.query(
    `SELECT a.attname FROM pg_index x CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
     JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
     WHERE x.indrelid = $1 AND x.indisprimary ORDER BY k.n`,
    [row.oid]
  );
  const definitions = columns.rows.map((c) => {
    let definition = `${quoteIdent(c.attname)} ${c.type}`;
    if (c.attgenerated === "s") definition += ` GENERATED ALWAYS AS (${c.def}) STORED`;
    else if (c.def !== null) definition += ` DEFAULT ${c.def}`;
    if (c.attnotnull) definition += " NOT NULL";
    return definition;
  });
  for (const constraint of constraints.rows) definitions.push(`CONSTRAINT ${quoteIdent(constraint.conname)} ${constraint.def}`);
  const unlogged = row.relpersistence === "u";
  const table2 = `public.${quoteIdent(name)}`;
  const grants = await client.query(
    `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS grantee, a.privilege_type, a.is_grantable
     FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a WHERE c.oid = $1 AND a.grantee <> c.relowner ORDER BY 1, 2`,
    [row.oid]
  );
  const policies = await client.query(
    `SELECT policyname AS name, permissive, roles::text[] AS roles, cmd, qual, with_check FROM pg_policies WHERE schemaname = 'public' AND tablename = $1 ORDER BY policyname`,
    [name]
  );
  const access = [`ALTER TABLE ${table2} OWNER TO ${quoteIdent(row.owner)}`];
  for (const g of grants.rows) access.push(`GRANT ${g.privilege_type} ON ${table2} TO ${g.grantee}${g.is_grantable ? " WITH GRANT OPTION" : ""}`);
  if (row.rls) access.push(`ALTER TABLE ${table2} ENABLE ROW LEVEL SECURITY`);
  if (row.force_rls) access.push(`ALTER TABLE ${table2} FORCE ROW LEVEL SECURITY`);
  for (const p of policies.rows) {
    const roles = p.roles.map((r) => r === "public" ? "PUBLIC" : quoteIdent(r)).join(", ");
    access.push(
      `CREATE POLICY ${quoteIdent(p.name)} ON ${table2} AS ${p.permissive} FOR ${p.cmd} TO ${roles}${p.qual !== null ? ` USING (${p.qual})` : ""}${p.with_check !== null ? ` WITH CHECK (${p.with_check})` : ""}`
    );
  }
  return {
    owner: row.owner,
    access,
    name,
    unlogged,
    primaryKey: primaryKey.rows.map((r) => r.attname),
    insertColumns: columns.rows.filter((c) => c.attgenerated !== "s").map((c) => c.attname),
    hasReplicaIdentity: row.relreplident === "f" || row.relreplident !== "n" && row.identity_index,
    createTable: `CREATE ${unlogged ? "UNLOGGED " : ""}TABLE public.${quoteIdent(name)} (
  ${definitions.join(",\n  ")}
)`,
    indexes: new Map(indexes.rows.map((i) => [i.name, i.def]))
  };
}
async function existingTables(client, names) {
  const result = await client.query(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname = ANY($1)`,
    [names]
  );
  return result.rows.map((r) => r.relname);
}
async function indexNames(client, table2) {
  const result = await client.query(
    `SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = to_regclass($1)`,
    [`public.${quoteIdent(table2)}`]
  );
  return new Set(result.rows.map((r) => r.relname));
}
var dropTablesSql = (names) => `DROP TABLE IF EXISTS ${names.map((n) => `public.${quoteIdent(n)}`).join(", ")}`;
var retiredName = (shardTable) => `dpg_retired_${/_(\d+)$/.exec(shardTable)?.[1] ?? shardTable}`;
var retireTablesSql = (names) => names.map((n) => `ALTER TABLE public.${quoteIdent(n)} RENAME TO ${quoteIdent(retiredName(n))}`).join("; ");

// src/rebalance/replication-objects.ts
async function dropReplicationObjects(source, target, name) {
  const subscription = await target.query("SELECT oid::text FROM pg_subscription WHERE subname = $1", [name]);
  const subscriptionOid = subscription.rows[0]?.oid ?? null;
  if (subscriptionOid) {
    try {
      await target.query(`DROP SUBSCRIPTION ${name}`);
    } catch {
      await target.query(`ALTER SUBSCRIPTION ${name} DISABLE`);
      await target.query(`ALTER SUBSCRIPTION ${name} SET (slot_name = NONE)`);
      await target.query(`DROP SUBSCRIPTION ${name}`);
    }
  }
  await dropSlots(source, name, subscriptionOid);
  await source.query(`DROP PUBLICATION IF EXISTS ${name}`);
}
async function dropSlots(source, name, subscriptionOid) {
  const pattern = subscriptionOid ? `pg\\_${subscriptionOid}\\_sync\\_%` : null;
  const deadline = Date.now() + 15e3;
  for (; ; ) {
    const slots = await source.query(
      `SELECT slot_name, active_pid FROM pg_replication_slots WHERE slot_name = $1 OR ($2::text IS NOT NULL AND slot_name LIKE $2)`,
      [name, pattern]
    );
    if (slots.rows.length === 0) return;
    for (const slot of slots.rows) {
      if (slot.active_pid !== null) {
        await source.query("SELECT pg_terminate_backend($1)", [slot.active_pid]);
        continue;
      }
      await source.query("SELECT pg_drop_replication_slot($1)", [slot.slot_name]).catch((error) => {
        if (!["42704", "55006"].includes(error.code ?? "")) throw error;
      });
    }
    if (Date.now() > deadline) throw new Error(`could not drop replication slot ${name} on the source: still in use`);
    await new Promise((resolve3) => setTimeout(resolve3, 100));
  }
}
async function preparedExists(client, gid) {
  return (await client.query(`SELECT 1 FROM pg_prepared_xacts WHERE gid = ${quoteLiteral2(gid)} AND database = current_database()`)).rows.length > 0;
}
async function dropStaleStandbySlots(admin, groupId) {
  const primary = await primaryNode(admin, groupId);
  for (const node of groupLayout(admin, groupId).nodes.filter((n) => n.name !== primary.name)) {
    let client;
    try {
      client = await connectNode(node, admin.secrets, admin.database);
      client.on("error", () => {
      });
    } catch (error) {
      admin.log(`could not reach standby ${node.name} to drop stale move slots there (${error.message}); they are dropped by the next move's cleanup`);
      continue;
    }
    try {
      const slots = await client.query(
        `SELECT slot_name FROM pg_replication_slots WHERE slot_type = 'logical' AND pg_is_in_recovery() AND (slot_name LIKE 'dpg\\_move\\_%' OR slot_name LIKE 'pg\\_%\\_sync\\_%')`
      );
      for (const slot of slots.rows) {
        await client.query("SELECT pg_drop_replication_slot($1)", [slot.slot_name]);
        admin.log(`dropped stale replication slot ${slot.slot_name} on standby ${node.name}`);
      }
    } finally {
      await client.end().catch(() => {
      });
    }
  }
}

// src/rebalance/move-options.ts
var sleep2 = (ms2) => new Promise((resolve3) => setTimeout(resolve3, ms2));
function crashPoint(name) {
  if (process.env.DPG_FAULT_INJECTION === "1" && process.env.DPG_MOVE_CRASH_AT === name) process.kill(process.pid, "SIGKILL");
}

// src/rebalance/copy-rows.ts
var batchRows = (width2) => Math.max(1, Math.min(500, Math.floor(6e4 / Math.max(1, width2))));
var RAW_TEXT = { getTypeParser: () => (value) => value };
async function copyTableRows(source, target, table2) {
  const relation = `public.${quoteIdent(table2.name)}`;
  const columns = table2.insertColumns.map(quoteIdent).join(", ");
  await target.query(`TRUNCATE ${relation}`);
  const cursor = `dpg_move_copy_${table2.name}`;
  await source.query(`DECLARE ${quoteIdent(cursor)} NO SCROLL CURSOR FOR SELECT ${columns} FROM ${relation}`);
  let copied = 0;
  try {
    for (; ; ) {
      const batch = await source.query({ text: `FETCH ${batchRows(table2.insertColumns.length)} FROM ${quoteIdent(cursor)}`, rowMode: "array", types: RAW_TEXT });
      if (batch.rows.length === 0) break;
      const width2 = table2.insertColumns.length;
      const values = batch.rows.map((_, r) => `(${table2.insertColumns.map((__, c) => `$${r * width2 + c + 1}`).join(", ")})`).join(", ");
      await target.query(`INSERT INTO ${relation} (${columns}) VALUES ${values}`, batch.rows.flat());
      copied += batch.rows.length;
    }
  } finally {
    await source.query(`CLOSE ${quoteIdent(cursor)}`).catch(() => {
    });
  }
  return copied;
}

// src/rebalance/cutover.ts
var CutoverRetry = class extends Error {
};
var CATCH_UP_BYTES = 256 * 1024;
async function lagBelow(source, slot, bytes, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const lag = await source.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 AS lag FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
    if (lag.rows.length === 0 || Number(lag.rows[0].lag) <= bytes) return;
    await sleep2(100);
  }
}
async function cutover(admin, control, move, options) {
  const name = moveObjectName(move.id);
  const attempts = options.cutoverAttempts ?? 20;
  const source = await connectPrimary(admin, move.sourceGroup);
  const monitor = await connectPrimary(admin, move.sourceGroup);
  const target = await connectPrimary(admin, move.targetGroup);
  try {
    if (await preparedExists(source, name)) await source.query(`ROLLBACK PREPARED ${quoteLiteral2(name)}`);
    const definitions = [];
    for (const table2 of move.tables) {
      const definition = await readShardTable(source, table2);
      if (!definition) throw new ClientError("XX000", `shard table ${table2} is missing on its group ${move.sourceGroup} during the cutover of move ${move.id}`);
      definitions.push(definition);
    }
    const hasSubscription = definitions.some((d) => !d.unlogged);
    let late = [];
    for (let attempt = 1; ; attempt++) {
      let locked = 0;
      try {
        await lockAgainstWrites(admin, source, move.tables, options);
        locked = performance.now();
        crashPoint("cutover-locked");
        if (hasSubscription) {
          const lsn = (await source.query("SELECT pg_current_wal_insert_lsn()::text AS lsn")).rows[0].lsn;
          const deadline = Date.now() + (options.cutoverWaitMs ?? 1e3);
          for (; ; ) {
            const slot = await monitor.query(`SELECT confirmed_flush_lsn >= $2::pg_lsn AS caught_up FROM pg_replication_slots WHERE slot_name = $1`, [name, lsn]);
            if (slot.rows.length === 0) throw new ClientError("XX000", `move ${move.id}: the replication slot disappeared during the cutover`);
            if (slot.rows[0].caught_up) break;
            if (Date.now() > deadline) throw new CutoverRetry(`the subscription did not confirm ${lsn} within ${options.cutoverWaitMs ?? 1e3} ms`);
            await sleep2(2);
          }
          await target.query(`BEGIN; SET LOCAL synchronous_commit = remote_apply; SELECT pg_logical_emit_message(true, 'dpg_move', '${move.id}'); COMMIT`);
        }
        for (const definition of definitions.filter((d) => d.unlogged)) await copyTableRows(source, target, definition);
        late = [];
        for (const definition of definitions) {
          const present = await indexNames(target, definition.name);
          for (const [index, sql] of definition.indexes) if (!present.has(index)) late.push(sql);
        }
        await source.query(retireTablesSql(move.tables));
        await source.query(`PREPARE TRANSACTION ${quoteLiteral2(name)}`);
        crashPoint("cutover-prepared");
      } catch (error) {
        await source.query("ROLLBACK").catch(() => {
        });
        const gaveWay = ["55P03", "40P01"].includes(error.code ?? "");
        if (!(error instanceof CutoverRetry || gaveWay) || attempt >= attempts) throw error;
        admin.log(`move ${move.id}: cutover attempt ${attempt} gave way (${error.message}); trying again`);
        await sleep2(200 * attempt);
        if (error instanceof CutoverRetry) await lagBelow(monitor, name, options.catchUpBytes ?? CATCH_UP_BYTES, 6e4);
        continue;
      }
      const switched = await switchCatalog(admin, control, move, performance.now() - locked, late);
      crashPoint("cutover-switched");
      const pauseMs = await finishPrepared(control, source, move, switched, locked);
      admin.log(`move ${move.id}: cut over to group ${move.targetGroup}; writes paused ${pauseMs.toFixed(0)} ms`);
      return;
    }
  } finally {
    for (const client of [source, monitor, target]) await client.end().catch(() => {
    });
  }
}
async function switchCatalog(admin, control, move, pauseSoFar, lateIndexes) {
  try {
    await control.query("BEGIN");
    if (!await advance(control, move.id, "cutover", "cleanup")) {
      await control.query("ROLLBACK");
      return false;
    }
    await control.query(`UPDATE dpg_catalog.placements SET group_id = $2 WHERE shardid = ANY ($1::bigint[]) AND group_id = $3`, [move.shardIds, move.targetGroup, move.sourceGroup]);
    await control.query(`DELETE FROM dpg_catalog.shard_stats WHERE shardid = ANY ($1::bigint[])`, [move.shardIds]);
    await control.query("UPDATE dpg_catalog.shard_moves SET pause_ms = $2, late_indexes = $3 WHERE move_id = $1", [move.id, pauseSoFar, lateIndexes]);
    await control.query(`NOTIFY ${CATALOG_CHANNEL}`);
    await control.query("COMMIT");
    return true;
  } catch (error) {
    await control.query("ROLLBACK").catch(() => {
    });
    const state = await onPrimary(admin, 0, async (fresh) => (await loadMove(fresh, move.id)).state).catch(() => null);
    if (state === "cleanup" || state === "done") return true;
    throw error;
  }
}
async function lockAgainstWrites(admin, source, tables2, options) {
  await source.query("BEGIN");
  await source.query(`SET LOCAL lock_timeout = ${options.lockTimeoutMs ?? 2e3}`);
  await source.query("SET LOCAL deadlock_timeout = 100");
  await source.query(`SET LOCAL ROLE ${quoteIdent(INTERNAL_ROLE)}`);
  await source.query(`LOCK TABLE ${tables2.map((t) => `public.${quoteIdent(t)}`).join(", ")} IN EXCLUSIVE MODE`);
}
async function finishPrepared(control, source, move, switched, lockedAt) {
  const gid = moveObjectName(move.id);
  if (!switched) {
    await source.query(`ROLLBACK PREPARED ${quoteLiteral2(gid)}`).catch(() => {
    });
    throw new ClientError("40001", `${move.kind} ${move.id} was rolled back by another process during its cutover`);
  }
  await source.query(`COMMIT PREPARED ${quoteLiteral2(gid)}`);
  const pauseMs = performance.now() - lockedAt;
  await control.query("UPDATE dpg_catalog.shard_moves SET pause_ms = $2 WHERE move_id = $1", [move.id, pauseMs]);
  return pauseMs;
}

// src/rebalance/reshard.ts
var BATCH_ROWS = 2e3;
var pieceName = (table2, shardId) => `${table2}_${shardId}`;
var functionName = (id, member) => `dpg_split_${id}_${member}`;
var triggerName = (id) => `dpg_split_${id}`;
function pieceRanges(min, max, points) {
  const bounds = [min - 1, ...points, max];
  return points.map((_, i) => i).concat(points.length).map((i) => ({ min: bounds[i] + 1, max: bounds[i + 1] }));
}
async function members(control, source, move) {
  const shards = await control.query(`SELECT shardid::text AS id, hash_min, hash_max FROM dpg_catalog.shards WHERE shardid = ANY ($1::bigint[])`, [move.shardIds]);
  const range = new Map(shards.rows.map((r) => [r.id, { min: Number(r.hash_min), max: Number(r.hash_max) }]));
  const tables2 = [...new Set(move.members.map((m) => m.table).filter(Boolean))];
  const pieceCount = move.splitPoints.length + 1;
  const result = [];
  for (const [index, member] of move.members.entries()) {
    if (!member.table) continue;
    const own = range.get(member.shardId);
    if (!own) throw new ClientError("XX000", `shard ${member.shardId} of ${move.kind} ${move.id} is missing from the catalog`);
    const definition = await readShardTable(source, `${member.table}_${member.shardId}`);
    if (!definition) throw new ClientError("XX000", `shard table ${member.table}_${member.shardId} is missing on group ${move.sourceGroup}`);
    if (definition.primaryKey.length === 0) throw new ClientError("0A000", `${member.table} has no primary key; a ${move.kind} finds a piece's rows by it. Add one, or move the shard instead`);
    const column2 = (await control.query("SELECT distribution_column FROM dpg_catalog.tables WHERE table_name = $1", [member.table])).rows[0].distribution_column;
    const siblings = move.members.filter((m) => m.table === member.table).map((m) => range.get(m.shardId));
    const whole = { min: Math.min(...siblings.map((r) => r.min)), max: Math.max(...siblings.map((r) => r.max)) };
    const t = tables2.indexOf(member.table);
    const pieces = pieceRanges(whole.min, whole.max, move.splitPoints).map((r, p) => {
      const shardId = move.newShardIds[t * pieceCount + p];
      return { shardId, name: pieceName(member.table, shardId), ...r };
    });
    result.push({
      index,
      table: member.table,
      shard: definition.name,
      shardId: member.shardId,
      ...own,
      pieces: pieces.filter((p) => p.max >= own.min && p.min <= own.max),
      definition,
      distributionColumn: column2,
      first: move.members.findIndex((m) => m.table === member.table) === index
    });
  }
  return result;
}
function piecesOf(list) {
  const seen = /* @__PURE__ */ new Map();
  for (const member of list) {
    for (const piece of member.pieces) if (!seen.has(piece.shardId)) seen.set(piece.shardId, { piece, maker: list.find((m) => m.first && m.table === member.table) });
  }
  return [...seen.values()];
}
var renamed = (sql, oldId, newId) => sql.replace(new RegExp(`_${oldId}(?!\\d)`, "g"), `_${newId}`);
function triggerFunctionSql(id, member) {
  const column2 = quoteIdent(member.distributionColumn);
  const key = member.definition.primaryKey.map(quoteIdent);
  const columns = member.definition.insertColumns.map(quoteIdent);
  const branch = (action) => member.pieces.length === 1 ? `${action(member.pieces[0])};` : member.pieces.map((piece, i) => `${i === 0 ? "IF" : "ELSIF"} h <= ${piece.max} THEN ${action(piece)};`).join("\n      ") + "\n      END IF;";
  const truncate = member.pieces.map(
    (p) => p.min >= member.min && p.max <= member.max ? `TRUNCATE public.${quoteIdent(p.name)};` : `DELETE FROM public.${quoteIdent(p.name)} WHERE hashtext(${column2}::text) BETWEEN ${member.min} AND ${member.max};`
  );
  return `CREATE OR REPLACE FUNCTION public.${functionName(id, member.index)}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE h int;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    ${truncate.join("\n    ")}
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    h := hashtext(OLD.${column2}::text);
      ${branch((p) => `DELETE FROM public.${quoteIdent(p.name)} WHERE (${key.join(", ")}) = (${key.map((k) => `OLD.${k}`).join(", ")})`)}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    h := hashtext(NEW.${column2}::text);
      ${branch((p) => `INSERT INTO public.${quoteIdent(p.name)} (${columns.join(", ")}) VALUES (${columns.map((c) => `NEW.${c}`).join(", ")}) ON CONFLICT DO NOTHING`)}
  END IF;
  RETURN NULL;
END
$fn$`;
}
var idOf = (member) => member.shard.slice(member.table.length + 1);
var what = (move) => `${move.kind} ${move.id}`;
async function reshardSetup(admin, control, move) {
  await onPrimary(admin, move.sourceGroup, async (source) => {
    const list = await members(control, source, move);
    await dropReshardObjects(source, move, list);
    await source.query("SET lock_timeout = 5000");
    for (const { piece, maker } of piecesOf(list)) {
      await source.query(renamed(maker.definition.createTable, idOf(maker), piece.shardId));
      for (const sql of maker.definition.access) await source.query(renamed(sql, idOf(maker), piece.shardId));
    }
    await source.query(`SET ROLE ${quoteIdent(list[0].definition.owner)}`);
    for (const member of list) {
      await source.query(triggerFunctionSql(move.id, member));
      const relation = `public.${quoteIdent(member.shard)}`;
      await source.query(`CREATE TRIGGER ${triggerName(move.id)} AFTER INSERT OR UPDATE OR DELETE ON ${relation} FOR EACH ROW EXECUTE FUNCTION public.${functionName(move.id, member.index)}()`);
      await source.query(`CREATE TRIGGER ${triggerName(move.id)}_truncate AFTER TRUNCATE ON ${relation} FOR EACH STATEMENT EXECUTE FUNCTION public.${functionName(move.id, member.index)}()`);
    }
    await source.query("RESET ROLE");
    const totals = await source.query(`SELECT ${list.map((m) => `(SELECT count(*) FROM public.${quoteIdent(m.shard)})`).join(" + ")} AS rows, ${list.map((m) => `pg_total_relation_size(${quoteLiteral2(`public.${quoteIdent(m.shard)}`)})`).join(" + ")} AS bytes`);
    await control.query("UPDATE dpg_catalog.shard_moves SET rows_total = $2, bytes_total = $3 WHERE move_id = $1", [move.id, totals.rows[0].rows, totals.rows[0].bytes]);
  });
  const pieces = move.splitPoints.length + 1;
  admin.log(move.kind === "merge" ? `${what(move)}: shards ${move.shardIds.join(", ")} into one per table; copying` : `${what(move)}: shards ${move.shardIds.join(", ")} into ${pieces} pieces each; copying`);
  await advance(control, move.id, "setup", "copying");
}
async function reshardCopy(admin, control, move, options) {
  const source = await connectPrimary(admin, move.sourceGroup);
  try {
    const list = await members(control, source, move);
    let copied = 0;
    for (const member of list) {
      const key = member.definition.primaryKey.map(quoteIdent);
      const columns = member.definition.insertColumns.map(quoteIdent).join(", ");
      for (const piece of member.pieces) {
        let last = null;
        for (; ; ) {
          const after = last ? `AND (${key.join(", ")}) > (${key.map((_, i) => `$${i + 1}`).join(", ")})` : "";
          const batch = await source.query({
            text: `WITH batch AS (
                     SELECT ${columns} FROM public.${quoteIdent(member.shard)}
                     WHERE hashtext(${quoteIdent(member.distributionColumn)}::text) BETWEEN ${piece.min} AND ${piece.max} ${after}
                     ORDER BY ${key.join(", ")} LIMIT ${BATCH_ROWS} FOR SHARE),
                   copied AS (INSERT INTO public.${quoteIdent(piece.name)} (${columns}) SELECT ${columns} FROM batch ON CONFLICT DO NOTHING)
                   SELECT ${key.join(", ")}, (SELECT count(*) FROM batch) AS n FROM batch ORDER BY ${key.map((k) => `${k} DESC`).join(", ")} LIMIT 1`,
            values: last ?? [],
            rowMode: "array",
            types: { getTypeParser: () => (value) => value }
          });
          const row = batch.rows[0];
          if (!row) break;
          copied += Number(row[key.length]);
          last = row.slice(0, key.length);
          options.onProgress?.({ phase: "copy", done: Math.min(copied, move.rowsTotal ?? copied), total: move.rowsTotal ?? copied, unit: "rows" });
          crashPoint("split-copying");
          if (Number(row[key.length]) < BATCH_ROWS) break;
        }
      }
    }
    const statements = [];
    for (const { piece, maker } of piecesOf(list)) {
      const present = await indexNames(source, piece.name);
      for (const [name, sql] of maker.definition.indexes) {
        if (name.startsWith("dpg_ns_")) continue;
        const pieceSql = renamed(sql, idOf(maker), piece.shardId);
        const pieceIndex = /^CREATE (?:UNIQUE )?INDEX (\S+) /.exec(pieceSql)?.[1]?.replace(/"/g, "");
        if (pieceIndex && !present.has(pieceIndex)) statements.push(pieceSql);
      }
    }
    await source.query(`SET maintenance_work_mem = ${quoteLiteral2(admin.indexBuildMemory)}`);
    for (const [i, sql] of statements.entries()) {
      options.onProgress?.({ phase: "index", done: i, total: statements.length, unit: "indexes" });
      await source.query(sql.replace(/^CREATE (UNIQUE )?INDEX /, "CREATE $1INDEX CONCURRENTLY "));
    }
    options.onProgress?.({ phase: "index", done: statements.length, total: statements.length, unit: "indexes" });
  } finally {
    await source.end().catch(() => {
    });
  }
  await advance(control, move.id, "copying", "cutover");
}
async function reshardCutover(admin, control, move, options) {
  const gid = `dpg_move_${move.id}`;
  const source = await connectPrimary(admin, move.sourceGroup);
  try {
    if (await preparedExists(source, gid)) await source.query(`ROLLBACK PREPARED ${quoteLiteral2(gid)}`);
    const list = await members(control, source, move);
    let locked = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        await lockAgainstWrites(admin, source, list.map((m) => m.shard), options);
        locked = performance.now();
        await source.query(retireTablesSql(list.map((m) => m.shard)));
        await source.query(`PREPARE TRANSACTION ${quoteLiteral2(gid)}`);
        crashPoint("split-prepared");
        break;
      } catch (error) {
        await source.query("ROLLBACK").catch(() => {
        });
        if (!["55P03", "40P01"].includes(error.code ?? "") || attempt >= (options.cutoverAttempts ?? 20)) throw error;
        await new Promise((resolve3) => setTimeout(resolve3, 200 * attempt));
      }
    }
    let switched = false;
    try {
      await control.query("BEGIN");
      switched = await advance(control, move.id, "cutover", "cleanup");
      if (switched) await replaceShardsInCatalog(control, move, list);
      await control.query(switched ? "COMMIT" : "ROLLBACK");
    } catch (error) {
      await control.query("ROLLBACK").catch(() => {
      });
      throw error;
    }
    const pauseMs = await finishPrepared(control, source, move, switched, locked);
    admin.log(`${what(move)}: cut over; writes paused ${pauseMs.toFixed(0)} ms`);
  } finally {
    await source.end().catch(() => {
    });
  }
}
async function replaceShardsInCatalog(control, move, list) {
  const tables2 = [...new Set(list.map((m) => m.table))];
  const indexes = (await control.query(`SELECT min(shard_index) AS first, max(shard_index) AS last FROM dpg_catalog.shards WHERE shardid = ANY ($1::bigint[])`, [move.shardIds])).rows[0];
  const first = Number(indexes.first);
  const last = Number(indexes.last);
  const pieces = move.splitPoints.length + 1;
  const delta = pieces - (last - first + 1);
  await control.query("DELETE FROM dpg_catalog.shards WHERE shardid = ANY ($1::bigint[])", [move.shardIds]);
  await control.query(`UPDATE dpg_catalog.shards SET shard_index = -1 - (shard_index + $3) WHERE table_name = ANY ($1) AND shard_index > $2`, [tables2, last, delta]);
  await control.query(`UPDATE dpg_catalog.shards SET shard_index = -1 - shard_index WHERE table_name = ANY ($1) AND shard_index < 0`, [tables2]);
  for (const { piece, maker } of piecesOf(list)) {
    const p = move.newShardIds.indexOf(piece.shardId) % pieces;
    await control.query(`INSERT INTO dpg_catalog.shards (shardid, table_name, shard_index, hash_min, hash_max) VALUES ($1, $2, $3, $4, $5)`, [piece.shardId, maker.table, first + p, piece.min, piece.max]);
    await control.query("INSERT INTO dpg_catalog.placements (shardid, group_id) VALUES ($1, $2)", [piece.shardId, move.sourceGroup]);
  }
  await control.query("UPDATE dpg_catalog.tables SET shard_count = shard_count + $2 WHERE table_name = ANY ($1)", [tables2, delta]);
  await control.query("UPDATE dpg_catalog.colocation_groups SET shard_count = shard_count + $2 WHERE colocation_id = $1", [move.colocationId, delta]);
  await control.query(`NOTIFY ${CATALOG_CHANNEL}`);
}
async function reshardCleanup(admin, control, move) {
  const gid = `dpg_move_${move.id}`;
  await onPrimary(admin, move.sourceGroup, async (source) => {
    if (await preparedExists(source, gid)) await source.query(`COMMIT PREPARED ${quoteLiteral2(gid)}`);
    await source.query(dropTablesSql(move.members.map((m) => retiredName(`${m.table}_${m.shardId}`))));
    for (const [index] of move.members.entries()) await source.query(`DROP FUNCTION IF EXISTS public.${functionName(move.id, index)}()`);
  });
  admin.log(`${what(move)}: done`);
  await advance(control, move.id, "cleanup", "done");
}
async function reshardRollBack(admin, control, move) {
  const gid = `dpg_move_${move.id}`;
  await onPrimary(admin, move.sourceGroup, async (source) => {
    if (await preparedExists(source, gid)) await source.query(`ROLLBACK PREPARED ${quoteLiteral2(gid)}`);
    await dropReshardObjects(source, move, await members(control, source, move));
  });
  admin.log(`${what(move)}: rolled back; shards ${move.shardIds.join(", ")} stay as they were`);
  await advance(control, move.id, "rolling-back", "rolled-back");
}
async function dropReshardObjects(source, move, list) {
  for (const member of list) {
    await source.query(`DROP TRIGGER IF EXISTS ${triggerName(move.id)} ON public.${quoteIdent(member.shard)}`);
    await source.query(`DROP TRIGGER IF EXISTS ${triggerName(move.id)}_truncate ON public.${quoteIdent(member.shard)}`);
    await source.query(`DROP FUNCTION IF EXISTS public.${functionName(move.id, member.index)}()`);
  }
  await source.query(dropTablesSql(piecesOf(list).map(({ piece }) => piece.name)));
}

// src/rebalance/move-steps.ts
async function setup(admin, control, move) {
  const name = moveObjectName(move.id);
  const sourceNode = await primaryNode(admin, move.sourceGroup);
  await onPrimary(
    admin,
    move.sourceGroup,
    (source) => onPrimary(admin, move.targetGroup, async (target) => {
      const walLevel = (await source.query("SHOW wal_level")).rows[0].wal_level;
      if (walLevel !== "logical") {
        throw new ClientError("55000", `group ${move.sourceGroup} runs with wal_level ${walLevel}; shard moves need logical. Run 'npx dpg up' once: it switches the cluster to logical (restarting PostgreSQL)`);
      }
      await dropReplicationObjects(source, target, name);
      await target.query(dropTablesSql(move.tables));
      const definitions = [];
      for (const table2 of move.tables) {
        const definition = await readShardTable(source, table2);
        if (!definition) throw new ClientError("XX000", `shard table ${table2} is missing on its group ${move.sourceGroup}`);
        definitions.push(definition);
      }
      const totals = await source.query(
        `SELECT ${definitions.map((d) => `(SELECT count(*) FROM public.${quoteIdent(d.name)})`).join(" + ")} AS rows,
                ${definitions.map((d) => `pg_total_relation_size(${quoteLiteral2(`public.${quoteIdent(d.name)}`)})`).join(" + ")} AS bytes`
      );
      for (const definition of definitions) {
        await target.query(definition.createTable);
        for (const sql of definition.access) await target.query(sql);
      }
      const logged = definitions.filter((d) => !d.unlogged);
      for (const definition of logged.filter((d) => !d.hasReplicaIdentity)) {
        for (const client of [source, target]) await client.query(`ALTER TABLE public.${quoteIdent(definition.name)} REPLICA IDENTITY FULL`);
      }
      if (logged.length > 0) {
        await source.query(`CREATE PUBLICATION ${name} FOR TABLE ${logged.map((d) => `public.${quoteIdent(d.name)}`).join(", ")}`);
        const conninfo = `host=${sourceNode.host} port=${sourceNode.pgPort} dbname=${admin.database} user=postgres password=${admin.secrets.superuserPassword} application_name=${name}`;
        await target.query(
          `CREATE SUBSCRIPTION ${name} CONNECTION ${quoteLiteral2(conninfo)} PUBLICATION ${name} WITH (slot_name = ${quoteLiteral2(name)}, copy_data = true, synchronous_commit = 'local')`
        );
      }
      await control.query(`UPDATE dpg_catalog.shard_moves SET rows_total = $2, bytes_total = $3 WHERE move_id = $1`, [move.id, totals.rows[0].rows, totals.rows[0].bytes]);
    })
  );
  admin.log(`move ${move.id}: copying ${move.tables.join(", ")} from group ${move.sourceGroup} to group ${move.targetGroup}`);
  crashPoint("after-setup");
  await advance(control, move.id, "setup", "copying");
}
async function copy(admin, control, move, options) {
  const name = moveObjectName(move.id);
  const restart = async (why) => {
    admin.log(`move ${move.id}: ${why}; starting the copy again`);
    await advance(control, move.id, "copying", "setup", why);
  };
  const sourceCheck = await connectPrimary(admin, move.sourceGroup);
  const target = await connectPrimary(admin, move.targetGroup);
  try {
    let lastSlotCheck = 0;
    let firstErrors = null;
    for (; ; ) {
      const tables2 = await target.query(
        `SELECT r.srsubstate AS state, coalesce(p.tuples_processed, 0) AS copying, coalesce(t.n_live_tup, 0) AS live
         FROM pg_subscription s JOIN pg_subscription_rel r ON r.srsubid = s.oid
         LEFT JOIN pg_stat_progress_copy p ON p.relid = r.srrelid LEFT JOIN pg_stat_user_tables t ON t.relid = r.srrelid
         WHERE s.subname = $1`,
        [name]
      );
      if (tables2.rows.length === 0) {
        if (await hasLoggedTables(sourceCheck, move.tables)) return restart("the subscription is gone");
        break;
      }
      const done = tables2.rows.reduce((sum, r) => sum + Number(r.state === "r" || r.state === "s" ? r.live : r.copying), 0);
      options.onProgress?.({ phase: "copy", done: Math.min(done, move.rowsTotal ?? done), total: move.rowsTotal ?? done, unit: "rows" });
      if (tables2.rows.every((r) => r.state === "r")) break;
      if (Date.now() - lastSlotCheck > 2e3) {
        lastSlotCheck = Date.now();
        const slot = await sourceCheck.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [name]);
        if (slot.rows.length === 0) return restart("the replication slot is gone from the source (its primary changed?)");
        const errors = await target.query(`SELECT sync_error_count + apply_error_count AS errors FROM pg_stat_subscription_stats WHERE subname = $1`, [name]);
        const count2 = Number(errors.rows[0]?.errors ?? 0);
        firstErrors ??= count2;
        if (count2 - firstErrors >= 5) {
          throw new ClientError("XX000", `move ${move.id}: the subscription keeps failing (${count2} errors); see the PostgreSQL log of group ${move.targetGroup}'s primary. Roll it back with --rollback ${move.id}`);
        }
      }
      crashPoint("during-copy");
      await sleep2(300);
    }
    await buildIndexes(admin, move, target, options);
  } finally {
    await sourceCheck.end().catch(() => {
    });
    await target.end().catch(() => {
    });
  }
  crashPoint("after-copy");
  await advance(control, move.id, "copying", "catching-up");
}
async function hasLoggedTables(client, tables2) {
  const result = await client.query(
    `SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = ANY ($1) AND c.relpersistence = 'p'`,
    [tables2]
  );
  return result.rows.length > 0;
}
async function buildIndexes(admin, move, target, options, concurrently = false) {
  const missing = [];
  await onPrimary(admin, move.sourceGroup, async (source) => {
    for (const table2 of move.tables) {
      const definition = await readShardTable(source, table2);
      if (!definition) continue;
      const present = await indexNames(target, table2);
      for (const [name, sql] of definition.indexes) if (!present.has(name)) missing.push(sql);
    }
  });
  await buildIndexList(admin, target, missing, options, concurrently);
  return missing.length;
}
async function buildIndexList(admin, target, indexes, options, concurrently) {
  if (indexes.length === 0) return;
  await target.query(`SET maintenance_work_mem = ${quoteLiteral2(admin.indexBuildMemory)}`);
  let built = 0;
  for (const sql of indexes) {
    options.onProgress?.({ phase: "index", done: built, total: indexes.length, unit: "indexes" });
    await target.query(concurrently ? sql.replace(/^CREATE (UNIQUE )?INDEX /, "CREATE $1INDEX CONCURRENTLY ") : sql);
    built++;
  }
  options.onProgress?.({ phase: "index", done: built, total: indexes.length, unit: "indexes" });
  await target.query("RESET maintenance_work_mem");
}
async function catchUp(admin, control, move, options) {
  const name = moveObjectName(move.id);
  const threshold = options.catchUpBytes ?? CATCH_UP_BYTES;
  await onPrimary(admin, move.sourceGroup, async (source) => {
    let first = null;
    for (; ; ) {
      const slot = await source.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 AS lag FROM pg_replication_slots WHERE slot_name = $1`, [name]);
      if (slot.rows.length === 0) {
        if (await hasLoggedTables(source, move.tables)) {
          admin.log(`move ${move.id}: the replication slot is gone from the source; starting the copy again`);
          await advance(control, move.id, "catching-up", "setup", "the replication slot was lost");
          return;
        }
        break;
      }
      const lag = Math.max(0, Number(slot.rows[0].lag ?? 0));
      first ??= Math.max(lag, 1);
      crashPoint("during-catch-up");
      if (lag <= threshold) {
        options.onProgress?.({ phase: "catch-up", done: first, total: first, unit: "bytes" });
        break;
      }
      options.onProgress?.({ phase: "catch-up", done: Math.max(0, first - lag), total: first, unit: "bytes" });
      await sleep2(200);
    }
    await advance(control, move.id, "catching-up", "cutover");
  });
}
async function cleanup(admin, control, move) {
  const name = moveObjectName(move.id);
  let moved = 0;
  await onPrimary(
    admin,
    move.sourceGroup,
    (source) => onPrimary(admin, move.targetGroup, async (target) => {
      if (await preparedExists(source, name)) await source.query(`COMMIT PREPARED ${quoteLiteral2(name)}`);
      crashPoint("during-cleanup");
      await dropReplicationObjects(source, target, name);
      const late = (await control.query("SELECT late_indexes FROM dpg_catalog.shard_moves WHERE move_id = $1", [move.id])).rows[0]?.late_indexes ?? [];
      const missing = [];
      for (const sql of late) {
        const index = /^CREATE (?:UNIQUE )?INDEX (\S+) ON public\.(\S+) /.exec(sql);
        if (index && !(await indexNames(target, index[2].replace(/"/g, ""))).has(index[1].replace(/"/g, ""))) missing.push(sql);
      }
      await buildIndexList(admin, target, missing, {}, true);
      await source.query(dropTablesSql([...move.tables, ...move.tables.map(retiredName)]));
      moved = (await existingTables(target, move.tables)).length;
    })
  );
  await dropStaleStandbySlots(admin, move.sourceGroup);
  admin.log(`move ${move.id}: done (${moved} shard tables on group ${move.targetGroup}; replication objects dropped)`);
  await advance(control, move.id, "cleanup", "done");
}
async function rollBack(admin, control, move) {
  const name = moveObjectName(move.id);
  await onPrimary(
    admin,
    move.sourceGroup,
    (source) => onPrimary(admin, move.targetGroup, async (target) => {
      if (await preparedExists(source, name)) await source.query(`ROLLBACK PREPARED ${quoteLiteral2(name)}`);
      await dropReplicationObjects(source, target, name);
      const placed = await control.query(`SELECT count(*)::int AS n FROM dpg_catalog.placements WHERE shardid = ANY ($1::bigint[]) AND group_id = $2`, [move.shardIds, move.targetGroup]);
      if (placed.rows[0].n > 0) throw new ClientError("XX000", `move ${move.id}: the catalog places its shards on the target group; not dropping them there`);
      await target.query(dropTablesSql(move.tables));
    })
  );
  await dropStaleStandbySlots(admin, move.sourceGroup);
  admin.log(`move ${move.id}: rolled back; the shards stay on group ${move.sourceGroup}`);
  await advance(control, move.id, "rolling-back", "rolled-back");
}

// src/rebalance/shard-move.ts
async function withMoveLock(admin, id, work) {
  return onPrimary(admin, 0, async (control) => {
    const locked = await control.query("SELECT pg_try_advisory_lock($1, $2) AS ok", [MOVE_LOCK_CLASS, id]);
    if (!locked.rows[0].ok) throw new ClientError("55006", `shard move ${id} is being run by another process (a dpg move-shard, a rebalance, or a coordinator)`);
    return work(control);
  });
}
async function runMove(admin, id, options = {}) {
  return withMoveLock(admin, id, async (control) => {
    const steps = {};
    let retries = 0;
    for (; ; ) {
      const move = await loadMove(control, id);
      const started = performance.now();
      try {
        await runStep(admin, control, move, options);
      } catch (error) {
        if (!["40P01", "55P03"].includes(error.code ?? "") || ++retries > 5) throw error;
        admin.log(`move ${id}: ${move.state} gave way (${error.message}); trying again`);
        await sleep2(500);
        continue;
      }
      if (move.state === "done" || move.state === "rolled-back") return { move, steps };
      steps[move.state] = (steps[move.state] ?? 0) + performance.now() - started;
    }
  });
}
async function runStep(admin, control, move, options) {
  if (move.kind !== "move") return runReshardStep(admin, control, move, options);
  switch (move.state) {
    case "setup":
      await setup(admin, control, move);
      break;
    case "copying":
      await copy(admin, control, move, options);
      break;
    case "catching-up":
      await catchUp(admin, control, move, options);
      break;
    case "cutover":
      await cutover(admin, control, move, options);
      break;
    case "cleanup":
      await cleanup(admin, control, move);
      break;
    case "rolling-back":
      await rollBack(admin, control, move);
      break;
    case "done":
    case "rolled-back":
      return;
  }
}
async function rollbackMove(admin, id) {
  return withMoveLock(admin, id, async (control) => {
    const move = await loadMove(control, id);
    if (move.state === "rolled-back") return move;
    if (!await advance(control, id, BEFORE_CUTOVER, "rolling-back")) {
      const now = await loadMove(control, id);
      throw new ClientError(
        "55000",
        `shard move ${id} is past its cutover (${now.state}): its shards are on group ${move.targetGroup} now. ${now.state === "done" ? "It is finished." : `Resume it to finish the cleanup: npx dpg move-shard --resume ${id}`}`
      );
    }
    if (move.kind !== "move") await reshardRollBack(admin, control, { ...move, state: "rolling-back" });
    else await rollBack(admin, control, { ...move, state: "rolling-back" });
    return loadMove(control, id);
  });
}
async function runReshardStep(admin, control, move, options) {
  switch (move.state) {
    case "setup":
      return reshardSetup(admin, control, move);
    case "copying":
      return reshardCopy(admin, control, move, options);
    case "catching-up":
      await advance(control, move.id, "catching-up", "cutover");
      return;
    case "cutover":
      return reshardCutover(admin, control, move, options);
    case "cleanup":
      return reshardCleanup(admin, control, move);
    case "rolling-back":
      return reshardRollBack(admin, control, move);
    default:
      return;
  }
}

// src/rebalance/rebalance-plan.ts
function costOf(load3, strategy) {
  if (strategy === "by_shard_count") return 1;
  return strategy === "by_rows" ? Math.max(load3.rows, 1) : Math.max(load3.bytes, 1);
}
function planRebalance(loads, groups, options) {
  const drain2 = new Set(options.drain ?? []);
  const receivers = groups.filter((g) => !drain2.has(g));
  if (receivers.length === 0) throw new Error("no worker group is left to hold the shards");
  const placement = new Map(loads.map((l) => [`${l.colocationId}/${l.shardIndex}`, l.groupId]));
  const total = () => {
    const sums = new Map(groups.map((g) => [g, 0]));
    for (const load3 of loads) {
      const group = placement.get(`${load3.colocationId}/${load3.shardIndex}`);
      sums.set(group, (sums.get(group) ?? 0) + costOf(load3, options.strategy));
    }
    return sums;
  };
  const before = total();
  const moves = [];
  const move = (load3, targetGroup) => {
    const key = `${load3.colocationId}/${load3.shardIndex}`;
    moves.push({ shardId: load3.shardId, table: load3.table, bytes: load3.bytes, colocationId: load3.colocationId, shardIndex: load3.shardIndex, sourceGroup: placement.get(key), targetGroup, cost: costOf(load3, options.strategy) });
    placement.set(key, targetGroup);
  };
  const leastLoaded = () => {
    const sums = total();
    return receivers.reduce((best, g) => sums.get(g) < sums.get(best) ? g : best);
  };
  const draining = loads.filter((l) => drain2.has(l.groupId)).sort((a, b) => costOf(b, options.strategy) - costOf(a, options.strategy));
  for (const load3 of draining) move(load3, leastLoaded());
  while (moves.length < options.maxMoves) {
    const sums = total();
    const mean = [...receivers].reduce((sum, g) => sum + sums.get(g), 0) / receivers.length;
    if (mean <= 0) break;
    const over = receivers.reduce((best2, g) => sums.get(g) > sums.get(best2) ? g : best2);
    const under = receivers.reduce((best2, g) => sums.get(g) < sums.get(best2) ? g : best2);
    const overBy = (sums.get(over) - mean) / mean;
    const underBy = (mean - sums.get(under)) / mean;
    if (overBy <= options.threshold && underBy <= options.threshold) break;
    const gap = sums.get(over) - sums.get(under);
    const candidates = loads.filter((l) => placement.get(`${l.colocationId}/${l.shardIndex}`) === over && costOf(l, options.strategy) < gap);
    if (candidates.length === 0) break;
    const best = candidates.reduce((a, b) => Math.abs(costOf(a, options.strategy) - gap / 2) <= Math.abs(costOf(b, options.strategy) - gap / 2) ? a : b);
    move(best, under);
  }
  return { strategy: options.strategy, threshold: options.threshold, before, after: total(), moves };
}
function imbalance(sums, groups) {
  const values = groups.map((g) => sums.get(g) ?? 0);
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
  if (mean <= 0) return 0;
  return Math.max(...values.map((v) => Math.abs(v - mean) / mean));
}

// src/rebalance/rebalancer.ts
async function measureLoads(admin) {
  const { shards, groups } = await onPrimary(admin, 0, async (control) => {
    const shards2 = await control.query(
      `SELECT t.colocation_id, s.shard_index, s.shardid::text AS shardid, s.table_name, s.table_name || '_' || s.shardid AS shard_table, p.group_id
       FROM dpg_catalog.shards s JOIN dpg_catalog.tables t USING (table_name) JOIN dpg_catalog.placements p USING (shardid)
       WHERE t.kind = 'distributed' ORDER BY t.colocation_id, s.shard_index, s.table_name`
    );
    const groups2 = await control.query(`SELECT group_id FROM dpg_catalog.groups WHERE kind = 'worker' ORDER BY group_id`);
    return { shards: shards2.rows, groups: groups2.rows.map((r) => r.group_id) };
  });
  const sizes = /* @__PURE__ */ new Map();
  for (const group of groups) {
    const names = shards.filter((s) => s.group_id === group).map((s) => s.shard_table);
    if (names.length === 0) continue;
    await onPrimary(admin, group, async (worker) => {
      const result = await worker.query(
        `SELECT c.relname, pg_total_relation_size(c.oid)::float8 AS bytes, coalesce(st.n_live_tup, 0)::float8 AS rows
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid
         WHERE n.nspname = 'public' AND c.relname = ANY ($1)`,
        [names]
      );
      for (const row of result.rows) sizes.set(row.relname, { bytes: row.bytes, rows: row.rows });
    });
  }
  const byGroup = /* @__PURE__ */ new Map();
  for (const shard of shards) {
    const key = `${shard.colocation_id}/${shard.shard_index}`;
    const load3 = byGroup.get(key) ?? { colocationId: shard.colocation_id, shardIndex: shard.shard_index, shardId: shard.shardid, table: shard.table_name, groupId: shard.group_id, bytes: 0, rows: 0 };
    const size = sizes.get(shard.shard_table) ?? { bytes: 0, rows: 0 };
    load3.bytes += size.bytes;
    load3.rows += size.rows;
    byGroup.set(key, load3);
  }
  return { loads: [...byGroup.values()], groups };
}
async function rebalance(admin, options) {
  const pending = await onPrimary(admin, 0, (control) => unfinishedMoves(control));
  if (pending.length > 0 && !options.dryRun) {
    throw new ClientError("55006", `shard moves ${pending.join(", ")} have not finished; resume them (npx dpg move-shard --resume) or roll them back before rebalancing`);
  }
  const measured = await measureLoads(admin);
  const groups = measured.groups;
  const loads = options.colocationId === void 0 ? measured.loads : measured.loads.filter((l) => l.colocationId === options.colocationId);
  for (const group of options.drain ?? []) {
    if (!groups.includes(group)) throw new ClientError("22023", `group ${group} is not a worker group of this cluster (worker groups: ${groups.join(", ")})`);
  }
  const plan = planRebalance(loads, groups, { strategy: options.strategy, threshold: options.threshold, maxMoves: options.maxMoves, drain: options.drain });
  const results = [];
  if (options.dryRun) return { plan, results };
  for (const [index, planned] of plan.moves.entries()) {
    options.onMove?.(index, plan);
    const id = await onPrimary(admin, 0, (control) => createMove(control, planned.shardId, planned.targetGroup, planned.sourceGroup));
    results.push(await runMove(admin, id, options.moveOptions?.(index)));
  }
  return { plan, results };
}
async function scheduledRebalance(admin, options) {
  const { plan, results } = await rebalance(admin, { strategy: options.strategy, threshold: admin.threshold, maxMoves: options.maxMoves });
  const groups = [...plan.before.keys()];
  const before = imbalance(plan.before, groups).toFixed(2);
  if (results.length === 0) return `balanced (${options.strategy}: imbalance ${before}, threshold ${admin.threshold})`;
  const moves = results.map((r) => `shard ${r.move.shardIds[0]} ${r.move.sourceGroup}->${r.move.targetGroup}`).join(", ");
  return `${results.length} move(s) (${moves}); ${options.strategy} imbalance ${before} -> ${imbalance(plan.after, groups).toFixed(2)}`;
}

// src/executor/function-results.ts
var VOID = 2278;
var INT8 = 20;
var INT4 = 23;
var TEXT = 25;
var SIZES = { [VOID]: 4, [INT8]: 8, [INT4]: 4, [TEXT]: -1 };
var COLUMNS = {
  get_rebalance_table_shards_plan: [
    ["table_name", TEXT],
    ["shardid", INT8],
    ["shard_size", INT8],
    ["sourcename", TEXT],
    ["sourceport", INT4],
    ["targetname", TEXT],
    ["targetport", INT4]
  ],
  citus_rebalance_start: [["citus_rebalance_start", INT8]]
};
function functionResultFields(name) {
  const columns = COLUMNS[name] ?? [[name, VOID]];
  return columns.map(([column2, typeOid]) => ({ name: column2, tableOid: 0, columnAttribute: 0, typeOid, typeSize: SIZES[typeOid], typeModifier: -1, format: 0 }));
}
function functionResult(name, rows) {
  return new LocalResultStream(`SELECT ${rows.length}`, encodeRowDescription(functionResultFields(name)), rows.map((row) => encodeDataRow(row)));
}
function voidResult(name) {
  return functionResult(name, [[""]]);
}

// src/executor/rebalance-functions.ts
function requireAdminUser(ctx, name) {
  const role = ctx.transaction.role;
  if (role !== void 0 && !ctx.coordinator.isAdmin(role)) {
    throw new ClientError(SqlState.insufficientPrivilege, `permission denied for function ${name}: user "${role}" is not an admin of this cluster (config users[].admin)`);
  }
}
function adminOf(ctx, name) {
  requireAdminUser(ctx, name);
  const admin = ctx.coordinator.admin;
  if (!admin) throw new ClientError(SqlState.featureNotSupported, `${name} needs the coordinator to run with the cluster's admin credentials (as dpg up starts it)`);
  if (ctx.transaction.inBlock) throw new ClientError("25001", `${name} cannot run inside a transaction block`);
  return admin;
}
var argument = (plan, name, position) => plan.named[name] ?? plan.args[position] ?? null;
function integerArg(plan, name, position) {
  const value = argument(plan, name, position);
  if (value === null) return null;
  if (!/^-?\d+$/.test(value)) throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: ${name} must be an integer, got ${JSON.stringify(value)}`);
  return Number(value);
}
function arrayArg(plan, name, position) {
  const value = argument(plan, name, position);
  if (value === null) return null;
  const body = /^\s*\{(.*)\}\s*$/s.exec(value)?.[1];
  if (body === void 0) throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: ${name} must be an array, got ${JSON.stringify(value)}`);
  const elements = [];
  let current2 = "";
  let quoted = false;
  let inQuotes = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inQuotes) {
      if (c === "\\") current2 += body[++i] ?? "";
      else if (c === '"') inQuotes = false;
      else current2 += c;
    } else if (c === '"') {
      inQuotes = quoted = true;
    } else if (c === ",") {
      elements.push(quoted ? current2 : current2.trim());
      current2 = "";
      quoted = false;
    } else current2 += c;
  }
  if (body.trim() !== "") elements.push(quoted ? current2 : current2.trim());
  return elements;
}
function integersOf(plan, name, elements) {
  return elements.map((e) => {
    if (!/^-?\d+$/.test(e.trim())) throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: ${name} must hold integers, got ${JSON.stringify(e)}`);
    return Number(e);
  });
}
async function groupOfNode(admin, plan, which) {
  const threeArgs = plan.args.length === 3 || plan.named[`${which}_node_id`] !== void 0;
  return onPrimary(admin, 0, async (control) => {
    if (threeArgs) {
      const id = integerArg(plan, `${which}_node_id`, which === "source" ? 1 : 2);
      const row2 = (await control.query("SELECT group_id FROM dpg_catalog.nodes WHERE node_id = $1", [id])).rows[0];
      if (!row2) throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: there is no node ${id}; see SELECT * FROM pg_dist_node`);
      return row2.group_id;
    }
    const name = argument(plan, `${which}_node_name`, which === "source" ? 1 : 3);
    const port = integerArg(plan, `${which}_node_port`, which === "source" ? 2 : 4);
    if (name === null || port === null) throw new ClientError(SqlState.invalidParameterValue, `${plan.name} needs ${which}_node_name and ${which}_node_port`);
    const row = (await control.query("SELECT group_id FROM dpg_catalog.nodes WHERE host = $1 AND port = $2", [name, port])).rows[0];
    if (!row) throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: there is no node ${name}:${port}; see SELECT * FROM pg_dist_node`);
    return row.group_id;
  });
}
function rebalanceArgs(ctx, plan) {
  const defaults = ctx.coordinator.rebalanceDefaults;
  const strategy = plan.named.rebalance_strategy ?? defaults.strategy;
  if (!["by_disk_size", "by_rows", "by_shard_count"].includes(strategy)) {
    throw new ClientError(SqlState.invalidParameterValue, `rebalance_strategy ${JSON.stringify(strategy)} is not known: by_disk_size, by_rows or by_shard_count`);
  }
  const thresholdText = argument(plan, "threshold", 1);
  const threshold = thresholdText === null ? ctx.coordinator.admin.threshold : Number(thresholdText);
  if (!(threshold >= 0 && threshold <= 10)) throw new ClientError(SqlState.invalidParameterValue, `threshold ${thresholdText} is not valid: a fraction from 0 to 10`);
  const maxMoves = integerArg(plan, "max_shard_moves", 2) ?? defaults.maxMoves;
  if (maxMoves < 0) throw new ClientError(SqlState.invalidParameterValue, `max_shard_moves ${maxMoves} must not be negative`);
  const relation = argument(plan, "relation", 0);
  let colocationId;
  if (relation !== null) {
    const table2 = ctx.coordinator.snapshot.table(relation.replace(/^public\./, ""));
    if (!table2 || table2.kind !== "distributed") throw new ClientError(SqlState.invalidParameterValue, `relation ${relation} is not a distributed table`);
    colocationId = table2.colocationId;
  }
  if (plan.named.drain_only === "true") {
    throw new ClientError(SqlState.featureNotSupported, "drain_only: drain a worker group with npx dpg remove-group, which moves its shards away before it stops");
  }
  return { strategy, threshold, maxMoves, colocationId };
}
function planRows(plan, result, leaders) {
  return functionResult(
    plan.name,
    result.plan.moves.map((move) => {
      const source = leaders.get(move.sourceGroup);
      const target = leaders.get(move.targetGroup);
      return [move.table, move.shardId, String(Math.round(move.bytes)), source?.host ?? null, source ? String(source.port) : null, target?.host ?? null, target ? String(target.port) : null];
    })
  );
}
async function runRebalanceFunction(ctx, plan) {
  const admin = adminOf(ctx, plan.name);
  switch (plan.name) {
    case "citus_move_shard_placement":
    case "master_move_shard_placement": {
      const shardId = argument(plan, "shard_id", 0);
      if (shardId === null) throw new ClientError(SqlState.invalidParameterValue, `${plan.name} needs a shard id`);
      const source = await groupOfNode(admin, plan, "source");
      const target = await groupOfNode(admin, plan, "target");
      const id = await onPrimary(admin, 0, (control) => createMove(control, shardId, target, source));
      await runMove(admin, id);
      await ctx.coordinator.reloadCatalog();
      return voidResult(plan.name);
    }
    case "rebalance_table_shards":
    case "get_rebalance_table_shards_plan": {
      const dryRun = plan.name === "get_rebalance_table_shards_plan";
      const result = await rebalance(admin, { ...rebalanceArgs(ctx, plan), dryRun });
      await ctx.coordinator.reloadCatalog();
      if (!dryRun) return voidResult(plan.name);
      const leaders = await onPrimary(admin, 0, async (control) => new Map((await control.query("SELECT group_id, host, port FROM dpg_catalog.group_leaders")).rows.map((r) => [r.group_id, { host: r.host, port: r.port }])));
      return planRows(plan, result, leaders);
    }
    case "citus_rebalance_start": {
      const id = ctx.coordinator.startRebalanceJob(() => rebalance(admin, rebalanceArgs(ctx, plan)));
      return functionResult(plan.name, [[String(id)]]);
    }
    case "citus_rebalance_wait":
      await ctx.coordinator.waitRebalanceJob();
      return voidResult(plan.name);
    case "citus_split_shard_by_split_points":
      await splitByPoints(ctx, admin, plan);
      return voidResult(plan.name);
    default:
      throw new ClientError(SqlState.featureNotSupported, `${plan.name} is not supported yet`);
  }
}
async function splitByPoints(ctx, admin, plan) {
  const shardId = argument(plan, "shard_id", 0);
  if (shardId === null || !/^\d+$/.test(shardId)) throw new ClientError(SqlState.invalidParameterValue, `${plan.name} needs a shard id, got ${JSON.stringify(shardId)}`);
  const points = integersOf(plan, "split_points", arrayArg(plan, "split_points", 1) ?? []);
  const nodes = integersOf(plan, "node_ids_for_placement", arrayArg(plan, "node_ids_for_placement", 2) ?? []);
  if (points.length === 0) throw new ClientError(SqlState.invalidParameterValue, `${plan.name} needs at least one split point`);
  if (nodes.length !== points.length + 1) {
    throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: node_ids_for_placement needs one node per piece (${points.length + 1} for ${points.length} split points), got ${nodes.length}`);
  }
  const mode = argument(plan, "shard_transfer_mode", 3);
  if (mode !== null && !["auto", "force_logical", "block_writes"].includes(mode)) {
    throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: shard_transfer_mode ${JSON.stringify(mode)} is not known: auto, force_logical or block_writes`);
  }
  const groups = await onPrimary(admin, 0, async (control) => {
    const rows = (await control.query(`SELECT n.node_id, n.group_id, g.kind FROM dpg_catalog.nodes n JOIN dpg_catalog.groups g USING (group_id) WHERE n.node_id = ANY ($1::int[])`, [nodes])).rows;
    return nodes.map((node) => {
      const row = rows.find((r) => r.node_id === node);
      if (!row) throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: there is no node ${node}; see SELECT * FROM pg_dist_node`);
      if (row.kind !== "worker") throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: node ${node} is not in a worker group`);
      return row.group_id;
    });
  });
  const id = await onPrimary(admin, 0, (control) => createSplit(control, shardId, points));
  const { move } = await runMove(admin, id);
  for (const [p, group] of groups.entries()) {
    if (group === move.sourceGroup) continue;
    const moveId2 = await onPrimary(admin, 0, (control) => createMove(control, move.newShardIds[p], group, move.sourceGroup));
    await runMove(admin, moveId2);
  }
  await ctx.coordinator.reloadCatalog();
}

// src/rebalance/shard-count.ts
async function currentShards(control, table2) {
  const result = await control.query(
    `SELECT s.shardid::text AS id, s.shard_index, s.hash_min, s.hash_max, p.group_id FROM dpg_catalog.shards s JOIN dpg_catalog.placements p USING (shardid)
     WHERE s.table_name = $1 ORDER BY s.shard_index`,
    [table2]
  );
  return result.rows.map((r) => ({ id: r.id, index: r.shard_index, min: Number(r.hash_min), max: Number(r.hash_max), groupId: r.group_id }));
}
async function changeShardCount(admin, table2, shardCount, run3) {
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > MAX_SHARD_COUNT) {
    throw new ClientError("22023", `shard_count ${shardCount} is not valid: an integer from 1 to ${MAX_SHARD_COUNT}`);
  }
  const colocationId = await onPrimary(admin, 0, async (control) => {
    const info = (await control.query(`SELECT kind, distribution_method, colocation_id FROM dpg_catalog.tables WHERE table_name = $1`, [table2])).rows[0];
    if (!info || info.kind !== "distributed") throw new ClientError("22023", `table "${table2}" is not a distributed table`);
    if (info.distribution_method !== "hash") throw new ClientError("0A000", `${table2} is distributed by radius (hyperbolic); its shard count is its number of levels and cannot change`);
    return info.colocation_id;
  });
  const target = shardRanges(shardCount);
  const boundaries = target.slice(0, -1).map((r) => r.max);
  const change = { splits: 0, moves: 0, merges: 0 };
  for (; ; ) {
    const next = await onPrimary(admin, 0, async (control) => {
      for (const shard of await currentShards(control, table2)) {
        const points = boundaries.filter((b) => b >= shard.min && b < shard.max);
        if (points.length > 0) return createSplit(control, shard.id, points);
      }
      return null;
    });
    if (next === null) break;
    await run3(next);
    change.splits++;
  }
  for (const range of target) {
    const inside = (await onPrimary(admin, 0, (control) => currentShards(control, table2))).filter((s) => s.min >= range.min && s.max <= range.max);
    if (inside.length < 2) continue;
    const groups = new Set(inside.map((s) => s.groupId));
    if (groups.size > 1) {
      const loads = (await measureLoads(admin)).loads;
      const bytesOn = (group) => inside.filter((s) => s.groupId === group).reduce((sum, s) => sum + (loads.find((l) => l.colocationId === colocationId && l.shardIndex === s.index)?.bytes ?? 0), 0);
      const home = [...groups].sort((a, b) => bytesOn(b) - bytesOn(a) || a - b)[0];
      for (const shard of inside.filter((s) => s.groupId !== home)) {
        await run3(await onPrimary(admin, 0, (control) => createMove(control, shard.id, home, shard.groupId)));
        change.moves++;
      }
    }
    await run3(await onPrimary(admin, 0, (control) => createMerge(control, inside.map((s) => s.id))));
    change.merges++;
  }
  return change;
}

// src/executor/distribute.ts
var TEXT_TYPES = /* @__PURE__ */ new Set(["text", "character varying"]);
var RADIUS_TYPES = /* @__PURE__ */ new Set(["double precision", "real", "numeric", "vector", "ruvector"]);
var literal = (value) => `'${value.replace(/'/g, "''")}'`;
var ident = (value) => /^[a-z_][a-z0-9_$]*$/.test(value) ? value : `"${value.replace(/"/g, '""')}"`;
async function readShellTable(control, qualifiedName) {
  const relation = await control.simpleQuery(
    `SELECT n.nspname, c.relname, c.relpersistence, c.relkind, c.relrowsecurity OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(${literal(qualifiedName)})`
  );
  const row = relation.rows[0];
  if (!row) throw new ClientError(SqlState.undefinedTable, `relation "${qualifiedName}" does not exist`);
  if (row[3] !== "r") throw new ClientError(SqlState.featureNotSupported, `${qualifiedName} is not a plain table; only tables can be distributed`);
  if (row[0] !== "public") throw new ClientError(SqlState.featureNotSupported, `only tables in schema public can be distributed for now (${qualifiedName} is in ${row[0]})`);
  if (row[4] === "t") {
    throw new ClientError(SqlState.featureNotSupported, `${qualifiedName} has row-level security: distribute it first, then ENABLE ROW LEVEL SECURITY and CREATE POLICY (they reach every shard)`);
  }
  const oid = `to_regclass(${literal(qualifiedName)})`;
  const grants = await control.simpleQuery(
    `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, a.privilege_type, a.is_grantable
     FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a WHERE c.oid = ${oid} AND a.grantee <> c.relowner`
  );
  const columns = await control.simpleQuery(
    // localType: a user-defined type (or array of one) that no extension brings, so the workers lack it.
    `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
            (SELECT b.oid >= 16384 AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_type'::regclass AND e.objid = b.oid AND e.deptype = 'e')
             FROM pg_type t JOIN pg_type b ON b.oid = CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN t.typelem ELSE t.oid END
             WHERE t.oid = a.atttypid)
     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = ${oid} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`
  );
  const constraints = await control.simpleQuery(`SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = ${oid} ORDER BY oid`);
  const indexes = await control.simpleQuery(
    `SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x WHERE x.indrelid = ${oid}
     AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY x.indexrelid`
  );
  return {
    schema: row[0],
    name: row[1],
    unlogged: row[2] === "u",
    columns: columns.rows.map((c) => ({ name: c[0], type: c[1], notNull: c[2] === "t", default: c[3] ?? null, identity: c[4] ?? "", generated: c[5] ?? "", localType: c[6] === "t" })),
    constraints: constraints.rows.map((c) => ({ name: c[0], type: c[1], definition: c[2] })),
    indexes: indexes.rows.map((i) => i[0]),
    grants: grants.rows.map((g) => ({ grantee: g[0], privilege: g[1], grantable: g[2] === "t" }))
  };
}
function shardDdl(shell, shardId, namespaceColumn = null) {
  const suffix = `_${shardId}`;
  const columns = shell.columns.map((c) => {
    let definition = `${ident(c.name)} ${c.type}`;
    if (c.generated === "s") definition += ` GENERATED ALWAYS AS (${c.default}) STORED`;
    else if (c.identity === "a") definition += " GENERATED ALWAYS AS IDENTITY";
    else if (c.identity === "d") definition += " GENERATED BY DEFAULT AS IDENTITY";
    else if (c.default !== null) definition += ` DEFAULT ${c.default}`;
    if (c.notNull) definition += " NOT NULL";
    return definition;
  });
  const constraints = shell.constraints.filter((c) => c.type !== "n").map((c) => `CONSTRAINT ${ident(["p", "u", "x"].includes(c.type) ? `${c.name}${suffix}` : c.name)} ${c.definition}`);
  const create = `CREATE ${shell.unlogged ? "UNLOGGED " : ""}TABLE ${ident(shell.schema)}.${ident(`${shell.name}${suffix}`)} (
  ${[...columns, ...constraints].join(",\n  ")}
)`;
  const indexes = shell.indexes.map((definition) => {
    const tree = structuredClone(parseSql(definition)[0].node);
    const index = unwrapNode(tree)[1];
    index.idxname = `${index.idxname}${suffix}`;
    index.relation.relname = `${index.relation.relname}${suffix}`;
    return deparseSync5(tree);
  });
  const table2 = `${ident(shell.schema)}.${ident(`${shell.name}${suffix}`)}`;
  const grants = shell.grants.map((g) => `GRANT ${g.privilege} ON ${table2} TO ${g.grantee}${g.grantable ? " WITH GRANT OPTION" : ""}`);
  const isolation = namespaceColumn === null ? [] : namespacePolicySql(`${shell.name}${suffix}`, namespaceColumn);
  return [create, ...indexes, ...grants, ...isolation];
}
function checkShell(shell, distributionColumn) {
  for (const column2 of shell.columns) {
    if (column2.identity) {
      throw new ClientError(
        SqlState.featureNotSupported,
        `column ${column2.name} of ${shell.name} is an identity column; each shard would number its rows on its own and the numbers would repeat. Use DEFAULT gen_random_uuid()`
      );
    }
    if (column2.localType) {
      throw new ClientError(SqlState.featureNotSupported, `column ${column2.name} of ${shell.name} has type ${column2.type}, which exists only on the control group; dpg does not create user-defined types on the workers yet`);
    }
    if (column2.default?.includes("nextval(")) {
      throw new ClientError(
        SqlState.featureNotSupported,
        `column ${column2.name} of ${shell.name} takes its default from a sequence; a sequence would give every shard the same numbers. Use DEFAULT gen_random_uuid()`
      );
    }
  }
  for (const constraint of shell.constraints) {
    if (constraint.type === "f") throw new ClientError(SqlState.featureNotSupported, `foreign key ${constraint.name}: foreign keys on distributed tables are not supported yet`);
    if (distributionColumn && ["p", "u", "x"].includes(constraint.type) && !new RegExp(`[(, ]"?${distributionColumn}"?[,) ]`).test(constraint.definition)) {
      throw new ClientError(
        SqlState.featureNotSupported,
        `constraint ${constraint.name} of ${shell.name} does not include the distribution column ${distributionColumn}: a shard can only enforce uniqueness among its own rows`
      );
    }
  }
}
async function runDistributionFunction(ctx, plan) {
  switch (plan.name) {
    case "create_distributed_table":
    case "create_reference_table":
      await createTable(ctx, plan);
      return voidResult(plan.name);
    case "alter_distributed_table":
      await alterDistributedTable(ctx, plan);
      return voidResult(plan.name);
    case "undistribute_table":
      throw new ClientError(SqlState.featureNotSupported, `${plan.name} is not supported yet`);
    default:
      return runRebalanceFunction(ctx, plan);
  }
}
async function createTable(ctx, plan) {
  const { coordinator } = ctx;
  const reference = plan.name === "create_reference_table";
  const tableArg = plan.named.table_name ?? plan.args[0] ?? null;
  if (!tableArg) throw new ClientError(SqlState.invalidParameterValue, `${plan.name} needs a table name`);
  const columnArg = reference ? null : plan.named.distribution_column ?? plan.args[1] ?? null;
  if (!reference && !columnArg) throw new ClientError(SqlState.invalidParameterValue, "create_distributed_table needs a distribution column");
  const control = await ctx.transaction.connection(0);
  const shell = await readShellTable(control, tableArg);
  if (coordinator.snapshot.table(shell.name)) throw new ClientError("42P16", `table "${shell.name}" is already distributed`);
  let distributionColumn = null;
  const method = plan.named.distribution_method ?? "hash";
  if (method !== "hash" && method !== "hyperbolic") {
    throw new ClientError(SqlState.invalidParameterValue, `distribution_method ${JSON.stringify(method)} is not valid: 'hash' (hashtext ranges, the default) or 'hyperbolic' (the seed's shard by radius)`);
  }
  if (columnArg) {
    const column2 = shell.columns.find((c) => c.name === columnArg);
    if (!column2) throw new ClientError("42703", `column "${columnArg}" of relation "${shell.name}" does not exist`);
    const baseType = column2.type.replace(/\(.*\)$/, "");
    if (method === "hash" && !TEXT_TYPES.has(column2.type)) {
      throw new ClientError(SqlState.featureNotSupported, `distribution column ${columnArg} is ${column2.type}; dpg hashes text distribution columns with hashtext() and takes text or varchar without a length (a length, char(n) and name change the value stored, which would then be routed as another)`);
    }
    if (method === "hyperbolic" && !RADIUS_TYPES.has(baseType)) {
      throw new ClientError(
        SqlState.featureNotSupported,
        `distribution column ${columnArg} is ${column2.type}; the hyperbolic method shards by a radius (double precision, real, numeric) or by a vector's norm (vector, ruvector)`
      );
    }
    distributionColumn = column2.name;
  }
  checkShell(shell, distributionColumn);
  const rows = await control.simpleQuery(`SELECT EXISTS (SELECT 1 FROM ${ident(shell.schema)}.${ident(shell.name)})`);
  if (rows.rows[0]?.[0] === "t") {
    throw new ClientError(SqlState.featureNotSupported, `${shell.name} already holds rows; distributing a table with data is not supported yet: distribute it empty, then load it through the coordinator`);
  }
  const workers = coordinator.snapshot.workerGroupIds();
  const durability = coordinator.durabilityOf(shell.name, shell.unlogged);
  if (shell.unlogged && durability !== "ephemeral") {
    throw new ClientError(
      SqlState.featureNotSupported,
      `${shell.name} is UNLOGGED, which is never replicated, but the config (replication.tables.${durability}) asks for ${durability === "critical" ? "synchronous" : "asynchronous"} replication: create it without UNLOGGED, or list it under replication.tables.ephemeral`
    );
  }
  const shardShell = durability === "ephemeral" ? { ...shell, unlogged: true } : shell;
  const byGroup = /* @__PURE__ */ new Map();
  const catalog = [];
  const catalogConnection = await ctx.transaction.connection(CATALOG_PARTICIPANT, { write: true });
  const nextShardId = async () => (await catalogConnection.simpleQuery(`SELECT nextval('dpg_catalog.shard_id_seq')`)).rows[0][0];
  if (reference) {
    catalog.push(`INSERT INTO dpg_catalog.tables (table_name, kind, shard_count, durability) VALUES (${literal(shell.name)}, 'reference', 1, ${literal(durability)})`);
    const shardId = await nextShardId();
    catalog.push(`INSERT INTO dpg_catalog.shards (shardid, table_name, shard_index) VALUES (${shardId}, ${literal(shell.name)}, 0)`);
    for (const group of workers) {
      catalog.push(`INSERT INTO dpg_catalog.placements (shardid, group_id) VALUES (${shardId}, ${group})`);
      byGroup.set(group, shardDdl(shardShell, shardId));
    }
  } else {
    const columnType = shell.columns.find((c) => c.name === distributionColumn).type;
    const { colocationId, shardCount, groupsByIndex, createSql, ranges: colocatedRanges } = await colocationFor(ctx, control, plan, workers, method, columnType);
    if (createSql) catalog.push(createSql);
    catalog.push(
      `INSERT INTO dpg_catalog.tables (table_name, kind, distribution_column, distribution_method, colocation_id, shard_count, durability)
       VALUES (${literal(shell.name)}, 'distributed', ${literal(distributionColumn)}, ${literal(method)}, ${colocationId}, ${shardCount}, ${literal(durability)})`
    );
    const ranges = method === "hash" ? colocatedRanges ?? shardRanges(shardCount) : Array.from({ length: shardCount }, (_, index) => ({ index, min: "NULL", max: "NULL" }));
    for (const range of ranges) {
      const shardId = await nextShardId();
      const group = groupsByIndex[range.index];
      catalog.push(
        `INSERT INTO dpg_catalog.shards (shardid, table_name, shard_index, hash_min, hash_max) VALUES (${shardId}, ${literal(shell.name)}, ${range.index}, ${range.min}, ${range.max})`,
        `INSERT INTO dpg_catalog.placements (shardid, group_id) VALUES (${shardId}, ${group})`
      );
      byGroup.set(group, [...byGroup.get(group) ?? [], ...shardDdl(shardShell, shardId, method === "hash" && coordinator.namespaceIsolation ? distributionColumn : null)]);
    }
  }
  catalog.push(shellTriggerSql(shell.name));
  byGroup.set(CATALOG_PARTICIPANT, catalog);
  await atomically(ctx, byGroup.size, async () => {
    await runStatementsOnGroups(ctx, byGroup, true);
    return new LocalResultStream("SELECT 1");
  });
  await coordinator.catalogChanged();
}
async function colocationFor(ctx, control, plan, workers, method, columnType) {
  const colocateWith = plan.named.colocate_with ?? plan.args[2] ?? "default";
  const requested = plan.named.shard_count ?? null;
  const shardCount = requested !== null ? Number(requested) : ctx.coordinator.defaultShardCount;
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 4096) {
    throw new ClientError(SqlState.invalidParameterValue, `shard_count ${requested} is not valid: an integer from 1 to 4096`);
  }
  const roundRobin = (count2) => Array.from({ length: count2 }, (_, i) => workers[i % workers.length]);
  const fresh = async (count2) => {
    const id = (await control.simpleQuery(`SELECT coalesce(max(colocation_id), 0) + 1 FROM dpg_catalog.colocation_groups`)).rows[0][0];
    const type = method === "hash" ? "text" : columnType;
    const createSql = `INSERT INTO dpg_catalog.colocation_groups (colocation_id, shard_count, distribution_column_type, distribution_method) VALUES (${id}, ${count2}, ${literal(type)}::regtype, ${literal(method)})`;
    return { colocationId: Number(id), shardCount: count2, groupsByIndex: roundRobin(count2), createSql };
  };
  if (colocateWith === "none") return fresh(shardCount);
  let target = colocateWith === "default" ? null : ctx.coordinator.snapshot.table(colocateWith);
  if (colocateWith !== "default" && (!target || target.kind !== "distributed")) {
    throw new ClientError(SqlState.invalidParameterValue, `colocate_with ${colocateWith} is not a distributed table`);
  }
  if (target && target.distributionMethod !== method) {
    throw new ClientError(SqlState.invalidParameterValue, `colocate_with ${colocateWith}: ${target.name} is distributed by ${target.distributionMethod}, not ${method}; co-located tables share the method`);
  }
  if (!target) {
    target = [...ctx.coordinator.snapshot.tables.values()].find((t) => t.kind === "distributed" && t.shardCount === shardCount && t.distributionMethod === method) ?? null;
    if (!target) return fresh(shardCount);
  } else if (requested !== null && target.shardCount !== shardCount) {
    throw new ClientError(SqlState.invalidParameterValue, `shard_count ${shardCount} differs from ${target.name}'s ${target.shardCount}; co-located tables have the same shard count`);
  }
  return {
    colocationId: target.colocationId,
    shardCount: target.shardCount,
    groupsByIndex: target.shards.map((s) => s.groupIds[0]),
    ranges: method === "hash" ? target.shards.map((s) => ({ index: s.index, min: s.hashMin, max: s.hashMax })) : void 0
  };
}
async function alterDistributedTable(ctx, plan) {
  const name = plan.named.table_name ?? plan.args[0] ?? "";
  const table2 = ctx.coordinator.snapshot.table(name);
  if (!table2 || table2.kind !== "distributed") throw new ClientError(SqlState.invalidParameterValue, `table "${name}" is not a distributed table`);
  const shardCount = plan.named.shard_count;
  if (shardCount != null && (Number(shardCount) !== table2.shardCount || table2.uniformRanges === false)) {
    requireAdminUser(ctx, "alter_distributed_table(shard_count := ...)");
    const admin = ctx.coordinator.admin;
    if (!admin) throw new ClientError(SqlState.featureNotSupported, "changing a shard count needs the coordinator to run with the cluster's admin credentials (as dpg up starts it)");
    if (ctx.transaction.inBlock) throw new ClientError("25001", "alter_distributed_table(shard_count := ...) cannot run inside a transaction block");
    if (!/^\d+$/.test(shardCount)) throw new ClientError(SqlState.invalidParameterValue, `shard_count ${shardCount} is not valid: an integer`);
    const change = await changeShardCount(admin, name, Number(shardCount), (id) => runMove(admin, id));
    ctx.onNotice(
      encodeNoticeResponse({
        severity: "NOTICE",
        severityNonLocalized: "NOTICE",
        code: "00000",
        message: `${name} and every table co-located with it have ${shardCount} shards now (${change.splits} split(s), ${change.moves} move(s) and ${change.merges} merge(s)); npx dpg rebalance spreads them over the worker groups`
      })
    );
    await ctx.coordinator.reloadCatalog();
  }
  const factor = plan.named.shard_replication_factor;
  const groupSize = ctx.coordinator.nodesPerGroup(table2.shards[0].groupIds[0]);
  if (factor != null && Number(factor) !== groupSize) {
    ctx.onNotice(
      encodeNoticeResponse({
        severity: "NOTICE",
        severityNonLocalized: "NOTICE",
        code: "00000",
        message: `${name} has ${groupSize} copies of every shard: the size of its worker groups (distribution.replication_factor); shard_replication_factor ${factor} does not change that`
      })
    );
  }
  const colocateWith = plan.named.colocate_with;
  if (colocateWith != null) {
    const target = ctx.coordinator.snapshot.table(colocateWith);
    if (!target || target.colocationId !== table2.colocationId) {
      throw new ClientError(SqlState.featureNotSupported, `moving ${name} to another co-location group is not supported yet`);
    }
  }
}

// src/executor/copy-rows.ts
var CopyFormatError = class extends Error {
  sqlstate = "22P04";
};
var NEWLINE = 10;
var CR = 13;
var BACKSLASH = 92;
var withoutTerminator = (raw) => raw.subarray(0, raw.length - (raw.length > 1 && raw[raw.length - 2] === CR ? 2 : 1));
var isEndMarker = (line) => line.length === 2 && line[0] === BACKSLASH && line[1] === 46;
function lineRow(raw, column2, field) {
  const line = withoutTerminator(raw);
  if (isEndMarker(line)) return null;
  return { raw, value: column2 < 0 ? null : field(line) };
}
var PartialRow = class {
  parts = [];
  length = 0;
  add(bytes) {
    if (bytes.length === 0) return;
    this.parts.push(bytes);
    this.length += bytes.length;
  }
  /** The whole row with `tail` (the rest of it, from the current chunk) appended; empties the buffer. */
  take(tail = Buffer.alloc(0)) {
    const whole = this.parts.length === 0 ? tail : Buffer.concat([...this.parts, tail]);
    this.parts = [];
    this.length = 0;
    return whole;
  }
};
var TextRowSplitter = class {
  constructor(column2, delimiter, nullString) {
    this.column = column2;
    this.delimiter = delimiter;
    this.nullStringBytes = Buffer.from(nullString, "utf8").toString("latin1");
  }
  column;
  delimiter;
  partial = new PartialRow();
  finished = false;
  nullStringBytes;
  push(chunk) {
    if (this.finished) return [];
    const rows = [];
    let start = 0;
    for (let i = chunk.indexOf(NEWLINE, start); i >= 0; i = chunk.indexOf(NEWLINE, start)) {
      const raw = this.partial.take(chunk.subarray(start, i + 1));
      start = i + 1;
      const row = lineRow(raw, this.column, (line) => this.field(line));
      if (!row) {
        this.finished = true;
        return rows;
      }
      rows.push(row);
    }
    this.partial.add(chunk.subarray(start));
    return rows;
  }
  end() {
    if (this.finished || this.partial.length === 0) return [];
    const line = this.partial.take();
    if (isEndMarker(line)) return [];
    return [{ raw: Buffer.concat([line, Buffer.from("\n")]), value: this.column < 0 ? null : this.field(line) }];
  }
  field(line) {
    let index = 0;
    let start = 0;
    for (let i = 0; i <= line.length; i++) {
      if (i === line.length || line[i] === this.delimiter) {
        if (index === this.column) {
          const raw = line.subarray(start, i);
          return raw.toString("latin1") === this.nullStringBytes ? null : utf8Strict(unescapeText(raw));
        }
        index++;
        start = i + 1;
      } else if (line[i] === BACKSLASH) {
        i++;
      }
    }
    throw new CopyFormatError(`missing data for column ${this.column + 1}`);
  }
};
var SINGLE_ESCAPES = { 98: 8, 102: 12, 110: 10, 114: 13, 116: 9, 118: 11 };
var isOctal = (byte) => byte !== void 0 && byte >= 48 && byte <= 55;
var hexValue = (byte) => {
  if (byte === void 0) return -1;
  if (byte >= 48 && byte <= 57) return byte - 48;
  if (byte >= 65 && byte <= 70) return byte - 55;
  if (byte >= 97 && byte <= 102) return byte - 87;
  return -1;
};
function unescapeText(value) {
  if (!value.includes(BACKSLASH)) return value;
  const out2 = Buffer.allocUnsafe(value.length);
  let length = 0;
  for (let i = 0; i < value.length; i++) {
    const byte = value[i];
    if (byte !== BACKSLASH || i + 1 >= value.length) {
      out2[length++] = byte;
      continue;
    }
    const code = value[++i];
    if (isOctal(code)) {
      let octal = code - 48;
      for (let digits = 1; digits < 3 && isOctal(value[i + 1]); digits++) octal = octal * 8 + (value[++i] - 48);
      out2[length++] = octal & 255;
    } else if (code === 120 && hexValue(value[i + 1]) >= 0) {
      let hex = hexValue(value[++i]);
      if (hexValue(value[i + 1]) >= 0) hex = hex * 16 + hexValue(value[++i]);
      out2[length++] = hex;
    } else {
      out2[length++] = SINGLE_ESCAPES[code] ?? code;
    }
  }
  return out2.subarray(0, length);
}
var UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
function utf8Strict(bytes) {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new CopyEncodingError('invalid byte sequence for encoding "UTF8" in the distribution column');
  }
}
var CopyEncodingError = class extends Error {
  sqlstate = "22021";
};
var CsvRowSplitter = class {
  constructor(column2, delimiter, quote, escape, nullString, skipHeader) {
    this.column = column2;
    this.delimiter = delimiter;
    this.quote = quote;
    this.escape = escape;
    this.nullString = nullString;
    this.skipHeader = skipHeader;
  }
  column;
  delimiter;
  quote;
  escape;
  nullString;
  skipHeader;
  partial = new PartialRow();
  inQuotes = false;
  /** Inside quotes, the last byte seen was a quote (QUOTE = ESCAPE): a closing quote unless the next is a quote too. */
  quoteAtEnd = false;
  /** Inside quotes, the last byte seen was ESCAPE (ESCAPE != QUOTE): it escapes a quote or an ESCAPE that follows. */
  escapeAtEnd = false;
  finished = false;
  push(chunk) {
    const rows = [];
    if (this.finished) return rows;
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.quoteAtEnd) {
        this.quoteAtEnd = false;
        if (byte === this.quote) continue;
        this.inQuotes = false;
      } else if (this.escapeAtEnd) {
        this.escapeAtEnd = false;
        if (byte === this.quote || byte === this.escape) continue;
      }
      if (this.inQuotes) {
        if (byte === this.escape && this.escape !== this.quote) this.escapeAtEnd = true;
        else if (byte === this.quote) {
          if (this.escape === this.quote) this.quoteAtEnd = true;
          else this.inQuotes = false;
        }
        continue;
      }
      if (byte === this.quote) {
        this.inQuotes = true;
        continue;
      }
      if (byte !== NEWLINE) continue;
      const raw = this.partial.take(chunk.subarray(start, i + 1));
      start = i + 1;
      if (this.skipHeader) {
        this.skipHeader = false;
        continue;
      }
      const row = lineRow(raw, this.column, (line) => this.field(line));
      if (!row) {
        this.finished = true;
        return rows;
      }
      rows.push(row);
    }
    this.partial.add(chunk.subarray(start));
    return rows;
  }
  end() {
    if (this.finished || this.partial.length === 0) return [];
    if (this.quoteAtEnd) {
      this.quoteAtEnd = false;
      this.inQuotes = false;
    }
    if (this.inQuotes) throw new CopyFormatError("unterminated CSV quoted field");
    const line = this.partial.take();
    if (this.skipHeader) return [];
    return [{ raw: Buffer.concat([line, Buffer.from("\n")]), value: this.column < 0 ? null : this.field(line) }];
  }
  field(line) {
    let index = 0;
    let value = "";
    let quoted = false;
    let inQuotes = false;
    let segmentStart = 0;
    const parts = [];
    for (let i = 0; i <= line.length; i++) {
      const byte = line[i];
      if (i < line.length && inQuotes) {
        const next = line[i + 1];
        if (byte === this.escape && (next === this.quote || this.escape !== this.quote && next === this.escape) && (this.escape !== this.quote || i + 1 < line.length)) {
          parts.push(line.subarray(segmentStart, i), Buffer.from([next]));
          i++;
          segmentStart = i + 1;
        } else if (byte === this.quote) {
          parts.push(line.subarray(segmentStart, i));
          inQuotes = false;
          segmentStart = i + 1;
        }
        continue;
      }
      if (i < line.length && byte === this.quote) {
        parts.push(line.subarray(segmentStart, i));
        inQuotes = true;
        quoted = true;
        segmentStart = i + 1;
        continue;
      }
      if (i === line.length || byte === this.delimiter) {
        parts.push(line.subarray(segmentStart, i));
        if (index === this.column) {
          value = utf8Strict(Buffer.concat(parts));
          return !quoted && value === this.nullString ? null : value;
        }
        index++;
        parts.length = 0;
        quoted = false;
        segmentStart = i + 1;
      }
    }
    throw new CopyFormatError(`missing data for column ${this.column + 1}`);
  }
};
var BINARY_SIGNATURE = Buffer.from([80, 71, 67, 79, 80, 89, 10, 255, 13, 10, 0]);
var BINARY_HEADER = Buffer.concat([BINARY_SIGNATURE, Buffer.alloc(8)]);
var BINARY_TRAILER = Buffer.from([255, 255]);
var BinaryRowSplitter = class {
  constructor(column2) {
    this.column = column2;
  }
  column;
  pending = Buffer.alloc(0);
  headerRead = false;
  finished = false;
  /** Bytes the unfinished tuple needs before it can be read further: chunks wait in `waiting` until then. */
  needed = 0;
  waiting = new PartialRow();
  push(chunk) {
    const rows = [];
    if (this.pending.length + this.waiting.length + chunk.length < this.needed) {
      this.waiting.add(chunk);
      return rows;
    }
    let data = this.pending.length + this.waiting.length > 0 ? Buffer.concat([this.pending, this.waiting.take(), chunk]) : chunk;
    this.needed = 0;
    if (!this.headerRead) {
      if (data.length < 19) {
        this.pending = Buffer.from(data);
        return rows;
      }
      if (!data.subarray(0, 11).equals(BINARY_SIGNATURE)) throw new CopyFormatError("COPY file signature not recognized");
      const extension = data.readUInt32BE(15);
      if (data.length < 19 + extension) {
        this.pending = Buffer.from(data);
        return rows;
      }
      data = data.subarray(19 + extension);
      this.headerRead = true;
    }
    let offset = 0;
    while (!this.finished && offset + 2 <= data.length) {
      const fields = data.readInt16BE(offset);
      if (fields === -1) {
        this.finished = true;
        offset += 2;
        break;
      }
      let cursor = offset + 2;
      let value = null;
      let complete = true;
      for (let f = 0; f < fields; f++) {
        if (cursor + 4 > data.length) {
          complete = false;
          break;
        }
        const length = data.readInt32BE(cursor);
        cursor += 4;
        if (length > 0 && cursor + length > data.length) {
          complete = false;
          this.needed = cursor + length - offset;
          break;
        }
        if (f === this.column) value = length < 0 ? null : data.toString("utf8", cursor, cursor + length);
        if (length > 0) cursor += length;
      }
      if (!complete) break;
      rows.push({ raw: data.subarray(offset, cursor), value });
      offset = cursor;
    }
    this.pending = Buffer.from(data.subarray(offset));
    return rows;
  }
  end() {
    if (!this.finished && this.pending.length + this.waiting.length > 0) throw new CopyFormatError("unexpected end of binary COPY data");
    return [];
  }
};

// src/executor/copy.ts
var FLUSH_BYTES = 4 * 1024 * 1024;
function copyFormatCode(plan) {
  return plan.format === "binary" ? 1 : 0;
}
var COPY_PIECE_BYTES = 1024 * 1024;
async function sendCopyData(connection, chunks) {
  const small = [];
  for (const data of chunks) {
    if (data.length <= COPY_PIECE_BYTES) {
      small.push(encodeFrontend({ type: "CopyData", data }));
      continue;
    }
    if (small.length > 0) connection.write(Buffer.concat(small.splice(0)), false);
    for (let offset = 0; offset < data.length; offset += COPY_PIECE_BYTES) {
      connection.write(encodeFrontend({ type: "CopyData", data: data.subarray(offset, offset + COPY_PIECE_BYTES) }), false);
      await new Promise((resolve3) => setImmediate(resolve3));
    }
  }
  small.push(encodeFrontend({ type: "CopyDone" }));
  connection.write(Buffer.concat(small), false);
}
async function copyIntoShard(connection, sql, chunks) {
  connection.write(encodeFrontend({ type: "Query", sql }));
  let rows = 0;
  let sending = Promise.resolve();
  await connection.readUntilReady((frame) => {
    if (frame.code === BackendCode.CopyInResponse) {
      sending = sendCopyData(connection, chunks);
      sending.catch(() => {
      });
    } else if (frame.code === BackendCode.CommandComplete) {
      const m = decodeBackend(frame);
      if (m.type === "CommandComplete") rows += Number(/(\d+)$/.exec(m.tag)?.[1] ?? 0);
    }
  });
  await sending;
  return rows;
}
var CopyIn = class _CopyIn {
  constructor(ctx, plan, column2, columnCount) {
    this.ctx = ctx;
    this.plan = plan;
    this.columnCount = columnCount;
    const byte = (s) => Buffer.from(s)[0];
    this.splitter = plan.format === "binary" ? new BinaryRowSplitter(column2) : plan.format === "csv" ? new CsvRowSplitter(column2, byte(plan.delimiter), byte(plan.quote), byte(plan.escape), plan.nullString, plan.header) : new TextRowSplitter(column2, byte(plan.delimiter), plan.nullString);
  }
  ctx;
  plan;
  columnCount;
  splitter;
  buffers = /* @__PURE__ */ new Map();
  rows = 0;
  ownBlock = false;
  error = null;
  static async start(ctx, plan) {
    const columns = plan.columns ?? await ctx.coordinator.tableColumns(plan.table.name);
    let column2 = -1;
    if (plan.table.kind === "distributed") {
      column2 = columns.indexOf(plan.table.distributionColumn);
      if (column2 < 0) {
        throw new ClientError("23502", `COPY into ${plan.table.name} must include its distribution column ${plan.table.distributionColumn}`);
      }
    }
    const copy2 = new _CopyIn(ctx, plan, column2, columns.length);
    if (plan.table.kind === "reference") ctx.transaction.referenceEpoch ??= ctx.coordinator.snapshot.referenceEpoch;
    if (!ctx.transaction.inBlock) {
      ctx.transaction.begin("BEGIN");
      copy2.ownBlock = true;
    }
    return copy2;
  }
  /** The CopyInResponse the client gets. */
  response() {
    const format = copyFormatCode(this.plan);
    return encodeBackend({ type: "CopyInResponse", format, columnFormats: Array(this.columnCount).fill(format) });
  }
  async data(chunk) {
    if (this.error) return;
    try {
      for (const row of this.splitter.push(chunk)) await this.route(row.raw, row.value);
    } catch (error) {
      this.error = error;
    }
  }
  async route(raw, value) {
    const table2 = this.plan.table;
    let shard = 0;
    if (table2.kind === "distributed") {
      if (value === null) throw new ClientError("23502", `the distribution column ${table2.distributionColumn} of ${table2.name} cannot be NULL (row ${this.rows + 1})`);
      shard = this.ctx.coordinator.snapshot.shardIndexForNewRow(table2, value);
    }
    const buffer = this.buffers.get(shard) ?? { chunks: [], bytes: 0 };
    buffer.chunks.push(raw.length < COPY_PIECE_BYTES ? Buffer.from(raw) : raw);
    buffer.bytes += raw.length;
    this.buffers.set(shard, buffer);
    this.rows++;
    if (buffer.bytes >= FLUSH_BYTES) await this.flushShard(shard);
  }
  async flushShard(shard) {
    const buffer = this.buffers.get(shard);
    if (!buffer || buffer.chunks.length === 0) return;
    this.buffers.delete(shard);
    const chunks = this.plan.format === "binary" ? [BINARY_HEADER, ...buffer.chunks, BINARY_TRAILER] : buffer.chunks;
    const sql = fillShard(this.plan.template, [this.plan.table], shard);
    const groups = this.ctx.coordinator.snapshot.placementGroups(this.plan.table, shard);
    const durability = this.ctx.coordinator.tableDurability(this.plan.table);
    await Promise.all(groups.map(async (group) => copyIntoShard(await this.ctx.transaction.connection(group, { write: true, durability }), sql, chunks)));
  }
  /** CopyDone: sends what is left and commits; returns the command tag. */
  async done() {
    try {
      if (this.error) throw this.error;
      for (const row of this.splitter.end()) await this.route(row.raw, row.value);
      for (const shard of [...this.buffers.keys()]) await this.flushShard(shard);
      if (this.ownBlock) await this.ctx.transaction.commit();
      return `COPY ${this.rows}`;
    } catch (error) {
      await this.abort();
      throw error;
    }
  }
  async abort() {
    this.buffers.clear();
    if (this.ownBlock) await this.ctx.transaction.rollback().catch(() => {
    });
    else this.ctx.transaction.fail();
    this.ownBlock = false;
  }
};
var CopyOutStream = class {
  constructor(ctx, plan, headerLine) {
    this.ctx = ctx;
    this.plan = plan;
    this.headerLine = headerLine;
    this.shards = plan.table.kind === "reference" ? [0] : plan.table.shards.map((s) => s.index);
  }
  ctx;
  plan;
  headerLine;
  shardIndex = 0;
  connection = null;
  rows = 0;
  started = false;
  finished = false;
  shards;
  /** Binary: bytes of the current shard's stream still to skip (its header), and a held-back trailer. */
  skipBytes = 0;
  held = null;
  async description() {
    return null;
  }
  async openShard() {
    const shard = this.shards[this.shardIndex];
    const group = this.ctx.coordinator.snapshot.placementGroups(this.plan.table, shard)[0];
    this.connection = await this.ctx.transaction.connection(group);
    this.connection.write(encodeFrontend({ type: "Query", sql: fillShard(this.plan.template, [this.plan.table], shard) }));
    this.skipBytes = this.plan.format === "binary" && this.shardIndex > 0 ? -1 : 0;
  }
  async nextRow() {
    if (this.finished) return null;
    if (!this.started) {
      this.started = true;
      const columns = this.plan.columns ?? await this.ctx.coordinator.tableColumns(this.plan.table.name);
      const format = copyFormatCode(this.plan);
      await this.openShard();
      const response = encodeBackend({ type: "CopyOutResponse", format, columnFormats: Array(columns.length).fill(format) });
      return this.headerLine ? Buffer.concat([response, encodeFrontend({ type: "CopyData", data: this.headerLine })]) : response;
    }
    let error = null;
    for (; ; ) {
      const frame = await this.connection.readFrame();
      switch (frame.code) {
        case BackendCode.CopyData: {
          const data = this.binaryFilter(frame.body);
          if (data.length > 0) return encodeFrontend({ type: "CopyData", data });
          break;
        }
        case BackendCode.CommandComplete: {
          const m = decodeBackend(frame);
          if (m.type === "CommandComplete") this.rows += Number(/(\d+)$/.exec(m.tag)?.[1] ?? 0);
          break;
        }
        case BackendCode.ErrorResponse: {
          const m = decodeBackend(frame);
          if (m.type === "ErrorResponse") error = new ServerError(m.fields);
          break;
        }
        case BackendCode.ReadyForQuery: {
          if (error) throw error;
          this.shardIndex++;
          if (this.shardIndex < this.shards.length) {
            await this.openShard();
            break;
          }
          this.finished = true;
          const trailer = this.held ? encodeFrontend({ type: "CopyData", data: this.held }) : Buffer.alloc(0);
          return Buffer.concat([trailer, COPY_DONE2]);
        }
        default:
          break;
      }
    }
  }
  /** Binary COPY: drops each later shard's header and holds back each shard's trailer until the very end. */
  binaryFilter(data) {
    if (this.plan.format !== "binary") return data;
    let out2 = data;
    if (this.skipBytes === -1 && out2.length >= 19) {
      this.skipBytes = 19 + out2.readUInt32BE(15);
    }
    if (this.skipBytes > 0) {
      const skip = Math.min(this.skipBytes, out2.length);
      out2 = out2.subarray(skip);
      this.skipBytes -= skip;
    }
    if (out2.length === 2 && out2.equals(BINARY_TRAILER)) {
      this.held = Buffer.from(out2);
      return Buffer.alloc(0);
    }
    return out2;
  }
  tag() {
    return `COPY ${this.rows}`;
  }
  async close() {
    while (!this.finished) {
      try {
        if (await this.nextRow() === null) break;
      } catch {
        break;
      }
    }
  }
};
async function copyHeaderLine(ctx, plan) {
  if (!plan.header || plan.format === "binary") return null;
  const columns = plan.columns ?? await ctx.coordinator.tableColumns(plan.table.name);
  const needsQuotes = (name) => plan.format === "csv" && (/["\n\r]/.test(name) || name.includes(plan.delimiter));
  const quote = (name) => needsQuotes(name) ? `${plan.quote}${name.split(plan.quote).join(plan.quote + plan.quote)}${plan.quote}` : name;
  return Buffer.from(`${columns.map(quote).join(plan.delimiter)}
`);
}
var CopyRelay = class _CopyRelay {
  constructor(connection, responseFrame) {
    this.connection = connection;
    this.responseFrame = responseFrame;
  }
  connection;
  responseFrame;
  static async start(ctx, sql) {
    const connection = await ctx.transaction.connection(0, { write: true });
    connection.write(encodeFrontend({ type: "Query", sql }));
    let error = null;
    for (; ; ) {
      const frame = await connection.readFrame();
      if (frame.code === BackendCode.CopyInResponse) return new _CopyRelay(connection, Buffer.from(frame.raw));
      if (frame.code === BackendCode.ErrorResponse) {
        const m = decodeBackend(frame);
        if (m.type === "ErrorResponse") error = new ServerError(m.fields);
      } else if (frame.code === BackendCode.ReadyForQuery) {
        const m = decodeBackend(frame);
        if (m.type === "ReadyForQuery") connection.transactionStatus = m.status;
        throw error ?? new ClientError("08P01", "the control group did not start the COPY");
      }
    }
  }
  response() {
    return this.responseFrame;
  }
  async data(chunk) {
    this.connection.write(encodeFrontend({ type: "CopyData", data: chunk }), false);
  }
  async finish() {
    let tag = "";
    await this.connection.readUntilReady((frame) => {
      const m = decodeBackend(frame);
      if (m.type === "CommandComplete") tag = m.tag;
    });
    return tag;
  }
  async done() {
    this.connection.write(encodeFrontend({ type: "CopyDone" }), false);
    return this.finish();
  }
  async abort(message = "aborted by the client") {
    this.connection.write(encodeFrontend({ type: "CopyFail", message }), false);
    await this.finish().catch(() => {
    });
  }
};

// src/executor/result-cache.ts
import { createHash as createHash3, randomInt } from "node:crypto";
import { Redis } from "ioredis";
var EPOCH_KEY = "dpg:epoch";
var MAX_CACHED_BYTES = 1024 * 1024;
var LOOKUP_TIMEOUT_MS = 50;
var INVALIDATE_TIMEOUT_MS = 200;
var LOOKUP_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[2]) end
local parts = {ARGV[1]}
for i = 1, #KEYS do parts[#parts + 1] = redis.call('GET', KEYS[i]) or '0' end
local key = table.concat(parts, ':')
return {key, redis.call('GET', key)}
`;
var BUMP_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
for i = 2, #KEYS do redis.call('INCR', KEYS[i]) end
return 1
`;
function generationKeys(scope, forWrite) {
  const keys = [];
  for (const { table: table2, namespaces } of scope.distributed) {
    if (namespaces === null) keys.push(forWrite ? `dpg:gen:${table2}` : `dpg:gen:${table2}:any`);
    else {
      for (const ns of namespaces) keys.push(`dpg:gen:${table2}:ns:${ns}`);
      if (forWrite) keys.push(`dpg:gen:${table2}:any`);
    }
    if (!forWrite) keys.push(`dpg:gen:${table2}`);
  }
  for (const table2 of scope.whole) keys.push(`dpg:gen:${table2}`);
  return [...new Set(keys)].sort();
}
var ResultCache = class {
  constructor(url, ttlSeconds, log) {
    this.ttlSeconds = ttlSeconds;
    this.log = log;
    this.redis = new Redis(url, {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 1e3,
      commandTimeout: 1e3,
      retryStrategy: (times) => Math.min(100 * times, 2e3)
    });
    this.redis.on("error", () => {
    });
    this.redis.on("ready", () => {
      if (this.suspect) void this.recover();
    });
  }
  ttlSeconds;
  log;
  redis;
  /** A bump failed: no lookups or stores until the epoch has been bumped. */
  suspect = false;
  recovering = null;
  /** Fault injection (invalidate's failForTest): Redis counts as unreachable from here until then. */
  unreachableUntil = 0;
  initialEpoch() {
    return String(randomInt(1, 2 ** 47));
  }
  /** The key base of a read: everything the result depends on but the generations. */
  static statementKey(parts) {
    return `dpg:result:${createHash3("sha256").update(JSON.stringify(parts)).digest("base64url")}`;
  }
  /** A cached result, or a function that stores the result about to be produced (null: do not store). */
  async lookup(base, scope) {
    if (this.suspect || this.redis.status !== "ready") {
      metrics()?.resultCache.inc({ result: "bypass" });
      return { store: null };
    }
    const keys = [EPOCH_KEY, ...generationKeys(scope, false)];
    let answer;
    try {
      answer = await withTimeout(this.redis.eval(LOOKUP_SCRIPT, keys.length, ...keys, base, this.initialEpoch()), LOOKUP_TIMEOUT_MS);
    } catch {
      metrics()?.resultCache.inc({ result: "error" });
      return { store: null };
    }
    const [key, value] = answer;
    if (value !== null) {
      metrics()?.resultCache.inc({ result: "hit" });
      return { hit: cachedStream(JSON.parse(value)) };
    }
    metrics()?.resultCache.inc({ result: "miss" });
    return {
      store: (result) => {
        const text = JSON.stringify(result);
        if (text.length > MAX_CACHED_BYTES || this.suspect) return;
        this.redis.set(key, text, "EX", this.ttlSeconds).catch(() => {
        });
      }
    };
  }
  /** Called after a write committed and before its client is told: what it changed is looked up under new keys. */
  /**
   * Bumps the generations of what a write changed. False when Redis could not be told:
   * this coordinator then bypasses the cache until it has bumped the epoch, and the
   * caller must make the other coordinators do the same (markSuspect) before the write
   * is acknowledged, or they could serve results from before it until their TTL.
   */
  async invalidate(what2, options = {}) {
    if (what2.length === 0) return true;
    const keys = what2.includes("everything") ? [EPOCH_KEY, EPOCH_KEY] : [EPOCH_KEY, ...new Set(what2.flatMap((scope) => generationKeys(scope, true)))];
    try {
      if (this.suspect) throw new Error("the cache is recovering");
      if (options.failForTest) {
        this.unreachableUntil = Date.now() + 3e3;
        throw new Error("fault injection");
      }
      await withTimeout(this.redis.eval(BUMP_SCRIPT, keys.length, ...keys, this.initialEpoch()), INVALIDATE_TIMEOUT_MS);
      return true;
    } catch (error) {
      this.markSuspect(`invalidation failed (${error.message})`);
      return false;
    }
  }
  /** No lookups or stores here until the epoch has been bumped (which invalidates every entry). */
  markSuspect(why) {
    if (!this.suspect) this.log(`result cache: ${why}; the cache is bypassed until its epoch is bumped`);
    this.suspect = true;
    void this.recover();
  }
  recover() {
    this.recovering ??= (async () => {
      while (this.suspect) {
        try {
          if (this.redis.status === "ready" && Date.now() >= this.unreachableUntil) {
            await this.redis.incr(EPOCH_KEY);
            this.suspect = false;
            this.log("result cache: epoch bumped; the cache is in use again");
            break;
          }
        } catch {
        }
        await new Promise((resolve3) => setTimeout(resolve3, 500));
      }
    })().finally(() => {
      this.recovering = null;
    });
    return this.recovering;
  }
  async close() {
    this.redis.disconnect();
  }
};
function withTimeout(promise, ms2) {
  return new Promise((resolve3, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms2);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve3(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      }
    );
  });
}
function cachedStream(result) {
  const rows = result.rows.map((r) => Buffer.from(r, "base64"));
  const description = result.description === null ? null : Buffer.from(result.description, "base64");
  let next = 0;
  return {
    description: async () => description,
    nextRow: async () => rows[next++] ?? null,
    tag: () => result.tag,
    close: async () => {
    }
  };
}
function recordingStream(stream, store) {
  const rows = [];
  let bytes = 0;
  let description = null;
  let complete = false;
  let failed = false;
  return {
    description: async () => description = await stream.description(),
    nextRow: async () => {
      try {
        const row = await stream.nextRow();
        if (row) {
          bytes += row.length;
          if (bytes <= MAX_CACHED_BYTES) rows.push(row.toString("base64"));
          else failed = true;
        } else complete = true;
        return row;
      } catch (error) {
        failed = true;
        throw error;
      }
    },
    tag: () => stream.tag(),
    close: async () => {
      if (complete && !failed && description === null) description = await stream.description().catch(() => null);
      await stream.close();
      if (complete && !failed) {
        store({ description: description === null ? null : description.toString("base64"), rows, tag: stream.tag() });
      }
    },
    get empty() {
      return stream.empty;
    }
  };
}

// src/executor/cache-scope.ts
function namespacesOf(values, bindings) {
  if (!values) return null;
  const resolved = resolveKeyValues(values, routingParams(bindings, [values]));
  return resolved === "unknown" ? null : resolved.filter((v) => v !== null);
}
function readScope(plan, bindings) {
  const scope = { distributed: [], whole: [] };
  const distributed = plan.relations.filter((t) => t.kind === "distributed");
  for (const table2 of plan.relations) if (table2.kind === "reference") scope.whole.push(table2.name);
  distributed.forEach((table2, i) => {
    const values = plan.pinnedEach ? plan.pinnedEach[i] ?? null : plan.keyValues;
    scope.distributed.push({ table: table2.name, namespaces: namespacesOf(values, bindings) });
  });
  return scope;
}
function writeInvalidation(plan, bindings) {
  switch (plan.kind) {
    case "distributed": {
      if (plan.readOnly) return null;
      const distributed = plan.relations.filter((t) => t.kind === "distributed");
      if (plan.anchor.kind === "reference") return { distributed: [], whole: plan.relations.map((t) => t.name) };
      return { distributed: distributed.map((t, i) => ({ table: t.name, namespaces: namespacesOf(plan.pinnedEach ? plan.pinnedEach[i] ?? null : plan.keyValues, bindings) })), whole: [] };
    }
    case "insert":
      if (plan.source) return { distributed: [], whole: [plan.table.name] };
      return { distributed: [{ table: plan.table.name, namespaces: namespacesOf(plan.rowKeys, bindings) }], whole: [] };
    case "reference-write":
      return { distributed: [], whole: plan.relations.map((t) => t.name) };
    case "copy":
      return plan.direction === "in" ? { distributed: [], whole: [plan.table.name] } : null;
    case "ddl":
    case "drop-index":
    case "distribution-function":
      return "everything";
    default:
      return null;
  }
}

// src/planner/lexing-settings.ts
var LEXING_SETTINGS2 = {
  // PostgreSQL's boolean spellings (parse_bool): on, true, yes, 1 and their prefixes.
  standard_conforming_strings: (value) => /^(on|t|tr|tru|true|y|ye|yes|1)$/i.test(value.trim()),
  // The names PostgreSQL accepts for UTF-8 (pg_char_to_encoding ignores case and punctuation).
  client_encoding: (value) => /^(utf8|unicode)$/i.test(value.replace(/[^A-Za-z0-9]/g, ""))
};
function refused(name, value) {
  return new ClientError(
    SqlState.featureNotSupported,
    `setting ${name} to ${value} is not supported by dpg: the coordinator parses every statement as PostgreSQL does with standard_conforming_strings = on and client_encoding = UTF8, and a node reading the same text otherwise could run something else than what was planned`
  );
}
function checkLexingSetting(name, value) {
  const accepts = LEXING_SETTINGS2[name.toLowerCase()];
  return accepts && !accepts(value) ? refused(name.toLowerCase(), value) : null;
}
function checkSetStatement(body) {
  const kind = body.kind;
  if (kind !== "VAR_SET_VALUE" || typeof body.name !== "string") return null;
  const values = (body.args ?? []).map((arg) => constantValue(arg) ?? "");
  return checkLexingSetting(body.name, values.join(", "));
}
function checkSetConfigCalls(node) {
  let error = null;
  walkBuiltinCalls(node, (function_, call) => {
    if (function_ !== "set_config") return void 0;
    const args2 = call.args ?? [];
    if (args2[0] !== void 0 && unwrapNode(args2[0])[0] === "ParamRef") return void 0;
    const name = args2[0] === void 0 ? void 0 : constantValue(args2[0]);
    if (typeof name !== "string") {
      error = new ClientError(SqlState.featureNotSupported, "set_config() with a setting name that is not a constant is not supported by dpg: it could change how the nodes read SQL (standard_conforming_strings, client_encoding)");
      return false;
    }
    if (!(name.toLowerCase() in LEXING_SETTINGS2)) return void 0;
    const setting = args2[1] === void 0 ? void 0 : constantValue(args2[1]);
    error = typeof setting === "string" ? checkLexingSetting(name, setting) : refused(name.toLowerCase(), "a value that is not a constant");
    return error ? false : void 0;
  });
  return error;
}

// src/executor/session-executor.ts
var SIMPLE = { extended: false, params: [], paramFormats: [], paramTypes: [], resultFormats: [] };
var IDLE_IN_TRANSACTION_TIMEOUT = "idle_in_transaction_session_timeout";
var STARTUP_KEYS_NOT_SETTINGS = /* @__PURE__ */ new Set(["user", "database", "client_encoding", "replication", "options"]);
var SessionExecutor = class {
  constructor(coordinator, session) {
    this.coordinator = coordinator;
    this.session = session;
    this.transaction = new SessionTransaction(coordinator, session.processId, session.user);
  }
  coordinator;
  session;
  transaction;
  statements = /* @__PURE__ */ new Map();
  portals = /* @__PURE__ */ new Map();
  /** After an error in the extended protocol, messages are skipped until Sync. */
  skipUntilSync = false;
  /** A COPY FROM STDIN receiving data; `simple` when it came by the simple query protocol. */
  copyIn = null;
  get output() {
    return this.session.output;
  }
  context(bindings, statement) {
    return {
      coordinator: this.coordinator,
      transaction: this.transaction,
      onNotice: (frame) => this.output.write(frame),
      bindings: statement ? {
        ...bindings,
        visibleColumns: async () => (await this.describeStatement(statement)).columns,
        describedParameterTypes: async () => (await this.describeStatement(statement)).parameterTypes
      } : bindings
    };
  }
  /** Startup parameters other than user/database (application_name, DateStyle, options -c x=y) become session settings. */
  async applyStartupParameters(parameters) {
    const settings = Object.entries(parameters).filter(([k]) => !STARTUP_KEYS_NOT_SETTINGS.has(k));
    const options = parameters.options ?? "";
    for (const match of options.matchAll(/(?:-c\s*|--)([A-Za-z0-9_.]+)=((?:\\.|[^\s\\])*)/g)) settings.push([match[1], match[2].replace(/\\(.)/g, "$1")]);
    for (const [name, value] of settings) {
      const key = name.toLowerCase();
      const lexing = checkLexingSetting(key, value);
      if (lexing) throw lexing;
      this.transaction.recordSetting(key, `SET ${quoteIdent2(key)} = '${value.replace(/'/g, "''")}'`, false);
    }
    if (settings.some(([name]) => name.toLowerCase() === IDLE_IN_TRANSACTION_TIMEOUT)) {
      try {
        await this.refreshIdleInTransactionTimeout();
      } finally {
        this.transaction.endStatement();
      }
    }
  }
  /**
   * idle_in_transaction_session_timeout as the session has it now, in ms (0: off). The
   * coordinator enforces it itself (ClientSession): a node only sees its own connection
   * idle, not the client. Read from the control group, which parses the units.
   */
  idleInTransactionTimeoutMs = 0;
  async refreshIdleInTransactionTimeout() {
    const connection = await this.transaction.connection(0);
    const { rows } = await connection.simpleQuery(`SELECT setting FROM pg_catalog.pg_settings WHERE name = '${IDLE_IN_TRANSACTION_TIMEOUT}'`);
    this.idleInTransactionTimeoutMs = Number(rows[0]?.[0] ?? 0);
  }
  // ---- simple query protocol -------------------------------------------------
  async simpleQuery(sql) {
    try {
      const planned = await this.plan(sql);
      if (planned.length === 0) this.output.write(EMPTY_QUERY_RESPONSE);
      for (const statement of planned) {
        if (await this.runStatement(statement, SIMPLE, { describe: true, maxRows: 0 }, null) === "copy-in") return;
      }
    } catch (error) {
      this.writeError(error);
      this.transaction.fail();
    } finally {
      this.transaction.endStatement();
    }
    this.output.write(readyForQuery(this.transaction.status));
    this.output.flush();
  }
  plan(sql) {
    return this.coordinator.plans.planAsync(sql, this.coordinator.snapshot);
  }
  /**
   * Runs one statement and writes its result. `portal` is set for the extended
   * protocol: an unfinished result stays in it for the next Execute.
   */
  async runStatement(planned, bindings, options, portal) {
    const plan = planned.plan;
    if (this.transaction.status === "E" && !(plan.kind === "transaction" && (plan.action === "commit" || plan.action === "rollback" || plan.action === "rollback-to"))) {
      throw new ClientError(SqlState.inFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block");
    }
    if (plan.kind === "copy" && plan.direction === "in" || plan.kind === "control" && plan.copyIn) {
      const ctx = this.context(bindings);
      const snapshot = this.coordinator.snapshot;
      const copy2 = plan.kind === "copy" ? await CopyIn.start(ctx, withCurrentTables(plan, (table2) => snapshot.tables.get(table2.name) ?? table2)) : await CopyRelay.start(ctx, plan.sql);
      this.copyIn = { copy: copy2, simple: !bindings.extended, invalidation: this.coordinator.resultCache ? writeInvalidation(plan, bindings) : null };
      this.output.write(this.copyIn.copy.response());
      this.output.flush();
      return "copy-in";
    }
    let stream = portal?.stream ?? null;
    const invalidation = this.coordinator.resultCache ? writeInvalidation(plan, bindings) : null;
    if (!stream) {
      try {
        stream = await this.openFollowingFailover(plan, bindings, portal?.statement);
      } catch (error) {
        await this.wrote(invalidation).catch(() => {
        });
        this.afterError(error);
        throw this.failoverError(plan, error);
      }
      if (portal) portal.stream = stream;
    }
    try {
      if (options.describe) {
        const description = await stream.description();
        if (description) this.output.write(description);
        else if (portal) this.output.write(NO_DATA);
      }
      let sent = 0;
      for (; ; ) {
        if (options.maxRows > 0 && sent >= options.maxRows) {
          this.output.write(PORTAL_SUSPENDED);
          if (portal) portal.suspended = true;
          return "done";
        }
        const row = await stream.nextRow();
        if (!row) break;
        this.output.write(row);
        sent++;
        if (this.output.backlogged) await this.output.drained();
      }
      const tag = portal?.suspended ? stream.tag().replace(/\d+$/, String(sent)) : stream.tag();
      if (plan.kind === "control" && plan.sessionConfig) await this.keepSessionConfig(plan.sessionConfig, bindings);
      await this.wrote(invalidation);
      if (stream.empty) this.output.write(EMPTY_QUERY_RESPONSE);
      else this.output.write(encodeCommandComplete(tag));
      if (portal) portal.completedTag = tag;
      await stream.close();
      if (portal) portal.stream = null;
      return "done";
    } catch (error) {
      await stream.close().catch(() => {
      });
      if (portal) portal.stream = null;
      await this.wrote(invalidation).catch(() => {
      });
      this.afterError(error);
      throw this.failoverError(plan, error);
    }
  }
  /**
   * Opens a statement's result; when a worker connection is refused or breaks, follows
   * the failover: a read outside a block (nothing sent to the client yet: its first
   * row is read before) and a write that never reached a worker run again once the
   * group has a primary, for at most the coordinator's failover wait.
   */
  async openFollowingFailover(plan, bindings, statement) {
    const read = plan.kind === "distributed" && plan.readOnly;
    const write = writesRows(plan);
    const deadline = Date.now() + this.coordinator.failoverWaitMs;
    let forcePrimary = false;
    let movedRetries = 0;
    for (; ; ) {
      let stream = null;
      this.transaction.forcePrimary = forcePrimary;
      try {
        stream = await this.open(plan, bindings, statement);
        return (read || write) && !this.transaction.inBlock ? await PrefetchedStream.of(stream) : stream;
      } catch (error) {
        if (stream) await stream.close().catch(() => {
        });
        const kind = failureKind(error);
        if (shardMovedAway(error) || error instanceof PlacementsChangedError) {
          if (this.transaction.inBlock) throw error instanceof PlacementsChangedError ? error : new ShardMovedError(error);
          if (++movedRetries > 3) throw error;
          this.transaction.endStatement();
          await this.coordinator.reloadCatalog();
          continue;
        }
        const refusedByStandby = read && error instanceof ServerError && error.sqlstate === "25006";
        const retry = !this.transaction.inBlock && (read && kind !== "other" || write && kind === "not-sent");
        if (!retry || Date.now() >= deadline || refusedByStandby && forcePrimary) throw error;
        metrics()?.failoverRetries.inc({ outcome: "retried" });
        this.transaction.endStatement();
        if (refusedByStandby && !forcePrimary) {
          forcePrimary = true;
          continue;
        }
        await this.coordinator.leaderChange(Math.max(0, Math.min(250, deadline - Date.now())));
      } finally {
        this.transaction.forcePrimary = false;
      }
    }
  }
  /** What the client is told when a worker connection broke under a statement. */
  failoverError(plan, error) {
    if (failureKind(error) !== "lost") return error;
    if (this.transaction.inBlock) return new BlockLostError(error);
    if (writesRows(plan) || plan.kind === "control" || plan.kind === "ddl") {
      metrics()?.failoverRetries.inc({ outcome: "unknown" });
      return new OutcomeUnknownError(plan.kind === "ddl" || plan.kind === "control" ? "the statement" : "the write", error);
    }
    return error;
  }
  /**
   * A write ran (or may have): outside a block its changes are visible now, so the
   * result cache forgets what they touched at once; inside one, at COMMIT.
   */
  async wrote(invalidation) {
    if (!this.coordinator.resultCache || !invalidation) return;
    if (this.transaction.inBlock) this.pendingInvalidations.push(invalidation);
    else await this.invalidate([invalidation]);
  }
  /** Invalidates, or has every coordinator bypass the cache, before the write is acknowledged. */
  async invalidate(what2) {
    const cache = this.coordinator.resultCache;
    if (!cache) return;
    if (await cache.invalidate(what2, { failForTest: this.transaction.faultPoint("cache-invalidate") })) return;
    await this.coordinator.cacheInvalidationFailed(this.transaction.faultPoint("cache-notify"));
  }
  pendingInvalidations = [];
  /** The block ended: a committed block's writes leave the cache before the client hears COMMIT; a rolled back one changed nothing. */
  async blockEnded(committed) {
    const pending = this.pendingInvalidations;
    this.pendingInvalidations = [];
    if (committed && pending.length > 0) await this.invalidate(pending);
  }
  /** An error inside a transaction block fails the block, as in PostgreSQL. */
  afterError(_error) {
    this.transaction.fail();
  }
  async open(planned, bindings, statement) {
    const ctx = this.context(bindings, statement);
    const snapshot = this.coordinator.snapshot;
    const plan = withCurrentTables(planned, (table2) => snapshot.tables.get(table2.name) ?? table2);
    switch (plan.kind) {
      case "control":
        return runControl(ctx, plan);
      case "distributed":
        return this.cachedRead(ctx, plan) ?? runDistributed(ctx, plan);
      case "insert":
        return runInsert(ctx, plan);
      case "reference-write":
        return runReferenceWrite(ctx, plan);
      case "transaction":
        metrics()?.statements.inc({ route: "local" });
        return new LocalResultStream(await this.transactionCommand(plan));
      case "set":
        metrics()?.statements.inc({ route: "local" });
        return new LocalResultStream(await this.setCommand(plan));
      case "empty": {
        const empty = new LocalResultStream("");
        return Object.assign(empty, { empty: true });
      }
      case "ddl":
        return runDdl(ctx, plan);
      case "drop-index":
        return runDropIndex(ctx, plan);
      case "distribution-function":
        return runDistributionFunction(ctx, plan);
      case "copy":
        if (plan.direction === "in") throw new Error("COPY FROM STDIN is started by runStatement");
        return new CopyOutStream(ctx, plan, await copyHeaderLine(ctx, plan));
      case "local":
        metrics()?.statements.inc({ route: "local" });
        return new LocalResultStream(plan.tag);
      case "unsupported":
        throw plan.error;
      default: {
        const never = plan;
        throw new Error(`unknown plan ${JSON.stringify(never)}`);
      }
    }
  }
  /** A read the result cache may answer: outside transaction blocks, deterministic, on distributed or reference tables. */
  cachedRead(ctx, plan) {
    const cache = this.coordinator.resultCache;
    if (!cache || !plan.cacheable || this.transaction.inBlock) return null;
    const { bindings } = ctx;
    return (async () => {
      const base = ResultCache.statementKey([
        plan.template,
        bindings.params.map((p) => p === null ? null : p.toString("base64")),
        bindings.paramFormats,
        bindings.paramTypes,
        bindings.resultFormats,
        this.transaction.settingsFingerprint,
        // Each role sees what its privileges and row-level security let it see: no result crosses roles.
        this.transaction.role ?? ""
      ]);
      const found = await cache.lookup(base, readScope(plan, bindings));
      if ("hit" in found) return found.hit;
      const stream = await runDistributed(ctx, plan);
      return found.store ? recordingStream(stream, found.store) : stream;
    })();
  }
  warn(code, message) {
    this.output.write(encodeNoticeResponse({ severity: "WARNING", severityNonLocalized: "WARNING", code, message }));
  }
  async transactionCommand(plan) {
    const t = this.transaction;
    switch (plan.action) {
      case "begin":
        if (t.inBlock && this.batchBlock) this.batchBlock = false;
        else if (t.inBlock) this.warn("25001", "there is already a transaction in progress");
        else t.begin(plan.sql);
        return plan.tag;
      case "commit":
        if (!t.inBlock) {
          this.warn("25P01", "there is no transaction in progress");
          return "COMMIT";
        }
        await this.closePortalsAtEndOfBlock();
        try {
          const tag = await t.commit();
          await this.blockEnded(tag === "COMMIT");
          return tag;
        } catch (error) {
          await this.blockEnded(true).catch(() => {
          });
          throw error;
        }
      case "rollback":
        if (!t.inBlock) this.warn("25P01", "there is no transaction in progress");
        else {
          await this.closePortalsAtEndOfBlock();
          await t.rollback();
          await this.blockEnded(false);
        }
        return "ROLLBACK";
      case "savepoint":
      case "release":
      case "rollback-to": {
        if (!t.inBlock) throw new ClientError("25P01", `${plan.tag === "ROLLBACK" ? "ROLLBACK TO SAVEPOINT" : plan.tag} can only be used in transaction blocks`);
        await t.onEveryBegunGroup(plan.sql);
        t.recordLocalSetting(plan.sql);
        if (plan.action === "rollback-to") t.status = "T";
        return plan.tag;
      }
      default:
        throw new ClientError(SqlState.featureNotSupported, `${plan.tag} is not supported`);
    }
  }
  async setCommand(plan) {
    const t = this.transaction;
    if (plan.local) {
      if (!t.inBlock) {
        this.warn("25P01", `${plan.sql.split(/\s+/).slice(0, 2).join(" ").toUpperCase()} can only be used in transaction blocks`);
        return plan.tag;
      }
      await t.onEveryBegunGroup(plan.sql);
      t.recordLocalSetting(plan.sql);
      return plan.tag;
    }
    const connection = await t.connection(0);
    SessionTransaction.settingsChanged(connection);
    await connection.simpleQuery(plan.sql);
    t.recordSetting(plan.name?.toLowerCase() ?? null, plan.sql, plan.reset);
    if (plan.name === null || plan.name.toLowerCase() === IDLE_IN_TRANSACTION_TIMEOUT) await this.refreshIdleInTransactionTimeout();
    if (t.inBlock) {
      t.heldSettingsChanged();
      await t.onEveryBegunGroup(plan.sql);
    }
    return plan.tag;
  }
  /**
   * set_config() ran on the connection that answered the statement: the session keeps it
   * like SET (applied to every node connection it uses from now on), or like SET LOCAL
   * for is_local inside a block (sent to the block's other groups too).
   */
  async keepSessionConfig(calls, bindings) {
    const text = (ref) => {
      if ("value" in ref) return ref.value;
      const param = bindings.params[ref.param - 1];
      if (param === null || param === void 0) throw new ClientError("22004", "set_config() got a NULL setting name or value");
      return param.toString("utf8");
    };
    const t = this.transaction;
    for (const call of calls) {
      const name = text(call.name).toLowerCase();
      const sql = `SELECT pg_catalog.set_config(${quoteLiteral(name)}, ${quoteLiteral(text(call.value))}, ${call.local})`;
      if (call.local) {
        if (!t.inBlock) continue;
        await t.onEveryBegunGroup(sql);
        t.recordLocalSetting(sql);
        continue;
      }
      t.recordSetting(name, sql, false);
      for (const connection of t.connections()) SessionTransaction.settingsChanged(connection);
      if (t.inBlock) await t.onEveryBegunGroup(sql);
      if (name === IDLE_IN_TRANSACTION_TIMEOUT) await this.refreshIdleInTransactionTimeout();
    }
  }
  // ---- extended query protocol -----------------------------------------------
  async parse(name, sql, parameterTypes) {
    if (this.skipUntilSync) return;
    try {
      if (name !== "" && this.statements.has(name)) throw new ClientError("42P05", `prepared statement "${name}" already exists`);
      const planned = await this.plan(sql);
      if (planned.length > 1) throw new ClientError(SqlState.syntaxError, "cannot insert multiple commands into a prepared statement");
      this.statements.set(name, { sql, planned: planned[0] ?? null, paramTypes: parameterTypes });
      this.output.write(PARSE_COMPLETE);
    } catch (error) {
      this.extendedError(error);
    }
  }
  async bind(message) {
    if (this.skipUntilSync) return;
    try {
      const statement = this.statements.get(message.statement);
      if (!statement) throw new ClientError(SqlState.invalidSqlStatementName, `prepared statement "${message.statement}" does not exist`);
      if (message.portal !== "" && this.portals.has(message.portal)) throw new ClientError("42P03", `cursor "${message.portal}" already exists`);
      await this.closePortal(message.portal);
      this.portals.set(message.portal, {
        statement,
        bindings: {
          extended: true,
          params: message.parameters,
          paramFormats: message.parameterFormats,
          paramTypes: statement.paramTypes,
          resultFormats: message.resultFormats
        },
        stream: null,
        suspended: false,
        completedTag: null
      });
      this.output.write(BIND_COMPLETE);
    } catch (error) {
      this.extendedError(error);
    }
  }
  async describe(kind, name) {
    if (this.skipUntilSync) return;
    try {
      if (kind === "S") {
        const statement = this.statements.get(name);
        if (!statement) throw new ClientError(SqlState.invalidSqlStatementName, `prepared statement "${name}" does not exist`);
        const description2 = await this.describeStatement(statement);
        this.output.write(encodeBackend({ type: "ParameterDescription", typeOids: description2.parameterTypes }));
        this.output.write(description2.rowDescription ?? NO_DATA);
        return;
      }
      const portal = this.portals.get(name);
      if (!portal) throw new ClientError(SqlState.invalidCursorName, `portal "${name}" does not exist`);
      const planned = portal.statement.planned;
      if (!planned || planned.plan.kind === "transaction" || planned.plan.kind === "set" || planned.plan.kind === "local" || portal.completedTag !== null || this.transaction.status === "E") {
        this.output.write(NO_DATA);
        return;
      }
      if (!portal.stream) {
        try {
          portal.stream = await this.openFollowingFailover(planned.plan, portal.bindings, portal.statement);
        } catch (error) {
          this.afterError(error);
          throw this.failoverError(planned.plan, error);
        }
      }
      let description;
      try {
        description = await portal.stream.description();
      } catch (error) {
        await portal.stream.close().catch(() => {
        });
        portal.stream = null;
        this.afterError(error);
        throw this.failoverError(planned.plan, error);
      }
      this.output.write(description ?? NO_DATA);
    } catch (error) {
      this.extendedError(error);
    }
  }
  /** Parameter and result types of a statement, from the control group's shell tables (client OIDs). */
  async describeStatement(statement) {
    if (statement.description) return statement.description;
    const plan = statement.planned?.plan;
    if (!plan || plan.kind === "transaction" || plan.kind === "set" || plan.kind === "local" || plan.kind === "empty" || plan.kind === "ddl" || plan.kind === "drop-index" || plan.kind === "copy") {
      statement.description = { parameterTypes: [], rowDescription: null, columns: 0 };
      return statement.description;
    }
    if (plan.kind === "distribution-function") {
      const fields = functionResultFields(plan.name);
      statement.description = { parameterTypes: [], rowDescription: encodeRowDescription(fields), columns: fields.length };
      return statement.description;
    }
    if (plan.kind === "unsupported") throw plan.error;
    const connection = await this.transaction.connection(0);
    connection.write(
      Buffer.concat([
        encodeFrontend({ type: "Parse", name: "", sql: statement.sql, parameterTypes: statement.paramTypes }),
        encodeFrontend({ type: "Describe", kind: "S", name: "" }),
        SYNC
      ])
    );
    let parameterTypes = [];
    let rowDescription = null;
    let columns = 0;
    try {
      await connection.readUntilReady((frame) => {
        if (frame.code === BackendCode.ParameterDescription) {
          const m = decodeBackend(frame);
          if (m.type === "ParameterDescription") parameterTypes = m.typeOids;
        } else if (frame.code === BackendCode.RowDescription) {
          rowDescription = Buffer.from(frame.raw);
          columns = frame.body.readInt16BE(0);
        }
      });
    } finally {
      if (!this.transaction.inBlock) this.transaction.endStatement();
    }
    statement.description = { parameterTypes, rowDescription, columns };
    return statement.description;
  }
  async execute(portalName, maxRows) {
    if (this.skipUntilSync) return;
    try {
      const portal = this.portals.get(portalName);
      if (!portal) throw new ClientError(SqlState.invalidCursorName, `portal "${portalName}" does not exist`);
      if (!portal.statement.planned) {
        this.output.write(EMPTY_QUERY_RESPONSE);
        return;
      }
      if (portal.completedTag !== null) {
        this.output.write(encodeCommandComplete(portal.completedTag.replace(/\d+$/, "0")));
        return;
      }
      const plan = portal.statement.planned.plan;
      const writes = writesRows(plan);
      if (writes && !this.transaction.inBlock && portal.stream === null && !this.session.syncIsNext()) {
        this.transaction.begin("BEGIN");
        this.batchBlock = true;
      }
      await this.runStatement(portal.statement.planned, portal.bindings, { describe: false, maxRows }, portal);
    } catch (error) {
      this.extendedError(error);
    }
  }
  /** A transaction block dpg opened for a pipelined batch; it ends at Sync. */
  batchBlock = false;
  async endBatchBlock() {
    if (!this.batchBlock) return;
    this.batchBlock = false;
    if (!this.transaction.inBlock) return;
    try {
      if (this.transaction.status === "E") {
        await this.transaction.rollback();
        await this.blockEnded(false);
      } else {
        await this.transaction.commit().finally(() => this.blockEnded(true));
      }
    } catch (error) {
      this.writeError(error);
    }
  }
  async closeObject(kind, name) {
    if (this.skipUntilSync) return;
    if (kind === "S") this.statements.delete(name);
    else await this.closePortal(name);
    this.output.write(CLOSE_COMPLETE);
  }
  /** Portals end with their transaction, as in PostgreSQL (dpg has no WITH HOLD cursors). */
  async closePortalsAtEndOfBlock() {
    for (const [name, portal] of [...this.portals]) {
      if (portal.stream) await this.closePortal(name);
    }
  }
  async closePortal(name) {
    const portal = this.portals.get(name);
    if (!portal) return;
    this.portals.delete(name);
    await portal.stream?.close().catch(() => {
    });
  }
  async sync() {
    this.skipUntilSync = false;
    await this.endBatchBlock();
    if (!this.transaction.inBlock) {
      for (const name of [...this.portals.keys()]) await this.closePortal(name);
      this.transaction.endStatement();
    }
    this.output.write(readyForQuery(this.transaction.status));
    this.output.flush();
  }
  async flush() {
    this.output.flush();
  }
  get inCopyIn() {
    return this.copyIn !== null;
  }
  /** CopyData, CopyDone and CopyFail; outside COPY FROM STDIN they are ignored, as PostgreSQL does. */
  async copyMessage(message) {
    const state = this.copyIn;
    if (!state) return;
    if (message.type === "CopyData") {
      await state.copy.data(message.data);
      return;
    }
    this.copyIn = null;
    try {
      if (message.type === "CopyFail") {
        await state.copy.abort();
        throw new ClientError(SqlState.queryCanceled, `COPY from stdin failed: ${message.message}`);
      }
      let tag;
      try {
        tag = await state.copy.done();
      } finally {
        await this.wrote(state.invalidation);
      }
      this.output.write(encodeCommandComplete(tag));
    } catch (error) {
      if (state.simple) {
        this.writeError(error);
        this.transaction.fail();
      } else this.extendedError(error);
    }
    if (state.simple) {
      this.transaction.endStatement();
      this.output.write(readyForQuery(this.transaction.status));
    }
    this.output.flush();
  }
  /**
   * A FunctionCall ('F'): PostgreSQL answers it like a simple query, with its result or an
   * error and then ReadyForQuery, and ignores it while skipping to Sync after an error
   * (SocketBackend in postgres.c). dpg does not run the fast-path interface (its function
   * OIDs are one node's), so the answer is an error.
   */
  async functionCall() {
    if (this.skipUntilSync) return;
    this.writeError(new ClientError(SqlState.featureNotSupported, "the fast-path function call interface is not supported by dpg: call the function in a SELECT"));
    this.transaction.fail();
    this.output.write(readyForQuery(this.transaction.status));
    this.output.flush();
  }
  extendedError(error) {
    this.writeError(error);
    this.skipUntilSync = true;
    this.transaction.fail();
  }
  writeError(error) {
    const fields = errorFields(error);
    metrics()?.errors.inc({ sqlstate_class: (fields.code ?? "XX").slice(0, 2) });
    if (fields.code === SqlState.internalError && !(error instanceof ClientError)) {
      this.coordinator.log(`session ${this.session.processId}: ${error?.stack ?? String(error)}`);
    }
    this.output.write(encodeErrorResponse(fields));
  }
  cancel() {
    for (const connection of this.transaction.busy) void connection.cancel();
  }
  async close() {
    for (const connection of this.transaction.busy) {
      void connection.cancel();
      connection.destroy();
    }
    if (this.copyIn) await this.copyIn.copy.abort();
    this.copyIn = null;
    for (const name of [...this.portals.keys()]) await this.closePortal(name);
    await this.transaction.close();
  }
};
function writesRows(plan) {
  return plan.kind === "insert" || plan.kind === "reference-write" || plan.kind === "distributed" && !plan.readOnly;
}
function quoteIdent2(name) {
  return /^[a-z_][a-z0-9_.]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

// src/server/client-session.ts
var MAX_AUTHENTICATION_MESSAGE_BYTES = 65535;
var ClientSession = class _ClientSession {
  constructor(socket, coordinator, processId) {
    this.coordinator = coordinator;
    this.socket = socket;
    this.processId = processId;
    this.output = new ClientOutput(socket);
    socket.setNoDelay(true);
    this.authenticationTimer = setTimeout(() => {
      this.authenticationTimer = null;
      if (!this.authenticated) this.close();
    }, coordinator.authenticationTimeoutMs);
    this.authenticationTimer.unref();
    this.listen(socket);
  }
  coordinator;
  state = "awaiting-startup" /* AwaitingStartup */;
  processId;
  /** Non-negative, so it reads the same whether a client treats it as signed or unsigned. */
  secretKey = randomInt2(1, 2147483647);
  user = "";
  database = "";
  startupParameters = {};
  reader = new FrameReader({ startup: true, maxMessageBytes: MAX_AUTHENTICATION_MESSAGE_BYTES });
  /** Took a client slot (see Coordinator.sessionAuthenticated). */
  authenticated = false;
  authenticationTimer;
  output;
  scram = null;
  scramUserKnown = false;
  executor = null;
  /** Frames are handled one at a time, in order, even when handling awaits. */
  /** Messages read but not handled yet: pending[pendingHead] is the next (a queue without O(n) shifts). */
  pending = [];
  pendingHead = 0;
  /** Bytes of those messages: past INPUT_PAUSE_BYTES the socket is no longer read (a pipelining client waits, as with PostgreSQL). */
  pendingBytes = 0;
  inputPaused = false;
  static INPUT_PAUSE_BYTES = 1024 * 1024;
  static INPUT_RESUME_BYTES = 256 * 1024;
  working = false;
  /** The client's socket: the TCP connection, or the TLS socket over it after SSLRequest. */
  socket;
  /** TLS was negotiated (SSLRequest answered 'S'). */
  encrypted = false;
  onData = (chunk) => this.receive(chunk);
  onGone = () => this.close();
  listen(socket) {
    socket.on("data", this.onData);
    socket.on("error", this.onGone);
    socket.on("close", this.onGone);
  }
  /**
   * SSLRequest answered 'S': the TLS handshake follows on the same connection and every
   * later byte goes through it. https://www.postgresql.org/docs/15/protocol-flow.html#id-1.10.6.7.12
   */
  startTls(context) {
    const raw = this.socket;
    raw.off("data", this.onData);
    raw.off("error", this.onGone);
    raw.off("close", this.onGone);
    raw.write(Buffer.from("S"));
    const secure = new TLSSocket(raw, { isServer: true, secureContext: context });
    this.socket = secure;
    this.output.useSocket(secure);
    this.encrypted = true;
    this.listen(secure);
  }
  receive(chunk) {
    if (this.state === "closed" /* Closed */) return;
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    try {
      for (const frame of this.reader.push(chunk)) {
        this.pending.push(frame);
        this.pendingBytes += frame.raw.length;
      }
    } catch (error) {
      this.fatal(error instanceof ProtocolError ? error : new ProtocolError(String(error)));
      return;
    }
    if (this.pendingBytes > _ClientSession.INPUT_PAUSE_BYTES && !this.inputPaused) {
      this.inputPaused = true;
      this.socket.pause();
    }
    if (this.pendingCount > 0 && this.reader.buffered > 0 && this.state === "awaiting-startup" /* AwaitingStartup */) {
      const frame = this.pending[this.pendingHead];
      if (frame.code === 0 && frame.body.length === 4) {
        this.fatal(new ProtocolError("received unencrypted data after SSL request"));
        return;
      }
    }
    void this.drain();
  }
  async drain() {
    if (this.working) return;
    this.working = true;
    try {
      while (this.pendingCount > 0 && this.state !== "closed" /* Closed */) {
        const frame = this.nextPending();
        await this.handle(frame);
      }
    } catch (error) {
      if (!(error instanceof ProtocolError) && !(error instanceof ClientError)) {
        this.coordinator.log(`session ${this.processId} (user ${this.user || "?"}): ${error.stack ?? String(error)}`);
      }
      this.fatal(error);
    } finally {
      this.working = false;
    }
    if (this.pendingCount === 0) this.armIdleInTransactionTimer();
  }
  get pendingCount() {
    return this.pending.length - this.pendingHead;
  }
  nextPending() {
    const frame = this.pending[this.pendingHead++];
    this.pendingBytes -= frame.raw.length;
    if (this.pendingHead >= 1024 && this.pendingHead * 2 >= this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
    if (this.inputPaused && this.pendingBytes < _ClientSession.INPUT_RESUME_BYTES) {
      this.inputPaused = false;
      this.socket.resume();
    }
    return frame;
  }
  idleTimer = null;
  /**
   * PostgreSQL's idle_in_transaction_session_timeout, at the coordinator: a session left
   * idle inside a transaction block (waiting for its client) that long is terminated
   * with FATAL 25P03, and its block rolled back.
   */
  armIdleInTransactionTimer() {
    const executor = this.executor;
    if (!executor || this.state !== "ready" /* Ready */ || !executor.transaction.inBlock || executor.idleInTransactionTimeoutMs <= 0) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.working || this.pendingCount > 0 || !executor.transaction.inBlock) return;
      this.fatal(new ClientError("25P03", "terminating connection due to idle-in-transaction timeout"));
    }, executor.idleInTransactionTimeoutMs);
    this.idleTimer.unref();
  }
  async handle(frame) {
    const message = decodeFrontend(frame);
    switch (this.state) {
      case "awaiting-startup" /* AwaitingStartup */:
        return this.handleStartup(message);
      case "authenticating" /* Authenticating */:
        return this.handleAuthentication(message);
      case "ready" /* Ready */:
        return this.handleReady(message);
      case "closed" /* Closed */:
        return;
      default: {
        const never = this.state;
        throw new ProtocolError(`unknown state ${String(never)}`);
      }
    }
  }
  handleStartup(message) {
    switch (message.type) {
      case "SSLRequest":
      case "GSSENCRequest": {
        if (this.encrypted) throw new ProtocolError(`unexpected ${message.type} on an encrypted connection`);
        const context = message.type === "SSLRequest" ? this.coordinator.tlsContext : null;
        this.reader.expectStartup();
        if (context) {
          this.startTls(context);
          return;
        }
        this.socket.write(Buffer.from("N"));
        if (this.reader.buffered > 0) this.receive(Buffer.alloc(0));
        return;
      }
      case "CancelRequest":
        this.coordinator.cancel(message.processId, message.secretKey);
        this.close();
        return;
      case "Startup": {
        if (message.protocolVersion >> 16 !== 3) {
          throw new ProtocolError(`unsupported frontend protocol ${message.protocolVersion >> 16}.${message.protocolVersion & 65535}: server supports 3.0`);
        }
        if ((message.protocolVersion & 65535) !== 0) {
          this.output.write(encodeBackend({ type: "NegotiateProtocolVersion", newestMinor: 0, unrecognized: Object.keys(message.parameters).filter((k) => k.startsWith("_pq_.")) }));
        }
        this.startupParameters = message.parameters;
        this.user = message.parameters.user ?? "";
        this.database = message.parameters.database ?? this.user;
        if (!this.user) throw new ClientError(SqlState.invalidAuthorization, "no PostgreSQL user name specified in startup packet");
        if (this.coordinator.tlsRequired && !this.encrypted) {
          throw new ClientError(SqlState.invalidAuthorization, `no pg_hba.conf entry for user "${this.user}", database "${this.database}", no encryption: this coordinator requires TLS (tls.required); connect with sslmode=require or stronger`);
        }
        if (this.coordinator.sessionCount() >= this.coordinator.maxClients) throw tooManyClients(this.coordinator.maxClients);
        const verifier = this.coordinator.verifierFor(this.user);
        this.scramUserKnown = verifier !== null;
        this.scram = new ScramServerSession(verifier ?? this.coordinator.mockVerifierFor(this.user));
        this.state = "authenticating" /* Authenticating */;
        const mechanisms = Buffer.from(`${SCRAM_MECHANISM}\0\0`);
        this.output.write(encodeBackend({ type: "Authentication", code: 10, data: mechanisms }));
        this.output.flush();
        return;
      }
      default:
        throw new ProtocolError(`expected a startup message, got ${message.type}`);
    }
  }
  async handleAuthentication(message) {
    if (message.type !== "Password" || !this.scram) throw new ProtocolError(`expected SASL response, got ${message.type}`);
    try {
      if (!this.scramStarted) {
        const initial = decodeSASLInitialResponse(message.data);
        if (initial.mechanism !== SCRAM_MECHANISM) {
          throw new ClientError(SqlState.protocolViolation, `client selected an invalid SASL authentication mechanism: ${initial.mechanism}`);
        }
        this.scramStarted = true;
        this.output.write(encodeBackend({ type: "Authentication", code: 11, data: this.scram.handleClientFirst(initial.response) }));
        this.output.flush();
        return;
      }
      const final = this.scram.handleClientFinal(message.data);
      if (!this.scramUserKnown) throw new ScramError("28P01", "invalid proof");
      this.output.write(encodeBackend({ type: "Authentication", code: 12, data: final }));
    } catch (error) {
      if (error instanceof ScramError && error.sqlstate === SqlState.invalidPassword) {
        throw new ClientError(SqlState.invalidPassword, `password authentication failed for user "${this.user}"`);
      }
      if (error instanceof ScramError) throw new ProtocolError(error.message);
      throw error;
    }
    if (this.database !== this.coordinator.database) {
      throw new ClientError(SqlState.invalidCatalogName, `database "${this.database}" does not exist (this coordinator serves "${this.coordinator.database}")`);
    }
    if (!this.coordinator.sessionAuthenticated(this)) throw tooManyClients(this.coordinator.maxClients);
    this.authenticated = true;
    if (this.authenticationTimer) clearTimeout(this.authenticationTimer);
    this.authenticationTimer = null;
    this.reader.setMaxMessageBytes(DEFAULT_MAX_MESSAGE_BYTES);
    this.output.write(encodeBackend({ type: "Authentication", code: 0, data: Buffer.alloc(0) }));
    this.executor = new SessionExecutor(this.coordinator, this);
    for (const [name, value] of this.coordinator.parameterStatus(this.startupParameters)) {
      this.output.write(encodeBackend({ type: "ParameterStatus", name, value }));
    }
    this.output.write(encodeBackend({ type: "BackendKeyData", processId: this.processId, secretKey: this.secretKey }));
    this.state = "ready" /* Ready */;
    await this.executor.applyStartupParameters(this.startupParameters);
    this.output.write(readyForQuery("I"));
    this.output.flush();
  }
  scramStarted = false;
  async handleReady(message) {
    const executor = this.executor;
    if (executor.inCopyIn && message.type !== "CopyData" && message.type !== "CopyDone" && message.type !== "CopyFail") {
      if (message.type === "Flush" || message.type === "Sync") return;
      throw new ProtocolError(`unexpected message type ${message.type} during COPY from stdin`);
    }
    switch (message.type) {
      case "Query":
        return executor.simpleQuery(message.sql);
      case "Parse":
        return executor.parse(message.name, message.sql, message.parameterTypes);
      case "Bind":
        return executor.bind(message);
      case "Describe":
        return executor.describe(message.kind, message.name);
      case "Execute":
        return executor.execute(message.portal, message.maxRows);
      case "Close":
        return executor.closeObject(message.kind, message.name);
      case "Sync":
        return executor.sync();
      case "Flush":
        return executor.flush();
      case "Terminate":
        this.close();
        return;
      case "CopyData":
      case "CopyDone":
      case "CopyFail":
        return executor.copyMessage(message);
      case "FunctionCall":
        return executor.functionCall();
      case "Startup":
      case "SSLRequest":
      case "GSSENCRequest":
      case "CancelRequest":
      case "Password":
        throw new ProtocolError(`unexpected ${message.type} message after startup`);
      default: {
        const never = message;
        throw new ProtocolError(`unexpected message ${JSON.stringify(never)}`);
      }
    }
  }
  /**
   * True when the next message in the input is a Sync: nothing more can join the batch of
   * the Execute being handled. Only then may a write outside a block commit on its own;
   * otherwise more of the batch may still be on its way (TCP cuts messages anywhere), and
   * everything before a Sync is one implicit transaction.
   */
  syncIsNext() {
    return this.pendingCount > 0 && this.pending[this.pendingHead].code === 83;
  }
  /** Sends an error and closes the connection (protocol violations, failed authentication). */
  fatal(error) {
    if (this.state === "closed" /* Closed */) return;
    const fields = error instanceof ProtocolError ? { severity: "FATAL", severityNonLocalized: "FATAL", code: SqlState.protocolViolation, message: error.message } : { ...errorFields(error), severity: "FATAL", severityNonLocalized: "FATAL" };
    this.output.write(encodeErrorResponse(fields));
    this.output.flush();
    this.close();
  }
  /** Asks the workers to cancel what this session is running (CancelRequest from the client). */
  cancel() {
    this.executor?.cancel();
  }
  close() {
    if (this.state === "closed" /* Closed */) return;
    this.state = "closed" /* Closed */;
    this.pending = [];
    this.pendingHead = 0;
    this.pendingBytes = 0;
    if (this.authenticationTimer) clearTimeout(this.authenticationTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.coordinator.sessionClosed(this, this.authenticated);
    const executor = this.executor;
    if (executor) void executor.close().finally(() => this.coordinator.sessionReleased(this.processId));
    this.socket.end();
  }
};
function tooManyClients(maxClients) {
  return new ClientError(SqlState.tooManyConnections, `sorry, too many clients already (the coordinator accepts ${maxClients})`);
}

// src/server/coordinator.ts
import { randomBytes as randomBytes4 } from "node:crypto";
import { createSecureContext } from "node:tls";

// src/executor/pool.ts
var PoolTimeoutError = class extends Error {
  sqlstate = "53300";
};
var GroupPool = class {
  constructor(groupId, target, options) {
    this.groupId = groupId;
    this.target = target;
    this.options = options;
    this.reaper = setInterval(() => this.closeIdle(), 1e4);
    this.reaper.unref();
  }
  groupId;
  target;
  options;
  idle = [];
  /** Every open connection of this pool, idle or in use. */
  all = /* @__PURE__ */ new Set();
  waiters = [];
  opening = 0;
  total = 0;
  closed = false;
  /** Bumped when the group's primary changes: connections of an older generation are not reused. */
  generation = 0;
  reaper;
  get inUse() {
    return this.total - this.idle.length;
  }
  get idleCount() {
    return this.idle.length;
  }
  get waiting() {
    return this.waiters.length;
  }
  /**
   * A connection for `owner` (a client session's id, or INTERNAL_OWNER). A connection
   * another owner used last keeps that owner's session state on the node (settings
   * made by set_config() in a function, prepared statements, LISTEN, advisory locks,
   * temporary tables): it is reset as DISCARD ALL would before the new owner's first
   * statement, so nothing of one session reaches another. For a client session the
   * DISCARD goes with its settings (SessionTransaction.applySettings: one round trip);
   * for the coordinator's own work it runs here.
   */
  async acquire(owner = INTERNAL_OWNER) {
    const connection = await this.take(owner);
    if (connection.owner !== owner && connection.owner !== FRESH_CONNECTION && connection.owner !== INTERNAL_OWNER) connection.discardPending = true;
    connection.owner = owner;
    if (connection.discardPending && owner === INTERNAL_OWNER) {
      try {
        await connection.simpleQuery(discardSessionStateSql(connection));
        connection.discarded();
      } catch (error) {
        connection.destroy();
        this.release(connection);
        throw error;
      }
    }
    return connection;
  }
  /**
   * A client session ended: the idle connections it used last are reset now, in the
   * background, rather than at their next use, so that nothing it left on the node (an
   * advisory lock taken inside a function, a LISTEN) outlives it.
   */
  sessionEnded(owner) {
    for (const connection of this.idle.filter((c) => c.owner === owner)) {
      this.idle.splice(this.idle.indexOf(connection), 1);
      connection.owner = INTERNAL_OWNER;
      connection.simpleQuery(discardSessionStateSql(connection)).then(
        () => {
          connection.discarded();
          connection.owner = FRESH_CONNECTION;
        },
        () => connection.destroy()
      ).finally(() => this.release(connection));
    }
  }
  /**
   * An idle connection for `owner`: the one it used last if it is idle (its session
   * state is the owner's own: no reset, no round trip), else one that needs no reset,
   * else the most recently used. Without this, sessions taking turns would each find
   * another's connection and pay a DISCARD per statement.
   */
  pickIdle(owner) {
    let clean = -1;
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const candidate = this.idle[i];
      if (candidate.owner === owner) return this.idle.splice(i, 1)[0];
      if (clean < 0 && (candidate.owner === FRESH_CONNECTION || candidate.owner === INTERNAL_OWNER)) clean = i;
    }
    return clean >= 0 ? this.idle.splice(clean, 1)[0] : this.idle.pop();
  }
  async take(owner) {
    if (this.closed) throw new ConnectionLostError(`the pool of group ${this.groupId} is closed`);
    for (; ; ) {
      const connection = this.pickIdle(owner);
      if (!connection) break;
      if (!connection.broken) return connection;
      this.total--;
      this.all.delete(connection);
    }
    if (this.total + this.opening < this.options.maxSize) return this.openConnection();
    return new Promise((resolve3, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.findIndex((w) => w.timer === timer);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new PoolTimeoutError(`sorry, too many statements waiting: no connection to ${this.groupId === 0 ? "the control group" : `worker group ${this.groupId}`} became free within ${this.options.acquireTimeoutMs} ms (all ${this.options.maxSize} of pools.worker_pool_per_shard.max_size are held, e.g. by sessions idle in a transaction; coordinator.pool_wait_timeout_seconds)`));
      }, this.options.acquireTimeoutMs);
      this.waiters.push({ resolve: resolve3, reject, timer });
    });
  }
  async openConnection() {
    this.opening++;
    try {
      const generation = this.generation;
      const connection = await BackendConnection.open(await this.target());
      connection.poolGeneration = generation;
      this.total++;
      this.all.add(connection);
      return connection;
    } finally {
      this.opening--;
    }
  }
  /** Runs `work` on one connection of this pool and gives it back, whatever happens. */
  async withConnection(work) {
    const connection = await this.acquire();
    try {
      return await work(connection);
    } finally {
      this.release(connection);
    }
  }
  /** withConnection for simple queries: `query(sql)` answers the rows as text. */
  run(work) {
    return this.withConnection((connection) => work(async (sql) => (await connection.simpleQuery(sql)).rows));
  }
  /** Gives a connection back; a broken one, or one mid-transaction, is closed instead. */
  release(connection) {
    if (!connection.idle && !connection.broken) {
      const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("settle timeout")), 1e4).unref());
      Promise.race([connection.settle(), timeout]).then(
        () => this.release(connection),
        () => {
          connection.destroy();
          this.release(connection);
        }
      );
      return;
    }
    connection.lastUsed = Date.now();
    connection.queriesRun++;
    const reusable = !connection.broken && connection.transactionStatus === "I" && connection.queriesRun < this.options.maxQueries && !this.closed && connection.poolGeneration === this.generation;
    if (!reusable) {
      this.total--;
      this.all.delete(connection);
      void connection.close();
      const waiter2 = this.waiters.shift();
      if (waiter2) {
        clearTimeout(waiter2.timer);
        this.openConnection().then(waiter2.resolve, waiter2.reject);
      }
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(connection);
      return;
    }
    this.idle.push(connection);
  }
  /**
   * The group's primary changed: idle connections (to the old one) close now, those in
   * use close when they are given back, new ones go to the target's new answer.
   */
  retarget() {
    this.generation++;
    for (const connection of this.all) if (connection.poolGeneration < this.generation && !this.idle.includes(connection)) connection.destroy();
    for (const connection of this.idle.splice(0)) {
      this.total--;
      this.all.delete(connection);
      void connection.close();
    }
  }
  closeIdle() {
    const cutoff = Date.now() - this.options.maxIdleSeconds * 1e3;
    while (this.idle.length > this.options.minSize && this.idle[0].lastUsed < cutoff) {
      const connection = this.idle.shift();
      this.total--;
      this.all.delete(connection);
      void connection.close();
    }
  }
  async close() {
    this.closed = true;
    clearInterval(this.reaper);
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new ConnectionLostError("the coordinator is shutting down"));
    }
    await Promise.all(this.idle.splice(0).map((c) => c.close()));
    this.all.clear();
  }
};

// src/executor/type-map.ts
var FIRST_NORMAL_OID = 16384;
var TypeMap = class {
  workerToClient = /* @__PURE__ */ new Map();
  /** The same statement gives the same RowDescription every time: remember the last few translations. */
  translated = /* @__PURE__ */ new Map();
  clientToWorker = /* @__PURE__ */ new Map();
  constructor(worker, control) {
    const byName = new Map(control.map((t) => [`${t.schema}.${t.name}`, t.oid]));
    for (const t of worker) {
      const clientOid = byName.get(`${t.schema}.${t.name}`);
      if (clientOid !== void 0) {
        this.workerToClient.set(t.oid, clientOid);
        this.clientToWorker.set(clientOid, t.oid);
      }
    }
  }
  static async readTypes(pool) {
    const connection = await pool.acquire();
    try {
      const result = await connection.simpleQuery(
        `SELECT t.oid, n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid >= ${FIRST_NORMAL_OID}`
      );
      return result.rows.map(([oid, schema2, name]) => ({ oid: Number(oid), schema: schema2, name }));
    } finally {
      pool.release(connection);
    }
  }
  toClient(oid) {
    return oid < FIRST_NORMAL_OID ? oid : this.workerToClient.get(oid) ?? oid;
  }
  toWorker(oid) {
    return oid < FIRST_NORMAL_OID ? oid : this.clientToWorker.get(oid) ?? oid;
  }
  /**
   * The RowDescription a client should see: extension type OIDs mapped, and the
   * shard table's OID cleared (it names a relation the client's catalog does not have).
   * Returns the frame unchanged when nothing needs mapping.
   */
  rowDescription(frame, drop = 0) {
    const key = `${drop}:${frame.raw.toString("latin1")}`;
    const known = this.translated.get(key);
    if (known) return known;
    const translated = this.translateRowDescription(frame, drop);
    if (this.translated.size >= 512) this.translated.delete(this.translated.keys().next().value);
    this.translated.set(key, translated);
    return translated;
  }
  translateRowDescription(frame, drop) {
    const message = decodeBackend(frame);
    if (message.type !== "RowDescription") return frame.raw;
    const fields = drop > 0 ? message.fields.slice(0, message.fields.length - drop) : message.fields;
    if (drop === 0 && fields.every((f) => f.typeOid < FIRST_NORMAL_OID && f.tableOid === 0)) return frame.raw;
    return encodeRowDescription(fields.map((f) => this.clientField(f)));
  }
  clientField(field) {
    return { ...field, typeOid: this.toClient(field.typeOid), tableOid: 0, columnAttribute: 0 };
  }
};

// src/planner/relations.ts
var MODIFYING_STATEMENTS = /* @__PURE__ */ new Set(["InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"]);
function collectRelations(statementNode) {
  const out2 = {
    relations: [],
    cteNames: /* @__PURE__ */ new Set(),
    hasSubqueries: false,
    functionsInFrom: false,
    setOperation: false,
    lockingClause: false,
    hasCtes: false,
    recursiveCte: false,
    modifyingCte: false,
    lateral: false,
    selectInto: false,
    tableSample: false
  };
  const record = (rangeVar, scope, inFrom, isTarget) => {
    const name = rangeVar.relname;
    const schema2 = rangeVar.schemaname ?? null;
    if (inFrom && schema2 === null && scope.ctes.has(name)) return;
    out2.relations.push({
      name,
      schema: schema2,
      alias: rangeVar.alias?.aliasname ?? null,
      location: rangeVar.location ?? 0,
      inFrom,
      isTarget
    });
  };
  const visit = (value, scope) => {
    if (!value || typeof value !== "object") return;
    if (Array.isArray(value)) {
      for (const element of value) visit(element, scope);
      return;
    }
    const [type, body] = unwrapNode(value);
    if (type === null) {
      if (isRangeVar(value)) record(value, scope, false, false);
      else visitFields(value, scope);
      return;
    }
    switch (type) {
      case "SelectStmt":
        visitSelect(body, scope);
        return;
      case "InsertStmt":
      case "UpdateStmt":
      case "DeleteStmt":
      case "MergeStmt":
        visitModify(body, scope);
        return;
      case "RangeVar":
        record(body, scope, false, false);
        return;
      case "SubLink":
        out2.hasSubqueries = true;
        visitFields(body, scope);
        return;
      case "JoinExpr":
      case "RangeSubselect":
      case "RangeFunction":
      case "RangeTableFunc":
      case "JsonTable":
      case "RangeTableSample":
        visitFromItem(value, scope);
        return;
      default:
        visitFields(body, scope);
    }
  };
  const visitFields = (body, scope, skip = EMPTY2) => {
    for (const [key, child] of Object.entries(body)) {
      if (!skip.has(key) && child && typeof child === "object") visit(child, scope);
    }
  };
  const visitFromItem = (item, scope) => {
    const [type, body] = unwrapNode(item);
    switch (type) {
      case "RangeVar":
        record(body, scope, true, false);
        return;
      case "JoinExpr":
        visitFromItem(body.larg, scope);
        visitFromItem(body.rarg, scope);
        visitFields(body, scope, /* @__PURE__ */ new Set(["larg", "rarg"]));
        return;
      case "RangeSubselect":
        out2.hasSubqueries = true;
        if (body.lateral) out2.lateral = true;
        visitFields(body, scope);
        return;
      case "RangeFunction":
      case "RangeTableFunc":
      case "JsonTable":
        out2.functionsInFrom = true;
        if (body.lateral) out2.lateral = true;
        visitFields(body, scope);
        return;
      case "RangeTableSample":
        out2.tableSample = true;
        visitFromItem(body.relation, scope);
        visitFields(body, scope, /* @__PURE__ */ new Set(["relation"]));
        return;
      default:
        visit(item, scope);
    }
  };
  const withScope = (withClause, outer) => {
    if (!withClause) return outer;
    const ctes = (withClause.ctes ?? []).map((cte) => unwrapNode(cte)[1]);
    const names = ctes.map((cte) => cte.ctename);
    out2.hasCtes ||= ctes.length > 0;
    if (withClause.recursive) out2.recursiveCte = true;
    ctes.forEach((cte, index) => {
      out2.cteNames.add(cte.ctename);
      const visible = withClause.recursive ? names : names.slice(0, index);
      const [queryType] = unwrapNode(cte.ctequery);
      if (queryType && MODIFYING_STATEMENTS.has(queryType)) out2.modifyingCte = true;
      visit(cte.ctequery, { ctes: /* @__PURE__ */ new Set([...outer.ctes, ...visible]) });
    });
    return { ctes: /* @__PURE__ */ new Set([...outer.ctes, ...names]) };
  };
  const visitSelect = (select, outer) => {
    const scope = withScope(select.withClause, outer);
    if (select.op && select.op !== "SETOP_NONE") {
      out2.setOperation = true;
      visitSelect(select.larg, scope);
      visitSelect(select.rarg, scope);
    }
    for (const item of select.fromClause ?? []) visitFromItem(item, scope);
    if (select.intoClause) {
      out2.selectInto = true;
      record(select.intoClause.rel, scope, false, false);
    }
    if (select.lockingClause?.length) {
      out2.lockingClause = true;
    }
    visitFields(select, scope, SELECT_HANDLED);
  };
  const visitModify = (statement, outer) => {
    const scope = withScope(statement.withClause, outer);
    record(statement.relation, scope, false, true);
    for (const item of statement.fromClause ?? []) visitFromItem(item, scope);
    for (const item of statement.usingClause ?? []) visitFromItem(item, scope);
    if (statement.sourceRelation) visitFromItem(statement.sourceRelation, scope);
    visitFields(statement, scope, MODIFY_HANDLED);
  };
  visit(statementNode, { ctes: /* @__PURE__ */ new Set() });
  return out2;
}
var EMPTY2 = /* @__PURE__ */ new Set();
var SELECT_HANDLED = /* @__PURE__ */ new Set(["withClause", "larg", "rarg", "fromClause", "intoClause", "lockingClause"]);
var MODIFY_HANDLED = /* @__PURE__ */ new Set(["withClause", "relation", "fromClause", "usingClause", "sourceRelation"]);
function isRangeVar(value) {
  return typeof value.relname === "string" && typeof value.relpersistence === "string";
}

// src/planner/insert.ts
import { deparseSync as deparseSync6 } from "pgsql-deparser";
function keyValueOf(node) {
  const [kind, body] = unwrapNode(stripTextCasts(node, false));
  if (kind === "A_Const") {
    if (body.isnull) return { kind: "const", value: null };
    if (body.sval) return { kind: "const", value: body.sval.sval ?? "" };
    if (body.ival) return { kind: "const", value: String(body.ival.ival ?? 0) };
    if (body.fval) return { kind: "const", value: String(body.fval.fval) };
    if (body.boolval) return { kind: "const", value: body.boolval.boolval ? "true" : "false" };
    return null;
  }
  if (kind === "ParamRef") return { kind: "param", index: body.number };
  return null;
}
var unsupported = (message) => ({ kind: "unsupported", error: new ClientError(SqlState.featureNotSupported, message) });
function keyColumn(body, target) {
  if (!body.cols) return unsupported(`INSERT into distributed table ${target.name} must name its columns, so dpg can find the distribution column ${target.distributionColumn}`);
  const columns = body.cols.map((c) => unwrapNode(c)[1].name);
  const keyIndex = columns.indexOf(target.distributionColumn);
  if (keyIndex < 0) return unsupported(`INSERT into distributed table ${target.name} must give the distribution column ${target.distributionColumn}`);
  return { columns, keyIndex };
}
function planInsert(body, template, relations, placeholders) {
  const target = relations[0];
  if (target.kind !== "distributed") return unsupported("INSERT into a reference table that reads distributed tables is not supported");
  const select = body.selectStmt && unwrapNode(body.selectStmt)[1];
  if (!select) return unsupported(`INSERT ... DEFAULT VALUES into distributed table ${target.name} is not supported: give the distribution column ${target.distributionColumn} in VALUES`);
  if (!select.valuesLists) return unsupported(`INSERT ... SELECT into distributed table ${target.name}: the SELECT could not be planned`);
  const keyed = keyColumn(body, target);
  if ("kind" in keyed) return keyed;
  const { keyIndex } = keyed;
  const rowKeys = [];
  for (const row of select.valuesLists) {
    const items = unwrapNode(row)[1].items;
    const key = keyValueOf(items[keyIndex]);
    if (!key) return unsupported(`the value of distribution column ${target.distributionColumn} must be a constant or a parameter (cast to text or varchar without a length, if at all) in every row, so that dpg routes it by the value PostgreSQL stores`);
    rowKeys.push(key);
  }
  if (rowKeys.length === 1) {
    return { kind: "distributed", command: "INSERT", anchor: target, keyValues: rowKeys, pinnedEach: null, template, relations, merge: null, aggregate: null, mergeUnsupported: null, readOnly: false };
  }
  const node = structuredClone(body);
  replaceRelationNames(node, placeholders);
  return { kind: "insert", table: target, rowKeys, node, relations, returning: !!body.returningList };
}
function planInsertSelect(body, snapshot, planSelect) {
  const select = body.selectStmt && unwrapNode(body.selectStmt)[1];
  if (!select || select.valuesLists) return null;
  const target = snapshot.table(body.relation.relname, body.relation.schemaname ?? null);
  if (!target || target.kind !== "distributed") return null;
  if (body.withClause) return unsupported(`INSERT ... SELECT into distributed table ${target.name} with a WITH clause is not supported: put the WITH inside the SELECT`);
  const keyed = keyColumn(body, target);
  if ("kind" in keyed) return keyed;
  const { columns, keyIndex } = keyed;
  let outside = false;
  walk({ ...body, selectStmt: null }, (key) => {
    if (key === "ParamRef") outside = true;
    return void 0;
  });
  if (outside) return unsupported(`parameters of INSERT ... SELECT into distributed table ${target.name} may appear in its SELECT only, not in ON CONFLICT or RETURNING`);
  const source = planSelect(deparseSync6({ SelectStmt: select }));
  if (source.kind === "unsupported") return source;
  if (source.kind !== "distributed" && source.kind !== "control") return unsupported(`the SELECT of INSERT ... SELECT into ${target.name} must be a query`);
  const node = structuredClone(body);
  node.relation = { ...node.relation, relname: relationPlaceholder(0), schemaname: void 0, alias: node.relation.alias ?? { aliasname: target.name } };
  node.selectStmt = { SelectStmt: { valuesLists: [], limitOption: "LIMIT_OPTION_DEFAULT", op: "SETOP_NONE" } };
  return { kind: "insert", table: target, rowKeys: [], node, relations: [target], returning: !!body.returningList, source: { plan: source, columns: columns.length, keyIndex } };
}

// src/planner/ddl.ts
import { deparseSync as deparseSync7 } from "pgsql-deparser";
var INDEX_BACKED = /* @__PURE__ */ new Set(["CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_EXCLUSION"]);
var notSupported = (message) => ({ kind: "unsupported", error: new ClientError(SqlState.featureNotSupported, message) });
var TAGS = {
  IndexStmt: "CREATE INDEX",
  AlterTableStmt: "ALTER TABLE",
  DropStmt: "DROP TABLE",
  TruncateStmt: "TRUNCATE TABLE",
  VacuumStmt: "VACUUM",
  RenameStmt: "ALTER TABLE",
  ReindexStmt: "REINDEX",
  GrantStmt: "GRANT",
  CreatePolicyStmt: "CREATE POLICY",
  AlterPolicyStmt: "ALTER POLICY"
};
function planDdl(kind, statement, snapshot) {
  const node = unwrapNode(statement.node)[1];
  if (kind === "DropStmt") return planDrop(node, statement, snapshot);
  if (kind === "GrantStmt" && node.targtype === "ACL_TARGET_ALL_IN_SCHEMA" && node.objtype === "OBJECT_TABLE") {
    const schemas = node.objects.map((o) => unwrapNode(o)[1].sval);
    const inSchema = schemas.includes("public") ? [...snapshot.tables.values()] : [];
    if (inSchema.length > 0) return notSupported(`GRANT/REVOKE ... ON ALL TABLES IN SCHEMA does not reach the shards of distributed and reference tables (${inSchema.map((t) => t.name).join(", ")}): name the tables`);
  }
  if (kind === "AlterDefaultPrivilegesStmt") {
    return notSupported("ALTER DEFAULT PRIVILEGES would not reach the shards dpg creates on the worker groups: GRANT on each table after create_distributed_table instead");
  }
  const { relations } = collectRelations(statement.node);
  const managed = relations.filter((r) => snapshot.table(r.name, r.schema));
  if (managed.length === 0) {
    const { shellNode: shellNode2, notices: notices2 } = withoutEfSearch(kind, statement.node);
    return shellNode2 === statement.node ? null : { kind: "control", sql: deparseSync7(shellNode2), utility: true, notices: notices2 };
  }
  if (!TAGS[kind]) return notSupported(`${kind.replace(/Stmt$/, "")} on distributed or reference tables (${managed.map((r) => r.name).join(", ")}) is not supported yet`);
  if (managed.length !== relations.length) return notSupported("a DDL statement cannot mix distributed or reference tables with other tables");
  if (kind === "RenameStmt" && node.renameType !== "OBJECT_COLUMN") {
    return notSupported("renaming a distributed or reference table is not supported yet; rename its columns, or create a new table");
  }
  if (kind === "AlterTableStmt") {
    for (const command of node.cmds) {
      const cmd = unwrapNode(command)[1];
      const constraint = cmd.def && unwrapNode(cmd.def)[0] === "Constraint" ? unwrapNode(cmd.def)[1] : null;
      if (constraint?.contype === "CONSTR_FOREIGN") return notSupported("foreign keys on distributed tables are not supported yet");
      if (cmd.subtype === "AT_SetRelOptions" || cmd.subtype === "AT_AddInherit" || cmd.subtype === "AT_AttachPartition") {
        return notSupported(`ALTER TABLE ... ${String(cmd.subtype).replace("AT_", "")} on a distributed table is not supported`);
      }
    }
  }
  const { shellNode, notices } = withoutEfSearch(kind, statement.node);
  const locations = new Map(managed.map((r) => [r.location, snapshot.table(r.name, r.schema)]));
  const tables2 = [...new Set(locations.values())];
  const ROW_SECURITY = ["AT_EnableRowSecurity", "AT_DisableRowSecurity", "AT_ForceRowSecurity", "AT_NoForceRowSecurity"];
  const rowSecurity = kind === "CreatePolicyStmt" || kind === "AlterPolicyStmt" || kind === "AlterTableStmt" && node.cmds.some((c) => ROW_SECURITY.includes(unwrapNode(c)[1].subtype));
  const concurrent = kind === "IndexStmt" && node.concurrent || kind === "VacuumStmt" || kind === "ReindexStmt" && node.concurrent;
  return {
    kind: "ddl",
    shellSql: shellNode === statement.node ? statement.text : deparseSync7(shellNode),
    tables: tables2,
    // A GRANT on several tables reaches each table's shards with that table alone (their shards live on different groups).
    render: kind === "GrantStmt" ? (table2, shardIndex) => renderForShard(grantOn(shellNode, locations, table2), locations, shardIndex) : (_table, shardIndex) => renderForShard(shellNode, locations, shardIndex),
    transactional: !concurrent,
    dropsTables: [],
    rowSecurity,
    tag: kind === "VacuumStmt" && !node.is_vacuumcmd ? "ANALYZE" : kind === "GrantStmt" && !node.is_grant ? "REVOKE" : TAGS[kind],
    notices
  };
}
function withoutEfSearch(kind, statementNode) {
  if (kind !== "IndexStmt") return { shellNode: statementNode, notices: [] };
  const options = unwrapNode(statementNode)[1].options ?? [];
  const kept = options.filter((o) => unwrapNode(o)[1]?.defname !== "ef_search");
  if (kept.length === options.length) return { shellNode: statementNode, notices: [] };
  const shellNode = structuredClone(statementNode);
  const index = unwrapNode(shellNode)[1];
  if (kept.length > 0) index.options = kept;
  else delete index.options;
  return { shellNode, notices: ["ef_search is not an index option in pgvector; dropped it: set hnsw.ef_search per session or query instead"] };
}
function shardSuffix(table2, shardIndex) {
  return `_${(table2.kind === "reference" ? table2.shards[0] : table2.shards[shardIndex]).shardId}`;
}
function grantOn(statementNode, locations, table2) {
  const tree = structuredClone(statementNode);
  const grant = unwrapNode(tree)[1];
  grant.objects = grant.objects.filter((o) => locations.get(unwrapNode(o)[1].location) === table2);
  return tree;
}
function renderForShard(statementNode, locations, shardIndex) {
  const tree = structuredClone(statementNode);
  const first = [...locations.values()][0];
  const suffix = shardSuffix(first, shardIndex);
  walk(tree, (key, value) => {
    if (typeof value.relname === "string" && locations.has(value.location)) {
      value.relname = `${value.relname}${shardSuffix(locations.get(value.location), shardIndex)}`;
    }
    if (key === "IndexStmt" && value.idxname) value.idxname = `${value.idxname}${suffix}`;
    if (key === "Constraint" && value.conname && INDEX_BACKED.has(value.contype)) value.conname = `${value.conname}${suffix}`;
    return void 0;
  });
  return deparseSync7(tree);
}
function planDrop(node, statement, snapshot) {
  if (node.removeType === "OBJECT_POLICY") return planDropPolicy(node, statement, snapshot);
  if (node.removeType !== "OBJECT_TABLE") {
    if (node.removeType === "OBJECT_INDEX") {
      const indexes = node.objects.map((o) => unwrapNode(o)[1].items.map((i) => unwrapNode(i)[1].sval).join("."));
      return { kind: "drop-index", sql: statement.text, indexes, ifExists: !!node.missing_ok, cascade: node.behavior === "DROP_CASCADE", concurrent: !!node.concurrent };
    }
    return null;
  }
  const names = node.objects.map((o) => unwrapNode(o)[1].items.map((i) => unwrapNode(i)[1].sval));
  const tables2 = names.map((parts) => snapshot.table(parts.at(-1), parts.length > 1 ? parts[0] : null)).filter((t) => !!t);
  if (tables2.length === 0) return null;
  const ifExists = node.missing_ok ? " IF EXISTS" : "";
  const cascade = node.behavior === "DROP_CASCADE" ? " CASCADE" : "";
  return {
    kind: "ddl",
    shellSql: statement.text,
    tables: tables2,
    render: (table2, shardIndex) => `DROP TABLE${ifExists} ${table2.name}${shardSuffix(table2, shardIndex)}${cascade}`,
    transactional: true,
    dropsTables: tables2.map((t) => t.name),
    tag: "DROP TABLE",
    notices: []
  };
}
function planDropPolicy(node, statement, snapshot) {
  const names = node.objects.map((o) => unwrapNode(o)[1].items.map((i) => unwrapNode(i)[1].sval));
  const [parts] = names;
  if (!parts || names.length !== 1) return null;
  const policy = parts.at(-1);
  const table2 = snapshot.table(parts.at(-2), parts.length > 2 ? parts[0] : null);
  if (!table2) return null;
  const ifExists = node.missing_ok ? " IF EXISTS" : "";
  const cascade = node.behavior === "DROP_CASCADE" ? " CASCADE" : "";
  const quote = (name) => `"${name.replace(/"/g, '""')}"`;
  return {
    kind: "ddl",
    shellSql: statement.text,
    tables: [table2],
    render: (t, shardIndex) => `DROP POLICY${ifExists} ${quote(policy)} ON ${quote(`${t.name}${shardSuffix(t, shardIndex)}`)}${cascade}`,
    transactional: true,
    dropsTables: [],
    rowSecurity: true,
    tag: "DROP POLICY",
    notices: []
  };
}

// src/planner/copy.ts
import { deparseSync as deparseSync8 } from "pgsql-deparser";
var notSupported2 = (message) => ({ kind: "unsupported", error: new ClientError(SqlState.featureNotSupported, message) });
function optionText(arg) {
  const [kind, value] = unwrapNode(arg);
  if (kind === "String") return value.sval ?? "";
  if (kind === "Boolean") return value.boolval ? "true" : "false";
  if (kind === "Integer") return String(value.ival ?? 0);
  return null;
}
function planCopy(statement, snapshot) {
  const copy2 = unwrapNode(statement.node)[1];
  if (copy2.filename || copy2.is_program) {
    return notSupported2("COPY to or from a file or program is not supported through the coordinator; use COPY ... FROM STDIN / TO STDOUT (psql: \\copy)");
  }
  if (copy2.query) {
    let managed = false;
    walk(copy2.query, (_key, value) => {
      if (typeof value.relname === "string" && snapshot.table(value.relname, value.schemaname ?? null)) managed = true;
      return void 0;
    });
    if (managed) return notSupported2("COPY (query) TO STDOUT over distributed or reference tables is not supported yet; run the SELECT instead");
    return { kind: "control", sql: statement.text, utility: true };
  }
  const relation = copy2.relation;
  const table2 = snapshot.table(relation.relname, relation.schemaname ?? null);
  if (!table2) return { kind: "control", sql: statement.text, utility: true, copyIn: !!copy2.is_from };
  if (copy2.whereClause) return notSupported2("COPY ... FROM ... WHERE into a distributed table is not supported yet");
  const options = /* @__PURE__ */ new Map();
  for (const item of copy2.options ?? []) {
    const option = unwrapNode(item)[1];
    options.set(option.defname, option.arg === void 0 ? "true" : optionText(option.arg));
  }
  const format = options.get("format") ?? "text";
  if (!["text", "csv", "binary"].includes(format)) return notSupported2(`COPY format ${format} is not supported`);
  const header = options.has("header") && options.get("header") !== "false" && options.get("header") !== "off" && options.get("header") !== "0";
  if (options.get("header") === "match") return notSupported2("COPY ... HEADER MATCH into a distributed table is not supported yet");
  const shardNode = structuredClone(statement.node);
  const shardCopy = unwrapNode(shardNode)[1];
  shardCopy.relation.relname = relationPlaceholder(0);
  shardCopy.options = (shardCopy.options ?? []).filter((o) => unwrapNode(o)[1].defname !== "header");
  if (shardCopy.options.length === 0) delete shardCopy.options;
  const columns = (copy2.attlist ?? []).map((c) => unwrapNode(c)[1].sval);
  return {
    kind: "copy",
    direction: copy2.is_from ? "in" : "out",
    table: table2,
    columns: columns.length > 0 ? columns : null,
    format,
    delimiter: options.get("delimiter") ?? (format === "csv" ? "," : "	"),
    nullString: options.get("null") ?? (format === "csv" ? "" : "\\N"),
    quote: options.get("quote") ?? '"',
    escape: options.get("escape") ?? options.get("quote") ?? '"',
    header,
    template: deparseSync8(shardNode)
  };
}

// src/planner/volatility.ts
var DETERMINISTIC_FUNCTIONS = /* @__PURE__ */ new Set([
  ...AGGREGATES,
  "abs",
  "ceil",
  "ceiling",
  "floor",
  "round",
  "trunc",
  "sqrt",
  "power",
  "exp",
  "ln",
  "log",
  "greatest",
  "least",
  "mod",
  "sign",
  "lower",
  "upper",
  "length",
  "char_length",
  "octet_length",
  "substr",
  "substring",
  "left",
  "right",
  "trim",
  "btrim",
  "ltrim",
  "rtrim",
  "replace",
  "concat",
  "concat_ws",
  "split_part",
  "starts_with",
  "position",
  "strpos",
  "lpad",
  "rpad",
  "format",
  "md5",
  "to_char",
  "to_number",
  "date_trunc",
  "date_part",
  "extract",
  "coalesce",
  "nullif",
  "array_length",
  "cardinality",
  "unnest",
  "array_position",
  "array_to_string",
  "string_to_array",
  "jsonb_extract_path",
  "jsonb_extract_path_text",
  "jsonb_array_length",
  "jsonb_typeof",
  "jsonb_build_object",
  "jsonb_build_array",
  "json_build_object",
  "to_jsonb",
  "to_json",
  "row_to_json",
  "cosine_distance",
  "l2_distance",
  "inner_product",
  "l1_distance",
  "vector_dims",
  "vector_norm",
  "l2_normalize"
]);
function isDeterministic(node) {
  let deterministic = true;
  walk(node, (key, value) => {
    if (!deterministic) return false;
    if (key === "SQLValueFunction") deterministic = false;
    if (key === "FuncCall") {
      const names = value.funcname.map((n) => unwrapNode(n)[1]?.sval);
      const schema2 = names.length > 1 ? names[0] : null;
      if (schema2 !== null && schema2 !== "pg_catalog" || !DETERMINISTIC_FUNCTIONS.has(names.at(-1))) deterministic = false;
    }
    return void 0;
  });
  return deterministic;
}

// src/planner/privileged.ts
var ROLE_AND_SYSTEM_STATEMENTS = {
  AlterRoleStmt: "ALTER ROLE",
  AlterRoleSetStmt: "ALTER ROLE ... SET",
  CreateRoleStmt: "CREATE ROLE",
  DropRoleStmt: "DROP ROLE",
  GrantRoleStmt: "GRANT or REVOKE of a role",
  AlterSystemStmt: "ALTER SYSTEM",
  AlterDatabaseStmt: "ALTER DATABASE",
  AlterDatabaseSetStmt: "ALTER DATABASE ... SET",
  AlterDatabaseRefreshCollStmt: "ALTER DATABASE ... REFRESH COLLATION VERSION",
  CreatedbStmt: "CREATE DATABASE",
  DropdbStmt: "DROP DATABASE",
  ReassignOwnedStmt: "REASSIGN OWNED",
  DropOwnedStmt: "DROP OWNED",
  LoadStmt: "LOAD",
  AlterTableSpaceOptionsStmt: "ALTER TABLESPACE",
  CreateTableSpaceStmt: "CREATE TABLESPACE",
  DropTableSpaceStmt: "DROP TABLESPACE",
  CreateSubscriptionStmt: "CREATE SUBSCRIPTION",
  AlterSubscriptionStmt: "ALTER SUBSCRIPTION",
  DropSubscriptionStmt: "DROP SUBSCRIPTION",
  CreatePublicationStmt: "CREATE PUBLICATION",
  AlterPublicationStmt: "ALTER PUBLICATION",
  DropPublicationStmt: "DROP PUBLICATION"
};
var PRIVILEGED_FUNCTIONS = /* @__PURE__ */ new Set([
  "pg_terminate_backend",
  "pg_cancel_backend",
  "pg_signal_backend",
  "pg_reload_conf",
  "pg_rotate_logfile",
  "pg_promote",
  "pg_switch_wal",
  "pg_create_restore_point",
  "pg_create_physical_replication_slot",
  "pg_create_logical_replication_slot",
  "pg_drop_replication_slot",
  "pg_replication_origin_create",
  "pg_replication_origin_drop",
  "pg_read_file",
  "pg_read_binary_file",
  "pg_ls_dir",
  "pg_stat_file",
  "lo_import",
  "lo_export",
  "dblink",
  "dblink_exec",
  "dblink_connect"
]);
var DPG_CHANNEL_PREFIX = "dpg_";
function denied(what2) {
  return new ClientError(SqlState.insufficientPrivilege, `permission denied: ${what2} is not allowed through dpg (it would change or reach what the coordinator's own connections use)`);
}
function checkPrivileged(kind, body, node) {
  if (kind && ROLE_AND_SYSTEM_STATEMENTS[kind]) return denied(ROLE_AND_SYSTEM_STATEMENTS[kind]);
  if (kind === "DoStmt") {
    return new ClientError(SqlState.featureNotSupported, "DO blocks are not supported by dpg: their statements would run on the control group without being planned; run them as statements");
  }
  const setsRole = body?.name === "role" && (body.args?.[0] === void 0 ? void 0 : constantValue(body.args[0]))?.toLowerCase() !== "none";
  if (kind === "VariableSetStmt" && body.kind === "VAR_SET_VALUE" && (setsRole || body.name === "session_authorization")) {
    return denied(body.name === "role" ? "SET ROLE" : "SET SESSION AUTHORIZATION");
  }
  if ((kind === "ListenStmt" || kind === "NotifyStmt" || kind === "UnlistenStmt") && String(body.conditionname ?? "").startsWith(DPG_CHANNEL_PREFIX)) {
    return denied(`${kind.replace(/Stmt$/, "").toUpperCase()} on dpg's channel ${body.conditionname}`);
  }
  let error = null;
  walkBuiltinCalls(node, (name, call) => {
    if (PRIVILEGED_FUNCTIONS.has(name)) error = denied(`${name}()`);
    else if (name === "pg_notify") {
      const channel = call.args?.[0] === void 0 ? void 0 : constantValue(call.args[0]) ?? void 0;
      if (channel === void 0 || channel.startsWith(DPG_CHANNEL_PREFIX)) error = denied(channel === void 0 ? "pg_notify() on a channel that is not a constant" : `pg_notify() on dpg's channel ${channel}`);
    }
    return error ? false : void 0;
  });
  return error;
}

// src/planner/session-state.ts
var POOLED = "through dpg: a session's statements run on pooled connections to the nodes, so state kept on one connection would be lost at the next statement";
function notSupported3(what2) {
  return new ClientError(SqlState.featureNotSupported, `${what2} is not supported ${POOLED}`);
}
var SESSION_ADVISORY_LOCKS = /* @__PURE__ */ new Set([
  "pg_advisory_lock",
  "pg_advisory_lock_shared",
  "pg_try_advisory_lock",
  "pg_try_advisory_lock_shared",
  "pg_advisory_unlock",
  "pg_advisory_unlock_shared",
  "pg_advisory_unlock_all"
]);
var CURSOR_OPT_HOLD = 32;
function planSessionState(kind, body) {
  switch (kind) {
    case "PrepareStmt":
      return unsupported2("SQL PREPARE (the extended protocol's Parse, which every driver uses for prepared statements, works)");
    case "ExecuteStmt":
      return unsupported2("SQL EXECUTE of a prepared statement");
    case "DeallocateStmt":
      if (!body.name) return { kind: "local", tag: "DEALLOCATE ALL" };
      return { kind: "unsupported", error: new ClientError("26000", `prepared statement "${body.name}" does not exist`) };
    case "ListenStmt":
      return unsupported2("LISTEN (notifications reach the node connection that listens, not the client)");
    case "UnlistenStmt":
      return { kind: "local", tag: "UNLISTEN" };
    case "DiscardStmt":
      return { kind: "local", tag: `DISCARD ${String(body.target ?? "DISCARD_ALL").replace(/^DISCARD_/, "")}` };
    case "DeclareCursorStmt":
      if ((Number(body.options ?? 0) & CURSOR_OPT_HOLD) !== 0) return unsupported2("DECLARE ... WITH HOLD");
      return null;
    default:
      return null;
  }
}
function unsupported2(what2) {
  return { kind: "unsupported", error: notSupported3(what2) };
}
function checkTemporaryObjects(node) {
  let temporary = false;
  walk(node, (key, value) => {
    if (temporary) return false;
    if (key === "RangeVar" && value.relpersistence === "t") temporary = true;
    if ((key === "relation" || key === "rel" || key === "view" || key === "sequence") && value?.relpersistence === "t") temporary = true;
    return temporary ? false : void 0;
  });
  return temporary ? notSupported3("a temporary table, view or sequence") : null;
}
function argumentRef(node) {
  const [kind, value] = unwrapNode(node);
  if (kind === "TypeCast") return argumentRef(value.arg);
  if (kind === "ParamRef") return { param: value.number };
  const constant = constantValue(node);
  return typeof constant === "string" ? { value: constant } : null;
}
function isLocalArgument(node) {
  const constant = constantValue(node);
  if (typeof constant !== "string") return null;
  if (/^(t|true|y|yes|on|1)$/i.test(constant)) return true;
  return /^(f|false|n|no|off|0)$/i.test(constant) ? false : null;
}
function sessionConfigCalls(kind, body, node) {
  const calls = [];
  let error = null;
  const targets = kind === "SelectStmt" && !body.fromClause && !body.whereClause && !body.withClause && (!body.op || body.op === "SETOP_NONE") ? new Set((body.targetList ?? []).map((t) => unwrapNode(unwrapNode(t)[1].val)[1])) : /* @__PURE__ */ new Set();
  walkBuiltinCalls(node, (name, call) => {
    if (SESSION_ADVISORY_LOCKS.has(name)) {
      error = notSupported3(`the session-level advisory lock function ${name}() (pg_advisory_xact_lock() and its siblings, held until the transaction ends, work)`);
      return false;
    }
    if (name !== "set_config") return void 0;
    const args2 = call.args ?? [];
    const setting = args2[0] && argumentRef(args2[0]);
    const settingValue = args2[1] && argumentRef(args2[1]);
    const local = args2[2] === void 0 ? null : isLocalArgument(args2[2]);
    if (!targets.has(call) || !setting || !settingValue || local === null) {
      error = notSupported3("set_config() other than as a column of SELECT without FROM, with constant or parameter arguments,");
      return false;
    }
    calls.push({ name: setting, value: settingValue, local });
    return void 0;
  });
  return error ?? calls;
}

// src/planner/nested-writes.ts
var WRITE_STATEMENTS = /* @__PURE__ */ new Set(["InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"]);
function nestedWrites(statementNode, snapshot) {
  const writes = [];
  const top = unwrapNode(statementNode)[1];
  walk(statementNode, (key, value) => {
    if (value !== top && WRITE_STATEMENTS.has(key) && value.relation) writes.push({ kind: key, table: snapshot.table(value.relation.relname, value.relation.schemaname ?? null) });
    return void 0;
  });
  return writes;
}
function assignedColumns(targetList) {
  return (targetList ?? []).map((t) => unwrapNode(t)[1].name);
}
function distributionColumnChange(statementNode, snapshot) {
  let error = null;
  walk(statementNode, (key, value) => {
    if (error || !WRITE_STATEMENTS.has(key) || !value.relation) return error ? false : void 0;
    const table2 = snapshot.table(value.relation.relname, value.relation.schemaname ?? null);
    if (table2?.kind !== "distributed") return void 0;
    const column2 = table2.distributionColumn;
    let assigned = [];
    let what2 = "UPDATE";
    if (key === "UpdateStmt") assigned = assignedColumns(value.targetList);
    else if (key === "InsertStmt" && value.onConflictClause?.action === "ONCONFLICT_UPDATE") {
      assigned = assignedColumns(value.onConflictClause.targetList);
      what2 = "INSERT ... ON CONFLICT DO UPDATE";
    } else if (key === "MergeStmt") {
      const updates = (value.mergeWhenClauses ?? []).map((c) => unwrapNode(c)[1]).filter((c) => c.commandType === "CMD_UPDATE");
      assigned = updates.flatMap((c) => assignedColumns(c.targetList));
      what2 = "MERGE";
    }
    if (assigned.includes(column2)) {
      error = new ClientError(SqlState.featureNotSupported, `${what2} cannot change the distribution column ${column2} of ${table2.name}: the row would belong on another shard. DELETE it and INSERT it anew`);
      return false;
    }
    return void 0;
  });
  return error;
}

// src/planner/planner.ts
var notSupported4 = (message) => ({ kind: "unsupported", error: new ClientError(SqlState.featureNotSupported, message) });
var TRANSACTION_TAGS = {
  TRANS_STMT_BEGIN: { action: "begin", tag: "BEGIN" },
  TRANS_STMT_START: { action: "begin", tag: "START TRANSACTION" },
  TRANS_STMT_COMMIT: { action: "commit", tag: "COMMIT" },
  TRANS_STMT_ROLLBACK: { action: "rollback", tag: "ROLLBACK" },
  TRANS_STMT_SAVEPOINT: { action: "savepoint", tag: "SAVEPOINT" },
  TRANS_STMT_RELEASE: { action: "release", tag: "RELEASE" },
  TRANS_STMT_ROLLBACK_TO: { action: "rollback-to", tag: "ROLLBACK" },
  TRANS_STMT_PREPARE: { action: "prepare", tag: "PREPARE TRANSACTION" },
  TRANS_STMT_COMMIT_PREPARED: { action: "commit-prepared", tag: "COMMIT PREPARED" },
  TRANS_STMT_ROLLBACK_PREPARED: { action: "rollback-prepared", tag: "ROLLBACK PREPARED" }
};
function writesCatalog(kind, statement) {
  if (kind === "SelectStmt" || kind === "VariableShowStmt" || kind === "ExplainStmt") return false;
  return JSON.stringify(statement.node).includes('"dpg_catalog"');
}
function planStatement(statement, snapshot) {
  const [kind, body] = unwrapNode(statement.node);
  if (writesCatalog(kind, statement)) {
    return { kind: "unsupported", error: new ClientError("42501", "permission denied: dpg's catalog (schema dpg_catalog) changes only through dpg's functions, such as create_distributed_table") };
  }
  const refused2 = checkPrivileged(kind, body, statement.node) ?? (kind === "VariableSetStmt" ? checkSetStatement(body) : checkSetConfigCalls(statement.node));
  if (refused2) return { kind: "unsupported", error: refused2 };
  const sessionState = planSessionState(kind, body);
  if (sessionState) return sessionState;
  const temporary = checkTemporaryObjects(statement.node);
  if (temporary) return { kind: "unsupported", error: temporary };
  const sessionConfig = sessionConfigCalls(kind, body, statement.node);
  if (sessionConfig instanceof ClientError) return { kind: "unsupported", error: sessionConfig };
  const plan = planKind(kind, body, statement, snapshot);
  if (sessionConfig.length === 0) return plan;
  if (plan.kind !== "control") return notSupported4("set_config() in a statement over distributed or reference tables is not supported through dpg: call it in a SELECT of its own");
  return { ...plan, sessionConfig };
}
function planKind(kind, body, statement, snapshot) {
  switch (kind) {
    case "TransactionStmt": {
      const entry = TRANSACTION_TAGS[body.kind];
      if (!entry) return notSupported4(`transaction statement ${String(body.kind)} is not supported`);
      if (entry.action === "prepare" || entry.action === "commit-prepared" || entry.action === "rollback-prepared") {
        return notSupported4("PREPARE TRANSACTION and COMMIT/ROLLBACK PREPARED are used by dpg itself for two-phase commit and are not available to clients");
      }
      return { kind: "transaction", action: entry.action, sql: statement.text, tag: entry.tag };
    }
    case "VariableSetStmt": {
      const setKind = body.kind;
      const reset = setKind === "VAR_RESET" || setKind === "VAR_RESET_ALL";
      return {
        kind: "set",
        sql: statement.text,
        name: setKind === "VAR_RESET_ALL" ? null : body.name ?? null,
        local: !!body.is_local || setKind === "VAR_SET_MULTI",
        reset,
        tag: reset ? "RESET" : "SET"
      };
    }
    case "SelectStmt":
      return planDistributionFunction(body) ?? planQuery(kind, body, statement, snapshot);
    case "UpdateStmt":
    case "DeleteStmt":
    case "InsertStmt":
      return planQuery(kind, body, statement, snapshot);
    case "CopyStmt":
      return planCopy(statement, snapshot);
    default:
      return planDdl(kind ?? "unknown", statement, snapshot) ?? planUtility(kind ?? "unknown", statement, snapshot);
  }
}
var DISTRIBUTION_FUNCTIONS = /* @__PURE__ */ new Set([
  "create_distributed_table",
  "create_reference_table",
  "alter_distributed_table",
  "undistribute_table",
  // Shard moves and the rebalancer (executor/rebalance-functions.ts).
  "citus_move_shard_placement",
  "master_move_shard_placement",
  "rebalance_table_shards",
  "get_rebalance_table_shards_plan",
  "citus_rebalance_start",
  "citus_rebalance_wait",
  "citus_split_shard_by_split_points"
]);
function constantText(node) {
  const [kind, value] = unwrapNode(node);
  if (kind === "TypeCast") return constantText(value.arg);
  if (kind === "A_ArrayExpr") {
    const elements = (value.elements ?? []).map(constantText);
    if (elements.some((e) => e === void 0)) return void 0;
    return `{${elements.map((e) => e === null ? "NULL" : `"${e.replace(/["\\]/g, "\\$&")}"`).join(",")}}`;
  }
  if (kind !== "A_Const") return void 0;
  if (value.isnull) return null;
  if (value.sval) return value.sval.sval ?? "";
  if (value.ival) return String(value.ival.ival ?? 0);
  if (value.boolval) return String(!!value.boolval.boolval);
  return void 0;
}
function planDistributionFunction(body) {
  if (body.targetList?.length !== 1) return null;
  const target = unwrapNode(unwrapNode(body.targetList[0])[1].val);
  let kind;
  let call;
  if (!body.fromClause) [kind, call] = target;
  else {
    const star = target[0] === "ColumnRef" && target[1].fields?.length === 1 && unwrapNode(target[1].fields[0])[0] === "A_Star";
    const [fromKind, from] = body.fromClause.length === 1 ? unwrapNode(body.fromClause[0]) : [null, null];
    if (!star || fromKind !== "RangeFunction" || from.functions?.length !== 1 || body.whereClause || from.ordinality || from.alias) return null;
    [kind, call] = unwrapNode(unwrapNode(from.functions[0])[1].items[0]);
  }
  if (kind !== "FuncCall") return null;
  const name = call.funcname.map((n) => unwrapNode(n)[1]?.sval).at(-1);
  if (!DISTRIBUTION_FUNCTIONS.has(name)) return null;
  const args2 = [];
  const named = {};
  for (const arg of call.args ?? []) {
    const [argKind, argBody] = unwrapNode(arg);
    const value = constantText(argKind === "NamedArgExpr" ? argBody.arg : arg);
    if (value === void 0) return notSupported4(`the arguments of ${name} must be constants`);
    if (argKind === "NamedArgExpr") named[argBody.name] = value;
    else args2.push(value);
  }
  return { kind: "distribution-function", name, args: args2, named };
}
function planUtility(kind, statement, snapshot) {
  const { relations } = collectRelations(statement.node);
  const managed = relations.filter((r) => snapshot.table(r.name, r.schema));
  if (managed.length === 0) return { kind: "control", sql: statement.text, utility: true };
  return notSupported4(`${kind.replace(/Stmt$/, "")} on distributed or reference tables (${managed.map((r) => r.name).join(", ")}) is not supported yet`);
}
function canAlias(kind, ref) {
  return ref.inFrom || ref.isTarget && kind !== "MergeStmt";
}
function planQuery(kind, body, statement, snapshot) {
  const keyChange = distributionColumnChange(statement.node, snapshot);
  if (keyChange) return { kind: "unsupported", error: keyChange };
  if (kind === "InsertStmt") {
    const pulled = planInsertSelect(body, snapshot, (sql) => {
      const parsed = parseSql(sql);
      return parsed.length === 1 ? planStatement(parsed[0], snapshot) : notSupported4("the SELECT of INSERT ... SELECT must be one statement");
    });
    if (pulled) return pulled;
  }
  const info = collectRelations(statement.node);
  const resolved = info.relations.map((ref) => ({ ref, table: snapshot.table(ref.name, ref.schema) }));
  const managed = resolved.filter((r) => r.table);
  if (managed.length === 0) return { kind: "control", sql: statement.text, utility: false };
  const local = resolved.filter((r) => !r.table && !r.ref.name.startsWith("pg_") && r.ref.schema !== "pg_catalog" && r.ref.schema !== "information_schema");
  if (local.length > 0) {
    return notSupported4(
      `a statement cannot mix distributed or reference tables with tables that live only on the coordinator (${local.map((r) => r.ref.name).join(", ")})`
    );
  }
  const catalogRefs = resolved.filter((r) => !r.table);
  if (catalogRefs.length > 0) return notSupported4("a statement cannot join distributed tables with system catalogs");
  const relations = managed.map((r) => r.table);
  const tableCommand = /^table\s/i.test(statement.text);
  const template = rewriteRelations(
    statement.text,
    managed.map((r, k) => ({ location: r.ref.location, newName: relationPlaceholder(k), alias: r.ref.alias || !canAlias(kind, r.ref) || tableCommand ? void 0 : r.ref.name }))
  );
  const distributed = managed.filter((r) => r.table.kind === "distributed");
  const writes = nestedWrites(statement.node, snapshot).filter((w) => w.table);
  if (kind === "InsertStmt" && (writes.length > 0 || distributed.length > 1)) {
    return notSupported4("an INSERT into a distributed table that reads or writes distributed tables in a CTE or subquery is not supported (the other tables' rows live on other shards); use INSERT ... SELECT");
  }
  if (distributed.length === 0) {
    if (kind === "SelectStmt") {
      if (info.lockingClause || writes.length > 0) return { kind: "reference-write", template, relations };
      return { kind: "distributed", command: "SELECT", anchor: relations[0], keyValues: null, pinnedEach: null, template, relations, merge: null, aggregate: null, mergeUnsupported: null, readOnly: true, cacheable: !info.selectInto && isDeterministic(body) };
    }
    return { kind: "reference-write", template, relations };
  }
  const colocation = new Set(distributed.map((r) => r.table.colocationId));
  if (colocation.size > 1) {
    return notSupported4(
      `the distributed tables ${distributed.map((r) => r.ref.name).join(", ")} are not co-located; dpg runs a statement only over co-located tables (same distribution column type and shard count)`
    );
  }
  if (managed.some((r) => r.ref.isTarget && r.table.kind === "reference") || writes.some((w) => w.table.kind === "reference")) {
    return notSupported4("a statement that writes a reference table cannot read distributed tables");
  }
  const placeholders = new Map(managed.map((r, k) => [r.ref.location, relationPlaceholder(k)]));
  if (kind === "InsertStmt") return planInsert(body, template, relations, placeholders);
  const levels = pinsByLevel(statement.node, snapshot);
  const fromClause = kind === "SelectStmt" ? body.fromClause : kind === "UpdateStmt" ? body.fromClause : body.usingClause;
  const topLevel = managed.filter((r) => levels.top.has(r.ref.location));
  const keyRelations = topLevel.map((r) => ({ ref: r.ref.alias ?? r.ref.name, distributionColumn: r.table.distributionColumn }));
  const joins = joinConditions(fromClause, keyRelations);
  for (const relation of keyRelations) relation.nullable = joins.nullableRefs.has(relation.ref);
  const analysis = analyzeShardKey(body.whereClause, joins.innerQuals, keyRelations, { outerJoinQuals: joins.outerQuals });
  const preservedReference = topLevel.some((r) => r.table.kind === "reference" && !joins.nullableRefs.has(r.ref.alias ?? r.ref.name));
  const nullableDistributed = topLevel.some((r) => r.table.kind === "distributed" && joins.nullableRefs.has(r.ref.alias ?? r.ref.name));
  if (preservedReference && nullableDistributed) {
    return notSupported4("an outer join that keeps a reference table's rows against a distributed table is not supported yet (each shard would return them)");
  }
  const distributedRefs = distributed.map((r) => r.ref.alias ?? r.ref.name);
  const anchorRef = distributedRefs[0];
  const nested = distributed.filter((r) => !levels.top.has(r.ref.location));
  const allJoined = distributedRefs.length === 1 || analysis.joinedOnKey.some((group) => distributedRefs.every((ref) => group.includes(ref)));
  const keyValues = analysis.byRelation.get(anchorRef) ?? null;
  if (!allJoined || nested.length > 0) {
    const pinned = distributed.map((r) => levels.pins.get(r.ref.location) ?? null);
    if (pinned.some((values) => values === null || values.length !== 1)) {
      return notSupported4(
        nested.length > 0 ? "a subquery or CTE over a distributed table is supported only when every distributed table in the statement is pinned to one shard by `distribution column = value`" : "distributed tables must be joined on their distribution column (e.g. m.namespace = p.namespace), or each pinned to the same value"
      );
    }
    return asWrite({ ...distributedPlan(kind, body, template, relations, pinned[0], info, placeholders, managedRefs(managed, levels.top)), pinnedEach: pinned }, writes.length > 0);
  }
  return asWrite(distributedPlan(kind, body, template, relations, keyValues, info, placeholders, managedRefs(managed, levels.top)), writes.length > 0);
}
function asWrite(plan, writes) {
  return writes ? { ...plan, readOnly: false, cacheable: false } : plan;
}
function levelRangeVars(items, out2 = []) {
  for (const item of items ?? []) {
    const [kind, body] = unwrapNode(item);
    if (kind === "RangeVar") out2.push(body);
    else if (kind === "JoinExpr") levelRangeVars([body.larg, body.rarg], out2);
  }
  return out2;
}
function pinsByLevel(statementNode, snapshot) {
  const pins = /* @__PURE__ */ new Map();
  const top = /* @__PURE__ */ new Set();
  let first = true;
  walk(statementNode, (key, value) => {
    if (key !== "SelectStmt" && key !== "UpdateStmt" && key !== "DeleteStmt") return void 0;
    const from = key === "DeleteStmt" ? value.usingClause : value.fromClause;
    const rangeVars = levelRangeVars(from);
    if (key !== "SelectStmt" && value.relation) rangeVars.push(value.relation);
    const keyRelations = rangeVars.map((rv) => ({
      ref: rv.alias?.aliasname ?? rv.relname,
      distributionColumn: snapshot.table(rv.relname, rv.schemaname ?? null)?.distributionColumn ?? null
    }));
    const joins = joinConditions(from, keyRelations);
    for (const relation of keyRelations) relation.nullable = joins.nullableRefs.has(relation.ref);
    const analysis = analyzeShardKey(value.whereClause, joins.innerQuals, keyRelations, { outerJoinQuals: joins.outerQuals });
    rangeVars.forEach((rv, i) => {
      pins.set(rv.location, analysis.byRelation.get(keyRelations[i].ref) ?? null);
      if (first) top.add(rv.location);
    });
    first = false;
    return void 0;
  });
  return { pins, top };
}
function managedRefs(managed, top) {
  return managed.map((r) => ({ ref: r.ref.alias ?? r.ref.name, top: top.has(r.ref.location) }));
}
function searchedTable(body, relations, refs) {
  const column2 = searchColumn(body);
  if (!column2) return null;
  const candidates = relations.map((table2, i) => ({ table: table2, ref: refs[i].ref, top: refs[i].top })).filter((r) => r.table.kind === "distributed" && r.top);
  const match = column2.qualifier ? candidates.filter((r) => r.ref === column2.qualifier) : candidates;
  return match.length === 1 ? match[0] : null;
}
function distributedPlan(kind, body, template, relations, keyValues, info, placeholders, refs) {
  const anchor = relations.find((t) => t.kind === "distributed");
  const command = kind === "SelectStmt" ? "SELECT" : kind === "UpdateStmt" ? "UPDATE" : "DELETE";
  const base = { kind: "distributed", command, anchor, keyValues, pinnedEach: null, template, relations, merge: null, aggregate: null, mergeUnsupported: null, readOnly: command === "SELECT" && !info.lockingClause };
  if (command !== "SELECT") return base;
  base.cacheable = base.readOnly && !info.selectInto && isDeterministic(body);
  base.vectorSearch = JSON.stringify(body.sortClause ?? []).match(/"sval":"(<=>|<->|<#>|<\+>)"/) !== null;
  const searched = base.vectorSearch && !info.setOperation ? searchedTable(body, relations, refs) : null;
  if (searched) base.searched = { ...searched, otherFilters: hasOtherFilters(body, searched.table.distributionColumn) };
  const needsCombine = body.groupClause || body.havingClause || body.distinctClause || usesAggregates(body.targetList) || usesAggregates(body.sortClause);
  if (needsCombine) {
    const aggregate = planAggregateSelect(body, info, placeholders);
    if (typeof aggregate === "string") return { ...base, mergeUnsupported: aggregate };
    if (aggregate instanceof ClientError) return { ...base, mergeUnsupported: aggregate.message, mergeError: aggregate };
    return { ...base, aggregate };
  }
  const merge = planMergeSelect(body, info, placeholders);
  if (typeof merge === "string") return { ...base, mergeUnsupported: merge };
  return { ...base, merge };
}

// src/planner/plan-cache.ts
var PlanCache = class _PlanCache {
  constructor(capacity = 5e3) {
    this.capacity = capacity;
  }
  capacity;
  entries = /* @__PURE__ */ new Map();
  hits = 0;
  misses = 0;
  /** Characters of statement text held by the entries. */
  chars = 0;
  static MAX_ENTRY_CHARS = 1024 * 1024;
  static MAX_CHARS = 32 * 1024 * 1024;
  /**
   * plan() for a session: a long statement not planned yet is parsed on a worker thread
   * (parseSqlOffThread), so other sessions are not kept waiting while it is.
   */
  async planAsync(sql, snapshot) {
    const cached = this.entries.get(sql);
    if (sql.length < OFF_THREAD_PARSE_CHARS || cached && cached.version === snapshot.version) return this.plan(sql, snapshot);
    this.misses++;
    let statements;
    try {
      statements = await parseSqlOffThread(sql);
    } catch (error) {
      throw isStackOverflow(error) ? stackDepthExceeded() : error;
    }
    return this.store(sql, snapshot, () => statements.map((statement) => ({ statement, plan: planStatement(statement, snapshot) })));
  }
  plan(sql, snapshot) {
    const cached = this.entries.get(sql);
    if (cached && cached.version === snapshot.version) {
      this.hits++;
      this.entries.delete(sql);
      this.entries.set(sql, cached);
      return cached.planned;
    }
    this.misses++;
    return this.store(sql, snapshot, () => parseSql(sql).map((statement) => ({ statement, plan: planStatement(statement, snapshot) })));
  }
  store(sql, snapshot, make) {
    let planned;
    try {
      planned = make();
    } catch (error) {
      throw isStackOverflow(error) ? stackDepthExceeded() : error;
    }
    const old = this.entries.get(sql);
    if (old) {
      this.entries.delete(sql);
      this.chars -= sql.length;
    }
    if (sql.length > _PlanCache.MAX_ENTRY_CHARS) return planned;
    this.entries.set(sql, { version: snapshot.version, planned });
    this.chars += sql.length;
    while (this.entries.size > this.capacity || this.chars > _PlanCache.MAX_CHARS) {
      const oldest = this.entries.keys().next().value;
      this.entries.delete(oldest);
      this.chars -= oldest.length;
    }
    return planned;
  }
};

// src/executor/recovery.ts
var PART = /^(dpg_[a-z0-9]+_[0-9a-f]+)_g(\d+|c)$/;
async function recoverPreparedTransactions(coordinator, graceSeconds) {
  let committed = 0;
  let rolledBack = 0;
  const control = coordinator.pool(0);
  const decisions = await control.acquire();
  try {
    const stillPrepared = /* @__PURE__ */ new Set();
    for (const groupId of coordinator.pools.keys()) {
      const pool = coordinator.pool(groupId);
      const connection = await pool.acquire();
      try {
        const parts = await connection.simpleQuery(
          `SELECT gid, extract(epoch FROM now() - prepared)::float8, owner FROM pg_prepared_xacts WHERE database = current_database() AND gid LIKE 'dpg\\_%'`
        );
        for (const [gid, age, owner] of parts.rows) {
          const match = PART.exec(gid);
          if (!match) {
            const move = MOVE_GID.exec(gid);
            if (move && Number(age) > graceSeconds) {
              const outcome = await resolveMoveCutover(decisions, connection, gid, Number(move[1]));
              if (outcome === "committed") committed++;
              if (outcome === "rolled-back") rolledBack++;
            }
            continue;
          }
          const base = match[1];
          stillPrepared.add(base);
          let decision = (await decisions.simpleQuery(`SELECT committed FROM dpg_catalog.commit_records WHERE gid = '${base}'`)).rows[0]?.[0] ?? null;
          if (decision === null && Number(age) > graceSeconds) {
            await decisions.simpleQuery(`INSERT INTO dpg_catalog.commit_records (gid, committed) VALUES ('${base}', false) ON CONFLICT (gid) DO NOTHING`);
            decision = (await decisions.simpleQuery(`SELECT committed FROM dpg_catalog.commit_records WHERE gid = '${base}'`)).rows[0]?.[0] ?? null;
          }
          const finish = (sql) => owner === connection.target.user ? finishPrepared2(connection, sql) : finishAs(coordinator, groupId, owner, sql);
          if (decision === "t") {
            if (await finish(`COMMIT PREPARED '${gid}'`)) committed++;
          } else if (decision === "f") {
            if (await finish(`ROLLBACK PREPARED '${gid}'`)) rolledBack++;
          }
        }
      } finally {
        pool.release(connection);
      }
    }
    const old = await decisions.simpleQuery(
      `SELECT gid FROM dpg_catalog.commit_records WHERE created_at < now() - interval '${graceSeconds} seconds' AND (committed OR created_at < now() - interval '1 hour')`
    );
    const done = old.rows.map(([gid]) => gid).filter((gid) => !stillPrepared.has(gid));
    if (done.length > 0) {
      await decisions.simpleQuery(`DELETE FROM dpg_catalog.commit_records WHERE gid IN (${done.map((g) => `'${g}'`).join(", ")})`);
    }
  } finally {
    control.release(decisions);
  }
  return { committed, rolledBack };
}
async function resolveMoveCutover(control, worker, gid, moveId2) {
  const state = (await control.simpleQuery(`SELECT state FROM dpg_catalog.shard_moves WHERE move_id = ${moveId2}`)).rows[0]?.[0] ?? null;
  const finish = (sql) => finishPrepared2(worker, sql);
  if (state === "cleanup" || state === "done") return await finish(`COMMIT PREPARED '${gid}'`) ? "committed" : "left";
  const locked = (await control.simpleQuery(`SELECT pg_try_advisory_lock(${MOVE_LOCK_CLASS}, ${moveId2})`)).rows[0]?.[0] === "t";
  if (!locked) return "left";
  try {
    await control.simpleQuery(`UPDATE dpg_catalog.shard_moves SET state = 'catching-up', updated_at = now(), detail = 'cutover rolled back by a recovery loop' WHERE move_id = ${moveId2} AND state = 'cutover'`);
    const now = (await control.simpleQuery(`SELECT state FROM dpg_catalog.shard_moves WHERE move_id = ${moveId2}`)).rows[0]?.[0] ?? null;
    if (now === "cleanup" || now === "done") return "left";
    return await finish(`ROLLBACK PREPARED '${gid}'`) ? "rolled-back" : "left";
  } finally {
    await control.simpleQuery(`SELECT pg_advisory_unlock(${MOVE_LOCK_CLASS}, ${moveId2})`);
  }
}
async function finishAs(coordinator, groupId, role, sql) {
  if (coordinator.nodePasswordOf(role) === null) {
    coordinator.log(`recovery: ${sql} needs role ${role}, which is no longer a configured user; finish it as a superuser`);
    return false;
  }
  return coordinator.pool(groupId, role).withConnection((connection) => finishPrepared2(connection, sql));
}
async function finishPrepared2(connection, sql) {
  try {
    await connection.simpleQuery(sql);
    return true;
  } catch (error) {
    if (error.sqlstate === "42704") return false;
    throw error;
  }
}

// src/vector/tier-manager.ts
import { createHash as createHash4 } from "node:crypto";
import pg2 from "pg";
var TIER_LOCK_KEY = 1685088116;
var quoteLiteral3 = (value) => `'${value.replace(/'/g, "''")}'`;
var quoteIdent3 = (value) => `"${value.replace(/"/g, '""')}"`;
function namespaceIndexName(shardId, column2, namespace) {
  const digest = createHash4("sha1").update(`${column2}\0${namespace}`).digest("hex").slice(0, 16);
  return `dpg_ns_${shardId}_${digest}`;
}
var NamespaceTierManager = class {
  constructor(host, options) {
    this.host = host;
    this.options = options;
  }
  host;
  options;
  timer = null;
  running = null;
  control = null;
  leader = false;
  stopped = false;
  start() {
    this.timer = setInterval(() => void this.runCycle(), this.options.intervalSeconds * 1e3);
    this.timer.unref();
    setTimeout(() => void this.runCycle(), 1e3).unref();
  }
  async stop() {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.control?.end().catch(() => {
    });
    this.control = null;
  }
  /** One cycle (skipped while the previous one runs, e.g. building a large index). */
  runCycle() {
    if (this.running || this.stopped) return this.running ?? Promise.resolve();
    this.running = this.cycle().catch((error) => this.host.log(`namespace tiers: ${error.message}`)).finally(() => {
      this.running = null;
    });
    return this.running;
  }
  async controlClient() {
    if (this.control) return this.control;
    const target = await this.host.controlTarget();
    const { tls: _tls, ...login } = target;
    const client = new pg2.Client({ ...login, application_name: "dpg-namespace-tiers", ...pgSslOption(target) });
    client.on("error", () => {
      this.control = null;
      this.leader = false;
    });
    await client.connect();
    this.control = client;
    this.leader = false;
    return client;
  }
  async cycle() {
    const control = await this.controlClient();
    if (!this.leader) {
      const result = await control.query("SELECT pg_try_advisory_lock($1) AS locked", [TIER_LOCK_KEY]);
      this.leader = result.rows[0].locked;
      if (!this.leader) return;
    }
    for (const table2 of this.host.snapshotTables()) {
      if (table2.kind !== "distributed" || table2.distributionMethod !== "hash" || this.stopped) continue;
      await this.manageTable(control, table2);
    }
  }
  onShard(table2, shardIndex, run3) {
    return this.host.pool(table2.shards[shardIndex].groupIds[0]).run(run3);
  }
  /**
   * onShard for index builds: the connection gets vector.index_build_memory as its
   * maintenance_work_mem for the build (an HNSW graph that fits in it is built many
   * times faster) and the server's value back afterwards, since it returns to the pool.
   */
  async buildOnShard(table2, shardIndex, run3) {
    await this.onShard(table2, shardIndex, async (query) => {
      await query(`SET maintenance_work_mem = ${quoteLiteral3(this.options.indexBuildMemory)}`);
      try {
        await run3(query);
      } finally {
        await query("RESET maintenance_work_mem").catch(() => {
        });
      }
    });
  }
  async manageTable(control, table2) {
    const column2 = table2.distributionColumn;
    const existing = new Map(
      (await control.query("SELECT namespace, tier, row_count, index_names FROM dpg_catalog.vector_namespaces WHERE table_name = $1", [table2.name])).rows.map((r) => [r.namespace, r])
    );
    const shards = /* @__PURE__ */ new Map();
    const pieces = /* @__PURE__ */ new Map();
    for (const shard of table2.shards) {
      const relation = `${table2.name}_${shard.shardId}`;
      const state = await this.onShard(table2, shard.index, async (query) => {
        const hnsw = await query(
          `SELECT a.attname, opc.opcname, i.relname, array_to_string(i.reloptions, ',')
           FROM pg_index x
           JOIN pg_class i ON i.oid = x.indexrelid
           JOIN pg_am am ON am.oid = i.relam
           JOIN pg_opclass opc ON opc.oid = x.indclass[0]
           JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
           WHERE x.indrelid = to_regclass(${quoteLiteral3(quoteIdent3(relation))}) AND am.amname = 'hnsw' AND x.indpred IS NULL`
        );
        if (hnsw.length === 0) return null;
        const counts = await query(`SELECT ${quoteIdent3(column2)}, count(*) FROM ${quoteIdent3(relation)} WHERE ${quoteIdent3(column2)} IS NOT NULL GROUP BY 1`);
        const partial = await query(
          `SELECT i.relname, x.indisvalid FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
           WHERE x.indrelid = to_regclass(${quoteLiteral3(quoteIdent3(relation))}) AND i.relname LIKE 'dpg\\_ns\\_%'`
        );
        for (const [ns, n] of counts) {
          let byShard = pieces.get(ns);
          if (!byShard) pieces.set(ns, byShard = /* @__PURE__ */ new Map());
          byShard.set(shard.index, Number(n));
        }
        return {
          shardId: shard.shardId,
          relation,
          columns: hnsw.map(([name, opclass, index, options]) => ({ column: name, opclass, index, m: Number(/\bm=(\d+)/.exec(options ?? "")?.[1] ?? 16) })),
          partial: new Map(partial.map(([name, valid]) => [name, valid === "t"]))
        };
      });
      if (state) shards.set(shard.index, state);
    }
    if (shards.size === 0) return;
    for (const [shardIndex, state] of shards) {
      let rows = 0;
      for (const byShard of pieces.values()) rows += byShard.get(shardIndex) ?? 0;
      await this.resizeSharedIndexes(table2, shardIndex, state, rows);
    }
    const names = [...pieces.keys()];
    const totals = names.map((ns) => [...pieces.get(ns).values()].reduce((a, b) => a + b, 0));
    if (names.length > 0) {
      await control.query(
        `INSERT INTO dpg_catalog.vector_namespaces (table_name, namespace, shardid, row_count)
         SELECT $1, c.ns, s.shardid, c.n
         FROM unnest($2::text[], $3::bigint[], $4::int[]) AS c(ns, n, home)
         JOIN dpg_catalog.shards s ON s.table_name = $1 AND s.shard_index = c.home
         ON CONFLICT (table_name, namespace) DO UPDATE SET row_count = excluded.row_count, shardid = excluded.shardid, counted_at = now()`,
        [table2.name, names, totals, names.map((ns) => CatalogSnapshot.shardIndexForValue(table2, ns))]
      );
      const bracket = (rows) => `${hnswProfileIn(this.options.profiles, rows).ef_search}/${recallFloor(rows)}`;
      const crossed = names.some((ns, i) => {
        const row = existing.get(ns);
        return row !== void 0 && row.tier !== "exact" && bracket(Number(row.row_count)) !== bracket(totals[i]);
      });
      if (crossed) await this.host.catalogChanged();
    }
    for (const [i, namespace] of names.entries()) {
      if (this.stopped) return;
      const row = existing.get(namespace);
      const entry = { table: table2, namespace, tier: row?.tier ?? "exact", indexes: new Set(row?.index_names ?? []) };
      if (entry.tier !== "split" && this.options.splitRows > 0 && totals[i] > this.options.splitRows) {
        entry.tier = "split";
        await this.record(control, entry, true);
        this.host.log(`namespace tiers: ${table2.name} namespace ${JSON.stringify(namespace)} (${totals[i]} rows) is split: its new rows go to shards by namespace || to_char(created_at, 'YYYY-MM')`);
      }
      for (const [shardIndex, rows] of pieces.get(namespace)) {
        const state = shards.get(shardIndex);
        if (state) await this.managePiece(control, entry, shardIndex, state, rows);
      }
    }
    for (const [namespace, row] of existing) {
      if (pieces.has(namespace) || this.stopped) continue;
      for (const name of row.index_names) {
        const shard = table2.shards.find((s) => name.startsWith(`dpg_ns_${s.shardId}_`));
        if (shard) await this.onShard(table2, shard.index, (query) => query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent3(name)}`)).catch(() => {
        });
      }
      await control.query("DELETE FROM dpg_catalog.vector_namespaces WHERE table_name = $1 AND namespace = $2", [table2.name, namespace]);
      if (row.tier !== "exact") await this.host.catalogChanged();
    }
  }
  /**
   * The HNSW profile of a shard follows its size (the seed's table): once a shard
   * grows into a profile with a larger m, or shrinks into one with a smaller m by a
   * tenth past its bound (so a shard near a bound is not rebuilt at every crossing),
   * its shared index is built again with that profile, concurrently, beside the old
   * one, which is then dropped.
   */
  async resizeSharedIndexes(table2, shardIndex, state, rows) {
    const larger = hnswProfileIn(this.options.profiles, rows);
    const smaller = hnswProfileIn(this.options.profiles, Math.ceil(rows * 1.1));
    for (const column2 of state.columns) {
      const profile = larger.m > column2.m ? larger : smaller.m < column2.m ? smaller : null;
      if (!profile || this.stopped) continue;
      const started = performance.now();
      const next = `${column2.index.slice(0, 50)}_rebuild`;
      await this.buildOnShard(table2, shardIndex, async (query) => {
        await query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent3(next)}`);
        await query(
          `CREATE INDEX CONCURRENTLY ${quoteIdent3(next)} ON ${quoteIdent3(state.relation)} USING hnsw (${quoteIdent3(column2.column)} ${quoteIdent3(column2.opclass)}) WITH (m = ${profile.m}, ef_construction = ${profile.ef_construction})`
        );
        await query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent3(column2.index)}`);
        await query(`ALTER INDEX ${quoteIdent3(next)} RENAME TO ${quoteIdent3(column2.index)}`);
      });
      column2.m = profile.m;
      this.host.log(
        `namespace tiers: shard ${state.shardId} of ${table2.name} (${rows} rows) has its HNSW index on ${column2.column} rebuilt with m ${profile.m}, ef_construction ${profile.ef_construction} in ${((performance.now() - started) / 1e3).toFixed(1)} s`
      );
    }
  }
  /** Writes a namespace's tier and indexes; `notify`: coordinators must route differently now. */
  async record(control, entry, notify) {
    await control.query(
      `UPDATE dpg_catalog.vector_namespaces SET tier = $3, index_names = $4, tier_changed_at = now() WHERE table_name = $1 AND namespace = $2`,
      [entry.table.name, entry.namespace, entry.tier, [...entry.indexes].sort()]
    );
    if (notify) await this.host.catalogChanged();
  }
  /** One shard's rows of a namespace: an index of its own past the bound, none below half of it. */
  async managePiece(control, entry, shardIndex, state, rows) {
    const { table: table2, namespace } = entry;
    const names = state.columns.map((c) => namespaceIndexName(state.shardId, c.column, namespace));
    const recorded = names.every((n) => entry.indexes.has(n));
    const built = names.every((n) => state.partial.get(n) === true);
    const max = this.options.exactSearchMaxRows;
    if (rows > max && !(recorded && built)) {
      if (built) {
        for (const n of names) entry.indexes.add(n);
        if (entry.tier !== "split") entry.tier = "hnsw";
        await this.record(control, entry, true);
        return;
      }
      await this.promote(control, entry, shardIndex, state, rows, names);
    } else if (rows < max / 2 && names.some((n) => entry.indexes.has(n) || state.partial.has(n))) {
      for (const n of names) entry.indexes.delete(n);
      if (entry.tier !== "split") entry.tier = "exact";
      await this.record(control, entry, true);
      await new Promise((resolve3) => setTimeout(resolve3, 2e3));
      await this.onShard(table2, shardIndex, async (query) => {
        for (const n of names) await query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent3(n)}`);
      });
      this.host.log(`namespace tiers: ${table2.name} namespace ${JSON.stringify(namespace)} on shard ${state.shardId} is searched exactly again`);
    } else if (entry.tier === "promoting" && rows <= max) {
      entry.tier = "exact";
      await this.record(control, entry, false);
    }
  }
  async promote(control, entry, shardIndex, state, rows, names) {
    const { table: table2, namespace } = entry;
    const profile = hnswProfileIn(this.options.profiles, rows);
    if (entry.tier !== "split") {
      entry.tier = "promoting";
      await this.record(control, entry, false);
    }
    await control.query("UPDATE dpg_catalog.vector_namespaces SET m = $3, ef_construction = $4 WHERE table_name = $1 AND namespace = $2", [
      table2.name,
      namespace,
      profile.m,
      profile.ef_construction
    ]);
    const started = performance.now();
    try {
      await this.buildOnShard(table2, shardIndex, async (query) => {
        for (const [i, { column: column2, opclass }] of state.columns.entries()) {
          const name = names[i];
          if (state.partial.get(name) === false) await query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent3(name)}`);
          if (state.partial.get(name) === true) continue;
          await query(
            `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${quoteIdent3(name)} ON ${quoteIdent3(state.relation)} USING hnsw (${quoteIdent3(column2)} ${quoteIdent3(opclass)}) WITH (m = ${profile.m}, ef_construction = ${profile.ef_construction}) WHERE ${quoteIdent3(table2.distributionColumn)} = ${quoteLiteral3(namespace)}`
          );
          const valid = await query(`SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(${quoteLiteral3(quoteIdent3(name))})`);
          if (valid[0]?.[0] !== "t") throw new Error(`index ${name} is not valid after its build`);
        }
      });
    } catch (error) {
      this.host.log(`namespace tiers: an index of its own for ${table2.name} namespace ${JSON.stringify(namespace)} on shard ${state.shardId} failed: ${error.message}; it stays exact there`);
      await this.onShard(table2, shardIndex, async (query) => {
        for (const name of names) await query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent3(name)}`);
      }).catch(() => {
      });
      if (entry.tier === "promoting") entry.tier = "exact";
      await this.record(control, entry, false);
      return;
    }
    for (const n of names) entry.indexes.add(n);
    if (entry.tier !== "split") entry.tier = "hnsw";
    await this.record(control, entry, true);
    this.host.log(
      `namespace tiers: ${table2.name} namespace ${JSON.stringify(namespace)} (${rows} rows on shard ${state.shardId}) has its own HNSW index (m ${profile.m}, ef_construction ${profile.ef_construction}), built in ${((performance.now() - started) / 1e3).toFixed(1)} s`
    );
  }
};

// src/executor/replicas.ts
function lsnValue(lsn) {
  const match = lsn ? /^([0-9A-F]+)\/([0-9A-F]+)$/i.exec(lsn) : null;
  return match ? (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`) : null;
}
var ReplicaRouter = class {
  constructor(host, readFrom, maxLagMs, poolOptions, intervalMs = 500) {
    this.host = host;
    this.readFrom = readFrom;
    this.maxLagMs = maxLagMs;
    this.poolOptions = poolOptions;
    this.intervalMs = intervalMs;
  }
  host;
  readFrom;
  maxLagMs;
  poolOptions;
  intervalMs;
  pools = /* @__PURE__ */ new Map();
  /** Standby name -> Date.now() of the primary sample it had replayed past. */
  caughtUp = /* @__PURE__ */ new Map();
  timer = null;
  turn = 0;
  ticking = false;
  start() {
    if (this.readFrom === "primary") return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
    void this.tick();
  }
  async stop() {
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }
  /**
   * The standby to read group `groupId` from, or null for the primary.
   * @param since Date.now() after the session's last write to the group (0: none)
   */
  /** Every standby pool (GroupPool.sessionEnded runs on each when a session ends). */
  allPools() {
    return [...this.pools.values()];
  }
  pick(groupId, since, role) {
    if (this.readFrom === "primary") return null;
    const group = this.host.workerGroups().find((g) => g.groupId === groupId);
    if (!group) return null;
    const leader = this.host.leaderName(groupId);
    const fresh = Math.max(since, Date.now() - this.maxLagMs);
    const standbys = group.nodes.filter((n) => n.name !== leader && (this.caughtUp.get(n.name) ?? 0) > fresh);
    const choices = this.readFrom === "any" ? [null, ...standbys] : standbys;
    if (choices.length === 0) return null;
    const node = choices[this.turn++ % choices.length];
    return node ? { node: node.name, pool: this.poolFor(node, role) } : null;
  }
  /** A standby that refused or dropped a connection is not read from until it has caught up again. */
  failed(node) {
    this.caughtUp.delete(node);
  }
  poolFor(node, role) {
    const key = role === void 0 ? node.name : `${node.name}\0${role}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new GroupPool(node.groupId, async () => this.host.target(node, role), this.poolOptions);
      this.pools.set(key, pool);
    }
    return pool;
  }
  async tick() {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await Promise.all(this.host.workerGroups().map((group) => this.sample(group.groupId, group.nodes)));
    } finally {
      this.ticking = false;
    }
  }
  async sample(groupId, nodes) {
    const leader = this.host.leaderName(groupId);
    const standbys = nodes.filter((n) => n.name !== leader);
    if (!leader || standbys.length === 0) return;
    const asked = Date.now();
    let primaryLsn;
    try {
      primaryLsn = lsnValue(await this.query(this.host.primaryPool(groupId), "SELECT pg_current_wal_lsn()"));
    } catch {
      return;
    }
    if (primaryLsn === null) return;
    await Promise.all(
      standbys.map(async (node) => {
        try {
          const replayed = lsnValue(await this.query(this.poolFor(node), "SELECT pg_last_wal_replay_lsn()"));
          if (replayed !== null && replayed >= primaryLsn) this.caughtUp.set(node.name, asked);
        } catch {
          this.caughtUp.delete(node.name);
        }
      })
    );
  }
  /** One sample; a node that does not answer within 2 s (cut off, or stopped) is given up on, its connection closed. */
  query(pool, sql) {
    return pool.withConnection(async (connection) => {
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => {
          connection.destroy();
          reject(new Error("no answer within 2 s"));
        }, 2e3);
      });
      try {
        return (await Promise.race([connection.simpleQuery(sql), timeout])).rows[0]?.[0] ?? null;
      } finally {
        clearTimeout(timer);
      }
    });
  }
};

// src/maintenance/scheduler.ts
var quoteIdent4 = (name) => `"${name.replace(/"/g, '""')}"`;
var quoteLiteral4 = (text) => `'${text.replace(/'/g, "''")}'`;
var MaintenanceScheduler = class {
  constructor(host, schedules, indexBuildMemory, intervalMs = 5e3) {
    this.host = host;
    this.indexBuildMemory = indexBuildMemory;
    this.intervalMs = intervalMs;
    this.jobs = [
      { job: "reindex", schedule: new CronSchedule(schedules.reindex) },
      { job: "analyze", schedule: new CronSchedule(schedules.analyze) }
    ];
    if (schedules.rebalance && host.rebalance) this.jobs.push({ job: "rebalance", schedule: new CronSchedule(schedules.rebalance) });
  }
  host;
  indexBuildMemory;
  intervalMs;
  timer = null;
  lastCheck = /* @__PURE__ */ new Date();
  running = false;
  jobs;
  start() {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }
  stop() {
    if (this.timer) clearInterval(this.timer);
  }
  async tick() {
    if (this.running) return;
    this.running = true;
    const now = /* @__PURE__ */ new Date();
    const since = this.lastCheck;
    this.lastCheck = now;
    try {
      for (const { job, schedule } of this.jobs) {
        const due = schedule.due(since, now);
        const latest = due.at(-1);
        if (latest && await this.claim(job, latest)) await this.run(job, latest);
      }
    } catch (error) {
      this.host.log(`maintenance: ${error.message}`);
    } finally {
      this.running = false;
    }
  }
  /** True when this coordinator is the one to run `job` for the minute `at`. */
  claim(job, at) {
    return this.onGroup(0, async (query) => {
      const rows = await query(
        `INSERT INTO dpg_catalog.maintenance_runs (job, scheduled_for) VALUES (${quoteLiteral4(job)}, ${quoteLiteral4(at.toISOString())}) ON CONFLICT DO NOTHING RETURNING job`
      );
      return rows.length === 1;
    });
  }
  async run(job, at) {
    const started = performance.now();
    let result = "ok";
    let detail;
    try {
      detail = job === "reindex" ? await this.reindex() : job === "analyze" ? await this.analyze() : await this.host.rebalance();
    } catch (error) {
      result = "failed";
      detail = error.message;
    }
    detail += ` (${((performance.now() - started) / 1e3).toFixed(1)} s)`;
    this.host.log(`maintenance: ${job} ${result}: ${detail}`);
    await this.onGroup(
      0,
      (query) => query(
        `UPDATE dpg_catalog.maintenance_runs SET finished_at = now(), result = ${quoteLiteral4(result)}, detail = ${quoteLiteral4(detail)} WHERE job = ${quoteLiteral4(job)} AND scheduled_for = ${quoteLiteral4(at.toISOString())}`
      )
    );
  }
  /** Runs `work` on one connection of a group's pool (group 0: the control group, where the catalog is). */
  onGroup(groupId, work) {
    return this.host.pool(groupId).run(work);
  }
  /**
   * The shard that needs it most: the one whose table has the most dead rows (each is a
   * deleted node the HNSW graph still routes through), ties by live rows. Its HNSW
   * indexes are rebuilt with REINDEX CONCURRENTLY (writes go on).
   */
  async reindex() {
    let best = null;
    for (const table2 of this.host.tables()) {
      if (table2.kind !== "distributed") continue;
      for (const shard of table2.shards) {
        const groupId2 = shard.groupIds[0];
        const relation2 = `${table2.name}_${shard.shardId}`;
        const rows = await this.onGroup(
          groupId2,
          (query) => query(
            `SELECT c.relname, s.n_dead_tup, s.n_live_tup FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
             JOIN pg_stat_user_tables s ON s.relid = i.indrelid WHERE a.amname = 'hnsw' AND s.relname = ${quoteLiteral4(relation2)} ORDER BY c.relname`
          )
        );
        if (rows.length === 0) continue;
        const dead2 = Number(rows[0][1]);
        const live2 = Number(rows[0][2]);
        if (!best || dead2 > best.dead || dead2 === best.dead && live2 > best.live) best = { groupId: groupId2, relation: relation2, indexes: rows.map((r) => r[0]), dead: dead2, live: live2 };
      }
    }
    if (!best) return "no shard has an HNSW index";
    const { groupId, relation, indexes, dead, live } = best;
    await this.onGroup(groupId, async (query) => {
      await query(`SET maintenance_work_mem = ${quoteLiteral4(this.indexBuildMemory)}`);
      try {
        for (const index of indexes) await query(`REINDEX INDEX CONCURRENTLY ${quoteIdent4(index)}`);
      } finally {
        await query("RESET maintenance_work_mem").catch(() => {
        });
      }
    });
    return `reindexed ${indexes.join(", ")} of ${relation} (${dead} dead, ${live} live rows)`;
  }
  async analyze() {
    let shards = 0;
    for (const table2 of this.host.tables()) {
      for (const shard of table2.shards) {
        for (const groupId of table2.kind === "reference" ? shard.groupIds : [shard.groupIds[0]]) {
          await this.onGroup(groupId, (query) => query(`ANALYZE ${quoteIdent4(`${table2.name}_${shard.shardId}`)}`));
          shards++;
        }
      }
    }
    return `analyzed ${shards} shards`;
  }
};

// src/server/coordinator.ts
var CACHE_SUSPECT_CHANNEL = "dpg_cache_suspect";
var Coordinator = class {
  constructor(options) {
    this.options = options;
    this.database = options.database;
    this.maxClients = options.maxClients;
    this.maxUnauthenticated = Math.max(100, options.maxClients);
    this.authenticationTimeoutMs = options.authenticationTimeoutMs ?? 6e4;
    this.scramSecret = options.scramSecret ?? randomBytes4(32).toString("base64");
    this.tlsContext = options.tls ? createSecureContext({ cert: options.tls.cert, key: options.tls.key, minVersion: "TLSv1.2" }) : null;
    this.tlsRequired = options.tls?.required ?? false;
    this.log = options.log ?? ((line) => process.stderr.write(`${(/* @__PURE__ */ new Date()).toISOString()} ${line}
`));
    for (const user of options.users) {
      this.verifiers.set(user.name, makeScramVerifier(user.password, { salt: scramSaltFor(user.name, this.scramSecret) }));
      this.clientUsers.set(user.name, user);
    }
  }
  options;
  database;
  maxClients;
  /**
   * Connections still in startup or authentication, oldest first. They do not take the
   * client slots (maxClients); past this many the oldest is closed, so idle sockets cannot
   * lock real clients out, and what they hold is bounded (at most one startup packet or
   * SASL message each, see ClientSession).
   */
  maxUnauthenticated;
  authenticationTimeoutMs;
  /** What SSLRequest upgrades a client connection with; null: no TLS ('N'). */
  tlsContext;
  tlsRequired;
  scramSecret;
  unauthenticated = /* @__PURE__ */ new Set();
  authenticatedCount = 0;
  plans = new PlanCache();
  /** The coordinator's own connections to each group (options.backendUser). */
  pools = /* @__PURE__ */ new Map();
  /** Connections as client roles: role -> group -> pool (made at a role's first statement on a group). */
  clientPools = /* @__PURE__ */ new Map();
  targets = /* @__PURE__ */ new Map();
  clientUsers = /* @__PURE__ */ new Map();
  typeMaps = /* @__PURE__ */ new Map();
  snapshot;
  /** Rows per shard id, as the collector last counted them (HNSW profiles of shared indexes go by them). */
  shardRows = /* @__PURE__ */ new Map();
  /** Reads from standbys; null when every read goes to the primary. */
  replicas = null;
  /** Null unless config enables the result cache. */
  resultCache = null;
  /** Parameters reported to clients at startup, taken from the control group's primary. */
  serverParameters = /* @__PURE__ */ new Map();
  verifiers = /* @__PURE__ */ new Map();
  sessions = /* @__PURE__ */ new Map();
  nextProcessId = 1;
  server = null;
  catalogListener = null;
  catalogVersion = 0;
  log;
  /** Some configured user has a namespaces: allow-list: new shards get dpg's row-level security policy. */
  get namespaceIsolation() {
    return [...this.clientUsers.values()].some((u) => u.namespaces != null);
  }
  /** May `user` run the rebalancer's and moves' functions (config users[].admin)? */
  isAdmin(user) {
    return this.clientUsers.get(user)?.admin === true;
  }
  /** The node password of a client role; null for a role the config does not name. */
  nodePasswordOf(role) {
    return this.clientUsers.get(role)?.nodePassword ?? null;
  }
  get vectorSearch() {
    return { candidateFactor: this.options.vector.candidateFactor, profiles: this.options.vector.profiles };
  }
  /** Bytes of SELECT rows an INSERT ... SELECT may hold here before it is refused. */
  get heldRowsMaxBytes() {
    return this.options.heldRowsMaxBytes ?? 256 * 1024 * 1024;
  }
  get insertSelectMaxBytes() {
    return this.options.insertSelectMaxBytes ?? 256 * 1024 * 1024;
  }
  /** How long a statement waits for a group without a primary to get one again. */
  get failoverWaitMs() {
    return this.options.failoverWaitMs ?? 3e4;
  }
  get defaultShardCount() {
    return this.options.defaultShardCount;
  }
  durabilityOf(table2, unlogged) {
    return this.options.durability[table2] ?? (unlogged ? "ephemeral" : "critical");
  }
  /** A table's durability now: config (replication.tables) first, else what the catalog recorded when it was distributed. */
  tableDurability(table2) {
    return this.options.durability[table2.name] ?? table2.durability;
  }
  nodesPerGroup(groupId) {
    return this.snapshot.nodes.filter((n) => n.groupId === groupId).length;
  }
  verifierFor(user) {
    return this.verifiers.get(user) ?? null;
  }
  /** What an unknown user is authenticated against: the salt a real user of that name would get, keys no one can prove. */
  mockVerifierFor(user) {
    return mockScramVerifier(user, this.scramSecret);
  }
  async start() {
    await initParser();
    if (this.options.leaderWatch) {
      const { endpoints, prefix, login } = this.options.leaderWatch;
      this.leaderWatcher = new LeaderWatcher(endpoints, prefix, (scope, leader) => this.leaderChanged(scope, leader), (line) => this.log(line), login);
      this.leaderWatcher.start();
      for (let i = 0; i < 20 && !this.leaderWatcher.connected; i++) await new Promise((r) => setTimeout(r, 50));
    }
    await this.connectCatalog();
    if (this.leaderWatcher?.connected) {
      for (const [scope, leader] of this.leaderWatcher.leaders) if (leader) void this.recordLeader(scope, leader);
    }
    await this.refreshTypeMaps();
    this.server = createServer3((socket) => this.accept(socket));
    await new Promise((resolve3, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.port, this.options.host, () => resolve3());
    });
    this.startRecoveryLoop();
    if (this.options.replicaReads && this.options.replicaReads.readFrom !== "primary") {
      this.replicas = new ReplicaRouter(
        {
          workerGroups: () => this.snapshot.workerGroupIds().map((groupId) => ({ groupId, nodes: this.snapshot.nodes.filter((n) => n.groupId === groupId) })),
          leaderName: (groupId) => this.leaderName(groupId),
          primaryPool: (groupId) => this.pool(groupId),
          target: (node, role) => ({ host: node.host, port: node.port, ...this.credentials(role), database: this.database, tls: this.options.nodeTls }),
          log: (line) => this.log(line)
        },
        this.options.replicaReads.readFrom,
        this.options.replicaReads.maxLagMs,
        this.options.workerPool
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
        log: (line) => this.log(line)
      },
      {
        exactSearchMaxRows: this.options.vector.exactSearchMaxRows,
        splitRows: this.options.vector.splitRows,
        indexBuildMemory: this.options.vector.indexBuildMemory,
        intervalSeconds: this.options.vector.tierCheckIntervalSeconds,
        profiles: this.options.vector.profiles
      }
    );
    this.tierManager.start();
    if (this.options.maintenance) {
      this.maintenance = new MaintenanceScheduler(
        {
          tables: () => [...this.snapshot.tables.values()],
          pool: (groupId) => this.pool(groupId),
          log: (line) => this.log(line),
          rebalance: this.options.admin && this.options.rebalance ? () => scheduledRebalance(this.options.admin, this.options.rebalance) : void 0
        },
        this.options.maintenance,
        this.options.vector.indexBuildMemory
      );
      this.maintenance.start();
    }
    if (this.options.metrics) await this.startMetrics(this.options.metrics);
    this.log(`coordinator listening on ${this.options.host}:${this.options.port}`);
  }
  async controlTarget() {
    const nodes = this.options.control.nodes.map((n) => ({ ...n, groupId: 0 }));
    const leader = await this.leaderOf(0, "control", nodes);
    return { host: leader.host, port: leader.port, user: this.options.backendUser, password: this.options.backendPassword, database: this.database, primaryOnly: true, tls: this.options.nodeTls };
  }
  leaderWatcher = null;
  /** Statements waiting for a group to get a primary again, woken by any leader change. */
  leaderWaiters = [];
  /** The leader each group had when last known (from etcd or Patroni's REST API). */
  knownLeaders = /* @__PURE__ */ new Map();
  /**
   * The primary of a group: etcd's leader key when the watch is up (waiting, during a
   * failover, until a leader is elected, at most failoverWaitMs); otherwise Patroni's
   * REST API, then the leader it named last (a busy Patroni answering slowly is not a
   * failover; a node that stopped being primary refuses the connection anyway).
   */
  async leaderOf(groupId, scope, nodes) {
    const deadline = Date.now() + this.failoverWaitMs;
    const watcher = this.leaderWatcher;
    while (watcher?.connected && watcher.leaders.has(scope)) {
      const name = watcher.leaders.get(scope);
      const node = name ? nodes.find((n) => n.name === name) : void 0;
      if (node) {
        this.knownLeaders.set(groupId, node);
        return node;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new ConnectFailedError(`group ${scope} has had no primary for ${this.failoverWaitMs} ms (failover under way)`);
      await this.leaderChange(left);
    }
    const found = await findGroupLeader(nodes) ?? this.knownLeaders.get(groupId) ?? (groupId === 0 ? nodes[0] : null);
    if (!found) throw new ConnectFailedError(`group ${scope} has no primary right now`);
    this.knownLeaders.set(groupId, found);
    return found;
  }
  /** The name of a group's primary as last known (etcd's leader key when the watch is up); null during a failover. */
  leaderName(groupId) {
    const scope = this.snapshot?.groups.get(groupId)?.name;
    if (this.leaderWatcher?.connected && scope && this.leaderWatcher.leaders.has(scope)) return this.leaderWatcher.leaders.get(scope) ?? null;
    return this.knownLeaders.get(groupId)?.name ?? null;
  }
  /** Writes a group's roles into the catalog (pg_dist_node.noderole, dpg status of other tools). */
  async recordLeader(scope, leader) {
    const pool = this.pools.get(0);
    if (!pool) return;
    const name = `'${leader.replace(/'/g, "''")}'`;
    const group = `'${scope.replace(/'/g, "''")}'`;
    try {
      await pool.run(
        (query) => query(
          `UPDATE dpg_catalog.nodes n SET role = CASE WHEN n.name = ${name} THEN 'leader' ELSE 'replica' END, updated_at = now()
           FROM dpg_catalog.groups g WHERE g.group_id = n.group_id AND g.name = ${group} AND n.role IS DISTINCT FROM (CASE WHEN n.name = ${name} THEN 'leader' ELSE 'replica' END)`
        )
      );
    } catch (error) {
      this.log(`recording the primary of group ${scope} in the catalog failed: ${error.message}`);
    }
  }
  /** Resolves at the next change of any group's leader, or after `ms`. */
  leaderChange(ms2) {
    return new Promise((resolve3) => {
      const timer = setTimeout(done, ms2);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve3();
      }
      this.leaderWaiters.push(done);
    });
  }
  leaderChanged(scope, leader) {
    const group = this.snapshot ? [...this.snapshot.groups.values()].find((g) => g.name === scope) : void 0;
    const groupId = group?.id ?? (scope === "control" ? 0 : void 0);
    const previous = groupId === void 0 ? void 0 : this.knownLeaders.get(groupId)?.name;
    if (groupId !== void 0 && previous !== void 0 && previous !== leader) {
      this.log(`group ${scope}: ${leader ? `primary is now ${leader}` : "has no primary (failover under way)"}, was ${previous}`);
      for (const pool of this.groupPools(groupId)) pool.retarget();
      if (leader) metrics()?.failovers.inc({ group: scope });
      if (leader) void this.recordLeader(scope, leader);
      if (groupId === 0 && leader) this.reconnectCatalog();
    }
    for (const wake of this.leaderWaiters.splice(0)) wake();
  }
  /** The catalog snapshot, kept current through LISTEN on the control group. */
  async connectCatalog() {
    const target = await this.controlTarget();
    const client = new pg3.Client({ host: target.host, port: target.port, user: target.user, password: target.password, database: target.database, application_name: "dpg-coordinator-catalog", ...pgSslOption(target) });
    const lost = (why) => {
      if (this.catalogListener !== client) return;
      this.log(`catalog connection lost: ${why}; reconnecting`);
      this.catalogListener = null;
      this.catalogLostAt = Date.now();
      this.scheduleCatalogReconnect(200);
    };
    client.on("error", (error) => lost(error.message));
    client.on("end", () => lost("closed by the server"));
    try {
      await client.connect();
      client.on("notification", (message) => {
        if (message.channel === CACHE_SUSPECT_CHANNEL) this.resultCache?.markSuspect("another coordinator could not invalidate a write");
        else void this.reloadCatalog(client);
      });
      await client.query(`LISTEN ${CATALOG_CHANNEL}; LISTEN ${CACHE_SUSPECT_CHANNEL}`);
      const settings = await client.query(
        `SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'server_encoding', 'DateStyle', 'IntervalStyle', 'integer_datetimes', 'TimeZone', 'standard_conforming_strings')`
      );
      this.serverParameters = new Map(settings.rows.map((r) => [r.name, r.setting]));
      this.catalogListener = client;
      await this.reloadCatalog(client);
    } catch (error) {
      if (this.catalogListener === client) this.catalogListener = null;
      await client.end().catch(() => {
      });
      throw error;
    }
  }
  catalogReconnecting = false;
  /** When the catalog listener was last lost (0: never). */
  catalogLostAt = 0;
  stopping = false;
  /** Connects the catalog listener again, retrying every second until it works (or the coordinator stops). */
  scheduleCatalogReconnect(delayMs) {
    if (this.catalogReconnecting || this.stopping) return;
    this.catalogReconnecting = true;
    setTimeout(() => {
      this.connectCatalog().then(
        () => {
          this.catalogReconnecting = false;
        },
        (error) => {
          this.log(`catalog reconnect failed: ${error.message}; trying again`);
          this.catalogReconnecting = false;
          this.scheduleCatalogReconnect(1e3);
        }
      );
    }, delayMs).unref();
  }
  /** The control group has a new primary: LISTEN there (the old one, if alive, is no longer told of changes). */
  reconnectCatalog() {
    const old = this.catalogListener;
    this.catalogListener = null;
    this.catalogLostAt = Date.now();
    void old?.end().catch(() => {
    });
    this.scheduleCatalogReconnect(0);
  }
  reloading = null;
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
  async cacheInvalidationFailed(failForTest = false) {
    const listener = this.catalogListener;
    try {
      if (failForTest) throw new Error("fault injection");
      if (!listener) throw new Error("no connection to the control group");
      await listener.query(`NOTIFY ${CACHE_SUSPECT_CHANNEL}`);
    } catch (error) {
      throw new ClientError(
        "58000",
        `the write was committed, but the result cache could not be invalidated (Redis: unreachable; control group: ${error.message}): other coordinators may answer reads of it from before the write for up to cache.ttl_seconds`
      );
    }
  }
  async catalogChanged() {
    await this.catalogListener?.query(`NOTIFY ${CATALOG_CHANNEL}`).catch((error) => this.log(`catalog NOTIFY failed: ${error.message}`));
    await this.reloadCatalog();
    void this.collect?.();
  }
  collect = null;
  async reloadCatalog(client = this.catalogListener) {
    if (!client) return;
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        const snapshot = await readCatalogSnapshot(client, ++this.catalogVersion);
        this.latestNodes = snapshot.nodes;
        await this.ensurePools(snapshot);
        this.snapshot = snapshot;
      } while (this.reloadAgain);
    })().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }
  reloadAgain = false;
  /** The nodes of the catalog as last read (a reload in progress may not have published its snapshot yet). */
  latestNodes = [];
  async ensurePools(snapshot) {
    for (const group of snapshot.groups.values()) {
      if (this.pools.has(group.id)) continue;
      const target = group.id === 0 ? () => this.controlTarget() : () => this.workerTarget(group.id, group.name);
      this.targets.set(group.id, target);
      this.pools.set(group.id, new GroupPool(group.id, target, this.options.workerPool));
      if (this.controlTypes && group.id !== 0) {
        try {
          this.typeMaps.set(group.id, new TypeMap(await TypeMap.readTypes(this.pool(group.id)), this.controlTypes));
        } catch (error) {
          this.log(`group ${group.name}: reading its types failed (${error.message})`);
        }
      }
    }
  }
  async workerTarget(groupId, scope) {
    const nodes = this.latestNodes.filter((n) => n.groupId === groupId);
    const leader = await this.leaderOf(groupId, scope, nodes);
    return { host: leader.host, port: leader.port, user: this.options.backendUser, password: this.options.backendPassword, database: this.database, primaryOnly: true, tls: this.options.nodeTls };
  }
  /** Extension types (pgvector's vector) have different OIDs on each node; map them to the control group's. */
  controlTypes = null;
  async refreshTypeMaps() {
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
  async recordCommitDecision(gid, referenceEpoch = null) {
    const sql = referenceEpoch === null ? `INSERT INTO dpg_catalog.commit_records (gid) VALUES ('${gid}') ON CONFLICT (gid) DO NOTHING RETURNING gid` : `INSERT INTO dpg_catalog.commit_records (gid) SELECT '${gid}' WHERE (SELECT epoch FROM dpg_catalog.reference_epoch) = ${referenceEpoch} ON CONFLICT (gid) DO NOTHING RETURNING gid`;
    await this.pool(0).run(async (query) => {
      if ((await query(sql)).length > 0) return;
      const decided = await query(`SELECT committed FROM dpg_catalog.commit_records WHERE gid = '${gid}'`);
      if (decided[0]?.[0] === "t") return;
      if (decided[0]?.[0] === "f") throw new AbortedByRecoveryError();
      throw new PlacementsChangedError();
    });
  }
  /** A one-group commit that wrote a reference table: the epoch it was routed with must still hold. */
  async checkReferenceEpoch(referenceEpoch) {
    const rows = await this.pool(0).run((query) => query("SELECT epoch FROM dpg_catalog.reference_epoch"));
    if (Number(rows[0]?.[0] ?? 1) !== referenceEpoch) throw new PlacementsChangedError();
  }
  async forgetCommitDecision(gid) {
    const pool = this.pool(0);
    const connection = await pool.acquire().catch(() => null);
    if (!connection) return;
    try {
      await connection.simpleQuery(`DELETE FROM dpg_catalog.commit_records WHERE gid = '${gid}'`);
    } catch {
    } finally {
      pool.release(connection);
    }
  }
  metricsServer = null;
  collectorTimer = null;
  async startMetrics(options) {
    const m = initMetrics(options.namespaceLabelLimit);
    m.clientConnectionsMax.set(this.maxClients);
    let planHits = 0;
    let planMisses = 0;
    const beforeScrape = () => {
      m.clientConnections.set(this.authenticatedCount);
      for (const groupId of this.pools.keys()) {
        const group = this.snapshot.groups.get(groupId)?.name ?? String(groupId);
        const pools = this.groupPools(groupId);
        const sum = (count2) => pools.reduce((total, pool) => total + count2(pool), 0);
        m.poolConnections.set({ group, state: "in_use" }, sum((p) => p.inUse));
        m.poolConnections.set({ group, state: "idle" }, sum((p) => p.idleCount));
        m.poolConnections.set({ group, state: "waiting" }, sum((p) => p.waiting));
      }
      m.planCacheHits.inc(this.plans.hits - planHits);
      m.planCacheMisses.inc(this.plans.misses - planMisses);
      planHits = this.plans.hits;
      planMisses = this.plans.misses;
    };
    this.metricsServer = await startMetricsServer(this.options.host, options.port, m, beforeScrape, async () => {
      if (!this.snapshot) return { ready: false, reason: "the catalog is not loaded" };
      if (this.stopping) return { ready: false, reason: "shutting down" };
      if (!this.catalogListener && Date.now() - this.catalogLostAt > 6e4) return { ready: false, reason: "no connection to the control group for over a minute" };
      return { ready: true };
    });
    const collect = () => collectClusterMetrics(this, m).catch((error) => this.log(`metrics collector: ${error.message}`));
    this.collect = collect;
    void collect();
    this.collectorTimer = setInterval(collect, options.collectIntervalSeconds * 1e3);
    this.collectorTimer.unref();
  }
  startRecoveryLoop() {
    const run3 = () => recoverPreparedTransactions(this, this.options.recovery.graceSeconds).then(({ committed, rolledBack }) => {
      metrics()?.twoPhaseCommits.inc({ outcome: "recovered_commit" }, committed);
      metrics()?.twoPhaseCommits.inc({ outcome: "recovered_rollback" }, rolledBack);
      if (committed + rolledBack > 0) this.log(`2PC recovery: committed ${committed}, rolled back ${rolledBack} prepared transactions`);
    }).catch((error) => this.log(`2PC recovery failed: ${error.message}`));
    void run3();
    this.recoveryTimer = setInterval(run3, this.options.recovery.intervalSeconds * 1e3);
    this.recoveryTimer.unref();
  }
  recoveryTimer = null;
  typeNames = /* @__PURE__ */ new Map();
  columnCache = /* @__PURE__ */ new Map();
  /** A table's columns in order, from its shell on the control group. */
  async tableColumns(table2) {
    const cached = this.columnCache.get(table2);
    if (cached && cached.version === this.snapshot.version) return cached.columns;
    const rows = await this.pool(0).run(
      (query) => query(`SELECT attname FROM pg_attribute WHERE attrelid = to_regclass('public.${table2.replace(/'/g, "''")}') AND attnum > 0 AND NOT attisdropped ORDER BY attnum`)
    );
    const columns = rows.map((r) => r[0]);
    this.columnCache.set(table2, { version: this.snapshot.version, columns });
    return columns;
  }
  /** The SQL name of a type (client OIDs), for casts in queries the coordinator writes. */
  async typeName(oid) {
    const known = this.typeNames.get(oid);
    if (known) return known;
    const rows = await this.pool(0).run((query) => query(`SELECT format_type(${Number(oid)}, NULL)`));
    const name = rows[0]?.[0] ?? "text";
    this.typeNames.set(oid, name);
    return name;
  }
  /**
   * Connections to a group: the coordinator's own (no role), or as a client role, whose
   * privileges PostgreSQL then checks (GRANTs, row-level security). A client cannot undo
   * that from SQL: the connection logged in as its role (RESET ROLE goes back to it).
   */
  pool(groupId, role) {
    const internal = this.pools.get(groupId);
    if (!internal) throw new Error(`no pool for group ${groupId}`);
    if (role === void 0 || role === this.options.backendUser) return internal;
    let byGroup = this.clientPools.get(role);
    if (!byGroup) this.clientPools.set(role, byGroup = /* @__PURE__ */ new Map());
    let pool = byGroup.get(groupId);
    if (!pool) {
      const target = this.targets.get(groupId);
      const credentials = this.credentials(role);
      pool = new GroupPool(groupId, async () => ({ ...await target(), ...credentials }), this.options.workerPool);
      byGroup.set(groupId, pool);
    }
    return pool;
  }
  allPools() {
    return [...this.pools.keys()].flatMap((groupId) => this.groupPools(groupId));
  }
  /** Every pool of a group: the coordinator's own and each client role's. */
  groupPools(groupId) {
    const pools = [...this.clientPools.values()].map((byGroup) => byGroup.get(groupId)).filter((p) => !!p);
    const internal = this.pools.get(groupId);
    return internal ? [internal, ...pools] : pools;
  }
  /** What a connection as `role` logs in with (no role: the coordinator's own). */
  credentials(role) {
    if (role === void 0 || role === this.options.backendUser) return { user: this.options.backendUser, password: this.options.backendPassword };
    const password = this.nodePasswordOf(role);
    if (password === null) throw new ClientError("28000", `role "${role}" is not a user of this cluster (config users)`);
    return { user: role, password };
  }
  parameterStatus(startup) {
    const parameters = new Map(this.serverParameters);
    parameters.set("client_encoding", "UTF8");
    parameters.set("application_name", startup.application_name ?? "");
    parameters.set("is_superuser", "off");
    parameters.set("session_authorization", startup.user ?? "");
    parameters.set("in_hot_standby", "off");
    return [...parameters];
  }
  accept(socket) {
    const processId = this.nextProcessId++;
    const session = new ClientSession(socket, this, processId);
    this.sessions.set(processId, session);
    this.unauthenticated.add(session);
    if (this.unauthenticated.size > this.maxUnauthenticated) {
      const oldest = this.unauthenticated.values().next().value;
      oldest.close();
    }
  }
  /** Authenticated client sessions: what takes the maxClients slots. */
  sessionCount() {
    return this.authenticatedCount;
  }
  /**
   * A session passed authentication: it takes a client slot, or gets 53300 when none is
   * free (checked here, after authentication, so that sockets that never authenticate
   * cannot take the slots).
   */
  sessionAuthenticated(session) {
    if (!this.unauthenticated.delete(session)) return false;
    if (this.authenticatedCount >= this.maxClients) return false;
    this.authenticatedCount++;
    return true;
  }
  sessionClosed(session, authenticated) {
    this.sessions.delete(session.processId);
    this.unauthenticated.delete(session);
    if (authenticated) this.authenticatedCount--;
  }
  /** A closed session gave its node connections back: what it left on them is reset now. */
  sessionReleased(processId) {
    for (const pool of [...this.allPools(), ...this.replicas?.allPools() ?? []]) pool.sessionEnded(processId);
  }
  cancel(processId, secretKey) {
    const session = this.sessions.get(processId);
    if (session && session.secretKey >>> 0 === secretKey >>> 0) session.cancel();
  }
  tierManager = null;
  maintenance = null;
  /** Superuser access for shard moves and the rebalancer; null when the coordinator was started without it. */
  get admin() {
    return this.options.admin ?? null;
  }
  get rebalanceDefaults() {
    return this.options.rebalance ?? { strategy: "by_disk_size", maxMoves: 100 };
  }
  rebalanceJob = null;
  rebalanceJobs = 0;
  /** citus_rebalance_start: runs `work` in the background (one at a time); returns its job id. */
  startRebalanceJob(work) {
    if (this.rebalanceJob) throw new ClientError("55006", `rebalance job ${this.rebalanceJob.id} is still running on this coordinator; SELECT citus_rebalance_wait() waits for it`);
    const id = ++this.rebalanceJobs;
    const done = work().then(
      () => this.log(`rebalance job ${id} finished`),
      (error) => this.log(`rebalance job ${id} failed: ${error.message}`)
    );
    this.rebalanceJob = { id, done: done.finally(() => this.rebalanceJob = null) };
    return id;
  }
  async waitRebalanceJob() {
    await this.rebalanceJob?.done;
  }
  async stop() {
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
    await new Promise((resolve3) => this.server ? this.server.close(() => resolve3()) : resolve3());
    for (const session of this.sessions.values()) session.close();
    await Promise.all(this.allPools().map((p) => p.close()));
    const listener = this.catalogListener;
    this.catalogListener = null;
    await listener?.end().catch(() => {
    });
  }
};

// src/cluster/redis.ts
import { chmodSync as chmodSync3, mkdirSync as mkdirSync3, writeFileSync as writeFileSync4 } from "node:fs";
import { connect as connect2 } from "node:net";
import { join as join4 } from "node:path";
var REDIS_PROCESS = "redis";
var REDIS_BINARY = "/usr/bin/redis-server";
function redisDir(layout) {
  return join4(layout.dataDir, "redis");
}
function cacheUrl(config, layout, secrets) {
  if (!config.cache.enabled) return null;
  return config.cache.url ?? `redis://:${encodeURIComponent(secrets.redisPassword)}@${layout.host}:${layout.redisPort}`;
}
function redisRunning(layout) {
  const record = readProcessRecord(layout.runDir, REDIS_PROCESS);
  return !!record && isAlive(record.pid, record.marker);
}
async function ensureRedis(layout, secrets) {
  if (redisRunning(layout)) return false;
  if (!await portIsFree(layout.redisPort, layout.host)) {
    throw new Error(`port ${layout.redisPort} (Redis of the result cache, ports.base + 12) is in use by another process; free it or set cache.url`);
  }
  const dir = redisDir(layout);
  mkdirSync3(dir, { recursive: true, mode: 448 });
  const configFile = join4(dir, "redis.conf");
  writeFileSync4(configFile, `requirepass "${secrets.redisPassword}"
`, { mode: 384 });
  chmodSync3(configFile, 384);
  startDetached(layout.runDir, {
    name: REDIS_PROCESS,
    command: REDIS_BINARY,
    // set-proc-title no: Redis would otherwise rewrite its command line, which holds the
    // marker dpg finds its process by.
    args: [configFile, "--bind", layout.host, "--port", String(layout.redisPort), "--dir", dir, "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--set-proc-title", "no"],
    logFile: join4(layout.dataDir, "logs", "redis.log"),
    marker: dir
  });
  await waitFor(`Redis on ${layout.host}:${layout.redisPort}`, 15e3, async () => {
    if (!redisRunning(layout)) throw new Error(`Redis exited; see ${join4(layout.dataDir, "logs", "redis.log")}`);
    return new Promise((resolve3) => {
      const socket = connect2({ host: layout.host, port: layout.redisPort });
      socket.once("connect", () => {
        socket.destroy();
        resolve3(true);
      });
      socket.once("error", () => resolve3(false));
    });
  });
  return true;
}

// src/cluster/state.ts
import { existsSync as existsSync6, readFileSync as readFileSync5, writeFileSync as writeFileSync5, readdirSync as readdirSync2, mkdirSync as mkdirSync4 } from "node:fs";
import { randomBytes as randomBytes5, createHash as createHash5 } from "node:crypto";
import { join as join5 } from "node:path";
var DATA_FORMAT = 2;
var DataFolderError = class extends Error {
};
function workerGroupIdsOf(state) {
  if (!state) return void 0;
  return state.workerGroupIds ?? Array.from({ length: state.workerGroups }, (_, i) => i + 1);
}
function setWorkerGroupIds(state, ids) {
  state.workerGroupIds = [...ids].sort((a, b) => a - b);
  state.workerGroups = ids.length;
}
function readClusterState(stateFile) {
  if (!existsSync6(stateFile)) return null;
  try {
    return JSON.parse(readFileSync5(stateFile, "utf8"));
  } catch (error) {
    throw new DataFolderError(`${stateFile} is not readable JSON (${String(error)}); move the data folder away or pass --reset to delete it`);
  }
}
function writeClusterState(stateFile, state) {
  writeFileSync5(stateFile, JSON.stringify(state, null, 2));
}
function openClusterState(dataDir, stateFile, config, nodesRootFor) {
  const existing = readClusterState(stateFile);
  if (!existing) {
    if (existsSync6(dataDir) && readdirSync2(dataDir).length > 0) {
      throw new DataFolderError(
        `${dataDir} is not empty and holds no dpg cluster (no cluster.json); choose another data folder (--data-dir) or empty it yourself`
      );
    }
    mkdirSync4(dataDir, { recursive: true });
    const clusterId = randomBytes5(6).toString("hex");
    const state = {
      format: DATA_FORMAT,
      clusterId,
      createdAt: (/* @__PURE__ */ new Date()).toISOString(),
      nodesRoot: nodesRootFor(clusterId),
      basePort: config.ports.base,
      controlNodes: config.cluster.control_group.nodes,
      workerGroups: config.cluster.worker_groups.count,
      nodesPerWorkerGroup: config.distribution.replication_factor,
      faultProxies: config.cluster.fault_proxies,
      bootstrapped: false
    };
    writeClusterState(stateFile, state);
    return state;
  }
  if (existing.format !== DATA_FORMAT) {
    throw new DataFolderError(
      `${dataDir} was made by a dpg with data format ${existing.format}; this dpg uses format ${DATA_FORMAT}. Move the folder away, or pass --reset to delete it and start a new cluster`
    );
  }
  const mismatches = [];
  const compare = (what2, recorded, configured) => {
    if (recorded !== configured) mismatches.push(`${what2}: data folder has ${recorded}, config says ${configured}`);
  };
  compare("ports.base", existing.basePort, config.ports.base);
  compare("cluster.control_group.nodes", existing.controlNodes, config.cluster.control_group.nodes);
  compare("distribution.replication_factor", existing.nodesPerWorkerGroup, config.distribution.replication_factor);
  if ((existing.faultProxies ?? false) !== config.cluster.fault_proxies) {
    mismatches.push(`cluster.fault_proxies: data folder has ${existing.faultProxies ?? false}, config says ${config.cluster.fault_proxies}`);
  }
  if (mismatches.length > 0) {
    throw new DataFolderError(
      `the cluster in ${dataDir} does not match the config (${mismatches.join("; ")}). Use the config it was made with, or pass --reset to delete it and start a new cluster`
    );
  }
  return existing;
}
function fallbackNodesRoot(dataDir) {
  return join5("/var/lib/dpg", createHash5("sha256").update(dataDir).digest("hex").slice(0, 16));
}

// src/server/main.ts
import { join as join7 } from "node:path";
import { createHash as createHash6 } from "node:crypto";
import { existsSync as existsSync8, readFileSync as readFileSync7 } from "node:fs";

// src/cluster/certificates.ts
import { chmodSync as chmodSync4, existsSync as existsSync7, mkdirSync as mkdirSync5, mkdtempSync, readFileSync as readFileSync6, rmSync as rmSync2, writeFileSync as writeFileSync6 } from "node:fs";
import { execFileSync } from "node:child_process";
import { join as join6 } from "node:path";
import { tmpdir } from "node:os";
function localTlsDir(layout) {
  return join6(layout.dataDir, "tls");
}
function tlsFiles(config, layout) {
  if (!config.tls.enabled) return null;
  if (config.tls.cert_file && config.tls.key_file) return { cert: config.tls.cert_file, key: config.tls.key_file, ca: config.tls.ca_file };
  const dir = localTlsDir(layout);
  return { cert: join6(dir, "server.crt"), key: join6(dir, "server.key"), ca: join6(dir, "ca.crt") };
}
function withTls(url, config, layout) {
  const files = tlsFiles(config, layout);
  if (!files) return url;
  const query = files.ca ? `sslmode=verify-full&sslrootcert=${encodeURIComponent(files.ca)}` : "sslmode=require";
  return `${url}${url.includes("?") ? "&" : "?"}${query}`;
}
function toolUrl(url, config, layout) {
  return config.tls.required ? withTls(url, config, layout) : url;
}
function openssl(args2, cwd) {
  execFileSync("openssl", args2, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}
function ensureLocalCertificates(config, layout) {
  const files = tlsFiles(config, layout);
  if (!files || config.tls.cert_file) return files;
  makeCertificates(localTlsDir(layout), layout.host, "dpg local cluster CA");
  return files;
}
function nodeTlsFiles(layout) {
  const dir = join6(localTlsDir(layout), "nodes");
  return { cert: join6(dir, "server.crt"), key: join6(dir, "server.key"), ca: join6(dir, "ca.crt") };
}
function ensureNodeCertificates(layout) {
  makeCertificates(join6(localTlsDir(layout), "nodes"), layout.host, "dpg cluster nodes CA");
  return nodeTlsFiles(layout);
}
function makeCertificates(dir, host, caName) {
  const wanted = ["ca.crt", "ca.key", "server.crt", "server.key"];
  if (wanted.every((name) => existsSync7(join6(dir, name)))) return;
  mkdirSync5(dir, { recursive: true, mode: 448 });
  const work = mkdtempSync(join6(tmpdir(), "dpg-tls-"));
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(["req", "-x509", "-new", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650", "-subj", `/CN=${caName}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], work);
    openssl(["req", "-new", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"], work);
    const names = [.../* @__PURE__ */ new Set(["DNS:localhost", "IP:127.0.0.1", /^\d+\.\d+\.\d+\.\d+$/.test(host) ? `IP:${host}` : `DNS:${host}`])];
    writeFileSync6(join6(work, "server.ext"), `subjectAltName=${names.join(",")}
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature,keyEncipherment
`);
    openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "825", "-extfile", "server.ext"], work);
    for (const [name, mode] of [["ca.crt", 420], ["ca.key", 384], ["server.crt", 420], ["server.key", 384]]) {
      writeFileSync6(join6(dir, name), readFileSync6(join6(work, name)), { mode });
      chmodSync4(join6(dir, name), mode);
    }
  } finally {
    rmSync2(work, { recursive: true, force: true });
  }
}

// src/server/main.ts
async function runCoordinator(config, layout, secrets, instance) {
  const pools = config.pools;
  const state = readClusterState(join7(layout.dataDir, "cluster.json"));
  const coordinator = new Coordinator({
    host: layout.host,
    port: instance.port,
    database: config.cluster.database,
    users: clientUsers(config.users, secrets).map((user) => ({ ...user, nodePassword: nodePassword(secrets, user.name) })),
    control: { nodes: layout.groups[0].nodes.map((n) => ({ name: n.name, host: n.host, port: n.pgPort, patroniPort: n.restPort })) },
    // Not the superuser, and not a client's role: it alone writes dpg_catalog.
    backendUser: INTERNAL_ROLE,
    backendPassword: nodePassword(secrets, INTERNAL_ROLE),
    // Every link to a node is TLS, verified against the nodes' CA (dpg up makes it with the cluster).
    nodeTls: existsSync8(nodeTlsFiles(layout).ca) ? { ca: readFileSync7(nodeTlsFiles(layout).ca) } : void 0,
    maxClients: config.coordinator.max_client_connections,
    tls: tlsOptions(config, layout),
    authenticationTimeoutMs: config.coordinator.authentication_timeout_seconds * 1e3,
    // Every coordinator of the cluster derives the same SCRAM salts (a client behind HAProxy
    // cannot tell known users from unknown ones by comparing coordinators).
    scramSecret: createHash6("sha256").update(`dpg-scram-salt\0${secrets.superuserPassword}`).digest("base64"),
    defaultShardCount: config.distribution.shard_count,
    metrics: {
      port: instance.metricsPort,
      namespaceLabelLimit: config.metrics.namespace_label_limit,
      collectIntervalSeconds: config.metrics.collect_interval_seconds
    },
    leaderWatch: state ? { endpoints: layout.etcd.endpoints, prefix: patroniNamespace(state.clusterId), login: etcdLogins(secrets).coordinator } : void 0,
    failoverWaitMs: config.coordinator.failover_wait_seconds * 1e3,
    insertSelectMaxBytes: config.coordinator.insert_select_max_mb * 1024 * 1024,
    heldRowsMaxBytes: config.coordinator.held_rows_max_mb * 1024 * 1024,
    maintenance: config.maintenance.enabled ? {
      reindex: config.maintenance.reindex_schedule,
      analyze: config.maintenance.analyze_schedule,
      rebalance: config.distribution.shard_rebalancing.enabled ? config.distribution.shard_rebalancing.schedule : void 0
    } : void 0,
    admin: {
      layout,
      secrets,
      database: config.cluster.database,
      indexBuildMemory: config.vector.index_build_memory,
      threshold: config.distribution.shard_rebalancing.threshold,
      log: (line) => coordinator.log(line)
    },
    rebalance: { strategy: config.distribution.shard_rebalancing.strategy, maxMoves: config.distribution.shard_rebalancing.max_moves },
    replicaReads: { readFrom: config.query_router.read_from, maxLagMs: config.query_router.max_replica_lag_seconds * 1e3 },
    recovery: {
      graceSeconds: config.coordinator.prepared_transaction_grace_seconds,
      intervalSeconds: config.coordinator.recovery_interval_seconds
    },
    vector: {
      exactSearchMaxRows: config.vector.exact_search_max_rows,
      splitRows: config.vector.split_rows,
      tierCheckIntervalSeconds: config.vector.tier_check_interval_seconds,
      candidateFactor: config.vector.candidate_factor,
      indexBuildMemory: config.vector.index_build_memory,
      profiles: config.hnsw.profiles
    },
    cache: config.cache.enabled ? { url: cacheUrl(config, layout, secrets), ttlSeconds: config.cache.ttl_seconds } : void 0,
    durability: Object.fromEntries(
      ["critical", "audit", "ephemeral"].flatMap((cls) => config.replication.tables[cls].map((t) => [t, cls]))
    ),
    workerPool: {
      minSize: pools.worker_pool_per_shard.min_size,
      maxSize: pools.worker_pool_per_shard.max_size,
      maxQueries: pools.worker_pool_per_shard.max_queries,
      maxIdleSeconds: pools.coordinator_pool.max_inactive_connection_lifetime,
      acquireTimeoutMs: config.coordinator.pool_wait_timeout_seconds * 1e3
    }
  });
  await coordinator.start();
  const stop = async (signal) => {
    coordinator.log(`${signal}: stopping`);
    await coordinator.stop().catch(() => {
    });
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
  process.on("uncaughtException", (error) => coordinator.log(`uncaught: ${error.stack ?? String(error)}`));
  process.on("unhandledRejection", (error) => coordinator.log(`unhandled rejection: ${error?.stack ?? String(error)}`));
}
function tlsOptions(config, layout) {
  const files = tlsFiles(config, layout);
  if (!files) return void 0;
  return { cert: readFileSync7(files.cert), key: readFileSync7(files.key), required: config.tls.required };
}

// src/cli/demo.ts
import pg4 from "pg";

// src/catalog/seed-schema.ts
var EMBEDDING_DIMENSIONS = 384;
var EMBEDDING = `vector(${EMBEDDING_DIMENSIONS})`;
var SEED_TABLES = [
  {
    name: "memory_entries",
    kind: "distributed",
    body: `
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  namespace   text NOT NULL,
  key         text NOT NULL,
  value       text,
  embedding   ${EMBEDDING},
  metadata    jsonb NOT NULL DEFAULT '{}',
  tags        text[] NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz,
  PRIMARY KEY (namespace, id),
  UNIQUE (namespace, key)`,
    indexes: (rel) => [`CREATE INDEX idx_memory_created ON ${rel} (namespace, created_at)`],
    hnsw: [{ column: "embedding", indexName: "idx_memory_embedding_hnsw" }]
  },
  {
    name: "patterns",
    kind: "distributed",
    body: `
  id            uuid NOT NULL DEFAULT gen_random_uuid(),
  namespace     text NOT NULL,
  pattern_type  text NOT NULL,
  pattern_data  jsonb NOT NULL DEFAULT '{}',
  confidence    real NOT NULL DEFAULT 0.5 CHECK (confidence BETWEEN 0 AND 1),
  usage_count   integer NOT NULL DEFAULT 0,
  success_count integer NOT NULL DEFAULT 0,
  failure_count integer NOT NULL DEFAULT 0,
  embedding     ${EMBEDDING},
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, id)`,
    indexes: (rel) => [`CREATE INDEX idx_patterns_type ON ${rel} (namespace, pattern_type)`],
    hnsw: [{ column: "embedding", indexName: "idx_patterns_embedding_hnsw" }]
  },
  {
    name: "pattern_history",
    kind: "distributed",
    body: `
  id           uuid NOT NULL DEFAULT gen_random_uuid(),
  namespace    text NOT NULL,
  pattern_id   uuid NOT NULL,
  change_type  text NOT NULL,
  previous     jsonb,
  current      jsonb,
  changed_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, id)`,
    indexes: (rel) => [`CREATE INDEX idx_pattern_history_pattern ON ${rel} (namespace, pattern_id, changed_at)`]
  },
  {
    name: "trajectories",
    kind: "distributed",
    body: `
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  namespace   text NOT NULL,
  pattern_id  uuid,
  steps       jsonb NOT NULL DEFAULT '[]',
  outcome     text,
  reward      real,
  embedding   ${EMBEDDING},
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, id)`,
    indexes: (rel) => [`CREATE INDEX idx_trajectories_pattern ON ${rel} (namespace, pattern_id)`],
    hnsw: [{ column: "embedding", indexName: "idx_trajectories_embedding_hnsw" }]
  },
  {
    name: "graph_nodes",
    kind: "distributed",
    body: `
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  namespace   text NOT NULL,
  node_key    text NOT NULL,
  label       text NOT NULL,
  properties  jsonb NOT NULL DEFAULT '{}',
  embedding   ${EMBEDDING},
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, id),
  UNIQUE (namespace, node_key)`,
    hnsw: [{ column: "embedding", indexName: "idx_graph_nodes_embedding_hnsw" }]
  },
  {
    name: "graph_edges",
    kind: "distributed",
    body: `
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  namespace   text NOT NULL,
  source_key  text NOT NULL,
  target_key  text NOT NULL,
  relation    text NOT NULL,
  weight      real NOT NULL DEFAULT 1,
  properties  jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, id),
  UNIQUE (namespace, source_key, relation, target_key)`,
    indexes: (rel) => [`CREATE INDEX idx_graph_edges_target ON ${rel} (namespace, target_key)`]
  },
  {
    name: "metadata",
    kind: "reference",
    body: `
  key         text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()`
  },
  {
    name: "vector_indexes",
    kind: "reference",
    body: `
  index_name       text PRIMARY KEY,
  table_name       text NOT NULL,
  column_name      text NOT NULL,
  metric           text NOT NULL DEFAULT 'cosine',
  dimensions       integer NOT NULL DEFAULT ${EMBEDDING_DIMENSIONS},
  m                integer NOT NULL,
  ef_construction  integer NOT NULL,
  ef_search        integer NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()`
  },
  {
    name: "sessions",
    kind: "reference",
    unlogged: true,
    body: `
  session_id      text PRIMARY KEY,
  namespace       text,
  agent_id        text,
  state           jsonb NOT NULL DEFAULT '{}',
  started_at      timestamptz NOT NULL DEFAULT now(),
  last_active_at  timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz`
  }
];
var SEED_COLUMNS = [
  { table: "memory_entries", column: "expires_at", definition: "timestamptz" },
  { table: "patterns", column: "success_count", definition: "integer NOT NULL DEFAULT 0" },
  { table: "patterns", column: "failure_count", definition: "integer NOT NULL DEFAULT 0" }
];
function tableDDL(table2, profile) {
  const statements = [`CREATE ${table2.unlogged ? "UNLOGGED " : ""}TABLE ${table2.name} (${table2.body}
)`];
  statements.push(...table2.indexes?.(table2.name) ?? []);
  for (const index of profile ? table2.hnsw ?? [] : []) {
    statements.push(
      `CREATE INDEX ${index.indexName} ON ${table2.name} USING hnsw (${index.column} ruvector_cosine_ops) WITH (m = ${profile.m}, ef_construction = ${profile.ef_construction})`
    );
  }
  return statements;
}

// src/cli/progress.ts
var number2 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
function formatProgress(done, total, unit, elapsedMs, width2 = 20) {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(fraction * width2);
  const bar = "#".repeat(filled) + ".".repeat(width2 - filled);
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const rate = elapsedMs > 0 ? done * 1e3 / elapsedMs : 0;
  return `[${bar}] ${percent} ${number2.format(done)}/${number2.format(total)} ${unit} ${number2.format(rate)} ${unit}/s`;
}
function createProgress(options) {
  const stream = options.stream ?? process.stderr;
  const interactive = options.interactive ?? !!stream.isTTY;
  const now = options.now ?? (() => performance.now());
  const minIntervalMs = 1e3 / (options.redrawsPerSecond ?? 10);
  const width2 = options.width ?? 20;
  const started = now();
  let done = 0;
  let lastDraw = -Infinity;
  let lastLength = 0;
  let nextQuarter = 1;
  let finished = false;
  const line = () => formatProgress(done, options.total, options.unit, now() - started, width2);
  const redraw = () => {
    const text = line();
    stream.write(`\r${text.padEnd(lastLength)}`);
    lastLength = text.length;
    lastDraw = now();
  };
  return {
    update(count2) {
      if (finished) return;
      done = count2;
      if (interactive) {
        if (now() - lastDraw >= minIntervalMs) redraw();
        return;
      }
      const quarter = options.total > 0 ? Math.floor(4 * done / options.total) : 4;
      if (quarter >= nextQuarter && quarter < 4) {
        stream.write(`${line()}
`);
        nextQuarter = quarter + 1;
      }
    },
    finish() {
      if (finished) return;
      finished = true;
      if (interactive) {
        redraw();
        stream.write("\n");
      } else {
        stream.write(`${line()}
`);
      }
    }
  };
}

// src/util/random.ts
function seededFloats(seed) {
  let state = seed >>> 0;
  return () => {
    state = state + 1831565813 | 0;
    let t = Math.imul(state ^ state >>> 15, 1 | state);
    t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t;
    return ((t ^ t >>> 14) >>> 0) / 2 ** 32;
  };
}

// src/util/vectors.ts
function seededGaussian(seed) {
  const uniform = seededFloats(seed);
  let spare = null;
  return () => {
    if (spare !== null) {
      const value = spare;
      spare = null;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - uniform()));
    const angle = 2 * Math.PI * uniform();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}
function normalize(vector) {
  let norm = 0;
  for (const x of vector) norm += x * x;
  norm = Math.sqrt(norm);
  for (let i = 0; i < vector.length; i++) vector[i] /= norm;
  return vector;
}
function nearby(center, sigma, gaussian) {
  const vector = new Float64Array(center.length);
  for (let i = 0; i < center.length; i++) vector[i] = center[i] + sigma * gaussian();
  return normalize(vector);
}
function vectorLiteral(vector) {
  const parts = new Array(vector.length);
  for (let i = 0; i < vector.length; i++) parts[i] = vector[i].toFixed(5);
  return `[${parts.join(",")}]`;
}

// src/cli/demo.ts
var DEMO_DEFAULTS = { rows: 2e4, namespaces: 50, seed: 42 };
var DEMO_TOPICS = [
  "auth-patterns",
  "error-handling",
  "api-design",
  "caching",
  "database-migrations",
  "rate-limiting",
  "logging",
  "testing-strategies",
  "deployment",
  "security-reviews",
  "performance-tuning",
  "code-review",
  "dependency-updates",
  "feature-flags",
  "observability",
  "incident-response",
  "data-pipelines",
  "search-ranking",
  "vector-indexing",
  "session-management",
  "payments",
  "notifications",
  "user-onboarding",
  "access-control",
  "schema-design",
  "query-optimization",
  "background-jobs",
  "config-management",
  "frontend-state",
  "accessibility",
  "localization",
  "mobile-sync",
  "file-uploads",
  "email-delivery",
  "billing",
  "analytics-events",
  "ml-inference",
  "prompt-engineering",
  "agent-planning",
  "tool-use"
];
var DEMO_METADATA_KEY = "demo_dataset";
var BATCH_ROWS2 = 200;
var LOAD_CONNECTIONS = 4;
var SEARCH_RUNS = 50;
var PRIMARY_TOPIC_SHARE = 0.5;
var ENTRY_NOISE = { min: 0.03, max: 0.05 };
var QUERY_NOISE = 0.02;
var DemoError = class extends Error {
};
var centroidCache = /* @__PURE__ */ new Map();
var DEMO_CENTROID_SALT = 1592639710;
function topicCentroids(seed, salt = DEMO_CENTROID_SALT) {
  const key = `${seed}:${salt}`;
  let centroids = centroidCache.get(key);
  if (!centroids) {
    const gaussian = seededGaussian(seed ^ salt);
    centroids = DEMO_TOPICS.map(() => normalize(Float64Array.from({ length: EMBEDDING_DIMENSIONS }, gaussian)));
    centroidCache.set(key, centroids);
  }
  return centroids;
}
function entryOnTopic(centroid, gaussian, uniform) {
  const sigma = ENTRY_NOISE.min + (ENTRY_NOISE.max - ENTRY_NOISE.min) * uniform();
  return vectorLiteral(nearby(centroid, sigma, gaussian));
}
function* shuffledEntries(namespaces, seed, salt = DEMO_CENTROID_SALT) {
  const uniform = seededFloats(seed);
  const gaussian = seededGaussian(seed + 1);
  const centroids = topicCentroids(seed, salt);
  const order = [];
  namespaces.forEach((ns, i) => {
    for (let n = 1; n <= ns.rows; n++) order.push([i, n]);
  });
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (const [index, n] of order) {
    const ns = namespaces[index];
    const topic = uniform() < PRIMARY_TOPIC_SHARE ? ns.primaryTopic : Math.floor(uniform() * DEMO_TOPICS.length);
    yield { index, n, topic, embedding: entryOnTopic(centroids[topic], gaussian, uniform) };
  }
}
function topicQueryVector(seed, topic) {
  const gaussian = seededGaussian(seed * 1000003 + topic * 7919 + 17 >>> 0);
  return Array.from(nearby(topicCentroids(seed)[topic], QUERY_NOISE, gaussian));
}
function demoNamespaceName(i) {
  return `agent-${i + 1}/${DEMO_TOPICS[i % DEMO_TOPICS.length]}`;
}
function demoDataset(options = {}) {
  const rows = options.rows ?? DEMO_DEFAULTS.rows;
  const count2 = options.namespaces ?? DEMO_DEFAULTS.namespaces;
  const seed = options.seed ?? DEMO_DEFAULTS.seed;
  if (!Number.isInteger(count2) || count2 < 1) throw new DemoError(`namespaces ${count2} is not allowed: a whole number of at least 1`);
  if (!Number.isInteger(rows) || rows < count2) throw new DemoError(`rows ${rows} is not allowed: a whole number of at least the namespace count (${count2})`);
  if (!Number.isInteger(seed) || seed < 0) throw new DemoError(`seed ${seed} is not allowed: a whole number of at least 0`);
  const weights = Array.from({ length: count2 }, (_, i) => 1 / (i + 1));
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const spread = rows - count2;
  const exact = weights.map((w) => w / totalWeight * spread);
  const sizes = exact.map((x) => 1 + Math.floor(x));
  const byRemainder = exact.map((x, i) => ({ i, remainder: x - Math.floor(x) })).sort((a, b) => b.remainder - a.remainder || a.i - b.i);
  const missing = rows - sizes.reduce((a, b) => a + b, 0);
  for (let k = 0; k < missing; k++) sizes[byRemainder[k].i]++;
  const namespaces = sizes.map((size, i) => ({ name: demoNamespaceName(i), rows: size, primaryTopic: i % DEMO_TOPICS.length }));
  return { rows, seed, namespaces };
}
function* demoRows(dataset) {
  for (const { index, n, topic, embedding } of shuffledEntries(dataset.namespaces, dataset.seed)) {
    const name = DEMO_TOPICS[topic];
    yield { namespace: dataset.namespaces[index].name, key: `${name}/${n}`, value: `note about ${name} #${n}`, embedding, topic: name };
  }
}
function insertStatement(rows) {
  const values = [];
  const tuples = rows.map((row) => {
    const p = values.length;
    values.push(row.namespace, row.key, row.value, row.embedding, JSON.stringify({ topic: row.topic, source: "dpg-demo" }), ["demo", row.topic]);
    return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}::ruvector, $${p + 5}::jsonb, $${p + 6}::text[])`;
  });
  return { text: `INSERT INTO memory_entries (namespace, key, value, embedding, metadata, tags) VALUES ${tuples.join(", ")}`, values };
}
async function readMarker(client) {
  const result = await client.query("SELECT value FROM metadata WHERE key = $1", [DEMO_METADATA_KEY]);
  return result.rows[0]?.value ?? null;
}
async function namespaceCount(client, namespace) {
  const result = await client.query("SELECT count(*) AS count FROM memory_entries WHERE namespace = $1", [namespace]);
  return Number(result.rows[0].count);
}
async function alreadyLoaded(client, dataset) {
  const marker = await readMarker(client);
  if (!marker || marker.rows !== dataset.rows || marker.seed !== dataset.seed || marker.namespaces !== dataset.namespaces.length) return false;
  for (const ns of dataset.namespaces) if (await namespaceCount(client, ns.name) !== ns.rows) return false;
  return true;
}
async function clearPreviousLoad(client, dataset) {
  const marker = await readMarker(client);
  await client.query("DELETE FROM metadata WHERE key = $1", [DEMO_METADATA_KEY]);
  const namespaces = Math.max(dataset.namespaces.length, marker?.namespaces ?? 0);
  for (let i = 0; i < namespaces; i++) await client.query("DELETE FROM memory_entries WHERE namespace = $1", [demoNamespaceName(i)]);
}
async function connect3(url) {
  const client = new pg4.Client({ connectionString: url });
  await client.connect();
  return client;
}
async function load(url, dataset, progress) {
  const rows = demoRows(dataset);
  const nextBatch = () => {
    const batch = [];
    while (batch.length < BATCH_ROWS2) {
      const next = rows.next();
      if (next.done) break;
      batch.push(next.value);
    }
    return batch;
  };
  const clients = await Promise.all(Array.from({ length: LOAD_CONNECTIONS }, () => connect3(url)));
  let done = 0;
  let failed = false;
  try {
    await Promise.all(
      clients.map(async (client) => {
        for (let batch = nextBatch(); batch.length > 0 && !failed; batch = nextBatch()) {
          const { text, values } = insertStatement(batch);
          try {
            await client.query(text, values);
          } catch (error) {
            failed = true;
            throw error;
          }
          done += batch.length;
          progress?.update(done);
        }
      })
    );
  } finally {
    progress?.finish();
    await Promise.all(clients.map((c) => c.end().catch(() => void 0)));
  }
}
function percentile(sorted, p) {
  return sorted[Math.max(0, Math.ceil(p / 100 * sorted.length) - 1)];
}
async function timedSearch(client, name, text, values) {
  const query = { name, text, values };
  const first = await client.query(query);
  const latencies = [];
  for (let run3 = 0; run3 < SEARCH_RUNS; run3++) {
    const started = performance.now();
    await client.query(query);
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  const hits = first.rows.map((r) => ({ namespace: r.namespace, key: r.key, value: r.value, similarity: Number(r.similarity) }));
  return { hits, p50Ms: percentile(latencies, 50), p95Ms: percentile(latencies, 95) };
}
var SINGLE_NAMESPACE_SQL = "SELECT namespace, key, value, 1 - (embedding <=> $1::ruvector) AS similarity FROM memory_entries WHERE namespace = $2 ORDER BY embedding <=> $1::ruvector LIMIT 10";
var CROSS_NAMESPACE_SQL = "SELECT namespace, key, value, 1 - (embedding <=> $1::ruvector) AS similarity FROM memory_entries WHERE namespace = ANY($2) ORDER BY embedding <=> $1::ruvector LIMIT 20";
async function singleNamespaceSearch(client, dataset, topic = dataset.namespaces[0].primaryTopic, namespace = dataset.namespaces[0].name) {
  const vector = vectorLiteral(topicQueryVector(dataset.seed, topic));
  const result = await timedSearch(client, "dpg_demo_single_namespace", SINGLE_NAMESPACE_SQL, [vector, namespace]);
  return { namespaces: [namespace], topic: DEMO_TOPICS[topic], limit: 10, runs: SEARCH_RUNS, p50Ms: result.p50Ms, p95Ms: result.p95Ms, top: result.hits };
}
async function crossNamespaceSearch(client, dataset) {
  const picks = [1, 2, 4, 7, 12].map((i) => dataset.namespaces[Math.min(i, dataset.namespaces.length - 1)]);
  const namespaces = [...new Set(picks.map((ns) => ns.name))];
  const topic = picks[1].primaryTopic;
  const vector = vectorLiteral(topicQueryVector(dataset.seed, topic));
  const result = await timedSearch(client, "dpg_demo_cross_namespace", CROSS_NAMESPACE_SQL, [vector, namespaces]);
  return { namespaces, topic: DEMO_TOPICS[topic], limit: 20, runs: SEARCH_RUNS, p50Ms: result.p50Ms, p95Ms: result.p95Ms, top: result.hits };
}
var count = new Intl.NumberFormat("en-US");
function printSearch(out2, title, report) {
  out2(`${title}: query near '${report.topic}', LIMIT ${report.limit}, in ${report.namespaces.join(", ")}`);
  for (const [i, hit] of report.top.slice(0, 3).entries()) {
    const where = report.namespaces.length > 1 ? `${hit.namespace}  ` : "";
    out2(`  ${i + 1}. ${where}${hit.key.padEnd(28)} ${hit.value.padEnd(40)} similarity ${hit.similarity.toFixed(4)}`);
  }
  if (report.top.length > 3) out2(`  ... ${report.top.length - 3} more`);
  out2(`  latency over ${report.runs} runs: p50 ${report.p50Ms.toFixed(1)} ms, p95 ${report.p95Ms.toFixed(1)} ms`);
}
async function runDemo(options) {
  const out2 = options.out ?? ((line) => process.stdout.write(`${line}
`));
  const dataset = demoDataset(options);
  const total = count.format(dataset.rows);
  const client = await connect3(options.url);
  try {
    const skipped = await alreadyLoaded(client, dataset);
    let loadSeconds = 0;
    if (skipped) {
      out2(`demo data already loaded (${total} memory entries in ${dataset.namespaces.length} namespaces, seed ${dataset.seed}): skipping the load`);
    } else {
      out2(`loading demo data through the coordinator: ${total} memory entries, ${DEMO_TOPICS.length} topics, ${EMBEDDING_DIMENSIONS}-dim embeddings, ${dataset.namespaces.length} namespaces (${dataset.namespaces[0].name}: ${count.format(dataset.namespaces[0].rows)} ... ${dataset.namespaces.at(-1).name}: ${count.format(dataset.namespaces.at(-1).rows)})`);
      const started = performance.now();
      await clearPreviousLoad(client, dataset);
      const progress = options.progress === false ? null : createProgress({ total: dataset.rows, unit: "rows" });
      await load(options.url, dataset, progress);
      const marker = { rows: dataset.rows, seed: dataset.seed, namespaces: dataset.namespaces.length };
      await client.query(
        "INSERT INTO metadata (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
        [DEMO_METADATA_KEY, JSON.stringify(marker)]
      );
      loadSeconds = (performance.now() - started) / 1e3;
      out2(`loaded ${total} rows in ${loadSeconds.toFixed(1)} s (${count.format(Math.round(dataset.rows / loadSeconds))} rows/s)`);
    }
    out2("");
    const single = await singleNamespaceSearch(client, dataset);
    printSearch(out2, "single-namespace search", single);
    out2("");
    const cross = await crossNamespaceSearch(client, dataset);
    printSearch(out2, "cross-namespace search", cross);
    out2("");
    out2(`connect: psql '${options.url}'`);
    out2(`  e.g. SELECT key, value FROM memory_entries WHERE namespace = '${dataset.namespaces[0].name}' LIMIT 5;`);
    return { url: options.url, dataset, loadedRows: skipped ? 0 : dataset.rows, skipped, loadSeconds, single, cross };
  } finally {
    await client.end().catch(() => void 0);
  }
}

// src/bench/bench.ts
import { mkdirSync as mkdirSync6, writeFileSync as writeFileSync8 } from "node:fs";
import { join as join9, resolve as resolve2 } from "node:path";

// src/bench/dataset.ts
import pg5 from "pg";
var BENCH_METADATA_KEY = "bench_dataset";
var BENCH_INSERT_NAMESPACE = "bench-inserts";
var BENCH_NAMESPACE_COUNT = 50;
var DATASET_VERSION = 1;
var BATCH_ROWS3 = 200;
var LOAD_CONNECTIONS2 = 4;
var QUERY_NOISE2 = 0.02;
function benchNamespaceName(i) {
  return `bench-${i + 1}/${DEMO_TOPICS[i % DEMO_TOPICS.length]}`;
}
function benchDataset(options) {
  const sizes = demoDataset({ rows: options.rows, namespaces: options.namespaces ?? BENCH_NAMESPACE_COUNT, seed: options.seed });
  return {
    rows: sizes.rows,
    seed: sizes.seed,
    namespaces: sizes.namespaces.map((ns, i) => ({ name: benchNamespaceName(i), rows: ns.rows, primaryTopic: ns.primaryTopic }))
  };
}
var BENCH_CENTROID_SALT = 780228;
function topicCentroids2(seed) {
  return topicCentroids(seed, BENCH_CENTROID_SALT);
}
function entryVector(seed, topic, gaussian, uniform) {
  return entryOnTopic(topicCentroids2(seed)[topic], gaussian, uniform);
}
function queryVector(seed, topic, gaussian) {
  return vectorLiteral(nearby(topicCentroids2(seed)[topic], QUERY_NOISE2, gaussian));
}
function* benchRows(dataset) {
  for (const { index, n, topic, embedding } of shuffledEntries(dataset.namespaces, dataset.seed, BENCH_CENTROID_SALT)) {
    const name = DEMO_TOPICS[topic];
    yield { namespace: dataset.namespaces[index].name, key: `${name}/${n}`, value: `bench note about ${name} #${n}`, embedding };
  }
}
function insertStatement2(rows, cast2) {
  const values = [];
  const tuples = rows.map((row) => {
    const p = values.length;
    values.push(row.namespace, row.key, row.value, row.embedding);
    return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}::${cast2})`;
  });
  return { text: `INSERT INTO memory_entries (namespace, key, value, embedding) VALUES ${tuples.join(", ")}`, values };
}
async function loadRows(url, dataset, cast2, progress, unit = "rows") {
  const rows = benchRows(dataset);
  const nextBatch = () => {
    const batch = [];
    for (let next = rows.next(); !next.done; next = rows.next()) {
      batch.push(next.value);
      if (batch.length === BATCH_ROWS3) break;
    }
    return batch;
  };
  const bar = progress ? createProgress({ total: dataset.rows, unit }) : null;
  const clients = await Promise.all(Array.from({ length: LOAD_CONNECTIONS2 }, async () => {
    const client = new pg5.Client({ connectionString: url });
    await client.connect();
    return client;
  }));
  let done = 0;
  let failed = false;
  try {
    await Promise.all(clients.map(async (client) => {
      for (let batch = nextBatch(); batch.length > 0 && !failed; batch = nextBatch()) {
        const { text, values } = insertStatement2(batch, cast2);
        try {
          await client.query(text, values);
        } catch (error) {
          failed = true;
          throw error;
        }
        done += batch.length;
        bar?.update(done);
      }
    }));
  } finally {
    bar?.finish();
    await Promise.all(clients.map((c) => c.end().catch(() => void 0)));
  }
}
async function loadedOnCluster(client, dataset) {
  const marker = (await client.query("SELECT value FROM metadata WHERE key = $1", [BENCH_METADATA_KEY])).rows[0]?.value;
  if (!marker || marker.version !== DATASET_VERSION || marker.rows !== dataset.rows || marker.seed !== dataset.seed || marker.namespaces !== dataset.namespaces.length) return false;
  for (const ns of dataset.namespaces) {
    const count2 = await client.query("SELECT count(*) AS n FROM memory_entries WHERE namespace = $1", [ns.name]);
    if (Number(count2.rows[0].n) !== ns.rows) return false;
  }
  return true;
}
async function ensureClusterDataset(url, dataset, progress) {
  const client = new pg5.Client({ connectionString: url });
  await client.connect();
  try {
    if (await loadedOnCluster(client, dataset)) return { reused: true, seconds: 0 };
    const started = performance.now();
    const previous = (await client.query("SELECT value FROM metadata WHERE key = $1", [BENCH_METADATA_KEY])).rows[0]?.value;
    await client.query("DELETE FROM metadata WHERE key = $1", [BENCH_METADATA_KEY]);
    const count2 = Math.max(dataset.namespaces.length, previous?.namespaces ?? BENCH_NAMESPACE_COUNT);
    for (let i = 0; i < count2; i++) await client.query("DELETE FROM memory_entries WHERE namespace = $1", [benchNamespaceName(i)]);
    await loadRows(url, dataset, "ruvector", progress);
    const marker = { version: DATASET_VERSION, rows: dataset.rows, seed: dataset.seed, namespaces: dataset.namespaces.length };
    await client.query(
      "INSERT INTO metadata (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
      [BENCH_METADATA_KEY, JSON.stringify(marker)]
    );
    return { reused: false, seconds: (performance.now() - started) / 1e3 };
  } finally {
    await client.end().catch(() => void 0);
  }
}

// src/bench/open-loop.ts
function* arrivalTimes(options) {
  const { durationSeconds: duration, rampUpSeconds: ramp, targetQps: qps } = options;
  const uniform = seededFloats(options.seed);
  const rampArea = qps * ramp / 2;
  const timeAt = (lambda2) => lambda2 < rampArea ? Math.sqrt(2 * ramp * lambda2 / qps) : ramp + (lambda2 - rampArea) / qps;
  let lambda = 0;
  for (; ; ) {
    lambda += options.arrival === "poisson" ? -Math.log(1 - uniform()) : 1;
    const t = timeAt(lambda);
    if (t >= duration) return;
    yield t;
  }
}
function runOpenLoop(options) {
  const arrivals = arrivalTimes(options);
  const latenciesMs = [];
  const timeline = new Array(Math.ceil(options.durationSeconds + options.drainSeconds) + 1).fill(0);
  const errorSamples = [];
  const queue = [];
  let head = 0;
  let scheduled = 0;
  let errors = 0;
  let dropped = 0;
  let inFlight = 0;
  let queueMsTotal = 0;
  let lastCompletion = 0;
  let next = arrivals.next();
  let timer = null;
  let draining = false;
  const drainDeadlineMs = (options.durationSeconds + options.drainSeconds) * 1e3;
  const start = performance.now();
  return new Promise((resolve3) => {
    const finish = () => {
      if (timer) clearTimeout(timer);
      resolve3({
        scheduled,
        completed: latenciesMs.length,
        errors,
        dropped,
        latenciesMs,
        meanQueueMs: latenciesMs.length ? queueMsTotal / latenciesMs.length : 0,
        timeline,
        elapsedSeconds: Math.max(lastCompletion, 1) / 1e3,
        errorSamples
      });
    };
    const launch = (scheduledMs, index) => {
      inFlight++;
      const startedMs = performance.now() - start;
      options.run(index).then(
        () => {
          const doneMs = performance.now() - start;
          latenciesMs.push(doneMs - scheduledMs);
          queueMsTotal += startedMs - scheduledMs;
          const second = Math.floor(doneMs / 1e3);
          if (second < timeline.length) timeline[second]++;
        },
        (error) => {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(error instanceof Error ? error.message : String(error));
        }
      ).finally(() => {
        inFlight--;
        lastCompletion = performance.now() - start;
        pump();
      });
    };
    let launched = 0;
    const pump = () => {
      const nowMs = performance.now() - start;
      while (!next.done && next.value * 1e3 <= nowMs) {
        scheduled++;
        if (queue.length - head >= options.maxQueue) dropped++;
        else queue.push(next.value * 1e3);
        next = arrivals.next();
      }
      if (next.done && !draining && nowMs >= drainDeadlineMs) {
        draining = true;
        dropped += queue.length - head;
        head = queue.length;
      }
      while (inFlight < options.concurrency && head < queue.length) {
        launch(queue[head++], launched++);
      }
      if (head > 4096 && head * 2 > queue.length) {
        queue.splice(0, head);
        head = 0;
      }
      if (next.done && head >= queue.length && inFlight === 0) {
        finish();
        return;
      }
      if (timer) clearTimeout(timer);
      timer = null;
      const wakeAt = !next.done ? next.value * 1e3 : head < queue.length ? drainDeadlineMs : null;
      if (wakeAt !== null) timer = setTimeout(pump, Math.max(0, wakeAt - nowMs));
    };
    pump();
  });
}

// src/bench/plain-postgres.ts
import pg7 from "pg";

// src/cluster/standalone-postgres.ts
import { spawn as spawn2, execFileSync as execFileSync3 } from "node:child_process";
import { mkdtempSync as mkdtempSync2, rmSync as rmSync3, chownSync as chownSync2, writeFileSync as writeFileSync7 } from "node:fs";
import { tmpdir as tmpdir2 } from "node:os";
import { join as join8 } from "node:path";
import { createServer as createServer4 } from "node:net";
import pg6 from "pg";

// src/cluster/system-user.ts
import { execFileSync as execFileSync2 } from "node:child_process";
var MissingSystemUserError = class extends Error {
};
function lookupSystemUser(name = "postgres") {
  let uid;
  let gid;
  try {
    uid = Number(execFileSync2("id", ["-u", name], { encoding: "utf8" }).trim());
    gid = Number(execFileSync2("id", ["-g", name], { encoding: "utf8" }).trim());
  } catch {
    throw new MissingSystemUserError(
      `the system user '${name}' does not exist; run 'npx dpg setup' to install PostgreSQL, which creates it`
    );
  }
  return { name, uid, gid };
}
function runAs(user) {
  if (process.getuid?.() !== 0) return {};
  return { uid: user.uid, gid: user.gid };
}

// src/cluster/standalone-postgres.ts
async function freePort() {
  return new Promise((resolve3, reject) => {
    const server = createServer4();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve3(typeof address === "object" && address ? address.port : 0));
    });
  });
}
async function startStandalonePostgres(settings, folderPrefix) {
  const user = lookupSystemUser();
  const dir = mkdtempSync2(join8(tmpdir2(), folderPrefix));
  chownSync2(dir, user.uid, user.gid);
  const dataDir = join8(dir, "data");
  execFileSync3(postgresBinary("initdb"), ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"], { ...runAs(user), stdio: "ignore" });
  const conf = Object.entries(settings).map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`);
  writeFileSync7(join8(dataDir, "postgresql.auto.conf"), `${conf.join("\n")}
`);
  const port = await freePort();
  const child = spawn2(
    postgresBinary("postgres"),
    ["-D", dataDir, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", `unix_socket_directories=${dir}`],
    { ...runAs(user), stdio: "ignore" }
  );
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGINT");
      await exited;
    }
    rmSync3(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 3e4;
  for (; ; ) {
    const probe = new pg6.Client({ connectionString: url });
    try {
      await probe.connect();
      await probe.end();
      return { url, port, stop };
    } catch (error) {
      await probe.end().catch(() => {
      });
      if (Date.now() > deadline || child.exitCode !== null) {
        await stop().catch(() => {
        });
        throw new Error(`a standalone PostgreSQL did not start: ${String(error)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

// src/bench/plain-postgres.ts
async function startPlainPostgres(settings) {
  return startStandalonePostgres({ fsync: "off", max_connections: "600", ...settings }, "dpg-bench-plain-");
}
async function createPlainSchema(url) {
  const client = new pg7.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("CREATE EXTENSION IF NOT EXISTS vector");
    const table2 = SEED_TABLES.find((t) => t.name === "memory_entries");
    for (const statement of tableDDL(table2, null)) await client.query(statement);
  } finally {
    await client.end();
  }
}
async function createPlainHnswIndex(url, hnsw) {
  const client = new pg7.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE INDEX idx_memory_embedding_hnsw ON memory_entries USING hnsw (embedding vector_cosine_ops) WITH (m = ${hnsw.m}, ef_construction = ${hnsw.efConstruction})`);
    await client.query("ANALYZE memory_entries");
  } finally {
    await client.end();
  }
}

// src/bench/scenarios.ts
import { readFileSync as readFileSync8 } from "node:fs";
import { parse as parseYaml2 } from "yaml";
var SCENARIO_NAMES = ["single_shard_search", "cross_shard_search", "high_concurrency", "bulk_insert", "concurrent_updates"];
var BenchConfigError = class extends Error {
};
var SEED_SCENARIOS = {
  single_shard_search: { name: "single_shard_search", kind: "search", durationSeconds: 300, rampUpSeconds: 30, targetQps: 1e3, concurrency: 32, limit: 10, namespacesPerQuery: 1, minSimilarity: 0.7, batchSize: 0 },
  cross_shard_search: { name: "cross_shard_search", kind: "search", durationSeconds: 300, rampUpSeconds: 30, targetQps: 500, concurrency: 32, limit: 20, namespacesPerQuery: 5, minSimilarity: null, batchSize: 0 },
  high_concurrency: { name: "high_concurrency", kind: "search", durationSeconds: 600, rampUpSeconds: 60, targetQps: 5e3, concurrency: 500, limit: 10, namespacesPerQuery: 1, minSimilarity: null, batchSize: 0 },
  // target_tps 1000 rows in batches of 100: 10 INSERTs a second.
  bulk_insert: { name: "bulk_insert", kind: "write", durationSeconds: 300, rampUpSeconds: 0, targetQps: 10, concurrency: 8, limit: 0, namespacesPerQuery: 1, minSimilarity: null, batchSize: 100 },
  concurrent_updates: { name: "concurrent_updates", kind: "write", durationSeconds: 300, rampUpSeconds: 0, targetQps: 500, concurrency: 100, limit: 0, namespacesPerQuery: 1, minSimilarity: null, batchSize: 0 }
};
var QUICK_OVERRIDES = {
  single_shard_search: { durationSeconds: 3, rampUpSeconds: 1, targetQps: 200, concurrency: 8 },
  cross_shard_search: { durationSeconds: 3, rampUpSeconds: 1, targetQps: 100, concurrency: 8 },
  high_concurrency: { durationSeconds: 3, rampUpSeconds: 1, targetQps: 300, concurrency: 40 },
  bulk_insert: { durationSeconds: 3, rampUpSeconds: 1, targetQps: 5, concurrency: 4 },
  concurrent_updates: { durationSeconds: 3, rampUpSeconds: 1, targetQps: 200, concurrency: 20 }
};
var QUICK_ROWS = 5e3;
var DEFAULT_ROWS = 1e5;
function parseDuration(value, key) {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value;
  if (typeof value === "string") {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
    if (match) {
      const n = Number(match[1]);
      const unit = match[2] ?? "s";
      return unit === "ms" ? n / 1e3 : unit === "s" ? n : unit === "m" ? n * 60 : n * 3600;
    }
  }
  throw new BenchConfigError(`${key} ${JSON.stringify(value)} is not allowed: a duration such as 30s, 5m, 250ms or a number of seconds`);
}
function positiveNumber(value, key, integer2 = false) {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n) || n <= 0 || integer2 && !Number.isInteger(n)) {
    throw new BenchConfigError(`${key} ${JSON.stringify(value)} is not allowed: a ${integer2 ? "whole " : ""}number greater than 0`);
  }
  return n;
}
function scenarioSettingsFromYaml(text, source) {
  const doc = parseYaml2(text);
  const suites = doc?.benchmark_suites;
  if (!suites || typeof suites !== "object") throw new BenchConfigError(`${source}: benchmark_suites is missing: expected benchmark_suites.<suite>.scenarios[]`);
  const settings = /* @__PURE__ */ new Map();
  for (const [suiteName, suite] of Object.entries(suites)) {
    const scenarios = suite?.scenarios;
    if (!Array.isArray(scenarios)) throw new BenchConfigError(`${source}: benchmark_suites.${suiteName}.scenarios is not a list`);
    scenarios.forEach((raw, i) => {
      const at = `${source}: benchmark_suites.${suiteName}.scenarios[${i}]`;
      const s = raw;
      const name = s?.name;
      if (typeof name !== "string" || !SCENARIO_NAMES.includes(name)) {
        throw new BenchConfigError(`${at}.name ${JSON.stringify(name)} is not allowed: one of ${SCENARIO_NAMES.join(", ")}`);
      }
      const base = SEED_SCENARIOS[name];
      const out2 = {};
      if (s.duration !== void 0) out2.durationSeconds = parseDuration(s.duration, `${at}.duration`);
      if (s.ramp_up !== void 0) out2.rampUpSeconds = parseDuration(s.ramp_up, `${at}.ramp_up`);
      if (s.concurrent_connections !== void 0) out2.concurrency = positiveNumber(s.concurrent_connections, `${at}.concurrent_connections`, true);
      if (s.batch_size !== void 0) out2.batchSize = positiveNumber(s.batch_size, `${at}.batch_size`, true);
      const batch = out2.batchSize ?? base.batchSize;
      if (s.target_qps !== void 0) out2.targetQps = positiveNumber(s.target_qps, `${at}.target_qps`);
      if (s.target_tps !== void 0) {
        const tps = positiveNumber(s.target_tps, `${at}.target_tps`);
        out2.targetQps = name === "bulk_insert" ? tps / batch : tps;
      }
      const params = s.query_params;
      if (params) {
        if (params.limit !== void 0) out2.limit = positiveNumber(params.limit, `${at}.query_params.limit`, true);
        if (params.min_similarity !== void 0) {
          const m = Number(params.min_similarity);
          if (!Number.isFinite(m) || m < -1 || m > 1) throw new BenchConfigError(`${at}.query_params.min_similarity ${JSON.stringify(params.min_similarity)} is not allowed: a number from -1 to 1`);
          out2.minSimilarity = m;
        }
        if (Array.isArray(params.namespaces)) out2.namespacesPerQuery = Math.max(1, params.namespaces.length);
      }
      settings.set(name, out2);
    });
  }
  return settings;
}
function readScenarioFile(path) {
  let text;
  try {
    text = readFileSync8(path, "utf8");
  } catch (error) {
    throw new BenchConfigError(`cannot read bench config ${path}: ${error.message}`);
  }
  return scenarioSettingsFromYaml(text, path);
}
function resolveScenarios(options) {
  for (const name of options.only ?? []) {
    if (!SCENARIO_NAMES.includes(name)) throw new BenchConfigError(`scenario ${JSON.stringify(name)} is not allowed: one of ${SCENARIO_NAMES.join(", ")}`);
  }
  const selected = options.only?.length ? options.only : options.file?.size ? [...options.file.keys()] : SCENARIO_NAMES;
  return SCENARIO_NAMES.filter((name) => selected.includes(name)).map((name) => {
    const flags = Object.fromEntries(Object.entries(options.overrides ?? {}).filter(([, v]) => v !== void 0));
    const config = { ...SEED_SCENARIOS[name], ...options.quick ? QUICK_OVERRIDES[name] : {}, ...options.file?.get(name) ?? {}, ...flags };
    if (config.durationSeconds <= 0) throw new BenchConfigError(`${name}.duration ${config.durationSeconds} is not allowed: more than 0 s`);
    if (config.rampUpSeconds >= config.durationSeconds) config.rampUpSeconds = 0;
    return config;
  });
}

// src/bench/stats.ts
function percentile2(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))];
}
function summarize(latenciesMs) {
  const sorted = Float64Array.from(latenciesMs).sort();
  const values = Array.from(sorted);
  const sum = values.reduce((a, b) => a + b, 0);
  return {
    count: values.length,
    minMs: values.length ? values[0] : NaN,
    medianMs: percentile2(values, 50),
    meanMs: values.length ? sum / values.length : NaN,
    p95Ms: percentile2(values, 95),
    p99Ms: percentile2(values, 99),
    p999Ms: percentile2(values, 99.9),
    maxMs: values.length ? values.at(-1) : NaN
  };
}
var HISTOGRAM_BOUNDS_MS = Array.from({ length: 25 }, (_, i) => Number((0.1 * 10 ** (i / 4)).toPrecision(3)));
function histogram(latenciesMs) {
  const counts = new Array(HISTOGRAM_BOUNDS_MS.length + 1).fill(0);
  for (const ms2 of latenciesMs) {
    let i = HISTOGRAM_BOUNDS_MS.findIndex((bound) => ms2 <= bound);
    if (i < 0) i = HISTOGRAM_BOUNDS_MS.length;
    counts[i]++;
  }
  return { boundsMs: [...HISTOGRAM_BOUNDS_MS, 1e9], counts };
}

// src/bench/targets.ts
import pg8 from "pg";
var WORKER_CONNECTION_CAP = 40;
function searchSql(table2, cast2, query) {
  const filter = query.namespaces.length === 1 ? "namespace = $2" : "namespace = ANY($2)";
  const similarity = query.minSimilarity === null ? "" : ` AND 1 - (embedding <=> $1::${cast2}) >= ${query.minSimilarity}`;
  return `SELECT namespace, key, embedding <=> $1::${cast2} AS distance FROM ${table2} WHERE ${filter}${similarity} ORDER BY embedding <=> $1::${cast2} LIMIT ${query.limit}`;
}
var statementNames = /* @__PURE__ */ new Map();
function prepared(text, values) {
  let name = statementNames.get(text);
  if (!name) statementNames.set(text, name = `dpg_bench_${statementNames.size + 1}`);
  return { name, text, values };
}
function toHits(rows) {
  return rows.map((r) => ({ namespace: r.namespace, key: r.key, distance: Number(r.distance) }));
}
async function openPool(config, size, setup3 = []) {
  const pool = new pg8.Pool({ ...config, max: size, idleTimeoutMillis: 0 });
  pool.on("error", () => void 0);
  if (setup3.length) pool.on("connect", (client) => {
    for (const statement of setup3) client.query(statement).catch(() => void 0);
  });
  const clients = await Promise.all(Array.from({ length: size }, () => pool.connect()));
  for (const client of clients) client.release();
  return pool;
}
function args(query, namespaces) {
  return [query.vector, namespaces.length === 1 ? namespaces[0] : namespaces];
}
async function sqlTarget(name, url, cast2, concurrency, setup3 = []) {
  const pool = await openPool({ connectionString: url }, concurrency, setup3);
  return {
    name,
    concurrency,
    async search(query) {
      const result = await pool.query(prepared(searchSql("memory_entries", cast2, query), args(query, query.namespaces)));
      return toHits(result.rows);
    },
    close: () => pool.end()
  };
}
function shardForNamespace(shards, namespace) {
  const hash = hashtext(namespace);
  const shard = shards.find((s) => hash >= s.hashMin && hash <= s.hashMax);
  if (!shard) throw new Error(`no shard of memory_entries covers hash ${hash} of namespace ${namespace}`);
  return shard;
}
function loginOf(coordinatorUrl, login) {
  const url = new URL(coordinatorUrl);
  return { user: login?.user ?? decodeURIComponent(url.username), password: login?.password ?? decodeURIComponent(url.password), database: url.pathname.slice(1) };
}
async function workerTarget(coordinatorUrl, shards, concurrency, login) {
  const size = Math.min(concurrency, WORKER_CONNECTION_CAP);
  const pools = /* @__PURE__ */ new Map();
  for (const shard of shards) {
    const endpoint = `${shard.host}:${shard.port}`;
    if (pools.has(endpoint)) continue;
    pools.set(endpoint, await openPool({
      host: shard.host,
      port: shard.port,
      ...loginOf(coordinatorUrl, login)
    }, size));
  }
  return {
    name: "worker",
    concurrency: size,
    async search(query) {
      const byShard = /* @__PURE__ */ new Map();
      for (const ns of query.namespaces) {
        const shard = shardForNamespace(shards, ns);
        byShard.set(shard, [...byShard.get(shard) ?? [], ns]);
      }
      const parts = await Promise.all([...byShard].map(async ([shard, namespaces]) => {
        const pool = pools.get(`${shard.host}:${shard.port}`);
        const text = searchSql(`memory_entries_${shard.shardid}`, "ruvector", { ...query, namespaces });
        return toHits((await pool.query(prepared(text, args(query, namespaces)))).rows);
      }));
      if (parts.length === 1) return parts[0];
      return parts.flat().sort((a, b) => a.distance - b.distance).slice(0, query.limit);
    },
    close: async () => {
      await Promise.all([...pools.values()].map((p) => p.end()));
    }
  };
}
async function shardLocations(coordinatorUrl) {
  const client = new pg8.Client({ connectionString: coordinatorUrl });
  await client.connect();
  try {
    const shards = await client.query(
      "SELECT s.shardid, s.shardminvalue, s.shardmaxvalue, p.groupid FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) WHERE s.logicalrelid = 'memory_entries'::regclass ORDER BY s.shardid"
    );
    const nodes = await client.query("SELECT groupid, nodename, nodeport FROM pg_dist_node WHERE noderole = 'primary'");
    return shards.rows.map((s) => {
      const node = nodes.rows.find((n) => Number(n.groupid) === Number(s.groupid));
      if (!node) throw new Error(`no primary for group ${s.groupid} of shard ${s.shardid} in pg_dist_node`);
      return { shardid: Number(s.shardid), hashMin: Number(s.shardminvalue), hashMax: Number(s.shardmaxvalue), host: node.nodename, port: Number(node.nodeport) };
    });
  } finally {
    await client.end();
  }
}
var COPIED_SETTINGS = ["shared_buffers", "work_mem", "maintenance_work_mem", "effective_cache_size", "max_parallel_workers_per_gather", "hnsw.ef_search"];
async function workerTuning(coordinatorUrl, shard, login) {
  const client = new pg8.Client({ host: shard.host, port: shard.port, ...loginOf(coordinatorUrl, login) });
  await client.connect();
  try {
    const settings = {};
    for (const name of COPIED_SETTINGS) {
      const row = await client.query("SELECT current_setting($1, true) AS setting", [name]);
      if (row.rows[0]?.setting) settings[name] = row.rows[0].setting;
    }
    const index = await client.query("SELECT indexdef FROM pg_indexes WHERE indexname = $1", [`idx_memory_embedding_hnsw_${shard.shardid}`]);
    const def = index.rows[0]?.indexdef ?? "";
    const m = Number(/\bm\s*=\s*'?(\d+)/.exec(def)?.[1] ?? 16);
    const efConstruction = Number(/ef_construction\s*=\s*'?(\d+)/.exec(def)?.[1] ?? 64);
    return { settings, m, efConstruction };
  } finally {
    await client.end();
  }
}

// src/bench/workload.ts
var QUERY_POOL_SIZE = 400;
var SEARCH_NAMESPACES = 10;
var CROSS_NAMESPACES = 20;
var ON_TOPIC_SHARE = 0.7;
var INSERT_NAMESPACES = 8;
function searchQueries(dataset, scenario, seed) {
  const uniform = seededFloats(seed);
  const gaussian = seededGaussian(seed + 7);
  const candidates = dataset.namespaces.slice(0, scenario.namespacesPerQuery > 1 ? CROSS_NAMESPACES : SEARCH_NAMESPACES);
  const span = Math.min(scenario.namespacesPerQuery, candidates.length);
  return Array.from({ length: QUERY_POOL_SIZE }, () => {
    const picked = [...candidates];
    for (let i = 0; i < span; i++) {
      const j = i + Math.floor(uniform() * (picked.length - i));
      [picked[i], picked[j]] = [picked[j], picked[i]];
    }
    const chosen = picked.slice(0, span);
    const topic = uniform() < ON_TOPIC_SHARE ? chosen[0].primaryTopic : Math.floor(uniform() * DEMO_TOPICS.length);
    return { vector: queryVector(dataset.seed, topic, gaussian), namespaces: chosen.map((ns) => ns.name), limit: scenario.limit, minSimilarity: scenario.minSimilarity };
  });
}
function insertNamespace(j) {
  return `${BENCH_INSERT_NAMESPACE}/${j}`;
}
async function clearInserted(pool) {
  for (let j = 0; j < INSERT_NAMESPACES; j++) await pool.query("DELETE FROM memory_entries WHERE namespace = $1", [insertNamespace(j)]);
}
function insertBatch(dataset, scenario, runId, index) {
  const uniform = seededFloats(dataset.seed * 31 + index);
  const gaussian = seededGaussian(dataset.seed * 37 + index);
  const namespace = insertNamespace(index % INSERT_NAMESPACES);
  const rows = Array.from({ length: scenario.batchSize }, (_, n) => {
    const topic = Math.floor(uniform() * DEMO_TOPICS.length);
    return { namespace, key: `${runId}/${index}/${n}`, value: `bench insert ${index}-${n}`, embedding: entryVector(dataset.seed, topic, gaussian, uniform) };
  });
  return insertStatement2(rows, "ruvector");
}
async function updateKeys(pool, dataset, perNamespace = 200) {
  const keys = [];
  for (const ns of dataset.namespaces.slice(0, SEARCH_NAMESPACES)) {
    const result = await pool.query("SELECT key FROM memory_entries WHERE namespace = $1 ORDER BY key LIMIT $2", [ns.name, perNamespace]);
    for (const row of result.rows) keys.push({ namespace: ns.name, key: row.key });
  }
  return keys;
}
var UPDATE_SQL = "UPDATE memory_entries SET value = $3, updated_at = now() WHERE namespace = $1 AND key = $2";

// src/bench/report-types.ts
var SEED_TARGETS = { p50Ms: 10, p95Ms: 25, p99Ms: 50, searchQps: 1e4, insertRowsPerSecond: 5e3 };

// src/bench/report-text.ts
var ms = (v) => Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 1) : "-";
var ratio = (v) => v === void 0 || !Number.isFinite(v) ? "-" : `${v.toFixed(2)}x`;
function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join("  ").trimEnd());
}
function mark(check) {
  return check.pass === null ? "n/a" : check.pass ? "pass" : "MISS";
}
function formatReport(report) {
  const lines = [""];
  const rows = [["scenario", "target", "offered/s", "done/s", "min", "p50", "mean", "p95", "p99", "p99.9", "errors", "dropped", "recall"]];
  for (const s of report.scenarios) {
    for (const t of s.targets) {
      rows.push([
        s.name,
        t.target,
        String(s.config.targetQps),
        t.throughputPerSecond.toFixed(1),
        ms(t.latency.minMs),
        ms(t.latency.medianMs),
        ms(t.latency.meanMs),
        ms(t.latency.p95Ms),
        ms(t.latency.p99Ms),
        ms(t.latency.p999Ms),
        String(t.errors),
        String(t.dropped),
        t.recall === null ? "-" : t.recall.toFixed(3)
      ]);
    }
  }
  lines.push("latency in ms, from scheduled arrival (queueing included)");
  lines.push(...table(rows));
  const searches = report.scenarios.filter((s) => s.ratios.plain || s.ratios.worker);
  if (searches.length) {
    lines.push("", "dpg / baseline (latency above 1x: dpg slower; throughput above 1x: dpg served more)");
    const ratioRows = [["scenario", "baseline", "p50", "p95", "p99", "throughput"]];
    for (const s of searches) {
      for (const [name, r] of Object.entries(s.ratios)) {
        ratioRows.push([s.name, name === "plain" ? "plain PostgreSQL" : "worker direct", ratio(r?.medianMs), ratio(r?.p95Ms), ratio(r?.p99Ms), ratio(r?.throughput)]);
      }
    }
    lines.push(...table(ratioRows));
  }
  lines.push("", "dpg against the seed's targets (p50 10 ms, p95 25 ms, p99 50 ms; 10,000 QPS; 5,000 insert rows/s)");
  const checkRows = [["scenario", "check", "p50", "p95", "p99", "throughput"]];
  for (const s of report.scenarios) {
    const by = (metric) => s.checks.find((c) => c.metric === metric);
    const cell = (metric) => {
      const c = by(metric);
      return c ? `${mark(c)} (${metric === "throughput" ? c.actual.toFixed(0) : ms(c.actual)})` : "-";
    };
    checkRows.push([s.name, "", cell("p50"), cell("p95"), cell("p99"), cell("throughput")]);
  }
  lines.push(...table(checkRows));
  if (report.tiers) lines.push("", ...formatTiers(report.tiers));
  const errors = report.scenarios.flatMap((s) => s.targets.flatMap((t) => t.errorSamples.map((e) => `${s.name} on ${t.target}: ${e}`)));
  if (errors.length) lines.push("", "errors (samples):", ...errors.slice(0, 10).map((e) => `  ${e}`));
  if (report.files) lines.push("", `report: ${report.files.html}`, `json:   ${report.files.json}`);
  return lines;
}
function formatTiers(tiers) {
  const lines = ["namespace tiers: closed loop, 4 connections; plain = one PostgreSQL with every row, iterative scans on"];
  const rows = [["tier", "target", "namespaces", "rows", "queries", "p50", "p99", "QPS", "recall", "rows/query", "p50 vs plain"]];
  for (const g of [...tiers.groups, ...tiers.single ? [tiers.single] : []]) {
    for (const [name, t] of [["dpg", g.dpg], ["plain", g.plain]]) {
      if (!t) continue;
      rows.push([
        g.tier,
        name,
        String(g.namespaces),
        `${g.rowsMin}-${g.rowsMax}`,
        String(g.queries),
        ms(t.p50Ms),
        ms(t.p99Ms),
        t.qps.toFixed(0),
        t.recall === null ? "-" : t.recall.toFixed(3),
        t.meanRows.toFixed(1),
        name === "dpg" ? ratio(g.p50Ratio ?? void 0) : ""
      ]);
    }
  }
  lines.push(...table(rows));
  if (tiers.crossToSingleP50 !== null) lines.push(`cross-namespace p50 / single-namespace p50 on dpg: ${ratio(tiers.crossToSingleP50)} (goal: at most 2x)`);
  return lines;
}

// src/bench/report-html.ts
var COLORS = { dpg: "#1f77b4", plain: "#ff7f0e", worker: "#2ca02c" };
var LABELS = { dpg: "dpg", plain: "plain PostgreSQL", worker: "worker direct" };
var W = 560;
var H = 240;
var PAD = { left: 56, right: 12, top: 16, bottom: 40 };
function esc(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
var fmt = (v) => !Number.isFinite(v) ? "-" : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
function legend(names) {
  return names.map((name, i) => `<rect x="${PAD.left + i * 140}" y="${H - 12}" width="10" height="10" fill="${COLORS[name] ?? "#777"}"/><text x="${PAD.left + 14 + i * 140}" y="${H - 3}" font-size="11">${esc(LABELS[name] ?? name)}</text>`).join("");
}
function axes(xLabel, yLabel, yMax, xTicks) {
  const plotH = H - PAD.top - PAD.bottom;
  const parts = [`<line x1="${PAD.left}" y1="${H - PAD.bottom}" x2="${W - PAD.right}" y2="${H - PAD.bottom}" stroke="#333"/>`, `<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${H - PAD.bottom}" stroke="#333"/>`];
  for (let i = 0; i <= 4; i++) {
    const y = H - PAD.bottom - i / 4 * plotH;
    parts.push(`<line x1="${PAD.left}" y1="${y}" x2="${W - PAD.right}" y2="${y}" stroke="#eee"/><text x="${PAD.left - 4}" y="${y + 4}" font-size="10" text-anchor="end">${fmt(yMax * i / 4)}</text>`);
  }
  for (const t of xTicks) parts.push(`<text x="${t.x}" y="${H - PAD.bottom + 13}" font-size="10" text-anchor="middle">${esc(t.label)}</text>`);
  parts.push(`<text x="${(PAD.left + W - PAD.right) / 2}" y="${H - PAD.bottom + 26}" font-size="11" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text x="12" y="${(PAD.top + H - PAD.bottom) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${(PAD.top + H - PAD.bottom) / 2})">${esc(yLabel)}</text>`);
  return parts.join("");
}
function lineChart(title, series, xLabel, yLabel, xTickLabel, xTickEvery = 1) {
  const xMax = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[0])));
  const yMax = Math.max(1e-9, ...series.flatMap((s) => s.points.map((p) => p[1]))) * 1.1;
  const sx = (x) => PAD.left + x / xMax * (W - PAD.left - PAD.right);
  const sy = (y) => H - PAD.bottom - y / yMax * (H - PAD.top - PAD.bottom);
  const ticks = [];
  const step = Math.max(xTickEvery, Math.ceil(xMax / 10 / xTickEvery) * xTickEvery);
  for (let x = 0; x <= xMax; x += step) ticks.push({ x: sx(x), label: xTickLabel(x) });
  const lines = series.map((s) => `<polyline fill="none" stroke="${COLORS[s.name] ?? "#777"}" stroke-width="1.8" points="${s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ")}"/>`);
  return `<figure><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${axes(xLabel, yLabel, yMax, ticks)}${lines.join("")}${legend(series.map((s) => s.name))}</svg></figure>`;
}
function barChart(title, groups, yLabel) {
  const yMax = Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((b) => Number.isFinite(b.value) ? b.value : 0))) * 1.15;
  const plotW = W - PAD.left - PAD.right;
  const groupW = plotW / Math.max(1, groups.length);
  const names = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.name)))];
  const barW = groupW * 0.8 / Math.max(1, names.length);
  const sy = (y) => H - PAD.bottom - y / yMax * (H - PAD.top - PAD.bottom);
  const bars = groups.flatMap((g, gi) => g.bars.map((b) => {
    const x = PAD.left + gi * groupW + groupW * 0.1 + names.indexOf(b.name) * barW;
    const v = Number.isFinite(b.value) ? b.value : 0;
    return `<rect x="${x.toFixed(1)}" y="${sy(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(H - PAD.bottom - sy(v)).toFixed(1)}" fill="${COLORS[b.name] ?? "#777"}"><title>${esc(`${g.label} ${LABELS[b.name] ?? b.name}: ${fmt(b.value)}`)}</title></rect>`;
  }));
  const ticks = groups.map((g, gi) => ({ x: PAD.left + gi * groupW + groupW / 2, label: g.label }));
  return `<figure><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${axes("", yLabel, yMax, ticks)}${bars.join("")}${legend(names)}</svg></figure>`;
}
function latencyChart(s) {
  const bounds = s.targets[0].histogram.boundsMs;
  const used = s.targets.flatMap((t) => t.histogram.counts.flatMap((c, i) => c > 0 ? [i] : []));
  const lo = Math.max(0, Math.min(...used, bounds.length - 1) - 1);
  const hi = Math.min(bounds.length - 1, Math.max(...used, 0) + 1);
  const series = s.targets.map((t) => {
    const total = Math.max(1, t.histogram.counts.reduce((a, b) => a + b, 0));
    return { name: t.target, points: t.histogram.counts.slice(lo, hi + 1).map((c, i) => [i, 100 * c / total]) };
  });
  return lineChart(`${s.name}: latency distribution`, series, "latency, ms (bucket upper bound)", "% of requests", (i) => bounds[i + lo] >= 1e9 ? "more" : fmt(bounds[i + lo]));
}
function throughputChart(s) {
  const series = s.targets.map((t) => ({ name: t.target, points: t.timeline.map((n, i) => [i + 1, n]) }));
  return lineChart(`${s.name}: throughput over time`, series, "second of the run", "completed / s", (x) => String(x));
}
function comparisonChart(report) {
  const searches = report.scenarios.filter((s) => s.kind === "search");
  if (searches.length === 0) return "";
  const groups = searches.flatMap((s) => ["medianMs", "p95Ms", "p99Ms"].map((key) => ({
    label: `${s.name.replace(/_search$/, "")} ${key === "medianMs" ? "p50" : key.replace("Ms", "")}`,
    bars: s.targets.map((t) => ({ name: t.target, value: t.latency[key] }))
  })));
  return barChart("dpg vs baselines: latency (ms)", groups, "ms");
}
function tables(report) {
  const rows = report.scenarios.flatMap((s) => s.targets.map((t) => `<tr><td>${esc(s.name)}</td><td>${esc(LABELS[t.target])}</td><td>${s.config.targetQps}</td><td>${t.concurrency}</td><td>${fmt(t.throughputPerSecond)}</td>${[t.latency.minMs, t.latency.medianMs, t.latency.meanMs, t.latency.p95Ms, t.latency.p99Ms, t.latency.p999Ms].map((v) => `<td>${fmt(v)}</td>`).join("")}<td>${t.errors}</td><td>${t.dropped}</td><td>${t.recall === null ? "-" : t.recall.toFixed(3)}</td></tr>`));
  const ratioRows = report.scenarios.flatMap((s) => Object.entries(s.ratios).map(([name, r]) => `<tr><td>${esc(s.name)}</td><td>${esc(LABELS[name])}</td><td>${fmt(r.medianMs)}x</td><td>${fmt(r.p95Ms)}x</td><td>${fmt(r.p99Ms)}x</td><td>${fmt(r.throughput)}x</td></tr>`));
  const checkRows = report.scenarios.map((s) => `<tr><td>${esc(s.name)}</td>${["p50", "p95", "p99", "throughput"].map((m) => {
    const c = s.checks.find((x) => x.metric === m);
    if (!c) return "<td>-</td>";
    const cls = c.pass === null ? "na" : c.pass ? "pass" : "miss";
    return `<td class="${cls}">${c.pass === null ? "n/a" : c.pass ? "pass" : "miss"} (${fmt(c.actual)} / ${c.goal})</td>`;
  }).join("")}</tr>`);
  return `<h2>Results</h2><p>Latency in ms from each request's scheduled arrival (open loop: queueing included).</p>
<table><tr><th>scenario</th><th>target</th><th>offered/s</th><th>connections</th><th>done/s</th><th>min</th><th>p50</th><th>mean</th><th>p95</th><th>p99</th><th>p99.9</th><th>errors</th><th>dropped</th><th>recall@k</th></tr>${rows.join("")}</table>
<h2>dpg / baseline</h2><p>Latency above 1x: dpg is slower; throughput above 1x: dpg served more.</p>
<table><tr><th>scenario</th><th>baseline</th><th>p50</th><th>p95</th><th>p99</th><th>throughput</th></tr>${ratioRows.join("")}</table>
${tierTable(report)}<h2>Seed targets (dpg)</h2><table><tr><th>scenario</th><th>p50 \u2264 10 ms</th><th>p95 \u2264 25 ms</th><th>p99 \u2264 50 ms</th><th>throughput</th></tr>${checkRows.join("")}</table>`;
}
function renderHtml(report) {
  const d = report.dataset;
  const charts = report.scenarios.map((s) => `<h3>${esc(s.name)}</h3><div class="charts">${latencyChart(s)}${throughputChart(s)}</div>`).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dpg bench ${esc(report.startedAt)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}td:first-child,td:nth-child(2),th{text-align:left}.pass{background:#e6f4ea}.miss{background:#fde7e9}.na{color:#888}.charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-size:13px;font-weight:600}</style></head>
<body><h1>dpg bench</h1>
<p>${esc(report.startedAt)}, ${report.quick ? "quick mode, " : ""}${report.arrival} arrivals, ${fmt(report.seconds)} s in all.
Data: ${d.rows} rows \xD7 384 dims in ${d.namespaces} namespaces (${d.largestNamespaceRows} \u2026 ${d.smallestNamespaceRows} rows), seed ${d.seed}${d.reused ? ", reused from an earlier run" : `, loaded in ${fmt(d.loadSeconds)} s`}.
Baselines: ${report.baseline.plain ? `one plain PostgreSQL + pgvector node (HNSW m=${report.baseline.plain.m}, ef_construction=${report.baseline.plain.efConstruction}, hnsw.iterative_scan=${esc(report.baseline.plain.iterativeScan)})` : "none"}; ${report.baseline.workers} workers queried directly. Recall measured on ${report.recallSample} queries per search scenario against exact search.</p>
${tables(report)}
<h2>Charts</h2>${comparisonChart(report)}${charts}
</body></html>
`;
}
function tierTable(report) {
  const tiers = report.tiers;
  if (!tiers) return "";
  const cell = (v, digits = 2) => v === null || v === void 0 || !Number.isFinite(v) ? "-" : v.toFixed(digits);
  const rows = [...tiers.groups, ...tiers.single ? [tiers.single] : []].flatMap(
    (g) => [["dpg", g.dpg], ["plain", g.plain]].filter(([, t]) => t).map(([name, t]) => `<tr><td>${g.tier}</td><td>${name}</td><td>${g.namespaces}</td><td>${g.rowsMin}-${g.rowsMax}</td><td>${g.queries}</td><td>${cell(t.p50Ms)}</td><td>${cell(t.p99Ms)}</td><td>${cell(t.qps, 0)}</td><td>${cell(t.recall, 3)}</td><td>${cell(t.meanRows, 1)}</td><td>${name === "dpg" ? cell(g.p50Ratio) : ""}</td></tr>`)
  );
  return `<h2>Namespace tiers</h2><p>Closed loop, 4 connections. Plain: one PostgreSQL with every row under one HNSW index, iterative scans on.${tiers.crossToSingleP50 === null ? "" : ` Cross-namespace p50 / single-namespace p50 on dpg: ${cell(tiers.crossToSingleP50)}x.`}</p>
<table><tr><th>tier</th><th>target</th><th>namespaces</th><th>rows</th><th>queries</th><th>p50 ms</th><th>p99 ms</th><th>QPS</th><th>recall</th><th>rows/query</th><th>p50 dpg/plain</th></tr>${rows.join("")}</table>`;
}

// src/bench/recall.ts
import pg9 from "pg";
async function exactTopK(plainUrl2, queries) {
  const client = new pg9.Client({ connectionString: plainUrl2 });
  await client.connect();
  try {
    await client.query("SET enable_indexscan = off");
    const results = [];
    for (const query of queries) {
      const values = [query.vector, query.namespaces.length === 1 ? query.namespaces[0] : query.namespaces];
      const rows = (await client.query(searchSql("memory_entries", "vector", query), values)).rows;
      results.push(rows.map((r) => `${r.namespace}\0${r.key}`));
    }
    return results;
  } finally {
    await client.end();
  }
}
function recallAt(found, exact) {
  let sum = 0;
  let counted = 0;
  exact.forEach((truth, i) => {
    if (truth.length === 0) return;
    const got = new Set(found[i] ?? []);
    sum += truth.filter((key) => got.has(key)).length / truth.length;
    counted++;
  });
  return counted === 0 ? null : sum / counted;
}

// src/bench/tiers.ts
import pg10 from "pg";
var CONCURRENCY = 4;
async function namespaceTiers(url) {
  const client = new pg10.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query("SELECT namespace, tier FROM dpg_namespaces WHERE table_name = 'memory_entries'");
    return new Map(result.rows.map((r) => [r.namespace, r.tier === "hnsw" ? "hnsw" : "exact"]));
  } catch {
    return /* @__PURE__ */ new Map();
  } finally {
    await client.end();
  }
}
async function measure(target, queries, truth) {
  const latencies = new Array(queries.length);
  const found = new Array(queries.length);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < queries.length) {
        const i = next++;
        const t0 = performance.now();
        const hits = await target.search(queries[i]);
        latencies[i] = performance.now() - t0;
        found[i] = hits.map((h) => `${h.namespace}\0${h.key}`);
      }
    })
  );
  const seconds = (performance.now() - started) / 1e3;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    p50Ms: percentile2(sorted, 50),
    p99Ms: percentile2(sorted, 99),
    qps: queries.length / seconds,
    recall: truth ? recallAt(found, truth) : null,
    meanRows: found.reduce((sum, rows) => sum + rows.length, 0) / found.length
  };
}
async function measureTiers(options) {
  const { dataset } = options;
  const tiers = await namespaceTiers(options.dpgUrl);
  const uniform = seededFloats(dataset.seed * 13 + 5);
  const gaussian = seededGaussian(dataset.seed * 17 + 3);
  const query = (names, topic, limit) => ({ vector: queryVector(dataset.seed, topic, gaussian), namespaces: names, limit, minSimilarity: null });
  const onTopic = (primary) => uniform() < 0.7 ? primary : Math.floor(uniform() * DEMO_TOPICS.length);
  const byTier = /* @__PURE__ */ new Map();
  for (const ns of dataset.namespaces) {
    const tier = tiers.get(ns.name) ?? "exact";
    byTier.set(tier, [...byTier.get(tier) ?? [], ns]);
  }
  const groupQueries = [];
  for (const tier of ["exact", "hnsw"]) {
    const members2 = byTier.get(tier) ?? [];
    if (members2.length === 0) continue;
    const queries = Array.from({ length: options.queriesPerGroup }, (_, i) => {
      const ns = members2[i % members2.length];
      return query([ns.name], onTopic(ns.primaryTopic), 10);
    });
    groupQueries.push({ tier, namespaces: members2, queries });
  }
  const crossPool = dataset.namespaces.slice(0, 20);
  const cross = Array.from({ length: options.queriesPerGroup }, () => {
    const picked = [...crossPool].sort(() => uniform() - 0.5).slice(0, Math.min(5, crossPool.length));
    return query(picked.map((n) => n.name), onTopic(picked[0].primaryTopic), 20);
  });
  groupQueries.push({ tier: "cross-namespace", namespaces: crossPool, queries: cross });
  const measureGroup = async (tier, namespaces, queries) => {
    const truth = options.plainUrl ? await exactTopK(options.plainUrl, queries) : null;
    const dpg = await measure(options.dpg, queries, truth);
    const plain = options.plain ? await measure(options.plain, queries, truth) : null;
    return {
      tier,
      namespaces: namespaces.length,
      rowsMin: Math.min(...namespaces.map((n) => n.rows)),
      rowsMax: Math.max(...namespaces.map((n) => n.rows)),
      queries: queries.length,
      dpg,
      plain,
      p50Ratio: plain ? dpg.p50Ms / plain.p50Ms : null
    };
  };
  const groups = [];
  for (const { tier, namespaces, queries } of groupQueries) groups.push(await measureGroup(tier, namespaces, queries));
  const singles = groupQueries.filter((g) => g.tier !== "cross-namespace");
  const single = singles.length > 0 ? await measureGroup("single-namespace", singles.flatMap((g) => g.namespaces), singles.flatMap((g) => g.queries)) : null;
  const crossGroup = groups.find((g) => g.tier === "cross-namespace");
  return { groups, single, crossToSingleP50: single && crossGroup ? crossGroup.dpg.p50Ms / single.dpg.p50Ms : null };
}

// src/bench/bench.ts
var DRAIN_SECONDS = { quick: 2, full: 10 };
var MAX_QUEUE = 2e5;
function parseBenchFlags(flags) {
  const text = (key) => {
    const v = flags[key];
    if (v === void 0 || v === false) return void 0;
    if (v === true) throw new BenchConfigError(`--${key} needs a value`);
    return v;
  };
  const whole = (key) => {
    const v = text(key);
    if (v === void 0) return void 0;
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new BenchConfigError(`--${key} ${JSON.stringify(v)} is not allowed: a whole number of at least 1`);
    return Number(v);
  };
  const positive = (key) => {
    const v = text(key);
    if (v === void 0) return void 0;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new BenchConfigError(`--${key} ${JSON.stringify(v)} is not allowed: a number greater than 0`);
    return n;
  };
  const arrival = text("arrival");
  if (arrival !== void 0 && arrival !== "poisson" && arrival !== "uniform") throw new BenchConfigError(`--arrival ${JSON.stringify(arrival)} is not allowed: poisson or uniform`);
  const duration = text("duration");
  const rampUp = text("ramp-up");
  const seed = text("seed");
  if (seed !== void 0 && !/^\d+$/.test(seed)) throw new BenchConfigError(`--seed ${JSON.stringify(seed)} is not allowed: a whole number`);
  return {
    quick: flags.quick === true,
    rows: whole("rows"),
    seed: seed === void 0 ? void 0 : Number(seed),
    configFile: text("bench-config"),
    scenarios: text("scenarios")?.split(",").map((s) => s.trim()).filter(Boolean),
    overrides: {
      durationSeconds: duration === void 0 ? void 0 : parseDuration(duration, "--duration"),
      rampUpSeconds: rampUp === void 0 ? void 0 : parseDuration(rampUp, "--ramp-up"),
      targetQps: positive("qps"),
      concurrency: whole("concurrency")
    },
    outDir: text("out"),
    baselines: flags["no-baseline"] !== true,
    tiers: flags["no-tiers"] !== true,
    recallSample: whole("recall-sample"),
    arrival
  };
}
function ratios(dpg, baseline) {
  return {
    medianMs: dpg.latency.medianMs / baseline.latency.medianMs,
    p95Ms: dpg.latency.p95Ms / baseline.latency.p95Ms,
    p99Ms: dpg.latency.p99Ms / baseline.latency.p99Ms,
    throughput: dpg.throughputPerSecond / baseline.throughputPerSecond
  };
}
function checks(scenario, dpg) {
  const latency = (metric, goal, actual) => ({ metric, goal, actual, pass: Number.isFinite(actual) ? actual <= goal : false });
  const list = [latency("p50", SEED_TARGETS.p50Ms, dpg.latency.medianMs), latency("p95", SEED_TARGETS.p95Ms, dpg.latency.p95Ms), latency("p99", SEED_TARGETS.p99Ms, dpg.latency.p99Ms)];
  const throughputGoal = scenario.kind === "search" ? SEED_TARGETS.searchQps : scenario.name === "bulk_insert" ? SEED_TARGETS.insertRowsPerSecond : null;
  if (throughputGoal !== null) {
    const offered = scenario.targetQps * (scenario.name === "bulk_insert" ? scenario.batchSize : 1);
    const actual = dpg.rowsPerSecond;
    list.push(actual >= throughputGoal ? { metric: "throughput", goal: throughputGoal, actual, pass: true } : offered < throughputGoal ? { metric: "throughput", goal: throughputGoal, actual, pass: null, note: `offered ${offered}/s, below the goal` } : { metric: "throughput", goal: throughputGoal, actual, pass: false });
  }
  return list;
}
function targetResult(target, concurrency, scenario, run3, recall) {
  const throughput = run3.completed / scenario.durationSeconds;
  return {
    target,
    concurrency,
    scheduled: run3.scheduled,
    completed: run3.completed,
    errors: run3.errors,
    dropped: run3.dropped,
    errorSamples: run3.errorSamples,
    throughputPerSecond: throughput,
    rowsPerSecond: scenario.name === "bulk_insert" ? throughput * scenario.batchSize : throughput,
    latency: summarize(run3.latenciesMs),
    meanQueueMs: run3.meanQueueMs,
    histogram: histogram(run3.latenciesMs),
    timeline: run3.timeline.slice(0, Math.ceil(run3.elapsedSeconds)),
    recall
  };
}
function loop(ctx, scenario, concurrency, run3, seed) {
  return runOpenLoop({ ...scenario, concurrency, arrival: ctx.arrival, seed, drainSeconds: ctx.drainSeconds, maxQueue: MAX_QUEUE, run: run3 });
}
async function runSearchScenario(ctx, scenario, index) {
  const queries = searchQueries(ctx.dataset, scenario, ctx.dataset.seed * 1e3 + index);
  const sample = queries.slice(0, ctx.recallSample);
  const exact = ctx.plain ? await exactTopK(ctx.plain.url, sample) : null;
  const openers = [() => sqlTarget("dpg", ctx.options.url, "ruvector", scenario.concurrency)];
  if (ctx.plain) {
    const plainUrl2 = ctx.plain.url;
    openers.push(() => sqlTarget("plain", plainUrl2, "vector", scenario.concurrency, ["SET hnsw.iterative_scan = relaxed_order"]));
    openers.push(() => workerTarget(ctx.options.url, ctx.shards, scenario.concurrency, ctx.options.workerLogin));
  }
  const results = [];
  for (const open of openers) {
    const target = await open();
    try {
      let recall = null;
      if (exact) {
        const found = [];
        for (const query of sample) found.push((await target.search(query)).map((h) => `${h.namespace}\0${h.key}`));
        recall = recallAt(found, exact);
      }
      const run3 = await loop(ctx, scenario, target.concurrency, async (i) => {
        await target.search(queries[i % queries.length]);
      }, index + 1);
      results.push(targetResult(target.name, target.concurrency, scenario, run3, recall));
      ctx.out(`  ${scenario.name} on ${target.name}: ${run3.completed} done, ${run3.errors} errors, ${run3.dropped} dropped`);
    } finally {
      await target.close();
    }
  }
  const dpg = results[0];
  const plain = results.find((r) => r.target === "plain");
  const worker = results.find((r) => r.target === "worker");
  return {
    name: scenario.name,
    kind: scenario.kind,
    config: scenario,
    targets: results,
    ratios: { ...plain ? { plain: ratios(dpg, plain) } : {}, ...worker ? { worker: ratios(dpg, worker) } : {} },
    checks: checks(scenario, dpg)
  };
}
async function runWriteScenario(ctx, scenario, index) {
  const pool = await openPool({ connectionString: ctx.options.url }, scenario.concurrency);
  try {
    let run3;
    if (scenario.name === "bulk_insert") {
      await clearInserted(pool);
      const runId = `r${Date.now().toString(36)}`;
      run3 = await loop(ctx, scenario, scenario.concurrency, async (i) => {
        await pool.query(insertBatch(ctx.dataset, scenario, runId, i));
      }, index + 1);
      await clearInserted(pool);
    } else {
      const keys = await updateKeys(pool, ctx.dataset);
      if (keys.length === 0) throw new Error("concurrent_updates found no rows to update");
      run3 = await loop(ctx, scenario, scenario.concurrency, async (i) => {
        const { namespace, key } = keys[i * 7919 % keys.length];
        await pool.query({ name: "dpg_bench_update", text: UPDATE_SQL, values: [namespace, key, `bench update ${i}`] });
      }, index + 1);
    }
    ctx.out(`  ${scenario.name} on dpg: ${run3.completed} done, ${run3.errors} errors, ${run3.dropped} dropped`);
    const dpg = targetResult("dpg", scenario.concurrency, scenario, run3, null);
    return { name: scenario.name, kind: scenario.kind, config: scenario, targets: [dpg], ratios: {}, checks: checks(scenario, dpg) };
  } finally {
    await pool.end();
  }
}
async function runBench(options) {
  const out2 = options.out ?? ((line) => process.stdout.write(`${line}
`));
  const started = performance.now();
  const startedAt = (/* @__PURE__ */ new Date()).toISOString();
  const quick = options.quick ?? false;
  const scenarios = resolveScenarios({ quick, file: options.configFile ? readScenarioFile(options.configFile) : void 0, only: options.scenarios, overrides: options.overrides });
  const dataset = benchDataset({ rows: options.rows ?? (quick ? QUICK_ROWS : DEFAULT_ROWS), seed: options.seed ?? 42 });
  const progress = options.progress ?? false;
  const arrival = options.arrival ?? "poisson";
  out2(`bench data: ${dataset.rows} rows in ${dataset.namespaces.length} namespaces (${dataset.namespaces[0].rows} ... ${dataset.namespaces.at(-1).rows} rows each), seed ${dataset.seed}`);
  const load3 = await ensureClusterDataset(options.url, dataset, progress);
  out2(load3.reused ? "bench data already loaded on the cluster: reusing it" : `loaded through the coordinator in ${load3.seconds.toFixed(1)} s`);
  const shards = await shardLocations(options.url);
  let plain = null;
  let plainInfo = null;
  try {
    if (options.baselines !== false) {
      const tuning = await workerTuning(options.url, shards[0], options.workerLogin);
      out2(`starting the plain PostgreSQL + pgvector baseline (HNSW m=${tuning.m}, ef_construction=${tuning.efConstruction}, ${Object.entries(tuning.settings).map(([k, v]) => `${k}=${v}`).join(", ")})`);
      plain = await startPlainPostgres(tuning.settings);
      const loadStarted = performance.now();
      await createPlainSchema(plain.url);
      await loadRows(plain.url, dataset, "vector", progress, "rows (baseline)");
      await createPlainHnswIndex(plain.url, tuning);
      const loadSeconds = (performance.now() - loadStarted) / 1e3;
      out2(`baseline loaded and indexed in ${loadSeconds.toFixed(1)} s`);
      plainInfo = { rows: dataset.rows, loadSeconds, m: tuning.m, efConstruction: tuning.efConstruction, settings: tuning.settings, iterativeScan: "relaxed_order" };
    }
    const ctx = {
      options,
      dataset,
      plain,
      shards,
      arrival,
      drainSeconds: quick ? DRAIN_SECONDS.quick : DRAIN_SECONDS.full,
      recallSample: options.recallSample ?? (quick ? 20 : 100),
      out: out2
    };
    const results = [];
    for (const [index, scenario] of scenarios.entries()) {
      out2(`${scenario.name}: ${scenario.durationSeconds} s (ramp-up ${scenario.rampUpSeconds} s) at ${scenario.targetQps}/s, ${scenario.concurrency} connections`);
      results.push(scenario.kind === "search" ? await runSearchScenario(ctx, scenario, index) : await runWriteScenario(ctx, scenario, index));
    }
    let tiers = null;
    if (options.tiers !== false) {
      out2("namespace tiers: single-namespace top-10 per tier and cross-namespace top-20, dpg and plain PostgreSQL");
      const dpgTarget = await sqlTarget("dpg", options.url, "ruvector", 4);
      const plainTarget = plain ? await sqlTarget("plain", plain.url, "vector", 4, ["SET hnsw.iterative_scan = relaxed_order"]) : null;
      try {
        tiers = await measureTiers({ dataset, dpg: dpgTarget, plain: plainTarget, plainUrl: plain?.url ?? null, dpgUrl: options.url, queriesPerGroup: quick ? 30 : 300 });
      } finally {
        await dpgTarget.close();
        await plainTarget?.close();
      }
    }
    const report = {
      startedAt,
      seconds: (performance.now() - started) / 1e3,
      quick,
      arrival,
      dataset: { rows: dataset.rows, namespaces: dataset.namespaces.length, seed: dataset.seed, reused: load3.reused, loadSeconds: load3.seconds, largestNamespaceRows: dataset.namespaces[0].rows, smallestNamespaceRows: dataset.namespaces.at(-1).rows },
      baseline: { plain: plainInfo, workers: new Set(shards.map((s) => `${s.host}:${s.port}`)).size },
      recallSample: ctx.recallSample,
      scenarios: results,
      tiers,
      files: null
    };
    if (options.outDir) {
      const dir = resolve2(options.outDir);
      mkdirSync6(dir, { recursive: true });
      report.files = { json: join9(dir, "bench-report.json"), html: join9(dir, "bench-report.html") };
      writeFileSync8(report.files.json, `${JSON.stringify(report, null, 2)}
`);
      writeFileSync8(report.files.html, renderHtml(report));
    }
    for (const line of formatReport(report)) out2(line);
    return report;
  } finally {
    await plain?.stop();
  }
}

// src/bench/overhead.ts
import { spawn as spawn3 } from "node:child_process";
import { mkdtempSync as mkdtempSync3, readFileSync as readFileSync9, rmSync as rmSync4, writeFileSync as writeFileSync9, chownSync as chownSync3 } from "node:fs";
import { tmpdir as tmpdir3 } from "node:os";
import { join as join10 } from "node:path";
import { createServer as createServer5 } from "node:net";
import pg11 from "pg";
var PGBENCH = "/usr/lib/postgresql/15/bin/pgbench";
var PGBOUNCER = "/usr/sbin/pgbouncer";
var CLOCK_TICKS_PER_SECOND = 100;
async function runOverhead(options) {
  const { layout, secrets, out: out2 } = options;
  const control = layout.groups.find((g) => g.id === 0);
  const controlPrimary = await groupLeader(control);
  if (!controlPrimary) throw new Error("the control group has no primary");
  const dpg = { host: layout.host, port: layout.clientPort, password: options.user.password };
  const direct = { host: controlPrimary.host, port: controlPrimary.pgPort, password: nodePassword(secrets, options.user.name) };
  const coordinatorPids = listProcessRecords(layout.runDir).filter((r) => r.name.startsWith("coordinator-")).map((r) => r.pid);
  out2(`coordinator processes: ${coordinatorPids.join(", ")}; control primary ${controlPrimary.name} at ${direct.host}:${direct.port}; ${options.seconds} s per run`);
  await ensurePgbenchTables(dpg, options);
  const bouncer = await startPgBouncer(direct, options);
  try {
    out2("");
    out2("pgbench -S                 direct TPS   PgBouncer TPS   dpg TPS   dpg/PgBouncer  dpg/direct   CPU \xB5s/stmt: PgBouncer  dpg");
    for (const mode of ["prepared", "simple"]) {
      for (const clients of [1, 4]) {
        const d = await pgbench(direct, options, mode, clients, []);
        const b = await pgbench({ host: "127.0.0.1", port: bouncer.port, password: direct.password }, options, mode, clients, [bouncer.pid]);
        const c = await pgbench(dpg, options, mode, clients, coordinatorPids);
        out2(
          `${`${mode}, ${clients} client${clients > 1 ? "s" : ""}`.padEnd(26)} ${fmt2(d.tps, 10)} ${fmt2(b.tps, 15)} ${fmt2(c.tps, 9)} ${ratio2(c.tps, b.tps, 14)} ${ratio2(c.tps, d.tps, 11)} ${micros(b.cpuMicrosPerStatement, 23)} ${micros(c.cpuMicrosPerStatement, 5)}`
        );
      }
    }
  } finally {
    await bouncer.stop();
  }
  const search = await searchTargets(dpg, options);
  out2("");
  out2(`top-10 search over ${options.namespace} (${search.rows} rows, shard ${search.shardTable} on ${search.worker.name})`);
  out2("clients  worker p50 ms  dpg p50 ms  p50 ratio  worker QPS  dpg QPS  QPS ratio  dpg CPU \xB5s/stmt");
  for (const clients of [1, 2, 8]) {
    const w = await topTen({ host: search.worker.host, port: search.worker.pgPort, password: direct.password }, search.shardTable, options, clients, []);
    const c = await topTen(dpg, "memory_entries", options, clients, coordinatorPids);
    out2(
      `${String(clients).padStart(7)}  ${w.p50.toFixed(2).padStart(13)} ${c.p50.toFixed(2).padStart(11)} ${ratio2(w.p50, c.p50, 10, true)} ${fmt2(w.tps, 11)} ${fmt2(c.tps, 8)} ${ratio2(c.tps, w.tps, 10)} ${micros(c.cpuMicrosPerStatement, 16)}`
    );
  }
  out2("");
  out2("goals: dpg/PgBouncer >= 1.00x in all four pgbench rows; top-10 p50 ratio <= 1.10x at 1 client; QPS ratio >= 0.85x at 8 clients");
}
function fmt2(value, width2) {
  return Math.round(value).toLocaleString("en-US").padStart(width2);
}
function ratio2(a, b, width2, inverse = false) {
  const value = inverse ? b / a : a / b;
  return `${value.toFixed(2)}x`.padStart(width2);
}
function micros(value, width2) {
  return (value === null ? "-" : value.toFixed(0)).padStart(width2);
}
function cpuMicros(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync9(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
    }
  }
  return ticks * 1e6 / CLOCK_TICKS_PER_SECOND;
}
function environment(target, options) {
  return { ...process.env, PGHOST: target.host, PGPORT: String(target.port), PGUSER: options.user.name, PGPASSWORD: target.password, PGDATABASE: options.database, PGSSLMODE: "disable" };
}
function run(command, args2, env) {
  return new Promise((resolve3, reject) => {
    const child = spawn3(command, args2, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => output += d.toString());
    child.stderr.on("data", (d) => output += d.toString());
    child.on("error", reject);
    child.on("close", (code) => code === 0 ? resolve3(output) : reject(new Error(`${command} ${args2.join(" ")} exited ${code}:
${output}`)));
  });
}
async function ensurePgbenchTables(dpg, options) {
  const client = new pg11.Client({ ...dpg, user: options.user.name, database: options.database, ssl: false });
  await client.connect();
  try {
    const { rows } = await client.query("SELECT count(*)::int AS n FROM pg_catalog.pg_tables WHERE tablename = 'pgbench_accounts'");
    if (rows[0].n > 0) return;
  } finally {
    await client.end();
  }
  options.out("pgbench -i -s 1 through dpg (the tables stay on the control group)");
  await run(PGBENCH, ["-i", "-s", "1", "-q", "-I", "dtgp"], environment(dpg, options));
}
async function pgbench(target, options, mode, clients, pids) {
  const env = environment(target, options);
  const args2 = ["-n", "-S", "-M", mode, "-c", String(clients), "-j", String(Math.min(clients, 2)), "-T", String(options.seconds)];
  const before = cpuMicros(pids);
  const output = await run(PGBENCH, args2, env);
  const cpu = cpuMicros(pids) - before;
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(output)?.[1]);
  const statements = Number(/number of transactions actually processed: (\d+)/.exec(output)?.[1]);
  if (!Number.isFinite(tps) || !Number.isFinite(statements)) throw new Error(`could not read pgbench's output:
${output}`);
  return { tps, statements, cpuMicrosPerStatement: pids.length > 0 && statements > 0 ? cpu / statements : null };
}
async function freePort2() {
  return new Promise((resolve3, reject) => {
    const server = createServer5();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = server.address().port;
      server.close(() => resolve3(port));
    });
  });
}
async function startPgBouncer(target, options) {
  const dir = mkdtempSync3(join10(tmpdir3(), "dpg-bench-pgbouncer-"));
  const port = await freePort2();
  const user = lookupSystemUser();
  const quote = (s) => `"${s.replace(/"/g, '""')}"`;
  writeFileSync9(join10(dir, "userlist.txt"), `${quote(options.user.name)} ${quote(target.password)}
`, { mode: 384 });
  writeFileSync9(
    join10(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `${options.database} = host=${target.host} port=${target.port} dbname=${options.database}`,
      "[pgbouncer]",
      `listen_addr = 127.0.0.1`,
      `listen_port = ${port}`,
      `unix_socket_dir =`,
      `auth_type = plain`,
      `auth_file = ${join10(dir, "userlist.txt")}`,
      `pool_mode = session`,
      `max_client_conn = 100`,
      `default_pool_size = 20`,
      `server_tls_sslmode = disable`,
      `logfile = ${join10(dir, "pgbouncer.log")}`,
      `pidfile = ${join10(dir, "pgbouncer.pid")}`,
      ""
    ].join("\n")
  );
  for (const file of ["", "userlist.txt", "pgbouncer.ini"]) chownSync3(join10(dir, file), user.uid, user.gid);
  const child = spawn3(PGBOUNCER, [join10(dir, "pgbouncer.ini")], { ...runAs(user), stdio: "ignore" });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve3) => child.once("exit", resolve3));
      child.kill("SIGTERM");
      await exited;
    }
    rmSync4(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 1e4;
  for (; ; ) {
    const client = new pg11.Client({ host: "127.0.0.1", port, user: options.user.name, password: target.password, database: options.database, ssl: false });
    try {
      await client.connect();
      await client.end();
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        let log = "";
        try {
          log = readFileSync9(join10(dir, "pgbouncer.log"), "utf8");
        } catch {
        }
        await stop();
        throw new Error(`PgBouncer did not start: ${error.message}
${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { port, pid: child.pid, stop };
}
async function searchTargets(dpg, options) {
  const client = new pg11.Client({ ...dpg, user: options.user.name, database: options.database, ssl: false });
  await client.connect();
  try {
    const shard = (await client.query(
      "SELECT s.shardid, p.groupid AS group_id FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) WHERE s.logicalrelid = 'memory_entries'::regclass AND hashtext($1) BETWEEN s.shardminvalue::int AND s.shardmaxvalue::int",
      [options.namespace]
    )).rows[0];
    if (!shard) throw new Error(`no shard of memory_entries holds ${options.namespace}`);
    const rows = (await client.query("SELECT count(*)::int AS n FROM memory_entries WHERE namespace = $1", [options.namespace])).rows[0].n;
    const group = options.layout.groups.find((g) => g.id === Number(shard.group_id));
    if (!group) throw new Error(`group ${shard.group_id} is not in this machine's layout`);
    const worker = await groupLeader(group);
    if (!worker) throw new Error(`group ${group.name} has no primary`);
    return { worker, shardTable: `memory_entries_${shard.shardid}`, rows };
  } finally {
    await client.end();
  }
}
var VECTOR = `[${Array.from({ length: 384 }, (_, i) => Math.sin(i * 0.37).toFixed(6)).join(",")}]`;
async function topTen(target, table2, options, clients, pids) {
  const text = `SELECT namespace, key, value, 1 - (embedding <=> $1::ruvector) AS similarity FROM ${table2} WHERE namespace = $2 ORDER BY embedding <=> $1::ruvector LIMIT 10`;
  const query = { name: "top10", text, values: [VECTOR, options.namespace] };
  const connections = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new pg11.Client({ ...target, user: options.user.name, database: options.database, ssl: false });
      await c.connect();
      const { rows } = await c.query(query);
      if (rows.length !== 10) throw new Error(`the search on ${table2} returned ${rows.length} rows`);
      return c;
    })
  );
  const latencies = [];
  const before = cpuMicros(pids);
  const deadline = performance.now() + options.seconds * 1e3;
  await Promise.all(
    connections.map(async (c) => {
      while (performance.now() < deadline) {
        const start = performance.now();
        await c.query(query);
        latencies.push(performance.now() - start);
      }
    })
  );
  const cpu = cpuMicros(pids) - before;
  await Promise.all(connections.map((c) => c.end()));
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { tps: latencies.length / options.seconds, statements: latencies.length, cpuMicrosPerStatement: pids.length > 0 ? cpu / latencies.length : null, p50: at(0.5), p99: at(0.99) };
}

// src/chaos/chaos.ts
import pg14 from "pg";

// src/cluster/up.ts
import { existsSync as existsSync13, mkdirSync as mkdirSync11, rmSync as rmSync6, chownSync as chownSync4, writeFileSync as writeFileSync15 } from "node:fs";
import { spawnSync as spawnSync2 } from "node:child_process";
import { join as join17 } from "node:path";

// src/cluster/layout.ts
import { join as join11 } from "node:path";
function buildLayout(config, dataDir, nodesRoot = join11(dataDir, "nodes"), coordinatorCount = config.coordinator.instances, workerGroups = config.cluster.worker_groups.count) {
  const base = config.ports.base;
  const coordinators = Array.from({ length: coordinatorCount }, (_, i) => ({
    index: i + 1,
    port: coordinatorCount === 1 ? base : base + 1 + i,
    metricsPort: base + 20 + i,
    processName: `coordinator-${i + 1}`,
    logFile: join11(dataDir, "logs", `coordinator-${i + 1}.log`)
  }));
  const host = config.cluster.host;
  const groups = [];
  const workerIds = typeof workerGroups === "number" ? Array.from({ length: workerGroups }, (_, i) => i + 1) : workerGroups;
  const groupSizes = new Map([[0, config.cluster.control_group.nodes], ...workerIds.map((id) => [id, config.distribution.replication_factor])]);
  groupSizes.forEach((size, g) => {
    const name = g === 0 ? "control" : `worker${g}`;
    const nodes = [];
    for (let i = 0; i < size; i++) {
      const nodeName = `${name}-${i}`;
      const dir = join11(nodesRoot, nodeName);
      nodes.push({
        name: nodeName,
        groupId: g,
        index: i,
        host,
        pgPort: base + 100 + 10 * g + i,
        restPort: base + 200 + 10 * g + i,
        dir,
        pgDataDir: join11(dir, "pgdata"),
        patroniConfig: join11(dir, "patroni.yml"),
        logFile: join11(dir, "patroni.log"),
        proxyPgPort: base + 300 + 10 * g + i,
        proxyEtcdPort: base + 305 + 10 * g + i
      });
    }
    groups.push({ id: g, name, kind: g === 0 ? "control" : "worker", nodes });
  });
  const etcdDir = join11(dataDir, "etcd");
  const local = config.cluster.etcd.endpoints.length === 0;
  return {
    dataDir,
    host,
    clientPort: base,
    metricsPort: base + 20,
    coordinators,
    faultProxy: config.cluster.fault_proxies ? { controlPort: base + 31, logFile: join11(dataDir, "logs", "fault-proxy.log") } : null,
    haproxy: coordinatorCount > 1 ? { configFile: join11(dataDir, "haproxy", "haproxy.cfg"), logFile: join11(dataDir, "logs", "haproxy.log") } : null,
    prometheusPort: base + 30,
    redisPort: base + 12,
    etcd: {
      local,
      clientPort: base + 10,
      peerPort: base + 11,
      dir: etcdDir,
      logFile: join11(dataDir, "logs", "etcd.log"),
      endpoints: local ? [`http://${host}:${base + 10}`] : config.cluster.etcd.endpoints
    },
    groups,
    runDir: join11(dataDir, "run"),
    secretsFile: join11(dataDir, "secrets.json"),
    stateFile: join11(dataDir, "cluster.json")
  };
}
function allNodes(layout) {
  return layout.groups.flatMap((g) => g.nodes);
}
function listeningPorts(layout) {
  const ports = [];
  if (layout.haproxy) ports.push({ port: layout.clientPort, what: "HAProxy", node: null });
  for (const c of layout.coordinators) {
    ports.push({ port: c.port, what: c.processName, node: null }, { port: c.metricsPort, what: `${c.processName} metrics`, node: null });
  }
  if (layout.etcd.local) {
    ports.push({ port: layout.etcd.clientPort, what: "etcd client", node: null }, { port: layout.etcd.peerPort, what: "etcd peer", node: null });
  }
  for (const node of allNodes(layout)) {
    ports.push(
      { port: node.pgPort, what: `PostgreSQL of ${node.name}`, node },
      { port: node.restPort, what: `Patroni REST API of ${node.name}`, node }
    );
  }
  if (layout.faultProxy) {
    ports.push({ port: layout.faultProxy.controlPort, what: "fault-proxy control", node: null });
    for (const node of allNodes(layout)) {
      ports.push({ port: node.proxyPgPort, what: `fault-proxy to PostgreSQL of ${node.name}`, node: null }, { port: node.proxyEtcdPort, what: `fault-proxy to etcd for ${node.name}`, node: null });
    }
  }
  return ports;
}
function coordinatorPort(layout, node) {
  return layout.faultProxy ? node.proxyPgPort : node.pgPort;
}

// src/cluster/etcd.ts
import { mkdirSync as mkdirSync7 } from "node:fs";
var ETCD_PROCESS = "etcd";
var ETCD_BINARY = "/usr/bin/etcd";
function startEtcd(runDir, etcd, host) {
  mkdirSync7(etcd.dir, { recursive: true, mode: 448 });
  const client = `http://${host}:${etcd.clientPort}`;
  const peer = `http://${host}:${etcd.peerPort}`;
  return startDetached(runDir, {
    name: ETCD_PROCESS,
    command: ETCD_BINARY,
    args: [
      "--name",
      "dpg-etcd",
      "--data-dir",
      etcd.dir,
      "--listen-client-urls",
      client,
      "--advertise-client-urls",
      client,
      "--listen-peer-urls",
      peer,
      "--initial-advertise-peer-urls",
      peer,
      "--initial-cluster",
      `dpg-etcd=${peer}`,
      "--initial-cluster-state",
      "new",
      // A local member on a busy 2-core machine: keep the default timings but a small WAL.
      "--snapshot-count",
      "10000",
      "--quota-backend-bytes",
      String(512 * 1024 * 1024)
    ],
    logFile: etcd.logFile,
    marker: etcd.dir
  });
}
async function etcdHealthy(endpoint) {
  try {
    const response = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1e3) });
    if (!response.ok) return false;
    const body = await response.json();
    return body.health === "true";
  } catch {
    return false;
  }
}
async function waitForEtcd(endpoints, timeoutMs) {
  await waitFor(`etcd at ${endpoints.join(", ")}`, timeoutMs, async () => {
    for (const endpoint of endpoints) if (await etcdHealthy(endpoint)) return true;
    return false;
  });
}

// src/cluster/setup.ts
import { existsSync as existsSync10, mkdtempSync as mkdtempSync4, readdirSync as readdirSync3, rmSync as rmSync5, writeFileSync as writeFileSync11 } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir as tmpdir4 } from "node:os";
import { join as join13 } from "node:path";

// src/cluster/ruvector-extension.ts
import { execFileSync as execFileSync4 } from "node:child_process";
import { existsSync as existsSync9, mkdirSync as mkdirSync8, readFileSync as readFileSync10, renameSync, writeFileSync as writeFileSync10 } from "node:fs";
import { basename, join as join12 } from "node:path";
import { fileURLToPath } from "node:url";
var EXTENSION_SOURCE_FILES = ["ruvector.control", "ruvector--0.1.0.sql"];
function ruvectorExtensionFiles() {
  return EXTENSION_SOURCE_FILES.map(
    (name) => fileURLToPath(new URL(`../../extension/ruvector/${name}`, import.meta.url))
  );
}
function postgresShareDir() {
  return execFileSync4(postgresBinary("pg_config"), ["--sharedir"], { encoding: "utf8" }).trim();
}
function installRuvectorExtension(sharedir2 = postgresShareDir()) {
  const dir = join12(sharedir2, "extension");
  mkdirSync8(dir, { recursive: true });
  let installed = false;
  for (const source of ruvectorExtensionFiles()) {
    const wanted = readFileSync10(source);
    const target = join12(dir, basename(source));
    if (existsSync9(target) && readFileSync10(target).equals(wanted)) continue;
    const staging = `${target}.${process.pid}.tmp`;
    writeFileSync10(staging, wanted, { mode: 420 });
    renameSync(staging, target);
    installed = true;
  }
  return { installed, dir };
}

// src/cluster/setup.ts
var DEBIAN_PYTHON = "/usr/bin/python3";
var PG_CONFIG = postgresBinary("pg_config");
var TRIXIE_SOURCES = "/etc/apt/sources.list.d/dpg-trixie-src.sources";
var fileExists = (...paths) => () => paths.every((p) => existsSync10(p));
var REQUIREMENTS = [
  { what: `PostgreSQL ${POSTGRES_MAJOR}`, packages: [`postgresql-${POSTGRES_MAJOR}`, "postgresql-contrib"], present: fileExists(postgresBinary("postgres"), postgresBinary("initdb")) },
  {
    what: `PostgreSQL ${POSTGRES_MAJOR} server headers`,
    packages: [`postgresql-server-dev-${POSTGRES_MAJOR}`],
    present: fileExists(`/usr/include/postgresql/${POSTGRES_MAJOR}/server/postgres.h`, PG_CONFIG)
  },
  { what: "Patroni", packages: ["patroni"], present: fileExists("/usr/bin/patroni") },
  { what: "etcd server and client", packages: ["etcd-server", "etcd-client"], present: fileExists("/usr/bin/etcd", "/usr/bin/etcdctl") },
  { what: "HAProxy", packages: ["haproxy"], present: fileExists("/usr/sbin/haproxy") },
  { what: "Redis", packages: ["redis-server"], present: fileExists("/usr/bin/redis-server") },
  { what: "Prometheus (promtool)", packages: ["prometheus"], present: fileExists("/usr/bin/prometheus", "/usr/bin/promtool") },
  { what: "Prometheus' PostgreSQL exporter", packages: ["prometheus-postgres-exporter"], present: fileExists("/usr/bin/prometheus-postgres-exporter") },
  {
    what: "Python's asyncpg and psycopg2 (Debian's interpreter)",
    packages: ["python3-asyncpg", "python3-psycopg2"],
    present: () => existsSync10(DEBIAN_PYTHON) && spawnSync(DEBIAN_PYTHON, ["-c", "import asyncpg, psycopg2"]).status === 0
  },
  { what: "a C toolchain and dpkg-source (to build pgvector)", packages: ["build-essential", "dpkg-dev"], present: fileExists("/usr/bin/gcc", "/usr/bin/make", "/usr/bin/dpkg-source") }
];
function sharedir() {
  return run2(PG_CONFIG, ["--sharedir"]).trim();
}
function pkglibdir() {
  return run2(PG_CONFIG, ["--pkglibdir"]).trim();
}
function vectorExtensionInstalled() {
  if (!existsSync10(PG_CONFIG)) return existsSync10(`/usr/share/postgresql/${POSTGRES_MAJOR}/extension/vector.control`);
  return existsSync10(join13(sharedir(), "extension", "vector.control")) && existsSync10(join13(pkglibdir(), "vector.so")) && existsSync10(join13(sharedir(), "extension", "ruvector.control"));
}
var SetupError = class extends Error {
};
function run2(command, args2, options = {}) {
  const result = spawnSync(command, args2, {
    cwd: options.cwd,
    encoding: "utf8",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    maxBuffer: 64 * 1024 * 1024
  });
  if (result.error) throw new SetupError(`${command} could not run: ${result.error.message}`);
  if (result.status !== 0) {
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim().split("\n").slice(-15).join("\n");
    throw new SetupError(`'${command} ${args2.join(" ")}' failed (exit ${result.status}):
${output}`);
  }
  return result.stdout ?? "";
}
function setup2(log = () => {
}) {
  const startedAt = Date.now();
  const missing = REQUIREMENTS.filter((r) => !r.present());
  const packages = missing.flatMap((r) => r.packages);
  let aptUpdated = false;
  const requireRoot = (why) => {
    if (process.getuid?.() !== 0) throw new SetupError(`${why} needs root: run 'sudo npx dpg setup'`);
  };
  if (packages.length > 0) {
    requireRoot(`installing ${missing.map((r) => r.what).join(", ")}`);
    log(`installing from Debian: ${packages.join(" ")}`);
    run2("apt-get", ["update", "-q"]);
    aptUpdated = true;
    run2("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...packages]);
    const stillMissing = REQUIREMENTS.filter((r) => !r.present());
    if (stillMissing.length > 0) throw new SetupError(`still missing after apt-get install: ${stillMissing.map((r) => r.what).join(", ")}`);
  }
  let builtPgvector = false;
  if (!existsSync10(join13(sharedir(), "extension", "vector.control")) || !existsSync10(join13(pkglibdir(), "vector.so"))) {
    requireRoot("building pgvector");
    buildPgvector(log, aptUpdated);
    builtPgvector = true;
  }
  const ruvector = installRuvectorExtension(sharedir());
  if (ruvector.installed) log(`installed the ruvector extension into ${ruvector.dir}`);
  return { installedPackages: packages, builtPgvector, installedRuvector: ruvector.installed, seconds: (Date.now() - startedAt) / 1e3 };
}
function buildPgvector(log, aptUpdated) {
  if (!existsSync10(TRIXIE_SOURCES)) {
    log(`adding a deb-src entry for Debian trixie main (source packages only): ${TRIXIE_SOURCES}`);
    writeFileSync11(
      TRIXIE_SOURCES,
      [
        "# Added by dpg setup: source packages only, to build pgvector for PostgreSQL 15.",
        "Types: deb-src",
        "URIs: http://deb.debian.org/debian",
        "Suites: trixie",
        "Components: main",
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
        ""
      ].join("\n")
    );
    aptUpdated = false;
  }
  if (!aptUpdated) run2("apt-get", ["update", "-q"]);
  const work = mkdtempSync4(join13(tmpdir4(), "dpg-pgvector-"));
  try {
    log("fetching the pgvector source package");
    run2("apt-get", ["source", "-q", "pgvector"], { cwd: work });
    const dir = readdirSync3(work).find((f) => f.startsWith("pgvector-") && !f.includes(".".repeat(2)) && !/\.(dsc|tar\.\w+)$/.test(f));
    if (!dir) throw new SetupError(`apt-get source pgvector produced no source folder in ${work}`);
    log(`building ${dir} against ${PG_CONFIG}`);
    const make = ["-C", join13(work, dir), `PG_CONFIG=${PG_CONFIG}`, "with_llvm=no"];
    run2("make", [...make, "-j2"]);
    run2("make", [...make, "install"]);
  } finally {
    rmSync5(work, { recursive: true, force: true });
  }
}

// src/catalog/bootstrap.ts
import pg12 from "pg";
var BootstrapError = class extends Error {
};
var quoteLiteral5 = (value) => `'${value.replace(/'/g, "''")}'`;
var quoteIdent5 = (value) => `"${value.replace(/"/g, '""')}"`;
async function groupLeaders(layout) {
  const leaders = /* @__PURE__ */ new Map();
  for (const group of layout.groups) {
    const leader = await groupLeader(group);
    if (!leader) throw new BootstrapError(`group ${group.name} has no running leader; see 'npx dpg status'`);
    leaders.set(group.id, leader);
  }
  return leaders;
}
async function prepareGroupDatabase(leader, secrets, database, users) {
  await withClient(await connectNode(leader, secrets), async (admin) => {
    const exists = async (role) => ((await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role])).rowCount ?? 0) > 0;
    if (!await exists(CLIENTS_ROLE)) await admin.query(`CREATE ROLE ${quoteIdent5(CLIENTS_ROLE)} NOLOGIN`);
    if (!await exists(INTERNAL_ROLE)) await admin.query(`CREATE ROLE ${quoteIdent5(INTERNAL_ROLE)} LOGIN`);
    await admin.query(`ALTER ROLE ${quoteIdent5(INTERNAL_ROLE)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION BYPASSRLS PASSWORD ${quoteLiteral5(nodePassword(secrets, INTERNAL_ROLE))}`);
    await admin.query(`ALTER ROLE ${quoteIdent5(INTERNAL_ROLE)} RESET ALL`);
    for (const user of users) {
      if (!await exists(user.name)) await admin.query(`CREATE ROLE ${quoteIdent5(user.name)} LOGIN`);
      await admin.query(`ALTER ROLE ${quoteIdent5(user.name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${quoteLiteral5(nodePassword(secrets, user.name))}`);
      await admin.query(`GRANT ${quoteIdent5(CLIENTS_ROLE)} TO ${quoteIdent5(user.name)}`);
      await admin.query(`GRANT ${quoteIdent5(user.name)} TO ${quoteIdent5(INTERNAL_ROLE)}`);
    }
    const former = await admin.query(
      `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = $1 AND r.rolcanlogin AND NOT r.rolname = ANY ($2)`,
      [CLIENTS_ROLE, users.map((u) => u.name)]
    );
    for (const { rolname } of former.rows) await admin.query(`ALTER ROLE ${quoteIdent5(rolname)} NOLOGIN`);
    const db = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (db.rowCount === 0) await admin.query(`CREATE DATABASE ${quoteIdent5(database)} OWNER ${quoteIdent5(INTERNAL_ROLE)}`);
    else await admin.query(`ALTER DATABASE ${quoteIdent5(database)} OWNER TO ${quoteIdent5(INTERNAL_ROLE)}`);
    await admin.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${quoteIdent5(database)} TO ${quoteIdent5(CLIENTS_ROLE)}`);
  });
  await withClient(await connectNode(leader, secrets, database), async (db) => {
    await db.query("CREATE EXTENSION IF NOT EXISTS vector");
    await db.query("CREATE EXTENSION IF NOT EXISTS ruvector");
    await db.query(namespaceShardIdSql());
    await db.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${quoteIdent5(CLIENTS_ROLE)}`);
  });
}
async function isolateNamespaces(layout, secrets, database, users) {
  const leaders = await groupLeaders(layout);
  const shards = await withClient(
    await connectNode(leaders.get(0), secrets, database),
    async (control) => (await control.query(
      `SELECT p.group_id, t.table_name || '_' || s.shardid AS shard, t.distribution_column AS column
         FROM dpg_catalog.tables t JOIN dpg_catalog.shards s ON s.table_name = t.table_name JOIN dpg_catalog.placements p ON p.shardid = s.shardid
         WHERE t.kind = 'distributed' AND t.distribution_method = 'hash'`
    )).rows
  );
  await Promise.all(
    layout.groups.map(
      async (group) => withClient(
        await connectNode(leaders.get(group.id), secrets, database),
        (db) => syncNamespaceIsolation(db, users, new Map(shards.filter((s) => s.group_id === group.id).map((s) => [s.shard, s.column])), CLIENTS_ROLE)
      )
    )
  );
}
async function prepareGroups(layout, secrets, database, users) {
  const leaders = await groupLeaders(layout);
  await Promise.all(layout.groups.map((group) => prepareGroupDatabase(leaders.get(group.id), secrets, database, users)));
}
async function bootstrapCluster(config, layout, secrets, log) {
  const database = config.cluster.database;
  const leaders = await groupLeaders(layout);
  log(`database ${database} with pgvector and ruvector on every group`);
  await withClient(await connectNode(leaders.get(0), secrets, database), async (control) => {
    try {
      await control.query("BEGIN");
      await control.query(CATALOG_SCHEMA_SQL);
      await upgradeCatalogIn(control, secrets);
      await registerTopology(control, layout);
      await control.query("COMMIT");
    } catch (error) {
      await control.query("ROLLBACK").catch(() => {
      });
      throw new BootstrapError(`creating the catalog failed: ${String(error)}. Run 'npx dpg up --reset' to start over`);
    }
  });
  log("catalog created on the control group");
}
async function createSeedSchema(config, url, log) {
  const client = new pg12.Client({ connectionString: url, application_name: "dpg-bootstrap" });
  await client.connect();
  try {
    const existing = new Set((await client.query("SELECT logicalrelid::text AS name FROM pg_dist_partition")).rows.map((r) => r.name));
    const profile = hnswProfileFor(config, 0);
    for (const table2 of SEED_TABLES) {
      if (existing.has(table2.name)) continue;
      await client.query(`DROP TABLE IF EXISTS ${quoteIdent5(table2.name)}`);
      for (const statement of tableDDL(table2, profile)) await client.query(statement);
      if (table2.kind === "distributed") {
        await client.query(`SELECT create_distributed_table(${quoteLiteral5(table2.name)}, ${quoteLiteral5(config.distribution.key)})`);
      } else {
        await client.query(`SELECT create_reference_table(${quoteLiteral5(table2.name)})`);
      }
    }
  } catch (error) {
    throw new BootstrapError(`creating the seed schema through the coordinator failed: ${String(error)}. Run 'npx dpg up' again, or 'npx dpg up --reset' to start over`);
  } finally {
    await client.end().catch(() => {
    });
  }
  const distributed = SEED_TABLES.filter((t) => t.kind === "distributed").length;
  log(`seed schema: ${distributed} distributed tables x ${config.distribution.shard_count} shards, ${SEED_TABLES.length - distributed} reference tables`);
}
async function grantSeedTables(url, users) {
  const client = new pg12.Client({ connectionString: url, application_name: "dpg-bootstrap" });
  await client.connect();
  try {
    const tables2 = await client.query(
      `SELECT c.relname AS name, pg_get_userbyid(c.relowner) AS owner FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relname = ANY ($1) AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)`,
      [SEED_TABLES.map((t) => t.name)]
    );
    const others = users.filter((u) => !tables2.rows.some((t) => t.owner === u.name));
    if (tables2.rows.length === 0 || others.length === 0) return;
    await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${tables2.rows.map((t) => quoteIdent5(t.name)).join(", ")} TO ${others.map((u) => quoteIdent5(u.name)).join(", ")}`);
    await client.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${others.map((u) => quoteIdent5(u.name)).join(", ")}`);
  } catch (error) {
    throw new BootstrapError(`granting the seed's tables to the configured users failed: ${String(error)}`);
  } finally {
    await client.end().catch(() => {
    });
  }
}
async function upgradeSeedSchema(url, log) {
  const client = new pg12.Client({ connectionString: url, application_name: "dpg-bootstrap" });
  await client.connect();
  try {
    const present = await client.query(
      `SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ANY ($1)`,
      [[...new Set(SEED_COLUMNS.map((c) => c.table))]]
    );
    const tables2 = new Set(present.rows.map((r) => r.table_name));
    for (const { table: table2, column: column2, definition } of SEED_COLUMNS) {
      if (!tables2.has(table2) || present.rows.some((r) => r.table_name === table2 && r.column_name === column2)) continue;
      await client.query(`ALTER TABLE ${quoteIdent5(table2)} ADD COLUMN IF NOT EXISTS ${quoteIdent5(column2)} ${definition}`);
      log(`seed schema: ${table2}.${column2} added`);
    }
  } catch (error) {
    throw new BootstrapError(`bringing the seed schema up to date through the coordinator failed: ${String(error)}`);
  } finally {
    await client.end().catch(() => {
    });
  }
}
async function upgradeCatalogIn(control, secrets) {
  await control.query(CATALOG_UPGRADE_SQL);
  await control.query(hyperbolicShardIdSql());
  const internal = quoteIdent5(INTERNAL_ROLE);
  const clients = quoteIdent5(CLIENTS_ROLE);
  const owned = await control.query(
    `SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END AS kind, c.relname AS name FROM pg_class c
     WHERE c.relnamespace = 'dpg_catalog'::regnamespace AND c.relkind IN ('r', 'S', 'v') AND c.relowner <> 'postgres'::regrole`
  );
  for (const { kind, name } of owned.rows) await control.query(`ALTER ${kind} dpg_catalog.${quoteIdent5(name)} OWNER TO postgres`);
  await control.query(`GRANT USAGE ON SCHEMA dpg_catalog TO ${internal}, ${clients}`);
  await control.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA dpg_catalog TO ${internal}`);
  await control.query(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA dpg_catalog TO ${internal}`);
  const legacy = (await control.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [secrets.appUser])).rowCount ? `, ${quoteIdent5(secrets.appUser)}` : "";
  await control.query(`REVOKE ALL ON ALL TABLES IN SCHEMA dpg_catalog FROM PUBLIC, ${clients}${legacy}`);
  await control.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA dpg_catalog FROM PUBLIC, ${clients}${legacy}`);
  await control.query(`GRANT SELECT ON ALL TABLES IN SCHEMA dpg_catalog TO ${clients}`);
  const unguarded = await control.query(
    `SELECT t.table_name FROM dpg_catalog.tables t WHERE to_regclass(format('public.%I', t.table_name)) IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = to_regclass(format('public.%I', t.table_name)) AND g.tgname = $1)`,
    [SHELL_TRIGGER]
  );
  for (const { table_name } of unguarded.rows) await control.query(shellTriggerSql(table_name));
  await control.query(`GRANT SELECT ON ${CATALOG_VIEWS.map((v) => `public.${v}`).join(", ")} TO ${internal}, ${clients}`);
}
async function upgradeCatalog(layout, secrets, database) {
  const control = layout.groups.find((g) => g.kind === "control");
  const leader = await groupLeader(control);
  if (!leader) throw new BootstrapError(`group ${control.name} has no running leader; see 'npx dpg status'`);
  await withClient(await connectNode(leader, secrets, database), async (client) => {
    try {
      await client.query("BEGIN");
      await upgradeCatalogIn(client, secrets);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {
      });
      throw new BootstrapError(`bringing the catalog up to date failed: ${String(error)}`);
    }
  });
}
async function registerTopology(control, layout) {
  for (const group of layout.groups) await registerGroup(control, layout, group);
  await refreshNodeRoles(control, layout.groups);
}
async function registerGroup(control, layout, group) {
  await control.query("INSERT INTO dpg_catalog.groups (group_id, name, kind) VALUES ($1, $2, $3)", [group.id, group.name, group.kind]);
  for (const node of group.nodes) {
    await control.query(
      `INSERT INTO dpg_catalog.nodes (node_id, group_id, name, host, port, patroni_port)
       VALUES ((SELECT coalesce(max(node_id), 0) + 1 FROM dpg_catalog.nodes), $1, $2, $3, $4, $5)`,
      [group.id, node.name, node.host, coordinatorPort(layout, node), node.restPort]
    );
  }
}
async function refreshNodeRoles(control, groups) {
  for (const group of groups) {
    const members2 = await groupMembers(group) ?? [];
    for (const node of group.nodes) {
      const member = members2.find((m) => m.name === node.name);
      const role = !member ? "unknown" : member.role === "leader" ? "leader" : "replica";
      await control.query("UPDATE dpg_catalog.nodes SET role = $2, state = $3, updated_at = now() WHERE name = $1", [
        node.name,
        role,
        member?.state ?? "unreachable"
      ]);
    }
  }
}

// src/cluster/coordinator-process.ts
import { writeFileSync as writeFileSync12, readFileSync as readFileSync11 } from "node:fs";
import { connect as connect4 } from "node:net";
import { join as join14 } from "node:path";
import { fileURLToPath as fileURLToPath2 } from "node:url";
var DPG_BIN = fileURLToPath2(new URL("../../bin/dpg.mjs", import.meta.url));
function coordinatorConfigFile(layout) {
  return join14(layout.dataDir, "coordinator-config.json");
}
function writeCoordinatorConfig(config, layout) {
  writeFileSync12(coordinatorConfigFile(layout), JSON.stringify({ ...config, data_dir: layout.dataDir }, null, 2));
}
function startCoordinator(layout, coordinator) {
  const configFile = coordinatorConfigFile(layout);
  return startDetached(layout.runDir, {
    name: coordinator.processName,
    command: process.execPath,
    args: [DPG_BIN, "coordinator", "--config", configFile, "--instance", String(coordinator.index)],
    logFile: coordinator.logFile,
    // The config file's path is in the command line and names this cluster's coordinators only.
    marker: configFile
  });
}
function portAccepts(host, port) {
  return new Promise((resolve3) => {
    const socket = connect4({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve3(true);
    });
    socket.once("error", () => resolve3(false));
  });
}
async function waitForCoordinator(layout, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (const coordinator of layout.coordinators) {
    for (; ; ) {
      const record = readProcessRecord(layout.runDir, coordinator.processName);
      if (!record || !isAlive(record.pid, record.marker)) {
        let tail = "";
        try {
          tail = readFileSync11(coordinator.logFile, "utf8").trim().split("\n").slice(-5).join("\n");
        } catch {
        }
        throw new Error(`${coordinator.processName} exited; see ${coordinator.logFile}${tail ? `:
${tail}` : ""}`);
      }
      if (await portAccepts(layout.host, coordinator.port)) break;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${coordinator.processName} on ${layout.host}:${coordinator.port}`);
      await sleep(100);
    }
  }
  if (!layout.haproxy) return;
  while (!await answersPostgres(layout.host, layout.clientPort)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for HAProxy on ${layout.host}:${layout.clientPort} to reach a coordinator`);
    await sleep(200);
  }
}
function answersPostgres(host, port) {
  return new Promise((resolve3) => {
    const socket = connect4({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve3(ok);
    };
    socket.setTimeout(2e3, () => done(false));
    socket.once("connect", () => socket.write(Buffer.from([0, 0, 0, 8, 4, 210, 22, 47])));
    socket.once("data", (data) => done(data[0] === 78 || data[0] === 83));
    socket.once("error", () => done(false));
    socket.once("close", () => done(false));
  });
}

// src/cluster/haproxy.ts
import { existsSync as existsSync11, mkdirSync as mkdirSync9, writeFileSync as writeFileSync13 } from "node:fs";
import { dirname as dirname3 } from "node:path";
var HAPROXY_BINARY = "/usr/sbin/haproxy";
var HAPROXY_PROCESS = "haproxy";
function haproxyConfig(layout, clientsPerCoordinator) {
  const maxconn = Math.min(9e3, layout.coordinators.length * clientsPerCoordinator + 100);
  const servers = layout.coordinators.map(
    (c) => `  server ${c.processName} ${layout.host}:${c.port} check port ${c.metricsPort} inter 1s fall 2 rise 1 on-marked-down shutdown-sessions`
  );
  return [
    "# Written by dpg up: HAProxy in front of the coordinators.",
    "global",
    `  maxconn ${maxconn}`,
    "defaults",
    "  mode tcp",
    "  timeout connect 3s",
    // Client sessions are long-lived and may idle: no client/server timeouts to cut them.
    "  timeout client 24h",
    "  timeout server 24h",
    "  timeout check 2s",
    // A coordinator that refuses a new connection (killed, not yet marked down): try another.
    "  retries 2",
    "  option redispatch",
    "frontend dpg",
    `  bind ${layout.host}:${layout.clientPort}`,
    "  default_backend coordinators",
    "backend coordinators",
    "  balance leastconn",
    "  option httpchk GET /ready",
    "  http-check expect status 200",
    ...servers,
    ""
  ].join("\n");
}
function haproxyInstalled() {
  return existsSync11(HAPROXY_BINARY);
}
function startHaproxy(layout, clientsPerCoordinator) {
  const haproxy = layout.haproxy;
  if (!haproxy) throw new Error("one coordinator: no HAProxy to start");
  mkdirSync9(dirname3(haproxy.configFile), { recursive: true });
  writeFileSync13(haproxy.configFile, haproxyConfig(layout, clientsPerCoordinator));
  return startDetached(layout.runDir, {
    name: HAPROXY_PROCESS,
    command: HAPROXY_BINARY,
    // -db: stay in the foreground (dpg keeps its PID); -f: dpg's config only.
    args: ["-db", "-f", haproxy.configFile],
    logFile: haproxy.logFile,
    marker: haproxy.configFile
  });
}

// src/chaos/fault-proxy.ts
import { createServer as createHttpServer } from "node:http";
import { createServer as createServer6, connect as connect5 } from "node:net";
import { join as join15 } from "node:path";
import { fileURLToPath as fileURLToPath3 } from "node:url";
var FAULT_PROXY_PROCESS = "fault-proxy";
var DPG_BIN2 = fileURLToPath3(new URL("../../bin/dpg.mjs", import.meta.url));
var FaultProxy = class {
  constructor(layout) {
    this.layout = layout;
  }
  layout;
  servers = [];
  http = null;
  /** Cut nodes and how: 'drop' (nothing passes, nothing is closed) or 'reset'. */
  cut = /* @__PURE__ */ new Map();
  open = /* @__PURE__ */ new Map();
  async start() {
    const etcd = new URL(this.layout.etcd.endpoints[0]);
    for (const node of allNodes(this.layout)) {
      await this.link(node.name, node.proxyPgPort, node.host, node.pgPort);
      await this.link(node.name, node.proxyEtcdPort, etcd.hostname, Number(etcd.port));
    }
    this.http = createHttpServer((request2, response) => {
      const match = /^\/(cut|heal)\/([A-Za-z0-9_-]+)(\?mode=(drop|reset))?$/.exec(request2.url ?? "");
      if (request2.method === "GET" && request2.url === "/state") {
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ cut: Object.fromEntries(this.cut) }));
        return;
      }
      if (request2.method !== "POST" || !match || !allNodes(this.layout).some((n) => n.name === match[2])) {
        response.writeHead(404).end("POST /cut/<node>, POST /heal/<node> or GET /state\n");
        return;
      }
      const [, action, node, , mode] = match;
      const sockets = this.open.get(node) ?? /* @__PURE__ */ new Set();
      if (action === "cut") {
        this.cut.set(node, mode ?? "drop");
        for (const socket of sockets) {
          if (mode === "reset") socket.resetAndDestroy();
          else {
            socket.unpipe();
            socket.pause();
          }
        }
      } else {
        this.cut.delete(node);
        for (const socket of sockets) if (socket.isPaused()) socket.resetAndDestroy();
      }
      response.writeHead(200).end(`${action} ${node}
`);
    });
    await new Promise((resolve3, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.layout.faultProxy.controlPort, this.layout.host, () => resolve3());
    });
  }
  async link(node, port, targetHost, targetPort) {
    const sockets = this.open.get(node) ?? /* @__PURE__ */ new Set();
    this.open.set(node, sockets);
    const server = createServer6((client) => {
      const cut = this.cut.get(node);
      if (cut === "reset") {
        client.resetAndDestroy();
        return;
      }
      if (cut === "drop") {
        client.pause();
        sockets.add(client);
        client.on("close", () => sockets.delete(client));
        client.on("error", () => client.destroy());
        return;
      }
      const upstream = connect5({ host: targetHost, port: targetPort });
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise((resolve3, reject) => {
      server.once("error", reject);
      server.listen(port, this.layout.host, () => resolve3());
    });
    this.servers.push(server);
  }
  async stop() {
    for (const sockets of this.open.values()) for (const socket of sockets) socket.destroy();
    await Promise.all([...this.servers, ...this.http ? [this.http] : []].map((s) => new Promise((r) => s.close(() => r()))));
  }
};
function startFaultProxy(layout, configFile) {
  return startDetached(layout.runDir, {
    name: FAULT_PROXY_PROCESS,
    command: process.execPath,
    args: [DPG_BIN2, "fault-proxy", "--config", configFile],
    logFile: layout.faultProxy.logFile,
    // The config file is in the command line: it names this cluster's proxy.
    marker: `${configFile}`
  });
}
async function setNodeCut(layout, node, cut, mode = "drop") {
  if (!layout.faultProxy) throw new Error("the cluster has no fault proxy (cluster.fault_proxies)");
  const response = await fetch(`http://${layout.host}:${layout.faultProxy.controlPort}/${cut ? `cut/${node}?mode=${mode}` : `heal/${node}`}`, { method: "POST" });
  if (!response.ok) throw new Error(`fault proxy: ${response.status} ${await response.text()}`);
}
function faultProxyConfigFile(layout) {
  return join15(layout.dataDir, "fault-proxy-config.json");
}

// src/cluster/monitoring.ts
import { copyFileSync as copyFileSync2, mkdirSync as mkdirSync10, writeFileSync as writeFileSync14, existsSync as existsSync12 } from "node:fs";
import { join as join16 } from "node:path";
import { fileURLToPath as fileURLToPath4 } from "node:url";
import { stringify as toYaml2 } from "yaml";
var PROMETHEUS_PROCESS = "prometheus";
var PROMETHEUS_BINARY = "/usr/bin/prometheus";
var EXPORTER_BINARY = "/usr/bin/prometheus-postgres-exporter";
var MONITORING_DIR = fileURLToPath4(new URL("../../monitoring/", import.meta.url));
var exporterProcessName = (node) => `exporter-${node.name}`;
function monitoringProcessNames(layout) {
  return [PROMETHEUS_PROCESS, ...allNodes(layout).map(exporterProcessName)];
}
function exporterPort(layout, index) {
  return layout.prometheusPort + 10 + index;
}
function monitoringPorts(layout) {
  return [
    { port: layout.prometheusPort, what: "Prometheus", process: PROMETHEUS_PROCESS },
    ...allNodes(layout).map((node, i) => ({ port: exporterPort(layout, i), what: `PostgreSQL exporter of ${node.name}`, process: exporterProcessName(node) }))
  ];
}
function prometheusConfig(layout, rulesFile) {
  return {
    global: { scrape_interval: "15s", evaluation_interval: "15s" },
    rule_files: [rulesFile],
    scrape_configs: [
      { job_name: "dpg-coordinator", static_configs: [{ targets: layout.coordinators.map((c) => `${layout.host}:${c.metricsPort}`) }] },
      {
        job_name: "postgres",
        static_configs: allNodes(layout).map((node, i) => ({
          targets: [`${layout.host}:${exporterPort(layout, i)}`],
          labels: { group: layout.groups.find((g) => g.id === node.groupId).name, node: node.name }
        }))
      }
    ]
  };
}
function startMonitoring(layout, secrets, database, toStart) {
  const dir = join16(layout.dataDir, "monitoring");
  mkdirSync10(join16(dir, "prometheus-data"), { recursive: true });
  const rules = join16(dir, "alerts.yml");
  const queries = join16(dir, "postgres-exporter-queries.yaml");
  copyFileSync2(join16(MONITORING_DIR, "prometheus", "alerts.yml"), rules);
  copyFileSync2(join16(MONITORING_DIR, "postgres-exporter", "queries.yaml"), queries);
  const configFile = join16(dir, "prometheus.yml");
  writeFileSync14(configFile, toYaml2(prometheusConfig(layout, rules)));
  const started = [];
  if (toStart.has(PROMETHEUS_PROCESS)) {
    started.push(
      startDetached(layout.runDir, {
        name: PROMETHEUS_PROCESS,
        command: PROMETHEUS_BINARY,
        args: [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${join16(dir, "prometheus-data")}`,
          `--web.listen-address=${layout.host}:${layout.prometheusPort}`,
          "--storage.tsdb.retention.time=2d"
        ],
        logFile: join16(layout.dataDir, "logs", "prometheus.log"),
        marker: configFile
      })
    );
  }
  allNodes(layout).forEach((node, i) => {
    const name = exporterProcessName(node);
    if (!toStart.has(name)) return;
    const dsn = `postgresql://postgres:${encodeURIComponent(secrets.superuserPassword)}@${node.host}:${node.pgPort}/${database}?sslmode=disable`;
    started.push(
      startDetached(layout.runDir, {
        name,
        command: EXPORTER_BINARY,
        args: [`--web.listen-address=${layout.host}:${exporterPort(layout, i)}`, `--extend.query-path=${queries}`],
        logFile: join16(layout.dataDir, "logs", `${name}.log`),
        marker: queries,
        env: { PATH: "/usr/bin:/bin", DATA_SOURCE_NAME: dsn }
      })
    );
  });
  return started;
}
function monitoringInstalled() {
  return existsSync12(PROMETHEUS_BINARY) && existsSync12(EXPORTER_BINARY);
}

// src/cluster/down.ts
async function stopCoordinators(layout, log) {
  for (const record of listProcessRecords(layout.runDir).filter((r) => r.name === HAPROXY_PROCESS || r.name.startsWith("coordinator"))) {
    if (isAlive(record.pid, record.marker)) {
      await stopPid(record.pid, record.marker, "SIGTERM", 1e4);
      log(`stopped ${record.name}`);
    }
    forgetProcess(layout.runDir, record.name);
  }
}
async function stopCluster(layout, options = {}) {
  const log = options.log ?? (() => {
  });
  const records = listProcessRecords(layout.runDir);
  const stopped = [];
  for (const record of records.filter((r) => r.name === HAPROXY_PROCESS || r.name.startsWith("coordinator") || r.name === "prometheus" || r.name.startsWith("exporter-") || r.name === REDIS_PROCESS)) {
    if (isAlive(record.pid, record.marker)) {
      await stopPid(record.pid, record.marker, "SIGTERM", 1e4);
      stopped.push(record.name);
    }
    forgetProcess(layout.runDir, record.name);
  }
  const patronis = records.filter((r) => r.name.startsWith("patroni-"));
  await Promise.all(
    patronis.map(async (record) => {
      if (isAlive(record.pid, record.marker)) {
        await stopPid(record.pid, record.marker, "SIGTERM", 3e4);
        stopped.push(record.name);
      }
      forgetProcess(layout.runDir, record.name);
    })
  );
  await Promise.all(
    allNodes(layout).map(async (node) => {
      const pid = postmasterPid(node.pgDataDir);
      if (pid !== null && isAlive(pid, node.pgDataDir)) {
        log(`PostgreSQL of ${node.name} (PID ${pid}) outlived its Patroni; stopping it`);
        await stopPid(pid, node.pgDataDir, "SIGINT", 2e4);
        stopped.push(`postgres-${node.name}`);
      }
    })
  );
  for (const record of records.filter((r) => r.name === FAULT_PROXY_PROCESS || r.name === ETCD_PROCESS)) {
    if (isAlive(record.pid, record.marker)) {
      await stopPid(record.pid, record.marker, "SIGTERM", 1e4);
      stopped.push(record.name);
    }
    forgetProcess(layout.runDir, record.name);
  }
  const markers = [layout.etcd.dir, coordinatorConfigFile(layout), redisDir(layout), ...layout.haproxy ? [layout.haproxy.configFile] : [], ...layout.faultProxy ? [faultProxyConfigFile(layout)] : [], ...allNodes(layout).map((n) => n.dir)];
  const leftBehind = [...new Set(markers.flatMap((m) => pidsWithMarker(m)))];
  if (stopped.length > 0) log(`stopped ${stopped.join(", ")}`);
  return { stopped, leftBehind };
}

// src/cluster/up.ts
var ClusterStartError = class extends Error {
};
function checkInstalled() {
  const missing = [];
  if (!postgresInstalled()) missing.push("PostgreSQL 15");
  if (!vectorExtensionInstalled()) missing.push("pgvector (and the ruvector extension)");
  if (!existsSync13(PATRONI_BINARY)) missing.push("Patroni");
  if (!existsSync13(ETCD_BINARY)) missing.push("etcd");
  if (missing.length > 0) throw new ClusterStartError(`missing: ${missing.join(", ")}. Run 'npx dpg setup' to install them`);
}
function postgresCanUse(dir, user) {
  return spawnSync2("/usr/bin/test", ["-w", dir, "-a", "-x", dir], { ...runAs(user) }).status === 0;
}
function resolveNodesRoot(dataDir, user) {
  const inside = join17(dataDir, "nodes");
  mkdirSync11(inside, { recursive: true, mode: 493 });
  chownSync4(inside, user.uid, user.gid);
  if (postgresCanUse(inside, user)) return inside;
  rmSync6(inside, { recursive: true, force: true });
  return fallbackNodesRoot(dataDir);
}
var NODE_LOGINS = 2;
async function upCluster(config, dataDir, options = {}) {
  const log = options.log ?? (() => {
  });
  const timeoutMs = options.timeoutMs ?? 12e4;
  const startedAt = Date.now();
  checkInstalled();
  const user = lookupSystemUser();
  if (options.reset && existsSync13(dataDir)) {
    const recorded = readClusterState(join17(dataDir, "cluster.json"));
    const previous = buildLayout(config, dataDir, recorded?.nodesRoot, recorded?.coordinators, workerGroupIdsOf(recorded));
    await stopCluster(previous, { log });
    log(`--reset: deleting ${dataDir}`);
    rmSync6(dataDir, { recursive: true, force: true });
  }
  const state = openClusterState(dataDir, join17(dataDir, "cluster.json"), config, () => resolveNodesRoot(dataDir, user));
  if (state.nodesRoot !== join17(dataDir, "nodes")) {
    if (options.reset) rmSync6(state.nodesRoot, { recursive: true, force: true });
    mkdirSync11(state.nodesRoot, { recursive: true, mode: 493 });
    chownSync4(state.nodesRoot, user.uid, user.gid);
    log(`the postgres user cannot reach ${dataDir}; node data lives in ${state.nodesRoot}`);
  }
  const coordinatorCount = options.coordinators ?? state.coordinators ?? config.coordinator.instances;
  const layout = buildLayout(config, dataDir, state.nodesRoot, coordinatorCount, workerGroupIdsOf(state));
  const secrets = loadOrCreateSecrets(layout.secretsFile);
  if (state.coordinators !== void 0 && state.coordinators !== coordinatorCount) {
    await stopCoordinators(buildLayout(config, dataDir, state.nodesRoot, state.coordinators, workerGroupIdsOf(state)), log);
  }
  if (state.coordinators !== coordinatorCount) {
    state.coordinators = coordinatorCount;
    writeClusterState(layout.stateFile, state);
  }
  if (layout.haproxy && !haproxyInstalled()) throw new ClusterStartError(`several coordinators need HAProxy: run 'npx dpg setup'`);
  if (state.catalogCreated && state.nodeLogins !== NODE_LOGINS) {
    await stopCoordinators(layout, log);
  }
  const toStart = await processesToStart(layout, !!options.monitoring);
  if (options.monitoring && !monitoringInstalled()) {
    throw new ClusterStartError(`--monitoring needs Prometheus and prometheus-postgres-exporter: run 'npx dpg setup'`);
  }
  await checkPortsFree(layout, toStart);
  const started = [];
  if (layout.etcd.local && toStart.has(ETCD_PROCESS)) {
    startEtcd(layout.runDir, layout.etcd, layout.host);
    started.push(ETCD_PROCESS);
    log(`etcd starting on ${layout.host}:${layout.etcd.clientPort}`);
  }
  await waitForEtcd(layout.etcd.endpoints, 3e4);
  if (layout.etcd.local) {
    const everyPatroniStarts = layout.groups.every((g) => g.nodes.every((n) => toStart.has(patroniProcessName(n))));
    const on = await ensureEtcdAuth(layout.etcd.endpoints[0], secrets, everyPatroniStarts);
    if (!on) log("etcd authentication goes on at the next full start (npx dpg down, then npx dpg up): running Patroni nodes have no etcd user yet");
  }
  if (layout.faultProxy && toStart.has(FAULT_PROXY_PROCESS)) {
    const configFile = faultProxyConfigFile(layout);
    writeFileSync15(configFile, JSON.stringify({ ...config, data_dir: layout.dataDir }, null, 2));
    startFaultProxy(layout, configFile);
    started.push(FAULT_PROXY_PROCESS);
    await waitFor("the fault proxy", 15e3, async () => !await portIsFree(layout.faultProxy.controlPort, layout.host), 100);
  }
  const nodeCertificates = ensureNodeCertificates(layout);
  const reloaded = [];
  for (const group of layout.groups) {
    for (const node of group.nodes) {
      const name = patroniProcessName(node);
      const file = patroniConfig(config, layout, group, node, state.clusterId, secrets);
      if (!toStart.has(name)) {
        if (!patroniConfigCurrent(node, file)) {
          writePatroniConfig(file, node, user, nodeCertificates);
          if (await reloadPatroni(node, secrets)) reloaded.push(name);
        }
        continue;
      }
      await stopOrphanedPostgres(node, log);
      writePatroniConfig(file, node, user, nodeCertificates);
      startPatroni(layout.runDir, node, user);
      started.push(name);
    }
  }
  if (reloaded.length > 0) log(`reloaded ${reloaded.join(", ")} with the current node config`);
  if (started.length > 0) log(`started ${started.join(", ")}`);
  const remaining = () => Math.max(1e4, timeoutMs - (Date.now() - startedAt));
  await Promise.all(layout.groups.map((group) => waitForGroupReady(group, config.replication.synchronous_mode, remaining())));
  log(`every group has a leader and streaming replicas (${((Date.now() - startedAt) / 1e3).toFixed(1)} s)`);
  if ((await enableLogicalDecoding(layout.groups, secrets, log, remaining())).length > 0) {
    await Promise.all(layout.groups.map((group) => waitForGroupReady(group, config.replication.synchronous_mode, remaining())));
  }
  const users = clientUsers(config.users, secrets, layout.secretsFile);
  await prepareGroups(layout, secrets, config.cluster.database, users);
  if (!state.catalogCreated && !state.bootstrapped) {
    await bootstrapCluster(config, layout, secrets, log);
    state.catalogCreated = true;
    writeClusterState(layout.stateFile, state);
  } else {
    await upgradeCatalog(layout, secrets, config.cluster.database);
  }
  await isolateNamespaces(layout, secrets, config.cluster.database, users);
  if (cacheUrl(config, layout, secrets) !== null && config.cache.url === null && await ensureRedis(layout, secrets)) {
    started.push(REDIS_PROCESS);
    log(`Redis (result cache) on ${layout.host}:${layout.redisPort}`);
  }
  const coordinatorsToStart = layout.coordinators.filter((c) => toStart.has(c.processName));
  if (coordinatorsToStart.length > 0) {
    ensureLocalCertificates(config, layout);
    writeCoordinatorConfig(config, layout);
  }
  for (const coordinator of coordinatorsToStart) {
    startCoordinator(layout, coordinator);
    started.push(coordinator.processName);
  }
  if (layout.haproxy && toStart.has(HAPROXY_PROCESS)) {
    startHaproxy(layout, config.coordinator.max_client_connections);
    started.push(HAPROXY_PROCESS);
    log(`HAProxy on ${layout.host}:${layout.clientPort} in front of ${layout.coordinators.length} coordinators`);
  }
  await waitForCoordinator(layout, remaining());
  if (!state.bootstrapped) {
    await createSeedSchema(config, toolUrl(userUrl(config.users, secrets, layout.secretsFile, layout.host, layout.clientPort, config.cluster.database), config, layout), log);
    state.bootstrapped = true;
    writeClusterState(layout.stateFile, state);
  } else {
    await upgradeSeedSchema(toolUrl(userUrl(config.users, secrets, layout.secretsFile, layout.host, layout.clientPort, config.cluster.database), config, layout), log);
  }
  await grantSeedTables(toolUrl(userUrl(config.users, secrets, layout.secretsFile, layout.host, layout.clientPort, config.cluster.database), config, layout), users);
  if (state.nodeLogins !== NODE_LOGINS) {
    state.nodeLogins = NODE_LOGINS;
    writeClusterState(layout.stateFile, state);
  }
  if (options.monitoring) {
    const monitoring = startMonitoring(layout, secrets, config.cluster.database, toStart);
    started.push(...monitoring.map((r) => r.name));
  }
  return { layout, state, secrets, started, seconds: (Date.now() - startedAt) / 1e3 };
}
async function stopOrphanedPostgres(node, log) {
  const pid = postmasterPid(node.pgDataDir);
  if (pid === null || !isAlive(pid, node.pgDataDir)) return;
  log(`PostgreSQL of ${node.name} (PID ${pid}) runs without its Patroni; stopping it so Patroni can take it over`);
  await stopPid(pid, node.pgDataDir, "SIGINT", 3e4);
}
async function processesToStart(layout, monitoring) {
  const names = /* @__PURE__ */ new Set();
  if (monitoring) {
    for (const name of monitoringProcessNames(layout)) {
      const record = readProcessRecord(layout.runDir, name);
      if (!record || !isAlive(record.pid, record.marker)) names.add(name);
    }
  }
  if (layout.etcd.local) {
    const record = readProcessRecord(layout.runDir, ETCD_PROCESS);
    if (!record || !isAlive(record.pid, record.marker)) names.add(ETCD_PROCESS);
  }
  for (const name of [...layout.coordinators.map((c) => c.processName), ...layout.haproxy ? [HAPROXY_PROCESS] : [], ...layout.faultProxy ? [FAULT_PROXY_PROCESS] : []]) {
    const record = readProcessRecord(layout.runDir, name);
    if (!record || !isAlive(record.pid, record.marker)) names.add(name);
  }
  for (const node of allNodes(layout)) {
    const record = readProcessRecord(layout.runDir, patroniProcessName(node));
    if (!record || !isAlive(record.pid, record.marker)) names.add(patroniProcessName(node));
  }
  return names;
}
async function checkPortsFree(layout, toStart) {
  const busy = [];
  for (const { port, what: what2, process: process2 } of monitoringPorts(layout)) {
    if (toStart.has(process2) && !await portIsFree(port, layout.host)) busy.push(`${port} (${what2})`);
  }
  for (const { port, what: what2, node } of listeningPorts(layout)) {
    const owner = node ? patroniProcessName(node) : what2 === "HAProxy" ? HAPROXY_PROCESS : what2.startsWith("coordinator") ? what2.split(" ")[0] : what2.startsWith("fault-proxy") ? FAULT_PROXY_PROCESS : ETCD_PROCESS;
    if (!toStart.has(owner)) continue;
    const ownPostmaster = node && port === node.pgPort ? postmasterPid(node.pgDataDir) : null;
    if (node && ownPostmaster !== null && isAlive(ownPostmaster, node.pgDataDir)) continue;
    if (!await portIsFree(port, layout.host)) busy.push(`${port} (${what2})`);
  }
  if (busy.length > 0) {
    throw new ClusterStartError(
      `port${busy.length > 1 ? "s" : ""} ${busy.join(", ")} already in use by another process. Stop it, or give this cluster other ports with --base-port or ports.base in the config`
    );
  }
}
async function waitForGroupReady(group, synchronous, timeoutMs) {
  await waitFor(`group ${group.name} to elect a leader and start its replicas`, timeoutMs, async () => {
    const members2 = await groupMembers(group);
    if (!members2 || members2.length !== group.nodes.length) return false;
    const leader = members2.find((m) => m.role === "leader" && m.state === "running");
    if (!leader) return false;
    if (!members2.every((m) => m === leader || m.state === "running" || m.state === "streaming")) return false;
    const own = await Promise.all(group.nodes.map((node) => patroniNodeState(node)));
    if (!own.every((state) => state === "running")) return false;
    return !synchronous || members2.length === 1 || members2.some((m) => m.role === "sync_standby");
  }, 250);
}

// src/chaos/ledger.ts
import pg13 from "pg";
function outcomeOf(error) {
  const code = error.code;
  if (!code || code === "08007" || code === "57P01" || code === "57P02") return "unknown";
  return "failed";
}
var ChaosLoad = class {
  constructor(options) {
    this.options = options;
  }
  options;
  stopped = false;
  nextId = 0;
  report = { entries: [], reads: 0, readErrors: [], acknowledgedAt: [] };
  running = null;
  start() {
    const loops = [
      ...Array.from({ length: this.options.writers }, (_, i) => this.loop(i, true)),
      ...Array.from({ length: this.options.readers }, (_, i) => this.loop(i, false))
    ];
    this.running = Promise.all(loops).then(() => void 0);
  }
  async stop() {
    this.stopped = true;
    await this.running;
    return this.report;
  }
  async connect() {
    while (!this.stopped) {
      const client = new pg13.Client({ connectionString: this.options.url, connectionTimeoutMillis: 5e3 });
      client.on("error", () => {
      });
      try {
        await client.connect();
        return client;
      } catch {
        await client.end().catch(() => {
        });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return null;
  }
  async loop(index, writer) {
    let client = null;
    let turn = index;
    while (!this.stopped) {
      client ??= await this.connect();
      if (!client) return;
      const broken = writer ? await this.write(client, turn++) : await this.read(client, turn++);
      if (broken) {
        await client.end().catch(() => {
        });
        client = null;
      }
    }
    await client?.end().catch(() => {
    });
  }
  /** One write; true when the connection is unusable afterwards. */
  async write(client, turn) {
    const { namespaces, table: table2 } = this.options;
    const id = this.nextId++;
    const first = namespaces[turn % namespaces.length];
    const rows = this.options.transactions ? [{ namespace: first, key: `t${id}-a` }, { namespace: namespaces[(turn + 1) % namespaces.length], key: `t${id}-b` }] : [{ namespace: first, key: `w${id}` }];
    const entry = { id, rows, outcome: "unknown", at: 0 };
    this.report.entries.push(entry);
    const insert = `INSERT INTO ${table2} (namespace, key, value) VALUES ($1, $2, $3)`;
    try {
      if (this.options.transactions) {
        await client.query("BEGIN");
        for (const row of rows) await client.query(insert, [row.namespace, row.key, "chaos"]);
        await client.query("COMMIT");
      } else {
        await client.query(insert, [rows[0].namespace, rows[0].key, "chaos"]);
      }
      entry.outcome = "acknowledged";
      entry.at = performance.now();
      this.report.acknowledgedAt.push(entry.at);
      return false;
    } catch (error) {
      entry.at = performance.now();
      entry.error = `${error.code ?? "no SQLSTATE"}: ${error.message}`;
      entry.outcome = outcomeOf(error);
      if (this.options.transactions) await client.query("ROLLBACK").catch(() => {
      });
      return !error.code;
    }
  }
  async read(client, turn) {
    const namespace = this.options.namespaces[turn % this.options.namespaces.length];
    try {
      await client.query(`SELECT count(*) FROM ${this.options.table} WHERE namespace = $1`, [namespace]);
      this.report.reads++;
      return false;
    } catch (error) {
      const code = error.code;
      this.report.readErrors.push(`${code ?? "no SQLSTATE"}: ${error.message}`);
      return !code;
    }
  }
};
async function verifyLedger(url, table2, entries) {
  const client = new pg13.Client({ connectionString: url });
  await client.connect();
  let present;
  try {
    const namespaces = [...new Set(entries.flatMap((e) => e.rows.map((r) => r.namespace)))];
    const result = await client.query(`SELECT namespace, key FROM ${table2} WHERE namespace = ANY($1)`, [namespaces]);
    present = new Set(result.rows.map((r) => `${r.namespace}\0${r.key}`));
  } finally {
    await client.end();
  }
  const verdict = { acknowledged: 0, failed: 0, unknown: 0, lost: 0, phantom: 0, torn: 0, examples: [] };
  for (const entry of entries) {
    verdict[entry.outcome]++;
    const found = entry.rows.filter((r) => present.has(`${r.namespace}\0${r.key}`)).length;
    if (found > 0 && found < entry.rows.length) {
      verdict.torn++;
      verdict.examples.push(`torn: write ${entry.id} (${entry.outcome}) has ${found} of ${entry.rows.length} rows`);
    } else if (entry.outcome === "acknowledged" && found === 0) {
      verdict.lost++;
      verdict.examples.push(`lost: write ${entry.id} was acknowledged`);
    } else if (entry.outcome === "failed" && found > 0) {
      verdict.phantom++;
      verdict.examples.push(`phantom: write ${entry.id} failed (${entry.error}) but is there`);
    }
  }
  verdict.examples = verdict.examples.slice(0, 10);
  return verdict;
}
function longestWriteGap(acknowledgedAt, from, to) {
  let last = from;
  let longest = 0;
  for (const at of acknowledgedAt) {
    if (at < from) continue;
    if (at > to) break;
    longest = Math.max(longest, at - last);
    last = at;
  }
  return Math.max(longest, to - last);
}

// src/chaos/chaos.ts
var CHAOS_SCENARIOS = ["worker-primary", "worker-node", "partition", "coordinator", "control-primary", "coordinator-2pc", "spike"];
var CHAOS_TABLE = "dpg_chaos_ledger";
async function ensureTable(url) {
  const client = new pg14.Client({ connectionString: url });
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_dist_partition WHERE logicalrelid::text = $1", [CHAOS_TABLE]);
    if (exists.rows.length > 0) return;
    await client.query(`CREATE TABLE IF NOT EXISTS ${CHAOS_TABLE} (namespace text NOT NULL, key text NOT NULL, value text)`);
    await client.query(`SELECT create_distributed_table('${CHAOS_TABLE}', 'namespace')`);
  } finally {
    await client.end();
  }
}
async function preparedTransactions(ctx) {
  let total = 0;
  for (const group of ctx.layout.groups) {
    const leader = await groupLeader(group);
    if (!leader) return Number.POSITIVE_INFINITY;
    total += await withClient(
      await connectNode(leader, ctx.secrets, ctx.config.cluster.database),
      async (c) => Number((await c.query("SELECT count(*) AS n FROM pg_prepared_xacts WHERE gid LIKE 'dpg\\_%'")).rows[0].n)
    );
  }
  return total;
}
async function heal(ctx) {
  const started = performance.now();
  await upCluster(ctx.config, ctx.dataDir, { timeoutMs: 12e4 });
  return performance.now() - started;
}
async function killPostmaster(group, ctx) {
  const leader = await groupLeader(group);
  if (!leader) throw new Error(`group ${group.name} has no leader to kill`);
  const pid = postmasterPid(leader.pgDataDir);
  if (!pid || !isAlive(pid, leader.pgDataDir)) throw new Error(`no PostgreSQL running for ${leader.name}`);
  ctx.log(`  kill -9 PostgreSQL of ${leader.name} (PID ${pid}), primary of ${group.name}`);
  process.kill(pid, "SIGKILL");
  await waitFor(`group ${group.name} to have a primary again`, 9e4, async () => {
    const now = await groupLeader(group);
    const nowPid = now ? postmasterPid(now.pgDataDir) : null;
    return now && nowPid !== pid && nowPid !== null && isAlive(nowPid, now.pgDataDir);
  }, 250);
}
async function killNode(group, ctx) {
  const leader = await groupLeader(group);
  if (!leader) throw new Error(`group ${group.name} has no leader to kill`);
  const record = readProcessRecord(ctx.layout.runDir, patroniProcessName(leader));
  const pid = postmasterPid(leader.pgDataDir);
  if (!record || !isAlive(record.pid, record.marker) || !pid) throw new Error(`${leader.name} is not running under Patroni`);
  ctx.log(`  kill -9 Patroni (PID ${record.pid}) and PostgreSQL (PID ${pid}) of ${leader.name}, primary of ${group.name}`);
  process.kill(record.pid, "SIGKILL");
  process.kill(pid, "SIGKILL");
  await waitFor(`another node of ${group.name} to take over`, 12e4, async () => {
    const now = await groupLeader(group);
    return now && now.name !== leader.name;
  }, 250);
}
async function partitionPrimary(group, ctx) {
  const leader = await groupLeader(group);
  if (!leader) throw new Error(`group ${group.name} has no leader to cut off`);
  const others = group.nodes.filter((n) => n.name !== leader.name);
  ctx.log(`  cut ${leader.name}, primary of ${group.name}, off from etcd and the coordinators`);
  await setNodeCut(ctx.layout, leader.name, true);
  try {
    await waitFor(`another node of ${group.name} to take over`, 12e4, async () => {
      for (const node of others) {
        const members2 = await patroniClusterView(node);
        const now = members2?.find((m) => m.role === "leader" && m.state === "running");
        if (now && now.name !== leader.name) return true;
      }
      return false;
    }, 250);
    await sleep(2e3);
  } finally {
    ctx.log(`  heal the cut of ${leader.name}`);
    await setNodeCut(ctx.layout, leader.name, false);
  }
}
async function killCoordinator(ctx, index) {
  const coordinator = ctx.layout.coordinators[index];
  const record = readProcessRecord(ctx.layout.runDir, coordinator.processName);
  if (!record || !isAlive(record.pid, record.marker)) throw new Error(`${coordinator.processName} is not running`);
  ctx.log(`  kill -9 ${coordinator.processName} (PID ${record.pid})`);
  process.kill(record.pid, "SIGKILL");
  await waitFor(`${coordinator.processName} to exit`, 1e4, async () => await portIsFree(coordinator.port, ctx.layout.host) && await portIsFree(coordinator.metricsPort, ctx.layout.host), 50);
}
async function faultScenario(ctx, scenario, what2, durationSeconds, options, fault) {
  const namespaces = Array.from({ length: 6 }, (_, i) => `chaos-${scenario}-${Date.now().toString(36)}-${i}`);
  const load3 = new ChaosLoad({ url: ctx.url, namespaces, writers: 4, readers: 2, transactions: options.transactions, table: CHAOS_TABLE });
  load3.start();
  await sleep(durationSeconds / 3 * 1e3);
  const faultAt = performance.now();
  let healMs = null;
  try {
    await fault();
    healMs = await heal(ctx);
  } finally {
    const rest = Math.max(2e3, durationSeconds * 1e3 - (performance.now() - faultAt) - durationSeconds / 3 * 1e3);
    await sleep(rest);
  }
  const endAt = performance.now();
  const report = await load3.stop();
  await waitFor("prepared transactions to be resolved", 6e4, async () => await preparedTransactions(ctx) === 0, 500);
  const verdict = await verifyLedger(ctx.url, CHAOS_TABLE, report.entries);
  return {
    scenario,
    what: what2,
    skipped: null,
    verdict,
    reads: report.reads,
    readErrors: report.readErrors.length,
    readErrorExamples: [...new Set(report.readErrors)].slice(0, 5),
    writeGapMs: longestWriteGap(report.acknowledgedAt, faultAt, endAt),
    healMs
  };
}
async function spike(ctx) {
  const query = `SELECT count(*) FROM ${CHAOS_TABLE} WHERE namespace = $1`;
  const poolSize = 100;
  const pool = new pg14.Pool({ connectionString: ctx.url, max: poolSize, connectionTimeoutMillis: 3e4 });
  pool.on("error", () => {
  });
  const started = performance.now();
  const results = await Promise.allSettled(Array.from({ length: 1e3 }, (_, i) => pool.query(query, [`spike-${i % 50}`])));
  const seconds = (performance.now() - started) / 1e3;
  await pool.end();
  const errors = results.filter((r) => r.status === "rejected").map((r) => `${r.reason?.code ?? "no SQLSTATE"}: ${r.reason?.message}`);
  const attempts = await Promise.allSettled(
    Array.from({ length: 1e3 }, async () => {
      const client = new pg14.Client({ connectionString: ctx.url, connectionTimeoutMillis: 3e4 });
      client.on("error", () => {
      });
      try {
        await client.connect();
        await client.query(query, ["spike-connections"]);
      } finally {
        await client.end().catch(() => {
        });
      }
    })
  );
  const failures = attempts.filter((r) => r.status === "rejected").map((r) => r.reason);
  const refused2 = failures.filter((f) => f.code === "53300").length;
  let coordinatorAlive = false;
  const check = new pg14.Client({ connectionString: ctx.url });
  try {
    await check.connect();
    await check.query(query, ["after-spike"]);
    coordinatorAlive = true;
  } catch {
    coordinatorAlive = false;
  } finally {
    await check.end().catch(() => {
    });
  }
  return {
    pooled: { queries: 1e3, poolSize, succeeded: 1e3 - errors.length, successRate: (1e3 - errors.length) / 1e3, seconds, errors: [...new Set(errors)].slice(0, 5) },
    connections: {
      attempted: 1e3,
      succeeded: 1e3 - failures.length,
      refused: refused2,
      otherErrors: [...new Set(failures.filter((f) => f.code !== "53300").map((f) => `${f.code ?? "no SQLSTATE"}: ${f.message}`))].slice(0, 5),
      coordinatorAlive
    }
  };
}
async function runChaos(ctx, options = {}) {
  const scenarios = options.scenarios ?? [...CHAOS_SCENARIOS];
  const duration = options.durationSeconds ?? 15;
  await ensureTable(ctx.url);
  const results = [];
  const skip = (scenario, what2, why) => ({
    scenario,
    what: what2,
    skipped: why,
    verdict: null,
    reads: 0,
    readErrors: 0,
    readErrorExamples: [],
    writeGapMs: null,
    healMs: null
  });
  const workers = ctx.layout.groups.filter((g) => g.kind === "worker");
  for (const scenario of scenarios) {
    ctx.log(`chaos: ${scenario}`);
    switch (scenario) {
      case "worker-primary": {
        const what2 = "kill -9 of a worker group primary (PostgreSQL)";
        if (workers[0].nodes.length < 2) results.push(skip(scenario, what2, "worker groups have no standby (distribution.replication_factor 1)"));
        else results.push(await faultScenario(ctx, scenario, what2, duration, { transactions: false }, () => killPostmaster(workers[0], ctx)));
        break;
      }
      case "worker-node": {
        const what2 = "kill -9 of a worker group primary node (Patroni and PostgreSQL)";
        if (workers[0].nodes.length < 2) results.push(skip(scenario, what2, "worker groups have no standby (distribution.replication_factor 1)"));
        else results.push(await faultScenario(ctx, scenario, what2, duration, { transactions: false }, () => killNode(workers[workers.length - 1], ctx)));
        break;
      }
      case "partition": {
        const what2 = "a worker primary cut off from etcd and the coordinators";
        if (!ctx.layout.faultProxy) results.push(skip(scenario, what2, "no fault proxy: make the cluster with cluster.fault_proxies: true"));
        else if (workers[0].nodes.length < 2) results.push(skip(scenario, what2, "worker groups have no standby (distribution.replication_factor 1)"));
        else results.push(await faultScenario(ctx, scenario, what2, duration, { transactions: false }, () => partitionPrimary(workers[0], ctx)));
        break;
      }
      case "coordinator": {
        const what2 = "kill -9 of a coordinator (clients reconnect through HAProxy)";
        if (!ctx.layout.haproxy) results.push(skip(scenario, what2, "one coordinator: run dpg up --coordinators 2 (or more)"));
        else results.push(await faultScenario(ctx, scenario, what2, duration, { transactions: false }, () => killCoordinator(ctx, 0)));
        break;
      }
      case "control-primary": {
        const what2 = "kill -9 of the control group primary (PostgreSQL)";
        results.push(await faultScenario(ctx, scenario, what2, duration, { transactions: true }, () => killPostmaster(ctx.layout.groups[0], ctx)));
        break;
      }
      case "coordinator-2pc": {
        const what2 = "kill -9 of a coordinator during two-phase commits";
        if (!ctx.layout.haproxy) results.push(skip(scenario, what2, "one coordinator: run dpg up --coordinators 2 (or more)"));
        else if (workers.length < 2) results.push(skip(scenario, what2, "one worker group: no two-phase commits"));
        else results.push(await faultScenario(ctx, scenario, what2, duration, { transactions: true }, () => killCoordinator(ctx, 0)));
        break;
      }
      case "spike": {
        results.push({ ...skip(scenario, "a load spike: 1,000 concurrent queries", null), spike: await spike(ctx) });
        break;
      }
    }
  }
  return results;
}
function formatChaos(results) {
  const lines = ["scenario          acked  unknown  failed  lost  phantom  torn  write gap  heal    reads  read errors"];
  for (const r of results) {
    if (r.skipped) {
      lines.push(`${r.scenario.padEnd(16)}  skipped: ${r.skipped}`);
      continue;
    }
    if (r.spike) {
      const { pooled, connections } = r.spike;
      lines.push(
        `${r.scenario.padEnd(16)}  ${pooled.queries} queries over a pool of ${pooled.poolSize}: ${(pooled.successRate * 100).toFixed(1)}% succeeded in ${pooled.seconds.toFixed(1)} s; ${connections.attempted} connections at once: ${connections.succeeded} served, ${connections.refused} refused (53300), ${connections.otherErrors.length} other errors; coordinator ${connections.coordinatorAlive ? "up" : "DOWN"} afterwards`
      );
      continue;
    }
    const v = r.verdict;
    lines.push(
      [
        r.scenario.padEnd(16),
        String(v.acknowledged).padStart(5),
        String(v.unknown).padStart(7),
        String(v.failed).padStart(6),
        String(v.lost).padStart(4),
        String(v.phantom).padStart(7),
        String(v.torn).padStart(4),
        `${((r.writeGapMs ?? 0) / 1e3).toFixed(1)} s`.padStart(9),
        `${((r.healMs ?? 0) / 1e3).toFixed(1)} s`.padStart(6),
        String(r.reads).padStart(6),
        String(r.readErrors).padStart(12)
      ].join("  ")
    );
    for (const example of v.examples) lines.push(`    ${example}`);
    for (const example of r.readErrorExamples) lines.push(`    read error: ${example}`);
  }
  return lines.join("\n");
}

// src/cli/plan-shards.ts
var SEED_VECTORS_PER_SHARD = 3e6;
function calculateShardCount(totalVectors, targetPerShard = SEED_VECTORS_PER_SHARD) {
  return Math.max(4, Math.floor(totalVectors / targetPerShard) + 1);
}
function planShards(config, vectors, targetPerShard = SEED_VECTORS_PER_SHARD) {
  const shards = calculateShardCount(vectors, targetPerShard);
  const vectorsPerShard = Math.ceil(vectors / shards);
  const groups = config.cluster.worker_groups.count;
  return {
    vectors,
    targetPerShard,
    shards,
    vectorsPerShard,
    profile: hnswProfileFor(config, vectorsPerShard),
    workerGroups: groups,
    shardsPerGroup: [Math.floor(shards / groups), Math.ceil(shards / groups)],
    configuredShards: config.distribution.shard_count
  };
}
function formatShardPlan(plan) {
  const n = (x) => x.toLocaleString("en-US");
  const [few, many] = plan.shardsPerGroup;
  return [
    `vectors: ${n(plan.vectors)}, target per shard: ${n(plan.targetPerShard)}`,
    `shards: ${plan.shards} (the seed's calculate_shard_count: max(4, vectors / target + 1))`,
    `per shard: about ${n(plan.vectorsPerShard)} vectors; HNSW profile m ${plan.profile.m}, ef_construction ${plan.profile.ef_construction}, ef_search ${plan.profile.ef_search}`,
    `over ${plan.workerGroups} worker group${plan.workerGroups === 1 ? "" : "s"}: ${few === many ? few : `${few}-${many}`} shards each`,
    plan.configuredShards === plan.shards ? `this config already makes ${plan.configuredShards} shards per distributed table (distribution.shard_count)` : `this config makes ${plan.configuredShards} shards per distributed table (distribution.shard_count); for ${n(plan.vectors)} vectors set it to ${plan.shards}, or for a table that exists: SELECT alter_distributed_table('memory_entries', shard_count := ${plan.shards})`
  ].join("\n");
}

// src/cluster/status.ts
async function clusterStatus(layout, secrets, database = DEFAULT_CONFIG.cluster.database) {
  const problems = [];
  const processes = [];
  if (layout.etcd.local) {
    const record = readProcessRecord(layout.runDir, ETCD_PROCESS);
    const running = !!record && isAlive(record.pid, record.marker);
    processes.push({
      name: "etcd",
      pid: running ? record.pid : null,
      running,
      ports: { client: layout.etcd.clientPort, peer: layout.etcd.peerPort },
      url: layout.etcd.endpoints[0]
    });
  }
  let coordinatorRunning = true;
  for (const c of layout.coordinators) {
    const record = readProcessRecord(layout.runDir, c.processName);
    const running = !!record && isAlive(record.pid, record.marker);
    coordinatorRunning &&= running;
    processes.push({
      name: layout.coordinators.length === 1 ? "coordinator" : c.processName,
      pid: running ? record.pid : null,
      running,
      ports: { client: c.port, metrics: c.metricsPort },
      url: `postgresql://${layout.host}:${c.port}  http://${layout.host}:${c.metricsPort}/metrics`
    });
  }
  if (layout.haproxy) {
    const record = readProcessRecord(layout.runDir, HAPROXY_PROCESS);
    const running = !!record && isAlive(record.pid, record.marker);
    coordinatorRunning &&= running;
    processes.push({ name: "haproxy", pid: running ? record.pid : null, running, ports: { client: layout.clientPort }, url: `postgresql://${layout.host}:${layout.clientPort}` });
  }
  if (layout.faultProxy) {
    const record = readProcessRecord(layout.runDir, FAULT_PROXY_PROCESS);
    const running = !!record && isAlive(record.pid, record.marker);
    processes.push({ name: "fault-proxy", pid: running ? record.pid : null, running, ports: { control: layout.faultProxy.controlPort }, url: `http://${layout.host}:${layout.faultProxy.controlPort}/state` });
  }
  const redis = readProcessRecord(layout.runDir, REDIS_PROCESS);
  if (redis) {
    const running = isAlive(redis.pid, redis.marker);
    processes.push({ name: "redis", pid: running ? redis.pid : null, running, ports: { client: layout.redisPort }, url: `redis://${layout.host}:${layout.redisPort}` });
  }
  const prometheus = readProcessRecord(layout.runDir, PROMETHEUS_PROCESS);
  if (prometheus) {
    const running = isAlive(prometheus.pid, prometheus.marker);
    processes.push({ name: "prometheus", pid: running ? prometheus.pid : null, running, ports: { http: layout.prometheusPort }, url: `http://${layout.host}:${layout.prometheusPort}` });
    for (const { port, process: name } of monitoringPorts(layout).slice(1)) {
      const record = readProcessRecord(layout.runDir, name);
      if (!record) continue;
      const alive = isAlive(record.pid, record.marker);
      processes.push({ name, pid: alive ? record.pid : null, running: alive, ports: { http: port } });
    }
  }
  const etcdUp = (await Promise.all(layout.etcd.endpoints.map(etcdHealthy))).some(Boolean);
  if (!etcdUp) problems.push(`etcd (${layout.etcd.endpoints.join(", ")}) is not answering`);
  const nodes = [];
  for (const group of layout.groups) {
    const members2 = await groupMembers(group) ?? [];
    const lagSeconds = await replayLagSeconds(layout, group.name, members2, secrets);
    for (const node of group.nodes) {
      const record = readProcessRecord(layout.runDir, patroniProcessName(node));
      const patroniAlive = !!record && isAlive(record.pid, record.marker);
      const pgPid = postmasterPid(node.pgDataDir);
      const postgresAlive = pgPid !== null && isAlive(pgPid, node.pgDataDir);
      const member = members2.find((m) => m.name === node.name);
      const role = member ? member.role === "leader" || member.role === "sync_standby" || member.role === "replica" ? member.role : "unknown" : "unknown";
      const state = member?.state ?? (patroniAlive ? "starting" : "down");
      nodes.push({
        group: group.name,
        name: node.name,
        role,
        state,
        host: node.host,
        port: node.pgPort,
        patroniPort: node.restPort,
        patroniPid: patroniAlive ? record.pid : null,
        postgresPid: postgresAlive ? pgPid : null,
        lagBytes: role === "leader" ? 0 : typeof member?.lag === "number" ? member.lag : null,
        lagSeconds: role === "leader" ? 0 : lagSeconds.get(node.name) ?? null,
        timeline: member?.timeline ?? null
      });
      if (!patroniAlive) problems.push(`${node.name}: Patroni is not running (run 'npx dpg up' to start it again)`);
      else if (!postgresAlive) problems.push(`${node.name}: PostgreSQL is not running (Patroni is restarting it, or see ${node.logFile})`);
    }
    if (members2.length > 0 && !members2.some((m) => m.role === "leader" && m.state === "running")) {
      problems.push(`group ${group.name} has no running leader`);
    }
  }
  if (!coordinatorRunning && nodes.some((n) => n.patroniPid !== null)) problems.push(`${layout.haproxy ? "a coordinator or HAProxy" : "the coordinator"} is not running (run 'npx dpg up' to start it again)`);
  const anyRunning = processes.some((p) => p.running) || nodes.some((n) => n.patroniPid !== null || n.postgresPid !== null);
  const { maintenance, moves } = anyRunning ? await catalogActivity(layout, secrets, database) : { maintenance: [], moves: [] };
  for (const move of moves.filter((m) => !m.running)) {
    problems.push(`shard ${move.kind} ${move.id} stopped at its step '${move.state}': 'npx dpg move-shard --resume ${move.id}' goes on, '--rollback ${move.id}' undoes it`);
  }
  return { dataDir: layout.dataDir, running: anyRunning, healthy: anyRunning && problems.length === 0, nodes, processes, maintenance, moves, problems };
}
async function catalogActivity(layout, secrets, database) {
  const leader = secrets ? await groupLeader(layout.groups[0]) : null;
  if (!leader || !secrets) return { maintenance: [], moves: [] };
  try {
    return await withClient(await connectNode(leader, secrets, database), async (client) => {
      const runs = await client.query(
        `SELECT DISTINCT ON (job) job, scheduled_for, result, extract(epoch FROM finished_at - started_at)::float8 AS seconds, detail
         FROM dpg_catalog.maintenance_runs ORDER BY job, scheduled_for DESC`
      );
      const moves = await client.query(
        `SELECT m.move_id, m.kind, m.state, m.shard_ids::text[] AS shard_ids, m.source_group, m.target_group,
                EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = m.move_id AND l.granted) AS running
         FROM dpg_catalog.shard_moves m WHERE m.state NOT IN ('done', 'rolled-back') ORDER BY m.move_id`,
        [MOVE_LOCK_CLASS]
      );
      return {
        maintenance: runs.rows.map((r) => ({ job: r.job, scheduledFor: r.scheduled_for.toISOString(), result: r.result, seconds: r.seconds, detail: r.detail })),
        moves: moves.rows.map((r) => ({ id: Number(r.move_id), kind: r.kind, state: r.state, shardIds: r.shard_ids, sourceGroup: r.source_group, targetGroup: r.target_group, running: r.running }))
      };
    });
  } catch {
    return { maintenance: [], moves: [] };
  }
}
async function replayLagSeconds(layout, groupName, members2, secrets) {
  const lags = /* @__PURE__ */ new Map();
  const leaderName = members2.find((m) => m.role === "leader" && m.state === "running")?.name;
  const leader = layout.groups.find((g) => g.name === groupName)?.nodes.find((n) => n.name === leaderName);
  if (!leader || !secrets || members2.length < 2) return lags;
  try {
    await withClient(await connectNode(leader, secrets), async (client) => {
      const result = await client.query(
        `SELECT application_name, coalesce(extract(epoch FROM replay_lag), 0)::float8 AS seconds FROM pg_stat_replication`
      );
      for (const row of result.rows) if (row.seconds !== null) lags.set(row.application_name, row.seconds);
    });
  } catch {
  }
  return lags;
}
function pad(cells) {
  const widths = cells[0].map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}
function formatStatus(status) {
  const lines = [`dpg cluster in ${status.dataDir}: ${!status.running ? "stopped" : status.healthy ? "running" : "DEGRADED"}`, ""];
  const header = ["GROUP", "NODE", "ROLE", "STATE", "PG PORT", "PATRONI", "PATRONI PID", "POSTGRES PID", "LAG", "TL"];
  const rows = status.nodes.map((n) => [
    n.group,
    n.name,
    n.role,
    n.state,
    String(n.port),
    String(n.patroniPort),
    n.patroniPid === null ? "-" : String(n.patroniPid),
    n.postgresPid === null ? "-" : String(n.postgresPid),
    n.role === "leader" ? "-" : `${n.lagBytes === null ? "?" : `${n.lagBytes} B`} / ${n.lagSeconds === null ? "?" : `${n.lagSeconds.toFixed(3)} s`}`,
    n.timeline === null ? "-" : String(n.timeline)
  ]);
  lines.push(pad([header, ...rows]), "");
  const processRows = status.processes.map((p) => [
    p.name,
    p.running ? "running" : "down",
    p.pid === null ? "-" : String(p.pid),
    Object.entries(p.ports).map(([k, v]) => `${k} ${v}`).join(", "),
    p.url ?? ""
  ]);
  if (processRows.length > 0) lines.push(pad([["PROCESS", "STATE", "PID", "PORTS", "URL"], ...processRows]), "");
  if (status.maintenance.length > 0) {
    const rows2 = status.maintenance.map((m) => [m.job, m.scheduledFor, m.result, m.seconds === null ? "-" : `${m.seconds.toFixed(1)} s`, m.detail ?? ""]);
    lines.push(pad([["MAINTENANCE", "LAST RUN (UTC)", "RESULT", "TOOK", "DETAIL"], ...rows2]), "");
  }
  if (status.moves.length > 0) {
    const rows2 = status.moves.map((m) => [String(m.id), m.kind, m.state, m.shardIds.join(","), m.kind === "split" ? `${m.sourceGroup}` : `${m.sourceGroup} -> ${m.targetGroup}`, m.running ? "running" : "stopped"]);
    lines.push(pad([["SHARD MOVE", "KIND", "STEP", "SHARDS", "GROUPS", "PROCESS"], ...rows2]), "");
  }
  for (const problem of status.problems) lines.push(`! ${problem}`);
  return lines.join("\n").trimEnd();
}

// src/cli/move-commands.ts
import { join as join19 } from "node:path";

// src/rebalance/scale.ts
import { rmSync as rmSync7 } from "node:fs";
import { join as join18 } from "node:path";
async function addGroup(config, dataDir, options) {
  const stateFile = join18(dataDir, "cluster.json");
  const state = readClusterState(stateFile);
  if (!state?.bootstrapped) throw new ClientError("55000", `no cluster in ${dataDir}: run 'npx dpg up' first`);
  const registered = await registeredWorkerGroups(options.admin, config, dataDir);
  const ids = workerGroupIdsOf(state);
  let id = ids.find((g) => !registered.includes(g));
  if (id === void 0) {
    id = Array.from({ length: MAX_WORKER_GROUPS }, (_, i) => i + 1).find((g) => !ids.includes(g));
    if (id === void 0) throw new ClientError("54000", `the cluster has ${ids.length} worker groups, the most dpg lays out ports for`);
    setWorkerGroupIds(state, [...ids, id]);
    writeClusterState(stateFile, state);
  }
  options.log(`starting worker group ${id}`);
  const up = await upCluster(config, dataDir, { log: options.log });
  const group = up.layout.groups.find((g) => g.id === id);
  const leader = await groupLeader(group);
  if (!leader) throw new ClientError("08006", `the new group ${group.name} has no primary; see 'npx dpg status'`);
  await prepareGroupDatabase(leader, up.secrets, config.cluster.database, clientUsers(config.users, up.secrets));
  const admin = options.admin(up.layout);
  const copied = await registerWithReferenceTables(admin, group);
  options.log(`group ${group.name} registered with ${copied.tables} reference tables (${copied.rows} rows; reference writes paused ${copied.pauseMs.toFixed(0)} ms)`);
  const rebalanced = options.rebalance ? await rebalance(admin, options.rebalance) : null;
  return { group, referenceTables: copied.tables, copiedRows: copied.rows, pauseMs: copied.pauseMs, rebalanced };
}
async function registeredWorkerGroups(adminFor, config, dataDir) {
  const state = readClusterState(join18(dataDir, "cluster.json"));
  const admin = adminFor(buildLayout(config, dataDir, state.nodesRoot, state.coordinators, workerGroupIdsOf(state)));
  return onPrimary(admin, 0, async (control) => (await control.query(`SELECT group_id FROM dpg_catalog.groups WHERE kind = 'worker' ORDER BY 1`)).rows.map((r) => r.group_id));
}
async function registerWithReferenceTables(admin, group) {
  const control = await connectPrimary(admin, 0);
  const held = [];
  try {
    const already = await control.query("SELECT 1 FROM dpg_catalog.groups WHERE group_id = $1", [group.id]);
    if (already.rows.length > 0) return { tables: 0, rows: 0, pauseMs: 0 };
    const references = (await control.query(
      `SELECT s.table_name || '_' || s.shardid AS shard_table, s.shardid::text AS shardid, array_agg(p.group_id ORDER BY p.group_id) AS groups
         FROM dpg_catalog.tables t JOIN dpg_catalog.shards s USING (table_name) JOIN dpg_catalog.placements p USING (shardid)
         WHERE t.kind = 'reference' GROUP BY 1, 2 ORDER BY 1`
    )).rows;
    const oldGroups = [...new Set(references.flatMap((r) => r.groups))].sort((a, b) => a - b);
    const target = await connectPrimary(admin, group.id);
    held.push(target);
    await target.query(dropTablesSql(references.map((r) => r.shard_table)));
    let rows = 0;
    let locked = 0;
    let locks = [];
    for (let attempt = 1; references.length > 0; attempt++) {
      try {
        for (const groupId of oldGroups) {
          const client = await connectPrimary(admin, groupId);
          locks.push(client);
          await client.query("BEGIN");
          await client.query("SET LOCAL lock_timeout = 2000");
          await client.query("SET LOCAL deadlock_timeout = 100");
          await client.query(`LOCK TABLE ${references.map((r) => `public.${quoteIdent(r.shard_table)}`).join(", ")} IN EXCLUSIVE MODE`);
        }
        locked = performance.now();
        break;
      } catch (error) {
        for (const client of locks) await client.end().catch(() => {
        });
        locks = [];
        if (!["55P03", "40P01"].includes(error.code ?? "") || attempt >= 10) throw error;
        await new Promise((resolve3) => setTimeout(resolve3, 200 * attempt));
      }
    }
    held.push(...locks);
    const source = locks[0];
    const definitions = [];
    for (const reference of source ? references : []) {
      const definition = await readShardTable(source, reference.shard_table);
      if (!definition) throw new ClientError("XX000", `reference table shard ${reference.shard_table} is missing on group ${oldGroups[0]}`);
      definitions.push(definition);
    }
    for (const definition of definitions) {
      await target.query(definition.createTable);
      for (const sql of definition.access) await target.query(sql);
      await target.query(`SET ROLE ${quoteIdent(definition.owner)}`);
      rows += await copyTableRows(source, target, definition);
      for (const index of definition.indexes.values()) await target.query(index);
      await target.query("RESET ROLE");
    }
    await target.query(`BEGIN; SET LOCAL synchronous_commit = remote_apply; SELECT pg_logical_emit_message(true, 'dpg_add_group', ${quoteLiteral2(group.name)}); COMMIT`);
    await control.query("BEGIN");
    await registerGroup(control, admin.layout, group);
    for (const reference of references) await control.query("INSERT INTO dpg_catalog.placements (shardid, group_id) VALUES ($1, $2)", [reference.shardid, group.id]);
    await control.query("UPDATE dpg_catalog.reference_epoch SET epoch = epoch + 1");
    await control.query(`NOTIFY ${CATALOG_CHANNEL}`);
    await control.query("COMMIT");
    await refreshNodeRoles(control, [group]);
    const pauseMs = locked ? performance.now() - locked : 0;
    return { tables: references.length, rows, pauseMs };
  } finally {
    for (const client of held) await client.end().catch(() => {
    });
    await control.end().catch(() => {
    });
  }
}
async function removeGroup(config, dataDir, options) {
  const stateFile = join18(dataDir, "cluster.json");
  const state = readClusterState(stateFile);
  if (!state?.bootstrapped) throw new ClientError("55000", `no cluster in ${dataDir}: run 'npx dpg up' first`);
  const ids = workerGroupIdsOf(state);
  if (ids.length <= 1) throw new ClientError("55000", "the cluster has one worker group; it cannot lose it");
  const layout = buildLayout(config, dataDir, state.nodesRoot, state.coordinators, ids);
  const groupId = options.groupId ?? ids.at(-1);
  const group = layout.groups.find((g) => g.id === groupId && g.kind === "worker");
  if (!group) throw new ClientError("22023", `group ${groupId} is not a worker group of this cluster (worker groups: ${ids.join(", ")})`);
  const admin = options.admin(layout);
  options.log(`draining ${group.name}: its shards move to the other worker groups`);
  const drained = await rebalance(admin, { ...options.rebalance, drain: [group.id], maxMoves: Number.MAX_SAFE_INTEGER });
  await onPrimary(admin, 0, async (control) => {
    const left = await control.query(
      `SELECT count(*)::int AS n FROM dpg_catalog.placements p JOIN dpg_catalog.shards s USING (shardid) JOIN dpg_catalog.tables t USING (table_name)
       WHERE p.group_id = $1 AND t.kind = 'distributed'`,
      [group.id]
    );
    if (left.rows[0].n > 0) throw new ClientError("XX000", `${group.name} still holds ${left.rows[0].n} shards after draining; see SELECT * FROM citus_shards`);
    await control.query("BEGIN");
    await control.query("DELETE FROM dpg_catalog.placements WHERE group_id = $1", [group.id]);
    await control.query("DELETE FROM dpg_catalog.shard_stats WHERE group_id = $1", [group.id]);
    await control.query("DELETE FROM dpg_catalog.nodes WHERE group_id = $1", [group.id]);
    await control.query("DELETE FROM dpg_catalog.groups WHERE group_id = $1", [group.id]);
    await control.query("UPDATE dpg_catalog.reference_epoch SET epoch = epoch + 1");
    await control.query(`NOTIFY ${CATALOG_CHANNEL}`);
    await control.query("COMMIT");
  });
  options.log(`${group.name} is out of the catalog; stopping it`);
  await stopGroup(layout, group);
  await deleteEtcdPrefix(layout.etcd.endpoints, `${patroniNamespace(state.clusterId)}${group.name}/`, etcdLogins(admin.secrets).patroni);
  for (const node of group.nodes) rmSync7(node.dir, { recursive: true, force: true });
  setWorkerGroupIds(state, ids.filter((g) => g !== group.id));
  writeClusterState(stateFile, state);
  return { group, drained };
}
async function stopGroup(layout, group) {
  const names = new Set(group.nodes.map((n) => patroniProcessName(n)));
  for (const record of listProcessRecords(layout.runDir).filter((r) => names.has(r.name))) {
    if (isAlive(record.pid, record.marker)) await stopPid(record.pid, record.marker, "SIGTERM", 3e4);
    forgetProcess(layout.runDir, record.name);
  }
  for (const node of group.nodes) {
    const pid = postmasterPid(node.pgDataDir);
    if (pid !== null && isAlive(pid, node.pgDataDir)) await stopPid(pid, node.pgDataDir, "SIGINT", 2e4);
  }
}
async function deleteEtcdPrefix(endpoints, prefix, login) {
  for (const endpoint of endpoints) {
    try {
      await etcdCall(endpoint, "kv/deleterange", { key: b64(prefix), range_end: prefixEnd(prefix) }, await etcdToken(endpoint, login));
      return;
    } catch {
    }
  }
  throw new ClientError("08006", `could not delete ${prefix} from etcd (${endpoints.join(", ")})`);
}

// src/cli/move-commands.ts
var MoveUsageError = class extends Error {
};
function adminContext(loaded, layout, log) {
  const secrets = readSecrets(layout.secretsFile);
  if (!secrets) throw new MoveUsageError(`no cluster in ${layout.dataDir}: run 'npx dpg up' first`);
  return {
    layout,
    secrets,
    database: loaded.config.cluster.database,
    indexBuildMemory: loaded.config.vector.index_build_memory,
    threshold: loaded.config.distribution.shard_rebalancing.threshold,
    log
  };
}
function groupArg(admin, flag, value) {
  const group = admin.layout.groups.find((g) => String(g.id) === value || g.name === value);
  if (!group) throw new MoveUsageError(`--${flag} ${JSON.stringify(value)}: no such group; worker groups are ${admin.layout.groups.filter((g) => g.kind === "worker").map((g) => `${g.id} (${g.name})`).join(", ")}`);
  if (group.kind !== "worker") throw new MoveUsageError(`--${flag} ${value}: ${group.name} is the control group, which holds no shards`);
  return group.id;
}
function moveId(flag, value) {
  if (!/^[1-9]\d{0,15}$/.test(value)) throw new MoveUsageError(`--${flag} ${JSON.stringify(value)}: give a move id (see dpg move-shard --list)`);
  return Number(value);
}
function moveProgress() {
  let phase = null;
  let bar = null;
  const onProgress = (progress) => {
    const scale = progress.unit === "bytes" ? 1024 : 1;
    if (phase !== progress.phase) {
      bar?.finish();
      phase = progress.phase;
      process.stderr.write(`${progress.phase === "copy" ? "initial copy" : progress.phase === "index" ? "building indexes on the target" : "catching up"}
`);
      bar = createProgress({ total: Math.max(1, Math.round(progress.total / scale)), unit: progress.unit === "bytes" ? "kB" : progress.unit });
    }
    bar.update(progress.done >= progress.total ? Math.max(1, Math.round(progress.total / scale)) : Math.round(progress.done / scale));
  };
  return { onProgress, finish: () => bar?.finish() };
}
function describeResult(result) {
  const { move } = result;
  const seconds = Object.values(result.steps).reduce((a, b) => a + b, 0) / 1e3;
  const pause = move.pauseMs === null ? "" : `, write pause ${move.pauseMs.toFixed(0)} ms`;
  const rows = move.rowsTotal === null ? "" : `, ${move.rowsTotal} rows (${((move.bytesTotal ?? 0) / 1024 / 1024).toFixed(1)} MB)`;
  const what2 = move.kind !== "move" ? `${move.kind} ${move.id} (shards ${move.shardIds.join(", ")} into ${move.newShardIds.join(", ")}): ${move.state}, on group ${move.sourceGroup}` : `move ${move.id} (shards ${move.shardIds.join(", ")}): ${move.state}, group ${move.sourceGroup} -> ${move.targetGroup}`;
  return `${what2}${rows}${pause}, ${seconds.toFixed(1)} s`;
}
async function moveShardCommand(admin, flags, out2) {
  const modes = [flags.shard !== void 0, flags.resume !== void 0, flags.rollback !== void 0, !!flags.list].filter(Boolean).length;
  if (modes !== 1) throw new MoveUsageError("move-shard needs one of: --shard ID --to GROUP, --resume ID|all, --rollback ID, --list");
  if (flags.list) {
    const rows = await onPrimary(admin, 0, async (control) => (await control.query("SELECT * FROM public.dpg_shard_moves ORDER BY move_id")).rows);
    out2(flags.json ? JSON.stringify(rows, null, 2) : rows.map((r) => `${r.move_id}  ${r.kind.padEnd(5)} ${r.state.padEnd(12)} shards ${r.shard_ids.join(",")}  group ${r.source_group} -> ${r.target_group}${r.pause_ms === null ? "" : `  pause ${Number(r.pause_ms).toFixed(0)} ms`}${r.detail ? `  (${r.detail})` : ""}`).join("\n") || "no shard moves");
    return 0;
  }
  if (flags.rollback !== void 0) {
    const move = await rollbackMove(admin, moveId("rollback", flags.rollback));
    out2(`move ${move.id}: ${move.state}; shards ${move.shardIds.join(", ")} stay on group ${move.sourceGroup}`);
    return 0;
  }
  let ids;
  if (flags.resume !== void 0) {
    ids = flags.resume === "all" ? await onPrimary(admin, 0, (control) => unfinishedMoves(control)) : [moveId("resume", flags.resume)];
    if (ids.length === 0) out2("no unfinished shard moves");
  } else {
    if (flags.to === void 0) throw new MoveUsageError("move-shard --shard ID needs --to GROUP");
    const target = groupArg(admin, "to", flags.to);
    const source = flags.from === void 0 ? void 0 : groupArg(admin, "from", flags.from);
    ids = [await onPrimary(admin, 0, (control) => createMove(control, flags.shard, target, source))];
  }
  for (const id of ids) await runWithHint(admin, id, out2);
  return 0;
}
function formatPlan(plan) {
  const groups = [...plan.before.keys()].sort((a, b) => a - b);
  const unit = plan.strategy === "by_disk_size" ? (v) => `${(v / 1024 / 1024).toFixed(1)} MB` : plan.strategy === "by_rows" ? (v) => `${v} rows` : (v) => `${v} shard groups`;
  const lines = [
    `strategy ${plan.strategy}, threshold ${plan.threshold}: imbalance ${imbalance(plan.before, groups).toFixed(2)} -> ${imbalance(plan.after, groups).toFixed(2)}`,
    ...groups.map((g) => `  group ${g}: ${unit(plan.before.get(g) ?? 0)} -> ${unit(plan.after.get(g) ?? 0)}`),
    plan.moves.length === 0 ? "no moves needed" : `${plan.moves.length} move(s):`,
    ...plan.moves.map((m, i) => `  ${i + 1}. shard ${m.shardId} (co-location ${m.colocationId}, index ${m.shardIndex}): group ${m.sourceGroup} -> ${m.targetGroup} (${unit(m.cost)})`)
  ];
  return lines.join("\n");
}
function rebalanceOptions(admin, loaded, flags) {
  const strategy = flags.strategy ?? loaded.config.distribution.shard_rebalancing.strategy;
  if (!["by_disk_size", "by_rows", "by_shard_count"].includes(strategy)) throw new MoveUsageError(`--strategy ${JSON.stringify(flags.strategy)}: by_disk_size, by_rows or by_shard_count`);
  const threshold = flags.threshold === void 0 ? admin.threshold : /^\d+(\.\d+)?$/.test(flags.threshold) ? Number(flags.threshold) : NaN;
  if (!(threshold >= 0 && threshold <= 10)) throw new MoveUsageError(`--threshold ${JSON.stringify(flags.threshold)}: a fraction from 0 to 10 (0.2: 20% from the mean)`);
  return { strategy, threshold, maxMoves: loaded.config.distribution.shard_rebalancing.max_moves };
}
async function rebalanceCommand(admin, loaded, flags, out2) {
  const reporting = rebalanceReporting(out2);
  try {
    const result = await rebalance(admin, { ...rebalanceOptions(admin, loaded, flags), dryRun: flags["dry-run"], ...reporting });
    reporting.finish();
    if (flags["dry-run"] || result.plan.moves.length === 0) out2(formatPlan(result.plan));
    for (const moved of result.results) out2(describeResult(moved));
    return result;
  } finally {
    reporting.finish();
  }
}
function rebalanceReporting(out2) {
  let progress = null;
  return {
    onMove: (index, plan) => {
      if (index === 0) out2(formatPlan(plan));
      progress?.finish();
      const move = plan.moves[index];
      out2(`move ${index + 1}/${plan.moves.length}: shard ${move.shardId}, group ${move.sourceGroup} -> ${move.targetGroup}`);
    },
    moveOptions: () => progress = moveProgress(),
    finish: () => progress?.finish()
  };
}
async function addGroupCommand(loaded, flags, out2, err2) {
  const admin = adminContext(loaded, existingLayoutOf(loaded), err2);
  const reporting = rebalanceReporting(out2);
  try {
    const result = await addGroup(loaded.config, loaded.dataDir, {
      log: err2,
      admin: (layout) => adminContext(loaded, layout, err2),
      rebalance: flags["no-rebalance"] ? null : { ...rebalanceOptions(admin, loaded, flags), ...reporting }
    });
    reporting.finish();
    out2(`added worker group ${result.group.id} (${result.group.name}): ${result.referenceTables} reference tables copied (${result.copiedRows} rows, reference writes paused ${result.pauseMs.toFixed(0)} ms)`);
    if (result.rebalanced) {
      if (result.rebalanced.plan.moves.length === 0) out2(formatPlan(result.rebalanced.plan));
      for (const moved of result.rebalanced.results) out2(describeResult(moved));
    }
  } finally {
    reporting.finish();
  }
}
async function removeGroupCommand(loaded, flags, out2, err2) {
  const admin = adminContext(loaded, existingLayoutOf(loaded), err2);
  const reporting = rebalanceReporting(out2);
  try {
    const result = await removeGroup(loaded.config, loaded.dataDir, {
      groupId: flags.group === void 0 ? void 0 : groupArg(admin, "group", flags.group),
      log: err2,
      admin: (layout) => adminContext(loaded, layout, err2),
      rebalance: { ...rebalanceOptions(admin, loaded, flags), ...reporting }
    });
    reporting.finish();
    for (const moved of result.drained.results) out2(describeResult(moved));
    out2(`removed worker group ${result.group.id} (${result.group.name}): ${result.drained.results.length} shard group(s) moved off it; its nodes are stopped and deleted`);
  } finally {
    reporting.finish();
  }
}
function existingLayoutOf(loaded) {
  const state = readClusterState(join19(loaded.dataDir, "cluster.json"));
  return buildLayout(loaded.config, loaded.dataDir, state?.nodesRoot, state?.coordinators ?? loaded.config.coordinator.instances, workerGroupIdsOf(state));
}
async function splitShardCommand(admin, flags, out2) {
  if (flags.shard === void 0) throw new MoveUsageError("split-shard needs --shard ID (see npx dpg shards)");
  if (flags.at !== void 0 && flags.pieces !== void 0) throw new MoveUsageError("split-shard takes --at or --pieces, not both");
  let points;
  if (flags.at !== void 0) {
    points = flags.at.split(",").map((p) => {
      if (!/^-?\d+$/.test(p.trim())) throw new MoveUsageError(`--at ${JSON.stringify(flags.at)}: give hash values (int32) separated by commas`);
      return Number(p);
    });
  }
  const id = await onPrimary(admin, 0, async (control) => {
    if (flags.pieces !== void 0) {
      if (!/^([2-9]|1[0-6])$/.test(flags.pieces)) throw new MoveUsageError(`--pieces ${JSON.stringify(flags.pieces)}: from 2 to 16`);
      const range = (await control.query("SELECT hash_min, hash_max FROM dpg_catalog.shards WHERE shardid = $1", [/^\d+$/.test(flags.shard) ? flags.shard : null])).rows[0];
      if (range?.hash_min != null) points = equalSplitPoints(Number(range.hash_min), Number(range.hash_max), Number(flags.pieces));
    }
    return createSplit(control, flags.shard, points);
  });
  await runWithHint(admin, id, out2);
}
async function mergeShardsCommand(admin, flags, out2) {
  const ids = (flags.shards ?? "").split(",").map((id2) => id2.trim());
  if (ids.length < 2 || ids.some((id2) => !/^\d+$/.test(id2))) throw new MoveUsageError(`merge-shards needs --shards ID,ID[,...]: two or more shard ids of adjacent shard groups (see npx dpg shards), got ${JSON.stringify(flags.shards ?? "")}`);
  const id = await onPrimary(admin, 0, (control) => createMerge(control, ids));
  await runWithHint(admin, id, out2);
}
async function runWithHint(admin, id, out2) {
  const progress = moveProgress();
  try {
    out2(describeResult(await runMove(admin, id, progress)));
  } catch (error) {
    progress.finish();
    const state = await onPrimary(admin, 0, async (control) => (await control.query("SELECT state FROM dpg_catalog.shard_moves WHERE move_id = $1", [id])).rows[0]?.state).catch(() => null);
    if (!state || state === "done" || state === "rolled-back") throw error;
    const hint = `${id} stopped at its step '${state}': 'npx dpg move-shard --resume ${id}' goes on, '--rollback ${id}' undoes it`;
    throw error instanceof ClientError ? new ClientError(error.sqlstate, `${error.message} (${hint})`) : new Error(`${error.message} (${hint})`);
  } finally {
    progress.finish();
  }
}

// src/cli/check.ts
async function checkCluster(layout, secrets, database) {
  const leaders = await groupLeaders(layout);
  const control = leaders.get(layout.groups.find((g) => g.kind === "control").id);
  const snapshot = await withClient(await connectNode(control, secrets, database), (client) => readCatalogSnapshot(client, 0));
  const tables2 = [...snapshot.tables.values()];
  const report = { tables: tables2.length, shards: 0, rows: 0, problems: [], notes: [] };
  const byColocation = /* @__PURE__ */ new Map();
  for (const table2 of tables2) {
    if (table2.kind !== "distributed" || table2.colocationId === null) continue;
    for (const shard of table2.shards) {
      const key = `${table2.colocationId}:${shard.index}`;
      const groups = byColocation.get(key) ?? /* @__PURE__ */ new Map();
      byColocation.set(key, groups);
      for (const group of shard.groupIds) if (!groups.has(group)) groups.set(group, `${table2.name}_${shard.shardId}`);
    }
  }
  for (const [key, groups] of byColocation) {
    if (groups.size > 1) report.problems.push(`co-located shards of index ${key.split(":")[1]} (co-location ${key.split(":")[0]}) are on several groups: ${[...groups].map(([g, s]) => `${s} on group ${g}`).join(", ")}`);
  }
  for (const group of layout.groups.filter((g) => g.kind === "worker")) {
    const groupId = group.id;
    const leader = leaders.get(groupId);
    const placed = tables2.flatMap((table2) => table2.shards.filter((s) => s.groupIds.includes(groupId)).map((shard) => ({ table: table2, shard })));
    await withClient(await connectNode(leader, secrets, database), async (client) => {
      const present = new Set(
        (await client.query("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND relname ~ '_[0-9]+$'")).rows.map((r) => r.relname)
      );
      for (const { table: table2, shard } of placed) {
        const name = `${table2.name}_${shard.shardId}`;
        report.shards++;
        if (!present.has(name)) {
          report.problems.push(`shard ${name} is placed on group ${groupId} by the catalog but does not exist there`);
          continue;
        }
        present.delete(name);
        report.rows += await checkShardRows(client, table2, name, shard.hashMin, shard.hashMax, report);
      }
      const known = new Set(tables2.map((t) => t.name));
      for (const name of present) {
        const table2 = name.replace(/_[0-9]+$/, "");
        if (known.has(table2)) report.notes.push(`group ${groupId} holds ${name}, which the catalog does not place there (left by a move or split before its cleanup?)`);
      }
    });
  }
  return report;
}
async function checkShardRows(client, table2, shardName, min, max, report) {
  if (table2.kind !== "distributed" || table2.distributionMethod !== "hash" || min === null || max === null) {
    return Number((await client.query(`SELECT count(*) AS n FROM ${quoteIdentifier(shardName)}`)).rows[0].n);
  }
  const column2 = quoteIdentifier(table2.distributionColumn);
  const result = await client.query(
    `SELECT count(*) AS n, count(*) FILTER (WHERE hashtext(${column2}::text) NOT BETWEEN $1 AND $2) AS misplaced, min(${column2}::text) FILTER (WHERE hashtext(${column2}::text) NOT BETWEEN $1 AND $2) AS example FROM ${quoteIdentifier(shardName)}`,
    [min, max]
  );
  const row = result.rows[0];
  if (Number(row.misplaced) > 0) {
    report.problems.push(`shard ${shardName}: ${row.misplaced} rows whose ${table2.distributionColumn} hashes outside its range [${min}, ${max}] (for example ${JSON.stringify(row.example)}): pinned reads and unique constraints miss them`);
  }
  return Number(row.n);
}
function formatCheckReport(report) {
  const lines = [`checked ${report.tables} tables, ${report.shards} shard placements, ${report.rows} rows: ${report.problems.length === 0 ? "consistent" : `${report.problems.length} problems`}`];
  for (const problem of report.problems) lines.push(`problem: ${problem}`);
  for (const note of report.notes) lines.push(`note: ${note}`);
  return lines.join("\n");
}

// src/cli/main.ts
var USAGE = `usage: dpg <command> [options]

commands:
  setup              install PostgreSQL 15, pgvector, Patroni, etcd, HAProxy, Redis, Prometheus (idempotent)
  up                 start the local cluster (creates it on first run); reuses a running one
  down               stop every process of the local cluster
  status [--json]    every node and process: group, role, state, lag, ports, PIDs
  url                the client connection URL (with TLS on: sslmode=verify-full and the cluster's CA); --user NAME for a user of the config's users
  shards [--json]    the shard map (citus_shards): table, shard, node, size
  check [--json]     consistency: every placement exists, every row hashes into its shard's range,
                     co-located shards share a group (exit 1 on a problem)
  demo [--rows N]    load demo memories through the coordinator and run the seed's searches
  plan-shards        the seed's shard count guidance: --vectors N [--per-shard M] [--json]
  move-shard         move a shard (with its co-located shards) to another worker group, online:
                     --shard ID --to GROUP [--from GROUP] | --resume ID|all | --rollback ID | --list [--json]
  rebalance          plan and make the moves that even out the worker groups' load;
                     [--dry-run] [--strategy by_disk_size|by_rows|by_shard_count] [--threshold 0.2]
  split-shard        split a shard group in place into pieces of its hash range: --shard ID [--at HASH,... | --pieces N]
  merge-shards       merge adjacent shard groups on one worker group into one: --shards ID,ID[,...]
  add-group          start one more worker group, copy the reference tables to it and rebalance onto it [--no-rebalance]
  remove-group       move every shard off a worker group (the last, or --group G), then stop and delete it
  chaos              faults under a load with a ledger of acknowledged writes, checked afterwards;
                     --scenarios worker-primary,worker-node,partition,coordinator,control-primary,coordinator-2pc,spike --duration 15s
  bench [--quick]    the seed's benchmark scenarios against dpg, one plain PostgreSQL node and the workers;
                     --rows N --seed N --bench-config FILE --scenarios a,b --duration 30s --ramp-up 5s
                     --qps N --concurrency N --out DIR --no-baseline --no-tiers --recall-sample N --arrival poisson|uniform
  bench overhead     the coordinator's own cost: pgbench -S (prepared, simple; 1 and 4 clients) straight to the
                     control primary, through PgBouncer and through dpg, and the top-10 search straight to its
                     worker and through dpg (1, 2, 8 clients), with CPU \xB5s per statement; --duration 10s --namespace NS

options:
  --config FILE      config file (default: ./dpg.yaml when present, else built-in defaults)
  --data-dir DIR     data folder (default: ./.dpg)
  --base-port N      first port of the cluster's port range (default 15432)
  --reset            with up: delete the data folder first and create a new cluster
  --coordinators N   with up: run N coordinators (1-9) behind HAProxy on the client port (kept by later ups)
  --monitoring       with up: also run Prometheus (with dpg's alert rules) and PostgreSQL exporters
  --json             machine-readable output
  -h, --help         this text`;
var UsageError = class extends Error {
};
function parse(argv) {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: "string" },
        user: { type: "string" },
        "data-dir": { type: "string" },
        "base-port": { type: "string" },
        reset: { type: "boolean" },
        monitoring: { type: "boolean" },
        coordinators: { type: "string" },
        vectors: { type: "string" },
        "per-shard": { type: "string" },
        instance: { type: "string" },
        json: { type: "boolean" },
        rows: { type: "string" },
        quick: { type: "boolean" },
        seed: { type: "string" },
        "bench-config": { type: "string" },
        scenarios: { type: "string" },
        duration: { type: "string" },
        "ramp-up": { type: "string" },
        qps: { type: "string" },
        concurrency: { type: "string" },
        out: { type: "string" },
        "no-baseline": { type: "boolean" },
        "no-tiers": { type: "boolean" },
        "recall-sample": { type: "string" },
        arrival: { type: "string" },
        shard: { type: "string" },
        to: { type: "string" },
        from: { type: "string" },
        resume: { type: "string" },
        rollback: { type: "string" },
        list: { type: "boolean" },
        "dry-run": { type: "boolean" },
        strategy: { type: "string" },
        threshold: { type: "string" },
        "no-rebalance": { type: "boolean" },
        at: { type: "string" },
        pieces: { type: "string" },
        shards: { type: "string" },
        group: { type: "string" },
        namespace: { type: "string" },
        help: { type: "boolean", short: "h" }
      }
    });
    const command = positionals[0] === "bench" && positionals[1] === "overhead" ? "bench-overhead" : positionals[0];
    const extra = command === "bench-overhead" ? 2 : 1;
    if (positionals.length > extra) throw new UsageError(`unexpected argument '${positionals[extra]}'`);
    return { command, options: values };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(error.message);
  }
}
function load2(options) {
  let basePort;
  if (options["base-port"] !== void 0) {
    basePort = Number(options["base-port"]);
    if (!/^\d+$/.test(options["base-port"])) throw new UsageError(`--base-port ${JSON.stringify(options["base-port"])} is not a port number`);
  }
  return loadConfig({ path: options.config, dataDir: options["data-dir"], basePort });
}
function existingLayout(loaded) {
  const state = readClusterState(join20(loaded.dataDir, "cluster.json"));
  return buildLayout(loaded.config, loaded.dataDir, state?.nodesRoot, state?.coordinators ?? loaded.config.coordinator.instances, workerGroupIdsOf(state));
}
var out = (line) => process.stdout.write(`${line}
`);
var err = (line) => process.stderr.write(`${line}
`);
function plainUrl(loaded, layout, user) {
  const secrets = readSecrets(layout.secretsFile);
  if (!secrets) throw new ClusterStartError(`no cluster in ${layout.dataDir}: run 'npx dpg up' first`);
  return userUrl(loaded.config.users, secrets, layout.secretsFile, layout.host, layout.clientPort, loaded.config.cluster.database, user);
}
function workerLoginFor(layout, url) {
  const secrets = readSecrets(layout.secretsFile);
  if (!secrets) throw new ClusterStartError(`no cluster in ${layout.dataDir}: run 'npx dpg up' first`);
  const user = decodeURIComponent(new URL(url).username);
  return { user, password: nodePassword(secrets, user) };
}
async function clientUrl2(loaded, layout) {
  return toolUrl(plainUrl(loaded, layout), loaded.config, layout);
}
async function verifiedUrl(loaded, layout, user) {
  return withTls(plainUrl(loaded, layout, user), loaded.config, layout);
}
async function shardMap(loaded, layout) {
  const secrets = readSecrets(layout.secretsFile);
  if (!secrets) throw new ClusterStartError(`no cluster in ${layout.dataDir}: run 'npx dpg up' first`);
  const leaders = await groupLeaders(layout);
  const database = loaded.config.cluster.database;
  return withClient(await connectNode(leaders.get(0), secrets, database), async (control) => {
    await refreshNodeRoles(control, layout.groups);
    const result = await control.query(
      `SELECT s.table_name, s.shardid, s.table_name || '_' || s.shardid AS shard_name, s.hash_min, s.hash_max,
              g.name AS group_name, l.host AS nodename, l.port AS nodeport, coalesce(st.size_bytes, 0) AS shard_size
       FROM dpg_catalog.shards s
       JOIN dpg_catalog.placements p USING (shardid)
       JOIN dpg_catalog.groups g USING (group_id)
       JOIN dpg_catalog.group_leaders l USING (group_id)
       LEFT JOIN dpg_catalog.shard_stats st USING (shardid, group_id)
       ORDER BY s.shardid, g.name`
    );
    return result.rows;
  });
}
function formatShardMap(rows) {
  const header = ["TABLE", "SHARD", "HASH RANGE", "GROUP", "NODE", "SIZE"];
  const cells = rows.map((r) => [
    String(r.table_name),
    String(r.shard_name),
    r.hash_min === null ? "(reference: every group)" : `[${r.hash_min}, ${r.hash_max}]`,
    String(r.group_name),
    `${r.nodename}:${r.nodeport}`,
    `${Math.round(Number(r.shard_size) / 1024)} kB`
  ]);
  const all = [header, ...cells];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  return all.map((row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}
async function main(argv) {
  const { command, options } = parse(argv);
  if (options.help || !command) {
    out(USAGE);
    return command || options.help ? 0 : 2;
  }
  if (options.reset && command !== "up") throw new UsageError("--reset goes with up only");
  if (options.monitoring && command !== "up") throw new UsageError("--monitoring goes with up only");
  if (options.coordinators !== void 0 && command !== "up") throw new UsageError("--coordinators goes with up only");
  for (const flag of ["vectors", "per-shard"]) {
    if (options[flag] !== void 0 && command !== "plan-shards") throw new UsageError(`--${flag} goes with plan-shards only`);
  }
  let coordinators;
  if (options.coordinators !== void 0) {
    coordinators = Number(options.coordinators);
    if (!/^[1-9]$/.test(options.coordinators)) throw new UsageError(`--coordinators ${JSON.stringify(options.coordinators)}: give a number of coordinators from 1 to 9`);
  }
  if (options.rows !== void 0 && command !== "demo" && command !== "bench") throw new UsageError("--rows goes with demo or bench only");
  const benchFlags = ["quick", "seed", "bench-config", "scenarios", "duration", "ramp-up", "qps", "concurrency", "out", "no-baseline", "no-tiers", "recall-sample", "arrival"];
  const chaosFlags = ["scenarios", "duration"];
  const misplaced = benchFlags.find((flag) => options[flag] !== void 0 && command !== "bench" && !(command === "chaos" && chaosFlags.includes(flag)) && !(command === "bench-overhead" && flag === "duration"));
  if (misplaced) throw new UsageError(`--${misplaced} goes with ${chaosFlags.includes(misplaced) ? "bench or chaos" : "bench"} only`);
  if (options.namespace !== void 0 && command !== "bench-overhead") throw new UsageError("--namespace goes with bench overhead only");
  const moveFlags = {
    shard: ["move-shard", "split-shard"],
    at: ["split-shard"],
    pieces: ["split-shard"],
    shards: ["merge-shards"],
    group: ["remove-group"],
    to: ["move-shard"],
    from: ["move-shard"],
    resume: ["move-shard"],
    rollback: ["move-shard"],
    list: ["move-shard"],
    "dry-run": ["rebalance"],
    strategy: ["rebalance", "add-group", "remove-group"],
    threshold: ["rebalance", "add-group", "remove-group"],
    "no-rebalance": ["add-group"]
  };
  for (const [flag, owners] of Object.entries(moveFlags)) {
    if (options[flag] !== void 0 && !owners.includes(command)) throw new UsageError(`--${flag} goes with ${owners.join(" or ")} only`);
  }
  switch (command) {
    case "setup": {
      const report = setup2(out);
      out(
        report.installedPackages.length === 0 && !report.builtPgvector && !report.installedRuvector ? `everything is installed (checked in ${report.seconds.toFixed(1)} s)` : `setup done in ${report.seconds.toFixed(1)} s`
      );
      return 0;
    }
    case "up": {
      const loaded = load2(options);
      const result = await upCluster(loaded.config, loaded.dataDir, { reset: options.reset, monitoring: options.monitoring, coordinators, log: err });
      if (result.started.length === 0) out(`the cluster in ${loaded.dataDir} is already running; nothing changed`);
      else out(`cluster ready in ${result.seconds.toFixed(1)} s`);
      out(formatStatus(await clusterStatus(result.layout, result.secrets, loaded.config.cluster.database)));
      out(`
url: ${await verifiedUrl(loaded, result.layout)}`);
      return 0;
    }
    case "down": {
      const loaded = load2(options);
      const layout = existingLayout(loaded);
      const result = await stopCluster(layout, { log: err });
      if (result.leftBehind.length > 0) {
        err(`processes still running after stop: PIDs ${result.leftBehind.join(", ")}`);
        return 1;
      }
      out(result.stopped.length === 0 ? `nothing was running in ${loaded.dataDir}` : `stopped the cluster in ${loaded.dataDir}`);
      return 0;
    }
    case "status": {
      const loaded = load2(options);
      const layout = existingLayout(loaded);
      const status = await clusterStatus(layout, readSecrets(layout.secretsFile), loaded.config.cluster.database);
      out(options.json ? JSON.stringify(status, null, 2) : formatStatus(status));
      return status.running && !status.healthy ? 1 : 0;
    }
    case "url": {
      const loaded = load2(options);
      out(await verifiedUrl(loaded, existingLayout(loaded), typeof options.user === "string" ? options.user : void 0));
      return 0;
    }
    case "fault-proxy": {
      if (!options.config) throw new UsageError("fault-proxy needs --config (dpg up passes it)");
      const config = validateConfig(JSON.parse(readFileSync12(options.config, "utf8")), options.config);
      const proxy = new FaultProxy(existingLayout({ config, path: options.config, dataDir: config.data_dir }));
      await proxy.start();
      err(`fault proxy running (pid ${process.pid})`);
      await new Promise((resolve3) => {
        process.once("SIGTERM", resolve3);
        process.once("SIGINT", resolve3);
      });
      await proxy.stop();
      return 0;
    }
    case "coordinator": {
      if (!options.config) throw new UsageError("coordinator needs --config (dpg up passes it)");
      const config = validateConfig(JSON.parse(readFileSync12(options.config, "utf8")), options.config);
      const layout = existingLayout({ config, path: options.config, dataDir: config.data_dir });
      const secrets = readSecrets(layout.secretsFile);
      if (!secrets) throw new ClusterStartError(`no cluster in ${layout.dataDir}`);
      const instance = Number(options.instance ?? "1");
      const coordinator = layout.coordinators.find((c) => c.index === instance);
      if (!coordinator) throw new UsageError(`--instance ${options.instance}: this cluster runs coordinators 1 to ${layout.coordinators.length}`);
      await runCoordinator(config, layout, secrets, coordinator);
      return -1;
    }
    case "demo": {
      const loaded = load2(options);
      let rows;
      if (options.rows !== void 0) {
        rows = Number(options.rows);
        if (!/^\d+$/.test(options.rows)) throw new UsageError(`--rows ${JSON.stringify(options.rows)} is not a whole number`);
      }
      await runDemo({ url: await clientUrl2(loaded, existingLayout(loaded)), rows, out, progress: true });
      return 0;
    }
    case "plan-shards": {
      const count2 = (flag, value) => {
        if (value === void 0) return void 0;
        const digits = value.replace(/[_,]/g, "");
        if (!/^[1-9]\d{0,14}$/.test(digits)) throw new UsageError(`--${flag} ${JSON.stringify(value)}: give a whole number of vectors, such as 100000000`);
        return Number(digits);
      };
      const vectors = count2("vectors", options.vectors);
      if (vectors === void 0) throw new UsageError("plan-shards needs --vectors N (how many vectors the tables will hold)");
      const plan = planShards(load2(options).config, vectors, count2("per-shard", options["per-shard"]));
      out(options.json ? JSON.stringify(plan, null, 2) : formatShardPlan(plan));
      return 0;
    }
    case "chaos": {
      let scenarios;
      if (typeof options.scenarios === "string") {
        scenarios = options.scenarios.split(",").map((s) => s.trim()).filter(Boolean);
        const unknown = scenarios.find((s) => !CHAOS_SCENARIOS.includes(s));
        if (unknown) throw new UsageError(`--scenarios: unknown scenario ${JSON.stringify(unknown)}; known: ${CHAOS_SCENARIOS.join(", ")}`);
      }
      let durationSeconds;
      if (options.duration !== void 0) {
        try {
          durationSeconds = parseDuration(options.duration, "--duration");
        } catch (error) {
          throw new UsageError(error.message);
        }
        if (durationSeconds < 3 || durationSeconds > 600) throw new UsageError(`--duration ${options.duration}: give 3s to 10m of load per scenario`);
      }
      const loaded = load2(options);
      const layout = existingLayout(loaded);
      const secrets = readSecrets(layout.secretsFile);
      if (!secrets) throw new ClusterStartError(`no cluster in ${loaded.dataDir}: run 'npx dpg up' first`);
      const results = await runChaos({ config: loaded.config, dataDir: loaded.dataDir, layout, secrets, url: await clientUrl2(loaded, layout), log: err }, { scenarios, durationSeconds });
      out(formatChaos(results));
      const bad = results.some((r) => r.verdict && (r.verdict.lost > 0 || r.verdict.phantom > 0 || r.verdict.torn > 0));
      return bad ? 1 : 0;
    }
    case "bench": {
      const loaded = load2(options);
      const benchOptions = parseBenchFlags(options);
      const url = await clientUrl2(loaded, existingLayout(loaded));
      await runBench({ url, workerLogin: workerLoginFor(existingLayout(loaded), url), ...benchOptions, out, progress: true });
      return 0;
    }
    case "bench-overhead": {
      const loaded = load2(options);
      const layout = existingLayout(loaded);
      const secrets = readSecrets(layout.secretsFile);
      if (!secrets) throw new ClusterStartError(`no cluster in ${loaded.dataDir}: run 'npx dpg up' first`);
      const url = new URL(plainUrl(loaded, layout, options.user));
      let seconds = 10;
      if (options.duration !== void 0) {
        try {
          seconds = parseDuration(options.duration, "--duration");
        } catch (error) {
          throw new UsageError(error.message);
        }
        if (seconds < 1 || seconds > 600) throw new UsageError(`--duration ${options.duration}: give 1s to 10m per run`);
      }
      await runOverhead({
        layout,
        secrets,
        database: loaded.config.cluster.database,
        user: { name: decodeURIComponent(url.username), password: decodeURIComponent(url.password) },
        seconds,
        namespace: options.namespace ?? "agent-1/auth-patterns",
        out
      });
      return 0;
    }
    case "move-shard": {
      const loaded = load2(options);
      return moveShardCommand(adminContext(loaded, existingLayout(loaded), err), options, out);
    }
    case "rebalance": {
      const loaded = load2(options);
      await rebalanceCommand(adminContext(loaded, existingLayout(loaded), err), loaded, options, out);
      return 0;
    }
    case "split-shard": {
      const loaded = load2(options);
      await splitShardCommand(adminContext(loaded, existingLayout(loaded), err), options, out);
      return 0;
    }
    case "merge-shards": {
      const loaded = load2(options);
      await mergeShardsCommand(adminContext(loaded, existingLayout(loaded), err), options, out);
      return 0;
    }
    case "add-group": {
      await addGroupCommand(load2(options), options, out, err);
      return 0;
    }
    case "remove-group": {
      await removeGroupCommand(load2(options), options, out, err);
      return 0;
    }
    case "check": {
      const loaded = load2(options);
      const layout = existingLayout(loaded);
      const secrets = readSecrets(layout.secretsFile);
      if (!secrets) throw new ClusterStartError(`no cluster in ${layout.dataDir}: run 'npx dpg up' first`);
      const report = await checkCluster(layout, secrets, loaded.config.cluster.database);
      out(options.json ? JSON.stringify(report, null, 2) : formatCheckReport(report));
      return report.problems.length === 0 ? 0 : 1;
    }
    case "shards": {
      const loaded = load2(options);
      const rows = await shardMap(loaded, existingLayout(loaded));
      out(options.json ? JSON.stringify(rows, null, 2) : formatShardMap(rows));
      return 0;
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}
var expected = [ClientError, BenchConfigError, DemoError, BootstrapError, ConfigFileError, UsageError, ConfigError, DataFolderError, ClusterStartError, SetupError, MissingSystemUserError, UnknownUserError];
main(process.argv.slice(2)).then(
  // -1: a server command that keeps running until signalled.
  (code) => code >= 0 ? process.exit(code) : void 0,
  (error) => {
    if (error instanceof UsageError || error instanceof MoveUsageError) {
      err(`dpg: ${error.message}

${USAGE}`);
      process.exit(2);
    }
    const known = expected.some((kind) => error instanceof kind) || error instanceof Error && /timed out/.test(error.message);
    err(`dpg: ${error instanceof Error ? error.message : String(error)}`);
    if ((!known || process.env.DPG_DEBUG) && error instanceof Error && error.stack) err(error.stack);
    process.exit(1);
  }
);
export {
  main
};
