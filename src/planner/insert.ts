import type { TableInfo } from '../catalog/snapshot.ts';
import { ClientError, SqlState } from '../server/client-error.ts';
import { unwrapNode } from './sql-ast.ts';
import { replaceRelationNames } from './merge-select.ts';
import type { KeyValue } from './shard-key.ts';
import type { Plan } from './plan.ts';

/** The distribution value of one VALUES row: a constant or a parameter, possibly cast. */
function keyValueOf(node: any): KeyValue | null {
  const [kind, body] = unwrapNode(node);
  if (kind === 'A_Const') {
    if (body.isnull) return { kind: 'const', value: null };
    if (body.sval) return { kind: 'const', value: body.sval.sval ?? '' };
    if (body.ival) return { kind: 'const', value: String(body.ival.ival ?? 0) };
    if (body.fval) return { kind: 'const', value: String(body.fval.fval) };
    if (body.boolval) return { kind: 'const', value: body.boolval.boolval ? 'true' : 'false' };
    return null;
  }
  if (kind === 'ParamRef') return { kind: 'param', index: body.number };
  if (kind === 'TypeCast') return keyValueOf(body.arg);
  return null;
}

const unsupported = (message: string): Plan => ({ kind: 'unsupported', error: new ClientError(SqlState.featureNotSupported, message) });

/**
 * INSERT into a distributed table. Each VALUES row must give the distribution
 * column as a constant or a parameter; a one-row INSERT routes whole to its shard,
 * a multi-row INSERT is split by shard at execution.
 */
export function planInsert(body: any, template: string, relations: TableInfo[], placeholders: Map<number, string>): Plan {
  const target = relations[0]!;
  if (target.kind !== 'distributed') return unsupported('INSERT into a reference table that reads distributed tables is not supported');
  const select = body.selectStmt && unwrapNode(body.selectStmt)[1];
  if (!select?.valuesLists) {
    return unsupported(`INSERT ... SELECT and INSERT ... DEFAULT VALUES into distributed table ${target.name} are not supported yet: use INSERT ... VALUES`);
  }
  if (!body.cols) {
    return unsupported(`INSERT into distributed table ${target.name} must name its columns, so dpg can find the distribution column ${target.distributionColumn}`);
  }
  const columns: string[] = body.cols.map((c: any) => unwrapNode(c)[1].name);
  const keyIndex = columns.indexOf(target.distributionColumn!);
  if (keyIndex < 0) {
    return unsupported(`INSERT into distributed table ${target.name} must give the distribution column ${target.distributionColumn}`);
  }
  const rowKeys: KeyValue[] = [];
  for (const row of select.valuesLists as any[]) {
    const items = unwrapNode(row)[1].items as any[];
    const key = keyValueOf(items[keyIndex]);
    if (!key) return unsupported(`the value of distribution column ${target.distributionColumn} must be a constant or a parameter in every row`);
    rowKeys.push(key);
  }
  if (rowKeys.length === 1) {
    return { kind: 'distributed', command: 'INSERT', anchor: target, keyValues: rowKeys, pinnedEach: null, template, relations, merge: null, aggregate: null, mergeUnsupported: null, readOnly: false };
  }
  const node = structuredClone(body);
  replaceRelationNames(node, placeholders);
  return { kind: 'insert', table: target, rowKeys, node, relations, returning: !!body.returningList };
}
