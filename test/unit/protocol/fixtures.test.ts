// Hand-written bytes for every message, following
// https://www.postgresql.org/docs/15/protocol-message-formats.html: each fixture is
// checked in both directions (encode gives these bytes, decode gives this message).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BIND_COMPLETE,
  CLOSE_COMPLETE,
  COPY_DONE,
  decodeBackend,
  decodeFrontend,
  decodePasswordMessage,
  decodeSASLInitialResponse,
  decodeSASLMechanisms,
  EMPTY_QUERY_RESPONSE,
  encodeBackend,
  encodeCommandComplete,
  encodeDataRow,
  encodeErrorResponse,
  encodeFrontend,
  encodePasswordMessage,
  encodeRowDescription,
  encodeSASLInitialResponse,
  encodeSASLMechanisms,
  encodeSASLResponse,
  FLUSH,
  FrameReader,
  NO_DATA,
  PARSE_COMPLETE,
  PORTAL_SUSPENDED,
  readyForQuery,
  SYNC,
  TERMINATE,
  type BackendMessage,
  type Frame,
  type FrontendMessage,
} from '../../../src/protocol/index.ts';

/** Bytes from hex pairs separated by spaces. */
function h(hex: string): Buffer {
  return Buffer.from(hex.replaceAll(' ', ''), 'hex');
}
/** A NUL-terminated UTF-8 string. */
function z(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'utf8'), h('00')]);
}
function s(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}
function cat(...parts: Buffer[]): Buffer {
  return Buffer.concat(parts);
}

/** Exactly one frame from `bytes`, through the real reader. */
function onlyFrame(bytes: Buffer, startup = false): Frame {
  const frames = new FrameReader({ startup }).push(bytes);
  assert.equal(frames.length, 1, 'expected exactly one frame');
  assert.deepEqual(frames[0]!.raw, bytes);
  return frames[0]!;
}

