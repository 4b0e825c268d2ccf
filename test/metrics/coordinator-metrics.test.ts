import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import { waitFor } from '../../src/cluster/processes.ts';
import { METRICS } from '../../src/metrics/metric-names.ts';
import { runDpg } from '../support/dpg-cli.ts';

// The coordinator's /metrics, /health and /ready on a real cluster with standbys:
// the seed's metrics have samples after real queries, the collector fills the
// shard and replication gauges, and the namespace label stays bounded.
const LABEL_LIMIT = 3;
let cluster: TestCluster;
let metricsUrl: string;

before(async () => {
  cluster = await startTestCluster({
    basePort: 7432,
    replicationFactor: 2,
    extraConfig: [`metrics: { namespace_label_limit: ${LABEL_LIMIT}, collect_interval_seconds: 1 }`],
  });
  metricsUrl = `http://127.0.0.1:${cluster.layout.metricsPort}`;
});

after(async () => {
  await cluster?.stop();
});

async function scrape(): Promise<string> {
  const response = await fetch(`${metricsUrl}/metrics`);
  assert.equal(response.status, 200);
  return response.text();
}

/** Samples of a metric: label sets and values. */
function samples(text: string, name: string): { labels: string; value: number }[] {
  const out: { labels: string; value: number }[] = [];
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (match) out.push({ labels: match[1] ?? '', value: Number(match[2]) });
  }
  return out;
}

test('/health and /ready answer 200; an unknown path 404', async () => {
  assert.equal((await fetch(`${metricsUrl}/health`)).status, 200);
  assert.equal((await fetch(`${metricsUrl}/ready`)).status, 200);
  assert.equal((await fetch(`${metricsUrl}/nope`)).status, 404);
});

