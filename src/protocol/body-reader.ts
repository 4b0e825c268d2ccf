import { isUtf8 } from 'node:buffer';
import { ProtocolError } from './errors.ts';

/**
 * A cursor over one message body that checks every read against the body's end,
 * so a malformed message becomes a ProtocolError naming the message, never a
 * RangeError or a read into the next message.
 */
export class BodyReader {
  private offset = 0;

  constructor(
    private readonly body: Buffer,
    private readonly messageName: string,
  ) {}

  fail(problem: string): never {
    throw new ProtocolError(`invalid ${this.messageName} message: ${problem}`);
  }

  /** Fails unless `bytes` more bytes remain; lets a count be checked before allocating for it. */
  need(bytes: number, what: string): void {
    if (this.body.length - this.offset < bytes) this.fail(`${what} runs past the end of the message`);
  }

  byte(what: string): number {
    this.need(1, what);
    return this.body[this.offset++]!;
  }

  int16(what: string): number {
    this.need(2, what);
    const value = this.body.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  /** Counts are Int16 on the wire but PostgreSQL reads them unsigned (up to 65535 parameters). */
  count(what: string): number {
    this.need(2, what);
    const value = this.body.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  int32(what: string): number {
    this.need(4, what);
    const value = this.body.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  /** OIDs, process ids and cancel keys: unsigned 32-bit. */
  uint32(what: string): number {
    this.need(4, what);
    const value = this.body.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(what: string): string {
    const end = this.body.indexOf(0, this.offset);
    if (end < 0) this.fail(`${what} is not NUL-terminated`);
    const value = decodeUtf8(this.body, this.offset, end, () => this.fail(`${what} is not valid UTF-8`));
    this.offset = end + 1;
    return value;
  }

  /** `length` bytes as a view of the body. */
  bytes(length: number, what: string): Buffer {
    this.need(length, what);
    const start = this.offset;
    this.offset += length;
    return this.body.subarray(start, this.offset);
  }

  /** Int32 length (-1 for NULL) followed by that many bytes. */
  nullableBytes(what: string): Buffer | null {
    const length = this.int32(`length of ${what}`);
    if (length === -1) return null;
    if (length < 0) this.fail(`${what} has negative length ${length}`);
    return this.bytes(length, what);
  }

  /** Everything not read yet, as a view. */
  rest(): Buffer {
    const start = this.offset;
    this.offset = this.body.length;
    return this.body.subarray(start);
  }

  get remaining(): number {
    return this.body.length - this.offset;
  }

  end(): void {
    if (this.offset !== this.body.length) {
      this.fail(`${this.body.length - this.offset} unexpected bytes after the last field`);
    }
  }
}

/**
 * Buffer's decoder replaces bad sequences with U+FFFD silently, which would change
 * the SQL text or data the client sent; so a decoded U+FFFD triggers a strict check.
 */
export function decodeUtf8(buffer: Buffer, start: number, end: number, onInvalid: () => never): string {
  const value = buffer.toString('utf8', start, end);
  if (value.includes('\uFFFD') && !isUtf8(buffer.subarray(start, end))) onInvalid();
  return value;
}

/** Format codes: 0 text, 1 binary. */
export function readFormatCodes(reader: BodyReader, what: string): number[] {
  const count = reader.count(`number of ${what}`);
  reader.need(count * 2, what);
  const formats = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const format = reader.int16(what);
    if (format !== 0 && format !== 1) reader.fail(`${what} must be 0 or 1, got ${format}`);
    formats[i] = format;
  }
  return formats;
}
