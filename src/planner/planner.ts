import type { CatalogSnapshot, TableInfo } from '../topology/snapshot.ts';
import { ClientError, SqlState } from '../shared/errors.ts';
import type { ParsedStatement } from './sql-ast.ts';
import { parseSql, unwrapNode, walk } from './sql-ast.ts';
import { collectRelations, type RelationRef } from './relations.ts';
import { analyzeShardKey, joinConditions, type KeyRelation, type KeyValue } from './shard-key.ts';
import { rewriteRelations } from './rewrite.ts';
import { relationPlaceholder, type Plan, type DistributedPlan } from './plan.ts';
import { planMergeSelect, usesAggregates } from './merge-select.ts';
import { planAggregateSelect } from './aggregate-select.ts';
import { planInsert, planInsertSelect } from './insert.ts';
import { planDdl } from './ddl.ts';
import { planCopy } from './copy.ts';
import { searchColumn, hasOtherFilters } from './vector-search.ts';
import { isDeterministic } from './volatility.ts';
import { checkSetConfigCalls, checkSetStatement } from './lexing-settings.ts';
import { checkPrivileged } from './privileged.ts';
import { checkTemporaryObjects, planSessionState, sessionConfigCalls } from './session-state.ts';
import { distributionColumnChange, nestedWrites } from './nested-writes.ts';

const notSupported = (message: string): Plan => ({ kind: 'unsupported', error: new ClientError(SqlState.featureNotSupported, message) });

const TRANSACTION_TAGS: Record<string, { action: Extract<Plan, { kind: 'transaction' }>['action']; tag: string }> = {
  TRANS_STMT_BEGIN: { action: 'begin', tag: 'BEGIN' },
  TRANS_STMT_START: { action: 'begin', tag: 'START TRANSACTION' },
  TRANS_STMT_COMMIT: { action: 'commit', tag: 'COMMIT' },
  TRANS_STMT_ROLLBACK: { action: 'rollback', tag: 'ROLLBACK' },
  TRANS_STMT_SAVEPOINT: { action: 'savepoint', tag: 'SAVEPOINT' },
  TRANS_STMT_RELEASE: { action: 'release', tag: 'RELEASE' },
  TRANS_STMT_ROLLBACK_TO: { action: 'rollback-to', tag: 'ROLLBACK' },
  TRANS_STMT_PREPARE: { action: 'prepare', tag: 'PREPARE TRANSACTION' },
  TRANS_STMT_COMMIT_PREPARED: { action: 'commit-prepared', tag: 'COMMIT PREPARED' },
  TRANS_STMT_ROLLBACK_PREPARED: { action: 'rollback-prepared', tag: 'ROLLBACK PREPARED' },
};

/** Statements that would change dpg's catalog (schema dpg_catalog) other than through dpg's own functions. */
function writesCatalog(kind: string | null, statement: ParsedStatement): boolean {
  if (kind === 'SelectStmt' || kind === 'VariableShowStmt' || kind === 'ExplainStmt') return false;
  return JSON.stringify(statement.node).includes('"dpg_catalog"');
}

/** Plans one parsed statement against a catalog snapshot. */
export function planStatement(statement: ParsedStatement, snapshot: CatalogSnapshot): Plan {
  const [kind, body] = unwrapNode(statement.node);
  if (writesCatalog(kind, statement)) {
    return { kind: 'unsupported', error: new ClientError('42501', "permission denied: dpg's catalog (schema dpg_catalog) changes only through dpg's functions, such as create_distributed_table") };
  }
  const refused = checkPrivileged(kind, body, statement.node) ?? (kind === 'VariableSetStmt' ? checkSetStatement(body) : checkSetConfigCalls(statement.node));
  if (refused) return { kind: 'unsupported', error: refused };
  const sessionState = planSessionState(kind, body);
  if (sessionState) return sessionState;
  const temporary = checkTemporaryObjects(statement.node);
  if (temporary) return { kind: 'unsupported', error: temporary };
  const sessionConfig = sessionConfigCalls(kind, body, statement.node);
  if (sessionConfig instanceof ClientError) return { kind: 'unsupported', error: sessionConfig };
  const plan = planKind(kind, body, statement, snapshot);
  if (sessionConfig.length === 0) return plan;
  if (plan.kind !== 'control') return notSupported('set_config() in a statement over distributed or reference tables is not supported through dpg: call it in a SELECT of its own');
  return { ...plan, sessionConfig };
}

