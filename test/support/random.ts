/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
export function seededRandom(initialSeed: number): (bound: number) => number {
  let state = initialSeed >>> 0;
  return (bound) => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * bound);
  };
}
