import type { GroupPool } from '../backend/pool.ts';
import { ConnectFailedError } from '../backend/backend-connection.ts';
import type { Logger } from '../shared/log.ts';
import { quoteLiteral } from '../shared/quoting.ts';
import { findGroupLeader, LeaderWatcher } from './leaders.ts';
import type { EtcdLogin } from './etcd-gateway.ts';
import type { NodeInfo } from './snapshot.ts';

export interface LeaderTrackerOptions {
  /** Where Patroni keeps each group's leader key; absent: Patroni's REST API is asked. */
  watch?: { endpoints: string[]; prefix: string; login?: EtcdLogin };
  /** How long a caller waits for a group without a primary (a failover under way) to get one. */
  failoverWaitMs: number;
  /** The group a Patroni scope names (undefined: not a group of the catalog yet). */
  groupIdOf(scope: string): number | undefined;
  /** The Patroni scope of a group (undefined: not in the catalog yet). */
  scopeOf(groupId: number): string | undefined;
  /** The control group's pool: where the roles are recorded (dpg_catalog.nodes.role). */
  controlPool(): GroupPool | undefined;
  /** A group's primary changed (leader null: it has none, a failover is under way). */
  changed(groupId: number, scope: string, leader: string | null): void;
  logger: Logger;
}

/**
 * The one place that knows each group's primary: etcd's leader keys when the watch is up
 * (a change followed at once), Patroni's REST API otherwise, and the leader last known
 * when neither answers.
 */
export class LeaderTracker {
  private watcher: LeaderWatcher | null = null;
  /** Callers waiting for a group to get a primary again, woken by any leader change. */
  private waiters: (() => void)[] = [];
  /** The leader each group had when last known. */
  private readonly known = new Map<number, NodeInfo>();

  constructor(private readonly options: LeaderTrackerOptions) {}

  /** Starts the watch; the first leaders come from etcd when it answers within a second. */
  async start(): Promise<void> {
    if (!this.options.watch) return;
    const { endpoints, prefix, login } = this.options.watch;
    this.watcher = new LeaderWatcher(endpoints, prefix, (scope, leader) => this.leaderChanged(scope, leader), (line) => this.options.logger.info(line), login);
    this.watcher.start();
    for (let i = 0; i < 20 && !this.watcher.connected; i++) await new Promise((r) => setTimeout(r, 50));
  }

  /** Writes the roles etcd names now into the catalog (once the control group's pool exists). */
  recordWatchedLeaders(): void {
    if (this.watcher?.connected) for (const [scope, leader] of this.watcher.leaders) if (leader) void this.record(scope, leader);
  }

  /**
   * The primary of a group: etcd's leader key when the watch is up (waiting, during a
   * failover, until a leader is elected, at most failoverWaitMs); otherwise Patroni's
   * REST API, then the leader it named last (a busy Patroni answering slowly is not a
   * failover; a node that stopped being primary refuses the connection anyway).
   */
  async leaderOf(groupId: number, scope: string, nodes: readonly NodeInfo[]): Promise<NodeInfo> {
    const deadline = Date.now() + this.options.failoverWaitMs;
    const watcher = this.watcher;
    while (watcher?.connected && watcher.leaders.has(scope)) {
      const name = watcher.leaders.get(scope);
      const node = name ? nodes.find((n) => n.name === name) : undefined;
      if (node) {
        this.known.set(groupId, node);
        return node;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new ConnectFailedError(`group ${scope} has had no primary for ${this.options.failoverWaitMs} ms (failover under way)`);
      await this.leaderChange(left);
    }
    const found = (await findGroupLeader([...nodes])) ?? this.known.get(groupId) ?? (groupId === 0 ? nodes[0]! : null);
    if (!found) throw new ConnectFailedError(`group ${scope} has no primary right now`);
    this.known.set(groupId, found);
    return found;
  }

  /** The name of a group's primary as last known (etcd's leader key when the watch is up); null during a failover. */
  leaderName(groupId: number): string | null {
    const scope = this.options.scopeOf(groupId);
    if (this.watcher?.connected && scope && this.watcher.leaders.has(scope)) return this.watcher.leaders.get(scope) ?? null;
    return this.known.get(groupId)?.name ?? null;
  }

  /** Resolves at the next change of any group's leader, or after `ms`. */
  leaderChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  stop(): void {
    this.watcher?.stop();
    for (const wake of this.waiters.splice(0)) wake();
  }

  private leaderChanged(scope: string, leader: string | null): void {
    const groupId = this.options.groupIdOf(scope) ?? (scope === 'control' ? 0 : undefined);
    const previous = groupId === undefined ? undefined : this.known.get(groupId)?.name;
    if (groupId !== undefined && previous !== undefined && previous !== leader) {
      this.options.logger.info(`group ${scope}: ${leader ? `primary is now ${leader}` : 'has no primary (failover under way)'}, was ${previous}`);
      this.options.changed(groupId, scope, leader);
      if (leader) void this.record(scope, leader);
    }
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Writes a group's roles into the catalog (pg_dist_node.noderole, dpg status of other tools). */
  private async record(scope: string, leader: string): Promise<void> {
    const pool = this.options.controlPool();
    if (!pool) return;
    const name = quoteLiteral(leader);
    const role = `CASE WHEN n.name = ${name} THEN 'leader' ELSE 'replica' END`;
    try {
      await pool.run((query) =>
        query(
          `UPDATE dpg_catalog.nodes n SET role = ${role}, updated_at = now()
           FROM dpg_catalog.groups g WHERE g.group_id = n.group_id AND g.name = ${quoteLiteral(scope)} AND n.role IS DISTINCT FROM (${role})`,
        ),
      );
    } catch (error) {
      this.options.logger.warn(`recording the primary of group ${scope} in the catalog failed: ${(error as Error).message}`);
    }
  }
}
