import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import postgres from 'postgres';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import { assertExactTopK, seededVector, vectorText, type StoredVector } from './support.ts';

/**
 * postgres.js against the coordinator. It uses the extended protocol with named
 * statements (Parse + Describe first, to learn parameter types), fetches array
 * types from pg_catalog at connect, runs `sql.begin` blocks with savepoints,
 * `sql.unsafe` over the simple protocol, and cursors as Execute with a row limit
 * (PortalSuspended) repeated on one portal.
 */

const BASE_PORT = 26832;

let cluster: TestCluster;
let sql: postgres.Sql;

/** A code-point sort, which is the order of the C.UTF-8 collation dpg's nodes use. */
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function errorOf(run: () => Promise<unknown>): Promise<postgres.PostgresError> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof postgres.PostgresError, `expected a PostgresError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected an error');
}

/** Namespaces on worker group 1 and group 2, from the catalog (through the coordinator). */
async function namespacePerGroup(prefix: string): Promise<[string, string]> {
  const rows = await sql<{ n: string; group_id: number }[]>`
    SELECT n, p.group_id
      FROM unnest(${Array.from({ length: 50 }, (_, i) => `${prefix}${i}`)}::text[]) AS n
      JOIN dpg_catalog.shards s ON s.table_name = 'memory_entries'
       AND s.shard_index = namespace_shard_id(n, (SELECT count(*)::int FROM dpg_catalog.shards WHERE table_name = 'memory_entries'))
      JOIN dpg_catalog.placements p ON p.shardid = s.shardid`;
  const one = rows.find((r) => r.group_id === 1);
  const two = rows.find((r) => r.group_id === 2);
  assert.ok(one && two, 'namespaces on both worker groups');
  return [one.n, two.n];
}

describe('postgres.js against the coordinator', () => {
  before(async () => {
    cluster = await startTestCluster({ basePort: BASE_PORT });
    sql = postgres(cluster.url, { max: 4, onnotice: () => {} });
  });

  after(async () => {
    await sql?.end({ timeout: 5 });
    await cluster?.stop();
  });

  it('runs tagged-template queries with parameters as named prepared statements', async () => {
    const namespaces = Array.from({ length: 8 }, (_, i) => `tpl-${i}`);
    for (const [i, ns] of namespaces.entries()) {
      const inserted = await sql`
        INSERT INTO memory_entries (namespace, key, value, metadata, tags)
        VALUES (${ns}, ${'key-' + i}, ${'value ' + i}, ${sql.json({ i, nested: { ok: true } })}, ${['a', `t${i}`]})
        RETURNING namespace, key, metadata, tags`;
      assert.deepEqual([...inserted], [{ namespace: ns, key: `key-${i}`, metadata: { i, nested: { ok: true } }, tags: ['a', `t${i}`] }]);
      assert.equal(inserted.count, 1);
      assert.equal(inserted.command, 'INSERT');
    }
    // The same statement text again and again: postgres.js reuses its named statement; each Bind routes anew.
    for (let round = 0; round < 3; round++) {
      for (const [i, ns] of namespaces.entries()) {
        const rows = await sql`SELECT key, value, metadata->'nested'->>'ok' AS ok, ${round}::int AS round FROM memory_entries WHERE namespace = ${ns} AND key = ${'key-' + i}`;
        assert.deepEqual([...rows], [{ key: `key-${i}`, value: `value ${i}`, ok: 'true', round }]);
      }
    }
    const updated = await sql`UPDATE memory_entries SET value = value || ${'!'} WHERE namespace = ${namespaces[0]!} RETURNING value`;
    assert.deepEqual([...updated], [{ value: 'value 0!' }]);
    // Several namespaces at once (a text[] parameter), merged over shards; typed values come back parsed.
    const merged = await sql`
      SELECT namespace, key, (metadata->>'i')::int AS i, created_at, length(value) AS len
        FROM memory_entries WHERE namespace = ANY(${namespaces}) ORDER BY (metadata->>'i')::int DESC`;
    assert.deepEqual(merged.map((r) => r.i), [7, 6, 5, 4, 3, 2, 1, 0]);
    assert.ok(merged.every((r) => r.created_at instanceof Date));
    assert.deepEqual(merged.map((r) => r.len), [7, 7, 7, 7, 7, 7, 7, 8]);
    // Values mode (rows as arrays) and a dynamic column list.
    const values = await sql`SELECT ${sql(['namespace', 'key'])} FROM memory_entries WHERE namespace = ${namespaces[3]!}`.values();
    assert.deepEqual([...values].map((r) => [...r]), [[namespaces[3], 'key-3']]);
    // Unnamed statements (prepare: false) work as well.
    const unnamed = postgres(cluster.url, { max: 1, prepare: false });
    try {
      for (const [i, ns] of namespaces.entries()) {
        const rows = await unnamed`SELECT key FROM memory_entries WHERE namespace = ${ns}`;
        assert.deepEqual([...rows], [{ key: `key-${i}` }]);
      }
    } finally {
      await unnamed.end();
    }
  });

  it('inserts many rows over shards with the sql(rows) helper', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => ({ namespace: `helper-${i % 9}`, key: `k${i}`, value: `v${i}` }));
    const result = await sql`INSERT INTO memory_entries ${sql(rows, 'namespace', 'key', 'value')}`;
    assert.equal(result.count, 300);
    for (let n = 0; n < 9; n++) {
      const [{ count }] = await sql<{ count: number }[]>`SELECT count(*)::int AS count FROM memory_entries WHERE namespace = ${'helper-' + n}`;
      assert.equal(count, rows.filter((r) => r.namespace === `helper-${n}`).length);
    }
  });

  it('commits and rolls back sql.begin blocks over two worker groups, with savepoints', async () => {
    const [a, b] = await namespacePerGroup('begin-');
    const count = async (ns: string) => (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM memory_entries WHERE namespace = ${ns}`)[0]!.n;

    const result = await sql.begin(async (tx) => {
      await tx`INSERT INTO memory_entries (namespace, key, value) VALUES (${a}, 'k1', 'a1')`;
      await tx`INSERT INTO memory_entries (namespace, key, value) VALUES (${b}, 'k1', 'b1')`;
      const seen = await tx`SELECT namespace FROM memory_entries WHERE namespace IN (${a}, ${b}) ORDER BY namespace`;
      assert.equal(seen.length, 2);
      return 'done';
    });
    assert.equal(result, 'done');
    assert.deepEqual([await count(a), await count(b)], [1, 1]);

    // A JavaScript error rolls the whole block back.
    await assert.rejects(
      sql.begin(async (tx) => {
        await tx`INSERT INTO memory_entries (namespace, key, value) VALUES (${a}, 'k2', 'a2')`;
        await tx`INSERT INTO memory_entries (namespace, key, value) VALUES (${b}, 'k2', 'b2')`;
        throw new Error('application failure');
      }),
      /application failure/,
    );
    assert.deepEqual([await count(a), await count(b)], [1, 1]);

    // A SQL error rolls it back too, with its SQLSTATE.
    const duplicate = await errorOf(() =>
      sql.begin(async (tx) => {
        await tx`INSERT INTO memory_entries (namespace, key, value) VALUES (${a}, 'k3', 'a3')`;
        await tx`INSERT INTO memory_entries (namespace, key, value) VALUES (${b}, 'k1', 'again')`;
      }),
    );
    assert.equal(duplicate.code, '23505');
    assert.deepEqual([await count(a), await count(b)], [1, 1]);

    // Savepoints: the inner block's writes go, the outer block's stay. The savepoint is
    // taken before group b joins the transaction.
    await sql.begin(async (tx) => {
      await tx`INSERT INTO memory_entries (namespace, key, value) VALUES (${a}, 'k4', 'kept')`;
      await assert.rejects(
        tx.savepoint(async (sp) => {
          await sp`INSERT INTO memory_entries (namespace, key, value) VALUES (${b}, 'k4', 'dropped')`;
          await sp`INSERT INTO memory_entries (namespace, key, value) VALUES (${a}, 'k5', 'dropped')`;
          throw new Error('undo the savepoint');
        }),
        /undo the savepoint/,
      );
      const inner = await tx.savepoint(async (sp) => {
        await sp`INSERT INTO memory_entries (namespace, key, value) VALUES (${b}, 'k6', 'kept')`;
        return 'released';
      });
      assert.equal(inner, 'released');
      // A failed statement inside a savepoint: rolled back to it, the block goes on.
      const failed = await errorOf(() => tx.savepoint((sp) => sp`SELECT 1/0 FROM memory_entries WHERE namespace = ${b}`));
      assert.equal(failed.code, '22012');
      await tx`INSERT INTO memory_entries (namespace, key, value) VALUES (${b}, 'k7', 'kept')`;
    });
    const kept = await sql`SELECT namespace, key, value FROM memory_entries WHERE namespace IN (${a}, ${b}) AND key >= 'k4' ORDER BY namespace, key`;
    assert.deepEqual(
      kept.map((r) => `${r.namespace}/${r.key}/${r.value}`).sort(),
      [`${a}/k4/kept`, `${b}/k6/kept`, `${b}/k7/kept`].sort(),
    );
  });

  it('runs multi-statement sql.unsafe over the simple protocol', async () => {
    // (postgres.js keeps one result per statement that returns rows; RETURNING makes every statement one.)
    const results = await sql.unsafe(`
      INSERT INTO memory_entries (namespace, key, value) VALUES ('unsafe-a', 'k', 'x'), ('unsafe-b', 'k', 'y') RETURNING key;
      UPDATE memory_entries SET value = upper(value) WHERE namespace IN ('unsafe-a', 'unsafe-b') RETURNING value;
      SELECT namespace, value FROM memory_entries WHERE namespace IN ('unsafe-a', 'unsafe-b') ORDER BY namespace;
      DELETE FROM memory_entries WHERE namespace = 'unsafe-a' RETURNING namespace
    `);
    const list = results as unknown as postgres.RowList<postgres.Row[]>[];
    assert.equal(list.length, 4);
    assert.deepEqual(list.map((r) => [r.command, r.count]), [['INSERT', 2], ['UPDATE', 2], ['SELECT', 2], ['DELETE', 1]]);
    assert.deepEqual(list[1]!.map((r) => r.value).sort(), ['X', 'Y']);
    assert.deepEqual([...list[2]!], [{ namespace: 'unsafe-a', value: 'X' }, { namespace: 'unsafe-b', value: 'Y' }]);
    assert.deepEqual([...list[3]!], [{ namespace: 'unsafe-a' }]);
    // sql.unsafe with parameters goes through the extended protocol.
    const one = await sql.unsafe('SELECT value FROM memory_entries WHERE namespace = $1 AND key = $2', ['unsafe-b', 'k']);
    assert.deepEqual([...one], [{ value: 'Y' }]);
  });

  it('reads a multi-shard ORDER BY and a routed query through cursors (Execute with a row limit)', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => ({ namespace: `cursor-${i % 11}`, key: `c${String((i * 7919) % 1000).padStart(4, '0')}`, value: String(i) }));
    for (let i = 0; i < rows.length; i += 250) await sql`INSERT INTO memory_entries ${sql(rows.slice(i, i + 250), 'namespace', 'key', 'value')}`;
    const expected = rows.map((r) => r.key).sort(byCodePoint);

    for (const batch of [1, 7, 100, 5000]) {
      const seen: string[] = [];
      const sizes: number[] = [];
      for await (const chunk of sql`SELECT key, namespace FROM memory_entries WHERE key LIKE ${'c%'} ORDER BY key`.cursor(batch)) {
        sizes.push(chunk.length);
        for (const row of chunk) seen.push(row.key as string);
      }
      assert.deepEqual(seen, expected, `batch ${batch}`);
      // Full batches, then the rest (an empty trailing batch is the bug of the test below).
      const nonEmpty = sizes.filter((n) => n > 0);
      assert.deepEqual(nonEmpty, Array.from({ length: Math.ceil(1000 / batch) }, (_, i) => Math.min(batch, 1000 - i * batch)), `batch ${batch}`);
    }

    // Descending over several shards, with LIMIT and OFFSET, in batches of 33.
    const page: string[] = [];
    for await (const chunk of sql`SELECT key FROM memory_entries WHERE key LIKE 'c%' ORDER BY key DESC LIMIT 200 OFFSET 50`.cursor(33)) page.push(...chunk.map((r) => r.key as string));
    assert.deepEqual(page, [...expected].reverse().slice(50, 250));

    // A routed query, one namespace.
    const ns = 'cursor-3';
    const routedExpected = rows.filter((r) => r.namespace === ns).map((r) => r.key).sort(byCodePoint);
    const routed: string[] = [];
    for await (const chunk of sql`SELECT key FROM memory_entries WHERE namespace = ${ns} ORDER BY key`.cursor(10)) routed.push(...chunk.map((r) => r.key as string));
    assert.deepEqual(routed, routedExpected);

    // Leaving a cursor early closes its portal; the connection goes on.
    let taken = 0;
    for await (const chunk of sql`SELECT key FROM memory_entries WHERE key LIKE 'c%' ORDER BY key`.cursor(10)) {
      taken += chunk.length;
      if (taken >= 30) break;
    }
    assert.equal(taken, 30);
    const after = await sql`SELECT count(*)::int AS n FROM memory_entries WHERE namespace = ${ns}`;
    assert.equal(after[0]!.n, routedExpected.length);

    // A cursor inside a transaction block.
    const inBlock = await sql.begin(async (tx) => {
      const keys: string[] = [];
      for await (const chunk of tx`SELECT key FROM memory_entries WHERE namespace = ANY(${['cursor-1', 'cursor-2']}) ORDER BY key`.cursor(25)) keys.push(...chunk.map((r) => r.key as string));
      return keys;
    });
    assert.deepEqual(inBlock, rows.filter((r) => r.namespace === 'cursor-1' || r.namespace === 'cursor-2').map((r) => r.key).sort(byCodePoint));
  });

  it('answers single- and cross-namespace vector searches exactly', async () => {
    const namespaces = ['pjs-vec-a', 'pjs-vec-b', 'pjs-vec-c', 'pjs-vec-d'];
    const stored: StoredVector[] = namespaces.flatMap((ns, n) => Array.from({ length: 30 }, (_, i) => ({ namespace: ns, key: `e${i}`, vector: seededVector(70_000 + n * 100 + i) })));
    await sql`INSERT INTO memory_entries ${sql(stored.map((s) => ({ namespace: s.namespace, key: s.key, value: s.key, embedding: vectorText(s.vector) })), 'namespace', 'key', 'value', 'embedding')}`;
    for (let q = 0; q < 4; q++) {
      const query = vectorText(seededVector(80_000 + q));
      for (const ns of namespaces) {
        const rows = await sql<{ namespace: string; key: string; similarity: number }[]>`
          SELECT namespace, key, value, 1 - (embedding <=> ${query}::ruvector) AS similarity
            FROM memory_entries WHERE namespace = ${ns} ORDER BY embedding <=> ${query}::ruvector LIMIT 10`;
        assertExactTopK([...rows], seededVector(80_000 + q), stored.filter((s) => s.namespace === ns), 10, `query ${q} in ${ns}`);
      }
      const rows = await sql<{ namespace: string; key: string; similarity: number }[]>`
        SELECT namespace, key, value, 1 - (embedding <=> ${query}::ruvector) AS similarity
          FROM memory_entries WHERE namespace = ANY(${namespaces}) ORDER BY embedding <=> ${query}::ruvector LIMIT 20`;
      assertExactTopK([...rows], seededVector(80_000 + q), stored, 20, `query ${q} over all`);
    }
    // The embedding round-trips as text.
    const [row] = await sql`SELECT embedding::text AS e FROM memory_entries WHERE namespace = ${namespaces[0]!} AND key = 'e0'`;
    assert.equal(row!.e, vectorText(stored[0]!.vector));
  });

  it('reports SQLSTATEs and stays usable', async () => {
    const cases: [string, () => Promise<unknown>][] = [
      ['42P01', () => sql`SELECT * FROM missing_table WHERE namespace = ${'x'}`],
      ['22012', () => sql`SELECT 1/0 AS x FROM memory_entries WHERE namespace = ${'tpl-0'}`],
      ['42703', () => sql`SELECT missing_column FROM memory_entries WHERE namespace = ${'tpl-0'}`],
      ['23505', () => sql`INSERT INTO memory_entries (namespace, key) VALUES (${'tpl-0'}, ${'key-0'})`],
      ['0A000', () => sql`SELECT string_agg(key, ',') AS keys FROM memory_entries`],
      ['42601', () => sql.unsafe('SELEC 1')],
    ];
    for (const [code, run] of cases) {
      const error = await errorOf(run);
      assert.equal(error.code, code, error.message);
      const [ok] = await sql`SELECT ${code} AS code`;
      assert.equal(ok!.code, code);
    }
  });

  it('ends a cursor without an empty batch (CommandComplete of the last Execute counts its own rows)', async () => {
    await sql`INSERT INTO memory_entries (namespace, key) VALUES ('tail-a', 'a'), ('tail-a', 'b'), ('tail-b', 'c')`;
    const routed: string[][] = [];
    for await (const chunk of sql`SELECT key FROM memory_entries WHERE namespace = ${'tail-a'} ORDER BY key`.cursor(1)) routed.push(chunk.map((r) => r.key as string));
    assert.deepEqual(routed, [['a'], ['b']]);
    const merged: string[][] = [];
    for await (const chunk of sql`SELECT key FROM memory_entries WHERE namespace = ANY(${['tail-a', 'tail-b']}) ORDER BY key`.cursor(2)) merged.push(chunk.map((r) => r.key as string));
    assert.deepEqual(merged, [['a', 'b'], ['c']]);
  });
});
