import type { Embedding } from './vector.ts';

/** A memory entry (table memory_entries), as stored. */
export interface Memory {
  id: string;
  namespace: string;
  key: string;
  value: string | null;
  metadata: Record<string, unknown>;
  tags: string[];
  /** Present when asked for (withEmbedding) and the entry has one. */
  embedding?: number[] | null;
  createdAt: Date;
  updatedAt: Date;
  /** null: never expires. An expired entry is not returned by get, list or search. */
  expiresAt: Date | null;
}

export interface NewMemory {
  namespace: string;
  key: string;
  value?: string | null;
  embedding?: Embedding | null;
  metadata?: Record<string, unknown>;
  tags?: string[];
  /** When it expires; or ttlSeconds from now. Neither: never. */
  expiresAt?: Date | null;
  ttlSeconds?: number;
}

/** The fields an update changes (absent: unchanged). */
export type MemoryPatch = Partial<Omit<NewMemory, 'namespace' | 'key'>>;

export interface SearchHit extends Memory {
  /** 1 - cosine distance, as the server computed it. */
  similarity: number;
}

export interface RetrievedHit extends SearchHit {
  /** Exact cosine similarity computed by the SDK from the stored vector (the re-rank's key). */
  exactSimilarity: number;
}

export interface SearchOptions {
  embedding: Embedding;
  /** Rows wanted (1..1000, default 10). */
  limit?: number;
  /** Least similarity (1 - cosine distance) a hit must have; default: the seed's 0.7 for one namespace, none across namespaces. */
  minSimilarity?: number | null;
  /** Expired entries too (default false). */
  includeExpired?: boolean;
}

export interface ListOptions {
  /** Only keys starting with this. */
  prefix?: string;
  /** Only entries with this tag. */
  tag?: string;
  /** Page size (1..10000, default 100). */
  limit?: number;
  /** The `next` of the previous page. */
  after?: string | null;
  withEmbedding?: boolean;
}

export interface Page<T> {
  items: T[];
  /** Pass as `after` for the next page; null on the last page. */
  next: string | null;
}

export interface BatchOptions {
  /** What an existing (namespace, key) does: 'error' (default: AlreadyExistsError, nothing of that chunk stored), 'update' (upsert), 'skip'. */
  onConflict?: 'error' | 'update' | 'skip';
  /** Rows per INSERT statement (default 500). */
  chunkSize?: number;
  /** Called after each chunk with the rows written so far. */
  onProgress?: (written: number, total: number) => void;
}
