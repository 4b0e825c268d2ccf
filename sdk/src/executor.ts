import type pg from 'pg';
import { mapError, MemoryError, OutcomeUnknownError, RetryableFailoverError } from './errors.ts';

export interface RetryOptions {
  /** Times a call rolled back by a failover or a shard move is made again (default 3). */
  retries: number;
  /** First wait before a retry, doubled each time (default 100 ms). */
  retryDelayMs: number;
  /** Told of every retry (for logs and metrics). */
  onRetry?: (error: MemoryError, attempt: number) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs the SDK's statements on a pool: errors mapped (mapError), and a call the server
 * rolled back (RetryableFailoverError) made again after a growing pause. A write that is
 * not idempotent (an INSERT: `idempotent: false`) is not made again when the connection
 * broke while it ran: it may have happened, so the caller gets OutcomeUnknownError; one
 * that is (an upsert: `idempotent: true`) is made again even then.
 */
export class Executor {
  constructor(
    readonly pool: pg.Pool,
    readonly retry: RetryOptions,
  ) {}

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[], options: { idempotent?: boolean; namespace?: string } = {}): Promise<pg.QueryResult<R>> {
    return this.withRetry(options, async () => {
      const client = await this.connect(options);
      let broken: Error | undefined;
      try {
        return await client.query<R>({ text, values });
      } catch (error) {
        if (isBroken(error)) broken = error as Error;
        throw mapError(error, options);
      } finally {
        client.release(broken);
      }
    });
  }

  /** `work` in one transaction on one connection (BEGIN ... COMMIT), made again if the server rolled it back. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>, options: { namespace?: string } = {}): Promise<T> {
    // A connection lost before COMMIT rolled the transaction back (made again); one lost in COMMIT is OutcomeUnknownError (not).
    return this.withRetry({}, async () => {
      const client = await this.connect(options);
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(client);
        try {
          await client.query('COMMIT');
        } catch (error) {
          const mapped = mapError(error, options);
          // A COMMIT whose answer was lost: it may have happened.
          if (isBroken(error)) {
            broken = error as Error;
            throw new OutcomeUnknownError(`the connection broke while the transaction committed; it may or may not have: ${mapped.message}`, { sqlstate: mapped.sqlstate, cause: error });
          }
          throw mapped;
        }
        return result;
      } catch (error) {
        if (isBroken(error)) broken = error as Error;
        else await client.query('ROLLBACK').catch(() => {});
        throw mapError(error, options);
      } finally {
        client.release(broken);
      }
    });
  }

  private async connect(options: { namespace?: string }): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      // Not connected: nothing was sent, so any call may be made again.
      throw Object.assign(mapError(error, options), { sent: false });
    }
  }

  private async withRetry<T>(options: { idempotent?: boolean }, call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (raw) {
        const error = raw as MemoryError;
        const connectionLost = error instanceof RetryableFailoverError && error.sqlstate === undefined && (raw as { sent?: boolean }).sent !== false;
        if (connectionLost && options.idempotent === false) {
          throw new OutcomeUnknownError(`the connection broke while the write ran; it may or may not have happened: ${error.message}`, { cause: error.cause });
        }
        // A write that may have happened is made again only when doing it twice is the same as once.
        const again = error instanceof RetryableFailoverError || (error instanceof OutcomeUnknownError && options.idempotent === true);
        if (!again || attempt >= this.retry.retries) throw error;
        this.retry.onRetry?.(error, attempt + 1);
        await sleep(this.retry.retryDelayMs * 2 ** attempt);
      }
    }
  }
}

/** A connection that is unusable after the error: the pool must drop it, not reuse it. */
function isBroken(error: unknown): boolean {
  // The SDK's own errors (NotFoundError in a transaction) leave the connection as it was; mapped ones are judged by their cause.
  if (error instanceof MemoryError) return error.cause !== undefined && isBroken(error.cause);
  const code = (error as { code?: unknown })?.code;
  return typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code) || code.startsWith('08') || code.startsWith('57P');
}
