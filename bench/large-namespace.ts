import pg from 'pg';
import { entryVector, queryVector } from '../src/bench/dataset.ts';
import { DEMO_TOPICS } from '../src/cli/demo.ts';
import { createProgress } from '../src/cli/progress.ts';
import { seededFloats } from '../src/util/random.ts';
import { seededGaussian } from '../src/util/vectors.ts';

/**
 * Recall of one large namespace searched through dpg (issue #5: "recall@k >= 0.95 for
 * namespaces from 1 row to several hundred thousand rows"). Loads --rows entries into
 * one namespace through the coordinator (half on the namespace's own topic, half on
 * others), waits until the tier manager has given it an HNSW index of its own, then
 * runs --queries top-10 searches through dpg: as dpg runs them (its hnsw.ef_search),
 * and with the session's own hnsw.ef_search at each of --ef values; each against the
 * exact answer, which dpg computes when the search has a condition besides the
 * namespace (`AND key IS NOT NULL`: every row has a key).
 * Usage: npx tsx bench/large-namespace.ts [--url URL] [--rows 300000] [--queries 100] [--ef 50,100,200]
 * (URL: default $DPG_URL).
 */
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const url = args.get('url') ?? process.env.DPG_URL;
if (!url) throw new Error('give --url or set DPG_URL (npx dpg url)');
const rows = Number(args.get('rows') ?? 300_000);
const queries = Number(args.get('queries') ?? 100);
const efValues = (args.get('ef') ?? '50,100,200').split(',').map(Number);
const SEED = 42;
const TOPIC = 3;
const namespace = `large-${rows}`;
const BATCH = 500;
const CONNECTIONS = 4;

const client = new pg.Client({ connectionString: url });
await client.connect();

const count = async () => Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM memory_entries WHERE namespace = $1', [namespace])).rows[0]!.n);

if ((await count()) !== rows) {
  await client.query('DELETE FROM memory_entries WHERE namespace = $1', [namespace]);
  const uniform = seededFloats(SEED + rows);
  const gaussian = seededGaussian(SEED + rows + 1);
  const bar = createProgress({ total: rows, unit: 'rows' });
  const loaders = await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    return c;
  }));
  let next = 0;
  const started = performance.now();
  await Promise.all(loaders.map(async (c) => {
    while (next < rows) {
      const start = next;
      next = Math.min(rows, next + BATCH);
      const params: string[] = [];
      const values: string[] = [];
      for (let i = start; i < next; i++) {
        const topic = uniform() < 0.5 ? TOPIC : Math.floor(uniform() * DEMO_TOPICS.length);
        params.push(namespace, `k${i}`, entryVector(SEED, topic, gaussian, uniform));
        values.push(`($${params.length - 2}, $${params.length - 1}, $${params.length}::vector)`);
      }
      await c.query(`INSERT INTO memory_entries (namespace, key, embedding) VALUES ${values.join(', ')}`, params);
      bar.update(next);
    }
  }));
  bar.finish();
  await Promise.all(loaders.map((c) => c.end()));
  console.log(`loaded ${rows} rows through dpg in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

// The tier manager counts every tier_check_interval_seconds and builds the index concurrently.
const waitStarted = performance.now();
for (;;) {
  const tier = (await client.query<{ tier: string; m: number; ef_construction: number }>("SELECT tier, m, ef_construction FROM dpg_namespaces WHERE table_name = 'memory_entries' AND namespace = $1", [namespace])).rows[0];
  if (tier?.tier === 'hnsw') {
    console.log(`namespace ${namespace}: tier hnsw (m ${tier.m}, ef_construction ${tier.ef_construction}), waited ${((performance.now() - waitStarted) / 1000).toFixed(0)} s`);
    break;
  }
  if (performance.now() - waitStarted > 60 * 60_000) throw new Error(`no own index after an hour (tier ${tier?.tier ?? 'none'})`);
  await new Promise((r) => setTimeout(r, 5000));
}

const gaussian = seededGaussian(SEED * 7 + 1);
const uniform = seededFloats(SEED * 7 + 2);
const vectors = Array.from({ length: queries }, () => queryVector(SEED, uniform() < 0.7 ? TOPIC : Math.floor(uniform() * DEMO_TOPICS.length), gaussian));
const search = `SELECT key FROM memory_entries WHERE namespace = $2 ORDER BY embedding <=> $1::vector LIMIT 10`;
const exactSearch = `SELECT key FROM memory_entries WHERE namespace = $2 AND key IS NOT NULL ORDER BY embedding <=> $1::vector LIMIT 10`;

async function run(sql: string): Promise<{ keys: string[][]; p50: number }> {
  const keys: string[][] = [];
  const times: number[] = [];
  for (const v of vectors) {
    const t0 = performance.now();
    const result = await client.query<{ key: string }>(sql, [v, namespace]);
    times.push(performance.now() - t0);
    keys.push(result.rows.map((r) => r.key));
  }
  times.sort((a, b) => a - b);
  return { keys, p50: times[Math.floor(times.length / 2)]! };
}

const exact = await run(exactSearch);
const report = (label: string, got: { keys: string[][]; p50: number }) => {
  let hits = 0;
  let returned = 0;
  got.keys.forEach((keys, i) => {
    const truth = new Set(exact.keys[i]);
    hits += keys.filter((k) => truth.has(k)).length;
    returned += keys.length;
  });
  console.log(`${label.padEnd(28)} recall@10 ${(hits / (exact.keys.length * 10)).toFixed(3)}  rows/query ${(returned / got.keys.length).toFixed(1)}  p50 ${got.p50.toFixed(2)} ms`);
};
console.log(`${queries} top-10 queries on ${rows} rows; exact (dpg, other filter): p50 ${exact.p50.toFixed(2)} ms`);
report("dpg's own ef_search", await run(search));
for (const ef of efValues) {
  await client.query(`SET hnsw.ef_search = ${ef}`);
  report(`session hnsw.ef_search ${ef}`, await run(search));
}
await client.query('RESET hnsw.ef_search');
await client.end();
