import { unwrapNode } from './sql-ast.ts';

/**
 * pgvector's distance operators. PostgreSQL uses an HNSW index for a query only when
 * its first ORDER BY item is exactly `indexed_column <op> value` and LIMIT bounds it
 * (an "ordering operator" index scan); any other expression is sorted after a scan.
 * https://github.com/pgvector/pgvector#querying
 */
export const DISTANCE_OPERATORS = new Set(['<=>', '<->', '<#>', '<+>']);

/** The vector column a search ranks by, as written in its first ORDER BY item. */
export interface SearchColumn {
  /** Table name or alias the column is qualified with; null when unqualified. */
  qualifier: string | null;
  column: string;
  operator: string;
}

export function operatorOf(node: any): { operator: string; body: any } | null {
  const [kind, body] = unwrapNode(node);
  if (kind !== 'A_Expr' || body.kind !== 'AEXPR_OP' || body.name?.length !== 1) return null;
  const operator = unwrapNode(body.name[0])[1]?.sval as string | undefined;
  return operator && DISTANCE_OPERATORS.has(operator) ? { operator, body } : null;
}

function columnRef(node: any): { qualifier: string | null; column: string } | null {
  const [kind, body] = unwrapNode(node);
  if (kind !== 'ColumnRef') return null;
  const names = (body.fields as any[]).map((f) => unwrapNode(f)[1]?.sval as string | undefined);
  if (names.some((n) => n === undefined) || names.length > 2) return null;
  return names.length === 1 ? { qualifier: null, column: names[0]! } : { qualifier: names[0]!, column: names[1]! };
}

/**
 * Where the first ORDER BY item's expression lives: in the sort clause itself, or in
 * the select list when the item names an output column (`ORDER BY distance`) or its
 * position (`ORDER BY 2`), as PostgreSQL resolves them.
 */
export function firstSortExpression(select: any): { holder: any; field: string } | null {
  const first = select.sortClause?.[0];
  if (!first) return null;
  const sortBy = unwrapNode(first)[1];
  const [kind, value] = unwrapNode(sortBy.node);
  const targets: any[] = select.targetList ?? [];
  if (kind === 'A_Const' && value.ival !== undefined) {
    const target = targets[(value.ival.ival ?? 0) - 1];
    return target ? { holder: unwrapNode(target)[1], field: 'val' } : null;
  }
  if (kind === 'ColumnRef' && value.fields?.length === 1) {
    const name = unwrapNode(value.fields[0])[1]?.sval;
    const aliased = targets.find((t) => unwrapNode(t)[1]?.name === name);
    if (aliased) return { holder: unwrapNode(aliased)[1], field: 'val' };
  }
  return { holder: sortBy, field: 'node' };
}

/** The column a SELECT's first ORDER BY item measures distance from, if it is a vector search an index could serve. */
export function searchColumn(select: any): SearchColumn | null {
  const place = firstSortExpression(select);
  const distance = place && operatorOf(place.holder[place.field]);
  if (!distance) return null;
  const column = columnRef(distance.body.lexpr) ?? columnRef(distance.body.rexpr);
  return column ? { ...column, operator: distance.operator } : null;
}

/**
 * Whether a search's WHERE holds conditions besides the namespace pin and a distance
 * threshold (`1 - (embedding <=> $1) >= 0.7`). An HNSW index applies such conditions
 * after its scan, to its ef_search candidates only, and could return fewer than k
 * rows: such a search is run exactly. A threshold is safe: the nearest rows are the
 * first to pass it.
 */
export function hasOtherFilters(select: any, distributionColumn: string): boolean {
  const conjuncts: any[] = [];
  const collect = (node: any): void => {
    const [kind, body] = unwrapNode(node);
    if (kind === 'BoolExpr' && body.boolop === 'AND_EXPR') body.args.forEach(collect);
    else if (node) conjuncts.push(node);
  };
  collect(select.whereClause);
  const isKeyColumn = (node: any) => columnRef(node)?.column === distributionColumn;
  const hasDistance = (node: any): boolean => {
    if (operatorOf(node)) return true;
    const [kind, body] = unwrapNode(node);
    if (kind === 'A_Expr') return hasDistance(body.lexpr) || hasDistance(body.rexpr);
    if (kind === 'TypeCast') return hasDistance(body.arg);
    return false;
  };
  const isValue = (node: any): boolean => {
    const [kind, body] = unwrapNode(node);
    if (kind === 'A_Const' || kind === 'ParamRef') return true;
    if (kind === 'TypeCast') return isValue(body.arg);
    return false;
  };
  return conjuncts.some((node) => {
    const [kind, body] = unwrapNode(node);
    if (kind !== 'A_Expr') return true;
    const operator = unwrapNode(body.name?.[0])[1]?.sval;
    if ((body.kind === 'AEXPR_OP' || body.kind === 'AEXPR_OP_ANY' || body.kind === 'AEXPR_IN') && operator === '=' && (isKeyColumn(body.lexpr) || isKeyColumn(body.rexpr))) return false;
    if (body.kind === 'AEXPR_OP' && ['<', '<=', '>', '>='].includes(operator)) {
      if ((hasDistance(body.lexpr) && isValue(body.rexpr)) || (hasDistance(body.rexpr) && isValue(body.lexpr))) return false;
    }
    return true;
  });
}
