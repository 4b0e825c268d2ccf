import { BodyReader, readFormatCodes } from './body-reader.ts';
import { ProtocolError } from './errors.ts';
import { describeByte, type Frame } from './frames.ts';
import { AuthenticationCode, BackendCode } from './message-codes.ts';
import { NOTICE_FIELD_BY_CODE, type NoticeFields } from '../shared/notice-fields.ts';

export type { NoticeFields } from '../shared/notice-fields.ts';
export {
  AUTHENTICATION_OK,
  BIND_COMPLETE,
  CLOSE_COMPLETE,
  COPY_DONE,
  EMPTY_QUERY_RESPONSE,
  encodeAuthentication,
  encodeBackend,
  encodeBackendKeyData,
  encodeCommandComplete,
  encodeDataRow,
  encodeErrorResponse,
  encodeNoticeResponse,
  encodeParameterStatus,
  encodeRowDescription,
  encodeSASLMechanisms,
  NO_DATA,
  PARSE_COMPLETE,
  PORTAL_SUSPENDED,
  readyForQuery,
} from './backend-encode.ts';

export type { FieldDescription, BackendMessage } from './backend-messages.ts';
import type { FieldDescription, BackendMessage } from './backend-messages.ts';

// Bodiless messages decode to shared objects: do not mutate them.
const EMPTY_QUERY_RESPONSE_MESSAGE = { type: 'EmptyQueryResponse' } as const;
const PARSE_COMPLETE_MESSAGE = { type: 'ParseComplete' } as const;
const BIND_COMPLETE_MESSAGE = { type: 'BindComplete' } as const;
const CLOSE_COMPLETE_MESSAGE = { type: 'CloseComplete' } as const;
const NO_DATA_MESSAGE = { type: 'NoData' } as const;
const PORTAL_SUSPENDED_MESSAGE = { type: 'PortalSuspended' } as const;
const COPY_DONE_MESSAGE = { type: 'CopyDone' } as const;

/** Decodes a server message, validating it completely; a malformed one is a ProtocolError. */
export function decodeBackend(frame: Frame): BackendMessage {
  const body = frame.body;
  switch (frame.code) {
    case BackendCode.DataRow:
      return { type: 'DataRow', values: dataRowValues(frame) };
    case BackendCode.CommandComplete: {
      const reader = new BodyReader(body, 'CommandComplete');
      const tag = reader.cstring('command tag');
      reader.end();
      return { type: 'CommandComplete', tag };
    }
    case BackendCode.ReadyForQuery:
      return { type: 'ReadyForQuery', status: readyForQueryStatus(frame) };
    case BackendCode.RowDescription:
      return decodeRowDescription(body);
    case BackendCode.ParseComplete:
      expectEmpty(body, 'ParseComplete');
      return PARSE_COMPLETE_MESSAGE;
    case BackendCode.BindComplete:
      expectEmpty(body, 'BindComplete');
      return BIND_COMPLETE_MESSAGE;
    case BackendCode.CloseComplete:
      expectEmpty(body, 'CloseComplete');
      return CLOSE_COMPLETE_MESSAGE;
    case BackendCode.NoData:
      expectEmpty(body, 'NoData');
      return NO_DATA_MESSAGE;
    case BackendCode.PortalSuspended:
      expectEmpty(body, 'PortalSuspended');
      return PORTAL_SUSPENDED_MESSAGE;
    case BackendCode.EmptyQueryResponse:
      expectEmpty(body, 'EmptyQueryResponse');
      return EMPTY_QUERY_RESPONSE_MESSAGE;
    case BackendCode.ErrorResponse:
      return { type: 'ErrorResponse', fields: decodeNoticeFields(body, 'ErrorResponse') };
    case BackendCode.NoticeResponse:
      return { type: 'NoticeResponse', fields: decodeNoticeFields(body, 'NoticeResponse') };
    case BackendCode.ParameterDescription: {
      const reader = new BodyReader(body, 'ParameterDescription');
      const count = reader.count('number of parameters');
      reader.need(count * 4, 'parameter types');
      const typeOids = new Array<number>(count);
      for (let i = 0; i < count; i++) typeOids[i] = reader.uint32('parameter type');
      reader.end();
      return { type: 'ParameterDescription', typeOids };
    }
    case BackendCode.Authentication:
      return decodeAuthentication(body);
    case BackendCode.ParameterStatus: {
      const reader = new BodyReader(body, 'ParameterStatus');
      const name = reader.cstring('parameter name');
      const value = reader.cstring('parameter value');
      reader.end();
      return { type: 'ParameterStatus', name, value };
    }
    case BackendCode.BackendKeyData: {
      const reader = new BodyReader(body, 'BackendKeyData');
      const processId = reader.uint32('process id');
      const secretKey = reader.uint32('secret key');
      reader.end();
      return { type: 'BackendKeyData', processId, secretKey };
    }
    case BackendCode.CopyInResponse:
      return decodeCopyResponse(body, 'CopyInResponse');
    case BackendCode.CopyOutResponse:
      return decodeCopyResponse(body, 'CopyOutResponse');
    case BackendCode.CopyBothResponse:
      return decodeCopyResponse(body, 'CopyBothResponse');
    case BackendCode.CopyData:
      return { type: 'CopyData', data: body };
    case BackendCode.CopyDone:
      expectEmpty(body, 'CopyDone');
      return COPY_DONE_MESSAGE;
    case BackendCode.NotificationResponse: {
      const reader = new BodyReader(body, 'NotificationResponse');
      const processId = reader.uint32('process id');
      const channel = reader.cstring('channel name');
      const payload = reader.cstring('payload');
      reader.end();
      return { type: 'NotificationResponse', processId, channel, payload };
    }
    case BackendCode.NegotiateProtocolVersion:
      return decodeNegotiateProtocolVersion(body);
    case BackendCode.FunctionCallResponse: {
      const reader = new BodyReader(body, 'FunctionCallResponse');
      const value = reader.nullableBytes('result value');
      reader.end();
      return { type: 'FunctionCallResponse', value };
    }
    default:
      throw new ProtocolError(`invalid backend message type ${describeByte(frame.code)}`);
  }
}

