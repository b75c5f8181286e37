/**
 * The SASL state machine of one connection, with an injected clock: what is served before and
 * after authentication, Kafka's error codes, closing after a failure, and KIP-368 re-authentication.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ErrorCode } from '../errors.ts';
import { SaslAuthenticator } from './sasl-authenticator.ts';
import { makeCredential, ScramClient } from './scram.ts';

const PRODUCE = 0;
const alice = makeCredential('SCRAM-SHA-512', 'alice-secret');

function authenticator(now: { t: number }, reauthMs = 0): SaslAuthenticator {
  return new SaslAuthenticator({
    mechanisms: ['PLAIN', 'SCRAM-SHA-512'], plainUsers: new Map([['bob', 'bob-secret'], ['carol', 'carol-secret']]), reauthMs, clock: () => now.t,
    scramCredential: (user, m) => (user === 'alice' && m === 'SCRAM-SHA-512' ? alice : undefined),
  });
}

const plain = (user: string, pw: string) => Buffer.from(`\u0000${user}\u0000${pw}`);

describe('SaslAuthenticator', () => {
  test('before authentication: ApiVersions is served, SaslHandshake starts the exchange, anything else closes the connection', () => {
    const a = authenticator({ t: 0 });
    expect(a.gate(18)).toEqual({ kind: 'serve' });
    expect(a.gate(PRODUCE).kind).toBe('close');
    expect(a.gate(36).kind).toBe('close');
    expect(a.gate(17)).toEqual({ kind: 'sasl' });
  });

  test('PLAIN: the right password authenticates with the user as principal; requests are then served', () => {
    const a = authenticator({ t: 0 });
    expect(a.handshake('PLAIN', 1)).toEqual({ body: { errorCode: 0, mechanisms: ['PLAIN', 'SCRAM-SHA-512'] }, close: false });
    expect(a.gate(PRODUCE).kind).toBe('close'); // between handshake and authenticate
    const r = a.authenticate(plain('bob', 'bob-secret'), 2);
    expect(r.body.errorCode).toBe(0);
    expect(r.close).toBe(false);
    expect(a.principal).toEqual({ type: 'User', name: 'bob' });
    expect(a.gate(PRODUCE)).toEqual({ kind: 'serve' });
  });

  test('a wrong password is SASL_AUTHENTICATION_FAILED with Kafka\'s message, and the connection closes', () => {
    const a = authenticator({ t: 0 });
    a.handshake('PLAIN', 1);
    const r = a.authenticate(plain('bob', 'nope'), 2);
    expect(r).toMatchObject({ body: { errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: 'Authentication failed: Invalid username or password' }, close: true });
    expect(a.gate(PRODUCE).kind).toBe('close');
    const s = authenticator({ t: 0 });
    s.handshake('SCRAM-SHA-512', 1);
    const c = new ScramClient('SCRAM-SHA-512', 'alice', 'wrong');
    const first = s.authenticate(Buffer.from(c.first()), 2);
    expect(first.body.errorCode).toBe(0);
    const final = s.authenticate(Buffer.from(c.final(first.body.authBytes.toString())), 2);
    expect(final).toMatchObject({ body: { errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512' }, close: true });
  });

  test('an unknown mechanism is UNSUPPORTED_SASL_MECHANISM listing the enabled ones; a second handshake mid-exchange is ILLEGAL_SASL_STATE', () => {
    expect(authenticator({ t: 0 }).handshake('GSSAPI', 1)).toEqual({ body: { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: ['PLAIN', 'SCRAM-SHA-512'] }, close: true });
    const a = authenticator({ t: 0 });
    a.handshake('PLAIN', 1);
    expect(a.handshake('PLAIN', 1)).toMatchObject({ body: { errorCode: ErrorCode.ILLEGAL_SASL_STATE }, close: true });
  });

  test('SCRAM-SHA-512 with v1+: the session lifetime is connections.max.reauth.ms; after it, a request closes the connection unless the client re-authenticated', () => {
    const now = { t: 1_000 };
    const a = authenticator(now, 5_000);
    const login = () => {
      expect(a.handshake('SCRAM-SHA-512', 1).body.errorCode).toBe(0);
      const c = new ScramClient('SCRAM-SHA-512', 'alice', 'alice-secret');
      const first = a.authenticate(Buffer.from(c.first()), 2);
      const final = a.authenticate(Buffer.from(c.final(first.body.authBytes.toString())), 2);
      c.verify(final.body.authBytes.toString());
      return final.body;
    };
    expect(login().sessionLifetimeMs).toBe(5_000n);
    now.t += 4_000;
    expect(a.gate(PRODUCE)).toEqual({ kind: 'serve' });
    expect(a.gate(17)).toEqual({ kind: 'sasl' }); // re-authentication starts
    expect(login().sessionLifetimeMs).toBe(5_000n);
    now.t += 4_000; // 8 s after the first login, 4 s after the second: still valid
    expect(a.gate(PRODUCE)).toEqual({ kind: 'serve' });
    now.t += 2_000;
    expect(a.gate(PRODUCE).kind).toBe('close');
  });

  test('re-authentication as another user is refused and closes the connection', () => {
    const a = authenticator({ t: 0 }, 60_000);
    a.handshake('PLAIN', 1);
    a.authenticate(plain('bob', 'bob-secret'), 1);
    a.handshake('PLAIN', 1);
    expect(a.authenticate(plain('carol', 'carol-secret'), 1)).toMatchObject({
      body: { errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: 'Cannot change principals during re-authentication from User:bob: User:carol' }, close: true,
    });
  });

  test('SaslAuthenticate v0 carries no session lifetime even with connections.max.reauth.ms set', () => {
    const a = authenticator({ t: 0 }, 60_000);
    a.handshake('PLAIN', 1);
    expect(a.authenticate(plain('bob', 'bob-secret'), 0).body.sessionLifetimeMs).toBe(0n);
  });

  test('fuzz: any sequence of handshakes and tokens of random bytes never throws; a failure always closes and never authenticates', () => {
    fc.assert(fc.property(
      fc.array(fc.oneof(
        fc.record({ kind: fc.constant('handshake' as const), mechanism: fc.constantFrom('PLAIN', 'SCRAM-SHA-512', 'GSSAPI', ''), version: fc.integer({ min: 0, max: 1 }) }),
        fc.record({ kind: fc.constant('token' as const), bytes: fc.uint8Array({ maxLength: 300 }), version: fc.integer({ min: 0, max: 2 }) }),
      ), { maxLength: 6 }),
      (steps) => {
        const a = authenticator({ t: 0 }, 1000);
        for (const step of steps) {
          const answer = step.kind === 'handshake' ? a.handshake(step.mechanism, step.version) : a.authenticate(Buffer.from(step.bytes), step.version);
          if (answer.close) {
            expect(a.authenticated).toBe(false);
            expect(a.gate(PRODUCE).kind).toBe('close');
            return;
          }
        }
      },
    ), { numRuns: 500 });
  });
});
