import { shardIndexForHash } from './shard-ranges.ts';
import { hashtext } from './hashtext.ts';
import { hyperbolicShardIndex, radiusOf, HyperbolicValueError } from './hyperbolic.ts';
import { ClientError } from '../shared/errors.ts';

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
  /** 'hash': hashtext() ranges (Citus'); 'hyperbolic': the seed's shard by radius (topology/hyperbolic.ts). */
  distributionMethod: 'hash' | 'hyperbolic';
  colocationId: number | null;
  shardCount: number;
  durability: Durability;
  /** Ordered by index. */
  shards: ShardInfo[];
  /**
   * false once a shard was split (dpg split-shard): the ranges are no longer the equal
   * ones shardRanges(shardCount) gives, and a hash is looked up among them.
   */
  uniformRanges?: boolean;
}

/** The seed's replication classes: critical (synchronous), audit (asynchronous), ephemeral (UNLOGGED). */
export type Durability = 'critical' | 'audit' | 'ephemeral';

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

/** A namespace's search tier, as the catalog (dpg_catalog.vector_namespaces) records it. */
export interface NamespaceTier {
  table: string;
  namespace: string;
  tier: 'exact' | 'promoting' | 'hnsw' | 'split';
  rows: number;
  /** Shard indexes where the namespace has a valid HNSW index of its own. */
  indexedShards: number[];
}

export class CatalogSnapshot {
  readonly tables: ReadonlyMap<string, TableInfo>;
  readonly groups: ReadonlyMap<number, GroupInfo>;
  readonly nodes: readonly NodeInfo[];
  /** Increases with every change; plans cached under an older version are re-planned. */
  readonly version: number;

  /** Namespaces whose tier is not 'exact' (the default for any namespace not listed), by table. */
  private readonly namespaceTiers = new Map<string, Map<string, NamespaceTier>>();

  constructor(
    tables: TableInfo[],
    groups: GroupInfo[],
    nodes: NodeInfo[],
    version: number,
    namespaces: NamespaceTier[] = [],
    /** dpg_catalog.reference_epoch: changes when reference tables gain or lose a placement. */
    readonly referenceEpoch = 1,
  ) {
    for (const entry of namespaces) {
      let byNamespace = this.namespaceTiers.get(entry.table);
      if (!byNamespace) this.namespaceTiers.set(entry.table, (byNamespace = new Map()));
      byNamespace.set(entry.namespace, entry);
    }
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

  /** The tier a namespace of a table is searched with: its own HNSW index ('hnsw') or exact search. */
  namespaceTier(table: string, namespace: string): NamespaceTier | undefined {
    return this.namespaceTiers.get(table)?.get(namespace);
  }

  /**
   * The shards that may hold rows of a distribution value: its own, or every shard of
   * the table once the namespace is split (its rows are placed by composite key).
   */
  shardIndexesForValue(table: TableInfo, value: string): number[] {
    if (this.namespaceTiers.get(table.name)?.get(value)?.tier === 'split') return table.shards.map((s) => s.index);
    return [CatalogSnapshot.shardIndexForValue(table, value)];
  }

  /**
   * The shard a new row goes to: by its distribution value, or for a split namespace
   * by the seed's composite key, namespace || to_char(created_at, 'YYYY-MM'), with the
   * month the row is written in (UTC), which is its created_at month by default.
   */
  shardIndexForNewRow(table: TableInfo, value: string, now = new Date()): number {
    if (this.namespaceTiers.get(table.name)?.get(value)?.tier === 'split') {
      return CatalogSnapshot.shardIndexForValue(table, compositeKey(value, now));
    }
    return CatalogSnapshot.shardIndexForValue(table, value);
  }

  /**
   * The groups holding a shard now. A plan keeps the TableInfo of the snapshot it was
   * made with (a prepared statement keeps it for good); a shard move changes only the
   * placement, so the executor asks the current snapshot where the shard is.
   */
  placementGroups(table: TableInfo, shardIndex: number): number[] {
    const current = this.tables.get(table.name);
    const shard = current?.shards[shardIndex];
    return shard && shard.shardId === table.shards[shardIndex]?.shardId ? shard.groupIds : table.shards[shardIndex]!.groupIds;
  }

  workerGroupIds(): number[] {
    return [...this.groups.values()].filter((g) => g.kind === 'worker').map((g) => g.id).sort((a, b) => a - b);
  }

  /**
   * Shard index holding a distribution value: the hashtext() range of a text value, or
   * the level of a hyperbolic table's radius.
   * @throws ClientError 22P02 for a hyperbolic table's value that is not a number or vector
   */
  static shardIndexForValue(table: TableInfo, value: string): number {
    if (table.distributionMethod === 'hyperbolic') {
      try {
        return hyperbolicShardIndex(radiusOf(value), table.shardCount);
      } catch (error) {
        if (error instanceof HyperbolicValueError) {
          throw new ClientError('22P02', `the distribution value of ${table.name} (distributed by radius) ${error.message}; send it as a number (or a vector) in text format`);
        }
        throw error;
      }
    }
    const hash = hashtext(value);
    if (table.uniformRanges !== false) return shardIndexForHash(hash, table.shardCount);
    // Split shards: binary search over the ranges (contiguous, ordered by index).
    let low = 0;
    let high = table.shards.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (table.shards[middle]!.hashMin! <= hash) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}

/** The seed's composite key of a large namespace's row: namespace || to_char(created_at, 'YYYY-MM'). */
export function compositeKey(namespace: string, createdAt: Date): string {
  return `${namespace}${createdAt.getUTCFullYear()}-${String(createdAt.getUTCMonth() + 1).padStart(2, '0')}`;
}
