/**
 * The scenarios of `dpg bench`: the seed's benchmarks/config.yml, with what it
 * leaves out filled in, and how a config file, quick mode and flags change them.
 *
 * Precedence, lowest first: the seed's values, quick mode, the config file, flags.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export const SCENARIO_NAMES = ['single_shard_search', 'cross_shard_search', 'high_concurrency', 'bulk_insert', 'concurrent_updates'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];
export type ScenarioKind = 'search' | 'write';

export interface ScenarioConfig {
  name: ScenarioName;
  kind: ScenarioKind;
  durationSeconds: number;
  rampUpSeconds: number;
  /**
   * Requests per second at full rate. For bulk_insert a request is one batch, so
   * rows per second are target_qps × batch_size (the seed's target_tps is rows).
   */
  targetQps: number;
  /** In-flight requests at most (connections); arrivals beyond it wait in a queue. */
  concurrency: number;
  /** Search: LIMIT; write: unused. */
  limit: number;
  /** Search: how many namespaces one query spans (1, or 5 for cross_shard_search). */
  namespacesPerQuery: number;
  /** Search: the seed's `min_similarity` filter, or null for none. */
  minSimilarity: number | null;
  /** bulk_insert: rows per INSERT. */
  batchSize: number;
}

export class BenchConfigError extends Error {}

/** The seed's benchmarks/config.yml; concurrency where it gives none is ours. */
const SEED_SCENARIOS: Record<ScenarioName, ScenarioConfig> = {
  single_shard_search: { name: 'single_shard_search', kind: 'search', durationSeconds: 300, rampUpSeconds: 30, targetQps: 1000, concurrency: 32, limit: 10, namespacesPerQuery: 1, minSimilarity: 0.7, batchSize: 0 },
  cross_shard_search: { name: 'cross_shard_search', kind: 'search', durationSeconds: 300, rampUpSeconds: 30, targetQps: 500, concurrency: 32, limit: 20, namespacesPerQuery: 5, minSimilarity: null, batchSize: 0 },
  high_concurrency: { name: 'high_concurrency', kind: 'search', durationSeconds: 600, rampUpSeconds: 60, targetQps: 5000, concurrency: 500, limit: 10, namespacesPerQuery: 1, minSimilarity: null, batchSize: 0 },
  // target_tps 1000 rows in batches of 100: 10 INSERTs a second.
  bulk_insert: { name: 'bulk_insert', kind: 'write', durationSeconds: 300, rampUpSeconds: 0, targetQps: 10, concurrency: 8, limit: 0, namespacesPerQuery: 1, minSimilarity: null, batchSize: 100 },
  concurrent_updates: { name: 'concurrent_updates', kind: 'write', durationSeconds: 300, rampUpSeconds: 0, targetQps: 500, concurrency: 100, limit: 0, namespacesPerQuery: 1, minSimilarity: null, batchSize: 0 },
};

/** Small and short: the whole quick bench (load, baselines, every scenario) in well under 3 minutes on 2 cores. */
const QUICK_OVERRIDES: Record<ScenarioName, Partial<ScenarioConfig>> = {
  single_shard_search: { durationSeconds: 3, rampUpSeconds: 1, targetQps: 200, concurrency: 8 },
  cross_shard_search: { durationSeconds: 3, rampUpSeconds: 1, targetQps: 100, concurrency: 8 },
  high_concurrency: { durationSeconds: 3, rampUpSeconds: 1, targetQps: 300, concurrency: 40 },
  bulk_insert: { durationSeconds: 3, rampUpSeconds: 1, targetQps: 5, concurrency: 4 },
  concurrent_updates: { durationSeconds: 3, rampUpSeconds: 1, targetQps: 200, concurrency: 20 },
};

export const QUICK_ROWS = 5_000;
export const DEFAULT_ROWS = 100_000;

/** What flags may change for every selected scenario at once. */
export interface ScenarioOverrides {
  durationSeconds?: number;
  rampUpSeconds?: number;
  targetQps?: number;
  concurrency?: number;
}

/** `300s`, `5m`, `1.5s`, `250ms` or a bare number of seconds. */
export function parseDuration(value: unknown, key: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
    if (match) {
      const n = Number(match[1]);
      const unit = match[2] ?? 's';
      return unit === 'ms' ? n / 1000 : unit === 's' ? n : unit === 'm' ? n * 60 : n * 3600;
    }
  }
  throw new BenchConfigError(`${key} ${JSON.stringify(value)} is not allowed: a duration such as 30s, 5m, 250ms or a number of seconds`);
}

function positiveNumber(value: unknown, key: string, integer = false): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new BenchConfigError(`${key} ${JSON.stringify(value)} is not allowed: a ${integer ? 'whole ' : ''}number greater than 0`);
  }
  return n;
}

/**
 * Scenario settings from a file in the seed's benchmarks/config.yml format:
 * `benchmark_suites.<suite>.scenarios[]`, each with name, duration, ramp_up,
 * target_qps or target_tps, concurrent_connections, batch_size and query_params
 * (limit, min_similarity, namespaces). Namespace names in the file are not looked
 * up: the bench queries its own data set, so only how many namespaces one query
 * spans is taken from them.
 */
