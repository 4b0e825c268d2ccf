/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it, both sides, without channel
 * binding: https://www.postgresql.org/docs/current/sasl-authentication.html
 *
 * Pure: no sockets. The caller moves the payloads in and out of the SASLInitialResponse,
 * SASLResponse and AuthenticationSASLContinue/Final messages.
 *
 * Each side parses its peer's messages the way PostgreSQL's own code does
 * (src/backend/libpq/auth-scram.c for the server, src/interfaces/libpq/fe-auth-scram.c for
 * the client): the server accepts and ignores optional extensions after the nonce
 * (RFC 5802 §7 says unknown ones MUST be ignored), the client accepts nothing beyond r,s,i
 * and v. The reserved mandatory-extension attribute m= is refused everywhere.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';

/** '28P01' invalid_password for a wrong proof or signature, '08P01' protocol_violation for a malformed message. */
export class ScramError extends Error {
  readonly sqlstate: string;
  constructor(sqlstate: string, message: string) {
    super(message);
    this.name = 'ScramError';
    this.sqlstate = sqlstate;
  }
}

export interface ScramVerifier {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** PostgreSQL's defaults: SCRAM_SHA_256_DEFAULT_ITERATIONS and SCRAM_DEFAULT_SALT_LEN. */
const DEFAULT_ITERATIONS = 4096;
const DEFAULT_SALT_LENGTH = 16;
/** PostgreSQL keeps the iteration count in an int. */
const MAX_ITERATIONS = 2 ** 31 - 1;
/** SCRAM_RAW_NONCE_LEN in PostgreSQL: 18 random bytes, 24 characters of base64. */
const RAW_NONCE_LENGTH = 18;
const KEY_LENGTH = 32;
/** Attribute names RFC 5802 defines; an extension may not reuse one. */
const RFC_5802_ATTRIBUTES = new Set(['a', 'n', 'm', 'r', 'c', 's', 'i', 'p', 'v', 'e']);

function malformed(message: string): ScramError {
  return new ScramError('08P01', `malformed SCRAM message: ${message}`);
}

// ---------------------------------------------------------------------------------------
// Verifiers, in pg_authid.rolpassword's format
// ---------------------------------------------------------------------------------------

/**
 * The salt of `user`'s verifier: derived from a secret every coordinator of a cluster
 * shares and the user name, so that a user's salt is the same on every coordinator and
 * on every attempt, whether the user exists or not. PostgreSQL does the same for unknown
 * users (scram_mock_salt() in auth-scram.c: a hash of a nonce and the user name), so the
 * server-first-message does not tell which user names exist.
 */
export function scramSaltFor(user: string, clusterSecret: string): Buffer {
  return createHmac('sha256', clusterSecret).update(`scram-salt\0${user}`).digest().subarray(0, DEFAULT_SALT_LENGTH);
}

/**
 * A verifier for a user that does not exist: the salt a real one would have, keys nobody
 * can prove. Built without PBKDF2, so an unknown user name costs the server no more
 * than a known one.
 */
export function mockScramVerifier(user: string, clusterSecret: string): ScramVerifier {
  return { iterations: DEFAULT_ITERATIONS, salt: scramSaltFor(user, clusterSecret), storedKey: randomBytes(KEY_LENGTH), serverKey: randomBytes(KEY_LENGTH) };
}

/** A stored verifier in PostgreSQL's pg_authid format: SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64> */
export function makeScramVerifier(password: string, options: { iterations?: number; salt?: Buffer } = {}): string {
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  const salt = options.salt ?? randomBytes(DEFAULT_SALT_LENGTH);
  checkIterations(iterations);
  if (salt.length === 0) throw new RangeError('SCRAM salt must not be empty');
  // PostgreSQL refuses to store an empty password ("empty string is not a valid password").
  if (password === '') throw new RangeError('SCRAM password must not be empty');
  const saltedPassword = saltPassword(password, salt, iterations);
  const storedKey = sha256(hmac(saltedPassword, 'Client Key'));
  const serverKey = hmac(saltedPassword, 'Server Key');
  const base64 = (data: Buffer) => data.toString('base64');
  return `${SCRAM_MECHANISM}$${iterations}:${base64(salt)}$${base64(storedKey)}:${base64(serverKey)}`;
}

/** Throws an Error that does not repeat the verifier: its keys let whoever holds them pose as the server. */
export function parseScramVerifier(verifier: string): ScramVerifier {
  const match = /^SCRAM-SHA-256\$([0-9]+):([^$:]+)\$([^$:]+):([^$:]+)$/.exec(verifier);
  if (!match) throw new Error('invalid SCRAM verifier: expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>');
  const [, iterationsText, saltText, storedKeyText, serverKeyText] = match;
  const iterations = Number(iterationsText);
  if (!/^[1-9][0-9]*$/.test(iterationsText) || iterations > MAX_ITERATIONS) {
    throw new Error(`invalid SCRAM verifier: iteration count must be an integer from 1 to ${MAX_ITERATIONS}`);
  }
  const parts = { salt: saltText, StoredKey: storedKeyText, ServerKey: serverKeyText };
  for (const [name, text] of Object.entries(parts)) {
    if (!isBase64(text)) throw new Error(`invalid SCRAM verifier: ${name} is not base64`);
  }
  const result = {
    iterations,
    salt: Buffer.from(saltText, 'base64'),
    storedKey: Buffer.from(storedKeyText, 'base64'),
    serverKey: Buffer.from(serverKeyText, 'base64'),
  };
  checkVerifier(result);
  return result;
}

function checkVerifier(verifier: ScramVerifier): void {
  checkIterations(verifier.iterations);
  if (verifier.salt.length === 0) throw new Error('invalid SCRAM verifier: empty salt');
  if (verifier.storedKey.length !== KEY_LENGTH || verifier.serverKey.length !== KEY_LENGTH) {
    throw new Error(`invalid SCRAM verifier: StoredKey and ServerKey must be ${KEY_LENGTH} bytes`);
  }
}

function checkIterations(iterations: number): void {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new RangeError(`SCRAM iteration count must be an integer from 1 to ${MAX_ITERATIONS}, got ${iterations}`);
  }
}

