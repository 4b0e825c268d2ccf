import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import pg from 'pg';
import { startTestCluster, assertConsistent, type TestCluster } from '../support/test-cluster.ts';
import { startScratchPostgres, type ScratchPostgres } from '../support/scratch-postgres.ts';
import { SEED_TABLES, tableDDL } from '../../src/catalog/seed-schema.ts';
import { CORPUS, Q1, Q2, dataLoad, type CorpusStatement } from './corpus.ts';

/**
 * Differential test (issue #3): every statement of the corpus runs, in the same
 * order, on one plain PostgreSQL 15 + pgvector node and on dpg (2 worker groups, 8
 * shards), and the results must match: the same SQLSTATE for errors; otherwise
 * the same command tag, row count, columns (name, type, type modifier, format)
 * and rows, byte for byte. Reads run twice on each side: in text (the simple
 * protocol, or the extended one when the statement has parameters) and in binary
 * (the extended protocol with every result column in binary format).
 *
 * Rows are compared as a multiset unless the statement's top level has ORDER BY;
 * see corpus.ts for how ties and approximate vector search are kept out. Types
 * compare by OID below 16384 and by name above (extension types such as vector
 * have different OIDs on the two servers). Error messages are not compared (dpg
 * passes on the worker's, which names shards); the differences are printed.
 *
 * `expectUnsupported` statements must fail on dpg with 0A000 and are not run on the
 * plain node; `knownBug` statements run on both sides, their differences are
 * printed and the test is reported as skipped.
 */

const BASE_PORT = 29432;
const SHARD_COUNT = 8;

/**
 * node-postgres decodes every DataRow field as UTF-8 (pg-protocol's BufferReader),
 * which replaces invalid byte sequences, so two different binary values could
 * compare equal. In this test process fields are decoded as latin1 instead: one
 * character per byte, lossless. Only DataRow fields and ReadyForQuery's status byte
 * go through `string()`; names and messages use `cstring()`.
 */
function decodeDataRowsLosslessly(): void {
  const requireFromPg = createRequire(createRequire(import.meta.url).resolve('pg'));
  const { BufferReader } = requireFromPg('pg-protocol/dist/buffer-reader.js') as {
    BufferReader: { prototype: { string(this: { buffer: Buffer; offset: number }, length: number): string } };
  };
  BufferReader.prototype.string = function (length) {
    const value = this.buffer.toString('latin1', this.offset, this.offset + length);
    this.offset += length;
    return value;
  };
}
decodeDataRowsLosslessly();

/** Every value as it came off the wire (a latin1 string of its bytes), in text and in binary format. */
const RAW_VALUES = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

type Format = 'text' | 'binary';

interface Field {
  name: string;
  type: string;
  typmod: number;
  format: string;
}

interface Outcome {
  error?: { code: string; message: string };
  command?: string;
  rowCount?: number | null;
  fields?: Field[];
  rows?: (string | null)[][];
}

interface Side {
  name: 'plain' | 'dpg';
  client: pg.Client;
  /** A second session to name extension types: OIDs differ from node to node, names must not. */
  meta: pg.Client;
  typeNames: Map<number, string>;
}

let cluster: TestCluster | undefined;
let scratch: ScratchPostgres | undefined;
let plain: Side;
let dpg: Side;
const started = Date.now();
const counts = { statements: 0, executionsCompared: 0, statementsCompared: 0, unsupported: 0, knownBugs: 0, knownBugsFixed: 0 };
const messageDifferences: string[] = [];

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

async function side(name: Side['name'], url: string): Promise<Side> {
  return { name, client: await connect(url), meta: await connect(url), typeNames: new Map() };
}

/**
 * The plain node gets the seed's tables as dpg's control group has them (shell form,
 * no HNSW index: vector ORDER BY runs without index scans anyway), and no-op
 * distribution functions. They are PL/pgSQL: a SQL function with an empty body
 * returns NULL, where Citus' (and dpg's) return a non-null void.
 */
async function preparePlainNode(client: pg.Client): Promise<void> {
  await client.query('CREATE EXTENSION vector');
  await client.query('CREATE EXTENSION ruvector');
  for (const table of SEED_TABLES) for (const statement of tableDDL(table, null)) await client.query(statement);
  await client.query(`CREATE FUNCTION create_distributed_table(table_name text, distribution_column text, colocate_with text DEFAULT 'default') RETURNS void LANGUAGE plpgsql AS 'BEGIN END'`);
  await client.query(`CREATE FUNCTION create_reference_table(table_name text) RETURNS void LANGUAGE plpgsql AS 'BEGIN END'`);
}

async function typeName(s: Side, oid: number): Promise<string> {
  // OIDs below FirstNormalObjectId (16384) are fixed at initdb and equal everywhere.
  if (oid < 16384) return String(oid);
  let name = s.typeNames.get(oid);
  if (!name) {
    name = (await s.meta.query<{ name: string }>('SELECT format_type($1::oid, NULL) AS name', [oid])).rows[0]!.name;
    s.typeNames.set(oid, name);
  }
  return name;
}

