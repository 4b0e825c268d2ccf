import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { TestCluster } from '../support/test-cluster.ts';
import { nodePassword } from '../../src/cluster/secrets.ts';
import { EMBEDDING_DIMENSIONS } from '../../src/catalog/seed-schema.ts';

/** Helpers shared by the client-compatibility suites (test/clients/*.test.ts). */

export const DIMS = EMBEDDING_DIMENSIONS;

/** Deterministic vector (mulberry32) with 4-decimal components in [-1, 1): exact in text, close to exact in float4. */
export function seededVector(seed: number, dims = DIMS): number[] {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: dims }, () => Number((next() * 2 - 1).toFixed(4)));
}

/** pgvector's text form: `[1,2.5,-0.25]`. */
export function vectorText(values: number[]): string {
  return `[${values.join(',')}]`;
}

export function parseVectorText(text: string): number[] {
  return text.slice(1, -1).split(',').map(Number);
}

/** Cosine distance as pgvector's `<=>` defines it: 1 - a·b / (|a| |b|). */
export function cosineDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return 1 - dot / Math.sqrt(na * nb);
}

export interface StoredVector {
  namespace: string;
  key: string;
  vector: number[];
}

export interface SearchRow {
  namespace: string;
  key: string;
  similarity: number;
}

/**
 * Checks a top-k answer against an exact search in TypeScript over `candidates`.
 * pgvector computes in float4, so distances agree to ~1e-6: rows may only swap
 * places with rows at (almost) the same distance.
 */
export function assertExactTopK(rows: SearchRow[], query: number[], candidates: StoredVector[], k: number, label: string): void {
  const tolerance = 1e-5;
  const exact = candidates
    .map((c) => ({ namespace: c.namespace, key: c.key, distance: cosineDistance(query, c.vector) }))
    .sort((a, b) => a.distance - b.distance);
  const expected = exact.slice(0, k);
  assert.equal(rows.length, expected.length, `${label}: row count`);
  const byId = new Map(exact.map((e) => [`${e.namespace}/${e.key}`, e.distance]));
  rows.forEach((row, i) => {
    const id = `${row.namespace}/${row.key}`;
    const distance = byId.get(id);
    assert.ok(distance !== undefined, `${label}: row ${i} (${id}) is not one of the candidates`);
    assert.ok(Math.abs(1 - row.similarity - distance) < tolerance, `${label}: row ${i} (${id}) similarity ${row.similarity}, exact distance ${distance}`);
    assert.ok(Math.abs(distance - expected[i]!.distance) < tolerance, `${label}: row ${i} is ${id} at ${distance}, exact search has ${expected[i]!.namespace}/${expected[i]!.key} at ${expected[i]!.distance}`);
  });
  assert.equal(new Set(rows.map((r) => `${r.namespace}/${r.key}`)).size, rows.length, `${label}: duplicate rows`);
}

export interface Placement {
  namespace: string;
  shardIndex: number;
  shardId: string;
  groupId: number;
}

/** Where each namespace's rows of `table` live, from the catalog (asked through the coordinator). */
export async function placements(client: pg.Client, namespaces: string[], table = 'memory_entries'): Promise<Map<string, Placement>> {
  const result = await client.query<{ namespace: string; shard_index: number; shardid: string; group_id: number }>(
    `SELECT n AS namespace, s.shard_index, s.shardid::text AS shardid, p.group_id
       FROM unnest($1::text[]) AS n
       JOIN dpg_catalog.shards s
         ON s.table_name = $2
        AND s.shard_index = namespace_shard_id(n, (SELECT count(*)::int FROM dpg_catalog.shards WHERE table_name = $2))
       JOIN dpg_catalog.placements p ON p.shardid = s.shardid`,
    [namespaces, table],
  );
  return new Map(result.rows.map((r) => [r.namespace, { namespace: r.namespace, shardIndex: r.shard_index, shardId: r.shardid, groupId: r.group_id }]));
}

/** Picks `perGroup` namespaces named `${prefix}N` on each worker group. */
export async function namespacesByGroup(client: pg.Client, prefix: string, perGroup: number): Promise<Map<number, string[]>> {
  const candidates = Array.from({ length: 200 }, (_, i) => `${prefix}${i}`);
  const map = await placements(client, candidates);
  const byGroup = new Map<number, string[]>();
  for (const name of candidates) {
    const p = map.get(name)!;
    const list = byGroup.get(p.groupId) ?? [];
    if (list.length < perGroup) list.push(name);
    byGroup.set(p.groupId, list);
  }
  return byGroup;
}

/** A direct connection to a worker group's primary (bypassing the coordinator), to see where rows landed. */
export async function workerClient(cluster: TestCluster, groupId: number, options: { superuser?: boolean } = {}): Promise<pg.Client> {
  const group = cluster.layout.groups.find((g) => g.id === groupId)!;
  const node = group.nodes[0]!;
  const client = new pg.Client({
    host: node.host,
    port: node.pgPort,
    // As the client role's node login (only coordinators know it), or as the superuser.
    user: options.superuser ? 'postgres' : cluster.secrets.appUser,
    password: options.superuser ? cluster.secrets.superuserPassword : nodePassword(cluster.secrets, cluster.secrets.appUser),
    database: new URL(cluster.url).pathname.slice(1),
  });
  await client.connect();
  return client;
}

/** The coordinator's log, for failure messages. */
export function coordinatorLog(cluster: TestCluster): string {
  try {
    return readFileSync(join(cluster.dir, 'data', 'logs', 'coordinator-1.log'), 'utf8');
  } catch {
    return '';
  }
}

/** Runs `fn` and returns the error it throws (fails when it does not throw). */
export async function expectError(fn: () => Promise<unknown>, label = 'statement'): Promise<Error & { code?: string; message: string }> {
  try {
    await fn();
  } catch (error) {
    return error as Error & { code?: string };
  }
  assert.fail(`${label}: expected an error`);
}

/** Waits until a worker group's primary is running a statement whose text contains `fragment` (pg_stat_activity). */
export async function waitForWorkerQuery(cluster: TestCluster, groupId: number, fragment: string, timeoutMs = 10_000): Promise<void> {
  const worker = await workerClient(cluster, groupId, { superuser: true });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await worker.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND position($1 in query) > 0`,
        [fragment],
      );
      if (found.rows[0].n > 0) return;
      if (Date.now() > deadline) assert.fail(`no statement containing ${JSON.stringify(fragment)} ran on group ${groupId}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await worker.end();
  }
}
