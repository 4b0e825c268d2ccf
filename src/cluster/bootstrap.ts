import pg from 'pg';
import { hnswProfileFor, type DpgConfig } from '../config/config.ts';
import { coordinatorPort, type ClusterLayout, type GroupLayout, type NodeLayout } from './layout.ts';
import { CLIENTS_ROLE, INTERNAL_ROLE, nodePassword, type ClientUser, type ClusterSecrets } from './secrets.ts';
import { connectNode, groupLeader, withClient } from './connect.ts';
import { groupMembers } from './patroni.ts';
import { CATALOG_SCHEMA_SQL, CATALOG_UPGRADE_SQL, CATALOG_VIEWS, SHELL_TRIGGER, shellTriggerSql } from '../catalog/catalog-schema.ts';
import { SEED_COLUMNS, SEED_TABLES, tableDDL } from '../catalog/seed-schema.ts';
import { namespaceShardIdSql } from '../topology/shard-ranges.ts';
import { syncNamespaceIsolation } from '../catalog/namespace-isolation.ts';
import { hyperbolicShardIdSql } from '../topology/hyperbolic.ts';
import { quoteIdent, quoteLiteral } from '../shared/quoting.ts';

export class BootstrapError extends Error {}



export async function groupLeaders(layout: ClusterLayout): Promise<Map<number, NodeLayout>> {
  const leaders = new Map<number, NodeLayout>();
  for (const group of layout.groups) {
    const leader = await groupLeader(group);
    if (!leader) throw new BootstrapError(`group ${group.name} has no running leader; see 'npx dpg status'`);
    leaders.set(group.id, leader);
  }
  return leaders;
}

/**
 * The roles and the database on a group's primary, with the vector extensions
 * (idempotent; every `dpg up` runs it, so a changed users: list takes effect):
 * - INTERNAL_ROLE, the coordinator's own: owns the database, bypasses row-level
 *   security (the namespace allow-lists are for clients), member of every client
 *   role (owner's rights on their shards for index builds and maintenance);
 * - one role per configured user, in the group role dpg_clients (pg_hba), with a node
 *   password derived from the cluster's node secret: no superuser, database ownership,
 *   CREATEROLE or replication, CREATE on schema public only. A role dropped from the
 *   config keeps its objects but can no longer log in.
 */
export async function prepareGroupDatabase(leader: NodeLayout, secrets: ClusterSecrets, database: string, users: ClientUser[]): Promise<void> {
  await withClient(await connectNode(leader, secrets), async (admin) => {
    const exists = async (role: string) => ((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount ?? 0) > 0;
    if (!(await exists(CLIENTS_ROLE))) await admin.query(`CREATE ROLE ${quoteIdent(CLIENTS_ROLE)} NOLOGIN`);
    if (!(await exists(INTERNAL_ROLE))) await admin.query(`CREATE ROLE ${quoteIdent(INTERNAL_ROLE)} LOGIN`);
    await admin.query(`ALTER ROLE ${quoteIdent(INTERNAL_ROLE)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION BYPASSRLS PASSWORD ${quoteLiteral(nodePassword(secrets, INTERNAL_ROLE))}`);
    // Settings a role carries would reach every connection the coordinator makes as it.
    await admin.query(`ALTER ROLE ${quoteIdent(INTERNAL_ROLE)} RESET ALL`);
    for (const user of users) {
      if (!(await exists(user.name))) await admin.query(`CREATE ROLE ${quoteIdent(user.name)} LOGIN`);
      await admin.query(`ALTER ROLE ${quoteIdent(user.name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${quoteLiteral(nodePassword(secrets, user.name))}`);
      await admin.query(`GRANT ${quoteIdent(CLIENTS_ROLE)} TO ${quoteIdent(user.name)}`);
      await admin.query(`GRANT ${quoteIdent(user.name)} TO ${quoteIdent(INTERNAL_ROLE)}`);
    }
    const former = await admin.query<{ rolname: string }>(
      `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = $1 AND r.rolcanlogin AND NOT r.rolname = ANY ($2)`,
      [CLIENTS_ROLE, users.map((u) => u.name)],
    );
    for (const { rolname } of former.rows) await admin.query(`ALTER ROLE ${quoteIdent(rolname)} NOLOGIN`);
    const db = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (db.rowCount === 0) await admin.query(`CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(INTERNAL_ROLE)}`);
    // Clusters made before the roles were split: the seed's application role owned the database.
    else await admin.query(`ALTER DATABASE ${quoteIdent(database)} OWNER TO ${quoteIdent(INTERNAL_ROLE)}`);
    await admin.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(CLIENTS_ROLE)}`);
  });
  await withClient(await connectNode(leader, secrets, database), async (db) => {
    await db.query('CREATE EXTENSION IF NOT EXISTS vector');
    await db.query('CREATE EXTENSION IF NOT EXISTS ruvector');
    await db.query(namespaceShardIdSql());
    // PostgreSQL 15's public schema belongs to the database owner; clients create their tables in it.
    await db.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${quoteIdent(CLIENTS_ROLE)}`);
  });
}

