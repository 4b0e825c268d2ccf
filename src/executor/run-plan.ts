import { deparseSync } from 'pgsql-deparser';
import { dataRowValues, encodeNoticeResponse } from '../protocol/backend.ts';
import type { ExecutorHost } from './host.ts';
import { ClientError, SqlState } from '../shared/errors.ts';
import type { Durability, TableInfo } from '../topology/snapshot.ts';
import type { DistributedPlan, InsertPlan, ReferenceWritePlan, ControlPlan } from '../planner/plan.ts';
import { fillShard } from '../physical/sql-template.ts';
import { distributedTasks, groupOf as shardGroup, routingParams, type DistributedTasks } from '../physical/distributed-tasks.ts';
import { resolveKeyValues } from '../planner/shard-key.ts';
import { unwrapNode, walk } from '../planner/sql-ast.ts';
import { participantGroup, type SessionTransaction } from './transaction.ts';
import { WorkerResultStream, LocalResultStream, type ResultStream, type NoticeSink } from './result-stream.ts';
import { MergedResultStream } from './merge.ts';
import { runAggregate } from './combine.ts';
import { metrics } from '../metrics/metrics.ts';
import { writeRequests, combineTags, type WorkerRequest } from './worker-request.ts';
import { failureKind, NotAppliedError } from '../backend/failover.ts';

export type { Bindings } from './bindings.ts';
import type { Bindings } from './bindings.ts';

export interface ExecutionContext {
  coordinator: ExecutorHost;
  transaction: SessionTransaction;
  onNotice: NoticeSink;
  bindings: Bindings;
}

function groupOf(ctx: ExecutionContext, table: TableInfo, shardIndex: number): number {
  return shardGroup(ctx.coordinator.snapshot, table, shardIndex);
}

function request(sql: string, bindings: Bindings, resultFormats = bindings.resultFormats): WorkerRequest {
  return bindings.extended
    ? { sql, params: bindings.params, paramFormats: bindings.paramFormats, paramTypes: bindings.paramTypes, resultFormats }
    : { sql };
}

/** Reads a stream to its end (for statements whose rows nobody needs: DDL, catalog writes). */
export async function drain(stream: ResultStream): Promise<string> {
  await stream.description();
  while (await stream.nextRow());
  const tag = stream.tag();
  await stream.close();
  return tag;
}

/** Sends requests to one group and returns the stream of their results. */
export async function runOnGroup(
  ctx: ExecutionContext,
  groupId: number,
  requests: WorkerRequest[],
  write: boolean,
  hidden = 0,
  label: { shardId: string; queryType: string } = { shardId: `group${groupId}`, queryType: write ? 'write' : 'read' },
  efSearch: number | null = null,
): Promise<WorkerResultStream> {
  const connection = await ctx.transaction.connection(groupId, { write });
  if (efSearch !== null) await ctx.transaction.useEfSearch(connection, efSearch);
  const typeMap = ctx.coordinator.typeMaps.get(participantGroup(groupId))!;
  const started = performance.now();
  const forgetUnparsed = writeRequests(connection, requests, ctx.bindings.extended, typeMap);
  ctx.transaction.busy.add(connection);
  const onEnd = () => {
    ctx.transaction.busy.delete(connection);
    metrics()?.shardQueryLatency.observe([label.shardId, label.queryType], (performance.now() - started) / 1000);
  };
  return new WorkerResultStream(connection, typeMap, ctx.onNotice, hidden, onEnd, forgetUnparsed);
}

