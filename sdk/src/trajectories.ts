import { ValidationError } from './errors.ts';
import type { Executor } from './executor.ts';
import { patternId } from './patterns.ts';
import { integerIn, jsonText, numberIn, optionalText, type NamespacePolicy } from './validate.ts';
import { vectorLiteral, type Embedding } from './vector.ts';

/** An agent's trajectory (table trajectories): its steps and how it ended. */
export interface Trajectory {
  id: string;
  namespace: string;
  patternId: string | null;
  steps: unknown[];
  outcome: string | null;
  reward: number | null;
  createdAt: Date;
}

export interface NewTrajectory {
  namespace: string;
  patternId?: string | null;
  steps: unknown[];
  outcome?: string | null;
  reward?: number | null;
  embedding?: Embedding | null;
}

const COLUMNS = 'id, namespace, pattern_id, steps, outcome, reward, created_at';

function toTrajectory(row: Record<string, unknown>): Trajectory {
  return {
    id: row.id as string,
    namespace: row.namespace as string,
    patternId: (row.pattern_id as string | null) ?? null,
    steps: row.steps as unknown[],
    outcome: (row.outcome as string | null) ?? null,
    reward: row.reward === null ? null : Number(row.reward),
    createdAt: row.created_at as Date,
  };
}

export class Trajectories {
  constructor(
    private readonly db: Executor,
    private readonly policy: NamespacePolicy,
    private readonly dimensions: number,
  ) {}

  async record(trajectory: NewTrajectory): Promise<Trajectory> {
    if (trajectory === null || typeof trajectory !== 'object') throw new ValidationError('trajectory must be an object');
    const ns = this.policy.check(trajectory.namespace);
    if (!Array.isArray(trajectory.steps)) throw new ValidationError('steps must be an array');
    const result = await this.db.query(
      `INSERT INTO trajectories (namespace, pattern_id, steps, outcome, reward, embedding) VALUES ($1, $2, $3::jsonb, $4, $5, $6::vector) RETURNING ${COLUMNS}`,
      [
        ns,
        trajectory.patternId == null ? null : patternId(trajectory.patternId),
        jsonText(trajectory.steps, 'steps'),
        optionalText(trajectory.outcome, 'outcome'),
        trajectory.reward == null ? null : numberIn(trajectory.reward, 'reward', -1e30, 1e30),
        trajectory.embedding == null ? null : vectorLiteral(trajectory.embedding, this.dimensions),
      ],
      { idempotent: false, namespace: ns },
    );
    return toTrajectory(result.rows[0]!);
  }

  /** A namespace's trajectories (of one pattern), newest first. */
  async list(namespace: string, options: { patternId?: string; limit?: number } = {}): Promise<Trajectory[]> {
    const ns = this.policy.check(namespace);
    const values: unknown[] = [ns, integerIn(options.limit ?? 100, 'limit', 1, 10_000)];
    let filter = '';
    if (options.patternId !== undefined) {
      values.push(patternId(options.patternId));
      filter = 'AND pattern_id = $3';
    }
    const result = await this.db.query(`SELECT ${COLUMNS} FROM trajectories WHERE namespace = $1 ${filter} ORDER BY created_at DESC, id LIMIT $2`, values, { namespace: ns });
    return result.rows.map(toTrajectory);
  }

  /** Trajectories nearest to an embedding (cosine). */
  async search(namespace: string, options: { embedding: Embedding; limit?: number }): Promise<(Trajectory & { similarity: number })[]> {
    const ns = this.policy.check(namespace);
    const result = await this.db.query(
      `SELECT ${COLUMNS}, 1 - (embedding <=> $2::vector) AS similarity FROM trajectories WHERE namespace = $1 AND embedding IS NOT NULL ORDER BY embedding <=> $2::vector LIMIT $3`,
      [ns, vectorLiteral(options.embedding, this.dimensions), integerIn(options.limit ?? 10, 'limit', 1, 1000)],
      { namespace: ns },
    );
    return result.rows.map((r) => ({ ...toTrajectory(r), similarity: Number(r.similarity) }));
  }
}
