import { deparseSync } from 'pgsql-deparser';
import { encodeNoticeResponse } from '../protocol/backend.ts';
import type { DistributionFunctionPlan } from '../planner/plan.ts';
import { parseSql, unwrapNode } from '../planner/sql-ast.ts';
import { shardRanges } from '../topology/shard-ranges.ts';
import { ClientError, SqlState } from '../shared/errors.ts';
import type { BackendConnection } from '../backend/backend-connection.ts';
import { LocalResultStream, type ResultStream } from './result-stream.ts';
import { atomically, type ExecutionContext } from './run-plan.ts';
import { CATALOG_PARTICIPANT } from './transaction.ts';
import { namespacePolicySql } from '../catalog/namespace-isolation.ts';
import { shellTriggerSql } from '../catalog/catalog-schema.ts';
import { runStatementsOnGroups } from './run-ddl.ts';
import { requireAdminUser, runRebalanceFunction } from './rebalance-functions.ts';
import { voidResult } from './function-results.ts';
import { changeShardCount } from '../rebalance/shard-count.ts';
import { runMove } from '../rebalance/shard-move.ts';

/**
 * Distribution column types hashed with hashtext(): those that store the text they are
 * given. varchar(n) (truncates trailing spaces past n), char(n) (pads) and name
 * (truncates at 63 bytes) store another value than the one a statement names, so the
 * row would be routed by one value and stored, re-hashed by moves and splits, as another.
 */
const TEXT_TYPES = new Set(['text', 'character varying']);
const RADIUS_TYPES = new Set(['double precision', 'real', 'numeric', 'vector', 'ruvector']);

const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;
const ident = (value: string) => (/^[a-z_][a-z0-9_$]*$/.test(value) ? value : `"${value.replace(/"/g, '""')}"`);

interface ShellTable {
  schema: string;
  name: string;
  unlogged: boolean;
  columns: { name: string; type: string; notNull: boolean; default: string | null; identity: string; generated: string; localType: boolean }[];
  constraints: { name: string; type: string; definition: string }[];
  indexes: string[];
  /** GRANTs on the shell (grantee, privilege, grantable): each shard gets them too, so PostgreSQL checks the same privileges there. */
  grants: { grantee: string; privilege: string; grantable: boolean }[];
}

