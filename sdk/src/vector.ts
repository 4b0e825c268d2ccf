import { DimensionMismatchError, ValidationError } from './errors.ts';

/** An embedding as the SDK takes it. */
export type Embedding = readonly number[] | Float32Array | Float64Array;

/** Checks an embedding (length, every value finite) and returns pgvector's text form. */
export function vectorLiteral(embedding: Embedding, dimensions: number, what = 'embedding'): string {
  if (!Array.isArray(embedding) && !(embedding instanceof Float32Array) && !(embedding instanceof Float64Array)) {
    throw new ValidationError(`${what} must be an array of ${dimensions} numbers, got ${typeof embedding}`);
  }
  if (embedding.length !== dimensions) {
    throw new DimensionMismatchError(`${what} has ${embedding.length} dimensions; this table's vectors have ${dimensions}`, dimensions, embedding.length);
  }
  for (let i = 0; i < embedding.length; i++) {
    const value = embedding[i];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ValidationError(`${what}[${i}] is ${String(value)}: every value must be a finite number (no NaN or Infinity)`);
    }
  }
  return `[${Array.from(embedding).join(',')}]`;
}

/** pgvector's text form back to numbers. */
export function parseVector(text: string | null): number[] | null {
  if (text === null) return null;
  return text.slice(1, -1).split(',').map(Number);
}

/** Exact cosine similarity (1 - cosine distance), in float64. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
