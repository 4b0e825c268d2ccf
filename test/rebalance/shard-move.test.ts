import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestCluster, assertConsistent, type TestCluster } from '../support/test-cluster.ts';
import { runDpg } from '../support/dpg-cli.ts';
import { shardIndexForValue, shardRanges } from '../../src/topology/shard-ranges.ts';
import { onPrimary, type AdminContext } from '../../src/rebalance/admin.ts';
import { createMove } from '../../src/rebalance/move-catalog.ts';
import { runMove } from '../../src/rebalance/shard-move.ts';
import { moveDebris } from '../../src/rebalance/replication-objects.ts';
import { existingTables } from '../../src/rebalance/shard-ddl.ts';
import { connectNode, groupLeader, layoutAdminContext } from '../../src/cluster/connect.ts';
import { patroniAuthorization } from '../../src/cluster/secrets.ts';

// Online shard moves on a real cluster: 2 worker groups of a primary and a synchronous
// standby, 4 shards. Besides the seed's tables, `scratch` is UNLOGGED (ephemeral: never
// in the WAL, copied at the cutover) and `notes` has no key (replicated by whole rows).
const SHARDS = 4;
let cluster: TestCluster;
let admin: AdminContext;
let client: pg.Client;

const VECTOR = `[${Array.from({ length: 384 }, (_, i) => ((i % 5) - 2) / 10).join(',')}]`;

/** Namespaces whose rows live on shard index `index`. */
function namespacesOn(index: number, count: number, prefix = 'ns'): string[] {
  const found: string[] = [];
  for (let i = 0; found.length < count; i++) if (shardIndexForValue(`${prefix}-${i}`, SHARDS) === index) found.push(`${prefix}-${i}`);
  return found;
}

async function shardOf(table: string, index: number): Promise<{ shardId: string; group: number }> {
  const rows = await client.query(
    `SELECT s.shardid::text AS shardid, p.groupid FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
     WHERE s.logicalrelid = $1::regclass ORDER BY s.shardminvalue::int`,
    [table],
  );
  return { shardId: rows.rows[index].shardid, group: rows.rows[index].groupid };
}

async function debris(): Promise<string[]> {
  const found: string[] = [];
  for (const group of [1, 2]) for (const item of await onPrimary(admin, group, moveDebris)) found.push(`group ${group}: ${item}`);
  return found;
}

/** Shard tables on a group that the catalog does not place there. */
async function orphanTables(): Promise<string[]> {
  const placed = await client.query(`SELECT logicalrelid::text || '_' || shardid AS name, groupid FROM pg_dist_shard JOIN pg_dist_placement USING (shardid)`);
  const orphans: string[] = [];
  for (const group of [1, 2]) {
    const names = placed.rows.map((r) => r.name as string);
    const present = await onPrimary(admin, group, (c) => existingTables(c, names));
    for (const name of present) if (!placed.rows.some((r) => r.name === name && r.groupid === group)) orphans.push(`group ${group}: ${name}`);
  }
  return orphans;
}

/**
 * Writers and readers through the coordinator while a move runs: every write's outcome
 * and every read's answer is recorded.
 */
function startLoad(namespaces: string[]) {
  const acknowledged = new Set<string>();
  const failures: string[] = [];
  const counters = new Map<string, number>();
  let reads = 0;
  let stop = false;
  let longestWriteGapMs = 0;
  let lastAck = performance.now();
  const writer = async (w: number) => {
    const c = new pg.Client(cluster.url);
    await c.connect();
    try {
      for (let n = 1; !stop; n++) {
        const namespace = namespaces[n % namespaces.length]!;
        const key = `w${w}-${n}`;
        try {
          await c.query('INSERT INTO memory_entries (namespace, key, value, embedding) VALUES ($1, $2, $3, $4::vector)', [namespace, key, 'v', VECTOR]);
          acknowledged.add(`${namespace}/${key}`);
          await c.query(`UPDATE memory_entries SET value = $3 WHERE namespace = $1 AND key = $2`, [namespaces[0], `counter-${w}`, String(n)]);
          counters.set(`counter-${w}`, n);
          await c.query(`INSERT INTO notes (namespace, body) VALUES ($1, $2)`, [namespace, key]);
          await c.query(`UPDATE notes SET body = body || '!' WHERE namespace = $1 AND body = $2`, [namespace, key]);
          const now = performance.now();
          longestWriteGapMs = Math.max(longestWriteGapMs, now - lastAck);
          lastAck = now;
        } catch (error) {
          failures.push(`write ${namespace}/${key}: ${(error as Error).message}`);
        }
      }
    } finally {
      await c.end();
    }
  };
  const reader = async () => {
    const c = new pg.Client(cluster.url);
    await c.connect();
    try {
      while (!stop) {
        const known = [...acknowledged];
        const pick = known[Math.floor(Math.random() * known.length)];
        if (!pick) {
          await new Promise((r) => setTimeout(r, 10));
          continue;
        }
        const [namespace, key] = pick.split('/');
        try {
          const found = await c.query('SELECT key FROM memory_entries WHERE namespace = $1 AND key = $2', [namespace, key]);
          if (found.rows.length !== 1) failures.push(`read ${pick}: ${found.rows.length} rows`);
          reads++;
        } catch (error) {
          failures.push(`read ${pick}: ${(error as Error).message}`);
        }
      }
    } finally {
      await c.end();
    }
  };
  const running = [writer(1), writer(2), writer(3), reader(), reader()];
  return {
    acknowledged,
    failures,
    counters,
    reads: () => reads,
    longestWriteGapMs: () => longestWriteGapMs,
    async stop() {
      stop = true;
      await Promise.all(running);
    },
  };
}

