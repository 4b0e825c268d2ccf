import type pg from 'pg';
import { CATALOG_CHANNEL } from '../topology/catalog-reader.ts';
import { ClientError } from '../shared/errors.ts';
import { connectPrimary, onPrimary, type AdminContext } from './admin.ts';
import { quoteIdent, quoteLiteral } from '../shared/quoting.ts';
import { advance, type MoveRecord } from './move-catalog.ts';
import { dropTablesSql, indexNames, readShardTable, retiredName, retireTablesSql, type ShardTableDefinition } from './shard-ddl.ts';
import { preparedExists } from './replication-objects.ts';
import { crashPoint, type MoveOptions } from './move-options.ts';
import { finishPrepared, lockAgainstWrites } from './cutover.ts';

/**
 * Resharding in place on one worker group: the shards of adjacent shard groups of a
 * co-location group (one for a split, several for a merge) are replaced by new shards
 * ("pieces") whose hash ranges cover theirs: a split cuts one range at split points, a
 * merge joins adjacent ranges into one. Records: src/rebalance/shard-split.ts.
 *
 * The pieces are new tables beside the shards. A trigger on every source shard sends each
 * write (insert, update, delete, truncate) to the piece its distribution value hashes
 * into, while the existing rows are copied in primary-key order in batches that lock what
 * they copy (FOR SHARE: a concurrent update or delete waits for the batch, and its trigger
 * then finds the row in the piece); ON CONFLICT DO NOTHING leaves a row the trigger wrote
 * first alone. The pieces' indexes are built concurrently. The cutover is a move's: the
 * sources are locked against writes and renamed away in a prepared transaction, the
 * catalog replaces them with the pieces (the shard indexes after them shift) as the
 * decision, and the prepared transaction commits; statements routed to an old shard run
 * again with the new ranges.
 *
 * Tables need a primary key (the trigger finds a piece's row by it); it includes the
 * distribution column (dpg refuses other unique constraints), so rows of different
 * merged shards never collide.
 */
const BATCH_ROWS = 2000;
const pieceName = (table: string, shardId: string) => `${table}_${shardId}`;
const functionName = (id: number, member: number) => `dpg_split_${id}_${member}`;
const triggerName = (id: number) => `dpg_split_${id}`;

/** The hash ranges of the pieces: [min, p1], [p1 + 1, p2], ..., [pk + 1, max]. */
export function pieceRanges(min: number, max: number, points: number[]): { min: number; max: number }[] {
  const bounds = [min - 1, ...points, max];
  return points.map((_, i) => i).concat(points.length).map((i) => ({ min: bounds[i]! + 1, max: bounds[i + 1]! }));
}

interface Piece {
  shardId: string;
  name: string;
  min: number;
  max: number;
}

/** One source shard: its pieces are those of its table whose ranges meet its range. */
interface Member {
  index: number;
  table: string;
  shard: string;
  shardId: string;
  min: number;
  max: number;
  pieces: Piece[];
  definition: ShardTableDefinition;
  distributionColumn: string;
  /** The first source shard of its table: the pieces' tables and indexes are made from its definition. */
  first: boolean;
}

