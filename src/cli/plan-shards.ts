import { hnswProfileFor, type DpgConfig, type HnswProfile } from '../config/config.ts';

/** The seed's target of vectors per shard (calculate_shard_count's default). */
export const SEED_VECTORS_PER_SHARD = 3_000_000;

/** The seed's calculate_shard_count: max(4, total // target + 1). */
export function calculateShardCount(totalVectors: number, targetPerShard = SEED_VECTORS_PER_SHARD): number {
  return Math.max(4, Math.floor(totalVectors / targetPerShard) + 1);
}

export interface ShardPlan {
  vectors: number;
  targetPerShard: number;
  shards: number;
  vectorsPerShard: number;
  /** The HNSW profile (config hnsw.profiles) of a shard of that size. */
  profile: HnswProfile;
  workerGroups: number;
  /** Shards per worker group: the fewest and the most. */
  shardsPerGroup: [number, number];
  /** This config's shard count for new distributed tables. */
  configuredShards: number;
}

/** dpg plan-shards: how many shards N vectors want, by the seed's rule, and what each shard then holds. */
export function planShards(config: DpgConfig, vectors: number, targetPerShard = SEED_VECTORS_PER_SHARD): ShardPlan {
  const shards = calculateShardCount(vectors, targetPerShard);
  const vectorsPerShard = Math.ceil(vectors / shards);
  const groups = config.cluster.worker_groups.count;
  return {
    vectors,
    targetPerShard,
    shards,
    vectorsPerShard,
    profile: hnswProfileFor(config, vectorsPerShard),
    workerGroups: groups,
    shardsPerGroup: [Math.floor(shards / groups), Math.ceil(shards / groups)],
    configuredShards: config.distribution.shard_count,
  };
}

export function formatShardPlan(plan: ShardPlan): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const [few, many] = plan.shardsPerGroup;
  return [
    `vectors: ${n(plan.vectors)}, target per shard: ${n(plan.targetPerShard)}`,
    `shards: ${plan.shards} (the seed's calculate_shard_count: max(4, vectors / target + 1))`,
    `per shard: about ${n(plan.vectorsPerShard)} vectors; HNSW profile m ${plan.profile.m}, ef_construction ${plan.profile.ef_construction}, ef_search ${plan.profile.ef_search}`,
    `over ${plan.workerGroups} worker group${plan.workerGroups === 1 ? '' : 's'}: ${few === many ? few : `${few}-${many}`} shards each`,
    plan.configuredShards === plan.shards
      ? `this config already makes ${plan.configuredShards} shards per distributed table (distribution.shard_count)`
      : `this config makes ${plan.configuredShards} shards per distributed table (distribution.shard_count); for ${n(plan.vectors)} vectors set it to ${plan.shards}, or for a table that exists: SELECT alter_distributed_table('memory_entries', shard_count := ${plan.shards})`,
  ].join('\n');
}
