/**
 * Distribution-key analysis of one query level (one SELECT, or an UPDATE/DELETE):
 * which values each relation's distribution column is restricted to by the WHERE
 * clause and inner-join conditions, and which relations are joined on their
 * distribution columns. The router turns the values into shards.
 *
 * Only what PostgreSQL would evaluate as a plain equality on the column counts;
 * anything else leaves the relation unrestricted, which is always safe (more
 * shards are asked). Subqueries are separate scopes: the caller analyses each
 * query level on its own.
 */
import { unwrapNode } from './sql-ast.ts';

export type KeyValue =
  | { kind: 'const'; value: string | null }
  | { kind: 'param'; index: number /* 1-based $n */ }
  | { kind: 'param-array'; index: number }
  | { kind: 'const-array'; values: (string | null)[] };

export interface ShardKeyRestriction {
  /**
   * Alias-or-name of each relation -> the values its distribution column is
   * restricted to (any of them), or null when unrestricted. An empty list means
   * the conditions can hold for no row (e.g. `ns = 'a' AND ns = 'b'`).
   */
  byRelation: Map<string, KeyValue[] | null>;
  /** Groups of relations whose distribution columns are equated (a.namespace = b.namespace, transitively). */
  joinedOnKey: string[][];
}

export interface KeyRelation {
  /** The relation's alias, or its name when it has none, as column references qualify it. */
  ref: string;
  /** Null for reference tables, subqueries, functions, CTEs: they take part only in name resolution. */
  distributionColumn: string | null;
  /**
   * On the nullable side of an outer join. `IS NULL` and `IS NOT DISTINCT FROM`
   * on its column are then true for null-extended rows, so they restrict nothing.
   */
  nullable?: boolean;
}

export interface ShardKeyOptions {
  /** ON conditions of outer joins: they show co-location (joinedOnKey) but restrict nothing. */
  outerJoinQuals?: any[];
}

type Restrictions = Map<string, KeyValue[]>;
type Equality = [string, string];

/**
 * Analyses `where` AND all `joinQuals` (inner-join ON conditions) of one query level.
 *
 * Recognised in top-level AND-conjuncts, with the column optionally qualified and
 * optionally cast to text/varchar (either side): `col = value`, `value = col`,
 * `col IS NOT DISTINCT FROM value`, `col IN (values)`, `col = ANY(array)`,
 * `col IS NULL`, and `(col, ...) = (value, ...)` row comparisons. A value is a
 * constant or `$n`; an array is `$n`, an array literal `'{a,b}'` or `ARRAY[...]`.
 * An OR restricts a relation only when every branch restricts it (the union).
 *
 * Several restrictions of one relation AND together: two constant lists intersect;
 * when either holds a parameter the shorter list is kept (a one-value restriction
 * beats a list; a parameter array counts as unbounded) — both are true of every
 * row, so either one is a sound superset, and the executor's WHERE does the rest.
 *
 * Restrictions spread over groups joined on the distribution column by inner
 * equalities: with `m.namespace = p.namespace AND m.namespace = 'x'`, p is
 * restricted to 'x' too.
 */
export function analyzeShardKey(
  where: any,
  joinQuals: any[],
  relations: KeyRelation[],
  options: ShardKeyOptions = {},
): ShardKeyRestriction {
  const resolver = new ColumnResolver(relations);
  const conjuncts = [where, ...joinQuals].filter((node) => node);
  const { restrictions, equalities } = analyzeAnd(conjuncts, resolver);

  // Restrictions propagate over inner equalities only.
  const innerGroups = groupsOf(relations, equalities);
  for (const group of innerGroups) {
    let combined: KeyValue[] | undefined;
    for (const ref of group) {
      const own = restrictions.get(ref);
      if (own) combined = combined ? intersect(combined, own) : own;
    }
    if (combined) for (const ref of group) restrictions.set(ref, combined);
  }

  const outerEqualities = analyzeAnd(options.outerJoinQuals ?? [], resolver).equalities;
  const joinedOnKey = groupsOf(relations, [...equalities, ...outerEqualities]).filter((group) => group.length > 1);

  const byRelation = new Map<string, KeyValue[] | null>();
  for (const relation of relations) byRelation.set(relation.ref, restrictions.get(relation.ref) ?? null);
  return { byRelation, joinedOnKey };
}

export interface JoinConditions {
  /** ON conditions of inner joins, and equalities implied by `JOIN ... USING (distribution column)`. */
  innerQuals: any[];
  /** ON conditions (and USING equalities) of LEFT/RIGHT/FULL joins. */
  outerQuals: any[];
  /** Refs on the nullable side of an outer join. */
  nullableRefs: Set<string>;
}

