import type { DistributionFunctionPlan } from '../planner/plan.ts';
import { ClientError, SqlState } from '../shared/errors.ts';
import { onPrimary, type AdminContext } from '../rebalance/admin.ts';
import { createMove } from '../rebalance/move-catalog.ts';
import { createSplit } from '../rebalance/shard-split.ts';
import { runMove } from '../rebalance/shard-move.ts';
import { rebalance, type RebalanceResult } from '../rebalance/rebalancer.ts';
import type { RebalanceStrategy } from '../rebalance/rebalance-plan.ts';
import type { ResultStream } from './result-stream.ts';
import type { ExecutionContext } from './run-plan.ts';
import { functionResult, voidResult } from './function-results.ts';

/**
 * Citus' shard-move and rebalancer functions, run by the coordinator with the mover of
 * src/rebalance (a superuser's connections to the groups):
 *
 *   citus_move_shard_placement(shard_id, source_node_name, source_node_port, target_node_name, target_node_port)
 *   citus_move_shard_placement(shard_id, source_node_id, target_node_id)
 *   rebalance_table_shards([rebalance_strategy := ..., threshold := ..., max_shard_moves := ..., drain_only := ...])
 *   get_rebalance_table_shards_plan([...the same])   the moves, not made
 *   citus_rebalance_start([...the same])             in the background; returns a job id
 *   citus_rebalance_wait()                           until that job ends
 *   citus_split_shard_by_split_points(shard_id, split_points text[], node_ids_for_placement int[] [, shard_transfer_mode])
 *                                                    the split in place, then each piece moved to its node's group
 *
 * Moves and rebalances block the calling session until done, as Citus' do.
 */

/** Moves and the rebalancer do a superuser's work on every group: only a user the config makes admin may start them (42501). */
export function requireAdminUser(ctx: ExecutionContext, name: string): void {
  const role = ctx.transaction.role;
  if (role !== undefined && !ctx.coordinator.isAdmin(role)) {
    throw new ClientError(SqlState.insufficientPrivilege, `permission denied for function ${name}: user "${role}" is not an admin of this cluster (config users[].admin)`);
  }
}

function adminOf(ctx: ExecutionContext, name: string): AdminContext {
  requireAdminUser(ctx, name);
  const admin = ctx.coordinator.admin;
  if (!admin) throw new ClientError(SqlState.featureNotSupported, `${name} needs the coordinator to run with the cluster's admin credentials (as dpg up starts it)`);
  if (ctx.transaction.inBlock) throw new ClientError('25001', `${name} cannot run inside a transaction block`);
  return admin;
}

const argument = (plan: DistributionFunctionPlan, name: string, position: number): string | null => plan.named[name] ?? plan.args[position] ?? null;

function integerArg(plan: DistributionFunctionPlan, name: string, position: number): number | null {
  const value = argument(plan, name, position);
  if (value === null) return null;
  if (!/^-?\d+$/.test(value)) throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: ${name} must be an integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** A one-dimensional array argument ('{1,2}' or ARRAY['1', '2']) as its elements' text. */
function arrayArg(plan: DistributionFunctionPlan, name: string, position: number): string[] | null {
  const value = argument(plan, name, position);
  if (value === null) return null;
  const body = /^\s*\{(.*)\}\s*$/s.exec(value)?.[1];
  if (body === undefined) throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: ${name} must be an array, got ${JSON.stringify(value)}`);
  const elements: string[] = [];
  let current = '';
  let quoted = false;
  let inQuotes = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (inQuotes) {
      if (c === '\\') current += body[++i] ?? '';
      else if (c === '"') inQuotes = false;
      else current += c;
    } else if (c === '"') {
      inQuotes = quoted = true;
    } else if (c === ',') {
      elements.push(quoted ? current : current.trim());
      current = '';
      quoted = false;
    } else current += c;
  }
  if (body.trim() !== '') elements.push(quoted ? current : current.trim());
  return elements;
}

function integersOf(plan: DistributionFunctionPlan, name: string, elements: string[]): number[] {
  return elements.map((e) => {
    if (!/^-?\d+$/.test(e.trim())) throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: ${name} must hold integers, got ${JSON.stringify(e)}`);
    return Number(e);
  });
}

