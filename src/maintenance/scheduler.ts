import type { TableInfo } from '../topology/snapshot.ts';
import type { GroupPool } from '../backend/pool.ts';
import { CronSchedule } from './cron.ts';
import { quoteIdent, quoteLiteral } from '../shared/quoting.ts';

export type MaintenanceJob = 'reindex' | 'analyze' | 'rebalance';

export interface MaintenanceHost {
  tables(): TableInfo[];
  pool(groupId: number): GroupPool;
  log(line: string): void;
  /** Runs the rebalancer (src/rebalance) and says what it did; absent: no rebalance job. */
  rebalance?: () => Promise<string>;
}


/**
 * Scheduled maintenance (config maintenance): every few seconds each job's cron schedule
 * is checked; for a scheduled minute that has come, the coordinator that inserts the
 * (job, minute) row into dpg_catalog.maintenance_runs first runs the job, so with
 * several coordinators each run happens once. Missed minutes (the coordinator was down)
 * are not made up for; only the latest due one runs. The result, its duration and what
 * was done go to the same row (view dpg_maintenance, and dpg status).
 */
export class MaintenanceScheduler {
  private timer: NodeJS.Timeout | null = null;
  private lastCheck = new Date();
  private running = false;
  private readonly jobs: { job: MaintenanceJob; schedule: CronSchedule }[];

  constructor(
    private readonly host: MaintenanceHost,
    schedules: { reindex: string; analyze: string; rebalance?: string },
    private readonly indexBuildMemory: string,
    private readonly intervalMs = 5000,
  ) {
    this.jobs = [
      { job: 'reindex', schedule: new CronSchedule(schedules.reindex) },
      { job: 'analyze', schedule: new CronSchedule(schedules.analyze) },
    ];
    if (schedules.rebalance && host.rebalance) this.jobs.push({ job: 'rebalance', schedule: new CronSchedule(schedules.rebalance) });
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const now = new Date();
    const since = this.lastCheck;
    this.lastCheck = now;
    try {
      for (const { job, schedule } of this.jobs) {
        const due = schedule.due(since, now);
        const latest = due.at(-1);
        if (latest && (await this.claim(job, latest))) await this.run(job, latest);
      }
    } catch (error) {
      this.host.log(`maintenance: ${(error as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  /** True when this coordinator is the one to run `job` for the minute `at`. */
  private claim(job: MaintenanceJob, at: Date): Promise<boolean> {
    return this.onGroup(0, async (query) => {
      const rows = await query(
        `INSERT INTO dpg_catalog.maintenance_runs (job, scheduled_for) VALUES (${quoteLiteral(job)}, ${quoteLiteral(at.toISOString())}) ON CONFLICT DO NOTHING RETURNING job`,
      );
      return rows.length === 1;
    });
  }

  private async run(job: MaintenanceJob, at: Date): Promise<void> {
    const started = performance.now();
    let result: 'ok' | 'failed' = 'ok';
    let detail: string;
    try {
      detail = job === 'reindex' ? await this.reindex() : job === 'analyze' ? await this.analyze() : await this.host.rebalance!();
    } catch (error) {
      result = 'failed';
      detail = (error as Error).message;
    }
    detail += ` (${((performance.now() - started) / 1000).toFixed(1)} s)`;
    this.host.log(`maintenance: ${job} ${result}: ${detail}`);
    await this.onGroup(0, (query) =>
      query(
        `UPDATE dpg_catalog.maintenance_runs SET finished_at = now(), result = ${quoteLiteral(result)}, detail = ${quoteLiteral(detail)} WHERE job = ${quoteLiteral(job)} AND scheduled_for = ${quoteLiteral(at.toISOString())}`,
      ),
    );
  }

  /** Runs `work` on one connection of a group's pool (group 0: the control group, where the catalog is). */
  private onGroup<T>(groupId: number, work: (query: (sql: string) => Promise<(string | null)[][]>) => Promise<T>): Promise<T> {
    return this.host.pool(groupId).run(work);
  }

  /**
   * The shard that needs it most: the one whose table has the most dead rows (each is a
   * deleted node the HNSW graph still routes through), ties by live rows. Its HNSW
   * indexes are rebuilt with REINDEX CONCURRENTLY (writes go on).
   */
  private async reindex(): Promise<string> {
    let best: { groupId: number; relation: string; indexes: string[]; dead: number; live: number } | null = null;
    for (const table of this.host.tables()) {
      if (table.kind !== 'distributed') continue;
      for (const shard of table.shards) {
        const groupId = shard.groupIds[0]!;
        const relation = `${table.name}_${shard.shardId}`;
        const rows = await this.onGroup(groupId, (query) =>
          query(
            `SELECT c.relname, s.n_dead_tup, s.n_live_tup FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
             JOIN pg_stat_user_tables s ON s.relid = i.indrelid WHERE a.amname = 'hnsw' AND s.relname = ${quoteLiteral(relation)} ORDER BY c.relname`,
          ),
        );
        if (rows.length === 0) continue;
        const dead = Number(rows[0]![1]);
        const live = Number(rows[0]![2]);
        if (!best || dead > best.dead || (dead === best.dead && live > best.live)) best = { groupId, relation, indexes: rows.map((r) => r[0]!), dead, live };
      }
    }
    if (!best) return 'no shard has an HNSW index';
    const { groupId, relation, indexes, dead, live } = best;
    await this.onGroup(groupId, async (query) => {
      await query(`SET maintenance_work_mem = ${quoteLiteral(this.indexBuildMemory)}`);
      try {
        for (const index of indexes) await query(`REINDEX INDEX CONCURRENTLY ${quoteIdent(index)}`);
      } finally {
        await query('RESET maintenance_work_mem').catch(() => {});
      }
    });
    return `reindexed ${indexes.join(', ')} of ${relation} (${dead} dead, ${live} live rows)`;
  }

  private async analyze(): Promise<string> {
    let shards = 0;
    for (const table of this.host.tables()) {
      for (const shard of table.shards) {
        for (const groupId of table.kind === 'reference' ? shard.groupIds : [shard.groupIds[0]!]) {
          await this.onGroup(groupId, (query) => query(`ANALYZE ${quoteIdent(`${table.name}_${shard.shardId}`)}`));
          shards++;
        }
      }
    }
    return `analyzed ${shards} shards`;
  }
}
