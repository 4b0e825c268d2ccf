import type { NoticeFields } from '../shared/notice-fields.ts';

/** One column of a RowDescription. */
export interface FieldDescription {
  name: string;
  /** 0 when the column is not a plain table column. */
  tableOid: number;
  columnAttribute: number;
  typeOid: number;
  /** pg_type.typlen: negative for variable-width types. */
  typeSize: number;
  typeModifier: number;
  /** 0 text, 1 binary. */
  format: number;
}

/**
 * Messages a server sends. Formats:
 * https://www.postgresql.org/docs/15/protocol-message-formats.html
 */
export type BackendMessage =
  /** code: see AuthenticationCode; data: salt (MD5), mechanism list (SASL), SASL payload (11, 12). */
  | { type: 'Authentication'; code: number; data: Buffer }
  | { type: 'ParameterStatus'; name: string; value: string }
  | { type: 'BackendKeyData'; processId: number; secretKey: number }
  | { type: 'ReadyForQuery'; status: 'I' | 'T' | 'E' }
  | { type: 'RowDescription'; fields: FieldDescription[] }
  | { type: 'DataRow'; values: (Buffer | null)[] }
  | { type: 'CommandComplete'; tag: string }
  | { type: 'EmptyQueryResponse' }
  | { type: 'ErrorResponse'; fields: NoticeFields }
  | { type: 'NoticeResponse'; fields: NoticeFields }
  | { type: 'ParseComplete' }
  | { type: 'BindComplete' }
  | { type: 'CloseComplete' }
  | { type: 'NoData' }
  | { type: 'PortalSuspended' }
  | { type: 'ParameterDescription'; typeOids: number[] }
  | { type: 'CopyInResponse' | 'CopyOutResponse' | 'CopyBothResponse'; format: number; columnFormats: number[] }
  | { type: 'CopyData'; data: Buffer }
  | { type: 'CopyDone' }
  | { type: 'NotificationResponse'; processId: number; channel: string; payload: string }
  | { type: 'NegotiateProtocolVersion'; newestMinor: number; unrecognized: string[] }
  | { type: 'FunctionCallResponse'; value: Buffer | null };
