import { join } from 'node:path';
import type { DpgConfig } from '../config/config.ts';

/**
 * Where every process of a local cluster lives: ports derived from one base port
 * (so two clusters can run side by side) and folders inside the data folder.
 *
 *   base + 0          client endpoint (the coordinator, or HAProxy in front of several)
 *   base + 1..9       coordinators, when there are several
 *   base + 10, 11     etcd client, etcd peer
 *   base + 20..29     coordinator metrics
 *   base + 30         Prometheus (dpg up --monitoring)
 *   base + 40 + k     PostgreSQL exporter of the k-th node
 *   base + 100 + 10g + i   PostgreSQL of node i in group g (g = 0 is the control group; worker
 *                          groups keep their id, so removing one leaves a gap)
 *   base + 200 + 10g + i   Patroni REST API of that node
 *   base + 300 + 10g + i   fault proxy: the coordinators' way to that node's PostgreSQL
 *   base + 305 + 10g + i   fault proxy: that node's Patroni's way to etcd
 *   base + 31              fault proxy control (HTTP), with cluster.fault_proxies
 */
export interface NodeLayout {
  /** Patroni member name, also the standby's application_name. */
  name: string;
  groupId: number;
  index: number;
  host: string;
  pgPort: number;
  restPort: number;
  /** Folder owned by the postgres user: patroni.yml, pgdata/, socket, logs. */
  dir: string;
  pgDataDir: string;
  patroniConfig: string;
  logFile: string;
  /** With cluster.fault_proxies: the port coordinators reach this node's PostgreSQL on. */
  proxyPgPort: number;
  /** With cluster.fault_proxies: the port this node's Patroni reaches etcd on. */
  proxyEtcdPort: number;
}

export interface GroupLayout {
  id: number;
  /** Patroni scope. */
  name: string;
  kind: 'control' | 'worker';
  nodes: NodeLayout[];
}

export interface EtcdLayout {
  /** True when dpg runs the member itself (no endpoints given in config). */
  local: boolean;
  clientPort: number;
  peerPort: number;
  dir: string;
  logFile: string;
  endpoints: string[];
}

/** One coordinator process: its PostgreSQL port and its HTTP port (/metrics, /health, /ready). */
export interface CoordinatorLayout {
  /** 1-based; the process is `coordinator-<index>`. */
  index: number;
  port: number;
  metricsPort: number;
  processName: string;
  logFile: string;
}

export interface ClusterLayout {
  dataDir: string;
  host: string;
  /** The port clients use: the coordinator's, or HAProxy's in front of several. */
  clientPort: number;
  /** The first coordinator's HTTP port: /metrics, /health, /ready. */
  metricsPort: number;
  coordinators: CoordinatorLayout[];
  /** dpg's fault-injecting proxy (cluster.fault_proxies), with its HTTP control port; null without. */
  faultProxy: { controlPort: number; logFile: string } | null;
  /** HAProxy in front of several coordinators (null with one), listening on clientPort. */
  haproxy: { configFile: string; logFile: string } | null;
  /** Prometheus (dpg up --monitoring); the PostgreSQL exporters follow it. */
  prometheusPort: number;
  /** The Redis dpg runs for the result cache (cache.enabled without cache.url). */
  redisPort: number;
  etcd: EtcdLayout;
  groups: GroupLayout[];
  runDir: string;
  secretsFile: string;
  stateFile: string;
}

export { PORT_SPAN } from '../config/config.ts';

