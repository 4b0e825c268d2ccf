/** Seeded gaussian noise and unit vectors: the clustered embeddings of the demo and the benchmark. */
import { seededFloats } from './random.ts';

/** Standard normal samples (Box-Muller). */
export function seededGaussian(seed: number): () => number {
  const uniform = seededFloats(seed);
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const value = spare;
      spare = null;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - uniform()));
    const angle = 2 * Math.PI * uniform();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}

export function normalize(vector: Float64Array): Float64Array {
  let norm = 0;
  for (const x of vector) norm += x * x;
  norm = Math.sqrt(norm);
  for (let i = 0; i < vector.length; i++) vector[i]! /= norm;
  return vector;
}

/** One point near `center`: center + N(0, sigma²) per dimension, on the unit sphere. */
export function nearby(center: Float64Array, sigma: number, gaussian: () => number): Float64Array {
  const vector = new Float64Array(center.length);
  for (let i = 0; i < center.length; i++) vector[i] = center[i]! + sigma * gaussian();
  return normalize(vector);
}

/** pgvector's text form, `[0.01234,-0.05678,...]`; five decimals are plenty for unit vectors of 384 dimensions. */
export function vectorLiteral(vector: ArrayLike<number>): string {
  const parts = new Array<string>(vector.length);
  for (let i = 0; i < vector.length; i++) parts[i] = vector[i]!.toFixed(5);
  return `[${parts.join(',')}]`;
}
