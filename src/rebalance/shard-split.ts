import type pg from 'pg';
import { CATALOG_CHANNEL } from '../catalog/catalog-reader.ts';
import { ClientError } from '../server/client-error.ts';
import { connectPrimary, onPrimary, quoteIdent, quoteLiteral, type AdminContext } from './admin.ts';
import { advance, shardGroupOf, UNFINISHED, type MoveRecord } from './move-catalog.ts';
import { dropTablesSql, indexNames, readShardTable, retiredName, retireTablesSql, type ShardTableDefinition } from './shard-ddl.ts';
import { preparedExists } from './replication-objects.ts';
import { crashPoint, type MoveOptions } from './move-options.ts';
import { finishPrepared, lockAgainstWrites } from './cutover.ts';

/**
 * Splitting a shard group in place (dpg split-shard, citus_split_shard_by_split_points,
 * alter_distributed_table(shard_count := N)): each shard of the group becomes pieces
 * with contiguous parts of its hash range, on the same worker group (a move can take a
 * piece elsewhere afterwards).
 *
 * The pieces are new tables beside the shard. A trigger on the shard sends every write
 * (insert, update, delete, truncate) to the piece its distribution value hashes into,
 * while the existing rows are copied in primary-key order in batches that lock what
 * they copy (FOR SHARE: a concurrent update or delete waits for the batch, and its
 * trigger then finds the row in the piece); ON CONFLICT DO NOTHING leaves a row the
 * trigger wrote first alone. The pieces' indexes are built concurrently. The cutover
 * is a move's: the shard is locked against writes, dropped in a prepared transaction,
 * the catalog replaces it with the pieces (later shard indexes shift up) as the
 * decision, and the prepared transaction commits; statements routed to the old shard
 * run again with the new ranges.
 *
 * Recorded in dpg_catalog.shard_moves with kind 'split' (resumed or rolled back like a
 * move). Tables need a primary key (the trigger finds a piece's row by it).
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

/** Equal split points for `pieces` pieces of [min, max]. */
export function equalSplitPoints(min: number, max: number, pieces: number): number[] {
  const width = (max - min + 1) / pieces;
  return Array.from({ length: pieces - 1 }, (_, i) => Math.floor(min + width * (i + 1)) - 1);
}

/** Records a split of the shard group holding `shardId` at `points` (default: its middle); returns its id. */
export async function createSplit(control: pg.Client, shardId: string, points?: number[]): Promise<number> {
  const group = await shardGroupOf(control, shardId);
  const shard = (
    await control.query(`SELECT s.hash_min, s.hash_max, t.distribution_method, t.table_name FROM dpg_catalog.shards s JOIN dpg_catalog.tables t USING (table_name) WHERE s.shardid = $1`, [shardId])
  ).rows[0];
  if (shard.distribution_method !== 'hash') throw new ClientError('0A000', `${shard.table_name} is distributed by radius (hyperbolic): its shards are levels, not hash ranges, and cannot be split`);
  const min = Number(shard.hash_min);
  const max = Number(shard.hash_max);
  const splitPoints = points ?? equalSplitPoints(min, max, 2);
  if (min === max) throw new ClientError('22023', `shard ${shardId} owns one hash value (${min}); it cannot be split`);
  splitPoints.forEach((point, i) => {
    if (!Number.isInteger(point) || point < min || point >= max || (i > 0 && point <= splitPoints[i - 1]!)) {
      throw new ClientError('22023', `split point ${point} is not valid for shard ${shardId}: split points are increasing integers from ${min} to ${max - 1} (its hash range is [${min}, ${max}])`);
    }
  });
  const keyless = await control.query(
    `SELECT t.table_name FROM dpg_catalog.tables t WHERE t.colocation_id = $1
     AND NOT EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = to_regclass('public.' || quote_ident(t.table_name)) AND x.indisprimary) ORDER BY 1`,
    [group.colocationId],
  );
  if (keyless.rows.length > 0) {
    throw new ClientError('0A000', `${keyless.rows.map((r) => r.table_name).join(', ')} has no primary key; a split finds a piece's rows by it. Add one, or move the shard instead`);
  }
  const pieces = splitPoints.length + 1;
  const newIds: string[] = [];
  for (let i = 0; i < group.shardIds.length * pieces; i++) newIds.push((await control.query(`SELECT nextval('dpg_catalog.shard_id_seq')::text AS id`)).rows[0].id);
  try {
    const inserted = await control.query(
      `INSERT INTO dpg_catalog.shard_moves (kind, colocation_id, shard_index, shard_ids, source_group, target_group, new_shard_ids, split_points)
       VALUES ('split', $1, $2, $3::bigint[], $4, $4, $5::bigint[], $6::int[]) RETURNING move_id`,
      [group.colocationId, group.shardIndex, group.shardIds, group.groupId, newIds, splitPoints],
    );
    return Number(inserted.rows[0].move_id);
  } catch (error) {
    if ((error as { code?: string }).code !== '23505') throw error;
    const active = await control.query(`SELECT move_id, kind, state FROM dpg_catalog.shard_moves WHERE colocation_id = $1 AND shard_index = $2 AND state = ANY ($3)`, [group.colocationId, group.shardIndex, UNFINISHED]);
    const move = active.rows[0];
    throw new ClientError('55006', `shard ${shardId} has an unfinished ${move?.kind} (${move?.move_id}, ${move?.state}); resume it (npx dpg move-shard --resume ${move?.move_id}) or roll it back (--rollback ${move?.move_id})`);
  }
}

