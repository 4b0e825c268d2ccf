import type pg from 'pg';
import { CATALOG_CHANNEL } from '../topology/catalog-reader.ts';
import { ClientError } from '../shared/errors.ts';
import { connectPrimary, onPrimary, type AdminContext } from './admin.ts';
import { quoteIdent, quoteLiteral } from '../shared/quoting.ts';
import { advance, loadMove, moveObjectName, type MoveRecord } from './move-catalog.ts';
import { indexNames, readShardTable, retireTablesSql, type ShardTableDefinition } from './shard-ddl.ts';
import { preparedExists } from './replication-objects.ts';
import { copyTableRows } from './copy-rows.ts';
import { crashPoint, sleep, type MoveOptions } from './move-options.ts';
import { INTERNAL_ROLE } from '../shared/roles.ts';

export class CutoverRetry extends Error {}

/** Replication lag under which the cutover takes the write lock: what is left is applied within it. */
export const CATCH_UP_BYTES = 256 * 1024;

/** Waits (up to `timeoutMs`) until the move's slot is within `bytes` of the source's WAL. */
export async function lagBelow(source: pg.Client, slot: string, bytes: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const lag = await source.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 AS lag FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
    if (lag.rows.length === 0 || Number(lag.rows[0].lag) <= bytes) return;
    await sleep(100);
  }
}

