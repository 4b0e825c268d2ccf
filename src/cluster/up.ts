import { ensureLocalCertificates, ensureNodeCertificates, toolUrl } from './certificates.ts';
import { existsSync, mkdirSync, rmSync, chownSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { DpgConfig } from '../config/config.ts';
import { buildLayout, allNodes, listeningPorts, type ClusterLayout, type GroupLayout, type NodeLayout } from './layout.ts';
import { openClusterState, fallbackNodesRoot, writeClusterState, readClusterState, workerGroupIdsOf, type ClusterState } from './state.ts';
import { clientUsers, loadOrCreateSecrets, userUrl, type ClusterSecrets } from './secrets.ts';
import { lookupSystemUser, runAs, type SystemUser } from './system-user.ts';
import { startEtcd, waitForEtcd, ETCD_PROCESS, ETCD_BINARY } from './etcd.ts';
import { ensureEtcdAuth } from './etcd-auth.ts';
import { enableLogicalDecoding, patroniConfig, writePatroniConfig, patroniConfigCurrent, reloadPatroni, startPatroni, patroniProcessName, groupMembers, patroniNodeState, PATRONI_BINARY } from './patroni.ts';
import { readProcessRecord, isAlive, portIsFree, waitFor, postmasterPid, stopPid } from './processes.ts';
import { postgresInstalled } from './postgres-binaries.ts';
import { vectorExtensionInstalled } from './setup.ts';
import { bootstrapCluster, grantSeedTables, isolateNamespaces, prepareGroups, createSeedSchema, upgradeCatalog, upgradeSeedSchema } from './bootstrap.ts';
import { cacheUrl, ensureRedis, REDIS_PROCESS } from './redis.ts';
import { coordinatorConfigChanged, startCoordinator, waitForCoordinator, writeCoordinatorConfig } from './coordinator-process.ts';
import { HAPROXY_PROCESS, startHaproxy, haproxyInstalled } from './haproxy.ts';
import { FAULT_PROXY_PROCESS, faultProxyConfigFile, startFaultProxy } from '../chaos/fault-proxy.ts';
import { startMonitoring, monitoringInstalled, monitoringProcessNames, monitoringPorts } from './monitoring.ts';
import { stopCluster, stopCoordinators } from './down.ts';

export interface UpOptions {
  /** Delete an existing data folder first (the only way dpg deletes one). */
  reset?: boolean;
  /** Also run Prometheus and a PostgreSQL exporter per node (dpg up --monitoring). */
  monitoring?: boolean;
  /** Coordinators to run (dpg up --coordinators N); absent: as many as the last up ran, else config's coordinator.instances. */
  coordinators?: number;
  log?: (line: string) => void;
  timeoutMs?: number;
}

export interface UpResult {
  layout: ClusterLayout;
  state: ClusterState;
  secrets: ClusterSecrets;
  /** Names of the processes this call started; empty when the cluster was already running. */
  started: string[];
  seconds: number;
}

export class ClusterStartError extends Error {}

/** Checks the binaries a cluster needs, naming the command that installs them. */
export function checkInstalled(): void {
  const missing: string[] = [];
  if (!postgresInstalled()) missing.push('PostgreSQL 15');
  if (!vectorExtensionInstalled()) missing.push('pgvector (and the ruvector extension)');
  if (!existsSync(PATRONI_BINARY)) missing.push('Patroni');
  if (!existsSync(ETCD_BINARY)) missing.push('etcd');
  if (missing.length > 0) throw new ClusterStartError(`missing: ${missing.join(', ')}. Run 'npx dpg setup' to install them`);
}

/** True when the postgres user can write into `dir` (every parent folder must let it through). */
function postgresCanUse(dir: string, user: SystemUser): boolean {
  return spawnSync('/usr/bin/test', ['-w', dir, '-a', '-x', dir], { ...runAs(user) }).status === 0;
}

function resolveNodesRoot(dataDir: string, user: SystemUser): string {
  const inside = join(dataDir, 'nodes');
  mkdirSync(inside, { recursive: true, mode: 0o755 });
  chownSync(inside, user.uid, user.gid);
  if (postgresCanUse(inside, user)) return inside;
  rmSync(inside, { recursive: true, force: true });
  return fallbackNodesRoot(dataDir);
}

/** See ClusterState.nodeLogins. */
const NODE_LOGINS = 2;

/**
 * Brings the local cluster up: etcd, then every node's Patroni, then (first time only)
 * databases, catalog and schema. Idempotent: processes already running are left alone.
 */
export async function upCluster(config: DpgConfig, dataDir: string, options: UpOptions = {}): Promise<UpResult> {
  const log = options.log ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 120_000;
  const startedAt = Date.now();
  checkInstalled();
  const user = lookupSystemUser();

  if (options.reset && existsSync(dataDir)) {
    const recorded = readClusterState(join(dataDir, 'cluster.json'));
    const previous = buildLayout(config, dataDir, recorded?.nodesRoot, recorded?.coordinators, workerGroupIdsOf(recorded));
    await stopCluster(previous, { log });
    log(`--reset: deleting ${dataDir}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
  const state = openClusterState(dataDir, join(dataDir, 'cluster.json'), config, () => resolveNodesRoot(dataDir, user));
  if (state.nodesRoot !== join(dataDir, 'nodes')) {
    if (options.reset) rmSync(state.nodesRoot, { recursive: true, force: true });
    mkdirSync(state.nodesRoot, { recursive: true, mode: 0o755 });
    chownSync(state.nodesRoot, user.uid, user.gid);
    log(`the postgres user cannot reach ${dataDir}; node data lives in ${state.nodesRoot}`);
  }
  const coordinatorCount = options.coordinators ?? state.coordinators ?? config.coordinator.instances;
  const layout = buildLayout(config, dataDir, state.nodesRoot, coordinatorCount, workerGroupIdsOf(state));
  const secrets = loadOrCreateSecrets(layout.secretsFile);
  if (state.coordinators !== undefined && state.coordinators !== coordinatorCount) {
    // A different number of coordinators listens on different ports: the old set stops first.
    await stopCoordinators(buildLayout(config, dataDir, state.nodesRoot, state.coordinators, workerGroupIdsOf(state)), log);
  }
  if (state.coordinators !== coordinatorCount) {
    state.coordinators = coordinatorCount;
    writeClusterState(layout.stateFile, state);
  }
  if (layout.haproxy && !haproxyInstalled()) throw new ClusterStartError(`several coordinators need HAProxy: run 'npx dpg setup'`);
  if (state.catalogCreated && state.nodeLogins !== NODE_LOGINS) {
    // Coordinators of an older dpg log in to nodes with credentials this run replaces.
    await stopCoordinators(layout, log);
  }

  if (coordinatorConfigChanged(config, layout)) {
    // The coordinators read their config once, at start: a changed one takes a restart.
    log('the coordinator config changed: restarting the coordinators');
    await stopCoordinators(layout, log);
  }
  const toStart = await processesToStart(layout, !!options.monitoring);
  if (options.monitoring && !monitoringInstalled()) {
    throw new ClusterStartError(`--monitoring needs Prometheus and prometheus-postgres-exporter: run 'npx dpg setup'`);
  }
  await checkPortsFree(layout, toStart);
  const started: string[] = [];

  if (layout.etcd.local && toStart.has(ETCD_PROCESS)) {
    startEtcd(layout.runDir, layout.etcd, layout.host);
    started.push(ETCD_PROCESS);
    log(`etcd starting on ${layout.host}:${layout.etcd.clientPort}`);
  }
  await waitForEtcd(layout.etcd.endpoints, 30_000);
  if (layout.etcd.local) {
    // Authentication goes on once no Patroni runs with a config from before it (each then
    // starts with its etcd user); a cluster of an older dpg gets it at its next full start.
    const everyPatroniStarts = layout.groups.every((g) => g.nodes.every((n) => toStart.has(patroniProcessName(n))));
    const on = await ensureEtcdAuth(layout.etcd.endpoints[0]!, secrets, everyPatroniStarts);
    if (!on) log('etcd authentication goes on at the next full start (npx dpg down, then npx dpg up): running Patroni nodes have no etcd user yet');
  }
  if (layout.faultProxy && toStart.has(FAULT_PROXY_PROCESS)) {
    // Patroni reaches etcd through it: it runs before any Patroni starts.
    const configFile = faultProxyConfigFile(layout);
    writeFileSync(configFile, JSON.stringify({ ...config, data_dir: layout.dataDir }, null, 2));
    startFaultProxy(layout, configFile);
    started.push(FAULT_PROXY_PROCESS);
    await waitFor('the fault proxy', 15_000, async () => !(await portIsFree(layout.faultProxy!.controlPort, layout.host)), 100);
  }

  const nodeCertificates = ensureNodeCertificates(layout);
  const reloaded: string[] = [];
  for (const group of layout.groups) {
    for (const node of group.nodes) {
      const name = patroniProcessName(node);
      const file = patroniConfig(config, layout, group, node, state.clusterId, secrets);
      if (!toStart.has(name)) {
        // A node of a cluster made by an earlier dpg: the same config (TLS, REST API password), taken by a reload.
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
  if (reloaded.length > 0) log(`reloaded ${reloaded.join(', ')} with the current node config`);
  if (started.length > 0) log(`started ${started.join(', ')}`);

  const remaining = () => Math.max(10_000, timeoutMs - (Date.now() - startedAt));
  await Promise.all(layout.groups.map((group) => waitForGroupReady(group, config.replication.synchronous_mode, remaining())));
  log(`every group has a leader and streaming replicas (${((Date.now() - startedAt) / 1000).toFixed(1)} s)`);
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
  if (cacheUrl(config, layout, secrets) !== null && config.cache.url === null && (await ensureRedis(layout, secrets))) {
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
  return { layout, state, secrets, started, seconds: (Date.now() - startedAt) / 1000 };
}

/**
 * A PostgreSQL whose Patroni died keeps running unmanaged; it is stopped (fast
 * shutdown) so the new Patroni starts it under its control.
 */
async function stopOrphanedPostgres(node: NodeLayout, log: (line: string) => void): Promise<void> {
  const pid = postmasterPid(node.pgDataDir);
  if (pid === null || !isAlive(pid, node.pgDataDir)) return;
  log(`PostgreSQL of ${node.name} (PID ${pid}) runs without its Patroni; stopping it so Patroni can take it over`);
  await stopPid(pid, node.pgDataDir, 'SIGINT', 30_000);
}

/** Processes of the layout that are not running now. */
async function processesToStart(layout: ClusterLayout, monitoring: boolean): Promise<Set<string>> {
  const names = new Set<string>();
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
  for (const name of [...layout.coordinators.map((c) => c.processName), ...(layout.haproxy ? [HAPROXY_PROCESS] : []), ...(layout.faultProxy ? [FAULT_PROXY_PROCESS] : [])]) {
    const record = readProcessRecord(layout.runDir, name);
    if (!record || !isAlive(record.pid, record.marker)) names.add(name);
  }
  for (const node of allNodes(layout)) {
    const record = readProcessRecord(layout.runDir, patroniProcessName(node));
    if (!record || !isAlive(record.pid, record.marker)) names.add(patroniProcessName(node));
  }
  return names;
}

async function checkPortsFree(layout: ClusterLayout, toStart: Set<string>): Promise<void> {
  const busy: string[] = [];
  for (const { port, what, process } of monitoringPorts(layout)) {
    if (toStart.has(process) && !(await portIsFree(port, layout.host))) busy.push(`${port} (${what})`);
  }
  for (const { port, what, node } of listeningPorts(layout)) {
    const owner = node
      ? patroniProcessName(node)
      : what === 'HAProxy'
        ? HAPROXY_PROCESS
        : what.startsWith('coordinator')
          ? what.split(' ')[0]!
          : what.startsWith('fault-proxy')
            ? FAULT_PROXY_PROCESS
            : ETCD_PROCESS;
    if (!toStart.has(owner)) continue;
    // An orphaned PostgreSQL of our own holds its port; up stops it before restarting Patroni.
    const ownPostmaster = node && port === node.pgPort ? postmasterPid(node.pgDataDir) : null;
    if (node && ownPostmaster !== null && isAlive(ownPostmaster, node.pgDataDir)) continue;
    if (!(await portIsFree(port, layout.host))) busy.push(`${port} (${what})`);
  }
  if (busy.length > 0) {
    throw new ClusterStartError(
      `port${busy.length > 1 ? 's' : ''} ${busy.join(', ')} already in use by another process. ` +
        `Stop it, or give this cluster other ports with --base-port or ports.base in the config`,
    );
  }
}

/** Waits until the group has a running leader and every other member streams from it. */
export async function waitForGroupReady(group: GroupLayout, synchronous: boolean, timeoutMs: number): Promise<void> {
  await waitFor(`group ${group.name} to elect a leader and start its replicas`, timeoutMs, async () => {
    const members = await groupMembers(group);
    if (!members || members.length !== group.nodes.length) return false;
    const leader = members.find((m) => m.role === 'leader' && m.state === 'running');
    if (!leader) return false;
    if (!members.every((m) => m === leader || m.state === 'running' || m.state === 'streaming')) return false;
    // The DCS keeps a dead member's last state until its key expires: ask each node itself.
    const own = await Promise.all(group.nodes.map((node) => patroniNodeState(node)));
    if (!own.every((state) => state === 'running')) return false;
    // In synchronous mode Patroni names a sync standby only once it streams from the leader.
    return !synchronous || members.length === 1 || members.some((m) => m.role === 'sync_standby');
  }, 250);
}
