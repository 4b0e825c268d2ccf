import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinaryRowSplitter, CsvRowSplitter, TextRowSplitter, type RowSplitter } from '../../../src/executor/copy-rows.ts';

// COPY data cut anywhere (CopyData messages split at every byte) gives the same rows;
// a row arriving in many chunks is joined once when complete (a 100 MB line was copied
// again with every chunk: quadratic).

function splitAt(make: () => RowSplitter, data: Buffer, cuts: number[]): { raw: string; value: string | null }[] {
  const splitter = make();
  const rows: { raw: string; value: string | null }[] = [];
  let start = 0;
  for (const cut of [...cuts, data.length]) {
    for (const row of splitter.push(data.subarray(start, cut))) rows.push({ raw: row.raw.toString('latin1'), value: row.value });
    start = cut;
  }
  for (const row of splitter.end()) rows.push({ raw: row.raw.toString('latin1'), value: row.value });
  return rows;
}

function everyCut(make: () => RowSplitter, data: Buffer): void {
  const whole = splitAt(make, data, []);
  for (let cut = 1; cut < data.length; cut++) assert.deepEqual(splitAt(make, data, [cut]), whole, `cut at byte ${cut}`);
  assert.deepEqual(splitAt(make, data, Array.from({ length: data.length - 1 }, (_, i) => i + 1)), whole, 'one byte per chunk');
}

test('text COPY: the same rows wherever the data is cut', () => {
  const data = Buffer.from('a\t1\r\nb\\tc\t2\n\\N\t3\nlast\t4');
  everyCut(() => new TextRowSplitter(0, 9, '\\N'), data);
  assert.deepEqual(splitAt(() => new TextRowSplitter(0, 9, '\\N'), data, []).map((r) => r.value), ['a', 'b\tc', null, 'last']);
});

test('CSV COPY: quotes, doubled quotes, escapes and newlines in quotes, wherever the data is cut', () => {
  const csv = Buffer.from('h1,h2\n"a,""b""\nc",1\nplain,2\n"",3\n"x""",4');
  everyCut(() => new CsvRowSplitter(0, 0x2c, 0x22, 0x22, '', true), csv);
  assert.deepEqual(splitAt(() => new CsvRowSplitter(0, 0x2c, 0x22, 0x22, '', true), csv, []).map((r) => r.value), ['a,"b"\nc', 'plain', '', 'x"']);
  const escaped = Buffer.from('"a\\"b",1\n"c\\\\",2\n');
  everyCut(() => new CsvRowSplitter(0, 0x2c, 0x22, 0x5c, '', false), escaped);
  assert.deepEqual(splitAt(() => new CsvRowSplitter(0, 0x2c, 0x22, 0x5c, '', false), escaped, []).map((r) => r.value), ['a"b', 'c\\']);
});

test('binary COPY: the same tuples wherever the data is cut, large fields included', () => {
  const field = (value: string | null) => {
    if (value === null) return Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const bytes = Buffer.from(value);
    const length = Buffer.alloc(4);
    length.writeInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const tuple = (...values: (string | null)[]) => Buffer.concat([Buffer.from([0, values.length]), ...values.map(field)]);
  const header = Buffer.concat([Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]), Buffer.alloc(8)]);
  const data = Buffer.concat([header, tuple('ns-a', 'x'.repeat(300)), tuple(null, 'y'), tuple('ns-b', null), Buffer.from([0xff, 0xff])]);
  everyCut(() => new BinaryRowSplitter(0), data);
  assert.deepEqual(splitAt(() => new BinaryRowSplitter(0), data, []).map((r) => r.value), ['ns-a', null, 'ns-b']);
});

test('a 64 MB line in 8 KB chunks is joined once: every format', () => {
  const size = 64 * 1024 * 1024;
  const line = Buffer.alloc(size + 1, 0x78);
  line.write('ns\t', 0);
  line[size] = 0x0a;
  for (const make of [() => new TextRowSplitter(0, 9, '\\N'), () => new CsvRowSplitter(0, 9, 0x22, 0x22, '', false)]) {
    const splitter = make();
    let rows = 0;
    for (let offset = 0; offset < line.length; offset += 8192) rows += splitter.push(line.subarray(offset, offset + 8192)).length;
    assert.equal(rows, 1);
  }
});
