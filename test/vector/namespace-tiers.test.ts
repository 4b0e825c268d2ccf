import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import { connectNode, withClient } from '../../src/cluster/connect.ts';
import { seededGaussian, normalize, nearby, vectorLiteral } from '../../src/util/vectors.ts';
import { shardIndexForValue } from '../../src/topology/shard-ranges.ts';
import { compositeKey } from '../../src/topology/snapshot.ts';
import { cosineDistance } from '../clients/support.ts';

// Namespaces of every size share the same shards. Small ones are searched exactly;
// past vector.exact_search_max_rows (300 here) a namespace gets its own HNSW index,
// built concurrently while its writes go on. Every search must return k rows when
// the namespace has k, matching exact search (recall@10 >= 0.95 on an index).
const SHARDS = 4;
const DIM = 384;
const THRESHOLD = 300;
const SPLIT = 2500;
const PROFILE_BOUND = 3000;
const BIG = 'tier/big';
const MID = 'tier/mid';
const ONE = 'tier/one';
const smallName = (i: number) => `tier/small-${i}`;
const SMALL_COUNT = 120;

let cluster: TestCluster;
let client: pg.Client;
/** Every row written, by namespace: key -> embedding. */
const rows = new Map<string, Map<string, Float64Array>>();

const gaussian = seededGaussian(7);
const centroids = Array.from({ length: 8 }, () => normalize(Float64Array.from({ length: DIM }, gaussian)));
const entry = (topic: number) => nearby(centroids[topic % centroids.length]!, 0.05, gaussian);
const query = (topic: number) => nearby(centroids[topic % centroids.length]!, 0.03, gaussian);

/** Exact top-k keys over some namespaces, nearest first. */
function exactTopK(namespaces: string[], q: Float64Array, k: number, minSimilarity: number | null = null, keep: (key: string) => boolean = () => true): string[] {
  const all: { key: string; d: number }[] = [];
  for (const ns of namespaces) {
    for (const [key, v] of rows.get(ns) ?? []) {
      if (!keep(key)) continue;
      const d = cosineDistance(v, q);
      if (minSimilarity === null || 1 - d >= minSimilarity) all.push({ key, d });
    }
  }
  return all.sort((x, y) => x.d - y.d).slice(0, k).map((r) => r.key);
}

function recall(found: string[], exact: string[]): number {
  if (exact.length === 0) return found.length === 0 ? 1 : 0;
  const set = new Set(exact);
  return found.filter((k) => set.has(k)).length / exact.length;
}

async function insertRows(c: pg.Client, namespace: string, count: number, topicOf: (i: number) => number, keyPrefix = 'k'): Promise<void> {
  let byKey = rows.get(namespace);
  if (!byKey) rows.set(namespace, (byKey = new Map()));
  for (let start = 0; start < count; start += 200) {
    const values: string[] = [];
    const params: string[] = [];
    for (let i = start; i < Math.min(count, start + 200); i++) {
      const key = `${keyPrefix}${byKey.size}`;
      const v = entry(topicOf(i));
      byKey.set(key, v);
      params.push(namespace, key, vectorLiteral(v));
      values.push(`($${params.length - 2}, $${params.length - 1}, $${params.length}::vector)`);
    }
    await c.query(`INSERT INTO memory_entries (namespace, key, embedding) VALUES ${values.join(', ')}`, params);
  }
}

async function search(namespace: string | string[], q: Float64Array, k: number, minSimilarity: number | null = null): Promise<string[]> {
  const namespaceCondition = Array.isArray(namespace) ? 'namespace = ANY($1::text[])' : 'namespace = $1';
  const similarity = minSimilarity === null ? '' : ` AND (1 - (embedding <=> $2::vector)) >= ${minSimilarity}`;
  const result = await client.query<{ key: string }>(
    `SELECT key FROM memory_entries WHERE ${namespaceCondition}${similarity} ORDER BY embedding <=> $2::vector LIMIT $3`,
    [namespace, vectorLiteral(q), k],
  );
  return result.rows.map((r) => r.key);
}

