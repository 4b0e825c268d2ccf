import pg from 'pg';
import type { DpgConfig } from '../config/config.ts';
import type { ClusterLayout, GroupLayout } from '../cluster/layout.ts';
import { connectNode, groupLeader, withClient } from '../cluster/connect.ts';
import type { ClusterSecrets } from '../cluster/secrets.ts';
import { isAlive, portIsFree, postmasterPid, readProcessRecord, sleep, waitFor } from '../cluster/processes.ts';
import { upCluster } from '../cluster/up.ts';
import { patroniClusterView, patroniProcessName } from '../cluster/patroni.ts';
import { setNodeCut } from './fault-proxy.ts';
import { ChaosLoad, longestWriteGap, verifyLedger, type Verdict } from './ledger.ts';

/**
 * dpg chaos: faults injected into a running local cluster under a bounded read/write
 * load with a ledger of every write and what its client was told; afterwards every
 * acknowledged write must be there and nothing reported failed, or half of a
 * transaction, may be. Every fault is healed before the next scenario (dpg up
 * restarts what was killed; Patroni does the rest).
 */
export const CHAOS_SCENARIOS = ['worker-primary', 'worker-node', 'partition', 'coordinator', 'control-primary', 'coordinator-2pc', 'spike'] as const;
export type ChaosScenario = (typeof CHAOS_SCENARIOS)[number];

export const CHAOS_TABLE = 'dpg_chaos_ledger';

export interface ChaosContext {
  config: DpgConfig;
  dataDir: string;
  layout: ClusterLayout;
  secrets: ClusterSecrets;
  url: string;
  log: (line: string) => void;
}

export interface ChaosResult {
  scenario: ChaosScenario;
  what: string;
  /** Why it did not run (the cluster lacks what it needs), or null. */
  skipped: string | null;
  verdict: Verdict | null;
  reads: number;
  readErrors: number;
  readErrorExamples: string[];
  /** Longest stretch without an acknowledged write from the fault until the end (ms). */
  writeGapMs: number | null;
  /** Until `dpg up` found every group led and replicating again, and every coordinator running (ms). */
  healMs: number | null;
  spike?: SpikeResult;
}

export interface SpikeResult {
  /** 1,000 queries at once from a client pool (the seed's test). */
  pooled: { queries: number; poolSize: number; succeeded: number; successRate: number; seconds: number; errors: string[] };
  /** 1,000 connections at once, one query each: beyond max_client_connections a clear 53300. */
  connections: { attempted: number; succeeded: number; refused: number; otherErrors: string[]; coordinatorAlive: boolean };
}

export interface ChaosOptions {
  scenarios?: ChaosScenario[];
  /** Seconds of load around each fault (the fault comes a third of the way in). */
  durationSeconds?: number;
}

async function ensureTable(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_dist_partition WHERE logicalrelid::text = $1", [CHAOS_TABLE]);
    if (exists.rows.length > 0) return;
    await client.query(`CREATE TABLE IF NOT EXISTS ${CHAOS_TABLE} (namespace text NOT NULL, key text NOT NULL, value text)`);
    await client.query(`SELECT create_distributed_table('${CHAOS_TABLE}', 'namespace')`);
  } finally {
    await client.end();
  }
}

async function preparedTransactions(ctx: ChaosContext): Promise<number> {
  let total = 0;
  for (const group of ctx.layout.groups) {
    const leader = await groupLeader(group);
    if (!leader) return Number.POSITIVE_INFINITY;
    total += await withClient(await connectNode(leader, ctx.secrets, ctx.config.cluster.database), async (c) =>
      Number((await c.query("SELECT count(*) AS n FROM pg_prepared_xacts WHERE gid LIKE 'dpg\\_%'")).rows[0].n),
    );
  }
  return total;
}

/** Brings every killed process back and waits until the cluster is whole (dpg up). */
async function heal(ctx: ChaosContext): Promise<number> {
  const started = performance.now();
  await upCluster(ctx.config, ctx.dataDir, { timeoutMs: 120_000 });
  return performance.now() - started;
}

