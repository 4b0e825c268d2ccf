import type { BackendMessage, FieldDescription } from './backend-messages.ts';
import { checkCount, cstringBytes, MessageWriter } from './message-writer.ts';
import { AuthenticationCode, BackendCode } from './message-codes.ts';
import { NOTICE_FIELD_CODES, type NoticeFields } from '../shared/notice-fields.ts';

const EMPTY = Buffer.alloc(0);

// Precomputed bodiless messages. Shared: never write into them.
export const PARSE_COMPLETE = MessageWriter.typed(BackendCode.ParseComplete, 0).finish();
export const BIND_COMPLETE = MessageWriter.typed(BackendCode.BindComplete, 0).finish();
export const CLOSE_COMPLETE = MessageWriter.typed(BackendCode.CloseComplete, 0).finish();
export const NO_DATA = MessageWriter.typed(BackendCode.NoData, 0).finish();
export const PORTAL_SUSPENDED = MessageWriter.typed(BackendCode.PortalSuspended, 0).finish();
export const EMPTY_QUERY_RESPONSE = MessageWriter.typed(BackendCode.EmptyQueryResponse, 0).finish();
export const COPY_DONE = MessageWriter.typed(BackendCode.CopyDone, 0).finish();
export const AUTHENTICATION_OK = MessageWriter.typed(BackendCode.Authentication, 4).int32(AuthenticationCode.Ok).finish();

const READY_FOR_QUERY = {
  I: MessageWriter.typed(BackendCode.ReadyForQuery, 1).byte(0x49).finish(),
  T: MessageWriter.typed(BackendCode.ReadyForQuery, 1).byte(0x54).finish(),
  E: MessageWriter.typed(BackendCode.ReadyForQuery, 1).byte(0x45).finish(),
} as const;

/** ReadyForQuery for a transaction status; a shared precomputed buffer. */
export function readyForQuery(status: 'I' | 'T' | 'E'): Buffer {
  return READY_FOR_QUERY[status];
}

/** Encodes a server message. Bodiless messages return shared precomputed buffers. */
export function encodeBackend(message: BackendMessage): Buffer {
  switch (message.type) {
    case 'Authentication':
      return encodeAuthentication(message.code, message.data);
    case 'ParameterStatus':
      return encodeParameterStatus(message.name, message.value);
    case 'BackendKeyData':
      return encodeBackendKeyData(message.processId, message.secretKey);
    case 'ReadyForQuery':
      return readyForQuery(message.status);
    case 'RowDescription':
      return encodeRowDescription(message.fields);
    case 'DataRow':
      return encodeDataRow(message.values);
    case 'CommandComplete':
      return encodeCommandComplete(message.tag);
    case 'EmptyQueryResponse':
      return EMPTY_QUERY_RESPONSE;
    case 'ErrorResponse':
      return encodeErrorResponse(message.fields);
    case 'NoticeResponse':
      return encodeNoticeResponse(message.fields);
    case 'ParseComplete':
      return PARSE_COMPLETE;
    case 'BindComplete':
      return BIND_COMPLETE;
    case 'CloseComplete':
      return CLOSE_COMPLETE;
    case 'NoData':
      return NO_DATA;
    case 'PortalSuspended':
      return PORTAL_SUSPENDED;
    case 'ParameterDescription': {
      const count = checkCount(message.typeOids.length, 'parameters');
      const writer = MessageWriter.typed(BackendCode.ParameterDescription, 2 + 4 * count).count(count);
      for (const oid of message.typeOids) writer.uint32(oid);
      return writer.finish();
    }
    case 'CopyInResponse':
    case 'CopyOutResponse':
    case 'CopyBothResponse': {
      const count = checkCount(message.columnFormats.length, 'column format codes');
      const writer = MessageWriter.typed(BackendCode[message.type], 3 + 2 * count)
        .byte(message.format)
        .count(count);
      for (const format of message.columnFormats) writer.int16(format);
      return writer.finish();
    }
    case 'CopyData':
      return MessageWriter.typed(BackendCode.CopyData, message.data.length).bytes(message.data).finish();
    case 'CopyDone':
      return COPY_DONE;
    case 'NotificationResponse':
      return MessageWriter.typed(
        BackendCode.NotificationResponse,
        4 + cstringBytes(message.channel, 'channel name') + cstringBytes(message.payload, 'payload'),
      )
        .uint32(message.processId)
        .cstring(message.channel)
        .cstring(message.payload)
        .finish();
    case 'NegotiateProtocolVersion': {
      let bodyBytes = 8;
      for (const option of message.unrecognized) bodyBytes += cstringBytes(option, 'option name');
      // Sent as the full version, as PostgreSQL does (see decodeNegotiateProtocolVersion).
      const writer = MessageWriter.typed(BackendCode.NegotiateProtocolVersion, bodyBytes)
        .int32((3 << 16) | (message.newestMinor & 0xffff))
        .int32(message.unrecognized.length);
      for (const option of message.unrecognized) writer.cstring(option);
      return writer.finish();
    }
    case 'FunctionCallResponse': {
      const valueBytes = message.value === null ? 0 : message.value.length;
      return MessageWriter.typed(BackendCode.FunctionCallResponse, 4 + valueBytes).nullableBytes(message.value).finish();
    }
  }
}

