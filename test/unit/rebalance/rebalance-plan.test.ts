import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRebalance, imbalance, type ShardGroupLoad } from '../../../src/rebalance/rebalance-plan.ts';

const load = (shardIndex: number, groupId: number, bytes: number, rows = bytes): ShardGroupLoad => ({
  colocationId: 1,
  shardIndex,
  shardId: String(102008 + shardIndex),
  table: 'memory_entries',
  groupId,
  bytes,
  rows,
});

test('a new empty group gets half of the shard groups by count', () => {
  const loads = [0, 1, 2, 3, 4, 5].map((i) => load(i, 1, 100));
  const plan = planRebalance(loads, [1, 2], { strategy: 'by_shard_count', threshold: 0.2, maxMoves: 100 });
  assert.equal(plan.moves.length, 3);
  assert.ok(plan.moves.every((m) => m.sourceGroup === 1 && m.targetGroup === 2));
  assert.deepEqual([...plan.after], [[1, 3], [2, 3]]);
});

test('by disk size, the move closes the gap best; within the threshold nothing moves', () => {
  // group 1: 900 (300 + 450 + 150), group 2: 100: 450 is nearest half the gap (400).
  const loads = [load(0, 1, 300), load(1, 1, 450), load(2, 1, 150), load(3, 2, 100)];
  const plan = planRebalance(loads, [1, 2], { strategy: 'by_disk_size', threshold: 0.2, maxMoves: 100 });
  assert.equal(plan.moves[0]!.shardId, '102009');
  assert.ok(imbalance(plan.after, [1, 2]) < imbalance(plan.before, [1, 2]));
  const balanced = [load(0, 1, 100), load(1, 2, 110)];
  assert.equal(planRebalance(balanced, [1, 2], { strategy: 'by_disk_size', threshold: 0.2, maxMoves: 100 }).moves.length, 0);
});

test('by rows can disagree with by disk size', () => {
  // Group 1 holds a big shard group with few rows and two small ones with many; group 2 one big with few.
  const loads = [load(0, 1, 1000, 10), load(1, 1, 10, 1000), load(2, 1, 10, 1000), load(3, 2, 1000, 10)];
  const bySize = planRebalance(loads, [1, 2], { strategy: 'by_disk_size', threshold: 0.2, maxMoves: 100 });
  const byRows = planRebalance(loads, [1, 2], { strategy: 'by_rows', threshold: 0.2, maxMoves: 100 });
  assert.equal(bySize.moves.length, 0, 'by size the groups are even (1020 and 1000 bytes)');
  assert.equal(byRows.moves.length, 1);
  assert.equal(byRows.moves[0]!.shardIndex, 1, 'by rows a shard group with many rows moves');
});

test('a single shard group too big to move without making things worse stays', () => {
  const loads = [load(0, 1, 1000), load(1, 2, 10)];
  assert.equal(planRebalance(loads, [1, 2], { strategy: 'by_disk_size', threshold: 0.2, maxMoves: 100 }).moves.length, 0);
});

test('a drained group gives away every shard group, spread over the others; max moves bounds the plan', () => {
  const loads = [0, 1, 2, 3, 4, 5].map((i) => load(i, i % 3 === 0 ? 3 : i % 3, 100));
  const plan = planRebalance(loads, [1, 2, 3], { strategy: 'by_shard_count', threshold: 0.2, maxMoves: 100, drain: [3] });
  assert.deepEqual(plan.moves.map((m) => m.sourceGroup), [3, 3]);
  assert.equal(plan.after.get(3), 0);
  assert.deepEqual([plan.after.get(1), plan.after.get(2)], [3, 3]);
  const bounded = planRebalance([0, 1, 2, 3].map((i) => load(i, 1, 100)), [1, 2], { strategy: 'by_shard_count', threshold: 0.2, maxMoves: 1 });
  assert.equal(bounded.moves.length, 1);
  assert.throws(() => planRebalance(loads, [3], { strategy: 'by_shard_count', threshold: 0.2, maxMoves: 1, drain: [3] }), /no worker group is left/);
});