export async function cutover(admin: AdminContext, control: pg.Client, move: MoveRecord, options: MoveOptions): Promise<void> {
  const name = moveObjectName(move.id);
  const attempts = options.cutoverAttempts ?? 20;
  const source = await connectPrimary(admin, move.sourceGroup);
  const monitor = await connectPrimary(admin, move.sourceGroup);
  const target = await connectPrimary(admin, move.targetGroup);
  try {
    // A cutover prepared by a run that died before the catalog decided: the decision is
    // 'not switched' (the state is still 'cutover'), so it is rolled back and done again.
    if (await preparedExists(source, name)) await source.query(`ROLLBACK PREPARED ${quoteLiteral(name)}`);
    const definitions: ShardTableDefinition[] = [];
    for (const table of move.tables) {
      const definition = await readShardTable(source, table);
      if (!definition) throw new ClientError('XX000', `shard table ${table} is missing on its group ${move.sourceGroup} during the cutover of move ${move.id}`);
      definitions.push(definition);
    }
    const hasSubscription = definitions.some((d) => !d.unlogged);
    let late: string[] = [];
    for (let attempt = 1; ; attempt++) {
      let locked = 0;
      try {
        await lockAgainstWrites(admin, source, move.tables, options);
        locked = performance.now();
        crashPoint('cutover-locked');
        if (hasSubscription) {
          const lsn = (await source.query('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0].lsn;
          const deadline = Date.now() + (options.cutoverWaitMs ?? 1000);
          for (;;) {
            const slot = await monitor.query(`SELECT confirmed_flush_lsn >= $2::pg_lsn AS caught_up FROM pg_replication_slots WHERE slot_name = $1`, [name, lsn]);
            if (slot.rows.length === 0) throw new ClientError('XX000', `move ${move.id}: the replication slot disappeared during the cutover`);
            if (slot.rows[0].caught_up) break;
            if (Date.now() > deadline) throw new CutoverRetry(`the subscription did not confirm ${lsn} within ${options.cutoverWaitMs ?? 1000} ms`);
            await sleep(2);
          }
          // Durable on the target and visible on its synchronous standby before the catalog points there.
          await target.query(`BEGIN; SET LOCAL synchronous_commit = remote_apply; SELECT pg_logical_emit_message(true, 'dpg_move', '${move.id}'); COMMIT`);
        }
        for (const definition of definitions.filter((d) => d.unlogged)) await copyTableRows(source, target, definition);
        // Indexes made on the source during the move (a namespace's own HNSW index): built on the target after the switch.
        late = [];
        for (const definition of definitions) {
          const present = await indexNames(target, definition.name);
          for (const [index, sql] of definition.indexes) if (!present.has(index)) late.push(sql);
        }
        // Statements waiting on the lock find the shard gone (42P01) and run again where it is now.
        await source.query(retireTablesSql(move.tables));
        await source.query(`PREPARE TRANSACTION ${quoteLiteral(name)}`);
        crashPoint('cutover-prepared');
      } catch (error) {
        await source.query('ROLLBACK').catch(() => {});
        // lock_not_available (lock_timeout), deadlock_detected: in-flight statements won; try again.
        const gaveWay = ['55P03', '40P01'].includes((error as { code?: string }).code ?? '');
        if (!(error instanceof CutoverRetry || gaveWay) || attempt >= attempts) throw error;
        admin.log(`move ${move.id}: cutover attempt ${attempt} gave way (${(error as Error).message}); trying again`);
        await sleep(200 * attempt);
        // The subscription fell behind again (writes come faster than it applies them): wait, without the lock.
        if (error instanceof CutoverRetry) await lagBelow(monitor, name, options.catchUpBytes ?? CATCH_UP_BYTES, 60_000);
        continue;
      }
      const switched = await switchCatalog(admin, control, move, performance.now() - locked, late);
      crashPoint('cutover-switched');
      const pauseMs = await finishPrepared(control, source, move, switched, locked);
      admin.log(`move ${move.id}: cut over to group ${move.targetGroup}; writes paused ${pauseMs.toFixed(0)} ms`);
      return;
    }
  } finally {
    for (const client of [source, monitor, target]) await client.end().catch(() => {});
  }
}

/**
 * The cutover's decision: placements to the target and state 'cleanup' in one catalog
 * transaction, if the move is still in 'cutover' (a recovery loop may have decided
 * otherwise). A commit whose outcome is unknown is read back.
 */
async function switchCatalog(admin: AdminContext, control: pg.Client, move: MoveRecord, pauseSoFar: number, lateIndexes: string[]): Promise<boolean> {
  try {
    await control.query('BEGIN');
    if (!(await advance(control, move.id, 'cutover', 'cleanup'))) {
      await control.query('ROLLBACK');
      return false;
    }
    await control.query(`UPDATE dpg_catalog.placements SET group_id = $2 WHERE shardid = ANY ($1::bigint[]) AND group_id = $3`, [move.shardIds, move.targetGroup, move.sourceGroup]);
    await control.query(`DELETE FROM dpg_catalog.shard_stats WHERE shardid = ANY ($1::bigint[])`, [move.shardIds]);
    await control.query('UPDATE dpg_catalog.shard_moves SET pause_ms = $2, late_indexes = $3 WHERE move_id = $1', [move.id, pauseSoFar, lateIndexes]);
    await control.query(`NOTIFY ${CATALOG_CHANNEL}`);
    await control.query('COMMIT');
    return true;
  } catch (error) {
    await control.query('ROLLBACK').catch(() => {});
    // Did the commit happen? Ask a fresh connection.
    const state = await onPrimary(admin, 0, async (fresh) => (await loadMove(fresh, move.id)).state).catch(() => null);
    if (state === 'cleanup' || state === 'done') return true;
    throw error;
  }
}


/**
 * The cutover's first step: a transaction on the source primary that locks the shards
 * against writes (EXCLUSIVE: reads go on). It runs as the coordinator's own role (a
 * member of every client role, so it may lock their shards), so that the transaction it
 * prepares can be finished by a coordinator's recovery loop.
 */
export async function lockAgainstWrites(admin: AdminContext, source: pg.Client, tables: string[], options: MoveOptions): Promise<void> {
  await source.query('BEGIN');
  await source.query(`SET LOCAL lock_timeout = ${options.lockTimeoutMs ?? 2000}`);
  // A reader holding one shard while it waits for another this transaction holds is a
  // deadlock; the cutover is the one to give way (and try again), soon.
  await source.query('SET LOCAL deadlock_timeout = 100');
  await source.query(`SET LOCAL ROLE ${quoteIdent(INTERNAL_ROLE)}`);
  await source.query(`LOCK TABLE ${tables.map((t) => `public.${quoteIdent(t)}`).join(', ')} IN EXCLUSIVE MODE`);
}

/** After the catalog's decision: the prepared source transaction commits (or, not switched, rolls back); returns the write pause. */
export async function finishPrepared(control: pg.Client, source: pg.Client, move: MoveRecord, switched: boolean, lockedAt: number): Promise<number> {
  const gid = moveObjectName(move.id);
  if (!switched) {
    await source.query(`ROLLBACK PREPARED ${quoteLiteral(gid)}`).catch(() => {});
    throw new ClientError('40001', `${move.kind} ${move.id} was rolled back by another process during its cutover`);
  }
  await source.query(`COMMIT PREPARED ${quoteLiteral(gid)}`);
  const pauseMs = performance.now() - lockedAt;
  await control.query('UPDATE dpg_catalog.shard_moves SET pause_ms = $2 WHERE move_id = $1', [move.id, pauseMs]);
  return pauseMs;
}
