import { ClientError, SqlState } from '../shared/errors.ts';
import { constantValue, unwrapNode, walk, walkBuiltinCalls } from './sql-ast.ts';
import type { Plan, SessionConfigCall } from './plan.ts';

/**
 * Session state a node keeps per connection. The coordinator's worker connections are
 * pooled: a session's statements may each run on another connection, and a connection
 * passes to another session (which gets it reset with DISCARD ALL first). State that
 * would be lost between two statements of one session, or that the coordinator cannot
 * carry over, is refused with 0A000 and the reason; session settings made with
 * set_config() are kept by the coordinator like SET; statements that only clear such
 * state are answered by the coordinator itself.
 * https://www.postgresql.org/docs/15/sql-discard.html
 */
const POOLED = 'through dpg: a session\'s statements run on pooled connections to the nodes, so state kept on one connection would be lost at the next statement';

function notSupported(what: string): ClientError {
  return new ClientError(SqlState.featureNotSupported, `${what} is not supported ${POOLED}`);
}

/** Session-level advisory locks (the _xact_ ones end with the transaction and are fine). */
const SESSION_ADVISORY_LOCKS = new Set([
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
  'pg_advisory_unlock',
  'pg_advisory_unlock_shared',
  'pg_advisory_unlock_all',
]);

/** DECLARE ... WITH HOLD (CURSOR_OPT_HOLD in parsenodes.h). */
const CURSOR_OPT_HOLD = 0x0020;

/** What the coordinator answers itself, or refuses; null: plan the statement as usual. */
export function planSessionState(kind: string | null, body: any): Plan | null {
  switch (kind) {
    case 'PrepareStmt':
      return unsupported('SQL PREPARE (the extended protocol\'s Parse, which every driver uses for prepared statements, works)');
    case 'ExecuteStmt':
      return unsupported('SQL EXECUTE of a prepared statement');
    case 'DeallocateStmt':
      // Nothing SQL-prepared exists (PREPARE is refused): DEALLOCATE ALL has nothing to do.
      if (!body.name) return { kind: 'local', tag: 'DEALLOCATE ALL' };
      return { kind: 'unsupported', error: new ClientError('26000', `prepared statement "${body.name}" does not exist`) };
    case 'ListenStmt':
      return unsupported('LISTEN (notifications reach the node connection that listens, not the client)');
    case 'UnlistenStmt':
      return { kind: 'local', tag: 'UNLISTEN' };
    case 'DiscardStmt':
      // The coordinator discards a connection's state whenever it changes hands.
      return { kind: 'local', tag: `DISCARD ${String(body.target ?? 'DISCARD_ALL').replace(/^DISCARD_/, '')}` };
    case 'DeclareCursorStmt':
      if ((Number(body.options ?? 0) & CURSOR_OPT_HOLD) !== 0) return unsupported('DECLARE ... WITH HOLD');
      return null;
    default:
      return null;
  }
}

function unsupported(what: string): Plan {
  return { kind: 'unsupported', error: notSupported(what) };
}

/** Temporary tables, views and sequences: they live on one node connection. */
export function checkTemporaryObjects(node: unknown): ClientError | null {
  let temporary = false;
  walk(node, (key, value) => {
    if (temporary) return false;
    if (key === 'RangeVar' && value.relpersistence === 't') temporary = true;
    if ((key === 'relation' || key === 'rel' || key === 'view' || key === 'sequence') && value?.relpersistence === 't') temporary = true;
    return temporary ? false : undefined;
  });
  return temporary ? notSupported('a temporary table, view or sequence') : null;
}

/** A constant or a parameter argument of set_config(). */
function argumentRef(node: any): SessionConfigCall['name'] | null {
  const [kind, value] = unwrapNode(node);
  if (kind === 'TypeCast') return argumentRef(value.arg);
  if (kind === 'ParamRef') return { param: value.number };
  const constant = constantValue(node);
  return typeof constant === 'string' ? { value: constant } : null;
}

/** set_config's is_local as a constant boolean (PostgreSQL's spellings), or null. */
function isLocalArgument(node: any): boolean | null {
  const constant = constantValue(node);
  if (typeof constant !== 'string') return null;
  if (/^(t|true|y|yes|on|1)$/i.test(constant)) return true;
  return /^(f|false|n|no|off|0)$/i.test(constant) ? false : null;
}

/**
 * Session-level advisory locks are refused; set_config() calls are returned so the
 * coordinator keeps them as session (or transaction-local) settings, as SET. set_config
 * is evaluated once only in a SELECT without FROM or WHERE (anywhere else it runs once
 * per row, or not at all), so that is the only place it is taken; its arguments must be
 * constants or parameters.
 */
export function sessionConfigCalls(kind: string | null, body: any, node: unknown): SessionConfigCall[] | ClientError {
  const calls: SessionConfigCall[] = [];
  let error: ClientError | null = null;
  const targets = kind === 'SelectStmt' && !body.fromClause && !body.whereClause && !body.withClause && (!body.op || body.op === 'SETOP_NONE') ? new Set((body.targetList ?? []).map((t: any) => unwrapNode(unwrapNode(t)[1].val)[1])) : new Set();
  walkBuiltinCalls(node, (name, call) => {
    if (SESSION_ADVISORY_LOCKS.has(name)) {
      error = notSupported(`the session-level advisory lock function ${name}() (pg_advisory_xact_lock() and its siblings, held until the transaction ends, work)`);
      return false;
    }
    if (name !== 'set_config') return undefined;
    const args = (call.args as any[]) ?? [];
    const setting = args[0] && argumentRef(args[0]);
    const settingValue = args[1] && argumentRef(args[1]);
    const local = args[2] === undefined ? null : isLocalArgument(args[2]);
    if (!targets.has(call) || !setting || !settingValue || local === null) {
      error = notSupported('set_config() other than as a column of SELECT without FROM, with constant or parameter arguments,');
      return false;
    }
    calls.push({ name: setting, value: settingValue, local });
    return undefined;
  });
  return error ?? calls;
}
