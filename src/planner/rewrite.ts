import { quoteIdentifier } from '../shared/quoting.ts';
/**
 * Rewrites relation names in SQL text at the locations the parser reported, e.g.
 * `public.memory_entries m` -> `public.memory_entries_102008 m`. Working on the text
 * (rather than deparsing the tree) keeps everything else byte for byte as the
 * client wrote it.
 */

export interface RelationReplacement {
  /** Index into `text` where the (possibly qualified) relation name begins: RelationRef.location. */
  location: number;
  /** The new final identifier, unquoted; it is quoted in the output if needed. */
  newName: string;
  /** Written after the new name as ` AS <alias>` (keeps column references qualified with the old name valid). */
  alias?: string;
}

/**
 * Replaces, at each location, the last identifier of the dotted name starting there
 * (the relation name), keeping any schema or catalog qualification as written.
 * Whitespace and comments may stand around the dots.
 * @throws Error when a location does not point at an identifier.
 */
export function rewriteRelations(text: string, replacements: RelationReplacement[]): string {
  const sorted = [...replacements].sort((a, b) => b.location - a.location);
  let result = text;
  let previousStart = Infinity;
  for (const { location, newName, alias } of sorted) {
    const span = lastIdentifierOfName(text, location);
    if (span.end > previousStart) throw new Error(`overlapping relation replacements at ${location}`);
    previousStart = location;
    const replacement = alias === undefined ? quoteIdentifier(newName) : `${quoteIdentifier(newName)} AS ${quoteIdentifier(alias)}`;
    result = result.slice(0, span.start) + replacement + result.slice(span.end);
  }
  return result;
}

export interface IdentifierSpan {
  start: number;
  end: number;
  /** The identifier's value: case-folded to lower case when unquoted, unescaped when quoted. */
  value: string;
}

/** Scans one identifier starting exactly at `start`. */
export function scanIdentifier(text: string, start: number): IdentifierSpan | null {
  if (start < 0 || start >= text.length) return null;
  if (text[start] === '"') {
    let value = '';
    let index = start + 1;
    while (index < text.length) {
      const char = text[index];
      if (char === '"') {
        if (text[index + 1] === '"') {
          value += '"';
          index += 2;
          continue;
        }
        return value === '' ? null : { start, end: index + 1, value };
      }
      value += char;
      index++;
    }
    return null; // unterminated
  }
  // U&"..." identifiers (with Unicode escapes) are not handled: reading `U` as a
  // whole identifier would be wrong, so refuse instead.
  if (/^[uU]&"/.test(text.slice(start, start + 3))) return null;
  if (!isIdentifierStart(text.charCodeAt(start))) return null;
  let end = start + 1;
  while (end < text.length && isIdentifierPart(text.charCodeAt(end))) end++;
  // PostgreSQL down-cases only ASCII letters of unquoted identifiers (downcase_identifier in scansup.c).
  const value = text.slice(start, end).replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
  return { start, end, value };
}

/** The span of the final identifier of the dotted name beginning at `location`. */
function lastIdentifierOfName(text: string, location: number): IdentifierSpan {
  let identifier = scanIdentifier(text, location);
  if (!identifier) {
    throw new Error(`no identifier at position ${location} of ${JSON.stringify(excerpt(text, location))}`);
  }
  for (;;) {
    const dot = skipSpaceAndComments(text, identifier.end);
    if (text[dot] !== '.') return identifier;
    const next = scanIdentifier(text, skipSpaceAndComments(text, dot + 1));
    if (!next) return identifier; // `t.*` cannot follow a relation name in FROM; be lenient anyway
    identifier = next;
  }
}

function skipSpaceAndComments(text: string, index: number): number {
  for (;;) {
    while (index < text.length && isSqlWhitespace(text.charCodeAt(index))) index++;
    if (text.startsWith('--', index)) {
      const newline = text.indexOf('\n', index);
      index = newline === -1 ? text.length : newline + 1;
    } else if (text.startsWith('/*', index)) {
      // PostgreSQL's block comments nest.
      let depth = 1;
      index += 2;
      while (index < text.length && depth > 0) {
        if (text.startsWith('/*', index)) {
          depth++;
          index += 2;
        } else if (text.startsWith('*/', index)) {
          depth--;
          index += 2;
        } else index++;
      }
    } else return index;
  }
}

/** scan.l: space [ \t\n\r\f\v]. */
function isSqlWhitespace(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d);
}

/** scan.l: ident_start [A-Za-z\200-\377_]; non-ASCII characters are letters to the scanner. */
function isIdentifierStart(code: number): boolean {
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a) || code === 0x5f || code >= 0x80;
}

/** scan.l: ident_cont [A-Za-z\200-\377_0-9\$]. */
function isIdentifierPart(code: number): boolean {
  return isIdentifierStart(code) || (code >= 0x30 && code <= 0x39) || code === 0x24;
}

function excerpt(text: string, location: number): string {
  return text.slice(Math.max(0, location - 10), location + 20);
}

