import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type pg from 'pg';
import {
  SCRAM_MECHANISM,
  ScramClientSession,
  ScramError,
  ScramServerSession,
  makeScramVerifier,
  parseScramVerifier,
  saslPrep,
} from '../../src/protocol/scram.ts';
import { startScratchPostgres, type ScratchPostgres } from '../support/scratch-postgres.ts';

/** node-postgres' own SCRAM client (pg/lib/crypto/sasl.js), which has no type declarations. */
interface PgSaslSession {
  response: string;
}
interface PgSasl {
  startSession(mechanisms: string[], stream?: object): PgSaslSession;
  continueSession(session: PgSaslSession, password: string, serverData: string, stream?: object): Promise<void>;
  finalizeSession(session: PgSaslSession, serverData: string): void;
}
const pgSasl = createRequire(import.meta.url)('pg/lib/crypto/sasl.js') as PgSasl;

const bytes = (text: string) => Buffer.from(text, 'utf8');
const zeroKey = Buffer.alloc(32).toString('base64');

function assertScramError(action: () => unknown, sqlstate: string, message?: RegExp): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof ScramError, `expected a ScramError, got ${String(error)}`);
    assert.equal(error.sqlstate, sqlstate, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

/** Our client against our server; returns the server-final-message the client accepted. */
function exchange(clientPassword: string, verifier: string): void {
  const client = new ScramClientSession(clientPassword);
  const server = new ScramServerSession(verifier);
  const serverFirst = server.handleClientFirst(client.clientFirst());
  const clientFinal = client.handleServerFirst(serverFirst);
  client.verifyServerFinal(server.handleClientFinal(clientFinal));
}

/** node-postgres' client against our server. A `stream` makes it send the "y,," gs2 header. */
async function nodePostgresExchange(password: string, server: ScramServerSession, stream?: object): Promise<string> {
  const session = pgSasl.startSession([SCRAM_MECHANISM], stream);
  const serverFirst = server.handleClientFirst(bytes(session.response));
  await pgSasl.continueSession(session, password, serverFirst.toString(), stream);
  const serverFinal = server.handleClientFinal(bytes(session.response));
  pgSasl.finalizeSession(session, serverFinal.toString());
  return session.response;
}

describe('SCRAM-SHA-256, RFC 7677 §3 example', () => {
  const clientFirst = 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO';
  const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
  const clientFinal =
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
  const serverFinal = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

  it('the client produces the example messages', () => {
    const client = new ScramClientSession('pencil', { username: 'user', nonce: 'rOprNGfwEbeRWgbNEkqO' });
    assert.equal(client.clientFirst().toString(), clientFirst);
    assert.equal(client.handleServerFirst(bytes(serverFirst)).toString(), clientFinal);
    client.verifyServerFinal(bytes(serverFinal));
  });

  it('the server produces the example messages', () => {
    const verifier = makeScramVerifier('pencil', { salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), iterations: 4096 });
    const server = new ScramServerSession(verifier, { nonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });
    assert.equal(server.handleClientFirst(bytes(clientFirst)).toString(), serverFirst);
    assert.equal(server.handleClientFinal(bytes(clientFinal)).toString(), serverFinal);
  });
});

describe('verifiers', () => {
  it('defaults to 4096 iterations and a random 16-byte salt', () => {
    const first = parseScramVerifier(makeScramVerifier('pw'));
    const second = parseScramVerifier(makeScramVerifier('pw'));
    assert.equal(first.iterations, 4096);
    assert.equal(first.salt.length, 16);
    assert.notDeepEqual(first.salt, second.salt);
    assert.equal(first.storedKey.length, 32);
    assert.equal(first.serverKey.length, 32);
  });

  it('round-trips through parseScramVerifier, and the object form authenticates like the string', () => {
    const verifier = makeScramVerifier('pw', { iterations: 10, salt: Buffer.from('salt') });
    const parsed = parseScramVerifier(verifier);
    assert.equal(parsed.iterations, 10);
    assert.equal(parsed.salt.toString(), 'salt');
    const client = new ScramClientSession('pw');
    const server = new ScramServerSession(parsed);
    client.verifyServerFinal(server.handleClientFinal(client.handleServerFirst(server.handleClientFirst(client.clientFirst()))));
  });

  it('rejects malformed verifiers without echoing their keys', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const invalid = [
      'md5' + 'a'.repeat(32),
      `SCRAM-SHA-256$0:c2FsdA==$${key}:${key}`,
      `SCRAM-SHA-256$4096:$${key}:${key}`,
      `SCRAM-SHA-256$4096:c2F*dA==$${key}:${key}`,
      `SCRAM-SHA-256$4096:c2FsdA==$${key}:c2hvcnQ=`,
      `SCRAM-SHA-256$99999999999:c2FsdA==$${key}:${key}`,
      `SCRAM-SHA-256$4096:c2FsdA==$${key}`,
    ];
    for (const verifier of invalid) {
      assert.throws(
        () => parseScramVerifier(verifier),
        (error: Error) => /^invalid SCRAM verifier/.test(error.message) && !error.message.includes(key),
        verifier,
      );
      assert.throws(() => new ScramServerSession(verifier), /invalid SCRAM verifier/);
    }
    assert.throws(() => makeScramVerifier('pw', { iterations: 0 }), RangeError);
    assert.throws(() => makeScramVerifier(''), RangeError);
    const parsed = parseScramVerifier(makeScramVerifier('pw', { iterations: 1 }));
    assert.throws(() => new ScramServerSession({ ...parsed, storedKey: Buffer.alloc(31) }), /32 bytes/);
  });
});

