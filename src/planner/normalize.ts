/**
 * A fast normalisation of one statement's text for the plan cache: its literals
 * (numbers and standard strings) replaced by markers, so that statements that differ
 * only in their constants (`... WHERE aid = 48120`, `... WHERE aid = 7`) share one
 * plan without a parse. A lexer, not the parser: it only has to find PostgreSQL's
 * tokens (scan.l) well enough to know where literals are, and it gives up (null) on
 * anything it does not fully understand, which then goes to the parser as before.
 */
export interface NormalizedStatement {
  /** The text with each literal replaced by `$s` (string) or `$n` (number). */
  key: string;
  /** Where the statement's text starts (after leading white space) and ends (before trailing semicolons and white space). */
  start: number;
  end: number;
  /**
   * An identifier is followed by `(` (a function call, or a keyword the lexer does not
   * tell apart from one): the planner may look at such a call's literal arguments
   * (set_config, pg_notify), so a plan made for other literals may not apply.
   */
  calls: boolean;
  /** The first keyword, lower-cased. */
  command: string;
}

/** Keywords that are followed by `(` without being function calls. */
const PAREN_KEYWORDS = new Set([
  'in', 'exists', 'any', 'all', 'some', 'values', 'and', 'or', 'not', 'on', 'where', 'from', 'join', 'select', 'set', 'into', 'as',
  'by', 'limit', 'offset', 'using', 'having', 'when', 'then', 'else', 'case', 'lateral', 'is', 'between', 'like', 'ilike', 'returning',
  'with', 'union', 'intersect', 'except', 'distinct', 'fetch', 'table', 'update', 'delete', 'insert', 'cast',
]);

const isIdentStart = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
const isIdentChar = (c: number) => isIdentStart(c) || (c >= 48 && c <= 57) || c === 36;
const isDigit = (c: number) => c >= 48 && c <= 57;
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;

/**
 * The index after the quoted token starting at `start` ('string' or "identifier", the
 * quote doubled inside it), or -1 when it does not end.
 */
function afterQuoted(sql: string, start: number): number {
  const quote = sql[start]!;
  for (let j = start + 1; ; ) {
    const q = sql.indexOf(quote, j);
    if (q < 0) return -1;
    if (sql[q + 1] !== quote) return q + 1;
    j = q + 2;
  }
}

export function normalizeStatement(sql: string): NormalizedStatement | null {
  const n = sql.length;
  let out = '';
  let copied = 0;
  let i = 0;
  let calls = false;
  let command = '';
  /** The last identifier or keyword read, waiting to see whether `(` follows it. */
  let lastWord: string | null = null;
  let end = -1;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (end >= 0 && !isSpace(c) && c !== 59) return null; // something after a `;`: several statements
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === 59) {
      if (end < 0) end = i;
      i++;
      continue;
    }
    // -- comment to end of line; /* nested */ comments
    if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      const newline = sql.indexOf('\n', i);
      i = newline < 0 ? n : newline + 1;
      continue;
    }
    if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql.charCodeAt(i) === 47 && sql.charCodeAt(i + 1) === 42) {
          depth++;
          i += 2;
        } else if (sql.charCodeAt(i) === 42 && sql.charCodeAt(i + 1) === 47) {
          depth--;
          i += 2;
        } else i++;
      }
      if (depth > 0) return null;
      continue;
    }
    if (c === 39) {
      // A standard string: '' is a quote, backslashes are characters (standard_conforming_strings
      // is on in every dpg session: lexing settings cannot change). Adjacent strings separated
      // by a newline continue one another: give up on those.
      const j = afterQuoted(sql, i);
      if (j < 0) return null;
      let k = j;
      while (k < n && isSpace(sql.charCodeAt(k))) k++;
      if (sql.charCodeAt(k) === 39) return null;
      out += sql.slice(copied, i) + '$s';
      copied = j;
      i = j;
      lastWord = null;
      continue;
    }
    if (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1)))) {
      let j = i;
      while (j < n && isDigit(sql.charCodeAt(j))) j++;
      if (sql.charCodeAt(j) === 46 && sql.charCodeAt(j + 1) !== 46) {
        j++;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
      }
      if ((sql.charCodeAt(j) | 32) === 101) {
        let k = j + 1;
        if (sql.charCodeAt(k) === 43 || sql.charCodeAt(k) === 45) k++;
        if (!isDigit(sql.charCodeAt(k))) return null;
        while (k < n && isDigit(sql.charCodeAt(k))) k++;
        j = k;
      }
      // 123abc, 0x1F, 1_000: forms the lexer here does not take apart.
      if (j < n && (isIdentChar(sql.charCodeAt(j)) || sql.charCodeAt(j) === 46)) return null;
      out += sql.slice(copied, i) + '$n';
      copied = j;
      i = j;
      lastWord = null;
      continue;
    }
    if (c === 34) {
      // "quoted identifier": kept as written.
      const j = afterQuoted(sql, i);
      if (j < 0) return null;
      lastWord = sql.slice(i, j);
      i = j;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentChar(sql.charCodeAt(j))) j++;
      const word = sql.slice(i, j).toLowerCase();
      // E'...', B'...', X'...', U&'...', N'...' and other prefixed strings: give up.
      const next = sql.charCodeAt(j);
      if (next === 39 || (next === 38 && sql.charCodeAt(j + 1) === 39)) {
        if (word.length === 1 || word === 'u') return null;
      }
      if (word.indexOf('$') >= 0) return null;
      if (!command) command = word;
      lastWord = word;
      i = j;
      continue;
    }
    if (c === 36) return null; // $1 parameters and $tag$ dollar quotes
    if (c === 40) {
      if (lastWord !== null && (lastWord.charCodeAt(0) === 34 || !PAREN_KEYWORDS.has(lastWord))) calls = true;
    }
    lastWord = null;
    i++;
  }
  if (!command) return null;
  out += sql.slice(copied);
  if (end < 0) end = n;
  while (end > 0 && isSpace(sql.charCodeAt(end - 1))) end--;
  let start = 0;
  while (start < end && isSpace(sql.charCodeAt(start))) start++;
  return { key: out, start, end, calls, command };
}
