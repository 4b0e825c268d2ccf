import { deparseSync } from 'pgsql-deparser';
import { parseSql, unwrapNode, walk } from './sql-ast.ts';
import type { collectRelations } from './relations.ts';
import type { LimitSpec, MergeSpec, SortKey } from './plan.ts';

/** Aggregates PostgreSQL ships; a multi-shard SELECT using one needs partial aggregation. */
export const AGGREGATES = new Set([
  'count', 'sum', 'avg', 'min', 'max', 'array_agg', 'string_agg', 'bool_and', 'bool_or', 'every', 'bit_and', 'bit_or', 'bit_xor',
  'stddev', 'stddev_pop', 'stddev_samp', 'variance', 'var_pop', 'var_samp', 'json_agg', 'jsonb_agg', 'json_object_agg',
  'jsonb_object_agg', 'xmlagg', 'corr', 'covar_pop', 'covar_samp', 'regr_avgx', 'regr_avgy', 'regr_count', 'regr_intercept',
  'regr_r2', 'regr_slope', 'regr_sxx', 'regr_sxy', 'regr_syy', 'percentile_cont', 'percentile_disc', 'mode', 'rank',
  'dense_rank', 'percent_rank', 'cume_dist', 'range_agg', 'range_intersect_agg', 'any_value',
]);

export const LIMIT_PLACEHOLDER = '__dpg_limit__';
export const hiddenColumnName = (i: number) => `__dpg_sort_${i}`;

/**
 * Renames relations in a parse tree by their location. A RangeVar appears wrapped
 * ({ RangeVar: {...} }) where the grammar has a Node, bare where it has a RangeVar
 * field (INSERT's target): any object with a relname is one.
 */
export function replaceRelationNames(tree: unknown, placeholders: Map<number, string>): void {
  walk(tree, (_key, value) => {
    if (typeof value.relname === 'string' && placeholders.has(value.location)) {
      // Keep the table's own name as its alias, so `memory_entries.key` still resolves on the shard.
      if (!value.alias) value.alias = { aliasname: value.relname };
      value.relname = placeholders.get(value.location);
    }
    return undefined;
  });
}

export function usesAggregates(node: unknown): boolean {
  let found = false;
  walk(node, (key, value) => {
    if (found) return false;
    if (key === 'FuncCall') {
      const name = (value.funcname as any[]).map((n) => unwrapNode(n)[1]?.sval).at(-1);
      if (value.agg_star || value.agg_distinct || value.over || value.agg_filter || value.agg_order || AGGREGATES.has(name)) found = true;
    }
    if (key === 'SubLink' || key === 'RangeSubselect') return false;
    return undefined;
  });
  return found;
}

function limitValue(node: any): { constant: number | null } | { param: number } | 'unsupported' {
  const [kind, body] = unwrapNode(node);
  if (kind === 'A_Const') {
    if (body.isnull) return { constant: null };
    if (body.ival) return { constant: body.ival.ival ?? 0 };
    return 'unsupported';
  }
  if (kind === 'ParamRef') return { param: body.number };
  if (kind === 'TypeCast') return limitValue(body.arg);
  return 'unsupported';
}

/**
 * pg_collation_for(CASE WHEN false THEN (expression)::text END): the collation the sort
 * value compares in (a cast to text keeps it; any type has one), decided when the
 * statement is parsed, without evaluating the expression again.
 */
let collationTemplate: any = null;
function collationOf(expression: any): any {
  collationTemplate ??= unwrapNode(parseSql('SELECT pg_catalog.pg_collation_for(CASE WHEN false THEN (NULL)::text END)')[0]!.node)[1].targetList[0].ResTarget.val;
  const template = structuredClone(collationTemplate);
  const found = walkFind(template, (key, value) => key === 'TypeCast' && value);
  found.arg = structuredClone(expression);
  return template;
}

/** The first node `match` returns a value for, depth first. */
function walkFind(tree: any, match: (key: string, value: any) => any): any {
  if (!tree || typeof tree !== 'object') return undefined;
  for (const [key, value] of Object.entries(tree)) {
    if (value && typeof value === 'object') {
      const hit = match(key, value) || walkFind(value, match);
      if (hit) return hit;
    }
  }
  return undefined;
}

/**
 * Plans how a SELECT over several shards is combined: each shard runs the query
 * with its ORDER BY, every sort expression appended as a hidden column and LIMIT
 * raised to LIMIT + OFFSET; the coordinator merges the sorted streams and applies
 * OFFSET and LIMIT. Returns why not, when the SELECT needs more than a merge.
 */
