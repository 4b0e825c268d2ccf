import { encodeNoticeResponse } from '../protocol/backend.ts';
import type { DdlPlan, DropIndexPlan } from '../planner/plan.ts';
import type { TableInfo } from '../topology/snapshot.ts';
import { ClientError, SqlState } from '../shared/errors.ts';
import { LocalResultStream, type ResultStream } from './result-stream.ts';
import { CATALOG_PARTICIPANT } from './transaction.ts';
import { atomically, drain, runOnGroup, type ExecutionContext } from './run-plan.ts';

/** DDL as plain text statements: no parameters, whatever protocol the client used. */
export function textContext(ctx: ExecutionContext): ExecutionContext {
  return { ...ctx, bindings: { ...ctx.bindings, extended: false, params: [], paramFormats: [], paramTypes: [], resultFormats: [] } };
}

export async function runStatementsOnGroups(ctx: ExecutionContext, byGroup: Map<number, string[]>, transactional: boolean): Promise<void> {
  const text = textContext(ctx);
  if (transactional) {
    await Promise.all([...byGroup].map(async ([group, statements]) => drain(await runOnGroup(text, group, statements.map((sql) => ({ sql })), true))));
    return;
  }
  // CREATE INDEX CONCURRENTLY and VACUUM cannot share a transaction: one statement at a time.
  for (const [group, statements] of byGroup) {
    for (const sql of statements) {
      await drain(await runOnGroup(text, group, [{ sql }], true));
    }
  }
}

export async function runDdl(ctx: ExecutionContext, plan: DdlPlan): Promise<ResultStream> {
  for (const notice of plan.notices) ctx.onNotice(encodeNoticeResponse({ severity: 'NOTICE', severityNonLocalized: 'NOTICE', code: '00000', message: notice }));
  if (!plan.transactional && ctx.transaction.inBlock) {
    throw new ClientError('25001', `${plan.tag}${plan.tag === 'CREATE INDEX' ? ' CONCURRENTLY' : ''} cannot run inside a transaction block`);
  }
  if (plan.rowSecurity && ctx.coordinator.namespaceIsolation && plan.tables.some((t) => t.kind === 'distributed')) {
    throw new ClientError(
      SqlState.featureNotSupported,
      `${plan.tag} on a distributed table is refused while tenant isolation is on (a user of the config has namespaces:): dpg's own row-level security policy on every shard enforces the allow-lists, and a policy of yours would widen or undo it`,
    );
  }
  await refuseDuringMoves(ctx, plan.tables);
  const byGroup = new Map<number, string[]>([[0, [plan.shellSql]]]);
  for (const table of plan.tables) {
    for (const shard of table.shards) {
      for (const group of ctx.coordinator.snapshot.placementGroups(table, shard.index)) byGroup.set(group, [...(byGroup.get(group) ?? []), plan.render(table, shard.index)]);
    }
  }
  if (plan.dropsTables.length > 0) {
    const names = plan.dropsTables.map((n) => `'${n.replace(/'/g, "''")}'`).join(', ');
    // The coordinator's own connection changes dpg_catalog (the client's role cannot), in the same transaction.
    byGroup.set(CATALOG_PARTICIPANT, [`DELETE FROM dpg_catalog.tables WHERE table_name IN (${names})`]);
  }
  if (plan.transactional) {
    await atomically(ctx, byGroup.size, async () => {
      await runStatementsOnGroups(ctx, byGroup, true);
      return new LocalResultStream(plan.tag);
    });
  } else {
    await runStatementsOnGroups(ctx, byGroup, false);
  }
  if (plan.dropsTables.length > 0) await ctx.coordinator.catalogChanged();
  return new LocalResultStream(plan.tag);
}

/** DROP INDEX: finds on the control group which indexes belong to distributed or reference tables, and drops their shard copies too. */
export async function runDropIndex(ctx: ExecutionContext, plan: DropIndexPlan): Promise<ResultStream> {
  const control = await ctx.transaction.connection(0);
  const owners = await control.simpleQuery(
    `SELECT i.relname, t.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
     WHERE x.indexrelid IN (${plan.indexes.map((n) => `to_regclass('${n.replace(/'/g, "''")}')`).join(', ')})`,
  );
  await refuseDuringMoves(ctx, owners.rows.map(([, tableName]) => ctx.coordinator.snapshot.table(tableName!)).filter((t): t is TableInfo => !!t));
  const byGroup = new Map<number, string[]>([[0, [plan.sql]]]);
  const options = `${plan.concurrent ? ' CONCURRENTLY' : ''}${' IF EXISTS'}`;
  for (const [indexName, tableName] of owners.rows) {
    const table = ctx.coordinator.snapshot.table(tableName!);
    if (!table) continue;
    for (const shard of table.shards) {
      for (const group of shard.groupIds) {
        byGroup.set(group, [...(byGroup.get(group) ?? []), `DROP INDEX${options} ${indexName}_${shard.shardId}${plan.cascade ? ' CASCADE' : ''}`]);
      }
    }
  }
  if (!plan.concurrent) {
    await atomically(ctx, byGroup.size, async () => {
      await runStatementsOnGroups(ctx, byGroup, true);
      return new LocalResultStream('DROP INDEX');
    });
  } else {
    if (ctx.transaction.inBlock) throw new ClientError('25001', 'DROP INDEX CONCURRENTLY cannot run inside a transaction block');
    await runStatementsOnGroups(ctx, byGroup, false);
  }
  return new LocalResultStream('DROP INDEX');
}

/**
 * DDL on a table whose shards are being moved is refused (55006): the move copies the
 * shard's definition when it starts, and logical replication cannot apply rows of a
 * table whose columns changed under it.
 */
async function refuseDuringMoves(ctx: ExecutionContext, tables: TableInfo[]): Promise<void> {
  const colocations = [...new Set(tables.map((t) => t.colocationId).filter((id): id is number => id !== null))];
  if (colocations.length === 0) return;
  const control = await ctx.transaction.connection(0);
  const moving = await control.simpleQuery(
    `SELECT move_id, state FROM dpg_catalog.shard_moves WHERE state NOT IN ('done', 'rolled-back') AND colocation_id IN (${colocations.join(', ')}) ORDER BY move_id LIMIT 1`,
  );
  const move = moving.rows[0];
  if (move) {
    throw new ClientError(
      '55006',
      `shards of ${tables.map((t) => t.name).join(', ')} are being moved (shard move ${move[0]}, ${move[1]}); run the statement when the move has finished (SELECT * FROM dpg_shard_moves)`,
    );
  }
}
