import { createHash } from 'node:crypto';
import pg from 'pg';
import { CatalogSnapshot, type TableInfo } from '../topology/snapshot.ts';
import { hnswProfileIn, type HnswProfile } from '../config/config.ts';
import { recallFloor } from '../physical/search-route.ts';
import { pgSslOption, type BackendTarget } from '../backend/backend-connection.ts';
import type { GroupPool } from '../backend/pool.ts';
import { quoteIdent, quoteLiteral } from '../shared/quoting.ts';

/**
 * Namespace tiers: every namespace starts 'exact' (searched by sorting its rows by
 * exact distance, which its btree index finds). Each cycle the manager counts the
 * rows of every namespace on every shard of a table with an HNSW index, records the
 * counts in dpg_catalog.vector_namespaces, and
 * - promotes a namespace past exactSearchMaxRows: tier 'promoting' while
 *   CREATE INDEX CONCURRENTLY builds its own partial HNSW index (writes go on; searches
 *   stay exact), then 'hnsw' once PostgreSQL reports the index valid;
 * - demotes an 'hnsw' namespace that shrank below half the bound: tier 'exact' first
 *   (coordinators stop using the index), then DROP INDEX CONCURRENTLY.
 * Only one coordinator manages tiers at a time: the one holding an advisory lock on
 * the control group.
 */
export interface TierManagerOptions {
  exactSearchMaxRows: number;
  /** Past this many rows a namespace is split (0: never). */
  splitRows: number;
  /** maintenance_work_mem of the index builds (config: vector.index_build_memory). */
  indexBuildMemory: string;
  intervalSeconds: number;
  profiles: HnswProfile[];
}

/** What the manager needs of the coordinator (kept narrow: the manager is its own loop). */
export interface TierHost {
  snapshotTables(): TableInfo[];
  pool(groupId: number): GroupPool;
  controlTarget(): Promise<BackendTarget>;
  catalogChanged(): Promise<void>;
  log(line: string): void;
}

/** pg_try_advisory_lock key of the tier manager: "dpg tier" in ASCII. */
const TIER_LOCK_KEY = 0x64706774;

interface HnswColumn {
  column: string;
  opclass: string;
  /** The shard-wide index on the column, and its m (pgvector's default 16 when not given). */
  index: string;
  m: number;
}

/** One shard of a table as the manager saw it this cycle. */
interface ShardState {
  shardId: string;
  relation: string;
  /** Columns with a shard-wide HNSW index: each namespace piece gets its own index on them. */
  columns: HnswColumn[];
  /** dpg's per-namespace indexes on the shard, and whether PostgreSQL reports each valid. */
  partial: Map<string, boolean>;
}

type Tier = 'exact' | 'promoting' | 'hnsw' | 'split';

interface CatalogRow {
  namespace: string;
  tier: Tier;
  row_count: string;
  index_names: string[];
}

/** A namespace's tier and the valid indexes of its own, as the manager updates them. */
interface NamespaceEntry {
  table: TableInfo;
  namespace: string;
  tier: Tier;
  indexes: Set<string>;
}


/** The name of a namespace's own index on one shard: at most 63 bytes whatever the namespace. */
export function namespaceIndexName(shardId: string, column: string, namespace: string): string {
  const digest = createHash('sha1').update(`${column}\u0000${namespace}`).digest('hex').slice(0, 16);
  return `dpg_ns_${shardId}_${digest}`;
}

export class NamespaceTierManager {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private control: pg.Client | null = null;
  private leader = false;
  private stopped = false;

