import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import { groupLeader } from '../../src/cluster/connect.ts';
import { runDpg } from '../support/dpg-cli.ts';
import { patroniAuthorization } from '../../src/cluster/secrets.ts';
import {
  MemoryClient,
  DualDatabasePools,
  AlreadyExistsError,
  DimensionMismatchError,
  NamespaceNotAllowedError,
  NotFoundError,
  RetryableFailoverError,
  OutcomeUnknownError,
  ValidationError,
  cosineSimilarity,
  loadPoolConfig,
  mapError,
  poolOptions,
  type NewMemory,
} from '../../sdk/src/index.ts';

// The memory SDK (sdk/) against a real cluster through its coordinator: 2 worker groups
// of a primary and a synchronous standby, 4 shards.
const run = promisify(execFile);
let cluster: TestCluster;
let memory: MemoryClient;

/** A deterministic unit vector (xorshift from the seed). */
function vector(seed: number, dimensions = 384): number[] {
  let x = seed * 2654435761 + 1;
  const values = Array.from({ length: dimensions }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) / 4294967296) * 2 - 1;
  });
  const norm = Math.hypot(...values);
  return values.map((v) => v / norm);
}

/** Keys of the `limit` entries nearest to `query`, by exact cosine similarity. */
function bruteForce(entries: { namespace: string; key: string; embedding: number[] }[], query: number[], limit: number): string[] {
  return entries
    .map((e) => ({ id: `${e.namespace}/${e.key}`, similarity: cosineSimilarity(query, e.embedding) }))
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, limit)
    .map((e) => e.id);
}

