import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config/config.ts';
import { buildLayout } from '../src/cluster/layout.ts';
import { layoutAdminContext } from '../src/cluster/connect.ts';
import { readClusterState, workerGroupIdsOf } from '../src/cluster/state.ts';
import { readSecrets, userUrl } from '../src/cluster/secrets.ts';
import { onPrimary, type AdminContext } from '../src/rebalance/admin.ts';
import { createMove } from '../src/rebalance/move-catalog.ts';
import { runMove } from '../src/rebalance/shard-move.ts';

/**
 * A shard move on a running cluster, under a closed-loop load on that shard's
 * namespaces: vector searches (top-10, one namespace) and single-row INSERTs. Reports
 * the move's throughput (rows/s and MB/s of its copy, index build and whole move), the
 * cutover's write pause as the mover measured it and as clients saw it (longest gap
 * between acknowledged writes), and search and write latency before the move (the
 * same load, same length) against during it. The shard is moved back afterwards
 * unless --stay.
 * Usage: npx tsx bench/shard-move.ts [--data-dir .dpg] [--shard ID] [--seconds 10] [--readers 2] [--writers 2] [--write-rate 50] [--stay]
 * (--write-rate: INSERTs per second over all writers; 0: as fast as they go.)
 * (default shard: the largest memory_entries shard group.)
 */
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i++) {
  const flag = process.argv[i]!.replace(/^--/, '');
  const value = process.argv[i + 1];
  if (value === undefined || value.startsWith('--')) args.set(flag, 'true');
  else args.set(flag, value), i++;
}
const dataDir = args.get('data-dir') ?? '.dpg';
const seconds = Number(args.get('seconds') ?? 10);
const writers = Number(args.get('writers') ?? 2);
const writeRate = Number(args.get('write-rate') ?? 50);
const loaded = loadConfig({ dataDir });
const state = readClusterState(join(loaded.dataDir, 'cluster.json'));
if (!state) throw new Error(`no cluster in ${loaded.dataDir}`);
const layout = buildLayout(loaded.config, loaded.dataDir, state.nodesRoot, state.coordinators, workerGroupIdsOf(state));
const secrets = readSecrets(layout.secretsFile)!;
const url = userUrl(loaded.config.users, secrets, undefined, layout.host, layout.clientPort, loaded.config.cluster.database);
const admin: AdminContext = layoutAdminContext(layout, secrets, { database: loaded.config.cluster.database, indexBuildMemory: loaded.config.vector.index_build_memory, threshold: 0.2, log: (line) => console.log(`  ${line}`) });

const client = new pg.Client(url);
await client.connect();
const shards = (
  await client.query<{ shardid: string; groupid: number; size: string }>(
    `SELECT s.shardid::text, p.groupid, coalesce(st.size_bytes, 0) AS size FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
     LEFT JOIN dpg_catalog.shard_stats st ON st.shardid = s.shardid WHERE s.logicalrelid = 'memory_entries'::regclass ORDER BY s.shardminvalue::int`,
  )
).rows;
const chosen = args.has('shard') ? shards.find((s) => s.shardid === args.get('shard')) : [...shards].sort((a, b) => Number(b.size) - Number(a.size))[0];
if (!chosen) throw new Error(`no memory_entries shard ${args.get('shard')}`);
const index = shards.indexOf(chosen);
const groups = [...new Set(shards.map((s) => s.groupid))].sort();
const target = groups.map((g) => ({ g, n: shards.filter((s) => s.groupid === g).length })).filter((x) => x.g !== chosen.groupid).sort((a, b) => a.n - b.n)[0]!.g;
// The shard's namespaces: those whose rows are in it, by dpg's own routing.
const namespaces = (await client.query<{ namespace: string }>(`SELECT namespace FROM dpg_namespaces WHERE table_name = 'memory_entries' AND shardid = $1 ORDER BY row_count DESC LIMIT 20`, [chosen.shardid])).rows.map((r) => r.namespace);
if (namespaces.length === 0) throw new Error(`shard ${chosen.shardid} holds no namespace: load data first (npx dpg bench)`);
const vectors = (await client.query<{ e: string }>(`SELECT embedding::text AS e FROM memory_entries WHERE namespace = ANY ($1) AND embedding IS NOT NULL LIMIT 100`, [namespaces])).rows.map((r) => r.e);
await client.end();
console.log(`shard ${chosen.shardid} (index ${index}, group ${chosen.groupid} -> ${target}), namespaces ${namespaces.slice(0, 5).join(', ')}${namespaces.length > 5 ? ', ...' : ''}`);

interface LoadResult {
  searches: number[];
  writes: number[];
  errors: string[];
  longestWriteGapMs: number;
}

