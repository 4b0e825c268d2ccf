import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initParser, parseSql } from '../../../src/planner/sql-ast.ts';
import { collectRelations, type RelationRef } from '../../../src/planner/relations.ts';
import { scanIdentifier } from '../../../src/planner/rewrite.ts';

before(async () => {
  await initParser();
});

/** `schema.name alias` plus `[target]` / `[other]` (neither FROM nor target), sorted by location. */
function describe(relation: RelationRef): string {
  let text = relation.schema ? `${relation.schema}.${relation.name}` : relation.name;
  if (relation.alias) text += ` ${relation.alias}`;
  if (relation.isTarget) text += ' [target]';
  else if (!relation.inFrom) text += ' [other]';
  return text;
}

function relationsOf(sql: string) {
  const [statement] = parseSql(sql);
  const result = collectRelations(statement.node);
  // Every location points at the written (possibly qualified, possibly quoted) name.
  for (const relation of result.relations) {
    let identifier = scanIdentifier(statement.text, relation.location);
    assert.ok(identifier, `no identifier at ${relation.location} in ${statement.text}`);
    const parts = [identifier.value];
    while (statement.text[identifier.end] === '.') {
      identifier = scanIdentifier(statement.text, identifier.end + 1)!;
      parts.push(identifier.value);
    }
    assert.equal(parts[parts.length - 1], relation.name, `name at location in ${sql}`);
    if (relation.schema) assert.equal(parts[parts.length - 2], relation.schema, `schema at location in ${sql}`);
  }
  return { ...result, described: [...result.relations].sort((a, b) => a.location - b.location).map(describe) };
}