/** Every write the load had acknowledged is there once, and every counter has at least its last acknowledged value. */
async function assertNothingLost(load: ReturnType<typeof startLoad>, namespaces: string[]): Promise<void> {
  const rows = await client.query(`SELECT namespace || '/' || key AS id FROM memory_entries WHERE namespace = ANY ($1) AND key LIKE 'w%'`, [namespaces]);
  const seen = new Set(rows.rows.map((r) => r.id as string));
  assert.equal(seen.size, rows.rows.length, 'no row twice');
  for (const acknowledged of load.acknowledged) assert.ok(seen.has(acknowledged), `acknowledged ${acknowledged} is there`);
  for (const [key, n] of load.counters) {
    const counter = await client.query('SELECT value FROM memory_entries WHERE namespace = $1 AND key = $2', [namespaces[0], key]);
    assert.ok(Number(counter.rows[0].value) >= n, `${key}: the last acknowledged update (${n}) is there`);
  }
}

before(async () => {
  cluster = await startTestCluster({
    basePort: 12432,
    workerGroups: 2,
    shardCount: SHARDS,
    replicationFactor: 2,
    extraConfig: [
      'coordinator: { prepared_transaction_grace_seconds: 3, recovery_interval_seconds: 1 }',
      'metrics: { collect_interval_seconds: 1 }',
      "replication: { tables: { critical: ['memory_entries', 'patterns', 'graph_nodes', 'graph_edges', 'trajectories', 'notes'], audit: ['pattern_history'], ephemeral: ['sessions', 'scratch'] } }",
    ],
  });
  admin = layoutAdminContext(cluster.layout, cluster.secrets, { database: 'distributed_postgres_cluster', indexBuildMemory: '256MB', threshold: 0.2, log: () => {} });
  client = new pg.Client(cluster.url);
  await client.connect();
  await client.query('CREATE TABLE scratch (namespace text NOT NULL, k text NOT NULL, v text, PRIMARY KEY (namespace, k))');
  await client.query("SELECT create_distributed_table('scratch', 'namespace')");
  await client.query('CREATE TABLE notes (namespace text NOT NULL, body text)');
  await client.query("SELECT create_distributed_table('notes', 'namespace')");
});

after(async () => {
  await client?.end();
  await cluster?.stop();
});

test('a shard group moves under concurrent writes and reads: nothing lost, nothing duplicated, every read answered, no debris', async () => {
  const index = 0;
  const namespaces = namespacesOn(index, 4);
  const before = await shardOf('memory_entries', index);
  const target = before.group === 1 ? 2 : 1;
  // Rows before the move: a few hundred per namespace, the counters, UNLOGGED rows.
  for (const namespace of namespaces) {
    const values = Array.from({ length: 200 }, (_, i) => `('${namespace}', 'pre-${i}', 'v', '${VECTOR}')`).join(', ');
    await client.query(`INSERT INTO memory_entries (namespace, key, value, embedding) VALUES ${values}`);
    await client.query(`INSERT INTO scratch (namespace, k, v) VALUES ${Array.from({ length: 50 }, (_, i) => `('${namespace}', 'k${i}', 'v')`).join(', ')}`);
  }
  for (const w of [1, 2, 3]) await client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, '0')`, [namespaces[0], `counter-${w}`]);

  const load = startLoad(namespaces);
  const phases = new Set<string>();
  let id: number;
  let result: Awaited<ReturnType<typeof runMove>>;
  try {
    await new Promise((r) => setTimeout(r, 1500));
    id = await onPrimary(admin, 0, (control) => createMove(control, before.shardId, target));
    result = await runMove(admin, id, { onProgress: (p) => phases.add(p.phase) });
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    await load.stop();
  }

  assert.equal(result.move.state, 'done');
  assert.deepEqual(load.failures, [], 'every write acknowledged and every read answered');
  assert.ok(load.acknowledged.size > 50 && load.reads() > 50, `load ran: ${load.acknowledged.size} writes, ${load.reads()} reads`);
  const after = await shardOf('memory_entries', index);
  assert.equal(after.group, target, 'the catalog places the shard on the target group');
  assert.equal((await shardOf('scratch', index)).group, target, 'co-located shards moved with it');
  assert.equal((await shardOf('notes', index)).group, target);
  // Nothing lost, nothing duplicated.
  const rows = await client.query(`SELECT namespace || '/' || key AS id FROM memory_entries WHERE namespace = ANY ($1) AND key LIKE 'w%'`, [namespaces]);
  const seen = rows.rows.map((r) => r.id as string);
  assert.equal(new Set(seen).size, seen.length, 'no row twice');
  for (const id of load.acknowledged) assert.ok(seen.includes(id), `acknowledged ${id} is there`);
  const pre = await client.query(`SELECT count(*)::int AS n FROM memory_entries WHERE namespace = ANY ($1) AND key LIKE 'pre-%'`, [namespaces]);
  assert.equal(pre.rows[0].n, 200 * namespaces.length);
  for (const [key, n] of load.counters) {
    const counter = await client.query('SELECT value FROM memory_entries WHERE namespace = $1 AND key = $2', [namespaces[0], key]);
    assert.ok(Number(counter.rows[0].value) >= n, `${key}: the last acknowledged update (${n}) is there`);
  }
  const notes = await client.query(`SELECT body FROM notes WHERE namespace = ANY ($1)`, [namespaces]);
  assert.equal(notes.rows.length, new Set(notes.rows.map((r) => r.body)).size, 'notes (no key) not duplicated');
  const scratch = await client.query(`SELECT count(*)::int AS n FROM scratch WHERE namespace = ANY ($1)`, [namespaces]);
  assert.equal(scratch.rows[0].n, 50 * namespaces.length, 'UNLOGGED rows copied at the cutover');
  // The target answers vector searches with its own HNSW index.
  const indexes = await onPrimary(admin, target, async (c) => (await c.query(`SELECT indexname FROM pg_indexes WHERE tablename = $1`, [`memory_entries_${before.shardId}`])).rows.map((r) => r.indexname));
  assert.ok(indexes.some((i: string) => i.startsWith('idx_memory_embedding_hnsw_')), `HNSW index on the target: ${indexes}`);
  assert.deepEqual(await debris(), [], 'no slot, publication, subscription or prepared transaction left');
  assert.deepEqual(await orphanTables(), [], 'no shard table left where the catalog does not place it');
  assert.ok(phases.has('copy') && phases.has('catch-up'), `progress reported: ${[...phases]}`);
  console.log(`move ${id}: pause ${result.move.pauseMs?.toFixed(1)} ms, longest write gap ${load.longestWriteGapMs().toFixed(0)} ms, ${load.acknowledged.size} writes, ${load.reads()} reads`);
});

/** The coordinator's /metrics once it matches `pattern` (the collector runs every second here). */
async function scrapeUntil(pattern: RegExp): Promise<string> {
  let text = '';
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
    text = await (await fetch(`http://127.0.0.1:${cluster.layout.metricsPort}/metrics`)).text();
    if (pattern.test(text)) return text;
  }
  assert.fail(`/metrics never matched ${pattern}:\n${text.split('\n').filter((l) => l.includes('shard_move')).join('\n')}`);
}