async function tiers(): Promise<Map<string, { tier: string; rows: number }>> {
  const result = await client.query<{ namespace: string; tier: string; row_count: string }>(
    "SELECT namespace, tier, row_count FROM dpg_namespaces WHERE table_name = 'memory_entries'",
  );
  return new Map(result.rows.map((r) => [r.namespace, { tier: r.tier, rows: Number(r.row_count) }]));
}

async function waitForTier(namespace: string, tier: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = (await tiers()).get(namespace)?.tier;
    if (current === tier) return;
    if (Date.now() > deadline) assert.fail(`${namespace} did not reach tier ${tier} (now ${current})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The primary of the worker group holding a namespace's shard, as superuser. */
async function onShardPrimary<T>(namespace: string, run: (c: pg.Client, relation: string) => Promise<T>): Promise<T> {
  const shardIndex = shardIndexForValue(namespace, SHARDS);
  const shard = await client.query<{ shardid: string; nodeport: number }>(
    "SELECT shardid::text, nodeport FROM citus_shards WHERE table_name = 'memory_entries'::regclass ORDER BY shardid",
  );
  const row = shard.rows[shardIndex]!;
  const node = cluster.layout.groups.flatMap((g) => g.nodes).find((n) => n.pgPort === row.nodeport)!;
  return withClient(await connectNode(node, cluster.secrets, 'distributed_postgres_cluster'), (c) => run(c, `memory_entries_${row.shardid}`));
}

/** Rows of a namespace on each shard, counted on the workers. */
async function rowsByShard(namespace: string): Promise<number[]> {
  const shards = await client.query<{ shardid: string; nodeport: number }>(
    "SELECT shardid::text, nodeport FROM citus_shards WHERE table_name = 'memory_entries'::regclass ORDER BY shardid",
  );
  const counts: number[] = [];
  for (const shard of shards.rows) {
    const node = cluster.layout.groups.flatMap((g) => g.nodes).find((n) => n.pgPort === shard.nodeport)!;
    counts.push(
      await withClient(await connectNode(node, cluster.secrets, 'distributed_postgres_cluster'), async (c) =>
        Number((await c.query(`SELECT count(*) AS n FROM memory_entries_${shard.shardid} WHERE namespace = $1`, [namespace])).rows[0].n),
      ),
    );
  }
  return counts;
}

async function partialIndexes(namespace: string): Promise<{ name: string; scans: number }[]> {
  return onShardPrimary(namespace, async (c, relation) => {
    const result = await c.query<{ name: string; scans: string; predicate: string }>(
      `SELECT i.indexrelname AS name, i.idx_scan AS scans, pg_get_expr(x.indpred, x.indrelid) AS predicate
       FROM pg_stat_user_indexes i JOIN pg_index x ON x.indexrelid = i.indexrelid
       WHERE i.relname = $1 AND x.indpred IS NOT NULL`,
      [relation],
    );
    return result.rows.filter((r) => r.predicate.includes(`'${namespace}'`)).map((r) => ({ name: r.name, scans: Number(r.scans) }));
  });
}

before(async () => {
  cluster = await startTestCluster({
    basePort: 23432,
    shardCount: SHARDS,
    extraConfig: [
      `vector: { exact_search_max_rows: ${THRESHOLD}, split_rows: ${SPLIT}, tier_check_interval_seconds: 1 }`,
      // Two profiles with a small bound, so shards and namespaces of this test cross it.
      `hnsw: { profiles: [ { max_vectors: ${PROFILE_BOUND}, m: 16, ef_construction: 64, ef_search: 40 }, { max_vectors: null, m: 24, ef_construction: 64, ef_search: 60 } ] }`,
    ],
  });
  client = new pg.Client(cluster.url);
  await client.connect();
});

after(async () => {
  await client?.end().catch(() => {});
  await cluster?.stop();
});

test('small namespaces sharing shards are searched exactly: k rows whenever the namespace has k', async () => {
  await insertRows(client, ONE, 1, () => 0);
  for (let i = 0; i < SMALL_COUNT; i++) await insertRows(client, smallName(i), 1 + (i % 40), (n) => i + n);
  for (const i of [0, 5, 17, 39, 79, 119]) {
    const ns = smallName(i);
    for (let t = 0; t < 3; t++) {
      const q = query(i + t);
      const found = await search(ns, q, 10);
      const exact = exactTopK([ns], q, 10);
      assert.equal(found.length, Math.min(10, rows.get(ns)!.size), `${ns} returned ${found.length} rows`);
      assert.deepEqual(found, exact, `${ns} returned the exact top-k`);
    }
  }
  assert.deepEqual(await search(ONE, query(3), 10), ['k0']);
});

test('a namespace past the bound is promoted online: exact while its index builds, its writes go on, then its own HNSW index', async () => {
  // A transaction that wrote to the namespace's shard and stays open makes CREATE INDEX
  // CONCURRENTLY wait for it, which holds the promotion in its 'promoting' step.
  const holder = new pg.Client(cluster.url);
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query("INSERT INTO memory_entries (namespace, key, embedding) VALUES ($1, 'held', $2::vector)", [BIG, vectorLiteral(entry(1))]);
    await insertRows(client, BIG, 2000, (i) => i);
    await insertRows(client, MID, 500, (i) => i + 3);
    await waitForTier(BIG, 'promoting');

    // During the promotion: exact answers, and writes to the namespace are not blocked.
    for (let t = 0; t < 5; t++) {
      const q = query(t);
      assert.deepEqual(await search(BIG, q, 10), exactTopK([BIG], q, 10));
    }
    await insertRows(client, BIG, 50, (i) => i, 'during-');
    const q = query(2);
    assert.deepEqual(await search(BIG, q, 10), exactTopK([BIG], q, 10));
    assert.equal((await tiers()).get(BIG)?.tier, 'promoting');
    await holder.query('COMMIT');
    rows.get(BIG)!.set('held', entry(1));
  } finally {
    await holder.end().catch(() => {});
  }
  await waitForTier(BIG, 'hnsw');
  await waitForTier(MID, 'hnsw');
  const listed = await tiers();
  assert.equal(listed.get(BIG)?.rows, rows.get(BIG)!.size);
  assert.equal(listed.get(smallName(3))?.tier, 'exact');
  assert.equal((await partialIndexes(BIG)).length, 1, 'the namespace has an index of its own');
});

test('promoted namespaces: k rows and recall@10 >= 0.95 from their own index', async () => {
  const before = (await partialIndexes(BIG))[0]!.scans;
  for (const ns of [BIG, MID]) {
    let total = 0;
    const queries = 20;
    for (let t = 0; t < queries; t++) {
      const q = query(t);
      const found = await search(ns, q, 10);
      assert.equal(found.length, 10);
      total += recall(found, exactTopK([ns], q, 10));
    }
    assert.ok(total / queries >= 0.95, `${ns}: recall@10 ${total / queries}`);
  }
  // pg_stat counters are flushed by the worker's backend within a second or so.
  const deadline = Date.now() + 10_000;
  while ((await partialIndexes(BIG))[0]!.scans <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  assert.ok((await partialIndexes(BIG))[0]!.scans > before, "the namespace's own index served the searches");
  // More rows than the nodes' hnsw.ef_search (50): the coordinator raises it for the search.
  const q = query(4);
  const found = await search(BIG, q, 120);
  assert.equal(found.length, 120);
  assert.ok(recall(found, exactTopK([BIG], q, 120)) >= 0.9);
  // Another condition besides the namespace: the index would apply it to its candidates only; the search runs exactly.
  const filtered = await client.query<{ key: string }>("SELECT key FROM memory_entries WHERE namespace = $1 AND key LIKE 'k1%' ORDER BY embedding <=> $2::vector LIMIT 10", [BIG, vectorLiteral(q)]);
  assert.deepEqual(filtered.rows.map((r) => r.key), exactTopK([BIG], q, 10, null, (key) => key.startsWith('k1')));
  // The same statement prepared by the client, run past PostgreSQL's switch to a generic plan.
  for (let t = 0; t < 8; t++) {
    const result = await client.query({ name: 'tier-search', text: 'SELECT key FROM memory_entries WHERE namespace = $1 ORDER BY embedding <=> $2::vector LIMIT 10', values: [t % 2 ? BIG : smallName(39), vectorLiteral(query(t))] });
    assert.equal(result.rows.length, 10);
  }
});

test('min_similarity returns the rows above the threshold, on exact and indexed namespaces, and still uses the index', async () => {
  const scansBefore = (await partialIndexes(BIG))[0]!.scans;
  for (const ns of [smallName(39), BIG]) {
    for (let t = 0; t < 4; t++) {
      const q = query(t);
      const found = await search(ns, q, 10, 0.7);
      const exact = exactTopK([ns], q, 10, 0.7);
      assert.equal(found.length, exact.length, `${ns}: ${found.length} rows above 0.7, exact ${exact.length}`);
      assert.ok(recall(found, exact) >= 0.9, `${ns}: recall ${recall(found, exact)}`);
    }
  }
  // A threshold nothing reaches: no rows, from either tier.
  assert.deepEqual(await search(BIG, query(1), 10, 0.9999), exactTopK([BIG], query(1), 10, 0.9999));
  const deadline = Date.now() + 10_000;
  while ((await partialIndexes(BIG))[0]!.scans <= scansBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  assert.ok((await partialIndexes(BIG))[0]!.scans > scansBefore, "the namespace's own index served the min_similarity searches");
});

test('cross-namespace search merges per-namespace candidates: the exact answer on small namespaces, recall on indexed ones', async () => {
  const small = [0, 7, 21, 39, 58].map(smallName);
  for (let t = 0; t < 4; t++) {
    const q = query(t);
    assert.deepEqual(await search(small, q, 20), exactTopK(small, q, 20));
  }
  const mixed = [BIG, MID, smallName(39), smallName(79), ONE];
  let total = 0;
  for (let t = 0; t < 10; t++) {
    const q = query(t);
    const found = await search(mixed, q, 20);
    assert.equal(found.length, 20);
    total += recall(found, exactTopK(mixed, q, 20));
  }
  assert.ok(total / 10 >= 0.95, `recall@20 ${total / 10}`);
});

test('a namespace that shrinks below half the bound goes back to exact search and loses its index', async () => {
  const keep = [...rows.get(MID)!.keys()].slice(0, 100);
  await client.query('DELETE FROM memory_entries WHERE namespace = $1 AND NOT (key = ANY($2::text[]))', [MID, keep]);
  for (const key of [...rows.get(MID)!.keys()]) if (!keep.includes(key)) rows.get(MID)!.delete(key);
  await waitForTier(MID, 'exact');
  const deadline = Date.now() + 20_000;
  while ((await partialIndexes(MID)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  assert.deepEqual(await partialIndexes(MID), []);
  const q = query(5);
  assert.deepEqual(await search(MID, q, 10), exactTopK([MID], q, 10));
});

test('a namespace too large for one shard is split by namespace || month: new rows go to their piece, searches cover every piece', async () => {
  // A namespace whose composite key for this month lands on another shard than its own.
  let huge = '';
  for (let i = 0; !huge; i++) {
    const name = `tier/huge-${i}`;
    if (shardIndexForValue(compositeKey(name, new Date()), SHARDS) !== shardIndexForValue(name, SHARDS)) huge = name;
  }
  const home = shardIndexForValue(huge, SHARDS);
  const piece = shardIndexForValue(compositeKey(huge, new Date()), SHARDS);
  await insertRows(client, huge, SPLIT + 100, (i) => i);
  await waitForTier(huge, 'split');
  const before = await rowsByShard(huge);
  assert.equal(before[home], SPLIT + 100);
  assert.equal(before.reduce((a, b) => a + b, 0), SPLIT + 100, 'before the split every row is on its home shard');
  await insertRows(client, huge, 400, (i) => i + 1, 'after-split-');
  const counts = await rowsByShard(huge);
  assert.equal(counts[home], SPLIT + 100, 'rows from before the split stay home');
  assert.equal(counts[piece], 400, 'new rows go to the shard of namespace || YYYY-MM');
  assert.equal((await client.query('SELECT count(*)::int AS n FROM memory_entries WHERE namespace = $1', [huge])).rows[0].n, SPLIT + 500);

  // Searches over both pieces: k rows, the exact answer's neighbours (exact or indexed pieces).
  const check = async () => {
    let total = 0;
    for (let t = 0; t < 10; t++) {
      const q = query(t);
      const found = await search(huge, q, 10);
      assert.equal(found.length, 10);
      total += recall(found, exactTopK([huge], q, 10));
    }
    assert.ok(total / 10 >= 0.95, `recall@10 ${total / 10}`);
  };
  await check();
  // The new piece passes the bound too: it gets an index of its own on its shard.
  const deadline = Date.now() + 60_000;
  while ((await client.query("SELECT cardinality(index_names) AS n FROM dpg_namespaces WHERE namespace = $1", [huge])).rows[0].n < 2) {
    if (Date.now() > deadline) assert.fail('the new piece did not get its own index');
    await new Promise((r) => setTimeout(r, 250));
  }
  await check();
  assert.deepEqual(await search([huge, smallName(5)], query(2), 20).then((r) => r.length), 20);

  // Writes by key reach the piece that holds the row; joins pinned to a split namespace are refused.
  const updated = await client.query("UPDATE memory_entries SET value = 'moved' WHERE namespace = $1 AND key = 'after-split-2600'", [huge]);
  assert.equal(updated.rowCount, 1);
  const deleted = await client.query("DELETE FROM memory_entries WHERE namespace = $1 AND key = 'k3'", [huge]);
  assert.equal(deleted.rowCount, 1);
  rows.get(huge)!.delete('k3');
  await assert.rejects(
    client.query('SELECT m.key FROM memory_entries m JOIN patterns p ON p.namespace = m.namespace WHERE m.namespace = $1', [huge]),
    /split across shards/,
  );
});

test("HNSW profiles follow size: a shard past the profile's bound gets its shared index rebuilt with the next profile", async () => {
  const shards = await client.query<{ shardid: string; nodeport: number }>(
    "SELECT shardid::text, nodeport FROM citus_shards WHERE table_name = 'memory_entries'::regclass ORDER BY shardid",
  );
  const state = async () => {
    const out: { rows: number; m: number }[] = [];
    for (const shard of shards.rows) {
      const node = cluster.layout.groups.flatMap((g) => g.nodes).find((n) => n.pgPort === shard.nodeport)!;
      out.push(
        await withClient(await connectNode(node, cluster.secrets, 'distributed_postgres_cluster'), async (c) => {
          const rows = Number((await c.query(`SELECT count(*) AS n FROM memory_entries_${shard.shardid}`)).rows[0].n);
          const def = (await c.query('SELECT indexdef FROM pg_indexes WHERE indexname = $1', [`idx_memory_embedding_hnsw_${shard.shardid}`])).rows[0]?.indexdef ?? '';
          return { rows, m: Number(/\bm='?(\d+)/.exec(def)?.[1] ?? 0) };
        }),
      );
    }
    return out;
  };
  let shardsNow = await state();
  assert.ok(shardsNow.some((s) => s.rows > PROFILE_BOUND), `some shard is past ${PROFILE_BOUND} rows: ${JSON.stringify(shardsNow)}`);
  const deadline = Date.now() + 90_000;
  while (shardsNow.some((s) => (s.rows > PROFILE_BOUND ? s.m !== 24 : s.m !== 16)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    shardsNow = await state();
  }
  for (const s of shardsNow) assert.equal(s.m, s.rows > PROFILE_BOUND ? 24 : 16, JSON.stringify(shardsNow));
  // Searches keep their answers through it.
  const q = query(1);
  assert.deepEqual(await search(smallName(17), q, 10), exactTopK([smallName(17)], q, 10));
});
