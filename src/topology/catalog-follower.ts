import pg from 'pg';
import { pgSslOption, type BackendTarget } from '../backend/backend-connection.ts';
import { ClientError } from '../shared/errors.ts';
import type { Logger } from '../shared/log.ts';
import { readCatalogSnapshot, CATALOG_CHANNEL } from './catalog-reader.ts';
import type { CatalogSnapshot } from './snapshot.ts';

/** The coordinators' channel for "a write could not invalidate the result cache" (see cacheInvalidationFailed). */
const CACHE_SUSPECT_CHANNEL = 'dpg_cache_suspect';

export interface CatalogFollowerOptions {
  /** The control group's primary, as the coordinator's own role (it moves on failover). */
  target(): Promise<BackendTarget>;
  /** A snapshot is about to be published: what statements will be routed by must exist first (a new group's pool and type map). */
  beforePublish(snapshot: CatalogSnapshot): Promise<void>;
  /** Another coordinator could not invalidate a write in the result cache. */
  cacheSuspect(): void;
  /** This coordinator changed the catalog (after the reload). */
  afterChange(): void;
  logger: Logger;
}

/**
 * The catalog snapshot, kept current through LISTEN on the control group's primary: a
 * NOTIFY from any coordinator reloads it; a lost connection is made again (every
 * second until it works), and the snapshot is read again then, covering what was
 * notified meanwhile.
 */
export class CatalogFollower {
  snapshot!: CatalogSnapshot;
  /** Parameters reported to clients at startup, taken from the control group's primary. */
  serverParameters = new Map<string, string>();
  private listener: pg.Client | null = null;
  private version = 0;
  private reconnecting = false;
  /** When the listener was last lost (0: never). */
  private lostAt = 0;
  private stopping = false;
  private reloading: Promise<void> | null = null;
  private reloadAgain = false;

  constructor(private readonly options: CatalogFollowerOptions) {}

  get loaded(): boolean {
    return this.snapshot !== undefined;
  }

  /** Connected now, or lost for less than `ms` (a failover of the control group). */
  connectedWithin(ms: number): boolean {
    return this.listener !== null || Date.now() - this.lostAt <= ms;
  }

  async start(): Promise<void> {
    const target = await this.options.target();
    const client = new pg.Client({ host: target.host, port: target.port, user: target.user, password: target.password, database: target.database, application_name: 'dpg-coordinator-catalog', ...pgSslOption(target) });
    const lost = (why: string) => {
      if (this.listener !== client) return;
      this.options.logger.warn(`catalog connection lost: ${why}; reconnecting`);
      this.listener = null;
      this.lostAt = Date.now();
      this.scheduleReconnect(200);
    };
    client.on('error', (error) => lost(error.message));
    client.on('end', () => lost('closed by the server'));
    try {
      await client.connect();
      client.on('notification', (message) => {
        if (message.channel === CACHE_SUSPECT_CHANNEL) this.options.cacheSuspect();
        else void this.reload(client);
      });
      await client.query(`LISTEN ${CATALOG_CHANNEL}; LISTEN ${CACHE_SUSPECT_CHANNEL}`);
      const settings = await client.query<{ name: string; setting: string }>(
        `SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'server_encoding', 'DateStyle', 'IntervalStyle', 'integer_datetimes', 'TimeZone', 'standard_conforming_strings')`,
      );
      this.serverParameters = new Map(settings.rows.map((r) => [r.name, r.setting]));
      this.listener = client;
      // NOTIFYs sent while no listener was connected are covered by reading the catalog now.
      await this.reload(client);
    } catch (error) {
      if (this.listener === client) this.listener = null;
      await client.end().catch(() => {});
      throw error;
    }
  }

  /** The control group has a new primary: LISTEN there (the old one, if alive, is no longer told of changes). */
  reconnect(): void {
    const old = this.listener;
    this.listener = null;
    this.lostAt = Date.now();
    void old?.end().catch(() => {});
    this.scheduleReconnect(0);
  }

  /** Reads the catalog again (after a change another coordinator or a DDL statement made). */
  async reload(client: pg.Client | null = this.listener): Promise<void> {
    if (!client) return;
    if (this.reloading) {
      // A reload already running may have read the catalog before the change we were told of.
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        const snapshot = await readCatalogSnapshot(client, ++this.version);
        await this.options.beforePublish(snapshot);
        this.snapshot = snapshot;
      } while (this.reloadAgain);
    })().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  /**
   * After this coordinator changed the catalog: tell the others (NOTIFY on the control
   * group) and reload its own snapshot. The NOTIFY is sent on its own, after the change
   * committed: PostgreSQL cannot PREPARE a transaction that ran NOTIFY.
   */
  async changed(): Promise<void> {
    await this.listener?.query(`NOTIFY ${CATALOG_CHANNEL}`).catch((error) => this.options.logger.warn(`catalog NOTIFY failed: ${(error as Error).message}`));
    await this.reload();
    this.options.afterChange();
  }

  /**
   * A write's result-cache invalidation did not reach Redis: every coordinator is told,
   * through the control group (NOTIFY on dpg's own channel), to bypass its cache until
   * the epoch is bumped. Throws when that fails too: the write must not be acknowledged
   * as if every coordinator would see it.
   */
  async cacheInvalidationFailed(failForTest = false): Promise<void> {
    const listener = this.listener;
    try {
      if (failForTest) throw new Error('fault injection');
      if (!listener) throw new Error('no connection to the control group');
      await listener.query(`NOTIFY ${CACHE_SUSPECT_CHANNEL}`);
    } catch (error) {
      throw new ClientError(
        '58000',
        `the write was committed, but the result cache could not be invalidated (Redis: unreachable; control group: ${(error as Error).message}): other coordinators may answer reads of it from before the write for up to cache.ttl_seconds`,
      );
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => {});
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.reconnecting || this.stopping) return;
    this.reconnecting = true;
    setTimeout(() => {
      this.start().then(
        () => {
          this.reconnecting = false;
        },
        (error) => {
          this.options.logger.warn(`catalog reconnect failed: ${(error as Error).message}; trying again`);
          this.reconnecting = false;
          this.scheduleReconnect(1000);
        },
      );
    }, delayMs).unref();
  }
}