async function moveState(id: number): Promise<{ state: string; detail: string | null }> {
  const row = (await client.query('SELECT state, detail FROM dpg_shard_moves WHERE move_id = $1', [id])).rows[0];
  return { state: row.state, detail: row.detail };
}

/** Starts `dpg move-shard` for the shard of index `index`, killed (SIGKILL) at `point`; returns the move's id. */
async function crashedMove(index: number, point: string): Promise<number> {
  const { shardId, group } = await shardOf('memory_entries', index);
  const moved = await runDpg(['move-shard', '--config', cluster.configFile, '--shard', shardId, '--to', String(group === 1 ? 2 : 1)], {
    cwd: cluster.dir,
    env: { DPG_FAULT_INJECTION: '1', DPG_MOVE_CRASH_AT: point },
  });
  assert.equal(moved.code, null, `dpg move-shard was killed at ${point}: ${moved.stdout}${moved.stderr}`);
  const id = (await client.query('SELECT max(move_id)::int AS id FROM dpg_shard_moves')).rows[0].id;
  return id;
}

test('a move killed at each step is resumed to the end; the load sees nothing lost and no error', async () => {
  const index = 1;
  const namespaces = namespacesOn(index, 3);
  for (const w of [1, 2, 3]) await client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, '0')`, [namespaces[0], `counter-${w}`]);
  const load = startLoad(namespaces);
  const points = ['after-setup', 'during-copy', 'after-copy', 'during-catch-up', 'cutover-locked', 'cutover-prepared', 'cutover-switched', 'during-cleanup'];
  try {
    for (const point of points) {
      const before = await shardOf('memory_entries', index);
      const id = await crashedMove(index, point);
      const resumed = await runDpg(['move-shard', '--config', cluster.configFile, '--resume', String(id)], { cwd: cluster.dir });
      assert.equal(resumed.code, 0, `resume after ${point}: ${resumed.stdout}${resumed.stderr}`);
      assert.match(resumed.stdout, new RegExp(`move ${id} .*: done`));
      assert.equal((await moveState(id)).state, 'done', point);
      assert.notEqual((await shardOf('memory_entries', index)).group, before.group, `after ${point} the shard is on the other group`);
      assert.deepEqual(await debris(), [], `no debris after ${point}`);
      assert.deepEqual(await orphanTables(), [], `no orphan table after ${point}`);
    }
  } finally {
    await load.stop();
  }
  assert.deepEqual(load.failures, [], 'every write acknowledged and every read answered');
  const rows = await client.query(`SELECT namespace || '/' || key AS id FROM memory_entries WHERE namespace = ANY ($1) AND key LIKE 'w%'`, [namespaces]);
  const seen = new Set(rows.rows.map((r) => r.id as string));
  assert.equal(seen.size, rows.rows.length, 'no row twice');
  for (const id of load.acknowledged) assert.ok(seen.has(id), `acknowledged ${id} is there`);
  console.log(`${points.length} interrupted moves resumed: ${load.acknowledged.size} writes, ${load.reads()} reads, longest write gap ${load.longestWriteGapMs().toFixed(0)} ms`);
});

test('a move killed during its copy is rolled back: the shards stay, nothing of the move is left', async () => {
  const index = 2;
  const before = await shardOf('memory_entries', index);
  const id = await crashedMove(index, 'during-copy');
  // dpg status names the move its process left, and what to do.
  const status = await runDpg(['status', '--config', cluster.configFile], { cwd: cluster.dir });
  assert.equal(status.code, 1, status.stdout);
  assert.match(status.stdout, new RegExp(`^${id}\\s+move\\s+copying\\s+.*stopped$`, 'm'));
  assert.match(status.stdout, new RegExp(`! shard move ${id} stopped at its step 'copying': 'npx dpg move-shard --resume ${id}' goes on`));
  // The coordinators' metrics show it (alert ShardMoveStopped), and the last finished move's pause.
  const metrics = await scrapeUntil(/^dpg_shard_moves\{kind="move",state="copying",running="false"\} 1$/m);
  assert.match(metrics, /^dpg_shard_move_last_pause_seconds\{kind="move"\} 0\.\d+$/m);
  const rolled = await runDpg(['move-shard', '--config', cluster.configFile, '--rollback', String(id)], { cwd: cluster.dir });
  assert.equal(rolled.code, 0, rolled.stdout + rolled.stderr);
  assert.equal((await moveState(id)).state, 'rolled-back');
  assert.equal((await shardOf('memory_entries', index)).group, before.group);
  assert.deepEqual(await debris(), []);
  assert.deepEqual(await orphanTables(), []);
  // A finished move cannot be rolled back; an unknown one is named.
  const done = (await client.query(`SELECT max(move_id)::int AS id FROM dpg_shard_moves WHERE state = 'done'`)).rows[0].id;
  const refused = await runDpg(['move-shard', '--config', cluster.configFile, '--rollback', String(done)], { cwd: cluster.dir });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /past its cutover \(done\)/);
  const unknown = await runDpg(['move-shard', '--config', cluster.configFile, '--resume', '9999'], { cwd: cluster.dir });
  assert.match(unknown.stderr, /there is no shard move 9999/);
});

test('a cutover left prepared by a dead mover is rolled back by the coordinators, and writes go on', async () => {
  const index = 3;
  const namespace = namespacesOn(index, 1)[0]!;
  const id = await crashedMove(index, 'cutover-prepared');
  // The prepared transaction holds the source shards locked: a write waits for the recovery loop.
  await client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ($1, 'after-dead-cutover', 'v')`, [namespace]);
  const state = await moveState(id);
  assert.equal(state.state, 'catching-up');
  assert.match(state.detail ?? '', /rolled back by a recovery loop/);
  const resumed = await runDpg(['move-shard', '--config', cluster.configFile, '--resume', 'all'], { cwd: cluster.dir });
  assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
  const found = await client.query(`SELECT 1 FROM memory_entries WHERE namespace = $1 AND key = 'after-dead-cutover'`, [namespace]);
  assert.equal(found.rows.length, 1);
  assert.deepEqual(await debris(), []);
});

