import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initParser, parseSql, unwrapNode } from '../../../src/planner/sql-ast.ts';
import { collectRelations } from '../../../src/planner/relations.ts';
import {
  analyzeShardKey,
  joinConditions,
  parseArrayLiteral,
  resolveKeyValues,
  type KeyRelation,
  type KeyValue,
} from '../../../src/planner/shard-key.ts';

before(async () => {
  await initParser();
});

const DISTRIBUTION_COLUMNS: Record<string, string | null> = {
  memory_entries: 'namespace',
  patterns: 'namespace',
  pattern_history: 'namespace',
  trajectories: 'namespace',
  graph_nodes: 'namespace',
  graph_edges: 'namespace',
  metadata: null,
  vector_indexes: null,
  sessions: null,
};

const c = (value: string | null): KeyValue => ({ kind: 'const', value });
const p = (index: number): KeyValue => ({ kind: 'param', index });
const pa = (index: number): KeyValue => ({ kind: 'param-array', index });
const ca = (values: (string | null)[]): KeyValue => ({ kind: 'const-array', values });

/** Analyses the top query level of a SELECT, UPDATE or DELETE the way the router does. */
function analyze(sql: string) {
  const [statement] = parseSql(sql);
  const [type, body] = unwrapNode(statement.node);
  const level = collectRelations({ [type!]: { ...body, whereClause: undefined } }).relations.filter((r) => r.inFrom || r.isTarget);
  const relations: KeyRelation[] = level.map((r) => ({ ref: r.alias ?? r.name, distributionColumn: DISTRIBUTION_COLUMNS[r.name] ?? null }));
  const fromClause = type === 'DeleteStmt' ? body.usingClause : body.fromClause;
  const joins = joinConditions(fromClause, relations);
  const result = analyzeShardKey(
    body.whereClause,
    joins.innerQuals,
    relations.map((r) => ({ ...r, nullable: joins.nullableRefs.has(r.ref) })),
    { outerJoinQuals: joins.outerQuals },
  );
  return { byRelation: Object.fromEntries(result.byRelation), joinedOnKey: result.joinedOnKey };
}

