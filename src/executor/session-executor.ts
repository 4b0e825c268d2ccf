import { encodeCommandComplete, encodeErrorResponse, encodeNoticeResponse, encodeRowDescription, readyForQuery, NO_DATA, PORTAL_SUSPENDED, EMPTY_QUERY_RESPONSE } from '../protocol/backend.ts';
import { encodeFrontend, SYNC } from '../protocol/frontend.ts';
import { BackendCode } from '../protocol/message-codes.ts';
import { decodeBackend } from '../protocol/backend.ts';
import type { FrontendMessage } from '../protocol/frontend.ts';
import type { ExecutorHost, ExecutorSession } from './host.ts';
import { ClientError, SqlState, errorFields } from '../shared/errors.ts';
import type { PlannedStatement } from '../planner/plan-cache.ts';
import { withCurrentTables, type SessionConfigCall, type DistributedPlan, type Plan, type SessionSettingPlan, type TransactionPlan } from '../planner/plan.ts';
import { SessionTransaction } from './transaction.ts';
import { metrics } from '../metrics/metrics.ts';
import { LocalResultStream, PrefetchedStream, type ResultStream } from './result-stream.ts';
import { failureKind, OutcomeUnknownError, BlockLostError, shardMovedAway, ShardMovedError, PlacementsChangedError } from '../backend/failover.ts';
import { ServerError } from '../backend/backend-connection.ts';
import { runDdl, runDropIndex } from './run-ddl.ts';
import { runDistributionFunction } from './distribute.ts';
import { functionResultFields } from './function-results.ts';
import { CopyIn, CopyRelay, CopyOutStream, copyHeaderLine } from './copy.ts';
import { runControl, runDistributed, runInsert, runReferenceWrite, type Bindings, type ExecutionContext } from './run-plan.ts';
import { ResultCache, recordingStream, type Invalidation } from './result-cache.ts';
import { readScope, writeInvalidation } from './cache-scope.ts';
import { checkLexingSetting } from '../planner/lexing-settings.ts';
import { quoteLiteral } from '../shared/quoting.ts';

/** What Describe of a prepared statement answers: parameter and result types (client OIDs). */
export interface StatementDescription {
  parameterTypes: number[];
  /** RowDescription frame as the control group gives it (client OIDs), or null for NoData. */
  rowDescription: Buffer | null;
  columns: number;
}

/** What a portal of the extended protocol keeps of its statement's run between Executes. */
export interface PortalCursor {
  stream: ResultStream | null;
  /** An Execute with a row limit stopped short: later tags count only their own rows. */
  suspended: boolean;
  /** The command tag once the portal ran to completion (Execute again returns nothing more). */
  completedTag: string | null;
}

/** What the session's protocol handling (the frontend) is told of by the executor. */
export interface SessionProtocolHooks {
  /** A transaction block ends (COMMIT, ROLLBACK): the portals with an open result close first. */
  closeOpenPortals(): Promise<void>;
  /** A COPY FROM STDIN started by the extended protocol failed: report it and skip to Sync. */
  extendedFailed(error: unknown): void;
  /** The session ends: every portal closes (after the statements still running were cancelled). */
  closeAllPortals(): Promise<void>;
}

const SIMPLE: Bindings = { extended: false, params: [], paramFormats: [], paramTypes: [], resultFormats: [] };

const IDLE_IN_TRANSACTION_TIMEOUT = 'idle_in_transaction_session_timeout';

const STARTUP_KEYS_NOT_SETTINGS = new Set(['user', 'database', 'client_encoding', 'replication', 'options']);

/**
 * Runs one client session's statements: a simple query's, and those the extended
 * protocol (the frontend's ExtendedProtocol) runs in its portals; transactions, SET,
 * COPY, failover retries and the result cache, on top of the planner and the worker
 * connections.
 */
export class SessionExecutor {
  readonly transaction: SessionTransaction;
  /** Set by the frontend once its protocol handling exists. */
  hooks: SessionProtocolHooks = { closeOpenPortals: async () => {}, extendedFailed: (error) => this.writeError(error), closeAllPortals: async () => {} };
  /** A COPY FROM STDIN receiving data; `simple` when it came by the simple query protocol. */
  private copyIn: { copy: CopyIn | CopyRelay; simple: boolean; invalidation: Invalidation | null } | null = null;