async function killPostmaster(group: GroupLayout, ctx: ChaosContext): Promise<void> {
  const leader = await groupLeader(group);
  if (!leader) throw new Error(`group ${group.name} has no leader to kill`);
  const pid = postmasterPid(leader.pgDataDir);
  if (!pid || !isAlive(pid, leader.pgDataDir)) throw new Error(`no PostgreSQL running for ${leader.name}`);
  ctx.log(`  kill -9 PostgreSQL of ${leader.name} (PID ${pid}), primary of ${group.name}`);
  process.kill(pid, 'SIGKILL');
  // Patroni restarts it in place or promotes the standby: wait for a primary with another PID.
  await waitFor(`group ${group.name} to have a primary again`, 90_000, async () => {
    const now = await groupLeader(group);
    const nowPid = now ? postmasterPid(now.pgDataDir) : null;
    return now && nowPid !== pid && nowPid !== null && isAlive(nowPid, now.pgDataDir);
  }, 250);
}

/**
 * A whole worker node dies: its Patroni and its PostgreSQL, both kill -9. Nothing
 * releases the leader key, so the standby takes over once the key's TTL (patroni.ttl)
 * runs out; dpg up later restarts the node's Patroni, which rejoins as a standby.
 */
async function killNode(group: GroupLayout, ctx: ChaosContext): Promise<void> {
  const leader = await groupLeader(group);
  if (!leader) throw new Error(`group ${group.name} has no leader to kill`);
  const record = readProcessRecord(ctx.layout.runDir, patroniProcessName(leader));
  const pid = postmasterPid(leader.pgDataDir);
  if (!record || !isAlive(record.pid, record.marker) || !pid) throw new Error(`${leader.name} is not running under Patroni`);
  ctx.log(`  kill -9 Patroni (PID ${record.pid}) and PostgreSQL (PID ${pid}) of ${leader.name}, primary of ${group.name}`);
  process.kill(record.pid, 'SIGKILL');
  process.kill(pid, 'SIGKILL');
  await waitFor(`another node of ${group.name} to take over`, 120_000, async () => {
    const now = await groupLeader(group);
    return now && now.name !== leader.name;
  }, 250);
}

/**
 * A worker primary cut off from etcd and from the coordinators (dpg's fault proxy),
 * still running and still streaming to its standby: Patroni demotes it when it cannot
 * renew its leader key, the standby takes over once the key runs out; then the cut
 * heals and the old primary rejoins as a standby. Nothing it acknowledged may be lost.
 */
async function partitionPrimary(group: GroupLayout, ctx: ChaosContext): Promise<void> {
  const leader = await groupLeader(group);
  if (!leader) throw new Error(`group ${group.name} has no leader to cut off`);
  const others = group.nodes.filter((n) => n.name !== leader.name);
  ctx.log(`  cut ${leader.name}, primary of ${group.name}, off from etcd and the coordinators`);
  await setNodeCut(ctx.layout, leader.name, true);
  try {
    // Ask the nodes on the reachable side: the cut node's own view is stale.
    await waitFor(`another node of ${group.name} to take over`, 120_000, async () => {
      for (const node of others) {
        const members = await patroniClusterView(node);
        const now = members?.find((m) => m.role === 'leader' && m.state === 'running');
        if (now && now.name !== leader.name) return true;
      }
      return false;
    }, 250);
    await sleep(2000);
  } finally {
    ctx.log(`  heal the cut of ${leader.name}`);
    await setNodeCut(ctx.layout, leader.name, false);
  }
}

async function killCoordinator(ctx: ChaosContext, index: number): Promise<void> {
  const coordinator = ctx.layout.coordinators[index]!;
  const record = readProcessRecord(ctx.layout.runDir, coordinator.processName);
  if (!record || !isAlive(record.pid, record.marker)) throw new Error(`${coordinator.processName} is not running`);
  ctx.log(`  kill -9 ${coordinator.processName} (PID ${record.pid})`);
  process.kill(record.pid, 'SIGKILL');
  // The process is gone only once its sockets are closed (SIGKILL is delivered asynchronously).
  await waitFor(`${coordinator.processName} to exit`, 10_000, async () => (await portIsFree(coordinator.port, ctx.layout.host)) && (await portIsFree(coordinator.metricsPort, ctx.layout.host)), 50);
}

