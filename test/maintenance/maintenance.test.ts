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
    workerGroups: 1,
    shardCount: 2,
    extraConfig: ["maintenance: { reindex_schedule: '* * * * *', analyze_schedule: '* * * * *' }"],
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
    const leader = (await groupLeader(cluster.layout.groups[1]!))!;
    const filenodes = async (): Promise<Map<string, string>> =>
      withClient(await connectNode(leader, cluster.secrets, 'distributed_postgres_cluster'), async (c) =>
        new Map((await c.query<{ relname: string; relfilenode: string }>("SELECT c.relname, c.relfilenode FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'hnsw' AND c.relname LIKE 'idx_memory_embedding_hnsw_%'")).rows.map((r) => [r.relname, r.relfilenode])),
      );
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