describe('ScramServerSession', () => {
  const verifier = makeScramVerifier('pw', { iterations: 16 });

  /** A server that has answered client-first "n,,n=*,r=abc"; returns the combined nonce too. */
  function serverAfterClientFirst(gs2Header = 'n,,'): { server: ScramServerSession; nonce: string } {
    const server = new ScramServerSession(verifier);
    const serverFirst = server.handleClientFirst(bytes(`${gs2Header}n=*,r=abc`)).toString();
    const nonce = /^r=([^,]+),/.exec(serverFirst)![1];
    return { server, nonce };
  }

  it('answers with r=<client nonce><server nonce>,s=<salt>,i=<iterations>', () => {
    const server = new ScramServerSession(verifier);
    const serverFirst = server.handleClientFirst(bytes('n,,n=*,r=abc')).toString();
    const { salt } = parseScramVerifier(verifier);
    assert.match(serverFirst, new RegExp(`^r=abc[A-Za-z0-9+/]{24},s=${salt.toString('base64').replaceAll('+', '\\+')},i=16$`));
  });

  it('authenticates our client, and node-postgres with either gs2 header "n,," or "y,,"', async () => {
    exchange('pw', verifier);
    const withoutBinding = await nodePostgresExchange('pw', new ScramServerSession(verifier));
    assert.match(withoutBinding, /^c=biws,/);
    const clientThinksServerLacksBinding = await nodePostgresExchange('pw', new ScramServerSession(verifier), {});
    assert.match(clientThinksServerLacksBinding, /^c=eSws,/);
  });

  it('rejects a wrong password with 28P01', async () => {
    assertScramError(() => exchange('wrong', verifier), '28P01');
    await assert.rejects(nodePostgresExchange('wrong', new ScramServerSession(verifier)), (error: unknown) => {
      return error instanceof ScramError && error.sqlstate === '28P01';
    });
  });

  it('ignores the user name in client-first and optional extensions after the nonce, as PostgreSQL does', () => {
    for (const clientFirst of ['n,,n=,r=abc', 'n,,n=someone=2Celse,r=abc', 'n,,n=*,r=abc,x=ignored,y=']) {
      new ScramServerSession(verifier).handleClientFirst(bytes(clientFirst));
    }
  });

  it('accepts an unknown extension between r= and p= in client-final, covered by the proof', () => {
    const salted = pbkdf2Sync('pw', parseScramVerifier(verifier).salt, 16, 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const server = new ScramServerSession(verifier);
    const serverFirst = server.handleClientFirst(bytes('n,,n=*,r=abc')).toString();
    const withoutProof = `c=biws,${serverFirst.split(',')[0]},x=extension`;
    const authMessage = `n=*,r=abc,${serverFirst},${withoutProof}`;
    const signature = createHmac('sha256', storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]));
    const serverFinal = server.handleClientFinal(bytes(`${withoutProof},p=${proof.toString('base64')}`)).toString();
    const serverKey = createHmac('sha256', salted).update('Server Key').digest();
    assert.equal(serverFinal, `v=${createHmac('sha256', serverKey).update(authMessage).digest('base64')}`);
  });

  it('rejects malformed client-first messages with 08P01', () => {
    const cases: Array<[string, Buffer, RegExp?]> = [
      ['empty', bytes(''), /empty/],
      ['unknown channel-binding flag', bytes('x,,n=*,r=abc'), /channel-binding flag/],
      ['channel binding requested (p=)', bytes('p=tls-server-end-point,,n=*,r=abc'), /SCRAM-SHA-256-PLUS/],
      ['no comma after the flag', bytes('n;,n=*,r=abc')],
      ['authorization identity', bytes('n,a=admin,n=*,r=abc'), /authorization identity/],
      ['mandatory extension m=', bytes('n,,m=ext,n=*,r=abc'), /m=/],
      ['missing n=', bytes('n,,r=abc'), /expected attribute n=/],
      ['missing r=', bytes('n,,n=*'), /missing attribute r=/],
      ['empty nonce', bytes('n,,n=*,r='), /nonce/],
      ['nonce with a space', bytes('n,,n=*,r=a c'), /nonce/],
      ['nonce with a non-ASCII character', bytes('n,,n=*,r=abcé'), /nonce/],
      ['text that is not an attribute', bytes('n,,n=*,r=abc,garbage'), /not of the form/],
      ['an extra m= after the nonce', bytes('n,,n=*,r=abc,m=ext'), /m=/],
      ['a repeated r=', bytes('n,,n=*,r=abc,r=def'), /unexpected attribute r=/],
      ['invalid UTF-8', Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xff, 0x2c, 0x72, 0x3d, 0x61]), /UTF-8/],
      ['a NUL byte', bytes('n,,n=*,r=a\0b'), /NUL/],
      ['a byte-order mark', bytes('\ufeffn,,n=*,r=abc')],
    ];
    for (const [what, message, pattern] of cases) {
      const server = new ScramServerSession(verifier);
      assert.throws(
        () => server.handleClientFirst(message),
        (error: unknown) => error instanceof ScramError && error.sqlstate === '08P01' && (!pattern || pattern.test(error.message)),
        what,
      );
    }
  });

  it('rejects malformed client-final messages with 08P01 before looking at the proof', () => {
    const pBinding = Buffer.from('p=tls-server-end-point,,').toString('base64');
    const cases: Array<[string, (nonce: string) => string, RegExp?]> = [
      ['attributes out of order', (n) => `r=${n},c=biws,p=${zeroKey}`, /expected attribute c=/],
      ['missing r=', () => `c=biws,p=${zeroKey}`, /expected attribute r=/],
      ['missing p=', (n) => `c=biws,r=${n}`, /proof/],
      ['channel binding of "y,," after "n,,"', (n) => `c=eSws,r=${n},p=${zeroKey}`, /gs2 header "n,,"/],
      ['channel binding data (p=)', (n) => `c=${pBinding},r=${n},p=${zeroKey}`, /channel binding/],
      ['channel binding not base64', (n) => `c=bi*s,r=${n},p=${zeroKey}`, /channel binding/],
      ['a nonce other than the combined one', (n) => `c=biws,r=${n}x,p=${zeroKey}`, /nonce/],
      ['only the client nonce', () => `c=biws,r=abc,p=${zeroKey}`, /nonce/],
      ['proof not base64', (n) => `c=biws,r=${n},p=not*base64`, /base64/],
      ['proof of the wrong length', (n) => `c=biws,r=${n},p=${Buffer.alloc(16).toString('base64')}`, /32 bytes/],
      ['an attribute after p=', (n) => `c=biws,r=${n},p=${zeroKey},x=1`, /proof/],
      ['a mandatory extension m=', (n) => `c=biws,r=${n},m=ext,p=${zeroKey}`, /m=/],
      ['a repeated r=', (n) => `c=biws,r=${n},r=${n},p=${zeroKey}`, /unexpected attribute r=/],
    ];
    for (const [what, clientFinal, pattern] of cases) {
      const { server, nonce } = serverAfterClientFirst();
      assert.throws(
        () => server.handleClientFinal(bytes(clientFinal(nonce))),
        (error: unknown) => error instanceof ScramError && error.sqlstate === '08P01' && (!pattern || pattern.test(error.message)),
        what,
      );
    }
    const { server, nonce } = serverAfterClientFirst('y,,');
    assertScramError(() => server.handleClientFinal(bytes(`c=biws,r=${nonce},p=${zeroKey}`)), '08P01', /"y,,"/);
  });

  it('refuses messages out of order, and anything after a failure', () => {
    assertScramError(() => new ScramServerSession(verifier).handleClientFinal(bytes('c=biws,r=abc,p=x')), '08P01');
    const { server } = serverAfterClientFirst();
    assertScramError(() => server.handleClientFirst(bytes('n,,n=*,r=abc')), '08P01');
    const failed = serverAfterClientFirst();
    assertScramError(() => failed.server.handleClientFinal(bytes(`c=biws,r=${failed.nonce},p=${zeroKey}`)), '28P01');
    assertScramError(() => failed.server.handleClientFinal(bytes(`c=biws,r=${failed.nonce},p=${zeroKey}`)), '08P01');
  });
});

