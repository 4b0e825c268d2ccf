import { deparseSync } from 'pgsql-deparser';
import type { CatalogSnapshot, TableInfo } from '../catalog/snapshot.ts';
import { ClientError, SqlState } from '../server/client-error.ts';
import { unwrapNode, walk, type ParsedStatement } from './sql-ast.ts';
import { collectRelations } from './relations.ts';
import type { Plan, DdlPlan } from './plan.ts';

const INDEX_BACKED = new Set(['CONSTR_PRIMARY', 'CONSTR_UNIQUE', 'CONSTR_EXCLUSION']);

const notSupported = (message: string): Plan => ({ kind: 'unsupported', error: new ClientError(SqlState.featureNotSupported, message) });

const TAGS: Record<string, string> = {
  IndexStmt: 'CREATE INDEX',
  AlterTableStmt: 'ALTER TABLE',
  DropStmt: 'DROP TABLE',
  TruncateStmt: 'TRUNCATE TABLE',
  VacuumStmt: 'VACUUM',
  RenameStmt: 'ALTER TABLE',
  ReindexStmt: 'REINDEX',
};

export function planDdl(kind: string, statement: ParsedStatement, snapshot: CatalogSnapshot): Plan | null {
  const node = unwrapNode(statement.node)[1];
  if (kind === 'DropStmt') return planDrop(node, statement, snapshot);
  const { relations } = collectRelations(statement.node);
  const managed = relations.filter((r) => snapshot.table(r.name, r.schema));
  if (managed.length === 0) {
    const { shellNode, notices } = withoutEfSearch(kind, statement.node);
    return shellNode === statement.node ? null : { kind: 'control', sql: deparseSync(shellNode), utility: true, notices };
  }
  if (!TAGS[kind]) return notSupported(`${kind.replace(/Stmt$/, '')} on distributed or reference tables (${managed.map((r) => r.name).join(', ')}) is not supported yet`);
  if (managed.length !== relations.length) return notSupported('a DDL statement cannot mix distributed or reference tables with other tables');
  if (kind === 'RenameStmt' && node.renameType !== 'OBJECT_COLUMN') {
    return notSupported('renaming a distributed or reference table is not supported yet; rename its columns, or create a new table');
  }
  if (kind === 'AlterTableStmt') {
    for (const command of node.cmds as any[]) {
      const cmd = unwrapNode(command)[1];
      const constraint = cmd.def && unwrapNode(cmd.def)[0] === 'Constraint' ? unwrapNode(cmd.def)[1] : null;
      if (constraint?.contype === 'CONSTR_FOREIGN') return notSupported('foreign keys on distributed tables are not supported yet');
      if (cmd.subtype === 'AT_SetRelOptions' || cmd.subtype === 'AT_AddInherit' || cmd.subtype === 'AT_AttachPartition') {
        return notSupported(`ALTER TABLE ... ${String(cmd.subtype).replace('AT_', '')} on a distributed table is not supported`);
      }
    }
  }
  const { shellNode, notices } = withoutEfSearch(kind, statement.node);
  const locations = new Map(managed.map((r) => [r.location, snapshot.table(r.name, r.schema)!]));
  const tables = [...new Set(locations.values())];
  const concurrent = (kind === 'IndexStmt' && node.concurrent) || kind === 'VacuumStmt' || (kind === 'ReindexStmt' && node.concurrent);
  return {
    kind: 'ddl',
    shellSql: shellNode === statement.node ? statement.text : deparseSync(shellNode),
    tables,
    render: (_table, shardIndex) => renderForShard(shellNode, locations, shardIndex),
    transactional: !concurrent,
    dropsTables: [],
    tag: kind === 'VacuumStmt' && !node.is_vacuumcmd ? 'ANALYZE' : TAGS[kind]!,
    notices,
  } satisfies DdlPlan;
}

/** The seed's CREATE INDEX ... WITH (ef_search = n): ef_search is a query-time setting in pgvector (hnsw.ef_search), not an index option. */
function withoutEfSearch(kind: string, statementNode: any): { shellNode: any; notices: string[] } {
  if (kind !== 'IndexStmt') return { shellNode: statementNode, notices: [] };
  const options = (unwrapNode(statementNode)[1].options as any[] | undefined) ?? [];
  const kept = options.filter((o) => unwrapNode(o)[1]?.defname !== 'ef_search');
  if (kept.length === options.length) return { shellNode: statementNode, notices: [] };
  const shellNode = structuredClone(statementNode);
  const index = unwrapNode(shellNode)[1];
  if (kept.length > 0) index.options = kept;
  else delete index.options;
  return { shellNode, notices: ['ef_search is not an index option in pgvector; dropped it: set hnsw.ef_search per session or query instead'] };
}

function shardSuffix(table: TableInfo, shardIndex: number): string {
  return `_${(table.kind === 'reference' ? table.shards[0]! : table.shards[shardIndex]!).shardId}`;
}

function renderForShard(statementNode: any, locations: Map<number, TableInfo>, shardIndex: number): string {
  const tree = structuredClone(statementNode);
  const first = [...locations.values()][0]!;
  const suffix = shardSuffix(first, shardIndex);
  walk(tree, (key, value) => {
    if (typeof value.relname === 'string' && locations.has(value.location)) {
      value.relname = `${value.relname}${shardSuffix(locations.get(value.location)!, shardIndex)}`;
    }
    if (key === 'IndexStmt' && value.idxname) value.idxname = `${value.idxname}${suffix}`;
    if (key === 'Constraint' && value.conname && INDEX_BACKED.has(value.contype)) value.conname = `${value.conname}${suffix}`;
    return undefined;
  });
  return deparseSync(tree);
}

function planDrop(node: any, statement: ParsedStatement, snapshot: CatalogSnapshot): Plan | null {
  if (node.removeType !== 'OBJECT_TABLE') {
    if (node.removeType === 'OBJECT_INDEX') {
      const indexes = (node.objects as any[]).map((o) => (unwrapNode(o)[1].items as any[]).map((i) => unwrapNode(i)[1].sval as string).join('.'));
      return { kind: 'drop-index', sql: statement.text, indexes, ifExists: !!node.missing_ok, cascade: node.behavior === 'DROP_CASCADE', concurrent: !!node.concurrent };
    }
    return null;
  }
  const names = (node.objects as any[]).map((o) => (unwrapNode(o)[1].items as any[]).map((i) => unwrapNode(i)[1].sval as string));
  const tables = names.map((parts) => snapshot.table(parts.at(-1)!, parts.length > 1 ? parts[0]! : null)).filter((t): t is TableInfo => !!t);
  if (tables.length === 0) return null;
  const ifExists = node.missing_ok ? ' IF EXISTS' : '';
  const cascade = node.behavior === 'DROP_CASCADE' ? ' CASCADE' : '';
  return {
    kind: 'ddl',
    shellSql: statement.text,
    tables,
    render: (table: TableInfo, shardIndex: number) => `DROP TABLE${ifExists} ${table.name}${shardSuffix(table, shardIndex)}${cascade}`,
    transactional: true,
    dropsTables: tables.map((t) => t.name),
    tag: 'DROP TABLE',
    notices: [],
  } satisfies DdlPlan;
}