function planKind(kind: string | null, body: any, statement: ParsedStatement, snapshot: CatalogSnapshot): Plan {
  switch (kind) {
    case 'TransactionStmt': {
      const entry = TRANSACTION_TAGS[body.kind as string];
      if (!entry) return notSupported(`transaction statement ${String(body.kind)} is not supported`);
      if (entry.action === 'prepare' || entry.action === 'commit-prepared' || entry.action === 'rollback-prepared') {
        return notSupported('PREPARE TRANSACTION and COMMIT/ROLLBACK PREPARED are used by dpg itself for two-phase commit and are not available to clients');
      }
      return { kind: 'transaction', action: entry.action, sql: statement.text, tag: entry.tag };
    }
    case 'VariableSetStmt': {
      const setKind = body.kind as string;
      const reset = setKind === 'VAR_RESET' || setKind === 'VAR_RESET_ALL';
      return {
        kind: 'set',
        sql: statement.text,
        name: setKind === 'VAR_RESET_ALL' ? null : ((body.name as string | undefined) ?? null),
        local: !!body.is_local || setKind === 'VAR_SET_MULTI',
        reset,
        tag: reset ? 'RESET' : 'SET',
      };
    }
    case 'SelectStmt':
      return planDistributionFunction(body) ?? planQuery(kind, body, statement, snapshot);
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'InsertStmt':
      return planQuery(kind, body, statement, snapshot);
    case 'CopyStmt':
      return planCopy(statement, snapshot);
    default:
      return planDdl(kind ?? 'unknown', statement, snapshot) ?? planUtility(kind ?? 'unknown', statement, snapshot);
  }
}

const DISTRIBUTION_FUNCTIONS = new Set([
  'create_distributed_table',
  'create_reference_table',
  'alter_distributed_table',
  'undistribute_table',
  // Shard moves and the rebalancer (executor/rebalance-functions.ts).
  'citus_move_shard_placement',
  'master_move_shard_placement',
  'rebalance_table_shards',
  'get_rebalance_table_shards_plan',
  'citus_rebalance_start',
  'citus_rebalance_wait',
  'citus_split_shard_by_split_points',
]);

/** A constant argument as text: 'x', 12, 'x'::regclass, NULL, ARRAY['1', '2'] (as the array literal {1,2}). */
function constantText(node: any): string | null | undefined {
  const [kind, value] = unwrapNode(node);
  if (kind === 'TypeCast') return constantText(value.arg);
  if (kind === 'A_ArrayExpr') {
    const elements = ((value.elements as any[]) ?? []).map(constantText);
    if (elements.some((e) => e === undefined)) return undefined;
    return `{${elements.map((e) => (e === null ? 'NULL' : `"${e!.replace(/["\\]/g, '\\$&')}"`)).join(',')}}`;
  }
  if (kind !== 'A_Const') return undefined;
  if (value.isnull) return null;
  if (value.sval) return value.sval.sval ?? '';
  if (value.ival) return String(value.ival.ival ?? 0);
  if (value.boolval) return String(!!value.boolval.boolval);
  return undefined;
}

/**
 * `SELECT create_distributed_table('t', 'col', ...)` and its siblings, or
 * `SELECT * FROM get_rebalance_table_shards_plan(...)`: run by the coordinator itself.
 */
function planDistributionFunction(body: any): Plan | null {
  if (body.targetList?.length !== 1) return null;
  const target = unwrapNode(unwrapNode(body.targetList[0])[1].val);
  let kind: string | null;
  let call: any;
  if (!body.fromClause) [kind, call] = target;
  else {
    // SELECT * FROM fn(...): one function in FROM, all its columns.
    const star = target[0] === 'ColumnRef' && target[1].fields?.length === 1 && unwrapNode(target[1].fields[0])[0] === 'A_Star';
    const [fromKind, from] = body.fromClause.length === 1 ? unwrapNode(body.fromClause[0]) : [null, null];
    if (!star || fromKind !== 'RangeFunction' || from.functions?.length !== 1 || body.whereClause || from.ordinality || from.alias) return null;
    [kind, call] = unwrapNode(unwrapNode(from.functions[0])[1].items[0]);
  }
  if (kind !== 'FuncCall') return null;
  const name = (call.funcname as any[]).map((n) => unwrapNode(n)[1]?.sval).at(-1) as string;
  if (!DISTRIBUTION_FUNCTIONS.has(name)) return null;
  const args: (string | null)[] = [];
  const named: Record<string, string | null> = {};
  for (const arg of (call.args as any[]) ?? []) {
    const [argKind, argBody] = unwrapNode(arg);
    const value = constantText(argKind === 'NamedArgExpr' ? argBody.arg : arg);
    if (value === undefined) return notSupported(`the arguments of ${name} must be constants`);
    if (argKind === 'NamedArgExpr') named[argBody.name] = value;
    else args.push(value);
  }
  return { kind: 'distribution-function', name: name as 'create_distributed_table', args, named };
}

