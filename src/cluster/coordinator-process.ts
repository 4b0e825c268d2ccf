import { writeFileSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DpgConfig } from '../config/config.ts';
import type { ClusterLayout, CoordinatorLayout } from './layout.ts';
import { startDetached, readProcessRecord, isAlive, sleep, type ProcessRecord } from './processes.ts';

/** Process records of coordinators are named coordinator-1, coordinator-2, ... */
export const COORDINATOR_PREFIX = 'coordinator-';
const DPG_BIN = fileURLToPath(new URL('../../bin/dpg.mjs', import.meta.url));

/** The config the coordinator runs with, as `dpg up` resolved it (flags and file merged). */
export function coordinatorConfigFile(layout: ClusterLayout): string {
  return join(layout.dataDir, 'coordinator-config.json');
}

const coordinatorConfigText = (config: DpgConfig, layout: ClusterLayout) => JSON.stringify({ ...config, data_dir: layout.dataDir }, null, 2);

/** Writes the config every coordinator of the cluster runs with (flags and file merged). */
export function writeCoordinatorConfig(config: DpgConfig, layout: ClusterLayout): void {
  writeFileSync(coordinatorConfigFile(layout), coordinatorConfigText(config, layout));
}

/** The coordinators of an earlier dpg up run with another config than this one (false when none was written). */
export function coordinatorConfigChanged(config: DpgConfig, layout: ClusterLayout): boolean {
  try {
    return readFileSync(coordinatorConfigFile(layout), 'utf8') !== coordinatorConfigText(config, layout);
  } catch {
    return false;
  }
}

export function startCoordinator(layout: ClusterLayout, coordinator: CoordinatorLayout): ProcessRecord {
  const configFile = coordinatorConfigFile(layout);
  return startDetached(layout.runDir, {
    name: coordinator.processName,
    command: process.execPath,
    args: [DPG_BIN, 'coordinator', '--config', configFile, '--instance', String(coordinator.index)],
    logFile: coordinator.logFile,
    // The config file's path is in the command line and names this cluster's coordinators only.
    marker: configFile,
  });
}

function portAccepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits until every coordinator (and HAProxy in front of several) accepts connections. */
export async function waitForCoordinator(layout: ClusterLayout, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const coordinator of layout.coordinators) {
    for (;;) {
      const record = readProcessRecord(layout.runDir, coordinator.processName);
      if (!record || !isAlive(record.pid, record.marker)) {
        let tail = '';
        try {
          tail = readFileSync(coordinator.logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
        } catch {
          // no log yet
        }
        throw new Error(`${coordinator.processName} exited; see ${coordinator.logFile}${tail ? `:\n${tail}` : ''}`);
      }
      if (await portAccepts(layout.host, coordinator.port)) break;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${coordinator.processName} on ${layout.host}:${coordinator.port}`);
      await sleep(100);
    }
  }
  if (!layout.haproxy) return;
  // HAProxy accepts before its health checks pass: wait until a coordinator answers through it.
  while (!(await answersPostgres(layout.host, layout.clientPort))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for HAProxy on ${layout.host}:${layout.clientPort} to reach a coordinator`);
    await sleep(200);
  }
}

/** Sends an SSLRequest and waits for the one-byte answer a PostgreSQL server (or a coordinator) gives. */
function answersPostgres(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('connect', () => socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])));
    socket.once('data', (data: Buffer) => done(data[0] === 0x4e || data[0] === 0x53));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}
