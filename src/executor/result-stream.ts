import { BackendCode } from '../protocol/message-codes.ts';
import { decodeBackend, encodeCommandComplete } from '../protocol/backend.ts';
import type { Frame } from '../protocol/frames.ts';
import { ServerError, type BackendConnection } from '../backend/backend-connection.ts';
import type { TypeMap } from '../topology/type-map.ts';
import { combineTags } from './worker-request.ts';

/**
 * The result of one statement as the coordinator produces it for a client: an
 * optional RowDescription, DataRow frames ready to forward, then a command tag.
 * Rows are pulled one at a time, so a large result streams.
 */
export interface ResultStream {
  /** RowDescription frame for the client, or null when the statement returns no rows. */
  description(): Promise<Buffer | null>;
  /** The next DataRow frame, or null after the last row. */
  nextRow(): Promise<Buffer | null>;
  /** The command tag; valid once nextRow() returned null. */
  tag(): string;
  /** Reads whatever is left and gives connections back; safe to call twice. */
  close(): Promise<void>;
  /** True when the statement was an empty query (EmptyQueryResponse). */
  readonly empty?: boolean;
}

export type NoticeSink = (frame: Buffer) => void;

/** What one unfinished answer may hold in memory while its connection serves another request. */
const SPILL_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * Reads one statement's responses from a worker connection after the request was
 * written (a simple Query, or Parse/Bind/Describe/Execute/Sync): forwards DataRow
 * frames as they are, maps the RowDescription, and ends at ReadyForQuery.
 */
export class WorkerResultStream implements ResultStream {
  private desc: Buffer | null | undefined = undefined;
  private readonly tags: string[] = [];
  private done = false;
  private error: ServerError | null = null;
  private pendingRow: Frame | null = null;
  empty = false;
  /** Rows whose last `hiddenColumns` columns are for the coordinator's merge, not the client. */
  constructor(
    private readonly connection: BackendConnection,
    private readonly typeMap: TypeMap,
    private readonly onNotice: NoticeSink,
    private readonly hiddenColumns = 0,
    private readonly onEnd: () => void = () => {},
    private readonly onError: (parsed: number) => void = () => {},
  ) {
    this.ticket = connection.lastRequest;
    connection.register(this);
  }
  /** ParseComplete messages seen: statements prepared before an error exist on the worker. */
  private parsed = 0;
  /** The request this stream reads the answer to (see BackendConnection.lastRequest). */
  readonly ticket: number;
  /** The rest of the answer, read off the connection so that another request could use it. */
  private spilled: Frame[] | null = null;

  /**
   * Another statement needs the connection while this answer is unfinished (two portals
   * of one transaction on one group, the first suspended by Execute's row limit): the
   * rest of it is read into memory, at most SPILL_LIMIT_BYTES; past that the rest is
   * dropped and this stream ends with an error (54000) instead of fewer rows.
   */
  async spill(): Promise<void> {
    if (this.done || this.spilled) return;
    let frames: Frame[] = [];
    let bytes = 0;
    for (;;) {
      const frame = this.connection.takeBuffered() ?? (await this.connection.readFrame());
      if (frame.code !== BackendCode.ReadyForQuery) bytes += frame.raw.length;
      if (bytes <= SPILL_LIMIT_BYTES) frames.push(frame);
      if (frame.code !== BackendCode.ReadyForQuery) continue;
      if (bytes > SPILL_LIMIT_BYTES) {
        this.error ??= new ServerError({ severity: 'ERROR', severityNonLocalized: 'ERROR', code: '54000', message: `the rest of this portal's result (over ${SPILL_LIMIT_BYTES / 1024 / 1024} MB) could not be kept while another statement ran on the same node connection: fetch it before running another statement in the transaction` });
        frames = [frame];
      }
      break;
    }
    this.spilled = frames;
  }