/**
 * The values of a DataRow as views into the frame (null for SQL NULL), without
 * building a message object: the path every forwarded row takes.
 */
export function dataRowValues(frame: Frame): (Buffer | null)[] {
  const body = frame.body;
  if (frame.code !== BackendCode.DataRow) {
    throw new ProtocolError(`expected a DataRow message, got type ${describeByte(frame.code)}`);
  }
  const end = body.length;
  if (end < 2) throw invalidDataRow('the column count runs past the end of the message');
  const count = body.readUInt16BE(0);
  if (count * 4 > end - 2) throw invalidDataRow(`${count} columns do not fit in ${end} bytes`);
  const values = new Array<Buffer | null>(count);
  let offset = 2;
  for (let i = 0; i < count; i++) {
    if (end - offset < 4) throw invalidDataRow(`the length of column ${i + 1} runs past the end of the message`);
    const length = body.readInt32BE(offset);
    offset += 4;
    if (length === -1) {
      values[i] = null;
    } else if (length < 0 || length > end - offset) {
      throw invalidDataRow(`column ${i + 1} has length ${length} with ${end - offset} bytes left`);
    } else {
      values[i] = body.subarray(offset, offset + length);
      offset += length;
    }
  }
  if (offset !== end) throw invalidDataRow(`${end - offset} unexpected bytes after the last column`);
  return values;
}

function invalidDataRow(problem: string): ProtocolError {
  return new ProtocolError(`invalid DataRow message: ${problem}`);
}

/** The transaction status of a ReadyForQuery frame: idle, in a transaction, or in a failed one. */
export function readyForQueryStatus(frame: Frame): 'I' | 'T' | 'E' {
  if (frame.code !== BackendCode.ReadyForQuery) {
    throw new ProtocolError(`expected a ReadyForQuery message, got type ${describeByte(frame.code)}`);
  }
  const body = frame.body;
  if (body.length !== 1) throw new ProtocolError(`invalid ReadyForQuery message: body of ${body.length} bytes, expected 1`);
  switch (body[0]) {
    case 0x49:
      return 'I';
    case 0x54:
      return 'T';
    case 0x45:
      return 'E';
    default:
      throw new ProtocolError(`invalid ReadyForQuery message: transaction status ${describeByte(body[0]!)}`);
  }
}

/** Smallest field: empty name (1 byte) and six fixed-width attributes (18 bytes). */
const MIN_FIELD_DESCRIPTION_BYTES = 19;

function decodeRowDescription(body: Buffer): BackendMessage {
  const reader = new BodyReader(body, 'RowDescription');
  const count = reader.count('number of fields');
  reader.need(count * MIN_FIELD_DESCRIPTION_BYTES, 'field descriptions');
  const fields = new Array<FieldDescription>(count);
  for (let i = 0; i < count; i++) {
    const name = reader.cstring('field name');
    const tableOid = reader.uint32('table OID');
    const columnAttribute = reader.int16('column attribute number');
    const typeOid = reader.uint32('type OID');
    const typeSize = reader.int16('type size');
    const typeModifier = reader.int32('type modifier');
    const format = reader.int16('format code');
    if (format !== 0 && format !== 1) reader.fail(`format code of field "${name}" must be 0 or 1, got ${format}`);
    fields[i] = { name, tableOid, columnAttribute, typeOid, typeSize, typeModifier, format };
  }
  reader.end();
  return { type: 'RowDescription', fields };
}

