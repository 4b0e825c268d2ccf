import { randomBytes } from 'node:crypto';
import type { BackendConnection } from '../backend/backend-connection.ts';
import type { GroupPool } from '../backend/pool.ts';
import { discardSessionStateSql, ServerError } from '../backend/backend-connection.ts';
import type { ExecutorHost } from './host.ts';
import { ClientError, SqlState } from '../shared/errors.ts';
import { metrics } from '../metrics/metrics.ts';
import { failureKind, OutcomeUnknownError } from '../backend/failover.ts';
import type { Durability } from '../topology/snapshot.ts';

/** synchronous_commit for a commit that wrote tables of this class: only critical tables wait for a standby. */
function synchronousCommitFor(durability: Durability): 'on' | 'local' {
  return durability === 'critical' ? 'on' : 'local';
}

/**
 * The coordinator's own connection to the control group as a participant of a client's
 * transaction: dpg_catalog changes of DDL (create_distributed_table, DROP TABLE) commit
 * with the client's statements (two-phase commit), yet the client's role has no write on
 * dpg_catalog. It never takes the session's settings (a search_path of the client's
 * choosing must not resolve the coordinator's SQL to the client's functions).
 */
export const CATALOG_PARTICIPANT = -1;

/** The group a participant's connection goes to. */
export function participantGroup(participant: number): number {
  return participant === CATALOG_PARTICIPANT ? 0 : participant;
}

/** A prepared part's gid: `<transaction gid>_g<group>`, `_gc` for the catalog participant (recovery.ts reads it). */
function partGid(base: string, participant: number): string {
  return `${base}_g${participant === CATALOG_PARTICIPANT ? 'c' : participant}`;
}

/**
 * The worker connections one client session uses, and its transaction across them.
 *
 * Outside a transaction block each statement takes connections from the pools and
 * gives them back when it ends. Inside a block (BEGIN ... COMMIT) a connection, once
 * taken for a group, stays with the session, and BEGIN reaches a group only when the
 * block first touches it. COMMIT of a block that wrote to one group is a plain
 * COMMIT there; several groups commit with two-phase commit: PREPARE TRANSACTION on
 * each, a commit record in the control group, then COMMIT PREPARED. The recovery loop
 * (executor/recovery.ts) finishes what a crash interrupts, by that record.
 */
export class SessionTransaction {
  /** 'I' idle, 'T' in a block, 'E' in a failed block (what ReadyForQuery reports). */
  status: 'I' | 'T' | 'E' = 'I';
  private beginSql = 'BEGIN';
  private readonly held = new Map<number, BackendConnection>();
  private readonly begun = new Set<number>();
  private readonly written = new Set<number>();
  /** Session-level SET statements, in order; applied to every connection the session takes. */
  private readonly settings = new Map<string, string>();
  private settingsKey = '';
  /** SET LOCAL statements of the current block, applied to connections it takes later. */
  private localSettings: string[] = [];
  private statementConnections: { groupId: number; connection: BackendConnection; pool: GroupPool }[] = [];
  /** The statement now running is a read a standby may answer (set by the executor; reset when it ends). */
  statementReplicaOk = false;
  /** Set while a read runs again after a standby refused it (25006: it calls a function that writes). */
  forcePrimary = false;
  /** Groups the statement now running writes outside a block. */
  private readonly statementWrites = new Set<number>();
  /** Date.now() after this session's last write to each group (read-your-writes on standbys). */
  private readonly lastWriteAt = new Map<number, number>();
  /** Connections running a statement right now (for CancelRequest). */
  readonly busy = new Set<BackendConnection>();
  /**
   * Durability class of the table the statement now running writes (set by the
   * executor before it takes connections; back to critical when the statement ends).
   */
  statementDurability: Durability = 'critical';
  /**
   * The reference epoch (catalog dpg_catalog.reference_epoch) of the transaction's first
   * write to a reference table, routed to the groups of that epoch; null: none written.
   * The commit goes through only if the epoch is still that one.
   */
  referenceEpoch: number | null = null;
  /** In a block: the strongest durability class written on each group (its COMMIT waits accordingly). */
  private readonly groupDurability = new Map<number, Durability>();