const frontendFixtures: Array<[string, Buffer, FrontendMessage, boolean?]> = [
  ['Query', h('51 00 00 00 0d 53 45 4c 45 43 54 20 31 00'), { type: 'Query', sql: 'SELECT 1' }],
  ['Query, empty', h('51 00 00 00 05 00'), { type: 'Query', sql: '' }],
  ['Query, multibyte', cat(h('51 00 00 00 0e'), z('é中😀')), { type: 'Query', sql: 'é中😀' }],
  [
    'Parse',
    cat(h('50 00 00 00 17'), z('s1'), z('SELECT $1'), h('00 01 00 00 00 17')),
    { type: 'Parse', name: 's1', sql: 'SELECT $1', parameterTypes: [23] },
  ],
  [
    'Parse, OID above 2^31',
    cat(h('50 00 00 00 0d 00'), z('x'), h('00 01 ff ff ff fe')),
    { type: 'Parse', name: '', sql: 'x', parameterTypes: [0xfffffffe] },
  ],
  [
    'Bind',
    cat(
      h('42 00 00 00 20 00'),
      z('s1'),
      h('00 01 00 01'),
      h('00 02 00 00 00 04 00 00 00 2a ff ff ff ff'),
      h('00 02 00 00 00 01'),
    ),
    {
      type: 'Bind',
      portal: '',
      statement: 's1',
      parameterFormats: [1],
      parameters: [h('00 00 00 2a'), null],
      resultFormats: [0, 1],
    },
  ],
  [
    'Bind, no parameters, empty value',
    cat(h('42 00 00 00 1a'), z('p'), z('s'), h('00 02 00 00 00 01'), h('00 02 00 00 00 00 00 00 00 00'), h('00 00')),
    {
      type: 'Bind',
      portal: 'p',
      statement: 's',
      parameterFormats: [0, 1],
      parameters: [h(''), h('')],
      resultFormats: [],
    },
  ],
  ['Describe statement', cat(h('44 00 00 00 08 53'), z('s1')), { type: 'Describe', kind: 'S', name: 's1' }],
  ['Describe portal', h('44 00 00 00 06 50 00'), { type: 'Describe', kind: 'P', name: '' }],
  ['Execute', h('45 00 00 00 09 00 00 00 00 00'), { type: 'Execute', portal: '', maxRows: 0 }],
  ['Execute, row limit', h('45 00 00 00 0a 70 00 00 00 00 64'), { type: 'Execute', portal: 'p', maxRows: 100 }],
  ['Close portal', h('43 00 00 00 07 50 70 00'), { type: 'Close', kind: 'P', name: 'p' }],
  ['Close statement', h('43 00 00 00 06 53 00'), { type: 'Close', kind: 'S', name: '' }],
  ['Sync', h('53 00 00 00 04'), { type: 'Sync' }],
  ['Flush', h('48 00 00 00 04'), { type: 'Flush' }],
  ['Terminate', h('58 00 00 00 04'), { type: 'Terminate' }],
  ['CopyData', h('64 00 00 00 07 61 62 0a'), { type: 'CopyData', data: s('ab\n') }],
  ['CopyDone', h('63 00 00 00 04'), { type: 'CopyDone' }],
  ['CopyFail', cat(h('66 00 00 00 07'), z('no')), { type: 'CopyFail', message: 'no' }],
  ['PasswordMessage', cat(h('70 00 00 00 0b'), z('secret')), { type: 'Password', data: z('secret') }],
  ['FunctionCall', h('46 00 00 00 0e 00 00 00 00 00 00 00 00 00 00'), { type: 'FunctionCall' }],
  [
    'StartupMessage',
    cat(h('00 00 00 1b 00 03 00 00'), z('user'), z('u'), z('database'), z('d'), h('00')),
    { type: 'Startup', protocolVersion: 196608, parameters: { user: 'u', database: 'd' } },
    true,
  ],
  [
    'StartupMessage, protocol 3.2 and no parameters',
    h('00 00 00 09 00 03 00 02 00'),
    { type: 'Startup', protocolVersion: 196610, parameters: {} },
    true,
  ],
  ['SSLRequest', h('00 00 00 08 04 d2 16 2f'), { type: 'SSLRequest' }, true],
  ['GSSENCRequest', h('00 00 00 08 04 d2 16 30'), { type: 'GSSENCRequest' }, true],
  [
    'CancelRequest',
    h('00 00 00 10 04 d2 16 2e 00 00 30 39 de ad be ef'),
    { type: 'CancelRequest', processId: 12345, secretKey: 0xdeadbeef },
    true,
  ],
];

for (const [name, bytes, message, startup] of frontendFixtures) {
  test(`frontend ${name}: encodes to and decodes from the documented bytes`, () => {
    assert.deepEqual(encodeFrontend(message), bytes);
    assert.deepEqual(decodeFrontend(onlyFrame(bytes, startup ?? false)), message);
  });
}

const errorFields = cat(h('53'), z('ERROR'), h('43'), z('42601'), h('4d'), z('syntax error'), h('00'));

