import pg from 'pg';
import { startStandalonePostgres, freePort } from '../../src/cluster/standalone-postgres.ts';

export { freePort };

/** A throwaway single PostgreSQL 15 server on 127.0.0.1 for tests that need real SQL. */
export interface ScratchPostgres {
  port: number;
  url: string;
  client(database?: string): Promise<pg.Client>;
  stop(): Promise<void>;
}

export async function startScratchPostgres(): Promise<ScratchPostgres> {
  const server = await startStandalonePostgres({ shared_buffers: '32MB', fsync: 'off' }, 'dpg-scratch-');
  return {
    port: server.port,
    url: server.url,
    async client(database = 'postgres') {
      const c = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'postgres', database });
      await c.connect();
      return c;
    },
    stop: server.stop,
  };
}
