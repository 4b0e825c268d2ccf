/**
 * `dpg bench`: the seed's benchmark suite against a running cluster. Loads (or
 * reuses) its data set through the coordinator, starts a plain PostgreSQL +
 * pgvector baseline with the same rows, runs every scenario open-loop against
 * dpg, the baseline and the workers directly, measures recall against exact
 * search, and writes a JSON and an HTML report.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { benchDataset, ensureClusterDataset, loadRows, type BenchDataset } from './dataset.ts';
import { runOpenLoop, type ArrivalProcess, type OpenLoopResult } from './open-loop.ts';
import { createPlainHnswIndex, createPlainSchema, startPlainPostgres, type PlainPostgres } from './plain-postgres.ts';
import { DEFAULT_ROWS, QUICK_ROWS, readScenarioFile, resolveScenarios, BenchConfigError, parseDuration, type ScenarioConfig, type ScenarioOverrides } from './scenarios.ts';
import { histogram, summarize } from './stats.ts';
import { openPool, shardLocations, sqlTarget, workerTarget, workerTuning, type SearchTarget, type ShardLocation, type WorkerLogin } from './targets.ts';
import { clearInserted, insertBatch, searchQueries, updateKeys, UPDATE_SQL } from './workload.ts';
import { SEED_TARGETS, type BenchReport, type Ratios, type ScenarioResult, type TargetCheck, type TargetResult } from './report-types.ts';
import { formatReport } from './report-text.ts';
import { renderHtml } from './report-html.ts';
import { exactTopK, recallAt } from './recall.ts';
import { measureTiers, type TierReport } from './tiers.ts';

export { BenchConfigError } from './scenarios.ts';
export type { BenchReport } from './report-types.ts';

export interface BenchOptions {
  /** The coordinator's client URL (as `dpg url` prints it). */
  url: string;
  /** How the worker-direct baseline logs in to the nodes (the node password of the URL's role, from the cluster's secrets). */
  workerLogin?: WorkerLogin;
  /** Small data, 3 s scenarios: under 3 minutes. */
  quick?: boolean;
  /** Data set size; default 100,000 (5,000 with quick). */
  rows?: number;
  seed?: number;
  /** A benchmarks/config.yml-style file. */
  configFile?: string;
  /** Run only these scenarios. */
  scenarios?: string[];
  /** Applied to every selected scenario, over the seed's, quick and file values. */
  overrides?: ScenarioOverrides;
  /** Folder for bench-report.json and bench-report.html; none: no files. */
  outDir?: string;
  /** false: dpg only, no plain PostgreSQL or worker runs. */
  baselines?: boolean;
  /** false: no per-tier namespace search measurement. */
  tiers?: boolean;
  /** Queries per search scenario whose recall is measured. */
  recallSample?: number;
  arrival?: ArrivalProcess;
  out?: (line: string) => void;
  progress?: boolean;
}

/** Seconds a scenario's queue may still drain after its last arrival. */
const DRAIN_SECONDS = { quick: 2, full: 10 };
const MAX_QUEUE = 200_000;

/**
 * Maps `dpg bench` flags (as node:util parseArgs returns them) onto BenchOptions
 * (without url). Flags: --quick, --rows N, --seed N, --bench-config FILE,
 * --scenarios a,b, --duration 30s, --ramp-up 5s, --qps N, --concurrency N,
 * --out DIR, --no-baseline, --no-tiers, --recall-sample N, --arrival poisson|uniform.
 */