async function members(control: pg.Client, source: pg.Client, move: MoveRecord): Promise<Member[]> {
  const shards = await control.query(`SELECT shardid::text AS id, hash_min, hash_max FROM dpg_catalog.shards WHERE shardid = ANY ($1::bigint[])`, [move.shardIds]);
  const range = new Map(shards.rows.map((r) => [r.id as string, { min: Number(r.hash_min), max: Number(r.hash_max) }]));
  const tables = [...new Set(move.members.map((m) => m.table).filter(Boolean))];
  const pieceCount = move.splitPoints.length + 1;
  const result: Member[] = [];
  for (const [index, member] of move.members.entries()) {
    if (!member.table) continue;
    const own = range.get(member.shardId);
    if (!own) throw new ClientError('XX000', `shard ${member.shardId} of ${move.kind} ${move.id} is missing from the catalog`);
    const definition = await readShardTable(source, `${member.table}_${member.shardId}`);
    if (!definition) throw new ClientError('XX000', `shard table ${member.table}_${member.shardId} is missing on group ${move.sourceGroup}`);
    if (definition.primaryKey.length === 0) throw new ClientError('0A000', `${member.table} has no primary key; a ${move.kind} finds a piece's rows by it. Add one, or move the shard instead`);
    const column = (await control.query('SELECT distribution_column FROM dpg_catalog.tables WHERE table_name = $1', [member.table])).rows[0].distribution_column as string;
    const siblings = move.members.filter((m) => m.table === member.table).map((m) => range.get(m.shardId)!);
    const whole = { min: Math.min(...siblings.map((r) => r.min)), max: Math.max(...siblings.map((r) => r.max)) };
    const t = tables.indexOf(member.table);
    const pieces = pieceRanges(whole.min, whole.max, move.splitPoints).map((r, p) => {
      const shardId = move.newShardIds[t * pieceCount + p]!;
      return { shardId, name: pieceName(member.table, shardId), ...r };
    });
    result.push({
      index,
      table: member.table,
      shard: definition.name,
      shardId: member.shardId,
      ...own,
      pieces: pieces.filter((p) => p.max >= own.min && p.min <= own.max),
      definition,
      distributionColumn: column,
      first: move.members.findIndex((m) => m.table === member.table) === index,
    });
  }
  return result;
}

/** Every piece once, with the source whose definition makes it (the first of its table). */
function piecesOf(list: Member[]): { piece: Piece; maker: Member }[] {
  const seen = new Map<string, { piece: Piece; maker: Member }>();
  for (const member of list) {
    for (const piece of member.pieces) if (!seen.has(piece.shardId)) seen.set(piece.shardId, { piece, maker: list.find((m) => m.first && m.table === member.table)! });
  }
  return [...seen.values()];
}

/**
 * A shard's definition (and index statements) under a piece's name: every `_<old id>` in
 * a name becomes `_<new id>` (dpg suffixes names with it; PostgreSQL's own names for a
 * constraint added to the shard later, `notes_102041_pkey`, carry it inside).
 */
const renamed = (sql: string, oldId: string, newId: string) => sql.replace(new RegExp(`_${oldId}(?!\\d)`, 'g'), `_${newId}`);

/** The trigger function sending a source shard's writes to its pieces. */
function triggerFunctionSql(id: number, member: Member): string {
  const column = quoteIdent(member.distributionColumn);
  const key = member.definition.primaryKey.map(quoteIdent);
  const columns = member.definition.insertColumns.map(quoteIdent);
  const branch = (action: (piece: Piece) => string) =>
    member.pieces.length === 1
      ? `${action(member.pieces[0]!)};`
      : member.pieces.map((piece, i) => `${i === 0 ? 'IF' : 'ELSIF'} h <= ${piece.max} THEN ${action(piece)};`).join('\n      ') + '\n      END IF;';
  // A truncate of the source empties a piece inside its range; a merged piece loses only the source's part.
  const truncate = member.pieces.map((p) =>
    p.min >= member.min && p.max <= member.max
      ? `TRUNCATE public.${quoteIdent(p.name)};`
      : `DELETE FROM public.${quoteIdent(p.name)} WHERE hashtext(${column}::text) BETWEEN ${member.min} AND ${member.max};`,
  );
  return `CREATE OR REPLACE FUNCTION public.${functionName(id, member.index)}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE h int;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    ${truncate.join('\n    ')}
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    h := hashtext(OLD.${column}::text);
      ${branch((p) => `DELETE FROM public.${quoteIdent(p.name)} WHERE (${key.join(', ')}) = (${key.map((k) => `OLD.${k}`).join(', ')})`)}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    h := hashtext(NEW.${column}::text);
      ${branch((p) => `INSERT INTO public.${quoteIdent(p.name)} (${columns.join(', ')}) VALUES (${columns.map((c) => `NEW.${c}`).join(', ')}) ON CONFLICT DO NOTHING`)}
  END IF;
  RETURN NULL;
END
$fn$`;
}

