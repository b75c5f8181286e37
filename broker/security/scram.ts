/**
 * SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), both sides, as Kafka speaks them.
 *
 * Credentials are stored salted, never the password: salt, iterations, StoredKey = H(ClientKey)
 * and ServerKey, where SaltedPassword = PBKDF2(password, salt, iterations), ClientKey =
 * HMAC(SaltedPassword, "Client Key"), ServerKey = HMAC(SaltedPassword, "Server Key").
 *
 * Messages (no channel binding: the gs2 header is `n,,` or `y,,`; Kafka's extensions such as
 * `tokenauth=true` may follow the nonce in the client-first message and are ignored):
 *   client-first  n,,n=<user>,r=<cnonce>[,ext=...]
 *   server-first  r=<cnonce+snonce>,s=<base64 salt>,i=<iterations>
 *   client-final  c=biws,r=<nonce>,p=<base64 proof>
 *   server-final  v=<base64 server signature>     (or e=<error>)
 * The client proves it knows ClientKey: proof = ClientKey XOR HMAC(StoredKey, AuthMessage), and
 * the server checks H(proof XOR HMAC(StoredKey, AuthMessage)) == StoredKey in constant time.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export const scramMechanisms = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type ScramMechanism = (typeof scramMechanisms)[number];

/** Kafka's ScramMechanism type ids (DescribeUserScramCredentials / AlterUserScramCredentials). */
export const scramMechanismIds: Readonly<Record<ScramMechanism, number>> = { 'SCRAM-SHA-256': 1, 'SCRAM-SHA-512': 2 };
export function scramMechanismById(id: number): ScramMechanism | undefined {
  return scramMechanisms.find((m) => scramMechanismIds[m] === id);
}
/** Kafka's bounds on iterations (ScramMechanism.minIterations / maxIterations). */
export const MIN_ITERATIONS = 4096;
export const MAX_ITERATIONS = 16384;

export function isScramMechanism(m: string): m is ScramMechanism { return (scramMechanisms as readonly string[]).includes(m); }

const hashOf = (m: ScramMechanism) => (m === 'SCRAM-SHA-256' ? 'sha256' : 'sha512');
const keyLength = (m: ScramMechanism) => (m === 'SCRAM-SHA-256' ? 32 : 64);

/** What is stored per user and mechanism (binary fields base64). */
export interface ScramCredential {
  readonly salt: string;
  readonly iterations: number;
  readonly storedKey: string;
  readonly serverKey: string;
}

/** user → mechanism → credential. */
export type ScramCredentials = Readonly<Record<string, Readonly<Partial<Record<ScramMechanism, ScramCredential>>>>>;

function hmac(m: ScramMechanism, key: Buffer, data: string | Buffer): Buffer { return createHmac(hashOf(m), key).update(data).digest(); }
function hash(m: ScramMechanism, data: Buffer): Buffer { return createHash(hashOf(m)).update(data).digest(); }

export function saltedPassword(m: ScramMechanism, password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, keyLength(m), hashOf(m));
}

/** The stored credential from a salted password (what AlterUserScramCredentials carries). */
export function credentialFromSaltedPassword(m: ScramMechanism, salted: Buffer, salt: Buffer, iterations: number): ScramCredential {
  const clientKey = hmac(m, salted, 'Client Key');
  return {
    salt: salt.toString('base64'), iterations,
    storedKey: hash(m, clientKey).toString('base64'),
    serverKey: hmac(m, salted, 'Server Key').toString('base64'),
  };
}

export function makeCredential(m: ScramMechanism, password: string, iterations = MIN_ITERATIONS, salt: Buffer = randomBytes(32)): ScramCredential {
  return credentialFromSaltedPassword(m, saltedPassword(m, password, salt, iterations), salt, iterations);
}

/** SCRAM's saslname: `,` and `=` escaped as =2C and =3D. */
export function encodeSaslName(name: string): string { return name.replaceAll('=', '=3D').replaceAll(',', '=2C'); }
function decodeSaslName(name: string): string | null {
  if (/=(?!2C|3D)/.test(name)) return null;
  return name.replaceAll('=2C', ',').replaceAll('=3D', '=');
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** `k=v,k=v` attributes (values may contain '='). */
function attributes(text: string): Map<string, string> | null {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    const m = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/s.exec(part);
    if (!m || out.has(m[1]!)) return null;
    out.set(m[1]!, m[2]!);
  }
  return out;
}

function randomNonce(): string { return randomBytes(24).toString('base64').replace(/[=,]/g, ''); }

const PRINTABLE_NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Why a SCRAM exchange failed; `message` is what Kafka puts in SaslAuthenticate's errorMessage. */
export class ScramError extends Error {
  readonly code = 'BROOK_ERR_SCRAM';
  constructor(message: string) { super(message); this.name = 'ScramError'; }
}

/**
 * The server side of one exchange: `first(clientFirst)` returns server-first, `final(clientFinal)`
 * returns server-final and the authenticated user; each throws ScramError on bad input or a bad proof.
 */
export class ScramServer {
  readonly mechanism: ScramMechanism;
  private readonly lookup: (user: string) => ScramCredential | undefined;
  private readonly serverNonce: () => string;
  private state: { user: string; credential: ScramCredential; nonce: string; clientFirstBare: string; serverFirst: string; gs2: string } | null = null;
  private done = false;

