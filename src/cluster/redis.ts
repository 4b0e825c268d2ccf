import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { DpgConfig } from '../config/config.ts';
import type { ClusterLayout } from './layout.ts';
import type { ClusterSecrets } from './secrets.ts';
import { startDetached, readProcessRecord, isAlive, waitFor, portIsFree } from './processes.ts';

/**
 * The Redis of the seed's result cache, when config enables the cache without naming a
 * Redis of its own: Debian's redis-server on 127.0.0.1 at ports.base + 12, in memory
 * only (a cache has nothing worth saving; the coordinator copes with it being empty).
 */
export const REDIS_PROCESS = 'redis';
export const REDIS_BINARY = '/usr/bin/redis-server';

export function redisDir(layout: ClusterLayout): string {
  return join(layout.dataDir, 'redis');
}

/**
 * The Redis URL the coordinators use, or null when the cache is off. dpg's own Redis
 * asks for a password (requirepass, from the cluster's secrets); a cache.url of your own
 * carries its credentials itself.
 */
export function cacheUrl(config: DpgConfig, layout: ClusterLayout, secrets: ClusterSecrets): string | null {
  if (!config.cache.enabled) return null;
  return config.cache.url ?? `redis://:${encodeURIComponent(secrets.redisPassword)}@${layout.host}:${layout.redisPort}`;
}

export function redisRunning(layout: ClusterLayout): boolean {
  const record = readProcessRecord(layout.runDir, REDIS_PROCESS);
  return !!record && isAlive(record.pid, record.marker);
}

/** Starts dpg's Redis unless it runs; resolves once it accepts connections. */
export async function ensureRedis(layout: ClusterLayout, secrets: ClusterSecrets): Promise<boolean> {
  if (redisRunning(layout)) return false;
  if (!(await portIsFree(layout.redisPort, layout.host))) {
    throw new Error(`port ${layout.redisPort} (Redis of the result cache, ports.base + 12) is in use by another process; free it or set cache.url`);
  }
  const dir = redisDir(layout);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // The password goes in a file of mode 0600, never on the command line (ps shows that).
  const configFile = join(dir, 'redis.conf');
  writeFileSync(configFile, `requirepass "${secrets.redisPassword}"\n`, { mode: 0o600 });
  chmodSync(configFile, 0o600);
  startDetached(layout.runDir, {
    name: REDIS_PROCESS,
    command: REDIS_BINARY,
    // set-proc-title no: Redis would otherwise rewrite its command line, which holds the
    // marker dpg finds its process by.
    args: [configFile, '--bind', layout.host, '--port', String(layout.redisPort), '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--set-proc-title', 'no'],
    logFile: join(layout.dataDir, 'logs', 'redis.log'),
    marker: dir,
  });
  await waitFor(`Redis on ${layout.host}:${layout.redisPort}`, 15_000, async () => {
    if (!redisRunning(layout)) throw new Error(`Redis exited; see ${join(layout.dataDir, 'logs', 'redis.log')}`);
    return new Promise<boolean>((resolve) => {
      const socket = connect({ host: layout.host, port: layout.redisPort });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  });
  return true;
}
