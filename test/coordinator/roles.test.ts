import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { etcdLogins } from '../../src/cluster/etcd-auth.ts';
import { etcdCall, etcdToken } from '../../src/topology/etcd-gateway.ts';
import { startTestCluster, assertConsistent, type TestCluster } from '../support/test-cluster.ts';
import { connectNode, groupLeader, withClient } from '../../src/cluster/connect.ts';
import { nodePassword, patroniAuthorization } from '../../src/cluster/secrets.ts';

// PostgreSQL's privileges are the boundary: the coordinator runs each client's statements
// as the client's own role (config users), which owns nothing of dpg's, cannot write
// dpg_catalog and cannot log in to a node with what it gives the coordinator; a user with
// a namespaces: allow-list sees only those namespaces, by row-level security on every
// shard. These tests go around the planner's own checks on purpose (dynamic SQL in
// functions), so that only PostgreSQL stands in the way.
let cluster: TestCluster;
let admin: pg.Client;
let bob: pg.Client;
let tenant: pg.Client;
const DATABASE = 'distributed_postgres_cluster';

before(async () => {
  cluster = await startTestCluster({
    basePort: 2032,
    workerGroups: 2,
    shardCount: 2,
    extraConfig: [
      'users:',
      '  - { name: dpg_cluster, admin: true }',
      '  - { name: bob }',
      "  - { name: tenant_a, namespaces: ['ns_a', 'ns_shared'] }",
      'cache: { enabled: true, ttl_seconds: 300 }',
      'coordinator: { held_rows_max_mb: 1 }',
    ],
  });
  admin = new pg.Client(cluster.url);
  bob = new pg.Client(cluster.urlOf('bob'));
  tenant = new pg.Client(cluster.urlOf('tenant_a'));
  await Promise.all([admin.connect(), bob.connect(), tenant.connect()]);
});

after(async () => {
  await Promise.all([admin, bob, tenant].map((c) => c?.end().catch(() => {})));
  await cluster?.stop();
});