  /**
   * `sessionId`: the client session's id (its process id), the owner of the pool
   * connections it takes; `role`: the client's role, which its statements run as on the
   * nodes (undefined: the coordinator's own role, for tools and tests).
   */
  constructor(
    private readonly coordinator: ExecutorHost,
    private readonly sessionId = 1,
    readonly role?: string,
  ) {}

  private poolOf(participant: number): GroupPool {
    return participant === CATALOG_PARTICIPANT ? this.coordinator.pool(0) : this.coordinator.pool(participant, this.role);
  }

  /** The session's settings, as part of a cached result's key (DateStyle, TimeZone, ... shape results). */
  get settingsFingerprint(): string {
    return this.settingsKey;
  }

  get inBlock(): boolean {
    return this.status !== 'I';
  }

  /** The connection for a group, for the statement now running (held for the block when in one). */
  async connection(groupId: number, options: { write?: boolean; durability?: Durability } = {}): Promise<BackendConnection> {
    // A read outside a block may go to a standby (config query_router), one that has
    // replayed this session's last write to the group.
    const catalog = groupId === CATALOG_PARTICIPANT;
    const replica =
      !catalog && !options.write && !this.inBlock && this.statementReplicaOk && !this.forcePrimary ? this.coordinator.replicas?.pick(groupId, this.lastWriteAt.get(groupId) ?? 0, this.role) ?? null : null;
    const pool = replica?.pool ?? this.poolOf(groupId);
    // A statement connection of this group (and pool) that finished its work is reused: a
    // pipelined batch of statements takes one connection per group, not one per statement.
    // In a block only a connection that began it is used: one taken by the statement before it
    // turned into a block (atomically) would run the rest outside the transaction.
    let connection = this.held.get(groupId) ?? (this.inBlock ? undefined : this.statementConnections.find((s) => s.groupId === groupId && s.pool === pool && !this.busy.has(s.connection))?.connection);
    // An earlier statement's stream may have been abandoned mid-answer (an error on another shard).
    if (connection) await connection.settle();
    if (!connection) {
      try {
        connection = await pool.acquire(catalog ? undefined : this.sessionId);
      } catch (error) {
        if (!replica) throw error;
        // A standby that cannot be reached: the primary answers, and the standby waits until it has caught up again.
        this.coordinator.replicas?.failed(replica.node);
        return this.connection(groupId, options);
      }
      try {
        if (catalog) {
          if (this.inBlock) await connection.simpleQuery('BEGIN');
          if (this.inBlock) this.begun.add(groupId);
        } else await this.applySettings(connection);
        if (this.inBlock && !catalog) {
          // A block commits with the server's synchronous_commit unless it wrote only audit or
          // ephemeral tables (commitSql): undo what an earlier autocommit write set here.
          const reset = connection.synchronousCommit === 'local' ? ['SET synchronous_commit = on'] : [];
          await connection.simpleQuery([...reset, this.beginSql, ...this.localSettings].join('; '));
          if (reset.length > 0) connection.synchronousCommit = 'on';
          this.begun.add(groupId);
        }
      } catch (error) {
        pool.release(connection);
        throw error;
      }
      if (this.inBlock) this.held.set(groupId, connection);
      else this.statementConnections.push({ groupId, connection, pool });
    }
    if (options.write) {
      this.written.add(groupId);
      const durability = options.durability ?? this.statementDurability;
      if (this.inBlock) {
        // A critical write anywhere in the block makes the group's COMMIT wait for its standby.
        const before = this.groupDurability.get(groupId);
        this.groupDurability.set(groupId, before === 'critical' || durability === 'critical' ? 'critical' : durability);
      } else if (!catalog) {
        this.statementWrites.add(groupId);
        await this.useSynchronousCommit(connection, synchronousCommitFor(durability));
      }
    }
    return connection;
  }

  /** True when the session chose its own synchronous_commit (SET, SET LOCAL, startup options): dpg leaves it alone. */
  private get ownSynchronousCommit(): boolean {
    return this.settings.has('synchronous_commit') || this.localSettings.some((sql) => /synchronous_commit/i.test(sql));
  }

