/** mulberry32: a small seeded PRNG giving floats in [0, 1), so data and tests can be replayed from a seed. */
export function seededFloats(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The same generator giving integers in [0, bound). */
export function seededRandom(seed: number): (bound: number) => number {
  const next = seededFloats(seed);
  return (bound) => Math.floor(next() * bound);
}
