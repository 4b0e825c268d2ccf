/**
 * SQL parsing with the real PostgreSQL parser (libpg-query, PostgreSQL 17's
 * gram.y compiled to WASM). The parse tree is PostgreSQL's raw parse tree as JSON:
 * every `Node *` field is wrapped as `{ NodeTypeName: {...} }`, fields typed as a
 * specific struct (e.g. `RangeVar *relation`) are not wrapped, and fields equal to
 * 0 or false are left out (a missing `location` is 0).
 *
 * Locations in libpg-query's output are byte offsets into the UTF-8 encoding of the
 * whole query string. `parseSql` converts every `location` of a statement's tree
 * into a JavaScript string index (UTF-16 code units) into that statement's own
 * `text`, so later stages can slice and rewrite the text directly.
 */
import { loadModule, parseSync } from 'libpg-query';
import { Worker } from 'node:worker_threads';

export interface ParsedStatement {
  /** The statement's node, e.g. `{ SelectStmt: {...} }`; every `location` in it is an index into `text`. */
  node: any;
  /** The node type: 'SelectStmt', 'InsertStmt', 'VariableSetStmt', ... */
  kind: string;
  /** This statement's own text, trimmed of surrounding whitespace, without the terminating semicolon. */
  text: string;
  /** Index of `text` in the query string given to `parseSql` (UTF-16 code units). */
  location: number;
}

/**
 * An error reported by PostgreSQL's raw parser, carrying what an ErrorResponse
 * needs: the SQLSTATE (42601 syntax_error for nearly all of them) and the 'P' field.
 */
export class SqlSyntaxError extends Error {
  readonly sqlstate: string;
  /**
   * 1-based position in characters (code points) of the whole query string, as
   * PostgreSQL reports it in the ErrorResponse 'P' field
   * (https://www.postgresql.org/docs/current/protocol-error-fields.html);
   * undefined for the few grammar errors PostgreSQL reports without a position.
   */
  readonly position: number | undefined;

  constructor(message: string, position: number | undefined, sqlstate = sqlstateOfParserError(message)) {
    super(message);
    this.name = 'SqlSyntaxError';
    this.position = position;
    this.sqlstate = sqlstate;
  }
}

/**
 * libpg-query reports no SQLSTATE. Nearly every raw-parser error is 42601; these
 * are the exceptions in gram.y and scan.l (checked against PostgreSQL 15).
 */
const PARSER_ERROR_SQLSTATES: [RegExp, string][] = [
  [/not yet implemented|not supported/, '0A000'], // feature_not_supported, e.g. "UNIQUE predicate is not yet implemented"
  [/^frame (start|end|starting|ending)/, '42P20'], // windowing_error, e.g. "frame start cannot be UNBOUNDED FOLLOWING"
  [/^invalid Unicode escape$/, '22025'], // invalid_escape_sequence
];

function sqlstateOfParserError(message: string): string {
  return PARSER_ERROR_SQLSTATES.find(([pattern]) => pattern.test(message))?.[1] ?? '42601';
}

let parserReady: Promise<void> | null = null;
let parserLoaded = false;

/** Loads the WASM parser; safe to call more than once. Must complete before `parseSql`. */
export async function initParser(): Promise<void> {
  parserReady ??= loadModule().then(() => {
    parserLoaded = true;
  });
  await parserReady;
}

/**
 * Parses a query string that may hold several statements separated by semicolons.
 * An empty query string (only whitespace, comments or semicolons) gives [] — the
 * caller answers it with EmptyQueryResponse.
 * @throws SqlSyntaxError with PostgreSQL's own message and position.
 */
export function parseSql(sql: string): ParsedStatement[] {
  if (!parserLoaded) throw new Error('parseSql called before initParser() completed');
  // libpg-query refuses a blank string instead of returning no statements.
  if (sql.trim() === '') return [];
  let result: ParseResult;
  try {
    result = parseSync(sql);
  } catch (error) {
    throw parserError(error);
  }
  return statementsOf(sql, result);
}

type ParseResult = { stmts?: { stmt: any; stmt_location?: number; stmt_len?: number }[] };

function parserError(error: unknown): unknown {
  const details = (error as { sqlDetails?: { message: string; cursorPosition: number } }).sqlDetails;
  return details ? new SqlSyntaxError(details.message, errorPosition(details.message, details.cursorPosition)) : error;
}

