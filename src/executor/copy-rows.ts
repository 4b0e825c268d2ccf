/**
 * Incremental splitters for COPY data in PostgreSQL's three formats: they cut a
 * byte stream (CopyData messages cut anywhere) into rows and read one column's
 * value of each row, so the coordinator can send every row to its shard unchanged.
 * https://www.postgresql.org/docs/15/sql-copy.html (File Formats)
 */
export interface CopyRow {
  /** The row's bytes as the client sent them (line terminator included; a binary tuple whole). */
  raw: Buffer;
  /** The value of the column asked for, as text; null for SQL NULL. */
  value: string | null;
}

export interface RowSplitter {
  /** Rows completed by this chunk. */
  push(chunk: Buffer): CopyRow[];
  /** Called at CopyDone: a partial last row without a terminator is still a row. */
  end(): CopyRow[];
  /** True once the text format's end marker (\.) was read. */
  finished: boolean;
}

export class CopyFormatError extends Error {
  readonly sqlstate = '22P04';
}

const NEWLINE = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;

/** Text format: rows end at a newline byte (newlines inside values are escaped as \n). */
/** A line without its \n or \r\n. */
const withoutTerminator = (raw: Buffer) => raw.subarray(0, raw.length - (raw.length > 1 && raw[raw.length - 2] === CR ? 2 : 1));

/** The text and CSV formats' end-of-data marker, a line of \. alone. */
const isEndMarker = (line: Buffer) => line.length === 2 && line[0] === BACKSLASH && line[1] === 0x2e;

/** The row of a complete line (its terminator included), with the value of `column` read by `field`; null for the end marker. */
function lineRow(raw: Buffer, column: number, field: (line: Buffer) => string | null): CopyRow | null {
  const line = withoutTerminator(raw);
  if (isEndMarker(line)) return null;
  return { raw, value: column < 0 ? null : field(line) };
}

/**
 * The unfinished row's bytes as the chunks they came in: a row (a 100 MB line) is joined
 * once, when it is complete, not copied again with every chunk.
 */
class PartialRow {
  private parts: Buffer[] = [];
  length = 0;

  add(bytes: Buffer): void {
    if (bytes.length === 0) return;
    // Kept as a view: chunks are not reused (FrameReader hands out fresh buffers).
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  /** The whole row with `tail` (the rest of it, from the current chunk) appended; empties the buffer. */
  take(tail: Buffer = Buffer.alloc(0)): Buffer {
    const whole = this.parts.length === 0 ? tail : Buffer.concat([...this.parts, tail]);
    this.parts = [];
    this.length = 0;
    return whole;
  }
}

export class TextRowSplitter implements RowSplitter {
  private readonly partial = new PartialRow();
  finished = false;
  constructor(
    private readonly column: number,
    private readonly delimiter: number,
    nullString: string,
  ) {
    this.nullStringBytes = Buffer.from(nullString, 'utf8').toString('latin1');
  }

  private readonly nullStringBytes: string;

  push(chunk: Buffer): CopyRow[] {
    if (this.finished) return [];
    const rows: CopyRow[] = [];
    let start = 0;
    // Only the new chunk is searched: the bytes before it hold no newline.
    for (let i = chunk.indexOf(NEWLINE, start); i >= 0; i = chunk.indexOf(NEWLINE, start)) {
      const raw = this.partial.take(chunk.subarray(start, i + 1));
      start = i + 1;
      const row = lineRow(raw, this.column, (line) => this.field(line));
      if (!row) {
        this.finished = true;
        return rows;
      }
      rows.push(row);
    }
    this.partial.add(chunk.subarray(start));
    return rows;
  }

  end(): CopyRow[] {
    if (this.finished || this.partial.length === 0) return [];
    const line = this.partial.take();
    if (isEndMarker(line)) return [];
    return [{ raw: Buffer.concat([line, Buffer.from('\n')]), value: this.column < 0 ? null : this.field(line) }];
  }

