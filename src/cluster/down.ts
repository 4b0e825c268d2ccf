import { listProcessRecords, forgetProcess, stopPid, isAlive, postmasterPid, pidsWithMarker } from './processes.ts';
import { allNodes, type ClusterLayout } from './layout.ts';
import { ETCD_PROCESS } from './etcd.ts';
import { coordinatorConfigFile } from './coordinator-process.ts';
import { REDIS_PROCESS, redisDir } from './redis.ts';
import { HAPROXY_PROCESS } from './haproxy.ts';
import { FAULT_PROXY_PROCESS, faultProxyConfigFile } from '../chaos/fault-proxy.ts';

/** Stops the coordinators and HAProxy only (dpg up changing how many coordinators run). */
export async function stopCoordinators(layout: ClusterLayout, log: (line: string) => void): Promise<void> {
  for (const record of listProcessRecords(layout.runDir).filter((r) => r.name === HAPROXY_PROCESS || r.name.startsWith('coordinator'))) {
    if (isAlive(record.pid, record.marker)) {
      await stopPid(record.pid, record.marker, 'SIGTERM', 10_000);
      log(`stopped ${record.name}`);
    }
    forgetProcess(layout.runDir, record.name);
  }
}

export interface DownResult {
  stopped: string[];
  /** PIDs still alive afterwards (should be none). */
  leftBehind: number[];
}

/**
 * Stops every process of the cluster, by the PIDs dpg recorded: each Patroni first
 * (it shuts its PostgreSQL down cleanly), then any PostgreSQL a dead Patroni left
 * behind, then etcd last, since Patroni needs it to release its leader key.
 */
export async function stopCluster(layout: ClusterLayout, options: { log?: (line: string) => void } = {}): Promise<DownResult> {
  const log = options.log ?? (() => {});
  const records = listProcessRecords(layout.runDir);
  const stopped: string[] = [];
  // HAProxy, coordinators and monitoring first: clients see a clean shutdown instead of failing workers.
  for (const record of records.filter((r) => r.name === HAPROXY_PROCESS || r.name.startsWith('coordinator') || r.name === 'prometheus' || r.name.startsWith('exporter-') || r.name === REDIS_PROCESS)) {
    if (isAlive(record.pid, record.marker)) {
      await stopPid(record.pid, record.marker, 'SIGTERM', 10_000);
      stopped.push(record.name);
    }
    forgetProcess(layout.runDir, record.name);
  }
  const patronis = records.filter((r) => r.name.startsWith('patroni-'));
  await Promise.all(
    patronis.map(async (record) => {
      if (isAlive(record.pid, record.marker)) {
        await stopPid(record.pid, record.marker, 'SIGTERM', 30_000);
        stopped.push(record.name);
      }
      forgetProcess(layout.runDir, record.name);
    }),
  );
  await Promise.all(
    allNodes(layout).map(async (node) => {
      const pid = postmasterPid(node.pgDataDir);
      if (pid !== null && isAlive(pid, node.pgDataDir)) {
        log(`PostgreSQL of ${node.name} (PID ${pid}) outlived its Patroni; stopping it`);
        await stopPid(pid, node.pgDataDir, 'SIGINT', 20_000);
        stopped.push(`postgres-${node.name}`);
      }
    }),
  );
  // The fault proxy carries Patroni's etcd traffic: it stops after Patroni, before etcd.
  for (const record of records.filter((r) => r.name === FAULT_PROXY_PROCESS || r.name === ETCD_PROCESS)) {
    if (isAlive(record.pid, record.marker)) {
      await stopPid(record.pid, record.marker, 'SIGTERM', 10_000);
      stopped.push(record.name);
    }
    forgetProcess(layout.runDir, record.name);
  }
  // Markers specific to our servers (a folder in their command lines), not the data folder,
  // which the command line of the dpg invocation itself may contain.
  const markers = [layout.etcd.dir, coordinatorConfigFile(layout), redisDir(layout), ...(layout.haproxy ? [layout.haproxy.configFile] : []), ...(layout.faultProxy ? [faultProxyConfigFile(layout)] : []), ...allNodes(layout).map((n) => n.dir)];
  const leftBehind = [...new Set(markers.flatMap((m) => pidsWithMarker(m)))];
  if (stopped.length > 0) log(`stopped ${stopped.join(', ')}`);
  return { stopped, leftBehind };
}
