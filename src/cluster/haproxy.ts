import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ClusterLayout } from './layout.ts';
import { startDetached, type ProcessRecord } from './processes.ts';

export const HAPROXY_BINARY = '/usr/sbin/haproxy';
export const HAPROXY_PROCESS = 'haproxy';

/**
 * HAProxy in front of several coordinators (TCP: the PostgreSQL protocol passes
 * through untouched): each coordinator is health-checked on its HTTP /ready, every
 * second; one that fails twice is taken out and its client sessions are closed (so
 * clients reconnect to a live one), one that answers once is back in.
 */
export function haproxyConfig(layout: ClusterLayout, clientsPerCoordinator: number): string {
  // Every client the coordinators accept, and no more than the usual open-file limit
  // allows (HAProxy needs two descriptors per session and refuses to start otherwise).
  const maxconn = Math.min(9000, layout.coordinators.length * clientsPerCoordinator + 100);
  const servers = layout.coordinators.map(
    (c) => `  server ${c.processName} ${layout.host}:${c.port} check port ${c.metricsPort} inter 1s fall 2 rise 1 on-marked-down shutdown-sessions`,
  );
  return [
    '# Written by dpg up: HAProxy in front of the coordinators.',
    'global',
    `  maxconn ${maxconn}`,
    'defaults',
    '  mode tcp',
    '  timeout connect 3s',
    // Client sessions are long-lived and may idle: no client/server timeouts to cut them.
    '  timeout client 24h',
    '  timeout server 24h',
    '  timeout check 2s',
    // A coordinator that refuses a new connection (killed, not yet marked down): try another.
    '  retries 2',
    '  option redispatch',
    'frontend dpg',
    `  bind ${layout.host}:${layout.clientPort}`,
    '  default_backend coordinators',
    'backend coordinators',
    '  balance leastconn',
    '  option httpchk GET /ready',
    '  http-check expect status 200',
    ...servers,
    '',
  ].join('\n');
}

export function haproxyInstalled(): boolean {
  return existsSync(HAPROXY_BINARY);
}

export function startHaproxy(layout: ClusterLayout, clientsPerCoordinator: number): ProcessRecord {
  const haproxy = layout.haproxy;
  if (!haproxy) throw new Error('one coordinator: no HAProxy to start');
  mkdirSync(dirname(haproxy.configFile), { recursive: true });
  writeFileSync(haproxy.configFile, haproxyConfig(layout, clientsPerCoordinator));
  return startDetached(layout.runDir, {
    name: HAPROXY_PROCESS,
    command: HAPROXY_BINARY,
    // -db: stay in the foreground (dpg keeps its PID); -f: dpg's config only.
    args: ['-db', '-f', haproxy.configFile],
    logFile: haproxy.logFile,
    marker: haproxy.configFile,
  });
}
