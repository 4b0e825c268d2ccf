import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type pg from 'pg';
import { installRuvectorExtension, ruvectorExtensionFiles } from '../../src/cluster/ruvector-extension.ts';
import { startScratchPostgres, type ScratchPostgres } from '../support/scratch-postgres.ts';

const DIMS = 384;
const ROWS = 200;
const DISTANCE_OPERATORS = ['<=>', '<->', '<#>'] as const;
const HNSW_OPCLASSES = ['ruvector_cosine_ops', 'ruvector_l2_ops', 'ruvector_ip_ops'] as const;
const OPERATOR_OF_OPCLASS: Record<(typeof HNSW_OPCLASSES)[number], string> = {
  ruvector_cosine_ops: '<=>',
  ruvector_l2_ops: '<->',
  ruvector_ip_ops: '<#>',
};

/** Deterministic vectors (mulberry32), in pgvector's text form. */
function vectorLiterals(count: number, dims: number, seed: number): string[] {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: count }, () =>
    `[${Array.from({ length: dims }, () => (next() * 2 - 1).toFixed(4)).join(',')}]`,
  );
}

/** pgvector's binary format (vector_send/vector_recv): int16 dims, int16 unused, float4 values, big-endian. */
function vectorWireBytes(values: number[]): Buffer {
  const buffer = Buffer.alloc(4 + 4 * values.length);
  buffer.writeInt16BE(values.length, 0);
  buffer.writeInt16BE(0, 2);
  values.forEach((value, i) => buffer.writeFloatBE(value, 4 + 4 * i));
  return buffer;
}

async function queryError(client: pg.Client, text: string, values: unknown[] = []): Promise<{ code: string; message: string }> {
  try {
    await client.query(text, values);
  } catch (error) {
    const { code, message } = error as { code: string; message: string };
    return { code, message };
  }
  assert.fail(`expected an error from: ${text}`);
}

describe('installRuvectorExtension', () => {
  it('copies the control file and script, then leaves identical files alone', () => {
    const sharedir = mkdtempSync(join(tmpdir(), 'dpg-sharedir-'));
    try {
      const first = installRuvectorExtension(sharedir);
      assert.deepEqual(first, { installed: true, dir: join(sharedir, 'extension') });
      for (const source of ruvectorExtensionFiles()) {
        assert.deepEqual(readFileSync(join(first.dir, basename(source))), readFileSync(source));
      }
      assert.deepEqual(installRuvectorExtension(sharedir), { installed: false, dir: first.dir });

      writeFileSync(join(first.dir, 'ruvector--0.1.0.sql'), '-- stale\n');
      assert.equal(installRuvectorExtension(sharedir).installed, true);
      assert.equal(installRuvectorExtension(sharedir).installed, false);
    } finally {
      rmSync(sharedir, { recursive: true, force: true });
    }
  });

  it('names the two files of extension/ruvector', () => {
    assert.deepEqual(ruvectorExtensionFiles().map((file) => basename(file)), ['ruvector.control', 'ruvector--0.1.0.sql']);
  });
});

