/**
 * @dpg/memory: a typed TypeScript client for agent memory on dpg, the seed's Python API
 * (distributed_vector_search, cross_namespace_vector_search, DistributedVectorRetriever,
 * DualDatabasePools) over plain Postgres connections to a dpg coordinator.
 */
export { MemoryClient, DualDatabasePools, type MemoryClientOptions } from './client.ts';
export { Memories } from './memories.ts';
export { Patterns, type Pattern, type PatternChange, type NewPattern } from './patterns.ts';
export { Trajectories, type Trajectory, type NewTrajectory } from './trajectories.ts';
export { Graph, type GraphNode, type GraphEdge, type Neighbor } from './graph.ts';
export { Sessions, type Session } from './sessions.ts';
export {
  MemoryError,
  ValidationError,
  DimensionMismatchError,
  NamespaceNotAllowedError,
  NotFoundError,
  AlreadyExistsError,
  RetryableFailoverError,
  OutcomeUnknownError,
  QueryError,
  mapError,
} from './errors.ts';
export { poolOptions, loadPoolConfig, poolHealth, SEED_COORDINATOR_POOL, type SeedPoolConfig, type PoolHealth } from './pools.ts';
export { cosineSimilarity, type Embedding } from './vector.ts';
export type { NamespacePattern } from './validate.ts';
export type { Memory, NewMemory, MemoryPatch, SearchHit, RetrievedHit, SearchOptions, ListOptions, Page, BatchOptions } from './types.ts';
