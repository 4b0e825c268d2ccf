import { BodyReader, decodeUtf8, readFormatCodes } from './body-reader.ts';
import { ProtocolError } from './errors.ts';
import { describeByte, type Frame } from './frames.ts';
import { CANCEL_REQUEST_CODE, FrontendCode, GSSENC_REQUEST_CODE, SSL_REQUEST_CODE } from './message-codes.ts';

export {
  encodeFrontend,
  encodePasswordMessage,
  encodeSASLInitialResponse,
  encodeSASLResponse,
  FLUSH,
  SYNC,
  TERMINATE,
} from './frontend-encode.ts';

export type { FrontendMessage } from './frontend-messages.ts';
import type { FrontendMessage } from './frontend-messages.ts';

const SYNC_MESSAGE = { type: 'Sync' } as const;
const FLUSH_MESSAGE = { type: 'Flush' } as const;
const TERMINATE_MESSAGE = { type: 'Terminate' } as const;
const COPY_DONE_MESSAGE = { type: 'CopyDone' } as const;

/**
 * Decodes a client message, validating it completely: a malformed one is a
 * ProtocolError, as PostgreSQL makes it a protocol_violation.
 * The returned objects for bodiless messages are shared; do not mutate them.
 */
export function decodeFrontend(frame: Frame): FrontendMessage {
  const body = frame.body;
  switch (frame.code) {
    case 0:
      // Code 0 marks an untyped startup packet, whose raw form has no type byte; a
      // typed frame whose type byte happens to be 0x00 is not one.
      if (frame.raw.length !== body.length + 4) throw new ProtocolError('invalid frontend message type 0x00');
      return decodeStartupPacket(body);
    case FrontendCode.Query: {
      const reader = new BodyReader(body, 'Query');
      const sql = reader.cstring('query string');
      reader.end();
      return { type: 'Query', sql };
    }
    case FrontendCode.Parse:
      return decodeParse(body);
    case FrontendCode.Bind:
      return decodeBind(body);
    case FrontendCode.Describe: {
      const reader = new BodyReader(body, 'Describe');
      const kind = readTargetKind(reader);
      const name = reader.cstring('name');
      reader.end();
      return { type: 'Describe', kind, name };
    }
    case FrontendCode.Execute: {
      const reader = new BodyReader(body, 'Execute');
      const portal = reader.cstring('portal name');
      // PostgreSQL treats any maxRows <= 0 as "no limit".
      const maxRows = reader.int32('maximum row count');
      reader.end();
      return { type: 'Execute', portal, maxRows };
    }
    case FrontendCode.Close: {
      const reader = new BodyReader(body, 'Close');
      const kind = readTargetKind(reader);
      const name = reader.cstring('name');
      reader.end();
      return { type: 'Close', kind, name };
    }
    case FrontendCode.Sync:
      expectEmpty(body, 'Sync');
      return SYNC_MESSAGE;
    case FrontendCode.Flush:
      expectEmpty(body, 'Flush');
      return FLUSH_MESSAGE;
    case FrontendCode.Terminate:
      expectEmpty(body, 'Terminate');
      return TERMINATE_MESSAGE;
    case FrontendCode.CopyData:
      return { type: 'CopyData', data: body };
    case FrontendCode.CopyDone:
      expectEmpty(body, 'CopyDone');
      return COPY_DONE_MESSAGE;
    case FrontendCode.CopyFail: {
      const reader = new BodyReader(body, 'CopyFail');
      const message = reader.cstring('error message');
      reader.end();
      return { type: 'CopyFail', message };
    }
    case FrontendCode.Password:
      return { type: 'Password', data: body };
    case FrontendCode.FunctionCall:
      validateFunctionCall(body);
      return { type: 'FunctionCall' };
    default:
      throw new ProtocolError(`invalid frontend message type ${describeByte(frame.code)}`);
  }
}

/**
 * The untyped first packet: StartupMessage, SSLRequest, GSSENCRequest or CancelRequest,
 * told apart by the Int32 after the length.
 */
