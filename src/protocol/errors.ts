/**
 * A byte stream that breaks the PostgreSQL protocol: bad length, unknown type byte,
 * malformed body. SQLSTATE 08P01 (protocol_violation) is what PostgreSQL reports
 * for the same faults; a server answers it with a FATAL ErrorResponse and closes.
 */
export class ProtocolError extends Error {
  readonly sqlstate = '08P01';

  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}
