import type pg from 'pg';
import { ClientError } from '../shared/errors.ts';

/**
 * The catalog's record of shard moves (dpg_catalog.shard_moves). A move carries a shard
 * group: the shards of one index of a co-location group, which live together.
 *
 *   setup -> copying -> catching-up -> cutover -> cleanup -> done
 *      \________\____________\____________\-> rolling-back -> rolled-back
 *
 * 'cleanup' is the commit decision of the cutover: the placements point at the target
 * in the same catalog transaction that sets it.
 */
export type MoveKind = 'move' | 'split' | 'merge';
export type MoveState = 'setup' | 'copying' | 'catching-up' | 'cutover' | 'cleanup' | 'done' | 'rolling-back' | 'rolled-back';

export const UNFINISHED: MoveState[] = ['setup', 'copying', 'catching-up', 'cutover', 'cleanup', 'rolling-back'];
/** States a move can be rolled back from: the catalog has not switched yet. */
export const BEFORE_CUTOVER: MoveState[] = ['setup', 'copying', 'catching-up', 'cutover', 'rolling-back'];

export interface MoveRecord {
  id: number;
  colocationId: number;
  shardIndex: number;
  shardIds: string[];
  /** Shard table names (`<table>_<shardid>`), ordered by table name. */
  tables: string[];
  sourceGroup: number;
  targetGroup: number;
  state: MoveState;
  rowsTotal: number | null;
  bytesTotal: number | null;
  pauseMs: number | null;
  detail: string | null;
  /** A move, a split of one shard group into pieces, or a merge of adjacent shard groups into one. */
  kind: MoveKind;
  /** The shards' tables, in the order of shardIds ('' once the catalog no longer has the shard). */
  members: { table: string; shardId: string }[];
  /** A split's or merge's new shards: per table (in the order of first appearance in shardIds), its pieces in hash order. */
  newShardIds: string[];
  /** A split's last hash of every piece but the last (none for a merge: one piece). */
  splitPoints: number[];
}

/** Names of a move's replication objects and its prepared cutover transaction: all `dpg_move_<id>`. */
export const moveObjectName = (id: number) => `dpg_move_${id}`;
export const MOVE_GID = /^dpg_move_(\d+)$/;
/** pg_advisory_lock(MOVE_LOCK_CLASS, move_id): held by whoever runs or rolls back the move. */
export const MOVE_LOCK_CLASS = 0x64706d; // 'dpm'

export async function loadMove(control: pg.Client, id: number): Promise<MoveRecord> {
  const result = await control.query(
    `SELECT m.move_id, m.colocation_id, m.shard_index, m.shard_ids::text[] AS shard_ids, m.source_group, m.target_group, m.state,
            m.rows_total, m.bytes_total, m.pause_ms, m.detail, m.kind, coalesce(m.new_shard_ids, '{}')::text[] AS new_shard_ids,
            coalesce(m.split_points, '{}') AS split_points,
            ARRAY(SELECT s.table_name || '_' || s.shardid FROM dpg_catalog.shards s WHERE s.shardid = ANY (m.shard_ids) ORDER BY s.table_name) AS tables,
            ARRAY(SELECT coalesce(s.table_name, '') FROM unnest(m.shard_ids) WITH ORDINALITY AS u(id, n) LEFT JOIN dpg_catalog.shards s ON s.shardid = u.id ORDER BY u.n) AS member_tables
     FROM dpg_catalog.shard_moves m WHERE m.move_id = $1`,
    [id],
  );
  const row = result.rows[0];
  if (!row) throw new ClientError('22023', `there is no shard move ${id}; see SELECT * FROM dpg_shard_moves`);
  return {
    id: Number(row.move_id),
    colocationId: row.colocation_id,
    shardIndex: row.shard_index,
    shardIds: row.shard_ids,
    tables: row.tables,
    sourceGroup: row.source_group,
    targetGroup: row.target_group,
    state: row.state,
    rowsTotal: row.rows_total === null ? null : Number(row.rows_total),
    bytesTotal: row.bytes_total === null ? null : Number(row.bytes_total),
    pauseMs: row.pause_ms,
    detail: row.detail,
    kind: row.kind,
    members: (row.shard_ids as string[]).map((shardId, i) => ({ table: row.member_tables[i], shardId })),
    newShardIds: row.new_shard_ids,
    splitPoints: row.split_points,
  };
}

/** Moves that have not ended (neither done nor rolled back), oldest first. */
export async function unfinishedMoves(control: pg.Client): Promise<number[]> {
  const result = await control.query(`SELECT move_id FROM dpg_catalog.shard_moves WHERE state = ANY ($1) ORDER BY move_id`, [UNFINISHED]);
  return result.rows.map((r) => Number(r.move_id));
}