// ---------------------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------------------

type ServerState = 'awaiting-client-first' | 'awaiting-client-final' | 'done' | 'failed';

/** Server side of one exchange (the coordinator authenticating a client). */
export class ScramServerSession {
  private readonly verifier: ScramVerifier;
  private readonly serverNonce: string;
  private state: ServerState = 'awaiting-client-first';
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private combinedNonce = '';

  /** `nonce` fixes the server's half of the nonce, for test vectors; by default it is random. */
  constructor(verifier: string | ScramVerifier, options: { nonce?: string } = {}) {
    if (typeof verifier === 'string') {
      this.verifier = parseScramVerifier(verifier);
    } else {
      checkVerifier(verifier);
      this.verifier = verifier;
    }
    this.serverNonce = options.nonce ?? randomBytes(RAW_NONCE_LENGTH).toString('base64');
    if (!isPrintable(this.serverNonce)) throw new RangeError('SCRAM nonce must be printable ASCII without ","');
  }

  /** client-first-message (the SASLInitialResponse payload) -> server-first-message for AuthenticationSASLContinue */
  handleClientFirst(message: Buffer): Buffer {
    this.expectState('awaiting-client-first', 'client-first-message');
    return this.failOnThrow(() => {
      const text = decodeMessage(message, 'client-first-message');
      const { gs2Header, bare } = splitGs2Header(text);
      const attributes = splitAttributes(bare, 'client-first-message');
      if (attributes[0].name === 'm') throw malformed('client-first-message requires an extension (m=), none is supported');
      // PostgreSQL takes the user name from the startup packet and ignores this one.
      expectAttribute(attributes, 0, 'n', 'client-first-message');
      const clientNonce = expectAttribute(attributes, 1, 'r', 'client-first-message');
      if (!isPrintable(clientNonce)) throw malformed('client nonce must be printable ASCII without ","');
      checkExtensions(attributes.slice(2), 'client-first-message');

      this.gs2Header = gs2Header;
      this.clientFirstBare = bare;
      this.combinedNonce = clientNonce + this.serverNonce;
      const { salt, iterations } = this.verifier;
      this.serverFirst = `r=${this.combinedNonce},s=${salt.toString('base64')},i=${iterations}`;
      this.state = 'awaiting-client-final';
      return Buffer.from(this.serverFirst, 'utf8');
    });
  }

