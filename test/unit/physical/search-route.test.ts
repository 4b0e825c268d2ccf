import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initParser, parseSql } from '../../../src/planner/sql-ast.ts';
import { planStatement } from '../../../src/planner/planner.ts';
import { CatalogSnapshot, type TableInfo, type NamespaceTier } from '../../../src/topology/snapshot.ts';
import { DEFAULT_CONFIG } from '../../../src/config/config.ts';
import { routeSearch, efSearchFor, type VectorSearchOptions } from '../../../src/physical/search-route.ts';
import type { DistributedPlan } from '../../../src/planner/plan.ts';

// How a namespace-scoped search runs on the shards, by the namespaces' tiers: pure
// planning, no cluster (the cluster tests check the answers).
const SHARDS = 4;
const table = (name: string, method: 'hash' | 'hyperbolic' = 'hash'): TableInfo => ({
  name,
  kind: 'distributed',
  distributionColumn: method === 'hash' ? 'namespace' : 'radius',
  distributionMethod: method,
  colocationId: method === 'hash' ? 1 : 2,
  shardCount: SHARDS,
  durability: 'critical',
  shards: Array.from({ length: SHARDS }, (_, i) => ({ shardId: String((method === 'hash' ? 100 : 200) + i), index: i, hashMin: null, hashMax: null, groupIds: [1 + (i % 2)] })),
});
const memory = table('memory_entries');
const concepts = table('concepts', 'hyperbolic');
const shardOf = (ns: string) => CatalogSnapshot.shardIndexForValue(memory, ns);
const tiers: NamespaceTier[] = [
  { table: 'memory_entries', namespace: 'big', tier: 'hnsw', rows: 50_000, indexedShards: [shardOf('big')] },
  { table: 'memory_entries', namespace: 'growing', tier: 'promoting', rows: 20_000, indexedShards: [] },
  { table: 'memory_entries', namespace: 'huge', tier: 'split', rows: 3_000_000, indexedShards: [0, 2] },
];
let snapshot: CatalogSnapshot;
const options: VectorSearchOptions = { candidateFactor: 2, profiles: DEFAULT_CONFIG.hnsw.profiles };
const plan = (sql: string) => planStatement(parseSql(sql)[0]!, snapshot) as DistributedPlan;
const flat = (sql: string) => sql.replace(/\s+/g, ' ');

before(async () => {
  await initParser();
  snapshot = new CatalogSnapshot([memory, concepts], [{ id: 0, name: 'control', kind: 'control' }, { id: 1, name: 'w1', kind: 'worker' }, { id: 2, name: 'w2', kind: 'worker' }], [], 1, tiers);
});

const SINGLE = 'SELECT key FROM memory_entries WHERE namespace = $1 ORDER BY embedding <=> $2 LIMIT 10';
const MANY = 'SELECT key FROM memory_entries WHERE namespace = ANY($1) ORDER BY embedding <=> $2 LIMIT 20';

test('a namespace without an index of its own (or still building one) is searched exactly', () => {
  for (const ns of ['small', 'growing']) {
    const route = routeSearch(plan(SINGLE), snapshot, [ns], 10, shardOf, options)!;
    assert.equal(route.queries.length, 1);
    assert.equal(route.queries[0]!.shard, shardOf(ns));
    assert.match(flat(route.queries[0]!.sql), /ORDER BY \(embedding <=> \$2\) \* 1/);
    assert.equal(route.efSearch, null);
  }
});

