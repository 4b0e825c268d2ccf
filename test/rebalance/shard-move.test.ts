import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import { shardIndexForValue } from '../../src/catalog/shard-ranges.ts';
import { onPrimary, type AdminContext } from '../../src/rebalance/admin.ts';
import { createMove } from '../../src/rebalance/move-catalog.ts';
import { runMove } from '../../src/rebalance/shard-move.ts';
import { moveDebris } from '../../src/rebalance/replication-objects.ts';
import { existingTables } from '../../src/rebalance/shard-ddl.ts';

// Online shard moves on a real cluster: 2 worker groups of a primary and a synchronous
// standby, 4 shards. Besides the seed's tables, `scratch` is UNLOGGED (ephemeral: never
// in the WAL, copied at the cutover) and `notes` has no key (replicated by whole rows).
const SHARDS = 4;
let cluster: TestCluster;
let admin: AdminContext;
let client: pg.Client;

const VECTOR = `[${Array.from({ length: 384 }, (_, i) => ((i % 5) - 2) / 10).join(',')}]`;

/** Namespaces whose rows live on shard index `index`. */
function namespacesOn(index: number, count: number, prefix = 'ns'): string[] {
  const found: string[] = [];
  for (let i = 0; found.length < count; i++) if (shardIndexForValue(`${prefix}-${i}`, SHARDS) === index) found.push(`${prefix}-${i}`);
  return found;
}

async function shardOf(table: string, index: number): Promise<{ shardId: string; group: number }> {
  const rows = await client.query(
    `SELECT s.shardid::text AS shardid, p.groupid FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
     WHERE s.logicalrelid = $1::regclass ORDER BY s.shardminvalue::int`,
    [table],
  );
  return { shardId: rows.rows[index].shardid, group: rows.rows[index].groupid };
}

async function debris(): Promise<string[]> {
  const found: string[] = [];
  for (const group of [1, 2]) for (const item of await onPrimary(admin, group, moveDebris)) found.push(`group ${group}: ${item}`);
  return found;
}

/** Shard tables on a group that the catalog does not place there. */
async function orphanTables(): Promise<string[]> {
  const placed = await client.query(`SELECT logicalrelid::text || '_' || shardid AS name, groupid FROM pg_dist_shard JOIN pg_dist_placement USING (shardid)`);
  const orphans: string[] = [];
  for (const group of [1, 2]) {
    const names = placed.rows.map((r) => r.name as string);
    const present = await onPrimary(admin, group, (c) => existingTables(c, names));
    for (const name of present) if (!placed.rows.some((r) => r.name === name && r.groupid === group)) orphans.push(`group ${group}: ${name}`);
  }
  return orphans;
}

/**
 * Writers and readers through the coordinator while a move runs: every write's outcome
 * and every read's answer is recorded.
 */
function startLoad(namespaces: string[]) {
  const acknowledged = new Set<string>();
  const failures: string[] = [];
  const counters = new Map<string, number>();
  let reads = 0;
  let stop = false;
  let longestWriteGapMs = 0;
  let lastAck = performance.now();
  const writer = async (w: number) => {
    const c = new pg.Client(cluster.url);
    await c.connect();
    try {
      for (let n = 1; !stop; n++) {
        const namespace = namespaces[n % namespaces.length]!;
        const key = `w${w}-${n}`;
        try {
          await c.query('INSERT INTO memory_entries (namespace, key, value, embedding) VALUES ($1, $2, $3, $4::vector)', [namespace, key, 'v', VECTOR]);
          acknowledged.add(`${namespace}/${key}`);
          await c.query(`UPDATE memory_entries SET value = $3 WHERE namespace = $1 AND key = $2`, [namespaces[0], `counter-${w}`, String(n)]);
          counters.set(`counter-${w}`, n);
          await c.query(`INSERT INTO notes (namespace, body) VALUES ($1, $2)`, [namespace, key]);
          await c.query(`UPDATE notes SET body = body || '!' WHERE namespace = $1 AND body = $2`, [namespace, key]);
          const now = performance.now();
          longestWriteGapMs = Math.max(longestWriteGapMs, now - lastAck);
          lastAck = now;
        } catch (error) {
          failures.push(`write ${namespace}/${key}: ${(error as Error).message}`);
        }
      }
    } finally {
      await c.end();
    }
  };
  const reader = async () => {
    const c = new pg.Client(cluster.url);
    await c.connect();
    try {
      while (!stop) {
        const known = [...acknowledged];
        const pick = known[Math.floor(Math.random() * known.length)];
        if (!pick) {
          await new Promise((r) => setTimeout(r, 10));
          continue;
        }
        const [namespace, key] = pick.split('/');
        try {
          const found = await c.query('SELECT key FROM memory_entries WHERE namespace = $1 AND key = $2', [namespace, key]);
          if (found.rows.length !== 1) failures.push(`read ${pick}: ${found.rows.length} rows`);
          reads++;
        } catch (error) {
          failures.push(`read ${pick}: ${(error as Error).message}`);
        }
      }
    } finally {
      await c.end();
    }
  };
  const running = [writer(1), writer(2), writer(3), reader(), reader()];
  return {
    acknowledged,
    failures,
    counters,
    reads: () => reads,
    longestWriteGapMs: () => longestWriteGapMs,
    async stop() {
      stop = true;
      await Promise.all(running);
    },
  };
}

