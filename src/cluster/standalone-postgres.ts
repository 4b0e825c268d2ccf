import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, chownSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import pg from 'pg';
import { lookupSystemUser, runAs } from './system-user.ts';
import { postgresBinary } from './postgres-binaries.ts';

/** One PostgreSQL 15 server outside any cluster, in a temporary folder, on 127.0.0.1 (the bench's baseline, tests). */
export interface StandalonePostgres {
  url: string;
  port: number;
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

/**
 * initdb and start a server as the `postgres` system user (PostgreSQL refuses root),
 * trust authentication on 127.0.0.1 only; `settings` go into postgresql.auto.conf.
 * `stop` shuts it down fast and removes the folder.
 */
export async function startStandalonePostgres(settings: Record<string, string>, folderPrefix: string): Promise<StandalonePostgres> {
  const user = lookupSystemUser();
  const dir = mkdtempSync(join(tmpdir(), folderPrefix));
  chownSync(dir, user.uid, user.gid);
  const dataDir = join(dir, 'data');
  execFileSync(postgresBinary('initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8'], { ...runAs(user), stdio: 'ignore' });
  const conf = Object.entries(settings).map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`);
  writeFileSync(join(dataDir, 'postgresql.auto.conf'), `${conf.join('\n')}\n`);
  const port = await freePort();
  const child: ChildProcess = spawn(
    postgresBinary('postgres'),
    ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`],
    { ...runAs(user), stdio: 'ignore' },
  );
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT'); // fast shutdown
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const probe = new pg.Client({ connectionString: url });
    try {
      await probe.connect();
      await probe.end();
      return { url, port, stop };
    } catch (error) {
      await probe.end().catch(() => {});
      if (Date.now() > deadline || child.exitCode !== null) {
        await stop().catch(() => {});
        throw new Error(`a standalone PostgreSQL did not start: ${String(error)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
