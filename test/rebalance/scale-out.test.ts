import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pg from 'pg';
import { startTestCluster, assertConsistent, type TestCluster } from '../support/test-cluster.ts';
import { runDpg } from '../support/dpg-cli.ts';
import { loadConfig } from '../../src/config/config.ts';
import { buildLayout, type ClusterLayout } from '../../src/cluster/layout.ts';
import { readClusterState, workerGroupIdsOf } from '../../src/cluster/state.ts';
import { groupLeader, layoutAdminContext } from '../../src/cluster/connect.ts';
import { onPrimary, type AdminContext } from '../../src/rebalance/admin.ts';
import { moveDebris } from '../../src/rebalance/replication-objects.ts';
import { scheduledRebalance } from '../../src/rebalance/rebalancer.ts';

// Scale out and in on a real cluster that starts with one worker group: dpg add-group
// under a load of distributed and reference-table writes, the rebalance onto the new
// group, dpg remove-group, and adding a group again.
let cluster: TestCluster;
let client: pg.Client;

function layoutNow(): ClusterLayout {
  const loaded = loadConfig({ path: cluster.configFile });
  const state = readClusterState(join(loaded.dataDir, 'cluster.json'))!;
  return buildLayout(loaded.config, loaded.dataDir, state.nodesRoot, state.coordinators, workerGroupIdsOf(state));
}

function admin(): AdminContext {
  return layoutAdminContext(layoutNow(), cluster.secrets, { database: 'distributed_postgres_cluster', indexBuildMemory: '256MB', threshold: 0.2, log: () => {} });
}

async function shardsPerGroup(): Promise<Map<number, number>> {
  const rows = await client.query(
    `SELECT p.groupid, count(*)::int AS n FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) WHERE s.logicalrelid = 'memory_entries'::regclass GROUP BY 1 ORDER BY 1`,
  );
  return new Map(rows.rows.map((r) => [r.groupid, r.n]));
}

/** Rows of the reference table `tags` as each worker group's copy has them. */
async function referenceCopies(): Promise<Map<number, string[]>> {
  const context = admin();
  const shard = (await client.query(`SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'tags'::regclass`)).rows[0].shardid;
  const copies = new Map<number, string[]>();
  for (const group of context.nodes.groups().filter((g) => g.kind === 'worker')) {
    const rows = await onPrimary(context, group.id, async (c) => (await c.query(`SELECT name FROM tags_${shard} ORDER BY name`)).rows.map((r) => r.name as string));
    copies.set(group.id, rows);
  }
  return copies;
}

function startLoad() {
  const acknowledged: string[] = [];
  const tags: string[] = [];
  const failures: string[] = [];
  let stop = false;
  let reads = 0;
  const run = async (kind: 'memory' | 'tag' | 'read', w: number) => {
    const c = new pg.Client(cluster.url);
    await c.connect();
    try {
      for (let n = 1; !stop; n++) {
        try {
          if (kind === 'memory') {
            await c.query('INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3)', [`load-${n % 16}`, `w${w}-${n}`, 'v']);
            acknowledged.push(`load-${n % 16}/w${w}-${n}`);
          } else if (kind === 'tag') {
            await c.query('INSERT INTO tags (name) VALUES ($1)', [`t${w}-${n}`]);
            tags.push(`t${w}-${n}`);
            await new Promise((r) => setTimeout(r, 20));
          } else {
            await c.query(`SELECT count(*) FROM memory_entries WHERE namespace = $1`, [`load-${n % 16}`]);
            await c.query(`SELECT count(*) FROM tags`);
            reads++;
          }
        } catch (error) {
          failures.push(`${kind} ${n}: ${(error as Error).message}`);
        }
      }
    } finally {
      await c.end();
    }
  };
  const running = [run('memory', 1), run('memory', 2), run('tag', 1), run('tag', 2), run('read', 1)];
  return {
    acknowledged,
    tags,
    failures,
    reads: () => reads,
    async stop() {
      stop = true;
      await Promise.all(running);
    },
  };
}