/** Everything needed to create a copy of a shell table, read from the control group's catalog. */
async function readShellTable(control: BackendConnection, qualifiedName: string): Promise<ShellTable> {
  const relation = await control.simpleQuery(
    `SELECT n.nspname, c.relname, c.relpersistence, c.relkind, c.relrowsecurity OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(${literal(qualifiedName)})`,
  );
  const row = relation.rows[0];
  if (!row) throw new ClientError(SqlState.undefinedTable, `relation "${qualifiedName}" does not exist`);
  if (row[3] !== 'r') throw new ClientError(SqlState.featureNotSupported, `${qualifiedName} is not a plain table; only tables can be distributed`);
  if (row[0] !== 'public') throw new ClientError(SqlState.featureNotSupported, `only tables in schema public can be distributed for now (${qualifiedName} is in ${row[0]})`);
  if (row[4] === 't') {
    throw new ClientError(SqlState.featureNotSupported, `${qualifiedName} has row-level security: distribute it first, then ENABLE ROW LEVEL SECURITY and CREATE POLICY (they reach every shard)`);
  }
  const oid = `to_regclass(${literal(qualifiedName)})`;
  const grants = await control.simpleQuery(
    `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, a.privilege_type, a.is_grantable
     FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a WHERE c.oid = ${oid} AND a.grantee <> c.relowner`,
  );
  const columns = await control.simpleQuery(
    // localType: a user-defined type (or array of one) that no extension brings, so the workers lack it.
    `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
            (SELECT b.oid >= 16384 AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_type'::regclass AND e.objid = b.oid AND e.deptype = 'e')
             FROM pg_type t JOIN pg_type b ON b.oid = CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN t.typelem ELSE t.oid END
             WHERE t.oid = a.atttypid)
     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = ${oid} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
  );
  const constraints = await control.simpleQuery(`SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = ${oid} ORDER BY oid`);
  const indexes = await control.simpleQuery(
    `SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x WHERE x.indrelid = ${oid}
     AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY x.indexrelid`,
  );
  return {
    schema: row[0]!,
    name: row[1]!,
    unlogged: row[2] === 'u',
    columns: columns.rows.map((c) => ({ name: c[0]!, type: c[1]!, notNull: c[2] === 't', default: c[3] ?? null, identity: c[4] ?? '', generated: c[5] ?? '', localType: c[6] === 't' })),
    constraints: constraints.rows.map((c) => ({ name: c[0]!, type: c[1]!, definition: c[2]! })),
    indexes: indexes.rows.map((i) => i[0]!),
    grants: grants.rows.map((g) => ({ grantee: g[0]!, privilege: g[1]!, grantable: g[2] === 't' })),
  };
}

/** CREATE TABLE and CREATE INDEX statements for one shard of a shell table. */
function shardDdl(shell: ShellTable, shardId: string, namespaceColumn: string | null = null): string[] {
  const suffix = `_${shardId}`;
  const columns = shell.columns.map((c) => {
    let definition = `${ident(c.name)} ${c.type}`;
    if (c.generated === 's') definition += ` GENERATED ALWAYS AS (${c.default}) STORED`;
    else if (c.identity === 'a') definition += ' GENERATED ALWAYS AS IDENTITY';
    else if (c.identity === 'd') definition += ' GENERATED BY DEFAULT AS IDENTITY';
    else if (c.default !== null) definition += ` DEFAULT ${c.default}`;
    if (c.notNull) definition += ' NOT NULL';
    return definition;
  });
  const constraints = shell.constraints
    .filter((c) => c.type !== 'n')
    .map((c) => `CONSTRAINT ${ident(['p', 'u', 'x'].includes(c.type) ? `${c.name}${suffix}` : c.name)} ${c.definition}`);
  const create = `CREATE ${shell.unlogged ? 'UNLOGGED ' : ''}TABLE ${ident(shell.schema)}.${ident(`${shell.name}${suffix}`)} (\n  ${[...columns, ...constraints].join(',\n  ')}\n)`;
  const indexes = shell.indexes.map((definition) => {
    const tree = structuredClone(parseSql(definition)[0]!.node);
    const index = unwrapNode(tree)[1];
    index.idxname = `${index.idxname}${suffix}`;
    index.relation.relname = `${index.relation.relname}${suffix}`;
    return deparseSync(tree);
  });
  const table = `${ident(shell.schema)}.${ident(`${shell.name}${suffix}`)}`;
  const grants = shell.grants.map((g) => `GRANT ${g.privilege} ON ${table} TO ${g.grantee}${g.grantable ? ' WITH GRANT OPTION' : ''}`);
  // Tenant isolation (config users[].namespaces): PostgreSQL filters the shard's rows by the user's allow-list.
  const isolation = namespaceColumn === null ? [] : namespacePolicySql(`${shell.name}${suffix}`, namespaceColumn);
  return [create, ...indexes, ...grants, ...isolation];
}

function checkShell(shell: ShellTable, distributionColumn: string | null): void {
  for (const column of shell.columns) {
    if (column.identity) {
      throw new ClientError(
        SqlState.featureNotSupported,
        `column ${column.name} of ${shell.name} is an identity column; each shard would number its rows on its own and the numbers would repeat. Use DEFAULT gen_random_uuid()`,
      );
    }
    if (column.localType) {
      throw new ClientError(SqlState.featureNotSupported, `column ${column.name} of ${shell.name} has type ${column.type}, which exists only on the control group; dpg does not create user-defined types on the workers yet`);
    }
    if (column.default?.includes('nextval(')) {
      throw new ClientError(
        SqlState.featureNotSupported,
        `column ${column.name} of ${shell.name} takes its default from a sequence; a sequence would give every shard the same numbers. Use DEFAULT gen_random_uuid()`,
      );
    }
  }
  for (const constraint of shell.constraints) {
    if (constraint.type === 'f') throw new ClientError(SqlState.featureNotSupported, `foreign key ${constraint.name}: foreign keys on distributed tables are not supported yet`);
    if (distributionColumn && ['p', 'u', 'x'].includes(constraint.type) && !new RegExp(`[(, ]"?${distributionColumn}"?[,) ]`).test(constraint.definition)) {
      throw new ClientError(
        SqlState.featureNotSupported,
        `constraint ${constraint.name} of ${shell.name} does not include the distribution column ${distributionColumn}: a shard can only enforce uniqueness among its own rows`,
      );
    }
  }
}

export async function runDistributionFunction(ctx: ExecutionContext, plan: DistributionFunctionPlan): Promise<ResultStream> {
  switch (plan.name) {
    case 'create_distributed_table':
    case 'create_reference_table':
      await createTable(ctx, plan);
      return voidResult(plan.name);
    case 'alter_distributed_table':
      await alterDistributedTable(ctx, plan);
      return voidResult(plan.name);
    case 'undistribute_table':
      throw new ClientError(SqlState.featureNotSupported, `${plan.name} is not supported yet`);
    default:
      return runRebalanceFunction(ctx, plan);
  }
}

async function createTable(ctx: ExecutionContext, plan: DistributionFunctionPlan): Promise<void> {
  const { coordinator } = ctx;
  const reference = plan.name === 'create_reference_table';
  const tableArg = plan.named.table_name ?? plan.args[0] ?? null;
  if (!tableArg) throw new ClientError(SqlState.invalidParameterValue, `${plan.name} needs a table name`);
  const columnArg = reference ? null : (plan.named.distribution_column ?? plan.args[1] ?? null);
  if (!reference && !columnArg) throw new ClientError(SqlState.invalidParameterValue, 'create_distributed_table needs a distribution column');
  const control = await ctx.transaction.connection(0);
  const shell = await readShellTable(control, tableArg);
  if (coordinator.snapshot.table(shell.name)) throw new ClientError('42P16', `table "${shell.name}" is already distributed`);
  let distributionColumn: string | null = null;
  const method = plan.named.distribution_method ?? 'hash';
  if (method !== 'hash' && method !== 'hyperbolic') {
    throw new ClientError(SqlState.invalidParameterValue, `distribution_method ${JSON.stringify(method)} is not valid: 'hash' (hashtext ranges, the default) or 'hyperbolic' (the seed's shard by radius)`);
  }
  if (columnArg) {
    const column = shell.columns.find((c) => c.name === columnArg);
    if (!column) throw new ClientError('42703', `column "${columnArg}" of relation "${shell.name}" does not exist`);
    const baseType = column.type.replace(/\(.*\)$/, '');
    if (method === 'hash' && !TEXT_TYPES.has(column.type)) {
      throw new ClientError(SqlState.featureNotSupported, `distribution column ${columnArg} is ${column.type}; dpg hashes text distribution columns with hashtext() and takes text or varchar without a length (a length, char(n) and name change the value stored, which would then be routed as another)`);
    }
    if (method === 'hyperbolic' && !RADIUS_TYPES.has(baseType)) {
      throw new ClientError(
        SqlState.featureNotSupported,
        `distribution column ${columnArg} is ${column.type}; the hyperbolic method shards by a radius (double precision, real, numeric) or by a vector's norm (vector, ruvector)`,
      );
    }
    distributionColumn = column.name;
  }
  checkShell(shell, distributionColumn);
  const rows = await control.simpleQuery(`SELECT EXISTS (SELECT 1 FROM ${ident(shell.schema)}.${ident(shell.name)})`);
  if (rows.rows[0]?.[0] === 't') {
    throw new ClientError(SqlState.featureNotSupported, `${shell.name} already holds rows; distributing a table with data is not supported yet: distribute it empty, then load it through the coordinator`);
  }

  const workers = coordinator.snapshot.workerGroupIds();
  const durability = coordinator.durabilityOf(shell.name, shell.unlogged);
  if (shell.unlogged && durability !== 'ephemeral') {
    throw new ClientError(
      SqlState.featureNotSupported,
      `${shell.name} is UNLOGGED, which is never replicated, but the config (replication.tables.${durability}) asks for ${durability === 'critical' ? 'synchronous' : 'asynchronous'} replication: create it without UNLOGGED, or list it under replication.tables.ephemeral`,
    );
  }
  // An ephemeral table is not replicated: its shards are UNLOGGED whatever the shell says.
  const shardShell = durability === 'ephemeral' ? { ...shell, unlogged: true } : shell;
  const byGroup = new Map<number, string[]>();
  const catalog: string[] = [];
  // The client's role reads dpg_catalog but cannot write it (nor take shard ids): the coordinator's own connection does, in the same transaction.
  const catalogConnection = await ctx.transaction.connection(CATALOG_PARTICIPANT, { write: true });
  const nextShardId = async () => (await catalogConnection.simpleQuery(`SELECT nextval('dpg_catalog.shard_id_seq')`)).rows[0]![0]!;
  if (reference) {
    catalog.push(`INSERT INTO dpg_catalog.tables (table_name, kind, shard_count, durability) VALUES (${literal(shell.name)}, 'reference', 1, ${literal(durability)})`);
    const shardId = await nextShardId();
    catalog.push(`INSERT INTO dpg_catalog.shards (shardid, table_name, shard_index) VALUES (${shardId}, ${literal(shell.name)}, 0)`);
    for (const group of workers) {
      catalog.push(`INSERT INTO dpg_catalog.placements (shardid, group_id) VALUES (${shardId}, ${group})`);
      byGroup.set(group, shardDdl(shardShell, shardId));
    }
  } else {
    const columnType = shell.columns.find((c) => c.name === distributionColumn)!.type;
    const { colocationId, shardCount, groupsByIndex, createSql, ranges: colocatedRanges } = await colocationFor(ctx, control, plan, workers, method, columnType);
    if (createSql) catalog.push(createSql);
    catalog.push(
      `INSERT INTO dpg_catalog.tables (table_name, kind, distribution_column, distribution_method, colocation_id, shard_count, durability)
       VALUES (${literal(shell.name)}, 'distributed', ${literal(distributionColumn!)}, ${literal(method)}, ${colocationId}, ${shardCount}, ${literal(durability)})`,
    );
    // A hyperbolic table's shard i holds radius level i (topology/hyperbolic.ts): no hash range.
    const ranges = method === 'hash' ? (colocatedRanges ?? shardRanges(shardCount)) : Array.from({ length: shardCount }, (_, index) => ({ index, min: 'NULL', max: 'NULL' }));
    for (const range of ranges) {
      const shardId = await nextShardId();
      const group = groupsByIndex[range.index]!;
      catalog.push(
        `INSERT INTO dpg_catalog.shards (shardid, table_name, shard_index, hash_min, hash_max) VALUES (${shardId}, ${literal(shell.name)}, ${range.index}, ${range.min}, ${range.max})`,
        `INSERT INTO dpg_catalog.placements (shardid, group_id) VALUES (${shardId}, ${group})`,
      );
      byGroup.set(group, [...(byGroup.get(group) ?? []), ...shardDdl(shardShell, shardId, method === 'hash' && coordinator.namespaceIsolation ? distributionColumn : null)]);
    }
  }
  // The coordinator's own role (a member of the owner's) puts the guard on the shell.
  catalog.push(shellTriggerSql(shell.name));
  byGroup.set(CATALOG_PARTICIPANT, catalog);
  await atomically(ctx, byGroup.size, async () => {
    await runStatementsOnGroups(ctx, byGroup, true);
    return new LocalResultStream('SELECT 1');
  });
  await coordinator.catalogChanged();
}

/** The co-location group a new distributed table joins, its shard count, and the worker group of each shard index. */
async function colocationFor(
  ctx: ExecutionContext,
  control: BackendConnection,
  plan: DistributionFunctionPlan,
  workers: number[],
  method: 'hash' | 'hyperbolic',
  columnType: string,
): Promise<{ colocationId: number; shardCount: number; groupsByIndex: number[]; createSql?: string; ranges?: { index: number; min: number; max: number }[] }> {
  const colocateWith = plan.named.colocate_with ?? plan.args[2] ?? 'default';
  const requested = plan.named.shard_count ?? null;
  const shardCount = requested !== null ? Number(requested) : ctx.coordinator.defaultShardCount;
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 4096) {
    throw new ClientError(SqlState.invalidParameterValue, `shard_count ${requested} is not valid: an integer from 1 to 4096`);
  }
  const roundRobin = (count: number) => Array.from({ length: count }, (_, i) => workers[i % workers.length]!);
  const fresh = async (count: number) => {
    const id = (await control.simpleQuery(`SELECT coalesce(max(colocation_id), 0) + 1 FROM dpg_catalog.colocation_groups`)).rows[0]![0]!;
    const type = method === 'hash' ? 'text' : columnType;
    const createSql = `INSERT INTO dpg_catalog.colocation_groups (colocation_id, shard_count, distribution_column_type, distribution_method) VALUES (${id}, ${count}, ${literal(type)}::regtype, ${literal(method)})`;
    return { colocationId: Number(id), shardCount: count, groupsByIndex: roundRobin(count), createSql };
  };
  if (colocateWith === 'none') return fresh(shardCount);
  let target = colocateWith === 'default' ? null : ctx.coordinator.snapshot.table(colocateWith);
  if (colocateWith !== 'default' && (!target || target.kind !== 'distributed')) {
    throw new ClientError(SqlState.invalidParameterValue, `colocate_with ${colocateWith} is not a distributed table`);
  }
  if (target && target.distributionMethod !== method) {
    throw new ClientError(SqlState.invalidParameterValue, `colocate_with ${colocateWith}: ${target.name} is distributed by ${target.distributionMethod}, not ${method}; co-located tables share the method`);
  }
  if (!target) {
    target = [...ctx.coordinator.snapshot.tables.values()].find((t) => t.kind === 'distributed' && t.shardCount === shardCount && t.distributionMethod === method) ?? null;
    if (!target) return fresh(shardCount);
  } else if (requested !== null && target.shardCount !== shardCount) {
    throw new ClientError(SqlState.invalidParameterValue, `shard_count ${shardCount} differs from ${target.name}'s ${target.shardCount}; co-located tables have the same shard count`);
  }
  // Shard i of a co-located table lives where shard i of the others does, with the same hash range (split shards included).
  return {
    colocationId: target.colocationId!,
    shardCount: target.shardCount,
    groupsByIndex: target.shards.map((s) => s.groupIds[0]!),
    ranges: method === 'hash' ? target.shards.map((s) => ({ index: s.index, min: s.hashMin!, max: s.hashMax! })) : undefined,
  };
}

