/**
 * The SASL APIs outside an exchange, and SCRAM credential administration (KIP-554).
 *
 * SaslHandshake (17) and SaslAuthenticate (36) reach these handlers only where no exchange is
 * under way — a PLAINTEXT or SSL listener, or an authenticated SASL connection without
 * re-authentication — and get ILLEGAL_SASL_STATE, as Kafka's KafkaApis answers them. The
 * exchange itself is the server's (broker/security/sasl-authenticator.ts).
 *
 * DescribeUserScramCredentials (50) and AlterUserScramCredentials (51): credentials live in the
 * metadata store, salted (salt, iterations, StoredKey, ServerKey); `kafka-configs --alter
 * --add-config 'SCRAM-SHA-512=[password=...]' --entity-type users --entity-name alice` sends the
 * salted password computed client-side. Errors per user, with Kafka's codes and messages.
 */
import { ErrorCode } from '../errors.ts';
import { credentialFromSaltedPassword, MAX_ITERATIONS, MIN_ITERATIONS, scramMechanismById, scramMechanismIds, scramMechanisms } from '../security/scram.ts';
import type { ScramCredential, ScramMechanism } from '../security/scram.ts';
import { AclOperation, clusterAllowed } from './authz.ts';
import type { ApiHandler } from './index.ts';

export const saslHandshakeHandler: ApiHandler<17> = {
  apiKey: 17,
  minVersion: 0,
  maxVersion: 1,
  handle() { return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] }; },
};

export const saslAuthenticateHandler: ApiHandler<36> = {
  apiKey: 36,
  minVersion: 0,
  maxVersion: 2,
  handle() {
    return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: 'SaslAuthenticate request received after successful authentication', authBytes: Buffer.alloc(0) };
  },
};

export const describeUserScramCredentialsHandler: ApiHandler<50> = {
  apiKey: 50,
  minVersion: 0,
  maxVersion: 0,
  handle(req, ctx) {
    if (!clusterAllowed(ctx, AclOperation.DESCRIBE)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.', results: [] };
    }
    const all = ctx.broker.scramCredentials();
    const asked = req.users === null || req.users.length === 0 ? Object.keys(all).sort() : req.users.map((u) => u.name);
    const counts = new Map<string, number>();
    for (const u of asked) counts.set(u, (counts.get(u) ?? 0) + 1);
    const results = [...new Set(asked)].map((user) => {
      if (counts.get(user)! > 1) {
        return { user, errorCode: ErrorCode.DUPLICATE_RESOURCE, errorMessage: 'Cannot describe SCRAM credentials for the same user twice in a single request', credentialInfos: [] };
      }
      const creds = all[user];
      const infos = scramMechanisms.filter((m) => creds?.[m]).map((m) => ({ mechanism: scramMechanismIds[m], iterations: creds![m]!.iterations }));
      if (infos.length === 0) {
        return { user, errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: `Attempt to describe a user credential that does not exist: ${user}`, credentialInfos: [] };
      }
      return { user, errorCode: 0, errorMessage: null, credentialInfos: infos };
    });
    return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, results };
  },
};

export const alterUserScramCredentialsHandler: ApiHandler<51> = {
  apiKey: 51,
  minVersion: 0,
  maxVersion: 0,
  async handle(req, ctx) {
    if (!clusterAllowed(ctx, AclOperation.ALTER)) {
      const users = [...new Set([...req.deletions, ...req.upsertions].map((u) => u.name))];
      return { throttleTimeMs: 0, results: users.map((user) => ({ user, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.' })) };
    }
    const existing = ctx.broker.scramCredentials();
    const errors = new Map<string, { errorCode: number; errorMessage: string }>();
    const fail = (user: string, errorCode: number, errorMessage: string) => { if (!errors.has(user)) errors.set(user, { errorCode, errorMessage }); };
    const users: string[] = [];
    const seen = new Set<string>();
    const touch = (user: string, mechanism: number) => {
      if (!users.includes(user)) users.push(user);
      const key = `${user}\u0000${mechanism}`;
      if (seen.has(key)) fail(user, ErrorCode.DUPLICATE_RESOURCE, 'A user credential cannot be altered twice in the same request');
      seen.add(key);
    };
    const changes: Array<{ user: string; mechanism: ScramMechanism; credential: ScramCredential | null }> = [];
    for (const d of req.deletions) {
      touch(d.name, d.mechanism);
      const mechanism = scramMechanismById(d.mechanism);
      if (d.name === '') fail(d.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Username must not be empty');
      else if (!mechanism) fail(d.name, ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism');
      else if (!existing[d.name]?.[mechanism]) fail(d.name, ErrorCode.RESOURCE_NOT_FOUND, 'Attempt to delete a user credential that does not exist');
      else changes.push({ user: d.name, mechanism, credential: null });
    }
    for (const u of req.upsertions) {
      touch(u.name, u.mechanism);
      const mechanism = scramMechanismById(u.mechanism);
      if (u.name === '') fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Username must not be empty');
      else if (!mechanism) fail(u.name, ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism');
      else if (u.iterations < MIN_ITERATIONS) fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too few iterations');
      else if (u.iterations > MAX_ITERATIONS) fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too many iterations');
      else if (u.salt.length === 0 || u.saltedPassword.length === 0) fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Salt and salted password must not be empty');
      else changes.push({ user: u.name, mechanism, credential: credentialFromSaltedPassword(mechanism, Buffer.from(u.saltedPassword), Buffer.from(u.salt), u.iterations) });
    }
    // A user with any bad entry has none of its changes applied (Kafka validates per user).
    const applied = changes.filter((c) => !errors.has(c.user));
    if (applied.length > 0) {
      try {
        await ctx.broker.store.alterScramCredentials(applied);
      } catch (err) {
        for (const c of applied) fail(c.user, ErrorCode.UNKNOWN_SERVER_ERROR, `storing the credential failed: ${(err as Error).message}`);
      }
    }
    return {
      throttleTimeMs: 0,
      results: users.map((user) => ({ user, errorCode: errors.get(user)?.errorCode ?? 0, errorMessage: errors.get(user)?.errorMessage ?? null })),
    };
  },
};