  private field(line: Buffer): string | null {
    let index = 0;
    let start = 0;
    for (let i = 0; i <= line.length; i++) {
      if (i === line.length || line[i] === this.delimiter) {
        if (index === this.column) {
          const raw = line.subarray(start, i);
          // The null marker is compared before de-escaping, as PostgreSQL does.
          return raw.toString('latin1') === this.nullStringBytes ? null : utf8Strict(unescapeText(raw));
        }
        index++;
        start = i + 1;
      } else if (line[i] === BACKSLASH) {
        i++;
      }
    }
    throw new CopyFormatError(`missing data for column ${this.column + 1}`);
  }
}

/** The COPY escapes that stand for one character: \b \f \n \r \t \v. */
const SINGLE_ESCAPES: Record<number, number> = { 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x76: 0x0b };

const isOctal = (byte: number | undefined) => byte !== undefined && byte >= 0x30 && byte <= 0x37;
const hexValue = (byte: number | undefined) => {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
};

/**
 * Backslash escapes of the text format, over bytes as PostgreSQL reads them
 * (CopyReadAttributesText in copyfromparse.c): \b \f \n \r \t \v, octal \NNN (one to
 * three digits, the low 8 bits of the value), hex \xHH (one or two digits), and \x for
 * any other x. Escapes give bytes, not characters: \xc3\xa9 is the two bytes of é.
 */
export function unescapeText(value: Buffer): Buffer {
  if (!value.includes(BACKSLASH)) return value;
  const out = Buffer.allocUnsafe(value.length);
  let length = 0;
  for (let i = 0; i < value.length; i++) {
    const byte = value[i]!;
    if (byte !== BACKSLASH || i + 1 >= value.length) {
      out[length++] = byte;
      continue;
    }
    const code = value[++i]!;
    if (isOctal(code)) {
      let octal = code - 0x30;
      for (let digits = 1; digits < 3 && isOctal(value[i + 1]); digits++) octal = octal * 8 + (value[++i]! - 0x30);
      out[length++] = octal & 0xff;
    } else if (code === 0x78 && hexValue(value[i + 1]) >= 0) {
      let hex = hexValue(value[++i]);
      if (hexValue(value[i + 1]) >= 0) hex = hex * 16 + hexValue(value[++i]);
      out[length++] = hex;
    } else {
      out[length++] = SINGLE_ESCAPES[code] ?? code;
    }
  }
  return out.subarray(0, length);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The value as the node will store it: invalid UTF-8 is PostgreSQL's 22021, not a replacement character. */
function utf8Strict(bytes: Buffer): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new CopyEncodingError('invalid byte sequence for encoding "UTF8" in the distribution column');
  }
}

export class CopyEncodingError extends Error {
  readonly sqlstate = '22021';
}

/** CSV: rows end at a newline outside quotes; quoted values may hold delimiters and newlines. */
export class CsvRowSplitter implements RowSplitter {
  private readonly partial = new PartialRow();
  private inQuotes = false;
  /** Inside quotes, the last byte seen was a quote (QUOTE = ESCAPE): a closing quote unless the next is a quote too. */
  private quoteAtEnd = false;
  /** Inside quotes, the last byte seen was ESCAPE (ESCAPE != QUOTE): it escapes a quote or an ESCAPE that follows. */
  private escapeAtEnd = false;
  finished = false;
  constructor(
    private readonly column: number,
    private readonly delimiter: number,
    private readonly quote: number,
    private readonly escape: number,
    private readonly nullString: string,
    private skipHeader: boolean,
  ) {}

  push(chunk: Buffer): CopyRow[] {
    const rows: CopyRow[] = [];
    if (this.finished) return rows;
    let start = 0;
    // Every byte is looked at once: the quote state carries over from the chunks before.
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.quoteAtEnd) {
        this.quoteAtEnd = false;
        if (byte === this.quote) continue;
        this.inQuotes = false;
      } else if (this.escapeAtEnd) {
        // ESCAPE before a quote or another ESCAPE makes it a data byte (PostgreSQL's CSV reading).
        this.escapeAtEnd = false;
        if (byte === this.quote || byte === this.escape) continue;
      }
      if (this.inQuotes) {
        if (byte === this.escape && this.escape !== this.quote) this.escapeAtEnd = true;
        else if (byte === this.quote) {
          if (this.escape === this.quote) this.quoteAtEnd = true;
          else this.inQuotes = false;
        }
        continue;
      }
      if (byte === this.quote) {
        this.inQuotes = true;
        continue;
      }
      if (byte !== NEWLINE) continue;
      const raw = this.partial.take(chunk.subarray(start, i + 1));
      start = i + 1;
      if (this.skipHeader) {
        this.skipHeader = false;
        continue;
      }
      const row = lineRow(raw, this.column, (line) => this.field(line));
      if (!row) {
        this.finished = true;
        return rows;
      }
      rows.push(row);
    }
    this.partial.add(chunk.subarray(start));
    return rows;
  }

  end(): CopyRow[] {
    if (this.finished || this.partial.length === 0) return [];
    if (this.quoteAtEnd) {
      this.quoteAtEnd = false;
      this.inQuotes = false;
    }
    if (this.inQuotes) throw new CopyFormatError('unterminated CSV quoted field');
    const line = this.partial.take();
    if (this.skipHeader) return [];
    return [{ raw: Buffer.concat([line, Buffer.from('\n')]), value: this.column < 0 ? null : this.field(line) }];
  }

  private field(line: Buffer): string | null {
    let index = 0;
    let value = '';
    let quoted = false;
    let inQuotes = false;
    let segmentStart = 0;
    const parts: Buffer[] = [];
    for (let i = 0; i <= line.length; i++) {
      const byte = line[i];
      if (i < line.length && inQuotes) {
        const next = line[i + 1];
        if (byte === this.escape && (next === this.quote || (this.escape !== this.quote && next === this.escape)) && (this.escape !== this.quote || i + 1 < line.length)) {
          parts.push(line.subarray(segmentStart, i), Buffer.from([next!]));
          i++;
          segmentStart = i + 1;
        } else if (byte === this.quote) {
          parts.push(line.subarray(segmentStart, i));
          inQuotes = false;
          segmentStart = i + 1;
        }
        continue;
      }
      if (i < line.length && byte === this.quote) {
        parts.push(line.subarray(segmentStart, i));
        inQuotes = true;
        quoted = true;
        segmentStart = i + 1;
        continue;
      }
      if (i === line.length || byte === this.delimiter) {
        parts.push(line.subarray(segmentStart, i));
        if (index === this.column) {
          value = utf8Strict(Buffer.concat(parts));
          return !quoted && value === this.nullString ? null : value;
        }
        index++;
        parts.length = 0;
        quoted = false;
        segmentStart = i + 1;
      }
    }
    throw new CopyFormatError(`missing data for column ${this.column + 1}`);
  }
}