before(async () => {
  cluster = await startTestCluster({ basePort: 13432, workerGroups: 1, shardCount: 4, replicationFactor: 1 });
  client = new pg.Client(cluster.url);
  await client.connect();
  await client.query('CREATE TABLE tags (name text PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now())');
  await client.query(`SELECT create_reference_table('tags')`);
  await client.query(`INSERT INTO tags (name) VALUES ${Array.from({ length: 200 }, (_, i) => `('seed-${i}')`).join(', ')}`);
  for (let ns = 0; ns < 16; ns++) {
    await client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ${Array.from({ length: 100 }, (_, i) => `('load-${ns}', 'pre-${i}', 'v')`).join(', ')}`);
  }
  await client.query(`INSERT INTO sessions (session_id, namespace) VALUES ('s1', 'load-1'), ('s2', 'load-2')`);
});

after(async () => {
  await client?.end();
  await cluster?.stop();
});

test('dpg add-group under load: the new group gets the reference tables and half the shards; nothing lost, no error', async () => {
  assert.deepEqual([...(await shardsPerGroup())], [[1, 4]]);
  const load = startLoad();
  await new Promise((r) => setTimeout(r, 1000));
  const added = await runDpg(['add-group', '--config', cluster.configFile, '--strategy', 'by_shard_count'], { cwd: cluster.dir, timeoutMs: 300_000 });
  await new Promise((r) => setTimeout(r, 1000));
  await load.stop();
  assert.equal(added.code, 0, added.stdout + added.stderr);
  assert.match(added.stdout, /added worker group 2 \(worker2\): 4 reference tables copied/);
  assert.deepEqual([...(await shardsPerGroup())], [[1, 2], [2, 2]], 'the rebalance moved half the shards to the new group');
  assert.deepEqual(load.failures, [], 'every write acknowledged, every read answered');
  assert.ok(load.tags.length > 10 && load.acknowledged.length > 50, `the load ran (${load.tags.length} tags, ${load.acknowledged.length} rows, ${load.reads()} reads)`);
  // Every acknowledged reference write is on both copies, and the copies are equal.
  const copies = await referenceCopies();
  assert.deepEqual(copies.get(2), copies.get(1), 'the reference copies are equal');
  const names = new Set(copies.get(1));
  for (const tag of load.tags) assert.ok(names.has(tag), `tag ${tag} is on every group`);
  assert.equal(names.size, 200 + load.tags.length, 'no tag twice, none extra');
  const rows = await client.query(`SELECT namespace || '/' || key AS id FROM memory_entries WHERE key LIKE 'w%'`);
  const seen = new Set(rows.rows.map((r) => r.id as string));
  for (const id of load.acknowledged) assert.ok(seen.has(id), `row ${id} is there`);
  assert.equal((await client.query(`SELECT count(*)::int AS n FROM memory_entries WHERE key LIKE 'pre-%'`)).rows[0].n, 1600);
  // Both groups answer: pg_dist_node lists the new group's node; sessions (UNLOGGED reference table) copied.
  assert.ok((await client.query(`SELECT 1 FROM pg_dist_node WHERE groupid = 2 AND noderole = 'primary'`)).rows.length === 1);
  const sessions = await onPrimary(admin(), 2, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE 'sessions_%'`)).rows[0].n);
  assert.equal(sessions, 1);
  for (const group of [1, 2]) assert.deepEqual(await onPrimary(admin(), group, moveDebris), []);
  console.log(`add-group under load: ${load.acknowledged.length} rows, ${load.tags.length} reference rows, ${load.reads()} reads; ${added.stdout.split('\n').find((l) => l.startsWith('added'))}`);
  const dry = await runDpg(['rebalance', '--config', cluster.configFile, '--dry-run', '--strategy', 'by_shard_count'], { cwd: cluster.dir });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /no moves needed/);
});

test('dpg remove-group drains the last group onto the others, stops it, and a group can be added again', async () => {
  const removed = await runDpg(['remove-group', '--config', cluster.configFile], { cwd: cluster.dir, timeoutMs: 300_000 });
  assert.equal(removed.code, 0, removed.stdout + removed.stderr);
  assert.match(removed.stdout, /removed worker group 2 \(worker2\): 2 shard group\(s\) moved off it/);
  assert.deepEqual([...(await shardsPerGroup())], [[1, 4]]);
  assert.equal((await client.query(`SELECT count(*)::int AS n FROM pg_dist_node WHERE groupid = 2`)).rows[0].n, 0);
  assert.equal(await groupLeader(buildLayout(loadConfig({ path: cluster.configFile }).config, join(cluster.dir, 'data'), readClusterState(join(cluster.dir, 'data', 'cluster.json'))!.nodesRoot, 1, 2).groups[2]!), null, 'its nodes are stopped');
  assert.equal((await client.query(`SELECT count(*)::int AS n FROM memory_entries WHERE key LIKE 'pre-%'`)).rows[0].n, 1600);
  await client.query(`INSERT INTO tags (name) VALUES ('after-remove')`);
  // The same group again (Patroni's keys of the old one were deleted, so it bootstraps anew), without a rebalance.
  const again = await runDpg(['add-group', '--config', cluster.configFile, '--no-rebalance'], { cwd: cluster.dir, timeoutMs: 300_000 });
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.deepEqual([...(await shardsPerGroup())], [[1, 4]], 'no rebalance yet');
  const copies = await referenceCopies();
  assert.deepEqual(copies.get(2), copies.get(1));
  assert.ok(copies.get(2)!.includes('after-remove'));
  // The scheduled rebalance job (maintenance.rebalance_schedule) does what it says.
  const detail = await scheduledRebalance(admin(), { strategy: 'by_shard_count', maxMoves: 100 });
  assert.match(detail, /^2 move\(s\) \(shard \d+ 1->2, shard \d+ 1->2\); by_shard_count imbalance 1\.00 -> 0\.00$/);
  assert.deepEqual([...(await shardsPerGroup())], [[1, 2], [2, 2]]);
  assert.match(await scheduledRebalance(admin(), { strategy: 'by_shard_count', maxMoves: 100 }), /^balanced/);
});