/** Moves the state on if the move is still in one of `from` (another process may have decided otherwise). */
export async function advance(control: pg.Client, id: number, from: MoveState | MoveState[], to: MoveState, detail?: string): Promise<boolean> {
  const result = await control.query(
    `UPDATE dpg_catalog.shard_moves SET state = $3, updated_at = now(), detail = coalesce($4, detail),
            finished_at = CASE WHEN $3 IN ('done', 'rolled-back') THEN now() END
     WHERE move_id = $1 AND state = ANY ($2)`,
    [id, Array.isArray(from) ? from : [from], to, detail ?? null],
  );
  return result.rowCount === 1;
}

export interface ShardGroup {
  colocationId: number;
  shardIndex: number;
  shardIds: string[];
  groupId: number;
}

/** The shard group a shard belongs to, with its current worker group. */
export async function shardGroupOf(control: pg.Client, shardId: string): Promise<ShardGroup> {
  if (!/^\d+$/.test(shardId)) throw new ClientError('22023', `shard id must be a number, got ${JSON.stringify(shardId)}`);
  const shard = await control.query(
    `SELECT s.shard_index, t.colocation_id, t.kind, t.table_name FROM dpg_catalog.shards s JOIN dpg_catalog.tables t USING (table_name) WHERE s.shardid = $1`,
    [shardId],
  );
  const row = shard.rows[0];
  if (!row) throw new ClientError('22023', `shard ${shardId} does not exist; see SELECT * FROM citus_shards`);
  if (row.kind !== 'distributed') {
    throw new ClientError('0A000', `shard ${shardId} is the shard of reference table ${row.table_name}, which has a copy on every worker group; there is nothing to move`);
  }
  const members = await control.query(
    `SELECT s.shardid::text AS shardid, p.group_id FROM dpg_catalog.shards s JOIN dpg_catalog.tables t USING (table_name)
     JOIN dpg_catalog.placements p USING (shardid) WHERE t.colocation_id = $1 AND s.shard_index = $2 ORDER BY s.table_name`,
    [row.colocation_id, row.shard_index],
  );
  const groups = new Set(members.rows.map((r) => r.group_id as number));
  if (groups.size !== 1) throw new ClientError('XX000', `the co-located shards of shard ${shardId} are on several groups (${[...groups].join(', ')}); finish or roll back the moves in dpg_shard_moves first`);
  return { colocationId: row.colocation_id, shardIndex: row.shard_index, shardIds: members.rows.map((r) => r.shardid), groupId: [...groups][0]! };
}

/**
 * Inserts a record of a move, split or merge of `shardIds` (returned by `insert`, which
 * reads what it needs from the catalog) unless an unfinished one has any of those shards.
 * The table lock makes the check and the insert one step against other processes.
 */
export async function claimShards(control: pg.Client, insert: () => Promise<{ id: number; shardIds: string[] }>): Promise<number> {
  try {
    await control.query('BEGIN');
    await control.query('LOCK TABLE dpg_catalog.shard_moves IN SHARE ROW EXCLUSIVE MODE');
    const record = await insert();
    const active = await control.query(
      `SELECT move_id, kind, state FROM dpg_catalog.shard_moves WHERE state = ANY ($1) AND shard_ids && $2::bigint[] AND move_id <> $3 ORDER BY move_id LIMIT 1`,
      [UNFINISHED, record.shardIds, record.id],
    );
    const other = active.rows[0];
    if (other) {
      throw new ClientError(
        '55006',
        `shards ${record.shardIds.join(', ')} are in an unfinished ${other.kind} (${other.move_id}, ${other.state}); resume it with 'npx dpg move-shard --resume ${other.move_id}' or roll it back with --rollback ${other.move_id}`,
      );
    }
    await control.query('COMMIT');
    return record.id;
  } catch (error) {
    await control.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** Records a new move of the shard group holding `shardId` to `targetGroup`; returns its id. */
export async function createMove(control: pg.Client, shardId: string, targetGroup: number, sourceGroup?: number): Promise<number> {
  return claimShards(control, async () => {
    const group = await shardGroupOf(control, shardId);
    const target = await control.query('SELECT kind, name FROM dpg_catalog.groups WHERE group_id = $1', [targetGroup]);
    if (target.rows[0]?.kind !== 'worker') throw new ClientError('22023', `group ${targetGroup} is not a worker group; see SELECT * FROM pg_dist_node`);
    if (sourceGroup !== undefined && sourceGroup !== group.groupId) {
      throw new ClientError('22023', `shard ${shardId} is on group ${group.groupId}, not on group ${sourceGroup}`);
    }
    if (group.groupId === targetGroup) throw new ClientError('22023', `shard ${shardId} is already on group ${targetGroup}`);
    const inserted = await control.query(
      `INSERT INTO dpg_catalog.shard_moves (colocation_id, shard_index, shard_ids, source_group, target_group) VALUES ($1, $2, $3::bigint[], $4, $5) RETURNING move_id`,
      [group.colocationId, group.shardIndex, group.shardIds, group.groupId, targetGroup],
    );
    return { id: Number(inserted.rows[0].move_id), shardIds: group.shardIds };
  });
}
