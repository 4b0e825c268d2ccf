import pg from 'pg';
import { startStandalonePostgres } from '../src/cluster/standalone-postgres.ts';
import { SEED_TABLES, tableDDL } from '../src/catalog/seed-schema.ts';
import { DEFAULT_CONFIG, hnswProfileIn } from '../src/config/config.ts';
import { entryVector, queryVector, topicCentroids } from '../src/bench/dataset.ts';
import { DEMO_TOPICS } from '../src/cli/demo.ts';
import { seededFloats } from '../src/util/random.ts';
import { seededGaussian } from '../src/util/vectors.ts';

/**
 * Where exact search of a namespace stops being faster than an HNSW index of its own
 * (vector.exact_search_max_rows): one PostgreSQL shaped like a worker shard (the
 * cluster's memory settings), namespaces of 250 to 32,000 rows among 2,000 filler
 * namespaces of Zipf sizes, every query top-10 by cosine distance. For each size: p50 of the exact
 * form (`ORDER BY (embedding <=> q) * 1`), then of the namespace's own partial HNSW
 * index (built as the tier manager builds it), its recall@10 and its build time.
 * Usage: npx tsx bench/tier-crossover.ts [--queries 200] [--sizes 250,500,...]
 */
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const queries = Number(args.get('queries') ?? 200);
const sizes = (args.get('sizes') ?? '250,500,1000,2000,4000,8000,16000,32000').split(',').map(Number);
const FILLER_ROWS = 40_000;
const FILLER_NAMESPACES = 2000;
const SEED = 42;

const settings = Object.fromEntries(
  Object.entries(DEFAULT_CONFIG.postgres.parameters)
    .filter(([k]) => ['shared_buffers', 'work_mem', 'maintenance_work_mem', 'effective_cache_size', 'max_parallel_workers_per_gather', 'hnsw.ef_search'].includes(k))
    .map(([k, v]) => [k, String(v)]),
);
const server = await startStandalonePostgres({ fsync: 'off', ...settings }, 'dpg-tier-crossover-');
const client = new pg.Client({ connectionString: server.url });
await client.connect();
const uniform = seededFloats(SEED);
const gaussian = seededGaussian(SEED + 1);
topicCentroids(SEED);

async function load(namespace: string, rows: number, topic: number): Promise<void> {
  for (let start = 0; start < rows; start += 500) {
    const values: string[] = [];
    const params: string[] = [];
    for (let i = start; i < Math.min(rows, start + 500); i++) {
      const t = uniform() < 0.5 ? topic : Math.floor(uniform() * DEMO_TOPICS.length);
      params.push(namespace, `k${i}`, entryVector(SEED, t, gaussian, uniform));
      values.push(`($${params.length - 2}, $${params.length - 1}, $${params.length}::vector)`);
    }
    await client.query(`INSERT INTO memory_entries (namespace, key, embedding) VALUES ${values.join(', ')}`, params);
  }
}

function p50(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

try {
  await client.query('CREATE EXTENSION IF NOT EXISTS vector');
  for (const statement of tableDDL(SEED_TABLES.find((t) => t.name === 'memory_entries')!, null)) await client.query(statement);
  // Thousands of neighbours of skewed (Zipf) sizes share the table, as on a busy shard.
  const harmonic = Array.from({ length: FILLER_NAMESPACES }, (_, i) => 1 / (i + 1)).reduce((a, b) => a + b, 0);
  const fillerSizes = Array.from({ length: FILLER_NAMESPACES }, (_, i) => Math.max(1, Math.round(FILLER_ROWS / (i + 1) / harmonic)));
  process.stdout.write(`loading ${fillerSizes.reduce((a, b) => a + b, 0)} filler rows in ${FILLER_NAMESPACES} namespaces (${fillerSizes[0]} ... ${fillerSizes.at(-1)} rows) and ${sizes.join(', ')}-row namespaces...\n`);
  for (const [i, size] of fillerSizes.entries()) await load(`filler-${i}`, size, i % DEMO_TOPICS.length);
  for (const [i, size] of sizes.entries()) await load(`ns-${size}`, size, i % DEMO_TOPICS.length);
  const profile = hnswProfileIn(DEFAULT_CONFIG.hnsw.profiles, 0);
  await client.query(`CREATE INDEX ON memory_entries USING hnsw (embedding vector_cosine_ops) WITH (m = ${profile.m}, ef_construction = ${profile.ef_construction})`);
  await client.query('VACUUM ANALYZE memory_entries');

  const rows: string[][] = [['rows', 'exact p50 ms', 'own index p50 ms', 'recall@10', 'index build s', 'shared index rows/query']];
  for (const [i, size] of sizes.entries()) {
    const ns = `ns-${size}`;
    const vectors = Array.from({ length: queries }, () => queryVector(SEED, uniform() < 0.7 ? i % DEMO_TOPICS.length : Math.floor(uniform() * DEMO_TOPICS.length), gaussian));
    const run = async (sql: string): Promise<{ ms: number[]; keys: string[][] }> => {
      const ms: number[] = [];
      const keys: string[][] = [];
      for (const v of vectors) {
        const t0 = performance.now();
        const result = await client.query<{ key: string }>(sql, [v]);
        ms.push(performance.now() - t0);
        keys.push(result.rows.map((r) => r.key));
      }
      return { ms, keys };
    };
    const shared = await run(`SELECT key FROM memory_entries WHERE namespace = '${ns}' ORDER BY embedding <=> $1::vector LIMIT 10`);
    const exact = await run(`SELECT key FROM memory_entries WHERE namespace = '${ns}' ORDER BY (embedding <=> $1::vector) * 1 LIMIT 10`);
    const own = hnswProfileIn(DEFAULT_CONFIG.hnsw.profiles, size);
    const built = performance.now();
    await client.query(`CREATE INDEX CONCURRENTLY idx_${size} ON memory_entries USING hnsw (embedding vector_cosine_ops) WITH (m = ${own.m}, ef_construction = ${own.ef_construction}) WHERE namespace = '${ns}'`);
    const buildSeconds = (performance.now() - built) / 1000;
    const indexed = await run(`SELECT key FROM memory_entries WHERE namespace = '${ns}' ORDER BY embedding <=> $1::vector LIMIT 10`);
    let recall = 0;
    indexed.keys.forEach((found, q) => {
      const truth = new Set(exact.keys[q]);
      recall += found.filter((k) => truth.has(k)).length / Math.max(1, truth.size);
    });
    const sharedRows = shared.keys.reduce((a, k) => a + k.length, 0) / shared.keys.length;
    rows.push([String(size), p50(exact.ms).toFixed(2), p50(indexed.ms).toFixed(2), (recall / queries).toFixed(3), buildSeconds.toFixed(2), sharedRows.toFixed(1)]);
    process.stdout.write(`${rows.at(-1)!.join('  ')}\n`);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  process.stdout.write(`\n${rows.map((r) => r.map((cell, c) => cell.padStart(widths[c]!)).join('  ')).join('\n')}\n`);
} finally {
  await client.end().catch(() => {});
  await server.stop();
}
