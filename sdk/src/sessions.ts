import { randomUUID } from 'node:crypto';
import { NotFoundError, ValidationError } from './errors.ts';
import type { Executor } from './executor.ts';
import { expiry, jsonObject, optionalText, requireText, type NamespacePolicy } from './validate.ts';

/** An agent session (table sessions: a reference table, UNLOGGED, on every group). */
export interface Session {
  id: string;
  namespace: string | null;
  agentId: string | null;
  state: Record<string, unknown>;
  startedAt: Date;
  lastActiveAt: Date;
  expiresAt: Date | null;
}

const COLUMNS = 'session_id, namespace, agent_id, state, started_at, last_active_at, expires_at';
const LIVE = '(expires_at IS NULL OR expires_at > now())';

const toSession = (r: Record<string, unknown>): Session => ({
  id: r.session_id as string,
  namespace: (r.namespace as string | null) ?? null,
  agentId: (r.agent_id as string | null) ?? null,
  state: r.state as Record<string, unknown>,
  startedAt: r.started_at as Date,
  lastActiveAt: r.last_active_at as Date,
  expiresAt: (r.expires_at as Date | null) ?? null,
});

/**
 * Sessions: short-lived state of a running agent. The table is UNLOGGED (the seed's
 * ephemeral tier): fast, and lost if a worker crashes; keep nothing there that must last.
 */
export class Sessions {
  constructor(
    private readonly db: Executor,
    private readonly policy: NamespacePolicy,
  ) {}

  async start(session: { id?: string; namespace?: string | null; agentId?: string | null; state?: Record<string, unknown>; ttlSeconds?: number; expiresAt?: Date | null } = {}): Promise<Session> {
    if (session === null || typeof session !== 'object') throw new ValidationError('session must be an object');
    const id = session.id === undefined ? randomUUID() : requireText(session.id, 'id');
    const namespace = session.namespace == null ? null : this.policy.check(session.namespace);
    const result = await this.db.query(
      `INSERT INTO sessions (session_id, namespace, agent_id, state, expires_at) VALUES ($1, $2, $3, $4::jsonb, $5) RETURNING ${COLUMNS}`,
      [id, namespace, optionalText(session.agentId, 'agentId'), jsonObject(session.state, 'state'), expiry(session.expiresAt, session.ttlSeconds)],
      { idempotent: false },
    );
    return toSession(result.rows[0]!);
  }

  /** The session, or null when there is none or it expired. */
  async get(id: string): Promise<Session | null> {
    const result = await this.db.query(`SELECT ${COLUMNS} FROM sessions WHERE session_id = $1 AND ${LIVE}`, [requireText(id, 'id')]);
    return result.rows[0] ? toSession(result.rows[0]) : null;
  }

  /** Marks the session active now, merging `state` into its state and moving its expiry if given; NotFoundError when it is gone. */
  async touch(id: string, options: { state?: Record<string, unknown>; ttlSeconds?: number } = {}): Promise<Session> {
    const expires = options.ttlSeconds === undefined ? null : expiry(undefined, options.ttlSeconds);
    const result = await this.db.query(
      `UPDATE sessions SET last_active_at = now(), state = state || $2::jsonb, expires_at = coalesce($3, expires_at) WHERE session_id = $1 AND ${LIVE} RETURNING ${COLUMNS}`,
      [requireText(id, 'id'), jsonObject(options.state, 'state'), expires],
    );
    if (!result.rows[0]) throw new NotFoundError(`no session ${JSON.stringify(id)} (it ended or expired)`);
    return toSession(result.rows[0]);
  }

  async end(id: string): Promise<boolean> {
    return ((await this.db.query('DELETE FROM sessions WHERE session_id = $1', [requireText(id, 'id')])).rowCount ?? 0) > 0;
  }

  /** Sessions of an agent (or of a namespace) that have not expired, latest activity first. */
  async list(filter: { agentId?: string; namespace?: string } = {}): Promise<Session[]> {
    const values: unknown[] = [];
    const where = [LIVE];
    if (filter.agentId !== undefined) {
      values.push(requireText(filter.agentId, 'agentId'));
      where.push(`agent_id = $${values.length}`);
    }
    if (filter.namespace !== undefined) {
      values.push(this.policy.check(filter.namespace));
      where.push(`namespace = $${values.length}`);
    }
    const result = await this.db.query(`SELECT ${COLUMNS} FROM sessions WHERE ${where.join(' AND ')} ORDER BY last_active_at DESC LIMIT 1000`, values);
    return result.rows.map(toSession);
  }

  /** Deletes expired sessions; returns how many. */
  async purgeExpired(): Promise<number> {
    return (await this.db.query('DELETE FROM sessions WHERE expires_at <= now()', [])).rowCount ?? 0;
  }
}
