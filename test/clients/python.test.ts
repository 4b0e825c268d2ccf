import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import { assertExactTopK, namespacesByGroup, seededVector, vectorText, type StoredVector } from './support.ts';

/**
 * Python's asyncpg (extended protocol, binary format, type introspection against
 * pg_catalog, pipelined executemany, portals with row limits, cancel on timeout)
 * and psycopg2 (libpq; client-side parameters over the simple protocol, implicit
 * transactions) against the coordinator, with Debian's interpreter and packages.
 * python_client.py runs the steps and prints what it saw; this file checks it.
 */

const BASE_PORT = 27632;
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./python_client.py', import.meta.url));

let cluster: TestCluster;

interface Spec {
  url: string;
  group1: string[];
  group2: string[];
  vectors: { namespace: string; key: string; text: string }[];
  queries: string[];
}

type Observations = Record<string, any>;

function runPython(client: 'asyncpg' | 'asyncpg-pipeline' | 'psycopg2', spec: Spec): Promise<Observations> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SCRIPT, client], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      try {
        const observations = JSON.parse(stdout) as Observations;
        if (observations.fatal) reject(new Error(`${client} failed:\n${observations.fatal}\n${stderr}`));
        else resolve(observations);
      } catch {
        reject(new Error(`${client}: exit ${code}, no JSON\nstdout: ${stdout}\nstderr: ${stderr}`));
      }
    });
    child.stdin.end(JSON.stringify(spec));
  });
}

/** Namespaces on each worker group, 20 vectors in each, 3 query vectors. */
async function makeSpec(prefix: string, seed: number): Promise<{ spec: Spec; stored: StoredVector[]; queries: number[][] }> {
  const client = new pg.Client({ connectionString: cluster.url });
  await client.connect();
  const byGroup = await namespacesByGroup(client, prefix, 2);
  await client.end();
  const group1 = byGroup.get(1)!;
  const group2 = byGroup.get(2)!;
  const stored: StoredVector[] = [...group1, ...group2].flatMap((namespace, n) =>
    Array.from({ length: 20 }, (_, i) => ({ namespace, key: `e${String(i).padStart(2, '0')}`, vector: seededVector(seed + n * 100 + i) })),
  );
  const queries = [1, 2, 3].map((q) => seededVector(seed + 10_000 + q));
  return {
    spec: {
      url: cluster.url,
      group1,
      group2,
      vectors: stored.map((s) => ({ namespace: s.namespace, key: s.key, text: vectorText(s.vector) })),
      queries: queries.map(vectorText),
    },
    stored,
    queries,
  };
}

function checkSearches(observed: Observations, spec: Spec, stored: StoredVector[], queries: number[][], client: string): void {
  const namespaces = [...spec.group1, ...spec.group2];
  queries.forEach((query, q) => {
    for (const ns of namespaces) {
      const rows = observed.search_one[`${q}/${ns}`];
      for (const row of rows) assert.equal(row.value, `value ${row.key}`);
      assertExactTopK(rows, query, stored.filter((s) => s.namespace === ns), 10, `${client}: query ${q} in ${ns}`);
    }
    assertExactTopK(observed.search_many[String(q)], query, stored, 20, `${client}: query ${q} over ${namespaces.join(',')}`);
  });
}

/** One run of the pipeline steps, shared by the two tests that check it (the long pipeline can take 30 s). */
let pipeline: Promise<Observations> | null = null;
/** What the main asyncpg run saw, for the checks marked todo. */
let asyncpgRun: Observations | null = null;
function pipelineRun(): Promise<Observations> {
  pipeline ??= makeSpec('pipe-', 500_000).then(({ spec }) => runPython('asyncpg-pipeline', spec));
  return pipeline;
}