export function parseBenchFlags(flags: Record<string, string | boolean | undefined>): Omit<BenchOptions, 'url'> {
  const text = (key: string): string | undefined => {
    const v = flags[key];
    if (v === undefined || v === false) return undefined;
    if (v === true) throw new BenchConfigError(`--${key} needs a value`);
    return v;
  };
  const whole = (key: string): number | undefined => {
    const v = text(key);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new BenchConfigError(`--${key} ${JSON.stringify(v)} is not allowed: a whole number of at least 1`);
    return Number(v);
  };
  const positive = (key: string): number | undefined => {
    const v = text(key);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new BenchConfigError(`--${key} ${JSON.stringify(v)} is not allowed: a number greater than 0`);
    return n;
  };
  const arrival = text('arrival');
  if (arrival !== undefined && arrival !== 'poisson' && arrival !== 'uniform') throw new BenchConfigError(`--arrival ${JSON.stringify(arrival)} is not allowed: poisson or uniform`);
  const duration = text('duration');
  const rampUp = text('ramp-up');
  const seed = text('seed');
  if (seed !== undefined && !/^\d+$/.test(seed)) throw new BenchConfigError(`--seed ${JSON.stringify(seed)} is not allowed: a whole number`);
  return {
    quick: flags.quick === true,
    rows: whole('rows'),
    seed: seed === undefined ? undefined : Number(seed),
    configFile: text('bench-config'),
    scenarios: text('scenarios')?.split(',').map((s) => s.trim()).filter(Boolean),
    overrides: {
      durationSeconds: duration === undefined ? undefined : parseDuration(duration, '--duration'),
      rampUpSeconds: rampUp === undefined ? undefined : parseDuration(rampUp, '--ramp-up'),
      targetQps: positive('qps'),
      concurrency: whole('concurrency'),
    },
    outDir: text('out'),
    baselines: flags['no-baseline'] !== true,
    tiers: flags['no-tiers'] !== true,
    recallSample: whole('recall-sample'),
    arrival: arrival as ArrivalProcess | undefined,
  };
}

function ratios(dpg: TargetResult, baseline: TargetResult): Ratios {
  return {
    medianMs: dpg.latency.medianMs / baseline.latency.medianMs,
    p95Ms: dpg.latency.p95Ms / baseline.latency.p95Ms,
    p99Ms: dpg.latency.p99Ms / baseline.latency.p99Ms,
    throughput: dpg.throughputPerSecond / baseline.throughputPerSecond,
  };
}

function checks(scenario: ScenarioConfig, dpg: TargetResult): TargetCheck[] {
  const latency = (metric: 'p50' | 'p95' | 'p99', goal: number, actual: number): TargetCheck => ({ metric, goal, actual, pass: Number.isFinite(actual) ? actual <= goal : false });
  const list = [latency('p50', SEED_TARGETS.p50Ms, dpg.latency.medianMs), latency('p95', SEED_TARGETS.p95Ms, dpg.latency.p95Ms), latency('p99', SEED_TARGETS.p99Ms, dpg.latency.p99Ms)];
  const throughputGoal = scenario.kind === 'search' ? SEED_TARGETS.searchQps : scenario.name === 'bulk_insert' ? SEED_TARGETS.insertRowsPerSecond : null;
  if (throughputGoal !== null) {
    const offered = scenario.targetQps * (scenario.name === 'bulk_insert' ? scenario.batchSize : 1);
    const actual = dpg.rowsPerSecond;
    list.push(actual >= throughputGoal
      ? { metric: 'throughput', goal: throughputGoal, actual, pass: true }
      : offered < throughputGoal
        ? { metric: 'throughput', goal: throughputGoal, actual, pass: null, note: `offered ${offered}/s, below the goal` }
        : { metric: 'throughput', goal: throughputGoal, actual, pass: false });
  }
  return list;
}

function targetResult(target: SearchTarget['name'], concurrency: number, scenario: ScenarioConfig, run: OpenLoopResult, recall: number | null): TargetResult {
  const throughput = run.completed / scenario.durationSeconds;
  return {
    target,
    concurrency,
    scheduled: run.scheduled,
    completed: run.completed,
    errors: run.errors,
    dropped: run.dropped,
    errorSamples: run.errorSamples,
    throughputPerSecond: throughput,
    rowsPerSecond: scenario.name === 'bulk_insert' ? throughput * scenario.batchSize : throughput,
    latency: summarize(run.latenciesMs),
    meanQueueMs: run.meanQueueMs,
    histogram: histogram(run.latenciesMs),
    timeline: run.timeline.slice(0, Math.ceil(run.elapsedSeconds)),
    recall,
  };
}

interface Context {
  options: BenchOptions;
  dataset: BenchDataset;
  plain: PlainPostgres | null;
  shards: ShardLocation[];
  arrival: ArrivalProcess;
  drainSeconds: number;
  recallSample: number;
  out: (line: string) => void;
}

function loop(ctx: Context, scenario: ScenarioConfig, concurrency: number, run: (index: number) => Promise<void>, seed: number): Promise<OpenLoopResult> {
  return runOpenLoop({ ...scenario, concurrency, arrival: ctx.arrival, seed, drainSeconds: ctx.drainSeconds, maxQueue: MAX_QUEUE, run });
}

