import type pg from 'pg';
import { ClientError } from '../shared/errors.ts';
import { connectPrimary, onPrimary, primaryNode, type AdminContext } from './admin.ts';
import { quoteIdent, quoteLiteral } from '../shared/quoting.ts';
import { advance, moveObjectName, type MoveRecord } from './move-catalog.ts';
import { dropTablesSql, retiredName, existingTables, indexNames, readShardTable, type ShardTableDefinition } from './shard-ddl.ts';
import { dropReplicationObjects, dropStaleStandbySlots, preparedExists } from './replication-objects.ts';
import { CATCH_UP_BYTES } from './cutover.ts';
import { crashPoint, sleep, type MoveOptions } from './move-options.ts';

/**
 * An online shard move: the tables of a shard group are copied to the target group by
 * PostgreSQL's logical replication (a publication on the source primary, a subscription
 * on the target primary: initial copy, then streaming), the secondary indexes are built
 * on the target once the copy is done (building an HNSW index over the copied rows is
 * far faster than maintaining it row by row), and at the cutover:
 *
 *  1. the source shards are locked against writes (EXCLUSIVE: reads go on);
 *  2. the subscription confirms it applied everything up to the source's WAL position,
 *     and a commit with synchronous_commit = remote_apply on the target makes it durable
 *     there and visible on its synchronous standby;
 *  3. UNLOGGED shards (never in WAL, so never in a publication) are copied row by row;
 *  4. the source shards are renamed away (retired) in the same transaction, which is
 *     PREPAREd (the cleanup drops them: renaming is instant, dropping a large table is not);
 *  5. the catalog switches the placements and records the decision (state 'cleanup') in
 *     one transaction, and NOTIFYs the coordinators;
 *  6. the prepared transaction commits. Statements that waited on the lock, or that a
 *     coordinator not yet told routed to the source, find the shard gone (42P01) and
 *     run again on the target after the coordinator re-reads the catalog.
 *
 * Each step is recorded in dpg_catalog.shard_moves, so a move whose process died can be
 * resumed (the subscription keeps replicating meanwhile) or rolled back; a prepared
 * cutover left behind is resolved by the state (coordinators' recovery loop does it too).
 */
export async function setup(admin: AdminContext, control: pg.Client, move: MoveRecord): Promise<void> {
  const name = moveObjectName(move.id);
  const sourceNode = await primaryNode(admin, move.sourceGroup);
  await onPrimary(admin, move.sourceGroup, (source) =>
    onPrimary(admin, move.targetGroup, async (target) => {
      const walLevel = (await source.query('SHOW wal_level')).rows[0].wal_level;
      if (walLevel !== 'logical') {
        throw new ClientError('55000', `group ${move.sourceGroup} runs with wal_level ${walLevel}; shard moves need logical. Run 'npx dpg up' once: it switches the cluster to logical (restarting PostgreSQL)`);
      }
      // What an earlier, interrupted attempt left: the target has no placement of these shards.
      await dropReplicationObjects(source, target, name);
      await target.query(dropTablesSql(move.tables));
      const definitions: ShardTableDefinition[] = [];
      for (const table of move.tables) {
        const definition = await readShardTable(source, table);
        if (!definition) throw new ClientError('XX000', `shard table ${table} is missing on its group ${move.sourceGroup}`);
        definitions.push(definition);
      }
      const totals = await source.query(
        `SELECT ${definitions.map((d) => `(SELECT count(*) FROM public.${quoteIdent(d.name)})`).join(' + ')} AS rows,
                ${definitions.map((d) => `pg_total_relation_size(${quoteLiteral(`public.${quoteIdent(d.name)}`)})`).join(' + ')} AS bytes`,
      );
      // Owned, granted and row-secured as the source's shard is.
      for (const definition of definitions) {
        await target.query(definition.createTable);
        for (const sql of definition.access) await target.query(sql);
      }
      const logged = definitions.filter((d) => !d.unlogged);
      for (const definition of logged.filter((d) => !d.hasReplicaIdentity)) {
        // Without a key, logical replication can only apply UPDATE and DELETE by the whole row.
        for (const client of [source, target]) await client.query(`ALTER TABLE public.${quoteIdent(definition.name)} REPLICA IDENTITY FULL`);
      }
      if (logged.length > 0) {
        await source.query(`CREATE PUBLICATION ${name} FOR TABLE ${logged.map((d) => `public.${quoteIdent(d.name)}`).join(', ')}`);
        const conninfo = `host=${sourceNode.host} port=${sourceNode.port} dbname=${admin.database} user=postgres password=${admin.superuserPassword} application_name=${name}`;
        // synchronous_commit local: each applied transaction is flushed at once, so the
        // subscription confirms its position without waiting for the WAL writer.
        await target.query(
          `CREATE SUBSCRIPTION ${name} CONNECTION ${quoteLiteral(conninfo)} PUBLICATION ${name} WITH (slot_name = ${quoteLiteral(name)}, copy_data = true, synchronous_commit = 'local')`,
        );
      }
      await control.query(`UPDATE dpg_catalog.shard_moves SET rows_total = $2, bytes_total = $3 WHERE move_id = $1`, [move.id, totals.rows[0].rows, totals.rows[0].bytes]);
    }),
  );
  admin.log(`move ${move.id}: copying ${move.tables.join(', ')} from group ${move.sourceGroup} to group ${move.targetGroup}`);
  crashPoint('after-setup');
  await advance(control, move.id, 'setup', 'copying');
}