function decodeStartupPacket(body: Buffer): FrontendMessage {
  const reader = new BodyReader(body, 'startup packet');
  const code = reader.int32('protocol version');
  switch (code) {
    case SSL_REQUEST_CODE:
      reader.end();
      return { type: 'SSLRequest' };
    case GSSENC_REQUEST_CODE:
      reader.end();
      return { type: 'GSSENCRequest' };
    case CANCEL_REQUEST_CODE: {
      const processId = reader.uint32('process id');
      const secretKey = reader.uint32('secret key');
      reader.end();
      return { type: 'CancelRequest', processId, secretKey };
    }
  }
  // Any 3.x is returned so that a server can answer a newer minor version with
  // NegotiateProtocolVersion rather than refuse it (protocol-flow.html, "Start-up").
  const major = code >>> 16;
  if (major !== 3) {
    throw new ProtocolError(`unsupported frontend protocol ${major}.${code & 0xffff}: server supports 3.0`);
  }
  const parameters: Record<string, string> = {};
  for (;;) {
    const name = reader.cstring('parameter name');
    if (name === '') break;
    const value = reader.cstring(`value of parameter "${name}"`);
    // defineProperty, so that a parameter named "__proto__" is data, not a prototype.
    Object.defineProperty(parameters, name, { value, enumerable: true, writable: true, configurable: true });
  }
  reader.end();
  return { type: 'Startup', protocolVersion: code, parameters };
}

function decodeParse(body: Buffer): FrontendMessage {
  const reader = new BodyReader(body, 'Parse');
  const name = reader.cstring('statement name');
  const sql = reader.cstring('query string');
  const count = reader.count('number of parameter types');
  reader.need(count * 4, 'parameter types');
  const parameterTypes = new Array<number>(count);
  for (let i = 0; i < count; i++) parameterTypes[i] = reader.uint32('parameter type');
  reader.end();
  return { type: 'Parse', name, sql, parameterTypes };
}

function decodeBind(body: Buffer): FrontendMessage {
  const reader = new BodyReader(body, 'Bind');
  const portal = reader.cstring('portal name');
  const statement = reader.cstring('statement name');
  const parameterFormats = readFormatCodes(reader, 'parameter format codes');
  const parameters = readArguments(reader, parameterFormats.length, 'parameter');
  const resultFormats = readFormatCodes(reader, 'result format codes');
  reader.end();
  return { type: 'Bind', portal, statement, parameterFormats, parameters, resultFormats };
}

/**
 * Argument values of Bind and FunctionCall; the format code count before them must be
 * 0 (all text), 1 (one for all) or one per argument.
 */
function readArguments(reader: BodyReader, formatCount: number, what: string): (Buffer | null)[] {
  const count = reader.count(`number of ${what}s`);
  if (formatCount > 1 && formatCount !== count) {
    reader.fail(`${formatCount} ${what} format codes for ${count} ${what}s`);
  }
  reader.need(count * 4, `${what} values`);
  const values = new Array<Buffer | null>(count);
  for (let i = 0; i < count; i++) values[i] = reader.nullableBytes(`${what} ${i + 1}`);
  return values;
}

function validateFunctionCall(body: Buffer): void {
  const reader = new BodyReader(body, 'FunctionCall');
  reader.uint32('function OID');
  const formats = readFormatCodes(reader, 'argument format codes');
  readArguments(reader, formats.length, 'argument');
  const resultFormat = reader.int16('result format code');
  if (resultFormat !== 0 && resultFormat !== 1) reader.fail(`result format code must be 0 or 1, got ${resultFormat}`);
  reader.end();
}

function readTargetKind(reader: BodyReader): 'S' | 'P' {
  const kind = reader.byte('kind');
  if (kind === 0x53) return 'S';
  if (kind === 0x50) return 'P';
  return reader.fail(`kind must be 'S' or 'P', got ${describeByte(kind)}`);
}

function expectEmpty(body: Buffer, name: string): void {
  if (body.length !== 0) throw new ProtocolError(`invalid ${name} message: expected no body, got ${body.length} bytes`);
}

/**
 * SASLInitialResponse ('p' during SASL): mechanism name, then Int32 length and the
 * mechanism's first message. Length -1 ("no initial response") yields an empty buffer.
 */
export function decodeSASLInitialResponse(data: Buffer): { mechanism: string; response: Buffer } {
  const reader = new BodyReader(data, 'SASLInitialResponse');
  const mechanism = reader.cstring('mechanism name');
  const response = reader.nullableBytes('initial response') ?? data.subarray(data.length);
  reader.end();
  return { mechanism, response };
}

/** PasswordMessage ('p' after AuthenticationCleartextPassword or MD5Password). */
export function decodePasswordMessage(data: Buffer): string {
  const end = data.indexOf(0);
  if (end !== data.length - 1) {
    throw new ProtocolError(
      end < 0 ? 'invalid PasswordMessage: password is not NUL-terminated' : 'invalid PasswordMessage: bytes after the password',
    );
  }
  return decodeUtf8(data, 0, end, () => {
    throw new ProtocolError('invalid PasswordMessage: password is not valid UTF-8');
  });
}
