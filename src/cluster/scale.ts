import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import type { DpgConfig } from '../config/config.ts';
import { MAX_WORKER_GROUPS } from '../config/config.ts';
import { readClusterState, setWorkerGroupIds, workerGroupIdsOf, writeClusterState } from './state.ts';
import { upCluster } from './up.ts';
import { groupLeader } from './connect.ts';
import { patroniNamespace, patroniProcessName } from './patroni.ts';
import { forgetProcess, isAlive, listProcessRecords, postmasterPid, stopPid } from './processes.ts';
import { buildLayout, type ClusterLayout, type GroupLayout } from './layout.ts';
import { prepareGroupDatabase, refreshNodeRoles, registerGroup } from './bootstrap.ts';
import { clientUsers, readSecrets } from './secrets.ts';
import { etcdLogins } from './etcd-auth.ts';
import { b64, etcdCall, etcdToken, prefixEnd, type EtcdLogin } from '../topology/etcd-gateway.ts';
import { CATALOG_CHANNEL } from '../topology/catalog-reader.ts';
import { ClientError } from '../shared/errors.ts';
import { connectPrimary, onPrimary, type AdminContext } from '../rebalance/admin.ts';
import { quoteIdent, quoteLiteral } from '../shared/quoting.ts';
import { readShardTable, dropTablesSql, type ShardTableDefinition } from '../rebalance/shard-ddl.ts';
import { copyTableRows } from '../rebalance/copy-rows.ts';
import { rebalance, type RebalanceOptions, type RebalanceResult } from '../rebalance/rebalancer.ts';

/**
 * Scaling out and in: `dpg add-group` starts a new worker group (its Patroni nodes, the
 * database and extensions), gives it a copy of every reference table, registers it, and
 * rebalances onto it; `dpg remove-group [--group G]` drains a worker group (its shards
 * move to the others), takes it out of the catalog and stops it.
 *
 * Reference tables are written on every group that holds them. Their copy for a new
 * group is made with writes to them stopped: every existing copy is locked (EXCLUSIVE,
 * reads go on) while the rows are copied; the catalog then registers the group with
 * its placements and bumps dpg_catalog.reference_epoch, and the locks are released. A
 * reference write routed before that (to the old groups) commits only if the epoch is
 * unchanged, so it is rolled back and runs again on all groups (executor/transaction.ts).
 */
export interface ScaleOptions {
  log: (line: string) => void;
  admin: (layout: ClusterLayout) => AdminContext;
  rebalance: Omit<RebalanceOptions, 'drain' | 'dryRun'>;
}

export interface AddGroupResult {
  group: GroupLayout;
  referenceTables: number;
  copiedRows: number;
  pauseMs: number;
  rebalanced: RebalanceResult | null;
}

/** Adds a worker group (or finishes adding one an interrupted add-group started), then rebalances unless told not to. */
export async function addGroup(config: DpgConfig, dataDir: string, options: Omit<ScaleOptions, 'rebalance'> & { rebalance: ScaleOptions['rebalance'] | null }): Promise<AddGroupResult> {
  const stateFile = join(dataDir, 'cluster.json');
  const state = readClusterState(stateFile);
  if (!state?.bootstrapped) throw new ClientError('55000', `no cluster in ${dataDir}: run 'npx dpg up' first`);
  // A group started by an add-group that did not get to register it is finished, not added again.
  const registered = await registeredWorkerGroups(options.admin, config, dataDir);
  const ids = workerGroupIdsOf(state)!;
  let id = ids.find((g) => !registered.includes(g));
  if (id === undefined) {
    // The lowest id free (one dpg remove-group left, or the next): its ports are laid out by it.
    id = Array.from({ length: MAX_WORKER_GROUPS }, (_, i) => i + 1).find((g) => !ids.includes(g));
    if (id === undefined) throw new ClientError('54000', `the cluster has ${ids.length} worker groups, the most dpg lays out ports for`);
    setWorkerGroupIds(state, [...ids, id]);
    writeClusterState(stateFile, state);
  }
  options.log(`starting worker group ${id}`);
  const up = await upCluster(config, dataDir, { log: options.log });
  const group = up.layout.groups.find((g) => g.id === id)!;
  const leader = await groupLeader(group);
  if (!leader) throw new ClientError('08006', `the new group ${group.name} has no primary; see 'npx dpg status'`);
  await prepareGroupDatabase(leader, up.secrets, config.cluster.database, clientUsers(config.users, up.secrets));
  const admin = options.admin(up.layout);
  const copied = await registerWithReferenceTables(admin, up.layout, group);
  options.log(`group ${group.name} registered with ${copied.tables} reference tables (${copied.rows} rows; reference writes paused ${copied.pauseMs.toFixed(0)} ms)`);
  const rebalanced = options.rebalance ? await rebalance(admin, options.rebalance) : null;
  return { group, referenceTables: copied.tables, copiedRows: copied.rows, pauseMs: copied.pauseMs, rebalanced };
}