  constructor(
    private readonly coordinator: ExecutorHost,
    private readonly session: ExecutorSession,
  ) {
    this.transaction = new SessionTransaction(coordinator, session.processId, session.user);
  }

  private get output() {
    return this.session.output;
  }

  /** Notices of node statements go to the client as they come. */
  private readonly onNotice = (frame: Buffer): void => this.output.write(frame);

  private context(bindings: Bindings): ExecutionContext {
    return { coordinator: this.coordinator, transaction: this.transaction, onNotice: this.onNotice, bindings };
  }

  /** Startup parameters other than user/database (application_name, DateStyle, options -c x=y) become session settings. */
  async applyStartupParameters(parameters: Record<string, string>): Promise<void> {
    const settings: [string, string][] = Object.entries(parameters).filter(([k]) => !STARTUP_KEYS_NOT_SETTINGS.has(k));
    const options = parameters.options ?? '';
    for (const match of options.matchAll(/(?:-c\s*|--)([A-Za-z0-9_.]+)=((?:\\.|[^\s\\])*)/g)) settings.push([match[1]!, match[2]!.replace(/\\(.)/g, '$1')]);
    for (const [name, value] of settings) {
      const key = name.toLowerCase();
      const lexing = checkLexingSetting(key, value);
      if (lexing) throw lexing;
      this.transaction.recordSetting(key, `SET ${quoteSettingName(key)} = '${value.replace(/'/g, "''")}'`, false);
    }
    if (settings.some(([name]) => name.toLowerCase() === IDLE_IN_TRANSACTION_TIMEOUT)) {
      try {
        await this.refreshIdleInTransactionTimeout();
      } finally {
        this.transaction.endStatement();
      }
    }
  }

  /**
   * idle_in_transaction_session_timeout as the session has it now, in ms (0: off). The
   * coordinator enforces it itself (ClientSession): a node only sees its own connection
   * idle, not the client. Read from the control group, which parses the units.
   */
  idleInTransactionTimeoutMs = 0;

  private async refreshIdleInTransactionTimeout(): Promise<void> {
    const connection = await this.transaction.connection(0);
    const { rows } = await connection.simpleQuery(`SELECT setting FROM pg_catalog.pg_settings WHERE name = '${IDLE_IN_TRANSACTION_TIMEOUT}'`);
    this.idleInTransactionTimeoutMs = Number(rows[0]?.[0] ?? 0);
  }

  // ---- simple query protocol -------------------------------------------------

  async simpleQuery(sql: string): Promise<void> {
    try {
      const planned = await this.plan(sql);
      if (planned.length === 0) this.output.write(EMPTY_QUERY_RESPONSE);
      for (const statement of planned) {
        // COPY FROM STDIN: the client now sends the data; ReadyForQuery comes after CopyDone.
        if ((await this.runStatement(statement, SIMPLE, { describe: true, maxRows: 0 }, null)) === 'copy-in') return;
      }
    } catch (error) {
      this.writeError(error, sql);
      this.transaction.fail();
    } finally {
      this.transaction.endStatement();
    }
    this.output.write(readyForQuery(this.transaction.status));
    this.output.flush();
  }

  plan(sql: string): Promise<PlannedStatement[]> {
    return this.coordinator.plans.planAsync(sql, this.coordinator.snapshot);
  }

