/**
 * Messages a client sends. Formats:
 * https://www.postgresql.org/docs/15/protocol-message-formats.html
 */
export type FrontendMessage =
  | { type: 'Startup'; protocolVersion: number; parameters: Record<string, string> }
  | { type: 'SSLRequest' }
  | { type: 'GSSENCRequest' }
  | { type: 'CancelRequest'; processId: number; secretKey: number }
  | { type: 'Query'; sql: string }
  | { type: 'Parse'; name: string; sql: string; parameterTypes: number[] }
  | {
      type: 'Bind';
      portal: string;
      statement: string;
      parameterFormats: number[];
      parameters: (Buffer | null)[];
      resultFormats: number[];
    }
  | { type: 'Describe'; kind: 'S' | 'P'; name: string }
  | { type: 'Execute'; portal: string; maxRows: number }
  | { type: 'Close'; kind: 'S' | 'P'; name: string }
  | { type: 'Sync' }
  | { type: 'Flush' }
  | { type: 'Terminate' }
  | { type: 'CopyData'; data: Buffer }
  | { type: 'CopyDone' }
  | { type: 'CopyFail'; message: string }
  /** 'p': PasswordMessage, SASLInitialResponse or SASLResponse, by authentication state. */
  | { type: 'Password'; data: Buffer }
  /** Validated, but its content is not exposed: dpg does not run the fast-path interface. */
  | { type: 'FunctionCall' };
