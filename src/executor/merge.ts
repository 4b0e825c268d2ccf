import type { Frame } from '../protocol/frames.ts';
import { decodeBackend } from '../protocol/backend.ts';
import type { SortKey } from '../planner/plan.ts';
import { ClientError, SqlState } from '../server/client-error.ts';
import { stripHiddenColumns, type ResultStream, type WorkerResultStream } from './result-stream.ts';

/** Compares two sort values in PostgreSQL's text output format, by the column's type OID. */
type Compare = (a: Buffer, b: Buffer) => number;

const INTEGER_TYPES = new Set([20, 21, 23, 26]);
const FLOAT_TYPES = new Set([700, 701]);
const NUMERIC = 1700;
const BOOL = 16;

function compareBigInts(a: Buffer, b: Buffer): number {
  const x = BigInt(a.toString('latin1'));
  const y = BigInt(b.toString('latin1'));
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareFloats(a: Buffer, b: Buffer): number {
  // PostgreSQL orders NaN above every other value, +Infinity included.
  const x = Number(a.toString('latin1'));
  const y = Number(b.toString('latin1'));
  const xn = Number.isNaN(x);
  const yn = Number.isNaN(y);
  if (xn || yn) return xn === yn ? 0 : xn ? 1 : -1;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Exact comparison of numeric text ("-12.50", "NaN", "Infinity"), without floating point. */
export function compareNumericText(a: string, b: string): number {
  const rank = (s: string) => (s === 'NaN' ? 3 : s === 'Infinity' ? 2 : s === '-Infinity' ? -2 : 0);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== 0 || rb !== 0) return ra === rb ? 0 : ra < rb ? -1 : 1;
  const negA = a.startsWith('-');
  const negB = b.startsWith('-');
  if (negA !== negB) {
    const zero = (s: string) => /^-?0*(\.0*)?$/.test(s);
    if (zero(a) && zero(b)) return 0;
    return negA ? -1 : 1;
  }
  const magnitude = compareMagnitude(negA ? a.slice(1) : a, negB ? b.slice(1) : b);
  return negA ? -magnitude : magnitude;
}

function compareMagnitude(a: string, b: string): number {
  const [ai = '', af = ''] = a.split('.');
  const [bi = '', bf = ''] = b.split('.');
  const aInt = ai.replace(/^0+/, '');
  const bInt = bi.replace(/^0+/, '');
  if (aInt.length !== bInt.length) return aInt.length < bInt.length ? -1 : 1;
  if (aInt !== bInt) return aInt < bInt ? -1 : 1;
  const length = Math.max(af.length, bf.length);
  const aFrac = af.padEnd(length, '0');
  const bFrac = bf.padEnd(length, '0');
  return aFrac === bFrac ? 0 : aFrac < bFrac ? -1 : 1;
}

/** timestamptz output in the ISO DateStyle, as microseconds since 2000 (exact, whatever the offsets). */
function timestamptzMicros(text: string): bigint {
  if (text === 'infinity') return 2n ** 62n;
  if (text === '-infinity') return -(2n ** 62n);
  const m = /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?$/.exec(text);
  if (!m) throw new ClientError(SqlState.featureNotSupported, `cannot order timestamp value "${text}" over several shards (DateStyle must be ISO)`);
  const days = BigInt(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 86_400_000);
  const seconds = days * 86_400n + BigInt(Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6]));
  const offset = (Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0)) * (m[8] === '-' ? -1 : 1);
  return (seconds - BigInt(offset)) * 1_000_000n + BigInt((m[7] ?? '').padEnd(6, '0'));
}

const BYTE_ORDER_TYPES = new Set([25, 1043, 1042, 19, 2950, 1082, 1114]);

/** The comparison for a sort column, or a 0A000 error for a type whose text form does not sort like its values. */
export function comparatorFor(typeOid: number): Compare {
  if (INTEGER_TYPES.has(typeOid)) return compareBigInts;
  if (FLOAT_TYPES.has(typeOid)) return compareFloats;
  if (typeOid === NUMERIC) return (a, b) => compareNumericText(a.toString('latin1'), b.toString('latin1'));
  if (typeOid === BOOL) return (a, b) => a[0]! - b[0]!;
  if (typeOid === 1184) {
    return (a, b) => {
      const x = timestamptzMicros(a.toString('latin1'));
      const y = timestamptzMicros(b.toString('latin1'));
      return x < y ? -1 : x > y ? 1 : 0;
    };
  }
  // Text (byte order is the order of the C / C.UTF-8 collation dpg's nodes use), uuid,
  // and ISO dates and timestamps sort by their bytes.
  if (BYTE_ORDER_TYPES.has(typeOid)) return (a, b) => Buffer.compare(a, b);
  throw new ClientError(SqlState.featureNotSupported, `ORDER BY a value of type OID ${typeOid} over several shards is not supported yet (its text form does not sort like its values)`);
}