  /**
   * Runs one statement and writes its result. `portal` is set for the extended
   * protocol: an unfinished result stays in it for the next Execute.
   */
  async runStatement(planned: PlannedStatement, bindings: Bindings, options: { describe: boolean; maxRows: number }, portal: PortalCursor | null): Promise<'done' | 'copy-in'> {
    const plan = planned.plan;
    if (this.transaction.status === 'E' && !(plan.kind === 'transaction' && (plan.action === 'commit' || plan.action === 'rollback' || plan.action === 'rollback-to'))) {
      throw new ClientError(SqlState.inFailedTransaction, 'current transaction is aborted, commands ignored until end of transaction block');
    }
    if ((plan.kind === 'copy' && plan.direction === 'in') || (plan.kind === 'control' && plan.copyIn)) {
      const ctx = this.context(bindings);
      const snapshot = this.coordinator.snapshot;
      const copy = plan.kind === 'copy' ? await CopyIn.start(ctx, withCurrentTables(plan, (table) => snapshot.tables.get(table.name) ?? table)) : await CopyRelay.start(ctx, plan.sql);
      this.copyIn = { copy, simple: !bindings.extended, invalidation: this.coordinator.resultCache ? writeInvalidation(plan, bindings) : null };
      this.output.write(this.copyIn.copy.response());
      this.output.flush();
      return 'copy-in';
    }
    let stream = portal?.stream ?? null;
    // A portal suspended by a row limit has not finished its write: it invalidates when it completes.
    const invalidation = this.coordinator.resultCache ? writeInvalidation(plan, bindings) : null;
    if (!stream) {
      try {
        stream = await this.openFollowingFailover(plan, bindings);
      } catch (error) {
        // (The statement's own error is what the client hears, not a cache failure after it.)
        await this.wrote(invalidation).catch(() => {});
        this.afterError(error);
        throw this.failoverError(plan, error);
      }
      if (portal) portal.stream = stream;
    }
    try {
      if (options.describe) {
        const description = await stream.description();
        if (description) this.output.write(description);
        else if (portal) this.output.write(NO_DATA);
      }
      let sent = 0;
      for (;;) {
        if (options.maxRows > 0 && sent >= options.maxRows) {
          this.output.write(PORTAL_SUSPENDED);
          if (portal) portal.suspended = true;
          return 'done';
        }
        const row = await stream.nextRow();
        if (!row) break;
        this.output.write(row);
        sent++;
        // Flow control: a client that does not keep up pauses the reading of node results.
        if (this.output.backlogged) await this.output.drained();
      }
      // After a suspension PostgreSQL's tag counts the rows of the last Execute only.
      const tag = portal?.suspended ? stream.tag().replace(/\d+$/, String(sent)) : stream.tag();
      if (plan.kind === 'control' && plan.sessionConfig) await this.keepSessionConfig(plan.sessionConfig, bindings);
      // The write is done: what it changed leaves the result cache before the client hears of it.
      await this.wrote(invalidation);
      if (stream.empty) this.output.write(EMPTY_QUERY_RESPONSE);
      else this.output.write(encodeCommandComplete(tag));
      if (portal) portal.completedTag = tag;
      await stream.close();
      if (portal) portal.stream = null;
      return 'done';
    } catch (error) {
      await stream.close().catch(() => {});
      if (portal) portal.stream = null;
      // Whatever part of it happened (a multi-group write whose outcome is unknown) leaves the cache too.
      await this.wrote(invalidation).catch(() => {});
      this.afterError(error);
      throw this.failoverError(plan, error);
    }
  }

