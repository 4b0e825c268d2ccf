import type { MoveRecord, MoveState } from './move-catalog.ts';

/** What a move or split reports and how it may be tuned (src/rebalance/shard-move.ts runs them). */
export interface MoveProgress {
  phase: 'copy' | 'index' | 'catch-up';
  done: number;
  total: number;
  unit: string;
}

export interface MoveOptions {
  onProgress?: (progress: MoveProgress) => void;
  /** How long the cutover may hold the write lock waiting for the subscription (then it retries). */
  cutoverWaitMs?: number;
  /** lock_timeout of the cutover's LOCK and DROP: in-flight writes or reads longer than this make it retry. */
  lockTimeoutMs?: number;
  /** Replication lag (bytes) under which the cutover starts. */
  catchUpBytes?: number;
  cutoverAttempts?: number;
}

export interface MoveResult {
  move: MoveRecord;
  /** Wall time of each step this run went through, ms. */
  steps: Partial<Record<MoveState, number>>;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * For the tests of interrupted moves: with DPG_FAULT_INJECTION=1 and DPG_MOVE_CRASH_AT
 * naming a point, the process kills itself there (SIGKILL: nothing is cleaned up).
 */
export function crashPoint(name: string): void {
  if (process.env.DPG_FAULT_INJECTION === '1' && process.env.DPG_MOVE_CRASH_AT === name) process.kill(process.pid, 'SIGKILL');
}

