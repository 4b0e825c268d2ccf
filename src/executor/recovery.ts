import type { Coordinator } from '../server/coordinator.ts';

/** A part of a distributed transaction: `<transaction gid>_g<group>` (see SessionTransaction). */
const PART = /^(dpg_[a-z0-9]+_[0-9a-f]+)_g(\d+)$/;


/**
 * Resolves prepared transactions left behind by a coordinator that crashed during
 * two-phase commit: parts of a transaction with a commit record are committed, the
 * others rolled back once older than `graceSeconds` (a part younger than that may
 * still be committed by the coordinator that made it). Old records whose parts are
 * all gone are deleted.
 */
export async function recoverPreparedTransactions(coordinator: Coordinator, graceSeconds: number): Promise<{ committed: number; rolledBack: number }> {
  let committed = 0;
  let rolledBack = 0;
  const control = coordinator.pool(0);
  const decisions = await control.acquire();
  try {
    const stillPrepared = new Set<string>();
    for (const groupId of coordinator.pools.keys()) {
      const pool = coordinator.pool(groupId);
      const connection = await pool.acquire();
      try {
        const parts = await connection.simpleQuery(
          `SELECT gid, extract(epoch FROM now() - prepared)::float8 FROM pg_prepared_xacts WHERE database = current_database() AND gid LIKE 'dpg\\_%'`,
        );
        for (const [gid, age] of parts.rows) {
          const match = PART.exec(gid!);
          if (!match) continue;
          const base = match[1]!;
          stillPrepared.add(base);
          const record = await decisions.simpleQuery(`SELECT 1 FROM dpg_catalog.commit_records WHERE gid = '${base}'`);
          // Another coordinator's recovery loop (or the coordinator that made it) may finish the
          // same part first: "does not exist" (42704) then means it is done.
          const finish = (sql: string) =>
            connection.simpleQuery(sql).then(
              () => true,
              (error) => {
                if ((error as { sqlstate?: string }).sqlstate === '42704') return false;
                throw error;
              },
            );
          if (record.rows.length > 0) {
            if (await finish(`COMMIT PREPARED '${gid}'`)) committed++;
          } else if (Number(age) > graceSeconds) {
            if (await finish(`ROLLBACK PREPARED '${gid}'`)) rolledBack++;
          }
        }
      } finally {
        pool.release(connection);
      }
    }
    const old = await decisions.simpleQuery(`SELECT gid FROM dpg_catalog.commit_records WHERE created_at < now() - interval '${graceSeconds} seconds'`);
    const done = old.rows.map(([gid]) => gid!).filter((gid) => !stillPrepared.has(gid));
    if (done.length > 0) {
      await decisions.simpleQuery(`DELETE FROM dpg_catalog.commit_records WHERE gid IN (${done.map((g) => `'${g}'`).join(', ')})`);
    }
  } finally {
    control.release(decisions);
  }
  return { committed, rolledBack };
}