  /**
   * Opens a statement's result; when a worker connection is refused or breaks, follows
   * the failover: a read outside a block (nothing sent to the client yet: its first
   * row is read before) and a write that never reached a worker run again once the
   * group has a primary, for at most the coordinator's failover wait.
   */
  private async openFollowingFailover(plan: Plan, bindings: Bindings): Promise<ResultStream> {
    const read = plan.kind === 'distributed' && plan.readOnly;
    const write = writesRows(plan);
    const deadline = Date.now() + this.coordinator.failoverWaitMs;
    let forcePrimary = false;
    let movedRetries = 0;
    for (;;) {
      let stream: ResultStream | null = null;
      this.transaction.forcePrimary = forcePrimary;
      try {
        stream = await this.open(plan, bindings);
        // Outside a block a read's first row, and a write's first row or its end, is awaited
        // here: a failure that can be retried (a failover, a shard moved away) is seen before
        // the client has heard anything of the statement.
        return (read || write) && !this.transaction.inBlock ? await PrefetchedStream.of(stream) : stream;
      } catch (error) {
        if (stream) await stream.close().catch(() => {});
        const kind = failureKind(error);
        if (shardMovedAway(error) || error instanceof PlacementsChangedError) {
          // The shard was moved to another group after this coordinator planned the statement
          // (it did not run: the relation was gone before it started), or a reference table's
          // groups changed under the write (rolled back). With the catalog read again it runs
          // where the shards are now; inside a block the block is lost.
          if (this.transaction.inBlock) throw error instanceof PlacementsChangedError ? error : new ShardMovedError(error);
          if (++movedRetries > 3) throw error;
          this.transaction.endStatement();
          await this.coordinator.reloadCatalog();
          continue;
        }
        // A standby refuses what writes (nextval(), SELECT ... INTO): the primary runs it.
        const refusedByStandby = read && error instanceof ServerError && error.sqlstate === '25006';
        const retry = !this.transaction.inBlock && ((read && kind !== 'other') || (write && kind === 'not-sent'));
        if (!retry || Date.now() >= deadline || (refusedByStandby && forcePrimary)) throw error;
        metrics()?.failoverRetries.inc({ outcome: 'retried' });
        // This attempt's connections go back (broken ones are closed by their pool).
        this.transaction.endStatement();
        if (refusedByStandby && !forcePrimary) {
          forcePrimary = true;
          continue;
        }
        await this.coordinator.leaderChange(Math.max(0, Math.min(250, deadline - Date.now())));
      } finally {
        this.transaction.forcePrimary = false;
      }
    }
  }

  /** What the client is told when a worker connection broke under a statement. */
  private failoverError(plan: Plan, error: unknown): unknown {
    if (failureKind(error) !== 'lost') return error;
    if (this.transaction.inBlock) return new BlockLostError(error);
    if (writesRows(plan) || plan.kind === 'control' || plan.kind === 'ddl') {
      metrics()?.failoverRetries.inc({ outcome: 'unknown' });
      return new OutcomeUnknownError(plan.kind === 'ddl' || plan.kind === 'control' ? 'the statement' : 'the write', error);
    }
    return error;
  }

  /**
   * A write ran (or may have): outside a block its changes are visible now, so the
   * result cache forgets what they touched at once; inside one, at COMMIT.
   */
  private async wrote(invalidation: Invalidation | null): Promise<void> {
    if (!this.coordinator.resultCache || !invalidation) return;
    if (this.transaction.inBlock) this.pendingInvalidations.push(invalidation);
    else await this.invalidate([invalidation]);
  }

  /** Invalidates, or has every coordinator bypass the cache, before the write is acknowledged. */
  private async invalidate(what: Invalidation[]): Promise<void> {
    const cache = this.coordinator.resultCache;
    if (!cache) return;
    if (await cache.invalidate(what, { failForTest: this.transaction.faultPoint('cache-invalidate') })) return;
    await this.coordinator.cacheInvalidationFailed(this.transaction.faultPoint('cache-notify'));
  }

  private pendingInvalidations: Invalidation[] = [];

  /** The block ended: a committed block's writes leave the cache before the client hears COMMIT; a rolled back one changed nothing. */
  private async blockEnded(committed: boolean): Promise<void> {
    const pending = this.pendingInvalidations;
    this.pendingInvalidations = [];
    if (committed && pending.length > 0) await this.invalidate(pending);
  }

  /** An error inside a transaction block fails the block, as in PostgreSQL. */
  private afterError(_error: unknown): void {
    this.transaction.fail();
  }

  private async open(planned: Plan, bindings: Bindings): Promise<ResultStream> {
    const ctx = this.context(bindings);
    const snapshot = this.coordinator.snapshot;
    const plan = withCurrentTables(planned, (table) => snapshot.tables.get(table.name) ?? table);
    switch (plan.kind) {
      case 'control':
        return runControl(ctx, plan);
      case 'distributed':
        return this.cachedRead(ctx, plan) ?? runDistributed(ctx, plan);
      case 'insert':
        return runInsert(ctx, plan);
      case 'reference-write':
        return runReferenceWrite(ctx, plan);
      case 'transaction':
        metrics()?.statements.inc(['local']);
        return new LocalResultStream(await this.transactionCommand(plan));
      case 'set':
        metrics()?.statements.inc(['local']);
        return new LocalResultStream(await this.setCommand(plan));
      case 'empty': {
        const empty = new LocalResultStream('');
        return Object.assign(empty, { empty: true });
      }
      case 'ddl':
        return runDdl(ctx, plan);
      case 'drop-index':
        return runDropIndex(ctx, plan);
      case 'distribution-function':
        return runDistributionFunction(ctx, plan);
      case 'copy':
        if (plan.direction === 'in') throw new Error('COPY FROM STDIN is started by runStatement');
        return new CopyOutStream(ctx, plan, await copyHeaderLine(ctx, plan));
      case 'local':
        metrics()?.statements.inc(['local']);
        return new LocalResultStream(plan.tag);
      case 'unsupported':
        throw plan.error;
      default: {
        const never: never = plan;
        throw new Error(`unknown plan ${JSON.stringify(never)}`);
      }
    }
  }