/**
 * Every `dpg up`, once the catalog exists: each node's allow-lists (config
 * users[].namespaces) and dpg's row-level security policy on (or off) every shard of the
 * distributed tables hashed by a text column (see namespace-isolation.ts).
 */
export async function isolateNamespaces(layout: ClusterLayout, secrets: ClusterSecrets, database: string, users: ClientUser[]): Promise<void> {
  const leaders = await groupLeaders(layout);
  const shards = await withClient(await connectNode(leaders.get(0)!, secrets, database), async (control) =>
    (
      await control.query<{ group_id: number; shard: string; column: string }>(
        `SELECT p.group_id, t.table_name || '_' || s.shardid AS shard, t.distribution_column AS column
         FROM dpg_catalog.tables t JOIN dpg_catalog.shards s ON s.table_name = t.table_name JOIN dpg_catalog.placements p ON p.shardid = s.shardid
         WHERE t.kind = 'distributed' AND t.distribution_method = 'hash'`,
      )
    ).rows,
  );
  await Promise.all(
    layout.groups.map(async (group) =>
      withClient(await connectNode(leaders.get(group.id)!, secrets, database), (db) =>
        syncNamespaceIsolation(db, users, new Map(shards.filter((s) => s.group_id === group.id).map((s) => [s.shard, s.column])), CLIENTS_ROLE),
      ),
    ),
  );
}

/** Every `dpg up`: the roles and database on each group (prepareGroupDatabase). */
export async function prepareGroups(layout: ClusterLayout, secrets: ClusterSecrets, database: string, users: ClientUser[]): Promise<void> {
  const leaders = await groupLeaders(layout);
  await Promise.all(layout.groups.map((group) => prepareGroupDatabase(leaders.get(group.id)!, secrets, database, users)));
}

/**
 * First start of a cluster: the application role and database on every group, the
 * vector extensions, and the catalog on the control group. The seed's schema comes
 * after, through the coordinator (createSeedSchema).
 */
export async function bootstrapCluster(config: DpgConfig, layout: ClusterLayout, secrets: ClusterSecrets, log: (line: string) => void): Promise<void> {
  const database = config.cluster.database;
  const leaders = await groupLeaders(layout);
  log(`database ${database} with pgvector and ruvector on every group`);

  await withClient(await connectNode(leaders.get(0)!, secrets, database), async (control) => {
    try {
      await control.query('BEGIN');
      await control.query(CATALOG_SCHEMA_SQL);
      await upgradeCatalogIn(control, secrets);
      await registerTopology(control, layout);
      await control.query('COMMIT');
    } catch (error) {
      await control.query('ROLLBACK').catch(() => {});
      throw new BootstrapError(`creating the catalog failed: ${String(error)}. Run 'npx dpg up --reset' to start over`);
    }
  });
  log('catalog created on the control group');
}

/**
 * The seed's schema, created through the coordinator exactly as a user creates
 * tables: CREATE TABLE and the HNSW indexes on the shell, then
 * create_distributed_table / create_reference_table, which make the shards (each
 * with its own copy of every index). Tables already distributed are skipped, so an
 * interrupted first start can run this again.
 */
