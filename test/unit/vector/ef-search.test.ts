import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionTransaction } from '../../../src/executor/transaction.ts';
import type { BackendConnection } from '../../../src/backend/backend-connection.ts';
import type { ExecutorHost } from '../../../src/executor/host.ts';

// hnsw.ef_search of a routed search comes from the HNSW profile (at least LIMIT),
// unless the session chose its own: what the coordinator sends a worker connection.
function connection(sent: string[]): BackendConnection {
  return {
    efSearch: null,
    localEfSearch: null,
    simpleQuery: async (sql: string) => {
      sent.push(sql);
      return { rows: [], tags: [] };
    },
  } as unknown as BackendConnection;
}

test('ef_search is set once per connection value, and not at all when the session set its own', async () => {
  const t = new SessionTransaction({} as ExecutorHost);
  const sent: string[] = [];
  const c = connection(sent);
  await t.useEfSearch(c, 60);
  await t.useEfSearch(c, 60);
  assert.deepEqual(sent, ['SET hnsw.ef_search = 60']);
  await t.useEfSearch(c, 120);
  assert.deepEqual(sent.at(-1), 'SET hnsw.ef_search = 120');
  t.recordSetting('hnsw.ef_search', 'SET hnsw.ef_search = 7', false);
  await t.useEfSearch(c, 80);
  assert.equal(sent.length, 2, "the session's own value stays");
  t.recordSetting('hnsw.ef_search', 'RESET hnsw.ef_search', true);
  await t.useEfSearch(c, 80);
  assert.equal(sent.at(-1), 'SET hnsw.ef_search = 80');
});

test('inside a transaction block it is SET LOCAL, unless the block set its own', async () => {
  const t = new SessionTransaction({} as ExecutorHost);
  const sent: string[] = [];
  const c = connection(sent);
  t.begin('BEGIN');
  await t.useEfSearch(c, 90);
  await t.useEfSearch(c, 90);
  assert.deepEqual(sent, ['SET LOCAL hnsw.ef_search = 90']);
  t.recordLocalSetting('SET LOCAL hnsw.ef_search = 5');
  await t.useEfSearch(c, 200);
  assert.equal(sent.length, 1);
});
