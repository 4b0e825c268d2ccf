import type { GroupPool } from '../backend/pool.ts';
import { metrics } from '../metrics/metrics.ts';
import type { Logger } from '../shared/log.ts';

/** What the recovery loop needs of the coordinator: its pools per group (as itself, or as a client's role) and its log. */
export interface RecoveryHost {
  readonly pools: ReadonlyMap<number, GroupPool>;
  pool(groupId: number, role?: string): GroupPool;
  /** The node password of a configured client role; null when the role is no longer configured. */
  nodePasswordOf(role: string): string | null;
  log(line: string): void;
}
import type { BackendConnection } from '../backend/backend-connection.ts';
import { MOVE_GID, MOVE_LOCK_CLASS } from '../rebalance/move-catalog.ts';

/** A part of a distributed transaction: `<transaction gid>_g<group>` (see SessionTransaction). */
const PART = /^(dpg_[a-z0-9]+_[0-9a-f]+)_g(\d+|c)$/;


/**
 * Resolves prepared transactions left behind by a coordinator that crashed during
 * two-phase commit: parts of a transaction with a commit record are committed; a part
 * older than `graceSeconds` without one is given up: a record saying so is inserted
 * (unless the coordinator's commit record got there first: the first insert of the gid
 * decides) and the parts are rolled back. Old records whose parts are all gone are
 * deleted.
 */
export async function recoverPreparedTransactions(coordinator: RecoveryHost, graceSeconds: number): Promise<{ committed: number; rolledBack: number }> {
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
          `SELECT gid, extract(epoch FROM now() - prepared)::float8, owner FROM pg_prepared_xacts WHERE database = current_database() AND gid LIKE 'dpg\\_%'`,
        );
        for (const [gid, age, owner] of parts.rows) {
          const match = PART.exec(gid!);
          if (!match) {
            const move = MOVE_GID.exec(gid!);
            if (move && Number(age) > graceSeconds) {
              const outcome = await resolveMoveCutover(decisions, connection, gid!, Number(move[1]));
              if (outcome === 'committed') committed++;
              if (outcome === 'rolled-back') rolledBack++;
            }
            continue;
          }
          const base = match[1]!;
          stillPrepared.add(base);
          let decision = (await decisions.simpleQuery(`SELECT committed FROM dpg_catalog.commit_records WHERE gid = '${base}'`)).rows[0]?.[0] ?? null;
          if (decision === null && Number(age) > graceSeconds) {
            // Give the transaction up, unless its coordinator decides first: the first insert of the gid wins.
            await decisions.simpleQuery(`INSERT INTO dpg_catalog.commit_records (gid, committed) VALUES ('${base}', false) ON CONFLICT (gid) DO NOTHING`);
            decision = (await decisions.simpleQuery(`SELECT committed FROM dpg_catalog.commit_records WHERE gid = '${base}'`)).rows[0]?.[0] ?? null;
          }
          // Only its owner (or a superuser) may finish a prepared transaction: a client role's
          // part is finished over a connection as that role.
          const finish = (sql: string) => (owner === connection.target.user ? finishPrepared(connection, sql) : finishAs(coordinator, groupId, owner!, sql));
          if (decision === 't') {
            if (await finish(`COMMIT PREPARED '${gid}'`)) committed++;
          } else if (decision === 'f') {
            if (await finish(`ROLLBACK PREPARED '${gid}'`)) rolledBack++;
          }
        }
      } finally {
        pool.release(connection);
      }
    }
    // A give-up record stays an hour: a commit that comes later still finds it.
    const old = await decisions.simpleQuery(
      `SELECT gid FROM dpg_catalog.commit_records WHERE created_at < now() - interval '${graceSeconds} seconds' AND (committed OR created_at < now() - interval '1 hour')`,
    );
    const done = old.rows.map(([gid]) => gid!).filter((gid) => !stillPrepared.has(gid));
    if (done.length > 0) {
      await decisions.simpleQuery(`DELETE FROM dpg_catalog.commit_records WHERE gid IN (${done.map((g) => `'${g}'`).join(', ')})`);
    }
  } finally {
    control.release(decisions);
  }
  return { committed, rolledBack };
}

