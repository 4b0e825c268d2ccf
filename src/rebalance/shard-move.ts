import type pg from 'pg';
import { ClientError } from '../shared/errors.ts';
import { onPrimary, type AdminContext } from './admin.ts';
import { advance, BEFORE_CUTOVER, loadMove, MOVE_LOCK_CLASS, type MoveRecord, type MoveState } from './move-catalog.ts';
import { reshardCleanup, reshardCopy, reshardCutover, reshardRollBack, reshardSetup } from './reshard.ts';
import { catchUp, cleanup, copy, rollBack, setup } from './move-steps.ts';
import { cutover } from './cutover.ts';
import { sleep, type MoveOptions, type MoveResult } from './move-options.ts';

export type { MoveOptions, MoveProgress, MoveResult } from './move-options.ts';
export { crashPoint } from './move-options.ts';

/**
 * Runs shard moves, splits and merges (recorded in dpg_catalog.shard_moves) step by step, one
 * process per move (an advisory lock), from whatever step the record says: a move whose
 * process died resumes where it was. The steps: src/rebalance/move-steps.ts and
 * cutover.ts for moves, reshard.ts for splits and merges.
 */

/** Holds the move's advisory lock on the control group while `work` runs: one process per move. */
async function withMoveLock<T>(admin: AdminContext, id: number, work: (control: pg.Client) => Promise<T>): Promise<T> {
  return onPrimary(admin, 0, async (control) => {
    const locked = await control.query('SELECT pg_try_advisory_lock($1, $2) AS ok', [MOVE_LOCK_CLASS, id]);
    if (!locked.rows[0].ok) throw new ClientError('55006', `shard move ${id} is being run by another process (a dpg move-shard, a rebalance, or a coordinator)`);
    return work(control);
  });
}

/** Runs (or resumes) a move to its end. */
export async function runMove(admin: AdminContext, id: number, options: MoveOptions = {}): Promise<MoveResult> {
  return withMoveLock(admin, id, async (control) => {
    const steps: Partial<Record<MoveState, number>> = {};
    let retries = 0;
    for (;;) {
      const move = await loadMove(control, id);
      const started = performance.now();
      try {
        await runStep(admin, control, move, options);
      } catch (error) {
        // A lock the step needed went to someone else (a deadlock with a reader, a lock
        // timeout): every step can run again.
        if (!['40P01', '55P03'].includes((error as { code?: string }).code ?? '') || ++retries > 5) throw error;
        admin.log(`move ${id}: ${move.state} gave way (${(error as Error).message}); trying again`);
        await sleep(500);
        continue;
      }
      if (move.state === 'done' || move.state === 'rolled-back') return { move, steps };
      steps[move.state] = (steps[move.state] ?? 0) + performance.now() - started;
    }
  });
}

async function runStep(admin: AdminContext, control: pg.Client, move: MoveRecord, options: MoveOptions): Promise<void> {
  if (move.kind !== 'move') return runReshardStep(admin, control, move, options);
  switch (move.state) {
    case 'setup':
      await setup(admin, control, move);
      break;
    case 'copying':
      await copy(admin, control, move, options);
      break;
    case 'catching-up':
      await catchUp(admin, control, move, options);
      break;
    case 'cutover':
      await cutover(admin, control, move, options);
      break;
    case 'cleanup':
      await cleanup(admin, control, move);
      break;
    case 'rolling-back':
      await rollBack(admin, control, move);
      break;
    case 'done':
    case 'rolled-back':
      return;
  }
}

/** Rolls back a move that has not reached its cutover decision: the shards stay where they were, nothing of the move is left. */
export async function rollbackMove(admin: AdminContext, id: number): Promise<MoveRecord> {
  return withMoveLock(admin, id, async (control) => {
    const move = await loadMove(control, id);
    if (move.state === 'rolled-back') return move;
    if (!(await advance(control, id, BEFORE_CUTOVER, 'rolling-back'))) {
      const now = await loadMove(control, id);
      throw new ClientError(
        '55000',
        `shard move ${id} is past its cutover (${now.state}): its shards are on group ${move.targetGroup} now. ${now.state === 'done' ? 'It is finished.' : `Resume it to finish the cleanup: npx dpg move-shard --resume ${id}`}`,
      );
    }
    if (move.kind !== 'move') await reshardRollBack(admin, control, { ...move, state: 'rolling-back' });
    else await rollBack(admin, control, { ...move, state: 'rolling-back' });
    return loadMove(control, id);
  });
}

/** The steps of a split or merge (src/rebalance/reshard.ts): no replication, so no catch-up. */
async function runReshardStep(admin: AdminContext, control: pg.Client, move: MoveRecord, options: MoveOptions): Promise<void> {
  switch (move.state) {
    case 'setup':
      return reshardSetup(admin, control, move);
    case 'copying':
      return reshardCopy(admin, control, move, options);
    case 'catching-up':
      await advance(control, move.id, 'catching-up', 'cutover');
      return;
    case 'cutover':
      return reshardCutover(admin, control, move, options);
    case 'cleanup':
      return reshardCleanup(admin, control, move);
    case 'rolling-back':
      return reshardRollBack(admin, control, move);
    default:
      return;
  }
}

