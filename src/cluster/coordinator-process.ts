import { writeFileSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DpgConfig } from '../config/config.ts';
import type { ClusterLayout } from './layout.ts';
import { startDetached, readProcessRecord, isAlive, sleep, type ProcessRecord } from './processes.ts';

export const COORDINATOR_PROCESS = 'coordinator-1';
const DPG_BIN = fileURLToPath(new URL('../../bin/dpg.mjs', import.meta.url));

/** The config the coordinator runs with, as `dpg up` resolved it (flags and file merged). */
export function coordinatorConfigFile(layout: ClusterLayout): string {
  return join(layout.dataDir, 'coordinator-config.json');
}

export function startCoordinator(config: DpgConfig, layout: ClusterLayout): ProcessRecord {
  const configFile = coordinatorConfigFile(layout);
  writeFileSync(configFile, JSON.stringify({ ...config, data_dir: layout.dataDir }, null, 2));
  return startDetached(layout.runDir, {
    name: COORDINATOR_PROCESS,
    command: process.execPath,
    args: [DPG_BIN, 'coordinator', '--config', configFile],
    logFile: join(layout.dataDir, 'logs', 'coordinator-1.log'),
    // The config file's path is in the command line and names this cluster's coordinator only.
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

export async function waitForCoordinator(layout: ClusterLayout, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = readProcessRecord(layout.runDir, COORDINATOR_PROCESS);
    if (!record || !isAlive(record.pid, record.marker)) {
      const log = join(layout.dataDir, 'logs', 'coordinator-1.log');
      let tail = '';
      try {
        tail = readFileSync(log, 'utf8').trim().split('\n').slice(-5).join('\n');
      } catch {
        // no log yet
      }
      throw new Error(`the coordinator exited; see ${log}${tail ? `:\n${tail}` : ''}`);
    }
    if (await portAccepts(layout.host, layout.clientPort)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for the coordinator on ${layout.host}:${layout.clientPort}`);
    await sleep(100);
  }
}