describe('ScramClientSession', () => {
  /** A client that has sent client-first with nonce "abc". */
  function clientAfterFirst(password = 'pw'): ScramClientSession {
    const client = new ScramClientSession(password, { nonce: 'abc' });
    client.clientFirst();
    return client;
  }

  it('sends "n,,n=*,r=<nonce>" with a 24-character random nonce by default', () => {
    assert.match(new ScramClientSession('pw').clientFirst().toString(), /^n,,n=\*,r=[A-Za-z0-9+/]{24}$/);
    assert.equal(new ScramClientSession('pw', { username: 'a,b=c', nonce: 'x' }).clientFirst().toString(), 'n,,n=a=2Cb=3Dc,r=x');
    assert.throws(() => new ScramClientSession('pw', { nonce: 'a,b' }), RangeError);
  });

  it('throws 28P01 on a wrong or tampered server signature, and on e=', () => {
    const verifier = makeScramVerifier('pw', { iterations: 16 });
    const client = new ScramClientSession('pw');
    const server = new ScramServerSession(verifier);
    const serverFinal = server.handleClientFinal(client.handleServerFirst(server.handleClientFirst(client.clientFirst())));
    const signature = Buffer.from(serverFinal.toString().slice(2), 'base64');
    signature[0] ^= 1;
    assertScramError(() => client.verifyServerFinal(bytes(`v=${signature.toString('base64')}`)), '28P01', /signature/);

    // A server that knows a different password signs with a different ServerKey.
    const impostor = new ScramServerSession(makeScramVerifier('other', { iterations: 16 }));
    const victim = new ScramClientSession('pw');
    const clientFinal = victim.handleServerFirst(impostor.handleClientFirst(victim.clientFirst()));
    assertScramError(() => impostor.handleClientFinal(clientFinal), '28P01');

    const rejected = clientAfterFirst();
    rejected.handleServerFirst(bytes('r=abcdef,s=c2FsdA==,i=1'));
    assertScramError(() => rejected.verifyServerFinal(bytes('e=invalid-proof')), '28P01', /invalid-proof/);
  });

  it('rejects malformed server-first messages with 08P01', () => {
    const cases: Array<[string, string, RegExp?]> = [
      ['attributes out of order', 's=c2FsdA==,r=abcdef,i=4096', /expected attribute r=/],
      ['missing i=', 'r=abcdef,s=c2FsdA==', /missing attribute i=/],
      ['zero iterations', 'r=abcdef,s=c2FsdA==,i=0', /iteration/],
      ['negative iterations', 'r=abcdef,s=c2FsdA==,i=-1', /iteration/],
      ['iterations not a number', 'r=abcdef,s=c2FsdA==,i=4096x', /iteration/],
      ['iterations beyond an int', 'r=abcdef,s=c2FsdA==,i=99999999999', /iteration/],
      ['a nonce not starting with ours', 'r=xyzdef,s=c2FsdA==,i=4096', /nonce/],
      ['a nonce with no server part', 'r=abc,s=c2FsdA==,i=4096', /nonce/],
      ['a nonce with a space', 'r=abc def,s=c2FsdA==,i=4096', /nonce/],
      ['salt not base64', 'r=abcdef,s=c2Fs*A==,i=4096', /salt/],
      ['empty salt', 'r=abcdef,s=,i=4096', /salt/],
      ['a mandatory extension m=', 'm=ext,r=abcdef,s=c2FsdA==,i=4096', /m=/],
      ['an attribute after i=', 'r=abcdef,s=c2FsdA==,i=4096,x=1', /after i=/],
      ['an error instead', 'e=other-error', /expected attribute r=/],
    ];
    for (const [what, serverFirst, pattern] of cases) {
      const client = clientAfterFirst();
      assert.throws(
        () => client.handleServerFirst(bytes(serverFirst)),
        (error: unknown) => error instanceof ScramError && error.sqlstate === '08P01' && (!pattern || pattern.test(error.message)),
        what,
      );
    }
  });

  it('rejects malformed server-final messages with 08P01', () => {
    const cases: Array<[string, string, RegExp?]> = [
      ['empty', '', /empty/],
      ['an unknown attribute', 'x=1', /expected attribute v=/],
      ['signature not base64', 'v=not*base64', /base64/],
      ['signature of the wrong length', `v=${Buffer.alloc(16).toString('base64')}`, /32 bytes/],
      ['an attribute after v=', `v=${zeroKey},x=1`, /after v=/],
    ];
    for (const [what, serverFinal, pattern] of cases) {
      const client = clientAfterFirst();
      client.handleServerFirst(bytes('r=abcdef,s=c2FsdA==,i=1'));
      assert.throws(
        () => client.verifyServerFinal(bytes(serverFinal)),
        (error: unknown) => error instanceof ScramError && error.sqlstate === '08P01' && (!pattern || pattern.test(error.message)),
        what,
      );
    }
  });

  it('refuses steps out of order', () => {
    assertScramError(() => new ScramClientSession('pw').handleServerFirst(bytes('r=abcdef,s=c2FsdA==,i=1')), '08P01');
    const client = clientAfterFirst();
    assertScramError(() => client.clientFirst(), '08P01');
    assertScramError(() => clientAfterFirst().verifyServerFinal(bytes(`v=${zeroKey}`)), '08P01');
  });
});

