import type { GroupPool } from '../backend/pool.ts';
import { AbortedByRecoveryError, PlacementsChangedError } from '../backend/failover.ts';
import { quoteLiteral } from '../shared/quoting.ts';

/**
 * The commit points of distributed transactions: dpg_catalog.commit_records on the
 * control group (see SessionTransaction.twoPhaseCommit and recoverPreparedTransactions).
 */
export class CommitLog {
  constructor(private readonly control: () => GroupPool) {}

  /**
   * Writes a two-phase commit's decision. With `referenceEpoch` (the transaction wrote a
   * reference table) only while that is still the catalog's epoch: else nothing is
   * written and PlacementsChangedError says why (the caller rolls the parts back).
   */
  async recordCommitDecision(gid: string, referenceEpoch: number | null = null): Promise<void> {
    const id = quoteLiteral(gid);
    const sql =
      referenceEpoch === null
        ? `INSERT INTO dpg_catalog.commit_records (gid) VALUES (${id}) ON CONFLICT (gid) DO NOTHING RETURNING gid`
        : `INSERT INTO dpg_catalog.commit_records (gid) SELECT ${id} WHERE (SELECT epoch FROM dpg_catalog.reference_epoch) = ${Number(referenceEpoch)} ON CONFLICT (gid) DO NOTHING RETURNING gid`;
    await this.control().run(async (query) => {
      if ((await query(sql)).length > 0) return;
      // Not written: a recovery loop decided first (the commit waited longer than the grace
      // period for the control group), or the reference epoch changed.
      const decided = await query(`SELECT committed FROM dpg_catalog.commit_records WHERE gid = ${id}`);
      if (decided[0]?.[0] === 't') return;
      if (decided[0]?.[0] === 'f') throw new AbortedByRecoveryError();
      throw new PlacementsChangedError();
    });
  }

  /** A one-group commit that wrote a reference table: the epoch it was routed with must still hold. */
  async checkReferenceEpoch(referenceEpoch: number): Promise<void> {
    const rows = await this.control().run((query) => query('SELECT epoch FROM dpg_catalog.reference_epoch'));
    if (Number(rows[0]?.[0] ?? 1) !== referenceEpoch) throw new PlacementsChangedError();
  }

  /** The transaction's parts are all committed: its record is no longer needed (else the recovery loop deletes it later). */
  async forgetCommitDecision(gid: string): Promise<void> {
    const pool = this.control();
    const connection = await pool.acquire().catch(() => null);
    if (!connection) return;
    try {
      await connection.simpleQuery(`DELETE FROM dpg_catalog.commit_records WHERE gid = ${quoteLiteral(gid)}`);
    } catch {
      // the recovery loop deletes it later
    } finally {
      pool.release(connection);
    }
  }
}