async function execute(s: Side, statement: CorpusStatement, format: Format): Promise<Outcome> {
  const config = {
    text: statement.sql,
    values: statement.params,
    name: statement.name,
    rowMode: 'array' as const,
    types: RAW_VALUES,
    ...(format === 'binary' ? { binary: true, queryMode: 'extended' as const } : {}),
  };
  try {
    const result = await s.client.query(config as pg.QueryArrayConfig);
    const fields: Field[] = [];
    for (const f of result.fields) {
      fields.push({ name: f.name, type: await typeName(s, f.dataTypeID), typmod: f.dataTypeModifier, format: String(f.format) });
    }
    return { command: result.command, rowCount: result.rowCount, fields, rows: result.rows as (string | null)[][] };
  } catch (error) {
    // An error without a SQLSTATE is node-postgres failing on what the server sent
    // (e.g. DataRows that do not fit the RowDescription): an outcome to compare too.
    const e = error as Error & { code?: string };
    return { error: { code: e.code ?? `client ${e.name}`, message: e.message } };
  }
}

const isDistributionCall = (sql: string) => /\b(create_distributed_table|create_reference_table|alter_distributed_table|undistribute_table)\s*\(/i.test(sql);

function isWrite(statement: CorpusStatement): boolean {
  if (statement.write !== undefined) return statement.write;
  return !/^\s*(SELECT|VALUES|TABLE|SHOW|WITH)\b/i.test(statement.sql) || isDistributionCall(statement.sql);
}

/** ORDER BY at the statement's top level: outside string literals and parentheses. */
function hasTopLevelOrderBy(sql: string): boolean {
  let text = sql.replace(/'(?:[^']|'')*'/g, "''");
  for (let previous = ''; previous !== text; ) {
    previous = text;
    text = text.replace(/\([^()]*\)/g, '');
  }
  return /\bORDER\s+BY\b/i.test(text);
}

function display(sql: string): string {
  const short = sql
    .replaceAll(`'${Q1}'`, "'<q1>'")
    .replaceAll(`'${Q2}'`, "'<q2>'")
    .replace(/'\[[^\]]{80,}\]'/g, "'<vector>'")
    .replace(/\s+/g, ' ')
    .trim();
  return short.length > 150 ? `${short.slice(0, 147)}...` : short;
}

function showValue(value: string | null, format: string): string {
  if (value === null) return 'NULL';
  return format === '1' ? `\\x${Buffer.from(value, 'latin1').toString('hex')}` : JSON.stringify(Buffer.from(value, 'latin1').toString('utf8'));
}

function showRow(row: (string | null)[] | undefined, fields: Field[]): string {
  if (!row) return '(no row)';
  const text = `(${row.map((v, i) => showValue(v, fields[i]?.format ?? '0')).join(', ')})`;
  return text.length > 400 ? `${text.slice(0, 397)}...` : text;
}

function showOutcome(o: Outcome): string {
  if (o.error) return `ERROR ${o.error.code}: ${o.error.message}`;
  return `${o.command} rowCount=${o.rowCount} columns=${JSON.stringify(o.fields)} rows=${o.rows!.length}`;
}

const rowKey = (row: (string | null)[]) => JSON.stringify(row);

/** Rows in a canonical order: sorted as a whole, or (ordered) sorted only within runs equal on the tie columns. */
function canonicalRows(rows: (string | null)[][], ordered: boolean, tieColumns: number[] | undefined): (string | null)[][] {
  if (!ordered) return [...rows].sort((a, b) => (rowKey(a) < rowKey(b) ? -1 : rowKey(a) > rowKey(b) ? 1 : 0));
  if (!tieColumns) return rows;
  const out: (string | null)[][] = [];
  let run: (string | null)[][] = [];
  const tieKey = (row: (string | null)[]) => JSON.stringify(tieColumns.map((c) => row[c]));
  for (const row of rows) {
    if (run.length > 0 && tieKey(run[0]!) !== tieKey(row)) {
      out.push(...canonicalRows(run, false, undefined));
      run = [];
    }
    run.push(row);
  }
  out.push(...canonicalRows(run, false, undefined));
  return out;
}

