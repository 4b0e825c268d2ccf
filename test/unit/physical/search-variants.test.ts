import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initParser, parseSql, unwrapNode } from '../../../src/planner/sql-ast.ts';
import { SearchVariants } from '../../../src/physical/search-variants.ts';
import { searchColumn, hasOtherFilters } from '../../../src/planner/vector-search.ts';

before(async () => {
  await initParser();
});

const select = (sql: string) => unwrapNode(parseSql(sql)[0]!.node)[1];
/** The deparser lays SQL out over lines: compare on single spaces. */
const flat = (sql: string) => sql.replace(/\s+/g, ' ').replace(/\( /g, '(').replace(/ \)/g, ')');

test('searchColumn finds the ranked vector column directly, through an alias and through a position', () => {
  assert.deepEqual(searchColumn(select('SELECT key FROM t WHERE namespace = $1 ORDER BY embedding <=> $2 LIMIT 10')), { qualifier: null, column: 'embedding', operator: '<=>' });
  assert.deepEqual(searchColumn(select('SELECT key, m.embedding <-> $2 AS d FROM t m ORDER BY d LIMIT 10')), { qualifier: 'm', column: 'embedding', operator: '<->' });
  assert.deepEqual(searchColumn(select('SELECT key, embedding <#> $2 FROM t ORDER BY 2 LIMIT 10')), { qualifier: null, column: 'embedding', operator: '<#>' });
  assert.equal(searchColumn(select('SELECT key FROM t ORDER BY key LIMIT 10')), null);
  // Not the first ORDER BY item: no index could serve it anyway.
  assert.equal(searchColumn(select('SELECT key FROM t ORDER BY key, embedding <=> $1 LIMIT 10')), null);
  assert.equal(searchColumn(select('SELECT key FROM t ORDER BY 1 - (embedding <=> $1) DESC LIMIT 10')), null);
});

test('the exact form sorts by distance * 1, wherever the ORDER BY item lives', () => {
  const direct = new SearchVariants('SELECT key FROM __dpg_rel_0__ AS t WHERE namespace = $1 ORDER BY embedding <=> $2 LIMIT 10', 't', 'namespace');
  assert.match(flat(direct.exact), /ORDER BY \(?\(?embedding <=> \$2\)? \* 1\)?/);
  assert.match(flat(direct.exact), /LIMIT 10/);
  const aliased = new SearchVariants('SELECT key, embedding <=> $2 AS d FROM __dpg_rel_0__ AS t WHERE namespace = $1 ORDER BY d LIMIT 10', 't', 'namespace');
  assert.match(flat(aliased.exact), /\(embedding <=> \$2\) \* 1 AS d/);
  const position = new SearchVariants('SELECT key, embedding <=> $2 FROM __dpg_rel_0__ AS t WHERE namespace = $1 ORDER BY 2 LIMIT 10', 't', 'namespace');
  assert.match(flat(position.exact), /\(embedding <=> \$2\) \* 1/);
});

test('a pinned form adds the namespace as a literal, quotes included, to any WHERE', () => {
  const forms = new SearchVariants('SELECT key FROM __dpg_rel_0__ AS m WHERE namespace = $1 AND key <> $3 ORDER BY embedding <=> $2 LIMIT 10', 'm', 'namespace');
  const pinned = forms.form("it's", false);
  assert.match(flat(pinned), /m\.namespace = 'it''s'/);
  assert.match(flat(pinned), /namespace = \$1 AND key <> \$3 AND m\.namespace = 'it''s'/);
  assert.match(flat(forms.form('a', true)), /\* 1/);
  const noWhere = new SearchVariants('SELECT key FROM __dpg_rel_0__ AS m ORDER BY embedding <=> $1 LIMIT 5', 'm', 'namespace');
  assert.match(flat(noWhere.form('x', false)), /WHERE m\.namespace = 'x'/);
  const orWhere = new SearchVariants('SELECT key FROM __dpg_rel_0__ AS m WHERE namespace = $1 OR namespace = $3 ORDER BY embedding <=> $2 LIMIT 5', 'm', 'namespace');
  assert.match(flat(orWhere.form('x', false)), /WHERE \(namespace = \$1 OR namespace = \$3\) AND m\.namespace = 'x'/);
});

test('a parameter LIMIT is scaled by the candidate factor; the merge placeholder is left for the executor', () => {
  const param = new SearchVariants('SELECT key FROM __dpg_rel_0__ AS m WHERE namespace = ANY($1) ORDER BY embedding <=> $2 LIMIT $3::int8', 'm', 'namespace', { limitFactor: 2 });
  assert.match(flat(param.exact), /LIMIT ceil\(CAST\(\$3 AS int8\) \* 2\)/);
  const placeholder = new SearchVariants('SELECT key FROM __dpg_rel_0__ AS m WHERE namespace = ANY($1) ORDER BY embedding <=> $2 LIMIT __dpg_limit__', 'm', 'namespace', { limitFactor: 2 });
  assert.match(flat(placeholder.exact), /LIMIT __dpg_limit__/);
});

test('conditions besides the namespace and a distance threshold are told apart (they make a search exact)', () => {
  const other = (where: string) => hasOtherFilters(select(`SELECT key FROM t WHERE ${where} ORDER BY embedding <=> $2 LIMIT 10`), 'namespace');
  assert.equal(other('namespace = $1'), false);
  assert.equal(other('t.namespace = ANY($1)'), false);
  assert.equal(other("namespace IN ('a', 'b')"), false);
  assert.equal(other('namespace = $1 AND 1 - (embedding <=> $2) >= 0.7'), false);
  assert.equal(other('namespace = $1 AND (embedding <=> $2::vector) < $3'), false);
  assert.equal(other("namespace = $1 AND metadata->>'type' = 'x'"), true);
  assert.equal(other('namespace = $1 AND key <> $3'), true);
  assert.equal(other('namespace = $1 OR namespace = $3'), true);
});
