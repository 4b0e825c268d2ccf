import { deparseSync } from 'pgsql-deparser';
import { unwrapNode, walk } from './sql-ast.ts';
import type { collectRelations } from './relations.ts';
import { replaceRelationNames, AGGREGATES } from './merge-select.ts';
import { ClientError } from '../shared/errors.ts';

import type { AggregateSpec } from './plan.ts';
export type { AggregateSpec };

export const PARTIALS_PLACEHOLDER = '__dpg_partials__';
const column = (i: number) => `c${i}`;
const columnRef = (name: string) => ({ ColumnRef: { fields: [{ String: { sval: name } }] } });
const func = (name: string, args: unknown[]) => ({ FuncCall: { funcname: [{ String: { sval: name } }], args, funcformat: 'COERCE_EXPLICIT_CALL' } });
const cast = (arg: unknown, type: string) => ({ TypeCast: { arg, typeName: { names: [{ String: { sval: type } }], typemod: -1 } } });

/** The shape of a node, without the locations that make equal expressions differ. */
function shape(node: unknown): string {
  return JSON.stringify(node, (key, value) => (key === 'location' ? undefined : value));
}

const COMBINABLE = new Set(['count', 'sum', 'min', 'max', 'avg']);

function aggregateName(call: any): string | null {
  const name = (call.funcname as any[]).map((n) => unwrapNode(n)[1]?.sval).at(-1) as string;
  return AGGREGATES.has(name) || call.agg_star || call.over || call.agg_distinct || call.agg_filter ? name : null;
}

/** The output column name PostgreSQL gives an unnamed select-list expression (FigureColname). */
export function figureColumnName(node: any): string {
  const [kind, body] = unwrapNode(node);
  switch (kind) {
    case 'ColumnRef': {
      const last = unwrapNode(body.fields.at(-1))[1];
      return last?.sval ?? '?column?';
    }
    case 'FuncCall':
      return (body.funcname as any[]).map((n) => unwrapNode(n)[1]?.sval).at(-1) ?? '?column?';
    case 'TypeCast': {
      const inner = figureColumnName(body.arg);
      if (inner !== '?column?') return inner;
      const names = (body.typeName?.names ?? []) as any[];
      const type = unwrapNode(names.at(-1))[1]?.sval as string | undefined;
      return type === 'int4' ? 'int4' : (type ?? '?column?');
    }
    case 'CaseExpr':
      return 'case';
    case 'CoalesceExpr':
      return 'coalesce';
    case 'MinMaxExpr':
      return body.op === 'IS_GREATEST' ? 'greatest' : 'least';
    case 'A_ArrayExpr':
      return 'array';
    case 'RowExpr':
      return 'row';
    default:
      return '?column?';
  }
}

class Unsupported extends Error {
  /** Set when PostgreSQL itself would refuse the statement (its SQLSTATE, e.g. 42803). */
  sqlstate?: string;
}

/**
 * Plans the two steps, or returns why the SELECT cannot be combined this way.
 * `placeholders` renames relations (by location) in the worker query.
 */
export function planAggregateSelect(body: any, info: ReturnType<typeof collectRelations>, placeholders: Map<number, string>): AggregateSpec | string | ClientError {
  if (info.setOperation || info.hasCtes || info.hasSubqueries) return 'aggregates with subqueries, WITH or UNION over several shards are not supported yet';
  if (body.windowClause || JSON.stringify([body.targetList, body.sortClause]).includes('"over":')) {
    return 'window functions over several shards are not supported';
  }
  if (info.lockingClause) return 'FOR UPDATE/SHARE cannot be used with aggregates';
  try {
    return build(body, placeholders);
  } catch (error) {
    if (error instanceof Unsupported) return error.sqlstate ? new ClientError(error.sqlstate, error.message) : error.message;
    throw error;
  }
}