async function faultScenario(
  ctx: ChaosContext,
  scenario: ChaosScenario,
  what: string,
  durationSeconds: number,
  options: { transactions: boolean },
  fault: () => Promise<void>,
): Promise<ChaosResult> {
  const namespaces = Array.from({ length: 6 }, (_, i) => `chaos-${scenario}-${Date.now().toString(36)}-${i}`);
  const load = new ChaosLoad({ url: ctx.url, namespaces, writers: 4, readers: 2, transactions: options.transactions, table: CHAOS_TABLE });
  load.start();
  await sleep((durationSeconds / 3) * 1000);
  const faultAt = performance.now();
  let healMs: number | null = null;
  try {
    await fault();
    healMs = await heal(ctx);
  } finally {
    const rest = Math.max(2000, durationSeconds * 1000 - (performance.now() - faultAt) - (durationSeconds / 3) * 1000);
    await sleep(rest);
  }
  const endAt = performance.now();
  const report = await load.stop();
  // Two-phase commits a killed coordinator left prepared are resolved by the recovery loop.
  await waitFor('prepared transactions to be resolved', 60_000, async () => (await preparedTransactions(ctx)) === 0, 500);
  const verdict = await verifyLedger(ctx.url, CHAOS_TABLE, report.entries);
  return {
    scenario,
    what,
    skipped: null,
    verdict,
    reads: report.reads,
    readErrors: report.readErrors.length,
    readErrorExamples: [...new Set(report.readErrors)].slice(0, 5),
    writeGapMs: longestWriteGap(report.acknowledgedAt, faultAt, endAt),
    healMs,
  };
}

async function spike(ctx: ChaosContext): Promise<SpikeResult> {
  const query = `SELECT count(*) FROM ${CHAOS_TABLE} WHERE namespace = $1`;
  // 1. The seed's test: 1,000 queries at once through a client pool (asyncpg's, in the seed).
  const poolSize = 100;
  const pool = new pg.Pool({ connectionString: ctx.url, max: poolSize, connectionTimeoutMillis: 30_000 });
  pool.on('error', () => {});
  const started = performance.now();
  const results = await Promise.allSettled(Array.from({ length: 1000 }, (_, i) => pool.query(query, [`spike-${i % 50}`])));
  const seconds = (performance.now() - started) / 1000;
  await pool.end();
  const errors = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => `${r.reason?.code ?? 'no SQLSTATE'}: ${r.reason?.message}`);
  // 2. 1,000 connections at once: the coordinator admits max_client_connections, refuses the rest with 53300.
  const attempts = await Promise.allSettled(
    Array.from({ length: 1000 }, async () => {
      const client = new pg.Client({ connectionString: ctx.url, connectionTimeoutMillis: 30_000 });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query(query, ['spike-connections']);
      } finally {
        await client.end().catch(() => {});
      }
    }),
  );
  const failures = attempts.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as { code?: string; message?: string });
  const refused = failures.filter((f) => f.code === '53300').length;
  let coordinatorAlive = false;
  const check = new pg.Client({ connectionString: ctx.url });
  try {
    await check.connect();
    await check.query(query, ['after-spike']);
    coordinatorAlive = true;
  } catch {
    coordinatorAlive = false;
  } finally {
    await check.end().catch(() => {});
  }
  return {
    pooled: { queries: 1000, poolSize, succeeded: 1000 - errors.length, successRate: (1000 - errors.length) / 1000, seconds, errors: [...new Set(errors)].slice(0, 5) },
    connections: {
      attempted: 1000,
      succeeded: 1000 - failures.length,
      refused,
      otherErrors: [...new Set(failures.filter((f) => f.code !== '53300').map((f) => `${f.code ?? 'no SQLSTATE'}: ${f.message}`))].slice(0, 5),
      coordinatorAlive,
    },
  };
}

