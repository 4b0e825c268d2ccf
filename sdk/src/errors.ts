/**
 * The SDK's errors. Everything a call throws is a MemoryError: input the SDK refuses
 * before it leaves the process (ValidationError and its kinds), or what the server said,
 * mapped from its SQLSTATE by mapError. `retryable` says whether the same call may simply
 * be made again (the server rolled it back, or it never reached the server).
 */
export class MemoryError extends Error {
  /** The server's SQLSTATE, when the server raised it. */
  readonly sqlstate: string | undefined;
  readonly retryable: boolean = false;

  constructor(message: string, options: { sqlstate?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.sqlstate = options.sqlstate;
  }
}

/** Input refused before it was sent: an empty namespace, a bad limit, a NaN in an embedding. */
export class ValidationError extends MemoryError {}

/** An embedding with another number of dimensions than the table's (client-side, or pgvector's 22000). */
export class DimensionMismatchError extends ValidationError {
  constructor(
    message: string,
    readonly expected: number | undefined,
    readonly actual: number | undefined,
    options: { sqlstate?: string; cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** A namespace this client may not use (its `namespaces` allow-list), or one the server refused (42501). */
export class NamespaceNotAllowedError extends MemoryError {
  constructor(
    message: string,
    readonly namespace: string | undefined,
    options: { sqlstate?: string; cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** The memory, pattern, node or session the call names does not exist (or has expired). */
export class NotFoundError extends MemoryError {}

/** A store of a key that exists already (23505); upsert replaces instead. */
export class AlreadyExistsError extends MemoryError {}

/**
 * A failover, a shard move or a conflict rolled the call back, or the connection broke
 * before the call reached the server: nothing of it was done and it can be made again.
 * SQLSTATEs 40001, 40P01, 08000/08001/08003/08004/08006, 57P01-57P03, 25006 (the
 * server is a standby now), 53300, and connection errors without one.
 */
export class RetryableFailoverError extends MemoryError {
  override readonly retryable = true;
}

/**
 * The connection broke while a write was being committed (08007): it may or may not have
 * happened. Not retried automatically; an upsert can safely be made again.
 */
export class OutcomeUnknownError extends MemoryError {}

/** Any other error of the server. */
export class QueryError extends MemoryError {}

const RETRYABLE = new Set(['40001', '40P01', '08000', '08001', '08003', '08004', '08006', '57P01', '57P02', '57P03', '25006', '53300']);
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

/** The SDK error for anything a query threw (pg's DatabaseError with its SQLSTATE, or a socket error). */
export function mapError(error: unknown, context: { namespace?: string } = {}): MemoryError {
  if (error instanceof MemoryError) return error;
  const e = error as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(error);
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const sqlstate = code && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  const options = { sqlstate, cause: error };
  if (sqlstate === undefined) {
    if ((code && CONNECTION_CODES.has(code)) || /Connection terminated|connection (is )?(closed|ended)|timeout exceeded when trying to connect/i.test(message)) {
      return new RetryableFailoverError(`connection to dpg lost or refused: ${message}`, options);
    }
    return new QueryError(message, options);
  }
  if (sqlstate === '22000' || sqlstate === '22023') {
    const expected = /expected (\d+) dimensions, not (\d+)/.exec(message);
    if (expected) return new DimensionMismatchError(message, Number(expected[1]), Number(expected[2]), options);
    const different = /different vector dimensions (\d+) and (\d+)/.exec(message);
    if (different) return new DimensionMismatchError(message, Number(different[1]), Number(different[2]), options);
  }
  if (sqlstate === 'P0002' || sqlstate === '02000') return new NotFoundError(message, options);
  if (sqlstate === '42501') return new NamespaceNotAllowedError(message, context.namespace, options);
  if (sqlstate === '23505') return new AlreadyExistsError(message, options);
  if (sqlstate === '08007') return new OutcomeUnknownError(message, options);
  if (RETRYABLE.has(sqlstate)) return new RetryableFailoverError(message, options);
  return new QueryError(message, options);
}
