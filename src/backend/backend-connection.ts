import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls';
import { FrameReader, type Frame } from '../protocol/frames.ts';
import { BackendCode } from '../protocol/message-codes.ts';
import { decodeBackend, dataRowValues, type NoticeFields } from '../protocol/backend.ts';
import { encodeFrontend, encodeSASLInitialResponse, encodeSASLResponse } from '../protocol/frontend.ts';
import { ScramClientSession, SCRAM_MECHANISM } from '../protocol/scram.ts';

export interface BackendTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** Startup parameters sent to the server (application_name, DateStyle, ...). */
  parameters?: Record<string, string>;
  connectTimeoutMs?: number;
  /** Refuse a server in recovery (in_hot_standby on): a standby Patroni is still promoting, or a demoted primary. */
  primaryOnly?: boolean;
  /**
   * TLS to the node, its certificate verified against `ca` for the target's host (a node
   * that answers SSLRequest with 'N' is not connected to: the link was meant to be encrypted).
   */
  tls?: { ca: Buffer };
}

/** node-postgres' ssl option for a target (the coordinator's catalog listener, the tier manager). */
export function pgSslOption(target: BackendTarget): { ssl?: { ca: Buffer; checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined } } {
  return target.tls ? { ssl: { ca: target.tls.ca, checkServerIdentity: (_host, cert) => checkServerIdentity(target.host, cert) } } : {};
}

/** The SSLRequest message (protocol page "SSL Session Encryption"): length 8, code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** SSLRequest on a fresh socket, then a TLS session over it verified against the node CA. */
async function startTls(socket: Socket, target: BackendTarget, ca: Buffer): Promise<TLSSocket> {
  const answer = await new Promise<Buffer>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      cleanup();
      resolve(chunk);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new ConnectFailedError(`TLS to ${target.host}:${target.port}: ${error.message}`));
    };
    const onClose = () => onError(new Error('closed before answering SSLRequest'));
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.write(SSL_REQUEST);
  });
  // One byte and nothing more: anything after 'S' before the handshake could be injected by a man in the middle (CVE-2021-23214).
  if (answer.length !== 1 || answer[0] !== 0x53) {
    socket.destroy();
    throw new ConnectFailedError(`${target.host}:${target.port} does not offer TLS (answered ${JSON.stringify(answer.subarray(0, 1).toString('latin1'))}); the coordinator's links to nodes are encrypted`);
  }
  const secure = tlsConnect({ socket, ca, checkServerIdentity: (_host, cert) => checkServerIdentity(target.host, cert), minVersion: 'TLSv1.2' });
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', () => resolve());
    secure.once('error', (error) => reject(new ConnectFailedError(`TLS to ${target.host}:${target.port}: ${error.message}`)));
  });
  return secure;
}

/**
 * Settings that change how PostgreSQL reads SQL text, at the values dpg's parser assumes:
 * the coordinator plans a statement with libpg-query, which lexes as these say, and sends
 * the same text to the nodes. A node that reads it otherwise (a backslash in '...' as an
 * escape, bytes as another encoding) would run something else than what was planned.
 * Both are reported by the server (GUC_REPORT), so a change by any path (SET, set_config,
 * a function, ALTER ROLE ... SET) shows up as a ParameterStatus.
 */
const LEXING_SETTINGS: Record<string, string> = { standard_conforming_strings: 'on', client_encoding: 'UTF8' };

/** The reason a node's session no longer reads SQL as dpg's parser does, or null. */
function lexingChange(name: string, value: string): string | null {
  const expected = LEXING_SETTINGS[name];
  return expected === undefined || value === expected ? null : `${name} = ${value}`;
}

/**
 * A node's session was changed to read SQL otherwise than dpg's parser does (see
 * LEXING_SETTINGS): its connection is closed and the statement fails with 0A000.
 */
export class LexingChangedError extends Error {
  readonly sqlstate = '0A000';
  constructor(change: string) {
    super(`${change} is not supported by dpg: the coordinator parses every statement as PostgreSQL does with ${Object.entries(LEXING_SETTINGS).map(([k, v]) => `${k} = ${v}`).join(' and ')}, and a node set otherwise could read it differently; the change was undone`);
  }
}