async function alterDistributedTable(ctx: ExecutionContext, plan: DistributionFunctionPlan): Promise<void> {
  const name = plan.named.table_name ?? plan.args[0] ?? '';
  const table = ctx.coordinator.snapshot.table(name);
  if (!table || table.kind !== 'distributed') throw new ClientError(SqlState.invalidParameterValue, `table "${name}" is not a distributed table`);
  const shardCount = plan.named.shard_count;
  if (shardCount != null && (Number(shardCount) !== table.shardCount || table.uniformRanges === false)) {
    requireAdminUser(ctx, 'alter_distributed_table(shard_count := ...)');
    const admin = ctx.coordinator.admin;
    if (!admin) throw new ClientError(SqlState.featureNotSupported, 'changing a shard count needs the coordinator to run with the cluster\'s admin credentials (as dpg up starts it)');
    if (ctx.transaction.inBlock) throw new ClientError('25001', 'alter_distributed_table(shard_count := ...) cannot run inside a transaction block');
    if (!/^\d+$/.test(shardCount)) throw new ClientError(SqlState.invalidParameterValue, `shard_count ${shardCount} is not valid: an integer`);
    const change = await changeShardCount(admin, name, Number(shardCount), (id) => runMove(admin, id));
    ctx.onNotice(
      encodeNoticeResponse({
        severity: 'NOTICE',
        severityNonLocalized: 'NOTICE',
        code: '00000',
        message: `${name} and every table co-located with it have ${shardCount} shards now (${change.splits} split(s), ${change.moves} move(s) and ${change.merges} merge(s)); npx dpg rebalance spreads them over the worker groups`,
      }),
    );
    await ctx.coordinator.reloadCatalog();
  }
  const factor = plan.named.shard_replication_factor;
  const groupSize = ctx.coordinator.nodesPerGroup(table.shards[0]!.groupIds[0]!);
  if (factor != null && Number(factor) !== groupSize) {
    ctx.onNotice(
      encodeNoticeResponse({
        severity: 'NOTICE',
        severityNonLocalized: 'NOTICE',
        code: '00000',
        message: `${name} has ${groupSize} copies of every shard: the size of its worker groups (distribution.replication_factor); shard_replication_factor ${factor} does not change that`,
      }),
    );
  }
  const colocateWith = plan.named.colocate_with;
  if (colocateWith != null) {
    const target = ctx.coordinator.snapshot.table(colocateWith);
    if (!target || target.colocationId !== table.colocationId) {
      throw new ClientError(SqlState.featureNotSupported, `moving ${name} to another co-location group is not supported yet`);
    }
  }
}
