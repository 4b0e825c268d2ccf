import { NotFoundError, ValidationError } from './errors.ts';
import type { Executor } from './executor.ts';
import { expiry, integerIn, jsonObject, numberIn, optionalText, requireText, tagList, type NamespacePolicy } from './validate.ts';
import { cosineSimilarity, parseVector, vectorLiteral } from './vector.ts';
import type { BatchOptions, ListOptions, Memory, MemoryPatch, NewMemory, Page, RetrievedHit, SearchHit, SearchOptions } from './types.ts';

const COLUMNS = 'id, namespace, key, value, metadata, tags, created_at, updated_at, expires_at';
const LIVE = '(expires_at IS NULL OR expires_at > now())';

type Row = Record<string, unknown>;

export function toMemory(row: Row): Memory {
  const memory: Memory = {
    id: row.id as string,
    namespace: row.namespace as string,
    key: row.key as string,
    value: (row.value as string | null) ?? null,
    metadata: (row.metadata as Record<string, unknown>) ?? {},
    tags: (row.tags as string[]) ?? [],
    createdAt: row.created_at as Date,
    updatedAt: row.updated_at as Date,
    expiresAt: (row.expires_at as Date | null) ?? null,
  };
  if ('embedding' in row) memory.embedding = parseVector(row.embedding as string | null);
  return memory;
}

/** The memory entries of a dpg database (memory_entries): store, read, list, search. */
export class Memories {
  constructor(
    private readonly db: Executor,
    private readonly policy: NamespacePolicy,
    private readonly dimensions: number,
  ) {}

  /** The row's parameters, validated: namespace, key, value, embedding, metadata, tags, expires_at. */
  private row(entry: NewMemory, what = 'entry'): unknown[] {
    if (entry === null || typeof entry !== 'object') throw new ValidationError(`${what} must be an object`);
    const namespace = this.policy.check(entry.namespace, `${what}.namespace`);
    const key = requireText(entry.key, `${what}.key`);
    const value = optionalText(entry.value, `${what}.value`);
    const embedding = entry.embedding == null ? null : vectorLiteral(entry.embedding, this.dimensions, `${what}.embedding`);
    return [namespace, key, value, embedding, jsonObject(entry.metadata, `${what}.metadata`), tagList(entry.tags), expiry(entry.expiresAt, entry.ttlSeconds)];
  }

  /** Stores a new entry; AlreadyExistsError when its (namespace, key) exists. */
  async store(entry: NewMemory): Promise<Memory> {
    const values = this.row(entry);
    const result = await this.db.query(
      `INSERT INTO memory_entries (namespace, key, value, embedding, metadata, tags, expires_at)
       VALUES ($1, $2, $3, $4::vector, $5::jsonb, $6::text[], $7) RETURNING ${COLUMNS}`,
      values,
      { idempotent: false, namespace: values[0] as string },
    );
    return toMemory(result.rows[0]!);
  }

  /** Stores the entry, replacing the one with its (namespace, key) if there is one. */
  async upsert(entry: NewMemory): Promise<Memory> {
    const values = this.row(entry);
    const result = await this.db.query(
      `INSERT INTO memory_entries (namespace, key, value, embedding, metadata, tags, expires_at)
       VALUES ($1, $2, $3, $4::vector, $5::jsonb, $6::text[], $7)
       ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value, embedding = EXCLUDED.embedding, metadata = EXCLUDED.metadata,
         tags = EXCLUDED.tags, expires_at = EXCLUDED.expires_at, updated_at = now()
       RETURNING ${COLUMNS}`,
      values,
      { idempotent: true, namespace: values[0] as string },
    );
    return toMemory(result.rows[0]!);
  }

  /** The entry, or null when there is none (or it expired). */
  async get(namespace: string, key: string, options: { withEmbedding?: boolean } = {}): Promise<Memory | null> {
    const ns = this.policy.check(namespace);
    const result = await this.db.query(
      `SELECT ${COLUMNS}${options.withEmbedding ? ', embedding::text AS embedding' : ''} FROM memory_entries WHERE namespace = $1 AND key = $2 AND ${LIVE}`,
      [ns, requireText(key, 'key')],
      { namespace: ns },
    );
    return result.rows[0] ? toMemory(result.rows[0]) : null;
  }

