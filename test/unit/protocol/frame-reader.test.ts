import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import {
  decodeFrontend,
  encodeBackend,
  encodeDataRow,
  encodeFrontend,
  FrameReader,
  ProtocolError,
  type Frame,
} from '../../../src/protocol/index.ts';
import { seededRandom } from '../../support/random.ts';

// Set DPG_TEST_SEED to replay a failing run.
const seed = process.env.DPG_TEST_SEED ? Number(process.env.DPG_TEST_SEED) : randomInt(2 ** 31);

/** A stream of varied backend messages: empty bodies, long rows, and everything between. */
function backendStream(): Buffer {
  const parts: Buffer[] = [
    encodeBackend({ type: 'Authentication', code: 0, data: Buffer.alloc(0) }),
    encodeBackend({ type: 'ParameterStatus', name: 'server_version', value: '15.6' }),
    encodeBackend({ type: 'BackendKeyData', processId: 7, secretKey: 99 }),
    encodeBackend({ type: 'ReadyForQuery', status: 'I' }),
    encodeBackend({
      type: 'RowDescription',
      fields: [{ name: 'é', tableOid: 1, columnAttribute: 1, typeOid: 25, typeSize: -1, typeModifier: -1, format: 0 }],
    }),
  ];
  for (let i = 0; i < 40; i++) {
    parts.push(encodeDataRow([String(i), i % 3 === 0 ? null : 'x'.repeat(i * 7), Buffer.alloc(i % 5, i)]));
  }
  parts.push(
    encodeBackend({ type: 'CommandComplete', tag: 'SELECT 40' }),
    encodeBackend({ type: 'EmptyQueryResponse' }),
    encodeBackend({ type: 'ReadyForQuery', status: 'T' }),
  );
  return Buffer.concat(parts);
}

function simplify(frames: Frame[]): Array<{ code: number; body: string; raw: string }> {
  return frames.map((frame) => ({
    code: frame.code,
    body: frame.body.toString('hex'),
    raw: frame.raw.toString('hex'),
  }));
}

function readInChunks(stream: Buffer, cuts: number[], startup = false): Frame[] {
  const reader = new FrameReader({ startup });
  const frames: Frame[] = [];
  let previous = 0;
  for (const cut of [...cuts, stream.length]) {
    frames.push(...reader.push(stream.subarray(previous, cut)));
    previous = cut;
  }
  assert.equal(reader.buffered, 0, 'no bytes left over');
  return frames;
}

test('a stream split into two chunks at every byte boundary yields the same frames', () => {
  const stream = backendStream();
  const whole = simplify(new FrameReader().push(stream));
  assert.equal(whole.length, 48);
  assert.deepEqual(Buffer.concat(whole.map((frame) => Buffer.from(frame.raw, 'hex'))), stream);
  for (let cut = 0; cut <= stream.length; cut++) {
    assert.deepEqual(simplify(readInChunks(stream, [cut])), whole, `split at byte ${cut}`);
  }
});

test('a stream fed one byte at a time yields the same frames', () => {
  const stream = backendStream();
  const whole = simplify(new FrameReader().push(stream));
  const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(simplify(readInChunks(stream, cuts)), whole);
});

test('a stream in random chunks yields the same frames', () => {
  console.log(`frame-reader random chunking seed: ${seed}`);
  const random = seededRandom(seed);
  const stream = backendStream();
  const whole = simplify(new FrameReader().push(stream));
  for (let round = 0; round < 300; round++) {
    const cuts: number[] = [];
    let position = 0;
    const typical = 1 + random(64);
    for (;;) {
      position += random(typical * 2 + 1);
      if (position >= stream.length) break;
      cuts.push(position);
    }
    assert.deepEqual(simplify(readInChunks(stream, cuts)), whole, `seed ${seed}, round ${round}`);
  }
});

function sharesMemory(a: Buffer, b: Buffer): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;
}

test('frames inside one chunk are views of it; only a frame spanning chunks is copied', () => {
  const first = encodeDataRow(['abc']);
  const second = encodeDataRow(['defgh']);
  const stream = Buffer.concat([first, second]);
  const reader = new FrameReader();
  const [a] = reader.push(stream.subarray(0, first.length + 3));
  assert.ok(sharesMemory(a!.raw, stream), 'whole frame is a view');
  assert.equal(reader.buffered, 3);
  const [b] = reader.push(stream.subarray(first.length + 3));
  assert.ok(!sharesMemory(b!.raw, stream), 'spanning frame is a copy');
  assert.deepEqual(b!.raw, second);
  assert.equal(reader.buffered, 0);
});