async function runSearchScenario(ctx: Context, scenario: ScenarioConfig, index: number): Promise<ScenarioResult> {
  const queries = searchQueries(ctx.dataset, scenario, ctx.dataset.seed * 1000 + index);
  const sample = queries.slice(0, ctx.recallSample);
  const exact = ctx.plain ? await exactTopK(ctx.plain.url, sample) : null;
  const openers: (() => Promise<SearchTarget>)[] = [() => sqlTarget('dpg', ctx.options.url, 'ruvector', scenario.concurrency)];
  if (ctx.plain) {
    const plainUrl = ctx.plain.url;
    openers.push(() => sqlTarget('plain', plainUrl, 'vector', scenario.concurrency, ['SET hnsw.iterative_scan = relaxed_order']));
    openers.push(() => workerTarget(ctx.options.url, ctx.shards, scenario.concurrency, ctx.options.workerLogin));
  }
  const results: TargetResult[] = [];
  for (const open of openers) {
    const target = await open();
    try {
      let recall: number | null = null;
      if (exact) {
        const found: string[][] = [];
        for (const query of sample) found.push((await target.search(query)).map((h) => `${h.namespace}\u0000${h.key}`));
        recall = recallAt(found, exact);
      }
      const run = await loop(ctx, scenario, target.concurrency, async (i) => {
        await target.search(queries[i % queries.length]!);
      }, index + 1);
      results.push(targetResult(target.name, target.concurrency, scenario, run, recall));
      ctx.out(`  ${scenario.name} on ${target.name}: ${run.completed} done, ${run.errors} errors, ${run.dropped} dropped`);
    } finally {
      await target.close();
    }
  }
  const dpg = results[0]!;
  const plain = results.find((r) => r.target === 'plain');
  const worker = results.find((r) => r.target === 'worker');
  return {
    name: scenario.name,
    kind: scenario.kind,
    config: scenario,
    targets: results,
    ratios: { ...(plain ? { plain: ratios(dpg, plain) } : {}), ...(worker ? { worker: ratios(dpg, worker) } : {}) },
    checks: checks(scenario, dpg),
  };
}

