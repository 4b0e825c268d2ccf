import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { startTestCluster, assertConsistent, type TestCluster } from '../support/test-cluster.ts';
import { connectNode, groupLeader, withClient } from '../../src/cluster/connect.ts';

// A row is stored on the shard its stored distribution value hashes to: dpg routes by
// the value PostgreSQL stores, or refuses the statement. Every test that writes ends
// with the placement check over every shard.
let cluster: TestCluster;
let client: pg.Client;
const DATABASE = 'distributed_postgres_cluster';

before(async () => {
  cluster = await startTestCluster({ basePort: 9432, workerGroups: 2, shardCount: 4, extraConfig: ['cache: { enabled: true, ttl_seconds: 300 }'] });
  client = new pg.Client(cluster.url);
  await client.connect();
  await client.query('CREATE TABLE placed (namespace text NOT NULL, id int NOT NULL, note text, PRIMARY KEY (namespace, id))');
  await client.query("SELECT create_distributed_table('placed', 'namespace')");
});

after(async () => {
  await client?.end();
  await cluster?.stop();
});

async function sqlstateOf(sql: string, params: unknown[] = []): Promise<string | undefined> {
  try {
    await client.query(sql, params);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

/** Rows of `table` on a shard whose hash range does not hold their distribution value (0 when every row is where dpg looks). */
async function misplacedRows(table: string): Promise<number> {
  const shards = await client.query(
    `SELECT s.shardid, s.shardminvalue::int AS min, s.shardmaxvalue::int AS max, p.groupid FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) WHERE s.logicalrelid = $1::regclass`,
    [table],
  );
  assert.ok(shards.rows.length > 0, `${table} has shards`);
  let misplaced = 0;
  for (const shard of shards.rows) {
    const leader = await groupLeader(cluster.layout.groups[shard.groupid]!);
    assert.ok(leader);
    misplaced += await withClient(await connectNode(leader, cluster.secrets, DATABASE), async (c) => {
      const result = await c.query(`SELECT count(*)::int AS n FROM ${table}_${shard.shardid} WHERE hashtext(namespace) NOT BETWEEN $1 AND $2`, [shard.min, shard.max]);
      return result.rows[0].n as number;
    });
  }
  return misplaced;
}

test('INSERT through a cast that changes the value (varchar(n), char(n)) is refused (0A000); casts that keep it are routed by it', async () => {
  assert.equal(await sqlstateOf("INSERT INTO placed (namespace, id) VALUES ('abcdefgh'::varchar(5), 1)"), '0A000');
  assert.equal(await sqlstateOf("INSERT INTO placed (namespace, id) VALUES ('ab'::char(4), 2)"), '0A000');
  assert.equal(await sqlstateOf('INSERT INTO placed (namespace, id) VALUES ($1::varchar(3), 3)', ['abcdef']), '0A000');
  assert.equal(await sqlstateOf("INSERT INTO placed (namespace, id) VALUES ('a', 4), ('bcdefgh'::varchar(2), 5)"), '0A000');
  await client.query("INSERT INTO placed (namespace, id) VALUES ('kept'::text, 6), ('kept2'::varchar, 7), ($1::text, 8)", ['kept3']);
  for (const [namespace, id] of [['kept', 6], ['kept2', 7], ['kept3', 8]] as const) {
    assert.deepEqual((await client.query('SELECT id FROM placed WHERE namespace = $1', [namespace])).rows, [{ id }]);
  }
  assert.equal(await misplacedRows('placed'), 0);
});

test('create_distributed_table refuses distribution columns that store another value than the one given (varchar(n), char(n), name)', async () => {
  for (const type of ['varchar(10)', 'char(4)', 'name']) {
    await client.query('DROP TABLE IF EXISTS typed_key');
    await client.query(`CREATE TABLE typed_key (k ${type} NOT NULL, v int)`);
    assert.equal(await sqlstateOf("SELECT create_distributed_table('typed_key', 'k')"), '0A000', type);
  }
  await client.query('DROP TABLE typed_key');
  await client.query('CREATE TABLE typed_key (k varchar NOT NULL, v int)');
  await client.query("SELECT create_distributed_table('typed_key', 'k')");
  await client.query('DROP TABLE typed_key');
});

function psqlCopy(sql: string, data: string): { status: number | null; stderr: string } {
  const result = spawnSync('/usr/bin/psql', ['-X', '-v', 'ON_ERROR_STOP=1', cluster.url, '-c', sql], { input: data, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stderr: result.stderr };
}

test('COPY text with \\xNN and \\NNN escapes in the distribution column: routed by the bytes PostgreSQL stores', async () => {
  // \x61\x62 is "ab"; \303\251t\303\251 is "été" as UTF-8 bytes; \x41\102 is "AB".
  const copied = psqlCopy('COPY placed (namespace, id) FROM STDIN', '\\x61\\x62\t10\n\\303\\251t\\303\\251\t11\n\\x41\\102\t12\nplain\\tTab\t13\n');
  assert.equal(copied.status, 0, copied.stderr);
  for (const [namespace, id] of [['ab', 10], ['été', 11], ['AB', 12], ['plain\tTab', 13]] as const) {
    assert.deepEqual((await client.query('SELECT id FROM placed WHERE namespace = $1', [namespace])).rows, [{ id }], namespace);
  }
  const csv = psqlCopy("COPY placed (namespace, id) FROM STDIN WITH (FORMAT csv)", '"\\x61\\x62",14\n"caf\u00e9",15\n');
  assert.equal(csv.status, 0, csv.stderr);
  assert.deepEqual((await client.query("SELECT id FROM placed WHERE namespace = '\\x61\\x62'")).rows, [{ id: 14 }], 'CSV has no escapes: the backslashes are stored');
  assert.deepEqual((await client.query("SELECT id FROM placed WHERE namespace = 'café'")).rows, [{ id: 15 }]);
  // Bytes that are not UTF-8: PostgreSQL's 22021, and nothing of the COPY is stored.
  const invalid = psqlCopy('COPY placed (namespace, id) FROM STDIN', 'fine\t16\n\\xff\\xfe\t17\n');
  assert.notEqual(invalid.status, 0);
  assert.match(invalid.stderr, /invalid byte sequence/);
  assert.equal((await client.query("SELECT count(*)::int AS n FROM placed WHERE namespace = 'fine'")).rows[0].n, 0);
  assert.equal(await misplacedRows('placed'), 0);
});

test('statements that would change a row\'s distribution value inside a CTE, ON CONFLICT DO UPDATE or MERGE are refused (0A000) and change nothing', async () => {
  await client.query("INSERT INTO placed (namespace, id, note) VALUES ('mover', 20, 'n')");
  for (const sql of [
    "WITH u AS (UPDATE placed SET namespace = 'elsewhere' WHERE namespace = 'mover' RETURNING id) SELECT * FROM u",
    "INSERT INTO placed (namespace, id) VALUES ('mover', 20) ON CONFLICT (namespace, id) DO UPDATE SET namespace = 'elsewhere'",
    "MERGE INTO placed p USING (SELECT 'mover' AS namespace, 20 AS id) s ON p.namespace = s.namespace AND p.id = s.id WHEN MATCHED THEN UPDATE SET namespace = 'elsewhere'",
  ]) {
    assert.equal(await sqlstateOf(sql), '0A000', sql);
  }
  assert.deepEqual((await client.query("SELECT namespace, id FROM placed WHERE namespace IN ('mover', 'elsewhere')")).rows, [{ namespace: 'mover', id: 20 }]);
  assert.equal(await misplacedRows('placed'), 0);
});

test('an INSERT whose subquery reads another namespace is refused (0A000), not answered from the target shard', async () => {
  await client.query("INSERT INTO placed (namespace, id, note) VALUES ('source', 30, 'from source')");
  assert.equal(await sqlstateOf("INSERT INTO placed (namespace, id, note) VALUES ('target', 31, (SELECT note FROM placed WHERE namespace = 'source' AND id = 30))"), '0A000');
  assert.equal(await sqlstateOf("WITH d AS (DELETE FROM placed WHERE namespace = 'source' RETURNING id) INSERT INTO placed (namespace, id) VALUES ('target', 32)"), '0A000');
  // INSERT ... SELECT reads it where it lives.
  await client.query("INSERT INTO placed (namespace, id, note) SELECT 'target', 33, note FROM placed WHERE namespace = 'source' AND id = 30");
  assert.deepEqual((await client.query("SELECT id, note FROM placed WHERE namespace = 'target'")).rows, [{ id: 33, note: 'from source' }]);
  assert.equal(await misplacedRows('placed'), 0);
});

test('a data-modifying CTE is a write: never answered from the result cache, and its changes invalidate cached reads', async () => {
  await client.query("INSERT INTO placed (namespace, id, note) VALUES ('cte-writes', 1, 'n')");
  const read = async () => (await client.query("SELECT note FROM placed WHERE namespace = 'cte-writes' AND id = 1")).rows[0].note as string;
  assert.equal(await read(), 'n');
  assert.equal(await read(), 'n', 'a cached read');
  const notes: string[] = [];
  for (let i = 0; i < 3; i++) {
    const result = await client.query("WITH u AS (UPDATE placed SET note = note || 'x' WHERE namespace = 'cte-writes' AND id = 1 RETURNING note) SELECT note FROM u");
    notes.push(result.rows[0].note as string);
    assert.equal(await read(), notes.at(-1), 'the cached read was invalidated by the write');
  }
  assert.deepEqual(notes, ['nx', 'nxx', 'nxxx'], 'each run wrote (a cached answer would repeat the first)');
  assert.equal(await misplacedRows('placed'), 0);
});

test('the cluster is consistent after these writes: dpg check', async () => {
  await assertConsistent(cluster);
});
