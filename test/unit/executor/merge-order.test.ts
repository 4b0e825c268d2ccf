import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collatesByBytes, comparatorFor, isoDateTimeMicros } from '../../../src/executor/merge.ts';

// The multi-shard merge compares sort values as PostgreSQL orders them, or refuses with
// 0A000: it compared their text, which put BC dates after AD ones, misread years below
// 100, ordered dates of another DateStyle by their day, counted bpchar's trailing spaces
// and merged text of any collation in byte order.

const sorted = (oid: number, values: string[], options = {}) => [...values].sort((a, b) => comparatorFor(oid, options)(Buffer.from(a), Buffer.from(b)));
const sqlstate = (run: () => unknown) => {
  try {
    run();
    return null;
  } catch (error) {
    return (error as { sqlstate?: string }).sqlstate ?? 'none';
  }
};

test('dates order across BC, years below 100 and infinities (text order put 0044 BC after 0099)', () => {
  assert.deepEqual(sorted(1082, ['2024-02-29', '0099-12-31', '0044-03-15 BC', 'infinity', '0001-01-01', '0001-12-31 BC', '-infinity']), [
    '-infinity', '0044-03-15 BC', '0001-12-31 BC', '0001-01-01', '0099-12-31', '2024-02-29', 'infinity',
  ]);
  assert.equal(isoDateTimeMicros('1970-01-01', 'date'), 0n);
  assert.equal(isoDateTimeMicros('0001-12-31 BC', 'date') + 86_400_000_000n, isoDateTimeMicros('0001-01-01', 'date'), '1 BC is followed by AD 1');
});

test('timestamps and timestamptz order by their instant (offsets with seconds, BC, fractions)', () => {
  assert.deepEqual(sorted(1114, ['2000-01-01 00:00:00.000001', '2000-01-01 00:00:00', '0044-03-15 12:00:00 BC', '1999-12-31 23:59:59.999999']), [
    '0044-03-15 12:00:00 BC', '1999-12-31 23:59:59.999999', '2000-01-01 00:00:00', '2000-01-01 00:00:00.000001',
  ]);
  assert.deepEqual(sorted(1184, ['2024-02-29 05:30:00+05:30', '2024-02-28 23:59:58-00:00:01', '2024-02-29 00:00:00+00']), [
    '2024-02-28 23:59:58-00:00:01', '2024-02-29 05:30:00+05:30', '2024-02-29 00:00:00+00',
  ]);
  assert.equal(comparatorFor(1184)(Buffer.from('2024-02-29 05:30:00+05:30'), Buffer.from('2024-02-29 00:00:00+00')), 0);
});

test('a date or time in another DateStyle is refused (0A000), not ordered by its day', () => {
  assert.equal(sqlstate(() => sorted(1082, ['02/12/2026', '01/01/2027'])), '0A000');
  assert.equal(sqlstate(() => sorted(1114, ['Wed Dec 02 10:00:00 2026', 'Thu Dec 03 10:00:00 2026'])), '0A000');
  assert.equal(sqlstate(() => sorted(1082, ['2026-12-02 10:00:00', '2026-12-03'])), '0A000', 'a timestamp is not a date');
});

test("bpchar compares without trailing spaces, as bpcharcmp: 'a\\t' sorts after 'a ' ", () => {
  assert.deepEqual(sorted(1042, ['a\t  ', 'a   ', 'ab  ', '    ']), ['    ', 'a   ', 'a\t  ', 'ab  ']);
});

test('text compares by code point (UTF-8 bytes) in C-like collations only; others are refused', () => {
  assert.deepEqual(sorted(25, ['é', 'Z', 'a', '😀', '\uffff']), ['Z', 'a', 'é', '\uffff', '😀'], 'code point order, not UTF-16 units');
  for (const collation of ['"default"', '"C"', '"POSIX"', 'pg_catalog."C"', '"ucs_basic"', null]) assert.ok(collatesByBytes(collation), String(collation));
  for (const collation of ['"en-x-icu"', '"en_US"', '"und-x-icu"']) assert.ok(!collatesByBytes(collation), collation);
});

test('floats: NaN last, -0 equal to 0; rounded text (extra_float_digits < 1) is refused', () => {
  assert.deepEqual(sorted(701, ['NaN', 'Infinity', '-Infinity', '0.30000000000000004', '0.3', '-0']), ['-Infinity', '-0', '0.3', '0.30000000000000004', 'Infinity', 'NaN']);
  assert.equal(comparatorFor(701)(Buffer.from('-0'), Buffer.from('0')), 0);
  assert.equal(sqlstate(() => comparatorFor(701, { exactFloats: false })), '0A000');
});
