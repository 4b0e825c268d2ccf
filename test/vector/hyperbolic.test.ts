import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import { connectNode, withClient } from '../../src/cluster/connect.ts';
import { hyperbolicShardIndex, radiusOf } from '../../src/topology/hyperbolic.ts';

// The seed's hierarchical shard mapping: a table distributed with
// distribution_method => 'hyperbolic' keeps the points of each tenth of the
// Poincaré ball's radius (a level of the hierarchy) on one shard.
const SHARDS = 6;
let cluster: TestCluster;
let client: pg.Client;

/** Rows of each shard of a table, read on the workers themselves. */
async function rowsPerShard(table: string): Promise<Map<number, string[]>> {
  const shards = await client.query<{ shardid: string; nodeport: number }>(`SELECT shardid::text, nodeport FROM citus_shards WHERE table_name = '${table}'::regclass ORDER BY shardid`);
  const out = new Map<number, string[]>();
  for (const [index, shard] of shards.rows.entries()) {
    const node = cluster.layout.groups.flatMap((g) => g.nodes).find((n) => n.pgPort === shard.nodeport)!;
    const ids = await withClient(await connectNode(node, cluster.secrets, 'distributed_postgres_cluster'), async (c) =>
      (await c.query<{ id: string }>(`SELECT id FROM ${table}_${shard.shardid} ORDER BY id`)).rows.map((r) => r.id),
    );
    out.set(index, ids);
  }
  return out;
}

before(async () => {
  cluster = await startTestCluster({ basePort: 21432, shardCount: SHARDS });
  client = new pg.Client(cluster.url);
  await client.connect();
});

after(async () => {
  await client?.end().catch(() => {});
  await cluster?.stop();
});

test('the seed function and the router agree: LEAST(FLOOR(r * 10), shards - 1)', async () => {
  for (const [r, expected] of [[0, 0], [0.05, 0], [0.1, 1], [0.35, 3], [0.59, 5], [0.95, 5], [-0.2, 0]] as const) {
    assert.equal(hyperbolicShardIndex(r, SHARDS), expected);
    const sql = await client.query('SELECT hyperbolic_shard_id($1, $2) AS shard', [r, SHARDS]);
    assert.equal(sql.rows[0].shard, expected, `radius ${r}`);
  }
  assert.equal(radiusOf('[0.3, 0.4]'), 0.5);
  assert.throws(() => radiusOf('abc'), /not a number/);
});

test('a table sharded by a radius column: each level on its shard, reads routed by radius', async () => {
  await client.query('CREATE TABLE concepts (id text NOT NULL, radius double precision NOT NULL, embedding vector(3), PRIMARY KEY (radius, id))');
  await client.query("SELECT create_distributed_table('concepts', 'radius', distribution_method => 'hyperbolic')");
  const partition = await client.query("SELECT partkey, colocationid FROM pg_dist_partition WHERE logicalrelid = 'concepts'::regclass");
  assert.equal(partition.rows[0].partkey, 'radius');
  const radii = [0.01, 0.12, 0.15, 0.33, 0.47, 0.58, 0.71, 0.93];
  for (const [i, r] of radii.entries()) {
    await client.query('INSERT INTO concepts (id, radius, embedding) VALUES ($1, $2, $3)', [`c${i}`, r, `[${r}, 0, 0]`]);
  }
  const placed = await rowsPerShard('concepts');
  for (const [i, r] of radii.entries()) {
    assert.ok(placed.get(hyperbolicShardIndex(r, SHARDS))!.includes(`c${i}`), `c${i} (radius ${r}) on shard ${hyperbolicShardIndex(r, SHARDS)}`);
  }
  assert.deepEqual((await client.query('SELECT id FROM concepts WHERE radius = 0.33')).rows, [{ id: 'c3' }]);
  assert.deepEqual((await client.query('SELECT id FROM concepts WHERE radius = $1', [0.71])).rows, [{ id: 'c6' }]);
  const nearest = await client.query("SELECT id FROM concepts ORDER BY embedding <-> '[0.5, 0, 0]' LIMIT 2");
  assert.deepEqual(nearest.rows.map((r) => r.id), ['c4', 'c5']);
  await assert.rejects(client.query("INSERT INTO concepts (id, radius) VALUES ('bad', 'NaN')"), /"NaN" is not a number/);
});

test("a table sharded by its vector's norm", async () => {
  await client.query('CREATE TABLE points (id text NOT NULL, embedding vector(2) NOT NULL)');
  await client.query("SELECT create_distributed_table('points', 'embedding', distribution_method => 'hyperbolic')");
  const points: [string, string][] = [['p0', '[0.03, 0.04]'], ['p1', '[0.3, 0.4]'], ['p2', '[0.6, 0.0]'], ['p3', '[0.0, 0.25]']];
  for (const [id, v] of points) await client.query('INSERT INTO points (id, embedding) VALUES ($1, $2)', [id, v]);
  const placed = await rowsPerShard('points');
  for (const [id, v] of points) assert.ok(placed.get(hyperbolicShardIndex(radiusOf(v), SHARDS))!.includes(id), `${id} at norm ${radiusOf(v)}`);
  assert.equal((await client.query('SELECT count(*)::int AS n FROM points')).rows[0].n, 4);
});

test('bad method, bad column type and mixing methods get clear errors', async () => {
  await client.query('CREATE TABLE wrong_method (id text, r float8)');
  await assert.rejects(client.query("SELECT create_distributed_table('wrong_method', 'r', distribution_method => 'spiral')"), /distribution_method "spiral" is not valid/);
  await client.query('CREATE TABLE wrong_type (id text, r text)');
  await assert.rejects(client.query("SELECT create_distributed_table('wrong_type', 'r', distribution_method => 'hyperbolic')"), /shards by a radius/);
  await client.query('CREATE TABLE hashed (ns text, r float8)');
  await assert.rejects(client.query("SELECT create_distributed_table('hashed', 'ns', colocate_with => 'concepts')"), /distributed by hyperbolic, not hash/);
});
