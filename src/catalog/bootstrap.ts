import type pg from 'pg';
import { hnswProfileFor, type DpgConfig } from '../config/config.ts';
import type { ClusterLayout, GroupLayout, NodeLayout } from '../cluster/layout.ts';
import type { ClusterSecrets } from '../cluster/secrets.ts';
import { connectNode, groupLeader, withClient } from '../cluster/connect.ts';
import { groupMembers } from '../cluster/patroni.ts';
import { CATALOG_SCHEMA_SQL, CATALOG_VIEWS } from './catalog-schema.ts';
import { SEED_TABLES, tableDDL, shardRelationName, type SeedTable } from './seed-schema.ts';
import { shardRanges, namespaceShardIdSql } from './shard-ranges.ts';

export class BootstrapError extends Error {}

type Durability = 'critical' | 'audit' | 'ephemeral';

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

/**
 * First start of a cluster: the application role and database on every group, the
 * vector extensions, the catalog on the control group, and the seed's schema: shell
 * copies on the control group, shards (each with its own HNSW index) on the workers.
 */
export async function bootstrapCluster(config: DpgConfig, layout: ClusterLayout, secrets: ClusterSecrets, log: (line: string) => void): Promise<void> {
  const database = config.cluster.database;
  const leaders = await groupLeaders(layout);
  await Promise.all(
    layout.groups.map(async (group) => {
      const leader = leaders.get(group.id)!;
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
    }),
  );
  log(`database ${database} with pgvector and ruvector on every group`);

  const control = await connectNode(leaders.get(0)!, secrets, database);
  const workers = new Map<number, pg.Client>();
  try {
    for (const group of layout.groups.filter((g) => g.kind === 'worker')) {
      workers.set(group.id, await connectNode(leaders.get(group.id)!, secrets, database));
    }
    await control.query('BEGIN');
    await control.query(CATALOG_SCHEMA_SQL);
    await control.query(`GRANT USAGE ON SCHEMA dpg_catalog TO ${quoteIdent(secrets.appUser)}`);
    // The coordinator runs clients' statements as the application role, not as a superuser;
    // it changes the catalog (create_distributed_table, 2PC records) as that role too.
    // Clients cannot write the catalog: the planner refuses statements that would.
    await control.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA dpg_catalog TO ${quoteIdent(secrets.appUser)}`);
    await control.query(`GRANT SELECT ON ${CATALOG_VIEWS.map((v) => `public.${v}`).join(', ')} TO ${quoteIdent(secrets.appUser)}`);
    await control.query(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA dpg_catalog TO ${quoteIdent(secrets.appUser)}`);
    await registerTopology(control, layout);
    // Shards are created as (so owned by) the application role; the control group's
    // shells are handed to it below, since the catalog writes there need the superuser.
    for (const worker of workers.values()) {
      await worker.query('BEGIN');
      await worker.query(`SET LOCAL ROLE ${quoteIdent(secrets.appUser)}`);
    }
    const durability = durabilityByTable(config);
    let colocationId = 0;
    for (const table of SEED_TABLES) {
      for (const statement of tableDDL(table, table.name, '', null)) await control.query(statement);
      await control.query(`ALTER TABLE ${quoteIdent(table.name)} OWNER TO ${quoteIdent(secrets.appUser)}`);
      if (table.kind === 'distributed') {
        colocationId = colocationId || (await createColocationGroup(control, config.distribution.shard_count));
        await distributeTable(control, workers, config, table, colocationId, durability(table));
      } else {
        await replicateReferenceTable(control, workers, table, durability(table));
      }
    }
    for (const client of workers.values()) await client.query('COMMIT');
    await control.query('COMMIT');
  } catch (error) {
    for (const client of [control, ...workers.values()]) await client.query('ROLLBACK').catch(() => {});
    throw new BootstrapError(`creating the catalog and the seed schema failed: ${String(error)}. Run 'npx dpg up --reset' to start over`);
  } finally {
    for (const client of [control, ...workers.values()]) await client.end().catch(() => {});
  }
  const distributed = SEED_TABLES.filter((t) => t.kind === 'distributed').length;
  log(`catalog and seed schema: ${distributed} distributed tables x ${config.distribution.shard_count} shards, ${SEED_TABLES.length - distributed} reference tables`);
}