async function sqlstateOf(client: pg.Client, sql: string, params: unknown[] = []): Promise<string | undefined> {
  try {
    await client.query(sql, params);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

test('a client role cannot write dpg_catalog by any path: PostgreSQL refuses it (42501), the planner aside', async () => {
  // The name is assembled at run time, so no check of the statement's text can see it.
  await admin.query(`CREATE FUNCTION catalog_write(sql text) RETURNS int LANGUAGE plpgsql AS $$ BEGIN EXECUTE replace(sql, 'CAT.', 'dpg_' || 'catalog.'); RETURN 1; END $$`);
  const before = (await admin.query('SELECT count(*)::int AS n FROM pg_dist_node')).rows[0].n;
  for (const sql of ['DELETE FROM CAT.nodes', "UPDATE CAT.nodes SET host = 'evil'", 'INSERT INTO CAT.commit_records (gid) VALUES (1)', 'TRUNCATE CAT.placements', "SELECT nextval('CAT.shard_id_seq')", 'CREATE TABLE CAT.planted (x int)']) {
    assert.equal(await sqlstateOf(admin, 'SELECT catalog_write($1)', [sql]), '42501', sql);
  }
  assert.equal((await admin.query('SELECT count(*)::int AS n FROM pg_dist_node')).rows[0].n, before);
  const rights = await admin.query(
    `SELECT current_user AS me, pg_get_userbyid(d.datdba) AS owner, has_schema_privilege('dpg_catalog', 'CREATE') AS create_catalog,
            has_table_privilege('dpg_catalog.nodes', 'UPDATE') AS update_nodes, has_database_privilege(current_database(), 'CREATE') AS create_schema
     FROM pg_database d WHERE d.datname = current_database()`,
  );
  assert.deepEqual(rights.rows[0], { me: 'dpg_cluster', owner: 'dpg_coordinator', create_catalog: false, update_nodes: false, create_schema: false });
});

test("the password a client gives the coordinator does not log in to a node (pg_hba per role, node passwords only coordinators know)", async () => {
  const node = (await groupLeader(cluster.layout.groups[1]!))!;
  const attempt = async (user: string, password: string) => {
    const direct = new pg.Client({ host: node.host, port: node.pgPort, user, password, database: DATABASE });
    try {
      await direct.connect();
      await direct.end();
      return 'connected';
    } catch (error) {
      return (error as { code?: string }).code;
    }
  };
  assert.equal(await attempt('dpg_cluster', cluster.secrets.appPassword), '28P01');
  assert.equal(await attempt('bob', cluster.secrets.userPasswords.bob!), '28P01');
  // A role that is neither the superuser, the coordinator's nor a client's has no pg_hba line.
  assert.equal(await attempt('replicator', cluster.secrets.replicationPassword), '28000');
  assert.equal(await attempt('dpg_cluster', nodePassword(cluster.secrets, 'dpg_cluster')), 'connected', 'the coordinator logs in as the client role');
});

test("another user's table needs a GRANT, which reaches every shard; REVOKE takes it back", async () => {
  await admin.query('CREATE TABLE private_notes (namespace text NOT NULL, id int NOT NULL, PRIMARY KEY (namespace, id))');
  await admin.query("SELECT create_distributed_table('private_notes', 'namespace')");
  await admin.query("INSERT INTO private_notes (namespace, id) SELECT 'n' || (i % 7), i FROM generate_series(1, 40) i");
  assert.equal(await sqlstateOf(bob, 'SELECT count(*) FROM private_notes'), '42501');
  assert.equal(await sqlstateOf(bob, "SELECT * FROM private_notes WHERE namespace = 'n1'"), '42501', 'a pinned read too');
  await admin.query('GRANT SELECT ON private_notes TO bob');
  assert.equal((await bob.query('SELECT count(*)::int AS n FROM private_notes')).rows[0].n, 40);
  assert.equal(await sqlstateOf(bob, "INSERT INTO private_notes (namespace, id) VALUES ('n1', 100)"), '42501', 'SELECT only');
  await admin.query('REVOKE SELECT ON private_notes FROM bob');
  assert.equal(await sqlstateOf(bob, 'SELECT count(*) FROM private_notes'), '42501');
  // A table created with grants in place keeps them on its shards.
  await admin.query('CREATE TABLE shared_notes (namespace text NOT NULL, id int NOT NULL)');
  await admin.query('GRANT SELECT, INSERT ON shared_notes TO bob');
  await admin.query("SELECT create_distributed_table('shared_notes', 'namespace')");
  await bob.query("INSERT INTO shared_notes (namespace, id) SELECT 'n' || i, i FROM generate_series(1, 10) i");
  assert.equal((await bob.query('SELECT count(*)::int AS n FROM shared_notes')).rows[0].n, 10);
  assert.equal(await sqlstateOf(bob, 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO bob'), '0A000', 'would not reach the shards');
  await assertConsistent(cluster);
});

test('a result cached for one user is never served to another', async () => {
  await admin.query('CREATE TABLE cached_notes (namespace text NOT NULL, id int NOT NULL)');
  await admin.query("SELECT create_distributed_table('cached_notes', 'namespace')");
  await admin.query("INSERT INTO cached_notes (namespace, id) VALUES ('c', 1)");
  assert.equal((await admin.query("SELECT count(*)::int AS n FROM cached_notes WHERE namespace = 'c'")).rows[0].n, 1);
  assert.equal((await admin.query("SELECT count(*)::int AS n FROM cached_notes WHERE namespace = 'c'")).rows[0].n, 1);
  assert.equal(await sqlstateOf(bob, "SELECT count(*)::int AS n FROM cached_notes WHERE namespace = 'c'"), '42501');
});

test("only an admin user runs the rebalancer's and moves' functions (42501)", async () => {
  const shard = (await admin.query("SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'private_notes'::regclass LIMIT 1")).rows[0].shardid;
  for (const sql of ['SELECT citus_rebalance_start()', 'SELECT rebalance_table_shards()', `SELECT citus_move_shard_placement(${shard}, 1, 2)`, "SELECT alter_distributed_table('private_notes', shard_count := 4)"]) {
    assert.equal(await sqlstateOf(bob, sql), '42501', sql);
  }
  assert.equal(await sqlstateOf(bob, 'SELECT * FROM get_rebalance_table_shards_plan()'), '42501');
  await admin.query('SELECT * FROM get_rebalance_table_shards_plan()');
});

test('a user with a namespaces allow-list reads and writes only those namespaces, by any SQL', async () => {
  // Namespaces that land on the same shard as ns_a, so the shard itself holds rows the tenant must not see.
  const candidates = ['ns_a', 'ns_shared', ...Array.from({ length: 12 }, (_, i) => `ns_b${i}`)];
  await admin.query(
    `INSERT INTO memory_entries (namespace, key, value, embedding)
     SELECT ns, 'k' || i, 'v', array_fill(i::real / 10, ARRAY[384])::vector FROM unnest($1::text[]) ns, generate_series(1, 5) i`,
    [candidates],
  );
  const shards = new Map((await admin.query('SELECT DISTINCT namespace, tableoid::regclass::text AS shard FROM memory_entries')).rows.map((r) => [r.namespace, r.shard]));
  const neighbour = candidates.find((ns) => ns.startsWith('ns_b') && shards.get(ns) === shards.get('ns_a'));
  assert.ok(neighbour, 'a namespace on the shard of ns_a');
  const total = (await admin.query('SELECT count(*)::int AS n FROM memory_entries')).rows[0].n;
  const visible = (sql: string, params: unknown[] = []) => tenant.query(sql, params).then((r) => r.rows);
  const count = async (sql: string, params: unknown[] = []) => Number(Object.values((await visible(sql, params))[0])[0]);

  assert.equal(await count('SELECT count(*) FROM memory_entries'), 10, 'every shard, filtered');
  assert.equal(await count(`SELECT count(*) FROM memory_entries WHERE namespace = $1`, [neighbour]), 0);
  assert.equal(await count(`SELECT count(*) FROM memory_entries WHERE namespace = 'ns_a' OR true`), 10);
  assert.equal(await count(`SELECT count(*) FROM memory_entries WHERE namespace <> 'ns_a' AND namespace <> 'ns_shared'`), 0);
  const copied = spawnSync('psql', [cluster.urlOf('tenant_a'), '-Atc', 'COPY memory_entries (namespace) TO STDOUT'], { encoding: 'utf8' });
  assert.equal(copied.status, 0, copied.stderr);
  assert.deepEqual([...new Set(copied.stdout.trim().split('\n'))].sort(), ['ns_a', 'ns_shared'], 'COPY TO');
  // SQL text run on the shard itself, reading the whole shard table by name.
  const xml = await visible(`SELECT query_to_xml('SELECT namespace FROM ' || tableoid::regclass::text, true, false, '')::text AS x FROM memory_entries WHERE namespace = 'ns_a' LIMIT 1`);
  assert.ok(xml[0].x.includes('ns_a') && !xml[0].x.includes(neighbour!), xml[0].x);
  const nearest = await visible(`SELECT namespace FROM memory_entries ORDER BY embedding <-> array_fill(0.2::real, ARRAY[384])::vector LIMIT 10`);
  assert.ok(nearest.length > 0 && nearest.every((r) => r.namespace === 'ns_a' || r.namespace === 'ns_shared'), JSON.stringify(nearest));

  // Writes: another namespace's rows are neither written nor touched.
  assert.equal(await sqlstateOf(tenant, `INSERT INTO memory_entries (namespace, key) VALUES ($1, 'planted')`, [neighbour]), '42501');
  assert.equal((await tenant.query(`DELETE FROM memory_entries WHERE namespace = $1`, [neighbour])).rowCount, 0);
  assert.equal((await tenant.query(`UPDATE memory_entries SET value = 'x' WHERE namespace <> 'ns_a'`)).rowCount, 5, 'ns_shared only');
  await tenant.query(`INSERT INTO memory_entries (namespace, key) VALUES ('ns_a', 'mine')`);
  assert.equal((await admin.query('SELECT count(*)::int AS n FROM memory_entries')).rows[0].n, total + 1);
  assert.equal((await admin.query(`SELECT count(*)::int AS n FROM memory_entries WHERE namespace = $1 AND value = 'v'`, [neighbour])).rows[0].n, 5);
  // dpg's policy cannot be widened or dropped by a user's own.
  assert.equal(await sqlstateOf(admin, 'CREATE POLICY wide ON memory_entries USING (true)'), '0A000');
  assert.equal(await sqlstateOf(admin, 'ALTER TABLE memory_entries DISABLE ROW LEVEL SECURITY'), '0A000');
  await assertConsistent(cluster);
});

test("a client's ALTER ROLE reaches neither the coordinator's own connections nor other roles (42501)", async () => {
  assert.equal(await sqlstateOf(bob, 'ALTER ROLE CURRENT_USER SET default_transaction_read_only = on'), '42501');
  assert.equal(await sqlstateOf(bob, 'ALTER ROLE dpg_coordinator PASSWORD $$x$$'), '42501');
  await admin.query("INSERT INTO shared_notes (namespace, id) VALUES ('after', 1)");
});

test('an INSERT into a distributed table inside a function (unrouted, on the control group) is refused, not stored in the shell where no read looks', async () => {
  await admin.query(`CREATE FUNCTION plant_note(ns text) RETURNS int LANGUAGE plpgsql AS $$ BEGIN INSERT INTO shared_notes (namespace, id) VALUES (ns, 99); RETURN 1; END $$`);
  assert.equal(await sqlstateOf(admin, "SELECT plant_note('planted')"), '0A000');
  assert.equal(await sqlstateOf(bob, "SELECT plant_note('planted')"), '0A000');
  assert.equal((await admin.query("SELECT count(*)::int AS n FROM shared_notes WHERE namespace = 'planted'")).rows[0].n, 0);
  // An UPDATE or DELETE there would change nothing and report success.
  await admin.query(`CREATE FUNCTION wipe_notes() RETURNS int LANGUAGE plpgsql AS $$ BEGIN DELETE FROM shared_notes; UPDATE shared_notes SET id = 0; RETURN 1; END $$`);
  assert.equal(await sqlstateOf(admin, 'SELECT wipe_notes()'), '0A000');
  assert.ok((await admin.query('SELECT count(*)::int AS n FROM shared_notes')).rows[0].n > 0);
  // dpg's own statements on the shell still run: TRUNCATE reaches it and every shard.
  await admin.query('CREATE TABLE scratch_notes (namespace text NOT NULL, id int NOT NULL)');
  await admin.query("SELECT create_distributed_table('scratch_notes', 'namespace')");
  await admin.query("INSERT INTO scratch_notes (namespace, id) VALUES ('s', 1)");
  await admin.query('TRUNCATE scratch_notes');
  assert.equal((await admin.query('SELECT count(*)::int AS n FROM scratch_notes')).rows[0].n, 0);
});

test("Patroni's unsafe REST endpoints ask for the cluster's password (restapi.authentication); reads stay open", async () => {
  const node = cluster.layout.groups[1]!.nodes[0]!;
  const base = `http://${node.host}:${node.restPort}`;
  assert.equal((await fetch(`${base}/cluster`)).status, 200);
  for (const [path, method] of [['/restart', 'POST'], ['/reload', 'POST'], ['/config', 'PATCH'], ['/switchover', 'POST']] as const) {
    const anonymous = await fetch(`${base}${path}`, { method, body: '{}' });
    assert.equal(anonymous.status, 401, `${method} ${path} without credentials`);
    const wrong = await fetch(`${base}${path}`, { method, body: '{}', headers: { authorization: `Basic ${Buffer.from('dpg:guess').toString('base64')}` } });
    assert.equal(wrong.status, 401, `${method} ${path} with a wrong password`);
  }
  const reload = await fetch(`${base}/reload`, { method: 'POST', headers: patroniAuthorization(cluster.secrets) });
  assert.equal(reload.status, 202, await reload.text());
});

test("the coordinator's links to every node are TLS (verified against the nodes' CA)", async () => {
  // Make sure each group has connections of the coordinator and of a client role.
  await admin.query('SELECT count(*) FROM shared_notes');
  await bob.query('SELECT count(*) FROM shared_notes');
  for (const group of cluster.layout.groups) {
    const leader = (await groupLeader(group))!;
    const links = await withClient(await connectNode(leader, cluster.secrets, DATABASE), async (c) =>
      (await c.query(`SELECT a.usename::text AS role, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename IN ('dpg_coordinator', 'dpg_cluster', 'bob') AND a.client_addr IS NOT NULL`)).rows,
    );
    assert.ok(links.some((l) => l.role === 'dpg_coordinator'), `${group.name}: ${JSON.stringify(links)}`);
    assert.deepEqual(links.filter((l) => !l.ssl), [], `${group.name}: every link encrypted`);
  }
});

test('rows the coordinator holds for one statement are bounded (coordinator.held_rows_max_mb): RETURNING of a write over several groups and aggregate partials get 54000, and nothing is written', async () => {
  await admin.query('CREATE TABLE held_rows (namespace text NOT NULL, id int NOT NULL, body text)');
  await admin.query("SELECT create_distributed_table('held_rows', 'namespace')");
  await admin.query("INSERT INTO held_rows (namespace, id, body) SELECT 'h' || (i % 50), i, repeat('x', 100) FROM generate_series(1, 3000) i");
  const before = (await admin.query("SELECT count(*)::int AS n, sum(CASE WHEN body = 'changed' THEN 1 ELSE 0 END)::int AS changed FROM held_rows")).rows[0];
  // About 3 MB of RETURNING rows from both worker groups, held until the two-phase commit.
  assert.equal(await sqlstateOf(admin, "UPDATE held_rows SET body = 'changed' RETURNING id, repeat(body, 100)"), '54000');
  assert.deepEqual((await admin.query("SELECT count(*)::int AS n, sum(CASE WHEN body = 'changed' THEN 1 ELSE 0 END)::int AS changed FROM held_rows")).rows[0], before, 'rolled back');
  assert.equal((await admin.query("UPDATE held_rows SET body = 'changed' WHERE id <= 100 RETURNING id")).rowCount, 100, 'within the bound');
  // Partials of a GROUP BY over about 3 MB of distinct keys.
  assert.equal(await sqlstateOf(admin, 'SELECT id::text || repeat(body, 10) AS k, count(*) FROM held_rows GROUP BY 1'), '54000');
  assert.equal((await admin.query('SELECT namespace, count(*) FROM held_rows GROUP BY namespace')).rowCount, 50);
  await assertConsistent(cluster);
});

test("etcd has authentication on: anonymous requests are refused, the coordinators' user reads dpg's keys and cannot write them, Patroni's user writes only under /dpg/", async () => {
  const endpoint = cluster.layout.etcd.endpoints[0]!;
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const range = { key: b64('/dpg/'), range_end: b64('/dpg0') };
  await assert.rejects(etcdCall(endpoint, 'kv/range', range), /user name is empty|permission denied|authentication/i, 'anonymous read');
  await assert.rejects(etcdCall(endpoint, 'kv/put', { key: b64('/dpg/planted'), value: b64('x') }), /user name is empty|permission denied|authentication/i, 'anonymous write');
  const logins = etcdLogins(cluster.secrets);
  await assert.rejects(etcdToken(endpoint, { user: logins.coordinator.user, password: 'guess' }), /authentication failed|invalid/i);
  const reader = await etcdToken(endpoint, logins.coordinator);
  assert.ok(reader, 'a token');
  const keys = await etcdCall(endpoint, 'kv/range', range, reader);
  assert.ok(Array.isArray(keys.kvs) && keys.kvs.length > 0, 'the coordinators read the leader keys');
  await assert.rejects(etcdCall(endpoint, 'kv/put', { key: b64('/dpg/planted'), value: b64('x') }, reader), /permission denied/i, "the coordinators' user cannot write");
  const writer = await etcdToken(endpoint, logins.patroni);
  await assert.rejects(etcdCall(endpoint, 'kv/put', { key: b64('/elsewhere'), value: b64('x') }, writer), /permission denied/i, "Patroni's user writes only under /dpg/");
  // The secrets file is private to root.
  assert.equal(statSync(cluster.layout.secretsFile).mode & 0o777, 0o600);
});