/** Rows of several streams one after another; `rowsFromFirstOnly` for writes copied to every group. */
class ConcatResultStream implements ResultStream {
  private index = 0;
  constructor(
    private readonly streams: WorkerResultStream[],
    private readonly rowsFromFirstOnly = false,
  ) {}
  async description(): Promise<Buffer | null> {
    let description: Buffer | null = null;
    for (const stream of this.streams) description ??= await stream.description();
    return description;
  }
  async nextRow(): Promise<Buffer | null> {
    while (this.index < this.streams.length) {
      const stream = this.streams[this.index]!;
      const row = await stream.nextRow();
      if (row && (!this.rowsFromFirstOnly || this.index === 0)) return row;
      if (!row) this.index++;
    }
    return null;
  }
  tag(): string {
    if (this.rowsFromFirstOnly) return this.streams[0]?.tag() ?? '';
    return combineTags(this.streams.map((s) => s.tag()).filter(Boolean));
  }
  async close(): Promise<void> {
    await Promise.all(this.streams.map((s) => s.close()));
  }
}

/**
 * The durability a write needs: that of the tables it names, the strongest winning (a
 * statement reading a critical table while writing an audit one waits for the standby
 * too: the planner does not single out the written table).
 */
function strongestDurability(ctx: ExecutionContext, tables: readonly TableInfo[]): Durability {
  const classes = tables.map((t) => ctx.coordinator.tableDurability(t));
  return classes.includes('critical') || classes.length === 0 ? 'critical' : classes.includes('audit') ? 'audit' : 'ephemeral';
}

/** Runs a write over several groups atomically: inside the client's block, or in one of its own (2PC). */
export async function atomically(ctx: ExecutionContext, groups: number, run: () => Promise<ResultStream>, always = false): Promise<ResultStream> {
  if (ctx.transaction.inBlock || (groups <= 1 && !always)) return run();
  ctx.transaction.begin('BEGIN');
  try {
    const stream = await run();
    const description = await stream.description();
    // The rows wait for the commit (an error there must come before any row): held, within a bound.
    const rows: Buffer[] = [];
    let held = 0;
    for (let row = await stream.nextRow(); row; row = await stream.nextRow()) {
      held += row.length;
      if (held > ctx.coordinator.heldRowsMaxBytes) {
        await stream.close().catch(() => {});
        throw new ClientError(SqlState.programLimitExceeded, `the statement's rows over several worker groups exceed coordinator.held_rows_max_mb (${ctx.coordinator.heldRowsMaxBytes / 1024 / 1024} MB), which the coordinator holds until the commit; nothing was written: return fewer rows (RETURNING fewer columns) or write fewer rows per statement`);
      }
      rows.push(row);
    }
    const tag = stream.tag();
    await stream.close();
    await ctx.transaction.commit();
    return new LocalResultStream(tag, description, rows);
  } catch (error) {
    await ctx.transaction.rollback();
    // A worker connection that broke before COMMIT: every group's part is rolled back, so
    // the write did not happen and may run again (an unknown COMMIT outcome is its own error).
    if (failureKind(error) === 'lost') throw new NotAppliedError(`the write over several worker groups was rolled back: ${(error as Error).message}`);
    throw error;
  }
}

export async function runControl(ctx: ExecutionContext, plan: ControlPlan): Promise<ResultStream> {
  metrics()?.statements.inc(['control']);
  for (const message of plan.notices ?? []) ctx.onNotice(encodeNoticeResponse({ severity: 'NOTICE', severityNonLocalized: 'NOTICE', code: '00000', message }));
  return runOnGroup(ctx, 0, [request(plan.sql, ctx.bindings)], true);
}