test('citus_move_shard_placement through the coordinator, by node name and port; DDL waits for no move but is refused during one', async () => {
  const index = 0;
  const { shardId, group } = await shardOf('memory_entries', index);
  const target = group === 1 ? 2 : 1;
  const nodes = await client.query(`SELECT groupid, nodename, nodeport FROM pg_dist_node WHERE noderole = 'primary' ORDER BY groupid`);
  const node = (g: number) => nodes.rows.find((r) => r.groupid === g)!;
  await client.query(`SELECT citus_move_shard_placement(${shardId}, '${node(group).nodename}', ${node(group).nodeport}, '${node(target).nodename}', ${node(target).nodeport})`);
  assert.equal((await shardOf('memory_entries', index)).group, target);
  // The same through Citus' node-id form, back again.
  const ids = await client.query(`SELECT groupid, min(nodeid) AS nodeid FROM pg_dist_node GROUP BY groupid`);
  const nodeId = (g: number) => ids.rows.find((r) => r.groupid === g)!.nodeid;
  await client.query(`SELECT citus_move_shard_placement(${shardId}, ${nodeId(target)}, ${nodeId(group)})`);
  assert.equal((await shardOf('memory_entries', index)).group, group);
  // Errors name what is wrong.
  await assert.rejects(client.query(`SELECT citus_move_shard_placement(${shardId}, ${nodeId(target)}, ${nodeId(group)})`), /is on group \d, not on group \d/);
  await assert.rejects(client.query(`SELECT citus_move_shard_placement(1, ${nodeId(target)}, ${nodeId(group)})`), /shard 1 does not exist/);
  await assert.rejects(client.query(`SELECT citus_move_shard_placement(${shardId}, 'nohost', 1, 'nohost', 2)`), /there is no node nohost:1/);
  await assert.rejects(client.query(`BEGIN; SELECT citus_move_shard_placement(${shardId}, ${nodeId(group)}, ${nodeId(target)})`), /cannot run inside a transaction block/);
  await client.query('ROLLBACK');
  // DDL during an unfinished move is refused; after its rollback it runs.
  const id = await crashedMove(index, 'after-copy');
  await assert.rejects(client.query('ALTER TABLE memory_entries ADD COLUMN extra text'), (error: { code?: string; message: string }) => error.code === '55006' && /being moved \(shard move \d+/.test(error.message));
  assert.equal((await runDpg(['move-shard', '--config', cluster.configFile, '--rollback', String(id)], { cwd: cluster.dir })).code, 0);
  await client.query('ALTER TABLE memory_entries ADD COLUMN extra text');
  await client.query('ALTER TABLE memory_entries DROP COLUMN extra');
  assert.deepEqual(await debris(), []);
});

test('a shard group splits in place under load (dpg split-shard), then every shard doubles (alter_distributed_table); every row stays reachable', async () => {
  // notes has no primary key: a split needs one to find a piece's rows.
  const index = 2;
  const { shardId } = await shardOf('memory_entries', index);
  const refused = await runDpg(['split-shard', '--config', cluster.configFile, '--shard', shardId], { cwd: cluster.dir });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /notes has no primary key/);
  await client.query(`ALTER TABLE notes ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid()`);
  await client.query(`ALTER TABLE notes ADD PRIMARY KEY (namespace, id)`);
  assert.deepEqual(await debris(), []);

  const namespaces = namespacesOn(index, 4);
  for (const w of [1, 2, 3]) await client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, '0') ON CONFLICT DO NOTHING`, [namespaces[0], `counter-${w}`]);
  // A statement prepared before the split runs after it (the executor routes with the current shards).
  const prepared = { name: 'count-ns', text: 'SELECT count(*)::int AS n FROM memory_entries WHERE namespace = $1' };
  const countBefore = (await client.query({ ...prepared, values: [namespaces[1]] })).rows[0].n;
  const load = startLoad(namespaces);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    // Killed while copying, resumed.
    const crashed = await runDpg(['split-shard', '--config', cluster.configFile, '--shard', shardId], { cwd: cluster.dir, env: { DPG_FAULT_INJECTION: '1', DPG_MOVE_CRASH_AT: 'split-copying' } });
    assert.equal(crashed.code, null, crashed.stdout + crashed.stderr);
    const id = (await client.query('SELECT max(move_id)::int AS id FROM dpg_shard_moves')).rows[0].id;
    const resumed = await runDpg(['move-shard', '--config', cluster.configFile, '--resume', String(id)], { cwd: cluster.dir });
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`split ${id} .*: done`));
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    await load.stop();
  }
  assert.deepEqual(load.failures, [], 'every write acknowledged and every read answered');

  const shards = await client.query(`SELECT shardid::text, shardminvalue::int AS min, shardmaxvalue::int AS max FROM pg_dist_shard WHERE logicalrelid = 'memory_entries'::regclass ORDER BY shardminvalue::int`);
  assert.equal(shards.rows.length, SHARDS + 1);
  shards.rows.forEach((r, i) => i > 0 && assert.equal(r.min, shards.rows[i - 1].max + 1, 'contiguous ranges'));
  assert.equal(shards.rows[0].min, -(2 ** 31));
  assert.equal(shards.rows.at(-1).max, 2 ** 31 - 1);
  assert.ok(!shards.rows.some((r) => r.shardid === shardId), 'the split shard is gone');
  await assertNothingLost(load, namespaces);
  assert.ok((await client.query({ ...prepared, values: [namespaces[1]] })).rows[0].n >= countBefore);
  assert.deepEqual(await debris(), []);
  assert.deepEqual(await orphanTables(), []);
  const leftovers = await onPrimary(admin, 1, async (c) => (await c.query(`SELECT proname FROM pg_proc WHERE proname LIKE 'dpg_split_%' UNION ALL SELECT tgname FROM pg_trigger WHERE tgname LIKE 'dpg_split_%'`)).rows);
  assert.deepEqual(leftovers.concat(await onPrimary(admin, 2, async (c) => (await c.query(`SELECT proname FROM pg_proc WHERE proname LIKE 'dpg_split_%'`)).rows)), []);

  // Every shard in two: 5 -> 10.
  const total = (await client.query(`SELECT count(*)::int AS n FROM memory_entries`)).rows[0].n;
  await client.query(`SELECT alter_distributed_table('memory_entries', shard_count := 10)`);
  const after = await client.query(`SELECT count(*)::int AS n FROM pg_dist_shard WHERE logicalrelid = 'patterns'::regclass`);
  assert.equal(after.rows[0].n, 10, 'co-located tables split too');
  assert.equal((await client.query(`SELECT count(*)::int AS n FROM memory_entries`)).rows[0].n, total);
  for (const namespace of namespaces) {
    const direct = await client.query(`SELECT count(*)::int AS n FROM memory_entries WHERE namespace = $1`, [namespace]);
    const all = await client.query(`SELECT count(*)::int AS n FROM memory_entries WHERE namespace || '' = $1`, [namespace]);
    assert.equal(direct.rows[0].n, all.rows[0].n, `${namespace}: routed to its shard, it has all its rows`);
  }
  // New rows go to the right piece; a new co-located table gets the split ranges.
  await client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ('after-split', 'k', 'v')`);
  assert.equal((await client.query(`SELECT value FROM memory_entries WHERE namespace = 'after-split' AND key = 'k'`)).rows[0].value, 'v');
  await client.query('CREATE TABLE late_table (namespace text NOT NULL, v text, PRIMARY KEY (namespace))');
  await client.query(`SELECT create_distributed_table('late_table', 'namespace', colocate_with := 'memory_entries')`);
  const lateRanges = await client.query(`SELECT shardminvalue, shardmaxvalue FROM pg_dist_shard WHERE logicalrelid = 'late_table'::regclass ORDER BY shardminvalue::int`);
  const memoryRanges = await client.query(`SELECT shardminvalue, shardmaxvalue FROM pg_dist_shard WHERE logicalrelid = 'memory_entries'::regclass ORDER BY shardminvalue::int`);
  assert.deepEqual(lateRanges.rows, memoryRanges.rows);
  await client.query(`INSERT INTO late_table (namespace, v) VALUES ('after-split', 'x')`);
  assert.equal((await client.query(`SELECT m.value, l.v FROM memory_entries m JOIN late_table l USING (namespace) WHERE m.namespace = 'after-split'`)).rows.length, 1);
  // The rebalancer's SQL: the plan, the rebalance, and one in the background.
  const planSql = `SELECT * FROM get_rebalance_table_shards_plan(threshold := 0, rebalance_strategy := 'by_shard_count')`;
  const planned = await client.query(planSql);
  assert.deepEqual(planned.fields.map((f) => f.name), ['table_name', 'shardid', 'shard_size', 'sourcename', 'sourceport', 'targetname', 'targetport']);
  const rebalanced = await client.query(`SELECT rebalance_table_shards(threshold := 0, rebalance_strategy := 'by_shard_count')`);
  assert.equal(rebalanced.rows.length, 1);
  const perGroup = async () =>
    (await client.query(`SELECT p.groupid, count(*)::int AS n FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) WHERE s.logicalrelid = 'memory_entries'::regclass GROUP BY 1 ORDER BY 1`)).rows.map((r) => r.n);
  assert.deepEqual(await perGroup(), [5, 5]);
  assert.equal((await client.query(planSql)).rows.length, 0, 'nothing left to plan');
  const ids = await client.query(`SELECT groupid, min(nodeid) AS nodeid FROM pg_dist_node WHERE groupid > 0 GROUP BY groupid ORDER BY groupid`);
  const onTwo = await client.query(`SELECT shardid FROM pg_dist_shard JOIN pg_dist_placement USING (shardid) WHERE logicalrelid = 'memory_entries'::regclass AND groupid = 2 LIMIT 2`);
  for (const row of onTwo.rows) await client.query(`SELECT citus_move_shard_placement(${row.shardid}, ${ids.rows[1].nodeid}, ${ids.rows[0].nodeid})`);
  assert.deepEqual(await perGroup(), [7, 3]);
  const job = await client.query(`SELECT citus_rebalance_start(rebalance_strategy := 'by_shard_count', threshold := 0)`);
  assert.match(String(job.rows[0].citus_rebalance_start), /^\d+$/);
  await client.query('SELECT citus_rebalance_wait()');
  assert.deepEqual(await perGroup(), [5, 5]);
  assert.deepEqual(await debris(), []);
});