export async function createSeedSchema(config: DpgConfig, url: string, log: (line: string) => void): Promise<void> {
  const client = new pg.Client({ connectionString: url, application_name: 'dpg-bootstrap' });
  await client.connect();
  try {
    const existing = new Set((await client.query<{ name: string }>('SELECT logicalrelid::text AS name FROM pg_dist_partition')).rows.map((r) => r.name));
    const profile = hnswProfileFor(config, 0);
    for (const table of SEED_TABLES) {
      if (existing.has(table.name)) continue;
      await client.query(`DROP TABLE IF EXISTS ${quoteIdent(table.name)}`);
      for (const statement of tableDDL(table, profile)) await client.query(statement);
      if (table.kind === 'distributed') {
        await client.query(`SELECT create_distributed_table(${quoteLiteral(table.name)}, ${quoteLiteral(config.distribution.key)})`);
      } else {
        await client.query(`SELECT create_reference_table(${quoteLiteral(table.name)})`);
      }
    }
  } catch (error) {
    throw new BootstrapError(`creating the seed schema through the coordinator failed: ${String(error)}. Run 'npx dpg up' again, or 'npx dpg up --reset' to start over`);
  } finally {
    await client.end().catch(() => {});
  }
  const distributed = SEED_TABLES.filter((t) => t.kind === 'distributed').length;
  log(`seed schema: ${distributed} distributed tables x ${config.distribution.shard_count} shards, ${SEED_TABLES.length - distributed} reference tables`);
}

/**
 * Every `dpg up`: each configured user may read and write the seed's tables (through the
 * coordinator, as their owner, so the GRANTs reach every shard). A user's own tables stay
 * theirs to GRANT.
 */
