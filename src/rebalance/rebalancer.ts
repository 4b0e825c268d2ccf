import { onPrimary, type AdminContext } from './admin.ts';
import { createMove, unfinishedMoves } from './move-catalog.ts';
import { imbalance, planRebalance, type RebalancePlan, type RebalanceStrategy, type ShardGroupLoad } from './rebalance-plan.ts';
import { runMove, type MoveOptions, type MoveResult } from './shard-move.ts';
import { ClientError } from '../shared/errors.ts';

export interface RebalanceOptions {
  strategy: RebalanceStrategy;
  threshold: number;
  maxMoves: number;
  /** Worker groups to empty (dpg remove-group). */
  drain?: number[];
  /** Only the shard groups of this co-location group (rebalance_table_shards('table')). */
  colocationId?: number;
  dryRun?: boolean;
  /** Called before each move, with its position in the plan. */
  onMove?: (index: number, plan: RebalancePlan) => void;
  moveOptions?: (index: number) => MoveOptions;
}

export interface RebalanceResult {
  plan: RebalancePlan;
  results: MoveResult[];
}

/** Every distributed shard group with its worker group, size on disk and live rows, measured on the workers now. */
export async function measureLoads(admin: AdminContext): Promise<{ loads: ShardGroupLoad[]; groups: number[] }> {
  const { shards, groups } = await onPrimary(admin, 0, async (control) => {
    const shards = await control.query(
      `SELECT t.colocation_id, s.shard_index, s.shardid::text AS shardid, s.table_name, s.table_name || '_' || s.shardid AS shard_table, p.group_id
       FROM dpg_catalog.shards s JOIN dpg_catalog.tables t USING (table_name) JOIN dpg_catalog.placements p USING (shardid)
       WHERE t.kind = 'distributed' ORDER BY t.colocation_id, s.shard_index, s.table_name`,
    );
    const groups = await control.query(`SELECT group_id FROM dpg_catalog.groups WHERE kind = 'worker' ORDER BY group_id`);
    return { shards: shards.rows, groups: groups.rows.map((r) => r.group_id as number) };
  });
  const sizes = new Map<string, { bytes: number; rows: number }>();
  for (const group of groups) {
    const names = shards.filter((s) => s.group_id === group).map((s) => s.shard_table as string);
    if (names.length === 0) continue;
    await onPrimary(admin, group, async (worker) => {
      const result = await worker.query(
        `SELECT c.relname, pg_total_relation_size(c.oid)::float8 AS bytes, coalesce(st.n_live_tup, 0)::float8 AS rows
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid
         WHERE n.nspname = 'public' AND c.relname = ANY ($1)`,
        [names],
      );
      for (const row of result.rows) sizes.set(row.relname, { bytes: row.bytes, rows: row.rows });
    });
  }
  const byGroup = new Map<string, ShardGroupLoad>();
  for (const shard of shards) {
    const key = `${shard.colocation_id}/${shard.shard_index}`;
    const load = byGroup.get(key) ?? { colocationId: shard.colocation_id, shardIndex: shard.shard_index, shardId: shard.shardid, table: shard.table_name, groupId: shard.group_id, bytes: 0, rows: 0 };
    const size = sizes.get(shard.shard_table) ?? { bytes: 0, rows: 0 };
    load.bytes += size.bytes;
    load.rows += size.rows;
    byGroup.set(key, load);
  }
  return { loads: [...byGroup.values()], groups };
}

/** Plans the moves that bring the worker groups within the threshold and, unless a dry run, makes them one by one. */
export async function rebalance(admin: AdminContext, options: RebalanceOptions): Promise<RebalanceResult> {
  const pending = await onPrimary(admin, 0, (control) => unfinishedMoves(control));
  if (pending.length > 0 && !options.dryRun) {
    throw new ClientError('55006', `shard moves ${pending.join(', ')} have not finished; resume them (npx dpg move-shard --resume) or roll them back before rebalancing`);
  }
  const measured = await measureLoads(admin);
  const groups = measured.groups;
  const loads = options.colocationId === undefined ? measured.loads : measured.loads.filter((l) => l.colocationId === options.colocationId);
  for (const group of options.drain ?? []) {
    if (!groups.includes(group)) throw new ClientError('22023', `group ${group} is not a worker group of this cluster (worker groups: ${groups.join(', ')})`);
  }
  const plan = planRebalance(loads, groups, { strategy: options.strategy, threshold: options.threshold, maxMoves: options.maxMoves, drain: options.drain });
  const results: MoveResult[] = [];
  if (options.dryRun) return { plan, results };
  for (const [index, planned] of plan.moves.entries()) {
    options.onMove?.(index, plan);
    const id = await onPrimary(admin, 0, (control) => createMove(control, planned.shardId, planned.targetGroup, planned.sourceGroup));
    results.push(await runMove(admin, id, options.moveOptions?.(index)));
  }
  return { plan, results };
}

/** The scheduled rebalance (maintenance.rebalance_schedule): runs it and says what it did, for dpg_maintenance. */
export async function scheduledRebalance(admin: AdminContext, options: { strategy: RebalanceStrategy; maxMoves: number }): Promise<string> {
  const { plan, results } = await rebalance(admin, { strategy: options.strategy, threshold: admin.threshold, maxMoves: options.maxMoves });
  const groups = [...plan.before.keys()];
  const before = imbalance(plan.before, groups).toFixed(2);
  if (results.length === 0) return `balanced (${options.strategy}: imbalance ${before}, threshold ${admin.threshold})`;
  const moves = results.map((r) => `shard ${r.move.shardIds[0]} ${r.move.sourceGroup}->${r.move.targetGroup}`).join(', ');
  return `${results.length} move(s) (${moves}); ${options.strategy} imbalance ${before} -> ${imbalance(plan.after, groups).toFixed(2)}`;
}