interface Member {
  index: number;
  table: string;
  shard: string;
  pieces: { shardId: string; name: string; min: number; max: number }[];
  definition: ShardTableDefinition;
  distributionColumn: string;
}

async function members(control: pg.Client, source: pg.Client, move: MoveRecord): Promise<Member[]> {
  const range = (await control.query(`SELECT hash_min, hash_max FROM dpg_catalog.shards WHERE shardid = $1`, [move.shardIds[0]])).rows[0];
  const pieces = move.splitPoints.length + 1;
  const result: Member[] = [];
  for (const [index, member] of move.members.entries()) {
    if (!member.table) continue;
    const definition = await readShardTable(source, `${member.table}_${member.shardId}`);
    if (!definition) throw new ClientError('XX000', `shard table ${member.table}_${member.shardId} is missing on group ${move.sourceGroup}`);
    if (definition.primaryKey.length === 0) throw new ClientError('0A000', `${member.table} has no primary key; a split finds a piece's rows by it. Add one, or move the shard instead`);
    const column = (await control.query('SELECT distribution_column FROM dpg_catalog.tables WHERE table_name = $1', [member.table])).rows[0].distribution_column as string;
    const ranges = pieceRanges(Number(range.hash_min), Number(range.hash_max), move.splitPoints);
    result.push({
      index,
      table: member.table,
      shard: definition.name,
      pieces: ranges.map((r, p) => {
        const shardId = move.newShardIds[index * pieces + p]!;
        return { shardId, name: pieceName(member.table, shardId), ...r };
      }),
      definition,
      distributionColumn: column,
    });
  }
  return result;
}

/**
 * A shard's definition (and index statements) under a piece's name: every `_<old id>` in
 * a name becomes `_<new id>` (dpg suffixes names with it; PostgreSQL's own names for a
 * constraint added to the shard later, `notes_102041_pkey`, carry it inside).
 */
const renamed = (sql: string, oldId: string, newId: string) => sql.replace(new RegExp(`_${oldId}(?!\\d)`, 'g'), `_${newId}`);

/** The trigger function sending a shard's writes to its pieces. */
function triggerFunctionSql(id: number, member: Member): string {
  const column = quoteIdent(member.distributionColumn);
  const key = member.definition.primaryKey.map(quoteIdent);
  const columns = member.definition.insertColumns.map(quoteIdent);
  const branch = (row: 'OLD' | 'NEW', action: (piece: Member['pieces'][number]) => string) =>
    member.pieces.map((piece, i) => `${i === 0 ? 'IF' : 'ELSIF'} h <= ${piece.max} THEN ${action(piece)};`).join('\n      ') + '\n      END IF;';
  return `CREATE OR REPLACE FUNCTION public.${functionName(id, member.index)}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE h int;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    TRUNCATE ${member.pieces.map((p) => `public.${quoteIdent(p.name)}`).join(', ')};
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    h := hashtext(OLD.${column}::text);
      ${branch('OLD', (p) => `DELETE FROM public.${quoteIdent(p.name)} WHERE (${key.join(', ')}) = (${key.map((k) => `OLD.${k}`).join(', ')})`)}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    h := hashtext(NEW.${column}::text);
      ${branch('NEW', (p) => `INSERT INTO public.${quoteIdent(p.name)} (${columns.join(', ')}) VALUES (${columns.map((c) => `NEW.${c}`).join(', ')}) ON CONFLICT DO NOTHING`)}
  END IF;
  RETURN NULL;
END
$fn$`;
}

