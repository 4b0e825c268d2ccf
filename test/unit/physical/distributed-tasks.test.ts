import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initParser, parseSql } from '../../../src/planner/sql-ast.ts';
import { planStatement } from '../../../src/planner/planner.ts';
import { relationPlaceholder, type DistributedPlan } from '../../../src/planner/plan.ts';
import { LIMIT_PLACEHOLDER } from '../../../src/planner/merge-select.ts';
import { CatalogSnapshot, type TableInfo } from '../../../src/topology/snapshot.ts';
import { DEFAULT_CONFIG } from '../../../src/config/config.ts';
import { SqlTemplate, fillShard } from '../../../src/physical/sql-template.ts';
import { distributedTasks, resolveLimit, type DistributedTasks, type PhysicalInputs } from '../../../src/physical/distributed-tasks.ts';
import { ClientError } from '../../../src/shared/errors.ts';

// Physical planning: a plan, this execution's parameter values and the snapshot become
// tasks (group, SQL with shard names, LIMIT and search forms filled in). Pure, no cluster;
// the cluster and differential tests check what the tasks answer.
const SHARDS = 4;
const memory: TableInfo = {
  name: 'memory_entries',
  kind: 'distributed',
  distributionColumn: 'namespace',
  distributionMethod: 'hash',
  colocationId: 1,
  shardCount: SHARDS,
  durability: 'critical',
  // Shards 0 and 2 on group 1, 1 and 3 on group 2.
  shards: Array.from({ length: SHARDS }, (_, i) => ({ shardId: String(102000 + i), index: i, hashMin: null, hashMax: null, groupIds: [1 + (i % 2)] })),
};
const settings: TableInfo = { name: 'settings', kind: 'reference', distributionColumn: null, distributionMethod: 'hash', colocationId: null, shardCount: 1, durability: 'critical', shards: [{ shardId: '103000', index: 0, hashMin: null, hashMax: null, groupIds: [2, 1] }] };
let inputs: PhysicalInputs;
const plan = (sql: string) => planStatement(parseSql(sql)[0]!, inputs.snapshot) as DistributedPlan;
const text = (...values: (string | null)[]) => ({ params: values.map((v) => (v === null ? null : Buffer.from(v))), paramFormats: [] as number[] });
const NONE = { params: [], paramFormats: [] };
const shardOf = (ns: string) => CatalogSnapshot.shardIndexForValue(memory, ns);
const groupOfShard = (shard: number) => 1 + (shard % 2);

before(async () => {
  await initParser();
  const snapshot = new CatalogSnapshot([memory, settings], [{ id: 0, name: 'control', kind: 'control' }, { id: 1, name: 'w1', kind: 'worker' }, { id: 2, name: 'w2', kind: 'worker' }], [], 1, []);
  inputs = { snapshot, vectorSearch: { candidateFactor: 2, profiles: DEFAULT_CONFIG.hnsw.profiles }, shardRows: new Map() };
});

test('a template is compiled once and filled by concatenation: relation k (k of any width), reference shards, the LIMIT', () => {
  const template = `SELECT * FROM ${relationPlaceholder(0)} m JOIN ${relationPlaceholder(1)} s ON true, ${relationPlaceholder(10)} LIMIT ${LIMIT_PLACEHOLDER}`;
  assert.equal(SqlTemplate.of(template), SqlTemplate.of(template), 'compiled once');
  const relations = [memory, settings, ...Array.from({ length: 8 }, () => memory), { ...memory, name: 'tenth' }];
  assert.equal(fillShard(template, relations, 2, '20'), 'SELECT * FROM memory_entries_102002 m JOIN settings_103000 s ON true, tenth_102002 LIMIT 20');
  assert.equal(fillShard('SELECT 1', relations, 3), 'SELECT 1', 'no placeholder: the text itself');
  assert.throws(() => fillShard(`SELECT * FROM t LIMIT ${LIMIT_PLACEHOLDER}`, [], 0), /no limit was given/);
  assert.throws(() => fillShard(`SELECT * FROM ${relationPlaceholder(3)}`, [memory], 0), /names relation 3, the plan has 1/);
});

test('a statement pinned by a parameter is one task on its shard\'s group, the shard named in its SQL', () => {
  const tasks = distributedTasks(plan('SELECT key FROM memory_entries WHERE namespace = $1'), text('agent-7'), inputs);
  assert.equal(tasks.kind, 'single');
  const single = tasks as Extract<DistributedTasks, { kind: 'single' }>;
  const shard = shardOf('agent-7');
  assert.equal(single.groupId, groupOfShard(shard));
  assert.match(single.sql, new RegExp(`FROM memory_entries_${102000 + shard}\\b`));
  assert.deepEqual(single.shard, { shardId: String(102000 + shard), namespace: null });
  // The same plan with another value: another shard (the plan holds no values).
  const other = ['a', 'b', 'c', 'd', 'e', 'f'].find((ns) => shardOf(ns) !== shard)!;
  assert.match((distributedTasks(plan('SELECT key FROM memory_entries WHERE namespace = $1'), text(other), inputs) as { sql: string }).sql, new RegExp(`memory_entries_${102000 + shardOf(other)}\\b`));
});

test('a contradiction (two namespaces ANDed) is answered by any one shard: shard 0', () => {
  const tasks = distributedTasks(plan("SELECT key FROM memory_entries WHERE namespace = 'a' AND namespace = 'b'"), NONE, inputs) as Extract<DistributedTasks, { kind: 'single' }>;
  assert.equal(tasks.kind, 'single');
  assert.equal(tasks.groupId, 1);
  assert.match(tasks.sql, /memory_entries_102000\b/);
});

