import { NotFoundError, ValidationError } from './errors.ts';
import type { Executor } from './executor.ts';
import { integerIn, jsonObject, numberIn, requireText, type NamespacePolicy } from './validate.ts';
import { vectorLiteral, type Embedding } from './vector.ts';

/** A learned pattern (table patterns) with its confidence and outcome counts. */
export interface Pattern {
  id: string;
  namespace: string;
  type: string;
  data: Record<string, unknown>;
  /** 0..1. After outcomes: (successes + 1) / (successes + failures + 2). */
  confidence: number;
  usageCount: number;
  successCount: number;
  failureCount: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface PatternChange {
  id: string;
  patternId: string;
  /** 'created', 'updated', 'success', 'failure', 'deleted'. */
  changeType: string;
  previous: Record<string, unknown> | null;
  current: Record<string, unknown> | null;
  changedAt: Date;
}

export interface NewPattern {
  namespace: string;
  type: string;
  data?: Record<string, unknown>;
  confidence?: number;
  embedding?: Embedding | null;
}

const COLUMNS = 'id, namespace, pattern_type, pattern_data, confidence, usage_count, success_count, failure_count, created_at, updated_at';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toPattern(row: Record<string, unknown>): Pattern {
  return {
    id: row.id as string,
    namespace: row.namespace as string,
    type: row.pattern_type as string,
    data: row.pattern_data as Record<string, unknown>,
    confidence: Number(row.confidence),
    usageCount: row.usage_count as number,
    successCount: row.success_count as number,
    failureCount: row.failure_count as number,
    createdAt: row.created_at as Date,
    updatedAt: row.updated_at as Date,
  };
}

/** What pattern_history keeps of a pattern: its fields without the vector. */
const snapshot = (p: Pattern) => ({ type: p.type, data: p.data, confidence: p.confidence, usageCount: p.usageCount, successCount: p.successCount, failureCount: p.failureCount });

export function patternId(id: unknown): string {
  if (typeof id !== 'string' || !UUID.test(id)) throw new ValidationError(`pattern id must be a UUID, got ${JSON.stringify(id)}`);
  return id;
}

/**
 * Patterns (table patterns) and their history (pattern_history). Every change is one
 * transaction on the namespace's shard: the pattern row and its history row together.
 */
export class Patterns {
  constructor(
    private readonly db: Executor,
    private readonly policy: NamespacePolicy,
    private readonly dimensions: number,
  ) {}

  async create(pattern: NewPattern): Promise<Pattern> {
    if (pattern === null || typeof pattern !== 'object') throw new ValidationError('pattern must be an object');
    const ns = this.policy.check(pattern.namespace);
    const values = [
      ns,
      requireText(pattern.type, 'type'),
      jsonObject(pattern.data, 'data'),
      numberIn(pattern.confidence ?? 0.5, 'confidence', 0, 1),
      pattern.embedding == null ? null : vectorLiteral(pattern.embedding, this.dimensions),
    ];
    return this.db.transaction(async (client) => {
      const row = (await client.query(`INSERT INTO patterns (namespace, pattern_type, pattern_data, confidence, embedding) VALUES ($1, $2, $3::jsonb, $4, $5::vector) RETURNING ${COLUMNS}`, values)).rows[0];
      const created = toPattern(row);
      await this.record(client, created, 'created', null, snapshot(created));
      return created;
    }, { namespace: ns });
  }

  async get(namespace: string, id: string): Promise<Pattern | null> {
    const ns = this.policy.check(namespace);
    const result = await this.db.query(`SELECT ${COLUMNS} FROM patterns WHERE namespace = $1 AND id = $2`, [ns, patternId(id)], { namespace: ns });
    return result.rows[0] ? toPattern(result.rows[0]) : null;
  }

  /** Patterns of a namespace (of one type), most confident first. */
  async list(namespace: string, options: { type?: string; minConfidence?: number; limit?: number } = {}): Promise<Pattern[]> {
    const ns = this.policy.check(namespace);
    const values: unknown[] = [ns, numberIn(options.minConfidence ?? 0, 'minConfidence', 0, 1), integerIn(options.limit ?? 100, 'limit', 1, 10_000)];
    let typeFilter = '';
    if (options.type !== undefined) {
      values.push(requireText(options.type, 'type'));
      typeFilter = 'AND pattern_type = $4';
    }
    const result = await this.db.query(`SELECT ${COLUMNS} FROM patterns WHERE namespace = $1 AND confidence >= $2 ${typeFilter} ORDER BY confidence DESC, id LIMIT $3`, values, { namespace: ns });
    return result.rows.map(toPattern);
  }

