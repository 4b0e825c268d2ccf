import { ProtocolError } from './errors.ts';

/**
 * Writes one message into a buffer allocated at its exact size: the caller sums the
 * field sizes first (`cstringBytes` for strings), so there is no growing or copying.
 */
export class MessageWriter {
  readonly buffer: Buffer;
  private offset: number;

  /** A typed message: Byte1 code, Int32 length (which counts itself but not the code). */
  static typed(code: number, bodyBytes: number): MessageWriter {
    const writer = new MessageWriter(bodyBytes + 5);
    writer.buffer[0] = code;
    writer.buffer.writeInt32BE(bodyBytes + 4, 1);
    writer.offset = 5;
    return writer;
  }

  /** An untyped startup-phase packet: Int32 length counting itself. */
  static untyped(bodyBytes: number): MessageWriter {
    const writer = new MessageWriter(bodyBytes + 4);
    writer.buffer.writeInt32BE(bodyBytes + 4, 0);
    writer.offset = 4;
    return writer;
  }

  private constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size);
    this.offset = 0;
  }

  byte(value: number): this {
    this.buffer[this.offset++] = value;
    return this;
  }

  int16(value: number): this {
    this.offset = this.buffer.writeInt16BE(value, this.offset);
    return this;
  }

  /** Counts are read unsigned by PostgreSQL; `checkCount` bounds them first. */
  count(value: number): this {
    this.offset = this.buffer.writeUInt16BE(value, this.offset);
    return this;
  }

  int32(value: number): this {
    this.offset = this.buffer.writeInt32BE(value, this.offset);
    return this;
  }

  /** OIDs, process ids, cancel keys: accepts the signed or the unsigned reading. */
  uint32(value: number): this {
    this.offset = this.buffer.writeUInt32BE(value >>> 0, this.offset);
    return this;
  }

  cstring(value: string): this {
    this.offset += this.buffer.write(value, this.offset, 'utf8');
    this.buffer[this.offset++] = 0;
    return this;
  }

  bytes(value: Buffer): this {
    this.offset += value.copy(this.buffer, this.offset);
    return this;
  }

  /** Int32 length (-1 for NULL) and the bytes. */
  nullableBytes(value: Buffer | null): this {
    if (value === null) return this.int32(-1);
    this.int32(value.length);
    return this.bytes(value);
  }

  finish(): Buffer {
    if (this.offset !== this.buffer.length) {
      throw new Error(`message writer filled ${this.offset} of ${this.buffer.length} bytes`);
    }
    return this.buffer;
  }
}

/** Bytes of a NUL-terminated string; a NUL inside it would end it early on the wire. */
export function cstringBytes(value: string, what: string): number {
  if (value.includes('\0')) throw new ProtocolError(`${what} must not contain a NUL character`);
  return Buffer.byteLength(value, 'utf8') + 1;
}

/** Counts travel as 16 bits. */
export function checkCount(count: number, what: string): number {
  if (count > 0xffff) throw new ProtocolError(`too many ${what}: ${count} (at most 65535)`);
  return count;
}