  /** A read the result cache may answer: outside transaction blocks, deterministic, on distributed or reference tables. */
  private cachedRead(ctx: ExecutionContext, plan: DistributedPlan): Promise<ResultStream> | null {
    const cache = this.coordinator.resultCache;
    if (!cache || !plan.cacheable || this.transaction.inBlock) return null;
    const { bindings } = ctx;
    return (async () => {
      const base = ResultCache.statementKey([
        plan.template,
        bindings.params.map((p) => (p === null ? null : p.toString('base64'))),
        bindings.paramFormats,
        bindings.paramTypes,
        bindings.resultFormats,
        this.transaction.settingsFingerprint,
        // Each role sees what its privileges and row-level security let it see: no result crosses roles.
        this.transaction.role ?? '',
      ]);
      const found = await cache.lookup(base, readScope(plan, bindings));
      if ('hit' in found) return found.hit;
      const stream = await runDistributed(ctx, plan);
      return found.store ? recordingStream(stream, found.store) : stream;
    })();
  }

  private warn(code: string, message: string): void {
    this.output.write(encodeNoticeResponse({ severity: 'WARNING', severityNonLocalized: 'WARNING', code, message }));
  }

  private async transactionCommand(plan: TransactionPlan): Promise<string> {
    const t = this.transaction;
    switch (plan.action) {
      case 'begin':
        // BEGIN inside the implicit transaction of a batch makes it a block that outlives the Sync, as in PostgreSQL.
        if (t.inBlock && this.batchBlock) this.batchBlock = false;
        else if (t.inBlock) this.warn('25001', 'there is already a transaction in progress');
        else t.begin(plan.sql);
        return plan.tag;
      case 'commit':
        if (!t.inBlock) {
          this.warn('25P01', 'there is no transaction in progress');
          return 'COMMIT';
        }
        await this.hooks.closeOpenPortals();
        try {
          const tag = await t.commit();
          await this.blockEnded(tag === 'COMMIT');
          return tag;
        } catch (error) {
          // The outcome may be unknown: what the block wrote leaves the cache all the same.
          await this.blockEnded(true).catch(() => {});
          throw error;
        }
      case 'rollback':
        if (!t.inBlock) this.warn('25P01', 'there is no transaction in progress');
        else {
          await this.hooks.closeOpenPortals();
          await t.rollback();
          await this.blockEnded(false);
        }
        return 'ROLLBACK';
      case 'savepoint':
      case 'release':
      case 'rollback-to': {
        if (!t.inBlock) throw new ClientError('25P01', `${plan.tag === 'ROLLBACK' ? 'ROLLBACK TO SAVEPOINT' : plan.tag} can only be used in transaction blocks`);
        await t.onEveryBegunGroup(plan.sql);
        t.recordLocalSetting(plan.sql);
        if (plan.action === 'rollback-to') t.status = 'T';
        return plan.tag;
      }
      default:
        throw new ClientError(SqlState.featureNotSupported, `${plan.tag} is not supported`);
    }
  }

