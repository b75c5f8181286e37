/**
 * The server side of Kafka's SASL exchange on one connection of a SASL_PLAINTEXT or SASL_SSL
 * listener (KIP-43, KIP-152, KIP-368), as Kafka's SaslServerAuthenticator runs it:
 *
 *   before authentication   ApiVersions is served; SaslHandshake (v0/v1) picks a mechanism
 *                           (UNSUPPORTED_SASL_MECHANISM lists the enabled ones, then the
 *                           connection closes); any other request closes the connection
 *                           (Kafka: IllegalSaslStateException, no response).
 *   after SaslHandshake v1  only SaslAuthenticate carries tokens; another request is answered
 *                           ILLEGAL_SASL_STATE where it is a SASL API, and the connection closes.
 *   a failed exchange       SaslAuthenticate answers SASL_AUTHENTICATION_FAILED with Kafka's
 *                           message, then the connection closes.
 *   authenticated           requests are served with the SASL user as principal. With
 *                           connections.max.reauth.ms > 0, SaslAuthenticate v1+ tells the client
 *                           its session lifetime; SaslHandshake on an authenticated connection
 *                           starts re-authentication (same principal required); a request
 *                           after the session expired closes the connection.
 *
 * SaslHandshake v0 (tokens as raw frames, pre-KIP-152) is answered but not served: Brook needs
 * SaslAuthenticate; every client this side of Kafka 1.0 uses v1.
 *
 * Mechanisms: PLAIN (RFC 4616: `[authzid] NUL user NUL password`, checked against the JAAS
 * user list in constant time) and SCRAM-SHA-256/512 (scram.ts, credentials from the metadata
 * store). Everything here is synchronous, so a connection's requests see its state in order.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { ErrorCode } from '../errors.ts';
import type { KafkaPrincipal } from './principal.ts';
import { userPrincipal } from './principal.ts';
import { isScramMechanism, ScramError, ScramServer } from './scram.ts';
import type { ScramCredential, ScramMechanism } from './scram.ts';

export const servedSaslMechanisms = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

export interface SaslServerConfig {
  /** Enabled mechanisms, in the order SaslHandshake lists them. */
  readonly mechanisms: readonly string[];
  /** PLAIN's users (user → password). */
  readonly plainUsers: ReadonlyMap<string, string>;
  readonly scramCredential: (user: string, mechanism: ScramMechanism) => ScramCredential | undefined;
  /** connections.max.reauth.ms (0: sessions never expire). */
  readonly reauthMs: number;
  readonly clock: () => number;
}

export const SASL_HANDSHAKE = 17;
export const SASL_AUTHENTICATE = 36;
export const API_VERSIONS = 18;

type State = 'handshake' | 'authenticate' | 'authenticated' | 'closed';

/** What the server should do with a request on this connection. */
export type Gate =
  | { readonly kind: 'serve' }
  | { readonly kind: 'sasl' }
  | { readonly kind: 'close'; readonly reason: string };

export interface SaslAnswer<B> { body: B; close: boolean }

interface Mechanism {
  evaluate(token: Buffer): { challenge: Buffer; user?: string };
}

export class SaslAuthenticator {
  private readonly config: SaslServerConfig;
  private state: State = 'handshake';
  private mechanism: Mechanism | null = null;
  /** Why the last exchange failed, for the broker's log (the client gets Kafka's message). */
  failureDetail = '';
  /** The mechanism of the last SaslHandshake. */
  mechanismName = '';
  private principalValue: KafkaPrincipal | null = null;
  private sessionExpiresAt = Infinity;
  private reauthenticating = false;

  constructor(config: SaslServerConfig) { this.config = config; }

  get principal(): KafkaPrincipal | null { return this.principalValue; }
  get authenticated(): boolean { return this.state === 'authenticated' && !this.reauthenticating; }

  /** Where a request with `apiKey` goes. */
  gate(apiKey: number): Gate {
    switch (this.state) {
      case 'handshake':
        if (apiKey === API_VERSIONS) return { kind: 'serve' };
        if (apiKey === SASL_HANDSHAKE) return { kind: 'sasl' };
        return { kind: 'close', reason: `Unexpected Kafka request of type ${apiKey} during SASL handshake` };
      case 'authenticate':
        if (apiKey === SASL_AUTHENTICATE || apiKey === SASL_HANDSHAKE) return { kind: 'sasl' };
        return { kind: 'close', reason: `Unexpected Kafka request of type ${apiKey} during SASL authentication` };
      case 'authenticated':
        if (this.config.reauthMs > 0 && apiKey === SASL_HANDSHAKE) return { kind: 'sasl' };
        if (this.config.clock() > this.sessionExpiresAt) {
          return { kind: 'close', reason: `the SASL session of ${this.principalValue?.name} expired (connections.max.reauth.ms) and was not re-authenticated` };
        }
        return { kind: 'serve' };
      default:
        return { kind: 'close', reason: 'authentication failed' };
    }
  }

