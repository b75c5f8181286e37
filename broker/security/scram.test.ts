/**
 * SCRAM (RFC 5802/7677) on both sides: the RFC 7677 SCRAM-SHA-256 example exchange byte for
 * byte, SHA-512 round trips, wrong passwords and unknown users refused, librdkafka's repeated
 * nonce accepted as Kafka accepts it, and garbage never throwing anything but ScramError.
 */
import { describe, expect, test } from '@jest/globals';
import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { credentialFromSaltedPassword, makeCredential, saltedPassword, ScramClient, ScramError, ScramServer } from './scram.ts';

describe('SCRAM', () => {
  test('RFC 7677 example: SCRAM-SHA-256 exchange for user/pencil, every message as in the RFC', () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const credential = credentialFromSaltedPassword('SCRAM-SHA-256', saltedPassword('SCRAM-SHA-256', 'pencil', salt, 4096), salt, 4096);
    const server = new ScramServer('SCRAM-SHA-256', (u) => (u === 'user' ? credential : undefined), () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0');
    const client = new ScramClient('SCRAM-SHA-256', 'user', 'pencil', () => 'rOprNGfwEbeRWgbNEkqO');
    const clientFirst = client.first();
    expect(clientFirst).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const serverFirst = server.first(clientFirst);
    expect(serverFirst).toBe('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    const clientFinal = client.final(serverFirst);
    expect(clientFinal).toBe('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    const { serverFinal, user } = server.final(clientFinal);
    expect(serverFinal).toBe('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    expect(user).toBe('user');
    expect(() => client.verify(serverFinal)).not.toThrow();
  });

  test('SCRAM-SHA-512 round trip; a stored credential holds no password', () => {
    const credential = makeCredential('SCRAM-SHA-512', 'alice-secret', 8192);
    expect(JSON.stringify(credential)).not.toContain('alice-secret');
    const server = new ScramServer('SCRAM-SHA-512', () => credential);
    const client = new ScramClient('SCRAM-SHA-512', 'alice', 'alice-secret');
    const { serverFinal, user } = server.final(client.final(server.first(client.first())));
    client.verify(serverFinal);
    expect(user).toBe('alice');
  });

  test('a wrong password fails the proof; an unknown user fails at the first message', () => {
    const credential = makeCredential('SCRAM-SHA-512', 'alice-secret');
    const server = new ScramServer('SCRAM-SHA-512', (u) => (u === 'alice' ? credential : undefined));
    const client = new ScramClient('SCRAM-SHA-512', 'alice', 'wrong');
    const serverFirst = server.first(client.first());
    expect(() => server.final(client.final(serverFirst))).toThrow(new ScramError('Invalid client credentials'));
    const stranger = new ScramServer('SCRAM-SHA-512', () => undefined);
    expect(() => stranger.first(new ScramClient('SCRAM-SHA-512', 'bob', 'x').first())).toThrow(ScramError);
  });

  test('regression: librdkafka 2.0\'s client-final repeats its nonce (r=cnonce+cnonce+snonce) and was refused as a nonce mismatch; Kafka accepts it (endsWith)', () => {
    const credential = makeCredential('SCRAM-SHA-512', 'alice-secret');
    const server = new ScramServer('SCRAM-SHA-512', () => credential, () => 'SERVER');
    const serverFirst = server.first('n,,n=alice,r=CLIENT');
    const withoutProof = 'c=biws,r=CLIENTCLIENTSERVER';
    const salted = saltedPassword('SCRAM-SHA-512', 'alice-secret', Buffer.from(credential.salt, 'base64'), credential.iterations);
    const clientKey = createHmac('sha512', salted).update('Client Key').digest();
    const storedKey = createHash('sha512').update(clientKey).digest();
    const signature = createHmac('sha512', storedKey).update(`n=alice,r=CLIENT,${serverFirst},${withoutProof}`).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    expect(server.final(`${withoutProof},p=${proof.toString('base64')}`).user).toBe('alice');
    const other = new ScramServer('SCRAM-SHA-512', () => credential, () => 'SERVER');
    other.first('n,,n=alice,r=CLIENT');
    expect(() => other.final('c=biws,r=CLIENTSERVERX,p=AAAA')).toThrow(new ScramError('Invalid client nonce in the final client message.'));
  });

  test('garbage client messages: only ScramError is thrown, never anything else', () => {
    const credential = makeCredential('SCRAM-SHA-256', 'pw', 4096);
    fc.assert(fc.property(fc.string(), fc.string(), (first, final) => {
      const server = new ScramServer('SCRAM-SHA-256', () => credential);
      try {
        server.first(first);
        server.final(final);
      } catch (err) {
        if (!(err instanceof ScramError)) throw err;
      }
    }), { numRuns: 300 });
  });
});