const backendFixtures: Array<[string, Buffer, BackendMessage]> = [
  ['AuthenticationOk', h('52 00 00 00 08 00 00 00 00'), { type: 'Authentication', code: 0, data: h('') }],
  ['AuthenticationCleartextPassword', h('52 00 00 00 08 00 00 00 03'), { type: 'Authentication', code: 3, data: h('') }],
  [
    'AuthenticationMD5Password',
    h('52 00 00 00 0c 00 00 00 05 01 02 03 04'),
    { type: 'Authentication', code: 5, data: h('01 02 03 04') },
  ],
  [
    'AuthenticationSASL',
    cat(h('52 00 00 00 17 00 00 00 0a'), z('SCRAM-SHA-256'), h('00')),
    { type: 'Authentication', code: 10, data: cat(z('SCRAM-SHA-256'), h('00')) },
  ],
  [
    'AuthenticationSASLContinue',
    cat(h('52 00 00 00 0d 00 00 00 0b'), s('r=abc')),
    { type: 'Authentication', code: 11, data: s('r=abc') },
  ],
  [
    'AuthenticationSASLFinal',
    cat(h('52 00 00 00 0b 00 00 00 0c'), s('v=x')),
    { type: 'Authentication', code: 12, data: s('v=x') },
  ],
  [
    'ParameterStatus',
    cat(h('53 00 00 00 19'), z('client_encoding'), z('UTF8')),
    { type: 'ParameterStatus', name: 'client_encoding', value: 'UTF8' },
  ],
  [
    'BackendKeyData',
    h('4b 00 00 00 0c 00 00 04 d2 de ad be ef'),
    { type: 'BackendKeyData', processId: 1234, secretKey: 0xdeadbeef },
  ],
  ['ReadyForQuery idle', h('5a 00 00 00 05 49'), { type: 'ReadyForQuery', status: 'I' }],
  ['ReadyForQuery in transaction', h('5a 00 00 00 05 54'), { type: 'ReadyForQuery', status: 'T' }],
  ['ReadyForQuery failed transaction', h('5a 00 00 00 05 45'), { type: 'ReadyForQuery', status: 'E' }],
  [
    'RowDescription',
    cat(h('54 00 00 00 21 00 01'), z('?column?'), h('00 00 00 00 00 00 00 00 00 17 00 04 ff ff ff ff 00 00')),
    {
      type: 'RowDescription',
      fields: [
        { name: '?column?', tableOid: 0, columnAttribute: 0, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 },
      ],
    },
  ],
  [
    'RowDescription, table column, binary, negative size',
    cat(h('54 00 00 00 1b 00 01'), z('ns'), h('00 00 40 00 00 02 00 00 00 19 ff ff 00 00 00 24 00 01')),
    {
      type: 'RowDescription',
      fields: [
        { name: 'ns', tableOid: 16384, columnAttribute: 2, typeOid: 25, typeSize: -1, typeModifier: 36, format: 1 },
      ],
    },
  ],
  ['RowDescription, no fields', h('54 00 00 00 06 00 00'), { type: 'RowDescription', fields: [] }],
  [
    'DataRow',
    h('44 00 00 00 13 00 03 00 00 00 01 31 ff ff ff ff 00 00 00 00'),
    { type: 'DataRow', values: [s('1'), null, h('')] },
  ],
  ['DataRow, no columns', h('44 00 00 00 06 00 00'), { type: 'DataRow', values: [] }],
  ['CommandComplete', cat(h('43 00 00 00 0d'), z('SELECT 1')), { type: 'CommandComplete', tag: 'SELECT 1' }],
  ['EmptyQueryResponse', h('49 00 00 00 04'), { type: 'EmptyQueryResponse' }],
  [
    'ErrorResponse',
    cat(h('45 00 00 00 21'), errorFields),
    { type: 'ErrorResponse', fields: { severity: 'ERROR', code: '42601', message: 'syntax error' } },
  ],
  [
    'NoticeResponse',
    cat(h('4e 00 00 00 21'), errorFields),
    { type: 'NoticeResponse', fields: { severity: 'ERROR', code: '42601', message: 'syntax error' } },
  ],
  ['ErrorResponse, no fields', h('45 00 00 00 05 00'), { type: 'ErrorResponse', fields: {} }],
  ['ParseComplete', h('31 00 00 00 04'), { type: 'ParseComplete' }],
  ['BindComplete', h('32 00 00 00 04'), { type: 'BindComplete' }],
  ['CloseComplete', h('33 00 00 00 04'), { type: 'CloseComplete' }],
  ['NoData', h('6e 00 00 00 04'), { type: 'NoData' }],
  ['PortalSuspended', h('73 00 00 00 04'), { type: 'PortalSuspended' }],
  [
    'ParameterDescription',
    h('74 00 00 00 0e 00 02 00 00 00 17 00 00 00 19'),
    { type: 'ParameterDescription', typeOids: [23, 25] },
  ],
  [
    'CopyInResponse',
    h('47 00 00 00 0b 00 00 02 00 00 00 00'),
    { type: 'CopyInResponse', format: 0, columnFormats: [0, 0] },
  ],
  ['CopyOutResponse', h('48 00 00 00 09 01 00 01 00 01'), { type: 'CopyOutResponse', format: 1, columnFormats: [1] }],
  ['CopyBothResponse', h('57 00 00 00 07 00 00 00'), { type: 'CopyBothResponse', format: 0, columnFormats: [] }],
  ['CopyData', h('64 00 00 00 06 01 02'), { type: 'CopyData', data: h('01 02') }],
  ['CopyDone', h('63 00 00 00 04'), { type: 'CopyDone' }],
  [
    'NotificationResponse',
    cat(h('41 00 00 00 0e 00 00 00 2a'), z('ch'), z('hi')),
    { type: 'NotificationResponse', processId: 42, channel: 'ch', payload: 'hi' },
  ],
  [
    // PostgreSQL sends the full version (3 << 16 | minor), though the docs say "minor".
    'NegotiateProtocolVersion',
    cat(h('76 00 00 00 13 00 03 00 00 00 00 00 01'), z('_pq_.x')),
    { type: 'NegotiateProtocolVersion', newestMinor: 0, unrecognized: ['_pq_.x'] },
  ],
  ['FunctionCallResponse, NULL', h('56 00 00 00 08 ff ff ff ff'), { type: 'FunctionCallResponse', value: null }],
  ['FunctionCallResponse', h('56 00 00 00 0a 00 00 00 02 01 02'), { type: 'FunctionCallResponse', value: h('01 02') }],
];

