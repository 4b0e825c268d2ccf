import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import { groupLeader } from '../../src/cluster/connect.ts';
import { postmasterPid, sleep, waitFor } from '../../src/cluster/processes.ts';
import { shardIndexForValue } from '../../src/topology/shard-ranges.ts';
import { LeaderWatcher } from '../../src/topology/leaders.ts';
import { patroniNamespace } from '../../src/cluster/patroni.ts';
import { readClusterState } from '../../src/cluster/state.ts';
import type { GroupLayout } from '../../src/cluster/layout.ts';
import { patroniAuthorization } from '../../src/cluster/secrets.ts';
import { etcdLogins } from '../../src/cluster/etcd-auth.ts';

// Leader changes under load: the coordinator follows each group's primary through
// etcd, reads ride through a failover, writes either succeed, or are retried when
// they never reached the old primary, or fail with 08007 (outcome unknown); every
// write acknowledged to a client is there afterwards.
const SHARDS = 4;
let cluster: TestCluster;

before(async () => {
  cluster = await startTestCluster({ basePort: 20432, workerGroups: 2, replicationFactor: 2, shardCount: SHARDS });
});

after(async () => {
  await cluster?.stop();
});

/** A namespace whose shard lives on worker group `group` (shard i is on group 1 + i mod 2). */
function namespaceOnGroup(group: number, prefix: string): string {
  for (let i = 0; ; i++) {
    const ns = `${prefix}-${i}`;
    if ((shardIndexForValue(ns, SHARDS) % 2) + 1 === group) return ns;
  }
}

interface LoadResult {
  acknowledged: string[];
  unknown: string[];
  readErrors: string[];
  writeErrors: string[];
  reads: number;
  /** Longest stretch without a successful write, in ms. */
  longestWriteGapMs: number;
}

/** Writes and reads `namespace` from several connections until `stop` resolves. */
async function load(namespace: string, stop: Promise<void>, connections = 3): Promise<LoadResult> {
  const result: LoadResult = { acknowledged: [], unknown: [], readErrors: [], writeErrors: [], reads: 0, longestWriteGapMs: 0 };
  let stopped = false;
  void stop.then(() => (stopped = true));
  let lastWrite = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const client = new pg.Client(cluster.url);
      client.on('error', () => {});
      await client.connect();
      try {
        while (!stopped) {
          const key = `k${c}-${next++}`;
          try {
            await client.query('INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3)', [namespace, key, 'v']);
            result.acknowledged.push(key);
            const now = performance.now();
            result.longestWriteGapMs = Math.max(result.longestWriteGapMs, now - lastWrite);
            lastWrite = now;
          } catch (error) {
            const code = (error as { code?: string }).code;
            if (code === '08007') result.unknown.push(key);
            else result.writeErrors.push(`${code}: ${(error as Error).message}`);
          }
          try {
            await client.query('SELECT count(*) FROM memory_entries WHERE namespace = $1', [namespace]);
            result.reads++;
          } catch (error) {
            result.readErrors.push(`${(error as { code?: string }).code}: ${(error as Error).message}`);
          }
        }
      } finally {
        await client.end().catch(() => {});
      }
    }),
  );
  result.longestWriteGapMs = Math.max(result.longestWriteGapMs, performance.now() - lastWrite);
  return result;
}

async function keysIn(namespace: string): Promise<Set<string>> {
  const client = new pg.Client(cluster.url);
  await client.connect();
  try {
    return new Set((await client.query<{ key: string }>('SELECT key FROM memory_entries WHERE namespace = $1', [namespace])).rows.map((r) => r.key));
  } finally {
    await client.end();
  }
}

async function leaderName(group: GroupLayout): Promise<string | null> {
  return (await groupLeader(group))?.name ?? null;
}

function report(t: { diagnostic(message: string): void }, result: LoadResult): void {
  t.diagnostic(`acknowledged ${result.acknowledged.length}, outcome unknown ${result.unknown.length}, reads ${result.reads}, longest stretch without a write ${result.longestWriteGapMs.toFixed(0)} ms`);
}

function assertNothingLost(result: LoadResult, keys: Set<string>): void {
  const lost = result.acknowledged.filter((k) => !keys.has(k));
  assert.deepEqual(lost, [], 'every acknowledged write is there');
  assert.ok(result.acknowledged.length > 0, 'writes were acknowledged');
}

