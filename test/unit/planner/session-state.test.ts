import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initParser, parseSql, unwrapNode } from '../../../src/planner/sql-ast.ts';
import { checkTemporaryObjects, planSessionState, sessionConfigCalls } from '../../../src/planner/session-state.ts';
import { ClientError } from '../../../src/shared/errors.ts';

// Session state a node keeps per connection cannot follow a session over pooled
// connections: refused, kept by the coordinator (set_config), or answered locally.
before(async () => {
  await initParser();
});

function parts(sql: string) {
  const statement = parseSql(sql)[0]!;
  const [kind, body] = unwrapNode(statement.node);
  return { kind, body, node: statement.node };
}

test('SQL PREPARE/EXECUTE, LISTEN, DECLARE WITH HOLD: 0A000; DEALLOCATE ALL, UNLISTEN, DISCARD: answered by the coordinator', () => {
  const plan = (sql: string) => {
    const { kind, body } = parts(sql);
    return planSessionState(kind, body);
  };
  for (const sql of ['PREPARE p AS SELECT 1', 'EXECUTE p', 'LISTEN app_events', 'DECLARE c CURSOR WITH HOLD FOR SELECT 1']) {
    const planned = plan(sql);
    assert.equal(planned?.kind === 'unsupported' && planned.error.sqlstate, '0A000', sql);
  }
  const missing = plan('DEALLOCATE p');
  assert.equal(missing?.kind === 'unsupported' && missing.error.sqlstate, '26000');
  assert.deepEqual(plan('DEALLOCATE ALL'), { kind: 'local', tag: 'DEALLOCATE ALL' });
  assert.deepEqual(plan('UNLISTEN *'), { kind: 'local', tag: 'UNLISTEN' });
  assert.deepEqual(plan('DISCARD ALL'), { kind: 'local', tag: 'DISCARD ALL' });
  assert.deepEqual(plan('DISCARD TEMP'), { kind: 'local', tag: 'DISCARD TEMP' });
  assert.equal(plan('DECLARE c CURSOR FOR SELECT 1'), null);
  assert.equal(plan('SELECT 1'), null);
});

test('temporary tables, views and sequences: 0A000', () => {
  for (const sql of ['CREATE TEMP TABLE t (x int)', 'CREATE TEMPORARY TABLE t AS SELECT 1', 'SELECT 1 INTO TEMP t', 'CREATE TEMP VIEW v AS SELECT 1', 'CREATE TEMP SEQUENCE s']) {
    assert.equal(checkTemporaryObjects(parts(sql).node)?.sqlstate, '0A000', sql);
  }
  for (const sql of ['CREATE TABLE t (x int)', 'CREATE UNLOGGED TABLE t (x int)', 'SELECT 1 INTO t', 'CREATE VIEW v AS SELECT 1']) {
    assert.equal(checkTemporaryObjects(parts(sql).node), null, sql);
  }
});

test('set_config() in a SELECT of its own is kept by the coordinator; anywhere else, and session advisory locks: 0A000', () => {
  const calls = (sql: string) => {
    const { kind, body, node } = parts(sql);
    return sessionConfigCalls(kind, body, node);
  };
  assert.deepEqual(calls("SELECT set_config('app.tenant', 't1', false)"), [{ name: { value: 'app.tenant' }, value: { value: 't1' }, local: false }]);
  assert.deepEqual(calls('SELECT pg_catalog.set_config($1, $2::text, true) AS s'), [{ name: { param: 1 }, value: { param: 2 }, local: true }]);
  assert.deepEqual(calls('SELECT key FROM memory_entries'), []);
  for (const sql of [
    "SELECT set_config('app.tenant', key, false) FROM memory_entries",
    "SELECT key FROM memory_entries WHERE set_config('app.t', 'x', false) IS NOT NULL",
    "SELECT set_config('app.t', 'x', false) WHERE false",
    "SELECT set_config('app.t', 'x', $1)",
    "SELECT upper(set_config('app.t', 'x', false))",
    'SELECT pg_advisory_lock(1)',
    'SELECT pg_try_advisory_lock(1, 2)',
    'SELECT pg_advisory_unlock_all()',
  ]) {
    const result = calls(sql);
    assert.ok(result instanceof ClientError && result.sqlstate === '0A000', sql);
  }
  assert.deepEqual(calls('SELECT pg_advisory_xact_lock(1)'), []);
});
