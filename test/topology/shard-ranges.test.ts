import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import type pg from 'pg';
import { hashtext } from '../../src/topology/hashtext.ts';
import {
  namespaceShardIdSql,
  shardIndexForHash,
  shardIndexForValue,
  shardRanges,
  type HashRange,
} from '../../src/topology/shard-ranges.ts';
import { startScratchPostgres, type ScratchPostgres } from '../support/scratch-postgres.ts';
import { seededRandom } from '../support/random.ts';

// Set DPG_TEST_SEED to replay a failing run.
const seed = process.env.DPG_TEST_SEED ? Number(process.env.DPG_TEST_SEED) : randomInt(2 ** 31);

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const SMALL_COUNTS = Array.from({ length: 64 }, (_, i) => i + 1);
// 65175 leaves the largest remainder of any count up to 65536: the last shard owns 65146 extra hashes.
const LARGE_COUNTS = [100, 128, 334, 1000, 4096, 10_007, 32_768, 65_175, 65_535, 65_536];
const SQL_COUNTS = [1, 2, 3, 7, 12, 32, 334];

let server: ScratchPostgres;
let client: pg.Client;

before(async () => {
  server = await startScratchPostgres();
  client = await server.client();
  await client.query(namespaceShardIdSql());
});

after(async () => {
  await client?.end();
  await server?.stop();
});

function randomInt32(random: (bound: number) => number): number {
  return INT32_MIN + random(2 ** 32);
}

function linearSearch(ranges: HashRange[], hash: number): number {
  for (const range of ranges) if (hash >= range.min && hash <= range.max) return range.index;
  throw new Error(`no range holds ${hash}`);
}

/** Namespaces shaped like real ones, plus arbitrary Unicode. */
function randomNamespaces(random: (bound: number) => number, count: number): string[] {
  const namespaces: string[] = [];
  for (let i = 0; i < count; i++) {
    switch (random(4)) {
      case 0:
        namespaces.push(`tenant-${random(1_000_000)}`);
        break;
      case 1:
        namespaces.push(`user:${random(2 ** 32).toString(36)}/session-${random(1000)}`);
        break;
      case 2:
        namespaces.push(`プロジェクト-${random(100_000)}-😀`);
        break;
      default: {
        const chars: number[] = [];
        const length = random(30);
        for (let j = 0; j < length; j++) {
          const codePoint = 1 + random(0x10ffff);
          chars.push(codePoint >= 0xd800 && codePoint <= 0xdfff ? codePoint + 0x800 : codePoint);
        }
        namespaces.push(String.fromCodePoint(...chars));
      }
    }
  }
  return namespaces;
}

async function sqlShardIds(namespaces: string[], shardCount: number): Promise<number[]> {
  const result = await client.query<{ shard: number }>(
    `SELECT namespace_shard_id(s, $2) AS shard
       FROM unnest($1::text[]) WITH ORDINALITY AS t(s, n)
      ORDER BY n`,
    [namespaces, shardCount],
  );
  return result.rows.map((row) => row.shard);
}

test('shardRanges rejects shard counts that are not integers from 1 to 65536', () => {
  for (const count of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 65_537]) {
    assert.throws(() => shardRanges(count), RangeError, `shardRanges(${count})`);
    assert.throws(() => shardIndexForHash(0, count), RangeError, `shardIndexForHash(0, ${count})`);
  }
  assert.equal(shardRanges(65_536).length, 65_536);
});

test('shardIndexForHash rejects hashes outside int32', () => {
  for (const hash of [INT32_MIN - 1, INT32_MAX + 1, 0.5, Number.NaN]) {
    assert.throws(() => shardIndexForHash(hash, 12), RangeError, `shardIndexForHash(${hash}, 12)`);
  }
});

test('shardRanges lays out shards as Citus does', () => {
  assert.deepEqual(shardRanges(1), [{ index: 0, min: INT32_MIN, max: INT32_MAX }]);
  assert.deepEqual(shardRanges(3), [
    { index: 0, min: -2147483648, max: -715827884 },
    { index: 1, min: -715827883, max: 715827881 },
    { index: 2, min: 715827882, max: 2147483647 },
  ]);
  assert.deepEqual(shardRanges(4), [
    { index: 0, min: -2147483648, max: -1073741825 },
    { index: 1, min: -1073741824, max: -1 },
    { index: 2, min: 0, max: 1073741823 },
    { index: 3, min: 1073741824, max: 2147483647 },
  ]);
});

test('shard ranges cover the int32 space with no gap or overlap', () => {
  for (const count of [...SMALL_COUNTS, ...LARGE_COUNTS]) {
    const ranges = shardRanges(count);
    const increment = Math.floor(2 ** 32 / count);
    assert.equal(ranges.length, count);
    assert.equal(ranges[0].min, INT32_MIN, `count ${count}: first min`);
    assert.equal(ranges[count - 1].max, INT32_MAX, `count ${count}: last max`);
    for (let i = 0; i < count; i++) {
      const range = ranges[i];
      assert.equal(range.index, i);
      assert.ok(Number.isInteger(range.min) && Number.isInteger(range.max), `count ${count}: shard ${i} bounds`);
      if (i > 0) assert.equal(range.min, ranges[i - 1].max + 1, `count ${count}: shard ${i} starts after shard ${i - 1}`);
      const size = range.max - range.min + 1;
      if (i < count - 1) assert.equal(size, increment, `count ${count}: shard ${i} size`);
      else assert.equal(size, increment + (2 ** 32 % count), `count ${count}: last shard size`);
    }
  }
});