/** The statements of libpg-query's result for `sql`, with locations as indexes into their own text. */
function statementsOf(sql: string, result: ParseResult): ParsedStatement[] {
  const offsets = new ByteOffsets(sql);
  const statements: ParsedStatement[] = [];
  for (const raw of result.stmts ?? []) {
    const startByte = raw.stmt_location ?? 0;
    // stmt_len 0 (left out) means "to the end of the string".
    const endByte = raw.stmt_len ? startByte + raw.stmt_len : offsets.byteLength;
    let start = offsets.toIndex(startByte);
    let end = offsets.toIndex(endByte);
    while (start < end && isSqlWhitespace(sql.charCodeAt(start))) start++;
    while (end > start && (isSqlWhitespace(sql.charCodeAt(end - 1)) || sql.charCodeAt(end - 1) === 0x3b)) end--;
    const node = raw.stmt;
    relocate(node, (byteLocation) => offsets.toIndex(byteLocation) - start);
    statements.push({ node, kind: nodeType(node), text: sql.slice(start, end), location: start });
  }
  return statements;
}

/** Statements at least this long are parsed on a worker thread (parseSqlOffThread). */
export const OFF_THREAD_PARSE_CHARS = 64 * 1024;

let parseWorker: { worker: Worker; waiting: Map<number, { resolve: (r: ParseResult) => void; reject: (e: unknown) => void }>; nextId: number } | null = null;

function startParseWorker(): NonNullable<typeof parseWorker> {
  const worker = new Worker(new URL('./parse-worker.mjs', import.meta.url));
  const state = { worker, waiting: new Map<number, { resolve: (r: ParseResult) => void; reject: (e: unknown) => void }>(), nextId: 1 };
  worker.unref();
  worker.on('message', (message: { id?: number; result?: ParseResult; error?: { name: string; message: string; sqlDetails: unknown } }) => {
    if (message.id === undefined) return;
    const waiter = state.waiting.get(message.id);
    state.waiting.delete(message.id);
    if (!waiter) return;
    if (message.error) {
      // A stack overflow in the parser thread stays a RangeError (54001 for the client).
      const error = message.error.name === 'RangeError' ? new RangeError(message.error.message) : new Error(message.error.message);
      waiter.reject(parserError(Object.assign(error, { sqlDetails: message.error.sqlDetails ?? undefined })));
    }
    else waiter.resolve(message.result!);
  });
  const failAll = (error: unknown) => {
    if (parseWorker === state) parseWorker = null;
    for (const waiter of state.waiting.values()) waiter.reject(error);
    state.waiting.clear();
  };
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`the parser thread exited (${code})`)));
  return state;
}

/**
 * parseSql on a worker thread: the same statements, while the event loop goes on
 * serving other sessions (a 50 MB statement takes PostgreSQL's parser over a second).
 * Only what comes back is turned into statements here.
 */
export async function parseSqlOffThread(sql: string): Promise<ParsedStatement[]> {
  if (sql.trim() === '') return [];
  parseWorker ??= startParseWorker();
  const state = parseWorker;
  const id = state.nextId++;
  const result = await new Promise<ParseResult>((resolve, reject) => {
    state.waiting.set(id, { resolve, reject });
    if (state.waiting.size === 1) state.worker.ref();
    state.worker.postMessage({ id, sql });
  }).finally(() => {
    if (state.waiting.size === 0) state.worker.unref();
  });
  return statementsOf(sql, result);
}

/**
 * PostgreSQL's cursorpos is 1-based in characters, 0 for none; libpg-query reports
 * max(cursorpos - 1, 0), so 0 is either "none" or "the first character". Only the
 * scanner's "at or near" / "at end of input" errors can point at the first character.
 */
function errorPosition(message: string, reported: number): number | undefined {
  if (reported > 0) return reported + 1;
  return /at or near|at end of input/.test(message) ? 1 : undefined;
}

/** The type name of a wrapped node (`{ SelectStmt: {...} }` -> 'SelectStmt'). */
export function nodeType(node: any): string {
  const keys = node && typeof node === 'object' ? Object.keys(node) : [];
  if (keys.length !== 1) throw new Error(`not a wrapped parse node: ${JSON.stringify(node)?.slice(0, 80)}`);
  return keys[0];
}

/** `{ SelectStmt: body }` -> ['SelectStmt', body]; anything else -> [null, node]. */
export function unwrapNode(node: any): [string | null, any] {
  if (node && typeof node === 'object' && !Array.isArray(node)) {
    const keys = Object.keys(node);
    if (keys.length === 1 && /^[A-Z]/.test(keys[0])) return [keys[0], node[keys[0]]];
  }
  return [null, node];
}

