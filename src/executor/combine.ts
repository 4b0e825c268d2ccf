import { decodeBackend } from '../protocol/backend.ts';
import type { DistributedPlan } from '../planner/plan.ts';
import { fillShard } from '../physical/sql-template.ts';
import { PARTIALS_PLACEHOLDER, finishCombineSql, type AggregateSpec } from '../planner/aggregate-select.ts';
import { writeRequests } from './worker-request.ts';
import { WorkerResultStream, type ResultStream, type NoticeSink } from './result-stream.ts';
import type { Bindings } from './bindings.ts';
import type { BackendConnection } from '../backend/backend-connection.ts';
import type { TypeMap } from '../topology/type-map.ts';
import { ClientError, SqlState } from '../shared/errors.ts';

/** What combining needs of a statement's execution: its transaction's connections and where notices go. */
export interface CombineContext {
  transaction: { connection(groupId: number): Promise<BackendConnection> };
  onNotice: NoticeSink;
  bindings: Bindings;
  coordinator: { readonly typeMaps: ReadonlyMap<number, TypeMap>; typeName(oid: number): Promise<string>; readonly heldRowsMaxBytes: number };
}

/** A text array literal ({"a","b",NULL}) holding values in their text output form. */
function arrayLiteral(values: (string | null)[]): string {
  return `{${values.map((v) => (v === null ? 'NULL' : `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)).join(',')}}`;
}

/**
 * Runs an aggregate SELECT over several shards: partial results from every shard
 * (text format), then the combine query on the control group over those rows,
 * passed as one array parameter per column.
 */
export async function runAggregate(ctx: CombineContext, plan: DistributedPlan, spec: AggregateSpec, byGroup: Map<number, number[]>): Promise<ResultStream> {
  const { bindings, coordinator } = ctx;
  // Every group's partial rows are held until the combine query: within a bound.
  let held = 0;
  const partials = await Promise.all(
    [...byGroup].map(async ([group, shards]) => {
      const queries = shards.map((s) => fillShard(spec.workerTemplate, plan.relations, s));
      const sql = queries.length === 1 ? queries[0]! : queries.map((q) => `(${q})`).join('\nUNION ALL\n');
      const connection = await ctx.transaction.connection(group);
      const typeMap = coordinator.typeMaps.get(group)!;
      const request = bindings.extended
        ? { sql, params: bindings.params, paramFormats: bindings.paramFormats, paramTypes: bindings.paramTypes, resultFormats: [] }
        : { sql };
      const forgetUnparsed = writeRequests(connection, [request], bindings.extended, typeMap);
      const stream = new WorkerResultStream(connection, typeMap, ctx.onNotice, 0, () => {}, forgetUnparsed);
      await stream.description();
      const rows: (string | null)[][] = [];
      for (let frame = await stream.nextFrame(); frame; frame = await stream.nextFrame()) {
        held += frame.raw.length;
        if (held > coordinator.heldRowsMaxBytes) {
          await stream.close().catch(() => {});
          throw new ClientError(
            SqlState.programLimitExceeded,
            `the aggregate's partial results from the shards exceed coordinator.held_rows_max_mb (${coordinator.heldRowsMaxBytes / 1024 / 1024} MB), which the coordinator holds until it combines them: group by fewer distinct values, or filter first`,
          );
        }
        const body = frame.body;
        const count = body.readInt16BE(0);
        const row: (string | null)[] = [];
        let offset = 2;
        for (let i = 0; i < count; i++) {
          const length = body.readInt32BE(offset);
          offset += 4;
          row.push(length < 0 ? null : body.toString('utf8', offset, offset + length));
          if (length > 0) offset += length;
        }
        rows.push(row);
      }
      const description = stream.rawDescription ? decodeBackend(stream.rawDescription) : null;
      const types = description?.type === 'RowDescription' ? description.fields.map((f) => typeMap.toClient(f.typeOid)) : [];
      return { rows, types };
    }),
  );
  const types = partials.find((p) => p.types.length > 0)?.types ?? [];
  const typeNames = await Promise.all(types.map((oid) => coordinator.typeName(oid)));
  const columns = Array.from({ length: spec.workerColumns }, (_, i) => partials.flatMap((p) => p.rows.map((r) => r[i] ?? null)));
  const clientParamCount = bindings.params.length;
  // Partial values travel as text and are cast back in the query (arrays of arrays would flatten in unnest).
  const columnList = typeNames.map((_, i) => `c${i}`).join(', ');
  const unnest = `(SELECT ${typeNames.map((t, i) => `u.c${i}::${t}`).join(', ')} FROM unnest(${typeNames.map((_, i) => `$${clientParamCount + i + 1}::text[]`).join(', ')}) AS u(${columnList}))`;
  const sql = finishCombineSql(spec.combineTemplate.split(PARTIALS_PLACEHOLDER).join(unnest), (c) => typeNames[Number(c.slice(1))]!);
  const clientTypes = bindings.extended && bindings.describedParameterTypes ? await bindings.describedParameterTypes() : [];
  const paramFormats = bindings.paramFormats.length === 1 ? Array<number>(clientParamCount).fill(bindings.paramFormats[0]!) : bindings.paramFormats;
  const connection = await ctx.transaction.connection(0);
  const typeMap = coordinator.typeMaps.get(0)!;
  const forgetUnparsed = writeRequests(
    connection,
    [
      {
        sql,
        params: [...bindings.params, ...columns.map((values) => Buffer.from(arrayLiteral(values)))],
        paramFormats: [...paramFormats, ...columns.map(() => 0)],
        paramTypes: [...Array.from({ length: clientParamCount }, (_, i) => clientTypes[i] ?? bindings.paramTypes[i] ?? 0), ...columns.map(() => 0)],
        resultFormats: bindings.resultFormats,
      },
    ],
    true,
    typeMap,
  );
  return new WorkerResultStream(connection, typeMap, ctx.onNotice, 0, () => {}, forgetUnparsed);
}