/** PGCOPY\n\377\r\n\0: the binary format's signature. */
export const BINARY_SIGNATURE = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]);
/** Signature, flags 0, no header extension. */
export const BINARY_HEADER = Buffer.concat([BINARY_SIGNATURE, Buffer.alloc(8)]);
export const BINARY_TRAILER = Buffer.from([0xff, 0xff]);

/** Binary format: a header, then tuples (Int16 field count, each field Int32 length and bytes), then -1. */
export class BinaryRowSplitter implements RowSplitter {
  private pending: Buffer = Buffer.alloc(0);
  private headerRead = false;
  finished = false;
  constructor(private readonly column: number) {}

  /** Bytes the unfinished tuple needs before it can be read further: chunks wait in `waiting` until then. */
  private needed = 0;
  private readonly waiting = new PartialRow();

  push(chunk: Buffer): CopyRow[] {
    const rows: CopyRow[] = [];
    if (this.pending.length + this.waiting.length + chunk.length < this.needed) {
      // A large field still arriving: joined once it is all here, not with every chunk.
      this.waiting.add(chunk);
      return rows;
    }
    let data = this.pending.length + this.waiting.length > 0 ? Buffer.concat([this.pending, this.waiting.take(), chunk]) : chunk;
    this.needed = 0;
    if (!this.headerRead) {
      if (data.length < 19) {
        this.pending = Buffer.from(data);
        return rows;
      }
      if (!data.subarray(0, 11).equals(BINARY_SIGNATURE)) throw new CopyFormatError('COPY file signature not recognized');
      const extension = data.readUInt32BE(15);
      if (data.length < 19 + extension) {
        this.pending = Buffer.from(data);
        return rows;
      }
      data = data.subarray(19 + extension);
      this.headerRead = true;
    }
    let offset = 0;
    while (!this.finished && offset + 2 <= data.length) {
      const fields = data.readInt16BE(offset);
      if (fields === -1) {
        this.finished = true;
        offset += 2;
        break;
      }
      let cursor = offset + 2;
      let value: string | null = null;
      let complete = true;
      for (let f = 0; f < fields; f++) {
        if (cursor + 4 > data.length) {
          complete = false;
          break;
        }
        const length = data.readInt32BE(cursor);
        cursor += 4;
        if (length > 0 && cursor + length > data.length) {
          complete = false;
          this.needed = cursor + length - offset;
          break;
        }
        if (f === this.column) value = length < 0 ? null : data.toString('utf8', cursor, cursor + length);
        if (length > 0) cursor += length;
      }
      if (!complete) break;
      rows.push({ raw: data.subarray(offset, cursor), value });
      offset = cursor;
    }
    this.pending = Buffer.from(data.subarray(offset));
    return rows;
  }

  end(): CopyRow[] {
    if (!this.finished && this.pending.length + this.waiting.length > 0) throw new CopyFormatError('unexpected end of binary COPY data');
    return [];
  }
}