function build(original: any, placeholders: Map<number, string>): AggregateSpec {
  const body = structuredClone(original);
  replaceRelationNames(body, placeholders);
  const targets: any[] = (body.targetList ?? []).map((t: any) => unwrapNode(t)[1]);
  if (targets.some((t) => JSON.stringify(t.val).includes('A_Star') && !JSON.stringify(t.val).includes('agg_star'))) {
    throw new Unsupported('SELECT * with GROUP BY or DISTINCT over several shards is not supported; name the columns');
  }
  const workerTargets: any[] = [];
  const addWorkerColumn = (expression: unknown): string => {
    const key = shape(expression);
    const existing = workerTargets.findIndex((t) => shape(t.ResTarget.val) === key);
    if (existing >= 0) return column(existing);
    workerTargets.push({ ResTarget: { name: column(workerTargets.length), val: structuredClone(expression) } });
    return column(workerTargets.length - 1);
  };

  // Group keys: GROUP BY items (positions and output names mean select-list entries); DISTINCT without GROUP BY groups by every output.
  const resolveTarget = (node: any): any => {
    const [kind, value] = unwrapNode(node);
    if (kind === 'A_Const' && value.ival !== undefined) {
      const target = targets[(value.ival.ival ?? 0) - 1];
      if (!target) throw new Unsupported(`GROUP BY position ${value.ival.ival ?? 0} is not in the select list`);
      return target.val;
    }
    if (kind === 'ColumnRef' && value.fields.length === 1) {
      const name = unwrapNode(value.fields[0])[1]?.sval;
      const aliased = targets.find((t) => t.name === name);
      if (aliased) return aliased.val;
    }
    return node;
  };
  const groupExpressions: any[] = [];
  if (body.groupClause) {
    for (const item of body.groupClause as any[]) {
      const [kind] = unwrapNode(item);
      if (kind === 'GroupingSet') throw new Unsupported('GROUPING SETS, ROLLUP and CUBE over several shards are not supported');
      groupExpressions.push(resolveTarget(item));
    }
  }
  const distinctOnly = !body.groupClause && body.distinctClause && !usesAggregate(targets.map((t) => t.val));
  if (body.distinctClause && (body.distinctClause as any[]).some((d) => Object.keys(d).length > 0)) {
    throw new Unsupported('DISTINCT ON over several shards is not supported');
  }
  if (distinctOnly) for (const t of targets) groupExpressions.push(t.val);
  const groupColumns = groupExpressions.map((g) => addWorkerColumn(g));

  const mapExpression = (node: any): any => {
    const key = shape(node);
    const group = groupExpressions.findIndex((g) => shape(g) === key);
    if (group >= 0) return columnRef(groupColumns[group]!);
    const [kind, value] = unwrapNode(node);
    if (kind === 'FuncCall' && aggregateName(value)) return combineAggregate(value);
    if (kind === 'ColumnRef') {
      const name = (value.fields as any[]).map((f) => unwrapNode(f)[1]?.sval ?? '*').join('.');
      throw Object.assign(new Unsupported(`column "${name}" must appear in the GROUP BY clause or be used in an aggregate function`), { sqlstate: '42803' });
    }
    if (kind === 'SubLink') throw new Unsupported('subqueries in the select list of an aggregate over several shards are not supported');
    if (Array.isArray(node)) return node.map(mapExpression);
    if (node && typeof node === 'object') {
      const copy: any = {};
      for (const [k, v] of Object.entries(node)) copy[k] = v && typeof v === 'object' ? mapExpression(v) : v;
      return copy;
    }
    return node;
  };

  const combineAggregate = (call: any): any => {
    const name = aggregateName(call)!;
    if (call.over) throw new Unsupported('window functions over several shards are not supported');
    if (call.agg_distinct) throw new Unsupported(`${name}(DISTINCT ...) over several shards is not supported yet`);
    if (call.agg_order || call.agg_filter) throw new Unsupported(`${name} with ORDER BY or FILTER over several shards is not supported yet`);
    if (!COMBINABLE.has(name)) throw new Unsupported(`the aggregate ${name} over several shards is not supported yet (count, sum, min, max and avg are)`);
    const partial = (fn: string) => addWorkerColumn({ FuncCall: { ...structuredClone(call), funcname: [{ String: { sval: fn } }] } });
    switch (name) {
      case 'count':
        // count is never NULL: over no partial rows it is 0.
        return cast({ CoalesceExpr: { args: [func('sum', [columnRef(partial('count'))]), { A_Const: { ival: {} } }] } }, 'int8');
      case 'sum':
        return { __sumOf: partial('sum') };
      case 'min':
      case 'max':
        return func(name, [columnRef(partial(name))]);
      case 'avg': {
        const sum = partial('sum');
        const count = partial('count');
        return { __avgOf: [sum, count] };
      }
      default:
        throw new Unsupported(`the aggregate ${name} is not supported over several shards`);
    }
  };

  const finalTargets = targets.map((t) => ({ ResTarget: { name: t.name ?? figureColumnName(t.val), val: mapExpression(t.val) } }));
  const having = body.havingClause ? mapExpression(body.havingClause) : undefined;
  const sortClause = ((body.sortClause as any[]) ?? []).map((item) => {
    const sortBy = structuredClone(unwrapNode(item)[1]);
    const [kind, value] = unwrapNode(sortBy.node);
    const isAlias = kind === 'ColumnRef' && value.fields.length === 1 && targets.some((t) => t.name === unwrapNode(value.fields[0])[1]?.sval);
    const isPosition = kind === 'A_Const' && value.ival !== undefined;
    if (!isAlias && !isPosition) {
      try {
        sortBy.node = mapExpression(sortBy.node);
      } catch (error) {
        if (distinctOnly && error instanceof Unsupported && error.sqlstate === '42803') {
          throw Object.assign(new Unsupported('for SELECT DISTINCT, ORDER BY expressions must appear in select list'), { sqlstate: '42P10' });
        }
        throw error;
      }
    }
    return { SortBy: sortBy };
  });

  const worker: any = { targetList: workerTargets, fromClause: body.fromClause, whereClause: body.whereClause, limitOption: 'LIMIT_OPTION_DEFAULT', op: 'SETOP_NONE' };
  if (groupExpressions.length > 0) worker.groupClause = groupExpressions.map((g) => structuredClone(g));
  const combine: any = {
    targetList: finalTargets,
    fromClause: [{ RangeVar: { relname: PARTIALS_PLACEHOLDER, inh: true, relpersistence: 'p', alias: { aliasname: 'w', colnames: workerTargets.map((_, i) => ({ String: { sval: column(i) } })) } } }],
    limitOption: body.limitOption ?? 'LIMIT_OPTION_DEFAULT',
    op: 'SETOP_NONE',
  };
  if (groupColumns.length > 0) combine.groupClause = groupColumns.map((c) => columnRef(c));
  if (having) combine.havingClause = having;
  if (sortClause.length > 0) combine.sortClause = sortClause;
  if (body.limitCount) combine.limitCount = body.limitCount;
  if (body.limitOffset) combine.limitOffset = body.limitOffset;
  if (distinctOnly) combine.distinctClause = body.distinctClause;
  return {
    workerTemplate: deparseSync({ SelectStmt: worker } as any),
    workerColumns: workerTargets.length,
    combineTemplate: deparseSync({ SelectStmt: resolveSpecial(combine) } as any),
  };
}