  private async setCommand(plan: SessionSettingPlan): Promise<string> {
    const t = this.transaction;
    if (plan.local) {
      if (!t.inBlock) {
        this.warn('25P01', `${plan.sql.split(/\s+/).slice(0, 2).join(' ').toUpperCase()} can only be used in transaction blocks`);
        return plan.tag;
      }
      await t.onEveryBegunGroup(plan.sql);
      t.recordLocalSetting(plan.sql);
      return plan.tag;
    }
    // Validate on the control group (an unknown setting or a bad value fails here, not later).
    const connection = await t.connection(0);
    SessionTransaction.settingsChanged(connection);
    await connection.simpleQuery(plan.sql);
    t.recordSetting(plan.name?.toLowerCase() ?? null, plan.sql, plan.reset);
    if (plan.name === null || plan.name.toLowerCase() === IDLE_IN_TRANSACTION_TIMEOUT) await this.refreshIdleInTransactionTimeout();
    if (t.inBlock) {
      t.heldSettingsChanged();
      await t.onEveryBegunGroup(plan.sql);
    }
    return plan.tag;
  }

  /**
   * set_config() ran on the connection that answered the statement: the session keeps it
   * like SET (applied to every node connection it uses from now on), or like SET LOCAL
   * for is_local inside a block (sent to the block's other groups too).
   */
  private async keepSessionConfig(calls: SessionConfigCall[], bindings: Bindings): Promise<void> {
    const text = (ref: SessionConfigCall['name']): string => {
      if ('value' in ref) return ref.value;
      const param = bindings.params[ref.param - 1];
      if (param === null || param === undefined) throw new ClientError('22004', 'set_config() got a NULL setting name or value');
      return param.toString('utf8');
    };
    const t = this.transaction;
    for (const call of calls) {
      const name = text(call.name).toLowerCase();
      const sql = `SELECT pg_catalog.set_config(${quoteLiteral(name)}, ${quoteLiteral(text(call.value))}, ${call.local})`;
      if (call.local) {
        if (!t.inBlock) continue;
        await t.onEveryBegunGroup(sql);
        t.recordLocalSetting(sql);
        continue;
      }
      t.recordSetting(name, sql, false);
      for (const connection of t.connections()) SessionTransaction.settingsChanged(connection);
      if (t.inBlock) await t.onEveryBegunGroup(sql);
      if (name === IDLE_IN_TRANSACTION_TIMEOUT) await this.refreshIdleInTransactionTimeout();
    }
  }

  // ---- for the extended query protocol ---------------------------------------

  /** A portal's RowDescription (null: NoData): its statement is opened, following a failover, and stays open for Execute. */
  async portalDescription(plan: Plan, bindings: Bindings, portal: PortalCursor): Promise<Buffer | null> {
    if (!portal.stream) {
      try {
        portal.stream = await this.openFollowingFailover(plan, bindings);
      } catch (error) {
        this.afterError(error);
        throw this.failoverError(plan, error);
      }
    }
    try {
      return await portal.stream.description();
    } catch (error) {
      await portal.stream.close().catch(() => {});
      portal.stream = null;
      this.afterError(error);
      throw this.failoverError(plan, error);
    }
  }

  /** Parameter and result types of a statement, from the control group's shell tables (client OIDs). */
  async describeStatement(sql: string, paramTypes: number[], plan: Plan | null): Promise<StatementDescription> {
    if (!plan || plan.kind === 'transaction' || plan.kind === 'set' || plan.kind === 'local' || plan.kind === 'empty' || plan.kind === 'ddl' || plan.kind === 'drop-index' || plan.kind === 'copy') {
      return { parameterTypes: [], rowDescription: null, columns: 0 };
    }
    if (plan.kind === 'distribution-function') {
      // The function's own columns: a Describe must announce what Execute sends.
      const fields = functionResultFields(plan.name);
      return { parameterTypes: [], rowDescription: encodeRowDescription(fields), columns: fields.length };
    }
    if (plan.kind === 'unsupported') throw plan.error;
    const connection = await this.transaction.connection(0);
    connection.write(Buffer.concat([encodeFrontend({ type: 'Parse', name: '', sql, parameterTypes: paramTypes }), encodeFrontend({ type: 'Describe', kind: 'S', name: '' }), SYNC]));
    let parameterTypes: number[] = [];
    let rowDescription: Buffer | null = null;
    let columns = 0;
    try {
      await connection.readUntilReady((frame) => {
        if (frame.code === BackendCode.ParameterDescription) {
          const m = decodeBackend(frame);
          if (m.type === 'ParameterDescription') parameterTypes = m.typeOids;
        } else if (frame.code === BackendCode.RowDescription) {
          rowDescription = Buffer.from(frame.raw);
          columns = frame.body.readInt16BE(0);
        }
      });
    } finally {
      if (!this.transaction.inBlock) this.transaction.endStatement();
    }
    return { parameterTypes, rowDescription, columns };
  }

