/** The PostgreSQL v3 wire protocol codec: framing, decoding and encoding, no I/O. */
export * from './message-codes.ts';
export * from './errors.ts';
export * from './frames.ts';
export * from '../shared/notice-fields.ts';
export * from './frontend.ts';
export * from './backend.ts';
