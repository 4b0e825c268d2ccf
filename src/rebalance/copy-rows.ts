import type pg from 'pg';
import { quoteIdent } from '../shared/quoting.ts';
import type { ShardTableDefinition } from './shard-ddl.ts';

/** Rows per INSERT, within the protocol's 65,535 parameters of a statement. */
const batchRows = (width: number) => Math.max(1, Math.min(500, Math.floor(60_000 / Math.max(1, width))));
/** Every value as PostgreSQL's text output: it goes back in as text, whatever its type. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

/**
 * Copies an UNLOGGED shard table's rows (logical replication never sees them: they are
 * not in the WAL) from the source to the target, in batches of multi-row INSERTs. The
 * source connection must hold the table locked against writes; the target's table is
 * emptied first, so an attempt that is repeated does not copy rows twice.
 */
export async function copyTableRows(source: pg.Client, target: pg.Client, table: ShardTableDefinition): Promise<number> {
  const relation = `public.${quoteIdent(table.name)}`;
  const columns = table.insertColumns.map(quoteIdent).join(', ');
  await target.query(`TRUNCATE ${relation}`);
  const cursor = `dpg_move_copy_${table.name}`;
  await source.query(`DECLARE ${quoteIdent(cursor)} NO SCROLL CURSOR FOR SELECT ${columns} FROM ${relation}`);
  let copied = 0;
  try {
    for (;;) {
      const batch = await source.query({ text: `FETCH ${batchRows(table.insertColumns.length)} FROM ${quoteIdent(cursor)}`, rowMode: 'array', types: RAW_TEXT });
      if (batch.rows.length === 0) break;
      const width = table.insertColumns.length;
      const values = batch.rows.map((_, r) => `(${table.insertColumns.map((__, c) => `$${r * width + c + 1}`).join(', ')})`).join(', ');
      await target.query(`INSERT INTO ${relation} (${columns}) VALUES ${values}`, batch.rows.flat());
      copied += batch.rows.length;
    }
  } finally {
    await source.query(`CLOSE ${quoteIdent(cursor)}`).catch(() => {});
  }
  return copied;
}