  /**
   * client-final-message (SASLResponse payload) -> server-final-message for AuthenticationSASLFinal;
   * throws ScramError('28P01') if the proof is wrong. PostgreSQL itself never sends e=: a failed
   * proof ends in an ErrorResponse, which is the caller's to send.
   */
  handleClientFinal(message: Buffer): Buffer {
    this.expectState('awaiting-client-final', 'client-final-message');
    return this.failOnThrow(() => {
      const text = decodeMessage(message, 'client-final-message');
      const attributes = splitAttributes(text, 'client-final-message');
      const channelBinding = expectAttribute(attributes, 0, 'c', 'client-final-message');
      // Without channel binding the cbind-input is the gs2 header alone, so c= is "biws" for
      // "n,," or "eSws" for "y,,"; PostgreSQL compares the text the same way.
      if (channelBinding !== Buffer.from(this.gs2Header).toString('base64')) {
        throw malformed(`channel binding c= must be the base64 of the gs2 header "${this.gs2Header}" from client-first-message`);
      }
      const nonce = expectAttribute(attributes, 1, 'r', 'client-final-message');
      if (nonce !== this.combinedNonce) throw malformed('nonce in client-final-message does not match the one the server sent');
      const last = attributes.length - 1;
      if (last < 2 || attributes[last].name !== 'p') throw malformed('client-final-message must end with the proof p=');
      checkExtensions(attributes.slice(2, last), 'client-final-message');
      const proof = decodeKey(attributes[last].value, 'client proof p=');

      const withoutProof = text.slice(0, text.length - attributes[last].value.length - ',p='.length);
      const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
      const clientKey = xor(proof, hmac(this.verifier.storedKey, authMessage));
      if (!timingSafeEqual(sha256(clientKey), this.verifier.storedKey)) {
        throw new ScramError('28P01', 'password authentication failed: wrong SCRAM client proof');
      }
      this.state = 'done';
      return Buffer.from(`v=${hmac(this.verifier.serverKey, authMessage).toString('base64')}`, 'utf8');
    });
  }

  private expectState(expected: ServerState, received: string): void {
    if (this.state === expected) return;
    const where = this.state === 'done' || this.state === 'failed' ? 'already over' : 'not at that step';
    this.state = 'failed';
    throw new ScramError('08P01', `unexpected SCRAM ${received}: the exchange is ${where}`);
  }

  private failOnThrow<T>(step: () => T): T {
    try {
      return step();
    } catch (error) {
      this.state = 'failed';
      throw error;
    }
  }
}

/** gs2-header = gs2-cbind-flag "," [authzid] "," (RFC 5802 §7). */
function splitGs2Header(text: string): { gs2Header: string; bare: string } {
  switch (text[0]) {
    case 'n': // the client does not support channel binding
    case 'y': // the client supports it but thinks the server does not; true here, we never offer -PLUS
      break;
    case 'p':
      throw malformed(
        `client-first-message asks for channel binding (gs2 flag p=), ` +
          `but the server offered only ${SCRAM_MECHANISM}, not ${SCRAM_MECHANISM}-PLUS`,
      );
    default:
      throw malformed('client-first-message must start with a channel-binding flag n, y or p');
  }
  if (text[1] !== ',') throw malformed('expected "," after the channel-binding flag');
  if (text[2] === 'a') throw malformed('authorization identity (a=) is not supported');
  if (text[2] !== ',') throw malformed('expected "," after the gs2 header');
  return { gs2Header: text.slice(0, 3), bare: text.slice(3) };
}

// ---------------------------------------------------------------------------------------
// Client side
// ---------------------------------------------------------------------------------------

type ClientState = 'initial' | 'sent-client-first' | 'sent-client-final' | 'done' | 'failed';

/** Client side (the coordinator authenticating to a worker PostgreSQL). */
export class ScramClientSession {
  private password: string;
  private readonly clientNonce: string;
  private readonly clientFirstBare: string;
  private state: ClientState = 'initial';
  private expectedServerSignature: Buffer = Buffer.alloc(0);

  /**
   * `username` goes into n= escaped as a saslname; PostgreSQL ignores it (it uses the startup
   * packet's), so the default is "*" as node-postgres sends. `nonce` is for test vectors.
   */
  constructor(password: string, options: { nonce?: string; username?: string } = {}) {
    this.password = password;
    this.clientNonce = options.nonce ?? randomBytes(RAW_NONCE_LENGTH).toString('base64');
    if (!isPrintable(this.clientNonce)) throw new RangeError('SCRAM nonce must be printable ASCII without ","');
    const username = (options.username ?? '*').replaceAll('=', '=3D').replaceAll(',', '=2C');
    this.clientFirstBare = `n=${username},r=${this.clientNonce}`;
  }

  /** payload for SASLInitialResponse */
  clientFirst(): Buffer {
    this.expectState('initial', 'client-first-message');
    this.state = 'sent-client-first';
    return Buffer.from(`n,,${this.clientFirstBare}`, 'utf8');
  }