/**
 * What DISCARD ALL does, as statements that may share one simple Query with others
 * (DISCARD ALL itself cannot run in the implicit block of a multi-statement Query):
 * https://www.postgresql.org/docs/15/sql-discard.html. A hot standby refuses UNLISTEN
 * during recovery (and nothing can LISTEN there), so it is left out on one.
 */
export function discardSessionStateSql(connection: BackendConnection): string {
  const unlisten = connection.parameters.get('in_hot_standby') === 'on' ? '' : ' UNLISTEN *;';
  return `CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; DEALLOCATE ALL;${unlisten} SELECT pg_catalog.pg_advisory_unlock_all(); DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES`;
}

/** A reader that, asked to, reads the rest of its request's answer into its own buffer. */
export interface UnfinishedReader {
  readonly ticket: number;
  spill(): Promise<void>;
}

/** BackendConnection.owner of a connection nobody has used yet. */
export const FRESH_CONNECTION = -1;
/** BackendConnection.owner for the coordinator's own statements (catalog, recovery, control plane). */
export const INTERNAL_OWNER = 0;

/** An error the server reported (ErrorResponse), carrying all of its fields. */
export class ServerError extends Error {
  constructor(readonly fields: NoticeFields) {
    super(fields.message ?? 'server error');
  }
  get sqlstate(): string {
    return this.fields.code ?? 'XX000';
  }
}

/** The connection broke (socket closed, protocol violation): it cannot be reused. */
export class ConnectionLostError extends Error {
  readonly sqlstate: string = '08006';
}

/**
 * No connection could be made (refused, timed out, the server starting, shutting down
 * or not a primary): nothing was sent on it, so whatever was to run there did not.
 */
export class ConnectFailedError extends ConnectionLostError {
  override readonly sqlstate = '08001';
}

/**
 * One connection from the coordinator to a PostgreSQL server, speaking the wire
 * protocol with dpg's own codec so that result frames can be forwarded to clients
 * without being decoded and encoded again.
 */
export class BackendConnection {
  readonly parameters = new Map<string, string>();
  processId = 0;
  secretKey = 0;
  /** Transaction status from the last ReadyForQuery: I idle, T in a block, E failed block. */
  transactionStatus: 'I' | 'T' | 'E' = 'I';
  /** Names of statements prepared on this connection (by the coordinator). */
  readonly prepared = new Set<string>();
  /** Fingerprint of the session settings last applied here (see executor/session-settings). */
  settingsKey = '';
  /** hnsw.ef_search as the coordinator last SET it at session level (null: as the session settings left it). */
  efSearch: number | null = null;
  /** synchronous_commit as the coordinator last SET it for a table's durability (null: the server's, 'on'). */
  synchronousCommit: 'on' | 'local' | null = null;
  /** hnsw.ef_search SET LOCAL in the transaction block now open here. */
  localEfSearch: number | null = null;
  broken = false;
  /**
   * Who used this connection last: a client session's id, INTERNAL_OWNER for the
   * coordinator's own work, FRESH_CONNECTION before anyone. When it passes to another
   * owner its session state is discarded first (GroupPool.acquire).
   */
  owner = FRESH_CONNECTION;
  /** discardSessionStateSql() is due before the new owner's first statement (sent with its settings). */
  discardPending = false;
  /** Set when the server reported a lexing setting dpg cannot follow (see LEXING_SETTINGS). */
  lexingChanged: string | null = null;
  /** The pool's generation when this connection was opened: a leader change makes older ones stale. */
  poolGeneration = 0;
  lastUsed = Date.now();
  queriesRun = 0;