  /** A transaction block dpg opened for a pipelined batch; it ends at Sync. */
  private batchBlock = false;

  /** Statements before one Sync are one transaction, as in PostgreSQL: a write of a batch opens it. */
  openBatchBlock(): void {
    this.transaction.begin('BEGIN');
    this.batchBlock = true;
  }

  /** At Sync: the batch's block commits (or rolls back, after an error). */
  async endBatchBlock(): Promise<void> {
    if (!this.batchBlock) return;
    this.batchBlock = false;
    // A COMMIT or ROLLBACK in the batch ended it already.
    if (!this.transaction.inBlock) return;
    try {
      if (this.transaction.status === 'E') {
        await this.transaction.rollback();
        await this.blockEnded(false);
      } else {
        await this.transaction.commit().finally(() => this.blockEnded(true));
      }
    } catch (error) {
      this.writeError(error);
    }
  }

  get inCopyIn(): boolean {
    return this.copyIn !== null;
  }

  /** CopyData, CopyDone and CopyFail; outside COPY FROM STDIN they are ignored, as PostgreSQL does. */
  async copyMessage(message: FrontendMessage): Promise<void> {
    const state = this.copyIn;
    if (!state) return;
    if (message.type === 'CopyData') {
      await state.copy.data(message.data);
      return;
    }
    this.copyIn = null;
    try {
      if (message.type === 'CopyFail') {
        await state.copy.abort();
        throw new ClientError(SqlState.queryCanceled, `COPY from stdin failed: ${message.message}`);
      }
      let tag: string;
      try {
        tag = await state.copy.done();
      } finally {
        await this.wrote(state.invalidation);
      }
      this.output.write(encodeCommandComplete(tag));
    } catch (error) {
      if (state.simple) {
        this.writeError(error);
        this.transaction.fail();
      } else this.hooks.extendedFailed(error);
    }
    if (state.simple) {
      this.transaction.endStatement();
      this.output.write(readyForQuery(this.transaction.status));
    }
    this.output.flush();
  }

  /** An ErrorResponse to the client; an internal error (a bug) is also logged, with the statement as PostgreSQL's log_min_error_statement does. */
  writeError(error: unknown, statement?: string): void {
    const fields = errorFields(error);
    metrics()?.errors.inc({ sqlstate_class: (fields.code ?? 'XX').slice(0, 2) });
    if (fields.code === SqlState.internalError && !(error instanceof ClientError)) {
      this.coordinator.logger.error({ session: this.session.processId, statement: statement?.slice(0, 2000), err: error }, 'statement failed: internal error');
    }
    this.output.write(encodeErrorResponse(fields));
  }

  cancel(): void {
    for (const connection of this.transaction.busy) void connection.cancel();
  }

  async close(): Promise<void> {
    // The client is gone: what it left running on the workers is cancelled (as PostgreSQL
    // ends a backend whose client disconnected) and those connections are not pooled
    // again, so a late cancel cannot hit another session's statement.
    for (const connection of this.transaction.busy) {
      void connection.cancel();
      connection.destroy();
    }
    if (this.copyIn) await this.copyIn.copy.abort();
    this.copyIn = null;
    await this.hooks.closeAllPortals();
    await this.transaction.close();
  }
}

/** INSERT, UPDATE, DELETE, writes to reference tables, SELECT ... FOR UPDATE. */
export function writesRows(plan: Plan): boolean {
  return plan.kind === 'insert' || plan.kind === 'reference-write' || (plan.kind === 'distributed' && !plan.readOnly);
}

/** A setting's name for SET: dotted names (hnsw.ef_search) stay unquoted, as PostgreSQL's GUC names are. */
function quoteSettingName(name: string): string {
  return /^[a-z_][a-z0-9_.]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