test('startup mode: a StartupMessage, then typed messages in the same chunk', () => {
  const startup = encodeFrontend({ type: 'Startup', protocolVersion: 196608, parameters: { user: 'alice' } });
  const query = encodeFrontend({ type: 'Query', sql: 'SELECT 1' });
  const frames = new FrameReader({ startup: true }).push(Buffer.concat([startup, query, query]));
  assert.deepEqual(
    frames.map((frame) => frame.code),
    [0, 0x51, 0x51],
  );
  assert.deepEqual(decodeFrontend(frames[0]!), {
    type: 'Startup',
    protocolVersion: 196608,
    parameters: { user: 'alice' },
  });
  assert.deepEqual(frames[0]!.body, startup.subarray(4));
  assert.deepEqual(decodeFrontend(frames[1]!), { type: 'Query', sql: 'SELECT 1' });
});

test('startup mode: SSLRequest, then a StartupMessage, split at every byte boundary', () => {
  const ssl = encodeFrontend({ type: 'SSLRequest' });
  const startup = encodeFrontend({ type: 'Startup', protocolVersion: 196608, parameters: { user: 'u', database: 'd' } });
  const sync = encodeFrontend({ type: 'Sync' });
  const stream = Buffer.concat([ssl, startup, sync]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const reader = new FrameReader({ startup: true });
    const frames = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
    // After an SSLRequest the reader pauses; an empty push resumes it.
    frames.push(...reader.push(Buffer.alloc(0)));
    assert.deepEqual(
      frames.map((frame) => decodeFrontend(frame).type),
      ['SSLRequest', 'Startup', 'Sync'],
      `split at byte ${cut}`,
    );
    assert.equal(reader.buffered, 0);
  }
});

test('bytes sent right behind an SSLRequest stay buffered, so a server can refuse them', () => {
  for (const request of [{ type: 'SSLRequest' }, { type: 'GSSENCRequest' }] as const) {
    const reader = new FrameReader({ startup: true });
    const smuggled = encodeFrontend({ type: 'Query', sql: 'SELECT 1' });
    const frames = reader.push(Buffer.concat([encodeFrontend(request), smuggled]));
    assert.deepEqual(
      frames.map((frame) => decodeFrontend(frame).type),
      [request.type],
    );
    assert.equal(reader.buffered, smuggled.length);
  }
});

test('startup mode: a GSSENCRequest keeps the reader in startup mode', () => {
  const reader = new FrameReader({ startup: true });
  assert.deepEqual(decodeFrontend(reader.push(encodeFrontend({ type: 'GSSENCRequest' }))[0]!), { type: 'GSSENCRequest' });
  const [startup] = reader.push(encodeFrontend({ type: 'Startup', protocolVersion: 196608, parameters: {} }));
  assert.equal(startup!.code, 0);
  assert.equal(reader.push(encodeFrontend({ type: 'Flush' }))[0]!.code, 0x48);
});

test('startup mode: a CancelRequest', () => {
  const reader = new FrameReader({ startup: true });
  const [frame] = reader.push(encodeFrontend({ type: 'CancelRequest', processId: 4242, secretKey: 0x80000001 }));
  assert.deepEqual(decodeFrontend(frame!), { type: 'CancelRequest', processId: 4242, secretKey: 0x80000001 });
});

test('expectStartup makes the next packet untyped again', () => {
  const reader = new FrameReader();
  assert.equal(reader.push(encodeFrontend({ type: 'Sync' }))[0]!.code, 0x53);
  reader.expectStartup();
  const [frame] = reader.push(encodeFrontend({ type: 'Startup', protocolVersion: 196608, parameters: { user: 'x' } }));
  assert.equal(frame!.code, 0);
  assert.equal(decodeFrontend(frame!).type, 'Startup');
});

test('expectStartup in the middle of a message is a protocol error', () => {
  const reader = new FrameReader();
  reader.push(encodeFrontend({ type: 'Query', sql: 'SELECT 1' }).subarray(0, 3));
  assert.throws(() => reader.expectStartup(), ProtocolError);
});

test('the length field decides where a frame ends, whatever the type byte', () => {
  const reader = new FrameReader();
  const frames = reader.push(Buffer.from('7a000000050001', 'hex'));
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.code, 0x7a);
  assert.deepEqual(frames[0]!.body, Buffer.from('00', 'hex'));
  assert.equal(reader.buffered, 1);
  assert.throws(() => decodeFrontend(frames[0]!), (error: unknown) => {
    assert.ok(error instanceof ProtocolError);
    assert.match(error.message, /'z' \(0x7a\)/);
    return true;
  });
});

test('a large frame arriving in many small chunks is assembled once', () => {
  const value = Buffer.alloc(1_000_000, 7);
  const row = encodeDataRow([value]);
  const reader = new FrameReader();
  let frames: Frame[] = [];
  for (let offset = 0; offset < row.length; offset += 1000) {
    frames = frames.concat(reader.push(row.subarray(offset, offset + 1000)));
  }
  assert.equal(frames.length, 1);
  assert.deepEqual(frames[0]!.raw, row);
});