/**
 * sum and avg combine differently by type (sum of int4 partials is int8, of floats
 * float8): the executor knows the partial types only at run time, so they are
 * written as typed placeholders here and finished when the types are known.
 */
function resolveSpecial(node: any): any {
  if (Array.isArray(node)) return node.map(resolveSpecial);
  if (!node || typeof node !== 'object') return node;
  if (node.__sumOf) return columnRef(`__dpg_sum_${node.__sumOf}`);
  if (node.__avgOf) return columnRef(`__dpg_avg_${node.__avgOf[0]}_${node.__avgOf[1]}`);
  const copy: any = {};
  for (const [k, v] of Object.entries(node)) copy[k] = resolveSpecial(v);
  return copy;
}

/** Replaces the sum/avg placeholders once the partial columns' types are known. */
export function finishCombineSql(sql: string, typeOf: (column: string) => string): string {
  return sql
    .replace(/__dpg_sum_(c\d+)/g, (_, c: string) => `sum(${c})::${typeOf(c)}`)
    .replace(/__dpg_avg_(c\d+)_(c\d+)/g, (_, s: string, n: string) => {
      const floating = /^(real|double precision|float4|float8)$/.test(typeOf(s));
      return floating
        ? `(sum(${s})::float8 / nullif(sum(${n}), 0))`
        : `(sum(${s})::numeric / nullif(sum(${n}), 0)::numeric)`;
    });
}

function usesAggregate(nodes: unknown[]): boolean {
  let found = false;
  walk(nodes, (key, value) => {
    if (key === 'FuncCall' && aggregateName(value)) found = true;
    return !found;
  });
  return found;
}

