import pg from 'pg';
import { loadConfig } from '../src/config/config.ts';
import { buildLayout } from '../src/cluster/layout.ts';
import { readClusterState } from '../src/cluster/state.ts';
import { readSecrets } from '../src/cluster/secrets.ts';
import { shardIndexForValue } from '../src/catalog/shard-ranges.ts';
import { findGroupLeader } from '../src/executor/leaders.ts';
import { join } from 'node:path';

/**
 * The cost of the coordinator on the seed's single-namespace top-10 search: the
 * same query, same data, same parameters, sent to the coordinator and straight to
 * the worker that holds the namespace's shard, at 1, 2 and 8 clients.
 * Usage: npx tsx bench/coordinator-overhead.ts [--seconds 10] [--namespace agent-1/auth-patterns]
 */
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const seconds = Number(args.get('seconds') ?? 10);
const namespace = args.get('namespace') ?? 'agent-1/auth-patterns';

const loaded = loadConfig({});
const state = readClusterState(join(loaded.dataDir, 'cluster.json'));
if (!state) throw new Error(`no cluster in ${loaded.dataDir}: run npm start first`);
const layout = buildLayout(loaded.config, loaded.dataDir, state.nodesRoot);
const secrets = readSecrets(layout.secretsFile)!;
const coordinatorUrl = { host: '127.0.0.1', port: layout.clientPort, user: secrets.appUser, password: secrets.appPassword, database: loaded.config.cluster.database };

const control = new pg.Client(coordinatorUrl);
await control.connect();
const shardIndex = shardIndexForValue(namespace, loaded.config.distribution.shard_count);
const shard = (await control.query(
  "SELECT s.shardid, p.groupid AS group_id FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) WHERE s.logicalrelid = 'memory_entries'::regclass ORDER BY s.shardid OFFSET $1 LIMIT 1",
  [shardIndex],
)).rows[0];
const count = (await control.query('SELECT count(*)::int AS n FROM memory_entries WHERE namespace = $1', [namespace])).rows[0].n;
await control.end();
const group = layout.groups[shard.group_id]!;
const leader = await findGroupLeader(group.nodes.map((n) => ({ name: n.name, groupId: group.id, host: n.host, port: n.pgPort, patroniPort: n.restPort })));
const workerUrl = { ...coordinatorUrl, host: leader!.host, port: leader!.port };

const vector = `[${Array.from({ length: 384 }, (_, i) => Math.sin(i * 0.37).toFixed(6)).join(',')}]`;
const query = (table: string) =>
  `SELECT namespace, key, value, 1 - (embedding <=> $1::ruvector) AS similarity FROM ${table} WHERE namespace = $2 ORDER BY embedding <=> $1::ruvector LIMIT 10`;

async function run(target: pg.ClientConfig, table: string, clients: number): Promise<{ p50: number; p99: number; qps: number }> {
  const connections = await Promise.all(Array.from({ length: clients }, async () => {
    const c = new pg.Client(target);
    await c.connect();
    await c.query({ name: 'search', text: query(table), values: [vector, namespace] });
    return c;
  }));
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(connections.map(async (c) => {
    while (performance.now() < deadline) {
      const start = performance.now();
      await c.query({ name: 'search', text: query(table), values: [vector, namespace] });
      latencies.push(performance.now() - start);
    }
  }));
  await Promise.all(connections.map((c) => c.end()));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { p50: at(0.5), p99: at(0.99), qps: latencies.length / seconds };
}

console.log(`namespace ${namespace}: ${count} rows, shard memory_entries_${shard.shardid} on group ${group.name}; ${seconds} s per run`);
console.log('clients  target       p50 ms   p99 ms     QPS   latency ratio  QPS ratio');
for (const clients of [1, 2, 8]) {
  const direct = await run(workerUrl, `memory_entries_${shard.shardid}`, clients);
  const viaDpg = await run(coordinatorUrl, 'memory_entries', clients);
  const row = (name: string, r: typeof direct) => `${String(clients).padStart(7)}  ${name.padEnd(11)} ${r.p50.toFixed(2).padStart(7)}  ${r.p99.toFixed(2).padStart(7)}  ${r.qps.toFixed(0).padStart(6)}`;
  console.log(row('worker', direct));
  console.log(`${row('coordinator', viaDpg)}   ${(viaDpg.p50 / direct.p50).toFixed(2).padStart(10)}x  ${(viaDpg.qps / direct.qps).toFixed(2).padStart(8)}x`);
}