/**
 * Sorts the join conditions of a FROM list (SELECT's fromClause, UPDATE's FROM,
 * DELETE's USING) for `analyzeShardKey`. NATURAL joins are not expanded: their
 * columns are not known here.
 */
export function joinConditions(fromClause: any[] | undefined, relations: KeyRelation[]): JoinConditions {
  const result: JoinConditions = { innerQuals: [], outerQuals: [], nullableRefs: new Set() };
  const distributionColumn = new Map(relations.map((r) => [r.ref, r.distributionColumn]));

  /** Returns the refs of a FROM item, in order. */
  const visitItem = (item: any, nullable: boolean): string[] => {
    const [type, body] = unwrapNode(item);
    if (type === 'JoinExpr') {
      const leftNullable = nullable || body.jointype === 'JOIN_RIGHT' || body.jointype === 'JOIN_FULL';
      const rightNullable = nullable || body.jointype === 'JOIN_LEFT' || body.jointype === 'JOIN_FULL';
      const left = visitItem(body.larg, leftNullable);
      const right = visitItem(body.rarg, rightNullable);
      const quals = body.jointype === 'JOIN_INNER' ? result.innerQuals : result.outerQuals;
      if (body.quals) quals.push(body.quals);
      for (const using of body.usingClause ?? []) {
        const column = unwrapNode(using)[1]?.sval;
        const leftRef = left.find((ref) => distributionColumn.get(ref) === column);
        const rightRef = right.find((ref) => distributionColumn.get(ref) === column);
        if (column && leftRef && rightRef) quals.push(columnEquality(leftRef, rightRef, column));
      }
      return [...left, ...right];
    }
    if (type === 'RangeTableSample') return visitItem(body.relation, nullable);
    const ref = type === 'RangeVar' ? (body.alias?.aliasname ?? body.relname) : body?.alias?.aliasname;
    if (!ref) return [];
    if (nullable) result.nullableRefs.add(ref);
    return [ref];
  };
  for (const item of fromClause ?? []) visitItem(item, false);
  return result;
}

/**
 * Substitutes text-format parameter values (params[0] is $1). Returns the distinct
 * values the distribution column may take, or 'unknown' when a needed parameter is
 * missing or an array parameter is not a valid array literal. A NULL array
 * parameter contributes no values (`col = ANY(NULL)` is never true).
 */
export function resolveKeyValues(values: KeyValue[], params: readonly (string | null | undefined)[]): (string | null)[] | 'unknown' {
  // A Set keeps the first-seen order and makes `= ANY($1)` with 100,000 values linear, not quadratic.
  const seen = new Set<string | null>();
  const add = (value: string | null): void => {
    seen.add(value);
  };
  for (const value of values) {
    switch (value.kind) {
      case 'const':
        add(value.value);
        break;
      case 'const-array':
        value.values.forEach(add);
        break;
      case 'param': {
        const param = params[value.index - 1];
        if (param === undefined) return 'unknown';
        add(param);
        break;
      }
      case 'param-array': {
        const param = params[value.index - 1];
        if (param === undefined) return 'unknown';
        if (param === null) break;
        const elements = parseArrayLiteral(param);
        if (!elements) return 'unknown';
        elements.forEach(add);
        break;
      }
    }
  }
  return [...seen];
}

/**
 * Parses PostgreSQL's text form of an array (array_in): `{a,"b c",NULL,"x\"y"}`,
 * nested dimensions flattened, an optional `[1:2]=` dimension prefix ignored.
 * Unquoted NULL (any case) is SQL NULL; whitespace around unquoted elements is
 * dropped; a backslash escapes the next character. Returns null when malformed.
 */
