import { Registry, Counter, Gauge, collectDefaultMetrics } from 'prom-client';
import { METRICS } from './metric-names.ts';
import { FastCounter, FastHistogram } from './fast-metrics.ts';

/** Buckets for query latencies: from 0.25 ms (a routed lookup) to 10 s. */
const LATENCY_BUCKETS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The coordinator's Prometheus metrics (prom-client), one registry per process. With
 * several processes on a host (coordinator.processes) the group's primary serves their
 * sum: counters, histograms and the session and pool gauges add up; what every process
 * measures alike from the cluster (lag, shard sizes, leaders, moves) is taken once
 * (max, or min where the alert looks for the low value); the per-statement CPU is the
 * processes' average.
 * Label cardinality is bounded: the namespace label is off by default and, when on,
 * names at most `namespaceLabelLimit` namespaces (the first seen); every other
 * namespace is counted under "_other".
 */
export class CoordinatorMetrics {
  readonly registry = new Registry();
  readonly vectorSearchDuration = new FastHistogram('vector_search_duration_seconds', METRICS.vector_search_duration_seconds.help, ['namespace', 'shard_id'], LATENCY_BUCKETS, this.registry);
  readonly vectorSearchResults = new FastCounter('vector_search_results_total', METRICS.vector_search_results_total.help, ['namespace'], this.registry);
  /** Observed for every node statement: see fast-metrics.ts. */
  readonly shardQueryLatency = new FastHistogram('shard_query_latency_seconds', METRICS.shard_query_latency_seconds.help, ['shard_id', 'query_type'], LATENCY_BUCKETS, this.registry);
  readonly replicationLagSeconds = new Gauge({ aggregator: 'max', name: 'replication_lag_seconds', help: METRICS.replication_lag_seconds.help, labelNames: ['shard_id', 'replica_id'], registers: [this.registry] });
  readonly replicationLagBytes = new Gauge({ aggregator: 'max', name: 'replication_lag_bytes', help: METRICS.replication_lag_bytes.help, labelNames: ['shard_id', 'replica_id'], registers: [this.registry] });
  readonly shardSize = new Gauge({ aggregator: 'max', name: 'shard_size_bytes', help: METRICS.shard_size_bytes.help, labelNames: ['shard_id'], registers: [this.registry] });
  readonly shardRows = new Gauge({ aggregator: 'max', name: 'shard_row_count', help: METRICS.shard_row_count.help, labelNames: ['shard_id', 'table_name'], registers: [this.registry] });
  readonly groupHasLeader = new Gauge({ aggregator: 'min', name: 'dpg_group_has_leader', help: METRICS.dpg_group_has_leader.help, labelNames: ['group'], registers: [this.registry] });
  readonly clientConnections = new Gauge({ name: 'dpg_client_connections', help: METRICS.dpg_client_connections.help, registers: [this.registry] });
  readonly clientConnectionsMax = new Gauge({ aggregator: 'first', name: 'dpg_client_connections_max', help: METRICS.dpg_client_connections_max.help, registers: [this.registry] });
  readonly poolConnections = new Gauge({ name: 'dpg_pool_connections', help: METRICS.dpg_pool_connections.help, labelNames: ['group', 'state'], registers: [this.registry] });
  readonly planCacheHits = new Counter({ name: 'dpg_plan_cache_hits_total', help: METRICS.dpg_plan_cache_hits_total.help, registers: [this.registry] });
  readonly planCacheMisses = new Counter({ name: 'dpg_plan_cache_misses_total', help: METRICS.dpg_plan_cache_misses_total.help, registers: [this.registry] });
  readonly statements = new FastCounter('dpg_statements_total', METRICS.dpg_statements_total.help, ['route'], this.registry);
  /**
   * The coordinator's CPU (process.cpuUsage: user + system, all threads) per statement
   * since the previous scrape: with many sessions a statement's own CPU cannot be told
   * apart from the others', so it is the process's CPU over the statements it ran.
   */
  readonly statementCpu = new Gauge({
    name: 'dpg_statement_cpu_microseconds',
    help: METRICS.dpg_statement_cpu_microseconds.help,
    registers: [this.registry],
    aggregator: 'average',
    collect: () => this.sampleStatementCpu(),
  });
  private lastCpu = process.cpuUsage();
  private lastStatements = 0;

