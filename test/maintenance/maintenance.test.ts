import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import { runDpg } from '../support/dpg-cli.ts';
import { connectNode, groupLeader, withClient } from '../../src/cluster/connect.ts';
import { waitFor } from '../../src/cluster/processes.ts';
import { CronSchedule, CronError } from '../../src/maintenance/cron.ts';

// Scheduled maintenance from config: here every minute, so that a run comes within the
// test. The seed's weekly schedules are the defaults.
let cluster: TestCluster;

test('cron schedules: fields, lists, ranges, steps, Sunday as 0 or 7, either day field', () => {
  const at = (iso: string) => new Date(iso);
  assert.ok(new CronSchedule('0 3 * * 0').matches(at('2026-11-29T03:00:00Z')), 'Sunday 03:00');
  assert.ok(new CronSchedule('0 3 * * 7').matches(at('2026-11-29T03:00:00Z')), '7 is Sunday too');
  assert.ok(!new CronSchedule('0 3 * * 0').matches(at('2026-11-28T03:00:00Z')), 'not Saturday');
  assert.ok(new CronSchedule('*/15 * * * *').matches(at('2026-11-28T10:45:00Z')));
  assert.ok(!new CronSchedule('*/15 * * * *').matches(at('2026-11-28T10:46:00Z')));
  assert.ok(new CronSchedule('0 4 1,15 * 6').matches(at('2026-11-28T04:00:00Z')), 'day of week matches while day of month does not');
  assert.ok(new CronSchedule('0 9-17/4 * * *').matches(at('2026-11-28T13:00:00Z')));
  assert.deepEqual(new CronSchedule('0 * * * *').due(at('2026-11-28T10:00:00Z'), at('2026-11-28T12:30:00Z')).map((d) => d.toISOString()), ['2026-11-28T11:00:00.000Z', '2026-11-28T12:00:00.000Z']);
  for (const bad of ['0 3 * *', '61 * * * *', '0 3 * * 8', '*/0 * * * *', 'a b c d e']) assert.throws(() => new CronSchedule(bad), CronError, bad);
});

before(async () => {
  cluster = await startTestCluster({
    basePort: 14432,
    workerGroups: 2,
    shardCount: 2,
    extraConfig: ["maintenance: { reindex_schedule: '* * * * *', analyze_schedule: '* * * * *' }"],
    distribution: "shard_rebalancing: { schedule: '* * * * *', strategy: by_shard_count }",
  });
});

after(async () => {
  await cluster?.stop();
});