test('an unpinned ORDER BY ... LIMIT is one statement per group: its shards UNION ALL\'d, each limited to LIMIT + OFFSET', () => {
  const tasks = distributedTasks(plan('SELECT key FROM memory_entries ORDER BY key LIMIT 5 OFFSET 2'), NONE, inputs) as Extract<DistributedTasks, { kind: 'merge' }>;
  assert.equal(tasks.kind, 'merge');
  assert.deepEqual(tasks.groups.map((g) => g.groupId).sort(), [1, 2]);
  assert.equal(tasks.limit, 5);
  assert.equal(tasks.offset, 2);
  for (const { groupId, sql } of tasks.groups) {
    const own = [0, 1, 2, 3].filter((s) => groupOfShard(s) === groupId);
    for (const shard of own) assert.match(sql, new RegExp(`memory_entries_${102000 + shard}\\b`));
    assert.equal(sql.match(/UNION ALL/g)?.length, own.length - 1);
    assert.equal(sql.match(/LIMIT 7/g)?.length, own.length + 1, `each shard's statement and the group's union: LIMIT 7 in ${sql}`);
    assert.doesNotMatch(sql, /__dpg_rel_|__dpg_limit__/, 'every placeholder filled');
  }
});

test('LIMIT and OFFSET from parameters, in text or binary; a negative or fractional one is 2201W', () => {
  const limited = plan('SELECT key FROM memory_entries ORDER BY key LIMIT $1 OFFSET $2');
  const binary = { params: [Buffer.from([0, 0, 0, 0, 0, 0, 0, 9]), Buffer.from([0, 0, 0, 1])], paramFormats: [1, 1] };
  assert.deepEqual(resolveLimit(limited.merge!.limit, binary), { limit: 9, offset: 1 });
  const tasks = distributedTasks(limited, text('3', '4'), inputs) as Extract<DistributedTasks, { kind: 'merge' }>;
  assert.deepEqual([tasks.limit, tasks.offset], [3, 4]);
  // Each shard's statement keeps the parameters (the worker gets them too); the group's union is limited to their sum.
  assert.equal(tasks.groups[0]!.sql.match(/LIMIT CAST\(\$1 AS int8\) \+ CAST\(\$2 AS int8\)/g)?.length, 2);
  assert.match(tasks.groups[0]!.sql, /\nORDER BY .* LIMIT 7$/);
  assert.throws(() => distributedTasks(limited, text('-1', '0'), inputs), (e: ClientError) => e.sqlstate === '2201W');
  assert.throws(() => distributedTasks(limited, text('1.5', '0'), inputs), (e: ClientError) => e.sqlstate === '2201W');
  // LIMIT NULL (a NULL parameter) is no limit: the group's union has none.
  const all = distributedTasks(limited, text(null, '0'), inputs) as Extract<DistributedTasks, { kind: 'merge' }>;
  assert.equal(all.limit, null);
  assert.doesNotMatch(all.groups[0]!.sql, /\nORDER BY .* LIMIT \d+$/);
});

test('an unpinned write is one statement per shard on its group; an aggregate is partials by group', () => {
  const write = distributedTasks(plan("UPDATE memory_entries SET value = 'x' WHERE key = $1"), text('k'), inputs) as Extract<DistributedTasks, { kind: 'each-shard' }>;
  assert.equal(write.kind, 'each-shard');
  assert.deepEqual(new Map(write.groups.map((g) => [g.groupId, g.sqls.length])), new Map([[1, 2], [2, 2]]));
  for (const { sqls } of write.groups) for (const sql of sqls) assert.match(sql, /^UPDATE memory_entries_10200\d\b/);
  const aggregate = distributedTasks(plan('SELECT count(*) FROM memory_entries'), NONE, inputs) as Extract<DistributedTasks, { kind: 'aggregate' }>;
  assert.equal(aggregate.kind, 'aggregate');
  assert.deepEqual(new Map([...aggregate.byGroup].map(([g, s]) => [g, [...s].sort()])), new Map([[1, [0, 2]], [2, [1, 3]]]));
});

test('a reference table is read from the first group of its placements; a new row without a distribution value is 23502', () => {
  const tasks = distributedTasks(plan('SELECT * FROM settings'), NONE, inputs) as Extract<DistributedTasks, { kind: 'single' }>;
  assert.equal(tasks.kind, 'single');
  assert.equal(tasks.groupId, 2);
  assert.equal(tasks.shard, null);
  assert.match(tasks.sql, /settings_103000/);
  const insert = plan("INSERT INTO memory_entries (namespace, key) VALUES ($1, 'k')");
  assert.equal(insert.kind, 'distributed');
  assert.throws(() => distributedTasks(insert, text(null), inputs), (e: ClientError) => e.sqlstate === '23502');
  assert.equal(distributedTasks(insert, text('agent-7'), inputs).kind, 'single');
});

test('a multi-shard SELECT that cannot be merged is refused with 0A000 naming the distribution column; pinned, it runs', () => {
  const windowed = plan('SELECT key, row_number() OVER () FROM memory_entries');
  assert.equal(windowed.kind, 'distributed');
  assert.throws(
    () => distributedTasks(windowed, NONE, inputs),
    (e: ClientError) => e.sqlstate === '0A000' && /window functions over several shards/.test(e.message) && /namespace/.test(e.message),
  );
  assert.equal(distributedTasks(plan('SELECT key, row_number() OVER () FROM memory_entries WHERE namespace = $1'), text('a'), inputs).kind, 'single');
});