export async function runDistributed(ctx: ExecutionContext, plan: DistributedPlan): Promise<ResultStream> {
  const { bindings, coordinator } = ctx;
  const tasks = distributedTasks(plan, bindings, coordinator);
  const write = !plan.readOnly;
  if (write) ctx.transaction.statementDurability = strongestDurability(ctx, plan.relations.length > 0 ? plan.relations : [plan.anchor]);
  else ctx.transaction.statementReplicaOk = true;
  switch (tasks.kind) {
    case 'single': {
      if (!tasks.shard) return runOnGroup(ctx, tasks.groupId, [request(tasks.sql, bindings)], write);
      metrics()?.statements.inc(['router']);
      const label = { shardId: tasks.shard.shardId, queryType: plan.command.toLowerCase() };
      const stream = await runOnGroup(ctx, tasks.groupId, [request(tasks.sql, bindings)], write, 0, label, tasks.efSearch);
      return plan.vectorSearch ? timedVectorSearch(stream, tasks.shard.namespace, label.shardId) : stream;
    }
    case 'each-shard':
      metrics()?.statements.inc(['multi_shard']);
      return atomically(ctx, tasks.groups.length, async () => {
        const streams = await Promise.all(tasks.groups.map(({ groupId, sqls }) => runOnGroup(ctx, groupId, sqls.map((sql) => request(sql, bindings)), true)));
        return new ConcatResultStream(streams);
      });
    case 'aggregate':
      metrics()?.statements.inc(['multi_shard']);
      return runAggregate(ctx, plan, plan.aggregate!, tasks.byGroup);
    case 'merge':
      metrics()?.statements.inc(['multi_shard']);
      return runMergedSelect(ctx, plan, tasks);
  }
}

/**
 * A SELECT over several shards (or several namespaces of a vector search): each group
 * runs its task's statement; the coordinator merges the sorted streams.
 */
async function runMergedSelect(ctx: ExecutionContext, plan: DistributedPlan, tasks: Extract<DistributedTasks, { kind: 'merge' }>): Promise<ResultStream> {
  const { bindings } = ctx;
  const merge = plan.merge!;
  let resultFormats = bindings.resultFormats;
  if (bindings.extended && merge.hiddenColumns > 0 && resultFormats.some((f) => f !== 0)) {
    const visible = await bindings.visibleColumns!();
    const formatOf = (i: number) => (resultFormats.length === 1 ? resultFormats[0]! : (resultFormats[i] ?? 0));
    resultFormats = [...Array.from({ length: visible }, (_, i) => formatOf(i)), ...Array<number>(merge.hiddenColumns).fill(0)];
  }
  const streams = await Promise.all(tasks.groups.map(({ groupId, sql }) => runOnGroup(ctx, groupId, [request(sql, bindings, resultFormats)], false, merge.hiddenColumns, undefined, tasks.efSearch)));
  const merged = new MergedResultStream(streams, merge.sortKeys, merge.hiddenColumns, tasks.offset, tasks.limit, () => {}, Number(ctx.transaction.settingValue('extra_float_digits') ?? 1) >= 1);
  return plan.vectorSearch ? timedVectorSearch(merged, null, 'multi') : merged;
}

/** Counts a vector search in vector_search_duration_seconds and vector_search_results_total when its result is done. */
function timedVectorSearch(stream: ResultStream, namespace: string | null, shardId: string): ResultStream {
  const m = metrics();
  if (!m) return stream;
  const started = performance.now();
  let rows = 0;
  let recorded = false;
  const record = () => {
    if (recorded) return;
    recorded = true;
    const label = m.namespaceLabel(namespace);
    m.vectorSearchDuration.observe([label, shardId], (performance.now() - started) / 1000);
    m.vectorSearchResults.inc([label], rows);
  };
  return {
    description: () => stream.description(),
    nextRow: async () => {
      const row = await stream.nextRow();
      if (row) rows++;
      else record();
      return row;
    },
    tag: () => stream.tag(),
    close: async () => {
      record();
      await stream.close();
    },
    get empty() {
      return stream.empty;
    },
  };
}

