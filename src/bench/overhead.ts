import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { ClusterLayout, NodeLayout } from '../cluster/layout.ts';
import { nodePassword, type ClusterSecrets } from '../cluster/secrets.ts';
import { groupLeader } from '../cluster/connect.ts';
import { lookupSystemUser, runAs } from '../cluster/system-user.ts';
import { childPids, listProcessRecords } from '../cluster/processes.ts';
import { freePort } from '../cluster/standalone-postgres.ts';

/**
 * `dpg bench overhead`: what the coordinator costs on top of the query it forwards,
 * measured in one run on the running cluster against two baselines of the same run:
 * the node itself, and Debian's PgBouncer (session mode) in front of the same node.
 * - pgbench -S, prepared and simple, 1 and 4 clients; the pgbench tables live on the
 *   control group, so this is the proxy's own cost;
 * - the seed's top-10 search over one namespace, straight to the worker holding its
 *   shard and through dpg, at 1, 2 and 8 clients;
 * - CPU µs per statement of the coordinator processes (and of PgBouncer), from /proc.
 * Connections are without TLS on all three paths, so the comparison is like for like.
 */
export interface OverheadOptions {
  layout: ClusterLayout;
  secrets: ClusterSecrets;
  database: string;
  /** The client role the bench logs in as (its password for the coordinator). */
  user: { name: string; password: string };
  seconds: number;
  namespace: string;
  out: (line: string) => void;
}

const PGBENCH = '/usr/lib/postgresql/15/bin/pgbench';
const PGBOUNCER = '/usr/sbin/pgbouncer';
const CLOCK_TICKS_PER_SECOND = 100;

interface Target {
  host: string;
  port: number;
  password: string;
}

interface Measured {
  tps: number;
  statements: number;
  cpuMicrosPerStatement: number | null;
  p50?: number;
  p99?: number;
}

export async function runOverhead(options: OverheadOptions): Promise<void> {
  const { layout, secrets, out } = options;
  const control = layout.groups.find((g) => g.id === 0)!;
  const controlPrimary = await groupLeader(control);
  if (!controlPrimary) throw new Error('the control group has no primary');
  const dpg: Target = { host: layout.host, port: layout.clientPort, password: options.user.password };
  const direct: Target = { host: controlPrimary.host, port: controlPrimary.pgPort, password: nodePassword(secrets, options.user.name) };
  const coordinatorPids = listProcessRecords(layout.runDir).filter((r) => r.name.startsWith('coordinator-')).map((r) => r.pid);
  out(`coordinator processes: ${coordinatorPids.join(', ')}; control primary ${controlPrimary.name} at ${direct.host}:${direct.port}; ${options.seconds} s per run`);

  await ensurePgbenchTables(dpg, options);
  const bouncer = await startPgBouncer(direct, options);
  try {
    out('');
    out('pgbench -S                 direct TPS   PgBouncer TPS   dpg TPS   dpg/PgBouncer  dpg/direct   CPU µs/stmt: PgBouncer  dpg');
    for (const mode of ['prepared', 'simple'] as const) {
      for (const clients of [1, 4]) {
        const d = await pgbench(direct, options, mode, clients, []);
        const b = await pgbench({ host: '127.0.0.1', port: bouncer.port, password: direct.password }, options, mode, clients, [bouncer.pid]);
        const c = await pgbench(dpg, options, mode, clients, coordinatorPids);
        out(
          `${`${mode}, ${clients} client${clients > 1 ? 's' : ''}`.padEnd(26)} ${fmt(d.tps, 10)} ${fmt(b.tps, 15)} ${fmt(c.tps, 9)} ${ratio(c.tps, b.tps, 14)} ${ratio(c.tps, d.tps, 11)} ${micros(b.cpuMicrosPerStatement, 23)} ${micros(c.cpuMicrosPerStatement, 5)}`,
        );
      }
    }
  } finally {
    await bouncer.stop();
  }

  const search = await searchTargets(dpg, options);
  out('');
  out(`top-10 search over ${options.namespace} (${search.rows} rows, shard ${search.shardTable} on ${search.worker.name})`);
  out('clients  worker p50 ms  dpg p50 ms  p50 ratio  worker QPS  dpg QPS  QPS ratio  dpg CPU µs/stmt');
  for (const clients of [1, 2, 8]) {
    const w = await topTen({ host: search.worker.host, port: search.worker.pgPort, password: direct.password }, search.shardTable, options, clients, []);
    const c = await topTen(dpg, 'memory_entries', options, clients, coordinatorPids);
    out(
      `${String(clients).padStart(7)}  ${w.p50!.toFixed(2).padStart(13)} ${c.p50!.toFixed(2).padStart(11)} ${ratio(w.p50!, c.p50!, 10, true)} ${fmt(w.tps, 11)} ${fmt(c.tps, 8)} ${ratio(c.tps, w.tps, 10)} ${micros(c.cpuMicrosPerStatement, 16)}`,
    );
  }
  out('');
  out('goals: dpg/PgBouncer >= 1.00x in all four pgbench rows; top-10 p50 ratio <= 1.10x at 1 client; QPS ratio >= 0.85x at 8 clients');
}

