import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import pg from 'pg';
import { startTestCluster, assertConsistent, type TestCluster } from '../support/test-cluster.ts';
import { seededRandom } from '../support/random.ts';
import {
  assertExactTopK,
  expectError,
  namespacesByGroup,
  parseVectorText,
  placements,
  seededVector,
  vectorText,
  waitForWorkerQuery,
  workerClient,
  type StoredVector,
} from './support.ts';

/**
 * node-postgres against the coordinator: the simple protocol (multi-statement
 * strings), the extended protocol (unnamed and named prepared statements, routed
 * per Bind), vector search checked against exact search, multi-row INSERT split
 * over shards, transactions over several worker groups, SQLSTATEs, per-session
 * settings, CancelRequest, a pool under concurrent load and a large merged result.
 */

const BASE_PORT = 26432;
const SHARD_COUNT = 6;
const SINGLE_NS_SEARCH =
  'SELECT namespace, key, value, 1 - (embedding <=> $1::ruvector) AS similarity FROM memory_entries WHERE namespace = $2 ORDER BY embedding <=> $1::ruvector LIMIT 10';
const CROSS_NS_SEARCH =
  'SELECT namespace, key, value, 1 - (embedding <=> $1::ruvector) AS similarity FROM memory_entries WHERE namespace = ANY($2) ORDER BY embedding <=> $1::ruvector LIMIT 20';

let cluster: TestCluster;
const clients: pg.Client[] = [];

async function connect(config: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: cluster.url, ...config });
  await client.connect();
  clients.push(client);
  return client;
}

/** node-postgres' cancel API (untyped in @types/pg): a new Client connects and sends CancelRequest for `client`'s running `query`. */
function pgCancel(client: pg.Client, query: pg.Query): void {
  const canceller = new pg.Client({ connectionString: cluster.url }) as unknown as { cancel(client: pg.Client, query: pg.Query): void };
  canceller.cancel(client, query);
}

async function close(client: pg.Client): Promise<void> {
  clients.splice(clients.indexOf(client), 1);
  await client.end();
}

/** Namespaces on worker group 1 and on worker group 2 (the cluster has two). */
async function twoGroups(client: pg.Client, prefix: string, perGroup = 1): Promise<[string[], string[]]> {
  const byGroup = await namespacesByGroup(client, prefix, perGroup);
  assert.deepEqual([...byGroup.keys()].sort(), [1, 2]);
  return [byGroup.get(1)!, byGroup.get(2)!];
}

