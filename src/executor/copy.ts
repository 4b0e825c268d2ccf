import { encodeBackend, COPY_DONE } from '../protocol/backend.ts';
import { encodeFrontend } from '../protocol/frontend.ts';
import { BackendCode } from '../protocol/message-codes.ts';
import { decodeBackend } from '../protocol/backend.ts';
import type { CopyPlan } from '../planner/plan.ts';
import { fillShard } from '../physical/sql-template.ts';
import { ClientError } from '../shared/errors.ts';
import { ServerError, type BackendConnection } from '../backend/backend-connection.ts';
import type { ExecutionContext } from './run-plan.ts';
import type { ResultStream } from './result-stream.ts';
import { TextRowSplitter, CsvRowSplitter, BinaryRowSplitter, BINARY_HEADER, BINARY_TRAILER, type RowSplitter } from './copy-rows.ts';

/** A shard's buffered rows are sent once they reach this size, so memory stays bounded. */
const FLUSH_BYTES = 4 * 1024 * 1024;

function copyFormatCode(plan: CopyPlan): number {
  return plan.format === 'binary' ? 1 : 0;
}

/** CopyData messages need not follow rows: a large row goes out in pieces of this size, the event loop served between them. */
const COPY_PIECE_BYTES = 1024 * 1024;

