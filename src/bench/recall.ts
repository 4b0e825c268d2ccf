/**
 * Recall@k against exact search: the plain node answers each sampled query with
 * index scans turned off, so PostgreSQL sorts every matching row by distance
 * (https://github.com/pgvector/pgvector#exact-search); HNSW cannot serve bitmap
 * scans, so only exact plans remain.
 */
import pg from 'pg';
import { searchSql, type SearchQuery } from './targets.ts';

/** Per query, the exact top-k as `namespace\0key` strings. */
export async function exactTopK(plainUrl: string, queries: readonly SearchQuery[]): Promise<string[][]> {
  const client = new pg.Client({ connectionString: plainUrl });
  await client.connect();
  try {
    await client.query('SET enable_indexscan = off');
    const results: string[][] = [];
    for (const query of queries) {
      const values = [query.vector, query.namespaces.length === 1 ? query.namespaces[0] : query.namespaces];
      const rows = (await client.query<{ namespace: string; key: string }>(searchSql('memory_entries', 'vector', query), values)).rows;
      results.push(rows.map((r) => `${r.namespace}\u0000${r.key}`));
    }
    return results;
  } finally {
    await client.end();
  }
}

/** Mean over queries with a non-empty exact answer of |found ∩ exact| / |exact|; null when every exact answer is empty. */
export function recallAt(found: readonly string[][], exact: readonly string[][]): number | null {
  let sum = 0;
  let counted = 0;
  exact.forEach((truth, i) => {
    if (truth.length === 0) return;
    const got = new Set(found[i] ?? []);
    sum += truth.filter((key) => got.has(key)).length / truth.length;
    counted++;
  });
  return counted === 0 ? null : sum / counted;
}
