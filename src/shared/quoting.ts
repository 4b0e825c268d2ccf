/**
 * Quoting of SQL identifiers and literals, one rule each, for every stage.
 */

/** `name` as an SQL identifier, double-quoted unless PostgreSQL would read it back unquoted as the same name. */
export function quoteIdentifier(name: string): string {
  if (/^[a-z_][a-z0-9_$]*$/.test(name) && !NON_UNRESERVED_KEYWORDS.has(name)) return name;
  return `"${name.replace(/"/g, '""')}"`;
}

/** `value` as an SQL string literal (standard_conforming_strings is always on through dpg). */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** `name` as an SQL identifier, always double-quoted (for names that may hold anything). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * PostgreSQL 17's keywords other than the unreserved ones (src/include/parser/kwlist.h):
 * reserved, type/function-name and column-name keywords. PostgreSQL's own
 * quote_identifier quotes all of them.
 */
const NON_UNRESERVED_KEYWORDS: ReadonlySet<string> = new Set(
  (
    // RESERVED_KEYWORD
    'all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create ' +
    'current_catalog current_date current_role current_time current_timestamp current_user default deferrable desc ' +
    'distinct do else end except false fetch for foreign from grant group having in initially intersect into lateral ' +
    'leading limit localtime localtimestamp not null offset on only or order placing primary references returning ' +
    'select session_user some symmetric system_user table then to trailing true union unique user using variadic when ' +
    'where window with ' +
    // TYPE_FUNC_NAME_KEYWORD
    'authorization binary collation concurrently cross current_schema freeze full ilike inner is isnull join left ' +
    'like natural notnull outer overlaps right similar tablesample verbose ' +
    // COL_NAME_KEYWORD
    'between bigint bit boolean char character coalesce dec decimal exists extract float greatest grouping inout int ' +
    'integer interval json json_array json_arrayagg json_exists json_object json_objectagg json_query json_scalar ' +
    'json_serialize json_table json_value least merge_action national nchar none normalize nullif numeric out overlay ' +
    'position precision real row setof smallint substring time timestamp treat trim values varchar xmlattributes ' +
    'xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable'
  ).split(' '),
);