  /** Replaces a pattern's data and/or confidence. */
  async update(namespace: string, id: string, patch: { data?: Record<string, unknown>; confidence?: number }): Promise<Pattern> {
    const ns = this.policy.check(namespace);
    patternId(id);
    if (patch === null || typeof patch !== 'object' || (patch.data === undefined && patch.confidence === undefined)) throw new ValidationError('patch must give data or confidence');
    const data = patch.data === undefined ? null : jsonObject(patch.data, 'data');
    const confidence = patch.confidence === undefined ? null : numberIn(patch.confidence, 'confidence', 0, 1);
    return this.change(ns, id, 'updated', () => ({
      sql: `UPDATE patterns SET pattern_data = coalesce($3::jsonb, pattern_data), confidence = coalesce($4, confidence), updated_at = now() WHERE namespace = $1 AND id = $2 RETURNING ${COLUMNS}`,
      values: [data, confidence],
    }));
  }

  /**
   * An outcome of using the pattern: usage, success or failure counted, and the
   * confidence set to (successes + 1) / (successes + failures + 2) (Laplace's rule).
   */
  async recordOutcome(namespace: string, id: string, success: boolean): Promise<Pattern> {
    const ns = this.policy.check(namespace);
    patternId(id);
    if (typeof success !== 'boolean') throw new ValidationError('success must be true or false');
    return this.change(ns, id, success ? 'success' : 'failure', () => ({
      sql: `UPDATE patterns SET usage_count = usage_count + 1,
              success_count = success_count + $3::int, failure_count = failure_count + $4::int,
              confidence = (success_count + $3::int + 1)::real / (success_count + failure_count + 3),
              updated_at = now()
            WHERE namespace = $1 AND id = $2 RETURNING ${COLUMNS}`,
      values: [success ? 1 : 0, success ? 0 : 1],
    }));
  }

  /** Deletes a pattern (its history stays, ending with 'deleted'); false when there was none. */
  async delete(namespace: string, id: string): Promise<boolean> {
    const ns = this.policy.check(namespace);
    patternId(id);
    return this.db.transaction(async (client) => {
      const row = (await client.query(`DELETE FROM patterns WHERE namespace = $1 AND id = $2 RETURNING ${COLUMNS}`, [ns, id])).rows[0];
      if (!row) return false;
      await this.record(client, toPattern(row), 'deleted', snapshot(toPattern(row)), null);
      return true;
    }, { namespace: ns });
  }

  /** A pattern's changes, oldest first. */
  async history(namespace: string, id: string, options: { limit?: number } = {}): Promise<PatternChange[]> {
    const ns = this.policy.check(namespace);
    const result = await this.db.query(
      `SELECT id, pattern_id, change_type, previous, current, changed_at FROM pattern_history WHERE namespace = $1 AND pattern_id = $2 ORDER BY changed_at, id LIMIT $3`,
      [ns, patternId(id), integerIn(options.limit ?? 1000, 'limit', 1, 100_000)],
      { namespace: ns },
    );
    return result.rows.map((r) => ({ id: r.id, patternId: r.pattern_id, changeType: r.change_type, previous: r.previous, current: r.current, changedAt: r.changed_at }));
  }

  /** Patterns nearest to an embedding (cosine), at least minConfidence confident. */
  async search(namespace: string, options: { embedding: Embedding; limit?: number; minConfidence?: number }): Promise<(Pattern & { similarity: number })[]> {
    const ns = this.policy.check(namespace);
    const result = await this.db.query(
      `SELECT ${COLUMNS}, 1 - (embedding <=> $2::vector) AS similarity FROM patterns
       WHERE namespace = $1 AND embedding IS NOT NULL AND confidence >= $4 ORDER BY embedding <=> $2::vector LIMIT $3`,
      [ns, vectorLiteral(options.embedding, this.dimensions), integerIn(options.limit ?? 10, 'limit', 1, 1000), numberIn(options.minConfidence ?? 0, 'minConfidence', 0, 1)],
      { namespace: ns },
    );
    return result.rows.map((r) => ({ ...toPattern(r), similarity: Number(r.similarity) }));
  }

  /** A change of one pattern row and its history row, in one transaction; NotFoundError when the pattern is not there. */
  private change(namespace: string, id: string, changeType: string, statement: () => { sql: string; values: unknown[] }): Promise<Pattern> {
    return this.db.transaction(async (client) => {
      const before = (await client.query(`SELECT ${COLUMNS} FROM patterns WHERE namespace = $1 AND id = $2 FOR UPDATE`, [namespace, id])).rows[0];
      if (!before) throw new NotFoundError(`no pattern ${id} in namespace ${JSON.stringify(namespace)}`);
      const { sql, values } = statement();
      const after = toPattern((await client.query(sql, [namespace, id, ...values])).rows[0]);
      await this.record(client, after, changeType, snapshot(toPattern(before)), snapshot(after));
      return after;
    }, { namespace });
  }

  private async record(client: { query: (sql: string, values: unknown[]) => Promise<unknown> }, pattern: Pattern, changeType: string, previous: unknown, current: unknown): Promise<void> {
    await client.query(`INSERT INTO pattern_history (namespace, pattern_id, change_type, previous, current) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)`, [
      pattern.namespace,
      pattern.id,
      changeType,
      previous === null ? null : JSON.stringify(previous),
      current === null ? null : JSON.stringify(current),
    ]);
  }
}
