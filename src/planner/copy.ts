import { deparseSync } from 'pgsql-deparser';
import type { CatalogSnapshot } from '../topology/snapshot.ts';
import { ClientError, SqlState } from '../shared/errors.ts';
import { unwrapNode, walk, type ParsedStatement } from './sql-ast.ts';
import { relationPlaceholder, type CopyPlan, type Plan } from './plan.ts';

const notSupported = (message: string): Plan => ({ kind: 'unsupported', error: new ClientError(SqlState.featureNotSupported, message) });

function optionText(arg: any): string | null {
  const [kind, value] = unwrapNode(arg);
  if (kind === 'String') return value.sval ?? '';
  if (kind === 'Boolean') return value.boolval ? 'true' : 'false';
  if (kind === 'Integer') return String(value.ival ?? 0);
  return null;
}

/**
 * COPY: into a distributed or reference table each row goes to its shard (the
 * coordinator reads the distribution column of every row); out of one, every
 * shard's rows are sent in turn. COPY of other tables and of queries without
 * distributed tables runs on the control group. Files and programs are refused:
 * they would be the server's, not the client's.
 */
export function planCopy(statement: ParsedStatement, snapshot: CatalogSnapshot): Plan {
  const copy = unwrapNode(statement.node)[1];
  if (copy.filename || copy.is_program) {
    return notSupported('COPY to or from a file or program is not supported through the coordinator; use COPY ... FROM STDIN / TO STDOUT (psql: \\copy)');
  }
  if (copy.query) {
    let managed = false;
    walk(copy.query, (_key, value) => {
      if (typeof value.relname === 'string' && snapshot.table(value.relname, value.schemaname ?? null)) managed = true;
      return undefined;
    });
    if (managed) return notSupported('COPY (query) TO STDOUT over distributed or reference tables is not supported yet; run the SELECT instead');
    return { kind: 'control', sql: statement.text, utility: true };
  }
  const relation = copy.relation;
  const table = snapshot.table(relation.relname, relation.schemaname ?? null);
  if (!table) return { kind: 'control', sql: statement.text, utility: true, copyIn: !!copy.is_from };
  if (copy.whereClause) return notSupported('COPY ... FROM ... WHERE into a distributed table is not supported yet');

  const options = new Map<string, string | null>();
  for (const item of (copy.options as any[]) ?? []) {
    const option = unwrapNode(item)[1];
    options.set(option.defname, option.arg === undefined ? 'true' : optionText(option.arg));
  }
  const format = (options.get('format') ?? 'text') as CopyPlan['format'];
  if (!['text', 'csv', 'binary'].includes(format)) return notSupported(`COPY format ${format} is not supported`);
  const header = options.has('header') && options.get('header') !== 'false' && options.get('header') !== 'off' && options.get('header') !== '0';
  if (options.get('header') === 'match') return notSupported('COPY ... HEADER MATCH into a distributed table is not supported yet');

  // Per shard: the same COPY with the shard's name and without HEADER (the coordinator handles the header once).
  const shardNode = structuredClone(statement.node);
  const shardCopy = unwrapNode(shardNode)[1];
  shardCopy.relation.relname = relationPlaceholder(0);
  shardCopy.options = ((shardCopy.options as any[]) ?? []).filter((o) => unwrapNode(o)[1].defname !== 'header');
  if (shardCopy.options.length === 0) delete shardCopy.options;
  const columns = ((copy.attlist as any[]) ?? []).map((c) => unwrapNode(c)[1].sval as string);
  return {
    kind: 'copy',
    direction: copy.is_from ? 'in' : 'out',
    table,
    columns: columns.length > 0 ? columns : null,
    format,
    delimiter: options.get('delimiter') ?? (format === 'csv' ? ',' : '\t'),
    nullString: options.get('null') ?? (format === 'csv' ? '' : '\\N'),
    quote: options.get('quote') ?? '"',
    escape: options.get('escape') ?? options.get('quote') ?? '"',
    header,
    template: deparseSync(shardNode),
  };
}