/** The worker group of a node, named as pg_dist_node shows it (name and port, or node id). */
async function groupOfNode(admin: AdminContext, plan: DistributionFunctionPlan, which: 'source' | 'target'): Promise<number> {
  const threeArgs = plan.args.length === 3 || plan.named[`${which}_node_id`] !== undefined;
  return onPrimary(admin, 0, async (control) => {
    if (threeArgs) {
      const id = integerArg(plan, `${which}_node_id`, which === 'source' ? 1 : 2);
      const row = (await control.query('SELECT group_id FROM dpg_catalog.nodes WHERE node_id = $1', [id])).rows[0];
      if (!row) throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: there is no node ${id}; see SELECT * FROM pg_dist_node`);
      return row.group_id;
    }
    const name = argument(plan, `${which}_node_name`, which === 'source' ? 1 : 3);
    const port = integerArg(plan, `${which}_node_port`, which === 'source' ? 2 : 4);
    if (name === null || port === null) throw new ClientError(SqlState.invalidParameterValue, `${plan.name} needs ${which}_node_name and ${which}_node_port`);
    const row = (await control.query('SELECT group_id FROM dpg_catalog.nodes WHERE host = $1 AND port = $2', [name, port])).rows[0];
    if (!row) throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: there is no node ${name}:${port}; see SELECT * FROM pg_dist_node`);
    return row.group_id;
  });
}

function rebalanceArgs(ctx: ExecutionContext, plan: DistributionFunctionPlan): { strategy: RebalanceStrategy; threshold: number; maxMoves: number; colocationId?: number } {
  const defaults = ctx.coordinator.rebalanceDefaults;
  const strategy = (plan.named.rebalance_strategy ?? defaults.strategy) as RebalanceStrategy;
  if (!['by_disk_size', 'by_rows', 'by_shard_count'].includes(strategy)) {
    throw new ClientError(SqlState.invalidParameterValue, `rebalance_strategy ${JSON.stringify(strategy)} is not known: by_disk_size, by_rows or by_shard_count`);
  }
  const thresholdText = argument(plan, 'threshold', 1);
  const threshold = thresholdText === null ? ctx.coordinator.admin!.threshold : Number(thresholdText);
  if (!(threshold >= 0 && threshold <= 10)) throw new ClientError(SqlState.invalidParameterValue, `threshold ${thresholdText} is not valid: a fraction from 0 to 10`);
  const maxMoves = integerArg(plan, 'max_shard_moves', 2) ?? defaults.maxMoves;
  if (maxMoves < 0) throw new ClientError(SqlState.invalidParameterValue, `max_shard_moves ${maxMoves} must not be negative`);
  // Co-located tables move together: a rebalance of one table is a rebalance of its co-location group.
  const relation = argument(plan, 'relation', 0);
  let colocationId: number | undefined;
  if (relation !== null) {
    const table = ctx.coordinator.snapshot.table(relation.replace(/^public\./, ''));
    if (!table || table.kind !== 'distributed') throw new ClientError(SqlState.invalidParameterValue, `relation ${relation} is not a distributed table`);
    colocationId = table.colocationId!;
  }
  if (plan.named.drain_only === 'true') {
    throw new ClientError(SqlState.featureNotSupported, 'drain_only: drain a worker group with npx dpg remove-group, which moves its shards away before it stops');
  }
  return { strategy, threshold, maxMoves, colocationId };
}

/** get_rebalance_table_shards_plan's rows: one per move, with the groups' primaries as Citus names nodes. */
function planRows(plan: DistributionFunctionPlan, result: RebalanceResult, leaders: Map<number, { host: string; port: number }>): ResultStream {
  return functionResult(
    plan.name,
    result.plan.moves.map((move) => {
      const source = leaders.get(move.sourceGroup);
      const target = leaders.get(move.targetGroup);
      return [move.table, move.shardId, String(Math.round(move.bytes)), source?.host ?? null, source ? String(source.port) : null, target?.host ?? null, target ? String(target.port) : null];
    }),
  );
}

