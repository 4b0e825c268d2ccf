import { deparseSync } from 'pgsql-deparser';
import { parseSql, unwrapNode } from '../planner/sql-ast.ts';
import { firstSortExpression, operatorOf } from '../planner/vector-search.ts';

const MAX_PINNED_VARIANTS = 1000;

function parseSelect(sql: string): any {
  const [statement] = parseSql(sql);
  const [kind, body] = unwrapNode(statement?.node);
  if (kind !== 'SelectStmt') throw new Error(`not a SELECT: ${sql.slice(0, 80)}`);
  return body;
}

const deparseSelect = (select: any): string => deparseSync({ SelectStmt: select } as any);

/**
 * The per-tier forms of one vector search statement (a shard template, relation
 * placeholders still in it):
 * - exact: the distance is sorted as `(a <=> b) * 1`, which no index matches, so
 *   PostgreSQL finds the namespace's rows (by its btree index) and sorts them all:
 *   exact top-k, never fewer rows than asked for. The value is unchanged (x * 1 = x
 *   for every float, -0 included).
 * - pinned to a value: adds `AND <ref>.<column> = 'value'` as a literal, so PostgreSQL
 *   can prove the predicate of the namespace's own partial HNSW index
 *   (`WHERE namespace = 'value'`) even in a generic plan of a prepared statement,
 *   where `namespace = $1` alone would not match it. A search over several
 *   namespaces runs as one pinned statement per namespace.
 */
export class SearchVariants {
  private readonly select: any;
  private readonly cache = new Map<string, string>();

  constructor(
    readonly sql: string,
    private readonly pinRef: string,
    private readonly pinColumn: string,
    options: { limitFactor?: number } = {},
  ) {
    this.select = parseSelect(sql);
    if (options.limitFactor && options.limitFactor !== 1) scaleLimit(this.select, options.limitFactor);
  }

  get exact(): string {
    return this.form(null, true);
  }

  /** The statement, exact or not, and restricted to one distribution value given as a literal (null: as it is). */
  form(value: string | null, exact: boolean): string {
    const key = `${exact ? 'exact' : 'index'}${value === null ? '' : `=${value}`}`;
    let sql = this.cache.get(key);
    if (sql !== undefined) return sql;
    const select = structuredClone(this.select);
    if (exact) makeExact(select);
    if (value !== null) {
      const condition = {
        A_Expr: {
          kind: 'AEXPR_OP',
          name: [{ String: { sval: '=' } }],
          lexpr: { ColumnRef: { fields: [{ String: { sval: this.pinRef } }, { String: { sval: this.pinColumn } }] } },
          rexpr: { A_Const: { sval: { sval: value } } },
        },
      };
      const [kind, body] = unwrapNode(select.whereClause);
      if (!select.whereClause) select.whereClause = condition;
      else if (kind === 'BoolExpr' && body.boolop === 'AND_EXPR') body.args.push(condition);
      else select.whereClause = { BoolExpr: { boolop: 'AND_EXPR', args: [select.whereClause, condition] } };
    }
    sql = deparseSelect(select);
    if (this.cache.size >= MAX_PINNED_VARIANTS) this.cache.clear();
    this.cache.set(key, sql);
    return sql;
  }
}

function makeExact(select: any): void {
  const place = firstSortExpression(select);
  if (!place || !operatorOf(place.holder[place.field])) return;
  place.holder[place.field] = {
    A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: '*' } }], lexpr: place.holder[place.field], rexpr: { A_Const: { ival: { ival: 1 } } } },
  };
}

/**
 * Multiplies a LIMIT given as an expression (a parameter) by `factor`; a constant
 * LIMIT is the merge's placeholder, filled in (already scaled) when the statement runs.
 */
function scaleLimit(select: any, factor: number): void {
  const [kind, body] = unwrapNode(select.limitCount);
  if (!select.limitCount || (kind === 'ColumnRef' && body.fields?.length === 1)) return;
  select.limitCount = {
    FuncCall: {
      funcname: [{ String: { sval: 'ceil' } }],
      args: [{ A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: '*' } }], lexpr: select.limitCount, rexpr: { A_Const: { fval: { fval: String(factor) } } } } }],
      funcformat: 'COERCE_EXPLICIT_CALL',
    },
  };
}
