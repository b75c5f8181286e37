/**
 * User reconcile: a Kafka user of a Cluster, as Strimzi's User operator does it.
 *
 *   spec.authentication.type scram-sha-512 → principal User:<name>; a random password in the
 *     Secret <name> (keys password, sasl.jaas.config, and ca.crt when the Cluster has TLS), and
 *     its salted SCRAM-SHA-512 credential in the Cluster's store through AlterUserScramCredentials
 *     (the password never leaves the operator);
 *   spec.authentication.type tls → principal User:CN=<name>; a client certificate signed by the
 *     Cluster's clients CA in the Secret <name> (user.crt, user.key, ca.crt: the cluster CA that
 *     signed the brokers' certificates), renewed before it expires;
 *   spec.authorization.acls → exactly these ACL bindings for the principal (DescribeAcls, then
 *     DeleteAcls of the others and CreateAcls of the missing ones).
 *
 * Metadata: the label brook.dev/cluster and the finalizer brook.dev/user-credentials; deleting
 * the User removes its SCRAM credential, its ACLs and its Secret, then the finalizer (when the
 * Cluster is gone or being deleted, its brokers go with it and only the Secret is removed).
 *
 * An invalid spec (no such Cluster, no listener with that authentication, ACLs on a Cluster
 * without authorization, a reserved name) gets Ready False with a reason saying which, and
 * nothing is made. Brokers not reachable yet: Ready False WaitingForBrokers, retried.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Cluster, User, UserAcl } from '../broker/k8s/index.ts';
import { isConflict, isNotFound, resources, type Kube, type KubeObject } from '../broker/k8s/index.ts';
import { AclOperation, CLUSTER_NAME, PatternType, Permission, ResourceType, type AclBinding } from '../broker/security/acls.ts';
import { clusterLabel } from './cluster-resources.ts';
import { authorizerOf, encodeSecretData, hasTls, internalUser, secretText, validity } from './cluster-security.ts';
import { jsonEqual, setConditions, type ConditionInput } from './conditions.ts';
import { splitKey, type Result } from './controller.ts';
import { KafkaClusterAdmin, type SecurityAdmin } from './kafka-admin.ts';
import type { Logger } from './log.ts';
import { expiresAt, issue, stillGood } from './pki.ts';
import type { SecurityMaterial } from './security-material.ts';
import type { Clock } from './workqueue.ts';
import type { UserObject, World } from './world.ts';
import type { BrokerAddress } from './kafka-admin.ts';
import type { ClientSecurity } from '../broker/security/listener-security.ts';

export const userFinalizer = 'brook.dev/user-credentials';

interface SecretObject extends KubeObject { data?: Record<string, string>; type?: string }

export type UserAdminFactory = (brokers: readonly BrokerAddress[], security?: ClientSecurity) => SecurityAdmin;
export const defaultUserAdminFactory: UserAdminFactory = (brokers, security) => new KafkaClusterAdmin({ brokers, security, requestTimeoutMs: 10_000 });

/** The Kafka principal of a User. */
export function principalOf(user: Pick<User, 'metadata' | 'spec'>): string {
  return user.spec.authentication.type === 'tls' ? `User:CN=${user.metadata.name}` : `User:${user.metadata.name}`;
}

const resourceTypes = { topic: ResourceType.TOPIC, group: ResourceType.GROUP, cluster: ResourceType.CLUSTER, transactionalId: ResourceType.TRANSACTIONAL_ID } as const;
const operations = {
  All: AclOperation.ALL, Read: AclOperation.READ, Write: AclOperation.WRITE, Create: AclOperation.CREATE, Delete: AclOperation.DELETE,
  Alter: AclOperation.ALTER, Describe: AclOperation.DESCRIBE, ClusterAction: AclOperation.CLUSTER_ACTION, DescribeConfigs: AclOperation.DESCRIBE_CONFIGS,
  AlterConfigs: AclOperation.ALTER_CONFIGS, IdempotentWrite: AclOperation.IDEMPOTENT_WRITE,
} as const;

/** The ACL bindings spec.authorization.acls asks for (one per operation). */
export function desiredBindings(principal: string, acls: readonly UserAcl[]): AclBinding[] {
  const out = new Map<string, AclBinding>();
  for (const a of acls) {
    const cluster = a.resource.type === 'cluster';
    for (const op of a.operations) {
      const b: AclBinding = {
        resourceType: resourceTypes[a.resource.type],
        resourceName: cluster ? CLUSTER_NAME : a.resource.name!,
        patternType: cluster || (a.resource.patternType ?? 'literal') === 'literal' ? PatternType.LITERAL : PatternType.PREFIXED,
        principal,
        host: a.host ?? '*',
        operation: operations[op],
        permission: (a.type ?? 'allow') === 'allow' ? Permission.ALLOW : Permission.DENY,
      };
      out.set(bindingKey(b), b);
    }
  }
  return [...out.values()];
}

