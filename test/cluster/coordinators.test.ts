import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import { runDpg } from '../support/dpg-cli.ts';
import { readProcessRecord, isAlive, waitFor, sleep, portIsFree } from '../../src/cluster/processes.ts';

// Several coordinators behind HAProxy (dpg up with coordinator.instances 2): clients
// use HAProxy's address; a coordinator killed with -9 drops its sessions, new ones go
// to the other at once; catalog changes made through one reach the other.
let cluster: TestCluster;

before(async () => {
  cluster = await startTestCluster({ basePort: 17432, workerGroups: 1, shardCount: 2, extraConfig: ['coordinator: { instances: 2 }'] });
});

after(async () => {
  await cluster?.stop();
});

async function clientConnections(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return Number(/^dpg_client_connections (\d+)/m.exec(text)?.[1] ?? NaN);
}

test('dpg status lists two coordinators and HAProxy; HAProxy spreads clients over both', async () => {
  const status = await runDpg(['status', '--json', '--config', cluster.configFile], { cwd: cluster.dir });
  const processes = (JSON.parse(status.stdout) as { processes: { name: string; running: boolean }[] }).processes;
  for (const name of ['coordinator-1', 'coordinator-2', 'haproxy']) assert.ok(processes.find((p) => p.name === name)?.running, `${name} runs: ${status.stdout}`);
  assert.equal(cluster.layout.coordinators.length, 2);

  const clients = await Promise.all(Array.from({ length: 6 }, async () => {
    const c = new pg.Client(cluster.url);
    await c.connect();
    return c;
  }));
  try {
    for (const c of clients) assert.equal((await c.query('SELECT count(*) AS n FROM memory_entries')).rows[0].n, '0');
    const counts = await Promise.all(cluster.layout.coordinators.map((c) => clientConnections(c.metricsPort)));
    assert.ok(counts.every((n) => n >= 2), `both coordinators have clients: ${counts.join(', ')}`);
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
});

test('a table created through one coordinator is usable through the other', async () => {
  const first = new pg.Client(cluster.url);
  await first.connect();
  await first.query('CREATE TABLE multi_notes (namespace text NOT NULL, note text)');
  await first.query("SELECT create_distributed_table('multi_notes', 'namespace')");
  await first.end();
  // Six sessions open at once are spread over both coordinators (leastconn): all of them see the table.
  const sessions = await Promise.all(Array.from({ length: 6 }, async () => {
    const c = new pg.Client(cluster.url);
    await c.connect();
    return c;
  }));
  const counts = await Promise.all(cluster.layout.coordinators.map((c) => clientConnections(c.metricsPort)));
  assert.ok(counts.every((n) => n >= 2), `sessions on both coordinators: ${counts.join(', ')}`);
  for (const [i, c] of sessions.entries()) await c.query("INSERT INTO multi_notes (namespace, note) VALUES ('n', $1)", [`from session ${i}`]);
  await Promise.all(sessions.map((c) => c.end()));
  const check = new pg.Client(cluster.url);
  await check.connect();
  assert.equal((await check.query("SELECT count(*) AS n FROM multi_notes WHERE namespace = 'n'")).rows[0].n, '6');
  await check.end();
});

test('kill -9 of a coordinator: new sessions go to the other at once, dpg up restarts it', async () => {
  const victim = cluster.layout.coordinators[0]!;
  const record = readProcessRecord(cluster.layout.runDir, victim.processName)!;
  assert.ok(isAlive(record.pid, record.marker));
  process.kill(record.pid, 'SIGKILL');
  // (A session HAProxy hands to the coordinator in the instant it dies is cut with it: once it is gone, none is.)
  await waitFor('coordinator-1 to be gone', 10_000, async () => portIsFree(victim.port), 20);
  const started = performance.now();
  // New sessions succeed at once: HAProxy redispatches a refused connection, then marks the coordinator down.
  const failures: string[] = [];
  for (let i = 0; i < 20; i++) {
    const c = new pg.Client(cluster.url);
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query('SELECT count(*) FROM multi_notes');
    } catch (error) {
      failures.push((error as Error).message);
    } finally {
      await c.end().catch(() => {});
    }
    await sleep(100);
  }
  assert.deepEqual(failures, [], `sessions after the kill (${(performance.now() - started).toFixed(0)} ms)`);

  const up = await runDpg(['up', '--config', cluster.configFile], { cwd: cluster.dir });
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stderr + up.stdout, /coordinator-1/);
  await waitFor('HAProxy to take coordinator-1 back', 10_000, async () => (await fetch(`http://127.0.0.1:${victim.metricsPort}/ready`)).ok);
});