/** DDL and other utility statements: on the control group unless they name a distributed table. */
function planUtility(kind: string, statement: ParsedStatement, snapshot: CatalogSnapshot): Plan {
  const { relations } = collectRelations(statement.node);
  const managed = relations.filter((r) => snapshot.table(r.name, r.schema));
  if (managed.length === 0) return { kind: 'control', sql: statement.text, utility: true };
  return notSupported(`${kind.replace(/Stmt$/, '')} on distributed or reference tables (${managed.map((r) => r.name).join(', ')}) is not supported yet`);
}

interface Resolved {
  ref: RelationRef;
  table: TableInfo | undefined;
}

/** Where PostgreSQL's grammar allows `relation AS alias`: FROM items and the targets of INSERT/UPDATE/DELETE. */
function canAlias(kind: string, ref: RelationRef): boolean {
  return ref.inFrom || (ref.isTarget && kind !== 'MergeStmt');
}

function planQuery(kind: string, body: any, statement: ParsedStatement, snapshot: CatalogSnapshot): Plan {
  const keyChange = distributionColumnChange(statement.node, snapshot);
  if (keyChange) return { kind: 'unsupported', error: keyChange };
  if (kind === 'InsertStmt') {
    const pulled = planInsertSelect(body, snapshot, (sql) => {
      const parsed = parseSql(sql);
      return parsed.length === 1 ? planStatement(parsed[0]!, snapshot) : notSupported('the SELECT of INSERT ... SELECT must be one statement');
    });
    if (pulled) return pulled;
  }
  const info = collectRelations(statement.node);
  const resolved: Resolved[] = info.relations.map((ref) => ({ ref, table: snapshot.table(ref.name, ref.schema) }));
  const managed = resolved.filter((r) => r.table);
  if (managed.length === 0) return { kind: 'control', sql: statement.text, utility: false };
  const local = resolved.filter((r) => !r.table && !r.ref.name.startsWith('pg_') && r.ref.schema !== 'pg_catalog' && r.ref.schema !== 'information_schema');
  if (local.length > 0) {
    return notSupported(
      `a statement cannot mix distributed or reference tables with tables that live only on the coordinator (${local.map((r) => r.ref.name).join(', ')})`,
    );
  }
  const catalogRefs = resolved.filter((r) => !r.table);
  if (catalogRefs.length > 0) return notSupported('a statement cannot join distributed tables with system catalogs');

  const relations = managed.map((r) => r.table!);
  // `TABLE name` takes no alias.
  const tableCommand = /^table\s/i.test(statement.text);
  // A relation without an alias gets its own name as alias on the shard, so references
  // such as memory_entries.key (and ON CONFLICT ... memory_entries.value) keep working.
  const template = rewriteRelations(
    statement.text,
    managed.map((r, k) => ({ location: r.ref.location, newName: relationPlaceholder(k), alias: r.ref.alias || !canAlias(kind, r.ref) || tableCommand ? undefined : r.ref.name })),
  );
  const distributed = managed.filter((r) => r.table!.kind === 'distributed');
  // Data-modifying CTEs (WITH d AS (DELETE ...) SELECT ...) make the statement a write:
  // never run again after a lost connection, never cached, with the tables' durability.
  const writes = nestedWrites(statement.node, snapshot).filter((w) => w.table);
  if (kind === 'InsertStmt' && (writes.length > 0 || distributed.length > 1)) {
    return notSupported('an INSERT into a distributed table that reads or writes distributed tables in a CTE or subquery is not supported (the other tables\' rows live on other shards); use INSERT ... SELECT');
  }

  if (distributed.length === 0) {
    if (kind === 'SelectStmt') {
      if (info.lockingClause || writes.length > 0) return { kind: 'reference-write', template, relations };
      return { kind: 'distributed', command: 'SELECT', anchor: relations[0]!, keyValues: null, pinnedEach: null, template, relations, merge: null, aggregate: null, mergeUnsupported: null, readOnly: true, cacheable: !info.selectInto && isDeterministic(body) };
    }
    return { kind: 'reference-write', template, relations };
  }

  const colocation = new Set(distributed.map((r) => r.table!.colocationId));
  if (colocation.size > 1) {
    return notSupported(
      `the distributed tables ${distributed.map((r) => r.ref.name).join(', ')} are not co-located; dpg runs a statement only over co-located tables (same distribution column type and shard count)`,
    );
  }
  if (managed.some((r) => r.ref.isTarget && r.table!.kind === 'reference') || writes.some((w) => w.table!.kind === 'reference')) {
    return notSupported('a statement that writes a reference table cannot read distributed tables');
  }

  const placeholders = new Map(managed.map((r, k) => [r.ref.location, relationPlaceholder(k)]));
  if (kind === 'InsertStmt') return planInsert(body, template, relations, placeholders);

  // The router looks at every query level: its WHERE and inner-join conditions pin its relations.
  const levels = pinsByLevel(statement.node, snapshot);
  const fromClause = kind === 'SelectStmt' ? body.fromClause : kind === 'UpdateStmt' ? body.fromClause : body.usingClause;
  // Relations of subqueries are another scope: they must not make this level's columns ambiguous.
  const topLevel = managed.filter((r) => levels.top.has(r.ref.location));
  const keyRelations: KeyRelation[] = topLevel.map((r) => ({ ref: r.ref.alias ?? r.ref.name, distributionColumn: r.table!.distributionColumn }));
  const joins = joinConditions(fromClause, keyRelations);
  for (const relation of keyRelations) relation.nullable = joins.nullableRefs.has(relation.ref);
  const analysis = analyzeShardKey(body.whereClause, joins.innerQuals, keyRelations, { outerJoinQuals: joins.outerQuals });
  // A reference table's rows outer-joined to a distributed table would come back once per shard.
  const preservedReference = topLevel.some((r) => r.table!.kind === 'reference' && !joins.nullableRefs.has(r.ref.alias ?? r.ref.name));
  const nullableDistributed = topLevel.some((r) => r.table!.kind === 'distributed' && joins.nullableRefs.has(r.ref.alias ?? r.ref.name));
  if (preservedReference && nullableDistributed) {
    return notSupported('an outer join that keeps a reference table\'s rows against a distributed table is not supported yet (each shard would return them)');
  }

  const distributedRefs = distributed.map((r) => r.ref.alias ?? r.ref.name);
  const anchorRef = distributedRefs[0]!;
  const nested = distributed.filter((r) => !levels.top.has(r.ref.location));
  const allJoined = distributedRefs.length === 1 || analysis.joinedOnKey.some((group) => distributedRefs.every((ref) => group.includes(ref)));
  const keyValues: KeyValue[] | null = analysis.byRelation.get(anchorRef) ?? null;
  if (!allJoined || nested.length > 0) {
    // Without a join on the distribution column (or with distributed tables in subqueries)
    // every distributed relation must be pinned to one value, each at its own query level.
    const pinned = distributed.map((r) => levels.pins.get(r.ref.location) ?? null);
    if (pinned.some((values) => values === null || values.length !== 1)) {
      return notSupported(
        nested.length > 0
          ? 'a subquery or CTE over a distributed table is supported only when every distributed table in the statement is pinned to one shard by `distribution column = value`'
          : 'distributed tables must be joined on their distribution column (e.g. m.namespace = p.namespace), or each pinned to the same value',
      );
    }
    return asWrite({ ...distributedPlan(kind, body, template, relations, pinned[0]!, info, placeholders, managedRefs(managed, levels.top)), pinnedEach: pinned as KeyValue[][] }, writes.length > 0);
  }
  return asWrite(distributedPlan(kind, body, template, relations, keyValues, info, placeholders, managedRefs(managed, levels.top)), writes.length > 0);
}