/** Waits for the subscription's initial copy, then builds the secondary indexes on the target. */
export async function copy(admin: AdminContext, control: pg.Client, move: MoveRecord, options: MoveOptions): Promise<void> {
  const name = moveObjectName(move.id);
  const restart = async (why: string) => {
    admin.log(`move ${move.id}: ${why}; starting the copy again`);
    await advance(control, move.id, 'copying', 'setup', why);
  };
  const sourceCheck = await connectPrimary(admin, move.sourceGroup);
  const target = await connectPrimary(admin, move.targetGroup);
  try {
    let lastSlotCheck = 0;
    let firstErrors: number | null = null;
    for (;;) {
      const tables = await target.query(
        `SELECT r.srsubstate AS state, coalesce(p.tuples_processed, 0) AS copying, coalesce(t.n_live_tup, 0) AS live
         FROM pg_subscription s JOIN pg_subscription_rel r ON r.srsubid = s.oid
         LEFT JOIN pg_stat_progress_copy p ON p.relid = r.srrelid LEFT JOIN pg_stat_user_tables t ON t.relid = r.srrelid
         WHERE s.subname = $1`,
        [name],
      );
      if (tables.rows.length === 0) {
        // A shard group of UNLOGGED tables only has no subscription: it is copied at the cutover.
        if (await hasLoggedTables(sourceCheck, move.tables)) return restart('the subscription is gone');
        break;
      }
      const done = tables.rows.reduce((sum, r) => sum + Number(r.state === 'r' || r.state === 's' ? r.live : r.copying), 0);
      options.onProgress?.({ phase: 'copy', done: Math.min(done, move.rowsTotal ?? done), total: move.rowsTotal ?? done, unit: 'rows' });
      if (tables.rows.every((r) => r.state === 'r')) break;
      if (Date.now() - lastSlotCheck > 2000) {
        lastSlotCheck = Date.now();
        const slot = await sourceCheck.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [name]);
        if (slot.rows.length === 0) return restart('the replication slot is gone from the source (its primary changed?)');
        const errors = await target.query(`SELECT sync_error_count + apply_error_count AS errors FROM pg_stat_subscription_stats WHERE subname = $1`, [name]);
        const count = Number(errors.rows[0]?.errors ?? 0);
        firstErrors ??= count;
        if (count - firstErrors >= 5) {
          throw new ClientError('XX000', `move ${move.id}: the subscription keeps failing (${count} errors); see the PostgreSQL log of group ${move.targetGroup}'s primary. Roll it back with --rollback ${move.id}`);
        }
      }
      crashPoint('during-copy');
      await sleep(300);
    }
    await buildIndexes(admin, move, target, options);
  } finally {
    await sourceCheck.end().catch(() => {});
    await target.end().catch(() => {});
  }
  crashPoint('after-copy');
  await advance(control, move.id, 'copying', 'catching-up');
}

async function hasLoggedTables(client: pg.Client, tables: string[]): Promise<boolean> {
  const result = await client.query(
    `SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = ANY ($1) AND c.relpersistence = 'p'`,
    [tables],
  );
  return result.rows.length > 0;
}

/** The source's secondary indexes the target lacks, built after the copy (HNSW with vector.index_build_memory). */
async function buildIndexes(admin: AdminContext, move: MoveRecord, target: pg.Client, options: MoveOptions, concurrently = false): Promise<number> {
  const missing: string[] = [];
  await onPrimary(admin, move.sourceGroup, async (source) => {
    for (const table of move.tables) {
      const definition = await readShardTable(source, table);
      if (!definition) continue;
      const present = await indexNames(target, table);
      for (const [name, sql] of definition.indexes) if (!present.has(name)) missing.push(sql);
    }
  });
  await buildIndexList(admin, target, missing, options, concurrently);
  return missing.length;
}

export async function buildIndexList(admin: AdminContext, target: pg.Client, indexes: string[], options: MoveOptions, concurrently: boolean): Promise<void> {
  if (indexes.length === 0) return;
  await target.query(`SET maintenance_work_mem = ${quoteLiteral(admin.indexBuildMemory)}`);
  let built = 0;
  for (const sql of indexes) {
    options.onProgress?.({ phase: 'index', done: built, total: indexes.length, unit: 'indexes' });
    await target.query(concurrently ? sql.replace(/^CREATE (UNIQUE )?INDEX /, 'CREATE $1INDEX CONCURRENTLY ') : sql);
    built++;
  }
  options.onProgress?.({ phase: 'index', done: built, total: indexes.length, unit: 'indexes' });
  await target.query('RESET maintenance_work_mem');
}