const idOf = (member: Member) => member.shard.slice(member.table.length + 1);
const what = (move: MoveRecord) => `${move.kind} ${move.id}`;

export async function reshardSetup(admin: AdminContext, control: pg.Client, move: MoveRecord): Promise<void> {
  await onPrimary(admin, move.sourceGroup, async (source) => {
    const list = await members(control, source, move);
    await dropReshardObjects(source, move, list);
    await source.query('SET lock_timeout = 5000');
    for (const { piece, maker } of piecesOf(list)) {
      await source.query(renamed(maker.definition.createTable, idOf(maker), piece.shardId));
      for (const sql of maker.definition.access) await source.query(renamed(sql, idOf(maker), piece.shardId));
    }
    // The triggers' functions run with their owner's rights: the shards' owner's, not the superuser's.
    await source.query(`SET ROLE ${quoteIdent(list[0]!.definition.owner)}`);
    for (const member of list) {
      await source.query(triggerFunctionSql(move.id, member));
      const relation = `public.${quoteIdent(member.shard)}`;
      await source.query(`CREATE TRIGGER ${triggerName(move.id)} AFTER INSERT OR UPDATE OR DELETE ON ${relation} FOR EACH ROW EXECUTE FUNCTION public.${functionName(move.id, member.index)}()`);
      await source.query(`CREATE TRIGGER ${triggerName(move.id)}_truncate AFTER TRUNCATE ON ${relation} FOR EACH STATEMENT EXECUTE FUNCTION public.${functionName(move.id, member.index)}()`);
    }
    await source.query('RESET ROLE');
    const totals = await source.query(`SELECT ${list.map((m) => `(SELECT count(*) FROM public.${quoteIdent(m.shard)})`).join(' + ')} AS rows, ${list.map((m) => `pg_total_relation_size(${quoteLiteral(`public.${quoteIdent(m.shard)}`)})`).join(' + ')} AS bytes`);
    await control.query('UPDATE dpg_catalog.shard_moves SET rows_total = $2, bytes_total = $3 WHERE move_id = $1', [move.id, totals.rows[0].rows, totals.rows[0].bytes]);
  });
  const pieces = move.splitPoints.length + 1;
  admin.log(move.kind === 'merge' ? `${what(move)}: shards ${move.shardIds.join(', ')} into one per table; copying` : `${what(move)}: shards ${move.shardIds.join(', ')} into ${pieces} pieces each; copying`);
  await advance(control, move.id, 'setup', 'copying');
}

