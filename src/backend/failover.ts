import { ClientError, SqlState } from '../shared/errors.ts';
import { ConnectFailedError, ConnectionLostError, ServerError } from './backend-connection.ts';

/**
 * How a statement failed on a worker, for what the coordinator may do about it:
 * - 'not-sent': no connection was made (refused, timed out, the server starting or in
 *   recovery) or the server refused the statement because it is no longer a primary
 *   (25006): it did not run, so it can run again once the group has a primary;
 * - 'lost': the connection broke after the statement was sent (the node died, or
 *   was shut down): a read can run again, a write may or may not have happened;
 * - 'other': an answer from the server (a constraint, a syntax error): final.
 */
export type FailureKind = 'not-sent' | 'lost' | 'other';

export function failureKind(error: unknown): FailureKind {
  if (error instanceof ConnectFailedError) return 'not-sent';
  if (error instanceof ConnectionLostError) return 'lost';
  if (error instanceof ServerError) {
    const code = error.sqlstate;
    if (code === '25006' || code === '57P03') return 'not-sent';
    // admin_shutdown, crash_shutdown (a fast shutdown or a crash), connection exceptions
    if (code === '57P01' || code === '57P02' || code.startsWith('08')) return 'lost';
  }
  return 'other';
}

/** SQLSTATE 08007 transaction_resolution_unknown: the client cannot know whether its write happened. */
export class OutcomeUnknownError extends ClientError {
  constructor(what: string, cause: unknown) {
    super(
      SqlState.transactionResolutionUnknown,
      `${what}: the connection to the worker was lost before it answered (${(cause as Error)?.message ?? String(cause)}); the write may or may not have been committed. Check before retrying it, or retry it if it is idempotent`,
    );
  }
}

/** SQLSTATE 08006 for a transaction block whose worker connection broke: its work there is gone. */
export class BlockLostError extends ClientError {
  constructor(cause: unknown) {
    super(
      SqlState.connectionFailure,
      `the connection to a worker was lost inside the transaction block (${(cause as Error)?.message ?? String(cause)}); the transaction cannot commit: ROLLBACK and run it again`,
    );
  }
}

/** A write over several groups that was rolled back everywhere after a worker connection broke: it did not happen. */
export class NotAppliedError extends ConnectFailedError {}

/**
 * A worker's "relation ... does not exist" for a shard table (`<table>_<shardid>`): the
 * shard has been moved to another group (its move drops the source copy), so the
 * statement never ran there.
 */
export function shardMovedAway(error: unknown): boolean {
  return error instanceof ServerError && error.sqlstate === '42P01' && /relation "(?:public\.)?[a-z_][a-z0-9_$]*_\d+" does not exist/.test(error.message);
}

/** SQLSTATE 40001: a shard the transaction block used moved to another group; retrying the transaction works. */
export class ShardMovedError extends ClientError {
  constructor(cause: unknown) {
    super(
      '40001',
      `a shard this transaction uses was moved to another worker group while the transaction ran (${(cause as Error)?.message ?? String(cause)}); ROLLBACK and run the transaction again`,
    );
  }
}

/**
 * SQLSTATE 40001: a write to a reference table was routed to the worker groups of an
 * older catalog (a group was added or removed meanwhile); nothing of it was committed.
 * Outside a block the coordinator runs it again with the current catalog.
 */
export class PlacementsChangedError extends ClientError {
  constructor() {
    super('40001', 'the worker groups holding reference tables changed while this transaction wrote one (a group was added or removed); nothing was committed: run the transaction again');
  }
}

/**
 * SQLSTATE 40001: a two-phase commit whose decision came after a recovery loop had given
 * the transaction up (its COMMIT waited for the control group longer than
 * coordinator.prepared_transaction_grace_seconds); every part is rolled back.
 */
export class AbortedByRecoveryError extends ClientError {
  constructor() {
    super('40001', 'the transaction was rolled back: its commit waited for the control group longer than the grace period and a recovery loop gave it up; nothing was committed: run it again');
  }
}
