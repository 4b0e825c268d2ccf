import type { BackendTarget } from '../backend/backend-connection.ts';
import type { GroupPool } from '../backend/pool.ts';
import type { PoolRegistry } from '../backend/pool-registry.ts';
import type { Logger } from '../shared/log.ts';
import { quoteLiteral } from '../shared/quoting.ts';
import type { LeaderTracker } from './leader-tracker.ts';
import type { CatalogSnapshot, NodeInfo } from './snapshot.ts';
import { TypeMap } from './type-map.ts';

/** A node as the options name the control group's (before the catalog does). */
export type ControlNode = { host: string; port: number; patroniPort: number; name: string };

/**
 * What the coordinator knows of each group of the catalog besides the snapshot: a pool
 * whose target is the group's current primary (from the leader tracker), the map of its
 * extension types' OIDs onto the control group's, and lookups on the control group's
 * system catalog (type names, a table's columns) cached per snapshot.
 */
export class GroupBackends {
  readonly typeMaps = new Map<number, TypeMap>();
  /** The nodes of the catalog as last read (a reload in progress may not have published its snapshot yet). */
  private latestNodes: readonly NodeInfo[] = [];
  private controlTypes: Awaited<ReturnType<typeof TypeMap.readTypes>> | null = null;
  private readonly typeNames = new Map<number, string>();
  private readonly columnCache = new Map<string, { version: number; columns: string[] }>();

  constructor(
    private readonly pools: PoolRegistry,
    private readonly leaders: LeaderTracker,
    private readonly options: { controlNodes: readonly ControlNode[]; database: string; tls?: { ca: Buffer }; logger: Logger },
  ) {}

  /** The primary of a group as a connection target of the coordinator's own role. */
  async primaryTarget(groupId: number, scope: string): Promise<BackendTarget> {
    // The control group's from the options: its primary is where the catalog is read.
    const nodes = groupId === 0 ? this.options.controlNodes.map((n) => ({ ...n, groupId: 0 })) : this.nodesOf(groupId);
    const leader = await this.leaders.leaderOf(groupId, scope, nodes);
    return { host: leader.host, port: leader.port, ...this.pools.credentials(), database: this.options.database, primaryOnly: true, tls: this.options.tls };
  }

  /** A group's nodes in the catalog (the control group's from the options until the catalog names them). */
  nodesOf(groupId: number): NodeInfo[] {
    const nodes = this.latestNodes.filter((n) => n.groupId === groupId);
    return nodes.length > 0 || groupId !== 0 ? nodes : this.options.controlNodes.map((n) => ({ ...n, groupId: 0 }));
  }

  /** Before a snapshot is published: a group added since (dpg add-group) gets its pool and type map. */
  async adopt(snapshot: CatalogSnapshot): Promise<void> {
    this.latestNodes = snapshot.nodes;
    for (const group of snapshot.groups.values()) {
      if (this.pools.has(group.id)) continue;
      this.pools.add(group.id, () => this.primaryTarget(group.id, group.id === 0 ? 'control' : group.name));
      // At start the type maps are read all at once (refreshTypeMaps); a group added later is read here.
      if (this.controlTypes && group.id !== 0) {
        try {
          this.typeMaps.set(group.id, new TypeMap(await TypeMap.readTypes(this.pools.pool(group.id)), this.controlTypes));
        } catch (error) {
          this.options.logger.warn(`group ${group.name}: reading its types failed (${(error as Error).message})`);
        }
      }
    }
  }

  /** Extension types (pgvector's vector) have different OIDs on each node: map them to the control group's. */
  async refreshTypeMaps(): Promise<void> {
    const control = await TypeMap.readTypes(this.pools.pool(0));
    this.controlTypes = control;
    for (const groupId of this.pools.internal.keys()) {
      const types = groupId === 0 ? control : await TypeMap.readTypes(this.pools.pool(groupId));
      this.typeMaps.set(groupId, new TypeMap(types, control));
    }
  }

  /** A table's columns in order, from its shell on the control group (cached for a snapshot version). */
  async tableColumns(table: string, version: number): Promise<string[]> {
    const cached = this.columnCache.get(table);
    if (cached && cached.version === version) return cached.columns;
    const rows = await this.control().run((query) =>
      query(`SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(${quoteLiteral(`public.${table}`)}) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`),
    );
    const columns = rows.map((r) => r[0]!);
    this.columnCache.set(table, { version, columns });
    return columns;
  }

  /** The SQL name of a type (client OIDs), for casts in queries the coordinator writes. */
  async typeName(oid: number): Promise<string> {
    const known = this.typeNames.get(oid);
    if (known) return known;
    const rows = await this.control().run((query) => query(`SELECT format_type(${Number(oid)}, NULL)`));
    const name = rows[0]?.[0] ?? 'text';
    this.typeNames.set(oid, name);
    return name;
  }

  private control(): GroupPool {
    return this.pools.pool(0);
  }
}