export function parseArrayLiteral(text: string): (string | null)[] | null {
  let index = 0;
  const skipSpace = (): void => {
    while (index < text.length && isArraySpace(text[index])) index++;
  };
  skipSpace();
  if (text[index] === '[') {
    const equals = text.indexOf('=', index);
    if (equals === -1) return null;
    index = equals + 1;
    skipSpace();
  }
  const out: (string | null)[] = [];

  const parseElement = (): boolean => {
    if (text[index] === '"') {
      let value = '';
      index++;
      for (;;) {
        if (index >= text.length) return false;
        const char = text[index++];
        if (char === '"') break;
        if (char === '\\') {
          if (index >= text.length) return false;
          value += text[index++];
        } else value += char;
      }
      out.push(value);
      return true;
    }
    let value = '';
    let escaped = false;
    let keptLength = 0; // length up to the last escaped or non-space character
    while (index < text.length && text[index] !== ',' && text[index] !== '}') {
      const char = text[index++];
      if (char === '"' || char === '{') return false;
      if (char === '\\') {
        if (index >= text.length) return false;
        value += text[index++];
        escaped = true;
        keptLength = value.length;
      } else {
        value += char;
        if (!isArraySpace(char)) keptLength = value.length;
      }
    }
    value = value.slice(0, keptLength);
    if (value === '' && !escaped) return false;
    out.push(!escaped && value.toUpperCase() === 'NULL' ? null : value);
    return true;
  };

  /** Parses `{...}` and returns its shape ('2x3' for {{a,b,c},{d,e,f}}), or null: sub-arrays must be alike. */
  const parseArray = (top: boolean): string | null => {
    if (text[index] !== '{') return null;
    index++;
    skipSpace();
    if (text[index] === '}') {
      index++;
      return top ? '0' : null; // only the whole array may be empty
    }
    let count = 0;
    let childShape: string | null = null;
    for (;;) {
      skipSpace();
      if (text[index] === '{') {
        const shape = parseArray(false);
        if (shape === null || (count > 0 && shape !== childShape)) return null;
        childShape = shape;
      } else if (childShape !== null || !parseElement()) return null;
      count++;
      skipSpace();
      const separator = text[index++];
      if (separator === '}') return childShape === null ? String(count) : `${count}x${childShape}`;
      if (separator !== ',') return null;
    }
  };

  if (parseArray(true) === null) return null;
  skipSpace();
  return index === text.length ? out : null;
}

function isArraySpace(char: string): boolean {
  return char === ' ' || char === '\t' || char === '\n' || char === '\r' || char === '\v' || char === '\f';
}

// ---------------------------------------------------------------------------
// Expressions

/** Finds which relation's distribution column a column reference names. */
class ColumnResolver {
  private readonly byRef = new Map<string, KeyRelation[]>();

  constructor(private readonly relations: KeyRelation[]) {
    for (const relation of relations) {
      const list = this.byRef.get(relation.ref) ?? [];
      list.push(relation);
      this.byRef.set(relation.ref, list);
    }
  }

  /** The ref whose distribution column `node` is (through text casts), or null. */
  resolve(node: any): KeyRelation | null {
    const [type, body] = unwrapNode(stripTextCasts(node, false));
    if (type !== 'ColumnRef') return null;
    const fields: string[] = [];
    for (const field of body.fields ?? []) {
      const [fieldType, fieldBody] = unwrapNode(field);
      if (fieldType !== 'String') return null; // t.* and the like
      fields.push(fieldBody.sval);
    }
    const column = fields[fields.length - 1];
    if (fields.length === 1) {
      // Unqualified: only when exactly one relation in scope has this distribution column.
      const candidates = this.relations.filter((r) => r.distributionColumn === column);
      if (candidates.length !== 1 || this.byRef.get(candidates[0].ref)!.length !== 1) return null;
      return candidates[0];
    }
    const qualified = this.byRef.get(fields[fields.length - 2]);
    if (!qualified || qualified.length !== 1 || qualified[0].distributionColumn !== column) return null;
    return qualified[0];
  }
}

interface Analysis {
  restrictions: Restrictions;
  equalities: Equality[];
}

function analyzeAnd(conjuncts: any[], resolver: ColumnResolver): Analysis {
  const result: Analysis = { restrictions: new Map(), equalities: [] };
  for (const conjunct of conjuncts) {
    const part = analyzeCondition(conjunct, resolver);
    result.equalities.push(...part.equalities);
    for (const [ref, values] of part.restrictions) {
      const existing = result.restrictions.get(ref);
      result.restrictions.set(ref, existing ? intersect(existing, values) : values);
    }
  }
  return result;
}

function analyzeOr(branches: any[], resolver: ColumnResolver): Analysis {
  const analyses = branches.map((branch) => analyzeCondition(branch, resolver));
  const restrictions: Restrictions = new Map();
  if (analyses.length === 0) return { restrictions, equalities: [] };
  for (const ref of analyses[0].restrictions.keys()) {
    if (analyses.every((analysis) => analysis.restrictions.has(ref))) {
      restrictions.set(ref, union(analyses.map((analysis) => analysis.restrictions.get(ref)!)));
    }
  }
  return { restrictions, equalities: [] };
}

const NOTHING: Analysis = { restrictions: new Map(), equalities: [] };

