import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import pg from 'pg';
import { startTestCluster, assertConsistent, assertClientSlotsFull, type TestCluster } from '../support/test-cluster.ts';
import { FrameReader } from '../../src/protocol/frames.ts';
import { decodeBackend, type BackendMessage } from '../../src/protocol/backend.ts';
import { encodeFrontend, encodeSASLInitialResponse, encodeSASLResponse } from '../../src/protocol/frontend.ts';
import { ScramClientSession } from '../../src/protocol/scram.ts';
import { connectNode, groupLeader, withClient } from '../../src/cluster/connect.ts';
import { readProcessRecord } from '../../src/cluster/processes.ts';
import { readFileSync, writeFileSync, rmSync, openSync, closeSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Clients that behave as an attacker or a broken driver would, before and after
// authentication: PostgreSQL's limits hold at the coordinator, and none of it reaches
// the other clients.
let cluster: TestCluster;
let port: number;
const MAX_CLIENTS = 5;
const AUTHENTICATION_TIMEOUT_SECONDS = 2;
const DATABASE = 'distributed_postgres_cluster';
const POOL_SIZE = 4;
const POOL_WAIT_SECONDS = 2;

before(async () => {
  cluster = await startTestCluster({
    basePort: 10432,
    workerGroups: 1,
    shardCount: 2,
    extraConfig: [
      `coordinator: { max_client_connections: ${MAX_CLIENTS}, authentication_timeout_seconds: ${AUTHENTICATION_TIMEOUT_SECONDS}, pool_wait_timeout_seconds: ${POOL_WAIT_SECONDS} }`,
      `pools: { worker_pool_per_shard: { min_size: 1, max_size: ${POOL_SIZE}, max_queries: 10000 } }`,
    ],
  });
  port = Number(new URL(cluster.url).port);
});

after(async () => {
  await cluster?.stop();
});

/** A raw socket with the server's messages in arrival order. */
class RawClient {
  readonly socket: Socket;
  private readonly reader = new FrameReader();
  private readonly messages: BackendMessage[] = [];
  private waiter: (() => void) | null = null;
  closed = false;
  readonly closedAt: Promise<number>;

  constructor() {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (chunk) => {
      for (const frame of this.reader.push(chunk)) this.messages.push(decodeBackend(frame));
      this.waiter?.();
    });
    this.socket.on('error', () => {});
    this.closedAt = new Promise((resolve) =>
      this.socket.on('close', () => {
        this.closed = true;
        this.waiter?.();
        resolve(Date.now());
      }),
    );
  }

  async connected(): Promise<void> {
    if (this.socket.readyState === 'open') return;
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
  }

  /** The next message of `type` (messages before it are dropped); null if the connection closes first. */
  async next(type: BackendMessage['type'], timeoutMs = 10_000): Promise<BackendMessage | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.messages.length > 0) {
        const message = this.messages.shift()!;
        if (message.type === type) return message;
        if (message.type === 'ErrorResponse' && type !== 'ErrorResponse') throw new Error(`server error ${message.fields.code}: ${message.fields.message}`);
      }
      if (this.closed) return null;
      if (Date.now() >= deadline) throw new Error(`no ${type} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 100);
      });
      this.waiter = null;
    }
  }

  /** The next message, whatever it is. */
  async nextAny(timeoutMs = 10_000): Promise<BackendMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = this.messages.shift();
      if (message) return message;
      if (this.closed) throw new Error('the connection closed');
      if (Date.now() >= deadline) throw new Error(`no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 100);
      });
      this.waiter = null;
    }
  }

  /** Startup and SCRAM as a driver does it. */
  async authenticate(user = cluster.secrets.appUser, password = cluster.secrets.appPassword): Promise<void> {
    await this.connected();
    this.socket.write(encodeFrontend({ type: 'Startup', protocolVersion: 196608, parameters: { user, database: DATABASE } }));
    await this.next('Authentication');
    const scram = new ScramClientSession(password);
    this.socket.write(encodeSASLInitialResponse('SCRAM-SHA-256', scram.clientFirst()));
    const serverFirst = (await this.next('Authentication')) as Extract<BackendMessage, { type: 'Authentication' }>;
    this.socket.write(encodeSASLResponse(scram.handleServerFirst(serverFirst.data)));
    await this.next('ReadyForQuery');
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The salt the coordinator offers `user` in its server-first-message. */
async function offeredSalt(user: string): Promise<string> {
  const client = new RawClient();
  try {
    await client.connected();
    client.socket.write(encodeFrontend({ type: 'Startup', protocolVersion: 196608, parameters: { user, database: DATABASE } }));
    await client.next('Authentication');
    client.socket.write(encodeSASLInitialResponse('SCRAM-SHA-256', new ScramClientSession('x').clientFirst()));
    const serverFirst = (await client.next('Authentication')) as Extract<BackendMessage, { type: 'Authentication' }>;
    const salt = /,s=([^,]+),/.exec(serverFirst.data.toString('utf8'))?.[1];
    assert.ok(salt, `a salt in ${serverFirst.data.toString('utf8')}`);
    return salt;
  } finally {
    client.close();
  }
}

/** SELECT 1 through a new client, timed: the coordinator serves while the attack goes on. */
async function selectOneMs(): Promise<number> {
  const started = performance.now();
  const client = new pg.Client({ connectionString: cluster.url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
  } finally {
    await client.end();
  }
  return performance.now() - started;
}

test('a startup packet declaring 100 MB is refused at once (08P01), not waited for', async () => {
  const client = new RawClient();
  await client.connected();
  const header = Buffer.alloc(8);
  header.writeInt32BE(100 * 1024 * 1024, 0);
  header.writeInt32BE(196608, 4);
  client.socket.write(header);
  const error = await client.next('ErrorResponse', 3000);
  assert.equal(error?.type === 'ErrorResponse' && error.fields.code, '08P01');
  await client.closedAt;
});

test('a SASL message declaring 100 MB is refused at once (08P01): PostgreSQL caps it at 65,535 bytes', async () => {
  const client = new RawClient();
  await client.connected();
  client.socket.write(encodeFrontend({ type: 'Startup', protocolVersion: 196608, parameters: { user: cluster.secrets.appUser, database: DATABASE } }));
  await client.next('Authentication');
  const header = Buffer.alloc(5);
  header[0] = 0x70; // 'p'
  header.writeInt32BE(100 * 1024 * 1024, 1);
  client.socket.write(header);
  const error = await client.next('ErrorResponse', 3000);
  assert.equal(error?.type === 'ErrorResponse' && error.fields.code, '08P01');
  await client.closedAt;
  // One of 65,535 bytes is still read (and fails as a SASL message, not on its length).
  const large = new RawClient();
  await large.connected();
  large.socket.write(encodeFrontend({ type: 'Startup', protocolVersion: 196608, parameters: { user: cluster.secrets.appUser, database: DATABASE } }));
  await large.next('Authentication');
  large.socket.write(encodeSASLInitialResponse('SCRAM-SHA-256', Buffer.alloc(65_000, 0x61)));
  const invalid = await large.next('ErrorResponse', 3000);
  assert.equal(invalid?.type === 'ErrorResponse' && invalid.fields.code, '08P01');
  assert.doesNotMatch(invalid?.type === "ErrorResponse" ? (invalid.fields.message ?? "") : "", /length/);
});

test(`authentication_timeout: a socket silent before startup, and one stalled in SASL, are closed after ${AUTHENTICATION_TIMEOUT_SECONDS} s`, async () => {
  const silent = new RawClient();
  await silent.connected();
  const stalled = new RawClient();
  await stalled.connected();
  const opened = Date.now();
  stalled.socket.write(encodeFrontend({ type: 'Startup', protocolVersion: 196608, parameters: { user: cluster.secrets.appUser, database: DATABASE } }));
  await stalled.next('Authentication');
  const closed = await Promise.race([Promise.all([silent.closedAt, stalled.closedAt]), new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
  assert.ok(closed, 'both connections were closed by the coordinator');
  const seconds = (Math.max(...closed) - opened) / 1000;
  console.log(`stalled startup and SASL closed after ${seconds.toFixed(2)} s (authentication_timeout ${AUTHENTICATION_TIMEOUT_SECONDS} s)`);
  assert.ok(seconds >= AUTHENTICATION_TIMEOUT_SECONDS - 0.5, 'not before the timeout');
  // An authenticated session is not subject to it.
  const client = new RawClient();
  await client.authenticate();
  await new Promise((r) => setTimeout(r, (AUTHENTICATION_TIMEOUT_SECONDS + 1) * 1000));
  assert.equal(client.closed, false, 'an authenticated session stays open');
  client.close();
});

test(`sockets that never authenticate do not take the ${MAX_CLIENTS} client slots: 120 idle ones, then real clients connect`, async () => {
  const idle: RawClient[] = [];
  try {
    for (let i = 0; i < 120; i++) {
      const client = new RawClient();
      idle.push(client);
      await client.connected();
      // Half of them stall inside SASL, half before their startup packet.
      if (i % 2 === 0) client.socket.write(encodeFrontend({ type: 'Startup', protocolVersion: 196608, parameters: { user: cluster.secrets.appUser, database: DATABASE } }));
    }
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) latencies.push(await selectOneMs());
    console.log(`SELECT 1 through a new connection beside 120 unauthenticated sockets: ${latencies.map((l) => l.toFixed(1)).join(', ')} ms`);
    // Every slot can still be taken by authenticated clients; one more gets 53300.
    await assertClientSlotsFull(cluster.url, MAX_CLIENTS);
  } finally {
    for (const client of idle) client.close();
  }
  await selectOneMs();
});

test('the oldest unauthenticated socket, pushed out by 100 newer ones, gets 53300 before it is closed (not a silent close)', async () => {
  const oldest = new RawClient();
  await oldest.connected();
  oldest.socket.write(encodeFrontend({ type: 'Startup', protocolVersion: 196608, parameters: { user: cluster.secrets.appUser, database: DATABASE } }));
  await oldest.next('Authentication');
  const newer: RawClient[] = [];
  try {
    // max(100, max_client_connections) connections may be starting up at once: one more pushes the oldest out.
    for (let i = 0; i < 100; i++) {
      const client = new RawClient();
      newer.push(client);
      await client.connected();
    }
    const error = await oldest.next('ErrorResponse');
    assert.ok(error && error.type === 'ErrorResponse', 'an ErrorResponse before the close');
    assert.equal(error.fields.code, '53300');
    assert.equal(error.fields.severity, 'FATAL');
    assert.match(error.fields.message ?? '', /too many clients already/);
    await oldest.closedAt;
  } finally {
    for (const client of newer) client.close();
  }
  await selectOneMs();
});

test('SCRAM mock authentication: an unknown user gets a salt of its own, the same on every attempt, as a real user does', async () => {
  const known = [await offeredSalt(cluster.secrets.appUser), await offeredSalt(cluster.secrets.appUser)];
  const unknown = [await offeredSalt('no_such_user'), await offeredSalt('no_such_user')];
  const other = await offeredSalt('another_missing_user');
  assert.equal(known[0], known[1], 'a real user: one salt');
  assert.equal(unknown[0], unknown[1], 'an unknown user: one salt too, so the two cannot be told apart by it');
  assert.notEqual(unknown[0], other, 'each unknown user its own salt');
  assert.notEqual(unknown[0], known[0]);
});

test('a FunctionCall (libpq PQfn, client-side lo_*) gets ErrorResponse 0A000 and ReadyForQuery, and the session goes on', async () => {
  const client = new RawClient();
  try {
    await client.authenticate();
    // FunctionCall: OID of lo_creat (957), no argument formats, no arguments, text result.
    const body = Buffer.alloc(4 + 2 + 2 + 2);
    body.writeUInt32BE(957, 0);
    const frame = Buffer.concat([Buffer.from([0x46]), Buffer.alloc(4), body]);
    frame.writeInt32BE(4 + body.length, 1);
    client.socket.write(frame);
    const error = await client.next('ErrorResponse', 5000);
    assert.equal(error?.type === 'ErrorResponse' && error.fields.code, '0A000');
    const ready = await client.next('ReadyForQuery', 5000);
    assert.equal(ready?.type === 'ReadyForQuery' && ready.status, 'I');
    // Inside a block the error fails the block, as any error does.
    client.socket.write(encodeFrontend({ type: 'Query', sql: 'BEGIN' }));
    await client.next('ReadyForQuery');
    client.socket.write(frame);
    await client.next('ErrorResponse', 5000);
    const failed = await client.next('ReadyForQuery', 5000);
    assert.equal(failed?.type === 'ReadyForQuery' && failed.status, 'E');
    client.socket.write(encodeFrontend({ type: 'Query', sql: 'ROLLBACK' }));
    await client.next('ReadyForQuery');
    client.socket.write(encodeFrontend({ type: 'Query', sql: 'SELECT 41 + 1 AS answer' }));
    const row = await client.next('DataRow');
    assert.equal(row?.type === 'DataRow' && row.values[0]?.toString(), '42');
  } finally {
    client.close();
  }
});

/** Queries running on a group's primary whose text contains `marker`. */
async function runningWith(group: number, marker: string): Promise<number> {
  const leader = await groupLeader(cluster.layout.groups[group]!);
  assert.ok(leader, `group ${group} has a leader`);
  return withClient(await connectNode(leader, cluster.secrets, DATABASE), async (c) => {
    const result = await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid() AND state = 'active'", [marker]);
    return result.rows[0].n as number;
  });
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a client that disconnects mid-statement cancels its worker statements (control group and a worker shard)', async () => {
  const setup = new pg.Client(cluster.url);
  await setup.connect();
  await setup.query("INSERT INTO memory_entries (namespace, key, embedding) VALUES ('cancel-ns', 'k', array_fill(0.1, ARRAY[384])::real[]::vector)");
  await setup.end();
  const cases = [
    { group: 0, sql: 'SELECT pg_sleep(60) AS control_sleep_marker' },
    { group: 1, sql: "SELECT pg_sleep(60) AS shard_sleep_marker FROM memory_entries WHERE namespace = 'cancel-ns'" },
  ];
  for (const { group, sql } of cases) {
    const marker = /AS (\w+)/.exec(sql)![1]!;
    const client = new pg.Client(cluster.url);
    await client.connect();
    client.on('error', () => {});
    client.query(sql).catch(() => {});
    await until(`${marker} to run on group ${group}`, async () => (await runningWith(group, marker)) === 1);
    (client as unknown as { connection: { stream: Socket } }).connection.stream.destroy();
    const gone = Date.now();
    await until(`${marker} to be cancelled`, async () => (await runningWith(group, marker)) === 0);
    console.log(`${marker}: cancelled ${Date.now() - gone} ms after its client disconnected`);
  }
  await selectOneMs();
});

async function sqlstateOf(client: pg.Client, sql: string): Promise<string | undefined> {
  try {
    await client.query(sql);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

test('standard_conforming_strings and client_encoding stay as dpg parses: SET, startup options and set_config get 0A000; a change on a node by any other path fails its statement and that connection is dropped', async () => {
  const client = new pg.Client(cluster.url);
  await client.connect();
  try {
    await client.query("INSERT INTO memory_entries (namespace, key, embedding) VALUES ('lexing-ns', 'k', array_fill(0.1, ARRAY[384])::real[]::vector) ON CONFLICT DO NOTHING");
    assert.equal(await sqlstateOf(client, 'SET standard_conforming_strings = off'), '0A000');
    assert.equal(await sqlstateOf(client, "SET client_encoding = 'SJIS'"), '0A000');
    assert.equal(await sqlstateOf(client, "SELECT set_config('standard_conforming_strings', 'off', false)"), '0A000');
    // query_to_xml runs SQL text the planner never parses: the node reports the change.
    const hidden = "query_to_xml('SELECT set_config(''standard_conforming_strings'', ''off'', false)', false, false, '')";
    assert.equal(await sqlstateOf(client, `SELECT ${hidden}`), '0A000', 'on the control group');
    assert.equal(await sqlstateOf(client, `SELECT ${hidden} FROM memory_entries WHERE namespace = 'lexing-ns'`), '0A000', 'on a worker shard');
    // A setting name given as a parameter is known at execution only: caught there too.
    await assert.rejects(client.query('SELECT set_config($1, $2, false)', ['standard_conforming_strings', 'off']), (error: { code?: string }) => error.code === '0A000');
    await client.query('SELECT set_config($1, $2, false)', ['app.by_parameter', 'kept']);
    assert.equal((await client.query("SELECT current_setting('app.by_parameter') AS v")).rows[0].v, 'kept');
    // Every later statement is read by the nodes as the planner read it: 'a\' is the two characters a and \.
    for (let i = 0; i < 3; i++) {
      const pinned = await client.query("SELECT 'a\\' AS v, key FROM memory_entries WHERE namespace = 'lexing-ns'");
      assert.deepEqual(pinned.rows, [{ v: 'a\\', key: 'k' }]);
      assert.equal((await client.query("SELECT 'a\\' AS v")).rows[0].v, 'a\\');
      assert.equal((await client.query('SHOW standard_conforming_strings')).rows[0].standard_conforming_strings, 'on');
    }
  } finally {
    await client.end();
  }
  const url = new URL(cluster.url);
  url.searchParams.set('options', '-c standard_conforming_strings=off');
  const withOption = new pg.Client(url.toString());
  await assert.rejects(withOption.connect(), (error: { code?: string }) => error.code === '0A000');
  await selectOneMs();
});

test('role and system changes, other roles, dpg\'s channel and backend signals through the coordinator: 42501 (DO: 0A000), and the coordinator\'s own connections are unchanged', async () => {
  const client = new pg.Client(cluster.url);
  await client.connect();
  try {
    for (const sql of [
      'ALTER ROLE CURRENT_USER SET default_transaction_read_only = on',
      'ALTER ROLE CURRENT_USER SET standard_conforming_strings = off',
      "ALTER ROLE CURRENT_USER PASSWORD 'changed'",
      `ALTER DATABASE ${DATABASE} SET default_transaction_read_only = on`,
      "ALTER SYSTEM SET max_connections = '5'",
      "CREATE ROLE intruder LOGIN PASSWORD 'x'",
      'SET ROLE postgres',
      'LISTEN dpg_catalog_changed',
      "SELECT pg_notify('dpg_catalog_changed', 'x')",
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()',
    ]) {
      assert.equal(await sqlstateOf(client, sql), '42501', sql);
    }
    assert.equal(await sqlstateOf(client, 'DO $$ BEGIN PERFORM 1; END $$'), '0A000');
  } finally {
    await client.end();
  }
  // New sessions (new worker connections) still write.
  const after = new pg.Client(cluster.url);
  await after.connect();
  try {
    await after.query("INSERT INTO memory_entries (namespace, key, embedding) VALUES ('role-ns', 'k', array_fill(0.1, ARRAY[384])::real[]::vector)");
    assert.equal((await after.query("SELECT count(*)::int AS n FROM memory_entries WHERE namespace = 'role-ns'")).rows[0].n, 1);
  } finally {
    await after.end();
  }
});

/** A session of its own: runs `work` and disconnects. */
async function inSession<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(cluster.url);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const WORKER_ROW = "FROM memory_entries WHERE namespace = 'lexing-ns'";

test('one client\'s session never reaches another\'s: set_config() (direct or inside a function), synchronous_commit and advisory locks stay with their session', async () => {
  await inSession(async (a) => {
    await a.query("SELECT set_config('app.secret', 'from-a', false)");
    // Kept by the session, on the control group and on the workers, statement after statement.
    for (let i = 0; i < 3; i++) {
      assert.equal((await a.query("SELECT current_setting('app.secret') AS s")).rows[0].s, 'from-a');
      assert.equal((await a.query(`SELECT current_setting('app.secret') AS s ${WORKER_ROW}`)).rows[0].s, 'from-a');
    }
    // Paths the planner cannot see: SQL text run by a function, on the control group and on a worker.
    await a.query("SELECT query_to_xml('SELECT set_config(''app.hidden'', ''leak'', false), set_config(''synchronous_commit'', ''off'', false), pg_advisory_lock(4242)', false, false, '')");
    await a.query(`SELECT query_to_xml('SELECT set_config(''app.hidden'', ''leak'', false), set_config(''synchronous_commit'', ''off'', false)', false, false, '') ${WORKER_ROW}`);
  });
  await until('the advisory lock of the closed session to be released', async () => {
    const leader = await groupLeader(cluster.layout.groups[0]!);
    return withClient(await connectNode(leader!, cluster.secrets, DATABASE), async (c) => Number((await c.query("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242")).rows[0].n) === 0);
  });
  await inSession(async (b) => {
    for (let i = 0; i < 3; i++) {
      // A custom setting another session defined on the connection reads '' after the reset
      // (as after DISCARD ALL in PostgreSQL, which keeps the placeholder), never its value.
      const shown = "coalesce(current_setting('app.secret', true), '') AS s, coalesce(current_setting('app.hidden', true), '') AS h, current_setting('synchronous_commit') AS c";
      const control = (await b.query(`SELECT ${shown}`)).rows[0];
      assert.deepEqual(control, { s: '', h: '', c: 'on' }, 'the control group connection carries nothing of the other session');
      const worker = (await b.query(`SELECT ${shown} ${WORKER_ROW}`)).rows[0];
      assert.deepEqual(worker, { s: '', h: '', c: 'on' }, 'nor the worker connection');
    }
  });
});

test('session state that cannot follow a session over pooled connections is refused (0A000); DISCARD, DEALLOCATE ALL and UNLISTEN are answered, and prepared statements still work after them', async () => {
  await inSession(async (client) => {
    for (const sql of ['PREPARE p AS SELECT 1', 'EXECUTE p', 'LISTEN app_events', 'CREATE TEMP TABLE scratch (x int)', 'SELECT pg_advisory_lock(7)', "SELECT set_config('app.x', key, false) FROM memory_entries WHERE namespace = 'lexing-ns'"]) {
      assert.equal(await sqlstateOf(client, sql), '0A000', sql);
    }
    assert.equal(await sqlstateOf(client, 'DEALLOCATE p'), '26000');
    const named = { name: 'kept_statement', text: 'SELECT $1::int + 1 AS n', values: [1] };
    assert.equal((await client.query(named)).rows[0].n, 2);
    for (const sql of ['DISCARD ALL', 'DEALLOCATE ALL', 'UNLISTEN *']) {
      const result = await client.query(sql);
      assert.equal(result.command, sql.split(' ')[0], sql);
    }
    assert.equal((await client.query(named)).rows[0].n, 2, "the driver's prepared statement still runs");
    await client.query('BEGIN');
    assert.equal((await client.query('SELECT pg_advisory_xact_lock(7)')).rowCount, 1, 'transaction-level advisory locks work');
    await client.query('COMMIT');
  });
});

test('two portals of one transaction on one group (JDBC fetchSize, named cursors): a suspended portal still returns all its rows', async () => {
  await inSession(async (c) => {
    await c.query("INSERT INTO memory_entries (namespace, key, embedding) SELECT 'portal-ns', 'k' || lpad(g::text, 4, '0'), array_fill(0.1, ARRAY[384])::real[]::vector FROM generate_series(1, 300) g");
  });
  const client = new RawClient();
  try {
    await client.authenticate();
    const rowsOf = async (portal: string, maxRows: number): Promise<{ rows: string[]; suspended: boolean }> => {
      client.socket.write(Buffer.concat([encodeFrontend({ type: 'Execute', portal, maxRows }), encodeFrontend({ type: 'Flush' })]));
      const rows: string[] = [];
      for (;;) {
        const message = await client.nextAny();
        if (message.type === 'DataRow') rows.push(message.values[0]!.toString());
        else if (message.type === 'PortalSuspended') return { rows, suspended: true };
        else if (message.type === 'CommandComplete') return { rows, suspended: false };
        else if (message.type === 'ErrorResponse') throw new Error(`${message.fields.code}: ${message.fields.message}`);
      }
    };
    client.socket.write(encodeFrontend({ type: 'Query', sql: 'BEGIN' }));
    await client.next('ReadyForQuery');
    const sql = "SELECT key FROM memory_entries WHERE namespace = 'portal-ns' ORDER BY key";
    for (const name of ['p1', 'p2']) {
      client.socket.write(Buffer.concat([
        encodeFrontend({ type: 'Parse', name, sql, parameterTypes: [] }),
        encodeFrontend({ type: 'Bind', portal: name, statement: name, parameterFormats: [], parameters: [], resultFormats: [] }),
        encodeFrontend({ type: 'Flush' }),
      ]));
      await client.next('ParseComplete');
      await client.next('BindComplete');
    }
    const expected = Array.from({ length: 300 }, (_, i) => `k${String(i + 1).padStart(4, '0')}`);
    const first = await rowsOf('p1', 100);
    const second = await rowsOf('p2', 100);
    const firstRest = await rowsOf('p1', 0);
    const secondRest = await rowsOf('p2', 0);
    assert.deepEqual([first.suspended, second.suspended, firstRest.suspended, secondRest.suspended], [true, true, false, false]);
    assert.deepEqual([...first.rows, ...firstRest.rows], expected, 'the first portal returns every row');
    assert.deepEqual([...second.rows, ...secondRest.rows], expected, 'and so does the second');
    client.socket.write(Buffer.concat([encodeFrontend({ type: 'Sync' }), encodeFrontend({ type: 'Query', sql: 'COMMIT' })]));
    await client.next('ReadyForQuery');
    const committed = await client.next('ReadyForQuery');
    assert.equal(committed?.type === 'ReadyForQuery' && committed.status, 'I');
  } finally {
    client.close();
  }
});

/** Resident memory of the coordinator process, in MB. */
function coordinatorRssMb(): number {
  const record = readProcessRecord(cluster.layout.runDir, 'coordinator-1')!;
  const status = readFileSync(`/proc/${record.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

test('flow control: a client that stops reading a 300 MB result holds a bounded amount on the coordinator, and others are served', async () => {
  const results: string[] = [];
  for (const [where, sql] of [
    ['control group', "SELECT repeat('x', 10000) AS big FROM generate_series(1, 30000)"],
    ['worker shard', "SELECT repeat('x', 10000) AS big FROM memory_entries m, generate_series(1, 100) WHERE m.namespace = 'portal-ns'"],
  ] as const) {
    const before = coordinatorRssMb();
    const client = new RawClient();
    try {
      await client.authenticate();
      client.socket.pause();
      client.socket.write(encodeFrontend({ type: 'Query', sql }));
      await new Promise((r) => setTimeout(r, 5000));
      const grown = coordinatorRssMb() - before;
      const latency = await selectOneMs();
      results.push(`${where}: coordinator RSS +${grown.toFixed(1)} MB after 5 s, SELECT 1 meanwhile ${latency.toFixed(1)} ms`);
      assert.ok(grown < 100, `the coordinator grew by ${grown.toFixed(1)} MB for a client that reads nothing (the result is 300 MB)`);
    } finally {
      client.close();
    }
  }
  console.log(`non-reading client: ${results.join('; ')}`);
});

test('a client that pipelines 200 MB of statements without reading the answers: the coordinator stops reading it (bounded input), others are served, and every answer comes once it reads', async () => {
  const client = new RawClient();
  try {
    await client.authenticate();
    client.socket.pause();
    const before = coordinatorRssMb();
    // 200 MB of Query messages, each answered with a row: the answers back up first, then the input.
    const query = encodeFrontend({ type: 'Query', sql: `SELECT 1 AS one /* ${'p'.repeat(2000)} */` });
    const count = Math.ceil((200 * 1024 * 1024) / query.length);
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => query));
    for (let sent = 0; sent < count; sent += 1000) client.socket.write(batch);
    await new Promise((r) => setTimeout(r, 5000));
    const unread = client.socket.writableLength;
    const grown = coordinatorRssMb() - before;
    const latency = await selectOneMs();
    console.log(`pipelining client: ${(unread / 1024 / 1024).toFixed(0)} MB of its 200 MB not taken by the coordinator after 5 s, coordinator RSS +${grown.toFixed(1)} MB, SELECT 1 meanwhile ${latency.toFixed(1)} ms`);
    assert.ok(unread > 150 * 1024 * 1024, `the coordinator read ${((count * query.length - unread) / 1024 / 1024).toFixed(0)} MB of input it could not answer yet`);
    assert.ok(grown < 100, `the coordinator grew by ${grown.toFixed(1)} MB`);
    // Reading again, every statement is answered.
    client.socket.resume();
    let answered = 0;
    while (answered < count) {
      const message = await client.next('ReadyForQuery', 60_000);
      assert.ok(message, 'the connection stays open');
      answered++;
    }
  } finally {
    client.close();
  }
});

test(`sessions idle in a transaction cannot wedge the others: with all ${POOL_SIZE} control-group connections held, a new statement gets 53300 after ${POOL_WAIT_SECONDS} s, and is served once one is free`, async () => {
  const holders: pg.Client[] = [];
  try {
    for (let i = 0; i < POOL_SIZE; i++) {
      const holder = new pg.Client(cluster.url);
      await holder.connect();
      holders.push(holder);
      await holder.query('BEGIN');
      await holder.query('SELECT 1');
    }
    const waiting = new pg.Client(cluster.url);
    await waiting.connect();
    try {
      const started = Date.now();
      assert.equal(await sqlstateOf(waiting, 'SELECT 1'), '53300');
      const waited = (Date.now() - started) / 1000;
      console.log(`a statement behind ${POOL_SIZE} sessions idle in a transaction: 53300 after ${waited.toFixed(2)} s (pool_wait_timeout_seconds ${POOL_WAIT_SECONDS})`);
      assert.ok(waited >= POOL_WAIT_SECONDS - 0.5, 'it waited for a free connection first');
      await holders.pop()!.end();
      assert.equal((await waiting.query('SELECT 41 + 1 AS answer')).rows[0].answer, 42, 'served once a connection is free');
    } finally {
      await waiting.end();
    }
  } finally {
    await Promise.all(holders.map((h) => h.end()));
  }
});

test('statement_timeout set by the session is enforced on the control group and on the workers (57014), and the session goes on', async () => {
  await inSession(async (client) => {
    await client.query("SET statement_timeout = '300ms'");
    assert.equal(await sqlstateOf(client, 'SELECT pg_sleep(5)'), '57014');
    assert.equal(await sqlstateOf(client, `SELECT pg_sleep(5) ${WORKER_ROW}`), '57014');
    await client.query('RESET statement_timeout');
    assert.equal((await client.query(`SELECT count(pg_sleep(0.5)::text)::int AS n ${WORKER_ROW}`)).rows[0].n, 1);
  });
});

test('everything before Sync is one implicit transaction, however TCP cuts the messages: a later failing write rolls back an earlier one sent in another segment', async () => {
  const client = new RawClient();
  try {
    await client.authenticate();
    const insert = (name: string, key: string) =>
      Buffer.concat([
        encodeFrontend({ type: 'Parse', name, sql: `INSERT INTO memory_entries (namespace, key, embedding) VALUES ('segments-ns', '${key}', array_fill(0.1, ARRAY[384])::real[]::vector)`, parameterTypes: [] }),
        encodeFrontend({ type: 'Bind', portal: '', statement: name, parameterFormats: [], parameters: [], resultFormats: [] }),
        encodeFrontend({ type: 'Execute', portal: '', maxRows: 0 }),
      ]);
    // The first write, then a pause: its Sync is not there when it runs.
    client.socket.write(Buffer.concat([insert('first', 'k1'), encodeFrontend({ type: 'Flush' })]));
    await client.next('CommandComplete');
    await new Promise((r) => setTimeout(r, 300));
    // The second write fails (the same key: a unique violation), then Sync.
    client.socket.write(Buffer.concat([insert('second', 'k1'), encodeFrontend({ type: 'Sync' })]));
    const error = await client.next('ErrorResponse');
    assert.equal(error?.type === 'ErrorResponse' && error.fields.code, '23505');
    const ready = await client.next('ReadyForQuery');
    assert.equal(ready?.type === 'ReadyForQuery' && ready.status, 'I');
  } finally {
    client.close();
  }
  const rows = await inSession(async (c) => (await c.query("SELECT count(*)::int AS n FROM memory_entries WHERE namespace = 'segments-ns'")).rows[0].n);
  assert.equal(rows, 0, 'the first write was rolled back with the failed batch, as PostgreSQL does');
  // One write and its Sync together still commit on their own (no block is needed).
  await inSession(async (c) => c.query("INSERT INTO memory_entries (namespace, key, embedding) VALUES ('segments-ns', 'k2', array_fill(0.1, ARRAY[384])::real[]::vector)"));
  assert.equal(await inSession(async (c) => (await c.query("SELECT count(*)::int AS n FROM memory_entries WHERE namespace = 'segments-ns'")).rows[0].n), 1);
});

/** Runs `work` while another session sends SELECT 1 in a loop; returns the slowest SELECT 1 (ms). */
async function slowestSelectOneDuring(work: () => Promise<void>): Promise<number> {
  const probe = new pg.Client(cluster.url);
  await probe.connect();
  let slowest = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      await probe.query('SELECT 1');
      slowest = Math.max(slowest, performance.now() - started);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    await work();
  } finally {
    running = false;
    await loop;
    await probe.end();
  }
  return slowest;
}

test('huge and deep statements: a 50 MB statement is parsed off the event loop, 100,000 chained terms get 54001 as in PostgreSQL, = ANY of 100,000 values is routed', async () => {
  const figures: string[] = [];
  await inSession(async (client) => {
    const big = `SELECT length('${'x'.repeat(50 * 1024 * 1024)}') AS n`;
    const slowest = await slowestSelectOneDuring(async () => {
      assert.equal((await client.query(big)).rows[0].n, 50 * 1024 * 1024);
    });
    figures.push(`50 MB statement: slowest SELECT 1 of another session meanwhile ${slowest.toFixed(1)} ms`);
    assert.ok(slowest < 1000, `another session waited ${slowest.toFixed(0)} ms`);
    const chained = `SELECT ${Array(100_000).fill('1').join(' + ')}`;
    assert.equal(await sqlstateOf(client, chained), '54001');
    const values = Array.from({ length: 100_000 }, (_, i) => `any-ns-${i}`);
    values.push('lexing-ns');
    let rows = 0;
    const slowestAny = await slowestSelectOneDuring(async () => {
      rows = (await client.query('SELECT count(*)::int AS n FROM memory_entries WHERE namespace = ANY($1)', [values])).rows[0].n;
    });
    assert.equal(rows, 1);
    figures.push(`= ANY($1) of 100,001 values: slowest SELECT 1 meanwhile ${slowestAny.toFixed(1)} ms`);
    assert.ok(slowestAny < 1000, `another session waited ${slowestAny.toFixed(0)} ms while 100,001 values were routed`);
    assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1, 'the session goes on');
  });
  console.log(figures.join('; '));
});

test('a 100 MB COPY line (text and CSV) is read in linear time: another session is served meanwhile and the row is stored whole', async () => {
  await inSession(async (client) => {
    await client.query('CREATE TABLE big_lines (namespace text NOT NULL, body text)');
    await client.query("SELECT create_distributed_table('big_lines', 'namespace')");
  });
  const figures: string[] = [];
  for (const format of ['text', 'csv'] as const) {
    const file = join(tmpdir(), `dpg-big-line-${process.pid}.${format}`);
    const size = 100 * 1024 * 1024;
    const line = Buffer.alloc(size + 20, 0x78);
    const head = Buffer.from(format === 'csv' ? `big-${format},"` : `big-${format}\t`);
    head.copy(line, 0);
    const tail = format === 'csv' ? '"\n' : '\n';
    const end = head.length + size;
    line.write(tail, end);
    writeFileSync(file, line.subarray(0, end + tail.length));
    try {
      const started = performance.now();
      const slowest = await slowestSelectOneDuring(async () => {
        const input = openSync(file, 'r');
        const psql = spawn('psql', [cluster.url, '-v', 'ON_ERROR_STOP=1', '-c', `COPY big_lines (namespace, body) FROM STDIN${format === 'csv' ? ' WITH (FORMAT csv)' : ''}`], { stdio: [input, 'pipe', 'pipe'] });
        let stderr = '';
        psql.stderr!.on('data', (chunk) => (stderr += chunk));
        const code = await new Promise<number | null>((resolve) => psql.on('close', resolve));
        closeSync(input);
        assert.equal(code, 0, stderr);
      });
      figures.push(`${format}: ${((performance.now() - started) / 1000).toFixed(1)} s, slowest SELECT 1 of another session meanwhile ${slowest.toFixed(1)} ms`);
      assert.ok(slowest < 1000, `another session waited ${slowest.toFixed(0)} ms`);
    } finally {
      rmSync(file, { force: true });
    }
  }
  await inSession(async (client) => {
    const stored = await client.query('SELECT namespace, length(body) AS n FROM big_lines ORDER BY namespace');
    assert.deepEqual(stored.rows, [{ namespace: 'big-csv', n: 100 * 1024 * 1024 }, { namespace: 'big-text', n: 100 * 1024 * 1024 }]);
    await client.query('DROP TABLE big_lines');
  });
  console.log(`100 MB COPY line: ${figures.join('; ')}`);
});

test('idle_in_transaction_session_timeout: a session idle in a block that long is ended with FATAL 25P03 and its block rolled back; active or idle outside a block, it stays', async () => {
  const query = async (client: RawClient, sql: string) => {
    client.socket.write(encodeFrontend({ type: 'Query', sql }));
    return client.next('ReadyForQuery');
  };
  const idle = new RawClient();
  try {
    await idle.authenticate();
    await query(idle, "SET idle_in_transaction_session_timeout = '1s'");
    // Idle outside a block: nothing happens.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(idle.closed, false);
    // Busy inside a block, a statement every 400 ms: nothing happens either.
    await query(idle, 'BEGIN');
    for (let i = 0; i < 5; i++) {
      await query(idle, "INSERT INTO memory_entries (namespace, key, embedding) VALUES ('idle-ns', 'k' || " + i + ", array_fill(0.1, ARRAY[384])::real[]::vector)");
      await new Promise((r) => setTimeout(r, 400));
    }
    assert.equal(idle.closed, false);
    const error = await idle.next('ErrorResponse', 5000);
    assert.equal(error?.type === 'ErrorResponse' && error.fields.code, '25P03');
    assert.equal(error?.type === 'ErrorResponse' && error.fields.severity, 'FATAL');
    await idle.closedAt;
  } finally {
    idle.close();
  }
  assert.equal(await inSession(async (c) => (await c.query("SELECT count(*)::int AS n FROM memory_entries WHERE namespace = 'idle-ns'")).rows[0].n), 0, 'the block was rolled back');
  // The same from a startup option.
  const url = new URL(cluster.url);
  url.searchParams.set('options', '-c idle_in_transaction_session_timeout=1s');
  const client = new pg.Client(url.toString());
  const gone = new Promise<string | undefined>((resolve) => client.on('error', (e: Error) => resolve((e as { code?: string }).code)));
  await client.connect();
  await client.query('BEGIN');
  assert.equal(await Promise.race([gone, new Promise((r) => setTimeout(() => r('not ended'), 5000))]), '25P03');
  await client.end().catch(() => {});
});

test('the cluster is consistent after these writes: dpg check', async () => {
  await assertConsistent(cluster);
});