for (const [name, bytes, message] of backendFixtures) {
  test(`backend ${name}: encodes to and decodes from the documented bytes`, () => {
    assert.deepEqual(encodeBackend(message), bytes);
    assert.deepEqual(decodeBackend(onlyFrame(bytes)), message);
  });
}

test('precomputed messages hold the documented bytes', () => {
  assert.deepEqual(SYNC, h('53 00 00 00 04'));
  assert.deepEqual(FLUSH, h('48 00 00 00 04'));
  assert.deepEqual(TERMINATE, h('58 00 00 00 04'));
  assert.deepEqual(PARSE_COMPLETE, h('31 00 00 00 04'));
  assert.deepEqual(BIND_COMPLETE, h('32 00 00 00 04'));
  assert.deepEqual(CLOSE_COMPLETE, h('33 00 00 00 04'));
  assert.deepEqual(NO_DATA, h('6e 00 00 00 04'));
  assert.deepEqual(PORTAL_SUSPENDED, h('73 00 00 00 04'));
  assert.deepEqual(EMPTY_QUERY_RESPONSE, h('49 00 00 00 04'));
  assert.deepEqual(COPY_DONE, h('63 00 00 00 04'));
  assert.deepEqual(readyForQuery('I'), h('5a 00 00 00 05 49'));
  assert.deepEqual(readyForQuery('T'), h('5a 00 00 00 05 54'));
  assert.deepEqual(readyForQuery('E'), h('5a 00 00 00 05 45'));
  assert.equal(readyForQuery('I'), readyForQuery('I'), 'ReadyForQuery is not rebuilt per call');
});

test('fast-path encoders produce the documented bytes', () => {
  assert.deepEqual(
    encodeDataRow(['1', null, h(''), h('ff')]),
    h('44 00 00 00 18 00 04 00 00 00 01 31 ff ff ff ff 00 00 00 00 00 00 00 01 ff'),
  );
  assert.deepEqual(encodeDataRow(['é']), h('44 00 00 00 0c 00 01 00 00 00 02 c3 a9'));
  assert.deepEqual(encodeCommandComplete('INSERT 0 5'), cat(h('43 00 00 00 0f'), z('INSERT 0 5')));
  assert.deepEqual(
    encodeErrorResponse({ message: 'syntax error', code: '42601', severity: 'ERROR' }),
    cat(h('45 00 00 00 21'), errorFields),
  );
  assert.deepEqual(
    encodeRowDescription([
      { name: '?column?', tableOid: 0, columnAttribute: 0, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 },
    ]),
    cat(h('54 00 00 00 21 00 01'), z('?column?'), h('00 00 00 00 00 00 00 00 00 17 00 04 ff ff ff ff 00 00')),
  );
});