async function rejectsWith<T extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => T, pattern?: RegExp): Promise<T> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${(error as Error).constructor.name}: ${(error as Error).message}`);
    if (pattern) assert.match((error as Error).message, pattern);
    return error as T;
  }
  assert.fail(`expected ${type.name}, nothing was thrown`);
}

before(async () => {
  cluster = await startTestCluster({ basePort: 11432, workerGroups: 2, shardCount: 4, replicationFactor: 2 });
  memory = await MemoryClient.connect({ url: cluster.url, pool: { min_size: 2, max_size: 8 } });
});

after(async () => {
  await memory?.close();
  await cluster?.stop();
});

test('memories: store, get, upsert, update, delete, list in pages, stream, count, expiry', async () => {
  const ns = 'sdk-crud';
  const stored = await memory.memories.store({ namespace: ns, key: 'a', value: 'first', embedding: vector(1), metadata: { source: 'test' }, tags: ['x', 'y'] });
  assert.equal(stored.namespace, ns);
  assert.equal(stored.value, 'first');
  assert.deepEqual(stored.tags, ['x', 'y']);
  assert.deepEqual(stored.metadata, { source: 'test' });
  assert.equal(stored.expiresAt, null);
  const got = await memory.memories.get(ns, 'a', { withEmbedding: true });
  assert.equal(got!.id, stored.id);
  assert.ok(got!.embedding!.every((v, i) => Math.abs(v - vector(1)[i]!) < 1e-6), 'the embedding reads back');
  await rejectsWith(memory.memories.store({ namespace: ns, key: 'a', value: 'again' }), AlreadyExistsError);
  const upserted = await memory.memories.upsert({ namespace: ns, key: 'a', value: 'second', tags: ['z'] });
  assert.equal(upserted.id, stored.id);
  assert.equal(upserted.value, 'second');
  assert.ok(upserted.updatedAt >= stored.updatedAt);
  const updated = await memory.memories.update(ns, 'a', { metadata: { edited: true } });
  assert.deepEqual(updated.metadata, { edited: true });
  assert.equal(updated.value, 'second', 'fields not in the patch stay');
  await rejectsWith(memory.memories.update(ns, 'missing', { value: 'v' }), NotFoundError, /no memory "missing"/);
  await rejectsWith(memory.memories.require(ns, 'missing'), NotFoundError);
  assert.equal(await memory.memories.get(ns, 'missing'), null);
  assert.equal(await memory.memories.delete(ns, 'a'), true);
  assert.equal(await memory.memories.delete(ns, 'a'), false);

  // Pages in key order, with a prefix and a tag.
  await memory.memories.storeMany(Array.from({ length: 25 }, (_, i) => ({ namespace: ns, key: `k${String(i).padStart(2, '0')}`, value: `v${i}`, tags: i % 2 ? ['odd'] : ['even'] })));
  const first = await memory.memories.list(ns, { limit: 10 });
  assert.deepEqual(first.items.map((m) => m.key), Array.from({ length: 10 }, (_, i) => `k${String(i).padStart(2, '0')}`));
  assert.equal(first.next, 'k09');
  const last = await memory.memories.list(ns, { limit: 10, after: 'k19' });
  assert.deepEqual(last.items.map((m) => m.key), ['k20', 'k21', 'k22', 'k23', 'k24']);
  assert.equal(last.next, null);
  assert.deepEqual((await memory.memories.list(ns, { prefix: 'k1', tag: 'odd' })).items.map((m) => m.key), ['k11', 'k13', 'k15', 'k17', 'k19']);
  assert.equal((await memory.memories.list(ns, { prefix: '%' })).items.length, 0, 'LIKE characters in a prefix are literal');
  const streamed: string[] = [];
  for await (const m of memory.memories.stream(ns, { batchSize: 7 })) streamed.push(m.key);
  assert.equal(streamed.length, 25);
  assert.equal(await memory.memories.count(ns), 25);

  // Expiry: gone from reads once past, purged on demand.
  await memory.memories.store({ namespace: ns, key: 'short-lived', value: 'v', ttlSeconds: 1 });
  await memory.memories.store({ namespace: 'sdk-crud-other', key: 'short-lived', value: 'v', expiresAt: new Date(Date.now() + 1000) });
  assert.ok(await memory.memories.get(ns, 'short-lived'));
  await new Promise((r) => setTimeout(r, 1300));
  assert.equal(await memory.memories.get(ns, 'short-lived'), null);
  assert.equal(await memory.memories.count(ns), 25);
  assert.equal(await memory.memories.purgeExpired(ns), 1);
  assert.ok((await memory.memories.purgeExpired()) >= 1, 'expired entries of every namespace purged');
  assert.equal(await memory.memories.get('sdk-crud-other', 'short-lived', {}), null);
  await rejectsWith(memory.memories.update(ns, 'short-lived', { value: 'x' }), NotFoundError);
});

test('search: one namespace with limit and minSimilarity, across namespaces, two-phase retrieval with exact re-rank; expired entries left out', async () => {
  const namespaces = ['sdk-search-a', 'sdk-search-b', 'sdk-search-c'];
  const entries = namespaces.flatMap((namespace, n) => Array.from({ length: 60 }, (_, i) => ({ namespace, key: `e${i}`, embedding: vector(1000 * (n + 1) + i) })));
  assert.equal(await memory.memories.storeMany(entries.map((e) => ({ ...e, value: e.key }))), 180);
  const query = vector(7);
  const inA = entries.filter((e) => e.namespace === 'sdk-search-a');

  const hits = await memory.memories.search('sdk-search-a', { embedding: query, limit: 5, minSimilarity: null });
  assert.deepEqual(hits.map((h) => `${h.namespace}/${h.key}`), bruteForce(inA, query, 5), 'the 5 nearest of the namespace');
  hits.forEach((h, i) => i > 0 && assert.ok(h.similarity <= hits[i - 1]!.similarity));
  const threshold = hits[2]!.similarity;
  const above = await memory.memories.search('sdk-search-a', { embedding: query, limit: 10, minSimilarity: threshold });
  assert.ok(above.length === 3 && above.every((h) => h.similarity >= threshold), `minSimilarity keeps 3: ${above.map((h) => h.similarity)}`);
  assert.deepEqual(await memory.memories.search('sdk-search-a', { embedding: query }), [], "the seed's default minSimilarity 0.7 leaves out random neighbours");

  const across = await memory.memories.searchAcross(namespaces, { embedding: query, limit: 8 });
  assert.deepEqual(across.map((h) => `${h.namespace}/${h.key}`), bruteForce(entries, query, 8), 'the 8 nearest over three namespaces');
  const retrieved = await memory.memories.retrieve(namespaces, { embedding: query, limit: 4 });
  assert.deepEqual(retrieved.map((h) => `${h.namespace}/${h.key}`), bruteForce(entries, query, 4));
  for (const hit of retrieved) assert.ok(Math.abs(hit.exactSimilarity - hit.similarity) < 1e-5, 'exact and index similarity agree');

  // The nearest entry expires: searches skip it and still return `limit` rows.
  const nearest = bruteForce(inA, query, 1)[0]!.split('/')[1]!;
  await memory.memories.update('sdk-search-a', nearest, { expiresAt: new Date(Date.now() - 1000) });
  const live = await memory.memories.search('sdk-search-a', { embedding: query, limit: 5, minSimilarity: null });
  assert.equal(live.length, 5);
  assert.ok(!live.some((h) => h.key === nearest));
  assert.deepEqual(live.map((h) => `${h.namespace}/${h.key}`), bruteForce(inA.filter((e) => e.key !== nearest), query, 5));
  const withExpired = await memory.memories.search('sdk-search-a', { embedding: query, limit: 1, minSimilarity: null, includeExpired: true });
  assert.equal(withExpired[0]!.key, nearest);
});

test('patterns: outcomes move confidence and counts, every change in the history; update, list, search, delete', async () => {
  const ns = 'sdk-patterns';
  const pattern = await memory.patterns.create({ namespace: ns, type: 'retry', data: { rule: 'back off' }, embedding: vector(11) });
  assert.equal(pattern.confidence, 0.5);
  assert.equal(pattern.usageCount, 0);
  let now = pattern;
  for (const success of [true, true, false, true]) now = await memory.patterns.recordOutcome(ns, pattern.id, success);
  assert.equal(now.successCount, 3);
  assert.equal(now.failureCount, 1);
  assert.equal(now.usageCount, 4);
  assert.ok(Math.abs(now.confidence - 4 / 6) < 1e-6, `confidence (3 + 1) / (4 + 2), got ${now.confidence}`);
  const updated = await memory.patterns.update(ns, pattern.id, { data: { rule: 'back off, then jitter' } });
  assert.deepEqual(updated.data, { rule: 'back off, then jitter' });
  assert.equal(updated.successCount, 3);
  const history = await memory.patterns.history(ns, pattern.id);
  assert.deepEqual(history.map((h) => h.changeType), ['created', 'success', 'success', 'failure', 'success', 'updated']);
  assert.equal(history[3]!.previous!.failureCount, 0);
  assert.equal(history[3]!.current!.failureCount, 1);
  await memory.patterns.create({ namespace: ns, type: 'retry', data: {}, confidence: 0.2, embedding: vector(12) });
  assert.deepEqual((await memory.patterns.list(ns, { type: 'retry', minConfidence: 0.5 })).map((p) => p.id), [pattern.id]);
  const found = await memory.patterns.search(ns, { embedding: vector(11), limit: 1 });
  assert.equal(found[0]!.id, pattern.id);
  assert.ok(found[0]!.similarity > 0.999);
  await rejectsWith(memory.patterns.recordOutcome(ns, '00000000-0000-0000-0000-000000000000', true), NotFoundError);
  await rejectsWith(memory.patterns.recordOutcome(ns, 'not-a-uuid', true), ValidationError, /must be a UUID/);
  assert.equal(await memory.patterns.delete(ns, pattern.id), true);
  assert.equal(await memory.patterns.get(ns, pattern.id), null);
  assert.equal((await memory.patterns.history(ns, pattern.id)).at(-1)!.changeType, 'deleted');
});

test('trajectories and the graph: record, list, search; nodes, edges, neighbours out, in and both', async () => {
  const ns = 'sdk-graph';
  const pattern = await memory.patterns.create({ namespace: ns, type: 'plan' });
  const t1 = await memory.trajectories.record({ namespace: ns, patternId: pattern.id, steps: [{ tool: 'search' }, { tool: 'answer' }], outcome: 'ok', reward: 1, embedding: vector(21) });
  await memory.trajectories.record({ namespace: ns, steps: [], outcome: 'failed', reward: -0.5, embedding: vector(22) });
  assert.deepEqual(t1.steps, [{ tool: 'search' }, { tool: 'answer' }]);
  assert.equal((await memory.trajectories.list(ns)).length, 2);
  assert.deepEqual((await memory.trajectories.list(ns, { patternId: pattern.id })).map((t) => t.id), [t1.id]);
  assert.equal((await memory.trajectories.search(ns, { embedding: vector(21), limit: 1 }))[0]!.id, t1.id);

  for (const [key, label] of [['alice', 'person'], ['bob', 'person'], ['dpg', 'project'], ['pg', 'project']]) await memory.graph.upsertNode({ namespace: ns, key: key!, label: label!, embedding: vector(key!.length) });
  await memory.graph.upsertEdge({ namespace: ns, source: 'alice', target: 'dpg', relation: 'works_on', weight: 2 });
  await memory.graph.upsertEdge({ namespace: ns, source: 'bob', target: 'dpg', relation: 'works_on' });
  await memory.graph.upsertEdge({ namespace: ns, source: 'dpg', target: 'pg', relation: 'depends_on' });
  const edge = await memory.graph.upsertEdge({ namespace: ns, source: 'alice', target: 'bob', relation: 'knows', weight: 0.5, properties: { since: 2020 } });
  assert.deepEqual(edge.properties, { since: 2020 });
  const out = await memory.graph.neighbors(ns, 'dpg', { direction: 'out' });
  assert.deepEqual(out.map((n) => [n.node.key, n.edge.relation, n.direction]), [['pg', 'depends_on', 'out']]);
  const into = await memory.graph.neighbors(ns, 'dpg', { direction: 'in' });
  assert.deepEqual(into.map((n) => n.node.key), ['alice', 'bob'], 'heaviest edge first');
  const both = await memory.graph.neighbors(ns, 'alice', { relation: 'knows' });
  assert.deepEqual(both.map((n) => [n.node.key, n.node.label]), [['bob', 'person']]);
  assert.equal((await memory.graph.neighbors(ns, 'dpg')).length, 3);
  assert.equal((await memory.graph.getNode(ns, 'pg'))!.label, 'project');
  assert.equal(await memory.graph.deleteNode(ns, 'dpg'), true);
  assert.deepEqual(await memory.graph.neighbors(ns, 'alice', { direction: 'out' }).then((n) => n.map((x) => x.node.key)), ['bob'], "the node's edges went with it");
  assert.equal(await memory.graph.deleteEdge({ namespace: ns, source: 'alice', target: 'bob', relation: 'knows' }), true);
  await rejectsWith(memory.graph.neighbors(ns, 'alice', { direction: 'sideways' as 'out' }), ValidationError);
});

test('sessions: start, get, touch merges state, list, expiry, end', async () => {
  const session = await memory.sessions.start({ namespace: 'sdk-sessions', agentId: 'agent-7', state: { step: 1, goal: 'x' }, ttlSeconds: 60 });
  assert.equal((await memory.sessions.get(session.id))!.agentId, 'agent-7');
  const touched = await memory.sessions.touch(session.id, { state: { step: 2 } });
  assert.deepEqual(touched.state, { step: 2, goal: 'x' });
  assert.ok(touched.lastActiveAt >= session.lastActiveAt);
  assert.deepEqual((await memory.sessions.list({ agentId: 'agent-7' })).map((s) => s.id), [session.id]);
  const brief = await memory.sessions.start({ agentId: 'agent-7', ttlSeconds: 1 });
  await new Promise((r) => setTimeout(r, 1300));
  assert.equal(await memory.sessions.get(brief.id), null);
  await rejectsWith(memory.sessions.touch(brief.id), NotFoundError);
  assert.ok((await memory.sessions.purgeExpired()) >= 1);
  assert.equal(await memory.sessions.end(session.id), true);
  assert.equal(await memory.sessions.get(session.id), null);
});

test('batch writes: 10,000 entries in multi-row INSERTs, streamed back; a bad row refuses the whole batch before anything is sent', async () => {
  const ns = ['sdk-bulk-1', 'sdk-bulk-2', 'sdk-bulk-3'];
  const entries: NewMemory[] = Array.from({ length: 10_000 }, (_, i) => ({ namespace: ns[i % 3]!, key: `b${i}`, value: `value ${i}`, embedding: vector(50_000 + i), tags: [`t${i % 10}`] }));
  let progress = 0;
  const started = performance.now();
  assert.equal(await memory.memories.storeMany(entries, { chunkSize: 500, onProgress: (written) => (progress = written) }), 10_000);
  const seconds = (performance.now() - started) / 1000;
  assert.equal(progress, 10_000);
  let streamed = 0;
  for (const namespace of ns) for await (const _ of memory.memories.stream(namespace, { batchSize: 1000 })) streamed++;
  assert.equal(streamed, 10_000);
  // Again with 'skip': nothing new; with 'update': every row rewritten.
  assert.equal(await memory.memories.storeMany(entries.slice(0, 1000), { onConflict: 'skip' }), 0);
  assert.equal(await memory.memories.storeMany(entries.slice(0, 1000).map((e) => ({ ...e, value: 'new' })), { onConflict: 'update' }), 1000);
  assert.equal((await memory.memories.get('sdk-bulk-1', 'b0'))!.value, 'new');
  await rejectsWith(memory.memories.storeMany(entries.slice(0, 10), { onConflict: 'error' }), AlreadyExistsError);
  // One NaN among 5,000 new rows: refused, none stored.
  const bad = Array.from({ length: 5000 }, (_, i) => ({ namespace: 'sdk-bulk-bad', key: `x${i}`, embedding: i === 4321 ? vector(1).map((v, j) => (j === 7 ? NaN : v)) : vector(i) }));
  await rejectsWith(memory.memories.storeMany(bad), ValidationError, /entries\[4321\]\.embedding\[7\] is NaN/);
  assert.equal(await memory.memories.count('sdk-bulk-bad'), 0);
  await rejectsWith(memory.memories.storeMany([{ namespace: 'n', key: 'k' }, { namespace: 'n', key: 'k' }]), ValidationError, /has the namespace and key of entries\[0\]/);
  console.log(`storeMany: 10,000 entries with 384-dim embeddings in ${seconds.toFixed(2)} s (${Math.round(10_000 / seconds)} rows/s)`);
});

test('errors: refused before sending, or mapped from the server SQLSTATE: dimension mismatch, not found, namespace not allowed, retryable', async () => {
  // Refused before sending.
  await rejectsWith(memory.memories.store({ namespace: '', key: 'k' }), ValidationError, /namespace must not be empty/);
  await rejectsWith(memory.memories.store({ namespace: 'n', key: 'k', embedding: [1, 2, 3] }), DimensionMismatchError, /has 3 dimensions; this table's vectors have 384/);
  await rejectsWith(memory.memories.search('n', { embedding: vector(1).map((v, i) => (i === 0 ? Infinity : v)) }), ValidationError, /embedding\[0\] is Infinity/);
  await rejectsWith(memory.memories.search('n', { embedding: vector(1), limit: 0 }), ValidationError, /limit must be a whole number from 1 to 1000/);
  const restricted = await MemoryClient.connect({ url: cluster.url, pool: { min_size: 0, max_size: 1 }, namespaces: ['team-*'] });
  try {
    await restricted.memories.store({ namespace: 'team-a', key: 'k', value: 'v' });
    const refused = await rejectsWith(restricted.memories.get('other', 'k'), NamespaceNotAllowedError, /namespace "other" is not one this client may use/);
    assert.equal(refused.namespace, 'other');
  } finally {
    await restricted.close();
  }

  // What the server says, through the coordinator, mapped by SQLSTATE.
  const raw = new pg.Client(cluster.url);
  await raw.connect();
  const serverError = async (sql: string, values: unknown[] = []) => {
    try {
      await raw.query(sql, values);
    } catch (error) {
      return error;
    }
    assert.fail(`${sql} did not fail`);
  };
  try {
    const dimension = mapError(await serverError(`INSERT INTO memory_entries (namespace, key, embedding) VALUES ('n', 'k3', '[1,2,3]')`));
    assert.ok(dimension instanceof DimensionMismatchError, dimension.message);
    assert.equal(dimension.sqlstate, '22000');
    assert.deepEqual([dimension.expected, dimension.actual], [384, 3]);
    // (DO blocks are refused by dpg: a function of the control group raises it.)
    await raw.query(`CREATE OR REPLACE FUNCTION sdk_raise_not_found() RETURNS void LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no such memory' USING ERRCODE = 'no_data_found'; END $$`);
    const notFound = mapError(await serverError('SELECT sdk_raise_not_found()'));
    assert.ok(notFound instanceof NotFoundError && notFound.sqlstate === 'P0002', notFound.message);
    const denied = mapError(await serverError(`SELECT pg_read_file('/etc/hostname')`), { namespace: 'team-b' });
    assert.ok(denied instanceof NamespaceNotAllowedError && denied.sqlstate === '42501' && denied.namespace === 'team-b', denied.message);
    // 40001: two transactions update one row; the one whose snapshot is older is rolled back.
    await raw.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ('sdk-errors', 'row', '0')`);
    const other = new pg.Client(cluster.url);
    await other.connect();
    try {
      await raw.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await raw.query(`SELECT value FROM memory_entries WHERE namespace = 'sdk-errors' AND key = 'row'`);
      await other.query(`UPDATE memory_entries SET value = '1' WHERE namespace = 'sdk-errors' AND key = 'row'`);
      const conflict = mapError(await serverError(`UPDATE memory_entries SET value = '2' WHERE namespace = 'sdk-errors' AND key = 'row'`));
      assert.ok(conflict instanceof RetryableFailoverError && conflict.retryable && conflict.sqlstate === '40001', conflict.message);
      await raw.query('ROLLBACK');
    } finally {
      await other.end();
    }
    const refused = mapError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }));
    assert.ok(refused instanceof RetryableFailoverError && refused.sqlstate === undefined);
    // What the coordinator says of a write whose worker connection broke (the shard-move test sees it for real).
    const unknown = mapError(Object.assign(new Error('the write may or may not have been committed'), { code: '08007' }));
    assert.ok(unknown instanceof OutcomeUnknownError && !unknown.retryable);
  } finally {
    await raw.end();
  }
  // A coordinator that is not there: the pool cannot connect, the SDK says so with a retryable error.
  await rejectsWith(MemoryClient.connect({ url: 'postgres://u:p@127.0.0.1:1/db', pool: { min_size: 1, max_size: 1 } }), Error);
});

test('a worker group switches over under SDK calls: every call succeeds (the coordinator and the SDK retry), nothing is lost', async () => {
  const group = cluster.layout.groups[1]!;
  const before = (await groupLeader(group))!;
  const candidate = group.nodes.find((n) => n.name !== before.name)!;
  const written: string[] = [];
  const errors: string[] = [];
  const retries: string[] = [];
  const client = await MemoryClient.connect({ url: cluster.url, pool: { min_size: 4, max_size: 8 }, onRetry: (error) => retries.push(`${error.sqlstate ?? 'connection'}: ${error.message}`) });
  let stop = false;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const key = `w${w}-${i}`;
      try {
        await client.memories.upsert({ namespace: `sdk-failover-${w}`, key, value: 'v', embedding: vector(i) });
        written.push(`sdk-failover-${w}/${key}`);
        await client.memories.get(`sdk-failover-${w}`, key);
        await client.memories.search(`sdk-failover-${w}`, { embedding: vector(i), limit: 3, minSimilarity: null });
      } catch (error) {
        errors.push(`${(error as Error).constructor.name}: ${(error as Error).message}`);
      }
    }
  };
  const running = [1, 2, 3, 4].map(worker);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const response = await fetch(`http://127.0.0.1:${before.restPort}/switchover`, { method: 'POST', headers: patroniAuthorization(cluster.secrets), body: JSON.stringify({ leader: before.name, candidate: candidate.name }) });
    assert.equal(response.status, 200, await response.text());
    for (const deadline = Date.now() + 30_000; (await groupLeader(group))?.name !== candidate.name; await new Promise((r) => setTimeout(r, 250))) assert.ok(Date.now() < deadline);
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    stop = true;
    await Promise.all(running);
    await client.close();
  }
  assert.deepEqual(errors, [], 'every call succeeded, retried where the switchover rolled it back');
  for (const id of written) {
    const [namespace, key] = id.split('/');
    assert.ok(await memory.memories.get(namespace!, key!), `${id} is there`);
  }
  console.log(`switchover of ${group.name} under SDK calls: ${written.length} upserts, 0 errors, ${retries.length} retries (${[...new Set(retries.map((r) => r.slice(0, 90)))].slice(0, 3).join(' | ')})`);
});

