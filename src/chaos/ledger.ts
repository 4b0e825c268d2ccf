import pg from 'pg';

/**
 * What the client was told about one write (a row, or a transaction of rows on
 * several worker groups): acknowledged (COMMIT or the statement succeeded), failed
 * (an error that says it did not happen), or unknown (08007, or the connection to
 * the coordinator broke before an answer).
 */
export type Outcome = 'acknowledged' | 'failed' | 'unknown';

export interface LedgerEntry {
  id: number;
  /** (namespace, key) of every row the write inserts. */
  rows: { namespace: string; key: string }[];
  outcome: Outcome;
  /** performance.now() when the answer came. */
  at: number;
  error?: string;
}

export interface LoadOptions {
  url: string;
  /** Namespaces to write (spread over worker groups); a transaction writes one row to each of two. */
  namespaces: string[];
  writers: number;
  readers: number;
  /** Each write is a BEGIN ... COMMIT of two rows on two namespaces (two groups: two-phase commit). */
  transactions: boolean;
  table: string;
}

export interface LoadReport {
  entries: LedgerEntry[];
  reads: number;
  readErrors: string[];
  /** performance.now() of every acknowledged write, in order. */
  acknowledgedAt: number[];
}

/** The client-side verdict on an error: only an answer from the server that says "not done" is a failure. */
export function outcomeOf(error: unknown): Outcome {
  const code = (error as { code?: string }).code;
  // No SQLSTATE: the connection to the coordinator broke (a coordinator killed): unknown.
  // 08007 is dpg's own "outcome unknown"; any other answer (08006: the block was lost and
  // rolled back, 08001: no worker was reached, 53300, ...) says the write did not happen.
  if (!code || code === '08007' || code === '57P01' || code === '57P02') return 'unknown';
  return 'failed';
}

/**
 * A bounded read/write load that keeps a ledger of every write and what its client
 * was told. Connections that break are replaced (a client reconnecting through HAProxy).
 */
export class ChaosLoad {
  private stopped = false;
  private nextId = 0;
  private readonly report: LoadReport = { entries: [], reads: 0, readErrors: [], acknowledgedAt: [] };
  private running: Promise<void> | null = null;

  constructor(private readonly options: LoadOptions) {}

  start(): void {
    const loops = [
      ...Array.from({ length: this.options.writers }, (_, i) => this.loop(i, true)),
      ...Array.from({ length: this.options.readers }, (_, i) => this.loop(i, false)),
    ];
    this.running = Promise.all(loops).then(() => undefined);
  }

  async stop(): Promise<LoadReport> {
    this.stopped = true;
    await this.running;
    return this.report;
  }

