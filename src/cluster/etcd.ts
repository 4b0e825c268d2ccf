import { mkdirSync } from 'node:fs';
import type { EtcdLayout } from './layout.ts';
import { startDetached, waitFor, type ProcessRecord } from './processes.ts';

export const ETCD_PROCESS = 'etcd';
export const ETCD_BINARY = '/usr/bin/etcd';

/** Starts the single local etcd member that holds the Patroni leader keys. */
export function startEtcd(runDir: string, etcd: EtcdLayout, host: string): ProcessRecord {
  mkdirSync(etcd.dir, { recursive: true, mode: 0o700 });
  const client = `http://${host}:${etcd.clientPort}`;
  const peer = `http://${host}:${etcd.peerPort}`;
  return startDetached(runDir, {
    name: ETCD_PROCESS,
    command: ETCD_BINARY,
    args: [
      '--name', 'dpg-etcd',
      '--data-dir', etcd.dir,
      '--listen-client-urls', client,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `dpg-etcd=${peer}`,
      '--initial-cluster-state', 'new',
      // A local member on a busy 2-core machine: keep the default timings but a small WAL.
      '--snapshot-count', '10000',
      '--quota-backend-bytes', String(512 * 1024 * 1024),
    ],
    logFile: etcd.logFile,
    marker: etcd.dir,
  });
}

export async function etcdHealthy(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    if (!response.ok) return false;
    const body = (await response.json()) as { health?: string };
    return body.health === 'true';
  } catch {
    return false;
  }
}

export async function waitForEtcd(endpoints: string[], timeoutMs: number): Promise<void> {
  await waitFor(`etcd at ${endpoints.join(', ')}`, timeoutMs, async () => {
    for (const endpoint of endpoints) if (await etcdHealthy(endpoint)) return true;
    return false;
  });
}