test('pools from the seed numbers (dpg.yaml pools.coordinator_pool), health; DualDatabasePools (project + shared knowledge)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dpg-sdk-'));
  try {
    const file = join(dir, 'dpg.yaml');
    writeFileSync(file, 'pools:\n  coordinator_pool: { min_size: 3, max_size: 7, max_queries: 1000 }\n');
    const config = loadPoolConfig(file);
    assert.deepEqual(config, { min_size: 3, max_size: 7, max_queries: 1000, max_inactive_connection_lifetime: 300 });
    assert.deepEqual(loadPoolConfig(cluster.configFile), { min_size: 5, max_size: 50, max_queries: 50000, max_inactive_connection_lifetime: 300 }, "the seed's numbers where the file has none");
    const options = poolOptions(cluster.url, config);
    assert.equal(options.max, 7);
    assert.equal(options.maxUses, 1000);
    assert.equal(options.idleTimeoutMillis, 300_000);
    assert.throws(() => poolOptions(cluster.url, { min_size: 9, max_size: 2 }), ValidationError);
    const pools = await DualDatabasePools.open({
      project: { url: cluster.url, pool: config, namespaces: ['project-*'] },
      shared: { url: cluster.url, pool: { min_size: 1, max_size: 3 }, namespaces: ['kb-*'] },
    });
    try {
      assert.ok(pools.project.pool.totalCount >= 3, `min_size connections opened: ${pools.project.pool.totalCount}`);
      const health = await pools.health();
      assert.equal(health.ok, true, JSON.stringify(health));
      assert.ok(health.project.latencyMs! >= 0 && health.shared.total >= 1);
      await pools.project.memories.store({ namespace: 'project-1', key: 'k', value: 'mine' });
      await pools.shared.memories.store({ namespace: 'kb-general', key: 'k', value: 'everyone' });
      await rejectsWith(pools.project.memories.get('kb-general', 'k'), NamespaceNotAllowedError);
      assert.equal((await pools.shared.memories.get('kb-general', 'k'))!.value, 'everyone');
    } finally {
      await pools.close();
    }
    const unhealthy = await MemoryClient.connect({ url: cluster.url, pool: { min_size: 0, max_size: 1 } });
    await unhealthy.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the examples run against the cluster (DPG_URL); the package builds and plain node imports it', async () => {
  const env = { ...process.env, DPG_URL: cluster.url };
  const agent = await run('npx', ['tsx', 'sdk/examples/agent.ts'], { env });
  assert.match(agent.stdout, /recall for "why do the integration tests fail":\n {2}tests/);
  assert.match(agent.stdout, /pattern debugging: confidence 0\.67 after 1 success/);
  const bulk = await run('npx', ['tsx', 'sdk/examples/bulk-import.ts', '3000'], { env });
  assert.match(bulk.stdout, /imported 3000 memories in/);
  assert.match(bulk.stdout, /streamed back 3000 memories/);
  const cross = await run('npx', ['tsx', 'sdk/examples/cross-namespace.ts'], { env });
  assert.match(cross.stdout, /across all teams:\n {2}team-search-/);
  assert.match(cross.stdout, /two-phase retrieval \(exact re-rank\):/);
  const missing = await run('npx', ['tsx', 'sdk/examples/agent.ts'], { env: { ...process.env, DPG_URL: '' } }).catch((error) => error);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /set DPG_URL/);

  await run('npx', ['tsc', '-p', 'sdk/tsconfig.json']);
  const imported = await run(process.execPath, [
    '--input-type=module',
    '-e',
    `import * as sdk from '${join(process.cwd(), 'sdk/dist/index.js')}'; const e = sdk.mapError(Object.assign(new Error('x'), { code: '40001' })); console.log(typeof sdk.MemoryClient.connect, e.constructor.name, e.retryable);`,
  ]);
  assert.equal(imported.stdout.trim(), 'function RetryableFailoverError true');
});

