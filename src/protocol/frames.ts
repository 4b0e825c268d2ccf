import { ProtocolError } from './errors.ts';
import { GSSENC_REQUEST_CODE, SSL_REQUEST_CODE } from './message-codes.ts';

/**
 * One protocol message as it came off the wire.
 * `code` is the type byte, 0 for an untyped startup-phase packet; `body` is what
 * follows the Int32 length; `raw` is the whole frame, ready to forward unchanged.
 * Both are views into the pushed chunk unless the frame spanned chunks.
 */
export interface Frame {
  code: number;
  body: Buffer;
  raw: Buffer;
}

export interface FrameReaderOptions {
  /** Start by reading an untyped startup packet (a server facing clients). */
  startup?: boolean;
  /** Largest accepted value of a message's length field. */
  maxMessageBytes?: number;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
/**
 * PostgreSQL refuses startup packets longer than this (MAX_STARTUP_PACKET_LENGTH in
 * src/include/libpq/pqcomm.h), before the client has authenticated.
 */
const MAX_STARTUP_PACKET_BYTES = 10000;
/** Typed frame: Byte1 type + Int32 length. */
const TYPED_HEADER_BYTES = 5;
/** Startup packet: Int32 length; the smallest packet also holds an Int32 code. */
const STARTUP_HEADER_BYTES = 4;
const MIN_STARTUP_PACKET_BYTES = 8;

/**
 * Splits a byte stream into frames. Accepts chunks cut at any byte; a frame that
 * lies inside one chunk is returned as views of it, and only a frame spanning
 * chunks is copied, once, into a buffer of its exact size.
 *
 * After an SSLRequest or GSSENCRequest the reader returns at once and keeps any
 * bytes that followed it unparsed: a client must wait for the server's one-byte
 * answer before sending more, and bytes sent earlier would be unencrypted data
 * smuggled ahead of the TLS handshake (CVE-2021-23214). A server therefore checks
 * `buffered === 0` right after such a request; the kept bytes are parsed by the
 * next `push` (an empty chunk will do).
 *
 * After a ProtocolError the stream position is lost, so every later push throws
 * the same error.
 */
export class FrameReader {
  private startup: boolean;
  private maxMessageBytes: number;
  /** Header bytes of a frame whose length is not yet known (fewer than a header). */
  private readonly head = Buffer.alloc(TYPED_HEADER_BYTES);
  private headFilled = 0;
  /** A frame of known length being assembled from several chunks. */
  private partial: Buffer | null = null;
  private partialFilled = 0;
  /** Bytes received after an SSL/GSSENC request, not parsed yet. */
  private held: Buffer | null = null;
  private failure: ProtocolError | null = null;

