import type pg from 'pg';
import { adminGroup, connectAdmin, primaryNode, type AdminContext } from './admin.ts';
import { quoteLiteral } from '../shared/quoting.ts';

/**
 * The replication objects of a move, all named after it (`dpg_move_<id>`): a
 * subscription on the target, a logical slot (and, while tables are being copied, the
 * temporary table-sync slots PostgreSQL names pg_<subscription oid>_sync_...) and a
 * publication on the source. Dropping is idempotent: a move resumed or rolled back
 * after a crash drops whatever is left.
 */
export async function dropReplicationObjects(source: pg.Client, target: pg.Client, name: string): Promise<void> {
  const subscription = await target.query<{ oid: string }>('SELECT oid::text FROM pg_subscription WHERE subname = $1', [name]);
  const subscriptionOid = subscription.rows[0]?.oid ?? null;
  if (subscriptionOid) {
    try {
      // Drops the slots on the source too, when the source is reachable.
      await target.query(`DROP SUBSCRIPTION ${name}`);
    } catch {
      // The source has no such slot (its primary changed) or cannot be reached: detach the slot, then drop.
      await target.query(`ALTER SUBSCRIPTION ${name} DISABLE`);
      await target.query(`ALTER SUBSCRIPTION ${name} SET (slot_name = NONE)`);
      await target.query(`DROP SUBSCRIPTION ${name}`);
    }
  }
  await dropSlots(source, name, subscriptionOid);
  await source.query(`DROP PUBLICATION IF EXISTS ${name}`);
}

async function dropSlots(source: pg.Client, name: string, subscriptionOid: string | null): Promise<void> {
  const pattern = subscriptionOid ? `pg\\_${subscriptionOid}\\_sync\\_%` : null;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const slots = await source.query<{ slot_name: string; active_pid: number | null }>(
      `SELECT slot_name, active_pid FROM pg_replication_slots WHERE slot_name = $1 OR ($2::text IS NOT NULL AND slot_name LIKE $2)`,
      [name, pattern],
    );
    if (slots.rows.length === 0) return;
    for (const slot of slots.rows) {
      if (slot.active_pid !== null) {
        // The walsender of a subscription that is gone lingers until it notices; it serves no one.
        await source.query('SELECT pg_terminate_backend($1)', [slot.active_pid]);
        continue;
      }
      await source.query('SELECT pg_drop_replication_slot($1)', [slot.slot_name]).catch((error) => {
        // Dropped meanwhile (42704) or taken again by a walsender about to exit (55006): looked at again below.
        if (!['42704', '55006'].includes((error as { code?: string }).code ?? '')) throw error;
      });
    }
    if (Date.now() > deadline) throw new Error(`could not drop replication slot ${name} on the source: still in use`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function preparedExists(client: pg.Client, gid: string): Promise<boolean> {
  return (await client.query(`SELECT 1 FROM pg_prepared_xacts WHERE gid = ${quoteLiteral(gid)} AND database = current_database()`)).rows.length > 0;
}

/** What moves and splits left behind on one group: replication objects, prepared cutovers, retired shard tables, split triggers. */
export async function moveDebris(client: pg.Client): Promise<string[]> {
  const found: string[] = [];
  const slots = await client.query(`SELECT slot_name FROM pg_replication_slots WHERE slot_type = 'logical'`);
  found.push(...slots.rows.map((r) => `replication slot ${r.slot_name}`));
  const publications = await client.query(`SELECT pubname FROM pg_publication WHERE pubname LIKE 'dpg\\_move\\_%'`);
  found.push(...publications.rows.map((r) => `publication ${r.pubname}`));
  const subscriptions = await client.query(`SELECT subname FROM pg_subscription WHERE subname LIKE 'dpg\\_move\\_%'`);
  found.push(...subscriptions.rows.map((r) => `subscription ${r.subname}`));
  const prepared = await client.query(`SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'dpg\\_move\\_%'`);
  found.push(...prepared.rows.map((r) => `prepared transaction ${r.gid}`));
  const retired = await client.query(`SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE 'dpg\\_retired\\_%'`);
  found.push(...retired.rows.map((r) => `retired shard table ${r.relname}`));
  const split = await client.query(`SELECT proname FROM pg_proc WHERE proname LIKE 'dpg\\_split\\_%'`);
  found.push(...split.rows.map((r) => `split trigger function ${r.proname}`));
  return found;
}

/**
 * Logical slots of moves left on the standbys of a group. PostgreSQL 15 cannot decode on
 * a standby, so such a slot is always stale: it is what a primary had when it was demoted
 * (Patroni keeps logical slots, ignore_slots) and would hold back that node's WAL for
 * good. Dropped on every standby that answers; one that does not is named in the log.
 */
export async function dropStaleStandbySlots(admin: AdminContext, groupId: number): Promise<void> {
  const primary = await primaryNode(admin, groupId);
  for (const node of adminGroup(admin, groupId).nodes.filter((n) => n.name !== primary.name)) {
    let client;
    try {
      client = await connectAdmin(admin, node);
    } catch (error) {
      admin.log(`could not reach standby ${node.name} to drop stale move slots there (${(error as Error).message}); they are dropped by the next move's cleanup`);
      continue;
    }
    try {
      const slots = await client.query(
        `SELECT slot_name FROM pg_replication_slots WHERE slot_type = 'logical' AND pg_is_in_recovery() AND (slot_name LIKE 'dpg\\_move\\_%' OR slot_name LIKE 'pg\\_%\\_sync\\_%')`,
      );
      for (const slot of slots.rows) {
        await client.query('SELECT pg_drop_replication_slot($1)', [slot.slot_name]);
        admin.log(`dropped stale replication slot ${slot.slot_name} on standby ${node.name}`);
      }
    } finally {
      await client.end().catch(() => {});
    }
  }
}
