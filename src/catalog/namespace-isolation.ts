import type pg from 'pg';
import { quoteIdentifier as quoteIdent, quoteLiteral } from '../shared/quoting.ts';

/**
 * Tenant isolation (config users[].namespaces), enforced by PostgreSQL on every shard:
 * row-level security with one policy, dpg_namespaces, on each shard of each distributed
 * table, while any configured user has an allow-list. The policy reads the allow-lists
 * from dpg_catalog.role_namespaces on the shard's own node, keyed on current_user, so
 * it holds whatever SQL reaches the shard (subqueries, CTEs, functions that run SQL
 * text, cursors, COPY TO). A role without an allow-list passes; the coordinator's own
 * role bypasses row-level security; a table's owner is not subject to it (PostgreSQL's
 * rule without FORCE): the allow-list covers the tables a user does not own.
 */
export const NAMESPACE_POLICY = 'dpg_namespaces';


/** The allow-lists table on every node (dpg up fills it as a superuser; clients read it). */
export const ROLE_NAMESPACES_SQL = `
CREATE SCHEMA IF NOT EXISTS dpg_catalog;
CREATE TABLE IF NOT EXISTS dpg_catalog.role_namespaces (role_name name PRIMARY KEY, namespaces text[] NOT NULL);
`;

/**
 * The statements that put the policy on one shard table. The allow-list is read once per
 * statement (scalar subqueries become init plans), then compared per row with = ANY.
 */
export function namespacePolicySql(shardTable: string, column: string): string[] {
  const table = `public.${quoteIdent(shardTable)}`;
  const own = `(SELECT r.namespaces FROM dpg_catalog.role_namespaces r WHERE r.role_name = current_user)`;
  const rule = `(NOT EXISTS (SELECT 1 FROM dpg_catalog.role_namespaces r WHERE r.role_name = current_user) OR ${quoteIdent(column)} = ANY (coalesce(${own}, '{}'::text[])))`;
  return [
    `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`,
    `DROP POLICY IF EXISTS ${NAMESPACE_POLICY} ON ${table}`,
    `CREATE POLICY ${NAMESPACE_POLICY} ON ${table} AS PERMISSIVE FOR ALL TO PUBLIC USING ${rule} WITH CHECK ${rule}`,
  ];
}

/** Undoes namespacePolicySql (isolation turned off): the shard is as PostgreSQL makes it. */
export function removeNamespacePolicySql(shardTable: string): string[] {
  const table = `public.${quoteIdent(shardTable)}`;
  return [`DROP POLICY IF EXISTS ${NAMESPACE_POLICY} ON ${table}`, `ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY`];
}

/**
 * On one node's database, as a superuser: the allow-lists as configured, and the policy
 * on (or off) every shard of `shards` there (shard table name -> distribution column).
 */
export async function syncNamespaceIsolation(db: pg.Client, users: { name: string; namespaces: string[] | null }[], shards: Map<string, string>, clientsRole: string): Promise<void> {
  await db.query(ROLE_NAMESPACES_SQL);
  await db.query(`GRANT USAGE ON SCHEMA dpg_catalog TO ${quoteIdent(clientsRole)}`);
  await db.query(`GRANT SELECT ON dpg_catalog.role_namespaces TO ${quoteIdent(clientsRole)}`);
  const restricted = users.filter((u) => u.namespaces !== null);
  await db.query('BEGIN');
  try {
    await db.query('DELETE FROM dpg_catalog.role_namespaces');
    for (const user of restricted) {
      await db.query(`INSERT INTO dpg_catalog.role_namespaces (role_name, namespaces) VALUES (${quoteLiteral(user.name)}, $1)`, [user.namespaces]);
    }
    const present = await db.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relname = ANY ($1)`,
      [[...shards.keys()]],
    );
    for (const { relname } of present.rows) {
      for (const sql of restricted.length > 0 ? namespacePolicySql(relname, shards.get(relname)!) : await ownPolicyOnly(db, relname)) await db.query(sql);
    }
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** Isolation off: only shards that carry dpg's policy change. */
async function ownPolicyOnly(db: pg.Client, shardTable: string): Promise<string[]> {
  const found = await db.query('SELECT 1 FROM pg_policies WHERE schemaname = $1 AND tablename = $2 AND policyname = $3', ['public', shardTable, NAMESPACE_POLICY]);
  return found.rowCount ? removeNamespacePolicySql(shardTable) : [];
}