/** A statement with data-modifying CTEs is a write: not read-only, not cacheable, not merged or retried as a read. */
function asWrite(plan: DistributedPlan, writes: boolean): DistributedPlan {
  return writes ? { ...plan, readOnly: false, cacheable: false } : plan;
}

/** The relations named directly in a FROM list (through joins, not into subqueries). */
function levelRangeVars(items: any[] | undefined, out: any[] = []): any[] {
  for (const item of items ?? []) {
    const [kind, body] = unwrapNode(item);
    if (kind === 'RangeVar') out.push(body);
    else if (kind === 'JoinExpr') levelRangeVars([body.larg, body.rarg], out);
  }
  return out;
}

/**
 * Distribution-key restrictions of every relation at its own query level (each
 * SELECT, and the UPDATE/DELETE itself), by the relation's location; `top` holds the
 * locations of the statement's own level.
 */
function pinsByLevel(statementNode: any, snapshot: CatalogSnapshot): { pins: Map<number, KeyValue[] | null>; top: Set<number> } {
  const pins = new Map<number, KeyValue[] | null>();
  const top = new Set<number>();
  let first = true;
  walk(statementNode, (key, value) => {
    if (key !== 'SelectStmt' && key !== 'UpdateStmt' && key !== 'DeleteStmt') return undefined;
    const from = key === 'DeleteStmt' ? value.usingClause : value.fromClause;
    const rangeVars = levelRangeVars(from);
    if (key !== 'SelectStmt' && value.relation) rangeVars.push(value.relation);
    const keyRelations: KeyRelation[] = rangeVars.map((rv) => ({
      ref: rv.alias?.aliasname ?? rv.relname,
      distributionColumn: snapshot.table(rv.relname, rv.schemaname ?? null)?.distributionColumn ?? null,
    }));
    const joins = joinConditions(from, keyRelations);
    for (const relation of keyRelations) relation.nullable = joins.nullableRefs.has(relation.ref);
    const analysis = analyzeShardKey(value.whereClause, joins.innerQuals, keyRelations, { outerJoinQuals: joins.outerQuals });
    rangeVars.forEach((rv, i) => {
      pins.set(rv.location, analysis.byRelation.get(keyRelations[i]!.ref) ?? null);
      if (first) top.add(rv.location);
    });
    first = false;
    return undefined;
  });
  return { pins, top };
}

