import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import pg from 'pg';
import { startTestCluster, assertClientSlotsFull, type TestCluster } from '../support/test-cluster.ts';
import { seededRandom } from '../support/random.ts';
import { FrameReader } from '../../src/protocol/frames.ts';
import { decodeBackend, type BackendMessage } from '../../src/protocol/backend.ts';
import { encodeFrontend } from '../../src/protocol/frontend.ts';
import { readProcessRecord, isAlive } from '../../src/cluster/processes.ts';

// The coordinator as a PostgreSQL server: authentication, limits, and what it does
// with bytes that are not the protocol. Whatever a client sends, only that client's
// connection ends; the coordinator keeps serving the others.
let cluster: TestCluster;
let port: number;
const MAX_CLIENTS = 6;

before(async () => {
  cluster = await startTestCluster({ basePort: 31432, extraConfig: [`coordinator: { max_client_connections: ${MAX_CLIENTS} }`] });
  port = Number(new URL(cluster.url).port);
});

after(async () => {
  await cluster?.stop();
});

/** A raw connection that collects the server's messages until it closes (or `timeoutMs`). */
async function rawSession(send: (socket: Socket) => void, timeoutMs = 5000): Promise<BackendMessage[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const reader = new FrameReader();
    const messages: BackendMessage[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(messages);
    }, timeoutMs);
    socket.on('connect', () => send(socket));
    socket.on('data', (chunk) => {
      for (const frame of reader.push(chunk)) messages.push(decodeBackend(frame));
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(messages);
    });
    socket.on('timeout', () => reject(new Error('timeout')));
  });
}

function startup(user = cluster.secrets.appUser, database = 'distributed_postgres_cluster'): Buffer {
  return encodeFrontend({ type: 'Startup', protocolVersion: 196608, parameters: { user, database } });
}

function errorCode(messages: BackendMessage[]): string | undefined {
  const error = messages.find((m) => m.type === 'ErrorResponse');
  return error?.type === 'ErrorResponse' ? error.fields.code : undefined;
}

async function coordinatorServes(): Promise<void> {
  const client = new pg.Client(cluster.url);
  await client.connect();
  assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
  await client.end();
  const record = readProcessRecord(cluster.layout.runDir, 'coordinator-1')!;
  assert.ok(isAlive(record.pid, record.marker), 'the coordinator process is alive');
}

test('garbage instead of a startup packet: 08P01 and the connection closes', async () => {
  const messages = await rawSession((s) => s.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')));
  assert.equal(errorCode(messages), '08P01');
  await coordinatorServes();
});

test('a malformed message after startup: 08P01 and the connection closes', async () => {
  const messages = await rawSession((socket) => {
    socket.write(startup());
    // The startup reaches the SASL step; then a Bind whose body ends inside its parameter count.
    setTimeout(() => socket.write(Buffer.from([0x42, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00])), 100);
  });
  assert.equal(errorCode(messages), '08P01');
  await coordinatorServes();
});

test('a message that does not belong in the state (Query before authentication): 08P01', async () => {
  const messages = await rawSession((socket) => {
    socket.write(startup());
    setTimeout(() => socket.write(encodeFrontend({ type: 'Query', sql: 'SELECT 1' })), 100);
  });
  assert.ok(messages.some((m) => m.type === 'Authentication' && m.code === 10), 'SASL was offered');
  assert.equal(errorCode(messages), '08P01');
});

test('SSLRequest is answered S (dpg up made a certificate) and TLS follows; GSSENCRequest is answered N; a client may still go on without TLS', async () => {
  const answer = async (request: 'SSLRequest' | 'GSSENCRequest') =>
    new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(encodeFrontend({ type: request })));
      socket.once('data', (chunk) => {
        resolve(chunk.toString('latin1'));
        socket.destroy();
      });
    });
  assert.equal(await answer('SSLRequest'), 'S');
  assert.equal(await answer('GSSENCRequest'), 'N');
  const encrypted = new pg.Client({ connectionString: cluster.url, ssl: { rejectUnauthorized: false } });
  await encrypted.connect();
  assert.equal((await encrypted.query('SELECT 1 AS one')).rows[0].one, 1);
  await encrypted.end();
  const client = new pg.Client({ connectionString: cluster.url, ssl: false });
  await client.connect();
  await client.end();
});

test('bytes sent after an SSLRequest before its answer are refused (08P01), as PostgreSQL does (CVE-2021-23214)', async () => {
  const messages = await rawSession((socket) => socket.write(Buffer.concat([encodeFrontend({ type: 'SSLRequest' }), startup()])));
  assert.equal(errorCode(messages), '08P01');
  await coordinatorServes();
});

test('authentication: a wrong password and an unknown user both get 28P01; an unknown database 3D000', async () => {
  const url = new URL(cluster.url);
  const attempt = async (user: string, password: string, database: string) => {
    const client = new pg.Client({ host: url.hostname, port, user, password, database });
    try {
      await client.connect();
      await client.end();
      return 'ok';
    } catch (error) {
      return (error as { code?: string }).code;
    }
  };
  assert.equal(await attempt(cluster.secrets.appUser, 'wrong', 'distributed_postgres_cluster'), '28P01');
  assert.equal(await attempt('nobody', 'wrong', 'distributed_postgres_cluster'), '28P01');
  assert.equal(await attempt(cluster.secrets.appUser, cluster.secrets.appPassword, 'other_db'), '3D000');
});

