import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initParser, parseSql, walk } from '../../../src/planner/sql-ast.ts';
import { collectRelations } from '../../../src/planner/relations.ts';
import { rewriteRelations, scanIdentifier } from '../../../src/planner/rewrite.ts';
import { quoteIdentifier } from '../../../src/shared/quoting.ts';

before(async () => {
  await initParser();
});

/** Rewrites every relation named `from` (any schema) to `to`, at the parser's locations. */
function rename(sql: string, from: string, to: string): string {
  const [statement] = parseSql(sql);
  const replacements = collectRelations(statement.node)
    .relations.filter((r) => r.name === from)
    .map((r) => ({ location: r.location, newName: to }));
  return rewriteRelations(statement.text, replacements);
}

/** The parse tree without locations, with every RangeVar's relname passed through `rename`. */
function shape(sql: string, renameRelation: (name: string) => string = (n) => n): string {
  const [statement] = parseSql(sql);
  walk(statement.node, (_key, value) => {
    delete value.location;
    if (typeof value.relname === 'string' && typeof value.relpersistence === 'string') value.relname = renameRelation(value.relname);
  });
  return JSON.stringify(statement.node);
}

test('every naming form: only the final identifier changes', () => {
  const cases: [string, string][] = [
    ['SELECT * FROM memory_entries', 'SELECT * FROM memory_entries_102008'],
    ['SELECT * FROM public.memory_entries', 'SELECT * FROM public.memory_entries_102008'],
    ['SELECT * FROM "memory_entries"', 'SELECT * FROM memory_entries_102008'],
    ['SELECT * FROM "public"."memory_entries"', 'SELECT * FROM "public".memory_entries_102008'],
    ['SELECT * FROM public . memory_entries', 'SELECT * FROM public . memory_entries_102008'],
    ['SELECT * FROM public/* c */.\n"memory_entries" m', 'SELECT * FROM public/* c */.\nmemory_entries_102008 m'],
    ['SELECT * FROM MEMORY_ENTRIES AS m', 'SELECT * FROM memory_entries_102008 AS m'],
    ['SELECT * FROM ONLY memory_entries', 'SELECT * FROM ONLY memory_entries_102008'],
    ['SELECT * FROM memory_entries*', 'SELECT * FROM memory_entries_102008*'],
    ['SELECT * FROM memory_entries,memory_entries x', 'SELECT * FROM memory_entries_102008,memory_entries_102008 x'],
  ];
  for (const [sql, expected] of cases) assert.equal(rename(sql, 'memory_entries', 'memory_entries_102008'), expected, sql);
});

test('quoted and mixed-case names', () => {
  assert.equal(rename('SELECT * FROM public."Mixed Case" mc', 'Mixed Case', 'Mixed Case_7'), 'SELECT * FROM public."Mixed Case_7" mc');
  assert.equal(rename('SELECT * FROM "Quote""d"', 'Quote"d', 'Quote"d_1'), 'SELECT * FROM "Quote""d_1"');
  assert.equal(rename('SELECT * FROM tëst', 'tëst', 'tëst_1'), 'SELECT * FROM "tëst_1"');
  assert.equal(rename('SELECT * FROM c.s.t', 't', 't_5'), 'SELECT * FROM c.s.t_5');
});

test('quoteIdentifier quotes only when PostgreSQL would not read the name back as written', () => {
  assert.equal(quoteIdentifier('memory_entries_102008'), 'memory_entries_102008');
  assert.equal(quoteIdentifier('_x$1'), '_x$1');
  assert.equal(quoteIdentifier('__dpg_rel_0__'), '__dpg_rel_0__');
  assert.equal(quoteIdentifier('Mixed'), '"Mixed"');
  assert.equal(quoteIdentifier('1abc'), '"1abc"');
  assert.equal(quoteIdentifier('a b'), '"a b"');
  assert.equal(quoteIdentifier('a"b'), '"a""b"');
  assert.equal(quoteIdentifier('ümlaut'), '"ümlaut"');
  for (const keyword of ['user', 'select', 'table', 'order', 'join', 'left', 'int', 'values', 'between']) {
    assert.equal(quoteIdentifier(keyword), `"${keyword}"`, keyword);
  }
  for (const unreserved of ['key', 'value', 'metadata', 'namespace', 'data', 'name']) {
    assert.equal(quoteIdentifier(unreserved), unreserved, unreserved);
  }
});

test("the seed's vector search: only the relation changes, and the result re-parses", () => {
  const sql = `SELECT namespace, key, value, metadata, tags,
                   1 - (embedding <=> $1::ruvector) as similarity
            FROM memory_entries
            WHERE namespace = $2
              AND (1 - (embedding <=> $1::ruvector)) >= $3
            ORDER BY embedding <=> $1::ruvector
            LIMIT $4`;
  const rewritten = rename(sql, 'memory_entries', 'memory_entries_102008');
  assert.equal(rewritten, sql.replace('FROM memory_entries', 'FROM memory_entries_102008'));
  assert.equal(shape(rewritten), shape(sql, (name) => `${name}_102008`));
});

