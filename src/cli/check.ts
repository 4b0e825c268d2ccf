import type pg from 'pg';
import type { ClusterLayout } from '../cluster/layout.ts';
import type { ClusterSecrets } from '../cluster/secrets.ts';
import { connectNode, withClient } from '../cluster/connect.ts';
import { groupLeaders } from '../cluster/bootstrap.ts';
import { readCatalogSnapshot } from '../topology/catalog-reader.ts';
import type { TableInfo } from '../topology/snapshot.ts';
import { quoteIdentifier } from '../shared/quoting.ts';

/** What `dpg check` found: problems make it fail; notes do not. */
export interface CheckReport {
  tables: number;
  shards: number;
  rows: number;
  problems: string[];
  notes: string[];
}

/**
 * The cluster's consistency, as the catalog promises it: every placement the catalog
 * lists exists on its worker group's primary; every row of a hash-distributed shard has
 * a distribution value whose hashtext() lies in its shard's range (so pinned reads and
 * unique constraints see it); co-located shards of one index sit on one group. Shard
 * tables on a group where the catalog places none are reported as notes (a move's
 * leftovers before its cleanup).
 */
export async function checkCluster(layout: ClusterLayout, secrets: ClusterSecrets, database: string): Promise<CheckReport> {
  // Every group needs a primary (groupLeaders says which has none).
  const leaders = await groupLeaders(layout);
  const control = leaders.get(layout.groups.find((g) => g.kind === 'control')!.id)!;
  const snapshot = await withClient(await connectNode(control, secrets, database), (client) => readCatalogSnapshot(client, 0));
  const tables = [...snapshot.tables.values()];
  const report: CheckReport = { tables: tables.length, shards: 0, rows: 0, problems: [], notes: [] };

  const byColocation = new Map<string, Map<number, string>>();
  for (const table of tables) {
    if (table.kind !== 'distributed' || table.colocationId === null) continue;
    for (const shard of table.shards) {
      const key = `${table.colocationId}:${shard.index}`;
      const groups = byColocation.get(key) ?? new Map<number, string>();
      byColocation.set(key, groups);
      for (const group of shard.groupIds) if (!groups.has(group)) groups.set(group, `${table.name}_${shard.shardId}`);
    }
  }
  for (const [key, groups] of byColocation) {
    if (groups.size > 1) report.problems.push(`co-located shards of index ${key.split(':')[1]} (co-location ${key.split(':')[0]}) are on several groups: ${[...groups].map(([g, s]) => `${s} on group ${g}`).join(', ')}`);
  }

  for (const group of layout.groups.filter((g) => g.kind === 'worker')) {
    const groupId = group.id;
    const leader = leaders.get(groupId)!;
    const placed = tables.flatMap((table) => table.shards.filter((s) => s.groupIds.includes(groupId)).map((shard) => ({ table, shard })));
    await withClient(await connectNode(leader, secrets, database), async (client) => {
      const present = new Set(
        (await client.query<{ relname: string }>("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND relname ~ '_[0-9]+$'")).rows.map((r) => r.relname),
      );
      for (const { table, shard } of placed) {
        const name = `${table.name}_${shard.shardId}`;
        report.shards++;
        if (!present.has(name)) {
          report.problems.push(`shard ${name} is placed on group ${groupId} by the catalog but does not exist there`);
          continue;
        }
        present.delete(name);
        report.rows += await checkShardRows(client, table, name, shard.hashMin, shard.hashMax, report);
      }
      const known = new Set(tables.map((t) => t.name));
      for (const name of present) {
        const table = name.replace(/_[0-9]+$/, '');
        if (known.has(table)) report.notes.push(`group ${groupId} holds ${name}, which the catalog does not place there (left by a move or split before its cleanup?)`);
      }
    });
  }
  return report;
}

/** Counts the shard's rows; a row whose distribution value hashes outside [min, max] is a problem. */
async function checkShardRows(client: pg.Client, table: TableInfo, shardName: string, min: number | null, max: number | null, report: CheckReport): Promise<number> {
  if (table.kind !== 'distributed' || table.distributionMethod !== 'hash' || min === null || max === null) {
    return Number((await client.query(`SELECT count(*) AS n FROM ${quoteIdentifier(shardName)}`)).rows[0].n);
  }
  const column = quoteIdentifier(table.distributionColumn!);
  const result = await client.query(
    `SELECT count(*) AS n, count(*) FILTER (WHERE hashtext(${column}::text) NOT BETWEEN $1 AND $2) AS misplaced, min(${column}::text) FILTER (WHERE hashtext(${column}::text) NOT BETWEEN $1 AND $2) AS example FROM ${quoteIdentifier(shardName)}`,
    [min, max],
  );
  const row = result.rows[0];
  if (Number(row.misplaced) > 0) {
    report.problems.push(`shard ${shardName}: ${row.misplaced} rows whose ${table.distributionColumn} hashes outside its range [${min}, ${max}] (for example ${JSON.stringify(row.example)}): pinned reads and unique constraints miss them`);
  }
  return Number(row.n);
}

export function formatCheckReport(report: CheckReport): string {
  const lines = [`checked ${report.tables} tables, ${report.shards} shard placements, ${report.rows} rows: ${report.problems.length === 0 ? 'consistent' : `${report.problems.length} problems`}`];
  for (const problem of report.problems) lines.push(`problem: ${problem}`);
  for (const note of report.notes) lines.push(`note: ${note}`);
  return lines.join('\n');
}