/** WHERE clauses over `memory_entries` alone and the restriction of its namespace. */
const SINGLE_TABLE: [string, KeyValue[] | null][] = [
  // The seed's queries.
  ['namespace = $2 AND (1 - (embedding <=> $1::ruvector)) >= $3', [p(2)]],
  ['namespace = $2 AND (1 - (embedding <=> $1::ruvector)) >= 0.7', [p(2)]],
  ['namespace = ANY($2)', [pa(2)]],
  // Equality with constants and parameters, either side, casts to text.
  ["namespace = 'auth-patterns'", [c('auth-patterns')]],
  ["'a' = namespace", [c('a')]],
  ['namespace = $1::text', [p(1)]],
  ['namespace = $1::varchar', [p(1)]],
  ['namespace = $1::character varying', [p(1)]],
  ['namespace = CAST($1 AS pg_catalog.text)', [p(1)]],
  ["namespace::text = 'a'", [c('a')]],
  ["namespace = 'a'::text", [c('a')]],
  ["namespace = text 'a'", [c('a')]],
  ['(namespace) = ($1)', [p(1)]],
  ["memory_entries.namespace = 'a'", [c('a')]],
  ["public.memory_entries.namespace = 'a'", [c('a')]],
  ["namespace operator(pg_catalog.=) 'a'", [c('a')]],
  ["namespace = 'a' COLLATE \"C\"", [c('a')]],
  ["namespace IS NOT DISTINCT FROM 'a'", [c('a')]],
  // Constant forms.
  ['namespace = 42', [c('42')]],
  ['namespace = 0', [c('0')]],
  ['namespace = 1.5', [c('1.5')]],
  ['namespace = true', [c('true')]],
  ['namespace = false', [c('false')]],
  ["namespace = E'a\\tb'", [c('a\tb')]],
  ["namespace = U&'d\\0061t\\+000061'", [c('data')]],
  ['namespace = $$dollar$$', [c('dollar')]],
  ["namespace = ''", [c('')]],
  // Lists and arrays.
  ["namespace IN ('a', 'b')", [c('a'), c('b')]],
  ['namespace IN ($1, $2)', [p(1), p(2)]],
  ["namespace = ANY('{a,b}')", [ca(['a', 'b'])]],
  ["namespace = ANY('{a,\"b c\"}'::text[])", [ca(['a', 'b c'])]],
  ["namespace = ANY('{{a,b},{c,d}}')", [ca(['a', 'b', 'c', 'd'])]],
  ["namespace = ANY(ARRAY['a', 'b'])", [c('a'), c('b')]],
  ["namespace = ANY(ARRAY[$1, 'b'])", [p(1), c('b')]],
  ['namespace = ANY($2::text[])', [pa(2)]],
  ['namespace = SOME($2::varchar[])', [pa(2)]],
  ['namespace = ANY(NULL::text[])', []],
  // NULL.
  ['namespace IS NULL', [c(null)]],
  ['namespace = NULL', [c(null)]],
  ['namespace IS NOT DISTINCT FROM NULL', [c(null)]],
  // AND: intersect constants, otherwise keep the most specific.
  ["namespace = 'a' AND namespace = 'b'", []],
  ["namespace = 'a' AND namespace IN ('a', 'b')", [c('a')]],
  ["namespace IN ('a', 'b', 'c') AND namespace = ANY('{c,b}')", [c('b'), c('c')]],
  ["namespace = $1 AND namespace IN ('a', 'b', 'c')", [p(1)]],
  ["namespace = ANY($1) AND namespace = 'x'", [c('x')]],
  ['namespace = ANY($1) AND namespace IN ($2, $3)', [p(2), p(3)]],
  ["key = 'k' AND (value = 'v' AND namespace = $4)", [p(4)]],
  // OR: only when every branch restricts the column.
  ["namespace = 'a' OR namespace = 'b'", [c('a'), c('b')]],
  ["(namespace = 'a' AND key = 'k') OR namespace = $1", [c('a'), p(1)]],
  ["namespace = 'a' OR namespace = 'a'", [c('a')]],
  ["(namespace = 'a' OR namespace = 'b') AND namespace IN ('b', 'c')", [c('b')]],
  // Row comparisons.
  ["(namespace, key) = ('a', 'k')", [c('a')]],
  ["(namespace, key) IN (('a', 'k'), ('b', 'j'))", [c('a'), c('b')]],
  // Not a restriction.
  ["namespace = 'a' OR key = 'k'", null],
  ["namespace <> 'a'", null],
  ["namespace != 'a'", null],
  ["namespace LIKE 'a%'", null],
  ["namespace > 'a'", null],
  ["namespace BETWEEN 'a' AND 'b'", null],
  ["lower(namespace) = 'a'", null],
  ["NOT namespace = 'a'", null],
  ["namespace NOT IN ('a')", null],
  ['namespace <> ALL($1)', null],
  ["namespace IS DISTINCT FROM 'a'", null],
  ['namespace IS NOT NULL', null],
  ["namespace = 'abcdef'::varchar(3)", null], // the length truncates the value
  ['namespace = $1::int', null],
  ["namespace = 'a' || 'b'", null],
  ["namespace = (SELECT 'a')", null],
  ["namespace IN (SELECT namespace FROM patterns WHERE namespace = 'a')", null], // a subquery is its own scope
  ["EXISTS (SELECT 1 FROM patterns WHERE namespace = 'a')", null],
  ['namespace = key', null],
  ["namespace = 'a' COLLATE \"und-x-icu\"", null], // a nondeterministic collation may equate other strings
  ["namespace IN ('a', lower('B'))", null],
  ["namespace = ANY(ARRAY['a', lower('B')])", null],
  ["namespace = ANY('not an array')", null],
  ['namespace = ANY($1::int[])', null],
  ["(namespace, key) IS NOT DISTINCT FROM ('a', 'k')", null],
  ["memory_entries.key = 'a'", null],
  ["other.namespace = 'a'", null], // an outer query's relation
  ['true', null],
];

test('WHERE forms over one distributed table', () => {
  assert.ok(SINGLE_TABLE.length >= 40);
  for (const [where, expected] of SINGLE_TABLE) {
    const { byRelation, joinedOnKey } = analyze(`SELECT * FROM memory_entries WHERE ${where}`);
    assert.deepEqual(byRelation, { memory_entries: expected }, where);
    assert.deepEqual(joinedOnKey, [], where);
  }
  assert.deepEqual(analyze('SELECT * FROM memory_entries').byRelation, { memory_entries: null });
});

test("the seed's co-located join restricts both sides and joins them on the key", () => {
  const result = analyze(`SELECT m.*, p.pattern_type, p.confidence
FROM memory_entries m
JOIN patterns p ON m.namespace = p.namespace
WHERE m.namespace = 'auth-patterns'`);
  assert.deepEqual(result.byRelation, { m: [c('auth-patterns')], p: [c('auth-patterns')] });
  assert.deepEqual(result.joinedOnKey, [['m', 'p']]);
});

