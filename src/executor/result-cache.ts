import { createHash, randomInt } from 'node:crypto';
import { Redis } from 'ioredis';
import type { ResultStream } from './result-stream.ts';
import { metrics } from '../metrics/metrics.ts';

/**
 * The seed's query-result cache (query_router.cache: Redis, TTL 300 s), optional.
 *
 * A result is stored under its statement, parameters, formats and session settings,
 * together with generation counters kept in Redis: one per table, one per (table,
 * namespace), one per table for "any namespace", and a global epoch. A write bumps
 * the counters of what it may have changed before its client hears it succeeded, so
 * every read that starts after the acknowledgement looks under a new key: no read
 * after an acknowledged write returns a result from before it. Old entries expire.
 *
 * The cache never fails a query: a lookup that errs or takes longer than 50 ms is a
 * miss. A write whose bump could not reach Redis leaves this coordinator not using the
 * cache until it has bumped the global epoch (invalidating everything). The epoch
 * starts at a random value, so a Redis that restarted empty never matches an entry a
 * read stored from before the restart.
 */
export interface CacheScope {
  /** Distributed tables and the namespaces the statement is restricted to (null: any namespace). */
  distributed: { table: string; namespaces: string[] | null }[];
  /** Reference tables (and distributed tables written without a known namespace): the whole table. */
  whole: string[];
}

/** What a write may have changed; `everything` for DDL. */
export type Invalidation = CacheScope | 'everything';

interface CachedResult {
  description: string | null;
  rows: string[];
  tag: string;
}

const EPOCH_KEY = 'dpg:epoch';
const MAX_CACHED_BYTES = 1024 * 1024;
const LOOKUP_TIMEOUT_MS = 50;
/** A write waits at most this long for its invalidation; past it the cache is bypassed until recovered. */
const INVALIDATE_TIMEOUT_MS = 200;

/** Reads generation counters (initialising the epoch) and the entry under the key they make, in one round trip. */
const LOOKUP_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[2]) end
local parts = {ARGV[1]}
for i = 1, #KEYS do parts[#parts + 1] = redis.call('GET', KEYS[i]) or '0' end
local key = table.concat(parts, ':')
return {key, redis.call('GET', key)}
`;

const BUMP_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
for i = 2, #KEYS do redis.call('INCR', KEYS[i]) end
return 1
`;

function generationKeys(scope: CacheScope, forWrite: boolean): string[] {
  const keys: string[] = [];
  for (const { table, namespaces } of scope.distributed) {
    if (namespaces === null) keys.push(forWrite ? `dpg:gen:${table}` : `dpg:gen:${table}:any`);
    else {
      for (const ns of namespaces) keys.push(`dpg:gen:${table}:ns:${ns}`);
      // A read of any namespace changes with every write to the table.
      if (forWrite) keys.push(`dpg:gen:${table}:any`);
    }
    if (!forWrite) keys.push(`dpg:gen:${table}`);
  }
  for (const table of scope.whole) keys.push(`dpg:gen:${table}`);
  return [...new Set(keys)].sort();
}

export class ResultCache {
  private readonly redis: Redis;
  /** A bump failed: no lookups or stores until the epoch has been bumped. */
  private suspect = false;
  private recovering: Promise<void> | null = null;
  /** Fault injection (invalidate's failForTest): Redis counts as unreachable from here until then. */
  private unreachableUntil = 0;

  constructor(
    url: string,
    private readonly ttlSeconds: number,
    private readonly log: (line: string) => void,
  ) {
    this.redis = new Redis(url, {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 1000,
      commandTimeout: 1000,
      retryStrategy: (times) => Math.min(100 * times, 2000),
    });
    this.redis.on('error', () => {
      // Reported through failed commands; reconnection is automatic.
    });
    this.redis.on('ready', () => {
      if (this.suspect) void this.recover();
    });
  }

  private initialEpoch(): string {
    return String(randomInt(1, 2 ** 47));
  }

  /** The key base of a read: everything the result depends on but the generations. */
  static statementKey(parts: unknown[]): string {
    return `dpg:result:${createHash('sha256').update(JSON.stringify(parts)).digest('base64url')}`;
  }

