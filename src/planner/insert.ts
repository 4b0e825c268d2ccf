import type { CatalogSnapshot, TableInfo } from '../topology/snapshot.ts';
import { deparseSync } from 'pgsql-deparser';
import { ClientError, SqlState } from '../shared/errors.ts';
import { unwrapNode, walk } from './sql-ast.ts';
import { replaceRelationNames } from './merge-select.ts';
import { stripTextCasts, type KeyValue } from './shard-key.ts';
import { relationPlaceholder, type Plan } from './plan.ts';

/**
 * The distribution value of one VALUES row: a constant or a parameter, through casts
 * that leave a text value as it is (text, varchar without a length). Any other cast
 * (varchar(5) truncates, char(n) pads, a domain or another type may change the text) is
 * not followed: the row is routed by the value PostgreSQL stores, or refused.
 */
function keyValueOf(node: any): KeyValue | null {
  const [kind, body] = unwrapNode(stripTextCasts(node, false));
  if (kind === 'A_Const') {
    if (body.isnull) return { kind: 'const', value: null };
    if (body.sval) return { kind: 'const', value: body.sval.sval ?? '' };
    if (body.ival) return { kind: 'const', value: String(body.ival.ival ?? 0) };
    if (body.fval) return { kind: 'const', value: String(body.fval.fval) };
    if (body.boolval) return { kind: 'const', value: body.boolval.boolval ? 'true' : 'false' };
    return null;
  }
  if (kind === 'ParamRef') return { kind: 'param', index: body.number };
  return null;
}

const unsupported = (message: string): Plan => ({ kind: 'unsupported', error: new ClientError(SqlState.featureNotSupported, message) });

/** The INSERT's column list and the place of the distribution column in it (both required). */
function keyColumn(body: any, target: TableInfo): { columns: string[]; keyIndex: number } | Plan {
  if (!body.cols) return unsupported(`INSERT into distributed table ${target.name} must name its columns, so dpg can find the distribution column ${target.distributionColumn}`);
  const columns: string[] = body.cols.map((c: any) => unwrapNode(c)[1].name);
  const keyIndex = columns.indexOf(target.distributionColumn!);
  if (keyIndex < 0) return unsupported(`INSERT into distributed table ${target.name} must give the distribution column ${target.distributionColumn}`);
  return { columns, keyIndex };
}

/**
 * INSERT into a distributed table. Each VALUES row must give the distribution
 * column as a constant or a parameter; a one-row INSERT routes whole to its shard,
 * a multi-row INSERT is split by shard at execution.
 */
export function planInsert(body: any, template: string, relations: TableInfo[], placeholders: Map<number, string>): Plan {
  const target = relations[0]!;
  if (target.kind !== 'distributed') return unsupported('INSERT into a reference table that reads distributed tables is not supported');
  const select = body.selectStmt && unwrapNode(body.selectStmt)[1];
  if (!select) return unsupported(`INSERT ... DEFAULT VALUES into distributed table ${target.name} is not supported: give the distribution column ${target.distributionColumn} in VALUES`);
  if (!select.valuesLists) return unsupported(`INSERT ... SELECT into distributed table ${target.name}: the SELECT could not be planned`);
  const keyed = keyColumn(body, target);
  if ('kind' in keyed) return keyed;
  const { keyIndex } = keyed;
  const rowKeys: KeyValue[] = [];
  for (const row of select.valuesLists as any[]) {
    const items = unwrapNode(row)[1].items as any[];
    const key = keyValueOf(items[keyIndex]);
    if (!key) return unsupported(`the value of distribution column ${target.distributionColumn} must be a constant or a parameter (cast to text or varchar without a length, if at all) in every row, so that dpg routes it by the value PostgreSQL stores`);
    rowKeys.push(key);
  }
  if (rowKeys.length === 1) {
    return { kind: 'distributed', command: 'INSERT', anchor: target, keyValues: rowKeys, pinnedEach: null, template, relations, merge: null, aggregate: null, mergeUnsupported: null, readOnly: false };
  }
  const node = structuredClone(body);
  replaceRelationNames(node, placeholders);
  return { kind: 'insert', table: target, rowKeys, node, relations, returning: !!body.returningList };
}

/**
 * INSERT INTO distributed table (columns) SELECT ...: planned as the SELECT (any query
 * dpg runs: routed, merged over shards, a reference table's, the control group's) whose
 * rows the executor then routes as VALUES, each by its distribution value, all in one
 * transaction (Citus' "pull to the coordinator" INSERT ... SELECT). Returns null for
 * anything else (the caller plans it as before).
 */
export function planInsertSelect(body: any, snapshot: CatalogSnapshot, planSelect: (sql: string) => Plan): Plan | null {
  const select = body.selectStmt && unwrapNode(body.selectStmt)[1];
  if (!select || select.valuesLists) return null;
  const target = snapshot.table(body.relation.relname, body.relation.schemaname ?? null);
  if (!target || target.kind !== 'distributed') return null;
  if (body.withClause) return unsupported(`INSERT ... SELECT into distributed table ${target.name} with a WITH clause is not supported: put the WITH inside the SELECT`);
  const keyed = keyColumn(body, target);
  if ('kind' in keyed) return keyed;
  const { columns, keyIndex } = keyed;
  // The rows are sent as constants: parameters may appear in the SELECT only (not in ON CONFLICT or RETURNING).
  let outside = false;
  walk({ ...body, selectStmt: null }, (key) => {
    if (key === 'ParamRef') outside = true;
    return undefined;
  });
  if (outside) return unsupported(`parameters of INSERT ... SELECT into distributed table ${target.name} may appear in its SELECT only, not in ON CONFLICT or RETURNING`);
  const source = planSelect(deparseSync({ SelectStmt: select } as any));
  if (source.kind === 'unsupported') return source;
  if (source.kind !== 'distributed' && source.kind !== 'control') return unsupported(`the SELECT of INSERT ... SELECT into ${target.name} must be a query`);
  // The target's rows are filled in per shard: its name becomes the placeholder, its own name the alias.
  const node = structuredClone(body);
  node.relation = { ...node.relation, relname: relationPlaceholder(0), schemaname: undefined, alias: node.relation.alias ?? { aliasname: target.name } };
  node.selectStmt = { SelectStmt: { valuesLists: [], limitOption: 'LIMIT_OPTION_DEFAULT', op: 'SETOP_NONE' } };
  return { kind: 'insert', table: target, rowKeys: [], node, relations: [target], returning: !!body.returningList, source: { plan: source, columns: columns.length, keyIndex } };
}
