/** Latency summaries and histograms for the bench report. */

export interface LatencySummary {
  count: number;
  minMs: number;
  medianMs: number;
  meanMs: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export interface Histogram {
  /** Upper bounds of the buckets in ms (log-spaced); the last (1e9) is everything above the one before. */
  boundsMs: number[];
  counts: number[];
}

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function summarize(latenciesMs: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(latenciesMs).sort();
  const values = Array.from(sorted);
  const sum = values.reduce((a, b) => a + b, 0);
  return {
    count: values.length,
    minMs: values.length ? values[0]! : NaN,
    medianMs: percentile(values, 50),
    meanMs: values.length ? sum / values.length : NaN,
    p95Ms: percentile(values, 95),
    p99Ms: percentile(values, 99),
    p999Ms: percentile(values, 99.9),
    maxMs: values.length ? values.at(-1)! : NaN,
  };
}

/** Buckets 0.1 ms to ~100 s, four per factor of 10 (about ×1.78 apart). */
export const HISTOGRAM_BOUNDS_MS = Array.from({ length: 25 }, (_, i) => Number((0.1 * 10 ** (i / 4)).toPrecision(3)));

export function histogram(latenciesMs: readonly number[]): Histogram {
  const counts = new Array<number>(HISTOGRAM_BOUNDS_MS.length + 1).fill(0);
  for (const ms of latenciesMs) {
    let i = HISTOGRAM_BOUNDS_MS.findIndex((bound) => ms <= bound);
    if (i < 0) i = HISTOGRAM_BOUNDS_MS.length;
    counts[i]!++;
  }
  return { boundsMs: [...HISTOGRAM_BOUNDS_MS, 1e9], counts };
}
