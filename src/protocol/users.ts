import { randomBytes } from 'node:crypto';
import { makeScramVerifier, mockScramVerifier, scramSaltFor, type ScramVerifier } from './scram.ts';

/** A client user as config names it. */
export interface ClientUser {
  name: string;
  /** What the client gives the coordinator (kept only as a SCRAM verifier). */
  password: string;
  /** What its role logs in to the nodes with: the coordinator runs each client's statements as its own role. */
  nodePassword: string;
  admin?: boolean;
  namespaces?: string[] | null;
}

/**
 * The cluster's client users: their SCRAM verifiers (salts derived from a secret every
 * coordinator shares and the user name, so known and unknown users look alike across
 * coordinators), their node passwords, and what config allows them.
 */
export class UserDirectory {
  private readonly users = new Map<string, ClientUser>();
  private readonly verifiers = new Map<string, string>();
  private readonly secret: string;

  /** `scramSecret` absent: a random one (a single coordinator). */
  constructor(users: readonly ClientUser[], scramSecret?: string) {
    this.secret = scramSecret ?? randomBytes(32).toString('base64');
    for (const user of users) {
      this.users.set(user.name, user);
      this.verifiers.set(user.name, makeScramVerifier(user.password, { salt: scramSaltFor(user.name, this.secret) }));
    }
  }

  verifierFor(user: string): string | null {
    return this.verifiers.get(user) ?? null;
  }

  /** What an unknown user is authenticated against: the salt a real user of that name would get, keys no one can prove. */
  mockVerifierFor(user: string): ScramVerifier {
    return mockScramVerifier(user, this.secret);
  }

  /** The node password of a client role; null for a role the config does not name. */
  nodePasswordOf(role: string): string | null {
    return this.users.get(role)?.nodePassword ?? null;
  }

  /** May `user` run the rebalancer's and moves' functions (config users[].admin)? */
  isAdmin(user: string): boolean {
    return this.users.get(user)?.admin === true;
  }

  /** Some user has a namespaces: allow-list: new shards get dpg's row-level security policy. */
  get namespaceIsolation(): boolean {
    return [...this.users.values()].some((u) => u.namespaces != null);
  }
}
