/**
 * Consistent-hash shard ranges over the int32 `hashtext()` space, laid out as Citus
 * lays out a hash-distributed table (CreateShardsWithRoundRobinPolicy in Citus'
 * create_shards.c): with increment = floor(2^32 / N), shard i owns
 * [-2^31 + i * increment, -2^31 + (i + 1) * increment - 1], and the last shard also
 * owns the 2^32 mod N hashes left over at the top, up to 2^31 - 1.
 *
 * Because every shard owns a contiguous range, a shard can be split or moved without
 * rehashing the others, unlike the seed's `(hashtext(ns) & 2147483647) % N`.
 */
import { hashtext } from './hashtext.ts';

export interface HashRange {
  /** 0-based position of the shard among the table's shards. */
  index: number;
  /** Smallest hash the shard owns, inclusive. */
  min: number;
  /** Largest hash the shard owns, inclusive. */
  max: number;
}

export const MIN_SHARD_COUNT = 1;
export const MAX_SHARD_COUNT = 65536;

const HASH_TOKEN_COUNT = 2 ** 32;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

export function shardRanges(shardCount: number): HashRange[] {
  assertShardCount(shardCount);
  const increment = hashTokenIncrement(shardCount);
  const ranges: HashRange[] = [];
  for (let index = 0; index < shardCount; index++) {
    const min = INT32_MIN + index * increment;
    const max = index === shardCount - 1 ? INT32_MAX : min + increment - 1;
    ranges.push({ index, min, max });
  }
  return ranges;
}

/** The index of the range in `shardRanges(shardCount)` that holds `hash`, in O(1). */
export function shardIndexForHash(hash: number, shardCount: number): number {
  assertShardCount(shardCount);
  if (!Number.isInteger(hash) || hash < INT32_MIN || hash > INT32_MAX) {
    throw new RangeError(`hash must be an int32 (from ${INT32_MIN} to ${INT32_MAX}), got ${hash}`);
  }
  // Both operands are integers below 2^33, so the double quotient never rounds up
  // across an integer and Math.floor gives the exact integer quotient.
  const index = Math.floor((hash - INT32_MIN) / hashTokenIncrement(shardCount));
  // Hashes past the last full increment belong to the last shard.
  return index < shardCount ? index : shardCount - 1;
}

/** The shard index of a distribution value: the range holding PostgreSQL's hashtext(value). */
export function shardIndexForValue(value: string, shardCount: number): number {
  return shardIndexForHash(hashtext(value), shardCount);
}

/**
 * SQL creating `namespace_shard_id(p_namespace, p_shard_count)`, the seed's function,
 * returning what `shardIndexForValue` returns. It is plpgsql only so that a bad shard
 * count raises a clear error (SQLSTATE 22023, invalid_parameter_value).
 *
 * `COLLATE "C"` pins hashtext() to hashing the bytes: under a nondeterministic
 * collation it would hash the collation's sort key instead, which the TypeScript port
 * cannot reproduce.
 */
export function namespaceShardIdSql(): string {
  return `CREATE OR REPLACE FUNCTION namespace_shard_id(p_namespace text, p_shard_count int)
RETURNS int
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $function$
BEGIN
  IF p_shard_count < ${MIN_SHARD_COUNT} OR p_shard_count > ${MAX_SHARD_COUNT} THEN
    RAISE EXCEPTION 'namespace_shard_id: shard count must be from ${MIN_SHARD_COUNT} to ${MAX_SHARD_COUNT}, got %', p_shard_count
      USING ERRCODE = '22023';
  END IF;
  -- In int8: the hash's offset from -2^31, divided by increment = floor(2^32 / count);
  -- the hashes past the last full increment belong to the last shard.
  RETURN least(
    (hashtext(p_namespace COLLATE "C")::int8 + 2147483648) / (4294967296 / p_shard_count),
    p_shard_count - 1
  )::int;
END
$function$;

COMMENT ON FUNCTION namespace_shard_id(text, int) IS
'The seed''s namespace_shard_id realised on dpg''s range sharding: the 0-based index of the shard '
'whose range holds hashtext(p_namespace). As in Citus, shard i of p_shard_count owns the i-th of '
'p_shard_count equal contiguous ranges of the int32 hash space (the last shard also owns the '
'remainder up to 2147483647), instead of the seed''s (hashtext(p_namespace) & 2147483647) % p_shard_count. '
'Must agree with shardIndexForValue in dpg''s src/topology/shard-ranges.ts.';
`;
}

function assertShardCount(shardCount: number): void {
  if (!Number.isInteger(shardCount) || shardCount < MIN_SHARD_COUNT || shardCount > MAX_SHARD_COUNT) {
    throw new RangeError(
      `shard count must be an integer from ${MIN_SHARD_COUNT} to ${MAX_SHARD_COUNT}, got ${shardCount}`,
    );
  }
}

/** floor(2^32 / shardCount), computed exactly. */
function hashTokenIncrement(shardCount: number): number {
  return (HASH_TOKEN_COUNT - (HASH_TOKEN_COUNT % shardCount)) / shardCount;
}
