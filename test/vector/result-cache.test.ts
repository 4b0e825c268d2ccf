import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import { runDpg } from '../support/dpg-cli.ts';
import { readProcessRecord, isAlive } from '../../src/cluster/processes.ts';
import { REDIS_PROCESS, redisDir } from '../../src/cluster/redis.ts';
import { connect } from 'node:net';
import { join } from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { seededGaussian, normalize, vectorLiteral } from '../../src/util/vectors.ts';

// The seed's result cache in Redis (dpg starts its own): a repeated read is answered
// from it; a write acknowledged to a client invalidates what it could change, so no
// read after it returns a result from before it; Redis stopped, frozen or restarted
// empty never fails a query and never serves a stale result.
let cluster: TestCluster;
let client: pg.Client;
const gaussian = seededGaussian(11);
const vector = () => vectorLiteral(normalize(Float64Array.from({ length: 384 }, gaussian)));
const q = vector();

async function cacheCount(result: 'hit' | 'miss' | 'bypass' | 'error'): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${cluster.layout.metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`dpg_result_cache_requests_total{result="${result}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function keys(namespace: string): Promise<string[]> {
  const result = await client.query<{ key: string }>('SELECT key FROM memory_entries WHERE namespace = $1 ORDER BY embedding <=> $2::vector LIMIT 50', [namespace, q]);
  return result.rows.map((r) => r.key).sort();
}

async function insert(c: pg.Client, namespace: string, key: string): Promise<void> {
  await c.query('INSERT INTO memory_entries (namespace, key, value, embedding) VALUES ($1, $2, $3, $4::vector)', [namespace, key, `value of ${key}`, vector()]);
}

function redisPid(): number {
  const record = readProcessRecord(cluster.layout.runDir, REDIS_PROCESS);
  assert.ok(record && isAlive(record.pid, record.marker), 'dpg runs its Redis');
  return record.pid;
}

before(async () => {
  cluster = await startTestCluster({ basePort: 22432, shardCount: 4, extraConfig: ['cache: { enabled: true, ttl_seconds: 300 }'] });
  client = new pg.Client(cluster.url);
  await client.connect();
  for (const ns of ['cache/a', 'cache/b']) for (let i = 0; i < 5; i++) await insert(client, ns, `${ns}-${i}`);
});

after(async () => {
  await client?.end().catch(() => {});
  await cluster?.stop();
});

test('a repeated read is answered from the cache, with the same rows', async () => {
  const first = await keys('cache/a');
  const hits = await cacheCount('hit');
  assert.deepEqual(await keys('cache/a'), first);
  assert.deepEqual(await keys('cache/a'), first);
  assert.equal(await cacheCount('hit'), hits + 2);
  // Text and binary results are cached apart: the same statement in another format is a miss first.
  const simple = await client.query("SELECT key FROM memory_entries WHERE namespace = 'cache/a' ORDER BY key");
  assert.equal(simple.rows.length, 5);
});

test('INSERT, UPDATE and DELETE acknowledged to a client are seen by every later read', async () => {
  const other = new pg.Client(cluster.url);
  await other.connect();
  try {
    await keys('cache/a');
    await insert(other, 'cache/a', 'cache/a-new');
    assert.ok((await keys('cache/a')).includes('cache/a-new'), 'the insert is seen');
    const value = () => client.query("SELECT value FROM memory_entries WHERE namespace = 'cache/a' AND key = 'cache/a-new'").then((r) => r.rows[0]?.value);
    assert.equal(await value(), 'value of cache/a-new');
    await other.query("UPDATE memory_entries SET value = 'changed' WHERE namespace = 'cache/a' AND key = 'cache/a-new'");
    assert.equal(await value(), 'changed');
    // A write without a namespace filter (every shard) invalidates every namespace.
    await other.query("UPDATE memory_entries SET value = 'changed again' WHERE key = 'cache/a-new'");
    assert.equal(await value(), 'changed again');
    await other.query("DELETE FROM memory_entries WHERE namespace = 'cache/a' AND key = 'cache/a-new'");
    assert.ok(!(await keys('cache/a')).includes('cache/a-new'), 'the delete is seen');
    // INSERT ... SELECT: its namespaces are known only after its SELECT, so the table's cached reads go.
    await other.query(`INSERT INTO memory_entries (namespace, key, value, embedding) SELECT 'cache/a', key || '-copied', value, embedding FROM memory_entries WHERE namespace = 'cache/b'`);
    assert.equal((await keys('cache/a')).filter((k) => k.endsWith('-copied')).length, 5, 'the INSERT ... SELECT is seen');
    await other.query(`DELETE FROM memory_entries WHERE namespace = 'cache/a' AND key LIKE '%-copied'`);
    // In a block: invisible until COMMIT, then seen at once.
    await other.query('BEGIN');
    await insert(other, 'cache/a', 'cache/a-block');
    assert.ok(!(await keys('cache/a')).includes('cache/a-block'));
    await other.query('COMMIT');
    assert.ok((await keys('cache/a')).includes('cache/a-block'));
    // A rolled back block changes nothing.
    await other.query('BEGIN');
    await insert(other, 'cache/a', 'cache/a-rolled-back');
    await other.query('ROLLBACK');
    assert.ok(!(await keys('cache/a')).includes('cache/a-rolled-back'));
  } finally {
    await other.end();
  }
});

test("a write to one namespace leaves other namespaces' cached results in place", async () => {
  await keys('cache/b');
  const hits = await cacheCount('hit');
  await insert(client, 'cache/a', 'cache/a-unrelated');
  await keys('cache/b');
  assert.equal(await cacheCount('hit'), hits + 1);
});

test('volatile reads are not cached', async () => {
  const a = await client.query("SELECT random() AS r, key FROM memory_entries WHERE namespace = 'cache/b' LIMIT 1");
  const b = await client.query("SELECT random() AS r, key FROM memory_entries WHERE namespace = 'cache/b' LIMIT 1");
  assert.notEqual(a.rows[0].r, b.rows[0].r);
});

test('Redis frozen: queries still answer and writes are still seen; the cache comes back after', async () => {
  await keys('cache/b');
  const pid = redisPid();
  process.kill(pid, 'SIGSTOP');
  try {
    const started = Date.now();
    assert.equal((await keys('cache/b')).length, 5);
    await insert(client, 'cache/b', 'cache/b-frozen');
    assert.ok((await keys('cache/b')).includes('cache/b-frozen'));
    assert.ok(Date.now() - started < 5000, 'a frozen Redis delays a statement by a bounded time only');
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  // Back in use, and not stale.
  const deadline = Date.now() + 10_000;
  const hits = await cacheCount('hit');
  while (Date.now() < deadline && (await cacheCount('hit')) === hits) {
    assert.ok((await keys('cache/b')).includes('cache/b-frozen'));
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok((await cacheCount('hit')) > hits, 'the cache answers again');
  assert.ok((await keys('cache/b')).includes('cache/b-frozen'));
});

test('Redis killed and restarted empty: no query fails, no stale result', async () => {
  await keys('cache/b');
  process.kill(redisPid(), 'SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await keys('cache/a')).length > 0, true);
  await insert(client, 'cache/b', 'cache/b-while-down');
  assert.ok((await keys('cache/b')).includes('cache/b-while-down'));
  const up = await runDpg(['up', '--config', cluster.configFile], { cwd: cluster.dir });
  assert.equal(up.code, 0, up.stderr);
  redisPid();
  for (let i = 0; i < 20; i++) {
    assert.ok((await keys('cache/b')).includes('cache/b-while-down'));
    await new Promise((r) => setTimeout(r, 100));
  }
});

test("dpg's Redis asks for a password: a client without it gets NOAUTH; the password is in files of mode 0600, not on any command line", async () => {
  const pid = redisPid();
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(cluster.layout.redisPort, '127.0.0.1', () => socket.write('*2\r\n$3\r\nGET\r\n$1\r\nx\r\n'));
    socket.once('data', (data) => {
      resolve(data.toString());
      socket.destroy();
    });
    socket.once('error', reject);
  });
  assert.match(answer, /^-NOAUTH/);
  const password = cluster.secrets.redisPassword;
  assert.ok(password.length >= 16);
  for (const file of [cluster.layout.secretsFile, join(redisDir(cluster.layout), 'redis.conf')]) assert.equal(statSync(file).mode & 0o777, 0o600, file);
  const commandLines = [pid, readProcessRecord(cluster.layout.runDir, 'coordinator-1')!.pid].map((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8'));
  for (const line of commandLines) assert.ok(!line.includes(password), `the password is not on the command line ${line.replace(/\0/g, ' ')}`);
  // The coordinator still reads and writes through the cache with it.
  const hits = await cacheCount('hit');
  await keys('cache/b');
  await keys('cache/b');
  assert.ok((await cacheCount('hit')) > hits, 'the coordinator authenticates to Redis');
});