const CORPUS: [string, string[]][] = [
  // Plain selects and the seed's queries.
  ['SELECT * FROM memory_entries', ['memory_entries']],
  ['SELECT * FROM memory_entries WHERE namespace = $1', ['memory_entries']],
  [
    `SELECT namespace, key, value, metadata, tags, 1 - (embedding <=> $1::ruvector) as similarity
     FROM memory_entries WHERE namespace = $2 AND (1 - (embedding <=> $1::ruvector)) >= $3
     ORDER BY embedding <=> $1::ruvector LIMIT $4`,
    ['memory_entries'],
  ],
  [
    `SELECT m.*, p.pattern_type, p.confidence FROM memory_entries m
     JOIN patterns p ON m.namespace = p.namespace WHERE m.namespace = 'auth-patterns'`,
    ['memory_entries m', 'patterns p'],
  ],
  [
    `SELECT m.*, p.pattern_type FROM memory_entries m
     JOIN patterns p ON m.key = p.pattern_data->>'memory_key' WHERE m.namespace = 'global'`,
    ['memory_entries m', 'patterns p'],
  ],
  ['SELECT 1', []],
  ['SELECT now(), version()', []],
  ['TABLE memory_entries', ['memory_entries']],
  ['SELECT * FROM memory_entries AS m', ['memory_entries m']],
  ['SELECT * FROM ONLY memory_entries', ['memory_entries']],
  ['SELECT * FROM memory_entries *', ['memory_entries']],
  // Naming forms.
  ['SELECT * FROM public.memory_entries', ['public.memory_entries']],
  ['SELECT * FROM "memory_entries"', ['memory_entries']],
  ['SELECT * FROM public."Mixed Case" mc', ['public.Mixed Case mc']],
  ['SELECT * FROM "public"."memory_entries" e', ['public.memory_entries e']],
  ['SELECT * FROM MEMORY_ENTRIES', ['memory_entries']],
  ['SELECT * FROM "Quote""d"', ['Quote"d']],
  ['SELECT * FROM tëst_ünïcode', ['tëst_ünïcode']],
  ['SELECT * FROM ONLY public.memory_entries', ['public.memory_entries']],
  // Joins.
  ['SELECT * FROM a, b, c', ['a', 'b', 'c']],
  ['SELECT * FROM a JOIN b USING (namespace) LEFT JOIN c ON c.x = b.x', ['a', 'b', 'c']],
  ['SELECT * FROM a NATURAL JOIN b', ['a', 'b']],
  ['SELECT * FROM a FULL OUTER JOIN (b CROSS JOIN c) ON true', ['a', 'b', 'c']],
  ['SELECT * FROM (a JOIN b ON a.x = b.x) AS j', ['a', 'b']],
  ['SELECT * FROM a TABLESAMPLE SYSTEM (10)', ['a']],
  // Subqueries.
  ['SELECT * FROM (SELECT * FROM memory_entries) s', ['memory_entries']],
  ['SELECT * FROM a WHERE x IN (SELECT x FROM b)', ['a', 'b']],
  ['SELECT * FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.x = a.x)', ['a', 'b']],
  ['SELECT (SELECT count(*) FROM b) FROM a', ['b', 'a']],
  ['SELECT * FROM a, LATERAL (SELECT * FROM b WHERE b.x = a.x) l', ['a', 'b']],
  ['SELECT * FROM generate_series(1, 3) g, a', ['a']],
  ['SELECT * FROM a ORDER BY (SELECT max(y) FROM b)', ['a', 'b']],
  // Set operations.
  ['SELECT x FROM a UNION SELECT x FROM b', ['a', 'b']],
  ['SELECT x FROM a UNION ALL SELECT x FROM b INTERSECT SELECT x FROM c EXCEPT SELECT x FROM d', ['a', 'b', 'c', 'd']],
  ['(SELECT x FROM a ORDER BY x LIMIT 1) UNION (SELECT x FROM b)', ['a', 'b']],
  // CTEs.
  ['WITH recent AS (SELECT * FROM memory_entries) SELECT * FROM recent', ['memory_entries']],
  ['WITH r AS (SELECT * FROM a) SELECT * FROM r JOIN b ON r.x = b.x', ['a', 'b']],
  ['WITH r AS (SELECT 1) SELECT * FROM public.r', ['public.r']], // a qualified name is never a CTE
  ['WITH a AS (SELECT * FROM a) SELECT * FROM a', ['a']], // the body's `a` is the table: a CTE does not see itself
  ['WITH x AS (SELECT * FROM y), y AS (SELECT * FROM z) SELECT * FROM x, y', ['y', 'z']], // x sees only the CTEs before it
  ['WITH RECURSIVE x AS (SELECT * FROM y), y AS (SELECT * FROM z) SELECT * FROM x', ['z']],
  [
    'WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT * FROM t, memory_entries',
    ['memory_entries'],
  ],
  ['SELECT * FROM (WITH c AS (SELECT 1) SELECT * FROM c) s, c', ['c']], // inner CTE out of scope outside
  ['WITH c AS (SELECT 1) SELECT * FROM (SELECT * FROM c) s WHERE EXISTS (SELECT 1 FROM c)', []],
  ['WITH c AS (SELECT 1) SELECT * FROM (WITH c AS (SELECT * FROM c) SELECT * FROM c) s', []],
  ['WITH c AS (SELECT * FROM a) SELECT * FROM c UNION SELECT * FROM c', ['a']],
  // INSERT.
  ["INSERT INTO memory_entries (namespace, key) VALUES ('a', 'k')", ['memory_entries [target]']],
  ["INSERT INTO public.memory_entries AS m (namespace, key) VALUES ('a', 'k')", ['public.memory_entries m [target]']],
  ['INSERT INTO patterns SELECT * FROM memory_entries WHERE namespace = $1', ['patterns [target]', 'memory_entries']],
  [
    `INSERT INTO memory_entries (namespace, key, value, embedding) VALUES ($1, $2, $3, $4::ruvector)
     ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value, embedding = EXCLUDED.embedding`,
    ['memory_entries [target]'],
  ],
  ['WITH src AS (SELECT * FROM a) INSERT INTO b SELECT * FROM src', ['a', 'b [target]']],
  ['WITH b AS (SELECT 1) INSERT INTO b VALUES (1)', ['b [target]']], // an INSERT target is never a CTE
  ['INSERT INTO a VALUES ((SELECT max(x) FROM b)) RETURNING (SELECT 1 FROM c)', ['a [target]', 'b', 'c']],
  // UPDATE.
  ["UPDATE memory_entries SET value = 'v' WHERE namespace = 'a'", ['memory_entries [target]']],
  ['UPDATE memory_entries m SET value = p.pattern_type FROM patterns p WHERE m.namespace = p.namespace', ['memory_entries m [target]', 'patterns p']],
  ['UPDATE a SET x = (SELECT y FROM b WHERE b.id = a.id)', ['a [target]', 'b']],
  ['WITH c AS (SELECT * FROM d) UPDATE a SET x = 1 FROM c WHERE a.x = c.x', ['d', 'a [target]']],
  // DELETE.
  ["DELETE FROM memory_entries WHERE namespace = 'a'", ['memory_entries [target]']],
  ['DELETE FROM memory_entries m USING patterns p WHERE m.namespace = p.namespace', ['memory_entries m [target]', 'patterns p']],
  ['DELETE FROM a WHERE x IN (SELECT x FROM b) RETURNING *', ['a [target]', 'b']],
  ['WITH gone AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM gone', ['a [target]', 'b [target]']],
  // MERGE.
  ['MERGE INTO a t USING b s ON t.id = s.id WHEN MATCHED THEN UPDATE SET x = s.x', ['a t [target]', 'b s']],
  // Other statements: relations outside FROM.
  ['SELECT * INTO new_table FROM a', ['new_table [other]', 'a']],
];