export async function runInsert(ctx: ExecutionContext, plan: InsertPlan): Promise<ResultStream> {
  if (plan.source) return runInsertSelect(ctx, plan, plan.source);
  ctx.transaction.statementDurability = ctx.coordinator.tableDurability(plan.table);
  const params = routingParams(ctx.bindings, [plan.rowKeys]);
  const rowsByShard = new Map<number, number[]>();
  plan.rowKeys.forEach((key, row) => {
    const resolved = resolveKeyValues([key], params);
    if (resolved === 'unknown') throw new ClientError(SqlState.protocolViolation, 'a parameter giving the distribution value is missing');
    const value = resolved[0];
    if (value === null || value === undefined) {
      throw new ClientError('23502', `the distribution column ${plan.table.distributionColumn} of ${plan.table.name} cannot be NULL`);
    }
    const shard = ctx.coordinator.snapshot.shardIndexForNewRow(plan.table, value);
    rowsByShard.set(shard, [...(rowsByShard.get(shard) ?? []), row]);
  });
  metrics()?.statements.inc([rowsByShard.size > 1 ? 'multi_shard' : 'router']);
  const byGroup = new Map<number, WorkerRequest[]>();
  for (const [shard, rows] of rowsByShard) {
    const group = groupOf(ctx, plan.table, shard);
    byGroup.set(group, [...(byGroup.get(group) ?? []), insertRequest(plan, shard, rows, ctx.bindings)]);
  }
  return atomically(ctx, byGroup.size, async () => {
    const streams = await Promise.all([...byGroup].map(([group, requests]) => runOnGroup(ctx, group, requests, true)));
    return new ConcatResultStream(streams);
  });
}

/** Rows of one INSERT statement that INSERT ... SELECT sends to a shard. */
const INSERT_SELECT_CHUNK = 500;

/**
 * INSERT ... SELECT into a distributed table: the SELECT runs first (as any query does:
 * inside the client's transaction block if there is one), its rows are read here as text
 * and sent as VALUES to the shard of each row's distribution value, every shard's part in
 * the same transaction (one group: one implicit transaction; several: two-phase commit).
 */
async function runInsertSelect(ctx: ExecutionContext, plan: InsertPlan, source: NonNullable<InsertPlan['source']>): Promise<ResultStream> {
  const textCtx: ExecutionContext = { ...ctx, bindings: { ...ctx.bindings, resultFormats: [0] } };
  const selected = source.plan.kind === 'control' ? await runControl(textCtx, source.plan) : await runDistributed(textCtx, source.plan as DistributedPlan);
  const rowsByShard = new Map<number, (string | null)[][]>();
  const maxBytes = ctx.coordinator.insertSelectMaxBytes;
  let bytes = 0;
  try {
    await selected.description();
    for (let frame = await selected.nextRow(); frame; frame = await selected.nextRow()) {
      bytes += frame.length;
      if (bytes > maxBytes) {
        throw new ClientError(
          '54000',
          `INSERT ... SELECT into ${plan.table.name} selected more than ${(maxBytes / 1024 / 1024).toFixed(maxBytes < 1024 * 1024 ? 3 : 0)} MB (coordinator.insert_select_max_mb): dpg holds its rows on the coordinator before sending them; insert in smaller ranges (a WHERE on the SELECT)`,
        );
      }
      const values = dataRowValues({ code: frame[0]!, body: frame.subarray(5), raw: frame }).map((v) => (v === null ? null : v.toString('utf8')));
      if (values.length !== source.columns) {
        throw new ClientError('42601', `INSERT has ${source.columns} target columns but its SELECT gives ${values.length} values per row`);
      }
      const key = values[source.keyIndex];
      if (key === null || key === undefined) throw new ClientError('23502', `the distribution column ${plan.table.distributionColumn} of ${plan.table.name} cannot be NULL`);
      const shard = ctx.coordinator.snapshot.shardIndexForNewRow(plan.table, key);
      const rows = rowsByShard.get(shard);
      if (rows) rows.push(values);
      else rowsByShard.set(shard, [values]);
    }
  } finally {
    await selected.close();
  }
  if (rowsByShard.size === 0) return new LocalResultStream('INSERT 0 0');
  ctx.transaction.statementDurability = ctx.coordinator.tableDurability(plan.table);
  metrics()?.statements.inc([rowsByShard.size > 1 ? 'multi_shard' : 'router']);
  // Text results, or the client's formats for RETURNING (then the extended protocol, without parameters).
  const extended = plan.returning && ctx.bindings.extended && ctx.bindings.resultFormats.some((f) => f !== 0);
  const writeCtx: ExecutionContext = { ...ctx, bindings: extended ? { ...ctx.bindings, params: [], paramFormats: [], paramTypes: [] } : { ...ctx.bindings, extended: false, params: [], paramFormats: [], paramTypes: [] } };
  const byGroup = new Map<number, WorkerRequest[]>();
  for (const [shard, rows] of rowsByShard) {
    const group = groupOf(ctx, plan.table, shard);
    for (let start = 0; start < rows.length; start += INSERT_SELECT_CHUNK) {
      const node = structuredClone(plan.node) as any;
      unwrapNode(node.selectStmt)[1].valuesLists = rows.slice(start, start + INSERT_SELECT_CHUNK).map((row) => ({
        List: { items: row.map((value) => (value === null ? { A_Const: { isnull: true } } : { A_Const: { sval: { sval: value } } })) },
      }));
      const sql = fillShard(deparseSync({ InsertStmt: node } as any), plan.relations, shard);
      const requests = byGroup.get(group) ?? byGroup.set(group, []).get(group)!;
      requests.push(extended ? { sql, params: [], paramFormats: [], paramTypes: [], resultFormats: ctx.bindings.resultFormats } : { sql });
    }
  }
  return atomically(writeCtx, byGroup.size, async () => {
    const streams = await Promise.all([...byGroup].map(([group, requests]) => runOnGroup(writeCtx, group, requests, true)));
    return new ConcatResultStream(streams);
  });
}

