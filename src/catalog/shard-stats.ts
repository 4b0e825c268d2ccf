import type pg from 'pg';
import type { NodeLayout } from '../cluster/layout.ts';
import type { ClusterSecrets } from '../cluster/secrets.ts';
import { connectNode, withClient } from '../cluster/connect.ts';
import { shardRelationName } from './seed-schema.ts';

interface Placement {
  shardid: string;
  table_name: string;
  group_id: number;
}

/**
 * Collects each shard's size and live row count from the worker holding it and
 * stores them in dpg_catalog.shard_stats, which citus_shards.shard_size reads.
 * Row counts are PostgreSQL's statistics (n_live_tup), not a count(*) scan.
 */
export async function refreshShardStats(control: pg.Client, leaders: Map<number, NodeLayout>, secrets: ClusterSecrets, database: string): Promise<void> {
  const placements = (await control.query<Placement>('SELECT p.shardid, s.table_name, p.group_id FROM dpg_catalog.placements p JOIN dpg_catalog.shards s USING (shardid)')).rows;
  const byGroup = new Map<number, Placement[]>();
  for (const p of placements) byGroup.set(p.group_id, [...(byGroup.get(p.group_id) ?? []), p]);
  const collected: { shardid: string; group_id: number; size: string; rows: string }[] = [];
  await Promise.all(
    [...byGroup].map(async ([groupId, shards]) => {
      const leader = leaders.get(groupId);
      if (!leader) return;
      await withClient(await connectNode(leader, secrets, database), async (worker) => {
        const names = shards.map((s) => shardRelationName(s.table_name, s.shardid));
        const result = await worker.query<{ relname: string; size: string; rows: string }>(
          `SELECT c.relname, pg_total_relation_size(c.oid) AS size, coalesce(s.n_live_tup, 0) AS rows
           FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
           WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1)`,
          [names],
        );
        const byName = new Map(result.rows.map((r) => [r.relname, r]));
        for (const shard of shards) {
          const row = byName.get(shardRelationName(shard.table_name, shard.shardid));
          if (row) collected.push({ shardid: shard.shardid, group_id: groupId, size: row.size, rows: row.rows });
        }
      });
    }),
  );
  await control.query(
    `INSERT INTO dpg_catalog.shard_stats (shardid, group_id, size_bytes, row_count)
     SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::bigint[])
     ON CONFLICT (shardid, group_id) DO UPDATE SET size_bytes = EXCLUDED.size_bytes, row_count = EXCLUDED.row_count, collected_at = now()`,
    [collected.map((c) => c.shardid), collected.map((c) => c.group_id), collected.map((c) => c.size), collected.map((c) => c.rows)],
  );
}