/** memory_entries' shards in hash order, with their worker groups. */
async function shardList(table = 'memory_entries'): Promise<{ shardid: string; min: number; max: number; groupid: number }[]> {
  const rows = await client.query(
    `SELECT s.shardid::text AS shardid, s.shardminvalue::int AS min, s.shardmaxvalue::int AS max, p.groupid FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
     WHERE s.logicalrelid = $1::regclass ORDER BY s.shardminvalue::int`,
    [table],
  );
  return rows.rows;
}

/** Every namespace's rows are found by routing to its shard (as many as a scan of all shards finds). */
async function everyRowReachable(namespaces: string[]): Promise<void> {
  for (const namespace of namespaces) {
    const direct = await client.query(`SELECT count(*)::int AS n FROM memory_entries WHERE namespace = $1`, [namespace]);
    const all = await client.query(`SELECT count(*)::int AS n FROM memory_entries WHERE namespace || '' = $1`, [namespace]);
    assert.equal(direct.rows[0].n, all.rows[0].n, `${namespace}: routed to its shard, it has all its rows`);
  }
}

test('adjacent shard groups merge under load (dpg merge-shards, killed and resumed); alter_distributed_table reaches any shard count, down too; citus_split_shard_by_split_points places pieces', async () => {
  // Two adjacent shard groups on one worker group (the rebalance above spread them; one moves if need be).
  let shards = await shardList();
  let at = shards.findIndex((s, i) => i > 0 && s.groupid === shards[i - 1]!.groupid);
  if (at < 0) {
    await client.query(`SELECT citus_move_shard_placement(${shards[1]!.shardid}, (SELECT min(nodeid) FROM pg_dist_node WHERE groupid = ${shards[1]!.groupid}), (SELECT min(nodeid) FROM pg_dist_node WHERE groupid = ${shards[0]!.groupid}))`);
    shards = await shardList();
    at = 1;
  }
  const [left, right] = [shards[at - 1]!, shards[at]!];
  const hashes = (await client.query(`SELECT n, hashtext(n)::int AS h FROM (SELECT 'merge-' || i AS n FROM generate_series(1, 2000) i) x`)).rows;
  const namespaces = [
    ...hashes.filter((r) => r.h >= left.min && r.h <= left.max).slice(0, 2),
    ...hashes.filter((r) => r.h >= right.min && r.h <= right.max).slice(0, 2),
  ].map((r) => r.n as string);
  assert.equal(namespaces.length, 4);
  for (const w of [1, 2, 3]) await client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, '0') ON CONFLICT DO NOTHING`, [namespaces[0], `counter-${w}`]);
  for (const namespace of namespaces) await client.query(`INSERT INTO scratch (namespace, k, v) VALUES ${Array.from({ length: 30 }, (_, i) => `('${namespace}', 'k${i}', 'v')`).join(', ')}`);
  // Bad input is refused with what is wrong.
  const notAdjacent = await runDpg(['merge-shards', '--config', cluster.configFile, '--shards', `${shards[0]!.shardid},${shards[2]!.shardid}`], { cwd: cluster.dir });
  assert.equal(notAdjacent.code, 1);
  assert.match(notAdjacent.stderr, /adjacent|different worker groups/);
  const bad = await runDpg(['merge-shards', '--config', cluster.configFile, '--shards', left.shardid], { cwd: cluster.dir });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /two or more shard ids/);

  const load = startLoad(namespaces);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const crashed = await runDpg(['merge-shards', '--config', cluster.configFile, '--shards', `${left.shardid},${right.shardid}`], { cwd: cluster.dir, env: { DPG_FAULT_INJECTION: '1', DPG_MOVE_CRASH_AT: 'split-copying' } });
    assert.equal(crashed.code, null, crashed.stdout + crashed.stderr);
    const id = (await client.query('SELECT max(move_id)::int AS id FROM dpg_shard_moves')).rows[0].id;
    assert.equal((await client.query('SELECT kind FROM dpg_shard_moves WHERE move_id = $1', [id])).rows[0].kind, 'merge');
    const resumed = await runDpg(['move-shard', '--config', cluster.configFile, '--resume', String(id)], { cwd: cluster.dir });
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`merge ${id} .*: done`));
    console.log(resumed.stdout.trim());
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    await load.stop();
  }
  assert.deepEqual(load.failures, [], 'every write acknowledged and every read answered');
  console.log(`merge killed and resumed under load: ${load.acknowledged.size} writes, ${load.reads()} reads, longest write gap ${load.longestWriteGapMs().toFixed(0)} ms`);
  const merged = await shardList();
  assert.equal(merged.length, shards.length - 1);
  const joined = merged.find((s) => s.min === left.min)!;
  assert.equal(joined.max, right.max, 'one shard owns both ranges');
  assert.equal(joined.groupid, left.groupid);
  await assertNothingLost(load, namespaces);
  assert.equal((await client.query(`SELECT count(*)::int AS n FROM scratch WHERE namespace = ANY ($1)`, [namespaces])).rows[0].n, 30 * namespaces.length, 'UNLOGGED rows merged');
  await everyRowReachable(namespaces);
  assert.deepEqual(await debris(), []);
  assert.deepEqual(await orphanTables(), []);

  // Any shard count: 9 (unequal ranges) -> 7 -> 3, each ending with the equal ranges of a table created with that count.
  const total = (await client.query(`SELECT count(*)::int AS n FROM memory_entries`)).rows[0].n;
  const sample = [...namespaces, ...(await client.query(`SELECT DISTINCT namespace FROM memory_entries LIMIT 20`)).rows.map((r) => r.namespace as string)];
  for (const count of [7, 3]) {
    const notices: string[] = [];
    const listener = (notice: { message?: string }) => notices.push(notice.message ?? '');
    client.on('notice', listener);
    await client.query(`SELECT alter_distributed_table('memory_entries', shard_count := ${count})`);
    client.off('notice', listener);
    assert.match(notices.join('\n'), new RegExp(`have ${count} shards now`));
    console.log(notices.join('\n'));
    for (const table of ['memory_entries', 'patterns', 'scratch', 'notes', 'late_table']) {
      const ranges = (await shardList(table)).map((s) => ({ min: s.min, max: s.max }));
      assert.deepEqual(ranges, shardRanges(count).map((r) => ({ min: r.min, max: r.max })), `${table}: the equal ranges of ${count} shards`);
    }
    assert.equal((await client.query(`SELECT count(*)::int AS n FROM memory_entries`)).rows[0].n, total, `no row lost or doubled at ${count} shards`);
    assert.equal((await client.query(`SELECT count(*)::int AS n FROM scratch WHERE namespace = ANY ($1)`, [namespaces])).rows[0].n, 30 * namespaces.length);
    await everyRowReachable(sample);
    assert.deepEqual(await debris(), []);
    assert.deepEqual(await orphanTables(), []);
  }
  await client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ('after-resize', 'k', 'v')`);
  assert.equal((await client.query(`SELECT value FROM memory_entries WHERE namespace = 'after-resize'`)).rows[0].value, 'v');
  await assert.rejects(client.query(`SELECT alter_distributed_table('memory_entries', shard_count := 0)`), /an integer from 1 to 65536/);

  // citus_split_shard_by_split_points: three pieces, the last placed on the other worker group.
  const [first] = await shardList();
  const groupNodes = await client.query(`SELECT groupid, min(nodeid) AS nodeid FROM pg_dist_node WHERE groupid > 0 GROUP BY groupid`);
  const nodeOf = (g: number) => groupNodes.rows.find((r) => r.groupid === g)!.nodeid;
  const other = first!.groupid === 1 ? 2 : 1;
  const points = [first!.min + 1000, first!.min + 2 ** 29];
  await assert.rejects(client.query(`SELECT citus_split_shard_by_split_points(${first!.shardid}, ARRAY['${points[0]}'], ARRAY[${nodeOf(1)}, ${nodeOf(2)}, ${nodeOf(1)}])`), /one node per piece/);
  await assert.rejects(client.query(`SELECT citus_split_shard_by_split_points(${first!.shardid}, ARRAY['${first!.max}'], ARRAY[${nodeOf(1)}, ${nodeOf(2)}])`), /split point .* is not valid/);
  await client.query(`SELECT citus_split_shard_by_split_points(${first!.shardid}, ARRAY['${points[0]}', '${points[1]}'], ARRAY[${nodeOf(first!.groupid)}, ${nodeOf(first!.groupid)}, ${nodeOf(other)}], shard_transfer_mode := 'force_logical')`);
  const split = (await shardList()).slice(0, 3);
  assert.deepEqual(split.map((s) => [s.min, s.max, s.groupid]), [
    [first!.min, points[0], first!.groupid],
    [points[0]! + 1, points[1], first!.groupid],
    [points[1]! + 1, first!.max, other],
  ]);
  assert.equal((await client.query(`SELECT count(*)::int AS n FROM memory_entries`)).rows[0].n, total + 1);
  await everyRowReachable(sample);
  assert.deepEqual(await debris(), []);
  assert.deepEqual(await orphanTables(), []);
});

