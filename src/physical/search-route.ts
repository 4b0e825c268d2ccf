import type { CatalogSnapshot } from '../topology/snapshot.ts';
import { hnswProfileIn, type HnswProfile } from '../config/config.ts';
import type { DistributedPlan } from '../planner/plan.ts';
import { SearchVariants } from './search-variants.ts';

/** pgvector's upper bound of hnsw.ef_search; a search for more rows than this is run exactly. */
export const MAX_EF_SEARCH = 1000;

export interface VectorSearchOptions {
  /** A search over several namespaces asks each for LIMIT x this many candidates. */
  candidateFactor: number;
  /** The seed's HNSW profiles, by vectors per index. */
  profiles: HnswProfile[];
}

/**
 * How the shards run one vector search: statements (shard templates, relation and
 * LIMIT placeholders still in them) per shard index, and the hnsw.ef_search they
 * need (null: the server's). `perNamespace`: one statement per namespace, each
 * asked for LIMIT x candidateFactor, merged by distance on the coordinator.
 */
export interface SearchRoute {
  queries: { shard: number; sql: string }[];
  efSearch: number | null;
  perNamespace: boolean;
}

const singleForms = new WeakMap<DistributedPlan, SearchVariants | null>();
const mergedForms = new WeakMap<DistributedPlan, SearchVariants | null>();

/** A plan's search forms, parsed once per cached plan. A statement the deparser cannot render keeps its plain form. */
function formsOf(plan: DistributedPlan, merged: boolean, factor: number): SearchVariants | null {
  const cache = merged ? mergedForms : singleForms;
  if (cache.has(plan)) return cache.get(plan)!;
  let forms: SearchVariants | null = null;
  const sql = merged ? plan.merge?.shardTemplate : plan.template;
  if (sql && plan.searched) {
    try {
      forms = new SearchVariants(sql, plan.searched.ref, plan.searched.table.distributionColumn!, { limitFactor: merged ? factor : 1 });
    } catch {
      forms = null;
    }
  }
  cache.set(plan, forms);
  return forms;
}

/**
 * The least hnsw.ef_search that keeps recall@10 at 0.95 or more for an index of this
 * many rows, whatever the profile says. Measured with bench/tier-crossover.ts on this
 * project's clustered 384-dim data, m 16, ef_construction 100: ef_search 50 gives 0.970
 * at 32,000 rows but 0.925 at 100,000, where 80 gives 0.987 and 100 gives 0.988; above
 * 200,000 rows 200 is a guess past what was measured.
 */
export function recallFloor(rows: number): number {
  return rows >= 200_000 ? 200 : rows >= 25_000 ? 100 : 0;
}

export function efSearchFor(options: VectorSearchOptions, rows: number, wanted: number): number {
  return Math.min(MAX_EF_SEARCH, Math.max(hnswProfileIn(options.profiles, rows).ef_search, wanted, recallFloor(rows)));
}

/**
 * Picks each namespace's form by its tier (catalog: vector_namespaces):
 * - exact (every namespace not promoted, and one being promoted): the namespace's
 *   rows are sorted by exact distance; k rows whenever it has k.
 * - hnsw: its own partial HNSW index, hnsw.ef_search from the HNSW profile of its
 *   size and at least LIMIT + OFFSET (pgvector returns at most ef_search rows).
 * - split: one piece per shard, each searched by its own index where it has one,
 *   exactly where it has not; the pieces are merged by distance.
 * Several namespaces (or pieces) run one statement each, asked for LIMIT x
 * candidateFactor, merged and cut to LIMIT by exact distance (the seed's two-phase
 * retrieval); when none has an index, one exact statement per shard covers them all.
 * Returns null when the search is not pinned to namespaces (every shard's shared
 * index serves it, as PostgreSQL plans it).
 *
 * @param values the distribution values the statement is restricted to
 * @param wanted LIMIT + OFFSET, or null without LIMIT (then no HNSW index may serve it)
 */
export function routeSearch(
  plan: DistributedPlan,
  snapshot: CatalogSnapshot,
  values: readonly (string | null)[],
  wanted: number | null,
  shardOf: (value: string) => number,
  options: VectorSearchOptions,
): SearchRoute | null {
  const searched = plan.searched;
  // Tiers are per namespace: a table sharded by radius (hyperbolic) has none.
  if (!searched || plan.pinnedEach || searched.table.distributionMethod !== 'hash') return null;
  const namespaces = values.filter((v): v is string => v !== null);
  if (namespaces.length === 0) return null;
  const table = searched.table;
  const pieces: { namespace: string; shard: number; indexed: boolean; rows: number }[] = [];
  for (const namespace of namespaces) {
    const tier = snapshot.namespaceTier(table.name, namespace);
    if (tier?.tier === 'split') {
      for (const shard of table.shards) pieces.push({ namespace, shard: shard.index, indexed: tier.indexedShards.includes(shard.index), rows: tier.rows });
    } else {
      const home = shardOf(namespace);
      pieces.push({ namespace, shard: home, indexed: tier?.tier === 'hnsw' && tier.indexedShards.includes(home), rows: tier?.rows ?? 0 });
    }
  }
  const candidates = wanted === null ? null : Math.ceil(wanted * (pieces.length > 1 ? options.candidateFactor : 1));
  // Other conditions than the namespace and a distance threshold: exact (see hasOtherFilters).
  const usable = candidates !== null && candidates <= MAX_EF_SEARCH && !searched.otherFilters;
  for (const piece of pieces) piece.indexed &&= usable;
  const shards = [...new Set(pieces.map((p) => p.shard))].sort((a, b) => a - b);

  if (pieces.length === 1) {
    const forms = formsOf(plan, false, 1);
    if (!forms) return null;
    const [piece] = pieces as [(typeof pieces)[0]];
    if (piece.indexed) return { queries: [{ shard: piece.shard, sql: forms.form(piece.namespace, false) }], efSearch: efSearchFor(options, piece.rows, wanted!), perNamespace: false };
    return { queries: [{ shard: piece.shard, sql: forms.exact }], efSearch: null, perNamespace: false };
  }

  // (A statement the coordinator cannot merge runs on one shard only: exact is right for it.)
  const merged = plan.merge ? formsOf(plan, true, options.candidateFactor) : null;
  if (!pieces.some((p) => p.indexed) || !merged) {
    // All exact: one exact statement per shard covers every namespace (piece) it holds.
    const forms = shards.length === 1 ? formsOf(plan, false, 1) : merged;
    if (!forms) return null;
    return { queries: shards.map((shard) => ({ shard, sql: forms.exact })), efSearch: null, perNamespace: false };
  }
  const largest = Math.max(...pieces.map((p) => (p.indexed ? p.rows : 0)));
  return {
    queries: pieces.map((p) => ({ shard: p.shard, sql: merged.form(p.namespace, !p.indexed) })),
    efSearch: efSearchFor(options, largest, candidates!),
    perNamespace: true,
  };
}