/** The INSERT for some rows of a multi-row INSERT, its parameters renumbered to those rows' own. */
function insertRequest(plan: InsertPlan, shard: number, rows: number[], bindings: Bindings): WorkerRequest {
  const node = structuredClone(plan.node) as any;
  const select = unwrapNode(node.selectStmt)[1];
  select.valuesLists = rows.map((r) => select.valuesLists[r]);
  // The rows left out may hold parameters: number the remaining ones 1..n in order of appearance.
  const renumber = new Map<number, number>();
  walk(node, (key, value) => {
    if (key === 'ParamRef') {
      if (!renumber.has(value.number)) renumber.set(value.number, renumber.size + 1);
      value.number = renumber.get(value.number);
    }
    return undefined;
  });
  const sql = fillShard(deparseSync({ InsertStmt: node } as any), plan.relations, shard);
  if (!bindings.extended) return { sql };
  const order = [...renumber.entries()].sort((a, b) => a[1] - b[1]).map(([original]) => original - 1);
  const pick = <T>(list: T[], fallback: T) => order.map((i) => list[i] ?? fallback);
  return {
    sql,
    params: pick(bindings.params, null),
    paramFormats: bindings.paramFormats.length <= 1 ? bindings.paramFormats : pick(bindings.paramFormats, 0),
    paramTypes: pick(bindings.paramTypes, 0),
    resultFormats: bindings.resultFormats,
  };
}

export async function runReferenceWrite(ctx: ExecutionContext, plan: ReferenceWritePlan): Promise<ResultStream> {
  ctx.transaction.statementDurability = strongestDurability(ctx, plan.relations);
  metrics()?.statements.inc(['multi_shard']);
  const snapshot = ctx.coordinator.snapshot;
  const reference = plan.relations.find((t) => t.kind === 'reference')!;
  const groups = snapshot.placementGroups(reference, 0);
  const sql = fillShard(plan.template, plan.relations, 0);
  ctx.transaction.referenceEpoch ??= snapshot.referenceEpoch;
  // Always in a transaction, even on one group: its commit checks the reference epoch.
  return atomically(
    ctx,
    groups.length,
    async () => {
      const streams = await Promise.all(groups.map((g) => runOnGroup(ctx, g, [request(sql, ctx.bindings)], true)));
      return new ConcatResultStream(streams, true);
    },
    true,
  );
}
