import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { startTestCluster, assertClientSlotsFull, type TestCluster } from '../support/test-cluster.ts';
import { readProcessRecord, isAlive, waitFor, childPids } from '../../src/cluster/processes.ts';
import { runDpg } from '../support/dpg-cli.ts';
import { PROCESS_SLOTS } from '../../src/server/process-group.ts';

// One coordinator run as two processes sharing its port (coordinator.processes: 2,
// node:cluster): clients land on both, the client slots are the coordinator's across
// them, a CancelRequest reaches the process that runs the session, /metrics and /ready
// are the host's, and a process killed with -9 is started again while the other serves on.
let cluster: TestCluster;
const MAX_CLIENTS = 6;

before(async () => {
  cluster = await startTestCluster({ basePort: 32032, workerGroups: 1, shardCount: 2, extraConfig: [`coordinator: { processes: 2, max_client_connections: ${MAX_CLIENTS} }`] });
});

after(async () => {
  await cluster?.stop();
});

const processIndex = (client: pg.Client) => (client as unknown as { processID: number }).processID % PROCESS_SLOTS;

async function connect(): Promise<pg.Client> {
  const client = new pg.Client(cluster.url);
  await client.connect();
  return client;
}

async function metricsText(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${cluster.layout.metricsPort}/metrics`)).text();
}

/** The coordinator's forked processes: children of the process dpg up recorded. */
const workerPids = () => childPids(readProcessRecord(cluster.layout.runDir, cluster.layout.coordinators[0]!.processName)!.pid);

/** The server side of closed sessions has let their slots go (a close reaches the coordinator after the client's end()). */
const sessionsReleased = () => waitFor('sessions released', 10_000, async () => Number(/^dpg_client_connections (\d+)/m.exec(await metricsText())?.[1]) === 0);

test('sessions are spread over both processes, and the client slots are the coordinator\'s across them (53300 at max_client_connections)', async () => {
  const clients = await Promise.all(Array.from({ length: 4 }, connect));
  try {
    assert.deepEqual(new Set(clients.map(processIndex)), new Set([0, 1]), 'both processes got sessions');
    for (const client of clients) assert.equal((await client.query('SELECT count(*) AS n FROM memory_entries')).rows[0].n, '0');
    const text = await metricsText();
    assert.equal(Number(/^dpg_client_connections (\d+)/m.exec(text)?.[1]), 4, 'the host\'s /metrics sums the processes\' sessions');
    assert.equal(Number(/^dpg_client_connections_max (\d+)/m.exec(text)?.[1]), MAX_CLIENTS);
    const statements = [...text.matchAll(/^dpg_statements_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    assert.ok(statements >= 4, `statements of both processes counted: ${statements}`);
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
  // Six slots in all, however the sessions fall on the processes; the 7th gets 53300.
  await sessionsReleased();
  await assertClientSlotsFull(cluster.url, MAX_CLIENTS);
  // Released slots are free again.
  await assertClientSlotsFull(cluster.url, MAX_CLIENTS);
});

test('a CancelRequest landing on the other process cancels the session where it runs (57014)', async () => {
  await sessionsReleased();
  const sessions = await Promise.all(Array.from({ length: 4 }, connect));
  try {
    for (const index of [0, 1]) {
      const client = sessions.find((c) => processIndex(c) === index);
      assert.ok(client, `a session on process ${index}`);
      // Several cancels: each opens a new connection, which the primary hands to the processes in turn.
      for (let attempt = 0; attempt < 2; attempt++) {
        const query = new pg.Query('SELECT pg_sleep(30)');
        const failed = new Promise<{ code?: string } | null>((resolve) => {
          query.on('error', (error) => resolve(error as { code?: string }));
          query.on('end', () => resolve(null));
        });
        client.query(query);
        await new Promise((r) => setTimeout(r, 300));
        const started = Date.now();
        const canceller = new pg.Client({ connectionString: cluster.url }) as unknown as { cancel(client: pg.Client, query: pg.Query): void };
        canceller.cancel(client, query);
        const error = await failed;
        assert.equal(error?.code, '57014', `process ${index}, attempt ${attempt}: cancelled`);
        assert.ok(Date.now() - started < 5000, `cancelled after ${Date.now() - started} ms`);
        assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1, 'the session goes on');
      }
    }
    // A key nobody has cancels nothing, and the session that ran goes on.
    const running = sessions[0]!.query('SELECT pg_sleep(0.5) AS slept, 2 AS two');
    for (const processID of [0x7ffffff1, 0x7ffffff0, -5, (sessions[0] as unknown as { processID: number }).processID]) {
      const marker = {};
      const wrong = new pg.Client({ connectionString: cluster.url }) as unknown as { cancel(client: unknown, query: unknown): void };
      wrong.cancel({ activeQuery: marker, processID, secretKey: 12345 }, marker);
    }
    assert.equal((await running).rows[0].two, 2, 'wrong keys cancel nothing');
  } finally {
    await Promise.all(sessions.map((c) => c.end()));
  }
});

test('/ready is the host\'s; a process killed with -9 loses only its sessions and is started again', async () => {
  const ready = await fetch(`http://127.0.0.1:${cluster.layout.metricsPort}/ready`);
  assert.equal(ready.status, 200, await ready.text());
  const pids = workerPids();
  assert.equal(pids.length, 2, `two coordinator processes: ${pids.join(', ')}`);

  await sessionsReleased();
  const sessions = await Promise.all(Array.from({ length: 4 }, connect));
  const errors: Error[] = [];
  for (const s of sessions) s.on('error', (e) => errors.push(e));
  // Kill one of them: the sessions that break tell which index it had.
  const victim = pids[0]!;
  process.kill(victim, 'SIGKILL');
  await waitFor('the killed process is gone', 5000, async () => !isAlive(victim));
  const outcomes = await Promise.all(
    sessions.map((s) =>
      s.query('SELECT 1 AS one').then(
        () => 'served',
        () => 'lost',
      ),
    ),
  );
  const lostIndexes = new Set(sessions.filter((_, i) => outcomes[i] === 'lost').map(processIndex));
  const servedIndexes = new Set(sessions.filter((_, i) => outcomes[i] === 'served').map(processIndex));
  assert.equal(lostIndexes.size, 1, `the sessions of one process were lost: ${outcomes.join(', ')}`);
  assert.equal(servedIndexes.size, 1, 'the other process\'s sessions go on');
  assert.notDeepEqual(lostIndexes, servedIndexes);
  // The survivors go now: node:cluster hands a connection to whichever process is free,
  // so the four may have been split 3/1, and 3 survivors + 4 new sessions would be over
  // the 6 slots (a 53300 that is right, not a leak).
  await Promise.all(sessions.map((c) => c.end().catch(() => {})));
  await sessionsReleased();

  // A new process replaces it, and the host is ready again with both.
  await waitFor('the process is started again', 30_000, async () => workerPids().length === 2 && !workerPids().includes(victim));
  await waitFor('/ready once both processes serve', 60_000, async () => (await fetch(`http://127.0.0.1:${cluster.layout.metricsPort}/ready`)).status === 200);
  const after = await Promise.all(Array.from({ length: 4 }, connect));
  try {
    assert.deepEqual(new Set(after.map(processIndex)), new Set([0, 1]), 'new sessions reach both processes again');
    for (const c of after) assert.equal((await c.query('SELECT count(*) AS n FROM memory_entries')).rows[0].n, '0');
  } finally {
    await Promise.all(after.map((c) => c.end()));
  }
  // The slots of the lost sessions were given back with their process.
  await sessionsReleased();
  await assertClientSlotsFull(cluster.url, MAX_CLIENTS);
});

test('dpg up after the coordinator config changed restarts the coordinator with it (processes 2 -> 1), and reuses it when nothing changed', async () => {
  const again = await runDpg(['up', '--config', cluster.configFile], { cwd: cluster.dir });
  assert.doesNotMatch(again.stdout + again.stderr, /config changed/, 'an unchanged config reuses the running coordinator');
  assert.equal(workerPids().length, 2);
  writeFileSync(cluster.configFile, readFileSync(cluster.configFile, 'utf8').replace('processes: 2', 'processes: 1'));
  const changed = await runDpg(['up', '--config', cluster.configFile], { cwd: cluster.dir });
  assert.equal(changed.code, 0, changed.stderr);
  assert.match(changed.stdout + changed.stderr, /the coordinator config changed: restarting the coordinators/);
  assert.deepEqual(workerPids(), [], 'one process: nothing forked');
  const client = await connect();
  try {
    assert.equal((await client.query('SELECT count(*) AS n FROM memory_entries')).rows[0].n, '0');
  } finally {
    await client.end();
  }
});
