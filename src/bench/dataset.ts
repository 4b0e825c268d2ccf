/**
 * The bench's own data: clustered 384-dim embeddings in namespaces of Zipf-like
 * sizes (the demo's sizes and topics, under `bench-<i>/<topic>` names so the two
 * data sets never touch), generated from a seed so the coordinator and the plain
 * PostgreSQL baseline receive exactly the same rows, and query vectors near the
 * same topic centroids.
 */
import pg from 'pg';
import { demoDataset, vectorLiteral, DEMO_TOPICS, entryOnTopic, shuffledEntries, topicCentroids as demoTopicCentroids } from '../cli/demo.ts';
import { createProgress } from '../cli/progress.ts';
import { nearby } from '../util/vectors.ts';

export const BENCH_METADATA_KEY = 'bench_dataset';
/** Rows written by bulk_insert go here, away from the data set the searches use. */
export const BENCH_INSERT_NAMESPACE = 'bench-inserts';
export const BENCH_NAMESPACE_COUNT = 50;
const DATASET_VERSION = 1;

const BATCH_ROWS = 200;
const LOAD_CONNECTIONS = 4;
const QUERY_NOISE = 0.02;

export interface BenchNamespace {
  name: string;
  rows: number;
  primaryTopic: number;
}

export interface BenchDataset {
  rows: number;
  seed: number;
  /** Largest first. */
  namespaces: BenchNamespace[];
}

export interface BenchRow {
  namespace: string;
  key: string;
  value: string;
  embedding: string;
}

export function benchNamespaceName(i: number): string {
  return `bench-${i + 1}/${DEMO_TOPICS[i % DEMO_TOPICS.length]}`;
}

export function benchDataset(options: { rows: number; namespaces?: number; seed: number }): BenchDataset {
  const sizes = demoDataset({ rows: options.rows, namespaces: options.namespaces ?? BENCH_NAMESPACE_COUNT, seed: options.seed });
  return {
    rows: sizes.rows,
    seed: sizes.seed,
    namespaces: sizes.namespaces.map((ns, i) => ({ name: benchNamespaceName(i), rows: ns.rows, primaryTopic: ns.primaryTopic })),
  };
}

/** Mixed into the seed of the bench's topic directions: its data differs from the demo's. */
const BENCH_CENTROID_SALT = 0x0be7c4;

export function topicCentroids(seed: number): Float64Array[] {
  return demoTopicCentroids(seed, BENCH_CENTROID_SALT);
}

/** A vector on topic `topic`, as the entries are (noise drawn from `gaussian`). */
export function entryVector(seed: number, topic: number, gaussian: () => number, uniform: () => number): string {
  return entryOnTopic(topicCentroids(seed)[topic]!, gaussian, uniform);
}

export function queryVector(seed: number, topic: number, gaussian: () => number): string {
  return vectorLiteral(nearby(topicCentroids(seed)[topic]!, QUERY_NOISE, gaussian));
}

/** The data set's rows in a fixed shuffled order, so every batch mixes namespaces and shards. */
export function* benchRows(dataset: BenchDataset): Generator<BenchRow> {
  for (const { index, n, topic, embedding } of shuffledEntries(dataset.namespaces, dataset.seed, BENCH_CENTROID_SALT)) {
    const name = DEMO_TOPICS[topic]!;
    yield { namespace: dataset.namespaces[index]!.name, key: `${name}/${n}`, value: `bench note about ${name} #${n}`, embedding };
  }
}

/** One multi-row INSERT with parameters; `cast` is the vector type of the target (ruvector on dpg, vector on plain PostgreSQL). */
export function insertStatement(rows: readonly BenchRow[], cast: string): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const tuples = rows.map((row) => {
    const p = values.length;
    values.push(row.namespace, row.key, row.value, row.embedding);
    return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}::${cast})`;
  });
  return { text: `INSERT INTO memory_entries (namespace, key, value, embedding) VALUES ${tuples.join(', ')}`, values };
}

/** Sends every row of the data set to `url` in multi-row INSERTs over a few connections, with a progress bar. */
export async function loadRows(url: string, dataset: BenchDataset, cast: string, progress: boolean, unit = 'rows'): Promise<void> {
  const rows = benchRows(dataset);
  const nextBatch = (): BenchRow[] => {
    const batch: BenchRow[] = [];
    for (let next = rows.next(); !next.done; next = rows.next()) {
      batch.push(next.value);
      if (batch.length === BATCH_ROWS) break;
    }
    return batch;
  };
  const bar = progress ? createProgress({ total: dataset.rows, unit }) : null;
  const clients = await Promise.all(Array.from({ length: LOAD_CONNECTIONS }, async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  }));
  let done = 0;
  let failed = false;
  try {
    await Promise.all(clients.map(async (client) => {
      for (let batch = nextBatch(); batch.length > 0 && !failed; batch = nextBatch()) {
        const { text, values } = insertStatement(batch, cast);
        try {
          await client.query(text, values);
        } catch (error) {
          failed = true;
          throw error;
        }
        done += batch.length;
        bar?.update(done);
      }
    }));
  } finally {
    bar?.finish();
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

interface Marker {
  version: number;
  rows: number;
  seed: number;
  namespaces: number;
}

/** True when the coordinator holds exactly this data set (marker row and every namespace's count). */
async function loadedOnCluster(client: pg.Client, dataset: BenchDataset): Promise<boolean> {
  const marker = (await client.query<{ value: Marker }>('SELECT value FROM metadata WHERE key = $1', [BENCH_METADATA_KEY])).rows[0]?.value;
  if (!marker || marker.version !== DATASET_VERSION || marker.rows !== dataset.rows || marker.seed !== dataset.seed || marker.namespaces !== dataset.namespaces.length) return false;
  for (const ns of dataset.namespaces) {
    const count = await client.query<{ n: string }>('SELECT count(*) AS n FROM memory_entries WHERE namespace = $1', [ns.name]);
    if (Number(count.rows[0]!.n) !== ns.rows) return false;
  }
  return true;
}

/**
 * Loads the data set through the coordinator unless the marker says it is there
 * already; a different or interrupted earlier load is removed first, marker first.
 */
export async function ensureClusterDataset(url: string, dataset: BenchDataset, progress: boolean): Promise<{ reused: boolean; seconds: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    if (await loadedOnCluster(client, dataset)) return { reused: true, seconds: 0 };
    const started = performance.now();
    const previous = (await client.query<{ value: Marker }>('SELECT value FROM metadata WHERE key = $1', [BENCH_METADATA_KEY])).rows[0]?.value;
    await client.query('DELETE FROM metadata WHERE key = $1', [BENCH_METADATA_KEY]);
    const count = Math.max(dataset.namespaces.length, previous?.namespaces ?? BENCH_NAMESPACE_COUNT);
    for (let i = 0; i < count; i++) await client.query('DELETE FROM memory_entries WHERE namespace = $1', [benchNamespaceName(i)]);
    await loadRows(url, dataset, 'ruvector', progress);
    const marker: Marker = { version: DATASET_VERSION, rows: dataset.rows, seed: dataset.seed, namespaces: dataset.namespaces.length };
    await client.query(
      'INSERT INTO metadata (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()',
      [BENCH_METADATA_KEY, JSON.stringify(marker)],
    );
    return { reused: false, seconds: (performance.now() - started) / 1000 };
  } finally {
    await client.end().catch(() => undefined);
  }
}
