import type { CatalogSnapshot, TableInfo } from '../topology/snapshot.ts';
import { ClientError, SqlState } from '../shared/errors.ts';
import { unwrapNode, walk } from './sql-ast.ts';

const WRITE_STATEMENTS = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/** A write inside a statement: a data-modifying CTE (WITH d AS (DELETE ...) SELECT ...). */
export interface NestedWrite {
  kind: string;
  /** The written table as the catalog knows it; undefined for a table dpg does not manage. */
  table: TableInfo | undefined;
}

/** The INSERT, UPDATE, DELETE and MERGE statements below the statement's own level. */
export function nestedWrites(statementNode: unknown, snapshot: CatalogSnapshot): NestedWrite[] {
  const writes: NestedWrite[] = [];
  const top = unwrapNode(statementNode)[1];
  walk(statementNode, (key, value) => {
    if (value !== top && WRITE_STATEMENTS.has(key) && value.relation) writes.push({ kind: key, table: snapshot.table(value.relation.relname, value.relation.schemaname ?? null) });
    return undefined;
  });
  return writes;
}

function assignedColumns(targetList: any[] | undefined): string[] {
  return (targetList ?? []).map((t) => unwrapNode(t)[1].name as string);
}

/**
 * An UPDATE at any level (a CTE's too), an INSERT ... ON CONFLICT DO UPDATE or a MERGE
 * that would assign the distribution column of a distributed table: the row would then
 * belong on another shard than the one it stays on, so pinned reads and unique
 * constraints would miss it. Refused like a top-level UPDATE of that column.
 */
export function distributionColumnChange(statementNode: unknown, snapshot: CatalogSnapshot): ClientError | null {
  let error: ClientError | null = null;
  walk(statementNode, (key, value) => {
    if (error || !WRITE_STATEMENTS.has(key) || !value.relation) return error ? false : undefined;
    const table = snapshot.table(value.relation.relname, value.relation.schemaname ?? null);
    if (table?.kind !== 'distributed') return undefined;
    const column = table.distributionColumn!;
    let assigned: string[] = [];
    let what = 'UPDATE';
    if (key === 'UpdateStmt') assigned = assignedColumns(value.targetList);
    else if (key === 'InsertStmt' && value.onConflictClause?.action === 'ONCONFLICT_UPDATE') {
      assigned = assignedColumns(value.onConflictClause.targetList);
      what = 'INSERT ... ON CONFLICT DO UPDATE';
    } else if (key === 'MergeStmt') {
      const updates = ((value.mergeWhenClauses as any[]) ?? []).map((c) => unwrapNode(c)[1]).filter((c) => c.commandType === 'CMD_UPDATE');
      assigned = updates.flatMap((c) => assignedColumns(c.targetList));
      what = 'MERGE';
    }
    if (assigned.includes(column)) {
      error = new ClientError(SqlState.featureNotSupported, `${what} cannot change the distribution column ${column} of ${table.name}: the row would belong on another shard. DELETE it and INSERT it anew`);
      return false;
    }
    return undefined;
  });
  return error;
}