/** Why the two outcomes differ, or null when they match. */
function difference(statement: CorpusStatement, expected: Outcome, actual: Outcome): string | null {
  if (expected.error || actual.error) {
    if (!expected.error || !actual.error) return `PostgreSQL: ${showOutcome(expected)}\n      dpg: ${showOutcome(actual)}`;
    if (expected.error.code !== actual.error.code) return `PostgreSQL: ${showOutcome(expected)}\n      dpg: ${showOutcome(actual)}`;
    if (expected.error.message !== actual.error.message) {
      messageDifferences.push(`${display(statement.sql)}\n    PostgreSQL: ${expected.error.message}\n    dpg:        ${actual.error.message}`);
    }
    return null;
  }
  if (expected.command !== actual.command || expected.rowCount !== actual.rowCount || JSON.stringify(expected.fields) !== JSON.stringify(actual.fields)) {
    return (
      `PostgreSQL: ${showOutcome(expected)}\n      dpg: ${showOutcome(actual)}\n` +
      `      first rows: PostgreSQL ${showRow(expected.rows![0], expected.fields!)}, dpg ${showRow(actual.rows![0], actual.fields!)}`
    );
  }
  const ordered = statement.ordered ?? (!isWrite(statement) && hasTopLevelOrderBy(statement.sql));
  const want = canonicalRows(expected.rows!, ordered, statement.tieColumns);
  const got = canonicalRows(actual.rows!, ordered, statement.tieColumns);
  const length = Math.max(want.length, got.length);
  for (let i = 0; i < length; i++) {
    if (rowKey(want[i] ?? []) !== rowKey(got[i] ?? [])) {
      return (
        `rows differ (${want.length} vs ${got.length} rows, ${ordered ? 'ordered' : 'as a multiset'}) at row ${i}:\n` +
        `      PostgreSQL: ${showRow(want[i], expected.fields!)}\n      dpg:        ${showRow(got[i], actual.fields!)}`
      );
    }
  }
  return null;
}

describe('differential: plain PostgreSQL and dpg give the same results', () => {
  before(async () => {
    // Each is kept as soon as it is up, so `after` stops it even when the other failed to start.
    const startingCluster = startTestCluster({ basePort: BASE_PORT, shardCount: SHARD_COUNT }).then((c) => (cluster = c));
    const startingScratch = startScratchPostgres().then((s) => (scratch = s));
    const [clusterStart, scratchStart] = await Promise.allSettled([startingCluster, startingScratch]);
    for (const start of [clusterStart, scratchStart]) if (start.status === 'rejected') throw start.reason;
    if (!cluster || !scratch) throw new Error('unreachable: both started');
    [plain, dpg] = await Promise.all([side('plain', scratch.url), side('dpg', cluster.url)]);
    await preparePlainNode(plain.client);
    for (const sql of dataLoad()) await Promise.all([plain.client.query(sql), dpg.client.query(sql)]);
  });

  after(async () => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `differential: ${counts.statements} statements, ${counts.statementsCompared} compared (${counts.executionsCompared} executions, text and binary), ` +
        `${counts.unsupported} unsupported (0A000), ${counts.knownBugs} known bugs skipped, ${seconds}s`,
    );
    if (counts.knownBugsFixed > 0) {
      console.log(`differential: ${counts.knownBugsFixed} statements marked knownBug matched in this run (the bug is fixed, or, for the timing-dependent ones, did not show)`);
    }
    if (messageDifferences.length > 0) console.log(`differential: same SQLSTATE, different message:\n  ${messageDifferences.join('\n  ')}`);
    for (const s of [plain, dpg]) for (const c of [s?.client, s?.meta]) await c?.end().catch(() => {});
    await Promise.all([cluster?.stop(), scratch?.stop()]);
  });

  for (const [index, statement] of CORPUS.entries()) {
    it(`${String(index + 1).padStart(3, '0')} ${statement.section}: ${display(statement.sql)}`, async (t) => {
      counts.statements++;
      if (statement.expectUnsupported) {
        const outcome = await execute(dpg, statement, 'text');
        assert.equal(outcome.error?.code, '0A000', `dpg should reject it with 0A000 (feature not supported), got ${showOutcome(outcome)}`);
        counts.unsupported++;
        return;
      }
      const formats: Format[] = isWrite(statement) ? [statement.format ?? 'text'] : ['text', 'binary'];
      const differences: string[] = [];
      for (const format of formats) {
        const [expected, actual] = await Promise.all([execute(plain, statement, format), execute(dpg, statement, format)]);
        const why = difference(statement, expected, actual);
        if (why) differences.push(`${format}: ${why}`);
      }
      if (statement.knownBug) {
        if (differences.length === 0) {
          counts.knownBugsFixed++;
          t.diagnostic(`marked knownBug (${statement.knownBug}) but the results match now`);
        } else {
          counts.knownBugs++;
          t.diagnostic(differences.join('\n'));
        }
        t.skip(`known bug: ${statement.knownBug}`);
        return;
      }
      counts.statementsCompared++;
      counts.executionsCompared += formats.length;
      assert.ok(differences.length === 0, `${display(statement.sql)}\n  ${differences.join('\n  ')}`);
    });
  }

  it('leaves the cluster consistent after the corpus\' writes: dpg check', async () => {
    await assertConsistent(cluster!);
  });
});