async function runWriteScenario(ctx: Context, scenario: ScenarioConfig, index: number): Promise<ScenarioResult> {
  const pool = await openPool({ connectionString: ctx.options.url }, scenario.concurrency);
  try {
    let run: OpenLoopResult;
    if (scenario.name === 'bulk_insert') {
      await clearInserted(pool);
      const runId = `r${Date.now().toString(36)}`;
      run = await loop(ctx, scenario, scenario.concurrency, async (i) => {
        await pool.query(insertBatch(ctx.dataset, scenario, runId, i));
      }, index + 1);
      await clearInserted(pool);
    } else {
      const keys = await updateKeys(pool, ctx.dataset);
      if (keys.length === 0) throw new Error('concurrent_updates found no rows to update');
      run = await loop(ctx, scenario, scenario.concurrency, async (i) => {
        const { namespace, key } = keys[(i * 7919) % keys.length]!;
        await pool.query({ name: 'dpg_bench_update', text: UPDATE_SQL, values: [namespace, key, `bench update ${i}`] });
      }, index + 1);
    }
    ctx.out(`  ${scenario.name} on dpg: ${run.completed} done, ${run.errors} errors, ${run.dropped} dropped`);
    const dpg = targetResult('dpg', scenario.concurrency, scenario, run, null);
    return { name: scenario.name, kind: scenario.kind, config: scenario, targets: [dpg], ratios: {}, checks: checks(scenario, dpg) };
  } finally {
    await pool.end();
  }
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const quick = options.quick ?? false;
  const scenarios = resolveScenarios({ quick, file: options.configFile ? readScenarioFile(options.configFile) : undefined, only: options.scenarios, overrides: options.overrides });
  const dataset = benchDataset({ rows: options.rows ?? (quick ? QUICK_ROWS : DEFAULT_ROWS), seed: options.seed ?? 42 });
  const progress = options.progress ?? false;
  const arrival = options.arrival ?? 'poisson';

  out(`bench data: ${dataset.rows} rows in ${dataset.namespaces.length} namespaces (${dataset.namespaces[0]!.rows} ... ${dataset.namespaces.at(-1)!.rows} rows each), seed ${dataset.seed}`);
  const load = await ensureClusterDataset(options.url, dataset, progress);
  out(load.reused ? 'bench data already loaded on the cluster: reusing it' : `loaded through the coordinator in ${load.seconds.toFixed(1)} s`);

  const shards = await shardLocations(options.url);
  let plain: PlainPostgres | null = null;
  let plainInfo: BenchReport['baseline']['plain'] = null;
  try {
    if (options.baselines !== false) {
      const tuning = await workerTuning(options.url, shards[0]!, options.workerLogin);
      out(`starting the plain PostgreSQL + pgvector baseline (HNSW m=${tuning.m}, ef_construction=${tuning.efConstruction}, ${Object.entries(tuning.settings).map(([k, v]) => `${k}=${v}`).join(', ')})`);
      plain = await startPlainPostgres(tuning.settings);
      const loadStarted = performance.now();
      await createPlainSchema(plain.url);
      await loadRows(plain.url, dataset, 'vector', progress, 'rows (baseline)');
      await createPlainHnswIndex(plain.url, tuning);
      const loadSeconds = (performance.now() - loadStarted) / 1000;
      out(`baseline loaded and indexed in ${loadSeconds.toFixed(1)} s`);
      plainInfo = { rows: dataset.rows, loadSeconds, m: tuning.m, efConstruction: tuning.efConstruction, settings: tuning.settings, iterativeScan: 'relaxed_order' };
    }
    const ctx: Context = {
      options, dataset, plain, shards, arrival,
      drainSeconds: quick ? DRAIN_SECONDS.quick : DRAIN_SECONDS.full,
      recallSample: options.recallSample ?? (quick ? 20 : 100),
      out,
    };
    const results: ScenarioResult[] = [];
    for (const [index, scenario] of scenarios.entries()) {
      out(`${scenario.name}: ${scenario.durationSeconds} s (ramp-up ${scenario.rampUpSeconds} s) at ${scenario.targetQps}/s, ${scenario.concurrency} connections`);
      results.push(scenario.kind === 'search' ? await runSearchScenario(ctx, scenario, index) : await runWriteScenario(ctx, scenario, index));
    }
    let tiers: TierReport | null = null;
    if (options.tiers !== false) {
      out('namespace tiers: single-namespace top-10 per tier and cross-namespace top-20, dpg and plain PostgreSQL');
      const dpgTarget = await sqlTarget('dpg', options.url, 'ruvector', 4);
      const plainTarget = plain ? await sqlTarget('plain', plain.url, 'vector', 4, ['SET hnsw.iterative_scan = relaxed_order']) : null;
      try {
        tiers = await measureTiers({ dataset, dpg: dpgTarget, plain: plainTarget, plainUrl: plain?.url ?? null, dpgUrl: options.url, queriesPerGroup: quick ? 30 : 300 });
      } finally {
        await dpgTarget.close();
        await plainTarget?.close();
      }
    }
    const report: BenchReport = {
      startedAt,
      seconds: (performance.now() - started) / 1000,
      quick,
      arrival,
      dataset: { rows: dataset.rows, namespaces: dataset.namespaces.length, seed: dataset.seed, reused: load.reused, loadSeconds: load.seconds, largestNamespaceRows: dataset.namespaces[0]!.rows, smallestNamespaceRows: dataset.namespaces.at(-1)!.rows },
      baseline: { plain: plainInfo, workers: new Set(shards.map((s) => `${s.host}:${s.port}`)).size },
      recallSample: ctx.recallSample,
      scenarios: results,
      tiers,
      files: null,
    };
    if (options.outDir) {
      const dir = resolve(options.outDir);
      mkdirSync(dir, { recursive: true });
      report.files = { json: join(dir, 'bench-report.json'), html: join(dir, 'bench-report.html') };
      writeFileSync(report.files.json, `${JSON.stringify(report, null, 2)}\n`);
      writeFileSync(report.files.html, renderHtml(report));
    }
    for (const line of formatReport(report)) out(line);
    return report;
  } finally {
    await plain?.stop();
  }
}

export type { ScenarioConfig, ScenarioOverrides } from './scenarios.ts';
