import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { ExecutorHost } from '../executor/host.ts';
import type { ScramVerifier } from '../protocol/scram.ts';
import type { UserDirectory } from '../protocol/users.ts';
import { ClientError, SqlState } from '../shared/errors.ts';
import type { Logger } from '../shared/log.ts';
import { ClientSession, type SessionHost } from './client-session.ts';
import { PROCESS_SLOTS, type ProcessGroupMember } from './process-group.ts';

export interface FrontendOptions {
  host: string;
  port: number;
  database: string;
  maxClients: number;
  /** A connection not authenticated this long after it opened is closed (PostgreSQL's authentication_timeout). */
  authenticationTimeoutMs: number;
  /** TLS on the client endpoint (PEM certificate and key); absent: SSLRequest is answered 'N'. `required`: cleartext clients get 28000. */
  tls?: { cert: Buffer; key: Buffer; required: boolean };
  /** One process of the host's group: client slots and cancels go through the group. */
  group?: ProcessGroupMember;
  users: UserDirectory;
  /** Parameters reported to clients at startup (the control group's primary's). */
  serverParameters(): ReadonlyMap<string, string>;
  /** A closed session gave its node connections back: what it left on them is reset now. */
  sessionReleased(processId: number): void;
  logger: Logger;
}

/**
 * The client endpoint: the listener, the sessions with their cancel keys, and the
 * client slots (max_client_connections), which only authenticated sessions take.
 */
export class ClientFrontend implements SessionHost {
  readonly database: string;
  readonly maxClients: number;
  /**
   * Connections still in startup or authentication, oldest first. They do not take the
   * client slots; past this many the oldest is closed, so idle sockets cannot lock real
   * clients out, and what they hold is bounded (one startup packet or SASL message each).
   */
  readonly maxUnauthenticated: number;
  readonly authenticationTimeoutMs: number;
  readonly tlsContext: SecureContext | null;
  readonly tlsRequired: boolean;
  readonly logger: Logger;
  private readonly unauthenticated = new Set<ClientSession>();
  private readonly sessions = new Map<number, ClientSession>();
  private authenticatedCount = 0;
  /** The next BackendKeyData process id is slot + PROCESS_SLOTS x this (see process-group.ts). */
  private nextProcessKey = 1;
  private server: Server | null = null;

  constructor(
    readonly execution: ExecutorHost,
    private readonly options: FrontendOptions,
  ) {
    this.database = options.database;
    this.maxClients = options.maxClients;
    this.maxUnauthenticated = Math.max(100, options.maxClients);
    this.authenticationTimeoutMs = options.authenticationTimeoutMs;
    this.tlsContext = options.tls ? createSecureContext({ cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' }) : null;
    this.tlsRequired = options.tls?.required ?? false;
    this.logger = options.logger;
  }

  async listen(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
  }

  /** Stops accepting and closes every session. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    for (const session of this.sessions.values()) session.close();
  }

  verifierFor(user: string): string | null {
    return this.options.users.verifierFor(user);
  }

  mockVerifierFor(user: string): ScramVerifier {
    return this.options.users.mockVerifierFor(user);
  }

  parameterStatus(startup: Record<string, string>): [string, string][] {
    const parameters = new Map(this.options.serverParameters());
    parameters.set('client_encoding', 'UTF8');
    parameters.set('application_name', startup.application_name ?? '');
    parameters.set('is_superuser', 'off');
    parameters.set('session_authorization', startup.user ?? '');
    parameters.set('in_hot_standby', 'off');
    return [...parameters];
  }

  /** Authenticated client sessions: what takes the maxClients slots. */
  sessionCount(): number {
    return this.authenticatedCount;
  }

  /**
   * A session passed authentication: it takes a client slot, or gets 53300 when none is
   * free (checked here, after authentication, so that sockets that never authenticate
   * cannot take the slots).
   */
  async sessionAuthenticated(session: ClientSession): Promise<boolean> {
    if (!this.unauthenticated.has(session)) return false;
    if (this.authenticatedCount >= this.maxClients) {
      this.logger.info({ session: session.processId, sessions: this.authenticatedCount }, 'client slots: all taken in this process');
      return false;
    }
    // In a group the host's slots are counted by the primary: ask it for one.
    if (this.options.group && !(await this.options.group.acquireSlot())) {
      this.logger.info({ session: session.processId, sessions: this.authenticatedCount }, 'client slots: the process group has none free');
      return false;
    }
    if (!this.unauthenticated.delete(session)) {
      // Closed while the primary was asked.
      this.options.group?.releaseSlot();
      return false;
    }
    this.authenticatedCount++;
    return true;
  }

  sessionClosed(session: ClientSession, authenticated: boolean): void {
    this.sessions.delete(session.processId);
    this.unauthenticated.delete(session);
    if (authenticated) {
      this.authenticatedCount--;
      this.options.group?.releaseSlot();
    }
  }

  sessionReleased(processId: number): void {
    this.options.sessionReleased(processId);
  }

  cancel(processId: number, secretKey: number): void {
    const group = this.options.group;
    if (group && processId % PROCESS_SLOTS !== group.index) return group.forwardCancel(processId, secretKey);
    const session = this.sessions.get(processId);
    // Keys travel as Int32; compare them as unsigned, however the client read them.
    if (session && session.secretKey >>> 0 === secretKey >>> 0) session.cancel();
  }

  private accept(socket: Socket): void {
    const processId = this.newProcessId();
    const session = new ClientSession(socket, this, processId);
    this.sessions.set(processId, session);
    this.unauthenticated.add(session);
    if (this.unauthenticated.size > this.maxUnauthenticated) {
      // The oldest gives way (a socket left idle must not lock new clients out), with the
      // answer PostgreSQL gives past its connection limit, not a silent close.
      const oldest = this.unauthenticated.values().next().value as ClientSession;
      oldest.fatal(new ClientError(SqlState.tooManyConnections, `sorry, too many clients already (${this.maxUnauthenticated} connections are starting up at once: the oldest gives way)`));
    }
  }

  /**
   * A process id for BackendKeyData: positive Int32, unique among this process's sessions,
   * and in a group ≡ the process's index (mod PROCESS_SLOTS), so any process can tell whose
   * a CancelRequest is.
   */
  private newProcessId(): number {
    const slots = this.options.group ? PROCESS_SLOTS : 1;
    const index = this.options.group?.index ?? 0;
    for (;;) {
      if (this.nextProcessKey * slots + index > 0x7fffffff) this.nextProcessKey = 1;
      const processId = this.nextProcessKey++ * slots + index;
      if (!this.sessions.has(processId)) return processId;
    }
  }
}