describe('saslPrep', () => {
  it('follows the examples of RFC 4013 §3, except that PostgreSQL passes any ASCII string through', () => {
    assert.equal(saslPrep('I\u00ADX'), 'IX');
    assert.equal(saslPrep('user'), 'user');
    assert.equal(saslPrep('USER'), 'USER');
    assert.equal(saslPrep('\u00AA'), 'a');
    assert.equal(saslPrep('\u2168'), 'IX');
    assert.equal(saslPrep('\u0007'), '\u0007'); // RFC 4013: prohibited; pg_saslprep: ASCII, unchanged
    assert.equal(saslPrep('\u0627\u0031'), null); // RandALCat first but not last
  });
});

/** Passwords whose PBKDF2 input PostgreSQL decides by SASLprep, with what saslPrep must return (null: the raw bytes). */
const NON_ASCII_PASSWORDS: Array<[string, string, string | null]> = [
  ['Latin with umlauts', 'pässwörd', 'pässwörd'],
  ['Japanese', 'パスワード', 'パスワード'],
  ['a no-break space (C.1.2, mapped to space)', 'pass\u00A0word', 'pass word'],
  ['an ideographic space', 'パス\u3000ワード', 'パス ワード'],
  ['a soft hyphen (B.1, mapped to nothing)', 'pass\u00ADwörd', 'passwörd'],
  ['a decomposed é (NFKC composes it)', 'e\u0301te\u0301', 'été'],
  ['half-width katakana (NFKC widens it)', 'ｶﾀｶﾅ', 'カタカナ'],
  ['a ligature and a Roman numeral (NFKC)', 'ﬁle\u2168', 'fileIX'],
  ['Hebrew words around a space', 'שלום\u00A0עולם', 'שלום עולם'],
  ['only a soft hyphen (empty after mapping)', '\u00AD', null],
  ['an emoji (unassigned in Unicode 3.2)', 'key🔑\u00A0é', null],
  ['a private-use character (C.3)', 'pw\uE000\u00A0é', null],
  ['Hebrew mixed with Latin (bidi rule)', 'שalom\u00A0', null],
  ['a control character among non-ASCII ones (C.2.1)', 'tab\there\u00A0é', null],
  ['an ASCII control character alone', 'tab\there', 'tab\there'],
];

