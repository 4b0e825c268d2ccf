import pg from 'pg';

/**
 * Cross-namespace search against single-namespace search through dpg, on the data a
 * cluster already holds (npx dpg bench loads 50 namespaces): the 20 largest
 * namespaces of memory_entries, top-10 of one of them against top-20 of 5 of them,
 * closed loop at 1 and at 4 connections, p50/p90 latency in ms. Query vectors are
 * stored embeddings of those namespaces.
 * Usage: npx tsx bench/cross-namespace.ts [--url URL] [--queries 300] [--like 'bench-%']
 * (URL: default $DPG_URL; --like: only namespaces matching this LIKE pattern.)
 */
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const url = args.get('url') ?? process.env.DPG_URL;
if (!url) throw new Error('give --url or set DPG_URL (npx dpg url)');
const queries = Number(args.get('queries') ?? 300);
const like = args.get('like') ?? '%';

const client = new pg.Client({ connectionString: url });
await client.connect();
const largest = (
  await client.query<{ namespace: string; rows: string; tier: string }>(
    "SELECT namespace, row_count AS rows, tier FROM dpg_namespaces WHERE table_name = 'memory_entries' AND namespace LIKE $1 ORDER BY row_count DESC LIMIT 20",
    [like],
  )
).rows;
if (largest.length < 5) throw new Error('fewer than 5 namespaces: load data first (npx dpg bench)');
console.log(`namespaces: ${largest.map((r) => `${r.namespace} (${r.rows}, ${r.tier})`).join(', ')}`);
const vectors = (
  await client.query<{ e: string }>('SELECT embedding::text AS e FROM memory_entries WHERE namespace = ANY($1) LIMIT 200', [largest.map((r) => r.namespace)])
).rows.map((r) => r.e);
await client.end();

let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

async function run(connections: number, cross: boolean): Promise<void> {
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    clients.map(async (c) => {
      while (next < queries) {
        const i = next++;
        const vector = vectors[i % vectors.length];
        const started = performance.now();
        if (cross) {
          const picked = [...largest].sort(() => random() - 0.5).slice(0, 5).map((r) => r.namespace);
          await c.query('SELECT namespace, key, embedding <=> $1::vector AS distance FROM memory_entries WHERE namespace = ANY($2) ORDER BY embedding <=> $1::vector LIMIT 20', [vector, picked]);
        } else {
          await c.query('SELECT namespace, key, embedding <=> $1::vector AS distance FROM memory_entries WHERE namespace = $2 ORDER BY embedding <=> $1::vector LIMIT 10', [vector, largest[i % largest.length]!.namespace]);
        }
        latencies.push(performance.now() - started);
      }
    }),
  );
  await Promise.all(clients.map((c) => c.end()));
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!.toFixed(2);
  console.log(`${connections} connection(s)  ${cross ? 'cross-namespace (5, top-20)' : 'single namespace (top-10)  '}  p50 ${at(0.5)} ms  p90 ${at(0.9)} ms`);
}

for (const connections of [1, 4]) {
  await run(connections, false);
  await run(connections, true);
}
