import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import { loadConfig } from '../../src/config/config.ts';
import { runChaos, formatChaos, type ChaosResult } from '../../src/chaos/chaos.ts';

// dpg chaos against a real cluster: worker groups and the control group of a primary
// and a synchronous standby each, two coordinators behind HAProxy, reads from standbys,
// every node's links to etcd and from the coordinators through dpg's fault proxy. Each scenario runs a
// read/write load with a ledger; afterwards no acknowledged write may be missing, no
// write reported failed may be there, no transaction may be half there.
let cluster: TestCluster;
let results: ChaosResult[] = [];

before(async () => {
  cluster = await startTestCluster({
    basePort: 16432,
    workerGroups: 2,
    replicationFactor: 2,
    shardCount: 4,
    controlNodes: 2,
    faultProxies: true,
    extraConfig: ['coordinator: { instances: 2, prepared_transaction_grace_seconds: 5, recovery_interval_seconds: 2 }', 'query_router: { read_from: replica }'],
  });
});

after(async () => {
  await cluster?.stop();
});

test('every chaos scenario keeps every acknowledged write and applies nothing by halves', async (t) => {
  const loaded = loadConfig({ path: cluster.configFile });
  results = await runChaos(
    { config: loaded.config, dataDir: loaded.dataDir, layout: cluster.layout, secrets: cluster.secrets, url: cluster.url, log: (line) => t.diagnostic(line) },
    { durationSeconds: 12 },
  );
  for (const line of formatChaos(results).split('\n')) t.diagnostic(line);
  assert.equal(results.length, 7);
  for (const result of results) {
    assert.equal(result.skipped, null, `${result.scenario} ran`);
    if (result.spike) continue;
    const v = result.verdict!;
    assert.ok(v.acknowledged > 0, `${result.scenario}: writes were acknowledged`);
    assert.equal(v.lost, 0, `${result.scenario}: ${v.examples.join('; ')}`);
    assert.equal(v.phantom, 0, `${result.scenario}: ${v.examples.join('; ')}`);
    assert.equal(v.torn, 0, `${result.scenario}: ${v.examples.join('; ')}`);
  }
  const worker = results.find((r) => r.scenario === 'worker-primary')!;
  assert.equal(worker.readErrors, 0, `reads ride through a worker primary's crash: ${worker.readErrorExamples.join('; ')}`);
  const node = results.find((r) => r.scenario === 'worker-node')!;
  assert.equal(node.readErrors, 0, `reads go to the standby while a dead primary's leader key runs out: ${node.readErrorExamples.join('; ')}`);
  const control = results.find((r) => r.scenario === 'control-primary')!;
  assert.equal(control.readErrors, 0, `reads ride through the control primary's crash: ${control.readErrorExamples.join('; ')}`);
  const spike = results.find((r) => r.scenario === 'spike')!.spike!;
  assert.ok(spike.pooled.successRate >= 0.99, `the seed's spike: ${spike.pooled.successRate} (${spike.pooled.errors.join('; ')})`);
  assert.deepEqual(spike.connections.otherErrors, [], 'connections beyond the limit are refused with 53300, nothing else');
  assert.ok(spike.connections.coordinatorAlive, 'the coordinator serves queries after the spike');
});