test('dpg remove-group --group 1 removes a group that is not the last: the others keep their ids and ports, and add-group takes the freed id', async () => {
  const before = layoutNow().groups.find((g) => g.id === 2)!.nodes.map((n) => n.pgPort);
  const unknown = await runDpg(['remove-group', '--config', cluster.configFile, '--group', '7'], { cwd: cluster.dir });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--group "7": no such group; worker groups are 1 \(worker1\), 2 \(worker2\)/);
  const control = await runDpg(['remove-group', '--config', cluster.configFile, '--group', 'control'], { cwd: cluster.dir });
  assert.match(control.stderr, /the control group, which holds no shards/);
  const removed = await runDpg(['remove-group', '--config', cluster.configFile, '--group', '1'], { cwd: cluster.dir, timeoutMs: 300_000 });
  assert.equal(removed.code, 0, removed.stdout + removed.stderr);
  assert.match(removed.stdout, /removed worker group 1 \(worker1\): 2 shard group\(s\) moved off it/);
  assert.deepEqual([...(await shardsPerGroup())], [[2, 4]]);
  assert.equal((await client.query(`SELECT count(*)::int AS n FROM pg_dist_node WHERE groupid = 1`)).rows[0].n, 0);
  const state = readClusterState(join(cluster.dir, 'data', 'cluster.json'))!;
  assert.deepEqual(workerGroupIdsOf(state), [2]);
  assert.deepEqual(layoutNow().groups.find((g) => g.id === 2)!.nodes.map((n) => n.pgPort), before, 'group 2 keeps its ports');
  assert.equal(await groupLeader(buildLayout(loadConfig({ path: cluster.configFile }).config, join(cluster.dir, 'data'), state.nodesRoot, 1, [1]).groups[1]!), null, 'group 1 is stopped');
  // Everything is still there and writable; dpg up and dpg status know the cluster with its gap.
  assert.equal((await client.query(`SELECT count(*)::int AS n FROM memory_entries WHERE key LIKE 'pre-%'`)).rows[0].n, 1600);
  await client.query(`INSERT INTO tags (name) VALUES ('after-remove-1')`);
  await client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ('after-remove-1', 'k', 'v')`);
  const up = await runDpg(['up', '--config', cluster.configFile], { cwd: cluster.dir, timeoutMs: 300_000 });
  assert.equal(up.code, 0, up.stdout + up.stderr);
  const status = await runDpg(['status', '--config', cluster.configFile], { cwd: cluster.dir });
  assert.equal(status.code, 0, status.stdout + status.stderr);
  assert.doesNotMatch(status.stdout, /worker1-0/);
  // The next group is group 1 again, on its old ports; a rebalance spreads the shards.
  const again = await runDpg(['add-group', '--config', cluster.configFile, '--strategy', 'by_shard_count'], { cwd: cluster.dir, timeoutMs: 300_000 });
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stderr + again.stdout, /starting worker group 1/);
  assert.deepEqual(workerGroupIdsOf(readClusterState(join(cluster.dir, 'data', 'cluster.json'))), [1, 2]);
  assert.deepEqual([...(await shardsPerGroup())], [[1, 2], [2, 2]]);
  const copies = await referenceCopies();
  assert.deepEqual(copies.get(1), copies.get(2));
  assert.ok(copies.get(1)!.includes('after-remove-1'));
  assert.equal((await client.query(`SELECT value FROM memory_entries WHERE namespace = 'after-remove-1'`)).rows[0].value, 'v');
  for (const group of [1, 2]) assert.deepEqual(await onPrimary(admin(), group, moveDebris), []);
});

test('the cluster is consistent after these writes: dpg check', async () => {
  await assertConsistent(cluster);
});