async function registeredWorkerGroups(adminFor: ScaleOptions['admin'], config: DpgConfig, dataDir: string): Promise<number[]> {
  const state = readClusterState(join(dataDir, 'cluster.json'))!;
  const admin = adminFor(buildLayout(config, dataDir, state.nodesRoot, state.coordinators, workerGroupIdsOf(state)));
  return onPrimary(admin, 0, async (control) => (await control.query(`SELECT group_id FROM dpg_catalog.groups WHERE kind = 'worker' ORDER BY 1`)).rows.map((r) => r.group_id as number));
}

/** Locks every existing copy of the reference tables against writes, copies them to the new group, and registers it. */
async function registerWithReferenceTables(admin: AdminContext, layout: ClusterLayout, group: GroupLayout): Promise<{ tables: number; rows: number; pauseMs: number }> {
  const control = await connectPrimary(admin, 0);
  const held: pg.Client[] = [];
  try {
    const already = await control.query('SELECT 1 FROM dpg_catalog.groups WHERE group_id = $1', [group.id]);
    if (already.rows.length > 0) return { tables: 0, rows: 0, pauseMs: 0 };
    const references = (
      await control.query(
        `SELECT s.table_name || '_' || s.shardid AS shard_table, s.shardid::text AS shardid, array_agg(p.group_id ORDER BY p.group_id) AS groups
         FROM dpg_catalog.tables t JOIN dpg_catalog.shards s USING (table_name) JOIN dpg_catalog.placements p USING (shardid)
         WHERE t.kind = 'reference' GROUP BY 1, 2 ORDER BY 1`,
      )
    ).rows as { shard_table: string; shardid: string; groups: number[] }[];
    const oldGroups = [...new Set(references.flatMap((r) => r.groups))].sort((a, b) => a - b);
    const target = await connectPrimary(admin, group.id);
    held.push(target);
    // Leftovers of an interrupted attempt: the new group is not in the catalog, so nothing there is placed.
    await target.query(dropTablesSql(references.map((r) => r.shard_table)));
    let rows = 0;
    let locked = 0;
    let locks: pg.Client[] = [];
    for (let attempt = 1; references.length > 0; attempt++) {
      try {
        for (const groupId of oldGroups) {
          const client = await connectPrimary(admin, groupId);
          locks.push(client);
          await client.query('BEGIN');
          await client.query('SET LOCAL lock_timeout = 2000');
          // A reader holding one table while waiting for another is a deadlock: this side gives way, soon.
          await client.query('SET LOCAL deadlock_timeout = 100');
          await client.query(`LOCK TABLE ${references.map((r) => `public.${quoteIdent(r.shard_table)}`).join(', ')} IN EXCLUSIVE MODE`);
        }
        locked = performance.now();
        break;
      } catch (error) {
        for (const client of locks) await client.end().catch(() => {});
        locks = [];
        if (!['55P03', '40P01'].includes((error as { code?: string }).code ?? '') || attempt >= 10) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
    held.push(...locks);
    const source = locks[0];
    const definitions: ShardTableDefinition[] = [];
    for (const reference of source ? references : []) {
      const definition = await readShardTable(source!, reference.shard_table);
      if (!definition) throw new ClientError('XX000', `reference table shard ${reference.shard_table} is missing on group ${oldGroups[0]}`);
      definitions.push(definition);
    }
    for (const definition of definitions) {
      await target.query(definition.createTable);
      for (const sql of definition.access) await target.query(sql);
      // Rows are copied as the table's owner (what a trigger or default it runs may do is its owner's).
      await target.query(`SET ROLE ${quoteIdent(definition.owner)}`);
      rows += await copyTableRows(source!, target, definition);
      for (const index of definition.indexes.values()) await target.query(index);
      await target.query('RESET ROLE');
    }
    // Durable on the new group's synchronous standby before the catalog points there.
    await target.query(`BEGIN; SET LOCAL synchronous_commit = remote_apply; SELECT pg_logical_emit_message(true, 'dpg_add_group', ${quoteLiteral(group.name)}); COMMIT`);
    await control.query('BEGIN');
    await registerGroup(control, layout, group);
    for (const reference of references) await control.query('INSERT INTO dpg_catalog.placements (shardid, group_id) VALUES ($1, $2)', [reference.shardid, group.id]);
    await control.query('UPDATE dpg_catalog.reference_epoch SET epoch = epoch + 1');
    await control.query(`NOTIFY ${CATALOG_CHANNEL}`);
    await control.query('COMMIT');
    await refreshNodeRoles(control, [group]);
    const pauseMs = locked ? performance.now() - locked : 0;
    return { tables: references.length, rows, pauseMs };
  } finally {
    // Ending the lock transactions lets waiting reference writes go on (and fail their epoch check).
    for (const client of held) await client.end().catch(() => {});
    await control.end().catch(() => {});
  }
}

export interface RemoveGroupResult {
  group: GroupLayout;
  drained: RebalanceResult;
}

/**
 * Drains a worker group (by default the last; its shard groups move to the others),
 * removes it from the catalog, stops and deletes it. The other groups keep their ids and
 * ports; a later dpg add-group takes the freed id again.
 */
export async function removeGroup(config: DpgConfig, dataDir: string, options: ScaleOptions & { groupId?: number }): Promise<RemoveGroupResult> {
  const stateFile = join(dataDir, 'cluster.json');
  const state = readClusterState(stateFile);
  if (!state?.bootstrapped) throw new ClientError('55000', `no cluster in ${dataDir}: run 'npx dpg up' first`);
  const ids = workerGroupIdsOf(state)!;
  if (ids.length <= 1) throw new ClientError('55000', 'the cluster has one worker group; it cannot lose it');
  const layout = buildLayout(config, dataDir, state.nodesRoot, state.coordinators, ids);
  const groupId = options.groupId ?? ids.at(-1)!;
  const group = layout.groups.find((g) => g.id === groupId && g.kind === 'worker');
  if (!group) throw new ClientError('22023', `group ${groupId} is not a worker group of this cluster (worker groups: ${ids.join(', ')})`);
  const admin = options.admin(layout);
  const secrets = readSecrets(layout.secretsFile);
  if (!secrets) throw new ClientError('55000', `no cluster secrets in ${layout.secretsFile}`);
  options.log(`draining ${group.name}: its shards move to the other worker groups`);
  const drained = await rebalance(admin, { ...options.rebalance, drain: [group.id], maxMoves: Number.MAX_SAFE_INTEGER });
  await onPrimary(admin, 0, async (control) => {
    const left = await control.query(
      `SELECT count(*)::int AS n FROM dpg_catalog.placements p JOIN dpg_catalog.shards s USING (shardid) JOIN dpg_catalog.tables t USING (table_name)
       WHERE p.group_id = $1 AND t.kind = 'distributed'`,
      [group.id],
    );
    if (left.rows[0].n > 0) throw new ClientError('XX000', `${group.name} still holds ${left.rows[0].n} shards after draining; see SELECT * FROM citus_shards`);
    await control.query('BEGIN');
    await control.query('DELETE FROM dpg_catalog.placements WHERE group_id = $1', [group.id]);
    await control.query('DELETE FROM dpg_catalog.shard_stats WHERE group_id = $1', [group.id]);
    await control.query('DELETE FROM dpg_catalog.nodes WHERE group_id = $1', [group.id]);
    await control.query('DELETE FROM dpg_catalog.groups WHERE group_id = $1', [group.id]);
    await control.query('UPDATE dpg_catalog.reference_epoch SET epoch = epoch + 1');
    await control.query(`NOTIFY ${CATALOG_CHANNEL}`);
    await control.query('COMMIT');
  });
  options.log(`${group.name} is out of the catalog; stopping it`);
  await stopGroup(layout, group);
  // Patroni's keys of the group: a group added later under the same name must bootstrap anew.
  await deleteEtcdPrefix(layout.etcd.endpoints, `${patroniNamespace(state.clusterId)}${group.name}/`, etcdLogins(secrets).patroni);
  for (const node of group.nodes) rmSync(node.dir, { recursive: true, force: true });
  setWorkerGroupIds(state, ids.filter((g) => g !== group.id));
  writeClusterState(stateFile, state);
  return { group, drained };
}

async function stopGroup(layout: ClusterLayout, group: GroupLayout): Promise<void> {
  const names = new Set(group.nodes.map((n) => patroniProcessName(n)));
  for (const record of listProcessRecords(layout.runDir).filter((r) => names.has(r.name))) {
    if (isAlive(record.pid, record.marker)) await stopPid(record.pid, record.marker, 'SIGTERM', 30_000);
    forgetProcess(layout.runDir, record.name);
  }
  for (const node of group.nodes) {
    const pid = postmasterPid(node.pgDataDir);
    if (pid !== null && isAlive(pid, node.pgDataDir)) await stopPid(pid, node.pgDataDir, 'SIGINT', 20_000);
  }
}

/** etcd v3's JSON gateway: deleterange over a key prefix. */
async function deleteEtcdPrefix(endpoints: string[], prefix: string, login: EtcdLogin): Promise<void> {
  for (const endpoint of endpoints) {
    try {
      await etcdCall(endpoint, 'kv/deleterange', { key: b64(prefix), range_end: prefixEnd(prefix) }, await etcdToken(endpoint, login));
      return;
    } catch {
      // the next endpoint
    }
  }
  throw new ClientError('08006', `could not delete ${prefix} from etcd (${endpoints.join(', ')})`);
}