test('every minute: the shard with the most dead rows gets its HNSW index rebuilt, every shard is analyzed; dpg status shows both', async () => {
  const client = new pg.Client(cluster.url);
  await client.connect();
  try {
    const vector = `[${Array.from({ length: 384 }, (_, i) => ((i % 7) - 3) / 10).join(',')}]`;
    const values = Array.from({ length: 400 }, (_, i) => `('maint', 'k${i + 1}', 'v', $1::vector)`).join(', ');
    await client.query(`INSERT INTO memory_entries (namespace, key, value, embedding) VALUES ${values}`, [vector]);
    await client.query("DELETE FROM memory_entries WHERE namespace = 'maint' AND key LIKE 'k1%'");
    const filenodes = async (): Promise<Map<string, string>> => {
      const found = new Map<string, string>();
      for (const group of cluster.layout.groups.filter((g) => g.kind === 'worker')) {
        const leader = (await groupLeader(group))!;
        const rows = await withClient(await connectNode(leader, cluster.secrets, 'distributed_postgres_cluster'), async (c) =>
          (await c.query<{ relname: string; relfilenode: string }>("SELECT c.relname, c.relfilenode FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'hnsw' AND c.relname LIKE 'idx_memory_embedding_hnsw_%'")).rows,
        );
        for (const row of rows) found.set(row.relname, row.relfilenode);
      }
      return found;
    };
    const before = await filenodes();
    const runs = await waitFor('a reindex and an analyze run', 150_000, async () => {
      const rows = (await client.query<{ job: string; result: string; detail: string }>("SELECT job, result, detail FROM dpg_maintenance WHERE result <> 'running' ORDER BY started_at")).rows;
      return rows.some((r) => r.job === 'reindex') && rows.some((r) => r.job === 'analyze') ? rows : null;
    }, 1000);
    const reindex = runs.find((r) => r.job === 'reindex')!;
    assert.equal(reindex.result, 'ok', reindex.detail);
    assert.match(reindex.detail, /reindexed idx_memory_embedding_hnsw_\d+ of memory_entries_\d+ \(\d+ dead, \d+ live rows\)/);
    const rebuilt = /of (memory_entries_\d+)/.exec(reindex.detail)![1]!.replace('memory_entries_', 'idx_memory_embedding_hnsw_');
    const afterwards = await filenodes();
    assert.notEqual(afterwards.get(rebuilt), before.get(rebuilt), `${rebuilt} was rebuilt (a new relfilenode)`);
    const analyze = runs.find((r) => r.job === 'analyze')!;
    assert.equal(analyze.result, 'ok', analyze.detail);
    assert.match(analyze.detail, /analyzed \d+ shards/);
    const duplicates = await client.query('SELECT job, scheduled_for FROM dpg_maintenance GROUP BY 1, 2 HAVING count(*) > 1');
    assert.equal(duplicates.rows.length, 0, 'one run per job and minute');
    const status = await runDpg(['status', '--config', cluster.configFile], { cwd: cluster.dir });
    assert.match(status.stdout, /^MAINTENANCE .*RESULT/m);
    assert.match(status.stdout, /^reindex .* ok .*reindexed idx_memory_embedding_hnsw_/m);
    assert.match(status.stdout, /^analyze .* ok .*analyzed \d+ shards/m);
  } finally {
    await client.end();
  }
});

test('the scheduled rebalance (distribution.shard_rebalancing.schedule) moves a shard back after both shards ended up on one group', async () => {
  const client = new pg.Client(cluster.url);
  await client.connect();
  try {
    const perGroup = async () =>
      (await client.query(`SELECT p.groupid, count(*)::int AS n FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) WHERE s.logicalrelid = 'memory_entries'::regclass GROUP BY 1 ORDER BY 1`)).rows.map((r) => [r.groupid, r.n]);
    assert.deepEqual(await perGroup(), [[1, 1], [2, 1]]);
    const onTwo = (await client.query(`SELECT shardid FROM pg_dist_shard JOIN pg_dist_placement USING (shardid) WHERE logicalrelid = 'memory_entries'::regclass AND groupid = 2`)).rows[0].shardid;
    const nodes = await client.query(`SELECT groupid, min(nodeid) AS nodeid FROM pg_dist_node WHERE groupid > 0 GROUP BY groupid ORDER BY groupid`);
    const since = (await client.query('SELECT now() AS t')).rows[0].t;
    // A scheduled run that starts while this move runs finds it unfinished and does nothing; the next one rebalances.
    await client.query(`SELECT citus_move_shard_placement(${onTwo}, ${nodes.rows[1].nodeid}, ${nodes.rows[0].nodeid})`);
    assert.deepEqual(await perGroup(), [[1, 2]]);
    const run = await waitFor('a scheduled rebalance that moves a shard', 150_000, async () => {
      const rows = (await client.query<{ result: string; detail: string }>("SELECT result, detail FROM dpg_maintenance WHERE job = 'rebalance' AND started_at > $1 AND result = 'ok' AND detail LIKE '%move(s)%'", [since])).rows;
      return rows[0] ?? null;
    }, 1000);
    assert.match(run.detail, /^1 move\(s\) \(shard \d+ 1->2\); by_shard_count imbalance 1\.00 -> 0\.00 \(\d+\.\d s\)$/);
    assert.deepEqual(await perGroup(), [[1, 1], [2, 1]]);
    const status = await runDpg(['status', '--config', cluster.configFile], { cwd: cluster.dir });
    assert.match(status.stdout, /^rebalance .* ok /m);
  } finally {
    await client.end();
  }
});