export async function runChaos(ctx: ChaosContext, options: ChaosOptions = {}): Promise<ChaosResult[]> {
  const scenarios = options.scenarios ?? [...CHAOS_SCENARIOS];
  const duration = options.durationSeconds ?? 15;
  await ensureTable(ctx.url);
  const results: ChaosResult[] = [];
  /** A result without a load: a skipped scenario (`why`), or the spike's. */
  const skip = (scenario: ChaosScenario, what: string, why: string | null): ChaosResult => ({
    scenario,
    what,
    skipped: why,
    verdict: null,
    reads: 0,
    readErrors: 0,
    readErrorExamples: [],
    writeGapMs: null,
    healMs: null,
  });
  const workers = ctx.layout.groups.filter((g) => g.kind === 'worker');
  for (const scenario of scenarios) {
    ctx.log(`chaos: ${scenario}`);
    switch (scenario) {
      case 'worker-primary': {
        const what = 'kill -9 of a worker group primary (PostgreSQL)';
        if (workers[0]!.nodes.length < 2) results.push(skip(scenario, what, 'worker groups have no standby (distribution.replication_factor 1)'));
        else results.push(await faultScenario(ctx, scenario, what, duration, { transactions: false }, () => killPostmaster(workers[0]!, ctx)));
        break;
      }
      case 'worker-node': {
        const what = 'kill -9 of a worker group primary node (Patroni and PostgreSQL)';
        if (workers[0]!.nodes.length < 2) results.push(skip(scenario, what, 'worker groups have no standby (distribution.replication_factor 1)'));
        else results.push(await faultScenario(ctx, scenario, what, duration, { transactions: false }, () => killNode(workers[workers.length - 1]!, ctx)));
        break;
      }
      case 'partition': {
        const what = 'a worker primary cut off from etcd and the coordinators';
        if (!ctx.layout.faultProxy) results.push(skip(scenario, what, 'no fault proxy: make the cluster with cluster.fault_proxies: true'));
        else if (workers[0]!.nodes.length < 2) results.push(skip(scenario, what, 'worker groups have no standby (distribution.replication_factor 1)'));
        else results.push(await faultScenario(ctx, scenario, what, duration, { transactions: false }, () => partitionPrimary(workers[0]!, ctx)));
        break;
      }
      case 'coordinator': {
        const what = 'kill -9 of a coordinator (clients reconnect through HAProxy)';
        if (!ctx.layout.haproxy) results.push(skip(scenario, what, 'one coordinator: run dpg up --coordinators 2 (or more)'));
        else results.push(await faultScenario(ctx, scenario, what, duration, { transactions: false }, () => killCoordinator(ctx, 0)));
        break;
      }
      case 'control-primary': {
        const what = 'kill -9 of the control group primary (PostgreSQL)';
        results.push(await faultScenario(ctx, scenario, what, duration, { transactions: true }, () => killPostmaster(ctx.layout.groups[0]!, ctx)));
        break;
      }
      case 'coordinator-2pc': {
        const what = 'kill -9 of a coordinator during two-phase commits';
        if (!ctx.layout.haproxy) results.push(skip(scenario, what, 'one coordinator: run dpg up --coordinators 2 (or more)'));
        else if (workers.length < 2) results.push(skip(scenario, what, 'one worker group: no two-phase commits'));
        else results.push(await faultScenario(ctx, scenario, what, duration, { transactions: true }, () => killCoordinator(ctx, 0)));
        break;
      }
      case 'spike': {
        results.push({ ...skip(scenario, 'a load spike: 1,000 concurrent queries', null), spike: await spike(ctx) });
        break;
      }
    }
  }
  return results;
}

/** The results as a table for the terminal. */
export function formatChaos(results: ChaosResult[]): string {
  const lines = ['scenario          acked  unknown  failed  lost  phantom  torn  write gap  heal    reads  read errors'];
  for (const r of results) {
    if (r.skipped) {
      lines.push(`${r.scenario.padEnd(16)}  skipped: ${r.skipped}`);
      continue;
    }
    if (r.spike) {
      const { pooled, connections } = r.spike;
      lines.push(
        `${r.scenario.padEnd(16)}  ${pooled.queries} queries over a pool of ${pooled.poolSize}: ${(pooled.successRate * 100).toFixed(1)}% succeeded in ${pooled.seconds.toFixed(1)} s; ` +
          `${connections.attempted} connections at once: ${connections.succeeded} served, ${connections.refused} refused (53300), ${connections.otherErrors.length} other errors; coordinator ${connections.coordinatorAlive ? 'up' : 'DOWN'} afterwards`,
      );
      continue;
    }
    const v = r.verdict!;
    lines.push(
      [
        r.scenario.padEnd(16),
        String(v.acknowledged).padStart(5),
        String(v.unknown).padStart(7),
        String(v.failed).padStart(6),
        String(v.lost).padStart(4),
        String(v.phantom).padStart(7),
        String(v.torn).padStart(4),
        `${((r.writeGapMs ?? 0) / 1000).toFixed(1)} s`.padStart(9),
        `${((r.healMs ?? 0) / 1000).toFixed(1)} s`.padStart(6),
        String(r.reads).padStart(6),
        String(r.readErrors).padStart(12),
      ].join('  '),
    );
    for (const example of v.examples) lines.push(`    ${example}`);
    for (const example of r.readErrorExamples) lines.push(`    read error: ${example}`);
  }
  return lines.join('\n');
}