/** First and last code points of ranges in tables A.1, B.1, C.*, D.1 and D.2, and their neighbours. */
const TABLE_EDGES = [
  // A.1 unassigned in Unicode 3.2
  0x220, 0x221, 0x222, 0x233, 0x234, 0x24f, 0x250, 0x560, 0x7b2, 0x900, 0x18aa, 0x1dff, 0x2b00, 0x2e7f, 0x4db6,
  0x9fa6, 0xffef, 0x10000, 0x1d7ca, 0x1d800, 0x2a6d7, 0xe0080, 0xefffd,
  // C.* prohibited output
  0x7f, 0xa1, 0x340, 0x342, 0x6dd, 0x180e, 0x2028, 0x202e, 0x2063, 0x2064, 0x206a, 0x2ff0, 0x2ffb, 0xe000, 0xf8ff,
  0xf900, 0xfdd0, 0xfdef, 0xfff9, 0xfffd, 0x1d173, 0xe0001, 0xe0020, 0xf0000, 0x10fffd,
  // D.1 right-to-left, D.2 left-to-right
  0x5be, 0x5bf, 0x5d0, 0x5ea, 0x621, 0x200f, 0xfb1d, 0xfefc, 0xfefd, 0x41, 0xaa, 0x903, 0x3005, 0xac00, 0xd7a3,
  0x1d400, 0x20000, 0x2a6d6,
  // B.1 mapped to nothing, C.1.2 non-ASCII spaces
  0x34f, 0x1806, 0x180b, 0x200b, 0x200c, 0x2060, 0xfe00, 0xfeff, 0x1680, 0x3000,
];

