import { encodeBackend, encodeCommandComplete, readyForQuery, PARSE_COMPLETE, BIND_COMPLETE, CLOSE_COMPLETE, NO_DATA, EMPTY_QUERY_RESPONSE } from '../protocol/backend.ts';
import type { FrontendMessage } from '../protocol/frontend.ts';
import type { ClientOutput } from '../protocol/client-output.ts';
import { ClientError, SqlState } from '../shared/errors.ts';
import type { PlannedStatement } from '../planner/plan-cache.ts';
import type { Bindings } from '../executor/bindings.ts';
import { writesRows, type PortalCursor, type SessionExecutor, type StatementDescription } from '../executor/session-executor.ts';

interface PreparedStatementEntry {
  sql: string;
  /** null for an empty query string. */
  planned: PlannedStatement | null;
  paramTypes: number[];
  description?: StatementDescription;
  hooks?: Pick<Bindings, 'visibleColumns' | 'describedParameterTypes'>;
}

interface Portal extends PortalCursor {
  statement: PreparedStatementEntry;
  bindings: Bindings;
}

/**
 * The extended query protocol of one session: its prepared statements and portals,
 * skipping to Sync after an error, the implicit transaction of a batch that ends at
 * Sync. Statements run through the session's executor.
 * https://www.postgresql.org/docs/15/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
 */
export class ExtendedProtocol {
  private readonly statements = new Map<string, PreparedStatementEntry>();
  private readonly portals = new Map<string, Portal>();
  /** After an error in the extended protocol, messages are skipped until Sync. */
  private skipUntilSync = false;

  constructor(
    private readonly executor: SessionExecutor,
    private readonly output: ClientOutput,
    /** The next frame the client sent is a Sync (a write outside a block may commit on its own). */
    private readonly syncIsNext: () => boolean,
  ) {}

  async parse(name: string, sql: string, parameterTypes: number[]): Promise<void> {
    if (this.skipUntilSync) return;
    try {
      if (name !== '' && this.statements.has(name)) throw new ClientError('42P05', `prepared statement "${name}" already exists`);
      const planned = await this.executor.plan(sql);
      if (planned.length > 1) throw new ClientError(SqlState.syntaxError, 'cannot insert multiple commands into a prepared statement');
      this.statements.set(name, { sql, planned: planned[0] ?? null, paramTypes: parameterTypes });
      this.output.write(PARSE_COMPLETE);
    } catch (error) {
      this.failed(error, sql);
    }
  }

  async bind(message: Extract<FrontendMessage, { type: 'Bind' }>): Promise<void> {
    if (this.skipUntilSync) return;
    try {
      const statement = this.statements.get(message.statement);
      if (!statement) throw new ClientError(SqlState.invalidSqlStatementName, `prepared statement "${message.statement}" does not exist`);
      if (message.portal !== '' && this.portals.has(message.portal)) throw new ClientError('42P03', `cursor "${message.portal}" already exists`);
      await this.closePortal(message.portal);
      this.portals.set(message.portal, {
        statement,
        bindings: {
          extended: true,
          params: message.parameters,
          paramFormats: message.parameterFormats,
          paramTypes: statement.paramTypes,
          resultFormats: message.resultFormats,
          ...this.hooksOf(statement),
        },
        stream: null,
        suspended: false,
        completedTag: null,
      });
      this.output.write(BIND_COMPLETE);
    } catch (error) {
      this.failed(error);
    }
  }

  async describe(kind: 'S' | 'P', name: string): Promise<void> {
    if (this.skipUntilSync) return;
    try {
      if (kind === 'S') {
        const statement = this.statements.get(name);
        if (!statement) throw new ClientError(SqlState.invalidSqlStatementName, `prepared statement "${name}" does not exist`);
        const description = await this.describeStatement(statement);
        this.output.write(encodeBackend({ type: 'ParameterDescription', typeOids: description.parameterTypes }));
        this.output.write(description.rowDescription ?? NO_DATA);
        return;
      }
      const portal = this.portals.get(name);
      if (!portal) throw new ClientError(SqlState.invalidCursorName, `portal "${name}" does not exist`);
      const planned = portal.statement.planned;
      if (!planned || planned.plan.kind === 'transaction' || planned.plan.kind === 'set' || planned.plan.kind === 'local' || portal.completedTag !== null || this.executor.transaction.status === 'E') {
        // In a failed block nothing runs; the Execute that follows reports 25P02.
        this.output.write(NO_DATA);
        return;
      }
      this.output.write((await this.executor.portalDescription(planned.plan, portal.bindings, portal)) ?? NO_DATA);
    } catch (error) {
      this.failed(error);
    }
  }

