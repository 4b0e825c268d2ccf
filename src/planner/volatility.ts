import { unwrapNode, walk } from './sql-ast.ts';
import { AGGREGATES } from './merge-select.ts';

/**
 * Functions whose result depends only on their arguments (and on session settings,
 * which are part of a cached result's key): a SELECT calling nothing else may be
 * answered from the result cache. Anything not listed (random(), now(), nextval(),
 * a user's function) keeps the statement out of the cache.
 */
const DETERMINISTIC_FUNCTIONS = new Set([
  ...AGGREGATES,
  'abs', 'ceil', 'ceiling', 'floor', 'round', 'trunc', 'sqrt', 'power', 'exp', 'ln', 'log', 'greatest', 'least', 'mod', 'sign',
  'lower', 'upper', 'length', 'char_length', 'octet_length', 'substr', 'substring', 'left', 'right', 'trim', 'btrim', 'ltrim',
  'rtrim', 'replace', 'concat', 'concat_ws', 'split_part', 'starts_with', 'position', 'strpos', 'lpad', 'rpad', 'format', 'md5',
  'to_char', 'to_number', 'date_trunc', 'date_part', 'extract', 'coalesce', 'nullif', 'array_length', 'cardinality', 'unnest',
  'array_position', 'array_to_string', 'string_to_array', 'jsonb_extract_path', 'jsonb_extract_path_text', 'jsonb_array_length',
  'jsonb_typeof', 'jsonb_build_object', 'jsonb_build_array', 'json_build_object', 'to_jsonb', 'to_json', 'row_to_json',
  'cosine_distance', 'l2_distance', 'inner_product', 'l1_distance', 'vector_dims', 'vector_norm', 'l2_normalize',
]);

/** True when a statement's result depends only on the data it reads (no volatile or unknown function, no CURRENT_TIMESTAMP). */
export function isDeterministic(node: unknown): boolean {
  let deterministic = true;
  walk(node, (key, value) => {
    if (!deterministic) return false;
    if (key === 'SQLValueFunction') deterministic = false;
    if (key === 'FuncCall') {
      const names = (value.funcname as any[]).map((n) => unwrapNode(n)[1]?.sval as string);
      const schema = names.length > 1 ? names[0] : null;
      if ((schema !== null && schema !== 'pg_catalog') || !DETERMINISTIC_FUNCTIONS.has(names.at(-1)!)) deterministic = false;
    }
    return undefined;
  });
  return deterministic;
}