describe('against a real PostgreSQL 15', () => {
  let postgres: ScratchPostgres;
  let admin: pg.Client;

  before(async () => {
    postgres = await startScratchPostgres();
    admin = await postgres.client();
    await admin.query("SET password_encryption = 'scram-sha-256'");
    await admin.query("CREATE ROLE scram_user LOGIN PASSWORD 'placeholder'");
  });

  after(async () => {
    await admin?.end();
    await postgres?.stop();
  });

  async function postgresVerifier(password: string): Promise<string> {
    await admin.query(`ALTER ROLE scram_user PASSWORD ${admin.escapeLiteral(password)}`);
    const { rows } = await admin.query("SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_user'");
    return rows[0].rolpassword as string;
  }

  it("parses PostgreSQL's verifier and reproduces it from the same salt and iteration count", async () => {
    const verifier = await postgresVerifier('correct horse battery staple');
    const parsed = parseScramVerifier(verifier);
    assert.equal(parsed.iterations, 4096);
    assert.equal(parsed.salt.length, 16);
    assert.equal(makeScramVerifier('correct horse battery staple', { iterations: parsed.iterations, salt: parsed.salt }), verifier);
  });

  it('hashes non-ASCII passwords as PostgreSQL does, SASLprep and raw-bytes fallback alike', async () => {
    for (const [what, password, prepared] of NON_ASCII_PASSWORDS) {
      assert.equal(saslPrep(password), prepared, what);
      const verifier = await postgresVerifier(password);
      const { iterations, salt } = parseScramVerifier(verifier);
      assert.equal(makeScramVerifier(password, { iterations, salt }), verifier, what);
    }
  });

  it('agrees with PostgreSQL at the edges of the RFC 3454 tables', async () => {
    // Each code point goes between characters that make any refusal visible: after é the no-break
    // space is mapped only if nothing is prohibited, unassigned or right-to-left; between Hebrew
    // letters only if nothing is left-to-right.
    for (const codePoint of TABLE_EDGES) {
      const character = String.fromCodePoint(codePoint);
      for (const password of [`é${character}\u00A0`, `\u05D0${character}\u00A0\u05D0`]) {
        const verifier = await postgresVerifier(password);
        const { iterations, salt } = parseScramVerifier(verifier);
        assert.equal(makeScramVerifier(password, { iterations, salt }), verifier, `U+${codePoint.toString(16)}`);
      }
    }
  });

  it("authenticates our client and node-postgres' against a server session built from PostgreSQL's verifier", async () => {
    for (const password of ['correct horse battery staple', 'pässwörd\u00A0パスワード']) {
      const verifier = await postgresVerifier(password);
      exchange(password, verifier);
      await nodePostgresExchange(password, new ScramServerSession(verifier));
      assertScramError(() => exchange(password + 'x', verifier), '28P01');
    }
  });

  it('our client authenticates to PostgreSQL itself once pg_hba.conf requires scram-sha-256', async () => {
    await requireScramForNonSuperusers(admin);
    const deadline = Date.now() + 10_000;
    await postgresVerifier('pw');
    while (!(await authenticateOverWire(postgres.port, 'scram_user', 'pw')).requests.includes(10)) {
      assert.ok(Date.now() < deadline, 'pg_hba.conf reload did not take effect');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const passwords = ['correct horse battery staple', ...NON_ASCII_PASSWORDS.map(([, password]) => password)];
    for (const password of passwords) {
      await postgresVerifier(password);
      const outcome = await authenticateOverWire(postgres.port, 'scram_user', password);
      assert.deepEqual(outcome, { requests: [10, 11, 12, 0], error: undefined }, JSON.stringify(password));
    }

    await postgresVerifier('pw');
    const wrong = await authenticateOverWire(postgres.port, 'scram_user', 'not pw');
    assert.deepEqual(wrong.requests, [10, 11]);
    assert.equal(wrong.error?.sqlstate, '28P01');
  });
});

/** The scratch server trusts everyone; keep that for postgres and make everyone else use SCRAM. */
async function requireScramForNonSuperusers(admin: pg.Client): Promise<void> {
  const { rows } = await admin.query('SHOW hba_file');
  const lines = ['local all all trust', 'host all postgres 127.0.0.1/32 trust', 'host all all 127.0.0.1/32 scram-sha-256'];
  const values = lines.map((line) => `(${admin.escapeLiteral(line)})`).join(', ');
  await admin.query(`COPY (VALUES ${values}) TO ${admin.escapeLiteral(rows[0].hba_file as string)}`);
  await admin.query('SELECT pg_reload_conf()');
}

interface WireOutcome {
  /** The Authentication request codes received: 0 Ok, 10 SASL, 11 SASLContinue, 12 SASLFinal. */
  requests: number[];
  error: { sqlstate: string; message: string } | undefined;
}

/**
 * A minimal frontend, just enough to authenticate with ScramClientSession:
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
async function authenticateOverWire(port: number, user: string, password: string): Promise<WireOutcome> {
  const scram = new ScramClientSession(password);
  const socket = connect(port, '127.0.0.1');
  const nextMessage = messageReader(socket);
  const parameters = Buffer.from(`user\0${user}\0database\0postgres\0\0`);
  const startup = Buffer.alloc(8);
  startup.writeInt32BE(8 + parameters.length, 0);
  startup.writeInt32BE(196608, 4); // protocol 3.0
  socket.write(Buffer.concat([startup, parameters]));
  const requests: number[] = [];
  try {
    for (;;) {
      const { type, body } = await nextMessage();
      if (type === 'E') return { requests, error: errorFields(body) };
      if (type === 'Z') return { requests, error: undefined };
      if (type !== 'R') continue;
      const request = body.readInt32BE(0);
      const data = body.subarray(4);
      requests.push(request);
      if (request === 10) {
        assert.ok(data.toString().split('\0').includes(SCRAM_MECHANISM));
        const clientFirst = scram.clientFirst();
        const length = Buffer.alloc(4);
        length.writeInt32BE(clientFirst.length, 0);
        socket.write(frame('p', Buffer.concat([Buffer.from(`${SCRAM_MECHANISM}\0`), length, clientFirst])));
      } else if (request === 11) {
        socket.write(frame('p', scram.handleServerFirst(data)));
      } else if (request === 12) {
        scram.verifyServerFinal(data);
      } else if (request !== 0) {
        throw new Error(`unexpected authentication request ${request}`);
      }
    }
  } finally {
    socket.end(frame('X', Buffer.alloc(0)));
  }
}

function frame(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
}

function errorFields(body: Buffer): { sqlstate: string; message: string } {
  const fields = new Map<string, string>();
  for (let offset = 0; body[offset] !== 0; ) {
    const end = body.indexOf(0, offset + 1);
    fields.set(String.fromCharCode(body[offset]), body.toString('utf8', offset + 1, end));
    offset = end + 1;
  }
  return { sqlstate: fields.get('C') ?? '', message: fields.get('M') ?? '' };
}

function messageReader(socket: Socket): () => Promise<{ type: string; body: Buffer }> {
  let buffered = Buffer.alloc(0);
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    wake?.();
  });
  socket.on('error', (error) => {
    failure = error;
    wake?.();
  });
  socket.on('close', () => {
    failure ??= new Error('connection closed');
    wake?.();
  });
  return async () => {
    for (;;) {
      if (buffered.length >= 5) {
        const length = buffered.readInt32BE(1);
        if (buffered.length >= 1 + length) {
          const message = { type: String.fromCharCode(buffered[0]), body: buffered.subarray(5, 1 + length) };
          buffered = buffered.subarray(1 + length);
          return message;
        }
      }
      if (failure) throw failure;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  };
}
