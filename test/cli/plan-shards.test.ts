import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateShardCount, planShards } from '../../src/cli/plan-shards.ts';
import { validateConfig } from '../../src/config/config.ts';
import { runDpg } from '../support/dpg-cli.ts';

test("the seed's calculate_shard_count: 34 shards for 100M vectors, 334 for 1B, never fewer than 4", () => {
  assert.equal(calculateShardCount(100_000_000), 34);
  assert.equal(calculateShardCount(1_000_000_000), 334);
  assert.equal(calculateShardCount(1), 4);
  assert.equal(calculateShardCount(12_000_000), 5);
  assert.equal(calculateShardCount(12_000_000, 1_000_000), 13);
});

test('a plan names the profile of the resulting shard size and the shards per worker group', () => {
  const plan = planShards(validateConfig({ cluster: { worker_groups: { count: 4 } } }), 100_000_000);
  assert.equal(plan.shards, 34);
  assert.equal(plan.vectorsPerShard, 2_941_177);
  assert.deepEqual([plan.profile.m, plan.profile.ef_construction, plan.profile.ef_search], [24, 150, 75]);
  assert.deepEqual(plan.shardsPerGroup, [8, 9]);
  assert.equal(plan.configuredShards, 12);
});

test('dpg plan-shards prints the plan; bad or missing --vectors is a usage error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dpg-plan-'));
  try {
    const ok = await runDpg(['plan-shards', '--vectors', '1_000_000_000'], { cwd: dir });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /shards: 334 /);
    assert.match(ok.stdout, /alter_distributed_table\('memory_entries', shard_count := 334\)/);
    const json = await runDpg(['plan-shards', '--vectors', '5000000', '--per-shard', '1000000', '--json'], { cwd: dir });
    assert.equal(JSON.parse(json.stdout).shards, 6);
    for (const args of [['plan-shards'], ['plan-shards', '--vectors', '-5'], ['plan-shards', '--vectors', '1e9'], ['status', '--vectors', '5']]) {
      const bad = await runDpg(args, { cwd: dir });
      assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
      assert.match(bad.stderr, /--vectors/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
