/**
 * The requests of each scenario, fixed by the seed before any runs so every
 * target answers the same sequence: searches in the data set's largest
 * namespaces with query vectors near their topics (as the seed's locust script
 * picks among test-namespace-0..9), batched inserts and single-row updates.
 */
import pg from 'pg';
import { DEMO_TOPICS } from '../cli/demo.ts';
import { seededFloats } from '../util/random.ts';
import { BENCH_INSERT_NAMESPACE, entryVector, insertStatement, queryVector, type BenchDataset, type BenchRow } from './dataset.ts';
import { seededGaussian } from '../util/vectors.ts';
import type { ScenarioConfig } from './scenarios.ts';
import type { SearchQuery } from './targets.ts';

/** Distinct queries per scenario; requests cycle through them. */
export const QUERY_POOL_SIZE = 400;
/** Single-namespace searches pick among this many of the largest namespaces. */
const SEARCH_NAMESPACES = 10;
/** Cross-namespace searches pick among this many. */
const CROSS_NAMESPACES = 20;
/** Share of queries about the first namespace's main topic (the rest: any topic). */
const ON_TOPIC_SHARE = 0.7;
/** Insert batches rotate over this many namespaces: each batch stays on one shard, together they spread. */
export const INSERT_NAMESPACES = 8;

export function searchQueries(dataset: BenchDataset, scenario: ScenarioConfig, seed: number): SearchQuery[] {
  const uniform = seededFloats(seed);
  const gaussian = seededGaussian(seed + 7);
  const candidates = dataset.namespaces.slice(0, scenario.namespacesPerQuery > 1 ? CROSS_NAMESPACES : SEARCH_NAMESPACES);
  const span = Math.min(scenario.namespacesPerQuery, candidates.length);
  return Array.from({ length: QUERY_POOL_SIZE }, () => {
    const picked = [...candidates];
    for (let i = 0; i < span; i++) {
      const j = i + Math.floor(uniform() * (picked.length - i));
      [picked[i], picked[j]] = [picked[j]!, picked[i]!];
    }
    const chosen = picked.slice(0, span);
    const topic = uniform() < ON_TOPIC_SHARE ? chosen[0]!.primaryTopic : Math.floor(uniform() * DEMO_TOPICS.length);
    return { vector: queryVector(dataset.seed, topic, gaussian), namespaces: chosen.map((ns) => ns.name), limit: scenario.limit, minSimilarity: scenario.minSimilarity };
  });
}

export function insertNamespace(j: number): string {
  return `${BENCH_INSERT_NAMESPACE}/${j}`;
}

/** Removes what bulk_insert wrote (before a run, and after it). */
export async function clearInserted(pool: pg.Pool): Promise<void> {
  for (let j = 0; j < INSERT_NAMESPACES; j++) await pool.query('DELETE FROM memory_entries WHERE namespace = $1', [insertNamespace(j)]);
}

/** Batch `index` of bulk_insert: `batchSize` new rows in one namespace, one multi-row INSERT with parameters. */
export function insertBatch(dataset: BenchDataset, scenario: ScenarioConfig, runId: string, index: number): { text: string; values: unknown[] } {
  const uniform = seededFloats(dataset.seed * 31 + index);
  const gaussian = seededGaussian(dataset.seed * 37 + index);
  const namespace = insertNamespace(index % INSERT_NAMESPACES);
  const rows: BenchRow[] = Array.from({ length: scenario.batchSize }, (_, n) => {
    const topic = Math.floor(uniform() * DEMO_TOPICS.length);
    return { namespace, key: `${runId}/${index}/${n}`, value: `bench insert ${index}-${n}`, embedding: entryVector(dataset.seed, topic, gaussian, uniform) };
  });
  return insertStatement(rows, 'ruvector');
}

/** Rows concurrent_updates touches: real keys of the largest namespaces (so some updates meet on the same row). */
export async function updateKeys(pool: pg.Pool, dataset: BenchDataset, perNamespace = 200): Promise<{ namespace: string; key: string }[]> {
  const keys: { namespace: string; key: string }[] = [];
  for (const ns of dataset.namespaces.slice(0, SEARCH_NAMESPACES)) {
    const result = await pool.query<{ key: string }>('SELECT key FROM memory_entries WHERE namespace = $1 ORDER BY key LIMIT $2', [ns.name, perNamespace]);
    for (const row of result.rows) keys.push({ namespace: ns.name, key: row.key });
  }
  return keys;
}

export const UPDATE_SQL = 'UPDATE memory_entries SET value = $3, updated_at = now() WHERE namespace = $1 AND key = $2';
