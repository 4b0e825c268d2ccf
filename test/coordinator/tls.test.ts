import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import pg from 'pg';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import { runDpg } from '../support/dpg-cli.ts';
import { localTlsDir } from '../../src/cluster/certificates.ts';

// TLS on the client endpoint: dpg up makes a CA and a certificate for the local cluster,
// `dpg url` asks for verify-full against that CA, and with tls.required cleartext clients
// are refused with 28000. Real clients: psql (libpq), node-postgres, asyncpg.
let cluster: TestCluster;
let verifiedUrl: string;

before(async () => {
  cluster = await startTestCluster({ basePort: 8432, workerGroups: 1, shardCount: 2, extraConfig: ['tls: { required: true }'] });
  const url = await runDpg(['url', '--config', cluster.configFile], { cwd: cluster.dir });
  assert.equal(url.code, 0, url.stderr);
  verifiedUrl = url.stdout.trim();
});

after(async () => {
  await cluster?.stop();
});

function psql(url: string, sql: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('/usr/bin/psql', ['-X', '-At', url, '-c', sql], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, PGCONNECT_TIMEOUT: '10' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('dpg up made a CA and a server certificate (keys mode 0600); dpg url asks for verify-full against the CA', () => {
  const dir = localTlsDir(cluster.layout);
  for (const key of ['ca.key', 'server.key']) assert.equal(statSync(`${dir}/${key}`).mode & 0o777, 0o600, key);
  assert.match(verifiedUrl, /\?sslmode=verify-full&sslrootcert=/);
  const certificate = spawnSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-in', `${dir}/server.crt`], { encoding: 'utf8' }).stdout;
  assert.match(certificate, /DNS:localhost/);
  assert.match(certificate, /IP Address:127\.0\.0\.1/);
});

test('psql with the URL dpg url prints: verify-full, TLS in use', () => {
  const result = psql(verifiedUrl, 'SELECT 1');
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), '1');
  // The connection is encrypted as psql sees it.
  const info = spawnSync('/usr/bin/psql', ['-X', verifiedUrl, '-c', '\\conninfo'], { encoding: 'utf8', timeout: 30_000 });
  assert.match(info.stdout, /SSL connection \(protocol: TLSv1\.[23]/, info.stdout + info.stderr);
});

test('node-postgres verifying the certificate against the CA (and refusing it when the host name does not match)', async () => {
  const ca = readFileSync(`${localTlsDir(cluster.layout)}/ca.crt`, 'utf8');
  const url = new URL(cluster.url);
  const client = new pg.Client({ host: 'localhost', port: Number(url.port), user: url.username, password: decodeURIComponent(url.password), database: url.pathname.slice(1), ssl: { ca, rejectUnauthorized: true } });
  await client.connect();
  try {
    assert.equal((await client.query("SELECT count(*)::int AS n FROM memory_entries WHERE namespace = 'tls'")).rows[0].n, 0);
    assert.equal((client as unknown as { connection: { stream: { encrypted?: boolean } } }).connection.stream.encrypted, true);
  } finally {
    await client.end();
  }
  const viaUrl = new pg.Client(verifiedUrl);
  await viaUrl.connect();
  await viaUrl.end();
  const wrongName = new pg.Client({ host: '127.0.0.1', port: Number(url.port), user: url.username, password: decodeURIComponent(url.password), database: url.pathname.slice(1), ssl: { ca, servername: 'not-this-host.example', rejectUnauthorized: true } });
  await assert.rejects(wrongName.connect(), /not-this-host|altnames|Hostname/i);
});

test('asyncpg with sslmode=verify-full and the CA as sslrootcert', () => {
  const script = `
import asyncio, asyncpg, sys
async def main():
    conn = await asyncpg.connect(sys.argv[1])
    print(await conn.fetchval("SELECT 40 + 2"))
    await conn.close()
asyncio.run(main())
`;
  const result = spawnSync('/usr/bin/python3', ['-c', script, verifiedUrl], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), '42');
});

test('tls.required: cleartext clients get 28000 (psql sslmode=disable, node-postgres without ssl)', async () => {
  const plain = psql(`${cluster.url}?sslmode=disable`, 'SELECT 1');
  assert.notEqual(plain.status, 0);
  assert.match(plain.stderr, /no encryption/);
  const client = new pg.Client(cluster.url);
  await assert.rejects(client.connect(), (error: { code?: string }) => error.code === '28000');
});
