import type { GroupPool } from '../backend/pool.ts';
import type { CatalogSnapshot } from '../topology/snapshot.ts';
import { findGroupLeader } from '../topology/leaders.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import { MOVE_LOCK_CLASS } from '../rebalance/move-catalog.ts';

/**
 * Refreshes the gauges that come from the cluster rather than from queries: shard
 * sizes and row counts (also written to dpg_catalog.shard_stats, which
 * citus_shards.shard_size shows), replication lag of every standby (bytes and
 * seconds, from its primary), whether each group has a primary, and the shard moves
 * that have not ended. It runs on its
 * own pooled connections, one statement per group, every interval (the seed: 15 s).
 */
/** What the collector reads from the coordinator: the catalog, a pool per group; it records rows per shard there. */
export interface CollectorHost {
  readonly snapshot: CatalogSnapshot;
  pool(groupId: number): GroupPool;
  readonly shardRows: Map<string, number>;
}

export async function collectClusterMetrics(coordinator: CollectorHost, m: CoordinatorMetrics): Promise<void> {
  const snapshot = coordinator.snapshot;
  const shardNames = new Map<number, { shardId: string; table: string; name: string }[]>();
  for (const table of snapshot.tables.values()) {
    for (const shard of table.shards) {
      for (const group of shard.groupIds) {
        shardNames.set(group, [...(shardNames.get(group) ?? []), { shardId: shard.shardId, table: table.name, name: `${table.name}_${shard.shardId}` }]);
      }
    }
  }
  const stats: { shardId: string; group: number; size: string; rows: string }[] = [];
  m.shardSize.reset();
  m.shardRows.reset();
  m.replicationLagBytes.reset();
  m.replicationLagSeconds.reset();
  await Promise.all(
    [...snapshot.groups.values()].map(async (group) => {
      const nodes = snapshot.nodes.filter((n) => n.groupId === group.id);
      const leader = await findGroupLeader(nodes);
      m.groupHasLeader.set({ group: group.name }, leader ? 1 : 0);
      if (!leader) return;
      const pool = coordinator.pool(group.id);
      const connection = await pool.acquire();
      try {
        const lag = await connection.simpleQuery(
          `SELECT application_name, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint, coalesce(extract(epoch FROM replay_lag), 0)::float8 FROM pg_stat_replication`,
        );
        for (const [replica, bytes, seconds] of lag.rows) {
          m.replicationLagBytes.set({ shard_id: group.name, replica_id: replica ?? '' }, Number(bytes));
          m.replicationLagSeconds.set({ shard_id: group.name, replica_id: replica ?? '' }, Number(seconds));
        }
        const shards = shardNames.get(group.id) ?? [];
        if (shards.length === 0) return;
        const sizes = await connection.simpleQuery(
          `SELECT c.relname, pg_total_relation_size(c.oid), coalesce(s.n_live_tup, 0) FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
           WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace AND c.relname = ANY('{${shards.map((s) => s.name).join(',')}}'::text[])`,
        );
        const byName = new Map(sizes.rows.map(([name, size, rows]) => [name!, { size: size!, rows: rows! }]));
        for (const shard of shards) {
          const found = byName.get(shard.name);
          if (!found) continue;
          m.shardSize.set({ shard_id: shard.shardId }, Number(found.size));
          m.shardRows.set({ shard_id: shard.shardId, table_name: shard.table }, Number(found.rows));
          stats.push({ shardId: shard.shardId, group: group.id, size: found.size, rows: found.rows });
          coordinator.shardRows.set(shard.shardId, Number(found.rows));
        }
      } finally {
        pool.release(connection);
      }
    }),
  );
  const pool = coordinator.pool(0);
  const connection = await pool.acquire();
  try {
    // Moves that have not ended, and whether their process (which holds the move's advisory lock) is alive.
    const moves = await connection.simpleQuery(
      `SELECT m.kind, m.state, EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = ${MOVE_LOCK_CLASS} AND l.objid = m.move_id AND l.granted)::text, count(*)
       FROM dpg_catalog.shard_moves m WHERE m.state NOT IN ('done', 'rolled-back') GROUP BY 1, 2, 3`,
    );
    m.shardMoves.reset();
    for (const [kind, state, running, count] of moves.rows) m.shardMoves.set({ kind: kind!, state: state!, running: running! }, Number(count));
    const pauses = await connection.simpleQuery(
      `SELECT DISTINCT ON (kind) kind, pause_ms / 1000 FROM dpg_catalog.shard_moves WHERE state = 'done' AND pause_ms IS NOT NULL ORDER BY kind, finished_at DESC`,
    );
    for (const [kind, seconds] of pauses.rows) m.shardMoveLastPause.set({ kind: kind! }, Number(seconds));
  } finally {
    pool.release(connection);
  }
  if (stats.length > 0) {
    const pool = coordinator.pool(0);
    const connection = await pool.acquire();
    try {
      await connection.simpleQuery(
        `INSERT INTO dpg_catalog.shard_stats (shardid, group_id, size_bytes, row_count)
         VALUES ${stats.map((s) => `(${s.shardId}, ${s.group}, ${Number(s.size)}, ${Number(s.rows)})`).join(', ')}
         ON CONFLICT (shardid, group_id) DO UPDATE SET size_bytes = EXCLUDED.size_bytes, row_count = EXCLUDED.row_count, collected_at = now()`,
      );
    } finally {
      pool.release(connection);
    }
  }
  m.collectorSuccess.set(Date.now() / 1000);
}
