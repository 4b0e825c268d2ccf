/**
 * The rebalancer's plan, a pure function of the shard groups' loads. As in Citus'
 * rebalancer, a worker group is out of balance when its load differs from the mean by
 * more than the threshold; the plan moves, one at a time, the shard group of the most
 * loaded group that best closes the gap to the least loaded one (the one whose cost is
 * nearest half the gap), until every group is within the threshold or no move helps.
 * A group being drained gives all its shard groups away, each to the least loaded group.
 */
export type RebalanceStrategy = 'by_disk_size' | 'by_rows' | 'by_shard_count';

export interface ShardGroupLoad {
  colocationId: number;
  shardIndex: number;
  /** A shard of the group (the one `dpg move-shard` and citus_move_shard_placement name), and its table. */
  shardId: string;
  table: string;
  groupId: number;
  bytes: number;
  rows: number;
}

export interface PlannedMove {
  shardId: string;
  table: string;
  /** Bytes on disk of the shard group's tables. */
  bytes: number;
  colocationId: number;
  shardIndex: number;
  sourceGroup: number;
  targetGroup: number;
  cost: number;
}

export interface RebalancePlan {
  strategy: RebalanceStrategy;
  threshold: number;
  /** Load per worker group before and after the planned moves. */
  before: Map<number, number>;
  after: Map<number, number>;
  moves: PlannedMove[];
}

export function costOf(load: ShardGroupLoad, strategy: RebalanceStrategy): number {
  if (strategy === 'by_shard_count') return 1;
  // An empty shard still costs something, so that empty shard groups spread out too.
  return strategy === 'by_rows' ? Math.max(load.rows, 1) : Math.max(load.bytes, 1);
}

export function planRebalance(
  loads: ShardGroupLoad[],
  groups: number[],
  options: { strategy: RebalanceStrategy; threshold: number; maxMoves: number; drain?: number[] },
): RebalancePlan {
  const drain = new Set(options.drain ?? []);
  const receivers = groups.filter((g) => !drain.has(g));
  if (receivers.length === 0) throw new Error('no worker group is left to hold the shards');
  const placement = new Map(loads.map((l) => [`${l.colocationId}/${l.shardIndex}`, l.groupId]));
  const total = (): Map<number, number> => {
    const sums = new Map(groups.map((g) => [g, 0]));
    for (const load of loads) {
      const group = placement.get(`${load.colocationId}/${load.shardIndex}`)!;
      sums.set(group, (sums.get(group) ?? 0) + costOf(load, options.strategy));
    }
    return sums;
  };
  const before = total();
  const moves: PlannedMove[] = [];
  const move = (load: ShardGroupLoad, targetGroup: number) => {
    const key = `${load.colocationId}/${load.shardIndex}`;
    moves.push({ shardId: load.shardId, table: load.table, bytes: load.bytes, colocationId: load.colocationId, shardIndex: load.shardIndex, sourceGroup: placement.get(key)!, targetGroup, cost: costOf(load, options.strategy) });
    placement.set(key, targetGroup);
  };
  const leastLoaded = () => {
    const sums = total();
    return receivers.reduce((best, g) => (sums.get(g)! < sums.get(best)! ? g : best));
  };

  // Draining first: largest shard groups first, each to the least loaded receiver.
  const draining = loads.filter((l) => drain.has(l.groupId)).sort((a, b) => costOf(b, options.strategy) - costOf(a, options.strategy));
  for (const load of draining) move(load, leastLoaded());

  while (moves.length < options.maxMoves) {
    const sums = total();
    const mean = [...receivers].reduce((sum, g) => sum + sums.get(g)!, 0) / receivers.length;
    if (mean <= 0) break;
    const over = receivers.reduce((best, g) => (sums.get(g)! > sums.get(best)! ? g : best));
    const under = receivers.reduce((best, g) => (sums.get(g)! < sums.get(best)! ? g : best));
    const overBy = (sums.get(over)! - mean) / mean;
    const underBy = (mean - sums.get(under)!) / mean;
    if (overBy <= options.threshold && underBy <= options.threshold) break;
    const gap = sums.get(over)! - sums.get(under)!;
    // A move of cost c leaves max(over - c, under + c), an improvement only while c < gap.
    const candidates = loads.filter((l) => placement.get(`${l.colocationId}/${l.shardIndex}`) === over && costOf(l, options.strategy) < gap);
    if (candidates.length === 0) break;
    const best = candidates.reduce((a, b) => (Math.abs(costOf(a, options.strategy) - gap / 2) <= Math.abs(costOf(b, options.strategy) - gap / 2) ? a : b));
    move(best, under);
  }
  return { strategy: options.strategy, threshold: options.threshold, before, after: total(), moves };
}

/** How far the most distant group is from the mean, as a fraction of the mean. */
export function imbalance(sums: Map<number, number>, groups: number[]): number {
  const values = groups.map((g) => sums.get(g) ?? 0);
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
  if (mean <= 0) return 0;
  return Math.max(...values.map((v) => Math.abs(v - mean) / mean));
}
