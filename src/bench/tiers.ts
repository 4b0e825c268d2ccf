/**
 * Namespace-aware search, measured per tier (issue: "every namespace gets k right
 * answers, fast"): single-namespace top-10 on every namespace of the data set,
 * grouped by the tier dpg searches it with (exact, or its own HNSW index), through
 * dpg and on the plain PostgreSQL node holding all rows under one HNSW index with
 * iterative scans; and cross-namespace top-20 over 5 namespaces. Closed loop at a
 * small concurrency: these are latencies, not queueing.
 */
import pg from 'pg';
import { DEMO_TOPICS } from '../cli/demo.ts';
import { seededFloats } from '../util/random.ts';
import { seededGaussian } from '../util/vectors.ts';
import { queryVector, type BenchDataset } from './dataset.ts';
import { exactTopK, recallAt } from './recall.ts';
import { percentile } from './stats.ts';
import type { SearchQuery, SearchTarget } from './targets.ts';

export interface TierTargetResult {
  p50Ms: number;
  p99Ms: number;
  qps: number;
  recall: number | null;
  /** Mean rows returned per query (k whenever the namespaces hold k). */
  meanRows: number;
}

export interface TierGroup {
  /** 'exact' or 'hnsw' (single namespace), 'cross-namespace' (5 namespaces, top-20). */
  tier: string;
  namespaces: number;
  rowsMin: number;
  rowsMax: number;
  queries: number;
  dpg: TierTargetResult;
  plain: TierTargetResult | null;
  /** dpg p50 / plain p50 (the goal for single namespaces: at most 0.5). */
  p50Ratio: number | null;
}

export interface TierReport {
  groups: TierGroup[];
  /** Every single-namespace query together. */
  single: TierGroup | null;
  /** Cross-namespace p50 / single-namespace p50 on dpg (the goal: at most 2). */
  crossToSingleP50: number | null;
}

const CONCURRENCY = 4;

async function namespaceTiers(url: string): Promise<Map<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ namespace: string; tier: string }>("SELECT namespace, tier FROM dpg_namespaces WHERE table_name = 'memory_entries'");
    return new Map(result.rows.map((r) => [r.namespace, r.tier === 'hnsw' ? 'hnsw' : 'exact']));
  } catch {
    return new Map();
  } finally {
    await client.end();
  }
}

async function measure(target: SearchTarget, queries: SearchQuery[], truth: string[][] | null): Promise<TierTargetResult> {
  const latencies: number[] = new Array(queries.length);
  const found: string[][] = new Array(queries.length);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < queries.length) {
        const i = next++;
        const t0 = performance.now();
        const hits = await target.search(queries[i]!);
        latencies[i] = performance.now() - t0;
        found[i] = hits.map((h) => `${h.namespace}\u0000${h.key}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    qps: queries.length / seconds,
    recall: truth ? recallAt(found, truth) : null,
    meanRows: found.reduce((sum, rows) => sum + rows.length, 0) / found.length,
  };
}

export async function measureTiers(options: {
  dataset: BenchDataset;
  dpg: SearchTarget;
  plain: SearchTarget | null;
  plainUrl: string | null;
  dpgUrl: string;
  queriesPerGroup: number;
}): Promise<TierReport> {
  const { dataset } = options;
  const tiers = await namespaceTiers(options.dpgUrl);
  const uniform = seededFloats(dataset.seed * 13 + 5);
  const gaussian = seededGaussian(dataset.seed * 17 + 3);
  const query = (names: string[], topic: number, limit: number): SearchQuery => ({ vector: queryVector(dataset.seed, topic, gaussian), namespaces: names, limit, minSimilarity: null });
  const onTopic = (primary: number) => (uniform() < 0.7 ? primary : Math.floor(uniform() * DEMO_TOPICS.length));

  const byTier = new Map<string, typeof dataset.namespaces>();
  for (const ns of dataset.namespaces) {
    const tier = tiers.get(ns.name) ?? 'exact';
    byTier.set(tier, [...(byTier.get(tier) ?? []), ns]);
  }
  const groupQueries: { tier: string; namespaces: typeof dataset.namespaces; queries: SearchQuery[] }[] = [];
  for (const tier of ['exact', 'hnsw']) {
    const members = byTier.get(tier) ?? [];
    if (members.length === 0) continue;
    const queries = Array.from({ length: options.queriesPerGroup }, (_, i) => {
      const ns = members[i % members.length]!;
      return query([ns.name], onTopic(ns.primaryTopic), 10);
    });
    groupQueries.push({ tier, namespaces: members, queries });
  }
  const crossPool = dataset.namespaces.slice(0, 20);
  const cross = Array.from({ length: options.queriesPerGroup }, () => {
    const picked = [...crossPool].sort(() => uniform() - 0.5).slice(0, Math.min(5, crossPool.length));
    return query(picked.map((n) => n.name), onTopic(picked[0]!.primaryTopic), 20);
  });
  groupQueries.push({ tier: 'cross-namespace', namespaces: crossPool, queries: cross });

  const measureGroup = async (tier: string, namespaces: typeof dataset.namespaces, queries: SearchQuery[]): Promise<TierGroup> => {
    const truth = options.plainUrl ? await exactTopK(options.plainUrl, queries) : null;
    const dpg = await measure(options.dpg, queries, truth);
    const plain = options.plain ? await measure(options.plain, queries, truth) : null;
    return {
      tier,
      namespaces: namespaces.length,
      rowsMin: Math.min(...namespaces.map((n) => n.rows)),
      rowsMax: Math.max(...namespaces.map((n) => n.rows)),
      queries: queries.length,
      dpg,
      plain,
      p50Ratio: plain ? dpg.p50Ms / plain.p50Ms : null,
    };
  };
  const groups: TierGroup[] = [];
  for (const { tier, namespaces, queries } of groupQueries) groups.push(await measureGroup(tier, namespaces, queries));
  // All single-namespace queries, measured together again for the overall figures.
  const singles = groupQueries.filter((g) => g.tier !== 'cross-namespace');
  const single = singles.length > 0 ? await measureGroup('single-namespace', singles.flatMap((g) => g.namespaces), singles.flatMap((g) => g.queries)) : null;
  const crossGroup = groups.find((g) => g.tier === 'cross-namespace');
  return { groups, single, crossToSingleP50: single && crossGroup ? crossGroup.dpg.p50Ms / single.dpg.p50Ms : null };
}