/** Root for node folders: inside the data folder unless the postgres user cannot reach it. */
export function buildLayout(
  config: DpgConfig,
  dataDir: string,
  nodesRoot = join(dataDir, 'nodes'),
  coordinatorCount = config.coordinator.instances,
  /** The cluster's worker groups, a count (ids 1..n) or their ids: config's count when it was made, then what dpg add-group / remove-group left. */
  workerGroups: number | number[] = config.cluster.worker_groups.count,
): ClusterLayout {
  const base = config.ports.base;
  // One coordinator listens on the client port itself; several sit behind HAProxy there.
  const coordinators: CoordinatorLayout[] = Array.from({ length: coordinatorCount }, (_, i) => ({
    index: i + 1,
    port: coordinatorCount === 1 ? base : base + 1 + i,
    metricsPort: base + 20 + i,
    processName: `coordinator-${i + 1}`,
    logFile: join(dataDir, 'logs', `coordinator-${i + 1}.log`),
  }));
  const host = config.cluster.host;
  const groups: GroupLayout[] = [];
  const workerIds = typeof workerGroups === 'number' ? Array.from({ length: workerGroups }, (_, i) => i + 1) : workerGroups;
  const groupSizes = new Map([[0, config.cluster.control_group.nodes], ...workerIds.map((id): [number, number] => [id, config.distribution.replication_factor])]);
  groupSizes.forEach((size, g) => {
    const name = g === 0 ? 'control' : `worker${g}`;
    const nodes: NodeLayout[] = [];
    for (let i = 0; i < size; i++) {
      const nodeName = `${name}-${i}`;
      const dir = join(nodesRoot, nodeName);
      nodes.push({
        name: nodeName,
        groupId: g,
        index: i,
        host,
        pgPort: base + 100 + 10 * g + i,
        restPort: base + 200 + 10 * g + i,
        dir,
        pgDataDir: join(dir, 'pgdata'),
        patroniConfig: join(dir, 'patroni.yml'),
        logFile: join(dir, 'patroni.log'),
        proxyPgPort: base + 300 + 10 * g + i,
        proxyEtcdPort: base + 305 + 10 * g + i,
      });
    }
    groups.push({ id: g, name, kind: g === 0 ? 'control' : 'worker', nodes });
  });
  const etcdDir = join(dataDir, 'etcd');
  const local = config.cluster.etcd.endpoints.length === 0;
  return {
    dataDir,
    host,
    clientPort: base,
    metricsPort: base + 20,
    coordinators,
    faultProxy: config.cluster.fault_proxies ? { controlPort: base + 31, logFile: join(dataDir, 'logs', 'fault-proxy.log') } : null,
    haproxy: coordinatorCount > 1 ? { configFile: join(dataDir, 'haproxy', 'haproxy.cfg'), logFile: join(dataDir, 'logs', 'haproxy.log') } : null,
    prometheusPort: base + 30,
    redisPort: base + 12,
    etcd: {
      local,
      clientPort: base + 10,
      peerPort: base + 11,
      dir: etcdDir,
      logFile: join(dataDir, 'logs', 'etcd.log'),
      endpoints: local ? [`http://${host}:${base + 10}`] : config.cluster.etcd.endpoints,
    },
    groups,
    runDir: join(dataDir, 'run'),
    secretsFile: join(dataDir, 'secrets.json'),
    stateFile: join(dataDir, 'cluster.json'),
  };
}

export function allNodes(layout: ClusterLayout): NodeLayout[] {
  return layout.groups.flatMap((g) => g.nodes);
}

export function workerGroups(layout: ClusterLayout): GroupLayout[] {
  return layout.groups.filter((g) => g.kind === 'worker');
}

/** Every port the cluster listens on, named for error messages, with the node whose it is. */
export function listeningPorts(layout: ClusterLayout): { port: number; what: string; node: NodeLayout | null }[] {
  const ports: { port: number; what: string; node: NodeLayout | null }[] = [];
  if (layout.haproxy) ports.push({ port: layout.clientPort, what: 'HAProxy', node: null });
  for (const c of layout.coordinators) {
    ports.push({ port: c.port, what: c.processName, node: null }, { port: c.metricsPort, what: `${c.processName} metrics`, node: null });
  }
  if (layout.etcd.local) {
    ports.push({ port: layout.etcd.clientPort, what: 'etcd client', node: null }, { port: layout.etcd.peerPort, what: 'etcd peer', node: null });
  }
  for (const node of allNodes(layout)) {
    ports.push(
      { port: node.pgPort, what: `PostgreSQL of ${node.name}`, node },
      { port: node.restPort, what: `Patroni REST API of ${node.name}`, node },
    );
  }
  if (layout.faultProxy) {
    ports.push({ port: layout.faultProxy.controlPort, what: 'fault-proxy control', node: null });
    for (const node of allNodes(layout)) {
      ports.push({ port: node.proxyPgPort, what: `fault-proxy to PostgreSQL of ${node.name}`, node: null }, { port: node.proxyEtcdPort, what: `fault-proxy to etcd for ${node.name}`, node: null });
    }
  }
  return ports;
}

/** The port coordinators connect to a node's PostgreSQL on (through the fault proxy when there is one). */
export function coordinatorPort(layout: ClusterLayout, node: NodeLayout): number {
  return layout.faultProxy ? node.proxyPgPort : node.pgPort;
}