export async function splitSetup(admin: AdminContext, control: pg.Client, move: MoveRecord): Promise<void> {
  await onPrimary(admin, move.sourceGroup, async (source) => {
    const list = await members(control, source, move);
    await dropSplitObjects(source, move, list);
    await source.query(`SET ROLE ${quoteIdent(admin.secrets.appUser)}`);
    await source.query('SET lock_timeout = 5000');
    for (const member of list) {
      for (const piece of member.pieces) await source.query(renamed(member.definition.createTable, member.shard.slice(member.table.length + 1), piece.shardId));
      await source.query(triggerFunctionSql(move.id, member));
      const relation = `public.${quoteIdent(member.shard)}`;
      await source.query(`CREATE TRIGGER ${triggerName(move.id)} AFTER INSERT OR UPDATE OR DELETE ON ${relation} FOR EACH ROW EXECUTE FUNCTION public.${functionName(move.id, member.index)}()`);
      await source.query(`CREATE TRIGGER ${triggerName(move.id)}_truncate AFTER TRUNCATE ON ${relation} FOR EACH STATEMENT EXECUTE FUNCTION public.${functionName(move.id, member.index)}()`);
    }
    await source.query('RESET ROLE');
    const totals = await source.query(`SELECT ${list.map((m) => `(SELECT count(*) FROM public.${quoteIdent(m.shard)})`).join(' + ')} AS rows, ${list.map((m) => `pg_total_relation_size(${quoteLiteral(`public.${quoteIdent(m.shard)}`)})`).join(' + ')} AS bytes`);
    await control.query('UPDATE dpg_catalog.shard_moves SET rows_total = $2, bytes_total = $3 WHERE move_id = $1', [move.id, totals.rows[0].rows, totals.rows[0].bytes]);
  });
  admin.log(`split ${move.id}: shards ${move.shardIds.join(', ')} into ${move.splitPoints.length + 1} pieces each; copying`);
  await advance(control, move.id, 'setup', 'copying');
}

