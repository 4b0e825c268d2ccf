import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { randomInt } from 'node:crypto';
import { FrameReader, DEFAULT_MAX_MESSAGE_BYTES, type Frame } from '../protocol/frames.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { decodeFrontend, decodeSASLInitialResponse, type FrontendMessage } from '../protocol/frontend.ts';
import { encodeBackend, encodeErrorResponse, readyForQuery, type NoticeFields } from '../protocol/backend.ts';
import { ScramServerSession, SCRAM_MECHANISM, ScramError } from '../protocol/scram.ts';
import { ClientOutput } from '../protocol/client-output.ts';
import { ClientError, SqlState, errorFields } from '../shared/errors.ts';
import type { ExecutorHost } from '../executor/host.ts';
import type { ScramVerifier } from '../protocol/scram.ts';
import type { SecureContext } from 'node:tls';
import { SessionExecutor } from '../executor/session-executor.ts';
import { ExtendedProtocol } from './extended-protocol.ts';
import type { Logger } from '../shared/log.ts';

/**
 * The states of one client connection. Every message is handled by an exhaustive
 * switch on the state; a message that does not belong in a state is a protocol
 * violation (08P01) and closes the connection.
 * https://www.postgresql.org/docs/15/protocol-flow.html
 */
export enum SessionState {
  AwaitingStartup = 'awaiting-startup',
  Authenticating = 'authenticating',
  Ready = 'ready',
  Closed = 'closed',
}

/**
 * The longest message a client may send before it has authenticated: PostgreSQL reads
 * SASL messages with PG_MAX_AUTH_TOKEN_LENGTH (65535, src/include/libpq/auth.h) as the
 * limit, and the startup packet with 10,000 (the frame reader's own cap).
 */
const MAX_AUTHENTICATION_MESSAGE_BYTES = 65535;


/**
 * What a client session needs of the frontend that accepted it (and its executor of the
 * execution stage): the client slots, authentication, cancel keys, the parameters reported
 * at startup. The frontend owns this interface; ClientFrontend (frontend.ts) implements it.
 */
export interface SessionHost {
  /** What the session's executor runs statements with. */
  readonly execution: ExecutorHost;
  readonly logger: Logger;
  readonly database: string;
  readonly maxClients: number;
  readonly authenticationTimeoutMs: number;
  /** What SSLRequest upgrades a connection with; null: no TLS ('N'). */
  readonly tlsContext: SecureContext | null;
  readonly tlsRequired: boolean;
  sessionCount(): number;
  sessionAuthenticated(session: ClientSession): Promise<boolean>;
  sessionClosed(session: ClientSession, authenticated: boolean): void;
  sessionReleased(processId: number): void;
  cancel(processId: number, secretKey: number): void;
  verifierFor(user: string): string | null;
  mockVerifierFor(user: string): ScramVerifier;
  parameterStatus(startup: Record<string, string>): [string, string][];
}

export class ClientSession {
  state = SessionState.AwaitingStartup;
  readonly processId: number;
  /** Non-negative, so it reads the same whether a client treats it as signed or unsigned. */
  readonly secretKey = randomInt(1, 2147483647);
  user = '';
  database = '';
  startupParameters: Record<string, string> = {};
  private readonly reader = new FrameReader({ startup: true, maxMessageBytes: MAX_AUTHENTICATION_MESSAGE_BYTES });
  /** Took a client slot (see SessionHost.sessionAuthenticated). */
  private authenticated = false;
  private authenticationTimer: NodeJS.Timeout | null;
  readonly output: ClientOutput;
  private scram: ScramServerSession | null = null;
  private scramUserKnown = false;
  private executor: SessionExecutor | null = null;
  private protocol: ExtendedProtocol | null = null;
  /** Frames are handled one at a time, in order, even when handling awaits. */
  /** Messages read but not handled yet: pending[pendingHead] is the next (a queue without O(n) shifts). */
  private pending: Frame[] = [];
  private pendingHead = 0;
  /** Bytes of those messages: past INPUT_PAUSE_BYTES the socket is no longer read (a pipelining client waits, as with PostgreSQL). */
  private pendingBytes = 0;
  private inputPaused = false;
  static readonly INPUT_PAUSE_BYTES = 1024 * 1024;
  static readonly INPUT_RESUME_BYTES = 256 * 1024;
  private working = false;

  /** The client's socket: the TCP connection, or the TLS socket over it after SSLRequest. */
  private socket: Socket;
  /** TLS was negotiated (SSLRequest answered 'S'). */
  private encrypted = false;
  private readonly onData = (chunk: Buffer) => this.receive(chunk);
  private readonly onGone = () => this.close();

