import { BackendConnection, ConnectionLostError, discardSessionStateSql, FRESH_CONNECTION, INTERNAL_OWNER, type BackendTarget } from './backend-connection.ts';

export interface PoolOptions {
  minSize: number;
  maxSize: number;
  /** A connection is replaced after this many statements (the seed's max_queries). */
  maxQueries: number;
  /** Idle connections beyond minSize close after this many seconds. */
  maxIdleSeconds: number;
  /** How long an acquire may wait for a free connection. */
  acquireTimeoutMs: number;
}

export class PoolTimeoutError extends Error {
  readonly sqlstate = '53300';
}

/**
 * Connections from the coordinator to one worker group's primary. Sessions take a
 * connection for one statement (or for a whole transaction block) and give it back.
 */
export class GroupPool {
  private readonly idle: BackendConnection[] = [];
  /** Every open connection of this pool, idle or in use. */
  private readonly all = new Set<BackendConnection>();
  private readonly waiters: { resolve: (c: BackendConnection) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  private opening = 0;
  private total = 0;
  private closed = false;
  /** Bumped when the group's primary changes: connections of an older generation are not reused. */
  private generation = 0;
  private readonly reaper: NodeJS.Timeout;

  constructor(
    readonly groupId: number,
    private readonly target: () => Promise<BackendTarget>,
    private readonly options: PoolOptions,
  ) {
    this.reaper = setInterval(() => this.closeIdle(), 10_000);
    this.reaper.unref();
  }

  get inUse(): number {
    return this.total - this.idle.length;
  }

  get idleCount(): number {
    return this.idle.length;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * A connection for `owner` (a client session's id, or INTERNAL_OWNER). A connection
   * another owner used last keeps that owner's session state on the node (settings
   * made by set_config() in a function, prepared statements, LISTEN, advisory locks,
   * temporary tables): it is reset as DISCARD ALL would before the new owner's first
   * statement, so nothing of one session reaches another. For a client session the
   * DISCARD goes with its settings (SessionTransaction.applySettings: one round trip);
   * for the coordinator's own work it runs here.
   */
  async acquire(owner = INTERNAL_OWNER): Promise<BackendConnection> {
    const connection = await this.take(owner);
    // The coordinator's own work leaves no session state behind: only a client session's is reset.
    if (connection.owner !== owner && connection.owner !== FRESH_CONNECTION && connection.owner !== INTERNAL_OWNER) connection.discardPending = true;
    connection.owner = owner;
    if (connection.discardPending && owner === INTERNAL_OWNER) {
      try {
        await connection.simpleQuery(discardSessionStateSql(connection));
        connection.discarded();
      } catch (error) {
        connection.destroy();
        this.release(connection);
        throw error;
      }
    }
    return connection;
  }

  /**
   * A client session ended: the idle connections it used last are reset now, in the
   * background, rather than at their next use, so that nothing it left on the node (an
   * advisory lock taken inside a function, a LISTEN) outlives it.
   */
  sessionEnded(owner: number): void {
    for (const connection of this.idle.filter((c) => c.owner === owner)) {
      this.idle.splice(this.idle.indexOf(connection), 1);
      connection.owner = INTERNAL_OWNER;
      connection.simpleQuery(discardSessionStateSql(connection)).then(
        () => {
          connection.discarded();
          // As clean as a new connection: its next owner need not discard again.
          connection.owner = FRESH_CONNECTION;
        },
        () => connection.destroy(),
      ).finally(() => this.release(connection));
    }
  }

  /**
   * An idle connection for `owner` that needs no reset: the one it used last (its session
   * state on the node is the owner's own: no DISCARD, no round trip) or a clean one.
   * Without this, sessions taking turns would each find another's connection and pay a
   * reset per statement.
   */
  private pickIdle(owner: number): BackendConnection | undefined {
    let clean = -1;
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const candidate = this.idle[i]!;
      if (candidate.owner === owner && owner !== INTERNAL_OWNER) return this.idle.splice(i, 1)[0];
      if (clean < 0 && (candidate.owner === FRESH_CONNECTION || candidate.owner === INTERNAL_OWNER)) clean = i;
    }
    return clean >= 0 ? this.idle.splice(clean, 1)[0] : undefined;
  }

  private async take(owner: number): Promise<BackendConnection> {
    if (this.closed) throw new ConnectionLostError(`the pool of group ${this.groupId} is closed`);
    for (;;) {
      // Its own or a clean connection; else a new one while the pool may grow (one
      // connection per active session, as long as max_size allows); else another
      // session's, reset before use (acquire).
      const connection = this.pickIdle(owner) ?? (this.total + this.opening < this.options.maxSize ? undefined : this.idle.pop());
      if (!connection) break;
      if (!connection.broken) return connection;
      this.total--;
      this.all.delete(connection);
    }
    if (this.total + this.opening < this.options.maxSize) return this.openConnection();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.findIndex((w) => w.timer === timer);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new PoolTimeoutError(`sorry, too many statements waiting: no connection to ${this.groupId === 0 ? 'the control group' : `worker group ${this.groupId}`} became free within ${this.options.acquireTimeoutMs} ms (all ${this.options.maxSize} of pools.worker_pool_per_shard.max_size are held, e.g. by sessions idle in a transaction; coordinator.pool_wait_timeout_seconds)`));
      }, this.options.acquireTimeoutMs);
      this.waiters.push({ resolve, reject, timer });
    });
  }

  private async openConnection(): Promise<BackendConnection> {
    this.opening++;
    try {
      const generation = this.generation;
      const connection = await BackendConnection.open(await this.target());
      connection.poolGeneration = generation;
      this.total++;
      this.all.add(connection);
      return connection;
    } finally {
      this.opening--;
    }
  }

  /** Runs `work` on one connection of this pool and gives it back, whatever happens. */
  async withConnection<T>(work: (connection: BackendConnection) => Promise<T>): Promise<T> {
    const connection = await this.acquire();
    try {
      return await work(connection);
    } finally {
      this.release(connection);
    }
  }

  /** withConnection for simple queries: `query(sql)` answers the rows as text. */
  run<T>(work: (query: (sql: string) => Promise<(string | null)[][]>) => Promise<T>): Promise<T> {
    return this.withConnection((connection) => work(async (sql) => (await connection.simpleQuery(sql)).rows));
  }

  /** Gives a connection back; a broken one, or one mid-transaction, is closed instead. */
  release(connection: BackendConnection): void {
    if (!connection.idle && !connection.broken) {
      // Answers to an abandoned request are still coming: read them first, so the
      // next user of this connection never sees them (or close it if they do not come).
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('settle timeout')), 10_000).unref());
      Promise.race([connection.settle(), timeout]).then(
        () => this.release(connection),
        () => {
          connection.destroy();
          this.release(connection);
        },
      );
      return;
    }
    connection.lastUsed = Date.now();
    connection.queriesRun++;
    const reusable =
      !connection.broken && connection.transactionStatus === 'I' && connection.queriesRun < this.options.maxQueries && !this.closed && connection.poolGeneration === this.generation;
    if (!reusable) {
      this.total--;
      this.all.delete(connection);
      void connection.close();
      // A waiter may now open a fresh connection in its place.
      const waiter = this.waiters.shift();
      if (waiter) {
        clearTimeout(waiter.timer);
        this.openConnection().then(waiter.resolve, waiter.reject);
      }
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(connection);
      return;
    }
    this.idle.push(connection);
  }

  /**
   * The group's primary changed: idle connections (to the old one) close now, those in
   * use close when they are given back, new ones go to the target's new answer.
   */
  retarget(): void {
    this.generation++;
    // Statements on the old primary fail now (a demoted or cut-off node may never answer):
    // reads run again on the new one, writes report an unknown outcome.
    for (const connection of this.all) if (connection.poolGeneration < this.generation && !this.idle.includes(connection)) connection.destroy();
    for (const connection of this.idle.splice(0)) {
      this.total--;
      this.all.delete(connection);
      void connection.close();
    }
  }

  private closeIdle(): void {
    const cutoff = Date.now() - this.options.maxIdleSeconds * 1000;
    while (this.idle.length > this.options.minSize && this.idle[0]!.lastUsed < cutoff) {
      const connection = this.idle.shift()!;
      this.total--;
      this.all.delete(connection);
      void connection.close();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.reaper);
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new ConnectionLostError('the coordinator is shutting down'));
    }
    await Promise.all(this.idle.splice(0).map((c) => c.close()));
    this.all.clear();
  }
}
