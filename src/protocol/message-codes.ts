/**
 * Type bytes of the PostgreSQL v3 protocol, one table per direction.
 * The same byte means different messages in the two directions ('D' is Describe
 * from the client and DataRow from the server), so the tables never mix.
 * Reference: https://www.postgresql.org/docs/15/protocol-message-formats.html
 */

/** Messages a client sends. https://www.postgresql.org/docs/15/protocol-message-formats.html */
export const FrontendCode = {
  /** 'Q' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Query: 0x51,
  /** 'P' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Parse: 0x50,
  /** 'B' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Bind: 0x42,
  /** 'D' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Describe: 0x44,
  /** 'E' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Execute: 0x45,
  /** 'C' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Close: 0x43,
  /** 'S' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Sync: 0x53,
  /** 'H' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Flush: 0x48,
  /** 'X' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Terminate: 0x58,
  /** 'd' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyData: 0x64,
  /** 'c' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyDone: 0x63,
  /** 'f' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyFail: 0x66,
  /**
   * 'p': PasswordMessage, SASLInitialResponse and SASLResponse share this byte; which
   * one it is follows from the authentication exchange in progress.
   * https://www.postgresql.org/docs/15/protocol-message-formats.html
   */
  Password: 0x70,
  /** 'F' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  FunctionCall: 0x46,
} as const;

/** Messages a server sends. https://www.postgresql.org/docs/15/protocol-message-formats.html */
export const BackendCode = {
  /** 'R' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  Authentication: 0x52,
  /** 'S' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  ParameterStatus: 0x53,
  /** 'K' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  BackendKeyData: 0x4b,
  /** 'Z' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  ReadyForQuery: 0x5a,
  /** 'T' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  RowDescription: 0x54,
  /** 'D' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  DataRow: 0x44,
  /** 'C' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CommandComplete: 0x43,
  /** 'I' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  EmptyQueryResponse: 0x49,
  /** 'E' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  ErrorResponse: 0x45,
  /** 'N' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  NoticeResponse: 0x4e,
  /** '1' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  ParseComplete: 0x31,
  /** '2' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  BindComplete: 0x32,
  /** '3' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CloseComplete: 0x33,
  /** 'n' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  NoData: 0x6e,
  /** 's' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  PortalSuspended: 0x73,
  /** 't' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  ParameterDescription: 0x74,
  /** 'G' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyInResponse: 0x47,
  /** 'H' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyOutResponse: 0x48,
  /** 'W' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyBothResponse: 0x57,
  /** 'd' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyData: 0x64,
  /** 'c' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  CopyDone: 0x63,
  /** 'A' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  NotificationResponse: 0x41,
  /** 'v' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  NegotiateProtocolVersion: 0x76,
  /** 'V' https://www.postgresql.org/docs/15/protocol-message-formats.html */
  FunctionCallResponse: 0x56,
} as const;

/**
 * Codes in the first Int32 of an untyped startup-phase packet.
 * https://www.postgresql.org/docs/15/protocol-message-formats.html (StartupMessage,
 * SSLRequest, GSSENCRequest, CancelRequest)
 */
/** 3.0: major version in the high 16 bits, minor in the low 16. */
export const PROTOCOL_VERSION_3 = 196608;
/** 1234 << 16 | 5679 */
export const SSL_REQUEST_CODE = 80877103;
/** 1234 << 16 | 5680 */
export const GSSENC_REQUEST_CODE = 80877104;
/** 1234 << 16 | 5678 */
export const CANCEL_REQUEST_CODE = 80877102;

/**
 * The Int32 after 'R' saying which Authentication message it is.
 * https://www.postgresql.org/docs/15/protocol-message-formats.html
 */
export const AuthenticationCode = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  /** followed by a 4-byte salt */
  MD5Password: 5,
  GSS: 7,
  /** followed by GSSAPI or SSPI data */
  GSSContinue: 8,
  SSPI: 9,
  /** followed by the mechanism names, each NUL-terminated, then a NUL */
  SASL: 10,
  /** followed by SASL data */
  SASLContinue: 11,
  /** followed by SASL outcome data */
  SASLFinal: 12,
} as const;