test('a promoted namespace uses its own index, pinned by literal, with ef_search from the profile and at least LIMIT', () => {
  const route = routeSearch(plan(SINGLE), snapshot, ['big'], 10, shardOf, options)!;
  assert.match(flat(route.queries[0]!.sql), /memory_entries\.namespace = 'big'/);
  assert.doesNotMatch(route.queries[0]!.sql, /\* 1/);
  // The profile says 50; a namespace of 50,000 rows needs 100 for recall@10 >= 0.95 (recallFloor).
  assert.equal(route.efSearch, 100);
  assert.equal(routeSearch(plan(SINGLE), snapshot, ['big'], 120, shardOf, options)!.efSearch, 120);
  assert.equal(efSearchFor(options, 5_000, 10), 50);
  assert.equal(efSearchFor(options, 300_000, 10), 200);
  // More rows than pgvector's ef_search can give, or no LIMIT: exact.
  assert.match(routeSearch(plan(SINGLE), snapshot, ['big'], 5000, shardOf, options)!.queries[0]!.sql, /\* 1/);
  assert.match(routeSearch(plan(SINGLE), snapshot, ['big'], null, shardOf, options)!.queries[0]!.sql, /\* 1/);
});

test('several namespaces with an index among them: one statement per namespace, each asked for LIMIT x 2', () => {
  const route = routeSearch(plan(MANY), snapshot, ['big', 'small'], 20, shardOf, options)!;
  assert.equal(route.perNamespace, true);
  assert.deepEqual(route.queries.map((q) => q.shard), [shardOf('big'), shardOf('small')]);
  assert.match(flat(route.queries[0]!.sql), /namespace = 'big'/);
  assert.doesNotMatch(route.queries[0]!.sql, /\* 1/);
  assert.match(flat(route.queries[1]!.sql), /namespace = 'small'/);
  assert.match(route.queries[1]!.sql, /\* 1/);
  assert.equal(route.efSearch, 100);
  // Only exact namespaces: one exact statement per shard holds them all.
  const exact = routeSearch(plan(MANY), snapshot, ['a', 'b', 'c', 'd', 'e'], 20, shardOf, options)!;
  assert.equal(exact.perNamespace, false);
  assert.deepEqual(exact.queries.map((q) => q.shard), [...new Set(['a', 'b', 'c', 'd', 'e'].map(shardOf))].sort());
  for (const q of exact.queries) assert.match(q.sql, /\* 1/);
});

test('a split namespace is searched on every shard: by index where its piece has one, exactly elsewhere', () => {
  const route = routeSearch(plan(SINGLE), snapshot, ['huge'], 10, shardOf, options)!;
  assert.equal(route.perNamespace, true);
  assert.deepEqual(route.queries.map((q) => q.shard), [0, 1, 2, 3]);
  assert.deepEqual(route.queries.map((q) => /\* 1/.test(q.sql)), [false, true, false, true]);
  for (const q of route.queries) assert.match(flat(q.sql), /namespace = 'huge'/);
  assert.deepEqual(snapshot.shardIndexesForValue(memory, 'huge'), [0, 1, 2, 3]);
  assert.deepEqual(snapshot.shardIndexesForValue(memory, 'small'), [shardOf('small')]);
});

test('no namespace pin, or a table sharded by radius: no tier applies', () => {
  assert.equal(routeSearch(plan('SELECT key FROM memory_entries ORDER BY embedding <=> $1 LIMIT 10'), snapshot, [], 10, shardOf, options), null);
  assert.equal(routeSearch(plan('SELECT id FROM concepts WHERE radius = $1 ORDER BY embedding <=> $2 LIMIT 10'), snapshot, ['0.3'], 10, shardOf, options), null);
});

test('a search with other filters on a promoted namespace runs exactly (the index would filter after its scan)', () => {
  const route = routeSearch(plan("SELECT key FROM memory_entries WHERE namespace = $1 AND metadata->>'kind' = 'fact' ORDER BY embedding <=> $2 LIMIT 10"), snapshot, ['big'], 10, shardOf, options)!;
  assert.match(route.queries[0]!.sql, /\* 1/);
  assert.equal(route.efSearch, null);
  const threshold = routeSearch(plan('SELECT key FROM memory_entries WHERE namespace = $1 AND 1 - (embedding <=> $2) >= 0.7 ORDER BY embedding <=> $2 LIMIT 10'), snapshot, ['big'], 10, shardOf, options)!;
  assert.doesNotMatch(threshold.queries[0]!.sql, /\* 1/);
});
