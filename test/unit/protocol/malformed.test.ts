// Every malformed input is a ProtocolError (SQLSTATE 08P01): never another error, never a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dataRowValues,
  decodeBackend,
  decodeFrontend,
  decodePasswordMessage,
  decodeSASLInitialResponse,
  decodeSASLMechanisms,
  encodeBackend,
  encodeFrontend,
  FrameReader,
  ProtocolError,
  readyForQueryStatus,
  type Frame,
} from '../../../src/protocol/index.ts';

function h(hex: string): Buffer {
  return Buffer.from(hex.replaceAll(' ', ''), 'hex');
}
function z(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'utf8'), h('00')]);
}

/** A typed frame with a correct length field around `body`. */
function typed(letter: string, ...body: Buffer[]): Frame {
  const payload = Buffer.concat(body);
  const raw = Buffer.alloc(5 + payload.length);
  raw[0] = letter.charCodeAt(0);
  raw.writeInt32BE(payload.length + 4, 1);
  payload.copy(raw, 5);
  const frames = new FrameReader().push(raw);
  assert.equal(frames.length, 1);
  return frames[0]!;
}

/** An untyped startup packet with a correct length field around `body`. */
function untyped(...body: Buffer[]): Frame {
  const payload = Buffer.concat(body);
  const raw = Buffer.alloc(4 + payload.length);
  raw.writeInt32BE(payload.length + 4, 0);
  payload.copy(raw, 4);
  const frames = new FrameReader({ startup: true }).push(raw);
  assert.equal(frames.length, 1);
  return frames[0]!;
}

