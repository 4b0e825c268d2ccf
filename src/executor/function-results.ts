import { encodeDataRow, encodeRowDescription, type FieldDescription } from '../protocol/backend.ts';
import { LocalResultStream, type ResultStream } from './result-stream.ts';

/**
 * The result columns of the Citus functions the coordinator runs itself: one per
 * function name, the same for a Describe of a prepared statement as for its execution.
 * Most return one void column (as Citus' do); get_rebalance_table_shards_plan returns
 * the planned moves, citus_rebalance_start a job id.
 */
const VOID = 2278;
const INT8 = 20;
const INT4 = 23;
const TEXT = 25;
const SIZES: Record<number, number> = { [VOID]: 4, [INT8]: 8, [INT4]: 4, [TEXT]: -1 };

const COLUMNS: Record<string, [string, number][]> = {
  get_rebalance_table_shards_plan: [
    ['table_name', TEXT],
    ['shardid', INT8],
    ['shard_size', INT8],
    ['sourcename', TEXT],
    ['sourceport', INT4],
    ['targetname', TEXT],
    ['targetport', INT4],
  ],
  citus_rebalance_start: [['citus_rebalance_start', INT8]],
};

export function functionResultFields(name: string): FieldDescription[] {
  const columns = COLUMNS[name] ?? [[name, VOID]];
  return columns.map(([column, typeOid]) => ({ name: column, tableOid: 0, columnAttribute: 0, typeOid, typeSize: SIZES[typeOid]!, typeModifier: -1, format: 0 }));
}

/** The function's rows, as text, under its columns. */
export function functionResult(name: string, rows: (string | null)[][]): ResultStream {
  return new LocalResultStream(`SELECT ${rows.length}`, encodeRowDescription(functionResultFields(name)), rows.map((row) => encodeDataRow(row)));
}

/** The one row a void function returns. */
export function voidResult(name: string): ResultStream {
  return functionResult(name, [['']]);
}