  /** Advances to the next frame that matters; returns a DataRow frame, or null at the end. */
  private async advance(): Promise<Frame | null> {
    while (!this.done) {
      if (!this.spilled && this.connection.answered(this.ticket)) {
        // Someone read the rest of this answer (the connection was settled for reuse): nothing more comes.
        this.done = true;
        this.connection.unregister(this);
        this.onEnd();
        break;
      }
      const frame = this.spilled ? this.spilled.shift()! : (this.connection.takeBuffered() ?? (await this.connection.readFrame()));
      switch (frame.code) {
        case BackendCode.DataRow:
          if (this.desc === undefined) this.desc = null;
          return frame;
        case BackendCode.RowDescription:
          this.desc = this.typeMap.rowDescription(frame, this.hiddenColumns);
          this.rawDescription = frame;
          break;
        case BackendCode.NoData:
          this.desc = null;
          break;
        case BackendCode.ParseComplete:
          this.parsed++;
          break;
        case BackendCode.CopyOutResponse:
        case BackendCode.CopyData:
        case BackendCode.CopyDone:
          // COPY ... TO STDOUT on one node: its frames go to the client as they are.
          if (this.desc === undefined) this.desc = null;
          return frame;
        case BackendCode.CommandComplete: {
          const message = decodeBackend(frame);
          if (message.type === 'CommandComplete') this.tags.push(message.tag);
          if (this.desc === undefined) this.desc = null;
          break;
        }
        case BackendCode.EmptyQueryResponse:
          this.empty = true;
          if (this.desc === undefined) this.desc = null;
          break;
        case BackendCode.ErrorResponse: {
          const message = decodeBackend(frame);
          if (message.type === 'ErrorResponse') this.error = new ServerError(message.fields);
          this.onError(this.parsed);
          if (this.desc === undefined) this.desc = null;
          break;
        }
        case BackendCode.NoticeResponse:
          this.onNotice(frame.raw);
          break;
        case BackendCode.ReadyForQuery: {
          const message = decodeBackend(frame);
          // (A spilled answer's status is history: the connection has moved on.)
          if (message.type === 'ReadyForQuery' && !this.spilled) this.connection.transactionStatus = message.status;
          this.done = true;
          this.connection.unregister(this);
          this.onEnd();
          if (this.error) throw this.error;
          this.connection.checkLexing();
          return null;
        }
        default:
          // ParseComplete, BindComplete, ParameterStatus, CloseComplete, PortalSuspended: nothing for the client.
          break;
      }
    }
    if (this.error) throw this.error;
    return null;
  }

  /** The worker's own RowDescription (for the merge: column types of hidden sort columns). */
  rawDescription: Frame | null = null;

  async description(): Promise<Buffer | null> {
    if (this.desc === undefined) {
      const row = await this.advance();
      this.pendingRow = row;
    }
    return this.desc ?? null;
  }

  async nextRow(): Promise<Buffer | null> {
    const frame = await this.nextFrame();
    if (!frame) return null;
    return this.hiddenColumns > 0 ? stripHiddenColumns(frame, this.hiddenColumns) : frame.raw;
  }

  /** The next DataRow as the worker sent it (hidden columns included). */
  async nextFrame(): Promise<Frame | null> {
    if (this.pendingRow) {
      const row = this.pendingRow;
      this.pendingRow = null;
      return row;
    }
    return this.advance();
  }

  tag(): string {
    return combineTags(this.tags);
  }

  async close(): Promise<void> {
    this.pendingRow = null;
    try {
      while (!this.done) await this.advance();
    } catch {
      // the error was (or will be) reported by whoever read the rows
    }
  }
}

/** A DataRow without its last `hidden` columns. */
export function stripHiddenColumns(frame: Frame, hidden: number): Buffer {
  const body = frame.body;
  const count = body.readInt16BE(0);
  const keep = count - hidden;
  let offset = 2;
  for (let i = 0; i < keep; i++) {
    const length = body.readInt32BE(offset);
    offset += 4 + (length > 0 ? length : 0);
  }
  const out = Buffer.allocUnsafe(1 + 4 + offset);
  out[0] = BackendCode.DataRow;
  out.writeInt32BE(4 + offset, 1);
  body.copy(out, 5, 0, offset);
  out.writeInt16BE(keep, 5);
  return out;
}

/** A result the coordinator makes itself (BEGIN, SET, counts of a split INSERT). */
export class LocalResultStream implements ResultStream {
  private index = 0;
  constructor(
    private readonly commandTag: string,
    private readonly desc: Buffer | null = null,
    private readonly rows: Buffer[] = [],
  ) {}
  async description(): Promise<Buffer | null> {
    return this.desc;
  }
  async nextRow(): Promise<Buffer | null> {
    return this.rows[this.index++] ?? null;
  }
  tag(): string {
    return this.commandTag;
  }
  async close(): Promise<void> {}
}

export const commandComplete = encodeCommandComplete;

/**
 * A stream whose description and first row were read before the client is given
 * anything: until then a read whose worker connection broke can run again elsewhere.
 */
export class PrefetchedStream implements ResultStream {
  private firstTaken = false;
  private constructor(
    private readonly inner: ResultStream,
    private readonly desc: Buffer | null,
    private readonly first: Buffer | null,
  ) {}

  static async of(inner: ResultStream): Promise<PrefetchedStream> {
    const desc = await inner.description();
    const first = await inner.nextRow();
    return new PrefetchedStream(inner, desc, first);
  }

  get empty(): boolean | undefined {
    return this.inner.empty;
  }
  async description(): Promise<Buffer | null> {
    return this.desc;
  }
  async nextRow(): Promise<Buffer | null> {
    if (!this.firstTaken) {
      this.firstTaken = true;
      return this.first;
    }
    // (After a null first row the inner stream has ended: it is not read again.)
    return this.first === null ? null : this.inner.nextRow();
  }
  tag(): string {
    return this.inner.tag();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