function analyzeCondition(node: any, resolver: ColumnResolver): Analysis {
  const [type, body] = unwrapNode(node);
  if (type === 'BoolExpr') {
    if (body.boolop === 'AND_EXPR') return analyzeAnd(body.args ?? [], resolver);
    if (body.boolop === 'OR_EXPR') return analyzeOr(body.args ?? [], resolver);
    return NOTHING;
  }
  if (type === 'NullTest') {
    const relation = resolver.resolve(body.arg);
    if (body.nulltesttype !== 'IS_NULL' || body.argisrow || !relation || relation.nullable) return NOTHING;
    return restrict(relation.ref, [{ kind: 'const', value: null }]);
  }
  if (type !== 'A_Expr' || !isEqualsOperator(body.name)) return NOTHING;
  switch (body.kind) {
    case 'AEXPR_OP':
      return analyzeEquality(body.lexpr, body.rexpr, false, resolver);
    case 'AEXPR_NOT_DISTINCT':
      return analyzeEquality(body.lexpr, body.rexpr, true, resolver);
    case 'AEXPR_IN': {
      // `x IN (a, b)` is `x = a OR x = b` (transformAExprIn in parse_expr.c).
      const items: any[] = unwrapNode(body.rexpr)[1]?.items ?? [];
      return analyzeOr(items.map((item) => equalsNode(body.lexpr, item)), resolver);
    }
    case 'AEXPR_OP_ANY': {
      const relation = resolver.resolve(body.lexpr);
      const values = relation ? arrayValues(body.rexpr) : null;
      return relation && values ? restrict(relation.ref, values) : NOTHING;
    }
    default:
      return NOTHING;
  }
}

function analyzeEquality(left: any, right: any, nullSafe: boolean, resolver: ColumnResolver): Analysis {
  const [leftType, leftBody] = unwrapNode(left);
  const [rightType, rightBody] = unwrapNode(right);
  if (leftType === 'RowExpr' && rightType === 'RowExpr') {
    // (a, b) = (x, y) is a = x AND b = y; IS NOT DISTINCT FROM on rows is not pairwise-null-safe, skip it.
    const leftArgs: any[] = leftBody.args ?? [];
    const rightArgs: any[] = rightBody.args ?? [];
    if (nullSafe || leftArgs.length !== rightArgs.length) return NOTHING;
    return analyzeAnd(leftArgs.map((arg, i) => equalsNode(arg, rightArgs[i])), resolver);
  }
  const leftColumn = resolver.resolve(left);
  const rightColumn = resolver.resolve(right);
  if (leftColumn && rightColumn) {
    if (nullSafe && (leftColumn.nullable || rightColumn.nullable)) return NOTHING;
    return leftColumn.ref === rightColumn.ref ? NOTHING : { restrictions: new Map(), equalities: [[leftColumn.ref, rightColumn.ref]] };
  }
  const column = leftColumn ?? rightColumn;
  if (!column || (nullSafe && column.nullable)) return NOTHING;
  const value = scalarValue(leftColumn ? right : left);
  return value ? restrict(column.ref, [value]) : NOTHING;
}

function restrict(ref: string, values: KeyValue[]): Analysis {
  return { restrictions: new Map([[ref, values]]), equalities: [] };
}

function isEqualsOperator(name: any[] | undefined): boolean {
  const parts = (name ?? []).map((part) => unwrapNode(part)[1]?.sval);
  return (parts.length === 1 && parts[0] === '=') || (parts.length === 2 && parts[0] === 'pg_catalog' && parts[1] === '=');
}

function equalsNode(lexpr: any, rexpr: any): any {
  return { A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: '=' } }], lexpr, rexpr } };
}

function columnEquality(leftRef: string, rightRef: string, column: string): any {
  const ref = (qualifier: string) => ({ ColumnRef: { fields: [{ String: { sval: qualifier } }, { String: { sval: column } }] } });
  return equalsNode(ref(leftRef), ref(rightRef));
}

/** A constant or `$n` (through text casts), or null. */
function scalarValue(node: any): KeyValue | null {
  const [type, body] = unwrapNode(stripTextCasts(node, false));
  if (type === 'ParamRef') return { kind: 'param', index: body.number };
  if (type !== 'A_Const') return null;
  if (body.isnull) return { kind: 'const', value: null };
  if (body.sval) return { kind: 'const', value: body.sval.sval ?? '' };
  // Numbers and booleans keep their text form ('42', '1.5', 'true'); zero values are left out of the JSON.
  if (body.ival) return { kind: 'const', value: String(body.ival.ival ?? 0) };
  if (body.fval) return { kind: 'const', value: body.fval.fval };
  if (body.boolval) return { kind: 'const', value: body.boolval.boolval ? 'true' : 'false' };
  return null; // bit strings
}

