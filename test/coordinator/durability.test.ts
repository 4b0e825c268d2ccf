import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestCluster, standbyWalReceiver, type TestCluster } from '../support/test-cluster.ts';
import { connectNode, groupLeader, withClient } from '../../src/cluster/connect.ts';
import { sleep } from '../../src/cluster/processes.ts';

// The seed's replication strategy per table: critical tables commit synchronously
// (the commit returns once the synchronous standby has it), audit tables
// asynchronously, ephemeral tables are UNLOGGED. Shown with the standby's WAL
// receiver stopped (SIGSTOP): a commit that waits for the standby cannot finish.
let cluster: TestCluster;
let client: pg.Client;

before(async () => {
  cluster = await startTestCluster({
    basePort: 19432,
    workerGroups: 1,
    replicationFactor: 2,
    shardCount: 2,
    extraConfig: ['replication: { tables: { audit: [audit_log, audit_unlogged], ephemeral: [scratch] } }'],
  });
  client = new pg.Client(cluster.url);
  await client.connect();
  for (const table of ['audit_log', 'scratch', 'crit']) {
    await client.query(`CREATE TABLE ${table} (namespace text NOT NULL, id int NOT NULL, note text)`);
    await client.query(`SELECT create_distributed_table('${table}', 'namespace')`);
  }
});

after(async () => {
  await client?.end().catch(() => {});
  await cluster?.stop();
});

/** Runs `work` with the synchronous standby's WAL receiver stopped; it is continued afterwards whatever happens. */
async function withStandbyStopped<T>(work: () => Promise<T>): Promise<T> {
  const { pid } = await standbyWalReceiver(cluster);
  process.kill(pid, 'SIGSTOP');
  try {
    return await work();
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

/** Whether `query` finishes within `ms`; the promise is returned to be awaited later. */
async function finishesWithin(ms: number, query: Promise<unknown>): Promise<boolean> {
  return Promise.race([query.then(() => true), sleep(ms).then(() => false)]);
}

test('an ephemeral table\'s shards are UNLOGGED; an UNLOGGED table the config wants replicated is refused', async () => {
  const group = cluster.layout.groups[1]!;
  const leader = (await groupLeader(group))!;
  const persistence = await withClient(await connectNode(leader, cluster.secrets, 'distributed_postgres_cluster'), async (c) =>
    (await c.query<{ relname: string; relpersistence: string }>("SELECT relname, relpersistence FROM pg_class WHERE relkind = 'r' AND relname ~ '^(scratch|audit_log)_[0-9]+$' ORDER BY relname")).rows,
  );
  assert.ok(persistence.length >= 2, JSON.stringify(persistence));
  for (const row of persistence) assert.equal(row.relpersistence, row.relname.startsWith('scratch') ? 'u' : 'p', row.relname);

  await client.query('CREATE UNLOGGED TABLE audit_unlogged (namespace text NOT NULL, id int)');
  await assert.rejects(client.query("SELECT create_distributed_table('audit_unlogged', 'namespace')"), (error: Error & { code?: string }) => {
    assert.equal(error.code, '0A000');
    assert.match(error.message, /UNLOGGED.*replication\.tables\.audit/);
    return true;
  });
});

test('with the standby stopped, audit and ephemeral writes commit, critical ones wait for it', async () => {
  const critical = new pg.Client(cluster.url);
  const block = new pg.Client(cluster.url);
  await critical.connect();
  await block.connect();
  try {
    await withStandbyStopped(async () => {
      assert.ok(await finishesWithin(3000, client.query("INSERT INTO audit_log (namespace, id, note) VALUES ('a', 1, 'audit')")), 'an audit write does not wait for the standby');
      assert.ok(await finishesWithin(3000, client.query("INSERT INTO scratch (namespace, id, note) VALUES ('a', 1, 'scratch')")), 'an ephemeral write does not wait for the standby');
      assert.ok(
        await finishesWithin(3000, (async () => {
          await client.query('BEGIN');
          await client.query("INSERT INTO audit_log (namespace, id, note) VALUES ('b', 2, 'in a block')");
          await client.query('COMMIT');
        })()),
        'a block writing only audit rows commits without the standby',
      );

      const pendingCritical = critical.query("INSERT INTO crit (namespace, id, note) VALUES ('a', 1, 'critical')");
      // The block's connection is likely the one an audit write just set to synchronous_commit local.
      await block.query("INSERT INTO audit_log (namespace, id, note) VALUES ('c', 0, 'just before the block')");
      assert.equal(await finishesWithin(2000, pendingCritical), false, 'a critical write waits for the standby');
      await block.query('BEGIN');
      await block.query("INSERT INTO audit_log (namespace, id, note) VALUES ('c', 3, 'with a critical row')");
      await block.query("INSERT INTO crit (namespace, id, note) VALUES ('c', 3, 'critical in a block')");
      const pendingCommit = block.query('COMMIT');
      assert.equal(await finishesWithin(1500, pendingCommit), false, 'a block that wrote a critical row waits at COMMIT');

      // A session that chose its own synchronous_commit keeps it.
      await client.query('SET synchronous_commit = local');
      assert.ok(await finishesWithin(3000, client.query("INSERT INTO crit (namespace, id, note) VALUES ('d', 4, 'session said local')")), "the session's own synchronous_commit wins");
      await client.query('RESET synchronous_commit');
      return { pendingCritical, pendingCommit };
    }).then(async ({ pendingCritical, pendingCommit }) => {
      // The standby continues: the waiting commits finish.
      assert.ok(await finishesWithin(15_000, Promise.all([pendingCritical, pendingCommit])), 'the critical commits finish once the standby has them');
    });
    const counts: Record<string, number> = {};
    for (const table of ['crit', 'audit_log', 'scratch']) counts[table] = Number((await client.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
    assert.deepEqual(counts, { crit: 3, audit_log: 4, scratch: 1 });
  } finally {
    await critical.end().catch(() => {});
    await block.end().catch(() => {});
  }
});