export function planMergeSelect(
  body: any,
  info: ReturnType<typeof collectRelations>,
  placeholders: Map<number, string>,
): MergeSpec | string {
  if (info.setOperation || body.op && body.op !== 'SETOP_NONE') return 'UNION, INTERSECT and EXCEPT over several shards are not supported yet';
  if (info.hasCtes) return 'WITH queries over several shards are not supported yet';
  if (info.hasSubqueries) return 'subqueries over several shards are not supported yet';
  if (info.lockingClause) return 'FOR UPDATE/SHARE over several shards is not supported';
  if (info.selectInto) return 'SELECT INTO over several shards is not supported';
  if (body.distinctClause) return 'DISTINCT over several shards is not supported yet';
  if (body.groupClause || body.havingClause) return 'GROUP BY and HAVING over several shards are not supported yet';
  if (body.windowClause) return 'window functions over several shards are not supported';
  if (usesAggregates(body.targetList) || usesAggregates(body.sortClause)) return 'aggregates over several shards are not supported yet';
  if (body.limitOption === 'LIMIT_OPTION_WITH_TIES') return 'FETCH ... WITH TIES over several shards is not supported';

  const shardBody = structuredClone(body);
  replaceRelationNames(shardBody, placeholders);

  const targets: any[] = shardBody.targetList ?? [];
  const sortKeys: SortKey[] = [];
  const unionOrder: string[] = [];
  // The collation each text sort value compares in (pg_collation_for: the same on every row of a key), after the sort values.
  const collations: any[] = [];
  for (const [i, item] of ((shardBody.sortClause as any[]) ?? []).entries()) {
    const sortBy = unwrapNode(item)[1];
    if (sortBy.sortby_dir === 'SORTBY_USING') return 'ORDER BY ... USING over several shards is not supported';
    const descending = sortBy.sortby_dir === 'SORTBY_DESC';
    const nullsFirst = sortBy.sortby_nulls === 'SORTBY_NULLS_FIRST' || (sortBy.sortby_nulls !== 'SORTBY_NULLS_LAST' && descending);
    let expression = sortBy.node;
    const [kind, value] = unwrapNode(expression);
    if (kind === 'A_Const' && value.ival !== undefined) {
      const target = targets[(value.ival.ival ?? 0) - 1];
      const targetValue = target && unwrapNode(target)[1]?.val;
      if (!targetValue || JSON.stringify(targetValue).includes('A_Star')) return 'ORDER BY a column position over several shards needs an explicit select list';
      expression = targetValue;
    } else if (kind === 'ColumnRef' && value.fields?.length === 1) {
      const name = unwrapNode(value.fields[0])[1]?.sval;
      const aliased = targets.find((t) => unwrapNode(t)[1]?.name === name);
      if (aliased) expression = unwrapNode(aliased)[1].val;
    }
    targets.push({ ResTarget: { name: hiddenColumnName(i), val: structuredClone(expression) } });
    sortKeys.push({ column: i, descending, nullsFirst, collationColumn: 0 });
    collations.push({ ResTarget: { name: `__dpg_collation_${i}`, val: collationOf(expression) } });
    unionOrder.push(`${hiddenColumnName(i)}${descending ? ' DESC' : ''}${nullsFirst ? ' NULLS FIRST' : ' NULLS LAST'}`);
  }
  for (const [i, key] of sortKeys.entries()) key.collationColumn = sortKeys.length + i;
  shardBody.targetList = [...targets, ...collations];

  const limit: LimitSpec = { limit: null, offset: null };
  if (shardBody.limitCount) {
    const value = limitValue(shardBody.limitCount);
    if (value === 'unsupported') return 'LIMIT must be a constant or a parameter for a statement over several shards';
    limit.limit = value;
  }
  if (shardBody.limitOffset) {
    const value = limitValue(shardBody.limitOffset);
    if (value === 'unsupported' || ('constant' in value && value.constant === null)) return 'OFFSET must be a constant or a parameter for a statement over several shards';
    limit.offset = value as LimitSpec['offset'];
  }
  if (shardBody.limitCount || shardBody.limitOffset) {
    // Each shard returns LIMIT + OFFSET rows; the coordinator skips OFFSET after the merge.
    // Constants are filled in at run time; parameters stay parameters (the shard's
    // statement is bound with the client's values, so every $n must still be used).
    const asBigint = (v: { constant: number | null } | { param: number }) =>
      'param' in v
        ? { TypeCast: { arg: { ParamRef: { number: v.param } }, typeName: { names: [{ String: { sval: 'int8' } }], typemod: -1 } } }
        : { A_Const: { ival: { ival: v.constant ?? 0 } } };
    const usesParams = (limit.limit !== null && 'param' in limit.limit) || (limit.offset !== null && 'param' in limit.offset);
    delete shardBody.limitOffset;
    shardBody.limitOption = 'LIMIT_OPTION_COUNT';
    if (!usesParams) {
      shardBody.limitCount = { ColumnRef: { fields: [{ String: { sval: LIMIT_PLACEHOLDER } }] } };
    } else if (limit.limit !== null && !('constant' in limit.limit && limit.limit.constant === null)) {
      shardBody.limitCount = limit.offset
        ? { A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: '+' } }], lexpr: asBigint(limit.limit), rexpr: asBigint(limit.offset) } }
        : asBigint(limit.limit);
    } else {
      // LIMIT ALL OFFSET $n: every row, and a use of $n that changes nothing.
      delete shardBody.limitCount;
      shardBody.limitOffset = { A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: '*' } }], lexpr: { A_Const: { ival: {} } }, rexpr: asBigint(limit.offset!) } };
    }
  }
  return {
    shardTemplate: deparseSync({ SelectStmt: shardBody } as any),
    hiddenColumns: sortKeys.length * 2,
    sortKeys,
    unionOrderBy: unionOrder.length > 0 ? `ORDER BY ${unionOrder.join(', ')}` : '',
    limit,
  };
}
