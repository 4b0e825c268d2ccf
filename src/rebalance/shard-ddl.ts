import type pg from 'pg';
import { quoteIdent } from '../shared/quoting.ts';

/**
 * The definition of a shard table as it is on its worker, read from that worker's
 * catalog, so that a copy made elsewhere has the same columns, constraints and index
 * names (each already carries the shard id as suffix).
 */
export interface ShardTableDefinition {
  name: string;
  unlogged: boolean;
  /** A primary key or a replica identity index: logical replication can apply UPDATE and DELETE by it. */
  hasReplicaIdentity: boolean;
  /** The primary key's columns, in key order (empty: no primary key). */
  primaryKey: string[];
  /** Columns a copy inserts: all but generated ones, which the target computes. */
  insertColumns: string[];
  /** CREATE TABLE with columns and constraints, no secondary index. */
  createTable: string;
  /** Secondary indexes (those no constraint owns), by name; only valid ones. */
  indexes: Map<string, string>;
  /** The shard's owner (the logical table's, a client role): a copy is owned by it too. */
  owner: string;
  /**
   * After createTable, run as a superuser: the owner, the GRANTs and the row-level
   * security (ENABLE/FORCE and each policy) of the shard, so a copy enforces what it did.
   */
  access: string[];
}

export async function readShardTable(client: pg.Client, name: string): Promise<ShardTableDefinition | null> {
  const relation = await client.query<{ oid: string; relpersistence: string; relreplident: string; identity_index: boolean; owner: string; rls: boolean; force_rls: boolean }>(
    `SELECT c.oid, c.relpersistence, c.relreplident, pg_get_userbyid(c.relowner) AS owner, c.relrowsecurity AS rls, c.relforcerowsecurity AS force_rls,
            EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND (x.indisprimary OR x.indisreplident)) AS identity_index
     FROM pg_class c WHERE c.oid = to_regclass($1)`,
    [`public.${quoteIdent(name)}`],
  );
  const row = relation.rows[0];
  if (!row) return null;
  const columns = await client.query<{ attname: string; type: string; attnotnull: boolean; def: string | null; attgenerated: string }>(
    `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, pg_get_expr(d.adbin, d.adrelid) AS def, a.attgenerated
     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [row.oid],
  );
  const constraints = await client.query<{ conname: string; def: string }>(
    `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1 AND contype IN ('p', 'u', 'x', 'c') ORDER BY oid`,
    [row.oid],
  );
  const indexes = await client.query<{ name: string; def: string }>(
    `SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS def FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
     WHERE x.indrelid = $1 AND x.indisvalid AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
     ORDER BY x.indexrelid`,
    [row.oid],
  );
  const primaryKey = await client.query<{ attname: string }>(
    `SELECT a.attname FROM pg_index x CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
     JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
     WHERE x.indrelid = $1 AND x.indisprimary ORDER BY k.n`,
    [row.oid],
  );
  const definitions = columns.rows.map((c) => {
    let definition = `${quoteIdent(c.attname)} ${c.type}`;
    if (c.attgenerated === 's') definition += ` GENERATED ALWAYS AS (${c.def}) STORED`;
    else if (c.def !== null) definition += ` DEFAULT ${c.def}`;
    if (c.attnotnull) definition += ' NOT NULL';
    return definition;
  });
  for (const constraint of constraints.rows) definitions.push(`CONSTRAINT ${quoteIdent(constraint.conname)} ${constraint.def}`);
  const unlogged = row.relpersistence === 'u';
  const table = `public.${quoteIdent(name)}`;
  const grants = await client.query<{ grantee: string; privilege_type: string; is_grantable: boolean }>(
    `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS grantee, a.privilege_type, a.is_grantable
     FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a WHERE c.oid = $1 AND a.grantee <> c.relowner ORDER BY 1, 2`,
    [row.oid],
  );
  const policies = await client.query<{ name: string; permissive: string; roles: string[]; cmd: string; qual: string | null; with_check: string | null }>(
    `SELECT policyname AS name, permissive, roles::text[] AS roles, cmd, qual, with_check FROM pg_policies WHERE schemaname = 'public' AND tablename = $1 ORDER BY policyname`,
    [name],
  );
  const access = [`ALTER TABLE ${table} OWNER TO ${quoteIdent(row.owner)}`];
  for (const g of grants.rows) access.push(`GRANT ${g.privilege_type} ON ${table} TO ${g.grantee}${g.is_grantable ? ' WITH GRANT OPTION' : ''}`);
  if (row.rls) access.push(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
  if (row.force_rls) access.push(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
  for (const p of policies.rows) {
    const roles = p.roles.map((r) => (r === 'public' ? 'PUBLIC' : quoteIdent(r))).join(', ');
    access.push(
      `CREATE POLICY ${quoteIdent(p.name)} ON ${table} AS ${p.permissive} FOR ${p.cmd} TO ${roles}${p.qual !== null ? ` USING (${p.qual})` : ''}${p.with_check !== null ? ` WITH CHECK (${p.with_check})` : ''}`,
    );
  }
  return {
    owner: row.owner,
    access,
    name,
    unlogged,
    primaryKey: primaryKey.rows.map((r) => r.attname),
    insertColumns: columns.rows.filter((c) => c.attgenerated !== 's').map((c) => c.attname),
    hasReplicaIdentity: row.relreplident === 'f' || (row.relreplident !== 'n' && row.identity_index),
    createTable: `CREATE ${unlogged ? 'UNLOGGED ' : ''}TABLE public.${quoteIdent(name)} (\n  ${definitions.join(',\n  ')}\n)`,
    indexes: new Map(indexes.rows.map((i) => [i.name, i.def])),
  };
}

/** Names of the given tables that exist in schema public of the connected database. */
export async function existingTables(client: pg.Client, names: string[]): Promise<string[]> {
  const result = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname = ANY($1)`,
    [names],
  );
  return result.rows.map((r) => r.relname);
}

/** Index names present on the table. */
export async function indexNames(client: pg.Client, table: string): Promise<Set<string>> {
  const result = await client.query<{ relname: string }>(
    `SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = to_regclass($1)`,
    [`public.${quoteIdent(table)}`],
  );
  return new Set(result.rows.map((r) => r.relname));
}

export const dropTablesSql = (names: string[]) => `DROP TABLE IF EXISTS ${names.map((n) => `public.${quoteIdent(n)}`).join(', ')}`;

/**
 * The name a cutover gives the source's shard table (`dpg_retired_<shardid>`): renaming
 * is instant where dropping a large table's files is not, so the write pause ends sooner;
 * the move's cleanup drops it.
 */
export const retiredName = (shardTable: string) => `dpg_retired_${/_(\d+)$/.exec(shardTable)?.[1] ?? shardTable}`;

/** ALTER TABLE ... RENAME of each shard table to its retired name. */
export const retireTablesSql = (names: string[]) => names.map((n) => `ALTER TABLE public.${quoteIdent(n)} RENAME TO ${quoteIdent(retiredName(n))}`).join('; ');
