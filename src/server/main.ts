import cluster from 'node:cluster';
import { Coordinator } from './coordinator.ts';
import { joinProcessGroup, processGroupIndex, runProcessGroup } from './process-group.ts';
import { metrics } from '../metrics/metrics.ts';
import { createLogger } from '../shared/log.ts';
import type { DpgConfig } from '../config/config.ts';
import type { ClusterLayout, CoordinatorLayout } from '../cluster/layout.ts';
import { clientUsers, INTERNAL_ROLE, nodePassword, type ClusterSecrets } from '../cluster/secrets.ts';
import { cacheUrl } from '../cluster/redis.ts';
import { readClusterState } from '../cluster/state.ts';
import { patroniNamespace } from '../cluster/patroni.ts';
import { etcdLogins } from '../cluster/etcd-auth.ts';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { nodeTlsFiles, tlsFiles } from '../cluster/certificates.ts';


/**
 * The coordinator as `dpg up` runs it: a foreground process that stops on SIGTERM/SIGINT.
 * With coordinator.processes > 1 this process is the group's primary and forks the
 * coordinators themselves (process-group.ts).
 */
export async function runCoordinator(config: DpgConfig, layout: ClusterLayout, secrets: ClusterSecrets, instance: CoordinatorLayout): Promise<void> {
  const index = processGroupIndex();
  const logger = createLogger({ coordinator: instance.index, ...(index === null ? {} : { process: index }) });
  const log = (line: string) => logger.info(line);
  if (config.coordinator.processes > 1 && cluster.isPrimary) {
    const group = await runProcessGroup({
      processes: config.coordinator.processes,
      host: layout.host,
      metricsPort: instance.metricsPort,
      maxClients: config.coordinator.max_client_connections,
      log,
    });
    stopOnSignals(log, () => group.stop());
    return;
  }
  const pools = config.pools;
  let coordinator: Coordinator | null = null;
  const member =
    index === null
      ? undefined
      : joinProcessGroup(index, {
          cancel: (processId, secretKey) => coordinator?.cancel(processId, secretKey),
          metrics: async () => {
            coordinator?.beforeScrape();
            return (await metrics()?.registry.getMetricsAsJSON()) ?? [];
          },
          ready: async () => coordinator?.readyState() ?? { ready: false, reason: 'starting' },
        });
  const state = readClusterState(join(layout.dataDir, 'cluster.json'));
  coordinator = new Coordinator({
    host: layout.host,
    port: instance.port,
    database: config.cluster.database,
    users: clientUsers(config.users, secrets).map((user) => ({ ...user, nodePassword: nodePassword(secrets, user.name) })),
    control: { nodes: layout.groups[0]!.nodes.map((n) => ({ name: n.name, host: n.host, port: n.pgPort, patroniPort: n.restPort })) },
    // Not the superuser, and not a client's role: it alone writes dpg_catalog.
    backendUser: INTERNAL_ROLE,
    backendPassword: nodePassword(secrets, INTERNAL_ROLE),
    // Every link to a node is TLS, verified against the nodes' CA (dpg up makes it with the cluster).
    nodeTls: existsSync(nodeTlsFiles(layout).ca) ? { ca: readFileSync(nodeTlsFiles(layout).ca) } : undefined,
    maxClients: config.coordinator.max_client_connections,
    tls: tlsOptions(config, layout),
    authenticationTimeoutMs: config.coordinator.authentication_timeout_seconds * 1000,
    // Every coordinator of the cluster derives the same SCRAM salts (a client behind HAProxy
    // cannot tell known users from unknown ones by comparing coordinators).
    scramSecret: createHash('sha256').update(`dpg-scram-salt\0${secrets.superuserPassword}`).digest('base64'),
    defaultShardCount: config.distribution.shard_count,
    group: member,
    logger,
    metrics: {
      // In a group the primary serves the host's endpoint.
      port: index === null ? instance.metricsPort : null,
      namespaceLabelLimit: config.metrics.namespace_label_limit,
      collectIntervalSeconds: config.metrics.collect_interval_seconds,
    },
    leaderWatch: state ? { endpoints: layout.etcd.endpoints, prefix: patroniNamespace(state.clusterId), login: etcdLogins(secrets).coordinator } : undefined,
    failoverWaitMs: config.coordinator.failover_wait_seconds * 1000,
    insertSelectMaxBytes: config.coordinator.insert_select_max_mb * 1024 * 1024,
    heldRowsMaxBytes: config.coordinator.held_rows_max_mb * 1024 * 1024,
    maintenance: config.maintenance.enabled
      ? {
          reindex: config.maintenance.reindex_schedule,
          analyze: config.maintenance.analyze_schedule,
          rebalance: config.distribution.shard_rebalancing.enabled ? config.distribution.shard_rebalancing.schedule : undefined,
        }
      : undefined,
    admin: {
      superuserPassword: secrets.superuserPassword,
      database: config.cluster.database,
      indexBuildMemory: config.vector.index_build_memory,
      threshold: config.distribution.shard_rebalancing.threshold,
      log: (line) => coordinator!.log(line),
    },
    rebalance: { strategy: config.distribution.shard_rebalancing.strategy, maxMoves: config.distribution.shard_rebalancing.max_moves },
    replicaReads: { readFrom: config.query_router.read_from, maxLagMs: config.query_router.max_replica_lag_seconds * 1000 },
    recovery: {
      graceSeconds: config.coordinator.prepared_transaction_grace_seconds,
      intervalSeconds: config.coordinator.recovery_interval_seconds,
    },
    vector: {
      exactSearchMaxRows: config.vector.exact_search_max_rows,
      splitRows: config.vector.split_rows,
      tierCheckIntervalSeconds: config.vector.tier_check_interval_seconds,
      candidateFactor: config.vector.candidate_factor,
      indexBuildMemory: config.vector.index_build_memory,
      profiles: config.hnsw.profiles,
    },
    cache: config.cache.enabled ? { url: cacheUrl(config, layout, secrets)!, ttlSeconds: config.cache.ttl_seconds } : undefined,
    durability: Object.fromEntries(
      (['critical', 'audit', 'ephemeral'] as const).flatMap((cls) => config.replication.tables[cls].map((t) => [t, cls] as const)),
    ),
    workerPool: {
      minSize: pools.worker_pool_per_shard.min_size,
      maxSize: pools.worker_pool_per_shard.max_size,
      maxQueries: pools.worker_pool_per_shard.max_queries,
      maxIdleSeconds: pools.coordinator_pool.max_inactive_connection_lifetime,
      acquireTimeoutMs: config.coordinator.pool_wait_timeout_seconds * 1000,
    },
  });
  const running = coordinator;
  await running.start();
  stopOnSignals(log, () => running.stop().catch(() => {}));
  // A bug in one session must not take the endpoint down: log it and go on.
  process.on('uncaughtException', (error) => logger.error({ err: error }, 'uncaught exception'));
  process.on('unhandledRejection', (error) => logger.error({ err: error }, 'unhandled rejection'));
}

/** SIGTERM or SIGINT: `stop`, then exit 0. */
function stopOnSignals(log: (line: string) => void, stop: () => Promise<void>): void {
  const handle = (signal: string) => {
    log(`${signal}: stopping`);
    void stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => handle('SIGTERM'));
  process.once('SIGINT', () => handle('SIGINT'));
}

/** The client endpoint's certificate and key, read once at start; null when TLS is off. */
function tlsOptions(config: DpgConfig, layout: ClusterLayout): { cert: Buffer; key: Buffer; required: boolean } | undefined {
  const files = tlsFiles(config, layout);
  if (!files) return undefined;
  return { cert: readFileSync(files.cert), key: readFileSync(files.key), required: config.tls.required };
}
