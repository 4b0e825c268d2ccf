/** The shape of a `dpg bench` report (also the JSON file's). */
import type { ScenarioConfig, ScenarioKind, ScenarioName } from './scenarios.ts';
import type { Histogram, LatencySummary } from './stats.ts';
import type { TargetName } from './targets.ts';
import type { ArrivalProcess } from './open-loop.ts';
import type { TierReport } from './tiers.ts';

/** The seed's performance targets. */
export const SEED_TARGETS = { p50Ms: 10, p95Ms: 25, p99Ms: 50, searchQps: 10_000, insertRowsPerSecond: 5_000 } as const;

export interface TargetResult {
  target: TargetName;
  concurrency: number;
  scheduled: number;
  completed: number;
  errors: number;
  dropped: number;
  errorSamples: string[];
  /** Completed requests per second over the scenario's duration. */
  throughputPerSecond: number;
  /** bulk_insert: rows per second; otherwise equal to throughputPerSecond. */
  rowsPerSecond: number;
  latency: LatencySummary;
  meanQueueMs: number;
  histogram: Histogram;
  /** Successful completions in each second. */
  timeline: number[];
  /** Search scenarios: mean recall@limit against exact search on a sample of the queries; null when not measured. */
  recall: number | null;
}

/** dpg divided by a baseline: latency ratios above 1 mean dpg is slower, throughput above 1 that it served more. */
export interface Ratios {
  medianMs: number;
  p95Ms: number;
  p99Ms: number;
  throughput: number;
}

export interface TargetCheck {
  metric: 'p50' | 'p95' | 'p99' | 'throughput';
  goal: number;
  actual: number;
  /** null: not applicable (e.g. offered load below the throughput goal). */
  pass: boolean | null;
  note?: string;
}

export interface ScenarioResult {
  name: ScenarioName;
  kind: ScenarioKind;
  config: ScenarioConfig;
  targets: TargetResult[];
  ratios: { plain?: Ratios; worker?: Ratios };
  checks: TargetCheck[];
}

export interface BenchReport {
  startedAt: string;
  seconds: number;
  quick: boolean;
  arrival: ArrivalProcess;
  dataset: { rows: number; namespaces: number; seed: number; reused: boolean; loadSeconds: number; largestNamespaceRows: number; smallestNamespaceRows: number };
  baseline: { plain: { rows: number; loadSeconds: number; m: number; efConstruction: number; settings: Record<string, string>; iterativeScan: string } | null; workers: number };
  recallSample: number;
  scenarios: ScenarioResult[];
  /** Namespace-aware search per tier (bench/tiers.ts); null when not measured (--no-tiers). */
  tiers: TierReport | null;
  files: { json: string; html: string } | null;
}