test('shardIndexForHash agrees with a linear search of shardRanges at every boundary', () => {
  for (const count of [...SMALL_COUNTS, ...LARGE_COUNTS]) {
    const ranges = shardRanges(count);
    // A linear search per probe is O(count); probe every range for small counts, a sample for large ones.
    const probed = count <= 1000 ? ranges : [...ranges.slice(0, 100), ...ranges.slice(-100)];
    for (const range of probed) {
      for (const hash of [range.min, range.max, range.min - 1, range.max + 1]) {
        if (hash < INT32_MIN || hash > INT32_MAX) continue;
        assert.equal(shardIndexForHash(hash, count), linearSearch(ranges, hash), `count ${count}, hash ${hash}`);
      }
    }
  }
});

test('shardIndexForHash agrees with a linear search of shardRanges on random hashes', (t) => {
  t.diagnostic(`seed ${seed}`);
  const random = seededRandom(seed);
  for (const count of [...SMALL_COUNTS, ...LARGE_COUNTS]) {
    const ranges = shardRanges(count);
    const probes = count <= 1000 ? 2000 : 200;
    for (let i = 0; i < probes; i++) {
      const hash = randomInt32(random);
      assert.equal(shardIndexForHash(hash, count), linearSearch(ranges, hash), `count ${count}, hash ${hash}, seed ${seed}`);
    }
  }
});

test('shardIndexForValue is the shard of the range holding hashtext(value)', () => {
  const ranges = shardRanges(12);
  for (const value of ['', 'tenant-1', 'default', '日本語', '😀']) {
    assert.equal(shardIndexForValue(value, 12), linearSearch(ranges, hashtext(value)), JSON.stringify(value));
  }
});

test('namespace_shard_id in SQL agrees with shardIndexForValue on 10,000 namespaces', async (t) => {
  t.diagnostic(`seed ${seed}`);
  const namespaces = randomNamespaces(seededRandom(seed ^ 0x27d4eb2d), 10_000);
  for (const count of [...SQL_COUNTS, 65_175, 65_536]) {
    const fromSql = await sqlShardIds(namespaces, count);
    const mismatch = namespaces.findIndex((namespace, i) => shardIndexForValue(namespace, count) !== fromSql[i]);
    if (mismatch >= 0) {
      const namespace = namespaces[mismatch];
      assert.fail(
        `count ${count}: namespace_shard_id(${JSON.stringify(namespace)}) = ${fromSql[mismatch]}, ` +
          `shardIndexForValue = ${shardIndexForValue(namespace, count)} (hashtext ${hashtext(namespace)}); seed ${seed}`,
      );
    }
  }
});

test('namespace_shard_id puts hashes past the last full increment on the last shard', async () => {
  // These hashes are 1 in 66,000; find namespaces whose hash lands there with the (SQL-verified) port.
  const count = 65_175;
  const lastFullIncrementEnd = INT32_MIN + count * Math.floor(2 ** 32 / count) - 1;
  const namespaces: string[] = [];
  for (let i = 0; namespaces.length < 5 && i < 10_000_000; i++) {
    if (hashtext(`tenant-${i}`) > lastFullIncrementEnd) namespaces.push(`tenant-${i}`);
  }
  assert.equal(namespaces.length, 5, 'found namespaces hashing into the remainder');
  assert.deepEqual(await sqlShardIds(namespaces, count), namespaces.map(() => count - 1));
  for (const namespace of namespaces) assert.equal(shardIndexForValue(namespace, count), count - 1);
});

test('namespace_shard_id rejects a shard count outside 1..65536 with SQLSTATE 22023', async () => {
  for (const count of [0, -1, 65_537]) {
    await assert.rejects(client.query('SELECT namespace_shard_id($1, $2)', ['tenant-1', count]), (error: unknown) => {
      const { code, message } = error as { code?: string; message: string };
      assert.equal(code, '22023', `count ${count}`);
      assert.match(message, /namespace_shard_id: shard count must be from 1 to 65536, got -?\d+/);
      return true;
    });
  }
});

test('namespace_shard_id is immutable, strict and parallel safe, with a comment', async () => {
  const result = await client.query<{ volatility: string; parallel: string; strict: boolean; comment: string | null }>(
    `SELECT provolatile AS volatility, proparallel AS parallel, proisstrict AS strict,
            obj_description(oid, 'pg_proc') AS comment
       FROM pg_proc WHERE oid = 'namespace_shard_id(text, int)'::regprocedure`,
  );
  const [row] = result.rows;
  assert.equal(row.volatility, 'i');
  assert.equal(row.parallel, 's');
  assert.equal(row.strict, true);
  assert.match(row.comment ?? '', /the seed's namespace_shard_id realised on dpg's range sharding/i);
  const nulls = await client.query('SELECT namespace_shard_id(NULL, 12) AS a, namespace_shard_id($1, NULL) AS b', ['x']);
  assert.deepEqual(nulls.rows[0], { a: null, b: null });
});
