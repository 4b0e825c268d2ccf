import { existsSync, readFileSync, writeFileSync, readdirSync, mkdirSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { join } from 'node:path';
import type { DpgConfig } from '../config/config.ts';

/** Bumped when the data folder's layout changes incompatibly. */
export const DATA_FORMAT = 2;

/** What `dpg up` records about a data folder the first time, checked on every later start. */
export interface ClusterState {
  format: number;
  clusterId: string;
  createdAt: string;
  /** Where the node folders are (inside the data folder unless postgres could not reach it). */
  nodesRoot: string;
  basePort: number;
  controlNodes: number;
  workerGroups: number;
  /** The worker groups' ids (their ports follow from them), once dpg remove-group took one that was not the last; absent: 1..workerGroups. */
  workerGroupIds?: number[];
  nodesPerWorkerGroup: number;
  /** Nodes reached through dpg's fault proxy (cluster.fault_proxies); absent: false. */
  faultProxies?: boolean;
  /** Coordinators the last dpg up ran (absent: config's coordinator.instances). */
  coordinators?: number;
  /** True once the databases and the catalog exist. */
  catalogCreated?: boolean;
  /** True once the seed's schema exists too (created through the coordinator). */
  bootstrapped: boolean;
  /**
   * How the running coordinators log in to nodes: 2 = as dpg_coordinator and each client's
   * own role (absent: an older dpg's, as dpg_cluster with the client's password, which
   * dpg up then changes, so those coordinators are restarted).
   */
  nodeLogins?: number;
}

export class DataFolderError extends Error {}

/** The ids of the cluster's worker groups (undefined without a state: the config's count then). */
export function workerGroupIdsOf(state: ClusterState | null | undefined): number[] | undefined {
  if (!state) return undefined;
  return state.workerGroupIds ?? Array.from({ length: state.workerGroups }, (_, i) => i + 1);
}

/** Records the worker groups' ids (and their count). */
export function setWorkerGroupIds(state: ClusterState, ids: number[]): void {
  state.workerGroupIds = [...ids].sort((a, b) => a - b);
  state.workerGroups = ids.length;
}

export function readClusterState(stateFile: string): ClusterState | null {
  if (!existsSync(stateFile)) return null;
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8')) as ClusterState;
  } catch (error) {
    throw new DataFolderError(`${stateFile} is not readable JSON (${String(error)}); move the data folder away or pass --reset to delete it`);
  }
}

export function writeClusterState(stateFile: string, state: ClusterState): void {
  writeFileSync(stateFile, JSON.stringify(state, null, 2));
}

/**
 * Opens (or creates) the state of a data folder, refusing a folder dpg did not make,
 * one from another data format, or one whose topology differs from the config.
 */
export function openClusterState(dataDir: string, stateFile: string, config: DpgConfig, nodesRootFor: (clusterId: string) => string): ClusterState {
  const existing = readClusterState(stateFile);
  if (!existing) {
    if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
      throw new DataFolderError(
        `${dataDir} is not empty and holds no dpg cluster (no cluster.json); choose another data folder (--data-dir) or empty it yourself`,
      );
    }
    mkdirSync(dataDir, { recursive: true });
    const clusterId = randomBytes(6).toString('hex');
    const state: ClusterState = {
      format: DATA_FORMAT,
      clusterId,
      createdAt: new Date().toISOString(),
      nodesRoot: nodesRootFor(clusterId),
      basePort: config.ports.base,
      controlNodes: config.cluster.control_group.nodes,
      workerGroups: config.cluster.worker_groups.count,
      nodesPerWorkerGroup: config.distribution.replication_factor,
      faultProxies: config.cluster.fault_proxies,
      bootstrapped: false,
    };
    writeClusterState(stateFile, state);
    return state;
  }
  if (existing.format !== DATA_FORMAT) {
    throw new DataFolderError(
      `${dataDir} was made by a dpg with data format ${existing.format}; this dpg uses format ${DATA_FORMAT}. ` +
        `Move the folder away, or pass --reset to delete it and start a new cluster`,
    );
  }
  const mismatches: string[] = [];
  const compare = (what: string, recorded: number, configured: number) => {
    if (recorded !== configured) mismatches.push(`${what}: data folder has ${recorded}, config says ${configured}`);
  };
  compare('ports.base', existing.basePort, config.ports.base);
  compare('cluster.control_group.nodes', existing.controlNodes, config.cluster.control_group.nodes);
  // The worker groups are the cluster's own after it is made: dpg add-group and remove-group change them.
  compare('distribution.replication_factor', existing.nodesPerWorkerGroup, config.distribution.replication_factor);
  if ((existing.faultProxies ?? false) !== config.cluster.fault_proxies) {
    mismatches.push(`cluster.fault_proxies: data folder has ${existing.faultProxies ?? false}, config says ${config.cluster.fault_proxies}`);
  }
  if (mismatches.length > 0) {
    throw new DataFolderError(
      `the cluster in ${dataDir} does not match the config (${mismatches.join('; ')}). ` +
        `Use the config it was made with, or pass --reset to delete it and start a new cluster`,
    );
  }
  return existing;
}

/** Fallback folder for node data when the postgres user cannot reach the data folder. */
export function fallbackNodesRoot(dataDir: string): string {
  return join('/var/lib/dpg', createHash('sha256').update(dataDir).digest('hex').slice(0, 16));
}
