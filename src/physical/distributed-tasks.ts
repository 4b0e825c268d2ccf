import { ClientError, SqlState } from '../shared/errors.ts';
import { CatalogSnapshot, type TableInfo } from '../topology/snapshot.ts';
import type { DistributedPlan, LimitSpec } from '../planner/plan.ts';
import { resolveKeyValues, type KeyValue } from '../planner/shard-key.ts';
import { routeSearch, efSearchFor, type VectorSearchOptions } from './search-route.ts';
import { fillShard } from './sql-template.ts';

/** One execution's parameter values and their formats (the simple protocol: none). */
export interface ParameterValues {
  params: readonly (Buffer | null)[];
  paramFormats: readonly number[];
}

/** What physical planning reads besides the plan and the parameters. */
export interface PhysicalInputs {
  snapshot: CatalogSnapshot;
  vectorSearch: VectorSearchOptions;
  /** Rows per shard id, as the collector last counted them (HNSW profiles of shared indexes go by them). */
  shardRows: ReadonlyMap<string, number>;
}

/**
 * A distributed statement as tasks for the execution stage: which group runs which SQL
 * (shard names, LIMIT and search forms filled in), and how the answers combine.
 * - single: one group, one statement (a router query, or a reference table's read);
 * - each-shard: a write over several shards, one statement per shard on its group (atomically);
 * - aggregate: partial aggregates per shard, combined (shards by group; combine.ts);
 * - merge: one statement per group (a UNION ALL of its shards' statements), each sorted
 *   and limited, merged on the coordinator with OFFSET/LIMIT.
 */
export type DistributedTasks =
  | { kind: 'single'; groupId: number; sql: string; efSearch: number | null; shard: { shardId: string; namespace: string | null } | null }
  | { kind: 'each-shard'; groups: { groupId: number; sqls: string[] }[] }
  | { kind: 'aggregate'; byGroup: Map<number, number[]> }
  | { kind: 'merge'; groups: { groupId: number; sql: string }[]; efSearch: number | null; offset: number; limit: number | null };

/**
 * The parameters that pick shards, as text (distribution columns are text; binary
 * text is its UTF-8 bytes). Only those are decoded: the others (a 384-dim vector)
 * are passed through untouched.
 */
export function routingParams(values: ParameterValues, keys: readonly (KeyValue[] | null)[]): (string | null)[] {
  const params: (string | null)[] = new Array(values.params.length);
  for (const list of keys) {
    for (const value of list ?? []) {
      if (value.kind !== 'param' && value.kind !== 'param-array') continue;
      const raw = values.params[value.index - 1];
      if (raw !== undefined) params[value.index - 1] = raw === null ? null : raw.toString('utf8');
    }
  }
  return params;
}

/** LIMIT and OFFSET of this execution (constants, or parameters in text or binary). */
export function resolveLimit(spec: LimitSpec, values: ParameterValues): { limit: number | null; offset: number } {
  const value = (v: { constant: number | null } | { param: number } | null): number | null => {
    if (v === null) return null;
    if ('constant' in v) return v.constant;
    const raw = values.params[v.param - 1];
    if (raw === undefined || raw === null) return null;
    const format = values.paramFormats.length === 1 ? values.paramFormats[0] : values.paramFormats[v.param - 1];
    if (format === 1) return raw.length === 8 ? Number(raw.readBigInt64BE(0)) : raw.length === 4 ? raw.readInt32BE(0) : raw.readInt16BE(0);
    const n = Number(raw.toString('utf8'));
    if (!Number.isInteger(n) || n < 0) throw new ClientError('2201W', `LIMIT must not be negative or fractional: ${raw.toString('utf8')}`);
    return n;
  };
  return { limit: value(spec.limit), offset: value(spec.offset) ?? 0 };
}

/**
 * The shards a statement restricted to some distribution values needs: each value's
 * shard, or every shard for a split namespace; for a new row (INSERT), the one shard
 * it goes to (a split namespace's by composite key).
 */
export function shardsFor(snapshot: CatalogSnapshot, table: TableInfo, values: KeyValue[] | null, params: (string | null)[], newRow = false): number[] {
  if (values === null) return table.shards.map((s) => s.index);
  const resolved = resolveKeyValues(values, params);
  if (resolved === 'unknown') return table.shards.map((s) => s.index);
  const shards = new Set<number>();
  for (const value of resolved) {
    if (value === null) continue;
    if (newRow) shards.add(snapshot.shardIndexForNewRow(table, value));
    else for (const shard of snapshot.shardIndexesForValue(table, value)) shards.add(shard);
  }
  return [...shards].sort((a, b) => a - b);
}

