import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LOG_MODULE = fileURLToPath(new URL('../../../src/shared/log.ts', import.meta.url));

/** Runs `script` (with createLogger imported) in a child process: the logger writes to its fd 2. */
function runWithLogger(script: string, level: string | undefined) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { createLogger } from ${JSON.stringify(LOG_MODULE)};\n${script}`], {
    encoding: 'utf8',
    env: { ...process.env, DPG_LOG_LEVEL: level ?? '' },
  });
}

/** A few log calls in a child process, its stderr lines as JSON. */
function logLines(level: string | undefined): Record<string, unknown>[] {
  const script = `
    const logger = createLogger({ coordinator: 1, process: 0 });
    logger.info('catalog loaded');
    logger.warn('catalog reconnect failed');
    logger.child({ session: 17, user: 'alice' }).error({ statement: 'SELECT 1', err: new Error('boom') }, 'statement failed: internal error');
  `;
  const result = runWithLogger(script, level);
  assert.equal(result.status, 0, result.stderr);
  return result.stderr.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

test('the coordinator log is JSON lines with time, level, pid, the logger\'s bindings and a session\'s context', () => {
  const lines = logLines(undefined);
  assert.deepEqual(lines.map((l) => [l.level, l.msg]), [
    ['info', 'catalog loaded'],
    ['warn', 'catalog reconnect failed'],
    ['error', 'statement failed: internal error'],
  ]);
  for (const line of lines) {
    assert.match(String(line.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(typeof line.pid, 'number');
    assert.equal(line.coordinator, 1);
    assert.equal(line.process, 0);
  }
  const failed = lines[2]!;
  assert.equal(failed.session, 17);
  assert.equal(failed.user, 'alice');
  assert.equal(failed.statement, 'SELECT 1');
  assert.match(String((failed.err as { stack?: string }).stack), /Error: boom/);
});

test('DPG_LOG_LEVEL sets the least level written', () => {
  assert.deepEqual(logLines('warn').map((l) => l.level), ['warn', 'error']);
  assert.deepEqual(logLines('error').map((l) => l.level), ['error']);
});

test('a DPG_LOG_LEVEL that is not a level is refused with what the levels are', () => {
  const result = runWithLogger('createLogger();', 'loud');
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /DPG_LOG_LEVEL="loud" is not a log level: use one of trace, debug, info, warn, error/);
});