  /** SaslHandshake (v0/v1). */
  handshake(mechanism: string, version: number): SaslAnswer<{ errorCode: number; mechanisms: string[] }> {
    const mechanisms = [...this.config.mechanisms];
    if (this.state === 'authenticate') {
      this.state = 'closed';
      return { body: { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms }, close: true };
    }
    if (!this.config.mechanisms.includes(mechanism)) {
      this.state = 'closed';
      return { body: { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms }, close: true };
    }
    if (version < 1) {
      // v0 would carry the tokens in raw frames next; Brook serves SaslAuthenticate only.
      this.state = 'closed';
      return { body: { errorCode: ErrorCode.UNSUPPORTED_VERSION, mechanisms }, close: true };
    }
    if (this.state === 'authenticated') {
      if (mechanism !== this.mechanismName) {
        this.state = 'closed';
        return { body: { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms }, close: true };
      }
      this.reauthenticating = true;
    }
    this.mechanismName = mechanism;
    this.mechanism = this.makeMechanism(mechanism);
    this.state = 'authenticate';
    return { body: { errorCode: 0, mechanisms }, close: false };
  }

  /** SaslAuthenticate: one token of the exchange. */
  authenticate(token: Buffer, version: number): SaslAnswer<{ errorCode: number; errorMessage: string | null; authBytes: Buffer; sessionLifetimeMs: bigint }> {
    const fail = (errorCode: number, errorMessage: string, detail = errorMessage) => {
      this.state = 'closed';
      this.failureDetail = detail;
      return { body: { errorCode, errorMessage, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n }, close: true };
    };
    if (this.state !== 'authenticate' || !this.mechanism) return fail(ErrorCode.ILLEGAL_SASL_STATE, 'SaslAuthenticate request received before SaslHandshake');
    let step: { challenge: Buffer; user?: string };
    try {
      step = this.mechanism.evaluate(token);
    } catch (err) {
      return fail(ErrorCode.SASL_AUTHENTICATION_FAILED, err instanceof PlainError ? err.message
        : `Authentication failed during ${this.reauthenticating ? 're-authentication' : 'authentication'} due to invalid credentials with SASL mechanism ${this.mechanismName}`,
      (err as Error).message);
    }
    if (step.user === undefined) return { body: { errorCode: 0, errorMessage: null, authBytes: step.challenge, sessionLifetimeMs: 0n }, close: false };
    if (this.reauthenticating && this.principalValue && step.user !== this.principalValue.name) {
      return fail(ErrorCode.SASL_AUTHENTICATION_FAILED, `Cannot change principals during re-authentication from ${this.principalValue.type}:${this.principalValue.name}: ${this.principalValue.type}:${step.user}`);
    }
    this.principalValue = userPrincipal(step.user);
    this.state = 'authenticated';
    this.reauthenticating = false;
    this.mechanism = null;
    const lifetime = this.config.reauthMs > 0 && version >= 1 ? this.config.reauthMs : 0;
    this.sessionExpiresAt = lifetime > 0 ? this.config.clock() + lifetime : Infinity;
    return { body: { errorCode: 0, errorMessage: null, authBytes: step.challenge, sessionLifetimeMs: BigInt(lifetime) }, close: false };
  }

  private makeMechanism(name: string): Mechanism {
    if (name === 'PLAIN') return new PlainMechanism(this.config.plainUsers);
    if (isScramMechanism(name)) return new ScramMechanismServer(new ScramServer(name, (u) => this.config.scramCredential(u, name)));
    throw new Error(`unsupported mechanism ${name}`); // handshake() checked the enabled list
  }
}

/** PLAIN failures carry Kafka's own message (SaslAuthenticationException). */
class PlainError extends Error {}

class PlainMechanism implements Mechanism {
  private readonly users: ReadonlyMap<string, string>;
  constructor(users: ReadonlyMap<string, string>) { this.users = users; }

  evaluate(token: Buffer): { challenge: Buffer; user: string } {
    const parts = token.toString('utf8').split('\u0000');
    if (parts.length !== 3) throw new PlainError('Invalid SASL/PLAIN response: expected 3 tokens');
    const [authzid, user, password] = parts as [string, string, string];
    if (user === '') throw new PlainError('Authentication failed: username not specified');
    if (password === '') throw new PlainError('Authentication failed: password not specified');
    const expected = this.users.get(user);
    const digest = (s: string) => createHash('sha256').update(s).digest();
    const ok = expected !== undefined && timingSafeEqual(digest(expected), digest(password));
    if (!ok) throw new PlainError('Authentication failed: Invalid username or password');
    if (authzid !== '' && authzid !== user) throw new PlainError('Authentication failed: Client requested an authorization id that is different from username');
    return { challenge: Buffer.alloc(0), user };
  }
}

class ScramMechanismServer implements Mechanism {
  private readonly server: ScramServer;
  private step = 0;
  constructor(server: ScramServer) { this.server = server; }

  evaluate(token: Buffer): { challenge: Buffer; user?: string } {
    const text = token.toString('utf8');
    if (this.step++ === 0) return { challenge: Buffer.from(this.server.first(text), 'utf8') };
    const { serverFinal, user } = this.server.final(text);
    return { challenge: Buffer.from(serverFinal, 'utf8'), user };
  }
}

export { ScramError };