/** Logical slots on every node of the worker groups, standbys included. */
async function logicalSlotsOnAllNodes(): Promise<string[]> {
  const found: string[] = [];
  for (const group of cluster.layout.groups.filter((g) => g.kind === 'worker')) {
    for (const node of group.nodes) {
      const c = await connectNode(node, cluster.secrets, 'distributed_postgres_cluster');
      try {
        for (const row of (await c.query(`SELECT slot_name FROM pg_replication_slots WHERE slot_type = 'logical'`)).rows) found.push(`${node.name}: ${row.slot_name}`);
      } finally {
        await c.end();
      }
    }
  }
  return found;
}

test('a move whose source group switches over during its copy copies again from the new primary: nothing lost, no slot left on any node', async () => {
  // The widest shard (the split above left a tiny one first).
  const [shard] = (await shardList()).sort((a, b) => b.max - b.min - (a.max - a.min));
  const source = cluster.layout.groups.find((g) => g.id === shard!.groupid)!;
  const target = shard!.groupid === 1 ? 2 : 1;
  const hashes = (await client.query(`SELECT n, hashtext(n)::int AS h FROM (SELECT 'failover-' || i AS n FROM generate_series(1, 3000) i) x`)).rows;
  const namespaces = hashes.filter((r) => r.h >= shard!.min && r.h <= shard!.max).slice(0, 3).map((r) => r.n as string);
  // Enough rows that the copy is still going when the source switches over.
  for (const namespace of namespaces) {
    for (let batch = 0; batch < 5; batch++) {
      const values = Array.from({ length: 400 }, (_, i) => `('${namespace}', 'bulk-${batch}-${i}', 'v', '${VECTOR}')`).join(', ');
      await client.query(`INSERT INTO memory_entries (namespace, key, value, embedding) VALUES ${values}`);
    }
  }
  for (const w of [1, 2, 3]) await client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, '0') ON CONFLICT DO NOTHING`, [namespaces[0], `counter-${w}`]);
  const before = (await groupLeader(source))!;
  const candidate = source.nodes.find((n) => n.name !== before.name)!;
  const load = startLoad(namespaces);
  let id = 0;
  try {
    await new Promise((r) => setTimeout(r, 500));
    // The mover dies in its copy (the subscription goes on), the source switches over, the move is resumed.
    const crashed = await runDpg(['move-shard', '--config', cluster.configFile, '--shard', shard!.shardid, '--to', String(target)], {
      cwd: cluster.dir,
      env: { DPG_FAULT_INJECTION: '1', DPG_MOVE_CRASH_AT: 'during-copy' },
    });
    assert.equal(crashed.code, null, crashed.stdout + crashed.stderr);
    id = (await client.query('SELECT max(move_id)::int AS id FROM dpg_shard_moves')).rows[0].id;
    const response = await fetch(`http://127.0.0.1:${before.restPort}/switchover`, { method: 'POST', headers: patroniAuthorization(cluster.secrets), body: JSON.stringify({ leader: before.name, candidate: candidate.name }) });
    assert.equal(response.status, 200, await response.text());
    for (const deadline = Date.now() + 30_000; (await groupLeader(source))?.name !== candidate.name; await new Promise((r) => setTimeout(r, 250))) {
      assert.ok(Date.now() < deadline, 'the standby became the primary');
    }
    const resumed = await runDpg(['move-shard', '--config', cluster.configFile, '--resume', String(id)], { cwd: cluster.dir, timeoutMs: 300_000 });
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`move ${id} .*: done`));
    assert.match(resumed.stderr, /the replication slot (is gone from the source|was lost)|the subscription/, 'the lost slot was noticed');
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    await load.stop();
  }
  assert.equal((await moveState(id)).state, 'done');
  assert.equal((await shardList()).find((s) => s.shardid === shard!.shardid)!.groupid, target);
  // Writes that failed while the source had no primary were not acknowledged; every acknowledged one is there, once.
  const rows = await client.query(`SELECT namespace || '/' || key AS id FROM memory_entries WHERE namespace = ANY ($1) AND key LIKE 'w%'`, [namespaces]);
  const seen = new Set(rows.rows.map((r) => r.id as string));
  assert.equal(seen.size, rows.rows.length, 'no row twice');
  for (const acknowledged of load.acknowledged) assert.ok(seen.has(acknowledged), `acknowledged ${acknowledged} is there`);
  assert.ok(load.acknowledged.size > 50, `the load ran: ${load.acknowledged.size} writes`);
  assert.equal((await client.query(`SELECT count(*)::int AS n FROM memory_entries WHERE namespace = ANY ($1) AND key LIKE 'bulk-%'`, [namespaces])).rows[0].n, 2000 * namespaces.length);
  for (const [key, n] of load.counters) {
    const counter = await client.query('SELECT value FROM memory_entries WHERE namespace = $1 AND key = $2', [namespaces[0], key]);
    assert.ok(Number(counter.rows[0].value) >= n, `${key}: the last acknowledged update (${n}) is there`);
  }
  assert.deepEqual(await debris(), []);
  assert.deepEqual(await orphanTables(), []);
  assert.deepEqual(await logicalSlotsOnAllNodes(), [], 'no logical slot on any node, the old primary included');
  console.log(`move ${id} across a switchover of its source: ${load.acknowledged.size} writes acknowledged, ${load.failures.length} failed while the source switched over (${load.failures.slice(0, 3).join('; ')}), ${load.reads()} reads`);
});

test('the cluster is consistent after these writes: dpg check', async () => {
  await assertConsistent(cluster);
});
