/**
 * `npm start`'s demo: loads clustered vector memory through the coordinator, then
 * runs the seed's two searches (one namespace, several namespaces) and reports
 * their results and latencies. Everything goes through the client URL with
 * node-postgres, as any application would.
 */
import pg from 'pg';
import { EMBEDDING_DIMENSIONS } from '../catalog/seed-schema.ts';
import { createProgress, type Progress } from './progress.ts';
import { seededFloats } from '../util/random.ts';
import { seededGaussian, normalize, nearby, vectorLiteral } from '../util/vectors.ts';

export { vectorLiteral };

export const DEMO_DEFAULTS = { rows: 20_000, namespaces: 50, seed: 42 } as const;

/** The topics of the demo's memory; each is one cluster of embeddings (seed-style names). */
export const DEMO_TOPICS = [
  'auth-patterns', 'error-handling', 'api-design', 'caching', 'database-migrations', 'rate-limiting',
  'logging', 'testing-strategies', 'deployment', 'security-reviews', 'performance-tuning', 'code-review',
  'dependency-updates', 'feature-flags', 'observability', 'incident-response', 'data-pipelines', 'search-ranking',
  'vector-indexing', 'session-management', 'payments', 'notifications', 'user-onboarding', 'access-control',
  'schema-design', 'query-optimization', 'background-jobs', 'config-management', 'frontend-state', 'accessibility',
  'localization', 'mobile-sync', 'file-uploads', 'email-delivery', 'billing', 'analytics-events',
  'ml-inference', 'prompt-engineering', 'agent-planning', 'tool-use',
] as const;

/** The metadata row that marks a complete load; written last. */
export const DEMO_METADATA_KEY = 'demo_dataset';

const BATCH_ROWS = 200;
/** Concurrent loading connections: batches span every worker group, so a few in flight keep them all busy. */
const LOAD_CONNECTIONS = 4;
const SEARCH_RUNS = 50;
/** Share of a namespace's entries on its own topic; the rest spread over all topics. */
const PRIMARY_TOPIC_SHARE = 0.5;
/** Per-dimension gaussian noise around a topic centroid: cosine similarity to it is then about 0.8. */
const ENTRY_NOISE = { min: 0.03, max: 0.05 };
const QUERY_NOISE = 0.02;

export class DemoError extends Error {}

export interface DemoNamespace {
  name: string;
  rows: number;
  /** Index into DEMO_TOPICS of the topic most of its entries are about. */
  primaryTopic: number;
}

export interface DemoDataset {
  rows: number;
  seed: number;
  /** Largest first (Zipf-like sizes). */
  namespaces: DemoNamespace[];
}

export interface SearchHit {
  namespace: string;
  key: string;
  value: string;
  similarity: number;
}

export interface SearchReport {
  namespaces: string[];
  /** The topic the query vector is near. */
  topic: string;
  limit: number;
  p50Ms: number;
  p95Ms: number;
  runs: number;
  /** Every returned row, in the order the coordinator returned them. */
  top: SearchHit[];
}

export interface DemoReport {
  url: string;
  dataset: DemoDataset;
  loadedRows: number;
  skipped: boolean;
  loadSeconds: number;
  single: SearchReport;
  cross: SearchReport;
}

export interface DemoOptions {
  url: string;
  rows?: number;
  namespaces?: number;
  seed?: number;
  out?: (line: string) => void;
  progress?: boolean;
}


const centroidCache = new Map<string, Float64Array[]>();
/** Mixed into the seed of the demo's topic directions (the bench has its own, so the two data sets differ). */
const DEMO_CENTROID_SALT = 0x5eed_c0de;

/** One random direction per topic: in 384 dimensions, random directions are nearly orthogonal. */
export function topicCentroids(seed: number, salt = DEMO_CENTROID_SALT): Float64Array[] {
  const key = `${seed}:${salt}`;
  let centroids = centroidCache.get(key);
  if (!centroids) {
    const gaussian = seededGaussian(seed ^ salt);
    centroids = DEMO_TOPICS.map(() => normalize(Float64Array.from({ length: EMBEDDING_DIMENSIONS }, gaussian)));
    centroidCache.set(key, centroids);
  }
  return centroids;
}

/** A vector on a topic, as data set entries are: noise of a random width drawn from `uniform`, directions from `gaussian`. */
export function entryOnTopic(centroid: Float64Array, gaussian: () => number, uniform: () => number): string {
  const sigma = ENTRY_NOISE.min + (ENTRY_NOISE.max - ENTRY_NOISE.min) * uniform();
  return vectorLiteral(nearby(centroid, sigma, gaussian));
}

