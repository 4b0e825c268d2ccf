import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import { runBench, type BenchReport } from '../../src/bench/bench.ts';
import { nodePassword } from '../../src/cluster/secrets.ts';
import { SCENARIO_NAMES } from '../../src/bench/scenarios.ts';

/**
 * `dpg bench --quick` against a real cluster: every scenario runs, search
 * scenarios have both baselines and a recall, and the JSON and HTML reports are
 * written. Only the report's shape is checked, never its speed.
 */

// Below the ephemeral port range (32768+), where outgoing connections could take a port first.
const BASE_PORT = 24432;

let cluster: TestCluster;
let outDir: string;
let report: BenchReport;
const lines: string[] = [];

before(async () => {
  cluster = await startTestCluster({ basePort: BASE_PORT });
  outDir = mkdtempSync(join(tmpdir(), 'dpg-bench-out-'));
  report = await runBench({ url: cluster.url, workerLogin: { user: cluster.secrets.appUser, password: nodePassword(cluster.secrets, cluster.secrets.appUser) }, quick: true, outDir, out: (line) => lines.push(line) });
});

after(async () => {
  await cluster?.stop();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

describe('dpg bench --quick', () => {
  it('runs every scenario of the seed with the latency fields', () => {
    assert.deepEqual(report.scenarios.map((s) => s.name), [...SCENARIO_NAMES]);
    for (const scenario of report.scenarios) {
      assert.ok(scenario.targets.length >= 1, scenario.name);
      for (const target of scenario.targets) {
        for (const key of ['minMs', 'medianMs', 'meanMs', 'p95Ms', 'p99Ms', 'p999Ms'] as const) {
          assert.equal(typeof target.latency[key], 'number', `${scenario.name}/${target.target}.${key}`);
        }
        assert.ok(target.scheduled > 0, `${scenario.name}/${target.target} scheduled requests`);
        assert.ok(target.completed > 0, `${scenario.name}/${target.target} completed requests: ${target.errorSamples.join('; ')}`);
        assert.equal(target.completed + target.errors + target.dropped, target.scheduled, `${scenario.name}/${target.target}: every arrival is accounted for`);
        assert.ok(Number.isFinite(target.latency.medianMs) && target.latency.minMs <= target.latency.p99Ms);
        assert.equal(typeof target.throughputPerSecond, 'number');
      }
      assert.deepEqual(scenario.checks.slice(0, 3).map((c) => c.metric), ['p50', 'p95', 'p99']);
    }
  });

  it('runs the search scenarios against dpg, plain PostgreSQL and the workers, with ratios and recall', () => {
    const searches = report.scenarios.filter((s) => s.kind === 'search');
    assert.deepEqual(searches.map((s) => s.name), ['single_shard_search', 'cross_shard_search', 'high_concurrency']);
    for (const scenario of searches) {
      assert.deepEqual(scenario.targets.map((t) => t.target), ['dpg', 'plain', 'worker']);
      for (const baseline of ['plain', 'worker'] as const) {
        const ratios = scenario.ratios[baseline];
        assert.ok(ratios, `${scenario.name} ratios against ${baseline}`);
        for (const value of Object.values(ratios)) assert.ok(Number.isFinite(value) && value > 0, `${scenario.name}/${baseline}: ${value}`);
      }
      for (const target of scenario.targets) {
        assert.ok(target.recall !== null && target.recall >= 0 && target.recall <= 1, `${scenario.name}/${target.target} recall ${target.recall}`);
      }
    }
    assert.ok(report.baseline.plain && report.baseline.plain.rows === report.dataset.rows);
  });

  it('measures namespace search per tier against plain PostgreSQL, and cross-namespace against single', () => {
    assert.ok(report.tiers, 'the tier measurement ran');
    const names = report.tiers.groups.map((g) => g.tier);
    assert.ok(names.includes('exact') && names.includes('cross-namespace'), names.join(', '));
    for (const group of [...report.tiers.groups, report.tiers.single!]) {
      for (const t of [group.dpg, group.plain!]) {
        assert.ok(Number.isFinite(t.p50Ms) && t.p50Ms > 0 && t.p99Ms >= t.p50Ms && t.qps > 0, `${group.tier}: ${JSON.stringify(t)}`);
        assert.ok(t.recall !== null && t.recall >= 0 && t.recall <= 1);
      }
      assert.ok(group.p50Ratio !== null && group.p50Ratio > 0);
    }
    assert.ok(report.tiers.crossToSingleP50 !== null && report.tiers.crossToSingleP50 > 0);
    assert.ok(lines.some((l) => l.startsWith('namespace tiers')), 'the tier table is printed');
  });

  it('writes a JSON report and a self-contained HTML report with SVG charts', () => {
    assert.ok(report.files);
    assert.ok(existsSync(report.files.json) && existsSync(report.files.html));
    const json = JSON.parse(readFileSync(report.files.json, 'utf8')) as BenchReport;
    assert.equal(json.scenarios.length, SCENARIO_NAMES.length);
    const html = readFileSync(report.files.html, 'utf8');
    assert.match(html, /<svg[\s>]/);
    assert.doesNotMatch(html, /<script|<link /);
    assert.ok(lines.some((l) => l.includes('single_shard_search')), 'the table is printed');
  });
});
