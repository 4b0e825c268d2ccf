/**
 * A stand-in for a real embedding model in the examples: a 384-dimensional hashed bag of
 * words, normalized. Texts that share words are near each other by cosine distance.
 */
export function embed(text: string, dimensions = 384): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let h = 2166136261;
    for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619);
    vector[(h >>> 0) % dimensions]! += (h & 1) === 0 ? 1 : -1;
  }
  const norm = Math.hypot(...vector) || 1;
  return vector.map((v) => v / norm);
}

/** DPG_URL, or a clear message when it is not set. */
export function dpgUrl(): string {
  const url = process.env.DPG_URL;
  if (!url) {
    console.error('set DPG_URL to the URL of a dpg coordinator (npx dpg url prints it)');
    process.exit(2);
  }
  return url;
}
