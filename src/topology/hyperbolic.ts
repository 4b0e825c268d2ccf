/**
 * The seed's hierarchical shard mapping for hyperbolic embeddings ("Hierarchical
 * Shard Mapping"): a point of the Poincaré ball at radius r (its Euclidean norm,
 * below 1) lives on shard LEAST(FLOOR(r * 10), shard_count - 1), so each tenth of the
 * radius, a level of the hierarchy, is one shard and the deepest levels share the
 * last. A table distributed with `distribution_method => 'hyperbolic'` is sharded so
 * by a radius column (float) or by a vector column's norm.
 */
export const HYPERBOLIC_LEVELS_PER_UNIT = 10;

export class HyperbolicValueError extends Error {}

export function hyperbolicShardIndex(radius: number, shardCount: number): number {
  if (!Number.isFinite(radius)) throw new HyperbolicValueError(`radius ${radius} is not a finite number`);
  // A negative radius cannot come from a norm; it is kept with the outermost level.
  return Math.max(0, Math.min(Math.floor(radius * HYPERBOLIC_LEVELS_PER_UNIT), shardCount - 1));
}

/** The radius of a distribution value given as text: a number, or a vector literal '[x, y, ...]' (its norm). */
export function radiusOf(value: string): number {
  const text = value.trim();
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) throw new HyperbolicValueError(`${JSON.stringify(value.slice(0, 40))} is not a vector literal`);
    let sum = 0;
    for (const part of text.slice(1, -1).split(',')) {
      const x = Number(part);
      if (part.trim() === '' || !Number.isFinite(x)) throw new HyperbolicValueError(`${JSON.stringify(value.slice(0, 40))} is not a vector literal`);
      sum += x * x;
    }
    return Math.sqrt(sum);
  }
  const radius = Number(text);
  if (text === '' || !Number.isFinite(radius)) throw new HyperbolicValueError(`${JSON.stringify(value.slice(0, 40))} is not a number`);
  return radius;
}

/** SQL creating the seed's `hyperbolic_shard_id(p_radius, p_shard_count)` (clamped at 0 as hyperbolicShardIndex is). */
export function hyperbolicShardIdSql(): string {
  return `CREATE OR REPLACE FUNCTION public.hyperbolic_shard_id(p_radius double precision, p_shard_count int)
RETURNS int LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT GREATEST(0, LEAST(FLOOR(p_radius * ${HYPERBOLIC_LEVELS_PER_UNIT})::int, p_shard_count - 1)) $$`;
}
