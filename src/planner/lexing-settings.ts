import { ClientError, SqlState } from '../shared/errors.ts';
import { constantValue, unwrapNode, walkBuiltinCalls } from './sql-ast.ts';

/**
 * Settings that change how PostgreSQL lexes SQL text. dpg parses every statement with
 * libpg-query, which reads it as a server with standard_conforming_strings = on and
 * UTF-8 text does, and sends that text to the nodes: a node set otherwise could read a
 * string literal as SQL (a backslash before a quote is an escape with
 * standard_conforming_strings off; a multibyte encoding can swallow a quote). So these
 * stay at dpg's values; the direct ways to change them are refused here with 0A000, and
 * any other way (a function, a DO block) is caught when the node reports the change
 * (BackendConnection.checkLexing).
 */
const LEXING_SETTINGS: Record<string, (value: string) => boolean> = {
  // PostgreSQL's boolean spellings (parse_bool): on, true, yes, 1 and their prefixes.
  standard_conforming_strings: (value) => /^(on|t|tr|tru|true|y|ye|yes|1)$/i.test(value.trim()),
  // The names PostgreSQL accepts for UTF-8 (pg_char_to_encoding ignores case and punctuation).
  client_encoding: (value) => /^(utf8|unicode)$/i.test(value.replace(/[^A-Za-z0-9]/g, '')),
};

function refused(name: string, value: string): ClientError {
  return new ClientError(
    SqlState.featureNotSupported,
    `setting ${name} to ${value} is not supported by dpg: the coordinator parses every statement as PostgreSQL does with standard_conforming_strings = on and client_encoding = UTF8, and a node reading the same text otherwise could run something else than what was planned`,
  );
}

/** A SET (or startup parameter) of `name` to `value`: an error if it would change how SQL is lexed. */
export function checkLexingSetting(name: string, value: string): ClientError | null {
  const accepts = LEXING_SETTINGS[name.toLowerCase()];
  return accepts && !accepts(value) ? refused(name.toLowerCase(), value) : null;
}

/** A SET or SET LOCAL statement that would change how SQL is lexed: its error. RESET and SET ... TO DEFAULT go back to dpg's values. */
export function checkSetStatement(body: any): ClientError | null {
  const kind = body.kind as string;
  if (kind !== 'VAR_SET_VALUE' || typeof body.name !== 'string') return null;
  const values = ((body.args as any[]) ?? []).map((arg) => constantValue(arg) ?? '');
  return checkLexingSetting(body.name, values.join(', '));
}

/**
 * set_config(name, value, is_local) anywhere in a statement: refused when it sets a lexing
 * setting to another value, or when its name is neither a constant nor a parameter.
 */
export function checkSetConfigCalls(node: unknown): ClientError | null {
  let error: ClientError | null = null;
  walkBuiltinCalls(node, (function_, call) => {
    if (function_ !== 'set_config') return undefined;
    const args = (call.args as any[]) ?? [];
    // A parameter is known only at execution: a lexing setting set through it is caught
    // then, from the node's ParameterStatus (the statement fails, nothing is kept).
    if (args[0] !== undefined && unwrapNode(args[0])[0] === 'ParamRef') return undefined;
    const name = args[0] === undefined ? undefined : constantValue(args[0]);
    if (typeof name !== 'string') {
      error = new ClientError(SqlState.featureNotSupported, 'set_config() with a setting name that is not a constant is not supported by dpg: it could change how the nodes read SQL (standard_conforming_strings, client_encoding)');
      return false;
    }
    if (!(name.toLowerCase() in LEXING_SETTINGS)) return undefined;
    const setting = args[1] === undefined ? undefined : constantValue(args[1]);
    error = typeof setting === 'string' ? checkLexingSetting(name, setting) : refused(name.toLowerCase(), 'a value that is not a constant');
    return error ? false : undefined;
  });
  return error;
}