test("the seed's cross-shard join: not joined on the key, patterns unrestricted", () => {
  const result = analyze(`SELECT m.*, p.pattern_type
FROM memory_entries m
JOIN patterns p ON m.key = p.pattern_data->>'memory_key'
WHERE m.namespace = 'global'`);
  assert.deepEqual(result.byRelation, { m: [c('global')], p: null });
  assert.deepEqual(result.joinedOnKey, []);
});

test('joins: equalities in WHERE, transitivity, USING, restriction from the other side', () => {
  assert.deepEqual(analyze("SELECT * FROM memory_entries m, patterns p WHERE m.namespace = p.namespace AND p.namespace = 'x'"), {
    byRelation: { m: [c('x')], p: [c('x')] },
    joinedOnKey: [['m', 'p']],
  });
  assert.deepEqual(
    analyze(
      'SELECT * FROM memory_entries m JOIN patterns p ON m.namespace = p.namespace JOIN trajectories t ON p.namespace = t.namespace WHERE t.namespace = $1',
    ),
    { byRelation: { m: [p(1)], p: [p(1)], t: [p(1)] }, joinedOnKey: [['m', 'p', 't']] },
  );
  assert.deepEqual(analyze("SELECT * FROM memory_entries m JOIN patterns p USING (namespace) WHERE m.namespace = 'x'"), {
    byRelation: { m: [c('x')], p: [c('x')] },
    joinedOnKey: [['m', 'p']],
  });
  assert.deepEqual(
    analyze("SELECT * FROM memory_entries m JOIN patterns p ON m.namespace = p.namespace WHERE m.namespace IN ('a', 'b') AND p.namespace IN ('b', 'c')"),
    { byRelation: { m: [c('b')], p: [c('b')] }, joinedOnKey: [['m', 'p']] },
  );
  assert.deepEqual(analyze("SELECT * FROM memory_entries m JOIN patterns p ON m.namespace = p.namespace AND p.namespace = 'y'"), {
    byRelation: { m: [c('y')], p: [c('y')] },
    joinedOnKey: [['m', 'p']],
  });
  // Two independent groups.
  assert.deepEqual(
    analyze(
      'SELECT * FROM memory_entries m, patterns p, trajectories t, graph_nodes g WHERE m.namespace = p.namespace AND t.namespace = g.namespace AND g.namespace = $1',
    ),
    { byRelation: { m: null, p: null, t: [p(1)], g: [p(1)] }, joinedOnKey: [['m', 'p'], ['t', 'g']] },
  );
  // A self-equality is no join.
  assert.deepEqual(analyze('SELECT * FROM memory_entries m WHERE m.namespace = m.namespace').joinedOnKey, []);
});

test('unqualified columns: resolved only when one relation has that distribution column', () => {
  // Two relations distributed on namespace: `namespace` alone is ambiguous.
  assert.deepEqual(analyze("SELECT * FROM memory_entries m JOIN patterns p ON m.id = p.id WHERE namespace = 'a'").byRelation, {
    m: null,
    p: null,
  });
  // A reference table has no distribution column.
  assert.deepEqual(analyze("SELECT * FROM memory_entries m, metadata md WHERE namespace = 'a'").byRelation, {
    m: [c('a')],
    md: null,
  });
  // Once aliased, the table name no longer qualifies.
  assert.deepEqual(analyze("SELECT * FROM memory_entries m WHERE memory_entries.namespace = 'a'").byRelation, { m: null });
});

test('outer joins: co-located, but nothing spreads to or from the nullable side', () => {
  assert.deepEqual(analyze("SELECT * FROM memory_entries m LEFT JOIN patterns p ON m.namespace = p.namespace WHERE m.namespace = 'x'"), {
    byRelation: { m: [c('x')], p: null },
    joinedOnKey: [['m', 'p']],
  });
  // The anti-join: p.namespace IS NULL holds for null-extended rows, not rows of p's shard "NULL".
  assert.deepEqual(
    analyze('SELECT * FROM memory_entries m LEFT JOIN patterns p ON m.namespace = p.namespace AND m.id = p.id WHERE p.namespace IS NULL').byRelation,
    { m: null, p: null },
  );
  assert.deepEqual(
    analyze("SELECT * FROM memory_entries m RIGHT JOIN patterns p ON m.namespace = p.namespace AND m.namespace = 'x'").byRelation,
    { m: null, p: null },
  );
  assert.deepEqual(analyze("SELECT * FROM memory_entries m FULL JOIN patterns p USING (namespace) WHERE p.namespace = 'x'"), {
    byRelation: { m: null, p: [c('x')] },
    joinedOnKey: [['m', 'p']],
  });
});

