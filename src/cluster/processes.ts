import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, writeFileSync, existsSync, rmSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createServer } from 'node:net';

/** A process dpg started and must be able to find (and stop) again, by PID only. */
export interface ProcessRecord {
  name: string;
  pid: number;
  command: string;
  args: string[];
  /** A string the process's command line must contain, so a reused PID is never taken for ours. */
  marker: string;
  startedAt: string;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  marker: string;
  uid?: number;
  gid?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Starts a long-running server detached from this process, output appended to its log. */
export function startDetached(runDir: string, options: StartOptions): ProcessRecord {
  mkdirSync(dirname(options.logFile), { recursive: true });
  mkdirSync(runDir, { recursive: true });
  const log = openSync(options.logFile, 'a');
  try {
    const child = spawn(options.command, options.args, {
      detached: true,
      stdio: ['ignore', log, log],
      uid: options.uid,
      gid: options.gid,
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    if (child.pid === undefined) throw new Error(`could not start ${options.command}`);
    child.unref();
    const record: ProcessRecord = {
      name: options.name,
      pid: child.pid,
      command: options.command,
      args: options.args,
      marker: options.marker,
      startedAt: new Date().toISOString(),
    };
    writeFileSync(pidFile(runDir, options.name), JSON.stringify(record, null, 2));
    return record;
  } finally {
    closeSync(log);
  }
}

export function pidFile(runDir: string, name: string): string {
  return join(runDir, `${name}.json`);
}

export function readProcessRecord(runDir: string, name: string): ProcessRecord | null {
  const file = pidFile(runDir, name);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ProcessRecord;
  } catch {
    return null;
  }
}

export function listProcessRecords(runDir: string): ProcessRecord[] {
  if (!existsSync(runDir)) return [];
  return readdirSync(runDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => readProcessRecord(runDir, f.slice(0, -5)))
    .filter((r): r is ProcessRecord => r !== null && typeof r.name === 'string' && Number.isInteger(r.pid));
}

export function forgetProcess(runDir: string, name: string): void {
  rmSync(pidFile(runDir, name), { force: true });
}

/** True when `pid` runs and its command line contains `marker` (not a zombie, not a reused PID). */
export function isAlive(pid: number, marker?: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name, is the state; Z = zombie, X = dead.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    if (marker === undefined) return true;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    return cmdline.includes(marker);
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sends `signal`, waits up to `timeoutMs`, then SIGKILL. Returns once the process is gone. */
export async function stopPid(pid: number, marker: string | undefined, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  if (!isAlive(pid, marker)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid, marker)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        return;
      }
      const killDeadline = Date.now() + 5000;
      while (isAlive(pid, marker) && Date.now() < killDeadline) await sleep(50);
      return;
    }
    await sleep(50);
  }
}

/** PIDs of processes whose command line contains `marker`: finds children left behind by a dead parent. */
export function pidsWithMarker(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    if (isAlive(pid, marker)) pids.push(pid);
  }
  return pids;
}

/** The PID in a PostgreSQL data directory's postmaster.pid (first line), if the file exists. */
/** The processes whose parent is `pid` (a coordinator's forked processes), from /proc. */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // the process ended while /proc was read
    }
  }
  return children;
}

export function postmasterPid(pgDataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(pgDataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export async function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false>, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    }
    await sleep(intervalMs);
  }
}
