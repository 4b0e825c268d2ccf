/**
 * The baseline a user would otherwise run: one plain PostgreSQL 15 + pgvector
 * server holding every row, started for the bench in a temporary folder as the
 * `postgres` system user and removed afterwards.
 */
import pg from 'pg';
import { startStandalonePostgres, type StandalonePostgres } from '../cluster/standalone-postgres.ts';
import { SEED_TABLES, tableDDL } from '../catalog/seed-schema.ts';

export type PlainPostgres = StandalonePostgres;

export interface HnswSettings {
  m: number;
  efConstruction: number;
}

/** `settings` are postgresql.conf lines' values (the worker's, so both sides are tuned alike). */
export async function startPlainPostgres(settings: Record<string, string>): Promise<PlainPostgres> {
  return startStandalonePostgres({ fsync: 'off', max_connections: '600', ...settings }, 'dpg-bench-plain-');
}

/** memory_entries as the cluster's shards have it, with pgvector's own type and operator class. */
export async function createPlainSchema(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS vector');
    // The seed's definition, without HNSW (built after the load): the same table the shards have.
    const table = SEED_TABLES.find((t) => t.name === 'memory_entries')!;
    for (const statement of tableDDL(table, null)) await client.query(statement);
  } finally {
    await client.end();
  }
}

/** Built after the load (faster than row by row), with the cluster's HNSW parameters. */
export async function createPlainHnswIndex(url: string, hnsw: HnswSettings): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE INDEX idx_memory_embedding_hnsw ON memory_entries USING hnsw (embedding vector_cosine_ops) WITH (m = ${hnsw.m}, ef_construction = ${hnsw.efConstruction})`);
    await client.query('ANALYZE memory_entries');
  } finally {
    await client.end();
  }
}
