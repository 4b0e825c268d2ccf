import type pg from 'pg';
import { shardRanges } from './shard-ranges.ts';
import { CatalogSnapshot, type GroupInfo, type NamespaceTier, type NodeInfo, type TableInfo } from './snapshot.ts';

/** The channel the control group notifies on whenever the catalog changes. */
export const CATALOG_CHANNEL = 'dpg_catalog_changed';

/** Reads the whole catalog from the control group into a snapshot. */
export async function readCatalogSnapshot(control: pg.Client, version: number): Promise<CatalogSnapshot> {
  const groups = await control.query<{ group_id: number; name: string; kind: 'control' | 'worker' }>(
    'SELECT group_id, name, kind FROM dpg_catalog.groups ORDER BY group_id',
  );
  const tables = await control.query<{
    table_name: string;
    kind: 'distributed' | 'reference';
    distribution_column: string | null;
    colocation_id: number | null;
    shard_count: number;
    durability: TableInfo['durability'];
    distribution_method: TableInfo['distributionMethod'];
  }>('SELECT table_name, kind, distribution_column, distribution_method, colocation_id, shard_count, durability FROM dpg_catalog.tables');
  const shards = await control.query<{ table_name: string; shardid: string; shard_index: number; hash_min: number | null; hash_max: number | null; groups: number[] }>(
    `SELECT s.table_name, s.shardid::text, s.shard_index, s.hash_min, s.hash_max, array_agg(p.group_id ORDER BY p.group_id) AS groups
     FROM dpg_catalog.shards s JOIN dpg_catalog.placements p USING (shardid)
     GROUP BY 1, 2, 3, 4, 5 ORDER BY s.table_name, s.shard_index`,
  );
  const byTable = new Map<string, TableInfo>();
  for (const t of tables.rows) {
    byTable.set(t.table_name, {
      name: t.table_name,
      kind: t.kind,
      distributionColumn: t.distribution_column,
      distributionMethod: t.distribution_method,
      colocationId: t.colocation_id,
      shardCount: t.shard_count,
      durability: t.durability,
      shards: [],
    });
  }
  for (const s of shards.rows) {
    byTable.get(s.table_name)?.shards.push({
      shardId: s.shardid,
      index: s.shard_index,
      hashMin: s.hash_min,
      hashMax: s.hash_max,
      groupIds: s.groups,
    });
  }
  for (const table of byTable.values()) {
    if (table.kind !== 'distributed' || table.distributionMethod !== 'hash') continue;
    const equal = shardRanges(table.shardCount);
    table.uniformRanges = table.shards.length === equal.length && table.shards.every((s, i) => s.hashMin === equal[i]!.min && s.hashMax === equal[i]!.max);
  }
  const nodes = await control.query<{ name: string; group_id: number; host: string; port: number; patroni_port: number }>(
    'SELECT name, group_id, host, port, patroni_port FROM dpg_catalog.nodes ORDER BY node_id',
  );
  const nodeInfos: NodeInfo[] = nodes.rows.map((n) => ({ name: n.name, groupId: n.group_id, host: n.host, port: n.port, patroniPort: n.patroni_port }));
  const groupInfos: GroupInfo[] = groups.rows.map((g) => ({ id: g.group_id, name: g.name, kind: g.kind }));
  // Exact is every namespace's default: only the others are kept in memory.
  const tiers = await control.query<{ table_name: string; namespace: string; tier: NamespaceTier['tier']; row_count: string; index_names: string[] }>(
    "SELECT table_name, namespace, tier, row_count, index_names FROM dpg_catalog.vector_namespaces WHERE tier <> 'exact' OR index_names <> '{}'",
  );
  const namespaces: NamespaceTier[] = tiers.rows.map((t) => {
    const shards = byTable.get(t.table_name)?.shards ?? [];
    // Index names carry their shard id: dpg_ns_<shardid>_<digest> (vector/tier-manager.ts).
    const indexedShards = t.index_names
      .map((name) => shards.find((s) => name.startsWith(`dpg_ns_${s.shardId}_`))?.index)
      .filter((i): i is number => i !== undefined);
    return { table: t.table_name, namespace: t.namespace, tier: t.tier, rows: Number(t.row_count), indexedShards };
  });
  const epoch = await control.query<{ epoch: string }>('SELECT epoch::text FROM dpg_catalog.reference_epoch');
  return new CatalogSnapshot([...byTable.values()], groupInfos, nodeInfos, version, namespaces, Number(epoch.rows[0]?.epoch ?? 1));
}