test('UPDATE and DELETE ... USING', () => {
  assert.deepEqual(analyze("UPDATE memory_entries SET value = 'v' WHERE namespace = $3").byRelation, { memory_entries: [p(3)] });
  assert.deepEqual(
    analyze("DELETE FROM memory_entries m USING patterns p WHERE m.namespace = p.namespace AND p.namespace = 'x'"),
    { byRelation: { m: [c('x')], p: [c('x')] }, joinedOnKey: [['m', 'p']] },
  );
  assert.deepEqual(
    analyze('UPDATE memory_entries m SET value = p.pattern_type FROM patterns p WHERE m.namespace = p.namespace').byRelation,
    { m: null, p: null },
  );
});

test('analyzeShardKey with explicit relations and no WHERE', () => {
  const result = analyzeShardKey(undefined, [], [
    { ref: 'm', distributionColumn: 'namespace' },
    { ref: 's', distributionColumn: null },
  ]);
  assert.deepEqual(Object.fromEntries(result.byRelation), { m: null, s: null });
  assert.deepEqual(result.joinedOnKey, []);
});

test('resolveKeyValues substitutes parameters', () => {
  assert.deepEqual(resolveKeyValues([c('a')], []), ['a']);
  assert.deepEqual(resolveKeyValues([p(2)], ['x', 'ns']), ['ns']);
  assert.deepEqual(resolveKeyValues([p(1), c('b'), p(2)], ['a', 'a']), ['a', 'b']);
  assert.deepEqual(resolveKeyValues([p(1)], [null]), [null]);
  assert.equal(resolveKeyValues([p(3)], ['a', 'b']), 'unknown');
  assert.deepEqual(resolveKeyValues([ca(['a', null, 'a'])], []), ['a', null]);
  assert.deepEqual(resolveKeyValues([], ['a']), []);
});

test('resolveKeyValues parses array parameters in text format', () => {
  assert.deepEqual(resolveKeyValues([pa(1)], ['{a,b}']), ['a', 'b']);
  assert.deepEqual(resolveKeyValues([pa(1)], ['{"c d",NULL,"NULL",null}']), ['c d', null, 'NULL']);
  assert.deepEqual(resolveKeyValues([pa(1)], ['{"a\\"b","c\\\\d",e\\,f}']), ['a"b', 'c\\d', 'e,f']);
  assert.deepEqual(resolveKeyValues([pa(1)], ['{}']), []);
  assert.deepEqual(resolveKeyValues([pa(1)], [null]), []); // = ANY(NULL) is never true
  assert.deepEqual(resolveKeyValues([pa(2), c('z')], ['x', '{ünï,"😀"}']), ['ünï', '😀', 'z']);
  assert.equal(resolveKeyValues([pa(1)], []), 'unknown');
  assert.equal(resolveKeyValues([pa(1)], ['{a']), 'unknown');
  assert.equal(resolveKeyValues([pa(1)], ['a,b']), 'unknown');
});

test('parseArrayLiteral follows array_in', () => {
  const cases: [string, (string | null)[] | null][] = [
    ['{a,b}', ['a', 'b']],
    ['  { a , b c ,"  d " }  ', ['a', 'b c', '  d ']],
    ['{""}', ['']],
    ['{"",x}', ['', 'x']],
    ['{NULL}', [null]],
    ['{ null }', [null]],
    ['{"NULL"}', ['NULL']],
    ['{\\NULL}', ['NULL']],
    ['{NULLx}', ['NULLx']],
    ['{a\\ }', ['a ']],
    ['{a\\,b}', ['a,b']],
    ['{"a,b","{c}"}', ['a,b', '{c}']],
    ['{"back\\\\slash","quo\\"te"}', ['back\\slash', 'quo"te']],
    ['{{a,b},{c,d}}', ['a', 'b', 'c', 'd']],
    ['{ { a } , { b } }', ['a', 'b']],
    ['[1:2]={x,y}', ['x', 'y']],
    ['{}', []],
    ['{ }', []],
    ['{ünï,😀}', ['ünï', '😀']],
    ['', null],
    ['{', null],
    ['{a', null],
    ['{a}b', null],
    ['{,}', null],
    ['{a,}', null],
    ['{a"b}', null],
    ['{"a}', null],
    ['a', null],
    // Sub-arrays must match in size and depth (multidimensional arrays are rectangular).
    ['{{a},b}', null],
    ['{a,{b}}', null],
    ['{{a,b},{c}}', null],
    ['{{}}', null],
    ['{{{a}},{b}}', null],
    ['{{{a,b}},{{c,d}}}', ['a', 'b', 'c', 'd']],
  ];
  for (const [literal, expected] of cases) assert.deepEqual(parseArrayLiteral(literal), expected, literal);
});