  /** The entry; NotFoundError when there is none. */
  async require(namespace: string, key: string, options: { withEmbedding?: boolean } = {}): Promise<Memory> {
    const found = await this.get(namespace, key, options);
    if (!found) throw new NotFoundError(`no memory ${JSON.stringify(key)} in namespace ${JSON.stringify(namespace)}`);
    return found;
  }

  /** Changes the fields given; NotFoundError when the entry does not exist. */
  async update(namespace: string, key: string, patch: MemoryPatch): Promise<Memory> {
    const ns = this.policy.check(namespace);
    requireText(key, 'key');
    if (patch === null || typeof patch !== 'object') throw new ValidationError('patch must be an object');
    const sets: string[] = [];
    const values: unknown[] = [ns, key];
    const set = (column: string, value: unknown, cast = '') => {
      values.push(value);
      sets.push(`${column} = $${values.length}${cast}`);
    };
    if ('value' in patch) set('value', optionalText(patch.value, 'patch.value'));
    if ('embedding' in patch) set('embedding', patch.embedding == null ? null : vectorLiteral(patch.embedding, this.dimensions, 'patch.embedding'), '::vector');
    if ('metadata' in patch) set('metadata', jsonObject(patch.metadata, 'patch.metadata'), '::jsonb');
    if ('tags' in patch) set('tags', tagList(patch.tags), '::text[]');
    if ('expiresAt' in patch || 'ttlSeconds' in patch) set('expires_at', expiry(patch.expiresAt, patch.ttlSeconds));
    if (sets.length === 0) throw new ValidationError('patch changes nothing: give value, embedding, metadata, tags, expiresAt or ttlSeconds');
    const result = await this.db.query(
      `UPDATE memory_entries SET ${sets.join(', ')}, updated_at = now() WHERE namespace = $1 AND key = $2 AND ${LIVE} RETURNING ${COLUMNS}`,
      values,
      { idempotent: true, namespace: ns },
    );
    if (!result.rows[0]) throw new NotFoundError(`no memory ${JSON.stringify(key)} in namespace ${JSON.stringify(namespace)}`);
    return toMemory(result.rows[0]);
  }

  /** Deletes the entry; false when there was none. */
  async delete(namespace: string, key: string): Promise<boolean> {
    const ns = this.policy.check(namespace);
    const result = await this.db.query('DELETE FROM memory_entries WHERE namespace = $1 AND key = $2', [ns, requireText(key, 'key')], { idempotent: true, namespace: ns });
    return (result.rowCount ?? 0) > 0;
  }

  /** One page of a namespace's entries in key order. */
  async list(namespace: string, options: ListOptions = {}): Promise<Page<Memory>> {
    const ns = this.policy.check(namespace);
    const limit = integerIn(options.limit ?? 100, 'limit', 1, 10_000);
    const values: unknown[] = [ns, limit + 1];
    const where = [`namespace = $1`, LIVE];
    if (options.prefix !== undefined) {
      values.push(requireText(options.prefix, 'prefix').replace(/[\\%_]/g, '\\$&') + '%');
      where.push(`key LIKE $${values.length}`);
    }
    if (options.tag !== undefined) {
      values.push(requireText(options.tag, 'tag'));
      where.push(`$${values.length} = ANY (tags)`);
    }
    if (options.after != null) {
      values.push(requireText(options.after, 'after'));
      where.push(`key > $${values.length}`);
    }
    const result = await this.db.query(
      `SELECT ${COLUMNS}${options.withEmbedding ? ', embedding::text AS embedding' : ''} FROM memory_entries WHERE ${where.join(' AND ')} ORDER BY key LIMIT $2`,
      values,
      { namespace: ns },
    );
    const items = result.rows.slice(0, limit).map(toMemory);
    return { items, next: result.rows.length > limit ? items.at(-1)!.key : null };
  }