export function scenarioSettingsFromYaml(text: string, source: string): Map<ScenarioName, Partial<ScenarioConfig>> {
  const doc = parseYaml(text) as unknown;
  const suites = (doc as { benchmark_suites?: unknown } | null)?.benchmark_suites;
  if (!suites || typeof suites !== 'object') throw new BenchConfigError(`${source}: benchmark_suites is missing: expected benchmark_suites.<suite>.scenarios[]`);
  const settings = new Map<ScenarioName, Partial<ScenarioConfig>>();
  for (const [suiteName, suite] of Object.entries(suites as Record<string, unknown>)) {
    const scenarios = (suite as { scenarios?: unknown } | null)?.scenarios;
    if (!Array.isArray(scenarios)) throw new BenchConfigError(`${source}: benchmark_suites.${suiteName}.scenarios is not a list`);
    scenarios.forEach((raw: unknown, i) => {
      const at = `${source}: benchmark_suites.${suiteName}.scenarios[${i}]`;
      const s = raw as Record<string, unknown>;
      const name = s?.name;
      if (typeof name !== 'string' || !(SCENARIO_NAMES as readonly string[]).includes(name)) {
        throw new BenchConfigError(`${at}.name ${JSON.stringify(name)} is not allowed: one of ${SCENARIO_NAMES.join(', ')}`);
      }
      const base = SEED_SCENARIOS[name as ScenarioName];
      const out: Partial<ScenarioConfig> = {};
      if (s.duration !== undefined) out.durationSeconds = parseDuration(s.duration, `${at}.duration`);
      if (s.ramp_up !== undefined) out.rampUpSeconds = parseDuration(s.ramp_up, `${at}.ramp_up`);
      if (s.concurrent_connections !== undefined) out.concurrency = positiveNumber(s.concurrent_connections, `${at}.concurrent_connections`, true);
      if (s.batch_size !== undefined) out.batchSize = positiveNumber(s.batch_size, `${at}.batch_size`, true);
      const batch = out.batchSize ?? base.batchSize;
      if (s.target_qps !== undefined) out.targetQps = positiveNumber(s.target_qps, `${at}.target_qps`);
      if (s.target_tps !== undefined) {
        const tps = positiveNumber(s.target_tps, `${at}.target_tps`);
        out.targetQps = name === 'bulk_insert' ? tps / batch : tps;
      }
      const params = s.query_params as Record<string, unknown> | undefined;
      if (params) {
        if (params.limit !== undefined) out.limit = positiveNumber(params.limit, `${at}.query_params.limit`, true);
        if (params.min_similarity !== undefined) {
          const m = Number(params.min_similarity);
          if (!Number.isFinite(m) || m < -1 || m > 1) throw new BenchConfigError(`${at}.query_params.min_similarity ${JSON.stringify(params.min_similarity)} is not allowed: a number from -1 to 1`);
          out.minSimilarity = m;
        }
        if (Array.isArray(params.namespaces)) out.namespacesPerQuery = Math.max(1, params.namespaces.length);
      }
      settings.set(name as ScenarioName, out);
    });
  }
  return settings;
}

export function readScenarioFile(path: string): Map<ScenarioName, Partial<ScenarioConfig>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new BenchConfigError(`cannot read bench config ${path}: ${(error as Error).message}`);
  }
  return scenarioSettingsFromYaml(text, path);
}

/** The scenarios to run, in the seed's order, with every layer of settings applied. */
export function resolveScenarios(options: {
  quick?: boolean;
  file?: Map<ScenarioName, Partial<ScenarioConfig>>;
  only?: readonly string[];
  overrides?: ScenarioOverrides;
}): ScenarioConfig[] {
  for (const name of options.only ?? []) {
    if (!(SCENARIO_NAMES as readonly string[]).includes(name)) throw new BenchConfigError(`scenario ${JSON.stringify(name)} is not allowed: one of ${SCENARIO_NAMES.join(', ')}`);
  }
  // A file that lists scenarios selects them, unless flags choose.
  const selected = options.only?.length ? options.only : options.file?.size ? [...options.file.keys()] : SCENARIO_NAMES;
  return SCENARIO_NAMES.filter((name) => selected.includes(name)).map((name) => {
    const flags = Object.fromEntries(Object.entries(options.overrides ?? {}).filter(([, v]) => v !== undefined));
    const config: ScenarioConfig = { ...SEED_SCENARIOS[name], ...(options.quick ? QUICK_OVERRIDES[name] : {}), ...(options.file?.get(name) ?? {}), ...flags };
    if (config.durationSeconds <= 0) throw new BenchConfigError(`${name}.duration ${config.durationSeconds} is not allowed: more than 0 s`);
    if (config.rampUpSeconds >= config.durationSeconds) config.rampUpSeconds = 0;
    return config;
  });
}