  /** A cached result, or a function that stores the result about to be produced (null: do not store). */
  async lookup(base: string, scope: CacheScope): Promise<{ hit: ResultStream } | { store: ((result: CachedResult) => void) | null }> {
    if (this.suspect || this.redis.status !== 'ready') {
      metrics()?.resultCache.inc({ result: 'bypass' });
      return { store: null };
    }
    const keys = [EPOCH_KEY, ...generationKeys(scope, false)];
    let answer: [string, string | null];
    try {
      answer = (await withTimeout(this.redis.eval(LOOKUP_SCRIPT, keys.length, ...keys, base, this.initialEpoch()), LOOKUP_TIMEOUT_MS)) as [string, string | null];
    } catch {
      metrics()?.resultCache.inc({ result: 'error' });
      return { store: null };
    }
    const [key, value] = answer;
    if (value !== null) {
      metrics()?.resultCache.inc({ result: 'hit' });
      return { hit: cachedStream(JSON.parse(value) as CachedResult) };
    }
    metrics()?.resultCache.inc({ result: 'miss' });
    return {
      store: (result) => {
        const text = JSON.stringify(result);
        if (text.length > MAX_CACHED_BYTES || this.suspect) return;
        this.redis.set(key, text, 'EX', this.ttlSeconds).catch(() => {});
      },
    };
  }

  /** Called after a write committed and before its client is told: what it changed is looked up under new keys. */
  /**
   * Bumps the generations of what a write changed. False when Redis could not be told:
   * this coordinator then bypasses the cache until it has bumped the epoch, and the
   * caller must make the other coordinators do the same (markSuspect) before the write
   * is acknowledged, or they could serve results from before it until their TTL.
   */
  async invalidate(what: Invalidation[], options: { failForTest?: boolean } = {}): Promise<boolean> {
    if (what.length === 0) return true;
    const keys = what.includes('everything')
      ? [EPOCH_KEY, EPOCH_KEY]
      : [EPOCH_KEY, ...new Set((what as CacheScope[]).flatMap((scope) => generationKeys(scope, true)))];
    try {
      if (this.suspect) throw new Error('the cache is recovering');
      if (options.failForTest) {
        // As if this coordinator could not reach Redis for a while (the others can).
        this.unreachableUntil = Date.now() + 3000;
        throw new Error('fault injection');
      }
      await withTimeout(this.redis.eval(BUMP_SCRIPT, keys.length, ...keys, this.initialEpoch()), INVALIDATE_TIMEOUT_MS);
      return true;
    } catch (error) {
      this.markSuspect(`invalidation failed (${(error as Error).message})`);
      return false;
    }
  }

  /** No lookups or stores here until the epoch has been bumped (which invalidates every entry). */
  markSuspect(why: string): void {
    if (!this.suspect) this.log(`result cache: ${why}; the cache is bypassed until its epoch is bumped`);
    this.suspect = true;
    void this.recover();
  }

  private recover(): Promise<void> {
    this.recovering ??= (async () => {
      while (this.suspect) {
        try {
          if (this.redis.status === 'ready' && Date.now() >= this.unreachableUntil) {
            await this.redis.incr(EPOCH_KEY);
            this.suspect = false;
            this.log('result cache: epoch bumped; the cache is in use again');
            break;
          }
        } catch {
          // try again
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })().finally(() => {
      this.recovering = null;
    });
    return this.recovering;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function cachedStream(result: CachedResult): ResultStream {
  const rows = result.rows.map((r) => Buffer.from(r, 'base64'));
  const description = result.description === null ? null : Buffer.from(result.description, 'base64');
  let next = 0;
  return {
    description: async () => description,
    nextRow: async () => rows[next++] ?? null,
    tag: () => result.tag,
    close: async () => {},
  };
}

/** Passes a stream through, keeping a copy of its rows; stores them once the stream ended complete. */
export function recordingStream(stream: ResultStream, store: (result: CachedResult) => void): ResultStream {
  const rows: string[] = [];
  let bytes = 0;
  let description: Buffer | null = null;
  let complete = false;
  let failed = false;
  return {
    description: async () => (description = await stream.description()),
    nextRow: async () => {
      try {
        const row = await stream.nextRow();
        if (row) {
          bytes += row.length;
          if (bytes <= MAX_CACHED_BYTES) rows.push(row.toString('base64'));
          else failed = true;
        } else complete = true;
        return row;
      } catch (error) {
        failed = true;
        throw error;
      }
    },
    tag: () => stream.tag(),
    close: async () => {
      // A client that executed without Describe never asked for the description: keep it anyway.
      if (complete && !failed && description === null) description = await stream.description().catch(() => null);
      await stream.close();
      if (complete && !failed) {
        store({ description: description === null ? null : description.toString('base64'), rows, tag: stream.tag() });
      }
    },
    get empty() {
      return stream.empty;
    },
  };
}