function durabilityByTable(config: DpgConfig): (table: SeedTable) => Durability {
  const classes = config.replication.tables;
  return (table) => {
    for (const cls of ['critical', 'audit', 'ephemeral'] as const) if (classes[cls].includes(table.name)) return cls;
    return table.unlogged ? 'ephemeral' : 'critical';
  };
}

async function registerTopology(control: pg.Client, layout: ClusterLayout): Promise<void> {
  let nodeId = 1;
  for (const group of layout.groups) {
    await control.query('INSERT INTO dpg_catalog.groups (group_id, name, kind) VALUES ($1, $2, $3)', [group.id, group.name, group.kind]);
    for (const node of group.nodes) {
      await control.query(
        'INSERT INTO dpg_catalog.nodes (node_id, group_id, name, host, port, patroni_port) VALUES ($1, $2, $3, $4, $5, $6)',
        [nodeId++, group.id, node.name, node.host, node.pgPort, node.restPort],
      );
    }
  }
  await refreshNodeRoles(control, layout.groups);
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

async function createColocationGroup(control: pg.Client, shardCount: number): Promise<number> {
  const result = await control.query<{ id: number }>(
    `INSERT INTO dpg_catalog.colocation_groups (colocation_id, shard_count, distribution_column_type)
     SELECT coalesce(max(colocation_id), 0) + 1, $1, 'text'::regtype FROM dpg_catalog.colocation_groups
     RETURNING colocation_id AS id`,
    [shardCount],
  );
  return result.rows[0]!.id;
}

/** Worker group for shard index i: round-robin, so co-located shards share a group. */
export function placementGroup(shardIndex: number, workerGroupIds: number[]): number {
  return workerGroupIds[shardIndex % workerGroupIds.length]!;
}

async function distributeTable(
  control: pg.Client,
  workers: Map<number, pg.Client>,
  config: DpgConfig,
  table: SeedTable,
  colocationId: number,
  durability: Durability,
): Promise<void> {
  const shardCount = config.distribution.shard_count;
  await control.query(
    `INSERT INTO dpg_catalog.tables (table_name, kind, distribution_column, colocation_id, shard_count, durability)
     VALUES ($1, 'distributed', $2, $3, $4, $5)`,
    [table.name, config.distribution.key, colocationId, shardCount, durability],
  );
  const workerIds = [...workers.keys()].sort((a, b) => a - b);
  const profile = hnswProfileFor(config, 0);
  for (const range of shardRanges(shardCount)) {
    const shard = await control.query<{ shardid: string }>(
      'INSERT INTO dpg_catalog.shards (table_name, shard_index, hash_min, hash_max) VALUES ($1, $2, $3, $4) RETURNING shardid',
      [table.name, range.index, range.min, range.max],
    );
    const shardId = shard.rows[0]!.shardid;
    const groupId = placementGroup(range.index, workerIds);
    await control.query('INSERT INTO dpg_catalog.placements (shardid, group_id) VALUES ($1, $2)', [shardId, groupId]);
    const worker = workers.get(groupId)!;
    for (const statement of tableDDL(table, shardRelationName(table.name, shardId), `_${shardId}`, profile)) await worker.query(statement);
  }
}

async function replicateReferenceTable(control: pg.Client, workers: Map<number, pg.Client>, table: SeedTable, durability: Durability): Promise<void> {
  await control.query(
    `INSERT INTO dpg_catalog.tables (table_name, kind, shard_count, durability) VALUES ($1, 'reference', 1, $2)`,
    [table.name, durability],
  );
  const shard = await control.query<{ shardid: string }>(
    'INSERT INTO dpg_catalog.shards (table_name, shard_index) VALUES ($1, 0) RETURNING shardid',
    [table.name],
  );
  const shardId = shard.rows[0]!.shardid;
  for (const [groupId, worker] of workers) {
    await control.query('INSERT INTO dpg_catalog.placements (shardid, group_id) VALUES ($1, $2)', [shardId, groupId]);
    for (const statement of tableDDL(table, shardRelationName(table.name, shardId), `_${shardId}`, null)) await worker.query(statement);
  }
}