before(async () => {
  cluster = await startTestCluster({
    basePort: 12432,
    workerGroups: 2,
    shardCount: SHARDS,
    replicationFactor: 2,
    extraConfig: [
      "replication: { tables: { critical: ['memory_entries', 'patterns', 'graph_nodes', 'graph_edges', 'trajectories', 'notes'], audit: ['pattern_history'], ephemeral: ['sessions', 'scratch'] } }",
    ],
  });
  admin = { layout: cluster.layout, secrets: cluster.secrets, database: 'distributed_postgres_cluster', indexBuildMemory: '256MB', threshold: 0.2, log: () => {} };
  client = new pg.Client(cluster.url);
  await client.connect();
  await client.query('CREATE TABLE scratch (namespace text NOT NULL, k text NOT NULL, v text, PRIMARY KEY (namespace, k))');
  await client.query("SELECT create_distributed_table('scratch', 'namespace')");
  await client.query('CREATE TABLE notes (namespace text NOT NULL, body text)');
  await client.query("SELECT create_distributed_table('notes', 'namespace')");
});

after(async () => {
  await client?.end();
  await cluster?.stop();
});

test('a shard group moves under concurrent writes and reads: nothing lost, nothing duplicated, every read answered, no debris', async () => {
  const index = 0;
  const namespaces = namespacesOn(index, 4);
  const before = await shardOf('memory_entries', index);
  const target = before.group === 1 ? 2 : 1;
  // Rows before the move: a few hundred per namespace, the counters, UNLOGGED rows.
  for (const namespace of namespaces) {
    const values = Array.from({ length: 200 }, (_, i) => `('${namespace}', 'pre-${i}', 'v', '${VECTOR}')`).join(', ');
    await client.query(`INSERT INTO memory_entries (namespace, key, value, embedding) VALUES ${values}`);
    await client.query(`INSERT INTO scratch (namespace, k, v) VALUES ${Array.from({ length: 50 }, (_, i) => `('${namespace}', 'k${i}', 'v')`).join(', ')}`);
  }
  for (const w of [1, 2, 3]) await client.query(`INSERT INTO memory_entries (namespace, key, value) VALUES ($1, $2, '0')`, [namespaces[0], `counter-${w}`]);

  const load = startLoad(namespaces);
  await new Promise((r) => setTimeout(r, 1500));
  const id = await onPrimary(admin, 0, (control) => createMove(control, before.shardId, target));
  const phases = new Set<string>();
  const result = await runMove(admin, id, { onProgress: (p) => phases.add(p.phase) });
  await new Promise((r) => setTimeout(r, 1500));
  await load.stop();

  assert.equal(result.move.state, 'done');
  assert.deepEqual(load.failures, [], 'every write acknowledged and every read answered');
  assert.ok(load.acknowledged.size > 50 && load.reads() > 50, `load ran: ${load.acknowledged.size} writes, ${load.reads()} reads`);
  const after = await shardOf('memory_entries', index);
  assert.equal(after.group, target, 'the catalog places the shard on the target group');
  assert.equal((await shardOf('scratch', index)).group, target, 'co-located shards moved with it');
  assert.equal((await shardOf('notes', index)).group, target);
  // Nothing lost, nothing duplicated.
  const rows = await client.query(`SELECT namespace || '/' || key AS id FROM memory_entries WHERE namespace = ANY ($1) AND key LIKE 'w%'`, [namespaces]);
  const seen = rows.rows.map((r) => r.id as string);
  assert.equal(new Set(seen).size, seen.length, 'no row twice');
  for (const id of load.acknowledged) assert.ok(seen.includes(id), `acknowledged ${id} is there`);
  const pre = await client.query(`SELECT count(*)::int AS n FROM memory_entries WHERE namespace = ANY ($1) AND key LIKE 'pre-%'`, [namespaces]);
  assert.equal(pre.rows[0].n, 200 * namespaces.length);
  for (const [key, n] of load.counters) {
    const counter = await client.query('SELECT value FROM memory_entries WHERE namespace = $1 AND key = $2', [namespaces[0], key]);
    assert.ok(Number(counter.rows[0].value) >= n, `${key}: the last acknowledged update (${n}) is there`);
  }
  const notes = await client.query(`SELECT body FROM notes WHERE namespace = ANY ($1)`, [namespaces]);
  assert.equal(notes.rows.length, new Set(notes.rows.map((r) => r.body)).size, 'notes (no key) not duplicated');
  const scratch = await client.query(`SELECT count(*)::int AS n FROM scratch WHERE namespace = ANY ($1)`, [namespaces]);
  assert.equal(scratch.rows[0].n, 50 * namespaces.length, 'UNLOGGED rows copied at the cutover');
  // The target answers vector searches with its own HNSW index.
  const indexes = await onPrimary(admin, target, async (c) => (await c.query(`SELECT indexname FROM pg_indexes WHERE tablename = $1`, [`memory_entries_${before.shardId}`])).rows.map((r) => r.indexname));
  assert.ok(indexes.some((i: string) => i.startsWith('idx_memory_embedding_hnsw_')), `HNSW index on the target: ${indexes}`);
  assert.deepEqual(await debris(), [], 'no slot, publication, subscription or prepared transaction left');
  assert.deepEqual(await orphanTables(), [], 'no shard table left where the catalog does not place it');
  assert.ok(phases.has('copy') && phases.has('catch-up'), `progress reported: ${[...phases]}`);
  console.log(`move ${id}: pause ${result.move.pauseMs?.toFixed(1)} ms, longest write gap ${load.longestWriteGapMs().toFixed(0)} ms, ${load.acknowledged.size} writes, ${load.reads()} reads`);
});