describe('Python clients (asyncpg, psycopg2) against the coordinator', () => {
  before(async () => {
    cluster = await startTestCluster({ basePort: BASE_PORT });
  });

  after(async () => {
    await cluster?.stop();
  });

  it('asyncpg: extended protocol, binary format, type introspection, transactions, cursors, cancel', async () => {
    const { spec, stored, queries } = await makeSpec('apg-', 300_000);
    const seen = await runPython('asyncpg', spec);

    assert.equal(seen.server_version[0], 15);
    assert.equal(seen.count_after_executemany, stored.length);
    assert.equal(seen.embedding_text, spec.vectors[0]!.text);
    assert.equal(seen.embedding_raw, spec.vectors[0]!.text, 'a vector column without a codec comes back in text');
    checkSearches(seen, spec, stored, queries, 'asyncpg');

    assert.deepEqual(seen.typed_row, { tags: ['a', 'b c', 'd"e'], metadata: '{"n": 1, "ok": true}', len: 5, has_time: true, plus: 42, twice: 2.5, flag: true });
    const expectedMerged = stored
      .map((s) => [s.key, s.namespace, `value ${s.key}`.length] as [string, string, number])
      .sort((a, b) => (a[0] !== b[0] ? (a[0] < b[0] ? 1 : -1) : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
      .slice(0, 25);
    assert.deepEqual(seen.merged_desc, expectedMerged);

    for (const [ns, key, gotNs, gotValue] of seen.prepared) assert.deepEqual([gotNs, gotValue], [ns, `value ${key}`]);
    assert.ok(seen.prepared.length >= 10);

    assert.deepEqual(seen.tx_rows, [[spec.group1[0], 'tx', 'committed'], [spec.group2[0], 'tx', 'committed']].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)));
    assert.deepEqual(seen.errors, { unique: '23505', undefined_table: '42P01', division: '22012', unsupported: '0A000', in_failed_block: ['23505', '25P02', '25P02', 42] });

    const allKeys = stored.map((s) => [s.key, s.namespace]).sort((a, b) => (a[0] !== b[0] ? (a[0]! < b[0]! ? -1 : 1) : a[1]! < b[1]! ? -1 : 1));
    assert.deepEqual(seen.cursor_keys, allKeys.map((k) => k[0]));
    assert.deepEqual(seen.cursor_routed, { first3: ['e00', 'e01', 'e02'], next2: ['e03', 'e04'] });
    asyncpgRun = seen;

    assert.deepEqual(seen.timeout, { error: 'TimeoutError', after: 7 });
    assert.ok(seen.timeout_seconds < 6, `the cancelled query ended after ${seen.timeout_seconds} s`);
  });

  it('psycopg2: client-side parameters, implicit transactions, errors, autocommit multi-statements', async () => {
    const { spec, stored, queries } = await makeSpec('pg2-', 400_000);
    const seen = await runPython('psycopg2', spec);

    assert.equal(seen.count_after_execute_values, stored.length);
    assert.equal(seen.embedding_text, spec.vectors[0]!.text);
    checkSearches(seen, spec, stored, queries, 'psycopg2');
    assert.deepEqual(seen.tx_rows, [[spec.group1[0], 'tx', 'committed'], [spec.group2[0], 'tx', 'committed']].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)));
    assert.deepEqual(seen.errors, {
      unique: '23505',
      unique_then: '25P02',
      undefined_table: '42P01',
      undefined_table_then: '25P02',
      division: '22012',
      division_then: '25P02',
    });
    assert.deepEqual(seen.multi_statement, [['12']]);
    // A server-side cursor either works or is refused with 0A000 (DECLARE CURSOR is not distributed yet).
    if (seen.named_cursor.rows) {
      assert.deepEqual(seen.named_cursor.rows, stored.filter((s) => s.namespace === spec.group1[0]).map((s) => s.key));
    } else {
      assert.equal(seen.named_cursor.sqlstate, '0A000', seen.named_cursor.message);
    }
  });

  it('asyncpg: executemany of 60 rows runs as one pipeline on one worker connection', async () => {
    const seen = await pipelineRun();
    assert.deepEqual(seen.long_pipeline, { error: null });
    assert.equal(seen.long_pipeline_rows, 60);
  });

  it('asyncpg: a failing row undoes the whole executemany (one implicit transaction up to Sync)', async () => {
    const seen = await pipelineRun();
    assert.equal(seen.atomic_error, '23505');
    assert.equal(seen.atomic_rows, 0);
  });

  it('asyncpg: Cursor.forward() moves a protocol-level portal with MOVE FORWARD n', { todo: 'coordinator bug: SQL MOVE/FETCH cannot see portals bound through the protocol; MOVE goes to the control group (34000)' }, () => {
    assert.ok(asyncpgRun, 'the asyncpg run above completed');
    assert.deepEqual(asyncpgRun.cursor_forward, { first: ['e00'], moved: 2, after: ['e03', 'e04'] });
  });
});