/** A namespace split across shards cannot be joined with other distributed tables (its rows are not co-located with theirs). */
function checkSplitJoin(snapshot: CatalogSnapshot, plan: DistributedPlan, params: (string | null)[]): void {
  const distributed = plan.relations.filter((t) => t.kind === 'distributed');
  if (distributed.length < 2 || !plan.keyValues) return;
  const resolved = resolveKeyValues(plan.keyValues, params);
  if (resolved === 'unknown') return;
  for (const value of resolved) {
    if (value === null) continue;
    const split = distributed.find((t) => snapshot.namespaceTier(t.name, value)?.tier === 'split');
    if (split) {
      throw new ClientError(
        SqlState.featureNotSupported,
        `namespace ${JSON.stringify(value)} of ${split.name} is split across shards (too large for one); a statement joining it with other distributed tables is not supported`,
      );
    }
  }
}

/** The group holding a shard's primary placement. */
export function groupOf(snapshot: CatalogSnapshot, table: TableInfo, shardIndex: number): number {
  return snapshot.placementGroups(table, shardIndex)[0]!;
}

function byGroupOf<T>(snapshot: CatalogSnapshot, table: TableInfo, items: T[], shardOf: (item: T) => number): Map<number, T[]> {
  const byGroup = new Map<number, T[]>();
  for (const item of items) {
    const group = groupOf(snapshot, table, shardOf(item));
    byGroup.set(group, [...(byGroup.get(group) ?? []), item]);
  }
  return byGroup;
}

/** The tasks of a distributed statement for these parameter values (see DistributedTasks). */
export function distributedTasks(plan: DistributedPlan, values: ParameterValues, inputs: PhysicalInputs): DistributedTasks {
  const { snapshot } = inputs;
  const params = routingParams(values, [plan.keyValues, ...(plan.pinnedEach ?? [])]);
  if (plan.anchor.kind === 'reference') {
    // Every worker group holds the reference table; read it from the first.
    return { kind: 'single', groupId: groupOf(snapshot, plan.anchor, 0), sql: fillShard(plan.template, plan.relations, 0), efSearch: null, shard: null };
  }
  let shards: number[];
  if (plan.pinnedEach) {
    const distributed = plan.relations.filter((t) => t.kind === 'distributed');
    const sets = plan.pinnedEach.map((keys, i) => shardsFor(snapshot, distributed[i] ?? plan.anchor, keys, params));
    const first = sets[0]!;
    if (!sets.every((s) => s.length === 1 && s[0] === first[0])) {
      throw new ClientError(SqlState.featureNotSupported, 'the distributed tables of this statement are pinned to different shards and are not joined on their distribution column');
    }
    shards = first;
  } else {
    checkSplitJoin(snapshot, plan, params);
    shards = shardsFor(snapshot, plan.anchor, plan.keyValues, params, plan.command === 'INSERT');
    if (plan.command === 'INSERT' && plan.keyValues && resolveKeyValues(plan.keyValues, params) !== 'unknown' && shards.length === 0) {
      throw new ClientError('23502', `the distribution column ${plan.anchor.distributionColumn} of ${plan.anchor.name} cannot be NULL`);
    }
  }
  // A contradiction (ns = 'a' AND ns = 'b') matches no row: any one shard answers it correctly.
  if (shards.length === 0) shards = [0];
  const limits = plan.merge ? resolveLimit(plan.merge.limit, values) : null;
  const wanted = limits && limits.limit !== null ? limits.limit + limits.offset : null;
  const route = plan.searched ? vectorRoute(plan, params, wanted, inputs) : null;
  // A search on the shards' shared HNSW indexes: ef_search from their profile, and at least LIMIT + OFFSET.
  const sharedEfSearch = !route && plan.vectorSearch && plan.command === 'SELECT' && wanted !== null ? sharedIndexEfSearch(plan, shards, wanted, inputs) : null;
  if (route && (route.perNamespace || route.queries.length > 1)) {
    return mergeTasks(plan, byGroupOf(snapshot, plan.anchor, route.queries, (q) => q.shard), limits!, route.efSearch, route.perNamespace ? inputs.vectorSearch.candidateFactor : 1);
  }
  if (shards.length === 1) {
    const shard = route?.queries[0]?.shard ?? shards[0]!;
    const sql = fillShard(route?.queries[0]?.sql ?? plan.template, plan.relations, shard);
    return { kind: 'single', groupId: groupOf(snapshot, plan.anchor, shard), sql, efSearch: route?.efSearch ?? sharedEfSearch, shard: { shardId: plan.anchor.shards[shard]!.shardId, namespace: plan.vectorSearch ? searchNamespace(plan, params) : null } };
  }
  const byGroup = byGroupOf(snapshot, plan.anchor, shards, (s) => s);
  if (plan.command !== 'SELECT') {
    return { kind: 'each-shard', groups: [...byGroup].map(([groupId, groupShards]) => ({ groupId, sqls: groupShards.map((s) => fillShard(plan.template, plan.relations, s)) })) };
  }
  if (plan.aggregate) return { kind: 'aggregate', byGroup };
  if (plan.mergeError) throw plan.mergeError;
  if (!plan.merge) throw new ClientError(SqlState.featureNotSupported, `${plan.mergeUnsupported} (the statement needs ${shards.length} shards; pin it to one with a condition on ${plan.anchor.distributionColumn})`);
  const template = plan.merge.shardTemplate;
  const queries = new Map([...byGroup].map(([group, groupShards]) => [group, groupShards.map((shard) => ({ shard, sql: template }))]));
  return mergeTasks(plan, queries, limits!, sharedEfSearch, 1);
}