  private async connect(): Promise<pg.Client | null> {
    while (!this.stopped) {
      const client = new pg.Client({ connectionString: this.options.url, connectionTimeoutMillis: 5000 });
      client.on('error', () => {});
      try {
        await client.connect();
        return client;
      } catch {
        await client.end().catch(() => {});
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return null;
  }

  private async loop(index: number, writer: boolean): Promise<void> {
    let client: pg.Client | null = null;
    let turn = index;
    while (!this.stopped) {
      client ??= await this.connect();
      if (!client) return;
      const broken = writer ? await this.write(client, turn++) : await this.read(client, turn++);
      if (broken) {
        await client.end().catch(() => {});
        client = null;
      }
    }
    await client?.end().catch(() => {});
  }

  /** One write; true when the connection is unusable afterwards. */
  private async write(client: pg.Client, turn: number): Promise<boolean> {
    const { namespaces, table } = this.options;
    const id = this.nextId++;
    const first = namespaces[turn % namespaces.length]!;
    const rows = this.options.transactions
      ? [{ namespace: first, key: `t${id}-a` }, { namespace: namespaces[(turn + 1) % namespaces.length]!, key: `t${id}-b` }]
      : [{ namespace: first, key: `w${id}` }];
    const entry: LedgerEntry = { id, rows, outcome: 'unknown', at: 0 };
    this.report.entries.push(entry);
    const insert = `INSERT INTO ${table} (namespace, key, value) VALUES ($1, $2, $3)`;
    try {
      if (this.options.transactions) {
        await client.query('BEGIN');
        for (const row of rows) await client.query(insert, [row.namespace, row.key, 'chaos']);
        await client.query('COMMIT');
      } else {
        await client.query(insert, [rows[0]!.namespace, rows[0]!.key, 'chaos']);
      }
      entry.outcome = 'acknowledged';
      entry.at = performance.now();
      this.report.acknowledgedAt.push(entry.at);
      return false;
    } catch (error) {
      entry.at = performance.now();
      entry.error = `${(error as { code?: string }).code ?? 'no SQLSTATE'}: ${(error as Error).message}`;
      // A transaction that failed before COMMIT was rolled back: definitely not applied.
      entry.outcome = outcomeOf(error);
      if (this.options.transactions) await client.query('ROLLBACK').catch(() => {});
      return !(error as { code?: string }).code;
    }
  }

  private async read(client: pg.Client, turn: number): Promise<boolean> {
    const namespace = this.options.namespaces[turn % this.options.namespaces.length]!;
    try {
      await client.query(`SELECT count(*) FROM ${this.options.table} WHERE namespace = $1`, [namespace]);
      this.report.reads++;
      return false;
    } catch (error) {
      const code = (error as { code?: string }).code;
      this.report.readErrors.push(`${code ?? 'no SQLSTATE'}: ${(error as Error).message}`);
      return !code;
    }
  }
}

export interface Verdict {
  acknowledged: number;
  failed: number;
  unknown: number;
  /** Acknowledged writes missing afterwards (goal: 0). */
  lost: number;
  /** Writes the client was told failed that are there anyway (goal: 0). */
  phantom: number;
  /** Transactions with some rows present and some not (goal: 0). */
  torn: number;
  examples: string[];
}

/** Checks the ledger against the table, read through the coordinator once the cluster is whole again. */
export async function verifyLedger(url: string, table: string, entries: LedgerEntry[]): Promise<Verdict> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let present: Set<string>;
  try {
    const namespaces = [...new Set(entries.flatMap((e) => e.rows.map((r) => r.namespace)))];
    const result = await client.query<{ namespace: string; key: string }>(`SELECT namespace, key FROM ${table} WHERE namespace = ANY($1)`, [namespaces]);
    present = new Set(result.rows.map((r) => `${r.namespace}\u0000${r.key}`));
  } finally {
    await client.end();
  }
  const verdict: Verdict = { acknowledged: 0, failed: 0, unknown: 0, lost: 0, phantom: 0, torn: 0, examples: [] };
  for (const entry of entries) {
    verdict[entry.outcome]++;
    const found = entry.rows.filter((r) => present.has(`${r.namespace}\u0000${r.key}`)).length;
    if (found > 0 && found < entry.rows.length) {
      verdict.torn++;
      verdict.examples.push(`torn: write ${entry.id} (${entry.outcome}) has ${found} of ${entry.rows.length} rows`);
    } else if (entry.outcome === 'acknowledged' && found === 0) {
      verdict.lost++;
      verdict.examples.push(`lost: write ${entry.id} was acknowledged`);
    } else if (entry.outcome === 'failed' && found > 0) {
      verdict.phantom++;
      verdict.examples.push(`phantom: write ${entry.id} failed (${entry.error}) but is there`);
    }
  }
  verdict.examples = verdict.examples.slice(0, 10);
  return verdict;
}

/** The longest stretch without an acknowledged write between `from` and `to` (ms): how long writes stopped. */
export function longestWriteGap(acknowledgedAt: number[], from: number, to: number): number {
  let last = from;
  let longest = 0;
  for (const at of acknowledgedAt) {
    if (at < from) continue;
    if (at > to) break;
    longest = Math.max(longest, at - last);
    last = at;
  }
  return Math.max(longest, to - last);
}