const bindingKey = (b: AclBinding) => JSON.stringify([b.resourceType, b.resourceName, b.patternType, b.principal, b.host, b.operation, b.permission]);

export class UserReconciler {
  private readonly kube: Kube;
  private readonly world: World;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly security: SecurityMaterial;
  private readonly adminFactory: UserAdminFactory;
  /** What this process last made true in the brokers, per user key (credential and ACLs): skipped while unchanged. */
  private readonly applied = new Map<string, string>();
  /** ...and what every live broker was then seen to have loaded (Ready waits for it). */
  private readonly propagated = new Map<string, string>();

  constructor(opts: { kube: Kube; world: World; log: Logger; clock: Clock; security: SecurityMaterial; adminFactory?: UserAdminFactory }) {
    this.kube = opts.kube;
    this.world = opts.world;
    this.log = opts.log.child({ controller: 'User' });
    this.clock = opts.clock;
    this.security = opts.security;
    this.adminFactory = opts.adminFactory ?? defaultUserAdminFactory;
  }

  readonly reconcile = async (key: string): Promise<Result> => {
    const { namespace, name } = splitKey(key);
    const user = this.world.users.get(namespace, name);
    if (!user) { this.applied.delete(key); this.propagated.delete(key); return {}; }
    try {
      return await (user.metadata.deletionTimestamp ? this.finalize(key, user) : this.reconcileLive(key, user));
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) return { requeueAfter: 1_000 };
      throw err;
    }
  };

  private cluster(user: UserObject): Cluster | undefined {
    const c = this.world.clusters.get(user.metadata.namespace!, user.spec.cluster);
    return c && !c.metadata.deletionTimestamp ? c as Cluster : undefined;
  }

  /** An admin client for the User's Cluster, or the reason there is none yet. */
  private async admin(cluster: Cluster): Promise<SecurityAdmin | string> {
    const brokers = [...this.world.brokerRegistrations(cluster.metadata.namespace!, cluster.metadata.name!).values()];
    if (brokers.length === 0) return `no broker of Cluster ${cluster.metadata.name} is live yet`;
    try {
      return this.adminFactory(brokers, await this.security.clientSecurity(cluster));
    } catch (err) {
      return (err as Error).message;
    }
  }

  private async finalize(key: string, user: UserObject): Promise<Result> {
    const finalizers = user.metadata.finalizers ?? [];
    if (!finalizers.includes(userFinalizer)) return {};
    const ns = user.metadata.namespace!;
    const cluster = this.cluster(user);
    if (cluster) {
      const admin = await this.admin(cluster);
      if (typeof admin === 'string') return this.waiting(user, 'Deleting', admin);
      try {
        const principal = user.status?.username ?? principalOf(user);
        // ACLs first: the user's open connections lose access at the brokers' next ACL refresh.
        await admin.deleteAcls(await admin.describeAcls(principal));
        if (user.spec.authentication.type === 'scram-sha-512') await admin.deleteScramCredential(user.metadata.name!);
      } catch (err) {
        return this.waiting(user, 'Deleting', (err as Error).message);
      } finally {
        admin.close();
      }
    }
    const secret = await this.kube.getOrUndefined<SecretObject>(resources.Secret, ns, user.metadata.name!);
    if (secret && secret.metadata.ownerReferences?.some((r) => r.uid === user.metadata.uid)) {
      await this.kube.delete(resources.Secret, ns, user.metadata.name!, { uid: secret.metadata.uid });
    }
    this.log.info('credential, ACLs and Secret removed; removing the finalizer', { user: key });
    await this.kube.mergePatch(resources.User, ns, user.metadata.name!, {
      metadata: { resourceVersion: user.metadata.resourceVersion, finalizers: finalizers.filter((f) => f !== userFinalizer) },
    });
    this.applied.delete(key);
    return {};
  }

  /** Why this spec cannot be made on `cluster` (undefined: it can). */
  private invalid(user: UserObject, cluster: Cluster | undefined): ConditionInput | undefined {
    const ns = user.metadata.namespace!;
    const type = user.spec.authentication.type;
    const no = (reason: string, message: string): ConditionInput => ({ type: 'Ready', status: 'False', reason, message });
    if (!cluster) return no('ClusterNotFound', `Cluster ${ns}/${user.spec.cluster} does not exist`);
    if (user.metadata.name === internalUser) return no('ReservedName', `the user name ${internalUser} is the operator's and the brokers' own`);
    if (!(cluster.spec.listeners ?? []).some((l) => l.authentication === type)) {
      return no('AuthenticationNotEnabled', `no listener of Cluster ${user.spec.cluster} has authentication ${type}: the credential could not be used`);
    }
    if (type === 'tls' && !hasTls(cluster)) return no('AuthenticationNotEnabled', `Cluster ${user.spec.cluster} has no TLS listener`);
    if ((user.spec.authorization?.acls ?? []).length > 0 && !authorizerOf(cluster)) {
      return no('AuthorizationNotEnabled', `Cluster ${user.spec.cluster} has no spec.authorization (nor authorizer.class.name in spec.config): its brokers keep no ACLs (SECURITY_DISABLED)`);
    }
    return undefined;
  }

  private async reconcileLive(key: string, user: UserObject): Promise<Result> {
    const ns = user.metadata.namespace!;
    const finalizers = user.metadata.finalizers ?? [];
    if (!finalizers.includes(userFinalizer) || user.metadata.labels?.[clusterLabel] !== user.spec.cluster) {
      await this.kube.mergePatch(resources.User, ns, user.metadata.name!, {
        metadata: {
          resourceVersion: user.metadata.resourceVersion,
          labels: { [clusterLabel]: user.spec.cluster },
          finalizers: finalizers.includes(userFinalizer) ? finalizers : [...finalizers, userFinalizer],
        },
      });
      return {};
    }
    const cluster = this.cluster(user);
    const bad = this.invalid(user, cluster);
    if (bad) {
      await this.writeStatus(user, bad);
      return bad.reason === 'ClusterNotFound' ? { requeueAfter: 30_000 } : {};
    }
    const principal = principalOf(user);
    let made: Awaited<ReturnType<UserReconciler['ensureSecret']>>;
    try {
      made = await this.ensureSecret(user, cluster!);
    } catch (err) {
      if (!(err instanceof UserSecretError)) throw err;
      await this.writeStatus(user, { type: 'Ready', status: 'False', reason: 'SecretConflict', message: err.message });
      return {};
    }
    const { secretVersion, password, renewInMs } = made;
    const wanted = desiredBindings(principal, user.spec.authorization?.acls ?? []);
    const state = createHash('sha256').update(JSON.stringify([cluster!.metadata.uid, principal, password ?? '', wanted.map(bindingKey).sort()])).digest('hex');
    if (this.applied.get(key) !== state) {
      const admin = await this.admin(cluster!);
      if (typeof admin === 'string') return this.waiting(user, 'WaitingForBrokers', admin);
      try {
        if (password !== undefined) await admin.upsertScramCredential(user.metadata.name!, password);
        const have = await admin.describeAcls(principal);
        const wantKeys = new Set(wanted.map(bindingKey));
        const haveKeys = new Set(have.map(bindingKey));
        await admin.deleteAcls(have.filter((b) => !wantKeys.has(bindingKey(b))));
        await admin.createAcls(wanted.filter((b) => !haveKeys.has(bindingKey(b))));
      } catch (err) {
        return this.waiting(user, 'WaitingForBrokers', (err as Error).message);
      } finally {
        admin.close();
      }
      this.applied.set(key, state);
      this.log.info('user credential and ACLs in place', { user: key, principal, acls: wanted.length, secret: secretVersion });
    }
    if (this.propagated.get(key) !== state) {
      // Ready means usable: every live broker authenticates the credential and enforces the ACLs.
      const admin = await this.admin(cluster!);
      if (typeof admin === 'string') return this.waiting(user, 'WaitingForBrokers', admin);
      let lagging: number[];
      try {
        lagging = await admin.brokersNotYetShowing(user.metadata.name!, password !== undefined, principal, wanted);
      } finally {
        admin.close();
      }
      if (lagging.length) {
        await this.writeStatus(user, { type: 'Ready', status: 'False', reason: 'Propagating', message: `broker${lagging.length === 1 ? '' : 's'} ${lagging.join(', ')} ha${lagging.length === 1 ? 's' : 've'} not loaded the credential and ACLs yet` });
        return { requeueAfter: 300 };
      }
      this.propagated.set(key, state);
    }
    await this.writeStatus(user, {
      type: 'Ready', status: 'True', reason: 'Ready',
      message: `${principal}: ${user.spec.authentication.type} credential in Secret ${user.metadata.name}, ${wanted.length} ACL binding${wanted.length === 1 ? '' : 's'}`,
    }, { secret: user.metadata.name!, username: principal, authentication: user.spec.authentication.type });
    // Resync: ACLs or credentials changed behind the operator's back are put back.
    return { requeueAfter: Math.min(300_000, renewInMs ?? 300_000) };
  }

  /** The User's Secret: made, completed or renewed; the SCRAM password it holds. */
  private async ensureSecret(user: UserObject, cluster: Cluster): Promise<{ secretVersion: string; password?: string; renewInMs?: number }> {
    const ns = user.metadata.namespace!;
    const name = user.metadata.name!;
    const existing = await this.kube.getOrUndefined<SecretObject>(resources.Secret, ns, name);
    if (existing && !existing.metadata.ownerReferences?.some((r) => r.uid === user.metadata.uid)) {
      throw new UserSecretError(`Secret ${ns}/${name} exists and does not belong to this User`);
    }
    const cur = Object.fromEntries(Object.keys(existing?.data ?? {}).map((k) => [k, secretText(existing!.data, k)!]));
    const caCert = await this.security.clusterCaCert(cluster);
    const data: Record<string, string> = {};
    let password: string | undefined;
    let renewInMs: number | undefined;
    if (user.spec.authentication.type === 'scram-sha-512') {
      password = cur.password || randomBytes(18).toString('base64url');
      data.password = password;
      data['sasl.jaas.config'] = `org.apache.kafka.common.security.scram.ScramLoginModule required username="${name}" password="${password}";`;
    } else {
      const clientsCa = (await this.security.clientsCa(cluster))!;
      const { days, renewBeforeMs } = validity(cluster);
      const now = new Date(this.clock.now());
      if (cur['user.crt'] && cur['user.key'] && stillGood(cur['user.crt'], clientsCa.cert, now, renewBeforeMs)) {
        data['user.crt'] = cur['user.crt'];
        data['user.key'] = cur['user.key'];
      } else {
        const leaf = issue(clientsCa, { subject: [['CN', name]], days, now, usage: { client: true } });
        data['user.crt'] = leaf.cert;
        data['user.key'] = leaf.key;
      }
      renewInMs = Math.max(1_000, expiresAt(data['user.crt']) - renewBeforeMs - now.getTime());
    }
    if (caCert) data['ca.crt'] = caCert;
    if (existing && jsonEqual(cur, data)) return { secretVersion: existing.metadata.resourceVersion ?? '', password, renewInMs };
    const body: SecretObject = {
      apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
      metadata: {
        name, namespace: ns,
        labels: { [clusterLabel]: user.spec.cluster, 'app.kubernetes.io/managed-by': 'brook-operator', 'brook.dev/user': name },
        ownerReferences: [{ apiVersion: user.apiVersion ?? 'brook.dev/v1alpha1', kind: 'User', name, uid: user.metadata.uid!, controller: true, blockOwnerDeletion: true }],
        ...(existing ? { resourceVersion: existing.metadata.resourceVersion } : {}),
      },
      data: encodeSecretData(data),
    };
    const written = existing ? await this.kube.replace<SecretObject>(resources.Secret, body) : await this.kube.create<SecretObject>(resources.Secret, body);
    return { secretVersion: written.metadata.resourceVersion ?? '', password, renewInMs };
  }

  private async waiting(user: UserObject, reason: string, message: string): Promise<Result> {
    await this.writeStatus(user, { type: 'Ready', status: 'False', reason, message: message.slice(0, 1000) });
    return { requeueAfter: 2_000 };
  }

  private async writeStatus(user: UserObject, ready: ConditionInput, fields: { secret?: string; username?: string; authentication?: string } = {}): Promise<void> {
    const generation = user.metadata.generation ?? 0;
    const conditions = setConditions(user.status?.conditions, [ready], generation, new Date(this.clock.now()));
    const status = { ...user.status, observedGeneration: generation, conditions, ...fields };
    if (jsonEqual(status, user.status)) return;
    await this.kube.mergePatch(resources.User, user.metadata.namespace, user.metadata.name!, { status }, 'status');
  }
}

export class UserSecretError extends Error {
  readonly code = 'BROOK_ERR_USER_SECRET';
  constructor(message: string) {
    super(message);
    this.name = 'UserSecretError';
  }
}
