import type pg from 'pg';
import { shardRanges, MAX_SHARD_COUNT } from '../topology/shard-ranges.ts';
import { ClientError } from '../shared/errors.ts';
import { onPrimary, type AdminContext } from './admin.ts';
import { createMove } from './move-catalog.ts';
import { measureLoads } from './rebalancer.ts';
import { createMerge, createSplit } from './shard-split.ts';

/**
 * alter_distributed_table(shard_count := N): the co-location group of the table gets the
 * N equal hash ranges a table created with N shards has, from whatever ranges it has now
 * (equal ones of another count, or unequal after splits), in steps that each keep every
 * row readable and writable:
 *
 *   1. splits: every shard group whose range holds one of the new boundaries splits there
 *      (in place); afterwards every shard group lies inside one new range;
 *   2. merges: the shard groups inside one new range gather on one worker group (the one
 *      holding most of their bytes; the others move there) and merge into one.
 *
 * Each step is a record of dpg_catalog.shard_moves run to its end before the next is
 * planned from the catalog, so a change that was interrupted continues where it stopped
 * when run again (after the unfinished step is resumed or rolled back). The shard groups
 * stay where the steps leave them: npx dpg rebalance spreads them.
 */
export interface ShardCountChange {
  splits: number;
  moves: number;
  merges: number;
}

interface CurrentShard {
  id: string;
  index: number;
  min: number;
  max: number;
  groupId: number;
}

async function currentShards(control: pg.Client, table: string): Promise<CurrentShard[]> {
  const result = await control.query(
    `SELECT s.shardid::text AS id, s.shard_index, s.hash_min, s.hash_max, p.group_id FROM dpg_catalog.shards s JOIN dpg_catalog.placements p USING (shardid)
     WHERE s.table_name = $1 ORDER BY s.shard_index`,
    [table],
  );
  return result.rows.map((r) => ({ id: r.id, index: r.shard_index, min: Number(r.hash_min), max: Number(r.hash_max), groupId: r.group_id }));
}

export async function changeShardCount(admin: AdminContext, table: string, shardCount: number, run: (id: number) => Promise<unknown>): Promise<ShardCountChange> {
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > MAX_SHARD_COUNT) {
    throw new ClientError('22023', `shard_count ${shardCount} is not valid: an integer from 1 to ${MAX_SHARD_COUNT}`);
  }
  const colocationId = await onPrimary(admin, 0, async (control) => {
    const info = (await control.query(`SELECT kind, distribution_method, colocation_id FROM dpg_catalog.tables WHERE table_name = $1`, [table])).rows[0];
    if (!info || info.kind !== 'distributed') throw new ClientError('22023', `table "${table}" is not a distributed table`);
    if (info.distribution_method !== 'hash') throw new ClientError('0A000', `${table} is distributed by radius (hyperbolic); its shard count is its number of levels and cannot change`);
    return info.colocation_id as number;
  });
  const target = shardRanges(shardCount);
  const boundaries = target.slice(0, -1).map((r) => r.max);
  const change: ShardCountChange = { splits: 0, moves: 0, merges: 0 };
  // 1. Splits, one shard group at a time (each changes the shard ids after it).
  for (;;) {
    const next = await onPrimary(admin, 0, async (control) => {
      for (const shard of await currentShards(control, table)) {
        const points = boundaries.filter((b) => b >= shard.min && b < shard.max);
        if (points.length > 0) return createSplit(control, shard.id, points);
      }
      return null;
    });
    if (next === null) break;
    await run(next);
    change.splits++;
  }
  // 2. Merges: the shard groups inside each new range that has more than one.
  for (const range of target) {
    const inside = (await onPrimary(admin, 0, (control) => currentShards(control, table))).filter((s) => s.min >= range.min && s.max <= range.max);
    if (inside.length < 2) continue;
    const groups = new Set(inside.map((s) => s.groupId));
    if (groups.size > 1) {
      const loads = (await measureLoads(admin)).loads;
      const bytesOn = (group: number) =>
        inside.filter((s) => s.groupId === group).reduce((sum, s) => sum + (loads.find((l) => l.colocationId === colocationId && l.shardIndex === s.index)?.bytes ?? 0), 0);
      const home = [...groups].sort((a, b) => bytesOn(b) - bytesOn(a) || a - b)[0]!;
      for (const shard of inside.filter((s) => s.groupId !== home)) {
        await run(await onPrimary(admin, 0, (control) => createMove(control, shard.id, home, shard.groupId)));
        change.moves++;
      }
    }
    await run(await onPrimary(admin, 0, (control) => createMerge(control, inside.map((s) => s.id))));
    change.merges++;
  }
  return change;
}
