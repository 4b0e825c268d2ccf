import { pino, stdTimeFunctions, destination, type Logger } from 'pino';

export type { Logger };

/**
 * The coordinator's log: JSON lines (pino) on stderr, which `dpg up` sends to
 * <data_dir>/logs/coordinator-N.log. Every line has time, level, pid and what the logger
 * was made with (coordinator, process); a session's lines add `session` and `user`, a
 * failed statement's the statement. DPG_LOG_LEVEL (trace, debug, info, warn, error)
 * sets the least level written; default info.
 */
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function createLogger(bindings: Record<string, unknown> = {}): Logger {
  const level = process.env.DPG_LOG_LEVEL || 'info';
  if (!LEVELS.includes(level)) throw new Error(`DPG_LOG_LEVEL=${JSON.stringify(level)} is not a log level: use one of ${LEVELS.join(', ')}`);
  return pino(
    {
      level,
      base: { pid: process.pid, ...bindings },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    // Synchronous: what a process logs just before it exits is still written.
    destination({ fd: 2, sync: true }),
  );
}
