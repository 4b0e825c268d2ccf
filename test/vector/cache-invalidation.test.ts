import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';

// A write whose result-cache invalidation cannot reach Redis is not acknowledged as if
// every coordinator would see it: the others are told through the control group to
// bypass their caches, or the client gets 58000 saying so. Two coordinators, each
// reached directly; the failure is injected into one session's writes
// (DPG_FAULT_INJECTION=1, SET dpg.fault_injection).
let cluster: TestCluster;
const clients: pg.Client[] = [];

async function coordinatorClient(index: number): Promise<pg.Client> {
  const url = new URL(cluster.url);
  url.port = String(cluster.layout.coordinators[index]!.port);
  const client = new pg.Client(url.toString());
  await client.connect();
  clients.push(client);
  return client;
}

async function cacheHits(index: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${cluster.layout.coordinators[index]!.metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('dpg_result_cache_requests_total{result="hit"}'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

before(async () => {
  process.env.DPG_FAULT_INJECTION = '1';
  cluster = await startTestCluster({ basePort: 4432, workerGroups: 1, shardCount: 2, extraConfig: ['cache: { enabled: true, ttl_seconds: 300 }', 'coordinator: { instances: 2 }'] });
});

after(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => {})));
  await cluster?.stop();
});

const READ = "SELECT value FROM memory_entries WHERE namespace = 'invalidation-ns' AND key = 'k'";

test('a write whose invalidation fails on its coordinator: the other coordinator stops answering from its cache before the write is acknowledged', async () => {
  const writer = await coordinatorClient(0);
  const reader = await coordinatorClient(1);
  await writer.query("INSERT INTO memory_entries (namespace, key, value, embedding) VALUES ('invalidation-ns', 'k', 'old', array_fill(0.1, ARRAY[384])::real[]::vector)");
  assert.equal((await reader.query(READ)).rows[0].value, 'old');
  const hits = await cacheHits(1);
  assert.equal((await reader.query(READ)).rows[0].value, 'old');
  assert.equal(await cacheHits(1), hits + 1, 'the second coordinator answers the read from its cache');
  await writer.query("SET dpg.fault_injection = 'cache-invalidate'");
  await writer.query("UPDATE memory_entries SET value = 'new' WHERE namespace = 'invalidation-ns' AND key = 'k'");
  // The writer cannot reach Redis for 3 s (injected), so it cannot bump the epoch either.
  // The NOTIFY reaches the other coordinator right after the write's acknowledgement: a
  // read that starts once the notification is in (a few ms) sees the write.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await reader.query(READ)).rows[0].value, 'new', 'no stale row from the other coordinator');
  assert.equal((await reader.query(READ)).rows[0].value, 'new');
  assert.equal((await writer.query(READ)).rows[0].value, 'new');
});

test('a write whose invalidation fails and whose notice to the other coordinators fails too gets 58000 saying it was committed', async () => {
  const writer = await coordinatorClient(0);
  await writer.query("SET dpg.fault_injection = 'cache-invalidate cache-notify'");
  await assert.rejects(writer.query("UPDATE memory_entries SET value = 'newer' WHERE namespace = 'invalidation-ns' AND key = 'k'"), (error: { code?: string; message: string }) => error.code === '58000' && /the write was committed/.test(error.message));
  await writer.query('RESET dpg.fault_injection');
  assert.equal((await writer.query(READ)).rows[0].value, 'newer', 'the write is there, as the message says');
});