function assertProtocolError(action: () => unknown, pattern?: RegExp): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`);
    assert.equal(error.sqlstate, '08P01');
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

const malformedFrontend: Array<[string, () => Frame, RegExp?]> = [
  ['unknown type byte', () => typed('z'), /'z' \(0x7a\)/],
  ['unprintable type byte', () => typed('\x01'), /0x01/],
  ['Query without NUL', () => typed('Q', Buffer.from('SELECT 1')), /not NUL-terminated/],
  ['Query with bytes after the NUL', () => typed('Q', z('SELECT 1'), h('00')), /unexpected bytes/],
  ['Query with invalid UTF-8', () => typed('Q', h('53 ff 00')), /UTF-8/],
  ['Query with an overlong UTF-8 form', () => typed('Q', h('c0 af 00')), /UTF-8/],
  ['empty Query body', () => typed('Q')],
  ['Parse with a missing query string', () => typed('P', z('s'))],
  ['Parse with more types than bytes', () => typed('P', z(''), z('x'), h('00 02 00 00 00 17'))],
  ['Parse with a missing type count', () => typed('P', z(''), z('x'))],
  ['Parse with bytes after the types', () => typed('P', z(''), z('x'), h('00 00 01'))],
  ['Bind with format code 2', () => typed('B', z(''), z(''), h('00 01 00 02 00 00 00 00'))],
  [
    'Bind with 2 format codes for 3 parameters',
    () => typed('B', z(''), z(''), h('00 02 00 00 00 00 00 03 ff ff ff ff ff ff ff ff ff ff ff ff 00 00')),
    /2 parameter format codes for 3 parameters/,
  ],
  ['Bind with value length -2', () => typed('B', z(''), z(''), h('00 00 00 01 ff ff ff fe 00 00')), /negative/],
  ['Bind with a value past the end', () => typed('B', z(''), z(''), h('00 00 00 01 00 00 00 09 01 02 00 00'))],
  ['Bind with result format 5', () => typed('B', z(''), z(''), h('00 00 00 00 00 01 00 05'))],
  ['Bind without result formats', () => typed('B', z(''), z(''), h('00 00 00 00'))],
  ['Bind with bytes after the result formats', () => typed('B', z(''), z(''), h('00 00 00 00 00 00 00'))],
  ['Bind with a parameter count past the end', () => typed('B', z(''), z(''), h('00 00 ff ff 00 00'))],
  ['Describe with kind X', () => typed('D', h('58'), z('s')), /'S' or 'P'/],
  ['Describe without a name', () => typed('D', h('53'))],
  ['Describe with no body', () => typed('D')],
  ['Close with kind lowercase s', () => typed('C', h('73'), z('s')), /'S' or 'P'/],
  ['Close with bytes after the name', () => typed('C', h('50'), z('p'), h('00'))],
  ['Execute without the row count', () => typed('E', z('p'))],
  ['Execute with a short row count', () => typed('E', z('p'), h('00 00 01'))],
  ['Sync with a body', () => typed('S', h('00'))],
  ['Flush with a body', () => typed('H', h('00'))],
  ['Terminate with a body', () => typed('X', h('00'))],
  ['CopyDone with a body', () => typed('c', h('00'))],
  ['CopyFail without NUL', () => typed('f', Buffer.from('boom'))],
  ['FunctionCall without a result format', () => typed('F', h('00 00 00 01 00 00 00 00'))],
  ['FunctionCall with result format 2', () => typed('F', h('00 00 00 01 00 00 00 00 00 02'))],
  ['FunctionCall with format count mismatch', () => typed('F', h('00 00 00 01 00 02 00 00 00 00 00 00 00 00'))],
  ['StartupMessage of protocol 2.0', () => untyped(h('00 02 00 00'), z('user'), z('u'), h('00')), /protocol 2\.0/],
  ['StartupMessage of protocol 4.0', () => untyped(h('00 04 00 00 00')), /protocol 4\.0/],
  ['StartupMessage without the final NUL', () => untyped(h('00 03 00 00'), z('user'), z('u'))],
  ['StartupMessage with a name and no value', () => untyped(h('00 03 00 00'), z('user'))],
  ['StartupMessage with a value not NUL-terminated', () => untyped(h('00 03 00 00'), z('user'), Buffer.from('u'))],
  ['StartupMessage with bytes after the final NUL', () => untyped(h('00 03 00 00'), z('user'), z('u'), h('00 41'))],
  ['StartupMessage with no parameter list at all', () => untyped(h('00 03 00 00'))],
  ['SSLRequest with extra bytes', () => untyped(h('04 d2 16 2f 00'))],
  ['GSSENCRequest with extra bytes', () => untyped(h('04 d2 16 30 00 00 00 00'))],
  ['CancelRequest without its key', () => untyped(h('04 d2 16 2e 00 00 00 01'))],
  ['CancelRequest with extra bytes', () => untyped(h('04 d2 16 2e 00 00 00 01 00 00 00 02 00'))],
  ['typed frame with type byte 0x00 posing as a startup packet', () => typed('\x00', h('04 d2 16 2f')), /0x00/],
  ['startup packet body shorter than a code', () => ({ code: 0, body: h('00 03'), raw: h('00 00 00 06 00 03') })],
];

for (const [name, frame, pattern] of malformedFrontend) {
  test(`frontend: ${name} is a ProtocolError`, () => {
    assertProtocolError(() => decodeFrontend(frame()), pattern);
  });
}

const malformedBackend: Array<[string, () => Frame, RegExp?]> = [
  ['unknown type byte', () => typed('q'), /'q' \(0x71\)/],
  ['Authentication with unknown code 99', () => typed('R', h('00 00 00 63')), /99/],
  ['Authentication without a code', () => typed('R', h('00 00'))],
  ['AuthenticationOk with extra data', () => typed('R', h('00 00 00 00 00'))],
  ['AuthenticationCleartextPassword with extra data', () => typed('R', h('00 00 00 03 01'))],
  ['AuthenticationMD5Password with a 3-byte salt', () => typed('R', h('00 00 00 05 01 02 03'))],
  ['AuthenticationMD5Password with a 5-byte salt', () => typed('R', h('00 00 00 05 01 02 03 04 05'))],
  ['AuthenticationSASL with an unterminated list', () => typed('R', h('00 00 00 0a'), z('SCRAM-SHA-256'))],
  ['AuthenticationSASL with no mechanism', () => typed('R', h('00 00 00 0a 00'))],
  ['AuthenticationSASL with an empty body', () => typed('R', h('00 00 00 0a'))],
  ['ParameterStatus without a value', () => typed('S', z('a'))],
  ['ParameterStatus with a value not NUL-terminated', () => typed('S', z('a'), Buffer.from('b'))],
  ['BackendKeyData too short', () => typed('K', h('00 00 00 01 00 00'))],
  ['BackendKeyData too long', () => typed('K', h('00 00 00 01 00 00 00 02 00'))],
  ['ReadyForQuery with status X', () => typed('Z', h('58')), /0x58/],
  ['ReadyForQuery with two bytes', () => typed('Z', h('49 49'))],
  ['ReadyForQuery with no status', () => typed('Z')],
  ['RowDescription with a missing field', () => typed('T', h('00 01'))],
  [
    'RowDescription with format 2',
    () => typed('T', h('00 01'), z('a'), h('00 00 00 00 00 00 00 00 00 17 00 04 ff ff ff ff 00 02')),
    /format code/,
  ],
  [
    'RowDescription with a truncated field',
    () => typed('T', h('00 01'), z('a'), h('00 00 00 00 00 00 00 00 00 17 00 04 ff ff ff ff 00')),
  ],
  ['RowDescription with a count past the end', () => typed('T', h('ff ff'), z('a'))],
  ['DataRow with more columns than bytes', () => typed('D', h('00 02 00 00 00 01 31'))],
  ['DataRow with column length -2', () => typed('D', h('00 01 ff ff ff fe'))],
  ['DataRow with a value past the end', () => typed('D', h('00 01 00 00 00 05 31 32'))],
  ['DataRow with bytes after the last column', () => typed('D', h('00 01 00 00 00 01 31 32'))],
  ['DataRow with no count', () => typed('D', h('00'))],
  ['DataRow whose count is too large for the body', () => typed('D', h('ff ff 00 00 00 00'))],
  ['CommandComplete without NUL', () => typed('C', Buffer.from('SELECT 1'))],
  ['EmptyQueryResponse with a body', () => typed('I', h('00'))],
  ['ErrorResponse without the final zero', () => typed('E', h('53'), z('ERROR'))],
  ['ErrorResponse with a field value not NUL-terminated', () => typed('E', h('4d'), Buffer.from('oops'))],
  ['ErrorResponse with bytes after the final zero', () => typed('E', h('00 00'))],
  ['NoticeResponse with an empty body', () => typed('N')],
  ['ParseComplete with a body', () => typed('1', h('00'))],
  ['BindComplete with a body', () => typed('2', h('00'))],
  ['CloseComplete with a body', () => typed('3', h('00'))],
  ['NoData with a body', () => typed('n', h('00'))],
  ['PortalSuspended with a body', () => typed('s', h('00'))],
  ['ParameterDescription with more types than bytes', () => typed('t', h('00 02 00 00 00 17'))],
  ['ParameterDescription with bytes after the types', () => typed('t', h('00 00 00'))],
  ['CopyInResponse with format 2', () => typed('G', h('02 00 00'))],
  ['CopyOutResponse with column format 3', () => typed('H', h('01 00 01 00 03'))],
  ['CopyBothResponse textual with a binary column', () => typed('W', h('00 00 01 00 01')), /textual/],
  ['CopyInResponse with a missing column format', () => typed('G', h('00 00 02 00 00'))],
  ['CopyDone with a body', () => typed('c', h('00'))],
  ['NotificationResponse without a payload', () => typed('A', h('00 00 00 01'), z('ch'))],
  ['NegotiateProtocolVersion with a negative count', () => typed('v', h('00 03 00 00 ff ff ff ff'))],
  ['NegotiateProtocolVersion with major version 2', () => typed('v', h('00 02 00 00 00 00 00 00')), /2\.0/],
  ['NegotiateProtocolVersion with a count past the end', () => typed('v', h('00 03 00 00 00 00 00 02'), z('_pq_.a'))],
  ['FunctionCallResponse with length -5', () => typed('V', h('ff ff ff fb')), /negative/],
  ['FunctionCallResponse with a value past the end', () => typed('V', h('00 00 00 03 01'))],
  ['FunctionCallResponse with bytes after the value', () => typed('V', h('00 00 00 00 01'))],
  ['CommandComplete with invalid UTF-8', () => typed('C', h('e2 82 00')), /UTF-8/],
];

for (const [name, frame, pattern] of malformedBackend) {
  test(`backend: ${name} is a ProtocolError`, () => {
    assertProtocolError(() => decodeBackend(frame()), pattern);
  });
}

test('fast-path readers refuse the wrong message type', () => {
  assertProtocolError(() => dataRowValues(typed('Z', h('49'))), /DataRow/);
  assertProtocolError(() => readyForQueryStatus(typed('D', h('00 00'))), /ReadyForQuery/);
});

test('SASL and password payloads are validated', () => {
  assertProtocolError(() => decodeSASLInitialResponse(Buffer.from('SCRAM-SHA-256')));
  assertProtocolError(() => decodeSASLInitialResponse(Buffer.concat([z('M'), h('00 00 00 05 01')])));
  assertProtocolError(() => decodeSASLInitialResponse(Buffer.concat([z('M'), h('00 00 00 01 01 02')])));
  assertProtocolError(() => decodeSASLInitialResponse(Buffer.concat([z('M'), h('ff ff ff fe')])));
  assertProtocolError(() => decodeSASLInitialResponse(z('M')));
  assertProtocolError(() => decodePasswordMessage(Buffer.from('secret')), /NUL-terminated/);
  assertProtocolError(() => decodePasswordMessage(Buffer.concat([z('secret'), h('41')])), /after the password/);
  assertProtocolError(() => decodePasswordMessage(h('ff 00')), /UTF-8/);
  assertProtocolError(() => decodeSASLMechanisms(h('')));
});

test('FrameReader: a typed length below 4 is a ProtocolError', () => {
  for (const length of [0, 1, 3, -1, -0x80000000]) {
    const header = Buffer.alloc(5);
    header[0] = 0x51;
    header.writeInt32BE(length, 1);
    assertProtocolError(() => new FrameReader().push(header), /invalid message length/);
  }
});

test('FrameReader: a length above maxMessageBytes is a ProtocolError before any body arrives', () => {
  const header = h('64 00 00 04 01');
  assertProtocolError(() => new FrameReader({ maxMessageBytes: 1024 }).push(header), /1025/);
  assert.equal(new FrameReader({ maxMessageBytes: 1025 }).push(header).length, 0);
  // The default limit is 256 MiB.
  assertProtocolError(() => new FrameReader().push(h('64 10 00 00 01')));
  assert.equal(new FrameReader().push(h('64 10 00 00 00')).length, 0);
});

test('FrameReader: a startup length below 8 or above 10000 is a ProtocolError', () => {
  for (const length of [0, 4, 7, 10001, 0x7fffffff, -8]) {
    const header = Buffer.alloc(4);
    header.writeInt32BE(length, 0);
    assertProtocolError(() => new FrameReader({ startup: true }).push(header), /startup packet/);
  }
});

test('FrameReader: a length error found across chunks is still a ProtocolError', () => {
  const reader = new FrameReader();
  assert.deepEqual(reader.push(h('51 00')), []);
  assertProtocolError(() => reader.push(h('00 00 02')));
});

test('FrameReader: after a ProtocolError every push fails the same way', () => {
  const reader = new FrameReader();
  let first: unknown;
  try {
    reader.push(h('51 00 00 00 00'));
  } catch (error) {
    first = error;
  }
  assert.ok(first instanceof ProtocolError);
  assert.throws(() => reader.push(encodeFrontend({ type: 'Sync' })), (error) => error === first);
});

test('FrameReader: an HTTP request or a TLS ClientHello sent as a startup packet is refused', () => {
  assertProtocolError(() => new FrameReader({ startup: true }).push(Buffer.from('GET / HTTP/1.1\r\n\r\n')));
  assertProtocolError(() => new FrameReader({ startup: true }).push(h('16 03 01 02 00 01 00 01 fc 03 03')));
});

test('encoders refuse what the wire cannot carry', () => {
  assertProtocolError(() => encodeFrontend({ type: 'Query', sql: 'SELECT 1\0; DROP TABLE t' }), /NUL/);
  assertProtocolError(() => encodeFrontend({ type: 'Startup', protocolVersion: 196608, parameters: { '': 'x' } }));
  assertProtocolError(() => encodeBackend({ type: 'DataRow', values: new Array(65536).fill(null) }), /65535/);
  assertProtocolError(() => encodeBackend({ type: 'CommandComplete', tag: 'A\0' }));
});