  /** Every entry of a namespace, a page at a time: large namespaces never sit in memory whole. */
  async *stream(namespace: string, options: Omit<ListOptions, 'limit' | 'after'> & { batchSize?: number } = {}): AsyncGenerator<Memory> {
    let after: string | null = null;
    do {
      const page: Page<Memory> = await this.list(namespace, { ...options, limit: options.batchSize ?? 1000, after });
      yield* page.items;
      after = page.next;
    } while (after !== null);
  }

  /** Live entries of a namespace. */
  async count(namespace: string): Promise<number> {
    const ns = this.policy.check(namespace);
    const result = await this.db.query(`SELECT count(*)::int AS n FROM memory_entries WHERE namespace = $1 AND ${LIVE}`, [ns], { namespace: ns });
    return result.rows[0]!.n as number;
  }

  /** Deletes expired entries (of one namespace, or of all); returns how many. */
  async purgeExpired(namespace?: string): Promise<number> {
    if (namespace === undefined) return (await this.db.query('DELETE FROM memory_entries WHERE expires_at <= now()', [])).rowCount ?? 0;
    const ns = this.policy.check(namespace);
    return (await this.db.query('DELETE FROM memory_entries WHERE namespace = $1 AND expires_at <= now()', [ns], { namespace: ns })).rowCount ?? 0;
  }