  constructor(options: FrameReaderOptions = {}) {
    this.startup = options.startup ?? false;
    this.maxMessageBytes = checkMaxMessageBytes(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  }

  /**
   * Changes the largest accepted length from the next message header on (a server raises
   * it once the client has authenticated); a message whose header was read keeps its limit.
   */
  setMaxMessageBytes(maxMessageBytes: number): void {
    this.maxMessageBytes = checkMaxMessageBytes(maxMessageBytes);
  }

  /** Read the next packet as an untyped startup packet. */
  expectStartup(): void {
    if (this.headFilled > 0 || this.partial !== null) {
      throw new ProtocolError('cannot expect a startup packet in the middle of a message');
    }
    this.startup = true;
  }

  /** Bytes received but not yet returned as frames. */
  get buffered(): number {
    return this.headFilled + this.partialFilled + (this.held?.length ?? 0);
  }

  push(chunk: Buffer): Frame[] {
    if (this.failure !== null) throw this.failure;
    if (this.held !== null) {
      chunk = chunk.length === 0 ? this.held : Buffer.concat([this.held, chunk]);
      this.held = null;
    }
    try {
      return this.parse(chunk);
    } catch (error) {
      this.failure =
        error instanceof ProtocolError ? error : new ProtocolError(`unreadable message stream: ${String(error)}`);
      this.headFilled = 0;
      this.partial = null;
      this.partialFilled = 0;
      throw this.failure;
    }
  }

  private parse(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let offset = 0;

    if (this.headFilled > 0) {
      const headerBytes = this.headerBytes();
      const take = Math.min(headerBytes - this.headFilled, chunk.length);
      chunk.copy(this.head, this.headFilled, 0, take);
      this.headFilled += take;
      offset = take;
      if (this.headFilled < headerBytes) return frames;
      this.partial = Buffer.allocUnsafe(this.frameLength(this.head, 0));
      this.head.copy(this.partial, 0, 0, headerBytes);
      this.partialFilled = headerBytes;
      this.headFilled = 0;
    }

    if (this.partial !== null) {
      const partial = this.partial;
      const take = Math.min(partial.length - this.partialFilled, chunk.length - offset);
      chunk.copy(partial, this.partialFilled, offset, offset + take);
      this.partialFilled += take;
      offset += take;
      if (this.partialFilled < partial.length) return frames;
      this.partial = null;
      this.partialFilled = 0;
      if (this.emit(frames, partial, 0, partial.length)) return this.hold(frames, chunk, offset);
    }

    for (;;) {
      const available = chunk.length - offset;
      const headerBytes = this.headerBytes();
      if (available < headerBytes) {
        if (available > 0) {
          chunk.copy(this.head, 0, offset);
          this.headFilled = available;
        }
        return frames;
      }
      const length = this.frameLength(chunk, offset);
      if (available < length) {
        this.partial = Buffer.allocUnsafe(length);
        chunk.copy(this.partial, 0, offset);
        this.partialFilled = available;
        return frames;
      }
      const start = offset;
      offset += length;
      if (this.emit(frames, chunk, start, length)) return this.hold(frames, chunk, offset);
    }
  }

  private headerBytes(): number {
    return this.startup ? STARTUP_HEADER_BYTES : TYPED_HEADER_BYTES;
  }

  /** Total length of the frame whose header starts at `offset`, validated. */
  private frameLength(buffer: Buffer, offset: number): number {
    if (this.startup) {
      const length = buffer.readInt32BE(offset);
      const limit = Math.min(this.maxMessageBytes, MAX_STARTUP_PACKET_BYTES);
      if (length < MIN_STARTUP_PACKET_BYTES || length > limit) {
        throw new ProtocolError(`invalid length of startup packet: ${length}`);
      }
      return length;
    }
    const length = buffer.readInt32BE(offset + 1);
    if (length < 4 || length > this.maxMessageBytes) {
      const code = buffer[offset]!;
      throw new ProtocolError(`invalid message length ${length} for message type ${describeByte(code)}`);
    }
    return length + 1;
  }

  /**
   * Appends the frame at buffer[start, start+length) and updates the mode.
   * Returns true when parsing must stop after it (an SSL or GSSENC request).
   */
  private emit(frames: Frame[], buffer: Buffer, start: number, length: number): boolean {
    const raw = start === 0 && length === buffer.length ? buffer : buffer.subarray(start, start + length);
    if (!this.startup) {
      frames.push({ code: raw[0]!, body: raw.subarray(TYPED_HEADER_BYTES), raw });
      return false;
    }
    frames.push({ code: 0, body: raw.subarray(STARTUP_HEADER_BYTES), raw });
    const requestCode = raw.readInt32BE(STARTUP_HEADER_BYTES);
    if (requestCode === SSL_REQUEST_CODE || requestCode === GSSENC_REQUEST_CODE) return true;
    this.startup = false;
    return false;
  }

  private hold(frames: Frame[], chunk: Buffer, offset: number): Frame[] {
    if (offset < chunk.length) this.held = chunk.subarray(offset);
    return frames;
  }
}

function checkMaxMessageBytes(value: number): number {
  if (!Number.isInteger(value) || value < 4 || value > 0x7fffffff) {
    throw new RangeError(`FrameReader maxMessageBytes must be an integer from 4 to 2^31-1, got ${value}`);
  }
  return value;
}

/** 'Q' (0x51) for printable bytes, 0x01 otherwise. */
export function describeByte(code: number): string {
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  return code >= 0x20 && code < 0x7f ? `'${String.fromCharCode(code)}' (${hex})` : hex;
}
