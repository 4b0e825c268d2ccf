import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, readFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { runDpg } from '../support/dpg-cli.ts';
import { loadConfig } from '../../src/config/config.ts';
import { buildLayout, type ClusterLayout, type NodeLayout } from '../../src/cluster/layout.ts';
import { readClusterState } from '../../src/cluster/state.ts';
import { readSecrets, type ClusterSecrets } from '../../src/cluster/secrets.ts';
import { connectNode, withClient } from '../../src/cluster/connect.ts';
import { isAlive, pidsWithMarker, readProcessRecord, sleep, waitFor } from '../../src/cluster/processes.ts';
import { patroniProcessName } from '../../src/cluster/patroni.ts';
import { coordinatorConfigFile } from '../../src/cluster/coordinator-process.ts';
import { shardIndexForValue, shardRanges } from '../../src/topology/shard-ranges.ts';
import { SEED_TABLES } from '../../src/catalog/seed-schema.ts';
import type { ClusterStatus } from '../../src/cluster/status.ts';

// The small cluster of the issue: a control group of one node and two worker
// groups of a primary and a synchronous standby, on ports of its own.
const SHARD_COUNT = 6;
const BASE_PORT = 25432;
const DATABASE = 'distributed_postgres_cluster';

let dir: string;
let configFile: string;
let layout: ClusterLayout;
let secrets: ClusterSecrets;

const dpg = (...args: string[]) => runDpg([...args, '--config', configFile], { cwd: dir });

async function status(): Promise<{ code: number | null; status: ClusterStatus }> {
  const result = await dpg('status', '--json');
  return { code: result.code, status: JSON.parse(result.stdout) as ClusterStatus };
}

async function leaderOf(groupName: string): Promise<NodeLayout> {
  const { status: s } = await status();
  const name = s.nodes.find((n) => n.group === groupName && n.role === 'leader')!.name;
  return layout.groups.flatMap((g) => g.nodes).find((n) => n.name === name)!;
}

const onNode = <T>(node: NodeLayout, work: (c: pg.Client) => Promise<T>, database = DATABASE) =>
  connectNode(node, secrets, database).then((c) => withClient(c, work));

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dpg-cluster-test-'));
  chmodSync(dir, 0o755); // so the postgres user can reach the node folders inside it
  configFile = join(dir, 'dpg.yaml');
  writeFileSync(
    configFile,
    [
      'data_dir: ./data',
      `ports: { base: ${BASE_PORT} }`,
      'cluster:',
      '  worker_groups: { count: 2 }',
      'distribution:',
      `  shard_count: ${SHARD_COUNT}`,
      '  replication_factor: 2',
      '',
    ].join('\n'),
  );
  const up = await dpg('up');
  // The layout first: after() cleans up with it even when `dpg up` failed half way.
  const loaded = loadConfig({ path: configFile });
  layout = buildLayout(loaded.config, loaded.dataDir, readClusterState(join(loaded.dataDir, 'cluster.json'))?.nodesRoot);
  assert.equal(up.code, 0, `dpg up failed:\n${up.stdout}\n${up.stderr}`);
  secrets = readSecrets(layout.secretsFile)!;
});

