import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initParser, parseSql } from '../../../src/planner/sql-ast.ts';
import { isDeterministic } from '../../../src/planner/volatility.ts';

// Only reads whose result depends on the data alone may come from the result cache.
before(async () => {
  await initParser();
});

const deterministic = (sql: string) => isDeterministic(parseSql(sql)[0]!.node);

test('reads of data, with operators, aggregates and immutable functions, are deterministic', () => {
  assert.ok(deterministic('SELECT key, embedding <=> $1 AS d FROM memory_entries WHERE namespace = $2 ORDER BY d LIMIT 10'));
  assert.ok(deterministic("SELECT count(*), lower(namespace), coalesce(value, '') FROM memory_entries GROUP BY 2, 3"));
  assert.ok(deterministic('SELECT key FROM memory_entries WHERE 1 - (embedding <=> $1) >= 0.7'));
  assert.ok(deterministic('SELECT pg_catalog.lower(key) FROM memory_entries'));
});

test('volatile, time-dependent and unknown functions are not', () => {
  for (const sql of [
    'SELECT random(), key FROM memory_entries',
    'SELECT key FROM memory_entries WHERE created_at > now() - interval $$1 day$$',
    'SELECT key FROM memory_entries WHERE created_at > CURRENT_TIMESTAMP',
    "SELECT nextval('s'), key FROM memory_entries",
    'SELECT my_function(key) FROM memory_entries',
    'SELECT public.lower(key) FROM memory_entries',
  ]) {
    assert.equal(deterministic(sql), false, sql);
  }
});