  /** server-first-message -> client-final-message for SASLResponse */
  handleServerFirst(message: Buffer): Buffer {
    this.expectState('sent-client-first', 'server-first-message');
    return this.failOnThrow(() => {
      const text = decodeMessage(message, 'server-first-message');
      const attributes = splitAttributes(text, 'server-first-message');
      if (attributes[0].name === 'm') throw malformed('server-first-message requires an extension (m=), none is supported');
      const nonce = expectAttribute(attributes, 0, 'r', 'server-first-message');
      const saltText = expectAttribute(attributes, 1, 's', 'server-first-message');
      const iterationsText = expectAttribute(attributes, 2, 'i', 'server-first-message');
      if (attributes.length > 3) throw malformed(`unexpected attribute ${attributes[3].name}= after i= in server-first-message`);
      if (!isPrintable(nonce) || !nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
        throw malformed("server nonce must be the client's nonce followed by printable characters");
      }
      if (!isBase64(saltText) || saltText === '') throw malformed('salt s= must be non-empty base64');
      const iterations = Number(iterationsText);
      if (!/^[1-9][0-9]*$/.test(iterationsText) || iterations > MAX_ITERATIONS) {
        throw malformed(`iteration count i= must be an integer from 1 to ${MAX_ITERATIONS}`);
      }

      const saltedPassword = saltPassword(this.password, Buffer.from(saltText, 'base64'), iterations);
      this.password = '';
      const clientKey = hmac(saltedPassword, 'Client Key');
      const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${nonce}`;
      const authMessage = `${this.clientFirstBare},${text},${withoutProof}`;
      const proof = xor(clientKey, hmac(sha256(clientKey), authMessage));
      this.expectedServerSignature = hmac(hmac(saltedPassword, 'Server Key'), authMessage);
      this.state = 'sent-client-final';
      return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
    });
  }

  /** throws ScramError if the server signature is wrong or the server sent e=... */
  verifyServerFinal(message: Buffer): void {
    this.expectState('sent-client-final', 'server-final-message');
    this.failOnThrow(() => {
      const text = decodeMessage(message, 'server-final-message');
      const attributes = splitAttributes(text, 'server-final-message');
      if (attributes[0].name === 'e') {
        throw new ScramError('28P01', `server rejected SCRAM authentication: ${attributes[0].value}`);
      }
      const signature = decodeKey(expectAttribute(attributes, 0, 'v', 'server-final-message'), 'server signature v=');
      if (attributes.length > 1) throw malformed(`unexpected attribute ${attributes[1].name}= after v= in server-final-message`);
      if (!timingSafeEqual(signature, this.expectedServerSignature)) {
        throw new ScramError('28P01', 'SCRAM server signature is wrong: the server does not know the password');
      }
      this.state = 'done';
    });
  }

  private expectState(expected: ClientState, step: string): void {
    if (this.state === expected) return;
    const where = this.state === 'done' || this.state === 'failed' ? 'already over' : 'not at that step';
    this.state = 'failed';
    this.password = '';
    throw new ScramError('08P01', `unexpected SCRAM ${step}: the exchange is ${where}`);
  }

  private failOnThrow<T>(step: () => T): T {
    try {
      return step();
    } catch (error) {
      this.state = 'failed';
      this.password = '';
      throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Message syntax (RFC 5802 §7)
// ---------------------------------------------------------------------------------------

interface Attribute {
  name: string;
  value: string;
}

/** ignoreBOM keeps a leading U+FEFF, which then fails the syntax checks rather than vanishing. */
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeMessage(message: Buffer, what: string): string {
  if (message.length === 0) throw malformed(`${what} is empty`);
  let text: string;
  try {
    text = utf8Decoder.decode(message);
  } catch {
    throw malformed(`${what} is not valid UTF-8`);
  }
  if (text.includes('\0')) throw malformed(`${what} contains a NUL byte`);
  return text;
}

/** attr-val = ALPHA "=" value, separated by ","; no value contains ",". */
function splitAttributes(text: string, what: string): Attribute[] {
  return text.split(',').map((part, index) => {
    if (!/^[A-Za-z]=/.test(part)) throw malformed(`attribute ${index + 1} of ${what} is not of the form x=value`);
    return { name: part[0], value: part.slice(2) };
  });
}

function expectAttribute(attributes: Attribute[], index: number, name: string, what: string): string {
  const attribute = attributes[index];
  if (!attribute) throw malformed(`${what} is missing attribute ${name}=`);
  if (attribute.name !== name) throw malformed(`expected attribute ${name}= in ${what}, found ${attribute.name}=`);
  return attribute.value;
}

function checkExtensions(extensions: Attribute[], what: string): void {
  for (const { name } of extensions) {
    if (name === 'm') throw malformed(`${what} requires an extension (m=), none is supported`);
    if (RFC_5802_ATTRIBUTES.has(name)) throw malformed(`unexpected attribute ${name}= in ${what}`);
  }
}

/** printable = %x21-2B / %x2D-7E, one or more. */
function isPrintable(text: string): boolean {
  return /^[\x21-\x2b\x2d-\x7e]+$/.test(text);
}

/** RFC 5802's base64 production; Buffer.from(_, 'base64') alone would skip invalid characters. */
function isBase64(text: string): boolean {
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text);
}

function decodeKey(text: string, what: string): Buffer {
  if (!isBase64(text)) throw malformed(`${what} is not base64`);
  const key = Buffer.from(text, 'base64');
  if (key.length !== KEY_LENGTH) throw malformed(`${what} must be ${KEY_LENGTH} bytes`);
  return key;
}

// ---------------------------------------------------------------------------------------
// Key derivation
// ---------------------------------------------------------------------------------------

/** Hi() of RFC 5802 §2.2 is PBKDF2 with HMAC as the PRF and one block of output. */
function saltPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(scramPasswordBytes(password), salt, iterations, KEY_LENGTH, 'sha256');
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const result = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) result[i] = a[i] ^ b[i];
  return result;
}

// ---------------------------------------------------------------------------------------
// SASLprep (RFC 4013), exactly as PostgreSQL's pg_saslprep() in src/common/saslprep.c
// ---------------------------------------------------------------------------------------

/**
 * The bytes PostgreSQL feeds to PBKDF2: the SASLprep'd password, or the raw UTF-8 when
 * SASLprep refuses it. Both the server (pg_be_scram_build_secret) and libpq fall back to the
 * raw bytes, so a password with, say, a private-use character still works, unnormalized.
 */
function scramPasswordBytes(password: string): Buffer {
  return Buffer.from(saslPrep(password) ?? password, 'utf8');
}

/**
 * SASLprep as pg_saslprep() does it, or null where it returns SASLPREP_PROHIBITED:
 * - a pure ASCII string is returned unchanged, control characters included (no checks at all);
 * - map: RFC 3454 table C.1.2 (non-ASCII spaces) to U+0020, table B.1 to nothing;
 *   an empty result is refused;
 * - normalize with NFKC;
 * - refuse prohibited output (C.1.2, C.2.1, C.2.2, C.3-C.9) and code points unassigned in
 *   Unicode 3.2 (A.1), and apply the bidi rule of RFC 3454 §6 (D.1, D.2).
 * Like PostgreSQL, the refusal checks look at the mapped string before NFKC, not after.
 * NFKC here is the JavaScript engine's (a newer Unicode than 3.2): normalization is stable
 * for code points assigned in 3.2, and any other code point was refused by A.1 first.
 * A lone UTF-16 surrogate is prohibited (C.5); its raw bytes are then U+FFFD's, as Buffer encodes it.
 */
export function saslPrep(password: string): string | null {
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  const mapped: number[] = [];
  for (const character of password) {
    const codePoint = character.codePointAt(0)!;
    if (inRanges(NON_ASCII_SPACE, codePoint)) mapped.push(0x20);
    else if (!inRanges(MAPPED_TO_NOTHING, codePoint)) mapped.push(codePoint);
  }
  if (mapped.length === 0) return null;
  if (mapped.some((codePoint) => inRanges(PROHIBITED_OUTPUT, codePoint) || inRanges(UNASSIGNED_IN_UNICODE_3_2, codePoint))) {
    return null;
  }
  if (mapped.some((codePoint) => inRanges(BIDI_R_OR_AL, codePoint))) {
    if (mapped.some((codePoint) => inRanges(BIDI_L, codePoint))) return null;
    if (!inRanges(BIDI_R_OR_AL, mapped[0]) || !inRanges(BIDI_R_OR_AL, mapped[mapped.length - 1])) return null;
  }
  return mapped.map((codePoint) => String.fromCodePoint(codePoint)).join('').normalize('NFKC');
}

/** Sorted, disjoint inclusive ranges as pairs [first, last, first, last, ...]. */
function codePointRanges(table: string): Uint32Array {
  const tokens = table.trim().split(/\s+/);
  const ranges = new Uint32Array(tokens.length * 2);
  tokens.forEach((token, index) => {
    const [first, last = first] = token.split('-');
    ranges[2 * index] = parseInt(first, 16);
    ranges[2 * index + 1] = parseInt(last, 16);
  });
  return ranges;
}

function inRanges(ranges: Uint32Array, codePoint: number): boolean {
  let low = 0;
  let high = ranges.length / 2 - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (codePoint < ranges[2 * middle]) high = middle - 1;
    else if (codePoint > ranges[2 * middle + 1]) low = middle + 1;
    else return true;
  }
  return false;
}

// The tables of RFC 3454 (hex, "first-last" or a single code point), the same as
// PostgreSQL's in src/common/saslprep.c. Generated from Python's stringprep module
// (RFC 3454 over unicodedata.ucd_3_2_0); PROHIBITED_OUTPUT is the union of C.1.2-C.9.

/** C.1.2 Non-ASCII space characters. */
const NON_ASCII_SPACE = codePointRanges('A0 1680 2000-200B 202F 205F 3000');

/** B.1 Commonly mapped to nothing. */
const MAPPED_TO_NOTHING = codePointRanges('AD 34F 1806 180B-180D 200B-200D 2060 FE00-FE0F FEFF');

/** C.1.2, C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8, C.9. */
const PROHIBITED_OUTPUT = codePointRanges(`
0-1F 7F-A0 340-341 6DD 70F 1680 180E 2000-200F 2028-202F 205F-2063 206A-206F 2FF0-2FFB 3000
D800-F8FF FDD0-FDEF FEFF FFF9-FFFF 1D173-1D17A 1FFFE-1FFFF 2FFFE-2FFFF 3FFFE-3FFFF 4FFFE-4FFFF
5FFFE-5FFFF 6FFFE-6FFFF 7FFFE-7FFFF 8FFFE-8FFFF 9FFFE-9FFFF AFFFE-AFFFF BFFFE-BFFFF CFFFE-CFFFF
DFFFE-DFFFF E0001 E0020-E007F EFFFE-10FFFF
`);

/** A.1 Unassigned code points in Unicode 3.2. */
const UNASSIGNED_IN_UNICODE_3_2 = codePointRanges(`
221 234-24F 2AE-2AF 2EF-2FF 350-35F 370-373 376-379 37B-37D 37F-383 38B 38D 3A2 3CF 3F7-3FF 487
4CF 4F6-4F7 4FA-4FF 510-530 557-558 560 588 58B-590 5A2 5BA 5C5-5CF 5EB-5EF 5F5-60B 60D-61A
61C-61E 620 63B-63F 656-65F 6EE-6EF 6FF 70E 72D-72F 74B-77F 7B2-900 904 93A-93B 94E-94F 955-957
971-980 984 98D-98E 991-992 9A9 9B1 9B3-9B5 9BA-9BB 9BD 9C5-9C6 9C9-9CA 9CE-9D6 9D8-9DB 9DE
9E4-9E5 9FB-A01 A03-A04 A0B-A0E A11-A12 A29 A31 A34 A37 A3A-A3B A3D A43-A46 A49-A4A A4E-A58 A5D
A5F-A65 A75-A80 A84 A8C A8E A92 AA9 AB1 AB4 ABA-ABB AC6 ACA ACE-ACF AD1-ADF AE1-AE5 AF0-B00 B04
B0D-B0E B11-B12 B29 B31 B34-B35 B3A-B3B B44-B46 B49-B4A B4E-B55 B58-B5B B5E B62-B65 B71-B81 B84
B8B-B8D B91 B96-B98 B9B B9D BA0-BA2 BA5-BA7 BAB-BAD BB6 BBA-BBD BC3-BC5 BC9 BCE-BD6 BD8-BE6
BF3-C00 C04 C0D C11 C29 C34 C3A-C3D C45 C49 C4E-C54 C57-C5F C62-C65 C70-C81 C84 C8D C91 CA9 CB4
CBA-CBD CC5 CC9 CCE-CD4 CD7-CDD CDF CE2-CE5 CF0-D01 D04 D0D D11 D29 D3A-D3D D44-D45 D49 D4E-D56
D58-D5F D62-D65 D70-D81 D84 D97-D99 DB2 DBC DBE-DBF DC7-DC9 DCB-DCE DD5 DD7 DE0-DF1 DF5-E00
E3B-E3E E5C-E80 E83 E85-E86 E89 E8B-E8C E8E-E93 E98 EA0 EA4 EA6 EA8-EA9 EAC EBA EBE-EBF EC5 EC7
ECE-ECF EDA-EDB EDE-EFF F48 F6B-F70 F8C-F8F F98 FBD FCD-FCE FD0-FFF 1022 1028 102B 1033-1035
103A-103F 105A-109F 10C6-10CF 10F9-10FA 10FC-10FF 115A-115E 11A3-11A7 11FA-11FF 1207 1247 1249
124E-124F 1257 1259 125E-125F 1287 1289 128E-128F 12AF 12B1 12B6-12B7 12BF 12C1 12C6-12C7 12CF
12D7 12EF 130F 1311 1316-1317 131F 1347 135B-1360 137D-139F 13F5-1400 1677-167F 169D-169F
16F1-16FF 170D 1715-171F 1737-173F 1754-175F 176D 1771 1774-177F 17DD-17DF 17EA-17FF 180F
181A-181F 1878-187F 18AA-1DFF 1E9C-1E9F 1EFA-1EFF 1F16-1F17 1F1E-1F1F 1F46-1F47 1F4E-1F4F 1F58
1F5A 1F5C 1F5E 1F7E-1F7F 1FB5 1FC5 1FD4-1FD5 1FDC 1FF0-1FF1 1FF5 1FFF 2053-2056 2058-205E
2064-2069 2072-2073 208F-209F 20B2-20CF 20EB-20FF 213B-213C 214C-2152 2184-218F 23CF-23FF
2427-243F 244B-245F 24FF 2614-2615 2618 267E-267F 268A-2700 2705 270A-270B 2728 274C 274E
2753-2755 2757 275F-2760 2795-2797 27B0 27BF-27CF 27EC-27EF 2B00-2E7F 2E9A 2EF4-2EFF 2FD6-2FEF
2FFC-2FFF 3040 3097-3098 3100-3104 312D-3130 318F 31B8-31EF 321D-321F 3244-3250 327C-327E
32CC-32CF 32FF 3377-337A 33DE-33DF 33FF 4DB6-4DFF 9FA6-9FFF A48D-A48F A4C7-ABFF D7A4-D7FF
FA2E-FA2F FA6B-FAFF FB07-FB12 FB18-FB1C FB37 FB3D FB3F FB42 FB45 FBB2-FBD2 FD40-FD4F FD90-FD91
FDC8-FDCF FDFD-FDFF FE10-FE1F FE24-FE2F FE47-FE48 FE53 FE67 FE6C-FE6F FE75 FEFD-FEFE FF00
FFBF-FFC1 FFC8-FFC9 FFD0-FFD1 FFD8-FFD9 FFDD-FFDF FFE7 FFEF-FFF8 10000-102FF 1031F 10324-1032F
1034B-103FF 10426-10427 1044E-1CFFF 1D0F6-1D0FF 1D127-1D129 1D1DE-1D3FF 1D455 1D49D 1D4A0-1D4A1
1D4A3-1D4A4 1D4A7-1D4A8 1D4AD 1D4BA 1D4BC 1D4C1 1D4C4 1D506 1D50B-1D50C 1D515 1D51D 1D53A 1D53F
1D545 1D547-1D549 1D551 1D6A4-1D6A7 1D7CA-1D7CD 1D800-1FFFD 2A6D7-2F7FF 2FA1E-2FFFD 30000-3FFFD
40000-4FFFD 50000-5FFFD 60000-6FFFD 70000-7FFFD 80000-8FFFD 90000-9FFFD A0000-AFFFD B0000-BFFFD
C0000-CFFFD D0000-DFFFD E0000 E0002-E001F E0080-EFFFD
`);

/** D.1 Characters with bidirectional property "R" or "AL". */
const BIDI_R_OR_AL = codePointRanges(`
5BE 5C0 5C3 5D0-5EA 5F0-5F4 61B 61F 621-63A 640-64A 66D-66F 671-6D5 6DD 6E5-6E6 6FA-6FE 700-70D
710 712-72C 780-7A5 7B1 200F FB1D FB1F-FB28 FB2A-FB36 FB38-FB3C FB3E FB40-FB41 FB43-FB44
FB46-FBB1 FBD3-FD3D FD50-FD8F FD92-FDC7 FDF0-FDFC FE70-FE74 FE76-FEFC
`);

/** D.2 Characters with bidirectional property "L". */
const BIDI_L = codePointRanges(`
41-5A 61-7A AA B5 BA C0-D6 D8-F6 F8-220 222-233 250-2AD 2B0-2B8 2BB-2C1 2D0-2D1 2E0-2E4 2EE 37A
386 388-38A 38C 38E-3A1 3A3-3CE 3D0-3F5 400-482 48A-4CE 4D0-4F5 4F8-4F9 500-50F 531-556 559-55F
561-587 589 903 905-939 93D-940 949-94C 950 958-961 964-970 982-983 985-98C 98F-990 993-9A8
9AA-9B0 9B2 9B6-9B9 9BE-9C0 9C7-9C8 9CB-9CC 9D7 9DC-9DD 9DF-9E1 9E6-9F1 9F4-9FA A05-A0A A0F-A10
A13-A28 A2A-A30 A32-A33 A35-A36 A38-A39 A3E-A40 A59-A5C A5E A66-A6F A72-A74 A83 A85-A8B A8D
A8F-A91 A93-AA8 AAA-AB0 AB2-AB3 AB5-AB9 ABD-AC0 AC9 ACB-ACC AD0 AE0 AE6-AEF B02-B03 B05-B0C
B0F-B10 B13-B28 B2A-B30 B32-B33 B36-B39 B3D-B3E B40 B47-B48 B4B-B4C B57 B5C-B5D B5F-B61 B66-B70
B83 B85-B8A B8E-B90 B92-B95 B99-B9A B9C B9E-B9F BA3-BA4 BA8-BAA BAE-BB5 BB7-BB9 BBE-BBF BC1-BC2
BC6-BC8 BCA-BCC BD7 BE7-BF2 C01-C03 C05-C0C C0E-C10 C12-C28 C2A-C33 C35-C39 C41-C44 C60-C61
C66-C6F C82-C83 C85-C8C C8E-C90 C92-CA8 CAA-CB3 CB5-CB9 CBE CC0-CC4 CC7-CC8 CCA-CCB CD5-CD6 CDE
CE0-CE1 CE6-CEF D02-D03 D05-D0C D0E-D10 D12-D28 D2A-D39 D3E-D40 D46-D48 D4A-D4C D57 D60-D61
D66-D6F D82-D83 D85-D96 D9A-DB1 DB3-DBB DBD DC0-DC6 DCF-DD1 DD8-DDF DF2-DF4 E01-E30 E32-E33
E40-E46 E4F-E5B E81-E82 E84 E87-E88 E8A E8D E94-E97 E99-E9F EA1-EA3 EA5 EA7 EAA-EAB EAD-EB0
EB2-EB3 EBD EC0-EC4 EC6 ED0-ED9 EDC-EDD F00-F17 F1A-F34 F36 F38 F3E-F47 F49-F6A F7F F85 F88-F8B
FBE-FC5 FC7-FCC FCF 1000-1021 1023-1027 1029-102A 102C 1031 1038 1040-1057 10A0-10C5 10D0-10F8
10FB 1100-1159 115F-11A2 11A8-11F9 1200-1206 1208-1246 1248 124A-124D 1250-1256 1258 125A-125D
1260-1286 1288 128A-128D 1290-12AE 12B0 12B2-12B5 12B8-12BE 12C0 12C2-12C5 12C8-12CE 12D0-12D6
12D8-12EE 12F0-130E 1310 1312-1315 1318-131E 1320-1346 1348-135A 1361-137C 13A0-13F4 1401-1676
1681-169A 16A0-16F0 1700-170C 170E-1711 1720-1731 1735-1736 1740-1751 1760-176C 176E-1770
1780-17B6 17BE-17C5 17C7-17C8 17D4-17DA 17DC 17E0-17E9 1810-1819 1820-1877 1880-18A8 1E00-1E9B
1EA0-1EF9 1F00-1F15 1F18-1F1D 1F20-1F45 1F48-1F4D 1F50-1F57 1F59 1F5B 1F5D 1F5F-1F7D 1F80-1FB4
1FB6-1FBC 1FBE 1FC2-1FC4 1FC6-1FCC 1FD0-1FD3 1FD6-1FDB 1FE0-1FEC 1FF2-1FF4 1FF6-1FFC 200E 2071
207F 2102 2107 210A-2113 2115 2119-211D 2124 2126 2128 212A-212D 212F-2131 2133-2139 213D-213F
2145-2149 2160-2183 2336-237A 2395 249C-24E9 3005-3007 3021-3029 3031-3035 3038-303C 3041-3096
309D-309F 30A1-30FA 30FC-30FF 3105-312C 3131-318E 3190-31B7 31F0-321C 3220-3243 3260-327B
327F-32B0 32C0-32CB 32D0-32FE 3300-3376 337B-33DD 33E0-33FE 3400-4DB5 4E00-9FA5 A000-A48C
AC00-D7A3 D800-FA2D FA30-FA6A FB00-FB06 FB13-FB17 FF21-FF3A FF41-FF5A FF66-FFBE FFC2-FFC7
FFCA-FFCF FFD2-FFD7 FFDA-FFDC 10300-1031E 10320-10323 10330-1034A 10400-10425 10428-1044D
1D000-1D0F5 1D100-1D126 1D12A-1D166 1D16A-1D172 1D183-1D184 1D18C-1D1A9 1D1AE-1D1DD 1D400-1D454
1D456-1D49C 1D49E-1D49F 1D4A2 1D4A5-1D4A6 1D4A9-1D4AC 1D4AE-1D4B9 1D4BB 1D4BD-1D4C0 1D4C2-1D4C3
1D4C5-1D505 1D507-1D50A 1D50D-1D514 1D516-1D51C 1D51E-1D539 1D53B-1D53E 1D540-1D544 1D546
1D54A-1D550 1D552-1D6A3 1D6A8-1D7C9 20000-2A6D6 2F800-2FA1D F0000-FFFFD 100000-10FFFD
`);