  constructor(
    private readonly host: TierHost,
    private readonly options: TierManagerOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.runCycle(), this.options.intervalSeconds * 1000);
    this.timer.unref();
    setTimeout(() => void this.runCycle(), 1000).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    // A build in progress is not waited for: CREATE INDEX CONCURRENTLY left unfinished
    // leaves an invalid index, which the next promotion drops and builds again.
    await this.control?.end().catch(() => {});
    this.control = null;
  }

  /** One cycle (skipped while the previous one runs, e.g. building a large index). */
  runCycle(): Promise<void> {
    if (this.running || this.stopped) return this.running ?? Promise.resolve();
    this.running = this.cycle()
      .catch((error) => this.host.log(`namespace tiers: ${(error as Error).message}`))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async controlClient(): Promise<pg.Client> {
    if (this.control) return this.control;
    const target = await this.host.controlTarget();
    const { tls: _tls, ...login } = target;
    const client = new pg.Client({ ...login, application_name: 'dpg-namespace-tiers', ...pgSslOption(target) });
    client.on('error', () => {
      // The lock went with the connection: the next cycle reconnects and asks again.
      this.control = null;
      this.leader = false;
    });
    await client.connect();
    this.control = client;
    this.leader = false;
    return client;
  }

  private async cycle(): Promise<void> {
    const control = await this.controlClient();
    if (!this.leader) {
      const result = await control.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [TIER_LOCK_KEY]);
      this.leader = result.rows[0]!.locked;
      if (!this.leader) return;
    }
    for (const table of this.host.snapshotTables()) {
      if (table.kind !== 'distributed' || table.distributionMethod !== 'hash' || this.stopped) continue;
      await this.manageTable(control, table);
    }
  }

  private onShard<T>(table: TableInfo, shardIndex: number, run: (query: (sql: string) => Promise<(string | null)[][]>) => Promise<T>): Promise<T> {
    return this.host.pool(table.shards[shardIndex]!.groupIds[0]!).run(run);
  }

  /**
   * onShard for index builds: the connection gets vector.index_build_memory as its
   * maintenance_work_mem for the build (an HNSW graph that fits in it is built many
   * times faster) and the server's value back afterwards, since it returns to the pool.
   */
  private async buildOnShard(table: TableInfo, shardIndex: number, run: (query: (sql: string) => Promise<(string | null)[][]>) => Promise<void>): Promise<void> {
    await this.onShard(table, shardIndex, async (query) => {
      await query(`SET maintenance_work_mem = ${quoteLiteral(this.options.indexBuildMemory)}`);
      try {
        await run(query);
      } finally {
        await query('RESET maintenance_work_mem').catch(() => {});
      }
    });
  }

  private async manageTable(control: pg.Client, table: TableInfo): Promise<void> {
    const column = table.distributionColumn!;
    const existing = new Map(
      (
        await control.query<CatalogRow>('SELECT namespace, tier, row_count, index_names FROM dpg_catalog.vector_namespaces WHERE table_name = $1', [table.name])
      ).rows.map((r) => [r.namespace, r]),
    );
    // Rows of every namespace on every shard (a split namespace has rows on several).
    const shards = new Map<number, ShardState>();
    const pieces = new Map<string, Map<number, number>>();
    for (const shard of table.shards) {
      const relation = `${table.name}_${shard.shardId}`;
      const state = await this.onShard(table, shard.index, async (query) => {
        const hnsw = await query(
          `SELECT a.attname, opc.opcname, i.relname, array_to_string(i.reloptions, ',')
           FROM pg_index x
           JOIN pg_class i ON i.oid = x.indexrelid
           JOIN pg_am am ON am.oid = i.relam
           JOIN pg_opclass opc ON opc.oid = x.indclass[0]
           JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
           WHERE x.indrelid = to_regclass(${quoteLiteral(quoteIdent(relation))}) AND am.amname = 'hnsw' AND x.indpred IS NULL`,
        );
        if (hnsw.length === 0) return null;
        const counts = await query(`SELECT ${quoteIdent(column)}, count(*) FROM ${quoteIdent(relation)} WHERE ${quoteIdent(column)} IS NOT NULL GROUP BY 1`);
        const partial = await query(
          `SELECT i.relname, x.indisvalid FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
           WHERE x.indrelid = to_regclass(${quoteLiteral(quoteIdent(relation))}) AND i.relname LIKE 'dpg\\_ns\\_%'`,
        );
        for (const [ns, n] of counts) {
          let byShard = pieces.get(ns!);
          if (!byShard) pieces.set(ns!, (byShard = new Map()));
          byShard.set(shard.index, Number(n));
        }
        return {
          shardId: shard.shardId,
          relation,
          columns: hnsw.map(([name, opclass, index, options]) => ({ column: name!, opclass: opclass!, index: index!, m: Number(/\bm=(\d+)/.exec(options ?? '')?.[1] ?? 16) })),
          partial: new Map(partial.map(([name, valid]) => [name!, valid === 't'])),
        };
      });
      if (state) shards.set(shard.index, state);
    }
    if (shards.size === 0) return;
    for (const [shardIndex, state] of shards) {
      let rows = 0;
      for (const byShard of pieces.values()) rows += byShard.get(shardIndex) ?? 0;
      await this.resizeSharedIndexes(table, shardIndex, state, rows);
    }

    const names = [...pieces.keys()];
    const totals = names.map((ns) => [...pieces.get(ns)!.values()].reduce((a, b) => a + b, 0));
    if (names.length > 0) {
      await control.query(
        `INSERT INTO dpg_catalog.vector_namespaces (table_name, namespace, shardid, row_count)
         SELECT $1, c.ns, s.shardid, c.n
         FROM unnest($2::text[], $3::bigint[], $4::int[]) AS c(ns, n, home)
         JOIN dpg_catalog.shards s ON s.table_name = $1 AND s.shard_index = c.home
         ON CONFLICT (table_name, namespace) DO UPDATE SET row_count = excluded.row_count, shardid = excluded.shardid, counted_at = now()`,
        [table.name, names, totals, names.map((ns) => CatalogSnapshot.shardIndexForValue(table, ns))],
      );
      // Coordinators pick hnsw.ef_search by an indexed namespace's rows (its profile and the
      // recall floor): a count crossing into another of those brackets must reach them now.
      const bracket = (rows: number) => `${hnswProfileIn(this.options.profiles, rows).ef_search}/${recallFloor(rows)}`;
      const crossed = names.some((ns, i) => {
        const row = existing.get(ns);
        return row !== undefined && row.tier !== 'exact' && bracket(Number(row.row_count)) !== bracket(totals[i]!);
      });
      if (crossed) await this.host.catalogChanged();
    }

    for (const [i, namespace] of names.entries()) {
      if (this.stopped) return;
      const row = existing.get(namespace);
      const entry: NamespaceEntry = { table, namespace, tier: row?.tier ?? 'exact', indexes: new Set(row?.index_names ?? []) };
      if (entry.tier !== 'split' && this.options.splitRows > 0 && totals[i]! > this.options.splitRows) {
        entry.tier = 'split';
        await this.record(control, entry, true);
        this.host.log(`namespace tiers: ${table.name} namespace ${JSON.stringify(namespace)} (${totals[i]} rows) is split: its new rows go to shards by namespace || to_char(created_at, 'YYYY-MM')`);
      }
      for (const [shardIndex, rows] of pieces.get(namespace)!) {
        const state = shards.get(shardIndex);
        if (state) await this.managePiece(control, entry, shardIndex, state, rows);
      }
    }

    // Namespaces with no rows left anywhere: forget them and any index of theirs.
    for (const [namespace, row] of existing) {
      if (pieces.has(namespace) || this.stopped) continue;
      for (const name of row.index_names) {
        const shard = table.shards.find((s) => name.startsWith(`dpg_ns_${s.shardId}_`));
        if (shard) await this.onShard(table, shard.index, (query) => query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(name)}`)).catch(() => {});
      }
      await control.query('DELETE FROM dpg_catalog.vector_namespaces WHERE table_name = $1 AND namespace = $2', [table.name, namespace]);
      if (row.tier !== 'exact') await this.host.catalogChanged();
    }
  }

  /**
   * The HNSW profile of a shard follows its size (the seed's table): once a shard
   * grows into a profile with a larger m, or shrinks into one with a smaller m by a
   * tenth past its bound (so a shard near a bound is not rebuilt at every crossing),
   * its shared index is built again with that profile, concurrently, beside the old
   * one, which is then dropped.
   */
  private async resizeSharedIndexes(table: TableInfo, shardIndex: number, state: ShardState, rows: number): Promise<void> {
    const larger = hnswProfileIn(this.options.profiles, rows);
    const smaller = hnswProfileIn(this.options.profiles, Math.ceil(rows * 1.1));
    for (const column of state.columns) {
      const profile = larger.m > column.m ? larger : smaller.m < column.m ? smaller : null;
      if (!profile || this.stopped) continue;
      const started = performance.now();
      const next = `${column.index.slice(0, 50)}_rebuild`;
      await this.buildOnShard(table, shardIndex, async (query) => {
        await query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(next)}`);
        await query(
          `CREATE INDEX CONCURRENTLY ${quoteIdent(next)} ON ${quoteIdent(state.relation)} USING hnsw (${quoteIdent(column.column)} ${quoteIdent(column.opclass)}) ` +
            `WITH (m = ${profile.m}, ef_construction = ${profile.ef_construction})`,
        );
        await query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(column.index)}`);
        await query(`ALTER INDEX ${quoteIdent(next)} RENAME TO ${quoteIdent(column.index)}`);
      });
      column.m = profile.m;
      this.host.log(
        `namespace tiers: shard ${state.shardId} of ${table.name} (${rows} rows) has its HNSW index on ${column.column} rebuilt with m ${profile.m}, ef_construction ${profile.ef_construction} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    }
  }

  /** Writes a namespace's tier and indexes; `notify`: coordinators must route differently now. */
  private async record(control: pg.Client, entry: NamespaceEntry, notify: boolean): Promise<void> {
    await control.query(
      `UPDATE dpg_catalog.vector_namespaces SET tier = $3, index_names = $4, tier_changed_at = now() WHERE table_name = $1 AND namespace = $2`,
      [entry.table.name, entry.namespace, entry.tier, [...entry.indexes].sort()],
    );
    if (notify) await this.host.catalogChanged();
  }

  /** One shard's rows of a namespace: an index of its own past the bound, none below half of it. */
  private async managePiece(control: pg.Client, entry: NamespaceEntry, shardIndex: number, state: ShardState, rows: number): Promise<void> {
    const { table, namespace } = entry;
    const names = state.columns.map((c) => namespaceIndexName(state.shardId, c.column, namespace));
    const recorded = names.every((n) => entry.indexes.has(n));
    const built = names.every((n) => state.partial.get(n) === true);
    const max = this.options.exactSearchMaxRows;
    if (rows > max && !(recorded && built)) {
      if (built) {
        // Built before a crash, never recorded: record it.
        for (const n of names) entry.indexes.add(n);
        if (entry.tier !== 'split') entry.tier = 'hnsw';
        await this.record(control, entry, true);
        return;
      }
      await this.promote(control, entry, shardIndex, state, rows, names);
    } else if (rows < max / 2 && names.some((n) => entry.indexes.has(n) || state.partial.has(n))) {
      for (const n of names) entry.indexes.delete(n);
      if (entry.tier !== 'split') entry.tier = 'exact';
      // Every coordinator stops using the index before it goes: they reload the catalog
      // on the NOTIFY within milliseconds; a search planned without the index after the
      // drop would fall back to the shard's shared index.
      await this.record(control, entry, true);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await this.onShard(table, shardIndex, async (query) => {
        for (const n of names) await query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(n)}`);
      });
      this.host.log(`namespace tiers: ${table.name} namespace ${JSON.stringify(namespace)} on shard ${state.shardId} is searched exactly again`);
    } else if (entry.tier === 'promoting' && rows <= max) {
      // Shrank while a promotion was interrupted.
      entry.tier = 'exact';
      await this.record(control, entry, false);
    }
  }

  private async promote(control: pg.Client, entry: NamespaceEntry, shardIndex: number, state: ShardState, rows: number, names: string[]): Promise<void> {
    const { table, namespace } = entry;
    const profile = hnswProfileIn(this.options.profiles, rows);
    if (entry.tier !== 'split') {
      entry.tier = 'promoting';
      await this.record(control, entry, false);
    }
    await control.query('UPDATE dpg_catalog.vector_namespaces SET m = $3, ef_construction = $4 WHERE table_name = $1 AND namespace = $2', [
      table.name,
      namespace,
      profile.m,
      profile.ef_construction,
    ]);
    const started = performance.now();
    try {
      await this.buildOnShard(table, shardIndex, async (query) => {
        for (const [i, { column, opclass }] of state.columns.entries()) {
          const name = names[i]!;
          // An index left invalid by an interrupted build is dropped and built again.
          if (state.partial.get(name) === false) await query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(name)}`);
          if (state.partial.get(name) === true) continue;
          await query(
            `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${quoteIdent(name)} ON ${quoteIdent(state.relation)} USING hnsw (${quoteIdent(column)} ${quoteIdent(opclass)}) ` +
              `WITH (m = ${profile.m}, ef_construction = ${profile.ef_construction}) WHERE ${quoteIdent(table.distributionColumn!)} = ${quoteLiteral(namespace)}`,
          );
          const valid = await query(`SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(${quoteLiteral(quoteIdent(name))})`);
          if (valid[0]?.[0] !== 't') throw new Error(`index ${name} is not valid after its build`);
        }
      });
    } catch (error) {
      this.host.log(`namespace tiers: an index of its own for ${table.name} namespace ${JSON.stringify(namespace)} on shard ${state.shardId} failed: ${(error as Error).message}; it stays exact there`);
      await this.onShard(table, shardIndex, async (query) => {
        for (const name of names) await query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(name)}`);
      }).catch(() => {});
      if (entry.tier === 'promoting') entry.tier = 'exact';
      await this.record(control, entry, false);
      return;
    }
    for (const n of names) entry.indexes.add(n);
    if (entry.tier !== 'split') entry.tier = 'hnsw';
    await this.record(control, entry, true);
    this.host.log(
      `namespace tiers: ${table.name} namespace ${JSON.stringify(namespace)} (${rows} rows on shard ${state.shardId}) has its own HNSW index (m ${profile.m}, ef_construction ${profile.ef_construction}), built in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }
}
