/**
 * A bit-exact port of PostgreSQL 15's `hashtext()`, the hash dpg distributes rows by.
 *
 * For a deterministic collation, `hashtext(t)` is `hash_any()` over the UTF-8 bytes of
 * `t` (src/backend/utils/adt/varlena.c), and `hash_any()` is `hash_bytes()` from
 * src/common/hashfn.c: Bob Jenkins' hash as adapted by PostgreSQL. It is not stock
 * lookup3, so a lookup3 library gives different values:
 * - the initial state is 0x9e3779b9 + length + 3923095 (lookup3: 0xdeadbeef + length + initval);
 * - the block loop takes every full 12-byte block, and final() always runs, also on an
 *   empty tail (lookup3 keeps the last block for the tail and skips final() for length 0);
 * - in the tail, bytes 8..10 go into bits 8..31 of `c`: its low byte is the length slot
 *   of the older lookup2 and stays empty.
 * PostgreSQL reads words in host byte order; this port is the little-endian (x86_64,
 * arm64) variant. Its aligned and unaligned code paths give the same result, so only
 * the byte values matter here, never their offset in memory.
 */

const encoder = new TextEncoder();

/** Strings whose UTF-8 form may need more than this get a one-off buffer instead of growing the shared one. */
const MAX_SHARED_BUFFER_BYTES = 64 * 1024;
let sharedBuffer = new Uint8Array(256);

/**
 * PostgreSQL's `hashtext(value)` as the signed int4 that `SELECT hashtext($1)` returns.
 *
 * Lone surrogates have no UTF-8 form; like node-postgres (which sends strings through
 * Buffer.from), TextEncoder turns each into U+FFFD, so the value hashed is the value
 * PostgreSQL receives.
 */
export function hashtext(value: string): number {
  // One UTF-16 code unit needs at most 3 UTF-8 bytes; a surrogate pair (2 units) needs 4.
  const worstCaseBytes = value.length * 3;
  if (worstCaseBytes > sharedBuffer.length) {
    if (worstCaseBytes > MAX_SHARED_BUFFER_BYTES) {
      const bytes = encoder.encode(value);
      return hashByteRange(bytes, bytes.length);
    }
    let size = sharedBuffer.length * 2;
    while (size < worstCaseBytes) size *= 2;
    sharedBuffer = new Uint8Array(Math.min(size, MAX_SHARED_BUFFER_BYTES));
  }
  const { written } = encoder.encodeInto(value, sharedBuffer);
  return hashByteRange(sharedBuffer, written);
}

/** PostgreSQL's `hash_bytes()` (what `hash_any()` calls) over `bytes`, as a signed int32. */
export function hashBytes(bytes: Uint8Array): number {
  return hashByteRange(bytes, bytes.length);
}

/**
 * hash_bytes() over k[0..length). All state stays in int32: `| 0` wraps sums and
 * differences modulo 2^32 like C's uint32, and the uint32 result read as int32 is the
 * int4 PostgreSQL returns.
 */
function hashByteRange(k: Uint8Array, length: number): number {
  let a = (0x9e3779b9 + length + 3923095) | 0;
  let b = a;
  let c = a;

  let offset = 0;
  let remaining = length;
  while (remaining >= 12) {
    a = (a + (k[offset] | (k[offset + 1] << 8) | (k[offset + 2] << 16) | (k[offset + 3] << 24))) | 0;
    b = (b + (k[offset + 4] | (k[offset + 5] << 8) | (k[offset + 6] << 16) | (k[offset + 7] << 24))) | 0;
    c = (c + (k[offset + 8] | (k[offset + 9] << 8) | (k[offset + 10] << 16) | (k[offset + 11] << 24))) | 0;

    // mix(a, b, c)
    a = (a - c) | 0;
    a ^= (c << 4) | (c >>> 28);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= (a << 6) | (a >>> 26);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= (b << 8) | (b >>> 24);
    b = (b + a) | 0;
    a = (a - c) | 0;
    a ^= (c << 16) | (c >>> 16);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= (a << 19) | (a >>> 13);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= (b << 4) | (b >>> 28);
    b = (b + a) | 0;

    offset += 12;
    remaining -= 12;
  }

  // The last 0..11 bytes: 0..3 into a, 4..7 into b, 8..10 into c shifted up one byte.
  let tailA = 0;
  let tailB = 0;
  let tailC = 0;
  for (let i = 0; i < remaining; i++) {
    const byte = k[offset + i];
    if (i < 4) tailA |= byte << (i * 8);
    else if (i < 8) tailB |= byte << ((i - 4) * 8);
    else tailC |= byte << ((i - 7) * 8);
  }
  a = (a + tailA) | 0;
  b = (b + tailB) | 0;
  c = (c + tailC) | 0;

  // final(a, b, c)
  c ^= b;
  c = (c - ((b << 14) | (b >>> 18))) | 0;
  a ^= c;
  a = (a - ((c << 11) | (c >>> 21))) | 0;
  b ^= a;
  b = (b - ((a << 25) | (a >>> 7))) | 0;
  c ^= b;
  c = (c - ((b << 16) | (b >>> 16))) | 0;
  a ^= c;
  a = (a - ((c << 4) | (c >>> 28))) | 0;
  b ^= a;
  b = (b - ((a << 14) | (a >>> 18))) | 0;
  c ^= b;
  c = (c - ((b << 24) | (b >>> 8))) | 0;

  return c;
}