export async function runRebalanceFunction(ctx: ExecutionContext, plan: DistributionFunctionPlan): Promise<ResultStream> {
  const admin = adminOf(ctx, plan.name);
  switch (plan.name) {
    case 'citus_move_shard_placement':
    case 'master_move_shard_placement': {
      const shardId = argument(plan, 'shard_id', 0);
      if (shardId === null) throw new ClientError(SqlState.invalidParameterValue, `${plan.name} needs a shard id`);
      const source = await groupOfNode(admin, plan, 'source');
      const target = await groupOfNode(admin, plan, 'target');
      const id = await onPrimary(admin, 0, (control) => createMove(control, shardId, target, source));
      await runMove(admin, id);
      await ctx.coordinator.reloadCatalog();
      return voidResult(plan.name);
    }
    case 'rebalance_table_shards':
    case 'get_rebalance_table_shards_plan': {
      const dryRun = plan.name === 'get_rebalance_table_shards_plan';
      const result = await rebalance(admin, { ...rebalanceArgs(ctx, plan), dryRun });
      await ctx.coordinator.reloadCatalog();
      if (!dryRun) return voidResult(plan.name);
      const leaders = await onPrimary(admin, 0, async (control) => new Map((await control.query('SELECT group_id, host, port FROM dpg_catalog.group_leaders')).rows.map((r) => [r.group_id as number, { host: r.host as string, port: r.port as number }])));
      return planRows(plan, result, leaders);
    }
    case 'citus_rebalance_start': {
      const id = ctx.coordinator.startRebalanceJob(() => rebalance(admin, rebalanceArgs(ctx, plan)));
      return functionResult(plan.name, [[String(id)]]);
    }
    case 'citus_rebalance_wait':
      await ctx.coordinator.waitRebalanceJob();
      return voidResult(plan.name);
    case 'citus_split_shard_by_split_points':
      await splitByPoints(ctx, admin, plan);
      return voidResult(plan.name);
    default:
      throw new ClientError(SqlState.featureNotSupported, `${plan.name} is not supported yet`);
  }
}

/**
 * citus_split_shard_by_split_points: the shard group splits in place at the points (one
 * record, src/rebalance/reshard.ts), then every piece whose node (node_ids_for_placement,
 * one per piece) is on another worker group moves there. shard_transfer_mode is accepted
 * and changes nothing: dpg's split and moves are always online (Citus' force_logical).
 */
async function splitByPoints(ctx: ExecutionContext, admin: AdminContext, plan: DistributionFunctionPlan): Promise<void> {
  const shardId = argument(plan, 'shard_id', 0);
  if (shardId === null || !/^\d+$/.test(shardId)) throw new ClientError(SqlState.invalidParameterValue, `${plan.name} needs a shard id, got ${JSON.stringify(shardId)}`);
  const points = integersOf(plan, 'split_points', arrayArg(plan, 'split_points', 1) ?? []);
  const nodes = integersOf(plan, 'node_ids_for_placement', arrayArg(plan, 'node_ids_for_placement', 2) ?? []);
  if (points.length === 0) throw new ClientError(SqlState.invalidParameterValue, `${plan.name} needs at least one split point`);
  if (nodes.length !== points.length + 1) {
    throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: node_ids_for_placement needs one node per piece (${points.length + 1} for ${points.length} split points), got ${nodes.length}`);
  }
  const mode = argument(plan, 'shard_transfer_mode', 3);
  if (mode !== null && !['auto', 'force_logical', 'block_writes'].includes(mode)) {
    throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: shard_transfer_mode ${JSON.stringify(mode)} is not known: auto, force_logical or block_writes`);
  }
  const groups = await onPrimary(admin, 0, async (control) => {
    const rows = (await control.query(`SELECT n.node_id, n.group_id, g.kind FROM dpg_catalog.nodes n JOIN dpg_catalog.groups g USING (group_id) WHERE n.node_id = ANY ($1::int[])`, [nodes])).rows;
    return nodes.map((node) => {
      const row = rows.find((r) => r.node_id === node);
      if (!row) throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: there is no node ${node}; see SELECT * FROM pg_dist_node`);
      if (row.kind !== 'worker') throw new ClientError(SqlState.invalidParameterValue, `${plan.name}: node ${node} is not in a worker group`);
      return row.group_id as number;
    });
  });
  const id = await onPrimary(admin, 0, (control) => createSplit(control, shardId, points));
  const { move } = await runMove(admin, id);
  // The pieces of the record's first table stand for their shard groups.
  for (const [p, group] of groups.entries()) {
    if (group === move.sourceGroup) continue;
    const moveId = await onPrimary(admin, 0, (control) => createMove(control, move.newShardIds[p]!, group, move.sourceGroup));
    await runMove(admin, moveId);
  }
  await ctx.coordinator.reloadCatalog();
}
