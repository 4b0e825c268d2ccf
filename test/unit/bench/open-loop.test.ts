import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { arrivalTimes, runOpenLoop } from '../../../src/bench/open-loop.ts';
import { resolveScenarios, scenarioSettingsFromYaml, parseDuration, BenchConfigError } from '../../../src/bench/scenarios.ts';
import { parseBenchFlags } from '../../../src/bench/bench.ts';
import { summarize } from '../../../src/bench/stats.ts';
import { recallAt } from '../../../src/bench/recall.ts';

describe('open-loop arrivals', () => {
  it('schedules target_qps × (duration − ramp_up/2) arrivals, ramping up', () => {
    const uniform = [...arrivalTimes({ durationSeconds: 10, rampUpSeconds: 2, targetQps: 100, arrival: 'uniform', seed: 1 })];
    assert.equal(uniform.length, 899); // 100 × (10 − 1), the last one at t < 10
    const firstSecond = uniform.filter((t) => t < 1).length;
    const lastSecond = uniform.filter((t) => t >= 9).length;
    assert.ok(firstSecond < 30 && lastSecond >= 99, `${firstSecond} then ${lastSecond}`);
    const poisson = [...arrivalTimes({ durationSeconds: 10, rampUpSeconds: 0, targetQps: 200, arrival: 'poisson', seed: 3 })];
    assert.ok(Math.abs(poisson.length - 2000) < 200, String(poisson.length));
  });

  it('keeps arriving while the system is slow, so queueing shows in latency', async () => {
    // 50 arrivals a second for 1 s, one connection, 40 ms per request: the system serves 25/s.
    const result = await runOpenLoop({
      durationSeconds: 1, rampUpSeconds: 0, targetQps: 50, concurrency: 1, arrival: 'uniform', seed: 1, drainSeconds: 5, maxQueue: 1000,
      run: () => new Promise((r) => setTimeout(r, 40)),
    });
    assert.equal(result.scheduled, 49);
    assert.equal(result.completed, 49);
    const latency = summarize(result.latenciesMs);
    assert.ok(latency.maxMs > 500, `the last request waited behind the others: ${latency.maxMs}`);
    assert.ok(result.meanQueueMs > 100);
  });

  it('drops what is still queued when the drain ends, and counts errors', async () => {
    let calls = 0;
    const result = await runOpenLoop({
      durationSeconds: 0.5, rampUpSeconds: 0, targetQps: 100, concurrency: 1, arrival: 'uniform', seed: 1, drainSeconds: 0.1, maxQueue: 1000,
      run: () => (++calls % 2 ? new Promise((r) => setTimeout(r, 50)) : Promise.reject(new Error('boom'))),
    });
    assert.equal(result.completed + result.errors + result.dropped, result.scheduled);
    assert.ok(result.dropped > 0 && result.errors > 0);
    assert.deepEqual(result.errorSamples[0], 'boom');
  });
});

describe('bench scenarios and flags', () => {
  it('reads the seed benchmarks/config.yml format', () => {
    const file = scenarioSettingsFromYaml(`
benchmark_suites:
  vector_search:
    scenarios:
      - name: cross_shard_search
        duration: 20s
        ramp_up: 2s
        target_qps: 50
        query_params: { namespaces: ["ns1", "ns2", "ns3"], limit: 20 }
  write_operations:
    scenarios:
      - name: bulk_insert
        duration: 1m
        target_tps: 2000
        batch_size: 100
`, 'config.yml');
    const scenarios = resolveScenarios({ file });
    assert.deepEqual(scenarios.map((s) => s.name), ['cross_shard_search', 'bulk_insert']);
    assert.equal(scenarios[0]!.durationSeconds, 20);
    assert.equal(scenarios[0]!.namespacesPerQuery, 3);
    assert.equal(scenarios[1]!.targetQps, 20);
    assert.throws(() => scenarioSettingsFromYaml('benchmark_suites: { s: { scenarios: [ { name: nope } ] } }', 'f'), /name "nope" is not allowed/);
  });

  it('layers flags over quick mode over the seed', () => {
    const [single] = resolveScenarios({ quick: true, only: ['single_shard_search'], overrides: { concurrency: 3 } });
    assert.equal(single!.durationSeconds, 3);
    assert.equal(single!.concurrency, 3);
    assert.equal(resolveScenarios({}).find((s) => s.name === 'high_concurrency')!.concurrency, 500);
    assert.equal(parseDuration('5m', 'd'), 300);
    assert.throws(() => parseDuration('soon', 'duration'), BenchConfigError);
    const options = parseBenchFlags({ quick: true, rows: '2000', scenarios: 'bulk_insert,concurrent_updates', duration: '10s', 'no-baseline': true });
    assert.equal(options.rows, 2000);
    assert.deepEqual(options.scenarios, ['bulk_insert', 'concurrent_updates']);
    assert.equal(options.overrides?.durationSeconds, 10);
    assert.equal(options.baselines, false);
    assert.throws(() => parseBenchFlags({ rows: 'many' }), /--rows "many"/);
  });

  it('computes recall against the exact answer', () => {
    assert.equal(recallAt([['a', 'b'], ['x']], [['a', 'c'], ['x']]), 0.75);
    assert.equal(recallAt([[]], [[]]), null);
  });
});
