import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestCluster, standbyWalReceiver, type TestCluster } from '../support/test-cluster.ts';
import { nodePassword } from '../../src/cluster/secrets.ts';
import { connectNode, groupLeader, withClient } from '../../src/cluster/connect.ts';
import { sleep, waitFor } from '../../src/cluster/processes.ts';
import { ReplicaRouter } from '../../src/backend/replicas.ts';
import { GroupPool } from '../../src/backend/pool.ts';

// query_router.read_from = replica: reads outside blocks go to a standby that has
// replayed everything acknowledged within max_replica_lag_seconds, a session reads
// its own writes, and a standby too far behind is skipped. Shown by stopping the
// standby's WAL receiver: what the standby serves is then visibly stale.
const MAX_LAG_SECONDS = 5;
let cluster: TestCluster;
let writer: pg.Client;
let reader: pg.Client;

before(async () => {
  cluster = await startTestCluster({
    basePort: 18432,
    workerGroups: 1,
    replicationFactor: 2,
    shardCount: 2,
    // An audit table commits without waiting for the (stopped) standby.
    extraConfig: [`query_router: { read_from: replica, max_replica_lag_seconds: ${MAX_LAG_SECONDS} }`, 'replication: { tables: { audit: [notes] } }'],
  });
  writer = new pg.Client(cluster.url);
  reader = new pg.Client(cluster.url);
  await writer.connect();
  await reader.connect();
  await writer.query('CREATE TABLE notes (namespace text NOT NULL, id int NOT NULL)');
  await writer.query("SELECT create_distributed_table('notes', 'namespace')");
});

after(async () => {
  await writer?.end().catch(() => {});
  await reader?.end().catch(() => {});
  await cluster?.stop();
});

const count = async (client: pg.Client) => Number((await client.query("SELECT count(*) AS n FROM notes WHERE namespace = 'n'")).rows[0].n);

test('reads go to a caught-up standby; a session reads its own writes; a stale standby is skipped', async () => {
  await writer.query("INSERT INTO notes (namespace, id) VALUES ('n', 1)");
  await waitFor('the standby to serve the first row', 10_000, async () => (await count(reader)) === 1);

  const { standby, pid } = await standbyWalReceiver(cluster);
  const standbyReads = async () =>
    withClient(await connectNode(standby, cluster.secrets, 'distributed_postgres_cluster'), async (c) => Number((await c.query('SELECT sum(seq_scan + coalesce(idx_scan, 0)) AS n FROM pg_stat_user_tables')).rows[0].n ?? 0));

  // (A backend's table statistics reach pg_stat_user_tables at most once a second.)
  const scansBefore = await standbyReads();
  await waitFor("the reader's queries to run on the standby", 15_000, async () => {
    await reader.query("SELECT count(*) FROM notes WHERE namespace = 'n'");
    return (await standbyReads()) > scansBefore;
  }, 300);

  process.kill(pid, 'SIGSTOP');
  try {
    await writer.query("INSERT INTO notes (namespace, id) VALUES ('n', 2)");
    const stale = await count(reader);
    const own = await count(writer);
    assert.equal(own, 2, 'the writing session sees its write at once (the primary answers it)');
    assert.equal(stale, 1, 'another session is answered by the standby, which has not replayed the write');
    await sleep((MAX_LAG_SECONDS + 1) * 1000);
    assert.equal(await count(reader), 2, 'past max_replica_lag_seconds the stale standby is skipped');
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  // Caught up again, the standby serves reads again.
  const scansAfter = await standbyReads();
  await waitFor('reads on the standby again', 15_000, async () => {
    assert.equal(await count(reader), 2);
    return (await standbyReads()) > scansAfter;
  }, 300);
});

test('in a transaction block every read goes to the primary', async () => {
  const { pid } = await standbyWalReceiver(cluster);
  process.kill(pid, 'SIGSTOP');
  try {
    const before = await count(writer);
    await writer.query("INSERT INTO notes (namespace, id) VALUES ('n', 3)");
    await reader.query('BEGIN');
    assert.equal(await count(reader), before + 1, 'a block reads the primary');
    await reader.query('COMMIT');
  } finally {
    process.kill(pid, 'SIGCONT');
  }
});

test("read_from any: reads alternate between the primary and a caught-up standby; replica: only the standby", async () => {
  const group = cluster.layout.groups[1]!;
  const leader = (await groupLeader(group))!;
  const nodes = group.nodes.map((n) => ({ name: n.name, groupId: 1, host: n.host, port: n.pgPort, patroniPort: n.restPort }));
  const target = (node: { host: string; port: number }) => ({ host: node.host, port: node.port, user: cluster.secrets.appUser, password: nodePassword(cluster.secrets, cluster.secrets.appUser), database: 'distributed_postgres_cluster' });
  const poolOptions = { minSize: 0, maxSize: 2, maxQueries: 1000, maxIdleSeconds: 60, acquireTimeoutMs: 5000 };
  const primaryPool = new GroupPool(1, async () => target(nodes.find((n) => n.name === leader.name)!), poolOptions);
  const routers = (['any', 'replica'] as const).map(
    (mode) =>
      new ReplicaRouter(
        { workerGroups: () => [{ groupId: 1, nodes }], leaderName: () => leader.name, primaryPool: () => primaryPool, target, log: () => {} },
        mode,
        MAX_LAG_SECONDS * 1000,
        poolOptions,
        200,
      ),
  );
  try {
    for (const router of routers) router.start();
    await waitFor('the standby to be sampled as caught up', 10_000, async () => routers.every((r) => [0, 1, 2, 3].some(() => r.pick(1, 0) !== null)));
    const picks = (router: ReplicaRouter) => Array.from({ length: 6 }, () => router.pick(1, 0)?.node ?? 'primary');
    const any = picks(routers[0]!);
    assert.ok(any.includes('primary') && any.some((p) => p !== 'primary'), `any: ${any.join(', ')}`);
    assert.ok(picks(routers[1]!).every((p) => p !== 'primary' && p !== leader.name), 'replica: the standby only');
    // A session whose write is later than every sample so far reads the primary.
    assert.equal(routers[1]!.pick(1, Date.now() + 60_000), null, 'read-your-writes: the primary until the standby has replayed past the write');
  } finally {
    for (const router of routers) await router.stop();
    await primaryPool.close();
  }
});
