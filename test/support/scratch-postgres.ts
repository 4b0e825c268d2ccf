import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, chownSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import pg from 'pg';
import { lookupSystemUser, runAs } from '../../src/cluster/system-user.ts';
import { postgresBinary } from '../../src/cluster/postgres-binaries.ts';

/** A throwaway single PostgreSQL 15 server on 127.0.0.1 for tests that need real SQL. */
export interface ScratchPostgres {
  port: number;
  url: string;
  client(database?: string): Promise<pg.Client>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function startScratchPostgres(): Promise<ScratchPostgres> {
  const user = lookupSystemUser();
  const dir = mkdtempSync(join(tmpdir(), 'dpg-scratch-'));
  chownSync(dir, user.uid, user.gid);
  const dataDir = join(dir, 'data');
  execFileSync(postgresBinary('initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8'], {
    ...runAs(user),
    stdio: 'ignore',
  });
  writeFileSync(join(dataDir, 'postgresql.auto.conf'), "shared_buffers = '32MB'\nfsync = off\n");
  const port = await freePort();
  const child: ChildProcess = spawn(
    postgresBinary('postgres'),
    ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`],
    { ...runAs(user), stdio: 'ignore' },
  );
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const probe = new pg.Client({ connectionString: url });
    try {
      await probe.connect();
      await probe.end();
      break;
    } catch (error) {
      await probe.end().catch(() => {});
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error(`scratch PostgreSQL did not start: ${String(error)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port,
    url,
    async client(database = 'postgres') {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database });
      await c.connect();
      return c;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT'); // fast shutdown
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