test('a transaction the server rolls back (a deadlock, 40P01) is made again by the SDK: both finish, onRetry is told', async () => {
  const retries: string[] = [];
  const client = await MemoryClient.connect({ url: cluster.url, pool: { min_size: 2, max_size: 4 }, onRetry: (error, attempt) => retries.push(`${error.sqlstate} #${attempt}`) });
  try {
    const ns = 'sdk-deadlock';
    await client.memories.storeMany([{ namespace: ns, key: 'x', value: '0' }, { namespace: ns, key: 'y', value: '0' }]);
    let arrived = 0;
    let release!: () => void;
    const bothLocked = new Promise<void>((resolve) => (release = resolve));
    const bump = (first: string, second: string) =>
      client.transaction(async (tx) => {
        await tx.query(`UPDATE memory_entries SET value = (value::int + 1)::text WHERE namespace = $1 AND key = $2`, [ns, first]);
        if (++arrived === 2) release();
        await bothLocked;
        await tx.query(`UPDATE memory_entries SET value = (value::int + 1)::text WHERE namespace = $1 AND key = $2`, [ns, second]);
      });
    await Promise.all([bump('x', 'y'), bump('y', 'x')]);
    assert.deepEqual(retries, ['40P01 #1'], 'one of the two was chosen as the deadlock victim and made again');
    assert.equal((await client.memories.get(ns, 'x'))!.value, '2', 'each transaction counted once');
    assert.equal((await client.memories.get(ns, 'y'))!.value, '2');
  } finally {
    await client.close();
  }
});