  /**
   * Outside a block each write commits on its own: the connection's synchronous_commit
   * is set to what the table needs ('on': wait for the synchronous standby; 'local':
   * do not), only when it changes.
   */
  private async useSynchronousCommit(connection: BackendConnection, value: 'on' | 'local'): Promise<void> {
    if (this.ownSynchronousCommit || (connection.synchronousCommit ?? 'on') === value) return;
    await connection.simpleQuery(`SET synchronous_commit = ${value}`);
    connection.synchronousCommit = value;
  }

  /** Ends a statement: outside a block its connections go back to their pools. */
  endStatement(): void {
    this.statementDurability = 'critical';
    this.statementReplicaOk = false;
    // Read-your-writes: later reads of these groups go to a standby only once it has replayed past now.
    for (const groupId of this.statementWrites) this.lastWriteAt.set(groupId, Date.now());
    this.statementWrites.clear();
    for (const { connection, pool } of this.statementConnections) {
      this.busy.delete(connection);
      if (connection.transactionStatus !== 'I' && !connection.broken) {
        // A statement left a transaction open (should not happen): do not hand it to another session.
        connection.destroy();
      }
      pool.release(connection);
    }
    this.statementConnections = [];
  }

  private async applySettings(connection: BackendConnection): Promise<void> {
    const discard = connection.discardPending;
    if (!discard && connection.settingsKey === this.settingsKey) return;
    // A connection another session used: all its session state goes (settings included).
    const statements = [discard ? discardSessionStateSql(connection) : 'RESET ALL', ...this.settings.values()];
    connection.efSearch = null;
    connection.synchronousCommit = null;
    await connection.simpleQuery(statements.join('; '));
    if (discard) connection.discarded();
    connection.settingsKey = this.settingsKey;
  }

  /**
   * hnsw.ef_search for a vector search the coordinator routes to an HNSW index, unless
   * the session chose its own (SET or SET LOCAL hnsw.ef_search). Outside a block it is
   * set on the connection and remembered there (most searches then need no SET);
   * inside one it is SET LOCAL, gone with the block.
   */
  async useEfSearch(connection: BackendConnection, value: number): Promise<void> {
    if (this.settings.has('hnsw.ef_search') || this.localSettings.some((sql) => /hnsw\.ef_search/i.test(sql))) return;
    if (this.inBlock) {
      if (connection.localEfSearch === value) return;
      await connection.simpleQuery(`SET LOCAL hnsw.ef_search = ${value}`);
      connection.localEfSearch = value;
      return;
    }
    if (connection.efSearch === value) return;
    await connection.simpleQuery(`SET hnsw.ef_search = ${value}`);
    connection.efSearch = value;
  }

  /** A session's own SET ran on this connection: whoever takes it next applies their settings anew. */
  static settingsChanged(connection: BackendConnection): void {
    connection.settingsKey = '\u0000changed';
    connection.efSearch = null;
    connection.synchronousCommit = null;
  }

  /** Records a session-level SET/RESET; the caller has validated it on a connection already. */
  recordSetting(name: string | null, sql: string, reset: boolean): void {
    if (name === null) this.settings.clear();
    else if (reset) this.settings.delete(name);
    else {
      this.settings.delete(name);
      this.settings.set(name, sql);
    }
    this.settingsKey = [...this.settings.values()].join(';');
  }

