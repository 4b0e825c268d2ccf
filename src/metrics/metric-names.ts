/**
 * Every metric a dpg coordinator exports, by name, with its labels. The seed's
 * names come first (its "Monitoring & Metrics" section); the dpg_* metrics are what
 * an operator of dpg needs besides. Alert rules and dashboards may use only these
 * (and the PostgreSQL exporter's pg_* metrics, and Prometheus' own `up`); a test
 * checks that.
 */
export const METRICS = {
  // The seed's metrics.
  vector_search_duration_seconds: { type: 'histogram', labels: ['namespace', 'shard_id'], help: 'Duration of vector search operations' },
  vector_search_results_total: { type: 'counter', labels: ['namespace'], help: 'Total number of vector search results returned' },
  shard_query_latency_seconds: { type: 'histogram', labels: ['shard_id', 'query_type'], help: 'Query latency per shard' },
  replication_lag_seconds: { type: 'gauge', labels: ['shard_id', 'replica_id'], help: 'Replication lag in seconds (replay_lag as the primary reports it)' },
  shard_size_bytes: { type: 'gauge', labels: ['shard_id'], help: 'Size of shard in bytes' },
  shard_row_count: { type: 'gauge', labels: ['shard_id', 'table_name'], help: 'Number of rows per shard' },
  // dpg's own.
  replication_lag_bytes: { type: 'gauge', labels: ['shard_id', 'replica_id'], help: 'Bytes of WAL a standby is behind its primary' },
  dpg_group_has_leader: { type: 'gauge', labels: ['group'], help: '1 when the group has a running primary, 0 when it has none' },
  dpg_client_connections: { type: 'gauge', labels: [], help: 'Client connections to this coordinator' },
  dpg_client_connections_max: { type: 'gauge', labels: [], help: 'Client connections this coordinator accepts' },
  dpg_pool_connections: { type: 'gauge', labels: ['group', 'state'], help: 'Worker connections per group: in_use, idle, waiting (sessions waiting for one)' },
  dpg_plan_cache_hits_total: { type: 'counter', labels: [], help: 'Statements planned from the plan cache' },
  dpg_plan_cache_misses_total: { type: 'counter', labels: [], help: 'Statements parsed and planned' },
  dpg_statements_total: { type: 'counter', labels: ['route'], help: 'Statements by route: router (one shard), multi_shard, control, local' },
  dpg_statement_cpu_microseconds: { type: 'gauge', labels: [], help: 'Coordinator CPU (user + system, from process.cpuUsage) per statement since the previous scrape' },
  dpg_two_phase_commits_total: { type: 'counter', labels: ['outcome'], help: 'Distributed commits: committed, failed, recovered_commit, recovered_rollback' },
  dpg_leader_changes_total: { type: 'counter', labels: ['group'], help: 'Changes of a group\'s primary this coordinator followed (from etcd)' },
  dpg_failover_retries_total: { type: 'counter', labels: ['outcome'], help: 'Statements hit by a lost or refused worker connection: retried (a read, or a write that never reached the worker) or unknown (a write whose outcome the client is told is unknown)' },
  dpg_result_cache_requests_total: { type: 'counter', labels: ['result'], help: 'Result cache lookups: hit or miss' },
  dpg_errors_total: { type: 'counter', labels: ['sqlstate_class'], help: 'Errors sent to clients, by SQLSTATE class (first two characters)' },
  dpg_shard_moves: { type: 'gauge', labels: ['kind', 'state', 'running'], help: 'Shard moves, splits and merges that have not ended, by kind, step, and whether a process runs them (running="false": stopped, to resume or roll back)' },
  dpg_shard_move_last_pause_seconds: { type: 'gauge', labels: ['kind'], help: 'Write pause of the cutover of the last finished move, split or merge' },
  dpg_collector_last_success_timestamp_seconds: { type: 'gauge', labels: [], help: 'When the shard/replication collector last completed' },
} as const;

export type MetricName = keyof typeof METRICS;