/**
 * Every entry of a data set (demo or bench) in a fixed shuffled order, so every batch
 * mixes namespaces and shards: its namespace (index), number within it, topic and
 * embedding. Generated lazily: 100,000 embeddings as text are hundreds of megabytes.
 */
export function* shuffledEntries(
  namespaces: readonly { rows: number; primaryTopic: number }[],
  seed: number,
  salt = DEMO_CENTROID_SALT,
): Generator<{ index: number; n: number; topic: number; embedding: string }> {
  const uniform = seededFloats(seed);
  const gaussian = seededGaussian(seed + 1);
  const centroids = topicCentroids(seed, salt);
  const order: [namespace: number, n: number][] = [];
  namespaces.forEach((ns, i) => {
    for (let n = 1; n <= ns.rows; n++) order.push([i, n]);
  });
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (const [index, n] of order) {
    const ns = namespaces[index]!;
    const topic = uniform() < PRIMARY_TOPIC_SHARE ? ns.primaryTopic : Math.floor(uniform() * DEMO_TOPICS.length);
    yield { index, n, topic, embedding: entryOnTopic(centroids[topic]!, gaussian, uniform) };
  }
}

/** A query vector near topic `topic` (an index into DEMO_TOPICS), the same for the same seed. */
export function topicQueryVector(seed: number, topic: number): number[] {
  const gaussian = seededGaussian((seed * 1_000_003 + topic * 7919 + 17) >>> 0);
  return Array.from(nearby(topicCentroids(seed)[topic]!, QUERY_NOISE, gaussian));
}

/** The i-th namespace (0-based, largest first); the name does not depend on the seed or the sizes. */
export function demoNamespaceName(i: number): string {
  return `agent-${i + 1}/${DEMO_TOPICS[i % DEMO_TOPICS.length]}`;
}

/**
 * Namespace names and sizes: `agent-<i>/<topic>`, sizes proportional to 1/i (Zipf):
 * a few large namespaces and a long tail of small ones. Largest remainders make the
 * sizes add up to `rows` exactly.
 */
export function demoDataset(options: { rows?: number; namespaces?: number; seed?: number } = {}): DemoDataset {
  const rows = options.rows ?? DEMO_DEFAULTS.rows;
  const count = options.namespaces ?? DEMO_DEFAULTS.namespaces;
  const seed = options.seed ?? DEMO_DEFAULTS.seed;
  if (!Number.isInteger(count) || count < 1) throw new DemoError(`namespaces ${count} is not allowed: a whole number of at least 1`);
  if (!Number.isInteger(rows) || rows < count) throw new DemoError(`rows ${rows} is not allowed: a whole number of at least the namespace count (${count})`);
  if (!Number.isInteger(seed) || seed < 0) throw new DemoError(`seed ${seed} is not allowed: a whole number of at least 0`);

  // One row per namespace first, the rest by weight.
  const weights = Array.from({ length: count }, (_, i) => 1 / (i + 1));
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const spread = rows - count;
  const exact = weights.map((w) => (w / totalWeight) * spread);
  const sizes = exact.map((x) => 1 + Math.floor(x));
  const byRemainder = exact.map((x, i) => ({ i, remainder: x - Math.floor(x) })).sort((a, b) => b.remainder - a.remainder || a.i - b.i);
  const missing = rows - sizes.reduce((a, b) => a + b, 0);
  for (let k = 0; k < missing; k++) sizes[byRemainder[k]!.i]!++;

  const namespaces = sizes.map((size, i) => ({ name: demoNamespaceName(i), rows: size, primaryTopic: i % DEMO_TOPICS.length }));
  return { rows, seed, namespaces };
}

interface DemoRow {
  namespace: string;
  key: string;
  value: string;
  embedding: string;
  topic: string;
}

/**
 * The dataset's rows in a fixed shuffled order, so every batch mixes namespaces
 * (and shards). Generated lazily, batch by batch: 20,000 embeddings as text are
 * tens of megabytes.
 */
function* demoRows(dataset: DemoDataset): Generator<DemoRow> {
  for (const { index, n, topic, embedding } of shuffledEntries(dataset.namespaces, dataset.seed)) {
    const name = DEMO_TOPICS[topic]!;
    yield { namespace: dataset.namespaces[index]!.name, key: `${name}/${n}`, value: `note about ${name} #${n}`, embedding, topic: name };
  }
}

/** The topic of a demo entry, from its key (`<topic>/<n>`). */
export function topicOfKey(key: string): string {
  return key.slice(0, key.lastIndexOf('/'));
}