test('dpg up adds the columns the SDK needs (memory_entries.expires_at, patterns.success_count, failure_count) to a cluster made without them', async () => {
  const raw = new pg.Client(cluster.url);
  await raw.connect();
  const columns = async () =>
    (await raw.query(`SELECT table_name || '.' || column_name AS c FROM information_schema.columns WHERE table_name IN ('memory_entries', 'patterns') AND column_name IN ('expires_at', 'success_count', 'failure_count') ORDER BY 1`)).rows.map((r) => r.c);
  try {
    await raw.query('ALTER TABLE memory_entries DROP COLUMN expires_at');
    await raw.query('ALTER TABLE patterns DROP COLUMN failure_count');
    assert.deepEqual(await columns(), ['patterns.success_count']);
    const up = await runDpg(['up', '--config', cluster.configFile], { cwd: cluster.dir, timeoutMs: 300_000 });
    assert.equal(up.code, 0, up.stdout + up.stderr);
    assert.match(up.stdout + up.stderr, /seed schema: memory_entries\.expires_at added/);
    assert.deepEqual(await columns(), ['memory_entries.expires_at', 'patterns.failure_count', 'patterns.success_count']);
    const stored = await memory.memories.store({ namespace: 'sdk-upgraded', key: 'k', value: 'v', ttlSeconds: 60 });
    assert.ok(stored.expiresAt);
    const pattern = await memory.patterns.create({ namespace: 'sdk-upgraded', type: 't' });
    assert.equal((await memory.patterns.recordOutcome('sdk-upgraded', pattern.id, false)).failureCount, 1);
  } finally {
    await raw.end();
  }
});