/** The right side of `= ANY(...)`: `$n`, `'{a,b}'`, `ARRAY[...]` (through text[] casts), or null. */
function arrayValues(node: any): KeyValue[] | null {
  const [type, body] = unwrapNode(stripTextCasts(node, true));
  if (type === 'ParamRef') return [{ kind: 'param-array', index: body.number }];
  if (type === 'A_Const') {
    if (body.isnull) return [];
    if (!body.sval) return null;
    const values = parseArrayLiteral(body.sval.sval ?? '');
    return values ? [{ kind: 'const-array', values }] : null;
  }
  if (type === 'A_ArrayExpr') {
    const values: KeyValue[] = [];
    for (const element of body.elements ?? []) {
      if (unwrapNode(element)[0] === 'A_ArrayExpr') {
        const nested = arrayValues(element);
        if (!nested) return null;
        values.push(...nested);
      } else {
        const value = scalarValue(element);
        if (!value) return null;
        values.push(value);
      }
    }
    return values;
  }
  return null;
}

/**
 * Removes casts that leave a text value unchanged: to text or varchar without a
 * length (a length truncates), or their arrays; and collations whose equality is
 * byte equality ("C", "POSIX", "default"). A nondeterministic collation could
 * make different strings equal, so it stays and the condition is not recognised.
 */
export function stripTextCasts(node: any, array: boolean): any {
  for (;;) {
    const [type, body] = unwrapNode(node);
    if (type === 'TypeCast' && isTextType(body.typeName, array)) node = body.arg;
    else if (type === 'CollateClause' && isByteCollation(body.collname)) node = body.arg;
    else return node;
  }
}

function isTextType(typeName: any, array: boolean): boolean {
  const names: string[] = (typeName?.names ?? []).map((name: any) => unwrapNode(name)[1]?.sval);
  const base = names.length === 1 || (names.length === 2 && names[0] === 'pg_catalog') ? names[names.length - 1] : null;
  const isArray = (typeName?.arrayBounds?.length ?? 0) > 0;
  return (base === 'text' || base === 'varchar') && !typeName.typmods?.length && !typeName.setof && isArray === array;
}

function isByteCollation(collname: any[] | undefined): boolean {
  const parts = (collname ?? []).map((part) => unwrapNode(part)[1]?.sval);
  const name = parts.length === 1 || (parts.length === 2 && parts[0] === 'pg_catalog') ? parts[parts.length - 1] : null;
  return name === 'C' || name === 'POSIX' || name === 'default';
}

// ---------------------------------------------------------------------------
// Combining restrictions

function isConstant(values: KeyValue[]): boolean {
  return values.every((value) => value.kind === 'const' || value.kind === 'const-array');
}

function constants(values: KeyValue[]): (string | null)[] {
  const out = new Set<string | null>();
  for (const value of values) {
    const items = value.kind === 'const' ? [value.value] : value.kind === 'const-array' ? value.values : [];
    for (const item of items) out.add(item);
  }
  return [...out];
}

/** How many values a restriction allows at most; a parameter array is unbounded. */
function width(values: KeyValue[]): number {
  let total = 0;
  for (const value of values) {
    if (value.kind === 'param-array') return Infinity;
    total += value.kind === 'const-array' ? value.values.length : 1;
  }
  return total;
}

function intersect(a: KeyValue[], b: KeyValue[]): KeyValue[] {
  if (isConstant(a) && isConstant(b)) {
    const inB = new Set(constants(b));
    return constants(a)
      .filter((value) => inB.has(value))
      .map((value) => ({ kind: 'const', value }));
  }
  return width(b) < width(a) ? b : a;
}

function union(lists: KeyValue[][]): KeyValue[] {
  const out: KeyValue[] = [];
  const seen = new Set<string>();
  for (const value of lists.flat()) {
    const key = JSON.stringify(value);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(value);
    }
  }
  return out;
}

/** Connected components of refs under the equalities, each in the order of `relations`. */
function groupsOf(relations: KeyRelation[], equalities: Equality[]): string[][] {
  const parent = new Map<string, string>();
  const find = (ref: string): string => {
    let root = ref;
    while (parent.has(root) && parent.get(root) !== root) root = parent.get(root)!;
    parent.set(ref, root);
    return root;
  };
  for (const [a, b] of equalities) {
    const rootA = find(a);
    const rootB = find(b);
    if (rootA !== rootB) parent.set(rootA, rootB);
  }
  const groups = new Map<string, string[]>();
  for (const { ref } of relations) {
    if (!parent.has(ref)) continue;
    const root = find(ref);
    const group = groups.get(root) ?? [];
    if (!group.includes(ref)) group.push(ref);
    groups.set(root, group);
  }
  return [...groups.values()];
}
