import type { BackendTarget } from './backend-connection.ts';
import { GroupPool, type PoolOptions } from './pool.ts';

/** config query_router.read_from: where reads outside transaction blocks go. */
export type ReadFrom = 'primary' | 'replica' | 'any';

/** A node of a group as the router knows it (topology's ReplicaNode has these and more). */
export interface ReplicaNode {
  name: string;
  groupId: number;
  host: string;
  port: number;
}

/** What the router needs of the coordinator. */
export interface ReplicaHost {
  workerGroups(): { groupId: number; nodes: ReplicaNode[] }[];
  /** The group's primary as last known (null during a failover). */
  leaderName(groupId: number): string | null;
  primaryPool(groupId: number): GroupPool;
  /** Credentials of `role` (a client's), or the coordinator's own without one. */
  target(node: ReplicaNode, role?: string): BackendTarget;
  log(line: string): void;
}

/** A pg_lsn ('16/B374D848') as a number that orders like it. */
export function lsnValue(lsn: string | null | undefined): bigint | null {
  const match = lsn ? /^([0-9A-F]+)\/([0-9A-F]+)$/i.exec(lsn) : null;
  return match ? (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`) : null;
}

/**
 * Reads from standbys (config query_router). Every `intervalMs` it asks each worker
 * group's primary for its WAL position, then each standby how far it has replayed: a
 * standby that has replayed past that position holds every commit acknowledged before
 * the primary was asked, so it is "caught up to" that moment. A read may go to a
 * standby caught up to within `maxLagMs` of now, and, for read-your-writes, to a
 * moment after the session's last write to the group; otherwise it goes to the
 * primary. The staleness bound is thus measured, not inferred from lag columns.
 */
export class ReplicaRouter {
  private readonly pools = new Map<string, GroupPool>();
  /** Standby name -> Date.now() of the primary sample it had replayed past. */
  private readonly caughtUp = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private turn = 0;
  private ticking = false;

  constructor(
    private readonly host: ReplicaHost,
    readonly readFrom: ReadFrom,
    private readonly maxLagMs: number,
    private readonly poolOptions: PoolOptions,
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    if (this.readFrom === 'primary') return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }

  /**
   * The standby to read group `groupId` from, or null for the primary.
   * @param since Date.now() after the session's last write to the group (0: none)
   */
  /** Every standby pool (GroupPool.sessionEnded runs on each when a session ends). */
  allPools(): GroupPool[] {
    return [...this.pools.values()];
  }

  pick(groupId: number, since: number, role?: string): { node: string; pool: GroupPool } | null {
    if (this.readFrom === 'primary') return null;
    const group = this.host.workerGroups().find((g) => g.groupId === groupId);
    if (!group) return null;
    const leader = this.host.leaderName(groupId);
    const fresh = Math.max(since, Date.now() - this.maxLagMs);
    const standbys = group.nodes.filter((n) => n.name !== leader && (this.caughtUp.get(n.name) ?? 0) > fresh);
    const choices = this.readFrom === 'any' ? [null, ...standbys] : standbys;
    if (choices.length === 0) return null;
    const node = choices[this.turn++ % choices.length];
    return node ? { node: node.name, pool: this.poolFor(node, role) } : null;
  }

  /** A standby that refused or dropped a connection is not read from until it has caught up again. */
  failed(node: string): void {
    this.caughtUp.delete(node);
  }

  private poolFor(node: ReplicaNode, role?: string): GroupPool {
    const key = role === undefined ? node.name : `${node.name}\u0000${role}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new GroupPool(node.groupId, async () => this.host.target(node, role), this.poolOptions);
      this.pools.set(key, pool);
    }
    return pool;
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await Promise.all(this.host.workerGroups().map((group) => this.sample(group.groupId, group.nodes)));
    } finally {
      this.ticking = false;
    }
  }

  private async sample(groupId: number, nodes: ReplicaNode[]): Promise<void> {
    const leader = this.host.leaderName(groupId);
    const standbys = nodes.filter((n) => n.name !== leader);
    if (!leader || standbys.length === 0) return;
    const asked = Date.now();
    let primaryLsn: bigint | null;
    try {
      primaryLsn = lsnValue(await this.query(this.host.primaryPool(groupId), 'SELECT pg_current_wal_lsn()'));
    } catch {
      return;
    }
    if (primaryLsn === null) return;
    await Promise.all(
      standbys.map(async (node) => {
        try {
          const replayed = lsnValue(await this.query(this.poolFor(node), 'SELECT pg_last_wal_replay_lsn()'));
          if (replayed !== null && replayed >= primaryLsn) this.caughtUp.set(node.name, asked);
        } catch {
          this.caughtUp.delete(node.name);
        }
      }),
    );
  }

  /** One sample; a node that does not answer within 2 s (cut off, or stopped) is given up on, its connection closed. */
  private query(pool: GroupPool, sql: string): Promise<string | null> {
    return pool.withConnection(async (connection) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          connection.destroy();
          reject(new Error('no answer within 2 s'));
        }, 2000);
      });
      try {
        return (await Promise.race([connection.simpleQuery(sql), timeout])).rows[0]?.[0] ?? null;
      } finally {
        clearTimeout(timer);
      }
    });
  }
}