  /**
   * Many entries in multi-row INSERTs of `chunkSize` rows, every row validated before the
   * first is sent. Each chunk is one statement (all of it or none of it is stored);
   * returns the rows written (with onConflict 'skip', the existing ones are not counted).
   */
  async storeMany(entries: readonly NewMemory[], options: BatchOptions = {}): Promise<number> {
    if (!Array.isArray(entries)) throw new ValidationError('entries must be an array');
    const chunkSize = integerIn(options.chunkSize ?? 500, 'chunkSize', 1, 5000);
    const onConflict = options.onConflict ?? 'error';
    if (!['error', 'update', 'skip'].includes(onConflict)) throw new ValidationError(`onConflict must be 'error', 'update' or 'skip', got ${JSON.stringify(onConflict)}`);
    const rows = entries.map((entry, i) => this.row(entry, `entries[${i}]`));
    // One row per (namespace, key) in a statement: ON CONFLICT DO UPDATE cannot touch a row twice.
    const seen = new Map<string, number>();
    rows.forEach((row, i) => {
      const id = `${row[0]}\u0000${row[1]}`;
      if (seen.has(id)) throw new ValidationError(`entries[${i}] has the namespace and key of entries[${seen.get(id)}] (${JSON.stringify(row[1])})`);
      seen.set(id, i);
    });
    const conflict =
      onConflict === 'update'
        ? `ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value, embedding = EXCLUDED.embedding, metadata = EXCLUDED.metadata, tags = EXCLUDED.tags, expires_at = EXCLUDED.expires_at, updated_at = now()`
        : onConflict === 'skip'
          ? 'ON CONFLICT (namespace, key) DO NOTHING'
          : '';
    let written = 0;
    for (let start = 0; start < rows.length; start += chunkSize) {
      const chunk = rows.slice(start, start + chunkSize);
      const tuples = chunk.map((_, r) => {
        const p = r * 7;
        return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}::vector, $${p + 5}::jsonb, $${p + 6}::text[], $${p + 7}::timestamptz)`;
      });
      const result = await this.db.query(
        `INSERT INTO memory_entries (namespace, key, value, embedding, metadata, tags, expires_at) VALUES ${tuples.join(', ')} ${conflict}`,
        chunk.flat(),
        { idempotent: onConflict !== 'error' },
      );
      written += result.rowCount ?? 0;
      options.onProgress?.(written, rows.length);
    }
    return written;
  }

  private searchLimit(options: SearchOptions): { embedding: string; limit: number; threshold: number | null } {
    if (options === null || typeof options !== 'object') throw new ValidationError('search options must be an object');
    return {
      embedding: vectorLiteral(options.embedding, this.dimensions),
      limit: integerIn(options.limit ?? 10, 'limit', 1, 1000),
      threshold: options.minSimilarity == null ? null : numberIn(options.minSimilarity, 'minSimilarity', -1, 1),
    };
  }

  /**
   * The seed's distributed_vector_search: the entries of one namespace nearest to the
   * embedding by cosine distance (the coordinator routes it to the namespace's shard and
   * its own HNSW index when it has one), at least minSimilarity (default 0.7) similar.
   */
  async search(namespace: string, options: SearchOptions): Promise<SearchHit[]> {
    const ns = this.policy.check(namespace);
    return this.nearest([ns], { minSimilarity: 0.7, ...options }, false);
  }

  /**
   * The seed's cross_namespace_vector_search: nearest entries over several namespaces
   * (shards); the coordinator asks each for more candidates, merges and cuts to `limit`.
   */
  async searchAcross(namespaces: readonly string[], options: SearchOptions): Promise<SearchHit[]> {
    if (!Array.isArray(namespaces) || namespaces.length === 0) throw new ValidationError('namespaces must be a non-empty array');
    return this.nearest([...new Set(namespaces.map((n, i) => this.policy.check(n, `namespaces[${i}]`)))], options, false);
  }

  /**
   * The seed's DistributedVectorRetriever: coarse retrieval of limit x candidateFactor
   * candidates (default 3) through the HNSW indexes, then an exact cosine re-rank of
   * their stored vectors here, cut to `limit`.
   */
  async retrieve(namespaces: string | readonly string[], options: SearchOptions & { candidateFactor?: number }): Promise<RetrievedHit[]> {
    const list = typeof namespaces === 'string' ? [namespaces] : namespaces;
    if (!Array.isArray(list) || list.length === 0) throw new ValidationError('namespaces must be a namespace or a non-empty array of them');
    const checked = [...new Set(list.map((n, i) => this.policy.check(n, `namespaces[${i}]`)))];
    const factor = numberIn(options.candidateFactor ?? 3, 'candidateFactor', 1, 100);
    const { limit } = this.searchLimit(options);
    const candidates = await this.nearest(checked, { ...options, limit: Math.min(1000, Math.ceil(limit * factor)) }, true);
    const query = Array.from(options.embedding);
    return candidates
      .map((hit) => ({ ...hit, exactSimilarity: cosineSimilarity(query, hit.embedding ?? []) }))
      .sort((a, b) => b.exactSimilarity - a.exactSimilarity)
      .slice(0, limit);
  }

  private async nearest(namespaces: string[], options: SearchOptions, withEmbedding: boolean): Promise<SearchHit[]> {
    const { embedding, limit, threshold } = this.searchLimit(options);
    const run = async (wanted: number, filterExpired: boolean) => {
      const values: unknown[] = [embedding, namespaces.length === 1 ? namespaces[0] : namespaces, wanted];
      const where = [namespaces.length === 1 ? 'namespace = $2' : 'namespace = ANY ($2::text[])', 'embedding IS NOT NULL'];
      if (threshold !== null) {
        values.push(threshold);
        where.push(`1 - (embedding <=> $1::vector) >= $4`);
      }
      if (filterExpired) where.push(LIVE);
      const result = await this.db.query(
        `SELECT ${COLUMNS}, 1 - (embedding <=> $1::vector) AS similarity${withEmbedding ? ', embedding::text AS embedding' : ''}
         FROM memory_entries WHERE ${where.join(' AND ')} ORDER BY embedding <=> $1::vector LIMIT $3`,
        values,
        { namespace: namespaces[0] },
      );
      return result.rows.map((row) => ({ ...toMemory(row), similarity: Number(row.similarity) }));
    };
    if (options.includeExpired) return run(limit, false);
    // Without an expiry condition the coordinator can use a namespace's HNSW index (any
    // other condition makes the search exact): ask for twice as many, drop the expired
    // ones here, and only if that leaves too few while more were there ask again exactly.
    const now = Date.now();
    const wanted = Math.min(1000, limit * 2);
    const hits = await run(wanted, false);
    const live = hits.filter((h) => h.expiresAt === null || h.expiresAt.getTime() > now);
    if (live.length >= limit || hits.length < wanted) return live.slice(0, limit);
    return run(limit, true);
  }
}