export async function grantSeedTables(url: string, users: ClientUser[]): Promise<void> {
  const client = new pg.Client({ connectionString: url, application_name: 'dpg-bootstrap' });
  await client.connect();
  try {
    const tables = await client.query<{ name: string; owner: string }>(
      `SELECT c.relname AS name, pg_get_userbyid(c.relowner) AS owner FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relname = ANY ($1) AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)`,
      [SEED_TABLES.map((t) => t.name)],
    );
    const others = users.filter((u) => !tables.rows.some((t) => t.owner === u.name));
    if (tables.rows.length === 0 || others.length === 0) return;
    await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${tables.rows.map((t) => quoteIdent(t.name)).join(', ')} TO ${others.map((u) => quoteIdent(u.name)).join(', ')}`);
    await client.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${others.map((u) => quoteIdent(u.name)).join(', ')}`);
  } catch (error) {
    throw new BootstrapError(`granting the seed's tables to the configured users failed: ${String(error)}`);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Every `dpg up` of a cluster with the seed schema: adds the seed columns it lacks (SEED_COLUMNS), through the coordinator. */
export async function upgradeSeedSchema(url: string, log: (line: string) => void): Promise<void> {
  const client = new pg.Client({ connectionString: url, application_name: 'dpg-bootstrap' });
  await client.connect();
  try {
    const present = await client.query<{ table_name: string; column_name: string }>(
      `SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ANY ($1)`,
      [[...new Set(SEED_COLUMNS.map((c) => c.table))]],
    );
    const tables = new Set(present.rows.map((r) => r.table_name));
    for (const { table, column, definition } of SEED_COLUMNS) {
      if (!tables.has(table) || present.rows.some((r) => r.table_name === table && r.column_name === column)) continue;
      await client.query(`ALTER TABLE ${quoteIdent(table)} ADD COLUMN IF NOT EXISTS ${quoteIdent(column)} ${definition}`);
      log(`seed schema: ${table}.${column} added`);
    }
  } catch (error) {
    throw new BootstrapError(`bringing the seed schema up to date through the coordinator failed: ${String(error)}`);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Catalog objects added since the catalog was created, and the application role's rights on them (idempotent). */
async function upgradeCatalogIn(control: pg.Client, secrets: ClusterSecrets): Promise<void> {
  await control.query(CATALOG_UPGRADE_SQL);
  await control.query(hyperbolicShardIdSql());
  const internal = quoteIdent(INTERNAL_ROLE);
  const clients = quoteIdent(CLIENTS_ROLE);
  // Only the coordinator's own role writes the catalog; clients read it (pg_dist_* views,
  // dpg's functions) and PostgreSQL refuses their writes, whatever SQL path they take.
  const owned = await control.query<{ kind: string; name: string }>(
    `SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END AS kind, c.relname AS name FROM pg_class c
     WHERE c.relnamespace = 'dpg_catalog'::regnamespace AND c.relkind IN ('r', 'S', 'v') AND c.relowner <> 'postgres'::regrole`,
  );
  for (const { kind, name } of owned.rows) await control.query(`ALTER ${kind} dpg_catalog.${quoteIdent(name)} OWNER TO postgres`);
  await control.query(`GRANT USAGE ON SCHEMA dpg_catalog TO ${internal}, ${clients}`);
  await control.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA dpg_catalog TO ${internal}`);
  await control.query(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA dpg_catalog TO ${internal}`);
  // Clusters made before the roles were split granted the seed's application role writes.
  const legacy = (await control.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [secrets.appUser])).rowCount ? `, ${quoteIdent(secrets.appUser)}` : '';
  await control.query(`REVOKE ALL ON ALL TABLES IN SCHEMA dpg_catalog FROM PUBLIC, ${clients}${legacy}`);
  await control.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA dpg_catalog FROM PUBLIC, ${clients}${legacy}`);
  await control.query(`GRANT SELECT ON ALL TABLES IN SCHEMA dpg_catalog TO ${clients}`);
  // Tables distributed before shells were guarded.
  const unguarded = await control.query<{ table_name: string }>(
    `SELECT t.table_name FROM dpg_catalog.tables t WHERE to_regclass(format('public.%I', t.table_name)) IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = to_regclass(format('public.%I', t.table_name)) AND g.tgname = $1)`,
    [SHELL_TRIGGER],
  );
  for (const { table_name } of unguarded.rows) await control.query(shellTriggerSql(table_name));
  await control.query(`GRANT SELECT ON ${CATALOG_VIEWS.map((v) => `public.${v}`).join(', ')} TO ${internal}, ${clients}`);
}

/** Every `dpg up` of an existing cluster: brings its catalog up to date. */
export async function upgradeCatalog(layout: ClusterLayout, secrets: ClusterSecrets, database: string): Promise<void> {
  const control = layout.groups.find((g) => g.kind === 'control')!;
  const leader = await groupLeader(control);
  if (!leader) throw new BootstrapError(`group ${control.name} has no running leader; see 'npx dpg status'`);
  await withClient(await connectNode(leader, secrets, database), async (client) => {
    try {
      await client.query('BEGIN');
      await upgradeCatalogIn(client, secrets);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw new BootstrapError(`bringing the catalog up to date failed: ${String(error)}`);
    }
  });
}

async function registerTopology(control: pg.Client, layout: ClusterLayout): Promise<void> {
  for (const group of layout.groups) await registerGroup(control, layout, group);
  await refreshNodeRoles(control, layout.groups);
}

/** A group and its nodes in the catalog (dpg_catalog.groups, nodes: pg_dist_node). */
export async function registerGroup(control: pg.Client, layout: ClusterLayout, group: GroupLayout): Promise<void> {
  await control.query('INSERT INTO dpg_catalog.groups (group_id, name, kind) VALUES ($1, $2, $3)', [group.id, group.name, group.kind]);
  for (const node of group.nodes) {
    await control.query(
      `INSERT INTO dpg_catalog.nodes (node_id, group_id, name, host, port, patroni_port)
       VALUES ((SELECT coalesce(max(node_id), 0) + 1 FROM dpg_catalog.nodes), $1, $2, $3, $4, $5)`,
      [group.id, node.name, node.host, coordinatorPort(layout, node), node.restPort],
    );
  }
}

/** Records each node's Patroni role and state in the catalog (leaders move on failover). */
export async function refreshNodeRoles(control: pg.Client, groups: GroupLayout[]): Promise<void> {
  for (const group of groups) {
    const members = (await groupMembers(group)) ?? [];
    for (const node of group.nodes) {
      const member = members.find((m) => m.name === node.name);
      const role = !member ? 'unknown' : member.role === 'leader' ? 'leader' : 'replica';
      await control.query('UPDATE dpg_catalog.nodes SET role = $2, state = $3, updated_at = now() WHERE name = $1', [
        node.name,
        role,
        member?.state ?? 'unreachable',
      ]);
    }
  }
}




