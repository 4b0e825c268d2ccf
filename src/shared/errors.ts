import type { NoticeFields } from './notice-fields.ts';

/**
 * An error the client sees: it maps one-to-one onto ErrorResponse fields with a
 * real SQLSTATE (https://www.postgresql.org/docs/15/errcodes-appendix.html).
 */
export class ClientError extends Error {
  constructor(
    readonly sqlstate: string,
    message: string,
    readonly extra: Partial<NoticeFields> = {},
  ) {
    super(message);
  }

  toFields(): NoticeFields {
    return { severity: 'ERROR', severityNonLocalized: 'ERROR', code: this.sqlstate, message: this.message, ...this.extra };
  }
}

export const SqlState = {
  featureNotSupported: '0A000',
  insufficientPrivilege: '42501',
  protocolViolation: '08P01',
  invalidPassword: '28P01',
  invalidAuthorization: '28000',
  tooManyConnections: '53300',
  invalidCatalogName: '3D000',
  queryCanceled: '57014',
  adminShutdown: '57P01',
  connectionFailure: '08006',
  invalidParameterValue: '22023',
  syntaxError: '42601',
  undefinedTable: '42P01',
  inFailedTransaction: '25P02',
  invalidTransactionState: '25000',
  internalError: 'XX000',
  invalidSqlStatementName: '26000',
  invalidCursorName: '34000',
  transactionResolutionUnknown: '08007',
  stackDepthLimitExceeded: '54001',
  programLimitExceeded: '54000',
} as const;

/**
 * JavaScript's stack overflow (a statement nested or chained too deep for the
 * coordinator's recursive stages) as PostgreSQL reports its own: 54001.
 */
export function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack size/i.test(error.message);
}

export function stackDepthExceeded(): ClientError {
  return new ClientError(SqlState.stackDepthLimitExceeded, 'stack depth limit exceeded', {
    hint: 'The statement is nested or chained too deeply for the coordinator to plan (as PostgreSQL\'s max_stack_depth limits the server): simplify it, e.g. pass long lists as an array parameter.',
  });
}

/** Turns anything thrown while serving a client into ErrorResponse fields. */
export function errorFields(error: unknown): NoticeFields {
  if (error instanceof ClientError) return error.toFields();
  if (isStackOverflow(error)) return stackDepthExceeded().toFields();
  const withFields = error as { fields?: NoticeFields; sqlstate?: string; message?: string; position?: number };
  if (withFields && typeof withFields === 'object' && withFields.fields && withFields.fields.code) return withFields.fields;
  if (withFields && typeof withFields.sqlstate === 'string') {
    const fields: NoticeFields = { severity: 'ERROR', severityNonLocalized: 'ERROR', code: withFields.sqlstate, message: withFields.message ?? 'error' };
    if (typeof withFields.position === 'number') fields.position = String(withFields.position);
    return fields;
  }
  return { severity: 'ERROR', severityNonLocalized: 'ERROR', code: SqlState.internalError, message: `internal error: ${(error as Error)?.message ?? String(error)}` };
}