test('the leader watch reports a switchover through etcd, and the coordinator routes to the new primary without a read error', async (t) => {
  const group = cluster.layout.groups[1]!;
  const before = await leaderName(group);
  assert.ok(before, 'worker group 1 has a leader');
  const candidate = group.nodes.find((n) => n.name !== before)!;

  const state = readClusterState(join(cluster.layout.dataDir, 'cluster.json'))!;
  const changes: { scope: string; leader: string | null; at: number }[] = [];
  const watcher = new LeaderWatcher(cluster.layout.etcd.endpoints, patroniNamespace(state.clusterId), (scope, leader) => changes.push({ scope, leader, at: performance.now() }), () => {}, etcdLogins(cluster.secrets).coordinator);
  watcher.start();
  await waitFor('the leader watch', 5000, async () => watcher.connected && watcher.leaders.get(group.name) === before);

  const namespace = namespaceOnGroup(1, 'switchover');
  let stopLoad!: () => void;
  const running = load(namespace, new Promise<void>((r) => (stopLoad = r)));
  await sleep(1000);
  const requested = performance.now();
  const response = await fetch(`http://127.0.0.1:${group.nodes[0]!.restPort}/switchover`, {
    method: 'POST',
    headers: patroniAuthorization(cluster.secrets),
    body: JSON.stringify({ leader: before, candidate: candidate.name }),
  });
  assert.equal(response.status, 200, await response.text());
  await waitFor('the new leader', 30_000, async () => (await leaderName(group)) === candidate.name);
  await sleep(3000);
  stopLoad();
  const result = await running;
  watcher.stop();
  report(t, result);

  const seen = changes.find((c) => c.scope === group.name && c.leader === candidate.name);
  assert.ok(seen, `the watch saw ${candidate.name} become leader: ${JSON.stringify(changes)}`);
  assert.ok(seen.at - requested < 15_000, `within 15 s of the switchover request (${(seen.at - requested).toFixed(0)} ms)`);
  assert.deepEqual(result.readErrors, [], 'reads ride through the switchover');
  assert.deepEqual(result.writeErrors, [], 'writes succeed or report an unknown outcome (08007), nothing else');
  assertNothingLost(result, await keysIn(namespace));

  // Writes now reach the new primary.
  const client = new pg.Client(cluster.url);
  await client.connect();
  await client.query('INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3)', [namespace, 'after', 'v']);
  // The catalog's node roles follow (pg_dist_node, as Citus tools read it).
  await waitFor('pg_dist_node to name the new primary', 10_000, async () => {
    const rows = (await client.query<{ nodeport: number; noderole: string }>('SELECT nodeport, noderole FROM pg_dist_node WHERE nodecluster = $1', [group.name])).rows;
    return rows.find((r) => r.nodeport === candidate.pgPort)?.noderole === 'primary' && rows.filter((r) => r.noderole === 'primary').length === 1;
  });
  await client.end();
  const log = readFileSync(join(cluster.layout.dataDir, 'logs', 'coordinator-1.log'), 'utf8');
  assert.match(log, new RegExp(`group ${group.name}: primary is now ${candidate.name}`));
});

test('kill -9 of a worker primary: reads wait for it, writes resume, nothing acknowledged is lost', async (t) => {
  const group = cluster.layout.groups[2]!;
  const leader = await groupLeader(group);
  assert.ok(leader);
  const pid = postmasterPid(leader.pgDataDir);
  assert.ok(pid, 'the primary has a postmaster');
  const namespace = namespaceOnGroup(2, 'crash');
  let stopLoad!: () => void;
  const running = load(namespace, new Promise<void>((r) => (stopLoad = r)));
  await sleep(1000);
  process.kill(pid, 'SIGKILL');
  // Patroni brings the group back (restarting PostgreSQL, or promoting the standby).
  await waitFor('a running primary again', 60_000, async () => {
    const now = await groupLeader(group);
    return now && postmasterPid(now.pgDataDir) !== pid ? now : null;
  });
  await sleep(3000);
  stopLoad();
  const result = await running;
  report(t, result);
  assert.deepEqual(result.readErrors, [], 'reads ride through the crash');
  assert.deepEqual(result.writeErrors, [], 'writes succeed or report an unknown outcome (08007), nothing else');
  assertNothingLost(result, await keysIn(namespace));
  assert.ok(result.longestWriteGapMs < 30_000, `writes resumed (longest gap ${result.longestWriteGapMs.toFixed(0)} ms)`);
});