function fmt(value: number, width: number): string {
  return Math.round(value).toLocaleString('en-US').padStart(width);
}

/** `a / b`, or for latencies (inverse) `b / a`: how many times the baseline's. */
function ratio(a: number, b: number, width: number, inverse = false): string {
  const value = inverse ? b / a : a / b;
  return `${value.toFixed(2)}x`.padStart(width);
}

function micros(value: number | null, width: number): string {
  return (value === null ? '-' : value.toFixed(0)).padStart(width);
}

/**
 * utime + stime of the processes and of their children (a coordinator's processes,
 * coordinator.processes), in µs (their threads included). Children that exit during a
 * run are not counted: none do in a healthy run.
 */
function cpuMicros(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids.flatMap((p) => [p, ...childPids(p)])) {
    try {
      // Fields after the command name (which may hold spaces) start at ") ": utime is the 14th field.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // A process that is gone contributes nothing more.
    }
  }
  return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
}

function environment(target: Target, options: OverheadOptions): NodeJS.ProcessEnv {
  return { ...process.env, PGHOST: target.host, PGPORT: String(target.port), PGUSER: options.user.name, PGPASSWORD: target.password, PGDATABASE: options.database, PGSSLMODE: 'disable' };
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output}`))));
  });
}

async function ensurePgbenchTables(dpg: Target, options: OverheadOptions): Promise<void> {
  const client = new pg.Client({ ...dpg, user: options.user.name, database: options.database, ssl: false });
  await client.connect();
  try {
    const { rows } = await client.query("SELECT count(*)::int AS n FROM pg_catalog.pg_tables WHERE tablename = 'pgbench_accounts'");
    if (rows[0].n > 0) return;
  } finally {
    await client.end();
  }
  options.out('pgbench -i -s 1 through dpg (the tables stay on the control group)');
  await run(PGBENCH, ['-i', '-s', '1', '-q', '-I', 'dtgp'], environment(dpg, options));
}

async function pgbench(target: Target, options: OverheadOptions, mode: 'prepared' | 'simple', clients: number, pids: number[]): Promise<Measured> {
  const env = environment(target, options);
  const args = ['-n', '-S', '-M', mode, '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(options.seconds)];
  const before = cpuMicros(pids);
  const output = await run(PGBENCH, args, env);
  const cpu = cpuMicros(pids) - before;
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(output)?.[1]);
  const statements = Number(/number of transactions actually processed: (\d+)/.exec(output)?.[1]);
  if (!Number.isFinite(tps) || !Number.isFinite(statements)) throw new Error(`could not read pgbench's output:\n${output}`);
  return { tps, statements, cpuMicrosPerStatement: pids.length > 0 && statements > 0 ? cpu / statements : null };
}

