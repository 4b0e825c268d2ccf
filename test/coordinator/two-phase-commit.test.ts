import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestCluster, assertConsistent, type TestCluster } from '../support/test-cluster.ts';
import { runDpg } from '../support/dpg-cli.ts';
import { shardIndexForValue } from '../../src/topology/shard-ranges.ts';
import { connectNode, withClient } from '../../src/cluster/connect.ts';
import { waitFor } from '../../src/cluster/processes.ts';

// A coordinator killed in the middle of a two-phase commit must leave no
// half-committed transaction: the recovery loop of the restarted coordinator
// rolls back what was only prepared, and commits what has a commit record.
const SHARDS = 6;
let cluster: TestCluster;

/** Two namespaces whose shards live on different worker groups (shard i is on group 1 + i mod 2). */
function namespacesOnBothGroups(prefix: string): [string, string] {
  let even: string | null = null;
  let odd: string | null = null;
  for (let i = 0; !even || !odd; i++) {
    const ns = `${prefix}-${i}`;
    if (shardIndexForValue(ns, SHARDS) % 2 === 0) even ??= ns;
    else odd ??= ns;
  }
  return [even, odd];
}

async function preparedCount(): Promise<number> {
  let total = 0;
  for (const group of cluster.layout.groups) {
    total += await withClient(await connectNode(group.nodes[0]!, cluster.secrets, 'postgres'), async (c) =>
      Number((await c.query("SELECT count(*) AS n FROM pg_prepared_xacts WHERE gid LIKE 'dpg\\_%'")).rows[0].n),
    );
  }
  return total;
}

async function rowsIn(namespaces: string[]): Promise<number> {
  const client = new pg.Client(cluster.url);
  await client.connect();
  try {
    return Number((await client.query('SELECT count(*) AS n FROM memory_entries WHERE namespace = ANY($1)', [namespaces])).rows[0].n);
  } finally {
    await client.end();
  }
}

/** Runs a two-group transaction with a fault point set; the coordinator dies at COMMIT. */
async function commitWithCrash(point: string, namespaces: [string, string]): Promise<void> {
  const client = new pg.Client(cluster.url);
  client.on('error', () => {});
  await client.connect();
  await client.query(`SET dpg.fault_injection = '${point}'`);
  await client.query('BEGIN');
  for (const ns of namespaces) await client.query('INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3)', [ns, `k-${point}`, point]);
  await assert.rejects(client.query('COMMIT'), 'the client sees the connection fail, not a commit');
  await client.end().catch(() => {});
}

async function restartCoordinator(): Promise<void> {
  const up = await runDpg(['up', '--config', cluster.configFile], { cwd: cluster.dir });
  assert.equal(up.code, 0, up.stderr);
}

before(async () => {
  process.env.DPG_FAULT_INJECTION = '1';
  cluster = await startTestCluster({
    basePort: 30432,
    shardCount: SHARDS,
    extraConfig: ['coordinator: { prepared_transaction_grace_seconds: 2, recovery_interval_seconds: 1 }'],
  });
});

after(async () => {
  await cluster?.stop();
});

test('a coordinator killed after PREPARE TRANSACTION: recovery rolls the prepared parts back', async () => {
  const namespaces = namespacesOnBothGroups('after-prepare');
  await commitWithCrash('crash-after-prepare', namespaces);
  assert.ok((await preparedCount()) >= 2, 'both groups hold a prepared part');
  await restartCoordinator();
  await waitFor('recovery to resolve the prepared parts', 30_000, async () => (await preparedCount()) === 0);
  assert.equal(await rowsIn(namespaces), 0, 'nothing of the transaction is visible');
});

test('a coordinator killed after the commit record: recovery commits every part', async () => {
  const namespaces = namespacesOnBothGroups('after-record');
  await commitWithCrash('crash-after-commit-record', namespaces);
  await restartCoordinator();
  await waitFor('recovery to resolve the prepared parts', 30_000, async () => (await preparedCount()) === 0);
  assert.equal(await rowsIn(namespaces), 2, 'both rows of the committed transaction are there');
});

test('a coordinator killed before PREPARE TRANSACTION: nothing is prepared, nothing is visible', async () => {
  const namespaces = namespacesOnBothGroups('before-prepare');
  await commitWithCrash('crash-before-prepare', namespaces);
  await restartCoordinator();
  assert.equal(await preparedCount(), 0);
  assert.equal(await rowsIn(namespaces), 0, 'the workers rolled back the open transactions of the dead coordinator');
});

test('a coordinator killed after the first PREPARE TRANSACTION: recovery rolls back whatever was prepared', async () => {
  const namespaces = namespacesOnBothGroups('first-prepare');
  await commitWithCrash('crash-after-first-prepare', namespaces);
  assert.ok((await preparedCount()) >= 1, 'at least one group holds a prepared part');
  await restartCoordinator();
  await waitFor('recovery to resolve the prepared parts', 30_000, async () => (await preparedCount()) === 0);
  assert.equal(await rowsIn(namespaces), 0, 'nothing of the transaction is visible');
});

test('a coordinator killed after the first COMMIT PREPARED: recovery commits the rest', async () => {
  const namespaces = namespacesOnBothGroups('first-commit');
  await commitWithCrash('crash-after-first-commit-prepared', namespaces);
  await restartCoordinator();
  await waitFor('recovery to resolve the prepared parts', 30_000, async () => (await preparedCount()) === 0);
  assert.equal(await rowsIn(namespaces), 2, 'both rows of the committed transaction are there');
});

test('a commit whose record comes after the grace period is rolled back everywhere, not acknowledged half-done', async () => {
  // The commit record waits 5 s (as while the control group restarts); the recovery loop
  // (grace 2 s) gives the prepared parts up meanwhile. The late record must not win.
  const namespaces = namespacesOnBothGroups('late-record');
  const client = new pg.Client(cluster.url);
  await client.connect();
  try {
    await client.query(`SET dpg.fault_injection = 'delay-before-commit-record'`);
    await client.query('BEGIN');
    for (const ns of namespaces) await client.query('INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3)', [ns, 'k-late', 'late']);
    await assert.rejects(client.query('COMMIT'), (error: { code?: string; message: string }) => error.code === '40001' && /a recovery loop gave it up/.test(error.message));
  } finally {
    await client.end();
  }
  await waitFor('recovery to resolve the prepared parts', 30_000, async () => (await preparedCount()) === 0);
  assert.equal(await rowsIn(namespaces), 0, 'neither part is committed');
});

test('without a fault a two-group transaction commits on both groups', async () => {
  const namespaces = namespacesOnBothGroups('no-fault');
  const client = new pg.Client(cluster.url);
  await client.connect();
  try {
    await client.query('BEGIN');
    for (const ns of namespaces) await client.query('INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, $3)', [ns, 'k', 'v']);
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  assert.equal(await rowsIn(namespaces), 2);
  assert.equal(await preparedCount(), 0);
});

test('the cluster is consistent after these writes: dpg check', async () => {
  await assertConsistent(cluster);
});