describe('ruvector extension over pgvector', () => {
  let server: ScratchPostgres;
  let client: pg.Client;
  const stored = vectorLiterals(ROWS, DIMS, 42);
  const [probe] = vectorLiterals(1, DIMS, 7);

  before(async () => {
    installRuvectorExtension();
    server = await startScratchPostgres();
    client = await server.client();
    await client.query('CREATE EXTENSION vector');
    await client.query('CREATE EXTENSION ruvector');
    // The same rows in a vector(384) table (pgvector's own reference) and a ruvector(384) table.
    await client.query(`CREATE TABLE vec_items (id int PRIMARY KEY, embedding vector(${DIMS}))`);
    await client.query(`CREATE TABLE ru_items (id int PRIMARY KEY, embedding ruvector(${DIMS}))`);
    for (const table of ['vec_items', 'ru_items']) {
      await client.query(
        `INSERT INTO ${table} (id, embedding)
         SELECT ord::int, literal::ruvector FROM unnest($1::text[]) WITH ORDINALITY AS u(literal, ord)`,
        [stored],
      );
    }
  });

  after(async () => {
    await client?.end();
    await server?.stop();
  });

  it('stores ruvector exactly as pgvector stores vector', async () => {
    const { rows } = await client.query(
      `SELECT typname, typlen, typalign, typstorage, typcategory, typbyval
       FROM pg_type WHERE typname IN ('vector', 'ruvector') ORDER BY typname DESC`,
    );
    assert.equal(rows.length, 2);
    const { typname: _v, ...vectorLayout } = rows[0];
    const { typname: _r, ...ruvectorLayout } = rows[1];
    assert.deepEqual(ruvectorLayout, vectorLayout);
  });

  it('takes every C function from pgvector and defines no operators of its own', async () => {
    const members = `SELECT objid FROM pg_depend
                     WHERE deptype = 'e' AND classid = $1::regclass
                       AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ruvector')`;
    const { rows: libraries } = await client.query(
      `SELECT DISTINCT probin FROM pg_proc WHERE oid IN (${members}) AND prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')`,
      ['pg_proc'],
    );
    assert.deepEqual(libraries, [{ probin: '$libdir/vector' }]);
    const { rows: operators } = await client.query(
      `SELECT count(*)::int AS n FROM pg_operator
       WHERE oid IN (${members}) OR oprleft = 'ruvector'::regtype OR oprright = 'ruvector'::regtype`,
      ['pg_operator'],
    );
    assert.equal(operators[0].n, 0);
  });

  it('is a column type with a dimension typmod', async () => {
    const { rows } = await client.query(
      `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
       WHERE attrelid = 'ru_items'::regclass AND attname = 'embedding'`,
    );
    assert.equal(rows[0].type, `ruvector(${DIMS})`);
  });

  it('casts from text literals, typed literals and untyped parameters', async () => {
    const { rows } = await client.query(
      `SELECT '[1,2,3]'::ruvector::text AS literal,
              '[1,2,3]'::ruvector(3)::text AS with_typmod,
              vector_dims('[1,2,3]'::ruvector) AS dims,
              pg_typeof($1::ruvector)::text AS parameter_type,
              $1::ruvector::text AS parameter,
              (($2::jsonb)->>'embedding')::ruvector::text AS from_text,
              ARRAY[1, 2, 3]::real[]::ruvector::text AS from_real_array,
              ARRAY[1, 2, 3]::float8[]::ruvector(3)::text AS from_float8_array,
              '[1,2,3]'::ruvector::real[]::text AS to_real_array,
              '[1,2,3]'::vector::ruvector::text AS from_vector`,
      ['[1,2,3]', JSON.stringify({ embedding: '[1, 2, 3]' })],
    );
    assert.deepEqual(rows[0], {
      literal: '[1,2,3]',
      with_typmod: '[1,2,3]',
      dims: 3,
      parameter_type: 'ruvector',
      parameter: '[1,2,3]',
      from_text: '[1,2,3]',
      from_real_array: '[1,2,3]',
      from_float8_array: '[1,2,3]',
      to_real_array: '{1,2,3}',
      from_vector: '[1,2,3]',
    });
  });

  it('accepts ruvector, vector and real[] values on assignment to a ruvector column', async () => {
    await client.query('CREATE TEMP TABLE assigned (embedding ruvector(3))');
    await client.query(`INSERT INTO assigned VALUES ($1::ruvector), ('[4,5,6]'::vector), (ARRAY[7, 8, 9]::real[])`, ['[1,2,3]']);
    const { rows } = await client.query('SELECT embedding::text AS e FROM assigned');
    assert.deepEqual(rows.map((row) => row.e), ['[1,2,3]', '[4,5,6]', '[7,8,9]']);
  });

  it('rejects a wrong dimension count with pgvector\'s error', async () => {
    const expected = { code: '22000', message: `expected ${DIMS} dimensions, not 3` };
    const reference = await queryError(client, `INSERT INTO vec_items VALUES (-1, '[1,2,3]')`);
    assert.deepEqual(reference, expected);
    assert.deepEqual(await queryError(client, `INSERT INTO ru_items VALUES (-1, '[1,2,3]')`), expected);
    assert.deepEqual(await queryError(client, `INSERT INTO ru_items VALUES (-1, $1::ruvector)`, ['[1,2,3]']), expected);
    assert.deepEqual(await queryError(client, `INSERT INTO ru_items VALUES (-1, '[1,2,3]'::vector)`), expected);
    assert.deepEqual(await queryError(client, `SELECT '[1,2]'::ruvector(3)`), {
      code: '22000',
      message: 'expected 3 dimensions, not 2',
    });
  });

  it('sends and receives pgvector\'s binary format', async () => {
    const wire = vectorWireBytes([1, 2, 3]);
    const { rows } = await client.query(
      `SELECT ruvector_send('[1,2,3]'::ruvector) AS ru, vector_send('[1,2,3]'::vector) AS v`,
    );
    assert.deepEqual(rows[0].ru, wire);
    assert.deepEqual(rows[0].v, wire);
    // node-postgres sends a Buffer parameter in binary format, so the server runs ruvector_recv.
    const received = await client.query(`SELECT $1::ruvector::text AS e, pg_typeof($1::ruvector)::text AS t`, [wire]);
    assert.deepEqual(received.rows[0], { e: '[1,2,3]', t: 'ruvector' });
    assert.deepEqual(await queryError(client, 'SELECT $1::ruvector(2)', [wire]), {
      code: '22000',
      message: 'expected 2 dimensions, not 3',
    });
  });

  for (const op of DISTANCE_OPERATORS) {
    it(`${op} gives pgvector's numbers for every vector/ruvector combination`, async () => {
      const distances = async (sql: string) =>
        (await client.query(sql, [probe])).rows.map((row) => [row.id, row.d] as [number, number]);
      const reference = await distances(`SELECT id, embedding ${op} $1::vector AS d FROM vec_items ORDER BY id`);
      assert.equal(reference.length, ROWS);
      const combinations = [
        `SELECT id, embedding ${op} $1::ruvector AS d FROM vec_items ORDER BY id`,
        `SELECT id, $1::ruvector ${op} embedding AS d FROM vec_items ORDER BY id`,
        `SELECT id, embedding ${op} $1::ruvector AS d FROM ru_items ORDER BY id`,
        `SELECT id, embedding ${op} $1::vector AS d FROM ru_items ORDER BY id`,
        `SELECT id, embedding ${op} $1 AS d FROM ru_items ORDER BY id`,
      ];
      for (const sql of combinations) {
        assert.deepEqual(await distances(sql), reference, sql);
      }
      // ruvector op ruvector: two ruvector columns against each other match vector against vector.
      const both = await client.query(
        `SELECT r.embedding ${op} s.embedding AS d FROM ru_items r JOIN ru_items s ON s.id = r.id % ${ROWS} + 1 ORDER BY r.id`,
      );
      const bothReference = await client.query(
        `SELECT r.embedding ${op} s.embedding AS d FROM vec_items r JOIN vec_items s ON s.id = r.id % ${ROWS} + 1 ORDER BY r.id`,
      );
      assert.deepEqual(both.rows, bothReference.rows);
    });
  }

  it('runs the seed\'s namespace search query verbatim', async () => {
    const sql = `SELECT id, 1 - (embedding <=> $1::ruvector) as similarity
                 FROM ru_items
                 WHERE id % 2 = $2
                   AND (1 - (embedding <=> $1::ruvector)) >= $3
                 ORDER BY embedding <=> $1::ruvector
                 LIMIT $4`;
    const { rows } = await client.query(sql, [probe, 0, -1, 5]);
    const reference = await client.query(
      `SELECT id, 1 - (embedding <=> $1::vector) AS similarity FROM vec_items
       WHERE id % 2 = 0 ORDER BY embedding <=> $1::vector LIMIT 5`,
      [probe],
    );
    assert.deepEqual(rows, reference.rows);
  });

  for (const table of ['vec_items', 'ru_items']) {
    for (const opclass of HNSW_OPCLASSES) {
      it(`builds an hnsw index with ${opclass} on ${table} and uses it for ORDER BY ... LIMIT`, async () => {
        const index = `${table}_${opclass}_idx`;
        const op = OPERATOR_OF_OPCLASS[opclass];
        await client.query(
          `CREATE INDEX ${index} ON ${table} USING hnsw (embedding ${opclass}) WITH (m = 16, ef_construction = 100)`,
        );
        try {
          await client.query('BEGIN');
          await client.query('SET LOCAL enable_seqscan = off');
          const query = `SELECT id FROM ${table} ORDER BY embedding ${op} '${probe}'::ruvector LIMIT 10`;
          const plan = await client.query(`EXPLAIN (COSTS OFF) ${query}`);
          const planText = plan.rows.map((row) => row['QUERY PLAN']).join('\n');
          assert.match(planText, new RegExp(`Index Scan using ${index} on ${table}`), planText);
          assert.equal((await client.query(query)).rows.length, 10);
          await client.query('COMMIT');
        } finally {
          await client.query('ROLLBACK').catch(() => {});
          await client.query(`DROP INDEX ${index}`);
        }
      });
    }
  }

  it('leaves the seed\'s ef_search index option to another layer: pgvector rejects it', async () => {
    // ef_search is pgvector's run-time setting hnsw.ef_search, not an hnsw reloption.
    assert.deepEqual(
      await queryError(client, 'CREATE INDEX ON ru_items USING hnsw (embedding ruvector_cosine_ops) WITH (m = 16, ef_search = 100)'),
      { code: '22023', message: 'unrecognized parameter "ef_search"' },
    );
  });

  it('drops cleanly once nothing depends on it, leaving pgvector working', async () => {
    await client.query('CREATE INDEX vec_items_cosine ON vec_items USING hnsw (embedding ruvector_cosine_ops)');
    const blocked = await queryError(client, 'DROP EXTENSION ruvector');
    assert.equal(blocked.code, '2BP01');

    await client.query('DROP TABLE ru_items, assigned');
    await client.query('DROP INDEX vec_items_cosine');
    await client.query('DROP EXTENSION ruvector');
    const { rows } = await client.query(
      `SELECT (SELECT count(*)::int FROM pg_type WHERE typname = 'ruvector') AS types,
              (SELECT count(*)::int FROM pg_opclass WHERE opcname LIKE 'ruvector%') AS opclasses,
              (SELECT count(*)::int FROM pg_proc WHERE proname LIKE '%ruvector%') AS functions,
              (SELECT embedding <=> embedding FROM vec_items WHERE id = 1) AS self_distance`,
    );
    assert.deepEqual(rows[0], { types: 0, opclasses: 0, functions: 0, self_distance: 0 });

    await client.query('CREATE EXTENSION ruvector');
    assert.equal((await client.query(`SELECT '[1,2,3]'::ruvector::text AS e`)).rows[0].e, '[1,2,3]');
  });
});