after(async () => {
  if (layout) {
    await dpg('down');
    // Whatever a failed test left running must not outlive the suite.
    const markers = [layout.etcd.dir, coordinatorConfigFile(layout), ...layout.groups.flatMap((g) => g.nodes.map((n) => n.dir))];
    for (const pid of markers.flatMap((m) => pidsWithMarker(m))) process.kill(pid, 'SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

test('every group has one Patroni leader and one streaming synchronous standby', async () => {
  const { code, status: s } = await status();
  assert.equal(code, 0);
  assert.equal(s.healthy, true, s.problems.join('; '));
  assert.deepEqual([...new Set(s.nodes.map((n) => n.group))], ['control', 'worker1', 'worker2']);
  for (const group of ['worker1', 'worker2']) {
    const nodes = s.nodes.filter((n) => n.group === group);
    assert.equal(nodes.filter((n) => n.role === 'leader').length, 1, `${group} leaders`);
    assert.equal(nodes.filter((n) => n.role === 'sync_standby').length, 1, `${group} sync standbys`);
    for (const node of nodes) {
      assert.ok(node.patroniPid && node.postgresPid, `${node.name} has PIDs`);
      assert.equal(node.state, 'running');
    }
    const leader = await leaderOf(group);
    const replication = await onNode(leader, (c) => c.query('SELECT application_name, state, sync_state FROM pg_stat_replication'), 'postgres');
    assert.equal(replication.rows.length, 1);
    assert.equal(replication.rows[0].state, 'streaming');
    assert.equal(replication.rows[0].sync_state, 'sync');
  }
  const etcd = s.processes.find((p) => p.name === 'etcd');
  assert.ok(etcd?.running && etcd.pid);
});

test('a row written on a worker primary is visible on its standby', async () => {
  const leader = await leaderOf('worker1');
  const standbyName = (await status()).status.nodes.find((n) => n.group === 'worker1' && n.role !== 'leader')!.name;
  const standby = layout.groups[1]!.nodes.find((n) => n.name === standbyName)!;
  const shard = await onNode(leader, (c) => c.query<{ relname: string }>("SELECT relname FROM pg_class WHERE relname LIKE 'memory_entries_%' AND relkind = 'r' LIMIT 1"));
  const table = shard.rows[0]!.relname;
  const key = `replicated-${Date.now()}`;
  await onNode(leader, (c) => c.query(`INSERT INTO ${table} (namespace, key, value) VALUES ('ns-replication', $1, 'hello')`, [key]));
  const seen = await waitFor('the row on the standby', 10_000, () =>
    onNode(standby, async (c) => {
      const recovery = await c.query('SELECT pg_is_in_recovery() AS r');
      assert.equal(recovery.rows[0].r, true, 'the standby is in recovery');
      return (await c.query(`SELECT value FROM ${table} WHERE key = $1`, [key])).rows[0]?.value as string | undefined;
    }),
  );
  assert.equal(seen, 'hello');
});

test('the catalog lists every shard with its hash range and placement', async () => {
  const control = await leaderOf('control');
  const rows = await onNode(control, async (c) => ({
    tables: (await c.query('SELECT table_name, kind, distribution_column, colocation_id, shard_count, durability FROM dpg_catalog.tables ORDER BY table_name')).rows,
    shards: (await c.query('SELECT s.shardid::int, s.table_name, s.shard_index, s.hash_min, s.hash_max, array_agg(p.group_id ORDER BY p.group_id) AS groups FROM dpg_catalog.shards s JOIN dpg_catalog.placements p USING (shardid) GROUP BY 1, 2, 3, 4, 5 ORDER BY 1')).rows,
    citus: (await c.query('SELECT table_name::text, shardid::int, shard_name, nodeport FROM citus_shards ORDER BY shardid, nodeport')).rows,
  }));
  const distributed = SEED_TABLES.filter((t) => t.kind === 'distributed');
  const reference = SEED_TABLES.filter((t) => t.kind === 'reference');
  assert.equal(rows.tables.length, SEED_TABLES.length);
  const colocation = new Set(rows.tables.filter((t) => t.kind === 'distributed').map((t) => t.colocation_id));
  assert.equal(colocation.size, 1, 'distributed tables are co-located');
  assert.equal(rows.tables.find((t) => t.table_name === 'sessions')!.durability, 'ephemeral');
  assert.equal(rows.tables.find((t) => t.table_name === 'pattern_history')!.durability, 'audit');
  assert.equal(rows.tables.find((t) => t.table_name === 'memory_entries')!.durability, 'critical');
  assert.equal(rows.shards.length, distributed.length * SHARD_COUNT + reference.length);
  const ranges = shardRanges(SHARD_COUNT);
  for (const table of distributed) {
    const shards = rows.shards.filter((s) => s.table_name === table.name);
    assert.deepEqual(shards.map((s) => [s.shard_index, s.hash_min, s.hash_max]), ranges.map((r) => [r.index, r.min, r.max]), table.name);
    // Co-location: shard i of every table is on the same group, round-robin over the workers.
    assert.deepEqual(shards.map((s) => s.groups), ranges.map((r) => [1 + (r.index % 2)]));
  }
  for (const table of reference) {
    assert.deepEqual(rows.shards.find((s) => s.table_name === table.name)!.groups, [1, 2], `${table.name} is on every worker group`);
  }
  assert.equal(rows.citus.length, distributed.length * SHARD_COUNT + reference.length * 2);
  assert.ok(rows.citus.every((r) => r.shard_name === `${r.table_name}_${r.shardid}`));
});

test('every shard table and its HNSW index exist on the group that holds it', async () => {
  const control = await leaderOf('control');
  const placements = await onNode(control, (c) =>
    c.query<{ shard_name: string; table_name: string; group_id: number; shardid: string }>(
      'SELECT s.table_name || \'_\' || s.shardid AS shard_name, s.table_name, p.group_id, s.shardid FROM dpg_catalog.shards s JOIN dpg_catalog.placements p USING (shardid)',
    ),
  );
  for (const group of layout.groups.filter((g) => g.kind === 'worker')) {
    const leader = await leaderOf(group.name);
    const expected = placements.rows.filter((p) => p.group_id === group.id);
    const found = await onNode(leader, (c) =>
      c.query<{ relname: string; relpersistence: string; hnsw: string[] | null }>(
        `SELECT t.relname, t.relpersistence,
                array_agg(i.relname || ' ' || array_to_string(i.reloptions, ',') || ' ' || opc.opcname) FILTER (WHERE am.amname = 'hnsw') AS hnsw
         FROM pg_class t
         LEFT JOIN pg_index x ON x.indrelid = t.oid
         LEFT JOIN pg_class i ON i.oid = x.indexrelid
         LEFT JOIN pg_am am ON am.oid = i.relam
         LEFT JOIN pg_opclass opc ON opc.oid = x.indclass[0]
         WHERE t.relkind = 'r' AND t.relnamespace = 'public'::regnamespace
         GROUP BY t.relname, t.relpersistence`,
      ),
    );
    const byName = new Map(found.rows.map((r) => [r.relname, r]));
    assert.equal(found.rows.length, expected.length, `${group.name} holds exactly its shards`);
    for (const placement of expected) {
      const shard = byName.get(placement.shard_name);
      assert.ok(shard, `${placement.shard_name} exists on ${group.name}`);
      const table = SEED_TABLES.find((t) => t.name === placement.table_name)!;
      assert.equal(shard.relpersistence, table.unlogged ? 'u' : 'p', `${placement.shard_name} persistence`);
      const expectedIndexes = (table.hnsw ?? []).map((h) => `${h.indexName}_${placement.shardid} m=16,ef_construction=100 ruvector_cosine_ops`);
      assert.deepEqual(shard.hnsw ?? [], expectedIndexes, `${placement.shard_name} HNSW index`);
    }
  }
});

test('ruvector casts and the ruvector_cosine_ops HNSW index answer a namespace search on a shard', async () => {
  const namespace = 'auth-patterns';
  const control = await leaderOf('control');
  const shardIndex = shardIndexForValue(namespace, SHARD_COUNT);
  const { shard, sqlIndex } = await onNode(control, async (c) => ({
    shard: (await c.query("SELECT s.shardid, p.group_id FROM dpg_catalog.shards s JOIN dpg_catalog.placements p USING (shardid) WHERE table_name = 'memory_entries' AND shard_index = $1", [shardIndex])).rows[0],
    sqlIndex: (await c.query('SELECT namespace_shard_id($1, $2) AS i', [namespace, SHARD_COUNT])).rows[0].i as number,
  }));
  assert.equal(sqlIndex, shardIndex, 'namespace_shard_id agrees with the TypeScript hash');
  const worker = await leaderOf(`worker${shard.group_id}`);
  const table = `memory_entries_${shard.shardid}`;
  const vector = (seed: number) => `[${Array.from({ length: 384 }, (_, i) => Math.sin(seed * 7.1 + i)).join(',')}]`;
  await onNode(worker, async (c) => {
    for (let i = 0; i < 20; i++) {
      await c.query(`INSERT INTO ${table} (namespace, key, value, embedding) VALUES ($1, $2, $3, $4::ruvector)`, [namespace, `k${i}`, `v${i}`, vector(i)]);
    }
    const search = `SELECT key, 1 - (embedding <=> $1::ruvector) AS similarity FROM ${table} WHERE namespace = $2 ORDER BY embedding <=> $1::ruvector LIMIT 3`;
    const rows = (await c.query(search, [vector(5), namespace])).rows;
    assert.equal(rows[0].key, 'k5');
    assert.ok(Math.abs(rows[0].similarity - 1) < 1e-6);
    await c.query('BEGIN');
    await c.query('SET LOCAL enable_seqscan = off');
    // Without the namespace filter: on 20 rows the planner rightly prefers the namespace btree.
    const plan = (await c.query(`EXPLAIN SELECT key FROM ${table} ORDER BY embedding <=> '${vector(5)}'::ruvector LIMIT 3`)).rows.map((r) => r['QUERY PLAN']).join('\n');
    await c.query('COMMIT');
    assert.match(plan, new RegExp(`Index Scan using idx_memory_embedding_hnsw_${shard.shardid}`));
    await assert.rejects(c.query(`INSERT INTO ${table} (namespace, key, embedding) VALUES ($1, 'short', '[1,2,3]'::ruvector)`, [namespace]), /expected 384 dimensions, not 3/);
  });
});

test('dpg up on a running cluster reports it and changes nothing', async () => {
  const before = (await status()).status;
  const up = await dpg('up');
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stdout, /already running; nothing changed/);
  const after = (await status()).status;
  assert.deepEqual(after.nodes.map((n) => [n.name, n.patroniPid, n.postgresPid]), before.nodes.map((n) => [n.name, n.patroniPid, n.postgresPid]));
});

test('a second cluster on the same ports is refused with the port named', async () => {
  const other = mkdtempSync(join(tmpdir(), 'dpg-port-test-'));
  try {
    const result = await runDpg(['up', '--data-dir', join(other, 'data'), '--base-port', String(BASE_PORT), '--config', configFile], { cwd: other });
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`${BASE_PORT + 10} \\(etcd client\\)`));
    assert.match(result.stderr, /already in use/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('a node whose Patroni died is reported by status and restarted by up', async () => {
  const node = layout.groups[2]!.nodes[1]!;
  const record = readProcessRecord(layout.runDir, patroniProcessName(node))!;
  process.kill(record.pid, 'SIGKILL');
  await waitFor('Patroni to die', 5000, async () => !isAlive(record.pid, record.marker));
  const degraded = await status();
  assert.equal(degraded.code, 1);
  assert.ok(degraded.status.problems.some((p) => p.includes(node.name) && p.includes('Patroni is not running')), degraded.status.problems.join('; '));
  const up = await dpg('up');
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stderr, new RegExp(`started patroni-${node.name}`));
  const healed = await status();
  assert.equal(healed.status.healthy, true, healed.status.problems.join('; '));
});

test('dpg down stops every process and leaves none behind', async () => {
  const { status: s } = await status();
  const pids = [...s.nodes.flatMap((n) => [n.patroniPid, n.postgresPid]), ...s.processes.map((p) => p.pid)].filter((p): p is number => p !== null);
  assert.ok(pids.length >= 11);
  const down = await dpg('down');
  assert.equal(down.code, 0, down.stderr);
  await sleep(100);
  for (const pid of pids) assert.equal(isAlive(pid), false, `PID ${pid} is gone`);
  const markers = [layout.etcd.dir, ...layout.groups.flatMap((g) => g.nodes.map((n) => n.dir))];
  assert.deepEqual(markers.flatMap((m) => pidsWithMarker(m)), []);
  const after = await status();
  assert.equal(after.status.running, false);
  assert.match((await dpg('status')).stdout, /stopped/);
  assert.ok(readFileSync(layout.stateFile, 'utf8').includes('"bootstrapped": true'), 'the data folder is kept');
});