/** Debian's PgBouncer in session mode in front of `target`, as the postgres OS user (it refuses root). */
async function startPgBouncer(target: Target, options: OverheadOptions): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'dpg-bench-pgbouncer-'));
  const port = await freePort();
  const user = lookupSystemUser();
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  writeFileSync(join(dir, 'userlist.txt'), `${quote(options.user.name)} ${quote(target.password)}\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `${options.database} = host=${target.host} port=${target.port} dbname=${options.database}`,
      '[pgbouncer]',
      `listen_addr = 127.0.0.1`,
      `listen_port = ${port}`,
      `unix_socket_dir =`,
      `auth_type = plain`,
      `auth_file = ${join(dir, 'userlist.txt')}`,
      `pool_mode = session`,
      `max_client_conn = 100`,
      `default_pool_size = 20`,
      `server_tls_sslmode = disable`,
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  for (const file of ['', 'userlist.txt', 'pgbouncer.ini']) chownSync(join(dir, file), user.uid, user.gid);
  const child = spawn(PGBOUNCER, [join(dir, 'pgbouncer.ini')], { ...runAs(user), stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = new pg.Client({ host: '127.0.0.1', port, user: options.user.name, password: target.password, database: options.database, ssl: false });
    try {
      await client.connect();
      await client.end();
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        let log = '';
        try {
          log = readFileSync(join(dir, 'pgbouncer.log'), 'utf8');
        } catch {}
        await stop();
        throw new Error(`PgBouncer did not start: ${(error as Error).message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { port, pid: child.pid!, stop };
}

async function searchTargets(dpg: Target, options: OverheadOptions): Promise<{ worker: NodeLayout; shardTable: string; rows: number }> {
  const client = new pg.Client({ ...dpg, user: options.user.name, database: options.database, ssl: false });
  await client.connect();
  try {
    const shard = (await client.query(
      "SELECT s.shardid, p.groupid AS group_id FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) WHERE s.logicalrelid = 'memory_entries'::regclass AND hashtext($1) BETWEEN s.shardminvalue::int AND s.shardmaxvalue::int",
      [options.namespace],
    )).rows[0];
    if (!shard) throw new Error(`no shard of memory_entries holds ${options.namespace}`);
    const rows = (await client.query('SELECT count(*)::int AS n FROM memory_entries WHERE namespace = $1', [options.namespace])).rows[0].n;
    const group = options.layout.groups.find((g) => g.id === Number(shard.group_id));
    if (!group) throw new Error(`group ${shard.group_id} is not in this machine's layout`);
    const worker = await groupLeader(group);
    if (!worker) throw new Error(`group ${group.name} has no primary`);
    return { worker, shardTable: `memory_entries_${shard.shardid}`, rows };
  } finally {
    await client.end();
  }
}

const VECTOR = `[${Array.from({ length: 384 }, (_, i) => Math.sin(i * 0.37).toFixed(6)).join(',')}]`;

async function topTen(target: Target, table: string, options: OverheadOptions, clients: number, pids: number[]): Promise<Measured> {
  const text = `SELECT namespace, key, value, 1 - (embedding <=> $1::ruvector) AS similarity FROM ${table} WHERE namespace = $2 ORDER BY embedding <=> $1::ruvector LIMIT 10`;
  const query = { name: 'top10', text, values: [VECTOR, options.namespace] };
  const connections = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new pg.Client({ ...target, user: options.user.name, database: options.database, ssl: false });
      await c.connect();
      const { rows } = await c.query(query);
      if (rows.length !== 10) throw new Error(`the search on ${table} returned ${rows.length} rows`);
      return c;
    }),
  );
  const latencies: number[] = [];
  const before = cpuMicros(pids);
  const deadline = performance.now() + options.seconds * 1000;
  await Promise.all(
    connections.map(async (c) => {
      while (performance.now() < deadline) {
        const start = performance.now();
        await c.query(query);
        latencies.push(performance.now() - start);
      }
    }),
  );
  const cpu = cpuMicros(pids) - before;
  await Promise.all(connections.map((c) => c.end()));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { tps: latencies.length / options.seconds, statements: latencies.length, cpuMicrosPerStatement: pids.length > 0 ? cpu / latencies.length : null, p50: at(0.5), p99: at(0.99) };
}