/** Waits until the subscription is within `catchUpBytes` of the source's WAL. */
export async function catchUp(admin: AdminContext, control: pg.Client, move: MoveRecord, options: MoveOptions): Promise<void> {
  const name = moveObjectName(move.id);
  const threshold = options.catchUpBytes ?? CATCH_UP_BYTES;
  await onPrimary(admin, move.sourceGroup, async (source) => {
    let first: number | null = null;
    for (;;) {
      const slot = await source.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 AS lag FROM pg_replication_slots WHERE slot_name = $1`, [name]);
      if (slot.rows.length === 0) {
        if (await hasLoggedTables(source, move.tables)) {
          admin.log(`move ${move.id}: the replication slot is gone from the source; starting the copy again`);
          await advance(control, move.id, 'catching-up', 'setup', 'the replication slot was lost');
          return;
        }
        break;
      }
      const lag = Math.max(0, Number(slot.rows[0].lag ?? 0));
      first ??= Math.max(lag, 1);
      crashPoint('during-catch-up');
      if (lag <= threshold) {
        options.onProgress?.({ phase: 'catch-up', done: first, total: first, unit: 'bytes' });
        break;
      }
      options.onProgress?.({ phase: 'catch-up', done: Math.max(0, first - lag), total: first, unit: 'bytes' });
      await sleep(200);
    }
    await advance(control, move.id, 'catching-up', 'cutover');
  });
}

/** After the cutover: the subscription, slot and publication go; the prepared source transaction commits if a crash left it. */
export async function cleanup(admin: AdminContext, control: pg.Client, move: MoveRecord): Promise<void> {
  const name = moveObjectName(move.id);
  let moved = 0;
  await onPrimary(admin, move.sourceGroup, (source) =>
    onPrimary(admin, move.targetGroup, async (target) => {
      if (await preparedExists(source, name)) await source.query(`COMMIT PREPARED ${quoteLiteral(name)}`);
      crashPoint('during-cleanup');
      await dropReplicationObjects(source, target, name);
      // Indexes the source got during the move, built now that nothing is applied to the target any more.
      const late = (await control.query('SELECT late_indexes FROM dpg_catalog.shard_moves WHERE move_id = $1', [move.id])).rows[0]?.late_indexes ?? [];
      const missing: string[] = [];
      for (const sql of late as string[]) {
        const index = /^CREATE (?:UNIQUE )?INDEX (\S+) ON public\.(\S+) /.exec(sql);
        if (index && !(await indexNames(target, index[2]!.replace(/"/g, ''))).has(index[1]!.replace(/"/g, ''))) missing.push(sql);
      }
      await buildIndexList(admin, target, missing, {}, true);
      // The cutover renamed the source shards (retired); they go now, as does any copy a crash left.
      await source.query(dropTablesSql([...move.tables, ...move.tables.map(retiredName)]));
      moved = (await existingTables(target, move.tables)).length;
    }),
  );
  await dropStaleStandbySlots(admin, move.sourceGroup);
  admin.log(`move ${move.id}: done (${moved} shard tables on group ${move.targetGroup}; replication objects dropped)`);
  await advance(control, move.id, 'cleanup', 'done');
}

/** Undoes a move before its cutover decision: its prepared transaction, replication objects and target tables go. */
export async function rollBack(admin: AdminContext, control: pg.Client, move: MoveRecord): Promise<void> {
  const name = moveObjectName(move.id);
  await onPrimary(admin, move.sourceGroup, (source) =>
    onPrimary(admin, move.targetGroup, async (target) => {
      if (await preparedExists(source, name)) await source.query(`ROLLBACK PREPARED ${quoteLiteral(name)}`);
      await dropReplicationObjects(source, target, name);
      // The catalog still places the shards on the source ('rolling-back' is before any switch).
      const placed = await control.query(`SELECT count(*)::int AS n FROM dpg_catalog.placements WHERE shardid = ANY ($1::bigint[]) AND group_id = $2`, [move.shardIds, move.targetGroup]);
      if (placed.rows[0].n > 0) throw new ClientError('XX000', `move ${move.id}: the catalog places its shards on the target group; not dropping them there`);
      await target.query(dropTablesSql(move.tables));
    }),
  );
  await dropStaleStandbySlots(admin, move.sourceGroup);
  admin.log(`move ${move.id}: rolled back; the shards stay on group ${move.sourceGroup}`);
  await advance(control, move.id, 'rolling-back', 'rolled-back');
}