  async execute(portalName: string, maxRows: number): Promise<void> {
    if (this.skipUntilSync) return;
    try {
      const portal = this.portals.get(portalName);
      if (!portal) throw new ClientError(SqlState.invalidCursorName, `portal "${portalName}" does not exist`);
      if (!portal.statement.planned) {
        this.output.write(EMPTY_QUERY_RESPONSE);
        return;
      }
      if (portal.completedTag !== null) {
        // Executing a finished portal again returns no rows, as PostgreSQL does.
        this.output.write(encodeCommandComplete(portal.completedTag.replace(/\d+$/, '0')));
        return;
      }
      const plan = portal.statement.planned.plan;
      if (writesRows(plan) && !this.executor.transaction.inBlock && portal.stream === null && !this.syncIsNext()) {
        // Statements before one Sync are one transaction in PostgreSQL: here too. A write
        // commits on its own only when its Sync is already here (nothing else can join).
        this.executor.openBatchBlock();
      }
      await this.executor.runStatement(portal.statement.planned, portal.bindings, { describe: false, maxRows }, portal);
    } catch (error) {
      this.failed(error);
    }
  }

  async closeObject(kind: 'S' | 'P', name: string): Promise<void> {
    if (this.skipUntilSync) return;
    if (kind === 'S') this.statements.delete(name);
    else await this.closePortal(name);
    this.output.write(CLOSE_COMPLETE);
  }

  async sync(): Promise<void> {
    this.skipUntilSync = false;
    await this.executor.endBatchBlock();
    if (!this.executor.transaction.inBlock) {
      // The implicit transaction of this batch ends: its portals go, as in PostgreSQL.
      for (const name of [...this.portals.keys()]) await this.closePortal(name);
      this.executor.transaction.endStatement();
    }
    this.output.write(readyForQuery(this.executor.transaction.status));
    this.output.flush();
  }

  flush(): void {
    this.output.flush();
  }

  /**
   * A FunctionCall ('F'): PostgreSQL answers it like a simple query, with its result or an
   * error and then ReadyForQuery, and ignores it while skipping to Sync after an error
   * (SocketBackend in postgres.c). dpg does not run the fast-path interface (its function
   * OIDs are one node's), so the answer is an error.
   */
  functionCall(): void {
    if (this.skipUntilSync) return;
    this.executor.writeError(new ClientError(SqlState.featureNotSupported, 'the fast-path function call interface is not supported by dpg: call the function in a SELECT'));
    this.executor.transaction.fail();
    this.output.write(readyForQuery(this.executor.transaction.status));
    this.output.flush();
  }

  /** An error of an extended-protocol message: reported, then everything up to Sync is skipped; a block fails. */
  failed(error: unknown, statement?: string): void {
    this.executor.writeError(error, statement);
    this.skipUntilSync = true;
    this.executor.transaction.fail();
  }

  /** Portals end with their transaction, as in PostgreSQL (dpg has no WITH HOLD cursors). */
  async closeOpenPortals(): Promise<void> {
    for (const [name, portal] of [...this.portals]) {
      if (portal.stream) await this.closePortal(name);
    }
  }

  /** The session ends: every portal goes. */
  async close(): Promise<void> {
    for (const name of [...this.portals.keys()]) await this.closePortal(name);
  }

  private async closePortal(name: string): Promise<void> {
    const portal = this.portals.get(name);
    if (!portal) return;
    this.portals.delete(name);
    await portal.stream?.close().catch(() => {});
  }

  /** A prepared statement's describe hooks for its portals' bindings (made once per statement). */
  private hooksOf(statement: PreparedStatementEntry): Pick<Bindings, 'visibleColumns' | 'describedParameterTypes'> {
    statement.hooks ??= {
      visibleColumns: async () => (await this.describeStatement(statement)).columns,
      describedParameterTypes: async () => (await this.describeStatement(statement)).parameterTypes,
    };
    return statement.hooks;
  }

  private async describeStatement(statement: PreparedStatementEntry): Promise<StatementDescription> {
    statement.description ??= await this.executor.describeStatement(statement.sql, statement.paramTypes, statement.planned?.plan ?? null);
    return statement.description;
  }
}
