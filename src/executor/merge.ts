import type { Frame } from '../protocol/frames.ts';
import { decodeBackend } from '../protocol/backend.ts';
import type { SortKey } from '../planner/plan.ts';
import { ClientError, SqlState } from '../shared/errors.ts';
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

/** Days from 1970-01-01 of a proleptic Gregorian date; `year` astronomical (1 BC = 0). Exact for any year. */
function daysFromCivil(year: number, month: number, day: number): bigint {
  const y = BigInt(month <= 2 ? year - 1 : year);
  const era = (y >= 0n ? y : y - 399n) / 400n;
  const yoe = y - era * 400n;
  const m = BigInt(month);
  const doy = (153n * (m > 2n ? m - 3n : m + 9n) + 2n) / 5n + BigInt(day) - 1n;
  const doe = yoe * 365n + yoe / 4n - yoe / 100n + doy;
  return era * 146097n + doe - 719468n;
}

const INFINITY = 2n ** 62n;

/**
 * A date, timestamp or timestamptz in PostgreSQL's ISO output (DateStyle ISO, the
 * default) as microseconds, exactly: BC years, years below 100 and UTC offsets with
 * seconds included. Another DateStyle's text (SQL, Postgres, German: day and month in
 * either order) is not guessed at: 0A000.
 */
export function isoDateTimeMicros(text: string, kind: 'date' | 'timestamp' | 'timestamptz'): bigint {
  if (text === 'infinity') return INFINITY;
  if (text === '-infinity') return -INFINITY;
  const m = /^(\d{4,})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?)?(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?( BC)?$/.exec(text);
  const hasTime = m?.[4] !== undefined;
  const hasOffset = m?.[8] !== undefined;
  if (!m || hasTime !== (kind !== 'date') || hasOffset !== (kind === 'timestamptz')) {
    throw new ClientError(SqlState.featureNotSupported, `cannot order ${kind} value "${text}" over several shards: dpg compares dates and times in the ISO DateStyle (SET DateStyle = ISO, the default)`);
  }
  const year = m[12] ? 1 - Number(m[1]) : Number(m[1]);
  const days = daysFromCivil(year, Number(m[2]), Number(m[3]));
  const seconds = days * 86_400n + BigInt(Number(m[4] ?? 0) * 3600 + Number(m[5] ?? 0) * 60 + Number(m[6] ?? 0));
  const offset = hasOffset ? (Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0)) * (m[8] === '-' ? -1 : 1) : 0;
  return (seconds - BigInt(offset)) * 1_000_000n + BigInt((m[7] ?? '').padEnd(6, '0'));
}

function compareDateTimes(kind: 'date' | 'timestamp' | 'timestamptz'): Compare {
  return (a, b) => {
    const x = isoDateTimeMicros(a.toString('latin1'), kind);
    const y = isoDateTimeMicros(b.toString('latin1'), kind);
    return x < y ? -1 : x > y ? 1 : 0;
  };
}

/** bpchar compares without its trailing spaces (PostgreSQL's bpcharcmp). */
function withoutTrailingSpaces(value: Buffer): Buffer {
  let end = value.length;
  while (end > 0 && value[end - 1] === 0x20) end--;
  return value.subarray(0, end);
}

/** Text, varchar, name and uuid sort by their UTF-8 bytes in a C-like collation (see collatesByBytes). */
const BYTE_ORDER_TYPES = new Set([25, 1043, 19, 2950]);
const BPCHAR = 1042;

/**
 * Collations (pg_collation_for's answer, unquoted) that order strings by code point,
 * which is the order of their UTF-8 bytes: C, POSIX, ucs_basic, and the nodes' default
 * (their databases are made with C.UTF-8 by dpg up's initdb).
 */
const BYTE_ORDER_COLLATIONS = new Set(['default', 'C', 'POSIX', 'ucs_basic', 'C.UTF-8', 'C.utf8']);

export function collatesByBytes(collation: string | null): boolean {
  if (collation === null) return true;
  const name = collation.replace(/^pg_catalog\./, '').replace(/^"(.*)"$/, '$1');
  return BYTE_ORDER_COLLATIONS.has(name);
}

/**
 * The comparison for a sort column, or a 0A000 error for a type whose text form dpg does
 * not compare as PostgreSQL would. `exactFloats`: the session's extra_float_digits is at
 * least 1 (the default), so float text is the shortest exact form, not a rounded one.
 */
export function comparatorFor(typeOid: number, options: { exactFloats?: boolean } = {}): Compare {
  if (INTEGER_TYPES.has(typeOid)) return compareBigInts;
  if (FLOAT_TYPES.has(typeOid)) {
    if (options.exactFloats === false) {
      throw new ClientError(SqlState.featureNotSupported, 'ORDER BY a float over several shards needs extra_float_digits of at least 1 (the default): rounded values would tie where PostgreSQL orders them');
    }
    return compareFloats;
  }
  if (typeOid === NUMERIC) return (a, b) => compareNumericText(a.toString('latin1'), b.toString('latin1'));
  if (typeOid === BOOL) return (a, b) => a[0]! - b[0]!;
  if (typeOid === 1082) return compareDateTimes('date');
  if (typeOid === 1114) return compareDateTimes('timestamp');
  if (typeOid === 1184) return compareDateTimes('timestamptz');
  if (typeOid === BPCHAR) return (a, b) => Buffer.compare(withoutTrailingSpaces(a), withoutTrailingSpaces(b));
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
    private readonly exactFloats = true,
  ) {}

  private collationColumns: (number | null)[] = [];
  private collationsChecked = false;

  /** Text compares by its bytes only in a C-like collation: another one (COLLATE "en-x-icu", a column's own) is refused, not guessed. */
  private checkCollations(values: (Buffer | null)[]): void {
    this.collationsChecked = true;
    for (const column of this.collationColumns) {
      const collation = column === null ? null : values[column]?.toString('utf8') ?? null;
      if (!collatesByBytes(collation)) {
        throw new ClientError(SqlState.featureNotSupported, `ORDER BY text in collation ${collation} over several shards is not supported yet: dpg merges shards' rows in code point order (collations C, POSIX and the database's default, C.UTF-8)`);
      }
    }
  }

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
        this.comparators = this.columns.map((column) => comparatorFor(message.fields[column]!.typeOid, { exactFloats: this.exactFloats }));
        this.collationColumns = this.sortKeys.map((key) => (key.collationColumn === undefined ? null : firstHidden + key.collationColumn));
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
    if (!this.collationsChecked) this.checkCollations(values);
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
