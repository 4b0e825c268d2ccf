import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const DPG_BIN = fileURLToPath(new URL('../../bin/dpg.mjs', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `dpg` command line, as a user would (`npx dpg ...`). */
export function runDpg(args: string[], options: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
  // Without DPG_DEBUG, as a user runs it: expected errors print no stack trace.
  const env = { ...process.env, ...options.env };
  delete env.DPG_DEBUG;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DPG_BIN, ...args], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 180_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