/** Values of a DataRow as views (null for SQL NULL). */
function rowValues(frame: Frame): (Buffer | null)[] {
  const body = frame.body;
  const count = body.readInt16BE(0);
  const values: (Buffer | null)[] = new Array(count);
  let offset = 2;
  for (let i = 0; i < count; i++) {
    const length = body.readInt32BE(offset);
    offset += 4;
    if (length < 0) values[i] = null;
    else {
      values[i] = body.subarray(offset, offset + length);
      offset += length;
    }
  }
  return values;
}

interface Head {
  stream: WorkerResultStream;
  frame: Frame;
  keys: (Buffer | null)[];
}

/**
 * Merges the sorted results of several workers into one sorted result (a k-way merge
 * on the hidden sort columns), then applies OFFSET and LIMIT. Without sort keys the
 * results are concatenated.
 */
export class MergedResultStream implements ResultStream {
  private heads: Head[] = [];
  private started = false;
  private comparators: Compare[] = [];
  private columns: number[] = [];
  private emitted = 0;
  private skipped = 0;
  private finished = false;
  private pending: WorkerResultStream[] = [];

  constructor(
    private readonly streams: WorkerResultStream[],
    private readonly sortKeys: SortKey[],
    private readonly hiddenColumns: number,
    private readonly offset: number,
    private readonly limit: number | null,
    private readonly onClose: () => void,
  ) {}

  async description(): Promise<Buffer | null> {
    let description: Buffer | null = null;
    for (const stream of this.streams) {
      const d = await stream.description();
      description ??= d;
    }
    return description;
  }

  private async start(): Promise<void> {
    this.started = true;
    await this.description();
    const raw = this.streams.find((s) => s.rawDescription)?.rawDescription;
    if (raw && this.sortKeys.length > 0) {
      const message = decodeBackend(raw);
      if (message.type === 'RowDescription') {
        // Sort keys number the hidden columns, which are the last ones of each row.
        const firstHidden = message.fields.length - this.hiddenColumns;
        this.columns = this.sortKeys.map((key) => firstHidden + key.column);
        this.comparators = this.columns.map((column) => comparatorFor(message.fields[column]!.typeOid));
      }
    }
    if (this.sortKeys.length === 0) {
      this.pending = [...this.streams];
      return;
    }
    for (const stream of this.streams) await this.pushHead(stream);
  }

  private async pushHead(stream: WorkerResultStream): Promise<void> {
    const frame = await stream.nextFrame();
    if (!frame) return;
    const values = rowValues(frame);
    const head: Head = { stream, frame, keys: this.columns.map((column) => values[column] ?? null) };
    // Insertion into a sorted array: the number of workers is small.
    let i = this.heads.length;
    while (i > 0 && this.compare(head, this.heads[i - 1]!) < 0) i--;
    this.heads.splice(i, 0, head);
  }

  private compare(a: Head, b: Head): number {
    for (let i = 0; i < this.sortKeys.length; i++) {
      const key = this.sortKeys[i]!;
      const x = a.keys[i] ?? null;
      const y = b.keys[i] ?? null;
      let c: number;
      if (x === null || y === null) {
        if (x === y) c = 0;
        else c = (x === null) === key.nullsFirst ? -1 : 1;
        if (c !== 0) return c;
        continue;
      }
      c = this.comparators[i]!(x, y);
      if (c !== 0) return key.descending ? -c : c;
    }
    return 0;
  }

  private async nextMerged(): Promise<Frame | null> {
    if (this.sortKeys.length === 0) {
      while (this.pending.length > 0) {
        const frame = await this.pending[0]!.nextFrame();
        if (frame) return frame;
        this.pending.shift();
      }
      return null;
    }
    const head = this.heads.shift();
    if (!head) return null;
    await this.pushHead(head.stream);
    return head.frame;
  }

  async nextRow(): Promise<Buffer | null> {
    if (this.finished) return null;
    if (!this.started) await this.start();
    for (;;) {
      if (this.limit !== null && this.emitted >= this.limit) {
        await this.close();
        return null;
      }
      const frame = await this.nextMerged();
      if (!frame) {
        await this.close();
        return null;
      }
      if (this.skipped < this.offset) {
        this.skipped++;
        continue;
      }
      this.emitted++;
      return this.hiddenColumns > 0 ? stripHiddenColumns(frame, this.hiddenColumns) : frame.raw;
    }
  }

  tag(): string {
    return `SELECT ${this.emitted}`;
  }

  async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const errors: unknown[] = [];
    await Promise.all(this.streams.map((s) => s.close().catch((e) => errors.push(e))));
    this.onClose();
  }
}