/**
 * Visits every object in a parse tree, depth first: each wrapper and each node
 * body, with the key it hangs under (a field name, or the node type for a body
 * inside its wrapper). Array elements are visited with the array's key; `path` is
 * the list of keys and array indexes from the root to the value. Returning false
 * skips the value's children.
 */
/**
 * A constant's value as text, through casts: 'x' -> x, 42 -> 42, true -> true, NULL ->
 * null; undefined for anything that is not a constant.
 */
export function constantValue(node: any): string | null | undefined {
  const [kind, value] = unwrapNode(node);
  if (kind === 'TypeCast') return constantValue(value.arg);
  if (kind !== 'A_Const') return undefined;
  if (value.isnull) return null;
  if (value.sval) return String(value.sval.sval ?? '');
  if (value.ival) return String(value.ival.ival ?? 0);
  if (value.fval) return String(value.fval.fval);
  if (value.boolval) return String(!!value.boolval.boolval);
  return undefined;
}

/**
 * Calls `visit` for every function call in `node` that names a built-in function:
 * unqualified or qualified with pg_catalog (a function of another schema is the user's),
 * with the call's name and its FuncCall body; `visit` returns false to stop the walk.
 */
export function walkBuiltinCalls(node: unknown, visit: (name: string, call: any) => boolean | void): void {
  let stopped = false;
  walk(node, (key, value) => {
    if (stopped) return false;
    if (key !== 'FuncCall') return undefined;
    const names = (value.funcname as any[]).map((n) => unwrapNode(n)[1]?.sval as string);
    if (names.length > 1 && names[0] !== 'pg_catalog') return undefined;
    if (visit(names.at(-1)!, value) === false) stopped = true;
    return stopped ? false : undefined;
  });
}

export function walk(
  node: any,
  visit: (key: string, value: any, parent: any, path: string[]) => boolean | void,
): void {
  const descend = (value: any, path: string[]): void => {
    if (Array.isArray(value)) {
      value.forEach((element, index) => {
        if (element && typeof element === 'object') visitValue(path[path.length - 1] ?? '', element, value, [...path, String(index)]);
      });
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      if (child && typeof child === 'object') {
        if (Array.isArray(child)) descend(child, [...path, key]);
        else visitValue(key, child, value, [...path, key]);
      }
    }
  };
  const visitValue = (key: string, value: any, parent: any, path: string[]): void => {
    if (visit(key, value, parent, path) === false) return;
    descend(value, path);
  };
  if (node && typeof node === 'object') {
    if (Array.isArray(node)) descend(node, []);
    else visitValue('', node, null, []);
  }
}

/** PostgreSQL's scanner whitespace: space, tab, newline, carriage return, form feed, vertical tab. */
function isSqlWhitespace(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d);
}

/** The parse-location fields of PostgreSQL 17's nodes (byte offsets; -1 = unknown). */
const LOCATION_FIELDS = ['location', 'name_location'];

/** Rewrites every location field in place. */
function relocate(tree: any, convert: (byteLocation: number) => number): void {
  walk(tree, (_key, value) => {
    for (const field of LOCATION_FIELDS) {
      if (typeof value[field] === 'number' && value[field] >= 0) value[field] = convert(value[field]);
    }
  });
}

/** Converts byte offsets in the UTF-8 encoding of a string to indexes into the string. */
class ByteOffsets {
  readonly byteLength: number;
  private readonly indexAtByte: Int32Array | null;

  constructor(text: string) {
    this.byteLength = Buffer.byteLength(text, 'utf8');
    if (this.byteLength === text.length) {
      this.indexAtByte = null; // all ASCII: byte offset = index
      return;
    }
    const map = new Int32Array(this.byteLength + 1);
    let byte = 0;
    for (let index = 0; index < text.length; ) {
      const codePoint = text.codePointAt(index)!;
      const bytes = codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
      // A lone surrogate is encoded by Buffer as U+FFFD (3 bytes), the same as codePoint < 0x10000.
      for (let k = 0; k < bytes; k++) map[byte + k] = index;
      byte += bytes;
      index += codePoint >= 0x10000 ? 2 : 1;
    }
    map[this.byteLength] = text.length;
    this.indexAtByte = map;
  }

  toIndex(byteOffset: number): number {
    if (byteOffset <= 0) return 0;
    if (byteOffset >= this.byteLength) return this.indexAtByte ? this.indexAtByte[this.byteLength] : this.byteLength;
    return this.indexAtByte ? this.indexAtByte[byteOffset] : byteOffset;
  }
}
