import type { HnswProfile } from '../config/config.ts';

/**
 * The seed design's tables, created by `dpg up` through the coordinator: the shell
 * table, then create_distributed_table, which gives every shard on the workers
 * (`memory_entries_102008`) its own copy of each index.
 *
 * Distributed tables put `namespace` in every unique constraint: a shard can only
 * enforce uniqueness among its own rows, and all rows of one namespace live on one
 * shard.
 */
export interface SeedTable {
  name: string;
  kind: 'distributed' | 'reference';
  unlogged?: boolean;
  /** Column list and table constraints (the text between the parentheses). */
  body: string;
  /** Secondary indexes of the table. */
  indexes?: (relation: string) => string[];
  /** Columns with a vector(384) embedding that get an HNSW index on every shard. */
  hnsw?: { column: string; indexName: string }[];
}

export const EMBEDDING_DIMENSIONS = 384;
const EMBEDDING = `vector(${EMBEDDING_DIMENSIONS})`;

export const SEED_TABLES: SeedTable[] = [
  {
    name: 'memory_entries',
    kind: 'distributed',
    body: `
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  namespace   text NOT NULL,
  key         text NOT NULL,
  value       text,
  embedding   ${EMBEDDING},
  metadata    jsonb NOT NULL DEFAULT '{}',
  tags        text[] NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz,
  PRIMARY KEY (namespace, id),
  UNIQUE (namespace, key)`,
    indexes: (rel) => [`CREATE INDEX idx_memory_created ON ${rel} (namespace, created_at)`],
    hnsw: [{ column: 'embedding', indexName: 'idx_memory_embedding_hnsw' }],
  },
  {
    name: 'patterns',
    kind: 'distributed',
    body: `
  id            uuid NOT NULL DEFAULT gen_random_uuid(),
  namespace     text NOT NULL,
  pattern_type  text NOT NULL,
  pattern_data  jsonb NOT NULL DEFAULT '{}',
  confidence    real NOT NULL DEFAULT 0.5 CHECK (confidence BETWEEN 0 AND 1),
  usage_count   integer NOT NULL DEFAULT 0,
  success_count integer NOT NULL DEFAULT 0,
  failure_count integer NOT NULL DEFAULT 0,
  embedding     ${EMBEDDING},
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, id)`,
    indexes: (rel) => [`CREATE INDEX idx_patterns_type ON ${rel} (namespace, pattern_type)`],
    hnsw: [{ column: 'embedding', indexName: 'idx_patterns_embedding_hnsw' }],
  },
  {
    name: 'pattern_history',
    kind: 'distributed',
    body: `
  id           uuid NOT NULL DEFAULT gen_random_uuid(),
  namespace    text NOT NULL,
  pattern_id   uuid NOT NULL,
  change_type  text NOT NULL,
  previous     jsonb,
  current      jsonb,
  changed_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, id)`,
    indexes: (rel) => [`CREATE INDEX idx_pattern_history_pattern ON ${rel} (namespace, pattern_id, changed_at)`],
  },
  {
    name: 'trajectories',
    kind: 'distributed',
    body: `
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  namespace   text NOT NULL,
  pattern_id  uuid,
  steps       jsonb NOT NULL DEFAULT '[]',
  outcome     text,
  reward      real,
  embedding   ${EMBEDDING},
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, id)`,
    indexes: (rel) => [`CREATE INDEX idx_trajectories_pattern ON ${rel} (namespace, pattern_id)`],
    hnsw: [{ column: 'embedding', indexName: 'idx_trajectories_embedding_hnsw' }],
  },
  {
    name: 'graph_nodes',
    kind: 'distributed',
    body: `
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  namespace   text NOT NULL,
  node_key    text NOT NULL,
  label       text NOT NULL,
  properties  jsonb NOT NULL DEFAULT '{}',
  embedding   ${EMBEDDING},
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, id),
  UNIQUE (namespace, node_key)`,
    hnsw: [{ column: 'embedding', indexName: 'idx_graph_nodes_embedding_hnsw' }],
  },
  {
    name: 'graph_edges',
    kind: 'distributed',
    body: `
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  namespace   text NOT NULL,
  source_key  text NOT NULL,
  target_key  text NOT NULL,
  relation    text NOT NULL,
  weight      real NOT NULL DEFAULT 1,
  properties  jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, id),
  UNIQUE (namespace, source_key, relation, target_key)`,
    indexes: (rel) => [`CREATE INDEX idx_graph_edges_target ON ${rel} (namespace, target_key)`],
  },
  {
    name: 'metadata',
    kind: 'reference',
    body: `
  key         text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()`,
  },
  {
    name: 'vector_indexes',
    kind: 'reference',
    body: `
  index_name       text PRIMARY KEY,
  table_name       text NOT NULL,
  column_name      text NOT NULL,
  metric           text NOT NULL DEFAULT 'cosine',
  dimensions       integer NOT NULL DEFAULT ${EMBEDDING_DIMENSIONS},
  m                integer NOT NULL,
  ef_construction  integer NOT NULL,
  ef_search        integer NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()`,
  },
  {
    name: 'sessions',
    kind: 'reference',
    unlogged: true,
    body: `
  session_id      text PRIMARY KEY,
  namespace       text,
  agent_id        text,
  state           jsonb NOT NULL DEFAULT '{}',
  started_at      timestamptz NOT NULL DEFAULT now(),
  last_active_at  timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz`,
  },
];

/**
 * Columns added to the seed's tables after clusters were made with them (the memory
 * SDK's expiry of memories, a pattern's successes and failures): dpg up adds those a
 * cluster lacks, through the coordinator.
 */
export const SEED_COLUMNS: { table: string; column: string; definition: string }[] = [
  { table: 'memory_entries', column: 'expires_at', definition: 'timestamptz' },
  { table: 'patterns', column: 'success_count', definition: 'integer NOT NULL DEFAULT 0' },
  { table: 'patterns', column: 'failure_count', definition: 'integer NOT NULL DEFAULT 0' },
];

/** CREATE TABLE, its indexes and (unless `profile` is null) its HNSW indexes, as dpg up runs them through the coordinator. */
export function tableDDL(table: SeedTable, profile: HnswProfile | null): string[] {
  const statements = [`CREATE ${table.unlogged ? 'UNLOGGED ' : ''}TABLE ${table.name} (${table.body}\n)`];
  statements.push(...(table.indexes?.(table.name) ?? []));
  for (const index of profile ? (table.hnsw ?? []) : []) {
    // ruvector_cosine_ops is the seed's operator class, served by pgvector (extension ruvector).
    statements.push(
      `CREATE INDEX ${index.indexName} ON ${table.name} USING hnsw (${index.column} ruvector_cosine_ops) ` +
        `WITH (m = ${profile!.m}, ef_construction = ${profile!.ef_construction})`,
    );
  }
  return statements;
}