/** Authentication request; `data` per code (salt for MD5, mechanism list for SASL, ...). */
export function encodeAuthentication(code: number, data: Buffer = EMPTY): Buffer {
  if (code === AuthenticationCode.Ok && data.length === 0) return AUTHENTICATION_OK;
  return MessageWriter.typed(BackendCode.Authentication, 4 + data.length).int32(code).bytes(data).finish();
}

/** The data of AuthenticationSASL: each mechanism name NUL-terminated, then a NUL. */
export function encodeSASLMechanisms(mechanisms: readonly string[]): Buffer {
  let bytes = 1;
  for (const mechanism of mechanisms) bytes += cstringBytes(mechanism, 'SASL mechanism');
  const data = Buffer.allocUnsafe(bytes);
  let offset = 0;
  for (const mechanism of mechanisms) {
    offset += data.write(mechanism, offset, 'utf8');
    data[offset++] = 0;
  }
  data[offset] = 0;
  return data;
}

export function encodeParameterStatus(name: string, value: string): Buffer {
  return MessageWriter.typed(
    BackendCode.ParameterStatus,
    cstringBytes(name, 'parameter name') + cstringBytes(value, 'parameter value'),
  )
    .cstring(name)
    .cstring(value)
    .finish();
}

export function encodeBackendKeyData(processId: number, secretKey: number): Buffer {
  return MessageWriter.typed(BackendCode.BackendKeyData, 8).uint32(processId).uint32(secretKey).finish();
}

/** Fixed part of one RowDescription field after its name. */
const FIELD_ATTRIBUTE_BYTES = 18;

export function encodeRowDescription(fields: readonly FieldDescription[]): Buffer {
  const count = checkCount(fields.length, 'fields');
  let bodyBytes = 2;
  for (const field of fields) bodyBytes += cstringBytes(field.name, 'field name') + FIELD_ATTRIBUTE_BYTES;
  const writer = MessageWriter.typed(BackendCode.RowDescription, bodyBytes).count(count);
  for (const field of fields) {
    writer
      .cstring(field.name)
      .uint32(field.tableOid)
      .int16(field.columnAttribute)
      .uint32(field.typeOid)
      .int16(field.typeSize)
      .int32(field.typeModifier)
      .int16(field.format);
  }
  return writer.finish();
}

/**
 * DataRow from Buffers (sent as they are), strings (UTF-8) or null (SQL NULL).
 * Written directly, without the MessageWriter, because it is the hottest encoder.
 */
export function encodeDataRow(values: readonly (Buffer | string | null)[]): Buffer {
  const count = checkCount(values.length, 'columns');
  let size = 7 + 4 * count;
  for (let i = 0; i < count; i++) {
    const value = values[i]!;
    if (value === null) continue;
    size += typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
  }
  const buffer = Buffer.allocUnsafe(size);
  buffer[0] = BackendCode.DataRow;
  buffer.writeInt32BE(size - 1, 1);
  buffer.writeUInt16BE(count, 5);
  let offset = 7;
  for (let i = 0; i < count; i++) {
    const value = values[i]!;
    if (value === null) {
      buffer.writeInt32BE(-1, offset);
      offset += 4;
    } else if (typeof value === 'string') {
      const written = buffer.write(value, offset + 4, 'utf8');
      buffer.writeInt32BE(written, offset);
      offset += 4 + written;
    } else {
      buffer.writeInt32BE(value.length, offset);
      offset += 4 + value.copy(buffer, offset + 4);
    }
  }
  return buffer;
}

export function encodeCommandComplete(tag: string): Buffer {
  return MessageWriter.typed(BackendCode.CommandComplete, cstringBytes(tag, 'command tag')).cstring(tag).finish();
}

export function encodeErrorResponse(fields: NoticeFields): Buffer {
  return encodeNoticeFields(BackendCode.ErrorResponse, fields);
}

export function encodeNoticeResponse(fields: NoticeFields): Buffer {
  return encodeNoticeFields(BackendCode.NoticeResponse, fields);
}

/**
 * An error report must always be sendable, even when it quotes client text holding a
 * NUL (which would end the field early on the wire): such a NUL becomes U+FFFD.
 */
function encodeNoticeFields(code: number, fields: NoticeFields): Buffer {
  let bodyBytes = 1;
  for (const [name] of NOTICE_FIELD_CODES) {
    const value = fields[name];
    if (value !== undefined) bodyBytes += 2 + Buffer.byteLength(withoutNul(value), 'utf8');
  }
  const writer = MessageWriter.typed(code, bodyBytes);
  for (const [name, fieldCode] of NOTICE_FIELD_CODES) {
    const value = fields[name];
    if (value !== undefined) writer.byte(fieldCode).cstring(withoutNul(value));
  }
  return writer.byte(0).finish();
}

function withoutNul(value: string): string {
  return value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value;
}
