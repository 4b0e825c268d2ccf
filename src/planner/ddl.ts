import { deparseSync } from 'pgsql-deparser';
import type { CatalogSnapshot, TableInfo } from '../topology/snapshot.ts';
import { ClientError, SqlState } from '../shared/errors.ts';
import { unwrapNode, walk, type ParsedStatement } from './sql-ast.ts';
import { collectRelations } from './relations.ts';
import type { Plan, DdlPlan } from './plan.ts';
import { quoteIdent } from '../shared/quoting.ts';

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
  GrantStmt: 'GRANT',
  CreatePolicyStmt: 'CREATE POLICY',
  AlterPolicyStmt: 'ALTER POLICY',
};

export function planDdl(kind: string, statement: ParsedStatement, snapshot: CatalogSnapshot): Plan | null {
  const node = unwrapNode(statement.node)[1];
  if (kind === 'DropStmt') return planDrop(node, statement, snapshot);
  // PostgreSQL checks privileges and row-level security on the shards: they must hold what the table does.
  if (kind === 'GrantStmt' && node.targtype === 'ACL_TARGET_ALL_IN_SCHEMA' && node.objtype === 'OBJECT_TABLE') {
    const schemas = (node.objects as any[]).map((o) => unwrapNode(o)[1].sval as string);
    // dpg's tables all live in schema public.
    const inSchema = schemas.includes('public') ? [...snapshot.tables.values()] : [];
    if (inSchema.length > 0) return notSupported(`GRANT/REVOKE ... ON ALL TABLES IN SCHEMA does not reach the shards of distributed and reference tables (${inSchema.map((t) => t.name).join(', ')}): name the tables`);
  }
  if (kind === 'AlterDefaultPrivilegesStmt') {
    return notSupported('ALTER DEFAULT PRIVILEGES would not reach the shards dpg creates on the worker groups: GRANT on each table after create_distributed_table instead');
  }
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
  const ROW_SECURITY = ['AT_EnableRowSecurity', 'AT_DisableRowSecurity', 'AT_ForceRowSecurity', 'AT_NoForceRowSecurity'];
  const rowSecurity =
    kind === 'CreatePolicyStmt' || kind === 'AlterPolicyStmt' || (kind === 'AlterTableStmt' && (node.cmds as any[]).some((c) => ROW_SECURITY.includes(unwrapNode(c)[1].subtype)));
  const concurrent = (kind === 'IndexStmt' && node.concurrent) || kind === 'VacuumStmt' || (kind === 'ReindexStmt' && node.concurrent);
  return {
    kind: 'ddl',
    shellSql: shellNode === statement.node ? statement.text : deparseSync(shellNode),
    tables,
    // A GRANT on several tables reaches each table's shards with that table alone (their shards live on different groups).
    render: kind === 'GrantStmt' ? (table, shardIndex) => renderForShard(grantOn(shellNode, locations, table), locations, shardIndex) : (_table, shardIndex) => renderForShard(shellNode, locations, shardIndex),
    transactional: !concurrent,
    dropsTables: [],
    rowSecurity,
    tag: kind === 'VacuumStmt' && !node.is_vacuumcmd ? 'ANALYZE' : kind === 'GrantStmt' && !node.is_grant ? 'REVOKE' : TAGS[kind]!,
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

/** The GRANT/REVOKE with `table` as its only object. */
function grantOn(statementNode: any, locations: Map<number, TableInfo>, table: TableInfo): any {
  const tree = structuredClone(statementNode);
  const grant = unwrapNode(tree)[1];
  grant.objects = (grant.objects as any[]).filter((o) => locations.get(unwrapNode(o)[1].location) === table);
  return tree;
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
  if (node.removeType === 'OBJECT_POLICY') return planDropPolicy(node, statement, snapshot);
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


/** DROP POLICY name ON table: on the shell and on every shard of a distributed or reference table. */
function planDropPolicy(node: any, statement: ParsedStatement, snapshot: CatalogSnapshot): Plan | null {
  const names = (node.objects as any[]).map((o) => (unwrapNode(o)[1].items as any[]).map((i) => unwrapNode(i)[1].sval as string));
  const [parts] = names;
  if (!parts || names.length !== 1) return null;
  const policy = parts.at(-1)!;
  const table = snapshot.table(parts.at(-2)!, parts.length > 2 ? parts[0]! : null);
  if (!table) return null;
  const ifExists = node.missing_ok ? ' IF EXISTS' : '';
  const cascade = node.behavior === 'DROP_CASCADE' ? ' CASCADE' : '';
  return {
    kind: 'ddl',
    shellSql: statement.text,
    tables: [table],
    render: (t: TableInfo, shardIndex: number) => `DROP POLICY${ifExists} ${quoteIdent(policy)} ON ${quoteIdent(`${t.name}${shardSuffix(t, shardIndex)}`)}${cascade}`,
    transactional: true,
    dropsTables: [],
    rowSecurity: true,
    tag: 'DROP POLICY',
    notices: [],
  } satisfies DdlPlan;
}