async function sendCopyData(connection: BackendConnection, chunks: Buffer[]): Promise<void> {
  const small: Buffer[] = [];
  for (const data of chunks) {
    if (data.length <= COPY_PIECE_BYTES) {
      small.push(encodeFrontend({ type: 'CopyData', data }));
      continue;
    }
    if (small.length > 0) connection.write(Buffer.concat(small.splice(0)), false);
    for (let offset = 0; offset < data.length; offset += COPY_PIECE_BYTES) {
      connection.write(encodeFrontend({ type: 'CopyData', data: data.subarray(offset, offset + COPY_PIECE_BYTES) }), false);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  small.push(encodeFrontend({ type: 'CopyDone' }));
  connection.write(Buffer.concat(small), false);
}

/** Runs one COPY ... FROM STDIN on a worker connection with the given data; returns the row count. */
async function copyIntoShard(connection: BackendConnection, sql: string, chunks: Buffer[]): Promise<number> {
  connection.write(encodeFrontend({ type: 'Query', sql }));
  let rows = 0;
  let sending: Promise<void> = Promise.resolve();
  await connection.readUntilReady((frame) => {
    if (frame.code === BackendCode.CopyInResponse) {
      sending = sendCopyData(connection, chunks);
      // A failure to write shows as the connection's failure in readUntilReady.
      sending.catch(() => {});
    } else if (frame.code === BackendCode.CommandComplete) {
      const m = decodeBackend(frame);
      if (m.type === 'CommandComplete') rows += Number(/(\d+)$/.exec(m.tag)?.[1] ?? 0);
    }
  });
  await sending;
  return rows;
}

/**
 * COPY FROM STDIN into a distributed or reference table: rows are read as they
 * arrive, grouped by shard, and sent to the shards in COPYs of bounded size, all in
 * one transaction (two-phase commit when several groups take part).
 */
export class CopyIn {
  private readonly splitter: RowSplitter;
  private readonly buffers = new Map<number, { chunks: Buffer[]; bytes: number }>();
  private rows = 0;
  private ownBlock = false;
  error: unknown = null;

  private constructor(
    private readonly ctx: ExecutionContext,
    private readonly plan: CopyPlan,
    column: number,
    private readonly columnCount: number,
  ) {
    const byte = (s: string) => Buffer.from(s)[0]!;
    this.splitter =
      plan.format === 'binary'
        ? new BinaryRowSplitter(column)
        : plan.format === 'csv'
          ? new CsvRowSplitter(column, byte(plan.delimiter), byte(plan.quote), byte(plan.escape), plan.nullString, plan.header)
          : new TextRowSplitter(column, byte(plan.delimiter), plan.nullString);
  }

  static async start(ctx: ExecutionContext, plan: CopyPlan): Promise<CopyIn> {
    const columns = plan.columns ?? (await ctx.coordinator.tableColumns(plan.table.name));
    let column = -1;
    if (plan.table.kind === 'distributed') {
      column = columns.indexOf(plan.table.distributionColumn!);
      if (column < 0) {
        throw new ClientError('23502', `COPY into ${plan.table.name} must include its distribution column ${plan.table.distributionColumn}`);
      }
    }
    const copy = new CopyIn(ctx, plan, column, columns.length);
    // Rows for a reference table go to the groups of this epoch; the commit checks it still holds.
    if (plan.table.kind === 'reference') ctx.transaction.referenceEpoch ??= ctx.coordinator.snapshot.referenceEpoch;
    if (!ctx.transaction.inBlock) {
      ctx.transaction.begin('BEGIN');
      copy.ownBlock = true;
    }
    return copy;
  }

  /** The CopyInResponse the client gets. */
  response(): Buffer {
    const format = copyFormatCode(this.plan);
    return encodeBackend({ type: 'CopyInResponse', format, columnFormats: Array<number>(this.columnCount).fill(format) });
  }

  async data(chunk: Buffer): Promise<void> {
    if (this.error) return;
    try {
      for (const row of this.splitter.push(chunk)) await this.route(row.raw, row.value);
    } catch (error) {
      this.error = error;
    }
  }

  private async route(raw: Buffer, value: string | null): Promise<void> {
    const table = this.plan.table;
    let shard = 0;
    if (table.kind === 'distributed') {
      if (value === null) throw new ClientError('23502', `the distribution column ${table.distributionColumn} of ${table.name} cannot be NULL (row ${this.rows + 1})`);
      shard = this.ctx.coordinator.snapshot.shardIndexForNewRow(table, value);
    }
    const buffer = this.buffers.get(shard) ?? { chunks: [], bytes: 0 };
    // A small row is copied out of its CopyData chunk, so the chunk is not kept for it; a large one is used as it is.
    buffer.chunks.push(raw.length < COPY_PIECE_BYTES ? Buffer.from(raw) : raw);
    buffer.bytes += raw.length;
    this.buffers.set(shard, buffer);
    this.rows++;
    if (buffer.bytes >= FLUSH_BYTES) await this.flushShard(shard);
  }

  private async flushShard(shard: number): Promise<void> {
    const buffer = this.buffers.get(shard);
    if (!buffer || buffer.chunks.length === 0) return;
    this.buffers.delete(shard);
    const chunks = this.plan.format === 'binary' ? [BINARY_HEADER, ...buffer.chunks, BINARY_TRAILER] : buffer.chunks;
    const sql = fillShard(this.plan.template, [this.plan.table], shard);
    const groups = this.ctx.coordinator.snapshot.placementGroups(this.plan.table, shard);
    const durability = this.ctx.coordinator.tableDurability(this.plan.table);
    await Promise.all(groups.map(async (group) => copyIntoShard(await this.ctx.transaction.connection(group, { write: true, durability }), sql, chunks)));
  }

  /** CopyDone: sends what is left and commits; returns the command tag. */
  async done(): Promise<string> {
    try {
      if (this.error) throw this.error;
      for (const row of this.splitter.end()) await this.route(row.raw, row.value);
      for (const shard of [...this.buffers.keys()]) await this.flushShard(shard);
      if (this.ownBlock) await this.ctx.transaction.commit();
      return `COPY ${this.rows}`;
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  async abort(): Promise<void> {
    this.buffers.clear();
    if (this.ownBlock) await this.ctx.transaction.rollback().catch(() => {});
    else this.ctx.transaction.fail();
    this.ownBlock = false;
  }
}

/**
 * COPY TO STDOUT of a distributed or reference table: each shard's COPY in turn,
 * as one COPY to the client (one header; in binary, one signature and one trailer).
 * The frames are given out like rows, so they stream.
 */
export class CopyOutStream implements ResultStream {
  private shardIndex = 0;
  private connection: BackendConnection | null = null;
  private rows = 0;
  private started = false;
  private finished = false;
  private readonly shards: number[];
  /** Binary: bytes of the current shard's stream still to skip (its header), and a held-back trailer. */
  private skipBytes = 0;
  private held: Buffer | null = null;

  constructor(
    private readonly ctx: ExecutionContext,
    private readonly plan: CopyPlan,
    private readonly headerLine: Buffer | null,
  ) {
    this.shards = plan.table.kind === 'reference' ? [0] : plan.table.shards.map((s) => s.index);
  }

  async description(): Promise<Buffer | null> {
    return null;
  }

  private async openShard(): Promise<void> {
    const shard = this.shards[this.shardIndex]!;
    const group = this.ctx.coordinator.snapshot.placementGroups(this.plan.table, shard)[0]!;
    this.connection = await this.ctx.transaction.connection(group);
    this.connection.write(encodeFrontend({ type: 'Query', sql: fillShard(this.plan.template, [this.plan.table], shard) }));
    this.skipBytes = this.plan.format === 'binary' && this.shardIndex > 0 ? -1 : 0;
  }

  async nextRow(): Promise<Buffer | null> {
    if (this.finished) return null;
    if (!this.started) {
      this.started = true;
      const columns = this.plan.columns ?? (await this.ctx.coordinator.tableColumns(this.plan.table.name));
      const format = copyFormatCode(this.plan);
      await this.openShard();
      const response = encodeBackend({ type: 'CopyOutResponse', format, columnFormats: Array<number>(columns.length).fill(format) });
      return this.headerLine ? Buffer.concat([response, encodeFrontend({ type: 'CopyData', data: this.headerLine })]) : response;
    }
    let error: ServerError | null = null;
    for (;;) {
      const frame = await this.connection!.readFrame();
      switch (frame.code) {
        case BackendCode.CopyData: {
          const data = this.binaryFilter(frame.body);
          if (data.length > 0) return encodeFrontend({ type: 'CopyData', data });
          break;
        }
        case BackendCode.CommandComplete: {
          const m = decodeBackend(frame);
          if (m.type === 'CommandComplete') this.rows += Number(/(\d+)$/.exec(m.tag)?.[1] ?? 0);
          break;
        }
        case BackendCode.ErrorResponse: {
          const m = decodeBackend(frame);
          if (m.type === 'ErrorResponse') error = new ServerError(m.fields);
          break;
        }
        case BackendCode.ReadyForQuery: {
          if (error) throw error;
          this.shardIndex++;
          if (this.shardIndex < this.shards.length) {
            await this.openShard();
            break;
          }
          this.finished = true;
          const trailer = this.held ? encodeFrontend({ type: 'CopyData', data: this.held }) : Buffer.alloc(0);
          return Buffer.concat([trailer, COPY_DONE]);
        }
        default:
          // CopyOutResponse and CopyDone of each shard: the client gets one of each.
          break;
      }
    }
  }

  /** Binary COPY: drops each later shard's header and holds back each shard's trailer until the very end. */
  private binaryFilter(data: Buffer): Buffer {
    if (this.plan.format !== 'binary') return data;
    let out = data;
    if (this.skipBytes === -1 && out.length >= 19) {
      this.skipBytes = 19 + out.readUInt32BE(15);
    }
    if (this.skipBytes > 0) {
      const skip = Math.min(this.skipBytes, out.length);
      out = out.subarray(skip);
      this.skipBytes -= skip;
    }
    if (out.length === 2 && out.equals(BINARY_TRAILER)) {
      this.held = Buffer.from(out);
      return Buffer.alloc(0);
    }
    return out;
  }

  tag(): string {
    return `COPY ${this.rows}`;
  }

  async close(): Promise<void> {
    while (!this.finished) {
      try {
        if ((await this.nextRow()) === null) break;
      } catch {
        break;
      }
    }
  }
}

/** The header line a COPY TO with HEADER writes once (the shards' COPYs have none). */
export async function copyHeaderLine(ctx: ExecutionContext, plan: CopyPlan): Promise<Buffer | null> {
  if (!plan.header || plan.format === 'binary') return null;
  const columns = plan.columns ?? (await ctx.coordinator.tableColumns(plan.table.name));
  const needsQuotes = (name: string) => plan.format === 'csv' && (/["\n\r]/.test(name) || name.includes(plan.delimiter));
  const quote = (name: string) => (needsQuotes(name) ? `${plan.quote}${name.split(plan.quote).join(plan.quote + plan.quote)}${plan.quote}` : name);
  return Buffer.from(`${columns.map(quote).join(plan.delimiter)}\n`);
}


/**
 * COPY FROM STDIN into a table that lives on the control group: the data is passed
 * through to the control group's COPY as it comes.
 */
export class CopyRelay {
  private constructor(
    private readonly connection: BackendConnection,
    private readonly responseFrame: Buffer,
  ) {}

  static async start(ctx: ExecutionContext, sql: string): Promise<CopyRelay> {
    const connection = await ctx.transaction.connection(0, { write: true });
    connection.write(encodeFrontend({ type: 'Query', sql }));
    let error: ServerError | null = null;
    for (;;) {
      const frame = await connection.readFrame();
      if (frame.code === BackendCode.CopyInResponse) return new CopyRelay(connection, Buffer.from(frame.raw));
      if (frame.code === BackendCode.ErrorResponse) {
        const m = decodeBackend(frame);
        if (m.type === 'ErrorResponse') error = new ServerError(m.fields);
      } else if (frame.code === BackendCode.ReadyForQuery) {
        const m = decodeBackend(frame);
        if (m.type === 'ReadyForQuery') connection.transactionStatus = m.status;
        throw error ?? new ClientError('08P01', 'the control group did not start the COPY');
      }
    }
  }

  response(): Buffer {
    return this.responseFrame;
  }

  async data(chunk: Buffer): Promise<void> {
    this.connection.write(encodeFrontend({ type: 'CopyData', data: chunk }), false);
  }

  private async finish(): Promise<string> {
    let tag = '';
    await this.connection.readUntilReady((frame) => {
      const m = decodeBackend(frame);
      if (m.type === 'CommandComplete') tag = m.tag;
    });
    return tag;
  }

  async done(): Promise<string> {
    this.connection.write(encodeFrontend({ type: 'CopyDone' }), false);
    return this.finish();
  }

  async abort(message = 'aborted by the client'): Promise<void> {
    this.connection.write(encodeFrontend({ type: 'CopyFail', message }), false);
    await this.finish().catch(() => {});
  }
}
