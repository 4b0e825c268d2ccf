import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initParser, parseSql } from '../../../src/planner/sql-ast.ts';
import { planStatement } from '../../../src/planner/planner.ts';
import { normalizeStatement } from '../../../src/planner/normalize.ts';
import { PlanCache } from '../../../src/planner/plan-cache.ts';
import { CatalogSnapshot, type TableInfo } from '../../../src/topology/snapshot.ts';
import { seededRandom } from '../../support/random.ts';

// The lexer that lets statements differing only in their constants share a plan
// (pgbench -S in simple mode), and the plan cache's use of it: pure, no cluster.
const memory: TableInfo = {
  name: 'memory_entries',
  kind: 'distributed',
  distributionColumn: 'namespace',
  distributionMethod: 'hash',
  colocationId: 1,
  shardCount: 4,
  durability: 'critical',
  shards: Array.from({ length: 4 }, (_, i) => ({ shardId: String(100 + i), index: i, hashMin: null, hashMax: null, groupIds: [1] })),
};
let snapshot: CatalogSnapshot;

before(async () => {
  await initParser();
  snapshot = new CatalogSnapshot([memory], [{ id: 0, name: 'control', kind: 'control' }, { id: 1, name: 'w1', kind: 'worker' }], [], 1, []);
});

test('literals become markers; everything else is kept as written', () => {
  const a = normalizeStatement('SELECT abalance FROM pgbench_accounts WHERE aid = 48120;')!;
  const b = normalizeStatement('SELECT abalance FROM pgbench_accounts WHERE aid = 7;')!;
  assert.equal(a.key, 'SELECT abalance FROM pgbench_accounts WHERE aid = $n;');
  assert.equal(a.key, b.key);
  assert.equal(a.calls, false);
  assert.equal(a.command, 'select');
  assert.equal('SELECT abalance FROM pgbench_accounts WHERE aid = 48120;'.slice(a.start, a.end), 'SELECT abalance FROM pgbench_accounts WHERE aid = 48120');
  assert.equal(normalizeStatement("select 'it''s', 1.5e-3, .5, 42 from t")!.key, 'select $s, $n, $n, $n from t');
  // A string is not a number: they stay apart (the planner could treat them differently).
  assert.notEqual(normalizeStatement("SELECT * FROM t WHERE a = '1'")!.key, normalizeStatement('SELECT * FROM t WHERE a = 1')!.key);
  // Quoted identifiers and comments are text, not literals, even when they hold quotes or digits.
  assert.equal(normalizeStatement(`SELECT "it's 1" FROM t -- '2'\nWHERE x = 3 /* '4' /* 5 */ */`)!.key, `SELECT "it's 1" FROM t -- '2'\nWHERE x = $n /* '4' /* 5 */ */`);
  // A backslash is a character of a standard string (standard_conforming_strings is always on).
  assert.equal(normalizeStatement(String.raw`SELECT 'a\' , 1`)!.key, 'SELECT $s , $n');
  assert.equal(normalizeStatement('  \n SELECT 1 ; ; ')!.start, 4);
});

test('what the lexer does not take apart is left to the parser (null)', () => {
  for (const sql of [
    'SELECT 1; SELECT 2',
    "SELECT E'a\\'b'",
    "SELECT B'101'",
    "SELECT X'1F'",
    "SELECT U&'d\\0061t'",
    'SELECT $1',
    'SELECT $$x$$',
    'SELECT $q$x$q$',
    "SELECT 'a'\n'b'",
    'SELECT 123abc',
    'SELECT 0x1F',
    'SELECT 1_000',
    "SELECT 'unterminated",
    'SELECT "unterminated',
    'SELECT /* unterminated',
    '',
    '  ;  ',
  ]) {
    assert.equal(normalizeStatement(sql), null, sql);
  }
});

test('a call of anything that may be a function marks the statement (its literals may matter to the planner)', () => {
  assert.equal(normalizeStatement("SELECT set_config('a', 'b', false)")!.calls, true);
  assert.equal(normalizeStatement("SELECT pg_notify('x', 'y')")!.calls, true);
  assert.equal(normalizeStatement('SELECT "pg_notify"(1)')!.calls, true);
  assert.equal(normalizeStatement('SELECT x FROM t WHERE a IN (1, 2) AND EXISTS (SELECT 1)')!.calls, false);
  assert.equal(normalizeStatement('INSERT INTO t (a, b) VALUES (1, 2)')!.calls, true, 'a column list after a table name looks like a call: not reused');
});

test('a plan reused across literals is what the planner makes of each text, and nothing literal-dependent is reused', () => {
  const cache = new PlanCache();
  const random = seededRandom(7);
  const shapes = [
    (v: number) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${v};`,
    (v: number) => `  select * from pgbench_branches where bid = ${v} and bbalance > '${v}'  `,
    (v: number) => `UPDATE pgbench_tellers SET tbalance = tbalance + ${v} WHERE tid = ${v % 10}`,
    (v: number) => `DELETE FROM pgbench_history WHERE aid = ${v} -- old rows`,
  ];
  for (let i = 0; i < 400; i++) {
    const sql = shapes[i % shapes.length]!(random(100_000));
    const got = cache.plan(sql, snapshot);
    const want = parseSql(sql).map((s) => planStatement(s, snapshot));
    assert.deepEqual(got.map((p) => p.plan), want, sql);
  }
  assert.ok(cache.hits >= 390, `hits ${cache.hits}`);
  // Function calls: the planner reads pg_notify's channel and set_config's arguments.
  assert.equal(cache.plan("SELECT pg_notify('x', 'y')", snapshot)[0]!.plan.kind, 'control');
  assert.equal(cache.plan("SELECT pg_notify('dpg_cache', 'y')", snapshot)[0]!.plan.kind, 'unsupported');
  assert.equal(cache.plan("SELECT set_config('application_name', 'b', false)", snapshot)[0]!.plan.kind, 'control');
  assert.equal(cache.plan("SELECT set_config('standard_conforming_strings', 'off', false)", snapshot)[0]!.plan.kind, 'unsupported');
  // A distributed table's plan depends on the value (the shard): never shared by shape.
  const one = cache.plan("SELECT key FROM memory_entries WHERE namespace = 'a'", snapshot)[0]!.plan;
  const two = cache.plan("SELECT key FROM memory_entries WHERE namespace = 'b'", snapshot)[0]!.plan;
  assert.equal(one.kind, 'distributed');
  assert.notDeepEqual(one, two);
  // A newer catalog plans again (a table of that name may be distributed now).
  const newer = new CatalogSnapshot([memory, { ...memory, name: 'pgbench_accounts', colocationId: 2 }], [{ id: 0, name: 'control', kind: 'control' }, { id: 1, name: 'w1', kind: 'worker' }], [], 2, []);
  assert.equal(cache.plan('SELECT abalance FROM pgbench_accounts WHERE aid = 5;', newer)[0]!.plan.kind, 'distributed');
});
