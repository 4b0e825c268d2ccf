import { ProtocolError } from './errors.ts';
import type { FrontendMessage } from './frontend-messages.ts';
import { checkCount, cstringBytes, MessageWriter } from './message-writer.ts';
import { CANCEL_REQUEST_CODE, FrontendCode, GSSENC_REQUEST_CODE, SSL_REQUEST_CODE } from './message-codes.ts';

// Precomputed bodiless messages. Shared: never write into them.
export const SYNC = MessageWriter.typed(FrontendCode.Sync, 0).finish();
export const FLUSH = MessageWriter.typed(FrontendCode.Flush, 0).finish();
export const TERMINATE = MessageWriter.typed(FrontendCode.Terminate, 0).finish();
const COPY_DONE = MessageWriter.typed(FrontendCode.CopyDone, 0).finish();
const SSL_REQUEST = MessageWriter.untyped(4).int32(SSL_REQUEST_CODE).finish();
const GSSENC_REQUEST = MessageWriter.untyped(4).int32(GSSENC_REQUEST_CODE).finish();

/**
 * Encodes a client message; startup-phase messages get the untyped form.
 * Bodiless messages return shared precomputed buffers.
 */
export function encodeFrontend(message: FrontendMessage): Buffer {
  switch (message.type) {
    case 'Startup':
      return encodeStartup(message.protocolVersion, message.parameters);
    case 'SSLRequest':
      return SSL_REQUEST;
    case 'GSSENCRequest':
      return GSSENC_REQUEST;
    case 'CancelRequest':
      return MessageWriter.untyped(12)
        .int32(CANCEL_REQUEST_CODE)
        .uint32(message.processId)
        .uint32(message.secretKey)
        .finish();
    case 'Query':
      return MessageWriter.typed(FrontendCode.Query, cstringBytes(message.sql, 'query string'))
        .cstring(message.sql)
        .finish();
    case 'Parse':
      return encodeParse(message.name, message.sql, message.parameterTypes);
    case 'Bind':
      return encodeBind(message);
    case 'Describe':
    case 'Close': {
      const code = message.type === 'Describe' ? FrontendCode.Describe : FrontendCode.Close;
      return MessageWriter.typed(code, 1 + cstringBytes(message.name, 'name'))
        .byte(message.kind.charCodeAt(0))
        .cstring(message.name)
        .finish();
    }
    case 'Execute':
      return MessageWriter.typed(FrontendCode.Execute, cstringBytes(message.portal, 'portal name') + 4)
        .cstring(message.portal)
        .int32(message.maxRows)
        .finish();
    case 'Sync':
      return SYNC;
    case 'Flush':
      return FLUSH;
    case 'Terminate':
      return TERMINATE;
    case 'CopyData':
      return MessageWriter.typed(FrontendCode.CopyData, message.data.length).bytes(message.data).finish();
    case 'CopyDone':
      return COPY_DONE;
    case 'CopyFail':
      return MessageWriter.typed(FrontendCode.CopyFail, cstringBytes(message.message, 'error message'))
        .cstring(message.message)
        .finish();
    case 'Password':
      return MessageWriter.typed(FrontendCode.Password, message.data.length).bytes(message.data).finish();
    case 'FunctionCall':
      // The message type carries no call, so this is the smallest well-formed one:
      // function OID 0, no arguments, text result. It exists for symmetry and tests.
      return MessageWriter.typed(FrontendCode.FunctionCall, 10).uint32(0).count(0).count(0).int16(0).finish();
  }
}

function encodeStartup(protocolVersion: number, parameters: Record<string, string>): Buffer {
  const entries = Object.entries(parameters);
  let bodyBytes = 4 + 1;
  for (const [name, value] of entries) {
    if (name === '') throw new ProtocolError('a startup parameter name must not be empty');
    bodyBytes += cstringBytes(name, 'startup parameter name') + cstringBytes(value, `value of parameter "${name}"`);
  }
  const writer = MessageWriter.untyped(bodyBytes).uint32(protocolVersion);
  for (const [name, value] of entries) writer.cstring(name).cstring(value);
  return writer.byte(0).finish();
}

function encodeParse(name: string, sql: string, parameterTypes: number[]): Buffer {
  const count = checkCount(parameterTypes.length, 'parameter types');
  const writer = MessageWriter.typed(
    FrontendCode.Parse,
    cstringBytes(name, 'statement name') + cstringBytes(sql, 'query string') + 2 + 4 * count,
  )
    .cstring(name)
    .cstring(sql)
    .count(count);
  for (const oid of parameterTypes) writer.uint32(oid);
  return writer.finish();
}

function encodeBind(message: Extract<FrontendMessage, { type: 'Bind' }>): Buffer {
  const { parameterFormats, parameters, resultFormats } = message;
  checkCount(parameterFormats.length, 'parameter format codes');
  checkCount(parameters.length, 'parameters');
  checkCount(resultFormats.length, 'result format codes');
  let bodyBytes =
    cstringBytes(message.portal, 'portal name') +
    cstringBytes(message.statement, 'statement name') +
    6 +
    2 * parameterFormats.length +
    4 * parameters.length +
    2 * resultFormats.length;
  for (const value of parameters) if (value !== null) bodyBytes += value.length;
  const writer = MessageWriter.typed(FrontendCode.Bind, bodyBytes)
    .cstring(message.portal)
    .cstring(message.statement)
    .count(parameterFormats.length);
  for (const format of parameterFormats) writer.int16(format);
  writer.count(parameters.length);
  for (const value of parameters) writer.nullableBytes(value);
  writer.count(resultFormats.length);
  for (const format of resultFormats) writer.int16(format);
  return writer.finish();
}

/** SASLInitialResponse: mechanism name, Int32 length (-1 for none), the client's first message. */
export function encodeSASLInitialResponse(mechanism: string, response: Buffer | null): Buffer {
  const responseBytes = response === null ? 0 : response.length;
  return MessageWriter.typed(FrontendCode.Password, cstringBytes(mechanism, 'SASL mechanism') + 4 + responseBytes)
    .cstring(mechanism)
    .nullableBytes(response)
    .finish();
}

/** SASLResponse: the mechanism's message, unframed. */
export function encodeSASLResponse(data: Buffer): Buffer {
  return MessageWriter.typed(FrontendCode.Password, data.length).bytes(data).finish();
}

/** PasswordMessage: the cleartext password or "md5" + hex digest, NUL-terminated. */
export function encodePasswordMessage(password: string): Buffer {
  return MessageWriter.typed(FrontendCode.Password, cstringBytes(password, 'password')).cstring(password).finish();
}