function insertStatement(rows: DemoRow[]): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const tuples = rows.map((row) => {
    const p = values.length;
    values.push(row.namespace, row.key, row.value, row.embedding, JSON.stringify({ topic: row.topic, source: 'dpg-demo' }), ['demo', row.topic]);
    return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}::ruvector, $${p + 5}::jsonb, $${p + 6}::text[])`;
  });
  return { text: `INSERT INTO memory_entries (namespace, key, value, embedding, metadata, tags) VALUES ${tuples.join(', ')}`, values };
}

interface Marker {
  rows: number;
  seed: number;
  namespaces: number;
}

async function readMarker(client: pg.Client): Promise<Marker | null> {
  const result = await client.query<{ value: Marker }>('SELECT value FROM metadata WHERE key = $1', [DEMO_METADATA_KEY]);
  return result.rows[0]?.value ?? null;
}

async function namespaceCount(client: pg.Client, namespace: string): Promise<number> {
  // Per namespace: a count over every shard is not something to rely on here.
  const result = await client.query<{ count: string }>('SELECT count(*) AS count FROM memory_entries WHERE namespace = $1', [namespace]);
  return Number(result.rows[0]!.count);
}

/** True when the marker says this dataset was loaded and every namespace still holds its rows. */
async function alreadyLoaded(client: pg.Client, dataset: DemoDataset): Promise<boolean> {
  const marker = await readMarker(client);
  if (!marker || marker.rows !== dataset.rows || marker.seed !== dataset.seed || marker.namespaces !== dataset.namespaces.length) return false;
  for (const ns of dataset.namespaces) if ((await namespaceCount(client, ns.name)) !== ns.rows) return false;
  return true;
}

/** Removes what an earlier (different or interrupted) demo load left, marker first. */
async function clearPreviousLoad(client: pg.Client, dataset: DemoDataset): Promise<void> {
  const marker = await readMarker(client);
  await client.query('DELETE FROM metadata WHERE key = $1', [DEMO_METADATA_KEY]);
  const namespaces = Math.max(dataset.namespaces.length, marker?.namespaces ?? 0);
  for (let i = 0; i < namespaces; i++) await client.query('DELETE FROM memory_entries WHERE namespace = $1', [demoNamespaceName(i)]);
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

async function load(url: string, dataset: DemoDataset, progress: Progress | null): Promise<void> {
  const rows = demoRows(dataset);
  const nextBatch = (): DemoRow[] => {
    const batch: DemoRow[] = [];
    while (batch.length < BATCH_ROWS) {
      const next = rows.next();
      if (next.done) break;
      batch.push(next.value);
    }
    return batch;
  };
  const clients = await Promise.all(Array.from({ length: LOAD_CONNECTIONS }, () => connect(url)));
  let done = 0;
  let failed = false;
  try {
    // Each connection takes the next batch as soon as its previous one commits; the
    // generator runs synchronously, so batch contents do not depend on timing.
    await Promise.all(
      clients.map(async (client) => {
        for (let batch = nextBatch(); batch.length > 0 && !failed; batch = nextBatch()) {
          const { text, values } = insertStatement(batch);
          try {
            await client.query(text, values);
          } catch (error) {
            failed = true; // the other connections stop after their current batch
            throw error;
          }
          done += batch.length;
          progress?.update(done);
        }
      }),
    );
  } finally {
    progress?.finish();
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function timedSearch(client: pg.Client, name: string, text: string, values: unknown[]): Promise<{ hits: SearchHit[]; p50Ms: number; p95Ms: number }> {
  // A named statement: parsed and planned once, as an application's prepared query would be.
  const query = { name, text, values };
  const first = await client.query<SearchHit>(query);
  const latencies: number[] = [];
  for (let run = 0; run < SEARCH_RUNS; run++) {
    const started = performance.now();
    await client.query(query);
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  const hits = first.rows.map((r) => ({ namespace: r.namespace, key: r.key, value: r.value, similarity: Number(r.similarity) }));
  return { hits, p50Ms: percentile(latencies, 50), p95Ms: percentile(latencies, 95) };
}

const SINGLE_NAMESPACE_SQL =
  'SELECT namespace, key, value, 1 - (embedding <=> $1::ruvector) AS similarity FROM memory_entries ' +
  'WHERE namespace = $2 ORDER BY embedding <=> $1::ruvector LIMIT 10';
const CROSS_NAMESPACE_SQL =
  'SELECT namespace, key, value, 1 - (embedding <=> $1::ruvector) AS similarity FROM memory_entries ' +
  'WHERE namespace = ANY($2) ORDER BY embedding <=> $1::ruvector LIMIT 20';

/** The seed's namespace-scoped search: the largest namespace, a query near its main topic. */
export async function singleNamespaceSearch(client: pg.Client, dataset: DemoDataset, topic = dataset.namespaces[0]!.primaryTopic, namespace = dataset.namespaces[0]!.name): Promise<SearchReport> {
  const vector = vectorLiteral(topicQueryVector(dataset.seed, topic));
  const result = await timedSearch(client, 'dpg_demo_single_namespace', SINGLE_NAMESPACE_SQL, [vector, namespace]);
  return { namespaces: [namespace], topic: DEMO_TOPICS[topic]!, limit: 10, runs: SEARCH_RUNS, p50Ms: result.p50Ms, p95Ms: result.p95Ms, top: result.hits };
}

/** The seed's cross-namespace search: five namespaces of different sizes (so, most likely, shards). */
export async function crossNamespaceSearch(client: pg.Client, dataset: DemoDataset): Promise<SearchReport> {
  const picks = [1, 2, 4, 7, 12].map((i) => dataset.namespaces[Math.min(i, dataset.namespaces.length - 1)]!);
  const namespaces = [...new Set(picks.map((ns) => ns.name))];
  const topic = picks[1]!.primaryTopic;
  const vector = vectorLiteral(topicQueryVector(dataset.seed, topic));
  const result = await timedSearch(client, 'dpg_demo_cross_namespace', CROSS_NAMESPACE_SQL, [vector, namespaces]);
  return { namespaces, topic: DEMO_TOPICS[topic]!, limit: 20, runs: SEARCH_RUNS, p50Ms: result.p50Ms, p95Ms: result.p95Ms, top: result.hits };
}

const count = new Intl.NumberFormat('en-US');

function printSearch(out: (line: string) => void, title: string, report: SearchReport): void {
  out(`${title}: query near '${report.topic}', LIMIT ${report.limit}, in ${report.namespaces.join(', ')}`);
  for (const [i, hit] of report.top.slice(0, 3).entries()) {
    const where = report.namespaces.length > 1 ? `${hit.namespace}  ` : '';
    out(`  ${i + 1}. ${where}${hit.key.padEnd(28)} ${hit.value.padEnd(40)} similarity ${hit.similarity.toFixed(4)}`);
  }
  if (report.top.length > 3) out(`  ... ${report.top.length - 3} more`);
  out(`  latency over ${report.runs} runs: p50 ${report.p50Ms.toFixed(1)} ms, p95 ${report.p95Ms.toFixed(1)} ms`);
}

/** Loads the demo dataset through the coordinator (unless already there), runs the seed's searches, prints and returns what it saw. */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dataset = demoDataset(options);
  const total = count.format(dataset.rows);
  const client = await connect(options.url);
  try {
    const skipped = await alreadyLoaded(client, dataset);
    let loadSeconds = 0;
    if (skipped) {
      out(`demo data already loaded (${total} memory entries in ${dataset.namespaces.length} namespaces, seed ${dataset.seed}): skipping the load`);
    } else {
      out(`loading demo data through the coordinator: ${total} memory entries, ${DEMO_TOPICS.length} topics, ${EMBEDDING_DIMENSIONS}-dim embeddings, ${dataset.namespaces.length} namespaces (${dataset.namespaces[0]!.name}: ${count.format(dataset.namespaces[0]!.rows)} ... ${dataset.namespaces.at(-1)!.name}: ${count.format(dataset.namespaces.at(-1)!.rows)})`);
      const started = performance.now();
      await clearPreviousLoad(client, dataset);
      const progress = options.progress === false ? null : createProgress({ total: dataset.rows, unit: 'rows' });
      await load(options.url, dataset, progress);
      const marker: Marker = { rows: dataset.rows, seed: dataset.seed, namespaces: dataset.namespaces.length };
      await client.query(
        'INSERT INTO metadata (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()',
        [DEMO_METADATA_KEY, JSON.stringify(marker)],
      );
      loadSeconds = (performance.now() - started) / 1000;
      out(`loaded ${total} rows in ${loadSeconds.toFixed(1)} s (${count.format(Math.round(dataset.rows / loadSeconds))} rows/s)`);
    }
    out('');
    const single = await singleNamespaceSearch(client, dataset);
    printSearch(out, 'single-namespace search', single);
    out('');
    const cross = await crossNamespaceSearch(client, dataset);
    printSearch(out, 'cross-namespace search', cross);
    out('');
    out(`connect: psql '${options.url}'`);
    out(`  e.g. SELECT key, value FROM memory_entries WHERE namespace = '${dataset.namespaces[0]!.name}' LIMIT 5;`);
    return { url: options.url, dataset, loadedRows: skipped ? 0 : dataset.rows, skipped, loadSeconds, single, cross };
  } finally {
    await client.end().catch(() => undefined);
  }
}