describe('node-postgres (pg) against the coordinator', () => {
  before(async () => {
    // A small INSERT ... SELECT limit, so that a test can pass it.
    cluster = await startTestCluster({ basePort: BASE_PORT, shardCount: SHARD_COUNT, extraConfig: ['coordinator: { insert_select_max_mb: 8 }'] });
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    await cluster?.stop();
  });

  it('runs multi-statement strings over the simple protocol', async () => {
    const client = await connect();
    const [[a], [b]] = await twoGroups(client, 'simple-');
    // No parameters: pg sends one Query message, and gets one result per statement.
    const results = (await client.query(
      `INSERT INTO memory_entries (namespace, key, value) VALUES ('${a}', 'k1', 'one');
       INSERT INTO memory_entries (namespace, key, value) VALUES ('${b}', 'k1', 'two'), ('${a}', 'k2', 'three');
       UPDATE memory_entries SET value = value || '!' WHERE namespace = '${a}';
       SELECT namespace, key, value FROM memory_entries WHERE namespace IN ('${a}', '${b}') ORDER BY namespace, key;
       DELETE FROM memory_entries WHERE namespace = '${b}'`,
    )) as unknown as pg.QueryResult[];
    assert.equal(results.length, 5);
    assert.deepEqual(
      results.map((r) => [r.command, r.rowCount]),
      [['INSERT', 1], ['INSERT', 2], ['UPDATE', 2], ['SELECT', 3], ['DELETE', 1]],
    );
    const expected = [
      { namespace: a, key: 'k1', value: 'one!' },
      { namespace: a, key: 'k2', value: 'three!' },
      { namespace: b, key: 'k1', value: 'two' },
    ].sort((x, y) => (x.namespace < y.namespace ? -1 : x.namespace > y.namespace ? 1 : x.key < y.key ? -1 : 1));
    assert.deepEqual(results[3]!.rows, expected);
    // An empty statement between two others is skipped, as PostgreSQL does.
    const withEmpty = (await client.query(`SELECT 1 AS x;; SELECT count(*)::int AS n FROM memory_entries WHERE namespace = '${a}'`)) as unknown as pg.QueryResult[];
    assert.deepEqual(withEmpty.map((r) => r.rows), [[{ x: 1 }], [{ n: 2 }]]);
    await close(client);
  });

  it('routes parameterized statements and named prepared statements by their Bind values', async () => {
    const client = await connect();
    const namespaces = Array.from({ length: 12 }, (_, i) => `prep-${i}`);
    const where = await placements(client, namespaces);
    assert.ok(new Set([...where.values()].map((p) => p.groupId)).size === 2, 'the namespaces span both groups');
    const insert = { name: 'insert_entry', text: 'INSERT INTO memory_entries (namespace, key, value, tags, metadata) VALUES ($1, $2, $3, $4, $5) RETURNING key, tags, metadata' };
    for (const [i, ns] of namespaces.entries()) {
      const result = await client.query({ ...insert, values: [ns, `key-${i}`, `value-${i}`, ['t', `n${i}`], { i }] });
      assert.deepEqual(result.rows, [{ key: `key-${i}`, tags: ['t', `n${i}`], metadata: { i } }]);
    }
    // The same named statement, executed once per namespace: each Bind picks its shard.
    const lookup = { name: 'lookup_entry', text: 'SELECT namespace, key, value, metadata->>$3 AS i FROM memory_entries WHERE namespace = $1 AND key = $2' };
    for (let round = 0; round < 3; round++) {
      for (const [i, ns] of namespaces.entries()) {
        const result = await client.query({ ...lookup, values: [ns, `key-${i}`, 'i'] });
        assert.deepEqual(result.rows, [{ namespace: ns, key: `key-${i}`, value: `value-${i}`, i: String(i) }]);
        const miss = await client.query({ ...lookup, values: [ns, `key-${i + 1}`, 'i'] });
        assert.equal(miss.rowCount, 0);
      }
    }
    // The rows are on the shard the catalog names, and nowhere else.
    for (const groupId of [1, 2]) {
      const worker = await workerClient(cluster, groupId);
      try {
        for (const ns of namespaces) {
          const p = where.get(ns)!;
          const onThisGroup = await worker.query(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = $1`, [`memory_entries_${p.shardId}`]);
          if (onThisGroup.rows[0].n === 0) continue;
          const rows = await worker.query(`SELECT count(*)::int AS n FROM memory_entries_${p.shardId} WHERE namespace = $1`, [ns]);
          assert.equal(rows.rows[0].n, p.groupId === groupId ? 1 : 0, `${ns} on group ${groupId}`);
        }
      } finally {
        await worker.end();
      }
    }
    // rowMode 'array' and custom type parsers.
    const vectorOid = (await client.query(`SELECT 'vector'::regtype::oid::int AS oid`)).rows[0].oid as number;
    const types = {
      getTypeParser: (oid: number, format?: string) => (oid === vectorOid ? (text: string) => parseVectorText(text) : pg.types.getTypeParser(oid, format as 'text')),
    };
    const v = seededVector(7, 384);
    await client.query('UPDATE memory_entries SET embedding = $1::ruvector WHERE namespace = $2 AND key = $3', [vectorText(v), namespaces[0], 'key-0']);
    const arrays = await client.query({
      text: 'SELECT key, embedding, length(value) FROM memory_entries WHERE namespace = $1 ORDER BY key',
      values: [namespaces[0]],
      rowMode: 'array',
      types,
    });
    assert.deepEqual(arrays.rows, [['key-0', v, 7]]);
    assert.deepEqual(arrays.fields.map((f) => f.dataTypeID), [25, vectorOid, 23]);
    await close(client);
  });

  it('does routed insert, select, update and delete with $n parameters', async () => {
    const client = await connect();
    const ns = 'crud';
    const inserted = await client.query('INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3), ($1, $4, $5)', [ns, 'a', 'A', 'b', 'B']);
    assert.equal(inserted.rowCount, 2);
    const updated = await client.query('UPDATE memory_entries SET value = $3, updated_at = now() WHERE namespace = $1 AND key = $2 RETURNING value', [ns, 'a', 'A2']);
    assert.deepEqual([updated.rowCount, updated.rows], [1, [{ value: 'A2' }]]);
    const selected = await client.query('SELECT key, value FROM memory_entries WHERE namespace = $1 ORDER BY key', [ns]);
    assert.deepEqual(selected.rows, [{ key: 'a', value: 'A2' }, { key: 'b', value: 'B' }]);
    const deleted = await client.query('DELETE FROM memory_entries WHERE namespace = $1 AND key = ANY($2) RETURNING key', [ns, ['b', 'zz']]);
    assert.deepEqual([deleted.rowCount, deleted.rows], [1, [{ key: 'b' }]]);
    const left = await client.query('SELECT count(*)::int AS n FROM memory_entries WHERE namespace = $1', [ns]);
    assert.equal(left.rows[0].n, 1);
    await close(client);
  });

  it('answers single- and cross-namespace vector searches exactly as exact search does', async () => {
    const client = await connect();
    const namespaces = Array.from({ length: 6 }, (_, i) => `vec-${i}`);
    const stored: StoredVector[] = [];
    let seed = 1000;
    for (const ns of namespaces) {
      const rows = Array.from({ length: 40 }, (_, i) => ({ namespace: ns, key: `k${String(i).padStart(2, '0')}`, vector: seededVector(seed++) }));
      stored.push(...rows);
      const values: string[] = [];
      const sql = rows.map((_, i) => `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4}::ruvector)`).join(', ');
      for (const r of rows) values.push(r.namespace, r.key, `value of ${r.key}`, vectorText(r.vector));
      await client.query(`INSERT INTO memory_entries (namespace, key, value, embedding) VALUES ${sql}`, values);
    }
    const toRow = (r: { namespace: string; key: string; value: string; similarity: number }) => {
      assert.equal(r.value, `value of ${r.key}`);
      return { namespace: r.namespace, key: r.key, similarity: r.similarity };
    };
    for (let q = 0; q < 5; q++) {
      const query = seededVector(50_000 + q);
      for (const ns of namespaces) {
        const result = await client.query(SINGLE_NS_SEARCH, [vectorText(query), ns]);
        assertExactTopK(result.rows.map(toRow), query, stored.filter((s) => s.namespace === ns), 10, `query ${q} in ${ns}`);
      }
      const picked = namespaces.filter((_, i) => (i + q) % 2 === 0);
      const cross = await client.query(CROSS_NS_SEARCH, [vectorText(query), picked]);
      assertExactTopK(cross.rows.map(toRow), query, stored.filter((s) => picked.includes(s.namespace)), 20, `query ${q} over ${picked.join(',')}`);
      const all = await client.query(CROSS_NS_SEARCH, [vectorText(query), namespaces]);
      assertExactTopK(all.rows.map(toRow), query, stored, 20, `query ${q} over every namespace`);
    }
    await close(client);
  });

  it('splits a parameterized multi-row INSERT over shards and groups', async () => {
    const client = await connect();
    const namespaces = Array.from({ length: 10 }, (_, i) => `split-${i}`);
    const where = await placements(client, namespaces);
    const rows = namespaces.flatMap((ns, i) => Array.from({ length: i + 1 }, (_, j) => [ns, `k${j}`, `v${i}.${j}`]));
    const sql = `INSERT INTO memory_entries (namespace, key, value) VALUES ${rows.map((_, i) => `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})`).join(', ')} RETURNING namespace, key, value`;
    const result = await client.query(sql, rows.flat());
    assert.equal(result.rowCount, rows.length);
    const sortRows = (list: string[][]) => list.map((r) => r.join('|')).sort();
    assert.deepEqual(sortRows(result.rows.map((r) => [r.namespace, r.key, r.value])), sortRows(rows));
    for (const [i, ns] of namespaces.entries()) {
      const counted = await client.query('SELECT count(*)::int AS n, string_agg(value, \',\' ORDER BY key) AS v FROM memory_entries WHERE namespace = $1', [ns]);
      assert.equal(counted.rows[0].n, i + 1, ns);
    }
    // Each worker holds exactly the rows of the shards placed on it.
    for (const groupId of [1, 2]) {
      const worker = await workerClient(cluster, groupId);
      try {
        for (const ns of namespaces) {
          const p = where.get(ns)!;
          if (p.groupId !== groupId) continue;
          const n = await worker.query(`SELECT count(*)::int AS n FROM memory_entries_${p.shardId} WHERE namespace = $1`, [ns]);
          assert.equal(n.rows[0].n, namespaces.indexOf(ns) + 1, `${ns} in memory_entries_${p.shardId} on group ${groupId}`);
        }
      } finally {
        await worker.end();
      }
    }
    await close(client);
  });

  it('commits and rolls back transactions over several worker groups', async () => {
    const client = await connect();
    const observer = await connect();
    const [[a], [b]] = await twoGroups(client, 'tx-');
    const count = async (ns: string) => (await observer.query('SELECT count(*)::int AS n FROM memory_entries WHERE namespace = $1', [ns])).rows[0].n as number;

    await client.query('BEGIN');
    await client.query('INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3)', [a, 'k', 'a']);
    await client.query('INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3)', [b, 'k', 'b']);
    await client.query(`INSERT INTO metadata (key, value) VALUES ('tx-meta', '{"v": 1}')`);
    const inside = await client.query('SELECT namespace, value FROM memory_entries WHERE namespace = ANY($1) ORDER BY value', [[a, b]]);
    assert.deepEqual(inside.rows, [{ namespace: a, value: 'a' }, { namespace: b, value: 'b' }]);
    assert.deepEqual([await count(a), await count(b)], [0, 0], 'not visible before COMMIT');
    await client.query('COMMIT');
    assert.deepEqual([await count(a), await count(b)], [1, 1]);
    assert.equal((await observer.query(`SELECT value->>'v' AS v FROM metadata WHERE key = 'tx-meta'`)).rows[0].v, '1');

    await client.query('BEGIN');
    await client.query('UPDATE memory_entries SET value = $2 WHERE namespace = $1', [a, 'changed']);
    await client.query('DELETE FROM memory_entries WHERE namespace = $1', [b]);
    await client.query('INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3)', [b, 'k2', 'b2']);
    await client.query('ROLLBACK');
    const after = await observer.query('SELECT namespace, key, value FROM memory_entries WHERE namespace = ANY($1) ORDER BY value', [[a, b]]);
    assert.deepEqual(after.rows, [{ namespace: a, key: 'k', value: 'a' }, { namespace: b, key: 'k', value: 'b' }]);

    // An error fails the block: every statement answers 25P02 until ROLLBACK.
    await client.query('BEGIN');
    await client.query('INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3)', [a, 'k3', 'lost']);
    // (Its own statement text: see 'runs a statement again after it failed on a worker at Bind or Execute'.)
    const duplicate = await expectError(() => client.query('INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3) /* dup */', [b, 'k', 'dup']));
    assert.equal(duplicate.code, '23505');
    for (const attempt of [
      () => client.query('SELECT 1'),
      () => client.query('SELECT key FROM memory_entries WHERE namespace = $1', [a]),
      () => client.query(`SELECT key FROM memory_entries WHERE namespace = '${b}'`),
      () => client.query({ name: 'in_failed_block', text: 'SELECT $1::int', values: [1] }),
    ]) {
      assert.equal((await expectError(attempt)).code, '25P02');
    }
    await client.query('ROLLBACK');
    assert.equal(await count(a), 1, 'the insert before the error was rolled back');
    assert.deepEqual((await client.query('SELECT 1 AS one')).rows, [{ one: 1 }]);

    // COMMIT of a failed block is a rollback.
    await client.query('BEGIN');
    await client.query('INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3)', [b, 'k4', 'lost']);
    await expectError(() => client.query('SELECT 1/0'));
    const commit = await client.query('COMMIT');
    assert.equal(commit.command, 'ROLLBACK');
    assert.equal(await count(b), 1);
    await close(client);
    await close(observer);
  });

  it('reports SQLSTATEs and keeps the connection usable', async () => {
    const client = await connect();
    await client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ('errors', 'dup', 'x')`);
    const cases: [string, () => Promise<unknown>][] = [
      ['23505', () => client.query('INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3)', ['errors', 'dup', 'y'])],
      ['23505', () => client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ('errors', 'dup', 'y')`)],
      ['42P01', () => client.query('SELECT * FROM no_such_table')],
      ['42P01', () => client.query('SELECT * FROM no_such_table WHERE namespace = $1', ['errors'])],
      ['22012', () => client.query('SELECT 1/0')],
      ['22012', () => client.query('SELECT key, 1/0 FROM memory_entries WHERE namespace = $1', ['errors'])],
      ['22012', () => client.query(`SELECT key, 1/(length(key) - 3) FROM memory_entries`)],
      ['0A000', () => client.query(`SELECT string_agg(key, ',') FROM memory_entries`)],
      ['0A000', () => client.query('SELECT count(DISTINCT key) FROM memory_entries')],
      ['42703', () => client.query('SELECT no_such_column FROM memory_entries WHERE namespace = $1', ['errors'])],
      ['42601', () => client.query('SELEC 1')],
      ['22P02', () => client.query('SELECT $1::int', ['not a number'])],
      ['22000', () => client.query(`SELECT '[1,2]'::ruvector <=> '[1,2,3]'::ruvector`)],
    ];
    for (const [i, [code, run]] of cases.entries()) {
      const error = await expectError(run, `case ${i} (${code})`);
      assert.equal(error.code, code, `${error.message}`);
      assert.deepEqual((await client.query('SELECT 2 AS two')).rows, [{ two: 2 }], `usable after ${code}`);
    }
    // A combinable aggregate over several shards is answered.
    const counted = await client.query('SELECT count(*) AS n, max(key) AS k FROM memory_entries WHERE namespace = ANY($1)', [['errors', 'no-such-namespace']]);
    assert.deepEqual(counted.rows, [{ n: '1', k: 'dup' }]);
    const unique = await expectError(() => client.query('INSERT INTO memory_entries (namespace, key) VALUES ($1, $2)', ['errors', 'dup']));
    assert.match(unique.message, /duplicate key value violates unique constraint/);
    assert.equal((unique as unknown as pg.DatabaseError).severity, 'ERROR');
    await close(client);
  });

  it('keeps SET hnsw.ef_search per session and applies it on the workers', async () => {
    const one = await connect();
    const two = await connect();
    await one.query(`INSERT INTO memory_entries (namespace, key) VALUES ('settings', 'k')`);
    const show = async (c: pg.Client) => (await c.query('SHOW hnsw.ef_search')).rows[0]['hnsw.ef_search'] as string;
    const onWorker = async (c: pg.Client) =>
      (await c.query(`SELECT current_setting('hnsw.ef_search') AS v FROM memory_entries WHERE namespace = $1`, ['settings'])).rows[0].v as string;
    const defaultValue = await show(one);
    await one.query('SET hnsw.ef_search = 123');
    await two.query('SET hnsw.ef_search TO 45');
    assert.deepEqual([await show(one), await show(two)], ['123', '45']);
    assert.deepEqual([await onWorker(one), await onWorker(two)], ['123', '45']);
    await one.query('RESET hnsw.ef_search');
    assert.deepEqual([await show(one), await onWorker(one)], [defaultValue, defaultValue]);
    assert.deepEqual([await show(two), await onWorker(two)], ['45', '45']);
    // SET LOCAL lasts until the end of its block.
    await two.query('BEGIN');
    await two.query('SET LOCAL hnsw.ef_search = 200');
    assert.deepEqual([await show(two), await onWorker(two)], ['200', '200']);
    await two.query('COMMIT');
    assert.deepEqual([await show(two), await onWorker(two)], ['45', '45']);
    await close(one);
    await close(two);
  });

  it('rejects an out-of-range hnsw.ef_search at SET and keeps the session usable', async () => {
    // Warm worker connections up with a vector search, so pgvector is loaded in them.
    const warm = await connect();
    await warm.query(`INSERT INTO memory_entries (namespace, key, embedding) VALUES ('ef-range', 'k', $1::ruvector)`, [vectorText(seededVector(3))]);
    for (let i = 0; i < 3; i++) await warm.query(SINGLE_NS_SEARCH, [vectorText(seededVector(4)), 'ef-range']);
    await close(warm);
    const client = await connect();
    const show = async () => (await client.query('SHOW hnsw.ef_search')).rows[0]['hnsw.ef_search'] as string;
    const before = await show();
    // PostgreSQL with pgvector: 22023, and the setting keeps its value.
    const bad = await expectError(() => client.query('SET hnsw.ef_search = 0'), 'SET hnsw.ef_search = 0');
    assert.equal(bad.code, '22023');
    assert.equal(await show(), before);
    const rows = await client.query(SINGLE_NS_SEARCH, [vectorText(seededVector(4)), 'ef-range']);
    assert.equal(rows.rowCount, 1);
    await close(client);
  });

  /** A session whose BackendKeyData secret key has the high bit set or not (node-postgres reads it as a signed Int32). */


  it('gives every session a secret key that reads the same signed and unsigned (cancel keys of clients that read Int32 either way)', async () => {
    // A key with the high bit set was once ignored by cancel: clients read it signed, the coordinator unsigned.
    for (let i = 0; i < 32; i++) {
      const client = await connect();
      const secretKey = (client as unknown as { secretKey: number }).secretKey;
      assert.ok(secretKey >= 0 && secretKey <= 0x7fffffff, `secret key ${secretKey}`);
      await close(client);
    }
  });

  it('cancels a running routed query with a CancelRequest (57014)', async () => {
    const client = await connect();
    await client.query(`INSERT INTO memory_entries (namespace, key) VALUES ('sleepy', 'k')`);
    const sleepyGroup = (await placements(client, ['sleepy'])).get('sleepy')!.groupId;
    const processId = (client as unknown as { processID: number }).processID;
    const secretKey = (client as unknown as { secretKey: number }).secretKey;
    assert.ok(Number.isInteger(processId) && Number.isInteger(secretKey), 'BackendKeyData was received');
    const url = new URL(cluster.url);
    const rawCancel = (key: number) =>
      new Promise<void>((resolve, reject) => {
        // CancelRequest: length 16, code 80877102, process id, secret key, on a connection of its own.
        const socket = netConnect(Number(url.port), url.hostname, () => {
          const message = Buffer.alloc(16);
          message.writeInt32BE(16, 0);
          message.writeInt32BE(80877102, 4);
          message.writeInt32BE(processId, 8);
          message.writeInt32BE(key, 12);
          socket.end(message);
        });
        socket.on('error', reject);
        socket.on('close', () => resolve());
      });
    /** Submits a query object (so pg's cancel API can name it) and resolves with its error, or null. */
    const submit = (text: string, values?: unknown[]) => {
      const query = new pg.Query(text, values);
      const outcome = new Promise<(Error & { code?: string }) | null>((resolve) => {
        query.on('error', (error: Error) => resolve(error));
        query.on('end', () => resolve(null));
      });
      client.query(query);
      return { query, outcome };
    };

    // 1. node-postgres' own API: another Client sends the CancelRequest for this one (extended protocol).
    let started = Date.now();
    const first = submit('SELECT pg_sleep(10), key FROM memory_entries WHERE namespace = $1', ['sleepy']);
    await waitForWorkerQuery(cluster, sleepyGroup, 'pg_sleep(10)');
    pgCancel(client, first.query);
    const error = await first.outcome;
    assert.equal(error?.code, '57014', error?.message);
    assert.ok(Date.now() - started < 5000, `cancelled after ${Date.now() - started} ms`);
    assert.deepEqual((await client.query('SELECT key FROM memory_entries WHERE namespace = $1', ['sleepy'])).rows, [{ key: 'k' }]);

    // 2. A raw CancelRequest on its own socket (simple protocol).
    started = Date.now();
    const second = submit(`SELECT pg_sleep(10) FROM memory_entries WHERE namespace = 'sleepy'`);
    await waitForWorkerQuery(cluster, sleepyGroup, 'pg_sleep(10)');
    await rawCancel(secretKey);
    const error2 = await second.outcome;
    assert.equal(error2?.code, '57014', error2?.message);
    assert.ok(Date.now() - started < 5000, `cancelled after ${Date.now() - started} ms`);

    // 3. A CancelRequest with the wrong secret key cancels nothing.
    const third = submit(`SELECT pg_sleep(1.5) AS slept FROM memory_entries WHERE namespace = 'sleepy'`);
    await waitForWorkerQuery(cluster, sleepyGroup, 'pg_sleep(1.5)');
    await rawCancel(secretKey ^ 1);
    assert.equal(await third.outcome, null);

    // 4. A query over shards on both groups: the cancel reaches every worker running it.
    const [[g1], [g2]] = await twoGroups(client, 'sleepy-');
    await client.query('INSERT INTO memory_entries (namespace, key) VALUES ($1, $3), ($2, $3)', [g1, g2, 'k']);
    const fourth = submit('SELECT pg_sleep(10), namespace FROM memory_entries WHERE namespace = ANY($1) ORDER BY namespace', [[g1, g2]]);
    await waitForWorkerQuery(cluster, 1, 'pg_sleep(10)');
    await waitForWorkerQuery(cluster, 2, 'pg_sleep(10)');
    started = Date.now();
    await rawCancel(secretKey);
    const error4 = await fourth.outcome;
    assert.equal(error4?.code, '57014', error4?.message);
    assert.ok(Date.now() - started < 5000, `cancelled after ${Date.now() - started} ms`);

    // 5. A cancel inside a transaction block fails the block, as in PostgreSQL.
    await client.query('BEGIN');
    const fifth = submit(`SELECT pg_sleep(10) FROM memory_entries WHERE namespace = 'sleepy'`);
    await waitForWorkerQuery(cluster, sleepyGroup, 'pg_sleep(10)');
    pgCancel(client, fifth.query);
    assert.equal((await fifth.outcome)?.code, '57014');
    assert.equal((await expectError(() => client.query('SELECT 1'))).code, '25P02');
    await client.query('ROLLBACK');
    assert.deepEqual((await client.query('SELECT 3 AS three')).rows, [{ three: 3 }]);
    await close(client);
  });

  it('serves a pool of 20 clients doing 2,000 mixed reads and writes', async () => {
    const pool = new pg.Pool({ connectionString: cluster.url, max: 20 });
    try {
      const workers = 20;
      const opsPerWorker = 100;
      const namespaces = Array.from({ length: 7 }, (_, i) => `pool-${i}`);
      const failures: string[] = [];
      let operations = 0;
      await Promise.all(
        Array.from({ length: workers }, async (_, w) => {
          const random = seededRandom(9000 + w);
          const mine = [namespaces[w % 7]!, namespaces[(w + 3) % 7]!];
          const model = new Map<string, string>(); // `${ns}/${key}` -> value
          const check = (ok: boolean, what: string) => {
            if (!ok) failures.push(`worker ${w}: ${what}`);
          };
          for (let op = 0; op < opsPerWorker; op++) {
            const ns = mine[random(2)]!;
            const key = `w${w}-k${random(8)}`;
            const id = `${ns}/${key}`;
            const choice = random(10);
            operations++;
            if (choice < 4) {
              const value = `v${op}`;
              const result = await pool.query(
                'INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3) ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value RETURNING value',
                [ns, key, value],
              );
              check(result.rowCount === 1 && result.rows[0].value === value, `upsert ${id}`);
              model.set(id, value);
            } else if (choice < 7) {
              const result = await pool.query('SELECT value FROM memory_entries WHERE namespace = $1 AND key = $2', [ns, key]);
              const expected = model.get(id);
              check(expected === undefined ? result.rowCount === 0 : result.rowCount === 1 && result.rows[0].value === expected, `read ${id}: got ${JSON.stringify(result.rows)}, expected ${expected}`);
            } else if (choice < 8) {
              const result = await pool.query('DELETE FROM memory_entries WHERE namespace = $1 AND key = $2', [ns, key]);
              check(result.rowCount === (model.has(id) ? 1 : 0), `delete ${id}`);
              model.delete(id);
            } else if (choice < 9) {
              const result = await pool.query('UPDATE memory_entries SET value = value || $3 WHERE namespace = $1 AND key = $2 RETURNING value', [ns, key, '+']);
              const expected = model.get(id);
              check(result.rowCount === (expected === undefined ? 0 : 1), `update ${id}`);
              if (expected !== undefined) {
                check(result.rows[0]?.value === `${expected}+`, `update ${id} value`);
                model.set(id, `${expected}+`);
              }
            } else {
              // Over both of this worker's namespaces: a multi-shard read merged by key.
              const result = await pool.query(
                'SELECT namespace, key, value FROM memory_entries WHERE namespace = ANY($1) AND key LIKE $2 ORDER BY key, namespace',
                [mine, `w${w}-%`],
              );
              const expected = [...model.entries()]
                .map(([k, value]) => {
                  const [n, ...rest] = k.split('/');
                  return { namespace: n!, key: rest.join('/'), value };
                })
                .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : x.namespace < y.namespace ? -1 : x.namespace > y.namespace ? 1 : 0));
              check(JSON.stringify(result.rows) === JSON.stringify(expected), `scan: got ${JSON.stringify(result.rows)}, expected ${JSON.stringify(expected)}`);
            }
          }
        }),
      );
      assert.equal(operations, workers * opsPerWorker);
      assert.deepEqual(failures, []);
    } finally {
      await pool.end();
    }
  });

  it('streams a 5,000-row multi-shard SELECT in ORDER BY key order', async () => {
    const client = await connect();
    const random = seededRandom(4242);
    const alphabet = ['a', 'B', 'z', '0', '9', '_', '-', 'é', 'Ω', '~', ' '];
    const rows: [string, string, string][] = [];
    const keys = new Set<string>();
    while (rows.length < 5000) {
      const key = `big ${Array.from({ length: 1 + random(6) }, () => alphabet[random(alphabet.length)]).join('')}${random(100000)}`;
      if (keys.has(key)) continue;
      keys.add(key);
      rows.push([`bulk-${random(12)}`, key, String(rows.length)]);
    }
    for (let i = 0; i < rows.length; i += 500) {
      const batch = rows.slice(i, i + 500);
      const sql = `INSERT INTO memory_entries (namespace, key, value) VALUES ${batch.map((_, j) => `($${3 * j + 1}, $${3 * j + 2}, $${3 * j + 3})`).join(', ')}`;
      assert.equal((await client.query(sql, batch.flat())).rowCount, batch.length);
    }
    // PostgreSQL's own order for these keys (the control group sorts them with the same collation).
    const expectedOrder = (await client.query('SELECT k FROM unnest($1::text[]) AS k ORDER BY k', [[...keys]])).rows.map((r) => r.k as string);

    const all = await client.query({ text: `SELECT key, namespace, value FROM memory_entries WHERE key LIKE 'big %' ORDER BY key`, rowMode: 'array' });
    assert.equal(all.rowCount, 5000);
    assert.deepEqual(all.rows.map((r) => r[0]), expectedOrder);
    const byKey = new Map(rows.map((r) => [r[1], r]));
    for (const [key, ns, value] of all.rows) assert.deepEqual([ns, value], [byKey.get(key)![0], byKey.get(key)![2]]);

    // Descending, with OFFSET/LIMIT, in the extended protocol.
    const page = await client.query({ text: `SELECT key FROM memory_entries WHERE key LIKE $1 ORDER BY key DESC LIMIT 100 OFFSET 2450`, values: ['big %'], rowMode: 'array' });
    assert.deepEqual(page.rows.map((r) => r[0]), [...expectedOrder].reverse().slice(2450, 2550));
    await close(client);
  });

  it('takes LIMIT and OFFSET as parameters in a multi-shard SELECT', async () => {
    const client = await connect();
    const namespaces = ['limit-0', 'limit-1', 'limit-2', 'limit-3', 'limit-4', 'limit-5'];
    const rows = namespaces.flatMap((ns) => [0, 1, 2].map((k) => [ns, `${ns}/k${k}`]));
    await client.query(`INSERT INTO memory_entries (namespace, key) VALUES ${rows.map((_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ')}`, rows.flat());
    const keys = rows.map((r) => r[1]!).sort();
    const limited = await client.query('SELECT key FROM memory_entries WHERE namespace = ANY($1) ORDER BY key LIMIT $2', [namespaces, 4]);
    assert.deepEqual(limited.rows.map((r) => r.key), keys.slice(0, 4));
    const paged = await client.query('SELECT key FROM memory_entries WHERE namespace = ANY($1) ORDER BY key DESC LIMIT $2 OFFSET $3', [namespaces, 5, 3]);
    assert.deepEqual(paged.rows.map((r) => r.key), [...keys].reverse().slice(3, 8));
    await close(client);
  });

  it('runs a statement again after it failed on a worker at Bind or Execute', async () => {
    const client = await connect();
    // A Bind-time error (bad parameter text) on the control group ...
    assert.equal((await expectError(() => client.query('SELECT $1::int AS again', ['x']))).code, '22P02');
    for (let i = 0; i < 5; i++) assert.deepEqual((await client.query('SELECT $1::int AS again', [i])).rows, [{ again: i }]);
    // ... an Execute-time error (unique violation) on a worker ...
    await client.query('INSERT INTO memory_entries (namespace, key) VALUES ($1, $2) /* again */', ['again', 'k0']);
    assert.equal((await expectError(() => client.query('INSERT INTO memory_entries (namespace, key) VALUES ($1, $2) /* again */', ['again', 'k0']))).code, '23505');
    for (let i = 1; i <= 5; i++) await client.query('INSERT INTO memory_entries (namespace, key) VALUES ($1, $2) /* again */', ['again', `k${i}`]);
    // ... and a Bind-time error on a worker.
    const routed = 'SELECT key FROM memory_entries WHERE namespace = $1 AND length(key) = $2::int ORDER BY key';
    assert.equal((await expectError(() => client.query(routed, ['again', 'two']))).code, '22P02');
    for (let i = 0; i < 5; i++) assert.equal((await client.query(routed, ['again', 2])).rowCount, 6);
    await close(client);
  });

  it('names the aggregate in the 0A000 error of an unsupported multi-shard aggregate', async () => {
    const client = await connect();
    const error = await expectError(() => client.query(`SELECT string_agg(key, ',') FROM memory_entries`));
    assert.equal(error.code, '0A000');
    assert.match(error.message, /string_agg/);
    assert.doesNotMatch(error.message, /must appear in the GROUP BY clause/);
    await close(client);
  });

  it('accepts columns qualified with the table name (as ORMs write them)', async () => {
    const client = await connect();
    await client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ('qualified', 'k', 'v'), ('qualified-2', 'k', 'w')`);
    const routed = await client.query('SELECT memory_entries.key, "memory_entries"."value" FROM memory_entries WHERE memory_entries.namespace = $1', ['qualified']);
    assert.deepEqual(routed.rows, [{ key: 'k', value: 'v' }]);
    const merged = await client.query('SELECT memory_entries.value FROM memory_entries WHERE namespace = ANY($1) ORDER BY memory_entries.value', [['qualified', 'qualified-2']]);
    assert.deepEqual(merged.rows, [{ value: 'v' }, { value: 'w' }]);
    const updated = await client.query(`UPDATE memory_entries SET value = memory_entries.value || '!' WHERE namespace = 'qualified' RETURNING memory_entries.value`);
    assert.deepEqual(updated.rows, [{ value: 'v!' }]);
    const upserted = await client.query(
      `INSERT INTO memory_entries (namespace, key, value) VALUES ('qualified', 'k', '?') ON CONFLICT (namespace, key) DO UPDATE SET value = memory_entries.value || EXCLUDED.value RETURNING value`,
    );
    assert.deepEqual(upserted.rows, [{ value: 'v!?' }]);
    await close(client);
  });

  it('runs INSERT ... SELECT into a distributed table: rows routed by their own namespace, atomically, with RETURNING and ON CONFLICT', async () => {
    const client = await connect();
    const [from, to] = await twoGroups(client, 'insel-', 3);
    const sources = [...from, ...to];
    // 1,200 rows over six namespaces on two groups, with vectors and JSON.
    for (const [i, namespace] of sources.entries()) {
      const values = Array.from({ length: 200 }, (_, k) => `('${namespace}', 'k${k}', 'v${k}', '${vectorText(seededVector(i * 1000 + k))}', '{"n": ${k}}')`).join(', ');
      await client.query(`INSERT INTO memory_entries (namespace, key, value, embedding, metadata) VALUES ${values}`);
    }
    // Copy every source namespace into a new one per source (a different shard, often another group).
    const copied = await client.query(
      `INSERT INTO memory_entries (namespace, key, value, embedding, metadata, tags)
       SELECT namespace || '-copy', key, upper(value), embedding, metadata, ARRAY['copied'] FROM memory_entries WHERE namespace = ANY ($1)`,
      [sources],
    );
    assert.equal(copied.command, 'INSERT');
    assert.equal(copied.rowCount, 1200);
    for (const namespace of sources) {
      const routed = await client.query(`SELECT count(*)::int AS n, min(value) AS v, bool_and(tags = ARRAY['copied']) AS t FROM memory_entries WHERE namespace = $1`, [`${namespace}-copy`]);
      assert.deepEqual(routed.rows[0], { n: 200, v: 'V0', t: true }, `${namespace}-copy is found by routing on its own namespace`);
    }
    // Values copied exactly: vectors and JSON as the source has them.
    const read = (namespace: string) => client.query(`SELECT key, embedding::text AS e, metadata FROM memory_entries WHERE namespace = $1 ORDER BY key`, [namespace]);
    const [original, copy] = [await read(sources[4]!), await read(`${sources[4]}-copy`)];
    assert.equal(copy.rows.length, 200);
    assert.deepEqual(copy.rows, original.rows);

    // ON CONFLICT and RETURNING; a SELECT with aggregates over several shards.
    const upserted = await client.query(
      `INSERT INTO memory_entries (namespace, key, value) SELECT namespace, 'summary', count(*)::text FROM memory_entries WHERE namespace = ANY ($1) GROUP BY namespace
       ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value RETURNING namespace, value`,
      [sources],
    );
    assert.deepEqual(upserted.rows.map((r) => r.value).sort(), sources.map(() => '200'));
    const again = await client.query(
      `INSERT INTO memory_entries (namespace, key, value) SELECT namespace, 'summary', 'x' FROM memory_entries WHERE namespace = ANY ($1) AND key = 'summary'
       ON CONFLICT (namespace, key) DO NOTHING`,
      [sources],
    );
    assert.equal(again.rowCount, 0);
    // Nothing selected: INSERT 0 0.
    const none = await client.query(`INSERT INTO memory_entries (namespace, key) SELECT namespace, key FROM memory_entries WHERE namespace = 'no-such-namespace'`);
    assert.equal(none.rowCount, 0);

    // Atomic: one duplicate among rows for two groups fails the whole statement.
    await client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ($1, 'k5', 'already')`, [`${to[0]}-atomic`]);
    const duplicate = await expectError(() =>
      client.query(`INSERT INTO memory_entries (namespace, key, value) SELECT namespace || '-atomic', key, value FROM memory_entries WHERE namespace = ANY ($1) AND key IN ('k4', 'k5')`, [[from[0], to[0]]]),
    );
    assert.equal(duplicate.code, '23505', duplicate.message);
    const atomic = await client.query(`SELECT count(*)::int AS n FROM memory_entries WHERE namespace = ANY ($1)`, [[`${from[0]}-atomic`, `${to[0]}-atomic`]]);
    assert.equal(atomic.rows[0].n, 1, 'no row of the failed INSERT ... SELECT stayed');

    // Inside a transaction block the SELECT sees the block's own writes, and ROLLBACK undoes both.
    await client.query('BEGIN');
    await client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ($1, 'fresh', 'v')`, [`${from[1]}-tx`]);
    const inBlock = await client.query(`INSERT INTO memory_entries (namespace, key, value) SELECT $2, key, value FROM memory_entries WHERE namespace = $1`, [`${from[1]}-tx`, `${to[1]}-tx`]);
    assert.equal(inBlock.rowCount, 1);
    await client.query('ROLLBACK');
    assert.equal((await client.query(`SELECT count(*)::int AS n FROM memory_entries WHERE namespace = ANY ($1)`, [[`${from[1]}-tx`, `${to[1]}-tx`]])).rows[0].n, 0);

    // Errors: a NULL distribution value, a column count that does not match, no distribution column, DEFAULT VALUES.
    const errors: [string, string][] = [
      [`INSERT INTO memory_entries (namespace, key) SELECT NULL::text, key FROM memory_entries WHERE namespace = '${from[0]}' LIMIT 1`, '23502'],
      [`INSERT INTO memory_entries (namespace, key) SELECT namespace, key, value FROM memory_entries WHERE namespace = '${from[0]}' LIMIT 1`, '42601'],
      [`INSERT INTO memory_entries (key) SELECT key FROM memory_entries WHERE namespace = '${from[0]}'`, '0A000'],
      ['INSERT INTO memory_entries DEFAULT VALUES', '0A000'],
    ];
    const onConflictParam = await expectError(() =>
      client.query(`INSERT INTO memory_entries (namespace, key) SELECT namespace, key FROM memory_entries WHERE namespace = $1 ON CONFLICT (namespace, key) DO UPDATE SET value = $2`, [from[0], 'x']),
    );
    assert.equal(onConflictParam.code, '0A000');
    assert.match(onConflictParam.message, /may appear in its SELECT only/);
    for (const [sql, code] of errors) {
      const error = await expectError(() => client.query(sql), sql);
      assert.equal(error.code, code, `${sql}: ${error.message}`);
    }
    // More selected rows than coordinator.insert_select_max_mb (8 here): refused, nothing written, the coordinator goes on.
    const tooBig = await expectError(() =>
      client.query(`INSERT INTO memory_entries (namespace, key, value) SELECT namespace || '-big', key, repeat('x', 10000) FROM memory_entries WHERE namespace = ANY ($1)`, [sources]),
    );
    assert.equal(tooBig.code, '54000', tooBig.message);
    assert.match(tooBig.message, /selected more than 8 MB \(coordinator\.insert_select_max_mb\)/);
    assert.equal((await client.query(`SELECT count(*)::int AS n FROM memory_entries WHERE namespace = ANY ($1)`, [sources.map((n) => `${n}-big`)])).rows[0].n, 0);
    assert.equal((await client.query('SELECT 1 AS ok')).rows[0].ok, 1, 'the session goes on');
    await close(client);
  });

  it('leaves the cluster consistent: dpg check', async () => {
    await assertConsistent(cluster);
  });
});