  /** The value a SET (session-level, or SET LOCAL in this block: the latest) gave `name`; null when none did. */
  settingValue(name: string): string | null {
    const statements = [this.settings.get(name), ...this.localSettings.filter((sql) => sql.toLowerCase().includes(name))].filter((sql): sql is string => !!sql);
    const last = statements.at(-1);
    if (!last) return null;
    if (/^\s*RESET\b|\bTO\s+DEFAULT\b|=\s*DEFAULT\b/i.test(last)) return null;
    const viaFunction = /set_config\('[^']*',\s*'((?:[^']|'')*)'/i.exec(last);
    if (viaFunction) return viaFunction[1]!.replace(/''/g, "'");
    return /(?:=|\bTO\b)\s*'?([^';]*)'?\s*;?\s*$/i.exec(last)?.[1]?.trim() ?? null;
  }

  recordLocalSetting(sql: string): void {
    this.localSettings.push(sql);
  }

  /** Connections this session holds now (block connections and the current statement's). */
  connections(): BackendConnection[] {
    return [...this.held.values(), ...this.statementConnections.map((s) => s.connection)];
  }

  begin(sql: string): void {
    this.status = 'T';
    this.beginSql = sql;
  }

  fail(): void {
    if (this.inBlock) this.status = 'E';
  }

  async commit(): Promise<string> {
    if (this.status === 'E') {
      await this.rollback();
      return 'ROLLBACK';
    }
    const groups = [...this.begun];
    const writers = groups.filter((g) => this.written.has(g));
    if (this.referenceEpoch !== null && writers.length === 1) {
      // Two-phase commits check the epoch with their commit record; here it is checked while
      // the write's locks are held, so a placement change cannot slip in between.
      try {
        await this.coordinator.checkReferenceEpoch(this.referenceEpoch);
      } catch (error) {
        await this.rollback();
        throw error;
      }
    }
    try {
      if (writers.length <= 1) {
        await Promise.all(
          groups.map((g) =>
            this.held.get(g)!.simpleQuery(this.commitSql(g)).catch((error) => {
              if (failureKind(error) === 'other') throw error;
              // A group that only read has nothing to lose; the writer's COMMIT may have happened or not.
              if (writers.includes(g)) throw new OutcomeUnknownError('COMMIT', error);
            }),
          ),
        );
      } else {
        await this.twoPhaseCommit(groups, writers);
      }
    } finally {
      this.finishBlock();
    }
    return 'COMMIT';
  }

  /** COMMIT of a block on one group: without waiting for a standby when it wrote only audit or ephemeral tables. */
  private commitSql(groupId: number): string {
    const durability = this.groupDurability.get(groupId);
    if (!durability || durability === 'critical' || this.ownSynchronousCommit) return 'COMMIT';
    return `SET LOCAL synchronous_commit = ${synchronousCommitFor(durability)}; COMMIT`;
  }

  private async twoPhaseCommit(groups: number[], writers: number[]): Promise<void> {
    const readers = groups.filter((g) => !writers.includes(g));
    await Promise.all(readers.map((g) => this.held.get(g)!.simpleQuery('COMMIT').catch(() => {})));
    const base = `dpg_${Date.now().toString(36)}_${randomBytes(6).toString('hex')}`;
    const gids = new Map(writers.map((g) => [g, partGid(base, g)]));
    const prepared: number[] = [];
    this.injectFault('crash-before-prepare');
    try {
      await Promise.all(
        writers.map(async (g) => {
          await this.held.get(g)!.simpleQuery(`PREPARE TRANSACTION '${gids.get(g)}'`);
          prepared.push(g);
          if (prepared.length === 1) this.injectFault('crash-after-first-prepare');
        }),
      );
    } catch (error) {
      metrics()?.twoPhaseCommits.inc({ outcome: 'failed' });
      await Promise.all(prepared.map((g) => this.held.get(g)!.simpleQuery(`ROLLBACK PREPARED '${gids.get(g)}'`).catch(() => {})));
      await Promise.all(writers.filter((g) => !prepared.includes(g)).map((g) => this.held.get(g)!.simpleQuery('ROLLBACK').catch(() => {})));
      throw error;
    }
    this.injectFault('crash-after-prepare');
    // The decision: once this row is committed the transaction is committed, whatever happens next.
    try {
      await this.injectDelay('delay-before-commit-record', 5000);
      // The control group restarting or failing over (no connection made): the prepared parts
      // hold their locks while the coordinator waits for it, as long as a failover takes.
      const deadline = Date.now() + this.coordinator.failoverWaitMs;
      for (;;) {
        try {
          await this.coordinator.recordCommitDecision(base, this.referenceEpoch);
          break;
        } catch (error) {
          if (failureKind(error) !== 'not-sent' || Date.now() >= deadline) throw error;
          await this.coordinator.leaderChange(Math.min(250, Math.max(0, deadline - Date.now())));
        }
      }
    } catch (error) {
      metrics()?.twoPhaseCommits.inc({ outcome: 'failed' });
      // The record may have been written before the control group's connection broke:
      // the recovery loop commits the prepared parts if it was, rolls them back if not.
      if (failureKind(error) === 'lost') throw new OutcomeUnknownError('COMMIT of a transaction over several worker groups', error);
      await Promise.all(writers.map((g) => this.held.get(g)!.simpleQuery(`ROLLBACK PREPARED '${gids.get(g)}'`).catch(() => {})));
      throw error;
    }
    this.injectFault('crash-after-commit-record');
    const failures: unknown[] = [];
    let committed = 0;
    await Promise.all(
      writers.map((g) =>
        this.held
          .get(g)!
          .simpleQuery(`COMMIT PREPARED '${gids.get(g)}'`)
          .then(() => {
            if (++committed === 1) this.injectFault('crash-after-first-commit-prepared');
          })
          .catch((e) => failures.push(e)),
      ),
    );
    metrics()?.twoPhaseCommits.inc({ outcome: 'committed' });
    if (failures.length === 0) void this.coordinator.forgetCommitDecision(base);
    // A failed COMMIT PREPARED is retried by the recovery loop; the transaction is committed.
  }

  /**
   * Fault injection for the two-phase commit tests: with DPG_FAULT_INJECTION=1 in the
   * coordinator's environment, `SET dpg.fault_injection = '<point>'` makes the
   * coordinator die (SIGKILL, no cleanup) at that point of a distributed commit.
   */
  /** Fault injection, as injectFault: `SET dpg.fault_injection = '<point>'` makes the commit wait here. */
  private async injectDelay(point: string, ms: number): Promise<void> {
    if (process.env.DPG_FAULT_INJECTION !== '1') return;
    if ((this.settings.get('dpg.fault_injection') ?? '').includes(`'${point}'`)) await new Promise((resolve) => setTimeout(resolve, ms));
  }

  /**
   * Fault injection for the result-cache tests: with DPG_FAULT_INJECTION=1, true when the
   * session set `dpg.fault_injection` to a list naming `point` ('a b' or 'a,b').
   */
  faultPoint(point: string): boolean {
    if (process.env.DPG_FAULT_INJECTION !== '1') return false;
    const value = /'([^']*)'/.exec(this.settings.get('dpg.fault_injection') ?? '')?.[1] ?? '';
    return value.split(/[\s,]+/).includes(point);
  }

  private injectFault(point: string): void {
    if (process.env.DPG_FAULT_INJECTION !== '1') return;
    const setting = this.settings.get('dpg.fault_injection') ?? '';
    if (setting.includes(`'${point}'`)) process.kill(process.pid, 'SIGKILL');
  }

  async rollback(): Promise<void> {
    try {
      await Promise.all([...this.begun].map((g) => this.held.get(g)!.simpleQuery('ROLLBACK').catch(() => this.held.get(g)!.destroy())));
    } finally {
      this.finishBlock();
    }
  }

  /** A session-level SET ran on the block's connections (SET inside BEGIN ... COMMIT). */
  heldSettingsChanged(): void {
    for (const connection of this.held.values()) SessionTransaction.settingsChanged(connection);
  }

  private finishBlock(): void {
    this.referenceEpoch = null;
    for (const groupId of this.written) this.lastWriteAt.set(groupId, Date.now());
    for (const [groupId, connection] of this.held) {
      connection.localEfSearch = null;
      this.poolOf(groupId).release(connection);
    }
    this.held.clear();
    this.begun.clear();
    this.written.clear();
    this.groupDurability.clear();
    this.localSettings = [];
    this.status = 'I';
    this.beginSql = 'BEGIN';
  }

  /** Runs `sql` (SAVEPOINT, RELEASE, ROLLBACK TO) on every group the block has touched. */
  async onEveryBegunGroup(sql: string): Promise<void> {
    await Promise.all([...this.begun].map((g) => this.held.get(g)!.simpleQuery(sql)));
  }

  async close(): Promise<void> {
    if (this.inBlock) await this.rollback().catch(() => {});
    this.endStatement();
  }
}

/** A worker error inside a block fails the block, as PostgreSQL does. */
export function isServerError(error: unknown): error is ServerError {
  return error instanceof ServerError;
}

export function notInFailedBlock(transaction: SessionTransaction): void {
  if (transaction.status === 'E') {
    throw new ClientError(SqlState.inFailedTransaction, 'current transaction is aborted, commands ignored until end of transaction block');
  }
}
