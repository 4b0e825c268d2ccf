import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import { seededVector, vectorText } from './support.ts';

/**
 * psql and pgbench against the coordinator: psql's catalog queries for \d and \dt
 * (answered by the control group's shell tables), -c, scripts with ON_ERROR_STOP and
 * \gset; pgbench with custom scripts in the simple, extended and prepared modes.
 */

const BASE_PORT = 27232;
const PSQL = '/usr/bin/psql';
const PGBENCH = '/usr/lib/postgresql/15/bin/pgbench';
const BENCH_NAMESPACES = Array.from({ length: 8 }, (_, i) => String(1000 + i));
const ROWS_PER_NAMESPACE = 40;

let cluster: TestCluster;
let scratch: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, PGCONNECT_TIMEOUT: '10' } }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

/** psql without ~/.psqlrc. */
const psql = (...args: string[]) => run(PSQL, ['-X', cluster.url, ...args]);

/** One value, unaligned and without headers. */
async function scalar(sql: string): Promise<string> {
  const result = await psql('-At', '-c', sql);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

function file(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

function assertPgbenchOk(result: Run, transactions: number, label: string): void {
  const output = `${result.stdout}\n${result.stderr}`;
  assert.equal(result.code, 0, `${label}: pgbench exited ${result.code}\n${output}`);
  assert.match(output, new RegExp(`number of transactions actually processed: ${transactions}/${transactions}`), `${label}\n${output}`);
  assert.match(output, /number of failed transactions: 0 /, `${label}\n${output}`);
}

describe('psql and pgbench against the coordinator', () => {
  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'dpg-psql-'));
    cluster = await startTestCluster({ basePort: BASE_PORT });
  });

  after(async () => {
    await cluster?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('describes the shell table with \\d memory_entries', async () => {
    const result = await psql('-c', '\\d memory_entries');
    assert.equal(result.code, 0, result.stderr);
    const out = result.stdout;
    assert.match(out, /Table "public\.memory_entries"/);
    for (const [column, type] of [
      ['id', 'uuid'],
      ['namespace', 'text'],
      ['key', 'text'],
      ['value', 'text'],
      ['embedding', 'vector\\(384\\)'],
      ['metadata', 'jsonb'],
      ['tags', 'text\\[\\]'],
      ['created_at', 'timestamp with time zone'],
      ['updated_at', 'timestamp with time zone'],
    ]) {
      assert.match(out, new RegExp(`^ ${column}\\s+\\| ${type}\\s`, 'm'), `column ${column} ${type}\n${out}`);
    }
    assert.match(out, /Indexes:/);
    assert.match(out, /"memory_entries_pkey" PRIMARY KEY, btree \(namespace, id\)/);
    assert.match(out, /"idx_memory_created" btree \(namespace, created_at\)/);
    assert.match(out, /UNIQUE CONSTRAINT, btree \(namespace, key\)/);
    // \d+ adds storage and description columns: more catalog queries, same table.
    const verbose = await psql('-c', '\\d+ graph_edges');
    assert.equal(verbose.code, 0, verbose.stderr);
    assert.match(verbose.stdout, /Table "public\.graph_edges"/);
    assert.match(verbose.stdout, /^ weight\s+\| real\s/m);
  });

  it('lists the seed tables with \\dt and extensions with \\dx', async () => {
    const result = await psql('-c', '\\dt public.*');
    assert.equal(result.code, 0, result.stderr);
    for (const table of ['memory_entries', 'patterns', 'pattern_history', 'trajectories', 'graph_nodes', 'graph_edges', 'metadata', 'vector_indexes', 'sessions']) {
      assert.match(result.stdout, new RegExp(`^ public\\s+\\| ${table}\\s+\\| table`, 'm'), `${table}\n${result.stdout}`);
    }
    const extensions = await psql('-c', '\\dx');
    assert.equal(extensions.code, 0, extensions.stderr);
    assert.match(extensions.stdout, /^ vector\s/m);
    assert.match(extensions.stdout, /^ ruvector\s/m);
  });

  it('runs -c statements, routed and over every shard', async () => {
    assert.equal(await scalar(`SELECT count(*) FROM memory_entries WHERE namespace='x'`), '0');
    const insert = await psql('-c', `INSERT INTO memory_entries (namespace, key, value) VALUES ('x', 'a', '1'), ('y', 'b', '2'), ('x', 'c', '3')`);
    assert.equal(insert.code, 0, insert.stderr);
    assert.equal(insert.stdout.trim(), 'INSERT 0 3');
    assert.equal(await scalar(`SELECT count(*) FROM memory_entries WHERE namespace='x'`), '2');
    // Several -c options run in order, each its own statement.
    const several = await psql('-At', '-c', `UPDATE memory_entries SET value = value || '!' WHERE namespace = 'x'`, '-c', `SELECT string_agg(value, ',' ORDER BY key) FROM memory_entries WHERE namespace = 'x'`);
    assert.equal(several.code, 0, several.stderr);
    assert.deepEqual(several.stdout.trim().split('\n'), ['UPDATE 2', '1!,3!']);
    const merged = await psql('-At', '-F', ' ', '-c', `SELECT namespace, key FROM memory_entries WHERE namespace IN ('x', 'y') ORDER BY key DESC`);
    assert.deepEqual(merged.stdout.trim().split('\n'), ['x c', 'y b', 'x a']);
    // An error: psql exits 1 and prints the server's message.
    const failed = await psql('-c', 'SELECT 1/0');
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /ERROR:\s+division by zero/);
  });

  it('stops a script at the first error with ON_ERROR_STOP, after committing what came before', async () => {
    const script = file(
      'on-error-stop.sql',
      `\\set ON_ERROR_STOP on
BEGIN;
INSERT INTO memory_entries (namespace, key, value) VALUES ('script-a', 'k1', 'one'), ('script-b', 'k1', 'two');
INSERT INTO metadata (key, value) VALUES ('script', '{"step": 1}');
COMMIT;
\\set ns script-a
SELECT count(*) AS n FROM memory_entries WHERE namespace = :'ns' \\gset
\\echo count=:n
SELECT value AS v FROM memory_entries WHERE namespace = :'ns' AND key = 'k1' \\gset
\\echo value=:v
INSERT INTO memory_entries (namespace, key, value) VALUES ('script-a', 'k1', 'duplicate');
INSERT INTO memory_entries (namespace, key, value) VALUES ('script-a', 'never', 'never');
\\echo not reached
`,
    );
    const result = await psql('-f', script);
    assert.equal(result.code, 3, `psql exits 3 when ON_ERROR_STOP stops a script\n${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /^count=1$/m);
    assert.match(result.stdout, /^value=one$/m);
    assert.doesNotMatch(result.stdout, /not reached/);
    assert.match(result.stderr, /duplicate key value violates unique constraint/);
    assert.equal(await scalar(`SELECT count(*) FROM memory_entries WHERE namespace = 'script-a'`), '1');
    assert.equal(await scalar(`SELECT count(*) FROM memory_entries WHERE namespace = 'script-b'`), '1');
    assert.equal(await scalar(`SELECT value->>'step' FROM metadata WHERE key = 'script'`), '1');

    // Without ON_ERROR_STOP the script goes on; with --single-transaction (-1) an error undoes it all.
    const goOn = file('go-on.sql', `INSERT INTO memory_entries (namespace, key) VALUES ('script-a', 'k1');\nINSERT INTO memory_entries (namespace, key) VALUES ('script-a', 'k2');\n`);
    const continued = await psql('-f', goOn);
    assert.equal(continued.code, 0, continued.stderr);
    assert.equal(await scalar(`SELECT count(*) FROM memory_entries WHERE namespace = 'script-a'`), '2');
    const single = file(
      'single.sql',
      `INSERT INTO memory_entries (namespace, key) VALUES ('script-c', 'k1');\nINSERT INTO memory_entries (namespace, key) VALUES ('script-b', 'k1');\n`,
    );
    const undone = await psql('-v', 'ON_ERROR_STOP=1', '-1', '-f', single);
    assert.equal(undone.code, 3, undone.stderr);
    assert.equal(await scalar(`SELECT count(*) FROM memory_entries WHERE namespace = 'script-c'`), '0');
  });

  it('loads vectors with a psql script and runs namespace-scoped vector search under pgbench (simple, extended, prepared)', async () => {
    const lines: string[] = [];
    let seed = 5;
    for (const ns of BENCH_NAMESPACES) {
      const values = Array.from({ length: ROWS_PER_NAMESPACE }, (_, i) => `('${ns}', 'v${i}', 'value ${i}', '${vectorText(seededVector(seed++))}')`);
      lines.push(`INSERT INTO memory_entries (namespace, key, value, embedding) VALUES\n${values.join(',\n')};`);
    }
    const load = await psql('-v', 'ON_ERROR_STOP=1', '-q', '-f', file('load.sql', lines.join('\n') + '\n'));
    assert.equal(load.code, 0, load.stderr);
    assert.equal(await scalar(`SELECT count(*) FROM memory_entries WHERE namespace = ANY('{${BENCH_NAMESPACES.join(',')}}')`), String(BENCH_NAMESPACES.length * ROWS_PER_NAMESPACE));

    // The seed's search, with a random query vector built in SQL; the namespace is
    // a constant in simple mode (`1003::text`) and a parameter ($1::text) otherwise.
    const search = file(
      'search.sql',
      `\\set ns random(${BENCH_NAMESPACES[0]}, ${BENCH_NAMESPACES.at(-1)})
SELECT namespace, key, value, 1 - (embedding <=> q.v) AS similarity
  FROM memory_entries,
       (SELECT array_agg(random() * 2 - 1)::real[]::ruvector AS v FROM generate_series(1, 384)) AS q
 WHERE namespace = :ns::text
 ORDER BY embedding <=> q.v
 LIMIT 10;
`,
    );
    for (const mode of ['simple', 'extended', 'prepared']) {
      const result = await run(PGBENCH, ['-n', '-f', search, '-t', '200', '-c', '4', '-M', mode, cluster.url], 120_000);
      assertPgbenchOk(result, 800, `search, -M ${mode}`);
    }

    // The same search gives 10 rows in every namespace.
    for (const ns of BENCH_NAMESPACES) {
      const top = await psql('-At', '-c', `SELECT key FROM memory_entries, (SELECT '${vectorText(seededVector(99))}'::ruvector AS v) q WHERE namespace = '${ns}' ORDER BY embedding <=> q.v LIMIT 10`);
      assert.equal(top.code, 0, top.stderr);
      assert.equal(top.stdout.trim().split('\n').length, 10, ns);
    }
  });

  it('routes a statement whose only distributed table is pinned inside a FROM subquery', async () => {
    const ns = BENCH_NAMESPACES[0]!;
    const result = await psql('-At', '-c', `SELECT count(*) FROM (SELECT key FROM memory_entries WHERE namespace = '${ns}' ORDER BY key LIMIT 10) AS top`);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), '10');
  });

  it('runs a write transaction script under pgbench and loses no update', async () => {
    const write = file(
      'write.sql',
      `\\set ns random(${BENCH_NAMESPACES[0]}, ${BENCH_NAMESPACES.at(-1)})
\\set k random(1, 50)
BEGIN;
INSERT INTO memory_entries AS m (namespace, key, value) VALUES (:ns::text, 'counter-' || :k, '1')
  ON CONFLICT (namespace, key) DO UPDATE SET value = (m.value::int + 1)::text, updated_at = now();
SELECT value FROM memory_entries WHERE namespace = :ns::text AND key = 'counter-' || :k;
END;
`,
    );
    let expected = 0;
    for (const mode of ['simple', 'prepared']) {
      const result = await run(PGBENCH, ['-n', '-f', write, '-t', '100', '-c', '4', '-M', mode, cluster.url], 120_000);
      assertPgbenchOk(result, 400, `write, -M ${mode}`);
      expected += 400;
      const total = await scalar(`SELECT sum(value::int) FROM memory_entries WHERE namespace = ANY('{${BENCH_NAMESPACES.join(',')}}') AND key LIKE 'counter-%'`);
      assert.equal(total, String(expected), `every increment counted after -M ${mode}`);
    }
  });
});