/** Copies the shard's rows into its pieces (the trigger keeps them current meanwhile), then builds the pieces' indexes. */
export async function splitCopy(admin: AdminContext, control: pg.Client, move: MoveRecord, options: MoveOptions): Promise<void> {
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
    // Indexes of the shard (a namespace's own HNSW indexes aside: the tier manager builds them anew) on every piece, concurrently: the trigger keeps writing.
    const statements: string[] = [];
    for (const member of list) {
      for (const piece of member.pieces) {
        const present = await indexNames(source, piece.name);
        for (const [name, sql] of member.definition.indexes) {
          if (name.startsWith('dpg_ns_')) continue;
          const pieceSql = renamed(sql, member.shard.slice(member.table.length + 1), piece.shardId);
          const pieceIndex = /^CREATE (?:UNIQUE )?INDEX (\S+) /.exec(pieceSql)?.[1]?.replace(/"/g, '');
          if (pieceIndex && !present.has(pieceIndex)) statements.push(pieceSql);
        }
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

export async function splitCutover(admin: AdminContext, control: pg.Client, move: MoveRecord, options: MoveOptions): Promise<void> {
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
        // Every committed write reached the pieces through the trigger; the shard and its trigger go.
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
    admin.log(`split ${move.id}: cut over; writes paused ${pauseMs.toFixed(0)} ms`);
  } finally {
    await source.end().catch(() => {});
  }
}

/** The catalog change of a split: the shards of index i give way to the pieces at i, i + 1, ...; later indexes shift up. */
async function replaceShardsInCatalog(control: pg.Client, move: MoveRecord, list: Member[]): Promise<void> {
  const extra = move.splitPoints.length;
  const tables = list.map((m) => m.table);
  // Two steps through negative indexes: (table_name, shard_index) stays unique at every row.
  await control.query(`UPDATE dpg_catalog.shards SET shard_index = -1 - (shard_index + $3) WHERE table_name = ANY ($1) AND shard_index > $2`, [tables, move.shardIndex, extra]);
  await control.query(`UPDATE dpg_catalog.shards SET shard_index = -1 - shard_index WHERE table_name = ANY ($1) AND shard_index < 0`, [tables]);
  for (const member of list) {
    await control.query('DELETE FROM dpg_catalog.shards WHERE shardid = $1', [member.shard.slice(member.table.length + 1)]);
    for (const [p, piece] of member.pieces.entries()) {
      await control.query(`INSERT INTO dpg_catalog.shards (shardid, table_name, shard_index, hash_min, hash_max) VALUES ($1, $2, $3, $4, $5)`, [piece.shardId, member.table, move.shardIndex + p, piece.min, piece.max]);
      await control.query('INSERT INTO dpg_catalog.placements (shardid, group_id) VALUES ($1, $2)', [piece.shardId, move.sourceGroup]);
    }
  }
  await control.query('UPDATE dpg_catalog.tables SET shard_count = shard_count + $2 WHERE table_name = ANY ($1)', [tables, extra]);
  await control.query('UPDATE dpg_catalog.colocation_groups SET shard_count = shard_count + $2 WHERE colocation_id = $1', [move.colocationId, extra]);
  await control.query(`NOTIFY ${CATALOG_CHANNEL}`);
}

export async function splitCleanup(admin: AdminContext, control: pg.Client, move: MoveRecord): Promise<void> {
  const gid = `dpg_move_${move.id}`;
  await onPrimary(admin, move.sourceGroup, async (source) => {
    if (await preparedExists(source, gid)) await source.query(`COMMIT PREPARED ${quoteLiteral(gid)}`);
    // The retired shard tables (and their triggers) go, then the trigger functions.
    await source.query(dropTablesSql(move.members.map((m) => retiredName(`${m.table}_${m.shardId}`))));
    for (const [index] of move.members.entries()) await source.query(`DROP FUNCTION IF EXISTS public.${functionName(move.id, index)}()`);
  });
  admin.log(`split ${move.id}: done`);
  await advance(control, move.id, 'cleanup', 'done');
}

export async function splitRollBack(admin: AdminContext, control: pg.Client, move: MoveRecord): Promise<void> {
  const gid = `dpg_move_${move.id}`;
  await onPrimary(admin, move.sourceGroup, async (source) => {
    if (await preparedExists(source, gid)) await source.query(`ROLLBACK PREPARED ${quoteLiteral(gid)}`);
    await dropSplitObjects(source, move, await members(control, source, move));
  });
  admin.log(`split ${move.id}: rolled back; shards ${move.shardIds.join(', ')} stay as they were`);
  await advance(control, move.id, 'rolling-back', 'rolled-back');
}

/** The triggers, trigger functions and piece tables of a split (what a crash or rollback leaves). */
async function dropSplitObjects(source: pg.Client, move: MoveRecord, list: Member[]): Promise<void> {
  for (const member of list) {
    await source.query(`DROP TRIGGER IF EXISTS ${triggerName(move.id)} ON public.${quoteIdent(member.shard)}`);
    await source.query(`DROP TRIGGER IF EXISTS ${triggerName(move.id)}_truncate ON public.${quoteIdent(member.shard)}`);
    await source.query(`DROP FUNCTION IF EXISTS public.${functionName(move.id, member.index)}()`);
    await source.query(dropTablesSql(member.pieces.map((p) => p.name)));
  }
}

/**
 * alter_distributed_table(shard_count := N) for N a multiple of the current count: every
 * shard group of the co-location group splits into N / current equal pieces, one after
 * the other, in place (dpg rebalance spreads them afterwards).
 */
export async function multiplyShardCount(admin: AdminContext, table: string, shardCount: number, run: (id: number) => Promise<unknown>): Promise<number> {
  const shards = await onPrimary(admin, 0, async (control) => {
    const info = (await control.query(`SELECT shard_count, kind, distribution_method FROM dpg_catalog.tables WHERE table_name = $1`, [table])).rows[0];
    if (!info || info.kind !== 'distributed') throw new ClientError('22023', `table "${table}" is not a distributed table`);
    if (info.distribution_method !== 'hash') throw new ClientError('0A000', `${table} is distributed by radius (hyperbolic); its shard count is its number of levels and cannot change`);
    if (shardCount < info.shard_count || shardCount % info.shard_count !== 0) {
      throw new ClientError('0A000', `${table} has ${info.shard_count} shards; dpg changes a shard count only to a multiple of it (each shard splits in place), not to ${shardCount}`);
    }
    return {
      factor: shardCount / info.shard_count,
      ids: (await control.query(`SELECT shardid::text AS id, hash_min, hash_max FROM dpg_catalog.shards WHERE table_name = $1 ORDER BY shard_index`, [table])).rows as { id: string; hash_min: number; hash_max: number }[],
    };
  });
  if (shards.factor === 1) return 0;
  for (const shard of shards.ids) {
    const id = await onPrimary(admin, 0, (control) => createSplit(control, shard.id, equalSplitPoints(Number(shard.hash_min), Number(shard.hash_max), shards.factor)));
    await run(id);
  }
  return shards.ids.length;
}