test('collectRelations over a corpus of statements', () => {
  assert.ok(CORPUS.length >= 40);
  for (const [sql, expected] of CORPUS) {
    assert.deepEqual(relationsOf(sql).described, expected, sql);
  }
});

test('FOR UPDATE OF names an alias, not a relation', () => {
  const result = relationsOf('SELECT * FROM memory_entries m JOIN patterns p USING (namespace) FOR UPDATE OF m');
  assert.deepEqual(result.described, ['memory_entries m', 'patterns p']);
  assert.equal(result.lockingClause, true);
});

test('utility statements: DDL, TRUNCATE, LOCK, COPY, EXPLAIN, CREATE TABLE AS', () => {
  assert.deepEqual(relationsOf('CREATE TABLE t (a int)').described, ['t [other]']);
  assert.deepEqual(relationsOf('CREATE INDEX i ON public.t (a)').described, ['public.t [other]']);
  assert.deepEqual(relationsOf('TRUNCATE a, b').described, ['a [other]', 'b [other]']);
  assert.deepEqual(relationsOf('LOCK TABLE a IN SHARE MODE').described, ['a [other]']);
  assert.deepEqual(relationsOf('COPY memory_entries (namespace, key) FROM STDIN').described, ['memory_entries [other]']);
  assert.deepEqual(relationsOf('EXPLAIN SELECT * FROM a JOIN b ON true').described, ['a', 'b']);
  assert.deepEqual(relationsOf('CREATE TABLE c AS WITH w AS (SELECT 1) SELECT * FROM w, a').described, ['c [other]', 'a']);
  assert.deepEqual(relationsOf('ALTER TABLE a ADD COLUMN z int REFERENCES b (id)').described, ['a [other]', 'b [other]']);
});

test('flags: subqueries, functions in FROM, set operations, CTEs, lateral, SELECT INTO, TABLESAMPLE', () => {
  const plain = relationsOf('SELECT * FROM a WHERE x = 1');
  assert.deepEqual(
    [plain.hasSubqueries, plain.functionsInFrom, plain.setOperation, plain.lockingClause, plain.hasCtes, plain.lateral, plain.selectInto, plain.tableSample],
    [false, false, false, false, false, false, false, false],
  );
  assert.equal(relationsOf('SELECT * FROM a WHERE x IN (SELECT 1)').hasSubqueries, true);
  assert.equal(relationsOf('SELECT * FROM (SELECT 1) s').hasSubqueries, true);
  assert.equal(relationsOf('SELECT * FROM a, unnest(a.tags) t').functionsInFrom, true);
  assert.equal(relationsOf("SELECT * FROM json_table('{}', '$' COLUMNS (x int)) j").functionsInFrom, true);
  assert.equal(relationsOf('SELECT 1 FROM a UNION SELECT 2').setOperation, true);
  assert.equal(relationsOf('SELECT * FROM (SELECT 1 UNION SELECT 2) s').setOperation, true);
  assert.equal(relationsOf('SELECT * FROM a FOR SHARE').lockingClause, true);
  assert.equal(relationsOf('SELECT * FROM a, LATERAL (SELECT a.x) l').lateral, true);
  assert.equal(relationsOf('SELECT * INTO b FROM a').selectInto, true);
  assert.equal(relationsOf('SELECT * FROM a TABLESAMPLE BERNOULLI (5)').tableSample, true);

  const ctes = relationsOf('WITH RECURSIVE r AS (SELECT 1), w AS (UPDATE a SET x = 1 RETURNING *) SELECT * FROM r, w');
  assert.deepEqual([...ctes.cteNames], ['r', 'w']);
  assert.deepEqual([ctes.hasCtes, ctes.recursiveCte, ctes.modifyingCte], [true, true, true]);
  assert.deepEqual(ctes.described, ['a [target]']);
});

test('locations are relative to each statement of a multi-statement string with multi-byte text', () => {
  const sql = "SELECT 'ümlaut€' FROM a;  SELECT '😀😀' AS e, x FROM public.\"Mïxed\" m, memory_entries";
  const [first, second] = parseSql(sql);
  const [a] = collectRelations(first.node).relations;
  assert.equal(first.text.slice(a.location, a.location + 1), 'a');
  const relations = collectRelations(second.node).relations;
  assert.deepEqual(
    relations.map((r) => second.text.slice(r.location, r.location + (r.schema ? 14 : r.name.length))),
    ['public."Mïxed"', 'memory_entries'],
  );
  assert.equal(second.location + relations[1].location, sql.lastIndexOf('memory_entries'));
});