  /** `nonce` makes the server's part of the nonce (printable, no comma); injected by tests. */
  constructor(mechanism: ScramMechanism, lookup: (user: string) => ScramCredential | undefined, nonce: () => string = randomNonce) {
    this.mechanism = mechanism;
    this.lookup = lookup;
    this.serverNonce = nonce;
  }

  first(message: string): string {
    if (this.state || this.done) throw new ScramError('Invalid SCRAM client message: unexpected client-first message');
    const m = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(message);
    if (!m) throw new ScramError('Invalid SCRAM client first message: channel binding is not supported (gs2 header must be n,, or y,,)');
    if (m[2]) throw new ScramError('Invalid SCRAM client first message: authorization id is not supported');
    const bare = m[3]!;
    const attrs = attributes(bare);
    const user = attrs?.get('n');
    const cnonce = attrs?.get('r');
    if (!attrs || user === undefined || cnonce === undefined || !bare.startsWith('n=') || !PRINTABLE_NONCE.test(cnonce)) {
      throw new ScramError('Invalid SCRAM client first message');
    }
    const name = decodeSaslName(user);
    if (name === null || name === '') throw new ScramError('Invalid SCRAM client first message: bad user name');
    const credential = this.lookup(name);
    if (!credential) throw new ScramError('Authentication failed: Invalid user credentials');
    const nonce = cnonce + this.serverNonce();
    const serverFirst = `r=${nonce},s=${credential.salt},i=${credential.iterations}`;
    this.state = { user: name, credential, nonce, clientFirstBare: bare, serverFirst, gs2: `${m[1]},${m[2] ?? ''},` };
    return serverFirst;
  }

  final(message: string): { serverFinal: string; user: string } {
    const s = this.state;
    if (!s || this.done) throw new ScramError('Invalid SCRAM client message: unexpected client-final message');
    this.done = true;
    const proofAt = message.lastIndexOf(',p=');
    if (proofAt < 0) throw new ScramError('Invalid SCRAM client final message');
    const withoutProof = message.slice(0, proofAt);
    const attrs = attributes(withoutProof);
    const proofText = message.slice(proofAt + 3);
    if (!attrs || attrs.get('c') !== Buffer.from(s.gs2).toString('base64') || !BASE64.test(proofText)) {
      throw new ScramError('Invalid SCRAM client final message');
    }
    // Kafka checks endsWith, not equality: librdkafka (2.0) sends its own nonce again in front of
    // the combined one; the AuthMessage covers what the client sent, so the proof still binds it.
    if (!(attrs.get('r') ?? '').endsWith(s.nonce)) throw new ScramError('Invalid client nonce in the final client message.');
    const authMessage = `${s.clientFirstBare},${s.serverFirst},${withoutProof}`;
    const storedKey = Buffer.from(s.credential.storedKey, 'base64');
    const proof = Buffer.from(proofText, 'base64');
    const signature = hmac(this.mechanism, storedKey, authMessage);
    const ok = proof.length === signature.length && timingSafeEqual(hash(this.mechanism, xor(proof, signature)), storedKey);
    if (!ok) throw new ScramError('Invalid client credentials');
    const serverSignature = hmac(this.mechanism, Buffer.from(s.credential.serverKey, 'base64'), authMessage);
    return { serverFinal: `v=${serverSignature.toString('base64')}`, user: s.user };
  }
}

/** The client side (the broker's own connections to other brokers). */
export class ScramClient {
  readonly mechanism: ScramMechanism;
  private readonly user: string;
  private readonly password: string;
  private readonly cnonce: string;
  private clientFirstBare = '';
  private expectedServerSignature: Buffer | null = null;

  constructor(mechanism: ScramMechanism, user: string, password: string, nonce: () => string = randomNonce) {
    this.mechanism = mechanism;
    this.user = user;
    this.password = password;
    this.cnonce = nonce();
  }

  first(): string {
    this.clientFirstBare = `n=${encodeSaslName(this.user)},r=${this.cnonce}`;
    return `n,,${this.clientFirstBare}`;
  }

  final(serverFirst: string): string {
    const attrs = attributes(serverFirst);
    const nonce = attrs?.get('r');
    const salt = attrs?.get('s');
    const iterations = Number(attrs?.get('i'));
    if (!nonce || !salt || !nonce.startsWith(this.cnonce) || !Number.isInteger(iterations) || iterations < MIN_ITERATIONS) {
      throw new ScramError(`invalid SCRAM server-first message '${serverFirst}'`);
    }
    const salted = saltedPassword(this.mechanism, this.password, Buffer.from(salt, 'base64'), iterations);
    const clientKey = hmac(this.mechanism, salted, 'Client Key');
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const proof = xor(clientKey, hmac(this.mechanism, hash(this.mechanism, clientKey), authMessage));
    this.expectedServerSignature = hmac(this.mechanism, hmac(this.mechanism, salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server's signature (the server knew the credential). */
  verify(serverFinal: string): void {
    const v = attributes(serverFinal)?.get('v');
    if (!v || !this.expectedServerSignature || !Buffer.from(v, 'base64').equals(this.expectedServerSignature)) {
      throw new ScramError(`invalid SCRAM server-final message '${serverFinal}'`);
    }
  }
}
