import { shardIndexForHash } from './shard-ranges.ts';
import { hashtext } from './hashtext.ts';

/**
 * An immutable, in-memory copy of the catalog that the coordinator plans with.
 * A new snapshot replaces the old one whenever the catalog changes.
 */
export interface ShardInfo {
  shardId: string;
  /** Position in the table's range list (0-based); equal indexes of co-located tables share a group. */
  index: number;
  hashMin: number | null;
  hashMax: number | null;
  /** Worker groups holding a placement: one for a distributed shard, every worker group for a reference table. */
  groupIds: number[];
}

export interface TableInfo {
  name: string;
  kind: 'distributed' | 'reference';
  /** The distribution column (lower-case, as stored); null for reference tables. */
  distributionColumn: string | null;
  colocationId: number | null;
  shardCount: number;
  durability: 'critical' | 'audit' | 'ephemeral';
  /** Ordered by index. */
  shards: ShardInfo[];
}

export interface GroupInfo {
  id: number;
  name: string;
  kind: 'control' | 'worker';
}

export interface NodeInfo {
  name: string;
  groupId: number;
  host: string;
  port: number;
  patroniPort: number;
}

export class CatalogSnapshot {
  readonly tables: ReadonlyMap<string, TableInfo>;
  readonly groups: ReadonlyMap<number, GroupInfo>;
  readonly nodes: readonly NodeInfo[];
  /** Increases with every change; plans cached under an older version are re-planned. */
  readonly version: number;

  constructor(tables: TableInfo[], groups: GroupInfo[], nodes: NodeInfo[], version: number) {
    this.tables = new Map(tables.map((t) => [t.name, t]));
    this.groups = new Map(groups.map((g) => [g.id, g]));
    this.nodes = nodes;
    this.version = version;
  }

  /** The table a relation name (unqualified, or qualified with schema public) refers to, if dpg manages it. */
  table(name: string, schema?: string | null): TableInfo | undefined {
    if (schema && schema !== 'public') return undefined;
    return this.tables.get(name);
  }

  workerGroupIds(): number[] {
    return [...this.groups.values()].filter((g) => g.kind === 'worker').map((g) => g.id).sort((a, b) => a - b);
  }

  /** Shard index holding a distribution value (text distribution columns hash with hashtext()). */
  static shardIndexForValue(table: TableInfo, value: string): number {
    return shardIndexForHash(hashtext(value), table.shardCount);
  }
}
