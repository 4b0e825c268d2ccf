/**
 * The baseline a user would otherwise run: one plain PostgreSQL 15 + pgvector
 * server holding every row, started for the bench in a temporary folder as the
 * `postgres` system user and removed afterwards.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, chownSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import pg from 'pg';
import { lookupSystemUser, runAs } from '../cluster/system-user.ts';
import { postgresBinary } from '../cluster/postgres-binaries.ts';
import { EMBEDDING_DIMENSIONS } from '../catalog/seed-schema.ts';

export interface PlainPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface HnswSettings {
  m: number;
  efConstruction: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** `settings` are postgresql.conf lines' values (the worker's, so both sides are tuned alike). */
export async function startPlainPostgres(settings: Record<string, string>): Promise<PlainPostgres> {
  const user = lookupSystemUser();
  const dir = mkdtempSync(join(tmpdir(), 'dpg-bench-plain-'));
  chownSync(dir, user.uid, user.gid);
  const dataDir = join(dir, 'data');
  execFileSync(postgresBinary('initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8'], { ...runAs(user), stdio: 'ignore' });
  const conf = Object.entries({ fsync: 'off', max_connections: '600', ...settings }).map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`);
  writeFileSync(join(dataDir, 'postgresql.auto.conf'), `${conf.join('\n')}\n`);
  const port = await freePort();
  const child: ChildProcess = spawn(
    postgresBinary('postgres'),
    ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`],
    { ...runAs(user), stdio: 'ignore' },
  );
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT'); // fast shutdown
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const probe = new pg.Client({ connectionString: url });
    try {
      await probe.connect();
      await probe.end();
      break;
    } catch (error) {
      await probe.end().catch(() => {});
      if (Date.now() > deadline || child.exitCode !== null) {
        await stop().catch(() => {});
        throw new Error(`the plain PostgreSQL baseline did not start: ${String(error)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, port, stop };
}

/** memory_entries as the cluster's shards have it, with pgvector's own type and operator class. */
export async function createPlainSchema(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS vector');
    await client.query(`CREATE TABLE memory_entries (
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      namespace text NOT NULL,
      key text NOT NULL,
      value text,
      embedding vector(${EMBEDDING_DIMENSIONS}),
      metadata jsonb NOT NULL DEFAULT '{}',
      tags text[] NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (namespace, id),
      UNIQUE (namespace, key))`);
    await client.query('CREATE INDEX idx_memory_created ON memory_entries (namespace, created_at)');
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