  /**
   * PostgreSQL builds a message in one StringInfo, which cannot grow past MaxAllocSize
   * (1 GB - 1): no message from a node is longer, so a DataRow of any size a node can
   * send is read (the client-facing reader's default, 256 MB, would cut a large row).
   */
  private readonly reader = new FrameReader({ maxMessageBytes: 0x3fffffff });
  /**
   * Bytes of frames received and not yet read. Past PAUSE_BYTES the socket is paused
   * (the node then waits on TCP), and it is resumed below RESUME_BYTES: a client that
   * reads slowly, or not at all, holds at most about this much per node connection
   * on the coordinator instead of the whole result.
   */
  private queuedBytes = 0;
  private paused = false;
  private static readonly PAUSE_BYTES = 1024 * 1024;
  private static readonly RESUME_BYTES = 256 * 1024;
  /** Requests sent that the server answers with ReadyForQuery, and the answers read so far. */
  private requestsSent = 0;
  private requestsAnswered = 0;
  private readonly queue: Frame[] = [];
  private waiter: { resolve: (f: Frame) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly target: BackendTarget,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = this.reader.push(chunk);
      } catch (error) {
        this.fail(new ConnectionLostError(`protocol error from ${this.describe()}: ${(error as Error).message}`));
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        if (frame.code === BackendCode.ParameterStatus) this.noteParameter(frame);
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = null;
          w.resolve(frame);
        } else {
          this.queue.push(frame);
          this.queuedBytes += frame.raw.length;
        }
      }
      if (this.queuedBytes > BackendConnection.PAUSE_BYTES && !this.paused) {
        this.paused = true;
        socket.pause();
      }
    });
    socket.on('error', (error) => this.fail(new ConnectionLostError(`connection to ${this.describe()} failed: ${error.message}`)));
    socket.on('close', () => this.fail(new ConnectionLostError(`connection to ${this.describe()} closed`)));
  }

  describe(): string {
    return `${this.target.host}:${this.target.port}`;
  }

  private noteParameter(frame: Frame): void {
    const message = decodeBackend(frame);
    if (message.type !== 'ParameterStatus') return;
    this.lexingChanged ??= lexingChange(message.name, message.value);
  }

  /**
   * At the end of a request (its ReadyForQuery): if the session now lexes SQL otherwise
   * than dpg, the connection is closed (never pooled again) and the request fails.
   */
  checkLexing(): void {
    if (this.lexingChanged === null) return;
    this.destroy();
    throw new LexingChangedError(this.lexingChanged);
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.broken = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(error);
    }
  }

  static async open(target: BackendTarget): Promise<BackendConnection> {
    const socket = connect({ host: target.host, port: target.port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectFailedError(`connecting to ${target.host}:${target.port} timed out`));
      }, target.connectTimeoutMs ?? 5000);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new ConnectFailedError(`cannot connect to ${target.host}:${target.port}: ${error.message}`));
      });
    });
    let stream: Socket = socket;
    if (target.tls) {
      try {
        stream = await startTls(socket, target, target.tls.ca);
      } catch (error) {
        socket.destroy();
        throw error;
      }
    }
    const connection = new BackendConnection(stream, target);
    // A dead peer (a node cut off without a reset) is noticed by TCP keepalive, not never.
    socket.setKeepAlive(true, 5000);
    try {
      // The whole startup is bounded too: a server that accepts and then says nothing is not reached.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ConnectFailedError(`${target.host}:${target.port} accepted but did not complete the startup within ${target.connectTimeoutMs ?? 5000} ms`)), target.connectTimeoutMs ?? 5000);
      });
      try {
        await Promise.race([connection.startup(), timeout]);
      } finally {
        clearTimeout(timer);
      }
    } catch (error) {
      connection.destroy();
      // The server refused the session before any statement (starting up, shutting down, lost mid-startup).
      if (error instanceof ConnectionLostError || (error instanceof ServerError && error.sqlstate.startsWith('57P'))) {
        throw new ConnectFailedError(`cannot connect to ${target.host}:${target.port}: ${error.message}`);
      }
      throw error;
    }
    if (target.primaryOnly && connection.parameters.get('in_hot_standby') === 'on') {
      connection.destroy();
      throw new ConnectFailedError(`${target.host}:${target.port} is not a primary (yet): it is in recovery`);
    }
    return connection;
  }

  private async startup(): Promise<void> {
    this.socket.write(
      encodeFrontend({
        type: 'Startup',
        protocolVersion: 196608,
        parameters: { user: this.target.user, database: this.target.database, client_encoding: 'UTF8', ...this.target.parameters },
      }),
    );
    let scram: ScramClientSession | null = null;
    for (;;) {
      const frame = await this.readFrame();
      const message = decodeBackend(frame);
      switch (message.type) {
        case 'Authentication':
          if (message.code === 0) break;
          if (message.code === 10) {
            const mechanisms = message.data.toString('utf8').split('\0').filter(Boolean);
            if (!mechanisms.includes(SCRAM_MECHANISM)) throw new ConnectionLostError(`${this.describe()} offers no ${SCRAM_MECHANISM}`);
            scram = new ScramClientSession(this.target.password);
            this.socket.write(encodeSASLInitialResponse(SCRAM_MECHANISM, scram.clientFirst()));
          } else if (message.code === 11 && scram) {
            this.socket.write(encodeSASLResponse(scram.handleServerFirst(message.data)));
          } else if (message.code === 12 && scram) {
            scram.verifyServerFinal(message.data);
          } else if (message.code === 3 || message.code === 5) {
            // A node asking for the password itself (cleartext) or an MD5 of it is not what dpg's nodes do (SCRAM): whoever asks does not get it.
            throw new ConnectFailedError(`${this.describe()} asks for the password ${message.code === 3 ? 'in cleartext' : 'as MD5'}; the coordinator authenticates to nodes only by SCRAM-SHA-256 and does not send it`);
          } else {
            throw new ConnectionLostError(`${this.describe()} asks for an unsupported authentication method (${message.code})`);
          }
          break;
        case 'ParameterStatus':
          this.parameters.set(message.name, message.value);
          break;
        case 'BackendKeyData':
          this.processId = message.processId;
          this.secretKey = message.secretKey;
          break;
        case 'ErrorResponse':
          throw new ServerError(message.fields);
        case 'NoticeResponse':
          break;
        case 'ReadyForQuery':
          this.transactionStatus = message.status;
          // A role or database default (ALTER ROLE ... SET standard_conforming_strings) shows here.
          this.checkLexing();
          return;
        default:
          throw new ConnectionLostError(`unexpected ${message.type} from ${this.describe()} during startup`);
      }
    }
  }

  /**
   * Sends messages. `expectsReady`: the data ends a request (a Query, or a batch ending
   * with Sync) that the server answers with ReadyForQuery; COPY data does not.
   */
  write(data: Buffer, expectsReady = true): void {
    if (this.failure) throw this.failure;
    if (expectsReady) this.requestsSent++;
    this.socket.write(data);
  }

  /** The number of the request last written: its answer is complete once `answered(ticket)`. */
  get lastRequest(): number {
    return this.requestsSent;
  }

  /** True once the ReadyForQuery of request `ticket` has been read (by anyone). */
  answered(ticket: number): boolean {
    return this.requestsAnswered >= ticket;
  }

  /** True when every request sent has been answered to its ReadyForQuery. */
  get idle(): boolean {
    return this.requestsAnswered >= this.requestsSent && !this.broken;
  }

  /**
   * Reads and discards what is left of earlier requests (a stream abandoned after an
   * error elsewhere), so the next request's reader sees only its own answers.
   */
  async settle(): Promise<void> {
    while (this.requestsAnswered < this.requestsSent) {
      // A reader still reading its answer (a portal suspended by a row limit) keeps it:
      // the rest is read into its own buffer, not thrown away.
      const reader = this.unfinished.find((r) => r.ticket > this.requestsAnswered);
      if (reader) {
        await reader.spill();
        this.unfinished.splice(this.unfinished.indexOf(reader), 1);
        continue;
      }
      await this.readFrame();
    }
  }

  /** Readers of requests not answered to the end yet, oldest first (see settle). */
  private readonly unfinished: UnfinishedReader[] = [];

  /** A reader of request `ticket` that may stop halfway (WorkerResultStream). */
  register(reader: UnfinishedReader): void {
    this.unfinished.push(reader);
  }

  unregister(reader: UnfinishedReader): void {
    const index = this.unfinished.indexOf(reader);
    if (index >= 0) this.unfinished.splice(index, 1);
  }

  private consumed(frame: Frame): Frame {
    if (frame.code === BackendCode.ReadyForQuery && this.requestsAnswered < this.requestsSent) this.requestsAnswered++;
    return frame;
  }

  /** The next frame from the server, in order. */
  private dequeue(): Frame | undefined {
    const frame = this.queue.shift();
    if (!frame) return undefined;
    this.queuedBytes -= frame.raw.length;
    if (this.paused && this.queuedBytes < BackendConnection.RESUME_BYTES) {
      this.paused = false;
      this.socket.resume();
    }
    return frame;
  }

  readFrame(): Promise<Frame> {
    const frame = this.dequeue();
    if (frame) return Promise.resolve(this.consumed(frame));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Frame>((resolve, reject) => {
      this.waiter = { resolve, reject };
    }).then((f) => this.consumed(f));
  }

  /** Frames already received and not yet read (lets callers batch without awaiting each). */
  takeBuffered(): Frame | undefined {
    const frame = this.dequeue();
    return frame && this.consumed(frame);
  }

  /**
   * Reads the responses to what was sent, up to ReadyForQuery: each frame but the
   * ErrorResponse and ReadyForQuery goes to `onFrame`; the server's error, if any, is
   * thrown once the connection is ready again (so it stays usable).
   */
  async readUntilReady(onFrame: (frame: Frame) => void = () => {}): Promise<void> {
    let error: ServerError | null = null;
    for (;;) {
      const frame = await this.readFrame();
      if (frame.code === BackendCode.ErrorResponse) {
        const m = decodeBackend(frame);
        if (m.type === 'ErrorResponse') error ??= new ServerError(m.fields);
      } else if (frame.code === BackendCode.ReadyForQuery) {
        const m = decodeBackend(frame);
        if (m.type === 'ReadyForQuery') this.transactionStatus = m.status;
        if (error) throw error;
        this.checkLexing();
        return;
      } else {
        onFrame(frame);
      }
    }
  }

  /**
   * Runs SQL with the simple query protocol and returns text rows; for the
   * coordinator's own statements (BEGIN, SET, catalog lookups), not client results.
   */
  async simpleQuery(sql: string): Promise<{ rows: (string | null)[][]; tags: string[] }> {
    await this.settle();
    this.write(encodeFrontend({ type: 'Query', sql }));
    const rows: (string | null)[][] = [];
    const tags: string[] = [];
    await this.readUntilReady((frame) => {
      if (frame.code === BackendCode.DataRow) {
        rows.push(dataRowValues(frame).map((v) => (v === null ? null : v.toString('utf8'))));
      } else if (frame.code === BackendCode.CommandComplete || frame.code === BackendCode.ParameterStatus) {
        const m = decodeBackend(frame);
        if (m.type === 'CommandComplete') tags.push(m.tag);
        else if (m.type === 'ParameterStatus') this.parameters.set(m.name, m.value);
      }
    });
    return { rows, tags };
  }

  /**
   * The session state a node keeps per connection is gone (DISCARD ALL ran): what the
   * coordinator remembers of it goes too.
   */
  discarded(): void {
    this.discardPending = false;
    this.prepared.clear();
    this.settingsKey = '';
    this.efSearch = null;
    this.synchronousCommit = null;
    this.localEfSearch = null;
  }

  /** Asks the server to cancel whatever this connection is running (a separate connection, as the protocol requires). */
  async cancel(): Promise<void> {
    const socket = connect({ host: this.target.host, port: this.target.port });
    await new Promise<void>((resolve) => {
      socket.once('connect', () => {
        socket.end(encodeFrontend({ type: 'CancelRequest', processId: this.processId, secretKey: this.secretKey }));
      });
      socket.once('close', () => resolve());
      socket.once('error', () => resolve());
    });
  }

  destroy(): void {
    this.broken = true;
    this.socket.destroy();
  }

  async close(): Promise<void> {
    if (!this.broken) {
      try {
        this.socket.end(encodeFrontend({ type: 'Terminate' }));
      } catch {
        // already closed
      }
    }
    this.destroy();
  }
}