/**
 * Each group's statement of a merged SELECT: its shards' statements (a UNION ALL when
 * there are several), each sorted and limited to LIMIT + OFFSET (x limitFactor: a
 * per-namespace search asks each for more candidates).
 */
function mergeTasks(
  plan: DistributedPlan,
  queriesByGroup: Map<number, { shard: number; sql: string }[]>,
  { limit, offset }: { limit: number | null; offset: number },
  efSearch: number | null,
  limitFactor: number,
): DistributedTasks {
  const merge = plan.merge!;
  const shardLimit = limit === null ? 'ALL' : String(limit + offset);
  const queryLimit = limit === null ? 'ALL' : String(Math.ceil((limit + offset) * limitFactor));
  const groups = [...queriesByGroup].map(([groupId, groupQueries]) => {
    const queries = groupQueries.map((q) => fillShard(q.sql, plan.relations, q.shard, queryLimit));
    const sql =
      queries.length === 1
        ? queries[0]!
        : `${queries.map((q) => `(${q})`).join('\nUNION ALL\n')}\n${merge.unionOrderBy}${limit === null ? '' : ` LIMIT ${shardLimit}`}`;
    return { groupId, sql };
  });
  return { kind: 'merge', groups, efSearch, offset, limit };
}

/** hnsw.ef_search for the shared indexes of some shards: their HNSW profile (by rows), at least the rows asked for. */
function sharedIndexEfSearch(plan: DistributedPlan, shards: number[], wanted: number, inputs: PhysicalInputs): number | null {
  const rows = Math.max(0, ...shards.map((s) => inputs.shardRows.get(plan.anchor.shards[s]!.shardId) ?? 0));
  return efSearchFor(inputs.vectorSearch, rows, wanted);
}

/**
 * A vector search's route by its namespaces' tiers (search-route.ts), or null when
 * tiers do not apply (no namespace pin, or a statement over several pinned tables).
 */
function vectorRoute(plan: DistributedPlan, params: (string | null)[], wanted: number | null, inputs: PhysicalInputs) {
  if (plan.command !== 'SELECT' || !plan.keyValues) return null;
  const values = resolveKeyValues(plan.keyValues, params);
  if (values === 'unknown') return null;
  const table = plan.searched!.table;
  return routeSearch(plan, inputs.snapshot, values, wanted, (value) => CatalogSnapshot.shardIndexForValue(table, value), inputs.vectorSearch);
}

/** The one namespace a search is pinned to, for the metrics' namespace label. */
function searchNamespace(plan: DistributedPlan, params: (string | null)[]): string | null {
  if (!plan.keyValues) return null;
  const values = resolveKeyValues(plan.keyValues, params);
  return values !== 'unknown' && values.length === 1 ? values[0]! : null;
}
