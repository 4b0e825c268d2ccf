import { ClientError } from '../shared/errors.ts';
import { GroupPool, type PoolOptions } from './pool.ts';
import type { BackendTarget } from './backend-connection.ts';

/**
 * The coordinator's connection pools: per group, its own (the internal role) and one per
 * client role, made at that role's first statement on the group. Every pool of a group
 * follows the same target (the group's primary, which moves on failover).
 */
export class PoolRegistry {
  /** The coordinator's own pool of each group. */
  readonly internal = new Map<number, GroupPool>();
  /** Connections as client roles: role -> group -> pool. */
  private readonly clientPools = new Map<string, Map<number, GroupPool>>();
  private readonly targets = new Map<number, () => Promise<BackendTarget>>();

  constructor(
    private readonly options: {
      internalUser: string;
      internalPassword: string;
      pool: PoolOptions;
      /** A client role's password on the nodes; null: not a user of this cluster. */
      nodePasswordOf(role: string): string | null;
    },
  ) {}

  has(groupId: number): boolean {
    return this.internal.has(groupId);
  }

  /** A group's pools will connect to what `target` names (with each pool's own credentials). */
  add(groupId: number, target: () => Promise<BackendTarget>): void {
    this.targets.set(groupId, target);
    this.internal.set(groupId, new GroupPool(groupId, target, this.options.pool));
  }

  /**
   * Connections to a group: the coordinator's own (no role), or as a client role, whose
   * privileges PostgreSQL then checks (GRANTs, row-level security). A client cannot undo
   * that from SQL: the connection logged in as its role (RESET ROLE goes back to it).
   */
  pool(groupId: number, role?: string): GroupPool {
    const internal = this.internal.get(groupId);
    if (!internal) throw new Error(`no pool for group ${groupId}`);
    if (role === undefined || role === this.options.internalUser) return internal;
    let byGroup = this.clientPools.get(role);
    if (!byGroup) this.clientPools.set(role, (byGroup = new Map()));
    let pool = byGroup.get(groupId);
    if (!pool) {
      const target = this.targets.get(groupId)!;
      const credentials = this.credentials(role);
      pool = new GroupPool(groupId, async () => ({ ...(await target()), ...credentials }), this.options.pool);
      byGroup.set(groupId, pool);
    }
    return pool;
  }

  /** Every pool of a group: the coordinator's own and each client role's. */
  groupPools(groupId: number): GroupPool[] {
    const pools = [...this.clientPools.values()].map((byGroup) => byGroup.get(groupId)).filter((p): p is GroupPool => !!p);
    const internal = this.internal.get(groupId);
    return internal ? [internal, ...pools] : pools;
  }

  all(): GroupPool[] {
    return [...this.internal.keys()].flatMap((groupId) => this.groupPools(groupId));
  }

  /** What a connection as `role` logs in with (no role: the coordinator's own). */
  credentials(role?: string): { user: string; password: string } {
    if (role === undefined || role === this.options.internalUser) return { user: this.options.internalUser, password: this.options.internalPassword };
    const password = this.options.nodePasswordOf(role);
    if (password === null) throw new ClientError('28000', `role "${role}" is not a user of this cluster (config users)`);
    return { user: role, password };
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((p) => p.close()));
  }
}