test('queries show up in the seed metrics and in dpg_* metrics', async () => {
  const client = new pg.Client(cluster.url);
  await client.connect();
  try {
    const vector = `[${Array.from({ length: 384 }, (_, i) => (i % 7) / 10).join(',')}]`;
    for (let i = 0; i < 20; i++) {
      await client.query('INSERT INTO memory_entries (namespace, key, embedding) VALUES ($1, $2, $3::ruvector)', [`ns-${i}`, `k${i}`, vector]);
    }
    for (let i = 0; i < 10; i++) {
      await client.query('SELECT key FROM memory_entries WHERE namespace = $1 ORDER BY embedding <=> $2::ruvector LIMIT 5', [`ns-${i}`, vector]);
    }
    await client.query('SELECT key FROM memory_entries ORDER BY embedding <=> $1::ruvector LIMIT 5', [vector]);
    await client.query('SELECT count(*) FROM memory_entries');
    await assert.rejects(client.query('SELECT 1/0'));
  } finally {
    await client.end();
  }
  const text = await scrape();
  for (const name of Object.keys(METRICS)) assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exported`);
  const searches = samples(text, 'vector_search_duration_seconds_count');
  assert.equal(searches.reduce((sum, s) => sum + s.value, 0), 11, 'every search was timed');
  const namespaces = new Set(searches.map((s) => /namespace="([^"]*)"/.exec(s.labels)?.[1]));
  assert.ok(namespaces.size <= LABEL_LIMIT + 2, `namespace label values bounded: ${[...namespaces].join(', ')}`);
  assert.ok(namespaces.has('_other'), 'namespaces beyond the limit are counted as _other');
  assert.ok(samples(text, 'vector_search_results_total').reduce((sum, s) => sum + s.value, 0) >= 10);
  assert.ok(samples(text, 'shard_query_latency_seconds_count').some((s) => s.labels.includes('query_type="insert"')));
  assert.ok(samples(text, 'dpg_statements_total').some((s) => s.labels.includes('route="router"') && s.value >= 30));
  assert.ok(samples(text, 'dpg_statements_total').some((s) => s.labels.includes('route="multi_shard"')));
  assert.ok(samples(text, 'dpg_errors_total').some((s) => s.labels.includes('sqlstate_class="22"') && s.value >= 1));
  assert.ok(samples(text, 'dpg_plan_cache_hits_total')[0]!.value > 0);
  // Histogram buckets are cumulative and end with +Inf = _count, as Prometheus expects.
  const buckets = samples(text, 'shard_query_latency_seconds_bucket').filter((s) => s.labels.includes('query_type="insert"'));
  const counts = samples(text, 'shard_query_latency_seconds_count').filter((s) => s.labels.includes('query_type="insert"'));
  for (const count of counts) {
    const shard = /shard_id="([^"]*)"/.exec(count.labels)![1];
    const mine = buckets.filter((b) => b.labels.includes(`shard_id="${shard}"`));
    assert.ok(mine.every((b, i) => i === 0 || b.value >= mine[i - 1]!.value), 'cumulative buckets');
    assert.equal(mine.find((b) => b.labels.includes('le="+Inf"'))?.value, count.value);
  }
  // The coordinator's CPU per statement since the last scrape: positive after 30-odd statements, and bounded.
  const cpu = samples(text, 'dpg_statement_cpu_microseconds')[0]!.value;
  assert.ok(cpu > 0 && cpu < 1_000_000, `dpg_statement_cpu_microseconds ${cpu}`);
});

test('the collector fills shard sizes, row counts, replication lag and leader gauges', async () => {
  const text = await waitFor('the collector to see the new rows', 20_000, async () => {
    const t = await scrape();
    const rows = samples(t, 'shard_row_count').filter((s) => s.labels.includes('table_name="memory_entries"'));
    return rows.reduce((sum, s) => sum + s.value, 0) >= 20 ? t : null;
  });
  assert.ok(samples(text, 'shard_size_bytes').length >= 6, 'a size per shard');
  const lag = samples(text, 'replication_lag_bytes');
  assert.equal(lag.length, 2, 'one standby per worker group');
  assert.ok(samples(text, 'replication_lag_seconds').length === 2);
  const leaders = samples(text, 'dpg_group_has_leader');
  assert.deepEqual(leaders.map((s) => s.value), [1, 1, 1]);
  assert.ok(samples(text, 'dpg_pool_connections').length > 0);
  assert.equal(samples(text, 'dpg_client_connections_max')[0]!.value, 500);
});

test('dpg up --monitoring adds Prometheus with the alert rules, scraping the coordinator and a PostgreSQL exporter per node', async () => {
  const up = await runDpg(['up', '--monitoring', '--config', cluster.configFile], { cwd: cluster.dir });
  assert.equal(up.code, 0, up.stderr);
  const prometheus = `http://127.0.0.1:${cluster.layout.prometheusPort}`;
  assert.match(up.stdout, new RegExp(`prometheus\\s+running.*${prometheus.replace(/[./]/g, '\\$&')}`));
  const targets = await waitFor('every scrape target to be up', 60_000, async () => {
    const body = (await (await fetch(`${prometheus}/api/v1/targets`)).json()) as { data: { activeTargets: { labels: { job: string }; health: string }[] } };
    const active = body.data.activeTargets;
    return active.length === 6 && active.every((t) => t.health === 'up') ? active : null;
  });
  assert.deepEqual(targets.map((t) => t.labels.job).sort(), ['dpg-coordinator', 'postgres', 'postgres', 'postgres', 'postgres', 'postgres']);
  const rules = (await (await fetch(`${prometheus}/api/v1/rules`)).json()) as { data: { groups: { name: string; rules: unknown[] }[] } };
  assert.equal(rules.data.groups[0]!.name, 'distributed_postgres_alerts');
  assert.ok(rules.data.groups[0]!.rules.length >= 7);
  const status = await runDpg(['status', '--json', '--config', cluster.configFile], { cwd: cluster.dir });
  const processes = (JSON.parse(status.stdout) as { processes: { name: string; running: boolean; url?: string }[] }).processes;
  assert.ok(processes.find((p) => p.name === 'prometheus')?.running);
  assert.equal(processes.filter((p) => p.name.startsWith('exporter-') && p.running).length, 5);
});
