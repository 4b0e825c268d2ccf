import pg from 'pg';
import { mkdtempSync, writeFileSync, rmSync, chmodSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import assert from 'node:assert/strict';
import { runDpg } from './dpg-cli.ts';
import { loadConfig, PORT_SPAN } from '../../src/config/config.ts';
import { buildLayout, type ClusterLayout, type NodeLayout } from '../../src/cluster/layout.ts';
import { connectNode, groupLeader, withClient } from '../../src/cluster/connect.ts';
import { readClusterState, workerGroupIdsOf } from '../../src/cluster/state.ts';
import { readSecrets, userUrl, type ClusterSecrets } from '../../src/cluster/secrets.ts';
import { pidsWithMarker } from '../../src/cluster/processes.ts';
import { coordinatorConfigFile } from '../../src/cluster/coordinator-process.ts';
import { redisDir } from '../../src/cluster/redis.ts';

/** A real local dpg cluster (etcd, Patroni, PostgreSQL, coordinator) for one test file. */
export interface TestCluster {
  dir: string;
  url: string;
  layout: ClusterLayout;
  secrets: ClusterSecrets;
  configFile: string;
  /** The URL of a configured user (config users) by name. */
  urlOf(user: string): string;
  stop(): Promise<void>;
}

/**
 * Starts a cluster with `dpg up` on its own ports. Each test file passes its own
 * base port (tests run in parallel processes); replication factor 1 keeps it light
 * unless a test needs standbys.
 */
export async function startTestCluster(options: { basePort: number; shardCount?: number; workerGroups?: number; replicationFactor?: number; controlNodes?: number; faultProxies?: boolean; extraConfig?: string[]; /** More keys of `distribution:` (flow YAML). */ distribution?: string }): Promise<TestCluster> {
  // Below Linux's ephemeral range (32768-60999): a port there may be taken at any moment
  // by another test's scratch server (freePort) or an outgoing connection.
  assert.ok(options.basePort >= 1024 && options.basePort + PORT_SPAN <= 32768, `test cluster ports ${options.basePort}..${options.basePort + PORT_SPAN} must lie below the ephemeral range (32768)`);
  const dir = mkdtempSync(join(tmpdir(), 'dpg-test-'));
  chmodSync(dir, 0o755);
  const configFile = join(dir, 'dpg.yaml');
  writeFileSync(
    configFile,
    [
      'data_dir: ./data',
      `ports: { base: ${options.basePort} }`,
      `cluster: { worker_groups: { count: ${options.workerGroups ?? 2} }, control_group: { nodes: ${options.controlNodes ?? 1} }, fault_proxies: ${options.faultProxies ?? false} }`,
      `distribution: { shard_count: ${options.shardCount ?? 6}, replication_factor: ${options.replicationFactor ?? 1}${options.distribution ? `, ${options.distribution}` : ''} }`,
      ...(options.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  const up = await runDpg(['up', '--config', configFile], { cwd: dir });
  const loaded = loadConfig({ path: configFile });
  const state = readClusterState(join(loaded.dataDir, 'cluster.json'));
  const layout = buildLayout(loaded.config, loaded.dataDir, state?.nodesRoot, state?.coordinators, workerGroupIdsOf(state));
  const cleanUp = async () => {
    await runDpg(['down', '--config', configFile], { cwd: dir });
    const markers = [layout.etcd.dir, coordinatorConfigFile(layout), redisDir(layout), join(layout.dataDir, 'haproxy'), join(layout.dataDir, 'fault-proxy-config.json'), ...layout.groups.flatMap((g) => g.nodes.map((n) => n.dir))];
    for (const pid of markers.flatMap((m) => pidsWithMarker(m))) process.kill(pid, 'SIGKILL');
    if (process.env.DPG_TEST_KEEP_LOGS) cpSync(join(loaded.dataDir, 'logs'), join(process.env.DPG_TEST_KEEP_LOGS, basename(dir)), { recursive: true });
    rmSync(dir, { recursive: true, force: true });
  };
  if (up.code !== 0) {
    // Whatever `dpg up` started before it failed must not outlive the test.
    await cleanUp();
    assert.fail(`dpg up failed:\n${up.stdout}\n${up.stderr}`);
  }
  const secrets = readSecrets(layout.secretsFile)!;
  const url = userUrl(loaded.config.users, secrets, layout.secretsFile, '127.0.0.1', options.basePort, loaded.config.cluster.database);
  return {
    dir,
    url,
    layout,
    secrets,
    configFile,
    urlOf: (user) => userUrl(loaded.config.users, readSecrets(layout.secretsFile)!, undefined, '127.0.0.1', options.basePort, loaded.config.cluster.database, user),
    stop: cleanUp,
  };
}

/**
 * A standby of worker group `group` (1 = the first) and the PID of its WAL receiver:
 * SIGSTOP it and the standby stops replaying (and acknowledging) the primary's writes.
 */
export async function standbyWalReceiver(cluster: TestCluster, group = 1): Promise<{ standby: NodeLayout; pid: number }> {
  const nodes = cluster.layout.groups[group]!;
  const leader = await groupLeader(nodes);
  const standby = nodes.nodes.find((n) => n.name !== leader?.name)!;
  const pid = await withClient(await connectNode(standby, cluster.secrets, 'postgres'), async (c) => Number((await c.query('SELECT pid FROM pg_stat_wal_receiver')).rows[0]?.pid));
  assert.ok(pid > 0, `${standby.name} streams from the primary`);
  return { standby, pid };
}

/**
 * `dpg check` on the cluster: every placement exists, every row hashes into its shard's
 * range, co-located shards share a group. Tests that write end with it.
 */
export async function assertConsistent(cluster: TestCluster): Promise<void> {
  const result = await runDpg(['check', '--config', cluster.configFile], { cwd: cluster.dir });
  assert.equal(result.code, 0, `dpg check found problems:\n${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /: consistent$/m);
}

/**
 * Takes every one of a coordinator's `maxClients` client slots with real clients, checks
 * that one more connection gets 53300, and lets them all go again.
 */
export async function assertClientSlotsFull(url: string, maxClients: number): Promise<void> {
  const clients: pg.Client[] = [];
  try {
    for (let i = 0; i < maxClients; i++) {
      const client = new pg.Client(url);
      await client.connect();
      clients.push(client);
    }
    const extra = new pg.Client(url);
    await assert.rejects(extra.connect(), (error: { code?: string }) => error.code === '53300');
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}