  private sampleStatementCpu(): void {
    const cpu = process.cpuUsage();
    const statements = this.statements.total();
    const micros = cpu.user - this.lastCpu.user + (cpu.system - this.lastCpu.system);
    const ran = statements - this.lastStatements;
    this.lastCpu = cpu;
    this.lastStatements = statements;
    if (ran > 0) this.statementCpu.set(micros / ran);
  }
  readonly twoPhaseCommits = new Counter({ name: 'dpg_two_phase_commits_total', help: METRICS.dpg_two_phase_commits_total.help, labelNames: ['outcome'], registers: [this.registry] });
  readonly failovers = new Counter({ name: 'dpg_leader_changes_total', help: METRICS.dpg_leader_changes_total.help, labelNames: ['group'], registers: [this.registry] });
  readonly failoverRetries = new Counter({ name: 'dpg_failover_retries_total', help: METRICS.dpg_failover_retries_total.help, labelNames: ['outcome'], registers: [this.registry] });
  readonly resultCache = new Counter({ name: 'dpg_result_cache_requests_total', help: METRICS.dpg_result_cache_requests_total.help, labelNames: ['result'], registers: [this.registry] });
  readonly errors = new Counter({ name: 'dpg_errors_total', help: METRICS.dpg_errors_total.help, labelNames: ['sqlstate_class'], registers: [this.registry] });
  readonly shardMoves = new Gauge({ aggregator: 'max', name: 'dpg_shard_moves', help: METRICS.dpg_shard_moves.help, labelNames: ['kind', 'state', 'running'], registers: [this.registry] });
  readonly shardMoveLastPause = new Gauge({ aggregator: 'max', name: 'dpg_shard_move_last_pause_seconds', help: METRICS.dpg_shard_move_last_pause_seconds.help, labelNames: ['kind'], registers: [this.registry] });
  readonly collectorSuccess = new Gauge({ aggregator: 'min', name: 'dpg_collector_last_success_timestamp_seconds', help: METRICS.dpg_collector_last_success_timestamp_seconds.help, registers: [this.registry] });

  private readonly namespaces = new Set<string>();

  constructor(private readonly namespaceLabelLimit = 0) {
    collectDefaultMetrics({ register: this.registry, prefix: 'dpg_process_' });
    for (const outcome of ['committed', 'failed', 'recovered_commit', 'recovered_rollback']) this.twoPhaseCommits.inc({ outcome }, 0);
    for (const result of ['hit', 'miss']) this.resultCache.inc({ result }, 0);
    for (const outcome of ['retried', 'unknown']) this.failoverRetries.inc({ outcome }, 0);
  }

  /** The namespace label value: the namespace itself for the first N seen, else "_other" ("all" when the label is off). */
  namespaceLabel(namespace: string | null): string {
    if (this.namespaceLabelLimit === 0) return 'all';
    if (namespace === null) return '_multiple';
    if (this.namespaces.has(namespace)) return namespace;
    if (this.namespaces.size < this.namespaceLabelLimit) {
      this.namespaces.add(namespace);
      return namespace;
    }
    return '_other';
  }
}

/** One registry per coordinator process; a process that is not a coordinator never creates it. */
let current: CoordinatorMetrics | null = null;

export function initMetrics(namespaceLabelLimit: number): CoordinatorMetrics {
  current = new CoordinatorMetrics(namespaceLabelLimit);
  return current;
}

/** The process's metrics, or null (planner and executor code also runs in tests without a coordinator). */
export function metrics(): CoordinatorMetrics | null {
  return current;
}