async function load(until: () => boolean): Promise<LoadResult> {
  const result: LoadResult = { searches: [], writes: [], errors: [], longestWriteGapMs: 0 };
  let lastAck = performance.now();
  const worker = async (kind: 'search' | 'write', w: number) => {
    const c = new pg.Client(url);
    await c.connect();
    try {
      for (let n = 0; !until(); n++) {
        const namespace = namespaces[n % namespaces.length]!;
        if (kind === 'write' && writeRate > 0) await new Promise((r) => setTimeout(r, (1000 * writers) / writeRate));
        const started = performance.now();
        try {
          if (kind === 'search') {
            await c.query('SELECT key FROM memory_entries WHERE namespace = $1 ORDER BY embedding <=> $2::vector LIMIT 10', [namespace, vectors[n % vectors.length]]);
            result.searches.push(performance.now() - started);
          } else {
            await c.query('INSERT INTO memory_entries (namespace, key, value, embedding) VALUES ($1, $2, $3, $4::vector)', [namespace, `move-bench-${process.pid}-${w}-${Date.now()}-${n}`, 'v', vectors[n % vectors.length]]);
            const now = performance.now();
            result.writes.push(now - started);
            result.longestWriteGapMs = Math.max(result.longestWriteGapMs, now - lastAck);
            lastAck = now;
          }
        } catch (error) {
          result.errors.push((error as Error).message);
        }
      }
    } finally {
      await c.end();
    }
  };
  await Promise.all([
    ...Array.from({ length: Number(args.get('readers') ?? 2) }, (_, i) => worker('search', i)),
    ...Array.from({ length: writers }, (_, i) => worker('write', i)),
  ]);
  return result;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const row = (label: string, r: LoadResult, elapsed: number) =>
  `| ${label} | ${(r.searches.length / elapsed).toFixed(0)} | ${percentile(r.searches, 50).toFixed(2)} | ${percentile(r.searches, 99).toFixed(1)} | ${r.searches.reduce((a, b) => Math.max(a, b), 0).toFixed(0)} | ${(r.writes.length / elapsed).toFixed(0)} | ${percentile(r.writes, 50).toFixed(2)} | ${percentile(r.writes, 99).toFixed(1)} | ${r.longestWriteGapMs.toFixed(0)} | ${r.errors.length} |`;

const beforeEnd = Date.now() + seconds * 1000;
const before = await load(() => Date.now() > beforeEnd);

let moving = true;
const duringStarted = performance.now();
const during = load(() => !moving);
const id = await onPrimary(admin, 0, (control) => createMove(control, chosen.shardid, target));
const moveStarted = performance.now();
const moved = await runMove(admin, id);
const moveMs = performance.now() - moveStarted;
moving = false;
const duringResult = await during;
const duringSeconds = (performance.now() - duringStarted) / 1000;

const { move, steps } = moved;
const copyMs = (steps.setup ?? 0) + (steps.copying ?? 0);
const mb = (move.bytesTotal ?? 0) / 1024 / 1024;
console.log(`\nmove ${move.id}: ${move.rowsTotal} rows, ${mb.toFixed(1)} MB (tables and indexes on the source), ${move.shardIds.length} shards`);
console.log(`steps (ms): ${Object.entries(steps).map(([k, v]) => `${k} ${v!.toFixed(0)}`).join(', ')}`);
console.log(`whole move ${(moveMs / 1000).toFixed(1)} s: ${((move.rowsTotal ?? 0) / (moveMs / 1000)).toFixed(0)} rows/s, ${(mb / (moveMs / 1000)).toFixed(1)} MB/s`);
console.log(`copy and index build ${(copyMs / 1000).toFixed(1)} s: ${((move.rowsTotal ?? 0) / (copyMs / 1000)).toFixed(0)} rows/s, ${(mb / (copyMs / 1000)).toFixed(1)} MB/s`);
console.log(`cutover write pause (mover, lock to commit): ${move.pauseMs?.toFixed(1)} ms; longest gap between acknowledged writes during the move: ${duringResult.longestWriteGapMs.toFixed(0)} ms`);
console.log('\n| load | searches/s | search p50 ms | p99 ms | max ms | writes/s | write p50 ms | p99 ms | longest write gap ms | errors |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
console.log(row(`before (${seconds} s)`, before, seconds));
console.log(row(`during the move (${duringSeconds.toFixed(1)} s)`, duringResult, duringSeconds));
if (duringResult.errors.length > 0) console.log(`errors: ${[...new Set(duringResult.errors)].slice(0, 5).join('; ')}`);

if (!args.has('stay')) {
  const back = await onPrimary(admin, 0, (control) => createMove(control, chosen.shardid, chosen.groupid));
  await runMove(admin, back);
  console.log(`moved back to group ${chosen.groupid} (move ${back})`);
}
