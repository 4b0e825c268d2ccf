import pg from 'pg';
import { hnswProfileFor, type DpgConfig } from '../config/config.ts';
import { coordinatorPort, type ClusterLayout, type GroupLayout, type NodeLayout } from '../cluster/layout.ts';
import type { ClusterSecrets } from '../cluster/secrets.ts';
import { connectNode, groupLeader, withClient } from '../cluster/connect.ts';
import { groupMembers } from '../cluster/patroni.ts';
import { CATALOG_SCHEMA_SQL, CATALOG_UPGRADE_SQL, CATALOG_VIEWS } from './catalog-schema.ts';
import { SEED_COLUMNS, SEED_TABLES, tableDDL } from './seed-schema.ts';
import { namespaceShardIdSql } from './shard-ranges.ts';
import { hyperbolicShardIdSql } from './hyperbolic.ts';

export class BootstrapError extends Error {}


const quoteLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;
const quoteIdent = (value: string) => `"${value.replace(/"/g, '""')}"`;

export async function groupLeaders(layout: ClusterLayout): Promise<Map<number, NodeLayout>> {
  const leaders = new Map<number, NodeLayout>();
  for (const group of layout.groups) {
    const leader = await groupLeader(group);
    if (!leader) throw new BootstrapError(`group ${group.name} has no running leader; see 'npx dpg status'`);
    leaders.set(group.id, leader);
  }
  return leaders;
}

/** The application role and database on a group's primary, with the vector extensions (idempotent). */
export async function prepareGroupDatabase(leader: NodeLayout, secrets: ClusterSecrets, database: string): Promise<void> {
  await withClient(await connectNode(leader, secrets), async (admin) => {
    const role = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [secrets.appUser]);
    if (role.rowCount === 0) {
      await admin.query(`CREATE ROLE ${quoteIdent(secrets.appUser)} LOGIN PASSWORD ${quoteLiteral(secrets.appPassword)}`);
    }
    const db = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (db.rowCount === 0) await admin.query(`CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(secrets.appUser)}`);
  });
  await withClient(await connectNode(leader, secrets, database), async (db) => {
    await db.query('CREATE EXTENSION IF NOT EXISTS vector');
    await db.query('CREATE EXTENSION IF NOT EXISTS ruvector');
    await db.query(namespaceShardIdSql());
  });
}

/**
 * First start of a cluster: the application role and database on every group, the
 * vector extensions, and the catalog on the control group. The seed's schema comes
 * after, through the coordinator (createSeedSchema).
 */
export async function bootstrapCluster(config: DpgConfig, layout: ClusterLayout, secrets: ClusterSecrets, log: (line: string) => void): Promise<void> {
  const database = config.cluster.database;
  const leaders = await groupLeaders(layout);
  await Promise.all(layout.groups.map((group) => prepareGroupDatabase(leaders.get(group.id)!, secrets, database)));
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
  await control.query(`GRANT USAGE ON SCHEMA dpg_catalog TO ${quoteIdent(secrets.appUser)}`);
  // The coordinator runs clients' statements as the application role, not as a superuser;
  // it changes the catalog (create_distributed_table, 2PC records) as that role too.
  // Clients cannot write the catalog: the planner refuses statements that would.
  await control.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA dpg_catalog TO ${quoteIdent(secrets.appUser)}`);
  await control.query(`GRANT SELECT ON ${CATALOG_VIEWS.map((v) => `public.${v}`).join(', ')} TO ${quoteIdent(secrets.appUser)}`);
  await control.query(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA dpg_catalog TO ${quoteIdent(secrets.appUser)}`);
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