  constructor(
    socket: Socket,
    private readonly host: SessionHost,
    processId: number,
  ) {
    this.socket = socket;
    this.processId = processId;
    this.output = new ClientOutput(socket);
    socket.setNoDelay(true);
    // PostgreSQL's authentication_timeout: a client that has not completed startup and
    // authentication by then is disconnected, without a message (as PostgreSQL does: its
    // backend exits from the timeout handler).
    this.authenticationTimer = setTimeout(() => {
      this.authenticationTimer = null;
      if (!this.authenticated) this.close();
    }, host.authenticationTimeoutMs);
    this.authenticationTimer.unref();
    this.listen(socket);
  }

  private listen(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onGone);
    socket.on('close', this.onGone);
  }

  /**
   * SSLRequest answered 'S': the TLS handshake follows on the same connection and every
   * later byte goes through it. https://www.postgresql.org/docs/15/protocol-flow.html#id-1.10.6.7.12
   */
  private startTls(context: SecureContext): void {
    const raw = this.socket;
    raw.off('data', this.onData);
    raw.off('error', this.onGone);
    raw.off('close', this.onGone);
    raw.write(Buffer.from('S'));
    const secure = new TLSSocket(raw, { isServer: true, secureContext: context });
    this.socket = secure;
    this.output.useSocket(secure);
    this.encrypted = true;
    this.listen(secure);
  }

  private receive(chunk: Buffer): void {
    if (this.state === SessionState.Closed) return;
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    try {
      for (const frame of this.reader.push(chunk)) {
        this.pending.push(frame);
        this.pendingBytes += frame.raw.length;
      }
    } catch (error) {
      this.fatal(error instanceof ProtocolError ? error : new ProtocolError(String(error)));
      return;
    }
    if (this.pendingBytes > ClientSession.INPUT_PAUSE_BYTES && !this.inputPaused) {
      this.inputPaused = true;
      this.socket.pause();
    }
    if (this.pendingCount > 0 && this.reader.buffered > 0 && this.state === SessionState.AwaitingStartup) {
      // Bytes after an SSLRequest before our answer: refuse them (see FrameReader).
      const frame = this.pending[this.pendingHead]!;
      if (frame.code === 0 && frame.body.length === 4) {
        this.fatal(new ProtocolError('received unencrypted data after SSL request'));
        return;
      }
    }
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.working) return;
    this.working = true;
    try {
      while (this.pendingCount > 0 && this.state !== SessionState.Closed) {
        const frame = this.nextPending();
        await this.handle(frame);
      }
    } catch (error) {
      // Expected failures (a protocol violation, failed authentication) close this
      // connection with their own SQLSTATE; anything else is a bug, logged with context.
      if (!(error instanceof ProtocolError) && !(error instanceof ClientError)) {
        this.host.logger.error({ session: this.processId, user: this.user || null, err: error }, 'session failed: unexpected error');
      }
      this.fatal(error);
    } finally {
      this.working = false;
    }
    if (this.pendingCount === 0) this.armIdleInTransactionTimer();
  }

  private get pendingCount(): number {
    return this.pending.length - this.pendingHead;
  }

  private nextPending(): Frame {
    const frame = this.pending[this.pendingHead++]!;
    this.pendingBytes -= frame.raw.length;
    if (this.pendingHead >= 1024 && this.pendingHead * 2 >= this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
    if (this.inputPaused && this.pendingBytes < ClientSession.INPUT_RESUME_BYTES) {
      this.inputPaused = false;
      this.socket.resume();
    }
    return frame;
  }

  private idleTimer: NodeJS.Timeout | null = null;

  /**
   * PostgreSQL's idle_in_transaction_session_timeout, at the coordinator: a session left
   * idle inside a transaction block (waiting for its client) that long is terminated
   * with FATAL 25P03, and its block rolled back.
   */
  private armIdleInTransactionTimer(): void {
    const executor = this.executor;
    if (!executor || this.state !== SessionState.Ready || !executor.transaction.inBlock || executor.idleInTransactionTimeoutMs <= 0) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.working || this.pendingCount > 0 || !executor.transaction.inBlock) return;
      this.fatal(new ClientError('25P03', 'terminating connection due to idle-in-transaction timeout'));
    }, executor.idleInTransactionTimeoutMs);
    this.idleTimer.unref();
  }

  private async handle(frame: Frame): Promise<void> {
    const message = decodeFrontend(frame);
    switch (this.state) {
      case SessionState.AwaitingStartup:
        return this.handleStartup(message);
      case SessionState.Authenticating:
        return this.handleAuthentication(message);
      case SessionState.Ready:
        return this.handleReady(message);
      case SessionState.Closed:
        return;
      default: {
        const never: never = this.state;
        throw new ProtocolError(`unknown state ${String(never)}`);
      }
    }
  }

  private handleStartup(message: FrontendMessage): void {
    switch (message.type) {
      case 'SSLRequest':
      case 'GSSENCRequest': {
        // A second request after TLS is up is out of place, as in PostgreSQL.
        if (this.encrypted) throw new ProtocolError(`unexpected ${message.type} on an encrypted connection`);
        const context = message.type === 'SSLRequest' ? this.host.tlsContext : null;
        this.reader.expectStartup();
        if (context) {
          this.startTls(context);
          return;
        }
        // No TLS configured (or GSSAPI, never offered): 'N' tells the client to go on unencrypted.
        this.socket.write(Buffer.from('N'));
        if (this.reader.buffered > 0) this.receive(Buffer.alloc(0));
        return;
      }
      case 'CancelRequest':
        this.host.cancel(message.processId, message.secretKey);
        this.close();
        return;
      case 'Startup': {
        if (message.protocolVersion >> 16 !== 3) {
          throw new ProtocolError(`unsupported frontend protocol ${message.protocolVersion >> 16}.${message.protocolVersion & 0xffff}: server supports 3.0`);
        }
        if ((message.protocolVersion & 0xffff) !== 0) {
          // https://www.postgresql.org/docs/15/protocol-message-formats.html (NegotiateProtocolVersion)
          this.output.write(encodeBackend({ type: 'NegotiateProtocolVersion', newestMinor: 0, unrecognized: Object.keys(message.parameters).filter((k) => k.startsWith('_pq_.')) }));
        }
        this.startupParameters = message.parameters;
        this.user = message.parameters.user ?? '';
        this.database = message.parameters.database ?? this.user;
        if (!this.user) throw new ClientError(SqlState.invalidAuthorization, 'no PostgreSQL user name specified in startup packet');
        if (this.host.tlsRequired && !this.encrypted) {
          // PostgreSQL's answer when pg_hba.conf has only hostssl lines (28000).
          throw new ClientError(SqlState.invalidAuthorization, `no pg_hba.conf entry for user "${this.user}", database "${this.database}", no encryption: this coordinator requires TLS (tls.required); connect with sslmode=require or stronger`);
        }
        if (this.host.sessionCount() >= this.host.maxClients) throw tooManyClients(this.host.maxClients);
        const verifier = this.host.verifierFor(this.user);
        this.scramUserKnown = verifier !== null;
        // An unknown user still goes through SCRAM, with the salt a real user of that name
        // would have and keys nobody knows, so the answer does not reveal which user names exist.
        this.scram = new ScramServerSession(verifier ?? this.host.mockVerifierFor(this.user));
        this.state = SessionState.Authenticating;
        const mechanisms = Buffer.from(`${SCRAM_MECHANISM}\0\0`);
        this.output.write(encodeBackend({ type: 'Authentication', code: 10, data: mechanisms }));
        this.output.flush();
        return;
      }
      default:
        throw new ProtocolError(`expected a startup message, got ${message.type}`);
    }
  }

  private async handleAuthentication(message: FrontendMessage): Promise<void> {
    if (message.type !== 'Password' || !this.scram) throw new ProtocolError(`expected SASL response, got ${message.type}`);
    try {
      if (!this.scramStarted) {
        const initial = decodeSASLInitialResponse(message.data);
        if (initial.mechanism !== SCRAM_MECHANISM) {
          throw new ClientError(SqlState.protocolViolation, `client selected an invalid SASL authentication mechanism: ${initial.mechanism}`);
        }
        this.scramStarted = true;
        this.output.write(encodeBackend({ type: 'Authentication', code: 11, data: this.scram.handleClientFirst(initial.response) }));
        this.output.flush();
        return;
      }
      const final = this.scram.handleClientFinal(message.data);
      if (!this.scramUserKnown) throw new ScramError('28P01', 'invalid proof');
      this.output.write(encodeBackend({ type: 'Authentication', code: 12, data: final }));
    } catch (error) {
      if (error instanceof ScramError && error.sqlstate === SqlState.invalidPassword) {
        throw new ClientError(SqlState.invalidPassword, `password authentication failed for user "${this.user}"`);
      }
      if (error instanceof ScramError) throw new ProtocolError(error.message);
      throw error;
    }
    if (this.database !== this.host.database) {
      throw new ClientError(SqlState.invalidCatalogName, `database "${this.database}" does not exist (this coordinator serves "${this.host.database}")`);
    }
    if (!(await this.host.sessionAuthenticated(this))) {
      if (this.state === SessionState.Closed) return;
      throw tooManyClients(this.host.maxClients);
    }
    this.authenticated = true;
    if (this.authenticationTimer) clearTimeout(this.authenticationTimer);
    this.authenticationTimer = null;
    this.reader.setMaxMessageBytes(DEFAULT_MAX_MESSAGE_BYTES);
    this.output.write(encodeBackend({ type: 'Authentication', code: 0, data: Buffer.alloc(0) }));
    const executor = (this.executor = new SessionExecutor(this.host.execution, this));
    const protocol = (this.protocol = new ExtendedProtocol(executor, this.output, () => this.syncIsNext()));
    executor.hooks = { closeOpenPortals: () => protocol.closeOpenPortals(), extendedFailed: (error) => protocol.failed(error), closeAllPortals: () => protocol.close() };
    for (const [name, value] of this.host.parameterStatus(this.startupParameters)) {
      this.output.write(encodeBackend({ type: 'ParameterStatus', name, value }));
    }
    this.output.write(encodeBackend({ type: 'BackendKeyData', processId: this.processId, secretKey: this.secretKey }));
    this.state = SessionState.Ready;
    await this.executor.applyStartupParameters(this.startupParameters);
    this.output.write(readyForQuery('I'));
    this.output.flush();
  }
  private scramStarted = false;

  private async handleReady(message: FrontendMessage): Promise<void> {
    const executor = this.executor!;
    const protocol = this.protocol!;
    if (executor.inCopyIn && message.type !== 'CopyData' && message.type !== 'CopyDone' && message.type !== 'CopyFail') {
      // During COPY FROM STDIN, Flush and Sync are ignored (protocol-flow.html, COPY Operations); anything else is a violation.
      if (message.type === 'Flush' || message.type === 'Sync') return;
      throw new ProtocolError(`unexpected message type ${message.type} during COPY from stdin`);
    }
    switch (message.type) {
      case 'Query':
        return executor.simpleQuery(message.sql);
      case 'Parse':
        return protocol.parse(message.name, message.sql, message.parameterTypes);
      case 'Bind':
        return protocol.bind(message);
      case 'Describe':
        return protocol.describe(message.kind, message.name);
      case 'Execute':
        return protocol.execute(message.portal, message.maxRows);
      case 'Close':
        return protocol.closeObject(message.kind, message.name);
      case 'Sync':
        return protocol.sync();
      case 'Flush':
        return protocol.flush();
      case 'Terminate':
        this.close();
        return;
      case 'CopyData':
      case 'CopyDone':
      case 'CopyFail':
        // Outside COPY these are ignored, as PostgreSQL does (a COPY that failed early).
        return executor.copyMessage(message);
      case 'FunctionCall':
        return protocol.functionCall();
      case 'Startup':
      case 'SSLRequest':
      case 'GSSENCRequest':
      case 'CancelRequest':
      case 'Password':
        throw new ProtocolError(`unexpected ${message.type} message after startup`);
      default: {
        const never: never = message;
        throw new ProtocolError(`unexpected message ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * True when the next message in the input is a Sync: nothing more can join the batch of
   * the Execute being handled. Only then may a write outside a block commit on its own;
   * otherwise more of the batch may still be on its way (TCP cuts messages anywhere), and
   * everything before a Sync is one implicit transaction.
   */
  private syncIsNext(): boolean {
    return this.pendingCount > 0 && this.pending[this.pendingHead]!.code === 0x53;
  }

  /** Sends an error and closes the connection (protocol violations, failed authentication). */
  fatal(error: unknown): void {
    if (this.state === SessionState.Closed) return;
    const fields: NoticeFields = error instanceof ProtocolError ? { severity: 'FATAL', severityNonLocalized: 'FATAL', code: SqlState.protocolViolation, message: error.message } : { ...errorFields(error), severity: 'FATAL', severityNonLocalized: 'FATAL' };
    this.output.write(encodeErrorResponse(fields));
    this.output.flush();
    this.close();
  }

  /** Asks the workers to cancel what this session is running (CancelRequest from the client). */
  cancel(): void {
    this.executor?.cancel();
  }

  close(): void {
    if (this.state === SessionState.Closed) return;
    this.state = SessionState.Closed;
    this.pending = [];
    this.pendingHead = 0;
    this.pendingBytes = 0;
    if (this.authenticationTimer) clearTimeout(this.authenticationTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.host.sessionClosed(this, this.authenticated);
    const executor = this.executor;
    if (executor) void executor.close().finally(() => this.host.sessionReleased(this.processId));
    this.socket.end();
  }
}

function tooManyClients(maxClients: number): ClientError {
  return new ClientError(SqlState.tooManyConnections, `sorry, too many clients already (the coordinator accepts ${maxClients})`);
}