test('an ErrorResponse quoting text with a NUL stays well-formed', () => {
  const bytes = encodeErrorResponse({ severity: 'ERROR', code: '22021', message: 'bad \0 byte' });
  const message = decodeBackend(onlyFrame(bytes));
  assert.deepEqual(message, { type: 'ErrorResponse', fields: { severity: 'ERROR', code: '22021', message: 'bad \uFFFD byte' } });
});

test('every ErrorResponse field letter maps to its field; unknown letters are ignored', () => {
  const letters: Array<[string, string]> = [
    ['S', 'severity'], ['V', 'severityNonLocalized'], ['C', 'code'], ['M', 'message'], ['D', 'detail'],
    ['H', 'hint'], ['P', 'position'], ['p', 'internalPosition'], ['q', 'internalQuery'], ['W', 'where'],
    ['s', 'schema'], ['t', 'table'], ['c', 'column'], ['d', 'dataType'], ['n', 'constraint'], ['F', 'file'],
    ['L', 'line'], ['R', 'routine'],
  ];
  const parts: Buffer[] = [];
  const expected: Record<string, string> = {};
  for (const [letter, field] of letters) {
    parts.push(s(letter), z(`${field} value`));
    expected[field] = `${field} value`;
    parts.push(s('X'), z('unknown'));
  }
  parts.push(h('00'));
  const body = cat(...parts);
  const header = Buffer.alloc(5);
  header[0] = 0x4e;
  header.writeInt32BE(body.length + 4, 1);
  assert.deepEqual(decodeBackend(onlyFrame(cat(header, body))), { type: 'NoticeResponse', fields: expected });
  // Encoding writes the known fields in PostgreSQL's order, without the unknown ones.
  const encoded = encodeBackend({ type: 'NoticeResponse', fields: expected });
  assert.deepEqual(decodeBackend(onlyFrame(encoded)), { type: 'NoticeResponse', fields: expected });
  assert.equal(encoded.length, header.length + body.length - letters.length * 'X\0unknown'.length);
});

test('SASL helpers: mechanism list, initial response, response, password', () => {
  const list = encodeSASLMechanisms(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);
  assert.deepEqual(list, cat(z('SCRAM-SHA-256-PLUS'), z('SCRAM-SHA-256'), h('00')));
  assert.deepEqual(decodeSASLMechanisms(list), ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);

  const initial = encodeSASLInitialResponse('SCRAM-SHA-256', s('n,,n=,r=abc'));
  assert.deepEqual(initial, cat(h('70 00 00 00 21'), z('SCRAM-SHA-256'), h('00 00 00 0b'), s('n,,n=,r=abc')));
  const initialMessage = decodeFrontend(onlyFrame(initial));
  assert.equal(initialMessage.type, 'Password');
  assert.deepEqual(decodeSASLInitialResponse((initialMessage as { data: Buffer }).data), {
    mechanism: 'SCRAM-SHA-256',
    response: s('n,,n=,r=abc'),
  });
  // Length -1: no initial response.
  const none = encodeSASLInitialResponse('X', null);
  assert.deepEqual(none, cat(h('70 00 00 00 0a'), z('X'), h('ff ff ff ff')));
  assert.deepEqual(decodeSASLInitialResponse(none.subarray(5)), { mechanism: 'X', response: h('') });

  assert.deepEqual(encodeSASLResponse(s('c=biws')), cat(h('70 00 00 00 0a'), s('c=biws')));
  assert.deepEqual(encodePasswordMessage('pw'), cat(h('70 00 00 00 07'), z('pw')));
  assert.equal(decodePasswordMessage(z('pässword')), 'pässword');
});

test('decoded values are views into the frame, not copies', () => {
  const bytes = h('44 00 00 00 13 00 03 00 00 00 01 31 ff ff ff ff 00 00 00 00');
  const frame = onlyFrame(bytes);
  const message = decodeBackend(frame);
  assert.equal(message.type, 'DataRow');
  const first = (message as { values: (Buffer | null)[] }).values[0]!;
  assert.equal(first.buffer, bytes.buffer);
  assert.equal(first.byteOffset, bytes.byteOffset + 11);
});
