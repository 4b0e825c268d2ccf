import type pg from 'pg';
import { ClientError } from '../shared/errors.ts';
import { claimShards, shardGroupOf, type ShardGroup } from './move-catalog.ts';

/**
 * Records of splits and merges (dpg split-shard, dpg merge-shards, citus_split_shard_by_split_points,
 * alter_distributed_table(shard_count := N)); src/rebalance/reshard.ts runs them. A split
 * cuts a shard group into pieces with contiguous parts of its hash range; a merge joins
 * adjacent shard groups on one worker group into one. Both stay on that worker group (a
 * move can take a shard elsewhere afterwards).
 */

/** Equal split points for `pieces` pieces of [min, max]. */
export function equalSplitPoints(min: number, max: number, pieces: number): number[] {
  const width = (max - min + 1) / pieces;
  return Array.from({ length: pieces - 1 }, (_, i) => Math.floor(min + width * (i + 1)) - 1);
}

/** Refuses a co-location group with a table without a primary key: the copy and the triggers find rows by it. */
async function requirePrimaryKeys(control: pg.Client, colocationId: number, what: string): Promise<void> {
  const keyless = await control.query(
    `SELECT t.table_name FROM dpg_catalog.tables t WHERE t.colocation_id = $1
     AND NOT EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = to_regclass('public.' || quote_ident(t.table_name)) AND x.indisprimary) ORDER BY 1`,
    [colocationId],
  );
  if (keyless.rows.length > 0) {
    throw new ClientError('0A000', `${keyless.rows.map((r) => r.table_name).join(', ')} has no primary key; a ${what} finds a piece's rows by it. Add one, or move the shard instead`);
  }
}

async function hashRange(control: pg.Client, shardId: string): Promise<{ min: number; max: number; table: string }> {
  const shard = (
    await control.query(`SELECT s.hash_min, s.hash_max, t.distribution_method, t.table_name FROM dpg_catalog.shards s JOIN dpg_catalog.tables t USING (table_name) WHERE s.shardid = $1`, [shardId])
  ).rows[0];
  if (shard.distribution_method !== 'hash') throw new ClientError('0A000', `${shard.table_name} is distributed by radius (hyperbolic): its shards are levels, not hash ranges, and cannot be split or merged`);
  return { min: Number(shard.hash_min), max: Number(shard.hash_max), table: shard.table_name };
}

async function newShardIds(control: pg.Client, count: number): Promise<string[]> {
  const result = await control.query(`SELECT nextval('dpg_catalog.shard_id_seq')::text AS id FROM generate_series(1, $1)`, [count]);
  return result.rows.map((r) => r.id as string);
}

/** Records a split of the shard group holding `shardId` at `points` (default: its middle); returns its id. */
export async function createSplit(control: pg.Client, shardId: string, points?: number[]): Promise<number> {
  return claimShards(control, async () => {
    const group = await shardGroupOf(control, shardId);
    const { min, max } = await hashRange(control, shardId);
    if (min === max) throw new ClientError('22023', `shard ${shardId} owns one hash value (${min}); it cannot be split`);
    const splitPoints = points ?? equalSplitPoints(min, max, 2);
    if (splitPoints.length === 0) throw new ClientError('22023', `a split of shard ${shardId} needs at least one split point`);
    splitPoints.forEach((point, i) => {
      if (!Number.isInteger(point) || point < min || point >= max || (i > 0 && point <= splitPoints[i - 1]!)) {
        throw new ClientError('22023', `split point ${point} is not valid for shard ${shardId}: split points are increasing integers from ${min} to ${max - 1} (its hash range is [${min}, ${max}])`);
      }
    });
    await requirePrimaryKeys(control, group.colocationId, 'split');
    const ids = await newShardIds(control, group.shardIds.length * (splitPoints.length + 1));
    const inserted = await control.query(
      `INSERT INTO dpg_catalog.shard_moves (kind, colocation_id, shard_index, shard_ids, source_group, target_group, new_shard_ids, split_points)
       VALUES ('split', $1, $2, $3::bigint[], $4, $4, $5::bigint[], $6::int[]) RETURNING move_id`,
      [group.colocationId, group.shardIndex, group.shardIds, group.groupId, ids, splitPoints],
    );
    return { id: Number(inserted.rows[0].move_id), shardIds: group.shardIds };
  });
}

/**
 * Records a merge of the shard groups holding `shardIds` (of one co-location group, with
 * adjacent hash ranges, on one worker group) into one shard group; returns its id.
 */
export async function createMerge(control: pg.Client, shardIds: string[]): Promise<number> {
  return claimShards(control, async () => {
    if (shardIds.length < 2) throw new ClientError('22023', `a merge needs at least two shards, got ${shardIds.length}`);
    const groups: ShardGroup[] = [];
    for (const id of shardIds) groups.push(await shardGroupOf(control, id));
    await hashRange(control, shardIds[0]!);
    groups.sort((a, b) => a.shardIndex - b.shardIndex);
    const first = groups[0]!;
    for (const [i, group] of groups.entries()) {
      if (group.colocationId !== first.colocationId) throw new ClientError('22023', `shards ${shardIds.join(', ')} are not co-located: only shards of one co-location group merge`);
      if (i > 0 && group.shardIndex === groups[i - 1]!.shardIndex) throw new ClientError('22023', `shards ${shardIds.join(', ')} name shard index ${group.shardIndex} twice (co-located shards merge together)`);
      if (i > 0 && group.shardIndex !== groups[i - 1]!.shardIndex + 1) {
        throw new ClientError('22023', `shards ${shardIds.join(', ')} do not have adjacent hash ranges (shard indexes ${groups.map((g) => g.shardIndex).join(', ')}); a merged shard owns one contiguous range`);
      }
      if (group.groupId !== first.groupId) {
        throw new ClientError('22023', `shards ${shardIds.join(', ')} are on different worker groups (${groups.map((g) => g.groupId).join(', ')}); move them to one group first (npx dpg move-shard)`);
      }
    }
    await requirePrimaryKeys(control, first.colocationId, 'merge');
    // Per table (shardGroupOf orders a group's shards by table name), its shards in hash order.
    const members = first.shardIds.flatMap((_, t) => groups.map((g) => g.shardIds[t]!));
    const ids = await newShardIds(control, first.shardIds.length);
    const inserted = await control.query(
      `INSERT INTO dpg_catalog.shard_moves (kind, colocation_id, shard_index, shard_ids, source_group, target_group, new_shard_ids, split_points)
       VALUES ('merge', $1, $2, $3::bigint[], $4, $4, $5::bigint[], '{}') RETURNING move_id`,
      [first.colocationId, first.shardIndex, members, first.groupId, ids],
    );
    return { id: Number(inserted.rows[0].move_id), shardIds: members };
  });
}