test(`beyond ${MAX_CLIENTS} clients a new one gets 53300`, async () => {
  await assertClientSlotsFull(cluster.url, MAX_CLIENTS);
  await coordinatorServes();
});

test('clients see one set of type OIDs: vector in a routed result has the OID the catalog gives', async () => {
  const client = new pg.Client(cluster.url);
  await client.connect();
  try {
    await client.query("INSERT INTO memory_entries (namespace, key, embedding) VALUES ('oid-ns', 'k', array_fill(0.5, ARRAY[384])::real[]::vector)");
    const oid = Number((await client.query("SELECT 'vector'::regtype::oid AS oid")).rows[0].oid);
    const result = await client.query("SELECT embedding FROM memory_entries WHERE namespace = 'oid-ns'");
    assert.equal(result.fields[0]!.dataTypeID, oid);
    const multi = await client.query('SELECT embedding FROM memory_entries ORDER BY key LIMIT 1');
    assert.equal(multi.fields[0]!.dataTypeID, oid);
    // Binary format is passed through: vector_send of the same value.
    const binary = await client.query({ text: "SELECT embedding FROM memory_entries WHERE namespace = 'oid-ns'", binary: true, queryMode: 'extended', types: { getTypeParser: () => (v: unknown) => v } } as pg.QueryConfig);
    const expected = await client.query({ text: "SELECT vector_send(array_fill(0.5, ARRAY[384])::real[]::vector) AS v", types: { getTypeParser: () => (v: unknown) => v } } as pg.QueryConfig);
    // node-postgres hands binary values over as UTF-8 strings (lossy for bytes >= 0x80): compare the same way.
    const mangled = Buffer.from(Buffer.from(String(expected.rows[0].v).slice(2), 'hex').toString('utf8'), 'utf8');
    assert.ok(Buffer.from(binary.rows[0].embedding).equals(mangled), 'the binary value is vector_send of the vector');
  } finally {
    await client.end();
  }
});

test('2,000 random and mutated messages after authentication: each gets an error or is ignored, and the coordinator stays up', async () => {
  const seed = Number(process.env.DPG_TEST_SEED ?? Date.now() % 100000);
  console.log(`fuzz seed ${seed}`);
  const random = seededRandom(seed);
  const valid = [
    encodeFrontend({ type: 'Query', sql: "SELECT key FROM memory_entries WHERE namespace = 'a'" }),
    encodeFrontend({ type: 'Parse', name: 's', sql: 'SELECT $1::text', parameterTypes: [25] }),
    encodeFrontend({ type: 'Bind', portal: '', statement: 's', parameterFormats: [0], parameters: [Buffer.from('x')], resultFormats: [0] }),
    encodeFrontend({ type: 'Execute', portal: '', maxRows: 0 }),
    encodeFrontend({ type: 'Describe', kind: 'S', name: 's' }),
  ];
  // Many messages per connection: a connection ends at the first protocol violation.
  let connections = 0;
  for (let sent = 0; sent < 2000; ) {
    const client = new pg.Client(cluster.url);
    await client.connect();
    const socket = (client as unknown as { connection: { stream: Socket } }).connection.stream;
    client.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    for (let i = 0; i < 100 && sent < 2000; i++, sent++) {
      const message = Buffer.from(valid[random(valid.length)]!);
      const mutations = 1 + random(3);
      for (let m = 0; m < mutations; m++) message[random(message.length)] = random(256);
      if (random(4) === 0 && !socket.destroyed) socket.write(message.subarray(0, random(message.length)));
      else if (!socket.destroyed) socket.write(message);
    }
    if (!socket.destroyed) socket.write(encodeFrontend({ type: 'Terminate' }));
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
    socket.destroy();
    connections++;
  }
  console.log(`fuzz: 2000 messages over ${connections} connections`);
  await coordinatorServes();
});

test('sessions taking turns keep their own node connection: no reset of another session\'s state per statement', async () => {
  // Before: the pool handed the connection one session had just released to the next
  // session asking, so two sessions taking turns shared one node connection and each
  // statement paid a reset (DISCARD) of the other's state first.
  const a = new pg.Client(cluster.url);
  const b = new pg.Client(cluster.url);
  await a.connect();
  await b.connect();
  try {
    const pids = { a: new Set<number>(), b: new Set<number>() };
    for (let i = 0; i < 6; i++) {
      pids.a.add((await a.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
      pids.b.add((await b.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    }
    assert.equal(pids.a.size, 1, `session a used node connections ${[...pids.a]}`);
    assert.equal(pids.b.size, 1, `session b used node connections ${[...pids.b]}`);
    assert.notDeepEqual([...pids.a], [...pids.b]);
    // A session's own session state stays with it (and never reaches the other).
    await a.query("SET application_name = 'turn-a'");
    for (let i = 0; i < 3; i++) {
      assert.equal((await a.query('SHOW application_name')).rows[0].application_name, 'turn-a');
      assert.notEqual((await b.query('SHOW application_name')).rows[0].application_name, 'turn-a');
    }
  } finally {
    await a.end();
    await b.end();
  }
});