/** Copies the sources' rows into the pieces (the triggers keep them current meanwhile), then builds the pieces' indexes. */
export async function reshardCopy(admin: AdminContext, control: pg.Client, move: MoveRecord, options: MoveOptions): Promise<void> {
  const source = await connectPrimary(admin, move.sourceGroup);
  try {
    const list = await members(control, source, move);
    let copied = 0;
    for (const member of list) {
      const key = member.definition.primaryKey.map(quoteIdent);
      const columns = member.definition.insertColumns.map(quoteIdent).join(', ');
      for (const piece of member.pieces) {
        let last: string[] | null = null;
        for (;;) {
          const after = last ? `AND (${key.join(', ')}) > (${key.map((_, i) => `$${i + 1}`).join(', ')})` : '';
          const batch = await source.query({
            text: `WITH batch AS (
                     SELECT ${columns} FROM public.${quoteIdent(member.shard)}
                     WHERE hashtext(${quoteIdent(member.distributionColumn)}::text) BETWEEN ${piece.min} AND ${piece.max} ${after}
                     ORDER BY ${key.join(', ')} LIMIT ${BATCH_ROWS} FOR SHARE),
                   copied AS (INSERT INTO public.${quoteIdent(piece.name)} (${columns}) SELECT ${columns} FROM batch ON CONFLICT DO NOTHING)
                   SELECT ${key.join(', ')}, (SELECT count(*) FROM batch) AS n FROM batch ORDER BY ${key.map((k) => `${k} DESC`).join(', ')} LIMIT 1`,
            values: last ?? [],
            rowMode: 'array',
            types: { getTypeParser: () => (value: string) => value },
          });
          const row = batch.rows[0] as string[] | undefined;
          if (!row) break;
          copied += Number(row[key.length]);
          last = row.slice(0, key.length);
          options.onProgress?.({ phase: 'copy', done: Math.min(copied, move.rowsTotal ?? copied), total: move.rowsTotal ?? copied, unit: 'rows' });
          crashPoint('split-copying');
          if (Number(row[key.length]) < BATCH_ROWS) break;
        }
      }
    }
    // Indexes of the shard (a namespace's own HNSW indexes aside: the tier manager builds them anew) on every piece, concurrently: the triggers keep writing.
    const statements: string[] = [];
    for (const { piece, maker } of piecesOf(list)) {
      const present = await indexNames(source, piece.name);
      for (const [name, sql] of maker.definition.indexes) {
        if (name.startsWith('dpg_ns_')) continue;
        const pieceSql = renamed(sql, idOf(maker), piece.shardId);
        const pieceIndex = /^CREATE (?:UNIQUE )?INDEX (\S+) /.exec(pieceSql)?.[1]?.replace(/"/g, '');
        if (pieceIndex && !present.has(pieceIndex)) statements.push(pieceSql);
      }
    }
    await source.query(`SET maintenance_work_mem = ${quoteLiteral(admin.indexBuildMemory)}`);
    for (const [i, sql] of statements.entries()) {
      options.onProgress?.({ phase: 'index', done: i, total: statements.length, unit: 'indexes' });
      await source.query(sql.replace(/^CREATE (UNIQUE )?INDEX /, 'CREATE $1INDEX CONCURRENTLY '));
    }
    options.onProgress?.({ phase: 'index', done: statements.length, total: statements.length, unit: 'indexes' });
  } finally {
    await source.end().catch(() => {});
  }
  await advance(control, move.id, 'copying', 'cutover');
}

export async function reshardCutover(admin: AdminContext, control: pg.Client, move: MoveRecord, options: MoveOptions): Promise<void> {
  const gid = `dpg_move_${move.id}`;
  const source = await connectPrimary(admin, move.sourceGroup);
  try {
    if (await preparedExists(source, gid)) await source.query(`ROLLBACK PREPARED ${quoteLiteral(gid)}`);
    const list = await members(control, source, move);
    let locked = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        await lockAgainstWrites(admin, source, list.map((m) => m.shard), options);
        locked = performance.now();
        // Every committed write reached the pieces through the triggers; the sources and their triggers go.
        await source.query(retireTablesSql(list.map((m) => m.shard)));
        await source.query(`PREPARE TRANSACTION ${quoteLiteral(gid)}`);
        crashPoint('split-prepared');
        break;
      } catch (error) {
        await source.query('ROLLBACK').catch(() => {});
        if (!['55P03', '40P01'].includes((error as { code?: string }).code ?? '') || attempt >= (options.cutoverAttempts ?? 20)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
    let switched = false;
    try {
      await control.query('BEGIN');
      switched = await advance(control, move.id, 'cutover', 'cleanup');
      if (switched) await replaceShardsInCatalog(control, move, list);
      await control.query(switched ? 'COMMIT' : 'ROLLBACK');
    } catch (error) {
      await control.query('ROLLBACK').catch(() => {});
      throw error;
    }
    const pauseMs = await finishPrepared(control, source, move, switched, locked);
    admin.log(`${what(move)}: cut over; writes paused ${pauseMs.toFixed(0)} ms`);
  } finally {
    await source.end().catch(() => {});
  }
}

/**
 * The catalog change: the source shards (indexes first..last, as they are now: a split
 * or merge elsewhere in the co-location group may have shifted them since the record was
 * made) give way to the pieces at first, first + 1, ...; later indexes shift by the
 * difference.
 */
async function replaceShardsInCatalog(control: pg.Client, move: MoveRecord, list: Member[]): Promise<void> {
  const tables = [...new Set(list.map((m) => m.table))];
  const indexes = (await control.query(`SELECT min(shard_index) AS first, max(shard_index) AS last FROM dpg_catalog.shards WHERE shardid = ANY ($1::bigint[])`, [move.shardIds])).rows[0];
  const first = Number(indexes.first);
  const last = Number(indexes.last);
  const pieces = move.splitPoints.length + 1;
  const delta = pieces - (last - first + 1);
  await control.query('DELETE FROM dpg_catalog.shards WHERE shardid = ANY ($1::bigint[])', [move.shardIds]);
  // Two steps through negative indexes: (table_name, shard_index) stays unique at every row.
  await control.query(`UPDATE dpg_catalog.shards SET shard_index = -1 - (shard_index + $3) WHERE table_name = ANY ($1) AND shard_index > $2`, [tables, last, delta]);
  await control.query(`UPDATE dpg_catalog.shards SET shard_index = -1 - shard_index WHERE table_name = ANY ($1) AND shard_index < 0`, [tables]);
  for (const { piece, maker } of piecesOf(list)) {
    const p = move.newShardIds.indexOf(piece.shardId) % pieces;
    await control.query(`INSERT INTO dpg_catalog.shards (shardid, table_name, shard_index, hash_min, hash_max) VALUES ($1, $2, $3, $4, $5)`, [piece.shardId, maker.table, first + p, piece.min, piece.max]);
    await control.query('INSERT INTO dpg_catalog.placements (shardid, group_id) VALUES ($1, $2)', [piece.shardId, move.sourceGroup]);
  }
  await control.query('UPDATE dpg_catalog.tables SET shard_count = shard_count + $2 WHERE table_name = ANY ($1)', [tables, delta]);
  await control.query('UPDATE dpg_catalog.colocation_groups SET shard_count = shard_count + $2 WHERE colocation_id = $1', [move.colocationId, delta]);
  await control.query(`NOTIFY ${CATALOG_CHANNEL}`);
}

export async function reshardCleanup(admin: AdminContext, control: pg.Client, move: MoveRecord): Promise<void> {
  const gid = `dpg_move_${move.id}`;
  await onPrimary(admin, move.sourceGroup, async (source) => {
    if (await preparedExists(source, gid)) await source.query(`COMMIT PREPARED ${quoteLiteral(gid)}`);
    // The retired source tables (and their triggers) go, then the trigger functions.
    await source.query(dropTablesSql(move.members.map((m) => retiredName(`${m.table}_${m.shardId}`))));
    for (const [index] of move.members.entries()) await source.query(`DROP FUNCTION IF EXISTS public.${functionName(move.id, index)}()`);
  });
  admin.log(`${what(move)}: done`);
  await advance(control, move.id, 'cleanup', 'done');
}

export async function reshardRollBack(admin: AdminContext, control: pg.Client, move: MoveRecord): Promise<void> {
  const gid = `dpg_move_${move.id}`;
  await onPrimary(admin, move.sourceGroup, async (source) => {
    if (await preparedExists(source, gid)) await source.query(`ROLLBACK PREPARED ${quoteLiteral(gid)}`);
    await dropReshardObjects(source, move, await members(control, source, move));
  });
  admin.log(`${what(move)}: rolled back; shards ${move.shardIds.join(', ')} stay as they were`);
  await advance(control, move.id, 'rolling-back', 'rolled-back');
}

/** The triggers, trigger functions and piece tables of a split or merge (what a crash or rollback leaves). */
async function dropReshardObjects(source: pg.Client, move: MoveRecord, list: Member[]): Promise<void> {
  for (const member of list) {
    await source.query(`DROP TRIGGER IF EXISTS ${triggerName(move.id)} ON public.${quoteIdent(member.shard)}`);
    await source.query(`DROP TRIGGER IF EXISTS ${triggerName(move.id)}_truncate ON public.${quoteIdent(member.shard)}`);
    await source.query(`DROP FUNCTION IF EXISTS public.${functionName(move.id, member.index)}()`);
  }
  await source.query(dropTablesSql(piecesOf(list).map(({ piece }) => piece.name)));
}