/** Pairs of (field byte, NUL-terminated value), ended by a zero byte. */
function decodeNoticeFields(body: Buffer, messageName: string): NoticeFields {
  const reader = new BodyReader(body, messageName);
  const fields: NoticeFields = {};
  for (;;) {
    const code = reader.byte('field type');
    if (code === 0) break;
    const value = reader.cstring(`field ${describeByte(code)}`);
    // The docs ask frontends to ignore field types they do not recognize.
    const name = NOTICE_FIELD_BY_CODE[code];
    if (name !== undefined) fields[name] = value;
  }
  reader.end();
  return fields;
}

function decodeAuthentication(body: Buffer): BackendMessage {
  const reader = new BodyReader(body, 'Authentication');
  const code = reader.int32('authentication code');
  switch (code) {
    case AuthenticationCode.Ok:
    case AuthenticationCode.KerberosV5:
    case AuthenticationCode.CleartextPassword:
    case AuthenticationCode.GSS:
    case AuthenticationCode.SSPI:
      reader.end();
      return { type: 'Authentication', code, data: body.subarray(4) };
    case AuthenticationCode.MD5Password: {
      const data = reader.bytes(4, 'salt');
      reader.end();
      return { type: 'Authentication', code, data };
    }
    case AuthenticationCode.SASL: {
      const data = reader.rest();
      decodeSASLMechanisms(data);
      return { type: 'Authentication', code, data };
    }
    case AuthenticationCode.GSSContinue:
    case AuthenticationCode.SASLContinue:
    case AuthenticationCode.SASLFinal:
      return { type: 'Authentication', code, data: reader.rest() };
    default:
      return reader.fail(`unknown authentication code ${code}`);
  }
}

/** The mechanism names of AuthenticationSASL: each NUL-terminated, the list ended by a NUL. */
export function decodeSASLMechanisms(data: Buffer): string[] {
  const reader = new BodyReader(data, 'AuthenticationSASL');
  const mechanisms: string[] = [];
  for (;;) {
    const mechanism = reader.cstring('mechanism name');
    if (mechanism === '') break;
    mechanisms.push(mechanism);
  }
  reader.end();
  if (mechanisms.length === 0) reader.fail('no SASL mechanism offered');
  return mechanisms;
}

function decodeCopyResponse(
  body: Buffer,
  type: 'CopyInResponse' | 'CopyOutResponse' | 'CopyBothResponse',
): BackendMessage {
  const reader = new BodyReader(body, type);
  const format = reader.byte('overall format');
  if (format !== 0 && format !== 1) reader.fail(`overall format must be 0 or 1, got ${format}`);
  const columnFormats = readFormatCodes(reader, 'column format codes');
  // "If the overall copy format is textual (0), then all these codes must be zero."
  if (format === 0 && columnFormats.some((columnFormat) => columnFormat !== 0)) {
    reader.fail('a textual copy has a binary column format');
  }
  reader.end();
  return { type, format, columnFormats };
}

/**
 * The first Int32 is documented as the newest minor version, but PostgreSQL sends the
 * full version (major << 16 | minor); both readings are accepted, the minor returned.
 */
function decodeNegotiateProtocolVersion(body: Buffer): BackendMessage {
  const reader = new BodyReader(body, 'NegotiateProtocolVersion');
  const version = reader.int32('newest protocol version');
  const major = version >>> 16;
  if (major !== 0 && major !== 3) reader.fail(`newest protocol version ${major}.${version & 0xffff} is not 3.x`);
  const count = reader.int32('number of unrecognized options');
  if (count < 0) reader.fail(`negative number of unrecognized options ${count}`);
  reader.need(count, 'unrecognized options');
  const unrecognized = new Array<string>(count);
  for (let i = 0; i < count; i++) unrecognized[i] = reader.cstring('option name');
  reader.end();
  return { type: 'NegotiateProtocolVersion', newestMinor: version & 0xffff, unrecognized };
}

function expectEmpty(body: Buffer, name: string): void {
  if (body.length !== 0) throw new ProtocolError(`invalid ${name} message: expected no body, got ${body.length} bytes`);
}