test("the seed's co-located join, cross-namespace search and upsert", () => {
  const join = `SELECT m.*, p.pattern_type, p.confidence
FROM memory_entries m
JOIN patterns p ON m.namespace = p.namespace
WHERE m.namespace = 'auth-patterns'`;
  const [statement] = parseSql(join);
  const shards: Record<string, string> = { memory_entries: 'memory_entries_102008', patterns: 'patterns_102020' };
  const rewritten = rewriteRelations(
    statement.text,
    collectRelations(statement.node).relations.map((r) => ({ location: r.location, newName: shards[r.name] })),
  );
  assert.equal(rewritten, join.replace('memory_entries m', 'memory_entries_102008 m').replace('patterns p', 'patterns_102020 p'));
  assert.equal(shape(rewritten), shape(join, (name) => shards[name]));

  const cross = `SELECT namespace, key, value, metadata,
                       1 - (embedding <=> $1::ruvector) as similarity
                FROM memory_entries
                WHERE namespace = ANY($2)
                ORDER BY embedding <=> $1::ruvector
                LIMIT $3`;
  assert.equal(shape(rename(cross, 'memory_entries', 'memory_entries_102011')), shape(cross, () => 'memory_entries_102011'));

  const upsert = `INSERT INTO memory_entries (namespace, key, value, embedding)
                            VALUES ($1, $2, $3, $4::ruvector)
                            ON CONFLICT (namespace, key) DO UPDATE
                            SET value = EXCLUDED.value, embedding = EXCLUDED.embedding`;
  const rewrittenUpsert = rename(upsert, 'memory_entries', 'memory_entries_102008');
  assert.ok(rewrittenUpsert.startsWith('INSERT INTO memory_entries_102008 (namespace'));
  assert.equal(shape(rewrittenUpsert), shape(upsert, () => 'memory_entries_102008'));
});

test('a column or alias spelled like the table is left alone', () => {
  const sql = 'SELECT memory_entries.key FROM memory_entries WHERE memory_entries.namespace = $1';
  assert.equal(rename(sql, 'memory_entries', '__dpg_rel_0__'), 'SELECT memory_entries.key FROM __dpg_rel_0__ WHERE memory_entries.namespace = $1');
});

test('text before the relation with multi-byte characters keeps locations right', () => {
  const sql = "SELECT '😀 ü €' AS e FROM memory_entries m WHERE m.value = 'ñ' AND m.namespace IN (SELECT namespace FROM patterns)";
  const [statement] = parseSql(sql);
  const names: Record<string, string> = { memory_entries: 'memory_entries_9', patterns: 'patterns_9' };
  const rewritten = rewriteRelations(
    statement.text,
    collectRelations(statement.node).relations.map((r) => ({ location: r.location, newName: names[r.name] })),
  );
  assert.equal(rewritten, sql.replace('memory_entries m', 'memory_entries_9 m').replace('FROM patterns', 'FROM patterns_9'));
});

test('replacements in any order are applied right to left', () => {
  const text = 'SELECT * FROM a, b, c';
  const out = rewriteRelations(text, [
    { location: 17, newName: 'bb' },
    { location: 14, newName: 'aa' },
    { location: 20, newName: 'Cc' },
  ]);
  assert.equal(out, 'SELECT * FROM aa, bb, "Cc"');
  assert.equal(rewriteRelations(text, []), text);
});

test('a location that does not point at an identifier throws', () => {
  assert.throws(() => rewriteRelations('SELECT * FROM a', [{ location: 7, newName: 'x' }]), /no identifier/);
  assert.throws(() => rewriteRelations('SELECT * FROM a', [{ location: 99, newName: 'x' }]), /no identifier/);
  assert.throws(() => rewriteRelations('SELECT * FROM "unterminated', [{ location: 14, newName: 'x' }]), /no identifier/);
  assert.throws(() => rewriteRelations('SELECT * FROM U&"t"', [{ location: 14, newName: 'x' }]), /no identifier/);
  assert.throws(() => rewriteRelations('SELECT * FROM a', [{ location: 14, newName: 'x' }, { location: 14, newName: 'y' }]), /overlapping/);
});

test('scanIdentifier folds unquoted ASCII letters only and unescapes quoted ones', () => {
  assert.deepEqual(scanIdentifier('Foo_Bar$1 x', 0), { start: 0, end: 9, value: 'foo_bar$1' });
  assert.deepEqual(scanIdentifier('ÄBC', 0), { start: 0, end: 3, value: 'Äbc' });
  assert.deepEqual(scanIdentifier('"A""b" x', 0), { start: 0, end: 6, value: 'A"b' });
  assert.equal(scanIdentifier('""', 0), null);
  assert.equal(scanIdentifier('1abc', 0), null);
});
