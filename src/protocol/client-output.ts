import type { Socket } from 'node:net';

/**
 * Buffers protocol frames for one client and writes them in as few syscalls as
 * possible: frames accumulate until `flush()` (at ReadyForQuery, at a Flush message,
 * or when the buffer grows large, so a big result streams instead of piling up).
 */
export class ClientOutput {
  private chunks: Buffer[] = [];
  private size = 0;
  private static readonly HIGH_WATER = 256 * 1024;

  constructor(private socket: Socket) {}

  /** Writes go to `socket` from now on (the TLS socket after SSLRequest). */
  useSocket(socket: Socket): void {
    this.flush();
    this.socket = socket;
  }

  write(frame: Buffer): void {
    this.chunks.push(frame);
    this.size += frame.length;
    if (this.size >= ClientOutput.HIGH_WATER) this.flush();
  }

  flush(): void {
    if (this.chunks.length === 0 || this.socket.destroyed) {
      this.chunks = [];
      this.size = 0;
      return;
    }
    const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.size = 0;
    this.socket.write(data);
  }

  /**
   * More than BACKLOG_BYTES wait in the socket for a client that reads slowly (or not at
   * all): the writer should wait for drained() before it reads more from the nodes.
   */
  get backlogged(): boolean {
    return this.socket.writableLength > ClientOutput.BACKLOG_BYTES;
  }

  private static readonly BACKLOG_BYTES = 1024 * 1024;

  /** Resolves once the socket's buffer has drained (back-pressure for large results). */
  async drained(): Promise<void> {
    if (!this.socket.writableNeedDrain || this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }
}