/** How each managed relation is referred to in its query level (alias, else name), in `relations` order. */
function managedRefs(managed: Resolved[], top: Set<number>): { ref: string; top: boolean }[] {
  return managed.map((r) => ({ ref: r.ref.alias ?? r.ref.name, top: top.has(r.ref.location) }));
}

/**
 * The distributed table a vector search ranks rows of, and how the statement refers
 * to it: the relation its ORDER BY column is qualified with, else the only
 * distributed relation. Null when it cannot be told (then no tier applies).
 */
function searchedTable(body: any, relations: TableInfo[], refs: { ref: string; top: boolean }[]): { table: TableInfo; ref: string } | null {
  const column = searchColumn(body);
  if (!column) return null;
  // Only relations of the statement's own FROM: the pinned form names the relation in its WHERE.
  const candidates = relations.map((table, i) => ({ table, ref: refs[i]!.ref, top: refs[i]!.top })).filter((r) => r.table.kind === 'distributed' && r.top);
  const match = column.qualifier ? candidates.filter((r) => r.ref === column.qualifier) : candidates;
  return match.length === 1 ? match[0]! : null;
}

function distributedPlan(
  kind: string,
  body: any,
  template: string,
  relations: TableInfo[],
  keyValues: KeyValue[] | null,
  info: ReturnType<typeof collectRelations>,
  placeholders: Map<number, string>,
  refs: { ref: string; top: boolean }[],
): DistributedPlan {
  const anchor = relations.find((t) => t.kind === 'distributed')!;
  const command = kind === 'SelectStmt' ? 'SELECT' : kind === 'UpdateStmt' ? 'UPDATE' : 'DELETE';
  const base: DistributedPlan = { kind: 'distributed', command, anchor, keyValues, pinnedEach: null, template, relations, merge: null, aggregate: null, mergeUnsupported: null, readOnly: command === 'SELECT' && !info.lockingClause };
  if (command !== 'SELECT') return base;
  base.cacheable = base.readOnly && !info.selectInto && isDeterministic(body);
  base.vectorSearch = JSON.stringify(body.sortClause ?? []).match(/"sval":"(<=>|<->|<#>|<\+>)"/) !== null;
  // Tiers apply to a search whose namespace pin is the anchor's (the searched table is the anchor, or joined to it on the key).
  const searched = base.vectorSearch && !info.setOperation ? searchedTable(body, relations, refs) : null;
  if (searched) base.searched = { ...searched, otherFilters: hasOtherFilters(body, searched.table.distributionColumn!) };
  const needsCombine = body.groupClause || body.havingClause || body.distinctClause || usesAggregates(body.targetList) || usesAggregates(body.sortClause);
  if (needsCombine) {
    const aggregate = planAggregateSelect(body, info, placeholders);
    if (typeof aggregate === 'string') return { ...base, mergeUnsupported: aggregate };
    if (aggregate instanceof ClientError) return { ...base, mergeUnsupported: aggregate.message, mergeError: aggregate };
    return { ...base, aggregate };
  }
  const merge = planMergeSelect(body, info, placeholders);
  if (typeof merge === 'string') return { ...base, mergeUnsupported: merge };
  return { ...base, merge };
}