/**
 * A shard move's cutover prepared on the source (`dpg_move_<id>`) whose mover is gone:
 * committed if the catalog switched (state 'cleanup' or later), else rolled back after
 * taking the decision away from the mover (state back to 'catching-up', which a resumed
 * move starts from). The move's advisory lock tells whether a mover still runs it.
 */
async function resolveMoveCutover(control: BackendConnection, worker: BackendConnection, gid: string, moveId: number): Promise<'committed' | 'rolled-back' | 'left'> {
  const state = (await control.simpleQuery(`SELECT state FROM dpg_catalog.shard_moves WHERE move_id = ${moveId}`)).rows[0]?.[0] ?? null;
  const finish = (sql: string) => finishPrepared(worker, sql);
  if (state === 'cleanup' || state === 'done') return (await finish(`COMMIT PREPARED '${gid}'`)) ? 'committed' : 'left';
  const locked = (await control.simpleQuery(`SELECT pg_try_advisory_lock(${MOVE_LOCK_CLASS}, ${moveId})`)).rows[0]?.[0] === 't';
  if (!locked) return 'left';
  try {
    await control.simpleQuery(`UPDATE dpg_catalog.shard_moves SET state = 'catching-up', updated_at = now(), detail = 'cutover rolled back by a recovery loop' WHERE move_id = ${moveId} AND state = 'cutover'`);
    const now = (await control.simpleQuery(`SELECT state FROM dpg_catalog.shard_moves WHERE move_id = ${moveId}`)).rows[0]?.[0] ?? null;
    if (now === 'cleanup' || now === 'done') return 'left';
    return (await finish(`ROLLBACK PREPARED '${gid}'`)) ? 'rolled-back' : 'left';
  } finally {
    await control.simpleQuery(`SELECT pg_advisory_unlock(${MOVE_LOCK_CLASS}, ${moveId})`);
  }
}

async function finishAs(coordinator: RecoveryHost, groupId: number, role: string, sql: string): Promise<boolean> {
  if (coordinator.nodePasswordOf(role) === null) {
    coordinator.log(`recovery: ${sql} needs role ${role}, which is no longer a configured user; finish it as a superuser`);
    return false;
  }
  return coordinator.pool(groupId, role).withConnection((connection) => finishPrepared(connection, sql));
}

/**
 * COMMIT or ROLLBACK PREPARED; false when the transaction is gone already: another
 * coordinator's recovery loop (or whoever prepared it) finished it first (42704).
 */
async function finishPrepared(connection: BackendConnection, sql: string): Promise<boolean> {
  try {
    await connection.simpleQuery(sql);
    return true;
  } catch (error) {
    if ((error as { sqlstate?: string }).sqlstate === '42704') return false;
    throw error;
  }
}

/** Runs recoverPreparedTransactions now and every `intervalSeconds`; returns what stops it. */
export function startRecoveryLoop(host: RecoveryHost, options: { graceSeconds: number; intervalSeconds: number }, logger: Logger): () => void {
  const run = () =>
    recoverPreparedTransactions(host, options.graceSeconds)
      .then(({ committed, rolledBack }) => {
        metrics()?.twoPhaseCommits.inc({ outcome: 'recovered_commit' }, committed);
        metrics()?.twoPhaseCommits.inc({ outcome: 'recovered_rollback' }, rolledBack);
        if (committed + rolledBack > 0) host.log(`2PC recovery: committed ${committed}, rolled back ${rolledBack} prepared transactions`);
      })
      .catch((error) => logger.warn(`2PC recovery failed: ${(error as Error).message}`));
  void run();
  const timer = setInterval(run, options.intervalSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
